import "cdktf/lib/testing/adapters/jest";
import { execFileSync } from "node:child_process";
import { TerraformStack, Testing } from "cdktf";
import { parse } from "yaml";
import {
  BOOTCMD_STOP_ON_ERROR,
  BOOT_FILES_SCRIPT,
  APT_URI_SCHEMES,
  ClassicNode,
  DataMount,
  Database,
  GromoxNode,
  GrommunioCluster,
  GrommunioValidationError,
  NodeProvisioning,
  READINESS_BEGIN,
  READINESS_END,
  READINESS_SCRIPT,
  SOURCES_LIST_PATH,
  TokenRegistry,
  accountsBootcmd,
  buildTopology,
  provisionNode,
  renderCloudConfig,
  aptSourceFile,
  armoredKeyProblem,
  bootPackages,
  grommunioRepository,
  osRepositories,
  pinnedAccounts,
  validateRepositoryOptions,
} from "../../lib";
import { renderNodeFiles } from "../../lib/render/node";
import { TEST_PUBLIC_KEY, documentedLayout } from "../fixtures";
import { FakePlatform } from "../cluster/fake-platform";

// Node-aware routing: the load balancers' map job reads the database as the map reader.
const topology = buildTopology(
  documentedLayout({ database: { node: "db1", password: "db-secret", mapReaderPassword: "map-secret" } }),
);
const KEY = TEST_PUBLIC_KEY;

function prov(name: string, extra: Partial<Parameters<typeof provisionNode>[0]> = {}) {
  const node = topology.node(name);
  const r = provisionNode({
    topology,
    node,
    files: renderNodeFiles(topology, node),
    os: "debian-12",
    mounts: [],
    ...extra,
  });
  expect(r.issues).toEqual([]);
  return r.provisioning;
}

function config(p: NodeProvisioning): Record<string, any> {
  const r = renderCloudConfig(p, new TokenRegistry(), "c/x");
  expect(r.issues).toEqual([]);
  return parse(r.text, { version: "1.1" }) as Record<string, any>;
}

const file = (p: NodeProvisioning, path: string) => p.files.find((f) => f.path === path);

describe("grommunio repository: trusted", () => {
  test("Trusted: yes instead of Signed-By; no key written or fetched", () => {
    const p = prov("mail2", { repository: { uris: "http://10.0.2.100/grommunio", trusted: true } });
    expect(file(p, "/etc/apt/sources.list.d/grommunio.sources")?.content).toBe(
      "Types: deb\nURIs: http://10.0.2.100/grommunio\nSuites: Debian_12\nComponents: main\nTrusted: yes\n",
    );
    expect(p.files.some((f) => f.path.endsWith(".asc"))).toBe(false);
    // (no key fetch: only the pinned accounts' step)
    expect(config(p).bootcmd).toEqual([BOOTCMD_STOP_ON_ERROR, accountsBootcmd(pinnedAccounts())]);
  });
});

describe("osRepository: the OS's own sources replaced on every node", () => {
  test("without it nothing changes: no apt key, no sources.list, no Debian source", () => {
    const p = prov("db1");
    expect(p.repositories).toEqual([]);
    expect(p.replacesOsSources).toBeUndefined();
    expect(file(p, SOURCES_LIST_PATH)).toBeUndefined();
    expect(config(p).apt).toBeUndefined();
  });

  test("a Debian mirror checked against Debian's keyring; sources.list emptied; cloud-init keeps them", () => {
    for (const name of ["db1", "lb1", "mail2"]) {
      const p = prov(name, { osRepository: { uris: "http://mirror.example.net/debian" } });
      expect(file(p, "/etc/apt/sources.list.d/debian.sources")).toMatchObject({
        stage: "early",
        mode: "0644",
        owner: "root:root",
        content:
          "Types: deb\nURIs: http://mirror.example.net/debian\nSuites: bookworm bookworm-updates\nComponents: main\n" +
          "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
      });
      expect(file(p, SOURCES_LIST_PATH)).toMatchObject({ stage: "early" });
      expect(file(p, SOURCES_LIST_PATH)!.content).not.toMatch(/^deb/m);
      expect(p.replacesOsSources).toBe(true);
      const c = config(p);
      expect(c.apt).toEqual({ preserve_sources_list: true });
      // Written in the init stage (not deferred): before package_update runs.
      const entry = (c.write_files as any[]).find((f) => f.path === "/etc/apt/sources.list.d/debian.sources");
      expect(entry.defer).toBeUndefined();
    }
  });

  test("the grommunio repository stays beside the OS mirror", () => {
    const p = prov("mail2", { osRepository: { uris: "http://mirror.example.net/debian" } });
    expect(p.repositories.map((r) => r.name)).toEqual(["debian", "grommunio"]);
  });

  test("security mirror and the mirror's own key: one key file for both sources", () => {
    const p = prov("db1", {
      osRepository: {
        uris: "http://mirror.example.net/debian",
        securityUris: "http://mirror.example.net/debian-security",
        suites: ["bookworm"],
        components: ["main", "contrib"],
        armoredKey: KEY,
      },
    });
    expect(file(p, "/etc/apt/sources.list.d/debian-security.sources")?.content).toBe(
      "Types: deb\nURIs: http://mirror.example.net/debian-security\nSuites: bookworm-security\nComponents: main contrib\n" +
        "Signed-By: /etc/apt/keyrings/debian-mirror.asc\n",
    );
    expect(file(p, "/etc/apt/sources.list.d/debian.sources")?.content).toContain("Suites: bookworm\n");
    expect(p.files.filter((f) => f.path === "/etc/apt/keyrings/debian-mirror.asc")).toEqual([
      expect.objectContaining({ content: KEY, stage: "early", mode: "0644" }),
    ]);
  });

  test("a trusted local repository; Ubuntu's defaults", () => {
    const p = prov("db1", { osRepository: { uris: "http://10.0.2.100/debian", suites: ["bookworm"], trusted: true } });
    expect(file(p, "/etc/apt/sources.list.d/debian.sources")?.content).toBe(
      "Types: deb\nURIs: http://10.0.2.100/debian\nSuites: bookworm\nComponents: main\nTrusted: yes\n",
    );
    const u = prov("db1", { os: "ubuntu-24.04", osRepository: { uris: "http://mirror.example.net/ubuntu" } });
    expect(file(u, "/etc/apt/sources.list.d/ubuntu.sources")?.content).toBe(
      "Types: deb\nURIs: http://mirror.example.net/ubuntu\nSuites: noble noble-updates\nComponents: main universe\n" +
        "Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n",
    );
  });
});

describe("osRepository on a node that installs its NFS client at boot: the OS sources are written by bootcmd", () => {
  const nfs: DataMount = {
    kind: "nfs",
    source: "10.0.0.9:/srv/gromox",
    mountPoint: "/var/lib/gromox",
    options: "nfsvers=4.1,hard",
    clientPackages: ["nfs-common"],
  };
  const osRepository = {
    uris: "http://mirror.example.net/debian",
    securityUris: "http://mirror.example.net/debian-security",
    armoredKey: KEY,
  };
  const OS_FILES = [
    "/etc/apt/keyrings/debian-mirror.asc",
    SOURCES_LIST_PATH,
    "/etc/apt/sources.list.d/debian-security.sources",
    "/etc/apt/sources.list.d/debian.sources",
  ];
  const byStage = (p: NodeProvisioning, stage: string) =>
    p.files
      .filter((f) => f.stage === stage && f.path.startsWith("/etc/apt/"))
      .map((f) => f.path)
      .sort();

  test("the OS mirror's sources, its key and the emptied sources.list are `boot` files; grommunio's stay early", () => {
    const p = prov("mail2", { osRepository, mounts: [nfs] });
    expect(byStage(p, "boot")).toEqual(OS_FILES);
    expect(byStage(p, "early")).toEqual(["/etc/apt/sources.list.d/grommunio.sources"]);
    // content unchanged by the stage
    expect(file(p, "/etc/apt/sources.list.d/debian.sources")!.content).toBe(
      aptSourceFile(osRepositories("debian-12", osRepository)[0]!).content,
    );
  });

  test("bootcmd writes them (path, mode, owner, content) before it installs the NFS client; write_files has them no more", () => {
    const p = prov("mail2", { osRepository, mounts: [nfs] });
    const c = config(p);
    const boot = c.bootcmd as Array<string | string[]>;
    const at = (name: string) => boot.findIndex((e) => Array.isArray(e) && e.includes(name));
    expect(at("grommunio-boot-files")).toBeGreaterThan(0);
    expect(at("grommunio-boot-files")).toBeLessThan(at("grommunio-nfs-client"));
    const entry = boot[at("grommunio-boot-files")] as string[];
    expect(entry.slice(0, 7)).toEqual([
      "cloud-init-per",
      "instance",
      "grommunio-boot-files",
      "sh",
      "-c",
      BOOT_FILES_SCRIPT,
      "sh",
    ]);
    const bootFiles = p.files.filter((f) => f.stage === "boot");
    expect(entry.slice(7)).toEqual(bootFiles.flatMap((f) => [f.path, f.mode, f.owner, f.content]));
    const written = (c.write_files as Array<{ path: string }>).map((f) => f.path);
    for (const f of OS_FILES) expect(written).not.toContain(f);
    expect(written).toContain("/etc/apt/sources.list.d/grommunio.sources");
    expect(c.apt).toEqual({ preserve_sources_list: true });
  });

  test("the script writes every file with its mode and stops at the first that fails (dash)", () => {
    const dir = execFileSync("mktemp", ["-d"], { encoding: "utf8" }).trim();
    try {
      const me = `${execFileSync("id", ["-un"], { encoding: "utf8" }).trim()}:${execFileSync("id", ["-gn"], { encoding: "utf8" }).trim()}`;
      const args = [`${dir}/a/b/one`, "0600", me, "x'\"$y\n", `${dir}/two`, "0644", me, "-n two"];
      execFileSync("dash", ["-c", BOOT_FILES_SCRIPT, "sh", ...args]);
      expect(execFileSync("cat", [`${dir}/a/b/one`], { encoding: "utf8" })).toBe("x'\"$y\n");
      expect(execFileSync("stat", ["-c", "%a", `${dir}/a/b/one`], { encoding: "utf8" }).trim()).toBe("600");
      expect(execFileSync("cat", [`${dir}/two`], { encoding: "utf8" })).toBe("-n two");
      // a file that cannot be written (its directory is a file): non-zero, nothing after it
      const r = (() => {
        try {
          execFileSync(
            "dash",
            ["-c", BOOT_FILES_SCRIPT, "sh", `${dir}/two/x`, "0644", me, "c", `${dir}/three`, "0644", me, "c"],
            { stdio: "pipe" },
          );
          return 0;
        } catch (e) {
          return (e as { status: number }).status;
        }
      })();
      expect(r).not.toBe(0);
      expect(execFileSync("ls", [dir], { encoding: "utf8" })).not.toContain("three");
    } finally {
      execFileSync("rm", ["-rf", dir]);
    }
  });

  test("without a mount at boot, or without osRepository, nothing is a `boot` file; on-demand mounts install nothing at boot", () => {
    for (const p of [prov("mail2", { osRepository }), prov("mail2", { mounts: [nfs] })]) {
      expect(p.files.filter((f) => f.stage === "boot")).toEqual([]);
      expect((config(p).bootcmd as unknown[]).some((e) => Array.isArray(e) && e.includes("grommunio-boot-files"))).toBe(
        false,
      );
    }
    expect(bootPackages([nfs, { ...nfs, mountPoint: "/srv/x" }])).toEqual(["nfs-common"]);
    expect(bootPackages([{ ...nfs, onDemand: true }])).toEqual([]);
  });
});

describe("repository validation (GRX310, GRX311)", () => {
  test("URIs, suite and component names; trusted together with a key", () => {
    expect(
      validateRepositoryOptions("c", { uris: "http://10.0.2.100/g", trusted: true }, { uris: "file:///srv/m" }),
    ).toEqual([]);
    const issues = validateRepositoryOptions(
      "c",
      { uris: "download.example.com", trusted: true, armoredKey: KEY },
      {
        uris: "http://m/debian",
        securityUris: "http://m/x y",
        suites: ["bookworm updates"],
        trusted: true,
        armoredKey: KEY,
      },
    );
    expect(issues.map((i) => [i.code, i.field])).toEqual([
      ["GRX310", "repository.uris"],
      ["GRX311", "repository.trusted"],
      ["GRX310", "osRepository.securityUris"],
      ["GRX310", "osRepository.suites/components"],
      ["GRX311", "osRepository.trusted"],
    ]);
  });
});

test("a pinned key and a key URL together are GRX317 (the URL was ignored without a word)", () => {
  const both = { uris: "http://10.0.2.100/g", armoredKey: KEY, keyUrl: "https://10.0.2.100/key.asc" };
  expect(validateRepositoryOptions("c", both, undefined)).toEqual([
    {
      code: "GRX317",
      path: "c",
      field: "repository.keyUrl",
      message:
        "a repository is given both a pinned key (armoredKey) and a key URL: the pinned key is used and keyUrl is ignored.",
      fix: "Keep armoredKey (pinned at synth, preferred) and drop keyUrl, or drop armoredKey to fetch the key at first boot.",
    },
  ]);
  expect(validateRepositoryOptions("c", { ...both, keyUrl: undefined }, undefined)).toEqual([]);
  expect(validateRepositoryOptions("c", { ...both, armoredKey: undefined }, undefined)).toEqual([]);
});

describe("what apt reads: flat suites, URIs, keys (GRX310, GRX313-GRX316)", () => {
  const codes = (
    r: Parameters<typeof validateRepositoryOptions>[1],
    o?: Parameters<typeof validateRepositoryOptions>[2],
  ) => validateRepositoryOptions("c", r, o).map((i) => `${i.code} ${i.field}`);

  test("a flat suite gets no Components line (apt refuses one); distribution suites keep theirs", () => {
    expect(
      aptSourceFile(grommunioRepository("debian-12", { uris: "http://10.0.2.100/g", suites: "./", trusted: true }))
        .content,
    ).toBe("Types: deb\nURIs: http://10.0.2.100/g\nSuites: ./\nTrusted: yes\n");
    const [main, security] = osRepositories("debian-12", {
      uris: "http://m/debian",
      suites: ["bookworm/", "bookworm-updates/"],
      securityUris: "http://m/security",
    });
    expect(main!.components).toEqual([]);
    expect(aptSourceFile(main!).content).not.toContain("Components");
    expect(security!.components).toEqual(["main"]);
    expect(aptSourceFile(grommunioRepository("debian-12")).content).toContain("\nComponents: main\n");
  });

  test("suites and components apt refuses or skips", () => {
    expect(codes({ suites: "./" })).toEqual([]);
    expect(codes({ suites: "./", components: ["main"] })).toEqual(["GRX313 repository.components"]);
    expect(codes({ components: [] })).toEqual(["GRX313 repository.components"]);
    expect(codes(undefined, { uris: "http://m/d", suites: [] })).toEqual(["GRX313 osRepository.suites"]);
    expect(codes(undefined, { uris: "http://m/d", suites: ["bookworm", "./"] })).toEqual([
      "GRX313 osRepository.suites",
    ]);
    expect(codes(undefined, { uris: "http://m/d", suites: ["a/", "b/"], components: [] })).toEqual([]);
    expect(codes(undefined, { uris: "http://m/d", components: [] })).toEqual(["GRX313 osRepository.components"]);
    for (const c of ["main/", "/main", "main//x"]) {
      expect(codes({ components: [c] })).toEqual(["GRX310 repository.components"]);
    }
    expect(codes({ components: ["main/debian-installer"] })).toEqual([]);
  });

  test("URIs: schemes apt has a method for; no fragment, query or non-ASCII", () => {
    for (const s of APT_URI_SCHEMES) expect(codes({ uris: `${s}://h/p` })).toEqual([]);
    expect(codes({ uris: "http://[2001:db8::1]:8080/debian/" })).toEqual([]);
    expect(codes({ uris: "https://user:pa%40ss@m.example.net/d%20x" })).toEqual([]);
    for (const u of ["tor+http://h/p", "s3://bucket/d", "ftp://h/d", "htps://h/d"]) {
      expect(codes({ uris: u })).toEqual(["GRX314 repository.uris"]);
    }
    expect(codes(undefined, { uris: "http://m/d", securityUris: "ftp://m/s" })).toEqual([
      "GRX314 osRepository.securityUris",
    ]);
    for (const u of [
      "http://h/d#x",
      "http://h/d?x=1",
      "http://h/dé",
      "http://h/d\\x",
      "HTTP://h/d",
      "/srv/repo",
      "http://h/\u0001",
    ]) {
      expect(codes({ uris: u })).toEqual(["GRX310 repository.uris"]);
    }
  });

  test("keyUrl over https only", () => {
    expect(codes({ keyUrl: "https://h/key.asc" })).toEqual([]);
    expect(codes({ keyUrl: "http://h/key.asc" })).toEqual(["GRX316 repository.keyUrl"]);
    expect(codes({ keyUrl: "file:///k.asc" })).toEqual(["GRX316 repository.keyUrl"]);
  });

  test("armored keys as apt 2.6 dearmors them", () => {
    const lines = KEY.split("\n");
    const ok = [KEY, KEY.slice(0, -1), "# signing key\n" + KEY + "trailing text\n", KEY + KEY, "\n\n" + KEY];
    ok.push([lines[0], "Comment: c", ...lines.slice(1)].join("\n"));
    ok.push(lines.filter((l) => !l.startsWith("=")).join("\n"));
    for (const k of ok) expect(armoredKeyProblem(k)).toBeUndefined();
    const bad: Array<[string, RegExp]> = [
      [KEY.replace(/\n/g, "\r\n"), /CR/],
      [KEY.replace(/^/gm, "    "), /indented/],
      [lines.filter((_, i) => i !== 1).join("\n"), /empty line/],
      [lines.map((l, i) => (i === 3 ? l + " " : l)).join("\n"), /line 4 is not base64 \(it ends in blanks\)/],
      [lines.filter((l) => !l.startsWith("-----END")).join("\n"), /no "-----END/],
      [KEY.replace(/PUBLIC/g, "PRIVATE"), /private key/],
      ["C52E5701B7AB8040A9469D3DC51196C8C890BBDF", /no "-----BEGIN/],
      ["", /no "-----BEGIN/],
      [KEY.replace(lines[2]!, "AAAA"), /public-key packet/],
    ];
    for (const [k, why] of bad) expect(armoredKeyProblem(k)).toMatch(why);
    expect(codes({ armoredKey: KEY.replace(/\n/g, "\r\n") })).toEqual(["GRX315 repository.armoredKey"]);
    expect(codes(undefined, { uris: "http://m/d", armoredKey: "/etc/keys/m.asc" })).toEqual([
      "GRX315 osRepository.armoredKey",
    ]);
  });
});

describe("readiness report", () => {
  test("started first in bootcmd as a transient unit, on the given device; absent unless asked", () => {
    expect(config(prov("db1")).bootcmd).toBeUndefined();
    const c = config(prov("db1", { readinessReport: { device: "/dev/ttyS1" } }));
    expect(c.bootcmd[0]).toBe(BOOTCMD_STOP_ON_ERROR);
    expect(c.bootcmd[1]).toEqual([
      "sh",
      "-c",
      'printf %s "$1" >/run/grommunio-readiness && systemd-run --no-block --unit=grommunio-readiness-report "--description=grommunio readiness report" sh /run/grommunio-readiness "$2"',
      "grommunio-readiness",
      READINESS_SCRIPT,
      "/dev/ttyS1",
    ]);
    // runcmd is untouched: the report never masks or delays a first-boot step.
    expect(c.runcmd).toEqual(config(prov("db1")).runcmd);
  });

  test("the script waits for cloud-init's final stage, then reports status, failed units, log warnings, an end marker", () => {
    // behaviour: test/provision/readiness.test.ts
    execFileSync("sh", ["-n", "-c", READINESS_SCRIPT]);
    const lines = READINESS_SCRIPT.split("\n");
    const wait = lines.findIndex((l) => l.includes("[ ! -e $r ]"));
    const begin = lines.findIndex((l) => l.includes(READINESS_BEGIN));
    const end = lines.findIndex((l) => l.includes(READINESS_END));
    expect(READINESS_SCRIPT).toContain("r=/run/cloud-init/result.json");
    expect(READINESS_SCRIPT).not.toContain("cloud-init status --wait");
    expect(wait).toBeGreaterThanOrEqual(0);
    expect(begin).toBeGreaterThan(wait);
    expect(end).toBeGreaterThan(begin);
    expect(READINESS_SCRIPT).toContain("cloud-init status --long");
    expect(READINESS_SCRIPT).toContain("systemctl list-units --failed");
    expect(READINESS_SCRIPT).toContain("/var/log/cloud-init.log");
    expect(lines[end]).toContain("status=$status failed-units=$nf warnings=$nw ===");
  });
});

describe("GrommunioCluster props", () => {
  function cluster(props: Record<string, unknown>) {
    const stack = new TerraformStack(Testing.app(), "t");
    const c = new GrommunioCluster(stack, "mail", {
      platform: new FakePlatform(),
      domain: "example.com",
      gromoxVersion: "3.10",
      network: { cidr: "10.10.10.0/24" },
      database: Database.onNode(),
      ...props,
    });
    new GromoxNode(c, "mail1");
    new ClassicNode(c, "classic1");
    return { stack, c };
  }

  test("osRepository, repository.trusted and readinessReport reach every node's cloud-config", () => {
    const { stack, c } = cluster({
      repository: { uris: "http://10.0.2.100/grommunio", trusted: true },
      osRepository: { uris: "http://10.0.2.100/debian", suites: ["bookworm"], trusted: true },
      readinessReport: {},
    });
    Testing.synth(stack);
    expect([...c.cloudConfigs.keys()].sort()).toEqual(["classic1", "db1", "mail1"]);
    for (const [name, rendered] of c.cloudConfigs) {
      const doc = parse(rendered.text, { version: "1.1" });
      expect(doc.apt).toEqual({ preserve_sources_list: true });
      expect(doc.bootcmd[1].slice(-1)).toEqual(["/dev/ttyS0"]);
      const paths = (doc.write_files as any[]).map((f) => f.path);
      expect(paths).toEqual(expect.arrayContaining([SOURCES_LIST_PATH, "/etc/apt/sources.list.d/debian.sources"]));
      expect(c.provisioning.get(name)!.repositories.every((r) => r.trusted)).toBe(true);
    }
  });

  test("GRX310/GRX311/GRX312 are collected at synth", () => {
    const { stack } = cluster({
      repository: { uris: "not a uri" },
      osRepository: { uris: "http://m/debian", trusted: true, armoredKey: KEY },
      readinessReport: { device: "ttyS0" },
    });
    let err: unknown;
    try {
      Testing.synth(stack);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GrommunioValidationError);
    expect((err as GrommunioValidationError).codes).toEqual(expect.arrayContaining(["GRX310", "GRX311", "GRX312"]));
  });
});
