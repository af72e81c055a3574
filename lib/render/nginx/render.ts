/**
 * nginx renderer for the load-balancer tier (flavor nginx), Debian 12's nginx 1.22 with
 * libnginx-mod-stream. Fixes every defect of the upstream documentation's nginx block
 * (reference/validators.md §4, §9; reference/gromox.md §13.11):
 *
 * - `stream {}` sits at main level with its own TCP upstreams; the HTTP upstreams and servers live
 *   in `http {}` (the documentation put everything into one http-level include);
 * - `proxy_protocol on` exactly for the services the one PROXY declaration
 *   (`topology.loadBalancer.proxyProtocol`) names, which are the services postfix's renderer
 *   configures to expect it (postscreen on 25, submission on 587); never towards gromox-imap/-pop3
 *   (they accept PROXY v2 only, nginx sends v1: refused by `validateNginx`);
 * - `ssl_params` is shipped (Debian has none);
 * - one `proxy_read_timeout`; regex locations are anchored (`~* ^/…(?:/|$)`) and never carry a URI
 *   in `proxy_pass`, so the request URI reaches the backend unchanged;
 * - `80` redirects to `https://$host…` (the documentation's `$server_name` was `_`);
 * - no `more_set_headers -s 401 'WWW-Authenticate: …'`: the backends' own challenges (Negotiate,
 *   NTLM, Basic) reach the clients unchanged, so the headers-more module is not loaded at all;
 * - `X-Real-IP`, `X-Forwarded-For` and `X-Forwarded-Proto` go to the backends (the mailbox nodes'
 *   nginx believes X-Real-IP from the load balancers and passes it to gromox-http, which reads
 *   the client address from `X-Real-IP`, gromox.cfg `http_remote_host_hdr`), WebSocket upgrades
 *   are forwarded for the chat and meet pools;
 * - the admin server (8443) exists only with an admin allow list: `allow` per entry, `deny all`;
 * - behind a cloud load balancer or a proxy that sends PROXY (`loadBalancer.acceptProxy`, the same
 *   field the platform configures the cloud load balancer from), the public servers listen with
 *   `proxy_protocol` and take the client's address from the header (realip, http and stream).
 *
 * Files (all `root:root 0644`): `/etc/nginx/nginx.conf` (replaces Debian's; main level, events,
 * stream, common http settings), `/etc/nginx/ssl_params`, `/etc/nginx/conf.d/grommunio-lb.conf`
 * (HTTP upstreams, the 80 and 443 servers) and, with an admin allow list,
 * `/etc/nginx/conf.d/grommunio-admin.conf`. nginx.conf includes these files by name, never by
 * glob: Debian's `sites-enabled/default` and any file left in conf.d by an earlier config (e.g. an
 * admin server that was removed) stay inert.
 *
 * Modules: `load_module` for the stream module only, instead of Debian's
 * `modules-enabled/*.conf` include, so the config depends on exactly the packages in
 * `NGINX_PACKAGES` and on nothing else an operator enables.
 */
import { GrommunioValidationError } from "../../topology/errors";
import { ClusterNode, OptionalPool, PoolMember, Topology } from "../../topology/model";
import { PORTS, PortKey } from "../../topology/ports";
import { ConfigFile, sortFiles } from "../types";
import { NginxOptions, ResolvedNginxOptions, resolveNginxOptions } from "./options";
import { MTA_STS_POLICY_PATH } from "../dns/mta-sts";
import {
  BLANK,
  NginxBlock,
  NginxDirective,
  NginxNode,
  block,
  comment,
  directive,
  entry,
  serializeNginx,
  withComment,
} from "./syntax";
import { NGINX_MAIL_SERVICES, nginxPools, validateNginx } from "./validate";

/** Debian 12 packages the rendered config needs. */
export const NGINX_PACKAGES: readonly string[] = ["nginx", "libnginx-mod-stream"];

/** Where the rendered files go. */
export const NGINX_PATHS = {
  main: "/etc/nginx/nginx.conf",
  sslParams: "/etc/nginx/ssl_params",
  site: "/etc/nginx/conf.d/grommunio-lb.conf",
  admin: "/etc/nginx/conf.d/grommunio-admin.conf",
  /** The MTA-STS policy (`options.mtaSts`). */
  mtaStsPolicy: "/etc/nginx/mta-sts.txt",
  /** Debian's path of the stream module (package libnginx-mod-stream). */
  streamModule: "/usr/lib/nginx/modules/ngx_stream_module.so",
} as const;

/**
 * TLS 1.2 cipher suites: ECDHE key exchange (forward secrecy) with AEAD only; no static RSA, no
 * CBC, no 3DES (which Debian 12's OpenSSL 3 no longer has anyway). TLS 1.3 suites are all
 * forward-secret and AEAD; nginx 1.22 leaves them at OpenSSL's default.
 */
export const NGINX_TLS12_CIPHERS: readonly string[] = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
];

/** Long polls (MAPI/HTTP NotificationWait, EAS Ping, RPC/HTTP channels) stay open this long. */
export const NGINX_PROXY_READ_TIMEOUT = "3h";

/** Upstream names, one per backend group. */
const UPSTREAM = { mailbox: "be_mailbox", admin: "be_admin" } as const;

function poolUpstream(pool: OptionalPool): string {
  return `be_${pool}`;
}

/** Path prefixes (case-insensitive, anchored) of each optional pool. */
export const NGINX_POOL_PATHS: Readonly<Record<OptionalPool, readonly string[]>> = {
  auth: ["auth"],
  chat: ["chat"],
  meet: ["meet", "colibri-ws"],
  files: ["files"],
  office: ["office"],
  archive: ["archive"],
};

/** Pools whose clients open WebSockets (grommunio-chat, Jitsi meet's colibri-ws and xmpp-websocket). */
const WEBSOCKET_POOLS: readonly OptionalPool[] = ["chat", "meet"];

/** Routes to the mailbox nodes, in file order (each anchored; order does not change the match). */
const MAILBOX_ROUTES: ReadonlyArray<{ readonly what: string; readonly prefixes: readonly string[] }> = [
  { what: "Autodiscover (gromox oxdisco)", prefixes: ["autodiscover"] },
  { what: "EWS", prefixes: ["ews"] },
  { what: "MAPI/HTTP (emsmdb, nspi)", prefixes: ["mapi"] },
  { what: "RPC/HTTP (Outlook Anywhere)", prefixes: ["rpc"] },
  { what: "offline address book", prefixes: ["oab"] },
  { what: "Exchange ActiveSync (grommunio-sync)", prefixes: ["microsoft-server-activesync"] },
  { what: "CalDAV/CardDAV (grommunio-dav)", prefixes: ["dav", "[.]well-known/caldav", "[.]well-known/carddav"] },
  { what: "grommunio-web", prefixes: ["web"] },
];

/**
 * An anchored, case-insensitive location regex for path prefixes: `^/(?:a|b)(?:/|$)` matches
 * `/a`, `/A/x`, never `/ab` or `/web/a…`.
 */
export function anchoredPrefixRegex(prefixes: readonly string[]): string {
  const alt = prefixes.length === 1 ? prefixes[0]! : `(?:${prefixes.join("|")})`;
  return `^/${alt}(?:/|$)`;
}

/**
 * The request headers every proxied request carries. Set once at http level; a location that sets
 * any `proxy_set_header` of its own loses all inherited ones (nginx's inheritance rule), so the
 * WebSocket locations repeat this list.
 */
function proxyHeaders(): NginxDirective[] {
  return [
    directive("proxy_set_header", "Host", "$host"),
    withComment(
      directive("proxy_set_header", "X-Real-IP", "$remote_addr"),
      "the client's address: the mailbox nodes' nginx takes it from here (real_ip_header) and passes it",
      "to gromox-http (gromox.cfg http_remote_host_hdr)",
    ),
    withComment(
      directive("proxy_set_header", "X-Forwarded-For", "$remote_addr"),
      "replaced, not appended: this is the edge, a client-sent X-Forwarded-For is not evidence",
    ),
    directive("proxy_set_header", "X-Forwarded-Proto", "$scheme"),
    withComment(
      directive("proxy_set_header", "Connection", ""),
      'keep-alive connections to the backends (upstream "keepalive" needs an empty Connection header)',
    ),
  ];
}

/** `listen` directives of one port: the bind address, or all IPv4 (+ IPv6 when the node has one). */
function listens(
  node: ClusterNode,
  o: ResolvedNginxOptions,
  port: number,
  params: readonly string[],
): NginxDirective[] {
  if (o.bindAddress !== undefined) return [directive("listen", `${o.bindAddress}:${port}`, ...params)];
  return [
    directive("listen", port, ...params),
    ...(node.ipv6 !== undefined ? [directive("listen", `[::]:${port}`, ...params)] : []),
  ];
}

/** The frontend expects a PROXY header (`acceptProxyFrom`): `proxy_protocol` on its listens. */
function acceptsProxy(topology: Topology, key: PortKey): boolean {
  return topology.loadBalancer?.acceptProxy?.frontends.includes(key) ?? false;
}

function proxyListenParams(topology: Topology, key: PortKey): string[] {
  return acceptsProxy(topology, key) ? ["proxy_protocol"] : [];
}

/**
 * The client's address from the PROXY header (realip): whose headers count. The cloud load
 * balancer's addresses are not known here (an AWS NLB keeps the client's address as the peer's),
 * and only it reaches these ports (firewall plan): every header counts, as HAProxy's
 * `accept-proxy` does. With `acceptProxyFrom` addresses, only theirs.
 */
function proxySenders(topology: Topology): readonly string[] {
  const from = topology.loadBalancer!.acceptProxy!.from;
  return from === "cloud-lb" ? ["0.0.0.0/0", "::/0"] : from;
}

/**
 * The opening of a server on the public HTTPS port: its listens (HTTP/2, PROXY when the frontend
 * expects it, `default_server` for the mail host's), the name, realip and the TLS settings.
 */
function publicHttpsServerHead(
  topology: Topology,
  node: ClusterNode,
  o: ResolvedNginxOptions,
  serverName: string,
  defaultServer: boolean,
): NginxNode[] {
  return [
    ...listens(node, o, PORTS.publicHttps.port, [
      "ssl",
      "http2",
      ...(defaultServer ? ["default_server"] : []),
      ...proxyListenParams(topology, "publicHttps"),
    ]),
    directive("server_name", serverName),
    ...httpRealIp(topology, "publicHttps"),
    ...tlsServerSettings(o),
  ];
}

/** realip settings of an HTTP server whose listens carry `proxy_protocol` (none otherwise). */
function httpRealIp(topology: Topology, key: PortKey): NginxNode[] {
  if (!acceptsProxy(topology, key)) return [];
  return [
    withComment(
      directive("real_ip_header", "proxy_protocol"),
      `a PROXY header precedes every connection (acceptProxyFrom ${describeSenders(topology)}): $remote_addr`,
      "becomes the client's address for X-Real-IP, X-Forwarded-For, the hash and the logs",
    ),
    ...proxySenders(topology).map((a) => directive("set_real_ip_from", a)),
  ];
}

function describeSenders(topology: Topology): string {
  const from = topology.loadBalancer!.acceptProxy!.from;
  return from === "cloud-lb" ? "cloud-lb" : from.join(" ");
}

/** An `upstream` block: balancing method first (nginx requires it before `keepalive`), servers, keepalive. */
function upstreamBlock(
  name: string,
  about: string[],
  balance: NginxDirective,
  servers: ReadonlyArray<{ label: string; endpoint: string }>,
  keepalive?: number,
): NginxBlock {
  return withComment(
    block(
      "upstream",
      [name],
      [
        balance,
        ...servers.map((s) => withComment(directive("server", s.endpoint), s.label)),
        ...(keepalive !== undefined ? [directive("keepalive", keepalive)] : []),
      ],
    ),
    ...about,
  );
}

/** Same client address → same backend while it is up (`consistent`: adding a node moves few clients). */
const BY_CLIENT = directive("hash", "$remote_addr", "consistent");

function poolScheme(members: readonly PoolMember[]): "https" | "http" {
  return members.every((m) => m.tls) ? "https" : "http";
}

function header(node: ClusterNode, what: string): NginxNode[] {
  return [comment(`${what} of load balancer ${node.hostname}, generated by cdktf-grommunio. Do not edit.`), BLANK];
}

/** /etc/nginx/nginx.conf */
function mainConf(topology: Topology, node: ClusterNode, o: ResolvedNginxOptions): NginxNode[] {
  const lb = topology.loadBalancer!;
  const nodes: NginxNode[] = [
    ...header(node, "nginx.conf"),
    withComment(
      directive("load_module", NGINX_PATHS.streamModule),
      "the stream module (package libnginx-mod-stream); loaded here rather than through Debian's",
      "modules-enabled/, so this file states every module it uses",
    ),
    BLANK,
    directive("user", o.user),
    directive("worker_processes", "auto"),
    withComment(
      directive("worker_rlimit_nofile", o.fdLimit),
      "worker_connections plus headroom for listeners and logs: nginx never runs out of descriptors",
    ),
    directive("pid", o.pidFile),
    directive("error_log", o.errorLog),
    BLANK,
    block("events", [], [directive("worker_connections", o.workerConnections)]),
  ];

  // ---- stream: SMTP, submission, IMAPS, POP3S to the classic nodes ----
  if (topology.classicNodes.length > 0) {
    const stream: NginxNode[] = [];
    for (const s of NGINX_MAIL_SERVICES) {
      stream.push(
        upstreamBlock(
          s.upstream,
          [`${PORTS[s.backend].description}; a client address stays on one node while it is up`],
          BY_CLIENT,
          topology.classicNodes.map((n) => ({ label: n.hostname, endpoint: `${n.ipv4}:${PORTS[s.backend].port}` })),
        ),
        BLANK,
      );
    }
    for (const s of NGINX_MAIL_SERVICES) {
      const proxied = lb.proxyProtocol[s.service];
      const long = s.service === "imap" || s.service === "pop3";
      const children: NginxNode[] = [
        ...listens(node, o, PORTS[s.frontend].port, proxyListenParams(topology, s.frontend)),
        ...(acceptsProxy(topology, s.frontend)
          ? [
              withComment(
                directive("set_real_ip_from", proxySenders(topology)[0]!),
                `a PROXY header precedes every connection (acceptProxyFrom ${describeSenders(topology)}): $remote_addr,`,
                "the hash and the PROXY header sent on to the classic node carry the client's address",
              ),
              ...proxySenders(topology)
                .slice(1)
                .map((a) => directive("set_real_ip_from", a)),
            ]
          : []),
        directive("proxy_pass", s.upstream),
        proxied
          ? withComment(
              directive("proxy_protocol", "on"),
              `PROXY v1 header: proxyProtocol.${s.service} is declared, and postfix on the classic nodes expects it`,
              `(${s.service === "smtp" ? "postscreen_upstream_proxy_protocol" : "smtpd_upstream_proxy_protocol"}=haproxy, rendered from the same declaration)`,
            )
          : comment(
              `no PROXY header: proxyProtocol.${s.service} is false${long ? ` (gromox-${s.service} reads only PROXY v2, which nginx cannot send)` : ""},`,
              `so the classic nodes log this load balancer's address for ${s.service}`,
            ),
        withComment(
          directive("proxy_connect_timeout", "5s"),
          "a stopped classic node is skipped after this (proxy_next_upstream is on)",
        ),
        long
          ? withComment(directive("proxy_timeout", "1h"), "IMAP IDLE: clients re-issue IDLE every 29 minutes")
          : directive("proxy_timeout", "10m"),
      ];
      stream.push(withComment(block("server", [], children), `${PORTS[s.frontend].description}`), BLANK);
    }
    nodes.push(
      BLANK,
      withComment(
        block("stream", [], stream),
        "TCP proxying to the classic nodes. TLS (IMAPS, POP3S, STARTTLS) stays end to end.",
      ),
    );
  }

  // ---- http: settings every server and location inherits, then the site files ----
  const http: NginxNode[] = [
    directive("server_tokens", "off"),
    directive("default_type", "application/octet-stream"),
    directive("access_log", o.accessLog),
    BLANK,
    withComment(directive("include", NGINX_PATHS.sslParams), "TLS settings of the 443 and 8443 servers"),
    BLANK,
    comment("proxying (inherited by every server and location)"),
    withComment(directive("client_max_body_size", 0), "no limit: mail attachments, EWS and MAPI uploads"),
    directive("proxy_http_version", "1.1"),
    withComment(
      directive("proxy_buffering", "off"),
      "stream both ways: RPC/HTTP's RPC_IN_DATA/RPC_OUT_DATA never complete and long polls",
      "(MAPI/HTTP NotificationWait, EAS Ping) must reach the client at once",
    ),
    directive("proxy_request_buffering", "off"),
    withComment(
      directive("proxy_connect_timeout", "5s"),
      "a stopped backend is skipped after this (proxy_next_upstream error timeout, the default)",
    ),
    withComment(
      directive("proxy_read_timeout", NGINX_PROXY_READ_TIMEOUT),
      "the one read timeout: long polls and RPC/HTTP channels stay open for hours",
    ),
    ...proxyHeaders(),
    withComment(
      directive("proxy_ssl_protocols", "TLSv1.2", "TLSv1.3"),
      "to the backends: encrypted, not verified (they are reached by private address and grommunio's",
      "installer gives the nodes a self-signed certificate)",
    ),
    BLANK,
    directive("include", NGINX_PATHS.site),
  ];
  if (lb.adminAllowFrom !== undefined) http.push(directive("include", NGINX_PATHS.admin));
  nodes.push(BLANK, block("http", [], http));
  return nodes;
}

/** TLS of a server: certificate, key and HSTS. */
function tlsServerSettings(o: ResolvedNginxOptions): NginxNode[] {
  return [
    directive("ssl_certificate", o.certificatePath),
    directive("ssl_certificate_key", o.certificateKeyPath),
    withComment(
      directive("add_header", "Strict-Transport-Security", "max-age=31536000", "always"),
      "HSTS (on every response, errors included; no location below sets add_header, so it is inherited)",
    ),
  ];
}

/** /etc/nginx/conf.d/grommunio-lb.conf */
function siteConf(topology: Topology, node: ClusterNode, o: ResolvedNginxOptions): NginxNode[] {
  const lb = topology.loadBalancer!;
  const pools = nginxPools(topology);
  const websocket = pools.some((p) => WEBSOCKET_POOLS.includes(p));
  const nodes: NginxNode[] = [...header(node, "HTTP upstreams and servers")];
  if (websocket) {
    nodes.push(
      withComment(
        block("map", ["$http_upgrade", "$connection_upgrade"], [entry("default", "upgrade"), entry("", "")]),
        "WebSocket: Connection: upgrade when the client asks for an upgrade, else empty (keep-alive)",
      ),
      BLANK,
    );
  }
  nodes.push(
    upstreamBlock(
      UPSTREAM.mailbox,
      [
        "The mailbox nodes' web servers (nginx, TLS): grommunio-web, -sync, -dav, and the Exchange",
        "protocols, which each node hands to its own gromox-http.",
        "MAPI/HTTP and RPC/HTTP sessions and web sessions live in one node's memory: a client address",
        "stays on one node while it is up; any node reaches every home store over exmdb.",
      ],
      BY_CLIENT,
      topology.mailboxNodes.map((n) => ({ label: n.hostname, endpoint: `${n.ipv4}:${PORTS.mailboxWeb.port}` })),
      32,
    ),
    BLANK,
  );
  for (const p of pools) {
    const members = lb.pools.get(p)!;
    nodes.push(
      upstreamBlock(
        poolUpstream(p),
        [`pool "${p}"`],
        BY_CLIENT,
        members.map((m) => ({ label: m.name, endpoint: `${m.address}:${m.port}` })),
        16,
      ),
      BLANK,
    );
  }

  // ---- 80: redirect only ----
  nodes.push(
    withComment(
      block(
        "server",
        [],
        [
          ...listens(node, o, PORTS.publicHttp.port, ["default_server", ...proxyListenParams(topology, "publicHttp")]),
          ...httpRealIp(topology, "publicHttp"),
          withComment(
            directive("server_name", lb.publicName),
            "any Host is served (default_server); the name is $host for HTTP/1.0 requests without Host",
          ),
          withComment(
            block("location", ["/"], [directive("return", 301, "https://$host$request_uri")]),
            "the host the client asked for ($server_name would be the configured name, or '_' upstream)",
          ),
        ],
      ),
      `${PORTS.publicHttp.description}`,
    ),
    BLANK,
  );

  // ---- 443 ----
  const locations: NginxNode[] = [
    withComment(
      block("location", ["~*", anchoredPrefixRegex(["admin", "antispam"])], [directive("return", 404)]),
      "the admin web/API and the antispam UI are never public: they are served on",
      `${PORTS.publicAdmin.port} to the admin allow list only${lb.adminAllowFrom === undefined ? " (not configured)" : ""}`,
    ),
    BLANK,
  ];
  for (const r of MAILBOX_ROUTES) {
    const extra: NginxNode[] =
      r.prefixes[0] === "rpc"
        ? [
            withComment(
              directive("client_body_timeout", NGINX_PROXY_READ_TIMEOUT),
              "the RPC_IN_DATA channel can stay silent for minutes between keep-alive pings",
            ),
          ]
        : [];
    locations.push(
      withComment(
        block(
          "location",
          ["~*", anchoredPrefixRegex(r.prefixes)],
          [directive("proxy_pass", `https://${UPSTREAM.mailbox}`), ...extra],
        ),
        r.what,
      ),
    );
  }
  for (const p of pools) {
    const ws = WEBSOCKET_POOLS.includes(p);
    const scheme = poolScheme(lb.pools.get(p)!);
    locations.push(
      withComment(
        block(
          "location",
          ["~*", anchoredPrefixRegex(NGINX_POOL_PATHS[p])],
          [
            directive("proxy_pass", `${scheme}://${poolUpstream(p)}`),
            ...(ws
              ? [
                  comment("WebSocket upgrades; setting headers here drops the inherited ones, so all are repeated"),
                  ...proxyHeaders().filter((d) => !(d.args[0] === "Connection")),
                  directive("proxy_set_header", "Upgrade", "$http_upgrade"),
                  directive("proxy_set_header", "Connection", "$connection_upgrade"),
                ]
              : []),
          ],
        ),
        `pool "${p}"`,
      ),
    );
  }
  locations.push(
    BLANK,
    withComment(
      block("location", ["/"], [directive("proxy_pass", `https://${UPSTREAM.mailbox}`)]),
      "everything else (/, /.well-known/…, static files): the mailbox nodes",
    ),
  );
  if (o.mtaSts) {
    nodes.push(
      withComment(
        block(
          "server",
          [],
          [
            ...publicHttpsServerHead(topology, node, o, o.mtaSts.host, false),
            BLANK,
            withComment(
              block(
                "location",
                ["=", MTA_STS_POLICY_PATH],
                [directive("default_type", "text/plain"), directive("alias", NGINX_PATHS.mtaStsPolicy)],
              ),
              "the policy the _mta-sts TXT record's id names (built from the same options)",
            ),
            block("location", ["/"], [directive("return", 404)]),
          ],
        ),
        "MTA-STS (RFC 8461): senders fetch the policy over HTTPS; plain HTTP is redirected by the 80 server",
      ),
      BLANK,
    );
  }
  nodes.push(
    withComment(
      block(
        "server",
        [],
        [
          ...publicHttpsServerHead(topology, node, o, lb.publicName, true),
          BLANK,
          comment(
            "Regex locations are anchored (^/…(?:/|$)) and case-insensitive, so /web/administration",
            "never matches an /admin route; proxy_pass has no URI part, so the request URI reaches the",
            "backend unchanged (query string included).",
          ),
          ...locations,
        ],
      ),
      `${PORTS.publicHttps.description}`,
    ),
  );
  return nodes;
}

/** /etc/nginx/conf.d/grommunio-admin.conf */
function adminConf(topology: Topology, node: ClusterNode, o: ResolvedNginxOptions): NginxNode[] {
  const lb = topology.loadBalancer!;
  return [
    ...header(node, "admin server"),
    upstreamBlock(
      UPSTREAM.admin,
      ["grommunio admin web and API on the admin nodes"],
      BY_CLIENT,
      topology.adminNodes.map((n) => ({ label: n.hostname, endpoint: `${n.ipv4}:${PORTS.adminWeb.port}` })),
      8,
    ),
    BLANK,
    withComment(
      block(
        "server",
        [],
        [
          ...listens(node, o, PORTS.publicAdmin.port, ["ssl", "http2"]),
          directive("server_name", lb.publicName),
          ...tlsServerSettings(o),
          BLANK,
          comment("only the admin allow list; everyone else gets 403"),
          ...lb.adminAllowFrom!.map((a) => directive("allow", a)),
          directive("deny", "all"),
          BLANK,
          block("location", ["/"], [directive("proxy_pass", `https://${UPSTREAM.admin}`)]),
        ],
      ),
      `${PORTS.publicAdmin.description}`,
    ),
  ];
}

/** /etc/nginx/ssl_params */
function sslParams(node: ClusterNode): NginxNode[] {
  return [
    ...header(node, "TLS parameters (included in http {})"),
    directive("ssl_protocols", "TLSv1.2", "TLSv1.3"),
    withComment(
      directive("ssl_ciphers", NGINX_TLS12_CIPHERS.join(":")),
      "TLS 1.2: ECDHE key exchange (forward secrecy) with AEAD ciphers only. TLS 1.3 suites are all",
      "forward-secret (OpenSSL's defaults).",
    ),
    directive("ssl_prefer_server_ciphers", "off"),
    directive("ssl_ecdh_curve", "X25519:prime256v1:secp384r1"),
    directive("ssl_session_cache", "shared:grommunio_tls:10m"),
    directive("ssl_session_timeout", "1d"),
    withComment(
      directive("ssl_session_tickets", "off"),
      "ticket keys would never rotate without a restart, weakening forward secrecy",
    ),
  ];
}

/**
 * The nginx files of a load-balancer node (flavor nginx), sorted by path. Pure and deterministic.
 * Throws `GrommunioValidationError` with every issue of `validateNginx` when the topology, the
 * node or the options cannot give a working config.
 */
export function renderNginx(topology: Topology, node: ClusterNode, options: NginxOptions = {}): ConfigFile[] {
  const issues = validateNginx(topology, node, options);
  if (issues.length > 0) throw new GrommunioValidationError(issues);
  const o = resolveNginxOptions(options);
  const file = (path: string, nodes: NginxNode[]): ConfigFile => ({
    path,
    content: serializeNginx(nodes),
    mode: "0644",
    owner: "root:root",
  });
  const files = [
    file(NGINX_PATHS.main, mainConf(topology, node, o)),
    file(NGINX_PATHS.sslParams, sslParams(node)),
    file(NGINX_PATHS.site, siteConf(topology, node, o)),
  ];
  if (topology.loadBalancer!.adminAllowFrom !== undefined)
    files.push(file(NGINX_PATHS.admin, adminConf(topology, node, o)));
  if (o.mtaSts)
    files.push({ path: NGINX_PATHS.mtaStsPolicy, content: o.mtaSts.policy, mode: "0644", owner: "root:root" });
  return sortFiles(files);
}
