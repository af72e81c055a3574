/**
 * Passwords that Terraform fills in (a variable, an SSM parameter, a Secrets Manager value) reach
 * the files unescaped. The database password: SQL string literals, double-quoted option-file
 * values, the admin API's single-quoted YAML, bare gromox/postfix values. The admin password:
 * the one line of a file that first boot hands to `grommunio-admin passwd --password "$(cat …)"`.
 * `addPasswordCheck` refuses at plan what they cannot carry. Here: the cluster adds the checks
 * exactly for such passwords; the synthesized checks are the ones whose verdicts Terraform itself
 * recorded (test/fixtures/terraform-password-check.json, scripts/password-check-fixture.ts); this
 * test's reading of each pattern agrees with Terraform's on every recorded password; every
 * database password the check admits comes out of each serializer's quoting as it went in (so
 * unescaped substitution gives what a literal gives: test/system/mariadb.test.ts checks literals
 * with the real readers; test/system/admin-password.test.ts runs the admin step). A literal admin
 * password the step cannot carry is GRX457.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { parse } from "yaml";
import { Database, GrommunioValidationError } from "../../lib";
import { DATABASE_PASSWORD_MAX_BYTES, OPTION_FILE_LINE_MAX_BYTES } from "../../lib/topology";
import { CheckedPassword, PASSWORD_PATTERNS, addPasswordCheck } from "../../lib/cluster/password-check";
import { sqlString } from "../../lib/render/database/sql";
import { cnfValue } from "../../lib/render/ops/literal";
import { EXAMPLE_SHAPE, Json, buildShape, synthJson } from "../security/support";

interface RecordedCheck {
  kind: CheckedPassword;
  maxLength: number;
  lifecycle: Json;
  cases: { password: string; accepted: boolean; failed: number[] }[];
}

const fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, "..", "fixtures", "terraform-password-check.json"), "utf8"),
) as { terraform: string; checks: RecordedCheck[] };

const recorded = (kind: CheckedPassword) => fixture.checks.find((c) => c.kind === kind)!;

/** An RE2 pattern as a JavaScript RegExp (RE2's \s and [:cntrl:] are ASCII-only). */
function jsPattern(kind: CheckedPassword): RegExp {
  return new RegExp(
    PASSWORD_PATTERNS[kind]
      .replace(/\\s/g, "\\t\\n\\f\\r ")
      .replace(/\[:cntrl:\]/g, "\\x00-\\x1f\\x7f")
      .replace(/\\x\{([0-9a-f]+)\}/g, "\\u{$1}"),
    "u",
  );
}

/** What a plan does with the password: the indices of the preconditions that fail. */
const failedChecks = (kind: CheckedPassword, pw: string, maxLength: number) => [
  ...(jsPattern(kind).test(pw) ? [] : [0]),
  ...([...pw].length <= maxLength ? [] : [1]),
  // the database password: at most the UTF-8 bytes db.cnf's password="…" line can hold
  ...(kind === "database" && Buffer.byteLength(pw, "utf8") > DATABASE_PASSWORD_MAX_BYTES ? [2] : []),
];

describe.each(Object.keys(PASSWORD_PATTERNS) as CheckedPassword[])("the %s password check", (kind) => {
  test("is synthesized as recorded with Terraform's verdicts", () => {
    const stack = new TerraformStack(Testing.app(), "check");
    const pw = new TerraformVariable(stack, "pw", { type: "string", sensitive: true });
    addPasswordCheck(stack, "check", kind, pw.stringValue, recorded(kind).maxLength);
    const json = JSON.parse(Testing.synth(stack)) as Json;
    // (re-record with `npx tsx scripts/password-check-fixture.ts` after changing a check)
    expect(json.resource.terraform_data.check.lifecycle).toEqual(recorded(kind).lifecycle);
  });

  test("reads its pattern as Terraform does, on every recorded password", () => {
    const { cases, maxLength } = recorded(kind);
    expect(cases.length).toBeGreaterThan(20);
    for (const c of cases)
      expect({ password: c.password, failed: failedChecks(kind, c.password, maxLength) }).toEqual({
        password: c.password,
        failed: c.failed,
      });
  });
});

test("the database check admits what db.cnf's password=\"…\" line holds, 4083 UTF-8 bytes, no more (Terraform's verdicts)", () => {
  expect(DATABASE_PASSWORD_MAX_BYTES).toBe(OPTION_FILE_LINE_MAX_BYTES - 'password=""'.length);
  // base64 length ≤ 4·max/3 is exactly bytes ≤ max only for a multiple of 3
  expect(DATABASE_PASSWORD_MAX_BYTES % 3).toBe(0);
  const bytesRefused = (pw: string) =>
    recorded("database")
      .cases.find((c) => c.password === pw)!
      .failed.includes(2);
  const euros = "\u20ac".repeat(DATABASE_PASSWORD_MAX_BYTES / 3);
  expect(
    ["x".repeat(256), "x".repeat(4083), euros, "x".repeat(4084), `${euros}x`].map((pw) => [
      Buffer.byteLength(pw),
      bytesRefused(pw),
    ]),
  ).toEqual([
    [256, false],
    [4083, false],
    [4083, false],
    [4084, true],
    [4084, true],
  ]);
});

test("an admitted database password comes out of every serializer's quoting unchanged (raw = escaped)", () => {
  const admitted = recorded("database")
    .cases.filter((c) => c.accepted)
    .map((c) => c.password);
  expect(admitted.length).toBeGreaterThan(8);
  for (const pw of admitted) {
    expect(sqlString(pw)).toBe(`'${pw}'`);
    expect(cnfValue(pw)).toBe(`"${pw}"`);
    // database.yaml holds `pass: '<token>'` (YAML 1.1: the admin API reads it with PyYAML).
    expect((parse(`pass: '${pw}'\n`, { version: "1.1" }) as { pass: string }).pass).toBe(pw);
    // gromox and postfix take it bare and trim ASCII blanks at the ends.
    expect(pw).not.toMatch(/^[\t\n\f\r ]|[\t\n\f\r ]$/);
  }
});

describe("the cluster checks a password Terraform fills in, and only that", () => {
  test("variables as database and admin passwords: one terraform_data each, with both preconditions", () => {
    const { stack } = buildShape("hcloud", EXAMPLE_SHAPE, (st) => ({
      adminPassword: new TerraformVariable(st, "admin_password", { type: "string", sensitive: true }).stringValue,
      database: Database.onNode({
        password: new TerraformVariable(st, "db_password", { type: "string", sensitive: true }).stringValue,
        passwordMaxLength: 64,
      }),
    }));
    const checks = Object.values<Json>(synthJson(stack).resource.terraform_data as Json);
    expect(checks).toHaveLength(2);
    const conditions = checks.map((c) => (c.lifecycle.precondition as Json[]).map((p) => p.condition as string));
    const recordedCondition = (kind: CheckedPassword, variable: string) =>
      (recorded(kind).lifecycle.precondition[0].condition as string).replace("var.pw", variable);
    expect(conditions).toEqual(
      expect.arrayContaining([
        [
          recordedCondition("database", "var.db_password"),
          "${(length(var.db_password) <= 64)}",
          "${(length(base64encode(var.db_password)) <= 5444)}",
        ],
        [recordedCondition("admin", "var.admin_password"), "${(length(var.admin_password) <= 128)}"],
      ]),
    );
  });

  test.each(["hcloud", "aws"] as const)(
    "%s: every machine is created after both checks (a value known only at apply boots no machine unchecked)",
    (platform) => {
      const { stack } = buildShape(platform, EXAMPLE_SHAPE, (st) => ({
        adminPassword: new TerraformVariable(st, "admin_password", { type: "string", sensitive: true }).stringValue,
        database: Database.onNode({
          password: new TerraformVariable(st, "db_password", { type: "string", sensitive: true }).stringValue,
        }),
      }));
      const json = synthJson(stack);
      const checks = Object.keys(json.resource.terraform_data as Json).map((id) => `terraform_data.${id}`);
      expect(checks).toHaveLength(2);
      const machines = Object.values<Json>(json.resource[platform === "aws" ? "aws_instance" : "hcloud_server"]);
      // mail1..3, classic1..2, two load balancers, the database node
      expect(machines).toHaveLength(8);
      for (const machine of machines) expect(machine.depends_on).toEqual(expect.arrayContaining(checks));
      // and nothing else waits on them
      const waiting = Object.values<Json>(json.resource)
        .flatMap((byId) => Object.values<Json>(byId))
        .filter((r) => (r.depends_on as string[] | undefined)?.some((d) => checks.includes(d)));
      expect(waiting).toHaveLength(machines.length);
    },
  );

  test("generated passwords (random_password, letters and digits) or literals: no check", () => {
    for (const props of [{}, { database: Database.onNode({ password: "literal-pw" }), adminPassword: "literal" }]) {
      const { stack } = buildShape("hcloud", EXAMPLE_SHAPE, props);
      expect(synthJson(stack).resource.terraform_data).toBeUndefined();
    }
  });

  test.each([["-starts-with-dash"], ["ends with a newline\n"], ["tab\tinside"], [""]])(
    "a literal admin password the first-boot step cannot carry (%j) is GRX457, never shown",
    (adminPassword) => {
      const { stack } = buildShape("hcloud", EXAMPLE_SHAPE, { adminPassword });
      let err: unknown;
      try {
        synthJson(stack);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(GrommunioValidationError);
      const issues = (err as GrommunioValidationError).issues.filter((i) => i.code === "GRX457");
      expect(issues).toHaveLength(1);
      expect(issues[0]!.field).toBe("adminPassword");
      if (adminPassword !== "") expect(JSON.stringify(issues[0])).not.toContain(adminPassword.trim());
    },
  );
});
