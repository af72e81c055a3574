/**
 * `npm run test:vm [-- scenario...]`: boots the KVM example's synthesized cloud-init in Debian 12
 * guests under qemu and checks what runs (test/vm/scenarios.ts). Needs root (host packages, image
 * build). Prints per-check results, timings, and as its last line `N passed, N failed`; exits 1 when
 * anything failed.
 *
 * Environment: VM_CACHE_DIR (image and repository cache, default /var/cache/cdktf-grommunio-vm),
 * VM_WORK_DIR (per-run scratch, removed after a green run), VM_ACCEL=tcg (force TCG),
 * VM_BOOT_TIMEOUT_S (per boot, default 900), VM_KEEP=1 (keep the scratch directory).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CheckResult, Harness } from "./harness";
import { CACHE_DIR, ensureHostPackages, ensureImage } from "./image";
import { detectAccel } from "./qemu";
import { ensureRepo, serveRepo } from "./repo";
import { SCENARIOS, bootAll } from "./scenarios";
import { synthesizeKvmExample } from "./stack";

const log = (line: string) => process.stdout.write(line + "\n");
const secs = (t0: number) => ((Date.now() - t0) / 1000).toFixed(0);

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
  log(`accelerator: ${accel.kind === "kvm" ? "KVM" : `TCG (${accel.reason})`}`);
  const server = await serveRepo(repoInfo.dir);
  const timings: string[] = [];
  const h = new Harness(stack, image, server, accel, workDir, log);
  try {
    // One boot for all selected scenarios: a node several of them need boots once.
    log(`\nboot: ${[...new Set(scenarios.flatMap((s) => s.nodes))].sort().join(", ")}`);
    const tb = Date.now();
    const marks: string[] = [];
    let booted;
    try {
      booted = await bootAll(h, scenarios, (label) => {
        marks.push(`${label} +${secs(tb)} s`);
        log(`  … ${label} (+${secs(tb)} s)`);
      });
    } catch (e) {
      await h.check("boot", "boot ran to the end", () => {
        throw e;
      });
    }
    timings.push(`boot: ${secs(tb)} s (${marks.join("; ")})`);
    for (const sc of scenarios) {
      if (!booted) break;
      log(`\nscenario ${sc.name}: ${sc.description}`);
      const ts = Date.now();
      try {
        await sc.run(booted);
      } catch (e) {
        await h.check(sc.name, "scenario ran to the end", () => {
          throw e;
        });
      }
      timings.push(`${sc.name} checks: ${secs(ts)} s`);
      log(`  time ${secs(ts)} s`);
    }
  } finally {
    await h.close();
    results.push(...h.results);
    await server.close();
  }
  log(`\ntimings (${image.built || repoInfo.built ? "cold" : "warm"}; total ${secs(t0)} s):`);
  if (image.built) log(`  guest image build: ${image.seconds.toFixed(0)} s`);
  if (repoInfo.built) log(`  local repository build: ${repoInfo.seconds.toFixed(0)} s`);
  for (const t of timings) log(`  ${t}`);
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
