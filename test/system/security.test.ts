/**
 * Security checks against the real programs:
 *
 * 1. A bounded sample of the property tests' random VALID topologies (5, fixed seed, both
 *    load-balancer flavours) through the real validators: `haproxy -c -dW` / `nginx -t` on every
 *    load-balancer node (with the TLS file exactly as `renderTlsFiles` writes it, from a real
 *    throw-away key), `postfix check` + `postconf -M` on the first classic node, the gromox
 *    checker on every gromox file of every node.
 * 2. The cipher lists, expanded by OpenSSL itself: HAProxy's and nginx's TLS 1.2 suites are all
 *    ECDHE; postfix's `high` list minus its exclusions keeps only (EC)DHE and TLS 1.3 suites.
 * 3. The AWS first-boot fetch program (`grommunio-fetch-secrets`) under the system python3 with a
 *    stub boto3: it renders each template to its final path with the manifest's owner and mode,
 *    never prints a value, refuses unknown placeholders and fails (after its attempts) when a
 *    parameter is missing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { ClusterInput, Topology, buildTopology } from "../../lib";
import { SSM_FETCH_SCRIPT } from "../../lib/platforms/aws/ssm-fetch";
import { TLS12_CIPHERS } from "../../lib/render/haproxy";
import { NGINX_TLS12_CIPHERS } from "../../lib/render/nginx";
import { renderNodeFiles } from "../../lib/render/node";
import { renderPostfix } from "../../lib/render/postfix";
import { renderTlsFiles } from "../../lib/render/tls";
import type { ConfigFile } from "../../lib/render/types";
import { specArb, toInput } from "../security/generators";
import { SYSTEM_PYTHON } from "./cloud-init";
import { checkGromoxConfig } from "./gromox-checker";
import { PostfixSandbox, duplicateServices, preparePostfixSandbox } from "./postfix-sandbox";
import { requireProgram, run, runInSandbox, scratchDir } from "./support";

jest.setTimeout(300_000);

let pair = { certificatePem: "", privateKeyPem: "" };

beforeAll(() => {
  requireProgram("haproxy", "haproxy");
  requireProgram("nginx", "nginx libnginx-mod-stream");
  const openssl = requireProgram("openssl", "openssl");
  const dir = scratchDir("security-cert");
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
  pair = {
    certificatePem: fs.readFileSync(path.join(dir, "cert.pem"), "utf8"),
    privateKeyPem: fs.readFileSync(path.join(dir, "key.pem"), "utf8"),
  };
});

/** Five random valid inputs (fixed seed), flavours alternating so both are always covered. */
const SAMPLES: ClusterInput[] = fc
  .sample(specArb, { numRuns: 5, seed: 4711 })
  .map((s, i) => toInput({ ...s, flavor: i % 2 === 0 ? "haproxy" : "nginx" }));

/** Writes the files under `root` (a real directory) into a scratch copy; returns it. */
function scratchTree(files: readonly ConfigFile[], root: string): string {
  const dir = scratchDir(`security-${path.basename(root)}`);
  for (const f of files.filter((x) => x.path.startsWith(`${root}/`))) {
    const target = path.join(dir, path.relative(root, f.path));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, f.content);
  }
  return dir;
}

function nodeFiles(topo: Topology, name: string): ConfigFile[] {
  const node = topo.node(name);
  return [...renderNodeFiles(topo, node), ...renderTlsFiles(topo, node, pair)];
}

const sandboxes: PostfixSandbox[] = [];
afterAll(() => {
  for (const sb of sandboxes) sb.dispose();
});

describe.each(SAMPLES.map((input, i) => [i + 1, input] as const))("random valid topology #%d", (_, input) => {
  const topo = buildTopology(input);
  const lb = topo.loadBalancer!;
  const summary = `${topo.mailboxNodes.length} mailbox, ${topo.classicNodes.length} classic, ${lb.nodes.length} ${lb.flavor}, gromox ${topo.gromoxVersion.text}, ${topo.storage}`;

  test(`load balancers pass ${lb.flavor === "haproxy" ? "haproxy -c -dW" : "nginx -t"} (${summary})`, () => {
    for (const n of lb.nodes) {
      const files = nodeFiles(topo, n.name);
      if (lb.flavor === "haproxy") {
        const dir = scratchTree(files, "/etc/haproxy");
        const r = runInSandbox({ binds: { "/etc/haproxy": dir } }, "haproxy -c -dW -f /etc/haproxy/haproxy.cfg 2>&1");
        expect({ node: n.name, out: r.stdout, status: r.status }).toEqual({
          node: n.name,
          out: "Configuration file is valid\n",
          status: 0,
        });
      } else {
        const binds = {
          "/etc/nginx": scratchTree(files, "/etc/nginx"),
          "/var/log/nginx": scratchDir("security-nginx-log"),
          "/var/lib/nginx": scratchDir("security-nginx-lib"),
        };
        const r = runInSandbox({ binds }, "nginx -t -c /etc/nginx/nginx.conf 2>&1");
        expect({ node: n.name, out: r.stdout, status: r.status }).toEqual({
          node: n.name,
          out:
            "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n" +
            "nginx: configuration file /etc/nginx/nginx.conf test is successful\n",
          status: 0,
        });
      }
    }
  });

  test("the first classic node passes postfix check and postconf -M (no warning, no duplicate service)", () => {
    const classic = topo.classicNodes[0];
    if (!classic) return; // 0 classic nodes in this sample: nothing runs postfix
    const sb = preparePostfixSandbox(renderPostfix(topo, classic), { certificateName: classic.hostname });
    sandboxes.push(sb);
    const check = sb.check();
    expect(`${check.stdout}${check.stderr}`.split("\n").filter((l) => /warning|fatal/.test(l))).toEqual([]);
    expect(check.status).toBe(0);
    const m = sb.postconf("-M");
    expect(m.status).toBe(0);
    expect(duplicateServices(m.stdout)).toEqual([]);
  });

  test("every gromox file of every node passes the gromox checker", () => {
    const problems: string[] = [];
    for (const n of topo.nodes) {
      for (const f of renderNodeFiles(topo, n)) {
        if (!f.path.startsWith("/etc/gromox/")) continue;
        for (const p of checkGromoxConfig(f.path, f.content)) problems.push(`${n.name}:${f.path}: ${p}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe("cipher lists expanded by OpenSSL", () => {
  /** Key exchange of every suite below TLS 1.3 the list expands to (OpenSSL adds TLS 1.3's own). */
  const kx = (list: string): string[] => {
    const r = run("openssl", ["ciphers", "-v", list]);
    expect(r.status).toBe(0);
    return r.stdout
      .trim()
      .split("\n")
      .filter((l) => !/\sTLSv1\.3\s/.test(l))
      .map((l) => /Kx=(\S+)/.exec(l)![1]!);
  };

  test("HAProxy and nginx: every TLS 1.2 suite is ECDHE", () => {
    for (const list of [TLS12_CIPHERS, NGINX_TLS12_CIPHERS]) {
      const found = kx(list.join(":"));
      expect(found.length).toBe(list.length);
      expect(new Set(found)).toEqual(new Set(["ECDH"]));
    }
  });

  test("postfix: tls_high_cipherlist minus smtpd_tls_exclude_ciphers keeps only (EC)DHE below TLS 1.3", () => {
    const topo = buildTopology(SAMPLES.find((s) => s.nodes.some((n) => n.roles.includes("classic")))!);
    const main = renderPostfix(topo, topo.classicNodes[0]!).find((f) => f.path === "/etc/postfix/main.cf")!.content;
    const exclude = /^smtpd_tls_exclude_ciphers = (.*)$/m.exec(main)![1]!.split(/,\s*/);
    const high = run("postconf", ["-dh", "tls_high_cipherlist"]).stdout.trim();
    const found = new Set(kx(`${high}:${exclude.map((e) => `!${e}`).join(":")}`));
    expect([...found].every((k) => ["ECDH", "DH"].includes(k))).toBe(true);
    // Without the exclusions, non-forward-secret suites would be there: the exclusions matter.
    expect([...new Set(kx(high))].some((k) => ["RSA", "PSK", "RSAPSK"].includes(k))).toBe(true);
  });
});

describe("grommunio-fetch-secrets (AWS first boot) with a stub boto3", () => {
  const dir = scratchDir("fetch-secrets");
  const program = path.join(dir, "grommunio-fetch-secrets");
  const stub = path.join(dir, "stub");
  fs.writeFileSync(program, SSM_FETCH_SCRIPT, { mode: 0o700 });
  fs.mkdirSync(path.join(stub, "boto3"), { recursive: true });
  fs.writeFileSync(
    path.join(stub, "boto3", "__init__.py"),
    [
      "import json, os",
      "class _Ssm:",
      "    def get_parameters(self, Names, WithDecryption):",
      "        assert WithDecryption is True and len(Names) <= 10",
      "        store = json.load(open(os.environ['FAKE_SSM']))",
      "        return {'Parameters': [{'Name': n, 'Value': store[n]} for n in Names if n in store],",
      "                'InvalidParameters': [n for n in Names if n not in store]}",
      "def client(service, region_name):",
      "    assert service == 'ssm' and region_name == 'eu-central-1'",
      "    return _Ssm()",
      "",
    ].join("\n"),
  );
  const values = {
    "/grommunio/s/mail/database-password": "s3cr3t value with 'quotes' and @@grommunio-secret:x@@",
    "/grommunio/s/mail/tls/mail1/private-key": "-----BEGIN EC PRIVATE KEY-----\nabc\n-----END EC PRIVATE KEY-----\n",
  };
  const store = path.join(dir, "ssm.json");
  fs.writeFileSync(store, JSON.stringify(values));

  function manifest(
    files: Array<{ name: string; template: string; mode: string }>,
    extra: Record<string, string> = {},
  ) {
    const m = {
      version: 1,
      placeholder: "@@grommunio-secret:{id}@@",
      secrets: {
        "database-password": "/grommunio/s/mail/database-password",
        "tls/mail1/private-key": "/grommunio/s/mail/tls/mail1/private-key",
        ...extra,
      },
      files: files.map((f) => {
        const template = path.join(dir, `${f.name}.template`);
        fs.writeFileSync(template, f.template);
        return { template, path: path.join(dir, "out", f.name), mode: f.mode, owner: "root:root" };
      }),
    };
    const file = path.join(dir, `manifest-${files.map((f) => f.name).join("-")}.json`);
    fs.writeFileSync(file, JSON.stringify(m));
    return file;
  }

  const fetch = (manifestPath: string) =>
    run(SYSTEM_PYTHON, [program, manifestPath], {
      env: {
        ...process.env,
        PYTHONPATH: stub,
        FAKE_SSM: store,
        AWS_REGION: "eu-central-1",
        GROMMUNIO_FETCH_ATTEMPTS: "1",
      },
    });

  test("renders every template with its values, owner and mode; prints no value", () => {
    expect(fs.existsSync(SYSTEM_PYTHON)).toBe(true); // Debian's python3 (cloud-init needs it too)
    const m = manifest([
      { name: "mysql_adaptor.cfg", template: "mysql_password=@@grommunio-secret:database-password@@\n", mode: "0640" },
      { name: "server.key", template: "@@grommunio-secret:tls/mail1/private-key@@", mode: "0600" },
    ]);
    const r = fetch(m);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("grommunio-fetch-secrets: wrote 2 file(s) from 2 parameter(s)\n");
    const cfg = path.join(dir, "out", "mysql_adaptor.cfg");
    // One pass: the value's own placeholder-like text stays as it is.
    expect(fs.readFileSync(cfg, "utf8")).toBe(`mysql_password=${values["/grommunio/s/mail/database-password"]}\n`);
    expect(fs.statSync(cfg).mode & 0o7777).toBe(0o640);
    const key = path.join(dir, "out", "server.key");
    expect(fs.readFileSync(key, "utf8")).toBe(values["/grommunio/s/mail/tls/mail1/private-key"]);
    expect(fs.statSync(key).mode & 0o7777).toBe(0o600);
    expect(fs.readdirSync(path.join(dir, "out")).sort()).toEqual(["mysql_adaptor.cfg", "server.key"]);
  });

  test("an unknown placeholder in a template is refused (exit 1), naming it", () => {
    const m = manifest([{ name: "bad.cfg", template: "x=@@grommunio-secret:nobody@@\n", mode: "0600" }]);
    const r = fetch(m);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("names unknown secret(s) nobody");
    expect(fs.existsSync(path.join(dir, "out", "bad.cfg"))).toBe(false);
  });

  test("a parameter missing from the store fails after the attempts, writing nothing, printing no value", () => {
    const m = manifest(
      [{ name: "missing.cfg", template: "a=@@grommunio-secret:database-password@@\n", mode: "0600" }],
      {
        "admin-password": "/grommunio/s/mail/admin-password",
      },
    );
    const r = fetch(m);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("no such parameter(s): /grommunio/s/mail/admin-password");
    expect(r.stderr).not.toContain("s3cr3t");
    expect(fs.existsSync(path.join(dir, "out", "missing.cfg"))).toBe(false);
  });
});
