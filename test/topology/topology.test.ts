/**
 * The resolved topology: allow lists from the node graph, the hub, ordering, defaults, version
 * gates and stability under adding, removing and reordering nodes.
 */
import fc from "fast-check";
import {
  ClusterInput,
  ClusterNode,
  GrommunioValidationError,
  NodeInput,
  Topology,
  buildTopology,
  listeningPorts,
  validateCluster,
} from "../../lib/topology";
import { documentedLayout, largeLayout } from "../fixtures";

const LISTS = ["exmdb", "midb", "event", "timer"] as const;
type ListName = (typeof LISTS)[number];

const names = (nodes: readonly ClusterNode[]) => nodes.map((n) => n.name);

describe("documented layout", () => {
  const topo = buildTopology(documentedLayout());

  describe("allow lists (gromox.md §6)", () => {
    it("exmdb: ::1, then every mailbox and the classic node", () => {
      expect(topo.allowList("exmdb")).toEqual([
        "::1",
        "::ffff:10.10.10.20",
        "::ffff:10.10.10.30",
        "::ffff:10.10.10.40",
        "::ffff:10.10.10.50",
      ]);
    });
    it("midb: ::1 and the classic node", () => {
      expect(topo.allowList("midb")).toEqual(["::1", "::ffff:10.10.10.50"]);
    });
    it("event: ::1, every midb (mailbox) and imap/pop3 (classic) host", () => {
      expect(topo.allowList("event")).toEqual([
        "::1",
        "::ffff:10.10.10.20",
        "::ffff:10.10.10.30",
        "::ffff:10.10.10.40",
        "::ffff:10.10.10.50",
      ]);
    });
    it("timer: ::1 and every http/zcore (mailbox) host", () => {
      expect(topo.allowList("timer")).toEqual([
        "::1",
        "::ffff:10.10.10.20",
        "::ffff:10.10.10.30",
        "::ffff:10.10.10.40",
      ]);
    });
    it.each(LISTS)("%s: exact addresses only, ::1 first, no duplicates, never the LB or DB", (list) => {
      const allow = topo.allowList(list);
      expect(allow[0]).toBe("::1");
      expect(new Set(allow).size).toBe(allow.length);
      for (const a of allow.slice(1)) expect(a).toMatch(/^::ffff:10\.10\.10\.\d{1,3}$/);
      expect(allow).not.toContain("::");
      expect(allow).not.toContain("::ffff:10.10.10.10");
      expect(allow).not.toContain("::ffff:10.10.10.60");
    });
  });

  describe("hub", () => {
    it("is mail1, the mailbox node with the lowest serverId", () => {
      expect(topo.hub.name).toBe("mail1");
      expect(topo.hub.serverId).toBe(1);
    });
    it("is the only node that runs gromox-event and gromox-timer", () => {
      expect(names(topo.nodesRunning("gromox-event"))).toEqual(["mail1"]);
      expect(names(topo.nodesRunning("gromox-timer"))).toEqual(["mail1"]);
      for (const n of topo.nodes) {
        expect(n.runs("gromox-event")).toBe(n.name === "mail1");
        expect(n.runs("gromox-timer")).toBe(n.name === "mail1");
      }
    });
    it("listens on the event and timer ports; other mailbox nodes do not", () => {
      expect(listeningPorts(topo.node("mail1"))).toEqual(expect.arrayContaining(["event", "timer", "exmdb", "midb"]));
      expect(listeningPorts(topo.node("mail2"))).toEqual(expect.arrayContaining(["exmdb", "midb"]));
      expect(listeningPorts(topo.node("mail2"))).not.toContain("event");
      expect(listeningPorts(topo.node("mail2"))).not.toContain("timer");
    });
    it("is the schema upgrade node by default", () => {
      expect(topo.schemaUpgradeNode.name).toBe("mail1");
    });
    it("can be chosen, and so can the schema upgrade node", () => {
      const t = buildTopology(documentedLayout({ hub: "mail3", schemaUpgradeNode: "mail2" }));
      expect(t.hub.name).toBe("mail3");
      expect(t.schemaUpgradeNode.name).toBe("mail2");
      expect(names(t.nodesRunning("gromox-event"))).toEqual(["mail3"]);
      expect(names(t.nodesRunning("gromox-timer"))).toEqual(["mail3"]);
      expect(t.node("mail1").runs("gromox-event")).toBe(false);
    });
  });

  describe("nodes", () => {
    it("are sorted by name", () => {
      expect(names(topo.nodes)).toEqual(["classic1", "db1", "lb1", "mail1", "mail2", "mail3"]);
    });
    it("mailbox nodes are ordered by serverId", () => {
      expect(names(topo.mailboxNodes)).toEqual(["mail1", "mail2", "mail3"]);
      expect(topo.mailboxNodes.map((n) => n.serverId)).toEqual([1, 2, 3]);
    });
    it("mailbox nodes are ordered by serverId, not by name or input order", () => {
      const input = documentedLayout();
      const ids: Record<string, number> = { mail1: 7, mail2: 3, mail3: 5 };
      const t = buildTopology({
        ...input,
        nodes: [...input.nodes].reverse().map((n) => (n.name in ids ? { ...n, serverId: ids[n.name]! } : n)),
      });
      expect(names(t.mailboxNodes)).toEqual(["mail2", "mail3", "mail1"]);
      expect(t.hub.name).toBe("mail2");
    });
    it("classic and admin nodes", () => {
      expect(names(topo.classicNodes)).toEqual(["classic1"]);
      expect(names(topo.adminNodes)).toEqual(["mail1"]);
      expect(names(topo.loadBalancer!.nodes)).toEqual(["lb1"]);
    });
    it("carry their input and the mapped address", () => {
      const n = topo.node("mail2");
      expect(n).toMatchObject({
        name: "mail2",
        hostname: "mail2.gro.at",
        ipv4: "10.10.10.30",
        mappedIpv4: "::ffff:10.10.10.30",
        serverId: 2,
        path: "cluster/nodes/mail2",
      });
      expect(n.has("mailbox")).toBe(true);
      expect(n.has("classic")).toBe(false);
      expect(n.ipv6).toBeUndefined();
    });
    it("non-mailbox nodes have no serverId", () => {
      expect(topo.node("classic1").serverId).toBeUndefined();
      expect("serverId" in topo.node("lb1")).toBe(false);
    });
    it("daemons follow the roles, sorted, sshd everywhere", () => {
      expect(topo.node("mail2").daemons).toEqual([
        "grommunio-web",
        "gromox-http",
        "gromox-midb",
        "gromox-zcore",
        "sshd",
      ]);
      expect(topo.node("mail1").daemons).toEqual([
        "grommunio-admin-api",
        "grommunio-web",
        "gromox-event",
        "gromox-http",
        "gromox-midb",
        "gromox-timer",
        "gromox-zcore",
        "sshd",
      ]);
      expect(topo.node("classic1").daemons).toEqual([
        "gromox-delivery",
        "gromox-delivery-queue",
        "gromox-imap",
        "gromox-pop3",
        "postfix",
        "rspamd",
        "sshd",
      ]);
      expect(topo.node("lb1").daemons).toEqual(["load-balancer", "sshd"]);
      expect(topo.node("db1").daemons).toEqual(["mariadb", "sshd"]);
    });
    it("an IPv6 address is stored canonical", () => {
      const input = documentedLayout();
      const t = buildTopology({
        ...input,
        nodes: input.nodes.map((n) => (n.name === "lb1" ? { ...n, ipv6: "2001:DB8:0:0::0010" } : n)),
      });
      expect(t.node("lb1").ipv6).toBe("2001:db8::10");
    });
    it("node() throws for an unknown name", () => {
      expect(() => topo.node("mail9")).toThrow(/mail9/);
    });
  });

  describe("database", () => {
    it("endpoint is db1's private address with the installer's defaults", () => {
      expect(topo.database).toMatchObject({
        host: "10.10.10.60",
        port: 3306,
        name: "grommunio",
        user: "grommunio",
        password: "db-secret",
      });
      expect(topo.database.node?.name).toBe("db1");
      expect(topo.database.host).toBe(topo.node("db1").ipv4);
    });
    it("an external database keeps host and port and has no node", () => {
      const input = documentedLayout({ database: { host: "db.example.net", port: 3307, password: "pw" } });
      const t = buildTopology({ ...input, nodes: input.nodes.filter((n) => n.name !== "db1") });
      expect(t.database).toMatchObject({ host: "db.example.net", port: 3307 });
      expect(t.database.node).toBeUndefined();
    });
    it("name and user can be given", () => {
      const t = buildTopology(
        documentedLayout({ database: { node: "db1", password: "pw", name: "mail_db", user: "gromox" } }),
      );
      expect(t.database).toMatchObject({ name: "mail_db", user: "gromox" });
    });
  });

  describe("defaults", () => {
    it("externalName is the load balancer's public name", () => {
      for (const n of topo.nodes) expect(n.externalName).toBe("mail.gro.at");
    });
    it("externalName is the host name without a load balancer", () => {
      const input = documentedLayout({ loadBalancer: undefined });
      const t = buildTopology({ ...input, nodes: input.nodes.filter((n) => n.name !== "lb1") });
      for (const n of t.nodes) expect(n.externalName).toBe(n.hostname);
      expect(t.loadBalancer).toBeUndefined();
    });
    it("an explicit externalName wins", () => {
      const input = documentedLayout();
      const t = buildTopology({
        ...input,
        nodes: input.nodes.map((n) => (n.name === "mail2" ? { ...n, externalName: "mail2.gro.at" } : n)),
      });
      expect(t.node("mail2").externalName).toBe("mail2.gro.at");
      expect(t.node("mail3").externalName).toBe("mail.gro.at");
    });
    it("x500OrgName is the domain", () => {
      expect(topo.x500OrgName).toBe("gro.at");
      expect(buildTopology(documentedLayout({ x500OrgName: "Gro AT" })).x500OrgName).toBe("Gro AT");
    });
    it("cluster fields", () => {
      expect(topo).toMatchObject({ path: "cluster", domain: "gro.at", storage: "shared" });
      expect(topo.network).toMatchObject({ text: "10.10.10.0/24", prefix: 24, size: 256 });
    });
    it("proxyProtocol for haproxy: all true", () => {
      expect(topo.loadBalancer!.proxyProtocol).toEqual({ smtp: true, submission: true, imap: true, pop3: true });
    });
    it("proxyProtocol for nginx: smtp and submission true, imap and pop3 false", () => {
      const t = buildTopology(documentedLayout({ loadBalancer: { flavor: "nginx", publicName: "mail.gro.at" } }));
      expect(t.loadBalancer!.proxyProtocol).toEqual({ smtp: true, submission: true, imap: false, pop3: false });
    });
    it("proxyProtocol switches can be turned off one by one", () => {
      const t = buildTopology(
        documentedLayout({
          loadBalancer: { flavor: "haproxy", publicName: "mail.gro.at", proxyProtocol: { smtp: false, pop3: false } },
        }),
      );
      expect(t.loadBalancer!.proxyProtocol).toEqual({ smtp: false, submission: true, imap: true, pop3: false });
    });
    it("load-balancer tier fields", () => {
      expect(topo.loadBalancer).toMatchObject({
        flavor: "haproxy",
        publicName: "mail.gro.at",
        nodeAwareRouting: true,
        adminAllowFrom: ["203.0.113.0/24"],
      });
      expect(topo.loadBalancer!.pools.size).toBe(0);
      const t = buildTopology(largeLayout());
      expect(t.loadBalancer!.nodeAwareRouting).toBe(false);
    });
    it("no adminAllowFrom means no admin frontend", () => {
      const t = buildTopology(documentedLayout({ loadBalancer: { flavor: "haproxy", publicName: "mail.gro.at" } }));
      expect(t.loadBalancer!.adminAllowFrom).toBeUndefined();
      expect("adminAllowFrom" in t.loadBalancer!).toBe(false);
    });
    it("pools are sorted by key and by server name, tls defaults to true", () => {
      const t = buildTopology(
        documentedLayout({
          loadBalancer: {
            flavor: "haproxy",
            publicName: "mail.gro.at",
            pools: {
              meet: [{ name: "meet1", address: "10.10.10.80", port: 443, tls: false }],
              chat: [
                { name: "chat2", address: "chat2.gro.at", port: 8065 },
                { name: "chat1", address: "10.10.10.70", port: 8065 },
              ],
            },
          },
        }),
      );
      const pools = t.loadBalancer!.pools;
      expect([...pools.keys()]).toEqual(["chat", "meet"]);
      expect(pools.get("chat")).toEqual([
        { name: "chat1", address: "10.10.10.70", port: 8065, tls: true },
        { name: "chat2", address: "chat2.gro.at", port: 8065, tls: true },
      ]);
      expect(pools.get("meet")![0]!.tls).toBe(false);
    });
  });

  it("clientsOf('mysql') holds every gromox, postfix and load-balancer node, not the database", () => {
    expect(names(topo.clientsOf("mysql"))).toEqual(["lb1", "mail1", "mail2", "mail3", "classic1"]);
  });
});

describe("large layout", () => {
  const topo = buildTopology(largeLayout());
  const ip = (last: number) => `::ffff:10.20.0.${last}`;

  it("exmdb: every mailbox, both classic nodes and the admin node", () => {
    expect(topo.allowList("exmdb")).toEqual(["::1", ip(11), ip(12), ip(13), ip(14), ip(16), ip(31), ip(32), ip(41)]);
  });
  it("midb: both classic nodes", () => {
    expect(topo.allowList("midb")).toEqual(["::1", ip(31), ip(32)]);
  });
  it("event: every mailbox and both classic nodes", () => {
    expect(topo.allowList("event")).toEqual(["::1", ip(11), ip(12), ip(13), ip(14), ip(16), ip(31), ip(32)]);
  });
  it("timer: every mailbox node", () => {
    expect(topo.allowList("timer")).toEqual(["::1", ip(11), ip(12), ip(13), ip(14), ip(16)]);
  });
  it.each(LISTS)("%s never holds the load balancers or the database", (list) => {
    const allow = topo.allowList(list);
    for (const n of ["lb1", "lb2", "db1"]) expect(allow).not.toContain(topo.node(n).mappedIpv4);
  });
  it("allow lists are sorted numerically, not as text", () => {
    const t = buildTopology(
      largeLayout({
        nodes: largeLayout().nodes.map((n) => (n.name === "classic2" ? { ...n, ipv4: "10.20.0.100" } : n)),
      }),
    );
    expect(t.allowList("midb")).toEqual(["::1", ip(31), ip(100)]);
  });
  it("hub is mail1; mailbox nodes by serverId, with the gap", () => {
    expect(topo.hub.name).toBe("mail1");
    expect(topo.mailboxNodes.map((n) => n.serverId)).toEqual([1, 2, 3, 4, 6]);
  });
  it("clientsOf('mysql') holds both load balancers (map job) and not the database", () => {
    const clients = names(topo.clientsOf("mysql"));
    expect(clients).toEqual(expect.arrayContaining(["lb1", "lb2", "admin1", "classic1", "classic2", "mail1", "mail6"]));
    expect(clients).not.toContain("db1");
    expect(clients).toHaveLength(topo.nodes.length - 1);
  });
  it("nodesRunning is sorted by address", () => {
    expect(names(topo.nodesRunning("sshd"))).toEqual([
      "lb1",
      "lb2",
      "mail1",
      "mail2",
      "mail3",
      "mail4",
      "mail6",
      "classic1",
      "classic2",
      "admin1",
      "db1",
    ]);
  });
});

describe("version gates (gromox.md §2)", () => {
  const features = (v: string) => buildTopology(documentedLayout({ gromoxVersion: v })).features;

  it.each([
    ["2.30", false, true],
    ["3.4", false, true],
    ["3.4.9", false, true],
    ["3.5", true, true],
    ["3.5.1", true, true],
    ["3.6", true, false],
    ["3.9", true, false],
    ["3.10", true, false],
    ["3.10.3", true, false],
  ])("%s: listenInGromoxCfg %s, exmdbListTxt %s", (v, listen, listTxt) => {
    expect(features(v)).toEqual({ listenInGromoxCfg: listen, exmdbListTxt: listTxt });
  });

  it("keeps the version as given", () => {
    const t = buildTopology(documentedLayout({ gromoxVersion: "3.5.1" }));
    expect(t.gromoxVersion).toEqual({ major: 3, minor: 5, patch: 1, text: "3.5.1" });
  });

  it.each(["2.29", "3.11", "abc", "", "3", "3.10.1.1", "v3.10", "4.0"])("rejects %p with GRX002", (v) => {
    let err: unknown;
    try {
      buildTopology(documentedLayout({ gromoxVersion: v }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GrommunioValidationError);
    expect((err as GrommunioValidationError).codes).toEqual(["GRX002"]);
  });
});

// ---------------------------------------------------------------------------------------------
// Stability: private addresses, names, ids and allow-list membership of a node do not depend on
// the other nodes (DESIGN.md: "adding or removing one node never changes another node's address").

interface NodeFacts {
  ipv4: string;
  hostname: string;
  serverId: number | undefined;
  externalName: string;
  daemons: readonly string[];
  lists: ListName[];
}

function facts(t: Topology): Map<string, NodeFacts> {
  const allow = Object.fromEntries(LISTS.map((l) => [l, new Set(t.allowList(l))])) as Record<ListName, Set<string>>;
  return new Map(
    t.nodes.map((n) => [
      n.name,
      {
        ipv4: n.ipv4,
        hostname: n.hostname,
        serverId: n.serverId,
        externalName: n.externalName,
        daemons: n.daemons,
        lists: LISTS.filter((l) => allow[l].has(n.mappedIpv4)),
      },
    ]),
  );
}

/** Everything of a topology as plain data (functions and Sets flattened). */
function snapshot(t: Topology): unknown {
  const node = (n: ClusterNode) => ({ ...n, roles: [...n.roles].sort(), has: undefined, runs: undefined });
  return {
    ...t,
    nodes: t.nodes.map(node),
    mailboxNodes: names(t.mailboxNodes),
    classicNodes: names(t.classicNodes),
    adminNodes: names(t.adminNodes),
    hub: t.hub.name,
    schemaUpgradeNode: t.schemaUpgradeNode.name,
    database: { ...t.database, node: t.database.node?.name },
    loadBalancer: t.loadBalancer && {
      ...t.loadBalancer,
      nodes: names(t.loadBalancer.nodes),
      pools: [...t.loadBalancer.pools],
    },
    lists: LISTS.map((l) => t.allowList(l)),
    node: undefined,
    nodesRunning: undefined,
    clientsOf: undefined,
    allowList: undefined,
  };
}

const layouts: [string, () => ClusterInput][] = [
  ["documented", () => documentedLayout()],
  ["large", () => largeLayout()],
];

describe.each(layouts)("stability (%s layout)", (_, layout) => {
  const base = layout();
  const before = facts(buildTopology(base));

  it("reordering the input nodes changes nothing", () => {
    fc.assert(
      fc.property(fc.shuffledSubarray([...base.nodes], { minLength: base.nodes.length }), (nodes) => {
        expect(snapshot(buildTopology({ ...base, nodes }))).toEqual(snapshot(buildTopology(base)));
      }),
      { numRuns: 100 },
    );
  });

  const usedIps = new Set(base.nodes.map((n) => n.ipv4));
  const usedIds = new Set(base.nodes.map((n) => n.serverId).filter((x) => x !== undefined));
  const prefix = base.network.cidr.split(".").slice(0, 3).join(".");
  const newNode = fc
    .record({
      role: fc.constantFrom("mailbox", "classic", "admin", "load-balancer", "nfs"),
      last: fc.integer({ min: 2, max: 254 }).filter((i) => !usedIps.has(`${prefix}.${i}`)),
      serverId: fc.integer({ min: 2, max: 255 }).filter((i) => !usedIds.has(i)),
      at: fc.nat(),
    })
    .map(({ role, last, serverId, at }): { node: NodeInput; at: number } => ({
      node: {
        name: "added1",
        hostname: "added1.internal.example",
        roles: [role],
        ipv4: `${prefix}.${last}`,
        ...(role === "mailbox" ? { serverId } : {}),
      },
      at: at % (base.nodes.length + 1),
    }));

  it("adding a node anywhere in the input changes no other node", () => {
    fc.assert(
      fc.property(newNode, ({ node, at }) => {
        const nodes = [...base.nodes.slice(0, at), node, ...base.nodes.slice(at)];
        expect(validateCluster({ ...base, nodes })).toEqual([]);
        const after = facts(buildTopology({ ...base, nodes }));
        expect(after.size).toBe(before.size + 1);
        for (const [name, f] of before) expect(after.get(name)).toEqual(f);
      }),
      { numRuns: 150 },
    );
  });

  it("the added node joins exactly the allow lists of its role", () => {
    const expected: Record<string, ListName[]> = {
      mailbox: ["exmdb", "event", "timer"],
      classic: ["exmdb", "midb", "event"],
      admin: ["exmdb"],
      "load-balancer": [],
      nfs: [],
    };
    fc.assert(
      fc.property(newNode, ({ node }) => {
        const after = facts(buildTopology({ ...base, nodes: [...base.nodes, node] }));
        expect(after.get("added1")!.lists).toEqual(expected[node.roles[0]!]);
      }),
      { numRuns: 50 },
    );
  });

  it("removing a node that is not the hub, database or last load balancer changes no other node", () => {
    const hub = buildTopology(base).hub.name;
    const removable = base.nodes.filter(
      (n) => n.name !== hub && !n.roles.includes("database") && !n.roles.includes("load-balancer"),
    );
    for (const gone of removable) {
      const after = facts(buildTopology({ ...base, nodes: base.nodes.filter((n) => n !== gone) }));
      for (const [name, f] of before) if (name !== gone.name) expect(after.get(name)).toEqual(f);
    }
  });
});
