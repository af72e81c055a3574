/**
 * A Markdown table of record sets (docs/dns.md embeds the one of the documented layout; a test
 * keeps the two equal). Pure.
 */
import { DnsRecord } from "./model";
import { recordRdata } from "./zone";

/** Escapes a table cell: `|` would end the cell. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/**
 * `| name | type | TTL | value | purpose |`, one row per record, in the order given (pass sorted
 * records). Values are the presentation rdata (TXT in its quoted, split form).
 */
export function renderRecordTable(records: readonly DnsRecord[]): string {
  const lines = ["| name | type | TTL | value | purpose |", "| --- | --- | --- | --- | --- |"];
  for (const r of records) {
    for (const rdata of recordRdata(r, (t) => `"${t}"`)) {
      lines.push(`| \`${cell(r.name)}\` | ${r.type} | ${r.ttl} | \`${cell(rdata)}\` | ${cell(r.purpose)} |`);
    }
  }
  return lines.join("\n") + "\n";
}
