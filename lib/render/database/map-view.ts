/**
 * The view the load balancers' map job reads (`grommunio_mailbox_map`): every routing key of
 * mailbox.map with its home server's `servers.hostname`, the MAPI/HTTP `MailboxId` keys computed by
 * MariaDB (`mailboxMapQuery`, reference/gromox.md §14). Created with the servers seed on the schema
 * node (after `gromox-dbop -C`), so the query is in the database once instead of in every load
 * balancer's user-data; `SQL SECURITY INVOKER`: the map reader reads it with its own column grants
 * (`MAP_READER_COLUMNS`) plus SELECT on the view (`renderMapReaderGrants`). Pure.
 */
import { Topology } from "../../topology";
import { mailboxMapQuery } from "../ops/map-query";
import { SQL_MODE_PREAMBLE, sqlIdent, sqlScript } from "./sql";

/** Name of the view in the gromox database. */
export const MAILBOX_MAP_VIEW = "grommunio_mailbox_map";

/** The view's columns: the row kind (`user`, `alias`, `mailboxid`, `public`), the key, the hostname. */
export const MAILBOX_MAP_VIEW_COLUMNS = ["kind", "mkey", "host"] as const;

/**
 * SQL (run after `gromox-dbop -C`, with an account that may create views on the database, e.g. the
 * gromox account) that creates or replaces the view. Idempotent.
 */
export function renderMailboxMapView(topology: Topology): string {
  const columns = MAILBOX_MAP_VIEW_COLUMNS.map(sqlIdent).join(", ");
  return sqlScript(
    [
      `${topology.path}: the view grommunio-mailbox-map reads, rendered by cdktf-grommunio.`,
      "Run after gromox-dbop -C; idempotent.",
    ],
    [
      SQL_MODE_PREAMBLE,
      `CREATE OR REPLACE SQL SECURITY INVOKER VIEW ${sqlIdent(MAILBOX_MAP_VIEW)} (${columns}) AS\n${mailboxMapQuery().trimEnd()}`,
    ],
  );
}
