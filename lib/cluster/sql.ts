/**
 * Seam to the SQL renderer (`lib/render/database`: `renderDatabaseBootstrap`, `renderServersSeed`,
 * `renderMapReaderGrants`). Until it is wired here, the first-boot steps that run these scripts are
 * left out (the schema is still created by `gromox-dbop -C` on the schema node).
 */
import type { ClusterSql } from "../provision";
import type { Topology } from "../topology";

/** The cluster's SQL scripts. */
export function clusterSql(topology: Topology): ClusterSql {
  void topology;
  return {};
}
