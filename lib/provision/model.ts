/**
 * What one node needs at boot, independent of the delivery mechanism (cloud-init today, container
 * files later): repositories, packages, files, data mounts, first-boot commands and services.
 */
import type { ConfigFile } from "../render/types";

/** A deb822 APT source (`/etc/apt/sources.list.d/<name>.sources`). */
export interface AptRepository {
  /** File name stem, e.g. `grommunio`. */
  readonly name: string;
  readonly uris: string;
  readonly suites: string;
  readonly components: readonly string[];
  /** The keyring file `Signed-By:` names (absent when `trusted`). */
  readonly keyringPath?: string;
  /**
   * The ASCII-armored key, written with the source (pinned; nothing fetched). When absent the key is
   * downloaded once at first boot from `keyUrl` over HTTPS (trust on first use).
   */
  readonly armoredKey?: string;
  readonly keyUrl?: string;
  /** Trusted without signatures (deb822 `Trusted: yes`): a local repository the operator controls. */
  readonly trusted?: boolean;
}

/** A report printed to a console once cloud-init has finished, on every boot (see `ReadinessReportOptions`). */
export interface ReadinessReport {
  /** The device the report is written to, e.g. `/dev/ttyS0`. */
  readonly device: string;
}

/**
 * When a file is written: `boot` = by the first steps of the first boot, before anything there
 * installs a package (the OS archive's sources on a node that installs its NFS client to mount its
 * data before the other packages: cloud-init writes files only after those steps); `early` = before
 * packages are installed (APT sources, keys; owner must be root); `late` = after the packages
 * (their users and groups exist, package defaults are replaced), before the first-boot commands.
 */
export type FileStage = "boot" | "early" | "late";

export interface ProvisionedFile extends ConfigFile {
  readonly stage: FileStage;
}

/** A block volume: formatted on first boot only when blank, mounted by label, on every boot. */
export interface BlockMount {
  readonly kind: "block";
  /** Stable device path (may hold a declared `safe` token). */
  readonly device: string;
  /** ext4 label (≤ 16 characters); fstab mounts `LABEL=<label>`. */
  readonly label: string;
  readonly mountPoint: string;
}

/** An NFS export (EFS or the NFS node). */
export interface NfsMount {
  readonly kind: "nfs";
  /** `host:/path` (may hold a declared `safe` token). */
  readonly source: string;
  readonly mountPoint: string;
  readonly options: string;
  /** Packages needed before mounting (installed at boot, before the other packages; with `onDemand`, with them). */
  readonly clientPackages: readonly string[];
  /**
   * Mounted on first access (systemd automount: an fstab line with `x-systemd.automount`, added
   * once by a first-boot step, `AUTOMOUNTS_PATH`), so the boot never waits for the server: a
   * share-nothing mailbox node's store on an admin node, served by a node that may boot later.
   * @default false (mounted at every boot, before the packages)
   */
  readonly onDemand?: boolean;
}

export type DataMount = BlockMount | NfsMount;

/**
 * The packages a node installs in its first boot's first steps, to mount its data before the other
 * packages: the NFS clients of the exports mounted at boot (sorted, once each).
 */
export function bootPackages(mounts: readonly DataMount[]): string[] {
  const atBoot = mounts.filter((m): m is NfsMount => m.kind === "nfs" && m.onDemand !== true);
  return [...new Set(atBoot.flatMap((m) => m.clientPackages))].sort();
}

/**
 * One first-boot step, run once after the late files, in order: `before-services` steps run before
 * the node's services are (re)started (waiting for the database, creating the schema),
 * `after-services` steps after them (the database bootstrap needs MariaDB running).
 */
export interface ProvisionCommand {
  readonly phase: "before-services" | "after-services";
  /** What it does, e.g. `create the gromox schema`. */
  readonly description: string;
  /**
   * POSIX shell, run with `set -e` in effect (cloud-init: runcmd's first entry,
   * `RUNCMD_STOP_ON_ERROR`; containers: `sh -ec`): a failing command stops the node's first-boot
   * steps, so everything after it (the services) is not started. Never `a && b` where `a` may
   * fail (`set -e` ignores a failure left of `&&`): write `a; b`. A failure that is expected
   * stands left of `||` or in a condition (`until`, `if`).
   */
  readonly shell: string;
}

/** An account created with a fixed id before any package is installed (lib/provision/accounts.ts). */
export interface PinnedAccount {
  readonly kind: "group" | "user";
  readonly name: string;
  /** gid or uid; a user's primary group is the group of its name. */
  readonly id: number;
}

export interface NodeProvisioning {
  readonly name: string;
  readonly fqdn: string;
  readonly repositories: readonly AptRepository[];
  /** Sorted, unique. */
  readonly packages: readonly string[];
  /** Sorted by path. */
  readonly files: readonly ProvisionedFile[];
  readonly mounts: readonly DataMount[];
  /**
   * Accounts created at first boot before anything else (before the data mounts and any package),
   * groups first: where gromox's packages are installed, and on the NFS node. Checked on every
   * boot: one that exists with another id, or an id held by another name, stops the boot steps.
   * @default none
   */
  readonly accounts?: readonly PinnedAccount[];
  /** In execution order. */
  readonly commands: readonly ProvisionCommand[];
  /** systemd units: enabled, then (re)started in this order after the commands. */
  readonly services: readonly string[];
  /**
   * The OS's own package sources are among `repositories`: the image's default sources are
   * replaced (and cloud-init told to leave them alone).
   */
  readonly replacesOsSources?: boolean;
  /** Print a readiness report once cloud-init has finished. */
  readonly readinessReport?: ReadinessReport;
}
