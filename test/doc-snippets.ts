/**
 * The TypeScript blocks of README.md and docs/*.md, and how they are type-checked
 * (test/docs/ts-snippets.test.ts; the README's block also runs against the packed package in
 * test/system/package.test.ts).
 *
 * Convention for the markdown:
 * - A ```ts (or ```typescript) block is a complete program: it is type-checked as it stands, as
 *   a module importing from "cdktf-grommunio" (mapped to lib/index.ts).
 * - A block that is deliberately a fragment carries the marker `<!-- fragment -->` on the last
 *   non-blank line before its fence, optionally naming the variables it takes from surrounding
 *   code: `<!-- fragment: stack, cluster, zone -->`. A fragment is checked with every export of
 *   "cdktf-grommunio" and cdktf's `App` / `TerraformStack` in scope (its own imports take
 *   precedence and are kept), the named variables declared with the types in FRAGMENT_CONTEXT,
 *   and its body in a block of its own (so it may declare names of the library or the context).
 *   Any other name it uses must be imported or declared by the fragment itself.
 * - Code that is not meant to compile uses another info string (```text, ```sh, …).
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "..");

/** Variables a fragment may name in its marker, with the type each is declared with. */
export const FRAGMENT_CONTEXT: Readonly<Record<string, string>> = {
  app: 'import("cdktf").App',
  stack: 'import("cdktf").TerraformStack',
  cluster: 'import("cdktf-grommunio").GrommunioCluster',
  node: 'import("cdktf-grommunio").GromoxNode',
  zone: 'import("@cdktf/provider-aws/lib/route53-zone").Route53Zone',
  eip: 'import("@cdktf/provider-aws/lib/eip").Eip',
  classic1Eip: 'import("@cdktf/provider-aws/lib/eip").Eip',
};

export interface Snippet {
  /** Markdown file relative to the repository root (e.g. `docs/dns.md`). */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The block's code (between the fences), ending in a newline. */
  readonly code: string;
  /** Undefined for a complete program; the context variable names for a fragment. */
  readonly fragment?: readonly string[];
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/;
const MARKER = /^\s*<!--\s*fragment\s*(?::\s*([^>]*?))?\s*-->\s*$/;

/** The ```ts blocks of one markdown text. */
export function extractSnippets(file: string, markdown: string): Snippet[] {
  const lines = markdown.split("\n");
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const fence = open[2]!;
    const lang = open[3]!.toLowerCase();
    let end = i + 1;
    while (end < lines.length && !lines[end]!.trimStart().startsWith(fence)) end++;
    if (end >= lines.length) throw new Error(`${file}:${i + 1}: unterminated code fence`);
    if (lang === "ts" || lang === "typescript") {
      let prev = i - 1;
      while (prev >= 0 && lines[prev]!.trim() === "") prev--;
      const marker = prev >= 0 ? MARKER.exec(lines[prev]!) : null;
      const code = lines.slice(i + 1, end).join("\n") + "\n";
      const fragment = marker
        ? (marker[1] ?? "")
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== "")
        : undefined;
      out.push({ file, line: i + 1, code, ...(fragment ? { fragment } : {}) });
    }
    i = end;
  }
  return out;
}

/** README.md and docs/*.md, in that order. */
export function documentationFiles(root = REPO_ROOT): string[] {
  const docs = fs
    .readdirSync(path.join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`);
  return ["README.md", ...docs];
}

/** Every ```ts block of the documentation. */
export function documentationSnippets(root = REPO_ROOT): Snippet[] {
  return documentationFiles(root).flatMap((f) => extractSnippets(f, fs.readFileSync(path.join(root, f), "utf8")));
}
