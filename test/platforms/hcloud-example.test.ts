import "cdktf/lib/testing/adapters/jest";
import { gunzipSync } from "node:zlib";
import { parse } from "yaml";
import { TerraformStack, Testing } from "cdktf";
import { hcloudExample } from "../../examples/hcloud/main";
import {
  ClassicNode,
  Database,
  GromoxNode,
  GrommunioCluster,
  LoadBalancerTier,
  SharedStorage,
} from "../../lib/cluster";
import { Platform } from "../../lib/platforms/platform";
import { HcloudDeployment } from "../../lib/platforms/hcloud";
import { PORTS, PortKey } from "../../lib/topology";
import { evaluateTemplate } from "./terraform-eval";
import { nftAddresses } from "../fixtures";

type Res = Record<string, any>;

function synthExample(options: Parameters<typeof hcloudExample>[1] = {}) {
  const stack = hcloudExample(Testing.app(), options);
  const json = JSON.parse(Testing.synth(stack, true));
  const cluster = stack.node.findChild("mail") as GrommunioCluster<HcloudDeployment>;
  return { stack, json, cluster };
}

/** The user-data as the Hetzner datasource hands it to cloud-init (base64 decoded when base64). */
/** The user-data cloud-init receives: Terraform expressions evaluated, then gzip+base64 undone if used. */
function decodeUserData(raw: string): string {
  const text = evaluateTemplate(raw);
  return text.startsWith("#cloud-config") ? text : gunzipSync(Buffer.from(text, "base64")).toString("utf8");
}

function fileContent(entry: { content: string; encoding?: string }): string {
  const enc = entry.encoding ?? "text/plain";
  if (enc === "text/plain") return entry.content;
  const bytes = Buffer.from(entry.content, "base64");
  return (enc.startsWith("gz") ? gunzipSync(bytes) : bytes).toString("utf8");
}

describe("examples/hcloud: the documented layout on Hetzner Cloud", () => {
  const { json, cluster } = synthExample();
  const servers = Object.values<Res>(json.resource.hcloud_server);

  test("synthesizes with validations: 8 servers, 4 data volumes, network, firewalls; pinned providers", () => {
    expect(Object.fromEntries(Object.entries<Res>(json.resource).map(([t, r]) => [t, Object.keys(r).length]))).toEqual({
      hcloud_firewall: 3,
      hcloud_network: 1,
      hcloud_network_subnet: 1,
      hcloud_server: 8,
      hcloud_volume: 4,
      hcloud_volume_attachment: 4,
      random_password: 3, // database user, the load balancers' map reader, grommunio's admin
      tls_private_key: 7, // a self-signed certificate per node that serves TLS (not db1)
      tls_self_signed_cert: 7,
    });
    // Server types and SSH keys are read at plan: one data source each, the servers use what they read.
    expect(
      Object.fromEntries(
        Object.entries<Res>(json.data).map(([t, d]) => [
          t,
          Object.values<Res>(d)
            .map((x) => x.name)
            .sort(),
        ]),
      ),
    ).toEqual({
      hcloud_server_type: ["cpx22", "cpx32", "cpx42"],
      hcloud_ssh_key: ["operator"],
    });
    const read = (type: string, name: string, attr: string) =>
      `\${data.${type}.${Object.entries<Res>(json.data[type]).find(([, d]) => d.name === name)![0]}.${attr}}`;
    const typeOf = (s: Res) =>
      ["cpx22", "cpx32", "cpx42"].find((t) => s.server_type === read("hcloud_server_type", t, "name"));
    expect(servers.map((s) => [s.name, s.network[0].ip, typeOf(s)]).sort()).toEqual([
      ["classic1.example.com", "10.10.10.121", "cpx32"],
      ["classic2.example.com", "10.10.10.122", "cpx32"],
      ["db1.example.com", "10.10.10.5", "cpx42"],
      ["lb1.example.com", "10.10.10.11", "cpx22"],
      ["lb2.example.com", "10.10.10.12", "cpx22"],
      ["mail1.example.com", "10.10.10.21", "cpx42"],
      ["mail2.example.com", "10.10.10.22", "cpx42"],
      ["mail3.example.com", "10.10.10.23", "cpx42"],
    ]);
    expect(json.terraform.required_providers.hcloud).toEqual({ source: "hetznercloud/hcloud", version: "1.68.0" });
    expect(
      servers.every(
        (s) =>
          s.ssh_keys.length === 1 &&
          s.ssh_keys[0] === read("hcloud_ssh_key", "operator", "id") &&
          s.lifecycle.ignore_changes.includes("ssh_keys"),
      ),
    ).toBe(true);
  });

  test("every user-data stays under Hetzner's 32 KiB", () => {
    expect(cluster.userDataReports.size).toBe(8);
    for (const r of cluster.userDataReports.values()) {
      expect(r.limitBytes).toBe(32_768);
      expect(r.maxBytes).toBeLessThan(32_768);
    }
    for (const s of servers) expect(Buffer.byteLength(s.user_data)).toBeLessThan(32_768);
  });

  test("user-data decodes and parses back; its nftables admits exactly the synthesized client addresses", () => {
    const topo = cluster.topology;
    const ipToNode = new Map(servers.map((s) => [s.network[0].ip as string, s.labels["grommunio-node"] as string]));
    let rules = 0;
    for (const s of servers) {
      const doc = parse(decodeUserData(s.user_data), { version: "1.1" });
      const node = s.labels["grommunio-node"] as string;
      expect(doc.fqdn).toBe(`${node}.example.com`);
      const entry = doc.write_files.find((f: Res) => f.path === "/etc/nftables.conf");
      expect(entry).toBeDefined();
      const nft = fileContent(entry);
      expect(nft).toMatch(/^#!\/usr\/sbin\/nft -f\n/);
      for (const m of nft.matchAll(/ip saddr (\{ [^}]+ \}|\S+) tcp dport (\d+) accept comment "(\w+)"/g)) {
        const key = m[3] as PortKey;
        if (!(key in PORTS) || PORTS[key].exposure !== "cluster") continue;
        const addrs = nftAddresses(m[1]!);
        expect(addrs.map((a) => ipToNode.get(a)).sort()).toEqual(
          topo
            .clientsOf(key)
            .map((n) => n.name)
            .sort(),
        );
        rules++;
      }
      // The private side is closed in the guest: no internal port without a source match.
      expect(nft).not.toMatch(/^\s+tcp dport (5000|5555|6666|33333|3306|10080|10443|10025) accept/m);
    }
    expect(rules).toBeGreaterThan(20);
  });

  test("the cloud firewall opens only frontends (LB nodes), 8443 from the admin list, SSH from the operators", () => {
    const fw = Object.values<Res>(json.resource.hcloud_firewall);
    const rules = fw.flatMap((f) => f.rule.map((r: Res) => [f.name, r.port ?? r.protocol, r.source_ips.join(" ")]));
    expect(rules.sort()).toEqual(
      [
        ["mail-all-nodes", "icmp", "0.0.0.0/0 ::/0"],
        ["mail-node", "22", "198.51.100.0/24"],
        ["mail-load-balancer", "25", "0.0.0.0/0 ::/0"],
        ["mail-load-balancer", "80", "0.0.0.0/0 ::/0"],
        ["mail-load-balancer", "443", "0.0.0.0/0 ::/0"],
        ["mail-load-balancer", "587", "0.0.0.0/0 ::/0"],
        ["mail-load-balancer", "993", "0.0.0.0/0 ::/0"],
        ["mail-load-balancer", "995", "0.0.0.0/0 ::/0"],
        ["mail-load-balancer", "8443", "203.0.113.0/24"],
      ].sort(),
    );
  });

  test("adding a mailbox node keeps every other resource's address and non-user-data settings", () => {
    const more = synthExample({ mailboxNodes: ["mail1", "mail2", "mail3", "mail4"] }).json;
    let compared = 0;
    for (const [type, resources] of Object.entries<Record<string, Res>>(json.resource)) {
      for (const [key, res] of Object.entries(resources)) {
        const { user_data: _a, ...before } = res;
        const { user_data: _b, ...after } = more.resource[type]?.[key] ?? {};
        void _a;
        void _b;
        expect(after).toEqual(before);
        compared++;
      }
    }
    // 23 + the 7 TLS keys, 7 certificates (one per node, so mail4's never touches another's) and 1 password.
    expect(compared).toBe(38);
    const added = Object.values<Res>(more.resource.hcloud_server).filter((s) => s.name === "mail4.example.com");
    expect(added).toEqual([expect.objectContaining({ network: [expect.objectContaining({ ip: "10.10.10.24" })] })]);
  });
});

describe("examples/hcloud with a Hetzner load balancer", () => {
  const { json, stack } = synthExample({ cloudLoadBalancer: true });

  test("lb21 in the services subnet; six TCP frontends; LB nodes reachable only through it", () => {
    expect(Object.values<Res>(json.resource.hcloud_load_balancer)).toEqual([
      expect.objectContaining({ name: "mail-lb", load_balancer_type: "lb21", location: "fsn1" }),
    ]);
    expect(Object.values<Res>(json.resource.hcloud_load_balancer_network)).toEqual([
      expect.objectContaining({ ip: "10.10.11.2", enable_public_interface: true }),
    ]);
    expect(
      Object.values<Res>(json.resource.hcloud_load_balancer_service)
        .map((s) => s.listen_port)
        .sort((a, b) => a - b),
    ).toEqual([25, 80, 443, 587, 993, 995]);
    expect(
      Object.values<Res>(json.resource.hcloud_firewall)
        .map((f) => f.name)
        .sort(),
    ).toEqual(["mail-all-nodes", "mail-node"]);
    const lb1 = Object.values<Res>(json.resource.hcloud_server).find((s) => s.name === "lb1.example.com")!;
    const nft = fileContent(
      parse(decodeUserData(lb1.user_data), { version: "1.1" }).write_files.find(
        (f: Res) => f.path === "/etc/nftables.conf",
      ),
    );
    expect(nft).toContain('ip saddr 10.10.11.2 tcp dport 443 accept comment "publicHttps"');
    const warnings = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === "@cdktf/warn")
      .map((m) => String(m.data));
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/without PROXY protocol the load-balancer tier sees 10\.10\.11\.2/),
        expect.stringMatching(/publicAdmin \(8443\) is not forwarded/),
      ]),
    );
  });
});

describe("examples/hcloud with a Hetzner load balancer sending PROXY (cloudLoadBalancer.proxyProtocol)", () => {
  const { json, stack } = synthExample({ cloudLoadBalancer: true, cloudProxyProtocol: true });

  test("every forwarded service sends PROXY, and the HAProxy binds behind them accept it", () => {
    const services = Object.values<Res>(json.resource.hcloud_load_balancer_service);
    expect(services.map((s) => [s.listen_port, s.proxyprotocol]).sort((a, b) => a[0] - b[0])).toEqual(
      [25, 80, 443, 587, 993, 995].map((p) => [p, true]),
    );
    for (const name of ["lb1.example.com", "lb2.example.com"]) {
      const lb = Object.values<Res>(json.resource.hcloud_server).find((s) => s.name === name)!;
      const cfg = fileContent(
        parse(decodeUserData(lb.user_data), { version: "1.1" }).write_files.find(
          (f: Res) => f.path === "/etc/haproxy/haproxy.cfg",
        ),
      );
      const binds = cfg.split("\n").filter((l: string) => /^\s+bind /.test(l));
      expect(
        binds.filter((b: string) => b.includes("accept-proxy")).map((b: string) => b.trim().split(" ")[1]),
      ).toEqual([":80", ":443", ":993", ":995", ":25", ":587"]);
      // The admin frontend is not forwarded by the Hetzner LB (it cannot filter sources): direct, no PROXY.
      expect(binds.find((b: string) => b.includes(":8443"))).not.toMatch(/accept-proxy/);
    }
    const warnings = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === "@cdktf/warn")
      .map((m) => String(m.data));
    expect(warnings.some((w) => /without PROXY protocol/.test(w))).toBe(false);
  });
});

describe("SharedStorage on Hetzner Cloud: an NFS server node", () => {
  test("nfs1 with its own volume; its nftables admits 2049 only from the nodes that open maildirs", () => {
    const stack = new TerraformStack(Testing.app(), "shared");
    const cluster = new GrommunioCluster(stack, "mail", {
      platform: Platform.hcloud({ location: "nbg1" }),
      domain: "example.com",
      gromoxVersion: "3.10",
      network: { cidr: "10.10.10.0/24" },
      storage: new SharedStorage(),
      database: Database.onNode({}),
    });
    new GromoxNode(cluster, "mail1", { admin: true });
    new GromoxNode(cluster, "mail2");
    new ClassicNode(cluster, "classic1");
    new LoadBalancerTier(cluster, "lb", { flavor: "haproxy", nodes: 1 });
    const json = JSON.parse(Testing.synth(stack, true));
    expect(Object.values<Res>(json.resource.hcloud_volume).map((v) => [v.name, v.size, v.location])).toEqual([
      ["mail-db1-data", 50, "nbg1"],
      ["mail-nfs1-data", 200, "nbg1"],
    ]);
    const nfs = Object.values<Res>(json.resource.hcloud_server).find((s) => s.name === "nfs1.example.com")!;
    expect(nfs.network[0].ip).toBe("10.10.10.191");
    const doc = parse(decodeUserData(nfs.user_data), { version: "1.1" });
    const nft = fileContent(doc.write_files.find((f: Res) => f.path === "/etc/nftables.conf"));
    const clients = cluster.topology.clientsOf("nfs").map((n) => n.ipv4);
    expect(clients).toEqual(["10.10.10.21", "10.10.10.22"]);
    expect(nft).toContain(`ip saddr { ${clients.join(", ")} } tcp dport 2049 accept comment "nfs"`);
    expect(fileContent(doc.write_files.find((f: Res) => f.path === "/etc/exports"))).toContain(
      "/srv/gromox 10.10.10.21(rw,",
    );
  });
});

describe("a node's size on Hetzner Cloud", () => {
  test("is read at plan like serverTypes: one data hcloud_server_type per distinct type, the server uses it", () => {
    const stack = new TerraformStack(Testing.app(), "sized");
    const cluster = new GrommunioCluster(stack, "mail", {
      platform: Platform.hcloud({ location: "nbg1", serverTypes: { mailbox: "cx43" } }),
      domain: "example.com",
      gromoxVersion: "3.10",
      network: { cidr: "10.10.10.0/24" },
      database: Database.onNode({}),
    });
    new GromoxNode(cluster, "mail1", { admin: true, size: "ccx23" });
    new GromoxNode(cluster, "mail2");
    new GromoxNode(cluster, "mail3", { size: "ccx23" });
    new ClassicNode(cluster, "classic1");
    new LoadBalancerTier(cluster, "lb", { flavor: "haproxy", nodes: 1 });
    const json = JSON.parse(Testing.synth(stack, true));
    const types = Object.entries<Res>(json.data.hcloud_server_type);
    expect(types.map(([, d]) => d.name).sort()).toEqual(["ccx23", "cpx22", "cpx32", "cpx42", "cx43"]);
    const typeOf = (host: string) => {
      const server = Object.values<Res>(json.resource.hcloud_server).find((s) => s.name === host)!;
      return types.find(([key]) => server.server_type === `\${data.hcloud_server_type.${key}.name}`)?.[1].name;
    };
    expect(["mail1", "mail2", "mail3", "classic1", "lb1", "db1"].map((n) => typeOf(`${n}.example.com`))).toEqual([
      "ccx23",
      "cx43",
      "ccx23",
      "cpx32",
      "cpx22",
      "cpx42",
    ]);
  });
});
