import { buildTopology } from "../../lib/topology";
import { renderNodeFiles } from "../../lib/render/node";
import {
  FAILOVER_SCRIPT_PATH,
  MAILBOX_MAP_JOB_PATH,
  MAILBOX_MAP_SERVICE_PATH,
  MAILBOX_MAP_TIMER_PATH,
  MAP_READER_CNF,
  OPS_DB_CNF,
  OPS_PROGRAM_PATH,
  REBALANCE_SCRIPT_PATH,
} from "../../lib/render/ops";
import { documentedLayout, largeLayout } from "../fixtures";

/** Node-aware routing needs the load balancers' map reader (GRX400 otherwise). */
const DB = { node: "db1", password: "db-secret", mapReaderPassword: "map-secret" };
const OPS_FILES = [OPS_DB_CNF, OPS_PROGRAM_PATH, FAILOVER_SCRIPT_PATH];
const MAP_JOB_FILES = [MAP_READER_CNF, MAILBOX_MAP_JOB_PATH, MAILBOX_MAP_SERVICE_PATH, MAILBOX_MAP_TIMER_PATH];

/** Paths each node of the documented layout receives: the decisive files per role. */
describe("renderNodeFiles", () => {
  const topo = buildTopology(documentedLayout({ database: DB }));
  const paths = (name: string) => renderNodeFiles(topo, topo.node(name)).map((f) => f.path);

  it("gives every node /etc/hosts, and only its own role's files", () => {
    for (const n of topo.nodes) expect(paths(n.name)).toContain("/etc/hosts");
    expect(paths("mail2")).toEqual(expect.arrayContaining(["/etc/gromox/http.cfg", "/etc/gromox/exmdb_provider.cfg"]));
    expect(paths("mail2")).not.toContain("/etc/postfix/main.cf");
    expect(paths("mail2")).not.toContain("/etc/gromox/event.cfg");
    expect(paths("mail1")).toEqual(
      expect.arrayContaining([
        "/etc/gromox/event.cfg",
        "/etc/gromox/timer.cfg",
        "/etc/grommunio-admin-api/conf.d/database.yaml",
      ]),
    );
    expect(paths("classic1")).toEqual(
      expect.arrayContaining(["/etc/postfix/main.cf", "/etc/postfix/master.cf", "/etc/gromox/midb_list.txt"]),
    );
    expect(paths("lb1")).toContain("/etc/haproxy/haproxy.cfg");
    expect(paths("lb1").some((p) => p.startsWith("/etc/gromox/"))).toBe(false);
    expect(paths("db1")).toContain("/etc/mysql/mariadb.conf.d/60-grommunio.cnf");
    expect(paths("db1").some((p) => p.startsWith("/etc/gromox/"))).toBe(false);
  });

  it("ships the operations files: failover/rebalance on the database node, the map job on each HAProxy node", () => {
    expect(paths("db1")).toEqual(expect.arrayContaining([...OPS_FILES, REBALANCE_SCRIPT_PATH]));
    expect(paths("lb1")).toEqual(expect.arrayContaining(MAP_JOB_FILES));
    for (const n of ["mail1", "mail2", "mail3", "classic1"]) {
      expect(paths(n).filter((p) => p.includes("grommunio-ops") || p.includes("grommunio-mailbox-map"))).toEqual([]);
    }
    expect(paths("lb1").filter((p) => OPS_FILES.includes(p))).toEqual([]);
    expect(paths("db1").filter((p) => MAP_JOB_FILES.includes(p))).toEqual([]);
  });

  it("share-nothing storage: failover without rebalance; node-aware routing on both HAProxy nodes", () => {
    const t = buildTopology(
      largeLayout({
        database: DB,
        loadBalancer: { flavor: "haproxy", publicName: "mail.example.com", nodeAwareRouting: true },
      }),
    );
    const p = (name: string) => renderNodeFiles(t, t.node(name)).map((f) => f.path);
    expect(p("db1")).toEqual(expect.arrayContaining(OPS_FILES));
    expect(p("db1")).not.toContain(REBALANCE_SCRIPT_PATH);
    for (const lb of ["lb1", "lb2"]) expect(p(lb)).toEqual(expect.arrayContaining(MAP_JOB_FILES));
    expect(p("admin1").some((x) => x.startsWith("/usr/local/sbin/"))).toBe(false);
  });

  it("no map job without node-aware routing or on nginx", () => {
    const large = buildTopology(largeLayout());
    for (const lb of ["lb1", "lb2"]) {
      expect(renderNodeFiles(large, large.node(lb)).map((f) => f.path)).not.toContain(MAILBOX_MAP_JOB_PATH);
    }
  });

  it("renders nginx instead of haproxy for the nginx flavour", () => {
    const t = buildTopology(
      documentedLayout({
        loadBalancer: { flavor: "nginx", publicName: "mail.gro.at", adminAllowFrom: ["203.0.113.0/24"] },
      }),
    );
    const p = renderNodeFiles(t, t.node("lb1")).map((f) => f.path);
    expect(p).toContain("/etc/nginx/nginx.conf");
    expect(p).not.toContain("/etc/haproxy/haproxy.cfg");
    expect(p).not.toContain(MAILBOX_MAP_JOB_PATH);
  });

  it("refuses a load balancer's files when node-aware routing has no map reader (GRX400), nothing else", () => {
    const t = buildTopology(documentedLayout());
    expect(() => renderNodeFiles(t, t.node("lb1"))).toThrow(/GRX400/);
    expect(renderNodeFiles(t, t.node("db1")).map((f) => f.path)).toContain(FAILOVER_SCRIPT_PATH);
  });

  it("returns files sorted by path, identically on every call, for every node of both layouts", () => {
    for (const t of [topo, buildTopology(largeLayout())]) {
      for (const n of t.nodes) {
        const a = renderNodeFiles(t, n);
        expect(a.map((f) => f.path)).toEqual([...a.map((f) => f.path)].sort());
        expect(renderNodeFiles(t, n)).toEqual(a);
      }
    }
  });
});
