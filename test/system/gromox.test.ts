/**
 * gromox configuration, system level: the strict checker passes every file renderGromox produces
 * (documented and large layout; gromox 3.4, 3.5, 3.10) and rejects the upstream design page's
 * blocks and hand-made bad files. Real programs: python3's ipaddress module cross-checks the
 * checker's RFC 4291 parser and every address we generate; glibc's resolver (getent, in a private
 * mount namespace) reads the generated /etc/hosts.
 */
import { ClusterInput, buildTopology } from "../../lib/topology";
import { renderGromox } from "../../lib/render/gromox";
import { renderHosts } from "../../lib/render/system/hosts";
import { documentedLayout, largeLayout } from "../fixtures";
import { checkGromoxConfig, ipv6Groups, ntopForm, readGromoxCfg } from "./gromox-checker";
import { requireProgram, run, runInSandbox, scratchDir, writeTree } from "./support";

const LAYOUTS: Array<[string, (o?: Partial<ClusterInput>) => ClusterInput]> = [
  ["documented", documentedLayout],
  ["large", largeLayout],
];
const VERSIONS = ["3.4", "3.5", "3.10"];

describe("every generated gromox file passes the strict checker", () => {
  for (const [layoutName, layout] of LAYOUTS) {
    for (const version of VERSIONS) {
      test(`${layoutName} layout, gromox ${version}`, () => {
        const t = buildTopology(layout({ gromoxVersion: version }));
        const problems: string[] = [];
        let count = 0;
        for (const node of t.nodes) {
          for (const f of renderGromox(t, node)) {
            count++;
            for (const p of checkGromoxConfig(f.path, f.content)) problems.push(`${node.name}:${f.path}: ${p}`);
          }
        }
        expect(problems).toEqual([]);
        // the renderer produced something for every gromox node (a checker over nothing proves nothing)
        expect(count).toBeGreaterThan(layoutName === "documented" ? 40 : 70);
      });
    }
  }
});

describe("values the user supplies reach gromox as written (docs/config-values.md)", () => {
  // gromox reads everything after "=" literally: "#" after a blank, quotes at either end, "=",
  // backslashes, "$". Only blanks at the ends would be lost (GRX028, GRX006 refuse them).
  const PASSWORD = `'abc #1 "x" a=b \\n $HOME %s ;"`;
  const ORG = `"Gro #1" 'AT'`;
  const t = buildTopology(documentedLayout({ x500OrgName: ORG, database: { node: "db1", password: PASSWORD } }));

  test("the strict checker accepts them in mysql_password and x500_org_name", () => {
    const problems = t.nodes.flatMap((node) =>
      renderGromox(t, node).flatMap((f) =>
        checkGromoxConfig(f.path, f.content).map((p) => `${node.name}:${f.path}: ${p}`),
      ),
    );
    expect(problems).toEqual([]);
  });

  test("gromox's reader (modelled on lib/rfbl.cpp config_file_init) reads back exactly the given values", () => {
    const files = t.nodes.flatMap((node) => renderGromox(t, node));
    const adaptor = files.filter((f) => f.path === "/etc/gromox/mysql_adaptor.cfg");
    expect(adaptor.length).toBeGreaterThan(0);
    for (const f of adaptor) {
      expect(f.content.split("\n")).toContain(`mysql_password=${PASSWORD}`);
      expect(readGromoxCfg(f.content).get("mysql_password")).toBe(PASSWORD);
    }
    const withOrg = files.filter((f) => readGromoxCfg(f.content).has("x500_org_name"));
    expect(withOrg.length).toBeGreaterThan(3);
    for (const f of withOrg) expect([f.path, readGromoxCfg(f.content).get("x500_org_name")]).toEqual([f.path, ORG]);
  });

  test("the model drops what gromox drops: a blank at either end, a comment line, blanks around '='", () => {
    const read = readGromoxCfg("# c=1\n  mysql_password =  a #b \t\r\n#x=2\nk==v\nno value line\n");
    expect([...read]).toEqual([
      ["mysql_password", "a #b"],
      ["k", "=v"],
    ]);
  });

  test("in values the library chooses, a blank before '#' and quotes still fail the checker", () => {
    expect(checkGromoxConfig("/etc/gromox/exmdb_provider.cfg", "x500_org_name='x #1'\nlisten_ip='::1'\n")).toEqual([
      "exmdb_provider.cfg: line 2: listen_ip is quoted; gromox does not strip quotes",
      `exmdb_provider.cfg: line 2: listen_ip: "'::1'" is not an RFC 4291 IPv6 address (no host names here)`,
    ]);
  });
});

/*
 * The upstream design page's gromox blocks (seed: grommunio-architecture.txt, "Shared storage"),
 * rebuilt line by line where the page lost its line breaks. Verbatim otherwise.
 */
const UPSTREAM = {
  exmdb: [
    "# exmdb_hosts_allow replaces the former exmdb_acl.txt (Gromox 2.8+).",
    "# There is no exmdb host map any more — routing comes from the database (below).",
    "exmdb_hosts_allow=:: ::ffff:10.10.10.20 ::ffff:10.10.10.30 ::ffff:10.10.10.40 ::1",
    "listen_ip=::",
    "",
  ].join("\n"),
  midb: [
    "# /etc/gromox/midb.cfg",
    "midb_hosts_allow=:: ::ffff:10.10.10.20 ::ffff:10.10.10.30 ::ffff:10.10.10.40 ::1",
    "midb_listen_ip=::",
    "",
  ].join("\n"),
  midbList: [
    "/var/lib/gromox/user/mail1.gro.at ::ffff:10.10.10.20 5555",
    "/var/lib/gromox/user/mail2.gro.at ::ffff:10.10.10.30 5555",
    "/var/lib/gromox/user/mail3.gro.at ::ffff:10.10.10.40 5555",
    "/var/lib/gromox/domain/ ::ffff:10.10.10.20 5555",
    "",
  ].join("\n"),
  event: [
    "# /etc/gromox/event.cfg",
    "event_hosts_allow=:: ::ffff:10.10.10.20 ::ffff:10.10.10.30 ::ffff:10.10.10.40 ::1",
    "event_listen_ip=::",
    "",
  ].join("\n"),
  timer: [
    "# /etc/gromox/timer.cfg",
    "timer_hosts_allow=:: ::ffff:10.10.10.20 ::ffff:10.10.10.30 ::ffff:10.10.10.40 ::1",
    "timer_listen_ip=::",
    "",
  ].join("\n"),
};

const UNSPECIFIED = (key: string) =>
  `line 2: ${key}: "::" is the unspecified address: it matches no peer and connects nowhere`;

describe("the checker rejects the upstream design page's blocks", () => {
  test("the unnamed exmdb block, read as http.cfg (exmdb runs in gromox-http): neither key exists there", () => {
    expect(checkGromoxConfig("/etc/gromox/http.cfg", UPSTREAM.exmdb)).toEqual([
      "http.cfg: line 3: unknown directive exmdb_hosts_allow for http.cfg",
      "http.cfg: " + UNSPECIFIED("exmdb_hosts_allow").replace("line 2", "line 3"),
      "http.cfg: line 4: unknown directive listen_ip for http.cfg",
    ]);
  });
  test("the exmdb block in exmdb_provider.cfg, where it belongs: `::` in the allow list", () => {
    expect(checkGromoxConfig("/etc/gromox/exmdb_provider.cfg", UPSTREAM.exmdb)).toEqual([
      "exmdb_provider.cfg: " + UNSPECIFIED("exmdb_hosts_allow").replace("line 2", "line 3"),
    ]);
  });
  test("midb.cfg, event.cfg, timer.cfg: `::` in the allow list", () => {
    expect(checkGromoxConfig("/etc/gromox/midb.cfg", UPSTREAM.midb)).toEqual([
      `midb.cfg: ${UNSPECIFIED("midb_hosts_allow")}`,
    ]);
    expect(checkGromoxConfig("/etc/gromox/event.cfg", UPSTREAM.event)).toEqual([
      `event.cfg: ${UNSPECIFIED("event_hosts_allow")}`,
    ]);
    expect(checkGromoxConfig("/etc/gromox/timer.cfg", UPSTREAM.timer)).toEqual([
      `timer.cfg: ${UNSPECIFIED("timer_hosts_allow")}`,
    ]);
  });
  test("midb_list.txt: user prefixes without the trailing /", () => {
    expect(checkGromoxConfig("/etc/gromox/midb_list.txt", UPSTREAM.midbList)).toEqual(
      [1, 2, 3].map(
        (i) =>
          `midb_list.txt: line ${i}: prefix "/var/lib/gromox/user/mail${i}.gro.at" does not end in "/", ` +
          `so it also matches "/var/lib/gromox/user/mail${i}.gro.at2/…" of another node`,
      ),
    );
  });
});

describe("the checker rejects hand-made bad files", () => {
  const ok = "exmdb_hosts_allow=::1 ::ffff:10.10.10.20\n";
  const check = (name: string, content: string) => checkGromoxConfig(`/etc/gromox/${name}`, content);

  test("a good file passes (the rejections below are about the one bad line)", () => {
    expect(check("exmdb_provider.cfg", `# comment\n\n${ok}x500_org_name=Example Org\n`)).toEqual([]);
  });
  test.each<[string, string, string, string[]]>([
    [
      "trailing comment",
      "exmdb_provider.cfg",
      "exmdb_hosts_allow=::1 # local only\n",
      [
        'line 1: trailing comment in "exmdb_hosts_allow=::1 # local only" — gromox takes "::1 # local only" as the value of exmdb_hosts_allow',
        'line 1: exmdb_hosts_allow: "#" is not an RFC 4291 IPv6 address (no host names here)',
        'line 1: exmdb_hosts_allow: "local" is not an RFC 4291 IPv6 address (no host names here)',
        'line 1: exmdb_hosts_allow: "only" is not an RFC 4291 IPv6 address (no host names here)',
      ],
    ],
    [
      "bare IPv4 in an allow list",
      "midb.cfg",
      "midb_hosts_allow=::1 10.10.10.50\n",
      [
        'line 1: midb_hosts_allow: "10.10.10.50" is a bare IPv4 address; gromox uses AF_INET6 sockets: write ::ffff:10.10.10.50',
      ],
    ],
    [
      "CIDR in an allow list",
      "exmdb_provider.cfg",
      "exmdb_hosts_allow=::1 ::ffff:10.10.10.0/120\n",
      [
        'line 1: exmdb_hosts_allow: "::ffff:10.10.10.0/120" is a network (CIDR); gromox takes individual addresses only ("No networks and no CIDR notations")',
      ],
    ],
    ["unknown key", "midb.cfg", "midb_listen=[::]:5555\n", ["line 1: unknown directive midb_listen for midb.cfg"]],
    [
      "duplicate key (also in another case)",
      "timer_agent.cfg",
      "timer_host=::ffff:10.0.0.1\ntimer_port=6666\nTIMER_HOST=::1\n",
      [
        'line 3: key "TIMER_HOST" is not lower-case letters, digits and _',
        "line 3: duplicate key TIMER_HOST (first on line 1); the last one silently wins",
      ],
    ],
    [
      "quoted value",
      "http.cfg",
      'host_id="mail1.gro.at"\n',
      [
        "line 1: host_id is quoted; gromox does not strip quotes",
        'line 1: host_id: ""mail1.gro.at"" holds characters not allowed in host names',
      ],
    ],
    [
      "allow-list entry not as inet_ntop prints it",
      "event.cfg",
      "event_hosts_allow=::1 ::FFFF:10.10.10.20 0:0:0:0:0:ffff:a0a:a1e\n",
      [
        'line 1: event_hosts_allow: "::FFFF:10.10.10.20" is not written as inet_ntop prints it ("::ffff:10.10.10.20"); gromox compares the strings, so it never matches',
        'line 1: event_hosts_allow: "0:0:0:0:0:ffff:a0a:a1e" is not written as inet_ntop prints it ("::ffff:10.10.10.30"); gromox compares the strings, so it never matches',
      ],
    ],
    [
      "host name as event_host",
      "event_proxy.cfg",
      "event_host=mail1.gro.at\n",
      ['line 1: event_host: "mail1.gro.at" is not an RFC 4291 IPv6 address (no host names here)'],
    ],
    [
      "bare IPv4 listen_ip",
      "exmdb_provider.cfg",
      "listen_ip=0.0.0.0\n",
      ['line 1: listen_ip: "0.0.0.0" is a bare IPv4 address; gromox uses AF_INET6 sockets: write ::ffff:0.0.0.0'],
    ],
    [
      "*_listen without brackets or port",
      "gromox.cfg",
      "exmdb_listen=:: [10.0.0.1]:5000 [::]:99999\n",
      [
        'line 1: exmdb_listen: "::" is not [address]:port or unix:/path (both address and port are required)',
        'line 1: exmdb_listen: "10.0.0.1" is a bare IPv4 address; gromox uses AF_INET6 sockets: write ::ffff:10.0.0.1',
        'line 1: exmdb_listen: "99999" is not a TCP port',
      ],
    ],
    [
      "PROXY v1 switch",
      "gromox.cfg",
      "imap_accept_haproxy=1\n",
      ['line 1: imap_accept_haproxy: "1" — gromox knows 0 (no PROXY header) and 2 (PROXY v2); v1 is not accepted'],
    ],
    [
      "whitespace around = and a comment after indentation",
      "midb.cfg",
      "midb_listen_port = 5555\n  # indented comment\n",
      ['line 1: whitespace around "=" in "midb_listen_port = 5555"', "line 2: comment not at the start of the line"],
    ],
    [
      "bare IPv4 host in outgoing_smtp_url",
      "gromox.cfg",
      "outgoing_smtp_url=smtp://10.10.10.50:10025\n",
      ['line 1: outgoing_smtp_url: bare IPv4 host "10.10.10.50"; use a host name or [::ffff:10.10.10.50]'],
    ],
  ])("%s", (_what, name, content, expected) => {
    expect(check(name, content)).toEqual(expected.map((e) => `${name}: ${e}`));
  });

  test("file-level faults: no final newline, CRLF, tabs, unknown file name", () => {
    expect(check("midb.cfg", "x500_org_name=a")).toEqual(["midb.cfg: no newline at the end"]);
    expect(check("midb.cfg", "x500_org_name=a\r\n")).toEqual([
      "midb.cfg: carriage return (CRLF line ends)",
      "midb.cfg: line 1: trailing whitespace",
    ]);
    expect(check("midb_list.txt", "/a/\t::1\t5555\n")).toEqual(["midb_list.txt: tab character"]);
    expect(check("exmdb_acl.txt", "::1\n")).toEqual(["exmdb_acl.txt: not a gromox configuration file name"]);
    expect(check("ldap_adaptor.cfg", "x=1\n")).toEqual([
      "ldap_adaptor.cfg: ldap_adaptor.cfg: no table of known directives for this file name",
    ]);
  });

  test("midb_list.txt and exmdb_list.txt column faults", () => {
    expect(
      check(
        "midb_list.txt",
        [
          "/var/lib/gromox/user/ ::ffff:10.0.0.1 5555",
          "/var/lib/gromox/user/mail1/ ::ffff:10.0.0.2 5555",
          "var/x/ 1111:2222:3333:4444:5555:6666:7777:8888 port",
          "/y/ ::ffff:10.0.0.3",
          "",
        ].join("\n"),
      ),
    ).toEqual(
      [
        `line 2: never used — line 1's prefix "/var/lib/gromox/user/" matches first`,
        'line 3: prefix "var/x/" is not an absolute path',
        'line 3: "port" is not a TCP port',
        "line 4: 2 columns; midb_list.txt lines are <prefix> <midb address> <port>",
      ].map((e) => `midb_list.txt: ${e}`),
    );
    expect(
      check(
        "exmdb_list.txt",
        [
          "/var/lib/gromox/user/a/ private ::ffff:10.0.0.1 5000",
          "/var/lib/gromox/domain/a/ shared ::ffff:10.0.0.1 5000",
          "/var/lib/gromox/user/b/ private 0000:0000:0000:0000:0000:ffff:100.100.100.200 5000",
          "/var/lib/gromox/user/c/ private 10.0.0.3 5000",
          "",
        ].join("\n"),
      ),
    ).toEqual(
      [
        'line 2: store type "shared" is neither private nor public',
        'line 3: address "0000:0000:0000:0000:0000:ffff:100.100.100.200" is longer than 39 characters',
        'line 4: "10.0.0.3" is a bare IPv4 address; gromox uses AF_INET6 sockets: write ::ffff:10.0.0.3',
      ].map((e) => `exmdb_list.txt: ${e}`),
    );
  });
});

describe("real programs", () => {
  const python = () => requireProgram("python3", "python3");

  test("python3 ipaddress agrees with the checker's RFC 4291 parser and inet_ntop form", () => {
    const samples = [
      "::1",
      "::",
      "::ffff:10.10.10.20",
      "::FFFF:10.10.10.20",
      "0:0:0:0:0:ffff:a0a:a14",
      "::ffff:0a0a:0a14",
      "2001:db8::1",
      "2001:DB8:0:0:0:0:0:1",
      "2001:db8:0:0:1:0:0:1",
      "2001:0:0:1:0:0:0:1",
      "1:2:3:4:5:6:7:8",
      "1::2:3:4:5:6:7",
      "fe80::",
      "1:2:3:4:5:6:1.2.3.4",
      "::ffff:255.255.255.255",
      // invalid
      "10.10.10.20",
      "::ffff:10.10.10",
      "::ffff:010.10.10.20",
      "::ffff:10.10.10.256",
      "1::2::3",
      ":1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      "::ffff:10.10.10.0/120",
      "mail1.gro.at",
      "",
      "[::1]",
      "1:2:3:4:5:6:7:1.2.3.4",
    ];
    const script = [
      "import ipaddress, json, sys",
      "out = []",
      "for s in json.load(sys.stdin):",
      "    try:",
      "        a = ipaddress.IPv6Address(s)",
      "    except ValueError:",
      "        out.append(None); continue",
      "    m = a.ipv4_mapped",
      "    out.append('::ffff:' + str(m) if m is not None else a.compressed)",
      "print(json.dumps(out))",
    ].join("\n");
    const r = run(python(), ["-c", script], { input: JSON.stringify(samples) });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const fromPython = JSON.parse(r.stdout) as Array<string | null>;
    const fromChecker = samples.map((s) => {
      const g = ipv6Groups(s);
      return g ? ntopForm(g) : null;
    });
    expect(fromChecker).toEqual(fromPython);
    expect(fromPython.filter((x) => x === null)).toHaveLength(13);
  });

  test("python3: every address in every generated file is ::1, :: or a cluster node's ::ffff: address", () => {
    const addresses = new Set<string>();
    for (const [, layout] of LAYOUTS) {
      for (const version of VERSIONS) {
        const t = buildTopology(layout({ gromoxVersion: version }));
        for (const n of t.nodes) {
          for (const f of renderGromox(t, n)) {
            for (const l of f.content.split("\n")) {
              if (l.startsWith("#") || l === "") continue;
              if (f.path.endsWith(".txt")) {
                const cols = l.split(" ");
                addresses.add(cols[cols.length - 2]!);
                continue;
              }
              const [key, value = ""] = l.split(/=(.*)/s);
              if (/_hosts_allow$|^(event_host|timer_host|listen_ip)$|_listen_ip$|_listen_addr$/.test(key!)) {
                for (const a of value.split(" ")) addresses.add(a);
              } else if (/_listen(_tls)?$/.test(key!)) {
                for (const spec of value.split(" ")) addresses.add(/^\[(.*)\]:\d+$/.exec(spec)![1]!);
              }
            }
          }
        }
      }
    }
    const nodeIps = [documentedLayout(), largeLayout()].flatMap((i) => i.nodes.map((n) => n.ipv4));
    const script = [
      "import ipaddress, json, sys",
      "ips = set(json.loads(sys.argv[1]))",
      "bad = []",
      "for s in json.load(sys.stdin):",
      "    a = ipaddress.IPv6Address(s)",
      "    m = a.ipv4_mapped",
      "    if not (a.is_loopback or a.is_unspecified or (m is not None and str(m) in ips)):",
      "        bad.append(s)",
      "print(json.dumps(bad))",
    ].join("\n");
    const r = run(python(), ["-c", script, JSON.stringify(nodeIps)], { input: JSON.stringify([...addresses]) });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual([]);
    // ::1, :: and the 12 addresses of the gromox nodes of both layouts: every one was seen
    expect(addresses.size).toBe(14);
  });

  test("glibc resolves the names each node dials through its generated /etc/hosts, own name included", () => {
    requireProgram("getent", "libc-bin");
    const t = buildTopology(documentedLayout());
    /** The first IPv4 address `getent ahostsv4` gives for each name on `node`, "-" when none. */
    const resolve = (node: string, names: string[]) => {
      const dir = writeTree(scratchDir("hosts"), { hosts: renderHosts(t, t.node(node)).content });
      const r = runInSandbox(
        { binds: { "/etc/hosts": `${dir}/hosts` } },
        names.map((n) => `(getent ahostsv4 ${n} || echo -) | head -n1`).join("; "),
      );
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      return r.stdout
        .trim()
        .split("\n")
        .map((l) => l.split(/\s+/)[0]);
    };
    // classic1: itself, every mailbox node (exmdb; relay clients) and the load balancer (postfix
    // looks its clients up); peers by FQDN only; not the database node (dialled by address).
    expect(
      resolve("classic1", ["classic1.gro.at", "classic1", "mail2.gro.at", "mail3", "lb1.gro.at", "lb1", "db1.gro.at"]),
    ).toEqual(["10.10.10.50", "10.10.10.50", "10.10.10.30", "-", "10.10.10.10", "-", "-"]);
    // mail1: itself, every mailbox node (servers.hostname), its relay; not the LB and database nodes,
    // which it reaches by address. The hosts file alone answers (no DNS in the sandbox).
    expect(
      resolve("mail1", [
        "mail1.gro.at",
        "mail1",
        "mail2.gro.at",
        "mail3.gro.at",
        "classic1.gro.at",
        "lb1",
        "db1.gro.at",
      ]),
    ).toEqual(["10.10.10.20", "10.10.10.20", "10.10.10.30", "10.10.10.40", "10.10.10.50", "-", "-"]);
    // The own name both ways (hostname -f asks for the short name and gets the FQDN back).
    const own = writeTree(scratchDir("hosts"), { hosts: renderHosts(t, t.node("mail1")).content });
    const canonical = runInSandbox({ binds: { "/etc/hosts": `${own}/hosts` } }, "getent hosts mail1");
    expect(canonical.stdout.trim().split(/\s+/)).toEqual(["10.10.10.20", "mail1.gro.at", "mail1"]);
    // lb1: only itself.
    expect(resolve("lb1", ["lb1.gro.at", "lb1", "mail1.gro.at"])).toEqual(["10.10.10.10", "10.10.10.10", "-"]);
  });
});
