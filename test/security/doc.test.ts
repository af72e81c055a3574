/**
 * docs/security.md stays true: its exposure table equals the one generated from the port table
 * (regenerate with `npx tsx scripts/security-doc.ts`), and every security code the library raises
 * (GRX450–GRX479, and the AWS secrets prefix GRX221) is documented in docs/errors.md.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { SECURITY_DOC, exposureTable, renderSecurityDoc } from "../../scripts/security-doc";
import { PORTS } from "../../lib";

const root = path.join(__dirname, "../..");
const doc = fs.readFileSync(SECURITY_DOC, "utf8");
const errors = fs.readFileSync(path.join(root, "docs/errors.md"), "utf8");

/** Codes raised (as quoted literals) in the given files. */
function raised(files: readonly string[]): string[] {
  const codes = new Set<string>();
  for (const f of files) {
    for (const m of fs.readFileSync(path.join(root, f), "utf8").matchAll(/["'`](GRX\d{3})["'`]/g)) codes.add(m[1]!);
  }
  return [...codes].sort();
}

describe("docs/security.md", () => {
  test("the exposure table is current (npx tsx scripts/security-doc.ts)", () => {
    expect(doc).toBe(renderSecurityDoc(doc));
  });

  test("the table has a row per port-table entry", () => {
    const table = exposureTable();
    for (const key of Object.keys(PORTS)) expect(table).toContain(`| \`${key}\` |`);
  });

  test("covers the three attackers and the mitigations", () => {
    for (const heading of [
      "### An attacker on the internet",
      "### An attacker on the private network",
      "### An attacker with access to the Terraform state (or the plan)",
      "## Secrets",
      "## TLS",
    ]) {
      expect(doc).toContain(heading);
    }
  });

  test("every security code is documented in docs/errors.md, in its range", () => {
    const codes = raised([
      "lib/cluster/exposure.ts",
      "lib/cluster/firewall.ts",
      "lib/cluster/tls.ts",
      "lib/cluster/security.ts",
      "lib/provision/secrets.ts",
      "lib/platforms/aws/aws-platform.ts",
    ]).filter((c) => !["GRX214", "GRX220", "GRX222", "GRX223", "GRX226", "GRX227", "GRX228"].includes(c));
    expect(codes).toEqual([
      "GRX221",
      "GRX450",
      "GRX451",
      "GRX452",
      "GRX453",
      "GRX454",
      "GRX455",
      "GRX456",
      "GRX457",
      "GRX458",
      "GRX459",
      "GRX460",
      "GRX461",
    ]);
    for (const c of codes) expect(errors).toMatch(new RegExp(`^\\| ${c} \\|`, "m"));
  });
});
