import "cdktf/lib/testing/adapters/jest";
import { Construct } from "constructs";
import { TerraformStack, Testing } from "cdktf";
import "../../lib/platforms/hcloud";
import { HcloudDeployment, HcloudPlatformProps, hcloudNetworkLayout } from "../../lib/platforms/hcloud";
import { FirewallPlan, Platform } from "../../lib/platforms/platform";
import { ValidationIssue } from "../../lib/topology";
import { hcloudLayout, runHcloud } from "./hcloud-harness";

function bare(
  props: Partial<HcloudPlatformProps> = {},
  cidr = "10.10.10.0/24",
  clusterName = "mail",
): { deployment: HcloudDeployment; issues: ValidationIssue[]; cluster: Construct } {
  const stack = new TerraformStack(Testing.app(), "test");
  const cluster = new Construct(stack, "c");
  const issues: ValidationIssue[] = [];
  const deployment = Platform.hcloud({ location: "fsn1", ...props }).bind(cluster, {
    clusterName,
    clusterPath: "app/mail",
    domain: "example.com",
    network: { cidr },
    os: "debian-12",
    report: (i) => issues.push(i),
    tokens: { declareToken: () => undefined },
  });
  return { deployment, issues, cluster };
}

function machine(d: HcloudDeployment, scope: Construct, name: string, ip: string) {
  const s = new Construct(scope, name);
  return d.addMachine(s, {
    name,
    hostname: `${name}.example.com`,
    roles: ["load-balancer"],
    primaryRole: "load-balancer",
    privateIpv4: ip,
    configChangePolicy: "replace",
    path: `app/mail/${name}`,
  });
}

const codes = (issues: readonly ValidationIssue[]) => issues.map((i) => i.code);

describe("Hetzner platform coded errors (GRX260–GRX279)", () => {
  test("GRX260: a cluster id that cannot be a label value", () => {
    const { issues } = bare({}, "10.10.10.0/24", "-mail");
    expect(issues).toEqual([expect.objectContaining({ code: "GRX260", path: "app/mail", field: "id" })]);
  });

  test("GRX261: unknown location without a network zone; a new location with one is accepted", () => {
    const { issues } = bare({ location: "xyz1" });
    expect(issues).toEqual([expect.objectContaining({ code: "GRX261", field: "platform.location" })]);
    expect(issues[0]!.fix).toMatch(/fsn1, nbg1, hel1, ash, hil, sin/);
    expect(bare({ location: "xyz1", networkZone: "eu-central" }).issues).toEqual([]);
  });

  test("GRX273: a Hetzner system image of another OS than the cluster's (os debian-12)", () => {
    for (const image of ["debian-13", "debian-11", "ubuntu-24.04", "rocky-9", "centos-stream-9"]) {
      expect(bare({ image }).issues).toEqual([expect.objectContaining({ code: "GRX273", field: "platform.image" })]);
    }
    // The OS's own image, an image id, a snapshot name: accepted (a snapshot must hold the OS).
    for (const image of ["debian-12", "114690387", "grommunio-base-2026-11"])
      expect(bare({ image }).issues).toEqual([]);
  });

  test("GRX262: network zone that is not the location's", () => {
    const { issues } = bare({ location: "ash", networkZone: "eu-central" });
    expect(issues).toEqual([expect.objectContaining({ code: "GRX262", field: "platform.networkZone" })]);
    expect(issues[0]!.fix).toBe('Omit networkZone or set it to "us-east".');
  });

  test("GRX263: cluster network too small, public, or outside networkIpRange; malformed is left to GRX004", () => {
    expect(codes(bare({}, "10.10.10.0/29").issues)).toEqual(["GRX263"]);
    expect(codes(bare({}, "203.0.113.0/24").issues)).toEqual(["GRX263"]);
    const outside = bare({ networkIpRange: "10.20.0.0/16" }).issues;
    expect(outside).toEqual([expect.objectContaining({ code: "GRX263", field: "networkIpRange" })]);
    expect(bare({ networkIpRange: "10.0.0.0/8" }).issues).toEqual([]);
    expect(bare({}, "10.10.10.1/24").issues).toEqual([]);
  });

  test("layout: supernet, services sibling, load balancer at its third address", () => {
    expect(hcloudNetworkLayout("10.10.10.0/24")).toEqual({
      layout: {
        network: "10.10.10.0/23",
        cluster: "10.10.10.0/24",
        services: "10.10.11.0/24",
        loadBalancerIp: "10.10.11.2",
      },
    });
    expect(hcloudNetworkLayout("10.10.11.0/24")).toEqual({
      layout: {
        network: "10.10.10.0/23",
        cluster: "10.10.11.0/24",
        services: "10.10.10.0/24",
        loadBalancerIp: "10.10.10.2",
      },
    });
  });

  test("GRX264/GRX265: volume size outside 10–10240 GB; type/iops/throughput cannot be chosen", () => {
    const small = runHcloud(hcloudLayout(), { mailboxVolumeGb: 5 });
    expect([...new Set(codes(small.issues))]).toEqual(["GRX264"]);
    expect(small.issues).toHaveLength(3);
    expect(small.issues.map((i) => i.path)).toEqual([
      "test/mail/mail1/data",
      "test/mail/mail2/data",
      "test/mail/mail3/data",
    ]);
    const { deployment, issues, cluster } = bare();
    const m = machine(deployment, cluster, "db1", "10.10.10.5");
    deployment.addVolume(new Construct(cluster, "v"), m, {
      id: "data",
      purpose: "database-data",
      sizeGb: 50,
      label: "mariadb-data",
      mountPoint: "/var/lib/mysql",
      type: "gp3",
      iops: 3000,
    });
    expect(issues).toEqual([expect.objectContaining({ code: "GRX265", field: "type, iops" })]);
  });

  test("GRX266/GRX267/GRX268/GRX269/GRX270: load balancer type, service and target limits, ports, targets", () => {
    const six = runHcloud(hcloudLayout(), { cloudLoadBalancer: true, props: { loadBalancer: { type: "lb11" } } });
    expect(six.issues).toEqual([
      expect.objectContaining({
        code: "GRX267",
        message: "6 ports (25, 80, 443, 587, 993, 995) need 6 services; a lb11 has at most 5.",
        fix: 'Use loadBalancer type "lb21".',
      }),
    ]);
    const wrongType = runHcloud(hcloudLayout(), {
      cloudLoadBalancer: true,
      props: { loadBalancer: { type: "lb99" as "lb11" } },
    });
    expect(codes(wrongType.issues)).toEqual(["GRX266"]);

    const { deployment, issues, cluster } = bare({ loadBalancer: { type: "lb11" } });
    const names = Array.from({ length: 26 }, (_, i) => `lb${i + 1}`);
    names.forEach((n, i) => machine(deployment, cluster, n, `10.10.10.${20 + i}`));
    deployment.addLoadBalancer(new Construct(cluster, "lb"), {
      listeners: [
        { portKey: "publicHttps", port: 443, allowFrom: ["0.0.0.0/0"], proxyProtocol: false },
        { portKey: "publicHttp", port: 443, allowFrom: ["::/0"], proxyProtocol: false },
      ],
      targets: [...names, "ghost"],
    });
    expect(codes(issues)).toEqual(["GRX268", "GRX269", "GRX270"]);
    expect(issues[2]!.message).toBe('load balancer target "ghost" is not a machine of this cluster.');
  });

  test("GRX272: more than 5 Hetzner firewalls on one server", () => {
    const { deployment, issues, cluster } = bare();
    machine(deployment, cluster, "lb1", "10.10.10.11");
    const groups = ["a", "b", "c", "d", "e"];
    const plan: FirewallPlan = {
      groups: groups.map((g) => ({ name: g, description: g, members: [{ name: "lb1", ipv4: "10.10.10.11" }] })),
      rules: groups.map((g, i) => ({
        key: `p${i}-from-world`,
        target: { group: g },
        source: { cidr: "0.0.0.0/0" },
        port: 1000 + i,
        protocol: "tcp" as const,
        description: g,
      })),
    };
    deployment.applyFirewall(new Construct(cluster, "fw"), plan);
    expect(issues).toEqual([
      expect.objectContaining({
        code: "GRX272",
        path: "app/mail/lb1",
        message: "lb1 needs 6 Hetzner firewalls (base, a, b, c, d, e); a server takes at most 5.",
      }),
    ]);
  });
});

describe("Hetzner props that would take no effect: warnings", () => {
  const warningsOf = (run: { stack: TerraformStack }) =>
    run.stack.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === "@cdktf/warn")
      .map((m) => String(m.data));

  test("loadBalancer options without a cloud load balancer", () => {
    const options = { loadBalancer: { type: "lb11" as const } };
    expect(warningsOf(runHcloud(hcloudLayout(), { props: options }))).toContainEqual(
      expect.stringMatching(
        /^platform loadBalancer options are given, but the cluster asks for no cloud load balancer/,
      ),
    );
    const withLb = runHcloud(hcloudLayout(), { props: { loadBalancer: { type: "lb21" } }, cloudLoadBalancer: true });
    expect(withLb.json.resource.hcloud_load_balancer).toBeDefined();
    expect(warningsOf(withLb).filter((w) => /loadBalancer options/.test(w))).toEqual([]);
  });

  test("labels with the platform's own grommunio-* keys are replaced: a warning names them", () => {
    const run = runHcloud(hcloudLayout(), { props: { labels: { team: "mail", "grommunio-node": "x" } } });
    expect(warningsOf(run)).toContainEqual(expect.stringMatching(/^labels grommunio-node: the platform sets/));
    expect(warningsOf(runHcloud(hcloudLayout(), { props: { labels: { team: "mail" } } })).join()).not.toMatch(/labels/);
  });
});
