/**
 * Secrets on AWS (`capabilities.secrets` "ssm"): every cluster secret is an SSM Parameter Store
 * parameter (SecureString for passwords and private keys, String for certificates), named
 * `<prefix>/<secret id>`. Each machine that needs secrets has its own IAM role and instance
 * profile (`./identity.ts`, shared with the file store) whose secrets policy allows `ssm:GetParameter(s)` on exactly the parameters its files hold,
 * and `kms:Decrypt` only through SSM (`kms:ViaService`) for exactly those parameters
 * (`kms:EncryptionContext:PARAMETER_ARN`), on the aws/ssm key (or `kmsKeyId`). At first boot the
 * machine runs `SSM_FETCH_PROGRAM` (python3-boto3), which renders its templates
 * (`lib/provision/secrets.ts`). The user-data holds only parameter names.
 */
import { Construct } from "constructs";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { attribute } from "../../provision/cdktf";
import type { SecretFetchStep, SecretStore, SecretStoreSpec } from "../secret-store";
import type { MachineIdentities } from "./identity";
import { SSM_FETCH_PACKAGES, SSM_FETCH_PROGRAM, SSM_FETCH_SCRIPT } from "./ssm-fetch";

/** SSM parameter names: `/`-separated `[A-Za-z0-9_.-]` segments, not starting with aws or ssm. */
export const SSM_PREFIX = /^(?!\/(?:aws|ssm))(?:\/[A-Za-z0-9_.-]+)+$/i;

export interface SsmSecretStoreProps {
  /** Parameter name prefix, e.g. `/grommunio/<stack>/<cluster>`. */
  readonly prefix: string;
  /** Customer managed KMS key (id or ARN) for the SecureStrings. @default the AWS managed aws/ssm key */
  readonly kmsKeyId?: string;
  readonly tags: Readonly<Record<string, string>>;
  /** The cluster's name (descriptions). */
  readonly clusterName: string;
  /** The machines' roles (one per machine, shared with the file store). */
  readonly identities: MachineIdentities;
}

export class SsmSecretStore implements SecretStore {
  /** The parameters by secret id. */
  public readonly parameters = new Map<string, SsmParameter>();
  private readonly region: DataAwsRegion;
  private readonly account: DataAwsCallerIdentity;
  private readonly partition: DataAwsPartition;
  /*
   * Attribute tokens read once and reused (every read of a cdktf attribute getter makes a new
   * Reference with a stack trace; the same token string resolves the same way).
   */
  private readonly arns = new Map<string, string>();
  private regionToken?: string;
  private defaultKeyArn?: string;

  constructor(
    scope: Construct,
    spec: SecretStoreSpec,
    private readonly props: SsmSecretStoreProps,
  ) {
    this.region = new DataAwsRegion(scope, "region");
    this.account = new DataAwsCallerIdentity(scope, "account");
    this.partition = new DataAwsPartition(scope, "partition");
    for (const s of spec.secrets) {
      this.parameters.set(
        s.id,
        new SsmParameter(scope, s.id.replace(/\//g, "-"), {
          name: this.locationOf(s.id),
          description: `${s.description} (grommunio cluster ${props.clusterName})`,
          type: s.secure ? "SecureString" : "String",
          ...(s.secure && props.kmsKeyId !== undefined ? { keyId: props.kmsKeyId } : {}),
          // Standard (free) up to 4 KB; certificate chains beyond that become advanced parameters.
          tier: "Intelligent-Tiering",
          value: s.value,
          tags: { ...props.tags, Name: this.locationOf(s.id) },
        }),
      );
    }
  }

  public locationOf(id: string): string {
    return `${this.props.prefix}/${id}`;
  }

  public grant(scope: Construct, machine: string, ids: readonly string[], manifestPath: string): SecretFetchStep {
    const arns = ids.map((id) => {
      let arn = this.arns.get(id);
      if (arn === undefined) {
        const p = this.parameters.get(id);
        if (!p) throw new Error(`no SSM parameter for secret ${id}`);
        arn = attribute(p, "arn");
        this.arns.set(id, arn);
      }
      return arn;
    });
    const region = (this.regionToken ??= attribute(this.region, "region"));
    const keyArn =
      this.props.kmsKeyId !== undefined && this.props.kmsKeyId.startsWith("arn:")
        ? this.props.kmsKeyId
        : (this.defaultKeyArn ??= `arn:${attribute(this.partition, "partition")}:kms:${region}:${attribute(this.account, "account_id")}:key/*`);
    const policy = new DataAwsIamPolicyDocument(scope, "secrets-policy-document", {
      statement: [
        {
          sid: "ReadOwnSecrets",
          effect: "Allow",
          actions: ["ssm:GetParameter", "ssm:GetParameters"],
          resources: arns,
        },
        {
          sid: "DecryptOwnSecretsThroughSsm",
          effect: "Allow",
          actions: ["kms:Decrypt"],
          resources: [keyArn],
          condition: [
            { test: "StringEquals", variable: "kms:ViaService", values: [`ssm.${region}.amazonaws.com`] },
            { test: "StringEquals", variable: "kms:EncryptionContext:PARAMETER_ARN", values: arns },
          ],
        },
      ],
    });
    const role = this.props.identities.roleId(scope, machine, "secrets");
    new IamRolePolicy(scope, "secrets-policy", { name: "read-own-secrets", role, policy: attribute(policy, "json") });
    this.props.identities.attach(scope, machine);
    return {
      packages: SSM_FETCH_PACKAGES,
      files: [{ path: SSM_FETCH_PROGRAM, content: SSM_FETCH_SCRIPT, mode: "0700", owner: "root:root" }],
      command: {
        description: "fetch this node's secrets from SSM Parameter Store and write the files that hold them",
        shell: `${SSM_FETCH_PROGRAM} ${manifestPath}`,
      },
    };
  }
}
