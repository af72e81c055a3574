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

/** Two lowercase hex digits per byte value. */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));
const HEX_DIGITS = "0123456789abcdef";

/** Length of a MailboxId's hex part (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`); `@` follows it. */
const MAILBOX_ID_HEX = 36;

/**
 * The character codes of the hex part, refilled by every `mailboxIdHex` call (which completes
 * before it returns): one array for all calls instead of one per MailboxId.
 */
const hexCodes = new Array<number>(MAILBOX_ID_HEX).fill(0);

/**
 * The hex part of a MailboxId: the first 12 bytes of `name` (UTF-8, zero-padded) grouped
 * 4-2-2-2-2, then `id` as 4 bytes least significant first. For a name whose first 12 characters
 * are ASCII (one byte each), the 36 character codes are made here and become one string at once
 * (no intermediate strings); a name with a multi-byte character there goes through a Buffer.
 */
function mailboxIdHex(name: string, id: number): string {
  const codes = hexCodes;
  let o = 0;
  const n = Math.min(name.length, 12);
  for (let i = 0; i < 12; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) codes[o++] = 0x2d; // "-"
    const c = i < n ? name.charCodeAt(i) : 0;
    if (c >= 0x80) return hexOfFirst12Utf8(name) + leHex32(id); // multi-byte UTF-8 in the first 12 bytes
    codes[o++] = HEX_DIGITS.charCodeAt(c >> 4);
    codes[o++] = HEX_DIGITS.charCodeAt(c & 15);
  }
  for (let shift = 0; shift < 32; shift += 8) {
    const b = (id >>> shift) & 255;
    codes[o++] = HEX_DIGITS.charCodeAt(b >> 4);
    codes[o++] = HEX_DIGITS.charCodeAt(b & 15);
  }
  return String.fromCharCode.apply(null, codes);
}

function hexOfFirst12Utf8(name: string): string {
  const bytes = Buffer.alloc(12);
  Buffer.from(name, "utf8").copy(bytes, 0, 0, 12);
  const h = bytes.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 24)}`;
}

/** `id` (unsigned 32-bit) as 4 bytes, least significant first, in hex. */
function leHex32(id: number): string {
  return HEX[id & 255]! + HEX[(id >>> 8) & 255]! + HEX[(id >>> 16) & 255]! + HEX[(id >>> 24) & 255]!;
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
  return `${mailboxIdHex(username, id)}@${domain}`;
}

/**
 * The `MailboxId` of a domain's public store: the same computation over the domain name and
 * `domains.id`, then `@<domain>`.
 *
 * `publicStoreMailboxId("example.com", 1)` = `6578616d-706c-652e-636f-6d0001000000@example.com`.
 */
export function publicStoreMailboxId(domain: string, id: number): string {
  checkId(id);
  return `${mailboxIdHex(domain, id)}@${domain}`;
}

/**
 * Whether code unit `c` is a blank or control character in the sense of `/[\s\p{Cc}]/u`: JavaScript's
 * white space and line terminators, or a C0/C1 control. No astral code point and no surrogate is
 * one, so testing a string's code units one by one is the same as testing its code points.
 */
export function isBlankOrControl(c: number): boolean {
  if (c <= 0x20) return true; // C0 controls (tab, line feed, vertical tab, form feed, ...) and space
  if (c < 0x7f) return false;
  if (c <= 0xa0) return true; // DEL, C1 controls (NEL among them), no-break space
  if (c < 0x1680) return false;
  return (
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** A map key must be one non-empty token: HAProxy splits map lines at the first blank. */
function keyProblem(key: string): string | undefined {
  const n = key.length;
  if (n === 0) return "is empty";
  // Every character of a key is then above " " (U+0020): a line "key value" sorts as its key.
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if ((c <= 0x20 || c >= 0x7f) && isBlankOrControl(c))
      return "contains a blank or control character (HAProxy splits map lines at blanks)";
  }
  if (key.charCodeAt(0) === 0x23) return 'starts with "#" (HAProxy reads the line as a comment)';
  return undefined;
}

interface Collected {
  /** Key → index into `homes` of its home node (insertion order, unsorted). */
  readonly keys: Map<string, number>;
  readonly homes: readonly string[];
  readonly issues: ValidationIssue[];
}

/** Which part of a row a key came from (for error messages): an alias index ≥ 0, or one of these. */
const USERNAME = -1;
const USER_MAILBOX_ID = -2;
const DOMAIN_MAILBOX_ID = -3;

/**
 * The keys of a user row, in the order they are put (`emit` returns whether the key is now held):
 * the lower-cased username, each alias lower-cased, the MailboxId over the stored username and
 * the one over the lower-cased username (reference/gromox.md §14). The one walk both `collect` and
 * `entriesWithoutProblems` make, so the two cannot disagree on the keys.
 */
function userKeys(r: MailboxMapRow, emit: (key: string, part: number) => boolean): void {
  const lower = r.username.toLowerCase();
  emit(lower, USERNAME);
  r.aliases?.forEach((a, j) => emit(a.toLowerCase(), j));
  // Outlook's MAPI/HTTP URLs carry the MailboxId computed over the stored username; the RPC/HTTP
  // address-book referral computes it over the lower-cased name (gromox.md §14): keep both
  // (the same string when the stored name is lower case).
  const stored = mailboxId(r.username, r.id).toLowerCase();
  const held = emit(stored, USER_MAILBOX_ID);
  // Putting the key this row already holds again would change nothing; a refused key is
  // refused (and reported) again, as for a name stored in mixed case.
  if (lower !== r.username) emit(mailboxId(lower, r.id), USER_MAILBOX_ID);
  else if (!held) emit(stored, USER_MAILBOX_ID);
}

/** The keys of a domain row (its public store's MailboxId over the stored and the lower-cased name). */
function domainKeys(d: MailboxMapDomain, emit: (key: string, part: number) => boolean): void {
  emit(publicStoreMailboxId(d.name, d.id).toLowerCase(), DOMAIN_MAILBOX_ID);
  emit(publicStoreMailboxId(d.name.toLowerCase(), d.id), DOMAIN_MAILBOX_ID);
}

function collect(
  rows: readonly MailboxMapRow[],
  domains: readonly MailboxMapDomain[],
  opts: MailboxMapOptions,
): Collected {
  const c = new IssueCollector();
  const path = opts.path ?? "mailbox.map";
  const known = opts.servers ? new Set(opts.servers) : undefined;
  // Key → the put that holds it (an index into the arrays below); field names only for messages.
  const holder = new Map<string, number>();
  const homeOf: string[] = [];
  const rowOf: number[] = [];
  const partOf: number[] = [];
  const what = (row: number, part: number): string =>
    part === DOMAIN_MAILBOX_ID
      ? `domains[${row}].mailboxId`
      : part === USERNAME
        ? `users[${row}].username`
        : part === USER_MAILBOX_ID
          ? `users[${row}].mailboxId`
          : `users[${row}].aliases[${part}]`;

  // A few distinct home nodes serve many rows: check each once.
  const verdicts = new Map<string, "ok" | "GRX122" | "GRX123">();
  const checkHome = (home: string, owner: string): boolean => {
    let verdict = verdicts.get(home);
    if (verdict === undefined) {
      verdict = !isFqdn(home) ? "GRX122" : known && !known.has(home) ? "GRX123" : "ok";
      verdicts.set(home, verdict);
    }
    if (verdict === "GRX122") {
      c.add(
        "GRX122",
        path,
        `${owner}.homeserver`,
        `"${home}" is not a host name; map values must be servers.hostname.`,
        "Join users.homeserver to servers.id and take servers.hostname.",
      );
      return false;
    }
    if (verdict === "GRX123") {
      c.add(
        "GRX123",
        path,
        `${owner}.homeserver`,
        `"${home}" is not a mailbox node of the load balancer; HAProxy would silently load-balance instead.`,
        `Use one of: ${[...known!].sort().join(", ")}; or add the node to the cluster.`,
      );
      return false;
    }
    return true;
  };
  /** Whether the key is now held by this put (false: an issue was recorded instead). */
  const put = (key: string, home: string, row: number, part: number): boolean => {
    const problem = keyProblem(key);
    if (problem) {
      c.add("GRX120", path, what(row, part), `key "${key}" ${problem}.`, "Fix the user name or alias in the database.");
      return false;
    }
    const prev = holder.get(key);
    if (prev !== undefined && homeOf[prev] !== home) {
      c.add(
        "GRX121",
        path,
        what(row, part),
        `key "${key}" maps to "${homeOf[prev]}" (${what(rowOf[prev]!, partOf[prev]!)}) and to "${home}".`,
        "A key may name one home node only: remove the duplicate alias or user.",
      );
      return false;
    }
    holder.set(key, homeOf.length);
    homeOf.push(home);
    rowOf.push(row);
    partOf.push(part);
    return true;
  };

  rows.forEach((r, i) => {
    const home = r.homeserver ?? "";
    if (home === "") return; // homeserver 0: the mailbox is not placed; nothing to route.
    if (!Number.isInteger(r.id) || r.id < 0 || r.id > MAX_U32) {
      c.add(
        "GRX124",
        path,
        `users[${i}].id`,
        `users.id ${String(r.id)} is not an unsigned 32-bit integer.`,
        "Pass users.id as read from SQL.",
      );
      return;
    }
    if (!checkHome(home, `users[${i}]`)) return;
    userKeys(r, (key, part) => put(key, home, i, part));
  });
  domains.forEach((d, i) => {
    const home = d.homeserver ?? "";
    if (home === "") return;
    if (!Number.isInteger(d.id) || d.id < 0 || d.id > MAX_U32) {
      c.add(
        "GRX124",
        path,
        `domains[${i}].id`,
        `domains.id ${String(d.id)} is not an unsigned 32-bit integer.`,
        "Pass domains.id as read from SQL.",
      );
      return;
    }
    if (!checkHome(home, `domains[${i}]`)) return;
    domainKeys(d, (key, part) => put(key, home, i, part));
  });
  return { keys: holder, homes: homeOf, issues: [...c.issues] };
}

/**
 * The entries of a map, in code-unit order of their keys, each key once: `homeIndex[i]` is the
 * index into `homes` of the home node of `keys[i]`.
 */
interface SortedEntries {
  readonly keys: readonly string[];
  readonly homeIndex: readonly number[];
  readonly homes: readonly string[];
}

/**
 * The entries of a map without problems, or undefined when `collect` has to decide: a row has a
 * problem (an issue to report) or a key comes for two home nodes (GRX121). The same keys as
 * `collect` puts, in one list per home node instead of a `Map` of all keys (hashing every key
 * costs more than sorting them): each list sorted, then the lists merged in one pass, where a key
 * that comes twice is next to itself.
 */
function entriesWithoutProblems(
  rows: readonly MailboxMapRow[],
  domains: readonly MailboxMapDomain[],
  opts: MailboxMapOptions,
): SortedEntries | undefined {
  const known = opts.servers ? new Set(opts.servers) : undefined;
  const homeIndex = new Map<string, number>();
  const homes: string[] = [];
  const lists: string[][] = [];
  /** The key list of a home node; undefined when it is not one (an issue). */
  const listOf = (home: string): string[] | undefined => {
    const i = homeIndex.get(home);
    if (i !== undefined) return lists[i];
    if (!isFqdn(home) || (known && !known.has(home))) return undefined;
    const list: string[] = [];
    homeIndex.set(home, homes.length);
    homes.push(home);
    lists.push(list);
    return list;
  };
  const validId = (id: number): boolean => Number.isInteger(id) && id >= 0 && id <= MAX_U32;
  // The same keys as collect (userKeys, domainKeys); any key with a problem ends the fast path.
  let list: string[] = [];
  let clean = true;
  const push = (key: string): boolean => {
    if (keyProblem(key)) return (clean = false);
    list.push(key);
    return true;
  };
  /** Puts every placed item's keys in its home node's list; false when collect has to decide. */
  const place = <T extends MailboxMapRow | MailboxMapDomain>(
    items: readonly T[],
    keysOf: (item: T, emit: (key: string) => boolean) => void,
  ): boolean => {
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item === undefined) return false; // a hole or undefined: as collect has it
      const home = item.homeserver ?? "";
      if (home === "") continue;
      if (!validId(item.id)) return false;
      const l = listOf(home);
      if (!l) return false;
      list = l;
      keysOf(item, push);
      if (!clean) return false;
    }
    return true;
  };
  if (!place(rows, userKeys) || !place(domains, domainKeys)) return undefined;
  const merged = mergeSorted(lists.map(sortByCodeUnits));
  return merged && { keys: merged.keys, homeIndex: merged.run, homes };
}

/**
 * Runs sorted in code-unit order merged into one, each key once, with the index of the run it
 * came from; undefined when a key is in two runs (for two home nodes). A key that comes again in
 * its own run is one entry (as `collect` keeps it).
 *
 * One pass over all keys through a tournament (loser) tree: the leaf of run `r` is `k + r`, node
 * `n` (1 ≤ n < k) holds the run that lost the match there, and `w` is the overall winner, the run
 * whose head comes next. After its head is taken, only the matches on the path from its leaf
 * to the root are replayed: about log2 k comparisons per key, and no run is copied in between.
 */
function mergeSorted(runs: readonly string[][]): { keys: string[]; run: number[] } | undefined {
  const k = runs.length;
  const keys: string[] = [];
  const run: number[] = [];
  if (k === 0) return { keys, run };
  const next = new Int32Array(k);
  /** Each run's next key; undefined when the run is done. */
  const head: Array<string | undefined> = runs.map((r) => r[0]);
  /** Whether run a's head comes before run b's (a finished run comes after every other). */
  const before = (a: number, b: number): boolean => {
    const x = head[a];
    if (x === undefined) return false;
    const y = head[b];
    return y === undefined || x < y;
  };
  // The first round, bottom up: the winner of each match goes up, its loser stays.
  const winner = new Int32Array(2 * k);
  const loser = new Int32Array(k);
  for (let r = 0; r < k; r++) winner[k + r] = r;
  for (let n = k - 1; n >= 1; n--) {
    const a = winner[2 * n]!;
    const b = winner[2 * n + 1]!;
    const bFirst = before(b, a);
    winner[n] = bFirst ? b : a;
    loser[n] = bFirst ? a : b;
  }
  let w = winner[1]!;
  let last: string | undefined;
  let lastRun = -1;
  for (;;) {
    const key = head[w];
    if (key === undefined) break; // the winner is done: all are
    head[w] = runs[w]![++next[w]!];
    if (key !== last) {
      keys.push(key);
      run.push(w);
      last = key;
      lastRun = w;
    } else if (w !== lastRun) {
      return undefined;
    }
    // w's new head plays the losers on its path; a loser that wins goes on up instead.
    for (let n = (k + w) >> 1; n >= 1; n >>= 1) {
      const l = loser[n]!;
      if (before(l, w)) {
        loser[n] = w;
        w = l;
      }
    }
  }
  return { keys, run };
}

/** The entries of `collect`'s keys, sorted. */
function sortedEntries(held: Map<string, number>, homeOf: readonly string[]): SortedEntries {
  const keys = sortByCodeUnits([...held.keys()]);
  const homeIndex = new Map<string, number>();
  const homes: string[] = [];
  const at = keys.map((key) => {
    const home = homeOf[held.get(key)!]!;
    let i = homeIndex.get(home);
    if (i === undefined) {
      i = homes.length;
      homeIndex.set(home, i);
      homes.push(home);
    }
    return i;
  });
  return { keys, homeIndex: at, homes };
}

/**
 * Strings in code-unit order (as `Array.prototype.sort()` without a comparator), sorted in
 * buckets of their first two code units: fewer comparisons of long shared prefixes (MailboxIds
 * of similar names share their first 20 characters).
 */
function sortByCodeUnits(items: string[]): string[] {
  const buckets = new Map<number, string[]>();
  for (const s of items) {
    // -1 sorts a string that ends before the second unit ahead of its longer relatives.
    const b = s.length === 0 ? -1 : s.charCodeAt(0) * 0x10001 + (s.length > 1 ? s.charCodeAt(1) : -1);
    const list = buckets.get(b);
    if (list) list.push(s);
    else buckets.set(b, [s]);
  }
  const out = new Array<string>(items.length);
  let o = 0;
  for (const b of [...buckets.keys()].sort((x, y) => x - y)) for (const s of buckets.get(b)!.sort()) out[o++] = s;
  return out;
}

/** The entries in key order; throws the rows' problems. */
function entries(
  rows: readonly MailboxMapRow[],
  domains: readonly MailboxMapDomain[],
  opts: MailboxMapOptions,
): SortedEntries {
  const fast = entriesWithoutProblems(rows, domains, opts);
  if (fast) return fast;
  const { keys, homes, issues } = collect(rows, domains, opts);
  if (issues.length > 0) throw new GrommunioValidationError(issues);
  return sortedEntries(keys, homes);
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
  const { keys, homeIndex, homes } = entries(rows, domains, opts);
  return keys.map((k, i) => [k, homes[homeIndex[i]!]!]);
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
  const { keys, homeIndex, homes } = entries(rows, domains, opts);
  // Appended piece by piece: the pieces are written into the text once, when it is first read
  // (no array of lines, and each node's " hostname\n" is one shared string).
  const tails = homes.map((h) => ` ${h}\n`);
  let body = "";
  for (let i = 0; i < keys.length; i++) body += keys[i]! + tails[homeIndex[i]!]!;
  const header = "# key (lower case: user name, alias, MAPI MailboxId) -> servers.hostname; HAProxy server names\n";
  return {
    path: MAILBOX_MAP_PATH,
    content: header + body,
    mode: "0640",
    owner: "root:haproxy",
  };
}
