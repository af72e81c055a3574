import { sh } from "./common";

/** Bash of `grommunio-ops rebalance` (after COMMON_SH and DATABASE_SH). */
export const REBALANCE_SH = sh`
# rebalance_sql "'host', ..." [dry]: one transaction. The live servers are numbered 1..n by id
# with ROW_NUMBER() (gaps in servers.id do not matter), the placed users 1..m by maildir (then id);
# user k goes to live server (k - 1) mod n + 1. The plan depends only on the maildirs and the live
# set, never on where users are now: a second run finds nothing to move. Public stores stay; the
# last query counts those outside the live set.
rebalance_sql() {
  echo "START TRANSACTION;
CREATE TEMPORARY TABLE grx_live (sn INT UNSIGNED NOT NULL PRIMARY KEY, id TINYINT UNSIGNED NOT NULL) SELECT ROW_NUMBER() OVER (ORDER BY id) AS sn, id FROM servers WHERE hostname IN ($1);
SET @grx_n = (SELECT COUNT(*) FROM grx_live);
CREATE TEMPORARY TABLE grx_plan (id INT UNSIGNED NOT NULL PRIMARY KEY, target TINYINT UNSIGNED NOT NULL) SELECT r.id, l.id AS target FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY maildir, id) AS rn FROM users WHERE homeserver <> 0) AS r JOIN grx_live AS l ON l.sn = (r.rn - 1) % @grx_n + 1;"
  if [[ \${2-} ]]; then
    echo "SELECT 'users', COUNT(*) FROM users AS u JOIN grx_plan AS p ON p.id = u.id WHERE u.homeserver <> p.target;
SELECT 'plan', s.hostname, COUNT(*) FROM grx_plan AS p JOIN servers AS s ON s.id = p.target GROUP BY s.id, s.hostname ORDER BY s.id;
ROLLBACK;"
  else
    echo "UPDATE users AS u JOIN grx_plan AS p ON p.id = u.id SET u.homeserver = p.target WHERE u.homeserver <> p.target;
SELECT 'users', ROW_COUNT();
COMMIT;
SELECT 'plan', s.hostname, COUNT(u.id) FROM grx_live AS l JOIN servers AS s ON s.id = l.id LEFT JOIN users AS u ON u.homeserver = s.id GROUP BY s.id, s.hostname ORDER BY s.id;"
  fi
  echo "SELECT 'domains_elsewhere', COUNT(*) FROM domains WHERE homeserver <> 0 AND homeserver NOT IN (SELECT id FROM grx_live);"
}
# report ROWS LABEL: the users count, the plan per server, a note on public stores elsewhere.
report() {
  awk -F '\t' -v label="$2" '$1 == "users" { print label ": " $2 } $1 == "plan" { print "  " $2 ": " $3 " users" }' <<<"$1"
  local elsewhere
  elsewhere=$(awk -F '\t' '$1 == "domains_elsewhere" { print $2 }' <<<"$1")
  [[ \${elsewhere:-0} == 0 ]] || log "note: $elsewhere domain(s) have their public store on a server outside the live set"
}
rebalance() {
  USAGE="usage: $PROG [--servers HOST,...] [--dry-run] [--reload print|ssh|none] [--db-config FILE]
Spreads the users evenly over the live servers (default: $MAILBOX_HOSTS), by maildir."
  parse "$@"
  [[ \${#ARGS[@]} == 0 ]] || die $REFUSED "$USAGE"
  local names name live= hosts= rows steps started soft=
  [[ $servers ]] || soft=1
  IFS=', ' read -ra names <<<"\${servers:-$MAILBOX_HOSTS}"
  lock "$LOCK"
  read_servers
  for name in "\${names[@]}"; do
    if find_server "$name" $soft; then
      live+="$id"$'\t'"$host"$'\n'
    else
      log "warning: mailbox node $name has no servers row; it is not used"
    fi
  done
  live=$(sort -n -u <<<"\${live%$'\n'}")
  [[ $live ]] || die $REFUSED "no live server (servers: $(server_list "$SERVERS"))"
  while IFS=$'\t' read -r _ name; do hosts+="\${hosts:+, }$(sql_quote "$name")"; done <<<"$live"
  echo "$PROG: live servers $(server_list "$live")"
  steps=$(node_steps "$(awk -F '\t' 'NR == FNR { live[$2]; next } !($2 in live) { printf "%s ", $2 }' <(echo "$live") <(echo "$SERVERS"))")
  if [[ $dry ]]; then
    rows=$(sql 600 "$(rebalance_sql "$hosts" dry)") || exit
    echo "dry run: nothing is changed. The transaction:"
    rebalance_sql "$hosts"
    report "$rows" "users to move"
    print_steps "node steps (--reload $reload):" "$steps"
    return
  fi
  started=$EPOCHREALTIME
  rows=$(SQL_CONTEXT="; not committed unless the error came after COMMIT: run --dry-run to see what is left" \
    sql 600 "$(rebalance_sql "$hosts")") || exit
  report "$rows" "users moved"
  echo "committed in $(since "$started" 3) s"
  run_steps "$reload" "$steps"
}
`;
