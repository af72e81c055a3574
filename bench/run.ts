/**
 * Benchmarks (not tests): `npm run bench` prints tables and writes bench/results/latest.json.
 *
 * 1. Overhead: the documented layout (the AWS example; Hetzner too) synthesized by the library
 *    and by a bare cdktf stack with the same provider resources, properties and user-data strings
 *    (bench/bare.ts; its output is checked identical before timing), A/B interleaved, each run in
 *    a fresh process. Ratio library / bare of the median construct + synth time. In the same
 *    rounds a floor: the bare stack plus the gzip its output holds (bench/gzip-floor.ts), i.e.
 *    what compressing those bytes alone costs against the target. Then warm pairs
 *    (informational): the same synth timed in a process that already ran it --warmup times, to
 *    separate cold code (compiling on first calls) from steady-state work.
 * 2. Scaling: 3 … 250 mailbox nodes (bench/layouts.ts) on AWS and Hetzner: time, peak RSS,
 *    cdk.tf.json bytes, growth exponents; `mailbox.map` rendering for 1k … 1M users.
 * 3. User-data per role and platform at every scale against the platform limit.
 *
 * Options (flags or environment):
 *   --quick            BENCH_QUICK=1      3 overhead runs, scales 3/30, users 1k/10k/100k, 1 run each
 *   --reps N           BENCH_REPS         overhead runs per variant and platform (default 10)
 *   --warm-reps N      BENCH_WARM_REPS    warm overhead runs per variant and platform (default 5; 0: none)
 *   --warmup N         BENCH_WARMUP       untimed synths before each warm run's timed one (default 3)
 *   --scale-reps N     BENCH_SCALE_REPS   runs per scale point (default 3)
 *   --map-reps N       BENCH_MAP_REPS     runs per map size (default 3)
 *   --scales LIST      BENCH_SCALES       mailbox-node counts (default 3,30,100,250)
 *   --users LIST       BENCH_USERS        map sizes (default 1000,10000,100000,1000000)
 *   --platforms LIST   BENCH_PLATFORMS    aws,hcloud
 *   --only LIST        BENCH_ONLY         overhead,scale,map (default all)
 *   --out FILE         BENCH_OUT          default bench/results/latest.json (and latest.md)
 *   --nice N           BENCH_NICE         scheduling priority of the measured processes, -20…19
 *                                         (default 0; e.g. -10 on a machine shared with other work)
 *   --node-flags "F"   BENCH_NODE_FLAGS   extra node/V8 flags for every measured process, space-separated
 *                                         (diagnosis only: e.g. "--no-lazy" compiles every function at
 *                                         load, before the timed region, so the cold figures show how
 *                                         much of them is first-call compile; the targets are then not
 *                                         judged)
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildForChildren } from "./build";
import { comparableJson, firstDifference, Json } from "./bare";
import { outputGzipMembers } from "./gzip-floor";
import type { ChildRequest, ChildResult, NodeUserData } from "./child";
import { BenchPlatform, DOCUMENTED_STACK_NAME, SCALE_NETWORK, scaledCounts } from "./layouts";
import { Summary, growthExponent, summarize } from "./stats";
import { parseFlags } from "./flags";

const ROOT = path.resolve(__dirname, "..");
const RESULTS = path.join(ROOT, "bench", "results");
const BUILD = path.join(RESULTS, ".build");

// ---------------------------------------------------------------- options

interface Options {
  readonly quick: boolean;
  readonly reps: number;
  /** Warm overhead runs per variant and platform (0: none). */
  readonly warmReps: number;
  /** Untimed synths in the same process before a warm run's timed one. */
  readonly warmup: number;
  readonly scaleReps: number;
  readonly mapReps: number;
  readonly scales: number[];
  readonly users: number[];
  readonly platforms: BenchPlatform[];
  readonly only: Set<"overhead" | "scale" | "map">;
  readonly out: string;
  /** Scheduling priority of the child processes (`nice`; negative needs root). */
  readonly nice: number;
  /** Extra node/V8 flags of the child processes (diagnosis; empty for a real measurement). */
  readonly nodeFlags: string[];
}

function parseOptions(argv: readonly string[]): Options {
  const { get, int, list } = parseFlags(argv, ["quick"]);
  const quick = ["1", "true", "yes"].includes(get("quick", "BENCH_QUICK") ?? "");
  const platforms = (get("platforms", "BENCH_PLATFORMS") ?? "aws,hcloud").split(",").map((s) => s.trim());
  for (const p of platforms) if (p !== "aws" && p !== "hcloud") throw new Error(`--platforms: aws or hcloud, got ${p}`);
  const only = (get("only", "BENCH_ONLY") ?? "overhead,scale,map").split(",").map((s) => s.trim());
  for (const o of only) {
    if (o !== "overhead" && o !== "scale" && o !== "map") throw new Error(`--only: overhead, scale or map, got ${o}`);
  }
  return {
    quick,
    reps: int("reps", "BENCH_REPS", quick ? 3 : 10),
    warmReps: int("warm-reps", "BENCH_WARM_REPS", quick ? 2 : 5, 0),
    warmup: int("warmup", "BENCH_WARMUP", 3),
    scaleReps: int("scale-reps", "BENCH_SCALE_REPS", quick ? 1 : 3),
    mapReps: int("map-reps", "BENCH_MAP_REPS", quick ? 1 : 3),
    scales: list("scales", "BENCH_SCALES", quick ? [3, 30] : [3, 30, 100, 250]),
    users: list("users", "BENCH_USERS", quick ? [1_000, 10_000, 100_000] : [1_000, 10_000, 100_000, 1_000_000]),
    platforms: platforms as BenchPlatform[],
    only: new Set(only as Array<"overhead" | "scale" | "map">),
    out: path.resolve(get("out", "BENCH_OUT") ?? path.join(RESULTS, "latest.json")),
    nice: niceValue(get("nice", "BENCH_NICE")),
    nodeFlags: (get("node-flags", "BENCH_NODE_FLAGS") ?? "").split(/\s+/).filter((f) => f !== ""),
  };
}

function niceValue(v: string | undefined): number {
  const n = v === undefined || v === "" ? 0 : Number(v);
  if (!Number.isInteger(n) || n < -20 || n > 19) throw new Error(`--nice: a whole number from -20 to 19, got ${v}`);
  return n;
}

// ---------------------------------------------------------------- children

/** Set from the options in main(). */
let childNice = 0;
let childFlags: readonly string[] = [];

interface Run extends ChildResult {
  /** Wall time of the whole child process (spawn to exit, module load included), ms. */
  readonly totalMs: number;
}

let scratchCounter = 0;
function scratchDir(tmp: string, label: string): string {
  return path.join(tmp, `${label}-${++scratchCounter}`);
}

function runChild(req: ChildRequest): Run {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    ["--expose-gc", ...childFlags, path.join(BUILD, "bench", "child.js"), JSON.stringify(req)],
    {
      cwd: ROOT,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      timeout: 10 * 60 * 1000,
      env: { ...process.env, CHECKPOINT_DISABLE: "1", BENCH_NICE: String(childNice) },
    },
  );
  const totalMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const line = (r.stdout ?? "").split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  if (!line) {
    const why = r.error ? String(r.error) : `exit ${r.status ?? r.signal}`;
    throw new Error(`child ${JSON.stringify(req)} failed (${why}):\n${(r.stderr ?? "").slice(-3000)}`);
  }
  return { ...(JSON.parse(line.slice("BENCH_RESULT ".length)) as ChildResult), totalMs };
}

function cleanup(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

function stackFile(outdir: string, stack: string): string {
  return path.join(outdir, "stacks", stack, "cdk.tf.json");
}

// ---------------------------------------------------------------- sections

interface VariantStats {
  readonly timedMs: Summary;
  readonly cpuMs: Summary;
  readonly totalMs: Summary;
  readonly peakMb: Summary;
  readonly processPeakMb: Summary;
  readonly outputBytes: number;
  readonly resources: number;
}

/** Library and bare runs of one platform, paired (cold runs, or warm ones). */
interface PairedOverhead {
  readonly reps: number;
  /** The bare stack's (or every warm run's) cdk.tf.json equals the library's capture (without `//` metadata). */
  readonly identicalOutput: boolean;
  readonly difference?: string;
  readonly library: VariantStats;
  readonly bare: VariantStats;
  /** median(library timed) / median(bare timed). */
  readonly timeRatio: number;
  /** Median of the per-repetition ratios (each pair ran back to back). */
  readonly pairedTimeRatio: Summary;
  /** median(library CPU) / median(bare CPU): less sensitive to other load on the machine. */
  readonly cpuRatio: number;
  readonly runs: { library: Run[]; bare: Run[] };
}

/** The overhead target (issue: library / bare ≤ 1.25 in time for the documented layout). */
const OVERHEAD_TARGET = 1.25;

/**
 * The bare stack plus the gzip its output holds (bench/gzip-floor.ts), run in the same cold rounds
 * as library and bare: a lower bound of any library that writes this output.
 */
interface GzipFloor {
  /** Distinct gzip members the library made that stand in the output. */
  readonly members: number;
  /** Their uncompressed and compressed bytes. */
  readonly textBytes: number;
  readonly gzipBytes: number;
  readonly floor: VariantStats;
  /** median(floor timed) / median(bare timed). */
  readonly timeRatio: number;
  /** Median of floor / bare per round. */
  readonly pairedTimeRatio: Summary;
  readonly cpuRatio: number;
  /** OVERHEAD_TARGET × median(bare) − median(floor): what the target leaves for the library's other work, ms. */
  readonly headroomMs: number;
  readonly runs: Run[];
}

interface OverheadResult extends PairedOverhead {
  readonly platform: BenchPlatform;
  readonly stack: string;
  readonly totalRatio: number;
  readonly peakRssRatio: number;
  /** Modules first loaded inside the timed region of the cold runs (union over the runs). */
  readonly lazyModules: { library: string[]; bare: string[] };
  readonly warm?: WarmOverhead;
  readonly gzipFloor: GzipFloor;
  readonly userData: NodeUserData[];
}

/**
 * The same pairs in warm processes: each child first runs `warmup` complete synths untimed (own
 * App and outdir each), then times one more exactly like a cold run (forced GC, peak reset). The
 * only cross-App memo of the library (the token filler streams) is kept: "warm, caches kept".
 */
interface WarmOverhead extends PairedOverhead {
  readonly warmup: number;
  /** The last untimed warm-up synth of each run (no forced GC before it), wall and CPU ms. */
  readonly lastWarmupMs: { library: Summary; bare: Summary };
  readonly lastWarmupCpuMs: { library: Summary; bare: Summary };
  readonly lastWarmupRatio: number;
}

const MB = 1024;

function variantStats(runs: readonly Run[]): VariantStats {
  return {
    timedMs: summarize(runs.map((r) => r.timedMs)),
    cpuMs: summarize(runs.map((r) => r.cpuMs)),
    totalMs: summarize(runs.map((r) => r.totalMs)),
    peakMb: summarize(runs.map((r) => r.peakKb / MB)),
    processPeakMb: summarize(runs.map((r) => r.processPeakKb / MB)),
    outputBytes: runs[0]?.outputBytes ?? 0,
    resources: runs[0]?.resources ?? 0,
  };
}

function overhead(
  platform: BenchPlatform,
  reps: number,
  warmReps: number,
  warmup: number,
  tmp: string,
  log: (s: string) => void,
): OverheadResult {
  const stack = DOCUMENTED_STACK_NAME[platform];
  // Setup (not timed): one library run whose output is the capture, one bare run to verify.
  const captureDir = scratchDir(tmp, `capture-${platform}`);
  const capture = runChild({ mode: "library", platform, outdir: captureDir });
  if (capture.error) throw new Error(`the documented ${platform} layout does not synthesize: ${capture.error}`);
  const captureFile = stackFile(captureDir, stack);
  const bareReq = (outdir: string): Extract<ChildRequest, { mode: "bare" }> => ({
    mode: "bare",
    platform,
    outdir,
    capture: captureFile,
    stackName: stack,
  });
  const verifyDir = scratchDir(tmp, `verify-${platform}`);
  const verify = runChild(bareReq(verifyDir));
  if (verify.error) throw new Error(`the bare ${platform} stack does not synthesize: ${verify.error}`);
  const read = (f: string): Json => comparableJson(JSON.parse(fs.readFileSync(f, "utf8")) as Json);
  const difference = firstDifference(read(captureFile), read(stackFile(verifyDir, stack)));
  cleanup(verifyDir);
  log(
    `  ${platform}: bare stack output ${difference ? `DIFFERS (${difference})` : "identical to the library's"}; ${reps} runs each` +
      (warmReps > 0 ? `, then ${warmReps} warm runs each (${warmup} untimed synths first)` : ""),
  );

  const expected = read(captureFile);
  // The floor's members, found and checked against the library's gzip here (not in the children,
  // whose first gzip is then inside the timed region, as in a library synth).
  const members = outputGzipMembers(JSON.parse(fs.readFileSync(captureFile, "utf8")) as Json);
  const floorFile = path.join(tmp, `gzip-floor-${platform}.json`);
  fs.writeFileSync(floorFile, JSON.stringify(members));
  // Cold rounds: library, bare and floor in every order in turn (A/B then B/A for warm pairs,
  // which have no floor). Warm runs (warmup > 0) also check their timed synth's output against
  // the capture (outside the timed region).
  type Variant = "library" | "bare" | "floor";
  const ORDERS: ReadonlyArray<ReadonlyArray<Variant>> = [
    ["library", "bare", "floor"],
    ["floor", "bare", "library"],
    ["bare", "library", "floor"],
    ["floor", "library", "bare"],
    ["bare", "floor", "library"],
    ["library", "floor", "bare"],
  ];
  const pairs = (n: number, warmup: number): { library: Run[]; bare: Run[]; floor: Run[]; difference?: string } => {
    const out = {
      library: [] as Run[],
      bare: [] as Run[],
      floor: [] as Run[],
      difference: undefined as string | undefined,
    };
    for (let i = 0; i < n; i++) {
      const order: ReadonlyArray<Variant> =
        warmup > 0 ? (i % 2 === 0 ? ["library", "bare"] : ["bare", "library"]) : ORDERS[i % ORDERS.length]!;
      for (const variant of order) {
        const outdir = scratchDir(tmp, `${variant}-${platform}`);
        const warmed = warmup > 0 ? { warmup } : {};
        const req: ChildRequest =
          variant === "library"
            ? { mode: "library", platform, outdir, ...warmed }
            : variant === "bare"
              ? { ...bareReq(outdir), ...warmed }
              : { ...bareReq(outdir), gzipFloor: floorFile };
        const run = runChild(req);
        if (warmup > 0 && !run.error && out.difference === undefined) {
          const d = firstDifference(expected, read(stackFile(outdir, stack)));
          if (d !== undefined) out.difference = `${variant}: ${d}`;
        }
        cleanup(outdir);
        const label = warmup > 0 ? `warm ${variant}` : variant;
        if (run.error) throw new Error(`${label} ${platform} run ${i + 1}: ${run.error}`);
        out[variant].push(run);
      }
    }
    return out;
  };
  const { library, bare, floor } = pairs(reps, 0);
  let warm: WarmOverhead | undefined;
  if (warmReps > 0) {
    const w = pairs(warmReps, warmup);
    const wl = variantStats(w.library);
    const wb = variantStats(w.bare);
    const last = (runs: Run[], f: (r: Run) => number[] | undefined): Summary =>
      summarize(runs.map((r) => f(r)?.at(-1) ?? NaN));
    const lastMs = { library: last(w.library, (r) => r.warmupMs), bare: last(w.bare, (r) => r.warmupMs) };
    warm = {
      reps: warmReps,
      warmup,
      identicalOutput: w.difference === undefined,
      ...(w.difference !== undefined ? { difference: w.difference } : {}),
      library: wl,
      bare: wb,
      timeRatio: wl.timedMs.median / wb.timedMs.median,
      pairedTimeRatio: summarize(w.library.map((r, i) => r.timedMs / w.bare[i]!.timedMs)),
      cpuRatio: wl.cpuMs.median / wb.cpuMs.median,
      lastWarmupMs: lastMs,
      lastWarmupCpuMs: {
        library: last(w.library, (r) => r.warmupCpuMs),
        bare: last(w.bare, (r) => r.warmupCpuMs),
      },
      lastWarmupRatio: lastMs.library.median / lastMs.bare.median,
      runs: w,
    };
  }
  cleanup(captureDir);
  const lib = variantStats(library);
  const bar = variantStats(bare);
  const flo = variantStats(floor);
  const lazy = (runs: Run[]): string[] => [...new Set(runs.flatMap((r) => r.lazyModules ?? []))].sort();
  return {
    platform,
    stack,
    reps,
    identicalOutput: difference === undefined,
    ...(difference !== undefined ? { difference } : {}),
    library: lib,
    bare: bar,
    timeRatio: lib.timedMs.median / bar.timedMs.median,
    pairedTimeRatio: summarize(library.map((r, i) => r.timedMs / bare[i]!.timedMs)),
    cpuRatio: lib.cpuMs.median / bar.cpuMs.median,
    totalRatio: lib.totalMs.median / bar.totalMs.median,
    peakRssRatio: lib.peakMb.median / bar.peakMb.median,
    lazyModules: { library: lazy(library), bare: lazy(bare) },
    ...(warm ? { warm } : {}),
    gzipFloor: {
      members: members.length,
      textBytes: members.reduce((a, m) => a + Buffer.byteLength(m.text, "base64"), 0),
      gzipBytes: members.reduce((a, m) => a + m.gzipBytes, 0),
      floor: flo,
      timeRatio: flo.timedMs.median / bar.timedMs.median,
      pairedTimeRatio: summarize(floor.map((r, i) => r.timedMs / bare[i]!.timedMs)),
      cpuRatio: flo.cpuMs.median / bar.cpuMs.median,
      headroomMs: OVERHEAD_TARGET * bar.timedMs.median - flo.timedMs.median,
      runs: floor,
    },
    userData: capture.userData ?? [],
    runs: { library, bare },
  };
}

interface ScalePoint {
  readonly platform: BenchPlatform;
  readonly mailbox: number;
  readonly nodes: number;
  readonly timedMs: Summary;
  readonly cpuMs: Summary;
  readonly totalMs: Summary;
  readonly peakMb: Summary;
  readonly outputBytes: number;
  readonly resources: number;
  readonly error?: string;
  readonly userData: NodeUserData[];
}

function scalePoint(platform: BenchPlatform, mailbox: number, reps: number, tmp: string): ScalePoint {
  const runs: Run[] = [];
  for (let i = 0; i < reps; i++) {
    const outdir = scratchDir(tmp, `scale-${platform}-${mailbox}`);
    runs.push(runChild({ mode: "scale", platform, mailbox, outdir }));
    cleanup(outdir);
  }
  const error = runs.find((r) => r.error)?.error;
  return {
    platform,
    mailbox,
    nodes: scaledCounts(mailbox).total,
    timedMs: summarize(runs.map((r) => r.timedMs)),
    cpuMs: summarize(runs.map((r) => r.cpuMs)),
    totalMs: summarize(runs.map((r) => r.totalMs)),
    peakMb: summarize(runs.map((r) => r.peakKb / MB)),
    outputBytes: runs[0]?.outputBytes ?? 0,
    resources: runs[0]?.resources ?? 0,
    ...(error !== undefined ? { error } : {}),
    userData: runs[0]?.userData ?? [],
  };
}

interface MapPoint {
  readonly users: number;
  readonly entries: number;
  readonly timedMs: Summary;
  readonly cpuMs: Summary;
  readonly peakMb: Summary;
  readonly rssStartMb: number;
  readonly outputBytes: number;
}

function mapPoint(users: number, reps: number): MapPoint {
  const runs: Run[] = [];
  for (let i = 0; i < reps; i++) runs.push(runChild({ mode: "map", users }));
  const err = runs.find((r) => r.error)?.error;
  if (err) throw new Error(`mailbox.map for ${users} users: ${err}`);
  return {
    users,
    entries: runs[0]!.mapEntries ?? 0,
    timedMs: summarize(runs.map((r) => r.timedMs)),
    cpuMs: summarize(runs.map((r) => r.cpuMs)),
    peakMb: summarize(runs.map((r) => r.peakKb / MB)),
    rssStartMb: summarize(runs.map((r) => r.rssStartKb / MB)).median,
    outputBytes: runs[0]!.outputBytes ?? 0,
  };
}

// ---------------------------------------------------------------- user-data

interface RoleUserData {
  readonly platform: BenchPlatform;
  /** "documented" or the mailbox-node count. */
  readonly scale: string;
  readonly role: string;
  readonly nodes: number;
  readonly encoding: string;
  readonly maxBytes: number;
  readonly limitBytes: number;
  readonly fraction: number;
}

function byRole(platform: BenchPlatform, scale: string, userData: readonly NodeUserData[]): RoleUserData[] {
  const groups = new Map<string, NodeUserData[]>();
  for (const u of userData) {
    const role = u.roles.join("+") || "?";
    groups.set(role, [...(groups.get(role) ?? []), u]);
  }
  return [...groups.entries()]
    .map(([role, list]) => {
      const max = list.reduce((a, b) => (b.maxBytes > a.maxBytes ? b : a));
      return {
        platform,
        scale,
        role,
        nodes: list.length,
        encoding: [...new Set(list.map((u) => u.encoding))].sort().join("/"),
        maxBytes: max.maxBytes,
        limitBytes: max.limitBytes,
        fraction: max.maxBytes / max.limitBytes,
      };
    })
    .sort((a, b) => a.role.localeCompare(b.role));
}

// ---------------------------------------------------------------- output

/** The report as Markdown (headings and tables), written next to the JSON for docs/benchmarks.md. */
const markdown: string[] = [];

function markdownTable(headers: readonly string[], cells: ReadonlyArray<readonly string[]>, right: boolean): string {
  const esc = (c: string): string => c.replace(/\|/g, "\\|");
  return [
    `| ${headers.map(esc).join(" | ")} |`,
    `|${headers.map((_, i) => (i > 0 && right ? "---:" : "---")).join("|")}|`,
    ...cells.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

/** A plain-text table for the console (its Markdown form goes to `markdown`). */
/** Rows of a per-variant table: one per platform and variant (library, then bare). */
function variantRows<T extends { readonly platform: string }>(
  items: readonly T[],
  cells: (item: T, variant: "library" | "bare") => ReadonlyArray<string | number>,
): Array<ReadonlyArray<string | number>> {
  return items.flatMap((o) => (["library", "bare"] as const).map((v) => [o.platform, v, ...cells(o, v)]));
}

function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>, right = true): string {
  const cells = rows.map((r) => r.map(String));
  markdown.push(markdownTable(headers, cells, right), "");
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]): string =>
    r.map((c, i) => (i === 0 || !right ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const spread = (s: Summary, f: (v: number) => string): string => `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;
const kb = (bytes: number): string => (bytes / 1024).toFixed(bytes >= 10 * 1024 ? 0 : 1);
const pct = (f: number): string => `${(f * 100).toFixed(1)} %`;
const fix = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : "n/a");

interface Target {
  readonly name: string;
  readonly target: string;
  readonly value: string;
  readonly met: boolean | null;
}

/** The commit measured and how many files differ from it (the bench runs on the working tree). */
function gitState(): { commit: string; changedFiles: number } {
  const run = (args: string[]): string => spawnSync("git", args, { cwd: ROOT, encoding: "utf8" }).stdout ?? "";
  return {
    commit: run(["rev-parse", "HEAD"]).trim(),
    changedFiles: run(["status", "--porcelain"])
      .split("\n")
      .filter((l) => l.trim() !== "").length,
  };
}

function main(): void {
  const opts = parseOptions(process.argv.slice(2));
  childNice = opts.nice;
  childFlags = opts.nodeFlags;
  const started = Date.now();
  const log = (s: string): void => {
    console.log(s);
    if (s.startsWith("== ")) markdown.push(`### ${s.slice(3)}`, "");
  };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "grommunio-bench-"));
  const machine = {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu: os.cpus()[0]?.model ?? "?",
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    /** 1/5/15-minute load averages at the start and the end: other work on the machine skews wall times. */
    loadAverage: { start: os.loadavg().map((l) => Number(l.toFixed(2))), end: [] as number[] },
  };
  log(
    `grommunio-cdktf benchmarks — node ${machine.node}, ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGb} GiB, load ${machine.loadAverage.start.join(" ")}`,
  );
  const t0 = Date.now();
  const files = buildForChildren(ROOT, BUILD);
  log(`compiled ${files} files for the child processes in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

  const targets: Target[] = [];
  const result: Record<string, unknown> = {
    git: gitState(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    machine,
    options: { ...opts, only: [...opts.only] },
    startedAt: new Date(started).toISOString(),
  };
  const userDataRows: RoleUserData[] = [];

  try {
    // 1. Overhead
    if (opts.only.has("overhead")) {
      log("== Overhead: documented layout, library vs bare cdktf stack (construct + synth, fresh process per run)");
      const overheads: OverheadResult[] = [];
      for (const platform of opts.platforms) {
        const o = overhead(platform, opts.reps, opts.warmReps, opts.warmup, tmp, log);
        overheads.push(o);
        userDataRows.push(...byRole(platform, "documented", o.userData));
      }
      log(
        table(
          [
            "platform",
            "variant",
            "resources",
            "construct+synth ms",
            "CPU ms",
            "process ms",
            "peak RSS MB (synth)",
            "cdk.tf.json KB",
          ],
          variantRows(overheads, (o, v) => [
            o[v].resources,
            spread(o[v].timedMs, ms),
            ms(o[v].cpuMs.median),
            spread(o[v].totalMs, ms),
            spread(o[v].peakMb, (x) => x.toFixed(0)),
            kb(o[v].outputBytes),
          ]),
        ),
      );
      log(
        "\n" +
          table(
            [
              "platform",
              "time ratio (medians)",
              "paired ratio median [min–max]",
              "CPU ratio",
              "process ratio",
              "peak RSS ratio",
              "same output",
            ],
            overheads.map((o) => [
              o.platform,
              fix(o.timeRatio),
              spread(o.pairedTimeRatio, (x) => fix(x)),
              fix(o.cpuRatio),
              fix(o.totalRatio),
              fix(o.peakRssRatio),
              o.identicalOutput ? "yes" : "NO",
            ]),
          ) +
          "\n",
      );
      for (const o of overheads) {
        const names = (list: string[]): string =>
          list.length === 0 ? "none" : `${list.length} (${list.slice(0, 8).join(", ")}${list.length > 8 ? ", …" : ""})`;
        log(
          `  ${o.platform}: modules first loaded inside the timed region: library ${names(o.lazyModules.library)}; bare ${names(o.lazyModules.bare)}`,
        );
      }
      log("");
      log("== Overhead floor: the bare stack plus the gzip its output holds (each member compressed again, level 9)");
      log(
        table(
          [
            "platform",
            "gzip members",
            "text → gzip KB",
            "bare ms",
            "floor ms",
            "floor CPU ms",
            "floor ratio (medians)",
            "paired [min–max]",
            "CPU ratio",
            `left for the library's other work at ${OVERHEAD_TARGET}, ms`,
          ],
          overheads.map((o) => [
            o.platform,
            o.gzipFloor.members,
            `${kb(o.gzipFloor.textBytes)} → ${kb(o.gzipFloor.gzipBytes)}`,
            ms(o.bare.timedMs.median),
            spread(o.gzipFloor.floor.timedMs, ms),
            ms(o.gzipFloor.floor.cpuMs.median),
            fix(o.gzipFloor.timeRatio),
            spread(o.gzipFloor.pairedTimeRatio, (x) => fix(x)),
            fix(o.gzipFloor.cpuRatio),
            ms(o.gzipFloor.headroomMs),
          ]),
        ) + "\n",
      );
      const warm = overheads.filter((o) => o.warm !== undefined);
      if (warm.length > 0) {
        const w0 = warm[0]!.warm!;
        log("");
        log(
          `== Overhead, warm (same process, after ${w0.warmup} synths; informational, the target is the cold figure)`,
        );
        log(
          table(
            [
              "platform",
              "variant",
              "construct+synth ms",
              "CPU ms",
              "peak RSS MB (synth)",
              "last warm-up ms (no forced GC)",
              "last warm-up CPU ms",
              "cold ms",
            ],
            variantRows(warm, (o, v) => [
              spread(o.warm![v].timedMs, ms),
              ms(o.warm![v].cpuMs.median),
              spread(o.warm![v].peakMb, (x) => x.toFixed(0)),
              spread(o.warm!.lastWarmupMs[v], ms),
              ms(o.warm!.lastWarmupCpuMs[v].median),
              ms(o[v].timedMs.median),
            ]),
          ),
        );
        log(
          "\n" +
            table(
              [
                "platform",
                "warm time ratio",
                "paired ratio median [min–max]",
                "warm CPU ratio",
                "last warm-up ratio",
                "cold time ratio",
                "library − bare ms, cold → warm",
                "library − bare CPU ms, cold → warm",
                "same output",
              ],
              warm.map((o) => [
                o.platform,
                fix(o.warm!.timeRatio),
                spread(o.warm!.pairedTimeRatio, (x) => fix(x)),
                fix(o.warm!.cpuRatio),
                fix(o.warm!.lastWarmupRatio),
                fix(o.timeRatio),
                `${ms(o.library.timedMs.median - o.bare.timedMs.median)} → ${ms(o.warm!.library.timedMs.median - o.warm!.bare.timedMs.median)}`,
                `${ms(o.library.cpuMs.median - o.bare.cpuMs.median)} → ${ms(o.warm!.library.cpuMs.median - o.warm!.bare.cpuMs.median)}`,
                o.warm!.identicalOutput ? "yes" : "NO",
              ]),
            ) +
            "\n",
        );
      }
      for (const o of overheads) {
        targets.push({
          name: `overhead ratio, documented layout (${o.platform})`,
          target: `≤ ${OVERHEAD_TARGET}`,
          value: `${fix(o.timeRatio)} (CPU time ${fix(o.cpuRatio)})`,
          met: o.timeRatio <= OVERHEAD_TARGET,
        });
        targets.push({
          name: `overhead floor: bare + the output's gzip (${o.platform}; informational)`,
          target: "-",
          value: `${fix(o.gzipFloor.timeRatio)} (CPU time ${fix(o.gzipFloor.cpuRatio)}; ${ms(o.gzipFloor.headroomMs)} ms left at ${OVERHEAD_TARGET})`,
          met: null,
        });
        if (o.warm) {
          targets.push({
            name: `overhead ratio warm, after ${o.warm.warmup} synths (${o.platform}; informational)`,
            target: "-",
            value: `${fix(o.warm.timeRatio)} (CPU time ${fix(o.warm.cpuRatio)})`,
            met: null,
          });
        }
      }
      result["overhead"] = overheads;
    }

    // 2. Scaling
    if (opts.only.has("scale")) {
      log(`== Scaling: mailbox nodes ${opts.scales.join(", ")} (+1 classic per 3, +1 LB per 10, db), ${SCALE_NETWORK}`);
      const points: ScalePoint[] = [];
      const exponents: Record<string, unknown>[] = [];
      for (const platform of opts.platforms) {
        const mine: ScalePoint[] = [];
        for (const n of opts.scales) {
          const p = scalePoint(platform, n, opts.scaleReps, tmp);
          log(
            `  ${platform} ${n} mailbox nodes: ${ms(p.timedMs.median)} ms${p.error ? ` (synth failed: ${p.error.split("\n").slice(0, 3).join(" ")})` : ""}`,
          );
          mine.push(p);
          userDataRows.push(...byRole(platform, String(n), p.userData));
        }
        points.push(...mine);
        const ok = mine.filter((p) => !p.error);
        const exp = (f: (p: ScalePoint) => number, pts: ScalePoint[]): number =>
          growthExponent(pts.map((p) => [p.nodes, f(p)] as const));
        exponents.push({
          platform,
          failed: mine.filter((p) => p.error).map((p) => p.mailbox),
          // Every point; a refused synth is timed up to the refusal (all nodes rendered, no JSON written).
          time: exp((p) => p.timedMs.median, mine),
          cpu: exp((p) => p.cpuMs.median, mine),
          timeUpper: mine.length >= 2 ? exp((p) => p.timedMs.median, mine.slice(-2)) : NaN,
          timeSynthesized: exp((p) => p.timedMs.median, ok),
          outputBytes: exp((p) => p.outputBytes, ok),
          peakRss: exp((p) => p.peakMb.median, mine),
        });
      }
      log(
        table(
          [
            "platform",
            "mailbox",
            "nodes",
            "resources",
            "construct+synth ms",
            "CPU ms",
            "process ms",
            "peak RSS MB",
            "cdk.tf.json KB",
            "ms/node",
            "status",
          ],
          points.map((p) => [
            p.platform,
            p.mailbox,
            p.nodes,
            p.resources || "-",
            `${spread(p.timedMs, ms)}${p.error ? "*" : ""}`,
            ms(p.cpuMs.median),
            ms(p.totalMs.median),
            p.peakMb.median.toFixed(0),
            p.outputBytes ? kb(p.outputBytes) : "-",
            (p.timedMs.median / p.nodes).toFixed(1),
            p.error ? `REFUSED ${[...new Set(p.error.match(/GRX\d+/g) ?? ["error"])].join(",")}` : "ok",
          ]),
        ) +
          (points.some((p) => p.error)
            ? "\n  * synth refused (validation error): timed up to the refusal, i.e. every node rendered, no JSON written"
            : ""),
      );
      log(
        "\n" +
          table(
            [
              "platform",
              "time exponent",
              "CPU exponent",
              "two largest",
              "synthesized points only",
              "output exponent",
              "peak RSS exponent",
            ],
            exponents.map((e) => [
              e["platform"] as string,
              fix(e["time"] as number),
              fix(e["cpu"] as number),
              fix(e["timeUpper"] as number),
              fix(e["timeSynthesized"] as number),
              fix(e["outputBytes"] as number),
              fix(e["peakRss"] as number),
            ]),
          ) +
          "\n  (x = all nodes of the cluster, y = median; least-squares slope on log–log)\n",
      );
      for (const e of exponents) {
        const failed = e["failed"] as number[];
        targets.push({
          name: `synth time growth exponent (${e["platform"] as string})`,
          target: "≤ 1.1",
          value: `${fix(e["time"] as number)} (CPU ${fix(e["cpu"] as number)}; two largest scales ${fix(e["timeUpper"] as number)})`,
          met: Number.isFinite(e["time"]) ? (e["time"] as number) <= 1.1 : null,
        });
        targets.push({
          name: `every scale synthesizes (${e["platform"] as string})`,
          target: "no validation error",
          value: failed.length ? `refused at ${failed.join(", ")} mailbox nodes` : "all synthesized",
          met: failed.length === 0,
        });
      }
      result["scaling"] = { points, exponents };
    }

    // 3. mailbox.map
    if (opts.only.has("map")) {
      log(`== mailbox.map rendering (renderMailboxMap; rows generated before the timed region)`);
      const points = opts.users.map((u) => {
        const p = mapPoint(u, opts.mapReps);
        log(`  ${u} users: ${ms(p.timedMs.median)} ms`);
        return p;
      });
      const exponent = growthExponent(points.map((p) => [p.users, p.timedMs.median] as const));
      log(
        table(
          ["users", "entries", "render ms", "CPU ms", "peak RSS MB", "RSS before MB", "map KB", "µs/user"],
          points.map((p) => [
            p.users,
            p.entries,
            spread(p.timedMs, ms),
            ms(p.cpuMs.median),
            p.peakMb.median.toFixed(0),
            p.rssStartMb.toFixed(0),
            kb(p.outputBytes),
            ((p.timedMs.median * 1000) / p.users).toFixed(2),
          ]),
        ) + `\n  time exponent: ${fix(exponent)}\n`,
      );
      const p100k = points.find((p) => p.users === 100_000);
      if (p100k) {
        targets.push({
          name: "mailbox.map, 100k users",
          target: "< 1 s",
          value: `${ms(p100k.timedMs.median)} ms (CPU ${ms(p100k.cpuMs.median)} ms)`,
          met: p100k.timedMs.median < 1000,
        });
      }
      targets.push({
        name: "mailbox.map time growth exponent",
        target: "≤ 1.1",
        value: fix(exponent),
        met: Number.isFinite(exponent) ? exponent <= 1.1 : null,
      });
      result["map"] = { points, exponent };
    }

    // 4. User-data
    if (userDataRows.length > 0) {
      log("== User-data per role (library bound: tokens at their maximum length, gzip with slack) vs platform limit");
      const scales = [...new Set(userDataRows.map((r) => r.scale))];
      log(
        table(
          ["platform", "scale", "role", "nodes", "encoding", "max bytes", "limit", "of limit"],
          userDataRows
            .sort((a, b) => a.platform.localeCompare(b.platform) || scales.indexOf(a.scale) - scales.indexOf(b.scale))
            .map((r) => [
              r.platform,
              r.scale,
              r.role,
              r.nodes,
              r.encoding,
              r.maxBytes,
              r.limitBytes,
              `${pct(r.fraction)}${r.fraction > 0.5 ? " !" : ""}`,
            ]),
        ) + "\n",
      );
      for (const platform of opts.platforms) {
        const mine = userDataRows.filter((r) => r.platform === platform);
        if (mine.length === 0) continue;
        const worst = mine.reduce((a, b) => (b.fraction > a.fraction ? b : a));
        targets.push({
          name: `user-data ≤ 50 % of the limit at every scale (${platform})`,
          target: "≤ 50 %",
          value: `max ${pct(worst.fraction)} (${worst.role} at ${worst.scale})`,
          met: worst.fraction <= 0.5,
        });
      }
      result["userData"] = userDataRows;
    }
  } finally {
    cleanup(tmp);
  }

  log("== Targets");
  // Flags that change how the measured processes run make the figures a diagnosis, not a verdict.
  if (opts.nodeFlags.length) targets.splice(0, targets.length, ...targets.map((t) => ({ ...t, met: null })));
  log(
    table(
      ["target", "goal", "measured", "status"],
      targets.map((t) => [t.name, t.target, t.value, t.met === null ? "-" : t.met ? "met" : "MISSED"]),
      false,
    ),
  );
  const durationS = (Date.now() - started) / 1000;
  log(`\ntotal ${durationS.toFixed(0)} s`);
  result["targets"] = targets;
  result["durationS"] = durationS;
  machine.loadAverage.end = os.loadavg().map((l) => Number(l.toFixed(2)));
  log(`load average at the end: ${machine.loadAverage.end.join(" ")}`);
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, JSON.stringify(result, null, 2) + "\n");
  const md = opts.out.replace(/\.json$/, "") + ".md";
  const header =
    `Command: \`${String(result["command"])}\` — ${new Date(started).toISOString()}, ${durationS.toFixed(0)} s; ` +
    `commit ${gitState().commit.slice(0, 12)} (+${String((result["git"] as { changedFiles: number }).changedFiles)} changed files in the working tree); ` +
    `node ${machine.node}, ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGb} GiB; ` +
    `load average ${machine.loadAverage.start.join("/")} at the start, ${machine.loadAverage.end.join("/")} at the end; ` +
    `measured processes at nice ${opts.nice}` +
    (opts.nodeFlags.length
      ? ` with node flags \`${opts.nodeFlags.join(" ")}\` (a diagnosis: targets not judged).`
      : ".");
  fs.writeFileSync(md, [header, "", ...markdown].join("\n"));
  log(`wrote ${path.relative(ROOT, opts.out)} and ${path.relative(ROOT, md)}`);
}

main();
