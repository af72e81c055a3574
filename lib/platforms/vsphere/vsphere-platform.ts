/**
 * VMware vSphere (vmware/vsphere 2.15.0): data sources for the datacenter, datastore, compute
 * cluster (or resource pool), port group and template; per node (keyed by name, under the node's
 * construct) a `vsphere_virtual_machine` cloned from a cloud-init template, configured through
 * cloud-init's VMware datasource (`extra_config` guestinfo keys), with a static MAC address and a
 * static netplan configuration; data volumes are `vsphere_virtual_disk`s attached to the VM, so
 * they outlive a replaced VM.
 *
 * Facts (platforms.md §3–§7):
 * - cloud-init ≥ 21.3 reads `guestinfo.userdata` / `guestinfo.metadata` (each with an `.encoding`,
 *   here `gzip+base64`) through open-vm-tools; no IPAM without NSX, so the construct allocates
 *   addresses and the metadata's `network` (netplan v2) sets them;
 * - a guestinfo value is limited to about 64 KiB (open-vm-tools): each is kept ≤ 60 KiB after
 *   gzip+base64 (`capabilities.userData`);
 * - the provider never re-applies changed user-data: an `extra_config` change reboots the VM and
 *   cloud-init ignores it unless the `instance-id` changed. The policy is applied here: `replace`
 *   sets `replace_trigger` to a SHA-256 of user-data and metadata (a changed configuration is a
 *   new VM from the template; data disks are re-attached), `ignore` ignores the guestinfo keys;
 * - no firewall in the provider (NSX DFW is another provider): nftables in the guest from the
 *   firewall plan;
 * - data disks: `unit_number` 1, 2, … (7 is the SCSI controller's) on the first SCSI controller,
 *   `/dev/sdb`, `/dev/sdc`, … in the guest; `enable_disk_uuid` for stable by-id names.
 */
import { createHash } from "node:crypto";
import { Construct } from "constructs";
import { TerraformLocal, TerraformVariable } from "cdktf";
import { DataVsphereComputeCluster } from "@cdktf/provider-vsphere/lib/data-vsphere-compute-cluster";
import { DataVsphereDatacenter } from "@cdktf/provider-vsphere/lib/data-vsphere-datacenter";
import { DataVsphereDatastore } from "@cdktf/provider-vsphere/lib/data-vsphere-datastore";
import { DataVsphereNetwork } from "@cdktf/provider-vsphere/lib/data-vsphere-network";
import { DataVsphereResourcePool } from "@cdktf/provider-vsphere/lib/data-vsphere-resource-pool";
import { DataVsphereVirtualMachine } from "@cdktf/provider-vsphere/lib/data-vsphere-virtual-machine";
import { VsphereProvider } from "@cdktf/provider-vsphere/lib/provider";
import { VirtualDisk } from "@cdktf/provider-vsphere/lib/virtual-disk";
import { VirtualMachine, VirtualMachineDisk } from "@cdktf/provider-vsphere/lib/virtual-machine";
import { Fn, TerraformStack, Token } from "../../provision/cdktf";
import { gzipDeterministicBase64 } from "../../provision/tokens";
import { NodeRole, cidrContains, parseIpv4, parseIpv4Cidr } from "../../topology";
import {
  ConfigChangePolicy,
  MachineSpec,
  Platform,
  PlatformBindContext,
  PlatformCapabilities,
  PlatformDeployment,
  PlatformMachine,
  PlatformNetwork,
  PlatformVolume,
  UserData,
  VolumeSpec,
} from "../platform";
import {
  VM_DEFAULT_SIZES,
  VmSize,
  firstHost,
  instanceId,
  macFromIpv4,
  netplanConfig,
  parseVmSize,
  terraformText,
  toYaml,
} from "../vm/guest";

/** The largest guestinfo value kept (open-vm-tools transfers about 64 KiB per value). */
export const VSPHERE_GUESTINFO_LIMIT = 61_440;

/** What vSphere can do. */
export const VSPHERE_CAPABILITIES: PlatformCapabilities = {
  userData: {
    limitBytes: VSPHERE_GUESTINFO_LIMIT,
    // The guestinfo value is base64 text (of gzip).
    countedAs: "base64-bytes",
    binaryGzip: true,
    nativeChangeBehaviour: "never-applied",
  },
  configChangePolicies: ["replace", "ignore"],
  defaultConfigChangePolicy: "replace",
  firewall: { cloud: false, filtersPrivateNetwork: false },
  // Network address and gateway at the start (the gateway may sit elsewhere: `network.gateway`).
  subnet: { reservedLow: 2, reservedHigh: 1, minPrefix: 16, maxPrefix: 28 },
  sharedStorage: "nfs-node",
  managedDatabase: false,
  cloudLoadBalancer: { available: false, proxyProtocolV2: false },
  blockVolumes: true,
  // Whatever the template holds; it must match the cluster's `os`.
  operatingSystems: ["debian-12", "ubuntu-24.04"],
};

/** VMware's prefix for static MAC addresses (00:50:56:00:00:00–00:50:56:3F:FF:FF). */
export const VSPHERE_MAC_PREFIX = "00:50:56";

/** `vsphere_virtual_disk.type` values. */
export const VSPHERE_DISK_TYPES = ["thin", "lazy", "eagerZeroedThick"] as const;

/** The guestinfo keys cloud-init's VMware datasource reads. */
export const GUESTINFO = {
  userData: "guestinfo.userdata",
  userDataEncoding: "guestinfo.userdata.encoding",
  metadata: "guestinfo.metadata",
  metadataEncoding: "guestinfo.metadata.encoding",
} as const;

/** SCSI unit numbers of the data disks on the first controller (7 is the controller itself). */
export const VSPHERE_DATA_UNITS: readonly number[] = [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14];

export interface VsphereNetworkOptions {
  /** The port group (standard or distributed) the nodes' NIC joins. */
  readonly name: string;
  /** The default gateway on the port group. @default the first address of the cluster network */
  readonly gateway?: string;
  /** Resolvers for the nodes (a port group has none of its own). */
  readonly dnsServers: readonly string[];
  /** DNS search domains. @default none */
  readonly searchDomains?: readonly string[];
}

export interface VspherePlatformProps {
  readonly datacenter: string;
  /** Datastore of the VMs and their data disks (not a datastore cluster: attached disks need one datastore). */
  readonly datastore: string;
  /** Compute cluster whose root resource pool takes the VMs. Give this or `resourcePool`. */
  readonly computeCluster?: string;
  /** Resource pool (path or name) for the VMs. Give this or `computeCluster`. */
  readonly resourcePool?: string;
  readonly network: VsphereNetworkOptions;
  /**
   * The VM template to clone: one disk, open-vm-tools, cloud-init ≥ 21.3 with the VMware
   * datasource enabled (`datasource_list: [VMware, None]`), the cluster's OS, no leftover
   * instance state (`cloud-init clean --logs --machine-id` before converting to a template).
   */
  readonly template: string;
  /** VM folder. @default the datacenter's root VM folder */
  readonly folder?: string;
  /**
   * Machine sizes per role, as `<vcpus>cpu-<GiB>gb` (e.g. `4cpu-8gb`); a node's `size` wins.
   * @default VM_DEFAULT_SIZES (4cpu-8gb mailbox and database, 2cpu-4gb classic and nfs, 2cpu-2gb load balancer and admin)
   */
  readonly sizes?: Partial<Record<NodeRole, string>>;
  /** Root disk size in GiB (not smaller than the template's). @default the template's disk size */
  readonly rootDiskGb?: number;
  /** Datastore folder of the data disks. @default `grommunio-<cluster id>` */
  readonly diskFolder?: string;
  /**
   * `prevent_destroy` on the data disks (mailbox, database, NFS export). Turn off only for
   * throw-away clusters.
   * @default true
   */
  readonly protectData?: boolean;
  /**
   * Add `provider "vsphere"` unless the stack has one, configured from the Terraform variables
   * `vsphere_server`, `vsphere_user` and `vsphere_password` (sensitive; e.g. `TF_VAR_vsphere_password`),
   * so no credential is written into the synthesized JSON.
   * @default true
   */
  readonly addProvider?: boolean;
  /**
   * Accept vCenter's self-signed certificate (`allow_unverified_ssl` of the provider the platform
   * adds); not with `addProvider: false` or a vsphere provider of the stack's own that says
   * otherwise (GRX299).
   * @default false
   */
  readonly allowUnverifiedSsl?: boolean;
}

/** The vSphere platform. `Platform.vsphere(props)` is the same as `new VspherePlatform(props)`. */
export class VspherePlatform implements Platform<VsphereDeployment> {
  public readonly name = "vsphere";
  public readonly capabilities = VSPHERE_CAPABILITIES;

  constructor(public readonly props: VspherePlatformProps) {}

  public bind(scope: Construct, context: PlatformBindContext): VsphereDeployment {
    return new VsphereDeployment(scope, this.props, context);
  }
}

/**
 * A vSphere machine: the `vsphere_virtual_machine` is `vm` (and `resource`); `dataDisks` are the
 * attached `vsphere_virtual_disk`s in unit order.
 */
export class VsphereMachine implements PlatformMachine {
  public readonly dataDisks: VirtualDisk[] = [];
  /** The metadata text (instance-id, local-hostname, network), final once user-data is set. */
  public metadata: string;
  /** The user-data as a Terraform local (text user-data is gzipped by Terraform from it). */
  public userDataLocal?: TerraformLocal;
  private readonly diskBlocks: VirtualMachineDisk[];

  constructor(
    public readonly name: string,
    public readonly hostname: string,
    public readonly privateIpv4: string,
    public readonly vm: VirtualMachine,
    rootDisk: VirtualMachineDisk,
    /** The NIC's static MAC address (the network configuration matches it). */
    public readonly mac: string,
    /** The netplan v2 network configuration (as an object; it sits in the metadata). */
    public readonly network: Record<string, unknown>,
    private readonly datastoreId: string,
    /** What a configuration change does to the running VM. */
    public readonly policy: ConfigChangePolicy,
    public readonly path: string,
  ) {
    this.diskBlocks = [rootDisk];
    this.metadata = vmwareMetadata(name, network, []);
    vm.extraConfig = guestinfo(this.metadata);
    if (policy === "replace") vm.replaceTrigger = sha256Hex(this.metadata);
  }

  public get resource(): VirtualMachine {
    return this.vm;
  }

  /** Attaches a data disk at the next unit number; returns its guest device. */
  public attach(disk: VirtualDisk, label: string): { unit: number; device: string } | undefined {
    const unit = VSPHERE_DATA_UNITS[this.dataDisks.length];
    if (unit === undefined) return undefined;
    this.dataDisks.push(disk);
    this.diskBlocks.push({ label, attach: true, path: disk.vmdkPath, datastoreId: this.datastoreId, unitNumber: unit });
    this.vm.putDisk([...this.diskBlocks]);
    // The guest names SCSI disks in target order: root sda, then sdb, sdc, …
    return { unit, device: `/dev/sd${String.fromCharCode(97 + this.dataDisks.length)}` };
  }

  /**
   * Sets the guestinfo keys: user-data (gzip+base64; text user-data is gzipped by Terraform from a
   * local, since it may hold Terraform values), metadata with the content-derived `instance-id`,
   * and, with the `replace` policy, `replace_trigger` (SHA-256 of both).
   */
  public setUserData(userData: UserData): void {
    let encoded: string;
    let plain: string;
    if (userData.encoding === "text") {
      this.userDataLocal = new TerraformLocal(this.vm.node.scope!, "userdata", userData.value);
      plain = this.userDataLocal.asString;
      encoded = Fn.base64gzip(plain);
    } else {
      plain = userData.value;
      encoded = userData.value;
    }
    this.metadata = vmwareMetadata(this.name, this.network, [terraformText(this.vm, userData.value)]);
    const metadataHash = sha256Hex(this.metadata);
    this.vm.extraConfig = {
      ...guestinfo(this.metadata),
      [GUESTINFO.userData]: encoded,
      [GUESTINFO.userDataEncoding]: "gzip+base64",
    };
    if (this.policy === "replace") {
      // Over the uncompressed user-data: a Terraform upgrade that gzips differently replaces nothing.
      this.vm.replaceTrigger = Token.isUnresolved(plain)
        ? Fn.sha256(Fn.join("\n", [plain, metadataHash]))
        : sha256Hex(`${plain}\n${metadataHash}`);
    }
  }
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The VMware datasource's metadata: `instance-id` (content-derived), `local-hostname`, `network`. */
function vmwareMetadata(name: string, network: Record<string, unknown>, parts: readonly string[]): string {
  const net = toYaml(network);
  return toYaml({ "instance-id": instanceId(name, [...parts, net, name]), "local-hostname": name, network });
}

function guestinfo(metadata: string): Record<string, string> {
  return { [GUESTINFO.metadata]: gzipDeterministicBase64(metadata), [GUESTINFO.metadataEncoding]: "gzip+base64" };
}

/** The per-cluster vSphere deployment. Its data sources and resources are reachable as properties. */
export class VsphereDeployment implements PlatformDeployment {
  public readonly network: PlatformNetwork;
  public readonly datacenter: DataVsphereDatacenter;
  public readonly datastore: DataVsphereDatastore;
  /** The compute cluster (when `computeCluster` was given). */
  public readonly computeCluster?: DataVsphereComputeCluster;
  /** The resource pool (when `resourcePool` was given). */
  public readonly resourcePool?: DataVsphereResourcePool;
  public readonly portGroup: DataVsphereNetwork;
  public readonly template: DataVsphereVirtualMachine;
  public readonly machines = new Map<string, VsphereMachine>();
  public readonly gateway: string;
  private readonly resourcePoolId: string;

  constructor(
    scope: Construct,
    private readonly props: VspherePlatformProps,
    private readonly context: PlatformBindContext,
  ) {
    const at = context.clusterPath;
    const empty = (["datacenter", "datastore", "template"] as const)
      .filter((k) => !props[k]?.trim())
      .map((k) => `platform.${k}`);
    if (!props.network?.name?.trim()) empty.push("platform.network.name");
    if (empty.length > 0) {
      context.report({
        code: "GRX296",
        path: at,
        field: empty.join(", "),
        message: `${empty.join(", ")} must name existing vSphere objects.`,
        fix: "Give the names as vCenter shows them (the datacenter, datastore, port group and VM template).",
      });
    }
    if ((props.computeCluster === undefined) === (props.resourcePool === undefined)) {
      context.report({
        code: "GRX295",
        path: at,
        field: "platform.computeCluster, platform.resourcePool",
        message: "give exactly one of computeCluster and resourcePool.",
        fix: "Name the compute cluster (its root resource pool takes the VMs) or a resource pool.",
      });
    }
    const cidr = parseIpv4Cidr(context.network.cidr);
    this.gateway = props.network?.gateway ?? firstHost(context.network.cidr) ?? "0.0.0.0";
    const gw = parseIpv4(this.gateway);
    if (
      cidr &&
      (gw === undefined || !cidrContains(cidr, gw) || gw === cidr.network || gw === cidr.network + cidr.size - 1)
    ) {
      context.report({
        code: "GRX291",
        path: at,
        field: "platform.network.gateway",
        message: `the gateway ${this.gateway} is not a host address in the cluster network ${cidr.text}.`,
        fix: "Give the port group's router address inside the cluster network.",
      });
    }
    const dns = props.network?.dnsServers ?? [];
    if (dns.length === 0 || dns.some((d) => parseIpv4(d) === undefined)) {
      context.report({
        code: "GRX293",
        path: at,
        field: "platform.network.dnsServers",
        message: `dnsServers must list at least one IPv4 resolver (got ${JSON.stringify(dns)}).`,
        fix: 'List the resolvers the nodes can reach on the port group, e.g. ["10.10.10.1"].',
      });
    }
    const root = props.rootDiskGb;
    if (root !== undefined && (!Number.isInteger(root) || root < 1 || root > 65_536)) {
      context.report({
        code: "GRX297",
        path: at,
        field: "platform.rootDiskGb",
        message: `the root disk size ${root} is not a whole number of GiB from 1 to 65536.`,
        fix: "Omit rootDiskGb (the template's size) or give a size not smaller than the template's disk.",
      });
    }
    let unusedSsl: string | undefined;
    if (props.addProvider ?? true) unusedSsl = ensureProvider(scope, props.allowUnverifiedSsl);
    else if (props.allowUnverifiedSsl !== undefined) unusedSsl = "addProvider is false";
    if (unusedSsl !== undefined) {
      context.report({
        code: "GRX299",
        path: at,
        field: "platform.allowUnverifiedSsl",
        message: `allowUnverifiedSsl ${String(props.allowUnverifiedSsl)} configures the provider the platform adds, but ${unusedSsl}: vCenter's certificate would be checked as that provider says.`,
        fix: "Set allow_unverified_ssl on the stack's own vsphere provider and drop it here, or let the platform add the provider (addProvider: true, no provider of your own).",
      });
    }

    const ds = new Construct(scope, "vsphere");
    this.datacenter = new DataVsphereDatacenter(ds, "datacenter", { name: props.datacenter });
    const datacenterId = this.datacenter.id;
    this.datastore = new DataVsphereDatastore(ds, "datastore", { name: props.datastore, datacenterId });
    if (props.resourcePool !== undefined) {
      this.resourcePool = new DataVsphereResourcePool(ds, "resource-pool", { name: props.resourcePool, datacenterId });
      this.resourcePoolId = this.resourcePool.id;
    } else {
      this.computeCluster = new DataVsphereComputeCluster(ds, "compute-cluster", {
        name: props.computeCluster ?? "",
        datacenterId,
      });
      this.resourcePoolId = this.computeCluster.resourcePoolId;
    }
    this.portGroup = new DataVsphereNetwork(ds, "network", { name: props.network?.name ?? "", datacenterId });
    this.template = new DataVsphereVirtualMachine(ds, "template", { name: props.template, datacenterId });
    this.network = { cidr: context.network.cidr };
  }

  private size(spec: MachineSpec): VmSize {
    const text = spec.size ?? this.props.sizes?.[spec.primaryRole] ?? VM_DEFAULT_SIZES[spec.primaryRole];
    const size = parseVmSize(text);
    if (!size) {
      this.context.report({
        code: "GRX290",
        path: spec.path,
        field: spec.size !== undefined ? "size" : `platform.sizes.${spec.primaryRole}`,
        message: `"${text}" is not a vSphere machine size.`,
        fix: 'Write sizes as "<vcpus>cpu-<GiB>gb", e.g. "4cpu-8gb".',
      });
      return parseVmSize(VM_DEFAULT_SIZES[spec.primaryRole])!;
    }
    return size;
  }

  public addMachine(scope: Construct, spec: MachineSpec): VsphereMachine {
    const size = this.size(spec);
    if (spec.privateIpv4 === this.gateway) {
      this.context.report({
        code: "GRX292",
        path: spec.path,
        field: "privateIp",
        message: `${spec.name} would take the gateway's address ${this.gateway}.`,
        fix: "Give the node another privateIp, or set platform.network.gateway to the real router address.",
      });
    }
    const mac = macFromIpv4(VSPHERE_MAC_PREFIX, spec.privateIpv4, 0x3f);
    const network = netplanConfig({
      ipv4: spec.privateIpv4,
      cidr: this.context.network.cidr,
      gateway: this.gateway,
      dnsServers: this.props.network?.dnsServers ?? [],
      ...(this.props.network?.searchDomains ? { searchDomains: this.props.network.searchDomains } : {}),
      mac,
    });
    const templateDisk = this.template.disks.get(0);
    const rootDisk: VirtualMachineDisk = {
      label: "disk0",
      unitNumber: 0,
      size: this.props.rootDiskGb ?? templateDisk.size,
      thinProvisioned: templateDisk.thinProvisioned,
      eagerlyScrub: templateDisk.eagerlyScrub,
    };
    const ignore = spec.configChangePolicy === "ignore";
    const vm = new VirtualMachine(scope, "vm", {
      name: spec.hostname,
      resourcePoolId: this.resourcePoolId,
      datastoreId: this.datastore.id,
      ...(this.props.folder !== undefined ? { folder: this.props.folder } : {}),
      numCpus: size.vcpus,
      memory: size.memoryMiB,
      guestId: this.template.guestId,
      firmware: this.template.firmware,
      scsiType: this.template.scsiType,
      enableDiskUuid: true,
      networkInterface: [
        {
          networkId: this.portGroup.id,
          adapterType: Token.asString(Fn.element(this.template.networkInterfaceTypes, 0)),
          useStaticMac: true,
          macAddress: mac,
        },
      ],
      disk: [rootDisk],
      clone: { templateUuid: this.template.id },
      // `ignore`: running VMs keep the configuration they booted with (no reboot either).
      ...(ignore
        ? {
            lifecycle: {
              ignoreChanges: Object.values(GUESTINFO).map((k) => `extra_config["${k}"]`),
            },
          }
        : {}),
    });
    const machine = new VsphereMachine(
      spec.name,
      spec.hostname,
      spec.privateIpv4,
      vm,
      rootDisk,
      mac,
      network,
      this.datastore.id,
      spec.configChangePolicy,
      spec.path,
    );
    this.machines.set(spec.name, machine);
    return machine;
  }

  /**
   * A thin `vsphere_virtual_disk` in the datastore's `diskFolder`, attached to the VM at the next
   * unit number (`/dev/sdb` for the first). It is not part of the VM: replacing the VM detaches
   * and re-attaches it. The guest formats it once when blank and mounts it by label.
   */
  public addVolume(scope: Construct, machine: PlatformMachine, spec: VolumeSpec): PlatformVolume {
    const m = this.machines.get(machine.name);
    const where = `${m?.path ?? scope.node.path}/${spec.id}`;
    const type = spec.type ?? "thin";
    const unsupported = (["iops", "throughputMiBps"] as const).filter((k) => spec[k] !== undefined);
    if (!(VSPHERE_DISK_TYPES as readonly string[]).includes(type) || unsupported.length > 0) {
      this.context.report({
        code: "GRX294",
        path: where,
        field: unsupported.length > 0 ? unsupported.join(", ") : "type",
        message:
          unsupported.length > 0
            ? `vSphere virtual disks have no ${unsupported.join(" or ")} setting (use storage policies).`
            : `"${type}" is not a vSphere disk type.`,
        fix: `Remove ${unsupported.length > 0 ? unsupported.join(", ") : "type"} or use type ${VSPHERE_DISK_TYPES.map((t) => `"${t}"`).join(", ")}.`,
      });
    }
    const folder = this.props.diskFolder ?? `grommunio-${this.context.clusterName}`;
    const disk = new VirtualDisk(scope, `${spec.id}-disk`, {
      vmdkPath: `${folder}/${m?.hostname ?? machine.name}-${spec.id}.vmdk`,
      datacenter: this.props.datacenter,
      datastore: this.props.datastore,
      size: spec.sizeGb,
      type,
      createDirectories: true,
      ...((this.props.protectData ?? true) ? { lifecycle: { preventDestroy: true } } : {}),
    });
    const attached = m?.attach(disk, spec.id);
    if (!attached) {
      this.context.report({
        code: "GRX298",
        path: where,
        field: "volumes",
        message: `${machine.name} would get more than ${VSPHERE_DATA_UNITS.length} data disks on its SCSI controller.`,
        fix: "Give the node fewer data volumes.",
      });
      return { resource: disk, devicePath: "/dev/sdb" };
    }
    return { resource: disk, devicePath: attached.device };
  }

  /**
   * vSphere has no firewall in this provider: the cluster puts the plan's rules into every guest as
   * nftables (`capabilities.firewall.filtersPrivateNetwork` is false).
   */
  public applyFirewall(): void {}
}

/** Adds `provider "vsphere"` from the variables vsphere_server/_user/_password unless the stack has one. */
function ensureProvider(scope: Construct, allowUnverifiedSsl: boolean | undefined): string | undefined {
  const stack = TerraformStack.of(scope);
  const own = stack.node.findAll().filter((c): c is VsphereProvider => c instanceof VsphereProvider);
  if (own.length > 0) {
    // A setting given beside the stack's own unaliased provider that says otherwise is not used.
    const used = own.find((p) => p.alias === undefined);
    const theirs = used?.allowUnverifiedSsl;
    if (allowUnverifiedSsl === undefined || used === undefined || typeof (theirs ?? false) !== "boolean")
      return undefined;
    if ((theirs ?? false) === allowUnverifiedSsl) return undefined;
    return `the stack's own provider ${used.node.path} has allow_unverified_ssl ${String(theirs ?? "unset (VSPHERE_ALLOW_UNVERIFIED_SSL)")}`;
  }
  const variable = (id: string, description: string, sensitive = false) =>
    new TerraformVariable(stack, id, { type: "string", description, sensitive }).stringValue;
  new VsphereProvider(stack, "vsphere", {
    vsphereServer: variable("vsphere_server", "vCenter server name or address"),
    user: variable("vsphere_user", "vCenter user"),
    password: variable("vsphere_password", "vCenter password", true),
    ...(allowUnverifiedSsl ? { allowUnverifiedSsl: true } : {}),
  });
  return undefined;
}
