/**
 * The names the generated configs resolve against each node's /etc/hosts, over every file of every
 * node: the examples (`buildExamples`, all roles their clusters have), a scaled Hetzner cluster
 * (bench/layouts, 30 mailbox nodes) and topologies with roles the examples lack (an admin node,
 * an NFS node, the nginx load balancer, a pool member by host name).
 *
 * - every host name a config dials (the `DIALS` table: relay URL, database hosts, exmdb's
 *   `servers.hostname` and `exmdbHost`, event/timer/midb addresses, load-balancer backends, NFS
 *   mounts and exports) is an IP address or a listed FQDN, never a short name;
 * - every client a node's postfix looks up is listed there;
 * - a peer's FQDN that the node does not list appears only where it is a label (`LABELS`), and no
 *   peer's short name appears outside comments at all;
 * - the node's own line is `ip fqdn short`, every other line `ip fqdn`.
 * A new config that names a peer must either be listed in the hosts file or be added to `LABELS`
 * with the reason it is not resolved.
 */
import "cdktf/lib/testing/adapters/jest";
import { isIP } from "node:net";
import { TerraformStack, Testing } from "cdktf";
import { buildExamples } from "../../examples/main";
import { scaledStack } from "../../bench/layouts";
import { GrommunioCluster } from "../../lib";
import { ClusterNode, PORTS, PortKey, Topology, buildTopology } from "../../lib/topology";
import { renderNodeFiles } from "../../lib/render/node";
import { nfsExportsFile } from "../../lib/provision/node";
import { largeLayout } from "../fixtures";

interface File {
  readonly path: string;
  readonly content: string;
}

interface Case {
  readonly name: string;
  readonly topology: Topology;
  /** Every file of a node, and the hosts its NFS mounts name. */
  readonly files: (node: ClusterNode) => readonly File[];
  readonly mountHosts: (node: ClusterNode) => readonly string[];
}

/** Where configs name a host they connect to: path, then a pattern whose group 1 is the host. */
const DIALS: ReadonlyArray<readonly [string, RegExp, RegExp]> = [
  ["relay URL", /\/gromox\.cfg$/, /^outgoing_smtp_url=smtp:\/\/([^:/]+)/],
  ["gromox database", /\/mysql_adaptor\.cfg$/, /^mysql_host=(.+)$/],
  ["event bus", /\/event_(?:proxy|stub)\.cfg$/, /^event_host=(.+)$/],
  ["timer", /\/timer_agent\.cfg$/, /^timer_host=(.+)$/],
  ["midb", /\/midb_list\.txt$/, /^\S+ (\S+) \d+$/],
  ["postfix database", /^\/etc\/postfix\/grommunio-.*\.cf$/, /^hosts = inet:(.+):\d+$/],
  ["mysql client", /\.cnf$/, /^host="?([^"\s]+)"?$/],
  ["admin-api database", /\/database\.yaml$/, /^ {2}host: '?([^'\s]+)'?$/],
  ["admin-api exmdb", /\/multiserver\.yaml$/, /^ {2}exmdbHost: '?([^'\s]+)'?$/],
  ["haproxy backend", /\/haproxy\.cfg$/, /^\s*server \S+ \[?([^\s\]]+?)\]?(?::\d+)?(?:\s|$)/],
  ["nginx backend", /^\/etc\/nginx\/nginx\.conf$/, /^\s*server \[?([^\s\];]+?)\]?:\d+/],
  ["NFS export client", /^\/etc\/exports$/, /^\S+ ([^\s(]+)\(/],
  ["ops ssh", /\/grommunio-ops$/, /^(?:NODES=')?\S+ \S+ (\S+) gromox-/],
];

/**
 * Lines where a peer's FQDN is a label, not a host to resolve (path, line pattern, why).
 */
const LABELS: ReadonlyArray<readonly [RegExp, RegExp, string]> = [
  [/\/haproxy\.cfg$/, /^\s*server \S+ \S+(?:\s|$)/, "server name, cookie, SNI/verifyhost: HAProxy dials the address"],
  [/\/midb_list\.txt$/, /^\/var\/lib\/gromox\/(?:user|domain)\/\S+\/ /, "maildir prefix; midb dialled by address"],
  [/\/mysql_adaptor\.cfg$/, /^schema_upgrade=host:/, "compared with host_id, not resolved"],
  [/\/servers-seed\.sql$/, /^SET @grx_extname = /, "servers.hostname: exmdb clients list every mailbox node"],
  [/\/grommunio-ops$/, /^(?:NODES=')?\S+ \S+ \S+ gromox-|^HUB=|^MAILBOX_HOSTS=/, "ssh by address; names compared"],
];

const isComment = (line: string) => /^\s*(?:#|;|--|\/\/)/.test(line);
const isAddress = (host: string) => isIP(host) !== 0;
const isToken = (host: string) => host.includes("${");
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The example clusters and a scaled Hetzner one, synthesized (their provisioning holds every file). */
function synthesizedCases(): Case[] {
  const app = Testing.app();
  buildExamples(app);
  scaledStack(app, "hcloud", 30);
  for (const s of app.node.children) if (s instanceof TerraformStack) Testing.synth(s);
  const clusters = app.node.findAll().filter((c): c is GrommunioCluster => c instanceof GrommunioCluster);
  return clusters.map((cluster) => ({
    name: cluster.node.path,
    topology: cluster.topology,
    files: (n) => cluster.provisioning.get(n.name)!.files,
    mountHosts: (n) =>
      cluster.provisioning
        .get(n.name)!
        .mounts.flatMap((m) => (m.kind === "nfs" ? [m.source.replace(/:\/.*$/, "")] : [])),
  }));
}

/** Roles the examples lack, rendered from the topology: admin node, NFS node, nginx, pool by name. */
function topologyCases(): Case[] {
  const input = largeLayout();
  const nfs = { name: "nfs1", hostname: "nfs1.int.example.com", roles: ["nfs" as const], ipv4: "10.20.0.60" };
  const variants = {
    "largeLayout, haproxy, pool member by host name": {
      ...input,
      loadBalancer: {
        ...input.loadBalancer!,
        pools: { chat: [{ name: "chat1", address: "admin1.int.example.com", port: 8065 }] },
      },
    },
    "largeLayout, nginx, NFS node": {
      ...input,
      storage: "shared" as const,
      loadBalancer: { ...input.loadBalancer!, flavor: "nginx" as const },
      nodes: [...input.nodes, nfs],
    },
  };
  return Object.entries(variants).map(([name, layout]) => {
    const topology = buildTopology(layout);
    return {
      name,
      topology,
      files: (n: ClusterNode) => [
        ...renderNodeFiles(topology, n),
        ...(n.has("nfs") ? [nfsExportsFile(topology, "/srv/gromox")] : []),
      ],
      mountHosts: (n: ClusterNode) => (layout.storage === "shared" && n.runs("gromox-http") ? [nfs.ipv4] : []),
    };
  });
}

const cases = [...synthesizedCases(), ...topologyCases()];
/** How often each `DIALS` kind matched, over all cases (each must have matched somewhere). */
const dialCounts = new Map<string, number>();

describe.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
  const t = c.topology;
  const hostnames = new Set(t.nodes.map((n) => n.hostname));
  const shortNames = new Set(t.nodes.map((n) => n.hostname.split(".")[0]!));
  const postfixPorts = (Object.keys(PORTS) as PortKey[]).filter(
    (k) => PORTS[k].server === "postfix" && PORTS[k].exposure === "cluster",
  );

  test.each(t.nodes.map((n) => [n.name, n] as const))("%s", (_node, node) => {
    const files = c.files(node);
    const hosts = files.find((f) => f.path === "/etc/hosts")!.content;
    const lines = hosts
      .split("\n")
      .filter((l) => /^\d+\.\d+\.\d+\.\d+ /.test(l) && !l.startsWith("127."))
      .map((l) => l.split(" "));
    // Own line `ip fqdn short`; every peer `ip fqdn`.
    for (const l of lines) {
      const own = l[1] === node.hostname;
      expect(l).toEqual(
        own
          ? [node.ipv4, node.hostname, node.hostname.split(".")[0]]
          : [t.nodes.find((n) => n.hostname === l[1])?.ipv4, l[1]],
      );
    }
    const listed = new Set(lines.map((l) => l[1]!));
    expect(listed.has(node.hostname)).toBe(true);
    const problems: string[] = [];
    const mustResolve = (what: string, host: string) => {
      if (isAddress(host) || isToken(host)) return;
      if (shortNames.has(host) && !hostnames.has(host)) problems.push(`${what}: short name ${host}`);
      else if (hostnames.has(host) && !listed.has(host)) problems.push(`${what}: ${host} not in /etc/hosts`);
    };

    // Forward: what the configs dial.
    for (const f of files) {
      for (const line of f.content.split("\n")) {
        if (isComment(line)) continue;
        for (const [kind, path, re] of DIALS) {
          if (!path.test(f.path)) continue;
          const m = re.exec(line);
          if (!m) continue;
          dialCounts.set(kind, (dialCounts.get(kind) ?? 0) + 1);
          mustResolve(`${f.path} (${kind})`, m[1]!);
        }
      }
    }
    for (const h of c.mountHosts(node)) mustResolve("NFS mount", h);
    // exmdb clients dial servers.hostname of every mailbox node.
    if (PORTS.exmdb.clients.some((d) => node.runs(d)))
      for (const m of t.mailboxNodes) mustResolve("exmdb servers.hostname", m.hostname);
    // Reverse: postfix's smtpd looks up its clients.
    if (node.runs("postfix"))
      for (const p of postfixPorts) for (const n of t.clientsOf(p)) mustResolve(`postfix ${p} client`, n.hostname);

    // Every unlisted peer FQDN outside comments is a label; no peer short name at all.
    for (const f of files) {
      if (f.path === "/etc/hosts") continue;
      for (const line of f.content.split("\n")) {
        if (isComment(line)) continue;
        for (const n of t.nodes) {
          if (n === node) continue;
          if (!listed.has(n.hostname) && line.includes(n.hostname)) {
            if (!LABELS.some(([p, re]) => p.test(f.path) && re.test(line)))
              problems.push(`${f.path}: unlisted ${n.hostname} in "${line.slice(0, 120)}"`);
          }
          const short = n.hostname.split(".")[0]!;
          const ops = /\/grommunio-ops$/.test(f.path) && /^(?:NODES=')?\S+ \S+ \S+ gromox-/.test(line);
          if (!ops && new RegExp(`(?<![\\w./@-])${escape(short)}(?![\\w./@-])`).test(line))
            problems.push(`${f.path}: short name ${short} in "${line.slice(0, 120)}"`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

test("every kind of dial site matched somewhere (a pattern that never matches checks nothing)", () => {
  expect(Object.fromEntries(DIALS.map(([kind]) => [kind, (dialCounts.get(kind) ?? 0) > 0]))).toEqual(
    Object.fromEntries(DIALS.map(([kind]) => [kind, true])),
  );
});
