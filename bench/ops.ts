/**
 * Day-2 operations timings (not a test): `npm run bench:ops` prints a Markdown table (and writes
 * bench/results/ops-latest.md and .json). Real programs on loopback, as in the system tests
 * test/system/ops-failover.test.ts and ops-mailbox-map.test.ts (same harness, same fixtures):
 *
 * - a MariaDB 10.11 with the gromox schema fixture, the rendered bootstrap, servers seed, map view
 *   and map-reader grants; users from `usersFixtureSql` (3 servers with ids 1, 2, 5; every 97th
 *   user unplaced, every 5th with an alias) and 5 domains;
 * - **failover**: the RENDERED grommunio-failover of the admin node moves server 2 to 1
 *   (`--reload none`: the database part; node steps are ssh round trips), fixture reloaded before
 *   each run (not timed). Wall time of the program and the transaction time it prints;
 * - **map refresh**: the real haproxy with the generated node-aware config and dummy HTTPS mailbox
 *   nodes; per run, the users with id = 3 (mod 10) on servers 2 and 5 swap them (about 6.6 % of
 *   the users), then the RENDERED
 *   grommunio-mailbox-map runs once (query, build, validate, atomic write, prepare/add/commit over
 *   the runtime API). Without client load, and under a constant request loop: `--loops` clients,
 *   each sending requests one after another (curl, basic auth of users that move and that stay)
 *   from before the refresh until after it; every request that is not HTTP 200 from a mailbox
 *   node counts as failed.
 *
 * Options (flags or environment):
 *   --users LIST   BENCH_OPS_USERS   user counts (default 1000,100000)
 *   --reps N       BENCH_OPS_REPS    runs per measurement (default 3)
 *   --loops N      BENCH_OPS_LOOPS   concurrent request loops during a loaded refresh (default 4)
 *   --out FILE     BENCH_OPS_OUT     default bench/results/ops-latest.json (and .md)
 * Needs what the system tests need (scripts/install-system-deps.sh) and root (mount namespaces).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execSync } from "node:child_process";
import { buildTopology, ClusterInput, Topology } from "../lib/topology";
import { PORTS } from "../lib/topology/ports";
import { renderHaproxy } from "../lib/render/haproxy";
import {
  FAILOVER_SCRIPT_PATH,
  MAILBOX_MAP_JOB_PATH,
  MAP_READER_CNF,
  OPS_DB_CNF,
  renderOpsFiles,
} from "../lib/render/ops";
import {
  curl,
  Dummy,
  dummyBackend,
  echoOf,
  selfSignedCert,
  startHaproxy,
  waitFor,
} from "../test/system/haproxy-harness";
import { MariadbServer, startMariadb } from "../test/system/mariadb-server";
import {
  Finished,
  mailboxNodeInputs,
  prepareClusterDatabase,
  runAsync,
  runInNamespace,
  sql,
  startRelay,
  usersFixtureSql,
  writeFiles,
} from "../test/system/ops-support";
import { ownScratchDir, removeScratchDir } from "../test/system/scratch";
import { Summary, summarize } from "./stats";
import { parseFlags } from "./flags";

const ROOT = path.resolve(__dirname, "..");
const NET = "127.0.93";
const ADMIN = `${NET}.41`;
const LB = `${NET}.10`;
const PUBLIC = "mail.lo.test";
const HOSTS = new Map([
  [1, "mail1.lo.test"],
  [2, "mail2.lo.test"],
  [5, "mail5.lo.test"],
]);

interface Options {
  readonly users: number[];
  readonly reps: number;
  readonly loops: number;
  readonly out: string;
}

function parseOptions(argv: readonly string[]): Options {
  const { get, int, list } = parseFlags(argv);
  return {
    users: list("users", "BENCH_OPS_USERS", [1000, 100000]),
    reps: int("reps", "BENCH_OPS_REPS", 3),
    loops: int("loops", "BENCH_OPS_LOOPS", 4),
    out: path.resolve(get("out", "BENCH_OPS_OUT") ?? path.join(ROOT, "bench", "results", "ops-latest.json")),
  };
}

function clusterInput(dbPort: number): ClusterInput {
  return {
    domain: "lo.test",
    gromoxVersion: "3.10",
    storage: "shared",
    network: { cidr: `${NET}.0/24` },
    database: { host: "127.0.0.1", port: dbPort, password: "bench-db", mapReaderPassword: "bench-map" },
    loadBalancer: { flavor: "haproxy", publicName: PUBLIC, nodeAwareRouting: true },
    nodes: [
      ...mailboxNodeInputs(HOSTS, NET),
      { name: "admin1", hostname: "admin1.lo.test", roles: ["admin"], ipv4: ADMIN },
      { name: "lb1", hostname: "lb1.lo.test", roles: ["load-balancer"], ipv4: LB },
    ],
  };
}

const DOMAINS_SQL = [
  "DELETE FROM domains;",
  "INSERT INTO domains (id, domainname, homeserver, max_user, end_day) VALUES (1, 'lo.test', 1, 1000000, '2030-12-31'), (2, 'two.test', 2, 10, '2030-12-31'), (3, 'three.test', 2, 10, '2030-12-31'), (4, 'five.test', 5, 10, '2030-12-31'), (5, 'unplaced.test', 0, 10, '2030-12-31');",
].join("\n");

/** Users with id = 3 (mod 10) on server 2 or 5 swap them (~6.6 % of the users; applied twice, back). */
const MOVE_SQL = "UPDATE users SET homeserver = IF(homeserver = 2, 5, 2) WHERE homeserver IN (2, 5) AND id % 10 = 3;";

interface FailoverRun {
  readonly ms: number;
  readonly transactionS: number;
  readonly users: number;
  readonly domains: number;
}

interface RefreshRun {
  readonly ms: number;
  readonly queryS: number;
  readonly entries: number;
  readonly chunks: number;
  readonly requests: number;
  readonly failed: number;
  readonly failures: string[];
}

function need<T>(v: T | undefined | null, what: string, out: string): T {
  if (v === undefined || v === null) throw new Error(`${what} not found in:\n${out}`);
  return v;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const load = () =>
    os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(" ");
  const started = { load: load(), at: new Date().toISOString() };
  let db: MariadbServer | undefined;
  const relays: { stop(): Promise<void> }[] = [];
  const dummies: Dummy[] = [];
  let haproxy: Awaited<ReturnType<typeof startHaproxy>> | undefined;
  let dir = "";
  const failover = new Map<number, FailoverRun[]>();
  const quiet = new Map<number, RefreshRun[]>();
  const loaded = new Map<number, RefreshRun[]>();
  try {
    db = await startMariadb({ bindAddress: "127.0.0.1", prefix: "bench-ops-db" });
    const adminRelay = await startRelay({ host: db.bindAddress, port: db.port }, ADMIN);
    const lbRelay = await startRelay({ host: db.bindAddress, port: db.port }, LB);
    relays.push(adminRelay, lbRelay);
    // The same cluster twice: the database reached through the admin node's relay / the LB's.
    const viaAdmin: Topology = buildTopology(clusterInput(adminRelay.port));
    const viaLb: Topology = buildTopology(clusterInput(lbRelay.port));
    prepareClusterDatabase(db, viaLb, { mapReader: true });

    dir = ownScratchDir("bench-ops");
    writeFiles(path.join(dir, "admin1"), renderOpsFiles(viaAdmin, viaAdmin.node("admin1")));
    writeFiles(path.join(dir, "lb1"), renderOpsFiles(viaLb, viaLb.node("lb1")));
    const failoverScript = path.join(dir, "admin1", FAILOVER_SCRIPT_PATH);
    const dbCnf = path.join(dir, "admin1", OPS_DB_CNF);
    const job = path.join(dir, "lb1", MAILBOX_MAP_JOB_PATH);
    const readerCnf = path.join(dir, "lb1", MAP_READER_CNF);

    const backendTls = selfSignedCert("backend.lo.test", "ec");
    for (const n of viaLb.mailboxNodes)
      dummies.push(dummyBackend(n.hostname, n.ipv4, PORTS.mailboxWeb.port, backendTls));
    await Promise.all(dummies.map((d) => d.start()));
    haproxy = startHaproxy({
      files: renderHaproxy(viaLb, viaLb.node("lb1"), { bindAddress: LB, maxConnections: 2000 }),
      extra: { "proxy.pem": selfSignedCert(PUBLIC, "rsa").pem },
    });
    const up = await waitFor(async () => {
      const rows = (await haproxy!.stats()).filter((r) => r.pxname === "be_gromox" && r.svname !== "BACKEND");
      return rows.length === 3 && rows.every((r) => r.status === "UP");
    }, 15_000);
    if (!up) throw new Error("the dummy mailbox nodes did not come up in haproxy");
    const h = haproxy;

    const runJob = (args: readonly string[] = []): Promise<Finished> =>
      runInNamespace(
        { "/etc/haproxy": h.etcDir, "/run/haproxy": h.runDir },
        [job, "--db-config", readerCnf, ...args].map((a) => `'${a}'`).join(" "),
        { timeoutMs: 600_000 },
      );
    const refreshOf = (r: Finished, loops: { requests: number; failures: string[] }): RefreshRun => {
      if (r.code !== 0 || !r.stderr.includes("loaded through the runtime API")) {
        throw new Error(`map job (exit ${r.code}):\n${r.stderr}`);
      }
      return {
        ms: r.ms,
        queryS: Number(need(/query ([\d.]+) s/.exec(r.stderr), "query time", r.stderr)[1]),
        entries: Number(need(/: (\d+) entries/.exec(r.stderr), "entries", r.stderr)[1]),
        chunks: Number(need(/\((\d+) chunks\)/.exec(r.stderr), "chunks", r.stderr)[1]),
        requests: loops.requests,
        failed: loops.failures.length,
        failures: loops.failures.slice(0, 5),
      };
    };

    // Client source addresses: one per loop and run (127.0.93.100-250), so no stick-table entry decides.
    let nextHost = 100;
    const source = () => `${NET}.${100 + (nextHost++ % 150)}`;
    const probes = [
      "user3@lo.test",
      "user13@lo.test",
      "user1@lo.test",
      "user2@lo.test",
      "user5@lo.test",
      "user23@lo.test",
    ];
    async function requestLoops(during: Promise<unknown>): Promise<{ requests: number; failures: string[] }> {
      let stopped = false;
      void during.finally(() => (stopped = true));
      const failures: string[] = [];
      let requests = 0;
      await Promise.all(
        Array.from({ length: o.loops }, async (_, i) => {
          const from = source();
          const user = probes[i % probes.length]!;
          for (let after = 0; after < 3;) {
            if (stopped) after++;
            requests++;
            const r = await curl(`https://${PUBLIC}/EWS/Exchange.asmx`, {
              connectTo: LB,
              source: from,
              args: ["-u", `${user}:pw`],
              timeoutS: 10,
            });
            try {
              if (r.code !== 0 || r.status !== 200)
                throw new Error(`curl ${r.code}, HTTP ${r.status}: ${r.stderr.trim()}`);
              echoOf(r);
            } catch (e) {
              failures.push(`${user}: ${String(e)}`);
            }
          }
        }),
      );
      return { requests, failures };
    }

    for (const users of o.users) {
      process.stderr.write(`${users} users: failover …\n`);
      const fo: FailoverRun[] = [];
      for (let i = 0; i < o.reps; i++) {
        sql(db, DOMAINS_SQL + "\n" + usersFixtureSql(users, HOSTS));
        const r = await runAsync(
          failoverScript,
          ["--db-config", dbCnf, "--reload", "none", "mail2.lo.test", "mail1.lo.test"],
          {
            timeoutMs: 600_000,
          },
        );
        if (r.code !== 0) throw new Error(`failover (exit ${r.code}):\n${r.stdout}${r.stderr}`);
        fo.push({
          ms: r.ms,
          transactionS: Number(need(/committed in ([\d.]+) s/.exec(r.stdout), "transaction time", r.stdout)[1]),
          users: Number(need(/^users moved: (\d+)$/m.exec(r.stdout), "users moved", r.stdout)[1]),
          domains: Number(need(/^domains moved: (\d+)$/m.exec(r.stdout), "domains moved", r.stdout)[1]),
        });
      }
      failover.set(users, fo);

      process.stderr.write(`${users} users: map refresh …\n`);
      sql(db, DOMAINS_SQL + "\n" + usersFixtureSql(users, HOSTS));
      const first = await runJob(["--force"]); // the map as it is now, loaded (not measured)
      if (first.code !== 0) throw new Error(first.stderr);
      const q: RefreshRun[] = [];
      const l: RefreshRun[] = [];
      for (let i = 0; i < o.reps; i++) {
        sql(db, MOVE_SQL);
        q.push(refreshOf(await runJob(), { requests: 0, failures: [] }));
        sql(db, MOVE_SQL);
        let finished: Finished | undefined;
        const run = (async () => {
          await new Promise((r) => setTimeout(r, 500)); // the loops are running
          finished = await runJob();
        })();
        const loops = await requestLoops(run);
        await run;
        l.push(refreshOf(finished!, loops));
      }
      quiet.set(users, q);
      loaded.set(users, l);
    }
  } finally {
    await haproxy?.stop();
    await Promise.all(dummies.map((d) => d.stop()));
    for (const r of relays) await r.stop();
    db?.stop();
    if (dir) removeScratchDir(dir);
  }

  const ms = (s: Summary) => `${s.median.toFixed(0)} ms (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;
  const sec = (s: Summary) => `${s.median.toFixed(3)} s`;
  const commit = (() => {
    try {
      return execSync("git rev-parse --short HEAD", { cwd: ROOT, encoding: "utf8" }).trim();
    } catch {
      return "unknown";
    }
  })();
  const lines = [
    `Ops timings: commit ${commit}, ${started.at}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), load average at start ${started.load}, at end ${load()}; ${o.reps} runs each, median (min–max) wall time.`,
    "",
    "| users | failover (wall) | in the transaction | moved users / domains | map refresh, no load | query | map refresh, under request loops | requests / failed | entries / chunks |",
    "| ----: | --------------- | -----------------: | --------------------- | -------------------- | ----: | -------------------------------- | ----------------- | ---------------- |",
    ...o.users
      .map((u) => {
        const f = failover.get(u)!;
        const q = quiet.get(u)!;
        const l = loaded.get(u)!;
        return [
          u.toLocaleString("en"),
          ms(summarize(f.map((x) => x.ms))),
          sec(summarize(f.map((x) => x.transactionS))),
          `${f[0]!.users} / ${f[0]!.domains}`,
          ms(summarize(q.map((x) => x.ms))),
          sec(summarize(q.map((x) => x.queryS))),
          ms(summarize(l.map((x) => x.ms))),
          `${l.reduce((a, x) => a + x.requests, 0)} / ${l.reduce((a, x) => a + x.failed, 0)}`,
          `${q[0]!.entries} / ${q[0]!.chunks}`,
        ].join(" | ");
      })
      .map((row) => `| ${row} |`),
    "",
  ];
  const failures = [...loaded.values()].flat().flatMap((x) => x.failures);
  if (failures.length) lines.push("Failed requests (first ones):", ...failures.map((f) => `- ${f}`), "");
  const md = lines.join("\n");
  process.stdout.write(md);
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  fs.writeFileSync(
    o.out,
    JSON.stringify(
      {
        commit,
        started,
        options: o,
        failover: Object.fromEntries(failover),
        refreshQuiet: Object.fromEntries(quiet),
        refreshLoaded: Object.fromEntries(loaded),
      },
      null,
      2,
    ) + "\n",
  );
  fs.writeFileSync(o.out.replace(/\.json$/, "") + ".md", md);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
