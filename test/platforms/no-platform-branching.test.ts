import "cdktf/lib/testing/adapters/jest";
/**
 * "No `if (platform === …)` anywhere else" (DESIGN.md): outside lib/platforms/ (and the generated
 * bindings) no code may branch on which platform it talks to. It reads `capabilities` instead.
 * This scans every source file under lib/ for the ways such a branch is written and lists each
 * place it finds.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(__dirname, "..", "..");
const LIB = join(ROOT, "lib");
/** Where platform knowledge belongs (and generated code). */
const EXEMPT = ["lib/platforms/", "lib/gen/"];
/** The one file that may name platform modules: the public API re-exports them. */
const REEXPORTS = "lib/index.ts";

const NAMES = "aws|hcloud|hetzner|libvirt|kvm|vsphere|vmware|docker";
const PASCAL = "Aws|Hcloud|Hetzner|Libvirt|Kvm|Vsphere|VSphere|Vmware|VMware|Docker";
const QUOTED = `["'\`](?:${NAMES})["'\`]`;

/** What a platform branch looks like, with a name for the report. */
export const BRANCH_PATTERNS: ReadonlyArray<{ readonly what: string; readonly re: RegExp }> = [
  {
    what: "comparison with a platform name",
    re: new RegExp(`(?:===?|!==?)\\s*${QUOTED}|${QUOTED}\\s*(?:===?|!==?)`, "i"),
  },
  { what: "switch case on a platform name", re: new RegExp(`\\bcase\\s+${QUOTED}\\s*:`, "i") },
  {
    what: "platform name list tested with includes/indexOf",
    re: new RegExp(`\\[[^\\]]*${QUOTED}[^\\]]*\\]\\s*\\.(?:includes|indexOf)\\(`, "i"),
  },
  {
    what: "membership test of a platform name",
    re: new RegExp(`\\.(?:includes|has|indexOf)\\(\\s*${QUOTED}\\s*\\)`, "i"),
  },
  { what: "instanceof a platform class", re: new RegExp(`\\binstanceof\\s+(?:${PASCAL})\\w*`) },
  {
    what: "platform-specific provider resource type",
    re: /\b(?:aws|hcloud|libvirt|vsphere|docker)_[a-z_]+\b(?=["'`])/,
  },
];

/** Imports of a platform implementation (which would make such branches possible). */
const PLATFORM_IMPORT = new RegExp(
  `(?:from\\s+|require\\(\\s*|import\\s*\\(\\s*)["'\`][^"'\`]*platforms/(?:${NAMES})(?:/[^"'\`]*)?["'\`]`,
  "i",
);

/** Source lines without comments (whole-line `//`, `/* … *\/`, JSDoc lines, trailing `// …`). */
function codeLines(text: string): Array<{ line: number; code: string }> {
  const out: Array<{ line: number; code: string }> = [];
  let inBlock = false;
  text.split("\n").forEach((raw, i) => {
    let code = raw;
    if (inBlock) {
      const end = code.indexOf("*/");
      if (end < 0) return;
      code = code.slice(end + 2);
      inBlock = false;
    }
    code = code.replace(/\/\*.*?\*\//g, "");
    const open = code.indexOf("/*");
    if (open >= 0) {
      inBlock = true;
      code = code.slice(0, open);
    }
    const trimmed = code.trim();
    // Whole-line comments, and JSDoc continuation lines (` * …`).
    if (trimmed === "" || trimmed.startsWith("//") || /^\*(\s|\/|$)/.test(trimmed)) return;
    out.push({ line: i + 1, code: code.replace(/\s\/\/\s.*$/, "") });
  });
  return out;
}

/** Every place in `text` that branches on a platform (file name used in the report). */
export function findPlatformBranches(file: string, text: string): string[] {
  const found: string[] = [];
  for (const { line, code } of codeLines(text)) {
    for (const p of BRANCH_PATTERNS) {
      if (p.re.test(code)) found.push(`${file}:${line}: ${p.what}: ${code.trim()}`);
    }
    if (file !== REEXPORTS && PLATFORM_IMPORT.test(code)) {
      found.push(`${file}:${line}: import of a platform implementation: ${code.trim()}`);
    }
  }
  return found;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

describe("no platform-specific branching outside lib/platforms/", () => {
  const files = sources(LIB)
    .map((f) => relative(ROOT, f).split("\\").join("/"))
    .filter((f) => !EXEMPT.some((e) => f.startsWith(e)));

  test("lib/ outside lib/platforms/ and lib/gen/ has source files to scan", () => {
    expect(files.length).toBeGreaterThan(30);
    expect(files).toContain("lib/cluster/cluster.ts");
  });

  test("none of them names a platform in a condition, a switch, an instanceof or an import", () => {
    const found = files.flatMap((f) => findPlatformBranches(f, readFileSync(join(ROOT, f), "utf8")));
    expect(found).toEqual([]);
  });

  test("the scanner finds each way of branching (and ignores comments and capability reads)", () => {
    const bad = [
      'if (platform.name === "aws") x();',
      "if ('hcloud' !== this.platform.name) return;",
      "const y = name == `libvirt` ? 1 : 2;",
      '  case "vsphere":',
      'if (["aws", "docker"].includes(p.name)) {}',
      'if (names.has("libvirt")) {}',
      "if (deployment instanceof AwsDeployment) {}",
      "const ok = p instanceof VspherePlatform;",
      'import { HcloudPlatform } from "../platforms/hcloud";',
      'const t = json.resource["aws_instance"];',
    ];
    bad.forEach((code) => expect(findPlatformBranches("lib/x.ts", code)).toHaveLength(1));
    const fine = [
      '// never write: if (platform === "aws")',
      '/* case "hcloud": */',
      " * `instanceof AwsPlatform` is not how to ask",
      "if (caps.firewall.filtersPrivateNetwork) {}",
      "const name = platform.name; // for messages only",
      "Annotations.of(this).addWarning(`${this.platform.name} has no cloud load balancer.`);",
      'import { Password } from "@cdktf/provider-random/lib/password";',
    ];
    fine.forEach((code) => expect(findPlatformBranches("lib/x.ts", code)).toEqual([]));
    expect(findPlatformBranches(REEXPORTS, 'export * from "./platforms/aws";')).toEqual([]);
    expect(findPlatformBranches("lib/x.ts", 'export * from "./platforms/aws";')).toHaveLength(1);
  });
});
