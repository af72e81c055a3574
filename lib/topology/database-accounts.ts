/**
 * Validation of the database accounts beyond the main one and of the database node's settings
 * (codes GRX050–GRX069, reserved for the postfix/SQL side). Called from `buildTopology`; kept
 * apart so that the SQL side's rules live in one file.
 */
import { IssueCollector } from "./errors";
import { ClusterInput, DatabaseOnNodeInput } from "./model";

/** Characters that would break an SQL statement line, a postfix map file or a YAML line. */
const UNSAFE_SECRET = /[\r\n\0]/;

/** Default name of the load balancers' read-only account. */
export const DEFAULT_MAP_READER_USER = "grommunio_map";

/**
 * The load balancers' read-only database account: undefined when neither `mapReaderUser` nor
 * `mapReaderPassword` was given (no account), null when invalid (GRX050, GRX051 added to `c`).
 */
export function resolveMapReader(
  db: ClusterInput["database"] | undefined,
  user: string,
  root: string,
  c: IssueCollector,
): { user: string; password: string } | undefined | null {
  if (db?.mapReaderPassword === undefined && db?.mapReaderUser === undefined) return undefined;
  const readerUser = db.mapReaderUser ?? DEFAULT_MAP_READER_USER;
  let ok = true;
  if (!/^[A-Za-z0-9_]{1,32}$/.test(readerUser) || readerUser === user) {
    c.add(
      "GRX050",
      root,
      "database.mapReaderUser",
      readerUser === user
        ? `the map reader "${readerUser}" is the same account as database.user; the bootstrap would give it write grants.`
        : `"${readerUser}" is not a plain MariaDB user name.`,
      `Use letters, digits and _ (at most 32), different from database.user (default "${DEFAULT_MAP_READER_USER}").`,
    );
    ok = false;
  }
  const pw = db.mapReaderPassword;
  if (typeof pw !== "string" || pw.length === 0 || UNSAFE_SECRET.test(pw)) {
    c.add(
      "GRX051",
      root,
      "database.mapReaderPassword",
      pw === undefined
        ? "database.mapReaderUser is set but mapReaderPassword is missing."
        : "the map reader password is empty or spans lines.",
      "Pass a random_password result (or another secret reference) for the load balancers' read-only account.",
    );
    ok = false;
  }
  return ok ? { user: readerUser, password: pw! } : null;
}

/** Default MariaDB buffer pool of the database node. */
export const DEFAULT_INNODB_BUFFER_POOL_SIZE = "1G";

/**
 * The database node's `innodb_buffer_pool_size` (default `DEFAULT_INNODB_BUFFER_POOL_SIZE`), or
 * undefined when it is not a MariaDB size (GRX052 added to `c`).
 */
export function resolveInnodbBufferPool(db: DatabaseOnNodeInput, root: string, c: IssueCollector): string | undefined {
  const size = db.innodbBufferPoolSize ?? DEFAULT_INNODB_BUFFER_POOL_SIZE;
  if (typeof size === "string" && /^[1-9][0-9]{0,6}[KMG]$/.test(size)) return size;
  c.add(
    "GRX052",
    root,
    "database.innodbBufferPoolSize",
    `"${String(size)}" is not a MariaDB size.`,
    'Give a whole number with the unit K, M or G, e.g. "4G" (50–70 % of the database VM\'s RAM).',
  );
  return undefined;
}
