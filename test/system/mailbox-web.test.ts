/**
 * The mailbox node's web server (lib/render/web), with Debian 12's nginx 1.22:
 *
 * 1. `nginx -t` on Debian's own, unmodified /etc/nginx (nginx.conf, modules-enabled, mime.types,
 *    fastcgi_params, sites-enabled/default) with the rendered file added at its real path
 *    (/etc/nginx/conf.d/grommunio.conf), the grommunio TLS bundle at /etc/grommunio-common/ssl,
 *    and stand-ins for the packaged snippets of grommunio-web, -sync and -dav under
 *    /usr/share/grommunio-common/nginx (the packages are not installed here). The stand-ins have
 *    the packaged files' names and the same upstream names and location matchers
 *    (grommunio/grommunio-web build/grommunio-web.conf, grommunio-sync build/grommunio-sync.conf,
 *    grommunio-dav build/nginx-grommunio-dav.conf), so a clash with them would show. Both app
 *    modes; zero warnings.
 * 2. Running: nginx with the rendered server on loopback, a stub gromox-http (HTTPS) that echoes
 *    what it received: EWS/MAPI/Autodiscover reach it with the load balancer's X-Real-IP passed on
 *    unchanged; a client that is not a load balancer cannot forge it (its own address is passed);
 *    /web goes to grommunio-web's location, not to gromox-http; unknown paths get 404.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { buildTopology, ClusterInput } from "../../lib/topology";
import { PORTS } from "../../lib/topology/ports";
import { GROMMUNIO_TLS } from "../../lib/render/gromox";
import { MAILBOX_WEB_PATH, MailboxWebOptions, PACKAGED_SNIPPETS, renderMailboxWeb } from "../../lib/render/web";
import { documentedLayout, largeLayout } from "../fixtures";
import { Backend, echoOf, request, RunningNginx, selfSignedCert, startBackend, startNginx } from "./nginx-harness";
import { requireProgram, run, runInSandbox, scratchDir } from "./support";

jest.setTimeout(60_000);

const OK =
  "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n" +
  "nginx: configuration file /etc/nginx/nginx.conf test is successful\n";

/** Stand-ins for the packaged snippets: same file names, upstream names and location matchers. */
const SNIPPETS: Record<string, string> = {
  "nginx/upstreams.d/grommunio-web.conf": "upstream fpm_web {\n  server 127.0.0.1:9002;\n}\n",
  "nginx/upstreams.d/grommunio-sync.conf":
    "upstream fpm_sync {\n  server unix:/run/php-fpm/php-grommunio-sync-fpm.sock;\n}\n",
  "nginx/upstreams.d/grommunio-dav.conf": "upstream fpm_dav {\n  server unix:/run/php-fpm/grommunio-dav;\n}\n",
  "nginx/locations.d/grommunio-web.conf": [
    'location = / {\n  return 301 "/web/";\n}',
    "location /web {\n  alias /usr/share/grommunio-web/;\n  index index.php;\n}",
    "location ~* ^/web/(.+\\.php)$ {\n  alias /usr/share/grommunio-web/;\n  include fastcgi_params;\n  fastcgi_param SCRIPT_FILENAME $document_root$1;\n  fastcgi_pass fpm_web;\n}",
    'location ~* ^/web/(.+\\.(?:js|js.map|css))$ {\n  alias /usr/share/grommunio-web/$1;\n  add_header X-Stand-In "grommunio-web";\n}',
    'location ^~ /robots.txt {\n  return 200 "User-agent: *\\nDisallow: /\\n";\n}',
    "",
  ].join("\n"),
  "nginx/locations.d/grommunio-sync.conf":
    "location /Microsoft-Server-ActiveSync {\n  alias /usr/share/grommunio-sync/index.php;\n  include fastcgi_params;\n  fastcgi_pass fpm_sync;\n  include /etc/nginx/conf.d/grommunio_sync-*.conf.include;\n}\n",
  "nginx/locations.d/grommunio-dav.conf": [
    "rewrite ^/.well-known/caldav /dav redirect;",
    "rewrite ^/.well-known/carddav /dav redirect;",
    "location /dav {\n  alias /usr/share/grommunio-dav/server.php;\n  include fastcgi_params;\n  fastcgi_pass fpm_dav;\n}",
    "location ~* /dav/.*\\.(css|js|gif|jpe?g|png)$ {\n  expires 1y;\n}",
    "location ~ /dav/(\\.ht|Core|Specific) {\n  deny all;\n}",
    "",
  ].join("\n"),
};

/** Marker location a test adds to the web stand-in to see which location answered. */
const WEB_MARKER = 'location = /web/marker {\n  return 200 "grommunio-web location";\n}\n';

beforeAll(() => {
  requireProgram("nginx", "nginx");
  expect(
    Object.keys(SNIPPETS)
      .map((k) => `/usr/share/grommunio-common/${k}`)
      .sort(),
  ).toEqual([...PACKAGED_SNIPPETS.upstreams, ...PACKAGED_SNIPPETS.locations].sort());
});

/** A copy of Debian's /etc/nginx (symlinks kept) with `extra` files added; returns its directory. */
function debianNginxTree(extra: Record<string, string>): string {
  const dir = scratchDir("nginx-debian");
  expect(run("cp", ["-a", "/etc/nginx/.", dir]).status).toBe(0);
  for (const [rel, content] of Object.entries(extra)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

function writeTreeDir(prefix: string, files: Record<string, string>): string {
  const dir = scratchDir(prefix);
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

function checkMailboxSite(input: ClusterInput, node: string, options: MailboxWebOptions = {}) {
  const topo = buildTopology(input);
  const files = renderMailboxWeb(topo, topo.node(node), options);
  expect(files.map((f) => f.path)).toEqual([MAILBOX_WEB_PATH]);
  const cert = selfSignedCert(topo.node(node).hostname);
  expect(GROMMUNIO_TLS.certificate.startsWith("/etc/grommunio-common/ssl/")).toBe(true);
  const binds: Record<string, string> = {
    "/etc/nginx": debianNginxTree({ [path.relative("/etc/nginx", MAILBOX_WEB_PATH)]: files[0]!.content }),
    "/etc/grommunio-common/ssl": writeTreeDir("grommunio-ssl", {
      [path.basename(GROMMUNIO_TLS.certificate)]: cert.pem,
      [path.basename(GROMMUNIO_TLS.privateKey)]: cert.key,
    }),
    "/usr/share/grommunio-common": writeTreeDir("grommunio-common", SNIPPETS),
    "/var/log/nginx": scratchDir("nginx-log"),
    "/var/lib/nginx": scratchDir("nginx-lib"),
  };
  return runInSandbox({ binds }, "nginx -t -c /etc/nginx/nginx.conf 2>&1");
}

describe("nginx -t: Debian's nginx.conf + the mailbox site + the packaged snippets", () => {
  test.each([
    ["documented layout, mail2, packaged apps", documentedLayout(), "mail2", {}],
    [
      "documented layout, mail1 (hub, admin), rendered apps",
      documentedLayout(),
      "mail1",
      { apps: "rendered" as const },
    ],
    ["large layout, mail6 (two load balancers)", largeLayout(), "mail6", {}],
  ])("%s: valid, no warning", (_, input, node, options) => {
    const r = checkMailboxSite(input, node, options);
    expect(r.stdout).toBe(OK);
    expect(r.status).toBe(0);
  });

  test("IPv6 node: listens on [::]:443 as well; valid", () => {
    const base = documentedLayout();
    const input = { ...base, nodes: base.nodes.map((n) => (n.name === "mail3" ? { ...n, ipv6: "2001:db8::40" } : n)) };
    const r = checkMailboxSite(input, "mail3");
    expect(r.stdout).toBe(OK);
  });

  test("the check bites: a missing packaged snippet stops nginx (no silent 404s)", () => {
    const topo = buildTopology(documentedLayout());
    const content = renderMailboxWeb(topo, topo.node("mail2"))[0]!.content;
    const cert = selfSignedCert("mail2.gro.at");
    const partial = { ...SNIPPETS };
    delete partial["nginx/locations.d/grommunio-sync.conf"];
    const r = runInSandbox(
      {
        binds: {
          "/etc/nginx": debianNginxTree({ "conf.d/grommunio.conf": content }),
          "/etc/grommunio-common/ssl": writeTreeDir("grommunio-ssl", {
            "server-bundle.pem": cert.pem,
            "server.key": cert.key,
          }),
          "/usr/share/grommunio-common": writeTreeDir("grommunio-common", partial),
          "/var/log/nginx": scratchDir("nginx-log"),
          "/var/lib/nginx": scratchDir("nginx-lib"),
        },
      },
      "nginx -t -c /etc/nginx/nginx.conf 2>&1",
    );
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(
      /open\(\) "\/usr\/share\/grommunio-common\/nginx\/locations\.d\/grommunio-sync\.conf" failed/,
    );
  });
});

describe("running: the load balancer's X-Real-IP reaches gromox-http, nobody else's", () => {
  const NET = "127.0.88";
  const MAIL = `${NET}.30`;
  const LB = `${NET}.10`;
  const STRANGER = `${NET}.99`;
  const GROMOX = `${NET}.31`; // stands in for [::1]: the stub must not take the host's real 10443
  const input: ClusterInput = {
    domain: "lo.test",
    gromoxVersion: "3.10",
    storage: "shared",
    network: { cidr: `${NET}.0/24` },
    database: { node: "db1", password: "db-secret" },
    loadBalancer: { flavor: "haproxy", publicName: "mail.lo.test" },
    nodes: [
      { name: "mail1", hostname: "mail1.lo.test", roles: ["mailbox"], ipv4: MAIL, serverId: 1 },
      { name: "lb1", hostname: "lb1.lo.test", roles: ["load-balancer"], ipv4: LB },
      { name: "db1", hostname: "db1.lo.test", roles: ["database"], ipv4: `${NET}.60` },
    ],
  };
  let nginx: RunningNginx | undefined;
  let gromox: Backend | undefined;

  beforeAll(async () => {
    const topo = buildTopology(input);
    const cert = selfSignedCert("mail1.lo.test");
    gromox = await startBackend("gromox-http", GROMOX, PORTS.gromoxHttps.port, cert);
    const site = renderMailboxWeb(topo, topo.node("mail1"), {
      bindAddress: MAIL,
      gromoxHttpHost: GROMOX,
      certificatePath: "/etc/nginx/proxy.pem",
      certificateKeyPath: "/etc/nginx/proxy.key",
    })[0]!;
    const main = [
      "pid /var/lib/nginx/mailbox-web.pid;",
      "error_log /var/log/nginx/error.log;",
      "events { worker_connections 64; }",
      "http {",
      "    access_log /var/log/nginx/access.log;",
      `    include ${MAILBOX_WEB_PATH};`,
      "}",
      "",
    ].join("\n");
    const fastcgi = fs.readFileSync("/etc/nginx/fastcgi_params", "utf8");
    nginx = await startNginx({
      files: [
        { ...site },
        { path: "/etc/nginx/nginx.conf", content: main, mode: "0644", owner: "root:root" },
        { path: "/etc/nginx/fastcgi_params", content: fastcgi, mode: "0644", owner: "root:root" },
      ],
      cert,
      ready: { host: MAIL, port: PORTS.mailboxWeb.port },
      dirs: {
        "/usr/share/grommunio-common": {
          ...SNIPPETS,
          "nginx/locations.d/grommunio-web.conf": SNIPPETS["nginx/locations.d/grommunio-web.conf"] + WEB_MARKER,
        },
      },
    });
  });

  afterAll(async () => {
    await nginx?.stop();
    await gromox?.close();
  });

  const get = (p: string, source: string, headers: Record<string, string> = {}) =>
    request({ tls: true, host: MAIL, port: PORTS.mailboxWeb.port, path: p, source, headers });

  test.each([
    "/EWS/Exchange.asmx",
    "/mapi/emsmdb/?MailboxId=x@lo.test",
    "/Autodiscover/Autodiscover.xml",
    "/OAB/a/oab.xml",
  ])("%s from the load balancer: gromox-http gets it, URI unchanged, X-Real-IP the client's", async (p) => {
    const r = await get(p, LB, { "X-Real-IP": "203.0.113.7", Host: "mail.lo.test" });
    expect(r.status).toBe(200);
    const e = echoOf(r)!;
    expect(e.backend).toBe("gromox-http");
    expect(e.url).toBe(p);
    expect(e.headers["x-real-ip"]).toBe("203.0.113.7");
    expect(e.headers.host).toBe("mail.lo.test");
  });

  test("a client that is not a load balancer cannot forge X-Real-IP: its own address goes on", async () => {
    const r = await get("/EWS/Exchange.asmx", STRANGER, { "X-Real-IP": "198.51.100.66" });
    expect(echoOf(r)!.headers["x-real-ip"]).toBe(STRANGER);
  });

  test("/web is grommunio-web's (packaged location), not gromox-http's; / redirects to /web/; others 404", async () => {
    const web = await get("/web/marker", LB);
    expect([web.status, web.body]).toEqual([200, "grommunio-web location"]);
    const root = await get("/", LB);
    expect([root.status, root.headers.location]).toEqual([301, expect.stringMatching(/\/web\/$/)]);
    expect((await get("/nothing-here", LB)).status).toBe(404);
    expect((await get("/ewsx", LB)).status).toBe(404);
  });

  test("nginx logged no error", () => {
    expect(nginx!.errorLog()).not.toMatch(/\[(emerg|alert|crit|error)\]/);
  });
});
