/**
 * Unit tests of the VM harness's host-side parts (no qemu): the cluster hub, the synthesized seeds
 * the guests boot (the library's repository override and readiness report in every node's
 * user-data; Terraform references replaced by provider-like test values).
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { READINESS_SCRIPT, SOURCES_LIST_PATH } from "../../lib/provision";
import { startHub } from "./hub";
import { parseExportfs, saddrCovers } from "./scenarios";
import { NFS_NODE, STACK_NAMES, synthesizeKvmExample, testValues } from "./stack";

function frame(dst: string, src: string, payload: string): Buffer {
  const body = Buffer.concat([
    Buffer.from(dst.replace(/:/g, ""), "hex"),
    Buffer.from(src.replace(/:/g, ""), "hex"),
    Buffer.from(payload),
  ]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

async function peer(port: number): Promise<{ sock: net.Socket; received: () => string }> {
  const sock = net.createConnection(port, "127.0.0.1");
  let data = Buffer.alloc(0);
  sock.on("data", (d) => (data = Buffer.concat([data, d])));
  await new Promise<void>((r) => sock.once("connect", () => r()));
  return { sock, received: () => data.subarray(4 + 12).toString() };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
};

describe("hub: the VM tests' cluster network", () => {
  test("floods frames to unknown MACs, then sends to the learnt port only", async () => {
    const hub = await startHub();
    const a = await peer(hub.port);
    const b = await peer(hub.port);
    const c = await peer(hub.port);
    try {
      a.sock.write(frame("ff:ff:ff:ff:ff:ff", "52:54:00:0a:0a:05", "who-has"));
      await until(() => b.received() !== "" && c.received() !== "");
      expect([b.received(), c.received()]).toEqual(["who-has", "who-has"]);
      // b answers; a learnt b, c must not see the unicast reply… nor a's unicast to b.
      b.sock.write(frame("52:54:00:0a:0a:05", "52:54:00:0a:0a:0b", "is-at"));
      await until(() => a.received() !== "");
      expect(a.received()).toBe("is-at");
      a.sock.write(frame("52:54:00:0a:0a:0b", "52:54:00:0a:0a:05", "hello"));
      await until(() => hub.frames() === 3);
      await new Promise((r) => setTimeout(r, 50));
      expect(c.received()).toBe("who-has");
    } finally {
      for (const p of [a, b, c]) p.sock.destroy();
      await hub.close();
    }
  });
});

describe("the stack the VM tests boot", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "vm-synth-"));
  const stack = synthesizeKvmExample(out);
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  test("every node's seed points apt at the local repository and starts the readiness report", () => {
    expect([...stack.seeds.keys()].sort()).toEqual([
      "classic1",
      "classic2",
      "db1",
      "lb1",
      "lb2",
      "mail1",
      "mail2",
      "mail3",
    ]);
    for (const [node, seed] of stack.seeds) {
      const doc = parse(seed.userData, { version: "1.1" });
      expect(doc.apt).toEqual({ preserve_sources_list: true });
      expect(doc.bootcmd[0]).toBe("set -e");
      expect(doc.bootcmd[1]).toEqual(expect.arrayContaining(["sh", READINESS_SCRIPT, "/dev/ttyS0"]));
      const files = stack.files(node);
      expect(files.get("/etc/apt/sources.list.d/debian.sources")).toBe(
        "Types: deb\nURIs: http://10.0.2.100/debian\nSuites: bookworm\nComponents: main\nTrusted: yes\n",
      );
      expect(files.get(SOURCES_LIST_PATH)).not.toMatch(/^deb /m);
      if (stack.provisioning.get(node)!.packages.includes("gromox")) {
        expect(files.get("/etc/apt/sources.list.d/grommunio.sources")).toContain("URIs: http://10.0.2.100/grommunio\n");
      }
      expect(seed.userData).not.toMatch(/\$\{/);
    }
  });

  test("TLS test values: a key of the resource's algorithm and a certificate for its names signed by it", () => {
    const json = stack.json;
    const [certKey, cert] = Object.entries<any>(json.resource.tls_self_signed_cert)[0]!;
    const keyKey = /tls_private_key\.([^.]+)\./.exec(cert.private_key_pem)![1]!;
    const values = testValues(json, path.join(out, "tls-test"));
    const pem = values(`tls_self_signed_cert.${certKey}.cert_pem`);
    const key = createPrivateKey(values(`tls_private_key.${keyKey}.private_key_pem`));
    const x = new X509Certificate(pem);
    expect(x.checkPrivateKey(key)).toBe(true);
    expect(key.asymmetricKeyType).toBe(json.resource.tls_private_key[keyKey].algorithm === "ECDSA" ? "ec" : "rsa");
    for (const name of cert.dns_names) expect(x.subjectAltName).toContain(`DNS:${name}`);
    expect(values("random_password.a.result")).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(values("random_password.a.result")).not.toBe(values("random_password.b.result"));
  });
});

describe("the shared-storage stack (second layout of the KVM example)", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "vm-synth-shared-"));
  const shared = synthesizeKvmExample(out, "shared-storage");
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  test("its own stack name; nfs1 added, the other nodes at the default stack's addresses", () => {
    expect(shared.jsonPath).toContain(`/stacks/${STACK_NAMES["shared-storage"]}/`);
    expect(STACK_NAMES["shared-storage"]).not.toBe(STACK_NAMES["share-nothing"]);
    const synthDefault = synthesizeKvmExample(path.join(out, "default"));
    const addresses = (st: typeof shared) =>
      Object.fromEntries([...st.topology.nodes].map((n) => [n.name, n.ipv4] as const));
    const { [NFS_NODE]: nfs, ...others } = addresses(shared);
    expect(nfs).toBeDefined();
    expect(others).toEqual(addresses(synthDefault));
  });

  test("mail2 mounts nfs1's export at /var/lib/gromox at boot; nfs1 exports it to the mailbox nodes", () => {
    const nfs = shared.topology.node(NFS_NODE).ipv4;
    const mail2 = shared.provisioning.get("mail2")!;
    expect(mail2.mounts).toEqual([expect.objectContaining({ kind: "nfs", mountPoint: "/var/lib/gromox" })]);
    const m = mail2.mounts[0]!;
    expect(m.kind === "nfs" && m.source.startsWith(`${nfs}:`) && !m.onDemand).toBe(true);
    const doc = parse(shared.seeds.get("mail2")!.userData, { version: "1.1" });
    expect(JSON.stringify(doc.bootcmd)).toContain("grommunio-mount-nfs");
    const exportsFile = shared.files(NFS_NODE).get("/etc/exports") ?? "";
    expect(
      exportsFile
        .split("\n")
        .filter((l) => l.startsWith("/"))
        .map((l) => l.split("(")[0]),
    ).toEqual(shared.topology.mailboxNodes.map((n) => `${m.kind === "nfs" ? m.source.split(":")[1] : ""} ${n.ipv4}`));
  });
});

describe("store-export scenario: reading exportfs -v", () => {
  test("each export's path and client, whether exportfs puts the client on the path's line or the next", () => {
    const out =
      "/var/lib/gromox/user/mail2.example.com\n\t\t10.10.10.21(sync,wdelay,hide,no_subtree_check,sec=sys,rw,secure,no_root_squash,no_all_squash)\n" +
      "/srv/x        \t10.10.10.22(rw)\n";
    expect(parseExportfs(out)).toEqual([
      "/srv/x 10.10.10.22(rw)",
      "/var/lib/gromox/user/mail2.example.com 10.10.10.21(sync,wdelay,hide,no_subtree_check,sec=sys,rw,secure,no_root_squash,no_all_squash)",
    ]);
  });
});

describe("shared-storage scenario: which addresses an nftables rule admits", () => {
  test("one address, a range, a prefix, a set of those", () => {
    const r = (saddr: string) => `ip saddr ${saddr} tcp dport 2049 accept`;
    expect(saddrCovers(r("10.10.10.22"), "10.10.10.22")).toBe(true);
    expect(saddrCovers(r("10.10.10.22"), "10.10.10.5")).toBe(false);
    expect(saddrCovers(r("10.10.10.21-10.10.10.23"), "10.10.10.22")).toBe(true);
    expect(saddrCovers(r("10.10.10.21-10.10.10.23"), "10.10.10.5")).toBe(false);
    expect(saddrCovers(r("10.10.10.16/28"), "10.10.10.22")).toBe(true);
    expect(saddrCovers(r("10.10.10.16/28"), "10.10.10.5")).toBe(false);
    expect(saddrCovers(r("{ 10.10.10.5, 10.10.10.21-10.10.10.23 }"), "10.10.10.5")).toBe(true);
    expect(saddrCovers(r("{ 10.10.10.6, 10.10.10.21-10.10.10.23 }"), "10.10.10.5")).toBe(false);
    expect(saddrCovers("tcp dport 2049 accept", "10.10.10.5")).toBe(false);
  });
});
