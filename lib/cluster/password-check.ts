/**
 * Plan-time checks of passwords that Terraform fills in (a variable, an SSM parameter, a Secrets
 * Manager value). Terraform, or the secret store's fetch program, puts such a value into the
 * files as it is, unescaped, so a value the files' readers would take apart or read as another
 * string must stop the plan: a `terraform_data` with preconditions (built into Terraform, no
 * provider). A literal password is escaped or validated at synth instead (GRX028, GRX457, and
 * GRX225 for the RDS master password).
 * Terraform's verdicts on edge cases: test/fixtures/terraform-password-check.json.
 */
import { Construct } from "constructs";
import { DataResource, Fn, Op } from "cdktf";
import { DATABASE_PASSWORD_MAX_BYTES, OPTION_FILE_LINE_MAX_BYTES } from "../topology";

/** Characters no database password Terraform fills in may hold (RE2 class body). */
const DB_FORBIDDEN = "[:cntrl:]\\x22\\x27\\x5c\\x{80}-\\x{9f}\\x{2028}\\x{2029}\\x{fffe}\\x{ffff}";

const DATABASE_PATTERN = `^[^\\s${DB_FORBIDDEN}](?:[^${DB_FORBIDDEN}]*[^\\s${DB_FORBIDDEN}])?$`;

/**
 * The RDS master password (`Database.rds`: the cluster's database password is also the
 * instance's `password`), as AWS documents CreateDBInstance's `MasterUserPassword`: "Can include
 * any printable ASCII character except "/", """, or "@"" and, for RDS for MariaDB, "Must contain
 * from 8 to 41 characters"; the API's refusal names the space too ("Only printable ASCII
 * characters besides '/', '@', '"', ' ' may be used"). The AWS provider checks neither at plan
 * (docs/errors.md, GRX225): without this a refused password fails only at apply.
 * `pattern` is RE2 and JavaScript alike: 0x21–0x7e without `"` (0x22), `/` (0x2f), `@` (0x40).
 */
export const RDS_MASTER_PASSWORD = { pattern: "^[!#-.0-?A-~]*$", minLength: 8, maxLength: 41 } as const;

/**
 * The RDS master user name (`Database.rds`'s `user`), as AWS documents CreateDBInstance's
 * `MasterUsername`: "Must be 1 to 16 letters, numbers, or underscores. First character must be a
 * letter." (GRX224). Nor may it be a reserved word (`MARIADB_RESERVED_WORDS`).
 */
export const RDS_MASTER_USER = /^[A-Za-z][A-Za-z0-9_]{0,15}$/;

/**
 * Reserved words of MariaDB (RDS for MariaDB's engine), which RDS refuses as master user name
 * (CreateDBInstance `MasterUsername`: "Can't be a reserved word for the chosen database engine";
 * GRX224). Source: the MariaDB Server documentation, "Reserved Words"
 * (https://mariadb.com/docs/server/reference/sql-structure/sql-language-structure/reserved-words,
 * repository mariadb-corporation/mariadb-docs at 26f17baa1976e1e78999000a649e5c9a0811ecbc): the
 * main list, including the words the page marks as reserved only in newer releases (OFFSET
 * "> 10.6", ROW_NUMBER "> 10.7", VECTOR "> 11.6"), since RDS offers several; not the exceptions
 * (ACTION, BIT, DATE, ENUM, NO, TEXT, TIME, TIMESTAMP) nor the Oracle-mode words. Upper case,
 * sorted (code units).
 */
export const MARIADB_RESERVED_WORDS: readonly string[] = [
  "ACCESSIBLE",
  "ADD",
  "ALL",
  "ALTER",
  "ANALYZE",
  "AND",
  "AS",
  "ASC",
  "ASENSITIVE",
  "BEFORE",
  "BETWEEN",
  "BIGINT",
  "BINARY",
  "BLOB",
  "BOTH",
  "BY",
  "CALL",
  "CASCADE",
  "CASE",
  "CHANGE",
  "CHAR",
  "CHARACTER",
  "CHECK",
  "COLLATE",
  "COLUMN",
  "CONDITION",
  "CONSTRAINT",
  "CONTINUE",
  "CONVERT",
  "CREATE",
  "CROSS",
  "CURRENT_DATE",
  "CURRENT_ROLE",
  "CURRENT_TIME",
  "CURRENT_TIMESTAMP",
  "CURRENT_USER",
  "CURSOR",
  "DATABASE",
  "DATABASES",
  "DAY_HOUR",
  "DAY_MICROSECOND",
  "DAY_MINUTE",
  "DAY_SECOND",
  "DEC",
  "DECIMAL",
  "DECLARE",
  "DEFAULT",
  "DELAYED",
  "DELETE",
  "DELETE_DOMAIN_ID",
  "DESC",
  "DESCRIBE",
  "DETERMINISTIC",
  "DISTINCT",
  "DISTINCTROW",
  "DIV",
  "DOUBLE",
  "DO_DOMAIN_IDS",
  "DROP",
  "DUAL",
  "EACH",
  "ELSE",
  "ELSEIF",
  "ENCLOSED",
  "ESCAPED",
  "EXCEPT",
  "EXISTS",
  "EXIT",
  "EXPLAIN",
  "FALSE",
  "FETCH",
  "FLOAT",
  "FLOAT4",
  "FLOAT8",
  "FOR",
  "FORCE",
  "FOREIGN",
  "FROM",
  "FULLTEXT",
  "GENERAL",
  "GRANT",
  "GROUP",
  "HAVING",
  "HIGH_PRIORITY",
  "HOUR_MICROSECOND",
  "HOUR_MINUTE",
  "HOUR_SECOND",
  "IF",
  "IGNORE",
  "IGNORE_DOMAIN_IDS",
  "IGNORE_SERVER_IDS",
  "IN",
  "INDEX",
  "INFILE",
  "INNER",
  "INOUT",
  "INSENSITIVE",
  "INSERT",
  "INT",
  "INT1",
  "INT2",
  "INT3",
  "INT4",
  "INT8",
  "INTEGER",
  "INTERSECT",
  "INTERVAL",
  "INTO",
  "IS",
  "ITERATE",
  "JOIN",
  "KEY",
  "KEYS",
  "KILL",
  "LEADING",
  "LEAVE",
  "LEFT",
  "LIKE",
  "LIMIT",
  "LINEAR",
  "LINES",
  "LOAD",
  "LOCALTIME",
  "LOCALTIMESTAMP",
  "LOCK",
  "LONG",
  "LONGBLOB",
  "LONGTEXT",
  "LOOP",
  "LOW_PRIORITY",
  "MASTER_HEARTBEAT_PERIOD",
  "MASTER_SSL_VERIFY_SERVER_CERT",
  "MATCH",
  "MAXVALUE",
  "MEDIUMBLOB",
  "MEDIUMINT",
  "MEDIUMTEXT",
  "MIDDLEINT",
  "MINUTE_MICROSECOND",
  "MINUTE_SECOND",
  "MOD",
  "MODIFIES",
  "NATURAL",
  "NOT",
  "NO_WRITE_TO_BINLOG",
  "NULL",
  "NUMERIC",
  "OFFSET",
  "ON",
  "OPTIMIZE",
  "OPTION",
  "OPTIONALLY",
  "OR",
  "ORDER",
  "OUT",
  "OUTER",
  "OUTFILE",
  "OVER",
  "PAGE_CHECKSUM",
  "PARSE_VCOL_EXPR",
  "PARTITION",
  "PRECISION",
  "PRIMARY",
  "PROCEDURE",
  "PURGE",
  "RANGE",
  "READ",
  "READS",
  "READ_WRITE",
  "REAL",
  "RECURSIVE",
  "REFERENCES",
  "REF_SYSTEM_ID",
  "REGEXP",
  "RELEASE",
  "RENAME",
  "REPEAT",
  "REPLACE",
  "REQUIRE",
  "RESIGNAL",
  "RESTRICT",
  "RETURN",
  "RETURNING",
  "REVOKE",
  "RIGHT",
  "RLIKE",
  "ROWS",
  "ROW_NUMBER",
  "SCHEMA",
  "SCHEMAS",
  "SECOND_MICROSECOND",
  "SELECT",
  "SENSITIVE",
  "SEPARATOR",
  "SET",
  "SHOW",
  "SIGNAL",
  "SLOW",
  "SMALLINT",
  "SPATIAL",
  "SPECIFIC",
  "SQL",
  "SQLEXCEPTION",
  "SQLSTATE",
  "SQLWARNING",
  "SQL_BIG_RESULT",
  "SQL_CALC_FOUND_ROWS",
  "SQL_SMALL_RESULT",
  "SSL",
  "STARTING",
  "STATS_AUTO_RECALC",
  "STATS_PERSISTENT",
  "STATS_SAMPLE_PAGES",
  "STRAIGHT_JOIN",
  "TABLE",
  "TERMINATED",
  "THEN",
  "TINYBLOB",
  "TINYINT",
  "TINYTEXT",
  "TO",
  "TRAILING",
  "TRIGGER",
  "TRUE",
  "UNDO",
  "UNION",
  "UNIQUE",
  "UNLOCK",
  "UNSIGNED",
  "UPDATE",
  "USAGE",
  "USE",
  "USING",
  "UTC_DATE",
  "UTC_TIME",
  "UTC_TIMESTAMP",
  "VALUES",
  "VARBINARY",
  "VARCHAR",
  "VARCHARACTER",
  "VARYING",
  "VECTOR",
  "WHEN",
  "WHERE",
  "WHILE",
  "WINDOW",
  "WITH",
  "WRITE",
  "XOR",
  "YEAR_MONTH",
  "ZEROFILL",
];

/**
 * What each checked password may hold (RE2 patterns).
 *
 * - `database`: the value stands inside SQL string literals (the account bootstrap),
 *   double-quoted option-file values (db.cnf), the admin API's single-quoted YAML, and bare in
 *   gromox's mysql_adaptor.cfg and postfix's mysql maps (no quoting; blanks at the ends trimmed).
 *   So: no quote, no backslash, no control character (C0, DEL, C1), no U+2028/U+2029 (line breaks
 *   to PyYAML, as U+0085 is) or U+FFFE/U+FFFF (PyYAML refuses them), no blank at either end, not
 *   empty.
 * - `rds`: the database password of `Database.rds`, also the RDS master password: what
 *   `database` admits, and further preconditions for what RDS takes (`RDS_MASTER_PASSWORD`).
 * - `admin`: the value is the one line of a file that first boot hands to
 *   `grommunio-admin passwd --password "$(cat …)"`: the command substitution drops trailing
 *   newlines, and the CLI's argument parser (Python argparse) takes a value starting with `-` for
 *   an option and fails. So: no control character, no `-` first, not empty.
 */
export const PASSWORD_PATTERNS = {
  database: DATABASE_PATTERN,
  rds: DATABASE_PATTERN,
  admin: "^[^-[:cntrl:]][^[:cntrl:]]*$",
} as const;

export type CheckedPassword = keyof typeof PASSWORD_PATTERNS;

const DATABASE_MESSAGES = {
  pattern:
    "The database password holds a quote, a backslash or a control character, starts or ends with a blank, or is empty: the gromox, postfix, SQL and YAML files take it unescaped. Choose one without (e.g. exclude_characters on the secret).",
  length: (max: number) =>
    `The database password is longer than passwordMaxLength (${max}), the length the user-data size check assumed. Raise passwordMaxLength.`,
};

const MESSAGES: Record<CheckedPassword, { pattern: string; length: (max: number) => string }> = {
  database: DATABASE_MESSAGES,
  rds: DATABASE_MESSAGES,
  admin: {
    pattern:
      "The grommunio admin password starts with '-' (grommunio-admin passwd would take it for an option), holds a control character (a trailing newline would be dropped), or is empty. Choose one without.",
    length: (max) =>
      `The grommunio admin password is longer than ${max} characters, the length the user-data size check assumed.`,
  },
};

/**
 * `DATABASE_PASSWORD_MAX_BYTES` as the length of the password's base64 (Terraform's `length`
 * counts characters, not bytes): n bytes give 4·⌈n/3⌉ characters, so n ≤ max ⇔ base64 ≤ 4·max/3,
 * exactly because max is a multiple of 3 (test/cluster/password-check.test.ts).
 */
const BASE64_MAX = (DATABASE_PASSWORD_MAX_BYTES / 3) * 4;

/** The checks added under each scope, in order (`passwordChecksOf`). */
const checksByScope = new WeakMap<Construct, DataResource[]>();

/**
 * Adds a `terraform_data` whose preconditions refuse, at plan (or at apply, for a value known only
 * then), a `kind` password its files cannot carry (`PASSWORD_PATTERNS`) or one longer than the
 * length the user-data size check assumed (`maxLength`), and a database password longer than
 * `DATABASE_PASSWORD_MAX_BYTES` (UTF-8; db.cnf's line limit); for `rds`, also one RDS refuses
 * as master password (`RDS_MASTER_PASSWORD`: characters, then length). Returns it. A value known only at apply
 * is checked when the `terraform_data` is created, so whatever carries the password must depend
 * on it (`passwordChecksOf`): the cluster makes every machine do so.
 */
export function addPasswordCheck(
  scope: Construct,
  id: string,
  kind: CheckedPassword,
  value: string,
  maxLength: number,
): DataResource {
  // The pattern stands in an HCL string literal: cdktf writes function arguments unescaped.
  const inHcl = PASSWORD_PATTERNS[kind].replace(/\\/g, "\\\\");
  const check = new DataResource(scope, id, {
    lifecycle: {
      precondition: [
        { condition: Fn.can(Fn.regex(inHcl, value)), errorMessage: MESSAGES[kind].pattern },
        { condition: Op.lte(Fn.lengthOf(value), maxLength), errorMessage: MESSAGES[kind].length(maxLength) },
        ...(kind !== "admin"
          ? [
              {
                condition: Op.lte(Fn.lengthOf(Fn.base64encode(value)), BASE64_MAX),
                errorMessage: `The database password is longer than ${DATABASE_PASSWORD_MAX_BYTES} bytes (UTF-8): MariaDB's option-file reader reads at most ${OPTION_FILE_LINE_MAX_BYTES} bytes of a line, so db.cnf's password="…" would be cut and the mariadb client would fail.`,
              },
            ]
          : []),
        ...(kind === "rds"
          ? [
              {
                condition: Fn.can(Fn.regex(RDS_MASTER_PASSWORD.pattern, value)),
                errorMessage:
                  'The database password is also the RDS master password, and RDS takes only printable ASCII characters except "/", "@", \'"\' and the space (CreateDBInstance MasterUserPassword). Choose one without (e.g. exclude_characters on the secret).',
              },
              {
                condition: Op.and(
                  Op.gte(Fn.lengthOf(value), RDS_MASTER_PASSWORD.minLength),
                  Op.lte(Fn.lengthOf(value), RDS_MASTER_PASSWORD.maxLength),
                ),
                errorMessage: `The database password is also the RDS master password, and RDS for MariaDB takes ${RDS_MASTER_PASSWORD.minLength} to ${RDS_MASTER_PASSWORD.maxLength} characters (CreateDBInstance MasterUserPassword). Choose one of that length.`,
              },
            ]
          : []),
      ],
    },
  });
  checksByScope.set(scope, [...(checksByScope.get(scope) ?? []), check]);
  return check;
}

/** The password checks `addPasswordCheck` added directly under `scope`, in the order added. */
export function passwordChecksOf(scope: Construct): readonly DataResource[] {
  return checksByScope.get(scope) ?? [];
}
