/**
 * Stable private addresses and server ids from node NAMES (pure). A node's address depends only on
 * the cluster network, the node's kind (its address block) and the number at the end of its name,
 * so adding or removing a node never moves another node.
 *
 * Blocks, as offsets in a /24 (a larger network scales every block: a /23 doubles them):
 *
 * | block          | /24 offsets | example                     |
 * |----------------|-------------|-----------------------------|
 * | database       | .4 – .9     | db1 → .5                    |
 * | load-balancer  | .10 – .19   | lb1 → .11, lb2 → .12        |
 * | mailbox        | .20 – .119  | mail1 → .21, mail12 → .32   |
 * | classic        | .120 – .169 | classic1 → .121             |
 * | admin          | .170 – .189 | admin1 → .171               |
 * | nfs            | .190 – .199 | nfs1 → .191                 |
 * | (free)         | .200 – .254 | for explicit `privateIp`    |
 *
 * Offsets 0–3 are never used (AWS reserves four addresses, Hetzner two), nor the last address.
 */
import { NodeRole, ValidationIssue, formatIpv4, parseIpv4Cidr } from "../topology";

export type AddressBlock = NodeRole;

/** Block start and size in units of 1/256 of the network (= addresses in a /24). */
export const ADDRESS_BLOCKS: Readonly<Record<AddressBlock, { readonly start: number; readonly size: number }>> = {
  database: { start: 4, size: 6 },
  "load-balancer": { start: 10, size: 10 },
  mailbox: { start: 20, size: 100 },
  classic: { start: 120, size: 50 },
  admin: { start: 170, size: 20 },
  nfs: { start: 190, size: 10 },
};

/** Automatic addressing needs at least a /24 (smaller networks: give every node `privateIp`). */
export const LARGEST_AUTO_PREFIX = 24;

/** The number a node name ends with (`mail01` → 1, `classic12` → 12); undefined without one. */
export function nameNumber(name: string): number | undefined {
  const m = /(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * The address of node `name` in `block` of `cidr`, or the coded issue explaining why there is none.
 * `path` is the node's construct path.
 */
export function deriveAddress(
  cidr: string,
  block: AddressBlock,
  name: string,
  path: string,
): { ipv4: string } | { issue: ValidationIssue } {
  const net = parseIpv4Cidr(cidr);
  const b = ADDRESS_BLOCKS[block];
  const n = nameNumber(name);
  if (n === undefined) {
    return {
      issue: {
        code: "GRX201",
        path,
        field: "privateIp",
        message: `node name "${name}" ends without a number, so no stable address can be derived for it.`,
        fix: `End the name with the node's number (e.g. "${name.replace(/-+$/, "")}1"), or set privateIp explicitly.`,
      },
    };
  }
  if (!net) {
    // The topology reports the malformed network (GRX004).
    return { ipv4: "0.0.0.0" };
  }
  if (net.prefix > LARGEST_AUTO_PREFIX) {
    return {
      issue: {
        code: "GRX203",
        path,
        field: "privateIp",
        message: `the cluster network ${cidr} is smaller than a /${LARGEST_AUTO_PREFIX}, too small for the address blocks of automatic addressing.`,
        fix: `Use a /${LARGEST_AUTO_PREFIX} or larger network, or set privateIp on every node.`,
      },
    };
  }
  const unit = net.size / 256;
  const capacity = b.size * unit;
  if (n >= capacity) {
    return {
      issue: {
        code: "GRX202",
        path,
        field: "name",
        message: `node "${name}" has number ${n}, but the ${block} block of ${cidr} holds numbers 0–${capacity - 1}.`,
        fix: `Use a larger cluster network (each halving of the prefix doubles every block), a smaller number, or set privateIp.`,
      },
    };
  }
  return { ipv4: formatIpv4(net.network + b.start * unit + n) };
}
