/**
 * `provisionNode`: everything one node needs at boot, from the topology, the node's rendered files
 * and its data mounts. Pure and deterministic; problems come back as coded issues (GRX3xx).
 *
 * First boot, in order (the delivery layer keeps this order):
 * 0. every boot, before anything else: the accounts that own gromox's data get their fixed ids
 *    (`accounts`: created when missing, checked when present; a mismatch stops the boot steps);
 * 1. every boot: data volumes are waited for, formatted only when blank,
 *    and mounted by label (so packages install onto them);
 * 2. early files: APT source and key;
 * 3. packages (their users and groups now exist);
 * 4. late files: every rendered configuration file, the database client file, SQL scripts, the
 *    drop-ins that keep services from starting without their data mounts on later boots
 *    (`mountDropIns`);
 * 5. `before-services` commands: wait for the database, create the schema on exactly one node
 *    (`gromox-dbop -C` only when the schema is missing), seed the `servers` table;
 * 6. services enabled and restarted in dependency order;
 * 7. `after-services` commands: the database node's bootstrap (accounts, grants).
 */
import type { OperatingSystem } from "../platforms/platform";
import { MAILBOX_MAP_VIEW } from "../render/database/map-view";
import { clientOptionFile } from "../render/ops/literal";
import type { ConfigFile } from "../render/types";
import { ClusterNode, IssueCollector, Topology, ValidationIssue } from "../topology";
import {
  AptRepository,
  DataMount,
  FileStage,
  NfsMount,
  NodeProvisioning,
  ProvisionCommand,
  ProvisionedFile,
  ReadinessReport,
  bootPackages,
} from "./model";
import {
  RepositoryOptions,
  grommunioRepository,
  isDatabaseClient,
  isGrommunioPackage,
  nodePackages,
  nodeServices,
  optionalDaemon,
} from "./packages";
import { OPENDKIM_CONF } from "../render/dkim";
import { DOMAIN_MAILDIR_ROOT, USER_MAILDIR_ROOT } from "../render/gromox";
import { OsRepositoryOptions, emptySourcesList, osRepositories } from "./sources";
import { AccountIds, pinnedAccounts } from "./accounts";

/** Where provisioning keeps its own files on the node. */
export const PROVISION_DIR = "/etc/grommunio-cluster";
/** MariaDB client options of the first-boot commands (`--defaults-file`), root only. */
export const DB_CLIENT_CNF = `${PROVISION_DIR}/db-client.cnf`;
export const SQL_FILES = {
  bootstrap: `${PROVISION_DIR}/database-bootstrap.sql`,
  seed: `${PROVISION_DIR}/servers-seed.sql`,
  mapReaderGrants: `${PROVISION_DIR}/map-reader-grants.sql`,
} as const;
/**
 * The mailbox nodes whose store roots an admin node mounts on demand (`storeExportMounts`), as
 * `storeServersText` writes them: the first-boot step `STORE_MOUNTS_COMMAND` makes the fstab lines.
 */
export const STORE_SERVERS_PATH = `${PROVISION_DIR}/store-servers`;
export const NFTABLES_PATH = "/etc/nftables.conf";
export const NFS_EXPORTS_PATH = "/etc/exports";

/** Where provisioning writes systemd drop-ins (`<unit>.service.d/…`). */
export const SYSTEMD_UNIT_DIR = "/etc/systemd/system";
/** The name of the drop-in that orders a unit after its data mount (`mountDropIns`). */
export const MOUNT_DROP_IN = "data-mount.conf";
/** MariaDB's data directory: the database node's volume (`DatabaseNode`) is mounted here. */
export const MARIADB_DATADIR = "/var/lib/mysql";

/** How long first-boot steps wait for another node (the database, the schema), in seconds. */
export const WAIT_SECONDS = 1800;

/**
 * The SQL scripts of the cluster (from the SQL renderer, `lib/render/database`). Each is run on
 * the node the cluster's database layout says: bootstrap and map-reader grants as MariaDB root on
 * the database node, the servers seed (with the load balancers' map view) on the schema node after
 * `gromox-dbop -C`.
 */
export interface ClusterSql {
  /** Database, accounts (needs MariaDB root): run on the database node. */
  readonly bootstrap?: string;
  /** `servers` rows (idempotent): run once on the schema node after the schema exists. */
  readonly seed?: string;
  /** Grants of the load balancers' read-only account: on the database node, after the schema and the map view. */
  readonly mapReaderGrants?: string;
}

export interface ProvisionNodeInput {
  readonly topology: Topology;
  readonly node: ClusterNode;
  /** `renderNodeFiles(topology, node)`. */
  readonly files: readonly ConfigFile[];
  /** Files the cluster adds beyond the renderers (in-guest firewall, NFS exports); same rules. */
  readonly extraFiles?: readonly ConfigFile[];
  readonly os: OperatingSystem;
  readonly mounts: readonly DataMount[];
  readonly repository?: RepositoryOptions;
  /** Replaces the OS's own package sources (a mirror). @default the image's sources */
  readonly osRepository?: OsRepositoryOptions;
  /** Prints a readiness report once cloud-init has finished. @default none */
  readonly readinessReport?: ReadinessReport;
  readonly sql?: ClusterSql;
  /** The ids of the accounts that own gromox's data (`accounts`). @default DEFAULT_ACCOUNT_IDS */
  readonly accountIds?: AccountIds;
}

const OWNER = /^[a-z_][a-z0-9_-]{0,31}:[a-z_][a-z0-9_-]{0,31}$/;
const MODE = /^0[0-7]{3}$/;
const LABEL = /^[A-Za-z0-9_-]{1,16}$/;

function isCleanAbsolutePath(p: string): boolean {
  return p.startsWith("/") && !p.split("/").some((s) => s === ".." || s === ".") && !/\/\/|\/$|[\0\n]/.test(p);
}

/** The deb822 source files of `repos`, then one key file per keyring (a mirror and its security mirror share theirs). */
function sourceFiles(repos: readonly AptRepository[], stage: FileStage): ProvisionedFile[] {
  const keys = new Map<string, string>();
  for (const r of repos) {
    if (r.armoredKey !== undefined && r.keyringPath !== undefined) keys.set(r.keyringPath, r.armoredKey);
  }
  return [
    ...repos.map((r) => ({ ...aptSourceFile(r), stage })),
    ...[...keys].map(([path, content]) => ({ path, content, mode: "0644", owner: "root:root", stage })),
  ];
}

/** The deb822 source file of a repository. */
export function aptSourceFile(repo: AptRepository): ProvisionedFile {
  const lines = [
    "Types: deb",
    `URIs: ${repo.uris}`,
    `Suites: ${repo.suites}`,
    // Absent for a flat repository (suite ending in "/"): apt refuses Components there.
    ...(repo.components.length > 0 ? [`Components: ${repo.components.join(" ")}`] : []),
    repo.trusted ? "Trusted: yes" : `Signed-By: ${repo.keyringPath}`,
  ];
  return {
    path: `/etc/apt/sources.list.d/${repo.name}.sources`,
    content: lines.join("\n") + "\n",
    mode: "0644",
    owner: "root:root",
    stage: "early",
  };
}

/**
 * `mysql --defaults-file` options for the first-boot commands (a secret: 0600 root). Values are
 * double-quoted and escaped (`cnfValue`: a user's password may hold `#`, which would start a
 * comment). The database is under `[mysql]`: mariadb-admin and mariadb-dump read `[client]` too
 * and refuse `database`.
 */
export function dbClientFile(topology: Topology): ConfigFile {
  const db = topology.database;
  const content = clientOptionFile(
    // no header: the file is on every database client node, in user-data (every byte counts there)
    [],
    [
      ["host", db.host],
      ["port", db.port],
      ["user", db.user],
      ["password", db.password],
    ],
    [["database", db.name]],
  );
  return { path: DB_CLIENT_CNF, content, mode: "0600", owner: "root:root" };
}

/**
 * Export options of every export: read-write, synchronous, and without root squashing, because
 * the clients write as root (package scripts on the NFS node's clients; `grommunio-admin` and
 * the admin API's store creation on an admin node) and as the gromox and grommunio users, whose
 * numeric ids the server takes as they come (NFSv4 with AUTH_SYS).
 */
const EXPORT_OPTIONS = "rw,sync,no_subtree_check,no_root_squash";

function exportsFile(comment: string, entries: readonly (readonly [string, readonly ClusterNode[]])[]): ConfigFile {
  const lines = [
    `# generated by cdktf-grommunio: ${comment}`,
    ...entries.flatMap(([path, clients]) => clients.map((n) => `${path} ${n.ipv4}(${EXPORT_OPTIONS})`)),
  ];
  return { path: NFS_EXPORTS_PATH, content: lines.join("\n") + "\n", mode: "0644", owner: "root:root" };
}

/** `/etc/exports` of the NFS node: the export, read-write, for every client of the nfs port. */
export function nfsExportsFile(topology: Topology, exportPath: string): ConfigFile {
  return exportsFile("the mailbox store, for the nodes that open maildirs", [[exportPath, topology.clientsOf("nfs")]]);
}

/**
 * The directories a share-nothing mailbox node exports to the admin nodes (daemon `store-export`):
 * its private- and public-store roots, `/var/lib/gromox/user/<hostname>` and
 * `/var/lib/gromox/domain/<hostname>` (admin-api `serverExplicitMount`), which the admin nodes
 * mount at the same paths.
 */
export function storeExportPaths(node: ClusterNode): string[] {
  return storeRootsOf(node.hostname);
}

/**
 * Where gromox keeps the mailboxes: the mailbox nodes' data volume or NFS/EFS mount
 * (`MAILSTORE` in lib/cluster), the directory the gromox drop-ins require (`mountDropIns`).
 */
export const MAILSTORE_ROOT = "/var/lib/gromox";
/** The store roots' parents below `MAILSTORE_ROOT` (`USER_MAILDIR_ROOT`, `DOMAIN_MAILDIR_ROOT`). */
const STORE_ROOTS = [USER_MAILDIR_ROOT, DOMAIN_MAILDIR_ROOT].map((r) => r.slice(MAILSTORE_ROOT.length + 1, -1));
const storeRootsOf = (hostname: string) => STORE_ROOTS.map((r) => `${MAILSTORE_ROOT}/${r}/${hostname}`);

/** Options of NFS mounts (the NFS node's; the store exports' add `STORE_MOUNT_OPTIONS`'s). */
export const NFS_MOUNT_OPTIONS = "nfsvers=4.1,hard,timeo=600,retrans=2,_netdev,nofail";
/**
 * The store exports' mounts on an admin node: on first access (`x-systemd.automount`), released
 * after a minute without use (`x-systemd.idle-timeout=60`, the automount's TimeoutIdleSec), and
 * each mount or unmount command given 30 s (`x-systemd.mount-timeout=30`, the mount unit's
 * TimeoutSec: then SIGTERM, which ends a hard mount's wait, and SIGKILL 30 s later). Still `hard`:
 * a store being created is written through them, and `soft` would hand the writer EIO mid-write
 * (nfs(5)). Bounded instead: a mailbox node that is down no longer holds up the admin node's
 * shutdown (an idle mount is not there; a busy one's umount is stopped) nor, for longer than
 * 30 s, an access to its stores (docs/operations.md, "Store mounts when a mailbox node is down").
 */
const STORE_MOUNT_OPTIONS = `${NFS_MOUNT_OPTIONS},x-systemd.automount,x-systemd.idle-timeout=60,x-systemd.mount-timeout=30`;

/**
 * ShareNothing: what an admin node mounts, on demand, at the same paths: the store roots of every
 * other mailbox node that exports them to it (`store-export`). The admin API creates a new user's
 * or domain's store under `/var/lib/gromox/{user,domain}/<home server>/` on its own file system
 * (admin-api tools/storage.py), so these must be the home server's directories. On demand
 * (`x-systemd.automount`): a mailbox node that boots later does not hold up the admin node's boot.
 * The source names the server by host name (the admin node's hosts file lists every mailbox node:
 * the admin API dials their exmdb).
 */
export function storeExportMounts(topology: Topology, node: ClusterNode): NfsMount[] {
  return topology
    .nodesRunning("store-export")
    .filter((server) => server.name !== node.name && storeExportClients(topology, server).includes(node))
    .flatMap((server) =>
      storeExportPaths(server).map((path) => ({
        kind: "nfs" as const,
        source: `${server.hostname}:${path}`,
        mountPoint: path,
        options: STORE_MOUNT_OPTIONS,
        clientPackages: ["nfs-common"],
        onDemand: true,
      })),
    );
}

/** The admin nodes a mailbox node's store is exported to: every admin node but itself. */
export function storeExportClients(topology: Topology, node: ClusterNode): ClusterNode[] {
  return topology.clientsOf("storeExport").filter((n) => n.name !== node.name);
}

/** `/etc/exports` of a mailbox node running `store-export`: its store roots, for the admin nodes. */
export function storeExportsFile(topology: Topology, node: ClusterNode): ConfigFile {
  const clients = storeExportClients(topology, node);
  return exportsFile(
    "the store roots, for the admin nodes",
    storeExportPaths(node).map((p) => [p, clients] as const),
  );
}

const mysql = (query: string) => `mysql --defaults-file=${DB_CLIENT_CNF} -e "${query}" >/dev/null 2>&1`;
const waitUntil = (condition: string) => `timeout ${WAIT_SECONDS} sh -c 'until ${condition}; do sleep 10; done'`;

/** The first-boot commands of a node, in order. */
export function firstBootCommands(topology: Topology, node: ClusterNode, sql: ClusterSql = {}): ProvisionCommand[] {
  const cmds: ProvisionCommand[] = [];
  if (node.runs("store-export")) {
    // exportfs skips a missing directory: make the store roots (owner and mode of their parents,
    // which the gromox package made) before nfs-kernel-server is restarted. In a subshell: runcmd
    // is one script. `;`, not `&&`: under `set -e` every command counts (a failed mkdir in the
    // first pass would otherwise be masked by the second).
    const host = node.hostname;
    cmds.push({
      phase: "before-services",
      description: "create the store roots the admin nodes mount (owner and mode of their parents)",
      shell: `(cd ${MAILSTORE_ROOT}; for p in ${STORE_ROOTS.join(" ")}; do d=$p/${host}; mkdir -p $d; chown --reference=$p $d; chmod --reference=$p $d; done)`,
    });
  }
  const runsGromoxDbClient = isDatabaseClient(node) && !node.has("load-balancer");
  const isSchemaNode = node.name === topology.schemaUpgradeNode.name;
  if (isSchemaNode) {
    cmds.push(
      {
        phase: "before-services",
        description: "wait until the database accepts the gromox account",
        shell: waitUntil(mysql("SELECT 1")),
      },
      {
        phase: "before-services",
        description: "create the gromox schema (gromox-dbop -C) unless it exists; only this node does",
        shell: `${mysql("SELECT 1 FROM servers LIMIT 1")} || gromox-dbop -C`,
      },
    );
    if (sql.seed !== undefined) {
      cmds.push({
        phase: "before-services",
        description: "seed the servers table (one row per mailbox node)",
        shell: `mysql --defaults-file=${DB_CLIENT_CNF} < ${SQL_FILES.seed}`,
      });
    }
  } else if (runsGromoxDbClient) {
    cmds.push({
      phase: "before-services",
      description: `wait until ${topology.schemaUpgradeNode.name} has created the schema`,
      shell: waitUntil(mysql("SELECT 1 FROM servers LIMIT 1")),
    });
  }
  if (topology.database.node?.name === node.name) {
    if (sql.bootstrap !== undefined) {
      cmds.push({
        phase: "after-services",
        description: "create the database and the cluster's accounts (as MariaDB root)",
        shell: `mysql < ${SQL_FILES.bootstrap}`,
      });
    }
    if (sql.mapReaderGrants !== undefined) {
      cmds.push({
        phase: "after-services",
        description: "grant the load balancers' read-only account once the schema and the map view exist",
        shell: `${waitUntil(`mysql -e "SELECT 1 FROM ${topology.database.name}.${MAILBOX_MAP_VIEW} LIMIT 0" >/dev/null 2>&1`)}; mysql < ${SQL_FILES.mapReaderGrants}`,
      });
    }
  }
  return cmds;
}

/**
 * A host name whose first label ends in a number without a leading zero, below a million (`seq
 * -f %g` writes larger ones with an exponent): prefix, number, rest.
 */
const NUMBERED_HOST = /^([^.]*[^.\d])([1-9]\d{0,5}|0)(\..*)?$/;

/**
 * `STORE_SERVERS_PATH`'s text: the hosts in the given order, one line each, except that a run of
 * two or more hosts whose names differ only in the number ending their first label, counting up
 * by one, is one line `<prefix> <first> <last> <rest>` (`mail 2 250 .example.com` for
 * mail2.example.com … mail250.example.com; the rest may be empty). Host names hold no blanks, so
 * a line of one word is one host. `STORE_SERVERS_EACH` reads it back. (At 250 mailbox nodes the
 * plain list cost the Hetzner admin node 936 more bytes of gzipped user-data.)
 */
export function storeServersText(hosts: readonly string[]): string {
  const lines: string[] = [];
  for (let i = 0; i < hosts.length;) {
    const m = NUMBERED_HOST.exec(hosts[i]!);
    let j = i + 1;
    if (m) {
      const [, prefix, first, rest = ""] = m;
      while (j < hosts.length && hosts[j] === `${prefix}${Number(first) + (j - i)}${rest}`) j++;
      if (j - i >= 2) {
        lines.push(`${prefix} ${first} ${Number(first) + (j - i - 1)}${rest ? ` ${rest}` : ""}\n`);
        i = j;
        continue;
      }
    }
    lines.push(`${hosts[i]}\n`);
    i = j;
  }
  return lines.join("");
}

/**
 * The head of a POSIX shell loop over the hosts of a `storeServersText` file: `$h` is each host in
 * order; close it with `done; done < FILE`. A one-word line gives itself, a run `seq -f` expands.
 * (Host names hold no `%`, the only character `seq -f` would read in them.)
 */
export const STORE_SERVERS_EACH =
  'while read -r a b c s; do for h in $(if [ "$b" ]; then seq -f "$a%g$s" $b $c; else echo $a; fi); do';

/**
 * The units that keep data in a directory a data mount may hold: `unit` names the drop-in
 * directory (`gromox-` is a prefix drop-in, `gromox-.service.d`, which systemd reads for every
 * `gromox-*.service`: gromox-http, -midb, -zcore, -event, -timer, -delivery, …), `runs` says
 * whether one of the node's services is such a unit. Not listed: nfs-kernel-server
 * (nfs-server.service), to which nfs-utils' own nfs-server-generator gives `RequiresMountsFor=`
 * for every directory in /etc/exports (the NFS node's export, a mailbox node's store roots).
 */
const DATA_DIRS: readonly {
  readonly unit: string;
  readonly runs: (service: string) => boolean;
  readonly dir: string;
}[] = [
  { unit: "gromox-", runs: (s) => s.startsWith("gromox-"), dir: MAILSTORE_ROOT },
  { unit: "grommunio-admin-api", runs: (s) => s === "grommunio-admin-api", dir: MAILSTORE_ROOT },
  { unit: "mariadb", runs: (s) => s === "mariadb", dir: MARIADB_DATADIR },
];

/**
 * The drop-ins that keep a node's services from starting without their data mounts (on boots
 * after the first, where the fstab lines are `nofail` and systemd orders nothing after them):
 * `<SYSTEMD_UNIT_DIR>/<unit>.service.d/<MOUNT_DROP_IN>` with `RequiresMountsFor=<data dir>` for
 * each unit of `DATA_DIRS` the node runs whose data directory is, or lies below, the mount point
 * of a mount made at boot (block volumes, NFS/EFS). Not for on-demand mounts (the admin node's
 * automounts of other mailbox nodes' stores lie below its data directory, never at or above it,
 * so no unit requires them). `RequiresMountsFor=` makes the unit require and order after the mount
 * units of the directory and its parents: a mount that fails makes the unit fail to start instead
 * of writing to the root disk under the mount point. `AssertPathIsMountPoint=<mount point>` covers
 * the case it cannot: with no fstab line for the mount (the first boot's mount step stopped before
 * writing it, e.g. the NFS client could not be installed, the volume never appeared),
 * `RequiresMountsFor=` resolves to the root file system's mount and is met; the assertion then
 * fails the unit's start (and runcmd's restart of it) while nothing is mounted there. The
 * `test:vm` shared-storage scenario found gromox running on mail2's root disk that way.
 */
export function mountDropIns(mounts: readonly DataMount[], services: readonly string[]): ConfigFile[] {
  const needs = new Map<string, { dirs: Set<string>; mountPoints: Set<string> }>();
  for (const m of mounts) {
    if (m.kind === "nfs" && m.onDemand) continue;
    for (const d of DATA_DIRS) {
      if (!services.some(d.runs)) continue;
      if (d.dir !== m.mountPoint && !d.dir.startsWith(`${m.mountPoint}/`)) continue;
      const n = needs.get(d.unit) ?? { dirs: new Set<string>(), mountPoints: new Set<string>() };
      n.dirs.add(d.dir);
      n.mountPoints.add(m.mountPoint);
      needs.set(d.unit, n);
    }
  }
  return [...needs]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([unit, n]) => ({
      path: `${SYSTEMD_UNIT_DIR}/${unit}.service.d/${MOUNT_DROP_IN}`,
      content: [
        "[Unit]",
        ...[...n.dirs].map((d) => `RequiresMountsFor=${d}`),
        ...[...n.mountPoints].map((d) => `AssertPathIsMountPoint=${d}`),
        "",
      ].join("\n"),
      mode: "0644",
      owner: "root:root",
    }));
}

/**
 * The store mounts' step, after the other `before-services` steps (so after the packages and
 * before the services that use the mounts): for each server in `STORE_SERVERS_PATH`, the fstab
 * lines of its two store roots (`storeExportMounts`; once), their mount points, then the automount
 * units systemd's fstab generator makes of them started. Nothing waits for the servers; on later
 * boots systemd starts the units itself.
 */
export const STORE_MOUNTS_COMMAND: ProvisionCommand = {
  phase: "before-services",
  description: "add the other mailbox nodes' store roots to fstab (on demand) and start their automount units",
  shell: [
    `u=; ${STORE_SERVERS_EACH}`,
    `for p in ${STORE_ROOTS.join(" ")}; do d=${MAILSTORE_ROOT}/$p/$h; mkdir -p $d;`,
    `grep -q " $d nfs4 " /etc/fstab || echo "$h:$d $d nfs4 ${STORE_MOUNT_OPTIONS} 0 0" >> /etc/fstab;`,
    'u="$u $(systemd-escape -p --suffix=automount $d)"; done;',
    `done; done < ${STORE_SERVERS_PATH};`,
    "systemctl daemon-reload; systemctl start $u",
  ].join(" "),
};

function withStoreMounts(cmds: ProvisionCommand[], any: boolean): ProvisionCommand[] {
  if (!any) return cmds;
  const at = cmds.filter((c) => c.phase === "before-services").length;
  return [...cmds.slice(0, at), STORE_MOUNTS_COMMAND, ...cmds.slice(at)];
}

/** Builds a node's provisioning. Never throws for bad input: issues come back coded. */
export function provisionNode(input: ProvisionNodeInput): {
  provisioning: NodeProvisioning;
  issues: ValidationIssue[];
} {
  const { topology, node, os } = input;
  const c = new IssueCollector();
  const sql = input.sql ?? {};

  // Files: rendered, cluster extras, provisioning's own.
  const own: ConfigFile[] = [];
  if (isDatabaseClient(node) && !node.has("load-balancer")) own.push(dbClientFile(topology));
  if (node.name === topology.schemaUpgradeNode.name && sql.seed !== undefined) {
    own.push({ path: SQL_FILES.seed, content: sql.seed, mode: "0600", owner: "root:root" });
  }
  if (topology.database.node?.name === node.name) {
    if (sql.bootstrap !== undefined) {
      own.push({ path: SQL_FILES.bootstrap, content: sql.bootstrap, mode: "0600", owner: "root:root" });
    }
    if (sql.mapReaderGrants !== undefined) {
      own.push({ path: SQL_FILES.mapReaderGrants, content: sql.mapReaderGrants, mode: "0600", owner: "root:root" });
    }
  }
  // On-demand mounts (the store exports'): their servers' names as a file (runs of numbered names
  // as one line), the fstab lines made by one first-boot step.
  const onDemand = input.mounts.filter((m): m is NfsMount => m.kind === "nfs" && m.onDemand === true);
  const storeServers = [...new Set(onDemand.map((m) => m.source.slice(0, m.source.indexOf(":"))))];
  for (const m of onDemand) {
    const host = m.source.slice(0, m.source.indexOf(":"));
    const ok = storeRootsOf(host).some((p) => m.source === `${host}:${p}` && m.mountPoint === p);
    if (!ok || m.options !== STORE_MOUNT_OPTIONS) {
      throw new Error(`on-demand mounts are the store exports' (storeExportMounts) only: ${JSON.stringify(m)}`);
    }
  }
  if (storeServers.length) {
    own.push({
      path: STORE_SERVERS_PATH,
      content: storeServersText(storeServers),
      mode: "0644",
      owner: "root:root",
    });
  }
  const late = [...input.files, ...(input.extraFiles ?? []), ...own];
  const hasNftables = late.some((f) => f.path === NFTABLES_PATH);
  // Optional daemons come with their configuration: the DKIM signer with opendkim.conf.
  const optional = late.some((f) => f.path === OPENDKIM_CONF) ? [optionalDaemon("opendkim")] : [];
  const packages = nodePackages(topology, node, os, [
    ...(hasNftables ? ["nftables"] : []),
    ...optional.flatMap((d) => d.packages),
  ]);
  const osRepos = input.osRepository ? osRepositories(os, input.osRepository) : [];
  const grommunioRepos = packages.some(isGrommunioPackage) ? [grommunioRepository(os, input.repository)] : [];
  const repositories = [...osRepos, ...grommunioRepos];
  // A node that installs its NFS client at boot does so before cloud-init writes files: the OS
  // mirror's sources must be in place by then (the image's may be unreachable where a mirror is
  // configured). grommunio's come later (its key may be fetched by a later boot step).
  const osStage: FileStage = osRepos.length > 0 && bootPackages(input.mounts).length > 0 ? "boot" : "early";
  const early: ProvisionedFile[] = [
    ...(input.osRepository ? [{ ...emptySourcesList(), stage: osStage }] : []),
    ...sourceFiles(osRepos, osStage),
    ...sourceFiles(grommunioRepos, "early"),
  ];
  const services = nodeServices(topology, node, os, [
    ...(hasNftables ? ["nftables"] : []),
    ...optional.flatMap((d) => d.units),
  ]);
  const files: ProvisionedFile[] = [
    ...early,
    ...[...late, ...mountDropIns(input.mounts, services)].map((f) => ({ ...f, stage: "late" as const })),
  ];

  const seen = new Set<string>();
  for (const f of files) {
    const where = `${node.path}/files`;
    if (!isCleanAbsolutePath(f.path)) {
      c.add(
        "GRX303",
        where,
        "path",
        `"${f.path}" is not a clean absolute path.`,
        "Give files absolute paths without . or .. segments.",
      );
    } else if (seen.has(f.path)) {
      c.add(
        "GRX304",
        where,
        "path",
        `${f.path} is produced twice for node ${node.name} (two renderers, or a renderer and provisioning).`,
        "Produce each file in one place; drop the duplicate from renderNodeFiles or from the cluster's extra files.",
      );
    }
    seen.add(f.path);
    if (!MODE.test(f.mode)) {
      c.add(
        "GRX305",
        where,
        `${f.path} mode`,
        `"${f.mode}" is not a quoted octal mode.`,
        'Use four octal digits as a string, e.g. "0640".',
      );
    }
    if (!OWNER.test(f.owner)) {
      c.add(
        "GRX306",
        where,
        `${f.path} owner`,
        `"${f.owner}" is not user:group.`,
        'Use "user:group", e.g. "grommunio:gromoxcf".',
      );
    }
  }

  const points = new Set<string>();
  for (const m of input.mounts) {
    const where = `${node.path}/mounts`;
    if (!isCleanAbsolutePath(m.mountPoint) || m.mountPoint === "/") {
      c.add(
        "GRX307",
        where,
        "mountPoint",
        `"${m.mountPoint}" is not a mount point below /.`,
        "Mount data under an absolute path such as /var/lib/gromox.",
      );
    } else if (points.has(m.mountPoint)) {
      c.add(
        "GRX308",
        where,
        "mountPoint",
        `${m.mountPoint} is mounted twice on ${node.name}.`,
        "Give every volume its own mount point.",
      );
    }
    points.add(m.mountPoint);
    if (m.kind === "block" && !LABEL.test(m.label)) {
      c.add(
        "GRX309",
        where,
        "label",
        `"${m.label}" is not a usable ext4 label.`,
        "Use at most 16 letters, digits, _ or -.",
      );
    }
  }

  const nfsPackages = input.mounts.flatMap((m) => (m.kind === "nfs" ? m.clientPackages : []));
  // Where gromox's or grommunio's packages create the accounts, and on the NFS node, whose disk
  // holds the files the clients write with these ids.
  const pinAccounts = packages.some(isGrommunioPackage) || node.runs("nfs-server");
  return {
    provisioning: {
      name: node.name,
      fqdn: node.hostname,
      repositories,
      packages: [...new Set([...packages, ...nfsPackages])].sort(),
      files: [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
      mounts: input.mounts,
      ...(pinAccounts ? { accounts: pinnedAccounts(input.accountIds) } : {}),
      commands: withStoreMounts(firstBootCommands(topology, node, sql), storeServers.length > 0),
      services,
      ...(input.osRepository ? { replacesOsSources: true } : {}),
      ...(input.readinessReport ? { readinessReport: input.readinessReport } : {}),
    },
    issues: [...c.issues],
  };
}
