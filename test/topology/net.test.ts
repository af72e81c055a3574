/**
 * Address arithmetic and name checks (lib/topology/net.ts).
 */
import fc from "fast-check";
import { isIPv6 } from "node:net";
import {
  canonicalIpv6,
  cidrContains,
  formatIpv4,
  ipv4CidrCover,
  ipv4MappedAsIpv4,
  isCidrOrAddress,
  isDnsLabel,
  isFqdn,
  isWorld,
  mappedIpv6,
  parseIpv4,
  parseIpv4Cidr,
} from "../../lib/topology";

const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const octet = fc.integer({ min: 0, max: 255 });

describe("parseIpv4 / formatIpv4", () => {
  it.each([
    ["0.0.0.0", 0],
    ["10.10.10.20", 0x0a0a0a14],
    ["192.168.1.1", 0xc0a80101],
    ["255.255.255.255", 2 ** 32 - 1],
  ])("parses %s", (text, n) => {
    expect(parseIpv4(text)).toBe(n);
    expect(formatIpv4(n)).toBe(text);
  });

  it.each([
    ["leading zero", "10.10.10.020"],
    ["leading zero in the first part", "010.10.10.20"],
    ["double zero", "10.00.10.20"],
    ["part above 255", "10.10.10.256"],
    ["part far above 255", "10.10.1000.1"],
    ["three parts", "10.10.10"],
    ["five parts", "10.10.10.10.10"],
    ["empty part", "10..10.10"],
    ["trailing dot", "10.10.10.10."],
    ["sign", "+10.10.10.10"],
    ["negative part", "10.10.-1.10"],
    ["hex part", "0x0a.10.10.10"],
    ["space", "10.10.10.10 "],
    ["IPv6", "::1"],
    ["empty", ""],
    ["name", "mail1.gro.at"],
  ])("rejects %s: %s", (_, text) => {
    expect(parseIpv4(text)).toBeUndefined();
  });

  it("formatIpv4(parseIpv4(x)) round-trips every dotted quad", () => {
    fc.assert(
      fc.property(octet, octet, octet, octet, (a, b, c, d) => {
        const text = `${a}.${b}.${c}.${d}`;
        const n = parseIpv4(text);
        expect(n).toBe(((a * 256 + b) * 256 + c) * 256 + d);
        expect(formatIpv4(n!)).toBe(text);
      }),
    );
  });

  it("parseIpv4(formatIpv4(n)) === n for every 32-bit number", () => {
    fc.assert(fc.property(u32, (n) => expect(parseIpv4(formatIpv4(n))).toBe(n)));
  });

  it("agrees with fast-check's IPv4 generator", () => {
    fc.assert(fc.property(fc.ipV4(), (text) => expect(formatIpv4(parseIpv4(text)!)).toBe(text)));
  });

  it("mappedIpv6 gives the form gromox allow lists compare", () => {
    expect(mappedIpv6("10.10.10.20")).toBe("::ffff:10.10.10.20");
    fc.assert(
      fc.property(u32, (n) => {
        const m = mappedIpv6(formatIpv4(n));
        expect(canonicalIpv6(m)).toBe(m);
      }),
    );
  });
});

describe("ipv4CidrCover", () => {
  it("consecutive addresses as the largest aligned blocks, lone ones as /32, sorted, duplicates once", () => {
    // 250 mailbox nodes numbered from .1 (bench's scaled layout): 13 blocks
    const mailbox = Array.from({ length: 250 }, (_, k) => `10.16.10.${k + 1}`);
    expect(ipv4CidrCover(mailbox)).toEqual([
      "10.16.10.1/32",
      "10.16.10.2/31",
      "10.16.10.4/30",
      "10.16.10.8/29",
      "10.16.10.16/28",
      "10.16.10.32/27",
      "10.16.10.64/26",
      "10.16.10.128/26",
      "10.16.10.192/27",
      "10.16.10.224/28",
      "10.16.10.240/29",
      "10.16.10.248/31",
      "10.16.10.250/32",
    ]);
    expect(ipv4CidrCover(["10.20.0.16", "10.20.0.13", "10.20.0.11", "10.20.0.12", "10.20.0.14", "10.20.0.12"])).toEqual(
      ["10.20.0.11/32", "10.20.0.12/31", "10.20.0.14/32", "10.20.0.16/32"],
    );
    // across an octet boundary; the whole space
    expect(ipv4CidrCover(["10.0.0.255", "10.0.1.0"])).toEqual(["10.0.0.255/32", "10.0.1.0/32"]);
    expect(ipv4CidrCover(["10.0.1.0", "10.0.1.1", "10.0.0.254", "10.0.0.255"])).toEqual([
      "10.0.0.254/31",
      "10.0.1.0/31",
    ]);
    expect(ipv4CidrCover([])).toEqual([]);
    expect(() => ipv4CidrCover(["10.0.0.256"])).toThrow(/not an IPv4 address/);
  });

  it("holds exactly the given addresses, in blocks no two of which could merge", () => {
    const addresses = fc.uniqueArray(fc.integer({ min: 0x0a000000, max: 0x0a0001ff }), { maxLength: 300 });
    fc.assert(
      fc.property(addresses, (values) => {
        const blocks = ipv4CidrCover(values.map(formatIpv4)).map((b) => parseIpv4Cidr(b)!);
        const held = blocks.flatMap((b) => Array.from({ length: b.size }, (_, k) => b.network + k));
        expect(held).toEqual([...values].sort((a, b) => a - b));
        for (let i = 1; i < blocks.length; i++) {
          const [a, b] = [blocks[i - 1]!, blocks[i]!];
          const mergeable = a.size === b.size && a.network + a.size === b.network && a.network % (2 * a.size) === 0;
          expect(mergeable).toBe(false);
        }
      }),
    );
  });
});

describe("parseIpv4Cidr", () => {
  it("parses a network", () => {
    expect(parseIpv4Cidr("10.10.10.0/24")).toEqual({
      text: "10.10.10.0/24",
      network: 0x0a0a0a00,
      prefix: 24,
      size: 256,
    });
    expect(parseIpv4Cidr("0.0.0.0/0")).toMatchObject({ network: 0, prefix: 0, size: 2 ** 32 });
    expect(parseIpv4Cidr("10.10.10.20/32")).toMatchObject({ network: 0x0a0a0a14, prefix: 32, size: 1 });
    expect(parseIpv4Cidr("10.20.0.0/16")).toMatchObject({ prefix: 16, size: 65536 });
  });

  it.each([
    ["host bits set", "10.10.10.1/24"],
    ["host bits set in a /16", "10.10.1.0/16"],
    ["host bits set in /0", "10.0.0.0/0"],
    ["prefix above 32", "10.10.10.0/33"],
    ["three-digit prefix", "10.10.10.0/024"],
    ["no prefix", "10.10.10.0"],
    ["empty prefix", "10.10.10.0/"],
    ["bad address", "10.10.10.256/24"],
    ["leading zero", "10.10.010.0/24"],
    ["two slashes", "10.10.10.0/24/24"],
    ["IPv6", "2001:db8::/32"],
  ])("rejects %s: %s", (_, text) => {
    expect(parseIpv4Cidr(text)).toBeUndefined();
  });

  it("accepts exactly the addresses with no host bits set", () => {
    fc.assert(
      fc.property(u32, fc.integer({ min: 0, max: 32 }), (addr, prefix) => {
        const size = 2 ** (32 - prefix);
        const cidr = parseIpv4Cidr(`${formatIpv4(addr)}/${prefix}`);
        if (addr % size === 0) expect(cidr).toMatchObject({ network: addr, prefix, size });
        else expect(cidr).toBeUndefined();
      }),
    );
  });

  it("cidrContains matches the network's address range", () => {
    fc.assert(
      fc.property(u32, fc.integer({ min: 0, max: 32 }), u32, (addr, prefix, probe) => {
        const size = 2 ** (32 - prefix);
        const network = addr - (addr % size);
        const cidr = parseIpv4Cidr(`${formatIpv4(network)}/${prefix}`)!;
        expect(cidrContains(cidr, network)).toBe(true);
        expect(cidrContains(cidr, network + size - 1)).toBe(true);
        const inside = Math.floor(probe / size) === network / size;
        expect(cidrContains(cidr, probe)).toBe(inside);
      }),
    );
  });
});

describe("canonicalIpv6", () => {
  it.each([
    // RFC 5952 §4.1: leading zeros suppressed
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    // §4.2.1: the longest run of zero groups is compressed
    ["2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"],
    // §4.2.2: a single zero group is not compressed
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    // §4.2.3: of equal runs, the first is compressed
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["1:0:0:2:0:0:3:4", "1::2:0:0:3:4"],
    // §4.3: lower case
    ["2001:DB8::ABCD", "2001:db8::abcd"],
    ["FE80::1", "fe80::1"],
    ["::", "::"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["::1", "::1"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["1::", "1::"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
    // §5: IPv4-mapped addresses keep the dotted quad, as inet_ntop prints them
    ["::ffff:10.10.10.20", "::ffff:10.10.10.20"],
    ["::FFFF:10.10.10.20", "::ffff:10.10.10.20"],
    ["0:0:0:0:0:ffff:10.10.10.20", "::ffff:10.10.10.20"],
    ["::ffff:a0a:a14", "::ffff:10.10.10.20"],
    ["0000:0000:0000:0000:0000:FFFF:0A0A:0A14", "::ffff:10.10.10.20"],
    ["::ffff:0.0.0.0", "::ffff:0.0.0.0"],
    // embedded IPv4 in other addresses is just two groups
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
    ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"],
  ])("%s -> %s", (text, canonical) => {
    expect(canonicalIpv6(text)).toBe(canonical);
  });

  it.each([
    ["empty", ""],
    ["IPv4", "10.10.10.20"],
    ["two ::", "1::2::3"],
    [":::", ":::"],
    ["leading single colon", ":1:2:3:4:5:6:7"],
    ["trailing single colon", "1:2:3:4:5:6:7:"],
    ["nine groups", "1:2:3:4:5:6:7:8:9"],
    ["seven groups", "1:2:3:4:5:6:7"],
    [":: with eight groups", "1:2:3:4::5:6:7:8"],
    ["five hex digits", "2001:db8::12345"],
    ["not hex", "2001:db8::g"],
    ["zone id", "fe80::1%eth0"],
    ["prefix", "2001:db8::/32"],
    ["brackets", "[::1]"],
    ["IPv4 with a leading zero", "::ffff:10.10.10.020"],
    ["IPv4 part above 255", "::ffff:10.10.10.256"],
    ["IPv4 not at the end", "::1.2.3.4:1"],
    ["too many groups with IPv4", "1:2:3:4:5:6:7:1.2.3.4"],
    ["IPv4 alone after a colon", ":1.2.3.4"],
    ["space", " ::1"],
    ["too long", "0000:0000:0000:0000:0000:0000:0000:0000:0000"],
  ])("rejects %s: %s", (_, text) => {
    expect(canonicalIpv6(text)).toBeUndefined();
  });

  // Random textual forms of a random address: mixed case, leading zeros, any valid `::`.
  const groups = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 });
  const spelled = groups.chain((g) =>
    fc
      .record({
        upper: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        pad: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        cut: fc.option(
          fc
            .integer({ min: 0, max: 8 })
            .chain((start) => fc.integer({ min: start, max: 8 }).map((end) => [start, end] as const)),
        ),
      })
      .map(({ upper, pad, cut }) => {
        const text = g.map((v, i) => {
          const h = pad[i] ? v.toString(16).padStart(4, "0") : v.toString(16);
          return upper[i] ? h.toUpperCase() : h;
        });
        let out = text.join(":");
        // `::` may stand for one or more zero groups
        if (cut) {
          const [start, end] = cut;
          if (end > start && g.slice(start, end).every((v) => v === 0)) {
            out = `${text.slice(0, start).join(":")}::${text.slice(end).join(":")}`;
          }
        }
        return { groups: g, text: out };
      }),
  );

  it("accepts every spelling and gives one canonical text per address", () => {
    fc.assert(
      fc.property(spelled, ({ groups: g, text }) => {
        const canonical = canonicalIpv6(text);
        expect(canonical).toBeDefined();
        expect(canonical).toBe(canonicalIpv6(g.map((v) => v.toString(16)).join(":")));
        expect(canonical).toBe(canonical!.toLowerCase());
      }),
    );
  });

  it("is idempotent", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          spelled.map((s) => s.text),
          fc.ipV6(),
        ),
        (text) => {
          const once = canonicalIpv6(text);
          expect(once).toBeDefined();
          expect(canonicalIpv6(once!)).toBe(once);
        },
      ),
    );
  });

  it("agrees with WHATWG URL serialisation (RFC 5952) except for the mapped form", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          spelled.map((s) => s.text),
          fc.ipV6(),
        ),
        (text) => {
          const canonical = canonicalIpv6(text)!;
          const whatwg = new URL(`http://[${text}]/`).hostname.slice(1, -1);
          if (canonical.startsWith("::ffff:") && canonical.includes(".")) {
            expect(canonicalIpv6(whatwg)).toBe(canonical);
          } else {
            expect(canonical).toBe(whatwg);
          }
        },
      ),
    );
  });

  it("accepts what node:net accepts, for strings made of IPv6 characters", () => {
    const chars = fc.constantFrom(..."0123456789abcdefABCDEF:.".split(""));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: chars, maxLength: 40 }), fc.ipV6()), (text) => {
        expect(canonicalIpv6(text) !== undefined).toBe(isIPv6(text));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("isDnsLabel", () => {
  it.each(["a", "mail1", "classic-01", "0", "1a", "a".repeat(63)])("accepts %s", (s) =>
    expect(isDnsLabel(s)).toBe(true),
  );
  it.each([
    ["empty", ""],
    ["upper case", "Mail1"],
    ["leading hyphen", "-mail"],
    ["trailing hyphen", "mail-"],
    ["underscore", "mail_1"],
    ["dot", "mail.1"],
    ["64 characters", "a".repeat(64)],
    ["space", "mail 1"],
    ["non-ASCII", "mäil"],
  ])("rejects %s", (_, s) => expect(isDnsLabel(s)).toBe(false));
});

describe("isFqdn", () => {
  it.each(["gro.at", "mail1.gro.at", "mail1.int.example.com", "a.b", "xn--mil-5ka.example", "1.example.com"])(
    "accepts %s",
    (s) => expect(isFqdn(s)).toBe(true),
  );
  it.each([
    ["single label", "localhost"],
    ["empty", ""],
    ["trailing dot", "gro.at."],
    ["leading dot", ".gro.at"],
    ["empty label", "mail1..gro.at"],
    ["upper case", "Mail1.gro.at"],
    ["IPv4 address", "10.10.10.20"],
    ["numeric top-level label", "mail.123"],
    ["underscore", "_dmarc.gro.at"],
    ["label of 64", `${"a".repeat(64)}.at`],
    ["space", "mail 1.gro.at"],
  ])("rejects %s", (_, s) => expect(isFqdn(s)).toBe(false));

  it("limits the name to 253 characters", () => {
    const label = "a".repeat(63);
    const name253 = [label, label, label, "a".repeat(61)].join(".");
    expect(name253).toHaveLength(253);
    expect(isFqdn(name253)).toBe(true);
    expect(isFqdn(`a${name253}`)).toBe(false);
  });

  it("accepts every name built from valid labels with a non-numeric last label", () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
    fc.assert(
      fc.property(
        fc.array(label, { minLength: 1, maxLength: 5 }),
        fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/),
        (ls, tld) => {
          expect(isFqdn([...ls, tld].join("."))).toBe(true);
        },
      ),
    );
  });
});

describe("ipv4MappedAsIpv4", () => {
  test.each([
    ["::ffff:203.0.113.0/120", "203.0.113.0/24"],
    ["::ffff:198.51.100.7", "198.51.100.7"],
    ["::FFFF:c633:6407/128", "198.51.100.7/32"],
    ["0:0:0:0:0:ffff:10.0.0.0/104", "10.0.0.0/8"],
    ["::ffff:0.0.0.0/96", "0.0.0.0/0"],
  ])("%s is %s", (text, v4) => {
    expect(ipv4MappedAsIpv4(text)).toBe(v4);
  });

  test.each([
    "::ffff:0.0.0.0/95", // reaches beyond the mapped range
    "::1",
    "::/0",
    "64:ff9b::1.2.3.4", // NAT64, not mapped
    "::1.2.3.4", // IPv4-compatible, not mapped
    "2001:db8::/48",
    "203.0.113.0/24",
    "::ffff:1.2.3.4/129",
    "office",
  ])("%s is not an IPv4-mapped address or network", (text) => {
    expect(ipv4MappedAsIpv4(text)).toBeUndefined();
  });
});

describe("isCidrOrAddress", () => {
  it.each([
    "203.0.113.0/24",
    "203.0.113.7",
    "203.0.113.7/32",
    "0.0.0.0/0",
    "2001:db8::/32",
    "2001:db8::1",
    "2001:db8::1/128",
    "::/0",
    "::ffff:10.10.10.20/128",
  ])("accepts %s", (s) => expect(isCidrOrAddress(s)).toBe(true));
  it.each([
    ["empty", ""],
    ["name", "admin.example.com"],
    ["word", "everyone"],
    ["IPv4 prefix above 32", "203.0.113.0/33"],
    ["IPv6 prefix above 128", "2001:db8::/129"],
    ["empty prefix", "203.0.113.0/"],
    ["negative prefix", "203.0.113.0/-1"],
    ["two slashes", "203.0.113.0/24/24"],
    ["bad IPv4", "203.0.113.256/24"],
    ["bad IPv6", "2001:db8::g/64"],
    ["range", "203.0.113.1-203.0.113.9"],
    ["space", "203.0.113.0 /24"],
  ])("rejects %s: %s", (_, s) => expect(isCidrOrAddress(s)).toBe(false));

  it("accepts every IPv4 address with every prefix 0–32 and none above", () => {
    fc.assert(
      fc.property(u32, fc.integer({ min: 0, max: 99 }), (n, p) => {
        expect(isCidrOrAddress(`${formatIpv4(n)}/${p}`)).toBe(p <= 32);
      }),
    );
  });
});

describe("isWorld", () => {
  it.each(["0.0.0.0/0", "::/0", "0:0:0:0:0:0:0:0/0", "0::0/0"])("%s is the whole internet", (s) =>
    expect(isWorld(s)).toBe(true),
  );
  // A /0 covers every address whatever the address part says (HAProxy, nginx and every firewall
  // mask the address), and a zero prefix may be spelled with a leading zero.
  it.each(["10.0.0.0/0", "203.0.113.7/0", "2001:db8::/0", "::1/0", "0.0.0.0/00"])("%s is the whole internet too", (s) =>
    expect(isWorld(s)).toBe(true),
  );
  it.each(["0.0.0.0/1", "0.0.0.0", "::", "::/1", "128.0.0.0/1", "203.0.113.0/24", "garbage/0", "/0", "0.0.0.0/0/0"])(
    "%s is not",
    (s) => expect(isWorld(s)).toBe(false),
  );
  it("every accepted CIDR with prefix 0 is the world; no other is", () => {
    fc.assert(
      fc.property(fc.oneof(u32.map(formatIpv4), fc.ipV6()), fc.integer({ min: 0, max: 32 }), (addr, p) => {
        const cidr = `${addr}/${p}`;
        expect(isWorld(cidr)).toBe(isCidrOrAddress(cidr) && p === 0);
      }),
    );
  });
});
