/**
 * Every public DNS record of a mail cluster, derived from the topology: MX, the mail host's
 * addresses, Autodiscover/autoconfig, RFC 6186/6764 SRV records, SPF, DKIM, DMARC, MTA-STS,
 * TLS-RPT, CAA; and the reverse-DNS entries the platform publishes. Pure and deterministic:
 * record sets come out sorted (`sortRecords`). Invalid input produces coded issues
 * (GRX420–GRX441), never records.
 *
 * Decisions (docs/dns.md explains them):
 * - MX points at the mail host name, which carries A/AAAA records of the entry point; never an
 *   address, never a CNAME (RFC 2181 §10.3).
 * - `autodiscover`, `autoconfig` and `mta-sts` are CNAMEs of the mail host: the entry addresses
 *   live in one place, and the load balancer answers all names on the same addresses.
 * - SRV targets are the mail host (RFC 2782: never an alias). Services the cluster does not offer
 *   get target "." (`_imap`, `_pop3`: no plaintext; `_submissions`: no implicit-TLS 465;
 *   `_caldav`, `_carddav`: no plaintext HTTP), so clients stop probing them.
 * - SPF lists the classic nodes' egress addresses (`ip4:`/`ip6:`), not `mx`: outgoing mail leaves
 *   from the classic nodes, while the MX addresses belong to the load balancer, which never sends.
 */
import type { MtaStsSite } from "../types";
import { ClusterNode, Topology } from "../../topology/model";
import { GrommunioValidationError, IssueCollector, ValidationIssue } from "../../topology/errors";
import { isDnsLabel, isFqdn, parseIpv4, canonicalIpv6 } from "../../topology/net";
import { PORTS } from "../../topology/ports";
import {
  DnsRecord,
  DmarcPolicy,
  MailDnsOptions,
  MailEntryPoint,
  MtaStsMode,
  RECORD_TYPE_ORDER,
  ReverseDnsEntry,
} from "./model";
import { MAX_MTA_STS_MAX_AGE, mtaStsPolicyId, mtaStsPolicyText } from "./mta-sts";
import {
  checkDkimPublicKey,
  dkimRecordText,
  inZone,
  isAddressLiteral,
  isDomainName,
  isHostName,
  isUnresolved,
  mailtoUri,
  parseReportAddress,
} from "./text";

export const DEFAULT_TTL = 3600;
export const DEFAULT_MX_PREFERENCE = 10;
export const DEFAULT_DKIM_SELECTOR = "grommunio";
export const DEFAULT_DMARC_POLICY: DmarcPolicy = "quarantine";
/** Smallest RSA key receivers accept (RFC 8301 §3.2); 2048 is what we generate and recommend. */
export const MIN_DKIM_BITS = 1024;
export const RECOMMENDED_DKIM_BITS = 2048;
/** The path grommunio-dav serves CalDAV/CardDAV under (the load balancer routes `/dav` to the mailbox nodes). */
export const DAV_CONTEXT_PATH = "/dav/";
/** RFC 7208 §4.6.4 allows 10 DNS-querying terms; keep two for the receiver's own expansion. */
export const MAX_SPF_INCLUDES = 8;

const DMARC_POLICIES: readonly DmarcPolicy[] = ["none", "quarantine", "reject"];
const MTA_STS_MODES: readonly MtaStsMode[] = ["enforce", "testing", "none"];

/** The mail host, the zone and everything else the records derive from, validated. */
interface Resolved {
  readonly zone: string;
  readonly domain: string;
  readonly mailHost: string;
  readonly ttl: number;
  readonly mxPreference: number;
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
  readonly egress: readonly { readonly node: ClusterNode; readonly ipv4?: string; readonly ipv6?: string }[];
}

/** Validates the inputs of `mailDnsRecords` without throwing; empty when the records can be derived. */
export function validateMailDns(
  topology: Topology,
  entry: MailEntryPoint,
  options: MailDnsOptions = {},
): ValidationIssue[] {
  const c = new IssueCollector();
  const r = resolve(topology, entry, options, c);
  if (r) checkConflicts(buildRecords(r, options), `${topology.path}/dns`, c);
  return [...c.issues];
}

/**
 * Every public record set of the cluster's mail domain, sorted (`sortRecords`). Throws
 * `GrommunioValidationError` with every issue when the input is invalid.
 *
 * @param entry the public addresses of the entry point (cloud load balancer or load-balancer nodes)
 */
export function mailDnsRecords(topology: Topology, entry: MailEntryPoint, options: MailDnsOptions = {}): DnsRecord[] {
  const c = new IssueCollector();
  const r = resolve(topology, entry, options, c);
  if (!r) throw new GrommunioValidationError(c.issues);
  const records = buildRecords(r, options);
  checkConflicts(records, `${topology.path}/dns`, c);
  c.throwIfAny();
  return records;
}

/**
 * Reverse DNS the platform should publish (AWS: `aws_eip_domain_name`; Hetzner: `hcloud_rdns`):
 * each classic node's egress address → its host name (the HELO name, whose A/AAAA record
 * `mailDnsRecords` publishes), and each entry address → the mail host. Where a literal address is
 * both, the egress name wins (one PTR per address; sending servers are the ones checked).
 * Sorted by role (egress first), then node, then address.
 */
export function mailReverseDns(
  topology: Topology,
  entry: MailEntryPoint,
  options: MailDnsOptions = {},
): ReverseDnsEntry[] {
  const c = new IssueCollector();
  const r = resolve(topology, entry, options, c);
  if (!r) throw new GrommunioValidationError(c.issues);
  const out: ReverseDnsEntry[] = [];
  for (const e of r.egress) {
    if (e.ipv4 !== undefined)
      out.push({ address: e.ipv4, family: "ipv4", name: e.node.hostname, role: "egress", node: e.node.name });
    if (e.ipv6 !== undefined)
      out.push({ address: e.ipv6, family: "ipv6", name: e.node.hostname, role: "egress", node: e.node.name });
  }
  const taken = new Set(out.map((p) => p.address));
  for (const a of r.ipv4) if (!taken.has(a)) out.push({ address: a, family: "ipv4", name: r.mailHost, role: "entry" });
  for (const a of r.ipv6) if (!taken.has(a)) out.push({ address: a, family: "ipv6", name: r.mailHost, role: "entry" });
  return out;
}

/**
 * GRX448: forward-confirmed reverse DNS. Each PTR entry's name must carry an A (IPv4) or AAAA
 * (IPv6) record set in `records` that holds exactly the entry's address (the same literal or the
 * same Terraform token), and no address may get two PTRs. Receivers resolve the PTR name and
 * compare; a PTR whose name does not lead back to the address counts as none.
 */
export function checkReverseDns(
  records: readonly DnsRecord[],
  entries: readonly ReverseDnsEntry[],
  path: string,
  c: IssueCollector,
): void {
  const seen = new Map<string, string>();
  for (const e of entries) {
    const type = e.family === "ipv4" ? "A" : "AAAA";
    const set = records.find((r) => r.name === e.name && r.type === type);
    const addresses = set && (set.type === "A" || set.type === "AAAA") ? set.values.map((v) => v.address) : [];
    const shown = isUnresolved(e.address) ? "a platform address" : e.address;
    if (!addresses.includes(e.address)) {
      c.add(
        "GRX448",
        path,
        "reverseDns",
        `the PTR of ${shown} would name ${e.name}, but ${e.name} has no ${type} record with that address: forward-confirmed reverse DNS would fail.`,
        `Name the host whose ${type} record holds the address (for a classic node its host name, for the entry point the mail host), or publish that record.`,
      );
    }
    const other = seen.get(e.address);
    if (other !== undefined) {
      c.add(
        "GRX448",
        path,
        "reverseDns",
        `${shown} would get two PTRs (${other} and ${e.name}); an address has one.`,
        "Give each address one PTR entry.",
      );
    }
    seen.set(e.address, e.name);
  }
}

/**
 * The MTA-STS policy the load-balancer tier serves at
 * `https://mta-sts.<domain>/.well-known/mta-sts.txt` (`MTA_STS_POLICY_PATH`): the mail host as
 * the only `mx`. Throws on invalid options (the same checks as `mailDnsRecords`).
 */
export function renderMtaStsPolicy(topology: Topology, options: MailDnsOptions = {}): string {
  const c = new IssueCollector();
  const path = `${topology.path}/dns`;
  const mailHost = resolveMailHost(topology, options, path, c);
  checkMtaSts(options, path, c);
  c.throwIfAny();
  return mtaStsPolicyText([mailHost!], options.mtaSts === false ? {} : options.mtaSts);
}

/**
 * What the load-balancer tier serves for MTA-STS: `mta-sts.<domain>` and the policy. Undefined
 * when MTA-STS is off (`options.mtaSts: false`). Throws on invalid options, as `renderMtaStsPolicy`.
 */
export function mtaStsSite(topology: Topology, options: MailDnsOptions = {}): MtaStsSite | undefined {
  if (options.mtaSts === false) return undefined;
  return { host: `mta-sts.${topology.domain}`, policy: renderMtaStsPolicy(topology, options) };
}

/** Sorts record sets: zone, then owner name in DNSSEC canonical order (RFC 4034 §6.1), then type. */
export function sortRecords(records: readonly DnsRecord[]): DnsRecord[] {
  return [...records].sort(
    (a, b) =>
      compareNames(a.zone, b.zone) ||
      compareNames(a.name, b.name) ||
      RECORD_TYPE_ORDER.indexOf(a.type) - RECORD_TYPE_ORDER.indexOf(b.type),
  );
}

/** Canonical DNS name order: compare labels from the right. */
export function compareNames(a: string, b: string): number {
  const la = a.split(".").reverse();
  const lb = b.split(".").reverse();
  for (let i = 0; i < Math.min(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return la[i]! < lb[i]! ? -1 : 1;
  }
  return la.length - lb.length;
}

/**
 * GRX441: one owner name holds a CNAME beside other data (RFC 1034 §3.6.2), or one name and type
 * appear twice (two record sets would fight over one Route53 record).
 */
export function checkConflicts(records: readonly DnsRecord[], path: string, c: IssueCollector): void {
  const byName = new Map<string, DnsRecord[]>();
  for (const r of records) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  for (const [name, set] of [...byName.entries()].sort(([a], [b]) => compareNames(a, b))) {
    const types = set.map((r) => r.type);
    const dup = types.filter((t, i) => types.indexOf(t) !== i);
    if (dup.length > 0) {
      c.add(
        "GRX441",
        path,
        "records",
        `${name} has two ${[...new Set(dup)].join(", ")} record sets (${set
          .filter((r) => dup.includes(r.type))
          .map((r) => r.purpose)
          .join("; ")}).`,
        "Give the conflicting names (mailHost, node host names) distinct values.",
      );
    } else if (types.includes("CNAME") && types.length > 1) {
      c.add(
        "GRX441",
        path,
        "records",
        `${name} would hold a CNAME beside ${types.filter((t) => t !== "CNAME").join(", ")} records (${set
          .map((r) => r.purpose)
          .join("; ")}); a CNAME owner holds no other data.`,
        "Choose a mailHost that is not autodiscover, autoconfig or mta-sts of the domain.",
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------

function resolveMailHost(
  topology: Topology,
  options: MailDnsOptions,
  path: string,
  c: IssueCollector,
): string | undefined {
  const mailHost = options.mailHost ?? topology.loadBalancer?.publicName;
  if (mailHost === undefined) {
    c.add(
      "GRX423",
      path,
      "mailHost",
      "the cluster has no load-balancer tier, so there is no public mail host name to point MX and SRV records at.",
      'Give mailHost (e.g. "mail.example.com"), or declare a LoadBalancerTier with a publicName.',
    );
    return undefined;
  }
  if (isAddressLiteral(mailHost)) {
    c.add(
      "GRX422",
      path,
      "mailHost",
      `MX and SRV records would point at the address ${mailHost}; they must name a host (RFC 5321 §5.1, RFC 2782).`,
      'Give a host name such as "mail.example.com"; its A/AAAA records carry the address.',
    );
    return undefined;
  }
  if (!isFqdn(mailHost)) {
    c.add(
      "GRX423",
      path,
      "mailHost",
      `"${mailHost}" is not a fully qualified lower-case host name.`,
      'Give the public mail host name, e.g. "mail.example.com".',
    );
    return undefined;
  }
  return mailHost;
}

function checkMtaSts(options: MailDnsOptions, path: string, c: IssueCollector): void {
  if (!options.mtaSts) return;
  const { mode, maxAgeSeconds } = options.mtaSts;
  if (mode !== undefined && !MTA_STS_MODES.includes(mode)) {
    c.add(
      "GRX437",
      path,
      "mtaSts.mode",
      `"${String(mode)}" is not an MTA-STS mode.`,
      'Use "testing" (report only), "enforce" or "none".',
    );
  }
  if (
    maxAgeSeconds !== undefined &&
    (!Number.isInteger(maxAgeSeconds) || maxAgeSeconds < 1 || maxAgeSeconds > MAX_MTA_STS_MAX_AGE)
  ) {
    c.add(
      "GRX437",
      path,
      "mtaSts.maxAgeSeconds",
      `max_age ${String(maxAgeSeconds)} is outside 1–${MAX_MTA_STS_MAX_AGE} seconds (RFC 8461 §3.2).`,
      "Give whole seconds, e.g. 604800 (a week) while testing, 1209600 or more when enforcing.",
    );
  }
}

function checkAddresses(
  list: readonly string[] | undefined,
  family: "ipv4" | "ipv6",
  path: string,
  field: string,
  c: IssueCollector,
): string[] {
  const out: string[] = [];
  for (const a of list ?? []) {
    if (isUnresolved(a)) {
      out.push(a);
      continue;
    }
    const canonical = family === "ipv4" ? (parseIpv4(a) !== undefined ? a : undefined) : canonicalIpv6(a);
    if (canonical === undefined) {
      c.add(
        "GRX425",
        path,
        field,
        `"${a}" is not an ${family === "ipv4" ? "IPv4" : "IPv6"} address.`,
        family === "ipv4"
          ? "Give dotted-quad addresses (or the Terraform attribute, e.g. aws_eip.public_ip); IPv6 goes in ipv6."
          : "Give IPv6 addresses such as 2001:db8::25 (or a Terraform attribute); IPv4 goes in ipv4.",
      );
    } else if (!out.includes(canonical)) {
      out.push(canonical);
    }
  }
  return out;
}

function resolve(
  topology: Topology,
  entry: MailEntryPoint,
  options: MailDnsOptions,
  c: IssueCollector,
): Resolved | undefined {
  const path = `${topology.path}/dns`;
  const domain = topology.domain;
  const zone = options.zone ?? domain;
  let zoneOk = true;
  if (!isFqdn(zone)) {
    c.add(
      "GRX420",
      path,
      "zone",
      `"${zone}" is not a lower-case DNS zone name (no trailing dot).`,
      'Give the zone the records are published in, e.g. "example.com".',
    );
    zoneOk = false;
  } else if (!inZone(domain, zone)) {
    c.add(
      "GRX420",
      path,
      "zone",
      `the mail domain ${domain} is outside the zone ${zone}; its MX, SPF and DMARC records cannot be published there.`,
      `Use the zone that holds ${domain} (the domain itself or a parent of it).`,
    );
    zoneOk = false;
  }

  const mailHost = resolveMailHost(topology, options, path, c);
  if (mailHost !== undefined && zoneOk && !inZone(mailHost, zone)) {
    c.add(
      "GRX421",
      path,
      "mailHost",
      `the mail host ${mailHost} is outside the zone ${zone}, so its A/AAAA records cannot be published there.`,
      `Choose a mail host inside ${zone} (e.g. mail.${domain}), or publish in a zone that holds both.`,
    );
  }

  const ttl = options.ttl ?? DEFAULT_TTL;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 2147483647) {
    c.add(
      "GRX440",
      path,
      "ttl",
      `TTL ${String(ttl)} is not a whole number of seconds from 0 to 2147483647 (RFC 2181 §8).`,
      "Give e.g. 3600.",
    );
  }
  const mxPreference = options.mxPreference ?? DEFAULT_MX_PREFERENCE;
  if (!Number.isInteger(mxPreference) || mxPreference < 0 || mxPreference > 65535) {
    c.add(
      "GRX440",
      path,
      "mxPreference",
      `MX preference ${String(mxPreference)} is not from 0 to 65535.`,
      "Give e.g. 10.",
    );
  }

  // Entry point.
  const ipv4 = checkAddresses(entry.ipv4, "ipv4", path, "entry.ipv4", c);
  const ipv6 = checkAddresses(entry.ipv6, "ipv6", path, "entry.ipv6", c);
  if ((entry.ipv4?.length ?? 0) + (entry.ipv6?.length ?? 0) === 0) {
    c.add(
      "GRX424",
      path,
      "entry",
      "the entry point has no public address, so the mail host would have no A or AAAA record.",
      "Give the public addresses of the cloud load balancer or the load-balancer nodes (entry.ipv4 / entry.ipv6).",
    );
  }

  // Classic nodes send and receive.
  if (topology.classicNodes.length === 0) {
    c.add(
      "GRX426",
      path,
      "nodes",
      "the cluster has no classic node: nothing would accept mail for the MX or send the domain's mail.",
      "Add a ClassicNode (postfix, IMAP, POP3) before publishing mail DNS records.",
    );
  }

  // Egress.
  const egress: { node: ClusterNode; ipv4?: string; ipv6?: string }[] = [];
  const seenNodes = new Set<string>();
  const byLiteral = new Map<string, string>();
  for (const e of options.egress ?? []) {
    const node = topology.nodes.find((n) => n.name === e.node);
    if (!node || !node.has("classic") || seenNodes.has(e.node)) {
      c.add(
        "GRX427",
        path,
        "egress",
        !node
          ? `"${e.node}" is not a node of the cluster.`
          : seenNodes.has(e.node)
            ? `node "${e.node}" is listed twice.`
            : `"${e.node}" is not a classic node; only classic nodes (postfix) send mail.`,
        `List each classic node once: ${topology.classicNodes.map((n) => n.name).join(", ") || "(none)"}.`,
      );
      continue;
    }
    seenNodes.add(e.node);
    const v4 = e.ipv4 === undefined ? [] : checkAddresses([e.ipv4], "ipv4", path, `egress.${e.node}.ipv4`, c);
    const v6 = e.ipv6 === undefined ? [] : checkAddresses([e.ipv6], "ipv6", path, `egress.${e.node}.ipv6`, c);
    if (e.ipv4 === undefined && e.ipv6 === undefined) {
      c.add(
        "GRX428",
        path,
        `egress.${e.node}`,
        `node "${e.node}" is listed without an address.`,
        "Give the public IPv4 and/or IPv6 address its mail leaves from.",
      );
    }
    for (const a of [...v4, ...v6]) {
      if (isUnresolved(a)) continue;
      const other = byLiteral.get(a);
      if (other !== undefined) {
        c.add(
          "GRX431",
          path,
          `egress.${e.node}`,
          `${a} is also the egress address of "${other}"; an address has one PTR, so only one HELO name can match it.`,
          "Give every classic node its own public address, or send through one relay and name it in spf.include.",
        );
      }
      byLiteral.set(a, e.node);
    }
    if (zoneOk && !inZone(node.hostname, zone)) {
      c.add(
        "GRX421",
        node.path,
        "hostname",
        `the HELO name ${node.hostname} of egress node "${node.name}" is outside the zone ${zone}, so its A/AAAA record (forward-confirmed reverse DNS) cannot be published there.`,
        `Give the classic node a host name inside ${zone}.`,
      );
    }
    egress.push({
      node,
      ...(v4[0] !== undefined ? { ipv4: v4[0] } : {}),
      ...(v6[0] !== undefined ? { ipv6: v6[0] } : {}),
    });
  }
  if (options.egress !== undefined && options.egress.length > 0) {
    for (const n of topology.classicNodes) {
      if (!seenNodes.has(n.name)) {
        c.add(
          "GRX428",
          path,
          "egress",
          `classic node "${n.name}" has no egress address; with "-all" its outgoing mail would fail SPF.`,
          `Add { node: "${n.name}", ipv4: … } to egress.`,
        );
      }
    }
  }
  const includes = options.spf?.include ?? [];
  if ((options.egress ?? []).length === 0 && includes.length === 0) {
    c.add(
      "GRX429",
      path,
      "egress",
      "SPF would authorize no sender: no egress address and no spf.include.",
      "Give the classic nodes' public addresses in egress, or the relay the cluster sends through in spf.include.",
    );
  }
  if (includes.length > MAX_SPF_INCLUDES || includes.some((d) => !isDomainName(d))) {
    c.add(
      "GRX430",
      path,
      "spf.include",
      includes.length > MAX_SPF_INCLUDES
        ? `${includes.length} includes exceed ${MAX_SPF_INCLUDES}; SPF allows 10 DNS-querying terms in all (RFC 7208 §4.6.4).`
        : `${includes
            .filter((d) => !isDomainName(d))
            .map((d) => `"${d}"`)
            .join(", ")} is not a domain name.`,
      "Give at most 8 domains, such as _spf.relay.example.net.",
    );
  }
  const all = options.spf?.all ?? "-all";
  if (all !== "-all" && all !== "~all") {
    c.add(
      "GRX430",
      path,
      "spf.all",
      `"${String(all)}" is not "-all" or "~all".`,
      'Use "-all" (or "~all" while testing).',
    );
  }

  // DKIM.
  if (options.dkim) {
    const selector = options.dkim.selector ?? DEFAULT_DKIM_SELECTOR;
    if (!selector.split(".").every(isDnsLabel)) {
      c.add(
        "GRX432",
        path,
        "dkim.selector",
        `"${selector}" is not a DKIM selector (dot-separated lower-case labels).`,
        'Use e.g. "grommunio" or "s2025".',
      );
    }
    const key = checkDkimPublicKey(options.dkim.publicKey ?? "");
    if (!key.ok) {
      c.add(
        "GRX433",
        path,
        "dkim.publicKey",
        `the DKIM public key is unusable: ${key.reason}.`,
        "Pass tls_private_key.public_key_pem (MailDns does this), a PEM PUBLIC KEY block, or its base64 DER.",
      );
    } else {
      const bits = key.bits ?? options.dkim.keyBits;
      if (bits !== undefined && (!Number.isInteger(bits) || bits < MIN_DKIM_BITS)) {
        c.add(
          "GRX434",
          path,
          "dkim.publicKey",
          `the DKIM key has ${String(bits)} bits; receivers ignore RSA keys below ${MIN_DKIM_BITS} bits (RFC 8301 §3.2).`,
          `Use a ${RECOMMENDED_DKIM_BITS}-bit RSA key (tls_private_key rsa_bits = ${RECOMMENDED_DKIM_BITS}).`,
        );
      }
    }
  }

  // DMARC.
  if (options.dmarc) {
    const d = options.dmarc;
    for (const [field, p] of [
      ["dmarc.policy", d.policy],
      ["dmarc.subdomainPolicy", d.subdomainPolicy],
    ] as const) {
      if (p !== undefined && !DMARC_POLICIES.includes(p)) {
        c.add("GRX435", path, field, `"${String(p)}" is not a DMARC policy.`, 'Use "none", "quarantine" or "reject".');
      }
    }
    if (d.percent !== undefined && (!Number.isInteger(d.percent) || d.percent < 0 || d.percent > 100)) {
      c.add(
        "GRX435",
        path,
        "dmarc.percent",
        `pct ${String(d.percent)} is not from 0 to 100.`,
        "Give a whole percentage.",
      );
    }
    if (d.rua !== undefined && !parseReportAddress(d.rua)) {
      c.add(
        "GRX436",
        path,
        "dmarc.rua",
        `"${d.rua}" is not a plain mail address usable in a mailto: report URI.`,
        'Give an address such as "dmarc-reports@example.com" (no "mailto:", no "," "!" ";" or spaces).',
      );
    }
  }
  if (options.tlsRpt && !parseReportAddress(options.tlsRpt.rua ?? "")) {
    c.add(
      "GRX436",
      path,
      "tlsRpt.rua",
      `"${options.tlsRpt.rua}" is not a plain mail address usable in a mailto: report URI.`,
      'Give an address such as "tls-reports@example.com".',
    );
  }
  checkMtaSts(options, path, c);

  // CAA.
  if (options.caa) {
    const issuers = options.caa.issuers ?? [];
    const bad = issuers.filter((i) => !isCaaIssuer(i));
    if (issuers.length === 0 || bad.length > 0) {
      c.add(
        "GRX438",
        path,
        "caa.issuers",
        issuers.length === 0
          ? "the CAA issuer list is empty."
          : `${bad.map((i) => `"${i}"`).join(", ")} is not a CA domain (optionally followed by "; key=value" parameters).`,
        'List the CAs that may issue for the domain, e.g. ["letsencrypt.org"], or omit caa for no CAA record.',
      );
    }
    const iodef = options.caa.iodef;
    if (iodef !== undefined && !/^(mailto:[^\s"@]+@[a-z0-9.-]+|https:\/\/[^\s"]+)$/.test(iodef)) {
      c.add(
        "GRX439",
        path,
        "caa.iodef",
        `"${iodef}" is not a mailto: or https: URL.`,
        'Give e.g. "mailto:security@example.com".',
      );
    }
  }

  if (c.issues.length > 0 || mailHost === undefined) return undefined;
  return {
    zone,
    domain,
    mailHost,
    ttl,
    mxPreference,
    ipv4,
    ipv6,
    egress: egress.sort((a, b) => a.node.name.localeCompare(b.node.name)),
  };
}

/** A CAA `issue` value: an issuer domain, optionally `; key=value` parameters (RFC 8659 §4.2). */
function isCaaIssuer(value: string): boolean {
  const [domain, ...params] = value.split(";");
  if (!isHostName((domain ?? "").trim())) return false;
  return params.every((p) => /^\s*[A-Za-z0-9]+=[\x21-\x3a\x3c-\x7e]*\s*$/.test(p));
}

function buildRecords(r: Resolved, options: MailDnsOptions): DnsRecord[] {
  const { zone, domain, mailHost, ttl } = r;
  const at = (label: string) => `${label}.${domain}`;
  const base = { zone, ttl };
  const out: DnsRecord[] = [];

  out.push({
    ...base,
    name: domain,
    type: "MX",
    values: [{ preference: r.mxPreference, exchange: mailHost }],
    purpose: "MX: inbound mail goes to the mail host (the load balancer, SMTP to the classic nodes)",
  });
  if (r.ipv4.length > 0)
    out.push({
      ...base,
      name: mailHost,
      type: "A",
      values: r.ipv4.map((address) => ({ address })),
      purpose: "mail host: public IPv4 of the entry point",
    });
  if (r.ipv6.length > 0)
    out.push({
      ...base,
      name: mailHost,
      type: "AAAA",
      values: r.ipv6.map((address) => ({ address })),
      purpose: "mail host: public IPv6 of the entry point",
    });
  for (const label of ["autodiscover", "autoconfig"] as const) {
    out.push({
      ...base,
      name: at(label),
      type: "CNAME",
      values: [{ target: mailHost }],
      purpose:
        label === "autodiscover"
          ? "Outlook Autodiscover host (gromox oxdisco behind the load balancer)"
          : "Thunderbird autoconfig host",
    });
  }

  // SRV: what the load balancer offers, and "." for what it does not.
  const offered = (service: string, priority: number, port: number, purpose: string): DnsRecord => ({
    ...base,
    name: at(`${service}._tcp`),
    type: "SRV",
    values: [{ priority, weight: 1, port, target: mailHost }],
    purpose,
  });
  const notOffered = (service: string, purpose: string): DnsRecord => ({
    ...base,
    name: at(`${service}._tcp`),
    type: "SRV",
    values: [{ priority: 0, weight: 0, port: 0, target: "." }],
    purpose,
  });
  out.push(
    offered("_autodiscover", 0, PORTS.publicHttps.port, "Autodiscover over HTTPS (RFC 2782 lookup by Outlook)"),
    offered("_submission", 0, PORTS.publicSubmission.port, "mail submission, STARTTLS (RFC 6186)"),
    notOffered("_submissions", "no implicit-TLS submission on 465 (RFC 8314): use _submission"),
    offered("_imaps", 0, PORTS.publicImaps.port, "IMAP over TLS (RFC 6186), preferred over POP3"),
    notOffered("_imap", "no plaintext IMAP on 143 (RFC 6186)"),
    offered("_pop3s", 10, PORTS.publicPop3s.port, "POP3 over TLS (RFC 6186), after IMAP"),
    notOffered("_pop3", "no plaintext POP3 on 110 (RFC 6186)"),
    offered("_caldavs", 0, PORTS.publicHttps.port, "CalDAV over HTTPS (RFC 6764)"),
    notOffered("_caldav", "no plaintext CalDAV (RFC 6764)"),
    offered("_carddavs", 0, PORTS.publicHttps.port, "CardDAV over HTTPS (RFC 6764)"),
    notOffered("_carddav", "no plaintext CardDAV (RFC 6764)"),
  );
  for (const service of ["_caldavs", "_carddavs"]) {
    out.push({
      ...base,
      name: at(`${service}._tcp`),
      type: "TXT",
      values: [{ text: `path=${DAV_CONTEXT_PATH}` }],
      purpose: `${service === "_caldavs" ? "CalDAV" : "CardDAV"} context path (grommunio-dav, RFC 6764 §4)`,
    });
  }

  // SPF over the egress addresses.
  const terms = [
    ...r.egress.filter((e) => e.ipv4 !== undefined).map((e) => `ip4:${e.ipv4}`),
    ...r.egress.filter((e) => e.ipv6 !== undefined).map((e) => `ip6:${e.ipv6}`),
    ...(options.spf?.include ?? []).map((d) => `include:${d}`),
  ];
  out.push({
    ...base,
    name: domain,
    type: "TXT",
    values: [{ text: ["v=spf1", ...terms, options.spf?.all ?? "-all"].join(" ") }],
    purpose: "SPF: the classic nodes' egress addresses send the domain's mail",
  });
  for (const e of r.egress) {
    if (e.ipv4 !== undefined)
      out.push({
        ...base,
        name: e.node.hostname,
        type: "A",
        values: [{ address: e.ipv4 }],
        purpose: `HELO name of ${e.node.name}: egress IPv4 (forward-confirmed reverse DNS)`,
      });
    if (e.ipv6 !== undefined)
      out.push({
        ...base,
        name: e.node.hostname,
        type: "AAAA",
        values: [{ address: e.ipv6 }],
        purpose: `HELO name of ${e.node.name}: egress IPv6 (forward-confirmed reverse DNS)`,
      });
  }

  // DKIM.
  if (options.dkim) {
    const key = checkDkimPublicKey(options.dkim.publicKey);
    const selector = options.dkim.selector ?? DEFAULT_DKIM_SELECTOR;
    if (key.ok)
      out.push({
        ...base,
        name: at(`${selector}._domainkey`),
        type: "TXT",
        values: [{ text: dkimRecordText(key.base64) }],
        purpose: `DKIM public key, selector ${selector} (the classic nodes sign with the private key)`,
      });
  }

  // DMARC and its external-report authorization.
  const dmarc = options.dmarc === false ? undefined : (options.dmarc ?? {});
  if (dmarc) {
    const tags = [`v=DMARC1`, `p=${dmarc.policy ?? DEFAULT_DMARC_POLICY}`];
    if (dmarc.subdomainPolicy !== undefined) tags.push(`sp=${dmarc.subdomainPolicy}`);
    if (dmarc.percent !== undefined) tags.push(`pct=${dmarc.percent}`);
    if (dmarc.rua !== undefined) tags.push(`rua=${mailtoUri(dmarc.rua)}`);
    out.push({
      ...base,
      name: at("_dmarc"),
      type: "TXT",
      values: [{ text: tags.join("; ") }],
      purpose: "DMARC policy",
    });
    const report = dmarc.rua !== undefined ? parseReportAddress(dmarc.rua) : undefined;
    if (report && !inZone(report.domain, zone) && !inZone(report.domain, domain)) {
      out.push({
        zone: report.domain,
        ttl,
        name: `${domain}._report._dmarc.${report.domain}`,
        type: "TXT",
        values: [{ text: "v=DMARC1" }],
        purpose: `authorizes ${report.domain} to receive ${domain}'s DMARC reports (RFC 7489 §7.1); published in ${report.domain}'s zone`,
      });
    }
  }

  // TLS-RPT.
  const tlsRua = options.tlsRpt === false ? undefined : (options.tlsRpt?.rua ?? (dmarc ? dmarc.rua : undefined));
  if (tlsRua !== undefined) {
    out.push({
      ...base,
      name: at("_smtp._tls"),
      type: "TXT",
      values: [{ text: `v=TLSRPTv1; rua=${mailtoUri(tlsRua)}` }],
      purpose: "TLS-RPT: where senders report TLS failures (RFC 8460)",
    });
  }

  // MTA-STS.
  if (options.mtaSts !== false) {
    const policy = mtaStsPolicyText([mailHost], options.mtaSts ?? {});
    out.push(
      {
        ...base,
        name: at("_mta-sts"),
        type: "TXT",
        values: [{ text: `v=STSv1; id=${mtaStsPolicyId(policy)}` }],
        purpose: "MTA-STS: policy id, changes with the policy (RFC 8461)",
      },
      {
        ...base,
        name: at("mta-sts"),
        type: "CNAME",
        values: [{ target: mailHost }],
        purpose: "MTA-STS policy host: the load balancer serves /.well-known/mta-sts.txt",
      },
    );
  }

  // CAA.
  if (options.caa) {
    out.push({
      ...base,
      name: domain,
      type: "CAA",
      values: [
        ...options.caa.issuers.map((value) => ({ flags: 0 as const, tag: "issue" as const, value })),
        ...(options.caa.iodef !== undefined
          ? [{ flags: 0 as const, tag: "iodef" as const, value: options.caa.iodef }]
          : []),
      ],
      purpose: "CAA: the CAs allowed to issue certificates for the domain",
    });
  }

  return sortRecords(out);
}
