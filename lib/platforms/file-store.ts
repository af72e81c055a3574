/**
 * File delivery: where a node's configuration files come from at first boot. Every platform ships
 * them in the user-data (cloud-init `write_files`) unless its deployment offers a file store
 * (`PlatformDeployment.addFileStore`): then each node's late files without Terraform values (its
 * "bundle", `lib/provision/bundle.ts`) are stored there, and the user-data carries only a small
 * first-boot step that fetches the bundle, pinned by its sha256, and writes the files.
 *
 * Why: user-data is small (AWS: 16 KB) and per-peer files (hosts, backends, seed SQL, allow lists)
 * grow with the cluster; a file store has no such limit. Nothing outside `lib/platforms/` knows
 * which store it is.
 */
import { Construct } from "constructs";
import type { SecretFetchStep } from "./secret-store";

/** One node's bundle as the store keeps it (`lib/provision/bundle.ts`). */
export interface FileBundleSpec {
  /** The bundle document (JSON, deterministic). */
  readonly document: string;
  /** Lowercase hex sha256 of the document's UTF-8 bytes. */
  readonly sha256: string;
}

/**
 * What a machine runs at first boot to fetch its bundle (the FIRST first-boot step): packages,
 * the program and its manifest (both stay in the user-data), the command.
 */
export type FileFetchStep = SecretFetchStep;

export interface FileStore {
  /**
   * Stores `bundle` for `machine`, lets exactly that machine read it (and nothing else of the
   * store), and returns the first-boot step that fetches it, driven by a manifest at
   * `manifestPath` that the step's files include.
   */
  put(scope: Construct, machine: string, bundle: FileBundleSpec, manifestPath: string): FileFetchStep;
}
