/**
 * The cluster model: plain input types (what the constructs or a user hand in) and the validated,
 * resolved `Topology` that every renderer reads. No cdktf, no I/O.
 */
import { Daemon, PORTS, PortKey } from "./ports";
import { GromoxFeatures, GromoxVersion } from "./versions";
import { Ipv4Cidr } from "./net";

/** What a node does. A node may carry several roles (e.g. an admin API on a mailbox node). */
export type NodeRole = "mailbox" | "classic" | "load-balancer" | "database" | "admin" | "nfs";

export const NODE_ROLES: readonly NodeRole[] = ["mailbox", "classic", "load-balancer", "database", "admin", "nfs"];

export type StorageMode = "shared" | "share-nothing";

/** Optional HTTP backend pools the load-balancer tier can route to (besides the mailbox nodes). */
export type OptionalPool = "auth" | "chat" | "meet" | "files" | "office" | "archive";

export const OPTIONAL_POOLS: readonly OptionalPool[] = ["auth", "chat", "meet", "files", "office", "archive"];

export interface PoolMemberInput {
  /** Server name in the load balancer (DNS label or FQDN). */
  readonly name: string;
  /** IPv4 address or host name the load balancer connects to. */
  readonly address: string;
  readonly port: number;
  /** Connect with TLS. @default true */
  readonly tls?: boolean;
}

export interface NodeInput {
  /** Short name, a DNS label, unique in the cluster (e.g. `mail1`). Keys every resource of the node. */
  readonly name: string;
  /**
   * Internal FQDN. For mailbox nodes this is gromox `host_id` = `servers.hostname` = the
   * HAProxy server name = the value column of `mailbox.map`.
   */
  readonly hostname: string;
  readonly roles: readonly NodeRole[];
  /** Private IPv4 address, inside the cluster network, fixed at synth time. */
  readonly ipv4: string;
  /** Optional IPv6 address (public side); internal gromox traffic uses the IPv4 address. */
  readonly ipv6?: string;
  /** `servers.id` (1–255) for mailbox nodes; required for them, ignored for others. */
  readonly serverId?: number;
  /**
   * `servers.extname`: the name clients are sent to by Autodiscover.
   * @default the load balancer's public name when there is one (single point of entry), else `hostname`
   */
  readonly externalName?: string;
  /** Construct path for error messages. @default `<cluster path>/nodes/<name>` */
  readonly path?: string;
}

export interface DatabaseOnNodeInput {
  /** Name of the node with the `database` role. */
  readonly node: string;
  /**
   * MariaDB `innodb_buffer_pool_size` on that node, `<number><K|M|G>`: give 50–70 % of its RAM.
   * @default "1G" (fits a 2 GB VM; raise it on larger ones)
   */
  readonly innodbBufferPoolSize?: string;
}

export interface ExternalDatabaseInput {
  /** Host name or IPv4 address of a MariaDB/MySQL server the cluster can reach. */
  readonly host: string;
  /** @default 3306 */
  readonly port?: number;
}

export type DatabaseInput = (DatabaseOnNodeInput | ExternalDatabaseInput) & {
  /** Database name. @default "grommunio" (as the installer) */
  readonly name?: string;
  /** Database user of the gromox and postfix nodes. @default "grommunio" */
  readonly user?: string;
  /**
   * Password: a Terraform token (random_password, SSM) or, in tests, a literal. Rendered into
   * files of mode 0640/0600 only.
   */
  readonly password: string;
  /**
   * Read-only account of the load balancers' mailbox-map job: column-level SELECT on `users`,
   * `aliases`, `servers` and `domains` (never the password hashes), granted from the
   * load-balancer nodes' private addresses only (`renderMapReaderGrants`).
   * @default "grommunio_map"
   */
  readonly mapReaderUser?: string;
  /**
   * Password of `mapReaderUser` (a Terraform token, like `password`).
   * @default undefined: the account is not created, and the load balancers cannot read the database
   */
  readonly mapReaderPassword?: string;
};

export interface ProxyProtocolInput {
  /** LB sends PROXY to postfix postscreen on 25. @default true */
  readonly smtp?: boolean;
  /** LB sends PROXY to postfix submission on 587. @default true */
  readonly submission?: boolean;
  /**
   * LB sends PROXY v2 to gromox-imap on 993. gromox accepts only v2, which nginx cannot send.
   * @default true for haproxy, false for nginx
   */
  readonly imap?: boolean;
  /** Same for gromox-pop3 on 995. @default true for haproxy, false for nginx */
  readonly pop3?: boolean;
}

export interface LoadBalancerInput {
  readonly flavor: "haproxy" | "nginx";
  /** The public mail host name clients use (e.g. `mail.example.com`). */
  readonly publicName: string;
  /** Route each request to the user's home node (mailbox.map). @default false */
  readonly nodeAwareRouting?: boolean;
  /**
   * CIDRs allowed to reach the admin frontend on 8443 (host bits set are an error, GRX038).
   * @default undefined: no admin frontend at all. An empty list is an error (GRX037).
   */
  readonly adminAllowFrom?: readonly string[];
  /** The one PROXY-protocol declaration: both the LB and postfix/gromox are rendered from it. */
  readonly proxyProtocol?: ProxyProtocolInput;
  /**
   * Who sends the tier a PROXY header (v1 or v2) in front of every client connection on its public
   * frontends (25, 587, 993, 995, 80, 443; not the admin frontend): HAProxy binds them with
   * `accept-proxy`, nginx listens with `proxy_protocol` and takes the client address from the
   * header (realip). Connections without the header are refused there.
   * - `"cloud-lb"`: the platform's cloud load balancer (AWS NLB `proxy_protocol_v2`, Hetzner
   *   `proxyprotocol`), which is configured from this same field; only it can reach those ports
   *   (firewall plan), so every header is believed;
   * - CIDRs/addresses: a proxy of your own; HAProxy refuses connections from anywhere else, nginx
   *   believes headers from these only.
   * @default undefined: clients connect to the tier directly (no PROXY header expected)
   */
  readonly acceptProxyFrom?: "cloud-lb" | readonly string[];
  /** Extra HTTP pools (grommunio-chat, -meet, -files, -office, -archive, auth). */
  readonly pools?: Partial<Record<OptionalPool, readonly PoolMemberInput[]>>;
}

export interface ClusterInput {
  /** Construct path for error messages. @default "cluster" */
  readonly path?: string;
  /** The mail domain, e.g. `example.com`. */
  readonly domain: string;
  /** gromox version on the nodes (`M.m` or `M.m.p`), 2.30–3.10. Decides the config dialect. */
  readonly gromoxVersion: string;
  readonly storage: StorageMode;
  /**
   * With `share-nothing`: every mailbox node that is not the only admin node exports its maildir
   * roots (`/var/lib/gromox/{user,domain}/<hostname>`) over NFS to the admin nodes (daemon
   * `store-export`, port `storeExport`), which mount them at the same paths: the admin API creates
   * each new store on its own file system (gromox.md §5, §9). Off where machines cannot mount NFS
   * (containers). Ignored with `shared` storage.
   * @default false
   */
  readonly storeExports?: boolean;
  /** The private network, e.g. `10.10.10.0/24`. */
  readonly network: {
    readonly cidr: string;
    /** Addresses reserved at the start of the subnet (network address, gateway, …). @default 2 */
    readonly reservedLow?: number;
    /** Addresses reserved at the end of the subnet (broadcast, …). @default 1 */
    readonly reservedHigh?: number;
  };
  readonly database: DatabaseInput;
  /**
   * Node that runs the cluster's one gromox-event and gromox-timer (must be a mailbox node: the
   * timer runs zcore's PHP submit command locally).
   * @default the mailbox node with the lowest serverId
   */
  readonly hub?: string;
  /**
   * Node whose gromox-http upgrades the schema (`schema_upgrade=host:<its hostname>` on all nodes).
   * @default the hub
   */
  readonly schemaUpgradeNode?: string;
  /** `x500_org_name`, identical on all nodes. @default the domain */
  readonly x500OrgName?: string;
  readonly loadBalancer?: LoadBalancerInput;
  readonly nodes: readonly NodeInput[];
}

/** A validated node. */
export interface ClusterNode {
  readonly name: string;
  readonly hostname: string;
  readonly roles: ReadonlySet<NodeRole>;
  readonly ipv4: string;
  /** `::ffff:<ipv4>`: the form gromox allow lists and listen/connect addresses use. */
  readonly mappedIpv4: string;
  readonly ipv6?: string;
  readonly serverId?: number;
  readonly externalName: string;
  readonly path: string;
  /** The programs this node runs, sorted. */
  readonly daemons: readonly Daemon[];
  has(role: NodeRole): boolean;
  runs(daemon: Daemon): boolean;
}

export interface DatabaseEndpoint {
  /** Address gromox/postfix connect to (the database node's private IPv4, or the external host). */
  readonly host: string;
  readonly port: number;
  readonly name: string;
  readonly user: string;
  readonly password: string;
  /** The database node, when the database runs on a cluster node. */
  readonly node?: ClusterNode;
  /** The load balancers' read-only account; present when `mapReaderPassword` was given. */
  readonly mapReader?: { readonly user: string; readonly password: string };
  /** MariaDB `innodb_buffer_pool_size` of the database node (only with `node`). */
  readonly innodbBufferPoolSize?: string;
}

export interface ProxyProtocol {
  readonly smtp: boolean;
  readonly submission: boolean;
  readonly imap: boolean;
  readonly pop3: boolean;
}

export interface PoolMember {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly tls: boolean;
}

/** The PROXY header the tier expects in front of client connections (`acceptProxyFrom`). */
export interface AcceptProxy {
  /** `cloud-lb`: the platform's cloud load balancer; else the CIDRs/addresses whose headers count. */
  readonly from: "cloud-lb" | readonly string[];
  /** The frontends that expect it: every public frontend of the tier (never the admin frontend). */
  readonly frontends: readonly PortKey[];
}

export interface LoadBalancerTierSpec {
  readonly flavor: "haproxy" | "nginx";
  readonly publicName: string;
  readonly nodeAwareRouting: boolean;
  /** The networks (`canonicalCidr`, each once); undefined: no admin frontend. */
  readonly adminAllowFrom?: readonly string[];
  readonly proxyProtocol: ProxyProtocol;
  /** undefined: clients connect directly, no PROXY header is expected. */
  readonly acceptProxy?: AcceptProxy;
  readonly pools: ReadonlyMap<OptionalPool, readonly PoolMember[]>;
  readonly nodes: readonly ClusterNode[];
}

/** Everything renderers need, validated. Built by `buildTopology`. */
export interface Topology {
  readonly path: string;
  readonly domain: string;
  readonly gromoxVersion: GromoxVersion;
  readonly features: GromoxFeatures;
  readonly storage: StorageMode;
  readonly network: Ipv4Cidr;
  readonly x500OrgName: string;
  /** All nodes, sorted by name. */
  readonly nodes: readonly ClusterNode[];
  /** Mailbox nodes sorted by serverId. */
  readonly mailboxNodes: readonly ClusterNode[];
  /** Classic nodes sorted by name. */
  readonly classicNodes: readonly ClusterNode[];
  readonly adminNodes: readonly ClusterNode[];
  readonly hub: ClusterNode;
  readonly schemaUpgradeNode: ClusterNode;
  readonly database: DatabaseEndpoint;
  readonly loadBalancer?: LoadBalancerTierSpec;
  node(name: string): ClusterNode;
  /** Nodes that run a daemon, sorted by IPv4. */
  nodesRunning(daemon: Daemon): ClusterNode[];
  /** Nodes whose daemons connect to this port's server (the port's `clients`), sorted by IPv4. */
  clientsOf(port: PortKey): ClusterNode[];
  /**
   * The gromox `*_hosts_allow` value for a port: exactly `::1` followed by the `::ffff:` address
   * of every client node (sorted numerically). No CIDRs, no names, no `::`.
   */
  allowList(port: "exmdb" | "midb" | "event" | "timer"): string[];
}

/** Daemons per role (the hub adds gromox-event and gromox-timer). */
export const ROLE_DAEMONS: Readonly<Record<NodeRole, readonly Daemon[]>> = {
  mailbox: ["gromox-http", "gromox-midb", "gromox-zcore", "grommunio-web"],
  classic: ["postfix", "rspamd", "gromox-delivery-queue", "gromox-delivery", "gromox-imap", "gromox-pop3"],
  admin: ["grommunio-admin-api"],
  "load-balancer": ["load-balancer"],
  database: ["mariadb"],
  nfs: ["nfs-server"],
};

export const HUB_DAEMONS: readonly Daemon[] = ["gromox-event", "gromox-timer"];

/**
 * Daemons a mailbox node runs with share-nothing storage when an admin node other than itself
 * exists (`ClusterInput.storeExports`): the NFS server of its store roots, for the admin nodes.
 */
export const STORE_EXPORT_DAEMONS: readonly Daemon[] = ["store-export"];

/**
 * Daemons a role runs only when the cluster configures them beyond the topology: `opendkim` on
 * classic nodes when `GrommunioCluster.addDns` signs with DKIM (lib/render/dkim). Never in
 * `ClusterNode.daemons`; provisioning adds the package and unit with the daemon's files.
 */
export const OPTIONAL_DAEMONS: Readonly<Partial<Record<NodeRole, readonly Daemon[]>>> = { classic: ["opendkim"] };

/** Port keys whose server daemon runs on the node (what the node listens on). */
export function listeningPorts(node: ClusterNode): PortKey[] {
  return (Object.keys(PORTS) as PortKey[]).filter((k) => node.runs(PORTS[k].server));
}
