/**
 * Property-based tests (fast-check), ~1,200 cases in all:
 *
 * 1. random VALID topologies (1–20 mailbox, 0–4 classic, 1–3 load-balancer nodes, both storage
 *    modes, both load-balancer flavours, gromox 3.4/3.5/3.6/3.10 on both sides of each gate, random
 *    addresses, server ids, hub, admin placement and PROXY declaration) → `buildTopology` and
 *    `renderNodeFiles` succeed for every node, and every allow list in the rendered files (gromox
 *    `*_hosts_allow`, event/timer clients, midb_list.txt, exmdb_list.txt, the postfix relay's
 *    mynetworks, the load balancers' admin allow list and backends, the database accounts, the
 *    firewall plan and each node's host firewall) equals the peer set recomputed here from the
 *    nodes' ROLES alone, and the exposure check passes;
 * 2. random user rules on a valid topology → the exposure check flags exactly the rules that open
 *    an internal port to outside the cluster network, the admin port or SSH to the world;
 * 3. random INVALID inputs (one mutation of a valid one) → `GrommunioValidationError` holding the
 *    mutation's code (never another exception type, never a topology to render);
 * 4. a few random valid shapes through the constructs on AWS and Hetzner: synth succeeds, no
 *    internal port faces the world, Hetzner's nftables admit exactly the recomputed peers, AWS
 *    user-data carries no secret.
 */
import "cdktf/lib/testing/adapters/jest";
import fc from "fast-check";
import {
  ClusterInput,
  FirewallRules,
  GrommunioValidationError,
  NodeInput,
  NodeRole,
  PORTS,
  PortKey,
  Peer,
  Port,
  Topology,
  buildTopology,
  canonicalCidr,
  parseIpv4,
  planFirewall,
  validateCluster,
} from "../../lib";
import { INTERNAL_PORT_NUMBERS, checkExposure, ruleId } from "../../lib/cluster/exposure";
import { renderDatabaseBootstrap } from "../../lib/render/database";
import { planAllowRules } from "../../lib/render/nftables";
import { renderNodeFiles } from "../../lib/render/node";
import type { ConfigFile } from "../../lib/render/types";
import { bootstrapAccounts, nftAddresses } from "../fixtures";
import { fakeResolver } from "../platforms/terraform-eval";
import { GROMOX_VERSIONS, specArb, toInput } from "./generators";
import { NEVER_WORLD, Shape, buildShape, deliveredFiles, synthJson, userDataByNode, worldRules } from "./support";

// ---------------------------------------------------------------------------------------------
// The independent model: who needs what, from the ROLES of the input nodes only.

const mapped = (ip: string) => `::ffff:${ip}`;
const byIp = (a: NodeInput, b: NodeInput) => parseIpv4(a.ipv4)! - parseIpv4(b.ipv4)!;
const has = (n: NodeInput, ...roles: NodeRole[]) => roles.some((r) => n.roles.includes(r));

interface Model {
  readonly exmdb: string[];
  readonly midb: string[];
  readonly event: string[];
  readonly timer: string[];
  readonly relay: string[];
  readonly dbAccounts: string[];
  readonly hub: NodeInput;
}

function model(input: ClusterInput): Model {
  const nodes = [...input.nodes].sort(byIp);
  const ips = (f: (n: NodeInput) => boolean) => nodes.filter(f).map((n) => n.ipv4);
  const mailbox = nodes.filter((n) => has(n, "mailbox"));
  const hub =
    input.hub !== undefined
      ? nodes.find((n) => n.name === input.hub)!
      : [...mailbox].sort((a, b) => a.serverId! - b.serverId!)[0]!;
  return {
    exmdb: ["::1", ...ips((n) => has(n, "mailbox", "classic", "admin")).map(mapped)],
    midb: ["::1", ...ips((n) => has(n, "classic")).map(mapped)],
    event: ["::1", ...ips((n) => has(n, "mailbox", "classic")).map(mapped)],
    timer: ["::1", ...ips((n) => has(n, "mailbox")).map(mapped)],
    relay: ips((n) => has(n, "mailbox")),
    dbAccounts: ips((n) => has(n, "mailbox", "classic", "admin")),
    hub,
  };
}

/** The addresses of an IPv4 CIDR block (`a.b.c.d/n`), in order; the network must be aligned. */
function blockAddresses(block: string): string[] {
  const [addr, prefix] = block.split("/");
  const start = parseIpv4(addr!)!;
  const size = 2 ** (32 - Number(prefix));
  if (start % size !== 0) throw new Error(`${block}: not a network address`);
  return Array.from({ length: size }, (_, k) =>
    [24, 16, 8, 0].map((shift) => (Math.floor((start + k) / 2 ** shift) % 256).toString()).join("."),
  );
}

/** `key=value` of a gromox file. */
function cfgValue(file: ConfigFile | undefined, key: string): string | undefined {
  if (!file) return undefined;
  return new RegExp(`^${key}=(.*)$`, "m").exec(file.content)?.[1];
}

/** Throws, naming what differs, unless `actual` and `expected` are deeply equal (cheaper than expect in hot loops). */
function same(actual: unknown, expected: unknown, what: string): void {
  const [x, y] = [JSON.stringify(actual), JSON.stringify(expected)];
  if (x !== y) throw new Error(`${what}:\n  got      ${x}\n  expected ${y}`);
}

/** Checks every allow list of every node against the model. Throws on the first mismatch. */
function checkAllowLists(input: ClusterInput, topo: Topology): void {
  const m = model(input);
  const lt36 = /^3\.[0-5](\.|$)/.test(input.gromoxVersion);
  const lt35 = /^3\.[0-4](\.|$)/.test(input.gromoxVersion);
  const mailboxInputs = input.nodes.filter((n) => has(n, "mailbox"));
  const schemaHost = topo.schemaUpgradeNode.hostname;
  same(topo.hub.name, m.hub.name, "hub");
  for (const n of input.nodes) {
    const files = renderNodeFiles(topo, topo.node(n.name));
    const file = (p: string) => files.find((f) => f.path === p);
    const at = (what: string) => `${n.name}: ${what}`;
    same(new Set(files.map((f) => f.path)).size, files.length, at("unique paths"));
    for (const f of files) {
      same(/^0[0-7]{3}$/.test(f.mode) && f.content.endsWith("\n"), true, at(`${f.path} mode and final newline`));
    }
    const isMailbox = has(n, "mailbox");
    const isClassic = has(n, "classic");
    const isHub = n.name === m.hub.name;
    const list = (path: string, key: string) => cfgValue(file(path), key)?.split(" ");
    // Servers: exmdb and midb on mailbox nodes, event and timer on the hub only.
    same(
      list("/etc/gromox/exmdb_provider.cfg", "exmdb_hosts_allow"),
      isMailbox ? m.exmdb : undefined,
      at("exmdb_hosts_allow"),
    );
    same(list("/etc/gromox/midb.cfg", "midb_hosts_allow"), isMailbox ? m.midb : undefined, at("midb_hosts_allow"));
    same(list("/etc/gromox/event.cfg", "event_hosts_allow"), isHub ? m.event : undefined, at("event_hosts_allow"));
    same(list("/etc/gromox/timer.cfg", "timer_hosts_allow"), isHub ? m.timer : undefined, at("timer_hosts_allow"));
    // Clients dial the hub.
    if (isMailbox || isClassic) {
      same(cfgValue(file("/etc/gromox/event_proxy.cfg"), "event_host"), mapped(m.hub.ipv4), at("event_host"));
    }
    if (isMailbox)
      same(cfgValue(file("/etc/gromox/timer_agent.cfg"), "timer_host"), mapped(m.hub.ipv4), at("timer_host"));
    // midb_list.txt on the IMAP/POP3 nodes: every mailbox node's prefixes, most specific first.
    const midbList = file("/etc/gromox/midb_list.txt");
    same(midbList !== undefined, isClassic, at("midb_list.txt present"));
    if (midbList) {
      const rows = midbList.content
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))
        .map((l) => l.split(/\s+/));
      const expected = mailboxInputs.flatMap((x) => [
        [`/var/lib/gromox/user/${x.hostname}/`, mapped(x.ipv4), "5555"],
        [`/var/lib/gromox/domain/${x.hostname}/`, mapped(x.ipv4), "5555"],
      ]);
      same([...rows].sort(), [...expected].sort(), at("midb_list.txt rows"));
      const shadowed = rows.some((r, i) =>
        rows.slice(i + 1).some((later) => later[0] !== r[0] && later[0]!.startsWith(r[0]!)),
      );
      same(shadowed, false, at("midb_list.txt: a later row is shadowed by an earlier prefix"));
    }
    // exmdb_list.txt below 3.6 on every exmdb client; never from 3.6.
    const exmdbClient = has(n, "mailbox", "classic", "admin");
    same(file("/etc/gromox/exmdb_list.txt") !== undefined, lt36 && exmdbClient, at("exmdb_list.txt present"));
    // *_listen in gromox.cfg from 3.5; legacy keys below.
    if (isMailbox) {
      same(
        cfgValue(file("/etc/gromox/gromox.cfg"), "exmdb_listen"),
        lt35 ? undefined : "[::]:5000",
        at("exmdb_listen"),
      );
      same(cfgValue(file("/etc/gromox/exmdb_provider.cfg"), "listen_ip"), lt35 ? "::" : undefined, at("listen_ip"));
    }
    if (exmdbClient) {
      const adaptor = file("/etc/gromox/mysql_adaptor.cfg");
      same(cfgValue(adaptor, "schema_upgrade"), `host:${schemaHost}`, at("schema_upgrade"));
      same(adaptor?.mode, "0640", at("mysql_adaptor.cfg mode"));
    }
    // The postfix relay admits exactly the mailbox nodes.
    if (isClassic) {
      const master = file("/etc/postfix/master.cf")!.content;
      const blocks = /^\s+-o mynetworks=(\S+)$/m.exec(master)?.[1]?.split(",") ?? [];
      same(blocks.flatMap(blockAddresses), m.relay, at("relay mynetworks"));
    }
    // The load balancers: backends by host name and address; the admin allow list.
    if (has(n, "load-balancer")) {
      const lb = input.loadBalancer!;
      // The admin allow list as the networks its entries stand for (198.51.100.7 → /32), each once.
      const adminNetworks = lb.adminAllowFrom && [...new Set(lb.adminAllowFrom.map((a) => canonicalCidr(a)!))];
      if (lb.flavor === "haproxy") {
        const cfg = file("/etc/haproxy/haproxy.cfg")!.content;
        const servers = new Set([...cfg.matchAll(/^\s+server (\S+) ([\d.]+):\d+/gm)].map((x) => `${x[1]} ${x[2]}`));
        same(
          mailboxInputs.filter((x) => !servers.has(`${x.hostname} ${x.ipv4}`)).map((x) => x.name),
          [],
          at("HAProxy servers missing"),
        );
        const allow = file("/etc/haproxy/admin-allow.lst");
        same(
          allow?.content.split("\n").filter((l) => l && !l.startsWith("#")),
          adminNetworks,
          at("admin-allow.lst"),
        );
      } else {
        const admin = file("/etc/nginx/conf.d/grommunio-admin.conf");
        const allows = admin ? [...admin.content.matchAll(/^\s+allow (\S+);$/gm)].map((x) => x[1]) : undefined;
        same(allows, adminNetworks, at("nginx allow"));
        if (admin) same(/^\s+deny all;$/m.test(admin.content), true, at("nginx deny all"));
      }
    }
  }
  // The database accounts: one per client node address, never a network or '%'.
  if (topo.database.node) {
    const sql = renderDatabaseBootstrap(topo);
    const accounts = bootstrapAccounts(sql);
    same(
      accounts.filter((a) => a.user === topo.database.user).map((a) => a.host),
      m.dbAccounts,
      "database accounts",
    );
    same(
      accounts.every((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a.host)),
      true,
      "database accounts are addresses",
    );
  }
  // The firewall plan: cluster ports from exactly the recomputed peers; the exposure check passes;
  // the host firewall of each node agrees.
  const plan = planFirewall(topo, "c", {});
  same(checkExposure(topo, plan, { clusterPath: "c", allowWorldSsh: false }), [], "exposure");
  const peers: Partial<Record<PortKey, string[]>> = {
    exmdb: m.exmdb.slice(1).map((x) => x.slice(7)),
    midb: m.midb.slice(1).map((x) => x.slice(7)),
    event: m.event.slice(1).map((x) => x.slice(7)),
    timer: m.timer.slice(1).map((x) => x.slice(7)),
    relay: m.relay,
  };
  for (const n of input.nodes) {
    const host = planAllowRules(plan, n.name);
    for (const [key, expected] of Object.entries(peers) as Array<[PortKey, string[]]>) {
      const rule = host.find((r) => r.comment === key);
      const serves = topo.node(n.name).runs(PORTS[key].server);
      same(rule?.from, serves && expected.length ? expected : undefined, `${n.name}: host firewall ${key}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Valid topologies

describe("random valid topologies", () => {
  test("build, render every node, and every allow list equals the peers recomputed from roles (400 cases)", () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const input = toInput(spec);
        expect(validateCluster(input)).toEqual([]);
        checkAllowLists(input, buildTopology(input));
      }),
      { numRuns: 400, seed: 20251107 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 2. User rules through the exposure check

const TARGETS = ["node", "mailbox", "classic", "load-balancer", "database", "hub", "admin"] as const;
const SOURCES = [
  "0.0.0.0/0",
  "::/0",
  "192.0.2.0/24",
  "2001:db8::/48",
  "10.0.0.0/8",
  "group:mailbox",
  "group:classic",
  "inside",
] as const;

describe("random user rules", () => {
  test("exactly the rules that expose internal ports, 8443 or SSH are flagged, with the right code (300 cases)", () => {
    const base: ClusterInput = toInput({
      mailbox: 3,
      classic: 2,
      lbs: 2,
      admin: "on-mailbox",
      nfsNode: false,
      database: "node",
      storage: "share-nothing",
      flavor: "haproxy",
      nodeAware: false,
      proxy: { smtp: true, submission: true, imap: true, pop3: true },
      version: "3.10",
      domain: "example.com",
      internalSub: false,
      prefix: 24,
      netA: 10,
      netB: 2,
      offsets: [21, 22, 23, 121, 122, 11, 12, 5],
      serverIds: [1, 2, 3],
      order: [0, 1, 2, 3, 4, 5, 6, 7],
      hub: undefined,
      adminAllow: ["203.0.113.0/24"],
    });
    const topo = buildTopology(base);
    const portArb = fc.oneof(
      fc.constantFrom(...(Object.keys(PORTS) as PortKey[])).map((k) => Port.of(k)),
      fc.integer({ min: 1, max: 65535 }).map((p) => Port.tcp(p, `p${p}`)),
    );
    const ruleArb = fc.record({
      target: fc.constantFrom(...TARGETS),
      source: fc.constantFrom(...SOURCES),
      port: portArb,
    });
    fc.assert(
      fc.property(fc.array(ruleArb, { minLength: 1, maxLength: 6 }), fc.boolean(), (rules, allowWorldSsh) => {
        const extra = new FirewallRules();
        for (const r of rules) {
          const peer = r.source.startsWith("group:")
            ? Peer.group(r.source.slice(6))
            : Peer.cidr(r.source === "inside" ? `${topo.network.text.split("/")[0]}/25` : r.source);
          extra.connections({ group: r.target }).allowFrom(peer, r.port);
        }
        const userRules = new Set(extra.list().map(ruleId));
        const plan = planFirewall(topo, "c", {}, extra);
        const issues = checkExposure(topo, plan, { clusterPath: "c", allowWorldSsh, userRules });
        // Recompute: which (deduplicated) user rules must be flagged, and how.
        const expected = extra
          .list()
          .filter((r) => "cidr" in r.source)
          .flatMap((r) => {
            const cidr = (r.source as { cidr: string }).cidr;
            const world = cidr === "0.0.0.0/0" || cidr === "::/0";
            const inside = cidr.startsWith(topo.network.text.split("/")[0]!) && cidr.endsWith("/25");
            if (r.port === 22 && world) return allowWorldSsh ? [] : [`GRX452 ${ruleId(r)}`];
            if (r.port === 8443 && world) return [`GRX451 ${ruleId(r)}`];
            const members = plan.groups.find((g) => "group" in r.target && g.name === r.target.group)?.members ?? [];
            const served = (Object.keys(PORTS) as PortKey[]).filter(
              (k) =>
                PORTS[k].port === r.port &&
                (PORTS[k].exposure === "cluster" || PORTS[k].exposure === "local") &&
                members.some((mm) => topo.node(mm.name).runs(PORTS[k].server)),
            );
            const internal =
              served.length > 0 ||
              INTERNAL_PORT_NUMBERS.has(r.port) ||
              (r.portKey !== undefined && ["cluster", "local"].includes(PORTS[r.portKey].exposure));
            return internal && !inside ? [`GRX450 ${ruleId(r)}`] : [];
          });
        expect(issues.map((i) => `${i.code} ${i.path.slice("c/firewall/".length)}`).sort()).toEqual(expected.sort());
        for (const i of issues) {
          expect(i.message).toMatch(/port \d+/);
          expect(i.fix.length).toBeGreaterThan(20);
        }
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Invalid inputs: one mutation of a valid input each

type Mutation = { readonly code: string; readonly apply: (i: ClusterInput) => ClusterInput | undefined };

const withNodes = (i: ClusterInput, nodes: NodeInput[]): ClusterInput => ({ ...i, nodes });
const nodesOf = (i: ClusterInput, role: NodeRole) => i.nodes.filter((n) => n.roles.includes(role));
const replaceNode = (i: ClusterInput, name: string, patch: Partial<NodeInput>): ClusterInput =>
  withNodes(
    i,
    i.nodes.map((n) => (n.name === name ? { ...n, ...patch } : n)),
  );

const MUTATIONS: Readonly<Record<string, Mutation>> = {
  "duplicate name": {
    code: "GRX008",
    apply: (i) => (i.nodes.length > 1 ? replaceNode(i, i.nodes[1]!.name, { name: i.nodes[0]!.name }) : undefined),
  },
  "duplicate address": { code: "GRX015", apply: (i) => replaceNode(i, i.nodes[1]!.name, { ipv4: i.nodes[0]!.ipv4 }) },
  "duplicate host name": {
    code: "GRX010",
    apply: (i) => replaceNode(i, i.nodes[1]!.name, { hostname: i.nodes[0]!.hostname }),
  },
  "duplicate server id": {
    code: "GRX018",
    apply: (i) => {
      const m = nodesOf(i, "mailbox");
      return m.length < 2 ? undefined : replaceNode(i, m[1]!.name, { serverId: m[0]!.serverId! });
    },
  },
  "server id out of range": {
    code: "GRX017",
    apply: (i) => replaceNode(i, nodesOf(i, "mailbox")[0]!.name, { serverId: 256 }),
  },
  "out-of-subnet address": {
    code: "GRX013",
    apply: (i) => replaceNode(i, i.nodes[0]!.name, { ipv4: "192.168.254.9" }),
  },
  "reserved address": {
    code: "GRX014",
    apply: (i) => replaceNode(i, i.nodes[0]!.name, { ipv4: i.network.cidr.split("/")[0]! }),
  },
  "not an address": { code: "GRX012", apply: (i) => replaceNode(i, i.nodes[0]!.name, { ipv4: "10.0.0.300" }) },
  "bad version": { code: "GRX002", apply: (i) => ({ ...i, gromoxVersion: "3.11" }) },
  "too old version": { code: "GRX002", apply: (i) => ({ ...i, gromoxVersion: "2.29" }) },
  "garbage version": { code: "GRX002", apply: (i) => ({ ...i, gromoxVersion: "ten" }) },
  "bad domain": { code: "GRX001", apply: (i) => ({ ...i, domain: "Example.COM" }) },
  "bad host name": { code: "GRX009", apply: (i) => replaceNode(i, i.nodes[0]!.name, { hostname: "mail" }) },
  "bad node name": { code: "GRX007", apply: (i) => replaceNode(i, i.nodes[0]!.name, { name: "Mail_1" }) },
  "bad public name": {
    code: "GRX036",
    apply: (i) => ({ ...i, loadBalancer: { ...i.loadBalancer!, publicName: "mail" } }),
  },
  "role clash (classic + load balancer)": {
    code: "GRX044",
    apply: (i) => {
      const c = nodesOf(i, "classic")[0];
      return c ? replaceNode(i, c.name, { roles: ["classic", "load-balancer"] }) : undefined;
    },
  },
  "role clash (admin + load balancer)": {
    code: "GRX044",
    apply: (i) => replaceNode(i, nodesOf(i, "load-balancer")[0]!.name, { roles: ["load-balancer", "admin"] }),
  },
  "no role": { code: "GRX011", apply: (i) => replaceNode(i, i.nodes[0]!.name, { roles: [] }) },
  "unknown role": { code: "GRX011", apply: (i) => replaceNode(i, i.nodes[0]!.name, { roles: ["web" as NodeRole] }) },
  "empty admin allow list": {
    code: "GRX037",
    apply: (i) => ({ ...i, loadBalancer: { ...i.loadBalancer!, adminAllowFrom: [] } }),
  },
  "bad admin allow entry": {
    code: "GRX038",
    apply: (i) => ({ ...i, loadBalancer: { ...i.loadBalancer!, adminAllowFrom: ["10.0.0.0/33"] } }),
  },
  "nginx with PROXY to imap": {
    code: "GRX039",
    apply: (i) => ({ ...i, loadBalancer: { ...i.loadBalancer!, flavor: "nginx", proxyProtocol: { imap: true } } }),
  },
  "network with host bits": { code: "GRX004", apply: (i) => ({ ...i, network: { cidr: "10.10.10.1/24" } }) },
  "hub is not a node": { code: "GRX023", apply: (i) => ({ ...i, hub: "nowhere1" }) },
  "hub is not a mailbox node": { code: "GRX024", apply: (i) => ({ ...i, hub: nodesOf(i, "load-balancer")[0]!.name }) },
  "no mailbox node": {
    code: "GRX020",
    apply: (i) =>
      withNodes(
        i,
        i.nodes.filter((n) => !n.roles.includes("mailbox")),
      ),
  },
  "load-balancer role without a tier": {
    code: "GRX033",
    apply: (i) => {
      const { loadBalancer: _lb, ...rest } = i;
      void _lb;
      return rest;
    },
  },
  "empty database password": { code: "GRX028", apply: (i) => ({ ...i, database: { ...i.database, password: "" } }) },
  "database node without the role": {
    code: "GRX029",
    apply: (i) =>
      "node" in i.database ? { ...i, database: { ...i.database, node: nodesOf(i, "mailbox")[0]!.name } } : undefined,
  },
  "bad IPv6": { code: "GRX016", apply: (i) => replaceNode(i, i.nodes[0]!.name, { ipv6: "2001:db8::g" }) },
};

describe("random invalid inputs", () => {
  const kinds = Object.keys(MUTATIONS);
  test("one mutation of a valid input → GrommunioValidationError with its code, nothing else (500 cases)", () => {
    const small = specArb.filter((s) => s.mailbox <= 6);
    const seen = new Set<string>();
    fc.assert(
      fc.property(small, fc.constantFrom(...kinds), (spec, kind) => {
        const mutated = MUTATIONS[kind]!.apply(toInput(spec));
        fc.pre(mutated !== undefined);
        let thrown: unknown;
        let topo: Topology | undefined;
        try {
          topo = buildTopology(mutated);
        } catch (e) {
          thrown = e;
        }
        expect(topo).toBeUndefined(); // never a topology, so never a rendered config
        expect(thrown).toBeInstanceOf(GrommunioValidationError);
        const error = thrown as GrommunioValidationError;
        expect(error.codes).toContain(MUTATIONS[kind]!.code);
        for (const issue of error.issues) {
          expect(issue.code).toMatch(/^GRX\d{3}$/);
          expect(issue.path.length).toBeGreaterThan(0);
          expect(issue.fix.length).toBeGreaterThan(5);
        }
        // validateCluster reports the same issues without throwing.
        expect(validateCluster(mutated)).toEqual([...error.issues]);
        seen.add(MUTATIONS[kind]!.code);
      }),
      { numRuns: 500, seed: 42 },
    );
    expect(seen.size).toBeGreaterThanOrEqual(20);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Through the constructs

const shapeArb: fc.Arbitrary<Shape> = fc.record({
  mailbox: fc.integer({ min: 1, max: 5 }),
  classic: fc.integer({ min: 0, max: 2 }),
  lbs: fc.integer({ min: 1, max: 3 }),
  flavor: fc.constantFrom<Shape["flavor"]>("haproxy", "nginx"),
  storage: fc.constantFrom<Shape["storage"]>("shared", "share-nothing"),
  admin: fc.constantFrom<Shape["admin"]>("mail1", "node", "none"),
  nodeAwareRouting: fc.boolean(),
  gromoxVersion: fc.constantFrom(...GROMOX_VERSIONS),
});

describe("random valid clusters through the constructs", () => {
  test.each(["aws", "hcloud"] as const)(
    "%s: synth succeeds, no internal port faces the world, peers as recomputed (6 cases)",
    (platform) => {
      fc.assert(
        fc.property(shapeArb, (shape) => {
          const { stack, cluster } = buildShape(platform, shape, { sshAllowFrom: ["198.51.100.0/24"] });
          const json = synthJson(stack);
          expect(worldRules(json).filter((r) => NEVER_WORLD.has(r.port))).toEqual([]);
          const topo = cluster.topology;
          const uds = userDataByNode(json, fakeResolver);
          expect(uds.size).toBe(topo.nodes.length);
          const m = model({
            ...cluster.clusterInput(),
            nodes: topo.nodes.map((n) => ({
              name: n.name,
              hostname: n.hostname,
              roles: [...n.roles],
              ipv4: n.ipv4,
              serverId: n.serverId!,
            })),
          });
          for (const [name, text] of uds) {
            const { files } = deliveredFiles(text);
            if (platform === "aws") {
              expect(text).not.toContain("P".repeat(32));
              continue;
            }
            const nft = files.find((f) => f.path === "/etc/nftables.conf")!.content;
            const exmdb = /ip saddr (\{ [^}]+ \}|\S+) tcp dport 5000 accept/.exec(nft);
            if (topo.node(name).has("mailbox")) {
              expect(nftAddresses(exmdb![1]!)).toEqual(m.exmdb.slice(1).map((x) => x.slice(7)));
            } else expect(exmdb).toBeNull();
          }
        }),
        { numRuns: 6, seed: platform === "aws" ? 11 : 12 },
      );
    },
  );
});
