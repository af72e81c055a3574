/**
 * Hetzner Cloud example: the layout of grommunio's multi-server documentation on Hetzner Cloud.
 *
 *   3 mailbox nodes (share-nothing: a 200 GB volume each; mail1 also runs the admin API)
 *   2 classic nodes (postfix, IMAP, POP3)
 *   2 HAProxy nodes (node-aware routing; admin frontend only from 203.0.113.0/24)
 *   1 MariaDB node (its data on its own volume)
 *
 * One private network (10.10.10.0/23) in fsn1 / eu-central: the nodes live in 10.10.10.0/24 at
 * addresses derived from their names (mail1 → 10.10.10.21, classic1 → .121, lb1 → .11, db1 → .5);
 * the optional Hetzner load balancer sits in 10.10.11.0/24 at 10.10.11.2. Hetzner's cloud firewall
 * opens only the public frontends (and SSH from `sshAllowFrom`); every node also gets an nftables
 * firewall that admits each internal port only from the nodes that use it.
 *
 * A user-data change replaces a Hetzner server (configChangePolicy "replace"; volumes survive).
 *
 *   export HCLOUD_TOKEN=…
 *   CHECKPOINT_DISABLE=1 npx cdktf synth      # all examples, see examples/main.ts
 *   npx tsx examples/hcloud/main.ts           # this one alone
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
  ShareNothing,
} from "../../lib";
import "../../lib/platforms/hcloud";

export interface HcloudExampleOptions {
  /** Stack name. @default "grommunio-hcloud" */
  readonly stackName?: string;
  /** Mailbox node names. @default ["mail1", "mail2", "mail3"] */
  readonly mailboxNodes?: readonly string[];
  /** Put a Hetzner load balancer (lb21) in front of the HAProxy nodes. @default false */
  readonly cloudLoadBalancer?: boolean;
  /**
   * The Hetzner load balancer sends PROXY headers, and the HAProxy frontends accept them (one
   * declaration, both ends): the tier sees the clients' addresses instead of the balancer's.
   * @default false
   */
  readonly cloudProxyProtocol?: boolean;
  /** Operator addresses allowed to SSH. @default ["198.51.100.0/24"] */
  readonly sshAllowFrom?: readonly string[];
}

/** Builds the Hetzner Cloud example stack in `app`. */
export function hcloudExample(app: Construct, options: HcloudExampleOptions = {}): TerraformStack {
  const stack = new TerraformStack(app, options.stackName ?? "grommunio-hcloud");
  const cluster = new GrommunioCluster(stack, "mail", {
    platform: Platform.hcloud({ location: "fsn1", sshKeys: ["operator"] }),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    storage: new ShareNothing({ volumeSizeGb: 200 }),
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
    ...(options.cloudLoadBalancer
      ? { cloudLoadBalancer: options.cloudProxyProtocol ? { proxyProtocol: true } : true }
      : {}),
  });
  return stack;
}

if (require.main === module) {
  const app = new App();
  hcloudExample(app);
  app.synth();
}
