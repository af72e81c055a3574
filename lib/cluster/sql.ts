/**
 * The cluster's SQL scripts, from the SQL renderer (`lib/render/database`). Where they run is the
 * provisioning layer's business (`provisionNode`): the bootstrap and the map reader's grants as
 * MariaDB root on the database node (only when the database runs on a cluster node; a managed or
 * external database has its accounts made by its operator), the servers seed (and the map view the
 * load balancers read) on the schema node.
 */
import {
  renderDatabaseBootstrap,
  renderMailboxMapView,
  renderMapReaderGrants,
  renderServersSeed,
} from "../render/database";
import type { ClusterSql } from "../provision";
import type { Topology } from "../topology";

/** The cluster's SQL scripts. */
export function clusterSql(topology: Topology): ClusterSql {
  const onNode = topology.database.node !== undefined;
  return {
    ...(onNode ? { bootstrap: renderDatabaseBootstrap(topology) } : {}),
    // With node-aware routing the seed also (re)creates the view the load balancers read.
    seed: renderServersSeed(topology) + (topology.database.mapReader ? renderMailboxMapView(topology) : ""),
    ...(onNode && topology.database.mapReader ? { mapReaderGrants: renderMapReaderGrants(topology) } : {}),
  };
}
