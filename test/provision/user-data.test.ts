import "cdktf/lib/testing/adapters/jest";
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { TerraformStack, Testing } from "cdktf";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { Password } from "@cdktf/provider-random/lib/password";
import {
  ConfigFile,
  FileCompression,
  GZIP_ABOVE_FRACTION,
  TokenRegistry,
  UserDataFacts,
  buildTopology,
  buildUserData,
  provisionNode,
  renderCloudConfig,
} from "../../lib";
import { renderNodeFiles } from "../../lib/render/node";
import { documentedLayout } from "../fixtures";
import { evaluateTemplate } from "../platforms/terraform-eval";

const topology = buildTopology(documentedLayout());
const AWS: UserDataFacts = {
  limitBytes: 16384,
  countedAs: "raw-bytes",
  binaryGzip: true,
  nativeChangeBehaviour: "update-in-place",
};
const TEXT_ONLY: UserDataFacts = { ...AWS, limitBytes: 32768, binaryGzip: false };

/** A node whose files add up to about `bytes` of hard-to-compress text. */
function build(bytes: number, facts: UserDataFacts, tokens = new TokenRegistry(), password?: string) {
  // base64 of hashes: gzip saves only a quarter, so per-file gz+b64 does not pay off.
  const lines: string[] = [];
  for (let i = 0, n = 0; n < bytes; i++) {
    const line = `key${i}=${createHash("sha256").update(String(i)).digest("base64")}`;
    lines.push(line);
    n += line.length + 1;
  }
  const files: ConfigFile[] = [
    { path: "/etc/big.cfg", content: lines.join("\n") + "\n", mode: "0640", owner: "root:root" },
    ...(password
      ? [{ path: "/etc/secret.cfg", content: `password=${password}\n`, mode: "0600", owner: "root:root" }]
      : []),
  ];
  const node = topology.node("db1");
  const { provisioning } = provisionNode({ topology, node, files, os: "debian-12", mounts: [] });
  return buildUserData(
    "db1",
    "c/db1",
    (compression, stopWhen) => renderCloudConfig(provisioning, tokens, "c/db1", compression, stopWhen),
    facts,
    tokens,
  );
}

describe("user-data encoding and size check", () => {
  test("the per-file form is kept exactly up to the threshold (every documented node)", () => {
    const routed = buildTopology(
      documentedLayout({ database: { node: "db1", password: "db-secret", mapReaderPassword: "map-secret" } }),
    );
    for (const node of routed.nodes) {
      const { provisioning } = provisionNode({
        topology: routed,
        node,
        files: renderNodeFiles(routed, node),
        os: "debian-12",
        mounts: [],
      });
      const perFile = renderCloudConfig(provisioning, new TokenRegistry(), "c/x", "per-file");
      // raw bytes: the form is too large once its bound passes limitBytes * GZIP_ABOVE_FRACTION
      const at = (limitBytes: number) => {
        const tokens = new TokenRegistry();
        const render = (c: FileCompression, stopWhen?: (n: number) => boolean) =>
          renderCloudConfig(provisioning, tokens, "c/x", c, stopWhen);
        return buildUserData(node.name, "c/x", render, { ...AWS, limitBytes }, tokens);
      };
      const kept = at(perFile.maxBytes / GZIP_ABOVE_FRACTION);
      expect(kept.userData.encoding).toBe("text");
      expect(kept.rendered).toEqual(perFile);
      expect(kept.report.textBytes).toBe(perFile.maxBytes);
      const over = at(perFile.maxBytes / GZIP_ABOVE_FRACTION - 1);
      expect(over.userData.encoding).toBe("gzip-base64");
      expect(over.rendered.text).not.toContain("gz+b64");
    }
  });

  test("small documents ship as text", () => {
    const r = build(1000, AWS);
    expect(r.userData.encoding).toBe("text");
    expect(r.report.maxBytes).toBe(Buffer.byteLength(r.rendered.text));
    expect(r.issues).toEqual([]);
  });

  test("past half the limit, platforms that take gzip get the whole document gzipped", () => {
    const r = build(AWS.limitBytes * GZIP_ABOVE_FRACTION + 2000, AWS);
    expect(r.userData.encoding).toBe("gzip-base64");
    const text = gunzipSync(Buffer.from(r.userData.value, "base64")).toString();
    expect(text).toBe(r.rendered.text);
    expect(r.report.maxBytes).toBe(Buffer.from(r.userData.value, "base64").length);
    // Files are not gzipped one by one inside a gzipped document.
    expect(text).not.toContain("gz+b64");
  });

  test("GRX301 when even the best encoding may exceed the limit", () => {
    const r = build(40_000, TEXT_ONLY);
    expect(r.userData.encoding).toBe("text");
    expect(r.issues).toEqual([expect.objectContaining({ code: "GRX301", path: "c/db1", field: "user-data" })]);
  });

  test("with tokens, the bound holds for the real value (password at its maximum length)", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const pw = new Password(stack, "pw", { length: 32, special: false }).result;
    const tokens = new TokenRegistry();
    tokens.declareToken(pw, { maxLength: 32, charset: "safe", description: "pw" });
    const small = build(1000, AWS, tokens, pw);
    const big = build(12_000, AWS, tokens, pw);
    new Instance(stack, "small", { ami: "a", instanceType: "t3.micro", userData: small.userData.value });
    new Instance(stack, "big", { ami: "a", instanceType: "t3.micro", userDataBase64: big.userData.value });
    const json = JSON.parse(Testing.synth(stack));
    expect(small.userData.encoding).toBe("text");
    const real = evaluateTemplate(json.resource.aws_instance.small.user_data);
    expect(Buffer.byteLength(real)).toBeLessThanOrEqual(small.report.maxBytes);
    expect(real).toContain(`password=${"P".repeat(32)}`);
    expect(big.userData.encoding).toBe("gzip-base64");
    const bytes = Buffer.from(evaluateTemplate(json.resource.aws_instance.big.user_data_base64), "base64");
    expect(bytes.length).toBeLessThanOrEqual(big.report.maxBytes);
    expect(gunzipSync(bytes).toString()).toContain(`password=${"P".repeat(32)}`);
  });
});
