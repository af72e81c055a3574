/**
 * Hetzner Cloud: one private network with a cluster subnet (nodes at fixed addresses) and a
 * services subnet (the optional load balancer at a fixed address), one `hcloud_server` per node
 * (keyed by node name, attached inline to the network at its private address), `hcloud_volume` +
 * attachment per data volume (never automounted: the guest mounts it), cloud firewalls for the
 * PUBLIC exposure only, and an optional `hcloud_load_balancer` in front of the load-balancer tier.
 *
 * Facts (platforms.md §2–§9):
 * - user-data is limited to 32 KiB and is ForceNew (a change replaces the server); cloud-init's
 *   Hetzner datasource base64-decodes user-data when it is valid base64 (cloud-init 22.4,
 *   `sources/DataSourceHetzner.py`), so gzip travels as base64 text and the limit counts that text;
 * - the cloud firewall never filters the private network: internal ports are closed in the guest
 *   with nftables built from the same firewall plan (`capabilities.firewall.filtersPrivateNetwork`);
 * - volumes appear as `/dev/disk/by-id/scsi-0HC_Volume_<id>`; servers, volumes and the load
 *   balancer share one location, subnets and servers one network zone;
 * - the server types and SSH keys the servers name are read at plan (`data "hcloud_server_type"`,
 *   `data "hcloud_ssh_key"`, one per distinct name) and the servers use what was read, so a typo,
 *   a missing key or a type Hetzner does not offer in the location stops the plan, not the apply
 *   after the network, firewalls and volumes exist;
 * - schema pitfalls: `load_balancer_id` is a string on services but a number on targets and
 *   network attachments; numbers from ids need `Token.asNumber`; the target class is
 *   `LoadBalancerTargetA`; `location`, never the deprecated `datacenter`.
 */
import { Construct } from "constructs";
import { DataHcloudServerType } from "../../gen/providers/hcloud/data-hcloud-server-type";
import { DataHcloudSshKey } from "../../gen/providers/hcloud/data-hcloud-ssh-key";
import { Firewall } from "../../gen/providers/hcloud/firewall";
import { LoadBalancer } from "../../gen/providers/hcloud/load-balancer";
import { LoadBalancerNetwork } from "../../gen/providers/hcloud/load-balancer-network";
import { LoadBalancerService } from "../../gen/providers/hcloud/load-balancer-service";
import { LoadBalancerTargetA } from "../../gen/providers/hcloud/load-balancer-target";
import { Network } from "../../gen/providers/hcloud/network";
import { NetworkSubnet } from "../../gen/providers/hcloud/network-subnet";
import { Rdns } from "../../gen/providers/hcloud/rdns";
import { HcloudProvider } from "../../gen/providers/hcloud/provider";
import { Server } from "../../gen/providers/hcloud/server";
import { Volume } from "../../gen/providers/hcloud/volume";
import { VolumeAttachment } from "../../gen/providers/hcloud/volume-attachment";
import { Annotations, TerraformStack, Token, attribute } from "../../provision/cdktf";
import { escapeTemplateLiteral } from "../../provision/tokens";
import { NodeRole, isWorld, parseIpv4Cidr } from "../../topology";
import {
  CloudLoadBalancer,
  CloudLoadBalancerListener,
  CloudLoadBalancerSpec,
  FirewallPlan,
  MachineSpec,
  OperatingSystem,
  Platform,
  PlatformBindContext,
  PlatformCapabilities,
  PlatformDeployment,
  PlatformMachine,
  PublicAddresses,
  PlatformNetwork,
  PlatformVolume,
  ReverseDnsRequest,
  ReverseDnsResult,
  UserData,
  VolumeSpec,
} from "../platform";
import { HCLOUD_MAX_FIREWALLS_PER_SERVER, HCLOUD_MAX_RULES_PER_FIREWALL, hcloudFirewalls } from "./firewall";
import {
  HCLOUD_MAX_PREFIX,
  HCLOUD_MIN_PREFIX,
  HCLOUD_NETWORK_ZONES,
  HcloudNetworkLayout,
  hcloudNetworkLayout,
} from "./network";

/** What Hetzner Cloud can do (platforms.md). */
export const HCLOUD_CAPABILITIES: PlatformCapabilities = {
  userData: {
    limitBytes: 32_768,
    // gzip is delivered as base64 text (the datasource decodes it); the API counts the text.
    countedAs: "base64-bytes",
    binaryGzip: true,
    nativeChangeBehaviour: "replace",
  },
  configChangePolicies: ["replace", "ignore"],
  defaultConfigChangePolicy: "replace",
  // Cloud firewalls filter public interfaces only; the in-guest nftables closes the private side.
  firewall: { cloud: true, filtersPrivateNetwork: false },
  // Network address and gateway (the first host of the network's ip_range) at the start.
  subnet: { reservedLow: 2, reservedHigh: 1, minPrefix: HCLOUD_MIN_PREFIX, maxPrefix: HCLOUD_MAX_PREFIX },
  sharedStorage: "nfs-node",
  managedDatabase: false,
  // The LB sends a PROXY header (`proxyprotocol`), but Hetzner does not document its version.
  cloudLoadBalancer: { available: true, proxyProtocolV2: false },
  blockVolumes: true,
  operatingSystems: ["debian-12", "ubuntu-24.04"],
};

/**
 * Server types per role when neither the node nor `serverTypes` says otherwise: Hetzner's second
 * CPX generation (cpx22: 2 vCPU, 4 GB; cpx32: 4 vCPU, 8 GB; cpx42: 8 vCPU, 16 GB), sold in every
 * location. Hetzner deprecated the first generation (cpx11–cpx51, our defaults until 0.1.0's
 * pre-releases) in October 2025 and stopped selling it. Hetzner renames its line-up from time to
 * time: check `hcloud server-type list` and pin what you buy (a changed type resizes a running
 * server, with a shutdown).
 */
export const HCLOUD_DEFAULT_SERVER_TYPES: Readonly<Record<NodeRole, string>> = {
  mailbox: "cpx42",
  classic: "cpx32",
  "load-balancer": "cpx22",
  database: "cpx42",
  admin: "cpx22",
  nfs: "cpx32",
};

/** Hetzner's image names for the supported operating systems. */
export const HCLOUD_IMAGES: Readonly<Record<OperatingSystem, string>> = {
  "debian-12": "debian-12",
  "ubuntu-24.04": "ubuntu-24.04",
};

/** Names of Hetzner's system images (`hcloud image list --type system`): `<distribution>-<version>`. */
const SYSTEM_IMAGE = /^(?:debian|ubuntu|rocky|alma|centos|centos-stream|fedora|opensuse)-\d/;

/** How Hetzner volumes appear in the guest (`hcloud_volume.linux_device`). */
export const HCLOUD_VOLUME_BY_ID = "/dev/disk/by-id/scsi-0HC_Volume_";

/** Volume sizes Hetzner accepts, in GB. */
export const HCLOUD_VOLUME_SIZE = { min: 10, max: 10_240 } as const;

/** Services and targets per load balancer type (Hetzner Cloud load balancer types). */
export const HCLOUD_LOAD_BALANCER_TYPES: Readonly<Record<string, { services: number; targets: number }>> = {
  lb11: { services: 5, targets: 25 },
  lb21: { services: 15, targets: 75 },
  lb31: { services: 30, targets: 150 },
};

/** Hetzner label values: at most 63 characters, alphanumeric at both ends, `-_.` inside. */
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

export interface HcloudLoadBalancerOptions {
  /**
   * Load balancer type: lb11 forwards at most 5 ports, lb21 15, lb31 30. A full mail frontend
   * (25, 80, 443, 587, 993, 995) needs lb21.
   * @default "lb21"
   */
  readonly type?: "lb11" | "lb21" | "lb31";
  /** @default "round_robin" */
  readonly algorithm?: "round_robin" | "least_connections";
}

export interface HcloudPlatformProps {
  /** Location of every server, volume and the load balancer, e.g. `fsn1`, `nbg1`, `hel1`, `ash`, `hil`, `sin`. */
  readonly location: string;
  /**
   * Network zone of the subnets (must be the location's zone).
   * @default the location's zone (`fsn1`/`nbg1`/`hel1` → `eu-central`, `ash` → `us-east`,
   * `hil` → `us-west`, `sin` → `ap-southeast`); required for locations not in that list
   */
  readonly networkZone?: string;
  /**
   * The network's `ip_range`. Must be private and contain the cluster network and the services
   * subnet beside it.
   * @default the cluster network's supernet, e.g. 10.10.10.0/23 for 10.10.10.0/24
   */
  readonly networkIpRange?: string;
  /**
   * Server type per role (a node's `size` wins). Every type the servers use, the defaults too, is
   * looked up (`data "hcloud_server_type"`, one per type) and must list `location` among its
   * locations (a postcondition), so a typo or a type Hetzner does not offer there fails the plan,
   * not the apply.
   * @default HCLOUD_DEFAULT_SERVER_TYPES (cpx42 mailbox and database, cpx32 classic and nfs, cpx22 otherwise)
   */
  readonly serverTypes?: Partial<Record<NodeRole, string>>;
  /**
   * Image name or id for every server (a snapshot of your own, say). It must hold the cluster's
   * `os`: a Hetzner system image of another one (`debian-13` with os `debian-12`) is GRX273.
   * @default the cluster's OS: `debian-12` or `ubuntu-24.04`
   */
  readonly image?: string;
  /**
   * Names or ids (all digits) of `hcloud_ssh_key`s for root on every server. Each is looked up
   * (`data "hcloud_ssh_key"`, one per key, by name or id) and the servers get the ids read, so a
   * key that does not exist fails the plan, not the apply; a Terraform token is passed as it is.
   * They only take effect when a server is created (changing them never replaces a server:
   * `ignore_changes = [ssh_keys]`). SSH itself is reachable only from the cluster's `sshAllowFrom`.
   * @default [] (console access only)
   */
  readonly sshKeys?: readonly string[];
  /**
   * Options of the Hetzner load balancer, used when the cluster asks for a cloud load balancer
   * (`LoadBalancerTier` `cloudLoadBalancer`); without one they create nothing (a warning says so).
   * @default { type: "lb21", algorithm: "round_robin" }
   */
  readonly loadBalancer?: HcloudLoadBalancerOptions;
  /**
   * Delete protection on data volumes (mailbox, database, NFS export): `cdktf destroy` stops at
   * them until you lift it. Turn off only for throw-away clusters.
   * @default true
   */
  readonly protectData?: boolean;
  /**
   * Add `provider "hcloud"` (token from `HCLOUD_TOKEN`) unless the stack already has one.
   * @default true
   */
  readonly addProvider?: boolean;
  /**
   * Labels on every resource that takes them (keys and values per Hetzner's label rules).
   * `grommunio-*` keys are the platform's own: yours are replaced (a warning says so).
   * @default {}
   */
  readonly labels?: Readonly<Record<string, string>>;
}

/** The Hetzner Cloud platform. `Platform.hcloud(props)` is the same as `new HcloudPlatform(props)`. */
export class HcloudPlatform implements Platform<HcloudDeployment> {
  public readonly name = "hcloud";
  public readonly capabilities = HCLOUD_CAPABILITIES;

  constructor(public readonly props: HcloudPlatformProps) {}

  public bind(scope: Construct, context: PlatformBindContext): HcloudDeployment {
    return new HcloudDeployment(scope, this.props, context);
  }
}

/** A machine on Hetzner Cloud: the `hcloud_server` is `server` (and `resource`). */
export class HcloudMachine implements PlatformMachine {
  constructor(
    public readonly name: string,
    public readonly privateIpv4: string,
    public readonly server: Server,
    /** Construct path of the node, for error messages. */
    public readonly path: string,
  ) {}

  public get resource(): Server {
    return this.server;
  }

  /**
   * The server's public IPv4 and IPv6 (Terraform tokens). They last as long as the server: a
   * replaced server (configChangePolicy "replace") gets new ones, and the DNS records follow at the
   * same apply.
   */
  public publicAddresses(): PublicAddresses {
    return { ipv4: this.server.ipv4Address, ipv6: this.server.ipv6Address };
  }

  /**
   * Sets `user_data`. Gzip arrives base64-encoded (the Hetzner datasource decodes it). A change
   * replaces the server unless the machine's policy is `ignore` (`ignore_changes = [user_data]`).
   */
  public setUserData(userData: UserData): void {
    this.server.userData = userData.value;
  }
}

/** The per-cluster Hetzner Cloud deployment. Its resources are reachable as properties. */
export class HcloudDeployment implements PlatformDeployment {
  public readonly network: PlatformNetwork;
  public readonly hcloudNetwork: Network;
  /** The cluster subnet (nodes). */
  public readonly subnet: NetworkSubnet;
  public readonly layout: HcloudNetworkLayout;
  public readonly networkZone: string;
  public readonly machines = new Map<string, HcloudMachine>();
  /** Cloud firewall per name (`all-nodes` and every plan group with public rules), after synth. */
  public readonly firewalls = new Map<string, Firewall>();
  public loadBalancer?: LoadBalancer;
  private servicesSubnetCache?: NetworkSubnet;
  /** The network's id as a number token, made once (every read of `id` makes a new token). */
  private readonly networkId: number;
  private readonly networkScope: Construct;
  private readonly labels: Record<string, string>;
  /** The servers' `ssh_keys`: the ids read by `data "hcloud_ssh_key"` (`sshKeyIds`), made once. */
  private sshKeyTokens?: string[];
  /** Server type → the name read by its `data "hcloud_server_type"` (`checkedServerType`). */
  private readonly serverTypeTokens = new Map<string, string>();

  constructor(
    private readonly scope: Construct,
    private readonly props: HcloudPlatformProps,
    private readonly context: PlatformBindContext,
  ) {
    const at = context.clusterPath;
    this.labels = { ...(props.labels ?? {}), "grommunio-cluster": context.clusterName };
    const ownLabels = Object.keys(props.labels ?? {}).filter((k) => k.startsWith("grommunio-"));
    if (ownLabels.length > 0) {
      Annotations.of(scope).addWarning(
        `labels ${ownLabels.join(", ")}: the platform sets grommunio-* labels itself (cluster, node, role, purpose), ` +
          "so your values are replaced on the resources that carry them. Use other keys.",
      );
    }
    if (!LABEL_VALUE.test(context.clusterName)) {
      context.report({
        code: "GRX260",
        path: at,
        field: "id",
        message: `the cluster id "${context.clusterName}" cannot be a Hetzner label value (≤ 63 characters, letters and digits at both ends, "-", "_", "." inside).`,
        fix: 'Give the cluster construct an id such as "mail".',
      });
    }
    const zone = props.networkZone ?? HCLOUD_NETWORK_ZONES[props.location];
    const expected = HCLOUD_NETWORK_ZONES[props.location];
    if (zone === undefined) {
      context.report({
        code: "GRX261",
        path: at,
        field: "platform.location",
        message: `unknown Hetzner location "${props.location}" and no networkZone given.`,
        fix: `Use one of ${Object.keys(HCLOUD_NETWORK_ZONES).join(", ")}, or give networkZone for a newer location.`,
      });
    } else if (expected !== undefined && zone !== expected) {
      context.report({
        code: "GRX262",
        path: at,
        field: "platform.networkZone",
        message: `location ${props.location} is in network zone ${expected}, not ${zone}; servers and subnets must share a zone.`,
        fix: `Omit networkZone or set it to "${expected}".`,
      });
    }
    // A Hetzner system image of another OS than the cluster's: the nodes would get the packages
    // and configuration of `os` (php8.2 on Debian 12, php8.3 on Ubuntu 24.04) and fail at first boot.
    const image = props.image;
    const expectedImage = HCLOUD_IMAGES[context.os];
    if (image !== undefined && !Token.isUnresolved(image) && SYSTEM_IMAGE.test(image) && image !== expectedImage) {
      context.report({
        code: "GRX273",
        path: at,
        field: "platform.image",
        message: `image "${image}" is another system than the cluster's os ${context.os}: the nodes would get ${context.os}'s packages and configuration and fail at first boot.`,
        fix: `Omit image (${expectedImage}), or set the cluster's os to the image's system (${Object.keys(HCLOUD_IMAGES).join(", ")}).`,
      });
    }
    this.networkZone = zone ?? "eu-central";
    if (props.addProvider ?? true) ensureProvider(scope);

    const result = hcloudNetworkLayout(context.network.cidr, props.networkIpRange);
    if ("problem" in result) {
      // A malformed cluster network is the topology's to report (GRX004); anything else is ours.
      if (parseIpv4Cidr(context.network.cidr) !== undefined) {
        context.report({ code: "GRX263", path: at, ...result.problem });
      }
      this.layout = {
        network: "10.0.0.0/23",
        cluster: "10.0.0.0/24",
        services: "10.0.1.0/24",
        loadBalancerIp: "10.0.1.2",
      };
    } else {
      this.layout = result.layout;
    }

    this.networkScope = new Construct(scope, "network");
    this.hcloudNetwork = new Network(this.networkScope, "network", {
      name: context.clusterName,
      ipRange: this.layout.network,
      labels: this.labels,
    });
    this.networkId = Token.asNumber(this.hcloudNetwork.id);
    this.subnet = new NetworkSubnet(this.networkScope, "subnet", {
      networkId: this.networkId,
      type: "cloud",
      networkZone: this.networkZone,
      ipRange: this.layout.cluster,
    });
    this.network = { cidr: this.layout.cluster, resource: this.hcloudNetwork };
  }

  /** The services subnet (load balancer), created on first use. */
  public get servicesSubnet(): NetworkSubnet {
    this.servicesSubnetCache ??= new NetworkSubnet(this.networkScope, "services-subnet", {
      networkId: this.networkId,
      type: "cloud",
      networkZone: this.networkZone,
      ipRange: this.layout.services,
    });
    return this.servicesSubnetCache;
  }

  /**
   * The servers' `ssh_keys`: each literal key read once through `data "hcloud_ssh_key"` (by `id`
   * when all digits, else by `name`; keyed by the key, never by position), its id used; a token
   * passed as it is. A key that does not exist fails the plan.
   */
  private sshKeyIds(): string[] {
    if (this.sshKeyTokens !== undefined) return this.sshKeyTokens;
    const read = new Map<string, string>();
    this.sshKeyTokens = (this.props.sshKeys ?? []).map((key) => {
      if (Token.isUnresolved(key)) return key;
      let id = read.get(key);
      if (id === undefined) {
        const data = new DataHcloudSshKey(
          this.scope,
          // Construct ids turn `/` into `--`: escape both so that `a/b` and `a--b` stay two keys.
          `ssh-key-${key.replace(/%/g, "%25").replace(/\//g, "%2F")}`,
          /^\d+$/.test(key) ? { id: Number(key) } : { name: key },
        );
        id = attribute(data, "id");
        read.set(key, id);
      }
      return id;
    });
    return this.sshKeyTokens;
  }

  /**
   * A server type read once through `data "hcloud_server_type"`, with a postcondition that
   * Hetzner offers it in the location (its `locations`); the servers use the name read, so
   * Terraform reads it first. A typo or a type not sold there fails the plan. A token is passed as
   * it is; with a token as location only the type is looked up.
   */
  private checkedServerType(type: string): string {
    if (Token.isUnresolved(type)) return type;
    let name = this.serverTypeTokens.get(type);
    if (name === undefined) {
      const location = this.props.location;
      const data = new DataHcloudServerType(this.scope, `server-type-${type}`, {
        name: type,
        ...(Token.isUnresolved(location)
          ? {}
          : {
              lifecycle: {
                postcondition: [
                  {
                    condition: `\${contains(self.locations[*].name, ${hclString(location)})}`,
                    errorMessage: escapeTemplateLiteral(
                      `Hetzner does not offer server type ${type} in location ${location}: choose one it offers there (hcloud server-type describe ${type}, hcloud server-type list) as serverTypes or a node's size.`,
                    ),
                  },
                ],
              },
            }),
      });
      name = attribute(data, "name");
      this.serverTypeTokens.set(type, name);
    }
    return name;
  }

  public addMachine(scope: Construct, spec: MachineSpec): HcloudMachine {
    const server = new Server(scope, "server", {
      name: spec.hostname,
      serverType: this.checkedServerType(
        spec.size ?? this.props.serverTypes?.[spec.primaryRole] ?? HCLOUD_DEFAULT_SERVER_TYPES[spec.primaryRole],
      ),
      image: this.props.image ?? HCLOUD_IMAGES[this.context.os] ?? HCLOUD_IMAGES["debian-12"],
      location: this.props.location,
      ...(this.props.sshKeys?.length ? { sshKeys: [...this.sshKeyIds()] } : {}),
      network: [{ networkId: this.networkId, ip: spec.privateIpv4 }],
      publicNet: [{ ipv4Enabled: true, ipv6Enabled: true }],
      // Let the guest stop its services (and unmount the data volume) before a replacement.
      shutdownBeforeDeletion: true,
      labels: { ...this.labels, "grommunio-node": spec.name, "grommunio-role": spec.primaryRole },
      // The server may only join the network once the subnet exists.
      dependsOn: [this.subnet],
      lifecycle: {
        ignoreChanges: ["ssh_keys", ...(spec.configChangePolicy === "ignore" ? ["user_data"] : [])],
      },
    });
    const machine = new HcloudMachine(spec.name, spec.privateIpv4, server, spec.path);
    this.machines.set(spec.name, machine);
    return machine;
  }

  public addVolume(scope: Construct, machine: PlatformMachine, spec: VolumeSpec): PlatformVolume {
    const where = `${this.machines.get(machine.name)?.path ?? scope.node.path}/${spec.id}`;
    if (
      !Number.isInteger(spec.sizeGb) ||
      spec.sizeGb < HCLOUD_VOLUME_SIZE.min ||
      spec.sizeGb > HCLOUD_VOLUME_SIZE.max
    ) {
      this.context.report({
        code: "GRX264",
        path: where,
        field: "sizeGb",
        message: `a Hetzner volume holds ${HCLOUD_VOLUME_SIZE.min} to ${HCLOUD_VOLUME_SIZE.max} GB (whole numbers), not ${spec.sizeGb}.`,
        fix: `Choose a size from ${HCLOUD_VOLUME_SIZE.min} to ${HCLOUD_VOLUME_SIZE.max} GB; volumes can grow later, never shrink.`,
      });
    }
    const unsupported = (["type", "iops", "throughputMiBps"] as const).filter((k) => spec[k] !== undefined);
    if (unsupported.length > 0) {
      this.context.report({
        code: "GRX265",
        path: where,
        field: unsupported.join(", "),
        message: `Hetzner volumes have one type with fixed performance; ${unsupported.join(", ")} cannot be chosen.`,
        fix: `Remove ${unsupported.join(", ")} from the volume on Hetzner Cloud.`,
      });
    }
    const server = this.machines.get(machine.name)?.server;
    const volume = new Volume(scope, `${spec.id}-volume`, {
      name: `${this.context.clusterName}-${machine.name}-${spec.id}`,
      size: spec.sizeGb,
      location: this.props.location,
      // The guest formats (only when blank) and mounts it; Hetzner must not.
      automount: false,
      deleteProtection: this.props.protectData ?? true,
      labels: { ...this.labels, "grommunio-node": machine.name, "grommunio-purpose": spec.purpose },
    });
    // One token for all uses: every read of `volume.id` makes a new token.
    const volumeId = volume.id;
    new VolumeAttachment(scope, `${spec.id}-attachment`, {
      volumeId: Token.asNumber(volumeId),
      serverId: Token.asNumber(server?.id ?? machine.resource.getStringAttribute("id")),
      automount: false,
    });
    this.context.tokens.declareToken(volumeId, {
      maxLength: 20,
      charset: "safe",
      description: `the Hetzner volume id of ${machine.name}/${spec.id}`,
    });
    return { resource: volume, devicePath: `${HCLOUD_VOLUME_BY_ID}${volumeId}` };
  }

  /**
   * A Hetzner load balancer in front of the load-balancer tier: TCP services (one per listener,
   * PROXY header on when the spec asks for it), targets over the private network. Hetzner load
   * balancers cannot restrict client addresses, so listeners that allow less than the whole
   * internet (the admin frontend) are NOT forwarded (fail closed, with a warning): such a port is
   * reachable only where the firewall plan opens it on the tier's nodes from its allow list.
   */
  public addLoadBalancer(scope: Construct, spec: CloudLoadBalancerSpec): CloudLoadBalancer {
    const at = `${this.context.clusterPath}/loadBalancer`;
    const type = this.props.loadBalancer?.type ?? "lb21";
    const limits = HCLOUD_LOAD_BALANCER_TYPES[type];
    const open = (l: CloudLoadBalancerListener) => l.allowFrom.length > 0 && l.allowFrom.every(isWorld);
    const forwarded = spec.listeners.filter(open);
    const skipped = spec.listeners.filter((l) => !open(l));
    const plain = forwarded.filter((l) => !l.proxyProtocol);
    if (plain.length > 0) {
      Annotations.of(scope).addWarning(
        "The Hetzner load balancer opens its own connection to each target: without PROXY protocol the " +
          `load-balancer tier sees ${this.layout.loadBalancerIp} as every client's address (postscreen, rate limits and logs lose it) ` +
          `on ${plain.map((l) => `${l.portKey} (${l.port})`).join(", ")}. Set cloudLoadBalancer: { proxyProtocol: true } on the tier.`,
      );
    }
    if (skipped.length > 0) {
      Annotations.of(scope).addWarning(
        `The Hetzner load balancer cannot restrict client addresses: ${skipped.map((l) => `${l.portKey} (${l.port})`).join(", ")} ` +
          "is not forwarded by it (that would open it to the whole internet); it stays closed unless the firewall plan " +
          "opens it on the load-balancer nodes' own addresses from its allow list.",
      );
    }
    if (!limits) {
      this.context.report({
        code: "GRX266",
        path: at,
        field: "platform.loadBalancer.type",
        message: `"${type}" is not a Hetzner load balancer type.`,
        fix: `Use one of ${Object.keys(HCLOUD_LOAD_BALANCER_TYPES).join(", ")}.`,
      });
    } else {
      if (forwarded.length > limits.services) {
        const fits = Object.entries(HCLOUD_LOAD_BALANCER_TYPES).find(([, l]) => l.services >= forwarded.length)?.[0];
        this.context.report({
          code: "GRX267",
          path: at,
          field: "platform.loadBalancer.type",
          message: `${forwarded.length} ports (${forwarded
            .map((l) => l.port)
            .sort((a, b) => a - b)
            .join(", ")}) need ${forwarded.length} services; a ${type} has at most ${limits.services}.`,
          fix: fits ? `Use loadBalancer type "${fits}".` : "Forward fewer ports through the Hetzner load balancer.",
        });
      }
      if (spec.targets.length > limits.targets) {
        this.context.report({
          code: "GRX268",
          path: at,
          field: "platform.loadBalancer.type",
          message: `${spec.targets.length} targets exceed the ${limits.targets} a ${type} accepts.`,
          fix: "Use a larger load balancer type or fewer load-balancer nodes.",
        });
      }
    }
    const ports = new Map<number, string>();
    for (const l of forwarded) {
      const other = ports.get(l.port);
      if (other !== undefined) {
        this.context.report({
          code: "GRX269",
          path: at,
          field: "listeners",
          message: `${l.portKey} and ${other} both listen on ${l.port}; a Hetzner load balancer has one service per port.`,
          fix: "Give every frontend its own port.",
        });
      }
      ports.set(l.port, l.portKey);
    }

    const lb = new LoadBalancer(scope, "load-balancer", {
      name: `${this.context.clusterName}-lb`,
      loadBalancerType: type,
      location: this.props.location,
      algorithm: { type: this.props.loadBalancer?.algorithm ?? "round_robin" },
      labels: this.labels,
    });
    this.loadBalancer = lb;
    const attachment = new LoadBalancerNetwork(scope, "network-attachment", {
      loadBalancerId: Token.asNumber(lb.id),
      subnetId: this.servicesSubnet.id,
      ip: this.layout.loadBalancerIp,
      enablePublicInterface: true,
    });
    for (const l of forwarded) {
      new LoadBalancerService(scope, `${l.portKey}-service`, {
        loadBalancerId: lb.id,
        protocol: "tcp",
        listenPort: l.port,
        destinationPort: l.port,
        // Hetzner does not document the PROXY version; the tier (HAProxy accept-proxy, nginx
        // proxy_protocol) reads v1 and v2 alike. On exactly the listeners whose frontends expect it.
        proxyprotocol: l.proxyProtocol,
        healthCheck: { protocol: "tcp", port: l.port, interval: 10, timeout: 5, retries: 3 },
      });
    }
    for (const name of spec.targets) {
      const m = this.machines.get(name);
      if (!m) {
        this.context.report({
          code: "GRX270",
          path: at,
          field: "targets",
          message: `load balancer target "${name}" is not a machine of this cluster.`,
          fix: "Name load-balancer nodes of this cluster as targets.",
        });
        continue;
      }
      new LoadBalancerTargetA(scope, `${name}-target`, {
        type: "server",
        loadBalancerId: Token.asNumber(lb.id),
        serverId: Token.asNumber(m.server.id),
        usePrivateIp: true,
        // Private targets need the load balancer in the network first.
        dependsOn: [attachment],
      });
    }
    // Hetzner has no DNS name for load balancers: the public IPv4 stands in for it.
    return {
      resource: lb,
      dnsName: lb.ipv4,
      privateIpv4s: [this.layout.loadBalancerIp],
      publicAddresses: { ipv4: [lb.ipv4], ipv6: [lb.ipv6] },
    };
  }

  /**
   * Cloud firewalls for the plan's PUBLIC rules (CIDR sources) and their attachment through
   * `firewall_ids`; the private side is the in-guest nftables' job (see ./firewall.ts).
   */
  /**
   * Reverse DNS of the servers' and the load balancer's public addresses: one `hcloud_rdns` per
   * address (`server_id` or `load_balancer_id`, `ip_address`, `dns_ptr`), IPv4 and IPv6 alike,
   * keyed by the request key. Hetzner does not check the forward record; the cluster does (GRX448).
   */
  public addReverseDns(scope: Construct, requests: readonly ReverseDnsRequest[]): ReverseDnsResult {
    const resources: Record<string, Rdns> = {};
    const skipped: { key: string; reason: string }[] = [];
    for (const r of requests) {
      const owner =
        "machine" in r.owner
          ? { serverId: this.machines.get(r.owner.machine)?.server.id }
          : { loadBalancerId: this.loadBalancer?.id };
      const id = owner.serverId ?? owner.loadBalancerId;
      if (id === undefined) {
        skipped.push({ key: r.key, reason: `no Hetzner server or load balancer holds ${r.address}` });
        continue;
      }
      resources[r.key] = new Rdns(scope, r.key, {
        ...(owner.serverId !== undefined
          ? { serverId: Token.asNumber(owner.serverId) }
          : { loadBalancerId: Token.asNumber(owner.loadBalancerId) }),
        ipAddress: r.address,
        dnsPtr: r.name,
        ...(r.forward.length > 0 ? { dependsOn: [...r.forward] } : {}),
      });
    }
    return { resources, skipped };
  }

  public applyFirewall(scope: Construct, plan: FirewallPlan): void {
    // At synth, after the cluster's cloud load balancer step.
    if (this.props.loadBalancer !== undefined && this.loadBalancer === undefined) {
      Annotations.of(this.scope).addWarning(
        "platform loadBalancer options are given, but the cluster asks for no cloud load balancer: no Hetzner load " +
          "balancer is created. Set cloudLoadBalancer on the LoadBalancerTier, or drop the options.",
      );
    }
    const specs = hcloudFirewalls(plan, [...this.machines.keys()]);
    // One number token per firewall for all its servers (every read of `id` makes a new token).
    const firewallIds = new Map<string, number>();
    for (const spec of specs) {
      const id = spec.name === "base" ? "all-nodes" : spec.name;
      if (spec.rules.length > HCLOUD_MAX_RULES_PER_FIREWALL) {
        this.context.report({
          code: "GRX271",
          path: `${this.context.clusterPath}/firewall/${id}`,
          field: "rules",
          message: `firewall ${id} needs ${spec.rules.length} rules; Hetzner allows ${HCLOUD_MAX_RULES_PER_FIREWALL}.`,
          fix: "Open fewer public ports for this group.",
        });
      }
      const fw = new Firewall(new Construct(scope, id), "firewall", {
        name: `${this.context.clusterName}-${id}`,
        labels: this.labels,
        rule: spec.rules.map((r) => ({
          direction: r.direction,
          protocol: r.protocol,
          ...(r.port !== undefined ? { port: r.port } : {}),
          sourceIps: [...r.sourceIps],
          description: r.description,
        })),
      });
      this.firewalls.set(id, fw);
      firewallIds.set(id, Token.asNumber(fw.id));
    }
    for (const [name, machine] of this.machines) {
      const mine = specs.filter((s) => s.members.includes(name));
      if (mine.length > HCLOUD_MAX_FIREWALLS_PER_SERVER) {
        this.context.report({
          code: "GRX272",
          path: machine.path,
          field: "roles",
          message: `${name} needs ${mine.length} Hetzner firewalls (${mine.map((s) => s.name).join(", ")}); a server takes at most ${HCLOUD_MAX_FIREWALLS_PER_SERVER}.`,
          fix: "Spread the public roles over more nodes (e.g. a separate admin node).",
        });
      }
      machine.server.firewallIds = mine.map((s) => firewallIds.get(s.name === "base" ? "all-nodes" : s.name)!);
    }
  }
}

/** `text` as an HCL string literal inside a `${…}` expression (JSON's escapes are HCL's). */
function hclString(text: string): string {
  return JSON.stringify(escapeTemplateLiteral(text));
}

/** Adds `provider "hcloud"` (token from HCLOUD_TOKEN) unless the stack already has one. */
function ensureProvider(scope: Construct): void {
  const stack = TerraformStack.of(scope);
  if (!stack.node.findAll().some((c) => c instanceof HcloudProvider)) new HcloudProvider(stack, "hcloud", {});
}
