/**
 * The one serializer for gromox configuration files (reference/gromox.md §1):
 * `key=value` files (`*.cfg`) and whitespace-column list files (`midb_list.txt`, `exmdb_list.txt`).
 *
 * How gromox 2.30–3.10 reads a `.cfg` line (grommunio/gromox lib/rfbl.cpp `config_file_init`,
 * docs/config-values.md): a line whose first byte is `#` is a comment; CR/LF and trailing blanks
 * are stripped; the key runs to the first blank or `=`; blanks after `=` are skipped; the rest is
 * the value, as written. So `#` elsewhere, quotes, backslashes and further `=` are part of the
 * value (no comments after a value, no quoting, no escapes), and values are written bare, never
 * escaped. What cannot be written: a line break or NUL, and a blank at either end (dropped).
 */
import { readersTrimValue } from "../../topology";

/** One `key=value` line. */
export interface Directive {
  /** Lower-case directive name (gromox compares case-insensitively; we write one spelling). */
  readonly key: string;
  /** The value, written verbatim after `=`. */
  readonly value: string;
}

const KEY = /^[a-z][a-z0-9_]*$/;

/**
 * Throws when a directive cannot be written as one gromox line that reads back as its value: a
 * key that is not lower-case letters, digits and `_`, a value with a line break or NUL, or a value
 * with a blank at either end (gromox would drop it). `#`, quotes, `\` and `=` are written as they
 * are: gromox reads them literally.
 */
export function checkDirective(d: Directive): void {
  if (!KEY.test(d.key)) {
    throw new Error(`gromox directive name "${d.key}" must be lower case letters, digits and _`);
  }
  if (/[\r\n\0]/.test(d.value)) {
    throw new Error(`gromox directive ${d.key}: the value must be a single line`);
  }
  if (readersTrimValue(d.value)) {
    throw new Error(`gromox directive ${d.key}: leading or trailing whitespace in the value (gromox drops it)`);
  }
}

/**
 * Renders a `key=value` file: an optional header comment, then the directives sorted by key.
 * Throws on invalid or duplicate keys (a duplicate would silently override the first one).
 */
export function renderKeyValue(directives: readonly Directive[], header?: string): string {
  const seen = new Set<string>();
  for (const d of directives) {
    checkDirective(d);
    if (seen.has(d.key)) throw new Error(`gromox directive ${d.key} given twice`);
    seen.add(d.key);
  }
  const lines = [...directives].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const head = header === undefined ? [] : header.split("\n").map((l) => `# ${l}`.trimEnd());
  return [...head, ...lines.map((d) => `${d.key}=${d.value}`)].join("\n") + "\n";
}

/**
 * Renders a gromox list file (one record per line, columns separated by one space), in the
 * order given: list files are order-sensitive (first match wins).
 */
export function renderColumns(rows: readonly (readonly string[])[]): string {
  for (const row of rows) {
    for (const col of row) {
      if (col.length === 0 || /\s/.test(col)) {
        throw new Error(`list file column ${JSON.stringify(col)} is empty or holds whitespace`);
      }
    }
  }
  return rows.map((r) => r.join(" ")).join("\n") + "\n";
}
