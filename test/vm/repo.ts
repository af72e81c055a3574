/**
 * The hermetic package repository of the VM tests, served on host loopback and reached by the
 * guests as http://10.0.2.100/ (qemu `guestfwd`):
 *
 * - `/debian`: Debian 12 packages the booted nodes install (the closure of their `packages:`
 *   without what the image already holds at the same version), fetched by the host's apt
 *   (`apt-get download`), indexed with `dpkg-scanpackages`, `Release` unsigned: the nodes get it
 *   through the library's `osRepository: { trusted: true }`;
 * - `/grommunio`: STAND-INS for grommunio's packages (not reachable from the test host), only what
 *   the booted nodes name, each with just what the library relies on from the real package:
 *   `gromox` creates gromox's users and groups and the store roots' parents
 *   (`/var/lib/gromox/{user,domain}`), ships stub units (`sleep infinity`) under the gromox unit
 *   names and a `gromox-dbop -C` that loads the gromox schema (test/fixtures/schema.sql) with
 *   mysql_adaptor.cfg's account; `grommunio-admin-api` a stub unit and a `grommunio-admin` that
 *   does nothing; `grommunio-web`, `-sync`, `-dav` the nginx includes the generated server block
 *   names (comments only). So postfix, nginx, NFS and the rest of a node can be tested while
 *   grommunio's programs are out of scope. Reached through `repository: { trusted: true }`.
 *
 * Debian's .debs are served with their data member recompressed from xz to zstd (`data.tar.zst`,
 * the same tar byte for byte; dpkg 1.21 reads it): under TCG, xz decompression was the largest
 * single part of unpacking in the guests. What the packages install is unchanged.
 *
 * Built once per image and package set, cached next to the image.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { isGrommunioPackage } from "../../lib/provision";

/** Bumped when the repository layout or the stand-ins change (part of the cache key). */
const REPO_FORMAT = "6";
const GROMOX_UNITS = [
  "gromox-delivery",
  "gromox-delivery-queue",
  "gromox-event",
  "gromox-http",
  "gromox-imap",
  "gromox-midb",
  "gromox-pop3",
  "gromox-timer",
  "gromox-zcore",
];

export interface LocalRepo {
  readonly dir: string;
  readonly key: string;
  readonly built: boolean;
  readonly seconds: number;
  /** Debian packages downloaded (not already in the image). */
  readonly debianPackages: number;
  readonly standIns: readonly string[];
}

const sh = (cmd: string, args: string[], opts: { cwd?: string } = {}) =>
  execFileSync(cmd, args, {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
    ...opts,
  });

/** `name version` of every package installed in the image (read from its ext4 file without mounting). */
function imageManifest(rootfs: string): Map<string, string> {
  const status = sh("debugfs", ["-R", "cat /var/lib/dpkg/status", rootfs]);
  const out = new Map<string, string>();
  for (const stanza of status.split(/\n\n+/)) {
    const name = /^Package: (.+)$/m.exec(stanza)?.[1];
    const version = /^Version: (.+)$/m.exec(stanza)?.[1];
    if (name && version && /^Status: .* installed$/m.test(stanza)) out.set(name, version);
  }
  return out;
}

/** Candidate version of each real package of the closure of `packages` on the host's apt. */
function closure(packages: readonly string[]): Map<string, string> {
  const names = sh("apt-cache", [
    "depends",
    "--recurse",
    "--no-recommends",
    "--no-suggests",
    "--no-conflicts",
    "--no-breaks",
    "--no-replaces",
    "--no-enhances",
    ...packages,
  ])
    .split("\n")
    .filter((l) => /^[a-z0-9]/.test(l));
  const show = sh("apt-cache", ["show", "--no-all-versions", ...new Set(names)]);
  const out = new Map<string, string>();
  for (const stanza of show.split(/\n\n+/)) {
    const name = /^Package: (.+)$/m.exec(stanza)?.[1];
    const version = /^Version: (.+)$/m.exec(stanza)?.[1];
    if (name && version) out.set(name, version);
  }
  return out;
}

function releaseFile(suite: string, dir: string, files: readonly string[]): string {
  const lines = [
    "Origin: cdktf-grommunio-vm-test",
    "Label: cdktf-grommunio-vm-test",
    `Suite: ${suite}`,
    `Codename: ${suite}`,
    `Date: ${new Date().toUTCString()}`,
    "Architectures: amd64 all",
    "Components: main",
    "SHA256:",
    ...files.map((f) => {
      const data = fs.readFileSync(path.join(dir, f));
      return ` ${createHash("sha256").update(data).digest("hex")} ${data.length} ${f}`;
    }),
  ];
  return lines.join("\n") + "\n";
}

/** Members of an ar archive (a .deb): name and content, in order. */
function readAr(data: Buffer): { name: string; header: Buffer; body: Buffer }[] {
  if (data.subarray(0, 8).toString("latin1") !== "!<arch>\n") throw new Error("not an ar archive");
  const out: { name: string; header: Buffer; body: Buffer }[] = [];
  let i = 8;
  while (i + 60 <= data.length) {
    const header = data.subarray(i, i + 60);
    const name = header.subarray(0, 16).toString("latin1").trim().replace(/\/$/, "");
    const size = Number(header.subarray(48, 58).toString("latin1").trim());
    out.push({ name, header, body: data.subarray(i + 60, i + 60 + size) });
    i += 60 + size + (size & 1);
  }
  return out;
}

/** Rewrites `deb` with its data.tar.xz as data.tar.zst (same tar); other members and headers kept. */
export function recompressDeb(deb: string): boolean {
  const members = readAr(fs.readFileSync(deb));
  const data = members.find((m) => m.name === "data.tar.xz");
  if (!data) return false;
  const tar = execFileSync("xz", ["-dc"], { input: data.body, maxBuffer: 2 * 1024 * 1024 * 1024 });
  const zst = execFileSync("zstd", ["-q", "-9", "-T0", "-c"], { input: tar, maxBuffer: 2 * 1024 * 1024 * 1024 });
  const parts: Buffer[] = [Buffer.from("!<arch>\n", "latin1")];
  for (const m of members) {
    let header = m.header;
    let body = m.body;
    if (m === data) {
      body = zst;
      header = Buffer.from(m.header);
      header.write("data.tar.zst".padEnd(16, " "), 0, 16, "latin1");
      header.write(String(body.length).padEnd(10, " "), 48, 10, "latin1");
    }
    parts.push(header, body);
    if (body.length & 1) parts.push(Buffer.from("\n", "latin1"));
  }
  fs.writeFileSync(deb, Buffer.concat(parts));
  return true;
}

/** Indexes `root/pool` as suite `suite`, component main (dists/<suite>/…). */
function index(root: string, suite: string): void {
  const packages = sh("dpkg-scanpackages", ["--multiversion", "pool", "/dev/null"], { cwd: root });
  const bin = path.join(root, "dists", suite, "main", "binary-amd64");
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, "Packages"), packages);
  fs.writeFileSync(path.join(bin, "Packages.gz"), gzipSync(packages));
  const dist = path.join(root, "dists", suite);
  fs.writeFileSync(
    path.join(dist, "Release"),
    releaseFile(suite, dist, ["main/binary-amd64/Packages", "main/binary-amd64/Packages.gz"]),
  );
}

/** The gromox schema the stand-in `gromox-dbop -C` loads (what the real one creates). */
const SCHEMA_SQL = path.join(__dirname, "..", "fixtures", "schema.sql");
const STANDIN_SCHEMA = "/usr/share/gromox/vmtest-schema.sql";
/** The stand-in packages that ship nginx includes: the generated mailbox server block includes them. */
const NGINX_INCLUDE_PACKAGES = ["grommunio-dav", "grommunio-sync", "grommunio-web"];

function stubUnit(root: string, unit: string, what: string): void {
  const units = path.join(root, "lib", "systemd", "system");
  fs.mkdirSync(units, { recursive: true });
  fs.writeFileSync(
    path.join(units, `${unit}.service`),
    [
      "[Unit]",
      `Description=TEST STUB for ${unit} (cdktf-grommunio VM tests; ${what} is out of scope here)`,
      "",
      "[Service]",
      "ExecStart=/bin/sleep infinity",
      "",
      "[Install]",
      "WantedBy=multi-user.target",
      "",
    ].join("\n"),
  );
}

function script(root: string, file: string, lines: readonly string[]): void {
  fs.mkdirSync(path.join(root, path.dirname(file)), { recursive: true });
  fs.writeFileSync(path.join(root, file), lines.join("\n") + "\n", { mode: 0o755 });
}

/** A stand-in .deb for one of grommunio's packages. */
function standIn(name: string, pool: string, work: string): void {
  const root = path.join(work, name);
  fs.mkdirSync(path.join(root, "DEBIAN"), { recursive: true });
  const control = [
    `Package: ${name}`,
    "Version: 0.0~vmtest1",
    "Architecture: all",
    "Maintainer: cdktf-grommunio VM tests <noreply@example.invalid>",
    "Section: mail",
    "Priority: optional",
    `Description: TEST STAND-IN for grommunio's ${name} (not the real program)`,
    " Built by cdktf-grommunio's VM boot tests; provides names, users and stub units only.",
  ];
  fs.writeFileSync(path.join(root, "DEBIAN", "control"), control.join("\n") + "\n");
  if (name === "gromox") {
    for (const u of GROMOX_UNITS) stubUnit(root, u, "gromox");
    fs.mkdirSync(path.join(root, "etc", "gromox"), { recursive: true });
    fs.mkdirSync(path.join(root, path.dirname(STANDIN_SCHEMA).slice(1)), { recursive: true });
    fs.copyFileSync(SCHEMA_SQL, path.join(root, STANDIN_SCHEMA.slice(1)));
    // gromox-dbop -C creates the schema with the account of mysql_adaptor.cfg (gromox.md);
    // mariadb-client comes from the node's own packages (every gromox node is a database client).
    script(root, "usr/sbin/gromox-dbop", [
      "#!/bin/sh",
      "# TEST STAND-IN for gromox-dbop (cdktf-grommunio VM tests): -C loads the gromox schema",
      "set -eu",
      '[ "${1:-}" = -C ] || { echo "gromox-dbop stand-in: only -C" >&2; exit 2; }',
      "cfg=/etc/gromox/mysql_adaptor.cfg",
      'v() { sed -n "s/^$1[[:space:]]*=[[:space:]]*//p" $cfg | tail -n 1; }',
      "f=$(mktemp); trap 'rm -f \"$f\"' EXIT",
      "port=$(v mysql_port)",
      'printf "[client]\\nhost=%s\\nport=%s\\nuser=%s\\npassword=%s\\n" "$(v mysql_host)" "${port:-3306}" "$(v mysql_username)" "$(v mysql_password)" > "$f"',
      `mysql --defaults-file="$f" "$(v mysql_dbname)" < ${STANDIN_SCHEMA}`,
    ]);
    // The users and groups of gromox's sysusers file (gromox.md §1, §12): `gromox` runs the
    // services and owns the TLS key, `grommunio` owns the configuration, `gromoxcf` may read it.
    // The store roots' parents are the package's (the ShareNothing store-root step copies their
    // owner and mode).
    const postinst = [
      "#!/bin/sh",
      "set -e",
      "getent group gromoxcf >/dev/null || groupadd --system gromoxcf",
      "for u in gromox grommunio; do",
      '  getent passwd "$u" >/dev/null || useradd --system --user-group --home-dir /var/lib/gromox --no-create-home --shell /usr/sbin/nologin "$u"',
      '  usermod -a -G gromoxcf "$u"',
      "done",
      "install -d -o gromox -g gromox -m 0750 /var/lib/gromox",
      "install -d -o gromox -g gromox -m 0770 /var/lib/gromox/user /var/lib/gromox/domain",
      "chgrp gromoxcf /etc/gromox && chmod 0750 /etc/gromox",
      "",
    ];
    fs.writeFileSync(path.join(root, "DEBIAN", "postinst"), postinst.join("\n"), { mode: 0o755 });
  }
  if (name === "grommunio-admin-api") {
    stubUnit(root, "grommunio-admin-api", "the admin API");
    script(root, "usr/sbin/grommunio-admin", [
      "#!/bin/sh",
      "# TEST STAND-IN for grommunio-admin (cdktf-grommunio VM tests): does nothing",
      'echo "grommunio-admin stand-in: $1 (nothing done)" >&2',
    ]);
  }
  if (NGINX_INCLUDE_PACKAGES.includes(name)) {
    for (const kind of ["upstreams.d", "locations.d"]) {
      const dir = path.join(root, "usr", "share", "grommunio-common", "nginx", kind);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `${name}.conf`), `# TEST STAND-IN for ${name}'s nginx ${kind} include (empty)\n`);
    }
  }
  sh("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", root, path.join(pool, `${name}_0.0~vmtest1_all.deb`)]);
}

/**
 * Builds (or reuses) the repository for `packages` (what the booted nodes' cloud-config installs)
 * on top of the image `rootfs` whose cache key is `imageKey`.
 */
export function ensureRepo(cacheDir: string, imageKey: string, rootfs: string, packages: readonly string[]): LocalRepo {
  const wanted = [...new Set(packages)].sort();
  const debian = wanted.filter((p) => !isGrommunioPackage(p));
  const standIns = wanted.filter(isGrommunioPackage);
  const key = createHash("sha256")
    .update(
      JSON.stringify({ REPO_FORMAT, imageKey, wanted, GROMOX_UNITS, schema: fs.readFileSync(SCHEMA_SQL, "utf8") }),
    )
    .digest("hex")
    .slice(0, 16);
  const dir = path.join(cacheDir, `repo-${key}`);
  const t0 = Date.now();
  if (fs.existsSync(path.join(dir, "complete"))) {
    const n = fs.readdirSync(path.join(dir, "debian", "pool")).length;
    return { dir, key, built: false, seconds: 0, debianPackages: n, standIns };
  }
  const work = fs.mkdtempSync(`${dir}.build.`);
  try {
    const image = imageManifest(rootfs);
    const need = [...closure(debian)].filter(([name, version]) => image.get(name) !== version);
    const pool = path.join(work, "debian", "pool");
    fs.mkdirSync(pool, { recursive: true });
    if (need.length > 0) {
      sh("apt-get", ["-q", "-o", "APT::Sandbox::User=root", "download", ...need.map(([n, v]) => `${n}=${v}`)], {
        cwd: pool,
      });
      for (const f of fs.readdirSync(pool)) recompressDeb(path.join(pool, f));
    }
    index(path.join(work, "debian"), "bookworm");
    const gpool = path.join(work, "grommunio", "pool");
    fs.mkdirSync(gpool, { recursive: true });
    for (const name of standIns) standIn(name, gpool, fs.mkdtempSync(path.join(work, "standin-")));
    index(path.join(work, "grommunio"), "Debian_12");
    for (const d of fs.readdirSync(work))
      if (d.startsWith("standin-")) fs.rmSync(path.join(work, d), { recursive: true });
    fs.writeFileSync(path.join(work, "complete"), wanted.join("\n") + "\n");
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(work, dir);
  } catch (e) {
    fs.rmSync(work, { recursive: true, force: true });
    throw e;
  }
  return {
    dir,
    key,
    built: true,
    seconds: (Date.now() - t0) / 1000,
    debianPackages: fs.readdirSync(path.join(dir, "debian", "pool")).length,
    standIns,
  };
}

export interface RepoServer {
  readonly port: number;
  /** Requests answered 404 (a package the repository lacks). */
  readonly misses: string[];
  readonly requests: () => number;
  close(): Promise<void>;
}

/** Serves `dir` read-only on 127.0.0.1 (GET/HEAD of files; nothing else). */
export async function serveRepo(dir: string): Promise<RepoServer> {
  const misses: string[] = [];
  let requests = 0;
  const root = path.resolve(dir);
  const server = http.createServer((req, res) => {
    requests++;
    const url = decodeURIComponent((req.url ?? "/").split("?")[0]!);
    const file = path.resolve(root, "." + url);
    let st: fs.Stats | undefined;
    try {
      st = file.startsWith(root + path.sep) ? fs.statSync(file) : undefined;
    } catch {
      st = undefined;
    }
    if (!st || !st.isFile() || (req.method !== "GET" && req.method !== "HEAD")) {
      misses.push(url);
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Length": st.size, "Content-Type": "application/octet-stream" });
    if (req.method === "HEAD") res.end();
    else fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as { port: number }).port,
    misses,
    requests: () => requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
