/**
 * One test guest under qemu (shared/reference/vm-boot.md): a qcow2 overlay on the cached image,
 * direct kernel boot, the NoCloud seed as an IDE CD-ROM on the i440FX machine (how libvirt attaches
 * the provider's seed by default), extra virtio disks as libvirt attaches data volumes, one NIC on
 * qemu user networking restricted to forwards (the local apt repository through `guestfwd`, host
 * ports through `hostfwd` on 127.0.0.1), one NIC on the cluster hub, serial console to a file,
 * HMP monitor and qemu-guest-agent on unix sockets. Every guest started is registered and stopped
 * at exit, also on failure or a signal.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

export type Accel = { kind: "kvm" } | { kind: "tcg"; reason: string };

/** KVM when it can run an unmodified guest; TCG on hosts without /dev/kvm or with kvm_pvm. */
export function detectAccel(): Accel {
  if (process.env.VM_ACCEL === "tcg") return { kind: "tcg", reason: "VM_ACCEL=tcg" };
  if (fs.existsSync("/sys/module/kvm_pvm")) return { kind: "tcg", reason: "kvm_pvm cannot run an unmodified kernel" };
  try {
    fs.accessSync("/dev/kvm", fs.constants.R_OK | fs.constants.W_OK);
    return { kind: "kvm" };
  } catch {
    return { kind: "tcg", reason: "no usable /dev/kvm" };
  }
}

/** A free TCP port on 127.0.0.1 (closed again; qemu or the caller binds it next). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface GuestImage {
  readonly rootfs: string;
  readonly kernel: string;
  readonly initrd: string;
}

export interface VmSpec {
  readonly name: string;
  /** Scratch directory of this guest (overlay, seed, logs, sockets). */
  readonly dir: string;
  readonly image: GuestImage;
  /** The NoCloud seed files, byte for byte as the platform would write them. */
  readonly seed: { readonly userData: string; readonly metaData: string; readonly networkConfig: string };
  /** Extra virtio disks (vdb, vdc, …) in MiB, blank, as libvirt attaches data volumes. */
  readonly dataDisksMiB?: readonly number[];
  /** MAC of the cluster NIC (the seed's network-config matches it). */
  readonly clusterMac: string;
  readonly hubPort: number;
  /** Host port of the local apt repository (reached by the guest as http://10.0.2.100/). */
  readonly repoPort: number;
  /** host port → guest port on the user-networking NIC (10.0.2.15). */
  readonly forwards?: readonly { readonly host: number; readonly guest: number }[];
  readonly memoryMiB?: number;
  readonly accel: Accel;
}

/** The MAC of the test NIC; the image names it testnet0 and gives it 10.0.2.15/24. */
export const TEST_NIC_MAC = "52:54:00:99:00:01";
export const REPO_GUEST_ADDRESS = "10.0.2.100";

const running = new Set<ChildProcess>();
function killAll(): void {
  for (const p of running) {
    try {
      p.kill("SIGKILL");
    } catch {
      /* gone */
    }
  }
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class Vm {
  public readonly serialPath: string;
  public startedAt = 0;
  private proc?: ChildProcess;
  private exited?: Promise<number | null>;
  private agent?: Agent;
  private args?: readonly string[];

  constructor(public readonly spec: VmSpec) {
    this.serialPath = path.join(spec.dir, "serial.log");
  }

  public get name(): string {
    return this.spec.name;
  }

  /** Writes the overlay, disks and seed, then starts qemu. */
  public start(): void {
    const s = this.spec;
    fs.mkdirSync(s.dir, { recursive: true });
    const overlay = path.join(s.dir, "root.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", s.image.rootfs, "-F", "raw", overlay]);
    const seedDir = path.join(s.dir, "seed");
    fs.mkdirSync(seedDir, { recursive: true });
    fs.writeFileSync(path.join(seedDir, "user-data"), s.seed.userData);
    fs.writeFileSync(path.join(seedDir, "meta-data"), s.seed.metaData);
    fs.writeFileSync(path.join(seedDir, "network-config"), s.seed.networkConfig);
    const iso = path.join(s.dir, "seed.iso");
    // What terraform-provider-libvirt runs (mkisofs is genisoimage on Debian).
    execFileSync(
      "genisoimage",
      ["-quiet", "-output", iso, "-volid", "cidata", "-joliet", "-rock", "user-data", "meta-data", "network-config"],
      { cwd: seedDir },
    );
    const disks = (s.dataDisksMiB ?? []).map((mib, i) => {
      const f = path.join(s.dir, `data${i}.raw`);
      fs.writeFileSync(f, "");
      fs.truncateSync(f, mib * 1024 * 1024);
      return f;
    });
    const fwd = (s.forwards ?? []).map((f) => `,hostfwd=tcp:127.0.0.1:${f.host}-10.0.2.15:${f.guest}`).join("");
    const accel =
      s.accel.kind === "kvm" ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg,thread=multi", "-cpu", "qemu64"];
    const args = [
      "-name",
      s.name,
      "-machine",
      "pc",
      ...accel,
      "-smp",
      "1",
      "-m",
      String(s.memoryMiB ?? 1024),
      "-nodefaults",
      "-display",
      "none",
      "-no-reboot",
      "-kernel",
      s.image.kernel,
      "-initrd",
      s.image.initrd,
      "-append",
      "root=/dev/vda rw console=ttyS0 panic=-1",
      "-drive",
      // cache=unsafe: the host ignores the guests' flushes (dpkg fsyncs every file); a crashed test
      // guest is thrown away anyway. The guests see the same disks either way.
      `file=${overlay},if=virtio,format=qcow2,cache=unsafe`,
      ...disks.flatMap((d) => ["-drive", `file=${d},if=virtio,format=raw,cache=unsafe`]),
      "-drive",
      `file=${iso},if=ide,media=cdrom,readonly=on`,
      "-netdev",
      `user,id=test,net=10.0.2.0/24,restrict=on,guestfwd=tcp:${REPO_GUEST_ADDRESS}:80-cmd:socat - TCP:127.0.0.1:${s.repoPort}${fwd}`,
      "-device",
      `virtio-net-pci,netdev=test,mac=${TEST_NIC_MAC}`,
      "-netdev",
      `socket,id=cluster,connect=127.0.0.1:${s.hubPort}`,
      "-device",
      `virtio-net-pci,netdev=cluster,mac=${s.clusterMac}`,
      "-chardev",
      `socket,id=qga,path=${path.join(s.dir, "qga.sock")},server=on,wait=off`,
      "-device",
      "virtio-serial",
      "-device",
      "virtserialport,chardev=qga,name=org.qemu.guest_agent.0",
      "-serial",
      `file:${this.serialPath}`,
      "-monitor",
      `unix:${path.join(s.dir, "monitor.sock")},server=on,wait=off`,
    ];
    fs.writeFileSync(path.join(s.dir, "qemu.args"), args.join("\n") + "\n");
    this.args = args;
    this.launch();
  }

  /**
   * Starts the stopped guest again on the same overlay, data disks and seed (a reboot: qemu runs
   * with `-no-reboot`, so the guest's own reboot ends qemu; `stop()` then this). The console log
   * starts afresh.
   */
  public restart(): void {
    if (!this.args) throw new Error(`${this.name}: restart before start`);
    if (this.isRunning) throw new Error(`${this.name}: restart while qemu runs (stop it first)`);
    // Before qemu opens it afresh: a reader must not find the first boot's readiness report.
    fs.rmSync(this.serialPath, { force: true });
    this.launch();
  }

  private launch(): void {
    const s = this.spec;
    const args = this.args!;
    const log = fs.openSync(path.join(s.dir, "qemu.log"), "a");
    this.proc = spawn("qemu-system-x86_64", args, { stdio: ["ignore", log, log] });
    fs.closeSync(log);
    running.add(this.proc);
    this.startedAt = Date.now();
    const proc = this.proc;
    this.exited = new Promise((resolve) => {
      proc.on("exit", (code) => {
        running.delete(proc);
        resolve(code);
      });
    });
  }

  public get isRunning(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** CPU seconds (user + system) qemu has used so far, from /proc; undefined when it is not running. */
  public cpuSeconds(): number | undefined {
    if (!this.proc?.pid || !this.isRunning) return undefined;
    try {
      const stat = fs.readFileSync(`/proc/${this.proc.pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // fields 14 and 15 (utime, stime) counted from the state field (3): indexes 11 and 12
      return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
    } catch {
      return undefined;
    }
  }

  public serial(): string {
    try {
      return fs.readFileSync(this.serialPath, "utf8").replace(/\r/g, "");
    } catch {
      return "";
    }
  }

  /** Waits until the serial log holds a line matching `re`; throws on timeout or when qemu exits. */
  public async waitForSerial(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.serial());
      if (m) return m;
      if (!this.isRunning) throw new Error(`${this.name}: qemu exited before ${re} appeared on the console`);
      if (Date.now() > deadline)
        throw new Error(`${this.name}: ${re} did not appear on the console within ${timeoutMs / 1000} s`);
      await sleep(1000);
    }
  }

  /** Runs `sh -c command` in the guest through qemu-guest-agent. */
  public async exec(command: string, options: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
    if (!this.agent) this.agent = new Agent(path.join(this.spec.dir, "qga.sock"));
    return this.agent.exec(command, options.timeoutMs ?? 120_000, options.input);
  }

  /** ACPI power-off through the monitor, then waits; kills qemu when the guest does not stop. */
  public async stop(timeoutMs = 60_000): Promise<"powerdown" | "killed" | "not-running"> {
    this.agent?.close();
    if (!this.proc || !this.isRunning) return "not-running";
    try {
      await hmp(path.join(this.spec.dir, "monitor.sock"), "system_powerdown");
    } catch {
      /* fall through to kill */
    }
    const timer = sleep(timeoutMs).then(() => "timeout" as const);
    if ((await Promise.race([this.exited!.then(() => "exited" as const), timer])) === "exited") return "powerdown";
    this.proc.kill("SIGTERM");
    const t2 = sleep(5000).then(() => "timeout" as const);
    if ((await Promise.race([this.exited!.then(() => "exited" as const), t2])) === "timeout") this.proc.kill("SIGKILL");
    await this.exited;
    return "killed";
  }
}

/** USER_HZ: /proc's clock ticks per second (100 on Linux x86). */
const CLOCK_TICKS = 100;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sends one HMP command after reading the monitor's banner. */
async function hmp(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    let out = "";
    let sent = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error("monitor timeout"));
    }, 10_000);
    sock.on("data", (d) => {
      out += d.toString();
      if (!sent && out.includes("(qemu)")) {
        sent = true;
        out = "";
        sock.write(command + "\n");
      } else if (sent && out.includes("(qemu)")) {
        clearTimeout(timer);
        sock.end();
        resolve(out);
      }
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** A qemu-guest-agent client (JSON lines over the virtio-serial chardev). */
class Agent {
  private sock?: net.Socket;
  private buf = "";
  private waiters: ((line: string) => void)[] = [];
  private lines: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly socketPath: string) {}

  public close(): void {
    this.sock?.destroy();
    this.sock = undefined;
  }

  private async connect(): Promise<void> {
    if (this.sock && !this.sock.destroyed) return;
    this.buf = "";
    this.lines = [];
    await new Promise<void>((resolve, reject) => {
      const s = net.createConnection(this.socketPath, () => resolve());
      s.on("error", reject);
      s.on("data", (d) => {
        this.buf += d.toString();
        let i: number;
        while ((i = this.buf.indexOf("\n")) >= 0) {
          const line = this.buf.slice(0, i).trim();
          this.buf = this.buf.slice(i + 1);
          if (!line) continue;
          const w = this.waiters.shift();
          if (w) w(line);
          else this.lines.push(line);
        }
      });
      s.on("close", () => {
        if (this.sock === s) this.sock = undefined;
      });
      this.sock = s;
    });
  }

  private nextLine(timeoutMs: number): Promise<string | undefined> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve) => {
      const w = (line: string) => {
        clearTimeout(t);
        resolve(line);
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Sends a command and returns its `return` value (after a guest-sync that discards stale lines). */
  private async call(execute: string, args: unknown, timeoutMs: number): Promise<any> {
    await this.connect();
    const id = Math.floor(Math.random() * 1e9);
    this.sock!.write(JSON.stringify({ execute: "guest-sync", arguments: { id } }) + "\n");
    const syncDeadline = Date.now() + 5000;
    for (;;) {
      const line = await this.nextLine(Math.max(1, syncDeadline - Date.now()));
      if (line === undefined) {
        this.close();
        throw new Error("guest agent did not answer guest-sync");
      }
      try {
        if (JSON.parse(line).return === id) break;
      } catch {
        /* partial or stale */
      }
    }
    this.sock!.write(JSON.stringify({ execute, ...(args !== undefined ? { arguments: args } : {}) }) + "\n");
    const line = await this.nextLine(timeoutMs);
    if (line === undefined) {
      this.close();
      throw new Error(`guest agent: no answer to ${execute}`);
    }
    const msg = JSON.parse(line);
    if (msg.error) throw new Error(`guest agent: ${execute}: ${msg.error.desc ?? JSON.stringify(msg.error)}`);
    return msg.return;
  }

  /** Waits until the agent answers (the guest has booted far enough). */
  public async ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.call("guest-ping", undefined, 5000);
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await sleep(2000);
      }
    }
  }

  public exec(command: string, timeoutMs: number, input?: string): Promise<ExecResult> {
    const run = async (): Promise<ExecResult> => {
      await this.ready(timeoutMs);
      const { pid } = await this.call(
        "guest-exec",
        {
          path: "/bin/sh",
          arg: ["-c", command],
          "capture-output": true,
          ...(input !== undefined ? { "input-data": Buffer.from(input).toString("base64") } : {}),
        },
        10_000,
      );
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const st = await this.call("guest-exec-status", { pid }, 10_000);
        if (st.exited) {
          const dec = (b?: string) => (b ? Buffer.from(b, "base64").toString("utf8") : "");
          return {
            code: st.exitcode ?? (st.signal ? 128 + st.signal : -1),
            stdout: dec(st["out-data"]),
            stderr: dec(st["err-data"]),
          };
        }
        if (Date.now() > deadline) throw new Error(`guest command timed out after ${timeoutMs / 1000} s: ${command}`);
        await sleep(300);
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }
}
