/**
 * The one serializer of record data: presentation-format rdata (`recordRdata`, also what Route53
 * receives) and a provider-neutral BIND zone file (`renderZoneFile`: `$ORIGIN`, `$TTL`, SOA, NS
 * with glue, every record set, sorted, TXT split into quoted character-strings of at most 255
 * bytes). Pure and deterministic; codes GRX442–GRX445.
 */
import { GrommunioValidationError, IssueCollector } from "../../topology/errors";
import { isFqdn, parseIpv4, canonicalIpv6 } from "../../topology/net";
import { DnsRecord } from "./model";
import { checkConflicts, sortRecords } from "./records";
import { escapeCharacterString, inZone, isAddressLiteral, isUnresolved, parseReportAddress, quoteTxt } from "./text";

/** A name server of the zone; one inside the zone needs its addresses (glue). */
export interface NameServer {
  /** Host name (absolute, no trailing dot). */
  readonly name: string;
  /** Addresses, required when `name` lies inside the zone (glue A records). @default [] */
  readonly ipv4?: readonly string[];
  /** @default [] */
  readonly ipv6?: readonly string[];
}

/** SOA, NS and file options of `renderZoneFile`. */
export interface ZoneFileOptions {
  /** The zone's name servers (NS records), at least one; the first is the SOA MNAME. */
  readonly nameServers: readonly (string | NameServer)[];
  /** Mail address of the zone's administrator (SOA RNAME). @default `hostmaster@<zone>` */
  readonly hostmaster?: string;
  /**
   * SOA serial. Renderers have no clock: give a date-based serial (`2025061401`) and raise it on
   * every change, or let the DNS provider manage it.
   * @default 1
   */
  readonly serial?: number;
  /** SOA refresh, seconds. @default 7200 */
  readonly refresh?: number;
  /** SOA retry, seconds. @default 3600 */
  readonly retry?: number;
  /** SOA expire, seconds. @default 1209600 (two weeks) */
  readonly expire?: number;
  /** SOA minimum = negative-caching TTL (RFC 2308), seconds. @default 3600 */
  readonly negativeTtl?: number;
  /** `$TTL`, also the TTL of SOA, NS and glue records. @default 3600 */
  readonly ttl?: number;
  /**
   * Turns the text of a TXT record that holds a Terraform token into its rdata (quoted
   * character-strings). The length of a token is unknown at synth, so only Terraform can split it
   * (`MailDns` passes `join("\" \"", regexall(".{1,255}", text))`).
   * @default undefined: a token in a TXT record is an error (GRX445)
   */
  readonly unresolvedTxt?: (text: string) => string;
  /** Path for error messages. @default "dns" */
  readonly path?: string;
}

export const DEFAULT_SOA = { serial: 1, refresh: 7200, retry: 3600, expire: 1209600, negativeTtl: 3600, ttl: 3600 };

/** `name.` for a host name; the root stays `.`. */
export function absoluteName(name: string): string {
  return name === "." ? "." : `${name}.`;
}

/** A CAA value as a quoted string (`"`, `\` and non-printable bytes escaped). */
function quoteString(text: string): string {
  return `"${escapeCharacterString(Buffer.from(text, "utf8"))}"`;
}

/**
 * The record set's rdata in presentation form, one string per record, sorted. Names are absolute
 * with the trailing dot. A TXT text holding a token goes through `unresolvedTxt`.
 */
export function recordRdata(record: DnsRecord, unresolvedTxt?: (text: string) => string): string[] {
  let out: string[];
  switch (record.type) {
    case "A":
    case "AAAA":
      out = record.values.map((v) => v.address);
      break;
    case "CNAME":
      out = record.values.map((v) => absoluteName(v.target));
      break;
    case "MX":
      out = record.values.map((v) => `${v.preference} ${absoluteName(v.exchange)}`);
      break;
    case "SRV":
      out = record.values.map((v) => `${v.priority} ${v.weight} ${v.port} ${absoluteName(v.target)}`);
      break;
    case "TXT":
      out = record.values.map((v) => {
        if (!isUnresolved(v.text)) return quoteTxt(v.text);
        if (!unresolvedTxt) {
          throw new GrommunioValidationError([unresolvedIssue(record, "dns")]);
        }
        return unresolvedTxt(v.text);
      });
      break;
    case "CAA":
      out = record.values.map((v) => `${v.flags} ${v.tag} ${quoteString(v.value)}`);
      break;
  }
  return out.sort();
}

function unresolvedIssue(record: DnsRecord, path: string) {
  return {
    code: "GRX445",
    path,
    field: record.name,
    message: `the TXT record ${record.name} holds a Terraform token; its length is unknown at synth, so it cannot be split into 255-byte strings here.`,
    fix: "Render the zone file through MailDns (Terraform splits it), or pass literal values.",
  };
}

/** The records of `zone` (for a zone file or one hosted zone), sorted. */
export function recordsInZone(records: readonly DnsRecord[], zone: string): DnsRecord[] {
  return sortRecords(records.filter((r) => r.zone === zone));
}

/** SOA RNAME: the mail address with the local part's dots escaped (RFC 1035 §8). */
function rname(address: string): string | undefined {
  const a = parseReportAddress(address);
  if (!a) return undefined;
  return `${a.local.replace(/\./g, "\\.")}.${a.domain}.`;
}

function relativeName(name: string, zone: string): string {
  if (name === zone) return "@";
  return name.slice(0, -(zone.length + 1));
}

/**
 * A BIND zone file for `zone`: comment header, `$ORIGIN`, `$TTL`, SOA, NS (and glue for in-zone
 * name servers), then every record set of the zone in canonical name order, each preceded by a
 * comment saying what it is for. Every record of `records` must belong to `zone` (filter with
 * `recordsInZone`). Throws `GrommunioValidationError` (GRX442–GRX445, GRX441) on bad input.
 */
export function renderZoneFile(zone: string, records: readonly DnsRecord[], options: ZoneFileOptions): string {
  const path = options.path ?? "dns";
  const c = new IssueCollector();
  const soa = { ...DEFAULT_SOA, ...definedOnly(options) };
  if (!isFqdn(zone)) {
    c.add("GRX444", path, "zone", `"${zone}" is not a zone name.`, 'Give e.g. "example.com" (no trailing dot).');
  }
  for (const r of records) {
    if (r.zone !== zone || !inZone(r.name, zone)) {
      c.add(
        "GRX444",
        path,
        "records",
        `${r.name} ${r.type} belongs in the zone ${r.zone}, not in ${zone} (${r.purpose}).`,
        "Pass only the zone's records (recordsInZone(records, zone)); publish the others in their own zone.",
      );
    }
  }
  for (const [field, v, min, max] of [
    ["serial", soa.serial, 0, 4294967295],
    ["refresh", soa.refresh, 1, 2147483647],
    ["retry", soa.retry, 1, 2147483647],
    ["expire", soa.expire, 1, 2147483647],
    ["negativeTtl", soa.negativeTtl, 0, 2147483647],
    ["ttl", soa.ttl, 0, 2147483647],
  ] as const) {
    if (!Number.isInteger(v) || v < min || v > max) {
      c.add(
        "GRX442",
        path,
        field,
        `SOA ${field} ${String(v)} is not a whole number from ${min} to ${max}.`,
        "Give whole seconds (the serial: e.g. 2025061401).",
      );
    }
  }
  const hostmaster = options.hostmaster ?? `hostmaster@${zone}`;
  const rn = rname(hostmaster);
  if (!rn) {
    c.add(
      "GRX442",
      path,
      "hostmaster",
      `"${hostmaster}" is not a mail address.`,
      'Give e.g. "hostmaster@example.com".',
    );
  }
  const nameServers: NameServer[] = (options.nameServers ?? []).map((n) => (typeof n === "string" ? { name: n } : n));
  if (nameServers.length === 0) {
    c.add("GRX443", path, "nameServers", "the zone has no name server.", "List the zone's name servers (NS records).");
  }
  const glue: DnsRecord[] = [];
  for (const ns of nameServers) {
    if (!isFqdn(ns.name) || isAddressLiteral(ns.name)) {
      c.add(
        "GRX443",
        path,
        "nameServers",
        `"${ns.name}" is not a name server host name.`,
        "Give host names such as ns1.example.net.",
      );
      continue;
    }
    const v4 = ns.ipv4 ?? [];
    const v6 = ns.ipv6 ?? [];
    const bad = [...v4.filter((a) => parseIpv4(a) === undefined), ...v6.filter((a) => canonicalIpv6(a) === undefined)];
    if (bad.length > 0) {
      c.add(
        "GRX443",
        path,
        "nameServers",
        `${ns.name}: ${bad.join(", ")} is not an address of its family.`,
        "Give IPv4 in ipv4 and IPv6 in ipv6.",
      );
    }
    if (inZone(ns.name, zone)) {
      if (v4.length + v6.length === 0) {
        c.add(
          "GRX443",
          path,
          "nameServers",
          `the name server ${ns.name} lies inside ${zone} but has no address, so nobody could reach it (no glue).`,
          `Give its addresses ({ name: "${ns.name}", ipv4: [...] }), or use a name server outside the zone.`,
        );
      }
      if (v4.length > 0)
        glue.push({
          zone,
          name: ns.name,
          ttl: soa.ttl,
          type: "A",
          values: v4.map((address) => ({ address })),
          purpose: "name server address (glue)",
        });
      if (v6.length > 0)
        glue.push({
          zone,
          name: ns.name,
          ttl: soa.ttl,
          type: "AAAA",
          values: v6.map((address) => ({ address })),
          purpose: "name server address (glue)",
        });
    }
  }
  const all = sortRecords([...glue, ...records]);
  checkConflicts(all, path, c);
  for (const r of all) {
    if (r.type === "TXT" && !options.unresolvedTxt && r.values.some((v) => isUnresolved(v.text))) {
      c.addAll([unresolvedIssue(r, path)]);
    }
  }
  c.throwIfAny();

  const rows: { owner: string; ttl: string; type: string; rdata: string; comment?: string }[] = [];
  rows.push({
    owner: "@",
    ttl: "",
    type: "SOA",
    rdata: `${absoluteName(nameServers[0]!.name)} ${rn} ${soa.serial} ${soa.refresh} ${soa.retry} ${soa.expire} ${soa.negativeTtl}`,
  });
  for (const ns of nameServers) rows.push({ owner: "@", ttl: "", type: "NS", rdata: absoluteName(ns.name) });
  let lastComment: string | undefined;
  for (const r of all) {
    const comment = r.purpose !== lastComment ? r.purpose : undefined;
    lastComment = r.purpose;
    recordRdata(r, options.unresolvedTxt).forEach((rdata, i) =>
      rows.push({
        owner: relativeName(r.name, zone),
        ttl: String(r.ttl),
        type: r.type,
        rdata,
        ...(i === 0 && comment !== undefined ? { comment } : {}),
      }),
    );
  }
  const ownerWidth = Math.max(...rows.map((r) => r.owner.length));
  const ttlWidth = Math.max(...rows.map((r) => r.ttl.length));
  const typeWidth = Math.max(...rows.map((r) => r.type.length));
  const lines = [
    `; Zone ${zone}: mail records generated by cdktf-grommunio from the cluster topology.`,
    "; Do not edit by hand: change the cluster and render again.",
    `$ORIGIN ${absoluteName(zone)}`,
    `$TTL ${soa.ttl}`,
  ];
  for (const row of rows) {
    if (row.comment !== undefined) lines.push(`; ${row.comment}`);
    lines.push(
      `${row.owner.padEnd(ownerWidth)} ${row.ttl.padStart(ttlWidth)} IN ${row.type.padEnd(typeWidth)} ${row.rdata}`.replace(
        / +$/,
        "",
      ),
    );
  }
  return lines.join("\n") + "\n";
}

function definedOnly(o: ZoneFileOptions): Partial<typeof DEFAULT_SOA> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(DEFAULT_SOA) as (keyof typeof DEFAULT_SOA)[]) {
    const v = o[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
