/**
 * Writes test/fixtures/terraform-password-check.json: Terraform's own verdicts on the password
 * checks (`addPasswordCheck`, lib/cluster/password-check.ts; database, rds and admin) for passwords at
 * the edges of what they admit. Each check is synthesized by cdktf into a stack of its own (a
 * sensitive variable and the `terraform_data` with its preconditions), then `terraform plan` runs
 * once per password (given in a .tfvars.json file, so any character passes unchanged).
 * `terraform_data` is built into Terraform: no provider, no network.
 * test/cluster/password-check.test.ts checks that the synthesized conditions are still the
 * recorded ones and that its own reading of each pattern agrees with Terraform's.
 * Run: npx tsx scripts/password-check-fixture.ts [path/to/terraform]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { App, TerraformStack, TerraformVariable } from "cdktf";
import * as prettier from "prettier";
import {
  CheckedPassword,
  PASSWORD_PATTERNS,
  RDS_MASTER_PASSWORD,
  addPasswordCheck,
} from "../lib/cluster/password-check";
import { DATABASE_PASSWORD_MAX_BYTES } from "../lib/topology";

/** The longest password the fixture's check admits. */
export const FIXTURE_MAX_LENGTH = 40;

/** Every printable ASCII character but the quotes and the backslash, blanks inside. */
const PRINTABLE_ALLOWED = Array.from({ length: 0x7e - 0x20 }, (_, i) => String.fromCharCode(0x21 + i))
  .join("")
  .replace(/["'\\]/g, "");

export const CASES: readonly string[] = [
  "abc",
  `a ${PRINTABLE_ALLOWED.slice(0, 30)} b`,
  `${PRINTABLE_ALLOWED.slice(30, 60)} ${PRINTABLE_ALLOWED.slice(60, 68)}`,
  `${PRINTABLE_ALLOWED.slice(68)}`,
  "${x} %{y} $$ #c ;d",
  "pässwörd ü",
  "x".repeat(FIXTURE_MAX_LENGTH),
  "x".repeat(FIXTURE_MAX_LENGTH + 1),
  "",
  " lead",
  "trail ",
  "\tlead",
  "it's",
  'say "x"',
  "back\\slash",
  "tab\there",
  "nl\nhere",
  "del\u007f",
  "ctrlz\u001a",
  "nbsp\u00a0inside",
  "nbsp at the end\u00a0",
  "c1\u0080",
  "nel\u0085",
  "ls\u2028",
  "ps\u2029",
  "nonchar\ufffe",
  "emoji \u{1f600}",
  // for the admin password: a leading "-", a trailing newline, quotes and blanks (fine there)
  "-dash first",
  "--long",
  "dash-inside-",
  "trailing newline\n",
  " 'quoted' \"both\" \\ ",
  // db.cnf's password="…" line holds DATABASE_PASSWORD_MAX_BYTES: UTF-8 bytes, not characters
  // (the database check; 256 bytes: more than gromox's reader kept before 2.22)
  "x".repeat(256),
  "x".repeat(DATABASE_PASSWORD_MAX_BYTES),
  "x".repeat(DATABASE_PASSWORD_MAX_BYTES + 1),
  "\u20ac".repeat(DATABASE_PASSWORD_MAX_BYTES / 3),
  "\u20ac".repeat(DATABASE_PASSWORD_MAX_BYTES / 3) + "x",
  // the RDS master password (rds): 8 to 41 printable ASCII characters without / @ " or a space
  "Abc1234",
  "Abc12345",
  "a".repeat(RDS_MASTER_PASSWORD.maxLength),
  "a".repeat(RDS_MASTER_PASSWORD.maxLength + 1),
  "slash/in-it",
  "at@in-it-too",
  "space inside",
  "!#$%&()*+,-.:;<=>?[]^_`{|}~",
];

/** Terraform's verdict on each case for one check: `terraform plan` with the value in a .tfvars.json. */
function record(terraform: string, kind: CheckedPassword) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "password-check-"));
  const app = new App({ outdir: path.join(dir, "out") });
  const stack = new TerraformStack(app, "check");
  const pw = new TerraformVariable(stack, "pw", { type: "string", sensitive: true });
  addPasswordCheck(stack, "check", kind, pw.stringValue, FIXTURE_MAX_LENGTH);
  app.synth();
  const json = JSON.parse(fs.readFileSync(path.join(dir, "out", "stacks", "check", "cdk.tf.json"), "utf8")) as {
    variable: unknown;
    resource: { terraform_data: Record<string, { lifecycle: unknown }> };
  };
  const work = path.join(dir, "tf");
  fs.mkdirSync(work);
  fs.writeFileSync(
    path.join(work, "main.tf.json"),
    JSON.stringify({ variable: json.variable, resource: json.resource }),
  );
  const tf = (args: string[]) =>
    spawnSync(terraform, args, { encoding: "utf8", cwd: work, env: { ...process.env, TF_IN_AUTOMATION: "1" } });
  const init = tf(["init", "-input=false", "-no-color"]);
  if (init.status !== 0) throw new Error(`terraform init failed: ${init.stdout}${init.stderr}`);
  const cases = CASES.map((password) => {
    fs.writeFileSync(path.join(work, "pw.tfvars.json"), JSON.stringify({ pw: password }));
    const r = tf(["plan", "-input=false", "-no-color", "-var-file=pw.tfvars.json"]);
    // Which preconditions failed (by index), as Terraform names them.
    const failed = [...r.stderr.matchAll(/lifecycle\.precondition\[(\d+)\]/g)].map((m) => Number(m[1]));
    if (r.status !== 0 && failed.length === 0)
      throw new Error(`terraform plan failed otherwise: ${r.stdout}${r.stderr}`);
    return { password, accepted: r.status === 0, failed };
  });
  fs.rmSync(dir, { recursive: true, force: true });
  // The check as synthesized, without cdktf's `//` metadata.
  return { kind, maxLength: FIXTURE_MAX_LENGTH, lifecycle: json.resource.terraform_data.check!.lifecycle, cases };
}

async function main(): Promise<void> {
  const terraform = process.argv[2] ?? "terraform";
  const version = spawnSync(terraform, ["version", "-json"], { encoding: "utf8" });
  if (version.status !== 0) throw new Error(`${terraform} version failed: ${version.stderr}`);
  const out = {
    terraform: (JSON.parse(version.stdout) as { terraform_version: string }).terraform_version,
    checks: (Object.keys(PASSWORD_PATTERNS) as CheckedPassword[]).map((kind) => record(terraform, kind)),
  };
  const target = path.join(__dirname, "..", "test", "fixtures", "terraform-password-check.json");
  // Formatted as `npm run lint` (prettier) wants it.
  const options = await prettier.resolveConfig(target);
  fs.writeFileSync(target, await prettier.format(JSON.stringify(out), { ...options, filepath: target }));
  console.log(`wrote ${target} (Terraform ${out.terraform})`);
}

if (require.main === module) void main();
