/**
 * The Docker example's uploads, exactly as each container receives them (Terraform templates
 * evaluated with fake secrets and a throw-away TLS pair, staged copies put back at their real
 * paths), through the real validators:
 *
 * - gromox files: checkGromoxConfig (gromox-checker.ts);
 * - haproxy.cfg (with the other /etc/haproxy uploads beside it, and a throw-away certificate where
 *   it names one that is not generated): `haproxy -c -dW` in a private mount namespace (support.ts
 *   runInSandbox), the node's own /etc/hosts as the resolver;
 * - postfix: the postfix sandbox (postfix-sandbox.ts): `postfix check` silent, `postconf -M/-n/-P`
 *   without a warning, no service defined twice;
 * - nginx load balancers (none in the example: it uses HAProxy) would go through `nginx -t`;
 * - /etc/nftables.conf: `nft -c -f`;
 * - boot.sh: `sh -n` (dash, Debian's /bin/sh) and `bash -n`; manifest.json: JSON naming every upload.
 *
 * Files no validator here covers are printed (mailbox nginx snippets need grommunio-common's
 * includes, SQL needs a server: test/system/examples.test.ts covers those for every example).
 *
 *   npx jest test/system/docker-uploads.test.ts --selectProjects system
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Testing } from "cdktf";
import { dockerExample } from "../../examples/docker/main";
import { CONTAINER_BOOT_SCRIPT_PATH, CONTAINER_MANIFEST_PATH, ContainerManifest } from "../../lib/provision/container";
import { evaluateTemplate, fakeResolver, Resolver } from "../platforms/terraform-eval";
import { checkGromoxConfig } from "./gromox-checker";
import { selfSignedCert } from "./nginx-harness";
import { duplicateServices, preparePostfixSandbox } from "./postfix-sandbox";
import { requireProgram, run, runInSandbox, scratchDir } from "./support";

jest.setTimeout(120_000);

type Res = Record<string, any>;

const TLS = selfSignedCert("mail.example.com");

/** Fake secrets (fakeResolver), and real PEM for the TLS provider's attributes. */
const resolve: Resolver = (ref) => {
  if (/^tls_(self_signed|locally_signed)_cert\.[^.]+\.cert_pem$/.test(ref)) return TLS.pem;
  if (/^tls_private_key\.[^.]+\.private_key_pem$/.test(ref)) return TLS.key;
  return fakeResolver(ref);
};

interface Received {
  readonly path: string;
  readonly content: string;
  readonly mode: string;
}

/** Every container of the example, with its uploads at their final paths (staged copies put back). */
function exampleContainers(): Map<string, Received[]> {
  const stack = dockerExample(Testing.app());
  const json = JSON.parse(Testing.synth(stack));
  const out = new Map<string, Received[]>();
  for (const c of Object.values<Res>(json.resource.docker_container)) {
    const node = (c.labels as { label: string; value: string }[]).find((l) => l.label === "grommunio-node")!.value;
    const uploads = (c.upload as Res[]).map((u) => ({
      file: u.file as string,
      content:
        u.content !== undefined
          ? evaluateTemplate(u.content, resolve)
          : Buffer.from(evaluateTemplate(u.content_base64, resolve), "base64").toString("utf8"),
      mode: u.permissions as string,
    }));
    const manifest = JSON.parse(uploads.find((u) => u.file === CONTAINER_MANIFEST_PATH)!.content) as ContainerManifest;
    const finalPath = new Map(manifest.files.map((f) => [f.stagedAt ?? f.path, f.path]));
    out.set(
      node,
      uploads.map((u) => ({ path: finalPath.get(u.file) ?? u.file, content: u.content, mode: u.mode })),
    );
  }
  return out;
}

/** name → address from a hosts file (the node's own /etc/hosts: what its programs resolve with). */
function hostsOf(files: readonly Received[]): Record<string, string> {
  const hosts: Record<string, string> = {};
  const text = files.find((f) => f.path === "/etc/hosts")?.content ?? "";
  for (const line of text.split("\n")) {
    const [addr, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (!addr || !/^\d+\.\d+\.\d+\.\d+$/.test(addr) || addr.startsWith("127.")) continue;
    for (const n of names) hosts[n] = addr;
  }
  return hosts;
}

const containers = exampleContainers();
const validated = new Map<string, Set<string>>();
const mark = (node: string, p: string) => {
  if (!validated.has(node)) validated.set(node, new Set());
  validated.get(node)!.add(p);
};

beforeAll(() => {
  for (const [program, pkg] of [
    ["haproxy", "haproxy"],
    ["postfix", "postfix"],
    ["nft", "nftables"],
    ["dash", "dash"],
    ["bash", "bash"],
  ]) {
    requireProgram(program!, pkg!);
  }
});

afterAll(() => {
  const rest: string[] = [];
  for (const [node, files] of containers) {
    for (const f of files) if (!validated.get(node)?.has(f.path)) rest.push(`${node}:${f.path}`);
  }
  console.log(`docker uploads not validated here (see test/system/examples.test.ts):\n  ${rest.sort().join("\n  ")}`);
});

describe.each([...containers.keys()].sort())("docker example container %s", (node) => {
  const files = containers.get(node)!;

  test("every gromox file passes the gromox checker", () => {
    const gromox = files.filter((f) => f.path.startsWith("/etc/gromox/"));
    for (const f of gromox) {
      expect({ file: f.path, problems: checkGromoxConfig(f.path, f.content) }).toEqual({ file: f.path, problems: [] });
      mark(node, f.path);
    }
    if (node.startsWith("mail") || node.startsWith("classic")) expect(gromox.length).toBeGreaterThan(5);
  });

  test("haproxy -c -dW accepts haproxy.cfg with the other /etc/haproxy uploads, zero warnings", () => {
    const etc = files.filter((f) => f.path.startsWith("/etc/haproxy/"));
    if (!node.startsWith("lb")) {
      expect(etc).toEqual([]);
      return;
    }
    const dir = scratchDir("docker-etc-haproxy");
    for (const f of etc) {
      const target = path.join(dir, path.relative("/etc/haproxy", f.path));
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, f.content, { mode: parseInt(f.mode, 8) });
      mark(node, f.path);
    }
    // A certificate the configuration names but the cluster does not generate: a throw-away one.
    const cfg = etc.find((f) => f.path === "/etc/haproxy/haproxy.cfg")!.content;
    for (const m of cfg.matchAll(/\bcrt (\/etc\/haproxy\/\S+)/g)) {
      if (!etc.some((f) => f.path === m[1]))
        fs.writeFileSync(path.join(dir, path.relative("/etc/haproxy", m[1]!)), TLS.pem + TLS.key);
    }
    const r = runInSandbox(
      { hosts: hostsOf(files), binds: { "/etc/haproxy": dir } },
      "haproxy -c -dW -f /etc/haproxy/haproxy.cfg 2>&1",
    );
    expect(r.stdout).toBe("Configuration file is valid\n");
    expect(r.status).toBe(0);
  });

  test("postfix check is silent and postconf -M/-n/-P print no warning; no service twice", () => {
    const postfix = files.filter((f) => f.path.startsWith("/etc/postfix/"));
    if (!node.startsWith("classic")) {
      expect(postfix).toEqual([]);
      return;
    }
    const sb = preparePostfixSandbox(
      postfix.map((f) => ({ path: f.path, content: f.content, mode: f.mode, owner: "root:root" })),
      { hosts: hostsOf(files), certificateName: `${node}.example.com`, prefix: `docker-${node}` },
    );
    try {
      const check = sb.check();
      expect({ status: check.status, stdout: check.stdout, stderr: check.stderr }).toEqual({
        status: 0,
        stdout: "",
        stderr: "",
      });
      for (const flag of ["-M", "-n", "-P"]) {
        const r = sb.postconf(flag);
        expect(r.status).toBe(0);
        expect(`${r.stdout}\n${r.stderr}`.split("\n").filter((l) => /warning:/.test(l))).toEqual([]);
      }
      expect(duplicateServices(sb.postconf("-M").stdout)).toEqual([]);
      for (const f of postfix) mark(node, f.path);
    } finally {
      sb.dispose();
    }
  });

  test("nft -c accepts /etc/nftables.conf", () => {
    const f = files.find((x) => x.path === "/etc/nftables.conf")!;
    const dir = scratchDir("docker-nft");
    fs.writeFileSync(path.join(dir, "nftables.conf"), f.content);
    const r = run("nft", ["-c", "-f", path.join(dir, "nftables.conf")]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    mark(node, f.path);
  });

  test("boot.sh parses under dash and bash; manifest.json names every upload", () => {
    const boot = files.find((f) => f.path === CONTAINER_BOOT_SCRIPT_PATH)!;
    const dir = scratchDir("docker-boot");
    fs.writeFileSync(path.join(dir, "boot.sh"), boot.content);
    for (const shell of ["dash", "bash"]) {
      const r = run(shell, ["-n", path.join(dir, "boot.sh")]);
      expect({ shell, status: r.status, stderr: r.stderr }).toEqual({ shell, status: 0, stderr: "" });
    }
    expect(boot.mode).toBe("0755");
    mark(node, boot.path);
    const manifest = JSON.parse(files.find((f) => f.path === CONTAINER_MANIFEST_PATH)!.content) as ContainerManifest;
    expect(manifest.node).toBe(node);
    expect(manifest.files.map((f) => f.path).sort()).toEqual(
      files
        .map((f) => f.path)
        .filter((p) => p !== CONTAINER_MANIFEST_PATH && p !== CONTAINER_BOOT_SCRIPT_PATH)
        .sort(),
    );
    for (const f of manifest.files) expect(files.find((x) => x.path === f.path)!.mode).toBe(f.mode);
    mark(node, CONTAINER_MANIFEST_PATH);
  });
});
