import "cdktf/lib/testing/adapters/jest";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Testing, Token } from "cdktf";
import { HcloudProvider } from "../../lib/gen/providers/hcloud/provider";
import { Network } from "../../lib/gen/providers/hcloud/network";
import { NetworkSubnet } from "../../lib/gen/providers/hcloud/network-subnet";
import { Server } from "../../lib/gen/providers/hcloud/server";
import { LoadBalancerTargetA } from "../../lib/gen/providers/hcloud/load-balancer-target";
import { LibvirtProvider } from "../../lib/gen/providers/libvirt/provider";
import { CloudinitDisk } from "../../lib/gen/providers/libvirt/cloudinit-disk";
import { Domain } from "../../lib/gen/providers/libvirt/domain";

const ROOT = path.resolve(__dirname, "..", "..");

function synthTinyStack(): any {
  return JSON.parse(
    Testing.synthScope((scope) => {
      new HcloudProvider(scope, "hcloud", {});
      new LibvirtProvider(scope, "libvirt", { uri: "qemu:///system" });
      const net = new Network(scope, "net", { name: "grx", ipRange: "10.10.0.0/16" });
      const subnet = new NetworkSubnet(scope, "subnet", {
        networkId: Token.asNumber(net.id),
        type: "cloud",
        networkZone: "eu-central",
        ipRange: "10.10.10.0/24",
      });
      new Server(scope, "mail1", {
        name: "mail1",
        serverType: "cx32",
        image: "debian-12",
        location: "fsn1",
        userData: "#cloud-config\n{}\n",
        network: [{ networkId: Token.asNumber(net.id), ip: "10.10.10.20" }],
        dependsOn: [subnet],
      });
      const disk = new CloudinitDisk(scope, "seed", {
        name: "mail1-seed.iso",
        pool: "default",
        userData: "#cloud-config\n{}\n",
        metaData: "instance-id: mail1\nlocal-hostname: mail1\n",
      });
      new Domain(scope, "vm", {
        name: "mail1",
        memory: 4096,
        vcpu: 2,
        cloudinit: disk.id,
        networkInterface: [{ networkName: "default", addresses: ["192.168.122.20"] }],
      });
    }),
  );
}

describe("generated provider bindings", () => {
  const json = synthTinyStack();

  test("pin hcloud and libvirt in required_providers by short source and exact version", () => {
    expect(json.terraform.required_providers).toEqual({
      hcloud: { source: "hetznercloud/hcloud", version: "1.68.0" },
      libvirt: { source: "dmacvicar/libvirt", version: "0.8.3" },
    });
    expect(json.provider.libvirt).toEqual([{ uri: "qemu:///system" }]);
  });

  test("hcloud network, subnet and server synthesize with snake_case arguments and number references", () => {
    expect(json.resource.hcloud_network.net).toEqual({ name: "grx", ip_range: "10.10.0.0/16" });
    expect(json.resource.hcloud_network_subnet.subnet).toEqual({
      network_id: "${hcloud_network.net.id}",
      type: "cloud",
      network_zone: "eu-central",
      ip_range: "10.10.10.0/24",
    });
    const server = json.resource.hcloud_server.mail1;
    expect(server).toMatchObject({
      name: "mail1",
      server_type: "cx32",
      image: "debian-12",
      location: "fsn1",
      user_data: "#cloud-config\n{}\n",
      network: [{ network_id: "${hcloud_network.net.id}", ip: "10.10.10.20" }],
      depends_on: ["hcloud_network_subnet.subnet"],
    });
    expect(server.datacenter).toBeUndefined();
  });

  test("libvirt domain references its cloud-init disk", () => {
    expect(json.resource.libvirt_cloudinit_disk.seed).toEqual({
      name: "mail1-seed.iso",
      pool: "default",
      user_data: "#cloud-config\n{}\n",
      meta_data: "instance-id: mail1\nlocal-hostname: mail1\n",
    });
    expect(json.resource.libvirt_domain.vm).toEqual({
      name: "mail1",
      memory: 4096,
      vcpu: 2,
      cloudinit: "${libvirt_cloudinit_disk.seed.id}",
      network_interface: [{ network_name: "default", addresses: ["192.168.122.20"] }],
    });
  });

  test("classes carry their Terraform type (the generator renames the LB target class)", () => {
    expect(Server.tfResourceType).toBe("hcloud_server");
    expect(LoadBalancerTargetA.tfResourceType).toBe("hcloud_load_balancer_target");
    expect(Domain.tfResourceType).toBe("libvirt_domain");
  });
});

function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

describe("committed lib/gen", () => {
  test("equals a fresh `npm run gen` byte for byte (never hand-edit lib/gen; rerun the script)", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "gen-"));
    try {
      const r = spawnSync(process.execPath, [path.join(ROOT, "scripts", "gen-bindings.js"), out], {
        encoding: "utf8",
        env: { ...process.env, CHECKPOINT_DISABLE: "1" },
        timeout: 60_000,
      });
      expect(r.stderr).not.toMatch(/Error/);
      expect(r.status).toBe(0);
      const committed = path.join(ROOT, "lib", "gen");
      const fresh = listTree(out);
      expect(listTree(committed)).toEqual(fresh);
      const differing = fresh.filter(
        (f) => !fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(committed, f))),
      );
      expect(differing).toEqual([]);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
