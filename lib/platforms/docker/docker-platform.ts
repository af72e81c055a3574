/**
 * Docker (kreuzwerker/docker 3.6.2): one container per node on one Docker host, no cloud-init.
 *
 * - **Networks**: the cluster network is a user-defined bridge with `internal = true` (no route out,
 *   nothing published through it) and IPAM subnet = the cluster network, gateway = its first host;
 *   every container has its node's fixed address on it (`networks_advanced.ipv4_address`) and its
 *   FQDN as alias. A second, ordinary bridge (`<cluster>-egress`) is joined only by the containers
 *   that must reach or be reached from outside: the load balancers (published ports) and, unless
 *   `outboundMail: false`, the classic nodes (postfix delivers to other MX hosts).
 * - **Configuration** (`capabilities.bootstrap` "files"): the node's provisioning becomes `upload`
 *   blocks — the same rendered files, byte for byte, with their modes — plus `manifest.json` and
 *   `boot.sh` under /etc/grommunio-provision (`lib/provision/container.ts`), which the container runs
 *   as its entrypoint: owners (uploads cannot set them), the firewall, first-boot steps, services in
 *   order. `upload` is ForceNew: a configuration change re-creates the container (`replace`); with
 *   `ignore` the uploads are in `ignore_changes`. Upload content is stored in the Terraform state,
 *   secrets included.
 * - **Data**: `docker_volume` per data volume (mailboxes at /var/lib/gromox, MariaDB at
 *   /var/lib/mysql), mounted by the container; a new container finds the old data. Docker's local
 *   driver has no size: `sizeGb` is not enforced.
 * - **Firewall**: Docker has none. Only the load-balancer frontends are published (`ports`, from
 *   the firewall plan's public/admin rules); the internal network isolates the rest from outside,
 *   but every container on it can reach every port of every other at the network level. The
 *   cluster's in-container nftables file (the same firewall plan) closes that: containers that
 *   have one get CAP_NET_ADMIN, which boot.sh drops right after loading it. CAP_NET_RAW is
 *   dropped everywhere (no forged packets).
 */
import { Construct } from "constructs";
import { Container, ContainerPorts, ContainerUpload, ContainerVolumes } from "@cdktf/provider-docker/lib/container";
import { Network } from "@cdktf/provider-docker/lib/network";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { Annotations, Fn, TerraformStack, Token } from "../../provision/cdktf";
import { CONTAINER_ENTRYPOINT, ContainerBootstrap, renderContainerBootstrap } from "../../provision/container";
import type { NodeProvisioning } from "../../provision/model";
import { toTerraformString } from "../../provision/tokens";
import { Ipv4Cidr, NodeRole, PORTS, PortKey, formatIpv4, isWorld, parseIpv4, parseIpv4Cidr } from "../../topology";
import {
  FirewallPlan,
  MachineSpec,
  OperatingSystem,
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

/** What Docker can do (platforms.md §3–§8). */
export const DOCKER_CAPABILITIES: PlatformCapabilities = {
  bootstrap: "files",
  // Unused (no cloud-init): uploads have no size limit.
  userData: {
    limitBytes: Number.MAX_SAFE_INTEGER,
    countedAs: "raw-bytes",
    binaryGzip: false,
    nativeChangeBehaviour: "replace",
  },
  configChangePolicies: ["replace", "ignore"],
  // `upload` is ForceNew: the provider re-creates the container.
  defaultConfigChangePolicy: "replace",
  // Docker has no firewall; the in-container nftables (from the firewall plan) filters the
  // cluster network, which every container on it could otherwise reach on every port.
  firewall: { cloud: false, filtersPrivateNetwork: false },
  // Network address and the bridge's gateway (first host) at the start, broadcast at the end.
  subnet: { reservedLow: 2, reservedHigh: 1, minPrefix: 16, maxPrefix: 28 },
  // Containers cannot mount NFS; each mailbox node keeps its store on its own volume.
  sharedStorage: "none",
  managedDatabase: false,
  cloudLoadBalancer: { available: false, proxyProtocolV2: false },
  // Docker volumes stand in for block volumes (mounted by Docker, not by the guest).
  blockVolumes: true,
  // The local driver has no size: volumeSizeGb is not enforced.
  volumeSizes: false,
  // What the images are built from; the package names must match (php8.2-fpm vs php8.3-fpm).
  operatingSystems: ["debian-12", "ubuntu-24.04"],
  // Only load balancers and classic nodes join the egress bridge.
  outbound: "edge",
};

/**
 * Default image per role: `grommunio-cluster/<role>:<os>`. grommunio publishes no per-role images;
 * build them (docs/platforms.md lists what each must contain) or name your own with `images`.
 */
export function dockerDefaultImages(os: OperatingSystem): Readonly<Record<NodeRole, string>> {
  const roles: NodeRole[] = ["mailbox", "classic", "load-balancer", "database", "admin", "nfs"];
  return Object.fromEntries(roles.map((r) => [r, `grommunio-cluster/${r}:${os}`])) as Record<NodeRole, string>;
}

/** The frontends a load-balancer container publishes: port-table entries served by the tier. */
const FRONTEND_KEYS = (Object.keys(PORTS) as PortKey[]).filter(
  (k) => PORTS[k].server === "load-balancer" && (PORTS[k].exposure === "public" || PORTS[k].exposure === "admin"),
);

/** Docker object names: letters, digits, `_`, `.`, `-`, starting with a letter or digit. */
const DOCKER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** `[registry[:port]/]path[:tag][@sha256:digest]` (Docker's reference grammar, slightly relaxed). */
const IMAGE_REFERENCE =
  /^(?:[A-Za-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::\w[\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

export interface DockerEgressNetworkOptions {
  /**
   * Subnet of the egress bridge (load balancers, classic nodes). Must not overlap the cluster network.
   * @default Docker chooses one from its default address pools
   */
  readonly cidr?: string;
}

export interface DockerPlatformProps {
  /**
   * Image per role (a node uses the image of its primary role; a mailbox node with `admin: true`
   * needs the admin packages in the mailbox image). Image references, or `docker_image` ids.
   * @default `grommunio-cluster/<role>:<os>` (dockerDefaultImages), which you build
   */
  readonly images?: Partial<Record<NodeRole, string>>;
  /**
   * Keep each image's own entrypoint (which must then run /etc/grommunio-provision/boot.sh)
   * instead of setting the entrypoint to `/bin/sh /etc/grommunio-provision/boot.sh`.
   * @default false
   */
  readonly keepImageEntrypoint?: boolean;
  /**
   * Host address each load-balancer container publishes its frontends on, by node name (`lb1`).
   * Two containers cannot publish the same port on the same host address, so a tier of two or
   * more needs one address per node (GRX242).
   * @default every frontend on all host addresses (0.0.0.0): fits a tier of one node
   */
  readonly publishAddresses?: Readonly<Record<string, string>>;
  /** The egress bridge. @default a bridge with a subnet Docker chooses */
  readonly egressNetwork?: DockerEgressNetworkOptions;
  /**
   * Attach the classic nodes to the egress network, so postfix can deliver to other mail servers.
   * Without it they only reach the cluster network (relay through a smarthost on it).
   * @default true
   */
  readonly outboundMail?: boolean;
  /**
   * `prevent_destroy` on data volumes (mailboxes, database): `cdktf destroy` stops at them.
   * @default true
   */
  readonly protectData?: boolean;
  /** Container restart policy. @default "unless-stopped" */
  readonly restart?: "no" | "on-failure" | "always" | "unless-stopped";
  /**
   * Add `provider "docker"` unless the stack has one.
   * @default true
   */
  readonly addProvider?: boolean;
  /**
   * The Docker daemon the provider the platform adds talks to; not with `addProvider: false` or a
   * docker provider of the stack's own that talks to another daemon (GRX250).
   * @default DOCKER_HOST, else unix:///var/run/docker.sock
   */
  readonly host?: string;
  /**
   * Labels on networks, volumes and containers. `grommunio-*` keys are the platform's own: yours
   * are replaced (a warning says so).
   * @default {}
   */
  readonly labels?: Readonly<Record<string, string>>;
}

/** The Docker platform. `Platform.docker(props)` is the same as `new DockerPlatform(props)`. */
export class DockerPlatform implements Platform<DockerDeployment> {
  public readonly name = "docker";
  public readonly capabilities = DOCKER_CAPABILITIES;

  constructor(public readonly props: DockerPlatformProps = {}) {}

  public bind(scope: Construct, context: PlatformBindContext): DockerDeployment {
    return new DockerDeployment(scope, this.props, context);
  }
}

/** One upload as the container receives it (what `upload` blocks hold, before Terraform escaping). */
export interface DockerUpload {
  /** Where the file belongs in the container. */
  readonly path: string;
  /** Where it is uploaded (the staged copy for runtime-managed files such as /etc/hosts). */
  readonly uploadPath: string;
  readonly content: string;
  readonly mode: string;
  readonly owner: string;
  readonly origin: "node" | "bootstrap";
}

/** A node's container: `container` (also `resource`). */
export class DockerMachine implements PlatformMachine {
  /** Data volumes mounted into the container, in the order added. */
  public readonly volumes: ContainerVolumes[] = [];
  /** After synth: the bootstrap (files, manifest, boot.sh) the container received. */
  public bootstrap?: ContainerBootstrap;

  constructor(
    public readonly name: string,
    public readonly privateIpv4: string,
    public readonly roles: readonly NodeRole[],
    public readonly container: Container,
    /** Construct path of the node, for error messages. */
    public readonly path: string,
    private readonly report: PlatformBindContext["report"],
  ) {}

  public get resource(): Container {
    return this.container;
  }

  /** Never called: Docker's `capabilities.bootstrap` is "files" (the cluster calls setProvisioning). */
  public setUserData(userData: UserData): void {
    void userData;
    throw new Error(`${this.path}: Docker containers take no user-data (capabilities.bootstrap is "files").`);
  }

  /**
   * The node's files as `upload` blocks (content for text, content_base64 for binary content;
   * permissions from the file mode), the manifest and boot.sh; CAP_NET_ADMIN when the node has a
   * firewall file to load (boot.sh drops it).
   */
  public setProvisioning(provisioning: NodeProvisioning): void {
    const b = renderContainerBootstrap(provisioning, this.path);
    for (const issue of b.issues) this.report(issue);
    this.bootstrap = b;
    this.container.putUpload(
      [...b.files]
        .sort((x, y) => cmp(x.uploadPath, y.uploadPath))
        .map((f) => uploadBlock(f.uploadPath, f.content, f.mode)),
    );
    // No systemd applies the services' LimitNOFILE in a container: the runtime sets it.
    if (b.manifest.nofile !== undefined) {
      this.container.putUlimit([{ name: "nofile", soft: b.manifest.nofile, hard: b.manifest.nofile }]);
    }
    this.container.putCapabilities({
      ...(b.needsNetAdmin ? { add: ["NET_ADMIN"] } : {}),
      drop: ["NET_RAW"],
    });
  }

  /** The uploads as the container receives them (after synth). */
  public get uploads(): readonly DockerUpload[] {
    return this.bootstrap?.files ?? [];
  }
}

/**
 * Text goes as `content` (a Terraform string: literal `${`/`%{` escaped, tokens interpolated).
 * Content with NUL bytes (binary) goes as `content_base64`, encoded at synth (or by Terraform when
 * it holds a token), since NUL does not survive Terraform's JSON and state as text.
 */
function uploadBlock(file: string, content: string, mode: string): ContainerUpload {
  if (!content.includes("\0")) return { file, content: toTerraformString(content), permissions: mode };
  return {
    file,
    contentBase64: Token.isUnresolved(content)
      ? Fn.base64encode(toTerraformString(content))
      : Buffer.from(content, "utf8").toString("base64"),
    permissions: mode,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The per-cluster Docker deployment. Its resources are reachable as properties. */
export class DockerDeployment implements PlatformDeployment {
  public readonly network: PlatformNetwork;
  /** The cluster network (internal bridge). */
  public readonly clusterNetwork: Network;
  public readonly machines = new Map<string, DockerMachine>();
  /** Data volumes by `<node>/<id>`. */
  public readonly volumes = new Map<string, Volume>();
  /** Published frontends per load-balancer node (after synth). */
  public readonly published = new Map<string, readonly ContainerPorts[]>();
  private egressCache?: Network;
  private readonly networkScope: Construct;
  private readonly labels: Record<string, string>;
  private readonly images: Readonly<Record<NodeRole, string>>;

  constructor(
    scope: Construct,
    private readonly props: DockerPlatformProps,
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
    if (!DOCKER_NAME.test(context.clusterName)) {
      context.report({
        code: "GRX240",
        path: at,
        field: "id",
        message: `the cluster id "${context.clusterName}" cannot start a Docker object name (letters, digits, "_", ".", "-"; a letter or digit first).`,
        fix: 'Give the cluster construct an id such as "mail".',
      });
    }
    this.images = { ...dockerDefaultImages(context.os), ...(props.images ?? {}) };
    for (const [role, image] of Object.entries(props.images ?? {})) {
      if (image !== undefined && !Token.isUnresolved(image) && !IMAGE_REFERENCE.test(image)) {
        context.report({
          code: "GRX246",
          path: at,
          field: `platform.images.${role}`,
          message: `"${image}" is not a Docker image reference.`,
          fix: 'Use [registry/]name[:tag][@sha256:digest], e.g. "registry.example.com/grommunio/mailbox:2025.01".',
        });
      }
    }
    if (props.egressNetwork?.cidr !== undefined) {
      const egress = parseIpv4Cidr(props.egressNetwork.cidr);
      const cluster = parseIpv4Cidr(context.network.cidr);
      if (!egress) {
        context.report({
          code: "GRX248",
          path: at,
          field: "platform.egressNetwork.cidr",
          message: `"${props.egressNetwork.cidr}" is not an IPv4 CIDR.`,
          fix: "Give a private IPv4 network such as 172.30.0.0/24, or omit it (Docker chooses).",
        });
      } else if (cluster && overlaps(egress, cluster)) {
        context.report({
          code: "GRX248",
          path: at,
          field: "platform.egressNetwork.cidr",
          message: `the egress network ${egress.text} overlaps the cluster network ${cluster.text}.`,
          fix: "Give the egress network a subnet of its own, or omit it (Docker chooses).",
        });
      }
    }
    let unusedHost: string | undefined;
    if (props.addProvider ?? true) unusedHost = ensureProvider(scope, props.host);
    else if (props.host !== undefined) unusedHost = "addProvider is false";
    if (unusedHost !== undefined) {
      context.report({
        code: "GRX250",
        path: at,
        field: "platform.host",
        message: `host "${props.host}" configures the provider the platform adds, but ${unusedHost}: the containers would be created on whatever Docker daemon that provider talks to.`,
        fix: "Set host on the stack's own docker provider and drop it here, or let the platform add the provider (addProvider: true, no provider of your own).",
      });
    }

    this.networkScope = new Construct(scope, "network");
    const net = parseIpv4Cidr(context.network.cidr);
    this.clusterNetwork = new Network(this.networkScope, "cluster", {
      name: `${context.clusterName}-cluster`,
      driver: "bridge",
      // No route out, no published ports: the cluster's own traffic only.
      internal: true,
      ...(net
        ? {
            ipamConfig: [
              {
                subnet: `${formatIpv4(net.network)}/${net.prefix}`,
                gateway: formatIpv4(net.network + 1),
              },
            ],
          }
        : {}),
      labels: labelList(this.labels),
    });
    this.network = { cidr: context.network.cidr, resource: this.clusterNetwork };
  }

  /** The egress bridge (load balancers, classic nodes), created on first use. */
  public get egressNetwork(): Network {
    const cidr = parseIpv4Cidr(this.props.egressNetwork?.cidr ?? "");
    this.egressCache ??= new Network(this.networkScope, "egress", {
      name: `${this.context.clusterName}-egress`,
      driver: "bridge",
      internal: false,
      ...(cidr
        ? {
            ipamConfig: [
              { subnet: `${formatIpv4(cidr.network)}/${cidr.prefix}`, gateway: formatIpv4(cidr.network + 1) },
            ],
          }
        : {}),
      labels: labelList(this.labels),
    });
    return this.egressCache;
  }

  private needsEgress(roles: readonly NodeRole[]): boolean {
    return roles.includes("load-balancer") || ((this.props.outboundMail ?? true) && roles.includes("classic"));
  }

  public addMachine(scope: Construct, spec: MachineSpec): DockerMachine {
    if (spec.size !== undefined) {
      this.context.report({
        code: "GRX241",
        path: spec.path,
        field: "size",
        message: `Docker has no machine types; "${spec.size}" cannot be applied to ${spec.name}.`,
        fix: "Remove size; choose what runs through the platform's images per role.",
      });
    }
    const container = new Container(scope, "container", {
      name: `${this.context.clusterName}-${spec.name}`,
      hostname: spec.hostname,
      image: this.images[spec.primaryRole],
      ...(this.props.keepImageEntrypoint ? {} : { entrypoint: [...CONTAINER_ENTRYPOINT] }),
      // docker-init as PID 1: reaps the daemons' zombies and forwards signals.
      init: true,
      restart: this.props.restart ?? "unless-stopped",
      mustRun: true,
      // Let services stop cleanly (MariaDB, gromox) before a replacement removes the container.
      destroyGraceSeconds: 60,
      networksAdvanced: [
        { name: this.clusterNetwork.name, ipv4Address: spec.privateIpv4, aliases: [spec.hostname] },
        ...(this.needsEgress(spec.roles) ? [{ name: this.egressNetwork.name }] : []),
      ],
      capabilities: { drop: ["NET_RAW"] },
      labels: labelList({ ...this.labels, "grommunio-node": spec.name, "grommunio-role": spec.primaryRole }),
      ...(spec.configChangePolicy === "ignore" ? { lifecycle: { ignoreChanges: ["upload"] } } : {}),
    });
    const machine = new DockerMachine(spec.name, spec.privateIpv4, spec.roles, container, spec.path, (issue) =>
      this.context.report(issue),
    );
    this.machines.set(spec.name, machine);
    return machine;
  }

  public addVolume(scope: Construct, machine: PlatformMachine, spec: VolumeSpec): PlatformVolume {
    const where = `${this.machines.get(machine.name)?.path ?? scope.node.path}/${spec.id}`;
    const unsupported = (["iops", "throughputMiBps"] as const).filter((k) => spec[k] !== undefined);
    if (unsupported.length > 0) {
      this.context.report({
        code: "GRX244",
        path: where,
        field: unsupported.join(", "),
        message: `Docker volumes have no ${unsupported.join(" or ")}.`,
        fix: `Remove ${unsupported.join(", ")}; the volume type selects the Docker volume driver.`,
      });
    }
    const name = `${this.context.clusterName}-${machine.name}-${spec.id}`;
    const volume = new Volume(scope, `${spec.id}-volume`, {
      name,
      driver: spec.type ?? "local",
      labels: labelList({ ...this.labels, "grommunio-node": machine.name, "grommunio-purpose": spec.purpose }),
      ...((this.props.protectData ?? true) ? { lifecycle: { preventDestroy: true } } : {}),
    });
    this.volumes.set(`${machine.name}/${spec.id}`, volume);
    const m = this.machines.get(machine.name);
    if (m) {
      m.volumes.push({ volumeName: volume.name, containerPath: spec.mountPoint });
      m.container.putVolumes([...m.volumes]);
    }
    // Docker mounts the volume itself; provisioning only checks that the mount point is one.
    return { resource: volume, devicePath: `docker-volume:${name}` };
  }

  /**
   * Publishes the load-balancer frontends of the plan (public and admin rules from CIDRs) on the
   * load-balancer containers. Docker cannot restrict who reaches a published port: the admin list
   * is enforced by HAProxy/nginx and the in-container firewall. Other rules from CIDRs (SSH,
   * user-defined) are not published: nothing outside Docker reaches them.
   */
  public applyFirewall(scope: Construct, plan: FirewallPlan): void {
    const groups = new Map(plan.groups.map((g) => [g.name, g]));
    const ports = new Map<string, Set<number>>();
    const unpublished = new Set<string>();
    const restricted = new Set<string>();
    for (const r of plan.rules) {
      if (!("cidr" in r.source)) continue;
      const frontend = r.portKey !== undefined && FRONTEND_KEYS.includes(r.portKey);
      const members = "group" in r.target ? (groups.get(r.target.group)?.members ?? []) : [];
      if (!frontend || members.length === 0) {
        unpublished.add(`${r.port} (${r.portKey ?? r.key})`);
        continue;
      }
      if (!isWorld(r.source.cidr)) restricted.add(`${r.port} (${r.portKey})`);
      for (const m of members) {
        if (!this.machines.get(m.name)?.roles.includes("load-balancer")) continue;
        if (!ports.has(m.name)) ports.set(m.name, new Set());
        ports.get(m.name)!.add(r.port);
      }
    }
    if (restricted.size > 0) {
      Annotations.of(scope).addWarning(
        `Docker publishes ${[...restricted].sort().join(", ")} to every client: the admin allow list is enforced by the load balancer (and the in-container firewall), not by Docker.`,
      );
    }
    if (unpublished.size > 0) {
      Annotations.of(scope).addWarning(
        `Docker publishes only the load-balancer frontends; ${[...unpublished].sort().join(", ")} stays reachable from the cluster network only (use docker exec instead of SSH).`,
      );
    }
    const publish = this.props.publishAddresses ?? {};
    for (const [name, address] of Object.entries(publish)) {
      const m = this.machines.get(name);
      if (!m || !m.roles.includes("load-balancer") || parseIpv4(address) === undefined) {
        this.context.report({
          code: "GRX243",
          path: `${this.context.clusterPath}/platform`,
          field: `publishAddresses.${name}`,
          message:
            !m || !m.roles.includes("load-balancer")
              ? `"${name}" is not a load-balancer node of this cluster; only those publish ports.`
              : `"${address}" is not an IPv4 address of the Docker host.`,
          fix: "Map each load-balancer node name (lb1, lb2, …) to an IPv4 address of the Docker host.",
        });
      }
    }
    const taken = new Map<string, string>();
    for (const [name, set] of [...ports].sort(([a], [b]) => cmp(a, b))) {
      const ip = publish[name];
      const list = [...set].sort((a, b) => a - b);
      for (const port of list) {
        const clash = [`0.0.0.0:${port}`, ...(ip !== undefined ? [`${ip}:${port}`] : [])]
          .map((k) => taken.get(k))
          .find((other) => other !== undefined);
        const wildcardClash = ip === undefined && [...taken.keys()].some((k) => k.endsWith(`:${port}`));
        if (clash !== undefined || wildcardClash) {
          const other = clash ?? [...taken].find(([k]) => k.endsWith(`:${port}`))![1];
          this.context.report({
            code: "GRX242",
            path: this.machines.get(name)!.path,
            field: "publishAddresses",
            message: `${name} and ${other} would both publish port ${port} on ${ip ?? "every address"} of the Docker host.`,
            fix: "Give each load-balancer node its own host address: platform publishAddresses { lb1: …, lb2: … }.",
          });
        }
        taken.set(`${ip ?? "0.0.0.0"}:${port}`, name);
      }
      const blocks: ContainerPorts[] = list.map((port) => ({
        internal: port,
        external: port,
        protocol: "tcp",
        ...(ip !== undefined ? { ip } : {}),
      }));
      this.published.set(name, blocks);
      this.machines.get(name)!.container.putPorts(blocks);
    }
  }
}

function overlaps(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return a.network < b.network + b.size && b.network < a.network + a.size;
}

function labelList(labels: Readonly<Record<string, string>>): { label: string; value: string }[] {
  return Object.entries(labels)
    .sort(([a], [b]) => cmp(a, b))
    .map(([label, value]) => ({ label, value }));
}

/**
 * Adds `provider "docker"` unless the stack already has one. Returns why `host` does not take
 * effect when the stack's own unaliased provider talks to another (literal) daemon.
 */
function ensureProvider(scope: Construct, host: string | undefined): string | undefined {
  const stack = TerraformStack.of(scope);
  const own = stack.node.findAll().filter((c): c is DockerProvider => c instanceof DockerProvider);
  if (own.length === 0) {
    new DockerProvider(stack, "docker", host !== undefined ? { host } : {});
    return undefined;
  }
  const used = own.find((p) => p.alias === undefined);
  if (host === undefined || used === undefined || Token.isUnresolved(host) || used.host === host) return undefined;
  if (used.host !== undefined && Token.isUnresolved(used.host)) return undefined;
  return `the stack's own provider ${used.node.path} talks to ${used.host ?? "DOCKER_HOST (or the local socket)"}`;
}
