import "cdktf/lib/testing/adapters/jest";
import { TerraformStack, Testing } from "cdktf";
import {
  AdminNode,
  ClassicNode,
  Database,
  GromoxNode,
  GrommunioCluster,
  GrommunioClusterProps,
  GrommunioValidationError,
  LoadBalancerTier,
  PlatformCapabilities,
  SharedStorage,
  ShareNothing,
} from "../../lib";
import { awsExample } from "../../examples/aws/main";
import { FakeDeployment, FakePlatform } from "./fake-platform";
import { decodedFile, instanceOf, receivedConfigOf, resources, Json } from "../platforms/aws-support";

function fakeCluster(
  build: (c: GrommunioCluster<FakeDeployment>) => void,
  overrides: Partial<GrommunioClusterProps<FakeDeployment>> = {},
  caps: Partial<PlatformCapabilities> = {},
) {
  const stack = new TerraformStack(Testing.app(), "t");
  const cluster = new GrommunioCluster(stack, "mail", {
    platform: new FakePlatform(caps),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    database: Database.onNode(),
    ...overrides,
  });
  build(cluster);
  return { stack, cluster };
}

function minimal(c: GrommunioCluster<FakeDeployment>): void {
  new GromoxNode(c, "mail1");
  new GromoxNode(c, "mail2");
  new ClassicNode(c, "classic1");
}

/** The validation error synth throws (fails the test when synth succeeds). */
function synthError(stack: TerraformStack): GrommunioValidationError {
  try {
    Testing.synth(stack);
  } catch (e) {
    if (e instanceof GrommunioValidationError) return e;
    throw e;
  }
  throw new Error("synth succeeded");
}

function issue(err: GrommunioValidationError, code: string) {
  const found = err.issues.find((i) => i.code === code);
  if (!found) throw new Error(`no ${code} in ${err.codes.join(", ")}`);
  return found;
}

describe("GrommunioCluster: topology from the constructs", () => {
  test("nodes register with name-derived addresses and server ids; the topology is built at synth", () => {
    const { stack, cluster } = fakeCluster((c) => {
      minimal(c);
      new GromoxNode(c, "mail7", { admin: true });
      new LoadBalancerTier(c, "lb", { flavor: "haproxy", nodes: 2, adminAllowFrom: ["203.0.113.0/24"] });
    });
    Testing.synth(stack);
    const t = cluster.topology;
    expect(t.nodes.map((n) => [n.name, n.ipv4, n.serverId])).toEqual([
      ["classic1", "10.10.10.121", undefined],
      ["db1", "10.10.10.5", undefined],
      ["lb1", "10.10.10.11", undefined],
      ["lb2", "10.10.10.12", undefined],
      ["mail1", "10.10.10.21", 1],
      ["mail2", "10.10.10.22", 2],
      ["mail7", "10.10.10.27", 7],
    ]);
    expect(t.node("mail7").has("admin")).toBe(true);
    expect(t.node("lb1").path).toBe("t/mail/lb/lb1");
    expect(t.loadBalancer?.publicName).toBe("mail.example.com");
    expect(t.database.host).toBe("10.10.10.5");
    expect(t.network.text).toBe("10.10.10.0/24");
  });

  test("explicit privateIp, serverId and hostname override the derived values", () => {
    const { stack, cluster } = fakeCluster((c) => {
      new GromoxNode(c, "alpha", { privateIp: "10.10.10.200", serverId: 9, hostname: "alpha.int.example.com" });
      new ClassicNode(c, "classic1");
    });
    Testing.synth(stack);
    expect(cluster.topology.node("alpha")).toMatchObject({
      ipv4: "10.10.10.200",
      serverId: 9,
      hostname: "alpha.int.example.com",
    });
  });

  test("a generated database password is a sensitive random_password of letters and digits", () => {
    const { stack } = fakeCluster(minimal);
    const json = JSON.parse(Testing.synth(stack)) as Json;
    expect(Object.values(json.resource.random_password as Record<string, Json>)).toEqual([
      { length: 32, special: false },
    ]);
    expect(json.provider.random).toEqual([{}]);
  });

  test("SQL: bootstrap and map-reader grants on the database node, servers seed on the schema node", () => {
    const { stack, cluster } = fakeCluster((c) => {
      minimal(c);
      new LoadBalancerTier(c, "lb", { flavor: "haproxy", nodeAwareRouting: true });
    });
    const json = JSON.parse(Testing.synth(stack)) as Json;
    expect(Object.keys(json.resource.random_password).map((k) => k.split("_")[1])).toEqual([
      "database-password",
      "map-reader-password",
    ]);
    expect(cluster.topology.database.mapReader?.user).toBe("grommunio_map");
    const files = (n: string) =>
      cluster.provisioning
        .get(n)!
        .files.map((f) => f.path)
        .filter((p) => p.endsWith(".sql"));
    expect(files("db1")).toEqual([
      "/etc/grommunio-cluster/database-bootstrap.sql",
      "/etc/grommunio-cluster/map-reader-grants.sql",
    ]);
    expect(files("mail1")).toEqual(["/etc/grommunio-cluster/servers-seed.sql"]);
    expect(files("mail2")).toEqual([]);
    const bootstrap = cluster.provisioning.get("db1")!.files.find((f) => f.path.endsWith("bootstrap.sql"))!.content;
    expect(bootstrap).toContain('"10.10.10.121"'); // classic1's account (in the JSON address list)
  });

  test("the firewall plan reaches the platform; platforms without private filtering get nftables from it", () => {
    const { stack, cluster } = fakeCluster((c) => {
      minimal(c);
      new LoadBalancerTier(c, "lb", { flavor: "haproxy" });
    });
    Testing.synth(stack);
    const plan = cluster.deployment.plan!;
    expect(plan.groups.map((g) => g.name)).toEqual(["node", "mailbox", "classic", "load-balancer", "database", "hub"]);
    const nft = cluster.provisioning.get("mail2")!.files.find((f) => f.path === "/etc/nftables.conf")!;
    expect(nft.content).toContain("tcp dport 5000");
    expect(nft.content).toContain("10.10.10.121"); // classic1 may reach exmdb
    expect(cluster.provisioning.get("mail2")!.services[0]).toBe("nftables");
  });

  test("SharedStorage on an nfs-node platform adds an NFS node with its volume; nfs clients mount it", () => {
    const { stack, cluster } = fakeCluster(minimal, { storage: new SharedStorage() });
    Testing.synth(stack);
    expect(cluster.topology.node("nfs1").ipv4).toBe("10.10.10.191");
    expect(cluster.deployment.volumes.map((v) => `${v.machine}:${v.spec.mountPoint}`).sort()).toEqual([
      "db1:/var/lib/mysql",
      "nfs1:/srv/gromox",
    ]);
    const mounts = cluster.provisioning.get("mail1")!.mounts;
    expect(mounts).toEqual([
      expect.objectContaining({ kind: "nfs", source: "10.10.10.191:/srv/gromox", mountPoint: "/var/lib/gromox" }),
    ]);
    expect(cluster.provisioning.get("classic1")!.mounts).toEqual([]);
    const exports = cluster.provisioning.get("nfs1")!.files.find((f) => f.path === "/etc/exports")!;
    expect(exports.content).toContain("/srv/gromox 10.10.10.21(rw,sync,no_subtree_check,no_root_squash)");
    expect(exports.content).not.toContain("10.10.10.121");
  });

  test("nodes cannot be added after synthesis began", () => {
    const { stack, cluster } = fakeCluster(minimal);
    Testing.synth(stack);
    expect(() => new GromoxNode(cluster, "mail9")).toThrow(/after synthesis began/);
  });
});

describe("GrommunioCluster: coded validation errors (GRX2xx), all collected", () => {
  test("GRX201/GRX204: a name without number and no explicit address or server id", () => {
    const err = synthError(
      fakeCluster((c) => {
        new GromoxNode(c, "mailbox");
        new ClassicNode(c, "classic");
      }).stack,
    );
    const i = issue(err, "GRX201");
    expect(i).toMatchObject({ path: "t/mail/mailbox", field: "privateIp" });
    expect(i.fix).toMatch(/End the name/);
    expect(
      err.issues
        .filter((x) => x.code === "GRX201")
        .map((x) => x.path)
        .sort(),
    ).toEqual(["t/mail/classic", "t/mail/mailbox"]);
    expect(issue(err, "GRX204")).toMatchObject({ path: "t/mail/mailbox", field: "serverId" });
  });

  test("GRX202: the name's number does not fit the role's address block", () => {
    const err = synthError(
      fakeCluster((c) => {
        minimal(c);
        new LoadBalancerTier(c, "lb", { flavor: "haproxy", nodes: 12 });
      }).stack,
    );
    expect(issue(err, "GRX202")).toMatchObject({ path: "t/mail/lb/lb10", field: "name" });
    expect(err.issues.filter((x) => x.code === "GRX202")).toHaveLength(3); // lb10, lb11, lb12
  });

  test("GRX203: a network smaller than /24 cannot hold the address blocks", () => {
    const err = synthError(fakeCluster(minimal, { network: { cidr: "10.10.10.0/25" } }).stack);
    expect(issue(err, "GRX203").message).toMatch(/smaller than a \/24/);
  });

  test("GRX205: the network is outside the platform's allowed sizes", () => {
    const err = synthError(fakeCluster(minimal, { network: { cidr: "10.0.0.0/12" } }).stack);
    expect(issue(err, "GRX205")).toMatchObject({ field: "network.cidr", path: "t/mail" });
  });

  test("GRX206: storage/platform mismatch (SharedStorage without any shared file system)", () => {
    const err = synthError(fakeCluster(minimal, { storage: new SharedStorage() }, { sharedStorage: "none" }).stack);
    expect(issue(err, "GRX206")).toMatchObject({ field: "storage" });
    const err2 = synthError(
      fakeCluster(minimal, { storage: new ShareNothing() }, { blockVolumes: false, sharedStorage: "nfs-node" }).stack,
    );
    expect(issue(err2, "GRX206").message).toMatch(/no block volumes/);
  });

  test("GRX207: a database node's volume on a platform without block volumes", () => {
    const err = synthError(fakeCluster(minimal, { storage: new SharedStorage() }, { blockVolumes: false }).stack);
    expect(issue(err, "GRX207").field).toBe("volumes");
    // Both nodes that keep data on a volume are named: the database and the NFS node.
    expect(
      err.issues
        .filter((i) => i.code === "GRX207")
        .map((i) => i.path)
        .sort(),
    ).toEqual(["t/mail/db1", "t/mail/nfs1"]);
  });

  test("GRX208: Database.rds on a platform without a managed database", () => {
    const err = synthError(fakeCluster(minimal, { database: Database.rds() }).stack);
    expect(issue(err, "GRX208")).toMatchObject({ field: "database" });
  });

  test("GRX209: a load-balancer tier without mailbox nodes", () => {
    const err = synthError(
      fakeCluster((c) => {
        new LoadBalancerTier(c, "lb", { flavor: "haproxy" });
      }).stack,
    );
    expect(issue(err, "GRX209")).toMatchObject({ path: "t/mail/lb", field: "nodes" });
  });

  test("GRX210/GRX219: cloud load balancer unavailable, or a proxy of one's own behind it", () => {
    const err = synthError(
      fakeCluster((c) => {
        minimal(c);
        new LoadBalancerTier(c, "lb", { flavor: "haproxy", cloudLoadBalancer: true });
      }).stack,
    );
    expect(issue(err, "GRX210")).toMatchObject({ path: "t/mail/lb", field: "cloudLoadBalancer" });
    const err2 = synthError(
      fakeCluster(
        (c) => {
          minimal(c);
          new LoadBalancerTier(c, "lb", {
            flavor: "haproxy",
            cloudLoadBalancer: { proxyProtocol: true },
            acceptProxyFrom: ["10.0.0.0/8"],
          });
        },
        {},
        { cloudLoadBalancer: { available: true, proxyProtocolV2: true } },
      ).stack,
    );
    expect(issue(err2, "GRX219")).toMatchObject({ path: "t/mail/lb", field: "acceptProxyFrom" });
  });

  test("GRX500: cloudLoadBalancer.proxyProtocol and its deprecated name proxyProtocolV2 disagree", () => {
    const tier = (cloudLoadBalancer: { proxyProtocol?: boolean; proxyProtocolV2?: boolean }) =>
      fakeCluster(
        (c) => {
          minimal(c);
          new LoadBalancerTier(c, "lb", { flavor: "haproxy", cloudLoadBalancer });
        },
        {},
        { cloudLoadBalancer: { available: true, proxyProtocolV2: true } },
      );
    for (const given of [
      { proxyProtocol: false, proxyProtocolV2: true },
      { proxyProtocol: true, proxyProtocolV2: false },
    ]) {
      const err = synthError(tier(given).stack);
      expect(err.issues.map((i) => [i.code, i.path, i.field])).toEqual([
        ["GRX500", "t/mail/lb", "cloudLoadBalancer.proxyProtocolV2"],
      ]);
    }
    // Either name alone, or both agreeing, decides the PROXY hop.
    for (const [given, proxy] of [
      [{ proxyProtocolV2: true }, true],
      [{ proxyProtocol: true, proxyProtocolV2: true }, true],
      [{ proxyProtocol: false, proxyProtocolV2: false }, false],
      [{ proxyProtocol: true }, true],
    ] as const) {
      const { stack, cluster } = tier(given);
      Testing.synth(stack);
      expect([given, cluster.topology.loadBalancer!.acceptProxy?.from]).toEqual([
        given,
        proxy ? "cloud-lb" : undefined,
      ]);
    }
  });

  test("acceptProxyFrom (a proxy of one's own): the topology's frontends expect PROXY; bad entries are GRX045", () => {
    const { cluster } = fakeCluster((c) => {
      minimal(c);
      new LoadBalancerTier(c, "lb", { flavor: "haproxy", acceptProxyFrom: ["192.0.2.0/28"] });
    });
    expect(cluster.topology.loadBalancer!.acceptProxy).toEqual({
      from: ["192.0.2.0/28"],
      frontends: ["publicSmtp", "publicSubmission", "publicImaps", "publicPop3s", "publicHttp", "publicHttps"],
    });
    const err = synthError(
      fakeCluster((c) => {
        minimal(c);
        new LoadBalancerTier(c, "lb", { flavor: "haproxy", acceptProxyFrom: ["not-a-cidr"] });
      }).stack,
    );
    expect(issue(err, "GRX045").field).toBe("acceptProxyFrom");
  });

  test("GRX212/GRX213: config change policy and OS the platform does not support", () => {
    const err = synthError(
      fakeCluster(
        minimal,
        { configChangePolicy: "ignore", os: "ubuntu-24.04" },
        { configChangePolicies: ["replace"], operatingSystems: ["debian-12"] },
      ).stack,
    );
    expect(issue(err, "GRX212").fix).toMatch(/replace/);
    expect(issue(err, "GRX213").field).toBe("os");
  });

  test("GRX215/GRX216: one tier per cluster, with at least one node", () => {
    const err = synthError(
      fakeCluster((c) => {
        minimal(c);
        new LoadBalancerTier(c, "lb", { flavor: "haproxy" });
        new LoadBalancerTier(c, "edge", { flavor: "nginx", nodes: 0 });
      }).stack,
    );
    expect(issue(err, "GRX215").path).toBe("t/mail/edge");
    expect(issue(err, "GRX216").field).toBe("nodes");
  });

  test("GRX217: a volume size that is not a positive whole number", () => {
    const err = synthError(fakeCluster(minimal, { storage: new ShareNothing({ volumeSizeGb: 0 }) }).stack);
    expect(issue(err, "GRX217")).toMatchObject({ path: "t/mail/mail1", field: "volumeSizeGb" });
  });

  test("GRX218: an SSH allow-list entry that is no address", () => {
    const err = synthError(fakeCluster(minimal, { sshAllowFrom: ["office"] }).stack);
    expect(issue(err, "GRX218").message).toContain('"office"');
  });

  test("GRX218: an SSH allow-list entry written as an IPv4-mapped IPv6 network, with its IPv4 form", () => {
    const err = synthError(fakeCluster(minimal, { sshAllowFrom: ["::FFFF:198.51.100.0/120"] }).stack);
    expect(issue(err, "GRX218")).toMatchObject({
      field: "sshAllowFrom",
      message: expect.stringContaining('"::FFFF:198.51.100.0/120" is an IPv4-mapped IPv6 address'),
      fix: "Write it as IPv4: 198.51.100.0/24.",
    });
  });

  test("GRX301: user-data over the platform's limit, with a fix", () => {
    const err = synthError(
      fakeCluster(
        minimal,
        {},
        { userData: { limitBytes: 2000, countedAs: "raw-bytes", binaryGzip: false, nativeChangeBehaviour: "replace" } },
      ).stack,
    );
    const i = issue(err, "GRX301");
    expect(i.message).toMatch(/over the platform's limit of 2000 bytes/);
    expect(i.fix).toMatch(/fetch large files at boot/);
  });

  test("construct, platform and topology issues come in one error", () => {
    const err = synthError(
      fakeCluster(
        (c) => {
          new GromoxNode(c, "mail1", { privateIp: "10.10.10.400" }); // topology GRX012
          new GromoxNode(c, "box"); // GRX201, GRX204
        },
        { sshAllowFrom: ["nowhere"] },
      ).stack,
    );
    expect(err.codes).toEqual(expect.arrayContaining(["GRX012", "GRX201", "GRX204", "GRX218"]));
  });
});

describe("stability: nodes keyed by name", () => {
  function synthExample(mailboxNodes?: string[]): Json {
    const app = Testing.app();
    const stack = awsExample(app, mailboxNodes ? { mailboxNodes } : {});
    return JSON.parse(Testing.synth(stack)) as Json;
  }

  /** Every resource address with its construct path; instance addresses by path. */
  function addresses(json: Json): Map<string, string> {
    const out = new Map<string, string>();
    for (const [type, byId] of Object.entries(json.resource as Record<string, Record<string, Json>>)) {
      for (const [id, r] of Object.entries(byId)) out.set(`${type}.${id}`, r.private_ip ?? "");
    }
    return out;
  }

  test("adding a node changes no existing resource address, construct path or private address", () => {
    const before = addresses(synthExample());
    const after = addresses(synthExample(["mail1", "mail2", "mail3", "mail4"]));
    for (const [address, ip] of before) {
      expect(after.has(address)).toBe(true);
      expect(after.get(address)).toBe(ip);
    }
    const added = [...after.keys()].filter((a) => !before.has(a));
    expect(added.filter((a) => a.startsWith("aws_instance."))).toEqual([
      expect.stringMatching(/^aws_instance\.mail_mail4_instance_/),
    ]);
    expect(added.every((a) => a.includes("mail4"))).toBe(true);
  });

  test("removing a node leaves every other node as it was", () => {
    const before = addresses(synthExample());
    const after = addresses(synthExample(["mail1", "mail3"]));
    for (const [address, ip] of after) {
      expect(before.get(address)).toBe(ip);
    }
    expect([...before.keys()].filter((a) => !after.has(a)).every((a) => a.includes("mail2"))).toBe(true);
  });
});

describe("allow lists in the rendered files equal the synthesized private addresses", () => {
  test("exmdb, midb, event and timer allow lists", () => {
    const app = Testing.app();
    const json = JSON.parse(Testing.synth(awsExample(app))) as Json;
    const nodes = resources(json, "aws_instance").map(([, i]) => ({
      ip: i.private_ip as string,
      roles: String(i.tags["grommunio:roles"]).split(" "),
      name: i.tags["grommunio:node"] as string,
    }));
    const sorted = (ips: string[]) => [
      "::1",
      ...ips.sort((a, b) => a.split(".").map(Number)[3]! - b.split(".").map(Number)[3]!).map((ip) => `::ffff:${ip}`),
    ];
    const withRole = (...roles: string[]) =>
      nodes.filter((n) => n.roles.some((r) => roles.includes(r))).map((n) => n.ip);
    const setting = (node: string, file: string, key: string) => {
      const { content } = decodedFile(receivedConfigOf(json, node).config, file);
      const line = content.split("\n").find((l) => l.startsWith(`${key}=`));
      return line!.slice(key.length + 1).split(" ");
    };
    for (const node of ["mail1", "mail2", "mail3"]) {
      expect(setting(node, "/etc/gromox/exmdb_provider.cfg", "exmdb_hosts_allow")).toEqual(
        sorted(withRole("mailbox", "classic", "admin")),
      );
      expect(setting(node, "/etc/gromox/midb.cfg", "midb_hosts_allow")).toEqual(sorted(withRole("classic")));
    }
    expect(setting("mail1", "/etc/gromox/event.cfg", "event_hosts_allow")).toEqual(
      sorted(withRole("mailbox", "classic")),
    );
    expect(setting("mail1", "/etc/gromox/timer.cfg", "timer_hosts_allow")).toEqual(sorted(withRole("mailbox")));
    expect(instanceOf(json, "mail1").private_ip).toBe("10.10.10.21");
  });
});

describe("AdminNode", () => {
  test("a separate admin node in the admin block", () => {
    const { stack, cluster } = fakeCluster(
      (c) => {
        minimal(c);
        new AdminNode(c, "admin1");
      },
      { storage: new SharedStorage() },
    );
    Testing.synth(stack);
    expect(cluster.topology.node("admin1")).toMatchObject({ ipv4: "10.10.10.171" });
    expect(cluster.provisioning.get("admin1")!.packages).toContain("grommunio-admin-api");
  });
});
