/**
 * The machine identity of an AWS node: ONE IAM role and instance profile per machine, created on
 * first use, to which the secret store (SSM, `./secrets.ts`) and the file store (S3, `./files.ts`)
 * each add their own policy. The construct ids (`secrets-role`, `instance-profile`, under the
 * node's construct) are the ones the secret store used before the file store existed, so existing
 * deployments keep their roles.
 */
import { Construct } from "constructs";
import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import type { Instance } from "@cdktf/provider-aws/lib/instance";
import { attribute } from "../../provision/cdktf";

/** What a machine's role is for (its description names them). */
export type MachinePurpose = "secrets" | "files";

export interface MachineIdentitiesProps {
  /** Short name for IAM name prefixes and descriptions (the cluster's name). */
  readonly clusterName: string;
  readonly tags: Readonly<Record<string, string>>;
  /** The machine's instance (its instance profile is set), by node name. */
  readonly instance: (machine: string) => Instance | undefined;
}

interface Entry {
  readonly role: IamRole;
  /** The role's id as one token (every read of `role.id` makes a new token). */
  roleId?: string;
  profile?: IamInstanceProfile;
  readonly purposes: Set<MachinePurpose>;
}

function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9_+=,.@-]+/g, "-");
}

const PURPOSES: Readonly<Record<string, string>> = {
  secrets: "reads its own secrets",
  files: "reads its own configuration files",
  "files secrets": "reads its own configuration files and secrets",
};

export class MachineIdentities {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly props: MachineIdentitiesProps) {}

  /**
   * The machine's role (created under `scope`, the node's construct, on the first call), with
   * `purpose` added to its description. Add the purpose's policy, then call `attach`.
   */
  public role(scope: Construct, machine: string, purpose: MachinePurpose): IamRole {
    let entry = this.entries.get(machine);
    if (!entry) {
      const role = new IamRole(scope, "secrets-role", {
        namePrefix: this.prefix(machine),
        description: this.description(machine, new Set([purpose])),
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
        tags: { ...this.props.tags, "grommunio:node": machine },
      });
      entry = { role, purposes: new Set() };
      this.entries.set(machine, entry);
    }
    if (!entry.purposes.has(purpose)) {
      entry.purposes.add(purpose);
      if (entry.purposes.size > 1) entry.role.description = this.description(machine, entry.purposes);
    }
    return entry.role;
  }

  /**
   * The id of the machine's role (`role` with the same arguments), as one token string shared by
   * every policy that names the role: every read of `role.id` makes a new cdktf token.
   */
  public roleId(scope: Construct, machine: string, purpose: MachinePurpose): string {
    this.role(scope, machine, purpose);
    const entry = this.entries.get(machine)!;
    return (entry.roleId ??= attribute(entry.role, "id"));
  }

  /** The machine's instance profile (created on the first call, after `role`), set on its instance. */
  public attach(scope: Construct, machine: string): IamInstanceProfile {
    const entry = this.entries.get(machine);
    if (!entry) throw new Error(`no role for ${machine}: call role() first`);
    if (!entry.profile) {
      entry.profile = new IamInstanceProfile(scope, "instance-profile", {
        namePrefix: this.prefix(machine),
        role: attribute(entry.role, "name"),
        tags: { ...this.props.tags, "grommunio:node": machine },
      });
      const instance = this.props.instance(machine);
      if (instance) instance.iamInstanceProfile = attribute(entry.profile, "name");
    }
    return entry.profile;
  }

  /** The machine's instance (undefined for a machine this deployment did not create). */
  public instanceOf(machine: string): Instance | undefined {
    return this.props.instance(machine);
  }

  private prefix(machine: string): string {
    return slug(`${this.props.clusterName}-${machine}-`).slice(0, 32);
  }

  private description(machine: string, purposes: ReadonlySet<MachinePurpose>): string {
    const what = PURPOSES[[...purposes].sort().join(" ")] ?? PURPOSES.secrets!;
    return `${machine} of the grommunio cluster ${this.props.clusterName}: ${what}`;
  }
}
