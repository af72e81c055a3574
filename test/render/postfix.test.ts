import { buildTopology, ClusterInput } from "../../lib/topology";
import {
  DEBIAN_DEFAULT_SERVICES,
  POSTFIX_MYSQL_MAPS,
  renderPostfix,
  serializeMainCf,
  serializeMasterCf,
} from "../../lib/render/postfix";
import { renderMysqlMap } from "../../lib/render/postfix/maps";
import { ConfigFile } from "../../lib/render/types";
import { documentedLayout, largeLayout } from "../fixtures";

function filesOf(input: ClusterInput, node = "classic1"): Map<string, ConfigFile> {
  const t = buildTopology(input);
  return new Map(renderPostfix(t, t.node(node)).map((f) => [f.path, f]));
}

function content(files: Map<string, ConfigFile>, path: string): string {
  const f = files.get(path);
  if (!f) throw new Error(`no ${path}`);
  return f.content;
}

/** main.cf as name → value; throws on a line that is neither comment, blank nor `name = value`. */
function mainCf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z0-9_]+) =(?: (.*))?$/.exec(line);
    if (!m) throw new Error(`bad main.cf line ${JSON.stringify(line)}`);
    if (out.has(m[1]!)) throw new Error(`${m[1]} twice`);
    out.set(m[1]!, m[2] ?? "");
  }
  return out;
}

interface Service {
  line: string;
  overrides: string[];
}

/** master.cf services: the service line (whitespace collapsed) and its `-o` lines. */
function masterCf(text: string): Service[] {
  const out: Service[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    if (/^\s/.test(line)) {
      out[out.length - 1]!.overrides.push(line.trim());
      continue;
    }
    out.push({ line: line.split(/\s+/).join(" "), overrides: [] });
  }
  return out;
}

const MAIN = "/etc/postfix/main.cf";
const MASTER = "/etc/postfix/master.cf";

const noProxy = (input: ClusterInput): ClusterInput => ({
  ...input,
  loadBalancer: { ...input.loadBalancer!, proxyProtocol: { smtp: false, submission: false } },
});

const DEBIAN_UNIX_SERVICES = [
  "pickup unix n - y 60 1 pickup",
  "cleanup unix n - y - 0 cleanup",
  "qmgr unix n - n 300 1 qmgr",
  "tlsmgr unix - - y 1000? 1 tlsmgr",
  "rewrite unix - - y - - trivial-rewrite",
  "bounce unix - - y - 0 bounce",
  "defer unix - - y - 0 bounce",
  "trace unix - - y - 0 bounce",
  "verify unix - - y - 1 verify",
  "flush unix n - y 1000? 0 flush",
  "proxymap unix - - n - - proxymap",
  "proxywrite unix - - n - 1 proxymap",
  "smtp unix - - y - - smtp",
  "relay unix - - y - - smtp",
  "showq unix n - y - - showq",
  "error unix - - y - - error",
  "retry unix - - y - - error",
  "discard unix - - y - - discard",
  "local unix - n n - - local",
  "virtual unix - n n - - virtual",
  "lmtp unix - - y - - lmtp",
  "anvil unix - - y - 1 anvil",
  "scache unix - - y - 1 scache",
  "postlog unix-dgram n - n - 1 postlogd",
];

const RELAY = {
  line: "10025 inet n - y - - smtpd",
  overrides: [
    "-o syslog_name=postfix/relay",
    "-o mynetworks=10.10.10.20/32,10.10.10.30/32,10.10.10.40/32",
    "-o smtpd_client_restrictions=permit_mynetworks,reject",
    "-o smtpd_relay_restrictions=permit_mynetworks,reject",
    "-o smtpd_recipient_restrictions=permit_mynetworks,reject",
    "-o milter_macro_daemon_name=ORIGINATING",
  ],
};

const submission = (proxy: boolean) => ({
  line: "587 inet n - n - - smtpd",
  overrides: [
    "-o syslog_name=postfix/submission",
    ...(proxy ? ["-o smtpd_upstream_proxy_protocol=haproxy"] : []),
    "-o smtpd_tls_security_level=encrypt",
    "-o smtpd_sasl_auth_enable=yes",
    "-o smtpd_tls_auth_only=yes",
    "-o smtpd_reject_unlisted_recipient=no",
    "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject",
    "-o milter_macro_daemon_name=ORIGINATING",
  ],
});

describe("renderPostfix: which nodes, which files", () => {
  it("renders only for nodes that run postfix", () => {
    const t = buildTopology(documentedLayout());
    for (const n of ["mail1", "mail2", "mail3", "lb1", "db1"]) expect(renderPostfix(t, t.node(n))).toEqual([]);
    const files = renderPostfix(t, t.node("classic1"));
    expect(files.map((f) => [f.path, f.mode, f.owner])).toEqual([
      ["/etc/pam.d/smtp", "0644", "root:root"],
      ["/etc/postfix/grommunio-bcc-forwards.cf", "0640", "root:postfix"],
      ["/etc/postfix/grommunio-virtual-mailbox-alias-maps.cf", "0640", "root:postfix"],
      ["/etc/postfix/grommunio-virtual-mailbox-domains.cf", "0640", "root:postfix"],
      ["/etc/postfix/grommunio-virtual-mailbox-maps.cf", "0640", "root:postfix"],
      ["/etc/postfix/main.cf", "0644", "root:root"],
      ["/etc/postfix/master.cf", "0644", "root:root"],
      ["/etc/postfix/sasl/smtpd.conf", "0644", "root:root"],
    ]);
    for (const f of files) expect(f.content.endsWith("\n")).toBe(true);
  });
  it("is deterministic and independent of the node order", () => {
    const input = largeLayout();
    const a = filesOf(input, "classic2");
    const b = filesOf({ ...input, nodes: [...input.nodes].reverse() }, "classic2");
    expect([...b.entries()]).toEqual([...a.entries()]);
  });
});

describe("main.cf", () => {
  const cf = mainCf(content(filesOf(documentedLayout()), MAIN));
  it("has the decisive grommunio settings", () => {
    expect(Object.fromEntries([...cf].filter(([k]) => DECISIVE.includes(k)))).toEqual({
      myhostname: "classic1.gro.at",
      inet_interfaces: "all",
      inet_protocols: "all",
      mynetworks: "127.0.0.0/8 [::1]/128",
      compatibility_level: "3.6",
      virtual_transport: "smtp:[::1]:24",
      virtual_mailbox_domains: "proxy:mysql:/etc/postfix/grommunio-virtual-mailbox-domains.cf",
      virtual_mailbox_maps: "proxy:mysql:/etc/postfix/grommunio-virtual-mailbox-maps.cf",
      virtual_alias_maps: "proxy:mysql:/etc/postfix/grommunio-virtual-mailbox-alias-maps.cf",
      recipient_bcc_maps: "proxy:mysql:/etc/postfix/grommunio-bcc-forwards.cf",
      unverified_recipient_reject_code: "550",
      smtpd_discard_ehlo_keywords: "chunking",
      smtpd_relay_restrictions: "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
      smtpd_recipient_restrictions:
        "permit_mynetworks, permit_sasl_authenticated, reject_non_fqdn_recipient, reject_unknown_recipient_domain, reject_unauth_destination",
      smtpd_tls_cert_file: "/etc/grommunio-common/ssl/server-bundle.pem",
      smtpd_tls_key_file: "/etc/grommunio-common/ssl/server.key",
      smtpd_tls_security_level: "may",
      smtpd_tls_auth_only: "yes",
      smtpd_tls_protocols: ">=TLSv1.2",
      smtpd_tls_mandatory_protocols: ">=TLSv1.2",
      smtpd_tls_exclude_ciphers: "aNULL, eNULL, kRSA, PSK, SRP",
      smtpd_sasl_type: "cyrus",
      smtpd_sasl_path: "smtpd",
      cyrus_sasl_config_path: "/etc/postfix/sasl",
      smtpd_sasl_auth_enable: "no",
      smtpd_milters: "inet:localhost:11332",
      milter_protocol: "6",
      milter_default_action: "accept",
      postscreen_access_list: "permit_mynetworks",
      postscreen_denylist_action: "drop",
      postscreen_greet_action: "enforce",
    });
  });
  it("never names a load-balancer address in mynetworks, and sets no PROXY parameter globally", () => {
    expect(cf.get("mynetworks")).not.toContain("10.10.10.10");
    expect([...cf.keys()].filter((k) => /proxy_protocol/.test(k))).toEqual([]);
  });
  it("has no postscreen settings when postscreen is not used", () => {
    const off = mainCf(content(filesOf(noProxy(documentedLayout())), MAIN));
    expect([...off.keys()].filter((k) => k.startsWith("postscreen_"))).toEqual([]);
    const withoutPostscreen = new Map([...cf].filter(([k]) => !k.startsWith("postscreen_")));
    expect(off).toEqual(withoutPostscreen);
  });
  it("names each node's own hostname", () => {
    expect(mainCf(content(filesOf(largeLayout(), "classic2"), MAIN)).get("myhostname")).toBe(
      "classic2.int.example.com",
    );
  });
});

const DECISIVE = [
  "myhostname",
  "inet_interfaces",
  "inet_protocols",
  "mynetworks",
  "compatibility_level",
  "virtual_transport",
  "virtual_mailbox_domains",
  "virtual_mailbox_maps",
  "virtual_alias_maps",
  "recipient_bcc_maps",
  "unverified_recipient_reject_code",
  "smtpd_discard_ehlo_keywords",
  "smtpd_relay_restrictions",
  "smtpd_recipient_restrictions",
  "smtpd_tls_cert_file",
  "smtpd_tls_key_file",
  "smtpd_tls_security_level",
  "smtpd_tls_auth_only",
  "smtpd_tls_protocols",
  "smtpd_tls_mandatory_protocols",
  "smtpd_tls_exclude_ciphers",
  "smtpd_sasl_type",
  "smtpd_sasl_path",
  "cyrus_sasl_config_path",
  "smtpd_sasl_auth_enable",
  "smtpd_milters",
  "milter_protocol",
  "milter_default_action",
  "postscreen_access_list",
  "postscreen_denylist_action",
  "postscreen_greet_action",
];

describe("master.cf", () => {
  it("with PROXY on 25 and 587: postscreen replaces Debian's smtp line, submission expects PROXY", () => {
    const services = masterCf(content(filesOf(documentedLayout()), MASTER));
    expect(services).toEqual([
      { line: "25 inet n - y - 1 postscreen", overrides: ["-o postscreen_upstream_proxy_protocol=haproxy"] },
      { line: "smtpd pass - - y - - smtpd", overrides: [] },
      { line: "dnsblog unix - - y - 0 dnsblog", overrides: [] },
      { line: "tlsproxy unix - - y - 0 tlsproxy", overrides: [] },
      submission(true),
      RELAY,
      ...DEBIAN_UNIX_SERVICES.map((line) => ({
        line,
        overrides: line.startsWith("relay ") ? ["-o syslog_name=postfix/$service_name"] : [],
      })),
    ]);
  });
  it("without PROXY: a plain smtpd on 25, no postscreen, no PROXY override anywhere", () => {
    const text = content(filesOf(noProxy(documentedLayout())), MASTER);
    const services = masterCf(text);
    expect(services.slice(0, 3)).toEqual([
      { line: "25 inet n - y - - smtpd", overrides: [] },
      submission(false),
      RELAY,
    ]);
    expect(services.slice(3).map((s) => s.line)).toEqual(DEBIAN_UNIX_SERVICES);
    expect(text).not.toMatch(/proxy_protocol|postscreen|dnsblog|tlsproxy/);
  });
  it("follows each half of the declaration separately", () => {
    const only = (smtp: boolean, sub: boolean) => {
      const input = documentedLayout();
      const services = masterCf(
        content(
          filesOf({ ...input, loadBalancer: { ...input.loadBalancer!, proxyProtocol: { smtp, submission: sub } } }),
          MASTER,
        ),
      );
      return services.flatMap((s) =>
        s.overrides.filter((o) => /proxy_protocol/.test(o)).map((o) => `${s.line.split(" ")[0]} ${o}`),
      );
    };
    expect(only(true, false)).toEqual(["25 -o postscreen_upstream_proxy_protocol=haproxy"]);
    expect(only(false, true)).toEqual(["587 -o smtpd_upstream_proxy_protocol=haproxy"]);
  });
  it("without a load-balancer tier: no PROXY", () => {
    const input = documentedLayout({ loadBalancer: undefined });
    const text = content(filesOf({ ...input, nodes: input.nodes.filter((n) => n.name !== "lb1") }), MASTER);
    expect(masterCf(text)[0]).toEqual({ line: "25 inet n - y - - smtpd", overrides: [] });
    expect(text).not.toMatch(/proxy_protocol/);
  });
  it("defines every service once and exactly one listener on port 25", () => {
    const services = masterCf(content(filesOf(documentedLayout()), MASTER)).map((s) => s.line.split(" "));
    const keys = services.map((f) => `${f[0]}/${f[1]}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.filter((k) => k === "25/inet" || k === "smtp/inet")).toEqual(["25/inet"]);
  });
  it("lets the relay in from exactly the mailbox nodes, consecutive addresses as blocks (largeLayout)", () => {
    const relay = masterCf(content(filesOf(largeLayout()), MASTER)).find((s) => s.line.startsWith("10025 "));
    expect(relay?.overrides).toContain("-o mynetworks=10.20.0.11/32,10.20.0.12/31,10.20.0.14/32,10.20.0.16/32");
  });
  it("keeps Debian's column layout and header", () => {
    const text = content(filesOf(documentedLayout()), MASTER);
    expect(text).toContain("\n25        inet  n       -       y       -       1       postscreen\n");
    expect(text).toContain("\nproxywrite unix  -       -       n       -       1       proxymap\n");
    expect(text).toContain("\n# service type  private unpriv  chroot  wakeup  maxproc command + args\n");
    expect(text).toContain("# PROXY from the load balancer: smtp yes, submission yes.\n");
  });
});

describe("mysql maps", () => {
  it("renders the four maps with the database endpoint and the installer's queries", () => {
    const files = filesOf(documentedLayout());
    expect(content(files, "/etc/postfix/grommunio-virtual-mailbox-alias-maps.cf")).toBe(
      [
        "# virtual_alias_maps for classic1.gro.at; holds the DB password",
        "hosts = inet:10.10.10.60:3306",
        "user = grommunio",
        "password = db-secret",
        "dbname = grommunio",
        "query = SELECT mainname FROM aliases WHERE aliasname=_utf8mb4'%s' COLLATE utf8mb4_general_ci UNION SELECT destination FROM forwards WHERE username=_utf8mb4'%s' COLLATE utf8mb4_general_ci AND forward_type=1",
        "",
      ].join("\n"),
    );
    const queries = Object.fromEntries(
      POSTFIX_MYSQL_MAPS.map((m) => [m.parameter, /^query = (.*)$/m.exec(content(files, m.path))![1]]),
    );
    expect(queries).toEqual({
      virtual_mailbox_domains:
        "SELECT 1 FROM domains WHERE domain_status=0 AND domainname=_utf8mb4'%s' COLLATE utf8mb4_general_ci",
      virtual_mailbox_maps: "SELECT 1 FROM users WHERE username=_utf8mb4'%s' COLLATE utf8mb4_general_ci",
      virtual_alias_maps:
        "SELECT mainname FROM aliases WHERE aliasname=_utf8mb4'%s' COLLATE utf8mb4_general_ci UNION SELECT destination FROM forwards WHERE username=_utf8mb4'%s' COLLATE utf8mb4_general_ci AND forward_type=1",
      recipient_bcc_maps:
        "SELECT destination FROM forwards WHERE username=_utf8mb4'%s' COLLATE utf8mb4_general_ci AND forward_type=0",
    });
  });
  it("points at an external database with its port and keeps special characters of the password", () => {
    const input = documentedLayout({
      database: { host: "db.example.net", port: 3307, password: "p#'\\w:d", user: "gx", name: "gxdb" },
    });
    const files = filesOf({ ...input, nodes: input.nodes.filter((n) => n.name !== "db1") });
    const text = content(files, "/etc/postfix/grommunio-virtual-mailbox-maps.cf");
    expect(text).toContain("\nhosts = inet:db.example.net:3307\nuser = gx\npassword = p#'\\w:d\ndbname = gxdb\n");
  });
  it.each([
    ["a blank before #", "abc #1"],
    ["a quote first", "'x"],
    ["double quotes around it", '"quoted"'],
    ["an equals sign", "a=b"],
  ])("writes a password with %s as it is (postfix's split_nameval keeps it)", (_, password) => {
    const text = content(
      filesOf(documentedLayout({ database: { node: "db1", password } })),
      "/etc/postfix/grommunio-bcc-forwards.cf",
    );
    expect(text.split("\n")).toContain(`password = ${password}`);
  });
  it("refuses to write a value with a blank at either end (postfix would drop it)", () => {
    const t = buildTopology(documentedLayout());
    expect(() => renderMysqlMap({ ...t.database, password: "x\t" }, "SELECT 1", "c")).toThrow(/outer whitespace/);
    expect(() => renderMysqlMap({ ...t.database, password: " x" }, "SELECT 1", "c")).toThrow(/outer whitespace/);
  });
});

describe("SASL and PAM", () => {
  it("uses saslauthd through PAM service smtp with pam_gromox", () => {
    const files = filesOf(documentedLayout());
    expect(content(files, "/etc/postfix/sasl/smtpd.conf")).toBe("pwcheck_method: saslauthd\nmech_list: PLAIN LOGIN\n");
    expect(content(files, "/etc/pam.d/smtp")).toBe(
      "#%PAM-1.0\nauth required pam_gromox.so service=smtp\naccount required pam_permit.so\n",
    );
  });
});

describe("serializers", () => {
  it("main.cf refuses a parameter set twice, a bad name and a value spanning lines", () => {
    expect(() =>
      serializeMainCf(
        [],
        [
          {
            comment: "x",
            parameters: [
              ["a", "1"],
              ["a", "2"],
            ],
          },
        ],
      ),
    ).toThrow(/set twice/);
    expect(() => serializeMainCf([], [{ comment: "x", parameters: [["bad-name", "1"]] }])).toThrow(/bad parameter/);
    expect(() => serializeMainCf([], [{ comment: "x", parameters: [["a", "1\nb = 2"]] }])).toThrow(/spans lines/);
    expect(
      serializeMainCf(
        ["h"],
        [
          {
            comment: "c",
            parameters: [
              ["relayhost", ""],
              ["l", ["a", "b"]],
            ],
          },
        ],
      ),
    ).toBe("# h\n\n# c\nrelayhost =\nl = a, b\n");
  });
  it("master.cf refuses a duplicate service and writes spaced -o values in braces", () => {
    const dup = [...DEBIAN_DEFAULT_SERVICES, DEBIAN_DEFAULT_SERVICES[0]!];
    expect(() => serializeMasterCf([], dup)).toThrow(/duplicate service pickup\/unix/);
    const text = serializeMasterCf(
      [],
      [{ ...DEBIAN_DEFAULT_SERVICES[0]!, overrides: [["smtpd_client_restrictions", "permit_mynetworks, reject"]] }],
    );
    expect(text).toContain("\n  -o { smtpd_client_restrictions = permit_mynetworks, reject }\n");
    expect(() => serializeMasterCf([], [{ ...DEBIAN_DEFAULT_SERVICES[0]!, overrides: [["x", "a\n-o y=1"]] }])).toThrow(
      /bad -o value/,
    );
  });
});
