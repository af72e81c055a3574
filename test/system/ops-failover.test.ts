/**
 * Failover and rebalance drills: the RENDERED grommunio-failover and grommunio-rebalance run
 * against a real MariaDB holding the gromox schema fixture, 1,000 (then 100,000) users with
 * aliases, three servers with a gap in their ids (1, 2, 5) and domains on each. The database
 * accounts come from the rendered bootstrap; the scripts reach MariaDB through a relay bound to
 * the admin node's address, so MariaDB sees the admin node, as in a cluster. The scripts' own
 * option file is the rendered db.cnf, written to a scratch path (--db-config).
 *
 * The node steps run through `--reload ssh` with $GROMMUNIO_OPS_SSH pointing at a stub: it runs
 * each command in a private mount namespace where /etc/gromox is that node's scratch directory
 * (holding the rendered midb_list.txt) and `systemctl` only logs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { buildTopology, ClusterInput, Topology } from "../../lib/topology";
import { renderGromox } from "../../lib/render/gromox";
import { dbClientFile } from "../../lib/provision";
import {
  FAILOVER_SCRIPT_PATH,
  OPS_DB_CNF,
  OPS_PROGRAM_PATH,
  REBALANCE_SCRIPT_PATH,
  renderOpsFiles,
} from "../../lib/render/ops";
import { MariadbServer, startMariadb } from "./mariadb-server";
import {
  checksums,
  Finished,
  homes,
  prepareClusterDatabase,
  mailboxNodeInputs,
  Relay,
  runAsync,
  spread,
  sql,
  startRelay,
  usersFixtureSql,
  writeFiles,
} from "./ops-support";
import { ownScratchDir, removeScratchDir } from "./scratch";
import { requireProgram } from "./support";

jest.setTimeout(120_000);

const NET = "127.0.91";
const ADMIN = `${NET}.41`;
/** A password with every character an option file or SQL literal could trip over. */
const PASSWORD = `p#a"s\\s w'o;rd=1`;
const HOSTS = new Map([
  [1, "mail1.lo.test"],
  [2, "mail2.lo.test"],
  [5, "mail5.lo.test"],
]);

function clusterInput(dbPort: number, storage: "shared" | "share-nothing" = "shared"): ClusterInput {
  return {
    domain: "lo.test",
    gromoxVersion: "3.10",
    storage,
    network: { cidr: `${NET}.0/24` },
    database: { host: "127.0.0.1", port: dbPort, password: PASSWORD },
    nodes: [
      ...mailboxNodeInputs(HOSTS, NET),
      { name: "classic1", hostname: "classic1.lo.test", roles: ["classic"], ipv4: `${NET}.31` },
      { name: "classic2", hostname: "classic2.lo.test", roles: ["classic"], ipv4: `${NET}.32` },
      { name: "admin1", hostname: "admin1.lo.test", roles: ["admin"], ipv4: ADMIN },
    ],
  };
}

let db: MariadbServer | undefined;
let relay: Relay | undefined;
let topo: Topology;
let dir = "";
let failover = "";
let rebalance = "";
let dbCnf = "";
let createdEtcGromox = false;

function domainsFixtureSql(): string {
  const rows = [
    [1, "lo.test", 1],
    [2, "two.test", 2],
    [3, "three.test", 2],
    [4, "five.test", 5],
    [5, "unplaced.test", 0],
  ] as const;
  return [
    "DELETE FROM domains;",
    `INSERT INTO domains (id, domainname, homeserver, homedir, max_user, end_day, title) VALUES ${rows
      .map(
        ([id, name, home]) =>
          `(${id}, '${name}', ${home}, '${home ? `/var/lib/gromox/domain/${HOSTS.get(home)}/${name}` : ""}', 1000, '2030-12-31', 'Domain ${id}')`,
      )
      .join(", ")};`,
  ].join("\n");
}

function loadFixture(users: number): void {
  sql(db!, domainsFixtureSql() + "\n" + usersFixtureSql(users, HOSTS));
}

function script(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  return runAsync(file, args, { env: { ...process.env, ...env }, timeoutMs: 110_000 });
}

function movedCounts(out: string): { users: number; domains: number } {
  const users = /^users moved: (\d+)$/m.exec(out);
  const domains = /^domains moved: (\d+)$/m.exec(out);
  if (!users || !domains) throw new Error(`no counts in:\n${out}`);
  return { users: Number(users[1]), domains: Number(domains[1]) };
}

const timings: string[] = [];

beforeAll(async () => {
  // the rendered programs are bash with the mariadb client and util-linux's flock
  requireProgram("mariadb", "mariadb-client");
  requireProgram("mariadb-admin", "mariadb-client");
  requireProgram("mariadb-dump", "mariadb-client");
  requireProgram("flock", "util-linux");
  db = await startMariadb({ bindAddress: "127.0.0.1", prefix: "ops-failover-db" });
  relay = await startRelay({ host: db.bindAddress, port: db.port }, ADMIN);
  topo = buildTopology(clusterInput(relay.port));
  prepareClusterDatabase(db, topo, { mapReader: false });
  loadFixture(1000);

  dir = ownScratchDir("ops-failover");
  const files = renderOpsFiles(topo, topo.node("admin1"));
  writeFiles(dir, files);
  failover = path.join(dir, FAILOVER_SCRIPT_PATH);
  rebalance = path.join(dir, REBALANCE_SCRIPT_PATH);
  dbCnf = path.join(dir, OPS_DB_CNF);
});

afterAll(async () => {
  await relay?.stop();
  db?.stop();
  if (dir) removeScratchDir(dir);
  if (createdEtcGromox) fs.rmdirSync("/etc/gromox");
  if (timings.length) console.log(`ops failover drill timings:\n  ${timings.join("\n  ")}`);
});

describe("rendered scripts", () => {
  it("are valid bash / sh and explain themselves", async () => {
    for (const f of [failover, rebalance, path.join(dir, OPS_PROGRAM_PATH)]) {
      const shell = fs.readFileSync(f, "utf8").startsWith("#!/bin/sh\n") ? "sh" : "bash";
      const parsed = await runAsync(shell, ["-n", f]);
      expect(parsed).toMatchObject({ code: 0, stderr: "" });
    }
    for (const f of [failover, rebalance]) {
      const help = await script(f, ["--help"]);
      expect(help).toMatchObject({ code: 0, stderr: "" });
      expect(help.stdout).toContain("--dry-run");
      expect(help.stdout).toContain("--db-config");
    }
    const usage = await script(path.join(dir, OPS_PROGRAM_PATH), []);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("usage: grommunio-ops failover|rebalance");
    expect(fs.statSync(dbCnf).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(dbCnf, "utf8")).toContain(`password="p#a\\"s\\\\s w'o;rd=1"`);
  });
});

describe("option files against the real server", () => {
  it("mariadb-admin and mariadb-dump accept db.cnf and db-client.cnf; mariadb gets the database ([mysql])", async () => {
    // the first-boot steps' db-client.cnf (same account and address here), written next to db.cnf
    const client = dbClientFile(topo);
    const clientCnf = path.join(dir, client.path);
    writeFiles(dir, [client]);
    for (const cnf of [dbCnf, clientCnf]) {
      const ping = await runAsync("mariadb-admin", [`--defaults-file=${cnf}`, "ping"]);
      expect([cnf, ping.code, ping.stderr, ping.stdout.trim()]).toEqual([cnf, 0, "", "mysqld is alive"]);
      const dump = await runAsync("mariadb-dump", [`--defaults-file=${cnf}`, "--no-data", "grommunio", "servers"]);
      expect([cnf, dump.code, dump.stderr]).toEqual([cnf, 0, ""]);
      expect(dump.stdout).toContain("CREATE TABLE `servers`");
      const current = await runAsync("mariadb", [
        `--defaults-file=${cnf}`,
        "-BN",
        "-e",
        "SELECT DATABASE(), CURRENT_USER()",
      ]);
      expect([cnf, current.code, current.stdout]).toEqual([cnf, 0, `grommunio\tgrommunio@${ADMIN}\n`]);
    }
  });
});

describe("failover (1,000 users)", () => {
  it("refuses an unknown host, a move onto itself and a non-host name, changing nothing", async () => {
    const before = checksums(db!);
    const homesBefore = homes(db!, "users");
    for (const args of [
      ["mail2.lo.test", "mail9.lo.test"],
      ["nope.lo.test", "mail1.lo.test"],
      ["mail2.lo.test", "MAIL2.lo.test"],
      ["mail2.lo.test'; DROP TABLE users; --", "mail1.lo.test"],
    ]) {
      const r = await script(failover, ["--db-config", dbCnf, "--reload", "none", ...args]);
      expect(r.code).toBe(2);
      expect(r.stdout).not.toMatch(/moved/);
    }
    const unknown = await script(failover, ["--db-config", dbCnf, "mail2.lo.test", "mail9.lo.test"]);
    expect(unknown.stderr).toContain(
      "unknown host mail9.lo.test; servers: mail1.lo.test (id 1), mail2.lo.test (id 2), mail5.lo.test (id 5)",
    );
    const self = await script(failover, ["--db-config", dbCnf, "mail2.lo.test", "MAIL2.lo.test"]);
    expect(self.stderr).toContain("refusing to move mail2.lo.test onto itself");
    expect(checksums(db!)).toEqual(before);
    expect(homes(db!, "users")).toEqual(homesBefore);
  });

  it("--dry-run prints the transaction, the counts and the node steps, and changes nothing", async () => {
    const before = checksums(db!);
    const users = homes(db!, "users");
    const domains = homes(db!, "domains");
    const r = await script(failover, [
      "--db-config",
      dbCnf,
      "--dry-run",
      "--reload",
      "ssh",
      "mail2.lo.test",
      "mail1.lo.test",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("START TRANSACTION;");
    expect(r.stdout).toContain("UPDATE users SET homeserver = @grx_to WHERE homeserver = @grx_from;");
    expect(r.stdout).toContain("UPDATE domains SET homeserver = @grx_to WHERE homeserver = @grx_from;");
    expect(r.stdout).toContain(`users to move: ${[...users.values()].filter((h) => h === 2).length}`);
    expect(r.stdout).toContain("domains to move: 2");
    expect(r.stdout).toContain("systemctl reload gromox-http gromox-midb gromox-zcore");
    expect(r.stdout).not.toContain("# on mail2 ");
    expect(checksums(db!)).toEqual(before);
    expect(homes(db!, "users")).toEqual(users);
    expect(homes(db!, "domains")).toEqual(domains);
  });

  it("one transaction: when the domains UPDATE fails, the users UPDATE before it is rolled back", async () => {
    sql(
      db!,
      "CREATE TRIGGER grx_test_fail BEFORE UPDATE ON domains FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure';",
    );
    try {
      const before = checksums(db!);
      const users = homes(db!, "users");
      const domains = homes(db!, "domains");
      const r = await script(failover, ["--db-config", dbCnf, "--reload", "none", "mail2.lo.test", "mail1.lo.test"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("injected failure");
      expect(r.stderr).toContain("not committed (MariaDB rolls back an unfinished transaction): nothing changed");
      expect(r.stdout).not.toMatch(/moved/);
      expect(homes(db!, "users")).toEqual(users);
      expect(homes(db!, "domains")).toEqual(domains);
      expect(checksums(db!)).toEqual(before);
    } finally {
      sql(db!, "DROP TRIGGER grx_test_fail;");
    }
  });

  it("moves every user and domain of server 2 to server 1 in one transaction; nothing else changes; node steps run", async () => {
    // Per node: /etc/gromox with the rendered midb_list.txt; a systemctl that logs.
    const stub = path.join(dir, "stub");
    fs.mkdirSync(path.join(stub, "bin"), { recursive: true });
    fs.writeFileSync(path.join(stub, "bin", "systemctl"), '#!/bin/sh\necho "$*" >> "$STUB_LOG"\n', { mode: 0o755 });
    for (const n of topo.nodes) {
      const etc = path.join(stub, n.ipv4, "etc-gromox");
      fs.mkdirSync(etc, { recursive: true });
      for (const f of renderGromox(topo, n).filter((x) => x.path.endsWith("/midb_list.txt"))) {
        fs.writeFileSync(path.join(etc, "midb_list.txt"), f.content, { mode: 0o640 });
      }
    }
    fs.rmSync(path.join(stub, `${NET}.22`), { recursive: true }); // the failed node does not answer
    const ssh = path.join(stub, "ssh");
    fs.writeFileSync(
      ssh,
      [
        "#!/bin/bash",
        "# ssh stand-in: ... -l root <address> <command>",
        'host="${@: -2:1}"; cmd="${@: -1}"; root="$STUB_ROOT/$host"',
        'echo "$host" >> "$STUB_ROOT/ssh.log"',
        '[ -d "$root" ] || { echo "ssh: connect to host $host port 22: No route to host" >&2; exit 255; }',
        'exec unshare -m sh -c \'mount --bind "$1/etc-gromox" /etc/gromox && PATH="$2:$PATH" STUB_LOG="$1/systemctl.log" sh -c "$3"\' stub "$root" "$STUB_ROOT/bin" "$cmd"',
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    if (!fs.existsSync("/etc/gromox")) {
      fs.mkdirSync("/etc/gromox"); // bind target only; removed in afterAll
      createdEtcGromox = true;
    }

    const before = checksums(db!);
    const users = homes(db!, "users");
    const domains = homes(db!, "domains");
    const onTwo = [...users.values()].filter((h) => h === 2).length;
    expect(onTwo).toBeGreaterThan(300);
    const r = await script(failover, ["--db-config", dbCnf, "--reload", "ssh", "mail2.lo.test", "mail1.lo.test"], {
      GROMMUNIO_OPS_SSH: ssh,
      STUB_ROOT: stub,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(movedCounts(r.stdout)).toEqual({ users: onTwo, domains: 2 });
    timings.push(`failover 1,000 users (${onTwo} moved): ${r.ms} ms (script wall time)`);

    // Every user and domain of 2 is on 1; all others untouched; no row lost, duplicated or altered.
    const expected = (m: Map<number, number>) => new Map([...m].map(([id, h]) => [id, h === 2 ? 1 : h]));
    expect(homes(db!, "users")).toEqual(expected(users));
    expect(homes(db!, "domains")).toEqual(expected(domains));
    expect(checksums(db!)).toEqual(before);

    // Node steps: not on the failed node; mailbox nodes reload, classic nodes re-point midb and restart imap/pop3.
    expect(fs.readFileSync(path.join(stub, "ssh.log"), "utf8").trim().split("\n").sort()).toEqual(
      [`${NET}.21`, `${NET}.25`, `${NET}.31`, `${NET}.32`].sort(),
    );
    const log = (ip: string) => fs.readFileSync(path.join(stub, ip, "systemctl.log"), "utf8");
    for (const ip of [`${NET}.21`, `${NET}.25`]) expect(log(ip)).toBe("reload gromox-http gromox-midb gromox-zcore\n");
    const rendered = renderGromox(topo, topo.node("classic1")).find((f) => f.path.endsWith("/midb_list.txt"))!.content;
    for (const ip of [`${NET}.31`, `${NET}.32`]) {
      expect(log(ip)).toBe("restart gromox-imap gromox-pop3\nreload gromox-delivery gromox-delivery-queue\n");
      const midb = fs.readFileSync(path.join(stub, ip, "etc-gromox", "midb_list.txt"), "utf8");
      expect(midb).toBe(rendered.replace(/ ::ffff:127\.0\.91\.22 /g, ` ::ffff:${NET}.21 `));
      expect(midb).toContain(`/var/lib/gromox/user/mail2.lo.test/ ::ffff:${NET}.21 5555`);
      expect(midb).toContain(`/var/lib/gromox/user/mail5.lo.test/ ::ffff:${NET}.25 5555`);
      expect(fs.statSync(path.join(stub, ip, "etc-gromox", "midb_list.txt")).mode & 0o777).toBe(0o640);
    }
    expect(fs.readdirSync(path.join(stub, `${NET}.31`, "etc-gromox"))).toEqual(["midb_list.txt"]);

    // A second failover of the now empty server moves nothing and leaves midb_list.txt alone (imap/pop3 reloaded only).
    for (const ip of [`${NET}.31`]) fs.writeFileSync(path.join(stub, ip, "systemctl.log"), "");
    const again = await script(failover, ["--db-config", dbCnf, "--reload", "ssh", "mail2.lo.test", "mail1.lo.test"], {
      GROMMUNIO_OPS_SSH: ssh,
      STUB_ROOT: stub,
    });
    expect(again.code).toBe(0);
    expect(movedCounts(again.stdout)).toEqual({ users: 0, domains: 0 });
    expect(log(`${NET}.31`)).toBe("reload gromox-imap gromox-pop3\nreload gromox-delivery gromox-delivery-queue\n");
  });

  it("an unreachable node: the database change stays committed, exit 3, the commands are printed", async () => {
    const stub = path.join(dir, "stub");
    const r = await script(failover, ["--db-config", dbCnf, "--reload", "ssh", "mail5.lo.test", "mail2.lo.test"], {
      GROMMUNIO_OPS_SSH: path.join(stub, "ssh"),
      STUB_ROOT: stub,
    });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^FAILED mail2 \(mail2\.lo\.test, 127\.0\.91\.22\)$/m);
    expect(r.stdout).toContain("the database change is committed; run these by hand:");
    expect(spread(db!).get(5)).toBeUndefined();
    // back to where the rebalance tests expect it
    const back = await script(failover, ["--db-config", dbCnf, "--reload", "none", "mail2.lo.test", "mail5.lo.test"]);
    expect(back.code).toBe(0);
    expect(back.stderr).toBe("");
  });

  it("failing over the hub warns that gromox-event and gromox-timer stay there", async () => {
    expect(topo.hub.hostname).toBe("mail1.lo.test");
    const r = await script(failover, ["--db-config", dbCnf, "--reload", "none", "mail1.lo.test", "mail5.lo.test"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      "warning: mail1.lo.test is the hub: the cluster's gromox-event and gromox-timer run there",
    );
    const back = await script(failover, ["--db-config", dbCnf, "--reload", "none", "mail5.lo.test", "mail1.lo.test"]);
    expect(back.code).toBe(0);
  });

  it("a domain cannot move onto a server id above 127 (signed domains.homeserver): refused, nothing changed", async () => {
    sql(db!, "INSERT INTO servers (id, hostname, extname) VALUES (200, 'mail200.lo.test', 'mail200.lo.test');");
    try {
      const before = checksums(db!);
      const users = homes(db!, "users");
      const r = await script(failover, ["--db-config", dbCnf, "--reload", "none", "mail1.lo.test", "mail200.lo.test"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("domains.homeserver is a signed TINYINT (at most 127)");
      expect(checksums(db!)).toEqual(before);
      expect(homes(db!, "users")).toEqual(users);
    } finally {
      sql(db!, "DELETE FROM servers WHERE id = 200;");
    }
  });
});

describe("rebalance (1,000 users)", () => {
  it("--dry-run changes nothing; share-nothing clusters have no rebalance", async () => {
    const before = checksums(db!);
    const users = homes(db!, "users");
    const dry = await script(rebalance, ["--db-config", dbCnf, "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("ROW_NUMBER() OVER (ORDER BY maildir, id)");
    expect(dry.stdout).toMatch(/^users to move: \d+$/m);
    expect(homes(db!, "users")).toEqual(users);

    const sn = buildTopology(clusterInput(relay!.port, "share-nothing"));
    const snFiles = renderOpsFiles(sn, sn.node("admin1"));
    expect(snFiles.map((f) => f.path)).not.toContain(REBALANCE_SCRIPT_PATH);
    const snDir = writeFiles(path.join(dir, "share-nothing"), snFiles);
    const refused = await script(path.join(snDir, OPS_PROGRAM_PATH), ["rebalance", "--db-config", dbCnf]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("usage: grommunio-ops failover [--help]");
    const help = await script(path.join(snDir, FAILOVER_SCRIPT_PATH), ["--help"]);
    expect(help.code).toBe(0);
    expect(checksums(db!)).toEqual(before);
    expect(homes(db!, "users")).toEqual(users);
  });

  it("spreads the placed users within ±1 over servers 1, 2, 5; a second run changes nothing", async () => {
    const before = checksums(db!);
    const unplaced = [...homes(db!, "users")].filter(([, h]) => h === 0).map(([id]) => id);
    const r = await script(rebalance, ["--db-config", dbCnf, "--reload", "none"]);
    expect(r.code).toBe(0);
    const counts = [...spread(db!).entries()];
    expect(counts.map(([h]) => h)).toEqual([1, 2, 5]);
    const n = counts.map(([, c]) => c);
    expect(Math.max(...n) - Math.min(...n)).toBeLessThanOrEqual(1);
    expect(n.reduce((a, b) => a + b, 0)).toBe(1000 - unplaced.length);
    expect([...homes(db!, "users")].filter(([, h]) => h === 0).map(([id]) => id)).toEqual(unplaced);
    expect(checksums(db!)).toEqual(before);
    // The plan follows maildir order: consecutive maildirs go to consecutive live servers.
    const order = sql(db!, "SELECT homeserver FROM users WHERE homeserver <> 0 ORDER BY maildir, id LIMIT 6;").map(
      (x) => x[0],
    );
    expect(order).toEqual(["1", "2", "5", "1", "2", "5"]);

    const homesAfter = homes(db!, "users");
    const again = await script(rebalance, ["--db-config", dbCnf, "--reload", "none"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^users moved: 0$/m);
    expect(homes(db!, "users")).toEqual(homesAfter);
  });

  it("--servers: an explicit live set; unknown names are refused", async () => {
    const r = await script(rebalance, [
      "--db-config",
      dbCnf,
      "--reload",
      "none",
      "--servers",
      "mail1.lo.test,mail5.lo.test",
    ]);
    expect(r.code).toBe(0);
    const n = [...spread(db!).entries()];
    expect(n.map(([h]) => h)).toEqual([1, 5]);
    expect(Math.abs(n[0]![1] - n[1]![1])).toBeLessThanOrEqual(1);
    const users = homes(db!, "users");
    const bad = await script(rebalance, ["--db-config", dbCnf, "--servers", "mail1.lo.test,mail7.lo.test"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown host mail7.lo.test");
    expect(homes(db!, "users")).toEqual(users);
  });
});

describe("100,000 users", () => {
  /** One checksum over (id, homeserver) of every user, with `home` as the homeserver expression. */
  const placement = (home = "homeserver") =>
    sql(
      db!,
      `SELECT COUNT(*), BIT_XOR(CRC32(CONCAT(id, ':', ${home}))), SUM(CRC32(CONCAT(id, ':', ${home}))) FROM users;`,
    )[0];

  it("failover and rebalance complete; counts and checksums hold", async () => {
    loadFixture(100_000);
    const before = checksums(db!);
    const onTwo = spread(db!).get(2)!;
    const expected = placement("IF(homeserver = 2, 1, homeserver)");
    const r = await script(failover, ["--db-config", dbCnf, "--reload", "none", "mail2.lo.test", "mail1.lo.test"]);
    expect(r.code).toBe(0);
    expect(movedCounts(r.stdout)).toEqual({ users: onTwo, domains: 2 });
    timings.push(
      `failover 100,000 users (${onTwo} moved): ${r.ms} ms (script wall time; ${/committed in ([\d.]+) s/.exec(r.stdout)![1]} s in the transaction)`,
    );
    expect(placement()).toEqual(expected);
    expect(spread(db!).get(2)).toBeUndefined();
    expect(checksums(db!)).toEqual(before);

    const rb = await script(rebalance, ["--db-config", dbCnf, "--reload", "none"]);
    expect(rb.code).toBe(0);
    timings.push(`rebalance 100,000 users (${/users moved: (\d+)/.exec(rb.stdout)![1]} moved): ${rb.ms} ms`);
    const n = [...spread(db!).values()];
    expect(n).toHaveLength(3);
    expect(Math.max(...n) - Math.min(...n)).toBeLessThanOrEqual(1);
    expect(checksums(db!)).toEqual(before);
    const settled = placement();
    const again = await script(rebalance, ["--db-config", dbCnf, "--reload", "none"]);
    expect(again.stdout).toMatch(/^users moved: 0$/m);
    expect(placement()).toEqual(settled);
  });
});
