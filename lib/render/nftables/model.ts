/**
 * A typed subset of the nftables language, enough for a host input firewall. Built by
 * `nodeFirewall` and written by the one serializer `serializeNftables`.
 */

/** One rule. Matches are emitted in a fixed order (the order of the fields below). */
export interface NftRule {
  /** `iifname "<name>"`. */
  readonly iifname?: string;
  /** `ct state { … }`, e.g. `["established", "related"]`. */
  readonly ctState?: readonly ("established" | "related" | "invalid" | "new" | "untracked")[];
  /** `fib saddr . iif oif missing`: the source is not routed back through the arrival interface. */
  readonly reversePathMissing?: boolean;
  /** `meta l4proto <p>` (for ICMP; TCP/UDP use `protocol`). */
  readonly l4proto?: "icmp" | "ipv6-icmp";
  /** `ip saddr { … }` (IPv4 addresses or CIDRs). */
  readonly ipSaddr?: readonly string[];
  /** `ip6 saddr { … }` (IPv6 addresses or CIDRs). */
  readonly ip6Saddr?: readonly string[];
  readonly protocol?: "tcp" | "udp";
  /** `<protocol> sport <n>`. */
  readonly sport?: number;
  /** `<protocol> dport <n>` or `{ n, m }`. */
  readonly dport?: readonly number[];
  readonly verdict: "accept" | "drop";
  /** `comment "…"` (no double quotes inside). */
  readonly comment?: string;
}

export interface NftChain {
  readonly name: string;
  readonly hook: "input" | "forward" | "output" | "prerouting";
  readonly priority: number;
  readonly policy: "accept" | "drop";
  readonly rules: readonly NftRule[];
}

/** One table, replaced atomically on every load (other tables are left alone). */
export interface NftTable {
  readonly family: "inet";
  readonly name: string;
  readonly chains: readonly NftChain[];
}

export interface NftRuleset {
  /** Comment lines at the top of the file. */
  readonly header: readonly string[];
  readonly tables: readonly NftTable[];
}
