/**
 * `haproxy -c -dW` (zero-warning mode) on the UNMODIFIED generated files at their real absolute
 * paths, in a private mount namespace (reference/validators.md §2): /etc/haproxy is a scratch
 * directory holding the generated files and a throw-away self-signed certificate. And the same
 * check on the upstream documentation's node-aware config, rebuilt from the seed, which must fail.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { buildTopology, ClusterInput } from "../../lib/topology";
import { HaproxyOptions, renderHaproxy, validateHaproxy } from "../../lib/render/haproxy";
import { mtaStsSite } from "../../lib/render/dns";
import { documentedLayout, largeLayout } from "../fixtures";
import { docHaproxyConfig, docServerHosts, DOC_LIST_FILES } from "../doc-haproxy";
import { requireProgram, run, runInSandbox, scratchDir } from "./support";

jest.setTimeout(60_000);

let certPem = "";

beforeAll(() => {
  requireProgram("haproxy", "haproxy");
  const openssl = requireProgram("openssl", "openssl");
  const dir = scratchDir("haproxy-cert");
  const r = run(openssl, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-subj",
    "/CN=mail.example.com",
    "-days",
    "2",
    "-keyout",
    path.join(dir, "key.pem"),
    "-out",
    path.join(dir, "cert.pem"),
  ]);
  expect(r.status).toBe(0);
  certPem = fs.readFileSync(path.join(dir, "cert.pem"), "utf8") + fs.readFileSync(path.join(dir, "key.pem"), "utf8");
});

/** Writes the generated /etc/haproxy files (plus the certificate) into a scratch dir. */
function etcHaproxyFor(
  input: ClusterInput,
  node = "lb1",
  options: HaproxyOptions = {},
): { dir: string; hosts: Record<string, string> } {
  const topo = buildTopology(input);
  const dir = scratchDir("etc-haproxy");
  for (const f of renderHaproxy(topo, topo.node(node), options)) {
    if (!f.path.startsWith("/etc/haproxy/")) continue;
    const target = path.join(dir, path.relative("/etc/haproxy", f.path));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, f.content);
  }
  fs.writeFileSync(path.join(dir, "proxy.pem"), certPem);
  // Pool members may be host names: the checker resolves them (from the sandbox's /etc/hosts only).
  const hosts: Record<string, string> = {};
  for (const [, members] of topo.loadBalancer!.pools) {
    for (const m of members) if (!/^\d+\.\d+\.\d+\.\d+$/.test(m.address)) hosts[m.address] = "10.99.0.1";
  }
  return { dir, hosts };
}

function check(input: ClusterInput, node = "lb1") {
  const { dir, hosts } = etcHaproxyFor(input, node);
  return runInSandbox({ hosts, binds: { "/etc/haproxy": dir } }, "haproxy -c -dW -f /etc/haproxy/haproxy.cfg 2>&1");
}

describe("haproxy -c -dW on the generated configuration", () => {
  test("documented layout: valid, zero warnings", () => {
    const r = check(documentedLayout());
    expect(r.stdout).toBe("Configuration file is valid\n");
    expect(r.status).toBe(0);
  });

  test("large layout, both load-balancer nodes, every optional pool: valid, zero warnings", () => {
    const input = largeLayout({
      loadBalancer: {
        ...largeLayout().loadBalancer!,
        nodeAwareRouting: true,
        pools: {
          auth: [{ name: "auth1", address: "10.20.0.70", port: 443 }],
          chat: [{ name: "chat1", address: "chat1.int.example.com", port: 8065, tls: false }],
          meet: [
            { name: "meet1", address: "10.20.0.71", port: 443 },
            { name: "meet2", address: "meet2.int.example.com", port: 443 },
          ],
          files: [{ name: "files1", address: "10.20.0.74", port: 443 }],
          office: [{ name: "office1", address: "10.20.0.75", port: 443 }],
          archive: [{ name: "archive1", address: "10.20.0.76", port: 443 }],
        },
      },
    });
    for (const node of ["lb1", "lb2"]) {
      const r = check(input, node);
      expect(r.stdout).toBe("Configuration file is valid\n");
      expect(r.status).toBe(0);
    }
  });

  test("without node-aware routing, admin frontend and PROXY: still valid, zero warnings", () => {
    const r = check(
      largeLayout({
        loadBalancer: {
          flavor: "haproxy",
          publicName: "mail.example.com",
          proxyProtocol: { smtp: false, submission: false, imap: false, pop3: false },
        },
      }),
    );
    expect(r.stdout).toBe("Configuration file is valid\n");
    expect(r.status).toBe(0);
  });

  test.each([
    ["cloud-lb", "cloud-lb" as const],
    ["a list of proxies", ["192.0.2.0/28", "2001:db8:1::7"]],
  ])("PROXY into the tier (acceptProxyFrom %s), IPv6 binds too: valid, zero warnings", (_, acceptProxyFrom) => {
    const base = largeLayout({ loadBalancer: { ...largeLayout().loadBalancer!, acceptProxyFrom } });
    const input = { ...base, nodes: base.nodes.map((n) => (n.name === "lb2" ? { ...n, ipv6: "2001:db8::6" } : n)) };
    for (const node of ["lb1", "lb2"]) {
      const r = check(input, node);
      expect([node, r.stdout]).toEqual([node, "Configuration file is valid\n"]);
      expect(r.status).toBe(0);
    }
  });

  test("serving the MTA-STS policy (http-request return … file): valid, zero warnings", () => {
    const input = documentedLayout();
    const site = mtaStsSite(buildTopology(input), { mtaSts: { mode: "enforce" } })!;
    const { dir, hosts } = etcHaproxyFor(input, "lb1", { mtaSts: site });
    expect(fs.readFileSync(path.join(dir, "mta-sts.txt"), "utf8")).toBe(site.policy);
    const r = runInSandbox(
      { hosts, binds: { "/etc/haproxy": dir } },
      "haproxy -c -dW -f /etc/haproxy/haproxy.cfg 2>&1",
    );
    expect(r.stdout).toBe("Configuration file is valid\n");
    expect(r.status).toBe(0);
  });

  test("options: backend CA verification, IPv6 binds, HTTP/1.0 drop: valid, zero warnings", () => {
    const input = documentedLayout({
      nodes: documentedLayout().nodes.map((n) => (n.name === "lb1" ? { ...n, ipv6: "2001:db8::10" } : n)),
    });
    const { dir, hosts } = etcHaproxyFor(input, "lb1", {
      backendCaFile: "/etc/haproxy/backend-ca.pem",
      dropHttp10: true,
      maxConnections: 5000,
    });
    fs.writeFileSync(path.join(dir, "backend-ca.pem"), certPem.slice(0, certPem.indexOf("-----BEGIN PRIVATE KEY")));
    const r = runInSandbox(
      { hosts, binds: { "/etc/haproxy": dir } },
      "haproxy -c -dW -f /etc/haproxy/haproxy.cfg 2>&1",
    );
    expect(r.stdout).toBe("Configuration file is valid\n");
    expect(r.status).toBe(0);
    expect(fs.readFileSync(path.join(dir, "haproxy.cfg"), "utf8")).toContain(
      "verify required ca-file /etc/haproxy/backend-ca.pem",
    );
  });

  test("the check bites: a referenced file missing from the generated set fails", () => {
    const { dir } = etcHaproxyFor(documentedLayout());
    fs.rmSync(path.join(dir, "mailbox.map"));
    const r = runInSandbox({ binds: { "/etc/haproxy": dir } }, "haproxy -c -dW -f /etc/haproxy/haproxy.cfg 2>&1");
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(/failed to open pattern file <\/etc\/haproxy\/mailbox\.map>/);
  });
});

describe("haproxy -c on the upstream documentation's node-aware config (rebuilt from the seed)", () => {
  test("fails: ACLs used before they are declared ('no such ACL')", () => {
    const cfg = docHaproxyConfig("node-aware");
    // The rebuild is faithful where it matters: the capture rules precede the ACL declarations.
    const lines = cfg.split("\n").map((l) => l.trim());
    expect(
      lines.indexOf("http-request set-var(txn.mbox) urlp(MailboxId) if autodiscover or ews or mapi or rpc"),
    ).toBeLessThan(lines.indexOf("acl autodiscover path_beg -i /autodiscover"));
    const dir = scratchDir("etc-haproxy-doc");
    fs.writeFileSync(path.join(dir, "haproxy.cfg"), cfg);
    fs.writeFileSync(path.join(dir, "proxy.pem"), certPem);
    for (const f of DOC_LIST_FILES) fs.writeFileSync(path.join(dir, f), "");
    const hosts = Object.fromEntries(docServerHosts(cfg).map((h) => [h, "10.99.0.1"]));
    expect(Object.keys(hosts)).toContain("mail01.grommunio.at");
    const r = runInSandbox(
      { hosts, binds: { "/etc/haproxy": dir } },
      "haproxy -c -dW -f /etc/haproxy/haproxy.cfg 2>&1",
    );
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(/no such ACL : 'autodiscover'/);

    // Control: the documentation's main config, with the same files and names, passes the check,
    // so the failure above is the ACL order, not the sandbox.
    fs.writeFileSync(path.join(dir, "haproxy.cfg"), docHaproxyConfig("main"));
    const ok = runInSandbox(
      { hosts, binds: { "/etc/haproxy": dir } },
      "haproxy -c -dW -f /etc/haproxy/haproxy.cfg 2>&1",
    );
    expect(ok.stdout).toBe("Configuration file is valid\n");
    expect(ok.status).toBe(0);
  });
});

describe("haproxy -c on the log targets the renderer takes and refuses (GRX111)", () => {
  const input = documentedLayout();
  const topo = buildTopology(input);

  function checkWithLogLine(target: string, replace?: string) {
    const { dir, hosts } = etcHaproxyFor(input, "lb1", { logTarget: target });
    if (replace !== undefined) {
      const cfg = path.join(dir, "haproxy.cfg");
      const text = fs.readFileSync(cfg, "utf8");
      expect(text).toContain(`\n    log ${target} local0\n`);
      fs.writeFileSync(cfg, text.replace(`\n    log ${target} local0\n`, `\n    log ${replace} local0\n`));
    }
    return runInSandbox({ hosts, binds: { "/etc/haproxy": dir } }, "haproxy -c -dW -f /etc/haproxy/haproxy.cfg 2>&1");
  }

  test.each(["/dev/log", "unix@/dev/log", "stdout", "stderr", "127.0.0.1", "udp@127.0.0.1:514", "udp6@::1:514"])(
    "%s: taken, and HAProxy reads it (zero warnings)",
    (target) => {
      expect(validateHaproxy(topo, topo.node("lb1"), { logTarget: target })).toEqual([]);
      const r = checkWithLogLine(target);
      expect(r.stdout).toBe("Configuration file is valid\n");
      expect(r.status).toBe(0);
    },
  );

  // The refused targets, written into the otherwise valid file in place of /dev/log.
  test.each(["foo", "127.0.0.1:70000", "ünix"])("%s: refused (GRX111), and HAProxy refuses it too", (target) => {
    expect(validateHaproxy(topo, topo.node("lb1"), { logTarget: target }).map((i) => i.code)).toEqual(["GRX111"]);
    const r = checkWithLogLine("/dev/log", target);
    expect(r.stdout).toMatch(/\[ALERT\].*log : invalid/);
    expect(r.status).not.toBe(0);
  });
});
