/**
 * The serializer: TXT character-strings (split at exactly 255 bytes, escaped), rdata, and the BIND
 * zone file (header, SOA, NS and glue, sorted record sets, coded errors, determinism).
 */
import {
  DnsRecord,
  MAX_CHARACTER_STRING,
  mailDnsRecords,
  quoteTxt,
  recordRdata,
  recordsInZone,
  renderZoneFile,
  txtCharacterStrings,
  ZoneFileOptions,
} from "../../lib/render/dns";
import { DOCUMENTED_ENTRY, documentedDnsOptions, documentedTopology } from "./fixtures";

const NS: ZoneFileOptions = { nameServers: [{ name: "ns1.gro.at", ipv4: ["127.0.0.53"] }, "ns2.example.net"] };

function txt(name: string, text: string): DnsRecord {
  return { zone: "gro.at", name, type: "TXT", ttl: 300, values: [{ text }], purpose: "test" };
}

describe("TXT character-strings", () => {
  test.each([
    [0, [0]],
    [1, [1]],
    [254, [254]],
    [255, [255]],
    [256, [255, 1]],
    [510, [255, 255]],
    [511, [255, 255, 1]],
  ])("%i bytes split into %j", (n, sizes) => {
    expect(MAX_CHARACTER_STRING).toBe(255);
    const strings = txtCharacterStrings("x".repeat(n));
    expect(strings.map((s) => s.length)).toEqual(sizes);
    expect(Buffer.concat(strings).toString()).toBe("x".repeat(n));
    expect(quoteTxt("x".repeat(n))).toBe(sizes.map((s) => `"${"x".repeat(s)}"`).join(" "));
  });

  test("the limit counts bytes, not characters, and escaping does not count", () => {
    const text = "ä".repeat(128); // 256 bytes
    const strings = txtCharacterStrings(text);
    expect(strings.map((s) => s.length)).toEqual([255, 1]);
    expect(quoteTxt('"a"b\\c')).toBe('"\\"a\\"b\\\\c"');
    expect(quoteTxt("tab\there\u0001")).toBe('"tab\\009here\\001"');
    expect(quoteTxt("ä")).toBe('"\\195\\164"');
  });
});

describe("rdata", () => {
  test("every type in presentation form, values sorted", () => {
    const base = { zone: "gro.at", name: "x.gro.at", ttl: 60, purpose: "p" };
    expect(recordRdata({ ...base, type: "A", values: [{ address: "192.0.2.2" }, { address: "192.0.2.1" }] })).toEqual([
      "192.0.2.1",
      "192.0.2.2",
    ]);
    expect(recordRdata({ ...base, type: "CNAME", values: [{ target: "mail.gro.at" }] })).toEqual(["mail.gro.at."]);
    expect(recordRdata({ ...base, type: "MX", values: [{ preference: 0, exchange: "." }] })).toEqual(["0 ."]);
    expect(
      recordRdata({ ...base, type: "SRV", values: [{ priority: 1, weight: 2, port: 3, target: "h.gro.at" }] }),
    ).toEqual(["1 2 3 h.gro.at."]);
    expect(recordRdata({ ...base, type: "CAA", values: [{ flags: 128, tag: "issue", value: 'ca"x' }] })).toEqual([
      '128 issue "ca\\"x"',
    ]);
  });
});

describe("renderZoneFile", () => {
  const records = mailDnsRecords(documentedTopology(), DOCUMENTED_ENTRY, documentedDnsOptions());
  const zone = renderZoneFile("gro.at", records, NS);
  const lines = zone.split("\n");

  test("header, $ORIGIN, $TTL, SOA, NS with glue for the in-zone name server", () => {
    expect(lines[0]).toMatch(/^; Zone gro\.at: /);
    expect(lines[2]).toBe("$ORIGIN gro.at.");
    expect(lines[3]).toBe("$TTL 3600");
    expect(lines[4]).toMatch(/^@ +IN SOA +ns1\.gro\.at\. hostmaster\.gro\.at\. 1 7200 3600 1209600 3600$/);
    expect(lines[5]).toMatch(/^@ +IN NS +ns1\.gro\.at\.$/);
    expect(lines[6]).toMatch(/^@ +IN NS +ns2\.example\.net\.$/);
    expect(zone).toMatch(/^ns1 +3600 IN A +127\.0\.0\.53$/m);
    expect(zone.endsWith("\n")).toBe(true);
    expect(zone).not.toMatch(/ $/m);
  });

  test("every record of the record set appears once, owner names relative to the origin", () => {
    const body = lines.filter((l) => l !== "" && !l.startsWith(";") && !l.startsWith("$"));
    const expected = records.flatMap((r) =>
      recordRdata(r).map((rd) => [
        r.name === "gro.at" ? "@" : r.name.slice(0, -".gro.at".length),
        String(r.ttl),
        "IN",
        r.type,
        rd,
      ]),
    );
    const parsed = body.slice(3, -1).map((l) => {
      const m = /^(\S+) +(\d+) IN (\S+) +(.*)$/.exec(l)!;
      return [m[1], m[2], "IN", m[3], m[4]];
    });
    // glue (ns1) is the last line
    expect(body[body.length - 1]).toMatch(/^ns1 /);
    expect(parsed).toEqual(expected);
  });

  test("DKIM is written as two quoted strings on one line", () => {
    const line = lines.find((l) => l.startsWith("grommunio._domainkey "))!;
    const strings = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]!.length);
    expect(strings).toEqual([255, 155]);
  });

  test("each record set is preceded by a comment saying what it is for", () => {
    const i = lines.findIndex((l) => l.startsWith("_dmarc "));
    expect(lines[i - 1]).toBe("; DMARC policy");
  });

  test("deterministic: input order does not matter", () => {
    expect(renderZoneFile("gro.at", [...records].reverse(), NS)).toBe(zone);
  });

  test("SOA options", () => {
    const z = renderZoneFile("gro.at", records, {
      nameServers: ["ns.example.net"],
      hostmaster: "dns.admin@gro.at",
      serial: 2025061401,
      refresh: 1,
      retry: 2,
      expire: 3,
      negativeTtl: 4,
      ttl: 5,
    });
    expect(z).toMatch(/^@ +IN SOA +ns\.example\.net\. dns\\\.admin\.gro\.at\. 2025061401 1 2 3 4$/m);
    expect(z).toMatch(/^\$TTL 5$/m);
  });

  test("records of other zones are refused; recordsInZone picks the zone's", () => {
    const withExternal = mailDnsRecords(
      documentedTopology(),
      DOCUMENTED_ENTRY,
      documentedDnsOptions({ dmarc: { rua: "r@reports.example.net" } }),
    );
    expect(() => renderZoneFile("gro.at", withExternal, NS)).toThrow(/GRX444/);
    expect(recordsInZone(withExternal, "reports.example.net").map((r) => r.name)).toEqual([
      "gro.at._report._dmarc.reports.example.net",
    ]);
    expect(() => renderZoneFile("gro.at", recordsInZone(withExternal, "gro.at"), NS)).not.toThrow();
  });

  const errors: [string, string, Partial<ZoneFileOptions>, DnsRecord[]?][] = [
    ["GRX442", "serial above 2^32-1", { serial: 4294967296 }],
    ["GRX442", "zero refresh", { refresh: 0 }],
    ["GRX442", "hostmaster not a mail address", { hostmaster: "hostmaster.gro.at" }],
    ["GRX443", "no name server", { nameServers: [] }],
    ["GRX443", "a name server given as an address", { nameServers: ["192.0.2.53"] }],
    ["GRX443", "an in-zone name server without glue", { nameServers: ["ns1.gro.at"] }],
    ["GRX443", "a glue address of the wrong family", { nameServers: [{ name: "ns1.gro.at", ipv4: ["2001:db8::53"] }] }],
    ["GRX444", "a record outside the zone", {}, [txt("x.example.net", "a")]],
    ["GRX445", "a TXT token without a splitter", {}, [txt("t.gro.at", "${TfToken[TOKEN.7]}")]],
    [
      "GRX441",
      "a CNAME beside other data",
      {},
      [
        txt("c.gro.at", "a"),
        { zone: "gro.at", name: "c.gro.at", type: "CNAME", ttl: 1, values: [{ target: "x.gro.at" }], purpose: "c" },
      ],
    ],
  ];
  test.each(errors)("%s: %s", (code, _what, options, recs = []) => {
    let error: unknown;
    try {
      renderZoneFile("gro.at", recs, { ...NS, ...options });
    } catch (e) {
      error = e;
    }
    expect((error as { issues?: { code: string }[] }).issues?.map((i) => i.code)).toEqual([code]);
  });

  test("a TXT token goes through the splitter the caller supplies", () => {
    const z = renderZoneFile("gro.at", [txt("t.gro.at", "p=${TfToken[TOKEN.7]}")], {
      ...NS,
      unresolvedTxt: (t) => `"<${t}>"`,
    });
    expect(z).toMatch(/^t +300 IN TXT "<p=\$\{TfToken\[TOKEN\.7\]\}>"$/m);
  });
});
