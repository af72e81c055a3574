/**
 * Operations files: failover and rebalance scripts on the ops nodes, and the job that keeps the
 * load balancers' mailbox.map in step with the database (reference/gromox.md §7, §13.7–13.9, §14;
 * validators.md §9 "Map updates").
 *
 * Decisions, and why:
 * - **Language**: Python 3 (standard library only) plus the `mariadb` client, both on every Debian 12
 *   cloud image or installed from `OPS_PACKAGES`. Python talks to HAProxy's stats socket itself (no
 *   socat), computes, validates and chunks the map, and quotes every value it puts into SQL
 *   (`sql_string`) or a shell command (`shlex.quote`). Values known at synth time are rendered into
 *   a `CONFIG` literal at the top of each script (`pyLiteral`), never spliced into code.
 * - **Where failover/rebalance live** (`opsNodes`): on every admin node (the operator's place; its
 *   gromox account may write the database); without admin nodes on the database node, which uses
 *   MariaDB's root over the local socket (unix_socket authentication, no password in a file); with an
 *   external database and no admin node on every mailbox node (any survivor can fail over).
 *   Credentials come from `/etc/grommunio-ops/db.cnf` (root, 0600), never from the command line.
 * - **Reaching other nodes**: the scripts print the per-node commands by default
 *   (`--reload print`); `--reload ssh` runs them as root over ssh with a dedicated key
 *   (`OPS_SSH_KEY`, host keys in `OPS_SSH_KNOWN_HOSTS`; both provisioned by the operator), and
 *   `--reload none` skips them (gromox follows SQL within 60 s). No agent. The ssh program can be
 *   replaced through `$GROMMUNIO_OPS_SSH` (a wrapper, a cluster manager, a test stub).
 * - **Node steps**: `systemctl reload` of the gromox units a node runs, by name (never gromox-event
 *   or gromox-timer: SIGHUP kills them). On failover, `midb_list.txt` rows that pointed at the
 *   failed node's midb are re-pointed at the target's, and gromox-imap/-pop3 restarted where it
 *   changed (they read it at start only). The failed node is skipped.
 * - **Live servers of rebalance**: `--servers`, else the topology's mailbox nodes that have a
 *   `servers` row (a retired node's row, kept by the servers seed, is never a target by accident).
 *   Refused on share-nothing storage unless `--allow-share-nothing` (only pointers move).
 * - **Map job**: a oneshot service on a timer (`mapRefreshSeconds`, default 60 s) on each HAProxy
 *   node with node-aware routing, reading with the read-only map reader
 *   (`/etc/grommunio-ops/map-reader.cnf`). It loads the map into the running HAProxy through the
 *   runtime API only when the map changed (or HAProxy was restarted since), reloads HAProxy only
 *   when the API is unreachable, and keeps the last good map when the database is not.
 */
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
import { PyValue, clientOptionFile, pyLiteral } from "./literal";
import { mailboxMapQuery } from "./map-query";
import { COMMON_PY, NODE_STEPS_PY } from "./python/common";
import { FAILOVER_PY } from "./python/failover";
import { MAILBOX_MAP_PY } from "./python/mailbox-map";
import { REBALANCE_PY } from "./python/rebalance";

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
export const REBALANCE_SCRIPT_PATH = "/usr/local/sbin/grommunio-rebalance";
export const MAILBOX_MAP_JOB_PATH = "/usr/local/sbin/grommunio-mailbox-map";
export const MAILBOX_MAP_UNIT = "grommunio-mailbox-map";
export const MAILBOX_MAP_SERVICE_PATH = `/etc/systemd/system/${MAILBOX_MAP_UNIT}.service`;
export const MAILBOX_MAP_TIMER_PATH = `/etc/systemd/system/${MAILBOX_MAP_UNIT}.timer`;

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
 * Debian 12 packages every ops script needs: `python3` (the scripts; standard library only),
 * `mariadb-client` (the `mariadb` program they run SQL with), `openssh-client` (`--reload ssh`).
 * The map job also runs `haproxy -c` (the load balancer's own package).
 */
export const OPS_PACKAGES: readonly string[] = ["mariadb-client", "openssh-client", "python3"];

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

/** The nodes that get failover and rebalance (see the module comment), sorted by name. */
export function opsNodes(topology: Topology): ClusterNode[] {
  if (topology.adminNodes.length > 0) return [...topology.adminNodes].sort(byName);
  if (topology.database.node) return [topology.database.node];
  return [...topology.mailboxNodes].sort(byName);
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
  if (runsMailboxMapJob(topology, node)) ["mariadb-client", "python3"].forEach((p) => set.add(p));
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
 * - on the ops nodes (`opsNodes`): `/usr/local/sbin/grommunio-failover` and
 *   `/usr/local/sbin/grommunio-rebalance` (root 0750) and `/etc/grommunio-ops/db.cnf` (0600);
 * - on HAProxy nodes with node-aware routing (`runsMailboxMapJob`):
 *   `/usr/local/sbin/grommunio-mailbox-map`, `/etc/grommunio-ops/map-reader.cnf` (0600) and the
 *   systemd `grommunio-mailbox-map.service` + `.timer` (enable the timer: `opsServices`).
 * Pure and deterministic; the scripts carry no secret (only the option files do). Throws
 * `GrommunioValidationError` with every issue of `validateOps` (GRX400–GRX402).
 */
export function renderOpsFiles(topology: Topology, node: ClusterNode, options: OpsOptions = {}): ConfigFile[] {
  const issues = validateOps(topology, options);
  if (issues.length > 0) throw new GrommunioValidationError(issues);
  const o: ResolvedOpsOptions = {
    reload: options.reload ?? "print",
    mapRefreshSeconds: options.mapRefreshSeconds ?? DEFAULT_MAP_REFRESH_SECONDS,
  };
  const files: ConfigFile[] = [];
  if (opsNodes(topology).some((n) => n.name === node.name)) {
    files.push(
      rootFile(OPS_DB_CNF, renderOpsDbCnf(topology, node), "0600"),
      rootFile(FAILOVER_SCRIPT_PATH, renderFailoverScript(topology, o), "0750"),
      rootFile(REBALANCE_SCRIPT_PATH, renderRebalanceScript(topology, o), "0750"),
    );
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
  const header = [
    `${topology.path}: database access of grommunio-failover and grommunio-rebalance on ${node.hostname}.`,
    "Rendered by cdktf-grommunio; root only (0600).",
  ];
  if (db.node?.name === node.name && !node.has("admin")) {
    return clientOptionFile(header, [
      ["socket", "/run/mysqld/mysqld.sock"],
      ["user", "root"],
      ["database", db.name],
    ]);
  }
  return clientOptionFile(header, [
    ["host", db.host],
    ["port", db.port],
    ["user", db.user],
    ["password", db.password],
    ["database", db.name],
  ]);
}

/** `map-reader.cnf` of a load-balancer node: the read-only map reader account. */
export function renderMapReaderCnf(topology: Topology): string {
  const db = topology.database;
  const reader = db.mapReader!;
  return clientOptionFile(
    [`${topology.path}: the map reader of grommunio-mailbox-map. Rendered by cdktf-grommunio; root only (0600).`],
    [
      ["host", db.host],
      ["port", db.port],
      ["user", reader.user],
      ["password", reader.password],
      ["database", db.name],
    ],
  );
}

/** The nodes failover/rebalance act on, for the scripts' CONFIG (sorted by name). */
function reloadNodes(topology: Topology): PyValue[] {
  return [...topology.nodes]
    .sort(byName)
    .filter((n) => RELOADABLE_GROMOX_UNITS.some((u) => n.runs(u)))
    .map((n) => ({
      name: n.name,
      hostname: n.hostname,
      address: n.ipv4,
      midbAddress: n.mappedIpv4,
      units: RELOADABLE_GROMOX_UNITS.filter((u) => n.runs(u)),
    }));
}

function scriptConfig(topology: Topology, o: ResolvedOpsOptions): Record<string, PyValue> {
  return {
    cluster: topology.path,
    dbConfig: OPS_DB_CNF,
    storage: topology.storage,
    mailboxHosts: topology.mailboxNodes.map((n) => n.hostname),
    hub: topology.hub.hostname,
    nodes: reloadNodes(topology),
    midbClientUnits: [...MIDB_LIST_READERS],
    midbListPath: `${GROMOX_CONFIG_DIR}/midb_list.txt`,
    reloadDefault: o.reload,
    sshKey: OPS_SSH_KEY,
    sshKnownHosts: OPS_SSH_KNOWN_HOSTS,
    lockPath: "/run/lock/grommunio-ops.lock",
    connectTimeoutSeconds: 10,
    lockWaitSeconds: 30,
    transactionTimeoutSeconds: 600,
  };
}

interface ScriptSpec {
  readonly prog: string;
  readonly summary: readonly string[];
  readonly config: Record<string, PyValue>;
  readonly body: readonly string[];
}

/** A Python script: shebang, header, CONFIG literal, code, entry point. */
function pythonScript(topology: Topology, s: ScriptSpec): string {
  return [
    "#!/usr/bin/python3 -I",
    `# ${s.prog}: rendered by cdktf-grommunio for ${topology.path}; do not edit (a deploy overwrites it).`,
    ...s.summary.map((l) => `# ${l}`),
    "# Run with --help for usage.",
    "",
    `PROG = ${pyLiteral(s.prog)}`,
    `CONFIG = ${pyLiteral(s.config)}`,
    ...s.body,
    "",
    'if __name__ == "__main__":',
    "    try:",
    "        sys.exit(main(sys.argv[1:]))",
    "    except OpsError as e:",
    "        log(str(e))",
    "        sys.exit(e.code)",
    "    except KeyboardInterrupt:",
    "        sys.exit(130)",
    "",
  ].join("\n");
}

/** `/usr/local/sbin/grommunio-failover FROM_HOST TO_HOST [--dry-run] [--reload print|ssh|none]`. */
export function renderFailoverScript(topology: Topology, o: ResolvedOpsOptions): string {
  return pythonScript(topology, {
    prog: "grommunio-failover",
    summary: [
      "Moves users.homeserver AND domains.homeserver from one servers.hostname to another in ONE",
      "transaction, prints the counts, then reloads gromox on the other nodes (by unit name; never",
      "gromox-event/-timer) and re-points midb_list.txt (restarting gromox-imap/-pop3 where it changed).",
      "Prerequisite: the target reads the failed node's maildirs at the same paths (shared storage,",
      "or the failed node's volume attached there); maildir paths keep the old hostname.",
    ],
    config: scriptConfig(topology, o),
    body: [COMMON_PY, NODE_STEPS_PY, FAILOVER_PY],
  });
}

/** `/usr/local/sbin/grommunio-rebalance [--servers H,...] [--dry-run] [--reload print|ssh|none]`. */
export function renderRebalanceScript(topology: Topology, o: ResolvedOpsOptions): string {
  return pythonScript(topology, {
    prog: "grommunio-rebalance",
    summary: [
      "Spreads the placed users evenly over the live servers, ordered by maildir, with",
      "ROW_NUMBER() OVER (ORDER BY maildir) (robust to gaps in servers.id), in one transaction;",
      "idempotent. Moves pointers only: every live server must read every maildir.",
    ],
    config: scriptConfig(topology, o),
    body: [COMMON_PY, NODE_STEPS_PY, REBALANCE_PY],
  });
}

/** `/usr/local/sbin/grommunio-mailbox-map [--dry-run] [--force]` for the load-balancer nodes. */
export function renderMailboxMapJob(topology: Topology): string {
  const initial = renderMailboxMap([]);
  const [owner, group] = initial.owner.split(":");
  return pythonScript(topology, {
    prog: "grommunio-mailbox-map",
    summary: [
      `Rebuilds ${MAILBOX_MAP_PATH} from the database (users, aliases, MAPI MailboxIds, public stores),`,
      "writes it atomically, and loads it into the running HAProxy through the runtime API",
      "(prepare map / add map @ver in chunks / commit map): no reload, no dropped connection.",
      "Database unreachable: the current map stays (file and running), exit status 1.",
    ],
    config: {
      cluster: topology.path,
      dbConfig: MAP_READER_CNF,
      query: mailboxMapQuery(),
      // The be_gromox/be_web server names of haproxy.cfg (renderHaproxy names them by hostname).
      servers: topology.mailboxNodes.map((n) => n.hostname),
      mapPath: MAILBOX_MAP_PATH,
      mapHeader: initial.content.split("\n")[0]!,
      mapMode: parseInt(initial.mode, 8),
      mapOwner: owner!,
      mapGroup: group!,
      maxKeyLength: 1024,
      statsSocket: SOCKETS.haproxyStats,
      chunkBytes: MAP_PAYLOAD_CHUNK_BYTES,
      haproxyConfig: HAPROXY_CFG_PATH,
      haproxyUnit: "haproxy",
      // In HAProxy's runtime directory: a restarted HAProxy (fresh directory) gets the map again.
      statePath: "/run/haproxy/grommunio-mailbox-map.state",
      lockPath: "/run/haproxy/grommunio-mailbox-map.lock",
      connectTimeoutSeconds: 10,
      queryTimeoutSeconds: 120,
      apiTimeoutSeconds: 30,
    },
    body: [COMMON_PY, MAILBOX_MAP_PY],
  });
}

/** `grommunio-mailbox-map.service`: one run of the map job. */
export function renderMailboxMapService(): string {
  return [
    "# Rendered by cdktf-grommunio: refreshes HAProxy's node-aware routing map from the database.",
    "[Unit]",
    "Description=Refresh HAProxy mailbox.map from the grommunio database",
    `Documentation=man:haproxy(1) file:${MAILBOX_MAP_JOB_PATH}`,
    "Wants=network-online.target",
    "After=network-online.target haproxy.service",
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=${MAILBOX_MAP_JOB_PATH}`,
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
    "# Rendered by cdktf-grommunio: runs grommunio-mailbox-map.service periodically.",
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
