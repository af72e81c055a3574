/**
 * Props that were accepted and then silently did nothing (or something other than their doc
 * says): each is now refused with a code when it is certainly a mistake, or warned about when it
 * may be deliberate (generic code shared across platforms or clusters).
 */
import { TerraformStack, Testing } from "cdktf";
import {
  ClassicNode,
  Database,
  GromoxNode,
  GrommunioCluster,
  GrommunioClusterProps,
  GrommunioValidationError,
  LoadBalancerTier,
  Peer,
  Platform,
  Port,
  ShareNothing,
  SharedStorage,
} from "../../lib";
import "../../lib/platforms/hcloud";
import "../../lib/platforms/libvirt";
import "../../lib/platforms/docker";

type Name = "aws" | "hcloud" | "libvirt" | "docker";

function platformOf(name: Name): GrommunioClusterProps["platform"] {
  switch (name) {
    case "aws":
      return Platform.aws({ region: "eu-central-1" });
    case "hcloud":
      return Platform.hcloud({ location: "fsn1" });
    case "libvirt":
      return Platform.libvirt({ image: { source: "https://images.example.net/debian-12.qcow2" } });
    case "docker":
      return Platform.docker({});
  }
}

interface Built {
  readonly stack: TerraformStack;
  readonly cluster: GrommunioCluster;
}

function build(
  name: Name,
  props: Partial<GrommunioClusterProps> = {},
  mail: ConstructorParameters<typeof GromoxNode>[2] = { admin: true },
  extra: (c: GrommunioCluster) => void = () => undefined,
): Built {
  const stack = new TerraformStack(Testing.app(), "t");
  const cluster = new GrommunioCluster(stack, "mail", {
    platform: platformOf(name),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    database: Database.onNode(),
    ...(name === "docker" ? { storage: new ShareNothing() } : {}),
    ...props,
  });
  new GromoxNode(cluster, "mail1", mail);
  new ClassicNode(cluster, "classic1");
  new LoadBalancerTier(cluster, "lb", { flavor: "haproxy", nodes: 1 });
  extra(cluster);
  return { stack, cluster };
}

function synthIssues(b: Built): { code: string; field: string; message: string }[] {
  try {
    Testing.synth(b.stack);
  } catch (e) {
    if (e instanceof GrommunioValidationError)
      return e.issues.map(({ code, field, message }) => ({ code, field, message }));
    throw e;
  }
  return [];
}

function warnings(b: Built): string[] {
  Testing.synth(b.stack);
  return b.stack.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data)));
}

describe("GromoxNode dataVolumeSizeGb with SharedStorage (GRX200)", () => {
  test.each<Name>(["aws", "hcloud"])("%s: refused (no mailbox volume would be created)", (name) => {
    const issues = synthIssues(build(name, { storage: new SharedStorage() }, { dataVolumeSizeGb: 500 }));
    expect(issues).toEqual([expect.objectContaining({ code: "GRX200", field: "dataVolumeSizeGb" })]);
    expect(issues[0]!.message).toContain("500");
  });

  test("with ShareNothing it sizes the node's volume", () => {
    const b = build("hcloud", { storage: new ShareNothing() }, { dataVolumeSizeGb: 500 });
    const json = JSON.parse(Testing.synth(b.stack));
    const sizes = Object.values(json.resource.hcloud_volume as Record<string, { name: string; size: number }>).map(
      (v) => [v.name, v.size],
    );
    expect(sizes).toContainEqual([expect.stringContaining("mail1"), 500]);
  });
});

describe("hostFirewall: false where nothing else filters (GRX461, warning)", () => {
  test("libvirt: sshAllowFrom would restrict nothing: refused", () => {
    const issues = synthIssues(build("libvirt", { hostFirewall: false, sshAllowFrom: ["198.51.100.0/24"] }));
    expect(issues).toEqual([expect.objectContaining({ code: "GRX461", field: "hostFirewall" })]);
    expect(issues[0]!.message).toContain("22 from 198.51.100.0/24");
  });

  test("libvirt: a user's Peer.cidr rule likewise", () => {
    const issues = synthIssues(
      build("libvirt", { hostFirewall: false }, { admin: true }, (c) =>
        c.connections("mailbox").allowFrom(Peer.cidr("203.0.113.0/24"), Port.tcp(9100, "exporter")),
      ),
    );
    expect(issues.map((i) => i.code)).toEqual(["GRX461"]);
    expect(issues[0]!.message).toContain("9100 from 203.0.113.0/24");
  });

  test("libvirt: with the host firewall (the default) the same rules are fine, and no warning", () => {
    const b = build("libvirt", { sshAllowFrom: ["198.51.100.0/24"] });
    expect(warnings(b).filter((w) => w.includes("hostFirewall"))).toEqual([]);
  });

  test("hcloud: its cloud firewall enforces sshAllowFrom: no error, but a warning for the unfiltered private network", () => {
    const b = build("hcloud", { hostFirewall: false, sshAllowFrom: ["198.51.100.0/24"] });
    expect(warnings(b)).toContainEqual(expect.stringContaining("hostFirewall is false and hcloud"));
  });

  test("libvirt without allow lists: a warning only", () => {
    expect(warnings(build("libvirt", { hostFirewall: false }))).toContainEqual(
      expect.stringContaining("does not filter the cluster network"),
    );
  });

  test("aws filters the private network itself: no warning", () => {
    expect(warnings(build("aws", { hostFirewall: false })).filter((w) => w.includes("hostFirewall"))).toEqual([]);
  });
});

describe("warnings for inputs a platform or cluster ignores", () => {
  test("SharedStorage nfsNode on AWS (EFS): warned, no NFS node", () => {
    const b = build("aws", { storage: new SharedStorage({ nfsNode: { volumeSizeGb: 999 } }) });
    expect(warnings(b)).toContainEqual(expect.stringContaining("nfsNode is ignored"));
    expect(b.cluster.topology.nodes.map((n) => n.name)).not.toContain("nfs1");
  });

  test("SharedStorage nfsNode on Hetzner: used, no warning", () => {
    const b = build("hcloud", { storage: new SharedStorage({ nfsNode: { volumeSizeGb: 999 } }) });
    expect(warnings(b).filter((w) => w.includes("nfsNode"))).toEqual([]);
    expect(b.cluster.topology.nodes.map((n) => n.name)).toContain("nfs1");
  });

  test("readinessReport on Docker (no cloud-init): warned", () => {
    expect(warnings(build("docker", { readinessReport: {} }))).toContainEqual(
      expect.stringContaining("readinessReport is ignored"),
    );
    expect(warnings(build("hcloud", { readinessReport: {} })).filter((w) => w.includes("readinessReport"))).toEqual([]);
  });

  test("repository and osRepository on Docker (packages come from the image): warned, per prop", () => {
    const repository = { uris: "https://mirror.example.net/grommunio", trusted: true };
    const osRepository = { uris: "http://mirror.example.net/debian" };
    const about = (w: string[]) => w.filter((x) => /repository/i.test(x));
    expect(about(warnings(build("docker", { repository })))).toEqual([
      expect.stringMatching(/^repository is not used for packages on docker: .*image/),
    ]);
    expect(about(warnings(build("docker", { repository, osRepository })))).toEqual([
      expect.stringMatching(/^repository, osRepository are not used for packages on docker/),
    ]);
    expect(about(warnings(build("docker")))).toEqual([]);
    expect(about(warnings(build("hcloud", { repository, osRepository })))).toEqual([]);
  });

  test("accountIds on Docker (containers from images): warned", () => {
    expect(warnings(build("docker", { accountIds: { gromox: 400 } }))).toContainEqual(
      "accountIds is ignored: docker runs containers from images, whose accounts are the image's (and containers mount no NFS).",
    );
    expect(warnings(build("hcloud", { accountIds: { gromox: 400 } })).filter((w) => w.includes("accountIds"))).toEqual(
      [],
    );
  });

  test("Database.external outside the cluster network on Docker (no route out for mailbox nodes): warned", () => {
    const external = (host: string) => Database.external({ host, password: "Correct7Horse" });
    const outside = "mailbox and admin nodes could not connect";
    expect(warnings(build("docker", { database: external("db.example.net") }))).toContainEqual(
      expect.stringContaining(outside),
    );
    expect(
      warnings(build("docker", { database: external("10.10.10.200") })).filter((w) => w.includes(outside)),
    ).toEqual([]);
    expect(
      warnings(build("hcloud", { database: external("db.example.net") })).filter((w) => w.includes(outside)),
    ).toEqual([]);
  });

  test("explicit volume sizes on Docker (not enforced): warned, defaults are not", () => {
    const sized = build(
      "docker",
      { storage: new ShareNothing({ volumeSizeGb: 300 }), database: Database.onNode({ volumeSizeGb: 80 }) },
      { dataVolumeSizeGb: 400 },
    );
    const notEnforced = warnings(sized).filter((w) => w.includes("not enforced here"));
    expect(notEnforced).toEqual([
      expect.stringContaining("ShareNothing volumeSizeGb (300 GiB)"),
      expect.stringContaining("volumeSizeGb (80 GiB)"),
      expect.stringContaining("dataVolumeSizeGb (400 GiB)"),
    ]);
    expect(warnings(build("docker")).filter((w) => w.includes("not enforced here"))).toEqual([]);
    const hcloud = build(
      "hcloud",
      { storage: new ShareNothing({ volumeSizeGb: 300 }), database: Database.onNode({ volumeSizeGb: 80 }) },
      { dataVolumeSizeGb: 400 },
    );
    expect(warnings(hcloud).filter((w) => w.includes("not enforced here"))).toEqual([]);
  });

  test("adminPassword without an admin node: warned", () => {
    expect(warnings(build("hcloud", { adminPassword: "Correct7Horse" }, {}))).toContainEqual(
      expect.stringContaining("adminPassword is ignored"),
    );
    expect(
      warnings(build("hcloud", { adminPassword: "Correct7Horse" })).filter((w) => w.includes("adminPassword")),
    ).toEqual([]);
  });
});

describe("ShareNothing with an admin node and other mailbox nodes: the admin API cannot create their stores where containers cannot mount NFS (warning)", () => {
  const twoMore = (c: GrommunioCluster) => {
    new GromoxNode(c, "mail2");
    new GromoxNode(c, "mail3");
  };
  const about = (w: string) => w.startsWith("ShareNothing with the admin API");

  test("Docker, admin on mail1, mail2 and mail3 beside it: warned, naming both sides and the way out", () => {
    const found = warnings(build("docker", {}, { admin: true }, twoMore)).filter(about);
    expect(found).toEqual([
      "ShareNothing with the admin API on mail1: grommunio-admin-api creates each new mailbox's store on its own node's disk (it makes the directories and runs gromox-mkprivate locally), and containers cannot mount the other mailbox nodes' stores over NFS (as the admin node does on virtual machines), so users and domains it places on mail2, mail3 get a store their home node never sees. Keep one mailbox node, or create mailboxes only on mail1 (docs/operations.md, \"Creating mailboxes\").",
    ]);
  });

  test("quiet where mail2 and mail3 export their stores to mail1 (Hetzner, libvirt), with SharedStorage, with one mailbox node, and without an admin node", () => {
    for (const name of ["hcloud", "libvirt"] as const) {
      expect(warnings(build(name, { storage: new ShareNothing() }, { admin: true }, twoMore)).filter(about)).toEqual(
        [],
      );
    }
    expect(warnings(build("hcloud", { storage: new SharedStorage() }, { admin: true }, twoMore)).filter(about)).toEqual(
      [],
    );
    expect(warnings(build("docker", {}, { admin: true })).filter(about)).toEqual([]);
    expect(warnings(build("docker", {}, {}, twoMore)).filter(about)).toEqual([]);
  });
});
