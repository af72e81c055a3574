/**
 * Issue 4's acceptance: for EVERY node of EVERY example stack (`buildExamples`, discovered, see
 * example-nodes.ts), the user-data as the platform delivers it (Terraform expressions evaluated
 * with fake secrets and a throw-away TLS pair, transport encodings and gzip undone)
 *
 * 1. passes `cloud-init schema` and the strict checker (cloud-init.ts: unknown top-level keys,
 *    every gz+b64 file decodes), and carries, with the node's bundle where the platform has a
 *    file store (AWS S3, written as the first-boot fetch writes it), exactly the files the cluster
 *    provisioned;
 * 2. every decoded file passes its own validator, on the decoded bytes at its real absolute path.
 *    Where secrets come from a platform store (AWS SSM), the first-boot fetch is emulated: each
 *    template of the manifest is rendered with the value Terraform puts into the store, and the
 *    final file is validated at its final path.
 *    Per node, one private mount namespace (validators.md §2) in which the node's files (with
 *    their modes) lie over this Debian host's tree (a read-only overlayfs per top-level directory),
 *    throw-away certificates stand where a config names one that is not generated, the node's
 *    /etc/hosts is /etc/hosts and name lookups use files only. There run: haproxy -c -dW, nginx -t
 *    (Debian's nginx.conf reading the node's conf.d; stand-alone nginx snippets wrapped in a server
 *    block), nft -c -f, getent (every /etc/hosts name resolves as written), systemd-analyze verify
 *    (units and drop-ins), apt-get --print-uris update (deb822 sources), mariadbd --help --verbose
 *    (every server option takes effect over Debian's 50-server.cnf), mariadb --help --verbose
 *    (client option files), PyYAML safe_load (what grommunio-admin-api reads with), openssl on PEM
 *    files (parse; each key matches a certificate; keys not world-readable) and scripts
 *    (executable, interpreter present, syntax, imports available). Postfix runs in its own sandbox
 *    (postfix-sandbox.ts: postfix check, postconf -M/-n/-P without a warning, no service twice);
 *    gromox files go through checkGromoxConfig; a stack's SQL files run in boot order, each twice
 *    (they claim to be idempotent), against a real MariaDB with the schema fixture.
 *    A separate test feeds one defect per namespace validator and expects each to be reported.
 *
 * Files no validator covers are listed and must equal `UNVALIDATED`, an explicit allow-list: a new
 * file type is a deliberate decision. The output ends with a summary per example: nodes, files per
 * validator, and the largest user-data against its platform's limit (and its synth-time bound).
 *
 *   npx jest test/system/examples.test.ts --selectProjects system
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { checkUserData, CheckedFile } from "./cloud-init";
import { ExampleNode, exampleStacks } from "./example-nodes";
import { checkGromoxConfig } from "./gromox-checker";
import { loadSchemaFixture, MariadbServer, startMariadb } from "./mariadb-server";
import { selfSignedCert } from "./nginx-harness";
import { duplicateServices, preparePostfixSandbox } from "./postfix-sandbox";
import { requireProgram, run, scratchDir } from "./support";
import { CONTAINER_MANIFEST_PATH, CONTAINER_PROVISION_DIR } from "../../lib/provision/container";
import { FILES_MANIFEST_PATH } from "../../lib/provision/bundle";
import { STORE_SERVERS_EACH } from "../../lib/provision/node";

jest.setTimeout(120_000);

/**
 * Generated files that no validator checks, on purpose. Keep this list exact: the test fails when
 * a file listed here is no longer generated, and when a new unvalidated file appears.
 */
const UNVALIDATED: readonly string[] = [
  // PAM stack for SMTP AUTH (saslauthd -> PAM -> pam_gromox.so). pam_gromox is not in Debian and
  // no Debian package checks a PAM file offline (pamtester would need the module and a user).
  "/etc/pam.d/smtp",
  // grommunio's admin password until first boot sets it (`grommunio-admin passwd --password
  // "$(cat …)"`, then removed): a bare secret, nothing parses it. Its placeholder (secret-store
  // platforms) is checked like every template's.
  "/etc/grommunio-cluster/admin-password",
  // Cyrus SASL application file, read by libsasl2 inside smtpd at run time; postfix does not parse
  // it (postfix check is silent on any content) and Debian has no checker for it.
  "/etc/postfix/sasl/smtpd.conf",
];

/**
 * Files the configs include that packages from grommunio's repository install (not in Debian 12,
 * so not on this host): nginx -t gets an empty stand-in, so it checks our files, not theirs.
 */
const PACKAGE_FILE_PREFIXES: readonly string[] = ["/usr/share/grommunio-common/"];

/** Validator names, as counted in the summary. */
const V = {
  cloudInit: "cloud-init schema + strict checker (user-data)",
  haproxy: "haproxy -c -dW",
  nginx: "nginx -t",
  nginxSnippet: "nginx -t (snippet in a server block)",
  postfix: "postfix check + postconf -M/-n/-P",
  gromox: "checkGromoxConfig",
  nft: "nft -c -f",
  hosts: "getent hosts",
  systemd: "systemd-analyze verify",
  apt: "apt-get --print-uris update",
  mariadbd: "mariadbd --help --verbose",
  mariadbClient: "mariadb --help --verbose; mariadb-admin, mariadb-dump --help",
  yaml: "PyYAML safe_load + yaml (strict)",
  script: "script: executable, syntax, imports",
  pem: "openssl (PEM parses, key matches a certificate, key not world-readable)",
  secrets: "secret manifest + templates (rendered as at first boot)",
  files: "files manifest (names the node's bundle: key and sha256 of the stored document)",
  container: "container bootstrap manifest (JSON; every file uploaded with its mode)",
  sql: "MariaDB 10.11 + schema fixture, each run twice",
  exports: "exportfs -ra (exported directories made in a private tmpfs)",
  storeServers: "getent hosts (each store server the admin node mounts from)",
} as const;
type ValidatorName = (typeof V)[keyof typeof V];

/** Option groups mariadbd / the mariadb client read. */
const SERVER_GROUPS = ["mysqld", "server", "mariadb", "mariadbd", "mysqld-10.11", "mariadb-10.11", "mariadbd-10.11"];
const CLIENT_GROUPS = ["client", "client-server", "client-mariadb", "mysql", "mariadb-client"];
/** SQL files in the order the nodes run them: bootstrap before gromox-dbop -C (the schema), the rest after. */
// The database node grants the map reader once the schema node's seed has created the map view.
const SQL_ORDER = ["database-bootstrap.sql", "@schema", "servers-seed.sql", "map-reader-grants.sql"];

const STACKS = exampleStacks();
const counts = new Map<string, Map<ValidatorName, number>>();
const unvalidatedSeen = new Map<string, string[]>(); // path -> stack/node
const standIns = new Set<string>(); // package files given an empty stand-in
const unitStandIns = new Set<string>(); // systemd units of packages given an empty stand-in
const sqlFiles = new Map<string, Array<{ node: string; path: string; text: string }>>(); // stack -> files

function count(stack: string, v: ValidatorName): void {
  const m = counts.get(stack) ?? new Map<ValidatorName, number>();
  m.set(v, (m.get(v) ?? 0) + 1);
  counts.set(stack, m);
}

/** One file at its real path: the decoded bytes as the node writes them (appends applied). */
interface NodeFile {
  readonly path: string;
  readonly text: string;
  readonly entry: CheckedFile;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Does one of `configs` name `file` (absolute path, or an `include` glob relative to `base`)? */
function referenced(file: string, configs: ReadonlyArray<{ path: string; text: string }>, base: string): boolean {
  return configs.some((c) => {
    if (c.path === file) return false;
    if (c.text.includes(file)) return true;
    for (const m of c.text.matchAll(/^\s*include\s+(\S+?);/gm)) {
      const pattern = path.posix.resolve(base, m[1]!);
      if (new RegExp(`^${escapeRe(pattern).replace(/\\\*/g, "[^/]*")}$`).test(file)) return true;
    }
    return false;
  });
}

/** The effective main config: the node's, else this host's (Debian's) at that path. */
function mainConfig(files: readonly NodeFile[], p: string): { path: string; text: string } | undefined {
  const own = files.find((f) => f.path === p);
  if (own) return own;
  return fs.existsSync(p) ? { path: p, text: fs.readFileSync(p, "utf8") } : undefined;
}

/** Which validator covers each file (undefined: none). */
function classify(files: readonly NodeFile[]): Map<string, ValidatorName | undefined> {
  const under = (dir: string) => files.filter((f) => f.path.startsWith(dir));
  const nginxConfigs = [...under("/etc/nginx/"), ...[mainConfig(files, "/etc/nginx/nginx.conf")].filter((x) => !!x)];
  const postfixConfigs = files.filter((f) => /^\/etc\/postfix\/(main|master)\.cf$/.test(f.path));
  const out = new Map<string, ValidatorName | undefined>();
  for (const f of files) {
    const p = f.path;
    let v: ValidatorName | undefined;
    if (p === "/etc/haproxy/haproxy.cfg") v = V.haproxy;
    else if (p.startsWith("/etc/haproxy/"))
      v = referenced(p, under("/etc/haproxy/"), "/etc/haproxy") ? V.haproxy : undefined;
    else if (p === "/etc/nginx/nginx.conf") v = V.nginx;
    else if (p.startsWith("/etc/nginx/")) v = referenced(p, nginxConfigs, "/etc/nginx") ? V.nginx : undefined;
    else if (/\/nginx\/[^/]+\.conf$|\/nginx[^/]*\.conf$/.test(p)) v = V.nginxSnippet;
    else if (/^\/etc\/postfix\/(main|master)\.cf$/.test(p)) v = V.postfix;
    else if (p.startsWith("/etc/postfix/")) v = referenced(p, postfixConfigs, "/etc/postfix") ? V.postfix : undefined;
    else if (p.startsWith("/etc/gromox/")) v = V.gromox;
    else if (p === "/etc/nftables.conf") v = V.nft;
    else if (p === "/etc/exports") v = V.exports;
    else if (p === "/etc/grommunio-cluster/store-servers") v = V.storeServers;
    else if (p === "/etc/hosts") v = V.hosts;
    else if (p.startsWith("/etc/systemd/system/")) v = V.systemd;
    else if (/^\/etc\/apt\/sources\.list\.d\/[^/]+\.sources$/.test(p)) v = V.apt;
    else if (/^\/etc\/mysql\/.*\.cnf$/.test(p)) v = V.mariadbd;
    else if (p.endsWith(".cnf")) v = V.mariadbClient;
    else if (/\.ya?ml$/.test(p)) v = V.yaml;
    else if (p.endsWith(".sql")) v = V.sql;
    else if (f.text.startsWith("#!")) v = V.script;
    else if (/^-----BEGIN [A-Z ]+-----$/m.test(f.text)) v = V.pem;
    out.set(p, v);
  }
  return out;
}

/** `[group]` → `key = value` pairs of a MySQL option file (includes are not followed). */
function optionGroups(text: string): Array<{ group: string; key: string; value: string }> {
  const out: Array<{ group: string; key: string; value: string }> = [];
  let group = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || /^[#;!]/.test(line)) continue;
    const g = /^\[([^\]]+)\]$/.exec(line);
    if (g) {
      group = g[1]!.trim().toLowerCase();
      continue;
    }
    const eq = line.indexOf("=");
    const key = (eq < 0 ? line : line.slice(0, eq)).trim().replace(/_/g, "-").toLowerCase();
    const value =
      eq < 0
        ? "TRUE"
        : line
            .slice(eq + 1)
            .trim()
            .replace(/^(['"])(.*)\1$/, "$2");
    out.push({ group, key, value });
  }
  return out;
}

/** A value as `--help --verbose` prints it: sizes in bytes, booleans TRUE/FALSE. */
function normalizeOption(value: string): string {
  const size = /^(\d+)([KMGT])$/i.exec(value);
  if (size) return String(Number(size[1]) * 1024 ** ("KMGT".indexOf(size[2]!.toUpperCase()) + 1));
  if (/^(on|true|yes)$/i.test(value)) return "TRUE";
  if (/^(off|false|no)$/i.test(value)) return "FALSE";
  return value;
}

/** The variables table of `--help --verbose` (after its `---- ----` line): name → value. */
function helpVariables(stdout: string): Map<string, string> {
  const lines = stdout.split("\n");
  const start = lines.findIndex((l) => /^-{5,} -{5,}/.test(l));
  const out = new Map<string, string>();
  for (const l of lines.slice(start + 1)) {
    const m = /^(\S+)\s+(.*)$/.exec(l);
    if (m) out.set(m[1]!, m[2]!.trim());
  }
  return out;
}

/** Every key `file` sets in `groups` must show up in `shown` with that value. */
function optionsTakeEffect(file: NodeFile, groups: readonly string[], shown: Map<string, string>, skip: string[]) {
  const problems: string[] = [];
  for (const o of optionGroups(file.text)) {
    if (!groups.includes(o.group) || skip.includes(o.key)) continue;
    const got = shown.get(o.key);
    if (got === undefined) problems.push(`${file.path}: [${o.group}] ${o.key} is not an option of the program`);
    else if (normalizeOption(got) !== normalizeOption(o.value)) {
      problems.push(`${file.path}: [${o.group}] ${o.key} = ${o.value}, but the program ends up with ${got}`);
    }
  }
  return problems;
}

/** A check run inside the node's namespace. */
interface Step {
  readonly validator: ValidatorName;
  readonly files: readonly string[];
  readonly command: string;
  judge(r: { rc: number; out: string; err: string }): string[];
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** argv: script, the node's packages (space-separated). Prints problems, exits 1 on any. */
const PY_IMPORTS = `import ast, importlib.util, sys
path, packages = sys.argv[1], set(sys.argv[2].split())
tree = ast.parse(open(path).read(), path)
missing = []
for n in ast.walk(tree):
    mods = [a.name for a in n.names] if isinstance(n, ast.Import) else [n.module] if isinstance(n, ast.ImportFrom) and n.level == 0 else []
    for m in mods:
        top = m.split(".")[0]
        if importlib.util.find_spec(top) is None and "python3-" + top.lower() not in packages:
            missing.append(m)
if missing:
    sys.exit("imports modules neither on this host nor in a package the node installs: " + ", ".join(missing))`;

const NGINX_OK = (conf: string) =>
  `nginx: the configuration file ${conf} syntax is ok\nnginx: configuration file ${conf} test is successful`;

/**
 * The namespace steps for one node. Writes what the configs need but the node does not get from
 * user-data into `root` (the node's tree): throw-away certificates, package-file stand-ins.
 */
function namespaceSteps(
  files: readonly NodeFile[],
  by: Map<string, ValidatorName | undefined>,
  root: string,
  packages: readonly string[],
  services: readonly string[] = [],
) {
  const steps: Step[] = [];
  const scratch = scratchDir("node-ns");
  const ofs = (v: ValidatorName) => files.filter((f) => by.get(f.path) === v);
  const place = (p: string, content: string) => {
    const target = path.join(root, p);
    if (files.some((f) => f.path === p) || fs.existsSync(target) || fs.existsSync(p)) return;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, content);
  };
  const plain = (validator: ValidatorName, paths: string[], command: string, expected: string): Step => ({
    validator,
    files: paths,
    command,
    judge: ({ rc, out, err }) =>
      rc === 0 && (out + err).trim() === expected.trim() ? [] : [`${command} (rc ${rc}): ${(out + err).trim()}`],
  });

  const haproxy = ofs(V.haproxy);
  if (haproxy.length > 0) {
    for (const f of haproxy) {
      for (const m of f.text.matchAll(/\b(crt|ca-file|crl-file)\s+(\/\S+)/g)) {
        place(m[2]!, m[1] === "crt" ? cert.pem + cert.key : cert.pem);
      }
    }
    const cmd = "haproxy -c -dW -f /etc/haproxy/haproxy.cfg";
    steps.push(
      plain(
        V.haproxy,
        haproxy.map((f) => f.path),
        cmd,
        "Configuration file is valid",
      ),
    );
  }

  const nginx = ofs(V.nginx);
  const snippets = ofs(V.nginxSnippet);
  for (const f of [...nginx, ...snippets]) {
    for (const m of f.text.matchAll(
      /^\s*(ssl_certificate|ssl_certificate_key|ssl_trusted_certificate)\s+(\/[^;\s]+);/gm,
    )) {
      place(m[2]!, m[1] === "ssl_certificate_key" ? cert.key : cert.pem);
    }
    for (const m of f.text.matchAll(/^\s*include\s+(\/[^;\s*]+);/gm)) {
      const p = m[1]!;
      if (PACKAGE_FILE_PREFIXES.some((x) => p.startsWith(x)) && !fs.existsSync(p)) {
        place(p, `# stand-in for ${p}, installed by a grommunio package (examples.test.ts)\n`);
        standIns.add(p);
      }
    }
  }
  if (nginx.length > 0) {
    const cmd = "nginx -t -c /etc/nginx/nginx.conf";
    steps.push(
      plain(
        V.nginx,
        nginx.map((f) => f.path),
        cmd,
        NGINX_OK("/etc/nginx/nginx.conf"),
      ),
    );
  }
  for (const f of snippets) {
    // A snippet (included by a package's server block) wrapped in a server block of its own.
    const wrapper = path.join(scratch, `snippet-${path.basename(f.path)}`);
    fs.writeFileSync(
      wrapper,
      `pid ${scratch}/nginx.pid;\nevents {}\nhttp {\n    server {\n        listen 127.0.0.1:8443 ssl;\n        include ${f.path};\n    }\n}\n`,
    );
    steps.push(plain(V.nginxSnippet, [f.path], `nginx -t -c ${wrapper}`, NGINX_OK(wrapper)));
  }

  for (const f of ofs(V.nft)) steps.push(plain(V.nft, [f.path], `nft -c -f ${f.path}`, ""));

  for (const f of ofs(V.storeServers)) {
    // The admin node's fstab step mounts <name>:<dir>: every name must resolve on the node.
    // Read back by the step's own loop (runs of numbered names expanded).
    const lines = f.text.split("\n").filter((l) => l.trim() !== "");
    steps.push({
      validator: V.storeServers,
      files: [f.path],
      command: `${STORE_SERVERS_EACH} getent hosts "$h" >/dev/null || echo "$h does not resolve"; done; done <<'EOF'\n${f.text}EOF`,
      judge: ({ out, err }) =>
        lines.length > 0 && (out + err).trim() === "" ? [] : [`${(out + err).trim() || "empty list"}`],
    });
  }

  for (const f of ofs(V.exports)) {
    // nfs-utils' parser on the node's /etc/exports: the exported directories (made at first boot)
    // and /var/lib/nfs exist only in a tmpfs of a nested namespace, so later steps see /var/lib as before.
    const dirs = [...new Set(f.text.split("\n").flatMap((l) => (/^\//.test(l) ? [l.split(/\s+/)[0]!] : [])))];
    const prepare = ["mount -t tmpfs tmpfs /var/lib", ...["/var/lib/nfs", ...dirs].map((d) => `mkdir -p ${sh(d)}`)];
    const script = [...prepare, "exportfs -ra"].join(" && ");
    steps.push(plain(V.exports, [f.path], `unshare -m sh -c ${sh(script)}`, ""));
  }

  for (const f of ofs(V.hosts)) {
    const want = new Map<string, Set<string>>();
    for (const line of f.text.split("\n")) {
      const [addr, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
      if (addr) for (const n of names) want.set(n, (want.get(n) ?? new Set()).add(addr));
    }
    steps.push({
      validator: V.hosts,
      files: [f.path],
      command: [...want.keys()].map((n) => `printf '%s ' ${sh(n)}; getent hosts ${sh(n)} || echo MISSING`).join("\n"),
      judge: ({ out, err }) => {
        const problems = err.trim() ? [`getent: ${err.trim()}`] : [];
        const got = new Map(
          out
            .trim()
            .split("\n")
            .map((l) => l.split(/\s+/))
            .map((w) => [w[0]!, w[1]!] as const),
        );
        for (const [name, addrs] of want) {
          if (!addrs.has(got.get(name) ?? "")) {
            problems.push(`${name} resolves to ${got.get(name)}, the file says ${[...addrs].join(" or ")}`);
          }
        }
        return problems;
      },
    });
  }

  const systemd = ofs(V.systemd);
  if (systemd.length > 0) {
    const units = new Set<string>();
    const unmatched: string[] = [];
    for (const f of systemd) {
      const rel = f.path.slice("/etc/systemd/system/".length);
      const unit = rel.includes(".d/") ? rel.slice(0, rel.indexOf(".d/")) : rel;
      // A prefix drop-in (`gromox-.service.d`) is verified with each of the node's units it applies to.
      const prefix = /^(.+-)\.service$/.exec(unit)?.[1];
      if (prefix === undefined) units.add(unit);
      else {
        const matched = services.filter((s) => s.startsWith(prefix)).map((s) => `${s}.service`);
        if (matched.length === 0) unmatched.push(f.path);
        for (const u of matched) units.add(u);
      }
    }
    for (const u of units) {
      // A unit a grommunio package installs (gromox-http, grommunio-admin-api): an empty service
      // stands in, so systemd-analyze loads the node's drop-ins onto it.
      const installed = ["/lib/systemd/system", "/usr/lib/systemd/system", "/etc/systemd/system"].some((d) =>
        fs.existsSync(path.join(d, u)),
      );
      if (!installed && !systemd.some((f) => f.path === `/etc/systemd/system/${u}`)) {
        place(`/etc/systemd/system/${u}`, "[Service]\nExecStart=/bin/true\n");
        unitStandIns.add(u);
      }
    }
    const cmd = `systemd-analyze verify --man=no ${[...units].map(sh).join(" ")}`;
    const step = plain(
      V.systemd,
      systemd.map((f) => f.path),
      cmd,
      "",
    );
    steps.push({
      ...step,
      judge: (r) => [
        ...unmatched.map((p) => `${p}: a prefix drop-in that none of the node's units reads`),
        ...step.judge(r),
      ],
    });
  }

  const apt = ofs(V.apt);
  if (apt.length > 0) {
    fs.mkdirSync(path.join(scratch, "apt-lists", "partial"), { recursive: true });
    fs.mkdirSync(path.join(scratch, "apt-cache"), { recursive: true });
    const command =
      `apt-get -o Dir::Etc::SourceList=/dev/null -o Dir::State::Lists=${scratch}/apt-lists ` +
      `-o Dir::Cache=${scratch}/apt-cache -o Debug::NoLocking=1 --print-uris update`;
    steps.push({
      validator: V.apt,
      files: apt.map((f) => f.path),
      command,
      judge: ({ rc, out, err }) => {
        const problems = rc !== 0 || err.trim() ? [`${command} (rc ${rc}): ${err.trim()}`] : [];
        for (const f of apt) {
          const field = (k: string) => new RegExp(`^${k}:\\s*(.+)$`, "m").exec(f.text)?.[1]?.trim().split(/\s+/) ?? [];
          for (const uri of field("URIs")) {
            for (const suite of field("Suites")) {
              const want = `'${uri.replace(/\/$/, "")}/dists/${suite}/InRelease'`;
              if (!out.includes(want)) problems.push(`${f.path}: apt would not fetch ${want}`);
            }
          }
        }
        return problems;
      },
    });
  }

  const server = ofs(V.mariadbd);
  if (server.length > 0) {
    // --help --verbose reads every option file and prints the outcome without starting InnoDB;
    // the scratch --datadir keeps even a mistake away from /var/lib/mysql.
    fs.mkdirSync(path.join(scratch, "datadir"));
    const command = `mariadbd --defaults-file=/etc/mysql/my.cnf --user=mysql --datadir=${scratch}/datadir --help --verbose`;
    steps.push({
      validator: V.mariadbd,
      files: server.map((f) => f.path),
      command,
      judge: ({ rc, out, err }) => {
        const noise = /Could not increase number of max_open_files|Could not open mysql\.plugin table/;
        const bad = err.split("\n").filter((l) => l.trim() && !noise.test(l));
        const problems = rc !== 0 || bad.length > 0 ? [`${command} (rc ${rc}): ${bad.join("\n")}`] : [];
        const shown = helpVariables(out);
        for (const f of server) problems.push(...optionsTakeEffect(f, SERVER_GROUPS, shown, []));
        return problems;
      },
    });
  }

  for (const f of ofs(V.mariadbClient)) {
    const command = `mariadb --defaults-file=${f.path} --help --verbose`;
    steps.push({
      validator: V.mariadbClient,
      files: [f.path],
      command,
      judge: ({ rc, out, err }) => [
        ...(rc !== 0 || err.trim() ? [`${command} (rc ${rc}): ${err.trim()}`] : []),
        // The password is never printed; every other setting must show.
        ...optionsTakeEffect(f, CLIENT_GROUPS, helpVariables(out), ["password"]),
      ],
    });
    // The other client programs read [client] too and refuse options they do not know (database=
    // there breaks mariadb-admin and mariadb-dump): operators run them with these files.
    const others = `for p in mariadb-admin mariadb-dump; do $p --defaults-file=${f.path} --help >/dev/null || echo "$p exit $?" >&2; done`;
    steps.push({
      validator: V.mariadbClient,
      files: [f.path],
      command: others,
      judge: ({ rc, err }) => (rc !== 0 || err.trim() ? [`${others} (rc ${rc}): ${err.trim()}`] : []),
    });
  }

  const yamls = ofs(V.yaml);
  if (yamls.length > 0) {
    const py = "import sys, yaml\nfor p in sys.argv[1:]:\n    print(p, type(yaml.safe_load(open(p))).__name__)";
    steps.push({
      validator: V.yaml,
      files: yamls.map((f) => f.path),
      command: `/usr/bin/python3 -c ${sh(py)} ${yamls.map((f) => sh(f.path)).join(" ")}`,
      judge: ({ rc, out, err }) => {
        const problems = rc !== 0 || err.trim() ? [`PyYAML (rc ${rc}): ${err.trim()}`] : [];
        const want = yamls.map((f) => `${f.path} dict`).join("\n");
        if (out.trim() !== want) problems.push(`PyYAML: every file must load as a mapping, got:\n${out}`);
        return problems;
      },
    });
  }

  for (const f of ofs(V.script)) {
    const interpreter = f.text.slice(2, f.text.indexOf("\n")).trim().split(/\s+/);
    const name = path.basename(interpreter[0] === "/usr/bin/env" ? interpreter[1]! : interpreter[0]!);
    // Python: compiles, and every module it imports is on this host or in a python3-<module>
    // package the node installs (python3-boto3 for boto3). Shells: sh -n / bash -n.
    const syntax = /^python3/.test(name)
      ? `/usr/bin/python3 -I -c ${sh(PY_IMPORTS)} ${f.path} ${sh(packages.join(" "))}`
      : /^(ba|da)?sh$/.test(name)
        ? `${name} -n ${f.path}`
        : `echo 'no syntax check for interpreter ${name}' >&2; false`;
    const command = `test -x ${interpreter[0]} && test -x ${f.path} && ${syntax}`;
    steps.push({
      validator: V.script,
      files: [f.path],
      command,
      judge: ({ rc, out, err }) =>
        rc !== 0 || (out + err).trim() ? [`${command} (rc ${rc}): ${(out + err).trim()}`] : [],
    });
  }
  const pems = ofs(V.pem);
  if (pems.length > 0) {
    const hasKey = (f: NodeFile) => /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(f.text);
    const hasCert = (f: NodeFile) => /-----BEGIN CERTIFICATE-----/.test(f.text);
    const command = pems
      .flatMap((f) => [
        `echo '== cert ${f.path}'`,
        ...(hasCert(f) ? [`openssl x509 -in ${f.path} -noout -pubkey || echo FAILED`] : []),
        `echo '== key ${f.path}'`,
        ...(hasKey(f) ? [`openssl pkey -in ${f.path} -pubout || echo FAILED`] : []),
      ])
      .join("\n");
    steps.push({
      validator: V.pem,
      files: pems.map((f) => f.path),
      command,
      judge: ({ rc, out, err }) => {
        const problems = rc !== 0 || err.trim() ? [`openssl (rc ${rc}): ${err.trim()}`] : [];
        const sections = new Map<string, string>();
        for (const part of out.split(/^== /m).filter(Boolean)) {
          const nl = part.indexOf("\n");
          sections.set(part.slice(0, nl), part.slice(nl + 1).trim());
        }
        const certKeys = pems.filter(hasCert).map((f) => sections.get(`cert ${f.path}`));
        for (const f of pems) {
          for (const kind of ["cert", "key"] as const) {
            if (
              (kind === "cert" ? hasCert(f) : hasKey(f)) &&
              /FAILED|^$/.test(sections.get(`${kind} ${f.path}`) ?? "")
            ) {
              problems.push(`${f.path}: openssl cannot read its ${kind === "cert" ? "certificate" : "private key"}`);
            }
          }
          if (hasKey(f)) {
            if (!certKeys.includes(sections.get(`key ${f.path}`)))
              problems.push(`${f.path}: the key matches no certificate of the node`);
            if ((parseInt(f.entry.permissions, 8) & 0o004) !== 0)
              problems.push(`${f.path}: private key with mode ${f.entry.permissions}`);
          }
        }
        return problems;
      },
    });
  }
  return { steps, scratch };
}

/**
 * Runs the steps in one private mount namespace: per top-level directory of `root` (the node's
 * files), a read-only overlayfs with the node's files over this host's; then a hosts-only
 * resolver, /etc/hosts (the node's, else localhost only) and scratch nginx log/lib directories.
 * (Not `runInSandbox`: its binds over /etc would sit under the /etc overlay.)
 */
function runSteps(steps: readonly Step[], root: string, scratch: string): string[] {
  if (steps.length === 0) return [];
  requireProgram("unshare", "util-linux");
  const out = path.join(scratch, "out");
  fs.mkdirSync(out);
  const nsswitch = fs.readFileSync("/etc/nsswitch.conf", "utf8");
  fs.writeFileSync(path.join(scratch, "nsswitch.conf"), nsswitch.replace(/^hosts:.*$/m, "hosts: files"));
  fs.writeFileSync(path.join(scratch, "hosts"), "127.0.0.1 localhost\n::1 localhost\n");
  for (const d of ["nginx-log", "nginx-lib"]) fs.mkdirSync(path.join(scratch, d));
  const script = ["set -e"];
  for (const top of fs.readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    script.push(`mount -t overlay overlay -o lowerdir=${root}/${top.name}:/${top.name} /${top.name}`);
  }
  script.push(`mount --bind ${scratch}/nsswitch.conf /etc/nsswitch.conf`);
  if (!fs.existsSync(path.join(root, "etc/hosts"))) script.push(`mount --bind ${scratch}/hosts /etc/hosts`);
  script.push(`mount --bind ${scratch}/nginx-log /var/log/nginx`, `mount --bind ${scratch}/nginx-lib /var/lib/nginx`);
  script.push("set +e");
  steps.forEach((s, i) =>
    script.push(`( ${s.command}\n) >${out}/${i}.out 2>${out}/${i}.err </dev/null; echo $? >${out}/${i}.rc`),
  );
  const r = run("unshare", ["-m", "sh", "-c", script.join("\n")], { timeoutMs: 60_000 });
  if (r.status !== 0) return [`namespace: rc ${r.status}: ${r.stdout}${r.stderr}`];
  return steps.flatMap((s, i) => {
    const read = (ext: string) => fs.readFileSync(path.join(out, `${i}.${ext}`), "utf8");
    const rc = Number(read("rc").trim());
    return s.judge({ rc, out: read("out"), err: read("err") }).map((p) => `${s.validator}: ${p}`);
  });
}

/** postfix check + postconf -M/-n/-P on the node's /etc/postfix, in the postfix sandbox. */
function checkPostfix(node: ExampleNode, files: readonly NodeFile[]): string[] {
  const pf = files
    .filter((f) => f.path.startsWith("/etc/postfix/"))
    .map((f) => ({ path: f.path, content: f.text, mode: f.entry.permissions, owner: f.entry.owner }));
  const hosts: Record<string, string> = {};
  for (const line of files.find((f) => f.path === "/etc/hosts")?.text.split("\n") ?? []) {
    const [addr, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (addr && /^\d+\.\d+\.\d+\.\d+$/.test(addr) && !addr.startsWith("127.")) for (const n of names) hosts[n] ??= addr;
  }
  const sb = preparePostfixSandbox(pf, { hosts, certificateName: `${node.node}.${node.cluster.domain}` });
  try {
    const problems: string[] = [];
    const check = sb.check();
    if (check.status !== 0 || (check.stdout + check.stderr).trim() !== "") {
      problems.push(`postfix check (rc ${check.status}): ${(check.stdout + check.stderr).trim()}`);
    }
    for (const flag of ["-M", "-n", "-P"]) {
      const r = sb.postconf(flag);
      const warnings = `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => /warning:/.test(l));
      if (r.status !== 0 || warnings.length > 0)
        problems.push(`postconf ${flag} (rc ${r.status}): ${warnings.join("\n")}`);
      const dup = flag === "-M" ? duplicateServices(r.stdout) : [];
      if (dup.length > 0) problems.push(`master.cf defines twice: ${dup.join(", ")}`);
    }
    return problems.map((p) => `${V.postfix}: ${p}`);
  } finally {
    sb.dispose();
  }
}

/**
 * A container's uploads as the node's files at their final paths (lib/provision/container.ts): the
 * bootstrap manifest says where staged copies belong (`stagedAt`, e.g. /etc/hosts, which the
 * runtime rewrites at every start and boot.sh overwrites) and each file's owner and mode; every
 * file it lists must be uploaded with that mode.
 */
function uploadedFiles(node: ExampleNode, root: string) {
  const problems: string[] = [];
  const uploads = node.uploads ?? [];
  const manifestUpload = uploads.find((u) => u.path === CONTAINER_MANIFEST_PATH);
  let manifest: { files: Array<{ path: string; owner: string; mode: string; stagedAt?: string }> } = { files: [] };
  try {
    manifest = JSON.parse(manifestUpload?.content.toString("utf8") ?? "");
  } catch (e) {
    problems.push(`${CONTAINER_MANIFEST_PATH}: ${manifestUpload ? (e as Error).message : "not uploaded"}`);
  }
  const listed = new Map(manifest.files.map((f) => [f.stagedAt ?? f.path, f]));
  const files: NodeFile[] = uploads.map((u) => {
    const m = listed.get(u.path);
    const finalPath = m?.path ?? u.path;
    if (m && m.mode !== u.permissions)
      problems.push(`${finalPath}: uploaded with mode ${u.permissions}, manifest says ${m.mode}`);
    const target = path.join(root, finalPath);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, u.content);
    fs.chmodSync(target, parseInt(u.permissions, 8));
    const entry: CheckedFile = {
      path: finalPath,
      owner: m?.owner ?? "root:root",
      permissions: u.permissions,
      encoding: "upload",
      append: false,
      defer: false,
      content: u.content,
      source: `${node.field} ${u.path}`,
    };
    return { path: finalPath, text: u.content.toString("utf8"), entry };
  });
  for (const f of manifest.files) {
    if (!uploads.some((u) => u.path === (f.stagedAt ?? f.path)))
      problems.push(`${f.path}: in the manifest, not uploaded`);
  }
  const bootstrap = files.filter((f) => f.path.startsWith(`${CONTAINER_PROVISION_DIR}/`)).map((f) => f.path);
  return {
    files: files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    bootstrap,
    problems: problems.map((p) => `${V.container}: ${p}`),
  };
}

/**
 * The first-boot fetch step of platforms with a file store (lib/provision/bundle.ts): the manifest
 * in the user-data names the node's bundle by key and sha256; the stored document must hash to it
 * (else the fetch program refuses it and the node gets none of its files).
 */
function checkFilesManifest(node: ExampleNode, files: readonly NodeFile[]) {
  const f = files.find((x) => x.path === FILES_MANIFEST_PATH);
  if (!node.bundle) return { covered: [], problems: f ? [`${V.files}: ${f.path} without a bundle`] : [] };
  if (!f) return { covered: [], problems: [`${V.files}: a bundle, but no ${FILES_MANIFEST_PATH}`] };
  const m = JSON.parse(f.text) as { version: number; key: string; sha256: string; bucket: string };
  const digest = createHash("sha256").update(node.bundle.document, "utf8").digest("hex");
  const problems: string[] = [];
  if (m.version !== 3) problems.push(`version ${m.version}`);
  if (Object.keys(m).sort().join(",") !== "bucket,key,sha256,version")
    problems.push(`fields ${Object.keys(m).join(",")}`);
  if (m.sha256 !== digest) problems.push(`pins ${m.sha256}, the stored bundle hashes to ${digest}`);
  if (m.key !== node.bundle.key || m.key !== `nodes/${node.node}/bundle.json`) problems.push(`key ${m.key}`);
  if (!/^[a-z0-9.-]{3,63}$/.test(m.bucket)) problems.push(`bucket ${m.bucket}`);
  return { covered: [f.path], problems: problems.map((p) => `${V.files}: ${f.path}: ${p}`) };
}

/**
 * The first-boot fetch step of platforms with a secret store (lib/provision/secrets.ts): a JSON
 * manifest names each secret's store location and each template's final path, owner and mode.
 * Renders every template as the fetch program would (values from the platform's store, as
 * Terraform fills it), writes it into the node's tree and returns it as a node file, so the final
 * file goes through its own validator like any other.
 */
function renderSecretTemplates(node: ExampleNode, files: readonly NodeFile[], root: string) {
  const rendered: NodeFile[] = [];
  const covered: string[] = [];
  const problems: string[] = [];
  for (const f of files.filter((x) => x.path.endsWith(".json"))) {
    let m: any;
    try {
      m = JSON.parse(f.text);
    } catch (e) {
      problems.push(`${f.path}: not JSON: ${(e as Error).message}`);
      continue;
    }
    if (typeof m?.placeholder !== "string" || !Array.isArray(m.files) || typeof m.secrets !== "object") continue;
    covered.push(f.path);
    const marker = String(m.placeholder).split("{id}")[0]!;
    for (const e of m.files as Array<{ template: string; path: string; mode: string; owner: string }>) {
      const template = files.find((x) => x.path === e.template);
      if (!template) {
        problems.push(`${f.path}: template ${e.template} of ${e.path} is not in the user-data`);
        continue;
      }
      covered.push(template.path);
      let text = template.text;
      for (const [id, location] of Object.entries<string>(m.secrets)) {
        const placeholder = String(m.placeholder).replace("{id}", id);
        if (text.includes(placeholder)) text = text.split(placeholder).join(node.secretValue(location));
      }
      if (text.includes(marker)) problems.push(`${e.path}: a placeholder the manifest has no secret for is left`);
      const target = path.join(root, e.path);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, text, { mode: parseInt(e.mode, 8) });
      fs.chmodSync(target, parseInt(e.mode, 8));
      rendered.push({
        path: e.path,
        text,
        entry: { ...template.entry, path: e.path, permissions: e.mode, owner: e.owner },
      });
    }
  }
  return { rendered, covered, problems: problems.map((p) => `${V.secrets}: ${p}`) };
}

/** In-process checks: gromox files, and YAML parsed strictly (duplicate keys, YAML 1.1 like PyYAML). */
function inProcessChecks(files: readonly NodeFile[], by: Map<string, ValidatorName | undefined>): string[] {
  const problems: string[] = [];
  for (const f of files) {
    if (by.get(f.path) === V.gromox)
      problems.push(...checkGromoxConfig(f.path, f.text).map((p) => `${V.gromox}: ${p}`));
    if (by.get(f.path) === V.yaml) {
      const doc = parseDocument(f.text, { version: "1.1", uniqueKeys: true, prettyErrors: false });
      for (const e of [...doc.errors, ...doc.warnings]) problems.push(`${V.yaml}: ${f.path}: ${e.message}`);
    }
  }
  return problems;
}

let cert: { pem: string; key: string };
/** One MariaDB for every stack's SQL files (each stack starts from a dropped database). */
let db: MariadbServer | undefined;
beforeAll(async () => {
  for (const [program, pkg] of [
    ["haproxy", "haproxy"],
    ["nginx", "nginx libnginx-mod-stream"],
    ["nft", "nftables"],
    ["getent", "libc-bin"],
    ["systemd-analyze", "systemd"],
    ["apt-get", "apt"],
    ["mariadbd", "mariadb-server"],
    ["mariadb", "mariadb-client"],
    ["mariadb-admin", "mariadb-client"],
    ["mariadb-dump", "mariadb-client"],
  ] as const) {
    requireProgram(program, pkg);
  }
  cert = selfSignedCert("mail.example.com");
  db = await startMariadb({ prefix: "examples-db" });
});
afterAll(() => db?.stop());

test("every example stack's nodes are found, on platforms whose user-data this test knows", () => {
  expect(STACKS.flatMap((s) => s.errors)).toEqual([]);
  expect(STACKS.filter((s) => s.nodes.length === 0).map((s) => s.stack)).toEqual([]);
});

describe.each(STACKS.map((s) => [s.stack, s] as const))("%s", (stackName, stack) => {
  test.each(stack.nodes.map((n) => [n.node, n] as const))(
    "%s: what the node receives passes cloud-init (user-data) and every file its validator",
    (_name, node) => {
      const root = scratchDir(`example-${node.node}`);
      let delivered: NodeFile[];
      const bootstrap: string[] = [];
      const problems: string[] = [];
      if (node.userData) {
        const result = checkUserData(node.userData, root);
        expect(result.problems).toEqual([]);
        count(stackName, V.cloudInit);
        const paths = [...new Set(result.files.map((f) => f.path))].sort();
        delivered = paths.map((p) => {
          const entry = result.files.filter((f) => f.path === p).at(-1)!;
          fs.chmodSync(path.join(root, p), parseInt(entry.permissions, 8));
          return { path: p, text: fs.readFileSync(path.join(root, p), "utf8"), entry };
        });
        // The files the first-boot fetch writes from the node's bundle (AWS: S3), as it writes them.
        for (const f of node.bundle?.files ?? []) {
          const target = path.join(root, f.path);
          fs.mkdirSync(path.dirname(target), { recursive: true });
          fs.writeFileSync(target, f.content);
          fs.chmodSync(target, parseInt(f.mode, 8));
          const entry: CheckedFile = {
            path: f.path,
            owner: f.owner,
            permissions: f.mode,
            encoding: "bundle",
            append: false,
            defer: true,
            content: Buffer.from(f.content, "utf8"),
            source: "bundle (file store)",
          };
          delivered.push({ path: f.path, text: f.content, entry });
        }
        delivered.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      } else {
        const uploaded = uploadedFiles(node, root);
        delivered = uploaded.files;
        bootstrap.push(...uploaded.bootstrap);
        problems.push(...uploaded.problems);
      }
      // Exactly the files the cluster provisioned (plus a container's own bootstrap files).
      const provisioned = node.cluster.provisioning.get(node.node)!.files.map((f) => f.path);
      expect(delivered.map((f) => f.path).filter((p) => !bootstrap.includes(p))).toEqual(
        [...new Set(provisioned)].sort(),
      );
      const secrets = renderSecretTemplates(node, delivered, root);
      const files = [...delivered, ...secrets.rendered];
      const manifest = checkFilesManifest(node, delivered);

      const by = classify(files);
      for (const p of secrets.covered) by.set(p, V.secrets);
      for (const p of manifest.covered) by.set(p, V.files);
      problems.push(...manifest.problems);
      for (const p of bootstrap) if (by.get(p) === undefined) by.set(p, V.container);
      problems.push(...secrets.problems, ...inProcessChecks(files, by));
      const packages = node.cluster.provisioning.get(node.node)!.packages;
      const services = node.cluster.provisioning.get(node.node)!.services;
      const { steps, scratch } = namespaceSteps(files, by, root, packages, services);
      problems.push(...runSteps(steps, root, scratch));
      if (files.some((f) => by.get(f.path) === V.postfix)) problems.push(...checkPostfix(node, files));
      expect(problems).toEqual([]);

      for (const f of files) {
        const v = by.get(f.path);
        if (v === undefined)
          unvalidatedSeen.set(f.path, [...(unvalidatedSeen.get(f.path) ?? []), `${stackName}/${node.node}`]);
        else if (v === V.sql) sqlFiles.set(stackName, [...(sqlFiles.get(stackName) ?? []), { node: node.node, ...f }]);
        else count(stackName, v);
      }
    },
  );

  test("SQL files: bootstrap, schema fixture, seed (with the map view), grants, each run twice against a real MariaDB", () => {
    const list = sqlFiles.get(stackName) ?? [];
    const unknown = list.filter((f) => !SQL_ORDER.includes(path.posix.basename(f.path)));
    expect(unknown.map((f) => `${f.node}:${f.path} (add it to SQL_ORDER)`)).toEqual([]);
    if (list.length === 0) return;
    const bootstrap = list.find((f) => f.path.endsWith("/database-bootstrap.sql"));
    const database = /CREATE DATABASE IF NOT EXISTS `([^`]+)`/.exec(bootstrap?.text ?? "")?.[1] ?? "grommunio";
    expect(db!.sqlAsRoot(`DROP DATABASE IF EXISTS \`${database}\`;`).status).toBe(0);
    const problems: string[] = [];
    for (const step of SQL_ORDER) {
      if (step === "@schema") {
        loadSchemaFixture(db!, database);
        continue;
      }
      for (const f of list.filter((x) => path.posix.basename(x.path) === step)) {
        // servers-seed.sql runs with db-client.cnf, which names the database.
        const inDb = step === "servers-seed.sql" ? database : undefined;
        for (const round of [1, 2]) {
          const r = db!.sqlAsRoot(f.text, inDb);
          if (r.status !== 0 || r.stderr.trim()) problems.push(`${f.node}:${f.path} run ${round}: ${r.stderr.trim()}`);
        }
        count(stackName, V.sql);
      }
    }
    expect(problems).toEqual([]);
    // The seed's rows are there, once each.
    const seeded = list.flatMap((f) =>
      [...f.text.matchAll(/^SET @grx_extname = '[^']*', @grx_servers = '(.*)';$/gm)].flatMap((m) =>
        (JSON.parse(m[1]!) as [number, string, string?][]).map(([id]) => String(id)),
      ),
    );
    const ids = db!.sqlAsRoot("SELECT id FROM servers ORDER BY id;", database).stdout.trim().split("\n").slice(1);
    expect(ids).toEqual([...new Set(seeded)].sort((a, b) => Number(a) - Number(b)));
  });
});

test("the namespace checks bite: one defect per validator is reported", () => {
  const other = selfSignedCert("other.example.com");
  const defects: Record<string, { text: string; mode?: string; expect: RegExp }> = {
    "/etc/hosts": { text: "127.0.0.1 localhost\n10.0.0.300 broken\n", expect: /broken resolves to MISSING/ },
    "/etc/haproxy/haproxy.cfg": {
      text: "global\n    bogus-keyword on\n",
      expect: /haproxy -c -dW.*unknown keyword 'bogus-keyword'/s,
    },
    // Read through Debian's nginx.conf (include /etc/nginx/conf.d/*.conf): the overlay works.
    "/etc/nginx/conf.d/bad.conf": {
      text: "server {\n    listen 127.0.0.1:8080;\n    bogus_directive on;\n}\n",
      expect: /unknown directive "bogus_directive" in \/etc\/nginx\/conf\.d\/bad\.conf:3/,
    },
    "/etc/nftables.conf": { text: "table inet t {\n chain c {\n  tcp dport 5000-\n }\n}\n", expect: /syntax error/ },
    "/etc/exports": {
      text: "/var/lib/gromox/user/x 10.10.10.21(rw,sync,no_subtree_chek)\n",
      expect: /exportfs.*unknown keyword "no_subtree_chek"/s,
    },
    "/etc/grommunio-cluster/store-servers": {
      text: "nosuch.example.invalid\n",
      expect: /nosuch\.example\.invalid does not resolve/,
    },
    "/etc/systemd/system/haproxy.service.d/x.conf": {
      text: "[Service]\nLimitNOFILEZ=1\n",
      expect: /Unknown key 'LimitNOFILEZ'/,
    },
    // (a prefix drop-in, read by a stand-in gromox-http.service)
    "/etc/systemd/system/gromox-.service.d/x.conf": {
      text: "[Unit]\nRequiresMountsFor=var/lib/gromox\n",
      expect: /RequiresMountsFor= path is not absolute, ignoring: var\/lib\/gromox/,
    },
    "/etc/apt/sources.list.d/x.sources": {
      text: "Types: deb\nURI: https://x.test\nSuites: s\n",
      expect: /Malformed entry/,
    },
    "/etc/mysql/mariadb.conf.d/40-early.cnf": {
      text: "[mariadbd]\nbind-address = 10.1.1.1\n",
      expect: /bind-address = 10\.1\.1\.1, but the program ends up with 127\.0\.0\.1/,
    },
    "/etc/x/client.cnf": { text: "[client]\nhots=10.0.0.1\n", expect: /unknown variable 'hots/ },
    "/etc/x/client-db.cnf": {
      text: "[client]\ndatabase=grommunio\n",
      expect: /mariadb-admin: unknown variable 'database=grommunio'/,
    },
    "/etc/x/list.yaml": { text: "- a\n- a\n", expect: /every file must load as a mapping/ },
    "/usr/local/sbin/x-missing": {
      text: "#!/usr/bin/python3\nimport no_such_module_grx\n",
      mode: "0755",
      expect: /imports modules .*: no_such_module_grx/,
    },
    "/usr/local/sbin/x-noexec": {
      text: "#!/bin/sh\ntrue\n",
      mode: "0644",
      expect: /test -x \/usr\/local\/sbin\/x-noexec.*\(rc 1\)/,
    },
    "/etc/x/tls/cert.pem": { text: cert.pem, expect: /$^/ },
    "/etc/x/tls/key.pem": { text: other.key, mode: "0644", expect: /key matches no certificate.*|mode 0644/ },
  };
  const root = scratchDir("example-bites");
  const files: NodeFile[] = Object.entries(defects).map(([p, d]) => {
    fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    fs.writeFileSync(path.join(root, p), d.text);
    fs.chmodSync(path.join(root, p), parseInt(d.mode ?? "0644", 8));
    const entry = { path: p, owner: "root:root", permissions: d.mode ?? "0644", encoding: "text/plain", append: false };
    return { path: p, text: d.text, entry: { ...entry, defer: false, content: Buffer.from(d.text), source: "test" } };
  });
  const by = classify(files);
  const { steps, scratch } = namespaceSteps(files, by, root, [], ["gromox-http"]);
  const problems = runSteps(steps, root, scratch);
  for (const [p, d] of Object.entries(defects)) {
    if (d.expect.source === "$^") continue;
    expect([p, problems.filter((x) => d.expect.test(x)).length > 0]).toEqual([p, true]);
  }
  expect(problems.filter((x) => /key\.pem: private key with mode 0644/.test(x))).toHaveLength(1);
});

test("files no validator covers are exactly the allow-list", () => {
  const seen = [...unvalidatedSeen.keys()].sort();
  console.log(
    "generated files no validator covers (allow-listed in examples.test.ts):\n" +
      seen.map((p) => `  ${p}  (${unvalidatedSeen.get(p)!.length} nodes)`).join("\n") +
      (standIns.size > 0
        ? `\npackage files given an empty stand-in for nginx -t:\n  ${[...standIns].sort().join("\n  ")}`
        : "") +
      (unitStandIns.size > 0
        ? `\nunits given an empty stand-in for systemd-analyze verify:\n  ${[...unitStandIns].sort().join("\n  ")}`
        : ""),
  );
  expect(seen).toEqual([...UNVALIDATED].sort());
});

test("what each node receives is within its platform's limit and the synth-time bound", () => {
  const over = STACKS.flatMap((s) => s.nodes)
    .filter((n) => n.deliveredBytes !== undefined)
    .filter((n) => n.deliveredBytes! > n.limitBytes! || n.boundBytes === undefined || n.deliveredBytes! > n.boundBytes)
    .map((n) => `${n.stack}/${n.node}: ${n.deliveredBytes} B (bound ${n.boundBytes} B, limit ${n.limitBytes} B)`);
  expect(over).toEqual([]);
});

afterAll(() => {
  const lines = ["examples: nodes, files checked per validator, largest user-data against its platform's limit"];
  for (const s of STACKS) {
    lines.push(`${s.stack} (${s.platforms.join(", ")}): ${s.nodes.length} nodes`);
    for (const [v, n] of [...(counts.get(s.stack) ?? [])].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`  ${String(n).padStart(4)}  ${v}`);
    }
    const sized = s.nodes.filter((n) => n.deliveredBytes !== undefined && n.limitBytes !== undefined);
    const share = (n: ExampleNode) => n.deliveredBytes! / n.limitBytes!;
    const largest = [...sized].sort((a, b) => share(b) - share(a))[0];
    if (largest) {
      lines.push(
        `  largest user-data: ${largest.node}, ${largest.deliveredBytes} B of ${largest.limitBytes} B ` +
          `(${(100 * share(largest)).toFixed(1)} %; synth-time bound ${largest.boundBytes} B), ` +
          `${largest.field}${largest.gzip ? ", gzip" : ""}`,
      );
    } else {
      lines.push(`  no user-data: ${s.nodes[0]?.field ?? "no nodes"}`);
    }
  }
  console.log(lines.join("\n"));
});
