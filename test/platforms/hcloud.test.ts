import "cdktf/lib/testing/adapters/jest";
import { gunzipSync } from "node:zlib";
import { Lazy } from "cdktf";
import { parse } from "yaml";
import { HCLOUD_CAPABILITIES, HCLOUD_DEFAULT_SERVER_TYPES } from "../../lib/platforms/hcloud";
import { PORTS, PortKey, isWorld } from "../../lib/topology";
import { HcloudRun, hcloudLayout, runHcloud } from "./hcloud-harness";
import { nftAddresses } from "../fixtures";

type Res = Record<string, any>;

/** Resources of a type, keyed by their `name` attribute (servers: the hostname). */
function byName(json: any, type: string): Map<string, { key: string; res: Res }> {
  const out = new Map<string, { key: string; res: Res }>();
  for (const [key, res] of Object.entries<Res>(json.resource?.[type] ?? {})) out.set(res.name ?? key, { key, res });
  return out;
}

function ref(json: any, type: string, key: string, attr = "id"): string {
  expect(json.resource[type][key]).toBeDefined();
  return `\${${type}.${key}.${attr}}`;
}

/** `${data.<type>.<key>.<attr>}` of the one data source of `type` whose `name` (or `id`) is `name`. */
function dataRef(json: any, type: string, name: string | number, attr = "id"): string {
  const keys = Object.entries<Res>(json.data?.[type] ?? {})
    .filter(([, d]) => d.name === name || d.id === name)
    .map(([k]) => k);
  expect(keys).toHaveLength(1);
  return `\${data.${type}.${keys[0]}.${attr}}`;
}

function serverOf(run: HcloudRun, node: string): { key: string; res: Res } {
  const s = byName(run.json, "hcloud_server").get(run.topology.node(node).hostname);
  expect(s).toBeDefined();
  return s!;
}

/** The user-data of a server, decoded as the Hetzner datasource does (base64 when it is base64). */
function userDataText(raw: string): string {
  if (raw.startsWith("#cloud-config")) return raw;
  return gunzipSync(Buffer.from(raw, "base64")).toString("utf8");
}

describe("Hetzner platform: resources per role", () => {
  const run = runHcloud(hcloudLayout(), { sshAllowFrom: ["198.51.100.7"] });
  const { json } = run;

  test("no issues; one network (the cluster's supernet) and one cloud subnet in the location's zone", () => {
    expect(run.issues).toEqual([]);
    const nets = Object.entries<Res>(json.resource.hcloud_network);
    expect(nets).toHaveLength(1);
    const [netKey, net] = nets[0]!;
    expect(net).toEqual({ name: "mail", ip_range: "10.10.10.0/23", labels: { "grommunio-cluster": "mail" } });
    const subnets = Object.values<Res>(json.resource.hcloud_network_subnet);
    expect(subnets).toEqual([
      {
        network_id: ref(json, "hcloud_network", netKey),
        type: "cloud",
        network_zone: "eu-central",
        ip_range: "10.10.10.0/24",
      },
    ]);
    expect(json.terraform.required_providers.hcloud).toEqual({ source: "hetznercloud/hcloud", version: "1.68.0" });
    expect(json.provider.hcloud).toEqual([{}]);
  });

  test("one server per node, keyed by name, at its fixed private address, typed by role", () => {
    const servers = byName(json, "hcloud_server");
    expect([...servers.keys()].sort()).toEqual(run.topology.nodes.map((n) => n.hostname).sort());
    const netKey = Object.keys(json.resource.hcloud_network)[0]!;
    const subnetKey = Object.keys(json.resource.hcloud_network_subnet)[0]!;
    for (const node of run.topology.nodes) {
      const { key, res } = serverOf(run, node.name);
      expect(key).toMatch(new RegExp(`^mail_${node.name}_server_[0-9A-F]{8}$`));
      const role = [...node.roles][0]!;
      expect(res).toMatchObject({
        name: node.hostname,
        server_type: dataRef(json, "hcloud_server_type", HCLOUD_DEFAULT_SERVER_TYPES[role], "name"),
        image: "debian-12",
        location: "fsn1",
        network: [{ network_id: ref(json, "hcloud_network", netKey), ip: node.ipv4 }],
        public_net: [{ ipv4_enabled: true, ipv6_enabled: true }],
        shutdown_before_deletion: true,
        labels: { "grommunio-cluster": "mail", "grommunio-node": node.name, "grommunio-role": role },
        depends_on: [`hcloud_network_subnet.${subnetKey}`],
        lifecycle: { ignore_changes: ["ssh_keys"] },
      });
      expect(res.datacenter).toBeUndefined();
      expect(res.user_data).toMatch(/^#cloud-config\n/);
    }
  });

  test("mailbox and database nodes get a volume + attachment, never automounted, mounted by id", () => {
    const volumes = byName(json, "hcloud_volume");
    const withVolume = run.topology.nodes.filter((n) => n.has("mailbox") || n.has("database")).map((n) => n.name);
    expect([...volumes.keys()].sort()).toEqual(withVolume.map((n) => `mail-${n}-data`).sort());
    const attachments = Object.values<Res>(json.resource.hcloud_volume_attachment);
    expect(attachments).toHaveLength(withVolume.length);
    for (const name of withVolume) {
      const { key, res } = volumes.get(`mail-${name}-data`)!;
      expect(res).toMatchObject({ location: "fsn1", automount: false, delete_protection: true });
      expect(res.size).toBe(run.topology.node(name).has("database") ? 50 : 100);
      expect(res.format).toBeUndefined();
      const server = serverOf(run, name);
      expect(attachments).toContainEqual({
        volume_id: ref(json, "hcloud_volume", key),
        server_id: ref(json, "hcloud_server", server.key),
        automount: false,
      });
      // The guest finds the volume by Hetzner's by-id link (a declared, safe token).
      expect(server.res.user_data).toContain(`/dev/disk/by-id/scsi-0HC_Volume_\${hcloud_volume.${key}.id}`);
    }
    expect(run.declared.every((d) => d.facts.charset === "safe" && d.facts.maxLength === 20)).toBe(true);
    expect(run.declared).toHaveLength(withVolume.length);
    // The declared token is the very token in the device path (each read of an id is a new token).
    for (const name of withVolume) {
      const text = run.cloudConfig.get(name)!;
      expect(run.declared.filter((d) => text.includes(d.value))).toHaveLength(1);
    }
  });

  test("config change policy: replace by default (user_data is ForceNew), ignore via ignore_changes", () => {
    expect(HCLOUD_CAPABILITIES.defaultConfigChangePolicy).toBe("replace");
    expect(HCLOUD_CAPABILITIES.userData.nativeChangeBehaviour).toBe("replace");
    const ignored = runHcloud(hcloudLayout(), { policy: "ignore" });
    for (const node of ignored.topology.nodes) {
      expect(serverOf(ignored, node.name).res.lifecycle).toEqual({ ignore_changes: ["ssh_keys", "user_data"] });
    }
  });
});

describe("Hetzner platform: server types and SSH keys are read at plan", () => {
  const data = (json: any, type: string): Res[] => Object.values<Res>(json.data?.[type] ?? {});

  test("one data hcloud_server_type per type, defaults too, each offered in the location (postcondition)", () => {
    const run = runHcloud(hcloudLayout(), { props: { location: "hel1", serverTypes: { classic: "cx33" } } });
    const types = data(run.json, "hcloud_server_type");
    expect(types.map((d) => d.name).sort()).toEqual(["cpx22", "cpx42", "cx33"]);
    for (const d of types) {
      expect(d.lifecycle).toEqual({
        postcondition: [
          {
            condition: '${contains(self.locations[*].name, "hel1")}',
            error_message: `Hetzner does not offer server type ${d.name} in location hel1: choose one it offers there (hcloud server-type describe ${d.name}, hcloud server-type list) as serverTypes or a node's size.`,
          },
        ],
      });
    }
    // Keyed by the type's name, not by position.
    expect(
      Object.keys(run.json.data.hcloud_server_type).every((k) => /^mail_server-type-(cpx22|cpx42|cx33)_/.test(k)),
    ).toBe(true);
    for (const node of run.topology.nodes) {
      const role = [...node.roles][0]!;
      const type = role === "classic" ? "cx33" : HCLOUD_DEFAULT_SERVER_TYPES[role];
      expect(serverOf(run, node.name).res.server_type).toBe(dataRef(run.json, "hcloud_server_type", type, "name"));
    }
  });

  test("sshKeys: one data hcloud_ssh_key per distinct key (by name, or by id when all digits); servers get the ids read", () => {
    const run = runHcloud(hcloudLayout(), { props: { sshKeys: ["operator", "4711", "operator", "backup key"] } });
    const keys = Object.entries<Res>(run.json.data.hcloud_ssh_key);
    expect(keys.map(([, d]) => d).sort((a, b) => String(a.name ?? a.id).localeCompare(String(b.name ?? b.id)))).toEqual(
      [{ id: 4711 }, { name: "backup key" }, { name: "operator" }].map((d) => expect.objectContaining(d)),
    );
    for (const [, d] of keys) expect(Object.keys(d).filter((k) => k !== "//")).toHaveLength(1);
    const ids = ["operator", 4711, "operator", "backup key"].map((k) => dataRef(run.json, "hcloud_ssh_key", k));
    for (const node of run.topology.nodes) {
      const { res } = serverOf(run, node.name);
      expect(res.ssh_keys).toEqual(ids);
      expect(res.lifecycle.ignore_changes).toContain("ssh_keys");
    }
    // Names that construct ids would spell alike (`/` becomes `--`) stay two lookups.
    const alike = runHcloud(hcloudLayout(), { props: { sshKeys: ["ops/a", "ops--a", "ops%2Fa"] } });
    expect(
      data(alike.json, "hcloud_ssh_key")
        .map((d) => d.name)
        .sort(),
    ).toEqual(["ops%2Fa", "ops--a", "ops/a"]);
    // Without sshKeys: no lookup, no ssh_keys.
    const none = runHcloud(hcloudLayout());
    expect(none.json.data.hcloud_ssh_key).toBeUndefined();
    expect(serverOf(none, "mail1").res.ssh_keys).toBeUndefined();
  });

  test("tokens pass as they are: a variable as key or type is not looked up; a variable as location drops the postcondition", () => {
    const token = (expression: string) => Lazy.stringValue({ produce: () => expression });
    const run = runHcloud(hcloudLayout(), {
      props: {
        location: token("${var.location}"),
        networkZone: "eu-central",
        sshKeys: [token("${var.key}")],
        serverTypes: { mailbox: token("${var.type}") },
      },
    });
    expect(run.issues).toEqual([]);
    expect(run.json.data.hcloud_ssh_key).toBeUndefined();
    expect(serverOf(run, "mail1").res.ssh_keys).toEqual(["${var.key}"]);
    expect(serverOf(run, "mail1").res.server_type).toBe("${var.type}");
    const types = data(run.json, "hcloud_server_type");
    expect(types.map((d) => d.name).sort()).toEqual(["cpx22", "cpx32", "cpx42"]);
    expect(types.every((d) => d.lifecycle === undefined)).toBe(true);
  });
});

describe("Hetzner platform: cloud firewall (public side only)", () => {
  const admin = ["203.0.113.0/24"];
  const ssh = ["198.51.100.7", "2001:db8:7::/48"];
  const run = runHcloud(hcloudLayout(), { sshAllowFrom: ssh });
  const firewalls = byName(run.json, "hcloud_firewall");

  test("no internal port is open to the world; every open port is a public/admin/operator port", () => {
    const internal = new Set<number>(
      (Object.keys(PORTS) as PortKey[])
        .filter((k) => ["cluster", "local"].includes(PORTS[k].exposure))
        .map((k) => PORTS[k].port),
    );
    const publicPorts = new Set(
      (Object.keys(PORTS) as PortKey[]).filter((k) => PORTS[k].exposure === "public").map((k) => String(PORTS[k].port)),
    );
    for (const { res } of firewalls.values()) {
      for (const rule of res.rule) {
        expect(rule.direction).toBe("in");
        if (rule.protocol === "icmp") continue;
        const key = rule.description as PortKey;
        expect(["public", "admin", "operator"]).toContain(PORTS[key].exposure);
        if (rule.source_ips.some(isWorld)) expect(publicPorts.has(rule.port)).toBe(true);
        // A port that is also internal elsewhere (25 on classic nodes) is only open on the LB group.
        if (internal.has(Number(rule.port))) expect(res.name).toBe("mail-load-balancer");
      }
    }
  });

  test("frontends only on the load-balancer group; 8443 only from adminAllowFrom; SSH only from the operators", () => {
    expect([...firewalls.keys()].sort()).toEqual(["mail-all-nodes", "mail-load-balancer", "mail-node"]);
    expect(firewalls.get("mail-all-nodes")!.res.rule).toEqual([
      { direction: "in", protocol: "icmp", source_ips: ["0.0.0.0/0", "::/0"], description: "ICMP (ping, path MTU)" },
    ]);
    expect(firewalls.get("mail-node")!.res.rule).toEqual([
      {
        direction: "in",
        protocol: "tcp",
        port: "22",
        source_ips: ["198.51.100.7/32", "2001:db8:7::/48"],
        description: "ssh",
      },
    ]);
    const lb = firewalls.get("mail-load-balancer")!.res.rule;
    expect(lb.map((r: Res) => [r.port, r.source_ips])).toEqual([
      ["25", ["0.0.0.0/0", "::/0"]],
      ["80", ["0.0.0.0/0", "::/0"]],
      ["443", ["0.0.0.0/0", "::/0"]],
      ["587", ["0.0.0.0/0", "::/0"]],
      ["993", ["0.0.0.0/0", "::/0"]],
      ["995", ["0.0.0.0/0", "::/0"]],
      ["8443", admin],
    ]);
  });

  test("every server carries the base firewall from creation (firewall_ids), LB nodes also the frontends", () => {
    const key = (name: string) => firewalls.get(name)!.key;
    for (const node of run.topology.nodes) {
      const ids = serverOf(run, node.name).res.firewall_ids;
      const expected = ["mail-all-nodes", "mail-node", ...(node.has("load-balancer") ? ["mail-load-balancer"] : [])];
      expect(ids).toEqual(expected.map((n) => ref(run.json, "hcloud_firewall", key(n))));
    }
  });

  test("without sshAllowFrom nobody reaches SSH (no node firewall at all)", () => {
    const none = runHcloud(hcloudLayout());
    expect([...byName(none.json, "hcloud_firewall").keys()].sort()).toEqual(["mail-all-nodes", "mail-load-balancer"]);
  });
});

describe("Hetzner platform: in-guest nftables for the private network", () => {
  const run = runHcloud(hcloudLayout(), { sshAllowFrom: ["198.51.100.7"] });

  test("each internal rule admits exactly the synthesized addresses of clientsOf(port)", () => {
    const ipToNode = new Map<string, string>();
    for (const node of run.topology.nodes) ipToNode.set(serverOf(run, node.name).res.network[0].ip, node.name);
    let checked = 0;
    for (const node of run.topology.nodes) {
      const text = userDataText(serverOf(run, node.name).res.user_data);
      const nft = gunzipSync(Buffer.from(parse(text).write_files[0].content, "base64")).toString("utf8");
      expect(nft).toBe(run.nftables.get(node.name));
      for (const m of nft.matchAll(/ip saddr (\{ [^}]+ \}|\S+) tcp dport (\d+) accept comment "(\w+)"/g)) {
        const key = m[3] as PortKey;
        if (PORTS[key].exposure !== "cluster") continue;
        const addrs = nftAddresses(m[1]!);
        expect(addrs.map((a) => ipToNode.get(a))).toEqual(run.topology.clientsOf(key).map((n) => n.name));
        expect(Number(m[2])).toBe(PORTS[key].port);
        checked++;
      }
      // Internal ports are never accepted without a source match.
      expect(nft).not.toMatch(/^\s+tcp dport (5000|5555|6666|33333|3306|10080|10443|10025) accept/m);
    }
    expect(checked).toBeGreaterThan(20);
  });
});

describe("Hetzner platform: Hetzner load balancer in front of the LB tier", () => {
  const run = runHcloud(hcloudLayout(), { cloudLoadBalancer: true, sshAllowFrom: ["198.51.100.7"] });
  const { json } = run;

  test("LB in the services subnet at a fixed address, tcp services with PROXY, private targets", () => {
    expect(run.issues).toEqual([]);
    const [lbKey, lb] = Object.entries<Res>(json.resource.hcloud_load_balancer)[0]!;
    expect(lb).toEqual({
      name: "mail-lb",
      load_balancer_type: "lb21",
      location: "fsn1",
      algorithm: { type: "round_robin" },
      labels: { "grommunio-cluster": "mail" },
    });
    const subnets = byName(json, "hcloud_network_subnet");
    const services = Object.entries<Res>(json.resource.hcloud_network_subnet).find(
      ([, s]) => s.ip_range === "10.10.11.0/24",
    );
    expect(services).toBeDefined();
    expect(subnets.size).toBe(2);
    const attachment = Object.values<Res>(json.resource.hcloud_load_balancer_network);
    expect(attachment).toEqual([
      {
        load_balancer_id: ref(json, "hcloud_load_balancer", lbKey),
        subnet_id: ref(json, "hcloud_network_subnet", services![0]),
        ip: "10.10.11.2",
        enable_public_interface: true,
      },
    ]);
    const svc = Object.values<Res>(json.resource.hcloud_load_balancer_service);
    expect(svc.map((s) => s.listen_port).sort((a, b) => a - b)).toEqual([25, 80, 443, 587, 993, 995]);
    for (const s of svc) {
      // load_balancer_id is a STRING on services (a number on targets and network attachments).
      expect(s).toEqual({
        load_balancer_id: ref(json, "hcloud_load_balancer", lbKey),
        protocol: "tcp",
        listen_port: s.listen_port,
        destination_port: s.listen_port,
        proxyprotocol: true,
        health_check: { protocol: "tcp", port: s.listen_port, interval: 10, timeout: 5, retries: 3 },
      });
    }
    const attachmentKey = Object.keys(json.resource.hcloud_load_balancer_network)[0]!;
    const targets = Object.values<Res>(json.resource.hcloud_load_balancer_target);
    expect(targets).toEqual(
      ["lb1", "lb2"].map((n) => ({
        type: "server",
        load_balancer_id: ref(json, "hcloud_load_balancer", lbKey),
        server_id: ref(json, "hcloud_server", serverOf(run, n).key),
        use_private_ip: true,
        depends_on: [`hcloud_load_balancer_network.${attachmentKey}`],
      })),
    );
  });

  test("the tier's frontends are closed to the internet and open in the guest only to the LB's address", () => {
    const names = [...byName(json, "hcloud_firewall").keys()].sort();
    expect(names).toEqual(["mail-all-nodes", "mail-node"]);
    const nft = run.nftables.get("lb1")!;
    for (const port of [25, 80, 443, 587, 993, 995]) {
      expect(nft).toMatch(new RegExp(`ip saddr 10\\.10\\.11\\.2 tcp dport ${port} accept`));
    }
    expect(nft).not.toMatch(/^\s+tcp dport (25|443) accept/m);
  });

  test("the admin frontend is not forwarded (a Hetzner LB cannot filter sources): warning", () => {
    const svc = Object.values<Res>(json.resource.hcloud_load_balancer_service);
    expect(svc.some((s) => s.listen_port === 8443)).toBe(false);
    expect(run.stack).toBeDefined();
    const warnings = run.stack.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === "@cdktf/warn")
      .map((m) => String(m.data));
    expect(warnings).toEqual([
      expect.stringMatching(/cannot restrict client addresses: publicAdmin \(8443\) is not forwarded/),
    ]);
  });

  test("without PROXY protocol: plain TCP services and a warning that client addresses are lost", () => {
    const plain = runHcloud(hcloudLayout(), { cloudLoadBalancer: true, proxyProtocol: false });
    expect(
      Object.values<Res>(plain.json.resource.hcloud_load_balancer_service).every((s) => s.proxyprotocol === false),
    ).toBe(true);
    const warnings = plain.stack.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === "@cdktf/warn")
      .map((m) => String(m.data));
    expect(warnings).toContainEqual(expect.stringMatching(/tier sees 10\.10\.11\.2 as every client's address/));
  });
});

describe("Hetzner platform: stability and user-data", () => {
  test("adding a node changes no other resource's address or non-user-data settings", () => {
    const before = runHcloud(hcloudLayout(), { sshAllowFrom: ["198.51.100.7"] });
    const after = runHcloud(
      hcloudLayout([
        { name: "mail4", hostname: "mail4.int.example.com", roles: ["mailbox"], ipv4: "10.10.10.24", serverId: 4 },
      ]),
      { sshAllowFrom: ["198.51.100.7"] },
    );
    const strip = (r: Res) => {
      const { user_data: _u, ...rest } = r;
      void _u;
      return rest;
    };
    let compared = 0;
    for (const [type, resources] of Object.entries<Record<string, Res>>(before.json.resource)) {
      for (const [key, res] of Object.entries(resources)) {
        expect(after.json.resource[type]?.[key]).toBeDefined();
        expect(strip(after.json.resource[type][key])).toEqual(strip(res));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(20);
    const added = Object.keys(after.json.resource.hcloud_server).filter((k) => !before.json.resource.hcloud_server[k]);
    expect(added).toEqual([expect.stringMatching(/^mail_mail4_server_/)]);
    // With "replace", peers whose config names mail4 (allow lists) would be replaced: their user_data changed.
    const changed = before.topology.nodes
      .filter((n) => serverOf(before, n.name).res.user_data !== serverOf(after, n.name).res.user_data)
      .map((n) => n.name);
    expect(changed).toEqual(expect.arrayContaining(["db1", "mail1", "mail2", "mail3"]));
  });

  test("gzip user-data travels as base64 text and decodes back to the same cloud-config", () => {
    const run = runHcloud(hcloudLayout(), { gzip: true });
    for (const node of run.topology.nodes) {
      const raw: string = serverOf(run, node.name).res.user_data;
      const hasVolume = node.has("mailbox") || node.has("database");
      expect(raw.startsWith("#cloud-config")).toBe(hasVolume);
      if (!hasVolume) expect(raw).toMatch(/^[A-Za-z0-9+/]+=*$/);
      const text = userDataText(raw);
      if (hasVolume) expect(text).toMatch(/scsi-0HC_Volume_\$\{hcloud_volume\.mail_\w+_data-volume_[0-9A-F]{8}\.id\}/);
      else expect(text).toBe(run.cloudConfig.get(node.name));
      const doc = parse(text);
      expect(doc.fqdn).toBe(node.hostname);
      expect(doc.write_files[0]).toMatchObject({ path: "/etc/nftables.conf", permissions: "0755", encoding: "gz+b64" });
    }
  });
});
