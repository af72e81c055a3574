/**
 * The cluster as a graph: nodes grouped by role with their private addresses, and every flow
 * between them with its ports, taken from the port table (`PORTS`) and `topology.clientsOf`, plus
 * the public frontends of the load-balancer tier. One model, two serializers (Mermaid, DOT).
 * Pure and deterministic: groups in a fixed order, nodes by name, edges by endpoints.
 */
import { ClusterNode, NodeRole, Topology } from "../../topology/model";
import { PORTS, PortKey } from "../../topology/ports";

/** Group order, and the role that places a node carrying several roles (mailbox + admin → mailbox). */
export const ROLE_GROUP_ORDER: readonly NodeRole[] = [
  "load-balancer",
  "classic",
  "mailbox",
  "admin",
  "database",
  "nfs",
];

export const ROLE_GROUP_LABELS: Readonly<Record<NodeRole, string>> = {
  "load-balancer": "load balancer",
  classic: "classic: postfix, IMAP, POP3",
  mailbox: "mailbox: gromox",
  admin: "admin API",
  database: "database: MariaDB",
  nfs: "NFS",
};

/** Short names of ports on edges (`exmdb 5000`). */
const PORT_LABELS: Partial<Record<PortKey, string>> = {
  mailboxWeb: "https",
  gromoxHttp: "http",
  gromoxHttps: "https",
  adminWeb: "admin",
  publicSmtp: "smtp",
  publicSubmission: "submission",
  publicImaps: "imaps",
  publicPop3s: "pop3s",
  publicHttp: "http",
  publicHttps: "https",
  publicAdmin: "admin",
};

export interface GraphNode {
  /** Identifier safe in Mermaid and DOT: `n_<name>` for cluster nodes, `x_<name>` for external ones. */
  readonly id: string;
  /** Label lines: name, host name, private address, extra roles, hub duties. */
  readonly lines: readonly string[];
  readonly external: boolean;
}

export interface GraphGroup {
  readonly role: NodeRole;
  readonly label: string;
  readonly nodes: readonly GraphNode[];
}

export interface GraphPort {
  readonly name: string;
  readonly port: number;
}

/** A flow: `from` connects to `to` on these ports (sorted by number). */
export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly ports: readonly GraphPort[];
}

export interface TopologyGraph {
  readonly title: string;
  readonly groups: readonly GraphGroup[];
  /** Internet, administrators, an external database. */
  readonly externals: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
}

function nodeId(name: string): string {
  return `n_${name.replace(/-/g, "_")}`;
}

function primaryRole(node: ClusterNode): NodeRole {
  return ROLE_GROUP_ORDER.find((r) => node.has(r))!;
}

function portLabel(key: PortKey): string {
  return PORT_LABELS[key] ?? key;
}

/** Public frontends the load-balancer nodes bind (mail ports only when classic nodes serve them). */
function publicFrontends(topology: Topology): PortKey[] {
  const keys: PortKey[] = [];
  if (topology.classicNodes.length > 0) keys.push("publicSmtp", "publicSubmission", "publicImaps", "publicPop3s");
  keys.push("publicHttp", "publicHttps");
  return keys;
}

/** The graph of a topology. */
export function topologyGraph(topology: Topology): TopologyGraph {
  const groups: GraphGroup[] = [];
  for (const role of ROLE_GROUP_ORDER) {
    const members = topology.nodes.filter((n) => primaryRole(n) === role);
    if (members.length === 0) continue;
    groups.push({
      role,
      label: ROLE_GROUP_LABELS[role],
      nodes: members.map((n) => ({
        id: nodeId(n.name),
        external: false,
        lines: [
          n.name,
          n.hostname,
          n.ipv4,
          ...ROLE_GROUP_ORDER.filter((r) => r !== role && n.has(r)).map((r) => `+ ${r}`),
          ...(n.name === topology.hub.name ? ["hub: event, timer"] : []),
        ],
      })),
    });
  }

  const edges = new Map<string, { from: string; to: string; ports: GraphPort[] }>();
  const add = (from: string, to: string, port: GraphPort) => {
    const key = `${from}\u0000${to}`;
    const e = edges.get(key) ?? { from, to, ports: [] };
    if (!e.ports.some((p) => p.name === port.name && p.port === port.port)) e.ports.push(port);
    edges.set(key, e);
  };

  const externals: GraphNode[] = [];
  const db = topology.database;
  const externalDb = db.node === undefined;
  if (externalDb)
    externals.push({ id: "x_database", external: true, lines: ["external database", `${db.host}:${db.port}`] });

  for (const key of Object.keys(PORTS) as PortKey[]) {
    const spec = PORTS[key];
    if (spec.exposure !== "cluster") continue;
    const clients = topology.clientsOf(key);
    if (key === "mysql" && externalDb) {
      for (const c of clients) add(nodeId(c.name), "x_database", { name: portLabel(key), port: db.port });
      continue;
    }
    const servers = topology.nodesRunning(spec.server);
    for (const c of clients) {
      for (const s of servers) {
        if (c.name !== s.name) add(nodeId(c.name), nodeId(s.name), { name: portLabel(key), port: spec.port });
      }
    }
  }

  const lb = topology.loadBalancer;
  if (lb && lb.nodes.length > 0) {
    externals.push({ id: "x_internet", external: true, lines: ["Internet"] });
    for (const n of lb.nodes) {
      for (const key of publicFrontends(topology))
        add("x_internet", nodeId(n.name), { name: portLabel(key), port: PORTS[key].port });
    }
    if (lb.adminAllowFrom !== undefined) {
      externals.push({ id: "x_admins", external: true, lines: ["administrators", ...lb.adminAllowFrom] });
      for (const n of lb.nodes)
        add("x_admins", nodeId(n.name), { name: portLabel("publicAdmin"), port: PORTS.publicAdmin.port });
    }
  }

  return {
    title: `${topology.domain} (${topology.path})`,
    groups,
    externals: externals.sort((a, b) => a.id.localeCompare(b.id)),
    edges: [...edges.values()]
      .map((e) => ({ ...e, ports: [...e.ports].sort((a, b) => a.port - b.port || a.name.localeCompare(b.name)) }))
      .sort((a, b) => (a.from === b.from ? (a.to < b.to ? -1 : 1) : a.from < b.from ? -1 : 1)),
  };
}

/** `exmdb 5000, midb 5555`. */
export function portsLabel(ports: readonly GraphPort[]): string {
  return ports.map((p) => `${p.name} ${p.port}`).join(", ");
}
