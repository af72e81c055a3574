/**
 * One test per validation code that buildTopology emits (GRX001–GRX042, and the database-account
 * codes from GRX050): each case is a minimal mutation of the documented layout that must yield
 * exactly that code, at the right path and field, with a message naming the offending value and a
 * fix. Then: all issues are collected, no mistake hides another or causes a follow-on issue, and
 * an invalid cluster never yields a topology.
 */
import fc from "fast-check";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  ClusterInput,
  DATABASE_PASSWORD_MAX_BYTES,
  GrommunioValidationError,
  NodeInput,
  OPTION_FILE_LINE_MAX_BYTES,
  ValidationIssue,
  buildTopology,
  optionFileValueBytes,
  validateCluster,
} from "../../lib/topology";
import { documentedLayout, largeLayout } from "../fixtures";

// ---------------------------------------------------------------------------------------------
// Helpers: small, composable mutations of a ClusterInput. Invalid values are cast on purpose:
// constructs written in JavaScript (or jsii languages) can hand in anything.

type Mutation = (input: ClusterInput) => ClusterInput;

/** Patches one node by name (the node must exist). */
function node(name: string, patch: Record<string, unknown>): Mutation {
  return (input) => {
    if (!input.nodes.some((n) => n.name === name)) throw new Error(`fixture has no node ${name}`);
    return {
      ...input,
      nodes: input.nodes.map((n) => (n.name === name ? { ...n, ...patch } : n)),
    };
  };
}

function withoutNodes(...names: string[]): Mutation {
  return (input) => ({ ...input, nodes: input.nodes.filter((n) => !names.includes(n.name)) });
}

function cluster(patch: Record<string, unknown>): Mutation {
  return (input) => ({ ...input, ...patch });
}

function lb(patch: Record<string, unknown>): Mutation {
  return (input) => ({ ...input, loadBalancer: { ...input.loadBalancer!, ...patch } });
}

function db(patch: Record<string, unknown>): Mutation {
  return (input) => ({ ...input, database: { ...input.database, ...patch } });
}

function replaceDb(database: unknown): Mutation {
  return (input) => ({ ...input, database }) as unknown as ClusterInput;
}

function apply(input: ClusterInput, ...mutations: Mutation[]): ClusterInput {
  return mutations.reduce((acc, m) => m(acc), input);
}

/** buildTopology must throw a GrommunioValidationError; returns it. */
function buildError(input: ClusterInput): GrommunioValidationError {
  let result: unknown;
  try {
    result = buildTopology(input);
  } catch (e) {
    expect(e).toBeInstanceOf(GrommunioValidationError);
    return e as GrommunioValidationError;
  }
  throw new Error(`buildTopology returned a topology for an invalid cluster: ${typeof result}`);
}

/** The smallest valid cluster: one mailbox node, an external database, no load balancer. */
function singleNode(overrides: Partial<ClusterInput> = {}): ClusterInput {
  return {
    domain: "gro.at",
    gromoxVersion: "3.10",
    storage: "share-nothing",
    network: { cidr: "10.10.10.0/24" },
    database: { host: "db.gro.at", password: "db-secret" },
    nodes: [{ name: "mail1", hostname: "mail1.gro.at", roles: ["mailbox"], ipv4: "10.10.10.20", serverId: 1 }],
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------------
// The catalogue: every case produces exactly one code (except where noted with `also`).

interface Case {
  readonly code: string;
  readonly title: string;
  readonly base?: () => ClusterInput;
  readonly mutate: Mutation[];
  readonly path: string;
  readonly field: string;
  /** Substrings the message must contain (the offending value, or what is missing). */
  readonly message: readonly string[];
  /** Substrings the fix must contain, besides being non-empty. */
  readonly fix?: readonly string[];
  /** Codes that necessarily come with this one (the mistake cannot be made alone). */
  readonly also?: readonly string[];
  /** Substrings that must NOT appear in message or fix (secrets). */
  readonly secret?: string;
}

const N = (name: string) => `cluster/nodes/${name}`;
const LB = "cluster/loadBalancer";

const CASES: readonly Case[] = [
  // --- cluster fields ---
  {
    code: "GRX001",
    title: "upper-case domain",
    mutate: [cluster({ domain: "Gro.at" })],
    path: "cluster",
    field: "domain",
    message: ['"Gro.at"'],
    fix: ["example.com"],
  },
  {
    code: "GRX001",
    title: "single-label domain",
    mutate: [cluster({ domain: "localdomain" })],
    path: "cluster",
    field: "domain",
    message: ['"localdomain"'],
  },
  {
    code: "GRX002",
    title: "gromox newer than checked",
    mutate: [cluster({ gromoxVersion: "3.11" })],
    path: "cluster",
    field: "gromoxVersion",
    message: ['"3.11"'],
    fix: ["2.30", "3.10"],
  },
  {
    code: "GRX002",
    title: "gromox older than 2.30",
    mutate: [cluster({ gromoxVersion: "2.29" })],
    path: "cluster",
    field: "gromoxVersion",
    message: ['"2.29"'],
  },
  {
    code: "GRX002",
    title: "not a version",
    mutate: [cluster({ gromoxVersion: "abc" })],
    path: "cluster",
    field: "gromoxVersion",
    message: ['"abc"'],
  },
  {
    code: "GRX003",
    title: "unknown storage mode",
    mutate: [cluster({ storage: "nfs" })],
    path: "cluster",
    field: "storage",
    message: ['"nfs"'],
    fix: ["shared", "share-nothing"],
  },
  {
    code: "GRX004",
    title: "host bits set in network",
    mutate: [cluster({ network: { cidr: "10.10.10.1/24" } })],
    path: "cluster",
    field: "network.cidr",
    message: ['"10.10.10.1/24"'],
  },
  {
    code: "GRX004",
    title: "network without prefix",
    base: singleNode,
    mutate: [cluster({ network: { cidr: "10.10.10.0" } })],
    path: "cluster",
    field: "network.cidr",
    message: ['"10.10.10.0"'],
  },
  {
    code: "GRX005",
    title: "network smaller than a /29",
    base: singleNode,
    mutate: [cluster({ network: { cidr: "10.10.10.20/30" } }), node("mail1", { ipv4: "10.10.10.22" })],
    path: "cluster",
    field: "network.cidr",
    message: ["10.10.10.20/30", "1 usable addresses for 1 nodes"],
    fix: ["larger network"],
  },
  {
    code: "GRX006",
    title: "x500 org name too long",
    mutate: [cluster({ x500OrgName: "x".repeat(65) })],
    path: "cluster",
    field: "x500OrgName",
    message: ["x".repeat(65)],
  },
  {
    code: "GRX006",
    title: "x500 org name with a line break",
    mutate: [cluster({ x500OrgName: "Gro\nAT" })],
    path: "cluster",
    field: "x500OrgName",
    message: ["Gro\nAT"],
  },
  {
    code: "GRX006",
    title: "x500 org name with a blank at its end (gromox trims it)",
    mutate: [cluster({ x500OrgName: "Gro AT " })],
    path: "cluster",
    field: "x500OrgName",
    message: ['"Gro AT "', "no blank at either end"],
  },
  {
    code: "GRX006",
    title: "x500 org name with a tab at its start (gromox trims C isspace() blanks)",
    mutate: [cluster({ x500OrgName: "\tGro AT" })],
    path: "cluster",
    field: "x500OrgName",
    message: ['"\tGro AT"', "no blank at either end"],
  },
  {
    code: "GRX006",
    title: "empty x500 org name",
    mutate: [cluster({ x500OrgName: "" })],
    path: "cluster",
    field: "x500OrgName",
    message: ['""'],
  },

  // --- nodes ---
  {
    code: "GRX007",
    title: "node name not a DNS label",
    mutate: [node("mail2", { name: "Mail_2" })],
    path: N("Mail_2"),
    field: "name",
    message: ['"Mail_2"'],
    fix: ["DNS label"],
  },
  {
    code: "GRX008",
    title: "node name used twice",
    mutate: [node("mail2", { name: "mail1" })],
    path: N("mail1"),
    field: "name",
    message: ['"mail1"', "twice"],
  },
  {
    code: "GRX009",
    title: "host name not an FQDN",
    mutate: [node("mail2", { hostname: "mail2" })],
    path: N("mail2"),
    field: "hostname",
    message: ['"mail2"'],
    fix: ['"mail2.gro.at"'],
  },
  {
    code: "GRX009",
    title: "upper-case host name",
    mutate: [node("mail2", { hostname: "Mail2.gro.at" })],
    path: N("mail2"),
    field: "hostname",
    message: ['"Mail2.gro.at"'],
  },
  {
    code: "GRX010",
    title: "host name used twice",
    mutate: [node("mail2", { hostname: "mail1.gro.at" })],
    path: N("mail2"),
    field: "hostname",
    message: ['"mail1.gro.at"', '"mail1"'],
  },
  {
    code: "GRX011",
    title: "unknown role",
    mutate: [node("classic1", { roles: ["web"] })],
    path: N("classic1"),
    field: "roles",
    message: ['"web"'],
    fix: ["mailbox", "classic", "load-balancer"],
  },
  {
    code: "GRX011",
    title: "no role",
    mutate: [node("classic1", { roles: [] })],
    path: N("classic1"),
    field: "roles",
    message: ["no role"],
  },
  {
    code: "GRX044",
    title: "load balancer and classic roles on one node (both on port 25)",
    mutate: [node("classic1", { roles: ["classic", "load-balancer"] })],
    path: N("classic1"),
    field: "roles",
    message: ['"classic"', '"load-balancer"', "port 25"],
  },
  {
    code: "GRX044",
    title: "load balancer and mailbox roles on one node (both on port 443: the LB frontend and the mailbox nginx)",
    mutate: [node("mail2", { roles: ["mailbox", "load-balancer"] })],
    path: N("mail2"),
    field: "roles",
    message: ['"mailbox"', '"load-balancer"', "port 443", "mailboxWeb"],
  },
  {
    code: "GRX045",
    title: "acceptProxyFrom with a bad entry",
    mutate: [lb({ acceptProxyFrom: ["192.0.2.0/28", "proxy.example.com"] })],
    path: "cluster/loadBalancer",
    field: "acceptProxyFrom",
    message: ['"proxy.example.com"'],
  },
  {
    code: "GRX045",
    title: "acceptProxyFrom with an IPv4-mapped IPv6 network",
    mutate: [lb({ acceptProxyFrom: ["::ffff:192.0.2.0/124"] })],
    path: "cluster/loadBalancer",
    field: "acceptProxyFrom",
    message: ['"::ffff:192.0.2.0/124"', "IPv4-mapped"],
    fix: ["192.0.2.0/28"],
  },
  {
    code: "GRX045",
    title: "acceptProxyFrom empty",
    mutate: [lb({ acceptProxyFrom: [] })],
    path: "cluster/loadBalancer",
    field: "acceptProxyFrom",
    message: ["empty"],
  },
  {
    code: "GRX043",
    title: "negative reserved address count",
    mutate: [cluster({ network: { cidr: "10.10.10.0/24", reservedLow: -1 } })],
    path: "cluster",
    field: "network.reservedLow",
    message: ["-1"],
  },
  {
    code: "GRX012",
    title: "IPv4 with a leading zero",
    mutate: [node("classic1", { ipv4: "10.10.10.050" })],
    path: N("classic1"),
    field: "ipv4",
    message: ['"10.10.10.050"'],
  },
  {
    code: "GRX012",
    title: "IPv6 given as ipv4",
    mutate: [node("classic1", { ipv4: "2001:db8::50" })],
    path: N("classic1"),
    field: "ipv4",
    message: ['"2001:db8::50"'],
  },
  {
    code: "GRX013",
    title: "address outside the network",
    mutate: [node("classic1", { ipv4: "10.10.11.50" })],
    path: N("classic1"),
    field: "ipv4",
    message: ["10.10.11.50", "10.10.10.0/24"],
  },
  {
    code: "GRX014",
    title: "gateway address",
    mutate: [node("classic1", { ipv4: "10.10.10.1" })],
    path: N("classic1"),
    field: "ipv4",
    message: ["10.10.10.1 "],
    fix: ["10.10.10.2", "10.10.10.254"],
  },
  {
    code: "GRX014",
    title: "broadcast address",
    mutate: [node("classic1", { ipv4: "10.10.10.255" })],
    path: N("classic1"),
    field: "ipv4",
    message: ["10.10.10.255"],
    fix: ["10.10.10.2", "10.10.10.254"],
  },
  {
    code: "GRX014",
    title: "address in a larger reservedLow",
    mutate: [cluster({ network: { cidr: "10.10.10.0/24", reservedLow: 16 } }), node("lb1", { ipv4: "10.10.10.15" })],
    path: N("lb1"),
    field: "ipv4",
    message: ["10.10.10.15"],
    fix: ["10.10.10.16"],
  },
  {
    code: "GRX015",
    title: "address used twice",
    mutate: [node("classic1", { ipv4: "10.10.10.20" })],
    path: N("classic1"),
    field: "ipv4",
    message: ["10.10.10.20", '"mail1"'],
  },
  {
    code: "GRX016",
    title: "invalid IPv6",
    mutate: [node("mail2", { ipv6: "2001:db8::g" })],
    path: N("mail2"),
    field: "ipv6",
    message: ['"2001:db8::g"'],
  },
  {
    code: "GRX016",
    title: "IPv6 with two ::",
    mutate: [node("mail2", { ipv6: "2001::db8::1" })],
    path: N("mail2"),
    field: "ipv6",
    message: ['"2001::db8::1"'],
  },
  {
    code: "GRX017",
    title: "serverId above TINYINT",
    mutate: [node("mail2", { serverId: 256 })],
    path: N("mail2"),
    field: "serverId",
    message: ["256", "255"],
  },
  {
    code: "GRX017",
    title: "serverId 0",
    mutate: [node("mail2", { serverId: 0 })],
    path: N("mail2"),
    field: "serverId",
    message: ["got 0"],
  },
  {
    code: "GRX017",
    title: "fractional serverId",
    mutate: [node("mail2", { serverId: 2.5 })],
    path: N("mail2"),
    field: "serverId",
    message: ["2.5"],
  },
  {
    code: "GRX017",
    title: "mailbox node without serverId",
    mutate: [node("mail2", { serverId: undefined })],
    path: N("mail2"),
    field: "serverId",
    message: ["undefined"],
  },
  {
    code: "GRX018",
    title: "serverId used twice",
    mutate: [node("mail2", { serverId: 1 })],
    path: N("mail2"),
    field: "serverId",
    message: ["servers.id 1 ", '"mail1"'],
  },
  {
    code: "GRX019",
    title: "externalName not an FQDN",
    mutate: [node("mail2", { externalName: "mail2" })],
    path: N("mail2"),
    field: "externalName",
    message: ['"mail2"'],
  },

  // --- cluster shape ---
  {
    code: "GRX020",
    title: "no mailbox node",
    mutate: [withoutNodes("mail1", "mail2", "mail3", "classic1")],
    path: "cluster",
    field: "nodes",
    message: ["no mailbox node"],
  },
  {
    code: "GRX022",
    title: "classic nodes without a mailbox node",
    mutate: [withoutNodes("mail1", "mail2", "mail3")],
    path: "cluster",
    field: "nodes",
    message: ["classic nodes"],
    also: ["GRX020"],
  },
  {
    code: "GRX023",
    title: "hub not a node",
    mutate: [cluster({ hub: "mail9" })],
    path: "cluster",
    field: "hub",
    message: ['"mail9"'],
    fix: ["mail1, mail2, mail3"],
  },
  {
    code: "GRX024",
    title: "hub not a mailbox node",
    mutate: [cluster({ hub: "classic1" })],
    path: "cluster",
    field: "hub",
    message: ['"classic1"'],
  },
  {
    code: "GRX025",
    title: "schemaUpgradeNode not a mailbox node",
    mutate: [cluster({ schemaUpgradeNode: "classic1" })],
    path: "cluster",
    field: "schemaUpgradeNode",
    message: ['"classic1"'],
  },
  {
    code: "GRX025",
    title: "schemaUpgradeNode not a node",
    mutate: [cluster({ schemaUpgradeNode: "mail9" })],
    path: "cluster",
    field: "schemaUpgradeNode",
    message: ['"mail9"'],
  },

  // --- database ---
  {
    code: "GRX026",
    title: "database name with a hyphen",
    mutate: [db({ name: "grom-munio" })],
    path: "cluster",
    field: "database.name",
    message: ['"grom-munio"'],
  },
  {
    code: "GRX027",
    title: "database user too long",
    mutate: [db({ user: "u".repeat(33) })],
    path: "cluster",
    field: "database.user",
    message: ["u".repeat(33)],
  },
  {
    code: "GRX027",
    title: "database user with a quote",
    mutate: [db({ user: "gro'mmunio" })],
    path: "cluster",
    field: "database.user",
    message: ['"gro\'mmunio"'],
  },
  {
    code: "GRX028",
    title: "empty password",
    mutate: [db({ password: "" })],
    path: "cluster",
    field: "database.password",
    message: ["missing"],
  },
  {
    code: "GRX028",
    title: "password spanning lines",
    mutate: [db({ password: "top\nsecret-value" })],
    path: "cluster",
    field: "database.password",
    message: ["spans lines"],
    secret: "secret-value",
  },
  {
    code: "GRX028",
    title: "password longer than db.cnf's line can carry (4083 UTF-8 bytes, not characters)",
    mutate: [db({ password: "secret-value" + "\u20ac".repeat(1358) })],
    path: "cluster",
    field: "database.password",
    message: ["4083 bytes", "option-file reader", "4094 bytes of a line"],
    secret: "secret-value",
  },
  {
    code: "GRX028",
    title: "password that db.cnf's escapes make too long (a double quote takes two bytes there)",
    mutate: [db({ password: "secret-value" + '"'.repeat(2036) })],
    path: "cluster",
    field: "database.password",
    message: ["4083 bytes", "counted twice"],
    secret: "secret-value",
  },
  {
    code: "GRX028",
    title: "password with a blank at its start (gromox and postfix trim it)",
    mutate: [db({ password: " secret-value" })],
    path: "cluster",
    field: "database.password",
    message: ["drop blanks around a value", "another password"],
    secret: "secret-value",
  },
  {
    code: "GRX028",
    title: "password with a blank at its end",
    mutate: [db({ password: "secret-value " })],
    path: "cluster",
    field: "database.password",
    message: ["drop blanks around a value", "another password"],
    secret: "secret-value",
  },
  {
    code: "GRX028",
    title: "password with a form feed at its end (C isspace(), which both readers trim)",
    mutate: [db({ password: "secret-value\f" })],
    path: "cluster",
    field: "database.password",
    message: ["drop blanks around a value", "another password"],
    secret: "secret-value",
  },
  {
    code: "GRX029",
    title: "database node not in the cluster",
    mutate: [db({ node: "db2" })],
    path: "cluster",
    field: "database.node",
    message: ['"db2"', "not a node"],
  },
  {
    code: "GRX029",
    title: "database node without the role",
    mutate: [db({ node: "classic1" })],
    path: "cluster",
    field: "database.node",
    message: ['"classic1"', "database role"],
  },
  {
    code: "GRX030",
    title: "two database nodes",
    mutate: [node("classic1", { roles: ["classic", "database"] })],
    path: "cluster",
    field: "nodes",
    message: ["2 nodes"],
  },
  {
    code: "GRX030",
    title: "database node with an external database",
    mutate: [replaceDb({ host: "db.gro.at", password: "x" })],
    path: "cluster",
    field: "nodes",
    message: ["external"],
  },
  {
    code: "GRX031",
    title: "external database host not a name",
    base: singleNode,
    mutate: [replaceDb({ host: "db host", password: "x" })],
    path: "cluster",
    field: "database.host",
    message: ['"db host:3306"'],
  },
  {
    code: "GRX031",
    title: "external database port out of range",
    base: singleNode,
    mutate: [replaceDb({ host: "10.1.2.3", port: 70000, password: "x" })],
    path: "cluster",
    field: "database.host",
    message: ['"10.1.2.3:70000"'],
  },
  {
    code: "GRX032",
    title: "database neither on a node nor external",
    mutate: [replaceDb({ password: "x" })],
    path: "cluster",
    field: "database",
    message: ["no database"],
    fix: ["node", "host"],
  },

  // --- the load balancers' read-only database account ---
  {
    code: "GRX050",
    title: "map reader is the database user",
    mutate: [db({ mapReaderUser: "grommunio", mapReaderPassword: "map-secret" })],
    path: "cluster",
    field: "database.mapReaderUser",
    message: ['"grommunio"', "database.user"],
    fix: ["grommunio_map"],
  },
  {
    code: "GRX050",
    title: "map reader user with a hyphen",
    mutate: [db({ mapReaderUser: "map-reader", mapReaderPassword: "map-secret" })],
    path: "cluster",
    field: "database.mapReaderUser",
    message: ['"map-reader"'],
  },
  {
    code: "GRX051",
    title: "map reader without a password",
    mutate: [db({ mapReaderUser: "grommunio_map" })],
    path: "cluster",
    field: "database.mapReaderPassword",
    message: ["mapReaderUser", "mapReaderPassword"],
  },
  {
    code: "GRX051",
    title: "map reader password spanning lines",
    mutate: [db({ mapReaderPassword: "map\nsecret-value" })],
    path: "cluster",
    field: "database.mapReaderPassword",
    message: ["spans lines"],
    secret: "secret-value",
  },
  {
    code: "GRX052",
    title: "InnoDB buffer pool size in a form MariaDB does not read",
    mutate: [db({ innodbBufferPoolSize: "12 GB" })],
    path: "cluster",
    field: "database.innodbBufferPoolSize",
    message: ['"12 GB"'],
  },

  // --- load-balancer tier ---
  {
    code: "GRX033",
    title: "load-balancer role without a tier",
    mutate: [cluster({ loadBalancer: undefined })],
    path: "cluster",
    field: "loadBalancer",
    message: ['"lb1"'],
  },
  {
    code: "GRX034",
    title: "tier without a node",
    mutate: [withoutNodes("lb1")],
    path: LB,
    field: "nodes",
    message: ["no node"],
  },
  {
    code: "GRX035",
    title: "unknown flavour",
    mutate: [lb({ flavor: "traefik" })],
    path: LB,
    field: "flavor",
    message: ['"traefik"'],
    fix: ["haproxy", "nginx"],
  },
  {
    code: "GRX036",
    title: "public name not an FQDN",
    mutate: [lb({ publicName: "mail" })],
    path: LB,
    field: "publicName",
    message: ['"mail"'],
  },
  {
    code: "GRX037",
    title: "empty admin allow list",
    mutate: [lb({ adminAllowFrom: [] })],
    path: LB,
    field: "adminAllowFrom",
    message: ["empty allow list"],
  },
  {
    code: "GRX038",
    title: "admin allow entry not a CIDR",
    mutate: [lb({ adminAllowFrom: ["203.0.113.0/24", "everyone"] })],
    path: LB,
    field: "adminAllowFrom",
    message: ['"everyone"'],
  },
  {
    code: "GRX038",
    title: "admin allow entry an IPv4-mapped IPv6 address",
    mutate: [lb({ adminAllowFrom: ["203.0.113.0/24", "::ffff:198.51.100.7"] })],
    path: LB,
    field: "adminAllowFrom",
    message: ['"::ffff:198.51.100.7"', "IPv4-mapped"],
    fix: ["198.51.100.7"],
  },
  {
    code: "GRX038",
    title: "admin allow prefix too long",
    mutate: [lb({ adminAllowFrom: ["203.0.113.0/33"] })],
    path: LB,
    field: "adminAllowFrom",
    message: ['"203.0.113.0/33"'],
  },
  {
    code: "GRX039",
    title: "nginx with PROXY to gromox-imap",
    mutate: [lb({ flavor: "nginx", proxyProtocol: { imap: true, pop3: false } })],
    path: LB,
    field: "proxyProtocol",
    message: ["v1", "v2"],
    fix: ["proxyProtocol.imap"],
  },
  {
    code: "GRX039",
    title: "nginx with PROXY to gromox-pop3",
    mutate: [lb({ flavor: "nginx", proxyProtocol: { pop3: true } })],
    path: LB,
    field: "proxyProtocol",
    message: ["nginx"],
  },
  {
    code: "GRX040",
    title: "unknown pool",
    mutate: [lb({ pools: { web: [{ name: "web1", address: "10.10.10.70", port: 443 }] } })],
    path: LB,
    field: "pools.web",
    message: ['"web"'],
    fix: ["chat", "meet"],
  },
  {
    code: "GRX041",
    title: "empty pool",
    mutate: [lb({ pools: { chat: [] } })],
    path: LB,
    field: "pools.chat",
    message: ['"chat"'],
  },
  {
    code: "GRX042",
    title: "pool server name with a space",
    mutate: [lb({ pools: { chat: [{ name: "chat 1", address: "10.10.10.70", port: 8065 }] } })],
    path: LB,
    field: "pools.chat",
    message: ['"chat 1"', "10.10.10.70:8065"],
  },
  {
    code: "GRX042",
    title: "pool server port 0",
    mutate: [lb({ pools: { meet: [{ name: "meet1", address: "meet1.gro.at", port: 0 }] } })],
    path: LB,
    field: "pools.meet",
    message: ['"meet1.gro.at:0"'],
  },
  {
    code: "GRX042",
    title: "pool server address not a host",
    mutate: [lb({ pools: { files: [{ name: "files1", address: "files 1", port: 443 }] } })],
    path: LB,
    field: "pools.files",
    message: ['"files 1:443"'],
  },
];

/**
 * The codes the topology raises: quoted literals in lib/topology (build.ts and the files it calls),
 * so that a code mentioned only in a comment does not count.
 */
function sourceCodes(): string[] {
  const dir = join(__dirname, "../../lib/topology");
  const codes = new Set<string>();
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    for (const m of readFileSync(join(dir, f), "utf8").matchAll(/["'`](GRX\d{3})["'`]/g)) codes.add(m[1]!);
  }
  return [...codes].sort();
}

/** Cases for codes the source raises (cases for a code still being added elsewhere wait for it). */
const RAISED = new Set(sourceCodes());
const ACTIVE = CASES.filter((c) => RAISED.has(c.code));

describe("fixtures", () => {
  it("validateCluster returns [] for the documented layout", () => {
    expect(validateCluster(documentedLayout())).toEqual([]);
  });
  it("validateCluster returns [] for the large layout", () => {
    expect(validateCluster(largeLayout())).toEqual([]);
  });
  it("validateCluster returns [] for the single-node base of the GRX005/GRX031 cases", () => {
    expect(validateCluster(singleNode())).toEqual([]);
  });
  it("every case base is valid before its mutation", () => {
    for (const c of ACTIVE) expect(validateCluster((c.base ?? documentedLayout)())).toEqual([]);
  });
});

describe.each(ACTIVE)("$code: $title", (c) => {
  const input = apply((c.base ?? documentedLayout)(), ...c.mutate);
  const err = buildError(input);

  it("throws exactly this code", () => {
    expect(err.codes).toEqual([...new Set([c.code, ...(c.also ?? [])])].sort());
    expect(err.issues.filter((i) => i.code === c.code)).toHaveLength(1);
  });

  it("names the path and the field", () => {
    const issue = err.issues.find((i) => i.code === c.code)!;
    expect(issue.path).toBe(c.path);
    expect(issue.field).toBe(c.field);
  });

  it("names the offending value and gives a fix", () => {
    const issue = err.issues.find((i) => i.code === c.code)!;
    for (const s of c.message) expect(issue.message).toContain(s);
    expect(issue.fix.trim().length).toBeGreaterThan(10);
    for (const s of c.fix ?? []) expect(issue.fix).toContain(s);
    if (c.secret) {
      expect(issue.message).not.toContain(c.secret);
      expect(issue.fix).not.toContain(c.secret);
      expect(err.message).not.toContain(c.secret);
    }
  });

  it("is in the thrown error's text", () => {
    expect(err.message).toContain(`[${c.code}] ${c.path} ${c.field}:`);
  });

  it("validateCluster reports the same issues without throwing", () => {
    expect(validateCluster(input)).toEqual([...err.issues]);
  });
});

describe("coverage of the catalogue", () => {
  it("every code raised in lib/topology has a case", () => {
    const tested = new Set([...CASES.map((c) => c.code), "GRX021"]);
    expect(sourceCodes().filter((code) => !tested.has(code))).toEqual([]);
  });
  it("the topology raises GRX001–GRX042, and only codes of its range GRX001–GRX099", () => {
    const expected = Array.from({ length: 42 }, (_, i) => `GRX${String(i + 1).padStart(3, "0")}`);
    expect(sourceCodes()).toEqual(expect.arrayContaining(expected));
    for (const code of sourceCodes()) expect(Number(code.slice(3))).toBeLessThanOrEqual(99);
  });
});

describe("values gromox and postfix read literally are accepted (docs/config-values.md)", () => {
  it.each([
    ["a blank before #", "abc #1"],
    ["a quote first", "'x"],
    ["double quotes around it", '"quoted"'],
    ["an equals sign", "a=b"],
    ["a backslash and a dollar", "back\\slash $HOME"],
    ["# first", "#1secret"],
    ["a no-break space at its end (no C isspace() byte)", "secret\u00a0"],
  ])("database password with %s", (_, password) => {
    expect(validateCluster(documentedLayout({ database: { node: "db1", password } }))).toEqual([]);
  });
  it.each([
    ["a blank before #", "Gro #1"],
    ["quotes", `"Gro" 'AT'`],
    ["an equals sign", "Gro=AT"],
  ])("x500 org name with %s", (_, x500OrgName) => {
    expect(validateCluster(documentedLayout({ x500OrgName }))).toEqual([]);
  });
});

describe("the database password's length: db.cnf's password=\"…\" line, not gromox (docs/config-values.md)", () => {
  const valid = (password: string) => validateCluster(documentedLayout({ database: { node: "db1", password } }));
  it('the limit is MariaDB\'s 4094-byte option-file line less password=""', () => {
    expect([OPTION_FILE_LINE_MAX_BYTES, DATABASE_PASSWORD_MAX_BYTES]).toEqual([4094, 4083]);
  });
  it.each([
    ["256 bytes (more than gromox's pre-2.22 reader kept)", "p".repeat(256)],
    ["4083 ASCII bytes", "p".repeat(4083)],
    ["1361 euro signs (4083 UTF-8 bytes)", "\u20ac".repeat(1361)],
    ["quotes and a backslash counted twice, 4083 bytes escaped", '"\\' + "p".repeat(4077) + '"'],
  ])("accepts %s", (_, password) => {
    expect(valid(password)).toEqual([]);
  });
  it.each([
    ["4084 ASCII bytes", "p".repeat(4084)],
    ["1361 euro signs and one more byte", "\u20ac".repeat(1361) + "p"],
    ["4084 bytes once a tab is escaped", "p\tp" + "p".repeat(4080)],
  ])("refuses %s (GRX028)", (_, password) => {
    expect(valid(password).map((i) => [i.code, i.field])).toEqual([["GRX028", "database.password"]]);
  });
  it("optionFileValueBytes counts UTF-8 bytes, and two for each escaped character", () => {
    expect(optionFileValueBytes("p\u20ac")).toBe(4);
    expect(optionFileValueBytes('\\"\t\n\r')).toBe(10);
    expect(optionFileValueBytes("#;' =")).toBe(5);
  });
});

describe("GRX021: more mailbox nodes than servers.id can number", () => {
  // 256 mailbox nodes need 256 distinct serverIds, but TINYINT UNSIGNED stops at 255: the node
  // with serverId 256 necessarily also gets GRX017.
  const mailboxNodes: NodeInput[] = Array.from({ length: 256 }, (_, i) => ({
    name: `mail${i + 1}`,
    hostname: `mail${i + 1}.gro.at`,
    roles: ["mailbox"],
    ipv4: `10.10.${1 + Math.floor(i / 200)}.${10 + (i % 200)}`,
    serverId: i + 1,
  }));
  const input = documentedLayout({
    network: { cidr: "10.10.0.0/16" },
    nodes: [
      ...mailboxNodes,
      { name: "classic1", hostname: "classic1.gro.at", roles: ["classic"], ipv4: "10.10.0.50" },
      { name: "lb1", hostname: "lb1.gro.at", roles: ["load-balancer"], ipv4: "10.10.0.10" },
      { name: "db1", hostname: "db1.gro.at", roles: ["database"], ipv4: "10.10.0.60" },
    ],
  });
  const err = buildError(input);

  it("gives GRX021 at the cluster's nodes", () => {
    const issue = err.issues.find((i) => i.code === "GRX021");
    expect(issue).toMatchObject({ path: "cluster", field: "nodes" });
    expect(issue!.message).toContain("256 mailbox nodes");
    expect(issue!.message).toContain("255");
    expect(issue!.fix).toContain("255");
  });

  it("otherwise only the unavoidable GRX017 for serverId 256", () => {
    expect(err.codes).toEqual(["GRX017", "GRX021"]);
    expect(err.issues.find((i) => i.code === "GRX017")!.path).toBe("cluster/nodes/mail256");
  });

  it("255 mailbox nodes are fine", () => {
    const ok = { ...input, nodes: input.nodes.filter((n) => n.name !== "mail256") };
    expect(validateCluster(ok)).toEqual([]);
    expect(buildTopology(ok).mailboxNodes).toHaveLength(255);
  });
});

describe("all errors are collected in one throw", () => {
  it("four independent mistakes give four issues", () => {
    const input = apply(
      documentedLayout(),
      cluster({ domain: "Gro.at" }),
      node("mail2", { ipv4: "10.10.11.30" }),
      db({ user: "bad-user" }),
      lb({ adminAllowFrom: ["everyone"] }),
    );
    const err = buildError(input);
    expect(err.issues).toHaveLength(4);
    expect(err.issues.map((i) => i.code)).toEqual(["GRX001", "GRX013", "GRX027", "GRX038"]);
    expect(err.message).toMatch(/^4 validation errors:\n/);
    expect(err.message.split("\n")).toHaveLength(5);
  });

  it("several mistakes on one node are all reported", () => {
    const err = buildError(
      apply(
        documentedLayout(),
        node("mail2", { hostname: "mail2", ipv4: "10.10.10.300", ipv6: "x::y", serverId: 0, externalName: "ext" }),
      ),
    );
    expect(err.codes).toEqual(["GRX009", "GRX012", "GRX016", "GRX017", "GRX019"]);
    expect(new Set(err.issues.map((i) => i.path))).toEqual(new Set([N("mail2")]));
  });

  it("every pool member and every bad admin entry is reported", () => {
    const err = buildError(
      apply(
        documentedLayout(),
        lb({
          adminAllowFrom: ["a", "b", "203.0.113.0/24"],
          pools: {
            chat: [
              { name: "Chat1", address: "10.10.10.70", port: 8065 },
              { name: "chat2", address: "10.10.10.71", port: 65536 },
            ],
          },
        }),
      ),
    );
    expect(err.issues.map((i) => i.code)).toEqual(["GRX038", "GRX038", "GRX042", "GRX042"]);
  });

  // Every single-code case composes with every other case that touches other fields: a random
  // set of such mistakes must produce exactly the union of their issues (nothing lost, and no
  // follow-on issue caused by another mistake).
  const composable: readonly Case[] = [
    CASES.find((c) => c.title === "upper-case domain")!,
    CASES.find((c) => c.title === "gromox newer than checked")!,
    CASES.find((c) => c.title === "unknown storage mode")!,
    CASES.find((c) => c.title === "x500 org name too long")!,
    CASES.find((c) => c.title === "host name not an FQDN")!,
    CASES.find((c) => c.title === "unknown role")!,
    CASES.find((c) => c.title === "invalid IPv6")!,
    CASES.find((c) => c.title === "schemaUpgradeNode not a node")!,
    CASES.find((c) => c.title === "database name with a hyphen")!,
    CASES.find((c) => c.title === "empty password")!,
    CASES.find((c) => c.title === "public name not an FQDN")!,
    CASES.find((c) => c.title === "empty pool")!,
    CASES.find((c) => c.title === "admin allow entry not a CIDR")!,
  ];
  it("any combination of independent mistakes gives the union of their issues", () => {
    fc.assert(
      fc.property(fc.subarray([...composable], { minLength: 2 }), (picked) => {
        const input = apply(documentedLayout(), ...picked.flatMap((c) => c.mutate));
        const issues = validateCluster(input);
        expect(issues.map((i) => `${i.code} ${i.path} ${i.field}`).sort()).toEqual(
          picked.map((c) => `${c.code} ${c.path} ${c.field}`).sort(),
        );
        expect(() => buildTopology(input)).toThrow(GrommunioValidationError);
      }),
      { numRuns: 200 },
    );
  });
});

describe("a mistake causes no follow-on issue and hides no other one", () => {
  it("a load-balancer node with its own mistake does not empty the tier (no GRX034)", () => {
    const err = buildError(apply(documentedLayout(), node("lb1", { ipv4: "10.10.10.1" })));
    expect(err.codes).toEqual(["GRX014"]);
  });
  it("a load-balancer node with its own mistake still lacks a tier (GRX033)", () => {
    const err = buildError(
      apply(documentedLayout(), node("lb1", { ipv4: "10.10.10.1" }), cluster({ loadBalancer: undefined })),
    );
    expect(err.codes).toEqual(["GRX014", "GRX033"]);
  });
  it("a schemaUpgradeNode with its own mistake is still a mailbox node (no GRX025)", () => {
    const err = buildError(apply(documentedLayout({ schemaUpgradeNode: "mail2" }), node("mail2", { serverId: 0 })));
    expect(err.codes).toEqual(["GRX017"]);
  });
  it("a hub with its own mistake that is not a mailbox node is still GRX024", () => {
    const err = buildError(apply(documentedLayout({ hub: "classic1" }), node("classic1", { ipv4: "10.10.10.1" })));
    expect(err.codes).toEqual(["GRX014", "GRX024"]);
  });
  it("a hub with its own mistake that is a mailbox node gives only that mistake", () => {
    const err = buildError(apply(documentedLayout({ hub: "mail2" }), node("mail2", { ipv4: "10.10.10.1" })));
    expect(err.codes).toEqual(["GRX014"]);
  });
  it("a default hub with its own mistake gives only that mistake", () => {
    const err = buildError(apply(documentedLayout(), node("mail1", { ipv4: "10.10.10.1" })));
    expect(err.codes).toEqual(["GRX014"]);
  });
  it("a database node with its own mistake gives only that mistake", () => {
    const err = buildError(apply(documentedLayout(), node("db1", { hostname: "db1" })));
    expect(err.codes).toEqual(["GRX009"]);
  });
  it("a database node with its own mistake and without the role is still GRX029", () => {
    const err = buildError(apply(documentedLayout(), node("db1", { hostname: "db1", roles: ["admin"] })));
    expect(err.codes).toEqual(["GRX009", "GRX029"]);
  });
  it("a name used twice is reported even when its first user has another mistake", () => {
    const err = buildError(
      apply(documentedLayout(), node("mail1", { ipv4: "10.10.10.1" }), node("mail2", { name: "mail1" })),
    );
    expect(err.codes).toEqual(["GRX008", "GRX014"]);
    expect(err.issues.find((i) => i.code === "GRX008")!.message).toContain('"mail1"');
  });
  it("an unknown database node and two database nodes are both reported", () => {
    const err = buildError(
      apply(documentedLayout(), db({ node: "db9" }), node("classic1", { roles: ["classic", "database"] })),
    );
    expect(err.codes).toEqual(["GRX029", "GRX030"]);
  });
  it("a bad external endpoint and a database node are both reported", () => {
    const err = buildError(apply(documentedLayout(), replaceDb({ host: "db host", password: "x" })));
    expect(err.codes).toEqual(["GRX030", "GRX031"]);
  });
  it("a missing pool member address is an issue, not a crash", () => {
    const issues = validateCluster(apply(documentedLayout(), lb({ pools: { chat: [{ name: "chat1", port: 8065 }] } })));
    expect(issues.map((i) => i.code)).toEqual(["GRX042"]);
  });
  it('a missing pool member name is an issue (not the name "undefined")', () => {
    const issues = validateCluster(
      apply(documentedLayout(), lb({ pools: { chat: [{ address: "10.10.10.70", port: 8065 }] } })),
    );
    expect(issues.map((i) => i.code)).toEqual(["GRX042"]);
  });
});

describe("validation never crashes on arbitrary text fields", () => {
  it("any strings in the string fields give issues or a topology, never another exception", () => {
    const text = fc.oneof(
      fc.string(),
      fc.constantFrom("", "mail1", "10.10.10.20", "::1", "a.b", "10.10.10.0/24", "3.5"),
    );
    fc.assert(
      fc.property(
        fc.record({
          domain: text,
          gromoxVersion: text,
          cidr: text,
          x500: fc.option(text, { nil: undefined }),
          name: text,
          hostname: text,
          ipv4: text,
          ipv6: fc.option(text, { nil: undefined }),
          externalName: fc.option(text, { nil: undefined }),
          hub: fc.option(text, { nil: undefined }),
          dbNode: text,
          publicName: text,
          admin: fc.array(text, { maxLength: 3 }),
          poolName: text,
          poolAddress: text,
        }),
        (r) => {
          const input = apply(
            documentedLayout(),
            cluster({
              domain: r.domain,
              gromoxVersion: r.gromoxVersion,
              network: { cidr: r.cidr },
              x500OrgName: r.x500,
              hub: r.hub,
            }),
            node("mail2", {
              name: r.name,
              hostname: r.hostname,
              ipv4: r.ipv4,
              ipv6: r.ipv6,
              externalName: r.externalName,
            }),
            db({ node: r.dbNode }),
            lb({
              publicName: r.publicName,
              adminAllowFrom: r.admin,
              pools: { chat: [{ name: r.poolName, address: r.poolAddress, port: 443 }] },
            }),
          );
          const issues = validateCluster(input);
          if (issues.length > 0) expect(() => buildTopology(input)).toThrow(GrommunioValidationError);
          else expect(buildTopology(input).nodes.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("paths", () => {
  it("uses the cluster path given as input", () => {
    const err = buildError(
      apply(documentedLayout({ path: "stack/mail" }), node("mail2", { serverId: 0 }), lb({ publicName: "x" })),
    );
    expect(err.issues.map((i) => i.path)).toEqual(["stack/mail/nodes/mail2", "stack/mail/loadBalancer"]);
  });
  it("uses a node's own construct path when it has one", () => {
    const err = buildError(apply(documentedLayout(), node("mail2", { serverId: 0, path: "stack/mail/mail2" })));
    expect(err.issues).toEqual([expect.objectContaining({ code: "GRX017", path: "stack/mail/mail2" })]);
  });
});

describe("an invalid cluster never returns a topology", () => {
  it.each(ACTIVE.map((c) => [`${c.code} ${c.title}`, c] as const))("%s", (_, c) => {
    const input = apply((c.base ?? documentedLayout)(), ...c.mutate);
    expect(() => buildTopology(input)).toThrow(GrommunioValidationError);
  });

  it("for random combinations of mistakes", () => {
    fc.assert(
      fc.property(fc.subarray([...ACTIVE], { minLength: 1, maxLength: 6 }), (picked) => {
        const base = picked.some((c) => c.base) ? singleNode() : documentedLayout();
        let input: ClusterInput;
        try {
          input = apply(base, ...picked.flatMap((c) => c.mutate));
        } catch {
          return; // a mutation of a node the other base lacks
        }
        // Mutations can cancel out only by coincidence; require that a mistake remains.
        fc.pre(validateCluster(input).length > 0);
        let topo: unknown;
        try {
          topo = buildTopology(input);
        } catch (e) {
          expect(e).toBeInstanceOf(GrommunioValidationError);
          expect((e as GrommunioValidationError).issues.length).toBeGreaterThan(0);
          return;
        }
        throw new Error(`returned a topology: ${String(topo)}`);
      }),
      { numRuns: 300 },
    );
  });

  it("an empty input gives issues and no crash", () => {
    const err = buildError({} as ClusterInput);
    expect(err.codes).toEqual(expect.arrayContaining(["GRX001", "GRX002", "GRX003", "GRX004", "GRX020", "GRX032"]));
  });

  it("validateCluster does not throw for a cluster with issues", () => {
    const issues: ValidationIssue[] = validateCluster(apply(documentedLayout(), cluster({ domain: "x" })));
    expect(issues.map((i) => i.code)).toEqual(["GRX001"]);
  });
});
