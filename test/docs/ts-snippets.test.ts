/**
 * Every ```ts block of README.md and docs/*.md type-checks against the current API, so the
 * documentation cannot drift from it. Convention (complete programs vs `<!-- fragment -->`
 * blocks and the variables a fragment may take): test/doc-snippets.ts.
 *
 * The blocks are compiled in memory with the TypeScript compiler API: the repository's
 * tsconfig.json options (strict, noUncheckedIndexedAccess, …) except the unused-name checks,
 * "cdktf-grommunio" mapped to lib/index.ts, and one program (one host, one source-file cache) for
 * all blocks. A failure names the markdown file and line and the TypeScript diagnostic.
 */
import * as path from "node:path";
import ts from "typescript";
import { FRAGMENT_CONTEXT, REPO_ROOT, type Snippet, documentationSnippets } from "../doc-snippets";

const VIRTUAL_DIR = path.join(REPO_ROOT, ".doc-snippets");
const snippets = documentationSnippets();

interface Unit {
  readonly snippet: Snippet;
  readonly fileName: string;
  /** Lines before the snippet's first line in the compiled text. */
  readonly offset: number;
  readonly text: string;
}

function compilerOptions(): ts.CompilerOptions {
  const configPath = path.join(REPO_ROOT, "tsconfig.json");
  const { config, error } = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, "\n"));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, REPO_ROOT, undefined, configPath);
  return {
    ...parsed.options,
    noEmit: true,
    declaration: false,
    noUnusedLocals: false,
    noUnusedParameters: false,
    types: ["node"],
    moduleDetection: ts.ModuleDetectionKind.Force,
    paths: { "cdktf-grommunio": [path.join(REPO_ROOT, "lib", "index.ts")] },
  };
}

function fileNameOf(s: Snippet): string {
  return path.join(VIRTUAL_DIR, `${s.file.replace(/[/.]/g, "_")}_${s.line}.ts`);
}

/** A fragment's top-level imports (kept, moved after its body) and the names they bind. */
function splitImports(code: string): { body: string; imports: string; names: Set<string> } {
  const sf = ts.createSourceFile("fragment.ts", code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  let body = code;
  const imports: string[] = [];
  const names = new Set<string>();
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) && !ts.isImportEqualsDeclaration(st)) continue;
    const start = st.getStart(sf);
    imports.push(code.slice(start, st.end));
    // Blank the import in place (newlines kept, so lines stay where they are).
    body = body.slice(0, start) + body.slice(start, st.end).replace(/[^\n]/g, " ") + body.slice(st.end);
    if (ts.isImportEqualsDeclaration(st)) names.add(st.name.text);
    const clause = ts.isImportDeclaration(st) ? st.importClause : undefined;
    if (clause?.name) names.add(clause.name.text);
    const bindings = clause?.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) names.add(bindings.name.text);
    if (bindings && ts.isNamedImports(bindings)) for (const e of bindings.elements) names.add(e.name.text);
  }
  return { body, imports: imports.join("\n"), names };
}

function fragmentUnit(s: Snippet, libraryExports: readonly string[]): Unit {
  const context = s.fragment ?? [];
  const unknown = context.filter((n) => !Object.prototype.hasOwnProperty.call(FRAGMENT_CONTEXT, n));
  if (unknown.length > 0) {
    throw new Error(
      `${s.file}:${s.line}: the fragment marker names ${unknown.join(", ")}, which test/doc-snippets.ts ` +
        `FRAGMENT_CONTEXT does not know (known: ${Object.keys(FRAGMENT_CONTEXT).join(", ")})`,
    );
  }
  const { body, imports, names } = splitImports(s.code);
  const lib = libraryExports.filter((n) => !names.has(n));
  const cdktf = ["App", "TerraformStack"].filter((n) => !names.has(n) && !lib.includes(n));
  const prelude = [
    lib.length > 0 ? `import { ${lib.join(", ")} } from "cdktf-grommunio";` : "",
    cdktf.length > 0 ? `import { ${cdktf.join(", ")} } from "cdktf";` : "",
    ...context.map((n) => `declare const ${n}: ${FRAGMENT_CONTEXT[n]};`),
    "{",
  ].join("\n");
  const text = `${prelude}\n${body}}\n${imports}\n`;
  return { snippet: s, fileName: fileNameOf(s), offset: prelude.split("\n").length, text };
}

function completeUnit(s: Snippet): Unit {
  return { snippet: s, fileName: fileNameOf(s), offset: 0, text: s.code };
}

const PROBE = path.join(VIRTUAL_DIR, "probe.ts");

/** One host for both programs: virtual files from memory, every parsed source file cached. */
function makeHost(options: ts.CompilerOptions, files: Map<string, string>): ts.CompilerHost {
  const host = ts.createCompilerHost(options, true);
  const cache = new Map<string, ts.SourceFile>();
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.fileExists = (f) => files.has(f) || fileExists(f);
  host.readFile = (f) => files.get(f) ?? readFile(f);
  host.getSourceFile = (f, lang, onError, create) => {
    const virtual = files.get(f);
    if (virtual !== undefined) return ts.createSourceFile(f, virtual, lang, true);
    let sf = cache.get(f);
    if (!sf) {
      sf = getSourceFile(f, lang, onError, create);
      if (sf) cache.set(f, sf);
    }
    return sf;
  };
  return host;
}

function describeDiagnostic(u: Unit, d: ts.Diagnostic): string {
  const message = ts.flattenDiagnosticMessageText(d.messageText, "\n  ");
  if (!d.file || d.start === undefined) return `${u.snippet.file}:${u.snippet.line}: TS${d.code}: ${message}`;
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  const inSnippet = line - u.offset;
  const lines = u.snippet.code.split("\n").length - 1;
  const where =
    d.file.fileName === u.fileName && inSnippet >= 0 && inSnippet < lines
      ? `${u.snippet.file}:${u.snippet.line + 1 + inSnippet}:${character + 1}`
      : `${u.snippet.file}:${u.snippet.line} (in ${path.relative(REPO_ROOT, d.file.fileName)}:${line + 1})`;
  return `${where}: TS${d.code}: ${message}`;
}

describe("TypeScript blocks of README.md and docs/*.md", () => {
  let program: ts.Program;
  const units = new Map<Snippet, Unit>();

  beforeAll(() => {
    const options = compilerOptions();
    const files = new Map<string, string>();
    const complete = snippets.filter((s) => s.fragment === undefined).map(completeUnit);
    for (const u of complete) files.set(u.fileName, u.text);
    files.set(PROBE, 'export * as probe from "cdktf-grommunio";\n');
    const host = makeHost(options, files);
    // First program: the complete blocks and a probe whose checker lists the library's exports.
    const first = ts.createProgram({ rootNames: [...files.keys()], options, host });
    const probe = first.getSourceFile(PROBE)!;
    const decl = probe.statements[0] as ts.ExportDeclaration;
    const moduleSymbol = first.getTypeChecker().getSymbolAtLocation(decl.moduleSpecifier!);
    if (!moduleSymbol) throw new Error(`cdktf-grommunio does not resolve to lib/index.ts`);
    const libraryExports = first
      .getTypeChecker()
      .getExportsOfModule(moduleSymbol)
      .map((e) => e.name)
      .sort();
    // Second program, reusing the first's source files: the fragments with their prelude.
    const fragments = snippets.filter((s) => s.fragment !== undefined).map((s) => fragmentUnit(s, libraryExports));
    for (const u of fragments) files.set(u.fileName, u.text);
    files.delete(PROBE);
    program = ts.createProgram({ rootNames: [...files.keys()], options, host, oldProgram: first });
    for (const u of [...complete, ...fragments]) units.set(u.snippet, u);
    expect(program.getOptionsDiagnostics().map((d) => ts.flattenDiagnosticMessageText(d.messageText, " "))).toEqual([]);
  });

  test("the documentation has TypeScript blocks and the README's is a complete program", () => {
    expect(snippets.length).toBeGreaterThanOrEqual(8);
    const readme = snippets.filter((s) => s.file === "README.md");
    expect(readme).toHaveLength(1);
    expect(readme[0]!.fragment).toBeUndefined();
  });

  test.each(snippets.map((s) => [`${s.file}:${s.line}${s.fragment ? " (fragment)" : ""}`, s] as const))(
    "%s type-checks",
    (_name, s) => {
      const u = units.get(s)!;
      const sf = program.getSourceFile(u.fileName)!;
      const diagnostics = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
      const report = diagnostics.map((d) => describeDiagnostic(u, d));
      if (report.length > 0) {
        throw new Error(`The ts block at ${s.file}:${s.line} does not compile:\n${report.join("\n")}`);
      }
    },
  );
});
