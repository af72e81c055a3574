/**
 * Runs the real nginx (Debian 12) on rendered files for behaviour tests, and dummy HTTPS
 * backends that answer with their name and echo what they received.
 *
 * nginx runs in the foreground (`-g 'daemon off;'`) in a private mount namespace: the rendered
 * files are read UNMODIFIED at their real paths, because a scratch directory is bind-mounted over
 * /etc/nginx (with a throw-away certificate at the default paths), and others over /var/log/nginx
 * and /var/lib/nginx (temp paths nginx creates at start). `unshare` and `sh` exec into nginx, so
 * the child's pid is nginx's master: `stop()` sends it SIGQUIT (graceful), then SIGKILL after a
 * bounded wait. Give the render options a private `pidFile` and a loopback `bindAddress`.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { ConfigFile } from "../../lib/render/types";
import { requireProgram, run } from "./support";
import { ownScratchDir, removeScratchDir } from "./scratch";

export interface Cert {
  readonly pem: string;
  readonly key: string;
}

/** A throw-away self-signed certificate: EC P-256, or RSA 2048 (static-RSA suites need an RSA key). */
export function selfSignedCert(cn: string, kind: "ec" | "rsa" = "ec"): Cert {
  const openssl = requireProgram("openssl", "openssl");
  const dir = ownScratchDir("nginx-cert");
  try {
    const r = run(openssl, [
      "req",
      "-x509",
      "-newkey",
      ...(kind === "ec" ? ["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] : ["rsa:2048"]),
      "-nodes",
      "-subj",
      `/CN=${cn}`,
      "-days",
      "2",
      "-keyout",
      path.join(dir, "key.pem"),
      "-out",
      path.join(dir, "cert.pem"),
    ]);
    if (r.status !== 0) throw new Error(`openssl req: ${r.stderr}`);
    return {
      pem: fs.readFileSync(path.join(dir, "cert.pem"), "utf8"),
      key: fs.readFileSync(path.join(dir, "key.pem"), "utf8"),
    };
  } finally {
    removeScratchDir(dir);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves when `p` settles or after `ms`, whichever is first; leaves no timer behind. */
async function within(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** True once a TCP connection to host:port succeeds. */
function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export interface RunningNginx {
  readonly pid: number;
  readonly root: string;
  /** nginx's error log so far. */
  errorLog(): string;
  /** Graceful stop (SIGQUIT), SIGKILL after 5 s; removes the scratch directory. Never throws. */
  stop(): Promise<void>;
}

/**
 * Starts nginx on `files` (only those under /etc/nginx/ are used) with `cert` at
 * /etc/nginx/proxy.pem and proxy.key; resolves once `ready` (host:port) accepts connections.
 */
export async function startNginx(opts: {
  files: readonly ConfigFile[];
  cert: Cert;
  ready: { host: string; port: number };
  /**
   * More directories to stand in for, each bind-mounted over its real path: real directory ->
   * (relative path -> content). E.g. packaged snippets under /usr/share/grommunio-common.
   */
  dirs?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}): Promise<RunningNginx> {
  requireProgram("nginx", "nginx libnginx-mod-stream");
  requireProgram("unshare", "util-linux");
  const root = ownScratchDir("nginx-run");
  const etc = path.join(root, "etc");
  const log = path.join(root, "log");
  const lib = path.join(root, "lib");
  for (const d of [etc, log, lib]) fs.mkdirSync(d, { recursive: true });
  for (const f of opts.files) {
    if (!f.path.startsWith("/etc/nginx/")) continue;
    const target = path.join(etc, f.path.slice("/etc/nginx/".length));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, f.content);
  }
  fs.writeFileSync(path.join(etc, "proxy.pem"), opts.cert.pem);
  fs.writeFileSync(path.join(etc, "proxy.key"), opts.cert.key, { mode: 0o600 });
  const extra = Object.entries(opts.dirs ?? {}).map(([real, files], i) => {
    const dir = path.join(root, `dir${i}`);
    for (const [rel, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), content);
    }
    fs.mkdirSync(dir, { recursive: true });
    return `mkdir -p '${real}' && mount --bind '${dir}' '${real}'`;
  });
  const script = [
    "set -e",
    ...extra,
    `mount --bind '${etc}' /etc/nginx`,
    `mount --bind '${log}' /var/log/nginx`,
    `mount --bind '${lib}' /var/lib/nginx`,
    `exec nginx -c /etc/nginx/nginx.conf -g 'daemon off;'`,
  ].join("\n");
  const child: ChildProcess = spawn("unshare", ["-m", "sh", "-c", script], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  const errorLog = () => {
    const p = path.join(log, "error.log");
    return fs.existsSync(p) ? fs.readFileSync(p, "utf8") : "";
  };
  const stop = async () => {
    if (!exited && child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGQUIT");
      } catch {
        // already gone
      }
      await within(exit, 5000);
      if (!exited) {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          // already gone
        }
        await within(exit, 2000);
      }
    }
    if (process.env.GRX_KEEP_SCRATCH === undefined) removeScratchDir(root);
  };
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(opts.ready.host, opts.ready.port))) {
    if (exited || Date.now() > deadline) {
      const why = `nginx did not start (${exited ? `exited: ${child.exitCode}` : "timeout"}):\n${output}\n${errorLog()}`;
      await stop();
      throw new Error(why);
    }
    await sleep(50);
  }
  return { pid: child.pid!, root, errorLog, stop };
}

/** What a dummy backend saw of one request. */
export interface Echo {
  readonly backend: string;
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
}

export interface Backend {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Stops accepting and drops open connections. */
  close(): Promise<void>;
  /** Listens again after `close()`. */
  listen(): Promise<void>;
}

/**
 * A dummy HTTPS backend on host:port: answers 200 with JSON `Echo`, except for paths ending in
 * `/negotiate` (401 with several WWW-Authenticate challenges, as gromox-http or IIS send) and
 * WebSocket upgrades (101, then echoes the bytes back).
 */
export function startBackend(name: string, host: string, port: number, cert: Cert): Promise<Backend> {
  const server = https.createServer({ cert: cert.pem, key: cert.key }, (req, res) => {
    const echo: Echo = { backend: name, method: req.method ?? "", url: req.url ?? "", headers: req.headers };
    req.resume();
    req.on("end", () => {
      if ((req.url ?? "").split("?")[0]!.endsWith("/negotiate")) {
        res.writeHead(401, [
          ["WWW-Authenticate", "Negotiate"],
          ["WWW-Authenticate", "NTLM"],
          ["WWW-Authenticate", 'Basic realm="backend"'],
          ["X-Backend", name],
          ["Content-Length", "0"],
        ]);
        res.end();
        return;
      }
      const body = JSON.stringify(echo);
      res.writeHead(200, {
        "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(body),
        "X-Backend": name,
      });
      res.end(body);
    });
  });
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket) => {
    const seen = JSON.stringify({ backend: name, url: req.url, headers: req.headers });
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `X-Backend: ${name}\r\nX-Seen: ${Buffer.from(seen).toString("base64")}\r\n\r\n`,
    );
    socket.on("data", (d) => socket.write(d));
  });
  const sockets = new Set<net.Socket>();
  server.on("secureConnection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  const backend: Backend = {
    name,
    host,
    port,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      }),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return backend.listen().then(() => backend);
}

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** Raw header lines (repeated headers kept apart). */
  readonly rawHeaders: string[];
  readonly body: string;
}

/** One request on a fresh connection (no keep-alive pool), from `source`, TLS unverified. */
export function request(opts: {
  tls: boolean;
  host: string;
  port: number;
  path: string;
  source?: string;
  headers?: Record<string, string>;
  method?: string;
}): Promise<Reply> {
  const mod = opts.tls ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      {
        host: opts.host,
        port: opts.port,
        path: opts.path,
        method: opts.method ?? "GET",
        headers: opts.headers,
        agent: false,
        rejectUnauthorized: false,
        timeout: 10_000,
        ...(opts.source ? { localAddress: opts.source } : {}),
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (body += d));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout: ${opts.path}`)));
    req.on("error", reject);
    req.end();
  });
}

/** Parses a backend's JSON echo, or undefined when the body is not one (e.g. an nginx error page). */
export function echoOf(r: Reply): Echo | undefined {
  try {
    const e = JSON.parse(r.body) as Echo;
    return typeof e.backend === "string" ? e : undefined;
  } catch {
    return undefined;
  }
}
