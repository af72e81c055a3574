/**
 * Gzip-encoded Hetzner user-data is two gzip members (the token-free start gzipped by the
 * library, the token-bearing end by Terraform; lib/provision/tokens.ts `base64GzipTokensLast`).
 * Decoded here exactly as cloud-init does, with cloud-init's own Python code: the Hetzner
 * datasource's `maybe_b64decode`, `util.decomp_gzip(..., quiet=False)`, the user-data processor,
 * `util.load_yaml`; then `cloud-init schema -c` on the decoded document.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DefaultTokenResolver, StringConcat, TerraformStack, Testing, Tokenization } from "cdktf";
import { hcloudExample } from "../../examples/hcloud/main";
import { GrommunioCluster, toTerraformString } from "../../lib";
import { FAKE_TLS_CERT_PEM, FAKE_TLS_KEY_PEM, evaluateTemplate } from "../platforms/terraform-eval";
import { stackResolver } from "../platforms/vm-support";
import { SYSTEM_PYTHON, requireCloudInit } from "./cloud-init";
import { run, scratchDir } from "./support";

const DECODE = `
import json, sys
from cloudinit import util
from cloudinit.helpers import Paths
from cloudinit.sources.helpers.hetzner import maybe_b64decode
from cloudinit.user_data import UserDataProcessor
delivered = open(sys.argv[1], "rb").read()
raw = maybe_b64decode(delivered)
if raw is delivered:
    sys.exit("maybe_b64decode did not decode the user-data")
text = util.decomp_gzip(raw, quiet=False)
open(sys.argv[2], "w", encoding="utf-8").write(text)
parts = [
    (p.get_content_type(), p.get_payload(decode=True).decode("utf-8"))
    for p in UserDataProcessor(Paths({})).process(raw).walk()
    if not p.is_multipart()
]
config = util.load_yaml(text)
tls = {f["path"]: f["content"] for f in config["write_files"] if f["path"].endswith((".pem", ".key"))}
print(json.dumps({"parts": parts, "keys": sorted(config.keys()), "files": [f["path"] for f in config["write_files"]], "tls": tls}))
`;

describe("two-member gzip user-data read by cloud-init's own code (Hetzner datasource)", () => {
  test("every gzip-encoded node of the hcloud example decodes to its document; cloud-init schema accepts it", () => {
    requireCloudInit();
    const app = Testing.app();
    const stack: TerraformStack = hcloudExample(app);
    const json = JSON.parse(Testing.synth(stack));
    const cluster = stack.node.findAll().find((c): c is GrommunioCluster => c instanceof GrommunioCluster)!;
    const resolve = stackResolver(json);
    const dir = scratchDir("gzip-members");
    let gzipNodes = 0;
    for (const server of Object.values<any>(json.resource.hcloud_server)) {
      const node = String(server.labels["grommunio-node"]);
      const delivered = evaluateTemplate(server.user_data, resolve);
      if (delivered.startsWith("#cloud-config")) continue;
      gzipNodes++;
      // two members: the library's literal base64, then Terraform's base64gzip
      expect(server.user_data).toMatch(/^[A-Za-z0-9+/]+\$\{base64gzip\(/);
      // what the node should get: the rendered document with the same fake values
      const template = Tokenization.resolve(toTerraformString(cluster.cloudConfigs.get(node)!.text), {
        scope: stack,
        resolver: new DefaultTokenResolver(new StringConcat()),
      }) as string;
      const expected = evaluateTemplate(template, resolve);
      const input = path.join(dir, `${node}.b64`);
      const output = path.join(dir, `${node}.yaml`);
      fs.writeFileSync(input, delivered);
      const r = run(SYSTEM_PYTHON, ["-c", DECODE, input, output]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const decoded = fs.readFileSync(output, "utf8");
      expect(decoded).toBe(expected);
      const out = JSON.parse(r.stdout) as {
        parts: [string, string][];
        keys: string[];
        files: string[];
        tls: Record<string, string>;
      };
      expect(out.parts).toEqual([["text/cloud-config", expected]]);
      expect(out.keys).toEqual(expect.arrayContaining(["hostname", "packages", "runcmd", "write_files"]));
      expect(out.files.length).toBeGreaterThan(5);
      // the tls provider's PEMs travel as JSON strings (Terraform's jsonencode): read back exactly
      const tls = Object.entries(out.tls).filter(([p]) => !p.includes("dkim"));
      expect(tls.length).toBeGreaterThan(0);
      for (const [p, content] of tls) {
        // (HAProxy's crt: chain, a newline after the token, key)
        if (p.endsWith("proxy.pem")) expect(content).toBe(`${FAKE_TLS_CERT_PEM}\n${FAKE_TLS_KEY_PEM}`);
        else expect(content).toBe(p.endsWith(".key") ? FAKE_TLS_KEY_PEM : FAKE_TLS_CERT_PEM);
        expect(expected).toMatch(new RegExp(`path: ${p}\\n(?: {4}\\w+: .*\\n)*? {4}content: "-----BEGIN`));
      }
      const schema = run("cloud-init", ["schema", "-c", output]);
      expect(`${schema.status} ${schema.stdout}${schema.stderr}`).toMatch(/^0 Valid cloud-config/);
    }
    expect(gzipNodes).toBeGreaterThanOrEqual(3);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
