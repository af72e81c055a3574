/**
 * The Platform strategy: what the cluster constructs ask of a cloud or hypervisor, and the facts
 * they need to know about it. One implementation per folder (`aws/`, `hcloud/`, …); nothing outside
 * `lib/platforms/` ever asks *which* platform it is talking to — it reads `capabilities` instead.
 *
 * Life cycle (all calls come from `GrommunioCluster`):
 *
 * 1. `platform.bind(cluster, context)` once, in the cluster's constructor → a `PlatformDeployment`
 *    that owns the network (VPC/subnet, hcloud network, …) and keeps per-cluster state.
 * 2. While the user adds nodes (constructors): `addMachine` per node (keyed by node NAME, created
 *    under the node's construct so resource addresses follow the name), `addVolume` per data
 *    volume, `addSharedFileSystem` / `addManagedDatabase` when the storage/database asks for them.
 * 3. At synth, once the whole topology is known and valid: `addLoadBalancer` (optional), then
 *    `applyFirewall(plan)` (whose rules may name the load balancer as a peer), then
 *    `machine.setUserData(...)` for every machine — or `machine.setProvisioning(...)` on platforms
 *    whose `capabilities.bootstrap` is `files` (no cloud-init: Docker).
 *
 * Problems a person can fix are reported through `context.report` (codes GRX200–GRX299) and are
 * thrown together at synth with every other validation error; never throw for bad input.
 */
import { Construct } from "constructs";
import type { TerraformResource } from "cdktf";
import type { NodeProvisioning } from "../provision/model";
import type { NodeRole, PortKey, ValidationIssue } from "../topology";
import type { FileStore } from "./file-store";
import type { SecretDelivery, SecretStore, SecretStoreSpec } from "./secret-store";

export * from "./file-store";
export * from "./secret-store";

/**
 * What happens to a running machine when its rendered configuration (user-data) changes.
 * - `replace`: the machine is destroyed and re-created with the new user-data (data volumes are
 *   detached and re-attached, never destroyed). Changes reach the node; the node reboots fresh.
 * - `ignore`: the running machine is left alone (Terraform ignores the user-data difference);
 *   new machines get the new configuration. Apply changes to running nodes out of band.
 */
export type ConfigChangePolicy = "replace" | "ignore";

export const CONFIG_CHANGE_POLICIES: readonly ConfigChangePolicy[] = ["replace", "ignore"];

/** Guest operating systems the provisioning layer can target. */
export type OperatingSystem = "debian-12" | "ubuntu-24.04";

export const OPERATING_SYSTEMS: readonly OperatingSystem[] = ["debian-12", "ubuntu-24.04"];

/** Facts about how the platform delivers user-data (cloud-init) to a machine. */
export interface UserDataFacts {
  /** The largest user-data the platform accepts, in bytes (AWS 16,384; Hetzner 32,768). */
  readonly limitBytes: number;
  /**
   * What the limit counts: `raw-bytes` = the bytes cloud-init receives, before any base64 used only
   * as transport (AWS counts the raw, possibly gzip-compressed, bytes); `base64-bytes` = the
   * base64 text. Provisioning compares its (conservative) size estimate in this unit.
   */
  readonly countedAs: "raw-bytes" | "base64-bytes";
  /** The platform accepts binary gzip user-data (cloud-init decompresses it transparently). */
  readonly binaryGzip: boolean;
  /** What the provider does on its own when user-data changes (before any policy is applied). */
  readonly nativeChangeBehaviour: "replace" | "update-in-place" | "never-applied";
}

/**
 * How a machine receives its configuration:
 * - `cloud-init`: one `#cloud-config` user-data document, handed over with `machine.setUserData`;
 * - `files`: no cloud-init in the guest (containers): the platform gets the node's provisioning
 *   itself with `machine.setProvisioning` and delivers its files (and the first-boot steps) its own
 *   way; `userData` facts are then unused.
 */
export type Bootstrap = "cloud-init" | "files";

export const BOOTSTRAPS: readonly Bootstrap[] = ["cloud-init", "files"];

/** Facts the cluster needs about a platform. Read these instead of asking which platform it is. */
export interface PlatformCapabilities {
  /** How machines receive their configuration. @default "cloud-init" */
  readonly bootstrap?: Bootstrap;
  /** User-data facts (used when `bootstrap` is `cloud-init`). */
  readonly userData: UserDataFacts;
  /** The `configChangePolicy` values this platform can honour. */
  readonly configChangePolicies: readonly ConfigChangePolicy[];
  /** The policy used when the cluster does not choose one (documented in docs/platforms.md). */
  readonly defaultConfigChangePolicy: ConfigChangePolicy;
  readonly firewall: {
    /** A provider-side firewall exists (AWS security groups, hcloud firewalls). */
    readonly cloud: boolean;
    /**
     * The provider firewall also filters traffic on the private network. When false (Hetzner
     * filters public interfaces only; libvirt/vSphere/Docker have none) provisioning adds an
     * in-guest nftables ruleset built from the same firewall plan.
     */
    readonly filtersPrivateNetwork: boolean;
    /** How many firewall groups one machine may belong to (AWS: 5 security groups per ENI). */
    readonly maxGroupsPerMachine?: number;
  };
  /** Addresses of every subnet the platform keeps for itself. */
  readonly subnet: {
    /** At the start: AWS 4 (network, router, DNS, future), Hetzner 2 (network, gateway). */
    readonly reservedLow: number;
    /** At the end: AWS 1 (broadcast). */
    readonly reservedHigh: number;
    /** Smallest allowed prefix length (largest network), e.g. 16 on AWS. */
    readonly minPrefix: number;
    /** Largest allowed prefix length (smallest network), e.g. 28 on AWS. */
    readonly maxPrefix: number;
  };
  /**
   * How `SharedStorage` is implemented: `managed` = a provider file system (AWS EFS), created by
   * `addSharedFileSystem`; `nfs-node` = the cluster adds a node with the `nfs` role and a volume;
   * `none` = shared storage is not possible (use ShareNothing).
   */
  readonly sharedStorage: "managed" | "nfs-node" | "none";
  /** `addManagedDatabase` exists (AWS RDS for MariaDB). */
  readonly managedDatabase: boolean;
  /**
   * `addLoadBalancer` exists; whether it sends PROXY protocol v2 (rather than an undocumented
   * version). The tier's frontends read v1 and v2 alike, so a cloud load balancer in front of the
   * tier needs only `available`; v2 matters where gromox itself reads the header.
   */
  readonly cloudLoadBalancer: { readonly available: boolean; readonly proxyProtocolV2: boolean };
  /** Separate block volumes can be attached (mailbox data, database data). */
  readonly blockVolumes: boolean;
  /**
   * A volume gets the size it is created with. `false` (Docker's local driver): sizes are not
   * enforced, and a size given explicitly draws a warning.
   * @default true
   */
  readonly volumeSizes?: boolean;
  readonly operatingSystems: readonly OperatingSystem[];
  /**
   * How secrets reach the nodes (`lib/platforms/secret-store.ts`): `terraform` = sensitive
   * Terraform values written into the files inside the user-data; `ssm` = a platform secret store
   * (`addSecretStore`) the nodes read at first boot, so the user-data holds only names.
   * @default "terraform"
   */
  readonly secrets?: SecretDelivery;
  /**
   * Which machines can open connections beyond the cluster network: `all`, or only `edge` ones
   * (load balancers, classic nodes; Docker's other containers sit on an internal bridge with no
   * route out). An external database outside the cluster network is then unreachable for the
   * mailbox and admin nodes (a warning at synth).
   * @default "all"
   */
  readonly outbound?: "all" | "edge";
}

/** Facts about a Terraform token that ends up in user-data (its final value is unknown at synth). */
export interface TokenFacts {
  /** Upper bound of the resolved value's length in bytes. */
  readonly maxLength: number;
  /**
   * `safe`: the value only ever holds `[A-Za-z0-9._:/@+=-]` (ids, addresses, host names), so it may
   * stand unquoted in YAML and shell words. `pem`: one PEM block as Go's `encoding/pem` writes it
   * (the tls provider's keys and certificates): `-----BEGIN <type>-----`, base64 lines of 64
   * characters (the last one shorter), `-----END <type>-----`, each line ending in a newline: only
   * `[A-Za-z0-9+/= -]` and newlines; provisioning ships it inside a JSON string made by Terraform
   * (`jsonencode`, which is a YAML double-quoted scalar). `json`: such a JSON string itself
   * (printable ASCII, quotes included), only ever a whole YAML scalar. `any`: arbitrary text
   * (passwords, PEM texts the user passes): provisioning only ships it inside base64 computed by
   * Terraform.
   */
  readonly charset: "safe" | "pem" | "json" | "any";
  /** What it is, for error messages ("EBS volume id of mail1"). */
  readonly description: string;
}

/** Where platforms (and the cluster) declare the tokens they put into user-data. */
export interface TokenSink {
  /** `value` is the exact token string that will appear in rendered text (e.g. from `Fn.replace`). */
  declareToken(value: string, facts: TokenFacts): void;
}

/** What `bind` receives. */
export interface PlatformBindContext {
  /** The cluster's construct id, e.g. `mail`; use it for names and tags. */
  readonly clusterName: string;
  /** The cluster's construct path, for error messages. */
  readonly clusterPath: string;
  /** The mail domain. */
  readonly domain: string;
  /** The private network all nodes live in (the cluster subnet), e.g. `10.10.10.0/24`. */
  readonly network: { readonly cidr: string };
  readonly os: OperatingSystem;
  /** Collect a problem (GRX200–GRX299); it is thrown with all others at synth. */
  report(issue: ValidationIssue): void;
  readonly tokens: TokenSink;
}

/**
 * A Platform: capabilities plus a factory for the per-cluster deployment. `D` is the concrete
 * deployment type, so `cluster.deployment` is typed (e.g. `AwsDeployment.securityGroups`).
 */
export interface Platform<D extends PlatformDeployment = PlatformDeployment> {
  /** Short name for messages and tags ("aws"). Never branch on it outside lib/platforms/. */
  readonly name: string;
  readonly capabilities: PlatformCapabilities;
  /** Creates the network and returns the object the cluster talks to. Called once per cluster. */
  bind(scope: Construct, context: PlatformBindContext): D;
}

/**
 * Factories, one per platform: `Platform.aws({...})`. Each platform module adds its entry by
 * declaration merging (`declare module "../platform" { interface PlatformFactories { … } }`) and
 * assigns the function on import, so this file never imports an implementation.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface PlatformFactories {}

export const Platform: PlatformFactories = {} as PlatformFactories;

/** The network the deployment created. */
export interface PlatformNetwork {
  /** The cluster subnet (node addresses live here). */
  readonly cidr: string;
  /** The provider resource of the network (aws_vpc, hcloud_network, …), for overrides. */
  readonly resource?: TerraformResource;
}

export interface MachineSpec {
  /** Node name (DNS label); keys every resource of the machine. */
  readonly name: string;
  /** Internal FQDN. */
  readonly hostname: string;
  readonly roles: readonly NodeRole[];
  /** The role that chose the address block and the default size. */
  readonly primaryRole: NodeRole;
  /** Fixed private IPv4 inside the cluster subnet. */
  readonly privateIpv4: string;
  /** Platform machine type (`m6i.large`, `cx42`). @default the platform's default for `primaryRole` */
  readonly size?: string;
  readonly configChangePolicy: ConfigChangePolicy;
  /** Construct path, for error messages. */
  readonly path: string;
}

/** What the provisioning layer hands a machine. */
export interface UserData {
  /**
   * `text`: `value` is the user-data itself as a Terraform string (literal `${`/`%{` already escaped,
   * tokens as cdktf markers). `gzip-base64`: `value` is base64 of the gzip-compressed user-data
   * (only chosen when `capabilities.userData.binaryGzip`).
   */
  readonly encoding: "text" | "gzip-base64";
  readonly value: string;
  /** Upper bound of the delivered size in the unit of `capabilities.userData.countedAs`. */
  readonly maxBytes: number;
}

/** A machine's or load balancer's public addresses (literals or Terraform tokens). */
export interface PublicAddresses {
  readonly ipv4?: string;
  readonly ipv6?: string;
}

export interface PlatformMachine {
  readonly name: string;
  readonly privateIpv4: string;
  /**
   * The machine's public addresses, stable for DNS (the mail host's A/AAAA when the
   * load-balancer nodes take traffic themselves; SPF, HELO name and PTR of a classic node).
   * Allocated on the first call where the platform must allocate them (AWS: an Elastic IP), so
   * only machines DNS names get one.
   * Absent where machines have no public address of their own (libvirt, vSphere, Docker): pass
   * the addresses to `GrommunioCluster.addDns` yourself.
   */
  publicAddresses?(): PublicAddresses;
  /** The provider resource (aws_instance, hcloud_server, …): reachable for overrides. */
  readonly resource: TerraformResource;
  /** Sets the machine's user-data (called once, at synth) honouring its config change policy. */
  setUserData(userData: UserData): void;
  /**
   * Hands the machine the node's provisioning (files, packages, first-boot commands, services),
   * called once at synth INSTEAD of `setUserData` when `capabilities.bootstrap` is `files`.
   * Required on such platforms.
   */
  setProvisioning?(provisioning: NodeProvisioning): void;
}

export type VolumePurpose = "mailbox-data" | "database-data" | "nfs-export";

export interface VolumeSpec {
  /** Stable id under the machine's construct, e.g. `data`. */
  readonly id: string;
  readonly purpose: VolumePurpose;
  readonly sizeGb: number;
  /** File system label the guest formats it with (≤ 16 chars); the mount uses `LABEL=`. */
  readonly label: string;
  /** Where provisioning mounts it. */
  readonly mountPoint: string;
  /** Platform volume type (`gp3`). @default the platform's default */
  readonly type?: string;
  /** Provisioned IOPS/throughput where the type supports them. */
  readonly iops?: number;
  readonly throughputMiBps?: number;
}

export interface PlatformVolume {
  readonly resource: TerraformResource;
  /**
   * The block device path as the guest sees it, stable across reboots (may contain a declared
   * `safe` token), e.g. `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0abc…`.
   */
  readonly devicePath: string;
}

export interface SharedFileSystemSpec {
  /** Where clients mount it. */
  readonly mountPoint: string;
  /** Node names that mount it (firewall and mount targets). */
  readonly clients: readonly string[];
}

export interface SharedFileSystem {
  readonly resource: TerraformResource;
  /** NFS source, e.g. `10.10.11.5:/` (literal or a declared `safe` token). */
  readonly source: string;
  readonly fsType: "nfs4";
  /** fstab options. */
  readonly options: string;
  /** Packages the clients need. */
  readonly clientPackages: readonly string[];
}

export interface ManagedDatabaseSpec {
  readonly engine: "mariadb";
  readonly engineVersion?: string;
  readonly size?: string;
  readonly storageGb: number;
  readonly databaseName: string;
  readonly user: string;
  /** A token (random_password) or literal. */
  readonly password: string;
  /** The internal DNS name nodes use for the database (literal FQDN, known at synth). */
  readonly hostname: string;
  readonly deletionProtection: boolean;
}

export interface ManagedDatabase {
  readonly resource: TerraformResource;
  /** What the nodes connect to (equals `spec.hostname`). */
  readonly host: string;
  readonly port: number;
}

export interface CloudLoadBalancerListener {
  /** Port-table key of the frontend (`publicSmtp`, `publicAdmin`, …). */
  readonly portKey: PortKey;
  readonly port: number;
  /** CIDRs allowed to reach this listener (`0.0.0.0/0`, `::/0`, or the admin allow list). */
  readonly allowFrom: readonly string[];
  /**
   * Send a PROXY header to the targets on this listener (AWS: target group `proxy_protocol_v2`;
   * Hetzner: service `proxyprotocol`). Set exactly for the frontends the topology's
   * `loadBalancer.acceptProxy` names (`acceptProxyFrom: "cloud-lb"`), whose binds then expect it:
   * both ends of the hop come from that one field. The tier reads PROXY v1 and v2 alike.
   */
  readonly proxyProtocol: boolean;
}

export interface CloudLoadBalancerSpec {
  readonly listeners: readonly CloudLoadBalancerListener[];
  /** Names of the load-balancer-tier machines to forward to (same port). */
  readonly targets: readonly string[];
}

export interface CloudLoadBalancer {
  readonly resource: TerraformResource;
  /** Public DNS name (a token). */
  readonly dnsName: string;
  /**
   * The addresses the load balancer connects to its targets from, when known at synth (e.g. its
   * fixed address on a Hetzner network): in-guest firewalls admit them. Undefined on AWS, where the
   * security group reference does this.
   */
  readonly privateIpv4s?: readonly string[];
  /** Its stable public addresses (tokens): the mail host's A/AAAA records (`GrommunioCluster.addDns`). */
  readonly publicAddresses?: { readonly ipv4: readonly string[]; readonly ipv6: readonly string[] };
}

/** Managed services that can be firewall peers. */
export type ManagedService = "shared-storage" | "database" | "load-balancer";

export interface FirewallGroupMember {
  readonly name: string;
  readonly ipv4: string;
}

/** A set of machines with the same exposure (one security group on AWS). */
export interface FirewallGroup {
  /** Stable name (`node`, `mailbox`, `hub`, …); keys resources. */
  readonly name: string;
  readonly description: string;
  /** Sorted by name. */
  readonly members: readonly FirewallGroupMember[];
}

export type FirewallPeer =
  | { readonly group: string }
  | { readonly service: ManagedService }
  /** IPv4 or IPv6 CIDR (or a bare address). */
  | { readonly cidr: string };

export type FirewallTarget = { readonly group: string } | { readonly service: ManagedService };

/** One allow rule: inbound TCP `port` on `target` from `source`. Everything else is denied. */
export interface FirewallRule {
  /** Stable, unique within its target: `<portKey>-from-<peer>`. */
  readonly key: string;
  readonly target: FirewallTarget;
  readonly source: FirewallPeer;
  readonly port: number;
  readonly protocol: "tcp";
  /** The port table entry the rule comes from (absent for user-defined ports). */
  readonly portKey?: PortKey;
  readonly description: string;
}

/** Every inbound rule of the cluster, generated from the port table (sorted by target, key). */
export interface FirewallPlan {
  readonly groups: readonly FirewallGroup[];
  readonly rules: readonly FirewallRule[];
}

/**
 * One PTR record the cluster asks the platform to publish (`GrommunioCluster.addDns`, from
 * `MailDns.reverseDns`). The name is the forward A/AAAA owner of the address (checked, GRX448).
 */
export interface ReverseDnsRequest {
  /** Stable construct id of the PTR resource: `<owner>-<family>` (`classic1-ipv4`, `load-balancer-ipv6`). */
  readonly key: string;
  /** The public address (a token the platform returned from `publicAddresses`). */
  readonly address: string;
  readonly family: "ipv4" | "ipv6";
  /** The PTR's target name (no trailing dot). */
  readonly name: string;
  /** Who holds the address: a machine of the cluster (by node name) or the cloud load balancer. */
  readonly owner: { readonly machine: string } | { readonly loadBalancer: true };
  /**
   * The forward A/AAAA record resources (Route53), when published by `MailDns`; empty when the
   * records are published outside Terraform. AWS checks the forward record before it sets a PTR.
   */
  readonly forward: readonly TerraformResource[];
}

/** What `addReverseDns` did: the PTR resources by request key, and what it could not publish. */
export interface ReverseDnsResult {
  readonly resources: Readonly<Record<string, TerraformResource>>;
  /** Requests not published, each with the reason (the cluster adds them as warnings). */
  readonly skipped: readonly { readonly key: string; readonly reason: string }[];
}

/** The per-cluster object a platform returns from `bind`. */
export interface PlatformDeployment {
  readonly network: PlatformNetwork;
  addMachine(scope: Construct, spec: MachineSpec): PlatformMachine;
  addVolume(scope: Construct, machine: PlatformMachine, spec: VolumeSpec): PlatformVolume;
  /** Present when `capabilities.sharedStorage === "managed"`. */
  addSharedFileSystem?(scope: Construct, spec: SharedFileSystemSpec): SharedFileSystem;
  /** Present when `capabilities.managedDatabase`. */
  addManagedDatabase?(scope: Construct, spec: ManagedDatabaseSpec): ManagedDatabase;
  /** Present when `capabilities.cloudLoadBalancer.available`. Called at synth, before applyFirewall. */
  addLoadBalancer?(scope: Construct, spec: CloudLoadBalancerSpec): CloudLoadBalancer;
  /**
   * Present when `capabilities.secrets` is not `terraform`: stores the cluster's secrets (called
   * once at synth, before any machine's user-data is built).
   */
  addSecretStore?(scope: Construct, spec: SecretStoreSpec): SecretStore;
  /**
   * Present where the platform can keep the nodes' configuration files outside the user-data
   * (`lib/platforms/file-store.ts`; AWS: S3). Called once at synth, before any machine's
   * user-data is built; `undefined` when the deployment ships files in the user-data after all
   * (AWS `fileDelivery: "user-data"`).
   */
  addFileStore?(scope: Construct): FileStore | undefined;
  /**
   * Present where the platform sets reverse DNS for the public addresses it allocates (Hetzner:
   * `hcloud_rdns`; AWS: `aws_eip_domain_name`). Called by `GrommunioCluster.addDns`.
   */
  addReverseDns?(scope: Construct, requests: readonly ReverseDnsRequest[]): ReverseDnsResult;
  /**
   * Creates the provider firewall for the plan and attaches it to the machines (and to the managed
   * services the plan names). Called once at synth, after every machine and service exists.
   */
  applyFirewall(scope: Construct, plan: FirewallPlan): void;
}
