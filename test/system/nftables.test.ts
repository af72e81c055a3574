import "cdktf/lib/testing/adapters/jest";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildTopology } from "../../lib/topology";
import { renderNftables } from "../../lib/render/nftables";
import { documentedLayout, largeLayout } from "../fixtures";
import { requireProgram, run, scratchDir } from "./support";
import { checkUserData } from "./cloud-init";
import { evaluateTemplate } from "../platforms/terraform-eval";
import { Testing } from "cdktf";
import { hcloudExample } from "../../examples/hcloud/main";
import { Peer, Port } from "../../lib";
import { EXAMPLE_SHAPE, buildShape } from "../security/support";

/**
 * What Terraform makes of a synthesized string: `$${` → `${`, `%%{` → `%{`, and each
 * interpolation replaced by a stand-in value of the same kind (ids, passwords: word characters).
 */
/** What cloud-init receives from an hcloud_server user_data: Terraform expressions evaluated (fake secrets), then base64 undone if the result is not a plain document. */
function terraformRendered(raw: string): string | Buffer {
  const text = evaluateTemplate(raw);
  return text.startsWith("#cloud-config") ? text : Buffer.from(text, "base64");
}

/** `nft -c -f FILE`: parses and checks against the kernel without applying anything. */
export function nftCheck(content: string): { status: number; output: string } {
  const nft = requireProgram("nft", "nftables");
  const dir = scratchDir("nft");
  const file = path.join(dir, "nftables.conf");
  fs.writeFileSync(file, content);
  const r = run(nft, ["-c", "-f", file]);
  return { status: r.status, output: (r.stdout + r.stderr).trim() };
}

describe("nft -c accepts every generated host firewall", () => {
  beforeAll(() => requireProgram("nft", "nftables"));

  const cases = [
    ["documented", buildTopology(documentedLayout())],
    ["large", buildTopology(largeLayout())],
  ] as const;
  for (const [layout, topo] of cases) {
    test.each(topo.nodes.map((n) => n.name))(`${layout} layout, node %s`, (name) => {
      const node = topo.node(name);
      for (const options of [
        {},
        { sshAllowFrom: ["198.51.100.7", "203.0.113.0/24", "2001:db8::/32"] },
        { reversePathFilter: false, tableName: "grx_test" },
      ]) {
        const r = nftCheck(renderNftables(topo, node, options).content);
        expect(r.output).toBe("");
        expect(r.status).toBe(0);
      }
    });
  }

  test.each([
    ["without", false],
    ["with", true],
  ])(
    "examples/hcloud %s a Hetzner load balancer: every server's user-data passes the strict cloud-init checker and its nftables.conf passes nft -c",
    (_w, lb) => {
      const stack = hcloudExample(Testing.app(), { cloudLoadBalancer: lb });
      const json = JSON.parse(Testing.synth(stack, true));
      let checked = 0;
      for (const res of Object.values<any>(json.resource.hcloud_server)) {
        const raw: string = res.user_data;
        const userData = terraformRendered(raw);
        const out = scratchDir("extract");
        const check = checkUserData(userData, out);
        expect(check.problems).toEqual([]);
        const result = nftCheck(fs.readFileSync(path.join(out, "etc/nftables.conf"), "utf8"));
        expect(result.output).toBe("");
        expect(result.status).toBe(0);
        checked++;
      }
      expect(checked).toBe(8);
    },
  );

  test("allow lists at the edges of what validation admits: nft loads them (own network namespace) and lists the networks given", () => {
    // A prefix with a leading zero, a bare address, IPv6 with a dotted IPv4 tail (NAT64), upper
    // case and an uncompressed zero run: all pass GRX038; nft's parser refused some. (An
    // IPv4-mapped entry, `::ffff:…`, and host bits, `203.0.113.7/24`, no longer pass: GRX038.)
    const allow = [
      "10.0.0.0/08",
      "203.0.113.0/24",
      "198.51.100.7",
      "0:0:0:0:0:0:192.0.2.0/120",
      "64:ff9b::198.51.100.7",
      "2001:DB8:0:0::/064",
    ];
    const base = documentedLayout();
    const topo = buildTopology({ ...base, loadBalancer: { ...base.loadBalancer!, adminAllowFrom: allow } });
    const file = path.join(scratchDir("nft-edges"), "nftables.conf");
    fs.writeFileSync(file, renderNftables(topo, topo.node("lb1"), { sshAllowFrom: allow }).content);
    const r = run(requireProgram("unshare", "util-linux"), ["-n", "sh", "-c", `nft -f '${file}' && nft list ruleset`]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const listed = (comment: string) =>
      r.stdout
        .split("\n")
        .filter((l) => l.includes(`comment "${comment}"`))
        .map((l) => l.trim());
    for (const [comment, port] of [
      ["publicAdmin", 8443],
      ["ssh", 22],
    ] as const) {
      expect(listed(comment)).toEqual([
        `ip saddr { 10.0.0.0/8, 198.51.100.7, 203.0.113.0/24 } tcp dport ${port} accept comment "${comment}"`,
        `ip6 saddr { ::192.0.2.0/120, 64:ff9b::c633:6407, 2001:db8::/64 } tcp dport ${port} accept comment "${comment}"`,
      ]);
    }
  });

  test("users' rules (Peer.cidr) in every accepted form, through a Hetzner synth: mail1's nftables.conf loads (own network namespace) and lists the networks", () => {
    // A bare address, a zero-padded prefix, IPv6 upper case / uncompressed / with a dotted IPv4
    // tail, and sources overlapping the SSH allow list on the same port (one set). Host bits
    // (`10.1.2.3/8`) are refused (GRX458, test/security/peers.test.ts).
    const { stack, cluster } = buildShape("hcloud", EXAMPLE_SHAPE, {
      sshAllowFrom: ["198.51.100.0/24", "2001:db8::/32"],
    });
    for (const given of [
      "10.0.0.0/8",
      "192.0.2.7",
      "172.16.0.0/12",
      "2001:DB8:0:0:0::/64",
      "::192.0.2.0/120",
      "64:ff9b::198.51.100.7",
    ])
      cluster.connections("mailbox").allowFrom(Peer.cidr(given), Port.tcp(9100, "node-exporter"));
    for (const given of ["198.51.100.7", "198.51.100.0/25", "2001:db8:0:0::1", "10.0.0.0/08"])
      cluster.connections("node").allowFrom(Peer.cidr(given), Port.of("ssh"));
    const json = JSON.parse(Testing.synth(stack, true));
    const server = Object.values<any>(json.resource.hcloud_server).find((s) => s.labels["grommunio-node"] === "mail1");
    const out = scratchDir("peers-extract");
    expect(checkUserData(terraformRendered(server.user_data), out).problems).toEqual([]);
    const file = path.join(out, "etc/nftables.conf");
    const r = run(requireProgram("unshare", "util-linux"), ["-n", "sh", "-c", `nft -f '${file}' && nft list ruleset`]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const lines = (match: string) =>
      r.stdout
        .split("\n")
        .filter((l) => l.includes(match))
        .map((l) => l.trim());
    expect(lines("tcp dport 9100")).toEqual([
      'ip saddr 10.0.0.0/8 tcp dport 9100 accept comment "node-exporter-from-10-0-0-0-8"',
      'ip saddr 172.16.0.0/12 tcp dport 9100 accept comment "node-exporter-from-172-16-0-0-12"',
      'ip saddr 192.0.2.7 tcp dport 9100 accept comment "node-exporter-from-192-0-2-7-32"',
      'ip6 saddr 2001:db8::/64 tcp dport 9100 accept comment "node-exporter-from-2001-db8-64"',
      'ip6 saddr 64:ff9b::c633:6407 tcp dport 9100 accept comment "node-exporter-from-64-ff9b-c633-6407-128"',
      'ip6 saddr ::192.0.2.0/120 tcp dport 9100 accept comment "node-exporter-from-c000-200-120"',
    ]);
    // nft merges the overlapping networks of the anonymous set into the wider ones.
    expect(lines('comment "ssh"')).toEqual([
      'ip saddr { 10.0.0.0/8, 198.51.100.0/24 } tcp dport 22 accept comment "ssh"',
      'ip6 saddr { 2001:db8::/32 } tcp dport 22 accept comment "ssh"',
    ]);
    // What GRX458 keeps out: one source nft cannot parse and the whole file (every rule) is refused.
    const content = fs.readFileSync(file, "utf8");
    expect(content).toContain("ip saddr 10.0.0.0/8 tcp dport 9100");
    const broken = nftCheck(
      content.replace("ip saddr 10.0.0.0/8 tcp dport 9100", "ip saddr 10.0.0.0/33 tcp dport 9100"),
    );
    expect(broken.status).not.toBe(0);
  });

  test("the check is real: a broken ruleset is refused", () => {
    const good = renderNftables(buildTopology(documentedLayout()), buildTopology(documentedLayout()).node("mail1"));
    const r = nftCheck(good.content.replace("tcp dport 5000", "tcp dport 5000-"));
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/syntax error/i);
  });
});
