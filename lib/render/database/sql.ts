/**
 * SQL text helpers: string literals, identifiers and accounts, escaped for MariaDB/MySQL. Every
 * script that uses `sqlString` starts with `SQL_MODE_PREAMBLE`, which guarantees that a backslash
 * is an escape character in that session whatever the server's sql_mode says.
 */

/** First statement of every rendered script: backslash escapes on (NO_BACKSLASH_ESCAPES off). */
export const SQL_MODE_PREAMBLE = "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');";

const STRING_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "'": "''",
  "\0": "\\0",
  "\n": "\\n",
  "\r": "\\r",
  "\x1a": "\\Z",
};

/**
 * A single-quoted SQL string literal. Backslash, quote, NUL, CR, LF and Ctrl-Z are escaped, so any
 * JavaScript string round-trips (with backslash escapes enabled, see `SQL_MODE_PREAMBLE`).
 *
 * A Terraform token (`${TfToken[…]}`) holds none of these characters and passes unchanged; the
 * value Terraform substitutes later is NOT escaped, so generated secrets must not contain `'` or
 * `\` (the constructs restrict `random_password`'s special characters accordingly).
 */
export function sqlString(value: string): string {
  // Ctrl-Z (\x1a) is one of the characters MariaDB's string syntax escapes.
  // eslint-disable-next-line no-control-regex
  return `'${value.replace(/[\\'\0\n\r\x1a]/g, (ch) => STRING_ESCAPES[ch]!)}'`;
}

/** A backtick-quoted identifier (database, table or column name). */
export function sqlIdent(name: string): string {
  if (name.length === 0 || name.includes("\0")) throw new Error(`not an SQL identifier: ${JSON.stringify(name)}`);
  return `\`${name.replace(/`/g, "``")}\``;
}

/** `'user'@'host'`. */
export function sqlAccount(user: string, host: string): string {
  return `${sqlString(user)}@${sqlString(host)}`;
}

/** Renders statements as a script: header comment lines, one statement per line, final newline. */
export function sqlScript(header: readonly string[], statements: readonly string[]): string {
  return [...header.map((l) => (l === "" ? "--" : `-- ${l}`)), ...statements].join("\n") + "\n";
}
