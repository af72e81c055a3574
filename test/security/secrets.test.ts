/**
 * Secrets over EVERY example (`buildExamples`): no secret value in the synthesized JSON or in any
 * node's user-data outside a protected file, no value generated at synth (two synths are byte for
 * byte equal, every password field is a reference), no default password; on AWS the user-data holds
 * only SSM parameter names, fetched at boot by a role that may read exactly the node's parameters;
 * elsewhere files holding secrets are 0600/0640 with the owner of the program that reads them.
 */
import "cdktf/lib/testing/adapters/jest";
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { buildExamples } from "../../examples/main";
import { Database, GrommunioCluster, PlatformCapabilities } from "../../lib";
import {
  SECRET_MANIFEST_PATH,
  SECRET_TEMPLATE_DIR,
  SecretManifest,
  secretPlaceholder,
} from "../../lib/provision/secrets";
import { FILES_MANIFEST_PATH } from "../../lib/provision/bundle";
import { FILES_FETCH_PROGRAM } from "../../lib/platforms/aws/files-fetch";
import { SSM_FETCH_PROGRAM } from "../../lib/platforms/aws/ssm-fetch";
import { bundleOf } from "../platforms/aws-support";
import { FAKE_TLS_CERT_PEM, Resolver, fakeResolver } from "../platforms/terraform-eval";
import { EXAMPLE_SHAPE, Json, buildShape, deliveredFiles, synthJson, userDataByNode } from "./support";

/** Distinct, recognisable fake values: one per secret resource, so a leak names its source. */
function markerOf(ref: string): string | undefined {
  const rp = /^random_password\.([^.]+)\.result$/.exec(ref);
  if (rp) return `SECRETpw${rp[1]!.replace(/[^A-Za-z0-9]/g, "")}`;
  const key = /^tls_private_key\.([^.]+)\.private_key_pem$/.exec(ref);
  if (key) {
    return `-----BEGIN EC PRIVATE KEY-----\nSECRETkey${key[1]!.replace(/[^A-Za-z0-9]/g, "")}\n-----END EC PRIVATE KEY-----\n`;
  }
  return undefined;
}
const markerResolver: Resolver = (ref) => markerOf(ref) ?? fakeResolver(ref);
/** The secret part of a marker (what must never leak). */
const SECRET_MARK = /SECRET(?:pw|key)[A-Za-z0-9]+/g;

/** Passwords nobody may ship: the installer's and the usual defaults, and empty ones. */
const DEFAULT_PASSWORDS = ["grommunio", "admin", "password", "changeme", "secret", "root", "gromox"];
const DEFAULT_ASSIGNMENT = new RegExp(
  [
    `^mysql_password\\s*=\\s*(?:${DEFAULT_PASSWORDS.join("|")})?\\s*$`,
    `^password\\s*=\\s*(?:${DEFAULT_PASSWORDS.join("|")})?\\s*$`,
    `^\\s*pass:\\s*'?(?:${DEFAULT_PASSWORDS.join("|")})?'?\\s*$`,
    `IDENTIFIED BY '(?:${DEFAULT_PASSWORDS.join("|")})?'`,
    `@grx_password = QUOTE\\('(?:${DEFAULT_PASSWORDS.join("|")})?'\\)`,
    `--password "?(?:${DEFAULT_PASSWORDS.join("|")})?"?(?:\\s|$)`,
  ].join("|"),
  "im",
);

/**
 * Owner and mode of every file that holds a secret, by path (a new secret-holding file must be
 * added here, deliberately).
 */
const SECRET_FILE_RULES: Array<[RegExp, string, string]> = [
  [/^\/etc\/gromox\/mysql_adaptor\.cfg$/, "grommunio:gromoxcf", "0640"],
  [/^\/etc\/postfix\/grommunio-[a-z-]+\.cf$/, "root:postfix", "0640"],
  [/^\/etc\/grommunio-admin-api\/conf\.d\/database\.yaml$/, "root:grommunio", "0640"],
  [/^\/etc\/grommunio-common\/ssl\/server\.key$/, "gromox:gromox", "0640"],
  [/^\/etc\/haproxy\/proxy\.pem$/, "root:root", "0600"],
  [/^\/etc\/nginx\/proxy\.key$/, "root:root", "0600"],
  [/^\/etc\/grommunio-cluster\/[^/]+$/, "root:root", "0600"],
  [/^\/etc\/grommunio-ops\/[^/]+$/, "root:root", "0600"],
];

function expectProtected(path: string, owner: string, mode: string, where: string): void {
  const rule = SECRET_FILE_RULES.find(([re]) => re.test(path));
  expect({ where, path, known: rule !== undefined }).toEqual({ where, path, known: true });
  expect({ where, path, owner, mode }).toEqual({ where, path, owner: rule![1], mode: rule![2] });
}

interface Example {
  readonly stack: TerraformStack;
  readonly cluster: GrommunioCluster;
  readonly text: string;
  readonly json: Json;
  readonly caps: PlatformCapabilities;
}

function synthAll(): Example[] {
  const app = Testing.app();
  buildExamples(app);
  return app.node.children.map((child) => {
    const stack = child as TerraformStack;
    const text = Testing.synth(stack);
    const cluster = stack.node.findChild("mail") as GrommunioCluster;
    return { stack, cluster, text, json: JSON.parse(text) as Json, caps: cluster.capabilities };
  });
}

const examples = synthAll();
/** A second, independent synthesis of every example (once). */
let second: Example[] | undefined;

describe.each(examples.map((e) => [e.stack.node.id, e] as const))("%s", (_, ex) => {
  const ssm = (ex.caps.secrets ?? "terraform") === "ssm";

  test("registers every secret as a Terraform value: database, map reader, admin, one TLS key per node serving TLS", () => {
    const ids = ex.cluster.secretValues.map((s) => s.id);
    expect(ids).toEqual(expect.arrayContaining(["admin-password", "database-password", "map-reader-password"]));
    // Mailbox, admin, classic and load-balancer nodes serve TLS; the database node (MariaDB) and
    // the NFS node (SharedStorage's export) serve none and get no key.
    const serves = (n: (typeof ex.cluster.topology.nodes)[number]) =>
      (["mailbox", "admin", "classic", "load-balancer"] as const).some((r) => n.has(r));
    for (const n of ex.cluster.topology.nodes) {
      if (serves(n)) expect(ids).toContain(`tls/${n.name}/private-key`);
      else expect(ids).not.toContain(`tls/${n.name}/private-key`);
    }
    for (const s of ex.cluster.secretValues) expect(s.value).toMatch(/^\$\{TfToken\[TOKEN\.\d+\]\}$/);
  });

  test("the synthesized JSON holds no secret value: passwords are generated by Terraform, fields are references", () => {
    expect(ex.text).not.toMatch(SECRET_MARK);
    const passwords = Object.values<Json>(ex.json.resource.random_password ?? {});
    expect(passwords.length).toBe(3);
    for (const p of passwords) expect(p).toMatchObject({ special: false });
    for (const p of passwords) expect(p.length).toBeGreaterThanOrEqual(24);
    // Every field named like a secret is a reference, never a literal.
    const literals: string[] = [];
    const visit = (v: unknown, path: string): void => {
      if (Array.isArray(v)) v.forEach((x, i) => visit(x, `${path}[${i}]`));
      else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) visit(x, `${path}.${k}`);
      else if (
        typeof v === "string" &&
        /(?:password|private_key_pem|aws_ssm_parameter\.[^.]+\.value)$/.test(path) &&
        !/^\$\{[a-z_]+\./.test(v)
      )
        literals.push(`${path} = ${v}`);
    };
    visit(ex.json.resource, "resource");
    expect(literals).toEqual([]);
    for (const d of DEFAULT_PASSWORDS) expect(ex.text).not.toMatch(new RegExp(`"(?:password|value)": "${d}"`));
  });

  test("a second synthesis is byte for byte the same (nothing random at synth)", () => {
    const again = (second ??= synthAll()).find((e) => e.stack.node.id === ex.stack.node.id)!;
    expect(again.text).toBe(ex.text);
  });

  test("decoded user-data: secrets only inside protected files; no default or empty password", () => {
    const uds = userDataByNode(ex.json, markerResolver);
    if (uds.size === 0) return; // a platform that delivers user-data elsewhere is covered by its own tests
    for (const [node, text] of uds) {
      const { doc, files } = deliveredFiles(text);
      // Outside file contents (commands, mounts, packages): nothing secret, ever.
      const skeleton = JSON.stringify({ ...doc, write_files: files.map((f) => ({ ...f, content: "" })) });
      expect({ node, leaks: skeleton.match(SECRET_MARK) }).toEqual({ node, leaks: null });
      for (const f of files) {
        expect({ node, path: f.path, defaults: DEFAULT_ASSIGNMENT.exec(f.content)?.[0] }).toEqual({
          node,
          path: f.path,
          defaults: undefined,
        });
        const leaks = f.content.match(SECRET_MARK);
        if (ssm) expect({ node, path: f.path, leaks }).toEqual({ node, path: f.path, leaks: null });
        else if (leaks) expectProtected(f.path, f.owner, f.permissions, node);
      }
    }
  });

  test("every file that holds a secret is 0600/0640 with its reader's owner (final paths)", () => {
    let checked = 0;
    for (const [node, p] of ex.cluster.provisioning) {
      const manifest = p.files.find((f) => f.path === SECRET_MANIFEST_PATH);
      if (ssm) {
        // No Terraform value in any file, but the file bucket's name in the files manifest.
        for (const f of p.files.filter((x) => x.path !== FILES_MANIFEST_PATH)) {
          expect(f.content).not.toMatch(/\$\{TfToken\[/);
        }
        if (!manifest) continue;
        for (const e of (JSON.parse(manifest.content) as SecretManifest).files) {
          // Certificates travel through the store too (for size), but are public: 0644 is right.
          if (/server-bundle\.pem$|proxy\.pem$|\/nginx\/proxy\.pem$/.test(e.path) && e.mode === "0644") continue;
          expectProtected(e.path, e.owner, e.mode, node);
          checked++;
        }
      } else {
        const secretValues = ex.cluster.secretValues.filter((s) => s.secure).map((s) => s.value);
        for (const f of p.files.filter((x) => secretValues.some((v) => x.content.includes(v)))) {
          expectProtected(f.path, f.owner, f.mode, node);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(ex.cluster.topology.nodes.length);
  });
});

describe("AWS: secrets in SSM Parameter Store, fetched at boot by a least-privilege role", () => {
  const aws = examples.find((e) => e.caps.secrets === "ssm")!;
  const json = aws.json;
  const params = json.resource.aws_ssm_parameter as Record<string, Json>;
  const byName = new Map<string, Json>(Object.entries(params).map(([id, p]) => [String(p.name), { id, ...p }]));
  const uds = userDataByNode(json, markerResolver);
  /** What the node receives: its user-data's files and its bundle's (S3). */
  const received = (node: string) => {
    const { doc, files } = deliveredFiles(uds.get(node)!);
    const bundle = (bundleOf(json, node)?.files ?? []).map((f) => ({ ...f, permissions: f.mode }));
    return { doc, files: [...files, ...bundle] };
  };

  test("one parameter per secret: SecureString for passwords and keys, String for certificates, values referenced", () => {
    expect(byName.size).toBe(aws.cluster.secretValues.length);
    for (const s of aws.cluster.secretValues) {
      const p = byName.get(aws.cluster.secretStore!.locationOf(s.id))!;
      expect(p).toBeDefined();
      expect(p.type).toBe(s.secure ? "SecureString" : "String");
      expect(p.value).toMatch(/^\$\{(random_password|tls_private_key|tls_self_signed_cert)\./);
      expect(p.name).toBe(`/grommunio/grommunio-aws/mail/${s.id}`);
    }
  });

  test("the user-data and the bundle hold parameter names and templates with placeholders, never values", () => {
    for (const [node, text] of uds) {
      const document = bundleOf(json, node)!.document;
      for (const t of [text, document]) {
        expect(t).not.toMatch(SECRET_MARK);
        expect(t).not.toContain(FAKE_TLS_CERT_PEM.split("\n")[1]!);
        expect(t).not.toContain("P".repeat(32));
      }
      const { doc, files } = received(node);
      const manifestFile = files.find((f) => f.path === SECRET_MANIFEST_PATH);
      if (node === "db1" || !manifestFile) {
        expect(node === "db1" ? manifestFile !== undefined : true).toBe(true); // db1 fetches the passwords
      }
      if (!manifestFile) continue;
      expect(manifestFile).toMatchObject({ owner: "root:root", permissions: "0600" });
      const manifest = JSON.parse(manifestFile.content) as SecretManifest;
      expect(manifest.placeholder.replace("{id}", "database-password")).toBe(secretPlaceholder("database-password"));
      for (const name of Object.values(manifest.secrets)) expect(byName.has(name)).toBe(true);
      for (const e of manifest.files) {
        const template = files.find((f) => f.path === e.template)!;
        expect(template).toMatchObject({ owner: "root:root", permissions: "0600" });
        expect(e.template).toBe(`${SECRET_TEMPLATE_DIR}${e.path}`);
        expect(files.some((f) => f.path === e.path)).toBe(false); // only the template ships
        const ids = [...template.content.matchAll(/@@grommunio-secret:([a-z0-9/-]+)@@/g)].map((m) => m[1]!);
        expect(ids.length).toBeGreaterThan(0);
        for (const id of ids) expect(Object.keys(manifest.secrets)).toContain(id);
      }
      // python3-boto3 and the fetch program, run first.
      expect(doc.packages).toContain("python3-boto3");
      expect(files.find((f) => f.path === SSM_FETCH_PROGRAM)).toMatchObject({
        owner: "root:root",
        permissions: "0700",
      });
      // After the files' fetch, which writes the program, the templates and the manifest.
      // (after `set -e`: a failed fetch stops every step after it)
      expect(doc.runcmd[0]).toBe("set -e");
      expect(doc.runcmd[1]).toBe(`${FILES_FETCH_PROGRAM} ${FILES_MANIFEST_PATH}`);
      expect(doc.runcmd[2]).toBe(`${SSM_FETCH_PROGRAM} ${SECRET_MANIFEST_PATH}`);
    }
  });

  test("each node's role may read exactly the parameters its manifest names, and decrypt only those through SSM", () => {
    const instances = Object.values<Json>(json.resource.aws_instance);
    const profiles = json.resource.aws_iam_instance_profile as Record<string, Json>;
    const roles = json.resource.aws_iam_role as Record<string, Json>;
    const policies = Object.values<Json>(json.resource.aws_iam_role_policy);
    const documents = json.data.aws_iam_policy_document as Record<string, Json>;
    const ref = (s: string) => /^\$\{(?:data\.)?([a-z_]+)\.([^.]+)\.([a-z_]+)\}$/.exec(s)!;
    const arnOf = (name: string) => `\${aws_ssm_parameter.${byName.get(name)!.id}.arn}`;
    const readable = new Map<string, string[]>();
    for (const inst of instances) {
      const node = String(inst.tags["grommunio:node"]);
      const { files } = received(node);
      const manifest = JSON.parse(files.find((f) => f.path === SECRET_MANIFEST_PATH)!.content) as SecretManifest;
      const profile = profiles[ref(inst.iam_instance_profile)[2]!]!;
      const roleId = ref(profile.role)[2]!;
      expect(JSON.parse(roles[roleId]!.assume_role_policy)).toEqual({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
      });
      // The secrets policy, and the files policy (tests/platforms/aws-files.test.ts).
      const own = policies.filter((p) => ref(p.role)[2] === roleId && p.name === "read-own-secrets");
      expect(own).toHaveLength(1);
      expect(
        policies
          .filter((p) => ref(p.role)[2] === roleId)
          .map((p) => p.name)
          .sort(),
      ).toEqual(["read-own-files", "read-own-secrets"]);
      const doc = documents[ref(own[0]!.policy)[2]!]!;
      const expected = Object.values(manifest.secrets).map(arnOf).sort();
      const [read, decrypt] = doc.statement as Json[];
      expect(read).toEqual({
        sid: "ReadOwnSecrets",
        effect: "Allow",
        actions: ["ssm:GetParameter", "ssm:GetParameters"],
        resources: expect.any(Array),
      });
      expect([...read!.resources].sort()).toEqual(expected);
      expect(decrypt).toMatchObject({ sid: "DecryptOwnSecretsThroughSsm", effect: "Allow", actions: ["kms:Decrypt"] });
      expect(decrypt!.resources).toHaveLength(1);
      expect(decrypt!.resources[0]).toMatch(
        /^arn:\$\{data\.aws_partition\.[^}]+\}:kms:\$\{data\.aws_region\.[^}]+\}:\$\{data\.aws_caller_identity\.[^}]+\}:key\/\*$/,
      );
      const cond = Object.fromEntries((decrypt!.condition as Json[]).map((c) => [c.variable, c]));
      expect(cond["kms:ViaService"]).toMatchObject({ test: "StringEquals" });
      expect(cond["kms:ViaService"].values[0]).toMatch(/^ssm\.\$\{data\.aws_region\.[^}]+\}\.amazonaws\.com$/);
      expect([...cond["kms:EncryptionContext:PARAMETER_ARN"].values].sort()).toEqual(expected);
      readable.set(node, Object.keys(manifest.secrets).sort());
    }
    // Least privilege: who reads what.
    // The load balancers read their certificate and, for the mailbox map, at most the read-only account.
    const lb1 = readable.get("lb1")!;
    expect(lb1).toEqual(expect.arrayContaining(["tls/lb1/certificate", "tls/lb1/private-key"]));
    expect(lb1.filter((id) => !id.startsWith("tls/lb1/"))).toEqual(
      lb1.includes("map-reader-password") ? ["map-reader-password"] : [],
    );
    expect(readable.get("classic1")).toEqual([
      "database-password",
      "tls/classic1/certificate",
      "tls/classic1/private-key",
    ]);
    expect(readable.get("mail2")).toEqual(["database-password", "tls/mail2/certificate", "tls/mail2/private-key"]);
    expect(readable.get("mail1")).toEqual([
      "admin-password",
      "database-password",
      "tls/mail1/certificate",
      "tls/mail1/private-key",
    ]);
    // The database node creates both accounts.
    expect(readable.get("db1")).toEqual(["database-password", "map-reader-password"]);
    for (const [node, ids] of readable) {
      for (const id of ids.filter((i) => i.startsWith("tls/"))) expect(id.split("/")[1]).toBe(node);
    }
  });

  test("the admin password is set at first boot on the first admin node from its file, never on the command line", () => {
    const { doc } = deliveredFiles(uds.get("mail1")!);
    const step = (doc.runcmd as string[]).find((c) => c.includes("grommunio-admin passwd"));
    expect(step).toBe(
      'f=/etc/grommunio-cluster/admin-password; [ ! -f $f ] || { grommunio-admin passwd --password "$(cat $f)"; rm $f; }',
    );
    for (const n of ["mail2", "classic1", "lb1", "db1"]) {
      expect((deliveredFiles(uds.get(n)!).doc.runcmd as string[]).some((c) => c.includes("grommunio-admin"))).toBe(
        false,
      );
    }
  });
});

describe("user-supplied secrets (Terraform references) and literals", () => {
  test("on AWS, sensitive variables as database and admin passwords go to SSM, never into the user-data", () => {
    const { stack, cluster } = buildShape("aws", EXAMPLE_SHAPE, (st) => ({
      adminPassword: new TerraformVariable(st, "admin_password", { type: "string", sensitive: true }).stringValue,
      database: Database.onNode({
        password: new TerraformVariable(st, "db_password", { type: "string", sensitive: true }).stringValue,
      }),
    }));
    const json = synthJson(stack);
    const param = (id: string) =>
      Object.values<Json>(json.resource.aws_ssm_parameter).find((p) => String(p.name).endsWith(`/${id}`));
    expect(param("admin-password")).toMatchObject({ type: "SecureString", value: "${var.admin_password}" });
    expect(param("database-password")).toMatchObject({ type: "SecureString", value: "${var.db_password}" });
    // Only the map reader's password is generated.
    expect(Object.keys(json.resource.random_password)).toHaveLength(1);
    expect(cluster.secretValues.map((s) => s.id)).toEqual(
      expect.arrayContaining(["admin-password", "database-password"]),
    );
    for (const text of userDataByNode(json, (ref) =>
      ref.startsWith("var.") ? "SECRETpwVARIABLE" : markerResolver(ref),
    ).values()) {
      expect(text).not.toMatch(SECRET_MARK);
      expect(text).not.toContain("var.");
    }
  });

  test("on Hetzner, the same variables stay sensitive Terraform values inside protected files only", () => {
    const { stack } = buildShape("hcloud", EXAMPLE_SHAPE, (st) => ({
      database: Database.onNode({
        password: new TerraformVariable(st, "db_password", { type: "string", sensitive: true }).stringValue,
      }),
    }));
    const json = synthJson(stack);
    for (const [node, text] of userDataByNode(json, (ref) =>
      ref === "var.db_password" ? "SECRETpwVARIABLE" : markerResolver(ref),
    )) {
      const { files } = deliveredFiles(text);
      for (const f of files)
        if (f.content.includes("SECRETpwVARIABLE")) expectProtected(f.path, f.owner, f.permissions, node);
      expect(files.some((f) => f.content.includes("SECRETpwVARIABLE"))).toBe(node !== "lb1" && node !== "lb2");
    }
  });

  test("a literal password is not hidden (it is in the JSON already): not moved to SSM, and synth warns", () => {
    const { stack, cluster } = buildShape("aws", EXAMPLE_SHAPE, {
      database: Database.onNode({ password: "Literal-Passw0rd" }),
    });
    const json = synthJson(stack);
    expect(
      Object.values<Json>(json.resource.aws_ssm_parameter).some((p) => String(p.name).endsWith("/database-password")),
    ).toBe(false);
    const warnings = cluster.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data));
    expect(warnings.some((w) => w.includes("the database password is a literal"))).toBe(true);
  });
});
