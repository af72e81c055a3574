/**
 * `/etc/hosts` for every cluster node. Debian maps the node's own host name to 127.0.1.1; a
 * gromox client dialling its own `servers.hostname` would then arrive as `::ffff:127.0.1.1`,
 * which no allow list holds (reference/gromox.md §1). This file maps the node's own FQDN and short
 * name to its private IPv4 address instead, and the FQDNs of the other cluster nodes whose names
 * its programs resolve, so they resolve without DNS. Nothing else: every line is user-data on
 * platforms that ship files there (Hetzner: 32 KiB per server).
 *
 * Which nodes each node lists (`listedNodes`): itself, and for each daemon it runs the nodes that
 * daemon's `NAME_LOOKUPS` entry names. A typed record over every `Daemon`, so a new daemon does
 * not compile until someone has written down which names it resolves.
 * - Forward (names a program dials):
 *   - the exmdb clients (gromox-http, -midb, -zcore, -imap, -pop3, -delivery, admin-api) dial
 *     `servers.hostname` of a mailbox's home server: every mailbox node. admin-api on a node
 *     without exmdb also dials the hub (`exmdbHost`), a mailbox node too; an admin node's NFS
 *     mounts of the other mailbox nodes' stores (ShareNothing, `storeExportMounts`) name them too;
 *   - gromox-http and -zcore on a node without postfix submit mail to one classic node's relay by
 *     its host name (`outgoing_smtp_url`, `smtpRelayNode`);
 *   - every client of the mysql port (`PORTS.mysql.clients`: gromox's `mysql_adaptor.cfg`,
 *     postfix's `proxy:mysql` maps, admin-api, the map job on a load balancer, `db-client.cnf`)
 *     dials `database.host`: the database node's address, or an external host, so a cluster
 *     node only if `database.host` is one's FQDN;
 *   - HAProxy/nginx on a load balancer name their backend servers by host name but dial the
 *     address (the name is a label, SNI and `verifyhost`); only a pool member (`pools`) may be
 *     a host name;
 *   - by address, so no line: midb (`midb_list.txt`), event and timer (`event_host`,
 *     `timer_host`), the relay's and the NFS exports' clients, the NFS node mount source, the ops
 *     scripts (`--reload ssh` dials the NODES table's addresses; their names are labels).
 * - Reverse (clients a program looks up by address): postfix's smtpd looks up every client
 *   (`smtpd_peername_lookup`; names in logs, `Received:` headers and checks), so a node running
 *   postfix lists the clients of postfix's cluster ports (`PORTS`: smtp and submission from the
 *   load balancers, which postfix sees as the client when PROXY is off and on connections
 *   without a PROXY header; the relay from the mailbox nodes' gromox-http and -zcore). rspamd and OpenDKIM are milters on loopback
 *   and see the clients postfix hands them. No other node connects to a classic node (the
 *   firewall admits exactly these), and no classic node dials another, so classic nodes do not
 *   list each other, nor the admin and database nodes.
 * - No lookups: gromox-event, -timer, -midb, -imap, -pop3 and exmdb compare numeric addresses
 *   (allow lists; imap/pop3 format clients `NI_NUMERICHOST`); gromox-delivery-queue takes LMTP
 *   from the local postfix; nginx and php-fpm on mailbox nodes use loopback and sockets;
 *   MariaDB runs with `skip-name-resolve`; the NFS servers (the NFS node, a share-nothing
 *   mailbox node's store export) export to client addresses, and rpc.mountd looks client names
 *   up only for wildcard or netgroup exports (nfs-utils `client_resolve`), so they list no
 *   client for it (the NFS node lists only itself); Debian's sshd does not look clients up
 *   (`UseDNS no`).
 *
 * Lines: the node itself `ip fqdn short` (the Debian layout, so `hostname -f` and `hostname -s`
 * work); every other node `ip fqdn`, because no generated config names a peer by its short name
 * (test/render/hosts-names.test.ts reads every file of every node of the examples and a scaled
 * cluster for that).
 *
 * The provisioning layer must keep cloud-init from rewriting the file (`manage_etc_hosts: false`),
 * or it is replaced by the 127.0.1.1 template at boot.
 */
import { ClusterNode, Daemon, PORTS, PortKey, Topology, parseIpv4 } from "../../topology";
import { smtpRelayNode } from "../gromox";
import { ConfigFile } from "../types";

/** Path, owner and mode of the hosts file. */
export const HOSTS_FILE = { path: "/etc/hosts", owner: "root:root", mode: "0644" } as const;

/** Loopback and the IPv6 multicast names Debian ships; never the node's own name. */
const LOCAL_LINES: readonly string[] = [
  "127.0.0.1 localhost",
  "::1 localhost ip6-localhost ip6-loopback",
  "ff02::1 ip6-allnodes",
  "ff02::2 ip6-allrouters",
];

type Lookup = (topology: Topology, node: ClusterNode) => Iterable<ClusterNode>;

const none: Lookup = () => [];
/** `servers.hostname` of every home server. */
const exmdb: Lookup = (t) => t.mailboxNodes;
/** `database.host`, when it is a cluster node's FQDN. */
const database = (t: Topology): ClusterNode[] => t.nodes.filter((n) => n.hostname === t.database.host);
/** The classic node whose relay `outgoing_smtp_url` names. */
const relay: Lookup = (t, n) => {
  const r = smtpRelayNode(t, n);
  return r ? [r] : [];
};
const both =
  (...lookups: Lookup[]): Lookup =>
  (t, n) =>
    lookups.flatMap((l) => [...l(t, n)]);

/** Cluster ports postfix serves; their clients are the peers its smtpd looks up. */
const POSTFIX_PORTS = (Object.keys(PORTS) as PortKey[]).filter(
  (k) => PORTS[k].server === "postfix" && PORTS[k].exposure === "cluster",
);

/**
 * The cluster nodes whose names each daemon resolves, forward or reverse, besides the database
 * host (every client of the mysql port: `listedNodes`); the module comment gives the reasons.
 * Every daemon has an entry: a new one must state its lookups.
 */
export const NAME_LOOKUPS: Readonly<Record<Daemon, Lookup>> = {
  "gromox-http": both(exmdb, relay),
  "gromox-midb": exmdb,
  "gromox-zcore": both(exmdb, relay),
  "gromox-imap": exmdb,
  "gromox-pop3": exmdb,
  "gromox-delivery": exmdb,
  "gromox-delivery-queue": none,
  "gromox-event": none,
  "gromox-timer": none,
  "grommunio-admin-api": both(exmdb, (t) => [t.hub]),
  "grommunio-web": none,
  postfix: (t) => POSTFIX_PORTS.flatMap((p) => t.clientsOf(p)),
  rspamd: none,
  opendkim: none,
  "load-balancer": (t) => {
    const named = new Set<string>();
    for (const members of t.loadBalancer?.pools.values() ?? []) for (const m of members) named.add(m.address);
    return t.nodes.filter((n) => named.has(n.hostname));
  },
  mariadb: none,
  "nfs-server": none,
  "store-export": none,
  sshd: none,
};

/**
 * The hosts file for `node`: the loopback lines, then one line per listed node, sorted by
 * address: its private IPv4 address and FQDN, and for the node itself also its short name.
 */
export function renderHosts(topology: Topology, node: ClusterNode): ConfigFile {
  const listed = new Set(listedNodes(topology, node).map((n) => n.name));
  const whom = node.runs("postfix")
    ? "this node, the nodes it dials by name and the clients postfix looks up"
    : "this node and the nodes it dials by name";
  const header = `# /etc/hosts of ${node.hostname}, generated by cdktf-grommunio: ${whom}, by private address.`;
  const lines = entries(topology)
    .filter((e) => listed.has(e.n.name))
    .map((e) => (e.n.name === node.name ? ownLine(node) : e.line));
  return { ...HOSTS_FILE, content: [header, ...LOCAL_LINES, ...lines].join("\n") + "\n" };
}

/** The nodes `node`'s hosts file lists (itself first, then in no particular order): see the module comment. */
export function listedNodes(topology: Topology, node: ClusterNode): ClusterNode[] {
  const out = new Set<ClusterNode>([node]);
  for (const d of node.daemons) for (const n of NAME_LOOKUPS[d](topology, node)) out.add(n);
  if (PORTS.mysql.clients.some((d) => node.runs(d))) for (const n of database(topology)) out.add(n);
  return [...out];
}

/** `ip fqdn short` for the node itself (the short name only when the host name has a dot). */
function ownLine(node: ClusterNode): string {
  const short = node.hostname.split(".")[0]!;
  return [node.ipv4, node.hostname, ...(short !== node.hostname ? [short] : [])].join(" ");
}

interface Entry {
  readonly n: ClusterNode;
  readonly ip: number;
  /** `ip fqdn`: the node as a peer. */
  readonly line: string;
}

/** Every cluster node's peer line, sorted by address; computed once per topology. */
const entriesCache = new WeakMap<Topology, readonly Entry[]>();

function entries(topology: Topology): readonly Entry[] {
  let list = entriesCache.get(topology);
  if (list === undefined) {
    list = topology.nodes
      .map((n) => ({ n, ip: parseIpv4(n.ipv4)!, line: `${n.ipv4} ${n.hostname}` }))
      .sort((a, b) => a.ip - b.ip);
    entriesCache.set(topology, list);
  }
  return list;
}
