/**
 * Serializers for values embedded in rendered scripts and option files: Python literals (the
 * `CONFIG` block at the top of each ops script) and MariaDB option-file values. Pure.
 */

/** A value that can be written as a Python literal. */
export type PyValue = string | number | boolean | null | readonly PyValue[] | { readonly [key: string]: PyValue };

/**
 * A Python literal for `value`: strings as double-quoted literals with JSON escapes (a subset of
 * Python's), integers and finite floats as written, `True`/`False`/`None`, lists and dicts (keys in
 * the given order), nested values indented by four spaces. Throws on non-finite numbers.
 */
export function pyLiteral(value: PyValue, indent = 0): string {
  if (value === null) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
    return String(value);
  }
  // JSON string escapes (\" \\ \n \r \t \b \f \uXXXX) all mean the same in a Python str literal.
  if (typeof value === "string") return JSON.stringify(value);
  const pad = " ".repeat(indent + 4);
  const end = " ".repeat(indent);
  if (isList(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => `${pad}${pyLiteral(v, indent + 4)},`).join("\n")}\n${end}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return "{}";
  return `{\n${entries.map(([k, v]) => `${pad}${JSON.stringify(k)}: ${pyLiteral(v, indent + 4)},`).join("\n")}\n${end}}`;
}

function isList(value: PyValue): value is readonly PyValue[] {
  return Array.isArray(value);
}

const CNF_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  '"': '\\"',
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/**
 * A MariaDB option-file value in double quotes: backslash, double quote, LF, CR and TAB escaped
 * (the option-file reader undoes these), so `#`, `;`, `'`, `=` and blanks are kept literally.
 * Throws on NUL, which no option file can hold.
 *
 * A Terraform token (`${TfToken[…]}`) holds none of these characters and passes unchanged; the
 * value Terraform substitutes later is NOT escaped, so generated secrets must not contain `"` or
 * `\` (as for `sqlString`).
 */
export function cnfValue(value: string): string {
  if (value.includes("\0")) throw new Error("an option-file value cannot hold NUL");
  return `"${value.replace(/[\\"\n\r\t]/g, (ch) => CNF_ESCAPES[ch]!)}"`;
}

/** A `[client]` option file: header comment lines, then `key=value` lines (values via `cnfValue`). */
export function clientOptionFile(
  header: readonly string[],
  options: ReadonlyArray<readonly [string, string | number]>,
) {
  return (
    [
      ...header.map((l) => (l === "" ? "#" : `# ${l}`)),
      "[client]",
      ...options.map(([k, v]) => `${k}=${typeof v === "number" ? String(v) : cnfValue(v)}`),
    ].join("\n") + "\n"
  );
}
