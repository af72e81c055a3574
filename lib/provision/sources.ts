/**
 * Package sources beyond grommunio's repository: the guest OS's own archive replaced by a mirror
 * (air-gapped sites, local caches, the VM tests' hermetic repository), with the mirror's key or
 * trusted without signatures, and the checks of both repository overrides.
 */
import type { OperatingSystem } from "../platforms/platform";
import { ValidationIssue } from "../topology";
import { AptRepository, ProvisionedFile } from "./model";
import type { RepositoryOptions } from "./packages";

/** The OS's own archive as the images ship it. */
export interface OsArchiveFacts {
  /** Release codename (the first suite). */
  readonly codename: string;
  /** Stem of the image's deb822 source file (`/etc/apt/sources.list.d/<stem>.sources`), replaced by the override. */
  readonly sourcesName: string;
  /** The archive keyring a plain mirror is checked against. */
  readonly archiveKeyring: string;
  readonly components: readonly string[];
}

export const OS_ARCHIVES: Readonly<Record<OperatingSystem, OsArchiveFacts>> = {
  "debian-12": {
    codename: "bookworm",
    sourcesName: "debian",
    archiveKeyring: "/usr/share/keyrings/debian-archive-keyring.gpg",
    components: ["main"],
  },
  "ubuntu-24.04": {
    codename: "noble",
    sourcesName: "ubuntu",
    archiveKeyring: "/usr/share/keyrings/ubuntu-archive-keyring.gpg",
    components: ["main", "universe"],
  },
};

/** The one-line source list of the images; emptied when the OS archive is overridden. */
export const SOURCES_LIST_PATH = "/etc/apt/sources.list";

/**
 * Replaces the guest OS's own package sources (Debian's or Ubuntu's archive) on every node. The
 * image's `/etc/apt/sources.list` is emptied, its `<debian|ubuntu>.sources` replaced, and
 * cloud-init told to keep them (`apt: preserve_sources_list`).
 */
export interface OsRepositoryOptions {
  /** The mirror, e.g. `http://mirror.example.net/debian`. */
  readonly uris: string;
  /**
   * Suites taken from `uris`.
   * @default the release and its updates: `["bookworm", "bookworm-updates"]` (Ubuntu: `noble`, `noble-updates`)
   */
  readonly suites?: readonly string[];
  /** @default ["main"] (Ubuntu: ["main", "universe"]) */
  readonly components?: readonly string[];
  /**
   * A mirror of the security archive (suite `<codename>-security`, same components and key).
   * @default none: the nodes then get no security updates unless `uris` carries them in `suites`
   */
  readonly securityUris?: string;
  /**
   * The ASCII-armored key the mirror's `Release` files are signed with, when the mirror re-signs.
   * @default the distribution's archive keyring (a plain copy of Debian's or Ubuntu's archive)
   */
  readonly armoredKey?: string;
  /**
   * Accept the repository without signatures (deb822 `Trusted: yes`). Only for a repository you
   * control on a network you trust (a local test repository): apt then installs whatever it serves.
   * @default false
   */
  readonly trusted?: boolean;
}

/** Where a mirror's own key is written. */
export function mirrorKeyringPath(name: string): string {
  return `/etc/apt/keyrings/${name}-mirror.asc`;
}

/** The OS archive's sources for `options`: the main mirror, then the security mirror when given. */
export function osRepositories(os: OperatingSystem, options: OsRepositoryOptions): AptRepository[] {
  const f = OS_ARCHIVES[os];
  const trust: Pick<AptRepository, "keyringPath" | "armoredKey" | "trusted"> = options.trusted
    ? { trusted: true }
    : options.armoredKey !== undefined
      ? { keyringPath: mirrorKeyringPath(f.sourcesName), armoredKey: options.armoredKey }
      : { keyringPath: f.archiveKeyring };
  const components = options.components ?? f.components;
  const main: AptRepository = {
    name: f.sourcesName,
    uris: options.uris,
    suites: (options.suites ?? [f.codename, `${f.codename}-updates`]).join(" "),
    components,
    ...trust,
  };
  if (options.securityUris === undefined) return [main];
  return [
    main,
    {
      name: `${f.sourcesName}-security`,
      uris: options.securityUris,
      suites: `${f.codename}-security`,
      components,
      ...trust,
    },
  ];
}

/** The emptied one-line source list (the sources live in `sources.list.d`). */
export function emptySourcesList(): ProvisionedFile {
  return {
    path: SOURCES_LIST_PATH,
    content: "# Emptied by cdktf-grommunio (osRepository): the package sources are in /etc/apt/sources.list.d/.\n",
    mode: "0644",
    owner: "root:root",
    stage: "early",
  };
}

const URI = /^[a-z][a-z0-9+.-]*:\/\/[^\s"']+$/;
const SUITE = /^[A-Za-z0-9._/-]+$/;

/** Checks the repository overrides of a cluster (GRX310, GRX311). */
export function validateRepositoryOptions(
  path: string,
  repository: RepositoryOptions | undefined,
  osRepository: OsRepositoryOptions | undefined,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const check = (
    field: string,
    o: { uris?: string; securityUris?: string; armoredKey?: string; trusted?: boolean; keyUrl?: string },
    words: readonly string[],
  ) => {
    for (const [f, uri] of [
      ["uris", o.uris],
      ["securityUris", o.securityUris],
      ["keyUrl", o.keyUrl],
    ] as const) {
      if (uri !== undefined && !URI.test(uri)) {
        issues.push({
          code: "GRX310",
          path,
          field: `${field}.${f}`,
          message: `"${uri}" is not a repository URI.`,
          fix: "Give an absolute URI without spaces or quotes, e.g. http://mirror.example.net/debian.",
        });
      }
    }
    for (const w of words) {
      if (!SUITE.test(w)) {
        issues.push({
          code: "GRX310",
          path,
          field: `${field}.suites/components`,
          message: `"${w}" is not a suite or component name.`,
          fix: "Give one name per list element, e.g. bookworm, main.",
        });
      }
    }
    if (o.trusted && (o.armoredKey !== undefined || o.keyUrl !== undefined)) {
      issues.push({
        code: "GRX311",
        path,
        field: `${field}.trusted`,
        message: "a repository is both trusted without signatures and given a signing key.",
        fix: "Keep the key and drop trusted (signed, preferred), or drop the key for a local repository you control.",
      });
    }
  };
  if (repository) {
    check("repository", repository, [
      ...(repository.suites !== undefined ? [repository.suites] : []),
      ...(repository.components ?? []),
    ]);
  }
  if (osRepository) {
    check("osRepository", osRepository, [...(osRepository.suites ?? []), ...(osRepository.components ?? [])]);
  }
  return issues;
}
