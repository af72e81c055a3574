/**
 * AWS: VPC with one cluster subnet (single AZ), internet gateway, security groups generated from
 * the firewall plan, one `aws_instance` per node (keyed by node name, fixed `private_ip`, IMDSv2
 * required, encrypted gp3 root volume), encrypted gp3 EBS data volumes, EFS for shared storage,
 * RDS for MariaDB, and an optional internet-facing NLB in front of the load-balancer tier.
 *
 * Facts: platforms.md §3–§8 (user-data 16 KB raw, gzip accepted; NVMe device names; EFS;
 * NLB security groups only at creation; outbound port 25 blocked by default).
 */
import { Construct } from "constructs";
import { DataAwsAmi } from "@cdktf/provider-aws/lib/data-aws-ami";
import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { DataAwsEc2InstanceType } from "@cdktf/provider-aws/lib/data-aws-ec2-instance-type";
import { DataAwsKeyPair } from "@cdktf/provider-aws/lib/data-aws-key-pair";
import { DbInstance } from "@cdktf/provider-aws/lib/db-instance";
import { DbSubnetGroup } from "@cdktf/provider-aws/lib/db-subnet-group";
import { EbsVolume } from "@cdktf/provider-aws/lib/ebs-volume";
import { EfsFileSystem } from "@cdktf/provider-aws/lib/efs-file-system";
import { EfsMountTarget } from "@cdktf/provider-aws/lib/efs-mount-target";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { EipDomainName } from "@cdktf/provider-aws/lib/eip-domain-name";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { Lb } from "@cdktf/provider-aws/lib/lb";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { LbTargetGroupAttachment } from "@cdktf/provider-aws/lib/lb-target-group-attachment";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Route } from "@cdktf/provider-aws/lib/route";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { Route53Zone } from "@cdktf/provider-aws/lib/route53-zone";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { VolumeAttachment } from "@cdktf/provider-aws/lib/volume-attachment";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Annotations, Fn, Op, TerraformStack, Token, attribute } from "../../provision/cdktf";
import { NodeRole, PORTS, parseIpv4 } from "../../topology";
import {
  CloudLoadBalancer,
  CloudLoadBalancerSpec,
  FirewallPeer,
  FirewallPlan,
  MachineSpec,
  ManagedDatabase,
  ManagedDatabaseSpec,
  ManagedService,
  OperatingSystem,
  Platform,
  PlatformBindContext,
  PlatformCapabilities,
  PlatformDeployment,
  PlatformMachine,
  PlatformNetwork,
  PlatformVolume,
  PublicAddresses,
  ReverseDnsRequest,
  ReverseDnsResult,
  FileStore,
  SecretStore,
  SecretStoreSpec,
  SharedFileSystem,
  SharedFileSystemSpec,
  UserData,
  VolumeSpec,
} from "../platform";
import { DEFAULT_FILE_VERSIONS_KEPT, MAX_FILE_VERSIONS_KEPT, S3FileStore } from "./files";
import { MachineIdentities } from "./identity";
import { AwsNetworkLayout, awsNetworkLayout } from "./network";
import { SSM_PREFIX, SsmSecretStore } from "./secrets";
import { EBS_DEFAULT_VOLUME_TYPE, EBS_VOLUME_TYPES, ebsVolumeProblems } from "./volumes";

/** How the nodes' configuration files reach them (`AwsPlatformProps.fileDelivery`). */
export type AwsFileDelivery = "s3" | "user-data";

export const AWS_FILE_DELIVERIES: readonly AwsFileDelivery[] = ["s3", "user-data"];

/** What AWS can do (platforms.md). */
export const AWS_CAPABILITIES: PlatformCapabilities = {
  userData: {
    limitBytes: 16_384,
    countedAs: "raw-bytes",
    binaryGzip: true,
    nativeChangeBehaviour: "update-in-place",
  },
  configChangePolicies: ["replace", "ignore"],
  defaultConfigChangePolicy: "ignore",
  firewall: { cloud: true, filtersPrivateNetwork: true, maxGroupsPerMachine: 5 },
  subnet: { reservedLow: 4, reservedHigh: 1, minPrefix: 17, maxPrefix: 27 },
  sharedStorage: "managed",
  managedDatabase: true,
  cloudLoadBalancer: { available: true, proxyProtocolV2: true },
  blockVolumes: true,
  operatingSystems: ["debian-12", "ubuntu-24.04"],
  // Secrets live in SSM Parameter Store; nodes fetch their own at first boot (./secrets.ts).
  secrets: "ssm",
};

/** Instance types per role when neither the node nor `instanceTypes` says otherwise (Nitro: NVMe EBS). */
export const AWS_DEFAULT_INSTANCE_TYPES: Readonly<Record<NodeRole, string>> = {
  mailbox: "m6i.large",
  classic: "t3.medium",
  "load-balancer": "t3.small",
  database: "r6i.large",
  admin: "t3.medium",
  nfs: "t3.medium",
};

/** Official images (owner account, name pattern) looked up when no `ami` is given. */
export const AWS_IMAGES: Readonly<Record<OperatingSystem, { owner: string; name: string }>> = {
  "debian-12": { owner: "136693071363", name: "debian-12-amd64-*" },
  "ubuntu-24.04": { owner: "099720109477", name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*" },
};

/** How EBS volumes appear on Nitro instances (by-id link named after the volume id without dash). */
export const EBS_NVME_BY_ID = "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_";

/** Tags the platform sets itself: a user's value for them is replaced (a warning says so). */
const AWS_OWN_TAGS: readonly string[] = [
  "Name",
  "grommunio:cluster",
  "grommunio:node",
  "grommunio:roles",
  "grommunio:purpose",
];

/** `device_name` values for data volumes, in attachment order (Nitro ignores them but AWS wants one). */
const DEVICE_NAMES = ["/dev/sdf", "/dev/sdg", "/dev/sdh", "/dev/sdi", "/dev/sdj"];

export interface AwsPlatformProps {
  /**
   * AWS region. When given and the stack has no AWS provider yet, the platform adds one; a
   * provider of the stack's own with another region is GRX228 (the resources would go there).
   * @default undefined: the stack must configure `provider "aws"` itself
   */
  readonly region?: string;
  /**
   * Availability zone of the cluster subnet, the EBS volumes and the NLB/EFS subnet. A zone name
   * of `region` (`eu-central-1a`), different from `secondAvailabilityZone` (GRX226).
   * @default the region's first available zone (looked up at plan time), or its second when that
   * first one is `secondAvailabilityZone`
   */
  readonly availabilityZone?: string;
  /**
   * Zone of the second services subnet, created beside the first one (NLB, EFS, RDS) and used
   * only by the RDS subnet group, which needs two zones. Must differ from `availabilityZone`
   * (GRX226).
   * @default the region's second available zone, or its first when that second one is
   * `availabilityZone`
   */
  readonly secondAvailabilityZone?: string;
  /**
   * The VPC block. Must contain the cluster network and the services subnets beside it.
   * @default the cluster network's supernet, e.g. 10.10.10.0/23 for 10.10.10.0/24
   */
  readonly vpcCidr?: string;
  /**
   * Instance type per role (a node's `size` wins). Types given here or as `size` are looked up
   * (`data "aws_ec2_instance_type"`), so a typo or a type the region does not offer fails the plan,
   * not the apply.
   * @default AWS_DEFAULT_INSTANCE_TYPES (m6i.large mailbox, t3.medium classic, …)
   */
  readonly instanceTypes?: Partial<Record<NodeRole, string>>;
  /**
   * AMI id for every node. Pinning it is the only way to upgrade images deliberately.
   * @default the newest official Debian 12 (or Ubuntu 24.04) AMI at first deploy; later AMI
   * releases are ignored (`lifecycle.ignore_changes = [ami]`) so they never replace a node
   */
  readonly ami?: string;
  /**
   * EC2 key pair for SSH (SSH is only reachable from the cluster's `sshAllowFrom`). A literal name
   * is looked up (`data "aws_key_pair"`), so a missing key pair fails the plan, not the apply.
   * @default no key pair
   */
  readonly keyName?: string;
  /**
   * Root volume size in GiB (encrypted gp3): a whole number from 1 to 65536 (GRX227), not
   * smaller than the image's root snapshot.
   * @default 20
   */
  readonly rootVolumeSizeGb?: number;
  /**
   * Customer managed KMS key for the EBS (root and data), EFS, RDS, S3 bundle and SSM parameter
   * encryption: its ARN (the provider refuses a key id or alias for EBS, EFS and RDS at plan).
   * @default the AWS-managed keys
   */
  readonly kmsKeyId?: string;
  /**
   * Protect the data: `prevent_destroy` on EBS data volumes and EFS. Turn off only for throw-away
   * clusters. RDS has its own switch, `Database.rds({ deletionProtection })` (deletion protection
   * and a final snapshot, on by default), which this one does not change.
   * @default true
   */
  readonly protectData?: boolean;
  /**
   * Give nodes a public IPv4 address. They need outbound internet access for packages, mail and
   * (S3 file delivery, SSM secrets) their configuration; inbound stays closed by the security
   * groups except the load-balancer frontends. `false` leaves the nodes without any way out (no
   * NAT gateway, no VPC endpoints are created): add them yourself (a warning says so).
   * @default true (no NAT gateway is created)
   */
  readonly associatePublicIpAddress?: boolean;
  /**
   * Tags on every resource that takes them. `Name` and `grommunio:*` are the platform's own: yours
   * are replaced (a warning says so).
   * @default {}
   */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * Name prefix of the cluster's SSM parameters (database and admin passwords as SecureString, TLS
   * keys as SecureString, certificates as String): `<prefix>/<secret id>`.
   * @default `/grommunio/<stack name>/<cluster name>`
   */
  readonly secretsPrefix?: string;
  /**
   * How the nodes' configuration files reach them. `s3`: one private bucket per cluster keeps each
   * node's files (those without Terraform values) as one bundle; the user-data carries only a small
   * program and a manifest naming the bundle's key and sha256, and the node's role may read exactly
   * its own bundle. `user-data`: every file travels in the user-data, as before S3 delivery existed.
   *
   * Why S3 by default: AWS takes at most 16 KB of user-data, and the per-peer files (hosts,
   * backends, the servers seed, allow lists) grow with the cluster: from about 30 mailbox nodes
   * the admin, database, load-balancer and classic nodes pass half the limit, and at 250 the
   * user-data no longer fits at all (GRX301). With S3, a node's user-data stays a few KB at any
   * size (docs/platforms.md).
   * @default "s3"
   */
  readonly fileDelivery?: AwsFileDelivery;
  /**
   * With `fileDelivery` "s3": how many earlier versions of each node's bundle the bucket keeps
   * (an integer 1–100). A node's manifest pins the bundle it was given by its sha256, so a running
   * node whose user-data is kept (`configChangePolicy` "ignore") can re-run `grommunio-fetch-files`
   * until more than this many newer versions of its bundle exist; older versions expire a day after
   * they were replaced. Meaningless with `fileDelivery` "user-data" (a warning says so).
   * @default 10
   */
  readonly fileVersionsKept?: number;
}

/**
 * The AWS platform. `Platform.aws(props)` is the same as `new AwsPlatform(props)`.
 *
 * `configChangePolicy` on AWS (docs/platforms.md): `ignore` (default) keeps running instances as
 * they are when their rendered configuration changes (`ignore_changes` on the user-data: no
 * stop/start, new instances get the new configuration); `replace` sets
 * `user_data_replace_on_change`, so a changed node is re-created (its EBS data volume is detached
 * and re-attached, never destroyed).
 */
export class AwsPlatform implements Platform<AwsDeployment> {
  public readonly name = "aws";
  public readonly capabilities = AWS_CAPABILITIES;

  constructor(public readonly props: AwsPlatformProps = {}) {}

  public bind(scope: Construct, context: PlatformBindContext): AwsDeployment {
    return new AwsDeployment(scope, this.props, context);
  }
}

/** A machine on AWS: the `aws_instance` is `instance` (and `resource`). */
export class AwsMachine implements PlatformMachine {
  /** The Elastic IP of the machine, once `publicAddresses` was asked (DNS needs a stable address). */
  public eip?: Eip;
  private instanceIdToken?: string;

  constructor(
    public readonly name: string,
    public readonly privateIpv4: string,
    public readonly instance: Instance,
    private readonly tags: Readonly<Record<string, string>> = {},
  ) {}

  public get resource(): Instance {
    return this.instance;
  }

  /** The instance's id as one token string, made on first use (every read of `instance.id` makes a new token). */
  public get instanceId(): string {
    return (this.instanceIdToken ??= attribute(this.instance, "id"));
  }

  /**
   * An Elastic IP for the instance, created on the first call: an auto-assigned public IPv4
   * changes at every stop/start, an A record, SPF term or PTR needs one that does not. No IPv6
   * (the VPC has no IPv6 block).
   */
  public publicAddresses(): PublicAddresses {
    if (!this.eip) {
      this.eip = new Eip(this.instance.node.scope!, "public-ip", {
        domain: "vpc",
        instance: this.instanceId,
        tags: { ...this.tags, Name: `${this.name}-public` },
      });
    }
    return { ipv4: attribute(this.eip, "public_ip") };
  }

  public setUserData(userData: UserData): void {
    if (userData.encoding === "gzip-base64") this.instance.userDataBase64 = userData.value;
    else this.instance.userData = userData.value;
  }
}

function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

function isIpv6(cidr: string): boolean {
  return parseIpv4(cidr.split("/")[0] ?? "") === undefined;
}

function peerName(peer: FirewallPeer): string {
  if ("group" in peer) return peer.group;
  if ("service" in peer) return `svc-${peer.service}`;
  return slug(peer.cidr);
}

/** The per-cluster AWS deployment. Its resources are reachable as properties. */
export class AwsDeployment implements PlatformDeployment {
  public readonly network: PlatformNetwork;
  public readonly vpc: Vpc;
  public readonly subnet: Subnet;
  public readonly internetGateway: InternetGateway;
  public readonly routeTable: RouteTable;
  /** Security group per firewall group name (after synth). */
  public readonly securityGroups = new Map<string, SecurityGroup>();
  /** Security groups of the managed services (created with them: NLB SGs only at creation). */
  public readonly serviceSecurityGroups = new Map<ManagedService, SecurityGroup>();
  public readonly machines = new Map<string, AwsMachine>();
  /** The network load balancer's Elastic IP (after `addLoadBalancer`). */
  public loadBalancerEip?: Eip;
  /** The VPC, cluster and services blocks. */
  public readonly layout: AwsNetworkLayout;
  private readonly networkScope: Construct;
  private readonly tags: Record<string, string>;
  private servicesSubnetsCache?: [Subnet, Subnet];
  /** Each machine's IAM role and instance profile (created when a store grants it something). */
  private readonly identities: MachineIdentities;
  private azs?: DataAwsAvailabilityZones;
  private amiId?: string;
  private keyPairNameToken?: string;
  /** Instance types of the user's already looked up (`checkedInstanceType`). */
  private readonly checkedTypes = new Set<string>();
  /*
   * Attribute tokens read once and reused: every read of a cdktf attribute getter (`vpc.id`, …)
   * makes a new Reference that captures a full stack trace; the same token string resolves the
   * same way, so the output is unchanged.
   */
  private readonly vpcId: string;
  private readonly subnetId: string;
  private readonly routeTableId: string;
  private subnetZone?: string;
  private servicesSubnetIdsCache?: [string, string];
  /** Security group id tokens (firewall groups and service groups). */
  private readonly securityGroupIds = new Map<SecurityGroup, string>();

  constructor(
    private readonly scope: Construct,
    private readonly props: AwsPlatformProps,
    private readonly context: PlatformBindContext,
  ) {
    this.tags = { ...(props.tags ?? {}), "grommunio:cluster": context.clusterName };
    this.identities = new MachineIdentities({
      clusterName: context.clusterName,
      tags: this.tags,
      instance: (name) => this.machines.get(name)?.instance,
    });
    const result = awsNetworkLayout(context.network.cidr, props.vpcCidr);
    let layout: AwsNetworkLayout;
    if ("problem" in result) {
      // The cluster network itself is checked by the topology (GRX004) and the cluster (GRX205,
      // against `capabilities.subnet`); the VPC block is ours.
      if (result.problem.field === "vpcCidr") {
        context.report({ code: "GRX220", path: context.clusterPath, ...result.problem });
      }
      layout = { vpc: "10.0.0.0/16", cluster: "10.0.0.0/24", servicesA: "10.0.1.0/25", servicesB: "10.0.1.128/25" };
    } else {
      layout = result.layout;
    }
    this.layout = layout;
    Annotations.of(scope).addWarning(
      "AWS blocks outbound port 25 on new accounts: classic nodes cannot deliver to the internet until " +
        "AWS lifts the restriction (EC2 'email sending limitations' request) or postfix relays through a smarthost.",
    );
    this.networkScope = new Construct(scope, "network");
    this.vpc = new Vpc(this.networkScope, "vpc", {
      cidrBlock: layout.vpc,
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags: { ...this.tags, Name: `${context.clusterName}-vpc` },
    });
    this.vpcId = attribute(this.vpc, "id");
    this.subnet = new Subnet(this.networkScope, "subnet", {
      vpcId: this.vpcId,
      cidrBlock: layout.cluster,
      availabilityZone:
        props.availabilityZone ??
        (props.secondAvailabilityZone === undefined
          ? this.zone(0)
          : this.zoneOtherThan(0, props.secondAvailabilityZone)),
      mapPublicIpOnLaunch: false,
      tags: { ...this.tags, Name: `${context.clusterName}-nodes` },
    });
    this.subnetId = attribute(this.subnet, "id");
    this.internetGateway = new InternetGateway(this.networkScope, "igw", {
      vpcId: this.vpcId,
      tags: { ...this.tags, Name: `${context.clusterName}-igw` },
    });
    this.routeTable = new RouteTable(this.networkScope, "routes", {
      vpcId: this.vpcId,
      tags: { ...this.tags, Name: `${context.clusterName}-routes` },
    });
    this.routeTableId = attribute(this.routeTable, "id");
    new Route(this.networkScope, "default-route", {
      routeTableId: this.routeTableId,
      destinationCidrBlock: "0.0.0.0/0",
      gatewayId: attribute(this.internetGateway, "id"),
    });
    new RouteTableAssociation(this.networkScope, "subnet-routes", {
      subnetId: this.subnetId,
      routeTableId: this.routeTableId,
    });
    this.network = { cidr: layout.cluster, resource: this.vpc };
    if (props.secretsPrefix !== undefined && !SSM_PREFIX.test(props.secretsPrefix)) {
      context.report({
        code: "GRX221",
        path: context.clusterPath,
        field: "secretsPrefix",
        message: `"${props.secretsPrefix}" is not an SSM parameter path.`,
        fix: 'Give "/"-separated segments of letters, digits, _ . - (not starting with /aws or /ssm), e.g. /grommunio/prod/mail.',
      });
    }
    if (props.fileDelivery !== undefined && !AWS_FILE_DELIVERIES.includes(props.fileDelivery)) {
      context.report({
        code: "GRX222",
        path: context.clusterPath,
        field: "fileDelivery",
        message: `"${String(props.fileDelivery)}" is not a file delivery.`,
        fix: `Use one of: ${AWS_FILE_DELIVERIES.join(", ")} (or omit it: s3).`,
      });
    }
    this.checkProps(scope, props, context);
    const kept = props.fileVersionsKept;
    if (kept !== undefined && !(Number.isInteger(kept) && kept >= 1 && kept <= MAX_FILE_VERSIONS_KEPT)) {
      context.report({
        code: "GRX223",
        path: context.clusterPath,
        field: "fileVersionsKept",
        message: `${String(kept)} is not a number of bundle versions to keep (an integer 1–${MAX_FILE_VERSIONS_KEPT}).`,
        fix: `Give an integer from 1 to ${MAX_FILE_VERSIONS_KEPT}, or omit it (${DEFAULT_FILE_VERSIONS_KEPT}).`,
      });
    }
  }

  /**
   * Inputs AWS would refuse only at apply, after the VPC and more were created (GRX226, GRX227),
   * and inputs that take no effect (warnings).
   */
  private checkProps(scope: Construct, props: AwsPlatformProps, context: PlatformBindContext): void {
    const literal = (v: string | undefined): v is string => v !== undefined && !Token.isUnresolved(v);
    const region = literal(props.region) ? props.region : undefined;
    const zones = [
      ["availabilityZone", props.availabilityZone],
      ["secondAvailabilityZone", props.secondAvailabilityZone],
    ] as const;
    for (const [field, zone] of zones) {
      // Zone names are the region's name and a letter (eu-central-1a), or a Local/Wavelength
      // Zone's `-<group>` suffix (us-west-2-lax-1a).
      if (region === undefined || !literal(zone)) continue;
      const suffix = zone.startsWith(region) ? zone.slice(region.length) : "";
      if (!/^(?:[a-z]|-[a-z0-9])/.test(suffix)) {
        context.report({
          code: "GRX226",
          path: context.clusterPath,
          field,
          message: `"${zone}" is not an availability zone of ${region}: AWS refuses the subnet at apply, after the VPC was created.`,
          fix: `Give a zone name of ${region} (aws ec2 describe-availability-zones --region ${region}), e.g. ${region}a, or omit it.`,
        });
      }
    }
    if (literal(props.availabilityZone) && props.availabilityZone === props.secondAvailabilityZone) {
      context.report({
        code: "GRX226",
        path: context.clusterPath,
        field: "secondAvailabilityZone",
        message: `availabilityZone and secondAvailabilityZone are both ${props.availabilityZone}: an RDS subnet group needs subnets in two zones (AWS refuses it at apply: DBSubnetGroupDoesNotCoverEnoughAZs).`,
        fix: "Give another zone of the region, or omit secondAvailabilityZone (default: an available zone other than availabilityZone).",
      });
    }
    const root = props.rootVolumeSizeGb;
    const [minRoot, maxRoot] = EBS_VOLUME_TYPES[EBS_DEFAULT_VOLUME_TYPE]!.sizeGiB;
    if (root !== undefined && !(Number.isInteger(root) && root >= minRoot && root <= maxRoot)) {
      context.report({
        code: "GRX227",
        path: context.clusterPath,
        field: "rootVolumeSizeGb",
        message: `${String(root)} is not a gp3 root volume size (a whole number of GiB from ${minRoot} to ${maxRoot}): AWS refuses every instance at apply.`,
        fix: "Give e.g. 20 (the default; not smaller than the image), or omit it.",
      });
    }
    const ownTags = Object.keys(props.tags ?? {}).filter((k) => AWS_OWN_TAGS.includes(k));
    if (ownTags.length > 0) {
      Annotations.of(scope).addWarning(
        `tags ${ownTags.join(", ")}: the platform sets these itself (Name per resource, grommunio:* for the cluster's ` +
          "bookkeeping), so your values are replaced on the resources that carry them. Use other keys.",
      );
    }
    if (props.associatePublicIpAddress === false) {
      Annotations.of(scope).addWarning(
        "associatePublicIpAddress: false leaves the nodes without a way out of the VPC (no NAT gateway, no VPC endpoints " +
          "are created): at first boot they cannot install packages, fetch their files from S3 or their secrets from SSM. " +
          "Add a NAT gateway (or endpoints and a package mirror) to deployment.routeTable, or keep the default.",
      );
    }
    if (props.fileVersionsKept !== undefined && props.fileDelivery === "user-data") {
      Annotations.of(scope).addWarning(
        `fileVersionsKept (${String(props.fileVersionsKept)}) has no effect with fileDelivery "user-data": there is no bucket of bundles.`,
      );
    }
  }

  /** The SSM parameter store of the cluster's secrets (after synth). */
  public secrets?: SsmSecretStore;

  public addSecretStore(scope: Construct, spec: SecretStoreSpec): SecretStore {
    const stack = TerraformStack.of(this.scope).node.id;
    const prefix =
      this.props.secretsPrefix !== undefined && SSM_PREFIX.test(this.props.secretsPrefix)
        ? this.props.secretsPrefix
        : `/grommunio/${stack}/${this.context.clusterName}`.replace(/[^A-Za-z0-9_./-]/g, "-");
    this.secrets = new SsmSecretStore(scope, spec, {
      prefix,
      ...(this.props.kmsKeyId !== undefined ? { kmsKeyId: this.props.kmsKeyId } : {}),
      tags: this.tags,
      clusterName: this.context.clusterName,
      identities: this.identities,
    });
    return this.secrets;
  }

  /** The S3 bucket of the nodes' configuration files (after synth, with `fileDelivery` "s3"). */
  public files?: S3FileStore;

  public addFileStore(scope: Construct): FileStore | undefined {
    if ((this.props.fileDelivery ?? "s3") !== "s3") return undefined;
    this.files = new S3FileStore(scope, {
      clusterName: this.context.clusterName,
      tags: this.tags,
      ...(this.props.kmsKeyId !== undefined ? { kmsKeyId: this.props.kmsKeyId } : {}),
      ...(this.props.fileVersionsKept !== undefined ? { versionsKept: this.props.fileVersionsKept } : {}),
      identities: this.identities,
      tokens: this.context.tokens,
    });
    return this.files;
  }

  private zone(index: number): string {
    this.azs ??= new DataAwsAvailabilityZones(this.networkScope, "zones", { state: "available" });
    return Token.asString(Fn.element(this.azs.names, index));
  }

  /**
   * The region's available zone at `index` (0 or 1), or the other of the first two when that one
   * is `avoid` (a zone given for the other subnet): two subnets of one zone would make the RDS
   * subnet group fail at apply.
   */
  private zoneOtherThan(index: 0 | 1, avoid: string): string {
    const other = index === 0 ? 1 : 0;
    return Token.asString(Fn.conditional(Op.eq(this.zone(index), avoid), this.zone(other), this.zone(index)));
  }

  /** The services subnets (NLB, EFS, RDS), created on first use. */
  private servicesSubnets(): [Subnet, Subnet] {
    if (!this.servicesSubnetsCache) {
      const make = (id: string, cidr: string, az: string) => {
        const s = new Subnet(this.networkScope, id, {
          vpcId: this.vpcId,
          cidrBlock: cidr,
          availabilityZone: az,
          mapPublicIpOnLaunch: false,
          tags: { ...this.tags, Name: `${this.context.clusterName}-${id}` },
        });
        const subnetId = attribute(s, "id");
        new RouteTableAssociation(this.networkScope, `${id}-routes`, {
          subnetId,
          routeTableId: this.routeTableId,
        });
        return { s, subnetId };
      };
      const a = make("services-a", this.layout.servicesA, this.availabilityZone());
      const first = this.props.availabilityZone;
      const b = make(
        "services-b",
        this.layout.servicesB,
        this.props.secondAvailabilityZone ?? (first === undefined ? this.zone(1) : this.zoneOtherThan(1, first)),
      );
      this.servicesSubnetsCache = [a.s, b.s];
      this.servicesSubnetIdsCache = [a.subnetId, b.subnetId];
    }
    return this.servicesSubnetsCache;
  }

  /** The services subnets' ids (one token each). */
  private servicesSubnetIds(): [string, string] {
    this.servicesSubnets();
    return this.servicesSubnetIdsCache!;
  }

  /** The cluster subnet's availability zone (one token). */
  private availabilityZone(): string {
    return (this.subnetZone ??= attribute(this.subnet, "availability_zone"));
  }

  /** A security group's id (one token per group). */
  private securityGroupId(sg: SecurityGroup): string {
    let id = this.securityGroupIds.get(sg);
    if (id === undefined) {
      id = attribute(sg, "id");
      this.securityGroupIds.set(sg, id);
    }
    return id;
  }

  private ami(): string {
    if (this.props.ami !== undefined) return this.props.ami;
    if (this.amiId === undefined) {
      const image = AWS_IMAGES[this.context.os] ?? AWS_IMAGES["debian-12"];
      const data = new DataAwsAmi(this.scope, "image", {
        mostRecent: true,
        owners: [image.owner],
        filter: [
          { name: "name", values: [image.name] },
          { name: "architecture", values: ["x86_64"] },
          { name: "virtualization-type", values: ["hvm"] },
        ],
      });
      this.amiId = attribute(data, "id");
    }
    return this.amiId;
  }

  /**
   * The key pair's name, read through `data "aws_key_pair"` when it is a literal: a name that does
   * not exist fails the plan, not the apply after the VPC, buckets and roles were created.
   */
  private keyPairName(): string | undefined {
    const name = this.props.keyName;
    if (name === undefined || Token.isUnresolved(name)) return name;
    if (this.keyPairNameToken === undefined) {
      const data = new DataAwsKeyPair(this.scope, "key-pair", { keyName: name });
      this.keyPairNameToken = attribute(data, "key_name");
    }
    return this.keyPairNameToken;
  }

  /**
   * An instance type of the user's (`instanceTypes`, a node's `size`), looked up once through
   * `data "aws_ec2_instance_type"`: a typo or a type the region does not offer fails the plan, not
   * the apply halfway. The defaults are not looked up.
   */
  private checkedInstanceType(type: string): string {
    if (Token.isUnresolved(type) || this.checkedTypes.has(type)) return type;
    this.checkedTypes.add(type);
    new DataAwsEc2InstanceType(this.scope, `instance-type-${slug(type)}`, { instanceType: type });
    return type;
  }

  public addMachine(scope: Construct, spec: MachineSpec): AwsMachine {
    const ignore = [
      ...(this.props.ami === undefined ? ["ami"] : []),
      ...(spec.configChangePolicy === "ignore" ? ["user_data", "user_data_base64"] : []),
    ];
    const given = spec.size ?? this.props.instanceTypes?.[spec.primaryRole];
    const instance = new Instance(scope, "instance", {
      ami: this.ami(),
      instanceType:
        given === undefined ? AWS_DEFAULT_INSTANCE_TYPES[spec.primaryRole] : this.checkedInstanceType(given),
      subnetId: this.subnetId,
      privateIp: spec.privateIpv4,
      associatePublicIpAddress: this.props.associatePublicIpAddress ?? true,
      ...(this.props.keyName !== undefined ? { keyName: this.keyPairName() } : {}),
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      rootBlockDevice: {
        encrypted: true,
        volumeType: "gp3",
        volumeSize: this.props.rootVolumeSizeGb ?? 20,
        deleteOnTermination: true,
        ...(this.props.kmsKeyId !== undefined ? { kmsKeyId: this.props.kmsKeyId } : {}),
      },
      userDataReplaceOnChange: spec.configChangePolicy === "replace",
      ...(ignore.length ? { lifecycle: { ignoreChanges: ignore } } : {}),
      tags: {
        ...this.tags,
        Name: spec.hostname,
        "grommunio:node": spec.name,
        "grommunio:roles": [...spec.roles].sort().join(" "),
      },
    });
    const machine = new AwsMachine(spec.name, spec.privateIpv4, instance, this.tags);
    this.machines.set(spec.name, machine);
    return machine;
  }

  public addVolume(scope: Construct, machine: PlatformMachine, spec: VolumeSpec): PlatformVolume {
    // Type, size, IOPS and throughput EC2 would refuse only at apply (GRX229, GRX230).
    for (const problem of ebsVolumeProblems(spec, (v) => Token.isUnresolved(v)))
      this.context.report({ path: `${scope.node.path}/${spec.id}`, ...problem });
    const aws = this.machines.get(machine.name);
    const attached = [...scope.node.children].filter((c) => c instanceof VolumeAttachment).length;
    const protect = this.props.protectData ?? true;
    const volume = new EbsVolume(scope, `${spec.id}-volume`, {
      availabilityZone: this.availabilityZone(),
      size: spec.sizeGb,
      type: spec.type ?? EBS_DEFAULT_VOLUME_TYPE,
      encrypted: true,
      ...(this.props.kmsKeyId !== undefined ? { kmsKeyId: this.props.kmsKeyId } : {}),
      ...(spec.iops !== undefined ? { iops: spec.iops } : {}),
      ...(spec.throughputMiBps !== undefined ? { throughput: spec.throughputMiBps } : {}),
      ...(protect ? { lifecycle: { preventDestroy: true } } : {}),
      tags: {
        ...this.tags,
        Name: `${machine.name}-${spec.id}`,
        "grommunio:node": machine.name,
        "grommunio:purpose": spec.purpose,
      },
    });
    // One token for both uses: every read of `volume.id` makes a new token.
    const volumeId = attribute(volume, "id");
    new VolumeAttachment(scope, `${spec.id}-attachment`, {
      deviceName: DEVICE_NAMES[attached] ?? `/dev/sd${String.fromCharCode(102 + attached)}`,
      volumeId,
      instanceId: aws?.instanceId ?? "",
      stopInstanceBeforeDetaching: true,
    });
    const idWithoutDash = Fn.replace(volumeId, "-", "");
    this.context.tokens.declareToken(idWithoutDash, {
      maxLength: 24,
      charset: "safe",
      description: `the EBS volume id of ${machine.name}/${spec.id}`,
    });
    return { resource: volume, devicePath: `${EBS_NVME_BY_ID}${idWithoutDash}` };
  }

  /** The security group of a managed service, created with the service. */
  private serviceGroup(scope: Construct, service: ManagedService, description: string): SecurityGroup {
    let sg = this.serviceSecurityGroups.get(service);
    if (!sg) {
      sg = new SecurityGroup(scope, "security-group", {
        name: `${this.context.clusterName}-${service}`,
        description,
        vpcId: this.vpcId,
        tags: { ...this.tags, Name: `${this.context.clusterName}-${service}` },
      });
      this.serviceSecurityGroups.set(service, sg);
    }
    return sg;
  }

  public addSharedFileSystem(scope: Construct, spec: SharedFileSystemSpec): SharedFileSystem {
    const [servicesA] = this.servicesSubnetIds();
    const sg = this.serviceGroup(scope, "shared-storage", "EFS mount target of the grommunio mailbox store");
    const fs = new EfsFileSystem(scope, "file-system", {
      encrypted: true,
      ...(this.props.kmsKeyId !== undefined ? { kmsKeyId: this.props.kmsKeyId } : {}),
      performanceMode: "generalPurpose",
      throughputMode: "elastic",
      ...((this.props.protectData ?? true) ? { lifecycle: { preventDestroy: true } } : {}),
      tags: { ...this.tags, Name: `${this.context.clusterName}-mailstore` },
    });
    const target = new EfsMountTarget(scope, "mount-target", {
      fileSystemId: fs.id,
      subnetId: servicesA,
      securityGroups: [this.securityGroupId(sg)],
    });
    // One token string, declared and used (each getter call would make a new token).
    const address = target.ipAddress;
    this.context.tokens.declareToken(address, {
      maxLength: 15,
      charset: "safe",
      description: "the EFS mount target address",
    });
    void spec;
    return {
      resource: fs,
      source: `${address}:/`,
      fsType: "nfs4",
      options: "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,_netdev,nofail",
      clientPackages: ["nfs-common"],
    };
  }

  public addManagedDatabase(scope: Construct, spec: ManagedDatabaseSpec): ManagedDatabase {
    const [a, b] = this.servicesSubnetIds();
    const sg = this.serviceGroup(scope, "database", "RDS MariaDB of the grommunio cluster");
    const protect = spec.deletionProtection;
    const subnets = new DbSubnetGroup(scope, "subnet-group", {
      namePrefix: `${this.context.clusterName}-`,
      subnetIds: [a, b],
      tags: this.tags,
    });
    const db = new DbInstance(scope, "instance", {
      identifierPrefix: `${this.context.clusterName}-`,
      engine: spec.engine,
      engineVersion: spec.engineVersion ?? "10.11",
      instanceClass: spec.size ?? "db.t4g.medium",
      allocatedStorage: spec.storageGb,
      storageType: "gp3",
      storageEncrypted: true,
      ...(this.props.kmsKeyId !== undefined ? { kmsKeyId: this.props.kmsKeyId } : {}),
      dbName: spec.databaseName,
      username: spec.user,
      password: spec.password,
      dbSubnetGroupName: subnets.name,
      vpcSecurityGroupIds: [this.securityGroupId(sg)],
      availabilityZone: this.availabilityZone(),
      multiAz: false,
      publiclyAccessible: false,
      backupRetentionPeriod: 7,
      copyTagsToSnapshot: true,
      deletionProtection: protect,
      skipFinalSnapshot: !protect,
      ...(protect ? { finalSnapshotIdentifier: `${this.context.clusterName}-final` } : {}),
      tags: { ...this.tags, Name: `${this.context.clusterName}-db` },
    });
    const zoneName = spec.hostname.split(".").slice(1).join(".");
    const zone = new Route53Zone(scope, "zone", {
      name: zoneName,
      vpc: [{ vpcId: this.vpcId }],
      comment: `private names of the grommunio cluster ${this.context.clusterName}`,
      tags: this.tags,
    });
    new Route53Record(scope, "record", {
      zoneId: zone.zoneId,
      name: spec.hostname,
      type: "CNAME",
      ttl: 60,
      records: [db.address],
    });
    return { resource: db, host: spec.hostname, port: PORTS.mysql.port };
  }

  public addLoadBalancer(scope: Construct, spec: CloudLoadBalancerSpec): CloudLoadBalancer {
    const [servicesA] = this.servicesSubnetIds();
    const sg = this.serviceGroup(scope, "load-balancer", "NLB in front of the grommunio load-balancer tier");
    const sgId = this.securityGroupId(sg);
    for (const l of spec.listeners) {
      for (const cidr of l.allowFrom) {
        new VpcSecurityGroupIngressRule(scope, `${l.portKey}-from-${slug(cidr)}`, {
          securityGroupId: sgId,
          ipProtocol: "tcp",
          fromPort: l.port,
          toPort: l.port,
          ...(isIpv6(cidr) ? { cidrIpv6: cidr } : { cidrIpv4: cidr }),
          description: `${l.portKey} from ${cidr}`,
        });
      }
    }
    new VpcSecurityGroupEgressRule(scope, "egress-vpc", {
      securityGroupId: sgId,
      ipProtocol: "-1",
      cidrIpv4: this.layout.vpc,
      description: "to the load-balancer tier and its health checks",
    });
    // A fixed public address (Elastic IP): the mail host's A record and PTR need one; an NLB's
    // own addresses may change (platforms.md §5, docs/dns.md "Inputs").
    const eip = new Eip(scope, "nlb-ip", {
      domain: "vpc",
      tags: { ...this.tags, Name: `${this.context.clusterName}-nlb` },
    });
    this.loadBalancerEip = eip;
    const lb = new Lb(scope, "nlb", {
      loadBalancerType: "network",
      internal: false,
      subnetMapping: [{ subnetId: servicesA, allocationId: eip.allocationId }],
      // Security groups can only be attached when an NLB is created (platforms.md §5).
      securityGroups: [sgId],
      tags: { ...this.tags, Name: `${this.context.clusterName}-nlb` },
    });
    const lbArn = lb.arn;
    for (const l of spec.listeners) {
      const tg = new LbTargetGroup(scope, `${l.portKey}-targets`, {
        port: l.port,
        protocol: "TCP",
        vpcId: this.vpcId,
        targetType: "instance",
        // Exactly the listeners whose tier frontends expect it (acceptProxyFrom "cloud-lb").
        proxyProtocolV2: l.proxyProtocol,
        preserveClientIp: "true",
        deregistrationDelay: "30",
        healthCheck: {
          protocol: "TCP",
          port: "traffic-port",
          interval: 10,
          healthyThreshold: 3,
          unhealthyThreshold: 3,
        },
        tags: { ...this.tags, Name: `${this.context.clusterName}-${l.portKey}` },
      });
      const targetGroupArn = tg.arn;
      new LbListener(scope, `${l.portKey}-listener`, {
        loadBalancerArn: lbArn,
        port: l.port,
        protocol: "TCP",
        defaultAction: [{ type: "forward", targetGroupArn }],
      });
      for (const name of spec.targets) {
        const m = this.machines.get(name);
        if (!m) continue;
        new LbTargetGroupAttachment(scope, `${l.portKey}-${name}`, {
          targetGroupArn,
          targetId: m.instanceId,
          port: l.port,
        });
      }
    }
    return { resource: lb, dnsName: lb.dnsName, publicAddresses: { ipv4: [eip.publicIp], ipv6: [] } };
  }

  /**
   * Reverse DNS of the Elastic IPs the cluster allocated (the classic and load-balancer nodes'
   * `publicAddresses`, the NLB's): one `aws_eip_domain_name` per address, keyed by the request
   * key, after the forward record (AWS refuses the PTR until the name resolves to the address).
   * Skipped, with the reason: IPv6 (AWS sets no customer PTR for IPv6), and every request whose
   * forward record is not published by `MailDns` in Route53 (the apply would fail; set the PTR
   * once the records resolve, docs/dns.md).
   */
  public addReverseDns(scope: Construct, requests: readonly ReverseDnsRequest[]): ReverseDnsResult {
    const resources: Record<string, EipDomainName> = {};
    const skipped: { key: string; reason: string }[] = [];
    for (const r of requests) {
      const eip = "machine" in r.owner ? this.machines.get(r.owner.machine)?.eip : this.loadBalancerEip;
      if (r.family === "ipv6") {
        skipped.push({ key: r.key, reason: "AWS offers no reverse DNS for IPv6 addresses" });
      } else if (!eip) {
        skipped.push({ key: r.key, reason: `${r.address} is not an Elastic IP of this cluster` });
      } else if (r.forward.length === 0) {
        skipped.push({
          key: r.key,
          reason:
            `AWS sets the PTR of ${r.name} only once its A record resolves, which MailDns does not publish here ` +
            "(no route53): set it after publishing the zone (aws_eip_domain_name, or the EC2 console)",
        });
      } else {
        resources[r.key] = new EipDomainName(scope, r.key, {
          allocationId: eip.allocationId,
          domainName: r.name,
          dependsOn: [...r.forward],
        });
      }
    }
    return { resources, skipped };
  }

  public applyFirewall(scope: Construct, plan: FirewallPlan): void {
    // At synth, so a provider the user adds after the cluster is found (no duplicate).
    if (this.props.region !== undefined) {
      const other = ensureProvider(this.scope, this.props.region);
      if (other !== undefined) {
        this.context.report({
          code: "GRX228",
          path: this.context.clusterPath,
          field: "region",
          message: `region is ${this.props.region}, but the stack's own AWS provider (${other.node.path}) deploys to ${String(other.region)}: the cluster's resources would go there.`,
          fix: "Give the platform the provider's region, or omit region (the stack's provider decides).",
        });
      }
    }
    const groupScope = (name: string) => new Construct(scope, name);
    const scopes = new Map<string, Construct>();
    for (const g of plan.groups) {
      const s = groupScope(g.name);
      scopes.set(g.name, s);
      const sg = new SecurityGroup(s, "security-group", {
        name: `${this.context.clusterName}-${g.name}`,
        description: g.description,
        vpcId: this.vpcId,
        tags: { ...this.tags, Name: `${this.context.clusterName}-${g.name}` },
      });
      this.securityGroups.set(g.name, sg);
      const sgId = this.securityGroupId(sg);
      new VpcSecurityGroupEgressRule(s, "egress-ipv4", {
        securityGroupId: sgId,
        ipProtocol: "-1",
        cidrIpv4: "0.0.0.0/0",
        description: "outbound: packages, DNS, mail",
      });
      new VpcSecurityGroupEgressRule(s, "egress-ipv6", {
        securityGroupId: sgId,
        ipProtocol: "-1",
        cidrIpv6: "::/0",
        description: "outbound: packages, DNS, mail",
      });
    }
    // Each group's id token read once (`securityGroupId`): two reads per rule otherwise.
    const idOf = (sg: SecurityGroup): string => this.securityGroupId(sg);
    const targetSg = (t: FirewallPlan["rules"][number]["target"]) =>
      "group" in t ? this.securityGroups.get(t.group) : this.serviceSecurityGroups.get(t.service);
    for (const rule of plan.rules) {
      const sg = targetSg(rule.target);
      if (!sg) continue; // a service the deployment did not create (reported by the cluster)
      const ownerName = "group" in rule.target ? rule.target.group : `svc-${rule.target.service}`;
      let owner = scopes.get(ownerName);
      if (!owner) {
        owner = groupScope(ownerName);
        scopes.set(ownerName, owner);
      }
      const src = rule.source;
      let peer: { referencedSecurityGroupId: string } | { cidrIpv4: string } | { cidrIpv6: string } | undefined;
      if ("group" in src) {
        const ref = this.securityGroups.get(src.group);
        if (ref) peer = { referencedSecurityGroupId: idOf(ref) };
      } else if ("service" in src) {
        const ref = this.serviceSecurityGroups.get(src.service);
        if (ref) peer = { referencedSecurityGroupId: idOf(ref) };
      } else {
        peer = isIpv6(src.cidr) ? { cidrIpv6: src.cidr } : { cidrIpv4: src.cidr };
      }
      if (!peer) continue;
      new VpcSecurityGroupIngressRule(owner, rule.key, {
        securityGroupId: idOf(sg),
        ipProtocol: rule.protocol,
        fromPort: rule.port,
        toPort: rule.port,
        ...peer,
        description: `${rule.description} from ${peerName(src)}`.slice(0, 255),
      });
    }
    // Attach: every machine gets the groups it is a member of.
    const max = AWS_CAPABILITIES.firewall.maxGroupsPerMachine ?? 5;
    for (const [name, machine] of this.machines) {
      const groups = plan.groups.filter((g) => g.members.some((m) => m.name === name)).map((g) => g.name);
      if (groups.length > max) {
        this.context.report({
          code: "GRX214",
          path: machine.instance.node.scope?.node.path ?? name,
          field: "roles",
          message: `${name} needs ${groups.length} security groups (${groups.join(", ")}); AWS attaches at most ${max} to an instance.`,
          fix: "Spread the roles over more nodes (e.g. a separate admin node).",
        });
      }
      machine.instance.vpcSecurityGroupIds = groups.map((g) => idOf(this.securityGroups.get(g)!));
    }
  }
}

/**
 * Adds `provider "aws" { region }` unless the stack already has an AWS provider. Returns the
 * stack's default (unaliased) provider when its region is another literal one.
 */
function ensureProvider(scope: Construct, region: string): AwsProvider | undefined {
  const stack = TerraformStack.of(scope);
  const providers = stack.node.findAll().filter((c): c is AwsProvider => c instanceof AwsProvider);
  if (providers.length === 0) {
    new AwsProvider(stack, "aws", { region });
    return undefined;
  }
  return providers.find(
    (p) =>
      p.alias === undefined &&
      p.region !== undefined &&
      !Token.isUnresolved(p.region) &&
      !Token.isUnresolved(region) &&
      p.region !== region,
  );
}
