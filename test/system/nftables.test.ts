import "cdktf/lib/testing/adapters/jest";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildTopology } from "../../lib/topology";
import { renderNftables } from "../../lib/render/nftables";
import { documentedLayout, largeLayout } from "../fixtures";
import { requireProgram, run, scratchDir } from "./support";

/** `nft -c -f FILE`: parses and checks against the kernel without applying anything. */
export function nftCheck(content: string): { status: number; output: string } {
  const nft = requireProgram("nft", "nftables");
  const dir = scratchDir("nft");
  const file = path.join(dir, "nftables.conf");
  fs.writeFileSync(file, content);
  const r = run(nft, ["-c", "-f", file]);
  return { status: r.status, output: (r.stdout + r.stderr).trim() };
}

describe("nft -c accepts every generated host firewall", () => {
  beforeAll(() => requireProgram("nft", "nftables"));

  const cases = [
    ["documented", buildTopology(documentedLayout())],
    ["large", buildTopology(largeLayout())],
  ] as const;
  for (const [layout, topo] of cases) {
    test.each(topo.nodes.map((n) => n.name))(`${layout} layout, node %s`, (name) => {
      const node = topo.node(name);
      for (const options of [
        {},
        { sshAllowFrom: ["198.51.100.7", "203.0.113.0/24", "2001:db8::/32"] },
        { reversePathFilter: false, tableName: "grx_test" },
      ]) {
        const r = nftCheck(renderNftables(topo, node, options).content);
        expect(r.output).toBe("");
        expect(r.status).toBe(0);
      }
    });
  }

  test("the check is real: a broken ruleset is refused", () => {
    const good = renderNftables(buildTopology(documentedLayout()), buildTopology(documentedLayout()).node("mail1"));
    const r = nftCheck(good.content.replace("tcp dport 5000", "tcp dport 5000-"));
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/syntax error/i);
  });
});
