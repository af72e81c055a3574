/**
 * The `servers` table: one row per mailbox node (id = serverId, hostname = gromox host_id,
 * extname = the Autodiscover name). reference/gromox.md §8, §9, §14.
 */
import { Topology } from "../../topology";
import { SQL_MODE_PREAMBLE, sqlIdent, sqlScript, sqlString } from "./sql";

/** The user variable that holds the mailbox nodes as a JSON list of `[id, hostname]` or `[id, hostname, extname]`. */
const SERVERS_VAR = "@grx_servers";
/** The user variable that holds the extname of every row that gives none (`commonExtname`). */
const EXTNAME_VAR = "@grx_extname";

/** The rows of `SERVERS_VAR` as `id`, `hostname`, `extname` (MariaDB 10.6+ JSON_TABLE). */
const SERVER_ROWS = `JSON_TABLE(${SERVERS_VAR}, '$[*]' COLUMNS (id INT PATH '$[0]', hostname VARCHAR(255) PATH '$[1]', extname VARCHAR(255) PATH '$[2]')) AS j`;

/** SIGNAL's MESSAGE_TEXT holds at most 128 characters (longer is an error, not a truncation). */
const MESSAGE_TEXT_MAX = 128;

/**
 * SQL (run after `gromox-dbop -C`) that makes `servers` hold one row per mailbox node, idempotently,
 * in one transaction. The nodes are one JSON list (`@grx_servers`), read with JSON_TABLE, so the
 * script grows by one short list entry per mailbox node (it ships in the schema node's user-data).
 * An entry is `[id, hostname]` when the node's extname is the one most nodes share
 * (`@grx_extname`, usually the load balancer's public name), `[id, hostname, extname]` otherwise:
 * - **guard**: when a node's hostname is held by a row with another id (a renumbered node, two
 *   nodes that swapped names, a row the operator created by hand), the script stops with
 *   `ERROR 1644 (45000)` naming those hostnames and ids, before anything is written, and the
 *   transaction is never committed. Renumbering moves users and maildirs and is an operator
 *   decision, not a side effect of a deploy. The guard reads the table with `FOR UPDATE`, so no
 *   row can appear between the check and the upsert;
 * - **upsert**: one `INSERT … SELECT … ON DUPLICATE KEY UPDATE`: a missing id is inserted, an
 *   existing one gets the node's hostname and extname. With two unique keys (id, hostname) the
 *   upsert alone could match a row by its hostname and update the wrong id; after the guard every
 *   duplicate is the row with the node's own id;
 * - a row whose id is no longer a mailbox node is NEVER deleted or changed: `users.homeserver`
 *   and `domains.homeserver` may point at it (there is no foreign key, deliberately). The script
 *   ends by listing such rows with the number of users and domains still on them
 *   (`retired_server_id`), so the operator can move them (failover/rebalance) and delete the row.
 * The stop relies on the `mysql`/`mariadb` client leaving at the first error (never `--force`).
 */
export function renderServersSeed(topology: Topology): string {
  const servers = sqlIdent("servers");
  const extname = commonExtname(topology);
  const list = topology.mailboxNodes.map((n) =>
    n.externalName === extname ? [n.serverId, n.hostname] : [n.serverId, n.hostname, n.externalName],
  );
  const taken =
    `CONCAT('servers seed: host name held by another servers.id, nothing changed: ', ` +
    `GROUP_CONCAT(CONCAT(j.hostname, ' (id ', s.id, ', node ', j.id, ')') ORDER BY j.id SEPARATOR ', '))`;
  const statements: string[] = [
    SQL_MODE_PREAMBLE,
    `SET ${EXTNAME_VAR} = ${sqlString(extname)}, ${SERVERS_VAR} = ${sqlString(JSON.stringify(list))};`,
    "START TRANSACTION;",
    `SELECT LEFT(${taken}, ${MESSAGE_TEXT_MAX}) INTO @grx_taken FROM ${servers} s JOIN ${SERVER_ROWS} ON s.\`hostname\` = j.hostname AND s.\`id\` <> j.id FOR UPDATE;`,
    "EXECUTE IMMEDIATE IF(@grx_taken IS NULL, 'DO 0', 'SIGNAL SQLSTATE ''45000'' SET MESSAGE_TEXT = @grx_taken');",
    `INSERT INTO ${servers} (\`id\`, \`hostname\`, \`extname\`) SELECT j.id, j.hostname, COALESCE(j.extname, ${EXTNAME_VAR}) FROM ${SERVER_ROWS} ON DUPLICATE KEY UPDATE \`hostname\` = VALUES(\`hostname\`), \`extname\` = VALUES(\`extname\`);`,
    "COMMIT;",
    "-- rows of former mailbox nodes: kept, listed with what still points at them",
    `SELECT s.\`id\` AS retired_server_id, s.\`hostname\`, (SELECT COUNT(*) FROM \`users\` u WHERE u.\`homeserver\` = s.\`id\`) AS users, (SELECT COUNT(*) FROM \`domains\` d WHERE d.\`homeserver\` = s.\`id\`) AS domains FROM ${servers} s WHERE s.\`id\` NOT IN (SELECT j.id FROM ${SERVER_ROWS}) ORDER BY s.\`id\`;`,
  ];
  return sqlScript(
    [
      `${topology.path}: servers seed, rendered by cdktf-grommunio.`,
      "Run after gromox-dbop -C; idempotent. Never deletes a servers row; stops on a host name held by another id.",
    ],
    statements,
  );
}

/** The extname most mailbox nodes have; on a tie the first in code-unit order. */
function commonExtname(topology: Topology): string {
  const count = new Map<string, number>();
  for (const n of topology.mailboxNodes) count.set(n.externalName, (count.get(n.externalName) ?? 0) + 1);
  let best = "";
  let most = 0;
  for (const [name, c] of [...count].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (c > most) [best, most] = [name, c];
  }
  return best;
}
