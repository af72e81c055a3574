/**
 * The cluster's firewall as data: groups of machines and allow rules, generated from THE port
 * table (`PORTS`) and the node graph through one connections-style API (`Connections.allowFrom`),
 * which users may also call for extra rules. Platforms turn the plan into security groups, cloud
 * firewalls or in-guest nftables (`planAllowRules`). Pure: no cdktf.
 *
 * - `cluster` ports: from the groups whose daemons are the port's clients, to the groups whose
 *   daemons serve it (or to the managed service that replaces them: RDS for 3306, EFS for 2049);
 * - `public` ports: load-balancer tier from anywhere (or only from the cloud load balancer);
 * - `admin` ports: load-balancer tier from `adminAllowFrom` only (or the cloud load balancer);
 * - `operator` (SSH): every node from `sshAllowFrom` only (default: nobody);
 * - `local` ports: never opened.
 */
import type {
  FirewallGroup,
  FirewallPeer,
  FirewallPlan,
  FirewallRule,
  FirewallTarget,
  ManagedService,
} from "../platforms/platform";
import {
  ClusterNode,
  Daemon,
  HUB_DAEMONS,
  NODE_ROLES,
  NodeRole,
  PORTS,
  PortKey,
  ROLE_DAEMONS,
  STORE_EXPORT_DAEMONS,
  Topology,
  ValidationIssue,
  addressEntryProblem,
  canonicalCidr,
} from "../topology";

/** A port to open: one from the port table, or a user-defined extra. */
export class Port {
  /** A port from the port table, e.g. `Port.of("exmdb")`. */
  public static of(key: PortKey): Port {
    return new Port(PORTS[key].port, key, key, PORTS[key].description);
  }

  /**
   * A port outside the port table (monitoring agents, …): `name` keys the rule
   * (`<name>-from-<source>`), so two ports of one name and different numbers from one source to
   * one target, or a name of the port table's (`ssh`) for another number, fail synthesis (GRX459).
   */
  public static tcp(port: number, name: string, description = name): Port {
    return new Port(port, name, undefined, description);
  }

  private constructor(
    public readonly port: number,
    public readonly name: string,
    public readonly portKey: PortKey | undefined,
    public readonly description: string,
  ) {}
}

/** Sources of traffic. */
export const Peer = {
  /**
   * An IPv4/IPv6 CIDR or a single address, kept as the network it stands for: a bare address is
   * its /32 or /128, IPv6 in RFC 5952 form, as the allow lists. Anything else (`10.0.0.0/33`,
   * `foo`), host bits set (`10.1.2.3/8`: the network 10.0.0.0/8 or the host 10.1.2.3/32?) and an
   * IPv4-mapped IPv6 entry (`::ffff:198.51.100.0/120`, which firewalls never match) fail
   * synthesis (GRX458).
   */
  cidr(cidr: string): FirewallPeer {
    return { cidr };
  },
  anyIpv4(): FirewallPeer {
    return { cidr: "0.0.0.0/0" };
  },
  anyIpv6(): FirewallPeer {
    return { cidr: "::/0" };
  },
  group(name: string): FirewallPeer {
    return { group: name };
  },
  service(service: ManagedService): FirewallPeer {
    return { service };
  },
};

/**
 * A peer as part of a rule key. `marked`: an IPv6 network's `::` as `-z-`, so that networks whose
 * plain names read alike (`2001:db8::1/128` and `2001:db8:1::/128`, both `2001-db8-1-128`) differ;
 * used only when the plain name is taken (keys, and with them resource ids, stay as they were).
 */
function peerName(peer: FirewallPeer, marked = false): string {
  if ("group" in peer) return peer.group;
  if ("service" in peer) return `svc-${peer.service}`;
  const text = marked ? peer.cidr.replace("::", ":z:") : peer.cidr;
  return text.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "") || "any";
}

/** A peer as a message names it: its network, `group "…"` or `service "…"`. */
function describePeer(peer: FirewallPeer): string {
  if ("group" in peer) return `group "${peer.group}"`;
  if ("service" in peer) return `service "${peer.service}"`;
  return peer.cidr;
}

function samePeer(a: FirewallPeer, b: FirewallPeer): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A target as rule keys and issue paths name it: the group, or `svc-<service>`. */
export function targetName(t: FirewallTarget): string {
  return "group" in t ? t.group : `svc-${t.service}`;
}

/** The field of an issue about a rule of `t`: `connections("<group or service>")`. */
export function connectionsField(t: FirewallTarget): string {
  return `connections("${"group" in t ? t.group : t.service}")`;
}

/** The path of an issue about the rule `key` of `t`: `<cluster>/firewall/<target>/<key>`. */
function rulePath(clusterPath: string, t: FirewallTarget, key: string): string {
  return `${clusterPath}/firewall/${targetName(t)}/${key}`;
}

/** A rule `allowFrom` refused: its source is no address or CIDR a firewall takes. */
export interface RefusedRule {
  readonly target: FirewallTarget;
  /** The rule's key (`<port>-from-<peer>`). */
  readonly key: string;
  /** The source as given. */
  readonly cidr: string;
  readonly port: number;
  readonly message: string;
  readonly fix: string;
}

/**
 * A rule `allowFrom` left out because another rule of the same target already has its key
 * (`<port name>-from-<peer>`) for another port: two ports of one name (`Port.tcp(9100, "exporter")`
 * and `Port.tcp(9101, "exporter")`) from one source, or a user port named like a port-table key.
 */
export interface ClashingRule {
  readonly target: FirewallTarget;
  /** The key both rules would have. */
  readonly key: string;
  /** The rule already there (kept). */
  readonly kept: FirewallRule;
  /** The port left out, its name and whether it is the port table's. */
  readonly port: number;
  readonly name: string;
  readonly portKey?: PortKey;
}

/**
 * Collects allow rules (keyed by target and `<port>-from-<peer>`, so duplicates merge), the rules
 * refused for their source and those whose key another port holds (`issues`), which never reach a
 * platform.
 */
export class FirewallRules {
  private readonly rules = new Map<string, FirewallRule>();
  private readonly refusedRules = new Map<string, RefusedRule>();
  private readonly clashingRules: ClashingRule[] = [];

  public add(rule: FirewallRule): void {
    this.rules.set(`${targetName(rule.target)}/${rule.key}`, rule);
  }

  /** The rule of `target` keyed `key`, if any. */
  public get(target: FirewallTarget, key: string): FirewallRule | undefined {
    return this.rules.get(`${targetName(target)}/${key}`);
  }

  /** Records a rule refused for its source (once per target and key). */
  public refuse(rule: RefusedRule): void {
    this.refusedRules.set(`${targetName(rule.target)}/${rule.key}`, rule);
  }

  /** The refused rules, in the order they were added. */
  public refused(): RefusedRule[] {
    return [...this.refusedRules.values()];
  }

  /** Records a rule left out because its key is another port's. */
  public clash(rule: ClashingRule): void {
    this.clashingRules.push(rule);
  }

  /** The rules left out because their key is another port's, in the order they were added. */
  public clashing(): ClashingRule[] {
    return [...this.clashingRules];
  }

  /** Every issue of the rules: `refusedIssues`, then `clashIssues`. */
  public issues(clusterPath: string): ValidationIssue[] {
    return [...this.refusedIssues(clusterPath), ...this.clashIssues(clusterPath)];
  }

  /**
   * GRX459 for every rule left out because its key is another port's, at
   * `<clusterPath>/firewall/<target>/<key>`, field `connections("<target>")`. The fix names a
   * distinct name for the user's port (the port table's keep theirs).
   */
  public clashIssues(clusterPath: string): ValidationIssue[] {
    return this.clashingRules.map((c) => {
      const source = describePeer(c.kept.source);
      // The user's port is the one to rename: the one left out, unless that is the port table's.
      const userPort = c.portKey !== undefined ? c.kept.port : c.port;
      const message =
        c.kept.portKey !== undefined
          ? `port ${c.port} from ${source} is named "${c.name}", as the port table's ${c.kept.portKey} (port ${c.kept.port}) from the same source: both rules would be keyed "${c.key}" and one would replace the other.`
          : c.portKey !== undefined
            ? `port ${c.kept.port} from ${source} is named "${c.name}", as the port table's ${c.portKey} (port ${c.port}) from the same source: both rules would be keyed "${c.key}" and one would replace the other.`
            : `ports ${c.kept.port} and ${c.port} from ${source} are both named "${c.name}": both rules would be keyed "${c.key}" and one would replace the other.`;
      return {
        code: "GRX459",
        path: rulePath(clusterPath, c.target, c.key),
        field: connectionsField(c.target),
        message,
        fix: `Give each port its own name, e.g. Port.tcp(${userPort}, "${c.name}-${userPort}").`,
      };
    });
  }

  /**
   * GRX458 for every refused rule, at `<clusterPath>/firewall/<target>/<key>` (the path an
   * accepted rule would have in the exposure check), field `connections("<target>")`.
   */
  public refusedIssues(clusterPath: string): ValidationIssue[] {
    return this.refused().map((r) => ({
      code: "GRX458",
      path: rulePath(clusterPath, r.target, r.key),
      field: connectionsField(r.target),
      message: `the rule for port ${r.port} from Peer.cidr("${r.cidr}"): ${r.message}`,
      fix: r.fix,
    }));
  }

  /** Rules sorted by target, then port, then key. */
  public list(): FirewallRule[] {
    return [...this.rules.values()].sort(
      (a, b) => cmp(targetName(a.target), targetName(b.target)) || a.port - b.port || cmp(a.key, b.key),
    );
  }

  /** The connections of a group or service (what `allowFrom` opens on). */
  public connections(target: FirewallTarget): Connections {
    return new Connections(this, target);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** aws-cdk style: `servers.allowFrom(clients, Port.of("exmdb"))`. */
export class Connections {
  constructor(
    private readonly rules: FirewallRules,
    public readonly target: FirewallTarget,
  ) {}

  /**
   * Allows `port` on this target from `peer` (a CIDR, a group, a service, or other connections).
   * A CIDR or address is kept as the network it stands for, spelled as cloud firewall APIs keep it
   * (`canonicalCidr`: `198.51.100.7` → `198.51.100.7/32`, IPv6 in RFC 5952 form). A source that
   * is no address or CIDR, has host bits set or is IPv4-mapped IPv6 (`addressEntryProblem`), is
   * refused: the rule is left out of the plan, so no platform or host
   * firewall ever sees it, and synthesis fails with GRX458 (`FirewallRules.issues`).
   */
  public allowFrom(peer: FirewallPeer | Connections, port: Port, description?: string): void {
    let source: FirewallPeer = peer instanceof Connections ? peer.target : peer;
    if ("cidr" in source) {
      const problem = addressEntryProblem(source.cidr);
      if (problem) {
        this.rules.refuse({
          target: this.target,
          key: `${port.name}-from-${peerName(source)}`,
          cidr: source.cidr,
          port: port.port,
          ...problem,
        });
        return;
      }
      source = { cidr: canonicalCidr(source.cidr)! };
    }
    let key = `${port.name}-from-${peerName(source)}`;
    const taken = this.rules.get(this.target, key);
    if (taken && !samePeer(taken.source, source)) key = `${port.name}-from-${peerName(source, true)}`;
    // Same key for another port (two ports of one name from one source): one rule would silently
    // replace the other. Keys stay by name (resource ids); the later rule is left out and reported.
    const holder = this.rules.get(this.target, key);
    if (holder && holder.port !== port.port && samePeer(holder.source, source)) {
      this.rules.clash({
        target: this.target,
        key,
        kept: holder,
        port: port.port,
        name: port.name,
        ...(port.portKey !== undefined ? { portKey: port.portKey } : {}),
      });
      return;
    }
    this.rules.add({
      key,
      target: this.target,
      source,
      port: port.port,
      protocol: "tcp",
      ...(port.portKey !== undefined ? { portKey: port.portKey } : {}),
      description: description ?? port.description,
    });
  }
}

/** Managed services the platform created instead of cluster nodes. */
export interface ManagedServices {
  /** RDS (or another managed MariaDB) serves 3306. */
  readonly database?: boolean;
  /** EFS serves 2049. */
  readonly sharedStorage?: boolean;
  /** A cloud load balancer in front of the load-balancer tier. */
  readonly loadBalancer?: boolean;
}

export interface FirewallPlanOptions {
  /** CIDRs allowed to reach SSH on every node. @default [] */
  readonly sshAllowFrom?: readonly string[];
  readonly services?: ManagedServices;
}

const SERVICE_OPTION: Record<ManagedService, keyof ManagedServices> = {
  database: "database",
  "shared-storage": "sharedStorage",
  "load-balancer": "loadBalancer",
};

/**
 * GRX460 for every rule of the plan whose target (`connections("mailbx")`) or source
 * (`Peer.group("classc")`, `Peer.service("database")`) is a group or managed service the cluster
 * does not have: no platform has a machine for it, so the rule would open nothing and nothing
 * would say so. Groups are the plan's (`node`, a role's only when a node has it, `hub`).
 */
export function unknownPeerIssues(
  plan: FirewallPlan,
  services: ManagedServices,
  clusterPath: string,
): ValidationIssue[] {
  const groups = new Set(plan.groups.map((g) => g.name));
  const known = (p: FirewallPeer | FirewallTarget) =>
    "group" in p ? groups.has(p.group) : "service" in p ? services[SERVICE_OPTION[p.service]] === true : true;
  const name = (p: FirewallPeer | FirewallTarget) =>
    "group" in p ? `the group "${p.group}"` : "service" in p ? `the managed service "${p.service}"` : "";
  const groupList = plan.groups.map((g) => g.name).join(", ");
  const issues: ValidationIssue[] = [];
  for (const r of plan.rules) {
    const unknown = [r.target, r.source].filter((p) => !known(p));
    if (unknown.length === 0) continue;
    const serviceOnly = unknown.every((p) => "service" in p);
    issues.push({
      code: "GRX460",
      path: rulePath(clusterPath, r.target, r.key),
      field: connectionsField(r.target),
      message: `the rule for port ${r.port} from ${describePeer(r.source)} names ${unknown.map(name).join(" and ")}, which this cluster does not have: it would open nothing.`,
      fix: serviceOnly
        ? `Name the group of the nodes that serve it instead (Peer.group(...), connections(...); this cluster's groups: ${groupList}), or drop the rule.`
        : `Use one of this cluster's groups: ${groupList} (a role's group exists only when a node has the role).`,
    });
  }
  return issues;
}

/** The group every node belongs to (SSH, egress). */
export const ALL_NODES_GROUP = "node";
/** The group of the node running gromox-event and gromox-timer. */
export const HUB_GROUP = "hub";
/** The group of the share-nothing mailbox nodes that export their stores to the admin nodes. */
export const STORE_EXPORT_GROUP = "store-export";

const WORLD = ["0.0.0.0/0", "::/0"];

/** Firewall groups: `node` (all), one per role in use, `store-export` (when any), and `hub`. Members sorted by name. */
export function firewallGroups(topology: Topology, clusterName: string): FirewallGroup[] {
  const member = (n: ClusterNode) => ({ name: n.name, ipv4: n.ipv4 });
  const byName = (a: ClusterNode, b: ClusterNode) => cmp(a.name, b.name);
  const groups: FirewallGroup[] = [
    {
      name: ALL_NODES_GROUP,
      description: `every node of ${clusterName}`,
      members: [...topology.nodes].sort(byName).map(member),
    },
  ];
  for (const role of NODE_ROLES) {
    const members = topology.nodes.filter((n) => n.has(role)).sort(byName);
    if (members.length)
      groups.push({ name: role, description: `${role} nodes of ${clusterName}`, members: members.map(member) });
  }
  const exporting = topology.nodesRunning("store-export");
  if (exporting.length) {
    groups.push({
      name: STORE_EXPORT_GROUP,
      description: `mailbox nodes of ${clusterName} that export their stores to the admin nodes`,
      members: [...exporting].sort(byName).map(member),
    });
  }
  groups.push({
    name: HUB_GROUP,
    description: `the event/timer hub of ${clusterName}`,
    members: [member(topology.hub)],
  });
  return groups;
}

/** Daemons a group's members all run (role daemons; the hub's extra daemons). */
function groupDaemons(name: string): readonly Daemon[] {
  if (name === HUB_GROUP) return HUB_DAEMONS;
  if (name === STORE_EXPORT_GROUP) return STORE_EXPORT_DAEMONS;
  if ((NODE_ROLES as readonly string[]).includes(name)) return ROLE_DAEMONS[name as NodeRole];
  return [];
}

/** The plan: groups and every rule from the port table, plus `extra` user rules. */
export function planFirewall(
  topology: Topology,
  clusterName: string,
  options: FirewallPlanOptions = {},
  extra?: FirewallRules,
): FirewallPlan {
  const groups = firewallGroups(topology, clusterName);
  const rules = extra ?? new FirewallRules();
  const services = options.services ?? {};
  const groupsRunning = (daemons: readonly Daemon[]) =>
    groups.filter((g) => groupDaemons(g.name).some((d) => daemons.includes(d))).map((g) => g.name);
  const keys = (Object.keys(PORTS) as PortKey[]).sort((a, b) => PORTS[a].port - PORTS[b].port || cmp(a, b));
  for (const key of keys) {
    const spec = PORTS[key];
    const port = Port.of(key);
    let targets: FirewallTarget[] = groupsRunning([spec.server]).map((group) => ({ group }));
    if (spec.server === "mariadb" && services.database) targets = [{ service: "database" }];
    if (spec.server === "nfs-server" && services.sharedStorage) targets = [{ service: "shared-storage" }];
    let sources: FirewallPeer[] = [];
    switch (spec.exposure) {
      case "cluster":
        sources = groupsRunning(spec.clients).map((group) => ({ group }));
        break;
      case "public":
        sources = services.loadBalancer ? [{ service: "load-balancer" }] : WORLD.map((cidr) => ({ cidr }));
        break;
      case "admin":
        sources = services.loadBalancer
          ? topology.loadBalancer?.adminAllowFrom?.length
            ? [{ service: "load-balancer" }]
            : []
          : (topology.loadBalancer?.adminAllowFrom ?? []).map((cidr) => ({ cidr }));
        break;
      case "operator":
        targets = [{ group: ALL_NODES_GROUP }];
        sources = (options.sshAllowFrom ?? []).map((cidr) => ({ cidr }));
        break;
      case "local":
        break;
    }
    for (const t of targets) {
      const conn = rules.connections(t);
      for (const s of sources) conn.allowFrom(s, port);
    }
  }
  return { groups, rules: rules.list() };
}
