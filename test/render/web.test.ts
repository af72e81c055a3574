/**
 * The mailbox node's web server (nginx on 443): structure of the rendered file, parsed back with
 * the independent test parser. `nginx -t` and behaviour on loopback: test/system/mailbox-web.test.ts.
 */
import { buildTopology, ClusterInput } from "../../lib/topology";
import { PORTS, SOCKETS } from "../../lib/topology/ports";
import { renderNodeFiles } from "../../lib/render/node";
import { GROMMUNIO_TLS, renderGromox } from "../../lib/render/gromox";
import {
  GROMOX_HTTP_PREFIXES,
  MAILBOX_WEB_PATH,
  MailboxWebOptions,
  PACKAGED_SNIPPETS,
  renderMailboxWeb,
} from "../../lib/render/web";
import { documentedLayout, largeLayout } from "../fixtures";
import { children, flatten, only, parseNginx, Stmt } from "./nginx-parse";

function rendered(input: ClusterInput, node = "mail2", options?: MailboxWebOptions) {
  const topo = buildTopology(input);
  return renderMailboxWeb(topo, topo.node(node), options);
}

function parsed(input: ClusterInput = documentedLayout(), node = "mail2", options?: MailboxWebOptions): Stmt[] {
  const files = rendered(input, node, options);
  expect(files.map((f) => f.path)).toEqual([MAILBOX_WEB_PATH]);
  return parseNginx(files[0]!.content);
}

const server = (stmts: Stmt[]) => only(stmts, "server").children!;

/** The location block whose arguments are exactly `args`. */
function location(stmts: Stmt[], ...args: string[]): Stmt[] {
  const found = children(server(stmts), "location").filter(
    (l) => l.args.length === args.length && l.args.every((a, i) => a === args[i]),
  );
  if (found.length !== 1) throw new Error(`expected one location ${args.join(" ")}, found ${found.length}`);
  return found[0]!.children!;
}

const arg = (stmts: Stmt[], name: string, ...lead: string[]) =>
  children(stmts, name)
    .filter((s) => lead.every((a, i) => s.args[i] === a))
    .map((s) => s.args.slice(lead.length).join(" "));

/** Which location nginx would pick for a path: exact, then longest prefix (^~ stops), then regexes in order. */
function pick(stmts: Stmt[], path: string): string {
  const locs = children(server(stmts), "location");
  const exact = locs.find((l) => l.args[0] === "=" && l.args[1] === path);
  if (exact) return exact.args.join(" ");
  const prefixes = locs.filter((l) => l.args.length === 1 && path.startsWith(l.args[0]!));
  const longest = prefixes.sort((a, b) => b.args[0]!.length - a.args[0]!.length)[0];
  for (const l of locs.filter((x) => x.args[0] === "~*" || x.args[0] === "~")) {
    if (new RegExp(l.args[1]!, l.args[0] === "~*" ? "i" : "").test(path)) return l.args.join(" ");
  }
  return longest ? longest.args.join(" ") : "(none)";
}

describe("renderMailboxWeb", () => {
  test("only mailbox nodes get the file; renderNodeFiles ships it; one path, root 0644", () => {
    // node-aware routing: the load balancer's map job needs the map reader (GRX400 otherwise)
    const topo = buildTopology(
      documentedLayout({ database: { node: "db1", password: "db-secret", mapReaderPassword: "map-secret" } }),
    );
    for (const n of topo.nodes) {
      const files = renderMailboxWeb(topo, n);
      expect([n.name, files.length]).toEqual([n.name, n.has("mailbox") ? 1 : 0]);
      if (n.has("mailbox")) {
        expect(files[0]).toMatchObject({ path: "/etc/nginx/conf.d/grommunio.conf", mode: "0644", owner: "root:root" });
        expect(renderNodeFiles(topo, n).map((f) => f.path)).toContain(MAILBOX_WEB_PATH);
      }
    }
    expect(renderNodeFiles(topo, topo.node("lb1")).map((f) => f.path)).not.toContain(MAILBOX_WEB_PATH);
  });

  test("one TLS server on the port table's mailboxWeb port with the grommunio bundle, any Host", () => {
    const s = server(parsed());
    expect(arg(s, "listen")).toEqual([`${PORTS.mailboxWeb.port} ssl http2 default_server`]);
    expect(arg(s, "ssl_certificate")).toEqual([GROMMUNIO_TLS.certificate]);
    expect(arg(s, "ssl_certificate_key")).toEqual([GROMMUNIO_TLS.privateKey]);
    expect(arg(s, "server_name")).toEqual(["mail2.gro.at mail.gro.at"]);
    expect(arg(s, "ssl_protocols")).toEqual(["TLSv1.2 TLSv1.3"]);
  });

  test("IPv6 listen when the node has an IPv6 address; bindAddress for tests", () => {
    const base = documentedLayout();
    const v6 = {
      ...base,
      nodes: base.nodes.map((n) => (n.name === "mail2" ? { ...n, ipv6: "2001:db8::30" } : n)),
    };
    expect(arg(server(parsed(v6)), "listen")).toEqual([
      "443 ssl http2 default_server",
      "[::]:443 ssl http2 default_server",
    ]);
    expect(arg(server(parsed(base, "mail2", { bindAddress: "127.0.0.5" })), "listen")).toEqual([
      "127.0.0.5:443 ssl http2 default_server",
    ]);
  });

  test("the client address: X-Real-IP believed from every load-balancer node and nobody else", () => {
    const s = server(parsed(largeLayout(), "mail3"));
    expect(arg(s, "real_ip_header")).toEqual(["X-Real-IP"]);
    expect(arg(s, "set_real_ip_from")).toEqual(["10.20.0.5", "10.20.0.6"]);
    const noLb = documentedLayout({ loadBalancer: undefined });
    const bare = { ...noLb, nodes: noLb.nodes.filter((n) => n.name !== "lb1") };
    expect(arg(server(parsed(bare)), "set_real_ip_from")).toEqual([]);
    expect(arg(server(parsed(bare)), "real_ip_header")).toEqual([]);
  });

  test("EWS, MAPI, RPC, OAB, Autodiscover go to the node's own gromox-http TLS port on loopback, X-Real-IP passed on", () => {
    const stmts = parsed();
    const up = only(stmts, "upstream", "gromox_http").children!;
    expect(arg(up, "server")).toEqual([`[::1]:${PORTS.gromoxHttps.port}`]);
    const loc = location(stmts, "~*", `^/(?:${GROMOX_HTTP_PREFIXES.join("|")})(?:/|$)`);
    expect(arg(loc, "proxy_pass")).toEqual(["https://gromox_http"]);
    expect(arg(loc, "proxy_set_header", "X-Real-IP")).toEqual(["$remote_addr"]);
    expect(arg(loc, "proxy_set_header", "Host")).toEqual(["$host"]);
    expect(arg(loc, "proxy_buffering")).toEqual(["off"]);
    expect(arg(loc, "proxy_read_timeout")).toEqual(["3h"]);
    for (const p of ["/EWS/Exchange.asmx", "/mapi/emsmdb/?MailboxId=x", "/rpc/rpcproxy.dll", "/OAB/x/oab.xml"]) {
      expect([p, pick(stmts, p)]).toEqual([p, `~* ^/(?:ews|mapi|rpc|oab|autodiscover)(?:/|$)`]);
    }
    expect(pick(stmts, "/Autodiscover/Autodiscover.xml")).toMatch(/autodiscover/);
    expect(pick(stmts, "/ewsx")).toBe("/");
  });

  test("packaged apps (default): the packages' upstreams at http level and locations in the server, by exact name", () => {
    const stmts = parsed();
    expect(arg(stmts, "include")).toEqual([...PACKAGED_SNIPPETS.upstreams]);
    expect(arg(server(stmts), "include")).toEqual([...PACKAGED_SNIPPETS.locations]);
    expect(PACKAGED_SNIPPETS.locations.map((p) => p.split("/").pop())).toEqual([
      "grommunio-web.conf",
      "grommunio-sync.conf",
      "grommunio-dav.conf",
    ]);
    // No location of ours could clash with the packaged ones (= /, /web, /Microsoft-Server-ActiveSync, /dav).
    const ours = children(server(stmts), "location").map((l) => l.args.join(" "));
    expect(ours).toEqual(["~* ^/(?:ews|mapi|rpc|oab|autodiscover)(?:/|$)", "/"]);
    expect(flatten(stmts).some((x) => x.stmt.name === "fastcgi_pass")).toBe(false);
  });

  test("rendered apps: /web, ActiveSync, /dav and .well-known through gromox's php-fpm socket", () => {
    const stmts = parsed(documentedLayout(), "mail2", { apps: "rendered" });
    expect(arg(stmts, "include")).toEqual([]);
    const passes = flatten(stmts).filter((x) => x.stmt.name === "fastcgi_pass");
    expect(passes.map((x) => x.stmt.args[0])).toEqual(Array(3).fill(`unix:${SOCKETS.phpFpm}`));
    expect(pick(stmts, "/web/index.php")).toBe("~* ^/web/(.+[.]php)$");
    expect(pick(stmts, "/web/robots.txt")).toBe("/web/");
    expect(pick(stmts, "/Microsoft-Server-ActiveSync")).toBe("~* ^/microsoft-server-activesync(?:/|$)");
    expect(pick(stmts, "/dav/calendars/x")).toBe("~* ^/dav(?:/|$)");
    expect(pick(stmts, "/.well-known/caldav")).toBe("~* ^/[.]well-known/(?:caldav|carddav)$");
    expect(pick(stmts, "/")).toBe("= /");
    const sync = location(stmts, "~*", "^/microsoft-server-activesync(?:/|$)");
    expect(arg(sync, "fastcgi_param", "SCRIPT_FILENAME")).toEqual(["/usr/share/grommunio-sync/index.php"]);
    expect(arg(sync, "fastcgi_read_timeout")).toEqual(["3660s"]);
    expect(arg(location(stmts, "~*", "^/dav(?:/|$)"), "fastcgi_param", "SCRIPT_FILENAME")).toEqual([
      "/usr/share/grommunio-dav/server.php",
    ]);
  });

  test("gromox-http listens on loopback only, at the ports the web server dials", () => {
    const topo = buildTopology(documentedLayout());
    const cfg = renderGromox(topo, topo.node("mail2")).find((f) => f.path === "/etc/gromox/gromox.cfg")!.content;
    expect(cfg).toContain(`http_listen=[::1]:${PORTS.gromoxHttp.port}`);
    expect(cfg).toContain(`http_listen_tls=[::1]:${PORTS.gromoxHttps.port}`);
    expect(cfg).toContain("http_remote_host_hdr=X-Real-IP");
  });

  test("deterministic, and every node of the large layout renders", () => {
    const topo = buildTopology(largeLayout());
    for (const n of topo.mailboxNodes) expect(renderMailboxWeb(topo, n)).toEqual(renderMailboxWeb(topo, n));
  });
});
