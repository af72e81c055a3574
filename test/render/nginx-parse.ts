/**
 * A small nginx configuration parser for tests, written from nginx's tokenizer rules
 * (`ngx_conf_read_token`) independently of the renderer's serializer: words are cut at blanks,
 * `;`, `{`, `}`; quotes group; a backslash escapes `"`, `'` and `\`; `#` at a word start begins
 * a comment. Tests use it to assert structure (which block holds what), not text layout.
 */

export interface Stmt {
  readonly name: string;
  readonly args: string[];
  /** Present for blocks. */
  readonly children?: Stmt[];
  /** 1-based line of the statement's first word. */
  readonly line: number;
}

function tokenize(text: string): Array<{ word: string; special: boolean; line: number }> {
  const out: Array<{ word: string; special: boolean; line: number }> = [];
  let i = 0;
  let line = 1;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === "\n") {
      line++;
      i++;
    } else if (/\s/.test(ch)) {
      i++;
    } else if (ch === "#") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (ch === ";" || ch === "{" || ch === "}") {
      out.push({ word: ch, special: true, line });
      i++;
    } else if (ch === '"' || ch === "'") {
      const start = line;
      let w = "";
      i++;
      while (i < text.length && text[i] !== ch) {
        if (text[i] === "\\" && (text[i + 1] === '"' || text[i + 1] === "'" || text[i + 1] === "\\")) {
          w += text[i + 1];
          i += 2;
        } else {
          if (text[i] === "\n") line++;
          w += text[i];
          i++;
        }
      }
      if (i >= text.length) throw new Error(`unterminated quote at line ${start}`);
      i++;
      out.push({ word: w, special: false, line: start });
    } else {
      let w = "";
      while (i < text.length && !/[\s;{}"']/.test(text[i]!)) {
        if (text[i] === "\\" && (text[i + 1] === '"' || text[i + 1] === "'" || text[i + 1] === "\\")) {
          w += text[i + 1];
          i += 2;
        } else {
          w += text[i];
          i++;
        }
      }
      out.push({ word: w, special: false, line });
    }
  }
  return out;
}

/** Parses a whole file; throws on unbalanced braces or a statement without `;`. */
export function parseNginx(text: string): Stmt[] {
  const tokens = tokenize(text);
  let pos = 0;
  function parseList(depth: number): Stmt[] {
    const list: Stmt[] = [];
    let words: Array<{ word: string; line: number }> = [];
    while (pos < tokens.length) {
      const t = tokens[pos++]!;
      if (t.special && t.word === ";") {
        if (words.length === 0) throw new Error(`empty statement at line ${t.line}`);
        list.push({ name: words[0]!.word, args: words.slice(1).map((w) => w.word), line: words[0]!.line });
        words = [];
      } else if (t.special && t.word === "{") {
        if (words.length === 0) throw new Error(`block without name at line ${t.line}`);
        const children = parseList(depth + 1);
        list.push({ name: words[0]!.word, args: words.slice(1).map((w) => w.word), children, line: words[0]!.line });
        words = [];
      } else if (t.special && t.word === "}") {
        if (depth === 0) throw new Error(`unexpected } at line ${t.line}`);
        if (words.length > 0) throw new Error(`statement without ; at line ${t.line}`);
        return list;
      } else {
        words.push({ word: t.word, line: t.line });
      }
    }
    if (depth > 0) throw new Error("unexpected end of file inside a block");
    if (words.length > 0) throw new Error("statement without ; at end of file");
    return list;
  }
  return parseList(0);
}

/** Direct children named `name`. */
export function children(stmts: readonly Stmt[], name: string): Stmt[] {
  return stmts.filter((s) => s.name === name);
}

/** The one direct child named `name` (throws when there is not exactly one). */
export function only(stmts: readonly Stmt[], name: string, ...args: string[]): Stmt {
  const found = stmts.filter((s) => s.name === name && args.every((a, i) => s.args[i] === a));
  if (found.length !== 1) throw new Error(`expected one "${[name, ...args].join(" ")}", found ${found.length}`);
  return found[0]!;
}

/** Every statement in the tree with the names of its enclosing blocks. */
export function flatten(stmts: readonly Stmt[], parents: string[] = []): Array<{ stmt: Stmt; parents: string[] }> {
  const out: Array<{ stmt: Stmt; parents: string[] }> = [];
  for (const s of stmts) {
    out.push({ stmt: s, parents });
    if (s.children) out.push(...flatten(s.children, [...parents, s.name]));
  }
  return out;
}

/** The `server` block of a list whose `listen` names `port` (as `port` or `addr:port`). */
export function serverOn(stmts: readonly Stmt[], port: number): Stmt {
  const found = stmts.filter(
    (s) =>
      s.name === "server" &&
      s.children?.some((c) => c.name === "listen" && (c.args[0] === String(port) || c.args[0]!.endsWith(`:${port}`))),
  );
  if (found.length !== 1) throw new Error(`expected one server on ${port}, found ${found.length}`);
  return found[0]!;
}
