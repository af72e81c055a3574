/**
 * Text rules of DNS records: TXT character-strings (RFC 1035 §3.3: one length byte, so at most
 * 255 bytes each), their zone-file quoting, names, and DKIM public-key handling. Pure.
 */
import { createPublicKey } from "node:crypto";
import { isFqdn, parseIpv4, canonicalIpv6 } from "../../topology/net";

/** The largest character-string: its length is one byte. */
export const MAX_CHARACTER_STRING = 255;

/**
 * cdktf's string-token marker (`${TfToken[TOKEN.12]}`): a value only Terraform knows. The one
 * place the DNS renderers recognise tokens; they pass them through and never inspect them.
 */
const TOKEN = /\$\{TfToken\[[^\]]+\]\}/;

/** True when the text holds a Terraform token (its final value is unknown at synth). */
export function isUnresolved(text: string): boolean {
  return TOKEN.test(text);
}

/**
 * Splits text into character-strings of at most 255 bytes (UTF-8), in order. An empty text is one
 * empty string. The split is on bytes, as on the wire; readers concatenate the strings without
 * separators (RFC 7208 §3.3, RFC 6376 §3.6.2.2), so the split position carries no meaning.
 */
export function txtCharacterStrings(text: string): Uint8Array[] {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length === 0) return [Buffer.alloc(0)];
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += MAX_CHARACTER_STRING) out.push(bytes.subarray(i, i + MAX_CHARACTER_STRING));
  return out;
}

/**
 * One character-string in zone-file presentation form, without the quotes: `"` and `\` are
 * escaped with a backslash, bytes outside printable ASCII as `\DDD` (RFC 1035 §5.1).
 */
export function escapeCharacterString(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) out += "\\" + String.fromCharCode(b);
    else if (b < 0x20 || b > 0x7e) out += "\\" + String(b).padStart(3, "0");
    else out += String.fromCharCode(b);
  }
  return out;
}

/** TXT rdata in presentation form: every character-string quoted, separated by one space. */
export function quoteTxt(text: string): string {
  return txtCharacterStrings(text)
    .map((s) => `"${escapeCharacterString(s)}"`)
    .join(" ");
}

/** `name` equals `zone` or lies below it. */
export function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith("." + zone);
}

/** A dotted-quad or IPv6 literal (not a name). */
export function isAddressLiteral(text: string): boolean {
  return parseIpv4(text) !== undefined || canonicalIpv6(text) !== undefined;
}

/**
 * A domain name that may hold service labels (`_spf.example.net`): labels of lower-case letters,
 * digits, hyphens and underscores, at least two, the last not all digits. For SPF includes.
 */
export function isDomainName(text: string): boolean {
  if (text.length > 253) return false;
  const labels = text.split(".");
  if (labels.length < 2) return false;
  if (!labels.every((l) => /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/.test(l))) return false;
  return !/^\d+$/.test(labels[labels.length - 1]!) && !isAddressLiteral(text);
}

/** A host name that may be a mail target: an FQDN, not an address. */
export function isHostName(text: string): boolean {
  return isFqdn(text) && !isAddressLiteral(text);
}

/**
 * A plain mail address usable in a DMARC/TLS-RPT `mailto:` URI: dot-atom local part without the
 * characters that URI lists reserve (`,` separates URIs, `!` starts a size limit, `;` ends the
 * tag), `@`, and a lower-case FQDN.
 */
export function parseReportAddress(text: string): { local: string; domain: string } | undefined {
  const m = /^([A-Za-z0-9#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9#$%&'*+/=?^_`{|}~-]+)*)@([^@]+)$/.exec(text);
  if (!m || m[1]!.length > 64 || !isFqdn(m[2]!)) return undefined;
  return { local: m[1]!, domain: m[2]! };
}

/**
 * The `mailto:` URI of a plain report address (`parseReportAddress`): local-part characters other
 * than letters, digits and `. - _ ~ $ ' * +` percent-encoded (RFC 6068 §2: `#`, `%`, `?`, `&`,
 * `/`, `=`, `^`, backquote and braces are not URI characters there; `?` would start the query and
 * `#` the fragment, so a report sender would read another address). Plain addresses unchanged.
 */
export function mailtoUri(address: string): string {
  const at = address.lastIndexOf("@");
  const local = address
    .slice(0, at)
    .replace(/[^A-Za-z0-9._~$'*+-]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
  return `mailto:${local}${address.slice(at)}`;
}

/**
 * The regular expression (RE2 and JavaScript alike) that strips a PEM block down to its base64
 * body: the `-----BEGIN …-----`/`-----END …-----` lines and the line breaks. `MailDns` hands the
 * same pattern to Terraform's `replace(public_key_pem, "/…/", "")`, so both sides agree. The line
 * break is a real newline character, not `\n`: cdktf passes function arguments to Terraform
 * without escaping backslashes, and HCL rejects `\s`.
 */
export const PEM_ARMOR_PATTERN = "-----[A-Z ]+-----|\n";

/** Base64 body of a PEM block, exactly as Terraform's `replace` with `PEM_ARMOR_PATTERN` computes it. */
export function pemBody(pem: string): string {
  return pem.replace(new RegExp(PEM_ARMOR_PATTERN, "g"), "");
}

export type DkimKeyCheck =
  | { readonly ok: true; readonly base64: string; readonly bits?: number }
  | { readonly ok: false; readonly reason: string };

/**
 * Checks a DKIM public key and returns the base64 DER (SubjectPublicKeyInfo) for `p=`. A token is
 * taken as base64 DER as it is. A literal must be an RSA public key (PEM or base64 DER); its
 * modulus size is measured. Deterministic: parsing only, no key generation.
 */
export function checkDkimPublicKey(publicKey: string): DkimKeyCheck {
  if (isUnresolved(publicKey)) return { ok: true, base64: publicKey };
  const trimmed = publicKey.trim();
  if (/PRIVATE KEY/.test(trimmed)) {
    return { ok: false, reason: "it is a PRIVATE key; only the public key may be published" };
  }
  let base64: string;
  if (trimmed.startsWith("-----BEGIN")) {
    if (!/^-----BEGIN PUBLIC KEY-----[\s\S]*-----END PUBLIC KEY-----$/.test(trimmed)) {
      return { ok: false, reason: "it is not a PEM PUBLIC KEY block (SubjectPublicKeyInfo)" };
    }
    base64 = pemBody(trimmed).replace(/\s/g, "");
  } else {
    base64 = trimmed.replace(/\s/g, "");
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) {
    return { ok: false, reason: "it is neither a PEM PUBLIC KEY block nor base64" };
  }
  try {
    const key = createPublicKey({ key: Buffer.from(base64, "base64"), format: "der", type: "spki" });
    if (key.asymmetricKeyType !== "rsa") {
      return { ok: false, reason: `it is a ${key.asymmetricKeyType ?? "non-RSA"} key; k=rsa needs an RSA key` };
    }
    return { ok: true, base64, bits: key.asymmetricKeyDetails?.modulusLength };
  } catch {
    return { ok: false, reason: "its base64 does not decode to an RSA SubjectPublicKeyInfo" };
  }
}

/** The DKIM key record text (RFC 6376 §3.6.1) for a base64 DER RSA key. */
export function dkimRecordText(base64Der: string): string {
  return `v=DKIM1; k=rsa; p=${base64Der}`;
}
