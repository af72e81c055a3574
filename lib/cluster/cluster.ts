/**
 * `GrommunioCluster`: the composition root. It owns the platform deployment (network first), the
 * storage and database choices and the secrets; nodes and the load-balancer tier register into it.
 * At synth it builds the `ClusterInput` from what registered, validates it into a `Topology`
 * (collecting every error: construct, platform and topology issues are thrown together), then
 * creates the firewall from the port table, the optional cloud load balancer, and renders and
 * provisions every node's files into its user-data (or hands the provisioning to the platform
 * where there is no cloud-init: `capabilities.bootstrap` "files").
 */
import { Construct } from "constructs";
import { Password } from "@cdktf/provider-random/lib/password";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import type {
  CloudLoadBalancer,
  CloudLoadBalancerListener,
  ConfigChangePolicy,
  FileStore,
  FirewallPlan,
  OperatingSystem,
  Platform,
  PlatformCapabilities,
  PlatformDeployment,
  PublicAddresses,
  SecretSpec,
  SecretStore,
  TokenFacts,
} from "../platforms/platform";
import {
  AccountIds,
  DataMount,
  FILES_MANIFEST_PATH,
  FileBundle,
  NFTABLES_PATH,
  NodeProvisioning,
  OsRepositoryOptions,
  READINESS_DEFAULT_DEVICE,
  ReadinessReportOptions,
  RenderedCloudConfig,
  RepositoryOptions,
  TokenRegistry,
  UserDataReport,
  buildUserData,
  nfsExportsFile,
  storeExportMounts,
  storeExportsFile,
  provisionNode,
  renderCloudConfig,
  splitBundle,
  validateAccountIds,
  validateRepositoryOptions,
  withFileFetch,
} from "../provision";
import {
  Annotations,
  Aspects,
  IAspect,
  TerraformOutput,
  TerraformStack,
  Token,
  attribute,
  dependency,
  withoutCreationStacks,
} from "../provision/cdktf";
import { passwordChecksOf } from "./password-check";
import { MailDns, MailDnsProps } from "../dns/mail-dns";
import { EgressAddresses, MailEntryPoint, mtaStsSite } from "../render/dns";
import { renderMapReaderAccount } from "../render/database";
import { renderNodeFiles } from "../render/node";
import { planAllowRules, renderHostFirewall } from "../render/nftables";
import type { ConfigFile, MtaStsSite } from "../render/types";
import type { DkimSigning } from "../render/dkim";
import {
  ClusterInput,
  ClusterNode,
  GrommunioValidationError,
  IssueCollector,
  PORTS,
  PortKey,
  StorageMode,
  Topology,
  ValidationIssue,
  allowEntryProblem,
  buildTopology,
  canonicalCidr,
  cidrContains,
  isCidrOrAddress,
  isWorld,
  parseIpv4,
  parseIpv4Cidr,
} from "../topology";
import { ClusterContext, ClusterMember, MailboxVolume, TierMember, markCluster } from "./context";
import { Database, DatabaseBinding } from "./database";
import { AddressOwner, DKIM_SECRET_ID, dkimSigningOf, publishReverseDns, rsaPrivateKeyPemBound } from "./dns";
import { checkExposure, ruleId, unenforcedRuleIssues } from "./exposure";
import { Connections, FirewallRules, planFirewall, unknownPeerIssues } from "./firewall";
import { NFS_EXPORT } from "./nodes";
import { ClusterSecurity } from "./security";
import { clusterSql } from "./sql";
import { ClusterStorage, ShareNothing, StorageBinding } from "./storage";
import { Tls } from "./tls";

export interface GrommunioClusterProps<D extends PlatformDeployment = PlatformDeployment> {
  /** Where the cluster runs: `Platform.aws({...})`, `Platform.hcloud({...})`, … */
  readonly platform: Platform<D>;
  /** The mail domain, e.g. `example.com`. */
  readonly domain: string;
  /** gromox version on the nodes (`M.m`), 2.30–3.10; decides the config dialect. */
  readonly gromoxVersion: string;
  /**
   * The private network of the nodes (the platform's subnet for them), e.g. `10.10.10.0/24`.
   * Node addresses are derived from it and from node names; never change it on a running cluster.
   */
  readonly network: { readonly cidr: string };
  /** @default new ShareNothing(): a 100 GiB volume per mailbox node */
  readonly storage?: ClusterStorage;
  /** `Database.onNode()`, `Database.external({...})` or `Database.rds()`. */
  readonly database: Database;
  /** Domain of the nodes' internal FQDNs (`mail1.<internalDomain>`). @default the mail domain */
  readonly internalDomain?: string;
  /** Node running gromox-event/-timer. @default the mailbox node with the lowest serverId */
  readonly hub?: string;
  /** Node that creates and upgrades the schema. @default the hub */
  readonly schemaUpgradeNode?: string;
  /** @default the domain */
  readonly x500OrgName?: string;
  /**
   * CIDRs allowed to reach SSH (22) on every node. A bare address is its /32 or /128; a CIDR
   * with host bits set (`10.1.2.3/8`) is an error (GRX218), not read as its network.
   * @default [] — SSH is closed; use the provider's console or session manager
   */
  readonly sshAllowFrom?: readonly string[];
  /**
   * Accept SSH from the whole internet: required (as a deliberate opt-in) when `sshAllowFrom`, or
   * a rule added through `connections`, opens port 22 to 0.0.0.0/0 or ::/0 (else GRX452).
   * @default false
   */
  readonly allowWorldSsh?: boolean;
  /**
   * Where the TLS certificates come from: `Tls.selfSigned()`, `Tls.certificate({ certificatePem,
   * privateKeyPem })` or `Tls.acme({ email })` (not available yet: GRX453).
   * @default Tls.selfSigned(): a self-signed certificate per node (trials; clients warn)
   */
  readonly tls?: Tls;
  /**
   * Password of grommunio's `admin` user (admin web and API), set at first boot on the first admin
   * node: a Terraform reference (sensitive variable, secret store), at most 128 characters. The
   * plan stops when it starts with `-` or holds a control character (GRX457 for a literal).
   * Without an admin node nothing sets it (a warning says so).
   * @default a random_password of 24 letters and digits (`cluster.adminPassword`), when the
   * cluster has an admin node
   */
  readonly adminPassword?: string;
  /**
   * What happens to a running node when its configuration (user-data) changes: `replace`
   * re-creates it (data volumes survive), `ignore` leaves it running unchanged (new nodes get the
   * new configuration; apply changes out of band). See docs/platforms.md for each platform.
   * @default the platform's `defaultConfigChangePolicy` (AWS: ignore)
   */
  readonly configChangePolicy?: ConfigChangePolicy;
  /** Guest OS. @default "debian-12" */
  readonly os?: OperatingSystem;
  /**
   * grommunio repository overrides (mirror, pinned key). On Docker the packages come from the
   * images: the source file is written into the containers, but nothing installs from it (a synth
   * warning).
   * @default the community repository
   */
  readonly repository?: RepositoryOptions;
  /**
   * Replaces the OS's own package sources on every node with a mirror (air-gapped sites, local
   * caches), signed by the distribution's keys, the mirror's own key, or trusted (a local
   * repository you control). A node that mounts NFS/EFS at boot (SharedStorage) installs its NFS
   * client from the mirror too: its OS sources are written in `bootcmd`, before that install. On
   * Docker the packages come from the images: the sources are written into the containers, but
   * nothing installs from them (a synth warning).
   * @default the image's sources (Debian's or Ubuntu's archive)
   */
  readonly osRepository?: OsRepositoryOptions;
  /**
   * Print a readiness report on every boot once cloud-init has finished all its stages (or the
   * boot is over; at most an hour) (cloud-init status, failed units, this boot's cloud-init.log
   * warnings and errors, an end marker) to a serial console, for operators and boot tests reading
   * the console log. Ignored, with a warning, where there is no cloud-init (Docker).
   * @default none
   */
  readonly readinessReport?: ReadinessReportOptions;
  /**
   * Ship an in-guest nftables firewall (from the same firewall plan) to every node. Turning it
   * off where the platform does not filter the private network is a warning (every node then
   * reaches every port); where the platform has no firewall at all (libvirt, vSphere, Docker) it is
   * an error together with `sshAllowFrom` or a `Peer.cidr` rule, which nothing would enforce
   * (GRX461).
   * @default true when the platform's firewall does not filter the private network (Hetzner,
   * libvirt, vSphere, Docker), false where it does (AWS security groups)
   */
  readonly hostFirewall?: boolean;
  /**
   * The uid/gid of the accounts that own gromox's data: `gromox` (user and group), `gromoxcf`
   * (group), `grommunio` (user and group). Every node that installs gromox or grommunio packages,
   * and the NFS node, creates them with these ids at first boot before any package (which then
   * keeps them): files on NFS travel with numeric ids, so the ids must agree across nodes. Ids are
   * from 100 to 999 (GRX318), each its own (GRX319). A node where a name or an id is already taken
   * otherwise stops its boot steps (readiness status `error`). For a running cluster set them to
   * the ids its nodes have, or renumber first (docs/operations.md). Ignored, with a warning, on
   * Docker (containers come from images).
   * @default { gromox: 470, gromoxcf: 471, grommunio: 472 }: the middle of Debian's dynamic
   * system range 100–999, far from both ends, where adduser (upward from 100), useradd -r and
   * systemd-sysusers (downward from 999) hand ids out
   */
  readonly accountIds?: AccountIds;
}

/** The cloud load balancer step of a cluster: what was created, its listeners, and its issues (reported at synth). */
interface CloudStep {
  lb?: CloudLoadBalancer;
  listeners: CloudLoadBalancerListener[];
  issues: ValidationIssue[];
}

/** What `GrommunioCluster.addDns` takes: `MailDnsProps` without the topology, which is the cluster's. */
export type ClusterDnsProps = Omit<MailDnsProps, "topology" | "records" | "zone" | "entry" | "reverseDns"> & {
  /** Construct id of the `MailDns`. @default "dns" */
  readonly id?: string;
  /**
   * Public addresses of the entry point (the mail host's A/AAAA).
   * @default from the platform: the cloud load balancer's fixed addresses (AWS: the NLB's Elastic
   * IP; Hetzner: the load balancer's IPv4 and IPv6), else the load-balancer nodes' own public
   * addresses (AWS: an Elastic IP per node; Hetzner: the servers' addresses). Required on
   * platforms without public addresses (libvirt, vSphere, Docker).
   */
  readonly entry?: MailEntryPoint;
  /**
   * Sign outgoing mail on the classic nodes with the DKIM key (OpenDKIM after rspamd,
   * lib/render/dkim): the key reaches the nodes like every other secret (Terraform or the
   * platform's secret store), never as text in the synthesized JSON.
   * @default true when the private key is known (generated, or `dkim.privateKeyPem`)
   */
  readonly dkimSigning?: boolean;
  /**
   * Publish PTR records for the addresses the platform allocated (`MailDns.reverseDns`): Hetzner
   * `hcloud_rdns`, AWS `aws_eip_domain_name` (IPv4, after the Route53 A record). What cannot be
   * published comes back as a warning.
   * @default true
   */
  readonly reverseDns?: boolean;
};

/**
 * The mailbox nodes whose stores an admin node cannot create: with ShareNothing, grommunio-admin-api
 * makes a new user's or domain's directories and runs gromox-mkprivate/-mkpublic on its own node
 * (grommunio/admin-api tools/storage.py), at the chosen home server's path. Every other mailbox
 * node exports that path to the admin nodes over NFS (`store-export`), except where the machines
 * cannot mount NFS (Docker containers): there a store the API places on another mailbox node
 * lands on the admin node's disk, where the home node never sees it.
 */
function storesAdminCannotCreate(topology: Topology): ClusterNode[] {
  if (topology.storage !== "share-nothing" || topology.adminNodes.length === 0) return [];
  return topology.mailboxNodes.filter(
    (m) => !m.runs("store-export") && topology.adminNodes.some((a) => a.name !== m.name),
  );
}

function shareNothingAdminWarning(topology: Topology, unreachable: readonly ClusterNode[]): string {
  const admins = topology.adminNodes.map((n) => n.name).join(", ");
  const others = unreachable.map((n) => n.name).join(", ");
  return `ShareNothing with the admin API on ${admins}: grommunio-admin-api creates each new mailbox's store on its own node's disk (it makes the directories and runs gromox-mkprivate locally), and containers cannot mount the other mailbox nodes' stores over NFS (as the admin node does on virtual machines), so users and domains it places on ${others} get a store their home node never sees. Keep one mailbox node, or create mailboxes only on ${admins} (docs/operations.md, "Creating mailboxes").`;
}

/** The cluster. Create nodes with it as scope: `new GromoxNode(cluster, "mail1")`. */
export class GrommunioCluster<D extends PlatformDeployment = PlatformDeployment> extends Construct {
  public readonly platform: Platform<D>;
  public readonly capabilities: PlatformCapabilities;
  /** The platform's per-cluster deployment (e.g. `AwsDeployment`: vpc, subnet, securityGroups). */
  public readonly deployment: D;
  public readonly domain: string;
  public readonly configChangePolicy: ConfigChangePolicy;
  public readonly os: OperatingSystem;
  /** Tokens that may appear in user-data, with their bounds. */
  public readonly tokens = new TokenRegistry();
  /** The firewall plan (after synth). */
  public firewallPlan?: FirewallPlan;
  /**
   * Per node (after synth): the provisioning (everything the node receives, whichever way), the
   * cloud-config text and its size report (the last two only where `capabilities.bootstrap` is
   * `cloud-init`), and, where the platform offers a file store, the bundle of files the node
   * fetches from it instead of receiving them in its user-data.
   */
  public readonly provisioning = new Map<string, NodeProvisioning>();
  public readonly fileBundles = new Map<string, FileBundle>();
  public readonly cloudConfigs = new Map<string, RenderedCloudConfig>();
  public readonly userDataReports = new Map<string, UserDataReport>();
  /** The cluster's DNS records and DKIM key, once `addDns` was called. */
  public dns?: MailDns;

  private readonly props: GrommunioClusterProps<D>;
  private readonly issues = new IssueCollector();
  private readonly members = new Map<string, ClusterMember>();
  private readonly order: ClusterMember[] = [];
  private readonly tiers: TierMember[] = [];
  private readonly extraRules = new FirewallRules();
  private readonly secrets = new Map<string, string>();
  /** Secrets, certificates and their delivery (`lib/cluster/security.ts`). */
  private readonly security: ClusterSecurity;
  private readonly storageBinding: StorageBinding;
  private readonly databaseBinding: DatabaseBinding;
  private topologyCache?: Topology;
  private finalized = false;
  /** What closed the node set before synthesis (`addDns`). */
  private closedBy?: string;
  /** The cloud load balancer step, run once (by `addDns` or at synth). */
  private cloudStep?: CloudStep;
  /** The MTA-STS policy the load-balancer tier serves (from `addDns`'s options). */
  private mtaSts?: MtaStsSite;
  /** DKIM signing on the classic nodes (from `addDns`). */
  private dkimSigning?: DkimSigning;
  /** Who holds each public address the platform returned (for the PTRs). */
  private readonly addressOwners = new Map<string, AddressOwner>();

  constructor(scope: Construct, id: string, props: GrommunioClusterProps<D>) {
    super(scope, id);
    this.props = props;
    this.platform = props.platform;
    this.capabilities = props.platform.capabilities;
    this.domain = props.domain;
    const caps = this.capabilities;
    this.configChangePolicy = props.configChangePolicy ?? caps.defaultConfigChangePolicy;
    this.os = props.os ?? "debian-12";
    this.checkProps();
    this.security = new ClusterSecurity({
      clusterPath: this.node.path,
      scope: this,
      capabilities: caps,
      tls: props.tls ?? Tls.selfSigned(),
      ...(props.adminPassword !== undefined ? { adminPassword: props.adminPassword } : {}),
      secret: (secretId, length) => this.secret(secretId, length),
      declareToken: (value, maxLength, charset, description) =>
        this.declareToken(value, { maxLength, charset, description }),
    });
    this.issues.addAll(this.security.issues);
    // The platform's network, the storage and the database make provider resources: without
    // cdktf's creation stacks (withoutCreationStacks), like every resource the library makes.
    const binding = {
      clusterName: id,
      clusterPath: this.node.path,
      domain: props.domain,
      network: { cidr: props.network.cidr },
      os: this.os,
      report: (issue: ValidationIssue) => this.issues.addAll([issue]),
      tokens: this.tokens,
    };
    this.deployment = withoutCreationStacks(this, () => props.platform.bind(this, binding));
    const context = this.context();
    markCluster(this, context);
    const storage = props.storage ?? new ShareNothing();
    this.storageBinding = withoutCreationStacks(this, () => storage.bind(context));
    (context as { mailboxVolume?: MailboxVolume }).mailboxVolume = this.storageBinding.mailboxVolume;
    (context as { storageMode?: StorageMode }).storageMode = this.storageBinding.mode;
    this.databaseBinding = withoutCreationStacks(this, () => props.database.bind(context, id));
    const finalizer: IAspect = {
      visit: (node) => {
        if (node === this) this.finalize();
      },
    };
    Aspects.of(this).add(finalizer);
  }

  private checkProps(): void {
    const caps = this.capabilities;
    const path = this.node.path;
    if (!caps.configChangePolicies.includes(this.configChangePolicy)) {
      this.issues.add(
        "GRX212",
        path,
        "configChangePolicy",
        `"${this.configChangePolicy}" is not supported on ${this.platform.name} (supported: ${caps.configChangePolicies.join(", ")}).`,
        `Use one of: ${caps.configChangePolicies.join(", ")} (see docs/platforms.md).`,
      );
    }
    if (!caps.operatingSystems.includes(this.os)) {
      this.issues.add(
        "GRX213",
        path,
        "os",
        `"${this.os}" is not available on ${this.platform.name}.`,
        `Use one of: ${caps.operatingSystems.join(", ")}.`,
      );
    }
    const net = parseIpv4Cidr(this.props.network.cidr);
    if (net && (net.prefix < caps.subnet.minPrefix || net.prefix > caps.subnet.maxPrefix)) {
      this.issues.add(
        "GRX205",
        path,
        "network.cidr",
        `${net.text} is a /${net.prefix}; ${this.platform.name} takes cluster networks from /${caps.subnet.minPrefix} to /${caps.subnet.maxPrefix}.`,
        `Use a network of that size, e.g. a /24 such as 10.10.10.0/24.`,
      );
    }
    this.issues.addAll(validateRepositoryOptions(path, this.props.repository, this.props.osRepository));
    this.issues.addAll(validateAccountIds(path, this.props.accountIds));
    const device = this.props.readinessReport?.device;
    if (device !== undefined && !/^\/[A-Za-z0-9._/-]+$/.test(device)) {
      this.issues.add(
        "GRX312",
        path,
        "readinessReport.device",
        `"${device}" is not a device path.`,
        `Give an absolute path such as ${READINESS_DEFAULT_DEVICE}.`,
      );
    }
    for (const cidr of this.props.sshAllowFrom ?? []) {
      const problem = allowEntryProblem(cidr);
      if (!isCidrOrAddress(cidr)) {
        this.issues.add(
          "GRX218",
          path,
          "sshAllowFrom",
          `"${cidr}" is not an address or CIDR.`,
          "Use forms like 198.51.100.0/24 or 2001:db8::/48.",
        );
      } else if (problem) {
        this.issues.add("GRX218", path, "sshAllowFrom", problem.message, problem.fix);
      }
    }
  }

  private context(): ClusterContext {
    return {
      construct: this,
      deployment: this.deployment,
      capabilities: this.capabilities,
      domain: this.props.domain,
      internalDomain: this.props.internalDomain ?? this.props.domain,
      networkCidr: this.props.network.cidr,
      configChangePolicy: this.configChangePolicy,
      os: this.os,
      registerNode: (node) => {
        this.assertOpen(node.nodeName);
        if (!this.members.has(node.nodeName)) this.members.set(node.nodeName, node);
        this.order.push(node);
      },
      registerLoadBalancerTier: (tier) => {
        this.assertOpen(tier.path);
        if (this.tiers.length > 0) {
          this.issues.add(
            "GRX215",
            tier.path,
            "loadBalancer",
            `the cluster already has a load-balancer tier (${this.tiers[0]!.path}).`,
            "Use one LoadBalancerTier with more nodes.",
          );
        }
        this.tiers.push(tier);
      },
      connections: (group) => this.connections(group),
      report: (issue) => this.issues.addAll([issue]),
      declareToken: (value, facts) => this.declareToken(value, facts),
      secret: (id, length) => this.secret(id, length),
      registerSecret: (id, value, description) => this.security.register(id, value, description),
    };
  }

  private assertOpen(what: string): void {
    if (this.finalized) throw new Error(`${what} was added to ${this.node.path} after synthesis began.`);
    if (this.closedBy)
      throw new Error(`${what} was added to ${this.node.path} after ${this.closedBy}: add every node first.`);
  }

  /**
   * The cluster's DNS: a `MailDns` (lib/dns) built from the cluster's topology and its entry
   * point's public addresses, which the platform provides (see `ClusterDnsProps.entry`). The
   * classic nodes' public addresses, where the platform has them, are the SPF/HELO/PTR egress
   * (`options.egress`, unless given). When MTA-STS is on (the default), the load-balancer tier
   * serves the policy at `https://mta-sts.<domain>/.well-known/mta-sts.txt`, built from the same
   * options as the `_mta-sts` record. Call it once, after the last node: the node set is closed
   * then. Throws `GrommunioValidationError` like `MailDns`.
   */
  public addDns(props: ClusterDnsProps = {}): MailDns {
    if (this.dns) throw new Error(`${this.node.path} already has its DNS (${this.dns.node.path}).`);
    // The records, the DKIM key, PTRs, and the addresses (and a cloud load balancer) they need are
    // made here: without cdktf's creation stacks, like every resource the library makes.
    return withoutCreationStacks(this, () => this.buildDns(props));
  }

  private buildDns(props: ClusterDnsProps): MailDns {
    const topology = this.topology;
    this.closedBy = "addDns";
    const { id, entry, options, dkimSigning, reverseDns, ...rest } = props;
    const given = entry ?? this.entryPoint();
    // A cloud load balancer that could not be created has no addresses: say why, not only that.
    if (!entry && this.cloudStep && this.cloudStep.issues.length > 0) {
      throw new GrommunioValidationError(this.cloudStep.issues);
    }
    const egress = options?.egress ?? this.egressAddresses();
    const dnsOptions = { ...options, ...(egress.length > 0 ? { egress } : {}) };
    this.dns = new MailDns(this, id ?? "dns", {
      ...rest,
      topology,
      ...(given ? { entry: given } : {}),
      options: dnsOptions,
    });
    if (topology.loadBalancer) this.mtaSts = mtaStsSite(topology, dnsOptions);
    const signing = dkimSigning === false ? undefined : dkimSigningOf(this.dns, topology);
    if (signing) {
      this.declareToken(signing.privateKeyPem, {
        maxLength: rsaPrivateKeyPemBound(this.dns.dkimKeyBits),
        // The key MailDns generated (tls provider) is PEM as Go writes it; a key of your own may hold anything.
        charset: signing.privateKeyPem === this.dns.dkimKey?.privateKeyPem ? "pem" : "any",
        description: "the DKIM signing key",
      });
      this.security.register(DKIM_SECRET_ID, signing.privateKeyPem, `DKIM signing key (selector ${signing.selector})`);
      this.dkimSigning = signing;
      if (!Token.isUnresolved(signing.privateKeyPem)) {
        Annotations.of(this).addWarning(
          "the DKIM private key is a literal: it ends up in the synthesized JSON and the user-data. Let MailDns generate it or pass a Terraform reference.",
        );
      }
    } else if (dkimSigning === true) {
      Annotations.of(this).addWarning(
        rest.dkim === false
          ? "dkimSigning: true beside dkim: false: there is no DKIM key and no DKIM record, nothing signs."
          : "dkimSigning: the DKIM private key is unknown (a public key of your own without dkim.privateKeyPem): nothing signs.",
      );
    }
    if (reverseDns !== false) {
      const ptr = publishReverseDns(this, this.deployment, this.platform.name, this.dns, this.addressOwners);
      for (const w of ptr.warnings) Annotations.of(this).addWarning(w);
    }
    return this.dns;
  }

  /** The entry point's public addresses from the platform, when it has them. */
  private entryPoint(): MailEntryPoint | undefined {
    const tier = this.tiers[0];
    if (!tier) return undefined;
    if (tier.cloudLoadBalancer) {
      const addresses = this.cloudLoadBalancerStep().lb?.publicAddresses;
      for (const a of [...(addresses?.ipv4 ?? []), ...(addresses?.ipv6 ?? [])]) {
        this.addressOwners.set(a, { loadBalancer: true });
      }
      return addresses ? { ipv4: [...addresses.ipv4], ipv6: [...addresses.ipv6] } : undefined;
    }
    const nodes = this.topology.loadBalancer?.nodes ?? [];
    const found = nodes.map((n) => this.ownedAddresses(n.name));
    if (found.length === 0 || found.some((a) => a === undefined)) return undefined;
    const list = (key: "ipv4" | "ipv6") => found.map((a) => a![key]).filter((x): x is string => x !== undefined);
    return { ipv4: list("ipv4"), ipv6: list("ipv6") };
  }

  /** The classic nodes' public addresses from the platform (empty where it has none). */
  private egressAddresses(): EgressAddresses[] {
    const out: EgressAddresses[] = [];
    for (const n of this.topology.classicNodes) {
      const a = this.ownedAddresses(n.name);
      if (!a) return [];
      out.push({
        node: n.name,
        ...(a.ipv4 !== undefined ? { ipv4: a.ipv4 } : {}),
        ...(a.ipv6 !== undefined ? { ipv6: a.ipv6 } : {}),
      });
    }
    return out;
  }

  /** A machine's public addresses from the platform, remembered as that machine's (PTRs). */
  private ownedAddresses(name: string): PublicAddresses | undefined {
    const a = this.members.get(name)?.machine.publicAddresses?.();
    for (const v of [a?.ipv4, a?.ipv6]) if (v !== undefined) this.addressOwners.set(v, { machine: name });
    return a;
  }

  /**
   * The cloud load balancer in front of the tier, created once: at synth, or earlier by `addDns`
   * (its public addresses carry the mail host's records). Issues are reported at synth.
   */
  private cloudLoadBalancerStep(): CloudStep {
    if (this.cloudStep) return this.cloudStep;
    const step: CloudStep = { listeners: [], issues: [] };
    this.cloudStep = step;
    const topology = this.topology;
    const tier = this.tiers[0];
    const late = new IssueCollector();
    if (tier?.cloudLoadBalancer && tier.acceptProxyFrom !== undefined) {
      late.add(
        "GRX219",
        tier.path,
        "acceptProxyFrom",
        "acceptProxyFrom names proxies of your own, but the cloud load balancer is in front of the tier: the frontends " +
          "would wait for a PROXY header that it sends only with cloudLoadBalancer.proxyProtocol.",
        "Use cloudLoadBalancer: { proxyProtocol: true } for the cloud load balancer, or drop one of the two.",
      );
    } else if (tier?.cloudLoadBalancer) {
      const add = this.deployment.addLoadBalancer?.bind(this.deployment);
      if (!this.capabilities.cloudLoadBalancer.available || !add) {
        late.add(
          "GRX210",
          tier.path,
          "cloudLoadBalancer",
          `${this.platform.name} has no cloud load balancer.`,
          "Remove cloudLoadBalancer; the tier's nodes take traffic on their own addresses.",
        );
      } else {
        const lb = topology.loadBalancer!;
        // Both ends of the PROXY hop from one field: the listeners whose frontends accept it.
        const proxied = lb.acceptProxy?.from === "cloud-lb" ? lb.acceptProxy.frontends : [];
        const listeners = (Object.keys(PORTS) as PortKey[])
          .filter((k) => PORTS[k].server === "load-balancer")
          .filter((k) => PORTS[k].exposure === "public" || (PORTS[k].exposure === "admin" && lb.adminAllowFrom?.length))
          .sort((a, b) => PORTS[a].port - PORTS[b].port)
          .map((k) => ({
            portKey: k,
            port: PORTS[k].port,
            // The admin list as the networks it stands for, in the spelling the firewall APIs take
            // (the AWS provider refuses a bare address; host bits are refused by GRX038), each network once.
            allowFrom:
              PORTS[k].exposure === "admin"
                ? [...new Set((lb.adminAllowFrom ?? []).map((c) => canonicalCidr(c) ?? c))]
                : ["0.0.0.0/0", "::/0"],
            proxyProtocol: proxied.includes(k),
          }));
        step.listeners = listeners;
        const created = add(new Construct(tier as unknown as Construct, "cloud"), {
          listeners,
          targets: lb.nodes.map((n) => n.name),
        });
        tier.setCloudLoadBalancer(created);
        step.lb = created;
      }
    }
    step.issues = [...late.issues];
    return step;
  }

  /** Declares a Terraform token that may appear in user-data (ignored for literal strings). */
  public declareToken(value: string, facts: TokenFacts): void {
    if (Token.isUnresolved(value)) this.tokens.declareToken(value, facts);
  }

  /** A `random_password` (letters and digits, sensitive), one per id. */
  public secret(id: string, length: number): string {
    let value = this.secrets.get(id);
    if (value === undefined) {
      const pw = new Password(this, id, { length, special: false });
      value = attribute(pw, "result");
      // Letters and digits only (special = false): safe in YAML, shell words and every config syntax.
      this.tokens.declareToken(value, { maxLength: length, charset: "safe", description: `the secret ${id}` });
      this.secrets.set(id, value);
      this.security.register(id, value, `the secret ${id}`);
    }
    return value;
  }

  /** grommunio's admin password (a Terraform value; after synth, when the cluster has an admin node). */
  public get adminPassword(): string | undefined {
    return this.security.adminPassword;
  }

  /** Every secret the cluster registered (Terraform values only), sorted by id. */
  public get secretValues(): readonly SecretSpec[] {
    return this.security.secrets;
  }

  /** The platform's secret store (after synth, where `capabilities.secrets` is not `terraform`). */
  public get secretStore(): SecretStore | undefined {
    return this.security.secretStore;
  }

  /** Firewall rules of a node group (`mailbox`, `classic`, `load-balancer`, `node`, `hub`, …). */
  public connections(group: string): Connections {
    return this.extraRules.connections({ group });
  }

  /** The cluster description the topology is built from (what registered so far). */
  public clusterInput(): ClusterInput {
    const tier = this.tiers[0];
    return {
      path: this.node.path,
      domain: this.props.domain,
      gromoxVersion: this.props.gromoxVersion,
      storage: this.storageBinding.mode,
      ...(this.storageBinding.storeExports ? { storeExports: true } : {}),
      network: {
        cidr: this.props.network.cidr,
        reservedLow: this.capabilities.subnet.reservedLow,
        reservedHigh: this.capabilities.subnet.reservedHigh,
      },
      database: {
        ...this.databaseBinding.input,
        // Node-aware routing: the load balancers build mailbox.map from the database with a
        // read-only account, whatever the database: the database node's bootstrap creates it; for a
        // managed or external one, its operator (the SQL is the output `map-reader-sql`).
        ...(this.needsMapReader() ? { mapReaderPassword: this.secret("map-reader-password", 32) } : {}),
      },
      ...(this.props.hub !== undefined ? { hub: this.props.hub } : {}),
      ...(this.props.schemaUpgradeNode !== undefined ? { schemaUpgradeNode: this.props.schemaUpgradeNode } : {}),
      ...(this.props.x500OrgName !== undefined ? { x500OrgName: this.props.x500OrgName } : {}),
      ...(tier ? { loadBalancer: tier.loadBalancerInput(this.props.domain) } : {}),
      nodes: this.order.map((m) => m.nodeInput()),
    };
  }

  /**
   * Inputs that take no effect in this cluster but may be deliberate (generic code shared across
   * platforms or clusters): each gets a warning instead of silence.
   */
  private ignoredInputWarnings(topology: Topology): string[] {
    const p = this.props;
    const caps = this.capabilities;
    const out: string[] = [];
    if (p.hostFirewall === false && !caps.firewall.filtersPrivateNetwork) {
      out.push(
        `hostFirewall is false and ${this.platform.name} does not filter the cluster network: every machine on it reaches every port of every node, internal ones included (exmdb and midb have no authentication). Filter the network yourself, or keep hostFirewall.`,
      );
    }
    if (p.readinessReport !== undefined && caps.bootstrap === "files") {
      out.push(
        `readinessReport is ignored: ${this.platform.name} runs no cloud-init and has no serial console to print it to (read the nodes' boot logs instead, e.g. docker logs).`,
      );
    }
    const sources = (["repository", "osRepository"] as const).filter((k) => p[k] !== undefined);
    if (sources.length > 0 && caps.bootstrap === "files") {
      out.push(
        `${sources.join(", ")} ${sources.length > 1 ? "are" : "is"} not used for packages on ${this.platform.name}: the containers install nothing, every package comes from the image (boot.sh only checks it is there). The APT source files are still written into the containers, for an apt run of your own. Build the images from your mirror, or drop ${sources.join(" and ")}.`,
      );
    }
    if (p.accountIds !== undefined && caps.bootstrap === "files") {
      out.push(
        `accountIds is ignored: ${this.platform.name} runs containers from images, whose accounts are the image's (and containers mount no NFS).`,
      );
    }
    const db = topology.database;
    if (caps.outbound === "edge" && !db.node && !this.insideNetwork(db.host)) {
      out.push(
        `Database.external: ${db.host} is outside the cluster network ${p.network.cidr}, and on ${this.platform.name} only the load-balancer and classic nodes reach beyond it: the mailbox and admin nodes could not connect. Run the database on the cluster network (Database.onNode, or a machine of your own at an address inside it).`,
      );
    }
    if (p.adminPassword !== undefined && topology.adminNodes.length === 0) {
      out.push(
        "adminPassword is ignored: no node has the admin role (GromoxNode { admin: true } or an AdminNode), so nothing sets it.",
      );
    }
    return out;
  }

  /** True when `host` is an IPv4 address inside the cluster network (a host name may be anything). */
  private insideNetwork(host: string): boolean {
    const net = parseIpv4Cidr(this.props.network.cidr);
    const ip = parseIpv4(host);
    return net !== undefined && ip !== undefined && cidrContains(net, ip);
  }

  /** True when the load-balancer tier is HAProxy with node-aware routing (its map job reads the database). */
  private needsMapReader(): boolean {
    const lb = this.tiers[0]?.loadBalancerInput(this.props.domain);
    return lb !== undefined && lb.flavor === "haproxy" && lb.nodeAwareRouting === true;
  }

  /**
   * The validated topology. Throws `GrommunioValidationError` with every issue found so far
   * (constructs, platform, topology). Call it once all nodes exist (synth calls it for you).
   */
  public get topology(): Topology {
    if (this.topologyCache) return this.topologyCache;
    const all: ValidationIssue[] = [...this.issues.issues];
    const tier = this.tiers[0];
    if (tier && !this.order.some((m) => m.roles.includes("mailbox"))) {
      all.push({
        code: "GRX209",
        path: tier.path,
        field: "nodes",
        message: "the load-balancer tier has no mailbox node to send web, MAPI and EWS traffic to.",
        fix: "Add at least one GromoxNode to the cluster, or remove the tier.",
      });
    }
    let topology: Topology | undefined;
    try {
      topology = buildTopology(this.clusterInput());
    } catch (e) {
      if (!(e instanceof GrommunioValidationError)) throw e;
      all.push(...e.issues);
    }
    if (all.length > 0 || !topology) throw new GrommunioValidationError(all);
    this.topologyCache = topology;
    return topology;
  }

  /**
   * Creates the firewall, the cloud load balancer and every node's user-data. Runs once, at synth,
   * without cdktf's creation stacks (withoutCreationStacks: the stacks would hold no user frame).
   */
  private finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    withoutCreationStacks(this, () => this.build());
  }

  private build(): void {
    const topology = this.topology;
    // Certificates, the admin password and the secret store, before anything uses a secret.
    const securityIssues = this.security.prepare(
      this,
      topology,
      this.deployment,
      (name) => this.members.get(name) as unknown as Construct,
    );
    // At synth, so a provider the user adds after the cluster is found (no duplicate).
    if (this.secrets.size > 0) ensureRandomProvider(this);
    const caps = this.capabilities;
    const late = new IssueCollector();
    late.addAll(securityIssues);
    const tier = this.tiers[0];

    // Cloud load balancer (before the firewall: its rules name it as a peer).
    const cloud = this.cloudLoadBalancerStep();
    late.addAll(cloud.issues);
    const cloudLb = cloud.lb;
    const cloudListeners = cloud.listeners;

    // Firewall, from the port table (plus the users' rules), checked for exposure before use. Users'
    // rules refused for their source (GRX458) are not in the plan; they are reported with it.
    late.addAll(this.extraRules.refusedIssues(this.node.path));
    const userRules = new Set(this.extraRules.list().map(ruleId));
    const services = {
      database: this.databaseBinding.managed,
      sharedStorage: this.storageBinding.managed,
      loadBalancer: cloudLb !== undefined,
    };
    const plan = planFirewall(
      topology,
      this.node.id,
      { sshAllowFrom: this.props.sshAllowFrom ?? [], services },
      this.extraRules,
    );
    this.firewallPlan = plan;
    // Rules naming a group or managed service the cluster does not have would open nothing (GRX460).
    late.addAll(unknownPeerIssues(plan, services, this.node.path));
    // Rules left out because another port of the same name holds their key (GRX459): between
    // users' rules, or a user's port named like a port-table key (found while the plan is made).
    late.addAll(this.extraRules.clashIssues(this.node.path));
    late.addAll(
      checkExposure(topology, plan, {
        clusterPath: this.node.path,
        allowWorldSsh: this.props.allowWorldSsh ?? false,
        userRules,
        cloudListeners,
        ...(tier ? { loadBalancerPath: tier.path } : {}),
      }),
    );
    const hostFirewall = this.props.hostFirewall ?? !caps.firewall.filtersPrivateNetwork;
    // Without the host firewall, on a platform without one of its own, nothing enforces an allow list (GRX461).
    if (!hostFirewall && !caps.firewall.cloud) {
      late.addAll(unenforcedRuleIssues(plan, this.node.path, this.platform.name));
    }
    this.deployment.applyFirewall(new Construct(this, "firewall"), plan);

    // Every node: files → provisioning → (file store) → cloud-config → user-data.
    const sql = clusterSql(topology);
    const fileStore: FileStore | undefined =
      (caps.bootstrap ?? "cloud-init") === "cloud-init" && this.deployment.addFileStore
        ? this.deployment.addFileStore(new Construct(this, "files"))
        : undefined;
    const nfsClients = new Set(topology.clientsOf("nfs").map((n) => n.name));
    const lbAddresses = cloudLb?.privateIpv4s ?? [];
    for (const node of topology.nodes) {
      const member = this.members.get(node.name)!;
      let files: ConfigFile[];
      try {
        files = renderNodeFiles(topology, node, {
          ...(this.mtaSts ? { mtaSts: this.mtaSts } : {}),
          ...(this.dkimSigning ? { dkimSigning: this.dkimSigning } : {}),
        });
      } catch (e) {
        if (!(e instanceof GrommunioValidationError)) throw e;
        late.addAll(e.issues);
        continue;
      }
      const extra: ConfigFile[] = [];
      if (hostFirewall && !files.some((f) => f.path === NFTABLES_PATH)) {
        extra.push(
          renderHostFirewall(
            node,
            planAllowRules(plan, node.name, (s) => (s === "load-balancer" ? lbAddresses : undefined)),
          ),
        );
      }
      if (node.has("nfs")) extra.push(nfsExportsFile(topology, NFS_EXPORT));
      if (node.runs("store-export")) extra.push(storeExportsFile(topology, node));
      extra.push(...this.security.nodeFiles(topology, node));
      const mounts: DataMount[] = [...member.mounts()];
      if (this.storageBinding.sharedMount && nfsClients.has(node.name)) mounts.push(this.storageBinding.sharedMount);
      if (node.runs("grommunio-admin-api")) mounts.push(...storeExportMounts(topology, node));
      const { provisioning: provisioned, issues } = provisionNode({
        topology,
        node,
        files,
        extraFiles: extra,
        os: this.os,
        mounts,
        ...(this.props.repository !== undefined ? { repository: this.props.repository } : {}),
        ...(this.props.osRepository !== undefined ? { osRepository: this.props.osRepository } : {}),
        ...(this.props.readinessReport !== undefined
          ? { readinessReport: { device: this.props.readinessReport.device ?? READINESS_DEFAULT_DEVICE } }
          : {}),
        sql,
        ...(this.props.accountIds !== undefined ? { accountIds: this.props.accountIds } : {}),
      });
      late.addAll(issues);
      // Secrets: the admin password step; with a secret store, templates and the fetch step.
      const delivered = this.security.deliver(topology, node, member as unknown as Construct, provisioned);
      late.addAll(delivered.issues);
      let provisioning = delivered.provisioning;
      // Files: late files without Terraform values go to the platform's file store, if it has one.
      let userDataProvisioning = provisioning;
      if (fileStore) {
        const split = splitBundle(provisioning);
        if (split.bundle) {
          const step = fileStore.put(member as unknown as Construct, node.name, split.bundle, FILES_MANIFEST_PATH);
          provisioning = withFileFetch(provisioning, step);
          userDataProvisioning = withFileFetch(split.userData, step);
          this.fileBundles.set(node.name, split.bundle);
        }
      }
      this.provisioning.set(node.name, provisioning);
      if ((caps.bootstrap ?? "cloud-init") === "files") {
        // No cloud-init in the guest: the platform delivers the files and first-boot steps itself.
        if (!member.machine.setProvisioning) {
          throw new Error(
            `${this.platform.name} declares capabilities.bootstrap "files", but its machines have no setProvisioning.`,
          );
        }
        member.machine.setProvisioning(provisioning);
        continue;
      }
      const built = buildUserData(
        node.name,
        node.path,
        (compression, stopWhen) =>
          renderCloudConfig(userDataProvisioning, this.tokens, node.path, compression, stopWhen),
        caps.userData,
        this.tokens,
      );
      const rendered = built.rendered;
      late.addAll(rendered.issues);
      late.addAll(built.issues);
      member.machine.setUserData(built.userData);
      this.cloudConfigs.set(node.name, rendered);
      this.userDataReports.set(node.name, built.report);
    }
    // A password Terraform knows only at apply is checked when its terraform_data is created
    // (lib/cluster/password-check.ts): no machine is created, so none boots with it, before.
    const gates = passwordChecksOf(this).map(dependency);
    if (gates.length > 0) {
      for (const member of this.members.values()) {
        const machine = member.machine.resource;
        machine.dependsOn = [...(machine.dependsOn ?? []), ...gates];
      }
    }
    const all = [...this.issues.issues, ...late.issues];
    if (all.length > 0) throw new GrommunioValidationError(all);
    for (const warning of this.security.warnings) Annotations.of(this).addWarning(warning);
    for (const warning of this.ignoredInputWarnings(topology)) Annotations.of(this).addWarning(warning);
    const unreachable = storesAdminCannotCreate(topology);
    if (unreachable.length > 0) Annotations.of(this).addWarning(shareNothingAdminWarning(topology, unreachable));
    if (topology.database.mapReader && !topology.database.node) {
      // A database the cluster does not run: its operator creates the map reader (docs/operations.md).
      new TerraformOutput(this, "map-reader-sql", {
        value: renderMapReaderAccount(topology),
        sensitive: true,
        description: `SQL creating the load balancers' map reader on ${topology.database.host}: run it as an account that may create users and grant, after the schema node's first boot.`,
      });
      Annotations.of(this).addWarning(
        `node-aware routing reads ${topology.database.host} as the map reader, which the cluster cannot create there: after the schema node's first boot, run the SQL of the output map-reader-sql (terraform output -raw …) as an account that may create users and grant. Until then the load balancers spread mailbox requests over all nodes (docs/operations.md).`,
      );
    }
    if (
      this.props.allowWorldSsh &&
      plan.rules.some((r) => r.portKey === "ssh" && "cidr" in r.source && isWorld(r.source.cidr))
    ) {
      Annotations.of(this).addWarning(
        "SSH is open to the whole internet (allowWorldSsh): allow key-based logins only, or list your operators' networks in sshAllowFrom.",
      );
    }
    if (this.databaseBinding.input.password !== undefined && !Token.isUnresolved(this.databaseBinding.input.password)) {
      Annotations.of(this).addWarning(
        "the database password is a literal: it ends up in the synthesized JSON and the user-data. Omit it (a random_password is generated) or pass a secret reference.",
      );
    }
  }
}

/** Adds `provider "random"` unless the stack has one (random_password needs it). */
function ensureRandomProvider(scope: Construct): void {
  const stack = TerraformStack.of(scope);
  if (!stack.node.findAll().some((c) => c instanceof RandomProvider)) new RandomProvider(stack, "random");
}
