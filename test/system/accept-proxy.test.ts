/**
 * PROXY from a cloud load balancer into the tier (`acceptProxyFrom`), with the real programs on
 * loopback: a test client plays the cloud load balancer and sends a PROXY v2 header (as an AWS NLB
 * with `proxy_protocol_v2` does) before TLS or SMTP, naming a client address from the internet.
 *
 * - HAProxy (`accept-proxy`) and nginx (`listen … proxy_protocol` + realip), both rendered from the
 *   topology: the mailbox node (a dummy HTTPS backend) receives the header's address in X-Real-IP,
 *   and postfix, rendered from the same topology (submission expects PROXY from the tier), logs
 *   it as the session's client: the address survives both hops.
 * - A connection without the header is refused (TLS fails, SMTP never greets and is closed).
 * - With a list of proxies (`acceptProxyFrom: [addr]`), HAProxy refuses a header from anyone else.
 */
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as tls from "node:tls";
import { buildTopology, ClusterInput } from "../../lib/topology";
import { PORTS } from "../../lib/topology/ports";
import { renderHaproxy } from "../../lib/render/haproxy";
import { renderNginx } from "../../lib/render/nginx";
import { renderPostfix } from "../../lib/render/postfix";
import { Dummy, dummyBackend, RunningHaproxy, selfSignedCert, sleep, startHaproxy } from "./haproxy-harness";
import { RunningNginx, startNginx } from "./nginx-harness";
import { PostfixSandbox, preparePostfixSandbox } from "./postfix-sandbox";
import { ownScratchDir, removeScratchDir } from "./scratch";
import { proxyV2Header, SmtpClient } from "./smtp-client";

jest.setTimeout(90_000);

const NET = "127.0.89";
const MAIL = `${NET}.21`;
const CLASSIC = `${NET}.31`;
const HAPROXY = `${NET}.10`;
const NGINX = `${NET}.11`;
const LISTED = `${NET}.12`; // haproxy with acceptProxyFrom: [CLOUD_LB]
const CLOUD_LB = `${NET}.200`; // where the test client connects from: the cloud load balancer
const STRANGER = `${NET}.201`;

function layout(flavor: "haproxy" | "nginx", lb: string, acceptProxyFrom: "cloud-lb" | string[]): ClusterInput {
  return {
    domain: "lo.test",
    gromoxVersion: "3.10",
    storage: "shared",
    network: { cidr: `${NET}.0/24` },
    database: { node: "db1", password: "db-secret" },
    loadBalancer: {
      flavor,
      publicName: "mail.lo.test",
      acceptProxyFrom,
      proxyProtocol: { smtp: true, submission: true, imap: flavor === "haproxy", pop3: flavor === "haproxy" },
    },
    nodes: [
      { name: "mail1", hostname: "mail1.lo.test", roles: ["mailbox"], ipv4: MAIL, serverId: 1 },
      { name: "classic1", hostname: "classic1.lo.test", roles: ["classic"], ipv4: CLASSIC },
      { name: "lb1", hostname: "lb1.lo.test", roles: ["load-balancer"], ipv4: lb },
      { name: "db1", hostname: "db1.lo.test", roles: ["database"], ipv4: `${NET}.60` },
    ],
  };
}

/** HTTPS through `lb:443` from `source`, the PROXY v2 header (client `client`) first unless null. */
function httpsVia(
  lb: string,
  source: string,
  client: string | null,
  path = "/web/",
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ host: lb, port: PORTS.publicHttps.port, localAddress: source });
    if (client !== null) raw.write(proxyV2Header(client, lb, 40000, PORTS.publicHttps.port));
    const req = https.request(
      {
        host: lb,
        path,
        headers: { Host: "mail.lo.test" },
        createConnection: () => tls.connect({ socket: raw, servername: "mail.lo.test", rejectUnauthorized: false }),
        timeout: 10_000,
      },
      (res: http.IncomingMessage) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** Greeting, EHLO, QUIT on submission through `lb` from `source`, the PROXY v2 header first unless null. */
async function submissionVia(lb: string, source: string, client: string | null): Promise<number[]> {
  const c = await SmtpClient.connect(lb, PORTS.publicSubmission.port, {
    localAddress: source,
    timeoutMs: 5_000,
    ...(client !== null ? { preamble: proxyV2Header(client, lb, 40001, PORTS.publicSubmission.port) } : {}),
  });
  try {
    const codes = [(await c.reply()).code];
    codes.push((await c.command("EHLO client.example.net")).code);
    codes.push((await c.command("QUIT")).code);
    return codes;
  } finally {
    await c.close();
  }
}

/** Connects without a header, waits, sends an SMTP command: what comes back before the close. */
function withoutHeader(lb: string, port: number): Promise<{ received: string; closed: boolean }> {
  return new Promise((resolve) => {
    let received = "";
    const s = net.connect({ host: lb, port, localAddress: CLOUD_LB });
    s.setEncoding("utf8");
    s.on("data", (d: string) => (received += d));
    s.on("error", () => undefined);
    const done = setTimeout(() => {
      s.destroy();
      resolve({ received, closed: false });
    }, 4000);
    s.on("close", () => {
      clearTimeout(done);
      resolve({ received, closed: true });
    });
    setTimeout(() => s.write("EHLO client.example.net\r\n"), 1000);
  });
}

/** postfix's log: the client address of every submission session (EHLO seen). */
function submissionClients(log: string): string[] {
  return [...log.matchAll(/postfix\/submission\/smtpd\[\d+\]: disconnect from \S+\[([\d.]+)\] ehlo=/g)].map(
    (m) => m[1]!,
  );
}

async function logMatch(postfix: PostfixSandbox, re: RegExp, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!re.test(postfix.log())) {
    if (Date.now() > end) throw new Error(`postfix log never matched ${re}:\n${postfix.log().slice(-3000)}`);
    await sleep(200);
  }
}

let postfix: PostfixSandbox | undefined;
let mailbox: Dummy | undefined;
let haproxy: RunningHaproxy | undefined;
let listed: RunningHaproxy | undefined;
let nginx: RunningNginx | undefined;
let nginxPid = "";

beforeAll(async () => {
  const cert = selfSignedCert("mail.lo.test", "ec");
  mailbox = dummyBackend("mail1.lo.test", MAIL, PORTS.mailboxWeb.port, cert);
  await mailbox.start();
  const topo = buildTopology(layout("haproxy", HAPROXY, "cloud-lb"));
  postfix = preparePostfixSandbox(renderPostfix(topo, topo.node("classic1")), {
    address: CLASSIC,
    certificateName: "classic1.lo.test",
    prefix: "postfix-accept-proxy",
  });
  postfix.start();
  haproxy = startHaproxy({
    files: renderHaproxy(topo, topo.node("lb1"), { bindAddress: HAPROXY, maxConnections: 1000 }),
    extra: { "proxy.pem": cert.pem },
  });
  const listedTopo = buildTopology(layout("haproxy", LISTED, [`${CLOUD_LB}/32`]));
  listed = startHaproxy({
    files: renderHaproxy(listedTopo, listedTopo.node("lb1"), { bindAddress: LISTED, maxConnections: 1000 }),
    extra: { "proxy.pem": cert.pem },
  });
  const nginxTopo = buildTopology(layout("nginx", NGINX, "cloud-lb"));
  nginxPid = ownScratchDir("nginx-accept-proxy");
  nginx = await startNginx({
    files: renderNginx(nginxTopo, nginxTopo.node("lb1"), { bindAddress: NGINX, pidFile: `${nginxPid}/nginx.pid` }),
    cert: { pem: cert.cert, key: cert.key },
    ready: { host: NGINX, port: PORTS.publicHttp.port },
  });
  await sleep(7_000); // HAProxy's health checks (every 3 s) mark the servers up
});

afterAll(async () => {
  await haproxy?.stop();
  await listed?.stop();
  await nginx?.stop();
  await mailbox?.stop();
  postfix?.dispose();
  if (nginxPid) removeScratchDir(nginxPid);
});

describe.each([
  ["haproxy (accept-proxy)", HAPROXY, "203.0.113.9", "198.51.100.23"],
  ["nginx (listen proxy_protocol + realip)", NGINX, "203.0.113.10", "198.51.100.24"],
])("%s behind a cloud load balancer sending PROXY v2", (_, lb, webClient, mailClient) => {
  test("HTTPS: the mailbox node gets the header's client address in X-Real-IP and X-Forwarded-For", async () => {
    const r = await httpsVia(lb, CLOUD_LB, webClient);
    expect(r.status).toBe(200);
    const echo = JSON.parse(r.body) as { node: string; realIp: string; xff: string };
    expect(echo).toMatchObject({ node: "mail1.lo.test", realIp: webClient });
    expect(echo.xff).toContain(webClient);
    expect(echo.xff).not.toContain(CLOUD_LB);
  });

  test("submission: postfix (PROXY from the tier, same topology) logs the header's client address", async () => {
    expect(await submissionVia(lb, CLOUD_LB, mailClient)).toEqual([220, 250, 221]);
    await logMatch(
      postfix!,
      new RegExp(`submission/smtpd\\[\\d+\\]: disconnect from \\S+\\[${mailClient.replace(/\./g, "\\.")}\\]`),
    );
    expect(submissionClients(postfix!.log())).toContain(mailClient);
    expect(submissionClients(postfix!.log())).not.toContain(CLOUD_LB);
    expect(submissionClients(postfix!.log())).not.toContain(lb);
  });

  test("a connection without the header is refused: TLS fails, SMTP gets no greeting and is closed", async () => {
    await expect(httpsVia(lb, CLOUD_LB, null)).rejects.toThrow();
    const smtp = await withoutHeader(lb, PORTS.publicSubmission.port);
    expect(smtp).toEqual({ received: "", closed: true });
  });
});

describe("haproxy with acceptProxyFrom: [the proxy's address]", () => {
  test("the listed proxy's header is honoured", async () => {
    const r = await httpsVia(LISTED, CLOUD_LB, "203.0.113.77");
    expect(JSON.parse(r.body)).toMatchObject({ realIp: "203.0.113.77" });
  });

  test("a header from anyone else is refused before it is read", async () => {
    await expect(httpsVia(LISTED, STRANGER, "203.0.113.78")).rejects.toThrow();
    await expect(submissionVia(LISTED, STRANGER, "198.51.100.78")).rejects.toThrow();
  });
});
