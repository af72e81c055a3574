/**
 * What `npm publish` ships works for someone who installs it into their own stack.
 *
 * 1. `npm pack --json --pack-destination <scratch>` in the checkout, exactly as publishing does
 *    (the `prepack` script removes dist/ and rebuilds it with tsconfig.build.json), then the file
 *    list: the compiled entry point with its types and every platform module, package.json,
 *    README.md and LICENSE (Apache-2.0, as package.json says), and no tests, benches, examples,
 *    scripts, schemas, TypeScript sources (only .d.ts), source maps (they would name lib/*.ts,
 *    which is not shipped) or node_modules. The extracted tarball holds exactly the files npm
 *    reported. Every relative require/import of a shipped module resolves to a shipped module,
 *    and every shipped generated binding (lib/gen) is required by one: no unused bindings.
 * 2. A consumer project in a scratch directory OUTSIDE the checkout (so nothing resolves from the
 *    repository by walking up): node_modules/cdktf-grommunio is the extracted tarball, and every
 *    package the packed package.json requires (dependencies, the peerDependencies not marked
 *    optional, plus @types/node) is a symlink to the repository's installed copy (no network): a
 *    Hetzner user's install. A package the library loads but does not declare, or loads for
 *    Hetzner although it is optional (the AWS, vSphere and Docker provider packages), is therefore
 *    missing there, and the test fails.
 * 3. The README's TypeScript block, unchanged, compiled with the TypeScript compiler API against
 *    the PACKED declarations (strict, node16 modules, skipLibCheck true as in cdktf's project
 *    template: the declarations of the uninstalled platforms refer to their packages), with no
 *    diagnostic at all, and run with node: the synthesized cdk.tf.json has one hcloud_server per
 *    node the snippet declares (mail1, mail2, classic1, the two load-balancer nodes, the database
 *    node db1) with its user-data, the data volumes, the hcloud provider, and no resource of
 *    another platform.
 * 4. With the optional peers linked too, the same block compiles with skipLibCheck false: the
 *    packed declarations are complete.
 * 5. The README's first `npm install` line names every required peer dependency; the optional
 *    ones each have an `npm install` line.
 * 6. A second consumer without @types/node (a user whose project does not use Node's types, with
 *    lib ES2022 only): the packed declarations refer to nothing of Node's (Buffer, NodeJS.*,
 *    node: modules). With only a Hetzner user's packages, the README block plus a program using
 *    the byte-valued API compile strict with skipLibCheck false, the only diagnostics being the
 *    uninstalled optional peers' modules that the root's `export type *` of those platforms names.
 *    With the optional peers linked too, a program importing every entry point of the exports map
 *    (root, /aws, /docker, /vsphere) and building a tiny Hetzner and a tiny AWS cluster compiles
 *    with no diagnostic, under node16 and under cdktf's template settings (CommonJS, ES2018).
 *
 * Leaves the rebuilt dist/ in the checkout (git- and lint-ignored, as after `npm pack`); removes
 * its scratch directory.
 *
 *   npx jest test/system/package.test.ts --selectProjects system
 */
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { REPO_ROOT, extractSnippets } from "../doc-snippets";
import { ownScratchDir, removeScratchDir } from "./scratch";
import { requireProgram, run } from "./support";

interface PackResult {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

/** npm's --json output; lifecycle scripts may print before it, so parse from the array's start. */
function parsePackJson(stdout: string): PackResult {
  const start = stdout.search(/^\[/m);
  if (start < 0) throw new Error(`npm pack printed no JSON:\n${stdout}`);
  const parsed = JSON.parse(stdout.slice(start)) as PackResult[];
  expect(parsed).toHaveLength(1);
  return parsed[0]!;
}

function listTree(root: string, rel = ""): string[] {
  return fs
    .readdirSync(path.join(root, rel), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listTree(root, path.posix.join(rel, e.name)) : [path.posix.join(rel, e.name)]));
}

interface Manifest {
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>;
}

const isOptional = (m: Manifest, name: string): boolean => m.peerDependenciesMeta?.[name]?.optional === true;
const requiredPeers = (m: Manifest): string[] => Object.keys(m.peerDependencies).filter((p) => !isOptional(m, p));
const optionalPeers = (m: Manifest): string[] => Object.keys(m.peerDependencies).filter((p) => isOptional(m, p));

/** node_modules/<name> of the consumer as a symlink to the repository's installed copy. */
function link(project: string, name: string): void {
  const target = path.join(project, "node_modules", name);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.symlinkSync(fs.realpathSync(path.join(REPO_ROOT, "node_modules", name)), target, "dir");
}

/** The package names of an `npm install` line (`@scope/name@^1` → `@scope/name`), comments dropped. */
function installedNames(line: string): string[] {
  return line
    .replace(/#.*/, "")
    .trim()
    .split(/\s+/)
    .slice(2)
    .filter((w) => !w.startsWith("-"))
    .map((w) => (w.lastIndexOf("@") > 0 ? w.slice(0, w.lastIndexOf("@")) : w));
}

const NODE16: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  lib: ["lib.es2022.d.ts"],
  module: ts.ModuleKind.Node16,
  moduleResolution: ts.ModuleResolutionKind.Node16,
};

/** cdktf's TypeScript project template (cdktf-cli templates/typescript/tsconfig.json). */
const CDKTF_TEMPLATE: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2018,
  lib: ["lib.es2018.d.ts"],
  module: ts.ModuleKind.CommonJS,
};

function compile(
  main: string | readonly string[],
  outDir: string,
  skipLibCheck: boolean,
  settings: ts.CompilerOptions = NODE16,
): { program: ts.Program; diagnostics: string[] } {
  const rootNames = typeof main === "string" ? [main] : [...main];
  const options: ts.CompilerOptions = {
    ...settings,
    strict: true,
    skipLibCheck,
    esModuleInterop: true,
    outDir,
    rootDir: path.dirname(rootNames[0]!),
  };
  // As `tsc -p` in the consumer project: automatic @types come from the project's node_modules,
  // not from the directory jest runs in (the checkout, which has @types/node and @types/jest).
  const host = ts.createCompilerHost(options);
  const projectDir = path.dirname(rootNames[0]!);
  host.getCurrentDirectory = () => projectDir;
  const program = ts.createProgram({ rootNames, options, host });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : "";
    return `${where} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
  });
  return { program, diagnostics };
}

/**
 * A consumer program for every entry point of the exports map: a tiny cluster on Hetzner (root)
 * and on AWS (`Platform.aws`, typed by `cdktf-grommunio/aws`), the other platforms' classes, and
 * the byte-valued API (Uint8Array, not Node's Buffer). Needs the optional peers.
 */
const EVERY_ENTRY_POINT = `import { App, TerraformStack } from "cdktf";
import {
  Database,
  GromoxNode,
  GrommunioCluster,
  LoadBalancerTier,
  Platform,
  ShareNothing,
  gzipDeterministic,
  quoteTxt,
  txtCharacterStrings,
} from "cdktf-grommunio";
import { AwsPlatform } from "cdktf-grommunio/aws";
import { DockerPlatform } from "cdktf-grommunio/docker";
import { VspherePlatform } from "cdktf-grommunio/vsphere";

function tinyCluster(app: App, name: string, platform: Platform): GrommunioCluster {
  const cluster = new GrommunioCluster(new TerraformStack(app, name), "mail", {
    platform,
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    storage: new ShareNothing({ volumeSizeGb: 20 }),
    database: Database.onNode({ volumeSizeGb: 10 }),
  });
  new GromoxNode(cluster, "mail1", { admin: true });
  new LoadBalancerTier(cluster, "lb", { flavor: "haproxy", nodes: 1 });
  return cluster;
}

const app = new App();
tinyCluster(app, "hetzner", Platform.hcloud({ location: "fsn1" }));
const aws: AwsPlatform = Platform.aws({ region: "eu-central-1" });
tinyCluster(app, "aws", aws);
export const classes: readonly (abstract new (...args: never[]) => unknown)[] = [AwsPlatform, DockerPlatform, VspherePlatform];
app.synth();
`;

/** The byte-valued API without the optional peers: Uint8Array and string, nothing of Node's. */
const BYTES = `import { gzipDeterministic, gzipDeterministicBase64, quoteTxt, txtCharacterStrings } from "cdktf-grommunio";

export const gz: Uint8Array = gzipDeterministic(new Uint8Array([1, 2, 3]));
export const base64: string = gzipDeterministicBase64("v=spf1 -all");
export const strings: Uint8Array[] = txtCharacterStrings("x".repeat(300));
export const txt: string = quoteTxt("v=spf1 -all");
`;

describe("the npm package", () => {
  let scratch: string;
  let pack: PackResult;
  let files: string[];
  let project: string;
  let installed: string;
  let bare: string;
  let bareInstalled: string;

  beforeAll(() => {
    const npm = requireProgram("npm", "npm (or Node.js from nodesource, which includes npm)");
    const tar = requireProgram("tar", "tar");
    scratch = ownScratchDir("package");
    expect(scratch.startsWith(REPO_ROOT + path.sep)).toBe(false);
    const packDir = path.join(scratch, "pack");
    fs.mkdirSync(packDir);
    const r = run(npm, ["pack", "--json", "--offline", "--pack-destination", packDir], {
      cwd: REPO_ROOT,
      timeoutMs: 300_000,
    });
    if (r.status !== 0) throw new Error(`npm pack failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
    pack = parsePackJson(r.stdout);
    files = pack.files.map((f) => f.path).sort();

    project = path.join(scratch, "consumer");
    installed = path.join(project, "node_modules", "cdktf-grommunio");
    fs.mkdirSync(installed, { recursive: true });
    fs.writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({ name: "consumer", version: "0.0.0", private: true }, null, 2),
    );
    const x = run(tar, ["-xzf", path.join(packDir, pack.filename), "-C", installed, "--strip-components=1"]);
    if (x.status !== 0) throw new Error(`tar failed: ${x.stderr}`);
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8"));
    const required = [...Object.keys(manifest.dependencies ?? {}), ...requiredPeers(manifest), "@types/node"];
    for (const name of required) link(project, name);

    // The same tarball, a Hetzner user's packages without @types/node.
    bare = path.join(scratch, "bare");
    bareInstalled = path.join(bare, "node_modules", "cdktf-grommunio");
    fs.mkdirSync(bareInstalled, { recursive: true });
    fs.writeFileSync(
      path.join(bare, "package.json"),
      JSON.stringify({ name: "bare", version: "0.0.0", private: true }, null, 2),
    );
    const y = run(tar, ["-xzf", path.join(packDir, pack.filename), "-C", bareInstalled, "--strip-components=1"]);
    if (y.status !== 0) throw new Error(`tar failed: ${y.stderr}`);
    for (const name of required.filter((n) => n !== "@types/node")) link(bare, name);
  }, 300_000);

  afterAll(() => {
    if (scratch) removeScratchDir(scratch);
  });

  test("ships the compiled library with its types, README.md, LICENSE and package.json, and nothing else", () => {
    for (const required of [
      "package.json",
      "README.md",
      "LICENSE",
      "dist/lib/index.js",
      "dist/lib/index.d.ts",
      ...["aws", "hcloud", "libvirt", "vsphere", "docker", "vm"].flatMap((p) => [
        `dist/lib/platforms/${p}/index.js`,
        `dist/lib/platforms/${p}/index.d.ts`,
      ]),
      "dist/lib/cluster/index.js",
      "dist/lib/gen/providers/hcloud/server/index.js",
      "dist/lib/gen/providers/libvirt/domain/index.js",
    ]) {
      expect(files).toContain(required);
    }
    const unexpected = files.filter(
      (f) =>
        !(["package.json", "README.md", "LICENSE"].includes(f) || f.startsWith("dist/lib/")) ||
        /(^|\/)(test|bench|examples|scripts|schemas|node_modules)\//.test(f) ||
        (f.endsWith(".ts") && !f.endsWith(".d.ts")) ||
        f.endsWith(".map"), // source maps would point at lib/*.ts, which is not shipped
    );
    expect(unexpected).toEqual([]);
    // Every compiled module has its declarations (a user's import finds types for all of it).
    const js = files.filter((f) => f.endsWith(".js"));
    expect(js.filter((f) => !files.includes(f.replace(/\.js$/, ".d.ts")))).toEqual([]);
    // The tarball holds what npm reported.
    expect(listTree(installed).sort()).toEqual(files);
    // Every relative require or import of a shipped module names a shipped module; the generated
    // bindings shipped are exactly those the library requires (tsconfig.build.json compiles
    // lib/gen only as far as it is imported; the unused resources of the schemas stay out).
    const required = new Set<string>();
    for (const f of files.filter((f) => f.endsWith(".js") || f.endsWith(".d.ts"))) {
      const text = fs.readFileSync(path.join(installed, f), "utf8");
      for (const m of text.matchAll(/(?:require\(|from |import\()["'](\.{1,2}\/[^"']*)["']/g)) {
        const target = path.posix.join(path.posix.dirname(f), m[1]!);
        const ext = f.endsWith(".d.ts") ? ".d.ts" : ".js";
        const found = [target + ext, `${target}/index${ext}`].find((c) => files.includes(c));
        expect({ from: f, spec: m[1], found: found !== undefined }).toEqual({ from: f, spec: m[1], found: true });
        if (found && ext === ".js") required.add(found);
      }
    }
    const gen = files.filter((f) => f.startsWith("dist/lib/gen/") && f.endsWith(".js"));
    expect(gen.filter((f) => !required.has(f))).toEqual([]);
  });

  test("the shipped README's install lines name every required peer, and each optional one", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8")) as Manifest;
    const readme = fs.readFileSync(path.join(installed, "README.md"), "utf8");
    const lines = readme.split("\n").filter((l) => l.startsWith("npm install "));
    const first = lines.find((l) => l.startsWith("npm install cdktf-grommunio "));
    expect(first).toBeDefined();
    const named = new Set(installedNames(first!));
    expect(requiredPeers(manifest).filter((p) => !named.has(p))).toEqual([]);
    expect(optionalPeers(manifest).sort()).toEqual([
      "@cdktf/provider-aws",
      "@cdktf/provider-docker",
      "@cdktf/provider-vsphere",
    ]);
    const anywhere = new Set(lines.flatMap(installedNames));
    expect(optionalPeers(manifest).filter((p) => !anywhere.has(p))).toEqual([]);
  });

  test("the README's TypeScript block compiles against the packed types without the optional peers (strict) and synthesizes the Hetzner stack", () => {
    const readme = extractSnippets("README.md", fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8"));
    expect(readme).toHaveLength(1);
    const main = path.join(project, "main.ts");
    fs.writeFileSync(main, readme[0]!.code);

    const { program, diagnostics } = compile(main, path.join(project, "out"), true);
    expect(diagnostics).toEqual([]);
    // The declarations came from the tarball, never from the checkout's sources or dist/.
    const sources = program.getSourceFiles().map((f) => f.fileName);
    expect(sources).toContain(path.join(installed, "dist/lib/index.d.ts"));
    const repoReal = fs.realpathSync(REPO_ROOT);
    expect(
      sources.filter((f) => [REPO_ROOT, repoReal].some((r) => f.startsWith(`${r}/lib/`) || f.startsWith(`${r}/dist/`))),
    ).toEqual([]);
    const emitted = program.emit();
    expect(emitted.emitSkipped).toBe(false);

    const env: NodeJS.ProcessEnv = { ...process.env, CHECKPOINT_DISABLE: "1" };
    delete env.NODE_PATH;
    const resolved = run(process.execPath, ["-p", 'require.resolve("cdktf-grommunio")'], { cwd: project, env });
    expect(resolved.stdout.trim()).toBe(path.join(installed, "dist/lib/index.js"));
    const synth = run(process.execPath, [path.join(project, "out", "main.js")], {
      cwd: project,
      env,
      timeoutMs: 120_000,
    });
    if (synth.status !== 0) throw new Error(`the README program failed (${synth.status}):\n${synth.stderr}`);

    const tf = JSON.parse(fs.readFileSync(path.join(project, "cdktf.out/stacks/mail/cdk.tf.json"), "utf8"));
    const resources: Record<string, Record<string, any>> = tf.resource;
    const servers = Object.values(resources.hcloud_server ?? {});
    expect(servers.map((s) => s.name).sort()).toEqual(
      ["classic1", "db1", "lb1", "lb2", "mail1", "mail2"].map((n) => `${n}.example.com`),
    );
    for (const s of servers) {
      expect(s.location).toBe("fsn1");
      expect(typeof s.user_data).toBe("string");
      expect(s.user_data.length).toBeGreaterThan(0);
    }
    // ShareNothing({ volumeSizeGb: 200 }) per mailbox node, Database.onNode({ volumeSizeGb: 50 }).
    const volumes = Object.values(resources.hcloud_volume ?? {}).map((v) => [v.name, v.size]);
    expect(volumes.sort()).toEqual([
      ["mail-db1-data", 50],
      ["mail-mail1-data", 200],
      ["mail-mail2-data", 200],
    ]);
    expect(Object.keys(resources.hcloud_network ?? {})).toHaveLength(1);
    expect(tf.terraform.required_providers.hcloud.source).toBe("hetznercloud/hcloud");
    expect(Object.keys(resources).filter((t) => /^(aws|docker|vsphere|libvirt)_/.test(t))).toEqual([]);
  }, 240_000);

  test("with the optional peers installed too, the declarations are complete (skipLibCheck false)", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8")) as Manifest;
    for (const name of optionalPeers(manifest)) link(project, name);
    const main = path.join(project, "main.ts");
    expect(fs.existsSync(main)).toBe(true);
    expect(compile(main, path.join(project, "out-strict"), false).diagnostics).toEqual([]);
  }, 120_000);

  /** Node's types in a program (none may be: the consumer has no @types/node). */
  const nodeTypes = (program: ts.Program): string[] =>
    program
      .getSourceFiles()
      .map((f) => f.fileName)
      .filter((f) => f.includes("/@types/node/"));

  test("without @types/node, a Hetzner user's install compiles strict with skipLibCheck false, but for the optional peers' modules", () => {
    expect(fs.existsSync(path.join(bare, "node_modules", "@types"))).toBe(false);
    const main = path.join(bare, "main.ts");
    fs.writeFileSync(
      main,
      extractSnippets("README.md", fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8"))[0]!.code,
    );
    const bytes = path.join(bare, "bytes.ts");
    fs.writeFileSync(bytes, BYTES);
    const { program, diagnostics } = compile([main, bytes], path.join(bare, "out"), false);
    expect(nodeTypes(program)).toEqual([]);
    expect(program.getSourceFiles().map((f) => f.fileName)).toContain(path.join(bareInstalled, "dist/lib/index.d.ts"));
    // The root exports the types of AWS, vSphere and Docker (`export type *`), whose declarations
    // import their provider packages: a lib check without those packages reports them, and nothing else.
    const optionalModule = /TS2307: Cannot find module '@cdktf\/provider-(aws|docker|vsphere)\//;
    expect(diagnostics.some((d) => optionalModule.test(d))).toBe(true);
    expect(diagnostics.filter((d) => !optionalModule.test(d))).toEqual([]);
  }, 120_000);

  test("without @types/node, with the optional peers, every entry point compiles strict with skipLibCheck false", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(bareInstalled, "package.json"), "utf8")) as Manifest;
    for (const name of optionalPeers(manifest)) link(bare, name);
    const exported = Object.keys((manifest as { exports?: Record<string, unknown> }).exports ?? {});
    expect(exported.sort()).toEqual([".", "./aws", "./docker", "./package.json", "./vsphere"]);
    const consumer = path.join(bare, "consumer.ts");
    fs.writeFileSync(consumer, EVERY_ENTRY_POINT);
    const roots = [path.join(bare, "main.ts"), path.join(bare, "bytes.ts"), consumer];
    for (const settings of [NODE16, CDKTF_TEMPLATE]) {
      const { program, diagnostics } = compile(roots, path.join(bare, "out-all"), false, settings);
      expect(diagnostics).toEqual([]);
      expect(nodeTypes(program)).toEqual([]);
      const files = program.getSourceFiles().map((f) => f.fileName);
      for (const entry of ["index", "platforms/aws/index", "platforms/docker/index", "platforms/vsphere/index"]) {
        expect(files).toContain(path.join(bareInstalled, `dist/lib/${entry}.d.ts`));
      }
    }
  }, 120_000);
});
