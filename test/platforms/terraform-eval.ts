/**
 * Test helper: evaluates the Terraform template strings this library synthesizes, the way
 * Terraform would, for the small expression subset it emits (`base64encode`, `base64decode`,
 * `base64gzip`, `jsonencode` of a string, `join`, `replace`, `element`, string literals and
 * resource references). References
 * are resolved by the caller (a fake password, a fake volume id), so tests can decode the exact
 * user-data a node would receive.
 */
import { gunzipSync, gzipSync } from "node:zlib";

export type Resolver = (reference: string) => string;

/**
 * A real throw-away ECDSA P-256 key and self-signed certificate (mail.example.com, valid until
 * 2126), so that programs checking rendered TLS files (haproxy -c, nginx -t) can open them.
 */
export const FAKE_TLS_KEY_PEM = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIGY2OlV9SjmvqkPV73AaOmPwcXLbg/97TRgE16f/ObNqoAoGCCqGSM49
AwEHoUQDQgAELoSHS3FsfWXYbaZKC/Ia2MX0kLUUC0lrI0BCYYSUqDIeoXb/DmEX
b4GN47PACp1Llb3P3y0I62LNd0/uSgiVxA==
-----END EC PRIVATE KEY-----
`;
export const FAKE_TLS_CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIB1TCCAXygAwIBAgIUJE/OMlwHiNh0oL21PcTjLdv5O70wCgYIKoZIzj0EAwIw
MTEZMBcGA1UEAwwQbWFpbC5leGFtcGxlLmNvbTEUMBIGA1UECgwLZXhhbXBsZS5j
b20wIBcNMjYxMTI5MDQ1OTI4WhgPMjEyNjExMDUwNDU5MjhaMDExGTAXBgNVBAMM
EG1haWwuZXhhbXBsZS5jb20xFDASBgNVBAoMC2V4YW1wbGUuY29tMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAELoSHS3FsfWXYbaZKC/Ia2MX0kLUUC0lrI0BCYYSU
qDIeoXb/DmEXb4GN47PACp1Llb3P3y0I62LNd0/uSgiVxKNwMG4wHQYDVR0OBBYE
FPR1lxLEgQaiG23tXRG164hopcrCMB8GA1UdIwQYMBaAFPR1lxLEgQaiG23tXRG1
64hopcrCMA8GA1UdEwEB/wQFMAMBAf8wGwYDVR0RBBQwEoIQbWFpbC5leGFtcGxl
LmNvbTAKBggqhkjOPQQDAgNHADBEAiB8NIT1uXpM63tomXHhUn8rRIS51i31YjdU
URADBMUS2gIgMqiV3qztfZdSK0m/yfQf5OV5B9hHPTRd2Srv3GEotqk=
-----END CERTIFICATE-----
`;

/** The name Terraform would give the file bucket (`bucket_prefix` + a timestamp and counter). */
export const FAKE_BUCKET = "grommunio-mail-20261129093000000000000001";

/** Default fake values: passwords, EBS and Hetzner volume ids, EFS addresses, TLS keys and certificates. */
export const fakeResolver: Resolver = (ref) => {
  if (/^random_password\.[^.]+\.result$/.test(ref)) return "P".repeat(32);
  if (/^tls_private_key\.[^.]+\.private_key_pem$/.test(ref)) return FAKE_TLS_KEY_PEM;
  if (/^tls_self_signed_cert\.[^.]+\.cert_pem$/.test(ref)) return FAKE_TLS_CERT_PEM;
  if (/^aws_ebs_volume\.([^.]+)\.id$/.test(ref)) return "vol-0123456789abcdef0";
  if (/^hcloud_volume\.([^.]+)\.id$/.test(ref)) return "100001";
  if (/^aws_efs_mount_target\.[^.]+\.ip_address$/.test(ref)) return "10.10.11.9";
  if (/^aws_s3_bucket\.[^.]+\.bucket$/.test(ref)) return FAKE_BUCKET;
  throw new Error(`no fake value for ${ref}`);
};

type Value = string | Value[];

class Parser {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly resolve: Resolver,
  ) {}

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }

  private expect(ch: string): void {
    this.ws();
    if (this.s[this.i] !== ch) throw new Error(`expected ${ch} at ${this.i}: ${this.s.slice(this.i, this.i + 40)}`);
    this.i++;
  }

  public expr(): Value {
    this.ws();
    const c = this.s[this.i];
    if (c === '"') return this.string();
    if (c === "[") {
      this.i++;
      const items: Value[] = [];
      this.ws();
      if (this.s[this.i] === "]") {
        this.i++;
        return items;
      }
      for (;;) {
        items.push(this.expr());
        this.ws();
        if (this.s[this.i] === ",") {
          this.i++;
          continue;
        }
        this.expect("]");
        return items;
      }
    }
    const m = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*/.exec(this.s.slice(this.i));
    if (!m) throw new Error(`unexpected ${this.s.slice(this.i, this.i + 40)}`);
    this.i += m[0].length;
    this.ws();
    if (this.s[this.i] === "(") {
      this.i++;
      const args: Value[] = [];
      this.ws();
      if (this.s[this.i] !== ")") {
        for (;;) {
          args.push(this.expr());
          this.ws();
          if (this.s[this.i] === ",") {
            this.i++;
            continue;
          }
          break;
        }
      }
      this.expect(")");
      return call(m[0], args);
    }
    return this.resolve(m[0]);
  }

  /** A quoted HCL string inside an expression (escapes \" \\ \n; may hold templates). */
  private string(): string {
    this.i++;
    let raw = "";
    while (this.s[this.i] !== '"') {
      if (this.i >= this.s.length) throw new Error("unterminated string");
      if (this.s[this.i] === "\\") {
        const n = this.s[this.i + 1];
        raw += n === "n" ? "\n" : n === "t" ? "\t" : n!;
        this.i += 2;
      } else raw += this.s[this.i++];
    }
    this.i++;
    return evaluateTemplate(raw, this.resolve);
  }

  public get position(): number {
    return this.i;
  }
}

function str(v: Value | undefined): string {
  if (typeof v !== "string") throw new Error(`expected a string, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Terraform's `jsonencode` of a string (Go's encoding/json): JSON's escapes, and `<`, `>`, `&`,
 * U+2028, U+2029 as `\u` escapes (test/system/tls-pem.test.ts compares it with Terraform's own
 * output, test/fixtures/terraform-jsonencode.json).
 */
export function goJsonString(text: string): string {
  return JSON.stringify(text).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function call(name: string, args: Value[]): Value {
  switch (name) {
    case "base64encode":
      return Buffer.from(str(args[0]), "utf8").toString("base64");
    case "base64decode":
      return Buffer.from(str(args[0]), "base64").toString("utf8");
    case "jsonencode":
      return goJsonString(str(args[0]));
    case "base64gzip":
      return gzipSync(Buffer.from(str(args[0]), "utf8")).toString("base64");
    case "join": {
      const list = args[1];
      if (!Array.isArray(list)) throw new Error("join needs a list");
      return list.map(str).join(str(args[0]));
    }
    case "replace":
      return str(args[0]).split(str(args[1])).join(str(args[2]));
    case "element": {
      const list = args[0];
      return Array.isArray(list) ? str(list[Number(str(args[1]))]) : `${str(list)}[${str(args[1])}]`;
    }
    default:
      throw new Error(`function ${name} is not emulated`);
  }
}

/** Evaluates a Terraform template string: `$${` → `${`, `%%{` → `%{`, `${expr}` → its value. */
export function evaluateTemplate(template: string, resolve: Resolver = fakeResolver): string {
  let out = "";
  let i = 0;
  while (i < template.length) {
    if (template.startsWith("$${", i)) {
      out += "${";
      i += 3;
    } else if (template.startsWith("%%{", i)) {
      out += "%{";
      i += 3;
    } else if (template.startsWith("%{", i)) {
      throw new Error(`unescaped template directive at ${i}: ${template.slice(i, i + 30)}`);
    } else if (template.startsWith("${", i)) {
      const p = new Parser(template.slice(i + 2), resolve);
      const v = p.expr();
      const rest = template.slice(i + 2 + p.position).replace(/^\s*/, "");
      if (!rest.startsWith("}")) throw new Error(`unterminated interpolation at ${i}`);
      out += str(v);
      i = template.length - rest.length + 1;
    } else {
      out += template[i++];
    }
  }
  return out;
}

/** The user-data text an `aws_instance` JSON block delivers (decoding user_data_base64 + gzip). */
export function instanceUserData(instance: Record<string, unknown>, resolve: Resolver = fakeResolver): string {
  if (typeof instance.user_data === "string") return evaluateTemplate(instance.user_data, resolve);
  if (typeof instance.user_data_base64 === "string") {
    const bytes = Buffer.from(evaluateTemplate(instance.user_data_base64, resolve), "base64");
    return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString("utf8");
  }
  throw new Error("instance has no user data");
}
