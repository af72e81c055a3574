/**
 * The cluster's secrets and certificates at synth: one registry of every secret (generated
 * `random_password`s, passwords the user passes as Terraform references, TLS private keys), the
 * TLS material and files of each node, grommunio's `admin` password, and their delivery:
 *
 * - `capabilities.secrets` `terraform`: the files keep the Terraform values (the provisioning layer
 *   base64-encodes them in Terraform where needed); nothing else happens;
 * - otherwise (`ssm`): the platform's secret store keeps every registered secret; each node's
 *   secret-holding files become templates, and its first boot fetches exactly the secrets it
 *   needs (`lib/provision/secrets.ts`, `SecretStore.grant`).
 *
 * Literal values (tests, or users who pass plain strings) are never moved: they are already in the
 * synthesized JSON, and the cluster warns about them.
 */
import { Construct } from "constructs";
import type {
  PlatformCapabilities,
  PlatformDeployment,
  SecretSpec,
  SecretStore,
  TokenFacts,
} from "../platforms/platform";
import { PROVISION_DIR, NodeProvisioning, ProvisionCommand } from "../provision";
import { Token } from "../provision/cdktf";
import { SECRET_MANIFEST_PATH, templateSecrets, withCommands, withSecretFetch } from "../provision/secrets";
import { needsTls, renderTlsFiles } from "../render/tls";
import type { ConfigFile } from "../render/types";
import { ClusterNode, Topology, ValidationIssue } from "../topology";
import { addPasswordCheck } from "./password-check";
import { Tls, TlsBinding, TlsMaterial } from "./tls";

/** Where the admin node keeps grommunio's `admin` password until first boot has set it. */
export const ADMIN_PASSWORD_FILE = `${PROVISION_DIR}/admin-password`;
/** Upper bound of a user's admin password (a Terraform value), for the user-data size check. */
export const ADMIN_PASSWORD_MAX_LENGTH = 128;
/** Length of the generated admin password (letters and digits). */
export const ADMIN_PASSWORD_LENGTH = 24;

export interface ClusterSecurityOptions {
  readonly clusterPath: string;
  readonly capabilities: PlatformCapabilities;
  readonly tls: Tls;
  /** The user's admin password (a Terraform reference), if any. */
  readonly adminPassword?: string;
  /** Where the plan-time check of a user's admin password goes (the cluster). */
  readonly scope: Construct;
  /** Creates (once per id) a random_password and returns its result. */
  readonly secret: (id: string, length: number) => string;
  /** Declares a token that may appear in user-data (the cluster's registry). */
  readonly declareToken: (
    value: string,
    maxLength: number,
    charset: TokenFacts["charset"],
    description: string,
  ) => void;
}

export class ClusterSecurity {
  private readonly registry = new Map<string, SecretSpec>();
  private readonly tls: TlsBinding;
  private readonly material = new Map<string, TlsMaterial>();
  private store?: SecretStore;
  private adminPasswordValue?: string;
  private readonly ownIssues: ValidationIssue[] = [];

  constructor(private readonly options: ClusterSecurityOptions) {
    this.tls = options.tls.bind(options.clusterPath, (value, maxLength, charset, description) =>
      options.declareToken(value, maxLength, charset, description),
    );
    const admin = options.adminPassword;
    if (admin !== undefined) {
      options.declareToken(admin, ADMIN_PASSWORD_MAX_LENGTH, "any", "the grommunio admin password");
      if (Token.isUnresolved(admin)) {
        addPasswordCheck(options.scope, "admin-password-check", "admin", admin, ADMIN_PASSWORD_MAX_LENGTH);
        // The literal counterpart of PASSWORD_PATTERNS.admin: no "-" first, no control character.
        // eslint-disable-next-line no-control-regex
      } else if (!/^[^-\x00-\x1f\x7f][^\x00-\x1f\x7f]*$/.test(admin)) {
        this.ownIssues.push({
          code: "GRX457",
          path: options.clusterPath,
          field: "adminPassword",
          message:
            "the admin password starts with '-' (grommunio-admin passwd would take it for an option), holds a control character (a trailing newline would be dropped), or is empty.",
          fix: "Omit adminPassword (a random_password is generated) or pass one without those.",
        });
      }
    }
  }

  /** Problems found with the props (TLS: GRX453, GRX454; the admin password: GRX457). */
  public get issues(): readonly ValidationIssue[] {
    return [...this.tls.issues, ...this.ownIssues];
  }

  /** Warnings for the cluster's annotations. */
  public get warnings(): readonly string[] {
    return this.tls.warnings;
  }

  /** Registers a secret (only Terraform values: literals are already in the JSON). */
  public register(id: string, value: string, description: string, secure = true): void {
    if (!Token.isUnresolved(value) || this.registry.has(id)) return;
    this.registry.set(id, { id, value, description, secure });
  }

  /** Every registered secret, by id. */
  public get secrets(): readonly SecretSpec[] {
    return [...this.registry.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** grommunio's admin password (after `prepare`; undefined without an admin node). */
  public get adminPassword(): string | undefined {
    return this.adminPasswordValue;
  }

  /** The secret store (after `prepare`, when the platform delivers secrets from one). */
  public get secretStore(): SecretStore | undefined {
    return this.store;
  }

  /**
   * At synth, before any node is provisioned: TLS material per node (resources under each node's
   * construct), the admin password, then the platform's secret store with every secret.
   */
  public prepare(
    scope: Construct,
    topology: Topology,
    deployment: PlatformDeployment,
    nodeScope: (name: string) => Construct,
  ): ValidationIssue[] {
    const issues: ValidationIssue[] = [];
    for (const node of topology.nodes) {
      if (!needsTls(node)) continue;
      const m = this.tls.material(nodeScope(node.name), topology, node);
      if (!m) continue;
      this.material.set(node.name, m);
      for (const s of m.secrets) this.register(s.id, s.value, s.description, s.secure);
    }
    if (topology.adminNodes.length > 0) {
      this.adminPasswordValue =
        this.options.adminPassword ?? this.options.secret("admin-password", ADMIN_PASSWORD_LENGTH);
      this.register("admin-password", this.adminPasswordValue, "password of grommunio's admin user");
    }
    const delivery = this.options.capabilities.secrets ?? "terraform";
    if (delivery !== "terraform") {
      const add = deployment.addSecretStore?.bind(deployment);
      if (!add) {
        issues.push({
          code: "GRX456",
          path: this.options.clusterPath,
          field: "platform",
          message: `the platform delivers secrets through "${delivery}" but offers no secret store.`,
          fix: "Report this as a bug of the platform (capabilities.secrets and addSecretStore disagree).",
        });
      } else if (this.registry.size > 0) {
        this.store = add(new Construct(scope, "secrets"), { secrets: this.secrets });
      }
    }
    return issues;
  }

  /** The node's TLS files and, on the first admin node, the admin password file. */
  public nodeFiles(topology: Topology, node: ClusterNode): ConfigFile[] {
    const files: ConfigFile[] = [];
    const m = this.material.get(node.name);
    if (m) files.push(...renderTlsFiles(topology, node, m));
    if (this.setsAdminPassword(topology, node)) {
      files.push({
        path: ADMIN_PASSWORD_FILE,
        content: `${this.adminPasswordValue}\n`,
        mode: "0600",
        owner: "root:root",
      });
    }
    return files;
  }

  private setsAdminPassword(topology: Topology, node: ClusterNode): boolean {
    return this.adminPasswordValue !== undefined && topology.adminNodes[0]?.name === node.name;
  }

  /**
   * The node's provisioning with its secrets delivered: the admin password step on the first admin
   * node; with a secret store, templates, the manifest and the fetch step (granting the machine
   * exactly the secrets its files hold).
   */
  public deliver(
    topology: Topology,
    node: ClusterNode,
    scope: Construct,
    p: NodeProvisioning,
  ): { provisioning: NodeProvisioning; issues: readonly ValidationIssue[] } {
    let provisioning = p;
    if (this.setsAdminPassword(topology, node)) {
      const set: ProvisionCommand = {
        phase: "after-services",
        description:
          "set the password of grommunio's admin user, then remove the file that held it (nothing when the file is gone: a rerun of runcmd after this step passed must not set an empty password)",
        shell: `f=${ADMIN_PASSWORD_FILE}; [ ! -f $f ] || { grommunio-admin passwd --password "$(cat $f)"; rm $f; }`,
      };
      provisioning = withCommands(provisioning, [set]);
    }
    if (!this.store) return { provisioning, issues: [] };
    const store = this.store;
    const t = templateSecrets(provisioning, this.secrets, (id) => store.locationOf(id), node.path);
    if (t.ids.length === 0) return { provisioning: t.provisioning, issues: t.issues };
    const step = store.grant(scope, node.name, t.ids, SECRET_MANIFEST_PATH);
    return { provisioning: withSecretFetch(t.provisioning, step), issues: t.issues };
  }
}
