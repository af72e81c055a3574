/**
 * Helpers for the ops system tests (failover, rebalance, mailbox-map job): asynchronous process
 * runs (so in-process dummy backends keep answering), private mount namespaces with bind mounts
 * (the rendered scripts run unmodified at their real paths), a persistent socat relay that makes
 * MariaDB see a chosen loopback source address, and the fixture/snapshot SQL.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigFile } from "../../lib/render/types";
import {
  renderDatabaseBootstrap,
  renderMailboxMapView,
  renderMapReaderGrants,
  renderServersSeed,
} from "../../lib/render/database";
import { NodeInput, Topology } from "../../lib/topology";
import { freePort, loadSchemaFixture, MariadbServer } from "./mariadb-server";
import { requireProgram, run } from "./support";

export interface Finished {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time in milliseconds. */
  readonly ms: number;
}

/** Runs a program without blocking the event loop; kills it (SIGKILL) after `timeoutMs`. */
export function runAsync(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<Finished> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr, ms: Date.now() - started });
    });
    // A program that exits without reading its input closes the pipe first: not an error here.
    child.stdin.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE") reject(e);
    });
    child.stdin.end(opts.input ?? "");
  });
}

/**
 * Runs `command` (sh) in a private mount namespace with `binds` (target → source) mounted first.
 * Targets must exist (directories or files); nothing outside the namespace changes.
 */
export function runInNamespace(
  binds: Record<string, string>,
  command: string,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Finished> {
  requireProgram("unshare", "util-linux");
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const lines = ["set -e", ...Object.entries(binds).map(([t, s]) => `mount --bind ${q(s)} ${q(t)}`), command];
  return runAsync("unshare", ["-m", "sh", "-c", lines.join("\n")], opts);
}

/** Writes rendered files under `root` at their absolute paths (modes kept); returns root. */
export function writeFiles(root: string, files: readonly ConfigFile[]): string {
  for (const f of files) {
    const target = path.join(root, f.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, f.content, { mode: parseInt(f.mode, 8) });
    fs.chmodSync(target, parseInt(f.mode, 8));
  }
  return root;
}

export interface Relay {
  readonly port: number;
  /** Stops the relay (and its forked children). */
  stop(): Promise<void>;
}

/**
 * A socat relay on 127.0.0.1:<free port> to `target`, whose outgoing connections are bound to
 * `sourceAddress`: MariaDB sees that address, as it would see the node's private address.
 */
export async function startRelay(target: { host: string; port: number }, sourceAddress: string): Promise<Relay> {
  const socat = requireProgram("socat", "socat");
  const port = await freePort("127.0.0.1");
  const child: ChildProcess = spawn(
    socat,
    [
      "-d",
      "-d",
      `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`,
      `TCP:${target.host}:${target.port},bind=${sourceAddress}`,
    ],
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  await new Promise<void>((resolve, reject) => {
    let err = "";
    const t = setTimeout(() => reject(new Error(`socat did not listen: ${err}`)), 5000);
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      if (/listening on/.test(err)) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once("exit", () => {
      clearTimeout(t);
      reject(new Error(`socat exited: ${err}`));
    });
  });
  child.stderr!.resume();
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        // The relay's process group: the listener and any forked connection handlers.
        try {
          process.kill(-child.pid!, "SIGTERM");
        } catch {
          resolve();
        }
      }),
  };
}

/**
 * The cluster's database as the nodes' first boot leaves it: the bootstrap (database, accounts),
 * the gromox schema (fixture, as gromox-dbop -C makes it), the servers seed and, with
 * `mapReader`, the map view and the load balancers' read-only grants.
 */
export function prepareClusterDatabase(db: MariadbServer, topo: Topology, opts: { mapReader: boolean }): void {
  const boot = db.sqlAsRoot(renderDatabaseBootstrap(topo));
  if (boot.status !== 0) throw new Error(boot.stderr);
  loadSchemaFixture(db, "grommunio");
  sql(db, renderServersSeed(topo));
  if (!opts.mapReader) return;
  // the view the job reads, created with the seed on the schema node (cluster/sql.ts)
  sql(db, renderMailboxMapView(topo));
  const grants = db.sqlAsRoot(renderMapReaderGrants(topo));
  if (grants.status !== 0) throw new Error(grants.stderr);
}

/** Throws unless the SQL ran; returns the rows (tab-split, no header). */
export function sql(db: MariadbServer, text: string): string[][] {
  const r = run("mariadb", [`--socket=${db.socket}`, "-u", "root", "--batch", "--skip-column-names", "grommunio"], {
    input: text,
    timeoutMs: 120_000,
  });
  if (r.status !== 0) throw new Error(`SQL failed: ${r.stderr}\n${text.slice(0, 500)}`);
  return r.stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split("\t"));
}

/**
 * Fixture users: ids 1..count named `user<id>@lo.test` (every 7th with capitals in the first 12
 * bytes), placed round robin on `serverIds` with hostname-prefixed maildirs; every 97th has no
 * homeserver; every 5th has an alias `alias<id>@lo.test`. `hosts` maps server id → hostname.
 */
export function usersFixtureSql(count: number, hosts: ReadonlyMap<number, string>): string {
  const ids = [...hosts.keys()];
  const elt = (list: readonly (string | number)[]) =>
    `ELT(1 + seq % ${list.length}, ${list.map((v) => (typeof v === "number" ? String(v) : `'${v}'`)).join(", ")})`;
  return [
    "DELETE FROM aliases;",
    "DELETE FROM users;",
    `INSERT INTO users (id, username, primary_email, password, domain_id, group_id, homeserver, maildir, lang, privilege_bits, address_status)
     SELECT seq, IF(seq % 7 = 0, CONCAT('User', seq, '@Lo.Test'), CONCAT('user', seq, '@lo.test')), CONCAT('u', seq, '@mail.lo.test'),
            CONCAT('{CRYPT}', MD5(seq)), 1, 0, ${elt(ids)},
            CONCAT('/var/lib/gromox/user/', ${elt(ids.map((i) => hosts.get(i)!))}, '/lo.test/', LPAD(HEX(seq), 8, '0')),
            ${elt(["de_DE", "en_US", ""])}, seq % 256, seq % 4
     FROM seq_1_to_${count};`,
    "UPDATE users SET homeserver = 0, maildir = '' WHERE id % 97 = 0;",
    `INSERT INTO aliases (aliasname, mainname) SELECT CONCAT('alias', id, '@lo.test'), username FROM users WHERE id % 5 = 0;`,
  ].join("\n");
}

/** Count and checksums over every column but homeserver, per table: equal iff no row was lost, duplicated or altered. */
export function checksums(db: MariadbServer): string[][] {
  const crc = (cols: string) =>
    `COUNT(*), BIT_XOR(CRC32(CONCAT_WS(0x1f, ${cols}))), SUM(CRC32(CONCAT_WS(0x1f, ${cols})))`;
  return sql(
    db,
    [
      `SELECT 'users', ${crc("id, username, QUOTE(primary_email), QUOTE(altname), password, domain_id, group_id, maildir, lang, timezone, privilege_bits, address_status, QUOTE(externid), QUOTE(sync_policy), QUOTE(chat_id)")} FROM users;`,
      `SELECT 'domains', ${crc("id, org_id, domainname, homedir, max_user, title, address, admin_name, tel, end_day, domain_status, QUOTE(sync_policy), QUOTE(chat_id)")} FROM domains;`,
      `SELECT 'aliases', ${crc("aliasname, mainname")} FROM aliases;`,
      `SELECT 'servers', ${crc("id, hostname, extname")} FROM servers;`,
    ].join("\n"),
  );
}

/** `id → homeserver` of a table. */
export function homes(db: MariadbServer, table: "users" | "domains"): Map<number, number> {
  return new Map(sql(db, `SELECT id, homeserver FROM ${table} ORDER BY id;`).map(([i, h]) => [Number(i), Number(h)]));
}

/** Users per homeserver (placed users only). */
export function spread(db: MariadbServer): Map<number, number> {
  return new Map(
    sql(
      db,
      "SELECT homeserver, COUNT(*) FROM users WHERE homeserver <> 0 GROUP BY homeserver ORDER BY homeserver;",
    ).map(([h, n]) => [Number(h), Number(n)]),
  );
}

/**
 * The mailbox nodes of the ops fixtures, one per `serverId → hostname`: named by the hostname's
 * first label, at `<net>.<20 + serverId>`.
 */
export function mailboxNodeInputs(hosts: ReadonlyMap<number, string>, net: string): NodeInput[] {
  return [...hosts].map(([id, hostname]) => ({
    name: hostname.split(".")[0]!,
    hostname,
    roles: ["mailbox"],
    ipv4: `${net}.${20 + id}`,
    serverId: id,
  }));
}
