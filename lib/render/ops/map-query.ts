/**
 * The SQL the load balancers' map job runs (as the read-only map reader): every routing key of
 * mailbox.map with its home server's `servers.hostname`, the MAPI/HTTP `MailboxId` keys computed
 * by MariaDB itself (reference/gromox.md §14). Reads only the columns the map reader is granted
 * (`MAP_READER_COLUMNS`). Pure.
 */

/** The kinds of rows the query returns (first column). */
export const MAP_ROW_KINDS = ["user", "alias", "mailboxid", "public"] as const;
export type MapRowKind = (typeof MAP_ROW_KINDS)[number];

/**
 * SQL expression of a store's `MailboxId` (gromox `cvt_username_to_mailboxid`, gromox.md §14): the
 * first 12 bytes of `name` (zero-padded) as lowercase hex grouped 8-4-4-4-4 (4-2-2-2-2 bytes), then
 * `id` as 4 bytes least-significant first, `@`, and `domain`. The same computation as
 * `mailboxId`/`publicStoreMailboxId` in lib/render/haproxy/mailbox-map.ts.
 */
export function mailboxIdSql(name: string, id: string, domain: string): string {
  const hex12 = `RPAD(LOWER(HEX(LEFT(CAST(${name} AS BINARY), 12))), 24, '0')`;
  const grouped = `INSERT(INSERT(INSERT(INSERT(${hex12}, 21, 0, '-'), 17, 0, '-'), 13, 0, '-'), 9, 0, '-')`;
  const byte = (shift: number) => `LPAD(HEX((${id} >> ${shift}) & 0xFF), 2, '0')`;
  const le32 = `LOWER(CONCAT(${byte(0)}, ${byte(8)}, ${byte(16)}, ${byte(24)}))`;
  return `CONCAT(${grouped}, ${le32}, '@', ${domain})`;
}

/** The part of a user name after its first `@` (empty without one, as `mailboxId` does). */
function domainPart(name: string): string {
  return `IF(LOCATE('@', ${name}) = 0, '', SUBSTRING(${name}, LOCATE('@', ${name}) + 1))`;
}

/**
 * The map job's query: rows `kind <TAB> key <TAB> hostname`, keys lower-cased:
 * - `user`: each user's name; `alias`: each alias of a user;
 * - `mailboxid`: the user's MailboxId over the stored name and over the lower-cased name (Outlook's
 *   MAPI/HTTP URLs, and the RPC/HTTP referral which lower-cases first);
 * - `public`: each domain's public-store MailboxId (both variants) with `domains.homeserver`.
 *
 * Rows with homeserver 0 (not placed) are left out; a homeserver with no `servers` row gives an
 * empty hostname, which the job counts as skipped. Reads only `users.id, username, homeserver`,
 * `aliases.aliasname, mainname`, `servers.id, hostname`, `domains.id, domainname, homeserver`.
 */
export function mailboxMapQuery(): string {
  const home = (alias: string) => `LEFT JOIN servers s ON s.id = ${alias}.homeserver`;
  const host = "COALESCE(s.hostname, '')";
  const user = "u.username";
  const lowerUser = "LOWER(u.username)";
  const dom = "d.domainname";
  const lowerDom = "LOWER(d.domainname)";
  const selects = [
    `SELECT 'user', LOWER(u.username), ${host} FROM users u ${home("u")} WHERE u.homeserver <> 0`,
    `SELECT 'alias', LOWER(a.aliasname), ${host} FROM aliases a JOIN users u ON u.username = a.mainname ${home("u")} WHERE u.homeserver <> 0`,
    `SELECT 'mailboxid', LOWER(${mailboxIdSql(user, "u.id", domainPart(user))}), ${host} FROM users u ${home("u")} WHERE u.homeserver <> 0`,
    `SELECT 'mailboxid', LOWER(${mailboxIdSql(lowerUser, "u.id", domainPart(lowerUser))}), ${host} FROM users u ${home("u")} WHERE u.homeserver <> 0`,
    `SELECT 'public', LOWER(${mailboxIdSql(dom, "d.id", dom)}), ${host} FROM domains d ${home("d")} WHERE d.homeserver <> 0`,
    `SELECT 'public', LOWER(${mailboxIdSql(lowerDom, "d.id", lowerDom)}), ${host} FROM domains d ${home("d")} WHERE d.homeserver <> 0`,
  ];
  return selects.join("\nUNION ALL\n") + ";\n";
}
