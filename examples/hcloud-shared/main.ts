/**
 * Hetzner Cloud example with shared storage: the "Shared storage" layout of grommunio's
 * multi-server documentation (examples/hcloud is the same cluster, share-nothing).
 *
 *   3 mailbox nodes (no volume of their own; mail1 also runs the admin API)
 *   1 NFS node (nfs1: a 600 GB volume exported to the mailbox nodes, which mount it at /var/lib/gromox)
 *   2 classic nodes (postfix, IMAP, POP3)
 *   2 HAProxy nodes (node-aware routing; admin frontend only from 203.0.113.0/24)
 *   1 MariaDB node (its data on its own volume)
 *
 * Shared or share-nothing? With SharedStorage every mailbox node reads every mailbox at the same
 * path, so `grommunio-failover` and `grommunio-rebalance` move mailboxes by reassigning them in
 * the database (docs/operations.md; rebalance is shared-storage only); the NFS node is one more
 * machine, and a single point of failure unless you make it highly available yourself.
 * ShareNothing (examples/hcloud) keeps each node's mailboxes on its own volume: no central file
 * server, but a failed node's volume must be attached to the target before failover.
 * lib/cluster/storage.ts and docs/operations.md have the details.
 *
 * One private network (10.10.10.0/23) in fsn1 / eu-central, addresses derived from the node names
 * (mail1 → 10.10.10.21, classic1 → .121, lb1 → .11, db1 → .5, nfs1 → .191). The NFS node's
 * nftables firewall admits NFS (TCP 2049) only from the nodes that mount the store.
 *
 * A user-data change replaces a Hetzner server (configChangePolicy "replace"; volumes survive).
 *
 *   export HCLOUD_TOKEN=…
 *   CHECKPOINT_DISABLE=1 npx cdktf synth      # all examples, see examples/main.ts
 *   npx tsx examples/hcloud-shared/main.ts    # this one alone
 */
import { App, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import {
  ClassicNode,
  Database,
  GromoxNode,
  GrommunioCluster,
  LoadBalancerTier,
  Platform,
  SharedStorage,
} from "../../lib";
import "../../lib/platforms/hcloud";

export interface HcloudSharedExampleOptions {
  /** Stack name. @default "grommunio-hcloud-shared" */
  readonly stackName?: string;
  /** Mailbox node names. @default ["mail1", "mail2", "mail3"] */
  readonly mailboxNodes?: readonly string[];
  /** Size of the NFS node's exported volume (every mailbox lives there), GB. @default 600 */
  readonly nfsVolumeSizeGb?: number;
  /** Operator addresses allowed to SSH. @default ["198.51.100.0/24"] */
  readonly sshAllowFrom?: readonly string[];
}

/** Builds the Hetzner Cloud shared-storage example stack in `app`. */
export function hcloudSharedExample(app: Construct, options: HcloudSharedExampleOptions = {}): TerraformStack {
  const stack = new TerraformStack(app, options.stackName ?? "grommunio-hcloud-shared");
  const cluster = new GrommunioCluster(stack, "mail", {
    platform: Platform.hcloud({ location: "fsn1", sshKeys: ["operator"] }),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    // Hetzner has no managed shared file system: SharedStorage adds an NFS node (here nfs1) whose
    // volume holds every mailbox; the mailbox nodes get no volume of their own.
    storage: new SharedStorage({ nfsNode: { name: "nfs1", volumeSizeGb: options.nfsVolumeSizeGb ?? 600 } }),
    database: Database.onNode({ volumeSizeGb: 50 }),
    sshAllowFrom: options.sshAllowFrom ?? ["198.51.100.0/24"],
  });
  for (const name of options.mailboxNodes ?? ["mail1", "mail2", "mail3"]) {
    new GromoxNode(cluster, name, { admin: name === "mail1" });
  }
  new ClassicNode(cluster, "classic1");
  new ClassicNode(cluster, "classic2");
  new LoadBalancerTier(cluster, "lb", {
    flavor: "haproxy",
    nodes: 2,
    nodeAwareRouting: true,
    adminAllowFrom: ["203.0.113.0/24"],
  });
  return stack;
}

if (require.main === module) {
  const app = new App();
  hcloudSharedExample(app);
  app.synth();
}
