import "cdktf/lib/testing/adapters/jest";
import * as fs from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { checkUserData, requireCloudInit } from "./cloud-init";
import { run, scratchDir } from "./support";

const HAPROXY_CFG = "global\n  log stdout format raw local0\ndefaults\n  mode tcp\n";

/** A document like the ones the provisioning layer emits: packages, gz+b64 and plain files. */
function goodDocument(): string {
  const gzB64 = gzipSync(Buffer.from(HAPROXY_CFG)).toString("base64");
  return [
    "#cloud-config",
    "package_update: true",
    "packages: [haproxy, nftables]",
    "write_files:",
    "  - path: /etc/haproxy/haproxy.cfg",
    "    owner: root:haproxy",
    '    permissions: "0640"',
    "    encoding: gz+b64",
    `    content: ${gzB64}`,
    "  - path: /etc/motd",
    "    content: |",
    "      grommunio cluster node",
    "runcmd:",
    "  - [systemctl, restart, haproxy]",
    "",
  ].join("\n");
}

function withLine(doc: string, after: string, line: string): string {
  return doc.replace(`${after}\n`, `${after}\n${line}\n`);
}

function makeMime(parts: ReadonlyArray<[name: string, type: string, content: string]>): string {
  const dir = scratchDir("mime");
  const args = ["devel", "make-mime"];
  for (const [name, type, content] of parts) {
    fs.writeFileSync(path.join(dir, name), content);
    args.push("-a", `${name}:${type}`);
  }
  const r = run("cloud-init", args, { cwd: dir });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

describe("strict cloud-init user-data checker", () => {
  beforeAll(() => requireCloudInit());

  test("accepts a good document and returns every write_files entry decoded", () => {
    const out = scratchDir("extract");
    const r = checkUserData(goodDocument(), out);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.files.map((f) => [f.path, f.owner, f.permissions, f.encoding])).toEqual([
      ["/etc/haproxy/haproxy.cfg", "root:haproxy", "0640", "gz+b64"],
      ["/etc/motd", "root:root", "0644", "text/plain"],
    ]);
    expect(r.files[0]!.content.toString("utf8")).toBe(HAPROXY_CFG);
    expect(fs.readFileSync(path.join(out, "etc/haproxy/haproxy.cfg"), "utf8")).toBe(HAPROXY_CFG);
    expect(fs.readFileSync(path.join(out, "etc/motd"), "utf8")).toBe("grommunio cluster node\n");
  });

  test("rejects an unknown top-level key that `cloud-init schema -c` lets through", () => {
    const doc = withLine(goodDocument(), "#cloud-config", "packagez: [postfix]");
    const dir = scratchDir("plain");
    fs.writeFileSync(path.join(dir, "u.yaml"), doc);
    // The gap this checker exists for: cloud-init 22.4 itself says "Valid".
    expect(run("cloud-init", ["schema", "-c", path.join(dir, "u.yaml")]).status).toBe(0);
    const r = checkUserData(doc);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      "user-data: unknown top-level key 'packagez': no cloud-init module reads it (cloud-init ignores it silently)",
    ]);
  });

  test("rejects gz+b64 content that does not decode", () => {
    const doc = goodDocument().replace(/content: H4sI\S+/, "content: bm90IGd6aXA=");
    expect(doc).not.toBe(goodDocument());
    const r = checkUserData(doc);
    expect(r.ok).toBe(false);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(
      /^user-data write_files\[0\] \/etc\/haproxy\/haproxy\.cfg: content is not valid gzip/,
    );
    const garbage = checkUserData(goodDocument().replace(/content: H4sI\S+/, "content: '%%% not base64 %%%'"));
    expect(garbage.problems).toEqual([
      expect.stringMatching(/write_files\[0\] \/etc\/haproxy\/haproxy\.cfg: content is not valid base64/),
    ]);
  });

  test("rejects permissions written as a YAML integer", () => {
    const r = checkUserData(goodDocument().replace('permissions: "0640"', "permissions: 0644"));
    expect(r.ok).toBe(false);
    expect(r.problems).toContain(
      "user-data write_files[0] /etc/haproxy/haproxy.cfg: permissions must be a quoted octal string such as '0644', got 420 (int)",
    );
    expect(r.problems).toContain("user-data: schema: write_files.0.permissions: 420 is not of type 'string'");
    // cloud-init's own check agrees on this one.
    expect(r.problems.some((p) => p.startsWith("cloud-init schema -c:"))).toBe(true);
  });

  test("rejects a header written '# cloud-config' (cloud-init would ignore the document)", () => {
    const r = checkUserData(goodDocument().replace("#cloud-config", "# cloud-config"));
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      expect.stringMatching(/^user-data: needs to begin with "#cloud-config".*first line is '# cloud-config'/),
    ]);
    expect(r.files).toEqual([]);
  });

  test("rejects YAML that does not parse, and duplicate keys PyYAML would silently merge", () => {
    const bad = checkUserData("#cloud-config\npackages: [haproxy\nruncmd: []\n");
    expect(bad.ok).toBe(false);
    expect(bad.problems[0]).toMatch(/^user-data: not valid YAML: /);
    const dup = checkUserData(withLine(goodDocument(), "#cloud-config", "packages: [postfix]"));
    expect(dup.problems).toEqual([expect.stringMatching(/not valid YAML: .*found duplicate key 'packages'/)]);
  });

  test("checks gzip user-data after un-gzipping it", () => {
    const good = checkUserData(gzipSync(Buffer.from(goodDocument())));
    expect(good.problems).toEqual([]);
    expect(good.files.map((f) => f.path)).toEqual(["/etc/haproxy/haproxy.cfg", "/etc/motd"]);
    const bad = checkUserData(gzipSync(Buffer.from(withLine(goodDocument(), "#cloud-config", "packagez: []"))));
    expect(bad.problems).toEqual([expect.stringMatching(/^user-data \(gunzipped\): unknown top-level key 'packagez'/)]);
  });

  test("checks MIME multipart user-data part by part", () => {
    const mime = makeMime([
      ["base.yaml", "cloud-config", goodDocument()],
      ["boot.sh", "x-shellscript", "#!/bin/sh\nset -eu\nnft -f /etc/nftables.conf\n"],
      ["extra.yaml", "cloud-config", "#cloud-config\nwrite_files:\n  - path: /etc/extra\n    permissions: 0600\n"],
      ["broken.sh", "x-shellscript", "#!/bin/sh\nif true; then\n"],
    ]);
    const r = checkUserData(mime);
    expect(r.ok).toBe(false);
    // Every problem names its part; the good parts contribute none.
    expect(r.problems).toHaveLength(3);
    expect(r.problems.filter((p) => p.startsWith("user-data part 3 (extra.yaml)"))).toHaveLength(2);
    expect(r.problems.filter((p) => p.startsWith("user-data part 4 (broken.sh): /bin/sh -n:"))).toHaveLength(1);
    expect(r.problems.filter((p) => /part [12] /.test(p))).toEqual([]);
    expect(r.files.map((f) => [f.path, f.source])).toEqual([
      ["/etc/haproxy/haproxy.cfg", "user-data part 1 (base.yaml)"],
      ["/etc/motd", "user-data part 1 (base.yaml)"],
      ["/etc/extra", "user-data part 3 (extra.yaml)"],
    ]);
    const good = checkUserData(makeMime([["base.yaml", "cloud-config", goodDocument()]]));
    expect(good.problems).toEqual([]);
  });
});
