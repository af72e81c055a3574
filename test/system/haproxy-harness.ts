/**
 * Runtime helpers for HAProxy system tests: start the real haproxy on generated files at their
 * real paths (/etc/haproxy, /run/haproxy bind-mounted from scratch directories in a private mount
 * namespace), dummy HTTPS backends that echo what they received, async curl/openssl, and the
 * runtime API over the stats socket. Everything listens on loopback; every process started here
 * is stopped by the returned handle.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as net from "node:net";
import * as path from "node:path";
import { ConfigFile } from "../../lib/render/types";
import { ownScratchDir, removeScratchDir } from "./scratch";
import { requireProgram, run, runInSandbox, scratchDir } from "./support";

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program without blocking the event loop (in-process servers keep answering). */
export function execAsync(cmd: string, args: readonly string[], timeoutMs = 15_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: "utf8", maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout: stdout ?? "", stderr: stderr ?? "" });
    });
  });
}

/** A throw-away self-signed certificate: `{ cert, key, pem (cert + key) }`. */
export function selfSignedCert(cn: string, kind: "rsa" | "ec" = "rsa", sans: readonly string[] = [cn]) {
  const openssl = requireProgram("openssl", "openssl");
  const dir = scratchDir("cert");
  const keyArgs =
    kind === "rsa" ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  const r = run(openssl, [
    "req",
    "-x509",
    ...keyArgs,
    "-nodes",
    "-subj",
    `/CN=${cn}`,
    "-addext",
    `subjectAltName=${sans.map((s) => `DNS:${s}`).join(",")}`,
    "-days",
    "2",
    "-keyout",
    path.join(dir, "key.pem"),
    "-out",
    path.join(dir, "cert.pem"),
  ]);
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  const cert = fs.readFileSync(path.join(dir, "cert.pem"), "utf8");
  const key = fs.readFileSync(path.join(dir, "key.pem"), "utf8");
  return { cert, key, pem: cert + key, certPath: path.join(dir, "cert.pem") };
}

/** What a dummy backend saw; it answers with this as JSON. */
export interface Echo {
  readonly node: string;
  readonly method: string;
  readonly url: string;
  readonly host: string | null;
  readonly xfp: string | null;
  readonly realIp: string | null;
  readonly xff: string | null;
  readonly cookie: string | null;
  readonly bodyLength: number;
  readonly httpVersion: string;
}

export interface Dummy {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** An HTTPS server on `address:port` answering every request with an `Echo` naming `name`. */
export function dummyBackend(name: string, address: string, port: number, tls: { cert: string; key: string }): Dummy {
  let server: https.Server | undefined;
  return {
    name,
    address,
    port,
    start() {
      const s = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
        let bodyLength = 0;
        req.on("data", (c: Buffer) => (bodyLength += c.length));
        req.on("end", () => {
          const h = (k: string) => {
            const v = req.headers[k];
            return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
          };
          const echo: Echo = {
            node: name,
            method: req.method ?? "",
            url: req.url ?? "",
            host: h("host"),
            xfp: h("x-forwarded-proto"),
            realIp: h("x-real-ip"),
            xff: h("x-forwarded-for"),
            cookie: h("cookie"),
            bodyLength,
            httpVersion: req.httpVersion,
          };
          // A test asks for a cacheable answer with X-Test-Cache-Control (e.g. "max-age=60").
          const cacheControl = h("x-test-cache-control");
          res.writeHead(200, {
            "content-type": "application/json",
            ...(cacheControl !== null ? { "cache-control": cacheControl } : {}),
          });
          res.end(JSON.stringify(echo));
        });
      });
      s.on("tlsClientError", () => undefined); // health checks close right after the handshake
      s.on("clientError", (_e, sock) => sock.destroy());
      server = s;
      return new Promise((resolve, reject) => {
        s.once("error", reject);
        s.listen(port, address, () => resolve());
      });
    },
    stop() {
      const s = server;
      server = undefined;
      if (!s) return Promise.resolve();
      return new Promise((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
  };
}

export interface RunningHaproxy {
  readonly pid: number;
  /** Scratch directory mounted at /run/haproxy (stats socket, pid file, log of the start); removed by stop(). */
  readonly runDir: string;
  /** Scratch directory mounted at /etc/haproxy. */
  readonly etcDir: string;
  /** One runtime-API command over the stats socket; resolves with the answer. */
  api(command: string): Promise<string>;
  /** `show stat` as rows keyed by column name. */
  stats(): Promise<Array<Record<string, string>>>;
  stop(): Promise<void>;
}

/**
 * Writes `files` under /etc/haproxy into a scratch dir (plus `extra` files such as the
 * certificate), then starts haproxy in a private mount namespace with /etc/haproxy and
 * /run/haproxy bound to scratch dirs, so the generated config runs unmodified at its real paths.
 */
export function startHaproxy(opts: {
  files: readonly ConfigFile[];
  extra?: Record<string, string>;
  hosts?: Record<string, string>;
  config?: string;
}): RunningHaproxy {
  requireProgram("haproxy", "haproxy");
  // Not under the jest TMPDIR: another jest run's global teardown may remove that meanwhile.
  const etcDir = ownScratchDir("haproxy-etc");
  const runDir = ownScratchDir("haproxy-run");
  for (const f of opts.files) {
    if (!f.path.startsWith("/etc/haproxy/")) continue;
    const target = path.join(etcDir, path.relative("/etc/haproxy", f.path));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, f.content);
  }
  for (const [name, content] of Object.entries(opts.extra ?? {})) fs.writeFileSync(path.join(etcDir, name), content);
  const cfg = opts.config ?? "/etc/haproxy/haproxy.cfg";
  const r = runInSandbox(
    { hosts: opts.hosts ?? {}, binds: { "/etc/haproxy": etcDir, "/run/haproxy": runDir } },
    `haproxy -D -p /run/haproxy/haproxy.pid -f ${cfg} </dev/null >/run/haproxy/start.log 2>&1 || { cat /run/haproxy/start.log; exit 1; }`,
  );
  if (r.status !== 0) {
    removeScratchDir(etcDir);
    removeScratchDir(runDir);
    throw new Error(`haproxy did not start (rc ${r.status}):\n${r.stdout}${r.stderr}`);
  }
  const pid = Number(fs.readFileSync(path.join(runDir, "haproxy.pid"), "utf8").trim().split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 1) throw new Error("haproxy wrote no pid file");
  const sock = path.join(runDir, "admin.sock");
  const api = (command: string) =>
    new Promise<string>((resolve, reject) => {
      const c = net.createConnection(sock);
      let out = "";
      c.setEncoding("utf8");
      c.on("data", (d: string) => (out += d));
      c.on("end", () => resolve(out));
      c.on("error", reject);
      c.setTimeout(5000, () => c.destroy(new Error(`runtime API timeout: ${command}`)));
      c.end(command + "\n");
    });
  return {
    pid,
    runDir,
    etcDir,
    api,
    async stats() {
      const text = await api("show stat");
      const [head, ...rows] = text.split("\n").filter((l) => l.trim() !== "");
      const cols = (head ?? "").replace(/^# /, "").split(",");
      return rows.map((row) => Object.fromEntries(row.split(",").map((v, i) => [cols[i] ?? `c${i}`, v])));
    },
    async stop() {
      const alive = () => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      if (alive()) process.kill(pid, "SIGTERM");
      for (let i = 0; i < 50 && alive(); i++) await sleep(100);
      if (alive()) process.kill(pid, "SIGKILL");
      removeScratchDir(etcDir);
      removeScratchDir(runDir);
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` every 250 ms until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > end) return false;
    await sleep(250);
  }
}

export interface CurlResult {
  /** curl's exit code (0 = a response came back). */
  readonly code: number;
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Every header line of the final response, in order (`headers` keeps the last of a name). */
  readonly headerLines: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
  readonly stderr: string;
}

/**
 * One request with curl. `target` is `https://name/path`; `connectTo` is the address curl
 * connects to; `source` the local address it binds (so HAProxy sees distinct clients).
 */
export async function curl(
  target: string,
  o: {
    connectTo: string;
    source: string;
    args?: readonly string[];
    timeoutS?: number;
  },
): Promise<CurlResult> {
  const u = new URL(target);
  const port = u.port || (u.protocol === "https:" ? "443" : "80");
  const args = [
    "-sS",
    "-k",
    "--max-time",
    String(o.timeoutS ?? 8),
    "--interface",
    o.source,
    "--resolve",
    `${u.hostname}:${port}:${o.connectTo}`,
    "-D",
    "-",
    ...(o.args ?? []),
    target,
  ];
  const r = await execAsync(requireProgram("curl", "curl"), args, ((o.timeoutS ?? 8) + 5) * 1000);
  // Header blocks (100 Continue first, if any), then the body.
  let rest = r.stdout;
  let status = 0;
  let headers: Record<string, string> = {};
  let headerLines: Array<[string, string]> = [];
  while (/^HTTP\/[\d.]+ \d{3}/.test(rest)) {
    const end = rest.indexOf("\r\n\r\n");
    const block = end >= 0 ? rest.slice(0, end) : rest;
    rest = end >= 0 ? rest.slice(end + 4) : "";
    const [first, ...lines] = block.split("\r\n");
    status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(first!)![1]);
    headers = {};
    headerLines = [];
    for (const l of lines) {
      const i = l.indexOf(":");
      if (i <= 0) continue;
      const name = l.slice(0, i).trim().toLowerCase();
      const value = l.slice(i + 1).trim();
      headers[name] = value;
      headerLines.push([name, value]);
    }
  }
  return { code: r.code, status, headers, headerLines, body: rest, stderr: r.stderr };
}

/** The echo of a dummy backend in a curl result (throws with the whole result otherwise). */
export function echoOf(r: CurlResult): Echo {
  try {
    return JSON.parse(r.body) as Echo;
  } catch {
    throw new Error(`no backend echo (curl ${r.code}, HTTP ${r.status}): ${r.body.slice(0, 300)} ${r.stderr}`);
  }
}

/** `openssl s_client` handshake against `address:port`; resolves with exit code and output. */
export function tlsHandshake(address: string, port: number, args: readonly string[]): Promise<ExecResult> {
  const openssl = requireProgram("openssl", "openssl");
  return new Promise((resolve) => {
    const child = execFile(
      openssl,
      ["s_client", "-connect", `${address}:${port}`, "-servername", "mail.test", ...args],
      { timeout: 8000, encoding: "utf8" },
      (err, stdout, stderr) =>
        resolve({
          code: err ? (typeof err.code === "number" ? err.code : -1) : 0,
          stdout: stdout ?? "",
          stderr: stderr ?? "",
        }),
    );
    child.stdin?.end("Q\n");
  });
}
