/**
 * docs/errors.md documents every validation code the topology emits, and nothing it does not.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = join(__dirname, "../..");
const doc = readFileSync(join(root, "docs/errors.md"), "utf8");

/** Codes in source as quoted literals ("GRX010"), i.e. codes that are raised, not mentioned in comments. */
function raisedCodes(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const f of readdirSync(join(root, dir)).filter((f) => f.endsWith(".ts"))) {
    const src = readFileSync(join(root, dir, f), "utf8");
    for (const m of src.matchAll(/["'`](GRX\d{3})["'`]/g)) found.set(m[1]!, `${dir}/${f}`);
  }
  return found;
}

/** Table rows of the doc: `| GRXnnn | path · field | triggered by | fix |`. */
const rows = new Map<string, string[]>();
for (const line of doc.split("\n")) {
  const m = /^\|\s*(GRX\d{3})\s*\|(.*)\|\s*$/.exec(line);
  if (m)
    rows.set(
      m[1]!,
      m[2]!.split(" | ").map((c) => c.trim()),
    );
}
const rowCount = doc.split("\n").filter((l) => /^\|\s*GRX\d{3}\s*\|/.test(l)).length;

const topology = raisedCodes("lib/topology");
const buildSource = readFileSync(join(root, "lib/topology/build.ts"), "utf8");

describe("docs/errors.md", () => {
  it("build.ts raises the codes GRX001–GRX042", () => {
    const inBuild = new Set(buildSource.match(/GRX\d{3}/g));
    for (let i = 1; i <= 42; i++) expect(inBuild).toContain(`GRX${String(i).padStart(3, "0")}`);
  });

  it("documents every code build.ts contains", () => {
    const missing = [...new Set(buildSource.match(/GRX\d{3}/g))].filter((c) => !rows.has(c));
    expect(missing).toEqual([]);
  });

  it("documents every code raised in lib/topology", () => {
    const missing = [...topology.entries()].filter(([c]) => !rows.has(c)).map(([c, f]) => `${c} (${f})`);
    expect(missing).toEqual([]);
  });

  it("documents no topology code that lib/topology does not raise", () => {
    const stale = [...rows.keys()].filter((c) => Number(c.slice(3)) < 100 && !topology.has(c));
    expect(stale).toEqual([]);
  });

  it("has one row per code, in order (a continuation's codes right after its block's)", () => {
    expect(rowCount).toBe(rows.size);
    const codes = [...rows.keys()];
    // GRX500–GRX579 continue full blocks (errors.ts): GRX500 sorts after GRX219, GRX560 after GRX449.
    const continues: [number, number][] = [
      [500, 219],
      [520, 289],
      [540, 299],
      [560, 449],
    ];
    const key = (code: string): number => {
      const n = Number(code.slice(3));
      const c = continues.find(([start]) => n >= start && n < start + 20);
      return c ? c[1] + (n - c[0] + 1) / 100 : n;
    };
    expect(codes).toEqual([...codes].sort((a, b) => key(a) - key(b)));
  });

  it.each([...rows.entries()])("%s names the path and field, the trigger and the fix", (_, cells) => {
    expect(cells).toHaveLength(3);
    for (const cell of cells) expect(cell.length).toBeGreaterThan(5);
  });

  it("states the code ranges of errors.ts", () => {
    const errorsTs = readFileSync(join(root, "lib/topology/errors.ts"), "utf8");
    const ranges = [...errorsTs.matchAll(/(GRX\d{3})–(GRX\d{3})/g)].map((m) => `${m[1]}–${m[2]}`);
    expect(ranges.length).toBeGreaterThanOrEqual(5);
    for (const r of ranges) expect(doc).toMatch(new RegExp(`^\\|\\s*${r}\\s*\\|`, "m"));
  });

  it("every code raised anywhere in lib/ has a table row in docs/ (errors.md or the page it points to)", () => {
    const docs = readdirSync(join(root, "docs"))
      .filter((f) => f.endsWith(".md"))
      .map((f) => readFileSync(join(root, "docs", f), "utf8"))
      .join("\n");
    const documented = new Set([...docs.matchAll(/^\|\s*(GRX\d{3})\s*\|/gm)].map((m) => m[1]!));
    const raisedAnywhere = new Map<string, string>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
        const rel = `${dir}/${entry.name}`;
        if (entry.isDirectory()) walk(rel);
        else if (entry.name.endsWith(".ts")) {
          const src = readFileSync(join(root, rel), "utf8");
          for (const m of src.matchAll(/["'`](GRX\d{3})["'`]/g)) raisedAnywhere.set(m[1]!, rel);
        }
      }
    };
    walk("lib");
    const missing = [...raisedAnywhere].filter(([c]) => !documented.has(c)).map(([c, f]) => `${c} (${f})`);
    expect(missing).toEqual([]);
  });

  it("documents each code in its layer's range", () => {
    for (const [code, file] of topology) {
      expect(`${code} ${file}`).toMatch(/^GRX0\d\d /);
    }
  });
});
