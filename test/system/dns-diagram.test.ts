/**
 * The DOT picture of the cluster renders with Graphviz: `dot -Tsvg` exits 0 without warnings and
 * writes an SVG document (parsed by Python's XML parser) naming every node and its private address.
 */
import * as fs from "node:fs";
import { buildTopology, Topology } from "../../lib/topology";
import { renderTopologyDot } from "../../lib/render/diagram";
import { documentedLayout, largeLayout } from "../fixtures";
import { requireProgram, run } from "./support";

/** Debian's python3 (a pyenv python may come first in PATH). */
const PYTHON = "/usr/bin/python3";
const SVG_TEXTS = [
  "import sys, json, xml.etree.ElementTree as ET",
  "root = ET.fromstring(sys.stdin.read())",
  "print(json.dumps({'tag': root.tag, 'texts': [t.text for t in root.iter('{http://www.w3.org/2000/svg}text')]}))",
].join("\n");

function dotSvg(topo: Topology): { status: number; svg: string; stderr: string } {
  const dot = requireProgram("dot", "graphviz");
  const r = run(dot, ["-Tsvg"], { input: renderTopologyDot(topo) });
  return { status: r.status, svg: r.stdout, stderr: r.stderr };
}

describe("dot -Tsvg renders the topology", () => {
  beforeAll(() => {
    if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing. Install it with: apt-get install python3`);
  });

  test.each([
    ["documented", buildTopology(documentedLayout())],
    ["large", buildTopology(largeLayout())],
  ])("%s layout", (_, topo) => {
    const r = dotSvg(topo);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const parsed = run(PYTHON, ["-c", SVG_TEXTS], { input: r.svg });
    expect(parsed.stderr).toBe("");
    const { tag, texts } = JSON.parse(parsed.stdout) as { tag: string; texts: string[] };
    expect(tag).toBe("{http://www.w3.org/2000/svg}svg");
    for (const n of topo.nodes) {
      expect(texts).toContain(n.name);
      expect(texts).toContain(n.ipv4);
    }
    expect(texts).toContain("exmdb 5000, midb 5555");
  });

  test("the check is real: broken DOT is refused", () => {
    const dot = requireProgram("dot", "graphviz");
    const broken = renderTopologyDot(buildTopology(documentedLayout())).replace(/\}\n$/, "");
    const r = run(dot, ["-Tsvg"], { input: broken });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/syntax error/);
  });
});
