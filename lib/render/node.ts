/**
 * Every configuration file one node needs, from the whole topology. The provisioning layer
 * (cloud-init, container uploads) ships exactly these.
 */
import { ClusterNode, Topology } from "../topology";
import { ConfigFile, sortFiles } from "./types";

/** All rendered files for `node`, sorted by path. Pure and deterministic. */
export function renderNodeFiles(topology: Topology, node: ClusterNode): ConfigFile[] {
  const files: ConfigFile[] = [];
  // Renderers are wired in here as they land (gromox, postfix, admin-api, mariadb, haproxy/nginx).
  void topology;
  void node;
  return sortFiles(files);
}
