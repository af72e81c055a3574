/**
 * Bash shared by the ops programs (Debian 12 / Ubuntu 24.04: bash 5, coreutils, util-linux's
 * `flock`, the `mariadb` client; `socat` for HAProxy's runtime API on the load balancers). Kept as
 * text here because renderers do no I/O; the system tests run it.
 *
 * Why bash and terse: every byte ships in a node's user-data (16 KB on AWS for everything a node
 * gets, kept under half of it), and the programs compete with haproxy.cfg, certificates and the
 * secret fetcher for that room (docs/operations.md, "Size"). The same programs in Python, even
 * lean, were 1.3-1.8 times the size compressed. Values are rendered into shell assignments with
 * `shQuote`. Host names from the command line are only compared with the `servers` rows; what
 * reaches SQL are the rows' own values, quoted with `sql_quote`; the node steps are built from the
 * topology's names and addresses.
 *
 * Comment-only lines document this source and are dropped from the rendered programs (`shellCode`):
 * comment freely here, keep code lines lean. No multi-line string here has a line starting with `#`.
 */

/**
 * Bash source as a tagged template: the raw text (backslashes as written), with `\${` standing for
 * `${` (a template literal would interpolate `${`). Substitutions are a type error.
 */
export function sh(strings: TemplateStringsArray): string {
  return strings.raw.join("").replace(/\\\$\{/g, "${");
}

/**
 * The rendered form of a bash source: comment-only lines dropped, runs of blank lines collapsed,
 * no leading or trailing blank lines.
 */
export function shellCode(source: string): string {
  return source
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/** A bash word holding `value` literally (single quotes where needed; `'` as `'\''`). */
export function shQuote(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** What every ops program starts with: strict mode, a fixed PATH, exit codes, logging, the run lock. */
export const COMMON_SH = sh`
set -u -o pipefail
# Programs are found on a fixed PATH, whatever the caller's environment says.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
# Exit status: 1 failure (nothing was changed unless the output says so), 2 usage error or refusal
# (nothing was changed), 3 the database change is committed but a later step failed.
FAILED=1 REFUSED=2 PARTIAL=3
log() { echo "$PROG: $*" >&2; }
die() {
  log "\${*:2}"
  exit "$1"
}
# An exclusive lock held until the program exits; another run holding it is a refusal.
lock() { mkdir -p "\${1%/*}" && exec 9>>"$1" && flock -n 9 || die $REFUSED "another run holds $1"; }
# Seconds from the $EPOCHREALTIME $1 to $3 (default: now), with $2 decimals.
since() { awk -v a="$1" -v b="\${3:-$EPOCHREALTIME}" -v f="%.\${2}f" 'BEGIN { printf f, b - a }'; }
`;

/**
 * `grommunio-ops failover|rebalance ...` without the subcommands: the mariadb session, host-name
 * checks and SQL quoting, the `servers` table, the command line, and the node steps (print the
 * commands, run them over ssh as root, or skip them). The subcommands follow (FAILOVER_SH,
 * REBALANCE_SH), then OPS_MAIN_SH.
 */
export const DATABASE_SH = sh`
# sql SECONDS TEXT: one mariadb session (credentials from the option file, never the command line),
# the rows on stdout. Every session starts in strict mode (an impossible value is an error, and an
# error rolls the transaction back) with backslash escapes on (sql_quote relies on it) and bounded
# row-lock waits. An error exits FAILED, with $SQL_CONTEXT added.
sql() {
  timeout "$1" mariadb --defaults-file="$db_config" -BN --default-character-set=utf8mb4 --connect-timeout=10 2>"$work/error" <<<"SET SESSION sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', innodb_lock_wait_timeout = 30;
$2" && return
  local e
  e=$(<"$work/error")
  die $FAILED "database: \${e:-no answer within $1 s}\${SQL_CONTEXT-}"
}
# A single-quoted SQL string (backslash and quote escaped, as lib/render/database/sql.ts sqlString).
# Names from the command line are only compared with the servers rows (find_server); what reaches
# SQL are the rows' own values, quoted.
sql_quote() {
  local s=\${1//\\/\\\\} q="'"
  echo "'\${s//$q/$q$q}'"
}
# SERVERS: "id<TAB>hostname" lines of the servers table. find_server NAME sets id and host (host
# names compare case-insensitively, as the column does), refusing an unknown one unless $2 is given.
read_servers() { SERVERS=$(sql 60 "SELECT id, hostname FROM servers ORDER BY id;") || exit; }
server_list() { awk -F '\t' '{ printf "%s%s (id %s)", (NR > 1 ? ", " : ""), $2, $1 } END { if (!NR) printf "none" }' <<<"$1"; }
find_server() {
  while IFS=$'\t' read -r id host; do
    [[ \${host,,} == "\${1,,}" ]] && return
  done <<<"$SERVERS"
  [[ \${2-} ]] || die $REFUSED "unknown host $1; servers: $(server_list "$SERVERS")"
}
# The command line of both subcommands (--servers is rebalance's).
parse() {
  dry= reload=$RELOAD db_config=$DB_CONFIG servers= ARGS=()
  while (($#)); do
    case $1 in
    --dry-run) dry=1 ;;
    --reload) reload=\${2-} && shift && [[ $reload == @(print|ssh|none) ]] || die $REFUSED "$USAGE" ;;
    --db-config) db_config=\${2-} && shift ;;
    --servers) servers=\${2-} && shift ;;
    -h | --help) echo "$USAGE" && exit ;;
    -*) die $REFUSED "$USAGE" ;;
    *) ARGS+=("$1") ;;
    esac
    shift
  done
}

# Re-points midb_list.txt rows from one midb address to another (owner and mode kept), then
# restarts imap/pop3 where the file changed (they read it at start only), else reloads them.
# printf format: file, old address, new address, units, units. POSIX sh (root's shell on the node).
MIDB_MOVE='( f=%s; if [ -f "$f" ] && awk -v from=%s -v to=%s '\''$2 == from { $2 = to; n++ } { print } END { exit !n }'\'' "$f" > "$f.grx-new"; then chown --reference="$f" "$f.grx-new" && chmod --reference="$f" "$f.grx-new" && mv -f "$f.grx-new" "$f" && systemctl restart%s; else rm -f "$f.grx-new"; systemctl reload%s; fi )'
# node_steps "SKIP HOSTS" [OLD_MIDB NEW_MIDB]: "address<TAB>name (hostname, address)<TAB>command"
# per node, the command to run there as root: reload the gromox units the node runs, by name (NODES
# never lists gromox-event/-timer: SIGHUP kills them), midb_list.txt re-pointed first on a failover.
node_steps() {
  local name host address units u m o c
  while read -r name host address units; do
    [[ " \${1,,} " == *" \${host,,} "* ]] && continue
    m= o= c=
    for u in $units; do
      [[ " $MIDB_UNITS " == *" $u "* ]] && m+=" $u" || o+=" $u"
    done
    [[ $m ]] && c="systemctl reload$m" && (($# > 1)) && printf -v c "$MIDB_MOVE" "$MIDB_LIST" "$2" "$3" "$m" "$m"
    [[ $o ]] && c+="\${c:+ && }systemctl reload$o"
    [[ $c ]] && echo "$address"$'\t'"$name ($host, $address)"$'\t'"$c"
  done <<<"$NODES"
}
print_steps() {
  echo "$1"
  [[ $2 ]] && awk -F '\t' '{ print "  # on " $2 "\n  " $3 }' <<<"$2"
  return 0
}
# run_steps MODE STEPS: prints the steps (print, none) or runs them as root over ssh with the ops
# key, host keys checked ($GROMMUNIO_OPS_SSH replaces ssh: a wrapper, a test stub). The status.
run_steps() {
  case $1 in
  print) print_steps "run as root on each node, in this order:" "$2" ;;
  none) print_steps "skipped (--reload none; gromox follows within 60 s); where IMAP/POP3 must follow at once, run:" "$2" ;;
  esac
  [[ $1 == ssh ]] || return 0
  local address what c out failed=
  [[ $2 ]] && while IFS=$'\t' read -r address what c; do
    if out=$(timeout 120 "\${GROMMUNIO_OPS_SSH:-ssh}" -i "$SSH_KEY" -o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=yes \
      -o UserKnownHostsFile="$SSH_KNOWN_HOSTS" -l root "$address" "$c" </dev/null 2>&1); then
      echo "ok     $what"
    else
      echo "FAILED $what"
      log "step on $what failed: $out"
      failed+="$address"$'\t'"$what"$'\t'"$c"$'\n'
    fi
  done <<<"$2"
  [[ -z $failed ]] || {
    print_steps "the database change is committed; run these by hand:" "\${failed%$'\n'}"
    return $PARTIAL
  }
}
`;

/** The dispatch at the end of grommunio-ops: `grommunio-ops <subcommand> ARGS...`. */
export function opsMain(subcommands: readonly string[]): string {
  return [
    "case ${1-} in",
    `${subcommands.join(" | ")})`,
    "  PROG=grommunio-$1",
    `  work=$(mktemp -d) && trap 'rm -rf "$work"' EXIT || exit`,
    '  "$@"',
    "  ;;",
    `*) echo "usage: grommunio-ops ${subcommands.join("|")} [--help]" >&2 && exit 2 ;;`,
    "esac",
  ].join("\n");
}
