/**
 * Gzip-encoded user-data as two gzip members (`base64GzipTokensLast`): the token-free start of
 * the document gzipped by the library and padded to a multiple of 3 bytes, the token-bearing end
 * gzipped by Terraform. The `none` render puts every token-bearing part at the end.
 */
import "cdktf/lib/testing/adapters/jest";
import { gunzipSync } from "node:zlib";
import { TerraformOutput, TerraformStack, Testing } from "cdktf";
import { Password } from "@cdktf/provider-random/lib/password";
import { parse } from "yaml";
import {
  ConfigFile,
  NodeProvisioning,
  TokenRegistry,
  base64GzipTokensLast,
  buildTopology,
  gzipPaddedToThree,
  hasTokens,
  provisionNode,
  renderCloudConfig,
  splitTokens,
  toTerraformString,
} from "../../lib";
import { renderNodeFiles } from "../../lib/render/node";
import { documentedLayout } from "../fixtures";
import { evaluateTemplate } from "../platforms/terraform-eval";
import { prng } from "./prng";

describe("gzipPaddedToThree", () => {
  test("a multiple of 3 bytes that gunzips to the input, for many inputs", () => {
    const rnd = prng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const n = Math.floor(rnd() * 3000);
      const text =
        i % 2
          ? Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(rnd() * 95))).join("")
          : "line\n".repeat(n);
      const gz = gzipPaddedToThree(text);
      expect(gz.length % 3).toBe(0);
      expect(gunzipSync(gz).toString("utf8")).toBe(text);
      // the gzip header: magic, deflate, no flag but FCOMMENT
      expect([...gz.subarray(0, 3)]).toEqual([0x1f, 0x8b, 8]);
      expect(gz[3] === 0 || gz[3] === 0x10).toBe(true);
      seen.add(gz[3] === 0 ? 0 : gz[10] === 0 ? 1 : 2);
    }
    // no comment, an empty comment, a one-letter comment all occurred
    expect([...seen].sort()).toEqual([0, 1, 2]);
  });
});

const topology = buildTopology(
  documentedLayout({ database: { node: "db1", password: "db-secret", mapReaderPassword: "map-secret" } }),
);

/** A node with token-bearing files (a password of any characters, a safe id) and a block volume id in bootcmd. */
function tokenNode(name: string, stack: TerraformStack, tokens: TokenRegistry): NodeProvisioning {
  const any = new Password(stack, `any-${name}`, { length: 40 }).result;
  const safe = new Password(stack, `safe-${name}`, { length: 32, special: false }).result;
  const volume = new Password(stack, `vol-${name}`, { length: 12, special: false }).result;
  tokens.declareToken(any, { maxLength: 40, charset: "any", description: "any" });
  tokens.declareToken(safe, { maxLength: 32, charset: "safe", description: "safe" });
  tokens.declareToken(volume, { maxLength: 12, charset: "safe", description: "volume id" });
  const node = topology.node(name);
  const extra: ConfigFile[] = [
    { path: "/etc/secret.cnf", content: `password=${any}\n`, mode: "0600", owner: "root:root" },
    { path: "/etc/id.cfg", content: `id=${safe}\nagain=${safe}\n`, mode: "0644", owner: "root:root" },
  ];
  const files = [...extra.slice(0, 1), ...renderNodeFiles(topology, node), ...extra.slice(1)];
  return provisionNode({
    topology,
    node,
    files,
    os: "debian-12",
    mounts: [{ kind: "block", device: `/dev/disk/by-id/scsi-0HC_Volume_${volume}`, label: "data", mountPoint: "/srv" }],
    sql: { bootstrap: "CREATE DATABASE x;\n", seed: "INSERT INTO s VALUES (1);\n", mapReaderGrants: "GRANT SELECT;\n" },
  }).provisioning;
}

/** A write_files item's content as text (gz+b64 undone; Terraform's b64 left as it stands). */
function plainContent(item: { content: string; encoding?: string }): string {
  return item.encoding === "gz+b64" && !hasTokens(item.content)
    ? gunzipSync(Buffer.from(item.content, "base64")).toString("utf8")
    : item.content;
}

describe("the none form puts every token at the end", () => {
  const names = ["mail1", "classic1", "lb1", "db1"];

  test("same keys and values, same write_files items; token-free items, then token-bearing items, then token-bearing keys", () => {
    for (const name of names) {
      const stack = new TerraformStack(Testing.app(), "t");
      const tokens = new TokenRegistry();
      const p = tokenNode(name, stack, tokens);
      const none = renderCloudConfig(p, tokens, "c/x", "none");
      const usual = renderCloudConfig(p, tokens, "c/x", "per-file");
      expect(none.issues).toEqual([]);
      expect(none.maxBytes).toBe(tokens.maxBytes(none.text));
      // yaml rejects duplicate keys: one mapping, each key once
      const n = parse(none.text, { version: "1.1", uniqueKeys: true }) as Record<string, any>;
      const u = parse(usual.text, { version: "1.1" }) as Record<string, any>;
      expect(Object.keys(n).sort()).toEqual(Object.keys(u).sort());
      for (const k of Object.keys(u)) if (k !== "write_files") expect(n[k]).toEqual(u[k]);
      const key = (i: Record<string, string>) => JSON.stringify([i.path, i.owner, i.permissions, i.defer ?? false]);
      expect(n.write_files.map(key).sort()).toEqual(u.write_files.map(key).sort());
      for (const item of n.write_files as { path: string; content: string; encoding?: string }[]) {
        const other = (u.write_files as { path: string; content: string }[]).find((i) => i.path === item.path)!;
        if (!hasTokens(item.content)) expect(plainContent(item)).toBe(plainContent(other));
      }
      // order: token-free items before token-bearing ones; bootcmd (volume id) after write_files
      const flags = (n.write_files as Record<string, string>[]).map((i) => hasTokens(JSON.stringify(i)));
      expect(flags).toEqual([...flags].sort((a, b) => Number(a) - Number(b)));
      expect(flags.filter(Boolean).length).toBeGreaterThanOrEqual(2);
      const keys = Object.keys(n);
      expect(keys.indexOf("bootcmd")).toBeGreaterThan(keys.indexOf("write_files"));
      expect(keys.slice(keys.indexOf("write_files") + 1).every((k) => hasTokens(JSON.stringify(n[k])))).toBe(true);
      // everything before the first token holds no token; the text after it starts at a token
      const first = none.text.search(/\$\{TfToken\[/);
      const head = none.text.slice(0, first);
      expect(head).toContain("write_files:\n");
      expect(splitTokens(head).every((part) => part.kind === "literal")).toBe(true);
      for (const i of (n.write_files as Record<string, string>[]).filter((i) => !hasTokens(JSON.stringify(i))))
        expect(head).toContain(`path: ${i.path}\n`);
    }
  });

  test("without any token, the usual order", () => {
    const p = provisionNode({
      topology,
      node: topology.node("lb1"),
      files: renderNodeFiles(topology, topology.node("lb1")),
      os: "debian-12",
      mounts: [],
    }).provisioning;
    const tokens = new TokenRegistry();
    const text = renderCloudConfig(p, tokens, "c/x", "none").text;
    expect(hasTokens(text)).toBe(false);
    const keys = Object.keys(parse(text, { version: "1.1" }) as object);
    expect(keys.indexOf("runcmd")).toBeGreaterThan(keys.indexOf("write_files"));
    expect(base64GzipTokensLast(tokens, text, "x").value).toBe(tokens.base64Gzip(text, "x").value);
  });
});

describe("base64GzipTokensLast", () => {
  /** Evaluates a value as Terraform would (references resolved by `resolve`), as bytes. */
  function evaluate(stack: TerraformStack, values: Record<string, string>, resolve: (ref: string) => string) {
    for (const [id, value] of Object.entries(values)) new TerraformOutput(stack, id, { value });
    const json = JSON.parse(Testing.synth(stack));
    return (id: string) => evaluateTemplate(json.output[id].value, resolve);
  }

  test("decodes (every member) to the document with the tokens' values; the bound holds for adversarial values", () => {
    const rnd = prng(11);
    for (const name of ["mail1", "lb1", "db1"]) {
      for (let round = 0; round < 4; round++) {
        const stack = new TerraformStack(Testing.app(), "t");
        const tokens = new TokenRegistry();
        const p = tokenNode(name, stack, tokens);
        const text = renderCloudConfig(p, tokens, "c/x", "none").text;
        const gz = base64GzipTokensLast(tokens, text, name);
        // the literal first member: base64 without padding, then Terraform's expression
        const literal = gz.value.slice(0, gz.value.indexOf("${TfToken["));
        expect(literal.length).toBeGreaterThan(1000);
        expect(literal.length % 4).toBe(0);
        expect(literal).not.toContain("=");
        expect(Buffer.from(literal, "base64").length % 3).toBe(0);
        // adversarial values at full length: random printable bytes, or copies of the text
        const values = new Map<string, string>();
        const value = (ref: string, maxLength: number) => {
          let v = values.get(ref);
          if (v === undefined) {
            v =
              round % 2 === 0
                ? Array.from({ length: maxLength }, () => String.fromCharCode(33 + Math.floor(rnd() * 94))).join("")
                : text.slice(100 + round, 100 + round + maxLength);
            values.set(ref, v);
          }
          return v;
        };
        const resolve = (ref: string): string => {
          const m = /^random_password\.(any|safe|vol)-[^.]+\.result$/.exec(ref);
          if (!m) throw new Error(`unexpected reference ${ref}`);
          return value(ref, m[1] === "any" ? 40 : m[1] === "safe" ? 32 : 12);
        };
        const out = evaluate(stack, { ud: gz.value, text: toTerraformString(text) }, resolve);
        const bytes = Buffer.from(out("ud"), "base64");
        expect(bytes.length).toBeLessThanOrEqual(gz.maxGzipBytes);
        // Node's gunzip reads every member: the document as the text form would deliver it
        const got = gunzipSync(bytes).toString("utf8");
        expect(got).toBe(out("text"));
      }
    }
  });
});
