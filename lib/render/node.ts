/**
 * Every configuration file one node needs, from the whole topology. The provisioning layer
 * (cloud-init, container uploads) ships exactly these.
 */
import { ClusterNode, Topology } from "../topology";
import { renderGromox } from "./gromox";
import { renderHosts } from "./system/hosts";
import { ConfigFile, sortFiles } from "./types";

/** All rendered files for `node`, sorted by path. Pure and deterministic. */
export function renderNodeFiles(topology: Topology, node: ClusterNode): ConfigFile[] {
  const files: ConfigFile[] = [renderHosts(topology, node), ...renderGromox(topology, node)];
  // Wired in as they land: postfix, admin-api, mariadb, haproxy/nginx.
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw new Error(`two renderers produced ${f.path} for node ${node.name}`);
    seen.add(f.path);
  }
  return sortFiles(files);
}
