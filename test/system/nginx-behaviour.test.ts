/**
 * The real nginx on the generated configuration, on loopback: the topology lives on
 * 127.0.86.0/24, dummy HTTPS backends (node https servers with a self-signed certificate) stand
 * in for the mailbox nodes' web servers, the admin web and two pools, and answer with their
 * name and the request they saw. Clients bind their own loopback addresses. Proves the runtime
 * defects of the upstream documentation's block (reference/validators.md §9, "nginx at runtime")
 * are gone: the redirect keeps the Host, anchored locations, forwarded headers, untouched
 * authentication challenges, OAB on the mailbox nodes, failover, the admin allow list, WebSocket
 * upgrades and the TLS policy.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { buildTopology, ClusterInput, Topology } from "../../lib/topology";
import { PORTS } from "../../lib/topology/ports";
import { renderNginx } from "../../lib/render/nginx";
import {
  Backend,
  Cert,
  RunningNginx,
  echoOf,
  request,
  selfSignedCert,
  startBackend,
  startNginx,
} from "./nginx-harness";
import { ownScratchDir, removeScratchDir } from "./scratch";

jest.setTimeout(30_000);

const NET = "127.0.86";
const LB = `${NET}.10`;
const MAILBOX = { mail1: `${NET}.21`, mail2: `${NET}.22`, mail3: `${NET}.23` } as const;
const ADMIN_CLIENT = `${NET}.100`;
const OTHER_CLIENT = `${NET}.101`;

const input: ClusterInput = {
  domain: "gro.at",
  gromoxVersion: "3.10",
  storage: "shared",
  network: { cidr: `${NET}.0/24` },
  database: { node: "db1", password: "db-secret" },
  loadBalancer: {
    flavor: "nginx",
    publicName: "mail.gro.at",
    adminAllowFrom: [`${ADMIN_CLIENT}/32`],
    pools: {
      chat: [{ name: "chat1", address: `${NET}.51`, port: 443 }],
      meet: [{ name: "meet1", address: `${NET}.52`, port: 443 }],
    },
  },
  nodes: [
    { name: "mail1", hostname: "mail1.gro.at", roles: ["mailbox", "admin"], ipv4: MAILBOX.mail1, serverId: 1 },
    { name: "mail2", hostname: "mail2.gro.at", roles: ["mailbox"], ipv4: MAILBOX.mail2, serverId: 2 },
    { name: "mail3", hostname: "mail3.gro.at", roles: ["mailbox"], ipv4: MAILBOX.mail3, serverId: 3 },
    { name: "classic1", hostname: "classic1.gro.at", roles: ["classic"], ipv4: `${NET}.31` },
    { name: "lb1", hostname: "lb1.gro.at", roles: ["load-balancer"], ipv4: LB },
    { name: "db1", hostname: "db1.gro.at", roles: ["database"], ipv4: `${NET}.60` },
  ],
};

let topo: Topology;
let cert: Cert;
let nginx: RunningNginx | undefined;
let pidDir: string | undefined;
const backends = new Map<string, Backend>();

beforeAll(async () => {
  topo = buildTopology(input);
  // RSA: with an EC key, static-RSA suites could never be negotiated and the TLS test would prove nothing.
  cert = selfSignedCert("mail.gro.at", "rsa");
  for (const [name, addr] of Object.entries(MAILBOX)) {
    backends.set(name, await startBackend(name, addr, PORTS.mailboxWeb.port, cert));
  }
  backends.set("admin", await startBackend("admin-mail1", MAILBOX.mail1, PORTS.adminWeb.port, cert));
  backends.set("chat1", await startBackend("chat1", `${NET}.51`, 443, cert));
  backends.set("meet1", await startBackend("meet1", `${NET}.52`, 443, cert));
  pidDir = ownScratchDir("nginx-pid");
  nginx = await startNginx({
    files: renderNginx(topo, topo.node("lb1"), { bindAddress: LB, pidFile: `${pidDir}/nginx.pid` }),
    cert,
    ready: { host: LB, port: PORTS.publicHttps.port },
  });
});

afterAll(async () => {
  await nginx?.stop();
  for (const b of backends.values()) await b.close();
  if (pidDir) removeScratchDir(pidDir);
});

const get = (path: string, opts: { source?: string; headers?: Record<string, string>; port?: number } = {}) =>
  request({ tls: true, host: LB, port: opts.port ?? PORTS.publicHttps.port, path, ...opts });

/** All values of a repeated response header, in order. */
function headerValues(raw: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name.toLowerCase()) out.push(raw[i + 1]!);
  return out;
}

/** A raw HTTP exchange: writes `text`, returns everything read until the server closes. */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: LB, port, localAddress: OTHER_CLIENT });
    let data = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => (data += d));
    s.on("end", () => resolve(data));
    s.on("error", reject);
    s.setTimeout(5000, () => s.destroy(new Error("timeout")));
    s.write(text);
  });
}

describe("port 80", () => {
  test("redirects to https://<the client's Host>/<same URI> (not https://_/)", async () => {
    const r = await request({
      tls: false,
      host: LB,
      port: PORTS.publicHttp.port,
      path: "/web/?a=1&b=2",
      headers: { Host: "mail.gro.at" },
    });
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe("https://mail.gro.at/web/?a=1&b=2");
    const other = await request({
      tls: false,
      host: LB,
      port: 80,
      path: "/x",
      headers: { Host: "autodiscover.gro.at" },
    });
    expect(other.headers.location).toBe("https://autodiscover.gro.at/x");
  });

  test("HTTP/1.0 without Host: redirect to the public name", async () => {
    const reply = await rawExchange(PORTS.publicHttp.port, "GET /owa HTTP/1.0\r\n\r\n");
    expect(reply).toMatch(/^HTTP\/1\.1 301 /);
    expect(reply).toMatch(/\r\nLocation: https:\/\/mail\.gro\.at\/owa\r\n/);
  });
});

describe("port 443", () => {
  test("/web/administration/x reaches grommunio-web on a mailbox node, not an admin route", async () => {
    const r = await get("/web/administration/x");
    expect(r.status).toBe(200);
    const e = echoOf(r)!;
    expect(Object.keys(MAILBOX)).toContain(e.backend);
    expect(e.url).toBe("/web/administration/x");
  });

  test("/admin and /antispam are not public: nginx answers 404 itself", async () => {
    for (const p of ["/admin/x", "/ADMIN", "/antispam/"]) {
      const r = await get(p);
      expect([p, r.status]).toEqual([p, 404]);
      expect(echoOf(r)).toBeUndefined();
    }
  });

  test("the backend gets X-Forwarded-Proto https and the client's address (spoofed values replaced)", async () => {
    const r = await get("/EWS/Exchange.asmx", {
      source: OTHER_CLIENT,
      headers: { Host: "mail.gro.at", "X-Forwarded-For": "198.51.100.66", "X-Real-IP": "198.51.100.66" },
    });
    const e = echoOf(r)!;
    expect(e.url).toBe("/EWS/Exchange.asmx");
    expect(e.headers["x-forwarded-proto"]).toBe("https");
    expect(e.headers["x-real-ip"]).toBe(OTHER_CLIENT);
    expect(e.headers["x-forwarded-for"]).toBe(OTHER_CLIENT);
    expect(e.headers.host).toBe("mail.gro.at");
    expect(r.headers["strict-transport-security"]).toBe("max-age=31536000");
  });

  test("a backend's WWW-Authenticate: Negotiate challenge reaches the client unchanged", async () => {
    const r = await get("/EWS/negotiate");
    expect(r.status).toBe(401);
    expect(headerValues(r.rawHeaders, "X-Backend")).toHaveLength(1);
    expect(headerValues(r.rawHeaders, "WWW-Authenticate")).toEqual(["Negotiate", "NTLM", 'Basic realm="backend"']);
  });

  test("/OAB/ and Autodiscover reach a mailbox node with URI and query unchanged", async () => {
    const oab = echoOf(await get("/OAB/4f2c/oab.xml"))!;
    expect(Object.keys(MAILBOX)).toContain(oab.backend);
    expect(oab.url).toBe("/OAB/4f2c/oab.xml");
    const ad = echoOf(await get("/Autodiscover/Autodiscover.xml?Email=a%40gro.at"))!;
    expect(Object.keys(MAILBOX)).toContain(ad.backend);
    expect(ad.url).toBe("/Autodiscover/Autodiscover.xml?Email=a%40gro.at");
  });

  test("pools: /chat/… goes to the chat pool, /web/chat/… stays on the mailbox nodes", async () => {
    expect(echoOf(await get("/chat/api/v4"))!.backend).toBe("chat1");
    expect(echoOf(await get("/colibri-ws/x"))!.backend).toBe("meet1");
    expect(Object.keys(MAILBOX)).toContain(echoOf(await get("/web/chat/x"))!.backend);
  });

  test("WebSocket upgrade to the chat pool: 101, headers forwarded, bytes tunnelled both ways", async () => {
    const tcp = net.connect({ host: LB, port: PORTS.publicHttps.port, localAddress: OTHER_CLIENT });
    const socket = tls.connect({ socket: tcp, rejectUnauthorized: false });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("secureConnect", () => resolve());
        socket.once("error", reject);
      });
      let data = "";
      const waitFor = (re: RegExp) =>
        new Promise<string>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no ${re} in ${JSON.stringify(data)}`)), 5000);
          const check = () => {
            const m = re.exec(data);
            if (m) {
              clearTimeout(t);
              socket.off("data", onData);
              resolve(m[0]);
            }
          };
          const onData = (d: Buffer) => {
            data += d.toString("latin1");
            check();
          };
          socket.on("data", onData);
          check();
        });
      socket.write(
        "GET /chat/api/v4/websocket HTTP/1.1\r\nHost: mail.gro.at\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      );
      const head = await waitFor(/^HTTP\/1\.1 101 [^]*?\r\n\r\n/);
      expect(head).toMatch(/\r\nX-Backend: chat1\r\n/);
      const seen = JSON.parse(Buffer.from(/\r\nX-Seen: (\S+)\r\n/.exec(head)![1]!, "base64").toString()) as {
        headers: Record<string, string>;
      };
      expect(seen.headers.upgrade).toBe("websocket");
      expect(seen.headers.connection).toBe("upgrade");
      expect(seen.headers["x-real-ip"]).toBe(OTHER_CLIENT);
      expect(seen.headers["x-forwarded-proto"]).toBe("https");
      data = "";
      socket.write("ping-through-nginx");
      expect(await waitFor(/ping-through-nginx/)).toBe("ping-through-nginx");
    } finally {
      socket.destroy();
    }
  });

  test("TLS: a non-forward-secret suite is refused (the RSA key could do it), ECDHE is accepted", async () => {
    const handshake = (ciphers: string) =>
      new Promise<string>((resolve) => {
        const s = tls.connect({
          host: LB,
          port: PORTS.publicHttps.port,
          rejectUnauthorized: false,
          maxVersion: "TLSv1.2",
          ciphers,
        });
        s.once("secureConnect", () => {
          resolve(`ok ${s.getCipher().name}`);
          s.destroy();
        });
        s.once("error", (e) => resolve(`error ${e.message}`));
      });
    expect(await handshake("AES128-GCM-SHA256")).toMatch(/^error .*(handshake failure|alert)/i);
    expect(await handshake("ECDHE-RSA-AES128-GCM-SHA256")).toBe("ok ECDHE-RSA-AES128-GCM-SHA256");
    expect(await handshake("AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")).toBe("ok ECDHE-RSA-AES256-GCM-SHA384");
  });

  test("a stopped mailbox backend is skipped: the same client lands on another node", async () => {
    const client = `${NET}.103`;
    const first = echoOf(await get("/mapi/emsmdb/", { source: client }))!;
    expect(echoOf(await get("/mapi/emsmdb/", { source: client }))!.backend).toBe(first.backend); // sticky
    const down = backends.get(first.backend)!;
    await down.close();
    try {
      const r = await get("/mapi/emsmdb/", { source: client });
      expect(r.status).toBe(200);
      const e = echoOf(r)!;
      expect(Object.keys(MAILBOX)).toContain(e.backend);
      expect(e.backend).not.toBe(first.backend);
    } finally {
      await down.listen();
    }
  });
});

describe("admin server (8443)", () => {
  test("an address on the allow list reaches the admin node", async () => {
    const r = await get("/api/v1/status", { source: ADMIN_CLIENT, port: PORTS.publicAdmin.port });
    expect(r.status).toBe(200);
    const e = echoOf(r)!;
    expect(e.backend).toBe("admin-mail1");
    expect(e.headers["x-real-ip"]).toBe(ADMIN_CLIENT);
  });

  test("any other address gets 403 from nginx", async () => {
    const r = await get("/api/v1/status", { source: OTHER_CLIENT, port: PORTS.publicAdmin.port });
    expect(r.status).toBe(403);
    expect(echoOf(r)).toBeUndefined();
  });
});

test("nginx logged no error but the expected ones: the stopped backend's refused connection, the 403", () => {
  const lines = nginx!
    .errorLog()
    .split("\n")
    .filter((l) => /\[(emerg|alert|crit|error|warn)\]/.test(l));
  const refused = lines.filter((l) =>
    /connect\(\) failed \(111: Connection refused\) while connecting to upstream/.test(l),
  );
  const forbidden = lines.filter((l) => l.includes(`access forbidden by rule, client: ${OTHER_CLIENT}`));
  expect(refused.length).toBeGreaterThanOrEqual(1);
  expect(forbidden).toHaveLength(1);
  expect(lines).toHaveLength(refused.length + forbidden.length);
});
