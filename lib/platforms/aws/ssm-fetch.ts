/**
 * The first-boot program of AWS nodes that renders their secret-holding files from SSM Parameter
 * Store (`capabilities.secrets` "ssm"). Python 3 with Debian's `python3-boto3` (boto3 signs the
 * requests with the instance role's credentials from IMDSv2 and retries): no AWS CLI, no shell
 * parsing of multi-line values such as PEM keys. The manifest format is `lib/provision/secrets.ts`.
 */
import { PY_REGION_FUNCTION } from "./imds";

/** Where the program is installed (root-only). */
export const SSM_FETCH_PROGRAM = "/usr/local/sbin/grommunio-fetch-secrets";

/** Debian 12 / Ubuntu 24.04 package the program needs (python3 itself is on every cloud image). */
export const SSM_FETCH_PACKAGES: readonly string[] = ["python3-boto3"];

/**
 * The program. Arguments: `[manifest]` (default /etc/grommunio-cluster/secrets.json). The region
 * comes from `AWS_REGION` / `AWS_DEFAULT_REGION`, else from the instance metadata (IMDSv2).
 * `GROMMUNIO_FETCH_ATTEMPTS` (default 60, 10 s apart) bounds the waiting for the instance role to
 * become usable. Exit 0 when every file was written, 1 otherwise (nothing half-written: each file
 * is written to a temporary file in its directory, then renamed).
 */
export const SSM_FETCH_SCRIPT = String.raw`#!/usr/bin/python3
"""grommunio-fetch-secrets: writes this node's secret-holding files from SSM Parameter Store.

Rendered by cdktf-grommunio. Reads the manifest, fetches its parameters (SecureString values
decrypted) with the instance role, and renders each template to its final path with the owner
and mode the manifest gives. Run it again after rotating a parameter, then restart the services
that read the files. Values are never printed.
"""
import grp
import json
import os
import pwd
import re
import sys
import time
import urllib.request

IMDS = "http://169.254.169.254/latest"
MANIFEST = "/etc/grommunio-cluster/secrets.json"


def log(message):
    print("grommunio-fetch-secrets: " + message, file=sys.stderr, flush=True)


${PY_REGION_FUNCTION}

def fetch(names):
    import boto3

    ssm = boto3.client("ssm", region_name=region())
    values = {}
    for start in range(0, len(names), 10):
        reply = ssm.get_parameters(Names=names[start : start + 10], WithDecryption=True)
        if reply.get("InvalidParameters"):
            raise RuntimeError("no such parameter(s): " + ", ".join(reply["InvalidParameters"]))
        for parameter in reply["Parameters"]:
            values[parameter["Name"]] = parameter["Value"]
    missing = [n for n in names if n not in values]
    if missing:
        raise RuntimeError("not returned: " + ", ".join(missing))
    return values


def write(entry, text):
    path = entry["path"]
    user, group = entry["owner"].split(":")
    uid = pwd.getpwnam(user).pw_uid
    gid = grp.getgrnam(group).gr_gid
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = path + ".grommunio-new"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, int(entry["mode"], 8))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    except BaseException:
        os.unlink(temporary)
        raise
    os.replace(temporary, path)


def main(argv):
    with open(argv[1] if len(argv) > 1 else MANIFEST, encoding="utf-8") as f:
        manifest = json.load(f)
    secrets = manifest["secrets"]
    names = sorted(set(secrets.values()))
    attempts = int(os.environ.get("GROMMUNIO_FETCH_ATTEMPTS", "60"))
    values = None
    for attempt in range(1, attempts + 1):
        try:
            values = fetch(names)
            break
        except Exception as e:  # the instance profile may take a while to become usable
            log("attempt %d of %d: %s" % (attempt, attempts, e))
            if attempt < attempts:
                time.sleep(10)
    if values is None:
        return 1
    before, after = manifest["placeholder"].split("{id}")
    pattern = re.compile(re.escape(before) + "([a-z0-9/-]+)" + re.escape(after))
    for entry in manifest["files"]:
        with open(entry["template"], encoding="utf-8") as f:
            template = f.read()
        unknown = [i for i in pattern.findall(template) if i not in secrets]
        if unknown:
            log("%s names unknown secret(s) %s" % (entry["template"], ", ".join(unknown)))
            return 1
        # One pass: a value that looks like a placeholder is never expanded again.
        write(entry, pattern.sub(lambda m: values[secrets[m.group(1)]], template))
    log("wrote %d file(s) from %d parameter(s)" % (len(manifest["files"]), len(names)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
`;
