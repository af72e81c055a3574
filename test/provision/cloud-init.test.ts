import "cdktf/lib/testing/adapters/jest";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { gunzipSync } from "node:zlib";
import { DefaultTokenResolver, StringConcat, TerraformStack, Testing, Tokenization } from "cdktf";
import { Password } from "@cdktf/provider-random/lib/password";
import { PrivateKey } from "@cdktf/provider-tls/lib/private-key";
import { SelfSignedCert } from "@cdktf/provider-tls/lib/self-signed-cert";
import { Document, Scalar, parse, visit } from "yaml";
import {
  BOOTCMD_STOP_ON_ERROR,
  RUNCMD_STOP_ON_ERROR,
  SERVICES_LOOP_FROM,
  servicesCommand,
  servicesSteps,
  BLOCK_MOUNT_SCRIPT,
  ConfigFile,
  DB_CLIENT_CNF,
  FileCompression,
  NodeProvisioning,
  SQL_FILES,
  TokenRegistry,
  accountsBootcmd,
  buildTopology,
  cloudConfigObject,
  pinnedAccounts,
  provisionNode,
  renderCloudConfig,
  toTerraformString,
} from "../../lib";
import { FAKE_TLS_CERT_PEM, FAKE_TLS_KEY_PEM, evaluateTemplate } from "../platforms/terraform-eval";
import { renderNodeFiles } from "../../lib/render/node";
import { documentedLayout } from "../fixtures";

// Node-aware routing: the load balancers' map job reads the database as the map reader.
const topology = buildTopology(
  documentedLayout({ database: { node: "db1", password: "db-secret", mapReaderPassword: "map-secret" } }),
);
const SQL = {
  bootstrap: "CREATE DATABASE x;\n",
  seed: "INSERT INTO servers VALUES (1);\n",
  mapReaderGrants: "GRANT SELECT;\n",
};

function prov(name: string, extra: Partial<Parameters<typeof provisionNode>[0]> = {}) {
  const node = topology.node(name);
  return provisionNode({
    topology,
    node,
    files: renderNodeFiles(topology, node),
    os: "debian-12",
    mounts: [],
    sql: SQL,
    ...extra,
  });
}

function render(p: NodeProvisioning, tokens = new TokenRegistry()) {
  const r = renderCloudConfig(p, tokens, "c/x");
  return { ...r, config: parse(r.text, { version: "1.1" }) as Record<string, any> };
}

describe("provisionNode", () => {
  test("packages and repositories follow the node's daemons", () => {
    expect(prov("mail2").provisioning.packages).toEqual(
      expect.arrayContaining(["gromox", "grommunio-web", "nginx", "php-fpm", "mariadb-client"]),
    );
    expect(prov("mail1").provisioning.packages).toEqual(expect.arrayContaining(["grommunio-admin-api", "php-cli"]));
    expect(prov("classic1").provisioning.packages).toEqual(
      expect.arrayContaining(["gromox", "postfix", "postfix-mysql", "rspamd", "sasl2-bin"]),
    );
    expect(prov("lb1").provisioning.packages).toEqual(["haproxy", "mariadb-client", "socat"]);
    // failover/rebalance run on the database node: the mariadb client, ssh for --reload ssh
    expect(prov("db1").provisioning.packages).toEqual(["mariadb-client", "mariadb-server", "openssh-client"]);
    expect(prov("db1").provisioning.repositories).toEqual([]);
    expect(prov("mail2").provisioning.repositories).toEqual([
      expect.objectContaining({ uris: "https://download.grommunio.com/community/Debian_12", suites: "Debian_12" }),
    ]);
    expect(prov("mail2", { os: "ubuntu-24.04" }).provisioning.services).toContain("php8.3-fpm");
  });

  test("services start in dependency order", () => {
    expect(prov("mail1").provisioning.services).toEqual([
      "gromox-event",
      "gromox-timer",
      "gromox-http",
      "gromox-midb",
      "gromox-zcore",
      "php8.2-fpm",
      "grommunio-admin-api",
      "nginx",
    ]);
    expect(prov("classic1").provisioning.services).toEqual([
      "gromox-delivery-queue",
      "gromox-delivery",
      "gromox-imap",
      "gromox-pop3",
      "rspamd",
      "saslauthd",
      "postfix",
    ]);
    // the map job's timer after the HAProxy it loads the map into
    expect(prov("lb1").provisioning.services).toEqual(["haproxy", "grommunio-mailbox-map.timer"]);
    expect(prov("db1").provisioning.services).toEqual(["mariadb"]);
  });

  test("the schema is created on exactly one node; the others wait for it", () => {
    const dbop = topology.nodes.filter((n) =>
      prov(n.name).provisioning.commands.some((c) => c.shell.includes("gromox-dbop -C")),
    );
    expect(dbop.map((n) => n.name)).toEqual([topology.schemaUpgradeNode.name]);
    const seed = topology.nodes.filter((n) => prov(n.name).provisioning.files.some((f) => f.path === SQL_FILES.seed));
    expect(seed.map((n) => n.name)).toEqual(["mail1"]);
    expect(prov("mail2").provisioning.commands).toEqual([
      expect.objectContaining({ phase: "before-services", shell: expect.stringContaining("SELECT 1 FROM servers") }),
    ]);
    expect(prov("db1").provisioning.commands.map((c) => [c.phase, c.shell.includes(SQL_FILES.bootstrap)])).toEqual([
      ["after-services", true],
      ["after-services", false],
    ]);
    expect(prov("lb1").provisioning.commands).toEqual([]);
  });

  test("files: rendered ones late, APT source early, database client file 0600 root", () => {
    const p = prov("mail2").provisioning;
    expect(p.files.find((f) => f.path === "/etc/apt/sources.list.d/grommunio.sources")).toMatchObject({
      stage: "early",
      owner: "root:root",
    });
    expect(p.files.find((f) => f.path === DB_CLIENT_CNF)).toMatchObject({
      stage: "late",
      mode: "0600",
      owner: "root:root",
    });
    // values quoted (a password may hold "#"); database only for the mariadb program ([mysql]):
    // mariadb-admin and mariadb-dump read [client] too and refuse it there
    expect(p.files.find((f) => f.path === DB_CLIENT_CNF)!.content.split("\n")).toEqual([
      "[client]",
      `host="${topology.database.host}"`,
      "port=3306",
      'user="grommunio"',
      'password="db-secret"',
      "[mysql]",
      'database="grommunio"',
      "",
    ]);
    expect(p.files.find((f) => f.path === "/etc/gromox/http.cfg")).toMatchObject({
      stage: "late",
      owner: "grommunio:gromoxcf",
      mode: "0640",
    });
    expect(p.files.map((f) => f.path)).toEqual([...p.files.map((f) => f.path)].sort());
  });

  test("a pinned key is shipped with the source; otherwise it is fetched once at boot", () => {
    const pinned = prov("mail2", {
      repository: { armoredKey: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n...\n", uris: "http://10.0.2.100/" },
    });
    expect(
      pinned.provisioning.files.find((f) => f.path === "/usr/share/keyrings/download.grommunio.com.asc"),
    ).toBeDefined();
    // (only the accounts' step: no key to fetch)
    expect(render(pinned.provisioning).config.bootcmd).toEqual([
      BOOTCMD_STOP_ON_ERROR,
      accountsBootcmd(pinnedAccounts()),
    ]);
    expect(render(pinned.provisioning).text).toContain("URIs: http://10.0.2.100/");
    const fetched = render(prov("mail2").provisioning).config.bootcmd as string[][];
    expect(fetched).toEqual([
      BOOTCMD_STOP_ON_ERROR,
      accountsBootcmd(pinnedAccounts()),
      expect.arrayContaining([
        "cloud-init-per",
        "once",
        "curl",
        "https://download.grommunio.com/RPM-GPG-KEY-grommunio",
      ]),
    ]);
  });
});

describe("renderCloudConfig", () => {
  test("a #cloud-config document with quoted permissions, deferred late files, ordered runcmd", () => {
    const { text, config, issues } = render(prov("mail1").provisioning);
    expect(issues).toEqual([]);
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    expect(text).toMatch(/permissions: "0640"/);
    for (const f of config.write_files) {
      expect(typeof f.permissions).toBe("string");
      expect(f.defer ?? false).toBe(f.path !== "/etc/apt/sources.list.d/grommunio.sources");
    }
    const runcmd = config.runcmd as string[];
    // (the first entry stops the script at the first failing step: nothing starts after it)
    expect(runcmd[0]).toBe(RUNCMD_STOP_ON_ERROR);
    expect(runcmd.filter((c) => c === "set -e")).toHaveLength(1);
    const reload = runcmd.indexOf("systemctl daemon-reload");
    expect(runcmd.slice(1, reload).some((c) => c.includes("gromox-dbop -C"))).toBe(true);
    // One step enables the services and restarts them one at a time, in order (the last step).
    const services = prov("mail1").provisioning.services;
    expect(services.slice(0, 3)).toEqual(["gromox-event", "gromox-timer", "gromox-http"]);
    expect(runcmd.slice(reload + 1)).toEqual([
      `s="${services.join(" ")}"; systemctl enable $s; for u in $s; do systemctl restart $u; done`,
    ]);
    expect(config).toMatchObject({
      hostname: "mail1",
      fqdn: "mail1.gro.at",
      manage_etc_hosts: false,
      package_update: true,
    });
  });

  test("runcmd under set -e: on every node the first entry, and no step hides a failure left of && (set -e ignores it)", () => {
    for (const n of topology.nodes) {
      const runcmd = render(prov(n.name).provisioning).config.runcmd as string[];
      expect(runcmd[0]).toBe(RUNCMD_STOP_ON_ERROR);
      // The steps (the database's grants after their wait, the store roots, ...) use `;` instead.
      for (const c of runcmd)
        expect({ node: n.name, c, and: c.includes("&&") }).toEqual({ node: n.name, c, and: false });
      expect(runcmd).toContain("systemctl daemon-reload");
    }
    // The firewall is restarted before every other service: its refusal stops them all.
    const withFirewall = prov("mail2", {
      files: [
        ...renderNodeFiles(topology, topology.node("mail2")),
        { path: "/etc/nftables.conf", content: "flush ruleset\n", mode: "0644", owner: "root:root" },
      ],
    }).provisioning;
    const runcmd = render(withFirewall).config.runcmd as string[];
    expect(withFirewall.services[0]).toBe("nftables");
    expect(runcmd).toContain(servicesCommand(withFirewall.services));
  });

  test("the services' steps: one loop step from SERVICES_LOOP_FROM services on, one entry per restart below; both run the same calls and stop at the first failing one", () => {
    // runcmd is one /bin/sh script: the steps after `set -e`, with a systemctl that logs its
    // arguments and fails for the unit in $FAIL
    const calls = (steps: string[], fail = "") =>
      spawnSync(
        "sh",
        ["-c", ['systemctl() { echo "$*"; [ "$*" != "restart $FAIL" ]; }', RUNCMD_STOP_ON_ERROR, ...steps].join("\n")],
        {
          env: { PATH: process.env.PATH, FAIL: fail },
          encoding: "utf8",
        },
      );
    for (const units of [["mariadb"], ["nftables", "mariadb"], ["nftables", "gromox-http", "php8.2-fpm", "nginx"]]) {
      const steps = servicesSteps(units);
      expect(steps.length === 1).toBe(units.length >= SERVICES_LOOP_FROM);
      if (units.length >= SERVICES_LOOP_FROM) expect(steps).toEqual([servicesCommand(units)]);
      const all = calls(steps);
      expect(all.status).toBe(0);
      expect(all.stdout).toBe([`enable ${units.join(" ")}`, ...units.map((u) => `restart ${u}`)].join("\n") + "\n");
      // the first unit's restart fails: nothing after it runs, the script fails
      const stopped = calls(steps, units[0]);
      expect(stopped.status).not.toBe(0);
      expect(stopped.stdout).toBe(`enable ${units.join(" ")}\nrestart ${units[0]}\n`);
    }
    expect(servicesSteps([])).toEqual([]);
    // the documented database node (mariadb and the firewall): one entry per restart
    const db = prov("db1").provisioning;
    expect(db.services.length).toBeLessThan(SERVICES_LOOP_FROM);
    expect(render(db).config.runcmd).toEqual(expect.arrayContaining(servicesSteps(db.services)));
  });

  test("every write_files entry decodes to exactly the provisioned file", () => {
    const p = prov("classic1").provisioning;
    const { config } = render(p);
    const byPath = new Map(p.files.map((f) => [f.path, f]));
    for (const e of config.write_files) {
      const content = e.encoding === "gz+b64" ? gunzipSync(Buffer.from(e.content, "base64")).toString() : e.content;
      expect(content).toBe(byPath.get(e.path)!.content);
      expect(e.owner).toBe(byPath.get(e.path)!.owner);
    }
    expect(config.write_files.some((e: { encoding?: string }) => e.encoding === "gz+b64")).toBe(true);
  });

  test("deterministic: the same provisioning renders the same bytes", () => {
    expect(render(prov("mail1").provisioning).text).toBe(render(prov("mail1").provisioning).text);
  });

  test("block volumes: waited for, formatted only when blank, mounted by label, before packages", () => {
    const p = prov("mail2", {
      mounts: [
        { kind: "block", device: "/dev/disk/by-id/nvme-x", label: "gromox-data", mountPoint: "/var/lib/gromox" },
      ],
    }).provisioning;
    const { config } = render(p);
    // (after `set -e` and the accounts' step)
    expect(config.bootcmd[2]).toEqual([
      "sh",
      "-c",
      BLOCK_MOUNT_SCRIPT,
      "grommunio-mount",
      "/dev/disk/by-id/nvme-x",
      "gromox-data",
      "/var/lib/gromox",
    ]);
    expect(BLOCK_MOUNT_SCRIPT).toMatch(/blkid -p "\$dev".*rc=\$\?\nif \[ "\$rc" -eq 2 \]; then mkfs\.ext4/s);
    expect(BLOCK_MOUNT_SCRIPT).toContain("LABEL=$label");
  });

  test("per-file-max also gzips files that shrink by less than a quarter", () => {
    const lines = Array.from(
      { length: 60 },
      (_, i) => `k${i}=${createHash("sha256").update(String(i)).digest("hex").slice(0, 8)}`,
    );
    const files: ConfigFile[] = [
      { path: "/etc/k.cfg", content: lines.join("\n") + "\n", mode: "0644", owner: "root:root" },
    ];
    const p = prov("db1", { files, sql: {} }).provisioning;
    const entry = (c: FileCompression) =>
      (
        parse(renderCloudConfig(p, new TokenRegistry(), "c/x", c).text).write_files as {
          path: string;
          encoding?: string;
        }[]
      ).find((f) => f.path === "/etc/k.cfg")!;
    expect(entry("per-file").encoding).toBeUndefined();
    expect(entry("per-file-max").encoding).toBe("gz+b64");
    expect(entry("none").encoding).toBeUndefined();
  });

  test("strings YAML 1.1 would turn into booleans or numbers stay strings", () => {
    const files: ConfigFile[] = [{ path: "/etc/x", content: "yes", mode: "0644", owner: "root:root" }];
    const p = prov("db1", { files, sql: {} }).provisioning;
    const { config } = render(p);
    expect(config.write_files.find((f: { path: string }) => f.path === "/etc/x").content).toBe("yes");
  });

  test("a password of letters and digits stays in the text; arbitrary ones go through Terraform base64", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const safe = new Password(stack, "a", { length: 32, special: false }).result;
    const any = new Password(stack, "b", { length: 64 }).result;
    const tokens = new TokenRegistry();
    tokens.declareToken(safe, { maxLength: 32, charset: "safe", description: "safe" });
    tokens.declareToken(any, { maxLength: 64, charset: "any", description: "any" });
    const files: ConfigFile[] = [
      { path: "/etc/a.cfg", content: `password=${safe}\n`, mode: "0600", owner: "root:root" },
      { path: "/etc/b.cfg", content: `password=${any}\n`, mode: "0600", owner: "root:root" },
    ];
    const { text, config, issues } = render(prov("db1", { files, sql: {} }).provisioning, tokens);
    expect(issues).toEqual([]);
    const a = config.write_files.find((f: { path: string }) => f.path === "/etc/a.cfg");
    expect(a.encoding).toBeUndefined();
    expect(a.content).toBe(`password=${safe}\n`);
    const b = config.write_files.find((f: { path: string }) => f.path === "/etc/b.cfg");
    expect(b.encoding).toBe("b64");
    expect(text).not.toContain(`password=${any}`);
  });
});

describe("PEM texts of the tls provider: a JSON string made by Terraform", () => {
  function setup() {
    const stack = new TerraformStack(Testing.app(), "t");
    const key = new PrivateKey(stack, "k", { algorithm: "ECDSA", ecdsaCurve: "P256" }).privateKeyPem;
    const cert = new SelfSignedCert(stack, "c", { privateKeyPem: key, validityPeriodHours: 1, allowedUses: [] })
      .certPem;
    const safe = new Password(stack, "a", { length: 32, special: false }).result;
    const any = new Password(stack, "b", { length: 64 }).result;
    const tokens = new TokenRegistry();
    tokens.declareToken(key, { maxLength: 241, charset: "pem", description: "key" });
    tokens.declareToken(cert, { maxLength: 800, charset: "pem", description: "cert" });
    tokens.declareToken(safe, { maxLength: 32, charset: "safe", description: "safe" });
    tokens.declareToken(any, { maxLength: 64, charset: "any", description: "any" });
    const files: ConfigFile[] = [
      { path: "/etc/tls/cert.pem", content: cert, mode: "0644", owner: "root:root" },
      { path: "/etc/tls/proxy.pem", content: `${cert}\n${key}`, mode: "0600", owner: "root:root" },
      { path: "/etc/tls/mixed.pem", content: `# ${safe}\n${key}`, mode: "0600", owner: "root:root" },
      { path: "/etc/tls/user.pem", content: `${key}${any}`, mode: "0600", owner: "root:root" },
      { path: "/etc/tls/odd.pem", content: `\u007f${key}`, mode: "0600", owner: "root:root" },
    ];
    return { stack, tokens, files, key, cert, safe };
  }

  /** The text with Terraform's values (fake PEMs, a fake password) as the node gets it. */
  function resolved(stack: TerraformStack, text: string): string {
    const template = Tokenization.resolve(toTerraformString(text), {
      scope: stack,
      resolver: new DefaultTokenResolver(new StringConcat()),
    }) as string;
    return evaluateTemplate(template);
  }

  test.each(["per-file", "per-file-max", "none"] as const)(
    "%s: plain jsonencode content, bounded, read back exactly",
    (c) => {
      const { stack, tokens, files } = setup();
      const r = renderCloudConfig(prov("db1", { files, sql: {} }).provisioning, tokens, "c/x", c);
      expect(r.issues).toEqual([]);
      const item = (path: string) => r.text.slice(r.text.indexOf(`path: ${path}`)).split("\n  - ")[0]!;
      // the whole content is one Terraform expression, written plain: its value is the quoted string
      for (const path of ["/etc/tls/cert.pem", "/etc/tls/proxy.pem", "/etc/tls/mixed.pem"]) {
        expect(item(path)).toMatch(/\n {4}content: \$\{TfToken\[TOKEN\.\d+\]\}\n/);
        expect(item(path)).not.toContain("encoding:");
      }
      // unknown characters: Terraform's base64 as before
      expect(item("/etc/tls/user.pem")).toMatch(/encoding: (b64|gz\+b64)/);
      expect(item("/etc/tls/odd.pem")).toMatch(/encoding: (b64|gz\+b64)/);
      const text = resolved(stack, r.text);
      expect(Buffer.byteLength(text, "utf8")).toBeLessThanOrEqual(r.maxBytes);
      expect(text).toContain(`content: ${JSON.stringify(FAKE_TLS_CERT_PEM)}\n`);
      const config = parse(text, { version: "1.1" }) as Record<string, any>;
      const content = (path: string) => config.write_files.find((f: { path: string }) => f.path === path).content;
      expect(content("/etc/tls/cert.pem")).toBe(FAKE_TLS_CERT_PEM);
      expect(content("/etc/tls/proxy.pem")).toBe(`${FAKE_TLS_CERT_PEM}\n${FAKE_TLS_KEY_PEM}`);
      expect(content("/etc/tls/mixed.pem")).toBe(`# ${"P".repeat(32)}\n${FAKE_TLS_KEY_PEM}`);
    },
  );

  test("the bound: quotes, literal escapes, each pem token with its newlines escaped", () => {
    const { tokens, cert, key } = setup();
    const j = tokens.jsonString(`${cert}\n${key}`, "x")!;
    // 2 quotes + cert (800 + ⌊800/65⌋ + 3) + "\\n" (2) + key (241 + ⌊241/65⌋ + 3)
    expect(j.maxLength).toBe(2 + 800 + 12 + 3 + 2 + 241 + 3 + 3);
    expect(tokens.isJsonToken(j.value)).toBe(true);
    expect(tokens.isJsonToken(cert)).toBe(false);
  });

  test("GRX302: a PEM or a JSON string outside a file's content", () => {
    const { tokens, key } = setup();
    const json = tokens.jsonString(key, "k")!.value;
    for (const value of [key, `x ${json}`]) {
      const p = prov("mail2", {
        mounts: [{ kind: "block", device: `/dev/${value}`, label: "data", mountPoint: "/srv" }],
      });
      const r = renderCloudConfig(p.provisioning, tokens, "c/x");
      expect(r.issues).toEqual([expect.objectContaining({ code: "GRX302", field: "user-data" })]);
    }
  });
});

/** The document serialized as one yaml Document (how renderCloudConfig did it before joining parts). */
function wholeDocument(p: NodeProvisioning, tokens: TokenRegistry, compression: FileCompression): string {
  const doc = new Document(cloudConfigObject(p, tokens, compression), { version: "1.1" });
  visit(doc, {
    Scalar(_key, node: Scalar) {
      if (typeof node.value === "string" && /\$\{TfToken\[/.test(node.value))
        node.type = tokens.isJsonToken(node.value)
          ? Scalar.PLAIN
          : node.value.includes("\n")
            ? Scalar.BLOCK_LITERAL
            : Scalar.QUOTE_DOUBLE;
    },
  });
  return "#cloud-config\n" + doc.toString({ lineWidth: 0, blockQuote: "literal" });
}

describe("renderCloudConfig joins separately serialized parts", () => {
  const compressions: FileCompression[] = ["per-file", "per-file-max", "none"];

  test("the same bytes as one yaml Document, for every node of the documented layout", () => {
    for (const node of topology.nodes) {
      for (const c of compressions) {
        const p = prov(node.name).provisioning;
        const tokens = new TokenRegistry();
        expect(renderCloudConfig(p, tokens, "c/x", c).text).toBe(wholeDocument(p, tokens, c));
        // again: items now come from the memo
        expect(renderCloudConfig(p, tokens, "c/x", c).text).toBe(wholeDocument(p, tokens, c));
      }
    }
  });

  test("the same bytes for awkward file contents (indentation, blank lines, markers, CR, tokens)", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const safe = new Password(stack, "a", { length: 32, special: false }).result;
    const any = new Password(stack, "b", { length: 64 }).result;
    const pem = new PrivateKey(stack, "k", { algorithm: "ECDSA", ecdsaCurve: "P256" }).privateKeyPem;
    const contents = [
      "",
      "\n",
      "\n\n\n",
      "yes",
      "0640",
      "  leading spaces\nsecond\n",
      "\n  after a blank first line\n",
      "a\n\n\nb\n",
      "a\n  \n\tb\n",
      "trailing blank lines\n\n\n",
      "no final newline",
      "a\n \n",
      "---\nkey: value\n...\n",
      "- item\n- other\n",
      "# comment\nx: 'y'\n\"z\"\n",
      "dos\r\nlines\r\n",
      "\r\n\r\n",
      "tab\tinside\n\tand leading\n",
      "unicode: ä ö ü € 😀\n",
      "line\u2028separators\u2029\u0085\u00a0\ufeff\n",
      "\n\n\n\n\n\na\n",
      "\u2028\u2028\u2028\u2028",
      "\x01\u2028\u2028\u2028",
      "  \n\n  \n",
      "x".repeat(5000) + "\n",
      "%YAML 1.1\n%TAG\n",
      `password=${safe}\n`,
      `${safe}`,
      `multi\n  ${safe}\n\nend\n`,
      `secret=${any}\n`,
      "$${literal} %{x}\n",
      `${pem}`,
      `${pem}\n${safe}\n`,
    ];
    const files: ConfigFile[] = contents.map((content, i) => ({
      path: `/etc/f${i}`,
      content,
      mode: "0644",
      owner: "root:root",
    }));
    const p = prov("db1", { files, sql: {} }).provisioning;
    for (const c of compressions) {
      const tokens = new TokenRegistry();
      tokens.declareToken(safe, { maxLength: 32, charset: "safe", description: "safe" });
      tokens.declareToken(any, { maxLength: 64, charset: "any", description: "any" });
      tokens.declareToken(pem, { maxLength: 241, charset: "pem", description: "pem" });
      // (with stopWhen: the items are counted before they are serialized, the running bound only
      // grows and ends at the document's)
      const seen: number[] = [];
      const r = renderCloudConfig(p, tokens, "c/x", c, (n) => (seen.push(n), false))!;
      expect(r.issues).toEqual([]);
      expect(r.text).toBe(wholeDocument(p, tokens, c));
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(seen[seen.length - 1]).toBe(r.maxBytes);
      expect(r.maxBytes).toBe(tokens.maxBytes(r.text));
    }
  });

  test("the same bytes for every kind of top-level value (lists of lists, maps, flags, tokens, awkward strings)", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const safe = new Password(stack, "a", { length: 16, special: false }).result;
    const base = prov("mail2").provisioning;
    const awkward = ["yes", "0640", "- item", "a: b", "#x", "", " lead", "trail ", "multi\nline\n", "~", "null", "1e3"];
    const p: NodeProvisioning = {
      ...base,
      fqdn: `mail2.${safe}.example`,
      replacesOsSources: true,
      readinessReport: { device: "/dev/vdz" },
      mounts: [
        { kind: "block", device: `/dev/disk/by-id/${safe}`, label: "data", mountPoint: "/srv/data" },
        { kind: "nfs", source: "fs:/", mountPoint: "/srv/nfs", options: "nfsvers=4.1", clientPackages: ["nfs-common"] },
      ],
      repositories: [
        ...base.repositories,
        { name: "extra", uris: "https://x", suites: "s", components: ["c"], keyUrl: "https://x/k", keyringPath: "/k" },
      ],
      packages: [...base.packages, ...awkward],
      commands: [
        ...base.commands,
        ...awkward.map((shell) => ({ phase: "after-services" as const, description: "x", shell })),
        { phase: "before-services", description: "t", shell: `echo ${safe}` },
      ],
    };
    for (const c of compressions) {
      const tokens = new TokenRegistry();
      tokens.declareToken(safe, { maxLength: 16, charset: "safe", description: "safe" });
      const r = renderCloudConfig(p, tokens, "c/x", c);
      expect(r.issues).toEqual([]);
      const config = parse(r.text, { version: "1.1" }) as Record<string, unknown>;
      expect(config["apt"]).toEqual({ preserve_sources_list: true });
      // argv lists, and the accounts' step as script lines
      expect((config["bootcmd"] as unknown[]).map(Array.isArray)).toEqual([
        false,
        true,
        false,
        true,
        true,
        true,
        true,
        true,
      ]);
      expect(r.text).toBe(wholeDocument(p, tokens, c));
      // again: the entries now come from the memo
      expect(renderCloudConfig(p, tokens, "c/x", c).text).toBe(wholeDocument(p, tokens, c));
    }
  });
});

describe("renderCloudConfig with stopWhen", () => {
  test("the bound is the document's; the render stops exactly when the bound passes", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const any = new Password(stack, "b", { length: 64 }).result;
    for (const node of topology.nodes) {
      for (const c of ["per-file", "per-file-max", "none"] as const) {
        const extra: ConfigFile = { path: "/etc/secret", content: `s=${any}\n`, mode: "0600", owner: "root:root" };
        const files = [...renderNodeFiles(topology, node), extra];
        const p = prov(node.name, { files }).provisioning;
        const tokens = new TokenRegistry();
        tokens.declareToken(any, { maxLength: 64, charset: "any", description: "any" });
        const full = renderCloudConfig(p, tokens, "c/x", c);
        expect(full.maxBytes).toBe(tokens.maxBytes(full.text));
        const seen: number[] = [];
        const kept = renderCloudConfig(p, tokens, "c/x", c, (n) => (seen.push(n), n > full.maxBytes));
        expect(kept).toEqual(full);
        // the running bound only grows and ends at the document's
        expect(seen).toEqual([...seen].sort((a, b) => a - b));
        expect(seen[seen.length - 1]).toBe(full.maxBytes);
        expect(renderCloudConfig(p, tokens, "c/x", c, (n) => n >= full.maxBytes)).toBeUndefined();
        // a bound passed early stops before the files are all encoded
        const early: number[] = [];
        expect(renderCloudConfig(p, tokens, "c/x", c, (n) => (early.push(n), n > seen[1]!))).toBeUndefined();
        expect(early.length).toBe(3);
      }
    }
  });

  test("files not yet made count from the start, each at the least its item can be in any encoding", () => {
    for (const node of topology.nodes) {
      for (const c of ["per-file", "per-file-max", "none"] as const) {
        const p = prov(node.name).provisioning;
        const tokens = new TokenRegistry();
        const full = renderCloudConfig(p, tokens, "c/x", c);
        const seen: number[] = [];
        expect(renderCloudConfig(p, tokens, "c/x", c, (n) => (seen.push(n), false))).toEqual(full);
        // one bound before any file is made, one after each file
        expect(seen.length).toBe(p.files.length + 2);
        expect(seen).toEqual([...seen].sort((a, b) => a - b));
        expect(seen[seen.length - 1]).toBe(full.maxBytes);
        // Every file counts before it is made: at least its four pairs (path, owner, permissions,
        // content; `    key: ` and a newline each) with their values, the content at least as long
        // as the shortest gzip+base64 or the text. (The document without files has `write_files: []`.)
        const least = (f: ConfigFile): number =>
          4 * 7 +
          "pathownerpermissionscontent".length +
          f.path.length +
          f.owner.length +
          f.mode.length +
          Math.min(28, Buffer.byteLength(f.content));
        const keys = renderCloudConfig({ ...p, files: [] }, tokens, "c/x", c).maxBytes - " []".length;
        expect(seen[0]).toBeGreaterThanOrEqual(p.files.reduce((n, f) => n + least(f), keys));
        // a threshold the files' least sizes already pass stops before any file is made
        const first: number[] = [];
        expect(renderCloudConfig(p, tokens, "c/x", c, (n) => (first.push(n), n >= seen[0]!))).toBeUndefined();
        expect(first).toEqual([seen[0]]);
        // a threshold one byte over the document's bound keeps the form, at the bound stops it
        expect(renderCloudConfig(p, tokens, "c/x", c, (n) => n > full.maxBytes)).toEqual(full);
        expect(renderCloudConfig(p, tokens, "c/x", c, (n) => n > full.maxBytes - 1)).toBeUndefined();
      }
    }
  });
});

describe("provisioning validation (GRX302–GRX309)", () => {
  test("GRX302: an arbitrary-character token outside file contents", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const undeclared = new Password(stack, "x", { length: 8 }).result;
    const p = prov("mail2", {
      mounts: [{ kind: "block", device: `/dev/${undeclared}`, label: "data", mountPoint: "/srv" }],
    });
    const { issues } = render(p.provisioning);
    expect(issues).toEqual([expect.objectContaining({ code: "GRX302", path: "c/x", field: "user-data" })]);
  });

  test("GRX303–GRX306: file path, duplicates, mode, owner", () => {
    const files: ConfigFile[] = [
      { path: "etc/relative", content: "", mode: "0644", owner: "root:root" },
      { path: "/etc/../etc/x", content: "", mode: "0644", owner: "root:root" },
      { path: "/etc/dup", content: "", mode: "0644", owner: "root:root" },
      { path: "/etc/dup", content: "", mode: "0644", owner: "root:root" },
      { path: "/etc/mode", content: "", mode: "644", owner: "root:root" },
      { path: "/etc/owner", content: "", mode: "0644", owner: "root" },
    ];
    const { issues } = prov("db1", { files, sql: {} });
    expect(issues.map((i) => i.code)).toEqual(["GRX303", "GRX303", "GRX304", "GRX305", "GRX306"]);
    expect(issues.every((i) => i.path === "cluster/nodes/db1/files")).toBe(true);
    expect(issues[2]!.message).toContain("/etc/dup is produced twice");
  });

  test("GRX307–GRX309: mount points and labels", () => {
    const { issues } = prov("mail2", {
      mounts: [
        { kind: "block", device: "/dev/a", label: "ok", mountPoint: "/" },
        { kind: "block", device: "/dev/b", label: "this-label-is-far-too-long", mountPoint: "/srv/a" },
        { kind: "block", device: "/dev/c", label: "ok2", mountPoint: "/srv/a" },
      ],
    });
    expect(issues.map((i) => i.code)).toEqual(["GRX307", "GRX309", "GRX308"]);
  });
});
