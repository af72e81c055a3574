/**
 * HAProxy configuration for load-balancer nodes (flavor haproxy): haproxy.cfg and every file it
 * references. Built from the typed model in `config.ts`; every port from `PORTS`.
 *
 * Where this departs from the upstream documentation's config (seed, "HAPROXY" and "Node-aware
 * load balancing"; reference/validators.md §9), and why:
 * - `X-Forwarded-Proto` is a request header for the backends (`http-request set-header … if
 *   { ssl_fc }`), not a response header for the client; `X-Real-IP` carries the client address
 *   to the mailbox nodes' nginx, which passes it on to gromox-http (`gromox.cfg:
 *   http_remote_host_hdr = X-Real-IP`).
 * - No rule depends on the `Host` header and there is a `default_backend`: other host names
 *   (IP literals, the nodes' own names) are served instead of getting 503.
 * - `/OAB` goes to the mailbox nodes with Autodiscover, EWS, MAPI and RPC.
 * - HTTP/1.0 is answered (dropping it is an option).
 * - Only forward-secret TLS 1.2 suites and TLS 1.3; no 3DES, no static-RSA key exchange.
 * - Mailbox-node servers are named by `servers.hostname`, the values of mailbox.map; addresses are
 *   the private IPv4 addresses (no DNS at run time).
 * - ACLs are declared before use and `redirect` follows the `http-request` rules (the node-aware
 *   config of the documentation does not load: `no such ACL`).
 * - Mailbox keys are URL-decoded and lower-cased; the login body is awaited; MailboxId is read.
 * - Every backend has health checks and `option redispatch`; the PROXY protocol is v2 and follows
 *   the topology's single declaration (gromox accepts only v2).
 * - Server options shared by a backend's servers are in its `default-server`; a `server` line is
 *   name, address[:port] and what differs per server. be_gromox and be_web list the same lines
 *   (the web cookie is set by rules, not per-server `cookie` values) and the classic backends
 *   have no port where the frontend binds only the servers' port (`omitImpliedServerPorts`), so
 *   repeated lists cost gzip almost nothing.
 * - Behind a cloud load balancer or a proxy that sends PROXY (`loadBalancer.acceptProxy`, the same
 *   field the platform configures the cloud load balancer from), the public binds `accept-proxy`,
 *   the block lists become `tcp-request session` rules (they judge the client, not the proxy) and,
 *   with a list of proxies, everyone else is refused (`proxy-from.lst`).
 */
import { ClusterNode, OptionalPool, PoolMember, Topology } from "../../topology/model";
import { GrommunioValidationError } from "../../topology/errors";
import { PORTS, PortKey, SOCKETS } from "../../topology/ports";
import { ConfigFile, sortFiles } from "../types";
import {
  Acl,
  Bind,
  Condition,
  Directive,
  FrontendSection,
  HaproxyConfig,
  Rule,
  Server,
  omitImpliedServerPorts,
  serializeHaproxyConfig,
  unless,
  when,
} from "./config";
import { MAILBOX_MAP_PATH, renderMailboxMap } from "./mailbox-map";
import { MTA_STS_POLICY_PATH } from "../dns/mta-sts";
import { HaproxyOptions, ResolvedHaproxyOptions, resolveHaproxyOptions } from "./options";
import { TCP_SERVICES, poolsInOrder, validateHaproxy } from "./validate";

export const HAPROXY_CFG_PATH = "/etc/haproxy/haproxy.cfg";
export const ADMIN_ALLOW_LIST_PATH = "/etc/haproxy/admin-allow.lst";
/** The MTA-STS policy file (`options.mtaSts`), answered by `http-request return`. */
export const MTA_STS_POLICY_FILE = "/etc/haproxy/mta-sts.txt";
/** The proxies whose PROXY headers the public frontends accept (`acceptProxyFrom` as addresses). */
export const PROXY_FROM_LIST_PATH = "/etc/haproxy/proxy-from.lst";
export const SYSTEMD_LIMITS_PATH = "/etc/systemd/system/haproxy.service.d/limits.conf";

/** Block list (one address or CIDR per line) of a frontend. */
export function blockListPath(frontend: "http" | "imaps" | "pop3s" | "smtp" | "submission"): string {
  return `/etc/haproxy/blocklist-${frontend}.lst`;
}

/**
 * TLS 1.2 suites clients may negotiate: ECDHE key exchange only (forward secrecy), AEAD first,
 * then the SHA-2 CBC suites older Outlook/ActiveSync clients on Windows 7/8 need. No static RSA
 * (`AES128-SHA`), no DHE (needs a DH group file), no 3DES, no SHA-1 MACs.
 */
export const TLS12_CIPHERS: readonly string[] = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "ECDHE-ECDSA-AES128-SHA256",
  "ECDHE-RSA-AES128-SHA256",
  "ECDHE-ECDSA-AES256-SHA384",
  "ECDHE-RSA-AES256-SHA384",
];

/** TLS 1.3 suites (`ssl-default-bind-ciphersuites`; `TLS_*` names are ignored in `…-ciphers`). */
export const TLS13_CIPHERSUITES: readonly string[] = [
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
];

/** Cookie that keeps a grommunio-web session on the node that served its login. */
export const WEB_NODE_COOKIE = "grommunio_node";

/** How long HAProxy waits for a web-login POST body before routing without it. */
export const LOGIN_BODY_WAIT = "2s";

const BE_GROMOX = "be_gromox";
const BE_WEB = "be_web";
const BE_ADMIN = "be_admin";

/**
 * The HAProxy files of load-balancer node `node` (tier flavor haproxy), sorted by path:
 * `/etc/haproxy/haproxy.cfg`; the block lists it references (empty: one comment line); the admin
 * allow list (when `adminAllowFrom` is set); an initial, empty `/etc/haproxy/mailbox.map` (with
 * node-aware routing; fill it with `renderMailboxMap`, or at run time through the stats socket);
 * and the systemd drop-in `haproxy.service.d/limits.conf` whose `LimitNOFILE` equals `ulimit-n`.
 * The TLS certificate (`options.certificatePath`) is not rendered. Pure and deterministic.
 * Throws `GrommunioValidationError` with every issue of `validateHaproxy` (GRX100–GRX112).
 */
export function renderHaproxy(topology: Topology, node: ClusterNode, options: HaproxyOptions = {}): ConfigFile[] {
  const issues = validateHaproxy(topology, node, options);
  if (issues.length > 0) throw new GrommunioValidationError(issues);
  const o = resolveHaproxyOptions(options);
  const lb = topology.loadBalancer!;
  const files: ConfigFile[] = [
    { path: HAPROXY_CFG_PATH, content: renderHaproxyCfg(topology, node, o), mode: "0640", owner: "root:haproxy" },
    listFile(blockListPath("http"), "blocked client addresses for HTTP/HTTPS (one address or CIDR per line)"),
    {
      path: SYSTEMD_LIMITS_PATH,
      content: [
        "# File descriptors for HAProxy: ulimit-n in haproxy.cfg = 2 x maxconn + headroom.",
        "[Service]",
        `LimitNOFILE=${o.fdLimit}`,
        "",
      ].join("\n"),
      mode: "0644",
      owner: "root:root",
    },
  ];
  if (topology.classicNodes.length > 0) {
    for (const s of TCP_SERVICES) {
      files.push(
        listFile(blockListPath(s.name), `blocked client addresses for ${s.name} (one address or CIDR per line)`),
      );
    }
  }
  if (lb.adminAllowFrom !== undefined) {
    files.push({
      path: ADMIN_ALLOW_LIST_PATH,
      content: [
        "# networks allowed to reach the admin frontend (LoadBalancerTier adminAllowFrom)",
        ...lb.adminAllowFrom,
        "",
      ].join("\n"),
      mode: "0640",
      owner: "root:haproxy",
    });
  }
  if (lb.acceptProxy && lb.acceptProxy.from !== "cloud-lb") {
    files.push({
      path: PROXY_FROM_LIST_PATH,
      content: [
        "# proxies that may connect to the public frontends, each with a PROXY header (LoadBalancerTier acceptProxyFrom)",
        ...lb.acceptProxy.from,
        "",
      ].join("\n"),
      mode: "0640",
      owner: "root:haproxy",
    });
  }
  if (o.mtaSts) {
    files.push({ path: MTA_STS_POLICY_FILE, content: o.mtaSts.policy, mode: "0644", owner: "root:haproxy" });
  }
  if (lb.nodeAwareRouting) files.push(renderMailboxMap([]));
  return sortFiles(files);
}

function listFile(path: string, what: string): ConfigFile {
  return { path, content: `# ${what}\n`, mode: "0640", owner: "root:haproxy" };
}

function d(keyword: string, ...args: string[]): Directive {
  return { keyword, args };
}

/** The binds of a frontend on `port`; `ipv6`: the node has an IPv6 address. */
function binds(ipv6: boolean, o: ResolvedHaproxyOptions, port: number, params: string[] = []): Bind[] {
  if (o.bindAddress !== undefined) return [{ address: `${o.bindAddress}:${port}`, params }];
  return [{ address: `:${port}`, params }, ...(ipv6 ? [{ address: `:::${port}`, params: ["v6only", ...params] }] : [])];
}

/**
 * Frontend `port` of the tier expects a PROXY header (`acceptProxyFrom`): `accept-proxy` on its
 * binds. HAProxy then uses the header's addresses everywhere (`src`, X-Real-IP, logs, the PROXY
 * header it sends on to postfix and gromox), except in `tcp-request connection` rules, which see
 * the real peer (HAProxy manual, `accept-proxy`).
 */
function acceptsProxy(topology: Topology, key: PortKey): boolean {
  return topology.loadBalancer?.acceptProxy?.frontends.includes(key) ?? false;
}

/**
 * The `tcp-request` rules of a public frontend: the block list, checked against the client's
 * address. Behind a PROXY sender that address is known only after the header, so the rule becomes
 * a `session` rule; with a list of senders, connections from anyone else are refused first.
 */
function publicTcpRules(topology: Topology, key: PortKey): Rule[] {
  if (!acceptsProxy(topology, key)) return [{ action: ["connection", "reject"], cond: when("blocked") }];
  const listed = topology.loadBalancer!.acceptProxy!.from !== "cloud-lb";
  return [
    ...(listed
      ? [
          {
            action: ["connection", "reject"],
            cond: unless("proxy_sender"),
            comment: ["only the declared proxies connect here (acceptProxyFrom); connection rules see the real peer"],
          },
        ]
      : []),
    {
      action: ["session", "reject"],
      cond: when("blocked"),
      comment: ["after the PROXY header: the block list applies to the client's address, not the proxy's"],
    },
  ];
}

/** `accept-proxy` on the binds of a frontend that expects a PROXY header. */
function proxyParams(topology: Topology, key: PortKey): string[] {
  return acceptsProxy(topology, key) ? ["accept-proxy"] : [];
}

function proxySenderAcls(topology: Topology, key: PortKey): Acl[] {
  const ap = topology.loadBalancer?.acceptProxy;
  if (!ap || ap.from === "cloud-lb" || !acceptsProxy(topology, key)) return [];
  return [{ name: "proxy_sender", criterion: ["src", "-f", PROXY_FROM_LIST_PATH] }];
}

function tlsBindParams(o: ResolvedHaproxyOptions): string[] {
  return ["ssl", "crt", o.certificatePath, "alpn", "h2,http/1.1"];
}

/** TLS parameters every server towards a TLS backend shares (`default-server`). */
function tlsDefaults(o: ResolvedHaproxyOptions): string[] {
  return o.backendCaFile !== undefined
    ? ["ssl", "verify", "required", "ca-file", o.backendCaFile]
    : ["ssl", "verify", "none"];
}

/** TLS parameters of the server line of a TLS backend named `name` (with a CA: the name to verify). */
function tlsOfServer(o: ResolvedHaproxyOptions, name: string): string[] {
  return o.backendCaFile !== undefined ? ["verifyhost", name, "sni", `str(${name})`] : [];
}

function pathAcl(name: string, ...prefixes: string[]): Acl {
  return { name, criterion: ["path_beg", "-i", ...prefixes] };
}

/**
 * `default-server` of a backend: health checks for every server, down after 3 failed checks 3 s
 * apart, then `extra` (what else all its servers share, e.g. TLS).
 */
function serverDefaults(...extra: string[]): string[] {
  return ["check", "inter", "3s", "fall", "3", "rise", "2", ...extra];
}

/** The use-server rule of node-aware routing (the map's values are the server names). */
const USE_HOME_SERVER = {
  server: `%[var(txn.mbox),map(${MAILBOX_MAP_PATH})]`,
  cond: when("{ var(txn.mbox) -m found }"),
};

/** Path prefixes of each optional pool. */
const POOL_PATHS: Readonly<Record<OptionalPool, readonly string[]>> = {
  auth: ["/auth"],
  chat: ["/chat"],
  meet: ["/meet", "/colibri-ws"],
  files: ["/files"],
  office: ["/office"],
  archive: ["/archive"],
};

/**
 * Mailbox-node servers of be_gromox and be_web: each node's web server (`PORTS.mailboxWeb`,
 * nginx), which serves the PHP applications and proxies the Exchange protocols to its own
 * gromox-http. The lines are the same in both backends (the web cookie holds the server name,
 * not a per-server `cookie` value), which makes the second list nearly free in the gzipped
 * user-data.
 */
function mailboxServers(topology: Topology, o: ResolvedHaproxyOptions): Server[] {
  return topology.mailboxNodes.map((n) => ({
    name: n.hostname,
    address: n.ipv4,
    port: PORTS.mailboxWeb.port,
    params: tlsOfServer(o, n.hostname),
  }));
}

/**
 * haproxy.cfg after its header comment, by topology, then by what else it depends on: the
 * resolved options and whether the node has an IPv6 address (nothing else of the node; its name
 * is in the header). The load balancers of a tier share it.
 */
const cfgBodies = new WeakMap<Topology, Map<string, string>>();

/** Renders haproxy.cfg for a validated topology (see `renderHaproxy`). */
function renderHaproxyCfg(topology: Topology, node: ClusterNode, o: ResolvedHaproxyOptions): string {
  const lb = topology.loadBalancer!;
  const ipv6 = node.ipv6 !== undefined;
  let bodies = cfgBodies.get(topology);
  if (bodies === undefined) {
    bodies = new Map<string, string>();
    cfgBodies.set(topology, bodies);
  }
  const key = JSON.stringify([o, ipv6]);
  let body = bodies.get(key);
  if (body === undefined) {
    body = haproxyCfgBody(topology, ipv6, o);
    bodies.set(key, body);
  }
  // (the header alone serializes as its block and a newline; the blocks of a config are
  // separated by an empty line)
  const header = serializeHaproxyConfig({
    header: [
      `haproxy.cfg for ${node.hostname} (${topology.path}, load-balancer tier ${lb.publicName})`,
      "Generated by cdktf-grommunio; HAProxy 2.6. Check with: haproxy -c -dW -f /etc/haproxy/haproxy.cfg",
    ],
    sections: [],
  });
  return `${header}\n${body}`;
}

/** The sections of haproxy.cfg, serialized (`renderHaproxyCfg`). */
function haproxyCfgBody(topology: Topology, ipv6: boolean, o: ResolvedHaproxyOptions): string {
  const lb = topology.loadBalancer!;
  const nodeAware = lb.nodeAwareRouting;
  const pools = poolsInOrder(topology);
  const sections: HaproxyConfig["sections"][number][] = [];

  sections.push({
    kind: "global",
    directives: [
      d("log", o.logTarget, "local0"),
      d("chroot", "/var/lib/haproxy"),
      d("user", "haproxy"),
      d("group", "haproxy"),
      {
        keyword: "stats",
        args: ["socket", SOCKETS.haproxyStats, "mode", "600", "level", "admin"],
        comment: ["runtime API (unix socket only, root): map updates without reloads, server state"],
      },
      d("stats", "timeout", "30s"),
      {
        keyword: "maxconn",
        args: [String(o.maxConnections)],
        comment: [`each connection holds two descriptors: ulimit-n = 2 x maxconn + headroom = systemd LimitNOFILE`],
      },
      d("ulimit-n", String(o.fdLimit)),
      {
        keyword: "ssl-default-bind-ciphers",
        args: [TLS12_CIPHERS.join(":")],
        comment: ["TLS 1.2: ECDHE (forward-secret) suites only; TLS 1.3 suites below; no 3DES, no static RSA"],
      },
      d("ssl-default-bind-ciphersuites", TLS13_CIPHERSUITES.join(":")),
      d("ssl-default-bind-options", "ssl-min-ver", "TLSv1.2", "no-tls-tickets"),
      d("ssl-default-server-options", "ssl-min-ver", "TLSv1.2"),
    ],
  });
  sections.push({
    kind: "defaults",
    directives: [
      d("log", "global"),
      d("option", "dontlognull"),
      d("retries", "3"),
      d("timeout", "connect", "5s"),
      d("timeout", "client", "300s"),
      d("timeout", "server", "300s"),
      d("timeout", "queue", "30s"),
      d("timeout", "http-request", "10s"),
      d("timeout", "http-keep-alive", "10s"),
      {
        keyword: "timeout",
        args: ["tunnel", "1h"],
        comment: ["WebSockets (meet, chat) and other upgraded connections"],
      },
      d("timeout", "check", "5s"),
    ],
  });

  // ---- fe_http: 80 (redirect) and 443 ----
  const acls: Acl[] = [
    ...proxySenderAcls(topology, "publicHttps"),
    { name: "blocked", criterion: ["src", "-f", blockListPath("http")] },
    pathAcl("autodiscover", "/autodiscover"),
    pathAcl("ews", "/ews"),
    pathAcl("mapi", "/mapi"),
    pathAcl("rpc", "/rpc"),
    pathAcl("oab", "/oab"),
    pathAcl("eas", "/microsoft-server-activesync"),
    pathAcl("dav", "/dav", "/.well-known/caldav", "/.well-known/carddav"),
    pathAcl("web", "/web"),
    ...pools.map((p) => pathAcl(`pool_${p}`, ...POOL_PATHS[p])),
  ];
  const httpRequest: Rule[] = [];
  if (o.dropHttp10) {
    httpRequest.push({ action: ["silent-drop"], cond: when("HTTP_1.0"), comment: ["option dropHttp10"] });
  }
  if (o.mtaSts) {
    acls.push(
      {
        name: "mta_sts_host",
        criterion: ["hdr(host),host_only,lower", "-m", "str", o.mtaSts.host.toLowerCase()],
        comment: ["MTA-STS (RFC 8461): senders fetch the policy over HTTPS from mta-sts.<domain>"],
      },
      { name: "mta_sts_path", criterion: ["path", "-m", "str", MTA_STS_POLICY_PATH] },
    );
    httpRequest.push({
      action: ["return", "status", "200", "content-type", "text/plain", "file", MTA_STS_POLICY_FILE],
      cond: when("mta_sts_host mta_sts_path { ssl_fc }"),
      comment: ["the policy the _mta-sts TXT record's id names (same options); plain HTTP is redirected below"],
    });
  }
  httpRequest.push(
    {
      action: ["set-header", "X-Forwarded-Proto", "https"],
      cond: when("{ ssl_fc }"),
      comment: ["for the backends (the documentation set it on the response, where no backend sees it)"],
    },
    {
      action: ["set-header", "X-Real-IP", "%[src]"],
      comment: [
        "the client's address: the mailbox nodes' nginx believes it from the load balancers",
        "(real_ip_header) and passes it to gromox-http (gromox.cfg http_remote_host_hdr)",
      ],
    },
  );
  if (nodeAware) {
    const map = `map(${MAILBOX_MAP_PATH})`;
    acls.push(
      {
        name: "mbox_auth",
        criterion: [`http_auth_user,lower,${map}`, "-m", "found"],
        comment: [
          "node-aware routing: the mailbox key of a request, looked up in mailbox.map (keys lower case).",
          "Basic-auth user names are base64, not URL-encoded: lower-case only.",
        ],
      },
      { name: "mbox_login", criterion: [`req.body_param(username),url_dec(1),lower,${map}`, "-m", "found"] },
      { name: "mbox_rpc", criterion: [`query,field(1,:),url_dec,lower,${map}`, "-m", "found"] },
      { name: "mbox_id", criterion: [`urlp(MailboxId),url_dec,lower,${map}`, "-m", "found"] },
    );
    httpRequest.push(
      {
        action: ["wait-for-body", "time", LOGIN_BODY_WAIT],
        cond: when("web METH_POST { ssl_fc }"),
        comment: [
          "grommunio-web's login form POSTs username=… to /web/index.php?logon; wait for the body",
          "(also with Expect: 100-continue) so that req.body_param can read it",
        ],
      },
      {
        action: ["set-var(txn.mbox)", "http_auth_user,lower"],
        cond: when("mbox_auth"),
        comment: ["later rules win: Basic auth < web login < RPC/HTTP id < MAPI/HTTP MailboxId"],
      },
      {
        action: ["set-var(txn.mbox)", "req.body_param(username),url_dec(1),lower"],
        cond: when("web METH_POST mbox_login"),
      },
      { action: ["set-var(txn.mbox)", "query,field(1,:),url_dec,lower"], cond: when("rpc mbox_rpc") },
      { action: ["set-var(txn.mbox)", "urlp(MailboxId),url_dec,lower"], cond: when("mbox_id") },
    );
  }
  const useBackends: Array<{ backend: string; cond: Condition }> = [
    ...pools.map((p) => ({ backend: `be_${p}`, cond: when(`pool_${p}`) })),
    { backend: BE_GROMOX, cond: when("autodiscover or ews or mapi or rpc or oab") },
    { backend: BE_WEB, cond: when("eas or dav or web") },
  ];
  const feHttp: FrontendSection = {
    kind: "frontend",
    name: "fe_http",
    mode: "http",
    comment: ["HTTP (redirected) and HTTPS; routing by path only, any Host"],
    settings: [d("option", "httplog"), d("option", "forwardfor")],
    binds: [
      ...binds(ipv6, o, PORTS.publicHttp.port, proxyParams(topology, "publicHttp")),
      ...binds(ipv6, o, PORTS.publicHttps.port, [...proxyParams(topology, "publicHttps"), ...tlsBindParams(o)]),
    ],
    acls,
    tcpRequest: publicTcpRules(topology, "publicHttps"),
    httpRequest,
    redirects: [{ action: ["scheme", "https", "code", "301"], cond: unless("{ ssl_fc }") }],
    httpResponse: [
      { action: ["set-header", "Strict-Transport-Security", "max-age=31536000"], cond: when("{ ssl_fc }") },
      { action: ["set-header", "X-Content-Type-Options", "nosniff"] },
      { action: ["set-header", "X-Frame-Options", "SAMEORIGIN"] },
    ],
    useBackends,
    defaultBackend: BE_WEB,
  };
  sections.push(feHttp);

  // ---- fe_admin (8443), only when an allow list is declared ----
  if (lb.adminAllowFrom !== undefined) {
    sections.push({
      kind: "frontend",
      name: "fe_admin",
      mode: "http",
      comment: ["grommunio admin (web + API): only the networks in admin-allow.lst get a TLS handshake"],
      settings: [d("option", "httplog"), d("option", "forwardfor")],
      binds: binds(ipv6, o, PORTS.publicAdmin.port, tlsBindParams(o)),
      acls: [{ name: "admin_allowed", criterion: ["src", "-f", ADMIN_ALLOW_LIST_PATH] }],
      tcpRequest: [{ action: ["connection", "reject"], cond: unless("admin_allowed") }],
      httpRequest: [
        { action: ["set-header", "X-Forwarded-Proto", "https"], cond: when("{ ssl_fc }") },
        { action: ["set-header", "X-Real-IP", "%[src]"] },
      ],
      httpResponse: [
        { action: ["set-header", "Strict-Transport-Security", "max-age=31536000"] },
        { action: ["set-header", "X-Content-Type-Options", "nosniff"] },
        { action: ["set-header", "X-Frame-Options", "SAMEORIGIN"] },
      ],
      defaultBackend: BE_ADMIN,
    });
  }

  // ---- TCP frontends to the classic nodes ----
  const tcp = topology.classicNodes.length > 0 ? TCP_SERVICES : [];
  for (const s of tcp) {
    const long = s.service === "imap" || s.service === "pop3";
    sections.push({
      kind: "frontend",
      name: `fe_${s.name}`,
      mode: "tcp",
      settings: [d("option", "tcplog"), ...(long ? [d("timeout", "client", "30m")] : [])],
      binds: binds(ipv6, o, PORTS[s.frontend].port, proxyParams(topology, s.frontend)),
      acls: [
        ...proxySenderAcls(topology, s.frontend),
        { name: "blocked", criterion: ["src", "-f", blockListPath(s.name)] },
      ],
      tcpRequest: publicTcpRules(topology, s.frontend),
      defaultBackend: `be_${s.name}`,
    });
  }

  // ---- backends ----
  const stickComment = [
    "Stickiness for requests without a mapped mailbox (MAPI/HTTP and RPC/HTTP sessions live in one",
    "node's memory). use-server wins over 'stick match' but a plain 'stick on src' would then",
    "overwrite the client address's entry, so every later unmapped request from that address",
    "(NAT: other users too) would follow the last mapped user. Hence: match always, store only",
    "for requests that were not routed by the map.",
  ];
  sections.push({
    kind: "backend",
    name: BE_GROMOX,
    mode: "http",
    comment: [
      "Autodiscover, EWS, MAPI/HTTP, RPC/HTTP, OAB: the mailbox nodes' web servers, which hand them to",
      "their own gromox-http",
    ],
    settings: [
      d("balance", "roundrobin"),
      d("option", "redispatch"),
      d("stick-table", "type", "ip", "size", "1m", "expire", "60m"),
    ],
    defaultServer: serverDefaults(...tlsDefaults(o)),
    ...(nodeAware
      ? {
          useServers: [{ ...USE_HOME_SERVER, comment: ["the mailbox's home node (mailbox.map value = server name)"] }],
          stickRules: [
            { keyword: "stick", args: ["match", "src"], comment: stickComment },
            { keyword: "stick", args: ["store-request", "src"], cond: unless("{ var(txn.mbox) -m found }") },
          ],
        }
      : { stickRules: [d("stick", "on", "src")] }),
    servers: mailboxServers(topology, o),
  });
  // The web cookie without HAProxy's cookie persistence, whose servers each need their own
  // `cookie <value>`: use-server rules pick the cookie's server, and http-after-response sets the
  // cookie when it does not name the server that answered. Request fetches are gone at response
  // time, hence the cookie's value in txn.node. A use-server rule naming a server that is down
  // is skipped; one naming no server ends the rules (HAProxy 2.6): balanced.
  const pin = when("served !pinned");
  sections.push({
    kind: "backend",
    name: BE_WEB,
    mode: "http",
    comment: [
      "grommunio-web, -sync (ActiveSync) and -dav on the mailbox nodes. A web session lives on the",
      `node that served the login: cookie ${WEB_NODE_COOKIE} (the server name) pins the browser there.`,
      nodeAware
        ? "Home node (map) first, then the cookie's; a down or unknown server is balanced instead."
        : "A down or unknown server is balanced instead.",
      "Set-Cookie (with Cache-Control: private) when the cookie does not name the server that answered.",
    ],
    settings: [d("balance", "roundrobin"), d("option", "redispatch")],
    defaultServer: serverDefaults(...tlsDefaults(o)),
    acls: [
      { name: "served", criterion: ["srv_name", "-m", "found"] },
      { name: "pinned", criterion: ["srv_name,strcmp(txn.node)", "eq", "0"] },
    ],
    httpRequest: [{ action: ["set-var(txn.node)", `req.cook(${WEB_NODE_COOKIE})`] }],
    httpAfterResponse: [
      { action: ["add-header", "Set-Cookie", `${WEB_NODE_COOKIE}=%[srv_name]; path=/; HttpOnly; Secure`], cond: pin },
      { action: ["add-header", "Cache-Control", "private"], cond: pin },
    ],
    useServers: [
      ...(nodeAware ? [USE_HOME_SERVER] : []),
      { server: "%[var(txn.node)]", cond: when("{ var(txn.node) -m found }") },
    ],
    servers: mailboxServers(topology, o),
  });
  if (lb.adminAllowFrom !== undefined) {
    sections.push({
      kind: "backend",
      name: BE_ADMIN,
      mode: "http",
      settings: [d("balance", "roundrobin"), d("option", "redispatch")],
      defaultServer: serverDefaults(...tlsDefaults(o)),
      servers: topology.adminNodes.map((n) => ({
        name: n.hostname,
        address: n.ipv4,
        port: PORTS.adminWeb.port,
        params: tlsOfServer(o, n.hostname),
      })),
    });
  }
  for (const p of pools) {
    const members: readonly PoolMember[] = lb.pools.get(p) ?? [];
    // TLS settings go to default-server when every member speaks TLS (the usual pool).
    const allTls = members.every((m) => m.tls);
    sections.push({
      kind: "backend",
      name: `be_${p}`,
      mode: "http",
      settings: [
        ...(p === "meet"
          ? [
              { ...d("balance", "url_param", "room"), comment: ["one conference room per server"] },
              d("hash-type", "consistent"),
            ]
          : [d("balance", "roundrobin")]),
        d("option", "redispatch"),
        d("stick-table", "type", "ip", "size", "1m", "expire", "60m"),
      ],
      defaultServer: serverDefaults(...(allTls ? tlsDefaults(o) : [])),
      stickRules: [d("stick", "on", "src")],
      servers: members.map((m) => ({
        name: m.name,
        address: m.address,
        port: m.port,
        params: m.tls ? [...(allTls ? [] : tlsDefaults(o)), ...tlsOfServer(o, m.name)] : [],
      })),
    });
  }
  for (const s of tcp) {
    const long = s.service === "imap" || s.service === "pop3";
    const proxy = lb.proxyProtocol[s.service];
    sections.push({
      kind: "backend",
      name: `be_${s.name}`,
      mode: "tcp",
      comment: proxy
        ? [
            `PROXY v2 to ${PORTS[s.backend].server}: it logs the client's address (proxyProtocol.${s.service}).`,
            "Health checks connect without the header (check port): postfix's smtpd dies on the v2 LOCAL",
            "header HAProxy would send on checks, and its master then throttles the service.",
          ]
        : [`no PROXY header (proxyProtocol.${s.service} is false): the backend sees the load balancer's address`],
      settings: [
        d("balance", long ? "leastconn" : "roundrobin"),
        d("option", "redispatch"),
        ...(long ? [d("timeout", "server", "30m")] : []),
      ],
      // With send-proxy-v2, HAProxy's health checks would send a PROXY v2 LOCAL header, which
      // postfix 3.7's smtpd does not survive ("fatal: smtpd_peer_hostaddr_to_sockaddr"; the master
      // then throttles the whole service). A check `port` turns PROXY off for checks only.
      defaultServer: serverDefaults(...(proxy ? ["port", String(PORTS[s.backend].port), "send-proxy-v2"] : [])),
      // Without a port where the frontend binds only the servers' port (omitImpliedServerPorts):
      // the four backends' server lines are then the same.
      servers: topology.classicNodes.map((n) => ({ name: n.hostname, address: n.ipv4, port: PORTS[s.backend].port })),
    });
  }

  return serializeHaproxyConfig({ sections: omitImpliedServerPorts(sections) });
}
