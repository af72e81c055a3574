/**
 * The TLS material in user-data, for real:
 *
 * - Terraform's own `jsonencode` (test/fixtures/terraform-jsonencode.json, made by `terraform
 *   console`: scripts/jsonencode-fixture.ts) is what the test emulator computes and within the
 *   library's bounds (`jsonStringBytes`, `jsonEscapedMaxLength` of a `pem` token); standing as a
 *   `write_files` content in a `#cloud-config` document, cloud-init's own YAML reader and
 *   `write_files` module write exactly the original bytes; a text with DEL or C1 control
 *   characters (which Go leaves unescaped) is refused by the YAML reader, which is why PEM texts
 *   of unknown making keep Terraform's base64.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { jsonEscapedMaxLength, jsonStringBytes } from "../../lib/provision/tokens";
import { goJsonString } from "../platforms/terraform-eval";
import { SYSTEM_PYTHON, requireCloudInit } from "./cloud-init";
import { run, scratchDir } from "./support";

interface FixtureCase {
  readonly name: string;
  readonly input: string;
  readonly output: string;
}
const FIXTURE = JSON.parse(
  fs.readFileSync(path.join(__dirname, "..", "fixtures", "terraform-jsonencode.json"), "utf8"),
) as { terraform: string; cases: FixtureCase[] };

/** Reads a #cloud-config document with cloud-init's loader and writes its files with cloud-init's module. */
const WRITE = `
import grp, json, os, pwd, sys
from cloudinit import util
from cloudinit.config.cc_write_files import write_files
text = open(sys.argv[1], encoding="utf-8").read()
config = util.load_yaml(text)
if config is None:
    sys.exit("cloud-init could not read the document")
owner = "%s:%s" % (pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name)
for f in config["write_files"]:
    f["owner"] = owner
write_files("write_files", config["write_files"], owner)
`;

const STRICT_LOAD = `
import sys, yaml
try:
    yaml.safe_load(open(sys.argv[1], encoding="utf-8").read())
except yaml.YAMLError as e:
    sys.exit("refused: %s" % e.__class__.__name__)
`;

describe("Terraform's jsonencode as a YAML double-quoted scalar (cloud-init)", () => {
  const input = (c: FixtureCase): string => Buffer.from(c.input, "base64").toString("utf8");

  test.each(FIXTURE.cases.map((c) => [c.name, c] as const))("%s: the emulator and the bounds", (_name, c) => {
    expect(goJsonString(input(c))).toBe(c.output);
    expect(Buffer.byteLength(c.output, "utf8")).toBeLessThanOrEqual(2 + jsonStringBytes(input(c)));
  });

  test("a pem-charset token's bound covers its escaping", () => {
    const pem = FIXTURE.cases.find((c) => c.name === "pem")!;
    const text = input(pem);
    const bound = jsonEscapedMaxLength({ maxLength: text.length, charset: "pem", description: "pem" });
    expect(pem.output.length - 2).toBeLessThanOrEqual(bound);
    // escaped: the newlines only
    expect(pem.output.length - 2).toBe(text.length + text.split("\n").length - 1);
  });

  test.each(["pem", "printable"])("%s: cloud-init writes exactly the original bytes", (name) => {
    requireCloudInit();
    const c = FIXTURE.cases.find((x) => x.name === name)!;
    const dir = scratchDir("tls-pem");
    const target = path.join(dir, "out", `${name}.pem`);
    // the form renderCloudConfig writes: the JSON string as the plain value of `content`
    const doc = `#cloud-config\nwrite_files:\n  - path: ${target}\n    permissions: "0600"\n    content: ${c.output}\n`;
    const file = path.join(dir, "user-data");
    fs.writeFileSync(file, doc);
    const r = run(SYSTEM_PYTHON, ["-c", WRITE, file]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(fs.readFileSync(target).equals(Buffer.from(c.input, "base64"))).toBe(true);
    expect(fs.statSync(target).mode & 0o777).toBe(0o600);
    const schema = run("cloud-init", ["schema", "-c", file]);
    expect(`${schema.status} ${schema.stdout}${schema.stderr}`).toMatch(/^0 Valid cloud-config/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("DEL and C1 controls, which Go leaves as they are, break the YAML (so user PEMs stay base64)", () => {
    requireCloudInit();
    const c = FIXTURE.cases.find((x) => x.name === "controls")!;
    expect(c.output).toContain("\u007f");
    const dir = scratchDir("tls-pem");
    const file = path.join(dir, "user-data");
    fs.writeFileSync(file, `#cloud-config\nwrite_files:\n  - path: /x\n    content: ${c.output}\n`);
    const r = run(SYSTEM_PYTHON, ["-c", STRICT_LOAD, file]);
    expect(`${r.status} ${r.stderr.trim()}`).toMatch(/^1 refused: ReaderError/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
