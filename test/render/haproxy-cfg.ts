/**
 * Test helpers for reading haproxy.cfg text: sections and their directive lines, and a check that
 * every named ACL is declared before its first use (HAProxy 2.6 refuses the config otherwise).
 */
import { aclNamesIn, PREDEFINED_ACLS } from "../../lib/render/haproxy";

/** Section header ("global", "frontend fe_http", …) → its directive lines, trimmed, comments dropped. */
export function sectionsOf(cfg: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of cfg.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (/^(global|defaults|frontend|backend|listen)\b/.test(line) && !/^\s/.test(raw)) {
      current = [];
      out.set(line, current);
      continue;
    }
    if (!current) throw new Error(`directive outside a section: ${line}`);
    current.push(line);
  }
  return out;
}

export function section(cfg: string, header: string): string[] {
  const s = sectionsOf(cfg).get(header);
  if (!s) throw new Error(`no section "${header}" in:\n${cfg}`);
  return s;
}

/** The condition text of a directive line (after ` if ` / ` unless `), or undefined. */
function conditionOf(line: string): string | undefined {
  const m = / (?:if|unless) (.*)$/.exec(line);
  return m ? m[1] : undefined;
}

/**
 * Problems "ACL used before it is declared" (or never declared) in each section, as
 * `<section>: <acl>` strings. Empty for a config HAProxy 2.6 can load in this respect.
 */
export function aclOrderProblems(cfg: string): string[] {
  const problems: string[] = [];
  for (const [header, lines] of sectionsOf(cfg)) {
    const declared = new Set<string>();
    for (const line of lines) {
      const acl = /^acl (\S+) /.exec(line);
      const cond = conditionOf(line);
      if (cond !== undefined) {
        for (const name of aclNamesIn(cond)) {
          if (!declared.has(name) && !PREDEFINED_ACLS.has(name)) problems.push(`${header}: ${name}`);
        }
      }
      if (acl) declared.add(acl[1]!);
    }
  }
  return problems;
}
