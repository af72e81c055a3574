/**
 * The operations files through the constructs: the map reader is declared whenever the HAProxy
 * tier routes node-aware, whatever the database; a database the cluster does not run gets its
 * setup SQL as a sensitive output and a warning; GRX400 (no map reader) is one issue, not one per
 * load balancer.
 */
import "cdktf/lib/testing/adapters/jest";
import { TerraformStack, Testing } from "cdktf";
import {
  ClassicNode,
  Database,
  GromoxNode,
  GrommunioCluster,
  GrommunioClusterProps,
  LoadBalancerTier,
} from "../../lib";
import { renderNodeFiles } from "../../lib/render/node";
import { FAILOVER_SCRIPT_PATH, MAILBOX_MAP_JOB_PATH, MAP_READER_CNF, OPS_PROGRAM_PATH } from "../../lib/render/ops";
import { buildTopology, IssueCollector, GrommunioValidationError } from "../../lib/topology";
import { documentedLayout } from "../fixtures";
import { FakeDeployment, FakePlatform } from "./fake-platform";

function cluster(
  database: Database,
  lb: { flavor: "haproxy" | "nginx"; nodeAwareRouting: boolean },
  extra: Partial<GrommunioClusterProps<FakeDeployment>> = {},
) {
  const stack = new TerraformStack(Testing.app(), "t");
  const c = new GrommunioCluster(stack, "mail", {
    platform: new FakePlatform(),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    database,
    ...extra,
  });
  new GromoxNode(c, "mail1", { admin: true });
  new GromoxNode(c, "mail2");
  new ClassicNode(c, "classic1");
  new LoadBalancerTier(c, "lb", { ...lb, nodes: 2 });
  const json = JSON.parse(Testing.synth(stack)) as { output?: Record<string, { value: string; sensitive?: boolean }> };
  return { stack, cluster: c, json };
}

const files = (c: GrommunioCluster, node: string) => c.provisioning.get(node)!.files.map((f) => f.path);
const outputs = (json: { output?: Record<string, { value: string; sensitive?: boolean }> }) =>
  Object.entries(json.output ?? {}).filter(([k]) => k.includes("map-reader-sql"));

describe("map reader and ops files through the constructs", () => {
  test("database on a node: the reader is declared (bootstrap creates it), ops on db1, the map job on each LB", () => {
    const { cluster: c, json } = cluster(Database.onNode(), { flavor: "haproxy", nodeAwareRouting: true });
    expect(c.topology.database.mapReader?.user).toBe("grommunio_map");
    expect(files(c, "db1")).toEqual(expect.arrayContaining([OPS_PROGRAM_PATH, FAILOVER_SCRIPT_PATH]));
    for (const lb of ["lb1", "lb2"])
      expect(files(c, lb)).toEqual(expect.arrayContaining([MAILBOX_MAP_JOB_PATH, MAP_READER_CNF]));
    // the map job's timer after the HAProxy it loads the map into
    expect(c.provisioning.get("lb1")!.services.slice(-2)).toEqual(["haproxy", "grommunio-mailbox-map.timer"]);
    expect(outputs(json)).toEqual([]);
  });

  test("external database: the reader is declared too; its SQL is a sensitive output; a warning says what to do", () => {
    const { cluster: c, json } = cluster(Database.external({ host: "db.example.net", password: "Db0Password0" }), {
      flavor: "haproxy",
      nodeAwareRouting: true,
    });
    expect(c.topology.database.mapReader?.user).toBe("grommunio_map");
    // no database node: the admin node holds failover (rebalance needs shared storage)
    expect(files(c, "mail1")).toEqual(expect.arrayContaining([OPS_PROGRAM_PATH, FAILOVER_SCRIPT_PATH]));
    for (const lb of ["lb1", "lb2"]) expect(files(c, lb)).toContain(MAILBOX_MAP_JOB_PATH);
    const out = outputs(json);
    expect(out).toHaveLength(1);
    const [, o] = out[0]!;
    expect(o.sensitive).toBe(true);
    for (const ip of c.topology.loadBalancer!.nodes.map((n) => n.ipv4)) {
      expect(o.value).toContain(`CREATE USER IF NOT EXISTS 'grommunio_map'@'${ip}' IDENTIFIED BY '\${random_password.`);
      expect(o.value).toContain(`GRANT SELECT ON \`grommunio\`.\`grommunio_mailbox_map\` TO 'grommunio_map'@'${ip}';`);
    }
    const warnings = c.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data));
    expect(warnings.join("\n")).toMatch(/run the SQL of the output map-reader-sql/);
  });

  test("no reader without node-aware routing or on nginx", () => {
    for (const lb of [
      { flavor: "haproxy" as const, nodeAwareRouting: false },
      { flavor: "nginx" as const, nodeAwareRouting: false },
    ]) {
      const { cluster: c, json } = cluster(Database.onNode(), lb);
      expect(c.topology.database.mapReader).toBeUndefined();
      for (const n of ["lb1", "lb2"]) expect(files(c, n)).not.toContain(MAILBOX_MAP_JOB_PATH);
      expect(outputs(json)).toEqual([]);
    }
  });
});

describe("GRX400 is one issue", () => {
  test("every load balancer's renderer reports it; the collector keeps it once", () => {
    const t = buildTopology(
      documentedLayout({
        nodes: [
          ...documentedLayout().nodes,
          { name: "lb2", hostname: "lb2.gro.at", roles: ["load-balancer"], ipv4: "10.10.10.11" },
        ],
      }),
    );
    const c = new IssueCollector();
    let thrown = 0;
    for (const n of t.nodes) {
      try {
        renderNodeFiles(t, n);
      } catch (e) {
        if (!(e instanceof GrommunioValidationError)) throw e;
        thrown++;
        c.addAll(e.issues);
      }
    }
    expect(thrown).toBe(2);
    expect(c.issues.map((i) => i.code)).toEqual(["GRX400"]);
  });

  test("the collector keeps issues that differ in any field", () => {
    const c = new IssueCollector();
    c.add("GRX001", "a", "f", "m", "x");
    c.add("GRX001", "a", "f", "m", "x");
    c.addAll([{ code: "GRX001", path: "b", field: "f", message: "m", fix: "x" }]);
    expect(c.issues.map((i) => i.path)).toEqual(["a", "b"]);
  });
});
