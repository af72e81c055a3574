/**
 * The first-boot program of AWS nodes that writes their configuration files from their bundle in
 * S3 (`fileDelivery` "s3", `./files.ts`). Python 3 with Debian's `python3-boto3`, like the secrets
 * fetch program (`./ssm-fetch.ts`). The bundle format is `lib/provision/bundle.ts`; the manifest
 * (`/etc/grommunio-cluster/files.json`, in the user-data) pins the node's bundle by its sha256;
 * the program finds the version of the node's key in the versioned bucket that has it
 * (`./files.ts`):
 *
 * ```json
 * { "version": 3, "bucket": "<bucket>", "key": "nodes/<node>/bundle.json", "sha256": "<sha256>" }
 * ```
 *
 * Other manifest versions are refused with a message: version 2 (an S3 version id in the
 * manifest) and version 1 (a content-addressed key) come with their own program in the node's
 * user-data, which predates this one.
 */
import { PY_REGION_FUNCTION } from "./imds";

/** Where the program is installed (root-only). */
export const FILES_FETCH_PROGRAM = "/usr/local/sbin/grommunio-fetch-files";

/** Debian 12 / Ubuntu 24.04 package the program needs (python3 itself is on every cloud image). */
export const FILES_FETCH_PACKAGES: readonly string[] = ["python3-boto3"];

/**
 * The program. Arguments: `[manifest]` (default /etc/grommunio-cluster/files.json). The region
 * comes from `AWS_REGION` / `AWS_DEFAULT_REGION`, else from the instance metadata (IMDSv2).
 * `GROMMUNIO_FETCH_ATTEMPTS` (default 60) and `GROMMUNIO_FETCH_INTERVAL` (seconds, default 10)
 * bound the waiting for the instance role (and the object) to become usable. It lists the versions
 * of exactly the manifest's key, newest first (ListObjectVersions with the key as prefix, every
 * page; versions of other keys starting with it are ignored), and downloads each (GetObject with
 * its VersionId) until one's sha256 is the manifest's; none matching (for instance when more than
 * `fileVersionsKept` newer versions exist) is refused, naming the sha256 and how many versions
 * were tried. Before writing anything it checks every entry of the matching bundle (clean absolute
 * path, mode `0NNN`, an existing `user:group`, no path twice); then it writes each file atomically
 * (a temporary file in the same directory, no symlink followed, owner and mode set on the open
 * file, renamed over the path; missing directories are created 0755 root:root). It never prints a
 * file's content. Exit 0 when every file was written, 1 otherwise.
 *
 * The program travels in every AWS node's user-data (gzipped, base64), the largest item there,
 * so its text carries no comments or docstrings (they cost the user-data ~440 B); what they said:
 * `versions` yields the version ids of exactly the key, newest first (as S3 lists them; a key that
 * merely starts with it is skipped); `find` returns (bundle or None, version id, versions tried),
 * the newest version with the sha256; `pinned` returns (bucket, key, sha256) of a version 3
 * manifest or raises ValueError; `checked` raises ValueError naming the first invalid entry
 * (never its content); `directories` creates the missing parents 0755 root:root; `write` first
 * removes a temporary file left by an interrupted run (a symlink is removed, not followed); `main`
 * retries `find` because the instance profile may take a while to become usable.
 */
export const FILES_FETCH_SCRIPT = String.raw`#!/usr/bin/python3
import grp
import hashlib
import json
import os
import pwd
import re
import sys
import time
import urllib.request

IMDS = "http://169.254.169.254/latest"
MANIFEST = "/etc/grommunio-cluster/files.json"
MODE = re.compile(r"^0[0-7]{3}$")
NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def log(message):
    print("grommunio-fetch-files: " + message, file=sys.stderr, flush=True)


${PY_REGION_FUNCTION}

def versions(s3, bucket, key):
    request = {"Bucket": bucket, "Prefix": key}
    while True:
        page = s3.list_object_versions(**request)
        for v in page.get("Versions", []):
            if v.get("Key") == key:
                yield v["VersionId"]
        if not page.get("IsTruncated"):
            return
        request["KeyMarker"] = page["NextKeyMarker"]
        request["VersionIdMarker"] = page["NextVersionIdMarker"]


def find(bucket, key, sha256):
    import boto3

    s3 = boto3.client("s3", region_name=region())
    tried = 0
    for version in versions(s3, bucket, key):
        tried += 1
        data = s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
        if hashlib.sha256(data).hexdigest() == sha256:
            return data, version, tried
    return None, None, tried


def pinned(manifest):
    version = manifest.get("version") if isinstance(manifest, dict) else None
    if version in (1, 2):
        raise ValueError(
            "the manifest is version %d: this node's user-data predates bundles found by their sha256 "
            "(version 3); run the grommunio-fetch-files that came with it, or replace the node" % version
        )
    if version != 3:
        raise ValueError("the manifest is not version 3")
    fields = ("bucket", "key", "sha256")
    if not all(isinstance(manifest.get(k), str) and manifest[k] for k in fields):
        raise ValueError("the manifest lacks bucket, key or sha256")
    if not re.match(r"^[0-9a-f]{64}$", manifest["sha256"]):
        raise ValueError("the manifest's sha256 is not 64 lowercase hex digits")
    return manifest["bucket"], manifest["key"], manifest["sha256"]


def clean(path):
    return (
        isinstance(path, str)
        and path.startswith("/")
        and path != "/"
        and not path.endswith("/")
        and "//" not in path
        and "\0" not in path
        and "\n" not in path
        and all(part not in (".", "..") for part in path.split("/")[1:])
    )


def checked(entries):
    if not isinstance(entries, list) or not entries:
        raise ValueError("the bundle has no files")
    out = []
    seen = set()
    for entry in entries:
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("path", "owner", "mode", "content")):
            raise ValueError("an entry lacks path, owner, mode or content")
        path = entry["path"]
        if not clean(path):
            raise ValueError("%r is not a clean absolute path" % path[:200])
        if path in seen:
            raise ValueError("%s is in the bundle twice" % path)
        seen.add(path)
        if not MODE.match(entry["mode"]):
            raise ValueError("%s: mode %r is not 0NNN" % (path, entry["mode"][:20]))
        owner = entry["owner"].split(":")
        if len(owner) != 2 or not all(NAME.match(o) for o in owner):
            raise ValueError("%s: owner %r is not user:group" % (path, entry["owner"][:70]))
        try:
            uid = pwd.getpwnam(owner[0]).pw_uid
        except KeyError:
            raise ValueError("%s: no user %s" % (path, owner[0]))
        try:
            gid = grp.getgrnam(owner[1]).gr_gid
        except KeyError:
            raise ValueError("%s: no group %s" % (path, owner[1]))
        out.append((path, uid, gid, int(entry["mode"], 8), entry["content"].encode("utf-8")))
    return out


def directories(path):
    missing = []
    parent = os.path.dirname(path)
    while not os.path.isdir(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for d in reversed(missing):
        os.mkdir(d, 0o755)
        os.chown(d, 0, 0)
        os.chmod(d, 0o755)


def write(path, uid, gid, mode, data):
    directories(path)
    temporary = os.path.join(os.path.dirname(path), ".%s.grommunio-%d" % (os.path.basename(path), os.getpid()))
    try:
        os.unlink(temporary)
    except FileNotFoundError:
        pass
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(temporary)
        raise
    os.replace(temporary, path)


def main(argv):
    with open(argv[1] if len(argv) > 1 else MANIFEST, encoding="utf-8") as f:
        manifest = json.load(f)
    try:
        bucket, key, sha256 = pinned(manifest)
    except ValueError as e:
        log("refusing the manifest: %s; nothing written" % e)
        return 1
    where = "s3://%s/%s" % (bucket, key)
    attempts = int(os.environ.get("GROMMUNIO_FETCH_ATTEMPTS", "60"))
    interval = float(os.environ.get("GROMMUNIO_FETCH_INTERVAL", "10"))
    found = None
    for attempt in range(1, attempts + 1):
        try:
            found = find(bucket, key, sha256)
            break
        except Exception as e:
            log("attempt %d of %d: %s" % (attempt, attempts, e))
            if attempt < attempts:
                time.sleep(interval)
    if found is None:
        log("could not list or download the versions of %s; nothing written" % where)
        return 1
    data, version, tried = found
    if data is None:
        log(
            "no version of %s has sha256 %s (%d version(s) tried; older ones expire once fileVersionsKept "
            "newer ones exist); nothing written" % (where, sha256, tried)
        )
        return 1
    try:
        bundle = json.loads(data.decode("utf-8"))
        if not isinstance(bundle, dict) or bundle.get("version") != 1:
            raise ValueError("not a version 1 bundle")
        files = checked(bundle.get("files"))
    except ValueError as e:
        log("refusing the bundle: %s; nothing written" % e)
        return 1
    for path, uid, gid, mode, content in files:
        try:
            write(path, uid, gid, mode, content)
        except OSError as e:
            log("cannot write %s: %s" % (path, e.strerror or e))
            return 1
    log("wrote %d file(s) from %s (version %s; %d version(s) tried)" % (len(files), where, version, tried))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
`;
