/**
 * The generated deb822 sources (`/etc/apt/sources.list.d/*.sources`) and pinned keys, read by the
 * real apt (Debian 12: apt 2.6) against a signed repository built here in a scratch directory
 * (file: URIs; nothing leaves the machine). The files are the library's, unmodified, at their real
 * paths: apt runs in a private mount namespace where /usr/share/keyrings and /etc/apt/keyrings
 * are scratch directories holding the generated keys; its configuration, lists and state are
 * scratch files (APT_CONFIG), so the machine's own sources are never read or touched.
 *
 * Every case states both sides: what `validateRepositoryOptions` says and what apt does with
 * the file the library renders for that input (rendered without the check), so the check and
 * apt cannot drift apart: an input the check accepts must update and offer the repository's
 * package; an input it refuses must make apt fail (or, where apt only warns, miss the package).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  AptRepository,
  OsRepositoryOptions,
  RepositoryOptions,
  aptSourceFile,
  grommunioRepository,
  osRepositories,
  validateRepositoryOptions,
} from "../../lib";
import { requireProgram, run, runInSandbox, scratchDir, writeTree } from "./support";

jest.setTimeout(120_000);

const PACKAGE = "grx-apt-probe";
let gpg = "";
let gnupgHome = "";
let root = "";
let key = "";

function gpgRun(args: string[], input?: string) {
  const r = run(gpg, ["--homedir", gnupgHome, "--batch", "--quiet", ...args], input !== undefined ? { input } : {});
  if (r.status !== 0) throw new Error(`gpg ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function sha256(file: string): string {
  return run("sha256sum", [file]).stdout.split(" ")[0]!;
}

/** A signed index: `dir/Release` + `dir/InRelease` listing `files` (paths relative to dir). */
function signIndex(dir: string, files: string[], fields: string[]) {
  const lines = [...fields, "Architectures: amd64", "Date: Sat, 01 Jan 2000 00:00:00 UTC", "SHA256:"];
  for (const f of files) lines.push(` ${sha256(path.join(dir, f))} ${fs.statSync(path.join(dir, f)).size} ${f}`);
  fs.writeFileSync(path.join(dir, "Release"), lines.join("\n") + "\n");
  gpgRun(["--yes", "--clearsign", "-o", path.join(dir, "InRelease"), path.join(dir, "Release")]);
}

beforeAll(() => {
  requireProgram("apt-get", "apt");
  requireProgram("apt-cache", "apt");
  gpg = requireProgram("gpg", "gnupg");
  root = scratchDir("apt-sources");
  gnupgHome = path.join(root, "gnupg");
  fs.mkdirSync(gnupgHome, { mode: 0o700 });
  gpgRun(
    ["--gen-key"],
    "%no-protection\nKey-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\nName-Real: apt probe\nExpire-Date: 1d\n%commit\n",
  );
  key = gpgRun(["--armor", "--export"]);
  const packages =
    `Package: ${PACKAGE}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.invalid>\n` +
    `Filename: pool/${PACKAGE}_1.0_all.deb\nSize: 1\nSHA256: ${"0".repeat(64)}\nDescription: probe\n\n`;
  // A distribution repository (dists/Debian_12/main) and a flat one (Packages next to Release).
  writeTree(path.join(root, "repo"), { "dists/Debian_12/main/binary-amd64/Packages": packages });
  signIndex(
    path.join(root, "repo/dists/Debian_12"),
    ["main/binary-amd64/Packages"],
    ["Suite: Debian_12", "Components: main"],
  );
  writeTree(path.join(root, "flat"), { Packages: packages });
  signIndex(path.join(root, "flat"), ["Packages"], []);
});

afterAll(() => {
  // gpg started its agent for the signing key: stop it.
  if (gnupgHome) run("gpgconf", ["--homedir", gnupgHome, "--kill", "gpg-agent"]);
});

interface AptOutcome {
  /** apt-get update exited 0 and printed no error. */
  readonly updated: boolean;
  /** apt-cache offers the repository's package. */
  readonly candidate: boolean;
  readonly output: string;
}

/** `apt-get update` and `apt-cache policy` on exactly these sources, keys at their real paths. */
function apt(repositories: readonly AptRepository[]): AptOutcome {
  const dir = scratchDir("apt-run");
  const d = (p: string) => path.join(dir, p);
  for (const p of ["sources", "lists/partial", "cache/archives/partial", "parts", "prefs", "state"]) {
    fs.mkdirSync(d(p), { recursive: true });
  }
  fs.writeFileSync(d("status"), "");
  fs.mkdirSync(d("usr-share-keyrings"));
  fs.mkdirSync(d("etc-apt-keyrings"));
  for (const r of repositories) {
    const f = aptSourceFile(r);
    fs.writeFileSync(path.join(d("sources"), path.basename(f.path)), f.content);
    if (r.armoredKey !== undefined && r.keyringPath !== undefined) {
      const base = r.keyringPath.startsWith("/usr/share/keyrings/") ? "usr-share-keyrings" : "etc-apt-keyrings";
      fs.writeFileSync(path.join(d(base), path.basename(r.keyringPath)), r.armoredKey);
    }
  }
  fs.writeFileSync(
    d("apt.conf"),
    [
      `Dir::Etc::main "/dev/null";`,
      `Dir::Etc::parts "${d("parts")}";`,
      `Dir::Etc::sourcelist "/dev/null";`,
      `Dir::Etc::sourceparts "${d("sources")}";`,
      `Dir::Etc::preferences "/dev/null";`,
      `Dir::Etc::preferencesparts "${d("prefs")}";`,
      `Dir::State "${d("state")}";`,
      `Dir::State::lists "${d("lists")}";`,
      `Dir::State::status "${d("status")}";`,
      `Dir::Cache "${d("cache")}";`,
      `APT::Architecture "amd64";`,
      `APT::Architectures { "amd64"; };`,
      `Acquire::Languages "none";`,
      `APT::Sandbox::User "root";`,
      "",
    ].join("\n"),
  );
  const r = runInSandbox(
    {
      binds: {
        "/usr/share/keyrings": d("usr-share-keyrings"),
        "/etc/apt/keyrings": d("etc-apt-keyrings"),
      },
    },
    `export APT_CONFIG='${d("apt.conf")}'; apt-get update 2>&1 && echo APT-UPDATE-OK; apt-cache policy ${PACKAGE} 2>&1`,
  );
  const output = r.stdout + r.stderr;
  return {
    updated: output.includes("APT-UPDATE-OK") && !/^E: /m.test(output),
    candidate: /^\s+Candidate: 1\.0$/m.test(output),
    output,
  };
}

interface Case {
  readonly name: string;
  readonly repository?: RepositoryOptions;
  readonly osRepository?: OsRepositoryOptions;
  /** The codes `validateRepositoryOptions` gives; [] = apt must update and offer the package. */
  readonly codes: readonly string[];
  /** What apt prints for a refused input (its reason). */
  readonly apt?: RegExp;
}

function outcome(c: Case) {
  const issues = validateRepositoryOptions("c", c.repository, c.osRepository);
  const repositories = [
    ...(c.osRepository ? osRepositories("debian-12", c.osRepository) : []),
    ...(c.repository ? [grommunioRepository("debian-12", c.repository)] : []),
  ];
  return { codes: issues.map((i) => i.code), apt: apt(repositories) };
}

function expectAgreement(c: Case) {
  const o = outcome(c);
  expect({ case: c.name, codes: o.codes }).toEqual({ case: c.name, codes: c.codes });
  if (c.codes.length === 0) {
    expect({ case: c.name, updated: o.apt.updated, candidate: o.apt.candidate, output: o.apt.output }).toEqual(
      expect.objectContaining({ updated: true, candidate: true }),
    );
  } else {
    expect({ case: c.name, works: o.apt.updated && o.apt.candidate }).toEqual({ case: c.name, works: false });
    if (c.apt) expect(`${c.name}: ${o.apt.output}`).toMatch(c.apt);
  }
}

const repo = () => `file://${root}/repo`;
const flat = () => `file://${root}/flat`;

describe("deb822 sources and keys: the library's check agrees with apt 2.6", () => {
  test("a pinned key and the default suite and component: apt offers the package", () => {
    expectAgreement({ name: "plain", repository: { uris: repo(), armoredKey: key }, codes: [] });
  });

  test("a flat repository: no Components line, which apt requires (with one it refuses every source)", () => {
    expectAgreement({ name: "flat", repository: { uris: flat(), suites: "./", armoredKey: key }, codes: [] });
    expectAgreement({
      name: "flat with components",
      repository: { uris: flat(), suites: "./", components: ["main"], armoredKey: key },
      codes: ["GRX313"],
      apt: /Malformed entry 1 in sources file .*grommunio\.sources \(absolute Suite Component\)/,
    });
    // What the library wrote before for a flat suite: the default component, refused by apt.
    const before = apt([
      { ...grommunioRepository("debian-12", { uris: flat(), suites: "./", armoredKey: key }), components: ["main"] },
    ]);
    expect(before.output).toMatch(/absolute Suite Component/);
    expect(before.updated).toBe(false);
  });

  test("suites and components apt refuses or skips", () => {
    expectAgreement({
      name: "no component",
      repository: { uris: repo(), components: [], armoredKey: key },
      codes: ["GRX313"],
      apt: /Malformed entry 1 .*\(Component\)/,
    });
    expectAgreement({
      name: "no suite",
      osRepository: { uris: repo(), suites: [], components: ["main"], armoredKey: key },
      codes: ["GRX313"],
      apt: /Malformed entry 1 .*\(Suite\)/,
    });
    expectAgreement({
      name: "flat beside a distribution suite",
      osRepository: { uris: repo(), suites: ["Debian_12", "./"], armoredKey: key },
      codes: ["GRX313"],
      apt: /absolute Suite Component/,
    });
    // apt only warns here, and the package is missing when it is installed.
    expectAgreement({
      name: "component with a trailing slash",
      repository: { uris: repo(), components: ["main/"], armoredKey: key },
      codes: ["GRX310"],
      apt: /doesn't have the component 'main\/'/,
    });
    expectAgreement({
      name: "OS mirror with its own key",
      osRepository: { uris: repo(), suites: ["Debian_12"], components: ["main"], armoredKey: key },
      codes: [],
    });
  });

  test("URIs: apt appends dists/… as text and has a fixed set of methods", () => {
    for (const uris of [`${repo()}/`, `file://${root}//repo`]) {
      expectAgreement({ name: uris, repository: { uris, armoredKey: key }, codes: [] });
    }
    for (const uris of [`${repo()}#x`, `${repo()}?x=1`]) {
      expectAgreement({ name: uris, repository: { uris, armoredKey: key }, codes: ["GRX310"], apt: /Release file/ });
    }
    expectAgreement({
      name: "unknown method",
      repository: { uris: `grx+file://${root}/repo`, armoredKey: key },
      codes: ["GRX314"],
      apt: /method driver \/usr\/lib\/apt\/methods\/grx\+file could not be found/,
    });
  });

  test("armored keys: what apt's dearmoring reads and what it does not", () => {
    const lines = key.split("\n");
    const accepted = {
      "no final newline": key.slice(0, -1),
      "text around the block": `# repository signing key\n${key}exported 2026\n`,
      "two blocks": key + key,
      "an armor header": [lines[0], "Comment: probe", ...lines.slice(1)].join("\n"),
      "no checksum line": lines.filter((l) => !l.startsWith("=")).join("\n"),
    };
    for (const [name, armoredKey] of Object.entries(accepted)) {
      expectAgreement({ name, repository: { uris: repo(), armoredKey }, codes: [] });
    }
    const refused = {
      "CRLF line endings": key.replace(/\n/g, "\r\n"),
      indented: key.replace(/^/gm, "    "),
      "no empty line after the BEGIN line": lines.filter((_, i) => i !== 1).join("\n"),
      "blanks after the base64": lines.map((l, i) => (i === 2 ? `${l} ` : l)).join("\n"),
      "a fingerprint": "C52E5701B7AB8040A9469D3DC51196C8C890BBDF\n",
      "a file name": "/home/me/grommunio.asc\n",
    };
    for (const [name, armoredKey] of Object.entries(refused)) {
      expectAgreement({
        name,
        repository: { uris: repo(), armoredKey },
        codes: ["GRX315"],
        apt: /NO_PUBKEY|is not signed/,
      });
    }
  });
});
