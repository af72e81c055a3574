/**
 * Where the cluster's TLS certificates come from (`GrommunioClusterProps.tls`):
 *
 * - `Tls.selfSigned()` (the default, for trials): per node a `tls_private_key` (ECDSA P-256) and a
 *   `tls_self_signed_cert` from the tls provider, covering the public name, `autodiscover.`,
 *   `autoconfig.` and `mta-sts.` of the domain and the node's own host name. One certificate PER
 *   NODE, keyed by the node's name, so adding or removing a node never changes another node's
 *   certificate (on platforms where a user-data change replaces the machine, a shared certificate
 *   naming every node would replace them all). Clients warn until you trust it.
 * - `Tls.certificate({ certificatePem, privateKeyPem })`: your certificate chain and key (Terraform
 *   references, e.g. from the acme provider with a DNS-01 challenge, or PEM literals), the same on
 *   every node.
 * - `Tls.acme({ email })`: certificates from an ACME CA, issued on the load-balancer tier with
 *   HTTP-01 through the port-80 frontend. Not available yet: refused with GRX453, which says what is
 *   missing (docs/security.md describes the planned layout).
 *
 * The certificate and key are installed where the renderers expect them (`lib/render/tls`); the
 * key is a secret (sensitive Terraform value, or a SecureString where the platform delivers secrets
 * from a store).
 */
import { Construct } from "constructs";
import { PrivateKey } from "@cdktf/provider-tls/lib/private-key";
import { SelfSignedCert } from "@cdktf/provider-tls/lib/self-signed-cert";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { TerraformStack, Token, attribute } from "../provision/cdktf";
import { ClusterNode, Topology, ValidationIssue, isFqdn } from "../topology";
import type { TlsPair } from "../render/tls";

export interface SelfSignedTlsProps {
  /** Validity of each certificate, in days. @default 365 */
  readonly validityDays?: number;
  /** Further DNS names every certificate covers (e.g. a second public name). @default none */
  readonly extraNames?: readonly string[];
  /** The certificates' organization (subject O). @default the cluster's domain */
  readonly organization?: string;
}

export interface CertificateTlsProps {
  /** The certificate chain, leaf first, PEM: a Terraform reference or a literal. */
  readonly certificatePem: string;
  /**
   * The unencrypted private key, PEM: a Terraform reference (sensitive). A literal works but lands
   * in the synthesized JSON (a warning says so).
   */
  readonly privateKeyPem: string;
  /** Upper bound of the chain's length when it is a reference (user-data size). @default 8192 */
  readonly certificateMaxLength?: number;
  /** Upper bound of the key's length when it is a reference. @default 4096 */
  readonly privateKeyMaxLength?: number;
}

export interface AcmeTlsProps {
  /** Account e-mail address at the CA. */
  readonly email: string;
  /** ACME directory. @default Let's Encrypt production */
  readonly directory?: string;
}

/** The DNS names a node's certificate covers, first the subject's common name. */
export function certificateNames(topology: Topology, node: ClusterNode, extra: readonly string[] = []): string[] {
  const d = topology.domain;
  const names = [
    ...(topology.loadBalancer ? [topology.loadBalancer.publicName] : []),
    node.hostname,
    ...(node.externalName !== node.hostname ? [node.externalName] : []),
    `autodiscover.${d}`,
    `autoconfig.${d}`,
    `mta-sts.${d}`,
    ...extra,
  ];
  return [...new Set(names)];
}

/** Secret ids of a node's TLS material in the cluster's secret registry. */
export interface TlsMaterial extends TlsPair {
  /** Registry entries: the key is secure, the certificate is not. */
  readonly secrets: readonly { id: string; value: string; secure: boolean; description: string }[];
}

/** What `Tls.bind` gives the cluster. */
export interface TlsBinding {
  readonly mode: "self-signed" | "certificate" | "acme";
  /** Problems with the choice (GRX453, GRX454), reported at synth with every other issue. */
  readonly issues: readonly ValidationIssue[];
  /** Warnings (literal private key). */
  readonly warnings: readonly string[];
  /** The material of one node (resources created under `scope`), or undefined after an issue. */
  material(scope: Construct, topology: Topology, node: ClusterNode): TlsMaterial | undefined;
}

/** Length of a DER element (tag, length octets, content) whose content is `n` bytes. */
function derLength(n: number): number {
  return 1 + (n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 4) + n;
}

/** Length of Go's `encoding/pem` text of `der` bytes of type `type` (64 base64 characters a line). */
export function pemLength(type: string, der: number): number {
  const base64 = 4 * Math.ceil(der / 3);
  return `-----BEGIN ${type}-----\n`.length + base64 + Math.ceil(base64 / 64) + `-----END ${type}-----\n`.length;
}

/**
 * Upper bound of the DER length of the certificate `tls_self_signed_cert` makes for `Tls.selfSigned`
 * (hashicorp/terraform-provider-tls `createCertificate`, Go's `x509.CreateCertificate`), every
 * length at its longest encoding:
 *
 * - version [0] 5; serial: `rand.Int` below 2^128, at most 16 bytes and a leading zero (19);
 *   signature algorithm ecdsa-with-SHA256 without parameters (12), twice;
 * - issuer = subject (self-signed): O then CN, each SET { SEQUENCE { OID (5), string } } (the
 *   string's UTF-8 bytes, PrintableString or UTF8String);
 * - validity: two times, counted as GeneralizedTime (15 bytes; UTCTime before 2050 is 13);
 * - subjectPublicKeyInfo of a P-256 key, uncompressed point (91);
 * - extensions: key usage (digital_signature; two flag bytes allowed), extended key usage
 *   (server_auth), basic constraints (`BasicConstraintsValid`, not a CA: an empty SEQUENCE;
 *   CA flag and path length allowed), subject alternative names (dNSName each); each counted with
 *   its critical flag. No key identifiers: the provider sets them only with `set_subject_key_id` /
 *   `set_authority_key_id` or for a CA (neither is used), and Go adds an authority key id only
 *   when issuer and subject differ;
 * - signature: BIT STRING of the DER ECDSA signature, at most 72 bytes (r and s of 33 bytes).
 *
 * test/system/tls-pem.test.ts checks it against openssl certificates with the same fields at
 * their longest (a 16-byte serial with the high bit, long names, a 72-byte signature; notBefore counted as GeneralizedTime).
 */
export function selfSignedCertMaxDer(names: readonly string[], organization: string): number {
  const attribute = (value: string): number => derLength(derLength(5 + derLength(Buffer.byteLength(value, "utf8"))));
  const name = derLength(attribute(organization) + attribute(names[0] ?? ""));
  const algorithm = 12;
  const validity = derLength(2 * derLength(15));
  const spki = 91;
  const extension = (value: number): number => derLength(5 + 3 + derLength(value));
  const keyUsage = extension(derLength(1 + 2));
  const extKeyUsage = extension(derLength(derLength(8)));
  const basicConstraints = extension(derLength(3 + 3));
  const san = extension(derLength(names.reduce((n, s) => n + derLength(Buffer.byteLength(s, "utf8")), 0)));
  const extensions = derLength(derLength(keyUsage + extKeyUsage + basicConstraints + san));
  const tbs = derLength(5 + derLength(17) + algorithm + name + validity + name + spki + extensions);
  const signature = derLength(1 + 72);
  return derLength(tbs + algorithm + signature);
}

/** Upper bound of the PEM text of a node's self-signed certificate (`selfSignedCertMaxDer`). */
export function selfSignedCertMaxLength(names: readonly string[], organization: string): number {
  return pemLength("CERTIFICATE", selfSignedCertMaxDer(names, organization));
}

/**
 * An ECDSA P-256 private key as PEM: SEC 1 "EC PRIVATE KEY" (121 bytes of DER, 227 of PEM), or
 * PKCS #8 "PRIVATE KEY" (138 bytes of DER, 241 of PEM); the private scalar is always 32 bytes
 * (Go pads it to the curve's size), the public point 65.
 */
export const ECDSA_P256_PEM_MAX = Math.max(pemLength("EC PRIVATE KEY", 121), pemLength("PRIVATE KEY", 138));

export abstract class Tls {
  /** Self-signed certificates per node from the tls provider (the default, for trials). */
  public static selfSigned(props: SelfSignedTlsProps = {}): Tls {
    return new SelfSignedTls(props);
  }

  /** Your certificate chain and key, on every node. */
  public static certificate(props: CertificateTlsProps): Tls {
    return new SuppliedTls(props);
  }

  /** ACME on the load-balancer tier (HTTP-01). Not available yet: GRX453 explains what is missing. */
  public static acme(props: AcmeTlsProps): Tls {
    return new AcmeTls(props);
  }

  /** @internal */
  public abstract bind(clusterPath: string, declare: TokenDeclarer): TlsBinding;
}

/**
 * How the TLS choice declares the tokens it puts into files (the cluster's `declareToken`):
 * `pem` for the tls provider's outputs (one PEM block as Go writes it), `any` for PEM texts of
 * unknown making (a byte such as DEL would break the YAML outside base64).
 */
export type TokenDeclarer = (value: string, maxLength: number, charset: "pem" | "any", description: string) => void;

class SelfSignedTls extends Tls {
  constructor(private readonly props: SelfSignedTlsProps) {
    super();
  }

  public bind(clusterPath: string, declare: TokenDeclarer): TlsBinding {
    const issues: ValidationIssue[] = [];
    const days = this.props.validityDays ?? 365;
    if (!Number.isInteger(days) || days < 1 || days > 3650) {
      issues.push({
        code: "GRX454",
        path: clusterPath,
        field: "tls.validityDays",
        message: `${String(days)} is not a validity from 1 to 3650 days.`,
        fix: "Give a whole number of days, e.g. 365.",
      });
    }
    for (const name of this.props.extraNames ?? []) {
      if (!isFqdn(name)) {
        issues.push({
          code: "GRX454",
          path: clusterPath,
          field: "tls.extraNames",
          message: `"${name}" is not a fully qualified host name.`,
          fix: "Give lower-case host names such as webmail.example.com.",
        });
      }
    }
    const props = this.props;
    let provider = false;
    return {
      mode: "self-signed",
      issues,
      warnings: [],
      material(scope, topology, node) {
        if (issues.length) return undefined;
        if (!provider) {
          ensureTlsProvider(scope);
          provider = true;
        }
        const names = certificateNames(topology, node, props.extraNames);
        const organization = props.organization ?? topology.domain;
        const key = new PrivateKey(scope, "tls-key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
        // One token for all uses: every read of `privateKeyPem` makes a new token.
        const privateKeyPem = attribute(key, "private_key_pem");
        const cert = new SelfSignedCert(scope, "tls-certificate", {
          privateKeyPem,
          subject: [{ commonName: names[0]!, organization }],
          dnsNames: names,
          validityPeriodHours: days * 24,
          allowedUses: ["digital_signature", "server_auth"],
        });
        const certificatePem = attribute(cert, "cert_pem");
        declare(privateKeyPem, ECDSA_P256_PEM_MAX, "pem", `the TLS private key of ${node.name}`);
        declare(
          certificatePem,
          selfSignedCertMaxLength(names, organization),
          "pem",
          `the TLS certificate of ${node.name}`,
        );
        return {
          certificatePem,
          privateKeyPem,
          secrets: [
            {
              id: `tls/${node.name}/private-key`,
              value: privateKeyPem,
              secure: true,
              description: `TLS private key of ${node.hostname}`,
            },
            {
              id: `tls/${node.name}/certificate`,
              value: certificatePem,
              secure: false,
              description: `TLS certificate of ${node.hostname}`,
            },
          ],
        };
      },
    };
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
const PEM_KEY = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/;

class SuppliedTls extends Tls {
  constructor(private readonly props: CertificateTlsProps) {
    super();
  }

  public bind(clusterPath: string, declare: TokenDeclarer): TlsBinding {
    const p = this.props;
    const issues: ValidationIssue[] = [];
    const warnings: string[] = [];
    const certToken = Token.isUnresolved(p.certificatePem ?? "");
    const keyToken = Token.isUnresolved(p.privateKeyPem ?? "");
    if (!certToken && !PEM_CERTIFICATE.test(p.certificatePem ?? "")) {
      issues.push({
        code: "GRX454",
        path: clusterPath,
        field: "tls.certificatePem",
        message: "the certificate is neither a Terraform reference nor a PEM certificate chain.",
        fix: "Pass the chain as PEM (-----BEGIN CERTIFICATE----- …, leaf first) or a Terraform reference to it.",
      });
    }
    if (!keyToken) {
      if (/ENCRYPTED/.test(p.privateKeyPem ?? "")) {
        issues.push({
          code: "GRX454",
          path: clusterPath,
          field: "tls.privateKeyPem",
          message:
            "the private key is encrypted; gromox, postfix and the load balancers read keys without a passphrase.",
          fix: "Pass the key unencrypted (openssl pkey -in key.pem -out plain.pem), preferably as a Terraform reference.",
        });
      } else if (!PEM_KEY.test(p.privateKeyPem ?? "")) {
        issues.push({
          code: "GRX454",
          path: clusterPath,
          field: "tls.privateKeyPem",
          message: "the private key is neither a Terraform reference nor an unencrypted PEM private key.",
          fix: "Pass the key as PEM (-----BEGIN PRIVATE KEY----- …) or a Terraform reference to it.",
        });
      } else {
        warnings.push(
          "the TLS private key is a literal: it ends up in the synthesized JSON (and in the user-data). Pass a Terraform reference (a sensitive variable, a secret store) instead.",
        );
      }
    }
    for (const [field, value] of [
      ["tls.certificateMaxLength", p.certificateMaxLength],
      ["tls.privateKeyMaxLength", p.privateKeyMaxLength],
    ] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < 64 || value > 65536)) {
        issues.push({
          code: "GRX454",
          path: clusterPath,
          field,
          message: `${String(value)} is not a length from 64 to 65536 bytes.`,
          fix: "Give an upper bound of the PEM text's length in bytes.",
        });
      }
    }
    let declared = false;
    return {
      mode: "certificate",
      issues,
      warnings,
      material() {
        if (issues.length) return undefined;
        if (!declared) {
          declare(p.certificatePem, p.certificateMaxLength ?? 8192, "any", "the TLS certificate chain");
          declare(p.privateKeyPem, p.privateKeyMaxLength ?? 4096, "any", "the TLS private key");
          declared = true;
        }
        return {
          certificatePem: p.certificatePem,
          privateKeyPem: p.privateKeyPem,
          secrets: [
            { id: "tls/private-key", value: p.privateKeyPem, secure: true, description: "TLS private key" },
            { id: "tls/certificate", value: p.certificatePem, secure: false, description: "TLS certificate chain" },
          ],
        };
      },
    };
  }
}

class AcmeTls extends Tls {
  constructor(private readonly props: AcmeTlsProps) {
    super();
  }

  public bind(clusterPath: string): TlsBinding {
    void this.props;
    return {
      mode: "acme",
      issues: [
        {
          code: "GRX453",
          path: clusterPath,
          field: "tls.acme",
          message:
            "ACME certificates are not available yet. Missing: (1) a route for /.well-known/acme-challenge/ from the load balancers' port-80 frontend to an ACME client (certbot or lego) on the load-balancer nodes, (2) one issuer for all load-balancer nodes (HTTP-01 challenges reach any of them), and (3) distribution of the issued certificate and its renewals to the gromox and postfix nodes, which terminate IMAPS, POP3S and SMTP STARTTLS themselves.",
          fix: "Issue the certificate outside the cluster (e.g. the Terraform acme provider with a DNS-01 challenge) and pass it with Tls.certificate({ certificatePem, privateKeyPem }), or use Tls.selfSigned() for a trial. docs/security.md describes the planned ACME layout.",
        },
      ],
      warnings: [],
      material: () => undefined,
    };
  }
}

/** Adds `provider "tls"` unless the stack has one (the self-signed certificates need it). */
export function ensureTlsProvider(scope: Construct): void {
  const stack = TerraformStack.of(scope);
  if (!stack.node.findAll().some((c) => c instanceof TlsProvider)) new TlsProvider(stack, "tls");
}
