/**
 * AWS file delivery (`fileDelivery` "s3", the default): which files go to the node's bundle and
 * which stay in the user-data, the bundle's hash and key, the bucket and its protections, its
 * versioning and the lifecycle keeping recent versions, the per-node object at a stable key, the
 * manifest pinning the bundle by its sha256 only (no Terraform value but the bucket's name), the
 * node's role listing and reading exactly its own key's versions, and
 * the opt-out (`fileDelivery: "user-data"`) producing what a platform without a file store does.
 */
import "cdktf/lib/testing/adapters/jest";
import { createHash } from "node:crypto";
import { Testing } from "cdktf";
import { Construct } from "constructs";
import {
  ClassicNode,
  Database,
  GromoxNode,
  GrommunioValidationError,
  PlatformBindContext,
  ProvisionedFile,
  NodeProvisioning,
} from "../../lib";
import { AwsDeployment, AwsPlatform } from "../../lib/platforms/aws";
import { FILES_FETCH_PROGRAM, FILES_FETCH_SCRIPT } from "../../lib/platforms/aws/files-fetch";
import { FILES_MANIFEST_PATH, bundleDocument, splitBundle, withFileFetch } from "../../lib/provision/bundle";
import { SECRET_MANIFEST_PATH } from "../../lib/provision/secrets";
import { Token } from "../../lib/provision/cdktf";
import {
  Json,
  buildAws,
  bundleOf,
  cloudConfigOf,
  decodedFile,
  exampleLayout,
  instanceOf,
  resourceAt,
  resources,
  synthAws,
} from "./aws-support";
import { FAKE_BUCKET } from "./terraform-eval";

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
const nodePath = (name: string) => (name.startsWith("lb") ? `lb/${name}` : name);

function file(path: string, content: string, stage: "early" | "late" = "late"): ProvisionedFile {
  return { path, content, mode: "0640", owner: "root:gromox", stage };
}

function provisioning(files: ProvisionedFile[]): NodeProvisioning {
  return {
    name: "mail1",
    fqdn: "mail1.example.com",
    repositories: [],
    packages: ["gromox"],
    files,
    mounts: [],
    commands: [{ phase: "before-services", description: "x", shell: "true" }],
    services: ["gromox-http"],
  };
}

describe("splitBundle (pure)", () => {
  const token = Token.asString({ resolve: () => "x" });
  const p = provisioning([
    file("/etc/apt/sources.list.d/grommunio.sources", "Types: deb\n", "early"),
    file("/etc/gromox/http.cfg", "listen_port=10080\n"),
    file("/etc/fstab.d/efs", `${token}:/ /mnt nfs4\n`),
    file("/etc/hosts", "10.10.10.1 mail1\n"),
  ]);

  test("late files without tokens move; early files and files holding tokens stay", () => {
    const { bundle, userData } = splitBundle(p);
    expect(bundle!.files.map((f) => f.path)).toEqual(["/etc/gromox/http.cfg", "/etc/hosts"]);
    expect(userData.files.map((f) => f.path)).toEqual([
      "/etc/apt/sources.list.d/grommunio.sources",
      "/etc/fstab.d/efs",
    ]);
    // Everything else is the node's own, unchanged.
    expect({ ...userData, files: [] }).toEqual({ ...p, files: [] });
  });

  test("the document: JSON of the files sorted by path (path, owner, mode, content), its sha256 computed here", () => {
    const { bundle } = splitBundle(p);
    expect(bundle!.document).toBe(
      JSON.stringify({
        version: 1,
        files: [
          { path: "/etc/gromox/http.cfg", owner: "root:gromox", mode: "0640", content: "listen_port=10080\n" },
          { path: "/etc/hosts", owner: "root:gromox", mode: "0640", content: "10.10.10.1 mail1\n" },
        ],
      }),
    );
    expect(bundle!.sha256).toBe(sha256(bundle!.document));
    // Deterministic whatever the input order.
    expect(bundleDocument([...bundle!.files].reverse())).toBe(bundle!.document);
  });

  test("nothing to bundle: no bundle, the provisioning unchanged", () => {
    const only = provisioning([file("/etc/apt/sources.list.d/x.sources", "Types: deb\n", "early")]);
    const split = splitBundle(only);
    expect(split.bundle).toBeUndefined();
    expect(split.userData).toBe(only);
  });

  test("withFileFetch: the fetch step's command first, its files late, its packages merged", () => {
    const step = {
      packages: ["python3-boto3"],
      files: [{ path: "/usr/local/sbin/fetch", content: "#!/bin/sh\n", mode: "0700", owner: "root:root" }],
      command: { description: "fetch", shell: "/usr/local/sbin/fetch" },
    };
    const out = withFileFetch(p, step);
    expect(out.commands.map((c) => c.shell)).toEqual(["/usr/local/sbin/fetch", "true"]);
    expect(out.packages).toEqual(["gromox", "python3-boto3"]);
    expect(out.files.find((f) => f.path === "/usr/local/sbin/fetch")!.stage).toBe("late");
  });
});

describe("the example layout on AWS with S3 file delivery", () => {
  const { json, cluster } = synthAws(exampleLayout);
  const names = cluster.topology.nodes.map((n) => n.name);
  const bucketId = resources(json, "aws_s3_bucket")[0]![0];

  test("one private bucket: prefix, force_destroy, public access blocked, owner-enforced, encrypted, TLS only", () => {
    expect(resources(json, "aws_s3_bucket")).toHaveLength(1);
    expect(resourceAt(json, "aws_s3_bucket", "mail/files/bucket")).toMatchObject({
      bucket_prefix: "grommunio-mail-",
      force_destroy: true,
    });
    const bucket = `\${aws_s3_bucket.${bucketId}.id}`;
    expect(resourceAt(json, "aws_s3_bucket_public_access_block", "mail/files/public-access-block")).toMatchObject({
      bucket,
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(resourceAt(json, "aws_s3_bucket_ownership_controls", "mail/files/ownership")).toMatchObject({
      bucket,
      rule: { object_ownership: "BucketOwnerEnforced" },
    });
    expect(
      resourceAt(json, "aws_s3_bucket_server_side_encryption_configuration", "mail/files/encryption").rule,
    ).toEqual([{ apply_server_side_encryption_by_default: { sse_algorithm: "AES256" } }]);
    const policy = resourceAt(json, "aws_s3_bucket_policy", "mail/files/bucket-policy");
    expect(policy.bucket).toBe(bucket);
    const docId = /^\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}$/.exec(policy.policy)![1]!;
    const arn = `\${aws_s3_bucket.${bucketId}.arn}`;
    expect(json.data.aws_iam_policy_document[docId].statement).toEqual([
      {
        sid: "DenyInsecureTransport",
        effect: "Deny",
        principals: [{ type: "*", identifiers: ["*"] }],
        actions: ["s3:*"],
        resources: [arn, `${arn}/*`],
        condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }],
      },
    ]);
  });

  test("versioning enabled; a lifecycle rule keeps the 10 newest noncurrent versions, aborts stale uploads", () => {
    const bucket = `\${aws_s3_bucket.${bucketId}.id}`;
    expect(resources(json, "aws_s3_bucket_versioning")).toHaveLength(1);
    expect(resourceAt(json, "aws_s3_bucket_versioning", "mail/files/versioning")).toMatchObject({
      bucket,
      versioning_configuration: { status: "Enabled" },
    });
    const versioningId = resources(json, "aws_s3_bucket_versioning")[0]![0];
    const lifecycle = resourceAt(json, "aws_s3_bucket_lifecycle_configuration", "mail/files/lifecycle");
    expect(lifecycle.bucket).toBe(bucket);
    expect(lifecycle.rule).toEqual([
      {
        id: "keep-recent-bundle-versions",
        status: "Enabled",
        filter: [{ prefix: "nodes/" }],
        noncurrent_version_expiration: [{ noncurrent_days: 1, newer_noncurrent_versions: 10 }],
        abort_incomplete_multipart_upload: [{ days_after_initiation: 1 }],
      },
    ]);
    expect(lifecycle.depends_on).toEqual([`aws_s3_bucket_versioning.${versioningId}`]);
  });

  test("one object per node, keyed by its name: nodes/<node>/bundle.json holding the bundle", () => {
    const versioningId = resources(json, "aws_s3_bucket_versioning")[0]![0];
    expect(resources(json, "aws_s3_object")).toHaveLength(names.length);
    for (const name of names) {
      const bundle = cluster.fileBundles.get(name)!;
      const object = resourceAt(json, "aws_s3_object", `mail/files/bundle-${name}`);
      expect(object).toMatchObject({
        bucket: `\${aws_s3_bucket.${bucketId}.id}`,
        key: `nodes/${name}/bundle.json`,
        content_type: "application/json",
      });
      // Stored once encryption and versioning are configured (a real version id, not "null").
      expect(object.depends_on).toEqual([
        expect.stringMatching(/^aws_s3_bucket_server_side_encryption_configuration\./),
        `aws_s3_bucket_versioning.${versioningId}`,
      ]);
      // The instance is created after its bundle object: its first boot fetches it.
      const objectId = resources(json, "aws_s3_object").find(([id]) => id.startsWith(`mail_files_bundle-${name}_`))![0];
      const instances = resources(json, "aws_instance").filter(([id]) => id.includes(`_${name}_instance_`));
      expect(instances).toHaveLength(1);
      expect(instances[0]![1].depends_on).toEqual([`aws_s3_object.${objectId}`]);
      const stored = bundleOf(json, name)!;
      expect(stored.document).toBe(bundle.document);
      expect(sha256(stored.document)).toBe(bundle.sha256);
    }
  });

  test("each node's role may list the versions of exactly its own key and read them, nothing else of the bucket", () => {
    const profiles = json.resource.aws_iam_instance_profile as Record<string, Json>;
    const documents = json.data.aws_iam_policy_document as Record<string, Json>;
    const ref = (s: string) => /^\$\{(?:data\.)?[a-z_]+\.([^.]+)\.[a-z_]+\}$/.exec(s)![1]!;
    for (const name of names) {
      const inst = instanceOf(json, nodePath(name));
      const roleId = ref(profiles[ref(inst.iam_instance_profile)]!.role);
      const policies = resources(json, "aws_iam_role_policy").filter(([, p]) => ref(p.role) === roleId);
      const files = policies.filter(([, p]) => p.name === "read-own-files");
      expect(files).toHaveLength(1);
      expect(documents[ref(files[0]![1].policy)]!.statement).toEqual([
        {
          sid: "ListOwnFileVersions",
          effect: "Allow",
          actions: ["s3:ListBucketVersions"],
          resources: [`\${aws_s3_bucket.${bucketId}.arn}`],
          condition: [{ test: "StringEquals", variable: "s3:prefix", values: [`nodes/${name}/bundle.json`] }],
        },
        {
          sid: "ReadOwnFiles",
          effect: "Allow",
          actions: ["s3:GetObjectVersion"],
          resources: [`\${aws_s3_bucket.${bucketId}.arn}/nodes/${name}/bundle.json`],
        },
      ]);
      // One role per machine: the secrets policy is on the same role.
      expect(policies.map(([, p]) => p.name).sort()).toEqual(["read-own-files", "read-own-secrets"]);
      expect(json.resource.aws_iam_role[roleId].description).toBe(
        `${name} of the grommunio cluster mail: reads its own configuration files and secrets`,
      );
    }
    expect(resources(json, "aws_iam_role")).toHaveLength(names.length);
    expect(resources(json, "aws_iam_instance_profile")).toHaveLength(names.length);
  });

  test("the user-data: early files, the manifest and the fetch program; the fetch runs first", () => {
    for (const name of names) {
      const { config } = cloudConfigOf(json, nodePath(name));
      const bundle = cluster.fileBundles.get(name)!;
      const provisioned = cluster.provisioning.get(name)!;
      const inUserData = (config.write_files as Json[]).map((f) => String(f.path)).sort();
      // Together, the user-data and the bundle are every file of the node, each in one place.
      expect([...inUserData, ...bundle.files.map((f) => f.path)].sort()).toEqual(
        provisioned.files.map((f) => f.path).sort(),
      );
      for (const f of provisioned.files) {
        const bundled = bundle.files.some((b) => b.path === f.path);
        const fetchStep = f.path === FILES_MANIFEST_PATH || f.path === FILES_FETCH_PROGRAM;
        expect({ path: f.path, bundled }).toEqual({ path: f.path, bundled: f.stage === "late" && !fetchStep });
      }
      expect(JSON.parse(decodedFile(config, FILES_MANIFEST_PATH).content)).toEqual({
        version: 3,
        bucket: FAKE_BUCKET,
        key: `nodes/${name}/bundle.json`,
        sha256: bundle.sha256,
      });
      // No apply-time value of the object in the user-data (the bucket's name is the only reference).
      const inst = instanceOf(json, nodePath(name));
      const userData = String(inst.user_data ?? inst.user_data_base64);
      expect(userData).toContain(`aws_s3_bucket.${bucketId}.bucket`);
      expect(userData).not.toContain("aws_s3_object.");
      expect(decodedFile(config, FILES_MANIFEST_PATH).entry).toMatchObject({ owner: "root:root", permissions: "0600" });
      expect(decodedFile(config, FILES_FETCH_PROGRAM).content).toBe(FILES_FETCH_SCRIPT);
      expect(decodedFile(config, FILES_FETCH_PROGRAM).entry).toMatchObject({ owner: "root:root", permissions: "0700" });
      expect(config.packages).toContain("python3-boto3");
      expect(config.runcmd.slice(0, 2)).toEqual(["set -e", `${FILES_FETCH_PROGRAM} ${FILES_MANIFEST_PATH}`]);
      // The secrets' program, templates and manifest come with the bundle, fetched before they run.
      expect(bundle.files.some((f) => f.path === SECRET_MANIFEST_PATH)).toBe(true);
    }
  });
});

describe("changes and keys", () => {
  test("a changed bundled file changes the node's content and user-data, not its key; other nodes keep theirs", () => {
    const a = synthAws(exampleLayout);
    const b = synthAws(exampleLayout, { x500OrgName: "Example Org" });
    const object = (j: Json, n: string) => resourceAt(j, "aws_s3_object", `mail/files/bundle-${n}`);
    const userData = (j: Json, n: string) => JSON.stringify(cloudConfigOf(j, nodePath(n)).config);
    // The organisation name is in the mailbox nodes' gromox configuration only. The key stays:
    // the change is a new version of the same object; the user-data changes by its sha256.
    expect(object(b.json, "mail2").key).toBe(object(a.json, "mail2").key);
    expect(object(b.json, "mail2").content).not.toBe(object(a.json, "mail2").content);
    expect(userData(b.json, "mail2")).not.toBe(userData(a.json, "mail2"));
    expect(object(b.json, "lb1")).toEqual(object(a.json, "lb1"));
    expect(userData(b.json, "lb1")).toBe(userData(a.json, "lb1"));
  });

  test("fileVersionsKept sets the noncurrent versions kept; outside 1–100 or not an integer is GRX223", () => {
    const { json } = synthAws((c) => new GromoxNode(c, "mail1"), {}, { fileVersionsKept: 3 });
    expect(
      resourceAt(json, "aws_s3_bucket_lifecycle_configuration", "mail/files/lifecycle").rule[0]
        .noncurrent_version_expiration,
    ).toEqual([{ noncurrent_days: 1, newer_noncurrent_versions: 3 }]);
    for (const bad of [0, 101, 2.5, Number.NaN]) {
      const { stack } = buildAws((c) => new GromoxNode(c, "mail1"), {}, { fileVersionsKept: bad });
      try {
        Testing.synth(stack);
        throw new Error("no error");
      } catch (e) {
        expect(e).toBeInstanceOf(GrommunioValidationError);
        expect((e as GrommunioValidationError).issues.map((i) => [i.code, i.field])).toContainEqual([
          "GRX223",
          "fileVersionsKept",
        ]);
      }
    }
  });

  test("adding a node adds its object, role and policies; the others keep their resource names", () => {
    const a = synthAws(exampleLayout).json;
    const b = synthAws((c) => exampleLayout(c, ["mail1", "mail2", "mail3", "mail4"])).json;
    for (const type of ["aws_s3_object", "aws_iam_role", "aws_iam_instance_profile", "aws_iam_role_policy"]) {
      const before = resources(a, type).map(([id]) => id);
      const after = resources(b, type).map(([id]) => id);
      expect(after).toEqual(expect.arrayContaining(before));
      const added = after.filter((id) => !before.includes(id));
      expect({ type, added: added.length }).toEqual({ type, added: type === "aws_iam_role_policy" ? 2 : 1 });
      expect(added.every((id) => id.startsWith("mail_mail4_") || id.startsWith("mail_files_bundle-mail4_"))).toBe(true);
    }
  });

  test("a node without secrets gets a role too, for its files only", () => {
    const { json } = synthAws((c) => new GromoxNode(c, "mail1"), {
      database: Database.onNode({ password: "Literal-Passw0rd" }),
    });
    const roles = resources(json, "aws_iam_role").map(([, r]) => r);
    const db = roles.find((r) => r.tags["grommunio:node"] === "db1")!;
    expect(db.description).toBe("db1 of the grommunio cluster mail: reads its own configuration files");
    const dbPolicies = resources(json, "aws_iam_role_policy").filter(([id]) => id.startsWith("mail_db1_"));
    expect(dbPolicies.map(([, p]) => p.name)).toEqual(["read-own-files"]);
    expect(instanceOf(json, "db1").iam_instance_profile).toMatch(
      /^\$\{aws_iam_instance_profile\.mail_db1_instance-profile_/,
    );
  });

  test("with kmsKeyId: SSE-KMS with that key and a bucket key; the role may decrypt through S3 only", () => {
    const key = "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const { json } = synthAws((c) => new GromoxNode(c, "mail1"), {}, { kmsKeyId: key });
    expect(
      resourceAt(json, "aws_s3_bucket_server_side_encryption_configuration", "mail/files/encryption").rule,
    ).toEqual([
      {
        apply_server_side_encryption_by_default: { sse_algorithm: "aws:kms", kms_master_key_id: key },
        bucket_key_enabled: true,
      },
    ]);
    const doc = json.data.aws_iam_policy_document;
    const files = Object.entries<Json>(doc).find(([id]) => id.startsWith("mail_mail1_files-policy-document"))![1];
    expect(files.statement.map((st: Json) => st.sid)).toEqual([
      "ListOwnFileVersions",
      "ReadOwnFiles",
      "DecryptOwnFilesThroughS3",
    ]);
    expect(files.statement[2]).toEqual({
      sid: "DecryptOwnFilesThroughS3",
      effect: "Allow",
      actions: ["kms:Decrypt"],
      resources: [key],
      condition: [{ test: "StringLike", variable: "kms:ViaService", values: ["s3.*.amazonaws.com"] }],
    });
  });
});

describe('opt-out: fileDelivery "user-data"', () => {
  /** The AWS platform whose deployment offers no file store: the cluster as it was before S3 delivery. */
  class WithoutFileStore extends AwsPlatform {
    public bind(scope: Construct, context: PlatformBindContext): AwsDeployment {
      const d = super.bind(scope, context);
      Object.defineProperty(d, "addFileStore", { value: undefined });
      return d;
    }
  }

  test("the same JSON as a deployment without a file store: every file in the user-data, no bucket", () => {
    const optOut = synthAws(exampleLayout, {}, { fileDelivery: "user-data" });
    const none = buildAws(exampleLayout, { platform: new WithoutFileStore({}) });
    const text = Testing.synth(none.stack);
    expect(JSON.stringify(optOut.json)).toBe(JSON.stringify(JSON.parse(text)));
    expect(resources(optOut.json, "aws_s3_bucket")).toEqual([]);
    expect(resources(optOut.json, "aws_s3_object")).toEqual([]);
    expect(optOut.cluster.fileBundles.size).toBe(0);
    const { config } = cloudConfigOf(optOut.json, "mail2");
    expect((config.write_files as Json[]).some((f) => f.path === "/etc/hosts")).toBe(true);
    expect((config.write_files as Json[]).some((f) => f.path === FILES_MANIFEST_PATH)).toBe(false);
  });

  test("an unknown fileDelivery is GRX222", () => {
    const { stack } = buildAws((c) => new ClassicNode(c, "classic1"), {}, { fileDelivery: "ftp" as "s3" });
    try {
      Testing.synth(stack);
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(GrommunioValidationError);
      expect((e as GrommunioValidationError).issues.map((i) => i.code)).toContain("GRX222");
    }
  });
});
