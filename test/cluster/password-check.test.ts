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
 * password the step cannot carry is GRX457. With `Database.rds` the database password is also the
 * RDS master password (8 to 41 printable ASCII characters without / @ " or a space, AWS
 * CreateDBInstance MasterUserPassword for MariaDB): the check of kind `rds` adds that at plan and
 * the RDS instance waits for it; a literal one RDS refuses is GRX225, a master user name it
 * refuses GRX224.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { parse } from "yaml";
import { Database, GrommunioValidationError } from "../../lib";
import { DATABASE_PASSWORD_MAX_BYTES, OPTION_FILE_LINE_MAX_BYTES } from "../../lib/topology";
import {
  CheckedPassword,
  MARIADB_RESERVED_WORDS,
  PASSWORD_PATTERNS,
  RDS_MASTER_PASSWORD,
  RDS_MASTER_USER,
  addPasswordCheck,
} from "../../lib/cluster/password-check";
import { GENERATED_PASSWORD_LENGTH } from "../../lib/cluster/database";
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
  ...(kind !== "admin" && Buffer.byteLength(pw, "utf8") > DATABASE_PASSWORD_MAX_BYTES ? [2] : []),
  // the RDS master password: printable ASCII but / @ " and the space; 8 to 41 characters
  ...(kind === "rds" && !/^[!#-.0-?A-~]*$/.test(pw) ? [3] : []),
  ...(kind === "rds" && ([...pw].length < 8 || [...pw].length > 41) ? [4] : []),
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

describe("Database.rds: the database password is also the RDS master password", () => {
  /** The issues of one code a cluster's synth raises (all of them, collected). */
  function issuesOf(props: Parameters<typeof buildShape>[2]) {
    const { stack } = buildShape("aws", EXAMPLE_SHAPE, props);
    try {
      synthJson(stack);
    } catch (e) {
      if (e instanceof GrommunioValidationError) return e.issues;
      throw e;
    }
    return [];
  }

  test("the rds check is the database check and what RDS takes (Terraform's verdicts on its edges)", () => {
    const rds = recorded("rds");
    const database = recorded("database");
    const preconditions = rds.lifecycle.precondition as Json[];
    expect(preconditions.slice(0, 3)).toEqual(database.lifecycle.precondition);
    expect(preconditions).toHaveLength(5);
    const verdict = (pw: string) => rds.cases.find((c) => c.password === pw)!;
    // length: 8 to 41 (the fixture's maxLength, 40, refuses 41 by precondition 1 only)
    expect(verdict("Abc1234").failed).toEqual([4]);
    expect(verdict("Abc12345").accepted).toBe(true);
    expect(verdict("a".repeat(41)).failed).toEqual([1]);
    expect(verdict("a".repeat(42)).failed).toEqual([1, 4]);
    // characters: / @ and the space refused; every other printable ASCII the files take, accepted
    for (const pw of ["slash/in-it", "at@in-it-too", "space inside"]) expect(verdict(pw).failed).toEqual([3]);
    expect(verdict("!#$%&()*+,-.:;<=>?[]^_`{|}~").accepted).toBe(true);
    // a double quote: both the files and RDS refuse it
    expect(verdict('say "x"').failed).toEqual([0, 3, 4]);
  });

  test("a variable as password: the check of kind rds (passwordMaxLength 41), the RDS instance and every machine wait for it", () => {
    const { stack } = buildShape("aws", EXAMPLE_SHAPE, (st) => ({
      database: Database.rds({
        password: new TerraformVariable(st, "db_password", { type: "string", sensitive: true }).stringValue,
      }),
    }));
    const json = synthJson(stack);
    const checks = Object.entries<Json>(json.resource.terraform_data as Json);
    expect(checks).toHaveLength(1);
    const [id, check] = checks[0]!;
    const conditions = (check.lifecycle.precondition as Json[]).map((p) => p.condition as string);
    const recordedConditions = (recorded("rds").lifecycle.precondition as Json[]).map((p) =>
      (p.condition as string).replace(/var\.pw/g, "var.db_password"),
    );
    expect(conditions).toEqual([
      recordedConditions[0],
      "${(length(var.db_password) <= 41)}",
      ...recordedConditions.slice(2),
    ]);
    const gate = `terraform_data.${id}`;
    const instances = Object.values<Json>(json.resource.aws_db_instance);
    expect(instances).toHaveLength(1);
    expect(instances[0]!.depends_on).toEqual([gate]);
    expect(instances[0]!.password).toBe("${var.db_password}");
    const machines = Object.values<Json>(json.resource.aws_instance);
    expect(machines).toHaveLength(7);
    for (const machine of machines) expect(machine.depends_on).toEqual(expect.arrayContaining([gate]));
  });

  test("an external database with a variable as password gets the plain database check, no RDS rule", () => {
    const { stack } = buildShape("aws", EXAMPLE_SHAPE, (st) => ({
      database: Database.external({
        host: "db.example.com",
        password: new TerraformVariable(st, "db_password", { type: "string", sensitive: true }).stringValue,
      }),
    }));
    const [check] = Object.values<Json>(synthJson(stack).resource.terraform_data as Json);
    expect(check!.lifecycle.precondition).toHaveLength(3);
  });

  test("the generated password (random_password, 32 letters and digits) is one RDS takes: no check", () => {
    const { stack } = buildShape("aws", EXAMPLE_SHAPE, { database: Database.rds() });
    const json = synthJson(stack);
    expect(json.resource.terraform_data).toBeUndefined();
    const [instance] = Object.values<Json>(json.resource.aws_db_instance);
    const [, ref] = /^\$\{random_password\.([^.]+)\.result\}$/.exec(instance!.password as string)!;
    const generated = json.resource.random_password[ref!] as Json;
    expect(generated).toMatchObject({ length: GENERATED_PASSWORD_LENGTH, special: false });
    // random_password without special characters draws from letters and digits only
    expect(generated.override_special).toBeUndefined();
    expect(GENERATED_PASSWORD_LENGTH).toBeGreaterThanOrEqual(RDS_MASTER_PASSWORD.minLength);
    expect(GENERATED_PASSWORD_LENGTH).toBeLessThanOrEqual(RDS_MASTER_PASSWORD.maxLength);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    expect(new RegExp(RDS_MASTER_PASSWORD.pattern).test(alphabet)).toBe(true);
    // and Terraform agrees on such a password (the fixture's letters-and-digits cases)
    expect(recorded("rds").cases.find((c) => c.password === "Abc12345")!.accepted).toBe(true);
  });

  test.each([
    ["Abc1234"],
    ["a".repeat(42)],
    ["slash/in-it"],
    ["at@in-it-too"],
    ["space inside"],
    ['dq"in-it-too'],
    ["pässwörd-ok?"],
  ])("a literal password RDS refuses (%j) is GRX225, never shown", (password) => {
    const issues = issuesOf({ database: Database.rds({ password }) }).filter((i) => i.code === "GRX225");
    expect(issues).toHaveLength(1);
    expect(issues[0]!.field).toBe("database.password");
    expect(JSON.stringify(issues[0])).not.toContain(password);
  });

  test.each([["Abc12345"], ["a".repeat(41)], ["it's\\fine-for-rds!"], ["!#$%&()*+,-.:;<=>?[]^_`{|}~"]])(
    "a literal password RDS takes (%j): no GRX225",
    (password) => {
      expect(issuesOf({ database: Database.rds({ password }) })).toEqual([]);
    },
  );

  test("a short literal password elsewhere (Database.onNode) is no RDS matter", () => {
    expect(issuesOf({ database: Database.onNode({ password: "short" }) })).toEqual([]);
  });

  test.each([["1grommunio"], ["_grommunio"], ["a".repeat(17)], ["gromm-unio"], [""]])(
    "a master user name RDS refuses (%j) is GRX224",
    (user) => {
      const issues = issuesOf({ database: Database.rds({ user }) }).filter((i) => i.code === "GRX224");
      expect(issues).toHaveLength(1);
      expect(issues[0]!.field).toBe("database.user");
    },
  );

  test.each([["grommunio"], ["g"], ["A".repeat(16)], ["gromox_1"]])("a master user name RDS takes (%j)", (user) => {
    expect(RDS_MASTER_USER.test(user)).toBe(true);
    expect(issuesOf({ database: Database.rds({ user }) })).toEqual([]);
  });

  test.each([["select"], ["Select"], ["SELECT"], ["database"], ["key"], ["int1"], ["sql_big_result"]])(
    "a master user name that is a MariaDB reserved word (%j) is GRX224, naming the word",
    (user) => {
      const issues = issuesOf({ database: Database.rds({ user }) });
      expect(issues.map((i) => [i.code, i.path, i.field])).toEqual([["GRX224", "security-aws/mail", "database.user"]]);
      expect(issues[0]!.message).toContain("reserved word");
      expect(issues[0]!.message).toContain(user);
    },
  );

  test.each([["admin"], ["master"], ["date"], ["text"], ["action"], ["grommunio"]])(
    "a master user name that is a keyword but not reserved (%j) is taken",
    (user) => {
      expect(issuesOf({ database: Database.rds({ user }) })).toEqual([]);
    },
  );

  test("the reserved words are data: upper case, sorted, unique, and each a name RDS would otherwise take", () => {
    expect(MARIADB_RESERVED_WORDS.length).toBeGreaterThan(200);
    expect([...MARIADB_RESERVED_WORDS]).toEqual([...new Set(MARIADB_RESERVED_WORDS)].sort());
    for (const w of MARIADB_RESERVED_WORDS) expect(w).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });

  test("a refused user and password are collected with the other issues", () => {
    const codes = issuesOf({ database: Database.rds({ user: "a".repeat(33), password: "short" }) }).map((i) => i.code);
    expect(codes).toEqual(expect.arrayContaining(["GRX027", "GRX224", "GRX225"]));
  });
});
