/**
 * File bundles: on platforms with a file store (`lib/platforms/file-store.ts`, AWS S3), a node's
 * configuration files travel outside the user-data. `splitBundle` decides which:
 *
 * - the bundle = every `late` file whose content holds NO Terraform token (on AWS, secrets were
 *   templated before: the templates and the secrets manifest hold names, not values);
 * - stays in the user-data: `early` files (APT sources and keys, needed before the packages, long
 *   before any fetch can run), files holding tokens (their value is only known to Terraform), and
 *   the fetch step's own program and manifest (added after the split, `withFileFetch`).
 *
 * The bundle document is deterministic JSON (`JSON.stringify`, files sorted by path, each
 * `{path, owner, mode, content}`):
 *
 * ```json
 * {"version":1,"files":[{"path":"/etc/gromox/http.cfg","owner":"root:gromox","mode":"0640","content":"…"}]}
 * ```
 *
 * Its sha256 (of the UTF-8 bytes) pins it: the store keys it by the hash, the manifest in the
 * user-data names the key and the hash, and the fetch program refuses a bundle whose bytes do not
 * hash to it. A changed file changes the hash, hence the user-data: the platform's
 * `configChangePolicy` applies to it as to any other configuration change. Pure and deterministic.
 */
import { createHash } from "node:crypto";
import type { FileFetchStep } from "../platforms/file-store";
import { NodeProvisioning, ProvisionedFile } from "./model";
import { withFetchStep } from "./secrets";
import { PROVISION_DIR } from "./node";
import { hasTokens } from "./tokens";

/** The manifest the file fetch program reads (JSON, root-only; platform-specific fields). */
export const FILES_MANIFEST_PATH = `${PROVISION_DIR}/files.json`;

/** One file of a bundle (the document's entry). */
export interface BundleEntry {
  readonly path: string;
  readonly owner: string;
  readonly mode: string;
  readonly content: string;
}

export interface FileBundle {
  /** The bundled files, sorted by path. */
  readonly files: readonly ProvisionedFile[];
  /** The document the store keeps. */
  readonly document: string;
  /** Lowercase hex sha256 of the document's UTF-8 bytes. */
  readonly sha256: string;
}

export interface SplitBundle {
  /** Undefined when no file qualifies (nothing to fetch; the provisioning is unchanged). */
  readonly bundle?: FileBundle;
  /** The provisioning without the bundled files (what the user-data carries). */
  readonly userData: NodeProvisioning;
}

function byPath<T extends { path: string }>(a: T, b: T): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** True for files that travel in the bundle (late, no Terraform token). */
export function isBundled(f: ProvisionedFile): boolean {
  return f.stage === "late" && !hasTokens(f.content);
}

/** The bundle document of `files` (sorted by path; the key order is fixed). */
export function bundleDocument(files: readonly ProvisionedFile[]): string {
  const entries: BundleEntry[] = [...files]
    .sort(byPath)
    .map((f) => ({ path: f.path, owner: f.owner, mode: f.mode, content: f.content }));
  return JSON.stringify({ version: 1, files: entries });
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** Splits a node's provisioning into its bundle and what stays in the user-data (module comment). */
export function splitBundle(p: NodeProvisioning): SplitBundle {
  const moved = p.files.filter(isBundled);
  if (moved.length === 0) return { userData: p };
  const document = bundleDocument(moved);
  return {
    bundle: { files: [...moved].sort(byPath), document, sha256: sha256Hex(document) },
    userData: { ...p, files: p.files.filter((f) => !isBundled(f)) },
  };
}

/**
 * The provisioning with the file store's fetch step: its packages, its program and manifest (late
 * files, kept in the user-data), and its command FIRST (before the secrets fetch, whose program,
 * templates and manifest may be in the bundle).
 */
export function withFileFetch(p: NodeProvisioning, step: FileFetchStep): NodeProvisioning {
  return withFetchStep(p, step);
}
