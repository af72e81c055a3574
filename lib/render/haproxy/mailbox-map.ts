/**
 * `/etc/haproxy/mailbox.map`: the key → home node table HAProxy's node-aware routing looks up
 * (`use-server %[var(txn.mbox),map(/etc/haproxy/mailbox.map)]`).
 *
 * Keys are lower-cased (the frontend lower-cases every lookup; `map()` is exact and
 * case-sensitive): each user's username, each alias, and the MAPI/HTTP `MailboxId` strings
 * Outlook puts into its URLs (reference/gromox.md §14), plus each domain's public-store
 * `MailboxId`. Values are `servers.hostname`, which is also the HAProxy `server` name of the
 * mailbox node: a value that is not a server name makes HAProxy silently fall back to load
 * balancing (reference/gromox.md §13.9).
 */
import { IssueCollector, ValidationIssue, GrommunioValidationError } from "../../topology/errors";
import { isFqdn } from "../../topology/net";
import { ConfigFile } from "../types";

/** Path of the map on load-balancer nodes. */
export const MAILBOX_MAP_PATH = "/etc/haproxy/mailbox.map";

/** One user, as SQL gives it (`users` joined to `servers`, aliases grouped). */
export interface MailboxMapRow {
  /** `users.id` (unsigned 32-bit). */
  readonly id: number;
  /** `users.username`, as stored (case preserved: the MailboxId is computed over it). */
  readonly username: string;
  /** `aliases.aliasname` of the user. @default none */
  readonly aliases?: readonly string[];
  /** `servers.hostname` of `users.homeserver`; undefined or empty for homeserver 0 (row skipped). */
  readonly homeserver?: string;
}

/** One domain (public store). */
export interface MailboxMapDomain {
  /** `domains.id` (unsigned 32-bit). */
  readonly id: number;
  /** `domains.domainname`. */
  readonly name: string;
  /** `servers.hostname` of `domains.homeserver`; undefined or empty for homeserver 0 (skipped). */
  readonly homeserver?: string;
}

export interface MailboxMapOptions {
  /**
   * The mailbox nodes' `servers.hostname` values (the HAProxy server names). When given, a row
   * whose homeserver is not among them is an error (GRX123): HAProxy would ignore its entries.
   * @default undefined: homeservers are only checked to be host names
   */
  readonly servers?: readonly string[];
  /** Path for error messages. @default "mailbox.map" */
  readonly path?: string;
}

const MAX_U32 = 0xffffffff;

function hexOfFirst12(name: string): string {
  const bytes = Buffer.alloc(12);
  Buffer.from(name, "utf8").copy(bytes, 0, 0, 12);
  const h = bytes.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 24)}`;
}

function leHex32(id: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(id, 0);
  return b.toString("hex");
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_U32)
    throw new RangeError(`id ${id} is not an unsigned 32-bit integer`);
}

/**
 * The MAPI/HTTP `MailboxId` of a user's private store, as gromox computes it
 * (`lib/mapi/usercvt.cpp` `cvt_username_to_mailboxid`, reference/gromox.md §14): the first 12
 * bytes of the username (zero-padded) as lowercase hex grouped 4-2-2-2-2, then `users.id` as
 * 4 bytes least-significant first, then `@` and the part of the username after its first `@`.
 *
 * `mailboxId("john.doe@example.com", 5)` = `6a6f686e-2e64-6f65-4065-786105000000@example.com`.
 */
export function mailboxId(username: string, id: number): string {
  checkId(id);
  const at = username.indexOf("@");
  const domain = at >= 0 ? username.slice(at + 1) : "";
  return `${hexOfFirst12(username)}${leHex32(id)}@${domain}`;
}

/**
 * The `MailboxId` of a domain's public store: the same computation over the domain name and
 * `domains.id`, then `@<domain>`.
 *
 * `publicStoreMailboxId("example.com", 1)` = `6578616d-706c-652e-636f-6d0001000000@example.com`.
 */
export function publicStoreMailboxId(domain: string, id: number): string {
  checkId(id);
  return `${hexOfFirst12(domain)}${leHex32(id)}@${domain}`;
}

/** A map key must be one non-empty token: HAProxy splits map lines at the first blank. */
function keyProblem(key: string): string | undefined {
  if (key.length === 0) return "is empty";
  if (/[\s\0]/.test(key)) return "contains a blank or control character (HAProxy splits map lines at blanks)";
  if (key.startsWith("#")) return 'starts with "#" (HAProxy reads the line as a comment)';
  return undefined;
}

interface Collected {
  readonly entries: Map<string, string>;
  readonly issues: ValidationIssue[];
}

function collect(
  rows: readonly MailboxMapRow[],
  domains: readonly MailboxMapDomain[],
  opts: MailboxMapOptions,
): Collected {
  const c = new IssueCollector();
  const path = opts.path ?? "mailbox.map";
  const known = opts.servers ? new Set(opts.servers) : undefined;
  const entries = new Map<string, string>();
  const origin = new Map<string, string>();

  const checkHome = (home: string, what: string): boolean => {
    if (!isFqdn(home)) {
      c.add(
        "GRX122",
        path,
        `${what}.homeserver`,
        `"${home}" is not a host name; map values must be servers.hostname.`,
        "Join users.homeserver to servers.id and take servers.hostname.",
      );
      return false;
    }
    if (known && !known.has(home)) {
      c.add(
        "GRX123",
        path,
        `${what}.homeserver`,
        `"${home}" is not a mailbox node of the load balancer; HAProxy would silently load-balance instead.`,
        `Use one of: ${[...known].sort().join(", ")}; or add the node to the cluster.`,
      );
      return false;
    }
    return true;
  };
  const put = (key: string, home: string, what: string): void => {
    const problem = keyProblem(key);
    if (problem) {
      c.add("GRX120", path, what, `key "${key}" ${problem}.`, "Fix the user name or alias in the database.");
      return;
    }
    const prev = entries.get(key);
    if (prev !== undefined && prev !== home) {
      c.add(
        "GRX121",
        path,
        what,
        `key "${key}" maps to "${prev}" (${origin.get(key)}) and to "${home}".`,
        "A key may name one home node only: remove the duplicate alias or user.",
      );
      return;
    }
    entries.set(key, home);
    origin.set(key, what);
  };

  rows.forEach((r, i) => {
    const what = `users[${i}]`;
    const home = r.homeserver ?? "";
    if (home === "") return; // homeserver 0: the mailbox is not placed; nothing to route.
    if (!Number.isInteger(r.id) || r.id < 0 || r.id > MAX_U32) {
      c.add(
        "GRX124",
        path,
        `${what}.id`,
        `users.id ${String(r.id)} is not an unsigned 32-bit integer.`,
        "Pass users.id as read from SQL.",
      );
      return;
    }
    if (!checkHome(home, what)) return;
    put(r.username.toLowerCase(), home, `${what}.username`);
    (r.aliases ?? []).forEach((a, j) => put(a.toLowerCase(), home, `${what}.aliases[${j}]`));
    // Outlook's MAPI/HTTP URLs carry the MailboxId computed over the stored username; the RPC/HTTP
    // address-book referral computes it over the lower-cased name (gromox.md §14): keep both.
    put(mailboxId(r.username, r.id).toLowerCase(), home, `${what}.mailboxId`);
    put(mailboxId(r.username.toLowerCase(), r.id), home, `${what}.mailboxId`);
  });
  domains.forEach((d, i) => {
    const what = `domains[${i}]`;
    const home = d.homeserver ?? "";
    if (home === "") return;
    if (!Number.isInteger(d.id) || d.id < 0 || d.id > MAX_U32) {
      c.add(
        "GRX124",
        path,
        `${what}.id`,
        `domains.id ${String(d.id)} is not an unsigned 32-bit integer.`,
        "Pass domains.id as read from SQL.",
      );
      return;
    }
    if (!checkHome(home, what)) return;
    put(publicStoreMailboxId(d.name, d.id).toLowerCase(), home, `${what}.mailboxId`);
    put(publicStoreMailboxId(d.name.toLowerCase(), d.id), home, `${what}.mailboxId`);
  });
  return { entries, issues: [...c.issues] };
}

/** Every problem with the rows (empty when the map can be rendered). */
export function validateMailboxMap(
  rows: readonly MailboxMapRow[],
  domains: readonly MailboxMapDomain[] = [],
  opts: MailboxMapOptions = {},
): ValidationIssue[] {
  return collect(rows, domains, opts).issues;
}

/**
 * The map's entries, `[key, servers.hostname]`, sorted by key; for the runtime API
 * (`add map @<ver> /etc/haproxy/mailbox.map` payloads). Throws `GrommunioValidationError`
 * (GRX120–GRX124) on bad input.
 */
export function mailboxMapEntries(
  rows: readonly MailboxMapRow[],
  domains: readonly MailboxMapDomain[] = [],
  opts: MailboxMapOptions = {},
): Array<[string, string]> {
  const { entries, issues } = collect(rows, domains, opts);
  if (issues.length > 0) throw new GrommunioValidationError(issues);
  return [...entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * `/etc/haproxy/mailbox.map`: a comment line, then one `key value` line per entry, sorted by key.
 * Users and domains without a homeserver are skipped. Throws `GrommunioValidationError`
 * (GRX120–GRX124) on bad input. `renderMailboxMap([])` is the initial empty map.
 */
export function renderMailboxMap(
  rows: readonly MailboxMapRow[],
  domains: readonly MailboxMapDomain[] = [],
  opts: MailboxMapOptions = {},
): ConfigFile {
  const lines = [
    "# key (lower case: user name, alias, MAPI MailboxId) -> servers.hostname; HAProxy server names",
    ...mailboxMapEntries(rows, domains, opts).map(([k, v]) => `${k} ${v}`),
  ];
  return { path: MAILBOX_MAP_PATH, content: lines.join("\n") + "\n", mode: "0640", owner: "root:haproxy" };
}
