/**
 * grommunio-admin-api configuration on admin nodes (reference/gromox.md §9): conf.d YAML files,
 * read in alphabetical order and deep-merged over the packaged config.yaml.
 */
import { Document, Scalar } from "yaml";
import { ClusterNode, PORTS, Topology } from "../../topology";
import { ConfigFile, sortFiles } from "../types";

export const ADMIN_API_CONF_DIR = "/etc/grommunio-admin-api/conf.d";

/**
 * Owner of database.yaml: the admin API runs as user `grommunio` with supplementary group
 * `grommunio` (grommunio/admin-api data/grommunio-admin-api.service: `User=grommunio`,
 * `Group=nginx`, `SupplementaryGroups=grommunio`), and the `grommunio-admin` CLI as root. root-owned,
 * group-readable by `grommunio`, nothing for others: the API reads the password but cannot rewrite it.
 */
export const ADMIN_API_SECRET_OWNER = "root:grommunio";

/**
 * The admin API reads its YAML with PyYAML, a YAML 1.1 reader: in 1.1, plain `on`, `no`, `yes`,
 * `off` are booleans and `1_000`, `0b1`, `1:20` numbers. So the document is written with yaml's
 * 1.1 schema, which quotes every string such a reader would take for something else (a database
 * named `on` stays the string "on"; yaml's default 1.2 schema writes it plain).
 */
function yamlFile(header: string, data: unknown, secretPaths: ReadonlyArray<readonly string[]> = []): string {
  const doc = new Document(data, { version: "1.1" });
  doc.commentBefore = ` ${header}`;
  // Secrets single-quoted: whatever a literal holds, and a Terraform-substituted value without `'`,
  // stays one string (plain scalars break on `: `, ` #` or a leading `*`, `&`, `!`, `%`, `@`).
  for (const p of secretPaths) {
    const node = doc.getIn(p, true);
    if (node instanceof Scalar) node.type = Scalar.QUOTE_SINGLE;
  }
  return doc.toString({ lineWidth: 0 });
}

/**
 * The admin API files of an admin node (empty for other nodes), sorted by path:
 * - `conf.d/database.yaml`: `DB` = host, port, user, pass, database of the cluster's database
 *   endpoint (root:grommunio 0640, `ADMIN_API_SECRET_OWNER`);
 * - `conf.d/multiserver.yaml`: `options.serverExplicitMount: true`, in BOTH storage modes. New
 *   users then live under `/var/lib/gromox/user/<servers.hostname>/…` (domains likewise), and the
 *   cluster depends on that prefix everywhere: `midb_list.txt` routes IMAP/POP3 to the midb of
 *   the node whose hostname starts the maildir (first matching prefix wins), each node's storage
 *   (its share-nothing volume or its directory on the shared filesystem) is mounted at that
 *   prefix, and failover keeps the old path (gromox.md §13.5, §13.7). The API creates each store
 *   on its own node's file system (tools/storage.py: makedirs, then gromox-mkprivate/-mkpublic
 *   locally): with share-nothing the admin node mounts every other mailbox node's prefixes over
 *   NFS (`store-export`, lib/cluster/storage.ts `storeExportMounts`). Without it, maildirs carry no
 *   node name and match no midb_list.txt line. (The API then refuses homeserver changes; move
 *   users with SQL, as failover does.) On an admin node that runs no exmdb itself,
 *   `options.exmdbHost`/`exmdbPort` point at the hub's exmdb for objects without a home server
 *   (the API otherwise dials the home server's `servers.hostname`).
 */
export function renderAdminApi(topology: Topology, node: ClusterNode): ConfigFile[] {
  if (!node.runs("grommunio-admin-api")) return [];
  const db = topology.database;
  const header = `${topology.path}: ${node.hostname}, rendered by cdktf-grommunio. Do not edit.`;
  const database = yamlFile(
    header,
    { DB: { host: db.host, port: db.port, user: db.user, pass: db.password, database: db.name } },
    [["DB", "pass"]],
  );
  const options: Record<string, unknown> = { serverExplicitMount: true };
  if (!node.runs(PORTS.exmdb.server)) {
    options.exmdbHost = topology.hub.hostname;
    options.exmdbPort = String(PORTS.exmdb.port);
  }
  const multiserver = yamlFile(header, { options });
  return sortFiles([
    { path: `${ADMIN_API_CONF_DIR}/database.yaml`, content: database, mode: "0640", owner: ADMIN_API_SECRET_OWNER },
    { path: `${ADMIN_API_CONF_DIR}/multiserver.yaml`, content: multiserver, mode: "0644", owner: "root:root" },
  ]);
}
