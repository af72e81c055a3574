/**
 * The user-data gzip bound (TokenRegistry.maxGzipBytes) against real zlib: every token's value
 * chosen adversarially (random bytes of every value 0-255, random lengths, all one character,
 * copies of the surrounding text, values sharing prefixes), many repeats of the same token inside
 * and beyond gzip's 32 KiB window, distinct tokens side by side. The bound counts each distinct
 * token once as incompressible filler, plus `repeatCost` per repeat.
 */
import "cdktf/lib/testing/adapters/jest";
import { gzipSync } from "node:zlib";
import { TerraformStack, Testing } from "cdktf";
import { Password } from "@cdktf/provider-random/lib/password";
import { TERRAFORM_GZIP_SLACK, TokenRegistry, gzipDeterministic, splitTokens } from "../../lib/provision";
import { prng } from "./prng";

type Strategy = (maxLength: number, rnd: () => number, literal: string) => Buffer;

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const STRATEGIES: Record<string, Strategy> = {
  "random bytes, full length": (n, rnd) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256))),
  "random letters and digits, full length": (n, rnd) =>
    Buffer.from(Array.from({ length: n }, () => ALNUM[Math.floor(rnd() * ALNUM.length)]).join("")),
  "random bytes, random length": (n, rnd) =>
    Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * n) }, () => Math.floor(rnd() * 256))),
  "one character": (n) => Buffer.alloc(n, "a"),
  empty: () => Buffer.alloc(0),
  "a piece of the surrounding text": (n, rnd, literal) => {
    const start = Math.floor(rnd() * Math.max(1, literal.length - n));
    return Buffer.from(literal, "utf8").subarray(start, start + n);
  },
  "random bytes sharing a prefix with the text": (n, rnd, literal) =>
    Buffer.concat([
      Buffer.from(literal.slice(0, Math.floor(n / 2)), "utf8").subarray(0, Math.floor(n / 2)),
      Buffer.from(Array.from({ length: n - Math.floor(n / 2) }, () => Math.floor(rnd() * 256))),
    ]).subarray(0, n),
};

/** The bytes Terraform would produce for `text` with each token replaced by its value. */
function realBytes(text: string, values: Map<unknown, Buffer>): Buffer {
  return Buffer.concat(
    splitTokens(text).map((p) => (p.kind === "literal" ? Buffer.from(p.text, "utf8") : values.get(p.token)!)),
  );
}

describe("gzip bound: one filler per distinct token, a bounded cost per repeat", () => {
  const stack = new TerraformStack(Testing.app(), "t");
  const pw = new Password(stack, "pw", { length: 32 }).result;
  const reader = new Password(stack, "reader", { length: 64 }).result;
  const key = new Password(stack, "key", { length: 300 }).result; // longer than one deflate match
  const registry = () => {
    const r = new TokenRegistry();
    r.declareToken(pw, { maxLength: 32, charset: "any", description: "pw" });
    r.declareToken(reader, { maxLength: 64, charset: "any", description: "reader" });
    r.declareToken(key, { maxLength: 300, charset: "any", description: "key" });
    return r;
  };
  const sqlLine = (i: number, t: string) =>
    `CREATE USER IF NOT EXISTS 'grommunio'@'10.16.${i >> 8}.${i & 255}' IDENTIFIED BY '${t}';\n` +
    `ALTER USER 'grommunio'@'10.16.${i >> 8}.${i & 255}' IDENTIFIED BY '${t}';\n`;
  const texts: Record<string, string> = {
    // ~700 occurrences over ~90 KB: repeats inside and far beyond the 32 KiB window
    "per-address SQL, the password twice per line pair": Array.from({ length: 350 }, (_, i) => sqlLine(i, pw)).join(""),
    "two tokens interleaved": Array.from({ length: 200 }, (_, i) => sqlLine(i, i % 3 ? pw : reader)).join(""),
    "tokens next to each other": Array.from({ length: 100 }, () => `${pw}${reader}${pw}\n`).join(""),
    "a long token repeated": `-----BEGIN-----\n${key}\n-----END-----\n`.repeat(20) + "tail\n".repeat(50),
    "a config file with each token once":
      `[mysql]\nuser=grommunio\npassword=${pw}\nreader=${reader}\nkey=${key}\n` + "some.option = value\n".repeat(200),
    "repeats only beyond the window":
      `a=${pw}\n` + "x".repeat(40000) + `\nb=${pw}\n` + "y".repeat(40000) + `\nc=${pw}\n`,
  };

  for (const [name, text] of Object.entries(texts)) {
    test(name, () => {
      const r = registry();
      const zlibBound = r.maxGzipBytes(text, false);
      const terraformBound = r.maxGzipBytes(text, true);
      const literal = splitTokens(text).find((p) => p.kind === "literal")!;
      const literalText = literal.kind === "literal" ? literal.text : "";
      let worst = 0;
      for (const [strategy, make] of Object.entries(STRATEGIES)) {
        for (let seed = 1; seed <= 4; seed++) {
          const rnd = prng(seed * 7919 + strategy.length);
          const values = new Map<unknown, Buffer>();
          for (const p of splitTokens(text)) {
            if (p.kind === "token" && !values.has(p.token))
              values.set(p.token, make(r.factsOf(p.token).maxLength, rnd, literalText));
          }
          const real = realBytes(text, values);
          const nine = gzipDeterministic(real).length;
          worst = Math.max(worst, nine);
          expect({ strategy, seed, size: nine }).toEqual({ strategy, seed, size: Math.min(nine, zlibBound) });
          // Terraform's (Go's) gzip is not zlib: other levels stand in for a different compressor.
          for (const level of [6]) {
            const other = gzipSync(real, { level }).length;
            expect({ strategy, seed, level, size: other }).toEqual({
              strategy,
              seed,
              level,
              size: Math.min(other, terraformBound),
            });
          }
        }
      }
      // Not wasteful: the bound stays close to the worst value found.
      expect(zlibBound).toBeLessThan(worst * 1.5 + 600);
    });
  }

  test("the slack for Terraform's gzip is what the bound adds", () => {
    const r = registry();
    const text = texts["two tokens interleaved"]!;
    expect(r.maxGzipBytes(text, true)).toBe(
      Math.ceil(r.maxGzipBytes(text, false) * TERRAFORM_GZIP_SLACK.factor) + TERRAFORM_GZIP_SLACK.bytes,
    );
  });
});
