import { buildTopology, ClusterInput, GrommunioValidationError, LoadBalancerInput, Topology } from "../../lib/topology";
import { PORTS } from "../../lib/topology/ports";
import {
  anchoredPrefixRegex,
  NGINX_PATHS,
  NGINX_TLS12_CIPHERS,
  NginxOptions,
  nginxFdLimitFor,
  quoteArg,
  renderNginx,
  serializeNginx,
  block,
  directive,
  entry,
  comment,
  BLANK,
  validateNginx,
} from "../../lib/render/nginx";
import { renderPostfix } from "../../lib/render/postfix";
import { documentedLayout, largeLayout } from "../fixtures";
import { children, flatten, only, parseNginx, serverOn, Stmt } from "./nginx-parse";

const NGINX_LB: LoadBalancerInput = {
  flavor: "nginx",
  publicName: "mail.gro.at",
  adminAllowFrom: ["203.0.113.0/24", "2001:db8::/48"],
};

function docInput(lb: Partial<LoadBalancerInput> = {}, more: Partial<ClusterInput> = {}): ClusterInput {
  return documentedLayout({ loadBalancer: { ...NGINX_LB, ...lb }, ...more });
}

function render(input: ClusterInput, node = "lb1", options?: NginxOptions) {
  const topo = buildTopology(input);
  return renderNginx(topo, topo.node(node), options);
}

function fileOf(input: ClusterInput, path: string, node = "lb1", options?: NginxOptions): string {
  const f = render(input, node, options).find((x) => x.path === path);
  if (!f) throw new Error(`no ${path}`);
  return f.content;
}

function parsed(input: ClusterInput, path: string, options?: NginxOptions): Stmt[] {
  return parseNginx(fileOf(input, path, "lb1", options));
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

/** Every statement of all rendered files of an input. */
function allStatements(input: ClusterInput, options?: NginxOptions) {
  return render(input, "lb1", options).flatMap((f) =>
    flatten(parseNginx(f.content)).map((x) => ({ ...x, path: f.path })),
  );
}

const withPools = docInput({
  pools: {
    chat: [{ name: "chat1", address: "10.10.10.70", port: 443 }],
    meet: [
      { name: "meet1", address: "meet1.gro.at", port: 443 },
      { name: "meet2", address: "10.10.10.72", port: 443 },
    ],
    files: [{ name: "files1", address: "10.10.10.73", port: 8080, tls: false }],
  },
});

describe("renderNginx: files", () => {
  test("documented layout: nginx.conf, ssl_params and the two site files, sorted, root-owned, newline-terminated", () => {
    const files = render(docInput());
    expect(files.map((f) => f.path)).toEqual([
      "/etc/nginx/conf.d/grommunio-admin.conf",
      "/etc/nginx/conf.d/grommunio-lb.conf",
      "/etc/nginx/nginx.conf",
      "/etc/nginx/ssl_params",
    ]);
    for (const f of files) {
      expect(f.content.endsWith("\n")).toBe(true);
      expect(f.content.endsWith("\n\n")).toBe(false);
      expect(f.owner).toBe("root:root");
      expect(f.mode).toBe("0644");
    }
  });

  test("nginx.conf includes exactly the rendered files, by absolute path, never by glob", () => {
    const files = render(docInput());
    const includes = flatten(parseNginx(files.find((f) => f.path === NGINX_PATHS.main)!.content))
      .filter((x) => x.stmt.name === "include")
      .map((x) => x.stmt.args[0]);
    expect(includes).toEqual([NGINX_PATHS.sslParams, NGINX_PATHS.site, NGINX_PATHS.admin]);
    expect(new Set(includes)).toEqual(new Set(files.filter((f) => f.path !== NGINX_PATHS.main).map((f) => f.path)));
    for (const f of files) expect(f.content).not.toMatch(/modules-enabled\/\*|sites-enabled|conf\.d\/\*/);
  });

  test("deterministic; two load balancers differ only in their comments", () => {
    const input = largeLayout({ loadBalancer: { ...NGINX_LB, publicName: "mail.example.com" } });
    expect(render(input, "lb1")).toEqual(render(input, "lb1"));
    const strip = (s: string) => s.replace(/^\s*#.*\n/gm, "");
    const a = render(input, "lb1").map((f) => strip(f.content));
    const b = render(input, "lb2").map((f) => strip(f.content));
    expect(a).toEqual(b);
    expect(render(input, "lb1")[0]!.content).toContain("lb1.int.example.com");
  });
});

describe("renderNginx: nginx.conf main level", () => {
  const main = parsed(docInput(), NGINX_PATHS.main);

  test("stream {} and http {} are blocks at main level; no upstream or server outside them", () => {
    expect(main.map((s) => s.name)).toEqual([
      "load_module",
      "user",
      "worker_processes",
      "worker_rlimit_nofile",
      "pid",
      "error_log",
      "events",
      "stream",
      "http",
    ]);
    expect(only(main, "stream").children).toBeDefined();
    for (const x of flatten(main)) {
      if (x.stmt.name === "stream") expect(x.parents).toEqual([]);
      if (x.stmt.name === "upstream" || (x.stmt.name === "server" && x.stmt.children)) {
        expect(["stream", "http"]).toContain(x.parents[0]);
      }
    }
  });

  test("no daemon or master_process: Debian's nginx.service passes them with -g (a duplicate fails)", () => {
    const names = allStatements(withPools).map((x) => x.stmt.name);
    expect(names).not.toContain("daemon");
    expect(names).not.toContain("master_process");
  });

  test("loads the stream module explicitly, and not headers-more (nothing uses it)", () => {
    expect(only(main, "load_module").args).toEqual(["/usr/lib/nginx/modules/ngx_stream_module.so"]);
    for (const f of render(withPools)) expect(f.content).not.toMatch(/headers_more|more_set_headers|more_clear/);
  });

  test("worker_rlimit_nofile covers worker_connections", () => {
    expect(only(main, "worker_rlimit_nofile").args).toEqual([String(nginxFdLimitFor(8192))]);
    expect(only(only(main, "events").children!, "worker_connections").args).toEqual(["8192"]);
    const custom = parsed(docInput(), NGINX_PATHS.main, { workerConnections: 1000 });
    expect(only(custom, "worker_rlimit_nofile").args).toEqual([String(1000 + 1024)]);
  });

  test("production paths by default; options move pid and logs", () => {
    expect(only(main, "pid").args).toEqual(["/run/nginx.pid"]);
    expect(only(main, "error_log").args).toEqual(["/var/log/nginx/error.log"]);
    expect(only(only(main, "http").children!, "access_log").args).toEqual(["/var/log/nginx/access.log"]);
    const o = parsed(docInput(), NGINX_PATHS.main, {
      pidFile: "/tmp/x/n.pid",
      errorLog: "/tmp/x/e.log",
      accessLog: "/tmp/x/a.log",
    });
    expect(only(o, "pid").args).toEqual(["/tmp/x/n.pid"]);
    expect(only(o, "error_log").args).toEqual(["/tmp/x/e.log"]);
    expect(only(only(o, "http").children!, "access_log").args).toEqual(["/tmp/x/a.log"]);
  });
});

describe("renderNginx: stream (mail to the classic nodes)", () => {
  const stream = only(parsed(docInput(), NGINX_PATHS.main), "stream").children!;

  test("one upstream per mail service with every classic node at its backend port from PORTS", () => {
    const large = only(parsed(largeLayout({ loadBalancer: { ...NGINX_LB } }), NGINX_PATHS.main), "stream").children!;
    for (const [up, key] of [
      ["be_smtp", "smtp"],
      ["be_submission", "submission"],
      ["be_imaps", "imaps"],
      ["be_pop3s", "pop3s"],
    ] as const) {
      const servers = children(only(large, "upstream", up).children!, "server").map((s) => s.args[0]);
      expect(servers).toEqual([`10.20.0.31:${PORTS[key].port}`, `10.20.0.32:${PORTS[key].port}`]);
    }
  });

  test("servers listen on the public ports and pass to their upstream", () => {
    const pairs = children(stream, "server").map((s) => [
      only(s.children!, "listen").args[0],
      only(s.children!, "proxy_pass").args[0],
    ]);
    expect(pairs).toEqual([
      [String(PORTS.publicSmtp.port), "be_smtp"],
      [String(PORTS.publicSubmission.port), "be_submission"],
      [String(PORTS.publicImaps.port), "be_imaps"],
      [String(PORTS.publicPop3s.port), "be_pop3s"],
    ]);
  });

  /** Ports whose stream server sends PROXY, for a proxyProtocol declaration. */
  function proxiedPorts(pp: { smtp?: boolean; submission?: boolean }): string[] {
    const s = only(parsed(docInput({ proxyProtocol: pp }), NGINX_PATHS.main), "stream").children!;
    return children(s, "server")
      .filter((srv) => srv.children!.some((c) => c.name === "proxy_protocol" && c.args[0] === "on"))
      .map((srv) => only(srv.children!, "listen").args[0]!);
  }

  test("proxy_protocol on exactly for the declared services", () => {
    expect(proxiedPorts({})).toEqual(["25", "587"]);
    expect(proxiedPorts({ smtp: false })).toEqual(["587"]);
    expect(proxiedPorts({ submission: false })).toEqual(["25"]);
    expect(proxiedPorts({ smtp: false, submission: false })).toEqual([]);
  });

  test.each([
    [true, true],
    [true, false],
    [false, true],
    [false, false],
  ])("smtp=%s submission=%s: nginx sends PROXY exactly where the postfix renderer expects it", (smtp, submission) => {
    const topo = buildTopology(docInput({ proxyProtocol: { smtp, submission } }));
    const master = renderPostfix(topo, topo.node("classic1")).find((f) => f.path === "/etc/postfix/master.cf")!.content;
    const lines = master.split("\n");
    const serviceBlock = (port: number) => {
      const i = lines.findIndex((l) => l.startsWith(`${port} `) && l.includes(" inet "));
      expect(i).toBeGreaterThanOrEqual(0);
      const out = [lines[i]!];
      for (let j = i + 1; j < lines.length && /^\s/.test(lines[j]!); j++) out.push(lines[j]!);
      return out.join("\n");
    };
    const postfixExpects = {
      smtp: /postscreen_upstream_proxy_protocol=haproxy|smtpd_upstream_proxy_protocol=haproxy/.test(
        serviceBlock(PORTS.smtp.port),
      ),
      submission: /smtpd_upstream_proxy_protocol=haproxy/.test(serviceBlock(PORTS.submission.port)),
    };
    const sent = proxiedPorts({ smtp, submission });
    expect({ smtp: sent.includes("25"), submission: sent.includes("587") }).toEqual(postfixExpects);
    expect(postfixExpects).toEqual({ smtp, submission });
  });

  test("never PROXY towards gromox-imap/-pop3 (v2 only); IMAP keeps a 1 h idle timeout", () => {
    for (const port of ["993", "995"]) {
      const srv = children(stream, "server").find((s) => only(s.children!, "listen").args[0] === port)!;
      expect(srv.children!.some((c) => c.name === "proxy_protocol")).toBe(false);
      expect(only(srv.children!, "proxy_timeout").args).toEqual(["1h"]);
    }
  });

  test("no stream block without classic nodes", () => {
    const input = docInput();
    const noClassic = { ...input, nodes: input.nodes.filter((n) => n.name !== "classic1") };
    const main = parsed(noClassic, NGINX_PATHS.main);
    expect(children(main, "stream")).toEqual([]);
  });
});

describe("renderNginx: HTTP", () => {
  const site = parsed(withPools, NGINX_PATHS.site);
  const main = parsed(withPools, NGINX_PATHS.main);
  const https = serverOn(site, PORTS.publicHttps.port);
  const locations = children(https.children!, "location");

  test("80 redirects to https://$host$request_uri; $server_name appears nowhere", () => {
    const http = serverOn(site, PORTS.publicHttp.port);
    expect(only(http.children!, "listen").args).toEqual(["80", "default_server"]);
    const loc = only(http.children!, "location", "/");
    expect(loc.children).toEqual([
      expect.objectContaining({ name: "return", args: ["301", "https://$host$request_uri"] }),
    ]);
    for (const x of allStatements(withPools)) expect(x.stmt.args.join(" ")).not.toContain("$server_name");
  });

  test("443: TLS with HTTP/2, certificate paths from the options, HSTS always", () => {
    expect(only(https.children!, "listen").args).toEqual(["443", "ssl", "http2", "default_server"]);
    expect(only(https.children!, "ssl_certificate").args).toEqual(["/etc/nginx/proxy.pem"]);
    expect(only(https.children!, "ssl_certificate_key").args).toEqual(["/etc/nginx/proxy.key"]);
    expect(only(https.children!, "add_header").args).toEqual([
      "Strict-Transport-Security",
      "max-age=31536000",
      "always",
    ]);
    // add_header in a location would drop the inherited HSTS.
    for (const l of locations) expect(l.children!.some((c) => c.name === "add_header")).toBe(false);
    const o = serverOn(
      parsed(withPools, NGINX_PATHS.site, { certificatePath: "/x/c.pem", certificateKeyPath: "/x/c.key" }),
      443,
    );
    expect(only(o.children!, "ssl_certificate").args).toEqual(["/x/c.pem"]);
    expect(only(o.children!, "ssl_certificate_key").args).toEqual(["/x/c.key"]);
  });

  test("every regex location is case-insensitive and anchored at /", () => {
    const regex = locations.filter((l) => l.args.length === 2);
    expect(regex.length).toBeGreaterThan(10);
    for (const l of regex) {
      expect(l.args[0]).toBe("~*");
      expect(l.args[1]).toMatch(/^\^\//);
      expect(l.args[1]).toMatch(/\(\?:\/\|\$\)$/);
    }
  });

  test("anchoring decides: /web/administration/x is not an admin path, /admin/x is", () => {
    const rx = (prefixes: string[]) => new RegExp(anchoredPrefixRegex(prefixes), "i");
    expect(rx(["admin", "antispam"]).test("/web/administration/x")).toBe(false);
    expect(rx(["admin", "antispam"]).test("/Admin/x")).toBe(true);
    expect(rx(["admin", "antispam"]).test("/administration")).toBe(false);
    expect(rx(["web"]).test("/web/administration/x")).toBe(true);
    expect(rx(["chat"]).test("/web/chat")).toBe(false);
  });

  test("no proxy_pass carries a URI part (scheme://upstream only)", () => {
    const passes = allStatements(withPools).filter(
      (x) => x.stmt.name === "proxy_pass" && x.parents.includes("location"),
    );
    expect(passes.length).toBeGreaterThan(10);
    for (const p of passes) expect(p.stmt.args[0]).toMatch(/^https?:\/\/be_[a-z]+$/);
  });

  test("routes: Exchange, EAS, DAV and web paths to the mailbox nodes; pools to their upstreams; rest to mailbox", () => {
    const target = (path: string) => {
      const hit = locations.find((l) => l.args.length === 2 && new RegExp(l.args[1]!, "i").test(path));
      const loc = hit ?? only(https.children!, "location", "/");
      const ret = loc.children!.find((c) => c.name === "return");
      return ret ? `return ${ret.args[0]}` : only(loc.children!, "proxy_pass").args[0];
    };
    for (const p of [
      "/Autodiscover/Autodiscover.xml",
      "/EWS/Exchange.asmx",
      "/mapi/emsmdb/",
      "/rpc/rpcproxy.dll",
      "/OAB/abc/oab.xml",
      "/Microsoft-Server-ActiveSync",
      "/dav/calendars/x",
      "/.well-known/caldav",
      "/web/",
      "/web/administration/x",
      "/",
      "/favicon.ico",
    ]) {
      expect([p, target(p)]).toEqual([p, "https://be_mailbox"]);
    }
    expect(target("/admin/")).toBe("return 404");
    expect(target("/antispam")).toBe("return 404");
    expect(target("/chat/api")).toBe("https://be_chat");
    expect(target("/colibri-ws/x")).toBe("https://be_meet");
    expect(target("/meet/room")).toBe("https://be_meet");
    expect(target("/files/")).toBe("http://be_files");
  });

  test("the mailbox upstream: every mailbox node's web server (443, not gromox-http's 10443), by serverId", () => {
    const up = only(site, "upstream", "be_mailbox").children!;
    expect(children(up, "server").map((s) => s.args[0])).toEqual(
      ["10.10.10.20", "10.10.10.30", "10.10.10.40"].map((a) => `${a}:${PORTS.mailboxWeb.port}`),
    );
    expect(PORTS.mailboxWeb.port).toBe(443);
    expect(up[0]).toEqual(expect.objectContaining({ name: "hash", args: ["$remote_addr", "consistent"] }));
    expect(up[up.length - 1]!.name).toBe("keepalive");
  });

  test("exactly one proxy_read_timeout (3h) in the whole config, at http level", () => {
    const t = allStatements(withPools).filter((x) => x.stmt.name === "proxy_read_timeout");
    expect(t).toHaveLength(1);
    expect(t[0]!.stmt.args).toEqual(["3h"]);
    expect(t[0]!.parents).toEqual(["http"]);
  });

  test("X-Real-IP, X-Forwarded-For and X-Forwarded-Proto go to the backends (http level)", () => {
    const http = only(main, "http").children!;
    const set = Object.fromEntries(children(http, "proxy_set_header").map((s) => [s.args[0], s.args[1]]));
    expect(set).toEqual({
      Host: "$host",
      "X-Real-IP": "$remote_addr",
      "X-Forwarded-For": "$remote_addr",
      "X-Forwarded-Proto": "$scheme",
      Connection: "",
    });
  });

  test("WebSocket headers for chat and meet, with the inherited headers repeated; not for other routes", () => {
    const byTarget = (up: string) =>
      locations.filter((l) => l.children!.some((c) => c.name === "proxy_pass" && c.args[0] === up));
    for (const up of ["https://be_chat", "https://be_meet"]) {
      const [loc] = byTarget(up);
      const set = Object.fromEntries(children(loc!.children!, "proxy_set_header").map((s) => [s.args[0], s.args[1]]));
      expect(set).toEqual({
        Host: "$host",
        "X-Real-IP": "$remote_addr",
        "X-Forwarded-For": "$remote_addr",
        "X-Forwarded-Proto": "$scheme",
        Upgrade: "$http_upgrade",
        Connection: "$connection_upgrade",
      });
    }
    const map = only(site, "map", "$http_upgrade", "$connection_upgrade").children!;
    expect(map.map((e) => [e.name, ...e.args])).toEqual([
      ["default", "upgrade"],
      ["", ""],
    ]);
    for (const l of [...byTarget("https://be_mailbox"), ...byTarget("http://be_files")]) {
      expect(l.children!.some((c) => c.name === "proxy_set_header")).toBe(false);
    }
    // Without chat/meet pools there is no upgrade map at all.
    expect(children(parsed(docInput(), NGINX_PATHS.site), "map")).toEqual([]);
  });

  test("no WWW-Authenticate rewriting anywhere (Negotiate challenges pass unchanged)", () => {
    for (const f of render(withPools)) {
      expect(f.content).not.toMatch(/WWW-Authenticate/i);
      expect(f.content).not.toMatch(/more_set_headers|proxy_hide_header|proxy_pass_header/);
    }
  });

  test("bindAddress binds every listener there; IPv6 listeners only for nodes with IPv6", () => {
    const stmts = allStatements(docInput(), { bindAddress: "127.0.0.10" }).filter((x) => x.stmt.name === "listen");
    expect(stmts.map((x) => x.stmt.args[0]).sort()).toEqual(
      [
        "127.0.0.10:25",
        "127.0.0.10:587",
        "127.0.0.10:993",
        "127.0.0.10:995",
        "127.0.0.10:80",
        "127.0.0.10:443",
        "127.0.0.10:8443",
      ].sort(),
    );
    const v6 = docInput({}, {});
    const nodes = v6.nodes.map((n) => (n.name === "lb1" ? { ...n, ipv6: "2001:db8::10" } : n));
    const listens = allStatements({ ...v6, nodes })
      .filter((x) => x.stmt.name === "listen")
      .map((x) => x.stmt.args[0]);
    expect(listens).toContain("[::]:443");
    expect(listens).toContain("[::]:25");
    expect(allStatements(docInput()).some((x) => x.stmt.name === "listen" && x.stmt.args[0]!.startsWith("["))).toBe(
      false,
    );
  });
});

describe("renderNginx: admin server", () => {
  test("8443 only with an allow list: allow per entry in order, then deny all, proxy to the admin nodes", () => {
    const admin = parseNginx(fileOf(docInput(), NGINX_PATHS.admin));
    const srv = serverOn(admin, PORTS.publicAdmin.port);
    const access = srv.children!.filter((c) => c.name === "allow" || c.name === "deny").map((c) => [c.name, ...c.args]);
    expect(access).toEqual([
      ["allow", "203.0.113.0/24"],
      ["allow", "2001:db8::/48"],
      ["deny", "all"],
    ]);
    expect(only(only(srv.children!, "location", "/").children!, "proxy_pass").args).toEqual(["https://be_admin"]);
    expect(children(only(admin, "upstream", "be_admin").children!, "server").map((s) => s.args[0])).toEqual([
      `10.10.10.20:${PORTS.adminWeb.port}`,
    ]);
  });

  test("no admin server, file or include without adminAllowFrom; /admin on 443 still 404", () => {
    const input = docInput({ adminAllowFrom: undefined });
    const files = render(input);
    expect(files.map((f) => f.path)).not.toContain(NGINX_PATHS.admin);
    const stmts = allStatements(input);
    expect(stmts.filter((x) => x.stmt.name === "listen").map((x) => x.stmt.args[0])).not.toContain("8443");
    expect(stmts.filter((x) => x.stmt.name === "include").map((x) => x.stmt.args[0])).not.toContain(NGINX_PATHS.admin);
    expect(stmts.some((x) => x.stmt.name === "allow" || x.stmt.name === "deny")).toBe(false);
    const https = serverOn(parsed(input, NGINX_PATHS.site), 443);
    expect(only(https.children!, "location", "~*", anchoredPrefixRegex(["admin", "antispam"])).children).toEqual([
      expect.objectContaining({ name: "return", args: ["404"] }),
    ]);
  });
});

describe("renderNginx: ssl_params", () => {
  const ssl = parseNginx(fileOf(docInput(), NGINX_PATHS.sslParams));

  test("TLS 1.2 and 1.3 only", () => {
    expect(only(ssl, "ssl_protocols").args).toEqual(["TLSv1.2", "TLSv1.3"]);
  });

  test("TLS 1.2 ciphers: ECDHE key exchange with AEAD only", () => {
    const ciphers = only(ssl, "ssl_ciphers").args[0]!.split(":");
    expect(ciphers).toEqual([...NGINX_TLS12_CIPHERS]);
    for (const c of ciphers) expect(c).toMatch(/^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
  });

  test("no session tickets; shared session cache", () => {
    expect(only(ssl, "ssl_session_tickets").args).toEqual(["off"]);
    expect(only(ssl, "ssl_session_cache").args[0]).toMatch(/^shared:/);
  });
});

describe("serializer", () => {
  test("quotes exactly what nginx would split or misread, and the test parser reads every argument back", () => {
    expect(quoteArg("^/web(?:/|$)")).toBe("^/web(?:/|$)");
    expect(quoteArg("")).toBe('""');
    expect(quoteArg("a b")).toBe('"a b"');
    expect(quoteArg("x;y")).toBe('"x;y"');
    expect(quoteArg("^/a{2}")).toBe('"^/a{2}"');
    expect(quoteArg("#x")).toBe('"#x"');
    expect(quoteArg('say "hi"')).toBe('"say \\"hi\\""');
    expect(quoteArg("a\\.b")).toBe('"a\\\\.b"');
    expect(() => quoteArg("a\nb")).toThrow(/line break/);
    const args = ["", "a b", "x;y", "^/a{2}", "#x", 'say "hi"', "a\\.b", "it's", "$host$request_uri"];
    const text = serializeNginx([
      comment("c"),
      block("http", [], [directive("x", ...args), BLANK, block("map", ["$a", "$b"], [entry("", "v"), entry("k", "")])]),
    ]);
    const tree = parseNginx(text);
    expect(only(only(tree, "http").children!, "x").args).toEqual(args);
    expect(only(only(tree, "http").children!, "map").children!.map((e) => [e.name, ...e.args])).toEqual([
      ["", "v"],
      ["k", ""],
    ]);
    expect(text.endsWith("}\n")).toBe(true);
  });

  test("refuses directive names nginx does not have the shape of", () => {
    expect(() => serializeNginx([directive("bad name")])).toThrow(/directive name/);
  });
});

describe("validateNginx: coded errors", () => {
  const topo = (input: ClusterInput): Topology => buildTopology(input);

  test("valid layouts have no issues", () => {
    expect(validateNginx(topo(docInput()))).toEqual([]);
    expect(validateNginx(topo(withPools))).toEqual([]);
    expect(validateNginx(topo(largeLayout({ loadBalancer: { ...NGINX_LB } })))).toEqual([]);
  });

  test("GRX150 no tier, GRX151 haproxy flavour, GRX152 not a load-balancer node", () => {
    const input = documentedLayout();
    const noLb = buildTopology({
      ...input,
      loadBalancer: undefined,
      nodes: input.nodes.filter((n) => n.name !== "lb1"),
    });
    expect(validateNginx(noLb).map((i) => i.code)).toEqual(["GRX150"]);
    const haproxy = buildTopology(input);
    expect(validateNginx(haproxy).map((i) => i.code)).toContain("GRX151");
    const t = topo(docInput());
    expect(codesOf(() => renderNginx(t, t.node("db1")))).toEqual(["GRX152"]);
  });

  test("GRX155: node-aware routing is refused and the fix names haproxy", () => {
    const t = topo(docInput({ nodeAwareRouting: true }));
    const issues = validateNginx(t, t.node("lb1"));
    expect(issues.map((i) => i.code)).toEqual(["GRX155"]);
    expect(issues[0]!.field).toBe("nodeAwareRouting");
    expect(issues[0]!.fix).toMatch(/haproxy/);
  });

  test("GRX156: PROXY towards gromox-imap/-pop3 (hand-made topology past GRX039) cannot be read", () => {
    const t = topo(docInput());
    const forged: Topology = {
      ...t,
      loadBalancer: { ...t.loadBalancer!, proxyProtocol: { smtp: true, submission: true, imap: true, pop3: true } },
    };
    const issues = validateNginx(forged, forged.node("lb1"));
    expect(issues.map((i) => [i.code, i.field])).toEqual([
      ["GRX156", "proxyProtocol.imap"],
      ["GRX156", "proxyProtocol.pop3"],
    ]);
    expect(issues[0]!.message).toMatch(/v1.*v2/);
  });

  test("GRX157: pool members that loop through the load balancer, hit another service, or repeat", () => {
    const t = topo(
      docInput({
        pools: {
          chat: [{ name: "loop", address: "10.10.10.10", port: 443 }],
          files: [{ name: "exmdb", address: "mail2.gro.at", port: PORTS.exmdb.port }],
          office: [
            { name: "o1", address: "10.10.10.80", port: 443 },
            { name: "o2", address: "10.10.10.80", port: 443 },
          ],
          archive: [{ name: "gromox", address: "10.10.10.30", port: PORTS.gromoxHttps.port }],
          meet: [{ name: "web", address: "10.10.10.30", port: PORTS.mailboxWeb.port }],
        },
      }),
    );
    const issues = validateNginx(t, t.node("lb1"));
    expect(issues.map((i) => [i.code, i.field])).toEqual([
      ["GRX157", "pools.archive"],
      ["GRX157", "pools.chat"],
      ["GRX157", "pools.files"],
      ["GRX157", "pools.office"],
    ]);
    // gromox-http's 10443 is loopback-only now; a mailbox node's web server (443) is a fine member.
    expect(issues[0]!.message).toMatch(/loopback only/);
    expect(issues[2]!.message).toMatch(/exmdb/);
  });

  test("GRX158: a pool mixing TLS and plain HTTP", () => {
    const t = topo(
      docInput({
        pools: {
          files: [
            { name: "f1", address: "10.10.10.80", port: 443 },
            { name: "f2", address: "10.10.10.81", port: 80, tls: false },
          ],
        },
      }),
    );
    expect(validateNginx(t).map((i) => i.code)).toEqual(["GRX158"]);
  });

  test("GRX159: nginx on a node whose other role listens on a frontend port", () => {
    // The topology refuses such a node (GRX044); the renderer still guards hand-made topologies.
    const input = docInput();
    const nodes = input.nodes.map((n) =>
      n.name === "lb1" ? { ...n, roles: ["load-balancer" as const, "classic" as const] } : n,
    );
    expect(() => topo({ ...input, nodes })).toThrow(/GRX044/);
    const t = topo(input);
    const real = t.node("lb1");
    const daemons = [...real.daemons, "postfix" as const, "gromox-imap" as const, "gromox-pop3" as const];
    const forged = { ...real, daemons, runs: (d: string) => (daemons as readonly string[]).includes(d) };
    const issues = validateNginx(t, forged);
    expect(issues.every((i) => i.code === "GRX159")).toBe(true);
    expect(issues.map((i) => i.message.match(/listens on (\d+)/)![1])).toEqual(["25", "587", "993", "995"]);
  });

  test("GRX154 admin server without admin nodes; GRX164 empty or bad allow list (hand-made topology)", () => {
    const input = docInput();
    const nodes = input.nodes.map((n) => (n.name === "mail1" ? { ...n, roles: ["mailbox" as const] } : n));
    expect(validateNginx(topo({ ...input, nodes })).map((i) => i.code)).toEqual(["GRX154"]);
    const t = topo(input);
    const forged: Topology = { ...t, loadBalancer: { ...t.loadBalancer!, adminAllowFrom: [] } };
    expect(validateNginx(forged).map((i) => i.code)).toEqual(["GRX164"]);
    const bad: Topology = { ...t, loadBalancer: { ...t.loadBalancer!, adminAllowFrom: ["10.0.0.0/8; allow all"] } };
    expect(validateNginx(bad).map((i) => i.code)).toEqual(["GRX164"]);
  });

  test("GRX160–GRX163: bad options", () => {
    const t = topo(docInput());
    const issues = validateNginx(t, t.node("lb1"), {
      bindAddress: "localhost",
      certificatePath: "relative.pem",
      pidFile: "/run/nginx pid",
      errorLog: "/var/log/../x",
      workerConnections: 10,
      user: "Root User",
    });
    expect(issues.map((i) => [i.code, i.field])).toEqual([
      ["GRX160", "bindAddress"],
      ["GRX161", "certificatePath"],
      ["GRX161", "pidFile"],
      ["GRX161", "errorLog"],
      ["GRX162", "workerConnections"],
      ["GRX163", "user"],
    ]);
  });

  test("renderNginx throws one error holding every issue", () => {
    const t = topo(docInput({ nodeAwareRouting: true }));
    expect(codesOf(() => renderNginx(t, t.node("lb1"), { bindAddress: "::1", workerConnections: 0 }))).toEqual([
      "GRX155",
      "GRX160",
      "GRX162",
    ]);
  });
});

describe("renderNginx: PROXY from a cloud load balancer or a proxy of one's own (acceptProxyFrom)", () => {
  const statements = (acceptProxyFrom: "cloud-lb" | string[]) =>
    render(docInput({ acceptProxyFrom })).flatMap((f) => flatten(parseNginx(f.content)));
  const servers = (all: ReturnType<typeof statements>) =>
    all.filter((x) => x.stmt.name === "server" && x.stmt.children);
  const listenOf = (s: Stmt) => children(s.children!, "listen").map((l) => l.args.join(" "));

  test("cloud-lb: proxy_protocol on every public listen, realip from the header (any sender), admin untouched", () => {
    const all = statements("cloud-lb");
    const byPort = new Map(servers(all).map((x) => [listenOf(x.stmt)[0]!.split(" ")[0]!, x.stmt]));
    for (const port of ["80", "443", "25", "587", "993", "995"]) {
      expect([port, listenOf(byPort.get(port)!)[0]]).toEqual([port, expect.stringMatching(/ proxy_protocol$/)]);
      expect(children(byPort.get(port)!.children!, "set_real_ip_from").map((d) => d.args[0])).toEqual([
        "0.0.0.0/0",
        "::/0",
      ]);
    }
    for (const port of ["80", "443"]) {
      expect(children(byPort.get(port)!.children!, "real_ip_header").map((d) => d.args[0])).toEqual(["proxy_protocol"]);
    }
    // stream servers: realip has no header directive there, the PROXY header is the source.
    expect(children(byPort.get("587")!.children!, "real_ip_header")).toEqual([]);
    expect(listenOf(byPort.get("8443")!)).toEqual(["8443 ssl http2"]);
    expect(children(byPort.get("8443")!.children!, "set_real_ip_from")).toEqual([]);
  });

  test("a list of proxies: only their headers are believed", () => {
    const all = statements(["192.0.2.0/28", "2001:db8:1::7"]);
    const https = servers(all).find((x) => listenOf(x.stmt)[0]!.startsWith("443"))!.stmt;
    expect(children(https.children!, "set_real_ip_from").map((d) => d.args[0])).toEqual([
      "192.0.2.0/28",
      "2001:db8:1::7/128", // the bare address as its network
    ]);
  });

  test("without acceptProxyFrom: no proxy_protocol listen, no realip", () => {
    const all = render(docInput()).flatMap((f) => flatten(parseNginx(f.content)));
    expect(all.some((x) => x.stmt.name === "listen" && x.stmt.args.includes("proxy_protocol"))).toBe(false);
    expect(all.some((x) => x.stmt.name === "set_real_ip_from" || x.stmt.name === "real_ip_header")).toBe(false);
  });
});

describe("renderNginx: the MTA-STS policy (options.mtaSts)", () => {
  const site = {
    host: "mta-sts.gro.at",
    policy: "version: STSv1\r\nmode: testing\r\nmx: mail.gro.at\r\nmax_age: 604800\r\n",
  };

  test("a 443 server for mta-sts.<domain> answers the policy file as text/plain; the main server stays default", () => {
    const files = render(docInput(), "lb1", { mtaSts: site });
    expect(files.find((f) => f.path === NGINX_PATHS.mtaStsPolicy)).toMatchObject({
      content: site.policy,
      mode: "0644",
    });
    const servers = parseNginx(files.find((f) => f.path === NGINX_PATHS.site)!.content).filter(
      (s) => s.name === "server" && s.children?.some((c) => c.name === "server_name" && c.args[0] === site.host),
    );
    expect(servers).toHaveLength(1);
    const s = servers[0]!.children!;
    expect(children(s, "listen").map((l) => l.args.join(" "))).toEqual(["443 ssl http2"]);
    const loc = only(s, "location", "=", "/.well-known/mta-sts.txt").children!;
    expect(children(loc, "alias").map((d) => d.args[0])).toEqual([NGINX_PATHS.mtaStsPolicy]);
    expect(children(loc, "default_type").map((d) => d.args[0])).toEqual(["text/plain"]);
  });

  test("without it: no such server, no file", () => {
    const files = render(docInput());
    expect(files.map((f) => f.path)).not.toContain(NGINX_PATHS.mtaStsPolicy);
    expect(files.some((f) => f.content.includes("mta-sts"))).toBe(false);
  });
});
