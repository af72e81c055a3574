/**
 * Node constructs. Each node registers into its cluster, gets a stable private address from its
 * NAME (its kind's address block + the number at the end of the name; `privateIp` overrides), and
 * asks the platform for its machine and data volumes at once, so `node.machine.resource` (the
 * `aws_instance`, `hcloud_server`, …) is reachable for overrides right after construction.
 * User-data and firewall membership are filled in at synth, when the whole cluster is known.
 */
import { Construct } from "constructs";
import type { PlatformMachine, PlatformVolume, VolumePurpose } from "../platforms/platform";
import { type DataMount, MAILSTORE_ROOT, MARIADB_DATADIR } from "../provision";
import { Annotations, type TerraformResource, withoutCreationStacks } from "../provision/cdktf";
import { NodeInput, NodeRole } from "../topology";
import { AddressBlock, deriveAddress, nameNumber } from "./addressing";
import { ClusterContext, ClusterMember, clusterOf } from "./context";

/** Props every node takes. */
export interface GrommunioNodeProps {
  /**
   * The platform's machine type (`m6i.large` on AWS, `cx42` on Hetzner).
   * @default the platform's default for the node's kind (see the platform's docs)
   */
  readonly size?: string;
  /**
   * Fixed private IPv4 address inside the cluster network.
   * @default derived from the name: the kind's address block plus the number the name ends with
   * (mail1 → .21 in a /24), so adding or removing nodes never moves this one
   */
  readonly privateIp?: string;
  /**
   * Internal FQDN (gromox `host_id`, `servers.hostname`, HAProxy server name).
   * @default `<name>.<cluster internalDomain>`
   */
  readonly hostname?: string;
}

/** A data volume of a node: what it is for, where it is mounted. */
export interface NodeVolumeSpec {
  readonly id: string;
  readonly purpose: VolumePurpose;
  readonly sizeGb: number;
  readonly label: string;
  readonly mountPoint: string;
  readonly type?: string;
  readonly iops?: number;
  readonly throughputMiBps?: number;
}

/** Base of all node constructs. The construct id is the node's name. */
export abstract class GrommunioNode extends Construct implements ClusterMember {
  public readonly nodeName: string;
  public readonly hostname: string;
  public readonly privateIp: string;
  public readonly roles: readonly NodeRole[];
  /** The platform machine; `machine.resource` is the provider resource (e.g. `aws_instance`). */
  public readonly machine: PlatformMachine;
  /** Data volumes by id (e.g. `data`). */
  public readonly volumes = new Map<string, PlatformVolume>();
  protected readonly cluster: ClusterContext;
  private readonly blockMounts: DataMount[] = [];

  protected constructor(
    scope: Construct,
    id: string,
    kind: AddressBlock,
    roles: readonly NodeRole[],
    props: GrommunioNodeProps,
    volumes: readonly NodeVolumeSpec[] = [],
  ) {
    super(scope, id);
    this.cluster = clusterOf(scope);
    this.nodeName = id;
    this.roles = roles;
    this.hostname = props.hostname ?? `${id}.${this.cluster.internalDomain}`;
    if (props.privateIp !== undefined) {
      this.privateIp = props.privateIp;
    } else {
      const derived = deriveAddress(this.cluster.networkCidr, kind, id, this.node.path);
      if ("issue" in derived) {
        this.cluster.report(derived.issue);
        this.privateIp = "0.0.0.0";
      } else {
        this.privateIp = derived.ipv4;
      }
    }
    const machine = {
      name: id,
      hostname: this.hostname,
      roles,
      primaryRole: kind,
      privateIpv4: this.privateIp,
      ...(props.size !== undefined ? { size: props.size } : {}),
      configChangePolicy: this.cluster.configChangePolicy,
      path: this.node.path,
    };
    this.machine = withoutCreationStacks(this, () => this.cluster.deployment.addMachine(this, machine));
    for (const v of volumes) this.addDataVolume(v);
    this.cluster.registerNode(this);
  }

  /**
   * Warns that an explicitly given volume size will not be enforced (`capabilities.volumeSizes`
   * false: Docker). A warning, not an error: generic code may size volumes on every platform.
   */
  protected warnUnenforcedSize(field: string, sizeGb: number | undefined): void {
    if (sizeGb === undefined || this.cluster.capabilities.volumeSizes !== false) return;
    Annotations.of(this).addWarning(
      `${field} (${sizeGb} GiB) is not enforced here: this platform's volumes have no size (Docker's local driver grows until the host's disk is full).`,
    );
  }

  /** The provider resource of the machine (`aws_instance`, `hcloud_server`, …). */
  public get instance(): TerraformResource {
    return this.machine.resource;
  }

  private addDataVolume(v: NodeVolumeSpec): void {
    if (!this.cluster.capabilities.blockVolumes) {
      this.cluster.report({
        code: "GRX207",
        path: this.node.path,
        field: "volumes",
        message: `${this.nodeName} needs a separate ${v.purpose} volume (${v.mountPoint}), and this platform has no block volumes.`,
        fix: "Use a platform with block volumes, or SharedStorage / an external database instead of local data.",
      });
      return;
    }
    if (!Number.isInteger(v.sizeGb) || v.sizeGb < 1) {
      this.cluster.report({
        code: "GRX217",
        path: this.node.path,
        field: "volumeSizeGb",
        message: `the ${v.purpose} volume size ${v.sizeGb} is not a whole number of GiB ≥ 1.`,
        fix: "Give the size in GiB as a positive integer.",
      });
      return;
    }
    const volume = withoutCreationStacks(this, () => this.cluster.deployment.addVolume(this, this.machine, v));
    this.volumes.set(v.id, volume);
    this.blockMounts.push({ kind: "block", device: volume.devicePath, label: v.label, mountPoint: v.mountPoint });
  }

  /** @internal */
  public nodeInput(): NodeInput {
    return {
      name: this.nodeName,
      hostname: this.hostname,
      roles: this.roles,
      ipv4: this.privateIp,
      path: this.node.path,
    };
  }

  /** @internal */
  public mounts(): DataMount[] {
    return [...this.blockMounts];
  }
}

/** Where gromox keeps the mailboxes (provisioning's `MAILSTORE_ROOT`: one value for mounts and drop-ins). */
export const MAILSTORE = MAILSTORE_ROOT;

export interface GromoxNodeProps extends GrommunioNodeProps {
  /**
   * `servers.id` (1–255). Never renumber a node that holds mailboxes.
   * @default the number the name ends with (mail3 → 3)
   */
  readonly serverId?: number;
  /**
   * `servers.extname`, the name Autodiscover sends this node's users to.
   * @default the load balancer's public name (single point of entry), else the hostname
   */
  readonly externalName?: string;
  /** Also run grommunio-admin-api (the admin node needs the maildirs). @default false */
  readonly admin?: boolean;
  /**
   * Size of this node's mailbox volume with ShareNothing, GiB. With SharedStorage mailbox nodes
   * have no volume of their own: giving it there is an error (GRX200). Not enforced on Docker (a
   * warning).
   * @default the ShareNothing volume size
   */
  readonly dataVolumeSizeGb?: number;
}

/** A mailbox node: gromox-http (exmdb, MAPI, EWS), midb, zcore, web; mailboxes on its own volume. */
export class GromoxNode extends GrommunioNode {
  public readonly serverId?: number;
  private readonly externalName?: string;

  constructor(scope: Construct, id: string, props: GromoxNodeProps = {}) {
    const cluster = clusterOf(scope);
    const v = cluster.mailboxVolume;
    super(
      scope,
      id,
      "mailbox",
      props.admin ? ["mailbox", "admin"] : ["mailbox"],
      props,
      v
        ? [
            {
              id: "data",
              purpose: "mailbox-data",
              sizeGb: props.dataVolumeSizeGb ?? v.sizeGb,
              label: "gromox-data",
              mountPoint: MAILSTORE,
              ...(v.type !== undefined ? { type: v.type } : {}),
              ...(v.iops !== undefined ? { iops: v.iops } : {}),
              ...(v.throughputMiBps !== undefined ? { throughputMiBps: v.throughputMiBps } : {}),
            },
          ]
        : [],
    );
    const id2 = props.serverId ?? nameNumber(id);
    if (id2 === undefined) {
      this.cluster.report({
        code: "GRX204",
        path: this.node.path,
        field: "serverId",
        message: `mailbox node "${id}" has no number at the end of its name and no serverId.`,
        fix: `End the name with the node's number (e.g. "${id}1"), or set serverId (1–255, never renumbered).`,
      });
    } else {
      this.serverId = id2;
    }
    if (props.externalName !== undefined) this.externalName = props.externalName;
    if (v) this.warnUnenforcedSize("dataVolumeSizeGb", props.dataVolumeSizeGb);
    if (props.dataVolumeSizeGb !== undefined && this.cluster.storageMode === "shared") {
      this.cluster.report({
        code: "GRX200",
        path: this.node.path,
        field: "dataVolumeSizeGb",
        message: `dataVolumeSizeGb (${String(props.dataVolumeSizeGb)}) sizes a mailbox node's own volume, and with SharedStorage mailbox nodes have none: their mailboxes are on the shared file system, and no volume of that size would be created.`,
        fix: "Remove dataVolumeSizeGb (size the NFS node with SharedStorage({ nfsNode: { volumeSizeGb } })), or use ShareNothing.",
      });
    }
  }

  /** @internal */
  public override nodeInput(): NodeInput {
    return {
      ...super.nodeInput(),
      ...(this.serverId !== undefined ? { serverId: this.serverId } : {}),
      ...(this.externalName !== undefined ? { externalName: this.externalName } : {}),
    };
  }
}

/** A classic node: postfix (SMTP, submission), gromox-delivery(-queue), gromox-imap, gromox-pop3. */
export class ClassicNode extends GrommunioNode {
  constructor(scope: Construct, id: string, props: GrommunioNodeProps = {}) {
    super(scope, id, "classic", ["classic"], props);
  }
}

/** A separate admin node: grommunio-admin-api and admin-web (needs the maildirs: SharedStorage). */
export class AdminNode extends GrommunioNode {
  constructor(scope: Construct, id: string, props: GrommunioNodeProps = {}) {
    super(scope, id, "admin", ["admin"], props);
  }
}

/** A load-balancer node (HAProxy or nginx); created by `LoadBalancerTier`. */
export class LoadBalancerNode extends GrommunioNode {
  constructor(scope: Construct, id: string, props: GrommunioNodeProps = {}) {
    super(scope, id, "load-balancer", ["load-balancer"], props);
  }
}

export interface DatabaseNodeProps extends GrommunioNodeProps {
  /** Size of the MariaDB data volume (mounted at /var/lib/mysql; not enforced on Docker, a warning). @default 50 */
  readonly volumeSizeGb?: number;
}

/** The MariaDB node; its data lives on its own volume so a replaced node keeps the database. */
export class DatabaseNode extends GrommunioNode {
  constructor(scope: Construct, id: string, props: DatabaseNodeProps = {}) {
    super(scope, id, "database", ["database"], props, [
      {
        id: "data",
        purpose: "database-data",
        sizeGb: props.volumeSizeGb ?? 50,
        label: "mariadb-data",
        mountPoint: MARIADB_DATADIR,
      },
    ]);
    this.warnUnenforcedSize("volumeSizeGb", props.volumeSizeGb);
  }
}

/** Where the NFS node keeps the shared mailbox store. */
export const NFS_EXPORT = "/srv/gromox";

export interface NfsNodeProps extends GrommunioNodeProps {
  /** Size of the exported volume (not enforced where volumes have no size, a warning). @default 200 */
  readonly volumeSizeGb?: number;
}

/** An NFS server for SharedStorage on platforms without a managed file system. */
export class NfsNode extends GrommunioNode {
  constructor(scope: Construct, id: string, props: NfsNodeProps = {}) {
    super(scope, id, "nfs", ["nfs"], props, [
      {
        id: "data",
        purpose: "nfs-export",
        sizeGb: props.volumeSizeGb ?? 200,
        label: "nfs-export",
        mountPoint: NFS_EXPORT,
      },
    ]);
    this.warnUnenforcedSize("volumeSizeGb", props.volumeSizeGb);
  }
}
