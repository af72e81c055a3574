import fc from "fast-check";
import { GrommunioValidationError } from "../../lib/topology";
import { isBlankOrControl } from "../../lib/render/haproxy/mailbox-map";
import {
  mailboxId,
  mailboxMapEntries,
  publicStoreMailboxId,
  renderMailboxMap,
  validateMailboxMap,
} from "../../lib/render/haproxy";

function entriesOf(content: string): string[] {
  return content.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
}

describe("mailboxId (gromox.md §14)", () => {
  test("the two documented examples", () => {
    expect(mailboxId("john.doe@example.com", 5)).toBe("6a6f686e-2e64-6f65-4065-786105000000@example.com");
    expect(publicStoreMailboxId("example.com", 1)).toBe("6578616d-706c-652e-636f-6d0001000000@example.com");
  });

  test("ids are 4 bytes least-significant first; short names are zero-padded; case is kept", () => {
    expect(mailboxId("a@b.c", 0x01020304)).toBe("6140622e-6300-0000-0000-000004030201@b.c");
    expect(mailboxId("John.Doe@example.com", 5)).toBe("4a6f686e-2e44-6f65-4065-786105000000@example.com");
    expect(() => mailboxId("a@b.c", -1)).toThrow(RangeError);
    expect(() => mailboxId("a@b.c", 2 ** 32)).toThrow(RangeError);
  });
});

describe("mailboxId, property", () => {
  // The reference: the first 12 bytes of the UTF-8 name, zero-padded, and the id as 4 bytes
  // least-significant first, in hex through a Buffer (the renderer encodes ASCII names itself).
  function referenceMailboxId(name: string, id: number): string {
    const head = Buffer.alloc(16);
    Buffer.from(name, "utf8").copy(head, 0, 0, 12);
    head.writeUInt32LE(id, 12);
    const h = head.toString("hex");
    const at = name.indexOf("@");
    const domain = at >= 0 ? name.slice(at + 1) : "";
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}@${domain}`;
  }
  const unit = fc.constantFrom("a", "Z", "0", "-", ".", "@", "~", "\u007f", "\u0080", "\u00e4", "\u4e2d", "\u{1f600}");
  const name = fc.array(unit, { maxLength: 16 }).map((u) => u.join(""));
  const id = fc.oneof(fc.constantFrom(0, 1, 255, 256, 0x01020304, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));

  test("user and public-store MailboxIds equal the Buffer-encoded reference", () => {
    fc.assert(
      fc.property(name, id, (n, i) => {
        expect(mailboxId(n, i)).toBe(referenceMailboxId(n, i));
        expect(publicStoreMailboxId(n, i)).toBe(referenceMailboxId(n, i).replace(/@.*$/s, `@${n}`));
      }),
      { numRuns: 500 },
    );
  });
});

describe("renderMailboxMap", () => {
  const rows = [
    {
      id: 5,
      username: "john.doe@example.com",
      aliases: ["JD@example.com", "john@example.org"],
      homeserver: "mail2.gro.at",
    },
    { id: 7, username: "Alice@Example.com", homeserver: "mail1.gro.at" },
    { id: 9, username: "nobody@example.com", aliases: ["nb@example.com"] }, // homeserver 0
    { id: 11, username: "empty@example.com", homeserver: "" },
  ];
  const domains = [
    { id: 1, name: "example.com", homeserver: "mail3.gro.at" },
    { id: 2, name: "example.org" },
  ];

  test("lower-cased keys: usernames, aliases, both MailboxId variants, the public store; sorted", () => {
    const f = renderMailboxMap(rows, domains);
    expect(f.path).toBe("/etc/haproxy/mailbox.map");
    expect(f.content.endsWith("\n")).toBe(true);
    expect(f.content.startsWith("#")).toBe(true);
    const lines = entriesOf(f.content);
    expect(lines).toEqual([...lines].sort());
    expect(lines).toEqual(
      [
        "alice@example.com mail1.gro.at",
        `${mailboxId("Alice@Example.com", 7).toLowerCase()} mail1.gro.at`, // 416c6963-… (stored case)
        `${mailboxId("alice@example.com", 7)} mail1.gro.at`, // 616c6963-… (lower-cased, RPC/HTTP referral)
        "jd@example.com mail2.gro.at",
        "john.doe@example.com mail2.gro.at",
        "john@example.org mail2.gro.at",
        "6a6f686e-2e64-6f65-4065-786105000000@example.com mail2.gro.at",
        "6578616d-706c-652e-636f-6d0001000000@example.com mail3.gro.at",
      ].sort(),
    );
    expect(mailboxId("Alice@Example.com", 7)).not.toBe(mailboxId("alice@example.com", 7));
    for (const l of lines) {
      const [key, value, ...rest] = l.split(" ");
      expect(rest).toEqual([]);
      expect(key).toBe(key!.toLowerCase());
      expect(value).toMatch(/^mail\d\.gro\.at$/);
    }
  });

  test("rows without a homeserver are skipped", () => {
    const content = renderMailboxMap(rows, domains).content;
    for (const gone of ["nobody@", "nb@", "empty@", mailboxId("nobody@example.com", 9)]) {
      expect(content).not.toContain(gone);
    }
    expect(content).not.toContain(publicStoreMailboxId("example.org", 2));
  });

  test("the empty map is a comment line only", () => {
    const content = renderMailboxMap([]).content;
    expect(entriesOf(content)).toEqual([]);
    expect(content.split("\n")).toEqual([expect.stringMatching(/^# /), ""]);
    // Rows and domains without a home node give the same map.
    expect(renderMailboxMap(rows.slice(2), [domains[1]!]).content).toBe(content);
  });

  test("a hole in the rows is skipped: the map then built through the issue path is the same", () => {
    const sparse: Array<(typeof rows)[number]> = [];
    sparse[0] = rows[0]!;
    sparse[2] = rows[1]!;
    const dense = [rows[0]!, rows[1]!];
    expect(renderMailboxMap(sparse, domains).content).toBe(renderMailboxMap(dense, domains).content);
    expect(mailboxMapEntries(sparse, domains)).toEqual(mailboxMapEntries(dense, domains));
    expect(new Set(mailboxMapEntries(sparse, domains).map(([, h]) => h))).toEqual(
      new Set(["mail1.gro.at", "mail2.gro.at", "mail3.gro.at"]),
    );
  });

  test("mailboxMapEntries gives the same pairs for the runtime API", () => {
    const pairs = mailboxMapEntries(rows, domains);
    expect(pairs.map(([k, v]) => `${k} ${v}`)).toEqual(entriesOf(renderMailboxMap(rows, domains).content));
  });

  test("an alias equal to a username of the same home is one entry", () => {
    const lines = entriesOf(
      renderMailboxMap([
        { id: 1, username: "a@x.org", homeserver: "mail1.gro.at" },
        { id: 2, username: "b@x.org", aliases: ["A@x.org"], homeserver: "mail1.gro.at" },
      ]).content,
    );
    expect(lines.filter((l) => l.startsWith("a@x.org "))).toEqual(["a@x.org mail1.gro.at"]);
  });
});

describe("mailbox map order", () => {
  test("lines in the code-unit order of their keys: prefixes, one-character keys, non-ASCII, astral", () => {
    const names = [
      "a",
      "a@x",
      "a!@x",
      "a-b@x",
      "ab@x",
      "b",
      "ä@x",
      "äb@x",
      "z@x",
      "~@x",
      "\u{1f600}@x",
      "\uffef@x",
      "é@x",
      "e@x",
      "a@x.org",
      "a@x.or",
    ];
    const rows = names.map((username, i) => ({
      id: i + 1,
      username,
      homeserver: i % 2 ? "mail1.gro.at" : "mail2.gro.at",
    }));
    const keys = entriesOf(renderMailboxMap(rows).content).map((l) => l.split(" ")[0]!);
    expect(keys).toEqual(mailboxMapEntries(rows).map(([k]) => k));
    expect(keys).toEqual([...keys].sort());
    expect(keys).toHaveLength(names.length * 2);
  });
});

describe("mailbox map order, property", () => {
  // Awkward units: ASCII around the hex digits and "@", Latin-1 and the 0xff/0x100 border,
  // the top of the BMP, an astral character (a surrogate pair); no blank, control or "#".
  const unit = fc.constantFrom(
    "a",
    "b",
    "f",
    "g",
    "0",
    "9",
    "-",
    ".",
    "!",
    "~",
    "@",
    "A",
    "Z",
    "\u00e4",
    "\u00e9",
    "\u00ff",
    "\u0100",
    "\u4e2d",
    "\uff5e",
    "\uffef",
    "\u{1f600}",
    "\u{10ffff}",
  );
  const piece = fc.array(unit, { minLength: 0, maxLength: 4 }).map((u) => u.join(""));
  // Names from a few shared stems: keys that share long prefixes or are prefixes of others.
  const names = fc
    .tuple(fc.array(piece, { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(fc.nat(), piece), { maxLength: 40 }))
    .map(([stems, tails]) => tails.map(([i, t]) => stems[i % stems.length]! + t).filter((n) => n !== ""));

  test("lines are [...lines].sort() of the keys, each with its own home node", () => {
    fc.assert(
      fc.property(names, fc.array(fc.nat(), { maxLength: 40 }), (users, aliasOf) => {
        const homes = ["mail1.gro.at", "mail2.gro.at", "m.gro.at"];
        const rows = users.map((username, i) => ({
          id: i + 1,
          username,
          homeserver: homes[i % homes.length]!,
          // An alias is another user's name with a suffix, or the name itself (one key twice: the
          // same home node is one entry, two home nodes are an error and the input is skipped).
          ...(aliasOf[i] !== undefined
            ? { aliases: [users[aliasOf[i] % users.length]! + (aliasOf[i] % 2 ? "\u00e4" : "")] }
            : {}),
        }));
        // The expected map, built independently; inputs with a key on two home nodes are skipped.
        const expected = new Map<string, string>();
        let conflict = false;
        const add = (k: string, home: string) => {
          if (expected.has(k) && expected.get(k) !== home) conflict = true;
          expected.set(k, home);
        };
        for (const r of rows) {
          add(r.username.toLowerCase(), r.homeserver);
          for (const a of r.aliases ?? []) add(a.toLowerCase(), r.homeserver);
          add(mailboxId(r.username, r.id).toLowerCase(), r.homeserver);
          add(mailboxId(r.username.toLowerCase(), r.id), r.homeserver);
        }
        fc.pre(!conflict);
        const lines = entriesOf(renderMailboxMap(rows).content);
        expect(lines).toEqual([...lines].sort());
        expect(lines).toEqual([...expected].map(([k, h]) => `${k} ${h}`).sort());
        expect(mailboxMapEntries(rows).map(([k, h]) => `${k} ${h}`)).toEqual(lines);
      }),
      { numRuns: 300 },
    );
  });

  test("1 to 12 home nodes, keys repeated on one node and on two: the merged map or GRX121", () => {
    const homes = Array.from({ length: 12 }, (_, i) => `mail${i + 1}.gro.at`);
    fc.assert(
      fc.property(
        names,
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.boolean()), { maxLength: 40 }),
        (users, k, picks) => {
          // Row i's home node is picked by picks[i]; an alias repeats another row's name (upper-cased
          // or not): a key that comes again, on the same node or on another.
          const rows = users.map((username, i) => {
            const [h, a, upper] = picks[i] ?? [i, i, false];
            const other = users[a % users.length]!;
            return {
              id: i + 1,
              username,
              homeserver: homes[h % k]!,
              ...(picks[i] ? { aliases: [upper ? other.toUpperCase() : other, other] } : {}),
            };
          });
          const expected = new Map<string, string>();
          let conflict = false;
          const add = (key: string, home: string) => {
            if (expected.has(key) && expected.get(key) !== home) conflict = true;
            expected.set(key, home);
          };
          for (const r of rows) {
            add(r.username.toLowerCase(), r.homeserver);
            for (const a of r.aliases ?? []) add(a.toLowerCase(), r.homeserver);
            add(mailboxId(r.username, r.id).toLowerCase(), r.homeserver);
            add(mailboxId(r.username.toLowerCase(), r.id), r.homeserver);
          }
          if (conflict) {
            const issues = validateMailboxMap(rows);
            expect(issues.length).toBeGreaterThan(0);
            expect(new Set(issues.map((i) => i.code))).toEqual(new Set(["GRX121"]));
            expect(() => renderMailboxMap(rows)).toThrow(GrommunioValidationError);
            expect(() => mailboxMapEntries(rows)).toThrow(GrommunioValidationError);
            return;
          }
          const lines = [...expected].map(([key, h]) => `${key} ${h}`).sort();
          expect(entriesOf(renderMailboxMap(rows, [], { servers: homes }).content)).toEqual(lines);
          expect(mailboxMapEntries(rows).map(([key, h]) => `${key} ${h}`)).toEqual(lines);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a key on two home nodes is GRX121 from renderMailboxMap and mailboxMapEntries too", () => {
    const rows = [
      { id: 1, username: "a@x.org", homeserver: "mail1.gro.at" },
      { id: 2, username: "b@x.org", aliases: ["A@x.org"], homeserver: "mail2.gro.at" },
      { id: 3, username: "c@x.org", aliases: ["c@x.org"], homeserver: "mail2.gro.at" },
    ];
    const expected = validateMailboxMap(rows);
    expect(expected.map((i) => i.code)).toEqual(["GRX121"]);
    for (const f of [() => renderMailboxMap(rows), () => mailboxMapEntries(rows)]) {
      let thrown: unknown;
      try {
        f();
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(GrommunioValidationError);
      expect((thrown as GrommunioValidationError).issues).toEqual(expected);
    }
  });

  test("the key check's blank-or-control test is /[\\s\\p{Cc}]/u on every code point", () => {
    const re = /[\s\p{Cc}]/u;
    const wrong: number[] = [];
    for (let c = 0; c <= 0xffff; c++) if (isBlankOrControl(c) !== re.test(String.fromCharCode(c))) wrong.push(c);
    // No astral code point is one (keys are checked unit by unit: surrogates are not either).
    for (let c = 0x10000; c <= 0x10ffff; c++) if (re.test(String.fromCodePoint(c))) wrong.push(c);
    expect(wrong).toEqual([]);
  });

  test("a blank or control anywhere in a key is refused (GRX120), the first unit and the last", () => {
    for (const bad of [
      "\u0000",
      "\t",
      " ",
      "\u007f",
      "\u0085",
      "\u00a0",
      "\u1680",
      "\u2007",
      "\u2028",
      "\u3000",
      "\ufeff",
    ]) {
      for (const username of [bad + "a@x.org", "a@x.org" + bad]) {
        const codes = validateMailboxMap([{ id: 1, username, homeserver: "mail1.gro.at" }]).map((i) => i.code);
        expect(codes.length).toBeGreaterThan(0);
        expect(new Set(codes)).toEqual(new Set(["GRX120"]));
      }
    }
  });
});

describe("mailbox map errors (GRX120–GRX124), all collected", () => {
  test("bad keys, conflicts, non-host values, unknown servers, bad ids", () => {
    const issues = validateMailboxMap(
      [
        { id: 1, username: "with space@x.org", homeserver: "mail1.gro.at" },
        { id: 2, username: "a@x.org", homeserver: "mail1.gro.at" },
        { id: 3, username: "b@x.org", aliases: ["a@x.org"], homeserver: "mail2.gro.at" },
        { id: 4, username: "c@x.org", homeserver: "gromox01" },
        { id: 5, username: "d@x.org", homeserver: "mail9.gro.at" },
        { id: -1, username: "e@x.org", homeserver: "mail1.gro.at" },
        { id: 6, username: "#f@x.org", homeserver: "mail1.gro.at" },
      ],
      [],
      { servers: ["mail1.gro.at", "mail2.gro.at"] },
    );
    expect(issues.map((i) => `${i.code} ${i.field}`)).toEqual([
      "GRX120 users[0].username",
      "GRX121 users[2].aliases[0]",
      "GRX122 users[3].homeserver",
      "GRX123 users[4].homeserver",
      "GRX124 users[5].id",
      "GRX120 users[6].username",
    ]);
    expect(issues[1]!.message).toContain('"a@x.org" maps to "mail1.gro.at"');
    expect(issues[3]!.fix).toContain("mail1.gro.at, mail2.gro.at");
  });

  test("control characters in a key are refused (GRX120), not only blanks", () => {
    const issues = validateMailboxMap(
      [
        { id: 1, username: "a\u0001b@x.org", homeserver: "mail1.gro.at" },
        { id: 2, username: "c@x.org", aliases: ["d\u001f@x.org", "e\u007f@x.org"], homeserver: "mail1.gro.at" },
      ],
      [],
      { servers: ["mail1.gro.at"] },
    );
    expect(issues.map((i) => `${i.code} ${i.field}`)).toEqual([
      "GRX120 users[0].username",
      "GRX120 users[1].aliases[0]",
      "GRX120 users[1].aliases[1]",
    ]);
  });

  test("renderMailboxMap throws them as one GrommunioValidationError", () => {
    let err: unknown;
    try {
      renderMailboxMap([], [{ id: 1.5, name: "x.org", homeserver: "mail1.gro.at" }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GrommunioValidationError);
    expect((err as GrommunioValidationError).codes).toEqual(["GRX124"]);
  });
});
