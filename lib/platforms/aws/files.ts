/**
 * Configuration files on AWS (`fileDelivery` "s3", the default): one private S3 bucket per
 * cluster holds every node's bundle (`lib/provision/bundle.ts`) as `nodes/<node>/<sha256>.json`.
 * The bucket blocks every form of public access, enforces bucket-owner object ownership (no ACLs),
 * encrypts at rest (SSE-S3, or SSE-KMS with the platform's `kmsKeyId`) and refuses requests
 * without TLS. Each machine's role (`./identity.ts`, shared with the secret store) may
 * `s3:GetObject` exactly `<bucket>/nodes/<node>/*`: a node reads its own bundle, nobody else's.
 * At first boot `FILES_FETCH_PROGRAM` downloads it, checks its sha256 against the manifest in the
 * user-data and writes the files.
 *
 * Bundles hold no secret value (secrets stay in SSM Parameter Store; the bundle may hold the
 * templates with placeholders). They are derived data: the bucket is destroyed with the cluster
 * (`force_destroy`), and a changed bundle is a new object under a new key (the old one is deleted
 * by the same apply).
 */
import { dependable } from "cdktf";
import { Construct } from "constructs";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import type { TokenSink } from "../platform";
import type { FileBundleSpec, FileFetchStep, FileStore } from "../file-store";
import { toTerraformString } from "../../provision/tokens";
import type { MachineIdentities } from "./identity";
import { FILES_FETCH_PACKAGES, FILES_FETCH_PROGRAM, FILES_FETCH_SCRIPT } from "./files-fetch";

/** Where a node's bundles live in the bucket (the node's role may read exactly this prefix). */
export function bundlePrefix(machine: string): string {
  return `nodes/${machine}/`;
}

/** The object key of a bundle: content-addressed, so a changed bundle changes the user-data. */
export function bundleKey(machine: string, sha256: string): string {
  return `${bundlePrefix(machine)}${sha256}.json`;
}

/** The manifest the fetch program reads (`FILES_MANIFEST_PATH`). */
export interface FilesManifest {
  readonly version: 1;
  readonly bucket: string;
  readonly key: string;
  readonly sha256: string;
}

export interface S3FileStoreProps {
  /** The cluster's name (bucket prefix, descriptions). */
  readonly clusterName: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Customer managed KMS key (id or ARN) for the bucket. @default SSE-S3 (AES256) */
  readonly kmsKeyId?: string;
  /** The machines' roles (one per machine, shared with the secret store). */
  readonly identities: MachineIdentities;
  /** Where the bucket's name (a token) is declared for the user-data. */
  readonly tokens: TokenSink;
}

/** S3 bucket names: 3–63 characters; `bucket_prefix` at most 37. */
const BUCKET_PREFIX_MAX = 37;

function bucketPrefixOf(clusterName: string): string {
  const stem =
    clusterName
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "") || "cluster";
  return `grommunio-${stem}`.slice(0, BUCKET_PREFIX_MAX - 1).replace(/-+$/, "") + "-";
}

export class S3FileStore implements FileStore {
  public readonly bucket: S3Bucket;
  /** The bundle objects by node name. */
  public readonly objects = new Map<string, S3Object>();
  private readonly bucketName: string;
  private readonly bucketArn: string;
  private readonly bucketId: string;
  private readonly encryption: S3BucketServerSideEncryptionConfigurationA;
  private readonly keyArn?: string;

  constructor(
    private readonly scope: Construct,
    private readonly props: S3FileStoreProps,
  ) {
    this.bucket = new S3Bucket(scope, "bucket", {
      bucketPrefix: bucketPrefixOf(props.clusterName),
      // Bundles are derived from the configuration: nothing to keep when the cluster goes.
      forceDestroy: true,
      tags: { ...props.tags, Name: `${props.clusterName}-files` },
    });
    // One token string each, declared and used (each getter call would make a new token).
    this.bucketName = this.bucket.bucket;
    this.bucketArn = this.bucket.arn;
    this.bucketId = this.bucket.id;
    props.tokens.declareToken(this.bucketName, {
      maxLength: 63,
      charset: "safe",
      description: "the name of the cluster's file bucket",
    });
    const access = new S3BucketPublicAccessBlock(scope, "public-access-block", {
      bucket: this.bucketId,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(scope, "ownership", {
      bucket: this.bucketId,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });
    const kms = props.kmsKeyId;
    this.encryption = new S3BucketServerSideEncryptionConfigurationA(scope, "encryption", {
      bucket: this.bucketId,
      rule: [
        kms !== undefined
          ? {
              applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: kms },
              bucketKeyEnabled: true,
            }
          : { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } },
      ],
    });
    if (kms !== undefined) {
      if (kms.startsWith("arn:")) this.keyArn = kms;
      else {
        const partition = new DataAwsPartition(scope, "partition");
        const region = new DataAwsRegion(scope, "region");
        const account = new DataAwsCallerIdentity(scope, "account");
        // A key id or an alias: any key of the account (S3 decrypts only with the bucket's).
        this.keyArn = `arn:${partition.partition}:kms:${region.region}:${account.accountId}:key/*`;
      }
    }
    const tlsOnly = new DataAwsIamPolicyDocument(scope, "bucket-policy-document", {
      statement: [
        {
          sid: "DenyInsecureTransport",
          effect: "Deny",
          principals: [{ type: "*", identifiers: ["*"] }],
          actions: ["s3:*"],
          resources: [this.bucketArn, `${this.bucketArn}/*`],
          condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }],
        },
      ],
    });
    new S3BucketPolicy(scope, "bucket-policy", {
      bucket: this.bucketId,
      policy: tlsOnly.json,
      // S3 refuses concurrent changes of a bucket's access settings.
      dependsOn: [access],
    });
  }

  public put(scope: Construct, machine: string, bundle: FileBundleSpec, manifestPath: string): FileFetchStep {
    const key = bundleKey(machine, bundle.sha256);
    const object = new S3Object(this.scope, `bundle-${machine}`, {
      bucket: this.bucketId,
      key,
      // No tokens in a bundle: only `${` and `%{` are escaped for Terraform.
      content: toTerraformString(bundle.document),
      contentType: "application/json",
      // Stored encrypted with the bucket's default (SSE-KMS: only once it is configured).
      dependsOn: [this.encryption],
    });
    this.objects.set(machine, object);
    // The instance starts after its bundle is stored: its first boot fetches it (and would
    // otherwise spend its retries on a key that does not exist yet).
    const instance = this.props.identities.instanceOf(machine);
    if (instance) instance.dependsOn = [...(instance.dependsOn ?? []), dependable(object)];
    const policy = new DataAwsIamPolicyDocument(scope, "files-policy-document", {
      statement: [
        {
          sid: "ReadOwnFiles",
          effect: "Allow",
          actions: ["s3:GetObject"],
          resources: [`${this.bucketArn}/${bundlePrefix(machine)}*`],
        },
        ...(this.keyArn !== undefined
          ? [
              {
                sid: "DecryptOwnFilesThroughS3",
                effect: "Allow",
                actions: ["kms:Decrypt"],
                resources: [this.keyArn],
                condition: [
                  {
                    test: "StringLike",
                    variable: "kms:ViaService",
                    values: ["s3.*.amazonaws.com"],
                  },
                ],
              },
            ]
          : []),
      ],
    });
    const role = this.props.identities.roleId(scope, machine, "files");
    new IamRolePolicy(scope, "files-policy", { name: "read-own-files", role, policy: policy.json });
    this.props.identities.attach(scope, machine);
    const manifest: FilesManifest = { version: 1, bucket: this.bucketName, key, sha256: bundle.sha256 };
    return {
      packages: FILES_FETCH_PACKAGES,
      files: [
        { path: FILES_FETCH_PROGRAM, content: FILES_FETCH_SCRIPT, mode: "0700", owner: "root:root" },
        { path: manifestPath, content: JSON.stringify(manifest) + "\n", mode: "0600", owner: "root:root" },
      ],
      command: {
        description: "fetch this node's configuration files from its bundle in S3 (sha256-pinned) and write them",
        shell: `${FILES_FETCH_PROGRAM} ${manifestPath}`,
      },
    };
  }
}
