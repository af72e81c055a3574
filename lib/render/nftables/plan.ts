/**
 * A node's host-firewall allow rules from the cluster's `FirewallPlan` (the same plan the
 * provider firewalls are built from), so the in-guest and the cloud layer can never disagree.
 */
import type { FirewallPlan, FirewallRule, ManagedService } from "../../platforms/platform";
import { parseIpv4 } from "../../topology";
import { HostAllowRule } from "./firewall";

/** IPv4 addresses/CIDRs first, numerically; then everything else (IPv6) as text. */
function canonicalOrder(a: { s: string; v: number | undefined }, b: { s: string; v: number | undefined }): number {
  const va = a.v;
  const vb = b.v;
  if (va !== undefined && vb !== undefined) return va - vb || (a.s < b.s ? -1 : a.s > b.s ? 1 : 0);
  if (va !== undefined) return -1;
  if (vb !== undefined) return 1;
  return a.s < b.s ? -1 : a.s > b.s ? 1 : 0;
}

/** Sorts sources in canonical order, parsing each address once (not once per comparison). */
function canonicalSort(sources: readonly string[]): string[] {
  return sources
    .map((s) => ({ s, v: parseIpv4(s.split("/")[0] ?? "") }))
    .sort(canonicalOrder)
    .map((e) => e.s);
}

/**
 * Private addresses a managed service connects from (e.g. a cloud load balancer's address on the
 * cluster network). `undefined` or empty: rules from that service are left out.
 */
export type ServiceAddresses = (service: ManagedService) => readonly string[] | undefined;

function sourcesOf(rule: FirewallRule, plan: FirewallPlan, services: ServiceAddresses): "any" | string[] {
  const s = rule.source;
  if ("cidr" in s) return [s.cidr];
  if ("group" in s) return (plan.groups.find((g) => g.name === s.group)?.members ?? []).map((m) => m.ipv4);
  return [...(services(s.service) ?? [])];
}

/**
 * The allow rules of machine `name`: every plan rule whose target group has it as a member,
 * merged per port-table key (or rule key) and port; sources without duplicates, IPv4 first in
 * numeric order (as `clientsOf` sorts nodes), then IPv6.
 * Rules that target a managed service are not about hosts and are skipped. Pure.
 */
export function planAllowRules(
  plan: FirewallPlan,
  name: string,
  services: ServiceAddresses = () => undefined,
): HostAllowRule[] {
  const mine = new Set(plan.groups.filter((g) => g.members.some((m) => m.name === name)).map((g) => g.name));
  const merged = new Map<string, { port: number; protocol: "tcp"; comment: string; from: "any" | string[] }>();
  for (const rule of plan.rules) {
    if (!("group" in rule.target) || !mine.has(rule.target.group)) continue;
    const comment = rule.portKey ?? rule.key;
    const id = `${comment}/${rule.port}/${rule.protocol}`;
    const from = sourcesOf(rule, plan, services);
    const prev = merged.get(id);
    if (!prev) merged.set(id, { port: rule.port, protocol: rule.protocol, comment, from });
    else if (prev.from !== "any") prev.from = from === "any" ? "any" : [...new Set([...prev.from, ...from])];
  }
  return [...merged.values()]
    .map((r) => (r.from === "any" ? r : { ...r, from: canonicalSort(r.from) }))
    .filter((r) => r.from === "any" || r.from.length > 0)
    .sort((a, b) => a.port - b.port || (a.comment < b.comment ? -1 : a.comment > b.comment ? 1 : 0));
}
