/**
 * The cluster layouts the benchmarks synthesize.
 *
 * - `documented`: the examples' stacks as they are (`examples/aws/main.ts`,
 *   `examples/hcloud/main.ts`): 3 mailbox nodes (mail1 runs the admin API), 2 classic, 2 HAProxy
 *   with node-aware routing, a database node.
 * - `scaled(n)`: the same cluster with n mailbox nodes, one classic node per 3 mailbox nodes and
 *   one load-balancer node per 10 (at least 2 of each), in a /17 cluster network. A /17 is the
 *   largest AWS takes (its VPC is one prefix larger, at most a /16), and the node-number address
 *   blocks scale with the network: 100 × 128 = 12,800 mailbox numbers, 6,400 classic, 1,280
 *   load-balancer. Node names end in their number, so addresses and server ids (1–255) derive
 *   from the names; no explicit privateIp/serverId is needed up to 255 mailbox nodes.
 */
import { TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { ClassicNode, Database, GromoxNode, GrommunioCluster, LoadBalancerTier, Platform, ShareNothing } from "../lib";
import "../lib/platforms/hcloud";
import { awsExample } from "../examples/aws/main";
import { hcloudExample } from "../examples/hcloud/main";

export type BenchPlatform = "aws" | "hcloud";

type PlatformOf = NonNullable<ConstructorParameters<typeof GrommunioCluster>[2]>["platform"];

export const SCALE_NETWORK = "10.16.0.0/17";

export interface ScaledCounts {
  readonly mailbox: number;
  readonly classic: number;
  readonly loadBalancer: number;
  /** Mailbox + classic + load-balancer + database. */
  readonly total: number;
}

export function scaledCounts(mailbox: number): ScaledCounts {
  const classic = Math.max(2, Math.ceil(mailbox / 3));
  const loadBalancer = Math.max(2, Math.ceil(mailbox / 10));
  return { mailbox, classic, loadBalancer, total: mailbox + classic + loadBalancer + 1 };
}

/** The documented layout (the example stack of the platform). */
export function documentedStack(app: Construct, platform: BenchPlatform): TerraformStack {
  return platform === "aws" ? awsExample(app) : hcloudExample(app);
}

export const DOCUMENTED_STACK_NAME: Readonly<Record<BenchPlatform, string>> = {
  aws: "grommunio-aws",
  hcloud: "grommunio-hcloud",
};

/** The scaled layout: returns the stack and its cluster. */
export function scaledStack(
  app: Construct,
  platform: BenchPlatform,
  mailbox: number,
): { stack: TerraformStack; cluster: GrommunioCluster } {
  const counts = scaledCounts(mailbox);
  const stack = new TerraformStack(app, `bench-${platform}-${mailbox}`);
  const target: PlatformOf =
    platform === "aws"
      ? Platform.aws({ region: "eu-central-1" })
      : Platform.hcloud({ location: "fsn1", sshKeys: ["operator"] });
  const cluster = new GrommunioCluster(stack, "mail", {
    platform: target,
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: SCALE_NETWORK },
    storage: new ShareNothing({ volumeSizeGb: 200 }),
    database: Database.onNode({ volumeSizeGb: 50 }),
    ...(platform === "hcloud" ? { sshAllowFrom: ["198.51.100.0/24"] } : {}),
  });
  for (let i = 1; i <= counts.mailbox; i++) new GromoxNode(cluster, `mail${i}`, { admin: i === 1 });
  for (let i = 1; i <= counts.classic; i++) new ClassicNode(cluster, `classic${i}`);
  new LoadBalancerTier(cluster, "lb", {
    flavor: "haproxy",
    nodes: counts.loadBalancer,
    nodeAwareRouting: true,
    adminAllowFrom: ["203.0.113.0/24"],
  });
  return { stack, cluster };
}
