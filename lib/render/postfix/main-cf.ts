/**
 * postfix main.cf as typed sections of `name = value` parameters, rendered by one serializer.
 */

/** A parameter value: a single value, or a list (written comma-separated on one line). */
export type MainCfValue = string | number | readonly string[];

export interface MainCfSection {
  /** One-line comment written above the section. */
  readonly comment: string;
  readonly parameters: ReadonlyArray<readonly [string, MainCfValue]>;
}

const NAME = /^[a-z][A-Za-z0-9_]*$/;

function valueText(value: MainCfValue): string {
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : value.join(", ");
}

/**
 * Serializes main.cf: header comment, then each section (blank line, `# comment`, its
 * parameters). Throws on a bad name, a value with a line break or outer whitespace (postfix would
 * strip or misread it), or a parameter set twice (postfix warns "overriding earlier entry").
 */
export function serializeMainCf(header: readonly string[], sections: readonly MainCfSection[]): string {
  const lines = header.map((l) => (l === "" ? "#" : `# ${l}`));
  const seen = new Set<string>();
  for (const s of sections) {
    lines.push("", `# ${s.comment}`);
    for (const [name, value] of s.parameters) {
      const text = valueText(value);
      if (!NAME.test(name)) throw new Error(`main.cf: bad parameter name ${JSON.stringify(name)}`);
      if (/[\r\n\0]/.test(text) || text.trim() !== text) {
        throw new Error(`main.cf: value of ${name} spans lines or has outer whitespace`);
      }
      if (seen.has(name)) throw new Error(`main.cf: ${name} is set twice`);
      seen.add(name);
      lines.push(text === "" ? `${name} =` : `${name} = ${text}`);
    }
  }
  return lines.join("\n") + "\n";
}
