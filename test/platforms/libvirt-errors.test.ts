import "cdktf/lib/testing/adapters/jest";
import { Construct } from "constructs";
import { TerraformStack, Testing } from "cdktf";
import { kvmExample } from "../../examples/kvm/main";
import "../../lib/platforms/libvirt";
import { LibvirtDeployment, LibvirtPlatformProps } from "../../lib/platforms/libvirt";
import { LibvirtProvider } from "../../lib/gen/providers/libvirt/provider";
import { Platform } from "../../lib/platforms/platform";
import { GrommunioValidationError, ValidationIssue } from "../../lib/topology";

const IMAGE = {
  source:
    "https://cloud.debian.org/images/cloud/bookworm/20250428-2096/debian-12-genericcloud-amd64-20250428-2096.qcow2",
};

function bare(
  props: Partial<LibvirtPlatformProps> = {},
  before?: (stack: TerraformStack) => void,
): {
  deployment: LibvirtDeployment;
  issues: ValidationIssue[];
  cluster: Construct;
} {
  const stack = new TerraformStack(Testing.app(), "test");
  before?.(stack);
  const cluster = new Construct(stack, "c");
  const issues: ValidationIssue[] = [];
  const deployment = Platform.libvirt({ image: IMAGE, ...props }).bind(cluster, {
    clusterName: "mail",
    clusterPath: "app/mail",
    domain: "example.com",
    network: { cidr: "10.10.10.0/24" },
    os: "debian-12",
    report: (i) => issues.push(i),
    tokens: { declareToken: () => undefined },
  });
  return { deployment, issues, cluster };
}

function machine(d: LibvirtDeployment, scope: Construct, name: string, ip: string, size?: string) {
  const s = new Construct(scope, name);
  return d.addMachine(s, {
    name,
    hostname: `${name}.example.com`,
    roles: ["mailbox"],
    primaryRole: "mailbox",
    privateIpv4: ip,
    ...(size !== undefined ? { size } : {}),
    configChangePolicy: "replace",
    path: `app/mail/${name}`,
  });
}

const codes = (issues: readonly ValidationIssue[]) => issues.map((i) => i.code);

describe("libvirt platform coded errors (GRX280–GRX289)", () => {
  test("a correct platform reports nothing", () => {
    const { deployment, issues, cluster } = bare();
    const m = machine(deployment, cluster, "mail1", "10.10.10.21");
    deployment.addVolume(new Construct(cluster, "v"), m, {
      id: "data",
      purpose: "mailbox-data",
      sizeGb: 10,
      label: "gromox-data",
      mountPoint: "/var/lib/gromox",
    });
    expect(issues).toEqual([]);
  });

  test("GRX280: a size that is not <vcpus>cpu-<GiB>gb, on the node or per role", () => {
    const { deployment, issues, cluster } = bare({ sizes: { mailbox: "large" } });
    machine(deployment, cluster, "mail1", "10.10.10.21", "4 cpus");
    machine(deployment, cluster, "mail2", "10.10.10.22");
    expect(issues).toEqual([
      expect.objectContaining({ code: "GRX280", path: "app/mail/mail1", field: "size" }),
      expect.objectContaining({ code: "GRX280", path: "app/mail/mail2", field: "platform.sizes.mailbox" }),
    ]);
    expect(issues[0]!.message).toContain('"4 cpus"');
    const zero = bare();
    machine(zero.deployment, zero.cluster, "mail1", "10.10.10.21", "0cpu-8gb");
    expect(codes(zero.issues)).toEqual(["GRX280"]);
  });

  test("GRX281: IDE on q35 or with UEFI", () => {
    expect(bare({ machineType: "q35", cloudInitBus: "ide" }).issues).toEqual([
      expect.objectContaining({ code: "GRX281", field: "platform.cloudInitBus" }),
    ]);
    expect(codes(bare({ uefi: { firmware: "/usr/share/OVMF/OVMF_CODE_4M.fd" }, cloudInitBus: "ide" }).issues)).toEqual([
      "GRX281",
    ]);
    expect(codes(bare({ cloudInitBus: "virtio" as never }).issues)).toEqual(["GRX281"]);
    expect(bare({ machineType: "q35", cloudInitBus: "sata" }).issues).toEqual([]);
    expect(bare({ cloudInitBus: "scsi" }).issues).toEqual([]);
  });

  test("GRX282: an image source that is neither a URL nor an absolute path", () => {
    expect(bare({ image: { source: "debian-12.qcow2" } }).issues).toEqual([
      expect.objectContaining({ code: "GRX282", field: "platform.image.source" }),
    ]);
    expect(codes(bare({ image: { source: "" } }).issues)).toEqual(["GRX282"]);
    expect(bare({ image: { source: "/srv/images/debian-12.qcow2", format: "qcow2" } }).issues).toEqual([]);
  });

  test("GRX283: data volume with iops/throughput or a format libvirt does not take", () => {
    const { deployment, issues, cluster } = bare();
    const m = machine(deployment, cluster, "mail1", "10.10.10.21");
    const base = { purpose: "mailbox-data" as const, sizeGb: 10, label: "x", mountPoint: "/x" };
    deployment.addVolume(new Construct(cluster, "a"), m, { ...base, id: "a", iops: 3000 });
    deployment.addVolume(new Construct(cluster, "b"), m, { ...base, id: "b", type: "gp3" });
    const c = deployment.addVolume(new Construct(cluster, "c"), m, { ...base, id: "c", type: "raw" });
    expect(issues).toEqual([
      expect.objectContaining({ code: "GRX283", path: "app/mail/mail1/a", field: "iops" }),
      expect.objectContaining({ code: "GRX283", path: "app/mail/mail1/b", field: "type" }),
    ]);
    // Disks in declaration order: vdb, vdc, vdd.
    expect(c.devicePath).toBe("/dev/vdd");
  });

  test("GRX284: a root disk size that is not a whole number of GiB", () => {
    expect(codes(bare({ rootDiskGb: 0 }).issues)).toEqual(["GRX284"]);
    expect(codes(bare({ rootDiskGb: 2.5 }).issues)).toEqual(["GRX284"]);
  });

  test("GRX285: resolvers that are not IPv4 addresses", () => {
    expect(bare({ network: { dnsServers: [] } }).issues).toEqual([
      expect.objectContaining({ code: "GRX285", field: "platform.network.dnsServers" }),
    ]);
    expect(codes(bare({ network: { dnsServers: ["dns.example.com"] } }).issues)).toEqual(["GRX285"]);
  });

  test("GRX286: a connection URI that is not one", () => {
    expect(bare({ uri: "localhost" }).issues).toEqual([
      expect.objectContaining({ code: "GRX286", field: "platform.uri" }),
    ]);
    expect(bare({ uri: "qemu+ssh://root@kvm1.example.com/system" }).issues).toEqual([]);
  });

  test("GRX287: network or pool names libvirt cannot take", () => {
    expect(bare({ network: { name: "my net" }, pool: "a/b" }).issues).toEqual([
      expect.objectContaining({ code: "GRX287", field: "platform.network.name" }),
      expect.objectContaining({ code: "GRX287", field: "platform.pool" }),
    ]);
  });

  test("GRX288: a network mode without the cluster's bridge and gateway", () => {
    expect(bare({ network: { mode: "bridge" as never } }).issues).toEqual([
      expect.objectContaining({ code: "GRX288", field: "platform.network.mode" }),
    ]);
  });

  test("GRX289: uri that the platform's provider would not use (addProvider false, or a provider of the stack's own)", () => {
    const remote = "qemu+ssh://root@kvm1.example.com/system";
    expect(bare({ uri: remote, addProvider: false }).issues).toEqual([
      expect.objectContaining({ code: "GRX289", field: "platform.uri" }),
    ]);
    const own = (uri: string) => (stack: TerraformStack) => new LibvirtProvider(stack, "own", { uri });
    expect(bare({ uri: remote }, own("qemu:///system")).issues).toEqual([
      expect.objectContaining({ code: "GRX289", message: expect.stringContaining("connects to qemu:///system") }),
    ]);
    // The same URI, no uri given, or addProvider false without uri: nothing is ignored.
    expect(bare({ uri: remote }, own(remote)).issues).toEqual([]);
    expect(bare({}, own(remote)).issues).toEqual([]);
    expect(bare({ addProvider: false }).issues).toEqual([]);
  });

  test("through the cluster: platform issues are thrown at synth with the others", () => {
    const stack = kvmExample(Testing.app(), { platform: { uri: "nope", sizes: { classic: "huge" } } });
    let error: unknown;
    try {
      Testing.synth(stack, true);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GrommunioValidationError);
    expect(codes((error as GrommunioValidationError).issues).sort()).toEqual(["GRX280", "GRX280", "GRX286"]);
  });
});
