/**
 * Firewall plan → Hetzner Cloud firewalls (pure).
 *
 * Hetzner's firewall filters only the PUBLIC interfaces, never the private network
 * (platforms.md §6). So only plan rules whose source is a CIDR become cloud-firewall rules; rules
 * from cluster groups or managed services are private-network traffic and are enforced in the
 * guest (nftables, `planAllowRules`). A machine without any firewall would be open to the world
 * on its public address, so every machine gets the `base` firewall (ICMP only; everything else is
 * implicitly denied), plus one firewall per plan group that has public rules and counts it as a
 * member. Firewalls are attached through `hcloud_server.firewall_ids`, so they apply from the
 * moment a server exists.
 */
import type { FirewallPlan } from "../platform";
import { hcloudCidr } from "./network";

export interface HcloudFirewallRuleSpec {
  readonly direction: "in";
  readonly protocol: "tcp" | "icmp";
  /** A port or range as text; absent for ICMP. */
  readonly port?: string;
  readonly sourceIps: readonly string[];
  readonly description: string;
}

export interface HcloudFirewallSpec {
  /** `base` or the plan group's name. */
  readonly name: string;
  readonly description: string;
  readonly rules: readonly HcloudFirewallRuleSpec[];
  /** Machine names, sorted. */
  readonly members: readonly string[];
}

/** IPv4 CIDRs before IPv6, each in text order: one canonical order whatever the plan's. */
function ipv4First(a: string, b: string): number {
  const v6 = (s: string) => (s.includes(":") ? 1 : 0);
  return v6(a) - v6(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Hetzner's limits (Cloud Firewalls FAQ). */
export const HCLOUD_MAX_FIREWALLS_PER_SERVER = 5;
export const HCLOUD_MAX_RULES_PER_FIREWALL = 500;

export const BASE_FIREWALL_RULES: readonly HcloudFirewallRuleSpec[] = [
  { direction: "in", protocol: "icmp", sourceIps: ["0.0.0.0/0", "::/0"], description: "ICMP (ping, path MTU)" },
];

/**
 * The cloud firewalls of a plan: `base` first (every machine in `machines`), then one per group
 * with at least one CIDR-sourced rule, in plan order.
 */
export function hcloudFirewalls(plan: FirewallPlan, machines: readonly string[]): HcloudFirewallSpec[] {
  const out: HcloudFirewallSpec[] = [
    {
      name: "base",
      description: "every node: ICMP only; all other public inbound traffic is denied",
      rules: BASE_FIREWALL_RULES,
      members: [...machines].sort(),
    },
  ];
  for (const group of plan.groups) {
    const merged = new Map<string, { port: number; description: string; sources: string[] }>();
    for (const rule of plan.rules) {
      if (!("group" in rule.target) || rule.target.group !== group.name || !("cidr" in rule.source)) continue;
      const description = rule.portKey ?? rule.key;
      const id = `${rule.port}/${description}`;
      const entry = merged.get(id) ?? { port: rule.port, description, sources: [] };
      const cidr = hcloudCidr(rule.source.cidr);
      if (!entry.sources.includes(cidr)) entry.sources.push(cidr);
      merged.set(id, entry);
    }
    if (merged.size === 0) continue;
    const rules = [...merged.values()]
      .sort((a, b) => a.port - b.port || (a.description < b.description ? -1 : 1))
      .map((r) => ({
        direction: "in" as const,
        protocol: "tcp" as const,
        port: String(r.port),
        sourceIps: [...r.sources].sort(ipv4First),
        description: r.description,
      }));
    out.push({
      name: group.name,
      description: group.description,
      rules,
      members: group.members.map((m) => m.name).sort(),
    });
  }
  return out;
}
