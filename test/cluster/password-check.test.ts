/**
 * A database password that Terraform fills in (a variable, an SSM parameter, a Secrets Manager
 * value) reaches the files unescaped: SQL string literals, double-quoted option-file values, the
 * admin API's single-quoted YAML, and bare gromox/postfix values. `addPasswordCheck` refuses at
 * plan what they cannot carry. Here: the cluster adds the check exactly for such passwords; the
 * synthesized check is the one whose verdicts Terraform itself recorded
 * (test/fixtures/terraform-password-check.json, scripts/password-check-fixture.ts); this test's
 * reading of the pattern agrees with Terraform's on every recorded password; and every password
 * the check admits comes out of each serializer's quoting as it went in, i.e. unescaped
 * substitution gives what a literal gives (test/system/mariadb.test.ts checks literals with the
 * real readers).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { parse } from "yaml";
import { Database } from "../../lib";
import { TERRAFORM_PASSWORD_PATTERN, addPasswordCheck } from "../../lib/cluster/database";
import { sqlString } from "../../lib/render/database/sql";
import { cnfValue } from "../../lib/render/ops/literal";
import { EXAMPLE_SHAPE, Json, buildShape, synthJson } from "../security/support";

interface Fixture {
  terraform: string;
  maxLength: number;
  lifecycle: Json;
  cases: { password: string; accepted: boolean; failed: number[] }[];
}

const fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, "..", "fixtures", "terraform-password-check.json"), "utf8"),
) as Fixture;

/** The RE2 pattern as a JavaScript RegExp (RE2's \s and [:cntrl:] are ASCII-only). */
const PATTERN = new RegExp(
  TERRAFORM_PASSWORD_PATTERN.replace(/\\s/g, "\\t\\n\\f\\r ")
    .replace(/\[:cntrl:\]/g, "\\x00-\\x1f\\x7f")
    .replace(/\\x\{([0-9a-f]+)\}/g, "\\u{$1}"),
  "u",
);

/** What a plan does with the password: the indices of the preconditions that fail. */
const failedChecks = (pw: string, maxLength: number) => [
  ...(PATTERN.test(pw) ? [] : [0]),
  ...([...pw].length <= maxLength ? [] : [1]),
];

const admitted = fixture.cases.filter((c) => c.accepted).map((c) => c.password);

test("the synthesized check is the one Terraform's verdicts were recorded for", () => {
  const stack = new TerraformStack(Testing.app(), "check");
  const pw = new TerraformVariable(stack, "db_password", { type: "string", sensitive: true });
  addPasswordCheck(stack, "check", pw.stringValue, fixture.maxLength);
  const json = JSON.parse(Testing.synth(stack)) as Json;
  // (re-record with `npx tsx scripts/password-check-fixture.ts` after changing the check)
  expect(json.resource.terraform_data.check.lifecycle).toEqual(fixture.lifecycle);
});

test("this test reads the pattern as Terraform does, on every recorded password", () => {
  expect(fixture.cases.length).toBeGreaterThan(20);
  for (const c of fixture.cases)
    expect({ password: c.password, failed: failedChecks(c.password, fixture.maxLength) }).toEqual({
      password: c.password,
      failed: c.failed,
    });
});

test("an admitted password comes out of every serializer's quoting unchanged (raw = escaped)", () => {
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
  test("a variable as password: one terraform_data with both preconditions on it", () => {
    const { stack } = buildShape("hcloud", EXAMPLE_SHAPE, (st) => ({
      database: Database.onNode({
        password: new TerraformVariable(st, "db_password", { type: "string", sensitive: true }).stringValue,
        passwordMaxLength: 64,
      }),
    }));
    const data = synthJson(stack).resource.terraform_data as Json;
    const checks = Object.values<Json>(data);
    expect(checks).toHaveLength(1);
    const [pattern, length] = checks[0]!.lifecycle.precondition as Json[];
    expect(pattern).toEqual(fixture.lifecycle.precondition[0]);
    expect(length).toEqual({
      condition: "${(length(var.db_password) <= 64)}",
      error_message:
        "The database password is longer than passwordMaxLength (64), the length the user-data size check assumed. Raise passwordMaxLength.",
    });
  });

  test("a generated password (random_password, letters and digits) or a literal: no check", () => {
    for (const database of [Database.onNode(), Database.onNode({ password: "literal-pw" })]) {
      const { stack } = buildShape("hcloud", EXAMPLE_SHAPE, { database });
      expect(synthJson(stack).resource.terraform_data).toBeUndefined();
    }
  });
});
