/**
 * postfix mysql lookup tables on classic nodes (grommunio/grommunio-setup:setup.sh,
 * reference/gromox.md §10). They hold the database password: root:postfix 0640 (postfix's
 * proxymap opens them as root before dropping privileges; nobody else reads them).
 */
import { DatabaseEndpoint, readersTrimValue } from "../../topology";

/** The lookup argument as grommunio's installer quotes it: utf8mb4 literal, case-insensitive. */
const ARG = "_utf8mb4'%s' COLLATE utf8mb4_general_ci";

/** The four maps: main.cf parameter → file and query. */
export const POSTFIX_MYSQL_MAPS = [
  {
    parameter: "virtual_mailbox_domains",
    path: "/etc/postfix/grommunio-virtual-mailbox-domains.cf",
    query: `SELECT 1 FROM domains WHERE domain_status=0 AND domainname=${ARG}`,
  },
  {
    parameter: "virtual_mailbox_maps",
    path: "/etc/postfix/grommunio-virtual-mailbox-maps.cf",
    query: `SELECT 1 FROM users WHERE username=${ARG}`,
  },
  {
    parameter: "virtual_alias_maps",
    path: "/etc/postfix/grommunio-virtual-mailbox-alias-maps.cf",
    query: `SELECT mainname FROM aliases WHERE aliasname=${ARG} UNION SELECT destination FROM forwards WHERE username=${ARG} AND forward_type=1`,
  },
  {
    parameter: "recipient_bcc_maps",
    path: "/etc/postfix/grommunio-bcc-forwards.cf",
    query: `SELECT destination FROM forwards WHERE username=${ARG} AND forward_type=0`,
  },
] as const;

export type PostfixMapParameter = (typeof POSTFIX_MYSQL_MAPS)[number]["parameter"];

/**
 * One mysql_table(5) file: `hosts` = the database endpoint as `inet:host:port`, user, password,
 * dbname, query, as `name = value` lines. postfix reads them literally (docs/config-values.md:
 * global/cfg_parser.c → util/dict.c `dict_load_fp` → util/readlline.c, util/split_nameval.c): a
 * comment is a line whose first non-blank is `#`, a line starting with a blank continues the one
 * before, blanks around `=` and at the end are dropped; no quoting, no escapes, `#` and quotes
 * inside a value are kept. So a value must be one line without a blank at either end.
 */
export function renderMysqlMap(db: DatabaseEndpoint, query: string, comment: string): string {
  const params: Array<[string, string]> = [
    ["hosts", `inet:${db.host}:${db.port}`],
    ["user", db.user],
    ["password", db.password],
    ["dbname", db.name],
    ["query", query],
  ];
  for (const [name, value] of params) {
    if (/[\r\n\0]/.test(value) || readersTrimValue(value) || value === "") {
      throw new Error(`mysql map: ${name} is empty, spans lines or has outer whitespace`);
    }
  }
  return [`# ${comment}`, ...params.map(([n, v]) => `${n} = ${v}`)].join("\n") + "\n";
}
