/**
 * `nginx -t` (Debian 12's nginx 1.22 + libnginx-mod-stream) on the UNMODIFIED generated files at
 * their real absolute paths, in a private mount namespace (reference/validators.md §2):
 * /etc/nginx, /var/log/nginx and /var/lib/nginx are scratch directories, the certificate is a
 * throw-away self-signed one at the configured path, pool host names resolve from a private
 * /etc/hosts. The check must pass with zero warnings. And the same check bites on the upstream
 * documentation's nginx block, rebuilt from the seed: each of its defects, fixed one after the
 * other, gives way to the next `[emerg]` (nginx stops at the first).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { buildTopology, ClusterInput, LoadBalancerInput } from "../../lib/topology";
import { NGINX_PATHS, NginxOptions, renderNginx } from "../../lib/render/nginx";
import { mtaStsSite } from "../../lib/render/dns";
import { documentedLayout, largeLayout } from "../fixtures";
import { docNginxBlock, docNginxHosts, docNginxMain } from "../doc-nginx";
import { requireProgram, run, runInSandbox, scratchDir } from "./support";

jest.setTimeout(60_000);

const OK =
  "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n" +
  "nginx: configuration file /etc/nginx/nginx.conf test is successful\n";

let cert = { pem: "", key: "" };

beforeAll(() => {
  requireProgram("nginx", "nginx libnginx-mod-stream");
  if (!fs.existsSync(NGINX_PATHS.streamModule)) throw new Error("apt-get install libnginx-mod-stream");
  const openssl = requireProgram("openssl", "openssl");
  const dir = scratchDir("nginx-cert");
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
  cert = {
    pem: fs.readFileSync(path.join(dir, "cert.pem"), "utf8"),
    key: fs.readFileSync(path.join(dir, "key.pem"), "utf8"),
  };
});

/**
 * Writes the generated files into scratch directories standing in for their real parents, plus
 * the certificate at the configured paths; returns the bind map and the host names to resolve.
 */
function sandboxFor(input: ClusterInput, node = "lb1", options: NginxOptions = {}) {
  const topo = buildTopology(input);
  const roots = new Map<string, string>(); // real directory -> scratch directory
  const scratchOf = (realDir: string) => {
    if (!roots.has(realDir)) roots.set(realDir, scratchDir(`nginx-${path.basename(realDir)}`));
    return roots.get(realDir)!;
  };
  const write = (real: string, content: string) => {
    // Everything under /etc/nginx goes into one tree (conf.d included); other paths per directory.
    const base = real.startsWith("/etc/nginx/") ? "/etc/nginx" : path.dirname(real);
    const target = path.join(scratchOf(base), path.relative(base, real));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, content);
  };
  for (const f of renderNginx(topo, topo.node(node), options)) write(f.path, f.content);
  write(options.certificatePath ?? "/etc/nginx/proxy.pem", cert.pem);
  write(options.certificateKeyPath ?? "/etc/nginx/proxy.key", cert.key);
  const binds: Record<string, string> = Object.fromEntries(roots);
  binds["/var/log/nginx"] = scratchDir("nginx-log");
  binds["/var/lib/nginx"] = scratchDir("nginx-lib");
  const hosts: Record<string, string> = {};
  for (const [, members] of topo.loadBalancer!.pools) {
    for (const m of members) if (!/^\d+\.\d+\.\d+\.\d+$/.test(m.address)) hosts[m.address] = "10.99.0.1";
  }
  return { binds, hosts };
}

function check(input: ClusterInput, node = "lb1", options: NginxOptions = {}) {
  const { binds, hosts } = sandboxFor(input, node, options);
  return runInSandbox({ hosts, binds }, "nginx -t -c /etc/nginx/nginx.conf 2>&1");
}

const nginxLb = (lb: Partial<LoadBalancerInput> = {}): LoadBalancerInput => ({
  flavor: "nginx",
  publicName: "mail.gro.at",
  adminAllowFrom: ["203.0.113.0/24"],
  ...lb,
});

describe("nginx -t on the generated configuration", () => {
  test("documented layout (nginx flavour): valid, no warning", () => {
    const r = check(documentedLayout({ loadBalancer: nginxLb() }));
    expect(r.stdout).toBe(OK);
    expect(r.status).toBe(0);
  });

  test("large layout, both load-balancer nodes (one with IPv6), every optional pool: valid, no warning", () => {
    const base = largeLayout();
    const input = largeLayout({
      loadBalancer: nginxLb({
        publicName: "mail.example.com",
        adminAllowFrom: ["198.51.100.0/24", "2001:db8:1::/48", "192.0.2.7"],
        proxyProtocol: { smtp: true, submission: false },
        pools: {
          auth: [{ name: "auth1", address: "auth1.int.example.com", port: 443 }],
          chat: [
            { name: "chat1", address: "10.20.0.61", port: 8065, tls: false },
            { name: "chat2", address: "chat2.int.example.com", port: 8065, tls: false },
          ],
          meet: [
            { name: "meet1", address: "10.20.0.63", port: 443 },
            { name: "meet2", address: "10.20.0.64", port: 443 },
          ],
          files: [{ name: "files1", address: "files1.int.example.com", port: 443 }],
          office: [{ name: "office1", address: "10.20.0.66", port: 443 }],
          archive: [{ name: "mail3", address: "10.20.0.13", port: 443 }],
        },
      }),
      nodes: base.nodes.map((n) => (n.name === "lb2" ? { ...n, ipv6: "2001:db8::6" } : n)),
    });
    for (const node of ["lb1", "lb2"]) {
      const r = check(input, node);
      expect([node, r.stdout]).toEqual([node, OK]);
      expect(r.status).toBe(0);
    }
  });

  test.each([
    ["cloud-lb", "cloud-lb" as const],
    ["a list of proxies", ["192.0.2.0/28", "2001:db8:1::7"]],
  ])("PROXY into the tier (acceptProxyFrom %s), IPv6 listens too: valid, no warning", (_, acceptProxyFrom) => {
    const base = largeLayout({ loadBalancer: nginxLb({ publicName: "mail.example.com", acceptProxyFrom }) });
    const input = { ...base, nodes: base.nodes.map((n) => (n.name === "lb2" ? { ...n, ipv6: "2001:db8::6" } : n)) };
    for (const node of ["lb1", "lb2"]) {
      const r = check(input, node);
      expect([node, r.stdout]).toEqual([node, OK]);
      expect(r.status).toBe(0);
    }
  });

  test("serving the MTA-STS policy (a server for mta-sts.<domain>), behind PROXY too: valid, no warning", () => {
    for (const acceptProxyFrom of [undefined, "cloud-lb" as const]) {
      const input = documentedLayout({ loadBalancer: nginxLb(acceptProxyFrom ? { acceptProxyFrom } : {}) });
      const site = mtaStsSite(buildTopology(input))!;
      const r = check(input, "lb1", { mtaSts: site });
      expect(r.stdout).toBe(OK);
      expect(r.status).toBe(0);
    }
  });

  // The certificate directory must exist on the host: runInSandbox creates bind targets.
  test("no admin server and no classic nodes; certificate outside /etc/nginx: valid", () => {
    const base = documentedLayout({ loadBalancer: nginxLb({ adminAllowFrom: undefined }) });
    const input = { ...base, nodes: base.nodes.filter((n) => n.name !== "classic1") };
    const options = {
      certificatePath: "/etc/ssl/private/grommunio-lb.pem",
      certificateKeyPath: "/etc/ssl/private/grommunio-lb.key",
    };
    const r = check(input, "lb1", options);
    expect(r.stdout).toBe(OK);
    expect(r.status).toBe(0);
  });

  test("the check bites on our own files too: a missing certificate fails", () => {
    const { binds, hosts } = sandboxFor(documentedLayout({ loadBalancer: nginxLb() }));
    fs.rmSync(path.join(binds["/etc/nginx"]!, "proxy.pem"));
    const r = runInSandbox({ hosts, binds }, "nginx -t -c /etc/nginx/nginx.conf 2>&1");
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(/\[emerg\].*cannot load certificate "\/etc\/nginx\/proxy\.pem"/);
  });
});

describe("nginx -t on the upstream documentation's block (rebuilt from the seed)", () => {
  const block = docNginxBlock();
  const lines = block.split("\n");
  const hosts = Object.fromEntries(docNginxHosts(block).map((h) => [h, "10.99.0.1"]));

  /** Lines [from, to) of the first top-level block starting with `head`. */
  function blockRange(text: string[], head: string): [number, number] {
    const from = text.indexOf(head);
    let depth = 0;
    for (let i = from; i < text.length; i++) {
      depth += (text[i]!.match(/\{/g) ?? []).length - (text[i]!.match(/\}/g) ?? []).length;
      if (depth === 0) return [from, i + 1];
    }
    throw new Error(`unbalanced ${head}`);
  }

  /** Runs nginx -t on a main file and extra /etc/nginx files; returns the first [emerg] line. */
  function checkDoc(files: Record<string, string>): { status: number; emerg: string } {
    const etc = scratchDir("nginx-doc-etc");
    for (const [name, content] of Object.entries({ ...files, "proxy.pem": cert.pem, "proxy.key": cert.key })) {
      fs.writeFileSync(path.join(etc, name), content);
    }
    const binds = {
      "/etc/nginx": etc,
      "/var/log/nginx": scratchDir("nginx-log"),
      "/var/lib/nginx": scratchDir("nginx-lib"),
    };
    const r = runInSandbox({ hosts, binds }, "nginx -t -c /etc/nginx/nginx.conf 2>&1");
    return { status: r.status, emerg: r.stdout.split("\n").find((l) => l.includes("[emerg]")) ?? r.stdout };
  }

  const main = (extraMain: string[] = []) =>
    docNginxMain("/etc/nginx/doc.conf").replace("http {", [...extraMain, "http {"].join("\n"));

  // Stage by stage: the documentation's block, then with each reported defect fixed in turn.
  const [s0, s1] = blockRange(lines, "stream {");
  const stream = lines.slice(s0, s1);
  const withoutStream = [...lines.slice(0, s0), ...lines.slice(s1)];
  const mailUpstreams = ["be_smtp", "be_submission", "be_imaps", "be_pop3s"].map((u) =>
    blockRange(withoutStream, `upstream ${u} {`),
  );
  const tcpUpstreams = mailUpstreams.flatMap(([a, b]) => withoutStream.slice(a, b));
  const httpOnly = withoutStream.filter((_, i) => !mailUpstreams.some(([a, b]) => i >= a && i < b));
  const streamWithUpstreams = ["stream {", ...tcpUpstreams, ...stream.slice(1)];
  const ours = (() => {
    const topo = buildTopology(documentedLayout({ loadBalancer: nginxLb() }));
    return renderNginx(topo, topo.node("lb1")).find((f) => f.path === NGINX_PATHS.sslParams)!.content;
  })();

  test("1. as documented (one http-level include): stream is not allowed inside http", () => {
    const r = checkDoc({ "nginx.conf": main(), "doc.conf": block });
    expect(r.status).not.toBe(0);
    expect(r.emerg).toMatch(/"stream" directive is not allowed here in \/etc\/nginx\/doc\.conf:\d+$/);
  });

  test("2. stream moved to main level: its servers cannot see the http upstreams", () => {
    const r = checkDoc({
      "nginx.conf": main(["include /etc/nginx/doc-stream.conf;"]),
      "doc-stream.conf": stream.join("\n") + "\n",
      "doc.conf": withoutStream.join("\n"),
    });
    expect(r.status).not.toBe(0);
    expect(r.emerg).toMatch(/no port in upstream "be_smtp" in \/etc\/nginx\/doc-stream\.conf:\d+$/);
  });

  const split = {
    "nginx.conf": main(["include /etc/nginx/doc-stream.conf;"]),
    "doc-stream.conf": streamWithUpstreams.join("\n") + "\n",
    "doc.conf": httpOnly.join("\n"),
  };

  test("3. TCP upstreams inside stream: Debian has no ssl_params", () => {
    const r = checkDoc(split);
    expect(r.status).not.toBe(0);
    expect(r.emerg).toMatch(/open\(\) "\/etc\/nginx\/ssl_params" failed \(2: No such file or directory\)/);
  });

  test("4. ssl_params shipped (ours): proxy_read_timeout is duplicate", () => {
    const r = checkDoc({ ...split, ssl_params: ours });
    expect(r.status).not.toBe(0);
    expect(r.emerg).toMatch(/"proxy_read_timeout" directive is duplicate in \/etc\/nginx\/doc\.conf:\d+$/);
  });

  test("5. one proxy_read_timeout: proxy_pass with a URI in a regex location", () => {
    const doc = httpOnly.filter((l) => l !== "proxy_read_timeout 60s;").join("\n");
    const r = checkDoc({ ...split, ssl_params: ours, "doc.conf": doc });
    expect(r.status).not.toBe(0);
    expect(r.emerg).toMatch(/"proxy_pass" cannot have URI part in location given by regular expression/);
  });
});
