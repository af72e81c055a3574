import { sh } from "./common";

/**
 * awk program of the map job that reads haproxy.cfg (`-v map=<map path>`): the server names of the
 * backend and listen sections that have a `use-server` rule looking the map up (`map(<path>)` or
 * `map(<path>,default)`), separated by blanks (a name in two such backends comes twice). These are
 * the names HAProxy runs with, so the map values are checked against them without a server list
 * of the job's own (that list was in every load balancer's user-data and grew with the mailbox
 * nodes). Indentation does not matter; `#` starts a comment. Only the sections that may hold
 * `server` lines start a new scope (backend, listen, peers, ring): the lines of any other section
 * never start with `server` or `use-server`, so counting them to the section before is harmless.
 */
export const SERVERS_AWK = sh`{ sub(/#.*/, "") }
$1 ~ /^(backend|listen|peers|ring)$/ { b = $1 " " $2 }
$1 == "server" { s[b] = s[b] " " $2 }
$1 == "use-server" && (index($0, "map(" map ")") || index($0, "map(" map ",")) { u[b] }
END { for (b in u) printf "%s", s[b] }`;

/**
 * awk program of the map job: the map entries from the rows of the map view
 * (`kind<TAB>key<TAB>hostname`, keys lower-cased by MariaDB) and what was skipped, counting every row. Writes `key server`
 * lines (unsorted) to `entries`, `skipped N row(s): reason (e.g. ...)` lines to `skips`, and
 * `N entries (users a, ...)<TAB>skipped rows` to `summary`. A key that names two servers is left
 * out (HAProxy load-balances it). A key must be one token HAProxy reads as such: no blank, not a
 * comment; the client escapes tabs, newlines and NULs in values as \t, \n, \0, so a backslash means
 * the name held one of them. mawk (Debian's default awk) and gawk.
 */
export const BUILD_MAP_AWK = sh`BEGIN { FS = "\t"; n = split(servers, s, " "); for (i = 1; i <= n; i++) ok[s[i]] }
function skip(r, w) { if (skipped[r]++ < 3) eg[r] = eg[r] (skipped[r] > 1 ? ", " : "") substr(w, 1, 200) }
$3 == "" { skip("homeserver has no servers row", $2); next }
!($3 in ok) { skip("server is not in haproxy.cfg", substr($2, 1, 200) " -> " $3); next }
length($2) > 1024 || $2 !~ /^[^[:space:]#\\][^[:space:]\\]*$/ { skip("key is not one lower-case token", $2); next }
$2 in bad || ($2 in map) && map[$2] != $3 {
  if (!($2 in bad)) skip("key names two servers", $2)
  bad[$2]; delete map[$2]; skip("key names two servers", $2); next
}
{ map[$2] = $3; kind[$2] = $1 }
END {
  printf "" > skips
  for (k in map) { print k, map[k] > entries; c[kind[k]]++; total++ }
  for (r in skipped) { printf "skipped %d row(s): %s (e.g. %s)\n", skipped[r], r, eg[r] > skips; all += skipped[r] }
  printf "%d entries (users %d, aliases %d, mailbox ids %d, public stores %d)\t%d\n", total, c["user"], c["alias"], c["mailboxid"], c["public"], all > summary
}`;

/**
 * awk program that turns the map lines into runtime-API commands for one interactive connection:
 * `prompt`, `add map @<version> <map> <<` with payloads of at most `limit` bytes (half of
 * tune.bufsize: a request must fit into it), `quit`. Writes the number of chunks to `out`.
 */
export const ADD_MAP_AWK = sh`BEGIN { print "prompt" }
{ n = length($0) + 1 }
size && size + n > limit { print ""; size = 0 }
!size { print "add map @" version " " map " <<"; chunks++ }
{ print; size += n }
END { if (size) print ""; print "quit"; print chunks + 0 > out }`;

/**
 * awk program of the map job over `show map @<version> <map>` (`-v version=`, `-v want=` the map
 * file's entries): prints why the prepared version must not be committed (it holds another number
 * of entries than the file), nothing when it holds them all. Entry lines start with `0x` (the
 * entry's address); any other text is quoted.
 */
export const VERSION_ENTRIES_AWK = sh`/^0x/ { n++; next }
NF && length(other) < 200 { other = other (other == "" ? "" : " ") $0 }
END { if (n != want) printf "version %s holds %d of %d entries%s, not committed\n", version, n, want, other == "" ? "" : " (" other ")" }`;

/**
 * awk program of the map job over `show map` after `commit map` (`-v map=`, `-v version=`): prints
 * what is wrong when HAProxy does not run that version of the map (`curr_ver=`), nothing otherwise.
 */
export const COMMITTED_AWK = sh`$2 == "(" map ")" && !seen++ && match($0, /curr_ver=[0-9]+/) { v = substr($0, RSTART + 9, RLENGTH - 9) }
END { if (v != version) printf "after commit map @%s, HAProxy runs version %s of the map\n", version, v == "" ? "(none listed)" : v }`;

/** Bash of /usr/local/sbin/grommunio-mailbox-map (after its settings, the query and COMMON_SH). */
export const MAILBOX_MAP_SH = sh`
# The C locale: byte order, byte lengths.
export LC_ALL=C
USAGE="usage: $PROG [--db-config FILE] [--dry-run] [--force]: $MAP from the database into HAProxy"
dry= force=
while (($#)); do
  case $1 in
  --dry-run) dry=1 ;;
  --force) force=1 ;;
  --db-config) DB_CONFIG=\${2-} && shift ;;
  -h | --help) echo "$USAGE" && exit ;;
  *) die $REFUSED "$USAGE" ;;
  esac
  shift
done
started=$EPOCHREALTIME
[[ $dry ]] || lock "$LOCK"
work=$(mktemp -d) && trap 'rm -rf "$work"' EXIT || exit
# The valid map values: the server names of the backends that look the map up, read from the
# configuration HAProxy runs with. None at all is a broken node, not an empty map: change nothing.
servers=$(awk -v map="$MAP" "$SERVERS_AWK" "$HAPROXY_CONFIG") && [[ $servers ]] ||
  die $FAILED "no server in $HAPROXY_CONFIG in a backend whose use-server looks up $MAP; nothing changed"
# Database unreachable: the map stays as it is, file and running (exit 1). While the map has never
# been filled (a first boot before the database node has its schema and the map reader's grants)
# there is nothing to keep: exit NOT_READY, which the service counts as success, so a cluster coming
# up shows no failed unit; the timer tries again.
if ! timeout 120 mariadb --defaults-file="$DB_CONFIG" -BN --default-character-set=utf8mb4 --connect-timeout=10 \
  <<<"$QUERY" >"$work/rows" 2>"$work/error"; then
  n=0
  [[ -f $MAP ]] && n=$(($(wc -l <"$MAP") - 1))
  ((n)) || die $NOT_READY "database: $(<"$work/error"); no map yet, so none to keep"
  die $FAILED "database: $(<"$work/error"); kept $MAP ($n entries) and the running map: routing is unchanged"
fi
queried=$EPOCHREALTIME
awk -v servers="$servers" -v entries="$work/entries" -v skips="$work/skips" -v summary="$work/summary" "$BUILD_MAP_AWK" "$work/rows" || exit
{
  echo "$MAP_HEADER"
  sort -t ' ' -k 1,1 "$work/entries"
} >"$work/map"
sort -t : -k 2 "$work/skips" | sed "s/^/$PROG: /" >&2
IFS=$'\t' read -r summary skipped <"$work/summary"
[[ $dry ]] && cat "$work/map" && die 0 "dry run: $summary; nothing changed"
# The file: written next to the map, then renamed over it: readers see the old or the new map.
file=unchanged
if ! cmp -s "$work/map" "$MAP"; then
  tmp=$(mktemp "$MAP.XXXXXX") && cp "$work/map" "$tmp" && sync "$tmp" && chmod "$MAP_MODE" "$tmp" && chgrp "$MAP_GROUP" "$tmp" &&
    mv -f "$tmp" "$MAP" || die $FAILED "cannot write $MAP"
  file=rewritten
fi
# The running HAProxy, when the map changed, when asked, or when it has not loaded this map (the
# state file is in HAProxy's runtime directory: a restarted HAProxy gets the map again).
how="unchanged, already loaded"
digest=$(sha256sum <"$MAP")
if [[ $file == rewritten || $force || $(cat "$STATE" 2>/dev/null) != "$digest" ]]; then
  # shut-none: socat does not half-close the connection after its input; HAProxy ends the session
  # itself (after one command, or at quit). After a half-close HAProxy 2.6 may end the session
  # before it has read all that was sent (seen under load: the rest of an add map session
  # dropped, without error text).
  api() { socat -t 30 -T 30 - "unix-connect:$SOCKET,shut-none" 2>"$work/socat"; }
  pushed=$EPOCHREALTIME
  if ! answer=$(echo "prepare map $MAP" | api); then
    # Unreachable: check the configuration, then reload (HAProxy reads the file when it starts).
    log "runtime API unreachable ($SOCKET: $(sed 's/.*): //' "$work/socat")): reloading haproxy"
    haproxy -c -q -f "$HAPROXY_CONFIG" && systemctl try-reload-or-restart haproxy || die $FAILED "haproxy not reloaded"
    how="haproxy reloaded (runtime API unreachable)"
  else
    # prepare map, every add map on one connection, then commit map only when they all succeeded
    # and the new version holds every entry of the file: HAProxy switches to the new entries at
    # once. Payload lines are acknowledged with "+ ", commands with "> "; sed drops those (one per
    # map entry: a bash pattern substitution over them took seconds at 100,000 users), so what is
    # left is an error. A command HAProxy never read leaves no text: the version's entry count
    # shows it. Then the map HAProxy runs must be that version (a commit never read neither answers).
    version=\${answer##*: }
    want=$(($(wc -l <"$MAP") - 1))
    answer=$(tail -n +2 "$MAP" | awk -v version="$version" -v map="$MAP" -v limit="$CHUNK_BYTES" -v out="$work/chunks" \
      "$ADD_MAP_AWK" | api | sed -e 's/^\([>+] \)*//' -e '/^$/d') && [[ -z $answer ]] &&
      answer=$(echo "show map @$version $MAP" | api | awk -v version="$version" -v want="$want" "$VERSION_ENTRIES_AWK") &&
      [[ -z $answer ]] && answer=$(echo "commit map @$version $MAP" | api) && [[ -z $answer ]] &&
      answer=$(echo "show map" | api | awk -v map="$MAP" -v version="$version" "$COMMITTED_AWK") &&
      [[ -z $answer ]] || die $PARTIAL "runtime API: $answer; the file has the new map, the running HAProxy not"
    how="loaded through the runtime API ($(<"$work/chunks") chunks) in $(since "$pushed" 2) s"
  fi
  echo "$digest" >"$STATE"
fi
log "$summary, $skipped row(s) skipped; file $file; $how; query $(since "$started" 2 "$queried") s, total $(since "$started" 2) s"
`;
