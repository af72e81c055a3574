/**
 * The topology pictures: every flow of the port table appears (from clientsOf), nodes are grouped
 * by role with their private addresses, the Mermaid output passes a strict syntax check, the DOT
 * output is well formed; both are deterministic.
 */
import { buildTopology, PORTS, PortKey } from "../../lib/topology";
import { renderTopologyDot, renderTopologyMermaid, topologyGraph } from "../../lib/render/diagram";
import { documentedLayout, largeLayout } from "../fixtures";
import { checkMermaidFlowchart } from "./mermaid-check";

const documented = buildTopology(documentedLayout());
const large = buildTopology(largeLayout());

describe("topologyGraph", () => {
  test("groups by role in a fixed order; a node with two roles sits in its first", () => {
    const g = topologyGraph(documented);
    expect(g.groups.map((x) => [x.role, x.nodes.map((n) => n.id)])).toEqual([
      ["load-balancer", ["n_lb1"]],
      ["classic", ["n_classic1"]],
      ["mailbox", ["n_mail1", "n_mail2", "n_mail3"]],
      ["database", ["n_db1"]],
    ]);
    const mail1 = g.groups[2]!.nodes[0]!;
    expect(mail1.lines).toEqual(["mail1", "mail1.gro.at", "10.10.10.20", "+ admin", "hub: event, timer"]);
  });

  test.each([
    ["documented", documented],
    ["large", large],
  ])("%s: every client→server pair of every cluster port is an edge with its port", (_, topo) => {
    const g = topologyGraph(topo);
    const label = (from: string, to: string) =>
      g.edges.find((e) => e.from === `n_${from}` && e.to === `n_${to}`)?.ports.map((p) => p.port) ?? [];
    let pairs = 0;
    for (const key of Object.keys(PORTS) as PortKey[]) {
      const spec = PORTS[key];
      if (spec.exposure !== "cluster") continue;
      for (const c of topo.clientsOf(key)) {
        for (const s of topo.nodesRunning(spec.server)) {
          if (c.name === s.name) continue;
          expect(label(c.name, s.name)).toContain(spec.port);
          pairs++;
        }
      }
    }
    expect(pairs).toBeGreaterThan(10);
    // and nothing else between cluster nodes
    for (const e of g.edges.filter((x) => x.from.startsWith("n_"))) {
      for (const p of e.ports) {
        const key = (Object.keys(PORTS) as PortKey[]).find(
          (k) => PORTS[k].port === p.port && PORTS[k].exposure === "cluster",
        )!;
        const from = topo.node(e.from.slice(2));
        expect(topo.clientsOf(key).map((n) => n.name)).toContain(from.name);
      }
    }
  });

  test("documented layout: the flows the architecture names", () => {
    const g = topologyGraph(documented);
    const edge = (from: string, to: string) =>
      g.edges
        .find((e) => e.from === from && e.to === to)
        ?.ports.map((p) => `${p.name} ${p.port}`)
        .join(", ");
    expect(edge("n_classic1", "n_mail1")).toBe("exmdb 5000, midb 5555, event 33333");
    expect(edge("n_classic1", "n_mail2")).toBe("exmdb 5000, midb 5555");
    expect(edge("n_mail2", "n_mail1")).toBe("exmdb 5000, timer 6666, event 33333");
    expect(edge("n_lb1", "n_classic1")).toBe("smtp 25, submission 587, imaps 993, pop3s 995");
    // All HTTP goes to the mailbox nodes' nginx on 443; gromox-http (10080/10443) is loopback-only.
    expect(edge("n_lb1", "n_mail1")).toBe("https 443, admin 8443");
    expect(edge("n_mail3", "n_classic1")).toBe("relay 10025");
    expect(edge("n_classic1", "n_db1")).toBe("mysql 3306");
    expect(edge("x_internet", "n_lb1")).toBe("smtp 25, http 80, https 443, submission 587, imaps 993, pop3s 995");
    expect(edge("x_admins", "n_lb1")).toBe("admin 8443");
    expect(g.externals.find((x) => x.id === "x_admins")!.lines).toEqual(["administrators", "203.0.113.0/24"]);
  });

  test("an external database is drawn as its endpoint", () => {
    const topo = buildTopology(
      documentedLayout({
        database: { host: "db.example.net", port: 3307, password: "x" },
        nodes: documentedLayout().nodes.filter((n) => n.name !== "db1"),
      }),
    );
    const g = topologyGraph(topo);
    expect(g.externals.map((x) => x.lines)).toContainEqual(["external database", "db.example.net:3307"]);
    expect(g.edges.find((e) => e.from === "n_classic1" && e.to === "x_database")!.ports).toEqual([
      { name: "mysql", port: 3307 },
    ]);
  });
});

describe("renderTopologyMermaid", () => {
  test.each([
    ["documented", documented],
    ["large", large],
  ])("%s: passes the syntax check and names every node with its address", (_, topo) => {
    const text = renderTopologyMermaid(topo);
    expect(checkMermaidFlowchart(text)).toEqual([]);
    for (const n of topo.nodes)
      expect(text).toContain(`n_${n.name.replace(/-/g, "_")}["${n.name}<br/>${n.hostname}<br/>${n.ipv4}`);
    expect(text.split("\n")[1]).toBe("flowchart LR");
  });

  test("the check is real: broken flowcharts are refused", () => {
    const good = renderTopologyMermaid(documented);
    expect(checkMermaidFlowchart(good.replace("  end\n", ""))).not.toEqual([]);
    expect(checkMermaidFlowchart(good.replace("n_mail2 -->", "n_mail9 -->"))).not.toEqual([]);
    expect(checkMermaidFlowchart(good.replace('["mail1<br/>', '["mail"1<br/>'))).not.toEqual([]);
    expect(checkMermaidFlowchart(good.replace("flowchart LR", "flowchart sideways"))).not.toEqual([]);
    expect(checkMermaidFlowchart(good.replace(/n_db1/g, "end"))).not.toEqual([]);
  });

  test("node names with hyphens become safe identifiers", () => {
    const topo = buildTopology(
      documentedLayout({
        nodes: documentedLayout().nodes.map((n) => (n.name === "db1" ? { ...n, name: "db-primary" } : n)),
        database: { node: "db-primary", password: "x" },
      }),
    );
    const text = renderTopologyMermaid(topo);
    expect(text).toContain('n_db_primary["db-primary<br/>');
    expect(checkMermaidFlowchart(text)).toEqual([]);
  });

  test("deterministic: node input order does not change the picture", () => {
    const shuffled = buildTopology(documentedLayout({ nodes: [...documentedLayout().nodes].reverse() }));
    expect(renderTopologyMermaid(shuffled)).toBe(renderTopologyMermaid(documented));
    expect(renderTopologyDot(shuffled)).toBe(renderTopologyDot(documented));
  });
});

describe("renderTopologyDot", () => {
  test("a digraph with one cluster per role, every node and edge endpoint declared", () => {
    const text = renderTopologyDot(documented);
    expect(text).toMatch(/^\/\/ .*\ndigraph topology \{\n/);
    expect(text.endsWith("}\n")).toBe(true);
    expect((text.match(/\{/g) ?? []).length).toBe((text.match(/\}/g) ?? []).length);
    const declared = new Set([...text.matchAll(/^\s+"([^"]+)" \[label=/gm)].map((m) => m[1]));
    const endpoints = [...text.matchAll(/^\s+"([^"]+)" -> "([^"]+)"/gm)].flatMap((m) => [m[1], m[2]]);
    expect(endpoints.length).toBeGreaterThan(0);
    for (const e of endpoints) expect(declared).toContain(e);
    expect(text).toContain('subgraph "cluster_mailbox" {');
    expect(text).toContain('"n_mail1" [label="mail1\\nmail1.gro.at\\n10.10.10.20\\n+ admin\\nhub: event, timer"];');
  });
});
