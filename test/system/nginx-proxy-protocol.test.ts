/**
 * PROXY protocol through nginx's stream module: an SMTP client bound to its own loopback address
 * connects through the real nginx (generated config; `proxy_protocol on` from the topology's one
 * PROXY declaration) to a real postfix configured by the postfix renderer from the same
 * declaration (postscreen with `postscreen_upstream_proxy_protocol=haproxy` on 25, smtpd with
 * `smtpd_upstream_proxy_protocol=haproxy` on submission). postfix must log the client's own
 * address. Controls: the declaration off on both ends (postfix logs nginx's address), and the two
 * ends rendered from disagreeing declarations (the failure the documentation's nginx block has:
 * postfix waits for a header that never comes and answers 421).
 */
import { buildTopology, ClusterInput } from "../../lib/topology";
import { PORTS } from "../../lib/topology/ports";
import { renderNginx } from "../../lib/render/nginx";
import { renderPostfix } from "../../lib/render/postfix";
import { Cert, RunningNginx, selfSignedCert, sleep, startNginx } from "./nginx-harness";
import { PostfixSandbox, preparePostfixSandbox } from "./postfix-sandbox";
import { ownScratchDir, removeScratchDir } from "./scratch";
import { SmtpClient } from "./smtp-client";

jest.setTimeout(60_000);

const NET = "127.0.87";

function layout(lb: string, classic: string, proxy: boolean): ClusterInput {
  return {
    domain: "lo.test",
    gromoxVersion: "3.10",
    storage: "shared",
    network: { cidr: `${NET}.0/24` },
    database: { node: "db1", password: "db-secret" },
    loadBalancer: { flavor: "nginx", publicName: "mail.lo.test", proxyProtocol: { smtp: proxy, submission: proxy } },
    nodes: [
      { name: "mail1", hostname: "mail1.lo.test", roles: ["mailbox"], ipv4: `${NET}.21`, serverId: 1 },
      { name: "classic1", hostname: "classic1.lo.test", roles: ["classic"], ipv4: classic },
      { name: "lb1", hostname: "lb1.lo.test", roles: ["load-balancer"], ipv4: lb },
      { name: "db1", hostname: "db1.lo.test", roles: ["database"], ipv4: `${NET}.60` },
    ],
  };
}

interface Pair {
  readonly postfix: PostfixSandbox;
  readonly nginx: RunningNginx;
}

const started: Array<{ nginx?: RunningNginx; postfix?: PostfixSandbox; pidDir?: string }> = [];
let cert: Cert;

beforeAll(() => {
  cert = selfSignedCert("mail.lo.test");
});

/**
 * postfix for classic1 rendered with PROXY = `postfixProxy`, nginx for lb1 rendered with PROXY =
 * `nginxProxy` (equal in a real cluster: one declaration; different only for the mismatch control).
 */
async function startPair(lb: string, classic: string, nginxProxy: boolean, postfixProxy = nginxProxy): Promise<Pair> {
  const slot: (typeof started)[number] = {};
  started.push(slot);
  const pfTopo = buildTopology(layout(lb, classic, postfixProxy));
  const postfix = preparePostfixSandbox(renderPostfix(pfTopo, pfTopo.node("classic1")), {
    address: classic,
    certificateName: "classic1.lo.test",
    prefix: "postfix-nginx-proxy",
  });
  slot.postfix = postfix;
  postfix.start();
  const lbTopo = buildTopology(layout(lb, classic, nginxProxy));
  slot.pidDir = ownScratchDir("nginx-proxy-pid");
  const nginx = await startNginx({
    files: renderNginx(lbTopo, lbTopo.node("lb1"), { bindAddress: lb, pidFile: `${slot.pidDir}/nginx.pid` }),
    cert,
    // Not a mail port: a probe there would be proxied to postfix as a session of its own.
    ready: { host: lb, port: PORTS.publicHttp.port },
  });
  slot.nginx = nginx;
  return { postfix, nginx };
}

afterAll(async () => {
  for (const s of started) {
    await s.nginx?.stop();
    s.postfix?.dispose();
    if (s.pidDir) removeScratchDir(s.pidDir);
  }
});

/** Greeting, EHLO and QUIT through the load balancer from `source`; returns the reply codes. */
async function smtpSession(lb: string, port: number, source: string): Promise<number[]> {
  // postscreen holds a new client for its greet wait (6 s) before PASS NEW.
  const c = await SmtpClient.connect(lb, port, { localAddress: source, timeoutMs: 20_000 });
  try {
    const codes = [(await c.reply()).code];
    if (codes[0] !== 220) return codes;
    codes.push((await c.command("EHLO client.example.net")).code);
    codes.push((await c.command("QUIT")).code);
    return codes;
  } finally {
    await c.close();
  }
}

/** Polls postfix's log until `re` matches (postlogd writes it asynchronously). */
async function logMatch(postfix: PostfixSandbox, re: RegExp, timeoutMs = 8000): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(postfix.log());
    if (m) return m[0];
    if (Date.now() > end) throw new Error(`postfix log never matched ${re}:\n${postfix.log().slice(-4000)}`);
    await sleep(200);
  }
}

const esc = (s: string) => s.replace(/\./g, "\\.");

/** Client addresses of the SMTP sessions postfix logged for smtpd on 25 or on submission. */
function sessionAddresses(log: string, service: "smtpd" | "submission/smtpd"): string[] {
  const re = new RegExp(`postfix/${service}\\[\\d+\\]: disconnect from \\S+\\[([\\d.]+)\\] ehlo=`, "g");
  return [...log.matchAll(re)].map((m) => m[1]!);
}

describe("PROXY v1 from nginx's stream module into postfix (one declaration, both renderers)", () => {
  const LB = `${NET}.10`;
  const CLASSIC = `${NET}.31`;
  let pair: Pair;

  beforeAll(async () => {
    pair = await startPair(LB, CLASSIC, true);
  });

  test("port 25 (postscreen, then smtpd): postfix logs the client's own address", async () => {
    const client = `${NET}.100`;
    expect(await smtpSession(LB, PORTS.publicSmtp.port, client)).toEqual([220, 250, 221]);
    // postscreen read the PROXY header: the client, and the address the client dialled (nginx's).
    await logMatch(
      pair.postfix,
      new RegExp(
        `postscreen\\[\\d+\\]: CONNECT from \\[${esc(client)}\\]:\\d+ to \\[${esc(LB)}\\]:${PORTS.publicSmtp.port}`,
      ),
    );
    // postscreen judged the client by the PROXY address: in the sandbox every 127/8 address is in
    // mynetworks, so it is allow-listed at once (no greet wait) - by its own address.
    await logMatch(pair.postfix, new RegExp(`postscreen\\[\\d+\\]: ALLOWLISTED \\[${esc(client)}\\]:\\d+`));
    await logMatch(
      pair.postfix,
      new RegExp(`postfix/smtpd\\[\\d+\\]: disconnect from \\S+\\[${esc(client)}\\] ehlo=1 quit=1`),
    );
    expect(sessionAddresses(pair.postfix.log(), "smtpd")).toEqual([client]);
  });

  test("submission (smtpd_upstream_proxy_protocol): postfix logs the client's own address", async () => {
    const client = `${NET}.101`;
    expect(await smtpSession(LB, PORTS.publicSubmission.port, client)).toEqual([220, 250, 221]);
    await logMatch(
      pair.postfix,
      new RegExp(`postfix/submission/smtpd\\[\\d+\\]: connect from \\S+\\[${esc(client)}\\]`),
    );
    await logMatch(
      pair.postfix,
      new RegExp(`postfix/submission/smtpd\\[\\d+\\]: disconnect from \\S+\\[${esc(client)}\\] ehlo=1 quit=1`),
    );
    expect(sessionAddresses(pair.postfix.log(), "submission/smtpd")).toEqual([client]);
  });

  test("postfix saw no PROXY error, fatal or throttling", () => {
    expect(pair.postfix.log()).not.toMatch(/fatal:|throttling|warning: haproxy read|improper command pipelining/);
  });
});

describe("control: the declaration off on both ends", () => {
  const LB = `${NET}.11`;
  const CLASSIC = `${NET}.32`;
  let pair: Pair;

  beforeAll(async () => {
    pair = await startPair(LB, CLASSIC, false);
  });

  test("sessions work, and postfix logs nginx's address instead of the client's", async () => {
    const client = `${NET}.102`;
    expect(await smtpSession(LB, PORTS.publicSmtp.port, client)).toEqual([220, 250, 221]);
    expect(await smtpSession(LB, PORTS.publicSubmission.port, client)).toEqual([220, 250, 221]);
    await logMatch(pair.postfix, /postfix\/smtpd\[\d+\]: disconnect from \S+ ehlo=1 quit=1/);
    await logMatch(pair.postfix, /postfix\/submission\/smtpd\[\d+\]: disconnect from \S+ ehlo=1 quit=1/);
    for (const service of ["smtpd", "submission/smtpd"] as const) {
      const seen = sessionAddresses(pair.postfix.log(), service);
      expect(seen).toHaveLength(1);
      expect(seen[0]).not.toBe(client);
    }
    expect(pair.postfix.log()).not.toContain(client);
  });
});

describe("control: ends rendered from disagreeing declarations (the documentation's nginx block)", () => {
  const LB = `${NET}.12`;
  const CLASSIC = `${NET}.33`;
  let pair: Pair;

  beforeAll(async () => {
    pair = await startPair(LB, CLASSIC, false, true);
  });

  test("no PROXY header into a postfix that expects one: 421 after postfix's 5 s wait", async () => {
    const t0 = Date.now();
    expect(await smtpSession(LB, PORTS.publicSubmission.port, `${NET}.103`)).toEqual([421]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4_000);
    await logMatch(pair.postfix, /postfix\/submission\/smtpd\[\d+\]: warning: haproxy read: timeout error/);
  });
});
