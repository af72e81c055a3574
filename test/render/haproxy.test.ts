import { buildTopology, ClusterInput, GrommunioValidationError, Topology } from "../../lib/topology";
import { PORTS, SOCKETS } from "../../lib/topology/ports";
import {
  aclNamesIn,
  fdLimitFor,
  renderHaproxy,
  serializeHaproxyConfig,
  omitImpliedServerPorts,
  Section,
  TLS12_CIPHERS,
  TLS13_CIPHERSUITES,
  validateHaproxy,
  when,
  HaproxyOptions,
  PROXY_FROM_LIST_PATH,
  MTA_STS_POLICY_FILE,
} from "../../lib/render/haproxy";
import { documentedLayout, largeLayout } from "../fixtures";
import { docHaproxyConfig } from "../doc-haproxy";
import { aclOrderProblems, section, sectionsOf } from "./haproxy-cfg";

function render(input: ClusterInput, node = "lb1", options?: HaproxyOptions) {
  const topo = buildTopology(input);
  return renderHaproxy(topo, topo.node(node), options);
}

function cfgOf(input: ClusterInput, node = "lb1", options?: HaproxyOptions): string {
  const f = render(input, node, options).find((x) => x.path === "/etc/haproxy/haproxy.cfg");
  if (!f) throw new Error("no haproxy.cfg");
  return f.content;
}

function codesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof GrommunioValidationError) return e.codes;
    throw e;
  }
  throw new Error("expected a GrommunioValidationError");
}

const doc = documentedLayout();
const docCfg = cfgOf(doc);

describe("renderHaproxy: files", () => {
  test("documented layout: haproxy.cfg and every file it references, sorted, newline-terminated", () => {
    const files = render(doc);
    expect(files.map((f) => f.path)).toEqual([
      "/etc/haproxy/admin-allow.lst",
      "/etc/haproxy/blocklist-http.lst",
      "/etc/haproxy/blocklist-imaps.lst",
      "/etc/haproxy/blocklist-pop3s.lst",
      "/etc/haproxy/blocklist-smtp.lst",
      "/etc/haproxy/blocklist-submission.lst",
      "/etc/haproxy/haproxy.cfg",
      "/etc/haproxy/mailbox.map",
      "/etc/systemd/system/haproxy.service.d/limits.conf",
    ]);
    for (const f of files) expect(f.content.endsWith("\n")).toBe(true);
    // Every absolute /etc/haproxy path the config names is among the files (the certificate is not rendered).
    const referenced = [...docCfg.matchAll(/(\/etc\/haproxy\/[^\s),]+)/g)].map((m) => m[1]!);
    const paths = new Set(files.map((f) => f.path));
    for (const p of referenced) if (p !== "/etc/haproxy/proxy.pem") expect(paths).toContain(p);
    expect(new Set(referenced)).toContain("/etc/haproxy/proxy.pem");
  });

  test("deterministic: the same input gives byte-identical files", () => {
    expect(render(documentedLayout())).toEqual(render(documentedLayout()));
  });

  test("the initial mailbox.map holds no entry; the admin allow list holds adminAllowFrom", () => {
    const files = render(doc);
    const map = files.find((f) => f.path === "/etc/haproxy/mailbox.map")!;
    expect(map.content.split("\n").filter((l) => l !== "" && !l.startsWith("#"))).toEqual([]);
    const allow = files.find((f) => f.path === "/etc/haproxy/admin-allow.lst")!;
    expect(allow.content.split("\n").filter((l) => l !== "" && !l.startsWith("#"))).toEqual(["203.0.113.0/24"]);
  });

  test("no node-aware routing: no mailbox.map, no use-server, plain stick on src", () => {
    const input = documentedLayout({ loadBalancer: { ...documentedLayout().loadBalancer!, nodeAwareRouting: false } });
    const files = render(input);
    expect(files.map((f) => f.path)).not.toContain("/etc/haproxy/mailbox.map");
    const cfg = files.find((f) => f.path === "/etc/haproxy/haproxy.cfg")!.content;
    const directives = [...sectionsOf(cfg).values()].flat().join("\n");
    expect(directives).not.toMatch(/mailbox\.map|txn\.mbox|wait-for-body/);
    expect(section(cfg, "backend be_gromox")).toContain("stick on src");
    expect(section(cfg, "backend be_gromox").some((l) => l.startsWith("use-server"))).toBe(false);
    // be_web: only the web cookie's rule.
    expect(section(cfg, "backend be_web").filter((l) => l.startsWith("use-server"))).toEqual([
      "use-server %[var(txn.node)] if { var(txn.node) -m found }",
    ]);
  });
});

describe("renderHaproxy: global and TLS", () => {
  const global = section(docCfg, "global");

  test("stats socket: unix only, mode 600, level admin", () => {
    expect(global).toContain(`stats socket ${SOCKETS.haproxyStats} mode 600 level admin`);
    expect(global.filter((l) => l.startsWith("stats socket"))).toHaveLength(1);
    expect(docCfg).not.toMatch(/stats socket (ipv4@|ipv6@|\d|:)/);
  });

  test("maxconn, ulimit-n and systemd LimitNOFILE agree (2 x maxconn + headroom)", () => {
    for (const maxConnections of [undefined, 4000]) {
      const files = render(doc, "lb1", maxConnections ? { maxConnections } : {});
      const cfg = section(files.find((f) => f.path === "/etc/haproxy/haproxy.cfg")!.content, "global");
      const max = Number(/^maxconn (\d+)$/.exec(cfg.find((l) => l.startsWith("maxconn"))!)![1]);
      const ulimit = Number(/^ulimit-n (\d+)$/.exec(cfg.find((l) => l.startsWith("ulimit-n"))!)![1]);
      const limits = files.find((f) => f.path === "/etc/systemd/system/haproxy.service.d/limits.conf")!.content;
      expect(max).toBe(maxConnections ?? 40000);
      expect(ulimit).toBe(fdLimitFor(max));
      expect(ulimit).toBeGreaterThanOrEqual(2 * max);
      expect(limits).toMatch(/^\[Service\]$/m);
      expect(limits).toContain(`\nLimitNOFILE=${ulimit}\n`);
    }
  });

  test("TLS >= 1.2, ECDHE-only TLS 1.2 suites, TLS 1.3 suites in ciphersuites, no 3DES", () => {
    expect(global).toContain("ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets");
    expect(global).toContain(`ssl-default-bind-ciphers ${TLS12_CIPHERS.join(":")}`);
    expect(global).toContain(`ssl-default-bind-ciphersuites ${TLS13_CIPHERSUITES.join(":")}`);
    for (const c of TLS12_CIPHERS) {
      expect(c).toMatch(/^ECDHE-(RSA|ECDSA)-/);
      expect(c).not.toMatch(/DES|RC4|NULL|-SHA$/);
    }
    for (const c of TLS13_CIPHERSUITES) expect(c).toMatch(/^TLS_/);
  });
});

describe("renderHaproxy: fe_http", () => {
  const fe = section(docCfg, "frontend fe_http");

  test("binds 80 plain and 443 TLS with the certificate and ALPN", () => {
    expect(fe).toContain(`bind :${PORTS.publicHttp.port}`);
    expect(fe).toContain(`bind :${PORTS.publicHttps.port} ssl crt /etc/haproxy/proxy.pem alpn h2,http/1.1`);
  });

  test("X-Forwarded-Proto and X-Real-IP are request headers; HSTS and the documented response headers", () => {
    expect(fe).toContain("http-request set-header X-Forwarded-Proto https if { ssl_fc }");
    expect(fe).toContain("http-request set-header X-Real-IP %[src]");
    expect(fe.filter((l) => l.startsWith("http-response") && l.includes("X-Forwarded-Proto"))).toEqual([]);
    expect(fe).toContain("http-response set-header Strict-Transport-Security max-age=31536000 if { ssl_fc }");
    expect(fe).toContain("http-response set-header X-Content-Type-Options nosniff");
    expect(fe).toContain("http-response set-header X-Frame-Options SAMEORIGIN");
  });

  test("80 redirects to https after every http-request rule", () => {
    const redirect = fe.indexOf("redirect scheme https code 301 unless { ssl_fc }");
    expect(redirect).toBeGreaterThan(0);
    const lastHttpRequest = fe.map((l, i) => (l.startsWith("http-request") ? i : -1)).reduce((a, b) => Math.max(a, b));
    expect(redirect).toBeGreaterThan(lastHttpRequest);
  });

  test("path routing: Autodiscover, EWS, MAPI, RPC and OAB to the mailbox backend; EAS, dav, web to be_web", () => {
    expect(fe).toContain("acl oab path_beg -i /oab");
    expect(fe).toContain("acl eas path_beg -i /microsoft-server-activesync");
    expect(fe).toContain("use_backend be_gromox if autodiscover or ews or mapi or rpc or oab");
    expect(fe).toContain("use_backend be_web if eas or dav or web");
    expect(fe[fe.length - 1]).toBe("default_backend be_web");
  });

  test("no Host-header condition, no silent drop of HTTP/1.0 by default; the option adds it", () => {
    expect(docCfg).not.toMatch(/hdr\(host\)|silent-drop/);
    const dropping = section(cfgOf(doc, "lb1", { dropHttp10: true }), "frontend fe_http");
    expect(dropping).toContain("http-request silent-drop if HTTP_1.0");
  });

  test("every ACL is declared before its first use, in every section", () => {
    expect(aclOrderProblems(docCfg)).toEqual([]);
    expect(aclOrderProblems(cfgOf(largeLayout()))).toEqual([]);
  });

  test("the ACL-order check bites on the documentation's node-aware config", () => {
    expect(aclOrderProblems(docHaproxyConfig("node-aware"))).toEqual(
      expect.arrayContaining(["frontend fe_http: autodiscover", "frontend fe_http: mapi"]),
    );
  });

  test("node-aware routing: keys from Basic auth, MailboxId, RPC id and login body, URL-decoded and lower-cased", () => {
    expect(fe).toContain("acl mbox_auth http_auth_user,lower,map(/etc/haproxy/mailbox.map) -m found");
    expect(fe).toContain("acl mbox_id urlp(MailboxId),url_dec,lower,map(/etc/haproxy/mailbox.map) -m found");
    expect(fe).toContain(
      "acl mbox_login req.body_param(username),url_dec(1),lower,map(/etc/haproxy/mailbox.map) -m found",
    );
    expect(fe).toContain("http-request wait-for-body time 2s if web METH_POST { ssl_fc }");
    const setVars = fe.filter((l) => l.startsWith("http-request set-var(txn.mbox)"));
    expect(setVars).toEqual([
      "http-request set-var(txn.mbox) http_auth_user,lower if mbox_auth",
      "http-request set-var(txn.mbox) req.body_param(username),url_dec(1),lower if web METH_POST mbox_login",
      "http-request set-var(txn.mbox) query,field(1,:),url_dec,lower if rpc mbox_rpc",
      "http-request set-var(txn.mbox) urlp(MailboxId),url_dec,lower if mbox_id",
    ]);
    // The body is awaited before it is read.
    expect(fe.findIndex((l) => l.startsWith("http-request wait-for-body"))).toBeLessThan(
      fe.findIndex((l) => l.includes("req.body_param(username),url_dec(1),lower if")),
    );
  });

  test("bindAddress binds every frontend to that address only; an IPv6 node also gets :::port v6only", () => {
    const cfg = cfgOf(doc, "lb1", { bindAddress: "127.0.0.10" });
    const bindLines = cfg.split("\n").filter((l) => l.trim().startsWith("bind "));
    expect(bindLines).toHaveLength(7); // 80, 443, 8443, 993, 995, 25, 587
    for (const l of bindLines) expect(l.trim()).toMatch(/^bind 127\.0\.0\.10:\d+( |$)/);
    const v6 = documentedLayout({
      nodes: documentedLayout().nodes.map((n) => (n.name === "lb1" ? { ...n, ipv6: "2001:db8::10" } : n)),
    });
    expect(section(cfgOf(v6), "frontend fe_http")).toEqual(
      expect.arrayContaining([
        "bind :443 ssl crt /etc/haproxy/proxy.pem alpn h2,http/1.1",
        "bind :::443 v6only ssl crt /etc/haproxy/proxy.pem alpn h2,http/1.1",
      ]),
    );
  });
});

describe("renderHaproxy: backends", () => {
  test("mailbox servers are named by servers.hostname at the private IPv4, the nodes' web server (443), checked", () => {
    const be = section(docCfg, "backend be_gromox");
    expect(be.filter((l) => l.startsWith("server "))).toEqual([
      "server mail1.gro.at 10.10.10.20:443",
      "server mail2.gro.at 10.10.10.30:443",
      "server mail3.gro.at 10.10.10.40:443",
    ]);
    expect(be).toContain("default-server check inter 3s fall 3 rise 2 ssl verify none");
    expect(be).toContain("option redispatch");
    expect(be).toContain("use-server %[var(txn.mbox),map(/etc/haproxy/mailbox.map)] if { var(txn.mbox) -m found }");
  });

  test("stick table: match always, store only when the map did not choose the server", () => {
    const be = section(docCfg, "backend be_gromox");
    expect(be).toContain("stick-table type ip size 1m expire 60m");
    expect(be).toContain("stick match src");
    expect(be).toContain("stick store-request src unless { var(txn.mbox) -m found }");
    expect(be).not.toContain("stick on src");
  });

  test("be_web pins web sessions with a cookie naming the server, by rules; the map's home node first", () => {
    const be = section(docCfg, "backend be_web");
    // No cookie persistence with per-server values: the server lines are be_gromox's.
    expect(be.some((l) => l.startsWith("cookie "))).toBe(false);
    expect(be).toContain("default-server check inter 3s fall 3 rise 2 ssl verify none");
    expect(be).toContain("server mail2.gro.at 10.10.10.30:443");
    expect(be.filter((l) => /^(acl|http-request|http-after-response|use-server) /.test(l))).toEqual([
      "acl served srv_name -m found",
      "acl pinned srv_name,strcmp(txn.node) eq 0",
      // Request fetches are gone at response time: the cookie's value is kept in a variable.
      "http-request set-var(txn.node) req.cook(grommunio_node)",
      'http-after-response add-header Set-Cookie "grommunio_node=%[srv_name]; path=/; HttpOnly; Secure" if served !pinned',
      "http-after-response add-header Cache-Control private if served !pinned",
      "use-server %[var(txn.mbox),map(/etc/haproxy/mailbox.map)] if { var(txn.mbox) -m found }",
      "use-server %[var(txn.node)] if { var(txn.node) -m found }",
    ]);
    expect(be).toContain("option redispatch");
  });

  test("backendCaFile verifies backends against their host name", () => {
    const cfg = cfgOf(doc, "lb1", { backendCaFile: "/etc/haproxy/backend-ca.pem" });
    for (const name of ["be_gromox", "be_web"]) {
      const be = section(cfg, `backend ${name}`);
      expect(be).toContain(
        "default-server check inter 3s fall 3 rise 2 ssl verify required ca-file /etc/haproxy/backend-ca.pem",
      );
      expect(be).toContain("server mail1.gro.at 10.10.10.20:443 verifyhost mail1.gro.at sni str(mail1.gro.at)");
    }
    expect(section(cfg, "backend be_admin")).toEqual(
      expect.arrayContaining([
        "default-server check inter 3s fall 3 rise 2 ssl verify required ca-file /etc/haproxy/backend-ca.pem",
        "server mail1.gro.at 10.10.10.20:8443 verifyhost mail1.gro.at sni str(mail1.gro.at)",
      ]),
    );
  });

  test("TCP backends: classic nodes with check, redispatch and PROXY v2 exactly where declared", () => {
    for (const [svc, be, port] of [
      ["smtp", "be_smtp", 25],
      ["submission", "be_submission", 587],
      ["imap", "be_imaps", 993],
      ["pop3", "be_pop3s", 995],
    ] as const) {
      const on = section(docCfg, `backend ${be}`);
      // PROXY for traffic; health checks without it (a check port turns it off for checks). No
      // port on the server line: the frontend binds only the server's port.
      expect(on).toContain(`default-server check inter 3s fall 3 rise 2 port ${port} send-proxy-v2`);
      expect(on.filter((l) => l.startsWith("server "))).toEqual(["server classic1.gro.at 10.10.10.50"]);
      expect(on).toContain("option redispatch");
      const input = documentedLayout({
        loadBalancer: { ...documentedLayout().loadBalancer!, proxyProtocol: { [svc]: false } },
      });
      const off = section(cfgOf(input), `backend ${be}`);
      // Without PROXY the check port comes only from the port-less server line.
      expect(off).toContain(`default-server check inter 3s fall 3 rise 2 port ${port}`);
      expect(off.filter((l) => l.startsWith("server "))).toEqual(["server classic1.gro.at 10.10.10.50"]);
      expect(off.join("\n")).not.toMatch(/send-proxy/);
    }
    expect(docCfg).not.toMatch(/send-proxy( |$)/m);
  });

  test("TCP frontends 993/995/25/587 with per-protocol block lists", () => {
    for (const [name, port] of [
      ["imaps", 993],
      ["pop3s", 995],
      ["smtp", 25],
      ["submission", 587],
    ] as const) {
      const fe = section(docCfg, `frontend fe_${name}`);
      expect(fe).toContain("mode tcp");
      expect(fe).toContain(`bind :${port}`);
      expect(fe).toContain(`acl blocked src -f /etc/haproxy/blocklist-${name}.lst`);
      expect(fe).toContain("tcp-request connection reject if blocked");
      expect(fe).toContain(`default_backend be_${name}`);
    }
  });

  test("no classic node: no TCP frontend, no block lists for them", () => {
    const input = documentedLayout({ nodes: documentedLayout().nodes.filter((n) => n.name !== "classic1") });
    const files = render(input);
    const cfg = files.find((f) => f.path === "/etc/haproxy/haproxy.cfg")!.content;
    expect([...sectionsOf(cfg).keys()].filter((k) => /fe_(smtp|submission|imaps|pop3s)/.test(k))).toEqual([]);
    expect(files.map((f) => f.path)).not.toContain("/etc/haproxy/blocklist-smtp.lst");
  });

  test("fe_admin on 8443 exists only with adminAllowFrom and rejects everyone else", () => {
    const fe = section(docCfg, "frontend fe_admin");
    expect(fe).toContain(`bind :${PORTS.publicAdmin.port} ssl crt /etc/haproxy/proxy.pem alpn h2,http/1.1`);
    expect(fe).toContain("acl admin_allowed src -f /etc/haproxy/admin-allow.lst");
    expect(fe).toContain("tcp-request connection reject unless admin_allowed");
    // The port stays although fe_admin binds only 8443: a check port would turn TLS off for checks.
    expect(section(docCfg, "backend be_admin")).toEqual(
      expect.arrayContaining([
        "default-server check inter 3s fall 3 rise 2 ssl verify none",
        "server mail1.gro.at 10.10.10.20:8443",
      ]),
    );
    const input = documentedLayout({
      loadBalancer: { flavor: "haproxy", publicName: "mail.gro.at", nodeAwareRouting: true },
    });
    const files = render(input);
    const cfg = files.find((f) => f.path === "/etc/haproxy/haproxy.cfg")!.content;
    expect(cfg).not.toMatch(/fe_admin|be_admin|:8443/);
    expect(files.map((f) => f.path)).not.toContain("/etc/haproxy/admin-allow.lst");
  });

  test("optional pools get a route and a checked backend each", () => {
    const input = largeLayout({
      loadBalancer: {
        ...largeLayout().loadBalancer!,
        pools: {
          meet: [
            { name: "meet1", address: "10.20.0.71", port: 443 },
            { name: "meet2", address: "10.20.0.72", port: 443 },
          ],
          chat: [{ name: "chat1", address: "10.20.0.73", port: 8065, tls: false }],
        },
      },
    });
    const cfg = cfgOf(input);
    const fe = section(cfg, "frontend fe_http");
    expect(fe).toContain("acl pool_meet path_beg -i /meet /colibri-ws");
    expect(fe).toContain("use_backend be_meet if pool_meet");
    expect(fe).toContain("use_backend be_chat if pool_chat");
    expect(fe.indexOf("use_backend be_chat if pool_chat")).toBeLessThan(
      fe.indexOf("use_backend be_gromox if autodiscover or ews or mapi or rpc or oab"),
    );
    expect(section(cfg, "backend be_meet")).toEqual(
      expect.arrayContaining([
        "balance url_param room",
        "hash-type consistent",
        "default-server check inter 3s fall 3 rise 2 ssl verify none",
        "server meet1 10.20.0.71:443",
      ]),
    );
    expect(section(cfg, "backend be_chat")).toEqual(
      expect.arrayContaining(["default-server check inter 3s fall 3 rise 2", "server chat1 10.20.0.73:8065"]),
    );
    expect(cfg).not.toMatch(/be_(auth|files|office|archive)\b/);
  });

  test("large layout: five mailbox servers, two classic servers per TCP backend, separate admin node", () => {
    const cfg = cfgOf(largeLayout(), "lb2");
    expect(section(cfg, "backend be_gromox").filter((l) => l.startsWith("server "))).toHaveLength(5);
    expect(section(cfg, "backend be_smtp").filter((l) => l.startsWith("server "))).toEqual([
      "server classic1.int.example.com 10.20.0.31",
      "server classic2.int.example.com 10.20.0.32",
    ]);
    expect(section(cfg, "backend be_admin")).toContain("server admin1.int.example.com 10.20.0.41:8443");
  });
});

describe("renderHaproxy: server lines repeat byte for byte (gzip)", () => {
  /** The raw `server` lines of a section, indentation included. */
  const serverLines = (cfg: string, header: string) => {
    const block = cfg.split("\n\n").find((b) => b.split("\n").some((l) => l === header));
    if (!block) throw new Error(`no ${header}`);
    return block.split("\n").filter((l) => /^\s*server /.test(l));
  };

  test("be_gromox and be_web list the same lines; so do the four classic backends", () => {
    for (const [input, node] of [
      [largeLayout(), "lb2"],
      [documentedLayout(), "lb1"],
    ] as const) {
      for (const options of [{}, { backendCaFile: "/etc/haproxy/backend-ca.pem" }]) {
        const cfg = cfgOf(input, node, options);
        const web = serverLines(cfg, "backend be_web");
        expect(web.length).toBe(buildTopology(input).mailboxNodes.length);
        expect(serverLines(cfg, "backend be_gromox")).toEqual(web);
        const smtp = serverLines(cfg, "backend be_smtp");
        expect(smtp.length).toBe(buildTopology(input).classicNodes.length);
        for (const be of ["be_submission", "be_imaps", "be_pop3s"])
          expect(serverLines(cfg, `backend ${be}`)).toEqual(smtp);
      }
    }
    const cfg = cfgOf(largeLayout(), "lb2");
    expect(serverLines(cfg, "backend be_web")[0]).toBe("    server mail1.int.example.com 10.20.0.11:443");
    expect(serverLines(cfg, "backend be_imaps")).toEqual([
      "    server classic1.int.example.com 10.20.0.31",
      "    server classic2.int.example.com 10.20.0.32",
    ]);
  });
});

describe("validateHaproxy: coded errors", () => {
  const topo = buildTopology(documentedLayout());
  const lb1 = topo.node("lb1");
  const lbOf = (t: Topology) => t.loadBalancer!;

  test("valid input: no issue", () => {
    expect(validateHaproxy(topo, lb1)).toEqual([]);
  });

  test("GRX100 no tier, GRX101 nginx tier, GRX102 not a load-balancer node", () => {
    const noLb = buildTopology(
      documentedLayout({ loadBalancer: undefined, nodes: documentedLayout().nodes.filter((n) => n.name !== "lb1") }),
    );
    expect(codesOf(() => renderHaproxy(noLb, noLb.node("mail1")))).toEqual(["GRX100"]);
    const nginx = buildTopology(
      documentedLayout({
        loadBalancer: {
          flavor: "nginx",
          publicName: "mail.gro.at",
          proxyProtocol: { imap: false, pop3: false },
        },
      }),
    );
    expect(codesOf(() => renderHaproxy(nginx, nginx.node("lb1")))).toEqual(["GRX101"]);
    // mail2's own web server listens on 443 as well (GRX109, which the topology's GRX044 prevents for real nodes).
    expect(codesOf(() => renderHaproxy(topo, topo.node("mail2")))).toEqual(["GRX102", "GRX109"]);
  });

  test("GRX103 node-aware routing with no mailbox node (a hand-made topology)", () => {
    const t: Topology = { ...topo, mailboxNodes: [] };
    const issues = validateHaproxy(t, lb1);
    expect(issues.map((i) => i.code)).toEqual(["GRX103"]);
    expect(issues[0]!.field).toBe("nodeAwareRouting");
  });

  test("GRX104 admin frontend without an admin node", () => {
    const input = documentedLayout({
      nodes: documentedLayout().nodes.map((n) => (n.name === "mail1" ? { ...n, roles: ["mailbox" as const] } : n)),
    });
    const t = buildTopology(input);
    expect(codesOf(() => renderHaproxy(t, t.node("lb1")))).toEqual(["GRX104"]);
  });

  test("GRX105 PROXY declared for a backend that cannot read it (old gromox; daemon not running)", () => {
    const old: Topology = { ...topo, gromoxVersion: { major: 2, minor: 20, patch: 0, text: "2.20" } };
    const issues = validateHaproxy(old, lb1);
    expect(issues.map((i) => `${i.code} ${i.field}`)).toEqual([
      "GRX105 proxyProtocol.imap",
      "GRX105 proxyProtocol.pop3",
    ]);
    const classic = topo.node("classic1");
    const noImap = { ...classic, runs: (d: string) => d !== "gromox-imap" && classic.runs(d as never) };
    const t: Topology = { ...topo, classicNodes: [noImap] };
    expect(validateHaproxy(t, lb1).map((i) => `${i.code} ${i.field}`)).toEqual(["GRX105 proxyProtocol.imap"]);
    const off: Topology = {
      ...t,
      loadBalancer: { ...lbOf(t), proxyProtocol: { ...lbOf(t).proxyProtocol, imap: false } },
    };
    expect(validateHaproxy(off, lb1)).toEqual([]);
  });

  test("GRX106 unknown pool, GRX107 empty pool, GRX108 duplicate server name (hand-made topology)", () => {
    const member = { name: "m1", address: "10.10.10.70", port: 443, tls: true };
    const t: Topology = {
      ...topo,
      loadBalancer: {
        ...lbOf(topo),
        pools: new Map<never, never>([
          ["wiki" as never, [member] as never],
          ["chat" as never, [] as never],
          ["meet" as never, [member, member] as never],
        ]),
      },
    };
    expect(validateHaproxy(t, lb1).map((i) => i.code)).toEqual(["GRX106", "GRX107", "GRX108"]);
  });

  test("GRX109 the load-balancer node also runs a daemon on a frontend port", () => {
    // The topology refuses such a node (GRX044); the renderer still guards hand-made topologies.
    const input = documentedLayout({
      nodes: documentedLayout().nodes.map((n) =>
        n.name === "lb1" ? { ...n, roles: ["load-balancer" as const, "classic" as const] } : n,
      ),
    });
    expect(() => buildTopology(input)).toThrow(/GRX044/);
    const t = buildTopology(documentedLayout());
    const real = t.node("lb1");
    const daemons = [...real.daemons, "postfix" as const, "gromox-imap" as const, "gromox-pop3" as const];
    const forged = { ...real, daemons, runs: (d: string) => (daemons as readonly string[]).includes(d) };
    const issues = validateHaproxy(t, forged);
    expect(issues.map((i) => i.code)).toEqual(["GRX109", "GRX109", "GRX109", "GRX109"]);
    expect(issues.map((i) => i.message).join("\n")).toMatch(/listens on 25 .*postfix/);
  });

  test("GRX110–GRX112 bad options, all reported at once", () => {
    const issues = validateHaproxy(topo, lb1, {
      bindAddress: "localhost",
      certificatePath: "proxy.pem",
      backendCaFile: "/etc/haproxy/my ca.pem",
      maxConnections: 0,
    });
    expect(issues.map((i) => `${i.code} ${i.field}`)).toEqual([
      "GRX110 bindAddress",
      "GRX111 certificatePath",
      "GRX111 backendCaFile",
      "GRX112 maxConnections",
    ]);
    expect(codesOf(() => renderHaproxy(topo, lb1, { maxConnections: 600000 }))).toEqual(["GRX112"]);
    for (const i of issues) {
      expect(i.path).toBe("cluster/loadBalancer");
      expect(i.fix.length).toBeGreaterThan(10);
    }
  });
});

describe("logTarget: what HAProxy reads from its chroot (GRX111, GRX113)", () => {
  const topo = buildTopology(documentedLayout());
  const lb1 = topo.node("lb1");
  const codes = (logTarget: string) => validateHaproxy(topo, lb1, { logTarget }).map((i) => i.code);

  test("/dev/log, streams and UDP addresses are taken as given", () => {
    for (const t of [
      "/dev/log",
      "unix@/dev/log",
      "stdout",
      "stderr",
      "192.0.2.10",
      "192.0.2.10:514",
      "udp@192.0.2.10:514",
      "udp6@2001:db8::1:514",
    ]) {
      expect([t, codes(t)]).toEqual([t, []]);
      expect(cfgOf(documentedLayout(), "lb1", { logTarget: t })).toContain(`\n    log ${t} local0\n`);
    }
  });

  test("another socket path would be looked up inside the chroot (GRX113); the rest is refused (GRX111)", () => {
    for (const t of ["/run/systemd/journal/syslog", "unix@/var/run/log.sock", "/dev/log2"])
      expect([t, codes(t)]).toEqual([t, ["GRX113"]]);
    const bad = [
      "",
      "foo",
      "loghost.example.net:514",
      "192.0.2.10:0",
      "192.0.2.10:70000",
      "udp6@::1",
      "::1:514",
      "/dev/lög",
      "/dev/log x",
      "ring@r",
      "fd@1",
    ];
    for (const t of bad) expect([t, codes(t)]).toEqual([t, ["GRX111"]]);
    expect(codesOf(() => renderHaproxy(topo, lb1, { logTarget: "/run/log.sock" }))).toEqual(["GRX113"]);
  });
});

describe("serializeHaproxyConfig", () => {
  const backend = {
    kind: "backend" as const,
    name: "be",
    mode: "http" as const,
    servers: [{ name: "s1", address: "10.0.0.1", port: 80 }],
  };

  test("aclNamesIn skips anonymous ACLs and operators", () => {
    expect(aclNamesIn("a or !b { ssl_fc } !{ var(x) -m found } c")).toEqual(["a", "b", "c"]);
    expect(() => aclNamesIn("{ ssl_fc")).toThrow(/unbalanced/);
  });

  test("refuses an undeclared ACL, a missing backend and an unknown plain use-server target", () => {
    const fe = {
      kind: "frontend" as const,
      name: "fe",
      mode: "http" as const,
      binds: [{ address: ":80" }],
      defaultBackend: "be",
    };
    expect(() =>
      serializeHaproxyConfig({
        sections: [{ ...fe, httpRequest: [{ action: ["deny"], cond: when("nope") }] }, backend],
      }),
    ).toThrow(/uses ACL "nope"/);
    expect(() => serializeHaproxyConfig({ sections: [{ ...fe, defaultBackend: "be_x" }, backend] })).toThrow(
      /missing backend "be_x"/,
    );
    expect(() =>
      serializeHaproxyConfig({ sections: [fe, { ...backend, useServers: [{ server: "s9", cond: when("TRUE") }] }] }),
    ).toThrow(/unknown server "s9"/);
  });

  test('quoted words escape \\, " and $ (HAProxy expands $NAME inside double quotes); bare words stay bare', () => {
    const cfg = serializeHaproxyConfig({
      sections: [
        {
          kind: "frontend",
          name: "fe",
          mode: "http",
          binds: [{ address: ":80" }],
          httpRequest: [
            { action: ["set-header", "X-A", "a $HOME b"] },
            { action: ["set-header", "X-B", 'c\\d "e" ${X}'] },
            { action: ["set-header", "X-C", "f$g"] },
          ],
          defaultBackend: "be",
        },
        backend,
      ],
    });
    expect(cfg).toContain('    http-request set-header X-A "a \\$HOME b"\n');
    expect(cfg).toContain('    http-request set-header X-B "c\\\\d \\"e\\" \\${X}"\n');
    expect(cfg).toContain("    http-request set-header X-C f$g\n");
  });

  describe("omitImpliedServerPorts", () => {
    const fe = (name: string, binds: Array<{ address: string; params?: string[] }>, be: string): Section => ({
      kind: "frontend",
      name,
      mode: "tcp",
      binds,
      defaultBackend: be,
    });
    const be = (name: string, defaultServer: string[], port = 993, params?: string[]): Section => ({
      kind: "backend",
      name,
      mode: "tcp",
      defaultServer,
      servers: [
        { name: "s1", address: "10.0.0.1", port, ...(params ? { params } : {}) },
        { name: "s2", address: "10.0.0.2", port, ...(params ? { params } : {}) },
      ],
    });
    const serversOf = (sections: Section[], name: string) => {
      const b = sections.find((x) => x.kind === "backend" && x.name === name);
      return b?.kind === "backend" ? b : undefined;
    };

    test("port left out where every bind routing there has the servers' port; check port added", () => {
      const out = omitImpliedServerPorts([
        fe("fe_a", [{ address: ":993" }, { address: ":::993", params: ["v6only"] }], "be_a"),
        fe("fe_b", [{ address: "127.0.0.10:993" }], "be_a"),
        be("be_a", ["check"]),
      ]);
      expect(serversOf(out, "be_a")).toMatchObject({
        defaultServer: ["check", "port", "993"],
        servers: [
          { name: "s1", address: "10.0.0.1" },
          { name: "s2", address: "10.0.0.2" },
        ],
      });
      expect(serversOf(out, "be_a")!.servers.every((v) => v.port === undefined)).toBe(true);
      // An explicit check port is kept as it is (PROXY backends: checks without the header).
      const proxy = omitImpliedServerPorts([
        fe("f", [{ address: ":25" }], "b"),
        be("b", ["check", "port", "25", "send-proxy-v2"], 25),
      ]);
      expect(serversOf(proxy, "b")!.defaultServer).toEqual(["check", "port", "25", "send-proxy-v2"]);
      expect(serversOf(proxy, "b")!.servers.every((v) => v.port === undefined)).toBe(true);
      const text = serializeHaproxyConfig({ sections: out });
      expect(text).toContain("    default-server check port 993\n    server s1 10.0.0.1\n    server s2 10.0.0.2\n");
    });

    test("ports kept: other bind ports, another frontend's port, accept-proxy, checks that a check port would change", () => {
      const kept = (sections: Section[], name: string) =>
        expect(serversOf(omitImpliedServerPorts(sections), name)).toEqual(serversOf(sections, name));
      kept([fe("f", [{ address: ":80" }, { address: ":443" }], "b"), be("b", ["check"], 443)], "b");
      kept([fe("f", [{ address: ":993" }], "b"), fe("g", [{ address: ":994" }], "b"), be("b", ["check"])], "b");
      kept([fe("f", [{ address: ":9993" }], "b"), be("b", ["check"])], "b");
      kept([fe("f", [{ address: ":993", params: ["accept-proxy"] }], "b"), be("b", ["check"])], "b");
      // TLS or PROXY without a check port: an added check port would turn them off for checks.
      kept([fe("f", [{ address: ":993" }], "b"), be("b", ["check", "ssl", "verify", "none"])], "b");
      kept([fe("f", [{ address: ":993" }], "b"), be("b", ["check", "send-proxy-v2"])], "b");
      kept([fe("f", [{ address: ":993" }], "b"), be("b", ["check"], 993, ["ssl"])], "b");
      // No frontend routes there.
      kept([fe("f", [{ address: ":993" }], "other"), be("other", ["check"], 25), be("b", ["check"])], "b");
    });

    test("the serializer refuses a port-less server whose checks would have no port", () => {
      expect(() =>
        serializeHaproxyConfig({
          sections: [
            fe("f", [{ address: ":993" }], "b"),
            {
              kind: "backend",
              name: "b",
              mode: "tcp",
              defaultServer: ["check"],
              servers: [{ name: "s", address: "10.0.0.1" }],
            },
          ],
        }),
      ).toThrow(/server "s" has neither a port nor a check port/);
    });
  });

  test("quotes arguments with blanks and ends with a newline", () => {
    const out = serializeHaproxyConfig({
      sections: [{ kind: "global", directives: [{ keyword: "description", args: ['a "b" c'] }] }],
    });
    expect(out).toBe('global\n    description "a \\"b\\" c"\n');
  });
});

describe("renderHaproxy: PROXY from a cloud load balancer or a proxy of one's own (acceptProxyFrom)", () => {
  const withLb = (acceptProxyFrom: "cloud-lb" | string[], more: Partial<ClusterInput> = {}) =>
    documentedLayout({ loadBalancer: { ...documentedLayout().loadBalancer!, acceptProxyFrom }, ...more });
  const bindsOf = (cfg: string, fe: string) => section(cfg, `frontend ${fe}`).filter((l) => l.startsWith("bind "));

  test("cloud-lb: accept-proxy on every public bind (IPv6 too), never on the admin frontend", () => {
    const base = withLb("cloud-lb");
    const input = { ...base, nodes: base.nodes.map((n) => (n.name === "lb1" ? { ...n, ipv6: "2001:db8::10" } : n)) };
    const cfg = cfgOf(input);
    expect(bindsOf(cfg, "fe_http")).toEqual([
      "bind :80 accept-proxy",
      "bind :::80 v6only accept-proxy",
      "bind :443 accept-proxy ssl crt /etc/haproxy/proxy.pem alpn h2,http/1.1",
      "bind :::443 v6only accept-proxy ssl crt /etc/haproxy/proxy.pem alpn h2,http/1.1",
    ]);
    for (const fe of ["fe_smtp", "fe_submission", "fe_imaps", "fe_pop3s"]) {
      expect(bindsOf(cfg, fe).every((b) => b.includes(" accept-proxy"))).toBe(true);
    }
    expect(bindsOf(cfg, "fe_admin").some((b) => b.includes("accept-proxy"))).toBe(false);
    expect(section(cfg, "frontend fe_admin")).toContain("tcp-request connection reject unless admin_allowed");
  });

  test("cloud-lb: the block lists judge the client's address (tcp-request session), every header is believed", () => {
    const cfg = cfgOf(withLb("cloud-lb"));
    for (const fe of ["fe_http", "fe_smtp", "fe_imaps"]) {
      const lines = section(cfg, `frontend ${fe}`);
      expect(lines).toContain("tcp-request session reject if blocked");
      expect(lines.some((l) => l.startsWith("tcp-request connection"))).toBe(false);
      expect(lines.some((l) => l.includes("proxy_sender"))).toBe(false);
    }
    expect(render(withLb("cloud-lb")).map((f) => f.path)).not.toContain(PROXY_FROM_LIST_PATH);
    // X-Real-IP and the PROXY v2 header towards postfix/gromox carry src, the header's address.
    expect(section(cfg, "frontend fe_http")).toContain("http-request set-header X-Real-IP %[src]");
    expect(section(cfg, "backend be_smtp").some((l) => l.endsWith("send-proxy-v2"))).toBe(true);
  });

  test("a list of proxies: refused from anyone else before the header, listed in proxy-from.lst", () => {
    const files = render(withLb(["192.0.2.0/28", "2001:db8:1::7"]));
    const list = files.find((f) => f.path === PROXY_FROM_LIST_PATH)!;
    expect(list).toMatchObject({ mode: "0640", owner: "root:haproxy" });
    expect(list.content.split("\n").filter((l) => l && !l.startsWith("#"))).toEqual([
      "192.0.2.0/28",
      "2001:db8:1::7/128",
    ]); // as networks
    const cfg = files.find((f) => f.path === "/etc/haproxy/haproxy.cfg")!.content;
    for (const fe of ["fe_http", "fe_submission"]) {
      const lines = section(cfg, `frontend ${fe}`);
      expect(lines).toContain(`acl proxy_sender src -f ${PROXY_FROM_LIST_PATH}`);
      const conn = lines.indexOf("tcp-request connection reject unless proxy_sender");
      const sess = lines.indexOf("tcp-request session reject if blocked");
      expect(conn).toBeGreaterThan(-1);
      expect(sess).toBeGreaterThan(conn);
    }
    expect(aclOrderProblems(cfg)).toEqual([]);
  });

  test("behind a PROXY sender the TCP servers keep their ports (a port-less server would take the header's)", () => {
    for (const from of ["cloud-lb", ["192.0.2.0/28"]] as const) {
      const cfg = cfgOf(withLb(from as "cloud-lb" | string[]));
      expect(section(cfg, "backend be_smtp")).toEqual(
        expect.arrayContaining([
          "default-server check inter 3s fall 3 rise 2 port 25 send-proxy-v2",
          "server classic1.gro.at 10.10.10.50:25",
        ]),
      );
      expect(section(cfg, "backend be_imaps")).toContain("server classic1.gro.at 10.10.10.50:993");
    }
  });

  test("without acceptProxyFrom nothing changes: connection-level block lists, no accept-proxy", () => {
    expect(docCfg).not.toMatch(/accept-proxy|tcp-request session/);
    expect(section(docCfg, "frontend fe_http")).toContain("tcp-request connection reject if blocked");
  });
});

describe("renderHaproxy: the MTA-STS policy (options.mtaSts)", () => {
  const site = {
    host: "mta-sts.gro.at",
    policy: "version: STSv1\r\nmode: testing\r\nmx: mail.gro.at\r\nmax_age: 604800\r\n",
  };

  test("the policy file, and an http-request return for its host and path over TLS, before any other rule", () => {
    const files = render(doc, "lb1", { mtaSts: site });
    expect(files.find((f) => f.path === MTA_STS_POLICY_FILE)).toMatchObject({ content: site.policy, mode: "0644" });
    const fe = section(files.find((f) => f.path === "/etc/haproxy/haproxy.cfg")!.content, "frontend fe_http");
    expect(fe).toContain("acl mta_sts_host hdr(host),host_only,lower -m str mta-sts.gro.at");
    expect(fe).toContain("acl mta_sts_path path -m str /.well-known/mta-sts.txt");
    const rules = fe.filter((l) => l.startsWith("http-request "));
    expect(rules[0]).toBe(
      `http-request return status 200 content-type text/plain file ${MTA_STS_POLICY_FILE} if mta_sts_host mta_sts_path { ssl_fc }`,
    );
  });

  test("without it: no policy file, no rule", () => {
    expect(render(doc).map((f) => f.path)).not.toContain(MTA_STS_POLICY_FILE);
    expect(docCfg).not.toMatch(/mta_sts/);
  });
});

describe("haproxy.cfg rendered from one topology for several load balancers and options", () => {
  // renderHaproxyCfg keeps the body below the header per topology, options and IPv6 presence:
  // each render from a shared topology must equal a render from a fresh one.
  // The documented layout has one load balancer: add a second, without IPv6.
  const base = documentedLayout();
  const input: ClusterInput = {
    ...base,
    nodes: [
      ...base.nodes.map((n) => (n.name === "lb1" ? { ...n, ipv6: "2001:db8::10" } : n)),
      { name: "lb2", hostname: "lb2.gro.at", roles: ["load-balancer"], ipv4: "10.10.10.11" },
    ],
  };
  const cases: Array<[string, HaproxyOptions | undefined]> = [
    ["lb1", undefined],
    ["lb2", undefined],
    ["lb1", { bindAddress: "10.0.0.10" }],
    ["lb2", { bindAddress: "10.0.0.10" }],
    ["lb2", undefined],
  ];
  it("equals a render from a fresh topology, and the cases differ where they should", () => {
    const shared = buildTopology(input);
    const cfg = (topo: Topology, node: string, o?: HaproxyOptions): string =>
      renderHaproxy(topo, topo.node(node), o).find((f) => f.path === "/etc/haproxy/haproxy.cfg")!.content;
    const out = cases.map(([node, o]) => cfg(shared, node, o));
    cases.forEach(([node, o], i) => expect(out[i]).toBe(cfgOf(input, node, o)));
    const body = (text: string): string => text.slice(text.indexOf("\n\n"));
    // lb1 has an IPv6 address (v6only binds), lb2 not; a bind address replaces both.
    expect(body(out[0]!)).toMatch(/ bind :::\d+ v6only/);
    expect(body(out[1]!)).not.toMatch(/:::/);
    expect(body(out[2]!)).toMatch(/ bind 10\.0\.0\.10:\d+/);
    expect(body(out[2]!)).toBe(body(out[3]!));
    expect(out[1]).toBe(out[4]);
  });
});
