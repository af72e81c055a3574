/**
 * Least privilege by construction: the exposure check of the final firewall plan (GRX450–GRX452)
 * refuses internal ports reachable from outside the cluster network, the admin port open to the
 * world and SSH open to the world without `allowWorldSsh`, for generated rules and for rules users
 * add through `connections`; and the platforms' own output (AWS security groups, Hetzner cloud
 * firewalls) never opens those ports to 0.0.0.0/0 or ::/0.
 */
import "cdktf/lib/testing/adapters/jest";
import { Testing } from "cdktf";
import { awsExample } from "../../examples/aws/main";
import { hcloudExample } from "../../examples/hcloud/main";
import {
  FirewallRules,
  GrommunioValidationError,
  PORTS,
  PortKey,
  Peer,
  Port,
  Topology,
  buildTopology,
  planFirewall,
} from "../../lib";
import { INTERNAL_PORT_NUMBERS, checkExposure, insideClusterNetwork, ruleId } from "../../lib/cluster/exposure";
import { documentedLayout, largeLayout } from "../fixtures";
import { EXAMPLE_SHAPE, NEVER_WORLD, buildShape, synthJson, worldRules } from "./support";

const topo = buildTopology(documentedLayout());

/** The plan with `add` applied as users' rules, and the issues of the check. */
function check(
  add: (rules: FirewallRules) => void,
  opts: { sshAllowFrom?: string[]; allowWorldSsh?: boolean; topology?: Topology } = {},
) {
  const t = opts.topology ?? topo;
  const extra = new FirewallRules();
  add(extra);
  const userRules = new Set(extra.list().map(ruleId));
  const plan = planFirewall(t, "mail", { sshAllowFrom: opts.sshAllowFrom ?? [] }, extra);
  return checkExposure(t, plan, {
    clusterPath: "stack/mail",
    allowWorldSsh: opts.allowWorldSsh ?? false,
    userRules,
    loadBalancerPath: "stack/mail/lb",
  });
}

describe("internal ports", () => {
  test("are exactly the port numbers only internal entries of the port table use", () => {
    expect([...INTERNAL_PORT_NUMBERS].sort((a, b) => a - b)).toEqual([
      24, 2049, 3306, 5000, 5555, 6666, 8891, 10025, 10080, 10443, 11332, 33333,
    ]);
  });

  test("the generated plans of the fixtures pass (no issue)", () => {
    for (const input of [documentedLayout(), largeLayout()]) {
      const t = buildTopology(input);
      expect(check(() => undefined, { topology: t, sshAllowFrom: ["198.51.100.0/24", "2001:db8::/48"] })).toEqual([]);
    }
  });

  const servers: Array<[PortKey, string]> = [
    ["exmdb", "mailbox"],
    ["midb", "mailbox"],
    ["timer", "hub"],
    ["event", "hub"],
    ["gromoxHttp", "mailbox"],
    ["gromoxHttps", "mailbox"],
    ["deliveryQueue", "classic"],
    ["relay", "classic"],
    ["mysql", "database"],
    ["milter", "classic"],
    ["smtp", "classic"],
    ["submission", "classic"],
    ["imaps", "classic"],
    ["pop3s", "classic"],
  ];

  test.each(servers)(
    "%s on %s from 0.0.0.0/0 or ::/0 is GRX450, naming the rule, the port and the fix",
    (key, group) => {
      for (const peer of [Peer.anyIpv4(), Peer.anyIpv6()]) {
        const issues = check((r) => r.connections({ group }).allowFrom(peer, Port.of(key)));
        expect(issues).toHaveLength(1);
        const [i] = issues;
        expect(i).toMatchObject({ code: "GRX450", field: `connections("${group}")` });
        expect(i!.path).toBe(
          `stack/mail/firewall/${group}/${key}-from-${"cidr" in peer && peer.cidr.includes(":") ? "0" : "0-0-0-0-0"}`,
        );
        expect(i!.message).toContain(`port ${PORTS[key].port}`);
        expect(i!.message).toContain(`"${key}-from-`);
        expect(i!.message).toContain("the whole internet");
        expect(i!.fix).toMatch(/Peer\.group/);
      }
    },
  );

  test("a CIDR outside the cluster network is refused, one inside it is not", () => {
    const exmdb = (cidr: string) =>
      check((r) => r.connections({ group: "mailbox" }).allowFrom(Peer.cidr(cidr), Port.of("exmdb")));
    for (const outside of [
      "192.168.0.0/16",
      "10.10.0.0/16",
      "10.10.11.0/24",
      "203.0.113.7",
      "2001:db8::/32",
      "10.10.10.0/23",
    ]) {
      const issues = exmdb(outside);
      expect(issues.map((i) => i.code)).toEqual(["GRX450"]);
      expect(issues[0]!.message).toContain(outside.includes(":") ? "outside the cluster network" : outside);
    }
    for (const inside of ["10.10.10.0/24", "10.10.10.0/25", "10.10.10.128/26", "10.10.10.99", "10.10.10.99/32"]) {
      expect(exmdb(inside)).toEqual([]);
    }
  });

  test("insideClusterNetwork: host bits, bare addresses, IPv6 and garbage", () => {
    expect(insideClusterNetwork(topo, "10.10.10.77/24")).toBe(true);
    expect(insideClusterNetwork(topo, "10.10.10.255")).toBe(true);
    expect(insideClusterNetwork(topo, "10.10.11.0")).toBe(false);
    expect(insideClusterNetwork(topo, "::ffff:10.10.10.5")).toBe(false);
    expect(insideClusterNetwork(topo, "10.10.10.0/33")).toBe(false);
    expect(insideClusterNetwork(topo, "nonsense")).toBe(false);
  });

  test("port numbers only internal services use are refused on any target, even one that does not serve them", () => {
    const issues = check((r) =>
      r.connections({ group: "load-balancer" }).allowFrom(Peer.anyIpv4(), Port.tcp(5000, "custom")),
    );
    expect(issues.map((i) => i.code)).toEqual(["GRX450"]);
    // A port of no internal service stays the user's business.
    expect(
      check((r) => r.connections({ group: "mailbox" }).allowFrom(Peer.anyIpv4(), Port.tcp(9100, "exporter"))),
    ).toEqual([]);
    // The public frontends on the load-balancer tier are what the internet is for.
    expect(
      check((r) => r.connections({ group: "load-balancer" }).allowFrom(Peer.anyIpv6(), Port.of("publicImaps"))),
    ).toEqual([]);
  });

  test("managed services: the database and the shared file system from the world are GRX450", () => {
    for (const [service, key] of [
      ["database", "mysql"],
      ["shared-storage", "nfs"],
    ] as const) {
      const issues = check((r) => r.connections({ service }).allowFrom(Peer.anyIpv4(), Port.of(key)));
      expect(issues).toMatchObject([{ code: "GRX450", field: `connections("${service}")` }]);
    }
  });
});

describe("the admin port (8443) and SSH", () => {
  test("adminAllowFrom from the world is GRX451 on the load-balancer tier's frontend", () => {
    const t = buildTopology(
      documentedLayout({
        loadBalancer: { flavor: "haproxy", publicName: "mail.gro.at", adminAllowFrom: ["203.0.113.0/24", "0.0.0.0/0"] },
      }),
    );
    const issues = check(() => undefined, { topology: t });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ code: "GRX451", field: "loadBalancer.adminAllowFrom" });
    expect(issues[0]!.message).toMatch(/admin port 8443 .*0\.0\.0\.0\/0, the whole internet/);
  });

  test("a user rule opening 8443 of the admin nodes to ::/0 is GRX451", () => {
    const issues = check((r) => r.connections({ group: "admin" }).allowFrom(Peer.anyIpv6(), Port.of("adminWeb")));
    expect(issues).toMatchObject([{ code: "GRX451", field: 'connections("admin")' }]);
  });

  test("sshAllowFrom with a world range is GRX452 unless allowWorldSsh", () => {
    for (const world of ["0.0.0.0/0", "::/0"]) {
      const issues = check(() => undefined, { sshAllowFrom: ["198.51.100.0/24", world] });
      expect(issues).toMatchObject([{ code: "GRX452", field: "sshAllowFrom" }]);
      expect(issues[0]!.fix).toContain("allowWorldSsh: true");
      expect(check(() => undefined, { sshAllowFrom: [world], allowWorldSsh: true })).toEqual([]);
    }
  });

  test("a user rule opening SSH to the world is GRX452 too", () => {
    const issues = check((r) => r.connections({ group: "node" }).allowFrom(Peer.anyIpv4(), Port.of("ssh")));
    expect(issues).toMatchObject([{ code: "GRX452", field: 'connections("node")' }]);
  });

  test("the cloud load balancer's admin listener from the world is GRX451", () => {
    const plan = planFirewall(topo, "mail", { services: { loadBalancer: true } });
    const issues = checkExposure(topo, plan, {
      clusterPath: "stack/mail",
      allowWorldSsh: false,
      loadBalancerPath: "stack/mail/lb",
      cloudListeners: [
        { portKey: "publicHttps", port: 443, allowFrom: ["0.0.0.0/0", "::/0"], proxyProtocol: false },
        { portKey: "publicAdmin", port: 8443, allowFrom: ["::/0"], proxyProtocol: false },
      ],
    });
    expect(issues).toMatchObject([{ code: "GRX451", path: "stack/mail/lb", field: "adminAllowFrom" }]);
  });
});

describe("through the constructs: synthesis fails, with every other error collected", () => {
  test("AWS: every exposure problem at once, with the other synth-time errors (GRX219)", () => {
    const { stack, cluster } = buildShape(
      "aws",
      EXAMPLE_SHAPE,
      { sshAllowFrom: ["::/0"] },
      { adminAllowFrom: ["0.0.0.0/0"], cloudLoadBalancer: true, acceptProxyFrom: ["10.0.0.0/8"] },
    );
    cluster.connections("mailbox").allowFrom(Peer.anyIpv4(), Port.of("exmdb"));
    cluster.connections("classic").allowFrom(Peer.cidr("192.0.2.0/24"), Port.of("relay"));
    let error: unknown;
    try {
      Testing.synth(stack);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GrommunioValidationError);
    const issues = (error as GrommunioValidationError).issues;
    expect((error as GrommunioValidationError).codes).toEqual(["GRX219", "GRX450", "GRX451", "GRX452"]);
    expect(issues.filter((i) => i.code === "GRX450").map((i) => i.path)).toEqual([
      "security-aws/mail/firewall/classic/relay-from-192-0-2-0-24",
      "security-aws/mail/firewall/mailbox/exmdb-from-0-0-0-0-0",
    ]);
  });

  test("Hetzner: SSH from 0.0.0.0/0 needs allowWorldSsh; with it, the cloud firewall opens 22 and synth warns", () => {
    const bad = buildShape("hcloud", EXAMPLE_SHAPE, { sshAllowFrom: ["0.0.0.0/0"] });
    expect(() => Testing.synth(bad.stack)).toThrow(/GRX452/);
    const ok = buildShape("hcloud", EXAMPLE_SHAPE, { sshAllowFrom: ["0.0.0.0/0"], allowWorldSsh: true });
    const json = synthJson(ok.stack);
    expect(worldRules(json).filter((r) => r.port === 22).length).toBeGreaterThan(0);
    const warnings = ok.cluster.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data));
    expect(warnings.some((w) => w.includes("allowWorldSsh"))).toBe(true);
  });

  test("AWS with a cloud load balancer: adminAllowFrom 0.0.0.0/0 is GRX451 (the NLB listener)", () => {
    const { stack } = buildShape("aws", EXAMPLE_SHAPE, {}, { cloudLoadBalancer: true, adminAllowFrom: ["0.0.0.0/0"] });
    expect(() => Testing.synth(stack)).toThrow(/GRX451/);
  });

  test("Hetzner: the admin frontend from ::/0 is GRX451", () => {
    const { stack } = buildShape("hcloud", EXAMPLE_SHAPE, {}, { adminAllowFrom: ["::/0"] });
    expect(() => Testing.synth(stack)).toThrow(/GRX451/);
  });
});

describe("platform output never opens internal ports, 8443 or SSH to the world", () => {
  const stacks = {
    "examples/aws": () => synthJson(awsExample(Testing.app())),
    "examples/hcloud": () => synthJson(hcloudExample(Testing.app())),
    "examples/hcloud with a Hetzner load balancer": () =>
      synthJson(hcloudExample(Testing.app(), { cloudLoadBalancer: true })),
    "AWS with an NLB, shared storage, nginx": () =>
      synthJson(
        buildShape("aws", { ...EXAMPLE_SHAPE, storage: "shared", flavor: "nginx" }, {}, { cloudLoadBalancer: true })
          .stack,
      ),
  };
  test.each(Object.keys(stacks))("%s", (name) => {
    const json = stacks[name as keyof typeof stacks]();
    const world = worldRules(json);
    expect(world.filter((r) => NEVER_WORLD.has(r.port))).toEqual([]);
    // Only the public frontends face the world (on Hetzner's load balancer they are LB services,
    // not firewall rules, so there may be none).
    for (const r of world) expect([25, 80, 443, 587, 993, 995]).toContain(r.port);
    if (!name.includes("load balancer")) expect(new Set(world.map((r) => r.port)).size).toBe(6);
  });
});
