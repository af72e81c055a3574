/**
 * `npm run test:vm [-- scenario...]`: boots the KVM example's synthesized cloud-init in Debian 12
 * guests under qemu and checks what runs (test/vm/scenarios.ts). Needs root (host packages, image
 * build). Prints per-check results, timings, and as its last line `N passed, N failed`; exits 1 when
 * anything failed.
 *
 * Environment: VM_CACHE_DIR (image and repository cache, default /var/cache/cdktf-grommunio-vm),
 * VM_WORK_DIR (per-run scratch, removed after a green run), VM_ACCEL=tcg (force TCG),
 * VM_BOOT_TIMEOUT_S (per node until its readiness report, default 2400), VM_KEEP=1 (keep the scratch directory).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CheckResult, Harness } from "./harness";
import { CACHE_DIR, ensureHostPackages, ensureImage } from "./image";
import { detectAccel } from "./qemu";
import { ensureRepo, serveRepo } from "./repo";
import { Booted, SCENARIOS, bootAll } from "./scenarios";
import { synthesizeKvmExample } from "./stack";

const log = (line: string) => process.stdout.write(line + "\n");
const secs = (t0: number) => ((Date.now() - t0) / 1000).toFixed(0);
const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

async function main(): Promise<number> {
  const t0 = Date.now();
  const wanted = process.argv.slice(2);
  const scenarios = wanted.length ? SCENARIOS.filter((s) => wanted.includes(s.name)) : [...SCENARIOS];
  const results: CheckResult[] = [];
  const infra = (name: string, e: unknown) => {
    const detail = e instanceof Error ? e.message : String(e);
    results.push({ scenario: "setup", name, ok: false, detail });
    log(`FAIL  setup: ${name}\n${detail}`);
  };
  if (wanted.length && scenarios.length !== wanted.length) {
    infra(
      "scenario names",
      `unknown scenario in ${wanted.join(", ")}; known: ${SCENARIOS.map((s) => s.name).join(", ")}`,
    );
    return summary(results);
  }
  if (process.getuid?.() !== 0) {
    infra("root", "test:vm needs root (host packages, debootstrap, the image cache)");
    return summary(results);
  }
  const workDir = process.env.VM_WORK_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-grommunio-vm-"));
  fs.mkdirSync(workDir, { recursive: true });
  log(`test:vm: scratch ${workDir}, cache ${CACHE_DIR}`);

  let image, repoInfo, stack;
  try {
    const s = ensureHostPackages();
    log(`host packages: ${s.toFixed(0)} s`);
    image = ensureImage();
    log(`guest image ${image.key}: ${image.built ? `built in ${image.seconds.toFixed(0)} s` : "cached"}`);
    const ts = Date.now();
    stack = synthesizeKvmExample(path.join(workDir, "synth"));
    log(`synthesized ${stack.jsonPath} (${secs(ts)} s)`);
    const nodes = [...new Set(scenarios.flatMap((sc) => sc.nodes))];
    const packages = nodes.flatMap((n) => {
      const p = stack!.provisioning.get(n);
      if (!p) throw new Error(`the stack has no node ${n}`);
      return [...p.packages];
    });
    repoInfo = ensureRepo(CACHE_DIR, image.key, image.rootfs, packages);
    log(
      `local repository ${repoInfo.key}: ${repoInfo.built ? `built in ${repoInfo.seconds.toFixed(0)} s` : "cached"} ` +
        `(${repoInfo.debianPackages} Debian packages beyond the image; stand-ins: ${repoInfo.standIns.join(", ") || "none"})`,
    );
  } catch (e) {
    infra("image, repository and synth", e);
    return summary(results);
  }

  const accel = detectAccel();
  log(`accelerator: ${accel.kind === "kvm" ? "KVM" : `TCG (${accel.reason})`}; load average ${loadavg()}`);
  const server = await serveRepo(repoInfo.dir);
  const h = new Harness(stack, image, server, accel, workDir, log);
  const rows: { name: string; nodes: readonly string[]; boot?: number; checks?: number }[] = [];
  let bootSeconds = 0;
  let booted: Booted | undefined;
  try {
    // One boot for all selected scenarios: a node several of them need boots once.
    log(`\nboot: ${[...new Set(scenarios.flatMap((s) => s.nodes))].sort().join(", ")}`);
    const tb = Date.now();
    try {
      booted = await bootAll(h, scenarios, (label) => log(`  … ${label} (+${secs(tb)} s)`));
    } catch (e) {
      await h.check("boot", "boot ran to the end", () => {
        throw e;
      });
    }
    bootSeconds = (Date.now() - tb) / 1000;
    for (const sc of scenarios) {
      const ready = sc.nodes.map((n) => booted?.ready.get(n)?.seconds);
      const row: (typeof rows)[number] = {
        name: sc.name,
        nodes: sc.nodes,
        boot: ready.every((r) => r !== undefined) ? Math.max(...ready) : undefined,
      };
      rows.push(row);
      if (!booted) continue;
      log(`\nscenario ${sc.name}: ${sc.description}`);
      const ts = Date.now();
      try {
        await sc.run(booted);
      } catch (e) {
        await h.check(sc.name, "scenario ran to the end", () => {
          throw e;
        });
      }
      row.checks = (Date.now() - ts) / 1000;
      log(`  time ${row.checks.toFixed(0)} s`);
    }
    if (h.results.some((r) => !r.ok)) await h.liveDiagnostics();
  } finally {
    await h.close();
    results.push(...h.results);
    await server.close();
  }
  const cold = image.built || repoInfo.built;
  log(
    `\ntimings (${cold ? "cold" : "warm"} caches; ${accel.kind === "kvm" ? "KVM" : "TCG"}; ${os.cpus().length} host CPUs; total ${secs(t0)} s; load average now ${loadavg()}):`,
  );
  log(`  guest image: ${image.built ? `built in ${image.seconds.toFixed(0)} s` : "cached"}`);
  log(`  local repository: ${repoInfo.built ? `built in ${repoInfo.seconds.toFixed(0)} s` : "cached"}`);
  log(`  shared boot of ${[...new Set(scenarios.flatMap((s) => s.nodes))].length} guests: ${bootSeconds.toFixed(0)} s`);
  if (booted) {
    log(
      `  readiness report per node, after qemu start (qemu CPU time by then): ${[...booted.ready]
        .map(([n, r]) => `${n} ${r.seconds.toFixed(0)} s (${r.cpuSeconds?.toFixed(0) ?? "?"} s)`)
        .join(", ")}`,
    );
  }
  log(`  ${"scenario".padEnd(14)} ${"nodes".padEnd(20)} ${"booted after".padEnd(13)} checks`);
  for (const r of rows) {
    log(
      `  ${r.name.padEnd(14)} ${r.nodes.join(", ").padEnd(20)} ${(r.boot === undefined ? "-" : `${r.boot.toFixed(0)} s`).padEnd(13)} ${r.checks === undefined ? "-" : `${r.checks.toFixed(0)} s`}`,
    );
  }
  if (h.skipped.length) {
    log("out of scope (not counted):");
    for (const sk of h.skipped) log(`  ${sk.scenario}: ${sk.name} (${sk.detail})`);
  }
  const failed = results.some((r) => !r.ok);
  if (!failed && !process.env.VM_KEEP && !process.env.VM_WORK_DIR) fs.rmSync(workDir, { recursive: true, force: true });
  else log(`scratch kept: ${workDir}`);
  return summary(results);
}

function summary(results: readonly CheckResult[]): number {
  const failed = results.filter((r) => !r.ok);
  if (failed.length) {
    log("\nfailed:");
    for (const f of failed) log(`  ${f.scenario}: ${f.name}`);
  }
  log(`${results.length - failed.length} passed, ${failed.length} failed`);
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    log(String(e instanceof Error ? e.stack : e));
    log("0 passed, 1 failed");
    process.exit(1);
  },
);
