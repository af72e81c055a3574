/**
 * User-data sizes: every example node stays below half its platform's user-data limit; on AWS,
 * where the configuration files come from the node's bundle in S3 (`fileDelivery` "s3"), a node's
 * user-data no longer grows with the cluster: at 100 mailbox nodes every node is as far below
 * half the limit as at the documented layout.
 */
import "cdktf/lib/testing/adapters/jest";
import { Testing } from "cdktf";
import { UserDataReport } from "../../lib";
import { LIMIT_FRACTION, exampleUserDataReports } from "../../scripts/user-data-sizes";
import { scaledCounts, scaledStack } from "../../bench/layouts";

const largest = (reports: readonly UserDataReport[]) => reports.reduce((a, b) => (b.fraction > a.fraction ? b : a));
const describeReport = (r: UserDataReport) =>
  `${r.node} ≤ ${r.maxBytes} B (${r.encoding}) of ${r.limitBytes} B = ${(r.fraction * 100).toFixed(1)} %`;

describe("user-data sizes", () => {
  const clusters = exampleUserDataReports();

  test("every example node stays below half its platform's user-data limit", () => {
    expect(clusters.length).toBeGreaterThan(0);
    for (const { cluster, platform, reports } of clusters) {
      console.log(`${cluster} (${platform}): largest user-data ${describeReport(largest(reports))}`);
      for (const r of reports) expect(r.fraction).toBeLessThan(LIMIT_FRACTION);
    }
  });

  test("AWS, 100 mailbox nodes (145 nodes): every node below half the limit, no larger than at the documented layout", () => {
    const documented = clusters.find((c) => c.platform === "aws")!.reports;
    const app = Testing.app();
    const { stack, cluster } = scaledStack(app, "aws", 100);
    Testing.synth(stack);
    const reports = [...cluster.userDataReports.values()];
    expect(reports).toHaveLength(scaledCounts(100).total);
    console.log(`AWS, 100 mailbox nodes: largest user-data ${describeReport(largest(reports))}`);
    for (const r of reports) expect(r.fraction).toBeLessThanOrEqual(LIMIT_FRACTION);
    // Per-peer files are in the bundles: only the node's own name and number lengths differ.
    expect(largest(reports).maxBytes).toBeLessThanOrEqual(largest(documented).maxBytes + 64);
    expect(cluster.fileBundles.size).toBe(scaledCounts(100).total);
  });
});
