/**
 * Docker example: the layout of grommunio's multi-server documentation as containers on one
 * Docker host.
 *
 *   3 mailbox nodes (share-nothing: a Docker volume each at /var/lib/gromox; mail1 also runs the admin API)
 *   2 classic nodes (postfix, IMAP, POP3)
 *   2 HAProxy nodes (node-aware routing; admin frontend only from 203.0.113.0/24)
 *   1 MariaDB node (its data on its own volume at /var/lib/mysql)
 *
 * One internal bridge network (10.10.10.0/24, no route out) holds every container at the address
 * derived from its name (mail1 → 10.10.10.21, classic1 → .121, lb1 → .11, db1 → .5). The HAProxy
 * containers also join an ordinary bridge and publish 25, 80, 443, 587, 993, 995 and 8443 — lb1 on
 * the host address 192.0.2.11, lb2 on 192.0.2.12 (two containers cannot publish one port on one
 * address); the classic containers join it for outbound mail only. Nothing else is published.
 *
 * There is no cloud-init: every node's rendered files are uploaded into its container together
 * with /etc/grommunio-provision/{manifest.json,boot.sh}, which the container runs as its
 * entrypoint (owners, the in-container firewall, first-boot steps, services in order). The images
 * `grommunio-cluster/<role>:debian-12` are yours to build (docs/platforms.md, "Docker images").
 * A configuration change re-creates the affected containers (configChangePolicy "replace"); the
 * volumes keep the data. Upload contents, secrets included, are kept in the Terraform state.
 *
 *   export DOCKER_HOST=unix:///var/run/docker.sock
 *   CHECKPOINT_DISABLE=1 npx cdktf synth      # all examples, see examples/main.ts
 *   npx tsx examples/docker/main.ts           # this one alone
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
import "../../lib/platforms/docker";

export interface DockerExampleOptions {
  /** Stack name. @default "grommunio-docker" */
  readonly stackName?: string;
  /** Mailbox node names. @default ["mail1", "mail2", "mail3"] */
  readonly mailboxNodes?: readonly string[];
  /** Host addresses the HAProxy containers publish on. @default { lb1: "192.0.2.11", lb2: "192.0.2.12" } */
  readonly publishAddresses?: Readonly<Record<string, string>>;
}

/** Builds the Docker example stack in `app`. */
export function dockerExample(app: Construct, options: DockerExampleOptions = {}): TerraformStack {
  const stack = new TerraformStack(app, options.stackName ?? "grommunio-docker");
  const cluster = new GrommunioCluster(stack, "mail", {
    platform: Platform.docker({
      publishAddresses: options.publishAddresses ?? { lb1: "192.0.2.11", lb2: "192.0.2.12" },
    }),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    storage: new ShareNothing(),
    database: Database.onNode(),
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
  dockerExample(app);
  app.synth();
}
