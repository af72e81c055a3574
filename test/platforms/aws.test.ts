import "cdktf/lib/testing/adapters/jest";
import {
  Peer,
  Port,
  GrommunioValidationError,
  PORTS,
  SharedStorage,
  Database,
  GromoxNode,
  LoadBalancerTier,
  ClassicNode,
} from "../../lib";
import { awsNetworkLayout, AWS_CAPABILITIES } from "../../lib/platforms/aws";
import {
  buildAws,
  receivedConfigOf,
  cloudConfigOf,
  decodedFile,
  exampleLayout,
  instanceOf,
  logicalIdAt,
  resourceAt,
  resources,
  synthAws,
  Json,
} from "./aws-support";
import { Testing } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { Construct } from "constructs";

const INTERNAL_PORTS = [5000, 5555, 6666, 33333, 24, 3306, 10080, 10443, 11332, 2049];

describe("AWS network", () => {
  test("VPC is the cluster network's supernet; one node subnet in one AZ; IGW route", () => {
    const { json } = synthAws(exampleLayout);
    expect(resourceAt(json, "aws_vpc", "mail/network/vpc")).toMatchObject({
      cidr_block: "10.10.10.0/23",
      enable_dns_support: true,
      enable_dns_hostnames: true,
    });
    const subnets = resources(json, "aws_subnet");
    expect(subnets).toHaveLength(1);
    expect(subnets[0]![1]).toMatchObject({ cidr_block: "10.10.10.0/24", map_public_ip_on_launch: false });
    expect(subnets[0]![1].availability_zone).toContain("element(data.aws_availability_zones");
    expect(resourceAt(json, "aws_route", "mail/network/default-route")).toMatchObject({
      destination_cidr_block: "0.0.0.0/0",
    });
  });

  test("layout: services subnets are the other half of the supernet", () => {
    expect(awsNetworkLayout("10.10.10.0/24")).toEqual({
      layout: {
        vpc: "10.10.10.0/23",
        cluster: "10.10.10.0/24",
        servicesA: "10.10.11.0/25",
        servicesB: "10.10.11.128/25",
      },
    });
    expect(awsNetworkLayout("10.10.11.0/24")).toEqual({
      layout: {
        vpc: "10.10.10.0/23",
        cluster: "10.10.11.0/24",
        servicesA: "10.10.10.0/25",
        servicesB: "10.10.10.128/25",
      },
    });
    expect(awsNetworkLayout("10.10.10.0/24", "10.10.0.0/16")).toMatchObject({ layout: { vpc: "10.10.0.0/16" } });
  });

  test("GRX220: vpcCidr that does not contain the cluster network", () => {
    const { stack } = buildAws(exampleLayout, {}, { vpcCidr: "10.20.0.0/16" });
    expect(() => Testing.synth(stack)).toThrow(/GRX220.*vpcCidr/s);
  });

  test("a region adds the AWS provider; without one the stack's own provider is used", () => {
    const withRegion = synthAws(exampleLayout, {}, { region: "eu-central-1" }).json;
    expect(withRegion.provider.aws).toEqual([{ region: "eu-central-1" }]);
    const without = synthAws(exampleLayout).json;
    expect(without.provider?.aws).toBeUndefined();
    expect(without.provider.random).toEqual([{}]);
  });
});

describe("AWS instances", () => {
  test("one instance per node, keyed by name, with its derived private address", () => {
    const { json } = synthAws(exampleLayout);
    const expected: Record<string, string> = {
      mail1: "10.10.10.21",
      mail2: "10.10.10.22",
      mail3: "10.10.10.23",
      classic1: "10.10.10.121",
      classic2: "10.10.10.122",
      "lb/lb1": "10.10.10.11",
      "lb/lb2": "10.10.10.12",
      db1: "10.10.10.5",
    };
    expect(resources(json, "aws_instance")).toHaveLength(8);
    for (const [path, ip] of Object.entries(expected)) {
      expect(instanceOf(json, path).private_ip).toBe(ip);
    }
  });

  test("IMDSv2 required, encrypted gp3 root volume, public address for egress, tags", () => {
    const { json } = synthAws(exampleLayout);
    for (const [, inst] of resources(json, "aws_instance")) {
      expect(inst.metadata_options).toEqual({
        http_endpoint: "enabled",
        http_tokens: "required",
        http_put_response_hop_limit: 1,
      });
      expect(inst.root_block_device).toMatchObject({
        encrypted: true,
        volume_type: "gp3",
        delete_on_termination: true,
      });
      expect(inst.associate_public_ip_address).toBe(true);
      expect(inst.tags["grommunio:cluster"]).toBe("mail");
    }
    expect(instanceOf(json, "mail1").tags).toMatchObject({
      Name: "mail1.example.com",
      "grommunio:roles": "admin mailbox",
    });
  });

  test("instance types per role, overridable per node and per role", () => {
    const { json } = synthAws(
      (c) => {
        exampleLayout(c, ["mail1", "mail2"]);
        new GromoxNode(c, "mail3", { size: "m6i.2xlarge" });
      },
      {},
      { instanceTypes: { classic: "c6i.large" } },
    );
    expect(instanceOf(json, "mail1").instance_type).toBe("m6i.large");
    expect(instanceOf(json, "mail3").instance_type).toBe("m6i.2xlarge");
    expect(instanceOf(json, "classic1").instance_type).toBe("c6i.large");
    expect(instanceOf(json, "lb/lb1").instance_type).toBe("t3.small");
    expect(instanceOf(json, "db1").instance_type).toBe("r6i.large");
  });

  test("AMI: official Debian 12 looked up, later AMIs ignored; a pinned AMI is not ignored", () => {
    const looked = synthAws(exampleLayout).json;
    const ami = Object.values(looked.data.aws_ami as Record<string, Json>)[0]!;
    expect(ami).toMatchObject({ most_recent: true, owners: ["136693071363"] });
    expect(JSON.stringify(ami.filter)).toContain("debian-12-amd64-*");
    expect(instanceOf(looked, "mail1").lifecycle.ignore_changes).toContain("ami");
    const pinned = synthAws(exampleLayout, {}, { ami: "ami-0123456789abcdef0" }).json;
    expect(pinned.data?.aws_ami).toBeUndefined();
    expect(instanceOf(pinned, "mail1").ami).toBe("ami-0123456789abcdef0");
    expect(instanceOf(pinned, "mail1").lifecycle?.ignore_changes ?? []).not.toContain("ami");
  });

  test("configChangePolicy ignore (AWS default): user-data changes ignored, never replace", () => {
    const { json, cluster } = synthAws(exampleLayout);
    expect(cluster.configChangePolicy).toBe(AWS_CAPABILITIES.defaultConfigChangePolicy);
    const inst = instanceOf(json, "mail2");
    expect(inst.user_data_replace_on_change).toBe(false);
    expect(inst.lifecycle.ignore_changes).toEqual(expect.arrayContaining(["user_data", "user_data_base64"]));
  });

  test("configChangePolicy replace: user_data_replace_on_change, user-data not ignored", () => {
    const { json } = synthAws(exampleLayout, { configChangePolicy: "replace" });
    const inst = instanceOf(json, "mail2");
    expect(inst.user_data_replace_on_change).toBe(true);
    expect(inst.lifecycle.ignore_changes).not.toContain("user_data");
  });
});

describe("AWS volumes", () => {
  test("share-nothing: an encrypted gp3 volume per mailbox node, protected, attached, mounted by label", () => {
    const { json } = synthAws(exampleLayout);
    const vols = resources(json, "aws_ebs_volume");
    expect(vols.map(([id]) => id.split("_")[1]).sort()).toEqual(["db1", "mail1", "mail2", "mail3"]);
    const v = resourceAt(json, "aws_ebs_volume", "mail/mail2/data-volume");
    expect(v).toMatchObject({ size: 200, type: "gp3", encrypted: true, lifecycle: { prevent_destroy: true } });
    expect(v.availability_zone).toContain("aws_subnet.");
    const att = resourceAt(json, "aws_volume_attachment", "mail/mail2/data-attachment");
    expect(att.device_name).toBe("/dev/sdf");
    expect(att.volume_id).toContain(logicalIdAt(json, "aws_ebs_volume", "mail/mail2/data-volume"));
    expect(att.instance_id).toContain(logicalIdAt(json, "aws_instance", "mail/mail2/instance"));
    const { config } = cloudConfigOf(json, "mail2");
    const mount = (config.bootcmd as unknown[][]).find((c) => c.includes("grommunio-mount"))!;
    expect(mount.slice(3)).toEqual([
      "grommunio-mount",
      "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0",
      "gromox-data",
      "/var/lib/gromox",
    ]);
    expect(resourceAt(json, "aws_ebs_volume", "mail/db1/data-volume").size).toBe(50);
    expect(cloudConfigOf(json, "db1").text).toContain("mariadb-data");
  });

  test("protectData false: no prevent_destroy", () => {
    const { json } = synthAws(exampleLayout, {}, { protectData: false });
    expect(resourceAt(json, "aws_ebs_volume", "mail/mail1/data-volume").lifecycle).toBeUndefined();
  });

  test("shared storage: EFS in the services subnet, mounted by mailbox and admin nodes only", () => {
    const { json } = synthAws(exampleLayout, { storage: new SharedStorage() });
    expect(resources(json, "aws_ebs_volume").map(([id]) => id.split("_")[1])).toEqual(["db1"]);
    expect(resourceAt(json, "aws_efs_file_system", "mail/shared-storage/file-system")).toMatchObject({
      encrypted: true,
      throughput_mode: "elastic",
    });
    const mt = resourceAt(json, "aws_efs_mount_target", "mail/shared-storage/mount-target");
    expect(mt.subnet_id).toContain(logicalIdAt(json, "aws_subnet", "mail/network/services-a"));
    expect(resourceAt(json, "aws_subnet", "mail/network/services-a").cidr_block).toBe("10.10.11.0/25");
    const nfsMount = (c: Json) => (c.bootcmd ?? []).find((x: unknown[]) => x.includes("grommunio-mount-nfs"));
    expect(nfsMount(cloudConfigOf(json, "mail2").config)).toEqual(
      expect.arrayContaining(["10.10.11.9:/", "/var/lib/gromox"]),
    );
    expect(nfsMount(cloudConfigOf(json, "classic1").config)).toBeUndefined();
    expect(nfsMount(cloudConfigOf(json, "lb/lb1").config)).toBeUndefined();
    // 2049 on the EFS security group from the nfs clients only.
    const efsRules = resources(json, "aws_vpc_security_group_ingress_rule").filter(([id]) =>
      id.startsWith("mail_firewall_svc-shared-storage_"),
    );
    expect(efsRules.map(([, r]) => r.from_port)).toEqual([2049, 2049]);
    expect(efsRules.map(([id]) => id.split("_")[3]).sort()).toEqual(["nfs-from-admin", "nfs-from-mailbox"]);
  });
});

describe("AWS security groups from the port table", () => {
  const all = (json: Json) => resources(json, "aws_vpc_security_group_ingress_rule").map(([, r]) => r);

  test("no internal port is reachable from 0.0.0.0/0 or ::/0", () => {
    for (const overrides of [{}, { storage: new SharedStorage() }, { sshAllowFrom: ["198.51.100.0/24"] }]) {
      const { json } = synthAws(exampleLayout, overrides);
      const world = all(json).filter((r) => r.cidr_ipv4 === "0.0.0.0/0" || r.cidr_ipv6 === "::/0");
      expect(world.length).toBeGreaterThan(0);
      for (const r of world) {
        expect(INTERNAL_PORTS).not.toContain(r.from_port);
        expect([25, 587, 993, 995, 80, 443]).toContain(r.from_port);
        expect(r.security_group_id).toContain("mail_firewall_load-balancer_security-group");
      }
    }
  });

  test("8443 only from adminAllowFrom; SSH only from sshAllowFrom (none by default)", () => {
    const closed = synthAws(exampleLayout).json;
    expect(all(closed).filter((r) => r.from_port === 22)).toEqual([]);
    const admin = all(closed).filter((r) => r.from_port === 8443 && (r.cidr_ipv4 || r.cidr_ipv6));
    expect(admin.map((r) => r.cidr_ipv4)).toEqual(["203.0.113.0/24"]);
    const open = synthAws(exampleLayout, { sshAllowFrom: ["198.51.100.0/24", "2001:db8::/48"] }).json;
    const ssh = all(open).filter((r) => r.from_port === 22);
    expect(ssh.map((r) => r.cidr_ipv4 ?? r.cidr_ipv6).sort()).toEqual(["198.51.100.0/24", "2001:db8::/48"]);
    expect(ssh.every((r) => String(r.security_group_id).includes("mail_firewall_node_security-group"))).toBe(true);
  });

  test("internal ports only between the groups that need them (SG references)", () => {
    const { json } = synthAws(exampleLayout);
    const byTarget = (group: string) =>
      resources(json, "aws_vpc_security_group_ingress_rule")
        .filter(([id]) => id.startsWith(`mail_firewall_${group}_`))
        .map(([id, r]) => [id.split("_")[3], r.from_port] as const)
        .sort();
    expect(byTarget("database")).toEqual(
      ["admin", "classic", "hub", "load-balancer", "mailbox"]
        .filter((g) => g !== "hub")
        .map((g) => [`mysql-from-${g}`, 3306] as const)
        .sort(),
    );
    expect(byTarget("hub").map(([k]) => k)).toEqual(
      ["event-from-classic", "event-from-mailbox", "timer-from-mailbox"].sort(),
    );
    expect(byTarget("mailbox").map(([k]) => k)).toEqual(
      [
        "exmdb-from-admin",
        "exmdb-from-classic",
        "exmdb-from-mailbox",
        "mailboxWeb-from-load-balancer",
        "midb-from-classic",
      ].sort(),
    );
    for (const [, r] of resources(json, "aws_vpc_security_group_ingress_rule")) {
      if (INTERNAL_PORTS.includes(r.from_port)) {
        expect(r.referenced_security_group_id).toMatch(/aws_security_group\./);
        expect(r.cidr_ipv4).toBeUndefined();
      }
    }
  });

  test("every port rule's number comes from PORTS", () => {
    const { json } = synthAws(exampleLayout);
    const numbers = new Set(Object.values(PORTS).map((p) => p.port));
    for (const r of all(json)) expect(numbers.has(r.from_port)).toBe(true);
  });

  test("each instance gets the groups it is a member of, all egress open", () => {
    const { json } = synthAws(exampleLayout);
    const sgIds = (path: string) =>
      (instanceOf(json, path).vpc_security_group_ids as string[]).map((s) => s.split(".")[1]!.split("_")[2]).sort();
    expect(sgIds("mail1")).toEqual(["admin", "hub", "mailbox", "node"]);
    // (mail2 exports its store roots to the admin node mail1: ShareNothing)
    expect(sgIds("mail2")).toEqual(["mailbox", "node", "store-export"]);
    expect(sgIds("classic1")).toEqual(["classic", "node"]);
    expect(sgIds("lb/lb1")).toEqual(["load-balancer", "node"]);
    expect(sgIds("db1")).toEqual(["database", "node"]);
    const egress = resources(json, "aws_vpc_security_group_egress_rule").map(([, r]) => r.cidr_ipv4 ?? r.cidr_ipv6);
    expect(new Set(egress)).toEqual(new Set(["0.0.0.0/0", "::/0"]));
  });

  test("user rules through connections (aws-cdk style)", () => {
    const { json } = synthAws((c) => {
      exampleLayout(c);
      c.connections("mailbox").allowFrom(Peer.cidr("10.99.0.0/16"), Port.tcp(9100, "node-exporter"));
    });
    const r = resourceAt(
      json,
      "aws_vpc_security_group_ingress_rule",
      "mail/firewall/mailbox/node-exporter-from-10-99-0-0-16",
    );
    expect(r).toMatchObject({ from_port: 9100, to_port: 9100, cidr_ipv4: "10.99.0.0/16", ip_protocol: "tcp" });
  });

  test("GRX214: a machine in more than 5 security groups", () => {
    const { stack, cluster } = buildAws(exampleLayout);
    const groups = ["g1", "g2", "g3", "g4", "g5", "g6"].map((name) => ({
      name,
      description: name,
      members: [{ name: "mail1", ipv4: "10.10.10.21" }],
    }));
    cluster.deployment.applyFirewall(new Construct(cluster, "extra-firewall"), { groups, rules: [] });
    expect(() => Testing.synth(stack)).toThrow(/GRX214.*mail1 needs 6 security groups/s);
  });
});

describe("AWS managed services", () => {
  test("RDS MariaDB: encrypted, private, in a two-AZ subnet group, reached by a private DNS name", () => {
    const { json, cluster } = synthAws(exampleLayout, { database: Database.rds() });
    expect(resources(json, "aws_instance").some(([id]) => id.includes("db1"))).toBe(false);
    const db = resourceAt(json, "aws_db_instance", "mail/database/instance");
    expect(db).toMatchObject({
      engine: "mariadb",
      storage_encrypted: true,
      publicly_accessible: false,
      deletion_protection: true,
      skip_final_snapshot: false,
      db_name: "grommunio",
      username: "grommunio",
    });
    expect(db.password).toMatch(/random_password\./);
    const group = resourceAt(json, "aws_db_subnet_group", "mail/database/subnet-group");
    expect(group.subnet_ids).toHaveLength(2);
    expect(resourceAt(json, "aws_route53_zone", "mail/database/zone").name).toBe("mail.internal");
    expect(resourceAt(json, "aws_route53_record", "mail/database/record")).toMatchObject({
      name: "db.mail.internal",
      type: "CNAME",
    });
    expect(cluster.topology.database.host).toBe("db.mail.internal");
    const mysql = resources(json, "aws_vpc_security_group_ingress_rule").filter(([, r]) => r.from_port === 3306);
    expect(mysql.every(([id]) => id.startsWith("mail_firewall_svc-database_"))).toBe(true);
    const { config } = receivedConfigOf(json, "mail2");
    // A template: the password comes from SSM at first boot.
    expect(
      decodedFile(config, "/etc/grommunio-cluster/secret-templates/etc/grommunio-cluster/db-client.cnf").content,
    ).toContain(`host="db.mail.internal"`);
  });

  test("NLB in front of the LB tier: created with security groups, TCP listeners and targets per public port", () => {
    const { json } = synthAws((c) => {
      for (const n of ["mail1", "mail2"]) new GromoxNode(c, n, { admin: n === "mail1" });
      new ClassicNode(c, "classic1");
      new LoadBalancerTier(c, "lb", { flavor: "haproxy", adminAllowFrom: ["203.0.113.0/24"], cloudLoadBalancer: true });
    });
    const lb = resourceAt(json, "aws_lb", "mail/lb/cloud/nlb");
    expect(lb).toMatchObject({ load_balancer_type: "network", internal: false });
    expect(lb.security_groups).toHaveLength(1);
    const tgs = resources(json, "aws_lb_target_group").map(([, t]) => t);
    expect(tgs.map((t) => t.port).sort((a, b) => a - b)).toEqual([25, 80, 443, 587, 993, 995, 8443]);
    for (const t of tgs)
      expect(t).toMatchObject({
        protocol: "TCP",
        target_type: "instance",
        proxy_protocol_v2: false,
        preserve_client_ip: "true",
      });
    expect(resources(json, "aws_lb_target_group_attachment")).toHaveLength(14);
    expect(resources(json, "aws_lb_listener")).toHaveLength(7);
    // The NLB's SG takes the internet; the tier's SG takes only the NLB.
    const rules: Json[] = resources(json, "aws_vpc_security_group_ingress_rule").map(([id, r]) => ({ id, ...r }));
    const world = rules.filter((r) => r.cidr_ipv4 === "0.0.0.0/0");
    expect(world.every((r) => r.id.startsWith("mail_lb_cloud_"))).toBe(true);
    const admin = rules.filter((r) => r.from_port === 8443 && r.cidr_ipv4);
    expect(admin.map((r) => r.cidr_ipv4)).toEqual(["203.0.113.0/24"]);
    const tier = rules.filter((r) => r.id.startsWith("mail_firewall_load-balancer_"));
    expect(tier.length).toBe(7);
    expect(tier.every((r) => String(r.referenced_security_group_id).includes("mail_lb_cloud_security-group"))).toBe(
      true,
    );
  });

  test("NLB with proxyProtocol: PROXY v2 on the public target groups, accept-proxy on exactly those binds", () => {
    const { json } = synthAws((c) => {
      for (const n of ["mail1", "mail2"]) new GromoxNode(c, n, { admin: n === "mail1" });
      new ClassicNode(c, "classic1");
      new LoadBalancerTier(c, "lb", {
        flavor: "haproxy",
        adminAllowFrom: ["203.0.113.0/24"],
        cloudLoadBalancer: { proxyProtocol: true },
      });
    });
    const tgs = resources(json, "aws_lb_target_group").map(([, t]) => t);
    const v2 = (port: number) => tgs.find((t) => t.port === port)!.proxy_protocol_v2;
    for (const port of [25, 80, 443, 587, 993, 995]) expect([port, v2(port)]).toEqual([port, true]);
    // The admin frontend takes no PROXY header: the NLB keeps the admins' addresses (instance targets).
    expect(v2(8443)).toBe(false);
    const cfg = decodedFile(receivedConfigOf(json, "lb/lb1").config, "/etc/haproxy/haproxy.cfg").content;
    const binds = cfg.split("\n").filter((l) => /^\s+bind /.test(l));
    for (const port of [25, 80, 443, 587, 993, 995]) {
      expect(binds.find((b) => b.includes(`:${port} `) || b.endsWith(`:${port}`))).toMatch(/ accept-proxy/);
    }
    expect(binds.find((b) => b.includes(":8443 "))).not.toMatch(/accept-proxy/);
  });
});

describe("AWS user-data", () => {
  test("decoded and parsed back: the node's files (user-data and bundle), packages, first-boot steps", () => {
    const { json, cluster } = synthAws(exampleLayout);
    const { text, config } = receivedConfigOf(json, "mail2");
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    expect(config).toMatchObject({
      hostname: "mail2",
      fqdn: "mail2.example.com",
      manage_etc_hosts: false,
      package_update: true,
    });
    const paths = (config.write_files as Json[]).map((f) => f.path);
    expect(paths).toEqual(
      expect.arrayContaining(["/etc/apt/sources.list.d/grommunio.sources", "/etc/hosts", "/etc/gromox/http.cfg"]),
    );
    for (const f of config.write_files as Json[]) {
      expect(typeof f.permissions).toBe("string");
      expect(f.permissions).toMatch(/^0[0-7]{3}$/);
    }
    expect(decodedFile(config, "/etc/gromox/http.cfg").content).toContain("host_id=mail2.example.com");
    expect(config.packages).toEqual(expect.arrayContaining(["gromox", "mariadb-client"]));
    // The password never reaches the user-data: the file is a template rendered from SSM at first boot.
    const template = "/etc/grommunio-cluster/secret-templates/etc/grommunio-cluster/db-client.cnf";
    expect(decodedFile(config, template).content).toContain(`password="@@grommunio-secret:database-password@@"`);
    expect(text).not.toContain("P".repeat(32));
    expect(text).not.toContain("TfToken");
    expect(cluster.userDataReports.get("mail2")!.maxBytes).toBeLessThan(AWS_CAPABILITIES.userData.limitBytes);
  });

  test("large user-data is gzipped into user_data_base64 (and still decodes)", () => {
    // Files in the user-data (the opt-out of S3 delivery): large enough to be gzipped.
    const { json, cluster } = synthAws(exampleLayout, {}, { fileDelivery: "user-data" });
    const gz = [...cluster.userDataReports.values()].filter((r) => r.encoding === "gzip-base64").map((r) => r.node);
    expect(gz.length).toBeGreaterThan(0);
    for (const name of gz) {
      const path = name.startsWith("lb") ? `lb/${name}` : name;
      const inst = instanceOf(json, path);
      expect(inst.user_data).toBeUndefined();
      expect(typeof inst.user_data_base64).toBe("string");
      expect(cloudConfigOf(json, path).config.hostname).toBe(name);
    }
  });

  test("synthesis is deterministic", () => {
    const a = synthAws(exampleLayout).json;
    const b = synthAws(exampleLayout).json;
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});

describe("AWS validation", () => {
  test("validation errors are collected and thrown together", () => {
    const { stack } = buildAws((c) => {
      new GromoxNode(c, "mailbox"); // GRX201 + GRX204
      new LoadBalancerTier(c, "lb", { flavor: "haproxy", cloudLoadBalancer: { proxyProtocol: true } });
    });
    let err: GrommunioValidationError | undefined;
    try {
      Testing.synth(stack);
    } catch (e) {
      err = e as GrommunioValidationError;
    }
    expect(err).toBeInstanceOf(GrommunioValidationError);
    expect(err!.codes).toEqual(expect.arrayContaining(["GRX201", "GRX204"]));
    for (const i of err!.issues) {
      expect(i.path).toMatch(/^test\/mail/);
      expect(i.fix.length).toBeGreaterThan(10);
    }
  });
});

describe("providers", () => {
  test("providers the stack defines after the cluster are not duplicated", () => {
    const { stack } = buildAws(exampleLayout, {}, { region: "eu-central-1" });
    // Its own region: another one is GRX228 (test/platforms/aws-props.test.ts).
    new AwsProvider(stack, "my-aws", { region: "eu-central-1", profile: "mail" });
    new RandomProvider(stack, "my-random");
    const json = JSON.parse(Testing.synth(stack)) as Json;
    expect(json.provider.aws).toEqual([{ region: "eu-central-1", profile: "mail" }]);
    expect(json.provider.random).toEqual([{}]);
  });
});
