/**
 * The rendered postfix configuration against real postfix 3.7 (Debian 12): `postfix check`,
 * `postconf -M/-n/-P` without warnings, no service defined twice, the PROXY overrides exactly when
 * declared; the checks bite on the upstream document's master.cf and on a misspelt -o; and a
 * running postfix on loopback speaks TLS >= 1.2 with forward secrecy, offers AUTH only after
 * STARTTLS on submission, and takes the client address from a PROXY header.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { buildTopology, ClusterInput } from "../../lib/topology";
import { renderPostfix } from "../../lib/render/postfix";
import { ConfigFile } from "../../lib/render/types";
import { documentedLayout } from "../fixtures";
import { POSTFIX_MYSQL_MAPS } from "../../lib/render/postfix";
import { duplicateServices, PostfixSandbox, preparePostfixSandbox, withSandboxParameters } from "./postfix-sandbox";
import { proxyV1Header, SmtpClient } from "./smtp-client";
import { requireProgram, run } from "./support";

jest.setTimeout(60_000);

function classicFiles(input: ClusterInput): ConfigFile[] {
  const t = buildTopology(input);
  return renderPostfix(t, t.node("classic1"));
}

function replaceFile(files: readonly ConfigFile[], p: string, content: string): ConfigFile[] {
  return files.map((f) => (f.path === p ? { ...f, content } : f));
}

const withProxy = (smtp: boolean, submission: boolean): ClusterInput => {
  const input = documentedLayout();
  return { ...input, loadBalancer: { ...input.loadBalancer!, proxyProtocol: { smtp, submission } } };
};
const withoutLoadBalancer = (): ClusterInput => {
  const input = documentedLayout({ loadBalancer: undefined });
  return { ...input, nodes: input.nodes.filter((n) => n.name !== "lb1") };
};

const sandboxes: PostfixSandbox[] = [];
function sandbox(files: readonly ConfigFile[], address?: string): PostfixSandbox {
  const sb = preparePostfixSandbox(files, { ...(address ? { address } : {}), certificateName: "classic1.gro.at" });
  sandboxes.push(sb);
  return sb;
}
afterAll(() => {
  for (const sb of sandboxes) sb.dispose();
});

beforeAll(() => {
  requireProgram("postfix", "postfix");
});

/** Every line of stdout and stderr that is a postfix warning. */
function warnings(r: { stdout: string; stderr: string }): string[] {
  return `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => /warning:/.test(l));
}

/** `postconf -P` lines about PROXY protocol. */
function proxyOverrides(sb: PostfixSandbox): string[] {
  return sb
    .postconf("-P")
    .stdout.split("\n")
    .filter((l) => /proxy_protocol/.test(l))
    .sort();
}

describe.each([
  {
    name: "PROXY on smtp and submission (documented layout)",
    input: documentedLayout(),
    proxy: ["25/inet/postscreen_upstream_proxy_protocol = haproxy", "587/inet/smtpd_upstream_proxy_protocol = haproxy"],
    smtp: "postscreen",
  },
  {
    name: "PROXY on submission only",
    input: withProxy(false, true),
    proxy: ["587/inet/smtpd_upstream_proxy_protocol = haproxy"],
    smtp: "smtpd",
  },
  { name: "PROXY off", input: withProxy(false, false), proxy: [], smtp: "smtpd" },
  { name: "no load balancer", input: withoutLoadBalancer(), proxy: [], smtp: "smtpd" },
])("$name", ({ input, proxy, smtp }) => {
  let sb: PostfixSandbox;
  beforeAll(() => {
    sb = sandbox(classicFiles(input));
  });

  it("postfix check exits 0 and prints nothing (under a TTY, where it would print)", () => {
    const r = sb.check();
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: "", stderr: "" });
  });

  it("postconf -M, -n and -P run without a single warning", () => {
    for (const flag of ["-M", "-n", "-P"]) {
      const r = sb.postconf(flag);
      expect(r.status).toBe(0);
      expect(warnings(r)).toEqual([]);
    }
  });

  it("no service is defined twice, port 25 is served by exactly one entry", () => {
    const m = sb.postconf("-M").stdout;
    expect(duplicateServices(m)).toEqual([]);
    const port25 = m.split("\n").filter((l) => /^(25|smtp)\s+inet\s/.test(l));
    expect(port25).toHaveLength(1);
    expect(port25[0]!.split(/\s+/)[7]).toBe(smtp);
  });

  it("postconf -P shows the PROXY overrides exactly when declared", () => {
    expect(proxyOverrides(sb)).toEqual(proxy);
  });

  it("reads the rendered files unmodified at their real paths (main.cf: only the sandbox parameters differ)", () => {
    const rendered = classicFiles(input);
    for (const f of rendered.filter((x) => x.path.startsWith("/etc/postfix/") && x.path !== "/etc/postfix/main.cf")) {
      expect(fs.readFileSync(path.join(sb.configDir, f.path.slice("/etc/postfix/".length)), "utf8")).toBe(f.content);
    }
    const main = rendered.find((f) => f.path === "/etc/postfix/main.cf")!.content.split("\n");
    const inSandbox = fs.readFileSync(path.join(sb.configDir, "main.cf"), "utf8").split("\n");
    const changed = main.filter((l) => !inSandbox.includes(l));
    expect(changed).toEqual([
      "alias_maps = hash:/etc/aliases",
      "alias_database = hash:/etc/aliases",
      "inet_interfaces = all",
    ]);
  });
});

describe("the checks bite", () => {
  const debianMaster = fs.readFileSync("/usr/share/postfix/master.cf.dist", "utf8");

  it("the upstream document's approach (Debian's master.cf + appended postscreen line) defines smtp twice, and postfix does not notice", () => {
    // seed/grommunio-architecture.txt, "Postfix (PROXY protocol)", with its line breaks restored.
    const appended = [
      "# Port 25, fronted by postscreen",
      "smtp      inet  n       -       n       -       1       postscreen",
      "  -o postscreen_upstream_proxy_protocol=haproxy",
      "smtpd     pass  -       -       n       -       -       smtpd",
      "# Port 587 (submission)",
      "submission inet n       -       n       -       -       smtpd",
      "  -o smtpd_upstream_proxy_protocol=haproxy",
      "  -o syslog_name=postfix/submission",
      "",
    ].join("\n");
    const files = replaceFile(classicFiles(documentedLayout()), "/etc/postfix/master.cf", debianMaster + appended);
    const sb = sandbox(files);
    expect(sb.check().status).toBe(0);
    const m = sb.postconf("-M");
    expect(warnings(m)).toEqual([]);
    expect(duplicateServices(m.stdout)).toEqual(["smtp/inet", "inet *:25"]);
  });

  it("our port-numbered 25 next to Debian's 'smtp inet' line is caught as the same endpoint", () => {
    const files = classicFiles(documentedLayout());
    const master = files.find((f) => f.path === "/etc/postfix/master.cf")!.content;
    const sb = sandbox(
      replaceFile(
        files,
        "/etc/postfix/master.cf",
        master + "smtp      inet  n       -       y       -       -       smtpd\n",
      ),
    );
    expect(duplicateServices(sb.postconf("-M").stdout)).toEqual(["inet *:25"]);
  });

  it("a misspelt -o name yields a warning (and nothing else does)", () => {
    const files = classicFiles(documentedLayout());
    const master = files.find((f) => f.path === "/etc/postfix/master.cf")!.content;
    const misspelt = master.replace("postscreen_upstream_proxy_protocol=", "postscreen_upstream_proxy_protocl=");
    expect(misspelt).not.toBe(master);
    const sb = sandbox(replaceFile(files, "/etc/postfix/master.cf", misspelt));
    const r = sb.postconf("-M");
    expect(warnings(r)).toEqual([
      "postconf: warning: /etc/postfix/master.cf: unused parameter: postscreen_upstream_proxy_protocl=haproxy",
    ]);
    expect(proxyOverrides(sb)).toEqual(["587/inet/smtpd_upstream_proxy_protocol = haproxy"]);
  });

  it("a misspelt map parameter yields a warning too (postconf reads the mysql map files)", () => {
    const files = classicFiles(documentedLayout());
    const p = "/etc/postfix/grommunio-virtual-mailbox-maps.cf";
    const map = files.find((f) => f.path === p)!.content;
    const sb = sandbox(replaceFile(files, p, map.replace("\ndbname = ", "\ndb_name = ")));
    expect(warnings(sb.postconf("-n"))).toEqual([`postconf: warning: mysql:${p}: unused parameter: db_name=grommunio`]);
  });
});

describe("a running postfix on loopback", () => {
  it("without PROXY: TLS 1.2+ with forward secrecy only, CHUNKING hidden, AUTH only after STARTTLS on submission", async () => {
    requireProgram("openssl", "openssl");
    const sb = sandbox(classicFiles(withoutLoadBalancer()), "127.0.25.1");
    sb.start();
    try {
      const tlsClient = (port: number, ...args: string[]) =>
        run(
          "openssl",
          [
            "s_client",
            "-connect",
            `127.0.25.1:${port}`,
            "-starttls",
            "smtp",
            "-brief",
            "-servername",
            "classic1.gro.at",
            ...args,
          ],
          { input: "QUIT\n", timeoutMs: 15_000 },
        );
      const v11 = tlsClient(25, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0");
      expect(v11.status).not.toBe(0);
      expect(v11.stderr).toMatch(/alert protocol version/);
      const v12 = tlsClient(587, "-tls1_2");
      expect(v12.status).toBe(0);
      expect(v12.stderr).toMatch(/Protocol version: TLSv1\.2\nCiphersuite: ECDHE-/);
      const rsaKex = tlsClient(587, "-tls1_2", "-cipher", "AES128-SHA256");
      expect(rsaKex.status).not.toBe(0);
      expect(rsaKex.stderr).toMatch(/handshake failure/);
      expect(tlsClient(587, "-tls1_3").stderr).toMatch(/Protocol version: TLSv1\.3/);

      const mx = await SmtpClient.connect("127.0.25.1", 25);
      expect((await mx.reply()).lines[0]).toBe("classic1.gro.at ESMTP Postfix (Debian/GNU)");
      const ehlo = (await mx.command("EHLO client.example.org")).lines;
      expect(ehlo).toContain("STARTTLS");
      expect(ehlo.some((l) => /^AUTH|CHUNKING/.test(l))).toBe(false);
      await mx.close();

      const sub = await SmtpClient.connect("127.0.25.1", 587);
      expect((await sub.reply()).code).toBe(220);
      expect((await sub.command("EHLO client.example.org")).lines.some((l) => l.startsWith("AUTH"))).toBe(false);
      expect(await sub.command("MAIL FROM:<a@example.org>")).toEqual({
        code: 530,
        lines: ["5.7.0 Must issue a STARTTLS command first"],
      });
      await sub.startTls({ servername: "classic1.gro.at" });
      const secured = (await sub.command("EHLO client.example.org")).lines;
      expect(secured).toContain("AUTH PLAIN LOGIN");
      await sub.close();
    } finally {
      sb.stop();
    }
  });

  it("with PROXY on submission: the client address comes from the header", async () => {
    const sb = sandbox(classicFiles(documentedLayout()), "127.0.25.2");
    sb.start();
    try {
      const sub = await SmtpClient.connect("127.0.25.2", 587, {
        preamble: proxyV1Header("203.0.113.7", "127.0.25.2", 40123, 587),
      });
      expect((await sub.reply()).lines[0]).toBe("classic1.gro.at ESMTP Postfix (Debian/GNU)");
      expect((await sub.command("EHLO client.example.org")).code).toBe(250);
      await sub.close();
      const deadline = Date.now() + 5000;
      while (!/connect from unknown\[203\.0\.113\.7\]/.test(sb.log()) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(sb.log()).toMatch(/postfix\/submission\/smtpd\[\d+\]: connect from unknown\[203\.0\.113\.7\]/);
      expect(sb.log()).not.toMatch(/connect from unknown\[127\.0\.25\.2\]/);
    } finally {
      sb.stop();
    }
  });

  it("the relay's mynetworks blocks admit exactly the mailbox nodes: inside a merged block yes, next to it no", async () => {
    // Four mailbox nodes on consecutive loopback addresses (.20 to .23): one block, 127.0.26.20/30.
    const base = documentedLayout();
    const at = (name: string) => ({ mail1: 20, mail2: 21, mail3: 22, classic1: 50, lb1: 10, db1: 60 })[name]!;
    const input: ClusterInput = {
      ...base,
      network: { cidr: "127.0.26.0/24" },
      nodes: [
        ...base.nodes.map((n) => ({ ...n, ipv4: `127.0.26.${at(n.name)}` })),
        { name: "mail4", hostname: "mail4.gro.at", roles: ["mailbox"], ipv4: "127.0.26.23", serverId: 4 },
      ],
    };
    // No database (maps emptied, as in dkim-signing.test.ts), no delivery (deferred).
    const emptied = Object.fromEntries(POSTFIX_MYSQL_MAPS.map((m) => [m.parameter, ""]));
    const files = classicFiles(input).map((f) =>
      f.path === "/etc/postfix/main.cf"
        ? { ...f, content: withSandboxParameters(f.content, { ...emptied, defer_transports: "smtp" }) }
        : f,
    );
    expect(files.find((f) => f.path === "/etc/postfix/master.cf")!.content).toContain(
      "\n  -o mynetworks=127.0.26.20/30\n",
    );
    const sb = sandbox(files, "127.0.25.3");
    sb.start();
    try {
      const rcpt = async (from: string) => {
        const c = await SmtpClient.connect("127.0.25.3", 10025, { localAddress: from });
        expect((await c.reply()).code).toBe(220);
        expect((await c.command("EHLO mail.gro.at")).code).toBe(250);
        expect((await c.command("MAIL FROM:<alice@gro.at>")).code).toBe(250);
        const r = await c.command("RCPT TO:<bob@example.net>");
        await c.command("QUIT");
        await c.close();
        return r.code;
      };
      expect(await rcpt("127.0.26.22")).toBe(250); // mail3, inside the block
      expect(await rcpt("127.0.26.23")).toBe(250); // mail4, its last address
      expect(await rcpt("127.0.26.24")).toBe(554); // the next address: no mailbox node
      expect(await rcpt("127.0.26.19")).toBe(554);
    } finally {
      sb.stop();
    }
  });
});
