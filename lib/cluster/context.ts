/**
 * What node, storage and database constructs need from their cluster. Kept apart from
 * `GrommunioCluster` so the constructs can find their cluster without importing it.
 */
import { Construct, IConstruct } from "constructs";
import type {
  CloudLoadBalancer,
  ConfigChangePolicy,
  OperatingSystem,
  PlatformCapabilities,
  PlatformDeployment,
  PlatformMachine,
  TokenFacts,
} from "../platforms/platform";
import type { LoadBalancerInput, NodeInput, NodeRole, StorageMode, ValidationIssue } from "../topology";
import type { DataMount } from "../provision";
import type { Connections } from "./firewall";

/** The data volume every mailbox node gets with ShareNothing. */
export interface MailboxVolume {
  readonly sizeGb: number;
  readonly type?: string;
  readonly iops?: number;
  readonly throughputMiBps?: number;
}

const CLUSTER = Symbol.for("cdktf-grommunio.GrommunioCluster");

/** A node construct as the cluster sees it. */
export interface ClusterMember {
  readonly nodeName: string;
  readonly roles: readonly NodeRole[];
  readonly privateIp: string;
  /** The platform machine (user-data is set at synth). */
  readonly machine: PlatformMachine;
  /** The topology's view of the node. */
  nodeInput(): NodeInput;
  /** Data volumes and shared file systems the node mounts. */
  mounts(): DataMount[];
}

/** A load-balancer tier as the cluster sees it. */
export interface TierMember {
  readonly path: string;
  /** Node names of the tier. */
  readonly nodeNames: readonly string[];
  /** The topology's view (without nodes: those carry the load-balancer role). */
  loadBalancerInput(domain: string): LoadBalancerInput;
  /**
   * Put the platform's cloud load balancer in front. Whether it sends PROXY headers is not said
   * here: the topology's `loadBalancer.acceptProxy` (from `loadBalancerInput`) decides both ends.
   */
  readonly cloudLoadBalancer?: boolean;
  /** Proxies of the user's own in front of the tier, as given (refused together with a cloud load balancer). */
  readonly acceptProxyFrom?: readonly string[];
  /** Called at synth with what the platform created. */
  setCloudLoadBalancer(lb: CloudLoadBalancer): void;
}

export interface ClusterContext {
  readonly construct: Construct;
  readonly deployment: PlatformDeployment;
  readonly capabilities: PlatformCapabilities;
  readonly domain: string;
  /** Domain of the nodes' internal FQDNs. */
  readonly internalDomain: string;
  readonly networkCidr: string;
  readonly configChangePolicy: ConfigChangePolicy;
  readonly os: OperatingSystem;
  /** Per-mailbox-node data volume (ShareNothing), when the storage asks for one. */
  readonly mailboxVolume?: MailboxVolume;
  /** The storage choice's mode (set before any node exists). */
  readonly storageMode?: StorageMode;
  /** Adds a node; its name must be unique (the topology reports duplicates). */
  registerNode(node: ClusterMember): void;
  /** Adds the load-balancer tier (at most one per cluster). */
  registerLoadBalancerTier(tier: TierMember): void;
  /** The connections (firewall rules) of a group of nodes, e.g. `load-balancer`. */
  connections(group: string): Connections;
  /** Collects a problem (thrown with all others at synth). */
  report(issue: ValidationIssue): void;
  /** Declares a Terraform token that may appear in user-data. */
  declareToken(value: string, facts: TokenFacts): void;
  /** A `random_password` result (created once per id, sensitive), declared as a secret token. */
  secret(id: string, length: number): string;
  /**
   * Registers a secret the user passed (a Terraform reference): it is delivered like the generated
   * ones (a secret store where the platform has one). Literals are ignored (already in the JSON).
   */
  registerSecret(id: string, value: string, description: string): void;
}

/** Marks `construct` as the cluster context that nested constructs find with `clusterOf`. */
export function markCluster(construct: Construct, context: ClusterContext): void {
  Object.defineProperty(construct, CLUSTER, { value: context, enumerable: false });
}

/** The cluster `scope` belongs to (itself or its nearest enclosing cluster). */
export function clusterOf(scope: IConstruct): ClusterContext {
  for (let c: IConstruct | undefined = scope; c; c = c.node.scope) {
    const ctx = (c as unknown as Record<symbol, ClusterContext | undefined>)[CLUSTER];
    if (ctx) return ctx;
  }
  throw new Error(
    `${scope.node.path} is not inside a GrommunioCluster: create nodes with the cluster (or a load-balancer tier) as scope.`,
  );
}
