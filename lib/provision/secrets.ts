/**
 * Secrets through a platform secret store (`capabilities.secrets` other than `terraform`, e.g. AWS
 * SSM Parameter Store): the user-data never holds a secret's value, only where it lives.
 *
 * `templateSecrets` moves every file of a node's provisioning that holds a secret to a template
 * under `SECRET_TEMPLATE_DIR` (root-only), with each secret replaced by a placeholder
 * (`secretPlaceholder(id)`), and writes a manifest (`SECRET_MANIFEST_PATH`, JSON, root-only):
 *
 * ```json
 * { "version": 1,
 *   "placeholder": "@@grommunio-secret:{id}@@",
 *   "secrets": { "database-password": "/grommunio/stack/mail/database-password" },
 *   "files": [ { "template": "/etc/grommunio-cluster/secret-templates/etc/gromox/mysql_adaptor.cfg",
 *                "path": "/etc/gromox/mysql_adaptor.cfg", "mode": "0640", "owner": "grommunio:gromoxcf" } ] }
 * ```
 *
 * The platform's fetch program (the first first-boot step, `SecretFetchStep`) reads the manifest,
 * fetches each location, and renders every template to its final path with its owner and mode
 * (atomically: a temporary file in the same directory, then rename). Running it again (after a
 * rotation in the store) re-renders the files. Pure and deterministic.
 */
import type { SecretFetchStep } from "../platforms/secret-store";
import type { ConfigFile } from "../render/types";
import { ValidationIssue } from "../topology";
import { NodeProvisioning, ProvisionCommand, ProvisionedFile } from "./model";
import { PROVISION_DIR } from "./node";

/** The manifest the fetch program reads. */
export const SECRET_MANIFEST_PATH = `${PROVISION_DIR}/secrets.json`;
/** Where the templates of secret-holding files go (the final path appended). */
export const SECRET_TEMPLATE_DIR = `${PROVISION_DIR}/secret-templates`;
/** The placeholder pattern; `{id}` stands for the secret's id. */
export const SECRET_PLACEHOLDER = "@@grommunio-secret:{id}@@";

/** The placeholder of one secret in a template. */
export function secretPlaceholder(id: string): string {
  return SECRET_PLACEHOLDER.replace("{id}", id);
}

/** A secret as the templating sees it: its id and the exact text renderers put into files. */
export interface SecretValue {
  readonly id: string;
  readonly value: string;
}

export interface SecretManifestFile {
  readonly template: string;
  readonly path: string;
  readonly mode: string;
  readonly owner: string;
}

export interface SecretManifest {
  readonly version: 1;
  readonly placeholder: string;
  /** Secret id → location in the store (e.g. the SSM parameter name). */
  readonly secrets: Readonly<Record<string, string>>;
  readonly files: readonly SecretManifestFile[];
}

export interface TemplatedSecrets {
  /** The provisioning with secret-holding files replaced by templates (and the manifest added). */
  readonly provisioning: NodeProvisioning;
  /** Ids of the secrets this node needs, sorted (empty: nothing to fetch, nothing changed). */
  readonly ids: readonly string[];
  readonly manifest?: SecretManifest;
  readonly issues: readonly ValidationIssue[];
}

function byPath<T extends { path: string }>(a: T, b: T): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** The manifest as the file the fetch program reads (JSON, root-only). */
export function secretManifestFile(manifest: SecretManifest): ConfigFile {
  return {
    path: SECRET_MANIFEST_PATH,
    content: JSON.stringify(manifest) + "\n",
    mode: "0600",
    owner: "root:root",
  };
}

/**
 * Replaces every secret value in the node's files by its placeholder and moves those files to
 * templates (see the module comment). Secrets found anywhere else (a command, a mount, an early
 * file) are reported (GRX455): they would reach the user-data.
 */
export function templateSecrets(
  p: NodeProvisioning,
  secrets: readonly SecretValue[],
  locationOf: (id: string) => string,
  path: string,
): TemplatedSecrets {
  const issues: ValidationIssue[] = [];
  // Longest first: a value that contains another is replaced whole.
  const ordered = [...secrets].filter((s) => s.value.length > 0).sort((a, b) => b.value.length - a.value.length);
  const used = new Set<string>();
  const files: ProvisionedFile[] = [];
  const entries: SecretManifestFile[] = [];
  for (const f of p.files) {
    let content = f.content;
    for (const s of ordered) {
      if (!content.includes(s.value)) continue;
      content = content.split(s.value).join(secretPlaceholder(s.id));
      used.add(s.id);
    }
    if (content === f.content) {
      files.push(f);
      continue;
    }
    if (f.stage !== "late") {
      issues.push(leak(path, `the ${f.stage} file ${f.path}`));
      files.push(f);
      continue;
    }
    const template = `${SECRET_TEMPLATE_DIR}${f.path}`;
    files.push({ path: template, content, mode: "0600", owner: "root:root", stage: "late" });
    entries.push({ template, path: f.path, mode: f.mode, owner: f.owner });
  }
  const elsewhere = [
    ...p.commands.map((c) => [`the first-boot step "${c.description}"`, c.shell] as const),
    ...p.mounts.map((m) => [`the mount of ${m.mountPoint}`, JSON.stringify(m)] as const),
  ];
  for (const [what, text] of elsewhere) {
    if (ordered.some((s) => text.includes(s.value))) issues.push(leak(path, what));
  }
  const ids = [...used].sort();
  if (ids.length === 0) return { provisioning: p, ids, issues };
  const manifest: SecretManifest = {
    version: 1,
    placeholder: SECRET_PLACEHOLDER,
    secrets: Object.fromEntries(ids.map((id) => [id, locationOf(id)])),
    files: entries.sort(byPath),
  };
  files.push({ ...secretManifestFile(manifest), stage: "late" });
  return { provisioning: { ...p, files: files.sort(byPath) }, ids, manifest, issues };
}

function leak(path: string, what: string): ValidationIssue {
  return {
    code: "GRX455",
    path,
    field: "secrets",
    message: `a secret would reach the user-data in ${what}, where the secret store cannot replace it.`,
    fix: "Keep secrets in the contents of files written after the packages (renderers and provisioning do); report this as a bug.",
  };
}

/** A platform's first-boot fetch step (the secret store's or the file store's). */
export interface FetchStep {
  readonly packages: readonly string[];
  readonly files: readonly ConfigFile[];
  readonly command: { readonly description: string; readonly shell: string };
}

/**
 * The provisioning with a fetch step: its packages merged, its files late, and its command FIRST
 * (before every first-boot step added so far).
 */
export function withFetchStep(p: NodeProvisioning, step: FetchStep): NodeProvisioning {
  const command: ProvisionCommand = { phase: "before-services", ...step.command };
  return {
    ...p,
    packages: [...new Set([...p.packages, ...step.packages])].sort(),
    files: [...p.files, ...step.files.map((f) => ({ ...f, stage: "late" as const }))].sort(byPath),
    commands: [command, ...p.commands],
  };
}

/**
 * The provisioning with the secret store's fetch step: its packages, its program's files, and its
 * command FIRST (before every other first-boot step, which may need the secrets).
 */
export function withSecretFetch(p: NodeProvisioning, step: SecretFetchStep): NodeProvisioning {
  return withFetchStep(p, step);
}

/** The provisioning with extra first-boot commands appended (e.g. setting the admin password). */
export function withCommands(p: NodeProvisioning, commands: readonly ProvisionCommand[]): NodeProvisioning {
  return commands.length ? { ...p, commands: [...p.commands, ...commands] } : p;
}
