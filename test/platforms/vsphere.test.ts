import "cdktf/lib/testing/adapters/jest";
import { createHash } from "node:crypto";
import { parse } from "yaml";
import { Testing } from "cdktf";
import { VmwareExampleOptions, vmwareExample } from "../../examples/vmware/main";
import { GrommunioCluster } from "../../lib/cluster";
import { GUESTINFO, VSPHERE_CAPABILITIES, VsphereDeployment } from "../../lib/platforms/vsphere";
import { VM_DEFAULT_SIZES, parseVmSize } from "../../lib/platforms/vm";
import { PORTS, PortKey } from "../../lib/topology";
import { evaluateTemplate } from "./terraform-eval";
import { Res, stackResolver, vsphereGuests, writtenFiles } from "./vm-support";
import { nftAddresses } from "../fixtures";

function synth(options: VmwareExampleOptions = {}) {
  const stack = vmwareExample(Testing.app(), options);
  const json = JSON.parse(Testing.synth(stack, true));
  const cluster = stack.node.findChild("mail") as GrommunioCluster<VsphereDeployment>;
  return { stack, json, cluster };
}

function ofNode(json: any, type: string, node: string, id: string): { key: string; res: Res } {
  const hits = Object.entries<Res>(json.resource[type] ?? {}).filter(([k]) =>
    new RegExp(`^mail(_lb)?_${node}_${id}_[0-9A-F]{8}$`).test(k),
  );
  expect(hits).toHaveLength(1);
  return { key: hits[0]![0], res: hits[0]![1] };
}

const dataKey = (json: any, type: string) => Object.keys(json.data[type])[0]!;

describe("vSphere platform: the documented layout (examples/vmware)", () => {
  const { json, cluster } = synth();
  const topo = cluster.topology;
  const guests = vsphereGuests(json);

  test("data sources for datacenter, datastore, compute cluster, port group, template; VMs, data disks; pinned provider from variables", () => {
    const platformTypes = Object.entries<Res>(json.resource).filter(([t]) => t.startsWith("vsphere_"));
    expect(Object.fromEntries(platformTypes.map(([t, r]) => [t, Object.keys(r).length]))).toEqual({
      vsphere_virtual_disk: 4,
      vsphere_virtual_machine: 8,
    });
    expect(Object.fromEntries(Object.entries<Res>(json.data).map(([t, r]) => [t, Object.values(r)]))).toEqual({
      vsphere_datacenter: [{ name: "dc1" }],
      vsphere_datastore: [
        { name: "datastore1", datacenter_id: `\${data.vsphere_datacenter.${dataKey(json, "vsphere_datacenter")}.id}` },
      ],
      vsphere_compute_cluster: [{ name: "cluster1", datacenter_id: expect.stringContaining("vsphere_datacenter") }],
      vsphere_network: [{ name: "grommunio", datacenter_id: expect.stringContaining("vsphere_datacenter") }],
      vsphere_virtual_machine: [
        { name: "debian-12-cloudinit", datacenter_id: expect.stringContaining("vsphere_datacenter") },
      ],
    });
    expect(json.terraform.required_providers.vsphere).toEqual({ source: "vmware/vsphere", version: "2.15.0" });
    expect(json.provider.vsphere).toEqual([
      { vsphere_server: "${var.vsphere_server}", user: "${var.vsphere_user}", password: "${var.vsphere_password}" },
    ]);
    expect(json.variable.vsphere_password.sensitive).toBe(true);
  });

  test("one VM per node, keyed by name, cloned from the template with its hardware; static MAC; sizes by role", () => {
    const template = dataKey(json, "vsphere_virtual_machine");
    const tpl = (attr: string) => `\${data.vsphere_virtual_machine.${template}.${attr}}`;
    for (const node of topo.nodes) {
      const { res } = ofNode(json, "vsphere_virtual_machine", node.name, "vm");
      const size = parseVmSize(VM_DEFAULT_SIZES[[...node.roles][0]!])!;
      const last = node.ipv4.split(".").map(Number);
      expect(res).toMatchObject({
        name: node.hostname,
        folder: "grommunio",
        num_cpus: size.vcpus,
        memory: size.memoryMiB,
        guest_id: tpl("guest_id"),
        firmware: tpl("firmware"),
        scsi_type: tpl("scsi_type"),
        enable_disk_uuid: true,
        clone: { template_uuid: tpl("id") },
        resource_pool_id: `\${data.vsphere_compute_cluster.${dataKey(json, "vsphere_compute_cluster")}.resource_pool_id}`,
        datastore_id: `\${data.vsphere_datastore.${dataKey(json, "vsphere_datastore")}.id}`,
        network_interface: [
          {
            network_id: `\${data.vsphere_network.${dataKey(json, "vsphere_network")}.id}`,
            adapter_type: `\${element(data.vsphere_virtual_machine.${template}.network_interface_types, 0)}`,
            use_static_mac: true,
            mac_address: `00:50:56:${last
              .slice(1)
              .map((b) => b.toString(16).padStart(2, "0"))
              .join(":")}`,
          },
        ],
      });
      expect(res.disk[0]).toEqual({
        label: "disk0",
        unit_number: 0,
        size: tpl("disks[0].size"),
        thin_provisioned: tpl("disks[0].thin_provisioned"),
        eagerly_scrub: tpl("disks[0].eagerly_scrub"),
      });
      expect(res.clone.customize).toBeUndefined();
    }
  });

  test("guestinfo: user-data and metadata gzip+base64; metadata carries instance-id, local-hostname and the static network", () => {
    expect(guests.size).toBe(8);
    for (const node of topo.nodes) {
      const g = guests.get(node.name)!;
      const ec = g.resource.extra_config;
      expect(Object.keys(ec).sort()).toEqual(Object.values(GUESTINFO).sort());
      expect(ec[GUESTINFO.userDataEncoding]).toBe("gzip+base64");
      expect(ec[GUESTINFO.metadataEncoding]).toBe("gzip+base64");
      const meta = parse(g.metadata, { version: "1.1" });
      const mac = g.resource.network_interface[0].mac_address;
      expect(meta).toEqual({
        "instance-id": expect.stringMatching(new RegExp(`^iid-${node.name}-[0-9a-f]{16}$`)),
        "local-hostname": node.name,
        network: {
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
        },
      });
      // Text user-data lives in a local (it holds Terraform values) and is gzipped by Terraform;
      // a large document arrives gzipped already (by Terraform, around its Terraform values).
      expect(ec[GUESTINFO.userData]).toMatch(
        cluster.userDataReports.get(node.name)!.encoding === "text"
          ? /^\$\{base64gzip\(local\.mail_(lb_)?\w+_userdata_[0-9A-F]{8}\)\}$/
          : /^\$\{base64gzip\(join\(/,
      );
      const doc = parse(g.userData, { version: "1.1" });
      expect(doc).toMatchObject({ hostname: node.name, fqdn: node.hostname, manage_etc_hosts: false });
      const files = writtenFiles(g.userData);
      expect(files.has("/etc/nftables.conf")).toBe(true);
      const withData = node.has("mailbox") || node.has("database");
      expect(g.userData.includes("- /dev/sdb\n")).toBe(withData);
    }
  });

  test("every guestinfo value stays under ~60 KiB after gzip+base64", () => {
    const resolve = stackResolver(json);
    for (const g of guests.values()) {
      for (const key of [GUESTINFO.userData, GUESTINFO.metadata]) {
        expect(evaluateTemplate(g.resource.extra_config[key], resolve).length).toBeLessThan(61_440);
      }
    }
    for (const r of cluster.userDataReports.values()) {
      expect(r.limitBytes).toBe(61_440);
      expect(r.fraction).toBeLessThan(0.5);
    }
  });

  test("the addresses in gromox allow lists and nftables are exactly the metadata addresses of the clients", () => {
    const nodeAt = new Map(
      [...guests.values()].map((g) => [
        String(parse(g.metadata).network.ethernets.cluster0.addresses[0]).split("/")[0]!,
        g.node,
      ]),
    );
    let checked = 0;
    for (const node of topo.nodes) {
      const files = writtenFiles(guests.get(node.name)!.userData);
      const exmdb = files.get("/etc/gromox/exmdb_provider.cfg")?.match(/^exmdb_hosts_allow\s*=\s*(.*)$/m);
      if (exmdb) {
        const peers = exmdb[1]!.split(/\s+/).filter((a) => a !== "::1");
        expect(peers.map((p) => nodeAt.get(p.replace(/^::ffff:/, ""))).sort()).toEqual(
          topo
            .clientsOf("exmdb")
            .map((n) => n.name)
            .sort(),
        );
        checked++;
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
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  test("data disks: thin vsphere_virtual_disks that outlive the VM, attached at unit 1 with their datastore", () => {
    for (const node of topo.nodes.filter((n) => n.has("mailbox") || n.has("database"))) {
      const disk = ofNode(json, "vsphere_virtual_disk", node.name, "data-disk");
      expect(disk.res).toEqual({
        vmdk_path: `grommunio-mail/${node.hostname}-data.vmdk`,
        datacenter: "dc1",
        datastore: "datastore1",
        size: node.has("database") ? 50 : 200,
        type: "thin",
        create_directories: true,
        lifecycle: { prevent_destroy: true },
      });
      const vm = ofNode(json, "vsphere_virtual_machine", node.name, "vm").res;
      expect(vm.disk).toHaveLength(2);
      expect(vm.disk[1]).toEqual({
        label: "data",
        attach: true,
        path: `\${vsphere_virtual_disk.${disk.key}.vmdk_path}`,
        datastore_id: vm.datastore_id,
        unit_number: 1,
      });
    }
  });
});

describe("vSphere configChangePolicy", () => {
  test("replace (default): replace_trigger = sha256 of the user-data and the metadata, computed by Terraform", () => {
    expect(VSPHERE_CAPABILITIES.defaultConfigChangePolicy).toBe("replace");
    expect(VSPHERE_CAPABILITIES.userData.nativeChangeBehaviour).toBe("never-applied");
    const { json, cluster } = synth();
    const guests = vsphereGuests(json);
    for (const node of cluster.topology.nodes) {
      const g = guests.get(node.name)!;
      const userData = g.resource.extra_config[GUESTINFO.userData] as string;
      const metaHash = createHash("sha256").update(g.metadata).digest("hex");
      // Over the uncompressed text where the platform gzips it, else over what the cluster gzipped.
      const hashed = /^\$\{base64gzip\((local\.\w+)\)\}$/.exec(userData)?.[1] ?? userData.slice(2, -1);
      expect(g.resource.replace_trigger).toBe(`\${sha256(join("\\n", [${hashed}, "${metaHash}"]))}`);
      expect(g.resource.lifecycle).toBeUndefined();
    }
  });

  test("ignore: the guestinfo keys are ignored on running VMs, no replace_trigger", () => {
    const { json } = synth({ configChangePolicy: "ignore" });
    for (const vm of Object.values<Res>(json.resource.vsphere_virtual_machine)) {
      expect(vm.replace_trigger).toBeUndefined();
      expect(vm.lifecycle).toEqual({
        ignore_changes: [
          'extra_config["guestinfo.userdata"]',
          'extra_config["guestinfo.userdata.encoding"]',
          'extra_config["guestinfo.metadata"]',
          'extra_config["guestinfo.metadata.encoding"]',
        ],
      });
    }
  });

  test("the instance-id follows the configuration", () => {
    const a = vsphereGuests(synth().json);
    const b = vsphereGuests(synth().json);
    const c = vsphereGuests(synth({ mailboxNodes: ["mail1", "mail2", "mail3", "mail4"] }).json);
    for (const [name, g] of a) {
      expect(b.get(name)!.metadata).toBe(g.metadata);
      expect(parse(c.get(name)!.metadata)["instance-id"]).not.toBe(parse(g.metadata)["instance-id"]);
    }
  });
});

describe("vSphere stability when a node is added", () => {
  test("no existing resource key, name, MAC or disk changes; only guestinfo and replace_trigger", () => {
    const before = synth().json;
    const after = synth({ mailboxNodes: ["mail1", "mail2", "mail3", "mail4"] }).json;
    let compared = 0;
    const strip = (r: Res) => {
      const { extra_config: _e, replace_trigger: _t, ...rest } = r;
      void _e;
      void _t;
      return rest;
    };
    for (const [type, resources] of Object.entries<Record<string, Res>>(before.resource)) {
      for (const key of Object.keys(resources)) expect(after.resource[type]?.[key]).toBeDefined();
    }
    const platformTypes = Object.entries<Record<string, Res>>(before.resource).filter(([t]) =>
      t.startsWith("vsphere_"),
    );
    for (const [type, resources] of platformTypes) {
      for (const [key, res] of Object.entries(resources)) {
        expect(strip(after.resource[type][key])).toEqual(strip(res));
        compared++;
      }
    }
    expect(compared).toBe(4 + 8);
    expect(after.data).toEqual(before.data);
    const mail4 = vsphereGuests(after).get("mail4")!;
    expect(parse(mail4.metadata).network.ethernets.cluster0.addresses).toEqual(["10.10.10.24/24"]);
    expect(mail4.resource.network_interface[0].mac_address).toBe("00:50:56:0a:0a:18");
  });
});

describe("vSphere platform options", () => {
  test("resource pool instead of a compute cluster, own gateway and search domains, root size, unprotected disks", () => {
    const { json, cluster } = synth({
      platform: {
        computeCluster: undefined,
        resourcePool: "cluster1/Resources/mail",
        network: {
          name: "grommunio",
          gateway: "10.10.10.254",
          dnsServers: ["192.0.2.53"],
          searchDomains: ["example.com"],
        },
        rootDiskGb: 40,
        protectData: false,
        diskFolder: "mail-disks",
        sizes: { "load-balancer": "4cpu-4gb" },
      },
    });
    expect(json.data.vsphere_compute_cluster).toBeUndefined();
    expect(Object.values<Res>(json.data.vsphere_resource_pool)).toEqual([
      { name: "cluster1/Resources/mail", datacenter_id: expect.stringContaining("vsphere_datacenter") },
    ]);
    const lb1 = ofNode(json, "vsphere_virtual_machine", "lb1", "vm").res;
    expect(lb1).toMatchObject({ num_cpus: 4, memory: 4096 });
    expect(lb1.resource_pool_id).toMatch(/^\$\{data\.vsphere_resource_pool\.[\w-]+\.id\}$/);
    expect(lb1.disk[0].size).toBe(40);
    const meta = parse(vsphereGuests(json).get("lb1")!.metadata);
    expect(meta.network.ethernets.cluster0.gateway4).toBe("10.10.10.254");
    expect(meta.network.ethernets.cluster0.nameservers).toEqual({ addresses: ["192.0.2.53"], search: ["example.com"] });
    const disk = ofNode(json, "vsphere_virtual_disk", "mail1", "data-disk").res;
    expect(disk.lifecycle).toBeUndefined();
    expect(disk.vmdk_path).toBe("mail-disks/mail1.example.com-data.vmdk");
    expect(cluster.deployment.machines.get("mail1")!.resource).toBe(cluster.deployment.machines.get("mail1")!.vm);
  });
});
