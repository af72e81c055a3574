import "cdktf/lib/testing/adapters/jest";
import { parse } from "yaml";
import { Testing } from "cdktf";
import { KvmExampleOptions, kvmExample } from "../../examples/kvm/main";
import { GrommunioCluster } from "../../lib/cluster";
import { LIBVIRT_CAPABILITIES, LibvirtDeployment } from "../../lib/platforms/libvirt";
import { VM_DEFAULT_SIZES, parseVmSize } from "../../lib/platforms/vm";
import { PORTS, PortKey } from "../../lib/topology";
import { Res, libvirtSeeds, writtenFiles } from "./vm-support";
import { nftAddresses } from "../fixtures";

function synth(options: KvmExampleOptions = {}) {
  const stack = kvmExample(Testing.app(), options);
  const json = JSON.parse(Testing.synth(stack, true));
  const cluster = stack.node.findChild("mail") as GrommunioCluster<LibvirtDeployment>;
  return { stack, json, cluster };
}

const ref = (type: string, key: string, attr = "id") => `\${${type}.${key}.${attr}}`;

/** The resource of `type` whose key belongs to node `node` (keys are `mail_<node>_<id>_<hash>`). */
function ofNode(json: any, type: string, node: string, id: string): { key: string; res: Res } {
  const hits = Object.entries<Res>(json.resource[type] ?? {}).filter(([k]) =>
    new RegExp(`^mail(_lb)?_${node}_${id}_[0-9A-F]{8}$`).test(k),
  );
  expect(hits).toHaveLength(1);
  return { key: hits[0]![0], res: hits[0]![1] };
}

describe("libvirt platform: the documented layout (examples/kvm)", () => {
  const { json, cluster } = synth();
  const topo = cluster.topology;
  const seeds = libvirtSeeds(json);

  test("one network, one base image; per node a seed, a root overlay and a domain; data volumes; pinned provider", () => {
    const platformTypes = Object.entries<Res>(json.resource).filter(([t]) => t.startsWith("libvirt_"));
    expect(Object.fromEntries(platformTypes.map(([t, r]) => [t, Object.keys(r).length]))).toEqual({
      libvirt_cloudinit_disk: 8,
      libvirt_domain: 8,
      libvirt_network: 1,
      libvirt_volume: 1 + 8 + 4,
    });
    expect(json.terraform.required_providers.libvirt).toEqual({ source: "dmacvicar/libvirt", version: "0.8.3" });
    expect(json.provider.libvirt).toEqual([{ uri: "qemu:///system" }]);
    expect(Object.values<Res>(json.resource.libvirt_network)).toEqual([
      {
        name: "mail",
        mode: "nat",
        addresses: ["10.10.10.0/24"],
        autostart: true,
        dhcp: { enabled: false },
        dns: { enabled: true },
      },
    ]);
  });

  test("resources are keyed by node name and named after the FQDN; sizes by role", () => {
    for (const node of topo.nodes) {
      const domain = ofNode(json, "libvirt_domain", node.name, "domain");
      const seed = ofNode(json, "libvirt_cloudinit_disk", node.name, "cloudinit");
      const root = ofNode(json, "libvirt_volume", node.name, "root");
      const size = parseVmSize(VM_DEFAULT_SIZES[[...node.roles][0]!])!;
      expect(domain.res).toMatchObject({
        name: node.hostname,
        vcpu: size.vcpus,
        memory: size.memoryMiB,
        autostart: true,
        running: true,
        cloudinit: ref("libvirt_cloudinit_disk", seed.key),
        cpu: { mode: "host-model" },
        console: [{ type: "pty", target_port: "0", target_type: "serial" }],
        graphics: { type: "vnc", listen_type: "address", listen_address: "127.0.0.1", autoport: true },
      });
      // i440FX by default: the provider's IDE CD-ROM works, no machine type, no rewrite.
      expect(domain.res.machine).toBeUndefined();
      expect(domain.res.xml).toBeUndefined();
      expect(seed.res).toMatchObject({ name: `${node.hostname}-cloudinit.iso`, pool: "default" });
      expect(root.res).toMatchObject({
        name: `${node.hostname}-root.qcow2`,
        pool: "default",
        format: "qcow2",
        size: 20 * 1024 ** 3,
        base_volume_id: ref(
          "libvirt_volume",
          Object.keys(json.resource.libvirt_volume).find((k) => k.includes("_image_base_"))!,
        ),
      });
      expect(domain.res.disk[0]).toEqual({ volume_id: ref("libvirt_volume", root.key) });
    }
    const base = Object.entries<Res>(json.resource.libvirt_volume).filter(([k]) => k.startsWith("mail_image_base_"));
    expect(base.map(([, r]) => r)).toEqual([
      {
        name: "mail-base.qcow2",
        pool: "default",
        format: "qcow2",
        source: "/var/lib/libvirt/images/debian-12-genericcloud-amd64-20250428-2096.qcow2",
      },
    ]);
  });

  test("static addresses: the seed's network-config sets the node's address on the NIC the domain gets (by MAC)", () => {
    expect(seeds.size).toBe(8);
    for (const node of topo.nodes) {
      const seed = seeds.get(node.name)!;
      const net = parse(seed.networkConfig, { version: "1.1" });
      const domain = ofNode(json, "libvirt_domain", node.name, "domain").res;
      const last = node.ipv4.split(".").map(Number);
      const mac = `52:54:00:${last
        .slice(1)
        .map((b) => b.toString(16).padStart(2, "0"))
        .join(":")}`;
      expect(domain.network_interface).toEqual([
        {
          network_id: ref("libvirt_network", Object.keys(json.resource.libvirt_network)[0]!),
          mac,
          wait_for_lease: false,
        },
      ]);
      expect(net).toEqual({
        version: 2,
        ethernets: {
          cluster0: {
            match: { macaddress: mac },
            "set-name": "cluster0",
            addresses: [`${node.ipv4}/24`],
            gateway4: "10.10.10.1",
            nameservers: { addresses: ["10.10.10.1"] },
          },
        },
      });
      const meta = parse(seed.metaData);
      expect(meta["local-hostname"]).toBe(node.name);
      expect(meta["instance-id"]).toMatch(new RegExp(`^iid-${node.name}-[0-9a-f]{16}$`));
    }
    // Every address differs, so every MAC does.
    expect(
      new Set([...seeds.values()].map((s) => parse(s.networkConfig).ethernets.cluster0.match.macaddress)).size,
    ).toBe(8);
  });

  test("user-data decodes and parses back: host name, the node's files, mounts of /dev/vdb by label", () => {
    for (const node of topo.nodes) {
      const seed = seeds.get(node.name)!;
      expect(seed.userData.startsWith("#cloud-config\n")).toBe(true);
      const doc = parse(seed.userData, { version: "1.1" });
      expect(doc).toMatchObject({ hostname: node.name, fqdn: node.hostname, manage_etc_hosts: false });
      const files = writtenFiles(seed.userData);
      expect(files.has("/etc/nftables.conf")).toBe(true);
      expect(files.get("/etc/hosts")).toContain(`${node.ipv4} ${node.hostname}`);
      if (node.has("mailbox")) expect(files.has("/etc/gromox/exmdb_provider.cfg")).toBe(true);
      if (node.has("load-balancer")) expect(files.has("/etc/haproxy/haproxy.cfg")).toBe(true);
      if (node.has("database")) expect(files.has("/etc/mysql/mariadb.conf.d/60-grommunio.cnf")).toBe(true);
      const withData = node.has("mailbox") || node.has("database");
      expect(seed.userData.includes("- /dev/vdb\n")).toBe(withData);
    }
  });

  test("the addresses in gromox allow lists and nftables are exactly the network-config addresses of the clients", () => {
    const addressOf = new Map(
      [...seeds.values()].map((s) => [
        s.node,
        parse(s.networkConfig).ethernets.cluster0.addresses[0].split("/")[0] as string,
      ]),
    );
    const nodeAt = new Map([...addressOf].map(([n, a]) => [a, n]));
    let allowLists = 0;
    let rules = 0;
    for (const node of topo.nodes) {
      const files = writtenFiles(seeds.get(node.name)!.userData);
      for (const [key, file] of [
        ["exmdb", "/etc/gromox/exmdb_provider.cfg"],
        ["midb", "/etc/gromox/midb.cfg"],
      ] as const) {
        const line = files.get(file)?.match(new RegExp(`^${key}_hosts_allow\\s*=\\s*(.*)$`, "m"));
        if (!line) continue;
        const peers = line[1]!.split(/\s+/).filter((a) => a !== "::1");
        expect(peers.map((p) => nodeAt.get(p.replace(/^::ffff:/, ""))).sort()).toEqual(
          topo
            .clientsOf(key)
            .map((n) => n.name)
            .sort(),
        );
        allowLists++;
      }
      const nft = files.get("/etc/nftables.conf")!;
      for (const m of nft.matchAll(/ip saddr (\{ [^}]+ \}|\S+) tcp dport (\d+) accept comment "(\w+)"/g)) {
        const key = m[3] as PortKey;
        if (!(key in PORTS) || PORTS[key].exposure !== "cluster") continue;
        const addrs = nftAddresses(m[1]!);
        expect(addrs.map((a) => nodeAt.get(a)).sort()).toEqual(
          topo
            .clientsOf(key)
            .map((n) => n.name)
            .sort(),
        );
        rules++;
      }
      // Without a provider firewall, the private side is closed in the guest.
      expect(nft).not.toMatch(/^\s+tcp dport (5000|5555|6666|33333|3306) accept/m);
    }
    expect(allowLists).toBeGreaterThanOrEqual(6);
    expect(rules).toBeGreaterThan(20);
  });

  test("data volumes: qcow2 of the asked size, prevent_destroy, attached after the root disk", () => {
    for (const node of topo.nodes.filter((n) => n.has("mailbox") || n.has("database"))) {
      const data = ofNode(json, "libvirt_volume", node.name, "data-volume");
      expect(data.res).toEqual({
        name: `${node.hostname}-data.qcow2`,
        pool: "default",
        format: "qcow2",
        size: (node.has("database") ? 50 : 200) * 1024 ** 3,
        lifecycle: { prevent_destroy: true },
      });
      const domain = ofNode(json, "libvirt_domain", node.name, "domain").res;
      expect(domain.disk).toHaveLength(2);
      expect(domain.disk[1]).toEqual({ volume_id: ref("libvirt_volume", data.key) });
    }
  });

  test("user-data stays far below the platform's ceiling", () => {
    expect(cluster.userDataReports.size).toBe(8);
    for (const r of cluster.userDataReports.values()) {
      expect(r.encoding).toBe("text");
      expect(r.limitBytes).toBe(LIBVIRT_CAPABILITIES.userData.limitBytes);
      expect(r.fraction).toBeLessThan(0.1);
    }
  });
});

describe("libvirt configChangePolicy", () => {
  test("replace (default): a new seed re-creates the root overlay and the domain; the data volumes stay", () => {
    expect(LIBVIRT_CAPABILITIES.defaultConfigChangePolicy).toBe("replace");
    const { json, cluster } = synth();
    for (const node of cluster.topology.nodes) {
      const seed = ofNode(json, "libvirt_cloudinit_disk", node.name, "cloudinit");
      const trigger = { replace_triggered_by: [`\${libvirt_cloudinit_disk.${seed.key}}`] };
      expect(ofNode(json, "libvirt_volume", node.name, "root").res.lifecycle).toEqual(trigger);
      expect(ofNode(json, "libvirt_domain", node.name, "domain").res.lifecycle).toEqual(trigger);
      expect(seed.res.lifecycle).toBeUndefined();
    }
  });

  test("ignore: running nodes keep their seed (ignore_changes), nothing is re-created", () => {
    const { json, cluster } = synth({ configChangePolicy: "ignore" });
    for (const node of cluster.topology.nodes) {
      expect(ofNode(json, "libvirt_cloudinit_disk", node.name, "cloudinit").res.lifecycle).toEqual({
        ignore_changes: ["user_data", "meta_data", "network_config"],
      });
      expect(ofNode(json, "libvirt_volume", node.name, "root").res.lifecycle).toBeUndefined();
      expect(ofNode(json, "libvirt_domain", node.name, "domain").res.lifecycle).toBeUndefined();
    }
  });

  test("the instance-id follows the configuration: same synth, same id; changed user-data, new id", () => {
    const a = libvirtSeeds(synth().json);
    const b = libvirtSeeds(synth().json);
    const c = libvirtSeeds(synth({ mailboxNodes: ["mail1", "mail2", "mail3", "mail4"] }).json);
    for (const [name, seed] of a) {
      expect(b.get(name)!.metaData).toBe(seed.metaData);
      const other = c.get(name)!;
      // mail4 joins the exmdb allow lists of the mailbox nodes, /etc/hosts everywhere.
      expect(other.userData).not.toBe(seed.userData);
      expect(parse(other.metaData)["instance-id"]).not.toBe(parse(seed.metaData)["instance-id"]);
    }
  });
});

describe("libvirt stability when a node is added", () => {
  test("no existing resource key, name, address or setting changes; only seeds' user-data and meta-data", () => {
    const before = synth().json;
    const after = synth({ mailboxNodes: ["mail1", "mail2", "mail3", "mail4"] }).json;
    let compared = 0;
    for (const [type, resources] of Object.entries<Record<string, Res>>(before.resource)) {
      for (const key of Object.keys(resources)) expect(after.resource[type]?.[key]).toBeDefined();
    }
    const platformTypes = Object.entries<Record<string, Res>>(before.resource).filter(([t]) =>
      t.startsWith("libvirt_"),
    );
    for (const [type, resources] of platformTypes) {
      for (const [key, res] of Object.entries(resources)) {
        const strip = (r: Res) => {
          const { user_data: _u, meta_data: _m, ...rest } = r;
          void _u;
          void _m;
          return rest;
        };
        expect(strip(after.resource[type][key])).toEqual(strip(res));
        compared++;
      }
    }
    expect(compared).toBe(8 + 8 + 1 + 13);
    const seeds = libvirtSeeds(after);
    expect(parse(seeds.get("mail4")!.networkConfig).ethernets.cluster0.addresses).toEqual(["10.10.10.24/24"]);
    expect(Object.keys(after.resource.libvirt_domain).filter((k) => k.startsWith("mail_mail4_domain_"))).toHaveLength(
      1,
    );
  });
});

describe("libvirt q35 / UEFI: the cloud-init CD-ROM leaves IDE", () => {
  test("q35: machine q35 (expanded name ignored), xslt to virtio-scsi with a controller", () => {
    const { json } = synth({ platform: { machineType: "q35" } });
    for (const domain of Object.values<Res>(json.resource.libvirt_domain)) {
      expect(domain.machine).toBe("q35");
      expect(domain.lifecycle.ignore_changes).toEqual(["machine"]);
      expect(domain.xml.xslt).toContain(
        `<xsl:template match="/domain/devices/disk[@device='cdrom'][serial='cloudinit']/target">`,
      );
      expect(domain.xml.xslt).toContain('<target dev="sda" bus="scsi"/>');
      expect(domain.xml.xslt).toContain('<controller type="scsi" index="0" model="virtio-scsi"/>');
    }
  });

  test("sata on request; UEFI on pc also moves it; ide stays without a stylesheet", () => {
    const sata = synth({ platform: { machineType: "q35", cloudInitBus: "sata" } }).json;
    for (const domain of Object.values<Res>(sata.resource.libvirt_domain)) {
      expect(domain.xml.xslt).toContain('<target dev="sda" bus="sata"/>');
      expect(domain.xml.xslt).not.toContain("controller");
    }
    const uefi = synth({ platform: { uefi: { firmware: "/usr/share/OVMF/OVMF_CODE_4M.fd" } } }).json;
    for (const domain of Object.values<Res>(uefi.resource.libvirt_domain)) {
      expect(domain.firmware).toBe("/usr/share/OVMF/OVMF_CODE_4M.fd");
      expect(domain.machine).toBeUndefined();
      expect(domain.xml.xslt).toContain('bus="scsi"');
    }
  });
});

describe("libvirt platform options", () => {
  test("route mode, own network name and resolvers, pool, sizes per role and per node, root size, unprotected data", () => {
    const { json, cluster } = synth({
      platform: {
        network: { mode: "route", name: "grx", dnsServers: ["192.0.2.53"] },
        pool: "fast",
        sizes: { mailbox: "8cpu-32gb" },
        rootDiskGb: 40,
        protectData: false,
        cpuMode: "host-passthrough",
      },
    });
    expect(Object.values<Res>(json.resource.libvirt_network)[0]).toMatchObject({ name: "grx", mode: "route" });
    const mail1 = ofNode(json, "libvirt_domain", "mail1", "domain").res;
    expect(mail1).toMatchObject({ vcpu: 8, memory: 32768, cpu: { mode: "host-passthrough" } });
    expect(ofNode(json, "libvirt_volume", "mail1", "root").res).toMatchObject({ pool: "fast", size: 40 * 1024 ** 3 });
    expect(ofNode(json, "libvirt_volume", "mail1", "data-volume").res.lifecycle).toBeUndefined();
    const net = parse(libvirtSeeds(json).get("mail1")!.networkConfig);
    expect(net.ethernets.cluster0.nameservers).toEqual({ addresses: ["192.0.2.53"] });
    expect(cluster.deployment.gateway).toBe("10.10.10.1");
  });

  test("resources stay reachable for overrides", () => {
    const { cluster } = synth();
    const d = cluster.deployment;
    expect(d.libvirtNetwork.nameInput).toBe("mail");
    const mail1 = d.machines.get("mail1")!;
    expect(mail1.resource).toBe(mail1.domain);
    expect(mail1.dataVolumes).toHaveLength(1);
    expect(mail1.mac).toBe("52:54:00:0a:0a:15");
    expect(d.cloudInitBus).toBe("ide");
  });
});
