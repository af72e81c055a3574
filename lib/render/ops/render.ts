/**
 * Operations files: the failover and rebalance commands on the ops nodes, and the job that keeps
 * the load balancers' mailbox.map in step with the database (reference/gromox.md §7, §13.7–13.9,
 * §14; validators.md §9 "Map updates"). Usage: docs/operations.md.
 *
 * Decisions, and why:
 * - **Language and size**: bash with coreutils, awk, util-linux's flock, the `mariadb` client and
 *   (load balancers) `socat`, all on every Debian 12 / Ubuntu 24.04 node or in `OPS_PACKAGES`.
 *   Every byte ships in user-data (AWS: 16 KB for all a node gets, kept under half next to
 *   haproxy.cfg, certificates and the secret fetcher), so the programs are terse: the map job is
 *   2.6 KB gzipped (the Python one was 6.2 KB), grommunio-ops 3.3 KB with failover only and 4.1 KB
 *   with rebalance (Python: 5.6-7.3 KB). Comment-only lines are dropped when rendering
 *   (`shellCode`); the sources in ./bash keep the documentation. Values known at synth time are
 *   rendered into shell assignments at the top (`shQuote`), never spliced into code.
 * - **Where failover/rebalance live** (`opsNodes`): on the database node when the database runs on
 *   a cluster node: it is never the mailbox node that failed, it holds what they change, and it uses
 *   MariaDB's root over the local socket (unix_socket authentication, no password in a file). With a
 *   managed or external database, on every admin node (its gromox account may write the database),
 *   else on every mailbox node (any survivor can fail over). Credentials come from
 *   `/etc/grommunio-ops/db.cnf` (root, 0600), never from the command line.
 * - **One program, two commands**: failover and rebalance share most of their code:
 *   `grommunio-ops failover|rebalance` holds it; `grommunio-failover` and `grommunio-rebalance`
 *   run it (they find it next to themselves).
 * - **Rebalance only on shared storage**: it moves pointers, never maildirs, so every live server
 *   must read every maildir. Where each node keeps its maildirs on its own volume the plan would
 *   send users to nodes that cannot open them, so share-nothing clusters do not get it.
 * - **Reaching other nodes**: the commands print the per-node steps by default (`--reload print`);
 *   `--reload ssh` runs them as root over ssh with a dedicated key (`OPS_SSH_KEY`, host keys in
 *   `OPS_SSH_KNOWN_HOSTS`; both provisioned by the operator), and `--reload none` skips them
 *   (gromox follows SQL within 60 s). No agent. The ssh program can be replaced through
 *   `$GROMMUNIO_OPS_SSH` (a wrapper, a cluster manager, a test stub).
 * - **Node steps**: `systemctl reload` of the gromox units a node runs, by name (never gromox-event
 *   or gromox-timer: SIGHUP kills them). On failover, `midb_list.txt` rows that pointed at the
 *   failed node's midb are re-pointed at the target's, and gromox-imap/-pop3 restarted where it
 *   changed (they read it at start only). The failed node is skipped.
 * - **Live servers of rebalance**: `--servers`, else the topology's mailbox nodes that have a
 *   `servers` row (a retired node's row, kept by the servers seed, is never a target by accident).
 * - **Map job**: a oneshot service on a timer (`mapRefreshSeconds`, default 60 s) on each HAProxy
 *   node with node-aware routing, reading with the read-only map reader
 *   (`/etc/grommunio-ops/map-reader.cnf`). MariaDB computes the keys, MAPI MailboxIds included, in
 *   the view `grommunio_mailbox_map` that the servers seed creates on the schema node
 *   (`renderMailboxMapView`, `mailboxMapQuery`): the query lives in the database once, not in every
 *   load balancer's user-data (the system test compares its keys with `renderMailboxMap`). awk
 *   validates and de-duplicates them against the server names of the backends that look the map
 *   up, read from haproxy.cfg at each run (not rendered in: the job is the same on every load
 *   balancer and does not grow with the mailbox nodes; no server there fails the run); the job loads the map
 *   into the running HAProxy through the runtime API (prepare / add in chunks over one connection /
 *   commit once the version holds every entry) only when it changed (or HAProxy was restarted since), reloads HAProxy only when the API
 *   is unreachable, and keeps the last good map when the database is not readable.
 */
import { posix } from "node:path";
import {
  ClusterNode,
  Daemon,
  GrommunioValidationError,
  IssueCollector,
  Topology,
  ValidationIssue,
} from "../../topology";
import { SOCKETS } from "../../topology/ports";
import { GROMOX_CONFIG_DIR } from "../gromox";
import { HAPROXY_CFG_PATH, MAILBOX_MAP_PATH, renderMailboxMap } from "../haproxy";
import { ConfigFile, sortFiles } from "../types";
import { COMMON_SH, DATABASE_SH, opsMain, shQuote, shellCode } from "./bash/common";
import { FAILOVER_SH } from "./bash/failover";
import {
  ADD_MAP_AWK,
  BUILD_MAP_AWK,
  COMMITTED_AWK,
  MAILBOX_MAP_SH,
  SERVERS_AWK,
  VERSION_ENTRIES_AWK,
} from "./bash/mailbox-map";
import { REBALANCE_SH } from "./bash/rebalance";
import { clientOptionFile } from "./literal";
import { MAILBOX_MAP_VIEW, MAILBOX_MAP_VIEW_COLUMNS } from "../database/map-view";

/** Directory of the ops credentials (root only). */
export const OPS_CONFIG_DIR = "/etc/grommunio-ops";
/** MariaDB option file of failover/rebalance (root, 0600). */
export const OPS_DB_CNF = `${OPS_CONFIG_DIR}/db.cnf`;
/** MariaDB option file of the map job: the read-only map reader (root, 0600). */
export const MAP_READER_CNF = `${OPS_CONFIG_DIR}/map-reader.cnf`;
/** Private key `--reload ssh` uses (provisioned by the operator; its public half authorized for root on the nodes). */
export const OPS_SSH_KEY = `${OPS_CONFIG_DIR}/ssh/id_ed25519`;
/** Host keys of the nodes for `--reload ssh` (StrictHostKeyChecking=yes). */
export const OPS_SSH_KNOWN_HOSTS = `${OPS_CONFIG_DIR}/ssh/known_hosts`;

export const FAILOVER_SCRIPT_PATH = "/usr/local/sbin/grommunio-failover";
/** `grommunio-ops failover|rebalance`: the code of both (grommunio-failover/-rebalance run it). */
export const OPS_PROGRAM_PATH = "/usr/local/sbin/grommunio-ops";
export const REBALANCE_SCRIPT_PATH = "/usr/local/sbin/grommunio-rebalance";
export const MAILBOX_MAP_JOB_PATH = "/usr/local/sbin/grommunio-mailbox-map";
export const MAILBOX_MAP_UNIT = "grommunio-mailbox-map";
export const MAILBOX_MAP_SERVICE_PATH = `/etc/systemd/system/${MAILBOX_MAP_UNIT}.service`;
export const MAILBOX_MAP_TIMER_PATH = `/etc/systemd/system/${MAILBOX_MAP_UNIT}.timer`;
/**
 * Exit status of the map job when the database is unreachable and the map was never filled (a
 * first boot before the database has the schema and grants): the service counts it as success.
 */
export const MAILBOX_MAP_NOT_READY_EXIT = 4;

/** HAProxy's default `tune.bufsize`: one runtime-API request (command + payload) must fit into it. */
export const HAPROXY_BUFSIZE = 16384;
/**
 * Bytes of map lines per `add map @<ver>` payload: half of `tune.bufsize`, so a command always fits
 * with room to spare (a 42 KB payload was reset, ~8 KB chunks work: validators.md §9).
 */
export const MAP_PAYLOAD_CHUNK_BYTES = 8192;

/**
 * The gromox units failover and rebalance reload, in this order, each where the node runs it;
 * gromox-event and gromox-timer are never among them (no SIGHUP handler: reload kills them).
 */
export const RELOADABLE_GROMOX_UNITS: readonly Daemon[] = [
  "gromox-http",
  "gromox-midb",
  "gromox-zcore",
  "gromox-imap",
  "gromox-pop3",
  "gromox-delivery",
  "gromox-delivery-queue",
];

/** Units that read `midb_list.txt` at start only: restarted when failover changes it. */
export const MIDB_LIST_READERS: readonly Daemon[] = ["gromox-imap", "gromox-pop3"];

/**
 * Debian 12 / Ubuntu 24.04 packages failover and rebalance need beyond the base system (bash,
 * coreutils, awk, util-linux): `mariadb-client` (the `mariadb` program they run SQL with) and
 * `openssh-client` (`--reload ssh`).
 */
export const OPS_PACKAGES: readonly string[] = ["mariadb-client", "openssh-client"];

/**
 * Packages of the map job: `mariadb-client` and `socat` (the runtime API). It also runs
 * `haproxy -c`, the load balancer's own package.
 */
export const MAP_JOB_PACKAGES: readonly string[] = ["mariadb-client", "socat"];

/** Options of `renderOpsFiles`. */
export interface OpsOptions {
  /**
   * What failover and rebalance do about the other nodes unless `--reload` says otherwise:
   * `print` the commands for the operator, or run them over `ssh` (needs `OPS_SSH_KEY` and
   * `OPS_SSH_KNOWN_HOSTS` on the ops node and the key authorized for root on the nodes).
   * @default "print" (nothing is assumed about keys; the output is a ready-to-run list)
   */
  readonly reload?: "print" | "ssh";
  /**
   * Seconds between two runs of the map job (timer `OnUnitActiveSec`), 10–3600.
   * @default 60 (gromox's own homeserver caches refresh after 60 s as well: gromox.md §7)
   */
  readonly mapRefreshSeconds?: number;
}

export const DEFAULT_MAP_REFRESH_SECONDS = 60;

/** `OpsOptions` with the defaults applied. */
export interface ResolvedOpsOptions {
  readonly reload: "print" | "ssh";
  readonly mapRefreshSeconds: number;
}

/**
 * The nodes that get failover and rebalance (see the module comment), sorted by name: the database
 * node; without one (managed or external database) every admin node; without those every mailbox node.
 */
export function opsNodes(topology: Topology): ClusterNode[] {
  if (topology.database.node) return [topology.database.node];
  if (topology.adminNodes.length > 0) return [...topology.adminNodes].sort(byName);
  return [...topology.mailboxNodes].sort(byName);
}

/**
 * True when the ops nodes get grommunio-rebalance: shared storage only (it moves pointers, never
 * maildirs; on share-nothing storage its plan would send users to nodes without their maildirs).
 */
export function runsRebalance(topology: Topology): boolean {
  return topology.storage === "shared";
}

/** True when `node` runs the mailbox-map job (HAProxy tier with node-aware routing). */
export function runsMailboxMapJob(topology: Topology, node: ClusterNode): boolean {
  const lb = topology.loadBalancer;
  return lb !== undefined && lb.flavor === "haproxy" && lb.nodeAwareRouting && node.has("load-balancer");
}

/** The packages `node` needs for its ops files (sorted; empty when it has none). */
export function opsPackages(topology: Topology, node: ClusterNode): string[] {
  const set = new Set<string>();
  if (opsNodes(topology).some((n) => n.name === node.name)) OPS_PACKAGES.forEach((p) => set.add(p));
  if (runsMailboxMapJob(topology, node)) MAP_JOB_PACKAGES.forEach((p) => set.add(p));
  return [...set].sort();
}

/** systemd units to enable (and start) on `node` for its ops files. */
export function opsServices(topology: Topology, node: ClusterNode): string[] {
  return runsMailboxMapJob(topology, node) ? [`${MAILBOX_MAP_UNIT}.timer`] : [];
}

/** Every problem that keeps `renderOpsFiles` from rendering (empty when it can). */
export function validateOps(topology: Topology, options: OpsOptions = {}): ValidationIssue[] {
  const c = new IssueCollector();
  const lb = topology.loadBalancer;
  if (lb && lb.flavor === "haproxy" && lb.nodeAwareRouting && !topology.database.mapReader) {
    c.add(
      "GRX400",
      topology.path,
      "database.mapReaderPassword",
      "node-aware routing needs the load balancers to read the database, and no map reader account is declared.",
      "Pass database.mapReaderPassword (a random_password result), or turn nodeAwareRouting off.",
    );
  }
  const seconds = options.mapRefreshSeconds;
  if (seconds !== undefined && (!Number.isInteger(seconds) || seconds < 10 || seconds > 3600)) {
    c.add(
      "GRX401",
      topology.path,
      "ops.mapRefreshSeconds",
      `${String(seconds)} is not a whole number of seconds from 10 to 3600.`,
      `Give e.g. ${DEFAULT_MAP_REFRESH_SECONDS}, or omit it.`,
    );
  }
  const reload = options.reload;
  if (reload !== undefined && reload !== "print" && reload !== "ssh") {
    c.add(
      "GRX402",
      topology.path,
      "ops.reload",
      `"${String(reload)}" is not "print" or "ssh".`,
      'Use "print" or "ssh".',
    );
  }
  return [...c.issues];
}

/**
 * The ops files of `node`, sorted by path; empty for nodes without any:
 * - on the ops nodes (`opsNodes`): `/usr/local/sbin/grommunio-ops` and
 *   `/usr/local/sbin/grommunio-failover` (root 0750), `/usr/local/sbin/grommunio-rebalance` where
 *   the storage is shared (`runsRebalance`), and `/etc/grommunio-ops/db.cnf` (0600);
 * - on HAProxy nodes with node-aware routing (`runsMailboxMapJob`):
 *   `/usr/local/sbin/grommunio-mailbox-map`, `/etc/grommunio-ops/map-reader.cnf` (0600) and the
 *   systemd `grommunio-mailbox-map.service` + `.timer` (enable the timer: `opsServices`).
 * Pure and deterministic; the programs carry no secret (only the option files do). Throws
 * `GrommunioValidationError` with the issues of `validateOps` that concern `node`: GRX401/GRX402
 * always, GRX400 (no map reader) where the node runs the map job.
 */
export function renderOpsFiles(topology: Topology, node: ClusterNode, options: OpsOptions = {}): ConfigFile[] {
  const issues = validateOps(topology, options).filter((i) => i.code !== "GRX400" || runsMailboxMapJob(topology, node));
  if (issues.length > 0) throw new GrommunioValidationError(issues);
  const o: ResolvedOpsOptions = {
    reload: options.reload ?? "print",
    mapRefreshSeconds: options.mapRefreshSeconds ?? DEFAULT_MAP_REFRESH_SECONDS,
  };
  const files: ConfigFile[] = [];
  if (opsNodes(topology).some((n) => n.name === node.name)) {
    files.push(
      rootFile(OPS_DB_CNF, renderOpsDbCnf(topology, node), "0600"),
      rootFile(OPS_PROGRAM_PATH, renderOpsProgram(topology, o), "0750"),
      rootFile(FAILOVER_SCRIPT_PATH, renderFailoverScript(), "0750"),
    );
    if (runsRebalance(topology)) files.push(rootFile(REBALANCE_SCRIPT_PATH, renderRebalanceScript(), "0750"));
  }
  if (runsMailboxMapJob(topology, node)) {
    files.push(
      rootFile(MAP_READER_CNF, renderMapReaderCnf(topology), "0600"),
      rootFile(MAILBOX_MAP_JOB_PATH, renderMailboxMapJob(topology), "0750"),
      rootFile(MAILBOX_MAP_SERVICE_PATH, renderMailboxMapService(), "0644"),
      rootFile(MAILBOX_MAP_TIMER_PATH, renderMailboxMapTimer(o), "0644"),
    );
  }
  return sortFiles(files);
}

function rootFile(path: string, content: string, mode: string): ConfigFile {
  return { path, content, mode, owner: "root:root" };
}

function byName(a: ClusterNode, b: ClusterNode): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * `db.cnf` of an ops node: the cluster's gromox account over TCP; on the database node itself
 * (no admin node), MariaDB's root over the local socket instead (no account exists for the
 * database node's own address, and root needs no password there).
 */
export function renderOpsDbCnf(topology: Topology, node: ClusterNode): string {
  const db = topology.database;
  // No header comment: the path says what it is, and user-data has no byte to spare.
  const header: string[] = [];
  if (db.node?.name === node.name && !node.has("admin")) {
    return clientOptionFile(
      header,
      [
        ["socket", "/run/mysqld/mysqld.sock"],
        ["user", "root"],
      ],
      [["database", db.name]],
    );
  }
  return clientOptionFile(
    header,
    [
      ["host", db.host],
      ["port", db.port],
      ["user", db.user],
      ["password", db.password],
    ],
    [["database", db.name]],
  );
}

/** `map-reader.cnf` of a load-balancer node: the read-only map reader account. */
export function renderMapReaderCnf(topology: Topology): string {
  const db = topology.database;
  const reader = db.mapReader!;
  return clientOptionFile(
    [],
    [
      ["host", db.host],
      ["port", db.port],
      ["user", reader.user],
      ["password", reader.password],
    ],
    [["database", db.name]],
  );
}

/**
 * The nodes failover/rebalance act on, sorted by name, one line each for the scripts' `NODES`:
 * `name hostname address unit...` (the gromox units to reload there). A node's midb address in
 * `midb_list.txt` is always `::ffff:<address>` (`ClusterNode.mappedIpv4`, `mappedIpv6`), so
 * failover derives it from the address instead of a column: on Hetzner the table travels in the
 * database node's user-data, and the column cost it ~1.4 KB there at 250 mailbox nodes.
 */
function reloadNodes(topology: Topology): string {
  return [...topology.nodes]
    .sort(byName)
    .filter((n) => RELOADABLE_GROMOX_UNITS.some((u) => n.runs(u)))
    .map((n) => [n.name, n.hostname, n.ipv4, ...RELOADABLE_GROMOX_UNITS.filter((u) => n.runs(u))].join(" "))
    .join("\n");
}

/** Shell assignments `NAME=value` (values quoted with `shQuote`). */
function assignments(values: Record<string, string | number>): string[] {
  return Object.entries(values).map(([k, v]) => `${k}=${shQuote(String(v))}`);
}

/** The settings of failover and rebalance (`NAME=value` lines at the top of the ops module). */
export function opsSettings(topology: Topology, o: ResolvedOpsOptions): Record<string, string | number> {
  return {
    DB_CONFIG: OPS_DB_CNF,
    // rebalance's default live set (only where it is rendered: every byte is user-data)
    ...(runsRebalance(topology) ? { MAILBOX_HOSTS: topology.mailboxNodes.map((n) => n.hostname).join(" ") } : {}),
    HUB: topology.hub.hostname,
    NODES: reloadNodes(topology),
    MIDB_UNITS: MIDB_LIST_READERS.join(" "),
    MIDB_LIST: `${GROMOX_CONFIG_DIR}/midb_list.txt`,
    RELOAD: o.reload,
    SSH_KEY: OPS_SSH_KEY,
    SSH_KNOWN_HOSTS: OPS_SSH_KNOWN_HOSTS,
    LOCK: "/run/lock/grommunio-ops.lock",
  };
}

/** The first lines of a rendered program: shebang, provenance, what it does. */
function header(topology: Topology, prog: string, summary: readonly string[]): string[] {
  return [
    "#!/bin/bash",
    `# ${prog}: rendered by cdktf-grommunio for ${topology.path}; do not edit.`,
    ...summary.map((l) => `# ${l}`),
  ];
}

/**
 * `/usr/local/sbin/grommunio-ops failover|rebalance ARGS...`: the cluster's settings and the code
 * of both commands (they share most of it), run through grommunio-failover and grommunio-rebalance.
 */
export function renderOpsProgram(topology: Topology, o: ResolvedOpsOptions): string {
  return [
    ...header(topology, "grommunio-ops", []),
    ...assignments(opsSettings(topology, o)),
    shellCode(COMMON_SH),
    shellCode(DATABASE_SH),
    shellCode(FAILOVER_SH),
    ...(runsRebalance(topology) ? [shellCode(REBALANCE_SH)] : []),
    shellCode(opsMain(runsRebalance(topology) ? ["failover", "rebalance"] : ["failover"])),
    "",
  ].join("\n");
}

/** A command of grommunio-ops: runs `grommunio-ops <subcommand>` next to itself (POSIX sh). */
function opsCommand(scriptPath: string, summary: string, subcommand: string): string {
  const relative = posix.relative(posix.dirname(scriptPath), OPS_PROGRAM_PATH);
  return [
    "#!/bin/sh",
    `# ${posix.basename(scriptPath)}: ${summary} --help for usage.`,
    `exec "$(dirname "$(readlink -f "$0")")/${relative}" ${subcommand} "$@"`,
    "",
  ].join("\n");
}

/** `/usr/local/sbin/grommunio-failover FROM_HOST TO_HOST [--dry-run] [--reload print|ssh|none]`. */
export function renderFailoverScript(): string {
  return opsCommand(FAILOVER_SCRIPT_PATH, "moves a failed server's mailboxes.", "failover");
}

/** `/usr/local/sbin/grommunio-rebalance [--servers H,...] [--dry-run] [--reload print|ssh|none]`. */
export function renderRebalanceScript(): string {
  return opsCommand(REBALANCE_SCRIPT_PATH, "spreads the mailboxes evenly.", "rebalance");
}

/** The settings of the map job (`NAME=value` lines at its top). */
export function mailboxMapSettings(): Record<string, string | number> {
  const initial = renderMailboxMap([]);
  return {
    PROG: "grommunio-mailbox-map",
    DB_CONFIG: MAP_READER_CNF,
    // The keys, computed by MariaDB in the view the servers seed creates (renderMailboxMapView).
    QUERY: `SELECT ${MAILBOX_MAP_VIEW_COLUMNS.join(", ")} FROM ${MAILBOX_MAP_VIEW};`,
    MAP: MAILBOX_MAP_PATH,
    MAP_HEADER: initial.content.split("\n")[0]!,
    MAP_MODE: initial.mode,
    MAP_GROUP: initial.owner.split(":")[1]!,
    SOCKET: SOCKETS.haproxyStats,
    CHUNK_BYTES: MAP_PAYLOAD_CHUNK_BYTES,
    HAPROXY_CONFIG: HAPROXY_CFG_PATH,
    // In HAProxy's runtime directory: a restarted HAProxy (fresh directory) gets the map again.
    STATE: "/run/haproxy/grommunio-mailbox-map.state",
    LOCK: "/run/haproxy/grommunio-mailbox-map.lock",
    NOT_READY: MAILBOX_MAP_NOT_READY_EXIT,
    SERVERS_AWK,
    BUILD_MAP_AWK,
    ADD_MAP_AWK,
    VERSION_ENTRIES_AWK,
    COMMITTED_AWK,
  };
}

/** `/usr/local/sbin/grommunio-mailbox-map [--dry-run] [--force]` for the load-balancer nodes. */
export function renderMailboxMapJob(topology: Topology): string {
  return [
    ...header(topology, "grommunio-mailbox-map", []),
    ...assignments(mailboxMapSettings()),
    shellCode(COMMON_SH),
    shellCode(MAILBOX_MAP_SH),
    "",
  ].join("\n");
}

/** `grommunio-mailbox-map.service`: one run of the map job. */
export function renderMailboxMapService(): string {
  return [
    "[Unit]",
    "Description=Refresh HAProxy mailbox.map from the grommunio database (cdktf-grommunio)",
    "Wants=network-online.target",
    "After=network-online.target haproxy.service",
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=${MAILBOX_MAP_JOB_PATH}`,
    `SuccessExitStatus=${MAILBOX_MAP_NOT_READY_EXIT}`,
    "TimeoutStartSec=300",
    "Nice=5",
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "ProtectHome=yes",
    "ProtectSystem=full",
    "ReadWritePaths=/etc/haproxy",
    "",
  ].join("\n");
}

/** `grommunio-mailbox-map.timer`: soon after boot, then every `mapRefreshSeconds`. */
export function renderMailboxMapTimer(o: ResolvedOpsOptions): string {
  return [
    "[Unit]",
    `Description=Refresh HAProxy mailbox.map every ${o.mapRefreshSeconds} s`,
    "",
    "[Timer]",
    "OnBootSec=15s",
    `OnUnitActiveSec=${o.mapRefreshSeconds}s`,
    "AccuracySec=1s",
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}
