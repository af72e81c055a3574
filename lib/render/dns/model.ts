/**
 * The DNS record model: typed record sets (one per owner name and type, which is what Route53 and
 * every zone file group together), the cluster's public entry point, and the options of
 * `mailDnsRecords`. Values stay strings so that Terraform tokens (an Elastic IP, a key from
 * `tls_private_key`) pass through untouched; the serializers (`renderZoneFile`, `recordValues`)
 * are the only place that spells record text.
 */

/** Record types the mail records use (SOA and NS come from `renderZoneFile`'s options). */
export type DnsRecordType = "A" | "AAAA" | "CNAME" | "MX" | "SRV" | "TXT" | "CAA";

/** Presentation order of types inside one owner name (zone files, tables). */
export const RECORD_TYPE_ORDER: readonly DnsRecordType[] = ["A", "AAAA", "CNAME", "MX", "SRV", "TXT", "CAA"];

export interface AddressData {
  /** Dotted-quad IPv4 (A) or IPv6 text (AAAA); or a Terraform token. */
  readonly address: string;
}

export interface CnameData {
  /** Absolute target name without the trailing dot. */
  readonly target: string;
}

export interface MxData {
  readonly preference: number;
  /** Absolute host name without the trailing dot; `"."` is a null MX (RFC 7505). */
  readonly exchange: string;
}

export interface SrvData {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  /** Absolute host name without the trailing dot; `"."` says "service not offered" (RFC 2782). */
  readonly target: string;
}

export interface TxtData {
  /**
   * The logical text. Serializers split it into character-strings of at most 255 bytes
   * (`txtCharacterStrings`); consumers (DKIM, SPF, DMARC verifiers) concatenate them again.
   */
  readonly text: string;
}

export interface CaaData {
  /** 128 = issuer critical; 0 otherwise. */
  readonly flags: 0 | 128;
  readonly tag: "issue" | "issuewild" | "iodef";
  readonly value: string;
}

interface RecordSetBase {
  /**
   * The zone the record set belongs in (absolute, no trailing dot). The mail zone for all but the
   * DMARC external-report authorization record, which the report address's domain publishes.
   */
  readonly zone: string;
  /** Owner name: absolute, lower case, no trailing dot. */
  readonly name: string;
  /** Seconds. */
  readonly ttl: number;
  /** What the record set is for, one line (zone file comments, docs table). */
  readonly purpose: string;
}

/** One record set: every record of one owner name and type. */
export type DnsRecord =
  | (RecordSetBase & { readonly type: "A"; readonly values: readonly AddressData[] })
  | (RecordSetBase & { readonly type: "AAAA"; readonly values: readonly AddressData[] })
  | (RecordSetBase & { readonly type: "CNAME"; readonly values: readonly [CnameData] })
  | (RecordSetBase & { readonly type: "MX"; readonly values: readonly MxData[] })
  | (RecordSetBase & { readonly type: "SRV"; readonly values: readonly SrvData[] })
  | (RecordSetBase & { readonly type: "TXT"; readonly values: readonly TxtData[] })
  | (RecordSetBase & { readonly type: "CAA"; readonly values: readonly CaaData[] });

/** Reverse DNS for one public address: data a platform turns into its PTR resource. */
export interface ReverseDnsEntry {
  /** The public address (literal or Terraform token). */
  readonly address: string;
  readonly family: "ipv4" | "ipv6";
  /** The name the PTR points to; its A/AAAA record (forward-confirmed reverse DNS) is in the record set. */
  readonly name: string;
  /** `egress`: a classic node's sending address (its HELO name); `entry`: the public mail host. */
  readonly role: "egress" | "entry";
  /** The classic node, for `egress`. */
  readonly node?: string;
}

/**
 * The public addresses clients and other mail servers reach the cluster at: the cloud load
 * balancer's static addresses, or the public addresses of the load-balancer nodes. Literal
 * addresses or Terraform tokens (e.g. `aws_eip.public_ip`, `hcloud_load_balancer.ipv4`).
 *
 * Addresses, not a DNS name: the MX target must carry A/AAAA records (RFC 2181 §10.3 forbids an
 * MX pointing at a CNAME), and a PTR needs an address. On AWS give the network load balancer
 * Elastic IPs (`subnet_mapping { allocation_id }`) and pass their `public_ip`.
 */
export interface MailEntryPoint {
  /** Public IPv4 addresses, one A record each. */
  readonly ipv4?: readonly string[];
  /** Public IPv6 addresses, one AAAA record each. */
  readonly ipv6?: readonly string[];
}

/** Where a classic node's outgoing mail leaves from (its public address, or its NAT gateway's). */
export interface EgressAddresses {
  /** The classic node's name. */
  readonly node: string;
  readonly ipv4?: string;
  readonly ipv6?: string;
}

export type DmarcPolicy = "none" | "quarantine" | "reject";
export type MtaStsMode = "enforce" | "testing" | "none";

export interface DkimOptions {
  /**
   * Selector: the record lives at `<selector>._domainkey.<domain>`. One or more DNS labels.
   * Rotate keys by publishing a new selector next to the old one.
   * @default "grommunio"
   */
  readonly selector?: string;
  /**
   * The RSA public key: a PEM `PUBLIC KEY` block (SubjectPublicKeyInfo), its base64 DER, or a
   * Terraform token that resolves to the base64 DER (`MailDns` derives it from
   * `tls_private_key.public_key_pem` inside Terraform). Never a private key.
   */
  readonly publicKey: string;
  /**
   * Modulus size in bits of a key given as a token (checked ≥ 1024; literal keys are measured).
   * @default undefined: a token key is not checked here (MailDns checks its `rsaBits`)
   */
  readonly keyBits?: number;
}

export interface DmarcOptions {
  /**
   * `p=`: what receivers do with mail that fails DMARC.
   * @default "quarantine": SPF (`-all` over the classic nodes' addresses) and DKIM are both
   * published, so legitimate mail passes; start with "none" while other services still send as
   * the domain, and move to "reject" once the reports are clean
   */
  readonly policy?: DmarcPolicy;
  /** `sp=`: policy for subdomains. @default undefined: subdomains follow `policy` */
  readonly subdomainPolicy?: DmarcPolicy;
  /**
   * Aggregate-report address (`rua=mailto:…`), a plain mail address. When it is outside the mail
   * zone, the receiving domain must authorize it: the result holds the record
   * `<domain>._report._dmarc.<report domain>` (RFC 7489 §7.1) in that domain's zone.
   * @default undefined: no reports
   */
  readonly rua?: string;
  /** `pct=` (0–100). @default undefined (100) */
  readonly percent?: number;
}

export interface MtaStsOptions {
  /**
   * Policy mode. `testing` reports failures (TLS-RPT) but never refuses delivery; `enforce`
   * makes senders refuse to deliver unless the MX presents a certificate valid for the mail host.
   * @default "testing": switch to "enforce" once the load balancer serves a publicly trusted
   * certificate for the mail host and for `mta-sts.<domain>`
   */
  readonly mode?: MtaStsMode;
  /** Policy `max_age` in seconds (1–31557600). @default 604800 (one week) */
  readonly maxAgeSeconds?: number;
}

export interface CaaOptions {
  /**
   * CAs allowed to issue certificates for the domain, one `issue` record each: an issuer domain
   * (`letsencrypt.org`, `amazon.com`), optionally with parameters (`letsencrypt.org;
   * validationmethods=dns-01`). Must not be empty.
   */
  readonly issuers: readonly string[];
  /** `iodef` URL for violation reports (`mailto:…` or `https://…`). @default undefined */
  readonly iodef?: string;
}

/** Options of `mailDnsRecords`. */
export interface MailDnsOptions {
  /**
   * The DNS zone the records are published in (absolute, no trailing dot). The mail domain and the
   * mail host must lie inside it.
   * @default the cluster's mail domain
   */
  readonly zone?: string;
  /**
   * The public mail host: MX and SRV target, A/AAAA owner, MTA-STS `mx`.
   * @default the load-balancer tier's `publicName`
   */
  readonly mailHost?: string;
  /** TTL of every record set, seconds. @default 3600 */
  readonly ttl?: number;
  /** MX preference. @default 10 */
  readonly mxPreference?: number;
  /**
   * Sending addresses of the classic nodes (outgoing mail leaves from them, not from the load
   * balancer). Each gives an `ip4:`/`ip6:` SPF term, an A/AAAA record for the node's host name
   * (postfix's `myhostname`, the HELO name) and a PTR entry (forward-confirmed reverse DNS).
   * @default undefined: then `spf.include` must name the relay the cluster sends through
   */
  readonly egress?: readonly EgressAddresses[];
  /** SPF. */
  readonly spf?: {
    /** `include:` domains, e.g. a smarthost's SPF record. At most 8 (RFC 7208's 10-lookup limit). @default [] */
    readonly include?: readonly string[];
    /** The final term. @default "-all" (everything not listed fails) */
    readonly all?: "-all" | "~all";
  };
  /** DKIM public key record. @default undefined: no DKIM record */
  readonly dkim?: DkimOptions;
  /** DMARC record, or `false` for none. @default {} (policy "quarantine", no reports) */
  readonly dmarc?: DmarcOptions | false;
  /**
   * MTA-STS (`_mta-sts` TXT, `mta-sts.<domain>` host, policy from `renderMtaStsPolicy`), or
   * `false` for none. The load-balancer tier serves the policy at
   * `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
   * @default {} (mode "testing", one week)
   */
  readonly mtaSts?: MtaStsOptions | false;
  /**
   * TLS-RPT (`_smtp._tls` TXT, RFC 8460): where sending servers report TLS failures, a plain mail
   * address, or `false` for none.
   * @default the DMARC `rua` address when there is one, else no record
   */
  readonly tlsRpt?: { readonly rua: string } | false;
  /** CAA records. @default undefined: no CAA record (any CA may issue) */
  readonly caa?: CaaOptions;
}
