import { sh } from "./common";

/** Bash of `grommunio-ops failover` (after COMMON_SH and DATABASE_SH). */
export const FAILOVER_SH = sh`
# failover_sql FROM TO [dry]: one transaction moving users AND domains of one server to another, by
# servers.hostname. In strict mode an impossible value (a domain onto a server id above 127, which
# the signed domains.homeserver cannot hold; a vanished target row) is an error, and an error rolls
# back. The dry run counts instead and rolls back.
failover_sql() {
  echo "SET @grx_from = NULL, @grx_to = NULL;
START TRANSACTION;
SELECT id INTO @grx_from FROM servers WHERE hostname = $(sql_quote "$1") FOR UPDATE;
SELECT id INTO @grx_to FROM servers WHERE hostname = $(sql_quote "$2") FOR UPDATE;"
  local t
  for t in users domains; do
    if [[ \${3-} ]]; then
      echo "SELECT '$t', COUNT(*) FROM $t WHERE homeserver = @grx_from;"
    else
      echo "UPDATE $t SET homeserver = @grx_to WHERE homeserver = @grx_from;
SELECT '$t', ROW_COUNT();"
    fi
  done
  [[ \${3-} ]] && echo "ROLLBACK;" || echo "COMMIT;"
}
# counts ROWS: users and domains from the rows "users<TAB>n" and "domains<TAB>n".
counts() {
  users=$(awk '$1 == "users" { print $2 }' <<<"$1") domains=$(awk '$1 == "domains" { print $2 }' <<<"$1")
  [[ $users =~ ^[0-9]+$ && $domains =~ ^[0-9]+$ ]] || die $FAILED "unexpected answer from the database: $1"
}
failover() {
  USAGE="usage: $PROG [--dry-run] [--reload print|ssh|none] [--db-config FILE] FROM_HOST TO_HOST
Moves the users and public stores of the failed FROM_HOST to TO_HOST, which must read its maildirs."
  parse "$@"
  [[ \${#ARGS[@]} == 2 && -z $servers ]] || die $REFUSED "$USAGE"
  lock "$LOCK"
  read_servers
  find_server "\${ARGS[0]}"
  local src=$host src_id=$id rows old new steps started
  find_server "\${ARGS[1]}"
  ((src_id != id)) || die $REFUSED "refusing to move $src onto itself"
  rows=$(sql 120 "$(failover_sql "$src" "$host" dry)") || exit
  counts "$rows"
  ((domains == 0 || id <= 127)) ||
    die $REFUSED "$host has id $id, but domains.homeserver is a signed TINYINT (at most 127): $domains public store(s) of $src cannot move there"
  old=$(awk -v h="\${src,,}" 'tolower($2) == h { print "::ffff:" $3 }' <<<"$NODES")
  new=$(awk -v h="\${host,,}" 'tolower($2) == h { print "::ffff:" $3 }' <<<"$NODES")
  [[ $old && $new ]] || {
    log "warning: $src or $host is not a mailbox node of this cluster: midb_list.txt stays"
    old=
  }
  steps=$(node_steps "$src" \${old:+"$old" "$new"})
  echo "$PROG: $src (id $src_id) -> $host (id $id)"
  if [[ $dry ]]; then
    echo "dry run: nothing is changed. The transaction:"
    failover_sql "$src" "$host"
    echo "users to move: $users"$'\n'"domains to move: $domains"
    print_steps "node steps (--reload $reload):" "$steps"
    return
  fi
  started=$EPOCHREALTIME
  rows=$(SQL_CONTEXT="; not committed (MariaDB rolls back an unfinished transaction): nothing changed" \
    sql 600 "$(failover_sql "$src" "$host")") || exit
  counts "$rows"
  echo "users moved: $users"$'\n'"domains moved: $domains"$'\n'"committed in $(since "$started" 3) s"
  echo "$src is skipped: stop its gromox services if it comes back"
  [[ \${src,,} != "\${HUB,,}" ]] ||
    log "warning: $src is the hub: the cluster's gromox-event and gromox-timer run there; failover does not move them"
  run_steps "$reload" "$steps"
}
`;
