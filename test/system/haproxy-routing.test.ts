/**
 * The generated HAProxy config, running: the real haproxy on the unmodified generated files (bound
 * at /etc/haproxy and /run/haproxy in a private mount namespace), dummy HTTPS mailbox nodes on
 * loopback that answer with their own name and echo the proxy headers, a mailbox.map written by
 * `renderMailboxMap`, and curl/openssl clients bound to their own loopback addresses.
 *
 * The last block runs the upstream documentation's config the same way (only its bind addresses
 * and its FD/connection limits changed, see `docControlConfig`) and shows each defect the
 * probes above would catch on it.
 */
import { buildTopology, ClusterInput, Topology } from "../../lib/topology";
import { PORTS } from "../../lib/topology/ports";
import {
  mailboxId,
  publicStoreMailboxId,
  renderHaproxy,
  renderMailboxMap,
  TLS12_CIPHERS,
} from "../../lib/render/haproxy";
import { docHaproxyConfig, docServerHosts, DOC_LIST_FILES } from "../doc-haproxy";
import {
  curl,
  CurlResult,
  Dummy,
  dummyBackend,
  echoOf,
  execAsync,
  RunningHaproxy,
  selfSignedCert,
  startHaproxy,
  tlsHandshake,
  waitFor,
} from "./haproxy-harness";
import { requireProgram } from "./support";
import { section } from "../render/haproxy-cfg";
import * as net from "node:net";

jest.setTimeout(60_000);

const NET = "127.0.83";
const LB = `${NET}.10`;
const PUBLIC = "mail.lo.test";
const ADMIN_CLIENT = `${NET}.250`;
const OTHER_CLIENT = `${NET}.251`;

const input: ClusterInput = {
  domain: "lo.test",
  gromoxVersion: "3.10",
  storage: "shared",
  network: { cidr: `${NET}.0/24` },
  database: { node: "db1", password: "db-secret" },
  loadBalancer: {
    flavor: "haproxy",
    publicName: PUBLIC,
    nodeAwareRouting: true,
    adminAllowFrom: [`${ADMIN_CLIENT}/32`],
  },
  nodes: [
    { name: "mail1", hostname: "mail1.lo.test", roles: ["mailbox", "admin"], ipv4: `${NET}.21`, serverId: 1 },
    { name: "mail2", hostname: "mail2.lo.test", roles: ["mailbox"], ipv4: `${NET}.22`, serverId: 2 },
    { name: "mail3", hostname: "mail3.lo.test", roles: ["mailbox"], ipv4: `${NET}.23`, serverId: 3 },
    { name: "classic1", hostname: "classic1.lo.test", roles: ["classic"], ipv4: `${NET}.31` },
    { name: "lb1", hostname: "lb1.lo.test", roles: ["load-balancer"], ipv4: LB },
    { name: "db1", hostname: "db1.lo.test", roles: ["database"], ipv4: `${NET}.60` },
  ],
};

const USERS = [
  { id: 5, username: "alice@lo.test", aliases: ["Alice.Smith@lo.test"], homeserver: "mail2.lo.test" },
  { id: 6, username: "bob@lo.test", homeserver: "mail3.lo.test" },
  { id: 7, username: "Carol@Lo.Test", homeserver: "mail1.lo.test" },
  { id: 8, username: "homeless@lo.test" },
];
const DOMAINS = [{ id: 1, name: "lo.test", homeserver: "mail3.lo.test" }];
const MAILBOX_NODES = ["mail1.lo.test", "mail2.lo.test", "mail3.lo.test"];

let topo: Topology;
let haproxy: RunningHaproxy | undefined;
let docHaproxy: RunningHaproxy | undefined;
const dummies: Dummy[] = [];
let frontendPem = "";
const tcpDummies: net.Server[] = [];

/** PROXY protocol v2 signature (HAProxy's `send-proxy-v2`). */
const PROXY_V2_SIGNATURE = Buffer.from("0d0a0d0a000d0a515549540a", "hex");

/**
 * A plain TCP server at `address:port` standing in for a classic node's daemon: to the first
 * line of a connection it answers `<label> <port it listens on> proxy=<PROXY v2 header's
 * destination port or none>` and closes. Health checks (connect, close) get nothing.
 */
function tcpDummy(label: string, address: string, port: number): Promise<void> {
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      let proxy = "none";
      let rest = buf;
      if (buf.subarray(0, 12).equals(PROXY_V2_SIGNATURE)) {
        if (buf.length < 16) return;
        const len = buf.readUInt16BE(14);
        if (buf.length < 16 + len) return;
        // TCP over IPv4: src addr, dst addr, src port, dst port.
        proxy = buf[13] === 0x11 ? String(buf.readUInt16BE(16 + 10)) : "local";
        rest = buf.subarray(16 + len);
      }
      if (!rest.includes(0x0a)) return;
      sock.end(`${label} ${port} proxy=${proxy}\n`);
    });
    sock.on("error", () => undefined);
  });
  tcpDummies.push(server);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => resolve());
  });
}

/** One line to `LB:port` from a fresh client address; the answer's first line. */
function tcpAsk(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: LB, port, localAddress: freshSource() });
    let answer = "";
    sock.setTimeout(5000, () => sock.destroy(new Error(`no answer through ${LB}:${port}: ${JSON.stringify(answer)}`)));
    sock.on("connect", () => sock.write("hello\r\n"));
    sock.on("data", (d) => (answer += d.toString("utf8")));
    sock.on("error", reject);
    sock.on("close", () => resolve(answer.split("\n")[0]!));
  });
}

// Fresh client addresses (.100-.249), so that no stick-table entry of an earlier test decides.
let nextHost = 100;
function freshSource(): string {
  if (nextHost > 249) throw new Error("out of client addresses");
  return `${NET}.${nextHost++}`;
}

function get(pathAndQuery: string, source = freshSource(), args: string[] = []): Promise<CurlResult> {
  return curl(`https://${PUBLIC}${pathAndQuery}`, { connectTo: LB, source, args });
}

async function nodeFor(pathAndQuery: string, args: string[] = [], source = freshSource()): Promise<string> {
  const r = await get(pathAndQuery, source, args);
  expect(r.status).toBe(200);
  return echoOf(r).node;
}

/** The Set-Cookie values of a response, in order. */
function setCookies(r: CurlResult): string[] {
  return r.headerLines.filter(([k]) => k === "set-cookie").map(([, v]) => v);
}

/** The web cookie pinning a browser to `node`: session cookie, HttpOnly, Secure. */
function pin(node: string): string {
  return `grommunio_node=${node}; path=/; HttpOnly; Secure`;
}

async function backendRequests(name: string): Promise<number> {
  const row = (await haproxy!.stats()).find((r) => r.pxname === name && r.svname === "BACKEND");
  return Number(row?.req_tot ?? NaN);
}

beforeAll(async () => {
  requireProgram("curl", "curl");
  topo = buildTopology(input);
  const frontend = selfSignedCert(PUBLIC, "rsa");
  frontendPem = frontend.pem;
  const backendTls = selfSignedCert("backend.lo.test", "ec");
  for (const n of topo.mailboxNodes) dummies.push(dummyBackend(n.hostname, n.ipv4, PORTS.mailboxWeb.port, backendTls));
  dummies.push(dummyBackend("admin@mail1", `${NET}.21`, PORTS.adminWeb.port, backendTls));
  await Promise.all(dummies.map((d) => d.start()));
  // classic1's four daemons, and one more IMAP server for the runtime API test.
  const classic = topo.node("classic1").ipv4;
  for (const p of [PORTS.imaps.port, PORTS.pop3s.port, PORTS.smtp.port, PORTS.submission.port]) {
    await tcpDummy("classic1", classic, p);
  }
  await tcpDummy("spare", `${NET}.32`, PORTS.imaps.port);

  const files = renderHaproxy(topo, topo.node("lb1"), { bindAddress: LB, maxConnections: 2000 }).map((f) =>
    f.path === "/etc/haproxy/mailbox.map"
      ? renderMailboxMap(USERS, DOMAINS, { servers: topo.mailboxNodes.map((n) => n.hostname) })
      : f,
  );
  haproxy = startHaproxy({ files, extra: { "proxy.pem": frontendPem } });
  // Every mailbox server answered its first health check.
  const up = await waitFor(async () => {
    const rows = (await haproxy!.stats()).filter((r) => r.pxname === "be_gromox" && r.svname !== "BACKEND");
    return rows.length === 3 && rows.every((r) => r.status === "UP");
  }, 10_000);
  expect(up).toBe(true);
});

afterAll(async () => {
  await haproxy?.stop();
  await docHaproxy?.stop();
  await Promise.all(dummies.map((d) => d.stop()));
  await Promise.all(tcpDummies.map((t) => new Promise((resolve) => t.close(resolve))));
});

describe("generated config: HTTP basics", () => {
  test("80 redirects to https; HTTPS answers with HSTS and the documented headers", async () => {
    const plain = await curl(`http://${PUBLIC}/web/?x=1`, { connectTo: LB, source: freshSource() });
    expect(plain.status).toBe(301);
    expect(plain.headers.location).toBe(`https://${PUBLIC}/web/?x=1`);
    const r = await get("/web/");
    expect(r.status).toBe(200);
    expect(r.headers["strict-transport-security"]).toBe("max-age=31536000");
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
    expect(r.headers["x-frame-options"]).toBe("SAMEORIGIN");
    expect(r.headers["x-forwarded-proto"]).toBeUndefined();
  });
});

describe("generated config: node-aware routing", () => {
  test("Basic auth: a mapped user reaches the home node, in any case and by alias", async () => {
    for (const [user, home] of [
      ["alice@lo.test", "mail2.lo.test"],
      ["ALICE@LO.TEST", "mail2.lo.test"],
      ["Alice.Smith@lo.test", "mail2.lo.test"],
      ["bob@lo.test", "mail3.lo.test"],
      ["carol@lo.test", "mail1.lo.test"],
    ]) {
      for (let i = 0; i < 3; i++) {
        expect(await nodeFor("/EWS/Exchange.asmx", ["-u", `${user}:pw`])).toBe(home);
      }
    }
    // ActiveSync (be_web) follows the same map.
    expect(await nodeFor("/Microsoft-Server-ActiveSync?Cmd=Sync", ["-u", "bob@lo.test:pw"])).toBe("mail3.lo.test");
  });

  test("MailboxId: plain, %40-encoded, upper case; both variants for a mixed-case user; public store; RPC/HTTP", async () => {
    const alice = mailboxId("alice@lo.test", 5);
    for (const id of [alice, alice.replace("@", "%40"), alice.toUpperCase(), alice.toUpperCase().replace("@", "%40")]) {
      expect(await nodeFor(`/mapi/emsmdb/?MailboxId=${id}`)).toBe("mail2.lo.test");
      expect(await nodeFor(`/mapi/nspi/?MailboxId=${id}`)).toBe("mail2.lo.test");
    }
    expect(await nodeFor(`/mapi/emsmdb/?MailboxId=${mailboxId("bob@lo.test", 6)}`)).toBe("mail3.lo.test");
    expect(await nodeFor(`/mapi/emsmdb/?MailboxId=${mailboxId("Carol@Lo.Test", 7)}`)).toBe("mail1.lo.test");
    expect(await nodeFor(`/mapi/emsmdb/?MailboxId=${mailboxId("carol@lo.test", 7)}`)).toBe("mail1.lo.test");
    expect(await nodeFor(`/mapi/emsmdb/?MailboxId=${publicStoreMailboxId("lo.test", 1)}`)).toBe("mail3.lo.test");
    expect(await nodeFor(`/rpc/rpcproxy.dll?${alice}:6001`)).toBe("mail2.lo.test");
    expect(await nodeFor(`/rpc/rpcproxy.dll?${alice.replace("@", "%40")}:6002`)).toBe("mail2.lo.test");
  });

  test("MailboxId wins over the Basic-auth user; an unmapped MailboxId falls back to the Basic-auth user", async () => {
    const aliceId = mailboxId("alice@lo.test", 5);
    expect(await nodeFor(`/mapi/emsmdb/?MailboxId=${aliceId}`, ["-u", "bob@lo.test:pw"])).toBe("mail2.lo.test");
    const garbled = "00000000-0000-0000-0000-000000000000@lo.test";
    for (let i = 0; i < 3; i++) {
      expect(await nodeFor(`/mapi/nspi/?MailboxId=${garbled}`, ["-u", "bob@lo.test:pw"])).toBe("mail3.lo.test");
    }
  });

  test("web login POST: body read (also with Expect: 100-continue), cookie pinned, a stale cookie does not win", async () => {
    const login = ["--data-raw", "username=alice%40lo.test&password=secret"];
    const r = await get("/web/index.php?logon", freshSource(), login);
    expect(echoOf(r).node).toBe("mail2.lo.test");
    expect(echoOf(r).bodyLength).toBe("username=alice%40lo.test&password=secret".length);
    expect(setCookies(r)).toEqual([pin("mail2.lo.test")]);

    const expect100 = await get("/web/index.php?logon", freshSource(), [
      "--http1.1",
      "-H",
      "Expect: 100-continue",
      ...login,
    ]);
    expect(echoOf(expect100).node).toBe("mail2.lo.test");
    expect(echoOf(expect100).bodyLength).toBe("username=alice%40lo.test&password=secret".length);

    const upper = await get("/web/index.php?logon", freshSource(), [
      "--data-raw",
      "password=secret&username=ALICE%40Lo.Test",
    ]);
    expect(echoOf(upper).node).toBe("mail2.lo.test");

    // A browser that loaded the login page from another node still logs in at home, and is re-pinned.
    const stale = await get("/web/index.php?logon", freshSource(), [
      "-H",
      "Cookie: grommunio_node=mail1.lo.test",
      ...login,
    ]);
    expect(echoOf(stale).node).toBe("mail2.lo.test");
    expect(setCookies(stale)).toEqual([pin("mail2.lo.test")]);
    // Later requests of the session carry no user name; the cookie keeps them at home.
    for (let i = 0; i < 4; i++) {
      expect(await nodeFor("/web/index.php?load=x", ["-H", "Cookie: grommunio_node=mail2.lo.test"])).toBe(
        "mail2.lo.test",
      );
    }
  });

  test("web: the node that served a browser pins it by cookie (HttpOnly, Secure), set once, never cached", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const first = await get("/web/");
      const node = echoOf(first).node;
      seen.add(node);
      // Balanced (no cookie, no map entry): the cookie names the server that answered.
      expect(setCookies(first)).toEqual([pin(node)]);
      for (let j = 0; j < 3; j++) {
        const again = await get("/web/index.php?load=x", freshSource(), ["-H", `Cookie: grommunio_node=${node}`]);
        expect(echoOf(again).node).toBe(node);
        // A browser that already holds the right cookie is not sent it again.
        expect(setCookies(again)).toEqual([]);
      }
    }
    expect(seen.size).toBeGreaterThan(1);
    // A cacheable answer that sets the cookie is kept out of shared caches ('nocache').
    const cacheable = await get("/web/", freshSource(), ["-H", "X-Test-Cache-Control: max-age=60"]);
    expect(setCookies(cacheable)).toEqual([pin(echoOf(cacheable).node)]);
    expect(cacheable.headerLines.filter(([k]) => k === "cache-control").map(([, v]) => v)).toEqual(
      expect.arrayContaining(["max-age=60", "private"]),
    );
  });

  test("web: a cookie naming no server is ignored: balanced and re-pinned", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const r = await get("/web/", freshSource(), ["-H", "Cookie: grommunio_node=nosuch.lo.test"]);
      const node = echoOf(r).node;
      seen.add(node);
      expect(setCookies(r)).toEqual([pin(node)]);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  test("an unmapped user is load-balanced across the mailbox nodes; each client address stays on its node", async () => {
    const sources = Array.from({ length: 6 }, () => freshSource());
    const first: string[] = [];
    for (const s of sources) first.push(await nodeFor("/EWS/Exchange.asmx", ["-u", "stranger@lo.test:pw"], s));
    expect(new Set(first)).toEqual(new Set(MAILBOX_NODES));
    for (let i = 0; i < sources.length; i++) {
      expect(await nodeFor("/EWS/Exchange.asmx", ["-u", "stranger@lo.test:pw"], sources[i])).toBe(first[i]);
      expect(await nodeFor("/OAB/x/oab.xml", [], sources[i])).toBe(first[i]);
    }
    // A user without a homeserver (skipped by the map) is balanced like a stranger.
    const homeless = new Set<string>();
    for (let i = 0; i < 3; i++) homeless.add(await nodeFor("/EWS/Exchange.asmx", ["-u", "homeless@lo.test:pw"]));
    expect(homeless.size).toBeGreaterThan(1);
  });

  test("a request routed by the map does not move its client address's sticky node", async () => {
    let source = "";
    let sticky = "";
    for (let i = 0; i < 4 && (sticky === "" || sticky === "mail2.lo.test"); i++) {
      source = freshSource();
      sticky = await nodeFor("/EWS/Exchange.asmx", [], source);
    }
    expect(sticky).not.toBe("mail2.lo.test");
    expect(await nodeFor("/EWS/Exchange.asmx", ["-u", "alice@lo.test:pw"], source)).toBe("mail2.lo.test");
    // With 'stick on src' this would now be mail2 (the last mapped user's node).
    expect(await nodeFor("/EWS/Exchange.asmx", [], source)).toBe(sticky);
  });

  test("server names are the servers.hostname values of mailbox.map, at the private addresses", async () => {
    const state = await haproxy!.api("show servers state be_gromox");
    const rows = state
      .split("\n")
      .filter((l) => /^\d+ be_gromox /.test(l))
      .map((l) => l.split(" "));
    expect(rows.map((r) => `${r[3]} ${r[4]}`)).toEqual([
      `mail1.lo.test ${NET}.21`,
      `mail2.lo.test ${NET}.22`,
      `mail3.lo.test ${NET}.23`,
    ]);
    const map = await haproxy!.api("show map /etc/haproxy/mailbox.map");
    const values = new Set(
      map
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => l.trim().split(" ").pop()),
    );
    expect([...values].sort()).toEqual(MAILBOX_NODES);
  });

  test("runtime API: a map entry added through the stats socket routes at once, no reload", async () => {
    expect(await haproxy!.api("show map /etc/haproxy/mailbox.map")).not.toContain("dave@lo.test");
    expect((await haproxy!.api("add map /etc/haproxy/mailbox.map dave@lo.test mail3.lo.test")).trim()).toBe("");
    for (let i = 0; i < 4; i++) {
      expect(await nodeFor("/EWS/Exchange.asmx", ["-u", "Dave@lo.test:pw"])).toBe("mail3.lo.test");
    }
  });
});

describe("generated config: the upstream documentation's defects are fixed", () => {
  test("X-Forwarded-Proto and X-Real-IP reach the backend (client values are replaced)", async () => {
    const source = freshSource();
    const e = echoOf(
      await get("/EWS/Exchange.asmx", source, ["-H", "X-Real-IP: 6.6.6.6", "-H", "X-Forwarded-Proto: http"]),
    );
    expect(e.xfp).toBe("https");
    expect(e.realIp).toBe(source);
    expect(e.xff).toBe(source);
  });

  test("an unknown Host is served, not answered with 503", async () => {
    for (const host of ["unknown.example", LB]) {
      const r = await curl(`https://${host}/web/`, { connectTo: LB, source: freshSource() });
      expect(r.status).toBe(200);
      expect(MAILBOX_NODES).toContain(echoOf(r).node);
    }
  });

  test("/OAB/ reaches the mailbox backend (be_gromox), not the web backend", async () => {
    const [g0, w0] = [await backendRequests("be_gromox"), await backendRequests("be_web")];
    const r = await get("/OAB/abc/oab.xml", freshSource(), ["-u", "bob@lo.test:pw"]);
    expect(echoOf(r).node).toBe("mail3.lo.test");
    expect(await backendRequests("be_gromox")).toBe(g0 + 1);
    expect(await backendRequests("be_web")).toBe(w0);
  });

  test("HTTP/1.0 gets an answer", async () => {
    const r = await get("/web/", freshSource(), ["--http1.0"]);
    expect(r.code).toBe(0);
    expect(r.status).toBe(200);
  });

  test("TLS: static-RSA AES128-SHA and TLS 1.1 are refused; ECDHE TLS 1.2 and TLS 1.3 work", async () => {
    const port = PORTS.publicHttps.port;
    const rsaKx = await tlsHandshake(LB, port, ["-tls1_2", "-cipher", "AES128-SHA"]);
    expect(rsaKx.code).not.toBe(0);
    expect(rsaKx.stdout + rsaKx.stderr).toMatch(/alert handshake failure/);
    const tls11 = await tlsHandshake(LB, port, ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    expect(tls11.code).not.toBe(0);
    expect(tls11.stdout + tls11.stderr).toMatch(/alert protocol version/);
    const ecdhe = await tlsHandshake(LB, port, ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]);
    expect(ecdhe.code).toBe(0);
    expect(ecdhe.stdout).toMatch(/Cipher is ECDHE-RSA-AES128-GCM-SHA256/);
    const tls13 = await tlsHandshake(LB, port, ["-tls1_3"]);
    expect(tls13.code).toBe(0);
    expect(tls13.stdout).toMatch(/New, TLSv1\.3, Cipher is TLS_AES_/);
  });

  test("OpenSSL reads the TLS 1.2 list as ECDHE key exchange only, without 3DES", async () => {
    const openssl = requireProgram("openssl", "openssl");
    const r = await execAsync(openssl, ["ciphers", "-v", TLS12_CIPHERS.join(":")]);
    expect(r.code).toBe(0);
    // `openssl ciphers` lists the TLS 1.3 suites too (set separately); look at the TLS 1.2 ones.
    const lines = r.stdout
      .trim()
      .split("\n")
      .filter((l) => !l.startsWith("TLS_"));
    expect(lines).toHaveLength(TLS12_CIPHERS.length);
    for (const l of lines) {
      expect(l).toMatch(/Kx=ECDH /);
      expect(l).not.toMatch(/Enc=3DES|Enc=DES/);
    }
  });

  test("admin frontend: the allowed network is served, every other address is rejected", async () => {
    const url = `https://${PUBLIC}:${PORTS.publicAdmin.port}/`;
    const ok = await curl(url, { connectTo: LB, source: ADMIN_CLIENT });
    expect(ok.status).toBe(200);
    expect(echoOf(ok).node).toBe("admin@mail1");
    expect(echoOf(ok).xfp).toBe("https");
    const denied = await curl(url, { connectTo: LB, source: OTHER_CLIENT });
    expect(denied.code).not.toBe(0);
    expect(denied.status).toBe(0);
  });
});

describe("generated config: TCP frontends to port-less servers", () => {
  const SERVICES = [
    ["be_imaps", PORTS.publicImaps.port, PORTS.imaps.port],
    ["be_pop3s", PORTS.publicPop3s.port, PORTS.pop3s.port],
    ["be_smtp", PORTS.publicSmtp.port, PORTS.smtp.port],
    ["be_submission", PORTS.publicSubmission.port, PORTS.submission.port],
  ] as const;

  test("the four classic backends list the same port-less server line; checks name the port", () => {
    const cfg = renderHaproxy(topo, topo.node("lb1"), { bindAddress: LB }).find((f) =>
      f.path.endsWith("/haproxy.cfg"),
    )!.content;
    for (const [be, , port] of SERVICES) {
      const lines = section(cfg, `backend ${be}`);
      expect(lines.filter((l) => l.startsWith("server "))).toEqual([`server classic1.lo.test ${NET}.31`]);
      expect(lines.filter((l) => l.startsWith("default-server ")).join()).toMatch(new RegExp(` port ${port}( |$)`));
    }
  });

  test("each frontend's connections reach the daemon on the port the client dialled, with PROXY where declared", async () => {
    for (const [be, front, back] of SERVICES) {
      expect(front).toBe(back);
      const service = ({ be_imaps: "imap", be_pop3s: "pop3", be_smtp: "smtp", be_submission: "submission" } as const)[
        be
      ];
      const proxy = topo.loadBalancer!.proxyProtocol[service] ? String(front) : "none";
      expect(await tcpAsk(front)).toBe(`classic1 ${back} proxy=${proxy}`);
    }
  });

  test("runtime API: 'set server … addr' moves a port-less server and keeps it port-less", async () => {
    const srv = "be_imaps/classic1.lo.test";
    const state = async () =>
      (await haproxy!.api("show servers state be_imaps"))
        .split("\n")
        .find((l) => / classic1\.lo\.test /.test(l))!
        .split(" ");
    // srv_addr (5th field) and srv_port (19th): 0 = the client's port.
    expect([(await state())[4], (await state())[18]]).toEqual([`${NET}.31`, "0"]);
    try {
      expect((await haproxy!.api(`set server ${srv} addr ${NET}.32`)).trim()).toMatch(/changed from/);
      expect([(await state())[4], (await state())[18]]).toEqual([`${NET}.32`, "0"]);
      expect(await tcpAsk(PORTS.publicImaps.port)).toMatch(new RegExp(`^spare ${PORTS.imaps.port} `));
    } finally {
      await haproxy!.api(`set server ${srv} addr ${NET}.31`);
    }
    expect(await tcpAsk(PORTS.publicImaps.port)).toMatch(new RegExp(`^classic1 ${PORTS.imaps.port} `));
  });
});

describe("generated config: failover", () => {
  test("a stopped mailbox node is skipped, also for the users it is home to and by its web cookie", async () => {
    await dummies.find((d) => d.name === "mail2.lo.test")!.stop();
    const down = await waitFor(async () => {
      const row = (await haproxy!.stats()).find((r) => r.pxname === "be_gromox" && r.svname === "mail2.lo.test");
      return (row?.status ?? "").startsWith("DOWN");
    }, 20_000);
    expect(down).toBe(true);
    for (let i = 0; i < 3; i++) {
      const node = await nodeFor("/EWS/Exchange.asmx", ["-u", "alice@lo.test:pw"]);
      expect(["mail1.lo.test", "mail3.lo.test"]).toContain(node);
      const byId = await nodeFor(`/mapi/emsmdb/?MailboxId=${mailboxId("alice@lo.test", 5)}`);
      expect(["mail1.lo.test", "mail3.lo.test"]).toContain(byId);
    }
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add(await nodeFor("/EWS/Exchange.asmx", ["-u", "stranger@lo.test:pw"]));
    expect([...seen].sort()).toEqual(["mail1.lo.test", "mail3.lo.test"]);
    // A browser pinned to the stopped node is balanced to a live one and re-pinned there.
    for (let i = 0; i < 3; i++) {
      const r = await get("/web/index.php?load=x", freshSource(), ["-H", "Cookie: grommunio_node=mail2.lo.test"]);
      const node = echoOf(r).node;
      expect(["mail1.lo.test", "mail3.lo.test"]).toContain(node);
      expect(setCookies(r)).toEqual([pin(node)]);
    }
  });
});

/**
 * The documentation's main HAProxy config, rebuilt from the seed, changed only where it cannot run
 * on a shared test machine: its frontends bind DOC_LB instead of every address, and `ulimit-n
 * 165000` / `maxconn 80000` (above this machine's hard limit of open files, validators.md §8)
 * become 2000 connections.
 */
const DOC_LB = `${NET}.11`;
function docControlConfig(): string {
  return docHaproxyConfig("main")
    .split("\n")
    .filter((l) => !/^\s*ulimit-n /.test(l))
    .map((l) => l.replace(/^(\s*bind )\*?:(\d+)/, `$1${DOC_LB}:$2`).replace(/^(\s*maxconn )\d+$/, "$12000"))
    .join("\n");
}

describe("control: the same probes on the documentation's config show its defects", () => {
  const docSources = Array.from({ length: 30 }, (_, i) => `${NET}.${200 + i}`);
  let n = 0;
  const docGet = (p: string, host = "mail.grommunio.at", args: string[] = []) =>
    curl(`https://${host}${p}`, { connectTo: DOC_LB, source: docSources[n++]!, args });

  beforeAll(async () => {
    const cfg = docControlConfig();
    const backendTls = selfSignedCert("backend.grommunio.at", "ec");
    const live: Record<string, string> = {
      "mail01.grommunio.at": `${NET}.41`,
      "mail02.grommunio.at": `${NET}.42`,
      "mail03.grommunio.at": `${NET}.43`,
      "web01.grommunio.at": `${NET}.44`,
      "web02.grommunio.at": `${NET}.45`,
    };
    const hosts: Record<string, string> = {};
    for (const h of docServerHosts(cfg)) hosts[h] = live[h] ?? `${NET}.99`;
    const docDummies = Object.entries(live).map(([name, addr]) => dummyBackend(name, addr, 443, backendTls));
    dummies.push(...docDummies);
    await Promise.all(docDummies.map((d) => d.start()));
    docHaproxy = startHaproxy({
      files: [{ path: "/etc/haproxy/haproxy.cfg", content: cfg, mode: "0640", owner: "root:root" }],
      extra: { "proxy.pem": frontendPem, ...Object.fromEntries(DOC_LIST_FILES.map((f) => [f, ""])) },
      hosts,
    });
  });

  test("X-Forwarded-Proto never reaches the backend (it is set on the response)", async () => {
    const r = await docGet("/EWS/Exchange.asmx");
    expect(echoOf(r).node).toMatch(/^mail0\d\.grommunio\.at$/);
    expect(echoOf(r).xfp).toBeNull();
    expect(r.headers["x-forwarded-proto"]).toBe("https");
  });

  test("an unknown Host gets 503", async () => {
    expect((await docGet("/web/", "unknown.example")).status).toBe(503);
  });

  test("/OAB/ goes to the web nodes", async () => {
    expect(echoOf(await docGet("/OAB/abc/oab.xml")).node).toMatch(/^web0\d\.grommunio\.at$/);
  });

  test("HTTP/1.0 gets an empty reply (curl 52)", async () => {
    const r = await docGet("/web/", "mail.grommunio.at", ["--http1.0"]);
    expect(r.code).toBe(52);
  });

  test("static-RSA AES128-SHA is negotiated", async () => {
    const r = await tlsHandshake(DOC_LB, 443, ["-tls1_2", "-cipher", "AES128-SHA"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Cipher is AES128-SHA/);
  });

  test("(static) its mailbox servers are named gromox0N, while the map's values are servers.hostname", () => {
    // The documentation's config has no stats socket to ask; its text says it.
    const names = [...docHaproxyConfig("node-aware").matchAll(/^\s*server (\S+) mail0\d\.grommunio\.at:443 /gm)].map(
      (m) => m[1],
    );
    expect(names).toEqual(["gromox01", "gromox02", "gromox03"]);
  });
});
