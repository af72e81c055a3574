/**
 * The one serializer for gromox configuration files (reference/gromox.md §1):
 * `key=value` files (`*.cfg`) and whitespace-column list files (`midb_list.txt`, `exmdb_list.txt`).
 *
 * gromox reads one `key=value` per line, `#` comments only at the start of a line, and takes
 * everything after the first `=` literally: no quoting, no escapes, and a trailing `# comment`
 * would become part of the value. So values are written bare and checked, never escaped.
 */

/** One `key=value` line. */
export interface Directive {
  /** Lower-case directive name (gromox compares case-insensitively; we write one spelling). */
  readonly key: string;
  /** The value, written verbatim after `=`. */
  readonly value: string;
}

const KEY = /^[a-z][a-z0-9_]*$/;

/** Throws when a directive cannot be written as one unambiguous gromox line. */
export function checkDirective(d: Directive): void {
  if (!KEY.test(d.key)) {
    throw new Error(`gromox directive name "${d.key}" must be lower case letters, digits and _`);
  }
  if (/[\r\n\0]/.test(d.value)) {
    throw new Error(`gromox directive ${d.key}: the value must be a single line`);
  }
  if (d.value !== d.value.trim()) {
    throw new Error(`gromox directive ${d.key}: leading or trailing whitespace in the value`);
  }
  if (/\s#/.test(d.value)) {
    throw new Error(`gromox directive ${d.key}: " #" would read as a comment but is taken as part of the value`);
  }
  if (/^["']/.test(d.value)) {
    throw new Error(`gromox directive ${d.key}: gromox does not strip quotes`);
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
