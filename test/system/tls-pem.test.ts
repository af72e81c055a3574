/**
 * The TLS material in user-data, for real:
 *
 * - Terraform's own `jsonencode` (test/fixtures/terraform-jsonencode.json, made by `terraform
 *   console`: scripts/jsonencode-fixture.ts) is what the test emulator computes and within the
 *   library's bounds (`jsonStringBytes`, `jsonEscapedMaxLength` of a `pem` token); standing as a
 *   `write_files` content in a `#cloud-config` document, cloud-init's own YAML reader and
 *   `write_files` module write exactly the original bytes; a text with DEL or C1 control
 *   characters (which Go leaves unescaped) is refused by the YAML reader, which is why PEM texts
 *   of unknown making keep Terraform's base64.
 * - `selfSignedCertMaxLength` and `ECDSA_P256_PEM_MAX` against openssl: an ECDSA P-256
 *   certificate with the fields the tls provider writes for `Tls.selfSigned` at their longest
 *   (a 16-byte serial with the high bit, long names, a 72-byte signature) and both PEM forms of a
 *   P-256 key.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ECDSA_P256_PEM_MAX, pemLength, selfSignedCertMaxDer, selfSignedCertMaxLength } from "../../lib/cluster/tls";
import { jsonEscapedMaxLength, jsonStringBytes } from "../../lib/provision/tokens";
import { goJsonString } from "../platforms/terraform-eval";
import { SYSTEM_PYTHON, requireCloudInit } from "./cloud-init";
import { requireProgram, run, scratchDir } from "./support";

interface FixtureCase {
  readonly name: string;
  readonly input: string;
  readonly output: string;
}
const FIXTURE = JSON.parse(
  fs.readFileSync(path.join(__dirname, "..", "fixtures", "terraform-jsonencode.json"), "utf8"),
) as { terraform: string; cases: FixtureCase[] };

/** Reads a #cloud-config document with cloud-init's loader and writes its files with cloud-init's module. */
const WRITE = `
import grp, json, os, pwd, sys
from cloudinit import util
from cloudinit.config.cc_write_files import write_files
text = open(sys.argv[1], encoding="utf-8").read()
config = util.load_yaml(text)
if config is None:
    sys.exit("cloud-init could not read the document")
owner = "%s:%s" % (pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name)
for f in config["write_files"]:
    f["owner"] = owner
write_files("write_files", config["write_files"], owner)
`;

const STRICT_LOAD = `
import sys, yaml
try:
    yaml.safe_load(open(sys.argv[1], encoding="utf-8").read())
except yaml.YAMLError as e:
    sys.exit("refused: %s" % e.__class__.__name__)
`;

describe("Terraform's jsonencode as a YAML double-quoted scalar (cloud-init)", () => {
  const input = (c: FixtureCase): string => Buffer.from(c.input, "base64").toString("utf8");

  test.each(FIXTURE.cases.map((c) => [c.name, c] as const))("%s: the emulator and the bounds", (_name, c) => {
    expect(goJsonString(input(c))).toBe(c.output);
    expect(Buffer.byteLength(c.output, "utf8")).toBeLessThanOrEqual(2 + jsonStringBytes(input(c)));
  });

  test("a pem-charset token's bound covers its escaping", () => {
    const pem = FIXTURE.cases.find((c) => c.name === "pem")!;
    const text = input(pem);
    const bound = jsonEscapedMaxLength({ maxLength: text.length, charset: "pem", description: "pem" });
    expect(pem.output.length - 2).toBeLessThanOrEqual(bound);
    // escaped: the newlines only
    expect(pem.output.length - 2).toBe(text.length + text.split("\n").length - 1);
  });

  test.each(["pem", "printable"])("%s: cloud-init writes exactly the original bytes", (name) => {
    requireCloudInit();
    const c = FIXTURE.cases.find((x) => x.name === name)!;
    const dir = scratchDir("tls-pem");
    const target = path.join(dir, "out", `${name}.pem`);
    // the form renderCloudConfig writes: the JSON string as the plain value of `content`
    const doc = `#cloud-config\nwrite_files:\n  - path: ${target}\n    permissions: "0600"\n    content: ${c.output}\n`;
    const file = path.join(dir, "user-data");
    fs.writeFileSync(file, doc);
    const r = run(SYSTEM_PYTHON, ["-c", WRITE, file]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(fs.readFileSync(target).equals(Buffer.from(c.input, "base64"))).toBe(true);
    expect(fs.statSync(target).mode & 0o777).toBe(0o600);
    const schema = run("cloud-init", ["schema", "-c", file]);
    expect(`${schema.status} ${schema.stdout}${schema.stderr}`).toMatch(/^0 Valid cloud-config/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("DEL and C1 controls, which Go leaves as they are, break the YAML (so user PEMs stay base64)", () => {
    requireCloudInit();
    const c = FIXTURE.cases.find((x) => x.name === "controls")!;
    expect(c.output).toContain("\u007f");
    const dir = scratchDir("tls-pem");
    const file = path.join(dir, "user-data");
    fs.writeFileSync(file, `#cloud-config\nwrite_files:\n  - path: /x\n    content: ${c.output}\n`);
    const r = run(SYSTEM_PYTHON, ["-c", STRICT_LOAD, file]);
    expect(`${r.status} ${r.stderr.trim()}`).toMatch(/^1 refused: ReaderError/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

/** The elements of a DER sequence's content, each with its tag and content. */
function derChildren(der: Buffer): { tag: number; body: Buffer }[] {
  const out: { tag: number; body: Buffer }[] = [];
  for (let i = 0; i < der.length;) {
    let length = der[i + 1]!;
    let header = 2;
    if (length & 0x80) {
      const n = length & 0x7f;
      length = 0;
      for (let k = 0; k < n; k++) length = length * 256 + der[i + 2 + k]!;
      header += n;
    }
    out.push({ tag: der[i]!, body: der.subarray(i + header, i + header + length) });
    i += header + length;
  }
  return out;
}

describe("bounds of the tls provider's PEM texts against openssl", () => {
  const label = (n: number, c: string): string => c.repeat(n);
  const cases: [string, string[], string][] = [
    [
      "the names of a typical node",
      [
        "mail.example.com",
        "mail1.example.com",
        "autodiscover.example.com",
        "autoconfig.example.com",
        "mta-sts.example.com",
      ],
      "example.com",
    ],
    [
      "long names (length octets of two bytes)",
      // (openssl refuses a CN or O over 64 characters; Go does not, and the bound counts any length)
      [
        `mail.${label(47, "a")}.example.com`,
        `${label(63, "a")}.${label(63, "b")}.${label(63, "c")}.${label(61, "d")}`,
        `mail1.${label(63, "e")}.${label(63, "f")}.example.com`,
        `autodiscover.${label(60, "g")}.example.com`,
        "x.example.org",
      ],
      label(64, "O"),
    ],
  ];

  test.each(cases)("self-signed certificate: %s", (_name, names, organization) => {
    requireProgram("openssl", "openssl");
    const dir = scratchDir("tls-bound");
    const key = path.join(dir, "key.pem");
    const conf = path.join(dir, "req.cnf");
    const cert = path.join(dir, "cert.der");
    expect(run("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]).status).toBe(0);
    // The provider's fields (resource_self_signed_cert.go, createCertificate): subject O and CN,
    // key usage digital_signature (critical), extended key usage server_auth, basic constraints
    // without CA (critical), the names as dNSName; no key identifiers.
    fs.writeFileSync(
      conf,
      [
        "[req]",
        "distinguished_name = dn",
        "prompt = no",
        "string_mask = utf8only",
        "[dn]",
        `O = ${organization}`,
        `CN = ${names[0]}`,
        "[ext]",
        "keyUsage = critical, digitalSignature",
        "extendedKeyUsage = serverAuth",
        "basicConstraints = critical, CA:FALSE",
        "subjectKeyIdentifier = none",
        "authorityKeyIdentifier = none",
        `subjectAltName = ${names.map((n) => `DNS:${n}`).join(", ")}`,
        "",
      ].join("\n"),
    );
    // ECDSA signatures are 70 to 72 bytes: sign until one is 72 (r and s with the high bit).
    let der: Buffer | undefined;
    let signature = 0;
    for (let attempt = 0; attempt < 200 && signature < 72; attempt++) {
      const r = run("openssl", [
        "req",
        "-new",
        "-x509",
        "-key",
        key,
        "-config",
        conf,
        "-extensions",
        "ext",
        // 16 random bytes with the high bit: the longest serial below 2^128 (17 bytes of DER)
        "-set_serial",
        `0xff${"ee".repeat(15)}`,
        // until 2126: notAfter is a GeneralizedTime
        "-days",
        "36500",
        "-sha256",
        "-outform",
        "DER",
        "-out",
        cert,
      ]);
      expect(r.stderr).toBe("");
      der = fs.readFileSync(cert);
      const [, , sig] = derChildren(derChildren(der)[0]!.body);
      signature = sig!.body.length - 1;
    }
    expect(signature).toBe(72);
    const [tbs] = derChildren(derChildren(der!)[0]!.body);
    const fields = derChildren(tbs!.body);
    expect(fields[1]!.body.length).toBe(17); // serial
    const [notBefore, notAfter] = derChildren(fields[4]!.body);
    expect(notAfter!.tag).toBe(0x18); // GeneralizedTime
    // openssl writes notBefore (now) as UTCTime (13 bytes); the provider may write GeneralizedTime (15)
    const longest = der!.length + (notBefore!.tag === 0x17 ? 2 : 0);
    const bound = selfSignedCertMaxDer(names, organization);
    expect(bound).toBeGreaterThanOrEqual(longest);
    // tight: only the allowances (critical flags, a CA flag and path length, a second key usage byte)
    expect(bound - longest).toBeLessThanOrEqual(16);
    expect(selfSignedCertMaxLength(names, organization)).toBeGreaterThanOrEqual(pemLength("CERTIFICATE", longest));
    const pem = run("openssl", ["x509", "-inform", "DER", "-in", cert]);
    expect(pem.stdout.length).toBeLessThanOrEqual(selfSignedCertMaxLength(names, organization));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("ECDSA P-256 private key, SEC 1 and PKCS #8 PEM", () => {
    requireProgram("openssl", "openssl");
    const dir = scratchDir("tls-bound");
    const key = path.join(dir, "key.pem");
    expect(run("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]).status).toBe(0);
    const sec1 = fs.readFileSync(key, "utf8");
    const pkcs8 = run("openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", key]).stdout;
    expect(sec1).toMatch(/^-----BEGIN EC PRIVATE KEY-----\n/);
    expect(pkcs8).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    // fixed sizes: the private scalar padded to 32 bytes, the uncompressed public point
    expect(sec1.length).toBe(227);
    expect(pkcs8.length).toBe(241);
    expect(ECDSA_P256_PEM_MAX).toBe(241);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
