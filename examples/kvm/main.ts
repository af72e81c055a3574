/**
 * KVM/libvirt example: the layout of grommunio's multi-server documentation on one libvirt host.
 *
 *   3 mailbox nodes (share-nothing: a 200 GiB data disk each; mail1 also runs the admin API)
 *   2 classic nodes (postfix, IMAP, POP3)
 *   2 HAProxy nodes (node-aware routing; admin frontend only from 203.0.113.0/24)
 *   1 MariaDB node (its data on its own disk)
 *
 * One NAT network (10.10.10.0/24, DHCP off; the host bridge 10.10.10.1 is gateway and resolver):
 * the nodes sit at addresses derived from their names (mail1 → 10.10.10.21, classic1 → .121,
 * lb1 → .11, db1 → .5), set statically by each node's NoCloud seed (network-config, NIC matched by
 * MAC 52:54:00:0a:0a:<last byte>). libvirt has no firewall: every node gets an nftables ruleset
 * from the cluster's firewall plan. Publish the load-balancer nodes' ports on the host yourself
 * (DNAT, or `mode: "route"` with a route to 10.10.10.0/24 on your router).
 *
 * Before deploying: `apt-get install genisoimage` on the machine running Terraform (the provider
 * builds each seed ISO with mkisofs), download a dated Debian 12 cloud image, check it against
 * the published SHA512SUMS and point `image` at it. A user-data change re-creates the node from
 * the image (configChangePolicy "replace"; data disks survive).
 *
 *   CHECKPOINT_DISABLE=1 npx cdktf synth      # all examples, see examples/main.ts
 *   npx tsx examples/kvm/main.ts              # this one alone
 */
import { App, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import {
  ClassicNode,
  ClusterStorage,
  ConfigChangePolicy,
  Database,
  GromoxNode,
  GrommunioCluster,
  GrommunioClusterProps,
  LoadBalancerTier,
  Platform,
  ShareNothing,
} from "../../lib";
import "../../lib/platforms/libvirt";
import { LibvirtDeployment, LibvirtPlatformProps } from "../../lib/platforms/libvirt";

/** The image the example boots: a dated Debian 12 genericcloud image, downloaded and checked by you. */
export const KVM_EXAMPLE_IMAGE = "/var/lib/libvirt/images/debian-12-genericcloud-amd64-20250428-2096.qcow2";

export interface KvmExampleOptions {
  /** Stack name. @default "grommunio-kvm" */
  readonly stackName?: string;
  /** Mailbox node names. @default ["mail1", "mail2", "mail3"] */
  readonly mailboxNodes?: readonly string[];
  /** Platform settings on top of the example's. @default none */
  readonly platform?: Partial<LibvirtPlatformProps>;
  /** @default "replace" (the platform's default) */
  readonly configChangePolicy?: ConfigChangePolicy;
  /**
   * Where the mailboxes live (the VM boot test's `shared-storage` scenario passes
   * `SharedStorage` with an NFS node).
   * @default ShareNothing with a 200 GiB volume per mailbox node
   */
  readonly storage?: ClusterStorage;
  /**
   * Package sources and the readiness report (an air-gapped site's mirror; the VM boot test's
   * local repository, `npm run test:vm`).
   * @default the public repositories, no report
   */
  readonly cluster?: Pick<GrommunioClusterProps, "repository" | "osRepository" | "readinessReport">;
}

/** Builds the KVM/libvirt example stack in `app`. */
export function kvmExample(app: Construct, options: KvmExampleOptions = {}): TerraformStack {
  const stack = new TerraformStack(app, options.stackName ?? "grommunio-kvm");
  const cluster = new GrommunioCluster<LibvirtDeployment>(stack, "mail", {
    platform: Platform.libvirt({ uri: "qemu:///system", image: { source: KVM_EXAMPLE_IMAGE }, ...options.platform }),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    storage: options.storage ?? new ShareNothing({ volumeSizeGb: 200 }),
    database: Database.onNode({ volumeSizeGb: 50 }),
    ...(options.configChangePolicy !== undefined ? { configChangePolicy: options.configChangePolicy } : {}),
    ...options.cluster,
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
  kvmExample(app);
  app.synth();
}
