/**
 * Address arithmetic and name checks. Pure functions, no resolver, no I/O.
 */

/**
 * Parses dotted-quad IPv4 (no leading zeros, each part 0–255) to a 32-bit unsigned number.
 * A single pass over the characters: sort comparators call this for every comparison.
 */
export function parseIpv4(text: string): number | undefined {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return undefined;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      if ((digits === 1 && part === 0) || digits === 3) return undefined; // leading zero, > 3 digits
      part = part * 10 + (c - 0x30);
      digits++;
      if (part > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0) return undefined;
  return n * 256 + part;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export interface Ipv4Cidr {
  readonly text: string;
  /** Network address as a number. */
  readonly network: number;
  readonly prefix: number;
  /** Number of addresses, 2^(32-prefix). */
  readonly size: number;
}

/** Parses `a.b.c.d/n`; the address must be the network address (no host bits set). */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const addr = parseIpv4(m[1]!);
  const prefix = Number(m[2]);
  if (addr === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  if (addr % size !== 0) return undefined;
  return { text, network: addr, prefix, size };
}

export function cidrContains(cidr: Ipv4Cidr, addr: number): boolean {
  return addr >= cidr.network && addr < cidr.network + cidr.size;
}

/**
 * The fewest CIDR blocks (`a.b.c.d/n`, `/32` for a lone address) that hold exactly `addresses`
 * (dotted quads; duplicates and order do not matter), sorted by address: each run of consecutive
 * addresses split into the largest aligned blocks. Node addresses derived from node names are
 * numbered in sequence, so 250 mailbox nodes are a dozen blocks instead of 250 lines.
 * Throws on a malformed address (a bug: topology addresses are validated).
 */
export function ipv4CidrCover(addresses: readonly string[]): string[] {
  const values = [
    ...new Set(
      addresses.map((a) => {
        const v = parseIpv4(a);
        if (v === undefined) throw new Error(`ipv4CidrCover: not an IPv4 address: "${a}"`);
        return v;
      }),
    ),
  ].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    // the run values[i] .. values[j], as aligned blocks
    for (let start = values[i]!, end = values[j]!; start <= end;) {
      let size = 1;
      while (size < 2 ** 32 && start % (size * 2) === 0 && start + size * 2 - 1 <= end) size *= 2;
      out.push(`${formatIpv4(start)}/${32 - Math.log2(size)}`);
      start += size;
    }
    i = j + 1;
  }
  return out;
}

/** The IPv4-mapped IPv6 form gromox compares peers with: `::ffff:10.10.10.20`. */
export function mappedIpv6(ipv4: string): string {
  return `::ffff:${ipv4}`;
}

/**
 * Canonical RFC 5952 text of an IPv6 address (lower case, longest zero run compressed), which is
 * what `inet_ntop` prints and therefore what gromox's exact-match allow lists compare against.
 * Undefined when the text is not an IPv6 address. Embedded IPv4 (`::ffff:1.2.3.4`) is kept in
 * dotted form for the mapped prefix, as inet_ntop does.
 */
export function canonicalIpv6(text: string): string | undefined {
  const groups = expandIpv6(text);
  if (!groups) return undefined;
  const mapped = mappedIpv4Of(groups);
  if (mapped !== undefined) return mappedIpv6(formatIpv4(mapped));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(":");
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLen).join(":");
  return `${head}::${tail}`;
}

/** The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as 8 groups) carries, or undefined. */
function mappedIpv4Of(groups: readonly number[]): number | undefined {
  if (!(groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)) return undefined;
  return groups[6]! * 65536 + groups[7]!;
}

function expandIpv6(text: string): number[] | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || text.length > 45) return undefined;
  let words = text;
  const tailV4: number[] = [];
  const lastColon = words.lastIndexOf(":");
  if (words.includes(".")) {
    const v4 = parseIpv4(words.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tailV4.push(v4 >>> 16, v4 & 0xffff);
    words = words.slice(0, lastColon + 1) + "0:0";
  }
  const halves = words.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const a = parse(halves[0]!);
  const b = halves.length === 2 ? parse(halves[1]!) : [];
  if (!a || !b) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - a.length - b.length;
    if (missing < 1) return undefined;
    groups = [...a, ...new Array<number>(missing).fill(0), ...b];
  } else {
    groups = a;
  }
  if (groups.length !== 8) return undefined;
  if (tailV4.length) {
    groups[6] = tailV4[0]!;
    groups[7] = tailV4[1]!;
  }
  return groups;
}

/** IPv4 or IPv6 CIDR (`203.0.113.0/24`, `2001:db8::/32`) or a bare address (a /32 or /128). */
export function isCidrOrAddress(text: string): boolean {
  const [addr, prefix, extra] = text.split("/");
  if (extra !== undefined || addr === undefined) return false;
  if (parseIpv4(addr) !== undefined) {
    if (prefix === undefined) return true;
    return /^\d{1,2}$/.test(prefix) && Number(prefix) <= 32;
  }
  if (canonicalIpv6(addr) !== undefined) {
    if (prefix === undefined) return true;
    return /^\d{1,3}$/.test(prefix) && Number(prefix) <= 128;
  }
  return false;
}

/**
 * The IPv4 network an IPv4-mapped IPv6 address or CIDR (inside `::ffff:0:0/96`) stands for:
 * `::ffff:203.0.113.0/120` → `203.0.113.0/24`, `::ffff:198.51.100.7` → `198.51.100.7`. Undefined
 * for anything else, including a CIDR of /95 or shorter (it reaches beyond the mapped range).
 */
export function ipv4MappedAsIpv4(text: string): string | undefined {
  if (!isCidrOrAddress(text)) return undefined;
  const [addr, prefixText] = text.split("/") as [string, string | undefined];
  if (parseIpv4(addr) !== undefined) return undefined;
  const mapped = mappedIpv4Of(expandIpv6(addr)!);
  if (mapped === undefined) return undefined;
  const v4 = formatIpv4(mapped);
  if (prefixText === undefined) return v4;
  const prefix = Number(prefixText);
  return prefix < 96 ? undefined : `${v4}/${prefix - 96}`;
}

/**
 * The problem with an allow-list entry written as an IPv4-mapped IPv6 address or network, and its
 * fix, or undefined. Firewalls see an IPv4 client as IPv4 (nftables' `ip` family, a security
 * group's IPv4 rules), so such an entry never admits anyone, and the AWS provider refuses it.
 * The fix names the IPv4 form: the address, or the network; with host bits set, both readings
 * (`::ffff:192.0.2.7/120` → the network `192.0.2.0/24` or the single host `192.0.2.7/32`).
 */
export function ipv4MappedEntryProblem(text: string): { message: string; fix: string } | undefined {
  const v4 = ipv4MappedAsIpv4(text);
  if (v4 === undefined) return undefined;
  const readings = hostBitsReadings(v4);
  return {
    message: `"${text}" is an IPv4-mapped IPv6 address: firewalls see IPv4 clients as IPv4, so it admits no one (and AWS refuses it).`,
    fix: readings
      ? `Write it as IPv4: the network ${readings.network}, or the single host ${readings.host}.`
      : `Write it as IPv4: ${v4.includes("/") ? canonicalCidr(v4)! : v4}.`,
  };
}

/**
 * The two things a CIDR with host bits set (`10.1.2.3/8`) may have meant: its network
 * (`10.0.0.0/8`) and the single host (`10.1.2.3/32`), both canonical; undefined for an entry
 * without host bits, a bare address, or one that is no address or CIDR.
 */
export function hostBitsReadings(text: string): { network: string; host: string } | undefined {
  if (!isCidrOrAddress(text) || !text.includes("/")) return undefined;
  const network = canonicalCidr(text)!;
  const host = canonicalCidr(text.split("/")[0]!)!;
  return network.split("/")[0] === host.split("/")[0] ? undefined : { network, host };
}

/**
 * The problem with an allow-list entry or firewall source whose CIDR has host bits set
 * (`10.1.2.3/8`), and its fix naming both readings, or undefined. Such an entry is refused, not
 * quietly read as its network: `10.1.2.3/8` meant for one host would open all of 10.0.0.0/8. The
 * AWS provider and the Hetzner one refuse it too ("is not the start of the cidr block").
 */
export function hostBitsProblem(text: string): { message: string; fix: string } | undefined {
  const readings = hostBitsReadings(text);
  if (readings === undefined) return undefined;
  return {
    message: `"${text}" has host bits set: it is not the start of a network, and read as one it would open all of ${readings.network}.`,
    fix: `Write the network, ${readings.network}, or the single host, ${readings.host}.`,
  };
}

/**
 * The problem with an allow-list entry that is an address or CIDR (`isCidrOrAddress`), or
 * undefined when firewalls take it: an IPv4-mapped IPv6 entry (`ipv4MappedEntryProblem`) or host
 * bits set (`hostBitsProblem`).
 */
export function allowEntryProblem(text: string): { message: string; fix: string } | undefined {
  return ipv4MappedEntryProblem(text) ?? hostBitsProblem(text);
}

/**
 * The problem with a firewall source written as an address or CIDR (a user's `Peer.cidr(...)`),
 * and its fix, or undefined when firewalls take it (`canonicalCidr` then gives the one spelling
 * they keep): not an address or CIDR at all, a prefix longer than the address (`10.0.0.0/33`),
 * an IPv4-mapped IPv6 one (`ipv4MappedEntryProblem`), or host bits set (`hostBitsProblem`), as in
 * the allow lists (`allowEntryProblem`).
 */
export function addressEntryProblem(text: string): { message: string; fix: string } | undefined {
  if (isCidrOrAddress(text)) return allowEntryProblem(text);
  const [addr, prefix, extra] = text.split("/");
  if (extra === undefined && addr !== undefined && prefix !== undefined && /^\d{1,9}$/.test(prefix)) {
    const bits = parseIpv4(addr) !== undefined ? 32 : canonicalIpv6(addr) !== undefined ? 128 : undefined;
    if (bits !== undefined && Number(prefix) > bits) {
      const family = bits === 32 ? "IPv4" : "IPv6";
      return {
        message: `"${text}" has a prefix longer than an ${family} address (/${bits} at most).`,
        fix: `Give a prefix from 0 to ${bits}: ${canonicalCidr(addr)!} is the address alone.`,
      };
    }
  }
  return {
    message: `"${text}" is not an IPv4 or IPv6 address or CIDR.`,
    fix: 'Use forms like 198.51.100.0/24, 198.51.100.7 (a /32) or 2001:db8::/48; cluster nodes as Peer.group("…").',
  };
}

/**
 * The network an address or CIDR (`isCidrOrAddress`) stands for, in the one spelling cloud
 * firewall APIs accept (the AWS provider refuses anything else at plan): the network address
 * (host bits cleared), an explicit prefix (a bare address is a /32 or /128) in plain decimal, and
 * IPv6 in RFC 5952 form. `203.0.113.7/24` → `203.0.113.0/24`, `198.51.100.7` → `198.51.100.7/32`,
 * `2001:DB8:0:0::1` → `2001:db8::1/128`, `10.0.0.0/08` → `10.0.0.0/8`. Undefined when not an
 * address or CIDR.
 */
export function canonicalCidr(text: string): string | undefined {
  if (!isCidrOrAddress(text)) return undefined;
  const [addr, prefixText] = text.split("/") as [string, string | undefined];
  const v4 = parseIpv4(addr);
  if (v4 !== undefined) {
    const prefix = prefixText === undefined ? 32 : Number(prefixText);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return `${formatIpv4((v4 & mask) >>> 0)}/${prefix}`;
  }
  const groups = expandIpv6(addr)!;
  const prefix = prefixText === undefined ? 128 : Number(prefixText);
  const network = groups.map((g, i) => {
    const bits = Math.min(16, Math.max(0, prefix - 16 * i));
    return bits === 0 ? 0 : g & ((0xffff << (16 - bits)) & 0xffff);
  });
  return `${canonicalIpv6(network.map((g) => g.toString(16)).join(":"))!}/${prefix}`;
}

/**
 * True for `0.0.0.0/0` and `::/0` and their equivalents: the whole internet. A zero-length prefix
 * covers every address whatever its address part (`10.0.0.0/0`, `2001:db8::/0`, `0.0.0.0/00`).
 */
export function isWorld(cidr: string): boolean {
  const prefix = cidr.split("/")[1];
  return isCidrOrAddress(cidr) && prefix !== undefined && Number(prefix) === 0;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A DNS label: lower-case letters, digits, hyphens, 1–63 chars, no leading/trailing hyphen. */
export function isDnsLabel(text: string): boolean {
  return LABEL.test(text);
}

/**
 * A fully qualified host or domain name: at least two labels, lower case, ≤ 253 chars, the last
 * label not all digits.
 */
export function isFqdn(text: string): boolean {
  if (text.length > 253) return false;
  const labels = text.split(".");
  if (labels.length < 2 || !labels.every(isDnsLabel)) return false;
  return !/^\d+$/.test(labels[labels.length - 1]!);
}
