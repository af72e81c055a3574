import { parse } from "yaml";
import { buildTopology, ClusterInput } from "../../lib/topology";
import { ADMIN_API_CONF_DIR, renderAdminApi } from "../../lib/render/admin-api";
import { YAML11_AMBIGUOUS_NAMES, documentedLayout, largeLayout } from "../fixtures";

function render(input: ClusterInput, node: string) {
  const t = buildTopology(input);
  return renderAdminApi(t, t.node(node));
}

describe("renderAdminApi", () => {
  it("renders only on admin nodes", () => {
    const t = buildTopology(documentedLayout());
    for (const n of ["mail2", "mail3", "classic1", "lb1", "db1"]) expect(renderAdminApi(t, t.node(n))).toEqual([]);
    expect(renderAdminApi(t, t.node("mail1")).map((f) => [f.path, f.mode, f.owner])).toEqual([
      [`${ADMIN_API_CONF_DIR}/database.yaml`, "0640", "root:grommunio"],
      [`${ADMIN_API_CONF_DIR}/multiserver.yaml`, "0644", "root:root"],
    ]);
  });

  it("database.yaml parses back to the database endpoint", () => {
    const [database] = render(documentedLayout(), "mail1");
    expect(parse(database!.content)).toEqual({
      DB: { host: "10.10.10.60", port: 3306, user: "grommunio", pass: "db-secret", database: "grommunio" },
    });
    expect(database!.content).toContain("\n  pass: 'db-secret'\n");
  });

  it("keeps any password one string (quotes, colon-space, hash, leading YAML indicators)", () => {
    for (const password of [
      "it's: x#not a comment",
      "*alias",
      "&anchor",
      "!tag",
      "% @ `",
      "\\back\\slash",
      "-",
      "yes",
      "0x10",
    ]) {
      const [database] = render(documentedLayout({ database: { node: "db1", password } }), "mail1");
      expect(parse(database!.content).DB.pass).toBe(password);
    }
  });

  it("keeps a password with a blank before # one string (gromox and postfix read it as written, so GRX028 accepts it)", () => {
    const password = "it's: #not a comment";
    const [database] = render(documentedLayout({ database: { node: "db1", password } }), "mail1");
    expect(parse(database!.content, { version: "1.1" }).DB.pass).toBe(password);
  });

  it("writes names a YAML 1.1 reader (PyYAML, what the admin API uses) keeps as strings", () => {
    for (const [name, user] of YAML11_AMBIGUOUS_NAMES) {
      const [database] = render(documentedLayout({ database: { node: "db1", password: "pw", name, user } }), "mail1");
      const db = parse(database!.content, { version: "1.1" }).DB;
      expect([db.database, db.user]).toEqual([name, user]);
    }
  });

  it("writes serverExplicitMount in both storage modes", () => {
    for (const storage of ["shared", "share-nothing"] as const) {
      const [, multiserver] = render(documentedLayout({ storage }), "mail1");
      expect(parse(multiserver!.content)).toEqual({ options: { serverExplicitMount: true } });
    }
  });

  it("points a dedicated admin node (no exmdb of its own) at the hub's exmdb", () => {
    const files = render(largeLayout(), "admin1");
    expect(parse(files[1]!.content)).toEqual({
      options: { serverExplicitMount: true, exmdbHost: "mail1.int.example.com", exmdbPort: "5000" },
    });
    expect(parse(files[0]!.content).DB.host).toBe("10.20.0.50");
  });

  it("uses an external database's host and port", () => {
    const input = documentedLayout({
      database: { host: "db.example.net", port: 3307, password: "pw", user: "gx", name: "gxdb" },
    });
    const [database] = render({ ...input, nodes: input.nodes.filter((n) => n.name !== "db1") }, "mail1");
    expect(parse(database!.content)).toEqual({
      DB: { host: "db.example.net", port: 3307, user: "gx", pass: "pw", database: "gxdb" },
    });
  });
});
