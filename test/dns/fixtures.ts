/**
 * The DNS inputs of the documented layout (test/fixtures.ts): the entry point's public addresses,
 * the classic node's egress addresses, a fixed 2048-bit DKIM public key, DMARC reports, CAA.
 * Documentation addresses only (RFC 5737, RFC 3849).
 */
import { buildTopology, Topology } from "../../lib/topology";
import { MailDnsOptions, MailEntryPoint } from "../../lib/render/dns";
import { documentedLayout } from "../fixtures";
import { RSA_2048_PUBLIC_PEM } from "./keys";

export const DOCUMENTED_ENTRY: MailEntryPoint = { ipv4: ["203.0.113.10"], ipv6: ["2001:db8::10"] };

export function documentedDnsOptions(overrides: Partial<MailDnsOptions> = {}): MailDnsOptions {
  return {
    egress: [{ node: "classic1", ipv4: "198.51.100.25", ipv6: "2001:db8:1::25" }],
    dkim: { publicKey: RSA_2048_PUBLIC_PEM },
    dmarc: { rua: "dmarc-reports@gro.at" },
    caa: { issuers: ["letsencrypt.org"], iodef: "mailto:security@gro.at" },
    ...overrides,
  };
}

export function documentedTopology(): Topology {
  return buildTopology(documentedLayout());
}
