/**
 * The load-balancer tier: N HAProxy or nginx nodes (`<id>1` … `<id>N`) that take the public
 * mail and web ports and route to classic and mailbox nodes, optionally behind the platform's
 * cloud load balancer (AWS NLB).
 */
import { Construct } from "constructs";
import type { CloudLoadBalancer } from "../platforms/platform";
import type { LoadBalancerInput, ProxyProtocolInput } from "../topology";
import { ClusterContext, TierMember, clusterOf } from "./context";
import { Connections } from "./firewall";
import { LoadBalancerNode } from "./nodes";

export interface LoadBalancerTierProps {
  readonly flavor: "haproxy" | "nginx";
  /**
   * How many nodes. They are named `<tier id>1` … `<tier id>N`; scaling down removes the highest
   * numbers, scaling up adds new ones, existing nodes never change.
   * @default 2 (one can fail or be replaced while the other serves)
   */
  readonly nodes?: number;
  /** Machine type. @default the platform's default for load-balancer nodes (AWS t3.small) */
  readonly size?: string;
  /** The public mail host name clients use. @default `mail.<domain>` */
  readonly publicName?: string;
  /**
   * Route each request to the user's home mailbox node (mailbox.map, built from the database on
   * the load-balancer nodes).
   * @default false: mailbox nodes are balanced; every node reaches every store over exmdb
   */
  readonly nodeAwareRouting?: boolean;
  /**
   * CIDRs allowed to reach the admin frontend (8443). The security groups/firewalls open 8443
   * from exactly these. A bare address is its /32 or /128; a CIDR with host bits set
   * (`203.0.113.7/24`) is an error (GRX038), not read as its network.
   * @default undefined: no admin frontend, 8443 stays closed
   */
  readonly adminAllowFrom?: readonly string[];
  /**
   * PROXY protocol towards postfix and gromox (one declaration for both ends).
   * @default smtp and submission on; imap and pop3 on with haproxy, off with nginx (it sends only
   * v1, which gromox does not take: turning them on with nginx is GRX039)
   */
  readonly proxyProtocol?: ProxyProtocolInput;
  /**
   * A proxy of your own in front of the tier (no cloud load balancer): its addresses/CIDRs. The
   * public frontends then expect a PROXY header (v1 or v2) on every connection and take the
   * client's address from it; HAProxy refuses connections from anyone else. For the platform's
   * cloud load balancer use `cloudLoadBalancer: { proxyProtocol: true }` instead. Host bits set
   * (`192.0.2.5/28`) are an error (GRX045).
   * @default undefined: clients connect directly, no PROXY header is expected
   */
  readonly acceptProxyFrom?: readonly string[];
  /**
   * Extra HTTP backends the HTTPS frontend routes to besides the mailbox nodes, by pool
   * (`auth`, `chat`, `meet`, `files`, `office`, `archive`): servers outside the cluster or nodes of
   * your own, each `{ name, address, port, tls }`. An unknown pool or an empty one is refused
   * (GRX040, GRX041).
   * @default none: only the mailbox nodes' web, MAPI and EWS
   */
  readonly pools?: LoadBalancerInput["pools"];
  /**
   * Put the platform's cloud load balancer in front of the tier (AWS: an internet-facing NLB
   * with security groups, TCP listeners for every public port, client addresses preserved for
   * instance targets; Hetzner: a load balancer whose services reach the tier over the private
   * network, which hides client addresses unless it sends PROXY).
   *
   * `proxyProtocol: true` is the one declaration of the PROXY hop from the cloud load balancer
   * into the tier: it becomes the topology's `acceptProxyFrom: "cloud-lb"`, from which both the
   * tier's public frontends (HAProxy `accept-proxy`, nginx `listen … proxy_protocol` + realip)
   * and the cloud load balancer (AWS target groups `proxy_protocol_v2`, Hetzner services
   * `proxyprotocol`) are rendered. The admin frontend never takes it (an NLB keeps admins'
   * addresses anyway; Hetzner does not forward it).
   * @default undefined: no cloud load balancer; the tier's nodes take traffic on their own addresses
   */
  readonly cloudLoadBalancer?:
    | boolean
    | {
        /** @default false */
        readonly proxyProtocol?: boolean;
        /**
         * @deprecated the old name of `proxyProtocol` (the Hetzner load balancer's version is
         * undocumented); used when `proxyProtocol` is not given. Both given with different values
         * is GRX500.
         * @default false
         */
        readonly proxyProtocolV2?: boolean;
      };
}

export class LoadBalancerTier extends Construct implements TierMember {
  public readonly nodes: LoadBalancerNode[] = [];
  public readonly path: string;
  public readonly cloudLoadBalancer?: boolean;
  /** The cloud load balancer sends PROXY headers into the tier (`cloudLoadBalancer.proxyProtocol`). */
  public readonly cloudProxyProtocol: boolean = false;
  /** Proxies of the user's own in front of the tier (`acceptProxyFrom`), as given. */
  public readonly acceptProxyFrom?: readonly string[];
  /** The cloud load balancer (after synth, when asked for). */
  public cloud?: CloudLoadBalancer;
  private readonly cluster: ClusterContext;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: LoadBalancerTierProps,
  ) {
    super(scope, id);
    this.cluster = clusterOf(scope);
    this.path = this.node.path;
    const count = props.nodes ?? 2;
    if (!Number.isInteger(count) || count < 1) {
      this.cluster.report({
        code: "GRX216",
        path: this.path,
        field: "nodes",
        message: `a load-balancer tier needs a whole number of nodes ≥ 1, got ${count}.`,
        fix: "Give nodes: 2 (or more) for redundancy.",
      });
    } else {
      for (let i = 1; i <= count; i++) {
        this.nodes.push(
          new LoadBalancerNode(this, `${id}${i}`, { ...(props.size !== undefined ? { size: props.size } : {}) }),
        );
      }
    }
    if (props.cloudLoadBalancer) {
      const c = props.cloudLoadBalancer;
      this.cloudLoadBalancer = true;
      this.cloudProxyProtocol = typeof c === "object" ? (c.proxyProtocol ?? c.proxyProtocolV2 ?? false) : false;
      // Both names given and different: one would win without a word (it did: proxyProtocol).
      if (typeof c === "object" && c.proxyProtocol !== undefined && c.proxyProtocolV2 !== undefined) {
        if (c.proxyProtocol !== c.proxyProtocolV2)
          this.cluster.report({
            code: "GRX500",
            path: this.path,
            field: "cloudLoadBalancer.proxyProtocolV2",
            message: `cloudLoadBalancer.proxyProtocol is ${String(c.proxyProtocol)} and proxyProtocolV2, its deprecated old name, is ${String(c.proxyProtocolV2)}: one declaration of the PROXY hop says both.`,
            fix: `Give only cloudLoadBalancer: { proxyProtocol: ${String(c.proxyProtocolV2)} } (or false: no PROXY header) and drop proxyProtocolV2.`,
          });
      }
    }
    if (props.acceptProxyFrom !== undefined) this.acceptProxyFrom = [...props.acceptProxyFrom];
    this.cluster.registerLoadBalancerTier(this);
  }

  public get nodeNames(): string[] {
    return this.nodes.map((n) => n.nodeName);
  }

  /** Firewall rules of the tier's nodes (group `load-balancer`). */
  public get connections(): Connections {
    return this.cluster.connections("load-balancer");
  }

  /** @internal */
  public loadBalancerInput(domain: string): LoadBalancerInput {
    const p = this.props;
    return {
      flavor: p.flavor,
      publicName: p.publicName ?? `mail.${domain}`,
      ...(p.nodeAwareRouting !== undefined ? { nodeAwareRouting: p.nodeAwareRouting } : {}),
      ...(p.adminAllowFrom !== undefined ? { adminAllowFrom: p.adminAllowFrom } : {}),
      ...(p.proxyProtocol !== undefined ? { proxyProtocol: p.proxyProtocol } : {}),
      ...(this.cloudProxyProtocol
        ? { acceptProxyFrom: "cloud-lb" as const }
        : p.acceptProxyFrom !== undefined && !this.cloudLoadBalancer
          ? { acceptProxyFrom: p.acceptProxyFrom }
          : {}),
      ...(p.pools !== undefined ? { pools: p.pools } : {}),
    };
  }

  /** @internal */
  public setCloudLoadBalancer(lb: CloudLoadBalancer): void {
    this.cloud = lb;
  }
}
