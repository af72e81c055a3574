import "cdktf/lib/testing/adapters/jest";
import { ClusterNode, PORTS, PortKey, Topology, buildTopology, listeningPorts } from "../../lib/topology";
import {
  NftRule,
  allowRuleToNft,
  nodeFirewall,
  planAllowRules,
  portRules,
  renderHostFirewall,
  renderNftables,
  rule,
  serializeNftables,
} from "../../lib/render/nftables";
import type { FirewallPlan } from "../../lib/platforms/platform";
import { documentedLayout, largeLayout } from "../fixtures";

const SSH = ["198.51.100.7", "2001:db8:1::/48"];

function acceptedPorts(rules: readonly NftRule[]): Map<number, NftRule[]> {
  const m = new Map<number, NftRule[]>();
  for (const r of rules) for (const p of r.dport ?? []) m.set(p, [...(m.get(p) ?? []), r]);
  return m;
}

describe.each([
  ["documented layout", buildTopology(documentedLayout())],
  ["large layout", buildTopology(largeLayout())],
])("nftables host firewall, %s", (_name, topo: Topology) => {
  test.each(topo.nodes.map((n) => [n.name, n] as const))(
    "%s: every cluster port is open exactly to clientsOf(port), never to the world",
    (_n, node: ClusterNode) => {
      const rules = portRules(topo, node, { sshAllowFrom: SSH });
      for (const key of listeningPorts(node)) {
        const spec = PORTS[key];
        const mine = rules.filter((r) => r.comment === key);
        if (spec.exposure === "cluster") {
          const clients = topo.clientsOf(key).map((n) => n.ipv4);
          expect(mine).toEqual(
            clients.length ? [expect.objectContaining({ ipSaddr: clients, dport: [spec.port] })] : [],
          );
          expect(mine.every((r) => r.ip6Saddr === undefined)).toBe(true);
        }
        if (spec.exposure === "local") expect(mine).toEqual([]);
      }
      // Only public ports come without a source restriction.
      for (const r of rules.filter((r) => !r.ipSaddr && !r.ip6Saddr)) {
        expect(PORTS[r.comment as PortKey].exposure).toBe("public");
      }
      // Nothing is accepted that the node does not listen on.
      const listening = new Set<number>(listeningPorts(node).map((k) => PORTS[k].port));
      for (const p of acceptedPorts(rules).keys()) expect(listening.has(p)).toBe(true);
    },
  );

  test("SSH only from the operator list (IPv4 and IPv6 rules), admin only from adminAllowFrom", () => {
    for (const node of topo.nodes) {
      const ssh = portRules(topo, node, { sshAllowFrom: SSH }).filter((r) => r.comment === "ssh");
      expect(ssh).toEqual([
        expect.objectContaining({ ipSaddr: ["198.51.100.7"], dport: [22] }),
        expect.objectContaining({ ip6Saddr: ["2001:db8:1::/48"], dport: [22] }),
      ]);
      expect(portRules(topo, node).filter((r) => r.comment === "ssh")).toEqual([]);
    }
    for (const lb of topo.loadBalancer!.nodes) {
      const admin = portRules(topo, lb).filter((r) => r.comment === "publicAdmin");
      expect(admin).toEqual([
        expect.objectContaining({ ipSaddr: topo.loadBalancer!.adminAllowFrom, dport: [PORTS.publicAdmin.port] }),
      ]);
    }
  });
});

describe("nftables serialization", () => {
  const topo = buildTopology(documentedLayout());

  test("runs of three or more consecutive IPv4 addresses become ranges; CIDRs, pairs and gaps stay", () => {
    const r = (ipSaddr: string[]) => rule({ ipSaddr, protocol: "tcp", dport: [5000], verdict: "accept" });
    expect(r(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.5", "10.0.0.6", "10.0.0.9", "10.0.1.0/24"])).toBe(
      "ip saddr { 10.0.0.1-10.0.0.3, 10.0.0.5, 10.0.0.6, 10.0.0.9, 10.0.1.0/24 } tcp dport 5000 accept",
    );
    // across octets, a whole list in one range, a single address bare
    expect(r(["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"])).toBe(
      "ip saddr 10.0.0.254-10.0.1.1 tcp dport 5000 accept",
    );
    expect(r(["10.0.0.7"])).toBe("ip saddr 10.0.0.7 tcp dport 5000 accept");
    expect(r(["10.0.0.1", "10.0.0.1", "10.0.0.2"])).toBe(
      "ip saddr { 10.0.0.1, 10.0.0.1, 10.0.0.2 } tcp dport 5000 accept",
    );
    const large = buildTopology(largeLayout());
    expect(renderNftables(large, large.node("mail1")).content).toContain(
      "ip saddr { 10.20.0.11-10.20.0.14, 10.20.0.16, 10.20.0.31, 10.20.0.32, 10.20.0.41 } tcp dport 5000",
    );
  });

  test("the mailbox hub's file: replaces only its own table, default drop, exact port rules", () => {
    const text = renderNftables(topo, topo.node("mail1"), { sshAllowFrom: ["198.51.100.7"] });
    expect(text.path).toBe("/etc/nftables.conf");
    expect(text.mode).toBe("0755");
    const lines = text.content.split("\n");
    expect(lines[0]).toBe("#!/usr/sbin/nft -f");
    expect(lines).toContain("table inet grommunio");
    expect(lines).toContain("delete table inet grommunio");
    expect(text.content).not.toMatch(/flush ruleset/);
    expect(lines).toContain("\t\ttype filter hook input priority 0; policy drop;");
    expect(lines).toContain(
      '\t\tip saddr { 10.10.10.20, 10.10.10.30, 10.10.10.40, 10.10.10.50 } tcp dport 5000 accept comment "exmdb"',
    );
    expect(lines).toContain('\t\tip saddr 10.10.10.50 tcp dport 5555 accept comment "midb"');
    expect(lines).toContain('\t\tip saddr 10.10.10.10 tcp dport 443 accept comment "mailboxWeb"');
    // gromox-http listens on loopback for the node's own nginx: never opened.
    expect(text.content).not.toMatch(/dport (10080|10443)/);
    expect(lines).toContain('\t\tip saddr 198.51.100.7 tcp dport 22 accept comment "ssh"');
    // mail2 is not the hub: no timer/event rules.
    const mail2 = renderNftables(topo, topo.node("mail2")).content;
    expect(mail2).not.toMatch(/dport (6666|33333)/);
  });

  test("is deterministic and stable when an unrelated node is added", () => {
    const a = renderNftables(topo, topo.node("db1")).content;
    expect(renderNftables(topo, topo.node("db1")).content).toBe(a);
    const more = documentedLayout();
    const bigger = buildTopology({
      ...more,
      nodes: [...more.nodes, { name: "lb2", hostname: "lb2.gro.at", roles: ["load-balancer"], ipv4: "10.10.10.11" }],
    });
    // mail3's exmdb clients do not include LBs: unchanged. db1's mysql clients do: one address more.
    expect(renderNftables(bigger, bigger.node("mail3")).content).toContain(
      "ip saddr { 10.10.10.20, 10.10.10.30, 10.10.10.40, 10.10.10.50 } tcp dport 5000",
    );
    expect(renderNftables(bigger, bigger.node("db1")).content).toContain("10.10.10.10, 10.10.10.11, 10.10.10.20");
  });

  test("reverse-path filter can be turned off; table name and path can be changed", () => {
    const rs = nodeFirewall(topo, topo.node("lb1"), { reversePathFilter: false, tableName: "grx" });
    expect(rs.tables[0]!.chains[0]!.rules.some((r) => r.reversePathMissing)).toBe(false);
    expect(serializeNftables(rs)).toContain("table inet grx {");
    expect(renderNftables(topo, topo.node("lb1"), { path: "/etc/nftables.d/grx.nft" }).path).toBe(
      "/etc/nftables.d/grx.nft",
    );
  });

  test("rule(): fixed match order, sets only for several elements, refuses bad input", () => {
    expect(
      rule({ protocol: "tcp", dport: [25, 587], ipSaddr: ["10.0.0.1"], verdict: "accept", comment: 'a "b"' }),
    ).toBe("ip saddr 10.0.0.1 tcp dport { 25, 587 } accept comment \"a 'b'\"");
    expect(() => rule({ dport: [22], verdict: "accept" })).toThrow(/needs a protocol/);
    expect(() => rule({ protocol: "tcp", dport: [70000], verdict: "accept" })).toThrow(/bad port/);
    expect(() => rule({ ipSaddr: ["10.0.0.1; flush ruleset"], verdict: "accept" })).toThrow(/not an address/);
    expect(() => rule({ ipSaddr: [], verdict: "accept" })).toThrow(/empty set/);
    expect(() => rule({ iifname: 'lo" accept', verdict: "accept" })).toThrow(/interface name/);
  });
});

describe("host firewall from a firewall plan", () => {
  const plan: FirewallPlan = {
    groups: [
      { name: "lb", description: "", members: [{ name: "lb1", ipv4: "10.0.0.5" }] },
      {
        name: "mailbox",
        description: "",
        members: [
          { name: "mail1", ipv4: "10.0.0.11" },
          { name: "mail2", ipv4: "10.0.0.12" },
        ],
      },
      { name: "classic", description: "", members: [{ name: "classic1", ipv4: "10.0.0.21" }] },
    ],
    rules: [
      {
        key: "exmdb-from-mailbox",
        target: { group: "mailbox" },
        source: { group: "mailbox" },
        port: 5000,
        protocol: "tcp",
        portKey: "exmdb",
        description: "",
      },
      {
        key: "exmdb-from-classic",
        target: { group: "mailbox" },
        source: { group: "classic" },
        port: 5000,
        protocol: "tcp",
        portKey: "exmdb",
        description: "",
      },
      {
        key: "mailboxWeb-from-lb",
        target: { group: "mailbox" },
        source: { group: "lb" },
        port: 443,
        protocol: "tcp",
        portKey: "mailboxWeb",
        description: "",
      },
      {
        key: "publicSmtp-from-nlb",
        target: { group: "lb" },
        source: { service: "load-balancer" },
        port: 25,
        protocol: "tcp",
        portKey: "publicSmtp",
        description: "",
      },
      {
        key: "publicHttps-from-world4",
        target: { group: "lb" },
        source: { cidr: "0.0.0.0/0" },
        port: 443,
        protocol: "tcp",
        portKey: "publicHttps",
        description: "",
      },
      {
        key: "publicHttps-from-world6",
        target: { group: "lb" },
        source: { cidr: "::/0" },
        port: 443,
        protocol: "tcp",
        portKey: "publicHttps",
        description: "",
      },
      {
        key: "ssh-from-ops",
        target: { group: "lb" },
        source: { cidr: "2001:db8::/48" },
        port: 22,
        protocol: "tcp",
        portKey: "ssh",
        description: "",
      },
      {
        key: "nfs-from-mailbox",
        target: { service: "shared-storage" },
        source: { group: "mailbox" },
        port: 2049,
        protocol: "tcp",
        portKey: "nfs",
        description: "",
      },
    ],
  };

  test("rules of a machine merge per port key; group sources become member addresses", () => {
    expect(planAllowRules(plan, "mail2")).toEqual([
      { port: 443, protocol: "tcp", comment: "mailboxWeb", from: ["10.0.0.5"] },
      { port: 5000, protocol: "tcp", comment: "exmdb", from: ["10.0.0.11", "10.0.0.12", "10.0.0.21"] },
    ]);
    expect(planAllowRules(plan, "classic1")).toEqual([]);
  });

  test("managed-service sources resolve through the platform, or are left out", () => {
    expect(planAllowRules(plan, "lb1").map((r) => r.comment)).toEqual(["ssh", "publicHttps"]);
    const withLb = planAllowRules(plan, "lb1", (s) => (s === "load-balancer" ? ["10.0.0.253"] : undefined));
    expect(withLb).toEqual([
      { port: 22, protocol: "tcp", comment: "ssh", from: ["2001:db8::/48"] },
      { port: 25, protocol: "tcp", comment: "publicSmtp", from: ["10.0.0.253"] },
      { port: 443, protocol: "tcp", comment: "publicHttps", from: ["0.0.0.0/0", "::/0"] },
    ]);
    // A world CIDR opens the port to any source in both families, in one rule.
    expect(allowRuleToNft(withLb[2]!)).toEqual([
      { protocol: "tcp", dport: [443], verdict: "accept", comment: "publicHttps" },
    ]);
    const text = renderHostFirewall({ hostname: "lb1.example.com", ipv4: "10.0.0.5" }, withLb).content;
    expect(text).toContain('ip6 saddr 2001:db8::/48 tcp dport 22 accept comment "ssh"');
    expect(text).toContain('ip saddr 10.0.0.253 tcp dport 25 accept comment "publicSmtp"');
  });

  test("the plan path and the port-table path agree when the plan is the port table", () => {
    const topo = buildTopology(documentedLayout());
    const node = topo.node("mail1");
    const derived: FirewallPlan = {
      groups: topo.nodes.map((n) => ({ name: n.name, description: "", members: [{ name: n.name, ipv4: n.ipv4 }] })),
      rules: listeningPorts(node).flatMap((key) =>
        PORTS[key].exposure === "cluster"
          ? topo.clientsOf(key).map((c) => ({
              key: `${key}-from-${c.name}`,
              target: { group: node.name },
              source: { group: c.name },
              port: PORTS[key].port,
              protocol: "tcp" as const,
              portKey: key,
              description: "",
            }))
          : [],
      ),
    };
    expect(renderHostFirewall(node, planAllowRules(derived, "mail1")).content).toBe(renderNftables(topo, node).content);
  });
});
