import "cdktf/lib/testing/adapters/jest";
import { gunzipSync } from "node:zlib";
import { TerraformStack, Testing } from "cdktf";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { Password } from "@cdktf/provider-random/lib/password";
import fc from "fast-check";
import {
  TokenRegistry,
  UNKNOWN_TOKEN_FACTS,
  escapeTemplateLiteral,
  gzipDeterministic,
  gzipDeterministicBase64,
  splitTokens,
  toTerraformString,
} from "../../lib/provision";
import { jsonEscapedMaxLength, jsonStringBytes, minBase64GzipLength, pemMaxNewlines } from "../../lib/provision/tokens";
import { evaluateTemplate, goJsonString } from "../platforms/terraform-eval";

/** Synthesizes `value(password)` as an instance's user_data and evaluates it like Terraform. */
function throughTerraform(value: (password: string, tokens: TokenRegistry) => string): string {
  const stack = new TerraformStack(Testing.app(), "t");
  const pw = new Password(stack, "pw", { length: 32 });
  const tokens = new TokenRegistry();
  new Instance(stack, "i", { ami: "a", instanceType: "t3.micro", userData: value(pw.result, tokens) });
  const json = JSON.parse(Testing.synth(stack));
  return evaluateTemplate(json.resource.aws_instance.i.user_data);
}

const PW = "P".repeat(32);

describe("Terraform template escaping", () => {
  test("literal ${ and %{ are escaped, tokens kept", () => {
    expect(escapeTemplateLiteral("a ${HOME} %{if x} $5 %d")).toBe("a $${HOME} %%{if x} $5 %d");
    const text = "echo \"${HOME}\" %{x} \\ 'q' $";
    expect(throughTerraform((pw) => toTerraformString(`${text}${pw}$$${pw}\n`))).toBe(`${text}${PW}$$${PW}\n`);
  });

  test("property: any text around a token survives synth + Terraform evaluation", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.stringMatching(/^[${}%"\\a\n]*$/), (a, b) => {
        expect(throughTerraform((pw) => toTerraformString(`${a}${pw}${b}`))).toBe(`${a}${PW}${b}`);
      }),
      { numRuns: 60 },
    );
  });

  test("splitTokens keeps order and merges literals", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const pw = new Password(stack, "pw", { length: 32 }).result;
    const parts = splitTokens(`a${pw}b${pw}`);
    expect(parts.map((p) => p.kind)).toEqual(["literal", "token", "literal", "token"]);
    expect(splitTokens("plain")).toEqual([{ kind: "literal", text: "plain" }]);
  });

  test("property: splitTokens finds the markers a left-to-right regex match finds", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const pw = new Password(stack, "pw", { length: 32 }).result;
    // Marker-like fragments around real markers: broken starts, keys, ends (none forms a marker of
    // an unknown key, which cdktf refuses).
    const piece = fc.constantFrom(pw, "${TfToken[", "]}", "${TfToken[]}", "${TfToken[a b]}", "$", "{", " ", "\n");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const text = pieces.join("");
        const markers = [...text.matchAll(/\$\{TfToken\[[a-zA-Z0-9:._-]+\]\}/g)].map((m) => m[0]);
        const parts = splitTokens(text);
        expect(parts.map((p) => (p.kind === "literal" ? p.text : p.marker)).join("")).toBe(text);
        expect(parts.flatMap((p) => (p.kind === "token" ? [p.marker] : []))).toEqual(markers);
        for (let i = 1; i < parts.length; i++)
          expect(parts[i - 1]!.kind === "literal" && parts[i]!.kind === "literal").toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe("TokenRegistry", () => {
  test("declared tokens count at their maximum, undeclared ones conservatively", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const declared = new Password(stack, "a", { length: 20 }).result;
    const other = new Password(stack, "b", { length: 20 }).result;
    const r = new TokenRegistry();
    r.declareToken(declared, { maxLength: 20, charset: "safe", description: "a" });
    expect(r.maxBytes(`x=${declared}\n`)).toBe(3 + 20);
    expect(r.maxBytes(`x=${other}\n`)).toBe(3 + UNKNOWN_TOKEN_FACTS.maxLength);
    expect(r.maxBytes("ä")).toBe(2);
  });

  test("base64 and gzip: computed now without tokens (deterministic), by Terraform with them", () => {
    const r = new TokenRegistry();
    const text = "hello\n".repeat(50);
    expect(r.base64(text, "f").value).toBe(Buffer.from(text).toString("base64"));
    const gz = r.base64Gzip(text, "f");
    expect(gunzipSync(Buffer.from(gz.value, "base64")).toString()).toBe(text);
    expect(r.base64Gzip(text, "f").value).toBe(gz.value);
    const out = throughTerraform((pw, tokens) => {
      tokens.declareToken(pw, { maxLength: 32, charset: "any", description: "pw" });
      const b = tokens.base64Gzip(`password=${pw}\n${text}`, "f");
      expect(b.maxLength).toBeGreaterThan(0);
      return b.value;
    });
    expect(gunzipSync(Buffer.from(out, "base64")).toString()).toBe(`password=${PW}\n${text}`);
  });

  test("the gzip bound covers the real size", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const pw = new Password(stack, "pw", { length: 32 }).result;
    const r = new TokenRegistry();
    r.declareToken(pw, { maxLength: 32, charset: "any", description: "pw" });
    const text = `a=${pw}\n` + "some config line\n".repeat(100);
    const real = gzipDeterministic(text.replace(pw, "x".repeat(32))).length;
    expect(r.maxGzipBytes(text, true)).toBeGreaterThanOrEqual(real);
  });

  test("gzip is deterministic (mtime 0, OS byte Unix)", () => {
    const a = gzipDeterministic("x".repeat(1000));
    expect(Buffer.compare(a, gzipDeterministic("x".repeat(1000)))).toBe(0);
    expect([...a.subarray(4, 8)]).toEqual([0, 0, 0, 0]); // MTIME
    expect(a[9]).toBe(3);
    expect(gzipDeterministicBase64("x".repeat(1000))).toBe(Buffer.from(a).toString("base64"));
    // bytes gzip as themselves, a string as its UTF-8
    expect(Buffer.compare(gzipDeterministic(new TextEncoder().encode("ä")), gzipDeterministic("ä"))).toBe(0);
  });
});

describe("jsonencode bounds", () => {
  test("jsonStringBytes bounds Terraform's JSON string of any text (quotes aside)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }), fc.string()), (text) => {
        expect(Buffer.byteLength(goJsonString(text), "utf8")).toBeLessThanOrEqual(2 + jsonStringBytes(text));
      }),
      { numRuns: 500 },
    );
  });

  test("a pem token: escaped length at most its bound, for PEM blocks of every size as Go writes them", () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4000 }),
        fc.constantFrom("X", "CERTIFICATE", "EC PRIVATE KEY"),
        (der, type) => {
          const body = Array.from({ length: 4 * Math.ceil(der / 3) }, (_, i) => alphabet[(i * 7) % 64]).join("");
          const lines = body.match(/.{1,64}/g) ?? [];
          const pem = `-----BEGIN ${type}-----\n${lines.map((l) => `${l}\n`).join("")}-----END ${type}-----\n`;
          const escaped = goJsonString(pem).length - 2;
          expect(escaped).toBe(pem.length + lines.length + 2);
          expect(escaped).toBeLessThanOrEqual(
            jsonEscapedMaxLength({ maxLength: pem.length, charset: "pem", description: "" }),
          );
          // at most one newline more than the block has
          expect(pemMaxNewlines(pem.length)).toBeLessThanOrEqual(lines.length + 3);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("minBase64GzipLength", () => {
  test("is a lower bound of gzip+base64 lengths, with and without tokens", () => {
    for (const text of ["", "a", "0123456789".repeat(100)]) {
      expect(gzipDeterministicBase64(text).length).toBeGreaterThanOrEqual(minBase64GzipLength(false));
    }
    const stack = new TerraformStack(Testing.app(), "t");
    const pw = new Password(stack, "pw", { length: 1 }).result;
    const r = new TokenRegistry();
    r.declareToken(pw, { maxLength: 1, charset: "safe", description: "a one-letter value" });
    for (const text of [pw, `${pw}${pw}`, `a${pw}`, `${"x".repeat(500)}${pw}`]) {
      expect(r.base64Gzip(text, "t").maxLength).toBeGreaterThanOrEqual(minBase64GzipLength(true));
    }
  });
});
