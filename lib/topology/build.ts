/**
 * Validation and resolution of a `ClusterInput` into a `Topology`. Every problem is collected;
 * nothing is rendered from an invalid cluster.
 */
import { GrommunioValidationError, IssueCollector, ValidationIssue } from "./errors";
import {
  AcceptProxy,
  ClusterInput,
  ClusterNode,
  DatabaseEndpoint,
  HUB_DAEMONS,
  LoadBalancerInput,
  LoadBalancerTierSpec,
  NODE_ROLES,
  NodeInput,
  NodeRole,
  OPTIONAL_POOLS,
  OptionalPool,
  PoolMember,
  ROLE_DAEMONS,
  STORE_EXPORT_DAEMONS,
  Topology,
} from "./model";
import {
  allowEntryProblem,
  canonicalCidr,
  canonicalIpv6,
  cidrContains,
  formatIpv4,
  isCidrOrAddress,
  isDnsLabel,
  isFqdn,
  mappedIpv6,
  parseIpv4,
  parseIpv4Cidr,
} from "./net";
import { Daemon, PORTS, PortKey } from "./ports";
import { resolveInnodbBufferPool, resolveMapReader } from "./database-accounts";
import { NEWEST_GROMOX, OLDEST_GROMOX, gromoxFeatures, isKnownGromoxVersion, parseGromoxVersion } from "./versions";

/** `servers.id` is an unsigned TINYINT. */
export const MAX_MAILBOX_SERVERS = 255;

/** Characters that would break a `key=value` line or a postfix/haproxy line. */
const UNSAFE_VALUE = /[\r\n\0]/;

/**
 * The blanks that gromox and postfix drop around a value they read from a `key=value` line: the
 * ASCII whitespace of C's isspace() (space, tab, LF, VT, FF, CR). Everything between them is read
 * literally: `#` is a comment only where a line starts with it, quotes are not stripped, `\` is
 * no escape, a further `=` is part of the value. Sources (docs/config-values.md):
 * - gromox (2.30–3.10): lib/rfbl.cpp `config_file_init` reads each line with HX_getl, skips it
 *   when its first byte is `#`, strips CR/LF and trailing isspace(), takes the key up to the
 *   first blank or `=`, skips blanks after `=`, and stores the rest as a std::string
 *   (cfg_entry::set); `#` anywhere else has been literal since gromox 0.26 (doc/changelog.rst).
 * - postfix mysql_table(5) files: cfg_parser_alloc → dict_load_file_xt → dict_load_fp, which
 *   reads logical lines (util/readlline.c: a line whose first non-blank is `#` is a comment, a
 *   line starting with a blank continues the previous one) and splits them with
 *   util/split_nameval.c (blanks around the name and `=` skipped, trailing blanks trimmed; ASCII
 *   isspace only).
 */
const READER_BLANK_AT_END = /^[ \t\n\v\f\r]|[ \t\n\v\f\r]$/;

/** True when gromox's `.cfg` reader and postfix's map reader would drop a blank at an end of `value`. */
export function readersTrimValue(value: string): boolean {
  return READER_BLANK_AT_END.test(value);
}

/**
 * The longest line MariaDB's option-file reader takes whole, in bytes: mysys/my_default.c reads
 * each line with `mysql_file_fgets(buff, sizeof(buff) - 1, fp)` into `char buff[4096]`, i.e. at
 * most 4094 bytes; the rest of a longer line is read as a line of its own (so the value loses its
 * tail and the client stops at an unknown option). `mariadb`, `mariadb-admin` and `mariadb-dump`
 * read db.cnf this way (see docs/config-values.md; test/system/mariadb.test.ts checks the edge).
 */
export const OPTION_FILE_LINE_MAX_BYTES = 4094;

/**
 * The longest database password, in UTF-8 bytes as an option file holds it: the line
 * `password="…"` of db.cnf must fit `OPTION_FILE_LINE_MAX_BYTES` (gromox's and postfix's readers
 * keep a value of any length). A Terraform-supplied password cannot hold a character the option
 * file escapes, so this is its limit as it is (the plan-time check, lib/cluster/password-check.ts);
 * a literal is measured escaped (`optionFileValueBytes`).
 */
export const DATABASE_PASSWORD_MAX_BYTES = OPTION_FILE_LINE_MAX_BYTES - 'password=""'.length;

const OPTION_FILE_ESCAPED = /[\\"\n\r\t]/g;

/**
 * The UTF-8 bytes of `value` inside a double-quoted option-file value, as `cnfValue`
 * (lib/render/ops/literal.ts) writes it: a backslash, double quote, LF, CR or TAB takes two.
 */
export function optionFileValueBytes(value: string): number {
  return Buffer.byteLength(value, "utf8") + (value.match(OPTION_FILE_ESCAPED)?.length ?? 0);
}

/** Validates without throwing; returns every issue found (empty when valid). */
export function validateCluster(input: ClusterInput): ValidationIssue[] {
  const c = new IssueCollector();
  resolve(input, c);
  return [...c.issues];
}

/** Validates and resolves; throws `GrommunioValidationError` holding every issue. */
export function buildTopology(input: ClusterInput): Topology {
  const c = new IssueCollector();
  const topo = resolve(input, c);
  if (c.issues.length > 0 || !topo) throw new GrommunioValidationError(c.issues);
  return topo;
}

function resolve(input: ClusterInput, c: IssueCollector): Topology | undefined {
  const root = input.path ?? "cluster";

  // --- cluster fields ---
  if (!isFqdn(input.domain ?? "")) {
    c.add(
      "GRX001",
      root,
      "domain",
      `"${input.domain}" is not a valid lower-case domain name.`,
      'Use a domain such as "example.com" (lower case, at least two labels).',
    );
  }
  const version = parseGromoxVersion(input.gromoxVersion ?? "");
  if (!version || !isKnownGromoxVersion(version)) {
    c.add(
      "GRX002",
      root,
      "gromoxVersion",
      `unknown gromox version "${input.gromoxVersion}".`,
      `Give the version installed on the nodes (dpkg-query -W gromox) as M.m, between ${OLDEST_GROMOX} and ${NEWEST_GROMOX}.`,
    );
  }
  if (input.storage !== "shared" && input.storage !== "share-nothing") {
    c.add(
      "GRX003",
      root,
      "storage",
      `"${String(input.storage)}" is not a storage mode.`,
      'Use "shared" or "share-nothing".',
    );
  }
  const cidr = parseIpv4Cidr(input.network?.cidr ?? "");
  let reservedLow = input.network?.reservedLow ?? 2;
  let reservedHigh = input.network?.reservedHigh ?? 1;
  for (const [field, value] of [
    ["reservedLow", reservedLow],
    ["reservedHigh", reservedHigh],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 16) {
      c.add(
        "GRX043",
        root,
        `network.${field}`,
        `${String(value)} is not a usable count of reserved addresses.`,
        "Give a whole number from 1 to 16 (the network or broadcast address is always reserved), or omit it.",
      );
    }
  }
  if (!Number.isInteger(reservedLow) || reservedLow < 1) reservedLow = 2;
  if (!Number.isInteger(reservedHigh) || reservedHigh < 1) reservedHigh = 1;
  if (!cidr) {
    c.add(
      "GRX004",
      root,
      "network.cidr",
      `"${input.network?.cidr}" is not an IPv4 network in CIDR form with no host bits set.`,
      'Use a private network such as "10.10.10.0/24".',
    );
  } else if (cidr.prefix > 29 || cidr.size - reservedLow - reservedHigh < (input.nodes?.length ?? 0)) {
    c.add(
      "GRX005",
      root,
      "network.cidr",
      `${cidr.text} has ${Math.max(0, cidr.size - reservedLow - reservedHigh)} usable addresses for ${input.nodes?.length ?? 0} nodes.`,
      "Use a larger network (a /24 holds 253 nodes).",
    );
  }
  const x500 = input.x500OrgName ?? input.domain ?? "";
  if (x500.length === 0 || x500.length > 64 || UNSAFE_VALUE.test(x500) || readersTrimValue(x500)) {
    c.add(
      "GRX006",
      root,
      "x500OrgName",
      `"${x500}" is not usable as x500_org_name (1–64 characters on one line, no blank at either end: gromox drops blanks around a .cfg value).`,
      "Give a short organisation name on one line, without blanks at its ends.",
    );
  }

  // --- nodes ---
  const nodes = new Map<string, ClusterNode>();
  const names = new Set<string>();
  const byHostname = new Map<string, string>();
  const byIp = new Map<number, string>();
  const byServerId = new Map<number, string>();
  const nodeInputs = input.nodes ?? [];
  const lbPublicName = input.loadBalancer?.publicName;
  // The hub runs gromox-event and gromox-timer in addition to its role daemons.
  const hubName = input.hub ?? defaultHub(nodeInputs);
  // Share-nothing: a mailbox node exports its store to the admin nodes other than itself.
  const adminNames = input.storeExports && input.storage === "share-nothing" ? adminNodeNames(nodeInputs) : [];
  const extraDaemons = (n: NodeInput): Daemon[] => [
    ...(n.name === hubName ? HUB_DAEMONS : []),
    ...(n.roles?.includes("mailbox") && adminNames.some((a) => a !== n.name) ? STORE_EXPORT_DAEMONS : []),
  ];
  for (const n of nodeInputs) {
    const path = n.path ?? `${root}/nodes/${n.name}`;
    let ok = true;
    if (!isDnsLabel(n.name ?? "")) {
      c.add(
        "GRX007",
        path,
        "name",
        `"${n.name}" is not a valid node name.`,
        "Use a DNS label: lower-case letters, digits and hyphens, 1–63 characters.",
      );
      ok = false;
    } else if (names.has(n.name)) {
      c.add(
        "GRX008",
        path,
        "name",
        `node name "${n.name}" is used twice.`,
        "Give every node a unique name; resources are keyed by it.",
      );
      ok = false;
    } else {
      names.add(n.name);
    }
    if (!isFqdn(n.hostname ?? "")) {
      c.add(
        "GRX009",
        path,
        "hostname",
        `"${n.hostname}" is not a fully qualified lower-case host name.`,
        `Use an FQDN such as "${isDnsLabel(n.name ?? "") ? n.name : "mail1"}.${isFqdn(input.domain ?? "") ? input.domain : "example.com"}".`,
      );
      ok = false;
    } else if (byHostname.has(n.hostname)) {
      c.add(
        "GRX010",
        path,
        "hostname",
        `host name "${n.hostname}" is also used by node "${byHostname.get(n.hostname)}".`,
        "Give every node its own host name (gromox host_id and servers.hostname must be unique).",
      );
      ok = false;
    } else {
      byHostname.set(n.hostname, n.name);
    }
    const roles = n.roles ?? [];
    const badRoles = roles.filter((r) => !NODE_ROLES.includes(r));
    if (roles.length === 0 || badRoles.length > 0) {
      c.add(
        "GRX011",
        path,
        "roles",
        roles.length === 0 ? "the node has no role." : `unknown role(s) ${badRoles.map((r) => `"${r}"`).join(", ")}.`,
        `Give one or more of: ${NODE_ROLES.join(", ")}.`,
      );
      ok = false;
    } else {
      const clash = portClash(roles);
      if (clash) {
        c.add(
          "GRX044",
          path,
          "roles",
          `roles ${clash.roles.map((r) => `"${r}"`).join(" and ")} both listen on port ${clash.port} (${clash.keys.join(", ")}).`,
          "Put these roles on separate nodes.",
        );
        ok = false;
      }
    }
    const ip = parseIpv4(n.ipv4 ?? "");
    if (ip === undefined) {
      c.add(
        "GRX012",
        path,
        "ipv4",
        `"${n.ipv4}" is not an IPv4 address.`,
        "Give a dotted-quad address such as 10.10.10.20.",
      );
      ok = false;
    } else if (cidr && !cidrContains(cidr, ip)) {
      c.add(
        "GRX013",
        path,
        "ipv4",
        `${n.ipv4} is outside the cluster network ${cidr.text}.`,
        `Choose an address inside ${cidr.text}.`,
      );
      ok = false;
    } else if (cidr && (ip - cidr.network < reservedLow || cidr.network + cidr.size - 1 - ip < reservedHigh)) {
      c.add(
        "GRX014",
        path,
        "ipv4",
        `${n.ipv4} is reserved in ${cidr.text} (network, gateway or broadcast address).`,
        `Choose an address from ${formatIpv4(cidr.network + reservedLow)} to ${formatIpv4(cidr.network + cidr.size - 1 - reservedHigh)}.`,
      );
      ok = false;
    } else if (byIp.has(ip)) {
      c.add(
        "GRX015",
        path,
        "ipv4",
        `${n.ipv4} is also the address of node "${byIp.get(ip)}".`,
        "Give every node its own private address.",
      );
      ok = false;
    } else {
      byIp.set(ip, n.name);
    }
    let ipv6: string | undefined;
    if (n.ipv6 !== undefined) {
      ipv6 = canonicalIpv6(n.ipv6);
      if (!ipv6) {
        c.add(
          "GRX016",
          path,
          "ipv6",
          `"${n.ipv6}" is not an IPv6 address.`,
          "Give an address such as 2001:db8::20, or omit ipv6.",
        );
        ok = false;
      }
    }
    const isMailbox = roles.includes("mailbox");
    if (isMailbox) {
      const id = n.serverId;
      if (id === undefined || !Number.isInteger(id) || id < 1 || id > MAX_MAILBOX_SERVERS) {
        c.add(
          "GRX017",
          path,
          "serverId",
          `mailbox node needs a servers.id from 1 to ${MAX_MAILBOX_SERVERS} (unsigned TINYINT), got ${String(id)}.`,
          "Give each mailbox node a fixed serverId; never renumber one that holds users.",
        );
        ok = false;
      } else if (byServerId.has(id)) {
        c.add(
          "GRX018",
          path,
          "serverId",
          `servers.id ${id} is also used by node "${byServerId.get(id)}".`,
          "Give every mailbox node its own serverId.",
        );
        ok = false;
      } else {
        byServerId.set(id, n.name);
      }
    }
    const externalName = n.externalName ?? lbPublicName ?? n.hostname;
    if (n.externalName !== undefined && !isFqdn(n.externalName)) {
      c.add(
        "GRX019",
        path,
        "externalName",
        `"${n.externalName}" is not a fully qualified host name.`,
        "Give the public name clients use for this node (servers.extname), or omit it.",
      );
      ok = false;
    }
    if (ok && !nodes.has(n.name)) {
      nodes.set(n.name, makeNode(n, path, ipv6, externalName, extraDaemons(n)));
    }
  }

  // Names are DNS labels: code-unit order equals localeCompare's here, without ICU's first-call cost.
  const all = [...nodes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const mailboxNodes = all.filter((n) => n.has("mailbox")).sort((a, b) => a.serverId! - b.serverId!);
  const classicNodes = all.filter((n) => n.has("classic"));
  const adminNodes = all.filter((n) => n.has("admin"));
  const lbNodes = all.filter((n) => n.has("load-balancer"));
  const mailboxInputs = nodeInputs.filter((n) => n.roles?.includes("mailbox"));
  if (mailboxInputs.length === 0) {
    c.add(
      "GRX020",
      root,
      "nodes",
      "the cluster has no mailbox node.",
      "Add at least one node with the mailbox role (GromoxNode).",
    );
  } else if (mailboxInputs.length > MAX_MAILBOX_SERVERS) {
    c.add(
      "GRX021",
      root,
      "nodes",
      `${mailboxInputs.length} mailbox nodes exceed the ${MAX_MAILBOX_SERVERS} that servers.id (unsigned TINYINT) can number.`,
      `Split the users over several clusters of at most ${MAX_MAILBOX_SERVERS} mailbox nodes.`,
    );
  }
  if (mailboxInputs.length === 0 && nodeInputs.some((n) => n.roles?.includes("classic"))) {
    c.add(
      "GRX022",
      root,
      "nodes",
      "classic nodes need a mailbox node to deliver to and to serve IMAP/POP3 from.",
      "Add a mailbox node (GromoxNode) or remove the classic nodes.",
    );
  }

  // --- hub and schema upgrade node ---
  let hub: ClusterNode | undefined;
  if (input.hub !== undefined && !nodeInputs.some((n) => n.name === input.hub)) {
    c.add(
      "GRX023",
      root,
      "hub",
      `event/timer hub "${input.hub}" is not a node of this cluster.`,
      `Name one of the mailbox nodes: ${mailboxNodes.map((n) => n.name).join(", ") || "(none yet)"}.`,
    );
  } else if (hubName !== undefined) {
    const h = nodes.get(hubName);
    if (!nodeInputs.some((n) => n.name === hubName && n.roles?.includes("mailbox"))) {
      c.add(
        "GRX024",
        root,
        "hub",
        `event/timer hub "${hubName}" is not a mailbox node; the timer runs zcore's PHP submit command locally.`,
        "Name a mailbox node as hub, or omit hub to use the mailbox node with the lowest serverId.",
      );
    } else {
      hub = h;
    }
  }
  let schemaUpgradeNode = hub;
  if (input.schemaUpgradeNode !== undefined) {
    const s = nodes.get(input.schemaUpgradeNode);
    if (!nodeInputs.some((n) => n.name === input.schemaUpgradeNode && n.roles?.includes("mailbox"))) {
      c.add(
        "GRX025",
        root,
        "schemaUpgradeNode",
        `"${input.schemaUpgradeNode}" is not a mailbox node of this cluster; only gromox-http upgrades the schema.`,
        "Name a mailbox node, or omit schemaUpgradeNode to use the hub.",
      );
    } else {
      schemaUpgradeNode = s;
    }
  }

  // --- database ---
  const database = resolveDatabase(input, root, nodes, nodeInputs, c);

  // --- load balancer tier ---
  const lbInputs = nodeInputs.filter((n) => n.roles?.includes("load-balancer")).map((n) => n.name);
  const loadBalancer = resolveLoadBalancer(input, root, lbNodes, lbInputs, c);

  if (c.issues.length > 0 || !version || !cidr || !hub || !schemaUpgradeNode || !database) return undefined;

  // Renderers ask these for every node: compute each list once (the topology is immutable), hand out copies.
  const ipv4Of = new Map(all.map((n) => [n, parseIpv4(n.ipv4)!]));
  const byIpv4 = (a: ClusterNode, b: ClusterNode) => ipv4Of.get(a)! - ipv4Of.get(b)!;
  const memo = new Map<string, ClusterNode[]>();
  const memoized = (key: string, compute: () => ClusterNode[]): ClusterNode[] => {
    let list = memo.get(key);
    if (!list) memo.set(key, (list = compute()));
    return [...list];
  };
  const clientsOf = (port: PortKey): ClusterNode[] =>
    memoized(`clients:${port}`, () => {
      const clients: readonly Daemon[] = PORTS[port].clients;
      return all.filter((n) => clients.some((d) => n.runs(d))).sort(byIpv4);
    });
  return {
    path: root,
    domain: input.domain,
    gromoxVersion: version,
    features: gromoxFeatures(version),
    storage: input.storage,
    network: cidr,
    x500OrgName: x500,
    nodes: all,
    mailboxNodes,
    classicNodes,
    adminNodes,
    hub,
    schemaUpgradeNode,
    database,
    ...(loadBalancer ? { loadBalancer } : {}),
    node(name: string): ClusterNode {
      const n = nodes.get(name);
      if (!n) throw new Error(`no node named "${name}" in ${root}`);
      return n;
    },
    nodesRunning(daemon: Daemon): ClusterNode[] {
      return memoized(`runs:${daemon}`, () => all.filter((n) => n.runs(daemon)).sort(byIpv4));
    },
    clientsOf,
    allowList(port: "exmdb" | "midb" | "event" | "timer"): string[] {
      return ["::1", ...clientsOf(port).map((n) => n.mappedIpv4)];
    },
  };
}

/** The first port two different programs of one role set would both listen on, if any. */
function portClash(roles: readonly NodeRole[]): { port: number; keys: string[]; roles: NodeRole[] } | undefined {
  const listeners = new Map<number, { key: string; server: Daemon }>();
  const roleOf = (d: Daemon): NodeRole => roles.find((r) => ROLE_DAEMONS[r].includes(d))!;
  for (const key of Object.keys(PORTS) as PortKey[]) {
    const spec = PORTS[key];
    if (!roles.some((r) => ROLE_DAEMONS[r].includes(spec.server))) continue;
    const other = listeners.get(spec.port);
    if (other && other.server !== spec.server) {
      const clashing = [...new Set([roleOf(other.server), roleOf(spec.server)])];
      return { port: spec.port, keys: [other.key, key], roles: clashing };
    }
    listeners.set(spec.port, { key, server: spec.server });
  }
  return undefined;
}

/** Names of the nodes with the admin role. */
function adminNodeNames(nodeInputs: readonly NodeInput[]): string[] {
  return nodeInputs.filter((n) => n.roles?.includes("admin")).map((n) => n.name);
}

/** The mailbox node with the lowest valid serverId. */
function defaultHub(nodeInputs: readonly NodeInput[]): string | undefined {
  let best: NodeInput | undefined;
  for (const n of nodeInputs) {
    if (!n.roles?.includes("mailbox") || typeof n.serverId !== "number") continue;
    if (!best || n.serverId < best.serverId!) best = n;
  }
  return best?.name;
}

function makeNode(
  n: NodeInput,
  path: string,
  ipv6: string | undefined,
  externalName: string,
  extraDaemons: readonly Daemon[],
): ClusterNode {
  const roles = new Set<NodeRole>(n.roles);
  const daemons = [...new Set<Daemon>(["sshd", ...[...roles].flatMap((r) => ROLE_DAEMONS[r]), ...extraDaemons])].sort();
  return {
    name: n.name,
    hostname: n.hostname,
    roles,
    ipv4: n.ipv4,
    mappedIpv4: mappedIpv6(n.ipv4),
    ...(ipv6 !== undefined ? { ipv6 } : {}),
    ...(roles.has("mailbox") ? { serverId: n.serverId! } : {}),
    externalName,
    path,
    daemons,
    has: (role: NodeRole) => roles.has(role),
    runs: (d: Daemon) => daemons.includes(d),
  };
}

function resolveDatabase(
  input: ClusterInput,
  root: string,
  nodes: ReadonlyMap<string, ClusterNode>,
  nodeInputs: readonly NodeInput[],
  c: IssueCollector,
): DatabaseEndpoint | undefined {
  const db = input.database;
  const name = db?.name ?? "grommunio";
  const user = db?.user ?? "grommunio";
  let bad = false;
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) {
    c.add(
      "GRX026",
      root,
      "database.name",
      `"${name}" is not a plain database name.`,
      "Use letters, digits and _ (at most 64).",
    );
    bad = true;
  }
  if (!/^[A-Za-z0-9_]{1,32}$/.test(user)) {
    c.add(
      "GRX027",
      root,
      "database.user",
      `"${user}" is not a plain MariaDB user name.`,
      "Use letters, digits and _ (at most 32).",
    );
    bad = true;
  }
  if (typeof db?.password !== "string" || db.password.length === 0 || UNSAFE_VALUE.test(db.password)) {
    c.add(
      "GRX028",
      root,
      "database.password",
      "the database password is missing or spans lines.",
      "Pass a random_password result (or another secret reference), never an empty value.",
    );
    bad = true;
  } else if (optionFileValueBytes(db.password) > DATABASE_PASSWORD_MAX_BYTES) {
    c.add(
      "GRX028",
      root,
      "database.password",
      `the database password is longer than ${DATABASE_PASSWORD_MAX_BYTES} bytes (UTF-8, a backslash, double quote or tab counted twice): MariaDB's option-file reader reads at most ${OPTION_FILE_LINE_MAX_BYTES} bytes of a line, so db.cnf's password="…" would be cut and the mariadb client would fail.`,
      `Pass a random_password result (or another secret reference), or a password of at most ${DATABASE_PASSWORD_MAX_BYTES} bytes.`,
    );
    bad = true;
  } else if (readersTrimValue(db.password)) {
    c.add(
      "GRX028",
      root,
      "database.password",
      'the database password starts or ends with a blank (space, tab, vertical tab or form feed): gromox\'s mysql_adaptor.cfg and postfix\'s mysql maps drop blanks around a value, so both would log in with another password. ("#", quotes, "=" and backslashes are fine: both read the rest literally.)',
      "Pass a random_password result (or another secret reference), or a password without a blank at either end.",
    );
    bad = true;
  }
  const mapReader = resolveMapReader(db, user, root, c);
  if (mapReader === null) bad = true;
  const reader = mapReader ? { mapReader } : {};
  const nodeDb = nodeInputs.filter((n) => n.roles?.includes("database"));
  if (db && "node" in db) {
    const n = nodes.get(db.node);
    const exists = nodeInputs.some((x) => x.name === db.node);
    if (!exists || !nodeInputs.some((x) => x.name === db.node && x.roles?.includes("database"))) {
      c.add(
        "GRX029",
        root,
        "database.node",
        exists
          ? `node "${db.node}" does not have the database role.`
          : `database node "${db.node}" is not a node of this cluster.`,
        "Name the node with the database role (Database.onNode), or use an external database.",
      );
      bad = true;
    }
    if (nodeDb.length > 1) {
      c.add(
        "GRX030",
        root,
        "nodes",
        `${nodeDb.length} nodes carry the database role; the cluster has one database.`,
        "Keep the database role on one node.",
      );
      bad = true;
    }
    const pool = resolveInnodbBufferPool(db, root, c);
    if (!n || bad || pool === undefined) return undefined;
    return {
      host: n.ipv4,
      port: PORTS.mysql.port,
      name,
      user,
      password: db.password,
      node: n,
      ...reader,
      innodbBufferPoolSize: pool,
    };
  }
  if (db && "host" in db) {
    const port = db.port ?? PORTS.mysql.port;
    if (!(isFqdn(db.host) || parseIpv4(db.host) !== undefined) || !Number.isInteger(port) || port < 1 || port > 65535) {
      c.add(
        "GRX031",
        root,
        "database.host",
        `"${db.host}:${port}" is not a usable database endpoint.`,
        "Give a host name or IPv4 address and a port from 1 to 65535.",
      );
      bad = true;
    }
    if (nodeDb.length > 0) {
      c.add(
        "GRX030",
        root,
        "nodes",
        "nodes carry the database role although the database is external.",
        "Remove the database role, or use Database.onNode.",
      );
      bad = true;
    }
    if (bad) return undefined;
    return { host: db.host, port, name, user, password: db.password, ...reader };
  }
  c.add("GRX032", root, "database", "no database given.", "Give database: { node } or database: { host, port }.");
  return undefined;
}

function resolveLoadBalancer(
  input: ClusterInput,
  root: string,
  lbNodes: readonly ClusterNode[],
  lbInputs: readonly string[],
  c: IssueCollector,
): LoadBalancerTierSpec | undefined {
  const lb = input.loadBalancer;
  if (!lb) {
    if (lbInputs.length > 0) {
      c.add(
        "GRX033",
        root,
        "loadBalancer",
        `nodes ${lbInputs.map((n) => `"${n}"`).join(", ")} carry the load-balancer role but the cluster declares no load-balancer tier.`,
        "Declare the tier (LoadBalancerTier) or remove the role.",
      );
    }
    return undefined;
  }
  const path = `${root}/loadBalancer`;
  if (lbInputs.length === 0) {
    c.add(
      "GRX034",
      path,
      "nodes",
      "the load-balancer tier has no node.",
      "Give at least one node the load-balancer role.",
    );
  }
  if (lb.flavor !== "haproxy" && lb.flavor !== "nginx") {
    c.add(
      "GRX035",
      path,
      "flavor",
      `"${String(lb.flavor)}" is not a load-balancer flavour.`,
      'Use "haproxy" or "nginx".',
    );
  }
  if (!isFqdn(lb.publicName ?? "")) {
    c.add(
      "GRX036",
      path,
      "publicName",
      `"${lb.publicName}" is not a fully qualified host name.`,
      'Give the public mail host name, e.g. "mail.example.com".',
    );
  }
  if (lb.adminAllowFrom !== undefined) {
    if (lb.adminAllowFrom.length === 0) {
      c.add(
        "GRX037",
        path,
        "adminAllowFrom",
        "the admin frontend would be exposed with an empty allow list.",
        "List the networks of your administrators (e.g. 203.0.113.0/24), or omit adminAllowFrom for no admin frontend.",
      );
    }
    for (const a of lb.adminAllowFrom) {
      const problem = allowEntryProblem(a);
      if (!isCidrOrAddress(a)) {
        c.add(
          "GRX038",
          path,
          "adminAllowFrom",
          `"${a}" is not an address or CIDR.`,
          "Use forms like 203.0.113.0/24 or 2001:db8::/48.",
        );
      } else if (problem) {
        c.add("GRX038", path, "adminAllowFrom", problem.message, problem.fix);
      }
    }
  }
  const nginx = lb.flavor === "nginx";
  const pp = {
    smtp: lb.proxyProtocol?.smtp ?? true,
    submission: lb.proxyProtocol?.submission ?? true,
    imap: lb.proxyProtocol?.imap ?? !nginx,
    pop3: lb.proxyProtocol?.pop3 ?? !nginx,
  };
  if (nginx && (pp.imap || pp.pop3)) {
    c.add(
      "GRX039",
      path,
      "proxyProtocol",
      "nginx's stream proxy sends PROXY protocol v1 only, and gromox-imap/-pop3 accept only v2.",
      "Set proxyProtocol.imap and proxyProtocol.pop3 to false with nginx, or use haproxy.",
    );
  }
  const acceptProxy = resolveAcceptProxy(lb.acceptProxyFrom, path, c);
  const pools = new Map<OptionalPool, PoolMember[]>();
  for (const [key, members] of Object.entries(lb.pools ?? {})) {
    if (!OPTIONAL_POOLS.includes(key as OptionalPool)) {
      c.add(
        "GRX040",
        path,
        `pools.${key}`,
        `"${key}" is not a known backend pool.`,
        `Use one of: ${OPTIONAL_POOLS.join(", ")}.`,
      );
      continue;
    }
    if (!members || members.length === 0) {
      c.add(
        "GRX041",
        path,
        `pools.${key}`,
        `pool "${key}" has no server.`,
        "Give at least one server, or leave the pool out.",
      );
      continue;
    }
    const resolved: PoolMember[] = [];
    for (const m of members) {
      const nameOk = isDnsLabel(m.name ?? "") || isFqdn(m.name ?? "");
      const addrOk = isFqdn(m.address ?? "") || parseIpv4(m.address ?? "") !== undefined;
      const portOk = Number.isInteger(m.port) && m.port >= 1 && m.port <= 65535;
      if (!nameOk || !addrOk || !portOk) {
        c.add(
          "GRX042",
          path,
          `pools.${key}`,
          `server "${m.name}" at "${m.address}:${m.port}" is not a usable backend.`,
          "Give a DNS-label name, a host name or IPv4 address, and a port from 1 to 65535.",
        );
        continue;
      }
      resolved.push({ name: m.name, address: m.address, port: m.port, tls: m.tls ?? true });
    }
    pools.set(
      key as OptionalPool,
      resolved.sort((a, b) => a.name.localeCompare(b.name)),
    );
  }
  return {
    flavor: lb.flavor,
    publicName: lb.publicName,
    nodeAwareRouting: lb.nodeAwareRouting ?? false,
    ...(lb.adminAllowFrom !== undefined ? { adminAllowFrom: canonicalList(lb.adminAllowFrom) } : {}),
    proxyProtocol: pp,
    ...(acceptProxy ? { acceptProxy } : {}),
    pools: new Map([...pools.entries()].sort(([a], [b]) => a.localeCompare(b))),
    nodes: lbNodes,
  };
}

/**
 * An allow list as the networks it stands for, each once, in order: `canonicalCidr` of every
 * entry that is an address or CIDR (`198.51.100.7` → `198.51.100.7/32`, IPv6 in RFC 5952 form),
 * so haproxy, nginx, nftables and the cloud firewalls all get the one spelling. Entries refused at
 * validation are kept as given (synthesis fails on them).
 */
function canonicalList(list: readonly string[]): string[] {
  return [...new Set(list.map((a) => canonicalCidr(a) ?? a))];
}

/** The tier's public frontends (what a cloud load balancer or a proxy in front forwards). */
export const PUBLIC_FRONTENDS: readonly PortKey[] = (Object.keys(PORTS) as PortKey[]).filter(
  (k) => PORTS[k].server === "load-balancer" && PORTS[k].exposure === "public",
);

function resolveAcceptProxy(
  from: LoadBalancerInput["acceptProxyFrom"],
  path: string,
  c: IssueCollector,
): AcceptProxy | undefined {
  if (from === undefined) return undefined;
  if (from === "cloud-lb") return { from, frontends: PUBLIC_FRONTENDS };
  const bad = Array.isArray(from) ? from.filter((a) => typeof a !== "string" || !isCidrOrAddress(a)) : [];
  if (!Array.isArray(from) || from.length === 0 || bad.length > 0) {
    c.add(
      "GRX045",
      path,
      "acceptProxyFrom",
      !Array.isArray(from)
        ? `${JSON.stringify(from)} is neither "cloud-lb" nor a list of addresses.`
        : from.length === 0
          ? "the list of PROXY senders is empty: every connection would be refused."
          : `${bad.map((a) => JSON.stringify(a)).join(", ")} ${bad.length === 1 ? "is" : "are"} not an address or CIDR.`,
      'Give "cloud-lb" (the platform\'s load balancer), the addresses of your own proxies (e.g. 10.0.0.0/24), or omit it.',
    );
    return undefined;
  }
  let refused = false;
  for (const a of from as readonly string[]) {
    const problem = allowEntryProblem(a);
    if (problem) {
      c.add("GRX045", path, "acceptProxyFrom", problem.message, problem.fix);
      refused = true;
    }
  }
  if (refused) return undefined;
  return { from: canonicalList(from as readonly string[]), frontends: PUBLIC_FRONTENDS };
}
