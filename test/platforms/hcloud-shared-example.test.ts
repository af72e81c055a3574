import "cdktf/lib/testing/adapters/jest";
import { gunzipSync } from "node:zlib";
import { parse } from "yaml";
import { Testing } from "cdktf";
import { hcloudExample } from "../../examples/hcloud/main";
import { hcloudSharedExample } from "../../examples/hcloud-shared/main";
import { GrommunioCluster } from "../../lib/cluster";
import { HcloudDeployment } from "../../lib/platforms/hcloud";
import { evaluateTemplate } from "./terraform-eval";
import { nftAddresses } from "../fixtures";

type Res = Record<string, any>;

function synth(build: typeof hcloudExample | typeof hcloudSharedExample) {
  const stack = build(Testing.app());
  const json = JSON.parse(Testing.synth(stack, true));
  const cluster = stack.node.findChild("mail") as GrommunioCluster<HcloudDeployment>;
  const warnings = stack.node
    .findAll()
    .flatMap((c) => c.node.metadata)
    .filter((m) => m.type === "@cdktf/warn")
    .map((m) => String(m.data));
  return { stack, json, cluster, warnings };
}

/** The cloud-config cloud-init receives: Terraform expressions evaluated, gzip+base64 undone if used. */
function cloudConfig(server: Res): Res {
  const text = evaluateTemplate(server.user_data);
  const yaml = text.startsWith("#cloud-config") ? text : gunzipSync(Buffer.from(text, "base64")).toString("utf8");
  return parse(yaml, { version: "1.1" });
}

function file(doc: Res, path: string): string {
  const entry = doc.write_files.find((f: Res) => f.path === path);
  if (!entry) throw new Error(`no ${path}`);
  if ((entry.encoding ?? "text/plain") === "text/plain") return entry.content;
  return gunzipSync(Buffer.from(entry.content, "base64")).toString("utf8");
}

describe("examples/hcloud-shared: the documented layout with SharedStorage (an NFS node) on Hetzner Cloud", () => {
  const { json, cluster, warnings } = synth(hcloudSharedExample);
  const servers = Object.values<Res>(json.resource.hcloud_server);
  const server = (node: string) => servers.find((s) => s.labels["grommunio-node"] === node)!;
  const mailbox = ["mail1", "mail2", "mail3"];

  test("the nodes and addresses of examples/hcloud, plus nfs1; no warning", () => {
    const nodes = (j: Res) =>
      Object.values<Res>(j.resource.hcloud_server)
        .map((s) => [s.name, s.network[0].ip])
        .sort();
    expect(nodes(json)).toEqual([...nodes(synth(hcloudExample).json), ["nfs1.example.com", "10.10.10.191"]].sort());
    expect(cluster.topology.storage).toBe("shared");
    expect(warnings).toEqual([]);
  });

  test("volumes: the NFS node's export (600 GB) and the database's; no mailbox node has one", () => {
    expect(Object.values<Res>(json.resource.hcloud_volume).map((v) => [v.name, v.size, v.location])).toEqual([
      ["mail-db1-data", 50, "fsn1"],
      ["mail-nfs1-data", 600, "fsn1"],
    ]);
    for (const n of mailbox) expect(cluster.provisioning.get(n)!.mounts.filter((m) => m.kind === "block")).toEqual([]);
  });

  test("nfs1 exports /srv/gromox to exactly the mailbox nodes, and its firewall admits 2049 from them only", () => {
    const doc = cloudConfig(server("nfs1"));
    const addresses = mailbox.map((n) => server(n).network[0].ip as string);
    const exports = file(doc, "/etc/exports")
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"));
    expect(exports).toEqual(addresses.map((a) => `/srv/gromox ${a}(rw,sync,no_subtree_check,no_root_squash)`));
    const nfs = /ip saddr (\{ [^}]+ \}|\S+) tcp dport 2049 accept/.exec(file(doc, "/etc/nftables.conf"));
    expect(nftAddresses(nfs![1]!)).toEqual(addresses);
    expect(doc.packages).toContain("nfs-kernel-server");
  });

  test("every mailbox node mounts nfs1's export at /var/lib/gromox at boot, and exports nothing itself", () => {
    for (const n of mailbox) {
      const doc = cloudConfig(server(n));
      const mount = doc.bootcmd.find((c: unknown) => Array.isArray(c) && c.includes("grommunio-mount-nfs"));
      expect(mount?.slice(-3, -1)).toEqual(["10.10.10.191:/srv/gromox", "/var/lib/gromox"]);
      expect(file(doc, "/etc/systemd/system/gromox-.service.d/data-mount.conf")).toContain(
        "RequiresMountsFor=/var/lib/gromox",
      );
      expect(doc.packages).toContain("nfs-common");
      expect(doc.packages).not.toContain("nfs-kernel-server");
      expect(doc.write_files.map((f: Res) => f.path)).not.toContain("/etc/exports");
    }
  });
});
