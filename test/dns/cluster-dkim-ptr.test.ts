/**
 * `GrommunioCluster.addDns` beyond the records: PTRs through the platform (Hetzner `hcloud_rdns`,
 * AWS `aws_eip_domain_name`), keyed by owner, each naming the owner of the forward record with the
 * same address (GRX448); and the DKIM private key on the classic nodes for OpenDKIM, delivered
 * like every other secret (never as text in the synthesized JSON).
 */
import "cdktf/lib/testing/adapters/jest";
import { Fn, TerraformStack, Testing } from "cdktf";
import {
  ClassicNode,
  ClusterDnsProps,
  Database,
  GromoxNode,
  GrommunioCluster,
  GrommunioValidationError,
  LoadBalancerTier,
  MailDns,
  Platform,
  ShareNothing,
} from "../../lib";
import "../../lib/platforms/hcloud";
import { DnsRecord } from "../../lib/render/dns";
import { OPENDKIM_CONF } from "../../lib/render/dkim";
import { SECRET_MANIFEST_PATH, secretPlaceholder } from "../../lib/provision/secrets";
import { Json, resources } from "../platforms/aws-support";
import { FakePlatform } from "../cluster/fake-platform";

type Tier = ConstructorParameters<typeof LoadBalancerTier>[2];

function build(
  platform: "aws" | "hcloud" | GrommunioCluster["platform"],
  dns: ClusterDnsProps = { route53: { zoneId: "Z123" } },
  tier: Partial<Tier> = {},
): { stack: TerraformStack; cluster: GrommunioCluster; json: Json; text: string } {
  const stack = new TerraformStack(Testing.app(), "dns");
  const chosen: GrommunioCluster["platform"] =
    platform === "aws"
      ? Platform.aws({ region: "eu-central-1" })
      : platform === "hcloud"
        ? Platform.hcloud({ location: "fsn1" })
        : platform;
  const cluster: GrommunioCluster = new GrommunioCluster(stack, "mail", {
    platform: chosen,
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    storage: new ShareNothing({ volumeSizeGb: 20 }),
    database: Database.onNode(),
  });
  new GromoxNode(cluster, "mail1", { admin: true });
  new ClassicNode(cluster, "classic1");
  new LoadBalancerTier(cluster, "lb", { flavor: "haproxy", nodes: 2, ...tier });
  cluster.addDns(dns);
  const text = Testing.synth(stack);
  return { stack, cluster, json: JSON.parse(text) as Json, text };
}

/** Resources of a type by construct id (the logical id without the path prefix and hash). */
function byKey(json: Json, type: string): Record<string, Json> {
  return Object.fromEntries(
    resources(json, type).map(([id, r]) => [id.replace(/^mail_reverse-dns_/, "").replace(/_[0-9A-F]{8}$/, ""), r]),
  );
}

function route53(json: Json, name: string, type: string): Json {
  const found = resources(json, "aws_route53_record")
    .map(([, r]) => r)
    .filter((r) => r.name === name && r.type === type);
  if (found.length !== 1) throw new Error(`expected one ${name} ${type}, found ${found.length}`);
  return found[0]!;
}

function logicalId(json: Json, type: string, name: string, recordType: string): string {
  const hit = resources(json, type).find(([, r]) => r.name === name && r.type === recordType);
  if (!hit) throw new Error(`no ${type} ${name} ${recordType}`);
  return `${type}.${hit[0]}`;
}

function warnings(stack: TerraformStack): string[] {
  return stack.node
    .findAll()
    .flatMap((c) => c.node.metadata)
    .filter((m) => m.type === "@cdktf/warn")
    .map((m) => String(m.data));
}

describe("reverse DNS on Hetzner (hcloud_rdns)", () => {
  test("behind the Hetzner load balancer: the classic server's two addresses and the load balancer's, keyed by owner", () => {
    const { json } = build("hcloud", { route53: { zoneId: "Z123" } }, { cloudLoadBalancer: true });
    const rdns = byKey(json, "hcloud_rdns");
    expect(Object.keys(rdns).sort()).toEqual([
      "classic1-ipv4",
      "classic1-ipv6",
      "load-balancer-ipv4",
      "load-balancer-ipv6",
    ]);
    expect(rdns["classic1-ipv4"]).toMatchObject({
      dns_ptr: "classic1.example.com",
      server_id: expect.stringMatching(/^\$\{hcloud_server\.mail_classic1_server_[0-9A-F]+\.id\}$/),
      ip_address: expect.stringMatching(/^\$\{hcloud_server\.mail_classic1_server_[0-9A-F]+\.ipv4_address\}$/),
    });
    expect(rdns["classic1-ipv6"]!.ip_address).toMatch(/\.ipv6_address\}$/);
    expect(rdns["load-balancer-ipv4"]).toMatchObject({
      dns_ptr: "mail.example.com",
      load_balancer_id: expect.stringMatching(
        /^\$\{hcloud_load_balancer\.mail_lb_cloud_load-balancer_[0-9A-F]+\.id\}$/,
      ),
      ip_address: expect.stringMatching(/^\$\{hcloud_load_balancer\..*\.ipv4\}$/),
    });
    expect(rdns["load-balancer-ipv4"]!.server_id).toBeUndefined();
  });

  test("forward-confirmed: every PTR name's A/AAAA record holds the PTR's address, and the PTR waits for it", () => {
    const { json } = build("hcloud");
    const rdns = byKey(json, "hcloud_rdns");
    expect(Object.keys(rdns).sort()).toEqual([
      "classic1-ipv4",
      "classic1-ipv6",
      "lb1-ipv4",
      "lb1-ipv6",
      "lb2-ipv4",
      "lb2-ipv6",
    ]);
    for (const r of Object.values(rdns)) {
      const type = /ipv6_address/.test(String(r.ip_address)) ? "AAAA" : "A";
      expect(route53(json, String(r.dns_ptr), type).records).toContain(r.ip_address);
      expect(r.depends_on).toEqual([logicalId(json, "aws_route53_record", String(r.dns_ptr), type)]);
    }
  });

  test("reverseDns: false publishes none", () => {
    const { json } = build("hcloud", { route53: { zoneId: "Z123" }, reverseDns: false });
    expect(resources(json, "hcloud_rdns")).toEqual([]);
  });
});

describe("reverse DNS on AWS (aws_eip_domain_name)", () => {
  test("the classic node's and the NLB's Elastic IPs, after their Route53 A records; no IPv6", () => {
    const { json, stack } = build("aws", { route53: { zoneId: "Z123" } }, { cloudLoadBalancer: true });
    const ptr = byKey(json, "aws_eip_domain_name");
    expect(Object.keys(ptr).sort()).toEqual(["classic1-ipv4", "load-balancer-ipv4"]);
    expect(ptr["classic1-ipv4"]).toEqual({
      allocation_id: expect.stringMatching(/^\$\{aws_eip\.mail_classic1_public-ip_[0-9A-F]+\.allocation_id\}$/),
      domain_name: "classic1.example.com",
      depends_on: [logicalId(json, "aws_route53_record", "classic1.example.com", "A")],
    });
    expect(ptr["load-balancer-ipv4"]).toEqual({
      allocation_id: expect.stringMatching(/^\$\{aws_eip\.mail_lb_cloud_nlb-ip_[0-9A-F]+\.allocation_id\}$/),
      domain_name: "mail.example.com",
      depends_on: [logicalId(json, "aws_route53_record", "mail.example.com", "A")],
    });
    // The Elastic IP behind each PTR is the one in the forward record.
    const eipOf = (p: Json) => String(p.allocation_id).replace(/\.allocation_id\}$/, ".public_ip}");
    expect(route53(json, "classic1.example.com", "A").records).toEqual([eipOf(ptr["classic1-ipv4"]!)]);
    expect(route53(json, "mail.example.com", "A").records).toEqual([eipOf(ptr["load-balancer-ipv4"]!)]);
    expect(warnings(stack).filter((w) => /reverse DNS/.test(w))).toEqual([]);
  });

  test("without Route53 the forward record is not published here: no PTR, a warning per address", () => {
    const { json, stack } = build("aws", { writeZoneFile: { nameServers: [{ name: "ns1.example.net" }] } });
    expect(resources(json, "aws_eip_domain_name")).toEqual([]);
    expect(warnings(stack).filter((w) => /reverse DNS/.test(w))).toEqual([
      expect.stringMatching(/^reverse DNS classic1-ipv4 not set: AWS sets the PTR of classic1\.example\.com only once/),
      expect.stringMatching(/^reverse DNS lb1-ipv4 not set: AWS sets the PTR of mail\.example\.com only once/),
      expect.stringMatching(/^reverse DNS lb2-ipv4 not set/),
    ]);
  });
});

describe("reverse DNS elsewhere", () => {
  test("a platform without public addresses: the given addresses are the owner's to set, a warning each", () => {
    const { json, stack } = build(new FakePlatform(), {
      entry: { ipv4: ["203.0.113.10"] },
      options: { egress: [{ node: "classic1", ipv4: "198.51.100.25" }] },
    });
    expect(Object.keys(json.resource ?? {}).filter((t) => /rdns|domain_name/.test(t))).toEqual([]);
    expect(warnings(stack).filter((w) => /reverse DNS/.test(w))).toEqual([
      "reverse DNS 198.51.100.25 → classic1.example.com: not an address the platform allocated; have its owner set the PTR (docs/dns.md).",
      "reverse DNS 203.0.113.10 → mail.example.com: not an address the platform allocated; have its owner set the PTR (docs/dns.md).",
    ]);
  });
});

describe("GRX448: forward-confirmed reverse DNS", () => {
  const records: DnsRecord[] = [
    {
      zone: "gro.at",
      name: "mail.gro.at",
      type: "A",
      ttl: 3600,
      purpose: "mail host",
      values: [{ address: "203.0.113.10" }],
    },
    {
      zone: "gro.at",
      name: "mail.gro.at",
      type: "MX",
      ttl: 3600,
      purpose: "MX",
      values: [{ preference: 10, exchange: "mail.gro.at" }],
    },
  ];
  const make = (reverseDns: ConstructorParameters<typeof MailDns>[2]["reverseDns"]) =>
    new MailDns(new TerraformStack(Testing.app(), "s"), "dns", { records, reverseDns });

  test("a PTR to the A record's name and address is accepted", () => {
    const dns = make([{ address: "203.0.113.10", family: "ipv4", name: "mail.gro.at", role: "entry" }]);
    expect(dns.reverseDns).toHaveLength(1);
  });

  test.each([
    ["a name without an A record", { address: "203.0.113.10", family: "ipv4", name: "smtp.gro.at", role: "entry" }],
    [
      "an address the A record does not hold",
      { address: "203.0.113.11", family: "ipv4", name: "mail.gro.at", role: "entry" },
    ],
    ["IPv6 against an A-only name", { address: "2001:db8::10", family: "ipv6", name: "mail.gro.at", role: "entry" }],
  ] as const)("refused: %s", (_, entry) => {
    let caught: unknown;
    try {
      make([entry]);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(GrommunioValidationError);
    expect((caught as GrommunioValidationError).issues.map((i) => [i.code, i.path, i.field])).toEqual([
      ["GRX448", "s/dns", "reverseDns"],
    ]);
    expect((caught as GrommunioValidationError).issues[0]!.message).toMatch(/forward-confirmed reverse DNS would fail/);
  });

  test("refused: two PTRs for one address", () => {
    const e = { address: "203.0.113.10", family: "ipv4", name: "mail.gro.at", role: "entry" } as const;
    expect(() => make([e, e])).toThrow(/would get two PTRs/);
  });
});

describe("DKIM signing key on the classic nodes", () => {
  const KEY_FILE = "/etc/dkimkeys/grommunio.private";

  test("Hetzner (secrets in Terraform): only the classic node gets the key, as a reference to tls_private_key", () => {
    const { json, text, cluster } = build("hcloud");
    const pem = cluster.dns!.dkimPrivateKeyPem!;
    const classic = cluster.provisioning.get("classic1")!;
    expect(classic.files.find((f) => f.path === KEY_FILE)).toMatchObject({
      content: `${pem}\n`,
      mode: "0600",
      owner: "opendkim:opendkim",
    });
    expect(classic.files.some((f) => f.path === OPENDKIM_CONF)).toBe(true);
    expect(classic.packages).toContain("opendkim");
    expect(classic.services.indexOf("opendkim")).toBeLessThan(classic.services.indexOf("postfix"));
    for (const other of ["mail1", "lb/lb1", "lb/lb2"].map((p) => p.replace(/^lb\//, ""))) {
      const p = cluster.provisioning.get(other)!;
      expect(p.files.some((f) => f.path === KEY_FILE || f.path === OPENDKIM_CONF)).toBe(false);
      expect(p.packages).not.toContain("opendkim");
    }
    // The user-data holds a Terraform reference, never the key.
    const userData = (name: string) =>
      String(resources(json, "hcloud_server").find(([id]) => id.startsWith(`mail_${name}_server`))![1].user_data);
    const dkimRef = /tls_private_key\.mail_dns_dkim-key_[0-9A-F]+\.private_key_pem/;
    expect(userData("classic1")).toMatch(dkimRef);
    expect(userData("mail1")).not.toMatch(dkimRef);
    expect(userData("lb_lb1")).not.toMatch(dkimRef);
    expect(text).not.toMatch(/PRIVATE KEY-----/);
  });

  test("AWS (SSM): the key file is a template the node fills from the parameter store; the user-data has no key", () => {
    const { json, text, cluster } = build("aws");
    const classic = cluster.provisioning.get("classic1")!;
    expect(classic.files.some((f) => f.path === KEY_FILE)).toBe(false);
    const template = classic.files.find((f) => f.path.endsWith(KEY_FILE))!;
    expect(template.content).toBe(`${secretPlaceholder("dkim-private-key")}\n`);
    const manifest = JSON.parse(classic.files.find((f) => f.path === SECRET_MANIFEST_PATH)!.content) as Json;
    expect(manifest.files).toContainEqual({
      template: template.path,
      path: KEY_FILE,
      mode: "0600",
      owner: "opendkim:opendkim",
    });
    expect(Object.keys(manifest.secrets as Json)).toContain("dkim-private-key");
    const dkimRef = /tls_private_key\.mail_dns_dkim-key_[0-9A-F]+\.private_key_pem/;
    const parameters = resources(json, "aws_ssm_parameter").filter(([, r]) => dkimRef.test(String(r.value)));
    expect(parameters).toHaveLength(1);
    expect(parameters[0]![1].type).toBe("SecureString");
    for (const [, instance] of resources(json, "aws_instance")) {
      expect(String(instance.user_data ?? instance.user_data_base64)).not.toMatch(dkimRef);
    }
    expect(text).not.toMatch(/PRIVATE KEY-----/);
  });

  test("dkimSigning: false: the record is published, nothing signs", () => {
    const { cluster } = build("hcloud", { route53: { zoneId: "Z123" }, dkimSigning: false });
    expect(cluster.dns!.dkimPrivateKeyPem).toBeDefined();
    const classic = cluster.provisioning.get("classic1")!;
    expect(classic.files.some((f) => f.path === OPENDKIM_CONF)).toBe(false);
    expect(classic.packages).not.toContain("opendkim");
  });

  test("dkimSigning: true with dkim: false: a warning that names dkim: false, nothing signs", () => {
    const { stack, cluster } = build("hcloud", { route53: { zoneId: "Z123" }, dkim: false, dkimSigning: true });
    expect(cluster.provisioning.get("classic1")!.files.some((f) => f.path === OPENDKIM_CONF)).toBe(false);
    const warnings = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === "@cdktf/warn")
      .map((m) => String(m.data));
    expect(warnings).toContain(
      "dkimSigning: true beside dkim: false: there is no DKIM key and no DKIM record, nothing signs.",
    );
  });

  test("a key of your own: signs with dkim.privateKeyPem; without it, nothing signs", () => {
    const publicKeyPem = Fn.file("keys/dkim.pub");
    const withKey = build("hcloud", {
      route53: { zoneId: "Z123" },
      dkim: { publicKeyPem, keyBits: 2048, privateKeyPem: Fn.file("keys/dkim.key") },
    });
    const key = withKey.cluster.provisioning.get("classic1")!.files.find((f) => f.path === KEY_FILE)!;
    expect(key.owner).toBe("opendkim:opendkim");
    const server = resources(withKey.json, "hcloud_server").find(([id]) => id.startsWith("mail_classic1_server"))!;
    expect(String(server[1].user_data)).toMatch(/file\(\\*"keys\/dkim\.key\\*"\)/);
    const without = build("hcloud", { route53: { zoneId: "Z123" }, dkim: { publicKeyPem, keyBits: 2048 } });
    expect(without.cluster.provisioning.get("classic1")!.files.some((f) => f.path === OPENDKIM_CONF)).toBe(false);
  });
});
