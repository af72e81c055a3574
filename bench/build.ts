/**
 * Compiles lib/, examples/ and bench/ to plain CommonJS for the benchmark's child processes
 * (TypeScript's `transpileModule`, file by file, the tree mirrored under `outDir`), so children run
 * on plain `node` like a compiled app: no loader hooks in the module-load time, module by module
 * as `tsc` output would load. Packages resolve from the repository's node_modules (`outDir` lies
 * inside the repository).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

const SOURCE_DIRS = ["lib", "examples", "bench"];

function sources(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== "node_modules" && e.name !== "results" && !e.name.startsWith(".")) walk(p);
      } else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) {
        out.push(p);
      }
    }
  };
  const start = path.join(root, dir);
  if (fs.existsSync(start)) walk(start);
  return out;
}

/** Transpiles every source file; returns the number of files. */
export function buildForChildren(root: string, outDir: string): number {
  fs.rmSync(outDir, { recursive: true, force: true });
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    esModuleInterop: true,
    isolatedModules: true,
    sourceMap: false,
  };
  let n = 0;
  for (const dir of SOURCE_DIRS) {
    for (const file of sources(root, dir)) {
      const rel = path.relative(root, file);
      const out = path.join(outDir, rel.replace(/\.ts$/, ".js"));
      const { outputText } = ts.transpileModule(fs.readFileSync(file, "utf8"), {
        compilerOptions: options,
        fileName: rel,
      });
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, outputText);
      n++;
    }
  }
  return n;
}
