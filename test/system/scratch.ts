/**
 * Scratch directories for long-running test daemons (postfix, MariaDB). Not under the jest
 * TMPDIR (.jest-tmp): the global teardown of any other jest run in the same checkout removes
 * that directory, also while this run's daemons still use it. The helpers that create these
 * directories remove them when they stop (`PostfixSandbox.dispose`, `MariadbServer.stop`).
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Base directory: $GRX_SCRATCH_DIR, default /tmp/grx-system-tests. */
export function scratchBase(): string {
  return process.env.GRX_SCRATCH_DIR ?? "/tmp/grx-system-tests";
}

/** A fresh directory `<base>/<prefix>-XXXXXX`, mode 0755 (daemons' unprivileged users traverse it). */
export function ownScratchDir(prefix: string): string {
  fs.mkdirSync(scratchBase(), { recursive: true, mode: 0o755 });
  const dir = fs.mkdtempSync(path.join(scratchBase(), `${prefix}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Removes a directory made by `ownScratchDir` (never anything outside the base). */
export function removeScratchDir(dir: string): void {
  const base = path.resolve(scratchBase());
  if (!path.resolve(dir).startsWith(base + path.sep)) throw new Error(`not a scratch directory: ${dir}`);
  fs.rmSync(dir, { recursive: true, force: true });
}
