/**
 * Address layout of the Hetzner Cloud network (pure). The cluster subnet holds only the nodes, each
 * at a fixed private address; the optional load balancer lives in a separate `services` subnet at
 * a fixed address, so it can never take an address a future node is planned for, and every host
 * firewall knows it at synth time.
 *
 * Default: network `ip_range` = the cluster network's supernet (one prefix shorter); the other
 * half is the services subnet, where the load balancer takes the third address (the first two are
 * kept free: network address and, when the services half comes first, Hetzner's gateway, which is
 * always the first host of the network `ip_range`).
 *
 *   cluster 10.10.10.0/24  →  network 10.10.10.0/23, services 10.10.11.0/24, load balancer 10.10.11.2
 */
import { Ipv4Cidr, addressEntryProblem, canonicalCidr, formatIpv4, parseIpv4Cidr } from "../../topology";

export interface HcloudNetworkLayout {
  /** `hcloud_network.ip_range`. */
  readonly network: string;
  /** The cluster subnet (nodes). */
  readonly cluster: string;
  /** The services subnet (load balancer). */
  readonly services: string;
  /** The load balancer's private address (in `services`). */
  readonly loadBalancerIp: string;
}

/** Cluster subnets from /16 to /28 (the network is one prefix larger). */
export const HCLOUD_MIN_PREFIX = 16;
export const HCLOUD_MAX_PREFIX = 28;

/** Hetzner Cloud networks must use private (RFC 1918) ranges. */
const RFC1918 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].map((c) => parseIpv4Cidr(c)!);

/** Locations and their network zones (servers, subnets and load balancers share one zone). */
export const HCLOUD_NETWORK_ZONES: Readonly<Record<string, string>> = {
  fsn1: "eu-central",
  nbg1: "eu-central",
  hel1: "eu-central",
  ash: "us-east",
  hil: "us-west",
  sin: "ap-southeast",
};

function contains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return inner.network >= outer.network && inner.network + inner.size <= outer.network + outer.size;
}

export type LayoutProblem = { field: string; message: string; fix: string };

/**
 * The layout for a cluster network, or a reason why there is none. `networkIpRange` overrides the
 * network block; it must be private and contain the cluster network and the services subnet.
 */
export function hcloudNetworkLayout(
  clusterCidr: string,
  networkIpRange?: string,
): { layout: HcloudNetworkLayout } | { problem: LayoutProblem } {
  const cluster = parseIpv4Cidr(clusterCidr);
  if (!cluster) {
    // The topology reports the malformed network (GRX004).
    return { problem: { field: "network.cidr", message: `"${clusterCidr}" is not a network.`, fix: "See GRX004." } };
  }
  if (cluster.prefix < HCLOUD_MIN_PREFIX || cluster.prefix > HCLOUD_MAX_PREFIX) {
    return {
      problem: {
        field: "network.cidr",
        message: `${clusterCidr} is a /${cluster.prefix}; on Hetzner Cloud the cluster subnet must be a /${HCLOUD_MIN_PREFIX} to /${HCLOUD_MAX_PREFIX}.`,
        fix: "Use a cluster network such as 10.10.10.0/24.",
      },
    };
  }
  if (!RFC1918.some((r) => contains(r, cluster))) {
    return {
      problem: {
        field: "network.cidr",
        message: `${clusterCidr} is not a private (RFC 1918) range; Hetzner Cloud networks only use 10/8, 172.16/12 and 192.168/16.`,
        fix: "Use a private cluster network such as 10.10.10.0/24.",
      },
    };
  }
  const superSize = cluster.size * 2;
  const superNet = cluster.network - (cluster.network % superSize);
  const sibling = cluster.network === superNet ? superNet + cluster.size : superNet;
  const services = parseIpv4Cidr(`${formatIpv4(sibling)}/${cluster.prefix}`)!;
  let network = parseIpv4Cidr(`${formatIpv4(superNet)}/${cluster.prefix - 1}`)!;
  if (networkIpRange !== undefined) {
    const given = parseIpv4Cidr(networkIpRange);
    if (!given || !RFC1918.some((r) => contains(r, given)) || !contains(given, network)) {
      return {
        problem: {
          field: "networkIpRange",
          message: `networkIpRange "${networkIpRange}" must be a private network containing ${network.text} (the cluster network ${clusterCidr} and the services subnet ${services.text} beside it).`,
          fix: `Omit networkIpRange (default ${network.text}) or give a larger private block that contains ${network.text}.`,
        },
      };
    }
    network = given;
  }
  return {
    layout: {
      network: network.text,
      cluster: cluster.text,
      services: services.text,
      loadBalancerIp: formatIpv4(services.network + 2),
    },
  };
}

/**
 * An address or CIDR for `hcloud_firewall` `source_ips`, written exactly as the provider and the
 * API keep it, so a plan after apply shows no diff: the network address with an explicit prefix
 * (`198.51.100.7` → `198.51.100.7/32`, `2001:db8::1` → `2001:db8::1/128`), IPv6 lower case and
 * minimal (RFC 5952, `2001:DB8:0:0::/48` → `2001:db8::/48`), the prefix in plain decimal.
 * `canonicalCidr` is that spelling. What the provider (hetznercloud/terraform-provider-hcloud,
 * 1.68.0 here) does with a value, from its source (internal/firewall/validation.go: `validateIPDiag`,
 * `normalizeIP`, and their tests, as of commit 40df28d) and changelog:
 * - host bits set (`10.0.0.5/8`): refused at validate, "10.0.0.5/8 is not the start of the cidr
 *   block 10.0.0.0/8" (since PR #333, which replaced a silent normalization that made every plan
 *   re-create the rules);
 * - a bare address: taken as its /32 or /128 since v1.46.0 (PR #874; "invalid CIDR address" before);
 * - upper case or non-minimal IPv6 (`2001:0DB8::0/64`, `::0/0`): the API stores the minimal
 *   lower-case form ("The API modifies CIDRs to lower case and IPv6 to its minimal form",
 *   `normalizeIP`); the provider does the same since v1.46.0, before it re-planned the rule on
 *   every run (issues #414, #870);
 * - an IPv4-mapped IPv6 network: by Go's `net.IPNet.String`, which `normalizeIP` and the API
 *   request use, it becomes IPv4 (`::ffff:1.2.3.0/120` → `1.2.3.0/24`), unlike on AWS (refused) or
 *   in nftables (matches nobody); refused before it gets here (GRX458, GRX038, GRX218), as are
 *   host bits.
 * Plan sources are canonical already (`Connections.allowFrom`); anything else is a bug and throws.
 */
export function hcloudCidr(addressOrCidr: string): string {
  const canonical = canonicalCidr(addressOrCidr);
  if (canonical === undefined || addressEntryProblem(addressOrCidr) !== undefined) {
    throw new Error(`hcloudCidr: "${addressOrCidr}" is no address or CIDR the Hetzner firewall keeps`);
  }
  return canonical;
}
