/**
 * The VM scenarios: checks on nodes of the KVM example booted from their synthesized seeds. The
 * selected scenarios' nodes boot together once (a node several scenarios need boots once), then
 * each scenario runs its checks. Nodes that are not booted are played by the harness where a booted
 * node waits for them, always through the account, address and generated files the real node would
 * use:
 * - mail1 (schema node and admin node): from a network namespace in db1 that holds mail1's address
 *   (a veth to db1's stack: db1's firewall and grants see mail1), with mail1's generated
 *   db-client.cnf: it creates the gromox schema (test/fixtures/schema.sql, what `gromox-dbop -C`
 *   creates) and runs its generated servers seed; test users (the admin API's part) are test data;
 *   it runs its generated `grommunio-failover` with its generated `/etc/grommunio-ops/db.cnf`.
 * - gromox on the classic node: grommunio's packages are not reachable from the test host, so the
 *   local repository carries stand-ins (repo.ts) that create gromox's users and stub units; gromox
 *   itself is out of scope of these scenarios.
 */
import { createHash, X509Certificate } from "node:crypto";
import * as https from "node:https";
import * as http from "node:http";
import * as tls from "node:tls";
import { DEFAULT_ACCOUNT_IDS } from "../../lib/provision/accounts";
import { MAILBOX_MAP_VIEW } from "../../lib/render/database";
import { MAILBOX_MAP_PATH } from "../../lib/render/haproxy";
import {
  DB_CLIENT_CNF,
  NFS_EXPORTS_PATH,
  NFTABLES_PATH,
  STORE_SERVERS_PATH,
  storeExportPaths,
  storeServersText,
} from "../../lib/provision";
import { FAILOVER_SCRIPT_PATH, MAILBOX_MAP_JOB_PATH, MAILBOX_MAP_UNIT, MAP_READER_CNF } from "../../lib/render/ops";
import { bootstrapAccounts } from "../fixtures";
import { NFS_NODE, type StackVariant } from "./stack";
import { SmtpClient } from "../system/smtp-client";
import { Fatal, Guest, Harness, Readiness, assert, assertEqual, poll, readFixture } from "./harness";
import { sleep } from "./qemu";

/** The pinned accounts as a guest lists them (`name:gid`, `name:uid:gid`) … */
const PINNED_ACCOUNTS_QUERY =
  "getent group gromox gromoxcf grommunio | cut -d: -f1,3; getent passwd gromox grommunio | cut -d: -f1,3,4";
/** … and what that list must be: the default `accountIds`. */
const PINNED_ACCOUNTS_WANT = [
  `gromox:${DEFAULT_ACCOUNT_IDS.gromox}`,
  `gromoxcf:${DEFAULT_ACCOUNT_IDS.gromoxcf}`,
  `grommunio:${DEFAULT_ACCOUNT_IDS.grommunio}`,
  `gromox:${DEFAULT_ACCOUNT_IDS.gromox}:${DEFAULT_ACCOUNT_IDS.gromox}`,
  `grommunio:${DEFAULT_ACCOUNT_IDS.grommunio}:${DEFAULT_ACCOUNT_IDS.grommunio}`,
].join("\n");

/** What the scenarios of one boot share. */
export interface Booted {
  readonly h: Harness;
  readonly guests: Readonly<Record<string, Guest>>;
  readonly ready: ReadonlyMap<string, Readiness>;
  /** What the scenarios' `duringBoot` watchers saw, in seconds after the boot's first qemu start. */
  readonly events: ReadonlyMap<string, number>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** The layout of the KVM example it boots. @default "share-nothing" */
  readonly stack?: StackVariant;
  /** The nodes it needs booted. */
  readonly nodes: readonly string[];
  /** host port forwards it needs, per node (guest ports). */
  readonly forwards?: Readonly<Record<string, readonly number[]>>;
  /**
   * Runs while the guests boot (e.g. timestamps of what the nodes wait for): `event` records one;
   * `over()` turns true once every readiness report is in (the watcher should return then).
   */
  duringBoot?(
    h: Harness,
    guests: Readonly<Record<string, Guest>>,
    event: (what: string) => void,
    over: () => boolean,
  ): Promise<void>;
  run(b: Booted): Promise<void>;
}

/** How long one boot may take until its readiness report (TCG on a busy 2-core host; five guests share its 2 cores in the full suite). */
export const BOOT_TIMEOUT_MS = Number(process.env.VM_BOOT_TIMEOUT_S ?? 2400) * 1000;

const GUEST_DIR = "/root/vmtest";
const MAIL1_NS = "vt-mail1";

/** Test users, as the admin API on mail1 would create them: name → servers.id of the home node. */
const TEST_USERS: Readonly<Record<string, number>> = {
  "alice@example.com": 1,
  "bob@example.com": 2,
  "carol@example.com": 3,
};
const TEST_ALIAS = ["al@example.com", "alice@example.com"] as const;

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** SQL as MariaDB root over the socket (tab-separated, no headers). */
function rootSql(g: Guest, sql: string): Promise<string> {
  return g.run("mysql -NB", { input: sql });
}

/** `user@host` → password of the accounts the generated bootstrap SQL creates. */
function generatedAccounts(bootstrap: string): Map<string, string> {
  return new Map(bootstrapAccounts(bootstrap).map((a) => [`${a.user}@${a.host}`, a.password]));
}

/**
 * The privileges the generated GRANT statements give on single tables/views and columns:
 * `'user'@'host' table PRIVILEGE` and `'user'@'host' table column PRIVILEGE` (information_schema's
 * TABLE_PRIVILEGES and COLUMN_PRIVILEGES rows).
 */
function generatedGrants(sql: string): { tables: string[]; columns: string[] } {
  const tables: string[] = [];
  const columns: string[] = [];
  for (const m of sql.matchAll(/^GRANT ([A-Z ,]+?)(?: \(([^)]*)\))? ON `[^`]+`\.`([^`]+)` TO '([^']+)'@'([^']+)';/gm)) {
    const who = `'${m[4]}'@'${m[5]}'`;
    for (const priv of m[1]!.split(",").map((p) => p.trim())) {
      if (m[2] === undefined) tables.push(`${who} ${m[3]} ${priv}`);
      else for (const col of m[2].split(",")) columns.push(`${who} ${m[3]} ${col.trim().replace(/`/g, "")} ${priv}`);
    }
  }
  return { tables: tables.sort(), columns: columns.sort() };
}

/**
 * Test tooling in the guests is Python 3 (cloud-init's; the image carries no socat or MariaDB
 * client: the library must install what its nodes use). A TCP relay: `relay.py LISTEN_PORT HOST
 * PORT SOURCE`, listening on 127.0.0.1, connecting out from SOURCE.
 */
const RELAY_PY = [
  "import socket, sys, threading",
  "lport, host, port, src = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]",
  "def pipe(a, b):",
  "    try:",
  "        while (d := a.recv(65536)):",
  "            b.sendall(d)",
  "    except OSError:",
  "        pass",
  "    for s in (a, b):",
  "        try:",
  "            s.shutdown(socket.SHUT_RDWR)",
  "        except OSError:",
  "            pass",
  'srv = socket.create_server(("127.0.0.1", lport))',
  "while True:",
  "    c, _ = srv.accept()",
  "    u = socket.create_connection((host, port), source_address=(src, 0))",
  "    threading.Thread(target=pipe, args=(c, u), daemon=True).start()",
  "    threading.Thread(target=pipe, args=(u, c), daemon=True).start()",
].join("\n");

/** One request to a unix stream socket (stdin), the whole answer on stdout: `unix.py PATH`. */
const UNIX_PY = [
  "import socket, sys",
  "s = socket.socket(socket.AF_UNIX)",
  "s.connect(sys.argv[1])",
  "s.sendall(sys.stdin.buffer.read())",
  "s.shutdown(socket.SHUT_WR)",
  "while (d := s.recv(65536)):",
  "    sys.stdout.buffer.write(d)",
].join("\n");

/**
 * A relay in `g` from 127.0.0.1:`port` to `target` whose outgoing connections leave from `source`
 * (added to the cluster NIC as a /32; local, so db1's own firewall passes it and MariaDB's grants
 * decide).
 */
async function relayFrom(g: Guest, source: string, port: number, target: string): Promise<void> {
  await g.run(
    `ip addr show dev cluster0 | grep -q ' ${source}/' || ip addr add ${source}/32 dev cluster0; ` +
      `systemd-run --unit=vmtest-relay-${port} --collect python3 -c '${RELAY_PY}' ${port} ${target.replace(":", " ")} ${source}; ` +
      `for i in $(seq 50); do ss -Hltn "sport = :${port}" | grep -q . && exit 0; sleep 0.2; done; exit 1`,
  );
}

/**
 * A network namespace in `g` holding `address` (another node's), joined to `g` by a veth pair:
 * what runs in it reaches `g`'s own addresses as that node, through `g`'s firewall.
 */
async function nodeNamespace(g: Guest, ns: string, address: string): Promise<void> {
  await g.run(
    [
      `ip netns add ${ns}`,
      `ip link add ${ns} type veth peer name eth0 netns ${ns}`,
      `ip link set ${ns} up`,
      `ip route add ${address}/32 dev ${ns}`,
      `ip -n ${ns} link set lo up`,
      `ip -n ${ns} addr add ${address}/32 dev eth0`,
      `ip -n ${ns} link set eth0 up`,
      `ip -n ${ns} route add default dev eth0`,
    ].join(" && "),
  );
}

/** Boots the union of the scenarios' nodes and prepares what they wait for; returns the readiness of each. */
export async function bootAll(h: Harness, scenarios: readonly Scenario[], mark: (l: string) => void): Promise<Booted> {
  const nodes = [...new Set(scenarios.flatMap((s) => s.nodes))].sort();
  const forwards: Record<string, { host: number; guest: number }[]> = {};
  for (const s of scenarios) {
    for (const [node, ports] of Object.entries(s.forwards ?? {})) {
      for (const guest of ports) {
        const list = (forwards[node] ??= []);
        if (!list.some((f) => f.guest === guest)) list.push({ host: await h.port(), guest });
      }
    }
  }
  const guests = await h.boot("boot", Object.fromEntries(nodes.map((n) => [n, { forwards: forwards[n] ?? [] }])));
  const t0 = Date.now();
  mark(`qemu started for ${nodes.join(", ")}`);
  // Every console is watched from the start, so each report's time is when it appeared (db1's
  // steps below run meanwhile).
  const reports = new Map<string, Promise<Readiness | Error>>();
  const watch = (g: Guest) =>
    reports.set(
      g.node,
      g.readiness(BOOT_TIMEOUT_MS).then(
        (r) => {
          mark(`${g.node} readiness report (${r.seconds.toFixed(0)} s after its qemu start)`);
          return r;
        },
        (e: unknown) => e as Error,
      ),
    );
  Object.values(guests).forEach(watch);
  const events = new Map<string, number>();
  const event = (what: string) => {
    const t = (Date.now() - t0) / 1000;
    events.set(what, t);
    mark(`${what} (${t.toFixed(0)} s)`);
  };
  let over = false;
  const watchers = scenarios.map((s) =>
    s.duringBoot
      ? s.duringBoot(h, guests, event, () => over).catch((e: unknown) => mark(`${s.name}: boot watcher: ${String(e)}`))
      : Promise.resolve(),
  );
  const db = guests["db1"];
  if (db) {
    // db1's first boot waits for the schema (mail1's job) before the map reader's grants; the
    // other nodes wait for it too.
    await h.check(
      "boot",
      "db1: the bootstrap created the cluster's accounts (first boot, after MariaDB started)",
      async () => {
        await poll(
          "grommunio accounts",
          BOOT_TIMEOUT_MS,
          async () => {
            if ((await db.exec("systemctl is-failed mariadb")).stdout.trim() === "failed") {
              const j = await db.exec("journalctl -b -u mariadb -n 40 --no-pager");
              throw new Fatal(`mariadb failed to start:\n${j.stdout}`);
            }
            const n = await rootSql(db, "SELECT COUNT(*) FROM mysql.user WHERE user = 'grommunio';");
            return Number(n.trim()) > 0 ? true : undefined;
          },
          5000,
        );
      },
    );
    mark("db1 bootstrap done");
    const mail1 = guests["mail1"];
    if (mail1) {
      await h.check(
        "boot",
        "mail1 (booted): its first boot created the schema (stand-in gromox-dbop -C) and ran the generated servers seed; test users through its db-client.cnf",
        async () => {
          await bootedMail1(h, db, mail1);
        },
      );
      mark("mail1 schema and servers seed done");
    } else {
      await h.check(
        "boot",
        "mail1, played from its address in a namespace on db1: schema, generated servers seed, test users",
        async () => {
          await playMail1(h, db);
        },
      );
    }
  }
  const ready = new Map<string, Readiness>();
  await Promise.all(
    Object.values(guests).map(async (g) => {
      const r = await reports.get(g.node)!;
      if (r instanceof Error) {
        await h.check("boot", `${g.node}: readiness report on the console`, () => {
          throw r;
        });
        h.diagnostics(g);
        return;
      }
      ready.set(g.node, r);
      // A load balancer's map job runs before db1 has the schema and grants: it exits 4 then
      // (SuccessExitStatus), so even those first runs leave no failed unit.
      const ok = await h.check(
        "boot",
        `${g.node}: cloud-init status done, no failed unit, no WARNING/ERROR in cloud-init.log (report after ${r.seconds.toFixed(0)} s)`,
        () => {
          assert(
            r.status === "done" && r.failedUnits === 0 && r.warnings === 0,
            `status=${r.status} failed-units=${r.failedUnits} warnings=${r.warnings}`,
          );
        },
      );
      if (!ok) h.diagnostics(g);
    }),
  );
  mark(`readiness reports (${[...ready].map(([n, r]) => `${n} ${r.seconds.toFixed(0)} s`).join(", ")})`);
  over = true;
  await Promise.all(watchers);
  return { h, guests, ready, events };
}

/** Test users, their domain and an alias, as the admin API on mail1 would create them (SQL). */
function testUsersSql(): string {
  const users = Object.entries(TEST_USERS)
    .map(([u, home]) => `('${u}', 1, 0, 0, ${home}, '/var/lib/gromox/user/${u.split("@")[0]}')`)
    .join(", ");
  return (
    "INSERT INTO domains (id, domainname, homeserver, max_user, end_day) VALUES (1, 'example.com', 1, 100, '2099-12-31');\n" +
    `INSERT INTO users (username, domain_id, group_id, privilege_bits, homeserver, maildir) VALUES ${users};\n` +
    `INSERT INTO aliases (aliasname, mainname) VALUES ('${TEST_ALIAS[0]}', '${TEST_ALIAS[1]}');\n`
  );
}

/** mail1's generated database client options (also what db1's refusal check dials with). */
function mail1ClientCnf(h: Harness): string {
  const cnf = h.stack.files("mail1").get(DB_CLIENT_CNF);
  assert(cnf, `mail1's seed has no ${DB_CLIENT_CNF}`);
  return cnf;
}

/** mail1's part: schema, servers seed, test users, through mail1's account from mail1's address. */
async function playMail1(h: Harness, db: Guest): Promise<void> {
  const seed = h.stack.files("mail1").get("/etc/grommunio-cluster/servers-seed.sql");
  assert(seed, "mail1's seed has no servers-seed.sql");
  await nodeNamespace(db, MAIL1_NS, h.stack.topology.node("mail1").ipv4);
  await db.put(`${GUEST_DIR}/mail1/db-client.cnf`, mail1ClientCnf(h));
  await db.put(`${GUEST_DIR}/mail1/servers-seed.sql`, seed);
  await db.put(`${GUEST_DIR}/schema.sql`, readFixture("fixtures", "schema.sql"));
  await db.put(`${GUEST_DIR}/users.sql`, testUsersSql());
  const client = `ip netns exec ${MAIL1_NS} mysql --defaults-file=${GUEST_DIR}/mail1/db-client.cnf`;
  await db.run(
    `${client} < ${GUEST_DIR}/schema.sql && ${client} < ${GUEST_DIR}/mail1/servers-seed.sql && ${client} < ${GUEST_DIR}/users.sql`,
  );
}

/**
 * mail1 booted: its own first boot creates the schema (`gromox-dbop -C`, the stand-in) and runs
 * the generated servers seed; the test users go in through its generated db-client.cnf, from the
 * node itself (the admin API's part). db1 gets mail1's client file for its refusal check.
 */
async function bootedMail1(h: Harness, db: Guest, mail1: Guest): Promise<void> {
  const mailboxes = h.stack.topology.mailboxNodes.length;
  await poll(
    "servers rows (mail1's seed)",
    BOOT_TIMEOUT_MS,
    async () => {
      const n = await rootSql(db, "SELECT COUNT(*) FROM grommunio.servers;");
      return Number(n.trim()) === mailboxes ? true : undefined;
    },
    5000,
  );
  await db.put(`${GUEST_DIR}/mail1/db-client.cnf`, mail1ClientCnf(h));
  await mail1.put(`${GUEST_DIR}/users.sql`, testUsersSql());
  await mail1.run(`mysql --defaults-file=${DB_CLIENT_CNF} < ${GUEST_DIR}/users.sql`);
}

export const database: Scenario = {
  name: "database",
  description:
    "db1: MariaDB bound to its private address, data on its own virtio volume, settings in effect; database, accounts and grants as generated; a cluster address connects, another is refused",
  nodes: ["db1"],
  async run({ h, guests }) {
    const S = this.name;
    const db = guests["db1"]!;
    const dbAddress = h.stack.topology.node("db1").ipv4;
    const dbPort = h.stack.topology.database.port;
    const files = h.stack.files("db1");
    const bootstrap = files.get("/etc/grommunio-cluster/database-bootstrap.sql") ?? "";
    const grants = files.get("/etc/grommunio-cluster/map-reader-grants.sql") ?? "";

    await h.check(S, "db1: mariadb active, listening only on its private address", async () => {
      assertEqual((await db.exec("systemctl is-active mariadb")).stdout.trim(), "active", "mariadb");
      const listen = (await db.run(`ss -Hltn 'sport = :${dbPort}'`))
        .trim()
        .split("\n")
        .map((l) => l.trim().split(/\s+/)[3])
        .sort();
      assertEqual(listen, [`${dbAddress}:${dbPort}`], "MariaDB listening sockets");
    });
    await h.check(
      S,
      "db1: data directory on the separate virtio volume (vdb, ext4, label mariadb-data, fstab by label)",
      async () => {
        const src = (await db.run("findmnt -n -o SOURCE,FSTYPE,LABEL --target /var/lib/mysql")).trim().split(/\s+/);
        assertEqual(src, ["/dev/vdb", "ext4", "mariadb-data"], "mount of /var/lib/mysql");
        assertEqual((await rootSql(db, "SELECT @@datadir;")).trim(), "/var/lib/mysql/", "datadir");
        await db.run("test -d /var/lib/mysql/grommunio && test -f /var/lib/mysql/ibdata1");
        assertEqual(
          (await db.run("grep -c '^LABEL=mariadb-data /var/lib/mysql ext4' /etc/fstab")).trim(),
          "1",
          "fstab lines",
        );
      },
    );
    await h.check(S, "db1: the generated settings are in effect (60-grommunio.cnf)", async () => {
      const cnf = files.get("/etc/mysql/mariadb.conf.d/60-grommunio.cnf") ?? "";
      assertEqual(
        (await db.run("sha256sum /etc/mysql/mariadb.conf.d/60-grommunio.cnf")).split(" ")[0],
        sha256(cnf),
        "60-grommunio.cnf on disk = generated",
      );
      const v = (await rootSql(db, "SELECT @@character_set_server, @@max_connections, @@skip_name_resolve;")).trim();
      const want = ["character-set-server", "max_connections"].map(
        (k) => new RegExp(`^${k} = (\\S+)$`, "m").exec(cnf)?.[1],
      );
      assertEqual(v.split("\t"), [want[0], want[1], "1"], "character_set_server, max_connections, skip_name_resolve");
    });
    await h.check(S, "db1: database, accounts and grants exactly as generated", async () => {
      assert(bootstrap && grants, "db1's seed has no bootstrap or map-reader grants SQL");
      const charset = (
        await rootSql(
          db,
          "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'grommunio';",
        )
      ).trim();
      assertEqual(charset, "utf8mb4", "grommunio database character set");
      const expected = [...generatedAccounts(bootstrap).keys()].sort();
      const names = [...new Set(expected.map((a) => a.split("@")[0]))].map((n) => `'${n}'`).join(", ");
      const actual = (
        await rootSql(db, `SELECT CONCAT(user, '@', host) FROM mysql.user WHERE user IN (${names}) ORDER BY 1;`)
      )
        .trim()
        .split("\n")
        .sort();
      assertEqual(actual, expected, "accounts");
      const all = (
        await rootSql(
          db,
          "SELECT CONCAT(GRANTEE, ' ', PRIVILEGE_TYPE) FROM information_schema.SCHEMA_PRIVILEGES WHERE TABLE_SCHEMA = 'grommunio';",
        )
      )
        .trim()
        .split("\n");
      for (const a of expected.filter((x) => x.startsWith("grommunio@"))) {
        const [u, host] = a.split("@");
        for (const p of ["SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER"]) {
          assert(all.includes(`'${u}'@'${host}' ${p}`), `${a} lacks ${p} on grommunio.*`);
        }
      }
      const want = generatedGrants(grants);
      assert(want.columns.length > 0, "no column grants in the generated map-reader grants");
      const rows = async (view: string, cols: string) =>
        (
          await rootSql(
            db,
            `SELECT CONCAT_WS(' ', ${cols}) FROM information_schema.${view} WHERE TABLE_SCHEMA = 'grommunio';`,
          )
        )
          .trim()
          .split("\n")
          .filter((l) => l)
          .sort();
      assertEqual(
        await rows("COLUMN_PRIVILEGES", "GRANTEE, TABLE_NAME, COLUMN_NAME, PRIVILEGE_TYPE"),
        want.columns,
        "column grants",
      );
      assertEqual(
        await rows("TABLE_PRIVILEGES", "GRANTEE, TABLE_NAME, PRIVILEGE_TYPE"),
        want.tables,
        "table and view grants",
      );
    });
    await h.check(
      S,
      "db1: mail1's address connects as grommunio (mail1's generated db-client.cnf; from mail1 when it is booted, else from its address on db1); 10.10.10.99 is refused by the grants",
      async () => {
        const q = `mysql --defaults-file=${GUEST_DIR}/mail1/db-client.cnf -NB -e 'SELECT CURRENT_USER()'`;
        const mail1 = guests["mail1"];
        assertEqual(
          (mail1
            ? await mail1.run(`mysql --defaults-file=${DB_CLIENT_CNF} -NB -e 'SELECT CURRENT_USER()'`)
            : await db.run(`ip netns exec ${MAIL1_NS} ${q}`)
          ).trim(),
          `grommunio@${h.stack.topology.node("mail1").ipv4}`,
          "CURRENT_USER() from mail1's address",
        );
        await relayFrom(db, "10.10.10.99", 13399, `${dbAddress}:${dbPort}`);
        const r = await db.exec(`${q} --host=127.0.0.1 --port=13399`);
        assert(
          r.code !== 0 && /is not allowed to connect|Access denied/.test(r.stderr),
          `expected a refusal, got exit ${r.code}: ${r.stdout}${r.stderr}`,
        );
      },
    );
  },
};

/** HTTPS GET through a forwarded port; resolves status, headers and the server certificate. */
function httpsGet(port: number, servername: string, path: string) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; cert: tls.PeerCertificate }>(
    (resolve, reject) => {
      const req = https.request(
        {
          host: "127.0.0.1",
          port,
          path,
          servername,
          headers: { Host: servername },
          rejectUnauthorized: false,
          timeout: 30_000,
        },
        (res) => {
          const cert = (res.socket as tls.TLSSocket).getPeerCertificate();
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, cert }));
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end();
    },
  );
}

function httpGet(port: number, path: string) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, headers: { Host: "mail.example.com" }, timeout: 30_000 },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** The runtime API of HAProxy on `g` (stats socket). */
function haproxyApi(g: Guest, command: string): Promise<string> {
  return g.run(`python3 -c '${UNIX_PY}' /run/haproxy/admin.sock`, { input: command + "\n" });
}

/** `key → value` of `show map <file>` (lines `<ref> <key> <value>`). */
function parseShowMap(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 3) m.set(f[1]!, f[2]!);
  }
  return m;
}

export const loadBalancer: Scenario = {
  name: "load-balancer",
  description:
    "lb1 with db1: HAProxy runs the generated config (haproxy -c -dW in the guest); 443/80 answer from the host; the map reader reaches db1 over the private link with exactly its column grants; the mailbox-map job fills the map from db1 and follows grommunio-failover within one refresh",
  nodes: ["lb1", "db1"],
  forwards: { lb1: [80, 443] },
  async run({ h, guests }) {
    const S = this.name;
    const lb = guests["lb1"]!;
    const db = guests["db1"]!;
    const files = h.stack.files("lb1");
    const cfg = files.get("/etc/haproxy/haproxy.cfg") ?? "";
    const dbAddress = h.stack.topology.node("db1").ipv4;
    const dbPort = h.stack.topology.database.port;
    const accounts = generatedAccounts(h.stack.files("db1").get("/etc/grommunio-cluster/database-bootstrap.sql") ?? "");
    const lbAddress = h.stack.topology.node("lb1").ipv4;

    await h.check(
      S,
      "lb1: haproxy active with the generated haproxy.cfg; haproxy -c -dW accepts it in the guest",
      async () => {
        assertEqual((await lb.exec("systemctl is-active haproxy")).stdout.trim(), "active", "haproxy");
        assertEqual(
          (await lb.run("sha256sum /etc/haproxy/haproxy.cfg")).split(" ")[0],
          sha256(cfg),
          "haproxy.cfg on disk = generated",
        );
        await lb.run("haproxy -c -dW -f /etc/haproxy/haproxy.cfg");
      },
    );
    await h.check(
      S,
      "lb1: 443 answers from the host with the node's certificate (no mailbox node booted: HAProxy's 503; one booted: its answer through HAProxy); 80 redirects to https",
      async () => {
        const pem = files.get("/etc/haproxy/proxy.pem") ?? "";
        const want = new X509Certificate(pem.slice(pem.indexOf("-----BEGIN CERTIFICATE-----")));
        const r = await httpsGet(lb.hostPort(443), "mail.example.com", "/web/");
        assertEqual(
          r.cert.fingerprint256,
          want.fingerprint256,
          "certificate served = the one in the generated proxy.pem",
        );
        assert(String(r.cert.subjectaltname ?? "").includes("DNS:mail.example.com"), `SAN ${r.cert.subjectaltname}`);
        // With the store-export scenario mail1 and mail2 run too, and HAProxy reaches their nginx
        // (a stand-in grommunio-web: 404); without a booted mailbox node it answers 503 itself.
        const up = h.stack.topology.mailboxNodes.filter((n) => guests[n.name]).map((n) => n.name);
        if (up.length === 0) assertEqual(r.status, 503, "status with every mailbox node down");
        else {
          assert(
            r.status < 500,
            `status with ${up.join(", ")} booted: ${r.status} (a 5xx: HAProxy reached no mailbox node)`,
          );
        }
        const plain = await httpGet(lb.hostPort(80), "/web/");
        assertEqual(plain.status, 301, "port 80 redirects");
        assert(String(plain.headers.location ?? "").startsWith("https://"), `Location ${plain.headers.location}`);
      },
    );
    await h.check(
      S,
      "lb1 → db1 over the private link with lb1's generated map-reader.cnf: the map reader reads its columns and the map view, nothing else; the gromox account is refused from lb1",
      async () => {
        const readerCnf = files.get(MAP_READER_CNF);
        const gromox = [...accounts].find(([a]) => a.startsWith("grommunio@"))?.[1];
        assert(
          readerCnf && gromox,
          `no ${MAP_READER_CNF} in lb1's user-data or no grommunio account in db1's bootstrap`,
        );
        assertEqual(
          (await lb.run(`sha256sum ${MAP_READER_CNF}`)).split(" ")[0],
          sha256(readerCnf),
          `${MAP_READER_CNF} on disk = generated`,
        );
        assert(accounts.has(`grommunio_map@${lbAddress}`), `db1's bootstrap has no grommunio_map@${lbAddress}`);
        await lb.put(
          `${GUEST_DIR}/gromox.cnf`,
          `[client]\nhost=${dbAddress}\nport=${dbPort}\nuser=grommunio\npassword=${gromox}\ndatabase=grommunio\n`,
        );
        const view = await lb.run(
          `mysql --defaults-file=${MAP_READER_CNF} -NB -e 'SELECT COUNT(*) FROM ${MAILBOX_MAP_VIEW}'`,
        );
        assert(Number(view.trim()) > 0, `rows of the map view as the map reader: ${view}`);
        const users = (
          await lb.run(
            `mysql --defaults-file=${MAP_READER_CNF} -NB -e 'SELECT username, homeserver FROM users ORDER BY username'`,
          )
        ).trim();
        assertEqual(
          users.split("\n"),
          Object.entries(TEST_USERS).map(([u, id]) => `${u}\t${id}`),
          "users as the map reader sees them",
        );
        const denied = await lb.exec(`mysql --defaults-file=${MAP_READER_CNF} -NB -e 'SELECT maildir FROM users'`);
        assert(
          denied.code !== 0 && /denied/i.test(denied.stderr),
          `maildir readable by the map reader: ${denied.stdout}${denied.stderr}`,
        );
        const other = await lb.exec(`mysql --defaults-file=${GUEST_DIR}/gromox.cnf -NB -e 'SELECT 1'`);
        assert(
          other.code !== 0 && /not allowed|denied/i.test(other.stderr),
          `grommunio from lb1: ${other.stdout}${other.stderr}`,
        );
      },
    );

    const job = files.get(MAILBOX_MAP_JOB_PATH);
    const ok = await h.check(
      S,
      "lb1: the mailbox-map job and its timer are installed (ops files in lb1's user-data)",
      async () => {
        assert(
          job,
          `lb1's user-data has no ${MAILBOX_MAP_JOB_PATH}: the cluster does not install the ops files yet (lib/render/ops is not wired into renderNodeFiles)`,
        );
        assertEqual((await lb.exec(`systemctl is-active ${MAILBOX_MAP_UNIT}.timer`)).stdout.trim(), "active", "timer");
      },
    );
    if (!ok) return;
    const servers = new Map(h.stack.topology.mailboxNodes.map((n) => [n.serverId, n.hostname]));
    const expected = (home: (u: string) => number) =>
      Object.keys(TEST_USERS).map((u) => [u, servers.get(home(u))] as const);
    const waitMap = async (home: (u: string) => number, what: string, timeoutMs: number) =>
      poll(
        what,
        timeoutMs,
        async () => {
          const map = parseShowMap(await haproxyApi(lb, `show map ${MAILBOX_MAP_PATH}`));
          const want = [...expected(home), [TEST_ALIAS[0], servers.get(home(TEST_ALIAS[1]))] as const];
          return want.every(([k, v]) => map.get(k) === v) ? map : undefined;
        },
        5000,
      );
    await h.check(
      S,
      "lb1: the job filled the running map from db1 (show map: test users and alias → their home servers)",
      async () => {
        await lb.run(`systemctl start ${MAILBOX_MAP_UNIT}.service`, { timeoutMs: 180_000 });
        await waitMap((u) => TEST_USERS[u]!, "map entries", 120_000);
        const state = (await lb.exec(`systemctl is-failed ${MAILBOX_MAP_UNIT}.service`)).stdout.trim();
        assert(state !== "failed", `${MAILBOX_MAP_UNIT}.service is still failed after a run with the database ready`);
      },
    );
    await h.check(
      S,
      "grommunio-failover mail1 → mail2 on the ops node (its generated script and db.cnf; a node not booted is played from its address on db1): the map follows within one refresh",
      async () => {
        const opsNode = [...h.stack.topology.nodes]
          .map((n) => n.name)
          .sort()
          .find((n) => h.stack.files(n).has(FAILOVER_SCRIPT_PATH));
        assert(opsNode, `no node's user-data has ${FAILOVER_SCRIPT_PATH}`);
        let run: string;
        if (guests[opsNode]) {
          run = FAILOVER_SCRIPT_PATH;
        } else {
          assert(opsNode === "mail1", `the ops node ${opsNode} is neither booted nor played`);
          // mail1's ops files, as its cloud-init would write them, run from mail1's address.
          for (const [p, content] of h.stack.files("mail1")) {
            if (p.startsWith("/etc/grommunio-ops/") || p.startsWith("/usr/local/sbin/grommunio-")) {
              await db.put(p, content);
              if (p.startsWith("/usr/local/sbin/")) await db.run(`chmod 0750 ${p}`);
            }
          }
          run = `ip netns exec ${MAIL1_NS} ${FAILOVER_SCRIPT_PATH}`;
        }
        const ops = guests[opsNode] ?? db;
        const out = await ops.run(`${run} --reload none ${servers.get(1)} ${servers.get(2)} 2>&1`, {
          timeoutMs: 180_000,
        });
        const t0 = Date.now();
        const refresh = Number(
          /OnUnitActiveSec=(\d+)/.exec(files.get(`/etc/systemd/system/${MAILBOX_MAP_UNIT}.timer`) ?? "")?.[1] ?? 60,
        );
        try {
          await waitMap((u) => (TEST_USERS[u] === 1 ? 2 : TEST_USERS[u]!), "map after failover", (refresh + 30) * 1000);
        } catch (e) {
          throw new Error(`${(e as Error).message}\nfailover output:\n${out}`);
        }
        h.note(`map followed the failover after ${((Date.now() - t0) / 1000).toFixed(0)} s (refresh ${refresh} s)`);
      },
    );
  },
};

export const classic: Scenario = {
  name: "classic",
  description:
    "classic1 (postfix part) with lb1 and db1: postfix runs the generated main.cf/master.cf (postfix check, postconf -M clean) and accepts an SMTP session from the host through lb1 with the PROXY protocol (postscreen logs the real client); gromox services are stand-ins, out of scope",
  nodes: ["classic1", "lb1", "db1"],
  forwards: { lb1: [25] },
  async run({ h, guests }) {
    const S = this.name;
    const c = guests["classic1"]!;
    const lb = guests["lb1"]!;
    const files = h.stack.files("classic1");
    h.outOfScope(
      S,
      "classic1: gromox services (gromox-delivery, -delivery-queue, -imap, -pop3, … run as stub units)",
      "grommunio's packages are not reachable from the test host: the local repository serves stand-ins; gromox's configuration is checked by test/system/gromox.test.ts",
    );
    await h.check(S, "classic1: the pinned account ids (accountIds) survived the stand-in gromox package", async () => {
      assertEqual((await c.run(PINNED_ACCOUNTS_QUERY)).trim(), PINNED_ACCOUNTS_WANT, "accounts");
    });
    await h.check(
      S,
      "classic1: postfix active with the generated main.cf and master.cf; postfix check and postconf -M clean",
      async () => {
        assertEqual((await c.exec("systemctl is-active postfix")).stdout.trim(), "active", "postfix");
        for (const f of ["/etc/postfix/main.cf", "/etc/postfix/master.cf"]) {
          assertEqual(
            (await c.run(`sha256sum ${f}`)).split(" ")[0],
            sha256(files.get(f) ?? ""),
            `${f} on disk = generated`,
          );
        }
        const check = await c.exec("script -qec 'postfix check' /dev/null");
        assert(
          check.code === 0 && !check.stdout.trim(),
          `postfix check: exit ${check.code} ${check.stdout}${check.stderr}`,
        );
        const m = await c.exec("postconf -M >/dev/null");
        assert(m.code === 0 && !m.stderr.trim(), `postconf -M: ${m.stderr}`);
        const proc = (await c.run("ss -Hltnp 'sport = :25'")).trim();
        assert(/master/.test(proc), `port 25: ${proc}`);
      },
    );
    await h.check(S, "lb1: classic1 is UP in be_smtp (health check with send-proxy-v2)", async () => {
      await poll("classic1 UP", 120_000, async () => {
        const st = await haproxyApi(lb, "show servers state be_smtp");
        const row = st.split("\n").find((l) => l.includes(" classic1.example.com "));
        // srv_op_state (6th field) 2 = running
        return row && row.trim().split(/\s+/)[5] === "2" ? true : undefined;
      });
    });
    await h.check(
      S,
      "SMTP from the host through lb1:25 reaches classic1's postscreen with the PROXY protocol (real client address logged)",
      async () => {
        const smtp = await SmtpClient.connect("127.0.0.1", lb.hostPort(25), { timeoutMs: 30_000 });
        try {
          const greet = await smtp.reply();
          assertEqual(greet.code, 220, `greeting ${JSON.stringify(greet)}`);
          const ehlo = await smtp.command("EHLO vmtest.example.net");
          assertEqual(ehlo.code, 250, `EHLO ${JSON.stringify(ehlo)}`);
        } finally {
          await smtp.close();
        }
        // The LB sees the host as 10.0.2.2 (qemu user networking): postscreen logs that address only
        // when it read the PROXY header; without it, it would log the LB's.
        await poll("postscreen log", 30_000, async () => {
          const j = (await c.exec("journalctl -b --no-pager -t postfix/postscreen")).stdout;
          return /CONNECT from \[10\.0\.2\.2\]/.test(j) ? j : undefined;
        });
      },
    );
  },
};

/** `systemd-escape -p --suffix=automount` of a path (the unit systemd's fstab generator makes). */
async function automountUnit(g: Guest, dir: string): Promise<string> {
  return (await g.run(`systemd-escape -p --suffix=automount ${dir}`)).trim();
}

/** `path client(options)` of `exportfs -v` (each export's path, then one line per client). */
export function parseExportfs(out: string): string[] {
  const entries: string[] = [];
  let current = "";
  for (const tok of out.split(/\s+/).filter(Boolean)) {
    if (tok.startsWith("/")) current = tok;
    else entries.push(`${current} ${tok}`);
  }
  return entries.sort();
}

/**
 * `exportfs -v`'s entries (parseExportfs) are exactly `want` (`path client`), each with the
 * options every generated export has (rw, sync, no_root_squash, no_subtree_check).
 */
function assertExports(listed: readonly string[], want: readonly string[]): void {
  assertEqual(
    listed.map((e) => e.replace(/\(.*$/, "")),
    want,
    "exportfs -v (path and client)",
  );
  for (const e of listed) {
    const opts = /\((.*)\)$/.exec(e)?.[1]?.split(",") ?? [];
    assert(
      ["rw", "sync", "no_root_squash", "no_subtree_check"].every((o) => opts.includes(o)),
      `options of ${e}`,
    );
  }
}

/** Python in the guest: exit 0 when a TCP connection to HOST PORT opens, 1 when refused, 2 on timeout. */
const CONNECT_PY = [
  "import socket, sys",
  "try:",
  "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()",
  "except ConnectionRefusedError:",
  "    sys.exit(1)",
  "except TimeoutError:",
  "    sys.exit(2)",
  "except OSError as e:",
  "    print(e)",
  "    sys.exit(3)",
].join("\n");
const CONNECT_OUTCOME = [
  "connected",
  "refused (RST: the firewall let it through)",
  "timed out (dropped)",
  "failed otherwise",
];

async function connect(g: Guest, prefix: string, host: string, port: number): Promise<string> {
  const r = await g.exec(`${prefix}python3 -c '${CONNECT_PY}' ${host} ${port} 8`, { timeoutMs: 60_000 });
  return CONNECT_OUTCOME[r.code] ?? `exit ${r.code}: ${r.stdout}${r.stderr}`;
}

export const storeExport: Scenario = {
  name: "store-export",
  description:
    "ShareNothing store exports on two machines: mail2 exports its store roots over NFSv4 to the admin node mail1 only (generated /etc/exports, nftables); mail1 mounts them on first access (generated store-servers and fstab step) and creates a store there as the admin API does; mail3 (never booted) shows mail1's boot waits for no mailbox node",
  nodes: ["mail1", "mail2", "db1"],
  async run({ h, guests, ready }) {
    const S = this.name;
    const m1 = guests["mail1"]!;
    const m2 = guests["mail2"]!;
    const db = guests["db1"]!;
    const topo = h.stack.topology;
    const admin = topo.node("mail1");
    const server = topo.node("mail2");
    const files2 = h.stack.files("mail2");
    const files1 = h.stack.files("mail1");
    const roots = storeExportPaths(server);
    const userRoot = roots.find((r) => r.startsWith("/var/lib/gromox/user/"))!;
    h.outOfScope(
      S,
      "mail1: grommunio-admin-api's store creation itself (gromox-mkprivate/-mkpublic into the mounted directory)",
      "grommunio's packages are not reachable from the test host (stand-ins); the checks make the directories and a file as the API does before those tools run",
    );

    await h.check(
      S,
      "mail2: nfs-server active with the generated /etc/exports; exportfs -v lists exactly its store roots, to mail1's address only, rw and no_root_squash",
      async () => {
        const exportsFile = files2.get(NFS_EXPORTS_PATH);
        assert(exportsFile, `mail2's user-data has no ${NFS_EXPORTS_PATH}`);
        assertEqual((await m2.exec("systemctl is-active nfs-server")).stdout.trim(), "active", "nfs-server");
        assertEqual(
          (await m2.run(`sha256sum ${NFS_EXPORTS_PATH}`)).split(" ")[0],
          sha256(exportsFile),
          `${NFS_EXPORTS_PATH} on disk = generated`,
        );
        const generated = exportsFile
          .split("\n")
          .filter((l) => l && !l.startsWith("#"))
          .map((l) => l.replace(/\(.*$/, ""))
          .sort();
        assertEqual(generated, roots.map((r) => `${r} ${admin.ipv4}`).sort(), "generated exports (path and client)");
        assertExports(parseExportfs(await m2.run("exportfs -v")), generated);
        const owners = await m2.run(
          roots.map((r) => `stat -c '%U:%G %a' ${r.replace(/\/[^/]+$/, "")} ${r}`).join(" && "),
        );
        const lines = owners.trim().split("\n");
        for (let i = 0; i < lines.length; i += 2) {
          assertEqual(lines[i + 1], lines[i], `owner and mode of ${roots[i / 2]} = its parent's`);
        }
        h.note(`store roots on mail2: ${lines.filter((_, i) => i % 2 === 1).join(", ")}`);
      },
    );

    // From the mount table only (no path lookup: nothing here may trigger an automount).
    const mountsOf = async (dir: string) =>
      (await m1.run("findmnt -n -r -o TARGET,FSTYPE,SOURCE"))
        .trim()
        .split("\n")
        .filter((l) => l.startsWith(`${dir} `))
        .map((l) => l.slice(dir.length + 1));
    const storeServers = files1.get(STORE_SERVERS_PATH) ?? "";
    await h.check(
      S,
      "mail1: fstab has one on-demand nfs4 line per store root of each server in the generated store-servers (mail2, mail3); their automount units are active and nothing is mounted yet",
      async () => {
        const others = topo.mailboxNodes.filter((n) => n.name !== "mail1");
        assertEqual(storeServers, storeServersText(others.map((n) => n.hostname)), `${STORE_SERVERS_PATH} (generated)`);
        const fstab = (await m1.run("grep ' nfs4 ' /etc/fstab || true")).trim().split("\n").filter(Boolean);
        const want = others.flatMap((n) =>
          storeExportPaths(n).map(
            (d) =>
              `${n.hostname}:${d} ${d} nfs4 nfsvers=4.1,hard,timeo=600,retrans=2,_netdev,nofail,x-systemd.automount,x-systemd.idle-timeout=60,x-systemd.mount-timeout=30 0 0`,
          ),
        );
        assertEqual(fstab, want, "nfs4 lines of /etc/fstab");
        await m1.run("findmnt --verify --tab-file /etc/fstab >/dev/null");
        for (const n of others) {
          for (const d of storeExportPaths(n)) {
            const unit = await automountUnit(m1, d);
            assertEqual((await m1.exec(`systemctl is-active ${unit}`)).stdout.trim(), "active", unit);
            assertEqual(await mountsOf(d), [`autofs systemd-1`], `mounts at ${d} before any access`);
          }
        }
      },
    );
    const r1 = ready.get("mail1");
    const r2 = ready.get("mail2");
    h.note(
      `readiness reports: mail1 ${r1?.seconds.toFixed(0) ?? "?"} s, mail2 ${r2?.seconds.toFixed(0) ?? "?"} s after qemu start (both started together); mail3 never booted`,
    );
    await h.check(
      S,
      "mail1's first boot finished although mail3, in its store-servers, never booted (the mounts wait for no server): status done, no failed unit",
      () => {
        assert(r1 && r1.status === "done" && r1.failedUnits === 0, `mail1's report: ${r1?.status} ${r1?.failedUnits}`);
      },
    );

    await h.check(
      S,
      "mail1: first access to mail2's store roots mounts them (findmnt: nfs4, vers=4.1, from mail2.example.com)",
      async () => {
        for (const d of roots) {
          await m1.run(`timeout 150 ls -a ${d} >/dev/null`, { timeoutMs: 180_000 });
          const m = await mountsOf(d);
          assert(m.includes(`nfs4 ${server.hostname}:${d}`), `mounts at ${d}: ${m.join("; ")}`);
          const opts = (await m1.run(`findmnt -n -r -t nfs4 -o OPTIONS --mountpoint ${d}`)).trim(); // mounted now
          assert(/(^|,)vers=4\.1(,|$)/.test(opts) && /(^|,)hard(,|$)/.test(opts), `options at ${d}: ${opts}`);
        }
      },
    );

    const store = `${userRoot}/example.com/vmtest`;
    const probe = `${store}/exmdb-probe`;
    const payload = `written on mail1 at ${new Date().toISOString()}\n`;
    let owner1 = "";
    await h.check(
      S,
      "a store made on mail1 as root (mkdir, a file, chown to gromox: the admin API's part) is on mail2's disk with the same numeric owner; mail1 reads the file back",
      async () => {
        owner1 = (await m1.run("echo $(id -u gromox):$(id -g gromox)")).trim();
        await m1.run(
          `mkdir -p ${store} && chown gromox:gromox ${userRoot}/example.com ${store} && ` +
            `cat > ${probe} && chown gromox:gromox ${probe}`,
          { input: payload },
        );
        const on2 = (await m2.run(`stat -c '%u:%g' ${userRoot}/example.com ${store} ${probe}`)).trim().split("\n");
        assertEqual(on2, [owner1, owner1, owner1], "numeric owners on mail2's disk");
        assertEqual(await m2.run(`cat ${probe}`), payload, "content on mail2's disk");
        assertEqual(await m1.run(`cat ${probe}`), payload, "content read back on mail1");
        const d = roots.find((r) => r !== userRoot)!;
        await m1.run(`mkdir ${d}/example.com && chown gromox:gromox ${d}/example.com`);
        assertEqual(
          (await m2.run(`stat -c '%u:%g' ${d}/example.com`)).trim(),
          owner1,
          `owner of ${d}/example.com on mail2`,
        );
      },
    );
    await h.check(
      S,
      "gromox and grommunio have the same (pinned) ids on mail1 and mail2, and the store's file is gromox's by name on both",
      async () => {
        assertEqual((await m1.run(PINNED_ACCOUNTS_QUERY)).trim(), PINNED_ACCOUNTS_WANT, "accounts on mail1");
        assertEqual((await m2.run(PINNED_ACCOUNTS_QUERY)).trim(), PINNED_ACCOUNTS_WANT, "accounts on mail2");
        for (const g of [m1, m2]) {
          assertEqual(
            (await g.run(`stat -c '%U:%G' ${probe}`)).trim(),
            "gromox:gromox",
            `owner of the file on ${g.node}`,
          );
        }
      },
    );

    await h.check(
      S,
      "mail2's generated nftables: TCP 2049 from mail1 only; from a peer mailbox node's address (mail3's, in a namespace on mail2) and from db1 it is dropped, while exmdb's port from mail3's address passes the firewall",
      async () => {
        const nft = files2.get(NFTABLES_PATH) ?? "";
        assertEqual(
          (await m2.run(`sha256sum ${NFTABLES_PATH}`)).split(" ")[0],
          sha256(nft),
          `${NFTABLES_PATH} on disk = generated`,
        );
        const live = await m2.run("nft list chain inet grommunio input");
        const rules = live.split("\n").filter((l) => /dport 2049/.test(l));
        assertEqual(
          rules.map((l) => l.trim().replace(/ comment .*$/, "")),
          [`ip saddr ${admin.ipv4} tcp dport 2049 accept`],
          "live rules for 2049",
        );
        const m3 = topo.node("mail3").ipv4;
        await nodeNamespace(m2, "vt-mail3", m3);
        const ns = "ip netns exec vt-mail3 ";
        const outcomes = {
          "mail1 → 2049": await connect(m1, "", server.ipv4, 2049),
          "mail3's address → 2049": await connect(m2, ns, server.ipv4, 2049),
          "mail3's address → 5000 (exmdb, allowed; the stub listens on nothing)": await connect(
            m2,
            ns,
            server.ipv4,
            5000,
          ),
          "db1 → 2049": await connect(db, "", server.ipv4, 2049),
        };
        assertEqual(
          outcomes,
          {
            "mail1 → 2049": CONNECT_OUTCOME[0],
            "mail3's address → 2049": CONNECT_OUTCOME[2],
            "mail3's address → 5000 (exmdb, allowed; the stub listens on nothing)": CONNECT_OUTCOME[1],
            "db1 → 2049": CONNECT_OUTCOME[2],
          },
          "TCP connections to mail2",
        );
      },
    );
  },
};

/** A node's data volume and the units that keep their data on it. */
interface DataMount {
  readonly node: string;
  readonly dir: string;
  readonly units: readonly string[];
}

/**
 * The KVM example's data volumes on the rebooted nodes and the units writing under them: every
 * gromox daemon mail2 runs and the NFS server exporting its store roots; MariaDB on db1.
 */
const REBOOT_MOUNTS: readonly DataMount[] = [
  {
    node: "mail2",
    dir: "/var/lib/gromox",
    units: ["gromox-http.service", "gromox-midb.service", "gromox-zcore.service", "nfs-server.service"],
  },
  { node: "db1", dir: "/var/lib/mysql", units: ["mariadb.service"] },
];

/** `systemctl show` properties of a unit, by name. */
async function unitProperties(g: Guest, unit: string, props: readonly string[]): Promise<Record<string, string>> {
  const out = await g.run(`systemctl show ${unit} ${props.map((p) => `-p ${p}`).join(" ")}`);
  return Object.fromEntries(
    out
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

export const reboot: Scenario = {
  name: "reboot",
  description:
    "second boot of the nodes with data volumes (mail2: the store at /var/lib/gromox, exported to mail1; db1: MariaDB's data at /var/lib/mysql): cloud-init's every-boot steps pass again, the volumes are mounted with their data, and the units writing there require their mount and start after it (a missing mount stops them instead of letting them write to the root disk)",
  nodes: ["db1", "mail2"],
  async run({ h, guests }) {
    const S = "reboot";
    const token = `reboot-probe-${Date.now()}`;
    const mail1 = guests["mail1"];
    const userRoot = storeExportPaths(h.stack.topology.node("mail2")).find((r) =>
      r.startsWith("/var/lib/gromox/user/"),
    )!;
    const storeProbe = `${userRoot}/.vmtest-reboot`;
    const ok = await h.check(
      S,
      "before: a marker on each data volume (files on mail2's store, one in the root exported to mail1; a row in MariaDB on db1)",
      async () => {
        await guests["mail2"]!.run(`echo ${token} > /var/lib/gromox/.vmtest-reboot && echo ${token} > ${storeProbe}`);
        await rootSql(
          guests["db1"]!,
          `CREATE DATABASE vmtest_reboot; CREATE TABLE vmtest_reboot.t (v VARCHAR(64)) ENGINE=InnoDB; INSERT INTO vmtest_reboot.t VALUES ('${token}');`,
        );
      },
    );
    if (!ok) return;
    // Both stop, then both start: a guest killed after the timeout still boots again (a hard
    // reset), and the clean power-off is its own check.
    const how = await Promise.all(REBOOT_MOUNTS.map((m) => guests[m.node]!.vm.stop(300_000)));
    for (const m of REBOOT_MOUNTS) guests[m.node]!.vm.restart();
    await h.check(S, "mail2 and db1 power off cleanly (ACPI, within 300 s) and start again on the same disks", () => {
      assertEqual(
        how,
        REBOOT_MOUNTS.map(() => "powerdown"),
        "how each guest stopped",
      );
    });
    const reports = await Promise.all(
      REBOOT_MOUNTS.map((m) => guests[m.node]!.readiness(BOOT_TIMEOUT_MS).catch((e: unknown) => e as Error)),
    );
    for (const [i, m] of REBOOT_MOUNTS.entries()) {
      const r = reports[i]!;
      const g = guests[m.node]!;
      const up = await h.check(
        S,
        `${m.node}, second boot: readiness report with cloud-init status done, no failed unit, no WARNING/ERROR in cloud-init.log (bootcmd's every-boot steps, the mount script and the account check, pass again)`,
        () => {
          if (r instanceof Error) throw r;
          h.note(`${m.node}: second boot's report after ${r.seconds.toFixed(0)} s`);
          assert(
            r.status === "done" && r.failedUnits === 0 && r.warnings === 0,
            `status=${r.status} failed-units=${r.failedUnits} warnings=${r.warnings}`,
          );
        },
      );
      if (!up) {
        h.diagnostics(g);
        continue;
      }
      await h.check(
        S,
        `${m.node}: ${m.dir} is the data volume again (ext4 on a virtio data disk) and holds the marker`,
        async () => {
          const src = (await g.run(`findmnt -n -o SOURCE,FSTYPE --mountpoint ${m.dir}`)).trim();
          assert(/^\/dev\/vd[b-z]\s+ext4$/.test(src), `${m.dir} is mounted from: ${src || "(not mounted)"}`);
          if (m.node === "mail2") {
            assertEqual((await g.run(`cat ${m.dir}/.vmtest-reboot`)).trim(), token, "marker file");
          } else {
            assertEqual((await rootSql(g, "SELECT v FROM vmtest_reboot.t;")).trim(), token, "marker row");
          }
        },
      );
      const mount = (await g.run(`systemd-escape --path --suffix=mount ${m.dir}`)).trim();
      for (const unit of m.units) {
        await h.check(
          S,
          `${m.node}: ${unit} is active, requires ${mount} and is ordered after it (RequiresMountsFor=${m.dir}), and it started after the mount was active`,
          async () => {
            const u = await unitProperties(g, unit, [
              "ActiveState",
              "Requires",
              "After",
              "InactiveExitTimestampMonotonic",
            ]);
            const mnt = await unitProperties(g, mount, ["ActiveState", "ActiveEnterTimestampMonotonic"]);
            assertEqual([u.ActiveState, mnt.ActiveState], ["active", "active"], `states of ${unit} and ${mount}`);
            const requires = (u.Requires ?? "").split(" ");
            const after = (u.After ?? "").split(" ");
            assert(requires.includes(mount), `${unit} Requires=${u.Requires}`);
            assert(after.includes(mount), `${unit} After=${u.After}`);
            assert(
              Number(mnt.ActiveEnterTimestampMonotonic) <= Number(u.InactiveExitTimestampMonotonic),
              `${mount} active at ${mnt.ActiveEnterTimestampMonotonic} µs, ${unit} started at ${u.InactiveExitTimestampMonotonic} µs`,
            );
          },
        );
      }
    }
    if (mail1) {
      await h.check(
        S,
        "mail1: its on-demand mount of mail2's store (hard, NFSv4) recovers after mail2's reboot: the marker written on mail2 reads back on mail1",
        async () => {
          const got = await m1Read(mail1, storeProbe);
          assertEqual(got.trim(), token, `${storeProbe} on mail1`);
        },
      );
    }
    await rootSql(guests["db1"]!, "DROP DATABASE IF EXISTS vmtest_reboot;").catch(() => undefined);
  },
};

/** Reads a file through mail1's store automount (the server may still be coming back). */
async function m1Read(m1: Guest, file: string): Promise<string> {
  return poll(
    `${file} on mail1`,
    300_000,
    async () => {
      const r = await m1.exec(`timeout 60 cat ${file}`, { timeoutMs: 90_000 });
      return r.code === 0 ? r.stdout : undefined;
    },
    5000,
  );
}

/** The shared-storage stack's mailbox node the scenario boots (mail1, the admin node, is played on db1). */
const SHARED_CLIENT = "mail2";
/** The gromox units mail2 runs (stand-ins) that write under /var/lib/gromox. */
const GROMOX_STORE_UNITS = ["gromox-http.service", "gromox-midb.service", "gromox-zcore.service"];

/** The at-boot NFS mount a node's provisioning holds (SharedStorage: the NFS node's export at /var/lib/gromox). */
function sharedMountOf(h: Harness, node: string): { source: string; mountPoint: string; options: string } {
  const m = h.stack.provisioning.get(node)?.mounts.find((x) => x.kind === "nfs" && !x.onDemand);
  assert(m && m.kind === "nfs", `${node} has no at-boot NFS mount`);
  return { source: m.source, mountPoint: m.mountPoint, options: m.options };
}

/** `exportfs -v` of `g` as `path client(options)` entries; empty when nfs-server is not active. */
async function liveExports(g: Guest): Promise<string[]> {
  if ((await g.exec("systemctl is-active nfs-server", { timeoutMs: 60_000 })).stdout.trim() !== "active") return [];
  const r = await g.exec("exportfs -v", { timeoutMs: 60_000 });
  return r.code === 0 ? parseExportfs(r.stdout) : [];
}

/** IPv4 as a number. */
const ipNum = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);

/**
 * Whether an nftables rule's `ip saddr` matches `ip`: one address, a range `a-b`, a prefix `a/n`,
 * or an anonymous set `{ … }` of those (how `nft list` prints them).
 */
export function saddrCovers(rule: string, ip: string): boolean {
  const m = /ip saddr (\{[^}]*\}|\S+)/.exec(rule);
  if (!m) return false;
  const x = ipNum(ip);
  return m[1]!
    .replace(/[{}]/g, "")
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)
    .some((e) => {
      const [lo, hi] = e.split("-");
      if (hi !== undefined) return ipNum(lo!) <= x && x <= ipNum(hi);
      const [net, bits] = e.split("/");
      if (bits === undefined) return ipNum(net!) === x;
      const size = 2 ** (32 - Number(bits));
      return Math.floor(ipNum(net!) / size) === Math.floor(x / size);
    });
}

/** `FSTYPE SOURCE` of what is mounted at `dir` (empty when nothing is); reads the mount table only. */
async function mountedAt(g: Guest, dir: string, timeoutMs = 60_000): Promise<string> {
  const r = await g.exec(`findmnt -n -r -o FSTYPE,SOURCE --mountpoint ${dir}`, { timeoutMs });
  return r.code === 0 ? r.stdout.trim() : "";
}

/**
 * A unit requires the mount unit of `dir` and is ordered after it (RequiresMountsFor), both are
 * active, and the unit started after the mount was active.
 */
async function requiresMount(g: Guest, unit: string, dir: string): Promise<void> {
  const mount = (await g.run(`systemd-escape --path --suffix=mount ${dir}`)).trim();
  const u = await unitProperties(g, unit, ["ActiveState", "Requires", "After", "InactiveExitTimestampMonotonic"]);
  const mnt = await unitProperties(g, mount, ["ActiveState", "ActiveEnterTimestampMonotonic"]);
  assertEqual([u.ActiveState, mnt.ActiveState], ["active", "active"], `states of ${unit} and ${mount}`);
  assert((u.Requires ?? "").split(" ").includes(mount), `${unit} Requires=${u.Requires}`);
  assert((u.After ?? "").split(" ").includes(mount), `${unit} After=${u.After}`);
  assert(
    Number(mnt.ActiveEnterTimestampMonotonic) <= Number(u.InactiveExitTimestampMonotonic),
    `${mount} active at ${mnt.ActiveEnterTimestampMonotonic} µs, ${unit} started at ${u.InactiveExitTimestampMonotonic} µs`,
  );
}

/**
 * What a mailbox node whose shared mount is missing is left with: cloud-init's state, the mount,
 * what sits in /var/lib/gromox on the root disk, the gromox units and their mount dependencies.
 */
async function sharedClientState(h: Harness, g: Guest, dir: string): Promise<void> {
  // Its report may come before cloud-init is done: `cloud-init status --wait` returns at the first
  // recorded error (cloud-init 22.4), while the later stages still run.
  await poll(
    `${g.node}: cloud-init finished (boot-finished)`,
    BOOT_TIMEOUT_MS,
    async () => ((await g.exec("test -e /var/lib/cloud/instance/boot-finished")).code === 0 ? true : undefined),
    5000,
  );
  h.note(
    `${g.node}: cloud-init's final stage finished ${((Date.now() - g.vm.startedAt) / 1000).toFixed(0)} s after its qemu start (seen by then)`,
  );
  const script = [
    "echo '--- cloud-init status --long'; cloud-init status --long 2>&1 | head -n 20",
    "echo '--- bootcmd in cloud-init.log'; grep -E 'bootcmd|grommunio-nfs-client|cannot mount' /var/log/cloud-init.log | tail -n 12",
    "echo '--- cloud-init-output.log around the NFS client step'; grep -n -B2 -A12 -E 'nfs-common|Unable to locate|Failed to fetch|cannot mount' /var/log/cloud-init-output.log | head -n 60",
    `echo '--- fstab (nfs4)'; grep ' nfs4 ' /etc/fstab || echo '(none)'`,
    `echo '--- mounted at ${dir}'; findmnt -n --mountpoint ${dir} || echo '(nothing: ${dir} is on the root file system)'`,
    `echo '--- file system holding ${dir}'; findmnt -n -o TARGET,SOURCE,FSTYPE --target ${dir}`,
    `echo '--- ${dir} (ls -la)'; ls -la ${dir} ${dir}/user ${dir}/domain 2>&1 | head -n 30`,
    `echo '--- gromox units'; for u in ${GROMOX_STORE_UNITS.join(" ")}; do systemctl show $u -p ActiveState -p Requires -p After -p RequiresMountsFor | tr '\\n' ' '; echo; done`,
    "echo '--- nfs-common'; dpkg-query -W -f '${Status} ${Version}\\n' nfs-common 2>&1",
    "echo '--- apt sources'; grep -rh -E '^(URIs|deb)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>&1",
  ].join("; ");
  const r = await g.exec(script, { timeoutMs: 180_000 });
  h.note(`--- ${g.node}'s state (its shared mount is missing)\n${(r.stdout + r.stderr).trimEnd()}`);
}

export const sharedStorage: Scenario = {
  name: "shared-storage",
  description:
    "grommunio's \"Shared storage\" layout (a second stack of the KVM example: SharedStorage with the NFS node nfs1; the same node names and addresses, so it boots on its own, after the other scenarios' guests are off): nfs1 exports its data volume to the mailbox and admin nodes only; mail2 mounts it at /var/lib/gromox at boot (bootcmd) and its gromox units require the mount; a store file written on mail2 is on nfs1's disk with the same owner. nfs1, mail2 and db1 start together, as a cloud starts them",
  stack: "shared-storage",
  nodes: [NFS_NODE, SHARED_CLIENT, "db1"],
  async duringBoot(h, guests, event, over) {
    // When nfs1 first exports the volume to mail2 and when mail2 has it mounted: mail2's boot
    // waits for the export (bootcmd's mount step: 120 tries, 5 s apart).
    const nfs = guests[NFS_NODE]!;
    const m2 = guests[SHARED_CLIENT]!;
    const mount = sharedMountOf(h, SHARED_CLIENT);
    const exportPath = mount.source.slice(mount.source.indexOf(":") + 1);
    const client = h.stack.topology.node(SHARED_CLIENT).ipv4;
    let exported = false;
    let mounted = false;
    while (!over() && !(exported && mounted)) {
      if (!exported) {
        exported = await liveExports(nfs).then(
          (l) => l.some((e) => e.startsWith(`${exportPath} ${client}(`)),
          () => false,
        );
        if (exported) event(`${NFS_NODE} exports ${exportPath} to ${SHARED_CLIENT} (nfs-server active, exportfs -v)`);
      }
      if (!mounted) {
        mounted = (await mountedAt(m2, mount.mountPoint, 30_000).catch(() => "")).startsWith("nfs4 ");
        if (mounted) event(`${SHARED_CLIENT} has ${mount.mountPoint} mounted (nfs4)`);
      }
      await sleep(5000);
    }
  },
  async run({ h, guests, ready, events }) {
    const S = this.name;
    const nfs = guests[NFS_NODE]!;
    const m2 = guests[SHARED_CLIENT]!;
    const db = guests["db1"]!;
    const topo = h.stack.topology;
    const nfsNode = topo.node(NFS_NODE);
    const mount = sharedMountOf(h, SHARED_CLIENT);
    const exportPath = mount.source.slice(mount.source.indexOf(":") + 1);
    const filesN = h.stack.files(NFS_NODE);
    const r2 = ready.get(SHARED_CLIENT);
    h.note(
      `boot: ${[...events].map(([e, t]) => `${e} after ${t.toFixed(0)} s`).join("; ") || "no boot event seen"}; ` +
        `readiness reports ${[...ready].map(([n, r]) => `${n} ${r.seconds.toFixed(0)} s`).join(", ")} (after each node's qemu start)`,
    );
    h.note(
      `${SHARED_CLIENT}'s bootcmd in cloud-init.log:\n${(await m2.exec("grep -E 'bootcmd' /var/log/cloud-init.log | head -n 6", { timeoutMs: 60_000 })).stdout.trimEnd()}`,
    );
    h.outOfScope(
      S,
      "gromox itself writing its stores on the share",
      "grommunio's packages are not reachable from the test host (stand-ins whose units sleep); the checks write a store file as root and chown it as the admin API does",
    );

    await h.check(
      S,
      `${NFS_NODE}: its data volume (vdb, ext4, label nfs-export, fstab by label) is mounted at the export directory ${exportPath}; nfs-server active`,
      async () => {
        const src = (await nfs.run(`findmnt -n -o SOURCE,FSTYPE,LABEL --mountpoint ${exportPath}`)).trim().split(/\s+/);
        assertEqual(src, ["/dev/vdb", "ext4", "nfs-export"], `mount of ${exportPath}`);
        assertEqual(
          (await nfs.run(`grep -c '^LABEL=nfs-export ${exportPath} ext4' /etc/fstab`)).trim(),
          "1",
          "fstab lines",
        );
        assertEqual((await nfs.exec("systemctl is-active nfs-server")).stdout.trim(), "active", "nfs-server");
      },
    );
    await h.check(
      S,
      `${NFS_NODE}: the generated /etc/exports; exportfs -v lists exactly ${exportPath} to the mailbox and admin nodes' addresses (mail1-3), rw, sync, no_root_squash`,
      async () => {
        const exportsFile = filesN.get(NFS_EXPORTS_PATH);
        assert(exportsFile, `${NFS_NODE}'s user-data has no ${NFS_EXPORTS_PATH}`);
        assertEqual(
          (await nfs.run(`sha256sum ${NFS_EXPORTS_PATH}`)).split(" ")[0],
          sha256(exportsFile),
          `${NFS_EXPORTS_PATH} on disk = generated`,
        );
        const want = topo.mailboxNodes.map((n) => `${exportPath} ${n.ipv4}`).sort();
        assertExports(parseExportfs(await nfs.run("exportfs -v")), want);
      },
    );
    // mail2's shared mount and the units that write under it, after a boot of mail2.
    const clientChecks = async (boot: string): Promise<boolean> => {
      const ok = await h.check(
        S,
        `${SHARED_CLIENT}, ${boot}: ${mount.mountPoint} is an nfs4 mount of ${mount.source} (findmnt; vers=4.1, hard), from the one generated fstab line`,
        async () => {
          const m = await mountedAt(m2, mount.mountPoint);
          assertEqual(m, `nfs4 ${mount.source}`, `mounted at ${mount.mountPoint}`);
          const opts = (await m2.run(`findmnt -n -r -o OPTIONS --mountpoint ${mount.mountPoint}`)).trim();
          assert(/(^|,)vers=4\.1(,|$)/.test(opts) && /(^|,)hard(,|$)/.test(opts), `options: ${opts}`);
          assertEqual(
            (await m2.run("grep ' nfs4 ' /etc/fstab || true")).trim(),
            `${mount.source} ${mount.mountPoint} nfs4 ${mount.options} 0 0`,
            "nfs4 lines of /etc/fstab",
          );
        },
      );
      if (!ok) await sharedClientState(h, m2, mount.mountPoint);
      for (const unit of GROMOX_STORE_UNITS) {
        await h.check(
          S,
          `${SHARED_CLIENT}, ${boot}: ${unit} is active, requires the mount of ${mount.mountPoint} and is ordered after it (the generated drop-in's RequiresMountsFor), and started after it was active`,
          () => requiresMount(m2, unit, mount.mountPoint),
        );
      }
      return ok;
    };
    let mountedOk = await clientChecks("first boot");
    if (!mountedOk) {
      // Documented recovery, not the layout's normal path: bootcmd's steps run on every boot, and
      // by the second boot the first one has written the provisioned package sources, so the NFS
      // client's install and the mount are tried again. Whatever the first boot put in
      // /var/lib/gromox on the root disk is then hidden under the mount.
      const how = await m2.vm.stop(300_000);
      m2.vm.restart();
      const r = await m2.readiness(BOOT_TIMEOUT_MS).catch((e: unknown) => e as Error);
      const up = await h.check(
        S,
        `${SHARED_CLIENT}, second boot (its first boot lacked the mount; powered off: ${how}, started again on the same disks): readiness report with cloud-init status done, no failed unit, no WARNING/ERROR in cloud-init.log`,
        () => {
          if (r instanceof Error) throw r;
          h.note(`${SHARED_CLIENT}: second boot's report after ${r.seconds.toFixed(0)} s`);
          assert(
            r.status === "done" && r.failedUnits === 0 && r.warnings === 0,
            `status=${r.status} failed-units=${r.failedUnits} warnings=${r.warnings}\n${r.report}`,
          );
        },
      );
      if (!up && !(r instanceof Error)) h.note(r.report);
      mountedOk = await clientChecks("second boot");
      const hidden = await m2.exec(
        `mkdir -p /run/vmtest-root && mount --bind / /run/vmtest-root && ` +
          `(cd /run/vmtest-root${mount.mountPoint} && find . -maxdepth 3 -printf '%M %u:%g %p\\n' | sort); ` +
          `umount /run/vmtest-root`,
        { timeoutMs: 120_000 },
      );
      h.note(
        `${SHARED_CLIENT}, second boot: under the mount, on the root disk, ${mount.mountPoint} holds (first boot's writes, now hidden):\n${(hidden.stdout + hidden.stderr).trimEnd()}`,
      );
    }

    const dir = `${mount.mountPoint}/user/example.com/vmtest-shared`;
    const probe = `${dir}/probe`;
    const onNfs = (p: string) => exportPath + p.slice(mount.mountPoint.length);
    const payload = `written on ${SHARED_CLIENT} at ${new Date().toISOString()}\n`;
    await h.check(
      S,
      `a store file made on ${SHARED_CLIENT} as root under ${mount.mountPoint}/user (mkdir, a file, chown gromox) is on ${NFS_NODE}'s disk with the same numeric owner and content`,
      async () => {
        assert(
          mountedOk,
          `${mount.mountPoint} is not the NFS mount on ${SHARED_CLIENT}: the file would land on its root disk`,
        );
        const owner = (await m2.run("echo $(id -u gromox):$(id -g gromox)")).trim();
        await m2.run(
          `mkdir -p ${dir} && chown gromox:gromox ${mount.mountPoint}/user/example.com ${dir} && ` +
            `cat > ${probe} && chown gromox:gromox ${probe}`,
          { input: payload },
        );
        const on = (await nfs.run(`stat -c '%u:%g' ${onNfs(dir)} ${onNfs(probe)}`)).trim().split("\n");
        assertEqual(on, [owner, owner], `numeric owners on ${NFS_NODE}'s disk`);
        assertEqual(await nfs.run(`cat ${onNfs(probe)}`), payload, `content on ${NFS_NODE}'s disk`);
        const dev = (await nfs.run(`df --output=source ${onNfs(probe)} | tail -n 1`)).trim();
        assertEqual(dev, "/dev/vdb", `device holding the file on ${NFS_NODE}`);
      },
    );
    await h.check(
      S,
      `gromox and grommunio have the same (pinned) ids on ${NFS_NODE} and ${SHARED_CLIENT}; the file is gromox's by name on both`,
      async () => {
        assertEqual((await nfs.run(PINNED_ACCOUNTS_QUERY)).trim(), PINNED_ACCOUNTS_WANT, `accounts on ${NFS_NODE}`);
        assertEqual((await m2.run(PINNED_ACCOUNTS_QUERY)).trim(), PINNED_ACCOUNTS_WANT, `accounts on ${SHARED_CLIENT}`);
        assertEqual((await nfs.run(`stat -c '%U:%G' ${onNfs(probe)}`)).trim(), "gromox:gromox", `owner on ${NFS_NODE}`);
        assertEqual((await m2.run(`stat -c '%U:%G' ${probe}`)).trim(), "gromox:gromox", `owner on ${SHARED_CLIENT}`);
      },
    );
    await h.check(
      S,
      `${NFS_NODE}'s generated nftables: TCP 2049 from ${SHARED_CLIENT} connects, from db1 it is dropped`,
      async () => {
        const nft = filesN.get(NFTABLES_PATH) ?? "";
        assertEqual(
          (await nfs.run(`sha256sum ${NFTABLES_PATH}`)).split(" ")[0],
          sha256(nft),
          `${NFTABLES_PATH} on disk = generated`,
        );
        const rules = (await nfs.run("nft list chain inet grommunio input"))
          .split("\n")
          .filter((l) => /dport 2049/.test(l))
          .map((l) => l.trim().replace(/ comment .*$/, ""));
        const admits = (ip: string) => rules.some((r) => /accept$/.test(r) && saddrCovers(r, ip));
        assertEqual(
          [admits(topo.node(SHARED_CLIENT).ipv4), admits(topo.node("db1").ipv4)],
          [true, false],
          `live accept rules for 2049 cover [mail2, db1] (${rules.join("; ")})`,
        );
        const outcomes = {
          [`${SHARED_CLIENT} → 2049`]: await connect(m2, "", nfsNode.ipv4, 2049),
          "db1 → 2049": await connect(db, "", nfsNode.ipv4, 2049),
        };
        assertEqual(
          outcomes,
          { [`${SHARED_CLIENT} → 2049`]: CONNECT_OUTCOME[0], "db1 → 2049": CONNECT_OUTCOME[2] },
          `TCP connections to ${NFS_NODE}`,
        );
      },
    );
    if (r2)
      h.note(
        `${SHARED_CLIENT}'s readiness report: status=${r2.status} failed-units=${r2.failedUnits} warnings=${r2.warnings}`,
      );
  },
};

/** What `npm run test:vm` runs without arguments (the shared-storage stack boots after the others). */
export const SCENARIOS: readonly Scenario[] = [database, loadBalancer, classic, storeExport, reboot, sharedStorage];
/** Every scenario a name on the command line can select. */
export const ALL_SCENARIOS: readonly Scenario[] = SCENARIOS;
