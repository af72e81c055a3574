/**
 * A real MariaDB server (Debian 12, 10.11) that a test owns: scratch datadir (scratch.ts) created by
 * mariadb-install-db, its own unix socket, pid file and error log, TCP on a loopback address and
 * a free port. Grant tables are real (no --skip-grant-tables): root logs in over the socket
 * (unix_socket authentication, as on Debian), everyone else over TCP with a password.
 *
 * ```ts
 * const db = await startMariadb({ bindAddress: "127.0.0.60" });
 * try {
 *   db.sqlAsRoot("CREATE DATABASE grommunio;");
 *   loadSchemaFixture(db, "grommunio");                 // test/fixtures/schema.sql
 *   const r = await db.sqlFrom("127.0.0.20", "grommunio", "secret", "SELECT 1", "grommunio");
 * } finally {
 *   db.stop();
 * }
 * ```
 *
 * `sqlFrom` makes the server see a chosen source address: the MariaDB client has no
 * `--bind-address` (the MySQL client has), so it connects through a one-shot `socat` relay whose
 * outgoing socket is bound to that address. Any 127.0.0.0/8 address works as a source or bind
 * address without being assigned to lo (the whole /8 is a local route).
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { RunResult, requireProgram, run } from "./support";
import { ownScratchDir, removeScratchDir } from "./scratch";

/** test/fixtures/schema.sql: servers, users, aliases, domains, forwards, configs (gromox.md §8). */
export const SCHEMA_FIXTURE = path.join(__dirname, "..", "fixtures", "schema.sql");

export interface MariadbOptions {
  /** Loopback address to listen on. @default "127.0.0.1", or the `bind-address` of `extraConfig` */
  readonly bindAddress?: string;
  /** TCP port. @default a free port; "config" keeps the port of `extraConfig` */
  readonly port?: number | "config";
  /**
   * Option-file texts appended after the sandbox's own settings, in order (e.g. the rendered
   * 60-grommunio.cnf). Their `bind-address`/`port` are overridden by `bindAddress`/`port`
   * only when those are given; paths (datadir, socket, pid, log) always stay the sandbox's.
   */
  readonly extraConfig?: readonly string[];
  /** Read Debian's /etc/mysql/mariadb.conf.d/50-server.cnf first, as the real server does. @default false */
  readonly debianServerConfig?: boolean;
  /** Scratch directory prefix. @default "mariadb" */
  readonly prefix?: string;
  /** Start timeout. @default 30000 */
  readonly timeoutMs?: number;
}

export interface MariadbServer {
  readonly root: string;
  readonly datadir: string;
  readonly socket: string;
  readonly bindAddress: string;
  readonly port: number;
  readonly errorLog: string;
  /** Runs SQL as MariaDB root over the socket (`mariadb --batch`); never throws on SQL errors. */
  sqlAsRoot(sql: string, database?: string): RunResult;
  /**
   * Runs SQL as `user` over TCP from `sourceAddress` (a loopback address), through a one-shot
   * socat relay. Never throws on SQL or login errors: look at status and stderr
   * (e.g. `ERROR 1045 (28000): Access denied for user …`).
   */
  sqlFrom(sourceAddress: string, user: string, password: string, sql: string, database?: string): Promise<RunResult>;
  /**
   * Shuts the server down and waits for it (SIGKILL after 20 s), then removes the scratch
   * directory (kept when $GRX_KEEP_SCRATCH is set). Safe to call twice.
   */
  stop(): void;
}

/** A free TCP port on `address` (bound and released). */
export function freePort(address = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, address, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts a MariaDB server of its own (see the module comment). Stop it in afterAll/finally. */
export async function startMariadb(opts: MariadbOptions = {}): Promise<MariadbServer> {
  const mariadbd = requireProgram("mariadbd", "mariadb-server");
  const installDb = requireProgram("mariadb-install-db", "mariadb-server");
  requireProgram("mariadb", "mariadb-client");
  requireProgram("mariadb-admin", "mariadb-client");
  const bindAddress = opts.bindAddress ?? "127.0.0.1";
  const fixedPort = opts.port === "config" ? undefined : (opts.port ?? (await freePort(bindAddress)));
  const root = ownScratchDir(opts.prefix ?? "mariadb");
  const datadir = path.join(root, "data");
  const socket = path.join(root, "mysqld.sock");
  const pidFile = path.join(root, "mysqld.pid");
  const errorLog = path.join(root, "error.log");
  const tmpdir = path.join(root, "tmp");
  fs.mkdirSync(tmpdir);

  const install = run(
    installDb,
    [
      "--no-defaults",
      `--datadir=${datadir}`,
      "--user=root",
      "--auth-root-authentication-method=socket",
      "--skip-test-db",
      "--skip-name-resolve",
    ],
    { timeoutMs: 60_000 },
  );
  if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stdout}\n${install.stderr}`);

  const paths = [
    `datadir = ${datadir}`,
    `socket = ${socket}`,
    `pid-file = ${pidFile}`,
    `log-error = ${errorLog}`,
    `tmpdir = ${tmpdir}`,
    "user = root",
  ];
  const cnf = [
    ...(opts.debianServerConfig ? ["!include /etc/mysql/mariadb.conf.d/50-server.cnf"] : []),
    "[mariadbd]",
    ...paths,
    ...(opts.extraConfig ?? []).flatMap((text, i) => {
      const file = path.join(root, `extra-${i}.cnf`);
      fs.writeFileSync(file, text);
      return [`!include ${file}`];
    }),
    "[mariadbd]",
    ...paths,
    ...(fixedPort !== undefined ? [`port = ${fixedPort}`] : []),
    ...(opts.bindAddress !== undefined || !opts.extraConfig?.length ? [`bind-address = ${bindAddress}`] : []),
  ];
  const cnfFile = path.join(root, "my.cnf");
  fs.writeFileSync(cnfFile, cnf.join("\n") + "\n");

  const out = fs.openSync(path.join(root, "stdout.log"), "a");
  const child: ChildProcess = spawn(mariadbd, [`--defaults-file=${cnfFile}`], { stdio: ["ignore", out, out] });
  fs.closeSync(out);
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });

  let removed = false;
  const stop = (): void => {
    if (!exited && child.exitCode === null) {
      run("mariadb-admin", [`--socket=${socket}`, "-u", "root", "shutdown"], { timeoutMs: 20_000 });
      const deadline = Date.now() + 20_000;
      while (processAlive(child.pid) && Date.now() < deadline) sleep(50);
      if (processAlive(child.pid)) child.kill("SIGKILL");
      exited = true;
    }
    if (!removed && process.env.GRX_KEEP_SCRATCH === undefined) {
      removeScratchDir(root);
      removed = true;
    }
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const ping = run("mariadb-admin", [`--socket=${socket}`, "-u", "root", "--connect-timeout=2", "ping"]);
    if (ping.status === 0) break;
    if (!processAlive(child.pid) || Date.now() > deadline) {
      stop();
      const log = fs.existsSync(errorLog) ? fs.readFileSync(errorLog, "utf8") : "";
      throw new Error(`mariadbd did not come up:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  // The address actually bound (an extra config may have set it).
  const bound = run("mariadb", [`--socket=${socket}`, "-u", "root", "--batch", "--skip-column-names"], {
    input: "SELECT @@bind_address;",
  }).stdout.trim();
  const address = bound === "" || bound === "*" ? bindAddress : bound;
  const port =
    fixedPort ??
    Number(
      run("mariadb", [`--socket=${socket}`, "-u", "root", "--batch", "--skip-column-names"], {
        input: "SELECT @@port;",
      }).stdout.trim(),
    );

  return {
    root,
    datadir,
    socket,
    bindAddress: address,
    port,
    errorLog,
    sqlAsRoot(sql: string, database?: string): RunResult {
      return run("mariadb", [`--socket=${socket}`, "-u", "root", "--batch", ...(database ? [database] : [])], {
        input: sql,
      });
    },
    async sqlFrom(sourceAddress, user, password, sql, database): Promise<RunResult> {
      const relayPort = await freePort("127.0.0.1");
      const relay = spawn(
        "socat",
        [
          "-d",
          "-d",
          `TCP-LISTEN:${relayPort},bind=127.0.0.1,reuseaddr`,
          `TCP:${address}:${port},bind=${sourceAddress}`,
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      try {
        await new Promise<void>((resolve, reject) => {
          let err = "";
          const t = setTimeout(() => reject(new Error(`socat did not listen: ${err}`)), 5000);
          relay.stderr.on("data", (d: Buffer) => {
            err += d.toString();
            if (/listening on/.test(err)) {
              clearTimeout(t);
              resolve();
            }
          });
          relay.once("exit", () => {
            clearTimeout(t);
            reject(new Error(`socat exited: ${err}`));
          });
        });
        return run(
          "mariadb",
          [
            "--protocol=TCP",
            "-h",
            "127.0.0.1",
            "-P",
            String(relayPort),
            "-u",
            user,
            `--password=${password}`,
            "--connect-timeout=5",
            "--batch",
            "--skip-column-names",
            ...(database ? [database] : []),
          ],
          { input: sql, timeoutMs: 20_000 },
        );
      } finally {
        relay.kill("SIGTERM");
      }
    },
    stop,
  };
}

/** Loads test/fixtures/schema.sql into `database` (created if missing, utf8mb4). Throws on error. */
export function loadSchemaFixture(server: MariadbServer, database: string): void {
  const create = server.sqlAsRoot(
    `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;`,
  );
  if (create.status !== 0) throw new Error(create.stderr);
  const load = server.sqlAsRoot(fs.readFileSync(SCHEMA_FIXTURE, "utf8"), database);
  if (load.status !== 0) throw new Error(`schema fixture: ${load.stderr}`);
}

/** True while the process exists and is not a zombie (an exited child nobody reaped yet). */
function processAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
