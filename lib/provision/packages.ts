/**
 * Repositories, packages and systemd units per node, derived from the daemons the node runs
 * (reference/gromox.md §5, §11). One table each; no role is special-cased elsewhere.
 */
import type { OperatingSystem } from "../platforms/platform";
import { ClusterNode, Daemon, PORTS, Topology } from "../topology";
import { opsPackages, opsServices } from "../render/ops";
import { AptRepository } from "./model";
import { isFlatSuite } from "./sources";

/** Facts about a guest operating system. */
export interface OsFacts {
  /** grommunio's community repository suite (also the URI's last path element). */
  readonly grommunioSuite: string;
  /** The php-fpm unit grommunio-web/-sync/-dav run under. */
  readonly phpFpmUnit: string;
}

export const OS_FACTS: Readonly<Record<OperatingSystem, OsFacts>> = {
  "debian-12": { grommunioSuite: "Debian_12", phpFpmUnit: "php8.2-fpm" },
  "ubuntu-24.04": { grommunioSuite: "Ubuntu_24.04", phpFpmUnit: "php8.3-fpm" },
};

/** grommunio's community repository (gromox.md §11). */
export const GROMMUNIO_REPOSITORY = {
  baseUri: "https://download.grommunio.com/community",
  keyUrl: "https://download.grommunio.com/RPM-GPG-KEY-grommunio",
  /** apt reads armored keys when the file name ends in `.asc` (no gpg needed on the node). */
  keyringPath: "/usr/share/keyrings/download.grommunio.com.asc",
} as const;

/** Overrides for the grommunio repository (mirrors, air-gapped sites, pinned keys). */
export interface RepositoryOptions {
  /**
   * Repository URI: a scheme apt ships a method for (`http`, `https`, `file`, `copy`,
   * `mirror[+…]`), printable ASCII without `#` or `?` (GRX310, GRX314).
   * @default `https://download.grommunio.com/community/<suite>` (Debian_12 or Ubuntu_24.04)
   */
  readonly uris?: string;
  /**
   * The suite; one ending in `/` (e.g. `./`) names a flat repository, which has no components.
   * @default the OS's suite (`Debian_12`, `Ubuntu_24.04`)
   */
  readonly suites?: string;
  /** @default ["main"]; none for a flat suite (GRX313) */
  readonly components?: readonly string[];
  /**
   * The repository's signing key as `gpg --armor --export` writes it (LF line endings, not
   * indented: apt finds no key otherwise, GRX315). Pinning it here means nothing is fetched at boot.
   * @default undefined: the key is downloaded once at first boot from `keyUrl` over HTTPS
   */
  readonly armoredKey?: string;
  /**
   * An `https://` URL (GRX316) serving the ASCII-armored key (it is saved as an `.asc` keyring;
   * a binary key there leaves apt without a key). Not together with `armoredKey` (GRX317).
   * @default https://download.grommunio.com/RPM-GPG-KEY-grommunio (unused when `armoredKey` is given)
   */
  readonly keyUrl?: string;
  /**
   * Accept the repository without signatures (deb822 `Trusted: yes`; no key written or fetched).
   * Only for a repository you control on a network you trust (a local mirror, the VM tests).
   * @default false
   */
  readonly trusted?: boolean;
}

export function grommunioRepository(os: OperatingSystem, options: RepositoryOptions = {}): AptRepository {
  const suite = OS_FACTS[os].grommunioSuite;
  const suites = options.suites ?? suite;
  return {
    name: "grommunio",
    uris: options.uris ?? `${GROMMUNIO_REPOSITORY.baseUri}/${suite}`,
    suites,
    // A flat repository (suite ending in "/", e.g. "./") has no components: apt refuses them.
    components: options.components ?? (isFlatSuite(suites) ? [] : ["main"]),
    ...(options.trusted
      ? { trusted: true }
      : options.armoredKey !== undefined
        ? { keyringPath: GROMMUNIO_REPOSITORY.keyringPath, armoredKey: options.armoredKey }
        : { keyringPath: GROMMUNIO_REPOSITORY.keyringPath, keyUrl: options.keyUrl ?? GROMMUNIO_REPOSITORY.keyUrl }),
  };
}

/** Packages that come from grommunio's repository (a node needing one gets the repository). */
export function isGrommunioPackage(name: string): boolean {
  return name === "gromox" || name.startsWith("grommunio-");
}

const PHP_FPM = "@php-fpm";

/** Packages per daemon. `@php-fpm` stands for the OS's php-fpm unit's package. */
const DAEMON_PACKAGES: Readonly<Record<Daemon, readonly string[]>> = {
  "gromox-http": ["gromox"],
  "gromox-midb": ["gromox"],
  "gromox-zcore": ["gromox", "php-fpm"],
  "gromox-imap": ["gromox"],
  "gromox-pop3": ["gromox"],
  "gromox-delivery": ["gromox"],
  "gromox-delivery-queue": ["gromox"],
  "gromox-event": ["gromox"],
  "gromox-timer": ["gromox", "php-cli"],
  "grommunio-web": ["grommunio-common", "grommunio-web", "grommunio-sync", "grommunio-dav", "nginx", "php-fpm"],
  "grommunio-admin-api": [
    "grommunio-admin-api",
    "grommunio-admin-common",
    "grommunio-admin-web",
    "grommunio-dbconf",
    "nginx",
  ],
  postfix: ["postfix", "postfix-mysql", "sasl2-bin"],
  rspamd: ["rspamd"],
  opendkim: ["opendkim"], // optional: provisioning adds it with /etc/opendkim.conf (OPTIONAL_DAEMONS)
  "load-balancer": [], // by flavour, below
  mariadb: ["mariadb-server"],
  "nfs-server": ["nfs-kernel-server"],
  "store-export": ["nfs-kernel-server"],
  sshd: [],
};

/** systemd units per daemon, in no particular order (see SERVICE_ORDER). */
const DAEMON_UNITS: Readonly<Record<Daemon, readonly string[]>> = {
  "gromox-http": ["gromox-http"],
  "gromox-midb": ["gromox-midb"],
  "gromox-zcore": ["gromox-zcore", PHP_FPM],
  "gromox-imap": ["gromox-imap"],
  "gromox-pop3": ["gromox-pop3"],
  "gromox-delivery": ["gromox-delivery"],
  "gromox-delivery-queue": ["gromox-delivery-queue"],
  "gromox-event": ["gromox-event"],
  "gromox-timer": ["gromox-timer"],
  "grommunio-web": ["nginx", PHP_FPM],
  "grommunio-admin-api": ["grommunio-admin-api", "nginx"],
  postfix: ["saslauthd", "postfix"],
  rspamd: ["rspamd"],
  opendkim: ["opendkim"],
  "load-balancer": [], // by flavour, below
  mariadb: ["mariadb"],
  "nfs-server": ["nfs-kernel-server"],
  "store-export": ["nfs-kernel-server"],
  sshd: [],
};

/**
 * Start order on one node: the firewall first, the database and file server, then the gromox
 * servers before their clients (event/timer, http with exmdb, midb, zcore, then delivery,
 * imap/pop3), then the MTA and the web tier, the load balancer last.
 */
export const SERVICE_ORDER: readonly string[] = [
  "nftables",
  "mariadb",
  "nfs-kernel-server",
  "gromox-event",
  "gromox-timer",
  "gromox-http",
  "gromox-midb",
  "gromox-zcore",
  "gromox-delivery-queue",
  "gromox-delivery",
  "gromox-imap",
  "gromox-pop3",
  "rspamd",
  "opendkim",
  "saslauthd",
  "postfix",
  PHP_FPM,
  "grommunio-admin-api",
  "nginx",
  "haproxy",
  "grommunio-mailbox-map.timer",
];

function loadBalancerPackages(topology: Topology): string[] {
  return topology.loadBalancer?.flavor === "nginx" ? ["nginx", "libnginx-mod-stream"] : ["haproxy", "socat"];
}

function loadBalancerUnits(topology: Topology): string[] {
  return [topology.loadBalancer?.flavor === "nginx" ? "nginx" : "haproxy"];
}

/** Packages and units of a daemon the node runs only when configured (`OPTIONAL_DAEMONS`). */
export function optionalDaemon(d: Daemon): { packages: readonly string[]; units: readonly string[] } {
  return { packages: DAEMON_PACKAGES[d], units: DAEMON_UNITS[d] };
}

/** True when one of the node's daemons is a database client (it gets the MariaDB client). */
export function isDatabaseClient(node: ClusterNode): boolean {
  return PORTS.mysql.clients.some((d) => node.runs(d));
}

/** The node's packages, sorted and unique. `extra` (e.g. `nftables`) is added. */
export function nodePackages(
  topology: Topology,
  node: ClusterNode,
  os: OperatingSystem,
  extra: readonly string[] = [],
): string[] {
  void os;
  const set = new Set<string>(extra);
  for (const d of node.daemons) {
    for (const p of d === "load-balancer" ? loadBalancerPackages(topology) : DAEMON_PACKAGES[d]) set.add(p);
  }
  if (isDatabaseClient(node)) set.add("mariadb-client");
  for (const p of opsPackages(topology, node)) set.add(p);
  return [...set].sort();
}

/** The node's systemd units in start order. `extra` units (e.g. `nftables`) are placed by SERVICE_ORDER. */
export function nodeServices(
  topology: Topology,
  node: ClusterNode,
  os: OperatingSystem,
  extra: readonly string[] = [],
): string[] {
  const set = new Set<string>(extra);
  for (const d of node.daemons) {
    for (const u of d === "load-balancer" ? loadBalancerUnits(topology) : DAEMON_UNITS[d]) set.add(u);
  }
  for (const u of opsServices(topology, node)) set.add(u);
  const rank = (u: string) => {
    const i = SERVICE_ORDER.indexOf(u);
    return i < 0 ? SERVICE_ORDER.length : i;
  };
  return [...set]
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map((u) => (u === PHP_FPM ? OS_FACTS[os].phpFpmUnit : u));
}
