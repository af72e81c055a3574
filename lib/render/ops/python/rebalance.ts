/** Python body of /usr/local/sbin/grommunio-rebalance (after CONFIG, COMMON_PY and NODE_STEPS_PY). */
export const REBALANCE_PY = String.raw`

def rebalance_sql(live_hosts, dry_run):
    """One transaction. The live servers are numbered 1..n by id with ROW_NUMBER() (gaps in servers.id
    do not matter), the placed users 1..m by maildir (then id) with ROW_NUMBER(); user k goes to live
    server (k - 1) mod n + 1. The plan depends only on the users' maildirs and the live set, never on
    where users are now: a second run finds nothing to move."""
    hosts = ", ".join(sql_string(h) for h in live_hosts)
    lines = [
        SESSION_PREAMBLE,
        "SET SESSION innodb_lock_wait_timeout = %d;" % CONFIG["lockWaitSeconds"],
        "START TRANSACTION;",
        "CREATE TEMPORARY TABLE grx_live (sn INT UNSIGNED NOT NULL PRIMARY KEY, id TINYINT UNSIGNED NOT NULL) "
        "SELECT ROW_NUMBER() OVER (ORDER BY id) AS sn, id FROM servers WHERE hostname IN (%s);" % hosts,
        "SET @grx_n = (SELECT COUNT(*) FROM grx_live);",
        "CREATE TEMPORARY TABLE grx_plan (id INT UNSIGNED NOT NULL PRIMARY KEY, target TINYINT UNSIGNED NOT NULL) "
        "SELECT r.id, l.id AS target "
        "FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY maildir, id) AS rn FROM users WHERE homeserver <> 0) AS r "
        "JOIN grx_live AS l ON l.sn = (r.rn - 1) % @grx_n + 1;",
    ]
    if dry_run:
        lines += [
            "SELECT 'users', COUNT(*) FROM users AS u JOIN grx_plan AS p ON p.id = u.id WHERE u.homeserver <> p.target;",
            "SELECT 'plan', s.hostname, COUNT(*) FROM grx_plan AS p JOIN servers AS s ON s.id = p.target "
            "GROUP BY s.id, s.hostname ORDER BY s.id;",
            "ROLLBACK;",
        ]
    else:
        lines += [
            "UPDATE users AS u JOIN grx_plan AS p ON p.id = u.id SET u.homeserver = p.target WHERE u.homeserver <> p.target;",
            "SELECT 'users', ROW_COUNT();",
            "COMMIT;",
            "SELECT 'plan', s.hostname, COUNT(u.id) FROM grx_live AS l JOIN servers AS s ON s.id = l.id "
            "LEFT JOIN users AS u ON u.homeserver = s.id GROUP BY s.id, s.hostname ORDER BY s.id;",
        ]
    lines.append(
        "SELECT 'domains_elsewhere', COUNT(*) FROM domains WHERE homeserver <> 0 AND homeserver NOT IN (SELECT id FROM grx_live);"
    )
    return "\n".join(lines) + "\n"


def main(argv):
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Spread the placed users (homeserver <> 0) evenly over the live mailbox servers, ordered "
        "by maildir, in one transaction; then reload gromox on the live nodes. Idempotent.",
        epilog="Live servers: --servers, else the mailbox nodes of this cluster (%s) that have a servers row. "
        "Only pointers move, never maildirs: every live server must read every maildir (shared storage). "
        "Public stores (domains) stay where they are. midb_list.txt is not changed: after a node died, run "
        "grommunio-failover for it first. Exit status: 0 done, 1 failure (nothing changed), 2 refused "
        "(nothing changed), 3 committed but a node step failed." % ", ".join(CONFIG["mailboxHosts"]),
    )
    p.add_argument("--servers", metavar="HOST[,HOST...]", help="the live servers, by servers.hostname")
    p.add_argument("--dry-run", action="store_true", help="print the SQL and the plan; change nothing")
    p.add_argument(
        "--allow-share-nothing",
        action="store_true",
        help="rebalance although the cluster keeps each node's maildirs on its own volume",
    )
    p.add_argument(
        "--reload",
        choices=["print", "ssh", "none"],
        default=CONFIG["reloadDefault"],
        help="node steps: print them, run them over ssh as root with " + CONFIG["sshKey"] + ", or skip them "
        "(default: %(default)s)",
    )
    p.add_argument("--db-config", default=CONFIG["dbConfig"], help="MariaDB option file (default: %(default)s)")
    args = p.parse_args(argv)

    if CONFIG["storage"] == "share-nothing" and not args.allow_share_nothing:
        raise OpsError(
            "this cluster keeps each node's maildirs on the node's own volume: rebalancing moves users to nodes "
            "that cannot open their maildirs. Move the maildirs first and pass --allow-share-nothing",
            EXIT_REFUSED,
        )
    names = [h.strip() for h in args.servers.split(",")] if args.servers is not None else list(CONFIG["mailboxHosts"])
    for name in names:
        if not HOST_RE.match(name):
            raise OpsError("%r is not a host name" % name, EXIT_REFUSED)
    check_option_file(args.db_config)
    take_lock(CONFIG["lockPath"])
    servers = read_servers(args.db_config)
    live = []
    for name in names:
        found = find_server(servers, name)
        if found is None:
            if args.servers is not None:
                raise OpsError("unknown host %s; servers: %s" % (name, server_list(servers)), EXIT_REFUSED)
            log("warning: mailbox node %s has no servers row; it is not used" % name)
        elif found not in live:
            live.append(found)
    if not live:
        raise OpsError("no live server (servers: %s)" % server_list(servers), EXIT_REFUSED)
    live.sort()
    hosts = [h for _, h in live]
    say("%s: live servers %s" % (PROG, server_list(live)))
    down = [h for _, h in servers if h not in hosts]
    steps = node_steps(down, None)

    if args.dry_run:
        rows = mariadb(args.db_config, rebalance_sql(hosts, True), CONFIG["transactionTimeoutSeconds"])
        say("dry run: nothing is changed. The transaction:")
        say(rebalance_sql(hosts, False).rstrip("\n"))
        report(rows, "users to move")
        print_steps(steps, "node steps (--reload %s):" % args.reload)
        return EXIT_OK
    started = time.monotonic()
    try:
        rows = mariadb(args.db_config, rebalance_sql(hosts, False), CONFIG["transactionTimeoutSeconds"])
    except OpsError as e:
        raise OpsError("%s; not committed unless the error came after COMMIT: run --dry-run to see what is left" % e)
    report(rows, "users moved")
    say("committed in %.3f s" % (time.monotonic() - started))
    return run_steps(steps, args.reload)


def report(rows, label):
    for r in rows:
        if r[0] == "users" and len(r) == 2:
            say("%s: %s" % (label, r[1]))
        elif r[0] == "plan" and len(r) == 3:
            say("  %s: %s users" % (r[1], r[2]))
        elif r[0] == "domains_elsewhere" and len(r) == 2 and r[1] != "0":
            log("note: %s domain(s) have their public store on a server outside the live set" % r[1])
`;
