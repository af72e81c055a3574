/**
 * Least privilege by construction: the exposure check of the FINAL firewall plan (the rules the
 * port table generates plus every rule users add through `connections(...).allowFrom`) and of the
 * cloud load balancer's listeners. It runs in the cluster, on the platform-neutral plan, before any
 * platform turns the plan into security groups, cloud firewalls or nftables, so every platform
 * inherits it. Pure: no cdktf.
 *
 * Refused (each a coded issue, collected with every other validation error):
 * - GRX450: an internal port is reachable from outside the cluster network. Internal = a port whose
 *   entry in the port table has exposure `cluster` or `local` and whose server runs on the rule's
 *   target (exmdb 5000, midb 5555, timer 6666, event 33333, delivery-queue 24, MariaDB 3306, relay
 *   10025, gromox-http 10080/10443, NFS 2049, rspamd 11332, and postfix/imap/pop3/admin-web on the
 *   nodes behind the load balancer), or any port number that only internal entries use. Outside =
 *   an IPv4 CIDR or address not inside the cluster network, any IPv6 range (the cluster network is
 *   IPv4), or a world range.
 * - GRX451: the admin port (8443) is open to the world (an allow rule or a cloud listener from
 *   0.0.0.0/0 or ::/0, e.g. `adminAllowFrom: ["0.0.0.0/0"]`).
 * - GRX452: SSH (22) is open to the world without the explicit opt-in `allowWorldSsh: true`.
 */
import { connectionsField, targetName } from "./firewall";
import type { CloudLoadBalancerListener, FirewallPlan, FirewallRule, ManagedService } from "../platforms/platform";
import { Exposure, PORTS, PortKey, PortSpec, Topology, ValidationIssue, isWorld, parseIpv4 } from "../topology";

/** Port numbers that only internal (`cluster` or `local`) entries of the port table use. */
export const INTERNAL_PORT_NUMBERS: ReadonlySet<number> = new Set(
  Object.values(PORTS as Record<string, PortSpec>)
    .filter((p) => p.exposure === "cluster" || p.exposure === "local")
    .map((p) => p.port)
    .filter((port) =>
      Object.values(PORTS as Record<string, PortSpec>).every(
        (q) => q.port !== port || q.exposure === "cluster" || q.exposure === "local",
      ),
    ),
);

/** The admin frontend's port (`PORTS.publicAdmin`). */
export const ADMIN_PORT = PORTS.publicAdmin.port;
/** SSH (`PORTS.ssh`). */
export const SSH_PORT = PORTS.ssh.port;

export interface ExposureCheckOptions {
  /** The cluster's construct path (issue paths). */
  readonly clusterPath: string;
  /** `allowWorldSsh`: SSH from 0.0.0.0/0 or ::/0 was asked for deliberately. */
  readonly allowWorldSsh: boolean;
  /**
   * Rules users added through `connections(...)`, as `<target>/<rule key>` (see `ruleId`); the
   * others come from the port table and the cluster props (`sshAllowFrom`, `adminAllowFrom`).
   */
  readonly userRules?: ReadonlySet<string>;
  /** The cloud load balancer's listeners, when the tier has one. */
  readonly cloudListeners?: readonly CloudLoadBalancerListener[];
  /** Construct path of the load-balancer tier (issues about `adminAllowFrom`). */
  readonly loadBalancerPath?: string;
}

/** `<target>/<rule key>`: how a rule is named in `userRules` and in issue paths. */
export function ruleId(rule: Pick<FirewallRule, "target" | "key">): string {
  return `${targetName(rule.target)}/${rule.key}`;
}

/** What a managed service serves (firewall targets that are not node groups). */
const SERVICE_SERVERS: Readonly<Record<ManagedService, readonly PortKey[]>> = {
  database: ["mysql"],
  "shared-storage": ["nfs"],
  "load-balancer": (Object.keys(PORTS) as PortKey[]).filter((k) => PORTS[k].server === "load-balancer"),
};

/** The port-table entries a rule's target serves on the rule's port. */
export function servedEntries(topology: Topology, plan: FirewallPlan, rule: FirewallRule): PortKey[] {
  const keys = (Object.keys(PORTS) as PortKey[]).filter((k) => PORTS[k].port === rule.port);
  if ("service" in rule.target) {
    const served = SERVICE_SERVERS[rule.target.service];
    return keys.filter((k) => served.includes(k));
  }
  const group = rule.target.group;
  const members = new Set((plan.groups.find((g) => g.name === group)?.members ?? []).map((m) => m.name));
  const nodes = topology.nodes.filter((n) => members.has(n.name));
  return keys.filter((k) => nodes.some((n) => n.runs(PORTS[k].server)));
}

const isInternal = (e: Exposure) => e === "cluster" || e === "local";

/**
 * Whether `cidr` (an IPv4/IPv6 CIDR or bare address, host bits allowed) lies entirely inside the
 * cluster network. IPv6 ranges never do: the cluster network is IPv4.
 */
export function insideClusterNetwork(topology: Topology, cidr: string): boolean {
  const [addr, prefixText, extra] = cidr.split("/");
  if (extra !== undefined || addr === undefined) return false;
  const ip = parseIpv4(addr);
  if (ip === undefined) return false;
  const prefix = prefixText === undefined ? 32 : /^\d{1,2}$/.test(prefixText) ? Number(prefixText) : -1;
  if (prefix < 0 || prefix > 32) return false;
  const net = topology.network;
  if (prefix < net.prefix) return false;
  const size = 2 ** (32 - prefix);
  const start = ip - (ip % size);
  return start >= net.network && start + size <= net.network + net.size;
}

/** A world range (0.0.0.0/0, ::/0 and every other zero-length prefix). */
const world = isWorld;

function describe(keys: readonly PortKey[], port: number): string {
  const names = keys.map((k) => `${k}: ${PORTS[k].description}`);
  return names.length ? `port ${port} (${names.join("; ")})` : `port ${port}`;
}

/**
 * Every exposure problem of a final firewall plan (and the cloud load balancer's listeners):
 * GRX450 internal ports reachable from outside the cluster, GRX451 the admin port open to the
 * world, GRX452 SSH open to the world without `allowWorldSsh`. One issue per offending rule.
 */
export function checkExposure(
  topology: Topology,
  plan: FirewallPlan,
  options: ExposureCheckOptions,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const net = topology.network.text;
  const userRules = options.userRules ?? new Set<string>();
  for (const rule of plan.rules) {
    if (!("cidr" in rule.source)) continue; // groups and managed services are inside the cluster
    const cidr = rule.source.cidr;
    const id = ruleId(rule);
    const byUser = userRules.has(id);
    const target = targetName(rule.target);
    const via = connectionsField(rule.target);
    const path = `${options.clusterPath}/firewall/${id}`;
    const isWorldRange = world(cidr);
    if (rule.port === SSH_PORT && isWorldRange && !options.allowWorldSsh) {
      issues.push({
        code: "GRX452",
        path,
        field: byUser ? via : "sshAllowFrom",
        message: `rule "${rule.key}" opens SSH (port ${SSH_PORT}) on ${target} to ${cidr}, the whole internet, and allowWorldSsh is not set.`,
        fix: "List your operators' networks in sshAllowFrom (e.g. 198.51.100.0/24), or set allowWorldSsh: true to accept SSH from anywhere deliberately (key-only logins).",
      });
      continue;
    }
    const served = servedEntries(topology, plan, rule);
    if (rule.port === ADMIN_PORT && isWorldRange) {
      issues.push({
        code: "GRX451",
        path,
        field: byUser ? via : "loadBalancer.adminAllowFrom",
        message: `rule "${rule.key}" opens the admin ${describe(served, rule.port)} on ${target} to ${cidr}, the whole internet.`,
        fix: 'Allow the admin port only from your administrators\' networks (adminAllowFrom: ["203.0.113.0/24"]), never from 0.0.0.0/0 or ::/0.',
      });
      continue;
    }
    const internalEntries = served.filter((k) => isInternal(PORTS[k].exposure));
    const internal =
      internalEntries.length > 0 ||
      INTERNAL_PORT_NUMBERS.has(rule.port) ||
      (rule.portKey !== undefined && isInternal(PORTS[rule.portKey].exposure));
    if (internal && !insideClusterNetwork(topology, cidr)) {
      const keys = internalEntries.length ? internalEntries : served;
      issues.push({
        code: "GRX450",
        path,
        field: byUser ? via : "firewall",
        message: `rule "${rule.key}" makes the internal ${describe(keys, rule.port)} on ${target} reachable from ${cidr}, ${isWorldRange ? "the whole internet" : `which is outside the cluster network ${net}`}.`,
        fix: `Open internal ports only to cluster groups (Peer.group("…")) or to addresses inside ${net}; reach internal services through the load-balancer tier, an SSH tunnel or a VPN.`,
      });
    }
  }
  for (const l of options.cloudListeners ?? []) {
    const exposure = PORTS[l.portKey].exposure;
    for (const cidr of l.allowFrom) {
      const path = options.loadBalancerPath ?? options.clusterPath;
      if (l.port === ADMIN_PORT && world(cidr)) {
        issues.push({
          code: "GRX451",
          path,
          field: "adminAllowFrom",
          message: `the cloud load balancer's listener ${l.portKey} (port ${l.port}) would accept ${cidr}, the whole internet.`,
          fix: 'Allow the admin port only from your administrators\' networks (adminAllowFrom: ["203.0.113.0/24"]), never from 0.0.0.0/0 or ::/0.',
        });
      } else if (isInternal(exposure) && !insideClusterNetwork(topology, cidr)) {
        issues.push({
          code: "GRX450",
          path,
          field: "cloudLoadBalancer",
          message: `the cloud load balancer's listener ${l.portKey} would make the internal port ${l.port} reachable from ${cidr}.`,
          fix: "Give the cloud load balancer only the public and admin frontends of the port table.",
        });
      }
    }
  }
  return issues;
}

/**
 * Allow rules nothing would enforce (GRX461): `hostFirewall: false` on a platform without a
 * firewall of its own (`capabilities.firewall.cloud` false: libvirt, vSphere, Docker). Every rule
 * from a CIDR narrower than the whole internet (`sshAllowFrom`, a user's `Peer.cidr(...)`) would
 * then stand for "from everyone who reaches the node", silently. The load-balancer frontends are
 * left out: HAProxy and nginx enforce the admin allow list themselves, the others face the world.
 */
export function unenforcedRuleIssues(plan: FirewallPlan, clusterPath: string, platform: string): ValidationIssue[] {
  const rules = plan.rules.filter(
    (r) =>
      "cidr" in r.source &&
      !isWorld(r.source.cidr) &&
      !(r.portKey !== undefined && PORTS[r.portKey].server === "load-balancer"),
  );
  if (rules.length === 0) return [];
  const list = [...new Set(rules.map((r) => `${r.port} from ${"cidr" in r.source ? r.source.cidr : ""}`))].sort();
  return [
    {
      code: "GRX461",
      path: clusterPath,
      field: "hostFirewall",
      message: `hostFirewall is false and ${platform} has no firewall of its own, so nothing would restrict ${list.join(", ")} to those sources: every machine that reaches a node would reach these ports (and every internal one).`,
      fix: "Keep hostFirewall (the default), or drop sshAllowFrom and the Peer.cidr rules and filter in front of the nodes yourself.",
    },
  ];
}
