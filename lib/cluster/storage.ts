/**
 * Where mailboxes live. `ShareNothing` (grommunio 2025.01.1+): each mailbox node keeps its own
 * mailboxes on its own volume. `SharedStorage`: one file system every mailbox and admin node
 * mounts at /var/lib/gromox (AWS EFS; an NFS node on platforms without a managed file system).
 */
import { Construct } from "constructs";
import type { NfsMount } from "../provision";
import { Annotations } from "../provision/cdktf";
import { NFS_MOUNT_OPTIONS } from "../provision/node";
import type { StorageMode } from "../topology";
import { ClusterContext, MailboxVolume } from "./context";
import { MAILSTORE, NFS_EXPORT, NfsNode, NfsNodeProps } from "./nodes";

/** What a storage choice contributes to the cluster. */
export interface StorageBinding {
  readonly mode: StorageMode;
  /** With ShareNothing: the volume every mailbox node gets. */
  readonly mailboxVolume?: MailboxVolume;
  /** With SharedStorage: what the nfs clients (mailbox, admin nodes) mount. */
  readonly sharedMount?: NfsMount;
  /** The platform's managed file system serves 2049 (firewall target). */
  readonly managed: boolean;
  /**
   * With ShareNothing: the mailbox nodes export their stores to the admin nodes over NFS
   * (`ClusterInput.storeExports`); false where the machines cannot mount NFS (containers).
   */
  readonly storeExports?: boolean;
}

export abstract class ClusterStorage {
  public abstract readonly mode: StorageMode;
  /** @internal Called once by the cluster's constructor, before any node exists. */
  public abstract bind(cluster: ClusterContext): StorageBinding;
}

export interface ShareNothingProps {
  /** Mailbox volume per mailbox node, GiB (not enforced on Docker, a warning). @default 100 */
  readonly volumeSizeGb?: number;
  /**
   * Platform volume type. AWS: gp2, gp3, io1, io2, st1, sc1 or standard, each with its size range
   * (st1/sc1 from 125 GiB, io1/io2 from 4 GiB; GRX229).
   * @default the platform's (AWS gp3)
   */
  readonly volumeType?: string;
  /**
   * Provisioned IOPS (AWS gp3 3000–80000 and at most 500 per GiB; io1 100–64000, at most 50 per
   * GiB, and io2 100–256000, at most 1000 per GiB, where it is required; GRX230). Hetzner,
   * libvirt, vSphere and Docker volumes have no such setting: an error there (GRX265, GRX283,
   * GRX294, GRX244).
   * @default the volume type's baseline (AWS gp3: 3000); none for io1/io2 (required there)
   */
  readonly iops?: number;
  /**
   * Provisioned throughput in MiB/s (AWS gp3 only: 125–2000, at most 0.25 per IOPS; GRX230);
   * refused like `iops` elsewhere.
   * @default the volume type's baseline (AWS gp3: 125)
   */
  readonly throughputMiBps?: number;
}

/** Each mailbox node keeps its mailboxes on its own volume at /var/lib/gromox. */
export class ShareNothing extends ClusterStorage {
  public readonly mode = "share-nothing" as const;

  constructor(private readonly props: ShareNothingProps = {}) {
    super();
  }

  public bind(cluster: ClusterContext): StorageBinding {
    if (!cluster.capabilities.blockVolumes) {
      cluster.report({
        code: "GRX206",
        path: cluster.construct.node.path,
        field: "storage",
        message:
          "ShareNothing keeps each mailbox node's store on its own volume, and this platform has no block volumes.",
        fix: "Use SharedStorage, or a platform with block volumes.",
      });
      return { mode: this.mode, managed: false };
    }
    if (this.props.volumeSizeGb !== undefined && cluster.capabilities.volumeSizes === false) {
      Annotations.of(cluster.construct).addWarning(
        `ShareNothing volumeSizeGb (${this.props.volumeSizeGb} GiB) is not enforced here: this platform's volumes have no size (Docker's local driver grows until the host's disk is full).`,
      );
    }
    return {
      mode: this.mode,
      // Containers cannot mount NFS (the container delivery refuses it, GRX249): there the
      // cluster warns instead (an admin node with more than one mailbox node).
      storeExports: (cluster.capabilities.bootstrap ?? "cloud-init") === "cloud-init",
      mailboxVolume: {
        sizeGb: this.props.volumeSizeGb ?? 100,
        ...(this.props.volumeType !== undefined ? { type: this.props.volumeType } : {}),
        ...(this.props.iops !== undefined ? { iops: this.props.iops } : {}),
        ...(this.props.throughputMiBps !== undefined ? { throughputMiBps: this.props.throughputMiBps } : {}),
      },
      managed: false,
    };
  }
}

export interface SharedStorageProps {
  /**
   * The NFS node, on platforms without a managed file system. Ignored, with a warning, on
   * platforms that have one (AWS, which uses EFS).
   * @default a node named "nfs1" with a 200 GiB volume
   */
  readonly nfsNode?: NfsNodeProps & { readonly name?: string };
}

/** One file system for all mailbox (and admin) nodes at /var/lib/gromox. */
export class SharedStorage extends ClusterStorage {
  public readonly mode = "shared" as const;

  constructor(private readonly props: SharedStorageProps = {}) {
    super();
  }

  public bind(cluster: ClusterContext): StorageBinding {
    const caps = cluster.capabilities;
    const add = cluster.deployment.addSharedFileSystem?.bind(cluster.deployment);
    if (caps.sharedStorage === "managed" && add) {
      if (this.props.nfsNode !== undefined) {
        // Generic code may pass nfsNode on every platform: a warning, not an error.
        Annotations.of(cluster.construct).addWarning(
          "SharedStorage: nfsNode is ignored here: this platform's managed file system (AWS: EFS) holds the mailboxes, and no NFS node is created.",
        );
      }
      const fs = add(new Construct(cluster.construct, "shared-storage"), { mountPoint: MAILSTORE, clients: [] });
      return {
        mode: this.mode,
        sharedMount: {
          kind: "nfs",
          source: fs.source,
          mountPoint: MAILSTORE,
          options: fs.options,
          clientPackages: fs.clientPackages,
        },
        managed: true,
      };
    }
    if (caps.sharedStorage === "nfs-node") {
      const { name, ...nodeProps } = this.props.nfsNode ?? {};
      const node = new NfsNode(cluster.construct, name ?? "nfs1", nodeProps);
      return {
        mode: this.mode,
        sharedMount: {
          kind: "nfs",
          source: `${node.privateIp}:${NFS_EXPORT}`,
          mountPoint: MAILSTORE,
          options: NFS_MOUNT_OPTIONS,
          clientPackages: ["nfs-common"],
        },
        managed: false,
      };
    }
    cluster.report({
      code: "GRX206",
      path: cluster.construct.node.path,
      field: "storage",
      message:
        "SharedStorage needs a shared file system, and this platform offers neither a managed one nor an NFS node.",
      fix: "Use ShareNothing (each mailbox node keeps its own mailboxes on its own volume).",
    });
    return { mode: this.mode, managed: false };
  }
}
