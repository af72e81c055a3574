/**
 * `GrommunioCluster.addDns`: the cluster's MailDns from its own topology and the entry point's
 * public addresses, which the platform provides (AWS: the NLB's Elastic IP, or one per
 * load-balancer node; Hetzner: the load balancer's or the servers' addresses), the classic nodes'
 * public addresses as egress, and the MTA-STS policy the load-balancer tier serves, built from the
 * same options as the `_mta-sts` record.
 */
import "cdktf/lib/testing/adapters/jest";
import { TerraformStack, Testing } from "cdktf";
import {
  ClassicNode,
  ClusterDnsProps,
  Database,
  GromoxNode,
  GrommunioCluster,
  GrommunioValidationError,
  LoadBalancerTier,
  Platform,
  ShareNothing,
} from "../../lib";
import "../../lib/platforms/hcloud";
import { mtaStsPolicyId } from "../../lib/render/dns";
import { MTA_STS_POLICY_FILE } from "../../lib/render/haproxy";
import { NGINX_PATHS } from "../../lib/render/nginx";
import { decodedFile, Json, receivedConfigOf, resources } from "../platforms/aws-support";
import { FakePlatform } from "../cluster/fake-platform";

const DNS: ClusterDnsProps = { route53: { zoneId: "Z123" }, options: { mtaSts: { mode: "enforce" } } };

type Tier = ConstructorParameters<typeof LoadBalancerTier>[2];

function build(
  platform: "aws" | "hcloud",
  tier: Partial<Tier> = {},
  dns: ClusterDnsProps | null = DNS,
): { stack: TerraformStack; cluster: GrommunioCluster } {
  const stack = new TerraformStack(Testing.app(), "dns");
  const chosen: GrommunioCluster["platform"] =
    platform === "aws" ? Platform.aws({ region: "eu-central-1" }) : Platform.hcloud({ location: "fsn1" });
  const cluster: GrommunioCluster = new GrommunioCluster(stack, "mail", {
    platform: chosen,
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    storage: new ShareNothing({ volumeSizeGb: 20 }),
    database: Database.onNode(),
  });
  new GromoxNode(cluster, "mail1", { admin: true });
  new GromoxNode(cluster, "mail2");
  new ClassicNode(cluster, "classic1");
  new LoadBalancerTier(cluster, "lb", { flavor: "haproxy", nodes: 2, ...tier });
  if (dns) cluster.addDns(dns);
  return { stack, cluster };
}

const synth = (stack: TerraformStack): Json => JSON.parse(Testing.synth(stack)) as Json;

/** The Route53 record of `name`/`type`. */
function route53(json: Json, name: string, type: string): Json {
  const found = resources(json, "aws_route53_record")
    .map(([, r]) => r)
    .filter((r) => r.name === name && r.type === type);
  if (found.length !== 1) throw new Error(`expected one ${name} ${type}, found ${found.length}`);
  return found[0]!;
}

describe("addDns on AWS", () => {
  test("behind the NLB: the mail host's A record is the NLB's Elastic IP (subnet mapping)", () => {
    const { stack } = build("aws", { cloudLoadBalancer: { proxyProtocol: true } });
    const json = synth(stack);
    const nlb = resources(json, "aws_lb").map(([, r]) => r)[0]!;
    expect(nlb.subnets).toBeUndefined();
    expect(nlb.subnet_mapping).toEqual([
      {
        subnet_id: expect.stringMatching(/aws_subnet\./),
        allocation_id: expect.stringMatching(/aws_eip\.mail_lb_cloud_nlb-ip.*\.allocation_id/),
      },
    ]);
    expect(route53(json, "mail.example.com", "A").records).toEqual([
      expect.stringMatching(/^\$\{aws_eip\.mail_lb_cloud_nlb-ip.*\.public_ip\}$/),
    ]);
    // The classic node sends: its Elastic IP is the SPF term, its HELO name's A record.
    const classicIp = route53(json, "classic1.example.com", "A").records[0] as string;
    expect(classicIp).toMatch(/^\$\{aws_eip\.mail_classic1_public-ip.*\.public_ip\}$/);
    expect(String(route53(json, "example.com", "TXT").records[0])).toContain("ip4:");
    expect(
      resources(json, "aws_eip")
        .map(([id]) => id.replace(/_[0-9A-F]{8}$/, ""))
        .sort(),
    ).toEqual(["mail_classic1_public-ip", "mail_lb_cloud_nlb-ip"]);
  });

  test("without a cloud load balancer: an Elastic IP per load-balancer node, both in the A record", () => {
    const { stack } = build("aws");
    const json = synth(stack);
    const a = route53(json, "mail.example.com", "A").records as string[];
    expect(a).toHaveLength(2);
    expect(a[0]).toMatch(/aws_eip\.mail_lb_lb1_public-ip/);
    expect(a[1]).toMatch(/aws_eip\.mail_lb_lb2_public-ip/);
    const eips = resources(json, "aws_eip").map(([, r]) => r);
    expect(eips.every((e) => e.domain === "vpc" && /aws_instance\./.test(String(e.instance)))).toBe(true);
  });

  test("the tier serves the MTA-STS policy the _mta-sts record announces (same options)", () => {
    const { stack, cluster } = build("aws", { cloudLoadBalancer: true });
    const json = synth(stack);
    const policy = cluster.dns!.mtaStsPolicy!;
    expect(policy).toBe("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n");
    expect(route53(json, "_mta-sts.example.com", "TXT").records).toEqual([`v=STSv1; id=${mtaStsPolicyId(policy)}`]);
    for (const lb of ["lb/lb1", "lb/lb2"]) {
      const { config } = receivedConfigOf(json, lb);
      expect(decodedFile(config, MTA_STS_POLICY_FILE).content).toBe(policy);
      const cfg = decodedFile(config, "/etc/haproxy/haproxy.cfg").content;
      expect(cfg).toContain("acl mta_sts_host hdr(host),host_only,lower -m str mta-sts.example.com");
      expect(cfg).toContain(`file ${MTA_STS_POLICY_FILE} if mta_sts_host mta_sts_path { ssl_fc }`);
    }
    // Other nodes do not serve it.
    const mail = (receivedConfigOf(json, "mail1").config.write_files as Json[]).map((f) => f.path);
    expect(mail).not.toContain(MTA_STS_POLICY_FILE);
  });

  test("mtaSts: false: no record, no policy served", () => {
    const { stack, cluster } = build("aws", {}, { route53: { zoneId: "Z123" }, options: { mtaSts: false } });
    const json = synth(stack);
    expect(cluster.dns!.mtaStsPolicy).toBeUndefined();
    const paths = (receivedConfigOf(json, "lb/lb1").config.write_files as Json[]).map((f) => f.path);
    expect(paths).not.toContain(MTA_STS_POLICY_FILE);
    expect(JSON.stringify(receivedConfigOf(json, "lb/lb1").config)).not.toContain("mta_sts");
  });

  test("without addDns nothing changes: no Elastic IP on nodes, no policy", () => {
    const { stack } = build("aws", {}, null);
    const json = synth(stack);
    expect(resources(json, "aws_eip")).toEqual([]);
    expect(resources(json, "aws_route53_record")).toEqual([]);
  });

  test("the node set is closed by addDns; a second addDns is refused", () => {
    const { cluster } = build("aws");
    expect(() => new GromoxNode(cluster, "mail3")).toThrow(/after addDns: add every node first/);
    expect(() => cluster.addDns(DNS)).toThrow(/already has its DNS/);
  });
});

describe("addDns on Hetzner Cloud", () => {
  test("behind the Hetzner load balancer: its IPv4 and IPv6; egress from the classic server's addresses", () => {
    const { stack } = build(
      "hcloud",
      { cloudLoadBalancer: { proxyProtocol: true } },
      { writeZoneFile: { nameServers: ["ns1.example.net", "ns2.example.net"] } },
    );
    const json = synth(stack);
    const zone = String(
      Object.values<Json>(json.output ?? {}).find((o) => /zone file/.test(String(o.description)))?.value,
    );
    expect(zone).toMatch(/mail\s+3600\s+IN\s+A\s+\$\{hcloud_load_balancer\.mail_lb_cloud_load-balancer.*\.ipv4\}/);
    expect(zone).toMatch(/mail\s+3600\s+IN\s+AAAA\s+\$\{hcloud_load_balancer\.mail_lb_cloud_load-balancer.*\.ipv6\}/);
    expect(zone).toMatch(/classic1\s+3600\s+IN\s+A\s+\$\{hcloud_server\.mail_classic1_server.*\.ipv4_address\}/);
    expect(zone).toMatch(/v=spf1 ip4:", hcloud_server\.mail_classic1_server_[0-9A-F]+\.ipv4_address/);
  });
});

describe("platforms without public addresses", () => {
  function fake(entry?: { ipv4: string[] }) {
    const stack = new TerraformStack(Testing.app(), "fake");
    const cluster = new GrommunioCluster(stack, "mail", {
      platform: new FakePlatform(),
      domain: "example.com",
      gromoxVersion: "3.10",
      network: { cidr: "10.10.10.0/24" },
      database: Database.onNode(),
    });
    new GromoxNode(cluster, "mail1");
    new ClassicNode(cluster, "classic1");
    new LoadBalancerTier(cluster, "lb", { flavor: "nginx" });
    return () =>
      cluster.addDns({
        ...(entry ? { entry } : {}),
        options: { spf: { include: ["relay.example.net"] } },
        writeZoneFile: { nameServers: ["ns1.example.net"] },
      });
  }

  test("the entry addresses must be given (GRX446); given, the records and the nginx policy follow", () => {
    let error: unknown;
    try {
      fake()();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GrommunioValidationError);
    expect((error as GrommunioValidationError).codes).toEqual(["GRX446"]);
    const dns = fake({ ipv4: ["192.0.2.10"] })();
    expect(dns.records.find((r) => r.name === "mail.example.com" && r.type === "A")).toMatchObject({
      values: [{ address: "192.0.2.10" }],
    });
    expect(dns.mtaStsPolicy).toContain("mode: testing");
    expect(NGINX_PATHS.mtaStsPolicy).toBe("/etc/nginx/mta-sts.txt");
  });
});
