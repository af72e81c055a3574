/**
 * Drives the Hetzner platform through the `Platform` interface the way `GrommunioCluster` does
 * (bind → addMachine/addVolume per node → addLoadBalancer → applyFirewall → setUserData), so the
 * platform can be tested on its own, with a real topology and the real firewall plan.
 */
import { Construct } from "constructs";
import { gzipSync } from "node:zlib";
import { Document } from "yaml";
import { App, TerraformStack, Testing } from "cdktf";
import { planFirewall } from "../../lib/cluster/firewall";
import "../../lib/platforms/hcloud";
import { HcloudDeployment, HcloudPlatformProps } from "../../lib/platforms/hcloud";
import {
  CloudLoadBalancerListener,
  ConfigChangePolicy,
  FirewallPlan,
  Platform,
  TokenFacts,
} from "../../lib/platforms/platform";
import { planAllowRules, renderHostFirewall } from "../../lib/render/nftables";
import { ClusterInput, PORTS, PortKey, Topology, ValidationIssue, buildTopology } from "../../lib/topology";

export interface HcloudRun {
  readonly json: any;
  readonly stack: TerraformStack;
  readonly deployment: HcloudDeployment;
  readonly topology: Topology;
  readonly plan: FirewallPlan;
  readonly issues: ValidationIssue[];
  /** The cloud-config text handed to each machine (before encoding). */
  readonly cloudConfig: Map<string, string>;
  /** The nftables file of each machine. */
  readonly nftables: Map<string, string>;
  readonly declared: Array<{ value: string; facts: TokenFacts }>;
}

export interface HcloudRunOptions {
  readonly props?: Partial<HcloudPlatformProps>;
  readonly policy?: ConfigChangePolicy;
  readonly cloudLoadBalancer?: boolean;
  readonly sshAllowFrom?: readonly string[];
  /** Mailbox data volume size (ShareNothing). @default 100 */
  readonly mailboxVolumeGb?: number;
  /** Listeners to hand the load balancer. @default every public/admin frontend of the port table */
  readonly listeners?: readonly CloudLoadBalancerListener[];
  /** Ask the cloud load balancer for PROXY protocol. @default true */
  readonly proxyProtocol?: boolean;
  /** Ship user-data as gzip+base64 instead of text. @default false */
  readonly gzip?: boolean;
}

/**
 * The cluster's load-balancer frontends as cloud listeners (what the cluster hands the platform):
 * PROXY on the public ones when `proxyProtocol` (the cluster derives it from the topology's
 * `acceptProxy`), never on the admin frontend.
 */
export function frontendListeners(topology: Topology, proxyProtocol = true): CloudLoadBalancerListener[] {
  return (Object.keys(PORTS) as PortKey[])
    .filter((k) => PORTS[k].server === "load-balancer")
    .filter((k) => PORTS[k].exposure === "public" || topology.loadBalancer?.adminAllowFrom !== undefined)
    .map((k) => ({
      portKey: k,
      port: PORTS[k].port,
      allowFrom:
        PORTS[k].exposure === "public" ? ["0.0.0.0/0", "::/0"] : [...(topology.loadBalancer?.adminAllowFrom ?? [])],
      proxyProtocol: proxyProtocol && PORTS[k].exposure === "public",
    }));
}

export function runHcloud(input: ClusterInput, options: HcloudRunOptions = {}): HcloudRun {
  const app: App = Testing.app();
  const stack = new TerraformStack(app, "test");
  const cluster = new Construct(stack, "mail");
  const issues: ValidationIssue[] = [];
  const declared: Array<{ value: string; facts: TokenFacts }> = [];
  const platform = Platform.hcloud({ location: "fsn1", ...options.props });
  const topology = buildTopology({
    ...input,
    network: {
      ...input.network,
      reservedLow: platform.capabilities.subnet.reservedLow,
      reservedHigh: platform.capabilities.subnet.reservedHigh,
    },
  });
  const deployment = platform.bind(cluster, {
    clusterName: "mail",
    clusterPath: cluster.node.path,
    domain: topology.domain,
    network: { cidr: input.network.cidr },
    os: "debian-12",
    report: (i) => issues.push(i),
    tokens: { declareToken: (value, facts) => declared.push({ value, facts }) },
  });
  const devices = new Map<string, string[]>();
  for (const node of topology.nodes) {
    const scope = new Construct(cluster, node.name);
    const primaryRole = [...node.roles][0]!;
    const machine = deployment.addMachine(scope, {
      name: node.name,
      hostname: node.hostname,
      roles: [...node.roles],
      primaryRole,
      privateIpv4: node.ipv4,
      configChangePolicy: options.policy ?? platform.capabilities.defaultConfigChangePolicy,
      path: scope.node.path,
    });
    const volumes = [
      ...(node.has("mailbox") && topology.storage === "share-nothing"
        ? [
            {
              id: "data",
              purpose: "mailbox-data" as const,
              sizeGb: options.mailboxVolumeGb ?? 100,
              label: "gromox-data",
              mountPoint: "/var/lib/gromox",
            },
          ]
        : []),
      ...(node.has("database")
        ? [
            {
              id: "data",
              purpose: "database-data" as const,
              sizeGb: 50,
              label: "mariadb-data",
              mountPoint: "/var/lib/mysql",
            },
          ]
        : []),
    ];
    for (const v of volumes) {
      const vol = deployment.addVolume(scope, machine, v);
      devices.set(node.name, [...(devices.get(node.name) ?? []), vol.devicePath]);
    }
  }
  const lbNodes = topology.loadBalancer?.nodes ?? [];
  let lbAddresses: readonly string[] = [];
  if (options.cloudLoadBalancer) {
    const lb = deployment.addLoadBalancer(new Construct(cluster, "load-balancer"), {
      listeners: options.listeners ?? frontendListeners(topology, options.proxyProtocol ?? true),
      targets: lbNodes.map((n) => n.name),
    });
    lbAddresses = lb.privateIpv4s ?? [];
  }
  const plan = planFirewall(topology, "mail", {
    ...(options.sshAllowFrom ? { sshAllowFrom: options.sshAllowFrom } : {}),
    services: { loadBalancer: options.cloudLoadBalancer ?? false },
  });
  deployment.applyFirewall(new Construct(cluster, "firewall"), plan);
  const cloudConfig = new Map<string, string>();
  const nftables = new Map<string, string>();
  for (const node of topology.nodes) {
    const nft = renderHostFirewall(
      node,
      planAllowRules(plan, node.name, (s) => (s === "load-balancer" ? lbAddresses : undefined)),
    );
    nftables.set(node.name, nft.content);
    const doc = new Document(
      {
        hostname: node.name,
        fqdn: node.hostname,
        packages: ["nftables"],
        write_files: [
          {
            path: nft.path,
            owner: nft.owner,
            permissions: nft.mode,
            encoding: "gz+b64",
            content: gzipSync(nft.content).toString("base64"),
          },
        ],
        runcmd: [
          ["systemctl", "enable", "--now", "nftables"],
          ...(devices.get(node.name) ?? []).map((d) => ["test", "-b", d]),
        ],
      },
      { version: "1.1" },
    );
    const text = `#cloud-config\n${doc.toString({ lineWidth: 0 })}`;
    cloudConfig.set(node.name, text);
    const machine = deployment.machines.get(node.name)!;
    if (options.gzip && !devices.has(node.name)) {
      const value = gzipSync(text).toString("base64");
      machine.setUserData({ encoding: "gzip-base64", value, maxBytes: value.length });
    } else {
      machine.setUserData({ encoding: "text", value: text, maxBytes: Buffer.byteLength(text) });
    }
  }
  return {
    json: JSON.parse(Testing.synth(stack)),
    stack,
    deployment,
    topology,
    plan,
    issues,
    cloudConfig,
    nftables,
    declared,
  };
}

/** The Hetzner example's layout: 3 share-nothing mailbox nodes, 2 classic, 2 HAProxy, a database. */
export function hcloudLayout(extra: ClusterInput["nodes"] = []): ClusterInput {
  return {
    domain: "example.com",
    gromoxVersion: "3.10",
    storage: "share-nothing",
    network: { cidr: "10.10.10.0/24" },
    database: { node: "db1", password: "db-secret" },
    loadBalancer: {
      flavor: "haproxy",
      publicName: "mail.example.com",
      nodeAwareRouting: true,
      adminAllowFrom: ["203.0.113.0/24"],
    },
    nodes: [
      { name: "db1", hostname: "db1.int.example.com", roles: ["database"], ipv4: "10.10.10.5" },
      { name: "lb1", hostname: "lb1.int.example.com", roles: ["load-balancer"], ipv4: "10.10.10.11" },
      { name: "lb2", hostname: "lb2.int.example.com", roles: ["load-balancer"], ipv4: "10.10.10.12" },
      {
        name: "mail1",
        hostname: "mail1.int.example.com",
        roles: ["mailbox", "admin"],
        ipv4: "10.10.10.21",
        serverId: 1,
      },
      { name: "mail2", hostname: "mail2.int.example.com", roles: ["mailbox"], ipv4: "10.10.10.22", serverId: 2 },
      { name: "mail3", hostname: "mail3.int.example.com", roles: ["mailbox"], ipv4: "10.10.10.23", serverId: 3 },
      { name: "classic1", hostname: "classic1.int.example.com", roles: ["classic"], ipv4: "10.10.10.121" },
      { name: "classic2", hostname: "classic2.int.example.com", roles: ["classic"], ipv4: "10.10.10.122" },
      ...extra,
    ],
  };
}
