/**
 * DKIM signing with the generated files against the real programs (Debian 12): `opendkim -n`
 * accepts the rendered /etc/opendkim.conf (and refuses a broken one); `opendkim-testkey` matches
 * the key file against the record a `named` on loopback serves from the generated zone (through a
 * libunbound stub zone); the real opendkim runs on the rendered file (key and pid directories
 * bind-mounted at their rendered paths in a private mount namespace, the milter on its rendered
 * loopback socket) behind a postfix on loopback with the classic node's rendered main.cf and
 * master.cf (database maps emptied: no database here; delivery deferred). rspamd is absent, so
 * `milter_default_action = accept` is exercised. Signed and verified by python3-dkim against the
 * served key: mail from the node itself (InternalHosts) and mail a mailbox node relays (the relay
 * port, ORIGINATING); mail arriving on port 25 from elsewhere is not signed. The cluster runs on
 * 127.0.90.0/24 so the relay port's client list names addresses a test client can send from.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { DkimSigning, OPENDKIM_CONF, OPENDKIM_KEY_DIR, opendkimKeyFile } from "../../lib/render/dkim";
import { mailDnsRecords, pemBody, recordsInZone, renderZoneFile } from "../../lib/render/dns";
import { renderNodeFiles } from "../../lib/render/node";
import { POSTFIX_MYSQL_MAPS } from "../../lib/render/postfix";
import { ConfigFile } from "../../lib/render/types";
import { PORTS } from "../../lib/topology";
import { buildTopology } from "../../lib/topology";
import { DOCUMENTED_ENTRY, documentedDnsOptions } from "../dns/fixtures";
import { documentedLayout } from "../fixtures";
import { NamedServer, startNamed } from "./dns-server";
import { PostfixSandbox, preparePostfixSandbox, withSandboxParameters } from "./postfix-sandbox";
import { ownScratchDir, removeScratchDir } from "./scratch";
import { proxyV1Header, SmtpClient } from "./smtp-client";
import { requireProgram, run } from "./support";

jest.setTimeout(120_000);

const PYTHON = "/usr/bin/python3";
const DNS_ADDRESS = "127.0.0.1";
/** postfix's own loopback address; clients connect from 127.0.0.1 (OpenDKIM's InternalHosts) or others. */
const POSTFIX_ADDRESS = "127.0.89.1";
/** A client that is neither the node itself nor a cluster node. */
const OUTSIDE_ADDRESS = "127.0.91.7";
const SELECTOR = "grommunio";

function requireDkimPython(): void {
  const r = fs.existsSync(PYTHON) ? run(PYTHON, ["-c", "import dkim, dns.message, dns.query"]) : undefined;
  if (!r || r.status !== 0) {
    throw new Error(
      `${PYTHON} cannot import dkim and dns (${r?.stderr.trim() ?? "not installed"}). Install them with: ` +
        "apt-get install python3-dkim python3-dnspython (or run scripts/install-system-deps.sh).",
    );
  }
}

/** Writes a rendered file below `root` at its path relative to `under`, with its mode and owner. */
function place(root: string, under: string, f: ConfigFile): string {
  const target = path.join(root, path.relative(under, f.path));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, f.content);
  fs.chmodSync(target, parseInt(f.mode, 8));
  const chown = run("chown", [f.owner, target]);
  if (chown.status !== 0) throw new Error(`chown ${f.owner} ${target}: ${chown.stderr}`);
  return target;
}

/** A command in a private mount namespace with `binds` (target → source) mounted first. */
function inNamespace(binds: Record<string, string>, command: string): string[] {
  const lines = ["set -e"];
  for (const [target, source] of Object.entries(binds))
    lines.push(`mkdir -p '${target}'`, `mount --bind '${source}' '${target}'`);
  return ["-m", "sh", "-c", `${lines.join("\n")}\n${command}`];
}

/** True when a TCP connection to address:port succeeds (closed at once). */
function listening(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * The documented layout on a loopback network (127.0.90.0/24), so the relay port's client list
 * (the mailbox nodes' /32s) names addresses a test client can send from.
 */
const topology = (() => {
  const base = documentedLayout();
  return buildTopology({
    ...base,
    network: { cidr: "127.0.90.0/24" },
    nodes: base.nodes.map((n) => ({ ...n, ipv4: n.ipv4.replace(/^10\.10\.10\./, "127.0.90.") })),
  });
})();

let scratch: string | undefined;
let named: NamedServer | undefined;
let opendkim: ChildProcess | undefined;
let opendkimOutput = "";
let postfix: PostfixSandbox | undefined;
let files: ConfigFile[] = [];
let binds: Record<string, string> = {};
let confFile = "";

beforeAll(async () => {
  requireProgram("opendkim", "opendkim");
  requireProgram("opendkim-testkey", "opendkim-tools");
  requireProgram("openssl", "openssl");
  requireProgram("unshare", "util-linux");
  requireDkimPython();
  scratch = ownScratchDir("dkim");

  // The key pair: openssl stands in for tls_private_key (PKCS#1 PEM, as that resource writes it).
  const keyPem = path.join(scratch, "dkim.pem");
  const pubPem = path.join(scratch, "dkim.pub.pem");
  if (run("openssl", ["genrsa", "-traditional", "-out", keyPem, "2048"]).status !== 0)
    throw new Error("openssl genrsa");
  if (run("openssl", ["rsa", "-in", keyPem, "-pubout", "-out", pubPem]).status !== 0) throw new Error("openssl rsa");

  const signing: DkimSigning = {
    domain: topology.domain,
    selector: SELECTOR,
    privateKeyPem: fs.readFileSync(keyPem, "utf8"),
  };
  files = renderNodeFiles(topology, topology.node("classic1"), { dkimSigning: signing });

  // The zone with the DKIM record, served by named on loopback.
  const records = mailDnsRecords(
    topology,
    DOCUMENTED_ENTRY,
    documentedDnsOptions({ dkim: { selector: SELECTOR, publicKey: pemBody(fs.readFileSync(pubPem, "utf8")) } }),
  );
  const zone = renderZoneFile("gro.at", recordsInZone(records, "gro.at"), {
    nameServers: [{ name: "ns1.gro.at", ipv4: [DNS_ADDRESS] }],
  });
  named = await startNamed(DNS_ADDRESS, { "gro.at": zone });

  // opendkim's files at their rendered paths: the config as given, the key directory and the pid
  // directory bind-mounted (opendkim:opendkim, as the package makes them).
  const conf = files.find((f) => f.path === OPENDKIM_CONF)!;
  confFile = place(scratch, "/etc", conf);
  const keyDir = path.join(scratch, "dkimkeys");
  const runDir = path.join(scratch, "run-opendkim");
  for (const d of [keyDir, runDir]) {
    fs.mkdirSync(d, { mode: 0o700 });
    run("chown", ["opendkim:opendkim", d]);
  }
  place(
    keyDir,
    OPENDKIM_KEY_DIR,
    files.find((f) => f.path === opendkimKeyFile(SELECTOR))!,
  );
  binds = { [OPENDKIM_KEY_DIR]: keyDir, "/run/opendkim": runDir };
});

afterAll(async () => {
  postfix?.dispose();
  if (opendkim && opendkim.exitCode === null && opendkim.signalCode === null) {
    const exited = new Promise<void>((resolve) => opendkim!.once("exit", () => resolve()));
    opendkim.kill("SIGTERM");
    const timer = setTimeout(() => opendkim?.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
  await named?.stop();
  if (scratch && process.env.GRX_KEEP_SCRATCH === undefined) removeScratchDir(scratch);
});

test("opendkim -n accepts the rendered configuration", () => {
  const r = run("unshare", inNamespace(binds, `opendkim -n -x '${confFile}'`));
  expect(`${r.stdout}${r.stderr}`).toBe("");
  expect(r.status).toBe(0);
});

test("opendkim -n refuses a broken configuration (the check bites)", () => {
  const broken = path.join(scratch!, "broken.conf");
  fs.writeFileSync(broken, fs.readFileSync(confFile, "utf8").replace("Mode s", "Mode q"));
  const r = run("unshare", inNamespace(binds, `opendkim -n -x '${broken}'`));
  expect(r.status).not.toBe(0);
});

test("opendkim-testkey: the published record matches the key file (through the loopback named)", () => {
  // libunbound (opendkim's resolver) asks our named for gro.at: a stub zone on its port.
  const unbound = path.join(scratch!, "unbound.conf");
  fs.writeFileSync(
    unbound,
    [
      "server:",
      "  do-not-query-localhost: no",
      '  module-config: "iterator"',
      "stub-zone:",
      '  name: "gro.at"',
      `  stub-addr: ${named!.address}@${named!.port}`,
      "",
    ].join("\n"),
  );
  const testConf = path.join(scratch!, "testkey.conf");
  fs.writeFileSync(testConf, fs.readFileSync(confFile, "utf8") + `ResolverConfiguration ${unbound}\n`);
  const r = run(
    "unshare",
    inNamespace(
      binds,
      `opendkim-testkey -x '${testConf}' -d gro.at -s ${SELECTOR} -k ${opendkimKeyFile(SELECTOR)} -vvv`,
    ),
  );
  expect(`${r.stdout}${r.stderr}`).toMatch(/key OK/);
  expect(r.status).toBe(0);
  // It did ask our server: a selector the zone does not have is not found.
  const missing = run("unshare", inNamespace(binds, `opendkim-testkey -x '${testConf}' -d gro.at -s nosuch -vvv`));
  expect(`${missing.stdout}${missing.stderr}`).toMatch(/record not found|no key/i);
  expect(missing.status).not.toBe(0);
});

/** Starts the real opendkim (foreground, rendered socket) and the postfix sandbox, once. */
async function startMilterAndPostfix(): Promise<PostfixSandbox> {
  if (postfix) return postfix;
  opendkim = spawn("unshare", inNamespace(binds, `exec opendkim -f -x '${confFile}'`), {
    stdio: ["ignore", "pipe", "pipe"],
  });
  opendkim.stdout?.on("data", (d) => (opendkimOutput += String(d)));
  opendkim.stderr?.on("data", (d) => (opendkimOutput += String(d)));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (opendkim.exitCode !== null) throw new Error(`opendkim exited ${opendkim.exitCode}: ${opendkimOutput}`);
    if (await listening("127.0.0.1", PORTS.dkimMilter.port)) break;
    if (Date.now() > deadline)
      throw new Error(`opendkim does not listen on ${PORTS.dkimMilter.port}: ${opendkimOutput}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // postfix with the rendered main.cf/master.cf; no database (maps emptied), no delivery (deferred).
  const emptied = Object.fromEntries(POSTFIX_MYSQL_MAPS.map((m) => [m.parameter, ""]));
  const postfixFiles = files.map((f) =>
    f.path === "/etc/postfix/main.cf"
      ? { ...f, content: withSandboxParameters(f.content, { ...emptied, defer_transports: "smtp" }) }
      : f,
  );
  const main = postfixFiles.find((f) => f.path === "/etc/postfix/main.cf")!.content;
  expect(main).toMatch(/^smtpd_milters = inet:localhost:11332, inet:127\.0\.0\.1:8891$/m);
  expect(main).toMatch(/^non_smtpd_milters = \$smtpd_milters$/m);
  expect(main).toMatch(/^milter_default_action = accept$/m);
  postfix = preparePostfixSandbox(postfixFiles, {
    address: POSTFIX_ADDRESS,
    certificateName: "classic1.gro.at",
    prefix: "dkim-postfix",
  });
  postfix.start();
  return postfix;
}

/**
 * Sends one message to the sandbox's `port` from `localAddress` (through a PROXY header naming it
 * where the port expects one) and returns the queued message as postcat shows it.
 */
async function sendAndRead(port: number, localAddress: string, rcpt: string, subject: string): Promise<string> {
  const sb = await startMilterAndPostfix();
  const proxied = port === PORTS.smtp.port && (topology.loadBalancer?.proxyProtocol.smtp ?? false);
  const smtp = await SmtpClient.connect(POSTFIX_ADDRESS, port, {
    localAddress,
    ...(proxied ? { preamble: proxyV1Header(localAddress, POSTFIX_ADDRESS, 40125, port) } : {}),
  });
  expect((await smtp.reply()).code).toBe(220);
  expect((await smtp.command("EHLO client.gro.at")).code).toBe(250);
  expect((await smtp.command("MAIL FROM:<alice@gro.at>")).code).toBe(250);
  expect(await smtp.command(`RCPT TO:<${rcpt}>`)).toMatchObject({ code: 250 });
  expect((await smtp.command("DATA")).code).toBe(354);
  const body = [
    "From: Alice <alice@gro.at>",
    `To: <${rcpt}>`,
    `Subject: ${subject}`,
    "Date: Mon, 02 Jun 2025 10:00:00 +0000",
    `Message-ID: <${subject.replace(/\W+/g, "-")}@gro.at>`,
    "",
    "Signed by OpenDKIM with the generated configuration.",
    ".",
  ].join("\r\n");
  const queued = await smtp.command(body);
  expect(queued.code).toBe(250);
  await smtp.command("QUIT");
  await smtp.close();
  const queueId = /queued as ([0-9A-Za-z]+)/.exec(queued.lines.join(" "))?.[1];
  expect(queueId).toBeDefined();
  const cat = sb.exec(`postcat -h -b -q ${queueId}`);
  expect(cat.status).toBe(0);
  return cat.stdout
    .split("\n")
    .filter((l) => !/^\*\*\* .* \*\*\*$/.test(l))
    .join("\n");
}

interface Verified {
  verified: boolean;
  tamperedVerified: boolean;
  tags: Record<string, string>;
  fetched: string[];
}

/** python3-dkim's verdict on `message`, keys from the loopback named. */
function verify(message: string, name: string): Verified {
  const file = path.join(scratch!, `${name}.eml`);
  fs.writeFileSync(file, message);
  const r = run(PYTHON, [path.join(__dirname, "dkim-verify-message.py"), named!.address, String(named!.port), file]);
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout) as Verified;
}

const SIGNED = {
  verified: true,
  tamperedVerified: false,
  tags: { d: "gro.at", s: "grommunio", a: "rsa-sha256", c: "relaxed/simple" },
};

test("mail from the node itself (port 25 from 127.0.0.1, InternalHosts) is signed and verifies against the served key", async () => {
  const message = await sendAndRead(PORTS.smtp.port, "127.0.0.1", "bob@example.net", "from the node itself");
  expect(message).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/simple; d=gro\.at;/m);
  // rspamd is not running: postfix went on without it (milter_default_action = accept).
  expect(postfix!.log()).toMatch(/connect to Milter service inet:localhost:11332: Connection refused/);
  const result = verify(message, "internal");
  expect(result).toMatchObject(SIGNED);
  expect(result.fetched).toContain("grommunio._domainkey.gro.at.");
});

test("mail a mailbox node relays (the relay port, milter_macro_daemon_name ORIGINATING) is signed", async () => {
  const mail1 = topology.node("mail1").ipv4;
  expect(mail1).toMatch(/^127\./);
  const message = await sendAndRead(PORTS.relay.port, mail1, "bob@example.net", "relayed from mail1");
  expect(verify(message, "relayed")).toMatchObject(SIGNED);
});

test("mail arriving from elsewhere on port 25 is not signed", async () => {
  // 127/8 is in postfix's mynetworks (so it relays), but not OpenDKIM's InternalHosts, and port 25
  // does not mark mail ORIGINATING.
  const message = await sendAndRead(PORTS.smtp.port, OUTSIDE_ADDRESS, "bob@example.net", "from outside");
  expect(message).not.toMatch(/^DKIM-Signature:/m);
  expect(message).toMatch(/^Subject: from outside$/m);
});
