/**
 * Database, accounts and grants for the cluster's MariaDB (reference/gromox.md §3 mysql_adaptor,
 * §8; the installer grants only `'grommunio'@'localhost'`, which no other node can use).
 *
 * Two scripts, because grants on columns need the tables and the tables need the account:
 *  1. `renderDatabaseBootstrap` — before `gromox-dbop -C`: the database, the gromox account per
 *     client node, the map reader account (no privileges yet), and removal of accounts of these
 *     names whose address is no longer a cluster node.
 *  2. `renderMapReaderGrants` — after `gromox-dbop -C` and the servers seed with the map view
 *     (`renderMailboxMapView`): the map reader's column-level SELECT grants and SELECT on the view.
 * Both are idempotent: run them as the MariaDB root user on every boot/apply.
 */
import { PORTS, ClusterNode, Topology } from "../../topology";
import { MAILBOX_MAP_VIEW } from "./map-view";
import { SQL_MODE_PREAMBLE, sqlAccount, sqlIdent, sqlScript, sqlString } from "./sql";

/**
 * What the load balancers' map job may read: exactly these columns (never `users.password`).
 * `users.id` and `domains.id` are needed for Outlook's MAPI/HTTP `MailboxId` (gromox.md §14).
 */
export const MAP_READER_COLUMNS: Readonly<Record<"users" | "aliases" | "servers" | "domains", readonly string[]>> = {
  users: ["id", "username", "homeserver", "address_status"],
  aliases: ["aliasname", "mainname"],
  servers: ["id", "hostname", "extname"],
  domains: ["id", "domainname", "homeserver", "domain_status"],
};

/** Character set and collation of the database (gromox creates every table as utf8mb4). */
export const DATABASE_CHARSET = "utf8mb4";
export const DATABASE_COLLATION = "utf8mb4_general_ci";

/**
 * Nodes that get the gromox account: every node running a database client other than the load
 * balancer (gromox daemons, postfix's mysql maps, admin-api), sorted by address.
 */
export function gromoxDatabaseClients(topology: Topology): ClusterNode[] {
  const clients = PORTS.mysql.clients.filter((d) => d !== "load-balancer");
  return topology.clientsOf("mysql").filter((n) => clients.some((d) => n.runs(d)));
}

/** Nodes that get the read-only map account (load balancers), when the topology declares one. */
export function mapReaderClients(topology: Topology): ClusterNode[] {
  if (!topology.database.mapReader) return [];
  return topology.clientsOf("mysql").filter((n) => n.runs("load-balancer"));
}

/**
 * SQL (run as MariaDB root, before `gromox-dbop -C`) that creates the database (utf8mb4) and the
 * accounts, idempotently:
 * - the gromox account `database.user` from the private address of each node in
 *   `gromoxDatabaseClients` (never `'%'`, never a network), with ALL PRIVILEGES on the database
 *   (gromox-dbop creates and upgrades the schema);
 * - the map reader account `database.mapReader.user` from each load-balancer node, without
 *   privileges (they follow in `renderMapReaderGrants`), when the topology declares one;
 * - `CREATE USER IF NOT EXISTS` + `ALTER USER … IDENTIFIED BY` so a changed password is applied;
 * - accounts of these two names from any other host (a removed node, the installer's
 *   `localhost`, a `'%'`) are dropped, so an address that leaves the cluster loses access, and
 *   the grant tables re-read (`FLUSH PRIVILEGES`), so other hosts are refused at the handshake.
 */
export function renderDatabaseBootstrap(topology: Topology): string {
  const db = topology.database;
  const database = sqlIdent(db.name);
  const statements: string[] = [
    SQL_MODE_PREAMBLE,
    `CREATE DATABASE IF NOT EXISTS ${database} CHARACTER SET ${DATABASE_CHARSET} COLLATE ${DATABASE_COLLATION};`,
    // The account lists below are built with GROUP_CONCAT (default limit 1024 bytes).
    "SET SESSION group_concat_max_len = 16777216;",
  ];
  const owned: Array<{ user: string; hostsVar: string; hosts: string[] }> = [];
  const gromoxHosts = gromoxDatabaseClients(topology).map((n) => n.ipv4);
  statements.push(`-- ${db.user}: gromox, postfix maps and admin-api, one account per node address`);
  statements.push(
    ...accountsFrom(db.user, db.password, "@grx_gromox_hosts", gromoxHosts, `ALL PRIVILEGES ON ${database}.*`),
  );
  owned.push({ user: db.user, hostsVar: "@grx_gromox_hosts", hosts: gromoxHosts });
  if (db.mapReader) {
    const readerHosts = mapReaderClients(topology).map((n) => n.ipv4);
    statements.push(`-- ${db.mapReader.user}: the load balancers' mailbox-map job (grants: renderMapReaderGrants)`);
    statements.push(...accountsFrom(db.mapReader.user, db.mapReader.password, "@grx_reader_hosts", readerHosts));
    owned.push({ user: db.mapReader.user, hostsVar: "@grx_reader_hosts", hosts: readerHosts });
  }
  statements.push(
    `-- accounts of these names from addresses that are not (or no longer) cluster nodes`,
    ...dropStale(owned),
  );
  return sqlScript(
    [
      `${topology.path}: database bootstrap, rendered by cdktf-grommunio.`,
      "Run as the MariaDB root user before gromox-dbop -C; idempotent.",
    ],
    statements,
  );
}

/** The addresses of a JSON list in a user variable, as rows of `h` (MariaDB 10.6+ JSON_TABLE). */
function hostRows(hostsVar: string): string {
  return `JSON_TABLE(${hostsVar}, '$[*]' COLUMNS (h VARCHAR(255) PATH '$')) AS grx_hosts`;
}

/**
 * `user` from each address of `hosts`, identified by `password` (`CREATE USER IF NOT EXISTS` +
 * `ALTER USER`, so a changed password is applied), with `privileges` when given: the addresses
 * once as a JSON list and the password once, each statement built for all addresses with
 * GROUP_CONCAT and run with EXECUTE IMMEDIATE (the per-address statements with the password in
 * each grew the database node's user-data by the number of nodes times the password's length).
 */
function accountsFrom(
  user: string,
  password: string,
  hostsVar: string,
  hosts: readonly string[],
  privileges?: string,
): string[] {
  const out = [`SET ${hostsVar} = ${sqlString(JSON.stringify(hosts))};`];
  if (hosts.length === 0) return out;
  const account = `CONCAT(QUOTE(${sqlString(user)}), '@', QUOTE(h))`;
  out.push(
    `SET @grx_password = QUOTE(${sqlString(password)});`,
    `SELECT GROUP_CONCAT(${account}, ' IDENTIFIED BY ', @grx_password SEPARATOR ', '), GROUP_CONCAT(${account} SEPARATOR ', ') INTO @grx_identified, @grx_accounts FROM ${hostRows(hostsVar)};`,
    "EXECUTE IMMEDIATE CONCAT('CREATE USER IF NOT EXISTS ', @grx_identified);",
    "EXECUTE IMMEDIATE CONCAT('ALTER USER ', @grx_identified);",
  );
  if (privileges !== undefined)
    out.push(`EXECUTE IMMEDIATE CONCAT(${sqlString(`GRANT ${privileges} TO `)}, @grx_accounts);`);
  out.push("SET @grx_password = NULL, @grx_identified = NULL;");
  return out;
}

/** Drops every account named like one of ours whose host is not in our list (prepared statement). */
function dropStale(owned: ReadonlyArray<{ user: string; hostsVar: string; hosts: readonly string[] }>): string[] {
  const keep = owned.map(({ user, hostsVar, hosts }) =>
    hosts.length === 0
      ? `User = ${sqlString(user)}`
      : `(User = ${sqlString(user)} AND Host NOT IN (SELECT h FROM ${hostRows(hostsVar)}))`,
  );
  return [
    `SET @grx_stale = (SELECT GROUP_CONCAT(CONCAT(QUOTE(User), '@', QUOTE(Host)) ORDER BY User, Host SEPARATOR ', ') FROM mysql.user WHERE ${keep.join(" OR ")});`,
    "SET @grx_drop = IF(@grx_stale IS NULL, 'DO 0', CONCAT('DROP USER ', @grx_stale));",
    "PREPARE grx_drop_stale FROM @grx_drop;",
    "EXECUTE grx_drop_stale;",
    "DEALLOCATE PREPARE grx_drop_stale;",
    // Once a '%' account existed, MariaDB admits every host at the handshake (and only refuses
    // the login) until the grant tables are re-read; afterwards others get 1130 before any password.
    "FLUSH PRIVILEGES;",
  ];
}

/**
 * SQL (run as MariaDB root, after `gromox-dbop -C` created the tables and the servers seed the map
 * view) granting the map reader SELECT on exactly `MAP_READER_COLUMNS` and on the view
 * `MAILBOX_MAP_VIEW` (`SQL SECURITY INVOKER`: it reads with those column grants) from each
 * load-balancer node. Empty script (comments only) when the topology declares no map reader.
 * Idempotent.
 */
export function renderMapReaderGrants(topology: Topology): string {
  const db = topology.database;
  const statements: string[] = [SQL_MODE_PREAMBLE];
  if (db.mapReader) {
    for (const node of mapReaderClients(topology)) {
      const account = sqlAccount(db.mapReader.user, node.ipv4);
      for (const [table, columns] of Object.entries(MAP_READER_COLUMNS)) {
        statements.push(
          `GRANT SELECT (${columns.map(sqlIdent).join(", ")}) ON ${sqlIdent(db.name)}.${sqlIdent(table)} TO ${account};`,
        );
      }
      statements.push(`GRANT SELECT ON ${sqlIdent(db.name)}.${sqlIdent(MAILBOX_MAP_VIEW)} TO ${account};`);
    }
  }
  return sqlScript(
    [
      `${topology.path}: map reader grants, rendered by cdktf-grommunio.`,
      "Run as MariaDB root after the schema and the map view exist; idempotent.",
      ...(db.mapReader ? [] : ["No map reader declared (database.mapReaderPassword): nothing to grant."]),
    ],
    statements,
  );
}

/**
 * SQL for a database the cluster does not run (managed or external): the map reader account from
 * each load-balancer node (`CREATE USER IF NOT EXISTS` + `ALTER USER … IDENTIFIED BY`, so a changed
 * password is applied) and its grants (`renderMapReaderGrants`). For the database's operator, as an
 * account that may create users and grant (e.g. the RDS master user), once the schema node's first
 * boot has created the schema and the map view; idempotent. Comments only without a map reader.
 */
export function renderMapReaderAccount(topology: Topology): string {
  const db = topology.database;
  const statements: string[] = [SQL_MODE_PREAMBLE];
  if (db.mapReader) {
    for (const node of mapReaderClients(topology)) {
      const account = sqlAccount(db.mapReader.user, node.ipv4);
      statements.push(
        `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${sqlString(db.mapReader.password)};`,
        `ALTER USER ${account} IDENTIFIED BY ${sqlString(db.mapReader.password)};`,
      );
    }
  }
  const grants = renderMapReaderGrants(topology)
    .split("\n")
    .filter((l) => l.startsWith("GRANT "));
  return sqlScript(
    [
      `${topology.path}: the load balancers' map reader account, rendered by cdktf-grommunio.`,
      "Run as an account that may create users and grant, after the schema node's first boot (schema and map view exist); idempotent.",
      ...(db.mapReader ? [] : ["No map reader declared (database.mapReaderPassword): nothing to create."]),
    ],
    [...statements, ...grants],
  );
}
