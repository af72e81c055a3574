/**
 * Every configuration file one node needs, from the whole topology. The provisioning layer
 * (cloud-init, container uploads) ships exactly these.
 */
import { ClusterNode, LoadBalancerTierSpec, Topology } from "../topology";
import { renderAdminApi } from "./admin-api";
import { DkimSigning, OPENDKIM_POSTFIX_MILTER, renderOpenDkim } from "./dkim";
import { renderMariadbConfig } from "./database/mariadb";
import { renderGromox } from "./gromox";
import { renderHaproxy } from "./haproxy";
import { renderNginx } from "./nginx";
import { renderPostfix } from "./postfix";
import { renderOpsFiles } from "./ops";
import { renderHosts } from "./system/hosts";
import { renderMailboxWeb } from "./web";
import { ConfigFile, MtaStsSite, sortFiles } from "./types";

/** What the node files depend on beyond the topology. */
export interface NodeFileOptions {
  /**
   * The MTA-STS policy the load-balancer tier serves (`mtaStsSite`, from the DNS options).
   * @default undefined: none is served
   */
  readonly mtaSts?: MtaStsSite;
  /**
   * DKIM signing on the classic nodes (OpenDKIM after rspamd, lib/render/dkim), from `addDns`.
   * @default undefined: no signing milter
   */
  readonly dkimSigning?: DkimSigning;
}

/** The renderer of each load-balancer flavour. */
const LOAD_BALANCER_RENDERERS: Record<
  LoadBalancerTierSpec["flavor"],
  (topology: Topology, node: ClusterNode, options: NodeFileOptions) => ConfigFile[]
> = {
  haproxy: (t, n, o) => renderHaproxy(t, n, o.mtaSts ? { mtaSts: o.mtaSts } : {}),
  nginx: (t, n, o) => renderNginx(t, n, o.mtaSts ? { mtaSts: o.mtaSts } : {}),
};

/** The load-balancer files of `node` (none unless it is on the load-balancer tier). */
export function renderLoadBalancer(topology: Topology, node: ClusterNode, options: NodeFileOptions = {}): ConfigFile[] {
  const lb = topology.loadBalancer;
  if (!lb || !node.has("load-balancer")) return [];
  return LOAD_BALANCER_RENDERERS[lb.flavor](topology, node, options);
}

/**
 * All rendered files for `node`, sorted by path. Pure and deterministic. Throws
 * `GrommunioValidationError` when a renderer refuses the topology, and a plain error if two
 * renderers claim one path (a bug in this library).
 */
export function renderNodeFiles(topology: Topology, node: ClusterNode, options: NodeFileOptions = {}): ConfigFile[] {
  const files: ConfigFile[] = [
    renderHosts(topology, node),
    ...renderGromox(topology, node),
    ...renderMailboxWeb(topology, node),
    ...renderPostfix(topology, node, options.dkimSigning ? { milters: [OPENDKIM_POSTFIX_MILTER] } : {}),
    ...renderOpenDkim(topology, node, options.dkimSigning),
    ...renderAdminApi(topology, node),
    ...renderMariadbConfig(topology, node),
    ...renderLoadBalancer(topology, node, options),
    ...renderOpsFiles(topology, node),
  ];
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw new Error(`two renderers produced ${f.path} for node ${node.name}`);
    seen.add(f.path);
  }
  return sortFiles(files);
}
