import "cdktf/lib/testing/adapters/jest";
import { TerraformStack, Testing } from "cdktf";
import {
  ClassicNode,
  Database,
  GromoxNode,
  GrommunioCluster,
  GrommunioClusterProps,
  LoadBalancerTier,
  NodeProvisioning,
  SharedStorage,
  ShareNothing,
  ValidationIssue,
} from "../../lib";
import "../../lib/platforms/docker";
import { DockerDeployment, DockerPlatformProps } from "../../lib/platforms/docker";
import { Platform } from "../../lib/platforms/platform";
import { renderContainerBootstrap } from "../../lib/provision/container";
import { Lazy } from "cdktf";
import { synthError } from "./docker-support";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";

function cluster(
  props: DockerPlatformProps = {},
  overrides: Partial<GrommunioClusterProps<DockerDeployment>> = {},
  build: (c: GrommunioCluster<DockerDeployment>) => void = (c) => {
    new GromoxNode(c, "mail1");
    new ClassicNode(c, "classic1");
  },
  id = "mail",
) {
  const stack = new TerraformStack(Testing.app(), "t");
  const c = new GrommunioCluster(stack, id, {
    platform: Platform.docker(props),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.20.0.0/24" },
    database: Database.onNode(),
    ...overrides,
  });
  build(c);
  return stack;
}

function issues(stack: TerraformStack, code: string): ValidationIssue[] {
  return synthError(stack).issues.filter((i) => i.code === code);
}

/** A hand-made provisioning (no cluster): one file, one step, no mounts. */
function provisioning(overrides: Partial<NodeProvisioning> = {}): NodeProvisioning {
  return {
    name: "n1",
    fqdn: "n1.example.com",
    repositories: [],
    packages: [],
    files: [{ path: "/etc/x.conf", content: "x\n", mode: "0644", owner: "root:root", stage: "late" }],
    mounts: [],
    commands: [{ phase: "before-services", description: "say hello", shell: "echo hello" }],
    services: [],
    ...overrides,
  };
}

describe("Docker props that would take no effect: warnings", () => {
  test("labels with the platform's own grommunio-* keys are replaced: a warning names them", () => {
    const warnings = (stack: TerraformStack) =>
      stack.node
        .findAll()
        .flatMap((c) => c.node.metadata)
        .filter((m) => m.type === "@cdktf/warn")
        .map((m) => String(m.data));
    const own = cluster({ labels: { "grommunio-cluster": "other", team: "mail" } });
    Testing.synth(own);
    expect(warnings(own)).toContainEqual(expect.stringMatching(/^labels grommunio-cluster: the platform sets/));
    const plain = cluster({ labels: { team: "mail" } });
    Testing.synth(plain);
    expect(warnings(plain).filter((w) => /^labels /.test(w))).toEqual([]);
  });
});

describe("Docker platform coded errors (GRX240–GRX259)", () => {
  test("GRX250: host that the platform's provider would not use (addProvider false, or a provider of the stack's own)", () => {
    const remote = "ssh://deploy@docker1.example.com";
    expect(issues(cluster({ host: remote, addProvider: false }), "GRX250")).toEqual([
      expect.objectContaining({ field: "platform.host" }),
    ]);
    const withOwn = (props: DockerPlatformProps, host?: string) => {
      const stack = new TerraformStack(Testing.app(), "t");
      new DockerProvider(stack, "own", host !== undefined ? { host } : {});
      new GromoxNode(
        new GrommunioCluster(stack, "mail", {
          platform: Platform.docker(props),
          domain: "example.com",
          gromoxVersion: "3.10",
          network: { cidr: "10.20.0.0/24" },
          database: Database.onNode(),
        }),
        "mail1",
      );
      return stack;
    };
    expect(issues(withOwn({ host: remote }, "unix:///var/run/docker.sock"), "GRX250")).toEqual([
      expect.objectContaining({ message: expect.stringContaining("talks to unix:///var/run/docker.sock") }),
    ]);
    expect(issues(withOwn({ host: remote }), "GRX250")).toHaveLength(1);
    const fine = withOwn({ host: remote }, remote);
    expect(JSON.parse(Testing.synth(fine)).provider.docker).toEqual([{ host: remote }]);
    expect(() => Testing.synth(withOwn({}, remote))).not.toThrow();
  });

  test("GRX240: a cluster id that cannot start a Docker name", () => {
    const found = issues(cluster({}, {}, undefined, "_mail"), "GRX240");
    expect(found).toEqual([expect.objectContaining({ path: "t/_mail", field: "id" })]);
  });

  test("GRX241: a node size (Docker has no machine types)", () => {
    const found = issues(
      cluster({}, {}, (c) => {
        new GromoxNode(c, "mail1", { size: "cx42" });
      }),
      "GRX241",
    );
    expect(found).toEqual([expect.objectContaining({ path: "t/mail/mail1", field: "size" })]);
    expect(found[0]!.message).toContain('"cx42"');
  });

  test("GRX242: two load-balancer containers publishing the same ports on every host address", () => {
    const stack = cluster({}, {}, (c) => {
      new GromoxNode(c, "mail1");
      new LoadBalancerTier(c, "lb", { flavor: "haproxy", nodes: 2 });
    });
    const found = issues(stack, "GRX242");
    expect(found.length).toBe(6); // 25, 80, 443, 587, 993, 995 on lb2
    expect(found.every((i) => i.path === "t/mail/lb/lb2" && i.field === "publishAddresses")).toBe(true);
    expect(found[0]!.message).toBe("lb2 and lb1 would both publish port 25 on every address of the Docker host.");
    // One address each, or one node on the wildcard and one on an address, still clash only where equal.
    const ok = cluster({ publishAddresses: { lb1: "192.0.2.1", lb2: "192.0.2.2" } }, {}, (c) => {
      new GromoxNode(c, "mail1");
      new LoadBalancerTier(c, "lb", { flavor: "haproxy", nodes: 2 });
    });
    expect(() => Testing.synth(ok)).not.toThrow();
    const mixed = cluster({ publishAddresses: { lb2: "192.0.2.2" } }, {}, (c) => {
      new GromoxNode(c, "mail1");
      new LoadBalancerTier(c, "lb", { flavor: "haproxy", nodes: 2 });
    });
    expect(issues(mixed, "GRX242")).toHaveLength(6);
  });

  test("GRX243: publishAddresses for a node that is no load balancer, or not an IPv4 address", () => {
    const stack = cluster({ publishAddresses: { mail1: "192.0.2.1", lb1: "host.example.com" } }, {}, (c) => {
      new GromoxNode(c, "mail1");
      new LoadBalancerTier(c, "lb", { flavor: "haproxy", nodes: 1 });
    });
    const found = issues(stack, "GRX243");
    expect(found.map((i) => i.field).sort()).toEqual(["publishAddresses.lb1", "publishAddresses.mail1"]);
  });

  test("GRX244: IOPS or throughput on a Docker volume", () => {
    const found = issues(cluster({}, { storage: new ShareNothing({ iops: 3000, throughputMiBps: 125 }) }), "GRX244");
    expect(found).toEqual([expect.objectContaining({ path: "t/mail/mail1/data", field: "iops, throughputMiBps" })]);
  });

  test("GRX245: a first-boot command holding a Terraform value", () => {
    const token = Lazy.stringValue({ produce: () => "secret" });
    const b = renderContainerBootstrap(
      provisioning({ commands: [{ phase: "after-services", description: "use it", shell: `echo ${token}` }] }),
      "app/n1",
    );
    expect(b.issues).toEqual([expect.objectContaining({ code: "GRX245", path: "app/n1/commands", field: "shell" })]);
  });

  test("GRX246: an image that is not a Docker image reference; references with registry, port, digest pass", () => {
    const found = issues(cluster({ images: { mailbox: "Not An Image", classic: "ok/classic:1" } }), "GRX246");
    expect(found).toEqual([expect.objectContaining({ field: "platform.images.mailbox" })]);
    const good = cluster({
      images: {
        mailbox: "registry.example.com:5000/grommunio/mailbox:2025.01",
        classic: `ghcr.io/example/classic@sha256:${"a".repeat(64)}`,
      },
    });
    expect(() => Testing.synth(good)).not.toThrow();
  });

  test("GRX247: a node file inside /etc/grommunio-provision", () => {
    const b = renderContainerBootstrap(
      provisioning({
        files: [
          { path: "/etc/grommunio-provision/boot.sh", content: "x\n", mode: "0755", owner: "root:root", stage: "late" },
        ],
      }),
      "app/n1",
    );
    expect(b.issues).toEqual([expect.objectContaining({ code: "GRX247", path: "app/n1/files", field: "path" })]);
  });

  test("GRX248: an egress network that is no CIDR or overlaps the cluster network", () => {
    expect(issues(cluster({ egressNetwork: { cidr: "172.30.0.0" } }), "GRX248")[0]!.message).toMatch(
      /not an IPv4 CIDR/,
    );
    expect(issues(cluster({ egressNetwork: { cidr: "10.20.0.128/25" } }), "GRX248")[0]!.message).toBe(
      "the egress network 10.20.0.128/25 overlaps the cluster network 10.20.0.0/24.",
    );
  });

  test("GRX249: an NFS mount (containers cannot mount file systems); SharedStorage is refused as GRX206", () => {
    const b = renderContainerBootstrap(
      provisioning({
        mounts: [
          { kind: "nfs", source: "10.0.0.5:/srv", mountPoint: "/var/lib/gromox", options: "", clientPackages: [] },
        ],
      }),
      "app/n1",
    );
    expect(b.issues).toEqual([expect.objectContaining({ code: "GRX249", path: "app/n1/mounts" })]);
    expect(issues(cluster({}, { storage: new SharedStorage() }), "GRX206")).toHaveLength(1);
  });

  test("a cloud load balancer does not exist on Docker (GRX210)", () => {
    const stack = cluster({ publishAddresses: {} }, {}, (c) => {
      new GromoxNode(c, "mail1");
      new LoadBalancerTier(c, "lb", { flavor: "haproxy", nodes: 1, cloudLoadBalancer: true });
    });
    expect(issues(stack, "GRX210")).toHaveLength(1);
  });

  test("the container bootstrap of a hand-made node: staged /etc/hosts, no package check without packages", () => {
    const b = renderContainerBootstrap(
      provisioning({
        files: [
          {
            path: "/etc/hosts",
            content: "10.0.0.1 n1.example.com n1\n",
            mode: "0644",
            owner: "root:root",
            stage: "late",
          },
          { path: "/etc/x.conf", content: "it's ${HOME}\n", mode: "0640", owner: "root:adm", stage: "late" },
        ],
        services: ["nftables", "haproxy"],
      }),
      "app/n1",
    );
    expect(b.issues).toEqual([]);
    expect(b.files.map((f) => [f.path, f.uploadPath, f.origin])).toEqual([
      ["/etc/hosts", "/etc/grommunio-provision/staged/etc/hosts", "node"],
      ["/etc/x.conf", "/etc/x.conf", "node"],
      ["/etc/grommunio-provision/manifest.json", "/etc/grommunio-provision/manifest.json", "bootstrap"],
      ["/etc/grommunio-provision/boot.sh", "/etc/grommunio-provision/boot.sh", "bootstrap"],
    ]);
    expect(b.needsNetAdmin).toBe(false); // no /etc/nftables.conf: nothing to load
    expect(b.manifest.services).toEqual(["haproxy"]);
    expect(b.script).not.toContain("dpkg-query");
    expect(b.script).toContain("    chown 'root:adm' '/etc/x.conf'\n    chmod '0640' '/etc/x.conf'\n");
    expect(b.script).not.toContain("chown 'root:root' '/etc/hosts'");
    expect(b.script).toContain("  sh -ec 'echo hello' || fail 'before-services step failed: say hello'\n");
  });
});
