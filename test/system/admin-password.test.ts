/**
 * The first-boot step that sets grommunio's admin password, run as cloud-init runs it (under
 * `set -e`, runcmd's first entry: `sh -ec`),
 * on the file Terraform fills in, for every admin password the plan-time check admits
 * (test/fixtures/terraform-password-check.json): the CLI receives the password as given.
 * `grommunio-admin` is a stand-in with the same argument parser (Python argparse, a `passwd`
 * subcommand with `--password`) that prints what it received. The passwords the check refuses
 * show why: a leading "-" makes argparse fail, a trailing newline is dropped by "$(cat …)". Run
 * again once it has passed (operations.md: rerunning runcmd), the step does nothing: the file is
 * gone, and the CLI must not be handed an empty password.
 *
 *   npx jest test/system/admin-password.test.ts --selectProjects system
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { TerraformVariable } from "cdktf";
import { ADMIN_PASSWORD_FILE } from "../../lib/cluster/security";
import { fakeResolver } from "../platforms/terraform-eval";
import { EXAMPLE_SHAPE, Json, buildShape, deliveredFiles, synthJson, userDataByNode } from "../security/support";
import { requireProgram, run, scratchDir } from "./support";

interface RecordedCase {
  password: string;
  accepted: boolean;
}
const fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, "..", "fixtures", "terraform-password-check.json"), "utf8"),
) as { checks: { kind: string; maxLength: number; cases: RecordedCase[] }[] };
const admin = fixture.checks.find((c) => c.kind === "admin")!;

const STAND_IN = `#!/usr/bin/python3
import argparse, os, sys
with open(os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "calls"), "a") as calls:
    calls.write("call\\n")
parser = argparse.ArgumentParser(prog="grommunio-admin")
sub = parser.add_subparsers(dest="command", required=True)
sub.add_parser("passwd").add_argument("--password")
args = parser.parse_args()
sys.stdout.write(args.password)
`;

const { stack } = buildShape("hcloud", EXAMPLE_SHAPE, (st) => ({
  adminPassword: new TerraformVariable(st, "admin_password", { type: "string", sensitive: true }).stringValue,
}));
const json: Json = synthJson(stack);

/** The admin password file and the step, as mail1 (the first admin node) receives them for `password`. */
function delivered(password: string): { file: string; step: string } {
  const text = userDataByNode(json, (ref) => (ref === "var.admin_password" ? password : fakeResolver(ref))).get(
    "mail1",
  )!;
  const { doc, files } = deliveredFiles(text);
  const step = (doc.runcmd as string[]).find((c) => c.includes("grommunio-admin passwd"))!;
  return { file: files.find((f) => f.path === ADMIN_PASSWORD_FILE)!.content, step };
}

interface StepRun {
  status: number;
  received: string;
  stderr: string;
  kept: boolean;
  /** How many times the step called the CLI. */
  calls: number;
}

/**
 * Runs the step with the stand-in CLI, the file at a scratch path, `times` times in a row (as a
 * rerun of runcmd would); what the CLI received and whether the file is left, per run.
 */
function runSteps(password: string, times: number): StepRun[] {
  requireProgram("python3", "python3");
  const dir = scratchDir("admin-password");
  fs.mkdirSync(path.join(dir, "bin"));
  fs.writeFileSync(path.join(dir, "bin", "grommunio-admin"), STAND_IN, { mode: 0o755 });
  const { file, step } = delivered(password);
  const target = path.join(dir, "admin-password");
  fs.writeFileSync(target, file, { mode: 0o600 });
  const calls = () =>
    fs.existsSync(path.join(dir, "bin", "calls"))
      ? fs.readFileSync(path.join(dir, "bin", "calls"), "utf8").split("\n").length - 1
      : 0;
  const out: StepRun[] = [];
  for (let i = 0; i < times; i++) {
    const before = calls();
    const r = run("sh", ["-ec", step.split(ADMIN_PASSWORD_FILE).join(target)], {
      env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH ?? ""}` },
    });
    out.push({
      status: r.status,
      received: r.stdout,
      stderr: r.stderr,
      kept: fs.existsSync(target),
      calls: calls() - before,
    });
  }
  return out;
}

/** One run of the step (`runSteps`). */
function runStep(password: string): StepRun {
  return runSteps(password, 1)[0]!;
}

test("every admin password the plan-time check admits reaches grommunio-admin as given", () => {
  const admitted = admin.cases.filter((c) => c.accepted).map((c) => c.password);
  expect(admitted.length).toBeGreaterThan(15);
  for (const password of admitted)
    expect({ password, ...runStep(password) }).toEqual({
      password,
      status: 0,
      received: password,
      stderr: "",
      kept: false,
      calls: 1,
    });
});

test("run again after it passed (a rerun of runcmd), the step calls nothing: the file is gone, and an empty password must not reach the CLI", () => {
  expect(runSteps("first boot's password", 2)).toEqual([
    { status: 0, received: "first boot's password", stderr: "", kept: false, calls: 1 },
    { status: 0, received: "", stderr: "", kept: false, calls: 0 },
  ]);
});

test("what the check refuses would fail or change: a leading '-' stops argparse, a trailing newline is dropped", () => {
  const dash = runStep("-dashfirst"); // (with a blank inside, argparse would take it as a value)
  expect(dash.status).not.toBe(0);
  // (the step stops there: the file stays for a second attempt, and runcmd stops too)
  expect(dash.kept).toBe(true);
  expect(dash.stderr).toContain("argument --password: expected one argument");
  expect(runStep("trailing newline\n").received).toBe("trailing newline");
});
