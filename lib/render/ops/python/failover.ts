/** Python body of /usr/local/sbin/grommunio-failover (after CONFIG, COMMON_PY and NODE_STEPS_PY). */
export const FAILOVER_PY = String.raw`

def failover_sql(from_host, to_host, dry_run):
    """One transaction: users AND domains of one server move to another, by servers.hostname.
    Strict mode makes an impossible value (a domain onto a server id above 127, which the signed
    domains.homeserver cannot hold; a vanished target row) an error, and an error rolls back."""
    lines = [
        SESSION_PREAMBLE,
        "SET SESSION innodb_lock_wait_timeout = %d;" % CONFIG["lockWaitSeconds"],
        "SET @grx_from = NULL, @grx_to = NULL;",
        "START TRANSACTION;",
        "SELECT id INTO @grx_from FROM servers WHERE hostname = %s FOR UPDATE;" % sql_string(from_host),
        "SELECT id INTO @grx_to FROM servers WHERE hostname = %s FOR UPDATE;" % sql_string(to_host),
    ]
    if dry_run:
        lines += [
            "SELECT 'users', COUNT(*) FROM users WHERE homeserver = @grx_from;",
            "SELECT 'domains', COUNT(*) FROM domains WHERE homeserver = @grx_from;",
            "ROLLBACK;",
        ]
    else:
        lines += [
            "UPDATE users SET homeserver = @grx_to WHERE homeserver = @grx_from;",
            "SELECT 'users', ROW_COUNT();",
            "UPDATE domains SET homeserver = @grx_to WHERE homeserver = @grx_from;",
            "SELECT 'domains', ROW_COUNT();",
            "COMMIT;",
        ]
    return "\n".join(lines) + "\n"


def counts_of(rows):
    counts = {}
    for r in rows:
        if len(r) == 2 and r[0] in ("users", "domains"):
            counts[r[0]] = int(r[1])
    if set(counts) != {"users", "domains"}:
        raise OpsError("unexpected answer from the database: %r" % rows)
    return counts


def main(argv):
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Move every mailbox (users.homeserver) and public store (domains.homeserver) of one "
        "mailbox server to another, in one transaction, then reload gromox on the other nodes.",
        epilog="Prerequisite: TO_HOST must read FROM_HOST's maildirs at the same paths (shared storage, or "
        "FROM_HOST's volume attached and mounted on TO_HOST; maildir paths keep the old hostname). Exit status: "
        "0 done, 1 failure (nothing changed), 2 refused (nothing changed), 3 committed but a node step failed.",
    )
    p.add_argument("from_host", metavar="FROM_HOST", help="servers.hostname of the failed server")
    p.add_argument("to_host", metavar="TO_HOST", help="servers.hostname of the server taking over")
    p.add_argument("--dry-run", action="store_true", help="print the SQL, the counts and the node steps; change nothing")
    p.add_argument(
        "--reload",
        choices=["print", "ssh", "none"],
        default=CONFIG["reloadDefault"],
        help="node steps: print them for the operator, run them over ssh as root with "
        + CONFIG["sshKey"]
        + ", or skip them (default: %(default)s)",
    )
    p.add_argument("--db-config", default=CONFIG["dbConfig"], help="MariaDB option file (default: %(default)s)")
    args = p.parse_args(argv)

    for name in (args.from_host, args.to_host):
        if not HOST_RE.match(name):
            raise OpsError("%r is not a host name" % name, EXIT_REFUSED)
    check_option_file(args.db_config)
    take_lock(CONFIG["lockPath"])
    servers = read_servers(args.db_config)
    src = find_server(servers, args.from_host)
    dst = find_server(servers, args.to_host)
    for name, found in ((args.from_host, src), (args.to_host, dst)):
        if found is None:
            raise OpsError("unknown host %s; servers: %s" % (name, server_list(servers)), EXIT_REFUSED)
    if src[0] == dst[0]:
        raise OpsError("refusing to move %s onto itself" % src[1], EXIT_REFUSED)
    before = mariadb(args.db_config, failover_sql(src[1], dst[1], True), 120)
    pending = counts_of(before)
    if pending["domains"] > 0 and dst[0] > 127:
        raise OpsError(
            "%s has id %d, but domains.homeserver is a signed TINYINT (at most 127): %d public store(s) of %s "
            "cannot move there; choose a target with an id of at most 127" % (dst[1], dst[0], pending["domains"], src[1]),
            EXIT_REFUSED,
        )

    src_node = topology_node(src[1])
    dst_node = topology_node(dst[1])
    move = None
    if src_node is not None and dst_node is not None:
        move = (src_node["midbAddress"], dst_node["midbAddress"])
    else:
        log("warning: %s or %s is not a mailbox node of this cluster's topology; midb_list.txt is left alone"
            % (src[1], dst[1]))
    steps = node_steps([src[1]], move)

    say("%s: %s (id %d) -> %s (id %d)" % (PROG, src[1], src[0], dst[1], dst[0]))
    if args.dry_run:
        say("dry run: nothing is changed. The transaction:")
        say(failover_sql(src[1], dst[1], False).rstrip("\n"))
        say("users to move: %d" % pending["users"])
        say("domains to move: %d" % pending["domains"])
        print_steps(steps, "node steps (--reload %s):" % args.reload)
        return EXIT_OK

    started = time.monotonic()
    try:
        moved = counts_of(mariadb(args.db_config, failover_sql(src[1], dst[1], False), CONFIG["transactionTimeoutSeconds"]))
    except OpsError as e:
        raise OpsError("%s; not committed (MariaDB rolls back an unfinished transaction): nothing changed" % e)
    say("users moved: %d" % moved["users"])
    say("domains moved: %d" % moved["domains"])
    say("committed in %.3f s" % (time.monotonic() - started))
    say("%s is skipped: stop its gromox services if it comes back before you move the mailboxes home" % src[1])
    if src[1].lower() == CONFIG["hub"].lower():
        log("warning: %s is the hub: the cluster's gromox-event and gromox-timer run there (IMAP IDLE "
            "notifications, delayed sending); failover does not move them" % src[1])
    return run_steps(steps, args.reload)
`;
