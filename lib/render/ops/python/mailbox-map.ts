/** Python body of /usr/local/sbin/grommunio-mailbox-map (after CONFIG and COMMON_PY). */
export const MAILBOX_MAP_PY = String.raw`
import grp
import hashlib
import socket
import tempfile

# One map key: a single token, lower case, not a comment, no backslash (the client escapes tabs,
# newlines and NULs in values as \t, \n, \0: a backslash means the name held one of them).
KEY_RE = re.compile(r"^[^\s#\\][^\s\\]*$")
LINE_RE = re.compile(r"^([^\s#\\][^\s\\]*) (\S+)$")
KIND_LABELS = {"user": "users", "alias": "aliases", "mailboxid": "mailbox ids", "public": "public stores"}


class ApiUnreachable(Exception):
    pass


class ApiError(Exception):
    pass


def build_entries(rows):
    """The map entries from the query rows, and what was skipped (reason -> count, samples)."""
    servers = set(CONFIG["servers"])
    entries = {}
    kinds = {}
    conflicts = set()
    skipped = {}
    samples = {}

    def skip(reason, what):
        skipped[reason] = skipped.get(reason, 0) + 1
        samples.setdefault(reason, [])
        if len(samples[reason]) < 3:
            samples[reason].append(what)

    for row in rows:
        if len(row) != 3 or row[0] not in KIND_LABELS:
            skip("malformed row", "\t".join(row)[:200])
            continue
        kind, key, value = row
        if value == "":
            skip("homeserver has no servers row", key[:200])
            continue
        if value not in servers:
            skip("server is not in haproxy.cfg", "%s -> %s" % (key[:200], value[:200]))
            continue
        if len(key) > CONFIG["maxKeyLength"] or not KEY_RE.match(key) or key != key.lower():
            skip("key is not one lower-case token", key[:200])
            continue
        if key in conflicts:
            skip("key names two servers", key)
            continue
        prev = entries.get(key)
        if prev is None:
            entries[key] = value
            kinds[key] = kind
        elif prev != value:
            # Neither server is right for sure: leave the key out (HAProxy load-balances it).
            del entries[key]
            del kinds[key]
            conflicts.add(key)
            skip("key names two servers", key)
            skip("key names two servers", key)
    return entries, kinds, skipped, samples


def render_map(entries):
    lines = [CONFIG["mapHeader"]]
    lines += ["%s %s" % (k, entries[k]) for k in sorted(entries)]
    return "\n".join(lines) + "\n"


def validate_map(text):
    """Every line is the header, or 'key server' with a server of haproxy.cfg."""
    servers = set(CONFIG["servers"])
    problems = []
    lines = text.split("\n")
    if lines[-1] != "" or lines[0] != CONFIG["mapHeader"]:
        problems.append("header or final newline missing")
    for i, line in enumerate(lines[1:-1], start=2):
        m = LINE_RE.match(line)
        if m is None or m.group(2) not in servers:
            problems.append("line %d: %r" % (i, line[:200]))
            if len(problems) > 5:
                break
    if problems:
        raise OpsError("the new map failed validation, not installed: " + "; ".join(problems))


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except FileNotFoundError:
        return None


def write_atomically(path, text):
    """Writes path through a temporary file in the same directory and rename(2): readers see the
    old or the new file, never a part. Returns False when the content is unchanged."""
    if read_text(path) == text:
        return False
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, CONFIG["mapMode"])
        try:
            gid = grp.getgrnam(CONFIG["mapGroup"]).gr_gid
        except KeyError:
            gid = 0
            log("warning: group %s does not exist; %s stays root:root" % (CONFIG["mapGroup"], path))
        os.chown(tmp, 0, gid)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return True


class RuntimeApi:
    """HAProxy's runtime API on the stats socket, in interactive mode (one connection)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(CONFIG["apiTimeoutSeconds"])
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise ApiUnreachable("%s: %s" % (path, e.strerror or e))
        self.command("prompt")

    def command(self, text):
        try:
            self.sock.sendall((text + "\n").encode("utf-8", "surrogateescape"))
            buf = bytearray()
            while not buf.endswith(b"\n> "):
                data = self.sock.recv(65536)
                if not data:
                    raise ApiError("haproxy closed the connection after: " + text.split("\n", 1)[0])
                buf += data
        except OSError as e:
            raise ApiError("runtime API: %s (after: %s)" % (e, text.split("\n", 1)[0]))
        # Payload lines are acknowledged with "+ " prompts; the answer follows them.
        return re.sub(r"^(\+ )+", "", buf[:-3].decode("utf-8", "replace")).strip()

    def close(self):
        try:
            self.sock.sendall(b"quit\n")
        except OSError:
            pass
        self.sock.close()


def chunks(lines, limit):
    """Consecutive lines grouped so that each group's bytes stay within limit."""
    group, size = [], 0
    for line in lines:
        n = len(line.encode("utf-8", "surrogateescape")) + 1
        if group and size + n > limit:
            yield group
            group, size = [], 0
        group.append(line)
        size += n
    if group:
        yield group


def push_runtime(entries):
    """prepare map -> add map @ver (payload chunks far below tune.bufsize) -> commit map @ver: the
    running HAProxy switches to the new entries at once, without a reload. Returns the chunk count."""
    api = RuntimeApi(CONFIG["statsSocket"])
    try:
        path = CONFIG["mapPath"]
        answer = api.command("prepare map " + path)
        m = re.search(r"New version created: (\d+)", answer)
        if m is None:
            raise ApiError("prepare map: " + answer)
        version = m.group(1)
        lines = ["%s %s" % (k, entries[k]) for k in sorted(entries)]
        count = 0
        for group in chunks(lines, CONFIG["chunkBytes"]):
            answer = api.command("add map @%s %s <<\n%s\n" % (version, path, "\n".join(group)))
            if answer:
                raise ApiError("add map: " + answer[:300])
            count += 1
        answer = api.command("commit map @%s %s" % (version, path))
        if answer:
            raise ApiError("commit map: " + answer[:300])
        return count
    finally:
        api.close()


def reload_haproxy():
    """The fallback when the runtime API is unreachable: check the configuration, then reload."""
    check = subprocess.run(
        ["haproxy", "-c", "-q", "-f", CONFIG["haproxyConfig"]], capture_output=True, text=True, timeout=120
    )
    if check.returncode != 0:
        raise OpsError("haproxy -c rejected %s; not reloading: %s" % (CONFIG["haproxyConfig"], (check.stdout + check.stderr).strip()))
    r = subprocess.run(
        ["systemctl", "try-reload-or-restart", CONFIG["haproxyUnit"]], capture_output=True, text=True, timeout=120
    )
    if r.returncode != 0:
        raise OpsError("systemctl try-reload-or-restart %s failed: %s" % (CONFIG["haproxyUnit"], (r.stdout + r.stderr).strip()))


def summary(entries, kinds):
    counts = {}
    for k in entries:
        counts[kinds[k]] = counts.get(kinds[k], 0) + 1
    return ", ".join("%s %d" % (KIND_LABELS[k], counts.get(k, 0)) for k in KIND_LABELS)


def main(argv):
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Rebuild HAProxy's " + CONFIG["mapPath"] + " (node-aware routing) from the grommunio database "
        "and load it into the running HAProxy through the runtime API, without a reload.",
        epilog="If the database cannot be read, the current map (file and running) is kept and the exit "
        "status is 1. Exit status 3: the file was written but the running HAProxy could not be updated.",
    )
    p.add_argument("--db-config", default=CONFIG["dbConfig"], help="MariaDB option file (default: %(default)s)")
    p.add_argument("--dry-run", action="store_true", help="print the new map to stdout; change nothing")
    p.add_argument("--force", action="store_true", help="load the map into HAProxy even if it did not change")
    args = p.parse_args(argv)

    started = time.monotonic()
    check_option_file(args.db_config)
    if not args.dry_run:
        take_lock(CONFIG["lockPath"])
    path = CONFIG["mapPath"]
    try:
        rows = mariadb(args.db_config, CONFIG["query"], CONFIG["queryTimeoutSeconds"])
    except OpsError as e:
        current = read_text(path)
        kept = "no map yet" if current is None else "%d entries" % max(0, current.count("\n") - 1)
        raise OpsError("%s; kept %s (%s) and the running map: routing is unchanged" % (e, path, kept))
    queried = time.monotonic()
    entries, kinds, skipped, samples = build_entries(rows)
    text = render_map(entries)
    validate_map(text)
    for reason in sorted(skipped):
        log("skipped %d row(s): %s (e.g. %s)" % (skipped[reason], reason, ", ".join(samples[reason])))
    if args.dry_run:
        sys.stdout.write(text)
        log("dry run: %d entries (%s); nothing changed" % (len(entries), summary(entries, kinds)))
        return EXIT_OK

    changed = write_atomically(path, text)
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
    loaded = read_text(CONFIG["statePath"])
    how = "unchanged, already loaded"
    code = EXIT_OK
    if changed or args.force or loaded is None or loaded.strip() != digest:
        try:
            n = push_runtime(entries)
            how = "loaded through the runtime API (%d chunks)" % n
        except ApiUnreachable as e:
            log("runtime API unreachable (%s): checking the configuration and reloading haproxy" % e)
            reload_haproxy()
            how = "haproxy reloaded (runtime API unreachable)"
        except ApiError as e:
            log("%s; the running map keeps its previous entries, the file has the new ones" % e)
            return 3
        try:
            with open(CONFIG["statePath"], "w") as f:
                f.write(digest + "\n")
        except OSError as e:
            log("warning: cannot record the loaded map in %s: %s" % (CONFIG["statePath"], e.strerror))
    skipped_total = sum(skipped.values())
    log(
        "%d entries (%s), %d row(s) skipped; file %s; %s; query %.2f s, total %.2f s"
        % (
            len(entries),
            summary(entries, kinds),
            skipped_total,
            "rewritten" if changed else "unchanged",
            how,
            queried - started,
            time.monotonic() - started,
        )
    )
    return code
`;
