/**
 * The rendered MariaDB side against a real MariaDB 10.11 (Debian 12) this test owns, for a cluster
 * whose nodes live on loopback addresses (127.0.0.0/24; classic1 is 127.0.0.1, the source address
 * the kernel picks for local connections, so postfix's own lookups arrive from classic1):
 * the rendered 60-grommunio.cnf (read after Debian's 50-server.cnf) takes effect; bootstrap,
 * schema, map-reader grants and servers seed run twice with identical results; the accounts
 * admit exactly the cluster nodes that need them (checked by connecting from each address); the
 * postfix maps answer from the real schema; a running postfix with PROXY on port 25 accepts known
 * recipients and rejects unknown ones and relaying, looking them up through proxymap.
 */
import { parse } from "yaml";
import {
  buildTopology,
  ClusterInput,
  DATABASE_PASSWORD_MAX_BYTES,
  OPTION_FILE_LINE_MAX_BYTES,
  optionFileValueBytes,
  Topology,
} from "../../lib/topology";
import { renderAdminApi } from "../../lib/render/admin-api";
import {
  renderDatabaseBootstrap,
  renderMailboxMapView,
  renderMapReaderGrants,
  renderMariadbConfig,
  renderServersSeed,
} from "../../lib/render/database";
import { POSTFIX_MYSQL_MAPS, renderPostfix } from "../../lib/render/postfix";
import { renderMapReaderCnf, renderOpsDbCnf } from "../../lib/render/ops";
import { dbClientFile } from "../../lib/provision";
import { run, scratchDir } from "./support";
import { MariadbServer, SCHEMA_FIXTURE, loadSchemaFixture, startMariadb } from "./mariadb-server";
import { PostfixSandbox, preparePostfixSandbox } from "./postfix-sandbox";
import { proxyV1Header, SmtpClient } from "./smtp-client";
import * as fs from "node:fs";
import * as path from "node:path";
import { readFileSync } from "node:fs";
import { PRINTABLE_ASCII } from "../fixtures";

jest.setTimeout(60_000);

/**
 * Every printable ASCII character (quotes, backslash, `#`, `$`, `%`, `;`, braces, blanks inside,
 * `${`/`%{`), a quote first and last, `#` after a blank, `=`: SQL, the postfix maps (postmap and
 * proxymap read them below), the option files and YAML must all carry it unchanged. gromox and
 * postfix read values literally; only a blank at either end would be lost (GRX028). And as long
 * as GRX028 admits (euro signs fill it up): db.cnf's `password="…"` line is exactly the 4094 bytes
 * MariaDB's option-file reader takes whole, and the server, postfix and the option files take it.
 */
const DB_PASSWORD = fillToLimit(`'db #1 ${PRINTABLE_ASCII} $HOME %s \${a} %{b} ;x a=b `, `"`);

/** `head`, euro signs (then "x"s) and `tail`: `DATABASE_PASSWORD_MAX_BYTES` once db.cnf escapes it. */
function fillToLimit(head: string, tail: string): string {
  const room = DATABASE_PASSWORD_MAX_BYTES - optionFileValueBytes(head + tail);
  const filled = head + "\u20ac".repeat(Math.floor(room / 3)) + "x".repeat(room % 3) + tail;
  if (optionFileValueBytes(filled) !== DATABASE_PASSWORD_MAX_BYTES) throw new Error("fillToLimit");
  return filled;
}
/** The reader's password reaches only SQL and option files (quoted): blanks at both ends too. */
const READER_PASSWORD = ` map ${PRINTABLE_ASCII} `;

function loopbackCluster(nodes: ClusterInput["nodes"] = LOOPBACK_NODES): ClusterInput {
  return {
    domain: "gro.at",
    gromoxVersion: "3.10",
    storage: "shared",
    network: { cidr: "127.0.0.0/24", reservedLow: 1 },
    database: { node: "db1", password: DB_PASSWORD, mapReaderPassword: READER_PASSWORD },
    loadBalancer: { flavor: "haproxy", publicName: "mail.gro.at" },
    nodes,
  };
}

const LOOPBACK_NODES: ClusterInput["nodes"] = [
  { name: "classic1", hostname: "classic1.gro.at", roles: ["classic"], ipv4: "127.0.0.1" },
  { name: "lb1", hostname: "lb1.gro.at", roles: ["load-balancer"], ipv4: "127.0.0.10" },
  { name: "mail1", hostname: "mail1.gro.at", roles: ["mailbox", "admin"], ipv4: "127.0.0.20", serverId: 1 },
  { name: "mail2", hostname: "mail2.gro.at", roles: ["mailbox"], ipv4: "127.0.0.30", serverId: 2 },
  { name: "db1", hostname: "db1.gro.at", roles: ["database"], ipv4: "127.0.0.60" },
];

const topology = buildTopology(loopbackCluster());
let db: MariadbServer;

function root(sql: string, database?: string): string {
  const r = db.sqlAsRoot(sql, database);
  if (r.status !== 0) throw new Error(`SQL failed: ${r.stderr}`);
  return r.stdout;
}

/**
 * The full provisioning sequence: bootstrap, schema (as gromox-dbop -C from mail1), seed with the
 * map view (the schema node's seed creates it), grants (they name the view).
 */
async function provision(t: Topology): Promise<string> {
  root(renderDatabaseBootstrap(t));
  const schema = await db.sqlFrom(
    "127.0.0.20",
    "grommunio",
    DB_PASSWORD,
    readFileSync(SCHEMA_FIXTURE, "utf8"),
    "grommunio",
  );
  if (schema.status !== 0) throw new Error(`schema as grommunio@mail1: ${schema.stderr}`);
  const seeded = root(renderServersSeed(t), "grommunio");
  root(renderMailboxMapView(t), "grommunio");
  root(renderMapReaderGrants(t));
  return seeded;
}

/** Accounts, their grants and the servers rows: what a second run must leave unchanged. */
function snapshot(): string {
  const accounts = root(
    "SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user WHERE User LIKE 'grommunio%' ORDER BY User, Host;",
  )
    .trim()
    .split("\n")
    .slice(1);
  // SHOW GRANTS lists column grants in hash order, which changes when the tables are re-read.
  const normalized = (grants: string) =>
    grants
      .trim()
      .split("\n")
      .map((l) => l.replace(/\(([^)]*)\)/, (_, cols: string) => `(${cols.split(", ").sort().join(", ")})`))
      .sort()
      .join("\n");
  const grants = accounts.map((a) => normalized(root(`SHOW GRANTS FOR ${a};`)));
  return [...accounts, ...grants, root("SELECT id, hostname, extname FROM servers ORDER BY id;", "grommunio")].join(
    "\n",
  );
}

beforeAll(async () => {
  const cnf = renderMariadbConfig(topology, topology.node("db1"));
  expect(cnf).toHaveLength(1);
  // The rendered bind-address and port (3306 from the port table) are used as they are.
  db = await startMariadb({ extraConfig: [cnf[0]!.content], debianServerConfig: true, port: "config" });
});

afterAll(() => {
  db?.stop();
});

describe("60-grommunio.cnf", () => {
  it("takes effect after Debian's 50-server.cnf (bind-address, port, charset, name resolution, InnoDB)", () => {
    expect(db.bindAddress).toBe("127.0.0.60");
    expect(db.port).toBe(3306);
    const vars = root(
      "SELECT @@bind_address, @@port, @@skip_name_resolve, @@character_set_server, @@collation_server, @@max_connections, @@innodb_buffer_pool_size, @@innodb_flush_log_at_trx_commit;",
    );
    expect(vars.trim().split("\n")[1]!.split("\t")).toEqual([
      "127.0.0.60",
      "3306",
      "1",
      "utf8mb4",
      "utf8mb4_general_ci",
      String(4 * 50 + 50), // classic1, mail1, mail2 and (as map reader) lb1
      String(1024 * 1024 * 1024),
      "1",
    ]);
  });
});

describe("bootstrap, schema, seed and grants", () => {
  let first: string;
  beforeAll(async () => {
    await provision(topology);
    first = snapshot();
  });

  it("creates one gromox account per client node and the reader per load balancer, never a wildcard", () => {
    expect(first.split("\n").slice(0, 4)).toEqual([
      "'grommunio'@'127.0.0.1'",
      "'grommunio'@'127.0.0.20'",
      "'grommunio'@'127.0.0.30'",
      "'grommunio_map'@'127.0.0.10'",
    ]);
    expect(root("SELECT COUNT(*) FROM mysql.user WHERE Host LIKE '%\\%%';").trim().split("\n")[1]).toBe("0");
    expect(
      root("SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'grommunio';"),
    ).toBe("DEFAULT_CHARACTER_SET_NAME\nutf8mb4\n");
  });

  it("seeds servers with one row per mailbox node", () => {
    expect(root("SELECT id, hostname, extname FROM servers ORDER BY id;", "grommunio")).toBe(
      "id\thostname\textname\n1\tmail1.gro.at\tmail.gro.at\n2\tmail2.gro.at\tmail.gro.at\n",
    );
  });

  it("is idempotent: a second run succeeds and changes nothing", async () => {
    await provision(topology);
    expect(snapshot()).toBe(first);
  });
});

describe("who may connect", () => {
  /** Exit status and the ERROR line (the client also echoes the failed statement in batch mode). */
  const denied = (r: { status: number; stderr: string }) => ({
    status: r.status,
    stderr: r.stderr
      .split("\n")
      .filter((l) => l.startsWith("ERROR"))
      .join("\n"),
  });

  it("the gromox account works from every node that needs the database, with full rights on it", async () => {
    for (const from of ["127.0.0.1", "127.0.0.20", "127.0.0.30"]) {
      const r = await db.sqlFrom(
        from,
        "grommunio",
        DB_PASSWORD,
        "SELECT CURRENT_USER(), COUNT(*) FROM servers;",
        "grommunio",
      );
      expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({
        status: 0,
        stdout: `grommunio@${from}\t2\n`,
        stderr: "",
      });
    }
  });

  it("an address that is no cluster node is refused before any password is checked", async () => {
    const r = await db.sqlFrom("127.0.0.99", "grommunio", DB_PASSWORD, "SELECT 1;");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("1130 - Host '127.0.0.99' is not allowed to connect to this MariaDB server");
  });

  it("a load balancer cannot use the gromox account, mail1 cannot use the reader, a wrong password fails", async () => {
    expect(denied(await db.sqlFrom("127.0.0.10", "grommunio", DB_PASSWORD, "SELECT 1;"))).toEqual({
      status: 1,
      stderr: "ERROR 1045 (28000): Access denied for user 'grommunio'@'127.0.0.10' (using password: YES)",
    });
    expect(denied(await db.sqlFrom("127.0.0.20", "grommunio_map", READER_PASSWORD, "SELECT 1;"))).toEqual({
      status: 1,
      stderr: "ERROR 1045 (28000): Access denied for user 'grommunio_map'@'127.0.0.20' (using password: YES)",
    });
    expect(denied(await db.sqlFrom("127.0.0.20", "grommunio", "wrong", "SELECT 1;"))).toEqual({
      status: 1,
      stderr: "ERROR 1045 (28000): Access denied for user 'grommunio'@'127.0.0.20' (using password: YES)",
    });
  });

  it("the reader reads the map columns and nothing else (not users.password, not forwards, no writes)", async () => {
    const read = (sql: string) => db.sqlFrom("127.0.0.10", "grommunio_map", READER_PASSWORD, sql, "grommunio");
    const ok = await read(
      "SELECT u.username, u.id, s.hostname FROM users u JOIN servers s ON s.id = u.homeserver UNION ALL SELECT a.aliasname, a.mainname, d.domainname FROM aliases a, domains d LIMIT 1; SELECT COUNT(*) FROM servers;",
    );
    expect({ status: ok.status, stdout: ok.stdout, stderr: ok.stderr }).toEqual({
      status: 0,
      stdout: "2\n",
      stderr: "",
    });
    expect(denied(await read("SELECT password FROM users;"))).toEqual({
      status: 1,
      stderr:
        "ERROR 1143 (42000) at line 1: SELECT command denied to user 'grommunio_map'@'127.0.0.10' for column 'password' in table 'users'",
    });
    expect(denied(await read("SELECT * FROM forwards;")).stderr).toMatch(
      /^ERROR 1142 \(42000\) at line 1: SELECT command denied to user 'grommunio_map'@'127\.0\.0\.10' for table `grommunio`\.`forwards`/,
    );
    expect((await read("UPDATE servers SET extname = 'x';")).stderr).toMatch(/UPDATE command denied/);
  });

  it("admin-api's database.yaml holds working credentials (connecting from the admin node)", async () => {
    const [yamlFile] = renderAdminApi(topology, topology.node("mail1"));
    const { DB } = parse(yamlFile!.content) as {
      DB: { host: string; port: number; user: string; pass: string; database: string };
    };
    expect([DB.host, DB.port]).toEqual([db.bindAddress, db.port]);
    const r = await db.sqlFrom("127.0.0.20", DB.user, DB.pass, "SELECT DATABASE();", DB.database);
    expect(r.stdout).toBe("grommunio\n");
  });
});

describe("the option files (as mariadb, mariadb-admin and mariadb-dump read them)", () => {
  /** The rendered option file in a scratch directory, read by the real client. */
  const optionFile = (content: string) => {
    const file = path.join(scratchDir("option-file"), "client.cnf");
    fs.writeFileSync(file, content, { mode: 0o600 });
    return file;
  };

  it("db.cnf (ops, first boot) logs classic1 in as the gromox account", () => {
    // classic1 is 127.0.0.1, the source address of a local connection.
    const cnf = optionFile(dbClientFile(topology).content);
    expect(renderOpsDbCnf(topology, topology.node("classic1"))).toBe(dbClientFile(topology).content);
    const r = run("mariadb", [`--defaults-file=${cnf}`, "--batch", "--skip-column-names"], {
      input: "SELECT CURRENT_USER(), DATABASE();",
    });
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({
      status: 0,
      stdout: "grommunio@127.0.0.1\tgrommunio\n",
      stderr: "",
    });
  });

  it("db.cnf's password line is at MariaDB's limit; one byte more and the client cannot read it", () => {
    const content = dbClientFile(topology).content;
    const line = content.split("\n").find((l) => l.startsWith("password="))!;
    expect(Buffer.byteLength(line)).toBe(OPTION_FILE_LINE_MAX_BYTES);
    const read = (text: string) => run("my_print_defaults", [`--defaults-file=${optionFile(text)}`, "client"]);
    expect(read(content).stdout.split("\n")).toContain(`--password=${DB_PASSWORD}`);
    // the same file with one more byte in the password (written by hand: clientOptionFile refuses it)
    const longer = content.replace(line, `${line.slice(0, -1)}x"`);
    const r = read(longer);
    expect(r.stdout.split("\n")).not.toContain(`--password=${DB_PASSWORD}x`);
    expect(r.stdout.split("\n").filter((l) => l.startsWith("--password="))).toHaveLength(1);
    const client = run("mariadb", [`--defaults-file=${optionFile(longer)}`, "--batch"], { input: "SELECT 1;" });
    expect(client.status).not.toBe(0);
  });

  it("map-reader.cnf gives the client the reader's password as written (blanks at both ends kept)", () => {
    const cnf = optionFile(renderMapReaderCnf(topology));
    const r = run("my_print_defaults", [`--defaults-file=${cnf}`, "client"]);
    expect(r.status).toBe(0);
    expect(r.stdout.split("\n")).toContain(`--password=${READER_PASSWORD}`);
  });
});

describe("when the cluster shrinks or the seed would renumber", () => {
  const smaller = buildTopology(loopbackCluster(LOOPBACK_NODES.filter((n) => n.name !== "mail2")));

  it("accounts of removed nodes, a wildcard and localhost are dropped; the removed node is refused at the handshake", async () => {
    root(
      "CREATE USER 'grommunio'@'%' IDENTIFIED BY 'x'; CREATE USER 'grommunio'@'localhost' IDENTIFIED BY 'x'; CREATE USER 'grommunio_map'@'127.0.0.77' IDENTIFIED BY 'x';",
    );
    root(renderDatabaseBootstrap(smaller));
    expect(root("SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User LIKE 'grommunio%' ORDER BY 1;")).toBe(
      "CONCAT(User, '@', Host)\ngrommunio@127.0.0.1\ngrommunio@127.0.0.20\ngrommunio_map@127.0.0.10\n",
    );
    const r = await db.sqlFrom("127.0.0.30", "grommunio", DB_PASSWORD, "SELECT 1;");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("1130 - Host '127.0.0.30' is not allowed to connect to this MariaDB server");
  });

  it("never deletes the servers row of a removed node; lists it with what still points at it", () => {
    root(
      "INSERT INTO domains (id, domainname, max_user, end_day) VALUES (1, 'gro.at', 100, '2099-12-31'); " +
        "INSERT INTO users (id, username, domain_id, group_id, privilege_bits, homeserver) VALUES (7, 'old@gro.at', 1, 0, 0, 2);",
      "grommunio",
    );
    const out = root(renderServersSeed(smaller), "grommunio");
    expect(out).toBe("retired_server_id\thostname\tusers\tdomains\n2\tmail2.gro.at\t1\t0\n");
    expect(root("SELECT id, hostname FROM servers ORDER BY id;", "grommunio")).toBe(
      "id\thostname\n1\tmail1.gro.at\n2\tmail2.gro.at\n",
    );
  });

  it("a hostname held by another id fails loudly and changes nothing (one transaction)", () => {
    const renumbered = buildTopology(
      loopbackCluster([
        ...LOOPBACK_NODES.filter((n) => n.name !== "mail2").map((n) =>
          n.name === "mail1" ? { ...n, externalName: "mx1.gro.at" } : n,
        ),
        { name: "mail9", hostname: "mail2.gro.at", roles: ["mailbox"], ipv4: "127.0.0.90", serverId: 9 },
      ]),
    );
    const before = root("SELECT id, hostname, extname FROM servers ORDER BY id;", "grommunio");
    const r = db.sqlAsRoot(renderServersSeed(renumbered), "grommunio");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /ERROR 1644 \(45000\) at line \d+: servers seed: host name held by another servers\.id, nothing changed: mail2\.gro\.at \(id 2, node 9\)\n/,
    );
    expect(root("SELECT id, hostname, extname FROM servers ORDER BY id;", "grommunio")).toBe(before);
  });
});

describe("servers seed on a fresh schema of its own", () => {
  const DB = "grx_seed";
  /** A cluster of `n` mailbox nodes (the seed only reads them); `rename` changes host names by server id. */
  const cluster = (n: number, rename: Record<number, string> = {}, extnames: Record<number, string> = {}) =>
    buildTopology({
      ...loopbackCluster([
        { name: "classic1", hostname: "classic1.gro.at", roles: ["classic"], ipv4: "10.40.2.1" },
        { name: "lb1", hostname: "lb1.gro.at", roles: ["load-balancer"], ipv4: "10.40.2.10" },
        { name: "db1", hostname: "db1.gro.at", roles: ["database"], ipv4: "10.40.2.60" },
        ...Array.from({ length: n }, (_, k) => {
          const id = k + 1;
          return {
            name: `mail${id}`,
            hostname: rename[id] ?? `mail${id}.gro.at`,
            roles: id === 1 ? ["mailbox" as const, "admin" as const] : ["mailbox" as const],
            ipv4: `10.40.1.${id}`,
            serverId: id,
            ...(extnames[id] ? { externalName: extnames[id] } : {}),
          };
        }),
      ]),
      network: { cidr: "10.40.0.0/16", reservedLow: 1 },
    });
  const rows = () => root("SELECT id, hostname, extname FROM servers ORDER BY id;", DB);
  const seed = (t: Topology) => db.sqlAsRoot(renderServersSeed(t), DB);
  /** The ERROR line of a failed run (the client also echoes the failed statement in batch mode). */
  const error = (r: { stderr: string }) => r.stderr.split("\n").find((l) => l.startsWith("ERROR"));

  beforeAll(() => {
    loadSchemaFixture(db, DB);
  });
  afterAll(() => {
    root(`DROP DATABASE IF EXISTS ${DB};`);
  });

  it("250 mailbox nodes: 250 rows; a second run succeeds and changes nothing", () => {
    const t = cluster(250);
    const first = seed(t);
    expect({ status: first.status, stdout: first.stdout, stderr: first.stderr }).toEqual({
      status: 0,
      stdout: "",
      stderr: "",
    });
    const expected = [
      "id\thostname\textname",
      ...Array.from({ length: 250 }, (_, k) => `${k + 1}\tmail${k + 1}.gro.at\tmail.gro.at`),
      "",
    ].join("\n");
    expect(rows()).toBe(expected);
    expect(seed(t).status).toBe(0);
    expect(rows()).toBe(expected);
  });

  it("a renamed node and a changed external name update the row with that id, nothing else", () => {
    const before = rows().split("\n");
    expect(seed(cluster(250, { 7: "mail7-new.gro.at" }, { 9: "mx9.gro.at" })).status).toBe(0);
    const after = rows().split("\n");
    expect(after[7]).toBe("7\tmail7-new.gro.at\tmail.gro.at");
    expect(after[9]).toBe("9\tmail9.gro.at\tmx9.gro.at");
    expect(after.filter((l, i) => l !== before[i])).toEqual([after[7], after[9]]);
    expect(seed(cluster(250)).status).toBe(0);
    expect(rows()).toBe(before.join("\n"));
  });

  it("two nodes that swap names stop the seed before anything is written", () => {
    const before = rows();
    const r = seed(cluster(250, { 3: "mail4.gro.at", 4: "mail3.gro.at" }, { 5: "mx5.gro.at" }));
    expect(r.status).toBe(1);
    expect(error(r)).toBe(
      "ERROR 1644 (45000) at line 7: servers seed: host name held by another servers.id, nothing changed: " +
        "mail4.gro.at (id 4, node 3), mail3.gro.at (id 3, node 4)",
    );
    expect(rows()).toBe(before);
  });

  it("a name taken over from another id stops the seed whatever the order (no partial renaming)", () => {
    const before = rows();
    // id 2 renamed first, then id 1 takes id 2's old name: would succeed row by row, in id order.
    for (const rename of [
      { 1: "mail2.gro.at", 2: "mail2-new.gro.at" },
      { 1: "mail1-new.gro.at", 2: "mail1.gro.at" },
    ]) {
      const r = seed(cluster(250, rename));
      expect(r.status).toBe(1);
      expect(error(r)).toMatch(/^ERROR 1644 \(45000\) at line 7: servers seed: host name held by another servers\.id/);
      expect(rows()).toBe(before);
    }
  });

  it("a hand-made row holding a new node's name (any letter case) stops it; the message fits SIGNAL's 128 characters", () => {
    root("INSERT INTO servers (id, hostname, extname) VALUES (255, 'MAIL251.gro.at', 'x');", DB);
    const before = rows();
    const r = seed(cluster(251));
    expect(error(r)).toBe(
      "ERROR 1644 (45000) at line 7: servers seed: host name held by another servers.id, nothing changed: mail251.gro.at (id 255, node 251)",
    );
    expect(rows()).toBe(before);
    // 250 names held by other ids: the message is cut at 128 characters instead of failing to signal.
    const shifted = Object.fromEntries(
      Array.from({ length: 250 }, (_, k) => [k + 1, `mail${((k + 1) % 250) + 1}.gro.at`]),
    );
    const all = seed(cluster(250, shifted));
    expect(error(all)).toMatch(
      /^ERROR 1644 \(45000\) at line 7: servers seed: host name held by another servers\.id, nothing changed: mail2\.gro\.at \(id 2, node 1\), /,
    );
    expect(error(all)!.replace(/^ERROR 1644 \(45000\) at line 7: /, "")).toHaveLength(128);
    expect(rows()).toBe(before);
    root("DELETE FROM servers WHERE id = 255;", DB);
  });

  it("a node removed from the cluster keeps its row and is listed", () => {
    const r = seed(cluster(249));
    expect({ status: r.status, stdout: r.stdout }).toEqual({
      status: 0,
      stdout: "retired_server_id\thostname\tusers\tdomains\n250\tmail250.gro.at\t0\t0\n",
    });
    expect(rows().split("\n")).toHaveLength(252);
  });
});

describe("postfix against the database", () => {
  let sb: PostfixSandbox;
  beforeAll(() => {
    // Back to the full cluster; then mail for gro.at: alice (alias al@, bcc to an archive), bob (redirect).
    root(renderDatabaseBootstrap(topology));
    root(renderServersSeed(topology), "grommunio");
    root(renderMailboxMapView(topology), "grommunio");
    root(renderMapReaderGrants(topology));
    root(
      "INSERT INTO domains (id, domainname, max_user, end_day, domain_status) VALUES (2, 'disabled.example', 1, '2099-12-31', 1); " +
        "INSERT INTO users (id, username, domain_id, group_id, privilege_bits, homeserver) VALUES (8, 'alice@gro.at', 1, 0, 0, 1), (9, 'bob@gro.at', 1, 0, 0, 2); " +
        "INSERT INTO aliases (aliasname, mainname) VALUES ('al@gro.at', 'alice@gro.at'); " +
        "INSERT INTO forwards (username, forward_type, destination) VALUES ('alice@gro.at', 0, 'archive@example.org'), ('bob@gro.at', 1, 'carol@example.org');",
      "grommunio",
    );
    sb = preparePostfixSandbox(renderPostfix(topology, topology.node("classic1")), {
      address: "127.0.25.9",
      certificateName: "classic1.gro.at",
      prefix: "postfix-db",
    });
  });
  afterAll(() => {
    sb?.dispose();
  });

  /** `postmap -q key mysql:<map>` in the sandbox, i.e. from classic1 (127.0.0.1). */
  const lookup = (parameter: string, key: string) => {
    const map = POSTFIX_MYSQL_MAPS.find((m) => m.parameter === parameter)!;
    const r = sb.exec(`postmap -q '${key}' mysql:${map.path}`);
    return { status: r.status, value: r.stdout.trim(), stderr: r.stderr };
  };

  it("the maps answer from the real schema (case-insensitive keys, disabled domains excluded)", () => {
    expect(lookup("virtual_mailbox_domains", "gro.at")).toEqual({ status: 0, value: "1", stderr: "" });
    expect(lookup("virtual_mailbox_domains", "disabled.example")).toEqual({ status: 1, value: "", stderr: "" });
    expect(lookup("virtual_mailbox_maps", "Alice@GRO.at")).toEqual({ status: 0, value: "1", stderr: "" });
    expect(lookup("virtual_mailbox_maps", "nobody@gro.at")).toEqual({ status: 1, value: "", stderr: "" });
    expect(lookup("virtual_alias_maps", "al@gro.at")).toEqual({ status: 0, value: "alice@gro.at", stderr: "" });
    expect(lookup("virtual_alias_maps", "bob@gro.at")).toEqual({ status: 0, value: "carol@example.org", stderr: "" });
    expect(lookup("virtual_alias_maps", "alice@gro.at")).toEqual({ status: 1, value: "", stderr: "" });
    expect(lookup("recipient_bcc_maps", "alice@gro.at")).toEqual({
      status: 0,
      value: "archive@example.org",
      stderr: "",
    });
  });

  it("a running postfix (PROXY on 25) accepts known recipients, rejects unknown ones and relaying", async () => {
    sb.start();
    const mx = await SmtpClient.connect("127.0.25.9", 25, {
      preamble: proxyV1Header("203.0.113.9", "127.0.25.9", 45000, 25),
      timeoutMs: 15_000, // postscreen's greet wait (6 s) for a new client
    });
    try {
      const greeting = await mx.reply();
      expect(greeting.code).toBe(220);
      expect((await mx.command("EHLO client.example.org")).code).toBe(250);
      expect((await mx.command("MAIL FROM:<sender@example.org>")).code).toBe(250);
      expect(await mx.command("RCPT TO:<alice@gro.at>")).toEqual({ code: 250, lines: ["2.1.5 Ok"] });
      expect(await mx.command("RCPT TO:<al@gro.at>")).toEqual({ code: 250, lines: ["2.1.5 Ok"] });
      expect(await mx.command("RCPT TO:<nobody@gro.at>")).toEqual({
        code: 550,
        lines: ["5.1.1 <nobody@gro.at>: Recipient address rejected: User unknown in virtual mailbox table"],
      });
      expect(await mx.command("RCPT TO:<someone@example.org>")).toEqual({
        code: 554,
        lines: ["5.7.1 <someone@example.org>: Relay access denied"],
      });
    } finally {
      await mx.close();
    }
    expect(sb.log()).toMatch(/postscreen\[\d+\]: PASS NEW \[203\.0\.113\.9\]:45000/);
    expect(sb.log()).toMatch(/postfix\/smtpd\[\d+\]: connect from unknown\[203\.0\.113\.9\]/);
  });
});
