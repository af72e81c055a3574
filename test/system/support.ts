/**
 * Shared helpers for system tests: they run real programs from Debian packages on what we
 * generate. A missing program is a failure with the command that installs it, never a skip.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Absolute path of a program, or throws saying which Debian package provides it. */
export function requireProgram(program: string, debianPackage: string): string {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin", "/usr/bin"])) {
    const p = path.join(dir, program);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // try the next directory
    }
  }
  throw new Error(
    `${program} is not installed. Install it with: apt-get install ${debianPackage} ` +
      `(or run scripts/install-system-deps.sh, which installs everything the system tests need).`,
  );
}

export interface RunResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a program synchronously and captures its output (never throws on a non-zero exit). A
 * program that exits without reading all of `input` (a client refusing its option file before it
 * reads a query) is a result, not an error: writing the rest then fails with EPIPE, depending on
 * when the program exits, and its exit status is what counts.
 */
export function run(
  cmd: string,
  args: readonly string[],
  opts: {
    input?: string;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    timeoutMs?: number;
    /** Sent when the time runs out (SIGTERM unless said; `unshare --fork` blocks SIGTERM). */
    killSignal?: NodeJS.Signals;
  } = {},
): RunResult {
  const r = spawnSync(cmd, args, {
    input: opts.input,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 60_000,
    killSignal: opts.killSignal,
  });
  if (r.error && !(isEpipe(r.error) && r.status !== null)) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

function isEpipe(e: Error): boolean {
  return (e as NodeJS.ErrnoException).code === "EPIPE";
}

/** A fresh scratch directory under the test TMPDIR (removed by the jest global teardown). */
export function scratchDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

/** Writes files (absolute-path keys are taken relative to `root`) and returns root. */
export function writeTree(root: string, files: Record<string, string>): string {
  for (const [p, content] of Object.entries(files)) {
    const target = path.join(root, p);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, content);
  }
  return root;
}

export interface SandboxSpec {
  /** Host names the checker must resolve (name → address); written to a private /etc/hosts. */
  readonly hosts?: Record<string, string>;
  /** Real absolute paths (files or directories) to replace with sandbox copies: target → source. */
  readonly binds: Record<string, string>;
}

/**
 * Runs a shell command in a private mount namespace (`unshare -m`) with sandbox files bind-mounted
 * over real absolute paths, a hosts-only resolver and a mock /etc/hosts, so checkers such as
 * `haproxy -c` and `nginx -t` read the UNMODIFIED generated files at their real paths and resolve
 * backend names without DNS (shared/reference/validators.md §2). Nothing reaches the host.
 */
export function runInSandbox(spec: SandboxSpec, command: string, timeoutMs = 60_000): RunResult {
  requireProgram("unshare", "util-linux");
  const sb = scratchDir("sandbox");
  const hostsLines = ["127.0.0.1 localhost", "::1 localhost"];
  for (const [name, addr] of Object.entries(spec.hosts ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    hostsLines.push(`${addr} ${name}`);
  }
  fs.writeFileSync(path.join(sb, "hosts"), hostsLines.join("\n") + "\n");
  const nsswitch = fs.existsSync("/etc/nsswitch.conf") ? fs.readFileSync("/etc/nsswitch.conf", "utf8") : "";
  fs.writeFileSync(
    path.join(sb, "nsswitch.conf"),
    /^hosts:/m.test(nsswitch) ? nsswitch.replace(/^hosts:.*$/m, "hosts: files") : nsswitch + "hosts: files\n",
  );
  const binds: Array<[string, string]> = [
    ["/etc/hosts", path.join(sb, "hosts")],
    ["/etc/nsswitch.conf", path.join(sb, "nsswitch.conf")],
    ...Object.entries(spec.binds),
  ];
  const lines = ["set -e"];
  for (const [target, source] of binds) {
    const isDir = fs.statSync(source).isDirectory();
    lines.push(
      isDir ? `mkdir -p '${target}'` : `mkdir -p '${path.dirname(target)}'; [ -e '${target}' ] || touch '${target}'`,
    );
    lines.push(`mount --bind '${source}' '${target}'`);
  }
  lines.push(command);
  return run("unshare", ["-m", "sh", "-c", lines.join("\n")], { timeoutMs });
}
