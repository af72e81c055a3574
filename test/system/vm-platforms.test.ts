import "cdktf/lib/testing/adapters/jest";
/**
 * The VM platforms' cloud-init inputs, read back by the real programs (Debian 12):
 *
 * - every node of examples/kvm (libvirt NoCloud seed) and examples/vmware (vSphere guestinfo,
 *   decoded by cloud-init's own VMware datasource code) passes the strict cloud-init checker;
 * - its network configuration loads in cloud-init and renders (`cloud-init devel net-convert`,
 *   ifupdown and networkd as on Debian) to the node's address, MAC and gateway;
 * - its meta-data names the node with a content-derived instance-id;
 * - the nftables.conf it carries passes `nft -c -f`;
 * - the q35 stylesheet (`xml { xslt }`) moves the provider's IDE seed CD-ROM (xsltproc).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Testing } from "cdktf";
import { kvmExample } from "../../examples/kvm/main";
import { vmwareExample } from "../../examples/vmware/main";
import { cloudInitBusXslt } from "../../lib/platforms/libvirt";
import { evaluateTemplate } from "../platforms/terraform-eval";
import { libvirtSeeds, stackResolver, vsphereGuests } from "../platforms/vm-support";
import { SYSTEM_PYTHON, checkUserData, requireCloudInit } from "./cloud-init";
import { requireProgram, run, scratchDir } from "./support";

const SEED_CHECK = path.join(__dirname, "vm-seed-check.py");

interface Loaded {
  readonly metadata: Record<string, unknown>;
  readonly network: Record<string, any>;
}

function seedCheck(args: readonly string[]): Loaded {
  const r = run(SYSTEM_PYTHON, [SEED_CHECK, ...args]);
  if (r.status !== 0) throw new Error(`vm-seed-check.py ${args[0]}: ${r.stderr || r.stdout}`);
  return JSON.parse(r.stdout) as Loaded;
}

/** `cloud-init devel net-convert` of a network config (YAML/JSON) to `kind` for Debian: the files. */
function netConvert(network: object, kind: "eni" | "networkd"): string {
  const dir = scratchDir("net-convert");
  const input = path.join(dir, "network.json");
  fs.writeFileSync(input, JSON.stringify(network));
  const out = path.join(dir, "out");
  const r = run("cloud-init", [
    "devel",
    "net-convert",
    "-p",
    input,
    "-k",
    "yaml",
    "-d",
    out,
    "-D",
    "debian",
    "-O",
    kind,
  ]);
  if (r.status !== 0) throw new Error(`net-convert ${kind}: ${r.stderr}`);
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.push(`--- ${path.relative(out, p)}\n${fs.readFileSync(p, "utf8")}`);
    }
  };
  walk(out);
  return files.join("\n");
}

function nftCheck(content: string): { status: number; output: string } {
  const nft = requireProgram("nft", "nftables");
  const file = path.join(scratchDir("nft"), "nftables.conf");
  fs.writeFileSync(file, content);
  const r = run(nft, ["-c", "-f", file]);
  return { status: r.status, output: (r.stdout + r.stderr).trim() };
}

/** The checks every node gets, whatever the platform. */
function checkNode(node: string, userData: string, loaded: Loaded, mac: string): void {
  const out = scratchDir(`extract-${node}`);
  const check = checkUserData(userData, out);
  expect(check.problems).toEqual([]);

  expect(loaded.metadata["local-hostname"]).toBe(node);
  expect(String(loaded.metadata["instance-id"])).toMatch(new RegExp(`^iid-${node}-[0-9a-f]{16}$`));
  const eth = loaded.network.ethernets.cluster0;
  expect(loaded.network.version).toBe(2);
  expect(eth.match).toEqual({ macaddress: mac });
  const address = String(eth.addresses[0]);
  const ip = address.split("/")[0]!;

  const eni = netConvert(loaded.network, "eni");
  expect(eni).toMatch(new RegExp(`iface cluster0 inet static\\n\\s+address ${address.replace(/\./g, "\\.")}\\n`));
  expect(eni).toContain(`    gateway ${eth.gateway4}\n`);
  expect(eni).toContain(`ATTR{address}=="${mac}"`);
  const networkd = netConvert(loaded.network, "networkd");
  expect(networkd).toContain(`MACAddress=${mac}`);
  expect(networkd).toContain(`Address=${address}`);
  expect(networkd).toContain(`Gateway=${eth.gateway4}`);

  // The node's own host firewall names its address; nft accepts it.
  const nft = fs.readFileSync(path.join(out, "etc/nftables.conf"), "utf8");
  expect(nft).toContain(`(${ip})`);
  const result = nftCheck(nft);
  expect(result.output).toBe("");
  expect(result.status).toBe(0);
}

describe("examples/kvm: every libvirt NoCloud seed, read by cloud-init 22.4", () => {
  const json = JSON.parse(Testing.synth(kvmExample(Testing.app()), true));
  const seeds = libvirtSeeds(json);
  const macs = new Map<string, string>(
    Object.values<any>(json.resource.libvirt_domain).map((d) => [
      String(d.name).split(".")[0]!,
      String(d.network_interface[0].mac),
    ]),
  );

  beforeAll(() => {
    requireCloudInit();
    requireProgram("nft", "nftables");
  });

  test("the example has the documented eight nodes", () => {
    expect([...seeds.keys()].sort()).toEqual(["classic1", "classic2", "db1", "lb1", "lb2", "mail1", "mail2", "mail3"]);
  });

  test.each([...seeds.keys()].sort())(
    "%s: user-data passes the strict checker; meta-data and network-config load and render with its address; nft -c",
    (node) => {
      const seed = seeds.get(node)!;
      const dir = scratchDir(`seed-${node}`);
      fs.writeFileSync(path.join(dir, "meta-data"), seed.metaData);
      fs.writeFileSync(path.join(dir, "network-config"), seed.networkConfig);
      const loaded = seedCheck(["nocloud", path.join(dir, "meta-data"), path.join(dir, "network-config")]);
      checkNode(node, seed.userData, loaded, macs.get(node)!);
    },
  );
});

describe("examples/vmware: every vSphere guestinfo, decoded by cloud-init 22.4's VMware datasource", () => {
  const json = JSON.parse(Testing.synth(vmwareExample(Testing.app()), true));
  const resolve = stackResolver(json);
  const guests = vsphereGuests(json, resolve);

  beforeAll(() => {
    requireCloudInit();
    requireProgram("nft", "nftables");
  });

  test.each([...guests.keys()].sort())(
    "%s: guestinfo decodes; user-data passes the strict checker; metadata network renders with its address; nft -c",
    (node) => {
      const g = guests.get(node)!;
      const ec = g.resource.extra_config as Record<string, string>;
      const dir = scratchDir(`guestinfo-${node}`);
      const file = (name: string, content: string) => {
        fs.writeFileSync(path.join(dir, name), content);
        return path.join(dir, name);
      };
      const md = file("metadata", evaluateTemplate(ec["guestinfo.metadata"]!, resolve));
      const ud = file("userdata", evaluateTemplate(ec["guestinfo.userdata"]!, resolve));
      expect(fs.statSync(ud).size).toBeLessThan(61_440);
      const decoded = path.join(dir, "userdata.decoded");
      const loaded = seedCheck([
        "vmware",
        md,
        ec["guestinfo.metadata.encoding"]!,
        ud,
        ec["guestinfo.userdata.encoding"]!,
        decoded,
      ]);
      const userData = fs.readFileSync(decoded, "utf8");
      expect(userData).toBe(g.userData);
      checkNode(node, userData, loaded, g.resource.network_interface[0].mac_address);
    },
  );
});

describe("controls: the readers refuse what cloud-init would refuse", () => {
  beforeAll(() => requireCloudInit());

  test("a corrupted gzip+base64 guestinfo value and a network-config that is no mapping fail", () => {
    const dir = scratchDir("controls");
    const file = (name: string, content: string) => {
      fs.writeFileSync(path.join(dir, name), content);
      return path.join(dir, name);
    };
    const md = file("metadata", Buffer.from("not gzip").toString("base64"));
    const ud = file("userdata", "");
    expect(() => seedCheck(["vmware", md, "gzip+base64", ud, "gzip+base64", path.join(dir, "out")])).toThrow(
      /vm-seed-check\.py vmware/,
    );
    const meta = file("meta-data", "instance-id: iid-x\nlocal-hostname: x\n");
    const net = file("network-config", "- just a list\n");
    expect(() => seedCheck(["nocloud", meta, net])).toThrow(/network-config is not a mapping/);
  });

  test("a network configuration cloud-init cannot render fails net-convert", () => {
    expect(() => netConvert({ version: 2, ethernets: { cluster0: { addresses: "10.10.10.21/24" } } }, "eni")).toThrow(
      /net-convert eni/,
    );
  });
});

describe("libvirt q35: the stylesheet moves the provider's IDE seed CD-ROM (xsltproc)", () => {
  /** A domain as terraform-provider-libvirt 0.8 defines it (root volume, IDE seed, NIC). */
  const DOMAIN = [
    '<domain type="kvm">',
    "  <name>mail1.example.com</name>",
    '  <os><type arch="x86_64" machine="q35">hvm</type></os>',
    "  <devices>",
    '    <disk type="volume" device="disk"><driver name="qemu" type="qcow2"/><source pool="default" volume="mail1.example.com-root.qcow2"/><target dev="vda" bus="virtio"/></disk>',
    '    <disk type="volume" device="disk"><driver name="qemu" type="qcow2"/><source pool="default" volume="mail1.example.com-data.qcow2"/><target dev="vdb" bus="virtio"/></disk>',
    '    <disk type="file" device="cdrom"><driver name="qemu" type="raw"/><source file="/var/lib/libvirt/images/mail1.example.com-cloudinit.iso;6789"/><target dev="hdd" bus="ide"/><serial>cloudinit</serial></disk>',
    '    <interface type="network"><mac address="52:54:00:0a:0a:15"/><source network="mail"/><model type="virtio"/></interface>',
    "  </devices>",
    "</domain>",
    "",
  ].join("\n");

  function transform(xslt: string, domain = DOMAIN): string {
    const xsltproc = requireProgram("xsltproc", "xsltproc");
    const dir = scratchDir("xslt");
    fs.writeFileSync(path.join(dir, "t.xsl"), xslt);
    fs.writeFileSync(path.join(dir, "d.xml"), domain);
    const r = run(xsltproc, [path.join(dir, "t.xsl"), path.join(dir, "d.xml")]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    return r.stdout;
  }

  test("scsi: the seed becomes a virtio-scsi CD-ROM with a controller; the other disks stay virtio", () => {
    const out = transform(cloudInitBusXslt("scsi"));
    expect(out).toMatch(
      /<disk type="file" device="cdrom">.*<target dev="sda" bus="scsi"\/><serial>cloudinit<\/serial><\/disk>/,
    );
    expect(out).not.toContain('bus="ide"');
    expect(out.match(/bus="virtio"/g)).toHaveLength(2);
    expect(out.match(/<controller type="scsi" index="0" model="virtio-scsi"\/>/g)).toHaveLength(1);
    // An existing SCSI controller is kept and none is added.
    const withController = transform(
      cloudInitBusXslt("scsi"),
      DOMAIN.replace("  </devices>", '    <controller type="scsi" index="0" model="virtio-scsi"/>\n  </devices>'),
    );
    expect(withController.match(/<controller type="scsi"/g)).toHaveLength(1);
  });

  test("sata: the seed moves to SATA, nothing else changes", () => {
    const out = transform(cloudInitBusXslt("sata"));
    expect(out).toContain('<target dev="sda" bus="sata"/><serial>cloudinit</serial>');
    expect(out).not.toContain("controller");
    expect(out.replace('<target dev="sda" bus="sata"/>', '<target dev="hdd" bus="ide"/>')).toBe(DOMAIN);
  });
});
