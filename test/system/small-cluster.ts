/**
 * The small Hetzner cluster that system tests running a node's generated steps synthesize.
 */
import { TerraformStack, Testing } from "cdktf";
import { ClusterStorage, Database, GrommunioCluster, GrommunioClusterProps, Platform } from "../../lib";
import "../../lib/platforms/hcloud";

/**
 * A Hetzner cluster on the private network 10.10.10.0/24 with MariaDB on a node and `storage`;
 * `addNodes` adds its nodes, then the stack is synthesized (so `cloudConfigs` and the
 * provisioning are there). `props` adds to (or overrides) the cluster's props.
 */
export function hcloudTestCluster(
  storage: ClusterStorage,
  addNodes: (cluster: GrommunioCluster) => void,
  props: Partial<Omit<GrommunioClusterProps, "platform">> = {},
): GrommunioCluster {
  const stack = new TerraformStack(Testing.app(), "t");
  const cluster = new GrommunioCluster(stack, "mail", {
    platform: Platform.hcloud({ location: "fsn1" }),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    database: Database.onNode(),
    storage,
    ...props,
  });
  addNodes(cluster);
  Testing.synth(stack);
  return cluster;
}
