import fc from "fast-check";
import {
  buildTopology,
  ClusterInput,
  GrommunioValidationError,
  OPTION_FILE_LINE_MAX_BYTES,
  optionFileValueBytes,
  Topology,
} from "../../lib/topology";
import { MAILBOX_MAP_VIEW, MAP_READER_COLUMNS, renderMailboxMapView } from "../../lib/render/database";
import { midbListRows, userMaildirPrefix } from "../../lib/render/gromox";
import { renderHaproxy } from "../../lib/render/haproxy";
import {
  clientOptionFile,
  cnfValue,
  FAILOVER_SCRIPT_PATH,
  HAPROXY_BUFSIZE,
  MAILBOX_MAP_JOB_PATH,
  MAILBOX_MAP_SERVICE_PATH,
  MAILBOX_MAP_TIMER_PATH,
  MAP_JOB_PACKAGES,
  MAP_PAYLOAD_CHUNK_BYTES,
  MAP_READER_CNF,
  mailboxIdSql,
  mailboxMapQuery,
  mailboxMapSettings,
  OPS_DB_CNF,
  OPS_PACKAGES,
  OPS_PROGRAM_PATH,
  opsNodes,
  opsPackages,
  opsServices,
  opsSettings,
  REBALANCE_SCRIPT_PATH,
  RELOADABLE_GROMOX_UNITS,
  renderOpsFiles,
  runsRebalance,
  validateOps,
} from "../../lib/render/ops";
import { sh, shellCode, shQuote } from "../../lib/render/ops/bash/common";
import { ConfigFile } from "../../lib/render/types";
import { documentedLayout, largeLayout } from "../fixtures";

const DB = { node: "db1", password: "db-secret", mapReaderPassword: "map-secret" };
const documented = (o: Partial<ClusterInput> = {}) => buildTopology(documentedLayout({ database: DB, ...o }));
/** The documented layout with an external database: the admin node (mail1) is the ops node. */
const external = (password = "db-secret") => {
  const base = documentedLayout();
  return buildTopology({
    ...base,
    database: { host: "db.example.net", port: 3307, password, mapReaderPassword: "map-secret" },
    nodes: base.nodes.filter((n) => n.name !== "db1"),
  });
};

function files(t: Topology, node: string): ConfigFile[] {
  return renderOpsFiles(t, t.node(node));
}
function file(t: Topology, node: string, path: string): ConfigFile {
  const f = files(t, node).find((x) => x.path === path);
  if (!f) throw new Error(`${node} has no ${path}`);
  return f;
}
/** The `NAME=value` lines at the top of a rendered program, read back (single-quoted values may span lines). */
function settingsOf(program: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^([A-Z_]+)=('(?:[^']|'\\'')*'|[^\s']*)$/gm;
  for (const m of program.slice(0, program.indexOf("\nset -u")).matchAll(re)) {
    const v = m[2]!;
    out[m[1]!] = v.startsWith("'") ? v.slice(1, -1).replace(/'\\''/g, "'") : v;
  }
  return out;
}

describe("literals and shell text", () => {
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
    // options of the mariadb program only: [mysql] (mariadb-admin/-dump refuse them in [client])
    expect(clientOptionFile(["x"], [["user", "u"]], [["database", "d"]])).toBe(
      '# x\n[client]\nuser="u"\n[mysql]\ndatabase="d"\n',
    );
  });

  it("clientOptionFile writes a line of up to 4094 bytes (what MariaDB reads of a line) and throws beyond", () => {
    const at = "p".repeat(OPTION_FILE_LINE_MAX_BYTES - 'password=""'.length);
    const file = clientOptionFile([], [["password", at]]);
    expect(file.split("\n").map((l) => Buffer.byteLength(l))).toEqual([8, OPTION_FILE_LINE_MAX_BYTES, 0]);
    expect(() => clientOptionFile([], [["password", at + "p"]])).toThrow(/password is longer than the 4094 bytes/);
    expect(() => clientOptionFile([], [["password", at.slice(1) + "\\"]])).toThrow(/4094 bytes/);
  });

  it("optionFileValueBytes (GRX028's measure) is the length of cnfValue's text between the quotes", () => {
    // the escaped characters often, any other text (binary: any code point) between them
    const text = fc
      .array(fc.oneof(fc.constantFrom("\\", '"', "\t", "\n", "\r"), fc.string({ unit: "binary", maxLength: 4 })))
      .map((parts) => parts.join(""));
    fc.assert(
      fc.property(text, (v) => {
        fc.pre(!v.includes("\0"));
        expect(optionFileValueBytes(v)).toBe(Buffer.byteLength(cnfValue(v)) - 2);
      }),
    );
  });

  it("shQuote leaves plain words alone and single-quotes the rest", () => {
    expect(shQuote("/etc/grommunio-ops/db.cnf")).toBe("/etc/grommunio-ops/db.cnf");
    expect(shQuote("mail1.gro.at mail2.gro.at")).toBe("'mail1.gro.at mail2.gro.at'");
    expect(shQuote("it's $x")).toBe("'it'\\''s $x'");
    expect(shQuote("a\nb")).toBe("'a\nb'");
    expect(shQuote("")).toBe("''");
  });

  it("sh keeps the raw text with \\${ as ${; shellCode drops comment-only lines and blank runs", () => {
    expect(sh`a=\${1%/*} "\t" \n`).toBe('a=${1%/*} "\\t" \\n');
    expect(shellCode("\n# doc\nx=1\n  # more\n\n\n\ny=2 # kept\n")).toBe("x=1\n\ny=2 # kept");
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
  it("database on a node: failover and rebalance there (root over the socket), the map job on the HAProxy node", () => {
    const t = documented();
    expect(opsNodes(t).map((n) => n.name)).toEqual(["db1"]);
    expect(runsRebalance(t)).toBe(true);
    expect(files(t, "db1").map((f) => f.path)).toEqual(
      [OPS_DB_CNF, OPS_PROGRAM_PATH, FAILOVER_SCRIPT_PATH, REBALANCE_SCRIPT_PATH].sort(),
    );
    expect(files(t, "lb1").map((f) => f.path)).toEqual(
      [MAP_READER_CNF, MAILBOX_MAP_SERVICE_PATH, MAILBOX_MAP_TIMER_PATH, MAILBOX_MAP_JOB_PATH].sort(),
    );
    for (const n of ["mail1", "mail2", "mail3", "classic1"]) expect(files(t, n)).toEqual([]);
    const cnf = file(t, "db1", OPS_DB_CNF);
    expect(cnf.content).toContain(
      '[client]\nsocket="/run/mysqld/mysqld.sock"\nuser="root"\n[mysql]\ndatabase="grommunio"\n',
    );
    expect(cnf.content).not.toContain("password");
    expect(opsPackages(t, t.node("db1"))).toEqual([...OPS_PACKAGES]);
    expect(opsPackages(t, t.node("lb1"))).toEqual([...MAP_JOB_PACKAGES]);
    expect(opsPackages(t, t.node("mail1"))).toEqual([]);
    expect(opsServices(t, t.node("lb1"))).toEqual(["grommunio-mailbox-map.timer"]);
    expect(opsServices(t, t.node("db1"))).toEqual([]);
  });

  it("share-nothing storage: failover only (rebalance's plan would move users away from their maildirs)", () => {
    const large = buildTopology(largeLayout());
    expect(runsRebalance(large)).toBe(false);
    expect(opsNodes(large).map((n) => n.name)).toEqual(["db1"]);
    const paths = files(large, "db1").map((f) => f.path);
    expect(paths).toContain(FAILOVER_SCRIPT_PATH);
    expect(paths).not.toContain(REBALANCE_SCRIPT_PATH);
    const program = file(large, "db1", OPS_PROGRAM_PATH).content;
    expect(program).not.toContain("rebalance()");
    expect(program).toContain('*) echo "usage: grommunio-ops failover [--help]" >&2 && exit 2 ;;');
  });

  it("no map job without node-aware routing, on nginx, or off the load balancers", () => {
    const large = buildTopology(largeLayout());
    for (const n of ["lb1", "lb2"]) expect(files(large, n)).toEqual([]);
    const aware = buildTopology(
      largeLayout({
        database: DB,
        loadBalancer: { flavor: "haproxy", publicName: "mail.example.com", nodeAwareRouting: true },
      }),
    );
    for (const n of ["lb1", "lb2"]) expect(files(aware, n).map((f) => f.path)).toContain(MAILBOX_MAP_JOB_PATH);
    expect(files(aware, "admin1")).toEqual([]);
    const nginx = documented({ loadBalancer: { flavor: "nginx", publicName: "mail.gro.at", nodeAwareRouting: true } });
    expect(files(nginx, "lb1")).toEqual([]);
  });

  it("external database: the admin nodes, with the gromox account", () => {
    const t = external();
    expect(opsNodes(t).map((n) => n.name)).toEqual(["mail1"]);
    expect(file(t, "mail1", OPS_DB_CNF).content).toContain(
      '[client]\nhost="db.example.net"\nport=3307\nuser="grommunio"\npassword="db-secret"\n[mysql]\ndatabase="grommunio"\n',
    );
  });

  it("external database and no admin node: every mailbox node", () => {
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
    expect(files(t, "mail2").map((f) => f.path)).toContain(FAILOVER_SCRIPT_PATH);
  });
});

describe("option files and modes", () => {
  it("credentials only in root-only option files, never in the programs", () => {
    const t = external('we"ird\\pw#1');
    const cnf = file(t, "mail1", OPS_DB_CNF);
    expect(cnf).toMatchObject({ mode: "0600", owner: "root:root" });
    expect(cnf.content).toContain('port=3307\nuser="grommunio"\npassword="we\\"ird\\\\pw#1"\n');
    const reader = file(t, "lb1", MAP_READER_CNF);
    expect(reader).toMatchObject({ mode: "0600", owner: "root:root" });
    expect(reader.content).toContain('user="grommunio_map"\npassword="map-secret"\n[mysql]\ndatabase="grommunio"\n');
    for (const [node, path, shell] of [
      ["mail1", OPS_PROGRAM_PATH, "bash"],
      ["mail1", FAILOVER_SCRIPT_PATH, "sh"],
      ["mail1", REBALANCE_SCRIPT_PATH, "sh"],
      ["lb1", MAILBOX_MAP_JOB_PATH, "bash"],
    ] as const) {
      const s = file(t, node, path);
      expect(s).toMatchObject({ mode: "0750", owner: "root:root" });
      expect(s.content.startsWith(`#!/bin/${shell}\n`)).toBe(true);
      expect(s.content).not.toContain("we\\");
      expect(s.content).not.toContain("map-secret");
      expect(s.content).not.toMatch(/--password|mariadb[^\n]*\s-p/);
    }
  });

  it("the two commands run grommunio-ops next to themselves", () => {
    const t = documented();
    expect(file(t, "db1", FAILOVER_SCRIPT_PATH).content).toContain(
      'exec "$(dirname "$(readlink -f "$0")")/grommunio-ops" failover "$@"\n',
    );
    expect(file(t, "db1", REBALANCE_SCRIPT_PATH).content).toContain('/grommunio-ops" rebalance "$@"\n');
  });
});

describe("grommunio-ops failover", () => {
  const t = documented();
  const program = file(t, "db1", OPS_PROGRAM_PATH).content;

  it("starts with its settings, from the topology", () => {
    const s = settingsOf(program);
    const expected = opsSettings(t, { reload: "print", mapRefreshSeconds: 60 });
    expect(Object.keys(s)).toEqual(Object.keys(expected));
    for (const [k, v] of Object.entries(expected)) expect([k, s[k]]).toEqual([k, String(v)]);
    expect(s.DB_CONFIG).toBe(OPS_DB_CNF);
    expect(s.RELOAD).toBe("print");
    expect(
      settingsOf(renderOpsFiles(t, t.node("db1"), { reload: "ssh" }).find((f) => f.path === OPS_PROGRAM_PATH)!.content)
        .RELOAD,
    ).toBe("ssh");
  });

  it("moves users AND domains in one transaction, by hostname, in strict mode", () => {
    const body = program.slice(program.indexOf("failover_sql() {"));
    const start = body.indexOf("START TRANSACTION;");
    expect(start).toBeGreaterThan(0);
    expect(body.indexOf("UPDATE $t SET homeserver = @grx_to WHERE homeserver = @grx_from;")).toBeGreaterThan(start);
    expect(body).toContain("for t in users domains; do");
    expect(body.indexOf('"COMMIT;"')).toBeGreaterThan(body.indexOf("UPDATE $t SET"));
    expect(body).toContain('SELECT id INTO @grx_from FROM servers WHERE hostname = $(sql_quote "$1") FOR UPDATE;');
    expect(body).toContain("SELECT '$t', ROW_COUNT();");
    expect(program).toContain("STRICT_ALL_TABLES");
    // the dry run counts and rolls back
    expect(body).toContain('"ROLLBACK;"');
  });

  it("refuses unknown hosts, a move onto itself and a domain target above id 127", () => {
    expect(program).toContain('die $REFUSED "unknown host $1; servers: $(server_list "$SERVERS")"');
    expect(program).toContain('die $REFUSED "refusing to move $src onto itself"');
    expect(program).toContain("((domains == 0 || id <= 127)) ||");
    expect(program).toContain("--dry-run) dry=1 ;;");
  });

  it("reloads gromox units by name, never gromox-event/-timer; restarts imap/pop3 only where midb_list.txt changed", () => {
    const nodes = settingsOf(program)
      .NODES!.split("\n")
      .map((l) => l.split(" "));
    expect(nodes.map((n) => n[0])).toEqual(["classic1", "mail1", "mail2", "mail3"]);
    expect(nodes.find((n) => n[0] === "mail1")!.slice(3)).toEqual(["gromox-http", "gromox-midb", "gromox-zcore"]);
    expect(nodes.find((n) => n[0] === "classic1")!.slice(3)).toEqual([
      "gromox-imap",
      "gromox-pop3",
      "gromox-delivery",
      "gromox-delivery-queue",
    ]);
    expect(nodes.find((n) => n[0] === "mail2")!.slice(1, 3)).toEqual(["mail2.gro.at", "10.10.10.30"]);
    // failover finds a node's midb address as "::ffff:" + its address: exactly its midb_list.txt rows'
    const derived = program.match(/tolower\(\$2\) == h \{ print "::ffff:" \$3 \}/g) ?? [];
    expect(derived).toHaveLength(2);
    const midbOf = new Map(midbListRows(t).map(([prefix, address]) => [prefix, address]));
    for (const n of t.mailboxNodes) {
      const row = nodes.find((r) => r[0] === n.name)!;
      expect(midbOf.get(userMaildirPrefix(n))).toBe(`::ffff:${row[2]}`);
    }
    expect(t.hub.name).toBe("mail1"); // runs gromox-event and -timer, which are never reloaded
    expect(RELOADABLE_GROMOX_UNITS).not.toContain("gromox-event");
    expect(RELOADABLE_GROMOX_UNITS).not.toContain("gromox-timer");
    expect(program).not.toMatch(/systemctl[^\n]*gromox-(event|timer)/);
    expect(program).not.toMatch(/\bkill\b|killall|-HUP|-s HUP/);
    expect(settingsOf(program).MIDB_UNITS).toBe("gromox-imap gromox-pop3");
    expect(settingsOf(program).MIDB_LIST).toBe("/etc/gromox/midb_list.txt");
    expect(program).toContain('c="systemctl reload$m"');
    expect(program).toContain(
      '&& mv -f "$f.grx-new" "$f" && systemctl restart%s; else rm -f "$f.grx-new"; systemctl reload%s; fi )',
    );
    expect(settingsOf(program).HUB).toBe("mail1.gro.at");
    expect(program).toContain('[[ ${src,,} != "${HUB,,}" ]] ||');
  });

  it("keeps its documentation in the source: no comment-only lines in the program", () => {
    const code = program.split("\n").slice(2);
    expect(code.filter((l) => /^\s*#/.test(l))).toEqual([]);
  });
});

describe("grommunio-ops rebalance", () => {
  const t = documented();
  const program = file(t, "db1", OPS_PROGRAM_PATH).content;

  it("numbers with ROW_NUMBER() windows, never 1..N ids or session variables", () => {
    expect(program).toContain("ROW_NUMBER() OVER (ORDER BY id) AS sn, id FROM servers WHERE hostname IN ($1);");
    expect(program).toContain("ROW_NUMBER() OVER (ORDER BY maildir, id) AS rn FROM users WHERE homeserver <> 0");
    expect(program).toContain("JOIN grx_live AS l ON l.sn = (r.rn - 1) % @grx_n + 1;");
    expect(program).toContain("SET u.homeserver = p.target WHERE u.homeserver <> p.target;");
    expect(program).not.toMatch(/@rownum|:=|COUNT\(\*\) INTO @server_count/);
    const body = program.slice(program.indexOf("rebalance_sql() {"));
    expect(body.indexOf("START TRANSACTION;")).toBeLessThan(body.indexOf("UPDATE users AS u"));
    expect(body.indexOf("UPDATE users AS u")).toBeLessThan(body.indexOf("COMMIT;"));
  });

  it("live servers: --servers or the topology's mailbox nodes", () => {
    expect(settingsOf(program).MAILBOX_HOSTS).toBe("mail1.gro.at mail2.gro.at mail3.gro.at");
    expect(program).toContain("--servers) servers=${2-} && shift ;;");
    expect(program).toContain("IFS=', ' read -ra names <<<\"${servers:-$MAILBOX_HOSTS}\"");
  });
});

describe("grommunio-mailbox-map", () => {
  const t = documented();
  const script = file(t, "lb1", MAILBOX_MAP_JOB_PATH).content;
  const settings = settingsOf(script);

  it("pushes through the runtime API in chunks well below tune.bufsize over one connection; reloads only when it is unreachable", () => {
    expect(MAP_PAYLOAD_CHUNK_BYTES).toBeLessThanOrEqual(HAPROXY_BUFSIZE / 2);
    expect(settings.CHUNK_BYTES).toBe(String(MAP_PAYLOAD_CHUNK_BYTES));
    expect(settings.SOCKET).toBe("/run/haproxy/admin.sock");
    expect(settings.MAP).toBe("/etc/haproxy/mailbox.map");
    expect(script).toContain('answer=$(echo "prepare map $MAP" | api)');
    expect(settings.ADD_MAP_AWK).toContain('!size { print "add map @" version " " map " <<"; chunks++ }');
    expect(settings.ADD_MAP_AWK).toContain('BEGIN { print "prompt" }');
    expect(script).toContain('answer=$(echo "commit map @$version $MAP" | api)');
    // commit only after every add succeeded (payload lines acknowledged with "+ ", commands with "> ";
    // sed drops the acknowledgements, one per entry; what is left is an error) and the prepared
    // version holds every entry of the file; then HAProxy must run that version
    const adds = script.indexOf("| api | sed -e 's/^\\([>+] \\)*//' -e '/^$/d') && [[ -z $answer ]] &&\n");
    const count = script.indexOf(
      'answer=$(echo "show map @$version $MAP" | api | awk -v version="$version" -v want="$want" "$VERSION_ENTRIES_AWK") &&\n',
    );
    const commit = script.indexOf(
      '[[ -z $answer ]] && answer=$(echo "commit map @$version $MAP" | api) && [[ -z $answer ]] &&\n',
    );
    const committed = script.indexOf(
      'answer=$(echo "show map" | api | awk -v map="$MAP" -v version="$version" "$COMMITTED_AWK") &&\n',
    );
    expect([adds > 0, adds < count, count < commit, commit < committed]).toEqual([true, true, true, true]);
    expect(script).toContain('want=$(($(wc -l <"$MAP") - 1))\n');
    // socat leaves its side open: HAProxy ends each session itself (no half-close racing its reads)
    expect(script).toContain('api() { socat -t 30 -T 30 - "unix-connect:$SOCKET,shut-none" 2>"$work/socat"; }');
    expect(script).toContain('haproxy -c -q -f "$HAPROXY_CONFIG" && systemctl try-reload-or-restart haproxy');
    expect(script.indexOf('if ! answer=$(echo "prepare map $MAP" | api)')).toBeLessThan(
      script.indexOf("haproxy -c -q"),
    );
    expect(script).toContain('mv -f "$tmp" "$MAP"');
    expect(settings.DB_CONFIG).toBe(MAP_READER_CNF);
    expect(settings.MAP_MODE).toBe("0640");
    expect(settings.MAP_GROUP).toBe("haproxy");
  });

  it("reads the map view (the keys computed by MariaDB), nothing else", () => {
    expect(settings.QUERY).toBe(`SELECT kind, mkey, host FROM ${MAILBOX_MAP_VIEW};`);
    expect(mailboxMapSettings().PROG).toBe("grommunio-mailbox-map");
    expect(renderMailboxMapView(t)).toContain(
      `CREATE OR REPLACE SQL SECURITY INVOKER VIEW \`${MAILBOX_MAP_VIEW}\` (\`kind\`, \`mkey\`, \`host\`) AS\n${mailboxMapQuery().trimEnd()}\n`,
    );
  });

  it("takes the valid server names from haproxy.cfg at run time: the job does not list the mailbox nodes", () => {
    expect(settings.SERVERS).toBeUndefined();
    expect(script).not.toContain("mail2.gro.at");
    expect(settings.HAPROXY_CONFIG).toBe("/etc/haproxy/haproxy.cfg");
    expect(script).toContain(
      'servers=$(awk -v map="$MAP" "$SERVERS_AWK" "$HAPROXY_CONFIG") && [[ $servers ]] ||\n' +
        '  die $FAILED "no server in $HAPROXY_CONFIG in a backend whose use-server looks up $MAP; nothing changed"\n',
    );
    // read before the database is asked, used by the row check
    expect(script.indexOf('"$SERVERS_AWK" "$HAPROXY_CONFIG"')).toBeLessThan(script.indexOf('<<<"$QUERY"'));
    expect(script).toContain('awk -v servers="$servers" -v entries=');
    // comments dropped; the server lines of backend/listen sections whose use-server looks the map up
    const awk = settings.SERVERS_AWK!.split("\n");
    expect(awk[0]).toBe('{ sub(/#.*/, "") }');
    expect(awk).toContain('$1 ~ /^(backend|listen|peers|ring)$/ { b = $1 " " $2 }');
    expect(awk).toContain('$1 == "server" { s[b] = s[b] " " $2 }');
    expect(awk).toContain('$1 == "use-server" && (index($0, "map(" map ")") || index($0, "map(" map ",")) { u[b] }');
    // the rendered haproxy.cfg has such a rule in exactly the backends with the mailbox servers
    const cfg = renderHaproxy(t, t.node("lb1")).find((f) => f.path === "/etc/haproxy/haproxy.cfg")!.content;
    const rule = `    use-server %[var(txn.mbox),map(${settings.MAP})] if { var(txn.mbox) -m found }\n`;
    const backends = cfg.split(/\n(?=backend )/).filter((b) => b.startsWith("backend ") && b.includes(rule));
    expect(backends.map((b) => b.split("\n")[0])).toEqual(["backend be_gromox", "backend be_web"]);
    for (const b of backends) {
      expect([...b.matchAll(/^\s+server (\S+) /gm)].map((m) => m[1])).toEqual(t.mailboxNodes.map((n) => n.hostname));
    }
    // the same job on every load balancer, whatever the mailbox nodes
    const input = documentedLayout({ database: DB });
    const more = buildTopology({
      ...input,
      nodes: [
        ...input.nodes,
        { name: "mail4", hostname: "mail4.gro.at", roles: ["mailbox"], ipv4: "10.10.10.70", serverId: 4 },
        { name: "lb2", hostname: "lb2.gro.at", roles: ["load-balancer"], ipv4: "10.10.10.11" },
      ],
    });
    expect(file(more, "lb1", MAILBOX_MAP_JOB_PATH).content).toBe(script);
    expect(file(more, "lb2", MAILBOX_MAP_JOB_PATH).content).toBe(script);
  });

  it("service and timer", () => {
    const service = file(t, "lb1", MAILBOX_MAP_SERVICE_PATH).content;
    expect(service).toContain(
      "[Service]\nType=oneshot\nExecStart=/usr/local/sbin/grommunio-mailbox-map\nSuccessExitStatus=4\n",
    );
    // the job's NOT_READY is the status the service counts as success
    expect(file(t, "lb1", MAILBOX_MAP_JOB_PATH).content).toMatch(/^NOT_READY=4$/m);
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
  it("GRX400: node-aware HAProxy routing without a map reader account (refused where the map job runs)", () => {
    const t = buildTopology(documentedLayout());
    expect(validateOps(t).map((i) => i.code)).toEqual(["GRX400"]);
    expect(() => renderOpsFiles(t, t.node("lb1"))).toThrow(GrommunioValidationError);
    expect(renderOpsFiles(t, t.node("db1")).map((f) => f.path)).toContain(FAILOVER_SCRIPT_PATH);
    try {
      renderOpsFiles(t, t.node("lb1"));
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
