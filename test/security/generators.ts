/**
 * Random valid cluster inputs for the property tests (unit: test/security/properties.test.ts;
 * system: test/system/security.test.ts): 1–20 mailbox, 0–4 classic, 1–3 load-balancer nodes, an
 * optional admin, database and NFS node, both storage modes and load-balancer flavours, gromox
 * versions on both sides of each gate, random networks, addresses, server ids, hub, node order,
 * admin allow list and PROXY declaration.
 */
import fc from "fast-check";
import { ClusterInput, NodeInput, NodeRole, formatIpv4, parseIpv4 } from "../../lib";

export const GROMOX_VERSIONS = ["3.4", "3.5", "3.5.1", "3.6", "3.10", "3.10.2"] as const;
const DOMAINS = ["example.com", "gro.at", "mail.example.org", "a-b.example.net"] as const;
const ADMIN_CIDRS = ["203.0.113.0/24", "198.51.100.7", "2001:db8::/48", "192.0.2.128/25"] as const;

/** What a valid random cluster is made of (before it becomes a `ClusterInput`). */
export interface Spec {
  readonly mailbox: number;
  readonly classic: number;
  readonly lbs: number;
  readonly admin: "none" | "on-mailbox" | "node";
  readonly nfsNode: boolean;
  readonly database: "node" | "external";
  readonly storage: "shared" | "share-nothing";
  readonly flavor: "haproxy" | "nginx";
  readonly nodeAware: boolean;
  readonly proxy: { smtp: boolean; submission: boolean; imap: boolean; pop3: boolean };
  readonly version: string;
  readonly domain: string;
  readonly internalSub: boolean;
  readonly prefix: 22 | 23 | 24;
  readonly netA: number;
  readonly netB: number;
  readonly offsets: readonly number[];
  readonly serverIds: readonly number[];
  readonly order: readonly number[];
  readonly hub: number | undefined;
  readonly adminAllow: readonly string[] | undefined;
}

export const specArb: fc.Arbitrary<Spec> = fc
  .record({
    mailbox: fc.integer({ min: 1, max: 20 }),
    classic: fc.integer({ min: 0, max: 4 }),
    lbs: fc.integer({ min: 1, max: 3 }),
    admin: fc.constantFrom<Spec["admin"]>("none", "on-mailbox", "node"),
    nfsNode: fc.boolean(),
    database: fc.constantFrom<Spec["database"]>("node", "external"),
    storage: fc.constantFrom<Spec["storage"]>("shared", "share-nothing"),
    flavor: fc.constantFrom<Spec["flavor"]>("haproxy", "nginx"),
    nodeAware: fc.boolean(),
    proxy: fc.record({ smtp: fc.boolean(), submission: fc.boolean(), imap: fc.boolean(), pop3: fc.boolean() }),
    version: fc.constantFrom(...GROMOX_VERSIONS),
    domain: fc.constantFrom(...DOMAINS),
    internalSub: fc.boolean(),
    prefix: fc.constantFrom<22 | 23 | 24>(22, 23, 24),
    netA: fc.integer({ min: 0, max: 255 }),
    netB: fc.integer({ min: 0, max: 63 }),
    adminAllow: fc.option(fc.subarray([...ADMIN_CIDRS], { minLength: 1 }), { nil: undefined }),
  })
  .chain((base) => {
    const total =
      base.mailbox +
      base.classic +
      base.lbs +
      (base.admin === "node" ? 1 : 0) +
      (base.database === "node" ? 1 : 0) +
      (base.nfsNode ? 1 : 0);
    const size = 2 ** (32 - base.prefix);
    return fc
      .record({
        offsets: fc.uniqueArray(fc.integer({ min: 2, max: size - 2 }), { minLength: total, maxLength: total }),
        serverIds: fc.uniqueArray(fc.integer({ min: 1, max: 255 }), {
          minLength: base.mailbox,
          maxLength: base.mailbox,
        }),
        order: fc.array(fc.integer(), { minLength: total, maxLength: total }),
        hub: fc.option(fc.integer({ min: 0, max: base.mailbox - 1 }), { nil: undefined }),
      })
      .map((more) => ({ ...base, ...more }));
  });

/** The spec as the library's input (nodes in a random order). */
export function toInput(s: Spec): ClusterInput {
  const d = s.domain;
  const inner = s.internalSub ? `int.${d}` : d;
  const netSize = 2 ** (32 - s.prefix);
  const network = parseIpv4(`10.${s.netA}.${(s.netB * 4) % 256}.0`)!;
  const aligned = network - (network % netSize);
  const nodes: NodeInput[] = [];
  let k = 0;
  const add = (name: string, roles: NodeRole[], extra: Partial<NodeInput> = {}) =>
    nodes.push({
      name,
      hostname: `${name}.${inner}`,
      roles,
      ipv4: formatIpv4(aligned + s.offsets[k++]!),
      ...extra,
    });
  for (let i = 0; i < s.mailbox; i++) {
    add(`mail${i + 1}`, s.admin === "on-mailbox" && i === 0 ? ["mailbox", "admin"] : ["mailbox"], {
      serverId: s.serverIds[i]!,
    });
  }
  for (let i = 0; i < s.classic; i++) add(`classic${i + 1}`, ["classic"]);
  for (let i = 0; i < s.lbs; i++) add(`lb${i + 1}`, ["load-balancer"]);
  if (s.admin === "node") add("admin1", ["admin"]);
  if (s.database === "node") add("db1", ["database"]);
  if (s.nfsNode) add("nfs1", ["nfs"]);
  const order = nodes.map((n, i) => [s.order[i]!, i, n] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const nodeAware = s.flavor === "haproxy" && s.nodeAware;
  return {
    path: "cluster",
    domain: d,
    gromoxVersion: s.version,
    storage: s.storage,
    network: { cidr: `${formatIpv4(aligned)}/${s.prefix}` },
    database:
      s.database === "node"
        ? { node: "db1", password: "Db0Password0", ...(nodeAware ? { mapReaderPassword: "Map0Reader0" } : {}) }
        : {
            host: "db.example.net",
            port: 3306,
            password: "Db0Password0",
            ...(nodeAware ? { mapReaderPassword: "Map0Reader0" } : {}),
          },
    ...(s.hub !== undefined ? { hub: `mail${s.hub + 1}` } : {}),
    loadBalancer: {
      flavor: s.flavor,
      publicName: `mail.${d}`,
      nodeAwareRouting: nodeAware,
      ...(s.admin !== "none" && s.adminAllow ? { adminAllowFrom: [...s.adminAllow] } : {}),
      proxyProtocol:
        s.flavor === "nginx"
          ? { smtp: s.proxy.smtp, submission: s.proxy.submission, imap: false, pop3: false }
          : s.proxy,
    },
    nodes: order.map(([, , n]) => n),
  };
}
