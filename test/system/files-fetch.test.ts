/**
 * The AWS first-boot program that writes a node's configuration files from its S3 bundle
 * (`grommunio-fetch-files`, lib/platforms/aws/files-fetch.ts) under the system python3 with a stub
 * boto3 (a versioned bucket in a directory: each version of a key is a file named by its version
 * id; every call counted with its VersionId): exactly the pinned version is downloaded, an older
 * one still when a newer exists; a manifest without a version is refused; files written with their exact content,
 * mode and owner (missing directories 0755, symlinks at a path replaced, never followed); a bundle
 * whose sha256 is not the manifest's, or with one bad entry (path, mode, owner, a path twice), is
 * refused whole (exit 1, nothing written); the download is retried a bounded number of times; a
 * real bundle of the AWS example is written byte for byte. Needs root (the files' owners).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Testing } from "cdktf";
import { awsExample } from "../../examples/aws/main";
import { GrommunioCluster } from "../../lib";
import { FILES_FETCH_SCRIPT } from "../../lib/platforms/aws/files-fetch";
import { SYSTEM_PYTHON } from "./cloud-init";
import { run, scratchDir } from "./support";

const BUCKET = "grommunio-mail-20261129093000000000000001";

interface Entry {
  path: string;
  owner: string;
  mode: string;
  content: string;
}

describe("grommunio-fetch-files (AWS first boot) with a stub boto3", () => {
  const dir = scratchDir("fetch-files");
  const program = path.join(dir, "grommunio-fetch-files");
  const stub = path.join(dir, "stub");
  const store = path.join(dir, "s3");
  fs.writeFileSync(program, FILES_FETCH_SCRIPT, { mode: 0o700 });
  fs.mkdirSync(path.join(stub, "boto3"), { recursive: true });
  fs.writeFileSync(
    path.join(stub, "boto3", "__init__.py"),
    [
      "import io, os",
      "class _S3:",
      "    def get_object(self, Bucket, Key, VersionId):",
      "        calls = os.environ['FAKE_S3_CALLS']",
      "        with open(calls, 'a') as f:",
      "            f.write(Bucket + '/' + Key + '?versionId=' + VersionId + '\\n')",
      "        if sum(1 for _ in open(calls)) <= int(os.environ.get('FAKE_S3_FAIL_FIRST', '0')):",
      "            raise RuntimeError('AccessDenied (stub)')",
      "        # Each version of a key is a file in the key's directory, named by its version id.",
      "        versions = os.path.join(os.environ['FAKE_S3'], Bucket, Key)",
      "        if VersionId not in os.listdir(versions):",
      "            raise RuntimeError('NoSuchVersion (stub)')",
      "        with open(os.path.join(versions, VersionId), 'rb') as f:",
      "            return {'Body': io.BytesIO(f.read())}",
      "def client(service, region_name):",
      "    assert service == 's3' and region_name == 'eu-central-1'",
      "    return _S3()",
      "",
    ].join("\n"),
  );
  let serial = 0;

  interface Stored {
    manifest: string;
    calls: string;
    key: string;
    versionId: string;
    /** What the program names: the object and its version. */
    where: string;
  }

  /**
   * Stores a bundle document as a new version of a node's key (a new node unless `node` is given)
   * and writes a manifest pinning that version (sha256 of the document unless given).
   */
  function put(document: string, sha256?: string, node?: string): Stored {
    serial++;
    const digest = createHash("sha256").update(document, "utf8").digest("hex");
    const key = `nodes/${node ?? `test${serial}`}/bundle.json`;
    // Opaque like S3's, with characters that are not base64's own.
    const versionId = `v${serial}.Xr+/_Q=`.replace("/", "_");
    fs.mkdirSync(path.join(store, BUCKET, key), { recursive: true });
    fs.writeFileSync(path.join(store, BUCKET, key, versionId), document);
    const manifest = path.join(dir, `files-${serial}.json`);
    const versionIdBase64 = Buffer.from(versionId, "utf8").toString("base64");
    fs.writeFileSync(
      manifest,
      JSON.stringify({ version: 2, bucket: BUCKET, key, versionIdBase64, sha256: sha256 ?? digest }),
    );
    const where = `s3://${BUCKET}/${key} (version ${versionId})`;
    return { manifest, calls: path.join(dir, `calls-${serial}`), key, versionId, where };
  }

  const bundle = (files: Entry[]) => JSON.stringify({ version: 1, files });

  function fetch(m: { manifest: string; calls: string }, env: Record<string, string> = {}) {
    return run(SYSTEM_PYTHON, [program, m.manifest], {
      env: {
        ...process.env,
        PYTHONPATH: stub,
        FAKE_S3: store,
        FAKE_S3_CALLS: m.calls,
        AWS_REGION: "eu-central-1",
        GROMMUNIO_FETCH_ATTEMPTS: "1",
        GROMMUNIO_FETCH_INTERVAL: "0",
        ...env,
      },
    });
  }

  const calls = (m: { calls: string }) =>
    fs.existsSync(m.calls) ? fs.readFileSync(m.calls, "utf8").split("\n").filter(Boolean).length : 0;

  /** Every path below `root` (files, directories, links), relative. */
  function tree(root: string): string[] {
    if (!fs.existsSync(root)) return [];
    const out: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        out.push(path.relative(root, p));
        if (e.isDirectory()) walk(p);
      }
    };
    walk(root);
    return out.sort();
  }

  beforeAll(() => {
    expect(fs.existsSync(SYSTEM_PYTHON)).toBe(true); // Debian's python3 (cloud-init needs it too)
    // The owners the files get: this test must run as root (CI does).
    expect(process.getuid?.()).toBe(0);
  });

  test("writes every file with its exact content, mode and owner; creates directories 0755; prints no content", () => {
    const out = path.join(dir, "out-ok");
    const files: Entry[] = [
      { path: `${out}/etc/gromox/http.cfg`, owner: "root:nogroup", mode: "0640", content: "listen_port=10080\n" },
      { path: `${out}/etc/hosts`, owner: "root:root", mode: "0644", content: "10.10.10.1 mail1 ${not-a-token} ünï\n" },
      {
        path: `${out}/usr/local/sbin/tool`,
        owner: "nobody:nogroup",
        mode: "0750",
        content: "#!/bin/sh\necho SECRETISH\n",
      },
      { path: `${out}/empty`, owner: "root:root", mode: "0600", content: "" },
    ];
    const m = put(bundle(files));
    const r = fetch(m);
    expect(r.stderr).toBe(`grommunio-fetch-files: wrote 4 file(s) from ${m.where}\n`);
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
    for (const f of files) {
      expect(fs.readFileSync(f.path, "utf8")).toBe(f.content);
      const st = fs.statSync(f.path);
      expect([f.path, (st.mode & 0o7777).toString(8).padStart(4, "0")]).toEqual([f.path, f.mode]);
      const [user, group] = f.owner.split(":");
      expect([f.path, st.uid, st.gid]).toEqual([
        f.path,
        user === "nobody" ? 65534 : 0,
        group === "nogroup" ? 65534 : 0,
      ]);
    }
    for (const d of [`${out}/etc`, `${out}/etc/gromox`, `${out}/usr/local/sbin`]) {
      const st = fs.statSync(d);
      expect([d, st.mode & 0o7777, st.uid, st.gid]).toEqual([d, 0o755, 0, 0]);
    }
    // No temporary file left behind.
    // Exactly the pinned version was asked for.
    expect(fs.readFileSync(m.calls, "utf8")).toBe(`${BUCKET}/${m.key}?versionId=${m.versionId}\n`);
    expect(tree(out)).toEqual([
      "empty",
      "etc",
      "etc/gromox",
      "etc/gromox/http.cfg",
      "etc/hosts",
      "usr",
      "usr/local",
      "usr/local/sbin",
      "usr/local/sbin/tool",
    ]);
    expect(calls(m)).toBe(1);
  });

  test("replaces an existing file and a symlink at a path, never writing through the link", () => {
    const out = path.join(dir, "out-replace");
    fs.mkdirSync(out, { recursive: true });
    const victim = path.join(dir, "victim");
    fs.writeFileSync(victim, "untouched\n");
    fs.symlinkSync(victim, path.join(out, "link"));
    fs.writeFileSync(path.join(out, "old"), "old content\n", { mode: 0o644 });
    const m = put(
      bundle([
        { path: `${out}/link`, owner: "root:root", mode: "0600", content: "new\n" },
        { path: `${out}/old`, owner: "root:root", mode: "0600", content: "new content\n" },
      ]),
    );
    expect(fetch(m).status).toBe(0);
    expect(fs.readFileSync(victim, "utf8")).toBe("untouched\n");
    expect(fs.lstatSync(path.join(out, "link")).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(out, "link"), "utf8")).toBe("new\n");
    expect(fs.readFileSync(path.join(out, "old"), "utf8")).toBe("new content\n");
    expect(fs.statSync(path.join(out, "old")).mode & 0o7777).toBe(0o600);
  });

  test("a bundle whose sha256 is not the manifest's: exit 1, both hashes named, nothing written", () => {
    const out = path.join(dir, "out-hash");
    const document = bundle([{ path: `${out}/a`, owner: "root:root", mode: "0600", content: "a\n" }]);
    const m = put(document, "0".repeat(64));
    const r = fetch(m);
    expect(r.status).toBe(1);
    const actual = createHash("sha256").update(document, "utf8").digest("hex");
    expect(r.stderr).toBe(
      `grommunio-fetch-files: the bundle's sha256 is ${actual}, the manifest pins ${"0".repeat(64)}; nothing written\n`,
    );
    expect(tree(out)).toEqual([]);
  });

  test.each([
    ["a path with ..", { path: "OUT/x/../../etc/passwd" }, "is not a clean absolute path"],
    ["a relative path", { path: "etc/passwd" }, "is not a clean absolute path"],
    ["a mode with setuid", { mode: "4755" }, "mode '4755' is not 0NNN"],
    ["a mode that is not octal", { mode: "0648" }, "mode '0648' is not 0NNN"],
    ["an unknown user", { owner: "nosuchuser:root" }, "no user nosuchuser"],
    ["an unknown group", { owner: "root:nosuchgroup" }, "no group nosuchgroup"],
    ["an owner that is not user:group", { owner: "root" }, "owner 'root' is not user:group"],
    ["a content that is not text", { content: 42 }, "an entry lacks path, owner, mode or content"],
  ])("one bad entry (%s): exit 1, the bundle refused whole, nothing written", (_, bad, message) => {
    const out = path.join(dir, `out-bad-${serial + 1}`);
    const good: Entry = { path: `${out}/good`, owner: "root:root", mode: "0600", content: "good\n" };
    const entry = { ...good, path: `${out}/bad`, ...bad } as Record<string, unknown>;
    if (typeof entry.path === "string") entry.path = entry.path.replace("OUT", out);
    const m = put(JSON.stringify({ version: 1, files: [good, entry] }));
    const r = fetch(m);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("grommunio-fetch-files: refusing the bundle: ");
    expect(r.stderr).toContain(message);
    expect(r.stderr).toMatch(/; nothing written\n$/);
    expect(tree(out)).toEqual([]);
  });

  test("a path twice: refused whole", () => {
    const out = path.join(dir, "out-twice");
    const f: Entry = { path: `${out}/a`, owner: "root:root", mode: "0600", content: "a\n" };
    const r = fetch(put(bundle([f, { ...f, content: "b\n" }])));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${out}/a is in the bundle twice`);
    expect(tree(out)).toEqual([]);
  });

  test("an older version stays fetchable when a newer one exists: each manifest gets its own version", () => {
    const out = path.join(dir, "out-versions");
    const old = put(
      bundle([{ path: `${out}/a`, owner: "root:root", mode: "0600", content: "old\n" }]),
      undefined,
      "kept",
    );
    const current = put(
      bundle([{ path: `${out}/a`, owner: "root:root", mode: "0600", content: "new\n" }]),
      undefined,
      "kept",
    );
    expect(current.key).toBe(old.key);
    expect(fs.readdirSync(path.join(store, BUCKET, old.key)).sort()).toEqual([old.versionId, current.versionId].sort());
    // A node still holding the older manifest (configChangePolicy "ignore") re-runs the fetch.
    const r = fetch(old);
    expect(r.stderr).toBe(`grommunio-fetch-files: wrote 1 file(s) from ${old.where}\n`);
    expect(r.status).toBe(0);
    expect(fs.readFileSync(`${out}/a`, "utf8")).toBe("old\n");
    expect(fs.readFileSync(old.calls, "utf8")).toBe(`${BUCKET}/${old.key}?versionId=${old.versionId}\n`);
    expect(fetch(current).status).toBe(0);
    expect(fs.readFileSync(`${out}/a`, "utf8")).toBe("new\n");
  });

  test("the newer version under an older manifest's pin: the sha256 refuses it, nothing written", () => {
    const out = path.join(dir, "out-swapped");
    const first = put(
      bundle([{ path: `${out}/a`, owner: "root:root", mode: "0600", content: "1\n" }]),
      undefined,
      "swap",
    );
    const second = put(
      bundle([{ path: `${out}/a`, owner: "root:root", mode: "0600", content: "2\n" }]),
      undefined,
      "swap",
    );
    // The first manifest's version id, but the second version's content under it.
    fs.copyFileSync(
      path.join(store, BUCKET, second.key, second.versionId),
      path.join(store, BUCKET, first.key, first.versionId),
    );
    const r = fetch(first);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the bundle's sha256 is [0-9a-f]{64}, the manifest pins [0-9a-f]{64}; nothing written\n$/);
    expect(tree(out)).toEqual([]);
  });

  test.each([
    [
      "a version 1 manifest (no version pinned)",
      { version: 1, versionIdBase64: undefined },
      "the manifest is not version 2 (it pins no bundle version",
    ],
    ["no versionIdBase64", { versionIdBase64: undefined }, "the manifest lacks bucket, key, versionIdBase64 or sha256"],
    [
      "a versionIdBase64 that is not base64",
      { versionIdBase64: "not base64!" },
      "the manifest's versionIdBase64 is not base64 of a UTF-8 text",
    ],
  ])("%s: refused before any download, nothing written", (_, change, message) => {
    const out = path.join(dir, `out-manifest-${serial + 1}`);
    const m = put(bundle([{ path: `${out}/a`, owner: "root:root", mode: "0600", content: "a\n" }]));
    const manifest = { ...JSON.parse(fs.readFileSync(m.manifest, "utf8")), ...change };
    fs.writeFileSync(m.manifest, JSON.stringify(manifest));
    const r = fetch(m);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`grommunio-fetch-files: refusing the manifest: ${message}`);
    expect(r.stderr).toMatch(/; nothing written\n$/);
    expect(calls(m)).toBe(0);
    expect(tree(out)).toEqual([]);
  });

  test("retries are bounded: GROMMUNIO_FETCH_ATTEMPTS downloads, then exit 1 with nothing written", () => {
    const out = path.join(dir, "out-retry");
    const m = put(bundle([{ path: `${out}/a`, owner: "root:root", mode: "0600", content: "a\n" }]));
    const r = fetch(m, { GROMMUNIO_FETCH_ATTEMPTS: "3", FAKE_S3_FAIL_FIRST: "99" });
    expect(r.status).toBe(1);
    expect(calls(m)).toBe(3);
    expect(r.stderr.split("\n").filter((l) => l.includes("AccessDenied (stub)"))).toEqual([
      "grommunio-fetch-files: attempt 1 of 3: AccessDenied (stub)",
      "grommunio-fetch-files: attempt 2 of 3: AccessDenied (stub)",
      "grommunio-fetch-files: attempt 3 of 3: AccessDenied (stub)",
    ]);
    expect(r.stderr).toContain(`could not download ${m.where}; nothing written`);
    expect(tree(out)).toEqual([]);
  });

  test("a role that becomes usable within the attempts: written after the failed ones", () => {
    const out = path.join(dir, "out-late-role");
    const m = put(bundle([{ path: `${out}/a`, owner: "root:root", mode: "0600", content: "a\n" }]));
    const r = fetch(m, { GROMMUNIO_FETCH_ATTEMPTS: "3", FAKE_S3_FAIL_FIRST: "2" });
    expect(r.status).toBe(0);
    expect(calls(m)).toBe(3);
    expect(fs.readFileSync(`${out}/a`, "utf8")).toBe("a\n");
  });

  test("the AWS example's bundle of mail2, re-rooted and owned by root, is written byte for byte", () => {
    const app = Testing.app();
    const stack = awsExample(app);
    Testing.synth(stack);
    const cluster = stack.node.findChild("mail") as GrommunioCluster;
    const real = cluster.fileBundles.get("mail2")!;
    const out = path.join(dir, "out-mail2");
    const files = real.files.map((f) => ({
      path: `${out}${f.path}`,
      owner: "root:root",
      mode: f.mode,
      content: f.content,
    }));
    const r = fetch(put(bundle(files)));
    expect(r.status).toBe(0);
    for (const f of real.files) {
      expect([f.path, fs.readFileSync(`${out}${f.path}`, "utf8")]).toEqual([f.path, f.content]);
      expect([f.path, (fs.statSync(`${out}${f.path}`).mode & 0o7777).toString(8).padStart(4, "0")]).toEqual([
        f.path,
        f.mode,
      ]);
    }
    expect(real.files.length).toBeGreaterThan(10);
  });
});
