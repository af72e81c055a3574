import "cdktf/lib/testing/adapters/jest";
import { LIMIT_FRACTION, exampleUserDataReports } from "../../scripts/user-data-sizes";

describe("example user-data sizes", () => {
  test("every example node stays below half its platform's user-data limit", () => {
    const clusters = exampleUserDataReports();
    expect(clusters.length).toBeGreaterThan(0);
    for (const { cluster, platform, reports } of clusters) {
      const largest = reports.reduce((a, b) => (b.fraction > a.fraction ? b : a));
      console.log(
        `${cluster} (${platform}): largest user-data ${largest.node} ≤ ${largest.maxBytes} B (${largest.encoding}) of ${largest.limitBytes} B = ${(largest.fraction * 100).toFixed(1)} %`,
      );
      for (const r of reports) expect(r.fraction).toBeLessThan(LIMIT_FRACTION);
    }
  });
});
