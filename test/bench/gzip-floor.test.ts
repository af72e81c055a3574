import { gzipSync } from "node:zlib";
import { Testing } from "cdktf";
import { gzipReplay, outputGzipMembers, replayGzip } from "../../bench/gzip-floor";
import type { Json } from "../../bench/bare";
import { gzipDeterministic, gzipPaddedToThree } from "../../lib/provision/tokens";
import { documentedStack } from "../../bench/layouts";
import { GrommunioCluster } from "../../lib";

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");

describe("outputGzipMembers: the gzip a synth's output holds", () => {
  it("finds whole members, padded heads before a Terraform expression and members inside members, once each", () => {
    const script = "#!/bin/sh\necho one script in every node\n".repeat(20);
    const inner = "a file gzipped inside the document\n".repeat(30);
    const head = `#cloud-config\nwrite_files:\n- path: /etc/x\n  encoding: gz+b64\n  content: ${b64(gzipDeterministic(inner))}\n`;
    const padded = gzipPaddedToThree(head);
    expect(padded.length % 3).toBe(0);
    const synthesized: Json = {
      resource: {
        hcloud_server: {
          a: { user_data: b64(gzipDeterministic(script)) },
          b: { user_data: b64(gzipDeterministic(script)) },
          c: { user_data: `${b64(padded)}\${base64gzip(join("", ["x", random_password.p.result]))}` },
        },
      },
    };
    const members = outputGzipMembers(synthesized);
    const texts = members.map((m) => Buffer.from(m.text, "base64").toString("utf8"));
    expect(texts.sort()).toEqual([head, inner, script].sort());
    const byText = new Map(members.map((m) => [Buffer.from(m.text, "base64").toString("utf8"), m]));
    expect(byText.get(head)!.padded).toBe(true);
    expect(byText.get(script)!.padded).toBe(false);
    expect(byText.get(inner)!.where).toBe("$.resource.hcloud_server.c.user_data > member");
    // The replay makes exactly the members' bytes.
    expect(replayGzip(gzipReplay(members))).toBe(members.reduce((a, m) => a + m.gzipBytes, 0));
    expect(members.reduce((a, m) => a + m.gzipBytes, 0)).toBe(
      gzipDeterministic(script).length + padded.length + gzipDeterministic(inner).length,
    );
  });

  it("refuses a member the library's gzip does not reproduce, naming where it is", () => {
    const foreign = gzipSync(Buffer.from("compressed by someone else\n".repeat(10)), { level: 1 });
    expect(() => outputGzipMembers({ locals: { x: ["text", b64(foreign)] } })).toThrow(
      /\$\.locals\.x\[1\]: a gzip member .* neither gzipDeterministic nor gzipPaddedToThree reproduces/,
    );
  });

  it("refuses a gzip-looking base64 run that does not decompress", () => {
    expect(() => outputGzipMembers({ user_data: "H4sIAAAAAAAAA" })).toThrow(/\$\.user_data: .* does not decompress/);
  });

  it("finds nothing in output without gzip", () => {
    expect(
      outputGzipMembers({ resource: { x: { y: { user_data: "#cloud-config\n", n: 3, b: true, z: null } } } }),
    ).toEqual([]);
  });

  it("on the documented Hetzner layout: each whole-gzipped node's document head, and the files gzipped inside text-form nodes", () => {
    const stack = documentedStack(Testing.app(), "hcloud");
    const synthesized = JSON.parse(Testing.synth(stack)) as {
      resource: { hcloud_server: Record<string, { name: string; user_data: string }> };
    };
    const members = outputGzipMembers(synthesized);
    const cluster = stack.node.findAll().find((c): c is GrommunioCluster => c instanceof GrommunioCluster)!;
    const reports = [...cluster.userDataReports.values()];
    const gzipped = new Set(reports.filter((r) => r.encoding === "gzip-base64").map((r) => r.node));
    expect(gzipped.size).toBeGreaterThan(0);
    expect(gzipped.size).toBeLessThan(reports.length);
    const made = new Set(
      members.map((m) => {
        const text = Buffer.from(m.text, "base64");
        return b64(m.padded ? gzipPaddedToThree(text) : gzipDeterministic(text));
      }),
    );
    const servers = Object.values(synthesized.resource.hcloud_server);
    expect(servers.length).toBe(reports.length);
    for (const server of servers) {
      // The server's name is the node's FQDN.
      const node = server.name.split(".")[0]!;
      expect(reports.map((r) => r.node)).toContain(node);
      const head = /^[A-Za-z0-9+/]*/.exec(server.user_data)![0];
      if (gzipped.has(node)) {
        // Two members: the library's head (found; padded to whole base64 quanta), then Terraform's.
        expect(made.has(head)).toBe(true);
        expect(head.length % 4).toBe(0);
        expect(head).not.toMatch(/=$/);
        expect(server.user_data.slice(head.length)).toMatch(/^\$\{base64gzip\(/);
      } else {
        // Text form: the per-file form's gzipped files are members too.
        expect(server.user_data.startsWith("#cloud-config")).toBe(true);
        const inside = [...server.user_data.matchAll(/content: (H4sI[A-Za-z0-9+/]*=*)/g)].map((x) => x[1]!);
        expect(inside.length).toBeGreaterThan(0);
        for (const c of inside) expect(made.has(c)).toBe(true);
      }
    }
  });
});
