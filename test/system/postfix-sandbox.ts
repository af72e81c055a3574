/**
 * A real postfix 3.7 (Debian 12) on rendered files, in a scratch directory of its own
 * (scratch.ts), for checks and for running it on a loopback address (reference/validators.md §5).
 *
 * How the sandbox works:
 * - `configDir` is a copy of the host's /etc/postfix (Debian's postfix-files, dynamicmaps.cf with
 *   the mysql map type, makedefs.out as a file instead of Debian's symlink) with every rendered
 *   file under /etc/postfix/ written over it, byte for byte, with the rendered mode and owner.
 * - Every command runs in a private mount namespace (as `runInSandbox` in support.ts, but with
 *   its files inside the sandbox's own directory) in which
 *   `configDir` is bind-mounted over /etc/postfix and a directory with a throw-away self-signed
 *   certificate over /etc/grommunio-common/ssl, so the rendered files are read at their real
 *   paths (map files, `cyrus_sasl_config_path`, TLS files) without editing them. The namespace's
 *   /etc/hosts maps only localhost and `opts.hosts`, and name lookups never leave the machine.
 *   (The mount point /etc/grommunio-common/ssl is created on the host if missing; it stays empty.)
 * - main.cf is the rendered one except for the sandbox-owned parameters `SANDBOX_PARAMETERS`:
 *   their rendered lines are replaced in place (no "overriding earlier entry" warnings), the rest
 *   appended: the queue, data and log live in the scratch directory, postfix binds only
 *   `opts.address`, and the alias maps are empty (no /etc/aliases.db needed).
 * - `start()` runs Debian's /usr/lib/postfix/configure-instance.sh first (what postfix.service
 *   does: /etc/hosts, resolv.conf, services and NSS libraries into the chroot under the queue
 *   directory), then `postfix start`. The master keeps the namespace alive; `stop()` enters it
 *   (`nsenter`) for `postfix stop` and waits until the master has exited.
 *
 * - postfix binds only addresses assigned to an interface: a loopback address other than
 *   127.0.0.1 is added to lo (`ensureLoopbackAddress`) and removed again by `dispose()`.
 *
 * Other files (e.g. /etc/pam.d/smtp) are ignored: postfix does not read them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigFile } from "../../lib/render/types";
import { RunResult, requireProgram, run } from "./support";
import { ownScratchDir, removeScratchDir } from "./scratch";

/** main.cf parameters the sandbox owns (values see `preparePostfixSandbox`). */
export const SANDBOX_PARAMETERS = [
  "queue_directory",
  "data_directory",
  "inet_interfaces",
  "maillog_file",
  "maillog_file_prefixes",
  "alias_maps",
  "alias_database",
] as const;

export interface PostfixSandboxOptions {
  /**
   * The one address postfix binds (`inet_interfaces`): a loopback address (127.0.0.0/8).
   * Give each concurrently running sandbox its own, since services listen on fixed ports.
   * @default "127.0.0.1"
   */
  readonly address?: string;
  /** Extra names for the namespace's /etc/hosts (name → address), e.g. the database host. */
  readonly hosts?: Readonly<Record<string, string>>;
  /** CN of the placeholder certificate. @default "localhost" */
  readonly certificateName?: string;
  /** Scratch directory prefix. @default "postfix" */
  readonly prefix?: string;
}

export interface PostfixSandbox {
  /** Scratch root (queue/, data/, etc/, ssl/, maillog). */
  readonly root: string;
  /** The sandbox's /etc/postfix (seen there inside the namespace). */
  readonly configDir: string;
  readonly queueDir: string;
  readonly dataDir: string;
  /** postfix's log file (maillog_file). */
  readonly logFile: string;
  /** The address postfix binds. */
  readonly address: string;
  /** Runs a shell command in the sandbox's namespace (/etc/postfix = configDir). */
  exec(command: string, timeoutMs?: number): RunResult;
  /** `postfix check` under `script` (postfix prints to stderr only when it is a TTY). */
  check(): RunResult;
  /** `postconf <args>` on the sandbox config. */
  postconf(...args: string[]): RunResult;
  /** `postfix start` (after Debian's configure-instance.sh); throws with the log when it fails. */
  start(): void;
  /** `postfix stop`, waiting for the master to exit; a no-op when not running. Never throws. */
  stop(): void;
  /**
   * `stop()`, then removes the loopback address if the sandbox added it and the scratch directory
   * (kept when $GRX_KEEP_SCRATCH is set). Call it in afterAll.
   */
  dispose(): void;
  /** The master's pid, or undefined when not running. */
  masterPid(): number | undefined;
  /** The log so far ("" before the first line). */
  log(): string;
}

/**
 * Builds a postfix sandbox from rendered files (see the module comment). Only files under
 * /etc/postfix/ are used. Requires root (bind mounts, chown to postfix).
 */
export function preparePostfixSandbox(files: readonly ConfigFile[], opts: PostfixSandboxOptions = {}): PostfixSandbox {
  requireProgram("postfix", "postfix");
  requireProgram("postconf", "postfix");
  requireProgram("script", "bsdutils");
  requireProgram("openssl", "openssl");
  requireProgram("nsenter", "util-linux");
  if (!fs.existsSync("/usr/lib/postfix/postfix-mysql.so")) {
    throw new Error("postfix-mysql is not installed. Install it with: apt-get install postfix-mysql");
  }
  const address = opts.address ?? "127.0.0.1";
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address)) throw new Error(`not a loopback IPv4 address: ${address}`);

  const addedAddress = ensureLoopbackAddress(address);
  let root: string | undefined;
  try {
    root = ownScratchDir(opts.prefix ?? "postfix");
    return buildSandbox(files, opts, address, addedAddress, root);
  } catch (e) {
    // Leave nothing behind when the sandbox cannot be built.
    if (addedAddress) run("ip", ["-4", "addr", "del", `${address}/32`, "dev", "lo"]);
    if (root !== undefined) removeScratchDir(root);
    throw e;
  }
}

function buildSandbox(
  files: readonly ConfigFile[],
  opts: PostfixSandboxOptions,
  address: string,
  addedAddress: boolean,
  root: string,
): PostfixSandbox {
  const configDir = path.join(root, "etc");
  const queueDir = path.join(root, "queue");
  const dataDir = path.join(root, "data");
  const sslDir = path.join(root, "ssl");
  const logFile = path.join(root, "maillog");

  fs.cpSync("/etc/postfix", configDir, { recursive: true, verbatimSymlinks: true });
  for (const name of ["main.cf", "master.cf", "makedefs.out"]) fs.rmSync(path.join(configDir, name), { force: true });
  fs.copyFileSync("/usr/share/postfix/makedefs.out", path.join(configDir, "makedefs.out"));
  fs.mkdirSync(queueDir, { mode: 0o755 });
  fs.mkdirSync(dataDir, { mode: 0o700 });
  run("chown", ["postfix:postfix", dataDir]);

  const rendered = files.filter((f) => f.path.startsWith("/etc/postfix/"));
  for (const f of rendered) {
    const target = path.join(configDir, f.path.slice("/etc/postfix/".length));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, f.content);
    fs.chmodSync(target, parseInt(f.mode, 8));
    const chown = run("chown", [f.owner, target]);
    if (chown.status !== 0) throw new Error(`chown ${f.owner} ${f.path}: ${chown.stderr}`);
  }
  const mainCf = path.join(configDir, "main.cf");
  if (!fs.existsSync(mainCf)) throw new Error("no /etc/postfix/main.cf among the files");
  const sandboxValues: Record<(typeof SANDBOX_PARAMETERS)[number], string> = {
    queue_directory: queueDir,
    data_directory: dataDir,
    inet_interfaces: address,
    maillog_file: logFile,
    maillog_file_prefixes: root,
    alias_maps: "",
    alias_database: "",
  };
  fs.writeFileSync(mainCf, withSandboxParameters(fs.readFileSync(mainCf, "utf8"), sandboxValues));
  // postfix re-reads a main.cf modified within the last seconds until it is older (300 ms steps,
  // ~1.5 s per command): date the freshly written files back.
  const past = new Date(Date.now() - 60_000);
  for (const f of [mainCf, path.join(configDir, "master.cf")]) if (fs.existsSync(f)) fs.utimesSync(f, past, past);

  // A throw-away certificate at the paths the rendered main.cf names.
  fs.mkdirSync(sslDir, { mode: 0o755 });
  const cert = run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${opts.certificateName ?? "localhost"}`,
    "-keyout",
    path.join(sslDir, "server.key"),
    "-out",
    path.join(sslDir, "server-bundle.pem"),
  ]);
  if (cert.status !== 0) throw new Error(`openssl req failed: ${cert.stderr}`);

  const exec = namespaceRunner(path.join(root, "ns"), opts.hosts ?? {}, {
    "/etc/postfix": configDir,
    "/etc/grommunio-common/ssl": sslDir,
  });
  const pidFile = path.join(queueDir, "pid", "master.pid");
  const masterPid = (): number | undefined => {
    try {
      const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
      if (!Number.isInteger(pid) || pid <= 0) return undefined;
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  };
  const log = (): string => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "");

  const sandbox: PostfixSandbox = {
    root,
    configDir,
    queueDir,
    dataDir,
    logFile,
    address,
    exec,
    check: () => exec(`script -qec 'postfix check' /dev/null`),
    postconf: (...args: string[]) => exec(["postconf", ...args.map(shellQuote)].join(" ")),
    masterPid,
    log,
    start(): void {
      const startLog = path.join(root, "start.log");
      const r = exec(
        `/usr/lib/postfix/configure-instance.sh - >'${startLog}' 2>&1 && postfix start </dev/null >>'${startLog}' 2>&1`,
        30_000,
      );
      const deadline = Date.now() + 10_000;
      while (r.status === 0 && masterPid() === undefined && Date.now() < deadline) sleep(50);
      if (r.status !== 0 || masterPid() === undefined) {
        const out = fs.existsSync(startLog) ? fs.readFileSync(startLog, "utf8") : "";
        throw new Error(`postfix start failed (rc ${r.status}): ${r.stderr}\n${out}\n--- maillog ---\n${log()}`);
      }
    },
    stop(): void {
      const pid = masterPid();
      if (pid === undefined) return;
      run("nsenter", ["-t", String(pid), "-m", "postfix", "stop"], { timeoutMs: 20_000 });
      const deadline = Date.now() + 10_000;
      while (masterPid() !== undefined && Date.now() < deadline) sleep(50);
      const still = masterPid();
      if (still !== undefined) {
        try {
          process.kill(still, "SIGKILL");
        } catch {
          // gone meanwhile
        }
      }
    },
    dispose(): void {
      sandbox.stop();
      if (addedAddress) run("ip", ["-4", "addr", "del", `${address}/32`, "dev", "lo"]);
      if (process.env.GRX_KEEP_SCRATCH === undefined) removeScratchDir(root);
    },
  };
  return sandbox;
}

/**
 * postfix binds only addresses of local interfaces ("no local interface found for …"): 127.0.0.1
 * is on lo, other 127.0.0.0/8 addresses are routed there but not assigned. Adds `address`/32 to
 * lo when missing (harmless: the 127/8 route already exists) and says whether it did.
 */
export function ensureLoopbackAddress(address: string): boolean {
  requireProgram("ip", "iproute2");
  const shown = run("ip", ["-4", "-o", "addr", "show", "dev", "lo"]).stdout;
  if (new RegExp(`inet ${address.replace(/\./g, "\\.")}/`).test(shown)) return false;
  const r = run("ip", ["-4", "addr", "add", `${address}/32`, "dev", "lo"]);
  if (r.status !== 0 && !/File exists/.test(r.stderr)) throw new Error(`ip addr add ${address}/32 dev lo: ${r.stderr}`);
  return r.status === 0;
}

/**
 * A runner for shell commands in a private mount namespace (`unshare -m`; util-linux makes its
 * mounts private) with `binds` (real path → sandbox path) bind-mounted, /etc/hosts replaced by
 * localhost plus `hosts`, and a hosts-only resolver (validators.md §2). Its files live in `dir`.
 */
export function namespaceRunner(
  dir: string,
  hosts: Readonly<Record<string, string>>,
  binds: Readonly<Record<string, string>>,
): (command: string, timeoutMs?: number) => RunResult {
  requireProgram("unshare", "util-linux");
  fs.mkdirSync(dir, { recursive: true });
  const hostsFile = path.join(dir, "hosts");
  const lines = ["127.0.0.1 localhost", "::1 localhost"];
  for (const [name, addr] of Object.entries(hosts).sort(([a], [b]) => a.localeCompare(b)))
    lines.push(`${addr} ${name}`);
  fs.writeFileSync(hostsFile, lines.join("\n") + "\n");
  const nsswitchFile = path.join(dir, "nsswitch.conf");
  const nsswitch = fs.existsSync("/etc/nsswitch.conf") ? fs.readFileSync("/etc/nsswitch.conf", "utf8") : "";
  fs.writeFileSync(
    nsswitchFile,
    /^hosts:/m.test(nsswitch) ? nsswitch.replace(/^hosts:.*$/m, "hosts: files") : nsswitch + "hosts: files\n",
  );
  const mounts: Array<[string, string]> = [
    ["/etc/hosts", hostsFile],
    ["/etc/nsswitch.conf", nsswitchFile],
    ...Object.entries(binds),
  ];
  const script = ["set -e"];
  for (const [target, source] of mounts) {
    script.push(
      fs.statSync(source).isDirectory()
        ? `mkdir -p '${target}'`
        : `mkdir -p '${path.dirname(target)}'; [ -e '${target}' ] || touch '${target}'`,
      `mount --bind '${source}' '${target}'`,
    );
  }
  const prologue = script.join("\n");
  return (command, timeoutMs = 60_000) => run("unshare", ["-m", "sh", "-c", `${prologue}\n${command}`], { timeoutMs });
}

/**
 * main.cf text with the given parameters set: a rendered `name = …` line (and its continuation
 * lines) is replaced in place, a missing one appended. Nothing else changes.
 */
export function withSandboxParameters(mainCf: string, values: Readonly<Record<string, string>>): string {
  const lines = mainCf.replace(/\n$/, "").split("\n");
  const out: string[] = [];
  const done = new Set<string>();
  let skippingContinuation = false;
  for (const line of lines) {
    if (skippingContinuation && /^[ \t]+\S/.test(line)) continue;
    skippingContinuation = false;
    const m = /^([A-Za-z0-9_]+)\s*=/.exec(line);
    if (m && m[1]! in values) {
      out.push(paramLine(m[1]!, values[m[1]!]!));
      done.add(m[1]!);
      skippingContinuation = true;
      continue;
    }
    out.push(line);
  }
  const missing = Object.keys(values).filter((k) => !done.has(k));
  if (missing.length > 0) out.push("", "# postfix sandbox (test/system/postfix-sandbox.ts)");
  for (const k of missing) out.push(paramLine(k, values[k]!));
  return out.join("\n") + "\n";
}

function paramLine(name: string, value: string): string {
  return value === "" ? `${name} =` : `${name} = ${value}`;
}

/** One parsed `postconf -M` line. */
export interface MasterEntry {
  readonly service: string;
  readonly type: string;
  readonly command: string;
  /** For inet services: the listening endpoint with the port resolved through /etc/services. */
  readonly endpoint?: string;
}

/** Parses `postconf -M` output (one service per line). */
export function parseMasterEntries(postconfM: string): MasterEntry[] {
  const services = serviceNumbers();
  return postconfM
    .split("\n")
    .filter((l) => /^\S/.test(l))
    .map((line) => {
      const f = line.split(/\s+/);
      const [service, type] = [f[0]!, f[1]!];
      const entry = { service, type, command: f[7] ?? "" };
      if (type !== "inet") return entry;
      const colon = service.lastIndexOf(":");
      const host = colon >= 0 ? service.slice(0, colon) : "*";
      const port = colon >= 0 ? service.slice(colon + 1) : service;
      const number = /^\d+$/.test(port) ? port : (services.get(port) ?? port);
      return { ...entry, endpoint: `${host}:${number}` };
    });
}

/**
 * Services defined twice in `postconf -M` output: the same name/type, or two inet services on the
 * same endpoint (`smtp` and `25`). postfix itself reports neither (validators.md §5): its master
 * silently uses the last entry.
 */
export function duplicateServices(postconfM: string): string[] {
  const seen = new Map<string, number>();
  for (const e of parseMasterEntries(postconfM)) {
    for (const key of new Set([`${e.service}/${e.type}`, ...(e.endpoint ? [`inet ${e.endpoint}`] : [])])) {
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
  }
  return [...seen.entries()].filter(([, n]) => n > 1).map(([k]) => k);
}

/** /etc/services tcp names (and aliases) → port number. */
function serviceNumbers(): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of fs.readFileSync("/etc/services", "utf8").split("\n")) {
    const m = /^([^#\s]+)\s+(\d+)\/tcp\b([^#]*)/.exec(line);
    if (!m) continue;
    for (const name of [m[1]!, ...m[3]!.trim().split(/\s+/).filter(Boolean)]) {
      if (!map.has(name)) map.set(name, m[2]!);
    }
  }
  return map;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
