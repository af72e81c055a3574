/**
 * The one nftables serializer. Output is a file for `nft -f`: each table is declared, deleted and
 * re-declared, so loading it again (boot, `systemctl reload nftables`, a re-run of cloud-init)
 * replaces exactly our tables atomically and never touches rules other software added.
 */
import { canonicalIpv6, parseIpv4 } from "../../topology";
import { NftChain, NftRule, NftRuleset, NftTable } from "./model";

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const IFNAME = /^[A-Za-z0-9_.:-]{1,15}$/;
const ADDRESS = /^[0-9A-Fa-f:.]+(\/\d{1,3})?$/;

export function serializeNftables(ruleset: NftRuleset): string {
  const lines: string[] = ["#!/usr/sbin/nft -f"];
  for (const h of ruleset.header) lines.push(h === "" ? "#" : `# ${oneLine(h)}`);
  for (const t of ruleset.tables) lines.push("", ...table(t));
  return lines.join("\n") + "\n";
}

function table(t: NftTable): string[] {
  name(t.name);
  const out = [`table ${t.family} ${t.name}`, `delete table ${t.family} ${t.name}`, `table ${t.family} ${t.name} {`];
  t.chains.forEach((c, i) => {
    if (i > 0) out.push("");
    out.push(...chain(c).map((l) => `\t${l}`));
  });
  out.push("}");
  return out;
}

function chain(c: NftChain): string[] {
  name(c.name);
  if (!Number.isInteger(c.priority)) throw new Error(`nftables: chain ${c.name} priority must be an integer`);
  return [
    `chain ${c.name} {`,
    `\ttype filter hook ${c.hook} priority ${c.priority}; policy ${c.policy};`,
    ...c.rules.map((r) => `\t${rule(r)}`),
    "}",
  ];
}

/** One rule on one line; matches in a fixed order. */
export function rule(r: NftRule): string {
  const parts: string[] = [];
  if (r.iifname !== undefined) {
    if (!IFNAME.test(r.iifname)) throw new Error(`nftables: bad interface name "${r.iifname}"`);
    parts.push(`iifname "${r.iifname}"`);
  }
  if (r.ctState?.length) parts.push(`ct state ${set(r.ctState)}`);
  if (r.reversePathMissing) parts.push("fib saddr . iif oif missing");
  if (r.l4proto) parts.push(`meta l4proto ${r.l4proto}`);
  if (r.ipSaddr) parts.push(`ip saddr ${set(ipv4Ranges(addresses(r.ipSaddr)))}`);
  if (r.ip6Saddr) parts.push(`ip6 saddr ${set(addresses(r.ip6Saddr))}`);
  if (r.protocol) {
    if (r.sport !== undefined) parts.push(`${r.protocol} sport ${port(r.sport)}`);
    if (r.dport?.length) parts.push(`${r.protocol} dport ${set(r.dport.map(port))}`);
  } else if (r.sport !== undefined || r.dport?.length) {
    throw new Error("nftables: a port match needs a protocol");
  }
  parts.push(r.verdict);
  if (r.comment !== undefined) parts.push(`comment "${oneLine(r.comment).replace(/"/g, "'")}"`);
  return parts.join(" ");
}

/** A single element stays bare; several become an anonymous set `{ a, b }`. */
function set(items: readonly (string | number)[]): string {
  if (items.length === 0) throw new Error("nftables: empty set in a match");
  return items.length === 1 ? String(items[0]) : `{ ${items.join(", ")} }`;
}

function addresses(list: readonly string[]): string[] {
  return list.map(nftAddress);
}

/**
 * An address or CIDR as nft's parser reads it, the same network: a prefix length in plain
 * decimal (nft refuses `10.0.0.0/08`, which validation admits as /8), an IPv6 address in RFC 5952
 * form (nft's parser refuses a dotted IPv4 tail after more than `::ffff:`, e.g.
 * `0:0:0:0:0:ffff:1.2.3.4` or `64:ff9b::1.2.3.4`). Canonical input is written unchanged.
 */
function nftAddress(a: string): string {
  if (!ADDRESS.test(a)) throw new Error(`nftables: "${a}" is not an address or CIDR`);
  const [addr, prefix] = a.split("/") as [string, string | undefined];
  const host = parseIpv4(addr) !== undefined ? addr : canonicalIpv6(addr);
  if (host === undefined) throw new Error(`nftables: "${a}" is not an address or CIDR`);
  return prefix === undefined ? host : `${host}/${Number(prefix)}`;
}

/**
 * Runs of at least `MIN_RUN` consecutive IPv4 addresses as one range `a-b` (the same addresses:
 * nft makes an anonymous set with ranges an interval set), so a node's rules stay small when the
 * cluster's addresses are numbered in sequence (addresses derived from node names); everything
 * else (CIDRs, isolated addresses) unchanged and in place of the first address of its run.
 */
const MIN_RUN = 3;

function ipv4Ranges(list: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length;) {
    const v = parseIpv4(list[i]!);
    let j = i + 1;
    if (v !== undefined) while (j < list.length && parseIpv4(list[j]!) === v + (j - i)) j++;
    out.push(j - i >= MIN_RUN ? `${list[i]}-${list[j - 1]}` : list[i]!);
    if (j - i < MIN_RUN) j = i + 1;
    i = j;
  }
  return out;
}

function port(p: number): string {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`nftables: bad port ${p}`);
  return String(p);
}

function name(n: string): void {
  if (!NAME.test(n)) throw new Error(`nftables: bad table/chain name "${n}"`);
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, " ");
}
