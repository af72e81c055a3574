/**
 * Terraform tokens inside rendered text: splitting text into literal and token parts, escaping the
 * literal parts for Terraform's template syntax, computing base64/gzip in Terraform when a text
 * holds tokens, and knowing an upper bound of each token's final length (for the user-data size
 * check). Deterministic: nothing here depends on the clock or on randomness.
 */
import * as crypto from "node:crypto";
import { gzipSync } from "node:zlib";
import type { TokenFacts, TokenSink } from "../platforms/platform";
import { IResolvable, IResolveContext, Token, Tokenization } from "./cdktf";

/** cdktf's string token marker, `${TfToken[TOKEN.12]}` (never a global regex: no shared lastIndex). */
const STRING_TOKEN = /\$\{TfToken\[[a-zA-Z0-9:._-]+\]\}/;
/** List and map token markers have no place in rendered text. */
const OTHER_TOKEN = /[#&]\{TfToken\[[a-zA-Z0-9:._-]+\]\}/;

export type TextPart =
  | { readonly kind: "literal"; readonly text: string }
  | { readonly kind: "token"; readonly marker: string; readonly token: IResolvable };

/** The start of every cdktf token marker (string `$`, list `#`, map `&`). */
const MARKER_BODY = "{TfToken[";
const STRING_MARKER_START = "${TfToken[";

/**
 * The rest of a string marker after its start: the key (cdktf's VALID_KEY_CHARS) and the end.
 * Sticky: tried exactly where `lastIndex` is set, right before each use (nothing runs between).
 */
const MARKER_REST = /[a-zA-Z0-9:._-]+\]\}/y;

/**
 * The token of each string marker seen, by marker: cdktf's token map is process-wide and never
 * forgets a token, so a marker always stands for the same token. Markers recur (every file and
 * document holding a token is split several times), and cdktf's reverse lookup scans the marker
 * with its own regex each time.
 */
const markerTokens = new Map<string, IResolvable>();

function tokenOfMarker(marker: string): IResolvable | undefined {
  let token = markerTokens.get(marker);
  if (token === undefined) {
    token = Tokenization.reverseString(marker).firstToken;
    if (token) markerTokens.set(marker, token);
  }
  return token;
}

/**
 * Splits text into literal and token parts, in order. Adjacent literals are merged. (A scan for
 * the marker's start and its key characters: what matching `STRING_TOKEN` left to right finds.)
 */
export function splitTokens(text: string): TextPart[] {
  // Most texts (file contents, YAML items) hold no marker: one literal part.
  let at = text.indexOf(STRING_MARKER_START);
  if (at < 0) return text.length > 0 ? [{ kind: "literal", text }] : [];
  const parts: TextPart[] = [];
  let literalFrom = 0;
  while (at >= 0) {
    MARKER_REST.lastIndex = at + STRING_MARKER_START.length;
    if (!MARKER_REST.test(text)) {
      // Not a marker here; one may start inside what was scanned (at a later "$").
      at = text.indexOf(STRING_MARKER_START, at + 1);
      continue;
    }
    const end = MARKER_REST.lastIndex;
    const marker = text.slice(at, end);
    const token = tokenOfMarker(marker);
    if (token) {
      if (at > literalFrom) parts.push({ kind: "literal", text: text.slice(literalFrom, at) });
      parts.push({ kind: "token", marker, token });
      literalFrom = end;
    }
    // (an unknown marker stays in the literal text around it)
    at = text.indexOf(STRING_MARKER_START, end);
  }
  if (literalFrom < text.length) parts.push({ kind: "literal", text: text.slice(literalFrom) });
  return parts;
}

export function hasTokens(text: string): boolean {
  // (every marker holds MARKER_BODY: the regexes only run on texts that may hold one)
  return text.includes(MARKER_BODY) && (STRING_TOKEN.test(text) || OTHER_TOKEN.test(text));
}

/** True when the text holds a list or map token (never valid in rendered text). */
export function hasNonStringTokens(text: string): boolean {
  return text.includes(MARKER_BODY) && OTHER_TOKEN.test(text);
}

/**
 * Escapes literal text for Terraform's string templates (JSON syntax interprets `${` and `%{`
 * in every string): `${` → `$${`, `%{` → `%%{`. cdktf does not do this for attribute values.
 */
export function escapeTemplateLiteral(text: string): string {
  // (function replacements: in a replacement string "$$" would mean a single "$")
  return text.replace(/\$\{/g, () => "$${").replace(/%\{/g, () => "%%{");
}

/**
 * The text as a Terraform string value: literal parts escaped, token markers kept (cdktf turns
 * them into `${…}` interpolations). A literal `$` right before a token would merge with the
 * token's `${` into the escape sequence `$${`, so it is written as an interpolation of itself.
 */
export function toTerraformString(text: string): string {
  const parts = splitTokens(text);
  let out = "";
  parts.forEach((p, i) => {
    if (p.kind === "token") {
      out += p.marker;
      return;
    }
    let lit = escapeTemplateLiteral(p.text);
    if (parts[i + 1]?.kind === "token") {
      const run = /\$+$/.exec(lit);
      if (run) lit = lit.slice(0, run.index) + '${"$"}'.repeat(run[0].length);
    }
    out += lit;
  });
  return out;
}

/**
 * A Terraform function call over literal and token parts, as a cdktf token:
 * `name(join("", [base64decode("<literal>"), token, …]))` (or `name(<one part>)`), no escaping
 * needed. It resolves exactly like cdktf's `Fn.name(Fn.join("", [Fn.base64decode(…), …]))`
 * (same text, braces only outside an expression), but is one object instead of a cdktf
 * `Intrinsic` per part: each of those captures a full stack trace when created, which made token
 * creation a tenth of the synth time (docs/benchmarks.md).
 */
class JoinedFunctionCall implements IResolvable {
  public readonly creationStack: string[] = [];
  public constructor(
    private readonly name: string,
    private readonly parts: readonly TextPart[],
  ) {}

  public resolve(context: IResolveContext): string {
    const suppressBraces = context.suppressBraces;
    const ignoreEscapes = context.ignoreEscapes;
    const warnEscapes = context.warnEscapes;
    context.suppressBraces = true;
    context.ignoreEscapes = true;
    context.warnEscapes = true;
    const items = this.parts.map((p) =>
      p.kind === "token"
        ? String(context.resolve(p.marker))
        : `base64decode("${Buffer.from(p.text, "utf8").toString("base64")}")`,
    );
    const arg = items.length === 1 ? items[0]! : `join("", [${items.join(", ")}])`;
    context.ignoreEscapes = ignoreEscapes;
    context.warnEscapes = warnEscapes;
    const expr = `${this.name}(${arg})`;
    return suppressBraces ? expr : `\${${expr}}`;
  }

  public toString(): string {
    return Token.asString(this);
  }
}

/** `name(join("", [base64decode(<literal>), token, …]))` as a string token (`value`, its marker) and the token. */
function functionOfParts(
  name: "base64encode" | "base64gzip" | "jsonencode",
  parts: readonly TextPart[],
): { value: string; token: IResolvable } {
  const token = new JoinedFunctionCall(name, parts);
  return { value: Token.asString(token), token };
}

/**
 * Deterministic gzip: maximum compression, mtime 0, OS byte "Unix". A string is gzipped as UTF-8.
 * (The public signatures of this module use `Uint8Array`, not Node's `Buffer`, so that the
 * package's declarations type-check without `@types/node`; the value is a `Buffer` at run time.)
 */
export function gzipDeterministic(data: Uint8Array | string): Uint8Array {
  return gzipBuffer(data);
}

/** base64 of `gzipDeterministic(data)`. */
export function gzipDeterministicBase64(data: Uint8Array | string): string {
  return gzipBuffer(data).toString("base64");
}

function gzipBuffer(data: Uint8Array | string): Buffer {
  const out = gzipSync(typeof data === "string" ? Buffer.from(data, "utf8") : data, { level: 9 });
  out[9] = 3;
  return out;
}

/**
 * `gzipDeterministic(data)` made a multiple of 3 bytes long by a gzip header comment (RFC 1952
 * FCOMMENT: flag bit 4, then zero-terminated ISO 8859-1 text after the 10-byte header; gzip
 * readers skip it): 0 to 2 comment bytes plus the terminating zero. Its base64 then has no `=`
 * padding, so more base64 can follow it and decode as the bytes that follow (concatenated gzip
 * members, which gzip readers decompress as one stream).
 */
export function gzipPaddedToThree(data: Uint8Array | string): Uint8Array {
  return paddedToThree(data);
}

function paddedToThree(data: Uint8Array | string): Buffer {
  const gz = gzipBuffer(data);
  const rest = gz.length % 3;
  if (rest === 0) return gz;
  // rest 2: add 1 byte (an empty comment); rest 1: add 2 bytes (a one-letter comment).
  const comment = rest === 2 ? Buffer.from([0]) : Buffer.from("g\0", "latin1");
  const header = Buffer.from(gz.subarray(0, 10));
  if (header[3] !== 0) throw new Error("unexpected gzip header flags");
  header[3] = 0x10; // FCOMMENT
  return Buffer.concat([header, comment, gz.subarray(10)]);
}

/** The shortest gzip member: the 10-byte header, an empty final deflate block (2 bytes), the 8-byte trailer. */
export const MIN_GZIP_BYTES = 20;

/**
 * A lower bound of the base64 length of gzip+base64 of a text (`TokenRegistry.base64Gzip`'s
 * `maxLength`, or the base64 of `gzipDeterministic`), known without compressing: the shortest
 * gzip member, plus the allowances a text with tokens always gets (`maxGzipBytes`: the table
 * slack, Terraform's slack). A caller that needs the gzip only if it is shorter than some length
 * skips it when even this bound is not.
 */
export function minBase64GzipLength(withTokens: boolean): number {
  if (!withTokens) return base64Length(MIN_GZIP_BYTES);
  const n = MIN_GZIP_BYTES + TOKEN_TABLE_SLACK;
  return base64Length(Math.ceil(n * TERRAFORM_GZIP_SLACK.factor) + TERRAFORM_GZIP_SLACK.bytes);
}

/** Length of base64 text for n bytes. */
export function base64Length(n: number): number {
  return 4 * Math.ceil(n / 3);
}

/**
 * Terraform's gzip (Go compress/gzip) does not produce zlib's bytes; allow this much more than
 * zlib's size when bounding a gzip computed by Terraform.
 */
export const TERRAFORM_GZIP_SLACK = { factor: 1.1, bytes: 64 } as const;

/**
 * Upper bound of the length of Terraform's `jsonencode` of `text`, quotes excluded. Terraform
 * encodes strings with Go's encoding/json: `"`, `\`, newline, carriage return and tab as two
 * bytes (`\n` …), the other control characters, `<`, `>`, `&`, U+2028 and U+2029 as six
 * (`\u003c` …; backspace and form feed are `\b`, `\f` since Go 1.22, six bytes before), an
 * unpaired surrogate as `\ufffd`; every other character as its UTF-8 bytes.
 */
export function jsonStringBytes(text: string): number {
  let n = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c === 0x22 || c === 0x5c || c === 0x0a || c === 0x0d || c === 0x09) n += 2;
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) n += 6;
    else if (c >= 0xd800 && c <= 0xdfff) n += 6;
    else n += Buffer.byteLength(ch, "utf8");
  }
  return n;
}

/**
 * Upper bound of the newlines in a `pem` token of at most `maxLength` bytes (one PEM block as Go's
 * encoding/pem writes it): the BEGIN line (at least 17 characters and its newline), the END line
 * (at least 15 and its newline), full base64 lines of 64 characters and a newline, and one
 * shorter last base64 line (at least 1 and its newline). k base64 lines take at least 65k − 29
 * bytes, so there are at most ⌊(maxLength + 29) / 65⌋ + 2 ≤ ⌊maxLength / 65⌋ + 3 newlines.
 */
export function pemMaxNewlines(maxLength: number): number {
  return Math.floor(maxLength / 65) + 3;
}

/**
 * Upper bound of a token's length inside Terraform's `jsonencode` (quotes excluded): `safe`
 * characters are never escaped, a `pem` value's only escaped characters are its newlines (two
 * bytes each), anything else may be six bytes per byte.
 */
export function jsonEscapedMaxLength(facts: TokenFacts): number {
  switch (facts.charset) {
    case "safe":
      return facts.maxLength;
    case "pem":
      return facts.maxLength + pemMaxNewlines(facts.maxLength);
    default:
      return 6 * facts.maxLength;
  }
}

/**
 * Literal text that may stand inside a JSON string that is read as a YAML double-quoted scalar:
 * printable ASCII, tab and newline (Go escapes the controls; YAML 1.1 refuses DEL and most
 * non-ASCII controls unescaped, which Go leaves as they are).
 */
export const JSON_SAFE_LITERAL = /^[\t\n\x20-\x7e]*$/;

/** The facts assumed for a token nobody declared. */
export const UNKNOWN_TOKEN_FACTS: TokenFacts = {
  maxLength: 256,
  charset: "any",
  description: "an undeclared Terraform value",
};

/**
 * Knows the declared tokens: their maximum length and whether their value is safe to stand in
 * YAML and shell words unquoted. Also computes base64/gzip of texts that hold tokens (in
 * Terraform) and declares the resulting tokens with a conservative bound.
 */
export class TokenRegistry implements TokenSink {
  private readonly facts = new Map<IResolvable, TokenFacts>();
  /**
   * Memos by text: zlib's size of the worst case, and the base64 / gzip+base64 values with their
   * bounds (renderers ask again for the same file or document: several nodes share files, and a
   * node's document may be rendered twice). Their tokens are the same objects on every call.
   */
  private readonly zlibBounds = new Map<string, number>();
  /**
   * The same bounds by the worst case's pieces (`worstCaseParts` as JSON): facts are in the
   * pieces (each token's maximum length), so these survive `forget`.
   */
  private readonly shapeBounds = new Map<string, number>();
  private readonly base64Memo = new Map<string, { value: string; maxLength: number }>();
  private readonly base64GzipMemo = new Map<string, { value: string; maxLength: number }>();
  private readonly jsonMemo = new Map<string, { value: string; maxLength: number }>();
  /** Tokens whose facts went into a memo: declaring one of them again forgets the memos. */
  private readonly consulted = new Set<IResolvable>();

  public declareToken(value: string, facts: TokenFacts): void {
    for (const p of this.split(value)) {
      if (p.kind !== "token") continue;
      this.facts.set(p.token, facts);
      if (this.consulted.has(p.token)) this.forget(); // bounds computed with its old facts
    }
  }

  /**
   * Declares a token this registry has just made (`functionOfParts`): its facts, and its marker
   * known as its own without a lookup (a new token was never consulted, so no memo is stale).
   */
  private declareOwn(made: { value: string; token: IResolvable }, facts: TokenFacts): void {
    this.facts.set(made.token, facts);
    markerTokens.set(made.value, made.token);
  }

  /**
   * Split texts with a marker, by text (`splitTokens`; the parts do not depend on facts): files and
   * documents are split again by each question asked about them.
   */
  private readonly splits = new Map<string, readonly TextPart[]>();

  private split(text: string): readonly TextPart[] {
    if (!text.includes(STRING_MARKER_START)) return splitTokens(text);
    let parts = this.splits.get(text);
    if (parts === undefined) {
      parts = splitTokens(text);
      this.splits.set(text, parts);
    }
    return parts;
  }

  private forget(): void {
    this.zlibBounds.clear();
    this.base64Memo.clear();
    this.base64GzipMemo.clear();
    this.jsonMemo.clear();
    this.consulted.clear();
  }

  /** Facts of a token part; `UNKNOWN_TOKEN_FACTS` when it was never declared. */
  public factsOf(token: IResolvable): TokenFacts {
    this.consulted.add(token);
    return this.facts.get(token) ?? UNKNOWN_TOKEN_FACTS;
  }

  /** Token parts of `text` with their facts. */
  public tokensIn(text: string): { marker: string; facts: TokenFacts }[] {
    return this.split(text).flatMap((p) =>
      p.kind === "token" ? [{ marker: p.marker, facts: this.factsOf(p.token) }] : [],
    );
  }

  /** Upper bound of the UTF-8 byte length of `text` once Terraform has resolved its tokens. */
  public maxBytes(text: string): number {
    if (!text.includes(STRING_MARKER_START)) return Buffer.byteLength(text, "utf8");
    let n = 0;
    for (const p of this.split(text))
      n += p.kind === "literal" ? Buffer.byteLength(p.text, "utf8") : this.factsOf(p.token).maxLength;
    return n;
  }

  /**
   * The text with every token replaced by incompressible filler of the token's maximum length,
   * the same filler wherever the same token stands (Terraform puts the same value there, which
   * gzip can refer back to within its 32 KiB window just as it can to the filler; beyond the
   * window the filler is paid again), distinct fillers for distinct tokens.
   */
  public worstCase(text: string): Uint8Array {
    return this.worstCaseOf(text).filled;
  }

  private worstCaseOf(text: string): { filled: Buffer; repeatAllowance: number; tokens: number } {
    const w = this.worstCaseParts(text);
    return { filled: fill(w.parts), repeatAllowance: w.repeatAllowance, tokens: w.tokens };
  }

  /**
   * `worstCase(text)` as its pieces: literal text, and [seed, length] for each token's filler (a
   * filler is the first `length` bytes of its seed's stream). They determine the filled bytes,
   * the repeat allowance and the number of distinct tokens, so texts with the same pieces (the
   * same file on several nodes, each with its own token of the same length) have the same bound.
   */
  private worstCaseParts(text: string): { parts: WorstCasePart[]; repeatAllowance: number; tokens: number } {
    const parts: WorstCasePart[] = [];
    const seeds = new Map<IResolvable, number>();
    let repeatAllowance = 0;
    for (const p of this.split(text)) {
      if (p.kind === "literal") {
        parts.push(p.text);
        continue;
      }
      const maxLength = this.factsOf(p.token).maxLength;
      let seed = seeds.get(p.token);
      if (seed === undefined) {
        seed = seeds.size;
        seeds.set(p.token, seed);
      } else repeatAllowance += repeatCost(maxLength);
      parts.push([seed, maxLength]);
    }
    return { parts, repeatAllowance, tokens: seeds.size };
  }

  /**
   * Upper bound of gzip(text) in bytes: zlib's size of `worstCase(text)`, plus `repeatCost` per
   * repeated occurrence of a token and `TOKEN_TABLE_SLACK` once when there are tokens, allowing for Terraform's gzip being worse than zlib's. test/provision/gzip-bound.test.ts
   * checks it against zlib on adversarial values.
   */
  public maxGzipBytes(text: string, computedByTerraform: boolean): number {
    let n = this.zlibBounds.get(text);
    if (n === undefined) {
      const w = this.worstCaseParts(text);
      const shape = JSON.stringify(w.parts);
      n = this.shapeBounds.get(shape);
      if (n === undefined) {
        n = gzipBuffer(fill(w.parts)).length + w.repeatAllowance + (w.tokens > 0 ? TOKEN_TABLE_SLACK : 0);
        this.shapeBounds.set(shape, n);
      }
      this.zlibBounds.set(text, n);
    }
    return computedByTerraform ? Math.ceil(n * TERRAFORM_GZIP_SLACK.factor) + TERRAFORM_GZIP_SLACK.bytes : n;
  }

  /**
   * base64 of the text: computed now when the text holds no token, else by Terraform
   * (`base64encode(join(...))`); the result is declared as a `safe` token with its bound.
   */
  public base64(text: string, description: string): { value: string; maxLength: number } {
    const memo = this.base64Memo.get(text);
    if (memo) return memo;
    const parts = this.split(text);
    let out: { value: string; maxLength: number };
    if (!parts.some((p) => p.kind === "token")) {
      const value = Buffer.from(text, "utf8").toString("base64");
      out = { value, maxLength: value.length };
    } else {
      const made = functionOfParts("base64encode", parts);
      const maxLength = base64Length(this.maxBytes(text));
      this.declareOwn(made, { maxLength, charset: "safe", description: `base64 of ${description}` });
      out = { value: made.value, maxLength };
    }
    this.base64Memo.set(text, out);
    return out;
  }

  /**
   * base64 of gzip(text): computed now (deterministic) when the text holds no token, else by
   * Terraform (`base64gzip(join(...))`), declared as a `safe` token with a conservative bound.
   */
  public base64Gzip(text: string, description: string): { value: string; maxLength: number } {
    const memo = this.base64GzipMemo.get(text);
    if (memo) return memo;
    const parts = this.split(text);
    let out: { value: string; maxLength: number };
    if (!parts.some((p) => p.kind === "token")) {
      const gz = gzipBuffer(text);
      // Without tokens the worst case is the text itself: this is also its zlib bound.
      this.zlibBounds.set(text, gz.length);
      const value = gz.toString("base64");
      out = { value, maxLength: value.length };
    } else {
      const made = functionOfParts("base64gzip", parts);
      const maxLength = base64Length(this.maxGzipBytes(text, true));
      this.declareOwn(made, { maxLength, charset: "safe", description: `gzip+base64 of ${description}` });
      out = { value: made.value, maxLength };
    }
    this.base64GzipMemo.set(text, out);
    return out;
  }

  /**
   * The text as a JSON string made by Terraform (`jsonencode(join(...))`, quotes included), for
   * texts whose tokens are `safe` or `pem` and whose literal parts match `JSON_SAFE_LITERAL`: the
   * result is printable ASCII and a valid YAML double-quoted scalar (YAML's escapes include JSON's).
   * Declared as a `json` token, bounded by the escaping of each part at its maximum length
   * (`jsonStringBytes`, `jsonEscapedMaxLength`). Undefined for other texts.
   */
  public jsonString(text: string, description: string): { value: string; maxLength: number } | undefined {
    const memo = this.jsonMemo.get(text);
    if (memo) return memo;
    const parts = this.split(text);
    let maxLength = 2;
    for (const p of parts) {
      if (p.kind === "literal") {
        if (!JSON_SAFE_LITERAL.test(p.text)) return undefined;
        maxLength += jsonStringBytes(p.text);
        continue;
      }
      const facts = this.factsOf(p.token);
      if (facts.charset !== "safe" && facts.charset !== "pem") return undefined;
      maxLength += jsonEscapedMaxLength(facts);
    }
    const made = functionOfParts("jsonencode", parts);
    this.declareOwn(made, { maxLength, charset: "json", description: `the JSON string of ${description}` });
    const out = { value: made.value, maxLength };
    this.jsonMemo.set(text, out);
    return out;
  }

  /** True when `value` is exactly one token declared `json` (a whole YAML double-quoted scalar). */
  public isJsonToken(value: string): boolean {
    const parts = this.split(value);
    return parts.length === 1 && parts[0]!.kind === "token" && this.facts.get(parts[0]!.token)?.charset === "json";
  }
}

/**
 * base64 of gzip(text) in two gzip members when the text holds tokens after a token-free start:
 * the start (up to the first token marker) gzipped here, exactly, padded to a multiple of 3 bytes
 * (`gzipPaddedToThree`), then the rest gzipped by Terraform (`base64Gzip`). The value is the
 * literal base64 of the first member followed by Terraform's base64 of the second, which is
 * base64 of the two members concatenated; gzip readers (cloud-init's `util.decomp_gzip`, Python's
 * `gzip.GzipFile`) read every member, so the node gets the whole text. Only the rest is bounded
 * with token fillers and Terraform's gzip slack. Without a token, or with one at the very start,
 * one member (`base64Gzip`). `maxGzipBytes`: upper bound of the binary gzip (both members).
 */
export function base64GzipTokensLast(
  tokens: TokenRegistry,
  text: string,
  description: string,
): { value: string; maxGzipBytes: number } {
  const first = text.search(STRING_TOKEN);
  if (first <= 0) {
    const gz = tokens.base64Gzip(text, description);
    return { value: gz.value, maxGzipBytes: tokens.maxGzipBytes(text, hasTokens(text)) };
  }
  const head = paddedToThree(text.slice(0, first));
  const tail = tokens.base64Gzip(text.slice(first), `the token-bearing end of ${description}`);
  return {
    value: head.toString("base64") + tail.value,
    maxGzipBytes: head.length + tokens.maxGzipBytes(text.slice(first), true),
  };
}

/**
 * What a repeated occurrence of a token of `maxLength` may cost gzip beyond what the repeated
 * filler costs: the same value is matched as the filler is (one deflate match per 258 bytes), but
 * where a value differs from random bytes the encoder may split or end a match differently; one
 * byte per match allowed. Measured against zlib on adversarial values
 * (test/provision/gzip-bound.test.ts): at most 6 bytes over 699 repeats.
 */
export function repeatCost(maxLength: number): number {
  return Math.ceil(Math.max(1, maxLength) / 258);
}

/** A piece of a worst case: literal text, or a token's filler as [seed, length]. */
type WorstCasePart = string | [seed: number, length: number];

/** The bytes of a worst case from its pieces (`TokenRegistry.worstCaseParts`). */
function fill(parts: readonly WorstCasePart[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : filler(p[1], p[0]))));
}

/** Allowed once per text holding tokens: real values change the Huffman tables of a block. */
export const TOKEN_TABLE_SLACK = 32;

/**
 * Deterministic incompressible bytes (SHA-256 in counter mode): the first `length` bytes of the
 * stream of `seed`. The longest stream made so far per seed is kept (a process makes the same
 * fillers for every node's document), and shorter fillers are its prefix.
 */
function filler(length: number, seed: number): Buffer {
  let stream = fillerStreams.get(seed);
  if (stream === undefined || stream.length < length) {
    // Whole blocks, so that a longer stream continues at a block boundary.
    const out = Buffer.alloc(32 * Math.ceil(length / 32));
    const kept = stream ? stream.copy(out, 0) : 0;
    for (let off = kept, block = kept / 32; off < out.length; block++) {
      const h = sha256(`grommunio-filler:${seed}:${block}`);
      off += h.copy(out, off, 0, Math.min(h.length, out.length - off));
    }
    stream = out;
    fillerStreams.set(seed, stream);
  }
  return stream.subarray(0, length);
}
const fillerStreams = new Map<number, Buffer>();

/** SHA-256 of a UTF-8 string: the one-shot `crypto.hash` (Node ≥ 20.12) where there is one. */
const sha256: (text: string) => Buffer =
  typeof crypto.hash === "function"
    ? (text) => crypto.hash("sha256", text, "buffer")
    : (text) => crypto.createHash("sha256").update(text).digest();
