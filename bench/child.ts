/**
 * One benchmark measurement, in a fresh process (run by bench/run.ts; not meant to be run by hand).
 *
 * The request is JSON in argv[2]; the result is printed as one line `BENCH_RESULT <json>`.
 * Setup (reading a captured stack, generating map rows) happens before the timed region. Right
 * before it the child collects garbage (`--expose-gc`) and resets the kernel's peak-RSS mark
 * (`/proc/self/clear_refs` = 5), so `peakKb` is the peak resident size during construct + synth
 * alone (it includes what was already resident: modules and setup data).
 *
 * `warmup` (library and bare modes): the timed body (a new App with its own outdir, the stack,
 * synth) runs that many times untimed first, in the same process, each a complete independent
 * synth; then one more run is timed exactly like a cold one. The only memo in lib/ that outlives
 * an App is the token filler streams (`fillerStreams` in lib/provision/tokens.ts: sha256 blocks
 * per seed, the same bytes every run); it is kept, so a warm figure is "warm, caches kept". The
 * other memos hang off per-cluster objects (TokenRegistry, Topology) and start empty per App.
 * cdktf's own process-wide token map keeps growing across Apps on both sides.
 *
 * `lazyModules`: modules first loaded inside the timed region (files relative to the repository,
 * node's built-ins as `node:<name>`), from the module cache and `process.moduleLoadList` before
 * and after it: nothing is hooked, so the timed region is unchanged.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { App } from "cdktf";
import { GrommunioCluster } from "../lib";
import { renderMailboxMap } from "../lib/render/haproxy";
import { BenchPlatform, documentedStack, scaledStack } from "./layouts";
import { buildBareStack, planFromSynth, JsonObject } from "./bare";
import { syntheticMailboxMap } from "./mailbox-rows";
import { OutputGzip, gzipReplay, replayGzip } from "./gzip-floor";

export type ChildRequest =
  | {
      readonly mode: "library";
      readonly platform: BenchPlatform;
      readonly outdir: string;
      /** Untimed complete synths in the same process before the timed one (default 0: cold). */
      readonly warmup?: number;
    }
  | {
      readonly mode: "bare";
      readonly platform: BenchPlatform;
      readonly outdir: string;
      /** The library's cdk.tf.json to rebuild. */
      readonly capture: string;
      readonly stackName: string;
      /** Untimed complete synths in the same process before the timed one (default 0: cold). */
      readonly warmup?: number;
      /**
       * The floor variant: a JSON file of the output's gzip members (bench/gzip-floor.ts), each
       * compressed again inside the timed region, after the synth.
       */
      readonly gzipFloor?: string;
    }
  | { readonly mode: "scale"; readonly platform: BenchPlatform; readonly mailbox: number; readonly outdir: string }
  | { readonly mode: "map"; readonly users: number };

export interface NodeUserData {
  readonly node: string;
  readonly roles: string[];
  readonly encoding: string;
  readonly maxBytes: number;
  readonly limitBytes: number;
  readonly textBytes: number;
}

export interface ChildResult {
  /** Construct + synth (or the map render), wall clock, ms. */
  readonly timedMs: number;
  /** CPU time (user + system, all threads) of the same region, ms: less sensitive to other load. */
  readonly cpuMs: number;
  /** ms from process start to the timed region (module load + setup). */
  readonly readyMs: number;
  /** Resident size when the timed region starts, KiB. */
  readonly rssStartKb: number;
  /** Peak resident size during the timed region, KiB. */
  readonly peakKb: number;
  /** Peak resident size of the whole process, KiB. */
  readonly processPeakKb: number;
  /** Bytes of cdk.tf.json (synth) or of mailbox.map (map). */
  readonly outputBytes?: number;
  readonly resources?: number;
  readonly mapEntries?: number;
  readonly userData?: NodeUserData[];
  /** Wall and CPU ms of each untimed warm-up synth (warm runs only), in order. */
  readonly warmupMs?: number[];
  readonly warmupCpuMs?: number[];
  /** Modules first loaded inside the timed region (cold library and bare runs). */
  readonly lazyModules?: string[];
  /** Set when synth threw (e.g. a validation error): the timing is then not a full synth. */
  readonly error?: string;
}

function status(field: "VmRSS" | "VmHWM"): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]);
  } catch {
    // not Linux
  }
  return field === "VmHWM" ? process.resourceUsage().maxRSS : Math.round(process.memoryUsage().rss / 1024);
}

function resetPeak(): boolean {
  try {
    fs.writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

function stackJson(outdir: string): { bytes: number; resources: number } | undefined {
  const stacks = path.join(outdir, "stacks");
  if (!fs.existsSync(stacks)) return undefined;
  let bytes = 0;
  let resources = 0;
  for (const s of fs.readdirSync(stacks)) {
    const file = path.join(stacks, s, "cdk.tf.json");
    const text = fs.readFileSync(file, "utf8");
    bytes += Buffer.byteLength(text);
    const json = JSON.parse(text) as { resource?: Record<string, object>; data?: Record<string, object> };
    for (const group of [json.resource ?? {}, json.data ?? {}]) {
      for (const byName of Object.values(group)) resources += Object.keys(byName).length;
    }
  }
  return { bytes, resources };
}

/** The repository (bench/run.ts starts children there). */
const ROOT = process.cwd();

/** What is loaded: files in the module cache and node's built-ins. */
function loadedModules(): Set<string> {
  const out = new Set<string>();
  for (const f of Object.keys(require.cache)) out.add(path.relative(ROOT, f));
  const list = (process as unknown as { moduleLoadList?: string[] }).moduleLoadList ?? [];
  for (const m of list) if (m.startsWith("NativeModule ")) out.add(`node:${m.slice("NativeModule ".length)}`);
  return out;
}

function measure(run: () => void): {
  timedMs: number;
  cpuMs: number;
  readyMs: number;
  rssStartKb: number;
  peakKb: number;
  loadPeakKb: number;
  lazyModules: string[];
  error?: string;
} {
  const loaded = loadedModules();
  const loadPeakKb = status("VmHWM");
  (globalThis as { gc?: () => void }).gc?.();
  const reset = resetPeak();
  const rssStartKb = status("VmRSS");
  const readyMs = performance.now();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let error: string | undefined;
  try {
    run();
  } catch (e) {
    error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  const timedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const peak = status("VmHWM");
  const lazyModules = [...loadedModules()].filter((m) => !loaded.has(m)).sort();
  return {
    timedMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    readyMs,
    rssStartKb,
    peakKb: reset ? peak : Math.max(peak, rssStartKb),
    loadPeakKb,
    lazyModules,
    ...(error !== undefined ? { error } : {}),
  };
}

/**
 * `warmup` complete synths, untimed, each with its own App and outdir (removed after it), before
 * the measured one; their wall and CPU ms are returned for information.
 */
function warmUp(
  warmup: number,
  outdir: string,
  body: (outdir: string) => void,
): { warmupMs: number[]; warmupCpuMs: number[] } {
  const warmupMs: number[] = [];
  const warmupCpuMs: number[] = [];
  for (let i = 1; i <= warmup; i++) {
    const dir = `${outdir}-warmup${i}`;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    body(dir);
    warmupMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const cpu = process.cpuUsage(cpu0);
    warmupCpuMs.push((cpu.user + cpu.system) / 1000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { warmupMs, warmupCpuMs };
}

/** The library's per-node user-data bound (filled at synth, also when synth then throws). */
function userDataOf(cluster: GrommunioCluster): NodeUserData[] {
  const roles = new Map(cluster.clusterInput().nodes.map((n) => [n.name, [...n.roles].sort()]));
  return [...cluster.userDataReports.values()].map((r) => ({
    node: r.node,
    roles: roles.get(r.node) ?? [],
    encoding: r.encoding,
    maxBytes: r.maxBytes,
    limitBytes: r.limitBytes,
    textBytes: r.textBytes,
  }));
}

/**
 * AWS (like vSphere and Docker) is loaded on first use (lib/platforms/optional.ts): `Platform.aws()`
 * would load it inside the timed region. A user's program that imports `cdktf-grommunio/aws`
 * loads it at start-up, as the bare side loads its provider classes before the timed region, so
 * the child loads the measured platform first. Hetzner needs nothing: the package root has it.
 */
function loadPlatform(req: ChildRequest): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (req.mode !== "map" && req.platform === "aws") require("../lib/platforms/aws");
}

function main(req: ChildRequest): ChildResult {
  loadPlatform(req);
  switch (req.mode) {
    case "library": {
      let app: App | undefined;
      const body = (outdir: string): void => {
        app = new App({ outdir });
        documentedStack(app, req.platform);
        app.synth();
      };
      const warm = req.warmup ? warmUp(req.warmup, req.outdir, body) : undefined;
      const m = measure(() => body(req.outdir));
      const out = stackJson(req.outdir);
      const clusters = app!.node.findAll().filter((c): c is GrommunioCluster => c instanceof GrommunioCluster);
      return finish(m, {
        ...(out ? { outputBytes: out.bytes, resources: out.resources } : {}),
        userData: clusters.flatMap(userDataOf),
        ...warm,
      });
    }
    case "bare": {
      const plan = planFromSynth(req.stackName, JSON.parse(fs.readFileSync(req.capture, "utf8")) as JsonObject);
      const floor =
        req.gzipFloor !== undefined
          ? gzipReplay(JSON.parse(fs.readFileSync(req.gzipFloor, "utf8")) as OutputGzip[])
          : undefined;
      // Every build patches the plan's references with the new App's constructs: the same plan
      // serves each warm-up.
      const body = (outdir: string): void => {
        const app = new App({ outdir });
        buildBareStack(app, plan);
        app.synth();
        if (floor) replayGzip(floor);
      };
      const warm = req.warmup ? warmUp(req.warmup, req.outdir, body) : undefined;
      const m = measure(() => body(req.outdir));
      const out = stackJson(req.outdir);
      return finish(m, { ...(out ? { outputBytes: out.bytes, resources: out.resources } : {}), ...warm });
    }
    case "scale": {
      let built: ReturnType<typeof scaledStack> | undefined;
      const m = measure(() => {
        const app = new App({ outdir: req.outdir });
        built = scaledStack(app, req.platform, req.mailbox);
        app.synth();
      });
      const out = stackJson(req.outdir);
      return finish(m, {
        ...(out ? { outputBytes: out.bytes, resources: out.resources } : {}),
        userData: userDataOf(built!.cluster),
      });
    }
    case "map": {
      const { rows, domains, servers } = syntheticMailboxMap(req.users);
      let content = "";
      let outputBytes = 0;
      const m = measure(() => {
        content = renderMailboxMap(rows, domains, { servers }).content;
        // The first read of the text is timed too: the renderer appends it piece by piece, and the
        // pieces are written into one string when it is first read (as writing the file would).
        outputBytes = Buffer.byteLength(content);
      });
      let lines = 0;
      for (let i = content.indexOf("\n"); i >= 0; i = content.indexOf("\n", i + 1)) lines++;
      // One comment line, then one line per entry.
      return finish(m, { outputBytes, mapEntries: Math.max(0, lines - 1) });
    }
  }
}

function finish(m: ReturnType<typeof measure>, extra: Partial<ChildResult>): ChildResult {
  return {
    timedMs: m.timedMs,
    cpuMs: m.cpuMs,
    readyMs: m.readyMs,
    rssStartKb: m.rssStartKb,
    peakKb: m.peakKb,
    processPeakKb: Math.max(m.loadPeakKb, m.peakKb),
    lazyModules: m.lazyModules,
    ...extra,
    ...(m.error !== undefined ? { error: m.error } : {}),
  };
}

if (require.main === module) {
  const nice = Number(process.env["BENCH_NICE"] ?? "0");
  if (nice !== 0) os.setPriority(nice); // before anything is measured; throws without the right
  const req = JSON.parse(process.argv[2] ?? "{}") as ChildRequest;
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(main(req))}\n`);
}
