/**
 * The load-balancer tier serves the MTA-STS policy (RFC 8461) that the `_mta-sts` record announces:
 * the real haproxy and nginx on loopback, rendered with `mtaStsSite` (the options `MailDns` uses),
 * fetched over HTTPS as a sending MTA does: `https://mta-sts.<domain>/.well-known/mta-sts.txt` with
 * SNI and Host `mta-sts.<domain>`. The body is the policy byte for byte (CRLF lines), text/plain;
 * its id is the one in the TXT record. Other hosts and paths reach the mailbox node as before, and
 * plain HTTP is redirected (senders must use HTTPS).
 */
import * as https from "node:https";
import * as http from "node:http";
import { buildTopology, ClusterInput } from "../../lib/topology";
import { PORTS } from "../../lib/topology/ports";
import { mailDnsRecords, mtaStsPolicyId, mtaStsSite } from "../../lib/render/dns";
import { renderHaproxy } from "../../lib/render/haproxy";
import { renderNginx } from "../../lib/render/nginx";
import { Dummy, dummyBackend, RunningHaproxy, selfSignedCert, sleep, startHaproxy } from "./haproxy-harness";
import { RunningNginx, startNginx } from "./nginx-harness";
import { ownScratchDir, removeScratchDir } from "./scratch";

jest.setTimeout(60_000);

const NET = "127.0.90";
const MAIL = `${NET}.21`;
const HAPROXY = `${NET}.10`;
const NGINX = `${NET}.11`;
const CLIENT = `${NET}.100`;
const HOST = "mta-sts.lo.test";

function layout(flavor: "haproxy" | "nginx", lb: string): ClusterInput {
  return {
    domain: "lo.test",
    gromoxVersion: "3.10",
    storage: "shared",
    network: { cidr: `${NET}.0/24` },
    database: { node: "db1", password: "db-secret" },
    loadBalancer: { flavor, publicName: "mail.lo.test" },
    nodes: [
      { name: "mail1", hostname: "mail1.lo.test", roles: ["mailbox"], ipv4: MAIL, serverId: 1 },
      { name: "classic1", hostname: "classic1.lo.test", roles: ["classic"], ipv4: `${NET}.31` },
      { name: "lb1", hostname: "lb1.lo.test", roles: ["load-balancer"], ipv4: lb },
      { name: "db1", hostname: "db1.lo.test", roles: ["database"], ipv4: `${NET}.60` },
    ],
  };
}

const OPTIONS = { mtaSts: { mode: "enforce" as const, maxAgeSeconds: 86400 } };

function get(
  lb: string,
  host: string,
  path: string,
  tls = true,
): Promise<{ status: number; type: string | undefined; location: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const mod = tls ? https : http;
    const req = mod.request(
      {
        host: lb,
        port: tls ? PORTS.publicHttps.port : PORTS.publicHttp.port,
        path,
        localAddress: CLIENT,
        headers: { Host: host },
        ...(tls ? { servername: host, rejectUnauthorized: false } : {}),
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers["content-type"],
            location: res.headers.location,
            body,
          }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

let mailbox: Dummy | undefined;
let haproxy: RunningHaproxy | undefined;
let nginx: RunningNginx | undefined;
let pidDir = "";
let policy = "";
let announcedId = "";

beforeAll(async () => {
  const cert = selfSignedCert("mail.lo.test", "ec", ["mail.lo.test", HOST]);
  mailbox = dummyBackend("mail1.lo.test", MAIL, PORTS.mailboxWeb.port, cert);
  await mailbox.start();
  const hTopo = buildTopology(layout("haproxy", HAPROXY));
  const site = mtaStsSite(hTopo, OPTIONS)!;
  policy = site.policy;
  const txt = mailDnsRecords(
    hTopo,
    { ipv4: ["192.0.2.10"] },
    { ...OPTIONS, spf: { include: ["relay.example.net"] } },
  ).find((r) => r.name === "_mta-sts.lo.test");
  announcedId = txt?.type === "TXT" ? txt.values[0]!.text : "";
  haproxy = startHaproxy({
    files: renderHaproxy(hTopo, hTopo.node("lb1"), { bindAddress: HAPROXY, maxConnections: 1000, mtaSts: site }),
    extra: { "proxy.pem": cert.pem },
  });
  const nTopo = buildTopology(layout("nginx", NGINX));
  pidDir = ownScratchDir("nginx-mta-sts");
  nginx = await startNginx({
    files: renderNginx(nTopo, nTopo.node("lb1"), {
      bindAddress: NGINX,
      pidFile: `${pidDir}/nginx.pid`,
      mtaSts: mtaStsSite(nTopo, OPTIONS)!,
    }),
    cert: { pem: cert.cert, key: cert.key },
    ready: { host: NGINX, port: PORTS.publicHttp.port },
  });
  await sleep(4_000); // HAProxy's first health checks mark mail1 up
});

afterAll(async () => {
  await haproxy?.stop();
  await nginx?.stop();
  await mailbox?.stop();
  if (pidDir) removeScratchDir(pidDir);
});

test("the policy is the renderer's, and the TXT record's id names it", () => {
  expect(policy).toBe("version: STSv1\r\nmode: enforce\r\nmx: mail.lo.test\r\nmax_age: 86400\r\n");
  expect(announcedId).toBe(`v=STSv1; id=${mtaStsPolicyId(policy)}`);
});

describe.each([
  ["haproxy", HAPROXY],
  ["nginx", NGINX],
])("%s", (_, lb) => {
  test("https://mta-sts.<domain>/.well-known/mta-sts.txt: 200, text/plain, the policy byte for byte", async () => {
    const r = await get(lb, HOST, "/.well-known/mta-sts.txt");
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain/);
    expect(r.body).toBe(policy);
  });

  test("the mail host's own requests still reach the mailbox node; other paths on mta-sts are not the policy", async () => {
    const web = await get(lb, "mail.lo.test", "/web/");
    expect(web.status).toBe(200);
    expect(JSON.parse(web.body)).toMatchObject({ node: "mail1.lo.test" });
    const other = await get(lb, HOST, "/web/");
    expect(other.body).not.toBe(policy);
  });

  test("plain HTTP is redirected to HTTPS, not answered (RFC 8461 §3.3: HTTPS only)", async () => {
    const r = await get(lb, HOST, "/.well-known/mta-sts.txt", false);
    expect(r.status).toBe(301);
    expect(r.location).toBe(`https://${HOST}/.well-known/mta-sts.txt`);
  });
});
