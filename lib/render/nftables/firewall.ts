/**
 * The in-guest host firewall of one node. Platform-neutral: Hetzner needs it because its cloud
 * firewall never filters the private network; libvirt and vSphere because they have no firewall
 * resource at all (platforms.md §6); on AWS it is a second layer behind the security groups.
 *
 * Policy: input drops by default; accepted are loopback, replies (`ct state established,related`),
 * ICMP/ICMPv6, DHCP replies, and the node's allow rules. Forwarding is dropped (nodes do not
 * route); output is left open.
 *
 * The allow rules come either from the port table and the node graph (`topologyAllowRules`) or
 * from the cluster's firewall plan (`planAllowRules`, ./plan.ts): both give, per port the node
 * listens on,
 * - `cluster` ports only from the private IPv4 address of each node in `clientsOf(port)`;
 * - `public` ports from anywhere (load-balancer frontends);
 * - `admin` ports only from the load balancer's `adminAllowFrom`;
 * - `operator` ports (SSH) only from the operator's SSH allow list;
 * - `local` ports never (loopback only).
 */
import { ClusterNode, PORTS, PortKey, Topology, isWorld, listeningPorts, parseIpv4 } from "../../topology";
import { ConfigFile } from "../types";
import { NftRule, NftRuleset } from "./model";
import { serializeNftables } from "./serialize";

/** One inbound allow rule of a host, before it becomes nftables rules. */
export interface HostAllowRule {
  readonly port: number;
  readonly protocol: "tcp" | "udp";
  /** `"any"`, or addresses/CIDRs (IPv4 and IPv6 may be mixed; a world CIDR means any). */
  readonly from: "any" | readonly string[];
  /** Shown as the rule's comment: the port-table key, e.g. `exmdb`. */
  readonly comment: string;
}

export interface HostFirewallOptions {
  /**
   * Drop packets whose source address would not be routed back through the interface they
   * arrived on (`fib saddr . iif oif missing`), so a private cluster address forged on the public
   * interface cannot pass the rules that match on source address.
   * @default true
   */
  readonly reversePathFilter?: boolean;
  /**
   * Name of the nftables table (replaced as a whole on every load; other tables are untouched).
   * @default "grommunio"
   */
  readonly tableName?: string;
  /**
   * Where the file is written; Debian's nftables.service loads `/etc/nftables.conf` at boot.
   * @default "/etc/nftables.conf"
   */
  readonly path?: string;
}

export interface NodeFirewallOptions extends HostFirewallOptions {
  /**
   * Addresses or CIDRs (IPv4 or IPv6) allowed to reach SSH.
   * @default [] — no SSH rule: the node is reachable only through the provider's console
   */
  readonly sshAllowFrom?: readonly string[];
}

export const NFTABLES_CONF = "/etc/nftables.conf";

/** Splits addresses/CIDRs into IPv4 and IPv6, keeping order, dropping duplicates. */
function byFamily(list: readonly string[]): { v4: string[]; v6: string[] } {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const a of new Set(list)) (parseIpv4(a.split("/")[0] ?? "") !== undefined ? v4 : v6).push(a);
  return { v4, v6 };
}

/** nftables rules of one allow rule: one per address family (none when `from` is empty). */
export function allowRuleToNft(r: HostAllowRule): NftRule[] {
  const base = { protocol: r.protocol, dport: [r.port], verdict: "accept" as const, comment: r.comment };
  if (r.from === "any" || r.from.some(isWorld)) return [base];
  const { v4, v6 } = byFamily(r.from);
  return [...(v4.length ? [{ ...base, ipSaddr: v4 }] : []), ...(v6.length ? [{ ...base, ip6Saddr: v6 }] : [])];
}

/** Port keys the node listens on, ordered by port number then key. */
function orderedPorts(node: ClusterNode): PortKey[] {
  return listeningPorts(node).sort((a, b) => PORTS[a].port - PORTS[b].port || (a < b ? -1 : a > b ? 1 : 0));
}

/** The node's allow rules from the port table and the node graph. Pure. */
export function topologyAllowRules(
  topology: Topology,
  node: ClusterNode,
  options: { readonly sshAllowFrom?: readonly string[] } = {},
): HostAllowRule[] {
  const rules: HostAllowRule[] = [];
  for (const key of orderedPorts(node)) {
    const spec = PORTS[key];
    const base = { port: spec.port, protocol: spec.protocol, comment: key };
    switch (spec.exposure) {
      case "cluster":
        rules.push({ ...base, from: topology.clientsOf(key).map((n) => n.ipv4) });
        break;
      case "public":
        rules.push({ ...base, from: "any" });
        break;
      case "admin":
        rules.push({ ...base, from: topology.loadBalancer?.adminAllowFrom ?? [] });
        break;
      case "operator":
        rules.push({ ...base, from: options.sshAllowFrom ?? [] });
        break;
      case "local":
        break;
    }
  }
  return rules;
}

/** The accept rules for the node's own ports (without the base rules). Pure. */
export function portRules(topology: Topology, node: ClusterNode, options: NodeFirewallOptions = {}): NftRule[] {
  return topologyAllowRules(topology, node, options).flatMap(allowRuleToNft);
}

/** A host's whole typed ruleset from its allow rules. Pure and deterministic. */
export function hostFirewall(
  host: { readonly hostname: string; readonly ipv4: string },
  allow: readonly HostAllowRule[],
  options: HostFirewallOptions = {},
): NftRuleset {
  const input: NftRule[] = [
    { iifname: "lo", verdict: "accept" },
    { ctState: ["invalid"], verdict: "drop" },
    { ctState: ["established", "related"], verdict: "accept" },
    ...(options.reversePathFilter === false
      ? []
      : [{ reversePathMissing: true, verdict: "drop" as const, comment: "source not routed via this interface" }]),
    { l4proto: "icmp", verdict: "accept" },
    { l4proto: "ipv6-icmp", verdict: "accept" },
    { protocol: "udp", sport: 67, dport: [68], verdict: "accept", comment: "DHCPv4 replies" },
    { protocol: "udp", sport: 547, dport: [546], verdict: "accept", comment: "DHCPv6 replies" },
    ...allow.flatMap(allowRuleToNft),
  ];
  return {
    header: [
      `Host firewall of ${host.hostname} (${host.ipv4}), generated by cdktf-grommunio from the port table.`,
      "Do not edit: changes are replaced on the next deploy.",
    ],
    tables: [
      {
        family: "inet",
        name: options.tableName ?? "grommunio",
        chains: [
          { name: "input", hook: "input", priority: 0, policy: "drop", rules: input },
          { name: "forward", hook: "forward", priority: 0, policy: "drop", rules: [] },
        ],
      },
    ],
  };
}

/** `/etc/nftables.conf` of a host from its allow rules. */
export function renderHostFirewall(
  host: { readonly hostname: string; readonly ipv4: string },
  allow: readonly HostAllowRule[],
  options: HostFirewallOptions = {},
): ConfigFile {
  return {
    path: options.path ?? NFTABLES_CONF,
    content: serializeNftables(hostFirewall(host, allow, options)),
    mode: "0755",
    owner: "root:root",
  };
}

/** The node's typed ruleset from the port table and the node graph. */
export function nodeFirewall(topology: Topology, node: ClusterNode, options: NodeFirewallOptions = {}): NftRuleset {
  return hostFirewall(node, topologyAllowRules(topology, node, options), options);
}

/** `/etc/nftables.conf` of a node from the port table and the node graph. */
export function renderNftables(topology: Topology, node: ClusterNode, options: NodeFirewallOptions = {}): ConfigFile {
  return renderHostFirewall(node, topologyAllowRules(topology, node, options), options);
}
