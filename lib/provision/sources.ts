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
  /** The mirror, e.g. `http://mirror.example.net/debian` (schemes and characters as `RepositoryOptions.uris`). */
  readonly uris: string;
  /**
   * Suites taken from `uris`: at least one; all flat (ending in `/`, no components) or none (GRX313).
   * @default the release and its updates: `["bookworm", "bookworm-updates"]` (Ubuntu: `noble`, `noble-updates`)
   */
  readonly suites?: readonly string[];
  /** @default ["main"] (Ubuntu: ["main", "universe"]); none for flat suites (GRX313) */
  readonly components?: readonly string[];
  /**
   * A mirror of the security archive (suite `<codename>-security`, same components and key).
   * @default none: the nodes then get no security updates unless `uris` carries them in `suites`
   */
  readonly securityUris?: string;
  /**
   * The ASCII-armored key the mirror's `Release` files are signed with, when the mirror re-signs
   * (as `gpg --armor --export` writes it, GRX315).
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
  const suites = options.suites ?? [f.codename, `${f.codename}-updates`];
  // A flat repository (suites ending in "/") has no components; the security archive always has.
  const components = options.components ?? f.components;
  const main: AptRepository = {
    name: f.sourcesName,
    uris: options.uris,
    suites: suites.join(" "),
    components: options.components ?? (suites.length > 0 && suites.every(isFlatSuite) ? [] : f.components),
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

/**
 * A suite that names a directory below the URI (`./`, `Debian_12/`): a flat repository. apt then
 * reads `<uri>/<suite>/Packages` and refuses a `Components:` field in the same source
 * ("Malformed entry … (absolute Suite Component)"), which breaks every source on the node.
 */
export function isFlatSuite(suite: string): boolean {
  return suite.endsWith("/");
}

/**
 * The URI schemes apt on Debian 12 and Ubuntu 24.04 fetches with the methods it ships
 * (`/usr/lib/apt/methods`). Any other (`tor+http`, `s3`, `gs`) needs a transport package, which
 * cannot be installed before the sources work; a misspelt one (`htps`) fails the same way.
 */
export const APT_URI_SCHEMES: readonly string[] = [
  "http",
  "https",
  "file",
  "copy",
  "mirror",
  "mirror+http",
  "mirror+https",
  "mirror+file",
  "mirror+copy",
];

/**
 * `scheme://rest`, the rest printable ASCII without quotes, backslash, `#` or `?`: apt appends
 * `dists/<suite>/…` to the URI as text, so a fragment or query would swallow the path, and it
 * does not percent-encode non-ASCII.
 */
const URI = /^([a-z][a-z0-9+.-]*):\/\/([\x21\x24-\x26\x28-\x3e\x40-\x5b\x5d-\x7e]+)$/;
const SUITE = /^[A-Za-z0-9._/-]+$/;
/** A component: names separated by single slashes (`main`, `main/debian-installer`). */
const COMPONENT = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/**
 * What keeps apt from reading `key` as the ASCII-armored public key of a `.asc` keyring, or
 * undefined. apt 2.6 (Debian 12) dearmors `.asc` files itself (apt-key's `dearmor_keyring`): from
 * a line beginning `-----BEGIN` it skips the armor headers up to an EMPTY line, then base64-decodes
 * every line up to `-----END` except the `=` checksum. So CRLF line endings (the separator line is
 * then `\r`, never empty), indentation, a missing separator line or blanks after the base64 leave
 * it without a key, and every update of the repository fails with NO_PUBKEY.
 */
export function armoredKeyProblem(key: string): string | undefined {
  if (key.includes("\r")) return "it has CR (Windows, CRLF) line endings";
  const lines = key.split("\n");
  const BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
  const END = "-----END PGP PUBLIC KEY BLOCK-----";
  if (lines.some((l) => /^-----BEGIN PGP PRIVATE KEY BLOCK-----/.test(l.trim()))) {
    return "it is a private key block (export the public key: gpg --armor --export <key id>)";
  }
  let blocks = 0;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trimEnd() !== BEGIN) continue;
    blocks++;
    let j = i + 1;
    for (; j < lines.length && lines[j] !== ""; j++) {
      if (!/^[A-Za-z][A-Za-z0-9-]*: /.test(lines[j]!)) {
        return `line ${j + 1} follows the BEGIN line without the empty line that ends the armor headers`;
      }
    }
    if (j >= lines.length) return "the armor has no empty line after its headers";
    const body: string[] = [];
    let k = j + 1;
    for (; k < lines.length && lines[k] !== END; k++) {
      const l = lines[k]!;
      if (l === "" || l.startsWith("=")) continue;
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(l)) {
        return `line ${k + 1} is not base64${/\s$/.test(l) ? " (it ends in blanks)" : ""}: ${JSON.stringify(l.slice(0, 40))}`;
      }
      body.push(l);
    }
    if (k >= lines.length) return `the block has no "${END}" line`;
    const first = Buffer.from(body.join(""), "base64")[0];
    // Packet tag 6 (public key): old format 0b10_0110_xx, new format 0b11_000110.
    if (first === undefined || !((first & 0xfc) === 0x98 || first === 0xc6)) {
      return "its data does not start with a public-key packet";
    }
    i = k;
  }
  if (blocks > 0) return undefined;
  if (lines.some((l) => l.trim() === BEGIN)) return "its lines are indented (the BEGIN line must start the line)";
  return `it has no "${BEGIN}" line (a fingerprint, a file name or a binary key is not an armored key)`;
}

/** Checks the repository overrides of a cluster (GRX310, GRX311, GRX313–GRX317). */
export function validateRepositoryOptions(
  path: string,
  repository: RepositoryOptions | undefined,
  osRepository: OsRepositoryOptions | undefined,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const add = (code: string, field: string, message: string, fix: string) =>
    issues.push({ code, path, field, message, fix });
  const check = (
    field: string,
    o: { uris?: string; securityUris?: string; armoredKey?: string; trusted?: boolean; keyUrl?: string },
    suites: readonly string[] | undefined,
    components: readonly string[] | undefined,
  ) => {
    for (const [f, uri] of [
      ["uris", o.uris],
      ["securityUris", o.securityUris],
      ["keyUrl", o.keyUrl],
    ] as const) {
      if (uri === undefined) continue;
      const m = URI.exec(uri);
      if (!m) {
        add(
          "GRX310",
          `${field}.${f}`,
          `"${uri}" is not a repository URI.`,
          "Give an absolute URI of printable ASCII without blanks, quotes, backslashes, # or ?, e.g. " +
            "http://mirror.example.net/debian (percent-encode other characters).",
        );
      } else if (f === "keyUrl") {
        if (m[1] !== "https") {
          add(
            "GRX316",
            `${field}.keyUrl`,
            `"${uri}" is fetched at first boot without authentication: whoever answers for it chooses the key apt trusts.`,
            "Give an https:// URL, or pin the key with armoredKey.",
          );
        }
      } else if (!APT_URI_SCHEMES.includes(m[1]!)) {
        add(
          "GRX314",
          `${field}.${f}`,
          `apt has no method for "${m[1]}:" (the node would fail every package download).`,
          `Use one of ${APT_URI_SCHEMES.join(", ")}.`,
        );
      }
    }
    for (const w of [...(suites ?? []), ...(components ?? [])]) {
      if (!SUITE.test(w)) {
        add(
          "GRX310",
          `${field}.suites/components`,
          `"${w}" is not a suite or component name.`,
          "Give one name per list element, e.g. bookworm, main.",
        );
      }
    }
    for (const c of components ?? []) {
      if (SUITE.test(c) && !COMPONENT.test(c)) {
        add(
          "GRX310",
          `${field}.components`,
          `"${c}" is not a component name: apt looks for "${c}/binary-<arch>/Packages", finds nothing, and only warns.`,
          "Give components without leading, trailing or doubled slashes, e.g. main or main/debian-installer.",
        );
      }
    }
    if (suites !== undefined) {
      const flat = suites.filter(isFlatSuite);
      if (suites.length === 0) {
        add(
          "GRX313",
          `${field}.suites`,
          "no suite: apt refuses a source without one, and then every source of the node.",
          "Give at least one suite, or omit suites for the default.",
        );
      } else if (flat.length > 0 && flat.length < suites.length) {
        add(
          "GRX313",
          `${field}.suites`,
          `"${flat.join(" ")}" names a flat repository (it ends in "/") beside suites that are not: apt needs components for the ones and refuses them for the other.`,
          "Give either flat suites (ending in /) or distribution suites, not both.",
        );
      } else if (flat.length > 0 && components !== undefined && components.length > 0) {
        add(
          "GRX313",
          `${field}.components`,
          `a flat repository (suite "${flat[0]}") has no components; apt refuses the source ("absolute Suite Component"), and then every source of the node.`,
          "Omit components for a flat repository.",
        );
      }
    }
    const flatSuites = suites !== undefined && suites.length > 0 && suites.every(isFlatSuite);
    if (components !== undefined && components.length === 0 && !flatSuites) {
      add(
        "GRX313",
        `${field}.components`,
        "no component: apt refuses a source without one (unless its suite is flat), and then every source of the node.",
        "Give at least one component, e.g. main, or omit components for the default.",
      );
    }
    if (o.armoredKey !== undefined) {
      const problem = armoredKeyProblem(o.armoredKey);
      if (problem !== undefined) {
        add(
          "GRX315",
          `${field}.armoredKey`,
          `apt cannot read the key: ${problem}.`,
          "Give the output of gpg --armor --export <key id> unchanged (LF line endings, no indentation).",
        );
      }
    }
    if (o.armoredKey !== undefined && o.keyUrl !== undefined) {
      add(
        "GRX317",
        `${field}.keyUrl`,
        "a repository is given both a pinned key (armoredKey) and a key URL: the pinned key is used and keyUrl is ignored.",
        "Keep armoredKey (pinned at synth, preferred) and drop keyUrl, or drop armoredKey to fetch the key at first boot.",
      );
    }
    if (o.trusted && (o.armoredKey !== undefined || o.keyUrl !== undefined)) {
      add(
        "GRX311",
        `${field}.trusted`,
        "a repository is both trusted without signatures and given a signing key.",
        "Keep the key and drop trusted (signed, preferred), or drop the key for a local repository you control.",
      );
    }
  };
  if (repository) {
    check(
      "repository",
      repository,
      repository.suites !== undefined ? [repository.suites] : undefined,
      repository.components,
    );
  }
  if (osRepository) {
    check("osRepository", osRepository, osRepository.suites, osRepository.components);
  }
  return issues;
}
