/**
 * mailDnsRecords / mailReverseDns / renderMtaStsPolicy: the record set of the documented layout,
 * value by value; tokens pass through; every coded error; determinism.
 */
import { createPublicKey } from "node:crypto";
import { buildTopology, GrommunioValidationError, PORTS } from "../../lib/topology";
import {
  DnsRecord,
  MailDnsOptions,
  MailEntryPoint,
  mailDnsRecords,
  mailReverseDns,
  mtaStsPolicyId,
  mtaStsPolicyText,
  recordRdata,
  renderMtaStsPolicy,
  validateMailDns,
} from "../../lib/render/dns";
import { documentedLayout } from "../fixtures";
import { DOCUMENTED_ENTRY, documentedDnsOptions, documentedTopology } from "./fixtures";
import { ED25519_PUBLIC_PEM, RSA_1024_PUBLIC_PEM, RSA_2048_PUBLIC_PEM, RSA_512_PUBLIC_PEM } from "./keys";

const der2048 = createPublicKey(RSA_2048_PUBLIC_PEM).export({ type: "spki", format: "der" }).toString("base64");

function records(options: MailDnsOptions = documentedDnsOptions(), entry: MailEntryPoint = DOCUMENTED_ENTRY) {
  return mailDnsRecords(documentedTopology(), entry, options);
}

function find(rs: readonly DnsRecord[], name: string, type: DnsRecord["type"]): DnsRecord {
  const r = rs.find((x) => x.name === name && x.type === type);
  if (!r) throw new Error(`no ${name} ${type} in ${rs.map((x) => `${x.name} ${x.type}`).join(", ")}`);
  return r;
}

function rdata(rs: readonly DnsRecord[], name: string, type: DnsRecord["type"]): string[] {
  return recordRdata(find(rs, name, type));
}

function codes(
  options: MailDnsOptions,
  entry: MailEntryPoint = DOCUMENTED_ENTRY,
  topo = documentedTopology(),
): string[] {
  return [...new Set(validateMailDns(topo, entry, options).map((i) => i.code))].sort();
}

describe("the documented layout's record set", () => {
  const rs = records();

  test("names and types, in canonical order", () => {
    expect(rs.map((r) => `${r.name} ${r.type}`)).toEqual([
      "gro.at MX",
      "gro.at TXT",
      "gro.at CAA",
      "_dmarc.gro.at TXT",
      "grommunio._domainkey.gro.at TXT",
      "_mta-sts.gro.at TXT",
      "_autodiscover._tcp.gro.at SRV",
      "_caldav._tcp.gro.at SRV",
      "_caldavs._tcp.gro.at SRV",
      "_caldavs._tcp.gro.at TXT",
      "_carddav._tcp.gro.at SRV",
      "_carddavs._tcp.gro.at SRV",
      "_carddavs._tcp.gro.at TXT",
      "_imap._tcp.gro.at SRV",
      "_imaps._tcp.gro.at SRV",
      "_pop3._tcp.gro.at SRV",
      "_pop3s._tcp.gro.at SRV",
      "_submission._tcp.gro.at SRV",
      "_submissions._tcp.gro.at SRV",
      "_smtp._tls.gro.at TXT",
      "autoconfig.gro.at CNAME",
      "autodiscover.gro.at CNAME",
      "classic1.gro.at A",
      "classic1.gro.at AAAA",
      "mail.gro.at A",
      "mail.gro.at AAAA",
      "mta-sts.gro.at CNAME",
    ]);
    expect(new Set(rs.map((r) => r.zone))).toEqual(new Set(["gro.at"]));
    expect(new Set(rs.map((r) => r.ttl))).toEqual(new Set([3600]));
    for (const r of rs) expect(r.purpose.length).toBeGreaterThan(5);
  });

  test("MX names the mail host (the load balancer's public name), which carries the entry addresses", () => {
    expect(rdata(rs, "gro.at", "MX")).toEqual(["10 mail.gro.at."]);
    expect(rdata(rs, "mail.gro.at", "A")).toEqual(["203.0.113.10"]);
    expect(rdata(rs, "mail.gro.at", "AAAA")).toEqual(["2001:db8::10"]);
  });

  test("autodiscover, autoconfig and mta-sts are CNAMEs of the mail host", () => {
    for (const n of ["autodiscover", "autoconfig", "mta-sts"]) {
      expect(rdata(rs, `${n}.gro.at`, "CNAME")).toEqual(["mail.gro.at."]);
    }
  });

  test("SRV: offered services on the mail host with ports from PORTS, IMAP before POP3, the rest '.'", () => {
    const srv = (s: string) => rdata(rs, `${s}._tcp.gro.at`, "SRV");
    expect(srv("_submission")).toEqual([`0 1 ${PORTS.publicSubmission.port} mail.gro.at.`]);
    expect(srv("_imaps")).toEqual([`0 1 ${PORTS.publicImaps.port} mail.gro.at.`]);
    expect(srv("_pop3s")).toEqual([`10 1 ${PORTS.publicPop3s.port} mail.gro.at.`]);
    expect(srv("_autodiscover")).toEqual([`0 1 ${PORTS.publicHttps.port} mail.gro.at.`]);
    expect(srv("_caldavs")).toEqual([`0 1 ${PORTS.publicHttps.port} mail.gro.at.`]);
    expect(srv("_carddavs")).toEqual([`0 1 ${PORTS.publicHttps.port} mail.gro.at.`]);
    for (const s of ["_imap", "_pop3", "_submissions", "_caldav", "_carddav"]) expect(srv(s)).toEqual(["0 0 0 ."]);
    expect(srv("_submission")).toEqual(["0 1 587 mail.gro.at."]);
    expect(rdata(rs, "_caldavs._tcp.gro.at", "TXT")).toEqual(['"path=/dav/"']);
    expect(rdata(rs, "_carddavs._tcp.gro.at", "TXT")).toEqual(['"path=/dav/"']);
  });

  test("SPF lists the classic node's egress addresses and fails everything else", () => {
    expect(rdata(rs, "gro.at", "TXT")).toEqual(['"v=spf1 ip4:198.51.100.25 ip6:2001:db8:1::25 -all"']);
    expect(rdata(rs, "classic1.gro.at", "A")).toEqual(["198.51.100.25"]);
    expect(rdata(rs, "classic1.gro.at", "AAAA")).toEqual(["2001:db8:1::25"]);
  });

  test("DKIM: v=DKIM1; k=rsa; p=<base64 DER>, split into a 255-byte and a 155-byte string", () => {
    const r = find(rs, "grommunio._domainkey.gro.at", "TXT");
    expect(r.type === "TXT" && r.values[0]!.text).toBe(`v=DKIM1; k=rsa; p=${der2048}`);
    const [text] = rdata(rs, "grommunio._domainkey.gro.at", "TXT");
    const strings = [...text!.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    expect(strings.map((s) => s.length)).toEqual([255, 155]);
    expect(strings.join("")).toBe(`v=DKIM1; k=rsa; p=${der2048}`);
    expect(text).toBe(`"${strings[0]}" "${strings[1]}"`);
  });

  test("DMARC, TLS-RPT (defaults to the DMARC address), MTA-STS id and CAA", () => {
    expect(rdata(rs, "_dmarc.gro.at", "TXT")).toEqual(['"v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@gro.at"']);
    expect(rdata(rs, "_smtp._tls.gro.at", "TXT")).toEqual(['"v=TLSRPTv1; rua=mailto:dmarc-reports@gro.at"']);
    const policy = "version: STSv1\r\nmode: testing\r\nmx: mail.gro.at\r\nmax_age: 604800\r\n";
    expect(renderMtaStsPolicy(documentedTopology(), documentedDnsOptions())).toBe(policy);
    expect(rdata(rs, "_mta-sts.gro.at", "TXT")).toEqual([`"v=STSv1; id=${mtaStsPolicyId(policy)}"`]);
    expect(mtaStsPolicyId(policy)).toMatch(/^[0-9a-f]{20}$/);
    expect(rdata(rs, "gro.at", "CAA")).toEqual(['0 iodef "mailto:security@gro.at"', '0 issue "letsencrypt.org"']);
  });

  test("reverse DNS: the egress addresses name the classic node, the entry addresses the mail host", () => {
    expect(mailReverseDns(documentedTopology(), DOCUMENTED_ENTRY, documentedDnsOptions())).toEqual([
      { address: "198.51.100.25", family: "ipv4", name: "classic1.gro.at", role: "egress", node: "classic1" },
      { address: "2001:db8:1::25", family: "ipv6", name: "classic1.gro.at", role: "egress", node: "classic1" },
      { address: "203.0.113.10", family: "ipv4", name: "mail.gro.at", role: "entry" },
      { address: "2001:db8::10", family: "ipv6", name: "mail.gro.at", role: "entry" },
    ]);
  });
});

describe("options", () => {
  test("DMARC policy, subdomain policy and percentage; no DMARC at all", () => {
    const rs = records(documentedDnsOptions({ dmarc: { policy: "reject", subdomainPolicy: "none", percent: 50 } }));
    expect(rdata(rs, "_dmarc.gro.at", "TXT")).toEqual(['"v=DMARC1; p=reject; sp=none; pct=50"']);
    expect(rs.some((r) => r.name === "_smtp._tls.gro.at")).toBe(false);
    const none = records(documentedDnsOptions({ dmarc: false }));
    expect(none.some((r) => r.name === "_dmarc.gro.at")).toBe(false);
  });

  test("a report address in another domain adds the authorization record in that domain's zone", () => {
    const rs = records(documentedDnsOptions({ dmarc: { rua: "reports@dmarc.example.net" } }));
    const auth = find(rs, "gro.at._report._dmarc.dmarc.example.net", "TXT");
    expect(auth.zone).toBe("dmarc.example.net");
    expect(recordRdata(auth)).toEqual(['"v=DMARC1"']);
    // a subdomain of the mail zone is not another domain
    const inside = records(documentedDnsOptions({ dmarc: { rua: "dmarc@reports.gro.at" } }));
    expect(inside.filter((r) => r.name.includes("._report._dmarc."))).toEqual([]);
  });

  test("TLS-RPT: its own address, or none", () => {
    const own = records(documentedDnsOptions({ tlsRpt: { rua: "tls@gro.at" } }));
    expect(rdata(own, "_smtp._tls.gro.at", "TXT")).toEqual(['"v=TLSRPTv1; rua=mailto:tls@gro.at"']);
    const off = records(documentedDnsOptions({ tlsRpt: false }));
    expect(off.some((r) => r.name === "_smtp._tls.gro.at")).toBe(false);
  });

  test("report addresses at the edges of GRX436 come back from the mailto: URI as given (percent-encoded, RFC 6068)", () => {
    // Every special character the local part may hold: `?` would start the URI's query and `#`
    // its fragment, `%` an escape; a URI reader (here WHATWG URL) then saw another address.
    const locals = ["r#1", "r%41", "r?x=1", "a&b", "a/b", "a=b", "a^b", "a`b", "a{b|c}d", "$'*+_~-.x"];
    for (const local of locals) {
      const address = `${local}@reports.example.net`;
      const rs = records(documentedDnsOptions({ dmarc: { rua: address }, tlsRpt: { rua: address } }));
      for (const [name, head] of [
        ["_dmarc.gro.at", "v=DMARC1"],
        ["_smtp._tls.gro.at", "v=TLSRPTv1"],
      ] as const) {
        const text = find(rs, name, "TXT")
          .values.map((v) => ("text" in v ? v.text : ""))
          .join("");
        const tags = text.split(";").map((t) => t.trim());
        expect(tags[0]).toBe(head);
        const uris = tags
          .find((t) => t.startsWith("rua="))!
          .slice(4)
          .split(",");
        expect(uris).toHaveLength(1);
        const url = new URL(uris[0]!);
        expect([url.protocol, url.search, url.hash]).toEqual(["mailto:", "", ""]);
        expect(decodeURIComponent(url.pathname)).toBe(address);
      }
    }
  });

  test("MTA-STS: the id follows the policy; false removes both records", () => {
    const testing = rdata(records(), "_mta-sts.gro.at", "TXT");
    const enforce = rdata(
      records(documentedDnsOptions({ mtaSts: { mode: "enforce", maxAgeSeconds: 1209600 } })),
      "_mta-sts.gro.at",
      "TXT",
    );
    expect(enforce).not.toEqual(testing);
    expect(enforce).toEqual([
      `"v=STSv1; id=${mtaStsPolicyId(mtaStsPolicyText(["mail.gro.at"], { mode: "enforce", maxAgeSeconds: 1209600 }))}"`,
    ]);
    const off = records(documentedDnsOptions({ mtaSts: false }));
    expect(off.some((r) => r.name.includes("mta-sts"))).toBe(false);
  });

  test("SPF includes a relay; spf.all ~all; no egress records without egress", () => {
    const rs = records(
      documentedDnsOptions({ egress: undefined, spf: { include: ["_spf.relay.example.net"], all: "~all" } }),
    );
    expect(rdata(rs, "gro.at", "TXT")).toEqual(['"v=spf1 include:_spf.relay.example.net ~all"']);
    expect(rs.some((r) => r.name === "classic1.gro.at")).toBe(false);
  });

  test("zone, mail host, TTL, MX preference and selector", () => {
    const rs = records(
      documentedDnsOptions({
        zone: "gro.at",
        mailHost: "mx.gro.at",
        ttl: 300,
        mxPreference: 5,
        dkim: { selector: "s2025", publicKey: RSA_2048_PUBLIC_PEM },
      }),
    );
    expect(rdata(rs, "gro.at", "MX")).toEqual(["5 mx.gro.at."]);
    expect(rdata(rs, "mx.gro.at", "A")).toEqual(["203.0.113.10"]);
    expect(rs.every((r) => r.ttl === 300)).toBe(true);
    expect(rs.some((r) => r.name === "s2025._domainkey.gro.at")).toBe(true);
  });

  test("no DKIM record without a key; no CAA without issuers", () => {
    const rs = records(documentedDnsOptions({ dkim: undefined, caa: undefined }));
    expect(rs.some((r) => r.name.endsWith("._domainkey.gro.at"))).toBe(false);
    expect(rs.some((r) => r.type === "CAA")).toBe(false);
  });

  test("a 1024-bit key is accepted (the minimum); base64 DER works as well as PEM", () => {
    expect(codes(documentedDnsOptions({ dkim: { publicKey: RSA_1024_PUBLIC_PEM } }))).toEqual([]);
    const rs = records(documentedDnsOptions({ dkim: { publicKey: der2048 } }));
    expect(find(rs, "grommunio._domainkey.gro.at", "TXT")).toEqual(
      find(records(), "grommunio._domainkey.gro.at", "TXT"),
    );
  });
});

describe("Terraform tokens pass through untouched", () => {
  const ip = "${TfToken[TOKEN.41]}";
  const key = "${TfToken[TOKEN.42]}";
  const rs = records(
    documentedDnsOptions({ egress: [{ node: "classic1", ipv4: ip }], dkim: { publicKey: key, keyBits: 2048 } }),
    { ipv4: [ip] },
  );

  test("addresses and the DKIM key stay tokens", () => {
    expect(rdata(rs, "mail.gro.at", "A")).toEqual([ip]);
    const dkim = find(rs, "grommunio._domainkey.gro.at", "TXT");
    expect(dkim.type === "TXT" && dkim.values[0]!.text).toBe(`v=DKIM1; k=rsa; p=${key}`);
    const spf = find(rs, "gro.at", "TXT");
    expect(spf.type === "TXT" && spf.values[0]!.text).toBe(`v=spf1 ip4:${ip} -all`);
  });

  test("a TXT with a token cannot be split at synth without Terraform (GRX445)", () => {
    expect(() => recordRdata(find(rs, "grommunio._domainkey.gro.at", "TXT"))).toThrow(/GRX445/);
    expect(recordRdata(find(rs, "grommunio._domainkey.gro.at", "TXT"), (t) => `<${t}>`)).toEqual([
      `<v=DKIM1; k=rsa; p=${key}>`,
    ]);
  });

  test("a token key declared too short is refused", () => {
    expect(codes(documentedDnsOptions({ dkim: { publicKey: key, keyBits: 512 } }))).toEqual(["GRX434"]);
  });
});

describe("coded errors: no record from invalid input", () => {
  const noLb = buildTopology(
    documentedLayout({ loadBalancer: undefined, nodes: documentedLayout().nodes.filter((n) => n.name !== "lb1") }),
  );
  const noClassic = buildTopology(
    documentedLayout({ nodes: documentedLayout().nodes.filter((n) => n.name !== "classic1") }),
  );
  const cases: [string, string, MailDnsOptions, MailEntryPoint?, ReturnType<typeof documentedTopology>?][] = [
    ["GRX420", "zone is not a name", documentedDnsOptions({ zone: "gro.at." })],
    ["GRX420", "domain outside the zone", documentedDnsOptions({ zone: "example.com" })],
    ["GRX421", "mail host outside the zone", documentedDnsOptions({ mailHost: "mail.example.net" })],
    ["GRX422", "MX to an IPv4 address", documentedDnsOptions({ mailHost: "203.0.113.10" })],
    ["GRX422", "MX to an IPv6 address", documentedDnsOptions({ mailHost: "2001:db8::10" })],
    ["GRX423", "mail host not an FQDN", documentedDnsOptions({ mailHost: "Mail" })],
    ["GRX423", "no load balancer and no mail host", documentedDnsOptions(), DOCUMENTED_ENTRY, noLb],
    ["GRX424", "no entry address", documentedDnsOptions(), {}],
    ["GRX425", "an IPv6 address in entry.ipv4", documentedDnsOptions(), { ipv4: ["2001:db8::10"] }],
    ["GRX425", "a host name in entry.ipv6", documentedDnsOptions(), { ipv6: ["mail.gro.at"] }],
    [
      "GRX425",
      "a bad egress address",
      documentedDnsOptions({ egress: [{ node: "classic1", ipv4: "198.51.100.256" }] }),
    ],
    [
      "GRX426",
      "no classic node",
      documentedDnsOptions({ egress: undefined, spf: { include: ["relay.example.net"] } }),
      DOCUMENTED_ENTRY,
      noClassic,
    ],
    [
      "GRX427",
      "egress on a mailbox node",
      documentedDnsOptions({
        egress: [
          { node: "classic1", ipv4: "198.51.100.25" },
          { node: "mail1", ipv4: "198.51.100.26" },
        ],
      }),
    ],
    [
      "GRX427",
      "egress on an unknown node",
      documentedDnsOptions({
        egress: [
          { node: "classic1", ipv4: "198.51.100.25" },
          { node: "classic9", ipv4: "198.51.100.26" },
        ],
      }),
    ],
    ["GRX428", "egress without an address", documentedDnsOptions({ egress: [{ node: "classic1" }] })],
    ["GRX429", "no authorized sender", documentedDnsOptions({ egress: [] })],
    ["GRX430", "an include that is not a domain", documentedDnsOptions({ spf: { include: ["not a domain"] } })],
    [
      "GRX430",
      "too many includes",
      documentedDnsOptions({ spf: { include: Array.from({ length: 9 }, (_, i) => `r${i}.example.net`) } }),
    ],
    [
      "GRX432",
      "bad selector",
      documentedDnsOptions({ dkim: { selector: "Bad_Selector", publicKey: RSA_2048_PUBLIC_PEM } }),
    ],
    [
      "GRX433",
      "a private key",
      documentedDnsOptions({ dkim: { publicKey: "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n" } }),
    ],
    ["GRX433", "not a key", documentedDnsOptions({ dkim: { publicKey: "hello world" } })],
    ["GRX433", "an Ed25519 key", documentedDnsOptions({ dkim: { publicKey: ED25519_PUBLIC_PEM } })],
    ["GRX434", "a 512-bit key", documentedDnsOptions({ dkim: { publicKey: RSA_512_PUBLIC_PEM } })],
    ["GRX435", "unknown DMARC policy", documentedDnsOptions({ dmarc: { policy: "block" as never } })],
    ["GRX435", "DMARC pct above 100", documentedDnsOptions({ dmarc: { percent: 101 } })],
    ["GRX436", "report address with mailto:", documentedDnsOptions({ dmarc: { rua: "mailto:dmarc@gro.at" } })],
    ["GRX436", "report address with a comma", documentedDnsOptions({ dmarc: { rua: "a,b@gro.at" } })],
    ["GRX436", "TLS-RPT address without domain", documentedDnsOptions({ tlsRpt: { rua: "tls" } })],
    ["GRX437", "unknown MTA-STS mode", documentedDnsOptions({ mtaSts: { mode: "strict" as never } })],
    ["GRX437", "MTA-STS max_age above a year", documentedDnsOptions({ mtaSts: { maxAgeSeconds: 31557601 } })],
    ["GRX438", "empty CAA issuer list", documentedDnsOptions({ caa: { issuers: [] } })],
    ["GRX438", "empty CAA issuer", documentedDnsOptions({ caa: { issuers: [""] } })],
    ["GRX439", "bad iodef", documentedDnsOptions({ caa: { issuers: ["letsencrypt.org"], iodef: "security@gro.at" } })],
    ["GRX440", "negative TTL", documentedDnsOptions({ ttl: -1 })],
    ["GRX440", "MX preference above 65535", documentedDnsOptions({ mxPreference: 70000 })],
    ["GRX441", "mail host is the autodiscover CNAME", documentedDnsOptions({ mailHost: "autodiscover.gro.at" })],
  ];

  test.each(cases)("%s: %s", (code, _what, options, entry = DOCUMENTED_ENTRY, topo = documentedTopology()) => {
    expect(codes(options, entry, topo)).toEqual([code]);
    let error: unknown;
    try {
      mailDnsRecords(topo, entry, options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GrommunioValidationError);
    const issues = (error as GrommunioValidationError).issues;
    expect(issues.map((i) => i.code)).toContain(code);
    for (const i of issues) {
      expect(i.path).toMatch(/^cluster(\/|$)/);
      expect(i.field.length).toBeGreaterThan(0);
      expect(i.fix.length).toBeGreaterThan(5);
    }
  });

  test("GRX428: a classic node left out of egress", () => {
    const topo = buildTopology(
      documentedLayout({
        nodes: [
          ...documentedLayout().nodes,
          { name: "classic2", hostname: "classic2.gro.at", roles: ["classic"], ipv4: "10.10.10.51" },
        ],
      }),
    );
    expect(codes(documentedDnsOptions(), DOCUMENTED_ENTRY, topo)).toEqual(["GRX428"]);
  });

  test("GRX431: two classic nodes with one literal egress address", () => {
    const topo = buildTopology(
      documentedLayout({
        nodes: [
          ...documentedLayout().nodes,
          { name: "classic2", hostname: "classic2.gro.at", roles: ["classic"], ipv4: "10.10.10.51" },
        ],
      }),
    );
    const egress = [
      { node: "classic1", ipv4: "198.51.100.25" },
      { node: "classic2", ipv4: "198.51.100.25" },
    ];
    expect(codes(documentedDnsOptions({ egress }), DOCUMENTED_ENTRY, topo)).toEqual(["GRX431"]);
  });

  test("GRX421: an egress node's HELO name outside the zone", () => {
    const topo = buildTopology(
      documentedLayout({
        nodes: documentedLayout().nodes.map((n) =>
          n.name === "classic1" ? { ...n, hostname: "classic1.example.net" } : n,
        ),
      }),
    );
    expect(codes(documentedDnsOptions(), DOCUMENTED_ENTRY, topo)).toEqual(["GRX421"]);
  });

  test("every independent mistake is reported at once", () => {
    const c = codes(
      documentedDnsOptions({ mailHost: "203.0.113.9", ttl: -5, dmarc: { rua: "x" }, caa: { issuers: [] } }),
      {},
    );
    expect(c).toEqual(["GRX422", "GRX424", "GRX436", "GRX438", "GRX440"]);
  });

  test("renderMtaStsPolicy refuses what mailDnsRecords refuses", () => {
    expect(() => renderMtaStsPolicy(documentedTopology(), { mtaSts: { mode: "strict" as never } })).toThrow(/GRX437/);
    expect(() => renderMtaStsPolicy(documentedTopology(), { mailHost: "203.0.113.10" })).toThrow(/GRX422/);
  });
});

describe("determinism", () => {
  test("the same input gives the same records; node order and entry duplicates do not matter", () => {
    const a = records();
    const shuffled = buildTopology(documentedLayout({ nodes: [...documentedLayout().nodes].reverse() }));
    const b = mailDnsRecords(
      shuffled,
      { ipv6: ["2001:db8::10"], ipv4: ["203.0.113.10", "203.0.113.10"] },
      documentedDnsOptions(),
    );
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(records())).toBe(JSON.stringify(a));
  });

  test("IPv6 entry addresses are written canonically", () => {
    const rs = records(documentedDnsOptions(), { ipv6: ["2001:0DB8:0:0::10"] });
    expect(rdata(rs, "mail.gro.at", "AAAA")).toEqual(["2001:db8::10"]);
  });
});
