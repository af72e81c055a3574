/**
 * Address layout of the AWS VPC (pure). The cluster subnet holds only the nodes, each at a fixed
 * `private_ip`. Managed services get their addresses from AWS (NLB, EFS mount target, RDS), so they
 * live in separate "services" subnets and can never take an address a future node is planned for.
 *
 * Default: VPC = the cluster network's supernet (one prefix shorter); the other half of it is
 * split into `services-a` (the cluster's AZ: NLB, EFS) and `services-b` (a second AZ, because an
 * RDS subnet group needs two).
 *
 *   cluster 10.10.10.0/24  →  VPC 10.10.10.0/23, services-a 10.10.11.0/25, services-b 10.10.11.128/25
 */
import { Ipv4Cidr, formatIpv4, parseIpv4Cidr } from "../../topology";

export interface AwsNetworkLayout {
  readonly vpc: string;
  readonly cluster: string;
  readonly servicesA: string;
  readonly servicesB: string;
}

/** AWS VPC and subnet CIDR blocks must be between /16 and /28. */
export const AWS_MIN_PREFIX = 16;
export const AWS_MAX_PREFIX = 28;

function cidrText(network: number, prefix: number): string {
  return `${formatIpv4(network)}/${prefix}`;
}

function contains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return inner.network >= outer.network && inner.network + inner.size <= outer.network + outer.size;
}

/**
 * The layout for a cluster network, or a reason why there is none (a message and a fix).
 * `vpcCidr` overrides the VPC block; it must contain the cluster network and be larger than it.
 */
export function awsNetworkLayout(
  clusterCidr: string,
  vpcCidr?: string,
): { layout: AwsNetworkLayout } | { problem: { field: string; message: string; fix: string } } {
  const cluster = parseIpv4Cidr(clusterCidr);
  if (!cluster) {
    // The topology reports the malformed network (GRX004); nothing to add here.
    return { problem: { field: "network.cidr", message: `"${clusterCidr}" is not a network.`, fix: "See GRX004." } };
  }
  if (cluster.prefix < AWS_MIN_PREFIX + 1 || cluster.prefix > AWS_MAX_PREFIX - 1) {
    return {
      problem: {
        field: "network.cidr",
        message: `${clusterCidr} is a /${cluster.prefix}; on AWS the cluster subnet must be a /${AWS_MIN_PREFIX + 1} to /${AWS_MAX_PREFIX - 1} (its VPC is one prefix larger, its services subnets one smaller, all within /${AWS_MIN_PREFIX}–/${AWS_MAX_PREFIX}).`,
        fix: `Use a cluster network such as 10.10.10.0/24, or give AwsPlatform vpcCidr explicitly for a /${AWS_MIN_PREFIX} cluster network.`,
      },
    };
  }
  const superPrefix = cluster.prefix - 1;
  const superSize = cluster.size * 2;
  const superNet = cluster.network - (cluster.network % superSize);
  let vpc = parseIpv4Cidr(cidrText(superNet, superPrefix))!;
  if (vpcCidr !== undefined) {
    const given = parseIpv4Cidr(vpcCidr);
    if (!given || given.prefix < AWS_MIN_PREFIX || given.prefix > AWS_MAX_PREFIX || !contains(given, vpc)) {
      return {
        problem: {
          field: "vpcCidr",
          message: `vpcCidr "${vpcCidr}" must be a /${AWS_MIN_PREFIX}–/${AWS_MAX_PREFIX} network containing ${vpc.text} (the cluster network ${clusterCidr} and the services subnets next to it).`,
          fix: `Omit vpcCidr (default ${vpc.text}) or give a larger block that contains ${vpc.text}.`,
        },
      };
    }
    vpc = given;
  }
  const sibling = cluster.network === superNet ? superNet + cluster.size : superNet;
  const half = cluster.size / 2;
  return {
    layout: {
      vpc: vpc.text,
      cluster: cluster.text,
      servicesA: cidrText(sibling, cluster.prefix + 1),
      servicesB: cidrText(sibling + half, cluster.prefix + 1),
    },
  };
}
