/**
 * Serializers for values embedded in rendered ops files: MariaDB option-file values (the shell
 * programs' own values are quoted with `shQuote`, ./bash/common.ts). Pure.
 */
import { OPTION_FILE_LINE_MAX_BYTES } from "../../topology";

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

/**
 * A MariaDB client option file: header comment lines, the connection options under `[client]`
 * (read by every client program: mariadb, mariadb-admin, mariadb-dump, …), and options only the
 * `mariadb` program knows under `[mysql]` (`database`: mariadb-admin and mariadb-dump refuse an
 * unknown variable in `[client]`). Values via `cnfValue`. Throws on an option line longer than
 * `OPTION_FILE_LINE_MAX_BYTES` (the reader would cut it).
 */
export function clientOptionFile(
  header: readonly string[],
  client: ReadonlyArray<readonly [string, string | number]>,
  mysql: ReadonlyArray<readonly [string, string | number]> = [],
) {
  const lines = (options: ReadonlyArray<readonly [string, string | number]>) =>
    options.map(([k, v]) => {
      const line = `${k}=${typeof v === "number" ? String(v) : cnfValue(v)}`;
      if (Buffer.byteLength(line, "utf8") > OPTION_FILE_LINE_MAX_BYTES)
        throw new Error(
          `the option-file line of ${k} is longer than the ${OPTION_FILE_LINE_MAX_BYTES} bytes MariaDB reads of a line`,
        );
      return line;
    });
  return (
    [
      ...header.map((l) => (l === "" ? "#" : `# ${l}`)),
      "[client]",
      ...lines(client),
      ...(mysql.length > 0 ? ["[mysql]", ...lines(mysql)] : []),
    ].join("\n") + "\n"
  );
}
