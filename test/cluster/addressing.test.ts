import "cdktf/lib/testing/adapters/jest";
import fc from "fast-check";
import { ADDRESS_BLOCKS, deriveAddress, nameNumber } from "../../lib/cluster/addressing";
import { NODE_ROLES, parseIpv4 } from "../../lib";

describe("name-derived addresses", () => {
  test("the number at the end of the name, leading zeros ignored", () => {
    expect(nameNumber("mail1")).toBe(1);
    expect(nameNumber("mail01")).toBe(1);
    expect(nameNumber("classic-12")).toBe(12);
    expect(nameNumber("mail")).toBeUndefined();
    expect(nameNumber("1mail")).toBeUndefined();
  });

  test("documented offsets in a /24", () => {
    const at = (block: (typeof NODE_ROLES)[number], name: string) => deriveAddress("10.10.10.0/24", block, name, "p");
    expect(at("database", "db1")).toEqual({ ipv4: "10.10.10.5" });
    expect(at("load-balancer", "lb2")).toEqual({ ipv4: "10.10.10.12" });
    expect(at("mailbox", "mail12")).toEqual({ ipv4: "10.10.10.32" });
    expect(at("mailbox", "mail99")).toEqual({ ipv4: "10.10.10.119" });
    expect(at("classic", "classic1")).toEqual({ ipv4: "10.10.10.121" });
    expect(at("admin", "admin1")).toEqual({ ipv4: "10.10.10.171" });
    expect(at("nfs", "nfs1")).toEqual({ ipv4: "10.10.10.191" });
  });

  test("a larger network scales every block", () => {
    expect(deriveAddress("10.20.0.0/23", "mailbox", "mail1", "p")).toEqual({ ipv4: "10.20.0.41" });
    expect(deriveAddress("10.20.0.0/23", "mailbox", "mail150", "p")).toEqual({ ipv4: "10.20.0.190" });
    expect(deriveAddress("10.20.0.0/16", "classic", "classic3", "p")).toEqual({ ipv4: "10.20.120.3" });
  });

  test("GRX201/GRX202/GRX203", () => {
    expect(deriveAddress("10.10.10.0/24", "mailbox", "mail", "c/mail")).toMatchObject({
      issue: { code: "GRX201", path: "c/mail", field: "privateIp" },
    });
    expect(deriveAddress("10.10.10.0/24", "mailbox", "mail100", "c/mail100")).toMatchObject({
      issue: { code: "GRX202", field: "name" },
    });
    expect(deriveAddress("10.10.10.0/26", "mailbox", "mail1", "c/mail1")).toMatchObject({ issue: { code: "GRX203" } });
  });

  test("blocks never overlap, never touch the reserved low four or the broadcast address", () => {
    const ranges = Object.values(ADDRESS_BLOCKS)
      .map((b) => [b.start, b.start + b.size - 1] as const)
      .sort((a, b) => a[0] - b[0]);
    expect(ranges[0]![0]).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThan(ranges[i - 1]![1]);
    expect(ranges[ranges.length - 1]![1]).toBeLessThan(255);
  });

  test("property: distinct (block, number) pairs never share an address; each stays in its block", () => {
    const blocks = Object.keys(ADDRESS_BLOCKS) as (keyof typeof ADDRESS_BLOCKS)[];
    fc.assert(
      fc.property(
        fc.constantFrom(...blocks),
        fc.constantFrom(...blocks),
        fc.nat(99),
        fc.nat(99),
        fc.constantFrom(22, 23, 24),
        (b1, b2, n1, n2, prefix) => {
          const cidr = `10.40.0.0/${prefix}`;
          const a = deriveAddress(cidr, b1, `x${n1}`, "p");
          const b = deriveAddress(cidr, b2, `y${n2}`, "p");
          if (!("ipv4" in a) || !("ipv4" in b)) return true;
          const unit = 2 ** (24 - prefix);
          const off = parseIpv4(a.ipv4)! - parseIpv4("10.40.0.0")!;
          expect(off).toBeGreaterThanOrEqual(ADDRESS_BLOCKS[b1].start * unit);
          expect(off).toBeLessThan((ADDRESS_BLOCKS[b1].start + ADDRESS_BLOCKS[b1].size) * unit);
          if (b1 !== b2 || n1 !== n2) expect(a.ipv4).not.toBe(b.ipv4);
          return true;
        },
      ),
    );
  });
});
