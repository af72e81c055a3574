/**
 * Writes test/fixtures/terraform-jsonencode.json: Terraform's own `jsonencode` of a few texts (a
 * PEM block with every character of the `pem` charset, every printable ASCII character, control
 * and non-ASCII characters), evaluated by `terraform console` in an empty directory (no provider,
 * no network). test/system/tls-pem.test.ts checks the test emulator and cloud-init's YAML reader
 * against it. Run: npx tsx scripts/jsonencode-fixture.ts [path/to/terraform]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** A PEM block (Go's layout: 64 characters a line) whose body holds every base64 character and padding. */
function pemBlock(): string {
  const body = (BASE64_ALPHABET.repeat(3) + "QUJD").slice(0, 64 * 2 + 36) + "==";
  const lines = body.match(/.{1,64}/g)!;
  return `-----BEGIN EC PRIVATE KEY-----\n${lines.join("\n")}\n-----END EC PRIVATE KEY-----\n`;
}

function printableAscii(): string {
  let s = "";
  for (let c = 0x20; c <= 0x7e; c++) s += String.fromCharCode(c);
  return `${s}\n\t${s}\r\n`;
}

export const CASES: Record<string, string> = {
  pem: pemBlock(),
  printable: printableAscii(),
  controls: "a\u0001b\bc\fd\u001fe\u007ff\u0085g\u00a0h\u2028i\u2029j\u00e9k\ud83d\ude00l",
};

function main(): void {
  const terraform = process.argv[2] ?? "terraform";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jsonencode-"));
  const version = spawnSync(terraform, ["version", "-json"], { encoding: "utf8", cwd: dir });
  if (version.status !== 0) throw new Error(`${terraform} version failed: ${version.stderr}`);
  const out: { terraform: string; cases: { name: string; input: string; output: string }[] } = {
    terraform: (JSON.parse(version.stdout) as { terraform_version: string }).terraform_version,
    cases: [],
  };
  for (const [name, text] of Object.entries(CASES)) {
    fs.writeFileSync(path.join(dir, `${name}.txt`), text, "utf8");
    // base64 of the JSON text: the console prints it as a plain quoted string.
    const r = spawnSync(terraform, ["console"], {
      input: `base64encode(jsonencode(file("${name}.txt")))\n`,
      encoding: "utf8",
      cwd: dir,
    });
    const m = /"([A-Za-z0-9+/=]*)"/.exec(r.stdout);
    if (r.status !== 0 || !m) throw new Error(`terraform console failed for ${name}: ${r.stdout}${r.stderr}`);
    out.cases.push({
      name,
      input: Buffer.from(text, "utf8").toString("base64"),
      output: Buffer.from(m[1]!, "base64").toString("utf8"),
    });
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const target = path.join(__dirname, "..", "test", "fixtures", "terraform-jsonencode.json");
  fs.writeFileSync(target, JSON.stringify(out, null, 2) + "\n");
  console.log(`wrote ${target} (Terraform ${out.terraform})`);
}

if (require.main === module) main();
