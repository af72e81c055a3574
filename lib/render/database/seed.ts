/**
 * The `servers` table: one row per mailbox node (id = serverId, hostname = gromox host_id,
 * extname = the Autodiscover name). reference/gromox.md §8, §9, §14.
 */
import { Topology } from "../../topology";
import { SQL_MODE_PREAMBLE, sqlIdent, sqlScript, sqlString } from "./sql";

/**
 * SQL (run after `gromox-dbop -C`) that makes `servers` hold one row per mailbox node, idempotently:
 * - an existing row with the node's id gets the node's hostname and extname (UPDATE by id);
 * - a missing one is inserted (INSERT … SELECT … WHERE NOT EXISTS);
 * - all in one transaction. A hostname that another id already holds (a renumbered or swapped
 *   node) fails with MariaDB's duplicate-key error on `hostname` and changes nothing: renumbering
 *   moves users and maildirs and is an operator decision, not a side effect of a deploy;
 * - a row whose id is no longer a mailbox node is NEVER deleted or changed: `users.homeserver`
 *   and `domains.homeserver` may point at it (there is no foreign key, deliberately). The script
 *   ends by listing such rows with the number of users and domains still on them
 *   (`retired_server_id`), so the operator can move them (failover/rebalance) and delete the row.
 *
 * Written without `ON DUPLICATE KEY UPDATE`, which with two unique keys (id, hostname) would
 * silently update the wrong row.
 */
export function renderServersSeed(topology: Topology): string {
  const servers = sqlIdent("servers");
  const statements: string[] = [SQL_MODE_PREAMBLE, "START TRANSACTION;"];
  for (const node of topology.mailboxNodes) {
    const id = String(node.serverId);
    const hostname = sqlString(node.hostname);
    const extname = sqlString(node.externalName);
    statements.push(
      `UPDATE ${servers} SET \`hostname\` = ${hostname}, \`extname\` = ${extname} WHERE \`id\` = ${id};`,
      `INSERT INTO ${servers} (\`id\`, \`hostname\`, \`extname\`) SELECT ${id}, ${hostname}, ${extname} FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM ${servers} WHERE \`id\` = ${id});`,
    );
  }
  const ids = topology.mailboxNodes.map((n) => String(n.serverId)).join(", ");
  statements.push(
    "COMMIT;",
    "-- rows of former mailbox nodes: kept, listed with what still points at them",
    `SELECT s.\`id\` AS retired_server_id, s.\`hostname\`, (SELECT COUNT(*) FROM \`users\` u WHERE u.\`homeserver\` = s.\`id\`) AS users, (SELECT COUNT(*) FROM \`domains\` d WHERE d.\`homeserver\` = s.\`id\`) AS domains FROM ${servers} s WHERE s.\`id\` NOT IN (${ids}) ORDER BY s.\`id\`;`,
  );
  return sqlScript(
    [
      `${topology.path}: servers seed, rendered by cdktf-grommunio.`,
      "Run after gromox-dbop -C; idempotent. Never deletes a servers row.",
    ],
    statements,
  );
}
