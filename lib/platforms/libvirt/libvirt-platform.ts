/**
 * KVM/libvirt (terraform-provider-libvirt 0.8.3): one `libvirt_network` (nat or route) for the
 * cluster network with DHCP off, one base image `libvirt_volume`, and per node (keyed by name,
 * under the node's construct): a copy-on-write root volume on the base image, a
 * `libvirt_cloudinit_disk` (NoCloud seed: user-data, meta-data with a content-derived
 * `instance-id`, network-config with the node's static address), a `libvirt_domain`, and one
 * `libvirt_volume` per data volume attached as an extra virtio disk.
 *
 * Facts (platforms.md §1–§7):
 * - the provider builds the seed ISO with `mkisofs` (genisoimage) on the machine running
 *   Terraform and attaches it as an IDE CD-ROM: fine on the default i440FX machine, unusable on
 *   q35 (no IDE): there an `xml { xslt }` moves it to virtio-scsi or SATA (./xslt.ts);
 * - every `libvirt_cloudinit_disk` field is ForceNew, the domain's `cloudinit` is not: a user-data
 *   change swaps the seed into the running domain and cloud-init acts on it only at the next boot
 *   and only if the `instance-id` changed. So the policy is applied here: `replace` re-creates the
 *   root volume and the domain from the base image (`replace_triggered_by` the seed), `ignore`
 *   ignores seed changes (running nodes keep their seed; new nodes get the new one);
 * - no firewall in the provider (nwfilter is not exposed): the cluster ships nftables into every
 *   guest from the firewall plan (`capabilities.firewall.filtersPrivateNetwork = false`);
 * - extra disks are virtio `/dev/vdb`, `/dev/vdc`, … in declaration order (no serial): the guest
 *   formats a blank one once and mounts it by label;
 * - defaults the provider applies: 1 vCPU, 512 MiB, spice graphics (absent on some hosts): all set
 *   explicitly here.
 */
import { Construct } from "constructs";
import { CloudinitDisk } from "../../gen/providers/libvirt/cloudinit-disk";
import { Domain, DomainDisk } from "../../gen/providers/libvirt/domain";
import { Network } from "../../gen/providers/libvirt/network";
import { LibvirtProvider } from "../../gen/providers/libvirt/provider";
import { Volume } from "../../gen/providers/libvirt/volume";
import { TerraformStack, Token } from "../../provision/cdktf";
import { NodeRole, parseIpv4, parseIpv4Cidr } from "../../topology";
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
import { CLOUD_INIT_BUSES, CloudInitBus, cloudInitBusXslt } from "./xslt";

/** What libvirt can do. */
export const LIBVIRT_CAPABILITIES: PlatformCapabilities = {
  userData: {
    // The seed is an ISO in a storage pool: no practical limit. This ceiling keeps Terraform
    // state and plans readable; a cluster node's document is a few tens of KiB.
    limitBytes: 1_048_576,
    countedAs: "raw-bytes",
    // user_data is a Terraform string written into the ISO: no binary gzip (cloud-init would
    // read gzip, but Terraform strings are UTF-8 text).
    binaryGzip: false,
    // The seed is swapped into the running domain; cloud-init acts on it at the next boot only
    // when the instance-id changed.
    nativeChangeBehaviour: "update-in-place",
  },
  configChangePolicies: ["replace", "ignore"],
  defaultConfigChangePolicy: "replace",
  firewall: { cloud: false, filtersPrivateNetwork: false },
  // Network address and the host bridge (the gateway, first host) at the start, broadcast at the end.
  subnet: { reservedLow: 2, reservedHigh: 1, minPrefix: 16, maxPrefix: 28 },
  sharedStorage: "nfs-node",
  managedDatabase: false,
  cloudLoadBalancer: { available: false, proxyProtocolV2: false },
  blockVolumes: true,
  // Whatever the base image holds; it must match the cluster's `os`.
  operatingSystems: ["debian-12", "ubuntu-24.04"],
};

/** libvirt's locally administered MAC prefix (QEMU/KVM). */
export const LIBVIRT_MAC_PREFIX = "52:54:00";

/** Volume formats a data volume may use (`VolumeSpec.type`). */
export const LIBVIRT_VOLUME_FORMATS = ["qcow2", "raw"] as const;

const GIB = 1024 ** 3;

export interface LibvirtImage {
  /**
   * URL (`https://…`) or absolute path on the machine running Terraform of a cloud image with
   * cloud-init (NoCloud datasource). Pin it: a dated image file, never a "latest" link (a new image
   * behind the same name is not noticed; a changed `source` re-creates every node).
   * Debian: `https://cloud.debian.org/images/cloud/bookworm/<date>/debian-12-genericcloud-amd64-<date>.qcow2`
   * (genericcloud needs the default `cloudInitBus` on q35: its kernel has no AHCI).
   */
  readonly source: string;
  /** @default "qcow2" */
  readonly format?: "qcow2" | "raw";
}

export interface LibvirtNetworkOptions {
  /**
   * `nat`: the host masquerades the cluster network (outbound only; forward ports to the
   * load-balancer nodes yourself). `route`: routed without NAT (your router needs a route to the
   * cluster network via the host).
   * @default "nat"
   */
  readonly mode?: "nat" | "route";
  /** libvirt network name (unique on the host). @default the cluster id */
  readonly name?: string;
  /**
   * Resolvers the nodes use.
   * @default the host bridge (the network's first address), where libvirt's dnsmasq forwards to the host's resolvers
   */
  readonly dnsServers?: readonly string[];
  /** MTU of the bridge. @default libvirt's (1500) */
  readonly mtu?: number;
}

export interface LibvirtUefi {
  /** OVMF code file on the host, e.g. `/usr/share/OVMF/OVMF_CODE_4M.fd` (Debian package `ovmf`). */
  readonly firmware: string;
  /** NVRAM template. @default libvirt's for that firmware */
  readonly nvramTemplate?: string;
}

export interface LibvirtPlatformProps {
  /** The base image every node's root disk is a copy-on-write overlay of. */
  readonly image: LibvirtImage;
  /**
   * libvirt connection URI of the provider the platform adds; not with `addProvider: false` or a
   * libvirt provider of the stack's own that connects elsewhere (GRX289).
   * @default "qemu:///system"
   */
  readonly uri?: string;
  /** Storage pool for the image, the root, data and seed volumes. @default "default" */
  readonly pool?: string;
  readonly network?: LibvirtNetworkOptions;
  /**
   * Machine sizes per role, as `<vcpus>cpu-<GiB>gb` (e.g. `4cpu-8gb`); a node's `size` wins.
   * @default VM_DEFAULT_SIZES (4cpu-8gb mailbox and database, 2cpu-4gb classic and nfs, 2cpu-2gb load balancer and admin)
   */
  readonly sizes?: Partial<Record<NodeRole, string>>;
  /** Root disk size in GiB (the guest grows its root partition to it). @default 20 */
  readonly rootDiskGb?: number;
  /**
   * Machine type. `pc` (i440FX) takes the provider's IDE cloud-init CD-ROM as it is; `q35` has
   * no IDE, so the CD-ROM is moved to `cloudInitBus`.
   * @default "pc"
   */
  readonly machineType?: "pc" | "q35";
  /** Boot with UEFI firmware (then the CD-ROM moves to `cloudInitBus` too). @default BIOS */
  readonly uefi?: LibvirtUefi;
  /**
   * Bus of the cloud-init CD-ROM. `ide` works only on `pc` without UEFI; `scsi` (virtio-scsi)
   * works with every Debian/Ubuntu kernel; `sata` (AHCI) not with Debian's `cloud` kernel.
   * @default "ide" on `pc` without UEFI, else "scsi"
   */
  readonly cloudInitBus?: CloudInitBus;
  /** libvirt CPU mode. @default "host-model" (AES-NI and friends for TLS, unlike the provider's qemu64 default) */
  readonly cpuMode?: "host-model" | "host-passthrough";
  /**
   * `prevent_destroy` on the data volumes (mailbox, database, NFS export). libvirt volumes cannot
   * grow through the provider (`size` is ForceNew): with protection a size change fails at plan
   * instead of replacing the disk. Turn off only for throw-away clusters.
   * @default true
   */
  readonly protectData?: boolean;
  /** Add `provider "libvirt"` with `uri` unless the stack already has one. @default true */
  readonly addProvider?: boolean;
}

/** The KVM/libvirt platform. `Platform.libvirt(props)` is the same as `new LibvirtPlatform(props)`. */
export class LibvirtPlatform implements Platform<LibvirtDeployment> {
  public readonly name = "libvirt";
  public readonly capabilities = LIBVIRT_CAPABILITIES;

  constructor(public readonly props: LibvirtPlatformProps) {}

  public bind(scope: Construct, context: PlatformBindContext): LibvirtDeployment {
    return new LibvirtDeployment(scope, this.props, context);
  }
}

/**
 * A libvirt machine: `domain` (also `resource`), its copy-on-write `rootVolume`, its NoCloud seed
 * `cloudInit` and the data volumes in attachment order.
 */
export class LibvirtMachine implements PlatformMachine {
  public readonly dataVolumes: Volume[] = [];
  /** The meta-data text (instance-id, local-hostname), final once user-data is set. */
  public metaData: string;

  constructor(
    public readonly name: string,
    /** The node's FQDN: the domain's name and the stem of its volume names. */
    public readonly hostname: string,
    public readonly privateIpv4: string,
    public readonly domain: Domain,
    public readonly rootVolume: Volume,
    public readonly cloudInit: CloudinitDisk,
    /** The NIC's MAC address (the network configuration matches it). */
    public readonly mac: string,
    /** The network-config text (netplan v2). */
    public readonly networkConfig: string,
    /** Construct path of the node, for error messages. */
    public readonly path: string,
  ) {
    this.metaData = nocloudMetaData(name, [networkConfig]);
    cloudInit.metaData = this.metaData;
  }

  public get resource(): Domain {
    return this.domain;
  }

  /** The block devices of the domain: root volume first, then the data volumes. */
  public disks(): DomainDisk[] {
    return [this.rootVolume, ...this.dataVolumes].map((v) => ({ volumeId: v.id }));
  }

  /**
   * Puts the user-data into the seed and derives the `instance-id` from it (and the network
   * configuration), so a changed configuration is a new instance to cloud-init. Whether a running
   * node gets it is the policy's business (see `LibvirtDeployment.addMachine`).
   */
  public setUserData(userData: UserData): void {
    if (userData.encoding !== "text") {
      // The capabilities say binaryGzip: false, so the cluster never sends anything else.
      throw new Error(`libvirt takes text user-data, not ${userData.encoding} (${this.path}).`);
    }
    this.cloudInit.userData = userData.value;
    this.metaData = nocloudMetaData(this.name, [terraformText(this.cloudInit, userData.value), this.networkConfig]);
    this.cloudInit.metaData = this.metaData;
  }
}

/** NoCloud meta-data: `instance-id` (content-derived) and `local-hostname`. */
function nocloudMetaData(name: string, parts: readonly string[]): string {
  return toYaml({ "instance-id": instanceId(name, [...parts, name]), "local-hostname": name });
}

const URI = /^[a-z][a-z0-9+.-]*:\/\/\S*$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** The per-cluster libvirt deployment. Its resources are reachable as properties. */
export class LibvirtDeployment implements PlatformDeployment {
  public readonly network: PlatformNetwork;
  public readonly libvirtNetwork: Network;
  /** The base image volume every root volume is an overlay of. */
  public readonly baseImage: Volume;
  public readonly machines = new Map<string, LibvirtMachine>();
  /** The host bridge's address: the nodes' gateway (and resolver by default). */
  public readonly gateway: string;
  public readonly dnsServers: readonly string[];
  public readonly cloudInitBus: CloudInitBus;
  private readonly pool: string;

  constructor(
    scope: Construct,
    private readonly props: LibvirtPlatformProps,
    private readonly context: PlatformBindContext,
  ) {
    const at = context.clusterPath;
    this.pool = props.pool ?? "default";
    const uri = props.uri ?? "qemu:///system";
    if (!URI.test(uri)) {
      context.report({
        code: "GRX286",
        path: at,
        field: "platform.uri",
        message: `"${uri}" is not a libvirt connection URI.`,
        fix: 'Use e.g. "qemu:///system" or "qemu+ssh://root@kvm1.example.com/system".',
      });
    }
    const netName = props.network?.name ?? context.clusterName;
    for (const [field, value] of [
      ["platform.network.name", netName],
      ["platform.pool", this.pool],
    ] as const) {
      if (!NAME.test(value)) {
        context.report({
          code: "GRX287",
          path: at,
          field,
          message: `"${value}" is not a usable libvirt name (1–64 of letters, digits, "_", ".", "-"; letter or digit first).`,
          fix: "Give a plain name such as mail or default.",
        });
      }
    }
    const mode = props.network?.mode ?? "nat";
    if (mode !== "nat" && mode !== "route") {
      context.report({
        code: "GRX288",
        path: at,
        field: "platform.network.mode",
        message: `network mode "${String(mode)}" is not supported (the cluster network needs libvirt's bridge and gateway).`,
        fix: 'Use "nat" (outbound through the host) or "route" (routed, no NAT).',
      });
    }
    const source = props.image?.source ?? "";
    if (!/^(https?:\/\/\S+|\/\S+)$/.test(source)) {
      context.report({
        code: "GRX282",
        path: at,
        field: "platform.image.source",
        message: `the base image source "${source}" is neither an http(s) URL nor an absolute path.`,
        fix: "Give a dated cloud image, e.g. https://cloud.debian.org/images/cloud/bookworm/<date>/debian-12-genericcloud-amd64-<date>.qcow2.",
      });
    }
    const machineType = props.machineType ?? "pc";
    const noIde = machineType === "q35" || props.uefi !== undefined;
    this.cloudInitBus = props.cloudInitBus ?? (noIde ? "scsi" : "ide");
    if (!CLOUD_INIT_BUSES.includes(this.cloudInitBus) || (noIde && this.cloudInitBus === "ide")) {
      context.report({
        code: "GRX281",
        path: at,
        field: "platform.cloudInitBus",
        message: CLOUD_INIT_BUSES.includes(this.cloudInitBus)
          ? `the cloud-init CD-ROM cannot sit on IDE with machine ${machineType}${props.uefi ? " and UEFI" : ""} (no IDE controller).`
          : `"${String(this.cloudInitBus)}" is not a bus for the cloud-init CD-ROM.`,
        fix: 'Use "scsi" (virtio-scsi, every kernel) or "sata" (not with Debian\'s cloud kernel), or machineType "pc" without UEFI for "ide".',
      });
    }
    const root = props.rootDiskGb ?? 20;
    if (!Number.isInteger(root) || root < 1 || root > 65_536) {
      context.report({
        code: "GRX284",
        path: at,
        field: "platform.rootDiskGb",
        message: `the root disk size ${root} is not a whole number of GiB from 1 to 65536.`,
        fix: "Give e.g. 20 (it must not be smaller than the image's virtual size).",
      });
    }

    const cidr = parseIpv4Cidr(context.network.cidr);
    this.gateway = firstHost(context.network.cidr) ?? "0.0.0.0";
    this.dnsServers = props.network?.dnsServers ?? [this.gateway];
    if (this.dnsServers.length === 0 || this.dnsServers.some((d) => parseIpv4(d) === undefined)) {
      context.report({
        code: "GRX285",
        path: at,
        field: "platform.network.dnsServers",
        message: `dnsServers must be IPv4 addresses (got ${JSON.stringify(this.dnsServers)}).`,
        fix: `Omit dnsServers (the host bridge ${this.gateway} forwards to the host's resolvers) or list addresses.`,
      });
    }
    let unusedUri: string | undefined;
    if (props.addProvider ?? true) unusedUri = ensureProvider(scope, uri, props.uri !== undefined);
    else if (props.uri !== undefined) unusedUri = "addProvider is false";
    if (unusedUri !== undefined) {
      context.report({
        code: "GRX289",
        path: at,
        field: "platform.uri",
        message: `uri "${uri}" configures the provider the platform adds, but ${unusedUri}: the machines would be created on whatever host that provider connects to.`,
        fix: "Set uri on the stack's own libvirt provider and drop it here, or let the platform add the provider (addProvider: true, no provider of your own).",
      });
    }

    const networkScope = new Construct(scope, "network");
    this.libvirtNetwork = new Network(networkScope, "network", {
      name: netName,
      mode,
      // The host bridge takes the first address (the gateway); every node is configured statically.
      addresses: [cidr?.text ?? context.network.cidr],
      autostart: true,
      dhcp: { enabled: false },
      dns: { enabled: true },
      ...(props.network?.mtu !== undefined ? { mtu: props.network.mtu } : {}),
    });
    this.network = { cidr: context.network.cidr, resource: this.libvirtNetwork };

    const format = props.image?.format ?? "qcow2";
    this.baseImage = new Volume(new Construct(scope, "image"), "base", {
      name: `${context.clusterName}-base.${format}`,
      pool: this.pool,
      source,
      format,
    });
  }

  private size(spec: MachineSpec): VmSize {
    const text = spec.size ?? this.props.sizes?.[spec.primaryRole] ?? VM_DEFAULT_SIZES[spec.primaryRole];
    const size = parseVmSize(text);
    if (!size) {
      this.context.report({
        code: "GRX280",
        path: spec.path,
        field: spec.size !== undefined ? "size" : `platform.sizes.${spec.primaryRole}`,
        message: `"${text}" is not a libvirt machine size.`,
        fix: 'Write sizes as "<vcpus>cpu-<GiB>gb", e.g. "4cpu-8gb".',
      });
      return parseVmSize(VM_DEFAULT_SIZES[spec.primaryRole])!;
    }
    return size;
  }

  public addMachine(scope: Construct, spec: MachineSpec): LibvirtMachine {
    const size = this.size(spec);
    const policy: ConfigChangePolicy = spec.configChangePolicy;
    const mac = macFromIpv4(LIBVIRT_MAC_PREFIX, spec.privateIpv4);
    const networkConfig = toYaml(
      netplanConfig({
        ipv4: spec.privateIpv4,
        cidr: this.context.network.cidr,
        gateway: this.gateway,
        dnsServers: this.dnsServers,
        mac,
      }),
    );
    const cloudInit = new CloudinitDisk(scope, "cloudinit", {
      name: `${spec.hostname}-cloudinit.iso`,
      pool: this.pool,
      networkConfig,
      // `ignore`: the running node keeps the seed it booted from (new nodes get the new one).
      ...(policy === "ignore" ? { lifecycle: { ignoreChanges: ["user_data", "meta_data", "network_config"] } } : {}),
    });
    // `replace`: a new seed means a fresh root disk from the base image and a new domain.
    const replace = policy === "replace" ? { lifecycle: { replaceTriggeredBy: [cloudInit] } } : {};
    const rootVolume = new Volume(scope, "root", {
      name: `${spec.hostname}-root.qcow2`,
      pool: this.pool,
      baseVolumeId: this.baseImage.id,
      format: "qcow2",
      size: (this.props.rootDiskGb ?? 20) * GIB,
      ...replace,
    });
    const q35 = (this.props.machineType ?? "pc") === "q35";
    const domain = new Domain(scope, "domain", {
      name: spec.hostname,
      vcpu: size.vcpus,
      memory: size.memoryMiB,
      autostart: true,
      running: true,
      cloudinit: cloudInit.id,
      cpu: { mode: this.props.cpuMode ?? "host-model" },
      ...(q35 ? { machine: "q35" } : {}),
      ...(this.props.uefi
        ? {
            firmware: this.props.uefi.firmware,
            ...(this.props.uefi.nvramTemplate !== undefined
              ? { nvram: { template: this.props.uefi.nvramTemplate } }
              : {}),
          }
        : {}),
      disk: [{ volumeId: rootVolume.id }],
      networkInterface: [{ networkId: this.libvirtNetwork.id, mac, waitForLease: false }],
      console: [{ type: "pty", targetPort: "0", targetType: "serial" }],
      graphics: { type: "vnc", listenType: "address", listenAddress: "127.0.0.1", autoport: true },
      ...(this.cloudInitBus === "ide" ? {} : { xml: { xslt: cloudInitBusXslt(this.cloudInitBus) } }),
      // libvirt reports the machine type expanded (pc-q35-7.2): never a reason to re-create.
      ...(q35 || policy === "replace"
        ? {
            lifecycle: {
              ...(q35 ? { ignoreChanges: ["machine"] } : {}),
              ...replace.lifecycle,
            },
          }
        : {}),
    });
    const machine = new LibvirtMachine(
      spec.name,
      spec.hostname,
      spec.privateIpv4,
      domain,
      rootVolume,
      cloudInit,
      mac,
      networkConfig,
      spec.path,
    );
    this.machines.set(spec.name, machine);
    return machine;
  }

  /**
   * A qcow2 (or raw) volume attached as the next virtio disk: `/dev/vdb` for the first data volume.
   * The guest formats it once when blank and mounts it by label.
   */
  public addVolume(scope: Construct, machine: PlatformMachine, spec: VolumeSpec): PlatformVolume {
    const m = this.machines.get(machine.name);
    const where = `${m?.path ?? scope.node.path}/${spec.id}`;
    const format = spec.type ?? "qcow2";
    const unsupported = (["iops", "throughputMiBps"] as const).filter((k) => spec[k] !== undefined);
    if (!(LIBVIRT_VOLUME_FORMATS as readonly string[]).includes(format) || unsupported.length > 0) {
      this.context.report({
        code: "GRX283",
        path: where,
        field: unsupported.length > 0 ? unsupported.join(", ") : "type",
        message:
          unsupported.length > 0
            ? `libvirt volumes have no ${unsupported.join(" or ")} setting.`
            : `"${format}" is not a libvirt volume format for a data disk.`,
        fix: `Remove ${unsupported.length > 0 ? unsupported.join(", ") : "type"} or use type "qcow2" or "raw".`,
      });
    }
    const volume = new Volume(scope, `${spec.id}-volume`, {
      name: `${m?.hostname ?? machine.name}-${spec.id}.${format === "raw" ? "raw" : "qcow2"}`,
      pool: this.pool,
      size: spec.sizeGb * GIB,
      format: format === "raw" ? "raw" : "qcow2",
      ...((this.props.protectData ?? true) ? { lifecycle: { preventDestroy: true } } : {}),
    });
    if (!m) return { resource: volume, devicePath: "/dev/vdb" };
    m.dataVolumes.push(volume);
    m.domain.putDisk(m.disks());
    return { resource: volume, devicePath: `/dev/vd${String.fromCharCode(97 + m.dataVolumes.length)}` };
  }

  /**
   * libvirt has no firewall to create: the cluster puts the plan's rules into every guest as
   * nftables (`capabilities.firewall.filtersPrivateNetwork` is false). Public exposure is up to the
   * host (NAT port forwards or the route to the cluster network).
   */
  public applyFirewall(): void {}
}

/** Adds `provider "libvirt"` unless the stack already has one. */
function ensureProvider(scope: Construct, uri: string, given: boolean): string | undefined {
  const stack = TerraformStack.of(scope);
  const own = stack.node.findAll().filter((c): c is LibvirtProvider => c instanceof LibvirtProvider);
  if (own.length === 0) {
    new LibvirtProvider(stack, "libvirt", { uri });
    return undefined;
  }
  // A `uri` given beside the stack's own unaliased provider that connects elsewhere is not used.
  const used = own.find((p) => p.alias === undefined);
  if (!given || used === undefined || Token.isUnresolved(uri) || used.uri === uri) return undefined;
  if (used.uri !== undefined && Token.isUnresolved(used.uri)) return undefined;
  return `the stack's own provider ${used.node.path} connects to ${used.uri ?? "LIBVIRT_DEFAULT_URI"}`;
}
