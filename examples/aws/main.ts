/**
 * AWS example: the layout of grommunio's multi-server documentation on AWS.
 *
 *   3 mailbox nodes (share-nothing: a 200 GiB gp3 volume each; mail1 also runs the admin API)
 *   2 classic nodes (postfix, IMAP, POP3)
 *   2 HAProxy nodes (node-aware routing; admin frontend only from 203.0.113.0/24)
 *   1 MariaDB node (its data on its own volume)
 *
 * One VPC (10.10.10.0/23) in one AZ: the nodes live in 10.10.10.0/24 at addresses derived from
 * their names (mail1 → 10.10.10.21, classic1 → .121, lb1 → .11, db1 → .5).
 *
 *   CHECKPOINT_DISABLE=1 npx cdktf synth      # all examples, see examples/main.ts
 *   npx tsx examples/aws/main.ts              # this one alone
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

export interface AwsExampleOptions {
  /** Stack name. @default "grommunio-aws" */
  readonly stackName?: string;
  /** Mailbox node names. @default ["mail1", "mail2", "mail3"] */
  readonly mailboxNodes?: readonly string[];
}

/** Builds the AWS example stack in `app`. */
export function awsExample(app: Construct, options: AwsExampleOptions = {}): TerraformStack {
  const stack = new TerraformStack(app, options.stackName ?? "grommunio-aws");
  const cluster = new GrommunioCluster(stack, "mail", {
    platform: Platform.aws({ region: "eu-central-1" }),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    storage: new ShareNothing({ volumeSizeGb: 200 }),
    database: Database.onNode({ volumeSizeGb: 50 }),
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
  awsExample(app);
  app.synth();
}
