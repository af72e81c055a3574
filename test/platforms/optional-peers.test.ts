/**
 * The provider packages of AWS, vSphere and Docker are optional peer dependencies
 * (lib/platforms/optional.ts): a cluster on another platform neither loads nor needs them, and
 * asking for one that is missing says how to install it.
 *
 * "Missing" is simulated in a child process (optional-peers-child.ts) whose module resolver
 * refuses the packages the way Node refuses a package that is not installed; the child loads the
 * package root as a user's program does.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { OPTIONAL_PROVIDER_PACKAGES, loadOptional } from "../../lib/platforms/optional";

const root = path.resolve(__dirname, "../..");
const OPTIONAL = ["@cdktf/provider-aws", "@cdktf/provider-docker", "@cdktf/provider-vsphere"];

interface ChildResult {
  providerPackages: string[];
  aws: string;
  docker: string;
  vsphere: string;
  route53: string;
}

function runChild(blocked: string[]): { result: ChildResult; outdir: string } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "optional-peers-"));
  const stdout = execFileSync(
    process.execPath,
    ["--require", "tsx/cjs", path.join(__dirname, "optional-peers-child.ts")],
    {
      cwd: root,
      env: { ...process.env, BLOCKED_PACKAGES: JSON.stringify(blocked), OUTDIR: outdir },
      encoding: "utf8",
    },
  );
  const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (line === undefined) throw new Error(`the child printed no RESULT line:\n${stdout}`);
  return { result: JSON.parse(line.slice("RESULT ".length)) as ChildResult, outdir };
}

function resourceTypes(outdir: string, stack: string): string[] {
  const json = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", stack, "cdk.tf.json"), "utf8")) as {
    resource?: Record<string, unknown>;
  };
  return Object.keys(json.resource ?? {});
}

const install = (what: string, pkg: string, range: string): string =>
  `${what} needs the npm package ${pkg}, an optional peer dependency of cdktf-grommunio that is not installed. ` +
  `Install it next to cdktf-grommunio: npm install ${pkg}@"${range}"`;

describe("without the optional provider packages", () => {
  let run: { result: ChildResult; outdir: string };
  beforeAll(() => {
    run = runChild(OPTIONAL);
  });
  afterAll(() => fs.rmSync(run.outdir, { recursive: true, force: true }));

  test("the Hetzner and KVM examples synthesize from the package root", () => {
    expect(resourceTypes(run.outdir, "grommunio-hcloud")).toEqual(
      expect.arrayContaining(["hcloud_server", "hcloud_volume", "hcloud_network"]),
    );
    expect(resourceTypes(run.outdir, "grommunio-kvm")).toEqual(expect.arrayContaining(["libvirt_domain"]));
  });

  test("no provider package but random and tls is loaded", () => {
    expect(run.result.providerPackages).toEqual(["provider-random", "provider-tls"]);
  });

  test("asking for a platform or Route53 names the package and the install command", () => {
    expect(run.result.aws).toBe(install("Platform.aws", "@cdktf/provider-aws", "^21.22.1"));
    expect(run.result.docker).toBe(install("Platform.docker", "@cdktf/provider-docker", "^12.0.3"));
    expect(run.result.vsphere).toBe(install("Platform.vsphere", "@cdktf/provider-vsphere", "^11.2.1"));
    expect(run.result.route53).toBe(install("MailDns with route53", "@cdktf/provider-aws", "^21.22.1"));
  });
});

test("with the packages installed, Platform.aws/.docker/.vsphere and Route53 load on first use", () => {
  const { result, outdir } = runChild([]);
  fs.rmSync(outdir, { recursive: true, force: true });
  expect(result).toEqual({
    providerPackages: ["provider-random", "provider-tls"],
    aws: "ok",
    docker: "ok",
    vsphere: "ok",
    route53: "ok",
  });
});

describe("loadOptional", () => {
  const notFound = (request: string): Error =>
    Object.assign(new Error(`Cannot find module '${request}'`), { code: "MODULE_NOT_FOUND" });
  const thrower = (error: Error) => (): never => {
    throw error;
  };

  test("reports the package itself and its files as missing", () => {
    for (const request of ["@cdktf/provider-aws", "@cdktf/provider-aws/lib/instance"]) {
      expect(() => loadOptional("@cdktf/provider-aws", "X", thrower(notFound(request)))).toThrow(
        install("X", "@cdktf/provider-aws", "^21.22.1"),
      );
    }
  });

  test("passes any other error through unchanged", () => {
    for (const error of [
      notFound("constructs"), // something the package needs, not the package
      notFound("@cdktf/provider-aws-extra"),
      Object.assign(new Error("Cannot find module '@cdktf/provider-aws'"), { code: "ERR_OTHER" }),
      new TypeError("boom"),
    ]) {
      expect(() => loadOptional("@cdktf/provider-aws", "X", thrower(error))).toThrow(error);
    }
    expect(loadOptional("@cdktf/provider-aws", "X", () => 42)).toBe(42);
  });
});

describe("package.json", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
    exports: Record<string, { types: string; default: string } | string>;
    typesVersions: Record<string, Record<string, string[]>>;
    peerDependencies: Record<string, string>;
    peerDependenciesMeta: Record<string, { optional?: boolean }>;
  };

  test("declares exactly the optional provider packages optional, with the ranges the errors name", () => {
    const optional = Object.keys(pkg.peerDependenciesMeta).filter(
      (p) => pkg.peerDependenciesMeta[p]?.optional === true,
    );
    expect(optional.sort()).toEqual(Object.keys(OPTIONAL_PROVIDER_PACKAGES).sort());
    for (const [name, range] of Object.entries(OPTIONAL_PROVIDER_PACKAGES)) {
      expect(pkg.peerDependencies[name]).toBe(range);
    }
  });

  test.each(["aws", "docker", "vsphere"])(
    "exports ./%s from the platform's folder, for node16 and node10 resolution",
    (name) => {
      expect(pkg.exports[`./${name}`]).toEqual({
        types: `./dist/lib/platforms/${name}/index.d.ts`,
        default: `./dist/lib/platforms/${name}/index.js`,
      });
      expect(pkg.typesVersions["*"]?.[name]).toEqual([`dist/lib/platforms/${name}/index.d.ts`]);
      expect(fs.existsSync(path.join(root, "lib/platforms", name, "index.ts"))).toBe(true);
    },
  );
});
