/**
 * What the two VM platforms without a cloud API of their own (libvirt, vSphere) share: machine
 * sizes as text, the guest's static network configuration (netplan v2, matched by a MAC address
 * derived from the node's address), the cloud-init metadata (`instance-id` derived from the
 * rendered configuration, `local-hostname`) and the Terraform text of a value that may hold tokens.
 *
 * Pure except `terraformText`, which resolves cdktf tokens against the stack.
 */
import { createHash } from "node:crypto";
import { Document } from "yaml";
import { IConstruct } from "constructs";
import { DefaultTokenResolver, StringConcat } from "cdktf";
import { TerraformStack, Tokenization } from "../../provision/cdktf";
import type { NodeRole } from "../../topology";
import { formatIpv4, parseIpv4, parseIpv4Cidr } from "../../topology";

/** vCPUs and memory of a virtual machine. */
export interface VmSize {
  readonly vcpus: number;
  readonly memoryMiB: number;
}

/** `<vcpus>cpu-<GiB>gb`, e.g. `4cpu-8gb`. */
const SIZE_TEXT = /^([1-9]\d{0,2})cpu-([1-9]\d{0,4})gb$/;

/** Upper bounds that catch typos (a libvirt or vSphere VM can be larger; raise them when needed). */
export const VM_SIZE_LIMITS = { vcpus: 128, memoryGiB: 4096 } as const;

/** Parses a size such as `4cpu-8gb`; undefined when it is not one (or beyond `VM_SIZE_LIMITS`). */
export function parseVmSize(text: string): VmSize | undefined {
  const m = SIZE_TEXT.exec(text);
  if (!m) return undefined;
  const vcpus = Number(m[1]);
  const gib = Number(m[2]);
  if (vcpus > VM_SIZE_LIMITS.vcpus || gib > VM_SIZE_LIMITS.memoryGiB) return undefined;
  return { vcpus, memoryMiB: gib * 1024 };
}

/**
 * Default sizes per role on the VM platforms: mailbox and database nodes do the work (gromox
 * caches mailboxes in memory; MariaDB's buffer pool), the others are light.
 */
export const VM_DEFAULT_SIZES: Readonly<Record<NodeRole, string>> = {
  mailbox: "4cpu-8gb",
  classic: "2cpu-4gb",
  "load-balancer": "2cpu-2gb",
  database: "4cpu-8gb",
  admin: "2cpu-2gb",
  nfs: "2cpu-4gb",
};

/**
 * A MAC address from the node's IPv4 address: `prefix` (three bytes, e.g. `52:54:00`) followed by
 * the address's last three bytes, the first of them masked with `firstMask`. Unique within any
 * cluster network up to a /16 (and /8 with mask 0xff), stable when nodes are added, and known at
 * synth time, so the guest's network configuration can match the NIC by it.
 */
export function macFromIpv4(prefix: string, ipv4: string, firstMask = 0xff): string {
  const n = parseIpv4(ipv4) ?? 0;
  const bytes = [(n >>> 16) & 255 & firstMask, (n >>> 8) & 255, n & 255];
  return [prefix, ...bytes.map((b) => b.toString(16).padStart(2, "0"))].join(":");
}

/** The interface name the network configuration gives the cluster NIC. */
export const CLUSTER_INTERFACE = "cluster0";

export interface GuestNetwork {
  /** The node's address. */
  readonly ipv4: string;
  /** The cluster network (`10.10.10.0/24`): its prefix length goes with the address. */
  readonly cidr: string;
  readonly gateway: string;
  readonly dnsServers: readonly string[];
  /** DNS search domains. */
  readonly searchDomains?: readonly string[];
  /** The NIC's MAC address (the configuration matches it). */
  readonly mac: string;
}

/**
 * netplan v2 (cloud-init "network config version 2") for one NIC with a static address: matched
 * by MAC, named `cluster0`, default gateway, resolvers. The gateway is written `gateway4`: cloud-init
 * 22.4 renders it natively for ifupdown (`gateway`, Debian 12's renderer), networkd and netplan,
 * whereas a `routes` default becomes `post-up route add … || true` for ifupdown, which silently does
 * nothing without net-tools (netplan ≥ 0.103 only warns that gateway4 is deprecated).
 */
export function netplanConfig(net: GuestNetwork): Record<string, unknown> {
  const prefix = parseIpv4Cidr(net.cidr)?.prefix ?? 24;
  return {
    version: 2,
    ethernets: {
      [CLUSTER_INTERFACE]: {
        match: { macaddress: net.mac },
        "set-name": CLUSTER_INTERFACE,
        addresses: [`${net.ipv4}/${prefix}`],
        gateway4: net.gateway,
        nameservers: {
          addresses: [...net.dnsServers],
          ...(net.searchDomains?.length ? { search: [...net.searchDomains] } : {}),
        },
      },
    },
  };
}

/** YAML 1.1 (what cloud-init's PyYAML reads: a MAC of digits must stay a quoted string). */
export function toYaml(value: unknown): string {
  return new Document(value, { version: "1.1" }).toString({ lineWidth: 0 });
}

/**
 * The cloud-init `instance-id`: the node's name plus the first 16 hex digits of SHA-256 over
 * everything the guest is configured from (the user-data as Terraform will see it, the network
 * configuration, the host name). A configuration change is a new instance to cloud-init, so a
 * machine that boots with it runs every module again instead of silently keeping the old state.
 */
export function instanceId(name: string, parts: readonly string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return `iid-${name}-${h.digest("hex").slice(0, 16)}`;
}

/**
 * The Terraform text of a value that may hold cdktf tokens, as it appears in the synthesized JSON
 * (`${random_password.x.result}` for a reference). Stable across synths (logical ids follow
 * construct paths), so hashes over it are too.
 */
export function terraformText(scope: IConstruct, value: string): string {
  const resolved: unknown = Tokenization.resolve(value, {
    scope: TerraformStack.of(scope),
    preparing: false,
    resolver: new DefaultTokenResolver(new StringConcat()),
  });
  return String(resolved);
}

/** The first usable address of a network (the usual gateway: libvirt's bridge takes it). */
export function firstHost(cidr: string): string | undefined {
  const c = parseIpv4Cidr(cidr);
  return c && c.size >= 4 ? formatIpv4(c.network + 1) : undefined;
}
