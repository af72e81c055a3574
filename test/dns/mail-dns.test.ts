import "cdktf/lib/testing/adapters/jest";
/**
 * MailDns: one Route53 record per record set keyed by name and type, the DKIM key from
 * tls_private_key (its public half turned into the p= value inside Terraform), the zone file as an
 * output (and as a synth-output file when it holds no token), coded errors.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { App, TerraformStack, TerraformVariable, Testing } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { PrivateKey } from "@cdktf/provider-tls/lib/private-key";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { buildTopology, GrommunioValidationError } from "../../lib/topology";
import { MailDns, MailDnsProps, route53Values } from "../../lib/dns";
import { mailDnsRecords, recordRdata } from "../../lib/render/dns";
import { documentedLayout } from "../fixtures";
import { DOCUMENTED_ENTRY, documentedDnsOptions, documentedTopology } from "./fixtures";
import { RSA_2048_PUBLIC_PEM } from "./keys";

/** The documented options without a DKIM key: MailDns supplies it. */
const OPTIONS = documentedDnsOptions({ dkim: undefined });

interface Synth {
  stack: TerraformStack;
  dns: MailDns;
  json: {
    resource?: Record<string, Record<string, Record<string, unknown>>>;
    output?: Record<string, { value: string; sensitive?: boolean }>;
    provider?: Record<string, unknown>;
  };
}

function synth(props: Partial<MailDnsProps> = {}, app: App = Testing.app()): Synth {
  const stack = new TerraformStack(app, "test");
  new AwsProvider(stack, "aws", { region: "eu-central-1" });
  const dns = new MailDns(stack, "dns", {
    topology: documentedTopology(),
    entry: DOCUMENTED_ENTRY,
    options: OPTIONS,
    route53: { zoneId: "Z0GROAT" },
    ...props,
  });
  return { stack, dns, json: JSON.parse(Testing.synth(stack)) };
}

function route53(s: Synth): Record<string, Record<string, unknown>> {
  return s.json.resource?.aws_route53_record ?? {};
}

function byNameType(s: Synth): Map<string, [string, Record<string, unknown>]> {
  return new Map(Object.entries(route53(s)).map(([id, r]) => [`${String(r.name)} ${String(r.type)}`, [id, r]]));
}

describe("Route53", () => {
  const s = synth();

  test("one record per record set, keyed by name and type, with the renderer's values", () => {
    const records = s.dns.records;
    expect(Object.keys(route53(s))).toHaveLength(records.length);
    expect(Object.keys(s.dns.route53Records).sort()).toEqual(records.map((r) => `${r.name} ${r.type}`).sort());
    const published = byNameType(s);
    for (const r of records) {
      const [, res] = published.get(`${r.name} ${r.type}`)!;
      expect(res).toMatchObject({ zone_id: "Z0GROAT", name: r.name, type: r.type, ttl: 3600 });
      if (r.type !== "TXT" || !r.name.includes("_domainkey")) expect(res.records).toEqual(route53Values(r));
    }
    expect(published.get("gro.at MX")![1].records).toEqual(["10 mail.gro.at."]);
    expect(published.get("mail.gro.at A")![1].records).toEqual(["203.0.113.10"]);
    expect(published.get("_imaps._tcp.gro.at SRV")![1].records).toEqual(["0 1 993 mail.gro.at."]);
    expect(published.get("gro.at CAA")![1].records).toEqual([
      '0 iodef "mailto:security@gro.at"',
      '0 issue "letsencrypt.org"',
    ]);
  });

  test("TXT values go without their outer quotes (the provider adds them)", () => {
    const published = byNameType(s);
    expect(published.get("_dmarc.gro.at TXT")![1].records).toEqual([
      "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@gro.at",
    ]);
    expect(published.get("gro.at TXT")![1].records).toEqual(["v=spf1 ip4:198.51.100.25 ip6:2001:db8:1::25 -all"]);
  });

  test("a literal TXT longer than 255 bytes is split as '…\" \"…'", () => {
    const lit = synth({ dkim: { publicKeyPem: RSA_2048_PUBLIC_PEM } });
    const value = byNameType(lit).get("grommunio._domainkey.gro.at TXT")![1].records as string[];
    expect(value).toHaveLength(1);
    const parts = value[0]!.split('" "');
    expect(parts.map((p) => p.length)).toEqual([255, 155]);
    expect('"' + value[0] + '"').toBe(recordRdata(lit.dns.records.find((r) => r.name.includes("_domainkey"))!)[0]);
    expect(lit.json.resource?.tls_private_key).toBeUndefined();
  });

  test("adding a classic node adds its records and leaves every other record's address alone", () => {
    const bigger = buildTopology(
      documentedLayout({
        nodes: [
          ...documentedLayout().nodes,
          { name: "classic2", hostname: "classic2.gro.at", roles: ["classic"], ipv4: "10.10.10.51" },
        ],
      }),
    );
    const s2 = synth({
      topology: bigger,
      options: { ...OPTIONS, egress: [...OPTIONS.egress!, { node: "classic2", ipv4: "198.51.100.26" }] },
    });
    const before = byNameType(s);
    const after = byNameType(s2);
    for (const [key, [id, res]] of before) {
      expect(after.get(key)?.[0]).toBe(id);
      if (key !== "gro.at TXT" && !key.includes("_domainkey")) expect(after.get(key)![1]).toEqual(res);
    }
    expect([...after.keys()].filter((k) => !before.has(k))).toEqual(["classic2.gro.at A"]);
    expect(after.get("gro.at TXT")![1].records).toEqual([
      "v=spf1 ip4:198.51.100.25 ip4:198.51.100.26 ip6:2001:db8:1::25 -all",
    ]);
  });

  test("the DMARC report domain's authorization record: published with its zone id, else left to its owner", () => {
    const options = { ...OPTIONS, dmarc: { rua: "r@reports.example.net" } };
    const without = synth({ options });
    expect(without.dns.externalRecords.map((r) => r.name)).toEqual(["gro.at._report._dmarc.reports.example.net"]);
    expect(byNameType(without).has("gro.at._report._dmarc.reports.example.net TXT")).toBe(false);
    const withZone = synth({
      options,
      route53: { zoneId: "Z0GROAT", otherZones: { "reports.example.net": "Z0REPORTS" } },
    });
    expect(withZone.dns.externalRecords).toEqual([]);
    expect(byNameType(withZone).get("gro.at._report._dmarc.reports.example.net TXT")![1]).toMatchObject({
      zone_id: "Z0REPORTS",
      records: ["v=DMARC1"],
    });
  });

  test("allowOverwrite is passed through; no route53 prop publishes nothing", () => {
    const o = synth({ route53: { zoneId: "Z", allowOverwrite: true } });
    expect(Object.values(route53(o)).every((r) => r.allow_overwrite === true)).toBe(true);
    const none = synth({ route53: undefined });
    expect(none.json.resource?.aws_route53_record).toBeUndefined();
  });
});

describe("DKIM key", () => {
  test("a 2048-bit tls_private_key; the p= value is computed from public_key_pem inside Terraform", () => {
    const s = synth();
    expect(Testing.synth(s.stack)).toHaveResourceWithProperties(PrivateKey, { algorithm: "RSA", rsa_bits: 2048 });
    expect(Object.keys(s.json.provider ?? {})).toContain("tls");
    const keyId = Object.keys(s.json.resource!.tls_private_key!)[0]!;
    const value = (byNameType(s).get("grommunio._domainkey.gro.at TXT")![1].records as string[])[0];
    expect(value).toBe(
      `\${join("\\" \\"", regexall(".{1,255}", join("", ["v=DKIM1; k=rsa; p=", replace(tls_private_key.${keyId}.public_key_pem, "/-----[A-Z ]+-----|\\n/", "")])))}`,
    );
    expect(s.dns.dkimSelector).toBe("grommunio");
    expect(s.dns.dkimPrivateKeyPem).toMatch(/^\$\{TfToken\[TOKEN\.\d+\]\}$/);
    const record = Object.values(s.json.output ?? {}).filter((o) => o.value.startsWith("v=DKIM1"));
    expect(record.map((o) => [o.value, o.sensitive])).toEqual([
      [
        `v=DKIM1; k=rsa; p=\${replace(tls_private_key.${keyId}.public_key_pem, "/-----[A-Z ]+-----|\\n/", "")}`,
        undefined,
      ],
    ]);
  });

  test("rsaBits and selector; an existing tls provider is reused", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "test");
    new TlsProvider(stack, "my-tls");
    new MailDns(stack, "dns", {
      topology: documentedTopology(),
      entry: DOCUMENTED_ENTRY,
      options: OPTIONS,
      dkim: { rsaBits: 3072, selector: "s2025" },
    });
    const json = JSON.parse(Testing.synth(stack));
    expect(Object.values(json.resource.tls_private_key)).toEqual([{ algorithm: "RSA", rsa_bits: 3072 }]);
    expect(Object.keys(json.provider.tls)).toHaveLength(1);
  });

  test("the private key is output only when asked, and then marked sensitive", () => {
    const plain = synth();
    expect(Object.values(plain.json.output ?? {}).some((o) => o.sensitive)).toBe(false);
    const exported = synth({ dkim: { exportPrivateKey: true } });
    const secret = Object.entries(exported.json.output!).filter(([, o]) => o.sensitive);
    expect(secret).toHaveLength(1);
    expect(secret[0]![1].value).toMatch(/^\$\{tls_private_key\.[^.]+\.private_key_pem\}$/);
  });

  test("a public key of your own given as a token is converted in Terraform, no key generated", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "test");
    const pem = new TerraformVariable(stack, "dkim_pem", { type: "string" });
    new MailDns(stack, "dns", {
      topology: documentedTopology(),
      entry: DOCUMENTED_ENTRY,
      options: OPTIONS,
      dkim: { publicKeyPem: pem.stringValue, keyBits: 2048 },
      writeZoneFile: { nameServers: ["ns1.example.net"] },
    });
    const json = JSON.parse(Testing.synth(stack));
    expect(json.resource?.tls_private_key).toBeUndefined();
    const zone: string = Object.values(json.output as Record<string, { value: string }>).find((o) =>
      o.value.includes("$ORIGIN"),
    )!.value;
    expect(zone).toContain(
      'grommunio._domainkey 3600 IN TXT   "${join("\\" \\"", regexall(".{1,255}", join("", ["v=DKIM1; k=rsa; p=", replace(var.dkim_pem, "/-----[A-Z ]+-----|\\n/", "")])))}"',
    );
  });

  test("dkim: false publishes no DKIM record", () => {
    const s = synth({ dkim: false });
    expect(s.dns.records.some((r) => r.name.includes("_domainkey"))).toBe(false);
    expect(s.json.resource?.tls_private_key).toBeUndefined();
  });
});

describe("zone file", () => {
  test("with tokens: a Terraform output holding the zone, no file at synth", () => {
    const s = synth({ writeZoneFile: { nameServers: ["ns1.example.net"], serial: 7 } });
    expect(s.dns.zoneFileAsset).toBeUndefined();
    const out = s.json.output![s.dns.zoneFileOutput!.friendlyUniqueId]!;
    expect(out.value).toMatch(/^; Zone gro\.at: /);
    expect(out.value).toContain("$ORIGIN gro.at.\n$TTL 3600\n");
    expect(out.value).toContain("ns1.example.net. hostmaster.gro.at. 7 7200");
    expect(out.value).toContain(
      '_dmarc               3600 IN TXT   "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@gro.at"',
    );
    expect(out.value).toContain("tls_private_key.");
    expect(out.sensitive).toBeUndefined();
  });

  test("without tokens: also a file in the synth output, equal to renderZoneFile", () => {
    const app = Testing.app();
    const s = synth({ dkim: false, route53: undefined, writeZoneFile: { nameServers: ["ns1.example.net"] } }, app);
    expect(s.dns.zoneFileAsset).toBeDefined();
    app.synth();
    const file = path.join(app.outdir, "stacks", "test", s.dns.zoneFileAsset!.path);
    expect(path.basename(file)).toBe("gro.at.zone");
    const text = fs.readFileSync(file, "utf8");
    expect(text).toBe(s.json.output![s.dns.zoneFileOutput!.friendlyUniqueId]!.value);
    expect(text).not.toContain("${");
  });
});

describe("topology sources", () => {
  test("the model, an object holding it (the cluster construct), or a function give the same records", () => {
    const topo = documentedTopology();
    const a = synth({ topology: topo, dkim: false }).dns.records;
    const b = synth({ topology: { topology: topo }, dkim: false }).dns.records;
    const c = synth({ topology: () => topo, dkim: false }).dns.records;
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(a.length).toBeGreaterThan(20);
  });
});

describe("ready records", () => {
  test.each([
    ["entry", { entry: DOCUMENTED_ENTRY }],
    ["options", { options: OPTIONS }],
    ["dkim", { dkim: {} }],
    ["dkim", { dkim: { selector: "s2026" } }],
  ] as [string, Partial<MailDnsProps>][])("GRX446: %s beside records (it would be ignored)", (field, extra) => {
    const records = mailDnsRecords(documentedTopology(), DOCUMENTED_ENTRY, documentedDnsOptions());
    const stack = new TerraformStack(Testing.app(), "test");
    let error: unknown;
    try {
      new MailDns(stack, "dns", { records, ...extra });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GrommunioValidationError);
    expect((error as GrommunioValidationError).issues.map((i) => [i.code, i.field])).toEqual([["GRX446", field]]);
    // dkim: false (no key) is what ready records mean: accepted.
    expect(() => new MailDns(stack, "dns2", { records, dkim: false })).not.toThrow();
  });

  test("are published as they are", () => {
    const records = mailDnsRecords(documentedTopology(), DOCUMENTED_ENTRY, documentedDnsOptions());
    const app = Testing.app();
    const stack = new TerraformStack(app, "test");
    const dns = new MailDns(stack, "dns", { records, route53: { zoneId: "Z" } });
    expect(dns.zone).toBe("gro.at");
    expect(dns.records).toEqual(records);
    expect(Testing.synth(stack)).toHaveResourceWithProperties(Route53Record, { name: "_dmarc.gro.at", type: "TXT" });
    expect(Object.keys(JSON.parse(Testing.synth(stack)).resource.aws_route53_record)).toHaveLength(records.length);
  });
});

describe("coded errors", () => {
  function codesOf(props: Partial<MailDnsProps>): string[] {
    try {
      synth(props);
    } catch (e) {
      expect(e).toBeInstanceOf(GrommunioValidationError);
      return (e as GrommunioValidationError).codes;
    }
    return [];
  }
  test.each([
    ["GRX446", "neither topology nor records", { topology: undefined }],
    ["GRX446", "both topology and records", { records: [] }],
    ["GRX446", "topology without entry", { entry: undefined }],
    ["GRX447", "a 512-bit key", { dkim: { rsaBits: 512 } }],
    ["GRX447", "a fractional key size", { dkim: { rsaBits: 2048.5 } }],
    ["GRX446", "zone with a topology (it is options.zone)", { zone: "example.net" }],
    ["GRX449", "a private key of your own without its public key", { dkim: { privateKeyPem: "${var.k}" } }],
    ["GRX449", "keyBits without publicKeyPem", { dkim: { keyBits: 4096 } }],
    ["GRX449", "rsaBits with a key of your own", { dkim: { publicKeyPem: RSA_2048_PUBLIC_PEM, rsaBits: 4096 } }],
    [
      "GRX449",
      "exportPrivateKey with a key of your own",
      { dkim: { publicKeyPem: RSA_2048_PUBLIC_PEM, exportPrivateKey: true } },
    ],
    ["GRX422", "the renderer's errors surface", { options: { ...OPTIONS, mailHost: "203.0.113.10" } }],
    ["GRX442", "zone file errors surface", { writeZoneFile: { nameServers: ["ns1.example.net"], serial: -1 } }],
  ] as [string, string, Partial<MailDnsProps>][])("%s: %s", (code, _what, props) => {
    expect(codesOf(props)).toEqual([code]);
  });
});

describe("writeZoneFile.fileName (GRX560)", () => {
  function issuesOf(fileName: string): [string, string, string][] {
    try {
      synth({ dkim: false, route53: undefined, writeZoneFile: { nameServers: ["ns1.example.net"], fileName } });
    } catch (e) {
      expect(e).toBeInstanceOf(GrommunioValidationError);
      return (e as GrommunioValidationError).issues.map((i) => [i.code, i.path, i.field]);
    }
    return [];
  }

  test.each([
    ["a path up and out", `../../grx560-escape-${process.pid}.zone`],
    ["a directory", "zones/gro.at.zone"],
    ["an absolute path", "/etc/gro.at.zone"],
    ["a Windows separator", "..\\gro.at.zone"],
    ["empty", ""],
    [".", "."],
    ["..", ".."],
    ["NUL", "gro.at\0.zone"],
    ["longer than 255 bytes", `${"z".repeat(251)}.zone`],
  ])("%s is refused, and nothing is written", (_what, fileName) => {
    expect(issuesOf(fileName)).toEqual([["GRX560", "test/dns", "writeZoneFile.fileName"]]);
    expect(fs.existsSync(path.join(os.tmpdir(), `grx560-escape-${process.pid}.zone`))).toBe(false);
  });

  test.each(["gro.at.zone", "db.gro.at", "mail zone.txt", "..zone"])("%j is a plain file name: written", (fileName) => {
    const app = Testing.app();
    const s = synth(
      { dkim: false, route53: undefined, writeZoneFile: { nameServers: ["ns1.example.net"], fileName } },
      app,
    );
    app.synth();
    expect(path.basename(s.dns.zoneFileAsset!.path)).toBe(fileName);
  });
});
