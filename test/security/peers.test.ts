/**
 * Firewall sources users give as addresses (`cluster.connections(group).allowFrom(Peer.cidr(…))`):
 * validated at synth (GRX458, collected with every other error), never reaching a platform or a
 * host firewall when refused; accepted forms written as the networks they stand for, in the one
 * spelling each platform keeps (AWS security group rules, Hetzner `source_ips`, nftables).
 */
import "cdktf/lib/testing/adapters/jest";
import { Testing } from "cdktf";
import { FirewallRules, Peer, Port, addressEntryProblem, buildTopology, planFirewall } from "../../lib";
import { hcloudCidr } from "../../lib/platforms/hcloud";
import { ADMIN_ALLOW_LIST_PATH, PROXY_FROM_LIST_PATH, renderHaproxy } from "../../lib/render/haproxy";
import { renderNginx } from "../../lib/render/nginx";
import { planAllowRules, topologyAllowRules } from "../../lib/render/nftables";
import { documentedLayout } from "../fixtures";
import { EXAMPLE_SHAPE, Json, buildShape, synthError, synthJson } from "./support";

const EXPORTER = () => Port.tcp(9100, "node-exporter");

/** Refused sources and the exact issue each gives. */
const REFUSED: Array<[string, string, string]> = [
  [
    "10.0.0.0/33",
    '"10.0.0.0/33" has a prefix longer than an IPv4 address (/32 at most).',
    "Give a prefix from 0 to 32: 10.0.0.0/32 is the address alone.",
  ],
  [
    "2001:db8::1/129",
    '"2001:db8::1/129" has a prefix longer than an IPv6 address (/128 at most).',
    "Give a prefix from 0 to 128: 2001:db8::1/128 is the address alone.",
  ],
  [
    "foo",
    '"foo" is not an IPv4 or IPv6 address or CIDR.',
    'Use forms like 198.51.100.0/24, 198.51.100.7 (a /32) or 2001:db8::/48; cluster nodes as Peer.group("…").',
  ],
  [
    "10.0.0.0/8/8",
    '"10.0.0.0/8/8" is not an IPv4 or IPv6 address or CIDR.',
    'Use forms like 198.51.100.0/24, 198.51.100.7 (a /32) or 2001:db8::/48; cluster nodes as Peer.group("…").',
  ],
  [
    "10.0.0.1 ",
    '"10.0.0.1 " is not an IPv4 or IPv6 address or CIDR.',
    'Use forms like 198.51.100.0/24, 198.51.100.7 (a /32) or 2001:db8::/48; cluster nodes as Peer.group("…").',
  ],
  [
    "192.0.2.0/024",
    '"192.0.2.0/024" is not an IPv4 or IPv6 address or CIDR.',
    'Use forms like 198.51.100.0/24, 198.51.100.7 (a /32) or 2001:db8::/48; cluster nodes as Peer.group("…").',
  ],
  [
    "::ffff:1.2.3.4/120",
    '"::ffff:1.2.3.4/120" is an IPv4-mapped IPv6 address: firewalls see IPv4 clients as IPv4, so it admits no one (and AWS refuses it).',
    "Write it as IPv4: the network 1.2.3.0/24, or the single host 1.2.3.4/32.",
  ],
  [
    "::ffff:1.2.3.0/120",
    '"::ffff:1.2.3.0/120" is an IPv4-mapped IPv6 address: firewalls see IPv4 clients as IPv4, so it admits no one (and AWS refuses it).',
    "Write it as IPv4: 1.2.3.0/24.",
  ],
  [
    "10.1.2.3/8",
    '"10.1.2.3/8" has host bits set: it is not the start of a network, and read as one it would open all of 10.0.0.0/8.',
    "Write the network, 10.0.0.0/8, or the single host, 10.1.2.3/32.",
  ],
  [
    "203.0.113.7/0",
    '"203.0.113.7/0" has host bits set: it is not the start of a network, and read as one it would open all of 0.0.0.0/0.',
    "Write the network, 0.0.0.0/0, or the single host, 203.0.113.7/32.",
  ],
  [
    "2001:DB8:0:0:1:0:0:1/64",
    '"2001:DB8:0:0:1:0:0:1/64" has host bits set: it is not the start of a network, and read as one it would open all of 2001:db8::/64.',
    "Write the network, 2001:db8::/64, or the single host, 2001:db8::1:0:0:1/128.",
  ],
  [
    "::FFFF:198.51.100.7",
    '"::FFFF:198.51.100.7" is an IPv4-mapped IPv6 address: firewalls see IPv4 clients as IPv4, so it admits no one (and AWS refuses it).',
    "Write it as IPv4: 198.51.100.7.",
  ],
];

/** Accepted sources and the network each stands for (what every platform is given). */
const ACCEPTED: Array<[string, string]> = [
  ["10.0.0.0/8", "10.0.0.0/8"],
  ["198.51.100.7", "198.51.100.7/32"],
  ["10.0.0.0/08", "10.0.0.0/8"],
  ["0.0.0.0/32", "0.0.0.0/32"],
  ["2001:DB8:0:0::1", "2001:db8::1/128"],
  ["2001:db8:0:0:0:0:0:0/64", "2001:db8::/64"],
  ["2001:DB8:0:0:1:0:0:1/128", "2001:db8::1:0:0:1/128"],
  ["2001:0db8:0001::/48", "2001:db8:1::/48"],
  ["::192.0.2.0/120", "::c000:200/120"],
  ["64:ff9b::198.51.100.7", "64:ff9b::c633:6407/128"],
];

describe("Peer.cidr sources: which forms are accepted", () => {
  test.each(REFUSED)("%j is refused with its fix", (given, message, fix) => {
    expect(addressEntryProblem(given)).toEqual({ message, fix });
  });

  test.each(ACCEPTED)("%j is accepted as %s", (given, network) => {
    expect(addressEntryProblem(given)).toBeUndefined();
    const extra = new FirewallRules();
    extra.connections({ group: "mailbox" }).allowFrom(Peer.cidr(given), EXPORTER());
    expect(extra.refused()).toEqual([]);
    expect(extra.list().map((r) => r.source)).toEqual([{ cidr: network }]);
  });

  test("a refused source leaves the plan (no platform or host firewall sees it) and becomes GRX458 naming the rule", () => {
    const extra = new FirewallRules();
    for (const [given] of REFUSED) extra.connections({ group: "mailbox" }).allowFrom(Peer.cidr(given), EXPORTER());
    extra.connections({ group: "mailbox" }).allowFrom(Peer.cidr("10.99.0.7"), EXPORTER());
    const plan = planFirewall(buildTopology(documentedLayout()), "mail", {}, extra);
    expect(plan.rules.filter((r) => r.port === 9100).map((r) => r.source)).toEqual([{ cidr: "10.99.0.7/32" }]);
    expect(planAllowRules(plan, "mail1").filter((r) => r.port === 9100)).toEqual([
      { port: 9100, protocol: "tcp", comment: "node-exporter-from-10-99-0-7-32", from: ["10.99.0.7/32"] },
    ]);
    const issues = extra.issues("stack/mail");
    expect(issues.map((i) => [i.code, i.path, i.field])).toEqual([
      ["GRX458", "stack/mail/firewall/mailbox/node-exporter-from-10-0-0-0-33", 'connections("mailbox")'],
      ["GRX458", "stack/mail/firewall/mailbox/node-exporter-from-2001-db8-1-129", 'connections("mailbox")'],
      ["GRX458", "stack/mail/firewall/mailbox/node-exporter-from-foo", 'connections("mailbox")'],
      ["GRX458", "stack/mail/firewall/mailbox/node-exporter-from-10-0-0-0-8-8", 'connections("mailbox")'],
      ["GRX458", "stack/mail/firewall/mailbox/node-exporter-from-10-0-0-1", 'connections("mailbox")'],
      ["GRX458", "stack/mail/firewall/mailbox/node-exporter-from-192-0-2-0-024", 'connections("mailbox")'],
      ["GRX458", "stack/mail/firewall/mailbox/node-exporter-from-ffff-1-2-3-4-120", 'connections("mailbox")'],
      ["GRX458", "stack/mail/firewall/mailbox/node-exporter-from-ffff-1-2-3-0-120", 'connections("mailbox")'],
      ["GRX458", "stack/mail/firewall/mailbox/node-exporter-from-10-1-2-3-8", 'connections("mailbox")'],
      ["GRX458", "stack/mail/firewall/mailbox/node-exporter-from-203-0-113-7-0", 'connections("mailbox")'],
      ["GRX458", "stack/mail/firewall/mailbox/node-exporter-from-2001-DB8-0-0-1-0-0-1-64", 'connections("mailbox")'],
      ["GRX458", "stack/mail/firewall/mailbox/node-exporter-from-FFFF-198-51-100-7", 'connections("mailbox")'],
    ]);
    expect(issues.map((i) => [i.message, i.fix])).toEqual(
      REFUSED.map(([given, message, fix]) => [`the rule for port 9100 from Peer.cidr("${given}"): ${message}`, fix]),
    );
  });
});

describe("through the constructs: synthesis fails with GRX458, collected with the other errors", () => {
  test.each(["aws", "hcloud"] as const)("%s: every refused source, one issue each, plus GRX452", (platform) => {
    const { stack, cluster } = buildShape(platform, EXAMPLE_SHAPE, { sshAllowFrom: ["::/0"] });
    for (const [given] of REFUSED) cluster.connections("mailbox").allowFrom(Peer.cidr(given), EXPORTER());
    const error = synthError(stack);
    const issues = error.issues;
    expect(error.codes).toEqual(["GRX452", "GRX458"]);
    expect(issues.filter((i) => i.code === "GRX458").map((i) => i.message)).toEqual(
      REFUSED.map(([given, message]) => `the rule for port 9100 from Peer.cidr("${given}"): ${message}`),
    );
  });

  test.each(["aws", "hcloud"] as const)(
    "%s: two user ports of one name and different numbers from one source fail with GRX459 (one was silently dropped)",
    (platform) => {
      const { stack, cluster } = buildShape(platform, EXAMPLE_SHAPE, { sshAllowFrom: ["198.51.100.0/24"] });
      cluster.connections("mailbox").allowFrom(Peer.cidr("10.99.0.0/16"), Port.tcp(9100, "exporter"));
      cluster.connections("mailbox").allowFrom(Peer.cidr("10.99.0.0/16"), Port.tcp(9101, "exporter"));
      cluster.connections("node").allowFrom(Peer.cidr("198.51.100.0/24"), Port.tcp(2222, "ssh"));
      const error = synthError(stack);
      expect(error.issues.map((i) => [i.code, i.path, i.field, i.fix])).toEqual([
        [
          "GRX459",
          `security-${platform}/mail/firewall/mailbox/exporter-from-10-99-0-0-16`,
          'connections("mailbox")',
          'Give each port its own name, e.g. Port.tcp(9101, "exporter-9101").',
        ],
        [
          "GRX459",
          `security-${platform}/mail/firewall/node/ssh-from-198-51-100-0-24`,
          'connections("node")',
          'Give each port its own name, e.g. Port.tcp(2222, "ssh-2222").',
        ],
      ]);
    },
  );

  test.each(["aws", "hcloud"] as const)(
    "%s: a rule naming a group or managed service the cluster does not have fails with GRX460 (it opened nothing, silently)",
    (platform) => {
      const { stack, cluster } = buildShape(platform, EXAMPLE_SHAPE);
      cluster.connections("mailbx").allowFrom(Peer.cidr("10.99.0.0/16"), Port.tcp(9100, "exporter"));
      cluster.connections("mailbox").allowFrom(Peer.group("classc"), Port.tcp(9101, "probe"));
      cluster.connections("nfs").allowFrom(Peer.group("mailbox"), Port.tcp(9102, "nfs-exporter"));
      cluster.connections("mailbox").allowFrom(Peer.service("database"), Port.tcp(9103, "db-probe"));
      // known on both ends: no issue (issues in plan order: by target, then port)
      cluster.connections("classic").allowFrom(Peer.group("hub"), Port.tcp(9104, "hub-probe"));
      const error = synthError(stack);
      const groups = "node, mailbox, classic, load-balancer, database, admin, store-export, hub";
      const useGroup = `Use one of this cluster's groups: ${groups} (a role's group exists only when a node has the role).`;
      expect(error.issues.map((i) => [i.code, i.path, i.field, i.message, i.fix])).toEqual([
        [
          "GRX460",
          `security-${platform}/mail/firewall/mailbox/probe-from-classc`,
          'connections("mailbox")',
          'the rule for port 9101 from group "classc" names the group "classc", which this cluster does not have: it would open nothing.',
          useGroup,
        ],
        [
          "GRX460",
          `security-${platform}/mail/firewall/mailbox/db-probe-from-svc-database`,
          'connections("mailbox")',
          'the rule for port 9103 from service "database" names the managed service "database", which this cluster does not have: it would open nothing.',
          `Name the group of the nodes that serve it instead (Peer.group(...), connections(...); this cluster's groups: ${groups}), or drop the rule.`,
        ],
        [
          "GRX460",
          `security-${platform}/mail/firewall/mailbx/exporter-from-10-99-0-0-16`,
          'connections("mailbx")',
          'the rule for port 9100 from 10.99.0.0/16 names the group "mailbx", which this cluster does not have: it would open nothing.',
          useGroup,
        ],
        [
          "GRX460",
          `security-${platform}/mail/firewall/nfs/nfs-exporter-from-mailbox`,
          'connections("nfs")',
          'the rule for port 9102 from group "mailbox" names the group "nfs", which this cluster does not have: it would open nothing.',
          useGroup,
        ],
      ]);
    },
  );

  test("a source refused after the topology was read is reported too (at synth)", () => {
    const { stack, cluster } = buildShape("hcloud", EXAMPLE_SHAPE);
    expect(cluster.topology.nodes.length).toBeGreaterThan(0);
    cluster.connections("load-balancer").allowFrom(Peer.cidr("203.0.113.0/33"), EXPORTER());
    expect(() => Testing.synth(stack)).toThrow(/GRX458.*load-balancer\/node-exporter-from-203-0-113-0-33/s);
  });
});

describe("accepted sources on each platform: the networks, as each platform keeps them", () => {
  const networks = ACCEPTED.map(([, n]) => n);
  const v4 = [...new Set(networks.filter((n) => !n.includes(":")))];
  const v6 = networks.filter((n) => n.includes(":"));

  function synthWith(platform: "aws" | "hcloud"): Json {
    const { stack, cluster } = buildShape(platform, EXAMPLE_SHAPE, {
      sshAllowFrom: ["198.51.100.7", "2001:DB8:0::/48"],
    });
    for (const [given] of ACCEPTED) cluster.connections("mailbox").allowFrom(Peer.cidr(given), EXPORTER());
    // The same network twice (a bare address and its /32) is one rule.
    cluster.connections("mailbox").allowFrom(Peer.cidr("198.51.100.7/32"), EXPORTER());
    return synthJson(stack);
  }

  test("Hetzner: hcloud_firewall source_ips are exactly the canonical networks (what the API stores)", () => {
    const json = synthWith("hcloud");
    const fw = Object.values<Json>(json.resource.hcloud_firewall);
    const rules = (name: string, port: string) =>
      fw.find((f) => f.name === name)!.rule.filter((r: Json) => r.port === port);
    // A user rule (no port-table key) is one hcloud rule per source, described by its key (in key order).
    expect(rules("mail-mailbox", "9100")).toEqual(
      [
        ["0.0.0.0/32", "node-exporter-from-0-0-0-0-32"],
        ["10.0.0.0/8", "node-exporter-from-10-0-0-0-8"],
        ["198.51.100.7/32", "node-exporter-from-198-51-100-7-32"],
        ["2001:db8::1:0:0:1/128", "node-exporter-from-2001-db8-1-0-0-1-128"],
        ["2001:db8::1/128", "node-exporter-from-2001-db8-1-128"],
        ["2001:db8:1::/48", "node-exporter-from-2001-db8-1-48"],
        ["2001:db8::/64", "node-exporter-from-2001-db8-64"],
        ["64:ff9b::c633:6407/128", "node-exporter-from-64-ff9b-c633-6407-128"],
        ["::c000:200/120", "node-exporter-from-c000-200-120"],
      ].map(([ip, description]) => ({
        direction: "in",
        protocol: "tcp",
        port: "9100",
        source_ips: [ip],
        description,
      })),
    );
    expect(rules("mail-node", "22")).toEqual([
      {
        direction: "in",
        protocol: "tcp",
        port: "22",
        source_ips: ["198.51.100.7/32", "2001:db8::/48"],
        description: "ssh",
      },
    ]);
  });

  test("AWS: one ingress rule per network, IPv4 as cidr_ipv4, IPv6 as cidr_ipv6", () => {
    const json = synthWith("aws");
    const rules = Object.values<Json>(json.resource.aws_vpc_security_group_ingress_rule).filter(
      (r) => r.from_port === 9100,
    );
    expect(rules.flatMap((r) => (r.cidr_ipv4 ? [r.cidr_ipv4] : [])).sort()).toEqual([...v4].sort());
    expect(rules.flatMap((r) => (r.cidr_ipv6 ? [r.cidr_ipv6] : [])).sort()).toEqual([...v6].sort());
    expect(rules.every((r) => (r.cidr_ipv4 === undefined) !== (r.cidr_ipv6 === undefined))).toBe(true);
  });
});

describe("AWS with an NLB: the admin listener's security group rules", () => {
  test("adminAllowFrom entries as the networks they stand for, each once (the provider refused a bare address)", () => {
    const { stack } = buildShape(
      "aws",
      EXAMPLE_SHAPE,
      {},
      {
        cloudLoadBalancer: true,
        adminAllowFrom: ["198.51.100.7", "198.51.100.7/32", "203.0.113.0/24", "2001:DB8:0:0::/48"],
      },
    );
    const json = synthJson(stack);
    const admin = Object.entries<Json>(json.resource.aws_vpc_security_group_ingress_rule)
      .filter(([id, r]) => id.startsWith("mail_lb_cloud_publicAdmin-from-") && r.from_port === 8443)
      .map(([, r]) => r.cidr_ipv4 ?? r.cidr_ipv6)
      .sort();
    expect(admin).toEqual(["198.51.100.7/32", "2001:db8::/48", "203.0.113.0/24"]);
  });
});

/**
 * Host bits set (`10.1.2.3/8`) in any list that opens the firewall: refused with the list's code,
 * the fix naming both readings (the network and the single host); never quietly read as the
 * network (`10.1.2.3/8` meant for one host would open all of 10.0.0.0/8).
 */
describe("host bits are refused in every list that opens the firewall", () => {
  const HOST_BITS: Array<[string, string, string]> = [
    ["10.1.2.3/8", "10.0.0.0/8", "10.1.2.3/32"],
    ["203.0.113.7/24", "203.0.113.0/24", "203.0.113.7/32"],
    ["2001:DB8::7/48", "2001:db8::/48", "2001:db8::7/128"],
  ];
  const exact = (given: string, network: string, host: string) => ({
    message: `"${given}" has host bits set: it is not the start of a network, and read as one it would open all of ${network}.`,
    fix: `Write the network, ${network}, or the single host, ${host}.`,
  });

  /** The issues a synthesis on `platform` fails with (it must fail), as plain objects. */
  function synthIssues(
    platform: "aws" | "hcloud",
    props: Parameters<typeof buildShape>[2],
    tier: Parameters<typeof buildShape>[3] = {},
    rules?: (cluster: ReturnType<typeof buildShape>["cluster"]) => void,
  ): object[] {
    const { stack, cluster } = buildShape(platform, EXAMPLE_SHAPE, props, tier);
    rules?.(cluster);
    const error = synthError(stack);
    return error.issues.map(({ code, path, field, message, fix }) => ({
      code,
      path,
      field,
      message,
      fix,
    }));
  }

  describe.each(["aws", "hcloud"] as const)("%s", (platform) => {
    const at = `security-${platform}/mail`;

    test.each(HOST_BITS)("adminAllowFrom %s: GRX038", (given, network, host) => {
      expect(synthIssues(platform, {}, { adminAllowFrom: ["198.51.100.0/24", given] })).toEqual([
        { code: "GRX038", path: `${at}/loadBalancer`, field: "adminAllowFrom", ...exact(given, network, host) },
      ]);
    });

    test.each(HOST_BITS)("acceptProxyFrom %s: GRX045", (given, network, host) => {
      expect(synthIssues(platform, {}, { acceptProxyFrom: ["192.0.2.0/28", given] })).toEqual([
        { code: "GRX045", path: `${at}/loadBalancer`, field: "acceptProxyFrom", ...exact(given, network, host) },
      ]);
    });

    test.each(HOST_BITS)("sshAllowFrom %s: GRX218", (given, network, host) => {
      expect(synthIssues(platform, { sshAllowFrom: ["198.51.100.0/24", given] })).toEqual([
        { code: "GRX218", path: at, field: "sshAllowFrom", ...exact(given, network, host) },
      ]);
    });

    test.each(HOST_BITS)("Peer.cidr(%s): GRX458", (given, network, host) => {
      const key = `node-exporter-from-${given.replace(/[^A-Za-z0-9]+/g, "-")}`;
      const issues = synthIssues(platform, {}, {}, (cluster) =>
        cluster.connections("mailbox").allowFrom(Peer.cidr(given), EXPORTER()),
      );
      const { message, fix } = exact(given, network, host);
      expect(issues).toEqual([
        {
          code: "GRX458",
          path: `${at}/firewall/mailbox/${key}`,
          field: 'connections("mailbox")',
          message: `the rule for port 9100 from Peer.cidr("${given}"): ${message}`,
          fix,
        },
      ]);
    });
  });
});

describe("accepted allow-list spellings reach every consumer as canonical networks", () => {
  const admin = ["198.51.100.7", "2001:DB8:0:0::/48", "203.0.113.0/24", "198.51.100.7/32"];
  const proxies = ["192.0.2.5", "2001:0DB8::/064"];
  const topology = (flavor: "haproxy" | "nginx") => {
    const base = documentedLayout();
    return buildTopology({
      ...base,
      loadBalancer: {
        ...base.loadBalancer!,
        flavor,
        adminAllowFrom: admin,
        acceptProxyFrom: proxies,
        ...(flavor === "nginx" ? { proxyProtocol: { imap: false, pop3: false }, nodeAwareRouting: false } : {}),
      },
    });
  };

  test("the topology, haproxy's list files and nftables: each network once, in order", () => {
    const topo = topology("haproxy");
    expect(topo.loadBalancer!.adminAllowFrom).toEqual(["198.51.100.7/32", "2001:db8::/48", "203.0.113.0/24"]);
    expect(topo.loadBalancer!.acceptProxy!.from).toEqual(["192.0.2.5/32", "2001:db8::/64"]);
    const files = renderHaproxy(topo, topo.node("lb1"));
    const lines = (p: string) =>
      files
        .find((f) => f.path === p)!
        .content.split("\n")
        .filter((l) => l && !l.startsWith("#"));
    expect(lines(ADMIN_ALLOW_LIST_PATH)).toEqual(["198.51.100.7/32", "2001:db8::/48", "203.0.113.0/24"]);
    expect(lines(PROXY_FROM_LIST_PATH)).toEqual(["192.0.2.5/32", "2001:db8::/64"]);
    expect(topologyAllowRules(topo, topo.node("lb1")).find((r) => r.comment === "publicAdmin")!.from).toEqual([
      "198.51.100.7/32",
      "2001:db8::/48",
      "203.0.113.0/24",
    ]);
  });

  test("nginx: allow and set_real_ip_from", () => {
    const topo = topology("nginx");
    const text = renderNginx(topo, topo.node("lb1"))
      .map((f) => f.content)
      .join("\n");
    const directive = (name: string) => [
      ...new Set([...text.matchAll(new RegExp(`^\\s*${name} ([^;]+);`, "gm"))].map((m) => m[1])),
    ];
    expect(directive("allow")).toEqual(["198.51.100.7/32", "2001:db8::/48", "203.0.113.0/24"]);
    expect(directive("set_real_ip_from")).toEqual(["192.0.2.5/32", "2001:db8::/64"]);
  });
});

/**
 * The cases of the provider's own tests (hetznercloud/terraform-provider-hcloud,
 * internal/firewall/validation_test.go: Test_normalizeIP, TestValidateIPDiag) and a few more: what
 * we write must be what the provider's normalizeIP and the API keep, or every plan shows a diff.
 */
describe("hcloudCidr: the spelling hetznercloud/hcloud keeps in source_ips", () => {
  test.each([
    ["198.51.100.7", "198.51.100.7/32"],
    ["10.0.0.0/8", "10.0.0.0/8"],
    ["2001:db8:123:4567::", "2001:db8:123:4567::/128"],
    ["2001:0db8:0123:4567::0/64", "2001:db8:123:4567::/64"],
    ["2001:DB8:123:4567::/64", "2001:db8:123:4567::/64"],
    ["::0/0", "::/0"],
    ["0.0.0.0/00", "0.0.0.0/0"],
    ["2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1/128"],
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1/128"],
    ["fe80::/64", "fe80::/64"],
  ])("%s → %s", (given, kept) => {
    expect(hcloudCidr(given)).toBe(kept);
  });

  // Host bits: the provider refuses them ("10.0.0.5/8 is not the start of the cidr block"), so do we.
  test.each(["foo", "10.0.0.0/33", "::ffff:192.0.2.0/120", "10.0.0.5/8", "fe80::1337/64"])(
    "%s throws (validation keeps it out of the plan)",
    (bad) => {
      expect(() => hcloudCidr(bad)).toThrow(/hcloudCidr/);
    },
  );
});
