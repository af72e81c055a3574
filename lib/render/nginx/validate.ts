/**
 * What the nginx renderer checks beyond `buildTopology` (codes GRX150–GRX199). The topology
 * validates the input; these are the problems that only show once the nginx config is laid out:
 * features nginx cannot provide, PROXY headers a backend cannot read, listeners and pool members
 * that collide with other services, bad render options. Every issue is collected.
 */
import { IssueCollector, ValidationIssue } from "../../topology/errors";
import { ClusterNode, OPTIONAL_POOLS, OptionalPool, PoolMember, Topology } from "../../topology/model";
import { isCidrOrAddress, parseIpv4 } from "../../topology/net";
import { Daemon, PORTS, PortKey } from "../../topology/ports";
import { MAX_WORKER_CONNECTIONS, NginxOptions } from "./options";

/** The TCP services nginx's stream module forwards to the classic nodes. */
export const NGINX_MAIL_SERVICES = [
  { service: "smtp", frontend: "publicSmtp", backend: "smtp", upstream: "be_smtp" },
  { service: "submission", frontend: "publicSubmission", backend: "submission", upstream: "be_submission" },
  { service: "imap", frontend: "publicImaps", backend: "imaps", upstream: "be_imaps" },
  { service: "pop3", frontend: "publicPop3s", backend: "pop3s", upstream: "be_pop3s" },
] as const satisfies ReadonlyArray<{
  service: "smtp" | "submission" | "imap" | "pop3";
  frontend: PortKey;
  backend: PortKey;
  upstream: string;
}>;

/**
 * Backend ports of a cluster node that answer HTTP(S) to other nodes and may therefore be pool
 * members (e.g. an archive pool on a mailbox node's web server). Any other port of the port table
 * that the node serves belongs to a different protocol, or to loopback (gromox-http's 10080/10443).
 */
const HTTP_BACKEND_PORTS: readonly PortKey[] = ["mailboxWeb", "adminWeb"];

/** The frontend ports nginx listens on for `topology`. */
export function nginxFrontendPorts(topology: Topology): PortKey[] {
  const keys: PortKey[] = ["publicHttp", "publicHttps"];
  if (topology.loadBalancer?.adminAllowFrom !== undefined) keys.push("publicAdmin");
  if (topology.classicNodes.length > 0) keys.push(...NGINX_MAIL_SERVICES.map((s) => s.frontend));
  return keys;
}

/** The pools with members, in the fixed order of `OPTIONAL_POOLS`. */
export function nginxPools(topology: Topology): OptionalPool[] {
  const pools = topology.loadBalancer?.pools;
  return OPTIONAL_POOLS.filter((p) => (pools?.get(p)?.length ?? 0) > 0);
}

/** A path nginx reads back unchanged: absolute, no blanks, quotes, `;`, braces, `#`, `$` or backslash. */
function isPlainAbsolutePath(p: string): boolean {
  return /^\/[^\s"'`;{}#$\\]*$/.test(p) && !p.split("/").includes("..");
}

/** The cluster node a pool member's address names (by IPv4 or host name), if any. */
function nodeAt(topology: Topology, m: PoolMember): ClusterNode | undefined {
  return topology.nodes.find((n) => n.ipv4 === m.address || n.hostname === m.address);
}

/**
 * Every problem that keeps `renderNginx(topology, node, options)` from producing a config that
 * nginx accepts and that works; each with a code, path, field and fix. Empty when rendering is
 * safe. `node` is checked when given.
 */
export function validateNginx(topology: Topology, node?: ClusterNode, options: NginxOptions = {}): ValidationIssue[] {
  const c = new IssueCollector();
  const lb = topology.loadBalancer;
  const path = `${topology.path}/loadBalancer`;
  if (!lb) {
    c.add(
      "GRX150",
      topology.path,
      "loadBalancer",
      "the cluster has no load-balancer tier, so there is no nginx config to render.",
      "Declare a LoadBalancerTier with flavor nginx.",
    );
    return [...c.issues];
  }
  if (lb.flavor !== "nginx") {
    c.add(
      "GRX151",
      path,
      "flavor",
      `the load-balancer tier uses ${lb.flavor}, not nginx.`,
      "Render the tier with the HAProxy renderer, or set flavor to nginx.",
    );
  }
  if (node && !lb.nodes.some((n) => n.name === node.name)) {
    c.add(
      "GRX152",
      node.path,
      "roles",
      `node "${node.name}" is not a load-balancer node of the tier (${lb.nodes.map((n) => n.name).join(", ") || "none"}).`,
      "Render the nginx load-balancer config only for nodes with the load-balancer role.",
    );
  }
  if (topology.mailboxNodes.length === 0) {
    c.add(
      "GRX153",
      path,
      "nodes",
      "the HTTPS server has no mailbox node to route to.",
      "Add mailbox nodes (GromoxNode) before the load-balancer tier.",
    );
  }
  if (lb.adminAllowFrom !== undefined) {
    if (topology.adminNodes.length === 0) {
      c.add(
        "GRX154",
        path,
        "adminAllowFrom",
        "the admin server (8443) is requested but no node carries the admin role: every admin request would fail.",
        "Give a node the admin role (admin API and admin web), or omit adminAllowFrom.",
      );
    }
    if (lb.adminAllowFrom.length === 0) {
      c.add(
        "GRX164",
        path,
        "adminAllowFrom",
        "the admin server would have an empty allow list.",
        "List your administrators' networks (e.g. 203.0.113.0/24), or omit adminAllowFrom for no admin server.",
      );
    }
    for (const a of lb.adminAllowFrom) {
      if (!isCidrOrAddress(a)) {
        c.add(
          "GRX164",
          path,
          "adminAllowFrom",
          `"${a}" is not an address or CIDR that nginx's allow directive accepts.`,
          "Use forms like 203.0.113.0/24, 198.51.100.7 or 2001:db8::/48.",
        );
      }
    }
  }
  if (lb.nodeAwareRouting) {
    c.add(
      "GRX155",
      path,
      "nodeAwareRouting",
      "node-aware routing is not available with nginx: open-source nginx has no way to look the " +
        "Basic-auth user or MAPI/HTTP MailboxId up in a map that changes at runtime (it would need " +
        "njs or Lua, and a reload for every mailbox move).",
      'Use flavor "haproxy" (mailbox.map with runtime updates), or set nodeAwareRouting to false ' +
        "(requests then go to any mailbox node, which reaches the home store over exmdb).",
    );
  }

  // PROXY protocol: nginx's stream proxy sends v1 exactly where declared; every backend must read it.
  for (const s of NGINX_MAIL_SERVICES) {
    if (!lb.proxyProtocol[s.service]) continue;
    if (s.service === "imap" || s.service === "pop3") {
      c.add(
        "GRX156",
        path,
        `proxyProtocol.${s.service}`,
        `PROXY is declared for ${s.service}, but nginx's stream proxy sends only PROXY v1 and gromox-${s.service} accepts only v2 (${s.service}_accept_haproxy=2).`,
        `Set proxyProtocol.${s.service} to false with nginx, or use flavor "haproxy" (send-proxy-v2).`,
      );
      continue;
    }
    const daemon: Daemon = PORTS[s.backend].server;
    for (const n of topology.classicNodes) {
      if (!n.runs(daemon)) {
        c.add(
          "GRX156",
          n.path,
          `proxyProtocol.${s.service}`,
          `PROXY is declared for ${s.service}, but node "${n.name}" does not run ${daemon}, which would have to read it.`,
          `Run ${daemon} on the classic nodes, or set proxyProtocol.${s.service} to false.`,
        );
      }
    }
  }

  // Pools (the topology builds only valid ones; a hand-made topology may not).
  const lbNodes = node ? [node] : lb.nodes;
  const frontends = new Set<number>(nginxFrontendPorts(topology).map((k) => PORTS[k].port));
  for (const [key, members] of lb.pools) {
    if (!OPTIONAL_POOLS.includes(key)) {
      c.add(
        "GRX165",
        path,
        `pools.${String(key)}`,
        `"${String(key)}" is not a pool the HTTPS server has a route for.`,
        `Use one of: ${OPTIONAL_POOLS.join(", ")}.`,
      );
      continue;
    }
    if (members.length === 0) {
      c.add(
        "GRX165",
        path,
        `pools.${key}`,
        `pool "${key}" has no server: its route would answer 502.`,
        "Give the pool at least one server, or leave it out.",
      );
      continue;
    }
    if (new Set(members.map((m) => m.tls)).size > 1) {
      c.add(
        "GRX158",
        path,
        `pools.${key}`,
        `pool "${key}" mixes TLS and plain-HTTP servers; one nginx upstream is reached with one scheme.`,
        "Give every server of the pool the same tls setting.",
      );
    }
    const seen = new Set<string>();
    for (const m of members) {
      const endpoint = `${m.address}:${m.port}`;
      if (seen.has(endpoint)) {
        c.add(
          "GRX157",
          path,
          `pools.${key}`,
          `${endpoint} appears twice in pool "${key}" (it would get twice the share of requests).`,
          "List each server once (use distinct addresses or ports).",
        );
      }
      seen.add(endpoint);
      const target = nodeAt(topology, m);
      if (!target) continue;
      if (lbNodes.some((n) => n.name === target.name) && frontends.has(m.port)) {
        c.add(
          "GRX157",
          path,
          `pools.${key}`,
          `server "${m.name}" (${endpoint}) is this load balancer's own frontend port: requests would loop through nginx.`,
          "Point the pool at the servers that run the service, not at the load balancer.",
        );
        continue;
      }
      const clash = (Object.keys(PORTS) as PortKey[]).find(
        (k) =>
          PORTS[k].port === m.port &&
          !HTTP_BACKEND_PORTS.includes(k) &&
          PORTS[k].server !== "load-balancer" &&
          target.runs(PORTS[k].server),
      );
      if (clash) {
        c.add(
          "GRX157",
          path,
          `pools.${key}`,
          PORTS[clash].exposure === "local"
            ? `server "${m.name}" (${endpoint}) is ${PORTS[clash].description} on node "${target.name}", which listens on loopback only.`
            : `server "${m.name}" (${endpoint}) collides with ${PORTS[clash].description} (${PORTS[clash].server}) on node "${target.name}".`,
          "Give the pool member the port its web service listens on.",
        );
      }
    }
  }

  // Two listeners on one port of a load-balancer node.
  for (const n of lbNodes) {
    for (const fk of nginxFrontendPorts(topology)) {
      const port = PORTS[fk].port;
      const clash = (Object.keys(PORTS) as PortKey[]).find(
        (k) => PORTS[k].port === port && PORTS[k].server !== "load-balancer" && n.runs(PORTS[k].server),
      );
      if (clash) {
        c.add(
          "GRX159",
          n.path,
          "roles",
          `nginx listens on ${port} (${PORTS[fk].description}) and ${PORTS[clash].server} on the same node does too.`,
          "Put the load balancer on a node of its own, or move the other role.",
        );
      }
    }
  }

  // Options.
  if (options.bindAddress !== undefined && parseIpv4(options.bindAddress) === undefined) {
    c.add(
      "GRX160",
      path,
      "bindAddress",
      `"${options.bindAddress}" is not an IPv4 address.`,
      "Give an IPv4 address of the node, or omit bindAddress to listen on all addresses.",
    );
  }
  for (const field of ["certificatePath", "certificateKeyPath", "pidFile", "errorLog", "accessLog"] as const) {
    const value = options[field];
    if (value !== undefined && !isPlainAbsolutePath(value)) {
      c.add(
        "GRX161",
        path,
        field,
        `"${value}" is not an absolute path without blanks, quotes, "..", or nginx's special characters.`,
        "Give an absolute path such as /etc/nginx/proxy.pem.",
      );
    }
  }
  const wc = options.workerConnections;
  if (wc !== undefined && (!Number.isInteger(wc) || wc < 64 || wc > MAX_WORKER_CONNECTIONS)) {
    c.add(
      "GRX162",
      path,
      "workerConnections",
      `${String(wc)} is not a connection count from 64 to ${MAX_WORKER_CONNECTIONS}.`,
      "Give an integer; each proxied request holds two connections (client and backend).",
    );
  }
  if (options.user !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/.test(options.user)) {
    c.add(
      "GRX163",
      path,
      "user",
      `"${options.user}" is not a system user name.`,
      'Give an existing unprivileged user, e.g. "www-data".',
    );
  }
  return [...c.issues];
}
