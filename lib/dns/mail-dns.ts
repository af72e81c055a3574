/**
 * `MailDns`: publishes the cluster's mail records (`mailDnsRecords`) to Route53 — one
 * `aws_route53_record` per record set, keyed by owner name and type — and/or writes them as a BIND
 * zone file; generates the DKIM key with `tls_private_key` (never at synth). Independent of the
 * `GrommunioCluster` construct: it takes a topology (or something that produces one) or ready
 * records. All cdktf symbols of this folder are imported here.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Construct } from "constructs";
import { AssetType, Fn, TerraformAsset, TerraformOutput, TerraformStack } from "cdktf";
import type { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { PrivateKey } from "@cdktf/provider-tls/lib/private-key";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { IssueCollector } from "../topology/errors";
import { Topology } from "../topology/model";
import { loadOptional } from "../platforms/optional";
import { withoutCreationStacks } from "../provision/cdktf";
import {
  DEFAULT_DKIM_SELECTOR,
  DnsRecord,
  MailDnsOptions,
  MailEntryPoint,
  MIN_DKIM_BITS,
  RECOMMENDED_DKIM_BITS,
  ReverseDnsEntry,
  ZoneFileOptions,
  checkReverseDns,
  isUnresolved,
  mailDnsRecords,
  mailReverseDns,
  recordRdata,
  recordsInZone,
  renderMtaStsPolicy,
  renderZoneFile,
  sortRecords,
} from "../render/dns";
import { PEM_ARMOR_PATTERN, dkimRecordText, pemBody } from "../render/dns/text";

/** A topology, an object holding one (the cluster construct), or a function returning one. */
export type TopologySource = Topology | { readonly topology: Topology } | (() => Topology);

function topologyOf(source: TopologySource): Topology {
  if (typeof source === "function") return source();
  // A Topology has no `topology` member; anything that has one holds the model.
  if ("topology" in source) return source.topology;
  return source;
}

export interface MailDnsDkimProps {
  /** Selector (`<selector>._domainkey.<domain>`). @default "grommunio" */
  readonly selector?: string;
  /**
   * RSA key size of the generated `tls_private_key` (not with `publicKeyPem`: GRX449).
   * @default 2048 (1024 is the least receivers accept; larger keys exceed one 255-byte string
   * either way, which the record splits correctly)
   */
  readonly rsaBits?: number;
  /**
   * Bring your own key: the PEM `PUBLIC KEY` (literal or a Terraform token, e.g. from an existing
   * `tls_private_key` or a data source). No key is generated then; the signing milter's private
   * key is yours to deliver.
   * @default undefined: a `tls_private_key` is generated
   */
  readonly publicKeyPem?: string;
  /**
   * Bits of `publicKeyPem` when it is a token (checked ≥ 1024). Only with `publicKeyPem` (GRX449).
   * @default undefined
   */
  readonly keyBits?: number;
  /**
   * With `publicKeyPem`: the matching private key (PEM; a Terraform token, e.g. an existing
   * `tls_private_key.private_key_pem` or a secret's value), for the classic nodes' signing milter
   * (`GrommunioCluster.addDns` installs it). Never a literal in real deployments: it would be in
   * the synthesized JSON. Only with `publicKeyPem` (GRX449).
   * @default undefined: with `publicKeyPem`, nothing signs (you deliver the key yourself)
   */
  readonly privateKeyPem?: string;
  /**
   * Also publish the generated private key as a Terraform output (marked sensitive); not with
   * `publicKeyPem`, which generates none (GRX449).
   * @default false: it stays in the state only; read it through `dkimPrivateKeyPem`
   */
  readonly exportPrivateKey?: boolean;
}

export interface MailDnsRoute53Props {
  /** Route53 hosted zone id of the mail zone. */
  readonly zoneId: string;
  /**
   * Hosted zone ids of other zones, by zone name: records of those zones (the DMARC report
   * domain's authorization record, when you own that domain) are published there.
   * @default {}: such records are not published; read them from `externalRecords`
   */
  readonly otherZones?: Readonly<Record<string, string>>;
  /** Take over records that already exist in the zone. @default false: Route53 refuses to overwrite them */
  readonly allowOverwrite?: boolean;
}

/** Zone-file options: as `renderZoneFile`'s, minus what the construct supplies. */
export type MailDnsZoneFileProps = Omit<ZoneFileOptions, "unresolvedTxt" | "path"> & {
  /**
   * File name of the asset: a plain file name (no directory, not `.` or `..`, no NUL, at most 255
   * bytes; GRX560).
   * @default "<zone>.zone"
   */
  readonly fileName?: string;
};

export interface MailDnsProps {
  /**
   * Where the records come from: the cluster model (or something that produces it when the
   * construct is created: construct MailDns after the last node was added).
   * @default undefined: then `records` must be given
   */
  readonly topology?: TopologySource;
  /** Public addresses of the entry point (required with `topology`; not with `records`: GRX446). */
  readonly entry?: MailEntryPoint;
  /** Options of `mailDnsRecords` (the DKIM key is handled by `dkim`); not with `records` (GRX446). @default {} */
  readonly options?: Omit<MailDnsOptions, "dkim">;
  /**
   * DKIM key and record, or `false` for none. With `records` only `false` (their DKIM record is
   * yours to include; GRX446).
   * @default {} with `topology` (a 2048-bit key, selector "grommunio"); none with `records`
   */
  readonly dkim?: MailDnsDkimProps | false;
  /** Ready records instead of a topology (published as they are). @default undefined */
  readonly records?: readonly DnsRecord[];
  /**
   * The mail zone, with `records` (with a topology it is `options.zone`; `zone` is GRX446 then).
   * @default the zone of the MX record set, else of the first record
   */
  readonly zone?: string;
  /**
   * PTR entries instead of the derived ones (`mailReverseDns`), e.g. with ready `records`. Each
   * name must carry an A/AAAA record with the address in the published records (GRX448).
   * @default the derived entries (topology), none (records)
   */
  readonly reverseDns?: readonly ReverseDnsEntry[];
  /** Publish to Route53. @default undefined: nothing is published (zone file only) */
  readonly route53?: MailDnsRoute53Props;
  /**
   * Write the mail zone as a BIND zone file: always as the Terraform output `zone_file` (Terraform
   * fills in addresses and the DKIM key and splits long TXT values), and, when no value is a
   * token, also as a file in the synth output (`zoneFileAsset`).
   * @default undefined: no zone file
   */
  readonly writeZoneFile?: MailDnsZoneFileProps;
}

/**
 * The base64 DER (`p=` value) of a PEM public key, computed in Terraform when the PEM is a token:
 * `replace(pem, "/-----[A-Z ]+-----|<newline>/", "")` — the armor lines and newlines removed,
 * the pattern `pemBody` applies in JavaScript (`PEM_ARMOR_PATTERN`).
 */
export function dkimPublicKeyBase64(publicKeyPem: string): string {
  if (!isUnresolved(publicKeyPem)) return pemBody(publicKeyPem.trim()).replace(/\s/g, "");
  return Fn.replace(publicKeyPem, `/${PEM_ARMOR_PATTERN}/`, "");
}

/** Text with tokens as a Terraform expression: `join("", [literal, token, …])`. */
function textExpression(text: string): string {
  const parts = text.split(/(\$\{TfToken\[[^\]]+\]\})/).filter((p) => p !== "");
  for (const p of parts) {
    if (!isUnresolved(p) && /[\\"]/.test(p)) {
      throw new Error(`TXT text with a token must not contain quotes or backslashes: ${JSON.stringify(p)}`);
    }
  }
  return Fn.join(
    "",
    parts.map((p) => (isUnresolved(p) ? p : Fn.rawString(p))),
  );
}

/**
 * The character-strings of a TXT text that holds a token, split in Terraform into pieces of at
 * most 255 characters and joined with `" "` — the inside of the quoted rdata (Route53 adds the
 * outer quotes). Token values must be ASCII without quotes or backslashes (base64, addresses).
 */
export function terraformTxtInner(text: string): string {
  return Fn.join(Fn.rawString('" "'), Fn.regexall(".{1,255}", textExpression(text)));
}

/**
 * Route53 `records` of a record set. Route53 wants TXT values as quoted character-strings; the
 * provider adds the outer quotes, so each value is the rdata without them.
 */
export function route53Values(record: DnsRecord): string[] {
  if (record.type !== "TXT") return recordRdata(record);
  return record.values.map((v) =>
    isUnresolved(v.text) ? terraformTxtInner(v.text) : recordRdata({ ...record, values: [v] })[0]!.slice(1, -1),
  );
}

/** Construct id of a record set: its owner name and type ("_dmarc.gro.at TXT"); never an index. */
export function recordKey(record: DnsRecord): string {
  return `${record.name} ${record.type}`;
}

function ensureTlsProvider(scope: Construct): void {
  const stack = TerraformStack.of(scope);
  if (!stack.node.findAll().some((c) => c instanceof TlsProvider)) new TlsProvider(stack, "tls");
}

/**
 * A file name without a directory: not empty, `.` or `..`, no `/` or `\` (a separator on some
 * host), no NUL, at most 255 bytes (NAME_MAX). The zone file is written under that name; anything
 * else would put it elsewhere than the synth output (GRX560).
 */
function isPlainFileName(name: string): boolean {
  return (
    name !== "" && name !== "." && name !== ".." && !/[/\\\0]/.test(name) && Buffer.byteLength(name, "utf8") <= 255
  );
}

/** The mail records of a cluster, published to Route53 and/or written as a zone file. */
export class MailDns extends Construct {
  /** Every record set (all zones), sorted. */
  public readonly records: readonly DnsRecord[];
  /** Records of zones this construct does not publish (e.g. the DMARC report authorization of another domain). */
  public readonly externalRecords: readonly DnsRecord[];
  /** The mail zone. */
  public readonly zone: string;
  /** Reverse DNS for the platform to publish (empty when built from `records`). */
  public readonly reverseDns: readonly ReverseDnsEntry[];
  /** The MTA-STS policy the load balancer serves (undefined when built from `records` or disabled). */
  public readonly mtaStsPolicy?: string;
  /** The generated DKIM key (undefined with `dkim: false` or a key of your own). */
  public readonly dkimKey?: PrivateKey;
  /**
   * The DKIM private key (PEM, a sensitive token) for the signing milter on the classic nodes:
   * the generated key's, or `dkim.privateKeyPem` with a key of your own.
   */
  public readonly dkimPrivateKeyPem?: string;
  /** Modulus bits of the signing key, when known (the generated key's `rsaBits`, or `dkim.keyBits`). */
  public readonly dkimKeyBits?: number;
  /** The DKIM selector in use. */
  public readonly dkimSelector?: string;
  /** Route53 records by `recordKey` ("name TYPE"). */
  public readonly route53Records: Readonly<Record<string, Route53Record>>;
  /** The zone file (a Terraform output holding the text). */
  public readonly zoneFileOutput?: TerraformOutput;
  /** The zone file in the synth output, when no value is a token. */
  public readonly zoneFileAsset?: TerraformAsset;

  constructor(scope: Construct, id: string, props: MailDnsProps) {
    super(scope, id);
    const c = new IssueCollector();
    const where = this.node.path;
    if ((props.topology === undefined) === (props.records === undefined)) {
      c.add(
        "GRX446",
        where,
        "topology",
        props.topology === undefined
          ? "neither a topology nor records were given."
          : "both a topology and records were given.",
        "Give either topology (with entry) or ready records.",
      );
    }
    if (props.topology !== undefined && props.entry === undefined) {
      c.add(
        "GRX446",
        where,
        "entry",
        "records from a topology need the entry point's public addresses.",
        "Give entry: { ipv4: [...], ipv6: [...] }.",
      );
    }
    // Inputs of the other source would be ignored without a word.
    if (props.records !== undefined && props.topology === undefined) {
      const unused = (["entry", "options", "dkim"] as const).filter(
        (k) => props[k] !== undefined && props[k] !== false,
      );
      for (const field of unused) {
        c.add(
          "GRX446",
          where,
          field,
          `${field} is for records from a topology; ready records are published as they are, so it would be ignored.`,
          field === "dkim"
            ? "Put the DKIM TXT record into records (or give dkim: false), or build the records from the topology."
            : `Remove ${field}, or give topology instead of records.`,
        );
      }
    }
    if (props.topology !== undefined && props.records === undefined && props.zone !== undefined) {
      c.add(
        "GRX446",
        where,
        "zone",
        `zone is for ready records; with a topology the mail zone is options.zone (or the domain), so "${props.zone}" would be ignored.`,
        "Give options: { zone } instead.",
      );
    }
    const dkimProps = props.records !== undefined || props.dkim === false ? undefined : (props.dkim ?? {});
    if (dkimProps) {
      const own = dkimProps.publicKeyPem !== undefined;
      const unused = own
        ? (["rsaBits", "exportPrivateKey"] as const).filter((k) => dkimProps[k] !== undefined)
        : (["privateKeyPem", "keyBits"] as const).filter((k) => dkimProps[k] !== undefined);
      for (const field of unused) {
        c.add(
          "GRX449",
          where,
          `dkim.${field}`,
          own
            ? `dkim.${field} is for the generated key, but dkim.publicKeyPem brings a key of your own: nothing is generated, so it would be ignored.`
            : `dkim.${field} is for a key of your own, but no dkim.publicKeyPem was given: a new key is generated and published, and dkim.${field} would be ignored` +
                (field === "privateKeyPem" ? " (the milter would sign with the generated key, not yours)." : "."),
          own
            ? `Remove dkim.${field} (keyBits gives the size of your key), or drop publicKeyPem to generate one.`
            : `Give dkim.publicKeyPem (the public half of your key) too, or remove dkim.${field} to use a generated key.`,
        );
      }
    }
    const rsaBits = dkimProps?.rsaBits ?? RECOMMENDED_DKIM_BITS;
    if (
      dkimProps &&
      dkimProps.publicKeyPem === undefined &&
      (!Number.isInteger(rsaBits) || rsaBits < MIN_DKIM_BITS || rsaBits > 8192)
    ) {
      c.add(
        "GRX447",
        where,
        "dkim.rsaBits",
        `a ${String(rsaBits)}-bit DKIM key is outside ${MIN_DKIM_BITS}–8192 bits; receivers ignore keys below ${MIN_DKIM_BITS}.`,
        `Use ${RECOMMENDED_DKIM_BITS}.`,
      );
    }
    const fileName = props.writeZoneFile?.fileName;
    if (fileName !== undefined && !isPlainFileName(fileName)) {
      c.add(
        "GRX560",
        where,
        "writeZoneFile.fileName",
        `${JSON.stringify(fileName)} is not a plain file name (empty, ".", "..", a "/" or "\\", a NUL, or longer than 255 bytes): the zone file would be written elsewhere than the synth output, or not at all.`,
        'Give a file name without a directory (e.g. "example.com.zone"), or omit fileName (default "<zone>.zone").',
      );
    }
    c.throwIfAny();

    let records: DnsRecord[];
    if (props.topology !== undefined) {
      const topology = topologyOf(props.topology);
      const selector = dkimProps?.selector ?? DEFAULT_DKIM_SELECTOR;
      let publicKey: string | undefined;
      let keyBits: number | undefined;
      if (dkimProps) {
        if (dkimProps.publicKeyPem !== undefined) {
          publicKey = dkimPublicKeyBase64(dkimProps.publicKeyPem);
          keyBits = dkimProps.keyBits;
          if (dkimProps.privateKeyPem !== undefined) this.dkimPrivateKeyPem = dkimProps.privateKeyPem;
        } else {
          // Invalid input throws below (mailDnsRecords), which aborts the synth with the key unused.
          ensureTlsProvider(this);
          this.dkimKey = withoutCreationStacks(
            this,
            () => new PrivateKey(this, "dkim-key", { algorithm: "RSA", rsaBits }),
          );
          this.dkimPrivateKeyPem = this.dkimKey.privateKeyPem;
          publicKey = dkimPublicKeyBase64(this.dkimKey.publicKeyPem);
          keyBits = rsaBits;
        }
        this.dkimSelector = selector;
        if (keyBits !== undefined) this.dkimKeyBits = keyBits;
      }
      const options: MailDnsOptions = {
        ...props.options,
        ...(publicKey !== undefined
          ? { dkim: { selector, publicKey, ...(keyBits !== undefined ? { keyBits } : {}) } }
          : {}),
      };
      records = mailDnsRecords(topology, props.entry!, options);
      this.reverseDns = mailReverseDns(topology, props.entry!, options);
      this.zone = options.zone ?? topology.domain;
      if (options.mtaSts !== false) this.mtaStsPolicy = renderMtaStsPolicy(topology, options);
      if (publicKey !== undefined) {
        new TerraformOutput(this, "dkim-record", {
          value: dkimRecordText(publicKey),
          description: `DKIM TXT record text of ${selector}._domainkey.${topology.domain}`,
        });
      }
      if (this.dkimKey && dkimProps?.exportPrivateKey) {
        new TerraformOutput(this, "dkim-private-key", {
          value: this.dkimKey.privateKeyPem,
          sensitive: true,
          description: "DKIM signing key (PEM) for the classic nodes' milter",
        });
      }
    } else {
      records = sortRecords(props.records!);
      this.reverseDns = [];
      this.zone = props.zone ?? records.find((r) => r.type === "MX")?.zone ?? records[0]?.zone ?? "";
    }
    this.records = records;
    if (props.reverseDns !== undefined) this.reverseDns = [...props.reverseDns];
    const ptr = new IssueCollector();
    checkReverseDns(records, this.reverseDns, where, ptr);
    ptr.throwIfAny();

    // Route53: one record per record set, keyed by name and type.
    const published = new Set<string>([this.zone, ...Object.keys(props.route53?.otherZones ?? {})]);
    this.externalRecords = records.filter((r) => !published.has(r.zone));
    const route53: Record<string, Route53Record> = {};
    if (props.route53) {
      // @cdktf/provider-aws is an optional peer dependency: loaded only when records go to Route53.
      type Route53Module = typeof import("@cdktf/provider-aws/lib/route53-record");
      const { Route53Record } = loadOptional(
        "@cdktf/provider-aws",
        "MailDns with route53",
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        () => require("@cdktf/provider-aws/lib/route53-record") as Route53Module,
      );
      const zones = props.route53;
      withoutCreationStacks(this, () => {
        for (const r of records) {
          const zoneId = r.zone === this.zone ? zones.zoneId : zones.otherZones?.[r.zone];
          if (zoneId === undefined) continue;
          route53[recordKey(r)] = new Route53Record(this, recordKey(r), {
            zoneId,
            name: r.name,
            type: r.type,
            ttl: r.ttl,
            records: route53Values(r),
            ...(zones.allowOverwrite ? { allowOverwrite: true } : {}),
          });
        }
      });
    }
    this.route53Records = route53;

    if (props.writeZoneFile) {
      const { fileName, ...soa } = props.writeZoneFile;
      const zoneRecords = recordsInZone(records, this.zone);
      const text = renderZoneFile(this.zone, zoneRecords, {
        ...soa,
        path: where,
        unresolvedTxt: (t) => `"${terraformTxtInner(t)}"`,
      });
      this.zoneFileOutput = new TerraformOutput(this, "zone_file", {
        value: text,
        description: `BIND zone file of ${this.zone} (terraform output -raw)`,
      });
      if (!isUnresolved(text)) {
        // The asset's source: a path named by the content hash, so repeated synths reuse one file.
        const hash = createHash("sha256").update(text).digest("hex").slice(0, 16);
        const dir = path.join(os.tmpdir(), "cdktf-grommunio-zone", hash);
        fs.mkdirSync(dir, { recursive: true });
        const file = path.join(dir, fileName ?? `${this.zone}.zone`);
        fs.writeFileSync(file, text);
        this.zoneFileAsset = new TerraformAsset(this, "zone-file", { path: file, type: AssetType.FILE });
      }
    }
  }
}
