import "cdktf/lib/testing/adapters/jest";
import { FirewallRules, Peer, Port, planFirewall } from "../../lib/cluster/firewall";
import { PORTS, buildTopology, isWorld } from "../../lib";
import { documentedLayout, largeLayout } from "../fixtures";

const targetOf = (r: { target: { group: string } | { service: string } }) =>
  "group" in r.target ? r.target.group : r.target.service;

const internal = new Set<number>(
  Object.values(PORTS)
    .filter((p) => p.exposure === "cluster" || p.exposure === "local")
    .map((p) => p.port),
);

describe("firewall plan from the port table", () => {
  test("internal ports never come from the world; public ones only reach the load-balancer tier", () => {
    for (const input of [documentedLayout(), largeLayout()]) {
      const plan = planFirewall(buildTopology(input), "c", { sshAllowFrom: ["198.51.100.0/24"] });
      for (const r of plan.rules) {
        if ("cidr" in r.source && isWorld(r.source.cidr)) {
          // Frontends share their number with the backend they front (25, 587, 993, 995, and 443 with
          // the mailbox nodes' web server); only those may be internal numbers opened to the world.
          expect(
            internal.has(r.port) &&
              r.portKey !== "publicSmtp" &&
              r.portKey !== "publicSubmission" &&
              r.portKey !== "publicImaps" &&
              r.portKey !== "publicPop3s" &&
              r.portKey !== "publicHttps",
          ).toBe(false);
          expect(r.target).toEqual({ group: "load-balancer" });
          expect(PORTS[r.portKey!].exposure).toBe("public");
        }
      }
    }
  });

  test("cluster ports go exactly from the client groups to the server groups", () => {
    const t = buildTopology(documentedLayout());
    const plan = planFirewall(t, "c");
    const rules = (key: string) =>
      plan.rules
        .filter((r) => r.portKey === key)
        .map((r) => `${"group" in r.source ? r.source.group : "?"}->${"group" in r.target ? r.target.group : "?"}`);
    expect(rules("exmdb").sort()).toEqual(["admin->mailbox", "classic->mailbox", "mailbox->mailbox"]);
    expect(rules("midb")).toEqual(["classic->mailbox"]);
    expect(rules("event").sort()).toEqual(["classic->hub", "mailbox->hub"]);
    expect(rules("timer")).toEqual(["mailbox->hub"]);
    expect(rules("mysql").sort()).toEqual([
      "admin->database",
      "classic->database",
      "load-balancer->database",
      "mailbox->database",
    ]);
    expect(rules("deliveryQueue")).toEqual([]);
    expect(plan.groups.find((g) => g.name === "hub")!.members).toEqual([{ name: "mail1", ipv4: "10.10.10.20" }]);
  });

  test("every group member set matches the topology's clientsOf for cluster ports", () => {
    const t = buildTopology(largeLayout());
    const plan = planFirewall(t, "c");
    for (const key of Object.keys(PORTS) as (keyof typeof PORTS)[]) {
      // Only ports some node serves (no NFS server in a share-nothing cluster).
      if (PORTS[key].exposure !== "cluster" || t.nodesRunning(PORTS[key].server).length === 0) continue;
      const sources = new Set(
        plan.rules
          .filter((r) => r.portKey === key && "group" in r.source)
          .flatMap((r) =>
            plan.groups.find((g) => g.name === (r.source as { group: string }).group)!.members.map((m) => m.ipv4),
          ),
      );
      expect([...sources].sort()).toEqual(
        t
          .clientsOf(key)
          .map((n) => n.ipv4)
          .sort(),
      );
    }
  });

  test("admin only from adminAllowFrom, SSH only from sshAllowFrom, none by default", () => {
    const t = buildTopology(documentedLayout());
    const closed = planFirewall(t, "c");
    expect(closed.rules.filter((r) => r.port === 22)).toEqual([]);
    expect(closed.rules.filter((r) => r.portKey === "publicAdmin").map((r) => r.source)).toEqual([
      { cidr: "203.0.113.0/24" },
    ]);
    // A bare address is its /32 (the AWS provider refuses a bare address at plan).
    const open = planFirewall(t, "c", { sshAllowFrom: ["198.51.100.7"] });
    expect(open.rules.filter((r) => r.port === 22)).toEqual([
      expect.objectContaining({
        target: { group: "node" },
        source: { cidr: "198.51.100.7/32" },
        key: "ssh-from-198-51-100-7-32",
      }),
    ]);
  });

  test("allow-list entries reach the plan as the networks they stand for, in the form cloud firewall APIs take", () => {
    const base = documentedLayout();
    const given = ["203.0.113.0/24", "198.51.100.7", "10.0.0.0/08", "2001:DB8:0:0::1", "2001:db8:1:0::/48"];
    const t = buildTopology({ ...base, loadBalancer: { ...base.loadBalancer!, adminAllowFrom: given } });
    const plan = planFirewall(t, "c", { sshAllowFrom: given });
    const canonical = ["10.0.0.0/8", "198.51.100.7/32", "2001:db8:1::/48", "2001:db8::1/128", "203.0.113.0/24"];
    for (const port of [22, 8443]) {
      const cidrs = plan.rules.flatMap((r) => (r.port === port && "cidr" in r.source ? [r.source.cidr] : []));
      expect([port, [...new Set(cidrs)].sort()]).toEqual([port, canonical]);
    }
  });

  test("managed services replace the server groups and the internet as peers", () => {
    const t = buildTopology(
      documentedLayout({
        database: { host: "db.example.com", password: "x" },
        nodes: documentedLayout().nodes.filter((n) => n.name !== "db1"),
      }),
    );
    const plan = planFirewall(t, "c", { services: { database: true, loadBalancer: true } });
    expect(
      plan.rules
        .filter((r) => r.portKey === "mysql")
        .every((r) => "service" in r.target && r.target.service === "database"),
    ).toBe(true);
    const front = plan.rules.filter((r) => r.portKey?.startsWith("public"));
    expect(front.every((r) => "service" in r.source && r.source.service === "load-balancer")).toBe(true);
  });

  test("two IPv6 networks whose keys would read alike (the :: in another place) stay two rules", () => {
    const base = documentedLayout();
    // 2001:db8::1 and 2001:db8:1:: both slug to 2001-db8-1-128; the second, if keyed alike, replaced the first.
    const plan = planFirewall(buildTopology(base), "c", { sshAllowFrom: ["2001:db8::1", "2001:db8:1::/128"] });
    const extra = new FirewallRules();
    extra.connections({ group: "mailbox" }).allowFrom(Peer.cidr("1::2/128"), Port.tcp(9100, "node-exporter"));
    extra.connections({ group: "mailbox" }).allowFrom(Peer.cidr("1:2::/128"), Port.tcp(9100, "node-exporter"));
    extra.connections({ group: "mailbox" }).allowFrom(Peer.cidr("1::2"), Port.tcp(9100, "node-exporter"));
    const user = planFirewall(buildTopology(base), "c", {}, extra);
    expect(plan.rules.filter((r) => r.port === 22).map((r) => [r.key, r.source])).toEqual([
      ["ssh-from-2001-db8-1-128", { cidr: "2001:db8::1/128" }],
      ["ssh-from-2001-db8-1-z-128", { cidr: "2001:db8:1::/128" }],
    ]);
    expect(user.rules.filter((r) => r.port === 9100).map((r) => [r.key, r.source])).toEqual([
      ["node-exporter-from-1-2-128", { cidr: "1::2/128" }],
      ["node-exporter-from-1-2-z-128", { cidr: "1:2::/128" }],
    ]);
  });

  test("two user ports of one name and different numbers from one source: the first stays, the second is GRX459 (never silently dropped)", () => {
    const extra = new FirewallRules();
    const mailbox = extra.connections({ group: "mailbox" });
    mailbox.allowFrom(Peer.cidr("10.99.0.0/16"), Port.tcp(9100, "exporter"));
    mailbox.allowFrom(Peer.cidr("10.99.0.0/16"), Port.tcp(9101, "exporter"));
    mailbox.allowFrom(Peer.cidr("10.99.0.0/16"), Port.tcp(9100, "exporter")); // a repeat merges
    // Same name from another source, or on another target: other keys, no clash.
    mailbox.allowFrom(Peer.cidr("10.98.0.0/16"), Port.tcp(9101, "exporter"));
    extra.connections({ group: "classic" }).allowFrom(Peer.cidr("10.99.0.0/16"), Port.tcp(9101, "exporter"));
    const plan = planFirewall(buildTopology(documentedLayout()), "c", {}, extra);
    expect(plan.rules.filter((r) => r.key.startsWith("exporter-")).map((r) => [targetOf(r), r.key, r.port])).toEqual([
      ["classic", "exporter-from-10-99-0-0-16", 9101],
      ["mailbox", "exporter-from-10-99-0-0-16", 9100],
      ["mailbox", "exporter-from-10-98-0-0-16", 9101],
    ]);
    expect(extra.issues("stack/mail")).toEqual([
      {
        code: "GRX459",
        path: "stack/mail/firewall/mailbox/exporter-from-10-99-0-0-16",
        field: 'connections("mailbox")',
        message:
          'ports 9100 and 9101 from 10.99.0.0/16 are both named "exporter": both rules would be keyed "exporter-from-10-99-0-0-16" and one would replace the other.',
        fix: 'Give each port its own name, e.g. Port.tcp(9101, "exporter-9101").',
      },
    ]);
  });

  test("a user port named like a port-table key, from a source the table's rule has: GRX459 naming the user's port", () => {
    const extra = new FirewallRules();
    extra.connections({ group: "node" }).allowFrom(Peer.cidr("198.51.100.0/24"), Port.tcp(2222, "ssh"));
    extra.connections({ group: "node" }).allowFrom(Peer.cidr("198.51.100.7"), Port.tcp(22, "ssh")); // same number: merges
    const plan = planFirewall(
      buildTopology(documentedLayout()),
      "c",
      { sshAllowFrom: ["198.51.100.0/24", "198.51.100.7"] },
      extra,
    );
    expect(plan.rules.filter((r) => r.key.startsWith("ssh-")).map((r) => [r.key, r.port])).toEqual([
      ["ssh-from-198-51-100-7-32", 22],
      ["ssh-from-198-51-100-0-24", 2222],
    ]);
    expect(extra.issues("stack/mail").map((i) => [i.code, i.path, i.message, i.fix])).toEqual([
      [
        "GRX459",
        "stack/mail/firewall/node/ssh-from-198-51-100-0-24",
        'port 2222 from 198.51.100.0/24 is named "ssh", as the port table\'s ssh (port 22) from the same source: both rules would be keyed "ssh-from-198-51-100-0-24" and one would replace the other.',
        'Give each port its own name, e.g. Port.tcp(2222, "ssh-2222").',
      ],
    ]);
  });

  test("connections API: user rules merge with the generated ones, keyed by port and peer", () => {
    const extra = new FirewallRules();
    extra.connections({ group: "mailbox" }).allowFrom(Peer.cidr("10.99.0.0/16"), Port.tcp(9100, "node-exporter"));
    extra.connections({ group: "mailbox" }).allowFrom(Peer.cidr("10.99.0.0/16"), Port.tcp(9100, "node-exporter"));
    const plan = planFirewall(buildTopology(documentedLayout()), "c", {}, extra);
    expect(plan.rules.filter((r) => r.port === 9100)).toEqual([
      {
        key: "node-exporter-from-10-99-0-0-16",
        target: { group: "mailbox" },
        source: { cidr: "10.99.0.0/16" },
        port: 9100,
        protocol: "tcp",
        description: "node-exporter",
      },
    ]);
  });
});
