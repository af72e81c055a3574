import { VsphereProvider } from "@cdktf/provider-vsphere/lib/provider";
import "cdktf/lib/testing/adapters/jest";
import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { Construct } from "constructs";
import { TerraformStack, Testing } from "cdktf";
import { Password } from "@cdktf/provider-random/lib/password";
import { VirtualMachineDisk } from "@cdktf/provider-vsphere/lib/virtual-machine";
import { vmwareExample } from "../../examples/vmware/main";
import "../../lib/platforms/vsphere";
import { GUESTINFO, VsphereDeployment, VspherePlatformProps } from "../../lib/platforms/vsphere";
import { Platform } from "../../lib/platforms/platform";
import { Fn } from "../../lib/provision/cdktf";
import { GrommunioValidationError, ValidationIssue } from "../../lib/topology";

const PROPS: VspherePlatformProps = {
  datacenter: "dc1",
  datastore: "datastore1",
  computeCluster: "cluster1",
  network: { name: "grommunio", dnsServers: ["10.10.10.1"] },
  template: "debian-12-cloudinit",
};

function bare(props: Partial<VspherePlatformProps> = {}, before?: (stack: TerraformStack) => void) {
  const stack = new TerraformStack(Testing.app(), "test");
  before?.(stack);
  const cluster = new Construct(stack, "c");
  const issues: ValidationIssue[] = [];
  const deployment: VsphereDeployment = Platform.vsphere({ ...PROPS, ...props }).bind(cluster, {
    clusterName: "mail",
    clusterPath: "app/mail",
    domain: "example.com",
    network: { cidr: "10.10.10.0/24" },
    os: "debian-12",
    report: (i) => issues.push(i),
    tokens: { declareToken: () => undefined },
  });
  return { stack, deployment, issues, cluster };
}

function machine(
  d: VsphereDeployment,
  scope: Construct,
  name: string,
  ip: string,
  extra: { size?: string; policy?: "replace" | "ignore" } = {},
) {
  const s = new Construct(scope, name);
  return d.addMachine(s, {
    name,
    hostname: `${name}.example.com`,
    roles: ["mailbox"],
    primaryRole: "mailbox",
    privateIpv4: ip,
    ...(extra.size !== undefined ? { size: extra.size } : {}),
    configChangePolicy: extra.policy ?? "replace",
    path: `app/mail/${name}`,
  });
}

const codes = (issues: readonly ValidationIssue[]) => issues.map((i) => i.code);
const volume = { purpose: "mailbox-data" as const, sizeGb: 10, label: "gromox-data", mountPoint: "/var/lib/gromox" };

describe("vSphere platform coded errors (GRX290–GRX299)", () => {
  test("a correct platform reports nothing", () => {
    const { deployment, issues, cluster } = bare();
    const m = machine(deployment, cluster, "mail1", "10.10.10.21");
    const v = deployment.addVolume(new Construct(cluster, "v"), m, { ...volume, id: "data" });
    expect(v.devicePath).toBe("/dev/sdb");
    expect(issues).toEqual([]);
  });

  test("GRX290: a size that is not <vcpus>cpu-<GiB>gb", () => {
    const { deployment, issues, cluster } = bare({ sizes: { mailbox: "m5.large" } });
    machine(deployment, cluster, "mail1", "10.10.10.21", { size: "8cpu-" });
    machine(deployment, cluster, "mail2", "10.10.10.22");
    expect(issues).toEqual([
      expect.objectContaining({ code: "GRX290", path: "app/mail/mail1", field: "size" }),
      expect.objectContaining({ code: "GRX290", path: "app/mail/mail2", field: "platform.sizes.mailbox" }),
    ]);
  });

  test("GRX291: a gateway outside the cluster network or not a host address", () => {
    for (const gateway of ["10.10.11.1", "10.10.10.0", "10.10.10.255", "gw"]) {
      expect(bare({ network: { ...PROPS.network, gateway } }).issues).toEqual([
        expect.objectContaining({ code: "GRX291", field: "platform.network.gateway" }),
      ]);
    }
    expect(bare({ network: { ...PROPS.network, gateway: "10.10.10.254" } }).issues).toEqual([]);
  });

  test("GRX292: a node on the gateway's address", () => {
    const { deployment, issues, cluster } = bare({ network: { ...PROPS.network, gateway: "10.10.10.21" } });
    machine(deployment, cluster, "mail1", "10.10.10.21");
    expect(issues).toEqual([expect.objectContaining({ code: "GRX292", path: "app/mail/mail1", field: "privateIp" })]);
  });

  test("GRX293: no resolvers, or resolvers that are not IPv4 addresses", () => {
    expect(bare({ network: { name: "grommunio", dnsServers: [] } }).issues).toEqual([
      expect.objectContaining({ code: "GRX293", field: "platform.network.dnsServers" }),
    ]);
    expect(codes(bare({ network: { name: "grommunio", dnsServers: ["ns1"] } }).issues)).toEqual(["GRX293"]);
  });

  test("GRX294: a disk type vSphere does not have, or iops/throughput", () => {
    const { deployment, issues, cluster } = bare();
    const m = machine(deployment, cluster, "mail1", "10.10.10.21");
    deployment.addVolume(new Construct(cluster, "a"), m, { ...volume, id: "a", type: "gp3" });
    deployment.addVolume(new Construct(cluster, "b"), m, { ...volume, id: "b", throughputMiBps: 200 });
    const c = deployment.addVolume(new Construct(cluster, "c"), m, { ...volume, id: "c", type: "eagerZeroedThick" });
    expect(issues).toEqual([
      expect.objectContaining({ code: "GRX294", path: "app/mail/mail1/a", field: "type" }),
      expect.objectContaining({ code: "GRX294", path: "app/mail/mail1/b", field: "throughputMiBps" }),
    ]);
    expect(c.devicePath).toBe("/dev/sdd");
  });

  test("GRX295: neither or both of computeCluster and resourcePool", () => {
    expect(codes(bare({ computeCluster: undefined }).issues)).toEqual(["GRX295"]);
    expect(codes(bare({ resourcePool: "pool" }).issues)).toEqual(["GRX295"]);
    expect(bare({ computeCluster: undefined, resourcePool: "pool" }).issues).toEqual([]);
  });

  test("GRX296: empty object names", () => {
    expect(bare({ datacenter: "", template: " ", network: { name: "", dnsServers: ["10.10.10.1"] } }).issues).toEqual([
      expect.objectContaining({
        code: "GRX296",
        field: "platform.datacenter, platform.template, platform.network.name",
      }),
    ]);
  });

  test("GRX297: a root disk size that is not a whole number of GiB", () => {
    expect(codes(bare({ rootDiskGb: -1 }).issues)).toEqual(["GRX297"]);
  });

  test("GRX298: more data disks than unit numbers on the first SCSI controller", () => {
    const { deployment, issues, cluster } = bare();
    const m = machine(deployment, cluster, "mail1", "10.10.10.21");
    const paths: string[] = [];
    for (let i = 0; i < 14; i++) {
      paths.push(deployment.addVolume(new Construct(cluster, `v${i}`), m, { ...volume, id: `v${i}` }).devicePath);
    }
    expect(codes(issues)).toEqual(["GRX298"]);
    expect(paths.slice(0, 3)).toEqual(["/dev/sdb", "/dev/sdc", "/dev/sdd"]);
    // Unit 7 belongs to the controller: the seventh data disk is unit 8.
    const disks = m.vm.diskInput as VirtualMachineDisk[];
    expect(disks.map((d) => d.unitNumber)).toEqual([0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14]);
  });

  test("GRX299: allowUnverifiedSsl that the platform's provider would not use", () => {
    expect(bare({ allowUnverifiedSsl: true, addProvider: false }).issues).toEqual([
      expect.objectContaining({ code: "GRX299", field: "platform.allowUnverifiedSsl" }),
    ]);
    // false asks for verification: a provider of your own that skips it is not what was asked.
    const own = (allowUnverifiedSsl?: boolean) => (stack: TerraformStack) =>
      new VsphereProvider(stack, "own", {
        user: "u",
        password: "p",
        ...(allowUnverifiedSsl !== undefined ? { allowUnverifiedSsl } : {}),
      });
    expect(bare({ allowUnverifiedSsl: false }, own(true)).issues).toEqual([
      expect.objectContaining({ code: "GRX299" }),
    ]);
    expect(bare({ allowUnverifiedSsl: true }, own()).issues).toEqual([expect.objectContaining({ code: "GRX299" })]);
    expect(bare({ allowUnverifiedSsl: true }, own(true)).issues).toEqual([]);
    expect(bare({ allowUnverifiedSsl: false }, own()).issues).toEqual([]);
    expect(bare({}, own(true)).issues).toEqual([]);
  });

  test("through the cluster: platform issues are thrown at synth with the others", () => {
    const stack = vmwareExample(Testing.app(), { platform: { network: { name: "grommunio", dnsServers: [] } } });
    let error: unknown;
    try {
      Testing.synth(stack, true);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GrommunioValidationError);
    expect(codes((error as GrommunioValidationError).issues)).toEqual(["GRX293"]);
  });
});

describe("vSphere user-data delivery", () => {
  test("gzip-base64 user-data (large documents) is passed through; replace_trigger over it and the metadata", () => {
    const { stack, deployment, cluster } = bare();
    const m = machine(deployment, cluster, "mail1", "10.10.10.21");
    const text = "#cloud-config\nhostname: mail1\n";
    const value = gzipSync(text).toString("base64");
    m.setUserData({ encoding: "gzip-base64", value, maxBytes: value.length });
    const vm = Object.values<any>(JSON.parse(Testing.synth(stack)).resource.vsphere_virtual_machine)[0];
    expect(vm.extra_config[GUESTINFO.userData]).toBe(value);
    expect(vm.extra_config[GUESTINFO.userDataEncoding]).toBe("gzip+base64");
    const metadata = gunzipSync(Buffer.from(vm.extra_config[GUESTINFO.metadata], "base64")).toString();
    expect(metadata).toBe(m.metadata);
    const metaHash = createHash("sha256").update(metadata).digest("hex");
    expect(vm.replace_trigger).toBe(createHash("sha256").update(`${value}\n${metaHash}`).digest("hex"));
  });

  test("gzip computed by Terraform (tokens): the trigger is computed by Terraform too", () => {
    const { stack, deployment, cluster } = bare();
    const m = machine(deployment, cluster, "mail1", "10.10.10.21");
    const pw = new Password(cluster, "pw", { length: 16 });
    const value = Fn.base64gzip(Fn.join("", ["#cloud-config\npassword: ", pw.result]));
    m.setUserData({ encoding: "gzip-base64", value, maxBytes: 100 });
    const vm = Object.values<any>(JSON.parse(Testing.synth(stack)).resource.vsphere_virtual_machine)[0];
    expect(vm.extra_config[GUESTINFO.userData]).toMatch(/^\$\{base64gzip\(join\(/);
    expect(vm.replace_trigger).toMatch(/^\$\{sha256\(join\("\\n", \[base64gzip\(join\(.*random_password\..*\]\)\)\}$/);
  });

  test("ignore: no trigger at all; the metadata still follows the user-data", () => {
    const { stack, deployment, cluster } = bare();
    const m = machine(deployment, cluster, "mail1", "10.10.10.21", { policy: "ignore" });
    const before = m.metadata;
    m.setUserData({ encoding: "text", value: "#cloud-config\nhostname: mail1\n", maxBytes: 40 });
    expect(m.metadata).not.toBe(before);
    const json = JSON.parse(Testing.synth(stack));
    const vm = Object.values<any>(json.resource.vsphere_virtual_machine)[0];
    expect(vm.replace_trigger).toBeUndefined();
    expect(Object.values(json.locals)).toEqual(["#cloud-config\nhostname: mail1\n"]);
  });
});
