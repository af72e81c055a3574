/**
 * Prints, for every example stack, each node's user-data size bound against its platform's limit
 * (tokens counted at their maximum length) and the largest per stack. Exits 1 when a node needs
 * 50 % or more of its limit.
 *
 *   npm run user-data:sizes
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { App } from "cdktf";
import { buildExamples } from "../examples/main";
import { GrommunioCluster, UserDataReport } from "../lib";

/** Builds and synthesizes every example; returns each cluster's user-data reports. */
export function exampleUserDataReports(): { cluster: string; platform: string; reports: UserDataReport[] }[] {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "user-data-sizes-"));
  try {
    const app = new App({ outdir });
    buildExamples(app);
    app.synth();
    return (
      app.node
        .findAll()
        .filter((c): c is GrommunioCluster => c instanceof GrommunioCluster)
        // Platforms without cloud-init (Docker) have no user-data to measure.
        .filter((c) => (c.capabilities.bootstrap ?? "cloud-init") === "cloud-init")
        .map((c) => ({ cluster: c.node.path, platform: c.platform.name, reports: [...c.userDataReports.values()] }))
    );
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

export const LIMIT_FRACTION = 0.5;

if (require.main === module) {
  let failed = false;
  for (const { cluster, platform, reports } of exampleUserDataReports()) {
    console.log(`${cluster} (${platform})`);
    for (const r of [...reports].sort((a, b) => a.node.localeCompare(b.node))) {
      console.log(
        `  ${r.node.padEnd(12)} ${r.encoding.padEnd(12)} text ≤ ${String(r.textBytes).padStart(6)} B  delivered ≤ ${String(r.maxBytes).padStart(6)} B of ${r.limitBytes} B  ${(r.fraction * 100).toFixed(1)} %`,
      );
    }
    const max = reports.reduce((a, b) => (b.fraction > a.fraction ? b : a));
    console.log(`  largest: ${max.node} ${(max.fraction * 100).toFixed(1)} % of the limit`);
    if (max.fraction >= LIMIT_FRACTION) failed = true;
  }
  process.exit(failed ? 1 : 0);
}
