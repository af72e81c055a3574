/**
 * Python code shared by the ops scripts (placed after each script's rendered `CONFIG` block).
 * Python 3.11 standard library only (Debian 12's python3), plus the `mariadb` client program.
 * Kept as text here because renderers do no I/O; the system tests run it.
 */
export const COMMON_PY = String.raw`
import argparse
import fcntl
import os
import re
import shlex
import subprocess
import sys
import time

# Programs are found on a fixed PATH, whatever the caller's environment says.
os.environ["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"

EXIT_OK = 0
EXIT_FAILED = 1  # database or runtime failure; nothing was changed unless the output says so
EXIT_REFUSED = 2  # usage error or refusal; nothing was changed
EXIT_PARTIAL = 3  # the database change is committed, but a step on a node failed

HOST_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


class OpsError(Exception):
    """A failure with the exit code the script ends with."""

    def __init__(self, message, code=EXIT_FAILED):
        super().__init__(message)
        self.code = code


def log(message):
    print(PROG + ": " + message, file=sys.stderr, flush=True)


def say(message=""):
    print(message, flush=True)


# The same escapes as lib/render/database/sql.ts sqlString; every SQL text starts with
# SESSION_PREAMBLE, which turns NO_BACKSLASH_ESCAPES off (and strict mode on) for the session.
SQL_ESCAPES = str.maketrans({"\\": "\\\\", "'": "''", "\0": "\\0", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z"})
SESSION_PREAMBLE = "SET SESSION sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';"


def sql_string(value):
    """A single-quoted SQL string literal."""
    return "'" + value.translate(SQL_ESCAPES) + "'"


def check_option_file(path):
    try:
        st = os.stat(path)
    except OSError as e:
        raise OpsError("cannot read the database option file %s: %s" % (path, e.strerror))
    if st.st_mode & 0o077:
        log("warning: %s holds a password and is readable by others (mode %04o): chmod 0600 it" % (path, st.st_mode & 0o777))


def mariadb(option_file, sql, timeout):
    """Runs SQL with the mariadb client (one session); returns the rows, split at tabs."""
    argv = [
        "mariadb",
        "--defaults-file=" + option_file,
        "--batch",
        "--skip-column-names",
        "--default-character-set=utf8mb4",
        "--connect-timeout=%d" % CONFIG["connectTimeoutSeconds"],
    ]
    try:
        r = subprocess.run(
            argv, input=sql, capture_output=True, encoding="utf-8", errors="surrogateescape", timeout=timeout
        )
    except FileNotFoundError:
        raise OpsError("the mariadb client is not installed (apt-get install mariadb-client)")
    except subprocess.TimeoutExpired:
        raise OpsError("the database did not finish within %d s (nothing committed)" % timeout)
    if r.returncode != 0:
        raise OpsError("database: " + (r.stderr.strip() or "mariadb exited with status %d" % r.returncode))
    return [line.split("\t") for line in r.stdout.splitlines()]


def take_lock(path):
    """An exclusive lock held until the process exits; refuses when another run holds it."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        log("warning: no lock file %s (%s); not guarding against parallel runs" % (path, e.strerror))
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OpsError("another run holds %s; try again when it has finished" % path)
    return fd
`;

/**
 * Python code of the two database scripts (failover, rebalance): reading `servers`, and the
 * reload step on the other nodes (print the commands, run them over ssh, or skip them).
 */
export const NODE_STEPS_PY = String.raw`

def read_servers(option_file):
    rows = mariadb(option_file, SESSION_PREAMBLE + "\nSELECT id, hostname FROM servers ORDER BY id;\n", 60)
    return [(int(r[0]), r[1]) for r in rows]


def find_server(servers, name):
    """(id, hostname) of a servers row by hostname (case-insensitive, as the ascii column compares)."""
    for sid, host in servers:
        if host.lower() == name.lower():
            return sid, host
    return None


def server_list(servers):
    return ", ".join("%s (id %d)" % (h, i) for i, h in servers) or "none"


def topology_node(hostname):
    for n in CONFIG["nodes"]:
        if n["hostname"].lower() == hostname.lower():
            return n
    return None


def midb_move_command(move, units):
    """Re-points midb_list.txt rows from one midb address to another; restarts imap/pop3 only if the
    file changed (they read it at start only), else reloads them. Keeps owner and mode."""
    f = shlex.quote(CONFIG["midbListPath"])
    old = shlex.quote("from=" + move[0])
    new = shlex.quote("to=" + move[1])
    u = " ".join(shlex.quote(x) for x in units)
    return (
        "( f=" + f + "; if [ -f \"$f\" ] && awk -v " + old + " '$2 == from { n++ } END { exit n ? 0 : 1 }' \"$f\"; then "
        "awk -v " + old + " -v " + new + " '$2 == from { $2 = to } { print }' \"$f\" > \"$f.grx-new\""
        " && chown --reference=\"$f\" \"$f.grx-new\" && chmod --reference=\"$f\" \"$f.grx-new\""
        " && mv -f \"$f.grx-new\" \"$f\" && systemctl restart " + u + "; else systemctl reload " + u + "; fi )"
    )


def node_steps(skip_hostnames, midb_move):
    """(node, shell command) per node to run as root: reload the gromox units it runs (by name; never
    gromox-event/-timer, which SIGHUP kills), with midb_list.txt re-pointed first where given."""
    skip = {h.lower() for h in skip_hostnames}
    steps = []
    for n in CONFIG["nodes"]:
        if n["hostname"].lower() in skip:
            continue
        midb_units = [u for u in n["units"] if u in CONFIG["midbClientUnits"]]
        other = [u for u in n["units"] if u not in midb_units]
        parts = []
        if midb_units:
            if midb_move is not None:
                parts.append(midb_move_command(midb_move, midb_units))
            else:
                parts.append("systemctl reload " + " ".join(shlex.quote(u) for u in midb_units))
        if other:
            parts.append("systemctl reload " + " ".join(shlex.quote(u) for u in other))
        if parts:
            steps.append((n, " && ".join(parts)))
    return steps


def describe(n):
    return "%s (%s, %s)" % (n["name"], n["hostname"], n["address"])


def print_steps(steps, title):
    say(title)
    for n, command in steps:
        say("  # on " + describe(n))
        say("  " + command)


def ssh_argv(n, command):
    ssh = os.environ.get("GROMMUNIO_OPS_SSH") or "ssh"
    return [
        ssh,
        "-i", CONFIG["sshKey"],
        "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=10",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "UserKnownHostsFile=" + CONFIG["sshKnownHosts"],
        "-l", "root",
        n["address"],
        command,
    ]


def run_steps(steps, mode):
    """Performs the node steps; returns the exit code (EXIT_PARTIAL when a node failed)."""
    if not steps:
        say("no node steps")
        return EXIT_OK
    if mode == "none":
        say("node steps skipped (--reload none): gromox follows the database within 60 s (cache refresh);")
        print_steps(steps, "run these where IMAP/POP3 must follow at once:")
        return EXIT_OK
    if mode == "print":
        print_steps(steps, "run as root on each node, in this order:")
        return EXIT_OK
    failed = []
    for n, command in steps:
        try:
            r = subprocess.run(ssh_argv(n, command), capture_output=True, text=True, timeout=120)
            ok = r.returncode == 0
            detail = (r.stderr or r.stdout).strip()
        except (OSError, subprocess.TimeoutExpired) as e:
            ok, detail = False, str(e)
        say("%s %s" % ("ok    " if ok else "FAILED", describe(n)))
        if not ok:
            log("step on %s failed: %s" % (describe(n), detail))
            failed.append((n, command))
    if failed:
        print_steps(failed, "the database change is committed; run these by hand:")
        return EXIT_PARTIAL
    return EXIT_OK
`;
