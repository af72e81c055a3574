import { buildTopology, ClusterInput, GrommunioValidationError, Topology } from "../../lib/topology";
import { MAP_READER_COLUMNS } from "../../lib/render/database";
import { renderHaproxy } from "../../lib/render/haproxy";
import {
  clientOptionFile,
  cnfValue,
  FAILOVER_SCRIPT_PATH,
  HAPROXY_BUFSIZE,
  MAILBOX_MAP_JOB_PATH,
  MAILBOX_MAP_SERVICE_PATH,
  MAILBOX_MAP_TIMER_PATH,
  MAP_PAYLOAD_CHUNK_BYTES,
  MAP_READER_CNF,
  mailboxIdSql,
  mailboxMapQuery,
  OPS_DB_CNF,
  OPS_PACKAGES,
  opsNodes,
  opsPackages,
  opsServices,
  pyLiteral,
  REBALANCE_SCRIPT_PATH,
  RELOADABLE_GROMOX_UNITS,
  renderOpsFiles,
  validateOps,
} from "../../lib/render/ops";
import { ConfigFile } from "../../lib/render/types";
import { documentedLayout, largeLayout } from "../fixtures";

const DB = { node: "db1", password: "db-secret", mapReaderPassword: "map-secret" };
const documented = (o: Partial<ClusterInput> = {}) => buildTopology(documentedLayout({ database: DB, ...o }));

function files(t: Topology, node: string): ConfigFile[] {
  return renderOpsFiles(t, t.node(node));
}
function file(t: Topology, node: string, path: string): ConfigFile {
  const f = files(t, node).find((x) => x.path === path);
  if (!f) throw new Error(`${node} has no ${path}`);
  return f;
}
/** The CONFIG literal of a rendered script, read back (it is Python; JSON-compatible here). */
function configOf(script: string): Record<string, unknown> {
  const m = /^CONFIG = (\{[\s\S]*?\n\})$/m.exec(script);
  if (!m) throw new Error("no CONFIG block");
  return JSON.parse(
    m[1]!
      .replace(/,(\s*[\]}])/g, "$1")
      .replace(/\bTrue\b/g, "true")
      .replace(/\bFalse\b/g, "false"),
  ) as Record<string, unknown>;
}

describe("literals", () => {
  it("pyLiteral writes Python literals", () => {
    expect(pyLiteral("a\"b\\c\nd'é")).toBe('"a\\"b\\\\c\\nd\'é"');
    expect(pyLiteral(42)).toBe("42");
    expect(pyLiteral(true)).toBe("True");
    expect(pyLiteral(false)).toBe("False");
    expect(pyLiteral(null)).toBe("None");
    expect(pyLiteral([])).toBe("[]");
    expect(pyLiteral({})).toBe("{}");
    expect(pyLiteral({ a: [1, "x"], b: { c: null } })).toBe(
      '{\n    "a": [\n        1,\n        "x",\n    ],\n    "b": {\n        "c": None,\n    },\n}',
    );
    expect(() => pyLiteral(NaN)).toThrow(RangeError);
  });

  it("cnfValue double-quotes and escapes option-file values; NUL is refused", () => {
    expect(cnfValue("plain")).toBe('"plain"');
    expect(cnfValue("p#a\"s\\s w'o;rd=x")).toBe('"p#a\\"s\\\\s w\'o;rd=x"');
    expect(cnfValue("a\nb\tc\r")).toBe('"a\\nb\\tc\\r"');
    expect(cnfValue("${TfToken[TOKEN.3]}")).toBe('"${TfToken[TOKEN.3]}"');
    expect(() => cnfValue("a\0b")).toThrow(/NUL/);
    expect(
      clientOptionFile(
        ["x"],
        [
          ["host", "h"],
          ["port", 3306],
        ],
      ),
    ).toBe('# x\n[client]\nhost="h"\nport=3306\n');
  });
});

describe("map query (SQL)", () => {
  it("computes the MailboxId as gromox.md §14 does", () => {
    const e = mailboxIdSql("u.username", "u.id", "'d'");
    expect(e).toContain("RPAD(LOWER(HEX(LEFT(CAST(u.username AS BINARY), 12))), 24, '0')");
    expect(e).toMatch(/^CONCAT\(INSERT\(INSERT\(INSERT\(INSERT\(RPAD/);
    expect(e).toContain(", 21, 0, '-'), 17, 0, '-'), 13, 0, '-'), 9, 0, '-')");
    for (const shift of [0, 8, 16, 24]) expect(e).toContain(`LPAD(HEX((u.id >> ${shift}) & 0xFF), 2, '0')`);
    expect(e).toMatch(/, '@', 'd'\)$/);
  });

  it("reads only the columns the map reader is granted, and leaves homeserver 0 out", () => {
    const q = mailboxMapQuery();
    const tables: Record<string, keyof typeof MAP_READER_COLUMNS> = {
      u: "users",
      a: "aliases",
      s: "servers",
      d: "domains",
    };
    const used = [...q.matchAll(/\b([uasd])\.([a-z_]+)\b/g)];
    expect(used.length).toBeGreaterThan(20);
    for (const [, alias, column] of used) expect(MAP_READER_COLUMNS[tables[alias!]!]).toContain(column);
    expect(q).not.toMatch(/password|maildir|\*/);
    expect(q.match(/homeserver <> 0/g)).toHaveLength(6);
    expect(q.match(/UNION ALL/g)).toHaveLength(5);
    expect(q).toContain("LOWER(u.username)");
    expect(q).toContain("LOWER(a.aliasname)");
    expect(q).toContain("COALESCE(s.hostname, '')");
  });
});

describe("which node gets what", () => {
  it("documented layout: failover/rebalance on the admin node, the map job on the HAProxy node", () => {
    const t = documented();
    expect(opsNodes(t).map((n) => n.name)).toEqual(["mail1"]);
    expect(files(t, "mail1").map((f) => f.path)).toEqual(
      [OPS_DB_CNF, FAILOVER_SCRIPT_PATH, REBALANCE_SCRIPT_PATH].sort(),
    );
    expect(files(t, "lb1").map((f) => f.path)).toEqual(
      [MAP_READER_CNF, MAILBOX_MAP_SERVICE_PATH, MAILBOX_MAP_TIMER_PATH, MAILBOX_MAP_JOB_PATH].sort(),
    );
    for (const n of ["mail2", "mail3", "classic1", "db1"]) expect(files(t, n)).toEqual([]);
    expect(opsPackages(t, t.node("mail1"))).toEqual([...OPS_PACKAGES]);
    expect(opsPackages(t, t.node("lb1"))).toEqual(["mariadb-client", "python3"]);
    expect(opsPackages(t, t.node("mail2"))).toEqual([]);
    expect(opsServices(t, t.node("lb1"))).toEqual(["grommunio-mailbox-map.timer"]);
    expect(opsServices(t, t.node("mail1"))).toEqual([]);
  });

  it("no map job without node-aware routing, on nginx, or off the load balancers", () => {
    const large = buildTopology(largeLayout());
    expect(opsNodes(large).map((n) => n.name)).toEqual(["admin1"]);
    for (const n of ["lb1", "lb2"]) expect(files(large, n)).toEqual([]);
    const aware = buildTopology(
      largeLayout({
        database: DB,
        loadBalancer: { flavor: "haproxy", publicName: "mail.example.com", nodeAwareRouting: true },
      }),
    );
    for (const n of ["lb1", "lb2"]) expect(files(aware, n).map((f) => f.path)).toContain(MAILBOX_MAP_JOB_PATH);
    expect(files(aware, "admin1").map((f) => f.path)).toContain(FAILOVER_SCRIPT_PATH);
    const nginx = documented({ loadBalancer: { flavor: "nginx", publicName: "mail.gro.at", nodeAwareRouting: true } });
    expect(files(nginx, "lb1")).toEqual([]);
  });

  it("without an admin node: the database node, over MariaDB root's socket (no password in the file)", () => {
    const base = documentedLayout({ database: DB });
    const t = buildTopology({
      ...base,
      nodes: base.nodes.map((n) => (n.name === "mail1" ? { ...n, roles: ["mailbox" as const] } : n)),
      loadBalancer: { ...base.loadBalancer!, adminAllowFrom: undefined },
    });
    expect(opsNodes(t).map((n) => n.name)).toEqual(["db1"]);
    const cnf = file(t, "db1", OPS_DB_CNF);
    expect(cnf.content).toContain('[client]\nsocket="/run/mysqld/mysqld.sock"\nuser="root"\ndatabase="grommunio"\n');
    expect(cnf.content).not.toContain("password");
    expect(files(t, "mail1")).toEqual([]);
  });

  it("external database and no admin node: every mailbox node, with the gromox account", () => {
    const base = documentedLayout();
    const t = buildTopology({
      ...base,
      database: { host: "db.example.net", port: 3307, password: "db-secret", mapReaderPassword: "m" },
      nodes: base.nodes
        .filter((n) => n.name !== "db1")
        .map((n) => (n.name === "mail1" ? { ...n, roles: ["mailbox" as const] } : n)),
      loadBalancer: { ...base.loadBalancer!, adminAllowFrom: undefined },
    });
    expect(opsNodes(t).map((n) => n.name)).toEqual(["mail1", "mail2", "mail3"]);
    expect(file(t, "mail2", OPS_DB_CNF).content).toContain(
      '[client]\nhost="db.example.net"\nport=3307\nuser="grommunio"\npassword="db-secret"\ndatabase="grommunio"\n',
    );
  });
});

describe("option files and modes", () => {
  it("credentials only in root-only option files, never in the scripts", () => {
    const t = documented({ database: { ...DB, password: 'we"ird\\pw#1' } });
    const cnf = file(t, "mail1", OPS_DB_CNF);
    expect(cnf).toMatchObject({ mode: "0600", owner: "root:root" });
    expect(cnf.content).toContain('host="10.10.10.60"\nport=3306\nuser="grommunio"\npassword="we\\"ird\\\\pw#1"\n');
    const reader = file(t, "lb1", MAP_READER_CNF);
    expect(reader).toMatchObject({ mode: "0600", owner: "root:root" });
    expect(reader.content).toContain('user="grommunio_map"\npassword="map-secret"\ndatabase="grommunio"\n');
    for (const [node, path] of [
      ["mail1", FAILOVER_SCRIPT_PATH],
      ["mail1", REBALANCE_SCRIPT_PATH],
      ["lb1", MAILBOX_MAP_JOB_PATH],
    ] as const) {
      const s = file(t, node, path);
      expect(s).toMatchObject({ mode: "0750", owner: "root:root" });
      expect(s.content.startsWith("#!/usr/bin/python3 -I\n")).toBe(true);
      expect(s.content).not.toContain("we\\");
      expect(s.content).not.toContain("map-secret");
      expect(s.content).not.toMatch(/--password|-p\s/);
    }
  });
});

describe("grommunio-failover", () => {
  const t = documented();
  const script = file(t, "mail1", FAILOVER_SCRIPT_PATH).content;

  it("moves users AND domains in one transaction, by hostname, in strict mode", () => {
    const body = script.slice(script.indexOf("def failover_sql"));
    const start = body.indexOf('"START TRANSACTION;"');
    const commit = body.indexOf('"COMMIT;"');
    const users = body.indexOf('"UPDATE users SET homeserver = @grx_to WHERE homeserver = @grx_from;"');
    const domains = body.indexOf('"UPDATE domains SET homeserver = @grx_to WHERE homeserver = @grx_from;"');
    expect(start).toBeGreaterThan(0);
    expect(users).toBeGreaterThan(start);
    expect(domains).toBeGreaterThan(users);
    expect(commit).toBeGreaterThan(domains);
    expect(body).toContain(
      '"SELECT id INTO @grx_from FROM servers WHERE hostname = %s FOR UPDATE;" % sql_string(from_host)',
    );
    expect(body).toContain("\"SELECT 'users', ROW_COUNT();\"");
    expect(body).toContain("\"SELECT 'domains', ROW_COUNT();\"");
    expect(script).toContain("STRICT_ALL_TABLES");
    // the dry run counts and rolls back
    expect(body).toContain('"ROLLBACK;"');
  });

  it("refuses unknown hosts, a move onto itself, a domain target above id 127, and non-host names", () => {
    expect(script).toContain(
      'raise OpsError("unknown host %s; servers: %s" % (name, server_list(servers)), EXIT_REFUSED)',
    );
    expect(script).toContain('raise OpsError("refusing to move %s onto itself" % src[1], EXIT_REFUSED)');
    expect(script).toMatch(/if pending\["domains"\] > 0 and dst\[0\] > 127:/);
    expect(script).toContain('raise OpsError("%r is not a host name" % name, EXIT_REFUSED)');
    expect(script).toContain('p.add_argument("--dry-run"');
  });

  it("reloads gromox units by name, never gromox-event/-timer; restarts imap/pop3 only where midb_list.txt changed", () => {
    const config = configOf(script);
    const nodes = config.nodes as Array<{ name: string; units: string[]; midbAddress: string }>;
    expect(nodes.map((n) => n.name)).toEqual(["classic1", "mail1", "mail2", "mail3"]);
    expect(nodes.find((n) => n.name === "mail1")!.units).toEqual(["gromox-http", "gromox-midb", "gromox-zcore"]);
    expect(nodes.find((n) => n.name === "classic1")!.units).toEqual([
      "gromox-imap",
      "gromox-pop3",
      "gromox-delivery",
      "gromox-delivery-queue",
    ]);
    expect(nodes.find((n) => n.name === "mail2")!.midbAddress).toBe("::ffff:10.10.10.30");
    expect(t.hub.name).toBe("mail1"); // runs gromox-event and -timer, which are never reloaded
    expect(RELOADABLE_GROMOX_UNITS).not.toContain("gromox-event");
    expect(RELOADABLE_GROMOX_UNITS).not.toContain("gromox-timer");
    expect(script).not.toMatch(/gromox-(event|timer)"/);
    expect(script).not.toMatch(/\bkill\b|killall|-HUP|-s HUP/);
    expect(config.midbClientUnits).toEqual(["gromox-imap", "gromox-pop3"]);
    expect(config.midbListPath).toBe("/etc/gromox/midb_list.txt");
    expect(script).toContain('"systemctl reload " + " ".join(shlex.quote(u) for u in other)');
    expect(script).toContain(
      '" && mv -f \\"$f.grx-new\\" \\"$f\\" && systemctl restart " + u + "; else systemctl reload " + u + "; fi )"',
    );
    expect(config.hub).toBe("mail1.gro.at");
    expect(script).toContain('if src[1].lower() == CONFIG["hub"].lower():');
    expect(config.reloadDefault).toBe("print");
    expect(configOf(renderOpsFiles(t, t.node("mail1"), { reload: "ssh" })[1]!.content).reloadDefault).toBe("ssh");
  });
});

describe("grommunio-rebalance", () => {
  const t = documented();
  const script = file(t, "mail1", REBALANCE_SCRIPT_PATH).content;

  it("numbers with ROW_NUMBER() windows, never 1..N ids or session variables", () => {
    expect(script).toContain("ROW_NUMBER() OVER (ORDER BY id) AS sn, id FROM servers WHERE hostname IN (%s);");
    expect(script).toContain("ROW_NUMBER() OVER (ORDER BY maildir, id) AS rn FROM users WHERE homeserver <> 0");
    expect(script).toContain("JOIN grx_live AS l ON l.sn = (r.rn - 1) % @grx_n + 1;");
    expect(script).toContain("SET u.homeserver = p.target WHERE u.homeserver <> p.target;");
    expect(script).not.toMatch(/@rownum|:=|COUNT\(\*\) INTO @server_count/);
    const body = script.slice(script.indexOf("def rebalance_sql"));
    expect(body.indexOf('"START TRANSACTION;"')).toBeLessThan(body.indexOf("UPDATE users AS u"));
    expect(body.indexOf("UPDATE users AS u")).toBeLessThan(body.indexOf('"COMMIT;"'));
  });

  it("live servers: --servers or the topology's mailbox nodes; refused on share-nothing without the flag", () => {
    expect(configOf(script).mailboxHosts).toEqual(["mail1.gro.at", "mail2.gro.at", "mail3.gro.at"]);
    expect(configOf(script).storage).toBe("shared");
    expect(script).toContain('p.add_argument("--servers"');
    expect(script).toContain('if CONFIG["storage"] == "share-nothing" and not args.allow_share_nothing:');
    const sn = buildTopology(largeLayout());
    expect(configOf(file(sn, "admin1", REBALANCE_SCRIPT_PATH).content).storage).toBe("share-nothing");
  });
});

describe("grommunio-mailbox-map", () => {
  const t = documented();
  const script = file(t, "lb1", MAILBOX_MAP_JOB_PATH).content;
  const config = configOf(script);

  it("pushes through the runtime API in chunks well below tune.bufsize; reloads only when it is unreachable", () => {
    expect(MAP_PAYLOAD_CHUNK_BYTES).toBeLessThanOrEqual(HAPROXY_BUFSIZE / 2);
    expect(config.chunkBytes).toBe(MAP_PAYLOAD_CHUNK_BYTES);
    expect(config.statsSocket).toBe("/run/haproxy/admin.sock");
    expect(config.mapPath).toBe("/etc/haproxy/mailbox.map");
    expect(script).toContain('api.command("prepare map " + path)');
    expect(script).toContain('api.command("add map @%s %s <<\\n%s\\n" % (version, path, "\\n".join(group)))');
    expect(script).toContain('api.command("commit map @%s %s" % (version, path))');
    expect(script).toContain('["haproxy", "-c", "-q", "-f", CONFIG["haproxyConfig"]]');
    expect(script).toContain('["systemctl", "try-reload-or-restart", CONFIG["haproxyUnit"]]');
    expect(script.indexOf("except ApiUnreachable")).toBeLessThan(script.indexOf("reload_haproxy()\n            how"));
    expect(script).toContain("os.replace(tmp, path)");
    expect(config.query).toBe(mailboxMapQuery());
    expect(config.dbConfig).toBe(MAP_READER_CNF);
    expect(config.mapMode).toBe(0o640);
    expect(config.mapGroup).toBe("haproxy");
  });

  it("accepts exactly the mailbox server names of the rendered haproxy.cfg", () => {
    const cfg = renderHaproxy(t, t.node("lb1")).find((f) => f.path === "/etc/haproxy/haproxy.cfg")!.content;
    // Every backend whose use-server rule looks the map up.
    const backends = cfg
      .split(/\n(?=backend )/)
      .filter((b) => b.startsWith("backend ") && b.includes("map(/etc/haproxy/mailbox.map)"));
    expect(backends.map((b) => b.split("\n")[0])).toEqual(["backend be_gromox", "backend be_web"]);
    for (const b of backends) {
      expect(config.servers).toEqual([...b.matchAll(/^\s+server (\S+) /gm)].map((m) => m[1]));
    }
    expect(config.servers).toEqual(["mail1.gro.at", "mail2.gro.at", "mail3.gro.at"]);
  });

  it("service and timer", () => {
    const service = file(t, "lb1", MAILBOX_MAP_SERVICE_PATH).content;
    expect(service).toContain("[Service]\nType=oneshot\nExecStart=/usr/local/sbin/grommunio-mailbox-map\n");
    expect(service).toContain("ReadWritePaths=/etc/haproxy\n");
    expect(service).toContain("After=network-online.target haproxy.service\n");
    const timer = file(t, "lb1", MAILBOX_MAP_TIMER_PATH).content;
    expect(timer).toContain("[Timer]\nOnBootSec=15s\nOnUnitActiveSec=60s\nAccuracySec=1s\n");
    expect(timer).toContain("[Install]\nWantedBy=timers.target\n");
    const slow = renderOpsFiles(t, t.node("lb1"), { mapRefreshSeconds: 300 }).find(
      (f) => f.path === MAILBOX_MAP_TIMER_PATH,
    )!;
    expect(slow.content).toContain("OnUnitActiveSec=300s\n");
  });
});

describe("validation (GRX400–GRX402)", () => {
  it("GRX400: node-aware HAProxy routing without a map reader account", () => {
    const t = buildTopology(documentedLayout());
    expect(validateOps(t).map((i) => i.code)).toEqual(["GRX400"]);
    expect(() => renderOpsFiles(t, t.node("mail1"))).toThrow(GrommunioValidationError);
    try {
      renderOpsFiles(t, t.node("mail1"));
    } catch (e) {
      expect((e as GrommunioValidationError).issues[0]).toMatchObject({
        code: "GRX400",
        field: "database.mapReaderPassword",
      });
    }
    expect(validateOps(buildTopology(largeLayout()))).toEqual([]);
  });

  it("GRX401/GRX402: refresh interval and reload mode", () => {
    const t = documented();
    expect(validateOps(t, { mapRefreshSeconds: 5 }).map((i) => i.code)).toEqual(["GRX401"]);
    expect(validateOps(t, { mapRefreshSeconds: 59.5 }).map((i) => i.code)).toEqual(["GRX401"]);
    expect(validateOps(t, { mapRefreshSeconds: 3600 })).toEqual([]);
    expect(validateOps(t, { reload: "agent" as "ssh" }).map((i) => i.code)).toEqual(["GRX402"]);
  });
});

describe("determinism", () => {
  it("same input, same files; node order in the input does not matter", () => {
    const a = documented();
    const input = documentedLayout({ database: DB });
    const b = buildTopology({ ...input, nodes: [...input.nodes].reverse() });
    for (const n of a.nodes) {
      expect(renderOpsFiles(a, n)).toEqual(renderOpsFiles(a, n));
      expect(renderOpsFiles(b, b.node(n.name))).toEqual(renderOpsFiles(a, n));
    }
  });
});
