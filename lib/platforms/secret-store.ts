/**
 * Secret delivery: how a node receives the cluster's secrets (database and admin passwords, TLS
 * private keys). A platform declares one in `capabilities.secrets`:
 *
 * - `terraform` (the default): secrets are sensitive Terraform values (`random_password` results,
 *   references the user passes) that Terraform writes into the files that need them, inside the
 *   user-data (base64-encoded by Terraform where they could break the YAML). Files holding them
 *   are 0600/0640 with the owner of the program that reads them.
 * - `ssm` (AWS): every secret is a parameter in a platform secret store (SSM Parameter Store,
 *   SecureString). The user-data holds only the parameter NAMES and file templates with
 *   placeholders; a first-boot step, running with a machine identity that may read exactly that
 *   machine's parameters, fetches the values and writes the files with their owner and mode.
 *
 * Nothing outside `lib/platforms/` knows which store it is: the cluster asks the deployment for
 * `addSecretStore` when `capabilities.secrets` is not `terraform`.
 */
import { Construct } from "constructs";
import type { ConfigFile } from "../render/types";

/** How secrets reach the nodes (see the module comment). */
export type SecretDelivery = "terraform" | "ssm";

export const SECRET_DELIVERIES: readonly SecretDelivery[] = ["terraform", "ssm"];

/** One value the store keeps. */
export interface SecretSpec {
  /** Stable id, `[a-z0-9/-]`: `database-password`, `tls/mail1/private-key`, … */
  readonly id: string;
  /** The value: a Terraform token (random_password result, tls_private_key PEM, a reference). */
  readonly value: string;
  /** Confidential (SecureString); false for public material kept in the store for size (certificates). */
  readonly secure: boolean;
  /** What it is, for descriptions and messages. */
  readonly description: string;
}

export interface SecretStoreSpec {
  readonly secrets: readonly SecretSpec[];
}

/** What a machine runs at first boot to fetch its secrets (before any other first-boot step). */
export interface SecretFetchStep {
  /** Packages the fetch program needs (installed with the node's packages). */
  readonly packages: readonly string[];
  /** The fetch program (root-only files). */
  readonly files: readonly ConfigFile[];
  /**
   * The first-boot command: fetches every secret in the manifest and renders each template to its
   * final path with its owner and mode. Holds no secret.
   */
  readonly command: { readonly description: string; readonly shell: string };
}

export interface SecretStore {
  /** Where a secret lives (e.g. the SSM parameter name): a literal known at synth. */
  locationOf(id: string): string;
  /**
   * Lets `machine` read exactly `ids` (and nothing else) and returns the first-boot step that
   * fetches them, driven by the manifest at `manifestPath` (`lib/provision/secrets.ts`).
   */
  grant(scope: Construct, machine: string, ids: readonly string[], manifestPath: string): SecretFetchStep;
}
