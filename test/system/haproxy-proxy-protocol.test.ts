/**
 * PROXY protocol end to end: an SMTP client bound to its own loopback address connects through
 * the real haproxy (generated config, `send-proxy-v2` from the topology's one PROXY declaration)
 * to a real postfix configured by the postfix renderer from the same declaration (postscreen with
 * `postscreen_upstream_proxy_protocol=haproxy` on the port-25 role, smtpd with
 * `smtpd_upstream_proxy_protocol=haproxy` on submission). postfix must log the client's own
 * address, not haproxy's. A control pair rendered with PROXY off shows the probe tells them apart.
 */
import { buildTopology, ClusterInput, Topology } from "../../lib/topology";
import { PORTS } from "../../lib/topology/ports";
import { renderHaproxy } from "../../lib/render/haproxy";
import { renderPostfix } from "../../lib/render/postfix";
import { RunningHaproxy, selfSignedCert, sleep, startHaproxy } from "./haproxy-harness";
import { PostfixSandbox, preparePostfixSandbox } from "./postfix-sandbox";
import { SmtpClient } from "./smtp-client";
import { section } from "../render/haproxy-cfg";

jest.setTimeout(60_000);

const NET = "127.0.84";

function layout(lb: string, classic: string, proxy: boolean): ClusterInput {
  return {
    domain: "lo.test",
    gromoxVersion: "3.10",
    storage: "shared",
    network: { cidr: `${NET}.0/24` },
    database: { node: "db1", password: "db-secret" },
    loadBalancer: {
      flavor: "haproxy",
      publicName: "mail.lo.test",
      proxyProtocol: { smtp: proxy, submission: proxy, imap: proxy, pop3: proxy },
    },
    nodes: [
      { name: "mail1", hostname: "mail1.lo.test", roles: ["mailbox"], ipv4: `${NET}.21`, serverId: 1 },
      { name: "classic1", hostname: "classic1.lo.test", roles: ["classic"], ipv4: classic },
      { name: "lb1", hostname: "lb1.lo.test", roles: ["load-balancer"], ipv4: lb },
      { name: "db1", hostname: "db1.lo.test", roles: ["database"], ipv4: `${NET}.60` },
    ],
  };
}

interface Pair {
  readonly topo: Topology;
  readonly lb: string;
  readonly postfix: PostfixSandbox;
  readonly haproxy: RunningHaproxy;
}

const started: Array<{ haproxy?: RunningHaproxy; postfix?: PostfixSandbox }> = [];

/** HAProxy checks every 3 s (`default-server inter 3s`): let a few checks reach postfix first. */
const CHECKS_RUN_MS = 7_000;

/**
 * postfix for classic1 and haproxy for lb1, both rendered from one topology, running; `edit`
 * changes the generated haproxy.cfg (only for the control that shows a broken variant).
 */
async function startPair(lb: string, classic: string, proxy: boolean, edit?: (cfg: string) => string): Promise<Pair> {
  const topo = buildTopology(layout(lb, classic, proxy));
  const slot: { haproxy?: RunningHaproxy; postfix?: PostfixSandbox } = {};
  started.push(slot);
  const postfix = preparePostfixSandbox(renderPostfix(topo, topo.node("classic1")), {
    address: classic,
    certificateName: "classic1.lo.test",
    prefix: "postfix-proxy",
  });
  slot.postfix = postfix;
  postfix.start();
  const files = renderHaproxy(topo, topo.node("lb1"), { bindAddress: lb, maxConnections: 1000 });
  const haproxy = startHaproxy({
    files: edit ? files.map((f) => (f.path.endsWith("/haproxy.cfg") ? { ...f, content: edit(f.content) } : f)) : files,
    extra: { "proxy.pem": selfSignedCert("mail.lo.test", "ec").pem },
  });
  slot.haproxy = haproxy;
  await sleep(CHECKS_RUN_MS);
  return { topo, lb, postfix, haproxy };
}

afterAll(async () => {
  for (const s of started) {
    await s.haproxy?.stop();
    s.postfix?.dispose();
  }
});

/** EHLO + QUIT through the load balancer from `source`; returns the replies' codes. */
async function smtpSession(lb: string, port: number, source: string): Promise<number[]> {
  // postscreen may hold the greeting for its greet wait (6 s) before PASS NEW.
  const c = await SmtpClient.connect(lb, port, { localAddress: source, timeoutMs: 20_000 });
  const codes = [(await c.reply()).code, (await c.command("EHLO client.example.net")).code];
  codes.push((await c.command("QUIT")).code);
  await c.close();
  return codes;
}

/** Polls postfix's log until `re` matches (the log is written asynchronously by postlogd). */
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

/**
 * The client address of every SMTP session postfix logged (`disconnect from name[addr] ehlo=…`),
 * for smtpd on port 25 (`postfix/smtpd`) or on submission (`postfix/submission/smtpd`).
 * Health checks of haproxy connect and close without EHLO, so they are not sessions here.
 */
function sessionAddresses(log: string, service: "smtpd" | "submission/smtpd"): string[] {
  const re = new RegExp(`postfix/${service}\\[\\d+\\]: disconnect from \\S+\\[([\\d.]+)\\] ehlo=`, "g");
  return [...log.matchAll(re)].map((m) => m[1]!);
}

describe("PROXY v2 from haproxy into postfix (one declaration, both renderers)", () => {
  const LB = `${NET}.10`;
  const CLASSIC = `${NET}.31`;
  let pair: Pair;

  beforeAll(async () => {
    pair = await startPair(LB, CLASSIC, true);
  });

  test("the two renderers agree: send-proxy-v2 where master.cf expects PROXY", () => {
    const cfg = renderHaproxy(pair.topo, pair.topo.node("lb1")).find((f) => f.path.endsWith("haproxy.cfg"))!.content;
    const master = renderPostfix(pair.topo, pair.topo.node("classic1")).find((f) =>
      f.path.endsWith("master.cf"),
    )!.content;
    // PROXY on traffic, not on checks (check port); the server lines have no port: HAProxy
    // connects to the port the client dialled, which the sessions below show to be postfix's.
    expect(section(cfg, "backend be_smtp")).toEqual(
      expect.arrayContaining([
        `default-server check inter 3s fall 3 rise 2 port ${PORTS.smtp.port} send-proxy-v2`,
        `server classic1.lo.test ${CLASSIC}`,
      ]),
    );
    expect(section(cfg, "backend be_submission")).toEqual(
      expect.arrayContaining([
        `default-server check inter 3s fall 3 rise 2 port ${PORTS.submission.port} send-proxy-v2`,
        `server classic1.lo.test ${CLASSIC}`,
      ]),
    );
    expect(master).toMatch(
      new RegExp(`^${PORTS.smtp.port}\\s+inet .* postscreen\\n\\s+-o postscreen_upstream_proxy_protocol=haproxy`, "m"),
    );
    expect(master).toMatch(/-o smtpd_upstream_proxy_protocol=haproxy/);
  });

  test("port 25 (postscreen, then smtpd): postfix logs the client's address", async () => {
    const client = `${NET}.100`;
    expect(await smtpSession(LB, PORTS.publicSmtp.port, client)).toEqual([220, 250, 221]);
    // postscreen sees the client and the address it dialled (the load balancer's frontend).
    await logMatch(
      pair.postfix,
      new RegExp(
        `postscreen\\[\\d+\\]: CONNECT from \\[${esc(client)}\\]:\\d+ to \\[${esc(LB)}\\]:${PORTS.publicSmtp.port}`,
      ),
    );
    await logMatch(pair.postfix, new RegExp(`postfix/smtpd\\[\\d+\\]: connect from \\S+\\[${esc(client)}\\]`));
    await logMatch(
      pair.postfix,
      new RegExp(`postfix/smtpd\\[\\d+\\]: disconnect from \\S+\\[${esc(client)}\\] ehlo=1 quit=1`),
    );
    // Every SMTP session on 25 is attributed to the client, none to an address of haproxy.
    expect(sessionAddresses(pair.postfix.log(), "smtpd")).toEqual([client]);
  });

  test("submission (smtpd with smtpd_upstream_proxy_protocol): postfix logs the client's address", async () => {
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

  test("health checks (running since start) left postfix intact: no fatal error, no throttled service", () => {
    expect(pair.postfix.log()).not.toMatch(/fatal:|throttling|warning: haproxy read/);
  });
});

describe("control: the same declaration set to false on both ends", () => {
  const LB = `${NET}.11`;
  const CLASSIC = `${NET}.32`;
  let pair: Pair;

  beforeAll(async () => {
    pair = await startPair(LB, CLASSIC, false);
  });

  test("no PROXY header: the sessions work and postfix logs haproxy's address, not the client's", async () => {
    const client = `${NET}.102`;
    expect(await smtpSession(LB, PORTS.publicSmtp.port, client)).toEqual([220, 250, 221]);
    expect(await smtpSession(LB, PORTS.publicSubmission.port, client)).toEqual([220, 250, 221]);
    await logMatch(pair.postfix, /postfix\/smtpd\[\d+\]: disconnect from \S+ ehlo=1 quit=1/);
    await logMatch(pair.postfix, /postfix\/submission\/smtpd\[\d+\]: disconnect from \S+ ehlo=1 quit=1/);
    // haproxy's own connection (its source is whatever the kernel picks for the backend address).
    for (const service of ["smtpd", "submission/smtpd"] as const) {
      const seen = sessionAddresses(pair.postfix.log(), service);
      expect(seen).toHaveLength(1);
      expect(seen[0]).not.toBe(client);
    }
    expect(pair.postfix.log()).not.toContain(client);
  });
});

describe("control: PROXY also on health checks ('check-send-proxy') breaks submission", () => {
  const LB = `${NET}.12`;
  const CLASSIC = `${NET}.33`;
  let pair: Pair;

  beforeAll(async () => {
    pair = await startPair(LB, CLASSIC, true, (cfg) => {
      const edited = cfg.replace(/ send-proxy-v2$/gm, " send-proxy-v2 check-send-proxy");
      expect(edited).toContain(`port ${PORTS.submission.port} send-proxy-v2 check-send-proxy`);
      return edited;
    });
  });

  test("smtpd dies on the checks' PROXY v2 LOCAL header and the master throttles submission", async () => {
    await logMatch(pair.postfix, /postfix\/submission\/smtpd\[\d+\]: fatal: smtpd_peer_hostaddr_to_sockaddr/);
    await logMatch(pair.postfix, /bad command startup -- throttling/);
    const c = await SmtpClient.connect(LB, PORTS.publicSubmission.port, {
      localAddress: `${NET}.103`,
      timeoutMs: 3000,
    });
    await expect(c.reply()).rejects.toThrow(/no complete reply|connection closed/);
    await c.close();
  });
});
