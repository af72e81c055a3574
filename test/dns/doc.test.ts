/**
 * docs/dns.md stays true: its record table, reverse-DNS table and Mermaid picture equal what the
 * renderers produce for the documented layout (regenerate with `npx tsx scripts/dns-doc.ts`), and
 * its error table documents exactly the codes the DNS code raises.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DNS_DOC, README, dnsDocBlocks, renderDnsDoc, renderReadme } from "../../scripts/dns-doc";
import { mailDnsRecords } from "../../lib/render/dns";
import { checkMermaidFlowchart } from "./mermaid-check";
import { DOCUMENTED_ENTRY, documentedDnsOptions, documentedTopology } from "./fixtures";

const doc = fs.readFileSync(DNS_DOC, "utf8");

function raisedCodes(dir: string): string[] {
  const root = path.join(__dirname, "../..", dir);
  const codes = new Set<string>();
  for (const f of fs.readdirSync(root).filter((x) => x.endsWith(".ts"))) {
    for (const m of fs.readFileSync(path.join(root, f), "utf8").matchAll(/["'`](GRX\d{3})["'`]/g)) codes.add(m[1]!);
  }
  return [...codes];
}

describe("docs/dns.md", () => {
  test("the generated blocks are current (npx tsx scripts/dns-doc.ts)", () => {
    expect(doc).toBe(renderDnsDoc(doc));
  });

  test("README.md shows the current picture and record table of the documented layout", () => {
    const readme = fs.readFileSync(README, "utf8");
    expect(readme).toBe(renderReadme(readme));
    expect(readme).toContain("```mermaid");
    expect(readme).toContain("v=DKIM1; k=rsa; p=");
  });

  test("the record table has a row for every record set of the documented layout", () => {
    const records = mailDnsRecords(documentedTopology(), DOCUMENTED_ENTRY, documentedDnsOptions());
    expect(records.length).toBeGreaterThan(25);
    for (const r of records) {
      const name = r.name.replace(/[.]/g, "\\.");
      expect(doc).toMatch(new RegExp(`^\\| \`${name}\` +\\| ${r.type} +\\| ${r.ttl} +\\|`, "m"));
    }
    expect(dnsDocBlocks().records).toContain("v=DKIM1; k=rsa; p=");
  });

  test("the Mermaid picture passes the syntax check", () => {
    const block = /```mermaid\n([\s\S]*?)```/.exec(doc)![1]!;
    expect(checkMermaidFlowchart(block)).toEqual([]);
    expect(block).toContain('n_mail1["mail1<br/>mail1.gro.at<br/>10.10.10.20');
  });

  test("the error table documents exactly the codes lib/render/dns and lib/dns raise, in order", () => {
    const raised = [...raisedCodes("lib/render/dns"), ...raisedCodes("lib/dns")].sort();
    const rows = [...doc.matchAll(/^\| (GRX\d\d\d) \|/gm)].map((m) => m[1]!);
    expect(rows).toEqual([...new Set(raised)].sort());
    // The DNS block (GRX420–GRX449) and its continuation (GRX560–GRX579), listed after it.
    const inBlock = (c: string) => {
      const n = Number(c.slice(3));
      return (n >= 420 && n <= 449) || (n >= 560 && n <= 579);
    };
    expect(raised.filter((c) => !inBlock(c))).toEqual([]);
  });
});
