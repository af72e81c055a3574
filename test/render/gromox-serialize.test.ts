/**
 * The one key=value serializer and the list-file serializer: what they write and what they refuse.
 */
import { renderColumns, renderKeyValue } from "../../lib/render/gromox";

describe("renderKeyValue", () => {
  test("sorted key=value lines after the header comment, newline at the end", () => {
    expect(
      renderKeyValue(
        [
          { key: "b_key", value: "::1 ::ffff:10.0.0.1" },
          { key: "a_key", value: "x" },
        ],
        "head",
      ),
    ).toBe("# head\na_key=x\nb_key=::1 ::ffff:10.0.0.1\n");
    expect(renderKeyValue([{ key: "k", value: "" }])).toBe("k=\n");
  });

  test.each([
    [{ key: "Host_ID", value: "x" }, /lower case/],
    [{ key: "host id", value: "x" }, /lower case/],
    [{ key: "k", value: "a\nb" }, /single line/],
    [{ key: "k", value: "a\rb" }, /single line/],
    [{ key: "k", value: "a\0b" }, /single line/],
    [{ key: "k", value: " a" }, /whitespace/],
    [{ key: "k", value: "a " }, /whitespace/],
    [{ key: "k", value: "a\t" }, /whitespace/],
    [{ key: "k", value: "\va" }, /whitespace/],
    [{ key: "k", value: "a\f" }, /whitespace/],
  ])("refuses %o", (directive, message) => {
    expect(() => renderKeyValue([directive])).toThrow(message);
  });

  // gromox reads everything after "=" literally (lib/rfbl.cpp config_file_init; docs/config-values.md)
  test.each([
    ["abc #1", "k=abc #1\n"],
    ['"quoted"', 'k="quoted"\n'],
    ["'x", "k='x\n"],
    ["a=b", "k=a=b\n"],
    ["#first", "k=#first\n"],
    ["back\\slash $HOME", "k=back\\slash $HOME\n"],
    ["a\u00a0", "k=a\u00a0\n"], // NBSP is no C isspace() byte in UTF-8: kept
  ])("writes %j as it is", (value, line) => {
    expect(renderKeyValue([{ key: "k", value }])).toBe(line);
  });

  test("refuses a key given twice", () => {
    expect(() =>
      renderKeyValue([
        { key: "k", value: "1" },
        { key: "k", value: "2" },
      ]),
    ).toThrow(/twice/);
  });

  test("a '#' inside a value (e.g. a password) is kept verbatim", () => {
    expect(renderKeyValue([{ key: "mysql_password", value: "a#b" }])).toBe("mysql_password=a#b\n");
  });
});

describe("renderColumns", () => {
  test("one space between columns, rows in the given order", () => {
    expect(
      renderColumns([
        ["/b/", "::1", "1"],
        ["/a/", "::1", "2"],
      ]),
    ).toBe("/b/ ::1 1\n/a/ ::1 2\n");
  });
  test("refuses empty columns and columns with whitespace", () => {
    expect(() => renderColumns([["/a/", ""]])).toThrow(/empty or holds whitespace/);
    expect(() => renderColumns([["/a b/", "::1"]])).toThrow(/empty or holds whitespace/);
  });
});
