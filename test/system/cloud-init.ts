/**
 * Checks user-data the way cloud-init 22.4 reads it, and more strictly (validators.md §6): runs
 * the project checker `cloud-init-check.py` (gzip, MIME, schema with strict=True, unknown
 * top-level keys, write_files decoding and permissions) and, for plain `#cloud-config`
 * documents, cloud-init's own `cloud-init schema -c`. The decoded write_files come back so that
 * other system tests can hand each embedded config to its own validator (haproxy -c, nginx -t,
 * postfix check, the gromox checker).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { requireProgram, run, scratchDir } from "./support";

/** The Python that has Debian's `cloudinit` package (not a pyenv/venv python on PATH). */
export const SYSTEM_PYTHON = "/usr/bin/python3";
const CHECKER = path.join(__dirname, "cloud-init-check.py");

/** One decoded `write_files` entry. */
export interface CheckedFile {
  readonly path: string;
  readonly owner: string;
  /** As written in the document (defaults to "0644" when absent). */
  readonly permissions: string;
  readonly encoding: string;
  readonly append: boolean;
  readonly defer: boolean;
  /** The decoded bytes. */
  readonly content: Buffer;
  /** Which document/part it came from, e.g. `user-data part 2 (gromox.yaml)`. */
  readonly source: string;
}

export interface UserDataCheck {
  readonly ok: boolean;
  /** One line per problem; empty when ok. */
  readonly problems: readonly string[];
  readonly files: readonly CheckedFile[];
}

/** Fails with an install hint when the system python lacks the `cloudinit` package. */
export function requireCloudInit(): void {
  requireProgram("cloud-init", "cloud-init");
  if (!fs.existsSync(SYSTEM_PYTHON) || run(SYSTEM_PYTHON, ["-c", "import cloudinit"]).status !== 0) {
    throw new Error(
      `${SYSTEM_PYTHON} cannot import cloudinit. Install it with: apt-get install cloud-init ` +
        `(or run scripts/install-system-deps.sh, which installs everything the system tests need).`,
    );
  }
}

/**
 * Checks one user-data document (plain `#cloud-config`, gzip, or MIME multipart). With
 * `extractDir`, the decoded write_files are also written to `extractDir/<path>`.
 */
export function checkUserData(userData: string | Buffer, extractDir?: string): UserDataCheck {
  requireCloudInit();
  const dir = scratchDir("user-data");
  const file = path.join(dir, "user-data");
  const bytes = typeof userData === "string" ? Buffer.from(userData, "utf8") : userData;
  fs.writeFileSync(file, bytes);
  const args = [CHECKER, "--json", ...(extractDir ? ["--extract", extractDir] : []), file];
  const r = run(SYSTEM_PYTHON, args);
  if (r.status !== 0 && r.status !== 1) {
    throw new Error(`cloud-init-check.py failed (exit ${r.status}): ${r.stderr}`);
  }
  const out = JSON.parse(r.stdout) as {
    ok: boolean;
    problems: string[];
    files: Array<Omit<CheckedFile, "content"> & { content: string }>;
  };
  const problems = [...out.problems];
  // cloud-init's own checker reads only plain #cloud-config (not gzip, not MIME).
  const isPlainCloudConfig = bytes.subarray(0, 14).toString("latin1") === "#cloud-config\n";
  if (isPlainCloudConfig) {
    const schema = run("cloud-init", ["schema", "-c", file]);
    if (schema.status !== 0) {
      problems.push(`cloud-init schema -c: ${(schema.stdout + schema.stderr).trim()}`);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    ok: problems.length === 0,
    problems,
    files: out.files.map((f) => ({ ...f, content: Buffer.from(f.content, "base64") })),
  };
}
