import { buildTopology } from "../../lib/topology";
import { renderNodeFiles } from "../../lib/render/node";
import { documentedLayout, largeLayout } from "../fixtures";

/** Paths each node of the documented layout receives: the decisive files per role. */
describe("renderNodeFiles", () => {
  const topo = buildTopology(documentedLayout());
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

  it("renders nginx instead of haproxy for the nginx flavour", () => {
    const t = buildTopology(
      documentedLayout({
        loadBalancer: { flavor: "nginx", publicName: "mail.gro.at", adminAllowFrom: ["203.0.113.0/24"] },
      }),
    );
    const p = renderNodeFiles(t, t.node("lb1")).map((f) => f.path);
    expect(p).toContain("/etc/nginx/nginx.conf");
    expect(p).not.toContain("/etc/haproxy/haproxy.cfg");
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
