/**
 * The web server of a mailbox node (daemon `grommunio-web` in the port table): nginx on
 * `PORTS.mailboxWeb` (443) in front of the node's PHP applications and its own gromox-http.
 *
 * gromox-http serves the Exchange protocols (EWS, MAPI/HTTP, RPC/HTTP, OAB, Autodiscover) but not
 * the PHP applications: grommunio-web, grommunio-sync (ActiveSync) and grommunio-dav (CalDAV,
 * CardDAV) run under php-fpm and need a web server in front (reference/gromox.md §5: "mailbox
 * nodes run nginx + php-fpm"). The load balancer therefore sends every HTTP request to this
 * server, which
 * - serves /web, /Microsoft-Server-ActiveSync, /dav and the .well-known CalDAV/CardDAV redirects
 *   through php-fpm: by default with the location snippets the grommunio-web, -sync and -dav
 *   packages ship (`apps: "packaged"`, see `PACKAGED_SNIPPETS`), else with locations rendered here
 *   that use gromox's php-fpm pool (`SOCKETS.phpFpm`);
 * - proxies /EWS, /mapi, /rpc, /OAB and /Autodiscover to gromox-http's TLS port on loopback
 *   (gromox-http listens only there: `PORTS.gromoxHttps`, exposure `local`);
 * - takes the client's address from the load balancer's `X-Real-IP` header, but only from the
 *   load-balancer nodes (`set_real_ip_from` each LB address, `real_ip_header X-Real-IP`). nginx's
 *   `$remote_addr` is then the client, in the access log, in php-fpm's `REMOTE_ADDR` and in the
 *   `X-Real-IP` passed on to gromox-http (`http_remote_host_hdr`): the load balancer's value goes
 *   through unchanged, and nobody else can forge it.
 *
 * One file: `/etc/nginx/conf.d/grommunio.conf` (http context, read by Debian's nginx.conf through
 * its `conf.d/*.conf` include). It has the path of grommunio-common's own file on purpose: that
 * one pulls in grommunio-common's packaged server for 80/443 (`/usr/share/grommunio-common/
 * nginx.conf`), which would listen on 443 next to this server. Rendered files are written after the
 * packages are installed, so this file replaces it.
 */
import { GROMMUNIO_TLS } from "../gromox";
import { anchoredPrefixRegex } from "../nginx/render";
import {
  BLANK,
  NginxDirective,
  NginxNode,
  block,
  comment,
  directive,
  serializeNginx,
  withComment,
} from "../nginx/syntax";
import { ClusterNode, Topology } from "../../topology/model";
import { PORTS, SOCKETS } from "../../topology/ports";
import { ConfigFile } from "../types";

/** Where the file goes (grommunio-common's own conf.d file, replaced; see the module comment). */
export const MAILBOX_WEB_PATH = "/etc/nginx/conf.d/grommunio.conf";

/** Packaged nginx snippets of the PHP applications (installed by their packages under grommunio-common's tree). */
export const PACKAGED_SNIPPETS = {
  /** http-level upstreams of each application's own php-fpm pool (`fpm_web`, `fpm_sync`, `fpm_dav`). */
  upstreams: [
    "/usr/share/grommunio-common/nginx/upstreams.d/grommunio-web.conf",
    "/usr/share/grommunio-common/nginx/upstreams.d/grommunio-sync.conf",
    "/usr/share/grommunio-common/nginx/upstreams.d/grommunio-dav.conf",
  ],
  /** server-level locations: /web (+ `= /` redirect, robots.txt), /Microsoft-Server-ActiveSync, /dav (+ .well-known rewrites). */
  locations: [
    "/usr/share/grommunio-common/nginx/locations.d/grommunio-web.conf",
    "/usr/share/grommunio-common/nginx/locations.d/grommunio-sync.conf",
    "/usr/share/grommunio-common/nginx/locations.d/grommunio-dav.conf",
  ],
} as const;

/** Where the PHP applications live (packages grommunio-web, -sync, -dav). */
export const APP_ROOTS = {
  web: "/usr/share/grommunio-web/",
  sync: "/usr/share/grommunio-sync/index.php",
  dav: "/usr/share/grommunio-dav/server.php",
} as const;

/** Exchange protocols gromox-http answers (anchored, case-insensitive path prefixes). */
export const GROMOX_HTTP_PREFIXES: readonly string[] = ["ews", "mapi", "rpc", "oab", "autodiscover"];

/** Long polls and RPC/HTTP channels (MAPI NotificationWait, RPC_IN/OUT_DATA) stay open this long. */
export const MAILBOX_PROXY_READ_TIMEOUT = "3h";

/** The upstream name of the node's gromox-http. */
const GROMOX_UPSTREAM = "gromox_http";

export interface MailboxWebOptions {
  /**
   * Where the locations of grommunio-web, -sync and -dav come from.
   * - `packaged`: `include` the snippets their packages install (`PACKAGED_SNIPPETS`: locations
   *   plus the upstreams of each application's own php-fpm pool), by exact name: nginx refuses to
   *   start when one is missing, rather than serving 404s;
   * - `rendered`: locations rendered here, every PHP request to gromox's php-fpm pool on
   *   `SOCKETS.phpFpm` (the installer's `fpm-gromox.conf.sample` pool must be set up).
   * @default "packaged" (the packages know their applications' PHP settings best)
   */
  readonly apps?: "packaged" | "rendered";
  /**
   * Address the 443 server binds to.
   * @default undefined: all IPv4 addresses, plus all IPv6 addresses when the node has one; the
   * firewall admits only the load-balancer nodes. Tests give a loopback address.
   */
  readonly bindAddress?: string;
  /**
   * gromox-http's address as nginx dials it.
   * @default "[::1]" (gromox-http listens on loopback only; gromox uses IPv6 sockets)
   */
  readonly gromoxHttpHost?: string;
  /** @default the grommunio TLS bundle, `/etc/grommunio-common/ssl/server-bundle.pem` (gromox.md §12) */
  readonly certificatePath?: string;
  /** @default `/etc/grommunio-common/ssl/server.key` */
  readonly certificateKeyPath?: string;
}

interface Resolved {
  readonly apps: "packaged" | "rendered";
  readonly bindAddress?: string;
  readonly gromoxHttpHost: string;
  readonly certificatePath: string;
  readonly certificateKeyPath: string;
}

function resolve(o: MailboxWebOptions): Resolved {
  return {
    apps: o.apps ?? "packaged",
    ...(o.bindAddress !== undefined ? { bindAddress: o.bindAddress } : {}),
    gromoxHttpHost: o.gromoxHttpHost ?? "[::1]",
    certificatePath: o.certificatePath ?? GROMMUNIO_TLS.certificate,
    certificateKeyPath: o.certificateKeyPath ?? GROMMUNIO_TLS.privateKey,
  };
}

function listens(node: ClusterNode, o: Resolved): NginxDirective[] {
  const port = PORTS.mailboxWeb.port;
  const params = ["ssl", "http2", "default_server"];
  if (o.bindAddress !== undefined) return [directive("listen", `${o.bindAddress}:${port}`, ...params)];
  return [
    directive("listen", port, ...params),
    ...(node.ipv6 !== undefined ? [directive("listen", `[::]:${port}`, ...params)] : []),
  ];
}

/** The client address from the load balancer's header, believed from the load-balancer nodes only. */
function realIp(topology: Topology): NginxNode[] {
  const lbs = topology.loadBalancer?.nodes ?? [];
  if (lbs.length === 0) {
    return [comment("no load-balancer tier: clients connect directly, $remote_addr is theirs")];
  }
  return [
    withComment(
      directive("real_ip_header", "X-Real-IP"),
      "The client's address: the load balancer puts it into X-Real-IP. Believed only from the",
      "load-balancer nodes (anyone else keeps their own address), so $remote_addr is the client in",
      "the logs, in php-fpm's REMOTE_ADDR and in the X-Real-IP passed on to gromox-http.",
    ),
    ...lbs.map((n) => withComment(directive("set_real_ip_from", n.ipv4), n.hostname)),
  ];
}

/** Headers to gromox-http; a location setting any proxy_set_header loses the inherited ones, so all are here. */
function gromoxProxy(o: Resolved): NginxNode[] {
  return [
    directive("proxy_pass", `https://${GROMOX_UPSTREAM}`),
    directive("proxy_http_version", "1.1"),
    directive("proxy_set_header", "Host", "$host"),
    withComment(
      directive("proxy_set_header", "X-Real-IP", "$remote_addr"),
      "the load balancer's X-Real-IP (see real_ip_header): gromox.cfg http_remote_host_hdr",
    ),
    directive("proxy_set_header", "X-Forwarded-For", "$remote_addr"),
    directive("proxy_set_header", "X-Forwarded-Proto", "https"),
    withComment(directive("proxy_set_header", "Connection", ""), "keep-alive to the upstream"),
    withComment(
      directive("proxy_buffering", "off"),
      "stream both ways: RPC/HTTP channels never complete, long polls must reach the client at once",
    ),
    directive("proxy_request_buffering", "off"),
    directive("proxy_read_timeout", MAILBOX_PROXY_READ_TIMEOUT),
    withComment(
      directive("client_body_timeout", MAILBOX_PROXY_READ_TIMEOUT),
      "RPC_IN_DATA can stay silent for minutes",
    ),
    withComment(directive("client_max_body_size", 0), "EWS and MAPI uploads: gromox-http enforces its own limits"),
    withComment(
      directive("proxy_ssl_protocols", "TLSv1.2", "TLSv1.3"),
      `to ${o.gromoxHttpHost}: loopback, encrypted, not verified (gromox-http's certificate names the node)`,
    ),
  ];
}

/** PHP through gromox's php-fpm pool (`apps: "rendered"`). */
function fastcgi(script: string, readTimeout: string, body: string): NginxNode[] {
  return [
    directive("include", "fastcgi_params"),
    directive("fastcgi_param", "SCRIPT_FILENAME", script),
    withComment(directive("fastcgi_param", "HTTP_PROXY", ""), "httpoxy"),
    directive("fastcgi_read_timeout", readTimeout),
    directive("client_max_body_size", body),
    directive("fastcgi_pass", `unix:${SOCKETS.phpFpm}`),
  ];
}

function renderedApps(): NginxNode[] {
  return [
    comment(`PHP applications through gromox's php-fpm pool (${SOCKETS.phpFpm})`),
    withComment(block("location", ["=", "/"], [directive("return", 301, "/web/")]), "grommunio-web"),
    block("location", ["=", "/web"], [directive("return", 301, "/web/")]),
    block("location", ["/web/"], [directive("alias", APP_ROOTS.web), directive("index", "index.php")]),
    block(
      "location",
      ["~*", "^/web/(.+[.]php)$"],
      [directive("alias", APP_ROOTS.web), ...fastcgi("$document_root$1", "3660s", "30M")],
    ),
    withComment(
      block(
        "location",
        ["~*", anchoredPrefixRegex(["microsoft-server-activesync"])],
        fastcgi(APP_ROOTS.sync, "3660s", "102M"),
      ),
      "grommunio-sync (Exchange ActiveSync; Ping holds a request up to an hour)",
    ),
    withComment(
      block("location", ["~*", anchoredPrefixRegex(["dav"])], fastcgi(APP_ROOTS.dav, "3660s", "0")),
      "grommunio-dav (CalDAV, CardDAV)",
    ),
    block("location", ["~*", "^/[.]well-known/(?:caldav|carddav)$"], [directive("return", 301, "/dav/")]),
  ];
}

function server(topology: Topology, node: ClusterNode, o: Resolved): NginxNode[] {
  const names = [...new Set([node.hostname, node.externalName, topology.loadBalancer?.publicName])].filter(
    (n): n is string => n !== undefined,
  );
  const apps =
    o.apps === "packaged"
      ? [
          comment(
            "grommunio-web (/web, = / and robots.txt), grommunio-sync (/Microsoft-Server-ActiveSync) and",
            "grommunio-dav (/dav, .well-known/caldav and carddav): the packages' own locations and PHP settings",
          ),
          ...PACKAGED_SNIPPETS.locations.map((p) => directive("include", p)),
        ]
      : renderedApps();
  return [
    ...listens(node, o),
    withComment(directive("server_name", ...names), "any Host is served (default_server)"),
    directive("ssl_certificate", o.certificatePath),
    directive("ssl_certificate_key", o.certificateKeyPath),
    directive("ssl_protocols", "TLSv1.2", "TLSv1.3"),
    directive("ssl_session_cache", "shared:grommunio_mailbox:10m"),
    directive("server_tokens", "off"),
    BLANK,
    ...realIp(topology),
    BLANK,
    withComment(
      block("location", ["~*", anchoredPrefixRegex(GROMOX_HTTP_PREFIXES)], gromoxProxy(o)),
      "Exchange protocols: EWS, MAPI/HTTP, RPC/HTTP, OAB, Autodiscover -> gromox-http on this node",
    ),
    BLANK,
    ...apps,
    BLANK,
    withComment(block("location", ["/"], [directive("return", 404)]), "nothing else is served here"),
  ];
}

/**
 * The web server files of a mailbox node (those running `grommunio-web`), empty for other nodes.
 * Pure and deterministic.
 */
export function renderMailboxWeb(topology: Topology, node: ClusterNode, options: MailboxWebOptions = {}): ConfigFile[] {
  if (!node.runs(PORTS.mailboxWeb.server)) return [];
  const o = resolve(options);
  const nodes: NginxNode[] = [
    comment(
      `Web server of mailbox node ${node.hostname} (${topology.path}), generated by cdktf-grommunio. Do not edit.`,
      "Replaces grommunio-common's conf.d file of the same name (its packaged 80/443 server is not used).",
    ),
    BLANK,
    ...(o.apps === "packaged"
      ? [
          comment("php-fpm upstreams of grommunio-web, -sync and -dav (shipped by their packages)"),
          ...PACKAGED_SNIPPETS.upstreams.map((p) => directive("include", p)),
          BLANK,
        ]
      : []),
    withComment(
      block(
        "upstream",
        [GROMOX_UPSTREAM],
        [directive("server", `${o.gromoxHttpHost}:${PORTS.gromoxHttps.port}`), directive("keepalive", 16)],
      ),
      `gromox-http on this node (${PORTS.gromoxHttps.description})`,
    ),
    BLANK,
    withComment(block("server", [], server(topology, node, o)), PORTS.mailboxWeb.description),
  ];
  return [{ path: MAILBOX_WEB_PATH, content: serializeNginx(nodes), mode: "0644", owner: "root:root" }];
}
