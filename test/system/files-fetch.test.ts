/**
 * The AWS first-boot program that writes a node's configuration files from its S3 bundle
 * (`grommunio-fetch-files`, lib/platforms/aws/files-fetch.ts) under the system python3 with a stub
 * boto3 (a versioned bucket in a directory; list_object_versions answers like boto3, paginated
 * with IsTruncated / NextKeyMarker / NextVersionIdMarker; every call counted): the version whose
 * sha256 is the manifest's is found newest first, an older one when newer ones exist, across
 * pages, never a version of another key that starts with the node's; none matching is refused
 * with the sha256 and the number of versions tried; manifests of another format are refused;
 * files written with their exact content, mode and owner (missing directories 0755, symlinks at a
 * path replaced, never followed); a bundle with one bad entry (path, mode, owner, a path twice) is
 * refused whole (exit 1, nothing written); the search is retried a bounded number of times; a
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
      "import datetime, io, json, os",
      "# A versioned bucket in a directory: a key is a directory holding one file per version (named",
      "# by its version id) and .versions, its version ids newest first. Every call is counted.",
      "def _call(line):",
      "    calls = os.environ['FAKE_S3_CALLS']",
      "    with open(calls, 'a') as f:",
      "        f.write(line + '\\n')",
      "    if sum(1 for _ in open(calls)) <= int(os.environ.get('FAKE_S3_FAIL_FIRST', '0')):",
      "        raise RuntimeError('AccessDenied (stub)')",
      "def _versions(bucket):",
      "    # (key, version id, is latest) of every version, keys ascending, each key's newest first.",
      "    root = os.path.join(os.environ['FAKE_S3'], bucket)",
      "    out = []",
      "    for d, _, names in os.walk(root):",
      "        if '.versions' in names:",
      "            ids = json.load(open(os.path.join(d, '.versions')))",
      "            out += [(os.path.relpath(d, root), v, i == 0) for i, v in enumerate(ids)]",
      "    return sorted(out, key=lambda e: e[0])",
      "class _S3:",
      "    def list_object_versions(self, Bucket, Prefix, KeyMarker=None, VersionIdMarker=None):",
      "        _call('LIST %s/%s key-marker=%s version-id-marker=%s' % (Bucket, Prefix, KeyMarker, VersionIdMarker))",
      "        entries = [e for e in _versions(Bucket) if e[0].startswith(Prefix)]",
      "        if KeyMarker is not None:",
      "            entries = entries[[(k, v) for k, v, _ in entries].index((KeyMarker, VersionIdMarker)) + 1:]",
      "        size = int(os.environ.get('FAKE_S3_PAGE', '1000'))",
      "        page, rest = entries[:size], entries[size:]",
      "        when = datetime.datetime(2026, 11, 29, tzinfo=datetime.timezone.utc)",
      "        reply = {'IsTruncated': bool(rest), 'Name': Bucket, 'Prefix': Prefix, 'MaxKeys': size,",
      "                 'Versions': [{'Key': k, 'VersionId': v, 'IsLatest': latest, 'LastModified': when,",
      "                               'ETag': '\"x\"', 'Size': 1, 'StorageClass': 'STANDARD'} for k, v, latest in page]}",
      "        if rest:",
      "            reply['NextKeyMarker'], reply['NextVersionIdMarker'] = page[-1][0], page[-1][1]",
      "        return reply",
      "    def get_object(self, Bucket, Key, VersionId):",
      "        _call('GET %s/%s?versionId=%s' % (Bucket, Key, VersionId))",
      "        versions = os.path.join(os.environ['FAKE_S3'], Bucket, Key)",
      "        if VersionId not in json.load(open(os.path.join(versions, '.versions'))):",
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
    /** What the program names: the object. */
    where: string;
  }

  /** Stores a document as the newest version of `key` in the stub bucket; returns its version id. */
  function store1(key: string, document: string): string {
    serial++;
    // Opaque like S3's, with characters that are not base64's own.
    const versionId = `v${serial}.Xr+_Q=`;
    const dirOf = path.join(store, BUCKET, key);
    fs.mkdirSync(dirOf, { recursive: true });
    fs.writeFileSync(path.join(dirOf, versionId), document);
    const index = path.join(dirOf, ".versions");
    const ids = fs.existsSync(index) ? (JSON.parse(fs.readFileSync(index, "utf8")) as string[]) : [];
    fs.writeFileSync(index, JSON.stringify([versionId, ...ids]));
    return versionId;
  }

  /**
   * Stores a bundle document as the newest version of a node's key (a new node unless `node` is
   * given) and writes a manifest pinning its sha256 (the document's unless given).
   */
  function put(document: string, sha256?: string, node?: string): Stored {
    const key = `nodes/${node ?? `test${serial + 1}`}/bundle.json`;
    const versionId = store1(key, document);
    const digest = createHash("sha256").update(document, "utf8").digest("hex");
    const manifest = path.join(dir, `files-${serial}.json`);
    fs.writeFileSync(manifest, JSON.stringify({ version: 3, bucket: BUCKET, key, sha256: sha256 ?? digest }));
    return { manifest, calls: path.join(dir, `calls-${serial}`), key, versionId, where: `s3://${BUCKET}/${key}` };
  }

  /** The calls the program made, one line each. */
  const callLines = (m: { calls: string }) =>
    fs.existsSync(m.calls) ? fs.readFileSync(m.calls, "utf8").split("\n").filter(Boolean) : [];
  const list = (key: string, marker?: [string, string]) =>
    `LIST ${BUCKET}/${key} key-marker=${marker?.[0] ?? "None"} version-id-marker=${marker?.[1] ?? "None"}`;
  const get = (key: string, versionId: string) => `GET ${BUCKET}/${key}?versionId=${versionId}`;

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

  const calls = (m: { calls: string }) => callLines(m).length;

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
    expect(r.stderr).toBe(
      `grommunio-fetch-files: wrote 4 file(s) from ${m.where} (version ${m.versionId}; 1 version(s) tried)\n`,
    );
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
    // The key's versions listed, the one version downloaded. No temporary file left behind.
    expect(callLines(m)).toEqual([list(m.key), get(m.key, m.versionId)]);
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

  test("no version has the manifest's sha256: exit 1, the sha256 and the versions tried named, nothing written", () => {
    const out = path.join(dir, "out-hash");
    const entry = (content: string) => bundle([{ path: `${out}/a`, owner: "root:root", mode: "0600", content }]);
    const first = put(entry("1\n"), "0".repeat(64), "nomatch");
    const second = put(entry("2\n"), "0".repeat(64), "nomatch");
    const third = put(entry("3\n"), "0".repeat(64), "nomatch");
    const r = fetch(third, { FAKE_S3_PAGE: "2" });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `grommunio-fetch-files: no version of ${third.where} has sha256 ${"0".repeat(64)} (3 version(s) tried; ` +
        "older ones expire once fileVersionsKept newer ones exist); nothing written\n",
    );
    // Every version was tried, newest first, over both pages.
    expect(callLines(third)).toEqual([
      list(third.key),
      get(third.key, third.versionId),
      get(third.key, second.versionId),
      list(third.key, [third.key, second.versionId]),
      get(third.key, first.versionId),
    ]);
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

  test("an older version is found when newer ones exist, across pages; another key sharing the prefix is ignored", () => {
    const out = path.join(dir, "out-versions");
    const entry = (content: string) => bundle([{ path: `${out}/a`, owner: "root:root", mode: "0600", content }]);
    const old = put(entry("old\n"), undefined, "kept");
    const middle = put(entry("middle\n"), undefined, "kept");
    const current = put(entry("new\n"), undefined, "kept");
    // A key that starts with the node's: listed by the prefix, never downloaded.
    const backup = store1(`${old.key}.bak`, entry("backup\n"));
    expect(current.key).toBe(old.key);
    // A node still holding the oldest manifest (configChangePolicy "ignore") re-runs the fetch.
    const r = fetch(old, { FAKE_S3_PAGE: "1" });
    expect(r.stderr).toBe(
      `grommunio-fetch-files: wrote 1 file(s) from ${old.where} (version ${old.versionId}; 3 version(s) tried)\n`,
    );
    expect(r.status).toBe(0);
    expect(fs.readFileSync(`${out}/a`, "utf8")).toBe("old\n");
    expect(callLines(old)).toEqual([
      list(old.key),
      get(old.key, current.versionId),
      list(old.key, [old.key, current.versionId]),
      get(old.key, middle.versionId),
      list(old.key, [old.key, middle.versionId]),
      get(old.key, old.versionId),
    ]);
    expect(callLines(old).join("\n")).not.toContain(backup);
    // The newest: one listing, one download.
    expect(fetch(current).status).toBe(0);
    expect(callLines(current)).toEqual([list(current.key), get(current.key, current.versionId)]);
    expect(fs.readFileSync(`${out}/a`, "utf8")).toBe("new\n");
  });

  test("the pinned bundle only under another key sharing the prefix: not found, nothing written", () => {
    const out = path.join(dir, "out-prefix");
    const document = bundle([{ path: `${out}/a`, owner: "root:root", mode: "0600", content: "a\n" }]);
    const digest = createHash("sha256").update(document, "utf8").digest("hex");
    const m = put(bundle([{ path: `${out}/a`, owner: "root:root", mode: "0600", content: "b\n" }]), digest, "prefix");
    store1(`${m.key}.bak`, document);
    const r = fetch(m, { FAKE_S3_PAGE: "1" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`no version of ${m.where} has sha256 ${digest} (1 version(s) tried;`);
    expect(callLines(m).filter((l) => l.startsWith("GET"))).toEqual([get(m.key, m.versionId)]);
    expect(tree(out)).toEqual([]);
  });

  test.each([
    [
      "a version 2 manifest (an S3 version id)",
      { version: 2, versionIdBase64: "djEuWHIrX1E9" },
      "the manifest is version 2: this node's user-data predates bundles found by their sha256 (version 3)",
    ],
    [
      "a version 1 manifest",
      { version: 1 },
      "the manifest is version 1: this node's user-data predates bundles found by their sha256 (version 3)",
    ],
    ["an unknown version", { version: 4 }, "the manifest is not version 3"],
    ["no sha256", { sha256: undefined }, "the manifest lacks bucket, key or sha256"],
    ["a sha256 that is not hex", { sha256: "Z".repeat(64) }, "the manifest's sha256 is not 64 lowercase hex digits"],
  ])("%s: refused before any request, nothing written", (_, change, message) => {
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

  test("retries are bounded: GROMMUNIO_FETCH_ATTEMPTS searches, then exit 1 with nothing written", () => {
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
    expect(r.stderr).toContain(`could not list or download the versions of ${m.where}; nothing written`);
    expect(tree(out)).toEqual([]);
  });

  test("a role that becomes usable within the attempts: written after the failed ones", () => {
    const out = path.join(dir, "out-late-role");
    const m = put(bundle([{ path: `${out}/a`, owner: "root:root", mode: "0600", content: "a\n" }]));
    const r = fetch(m, { GROMMUNIO_FETCH_ATTEMPTS: "3", FAKE_S3_FAIL_FIRST: "2" });
    expect(r.status).toBe(0);
    expect(callLines(m)).toEqual([list(m.key), list(m.key), list(m.key), get(m.key, m.versionId)]);
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
