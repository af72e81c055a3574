/**
 * `npm run test:vm [-- scenario...]`: boots the KVM example's synthesized cloud-init in Debian 12
 * guests under qemu and checks what runs (test/vm/scenarios.ts). One boot per layout of the
 * example the selected scenarios use (ShareNothing, then SharedStorage), one after the other. Needs root (host packages, image
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
import { ALL_SCENARIOS, Booted, SCENARIOS, Scenario, bootAll } from "./scenarios";
import { STACK_NAMES, STACK_VARIANTS, StackVariant, SynthesizedStack, synthesizeKvmExample } from "./stack";

const log = (line: string) => process.stdout.write(line + "\n");
const secs = (t0: number) => ((Date.now() - t0) / 1000).toFixed(0);
const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

interface Phase {
  readonly variant: StackVariant;
  readonly scenarios: readonly Scenario[];
  stack?: SynthesizedStack;
  bootSeconds?: number;
  booted?: Booted;
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const wanted = process.argv.slice(2);
  const scenarios = wanted.length ? ALL_SCENARIOS.filter((s) => wanted.includes(s.name)) : [...SCENARIOS];
  const results: CheckResult[] = [];
  const skipped: CheckResult[] = [];
  const infra = (name: string, e: unknown) => {
    const detail = e instanceof Error ? e.message : String(e);
    results.push({ scenario: "setup", name, ok: false, detail });
    log(`FAIL  setup: ${name}\n${detail}`);
  };
  if (wanted.length && scenarios.length !== wanted.length) {
    infra(
      "scenario names",
      `unknown scenario in ${wanted.join(", ")}; known: ${ALL_SCENARIOS.map((s) => s.name).join(", ")}`,
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
  // One boot per layout of the KVM example: the stacks share node names and addresses, so their
  // guests never run at the same time (the share-nothing boot first, powered off before the next).
  const phases: Phase[] = STACK_VARIANTS.map((variant) => ({
    variant,
    scenarios: scenarios.filter((s) => (s.stack ?? "share-nothing") === variant),
  })).filter((p) => p.scenarios.length > 0);
  const phaseDir = (p: Phase) => (p.variant === "share-nothing" ? workDir : path.join(workDir, p.variant));
  const phaseNodes = (p: Phase) => [...new Set(p.scenarios.flatMap((s) => s.nodes))].sort();

  let image, repoInfo;
  try {
    const s = ensureHostPackages();
    log(`host packages: ${s.toFixed(0)} s`);
    image = ensureImage();
    log(`guest image ${image.key}: ${image.built ? `built in ${image.seconds.toFixed(0)} s` : "cached"}`);
    const packages: string[] = [];
    for (const p of phases) {
      const ts = Date.now();
      p.stack = synthesizeKvmExample(path.join(phaseDir(p), "synth"), p.variant);
      log(`synthesized ${p.stack.jsonPath} (${secs(ts)} s)`);
      for (const n of phaseNodes(p)) {
        const prov = p.stack.provisioning.get(n);
        if (!prov) throw new Error(`the stack ${STACK_NAMES[p.variant]} has no node ${n}`);
        packages.push(...prov.packages);
      }
    }
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
  const rows: { name: string; nodes: readonly string[]; boot?: number; checks?: number }[] = [];
  try {
    for (const phase of phases) {
      const h = new Harness(phase.stack!, image, server, accel, phaseDir(phase), log);
      try {
        // One boot for all selected scenarios of this stack: a node several of them need boots once.
        log(`\nboot (${STACK_NAMES[phase.variant]}): ${phaseNodes(phase).join(", ")}`);
        const tb = Date.now();
        try {
          phase.booted = await bootAll(h, phase.scenarios, (label) => log(`  … ${label} (+${secs(tb)} s)`));
        } catch (e) {
          await h.check("boot", "boot ran to the end", () => {
            throw e;
          });
        }
        phase.bootSeconds = (Date.now() - tb) / 1000;
        for (const sc of phase.scenarios) {
          const ready = sc.nodes.map((n) => phase.booted?.ready.get(n)?.seconds);
          const row: (typeof rows)[number] = {
            name: sc.name,
            nodes: sc.nodes,
            boot: ready.every((r) => r !== undefined) ? Math.max(...ready) : undefined,
          };
          rows.push(row);
          if (!phase.booted) continue;
          log(`\nscenario ${sc.name}: ${sc.description}`);
          const ts = Date.now();
          try {
            await sc.run(phase.booted);
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
        skipped.push(...h.skipped);
      }
    }
  } finally {
    await server.close();
  }
  const cold = image.built || repoInfo.built;
  log(
    `\ntimings (${cold ? "cold" : "warm"} caches; ${accel.kind === "kvm" ? "KVM" : "TCG"}; ${os.cpus().length} host CPUs; total ${secs(t0)} s; load average now ${loadavg()}):`,
  );
  log(`  guest image: ${image.built ? `built in ${image.seconds.toFixed(0)} s` : "cached"}`);
  log(`  local repository: ${repoInfo.built ? `built in ${repoInfo.seconds.toFixed(0)} s` : "cached"}`);
  for (const phase of phases) {
    log(
      `  shared boot of ${phaseNodes(phase).length} guests (${STACK_NAMES[phase.variant]}): ${phase.bootSeconds?.toFixed(0) ?? "-"} s`,
    );
    if (phase.booted) {
      log(
        `  readiness report per node, after its qemu start (qemu CPU time by then): ${[...phase.booted.ready]
          .map(([n, r]) => `${n} ${r.seconds.toFixed(0)} s (${r.cpuSeconds?.toFixed(0) ?? "?"} s)`)
          .join(", ")}`,
      );
      if (phase.booted.events.size) {
        log(
          `  during the boot, after its first qemu start: ${[...phase.booted.events]
            .map(([e, t]) => `${e} ${t.toFixed(0)} s`)
            .join("; ")}`,
        );
      }
    }
  }
  log(`  ${"scenario".padEnd(14)} ${"nodes".padEnd(20)} ${"booted after".padEnd(13)} checks`);
  for (const r of rows) {
    log(
      `  ${r.name.padEnd(14)} ${r.nodes.join(", ").padEnd(20)} ${(r.boot === undefined ? "-" : `${r.boot.toFixed(0)} s`).padEnd(13)} ${r.checks === undefined ? "-" : `${r.checks.toFixed(0)} s`}`,
    );
  }
  if (skipped.length) {
    log("out of scope (not counted):");
    for (const sk of skipped) log(`  ${sk.scenario}: ${sk.name} (${sk.detail})`);
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
