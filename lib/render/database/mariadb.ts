/**
 * MariaDB server settings for the database node (Debian 12, MariaDB 10.11):
 * `/etc/mysql/mariadb.conf.d/60-grommunio.cnf`, read after Debian's `50-server.cnf` (whose
 * `bind-address = 127.0.0.1` it overrides: later files win).
 */
import { ClusterNode, PORTS, Topology } from "../../topology";
import { DEFAULT_INNODB_BUFFER_POOL_SIZE } from "../../topology/database-accounts";
import { ConfigFile } from "../types";
import { DATABASE_CHARSET, DATABASE_COLLATION, gromoxDatabaseClients, mapReaderClients } from "./bootstrap";

/** Path of the rendered server settings. */
export const MARIADB_CONFIG_PATH = "/etc/mysql/mariadb.conf.d/60-grommunio.cnf";

/** Connections budgeted per database client node (gromox: 8 per daemon and pool, postfix proxymap, admin-api). */
export const CONNECTIONS_PER_CLIENT_NODE = 50;
/** Extra connections for operators, backups and gromox-dbop. */
export const SPARE_CONNECTIONS = 50;
/** MariaDB's own default; never go below it. */
const MIN_MAX_CONNECTIONS = 151;

/** One `[group]` of an option file, options in the order given. */
interface OptionGroup {
  readonly group: string;
  readonly options: ReadonlyArray<readonly [string, string | number]>;
}

/** Serializes option groups (`name = value` lines); refuses names/values that would break a line. */
export function serializeOptionFile(header: readonly string[], groups: readonly OptionGroup[]): string {
  const lines = header.map((l) => (l === "" ? "#" : `# ${l}`));
  for (const g of groups) {
    if (!/^[a-z0-9-]+$/.test(g.group)) throw new Error(`bad option group ${JSON.stringify(g.group)}`);
    lines.push("", `[${g.group}]`);
    for (const [name, value] of g.options) {
      const text = String(value);
      if (!/^[a-z0-9_-]+$/.test(name) || /[\r\n\0#]/.test(text) || text.trim() !== text || text === "") {
        throw new Error(`bad option ${JSON.stringify(name)} = ${JSON.stringify(text)}`);
      }
      lines.push(`${name} = ${text}`);
    }
  }
  return lines.join("\n") + "\n";
}

/**
 * `max_connections` for the cluster: `CONNECTIONS_PER_CLIENT_NODE` per node that connects
 * (gromox/postfix/admin-api nodes and, with a map reader, the load balancers) plus
 * `SPARE_CONNECTIONS`, never below MariaDB's default of 151.
 */
export function maxConnections(topology: Topology): number {
  const clients = new Set([...gromoxDatabaseClients(topology), ...mapReaderClients(topology)].map((n) => n.name));
  return Math.max(MIN_MAX_CONNECTIONS, clients.size * CONNECTIONS_PER_CLIENT_NODE + SPARE_CONNECTIONS);
}

/**
 * The database node's MariaDB settings (empty for other nodes, and for an external database):
 * - `bind-address` = the node's private address (not 0.0.0.0: the database is never public),
 *   `port` from the port table;
 * - `skip-name-resolve`: accounts are granted to addresses (`renderDatabaseBootstrap`); no DNS
 *   lookup on connect, no host-name matching;
 * - utf8mb4 server charset and collation (gromox's tables are utf8mb4);
 * - InnoDB: buffer pool (`database.innodbBufferPoolSize`, validated as GRX052), 256M redo log,
 *   durable commits (`innodb_flush_log_at_trx_commit = 1`), one file per table, O_DIRECT;
 * - `max_connections` from the number of client nodes (`maxConnections`).
 */
export function renderMariadbConfig(topology: Topology, node: ClusterNode): ConfigFile[] {
  if (!node.runs("mariadb") || topology.database.node?.name !== node.name) return [];
  const pool = topology.database.innodbBufferPoolSize ?? DEFAULT_INNODB_BUFFER_POOL_SIZE;
  const content = serializeOptionFile(
    [
      `${topology.path}: MariaDB settings for ${node.hostname}, rendered by cdktf-grommunio.`,
      "Read after 50-server.cnf; overrides its bind-address.",
    ],
    [
      {
        group: "mariadbd",
        options: [
          ["bind-address", node.ipv4],
          ["port", PORTS.mysql.port],
          ["skip-name-resolve", "ON"],
          ["character-set-server", DATABASE_CHARSET],
          ["collation-server", DATABASE_COLLATION],
          ["max_connections", maxConnections(topology)],
          ["innodb_buffer_pool_size", pool],
          ["innodb_log_file_size", "256M"],
          ["innodb_flush_log_at_trx_commit", 1],
          ["innodb_file_per_table", "ON"],
          ["innodb_flush_method", "O_DIRECT"],
        ],
      },
    ],
  );
  return [{ path: MARIADB_CONFIG_PATH, content, mode: "0644", owner: "root:root" }];
}
