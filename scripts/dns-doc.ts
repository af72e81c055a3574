/**
 * The generated parts of docs/dns.md: the record table, the reverse-DNS table and the Mermaid
 * picture of the documented layout, each between `<!-- BEGIN name -->` and `<!-- END name -->`;
 * README.md shows the picture and the record table the same way.
 * `npx tsx scripts/dns-doc.ts` rewrites them (and formats the pages with prettier, as the
 * repository does); test/dns/doc.test.ts fails when they are stale.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { mailDnsRecords, mailReverseDns, renderRecordTable } from "../lib/render/dns";
import { renderTopologyMermaid } from "../lib/render/diagram";
import { DOCUMENTED_ENTRY, documentedDnsOptions, documentedTopology } from "../test/dns/fixtures";

export const DNS_DOC = path.join(__dirname, "..", "docs", "dns.md");
export const README = path.join(__dirname, "..", "README.md");
/** The generated blocks README.md shows. */
export const README_BLOCKS = ["topology", "records"] as const;

/** Block name → generated Markdown (ends with a newline). */
export function dnsDocBlocks(): Record<string, string> {
  const topology = documentedTopology();
  const options = documentedDnsOptions();
  const reverse = mailReverseDns(topology, DOCUMENTED_ENTRY, options);
  return {
    records: renderRecordTable(mailDnsRecords(topology, DOCUMENTED_ENTRY, options)),
    "reverse-dns": [
      "| address | PTR name | role | node |",
      "| --- | --- | --- | --- |",
      ...reverse.map((r) => `| \`${r.address}\` | \`${r.name}\` | ${r.role} | ${r.node ?? "–"} |`),
      "",
    ].join("\n"),
    topology: "```mermaid\n" + renderTopologyMermaid(topology) + "```\n",
  };
}

/** The doc text with every block replaced by its generated content. */
export function updateBlocks(doc: string, blocks: Record<string, string>): string {
  let out = doc;
  for (const [name, content] of Object.entries(blocks)) {
    const re = new RegExp(`(<!-- BEGIN ${name} -->\\n)[\\s\\S]*?(<!-- END ${name} -->)`);
    if (!re.test(out)) throw new Error(`docs/dns.md has no block "${name}"`);
    out = out.replace(re, (_, begin: string, end: string) => begin + content + end);
  }
  return out;
}

/**
 * docs/dns.md as it should be: current blocks, formatted by the repository's prettier (its CLI in a
 * child process, which reads .prettierrc.json; prettier's API needs ES-module loading that jest
 * does not offer).
 */
export function renderDnsDoc(doc: string): string {
  return formatMarkdown(DNS_DOC, updateBlocks(doc, dnsDocBlocks()));
}

/** README.md as it should be: its picture and record table current, formatted. */
export function renderReadme(doc: string): string {
  const all = dnsDocBlocks();
  return formatMarkdown(README, updateBlocks(doc, Object.fromEntries(README_BLOCKS.map((b) => [b, all[b]!]))));
}

function formatMarkdown(file: string, text: string): string {
  const cli = path.join(path.dirname(require.resolve("prettier/package.json")), "bin", "prettier.cjs");
  const r = spawnSync(process.execPath, [cli, "--stdin-filepath", file], { input: text, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`prettier failed: ${r.stderr}`);
  return r.stdout;
}

if (require.main === module) {
  fs.writeFileSync(DNS_DOC, renderDnsDoc(fs.readFileSync(DNS_DOC, "utf8")));
  fs.writeFileSync(README, renderReadme(fs.readFileSync(README, "utf8")));
  console.log(`updated ${DNS_DOC} and ${README}`);
}
