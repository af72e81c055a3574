/**
 * Configuration files on AWS (`fileDelivery` "s3", the default): one private, versioned S3 bucket
 * per cluster holds every node's bundle (`lib/provision/bundle.ts`) as `nodes/<node>/bundle.json`.
 * The bucket blocks every form of public access, enforces bucket-owner object ownership (no ACLs),
 * encrypts at rest (SSE-S3, or SSE-KMS with the platform's `kmsKeyId`) and refuses requests
 * without TLS. Each machine's role (`./identity.ts`, shared with the secret store) may list the
 * versions of exactly `<bucket>/nodes/<node>/bundle.json` (`s3:ListBucketVersions` with `s3:prefix`
 * equal to that key) and `s3:GetObjectVersion` exactly that key: a node reads its own bundle,
 * nobody else's. The manifest in the user-data pins the bundle by its sha256 (computed here, so
 * the user-data changes whenever the bundle does and holds no apply-time value but the bucket's
 * name); at first boot `FILES_FETCH_PROGRAM` lists the key's versions, newest first, and writes
 * the files of the first whose sha256 is the pinned one.
 *
 * A changed bundle is a new version of the same key. Noncurrent versions are kept (the newest
 * `versionsKept` of them; older ones expire a day after they became noncurrent), so a running node whose
 * user-data was not replaced (`configChangePolicy` "ignore") can still re-run the fetch of the
 * bundle it was given. Bundles hold no secret value (secrets stay in SSM Parameter Store; the
 * bundle may hold the templates with placeholders). They are derived data: the bucket, every
 * version included, is destroyed with the cluster (`force_destroy`).
 */
import { Construct } from "constructs";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import type { TokenSink } from "../platform";
import type { FileBundleSpec, FileFetchStep, FileStore } from "../file-store";
import { attribute, dependency } from "../../provision/cdktf";
import { toTerraformString } from "../../provision/tokens";
import type { MachineIdentities } from "./identity";
import { FILES_FETCH_PACKAGES, FILES_FETCH_PROGRAM, FILES_FETCH_SCRIPT } from "./files-fetch";

/** Where a node's bundle lives in the bucket (the node's role may read exactly this key). */
export function bundleKey(machine: string): string {
  return `nodes/${machine}/bundle.json`;
}

/**
 * The manifest the fetch program reads (`FILES_MANIFEST_PATH`). Version 3: the bundle is pinned by
 * its sha256 only; the program finds the version of `key` that has it (version 2 pinned an S3
 * version id, a Terraform value of up to 1,024 bytes in every node's user-data).
 */
export interface FilesManifest {
  readonly version: 3;
  readonly bucket: string;
  readonly key: string;
  readonly sha256: string;
}

/** How many noncurrent versions of each bundle are kept by default (`AwsPlatformProps.fileVersionsKept`). */
export const DEFAULT_FILE_VERSIONS_KEPT = 10;
/** S3 keeps at most 100 newer noncurrent versions in a lifecycle rule. */
export const MAX_FILE_VERSIONS_KEPT = 100;

export interface S3FileStoreProps {
  /** The cluster's name (bucket prefix, descriptions). */
  readonly clusterName: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Customer managed KMS key (id or ARN) for the bucket. @default SSE-S3 (AES256) */
  readonly kmsKeyId?: string;
  /**
   * Noncurrent versions of each node's bundle kept beyond the current one (1–100); older ones
   * expire a day after they became noncurrent. @default DEFAULT_FILE_VERSIONS_KEPT (10)
   */
  readonly versionsKept?: number;
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
  private readonly versioning: S3BucketVersioningA;
  private readonly keyArn?: string;
  /** What every bundle object depends on (`dependsOn` tokens, made once). */
  private objectDependencies?: readonly string[];

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
    this.bucketName = attribute(this.bucket, "bucket");
    this.bucketArn = attribute(this.bucket, "arn");
    this.bucketId = attribute(this.bucket, "id");
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
    // Versions: a changed bundle is a new version of the node's key; the one a running node was
    // given stays readable (its manifest pins its sha256) until `versionsKept` newer ones exist.
    this.versioning = new S3BucketVersioningA(scope, "versioning", {
      bucket: this.bucketId,
      versioningConfiguration: { status: "Enabled" },
    });
    const lifecycle = new S3BucketLifecycleConfiguration(scope, "lifecycle", {
      bucket: this.bucketId,
      rule: [
        {
          id: "keep-recent-bundle-versions",
          status: "Enabled",
          filter: [{ prefix: "nodes/" }],
          noncurrentVersionExpiration: [
            { noncurrentDays: 1, newerNoncurrentVersions: props.versionsKept ?? DEFAULT_FILE_VERSIONS_KEPT },
          ],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 1 }],
        },
      ],
    });
    // Rules on noncurrent versions: versioning enabled first (the provider's documented order).
    // (`dependsOn` entries as `dependency` tokens here and below: no stack traces.)
    lifecycle.dependsOn = [dependency(this.versioning)];
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
        this.keyArn = `arn:${attribute(partition, "partition")}:kms:${attribute(region, "region")}:${attribute(account, "account_id")}:key/*`;
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
    const bucketPolicy = new S3BucketPolicy(scope, "bucket-policy", {
      bucket: this.bucketId,
      policy: attribute(tlsOnly, "json"),
    });
    // S3 refuses concurrent changes of a bucket's access settings.
    bucketPolicy.dependsOn = [dependency(access)];
  }

  public put(scope: Construct, machine: string, bundle: FileBundleSpec, manifestPath: string): FileFetchStep {
    const key = bundleKey(machine);
    const object = new S3Object(this.scope, `bundle-${machine}`, {
      bucket: this.bucketId,
      key,
      // No tokens in a bundle: only `${` and `%{` are escaped for Terraform.
      content: toTerraformString(bundle.document),
      contentType: "application/json",
    });
    // Stored encrypted with the bucket's default (SSE-KMS: only once it is configured), as a
    // version (kept when replaced: only once versioning is enabled).
    this.objectDependencies ??= [dependency(this.encryption), dependency(this.versioning)];
    object.dependsOn = [...this.objectDependencies];
    this.objects.set(machine, object);
    // The instance starts after its bundle is stored: its first boot fetches it (and would
    // otherwise spend its retries on a key that does not exist yet).
    const instance = this.props.identities.instanceOf(machine);
    if (instance) instance.dependsOn = [...(instance.dependsOn ?? []), dependency(object)];
    const policy = new DataAwsIamPolicyDocument(scope, "files-policy-document", {
      statement: [
        {
          sid: "ListOwnFileVersions",
          effect: "Allow",
          // ListObjectVersions; S3 supports the s3:prefix condition key on it: exactly the
          // node's key (the program drops other keys that start with it, none of which exists).
          actions: ["s3:ListBucketVersions"],
          resources: [this.bucketArn],
          condition: [{ test: "StringEquals", variable: "s3:prefix", values: [key] }],
        },
        {
          sid: "ReadOwnFiles",
          effect: "Allow",
          // GetObject with a VersionId is authorized by s3:GetObjectVersion only.
          actions: ["s3:GetObjectVersion"],
          resources: [`${this.bucketArn}/${key}`],
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
    new IamRolePolicy(scope, "files-policy", { name: "read-own-files", role, policy: attribute(policy, "json") });
    this.props.identities.attach(scope, machine);
    const manifest: FilesManifest = { version: 3, bucket: this.bucketName, key, sha256: bundle.sha256 };
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
