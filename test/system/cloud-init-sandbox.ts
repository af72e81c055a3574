/**
 * Runs cloud-init 22.4's own stages on a document, safely: in a private mount namespace (and pid
 * namespace) whose /etc is a scratch copy of the host's and whose /run, /var/lib and /var/log are
 * scratch directories, with stand-in programs on a directory of their own. Shared by the system
 * tests that show what cloud-init does with a node's `bootcmd`, `write_files` and `runcmd`
 * (boot-sources.test.ts, runcmd.test.ts).
 *
 * Safety: the script stops (`set -e`) before any caller line when a bind mount fails or /etc, /run,
 * /var/lib or /var/log is not the scratch one afterwards: cloud-init must never run on the host's
 * /etc (it once did, when the mounts were joined by `&&`). The helper then throws. Every process
 * started in the sandbox is killed when it ends or times out (pid namespace, `--kill-child`), and
 * the scratch directory is removed before the helper returns or throws.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { requireCloudInit } from "./cloud-init";
import { requireProgram, run, scratchDir } from "./support";

/** Host directory → its scratch stand-in (relative to the sandbox root), bound in this order. */
const BINDS: ReadonlyArray<readonly [string, string]> = [
  ["/etc", "etc"],
  ["/run", "run"],
  ["/var/lib", "var-lib"],
  ["/var/log", "var-log"],
];

/** Written by the script once every bind is in place (before any of the caller's lines). */
const MOUNTED = ".mounted";

export interface CloudInitSandboxSpec {
  /** Prefix of the scratch directory (the sandbox root). */
  readonly name: string;
  /** The cloud-config that the None datasource hands over (written as `#cloud-config` and JSON). */
  readonly userData: object;
  /** The modules enabled in each stage (cloud.cfg's `cloud_*_modules`); every other one is off. */
  readonly modules: {
    readonly init: readonly string[];
    readonly config: readonly string[];
    readonly final: readonly string[];
  };
  /** Stand-in programs, name → script (mode 0755 in $STANDINS; they log to $STANDIN_LOG). */
  readonly standIns: Readonly<Record<string, string>>;
  /**
   * Shell lines run after the bind mounts, still under `set -e`, with the host's PATH ($STANDINS is
   * not on it: a line puts it there for what it runs). Environment: SANDBOX (the root, outside the
   * bound directories: where to leave what the caller reads), STANDINS, STANDIN_LOG, HOST_PATH and
   * `env`.
   */
  readonly script: readonly string[];
  /** More environment for the script. */
  readonly env?: Readonly<Record<string, string>>;
  /** Seeds the sandbox root before the namespace starts (e.g. `var-log/cloud-init.log`). */
  readonly prepare?: (root: string) => void;
  /** After this long the namespace and everything in it is killed and the helper throws. */
  readonly timeoutMs?: number;
}

export interface CloudInitSandboxRun {
  /** The sandbox root (removed once `read` returns). */
  readonly root: string;
  /** The script's exit status, stdout and stderr. */
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The stand-ins' calls, one `<name> <args>` line each, in order. */
  readonly calls: readonly string[];
}

/** Fails with an install hint (scripts/install-system-deps.sh) when cloud-init or unshare is missing. */
export function requireCloudInitSandbox(): void {
  requireCloudInit();
  requireProgram("unshare", "util-linux");
}

/** cloud.cfg of the sandbox: the None datasource handing over `userData`, only `modules` enabled. */
function cloudCfg(spec: CloudInitSandboxSpec): object {
  return {
    datasource_list: ["None"],
    datasource: { None: { userdata_raw: "#cloud-config\n" + JSON.stringify(spec.userData) + "\n" } },
    network: { config: "disabled" },
    cloud_init_modules: spec.modules.init,
    cloud_config_modules: spec.modules.config,
    cloud_final_modules: spec.modules.final,
    system_info: { distro: "debian" },
  };
}

/** The script: `set -e`, the binds, a check that each took, the marker, then the caller's lines. */
function sandboxScript(root: string, lines: readonly string[]): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    // (stops before the caller's lines when a bind mount fails: cloud-init must never run on the host's /etc)
    "set -e",
    ...BINDS.map(([target, dir]) => `mount --bind ${q(path.join(root, dir))} ${target}`),
    ...BINDS.map(([target, dir]) => `[ "$(stat -c %d:%i ${target})" = "$(stat -c %d:%i ${q(path.join(root, dir))})" ]`),
    `: > ${q(path.join(root, MOUNTED))}`,
    ...lines,
  ].join("\n");
}

/**
 * Runs `spec.script` in the sandbox (a fresh scratch copy of /etc with only the package's cloud.cfg
 * and 05_logging.cfg, cloud.cfg replaced by `cloudCfg(spec)`) and hands the result to `read`, which
 * may read files the script left under the root. Throws when the sandbox could not be set up (a
 * failed copy or bind mount: the caller's lines did not run) or the run timed out.
 */
export function withCloudInitSandbox<T>(spec: CloudInitSandboxSpec, read: (r: CloudInitSandboxRun) => T): T {
  const root = scratchDir(spec.name);
  try {
    const cp = run("cp", ["-a", "/etc", path.join(root, "etc")]);
    if (cp.status !== 0) throw new Error(`cp -a /etc failed (exit ${cp.status}): ${cp.stderr}`);
    // Only cloud.cfg and the logging (cloud-init.log, cloud-init-output.log) of the package.
    const cfgDir = path.join(root, "etc/cloud/cloud.cfg.d");
    for (const f of fs.readdirSync(cfgDir))
      if (f !== "05_logging.cfg") fs.rmSync(path.join(cfgDir, f), { force: true });
    fs.writeFileSync(path.join(root, "etc/cloud/cloud.cfg"), JSON.stringify(cloudCfg(spec)) + "\n");
    const bin = path.join(root, "bin");
    fs.mkdirSync(bin);
    for (const [name, text] of Object.entries(spec.standIns))
      fs.writeFileSync(path.join(bin, name), text, { mode: 0o755 });
    for (const [, dir] of BINDS.slice(1)) fs.mkdirSync(path.join(root, dir));
    const log = path.join(root, "calls");
    fs.writeFileSync(log, "");
    spec.prepare?.(root);
    const hostPath = process.env.PATH ?? "/usr/bin:/bin";
    const env = { ...process.env, ...spec.env, PATH: hostPath, HOST_PATH: hostPath };
    const r = run("unshare", ["--mount", "--pid", "--kill-child", "sh", "-c", sandboxScript(root, spec.script)], {
      env: { ...env, SANDBOX: root, STANDINS: bin, STANDIN_LOG: log },
      timeoutMs: spec.timeoutMs ?? 120_000,
      // unshare blocks SIGTERM while it waits; killed, it takes its child (pid 1: the namespace) along
      killSignal: "SIGKILL",
    });
    if (!fs.existsSync(path.join(root, MOUNTED)))
      throw new Error(`the sandbox's bind mounts failed (exit ${r.status}), nothing ran: ${r.stdout}${r.stderr}`);
    const calls = fs.readFileSync(log, "utf8").split("\n").filter(Boolean);
    return read({ root, status: r.status, stdout: r.stdout, stderr: r.stderr, calls });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
