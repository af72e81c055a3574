/**
 * MTA-STS (RFC 8461): the policy file the load-balancer tier serves and the id the `_mta-sts` TXT
 * record announces. The id is derived from the policy text, so it changes exactly when the policy
 * does (senders re-fetch the policy when the id changes). Pure and deterministic.
 */
import { createHash } from "node:crypto";
import { MtaStsMode, MtaStsOptions } from "./model";

/** Where senders fetch the policy: `https://mta-sts.<domain>` + this path. */
export const MTA_STS_POLICY_PATH = "/.well-known/mta-sts.txt";

export const DEFAULT_MTA_STS_MODE: MtaStsMode = "testing";
export const DEFAULT_MTA_STS_MAX_AGE = 604800;
/** RFC 8461 §3.2: `max_age` up to 31557600 (about a year). */
export const MAX_MTA_STS_MAX_AGE = 31557600;

/**
 * The policy text for MX host names `mx` (sorted, deduplicated): `version`, `mode`, one `mx` line
 * per host, `max_age`, each line ended by CRLF as RFC 8461 §3.2 writes it. Served as `text/plain`.
 */
export function mtaStsPolicyText(mx: readonly string[], options: MtaStsOptions = {}): string {
  const mode = options.mode ?? DEFAULT_MTA_STS_MODE;
  const maxAge = options.maxAgeSeconds ?? DEFAULT_MTA_STS_MAX_AGE;
  const lines = [
    "version: STSv1",
    `mode: ${mode}`,
    ...[...new Set(mx)].sort().map((h) => `mx: ${h}`),
    `max_age: ${maxAge}`,
  ];
  return lines.map((l) => `${l}\r\n`).join("");
}

/**
 * The policy id: 20 hex digits of the SHA-256 of the policy text (RFC 8461 §3.1 allows 1–32
 * alphanumerics). Same policy, same id; any change of the policy changes it.
 */
export function mtaStsPolicyId(policyText: string): string {
  return createHash("sha256").update(policyText, "utf8").digest("hex").slice(0, 20);
}
