/**
 * A typed tree of nginx configuration (directives, blocks, comments) and the ONE serializer that
 * turns it into text. Renderers build trees; nothing concatenates configuration strings.
 *
 * Quoting follows nginx's tokenizer (`ngx_conf_read_token`): a word is cut at blanks, `;`, `{`
 * and `}`, a quote starts a quoted string, `#` at the start of a word starts a comment, and a
 * backslash escapes `"`, `'` and `\` in every word. Arguments that need it are written in double
 * quotes with `"` and `\` escaped, so every argument reaches nginx exactly as given (regular
 * expressions included). `$variables` stay variables inside quotes, as in nginx.
 */

/** `name arg…;` */
export interface NginxDirective {
  readonly kind: "directive";
  readonly name: string;
  readonly args: readonly string[];
  /** Comment lines written above the directive. */
  readonly comment?: readonly string[];
}

/** `name arg… { children }` */
export interface NginxBlock {
  readonly kind: "block";
  readonly name: string;
  readonly args: readonly string[];
  readonly children: readonly NginxNode[];
  /** Comment lines written above the block. */
  readonly comment?: readonly string[];
}

/** A comment on lines of its own. */
export interface NginxComment {
  readonly kind: "comment";
  readonly lines: readonly string[];
}

/**
 * A line of a block whose lines are data, not directives (`map`, `types`): every word is quoted
 * as needed, the first included (e.g. the empty key `""` of a map).
 */
export interface NginxEntry {
  readonly kind: "entry";
  readonly words: readonly string[];
}

/** An empty line (only between siblings; never at the start or end of a block). */
export interface NginxBlank {
  readonly kind: "blank";
}

export type NginxNode = NginxDirective | NginxBlock | NginxComment | NginxEntry | NginxBlank;

/** A directive. */
export function directive(name: string, ...args: Array<string | number>): NginxDirective {
  return { kind: "directive", name, args: args.map(String) };
}

/** A block. */
export function block(name: string, args: ReadonlyArray<string | number>, children: readonly NginxNode[]): NginxBlock {
  return { kind: "block", name, args: args.map(String), children };
}

/** A data line of a `map` or `types` block. */
export function entry(...words: string[]): NginxEntry {
  return { kind: "entry", words };
}

/** A comment. */
export function comment(...lines: string[]): NginxComment {
  return { kind: "comment", lines };
}

/** An empty separator line. */
export const BLANK: NginxBlank = { kind: "blank" };

/** Returns `node` with comment lines above it. */
export function withComment<T extends NginxDirective | NginxBlock>(node: T, ...lines: string[]): T {
  return { ...node, comment: [...(node.comment ?? []), ...lines] };
}

const NAME = /^[a-z_][a-z0-9_]*$/;

/** True when nginx would read `arg` back unchanged without quotes. */
function isBareWord(arg: string): boolean {
  return arg.length > 0 && !/[\s;{}"'\\]/.test(arg) && !arg.startsWith("#");
}

/** `arg` as one nginx word: bare when safe, else double-quoted with `"` and `\` escaped. */
export function quoteArg(arg: string): string {
  if (/[\0\r\n]/.test(arg)) throw new Error(`nginx argument contains a line break or NUL: ${JSON.stringify(arg)}`);
  if (isBareWord(arg)) return arg;
  return `"${arg.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function commentLines(lines: readonly string[] | undefined, indent: string): string[] {
  return (lines ?? []).map((l) => {
    if (/[\r\n]/.test(l)) throw new Error(`comment contains a line break: ${JSON.stringify(l)}`);
    return l.length > 0 ? `${indent}# ${l}` : `${indent}#`;
  });
}

function serializeNodes(nodes: readonly NginxNode[], depth: number, out: string[]): void {
  const indent = "    ".repeat(depth);
  // Drop blanks at the edges and doubled blanks: the layout stays tidy whatever the renderer built.
  const trimmed = nodes.filter(
    (n, i) => n.kind !== "blank" || (i > 0 && i < nodes.length - 1 && nodes[i - 1]!.kind !== "blank"),
  );
  for (const n of trimmed) {
    switch (n.kind) {
      case "blank":
        out.push("");
        break;
      case "comment":
        out.push(...commentLines(n.lines, indent));
        break;
      case "entry":
        if (n.words.length === 0) throw new Error("empty nginx entry");
        out.push(`${indent}${n.words.map(quoteArg).join(" ")};`);
        break;
      case "directive":
      case "block": {
        if (!NAME.test(n.name)) throw new Error(`not an nginx directive name: ${JSON.stringify(n.name)}`);
        out.push(...commentLines(n.comment, indent));
        const head = [n.name, ...n.args.map(quoteArg)].join(" ");
        if (n.kind === "directive") {
          out.push(`${indent}${head};`);
        } else {
          out.push(`${indent}${head} {`);
          serializeNodes(n.children, depth + 1, out);
          out.push(`${indent}}`);
        }
        break;
      }
    }
  }
}

/** The text of a configuration file: 4-space indentation, one directive per line, final newline. */
export function serializeNginx(nodes: readonly NginxNode[]): string {
  const out: string[] = [];
  serializeNodes(nodes, 0, out);
  return out.join("\n") + "\n";
}
