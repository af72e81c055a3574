/**
 * What the HAProxy renderer checks beyond `buildTopology` (codes GRX100–GRX119; the mailbox
 * map uses GRX120–GRX124). The topology validates the input; these are the problems that only
 * show once the HAProxy config is laid out: routes without a backend, PROXY headers a backend
 * daemon cannot read, two listeners on one port, bad render options.
 */
import { IssueCollector, ValidationIssue } from "../../topology/errors";
import { ClusterNode, OPTIONAL_POOLS, OptionalPool, Topology } from "../../topology/model";
import { canonicalIpv6, parseIpv4 } from "../../topology/net";
import { Daemon, PORTS, PortKey } from "../../topology/ports";
import { compareVersions, parseGromoxVersion } from "../../topology/versions";
import { HaproxyOptions, MAX_MAX_CONNECTIONS } from "./options";

/** gromox learned `imap_accept_haproxy` / `pop3_accept_haproxy` (PROXY v2) in 2.30 (gromox.md §2). */
export const GROMOX_PROXY_V2_SINCE = "2.30";

/** The TCP services the load balancer forwards to classic nodes, and who answers there. */
export const TCP_SERVICES = [
  { service: "imap", frontend: "publicImaps", backend: "imaps", name: "imaps" },
  { service: "pop3", frontend: "publicPop3s", backend: "pop3s", name: "pop3s" },
  { service: "smtp", frontend: "publicSmtp", backend: "smtp", name: "smtp" },
  { service: "submission", frontend: "publicSubmission", backend: "submission", name: "submission" },
] as const satisfies ReadonlyArray<{
  service: "imap" | "pop3" | "smtp" | "submission";
  frontend: PortKey;
  backend: PortKey;
  name: string;
}>;

/** Frontend port keys the config binds on a load-balancer node. */
export function frontendPorts(topology: Topology): PortKey[] {
  const lb = topology.loadBalancer;
  const keys: PortKey[] = ["publicHttp", "publicHttps"];
  if (lb?.adminAllowFrom !== undefined) keys.push("publicAdmin");
  if (topology.classicNodes.length > 0) keys.push(...TCP_SERVICES.map((s) => s.frontend));
  return keys;
}

/** HAProxy's chroot (global `chroot`): socket paths in `log` lines are looked up inside it. */
export const HAPROXY_CHROOT = "/var/lib/haproxy";

/**
 * What a `log` target is: a socket HAProxy reaches from its chroot (`/dev/log`, which Debian's
 * haproxy.service binds to /var/lib/haproxy/dev/log), another socket path (looked up inside the
 * chroot: lost), a standard stream, a UDP address; undefined when HAProxy would refuse it or it
 * needs a resolver (host names are resolved once at start).
 */
export function logTargetKind(target: string): "socket" | "chrooted-socket" | "stream" | "address" | undefined {
  if (target === "stdout" || target === "stderr") return "stream";
  const socket = /^(?:unix@)?(\/.*)$/.exec(target);
  if (socket) {
    if (socket[1] === "/dev/log") return "socket";
    return /^\/[\x21-\x7e]*$/.test(socket[1]!) && !/["'#\\]/.test(socket[1]!) ? "chrooted-socket" : undefined;
  }
  const port = (p: string | undefined) =>
    p === undefined || (/^\d{1,5}$/.test(p) && Number(p) >= 1 && Number(p) <= 65535);
  const v4 = /^(?:(?:udp|udp4|ipv4)@)?([0-9.]+)(?::([0-9]+))?$/.exec(target);
  if (v4) return parseIpv4(v4[1]!) !== undefined && port(v4[2]) ? "address" : undefined;
  const v6 = /^(?:udp6|ipv6)@([0-9A-Fa-f:.]+):([0-9]+)$/.exec(target);
  if (v6) return canonicalIpv6(v6[1]!) !== undefined && port(v6[2]) ? "address" : undefined;
  return undefined;
}

function isAbsolutePath(p: string): boolean {
  return p.startsWith("/") && !/[\s#"'\\]/.test(p);
}

/**
 * Every problem that keeps `renderHaproxy(topology, node, options)` from producing a config that
 * works, each with a code, path, field and fix. Empty when rendering is safe. `node` is checked
 * when given.
 */
export function validateHaproxy(
  topology: Topology,
  node?: ClusterNode,
  options: HaproxyOptions = {},
): ValidationIssue[] {
  const c = new IssueCollector();
  const lb = topology.loadBalancer;
  const path = `${topology.path}/loadBalancer`;
  if (!lb) {
    c.add(
      "GRX100",
      topology.path,
      "loadBalancer",
      "the cluster has no load-balancer tier, so there is no HAProxy config to render.",
      "Declare a LoadBalancerTier with flavor haproxy.",
    );
    return [...c.issues];
  }
  if (lb.flavor !== "haproxy") {
    c.add(
      "GRX101",
      path,
      "flavor",
      `the load-balancer tier uses ${lb.flavor}, not haproxy.`,
      "Render the tier with the nginx renderer, or set flavor to haproxy.",
    );
  }
  if (node && !lb.nodes.some((n) => n.name === node.name)) {
    c.add(
      "GRX102",
      node.path,
      "roles",
      `node "${node.name}" is not a load-balancer node of the tier (${lb.nodes.map((n) => n.name).join(", ") || "none"}).`,
      "Render haproxy.cfg only for nodes with the load-balancer role.",
    );
  }
  if (topology.mailboxNodes.length === 0) {
    c.add(
      "GRX103",
      path,
      lb.nodeAwareRouting ? "nodeAwareRouting" : "nodes",
      lb.nodeAwareRouting
        ? "node-aware routing needs mailbox nodes to route to, and the cluster has none."
        : "the HTTPS frontend has no mailbox node to route to.",
      "Add mailbox nodes (GromoxNode) before the load-balancer tier.",
    );
  }
  if (lb.adminAllowFrom !== undefined && topology.adminNodes.length === 0) {
    c.add(
      "GRX104",
      path,
      "adminAllowFrom",
      "the admin frontend (8443) is requested but no node carries the admin role: every admin request would fail.",
      "Give a node the admin role (admin API and admin web), or omit adminAllowFrom.",
    );
  }

  // PROXY protocol: the LB sends it exactly when declared; every backend daemon must read it.
  const gromox = topology.gromoxVersion;
  const v2Since = parseGromoxVersion(GROMOX_PROXY_V2_SINCE)!;
  for (const s of TCP_SERVICES) {
    if (!lb.proxyProtocol[s.service]) continue;
    const daemon: Daemon = PORTS[s.backend].server;
    for (const n of topology.classicNodes) {
      if (!n.runs(daemon)) {
        c.add(
          "GRX105",
          n.path,
          `proxyProtocol.${s.service}`,
          `PROXY is declared for ${s.name} but node "${n.name}" does not run ${daemon}, which would have to read it.`,
          `Run ${daemon} on the classic nodes, or set proxyProtocol.${s.service} to false.`,
        );
      } else if ((s.service === "imap" || s.service === "pop3") && compareVersions(gromox, v2Since) < 0) {
        c.add(
          "GRX105",
          path,
          `proxyProtocol.${s.service}`,
          `gromox ${gromox.text} cannot read PROXY headers on ${s.name} (${s.service}_accept_haproxy exists since ${GROMOX_PROXY_V2_SINCE}).`,
          `Upgrade gromox to ${GROMOX_PROXY_V2_SINCE} or later, or set proxyProtocol.${s.service} to false.`,
        );
      }
    }
  }

  // Pools (the topology builds only valid ones; a hand-made topology may not).
  for (const [key, members] of lb.pools) {
    if (!OPTIONAL_POOLS.includes(key)) {
      c.add(
        "GRX106",
        path,
        `pools.${String(key)}`,
        `"${String(key)}" is not a pool the HTTPS frontend has a route for.`,
        `Use one of: ${OPTIONAL_POOLS.join(", ")}.`,
      );
      continue;
    }
    if (members.length === 0) {
      c.add(
        "GRX107",
        path,
        `pools.${key}`,
        `pool "${key}" has no server: its route would answer 503.`,
        "Give the pool at least one server, or leave it out.",
      );
      continue;
    }
    const seen = new Set<string>();
    for (const m of members) {
      if (seen.has(m.name)) {
        c.add(
          "GRX108",
          path,
          `pools.${key}`,
          `server name "${m.name}" appears twice in pool "${key}"; HAProxy refuses duplicate server names.`,
          "Give every server of a pool its own name.",
        );
      }
      seen.add(m.name);
    }
  }

  // Two listeners on one port of the load-balancer node.
  for (const n of node ? [node] : lb.nodes) {
    for (const fk of frontendPorts(topology)) {
      const port = PORTS[fk].port;
      const clash = (Object.keys(PORTS) as PortKey[]).find(
        (k) => PORTS[k].port === port && PORTS[k].server !== "load-balancer" && n.runs(PORTS[k].server),
      );
      if (clash) {
        c.add(
          "GRX109",
          n.path,
          "roles",
          `HAProxy listens on ${port} (${PORTS[fk].description}) and ${PORTS[clash].server} on the same node does too.`,
          "Put the load balancer on a node of its own, or move the other role.",
        );
      }
    }
  }

  // Options.
  if (options.bindAddress !== undefined && parseIpv4(options.bindAddress) === undefined) {
    c.add(
      "GRX110",
      path,
      "bindAddress",
      `"${options.bindAddress}" is not an IPv4 address.`,
      "Give an IPv4 address of the node, or omit bindAddress to listen on all addresses.",
    );
  }
  for (const [field, value] of [
    ["certificatePath", options.certificatePath],
    ["backendCaFile", options.backendCaFile],
  ] as const) {
    if (value !== undefined && !isAbsolutePath(value)) {
      c.add(
        "GRX111",
        path,
        field,
        `"${value}" is not an absolute path without blanks or quotes.`,
        "Give an absolute path such as /etc/haproxy/proxy.pem.",
      );
    }
  }
  if (options.logTarget !== undefined) {
    const kind = logTargetKind(options.logTarget);
    if (kind === "chrooted-socket") {
      c.add(
        "GRX113",
        path,
        "logTarget",
        `"${options.logTarget}" is a socket path, which HAProxy opens inside its chroot ${HAPROXY_CHROOT} ` +
          "(Debian's unit binds only /dev/log there): every log line would be lost.",
        'Give "/dev/log" (syslog on the node), "stdout" (the journal), or a syslog server\'s address such as "192.0.2.10:514".',
      );
    } else if (kind === undefined) {
      c.add(
        "GRX111",
        path,
        "logTarget",
        `"${options.logTarget}" is not a syslog target HAProxy reads.`,
        'Give "/dev/log", "stdout", "stderr", an IPv4 address with an optional port such as "192.0.2.10:514" ' +
          '(optionally udp@), or "udp6@<IPv6>:<port>".',
      );
    }
  }
  const mc = options.maxConnections;
  if (mc !== undefined && (!Number.isInteger(mc) || mc < 1 || mc > MAX_MAX_CONNECTIONS)) {
    c.add(
      "GRX112",
      path,
      "maxConnections",
      `${String(mc)} is not a connection limit from 1 to ${MAX_MAX_CONNECTIONS}.`,
      `Give an integer up to ${MAX_MAX_CONNECTIONS} (ulimit-n = 2 x maxconn + headroom must stay below fs.nr_open).`,
    );
  }
  return [...c.issues];
}

/** The pools that get routes, in a fixed order. */
export function poolsInOrder(topology: Topology): OptionalPool[] {
  const pools = topology.loadBalancer?.pools;
  return OPTIONAL_POOLS.filter((p) => (pools?.get(p)?.length ?? 0) > 0);
}
