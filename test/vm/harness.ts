/**
 * What the VM scenarios share: booting a set of the stack's nodes (fresh overlays, their seeds
 * unchanged, data disks as libvirt attaches them, all on one cluster hub), reading each node's
 * readiness report from its console, running commands in guests, recording checks, and printing
 * diagnostics when something fails.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { READINESS_BEGIN, READINESS_END } from "../../lib/provision";
import { Hub, startHub } from "./hub";
import { Accel, ExecResult, GuestImage, Vm, freePort, sleep } from "./qemu";
import type { RepoServer } from "./repo";
import type { SynthesizedStack } from "./stack";

export interface CheckResult {
  readonly scenario: string;
  readonly name: string;
  readonly ok: boolean;
  readonly detail?: string;
}

export interface Readiness {
  readonly status: string;
  readonly failedUnits: number;
  readonly warnings: number;
  /** The whole report, begin to end marker. */
  readonly report: string;
  /** Seconds from qemu start to the end marker. */
  readonly seconds: number;
  /** CPU seconds qemu had used by then (host time; load-independent, unlike `seconds`). */
  readonly cpuSeconds?: number;
}

export interface BootOptions {
  /** host port → guest port forwards (on 127.0.0.1 / the guest's 10.0.2.15). */
  readonly forwards?: readonly { readonly host: number; readonly guest: number }[];
}

/** The largest data disk the tests attach (the example's volumes are sparse files of this size at most). */
const MAX_DATA_DISK_MIB = 4096;
/** Guest memory: the domain's, at most this (qemu allocates guest memory lazily). */
const MAX_MEMORY_MIB = Number(process.env.VM_MAX_MEMORY_MIB ?? 8192);

export class Guest {
  constructor(
    public readonly node: string,
    public readonly vm: Vm,
    public readonly forwards: ReadonlyMap<number, number>,
  ) {}

  public exec(command: string, options: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
    return this.vm.exec(command, options);
  }

  /** Runs a command; throws with its output unless it exits 0. */
  public async run(command: string, options: { timeoutMs?: number; input?: string } = {}): Promise<string> {
    const r = await this.exec(command, options);
    if (r.code !== 0) {
      throw new Error(`${this.node}: \`${command}\` exited ${r.code}\n${(r.stdout + r.stderr).trim().slice(-2000)}`);
    }
    return r.stdout;
  }

  /** Writes a file in the guest (root, 0600). */
  public async put(file: string, content: string): Promise<void> {
    await this.run(`mkdir -p "$(dirname ${file})" && umask 077 && cat > ${file}`, { input: content });
  }

  /** Host port forwarded to `guestPort`. */
  public hostPort(guestPort: number): number {
    const p = this.forwards.get(guestPort);
    if (p === undefined) throw new Error(`${this.node}: no forward to guest port ${guestPort}`);
    return p;
  }

  /** Waits for this boot's readiness report on the console. */
  public async readiness(timeoutMs: number): Promise<Readiness> {
    // The guest prints its hostname: the FQDN where cloud-init sets it (prefer_fqdn_over_hostname).
    const host = `${escape(this.node)}(?:\\.\\S+)?`;
    const end = new RegExp(`${escape(READINESS_END)} ${host} status=(\\S*) failed-units=(\\d+) warnings=(\\d+) ===`);
    const m = await this.vm.waitForSerial(end, timeoutMs);
    const serial = this.vm.serial();
    const begins = [...serial.matchAll(new RegExp(`${escape(READINESS_BEGIN)} ${host} ===`, "g"))];
    const begin = begins.length ? begins[begins.length - 1]!.index : -1;
    const stop = serial.indexOf(m[0], Math.max(begin, 0)) + m[0].length;
    return {
      status: m[1]!,
      failedUnits: Number(m[2]),
      warnings: Number(m[3]),
      report: begin >= 0 ? serial.slice(begin, stop) : m[0],
      seconds: (Date.now() - this.vm.startedAt) / 1000,
      cpuSeconds: this.vm.cpuSeconds(),
    };
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export class Harness {
  public readonly results: CheckResult[] = [];
  private readonly guests: Guest[] = [];
  private hub?: Hub;

  constructor(
    public readonly stack: SynthesizedStack,
    private readonly image: GuestImage,
    public readonly repo: RepoServer,
    public readonly accel: Accel,
    public readonly workDir: string,
    private readonly log: (line: string) => void,
  ) {}

  /** Boots `nodes` in parallel (qemu started; call `readiness` to wait). */
  public async boot(scenario: string, nodes: Record<string, BootOptions>): Promise<Record<string, Guest>> {
    if (!this.hub) this.hub = await startHub();
    const out: Record<string, Guest> = {};
    for (const [node, options] of Object.entries(nodes)) {
      const seed = this.stack.seeds.get(node);
      if (!seed) throw new Error(`the stack has no seed for ${node}`);
      const net = parse(seed.networkConfig) as { ethernets: Record<string, { match?: { macaddress?: string } }> };
      const mac = Object.values(net.ethernets)[0]?.match?.macaddress;
      if (!mac) throw new Error(`${node}: no MAC in the network-config`);
      const forwards = new Map<number, number>();
      for (const f of options.forwards ?? []) forwards.set(f.guest, f.host);
      const vm = new Vm({
        name: node,
        dir: path.join(this.workDir, scenario, node),
        image: this.image,
        seed: { userData: seed.userData, metaData: seed.metaData, networkConfig: seed.networkConfig },
        dataDisksMiB: this.dataDisks(seed.key),
        memoryMiB: Math.min(MAX_MEMORY_MIB, Number(this.domain(seed.key).memory) || 1024),
        clusterMac: mac,
        hubPort: this.hub.port,
        repoPort: this.repo.port,
        forwards: options.forwards ?? [],
        accel: this.accel,
      });
      vm.start();
      const g = new Guest(node, vm, forwards);
      this.guests.push(g);
      out[node] = g;
    }
    return out;
  }

  /** The `libvirt_domain` that boots from the seed. */
  private domain(seedKey: string): any {
    const ref = `\${libvirt_cloudinit_disk.${seedKey}.id}`;
    const domain = Object.values<any>(this.stack.json.resource.libvirt_domain ?? {}).find((d) => d.cloudinit === ref);
    if (!domain) throw new Error(`no libvirt_domain uses seed ${seedKey}`);
    return domain;
  }

  /** Data disk sizes of the node's domain (every disk after the root volume), capped. */
  private dataDisks(seedKey: string): number[] {
    const domain = this.domain(seedKey);
    const volumes = this.stack.json.resource.libvirt_volume ?? {};
    return (domain.disk as { volume_id: string }[]).slice(1).map((d) => {
      const key = /^\$\{libvirt_volume\.([^.]+)\.id\}$/.exec(d.volume_id)?.[1];
      const bytes = key ? Number(volumes[key]?.size) : NaN;
      return Number.isFinite(bytes) ? Math.min(MAX_DATA_DISK_MIB, Math.floor(bytes / 1024 / 1024)) : MAX_DATA_DISK_MIB;
    });
  }

  /** Stops every guest of this harness (power-off, kill as fallback). */
  public async stopAll(): Promise<void> {
    const gs = this.guests.splice(0);
    const how = await Promise.all(gs.map((g) => g.vm.stop()));
    gs.forEach((g, i) => this.log(`  ${g.node}: stopped (${how[i]})`));
  }

  public async close(): Promise<void> {
    await this.stopAll();
    await this.hub?.close();
  }

  /** Records what a scenario explicitly leaves out (neither passed nor failed). */
  public outOfScope(scenario: string, what: string, why: string): void {
    this.skipped.push({ scenario, name: what, ok: true, detail: why });
    this.log(`  skip  ${what}: out of scope (${why})`);
  }

  public readonly skipped: CheckResult[] = [];

  /** Records one check; `fn` throws to fail. Returns whether it passed. */
  public async check(scenario: string, name: string, fn: () => Promise<void> | void): Promise<boolean> {
    const t0 = Date.now();
    try {
      await fn();
      this.results.push({ scenario, name, ok: true });
      this.log(`  ok    ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      return true;
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      this.results.push({ scenario, name, ok: false, detail });
      this.log(`  FAIL  ${name}\n${indent(detail)}`);
      return false;
    }
  }

  /** Prints what a person needs when a guest did not come up: its report, or the console's end. */
  public diagnostics(g: Guest): void {
    const serial = g.vm.serial();
    const begin = serial.lastIndexOf(`${READINESS_BEGIN} ${g.node}`);
    this.log(`  --- diagnostics of ${g.node} (logs in ${g.vm.spec.dir})`);
    if (begin >= 0) this.log(indent(serial.slice(begin).split("\n").slice(0, 200).join("\n")));
    else this.log(indent(serial.split("\n").slice(-60).join("\n")));
    const misses = this.repo.misses.filter((m) => !/(InRelease|Release\.gpg|Translation-|\/by-hash\/)/.test(m));
    if (misses.length) this.log(indent(`local repository misses: ${misses.slice(0, 20).join(", ")}`));
  }

  /**
   * After a failed check: what each guest still running says now (cloud-init status, failed units,
   * cloud-init.log WARNING/ERROR lines, the last error-priority journal lines), through the agent.
   */
  public async liveDiagnostics(): Promise<void> {
    for (const g of this.guests) {
      if (!g.vm.isRunning) continue;
      const script = [
        "echo '--- cloud-init status --long'; cloud-init status --long 2>&1 | head -n 20",
        "echo '--- failed units'; systemctl --failed --no-legend --plain 2>&1",
        "echo '--- cloud-init.log WARNING/ERROR lines'; grep -E '\\[(WARNING|ERROR)\\]|Traceback' /var/log/cloud-init.log | tail -n 30",
        "echo '--- journal, priority err and worse (last 30)'; journalctl -b -p err --no-pager -n 30 2>&1",
      ].join("; ");
      try {
        const r = await g.exec(script, { timeoutMs: 180_000 });
        this.log(`  --- live diagnostics of ${g.node}\n${indent((r.stdout + r.stderr).trimEnd())}`);
      } catch (e) {
        this.log(`  --- live diagnostics of ${g.node}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  /** Logs an informational line. */
  public note(line: string): void {
    this.log(`        ${line}`);
  }

  /** A fresh free host port. */
  public port(): Promise<number> {
    return freePort();
  }
}

export function indent(s: string): string {
  return s
    .split("\n")
    .map((l) => `        ${l}`)
    .join("\n");
}

export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

export function assertEqual<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}\n        got      ${a}`);
}

/** An error `poll` does not retry. */
export class Fatal extends Error {}

/** Polls `fn` until it returns a value other than undefined; throws its last error on timeout (a `Fatal` at once). */
export async function poll<T>(
  what: string,
  timeoutMs: number,
  fn: () => Promise<T | undefined>,
  everyMs = 3000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not within ${timeoutMs / 1000} s${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ""}`,
      );
    }
    await sleep(everyMs);
  }
}

export function readFixture(...parts: string[]): string {
  return fs.readFileSync(path.join(__dirname, "..", ...parts), "utf8");
}
