/**
 * What `GrommunioCluster.addDns` does beyond creating the `MailDns`: the DKIM signing key on the
 * classic nodes (lib/render/dkim) and the PTR records the platform can publish.
 */
import { Construct } from "constructs";
import type { PlatformDeployment, ReverseDnsRequest, ReverseDnsResult } from "../platforms/platform";
import type { MailDns } from "../dns/mail-dns";
import { DkimSigning } from "../render/dkim";
import { Topology } from "../topology";

/** Who holds a public address the platform returned. */
export type AddressOwner = ReverseDnsRequest["owner"];

/** Secret id of the DKIM signing key (secret store, `GrommunioCluster.secretSpecs`). */
export const DKIM_SECRET_ID = "dkim-private-key";

/**
 * Upper bound of an RSA private key's PEM text (PKCS#1 or PKCS#8, unencrypted) of `bits`: the DER
 * holds the modulus, the two exponents and five CRT values (≤ 4.5 × the modulus bytes) plus
 * headers; base64 with a newline every 64 characters, armor lines. 8192 bits when unknown.
 */
export function rsaPrivateKeyPemBound(bits = 8192): number {
  const der = Math.ceil((Math.ceil(bits / 8) * 9) / 2) + 64;
  const base64 = Math.ceil(der / 3) * 4;
  return base64 + Math.ceil(base64 / 64) + 80;
}

/** The signing configuration of the classic nodes, when the DNS has the private key. */
export function dkimSigningOf(dns: MailDns, topology: Topology): DkimSigning | undefined {
  if (dns.dkimPrivateKeyPem === undefined || dns.dkimSelector === undefined) return undefined;
  return { domain: topology.domain, selector: dns.dkimSelector, privateKeyPem: dns.dkimPrivateKeyPem };
}

/**
 * The PTR requests for the platform: every `MailDns.reverseDns` entry whose address the platform
 * returned (owners), keyed `<node>-<family>` or `load-balancer-<family>`, with the Route53 forward
 * records to wait for. Entries with addresses of your own come back in `unowned`.
 */
export function reverseDnsRequests(
  dns: MailDns,
  owners: ReadonlyMap<string, AddressOwner>,
): { requests: ReverseDnsRequest[]; unowned: string[] } {
  const requests: ReverseDnsRequest[] = [];
  const unowned: string[] = [];
  const keys = new Set<string>();
  for (const e of dns.reverseDns) {
    const owner = owners.get(e.address);
    if (!owner) {
      unowned.push(`${e.address} → ${e.name}`);
      continue;
    }
    const key = `${"machine" in owner ? owner.machine : "load-balancer"}-${e.family}`;
    // One address per owner and family (a node that is both classic and load-balancer: once).
    if (keys.has(key)) continue;
    keys.add(key);
    // The Route53 record set of the name, keyed as `recordKey` keys it ("name TYPE").
    const forward = dns.route53Records[`${e.name} ${e.family === "ipv4" ? "A" : "AAAA"}`];
    requests.push({
      key,
      address: e.address,
      family: e.family,
      name: e.name,
      owner,
      forward: forward ? [forward] : [],
    });
  }
  return { requests, unowned };
}

/** Publishes the PTRs through the platform; the warnings say what was not published and why. */
export function publishReverseDns(
  scope: Construct,
  deployment: PlatformDeployment,
  platformName: string,
  dns: MailDns,
  owners: ReadonlyMap<string, AddressOwner>,
): { result?: ReverseDnsResult; warnings: string[] } {
  const { requests, unowned } = reverseDnsRequests(dns, owners);
  const warnings = unowned.map(
    (u) => `reverse DNS ${u}: not an address the platform allocated; have its owner set the PTR (docs/dns.md).`,
  );
  if (requests.length === 0) return { warnings };
  const add = deployment.addReverseDns?.bind(deployment);
  if (!add) {
    warnings.push(
      `${platformName} sets no reverse DNS: have the owner of ${requests.map((r) => r.name).join(", ")}'s addresses set the PTRs (docs/dns.md).`,
    );
    return { warnings };
  }
  const result = add(new Construct(scope, "reverse-dns"), requests);
  for (const s of result.skipped) warnings.push(`reverse DNS ${s.key} not set: ${s.reason}.`);
  return { result, warnings };
}
