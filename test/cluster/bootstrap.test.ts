import "cdktf/lib/testing/adapters/jest";
import { TerraformStack, Testing } from "cdktf";
import { ClassicNode, Database, GromoxNode, GrommunioCluster, NodeProvisioning } from "../../lib";
import { FakeDeployment, FakePlatform } from "./fake-platform";

/** A cluster on the fake platform with the given bootstrap; the fake machines optionally take provisioning. */
function build(bootstrap: "cloud-init" | "files" | undefined, withSetProvisioning: boolean) {
  const stack = new TerraformStack(Testing.app(), "t");
  const cluster = new GrommunioCluster(stack, "mail", {
    platform: new FakePlatform(bootstrap === undefined ? {} : { bootstrap }),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    database: Database.onNode(),
  });
  new GromoxNode(cluster, "mail1");
  new ClassicNode(cluster, "classic1");
  const received = new Map<string, NodeProvisioning>();
  const deployment: FakeDeployment = cluster.deployment;
  if (withSetProvisioning) {
    for (const [name, m] of deployment.machines) {
      Object.assign(m, { setProvisioning: (p: NodeProvisioning) => received.set(name, p) });
    }
  }
  return { stack, cluster, deployment, received };
}

describe("capabilities.bootstrap: cloud-init or files", () => {
  test("default (absent) is cloud-init: every machine gets user-data, none gets provisioning", () => {
    const { stack, cluster, deployment, received } = build(undefined, true);
    Testing.synth(stack);
    expect(received.size).toBe(0);
    for (const m of deployment.machines.values()) expect(m.userData?.value).toMatch(/^#cloud-config\n/);
    expect(cluster.userDataReports.size).toBe(3);
    expect(cluster.provisioning.size).toBe(3);
  });

  test('"files": every machine gets its provisioning (the same object the cluster keeps), no user-data', () => {
    const { stack, cluster, deployment, received } = build("files", true);
    Testing.synth(stack);
    expect([...received.keys()].sort()).toEqual(["classic1", "db1", "mail1"]);
    for (const [name, p] of received) {
      expect(p).toBe(cluster.provisioning.get(name));
      expect(p.files.some((f) => f.path === "/etc/hosts")).toBe(true);
    }
    for (const m of deployment.machines.values()) expect(m.userData).toBeUndefined();
    expect(cluster.userDataReports.size).toBe(0);
    expect(cluster.cloudConfigs.size).toBe(0);
  });

  test('"files" on a platform whose machines cannot take provisioning is a programming error', () => {
    const { stack } = build("files", false);
    expect(() => Testing.synth(stack)).toThrow(
      /declares capabilities.bootstrap "files", but its machines have no setProvisioning/,
    );
  });
});
