import "cdktf/lib/testing/adapters/jest";
import { TerraformStack, Testing } from "cdktf";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import {
  ClassicNode,
  Database,
  GromoxNode,
  GrommunioCluster,
  GrommunioClusterProps,
  LoadBalancerTier,
  NodeRole,
  PORTS,
  PortKey,
  ShareNothing,
} from "../../lib";
import "../../lib/platforms/docker";
import { CONTAINER_BOOT_SCRIPT_PATH, CONTAINER_MANIFEST_PATH, ContainerManifest } from "../../lib/provision/container";
import { DOCKER_CAPABILITIES, DockerDeployment, DockerPlatformProps } from "../../lib/platforms/docker";
import { Platform } from "../../lib/platforms/platform";
import { Res, containers, sameContent, synthDockerExample, uploadedText } from "./docker-support";

/** The frontends of the port table (what load-balancer containers publish). */
const FRONTENDS = (Object.keys(PORTS) as PortKey[])
  .filter((k) => PORTS[k].server === "load-balancer" && ["public", "admin"].includes(PORTS[k].exposure))
  .map((k) => PORTS[k].port)
  .sort((a, b) => a - b);

function uploadsOf(res: Res): Map<string, Res> {
  return new Map((res.upload as Res[]).map((u) => [u.file as string, u]));
}

/** A small Docker cluster built directly (for variants the example does not offer). */
function smallCluster(
  props: DockerPlatformProps = {},
  overrides: Partial<GrommunioClusterProps<DockerDeployment>> = {},
  lbNodes = 1,
) {
  const stack = new TerraformStack(Testing.app(), "t");
  const cluster = new GrommunioCluster(stack, "mail", {
    platform: Platform.docker(props),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.20.0.0/24" },
    database: Database.onNode(),
    ...overrides,
  });
  new GromoxNode(cluster, "mail1");
  new ClassicNode(cluster, "classic1");
  new LoadBalancerTier(cluster, "lb", { flavor: "haproxy", nodes: lbNodes });
  return { stack, cluster };
}

describe("examples/docker: the documented layout as containers", () => {
  const { json, cluster } = synthDockerExample();
  const byNode = containers(json);
  const topo = cluster.topology;

  test("8 containers, 2 networks, 4 volumes and the pinned docker provider; no cloud-init anywhere", () => {
    expect(Object.keys(json.resource.docker_container)).toHaveLength(8);
    expect(Object.keys(json.resource.docker_network)).toHaveLength(2);
    expect(Object.keys(json.resource.docker_volume)).toHaveLength(4);
    expect(json.terraform.required_providers.docker).toEqual({ source: "kreuzwerker/docker", version: "3.6.2" });
    expect(json.provider.docker).toEqual([{}]);
    expect(DOCKER_CAPABILITIES.bootstrap).toBe("files");
    expect(cluster.userDataReports.size).toBe(0);
    expect(cluster.provisioning.size).toBe(8);
    expect(JSON.stringify(json)).not.toContain("#cloud-config");
  });

  test("the cluster network is internal, its IPAM subnet the cluster network; the egress bridge is not", () => {
    const nets = Object.values<Res>(json.resource.docker_network);
    const clusterNet = nets.find((n) => n.name === "mail-cluster")!;
    expect(clusterNet).toMatchObject({
      driver: "bridge",
      internal: true,
      ipam_config: [{ subnet: "10.10.10.0/24", gateway: "10.10.10.1" }],
    });
    const egress = nets.find((n) => n.name === "mail-egress")!;
    expect(egress).toMatchObject({ driver: "bridge", internal: false });
    expect(egress.ipam_config).toBeUndefined();
  });

  test("one container per node, keyed by name, at the node's address on the cluster network", () => {
    expect([...byNode.keys()].sort()).toEqual(topo.nodes.map((n) => n.name).sort());
    const netKeys = Object.fromEntries(
      Object.entries<Res>(json.resource.docker_network).map(([k, n]) => [n.name as string, k]),
    );
    for (const node of topo.nodes) {
      const { key, res } = byNode.get(node.name)!;
      const scope = node.has("load-balancer") ? `lb_${node.name}` : node.name;
      expect(key).toMatch(new RegExp(`^mail_${scope}_container_[0-9A-F]{8}$`));
      const role = [...node.roles][0] as NodeRole;
      expect(res).toMatchObject({
        name: `mail-${node.name}`,
        hostname: node.hostname,
        image: `grommunio-cluster/${role}:debian-12`,
        entrypoint: ["/bin/sh", CONTAINER_BOOT_SCRIPT_PATH],
        init: true,
        restart: "unless-stopped",
        must_run: true,
      });
      const egress = node.has("load-balancer") || node.has("classic");
      expect(res.networks_advanced).toEqual([
        {
          name: `\${docker_network.${netKeys["mail-cluster"]}.name}`,
          ipv4_address: node.ipv4,
          aliases: [node.hostname],
        },
        ...(egress ? [{ name: `\${docker_network.${netKeys["mail-egress"]}.name}` }] : []),
      ]);
    }
  });

  test("the static addresses are exactly the addresses in the rendered gromox allow lists", () => {
    const byAddress = new Map(
      [...byNode].map(([name, { res }]) => [`::ffff:${res.networks_advanced[0].ipv4_address}`, name]),
    );
    let lists = 0;
    for (const node of topo.nodes) {
      const uploads = uploadsOf(byNode.get(node.name)!.res);
      for (const [file, key, port] of [
        ["/etc/gromox/exmdb_provider.cfg", "exmdb_hosts_allow", "exmdb"],
        ["/etc/gromox/midb.cfg", "midb_hosts_allow", "midb"],
        ["/etc/gromox/event.cfg", "event_hosts_allow", "event"],
        ["/etc/gromox/timer.cfg", "timer_hosts_allow", "timer"],
      ] as const) {
        const u = uploads.get(file);
        if (!u) continue;
        const m = new RegExp(`^${key}\\s*=\\s*(.*)$`, "m").exec(uploadedText(u));
        expect(m).not.toBeNull();
        const addresses = m![1]!.trim().split(/\s+/);
        expect(addresses[0]).toBe("::1");
        const names = addresses.slice(1).map((a) => byAddress.get(a));
        expect(names).not.toContain(undefined);
        expect(names.sort()).toEqual(
          topo
            .clientsOf(port)
            .map((n) => n.name)
            .sort(),
        );
        lists++;
      }
    }
    expect(lists).toBeGreaterThanOrEqual(8); // exmdb + midb on 3 mailbox nodes, event + timer on the hub
  });

  test("uploads carry exactly the node's provisioned files (byte-equal, modes), plus manifest and boot.sh", () => {
    for (const node of topo.nodes) {
      const provisioned = cluster.provisioning.get(node.name)!;
      const uploads = uploadsOf(byNode.get(node.name)!.res);
      const staged = (p: string) => (p === "/etc/hosts" ? "/etc/grommunio-provision/staged/etc/hosts" : p);
      expect([...uploads.keys()].sort()).toEqual(
        [...provisioned.files.map((f) => staged(f.path)), CONTAINER_MANIFEST_PATH, CONTAINER_BOOT_SCRIPT_PATH].sort(),
      );
      for (const f of provisioned.files) {
        const u = uploads.get(staged(f.path))!;
        expect(u.permissions).toBe(f.mode);
        expect(u.content).toBeDefined();
        const got = uploadedText(u);
        if (!sameContent(got, f.content)) expect(got).toBe(f.content); // shows the difference
      }
      expect(uploads.get(CONTAINER_BOOT_SCRIPT_PATH)!.permissions).toBe("0755");
      expect(uploads.get(CONTAINER_MANIFEST_PATH)!.permissions).toBe("0644");
    }
  });

  test("the manifest lists every file with its owner and mode, the packages and the service order", () => {
    for (const node of topo.nodes) {
      const provisioned = cluster.provisioning.get(node.name)!;
      const manifest = JSON.parse(
        uploadedText(uploadsOf(byNode.get(node.name)!.res).get(CONTAINER_MANIFEST_PATH)!),
      ) as ContainerManifest;
      expect(manifest.node).toBe(node.name);
      expect(manifest.fqdn).toBe(node.hostname);
      expect(manifest.packages).toEqual(provisioned.packages);
      expect(manifest.files.map((f) => [f.path, f.owner, f.mode])).toEqual(
        provisioned.files.map((f) => [f.path, f.owner, f.mode]),
      );
      expect(manifest.services).toEqual(provisioned.services.filter((s) => s !== "nftables"));
      expect(manifest.firewall).toBe("/etc/nftables.conf");
      expect(manifest.dataMounts).toEqual(
        node.has("mailbox") ? ["/var/lib/gromox"] : node.has("database") ? ["/var/lib/mysql"] : [],
      );
      expect(manifest.commands).toEqual(
        provisioned.commands.map((c) => ({ phase: c.phase, description: c.description })),
      );
    }
  });

  test("boot.sh: owners once, firewall then CAP_NET_ADMIN dropped, steps once, services in order", () => {
    for (const node of topo.nodes) {
      const provisioned = cluster.provisioning.get(node.name)!;
      const script = uploadedText(uploadsOf(byNode.get(node.name)!.res).get(CONTAINER_BOOT_SCRIPT_PATH)!);
      expect(script.startsWith("#!/bin/sh\n")).toBe(true);
      expect(script).toContain(`cat '/etc/grommunio-provision/staged/etc/hosts' > '/etc/hosts'`);
      for (const f of provisioned.files.filter((x) => x.path !== "/etc/hosts")) {
        expect(script).toContain(`    chown '${f.owner}' '${f.path}'\n    chmod '${f.mode}' '${f.path}'\n`);
      }
      const nft = script.indexOf("nft -f '/etc/nftables.conf'");
      const drop = script.indexOf("exec setpriv --inh-caps=-net_admin --bounding-set=-net_admin");
      const firstService = script.indexOf("grommunio-service start");
      expect(nft).toBeGreaterThan(0);
      expect(drop).toBeGreaterThan(nft);
      expect(firstService).toBeGreaterThan(drop);
      const started = [...script.matchAll(/^grommunio-service start '([^']+)'/gm)].map((m) => m[1]);
      expect(started).toEqual(provisioned.services.filter((s) => s !== "nftables"));
      for (const c of provisioned.commands) expect(script).toContain(`  log '${c.description.replace(/'/g, "'\\''")}'`);
      expect(script.trimEnd().endsWith("exec grommunio-service wait")).toBe(true);
      // CAP_NET_ADMIN only to load the firewall; CAP_NET_RAW never.
      expect(byNode.get(node.name)!.res.capabilities).toEqual({ add: ["NET_ADMIN"], drop: ["NET_RAW"] });
    }
  });

  test("published ports only on the load-balancer containers: the frontends, each on its own host address", () => {
    expect(FRONTENDS).toEqual([25, 80, 443, 587, 993, 995, 8443]);
    for (const node of topo.nodes) {
      const { res } = byNode.get(node.name)!;
      if (!node.has("load-balancer")) {
        expect(res.ports).toBeUndefined();
        continue;
      }
      const ip = node.name === "lb1" ? "192.0.2.11" : "192.0.2.12";
      expect(res.ports).toEqual(FRONTENDS.map((p) => ({ internal: p, external: p, protocol: "tcp", ip })));
    }
  });

  test("a docker_volume per data volume, keyed by node, mounted at its mount point, protected", () => {
    const volumes = Object.entries<Res>(json.resource.docker_volume);
    expect(volumes.map(([, v]) => v.name).sort()).toEqual(
      ["mail-db1-data", "mail-mail1-data", "mail-mail2-data", "mail-mail3-data"].sort(),
    );
    for (const [key, v] of volumes) {
      const node = v.name.replace(/^mail-/, "").replace(/-data$/, "");
      expect(key).toMatch(new RegExp(`^mail_${node}_data-volume_[0-9A-F]{8}$`));
      expect(v).toMatchObject({ driver: "local", lifecycle: { prevent_destroy: true } });
      const mount = node.startsWith("db") ? "/var/lib/mysql" : "/var/lib/gromox";
      expect(byNode.get(node)!.res.volumes).toEqual([
        { volume_name: `\${docker_volume.${key}.name}`, container_path: mount },
      ]);
    }
    for (const node of ["classic1", "classic2", "lb1", "lb2"]) expect(byNode.get(node)!.res.volumes).toBeUndefined();
  });

  test("HAProxy's LimitNOFILE becomes the load-balancer containers' nofile ulimit", () => {
    for (const node of topo.nodes) {
      const provisioned = cluster.provisioning.get(node.name)!;
      const limit = provisioned.files
        .filter((f) => /^\/etc\/systemd\/system\/[^/]+\.service\.d\//.test(f.path))
        .map((f) => /^LimitNOFILE=(\d+)/m.exec(f.content)?.[1])
        .find((x) => x !== undefined);
      const { res } = byNode.get(node.name)!;
      if (limit === undefined) expect(res.ulimit).toBeUndefined();
      else expect(res.ulimit).toEqual([{ name: "nofile", soft: Number(limit), hard: Number(limit) }]);
    }
    expect(byNode.get("lb1")!.res.ulimit).toBeDefined();
  });

  test("adding a mailbox node keeps every other resource's address and everything but its uploads", () => {
    const more = synthDockerExample({ mailboxNodes: ["mail1", "mail2", "mail3", "mail4"] }).json;
    let compared = 0;
    for (const [type, resources] of Object.entries<Record<string, Res>>(json.resource)) {
      for (const [key, res] of Object.entries(resources)) {
        const { upload: _a, ...before } = res;
        const { upload: _b, ...after } = more.resource[type]?.[key] ?? {};
        void _a;
        void _b;
        expect(after).toEqual(before);
        compared++;
      }
    }
    expect(compared).toBe(Object.values<Res>(json.resource).reduce((n, r) => n + Object.keys(r).length, 0));
    const added = containers(more).get("mail4")!.res;
    expect(added.networks_advanced[0].ipv4_address).toBe("10.10.10.24");
    expect(Object.keys(more.resource.docker_volume)).toHaveLength(5);
  });
});

describe("Docker platform options", () => {
  test("configChangePolicy: replace by default (upload is ForceNew); ignore puts upload in ignore_changes", () => {
    expect(DOCKER_CAPABILITIES.defaultConfigChangePolicy).toBe("replace");
    const replace = JSON.parse(Testing.synth(smallCluster().stack));
    for (const c of Object.values<Res>(replace.resource.docker_container)) expect(c.lifecycle).toBeUndefined();
    const ignore = JSON.parse(Testing.synth(smallCluster({}, { configChangePolicy: "ignore" }).stack));
    for (const c of Object.values<Res>(ignore.resource.docker_container)) {
      expect(c.lifecycle).toEqual({ ignore_changes: ["upload"] });
    }
  });

  test("a single load-balancer node publishes on every host address; images per role; kept entrypoint", () => {
    const json = JSON.parse(
      Testing.synth(
        smallCluster({
          images: { mailbox: "registry.example.com:5000/grommunio/mailbox:2025.01" },
          keepImageEntrypoint: true,
        }).stack,
      ),
    );
    const byNode = containers(json);
    expect(byNode.get("lb1")!.res.ports).toEqual(
      FRONTENDS.filter((p) => p !== 8443).map((p) => ({ internal: p, external: p, protocol: "tcp" })),
    );
    expect(byNode.get("mail1")!.res.image).toBe("registry.example.com:5000/grommunio/mailbox:2025.01");
    expect(byNode.get("classic1")!.res.image).toBe("grommunio-cluster/classic:debian-12");
    for (const { res } of byNode.values()) expect(res.entrypoint).toBeUndefined();
  });

  test("hostFirewall false: no nftables file, no CAP_NET_ADMIN, no setpriv step", () => {
    const { stack, cluster } = smallCluster({}, { hostFirewall: false });
    const json = JSON.parse(Testing.synth(stack));
    for (const [name, { res }] of containers(json)) {
      expect(res.capabilities).toEqual({ drop: ["NET_RAW"] });
      const script = cluster.deployment.machines.get(name)!.bootstrap!.script;
      expect(script).not.toContain("nft -f");
      expect(script).not.toContain("setpriv");
      expect(uploadsOf(res).has("/etc/nftables.conf")).toBe(false);
    }
  });

  test("outboundMail false keeps the classic nodes off the egress bridge; egress CIDR and protectData", () => {
    const json = JSON.parse(
      Testing.synth(
        smallCluster({ outboundMail: false, egressNetwork: { cidr: "172.30.0.0/24" }, protectData: false }).stack,
      ),
    );
    const byNode = containers(json);
    expect(byNode.get("classic1")!.res.networks_advanced).toHaveLength(1);
    expect(byNode.get("lb1")!.res.networks_advanced).toHaveLength(2);
    const egress = Object.values<Res>(json.resource.docker_network).find((n) => n.name === "mail-egress")!;
    expect(egress.ipam_config).toEqual([{ subnet: "172.30.0.0/24", gateway: "172.30.0.1" }]);
    for (const v of Object.values<Res>(json.resource.docker_volume)) expect(v.lifecycle).toBeUndefined();
  });

  test("an existing docker provider is reused; host is passed to the one the platform adds", () => {
    const json = JSON.parse(Testing.synth(smallCluster({ host: "ssh://root@docker.example.com" }).stack));
    expect(json.provider.docker).toEqual([{ host: "ssh://root@docker.example.com" }]);
    const stack = new TerraformStack(Testing.app(), "own");
    new DockerProvider(stack, "mine", { host: "tcp://10.0.0.1:2376" });
    const cluster = new GrommunioCluster(stack, "mail", {
      platform: Platform.docker(),
      domain: "example.com",
      gromoxVersion: "3.10",
      network: { cidr: "10.20.0.0/24" },
      database: Database.onNode(),
    });
    new GromoxNode(cluster, "mail1");
    expect(JSON.parse(Testing.synth(stack)).provider.docker).toEqual([{ host: "tcp://10.0.0.1:2376" }]);
    const none = JSON.parse(Testing.synth(smallCluster({ addProvider: false }).stack));
    expect(none.provider?.docker).toBeUndefined();
  });

  test("ShareNothing volume type selects the Docker volume driver", () => {
    const json = JSON.parse(
      Testing.synth(smallCluster({}, { storage: new ShareNothing({ volumeType: "local-persist" }) }).stack),
    );
    const volumes = Object.values<Res>(json.resource.docker_volume);
    expect(volumes.find((v) => v.name === "mail-mail1-data")!.driver).toBe("local-persist");
    expect(volumes.find((v) => v.name === "mail-db1-data")!.driver).toBe("local");
  });
});
