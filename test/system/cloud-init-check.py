#!/usr/bin/python3
"""Strict user-data checker for cloud-init 22.4 (shared reference validators.md §6).

`cloud-init schema -c` accepts unknown top-level keys and never decodes write_files content, and
it cannot read gzip or MIME user-data at all. This checker closes those gaps:

  * un-gzips the input (as cloud-init does), splits MIME multipart (recursively, including gzip
    parts), and detects the type of a non-MIME document from its first line like cloud-init;
  * every text/cloud-config part must begin with an exact `#cloud-config` line, parse as YAML
    (with cloud-init's own loader, plus a duplicate-key check PyYAML does not do) into a mapping,
    and pass `validate_cloudconfig_schema(cfg, get_schema(), strict=True)` (errors AND
    deprecations are problems);
  * top-level keys must be properties of a module schema (plus merge_how/merge_type);
  * every write_files entry: absolute path, not written twice in one document (unless append),
    content decodes by its encoding (strict base64, valid gzip, UTF-8 check not required),
    permissions a quoted octal string such as '0644';
  * shell-script parts must start with `#!` and pass `sh -n`/`bash -n` when run by sh/bash;
  * unknown MIME part types are problems (cloud-init would silently ignore them).

Usage: cloud-init-check.py [--extract DIR] [--json] USER_DATA_FILE
  --extract DIR  writes every decoded write_files entry to DIR/<path> (append honoured)
  --json         prints {"ok", "problems", "files"} (files with base64 content) instead of text
Exit status 0 when no problem was found, 1 otherwise, 2 on usage errors.

Run it with /usr/bin/python3 (where Debian's `cloudinit` package lives).
"""

import argparse
import base64
import binascii
import email
import gzip
import json
import os
import re
import subprocess
import sys
import zlib

import yaml

try:
    from cloudinit import safeyaml
    from cloudinit.config.schema import (
        SchemaValidationError,
        get_schema,
        validate_cloudconfig_schema,
    )
except ImportError as exc:  # pragma: no cover - environment problem
    sys.stderr.write(
        "cannot import cloudinit (%s): run with /usr/bin/python3 and "
        "apt-get install cloud-init\n" % exc
    )
    sys.exit(2)

GZIP_MAGIC = b"\x1f\x8b"
CLOUD_CONFIG_HEADER = "#cloud-config"
# Top-level keys cloud-init's merging understands but no module schema declares.
EXTRA_TOP_LEVEL_KEYS = frozenset(["merge_how", "merge_type"])
# Part types cloud-init handles (cloudinit/handlers/__init__.py INCLUSION_TYPES_MAP).
KNOWN_PART_TYPES = frozenset(
    [
        "text/cloud-config",
        "text/x-shellscript",
        "text/x-shellscript-per-boot",
        "text/x-shellscript-per-instance",
        "text/x-shellscript-per-once",
        "text/cloud-boothook",
        "text/part-handler",
        "text/x-include-url",
        "text/x-include-once-url",
        "text/cloud-config-archive",
        "text/cloud-config-jsonp",
        "text/jinja2",
    ]
)
SHELL_TYPES = frozenset(
    [
        "text/x-shellscript",
        "text/x-shellscript-per-boot",
        "text/x-shellscript-per-instance",
        "text/x-shellscript-per-once",
    ]
)
# First-line prefixes of a non-MIME document, longest first (as cloud-init matches them).
PREFIX_TYPES = sorted(
    [
        ("#include-once", "text/x-include-once-url"),
        ("#include", "text/x-include-url"),
        ("#!", "text/x-shellscript"),
        ("#cloud-config-archive", "text/cloud-config-archive"),
        ("#cloud-config-jsonp", "text/cloud-config-jsonp"),
        ("#cloud-config", "text/cloud-config"),
        ("#part-handler", "text/part-handler"),
        ("#cloud-boothook", "text/cloud-boothook"),
        ("## template: jinja", "text/jinja2"),
    ],
    key=lambda p: -len(p[0]),
)
GZIP_TYPES = frozenset(["application/x-gzip", "application/gzip"])
PERMISSIONS = re.compile(r"^[0-7]{3,4}$")
ENCODINGS = {
    "gz": ["gzip"],
    "gzip": ["gzip"],
    "gz+base64": ["base64", "gzip"],
    "gzip+base64": ["base64", "gzip"],
    "gz+b64": ["base64", "gzip"],
    "gzip+b64": ["base64", "gzip"],
    "b64": ["base64"],
    "base64": ["base64"],
    "text/plain": [],
}


class StrictLoader(safeyaml._CustomSafeLoader):  # pylint: disable=protected-access
    """cloud-init's YAML loader, refusing duplicate mapping keys (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                continue  # the base class reports unhashable keys
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found duplicate key %r (first at line %d)" % (key, seen[key] + 1),
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def allowed_top_level_keys(schema):
    """Every property of every schema the top-level allOf references, plus merge keys."""
    keys = set(EXTRA_TOP_LEVEL_KEYS)
    defs = schema.get("$defs", {})
    for item in schema.get("allOf", []):
        ref = item.get("$ref", "")
        target = defs.get(ref.rsplit("/", 1)[-1], {}) if ref.startswith("#/$defs/") else item
        keys.update(target.get("properties", {}).keys())
    return keys


class Checker:
    def __init__(self):
        self.problems = []
        self.files = []
        self.schema = get_schema()
        self.top_level_keys = allowed_top_level_keys(self.schema)

    def problem(self, where, message):
        self.problems.append("%s: %s" % (where, message))

    # --- input ---------------------------------------------------------------------------------

    def check_user_data(self, data, where="user-data"):
        if data[:2] == GZIP_MAGIC:
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as exc:
                self.problem(where, "gzip input does not decompress: %s" % exc)
                return
            where += " (gunzipped)"
        if b"mime-version:" in data[:4096].lower():
            self.check_mime(data, where)
            return
        text = self.decode_text(data, where)
        if text is None:
            return
        for prefix, ctype in PREFIX_TYPES:
            if text.startswith(prefix):
                self.check_part(ctype, text, where)
                return
        first = text.split("\n", 1)[0]
        self.problem(
            where,
            'needs to begin with "#cloud-config" (or another cloud-init header such as "#!"); '
            "first line is %r, so cloud-init would ignore the whole document" % first[:80],
        )

    def check_mime(self, data, where):
        msg = email.message_from_bytes(data)
        if not msg.is_multipart():
            self.check_message_part(msg, where)
            return
        count = 0
        for part in msg.walk():
            if part.is_multipart():
                continue
            count += 1
            name = part.get_filename() or part.get_param("name") or ""
            self.check_message_part(
                part, "%s part %d%s" % (where, count, " (%s)" % name if name else "")
            )
        if count == 0:
            self.problem(where, "MIME message has no parts")

    def check_message_part(self, part, where):
        ctype = part.get_content_type()
        try:
            payload = part.get_payload(decode=True)
        except (ValueError, binascii.Error) as exc:
            self.problem(where, "payload does not decode: %s" % exc)
            return
        if payload is None:
            payload = b""
        if ctype in GZIP_TYPES or payload[:2] == GZIP_MAGIC:
            self.check_user_data(payload, where)
            return
        if ctype not in KNOWN_PART_TYPES:
            self.problem(
                where,
                "content type %s is not handled by cloud-init (it would be ignored); "
                "use one of %s" % (ctype, ", ".join(sorted(KNOWN_PART_TYPES))),
            )
            return
        text = self.decode_text(payload, where)
        if text is not None:
            self.check_part(ctype, text, where)

    def decode_text(self, data, where):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.problem(where, "not UTF-8 text: %s" % exc)
            return None

    def check_part(self, ctype, text, where):
        if ctype == "text/cloud-config":
            self.check_cloud_config(text, where)
        elif ctype in SHELL_TYPES:
            self.check_shell(text, where)

    # --- cloud-config --------------------------------------------------------------------------

    def check_cloud_config(self, text, where):
        first = text.split("\n", 1)[0].rstrip("\r")
        if first != CLOUD_CONFIG_HEADER:
            self.problem(
                where,
                'needs to begin with a "#cloud-config" line, found %r' % first[:80],
            )
            return
        try:
            cfg = yaml.load(text, Loader=StrictLoader)  # nosec - safe loader subclass
        except yaml.YAMLError as exc:
            self.problem(where, "not valid YAML: %s" % str(exc).replace("\n", " "))
            return
        if cfg is None:
            cfg = {}
        if not isinstance(cfg, dict):
            self.problem(where, "cloud-config is not a YAML mapping but %s" % type(cfg).__name__)
            return
        try:
            validate_cloudconfig_schema(cfg, self.schema, strict=True, log_details=False)
        except SchemaValidationError as exc:
            for path, message in exc.schema_errors:
                self.problem(where, "schema: %s: %s" % (path or "(top)", message))
            for path, message in exc.schema_deprecations:
                self.problem(where, "deprecated: %s: %s" % (path or "(top)", message))
        for key in sorted(map(str, cfg.keys())):
            if key not in self.top_level_keys:
                self.problem(
                    where,
                    "unknown top-level key %r: no cloud-init module reads it "
                    "(cloud-init ignores it silently)" % key,
                )
        entries = cfg.get("write_files")
        if isinstance(entries, list):
            self.check_write_files(entries, where)

    def check_write_files(self, entries, where):
        seen = {}
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue  # the schema already reported it
            path = entry.get("path")
            at = "%s write_files[%d]%s" % (where, index, " %s" % path if path else "")
            if not isinstance(path, str) or not path:
                self.problem(at, "path is missing")
                continue
            if not path.startswith("/") or "/../" in path + "/" or "\0" in path:
                self.problem(at, "path must be absolute and normalised")
                continue
            append = entry.get("append") is True
            if path in seen and not append:
                self.problem(
                    at,
                    "path is also written by write_files[%d]; the later entry silently wins"
                    % seen[path],
                )
            seen.setdefault(path, index)
            perms = entry.get("permissions")
            if perms is not None and not (isinstance(perms, str) and PERMISSIONS.match(perms)):
                self.problem(
                    at,
                    "permissions must be a quoted octal string such as '0644', got %r (%s)"
                    % (perms, type(perms).__name__),
                )
            encoding = entry.get("encoding", "text/plain")
            if not isinstance(encoding, str):
                continue  # schema reported it
            steps = ENCODINGS.get(encoding.lower().strip())
            if steps is None:
                continue  # schema reported the enum violation
            content = self.decode_content(entry.get("content", ""), steps, at)
            if content is None:
                continue
            owner = entry.get("owner", "root:root")
            self.files.append(
                {
                    "path": path,
                    "owner": owner if isinstance(owner, str) else str(owner),
                    "permissions": perms if isinstance(perms, str) else "0644",
                    "encoding": encoding,
                    "append": append,
                    "defer": entry.get("defer") is True,
                    "content": content,
                    "source": where,
                }
            )

    def decode_content(self, content, steps, at):
        if isinstance(content, str):
            data = content.encode("utf-8")
        elif isinstance(content, bytes):
            data = content
        else:
            return None  # schema reported the type
        for step in steps:
            if step == "base64":
                compact = re.sub(rb"\s+", b"", data)
                try:
                    data = base64.b64decode(compact, validate=True)
                except (binascii.Error, ValueError) as exc:
                    self.problem(at, "content is not valid base64: %s" % exc)
                    return None
            elif step == "gzip":
                try:
                    data = gzip.decompress(data)
                except (OSError, EOFError, zlib.error) as exc:
                    self.problem(at, "content is not valid gzip: %s" % exc)
                    return None
        return data

    # --- shell scripts -------------------------------------------------------------------------

    def check_shell(self, text, where):
        first = text.split("\n", 1)[0]
        if not first.startswith("#!"):
            self.problem(where, "shell script must start with #!, found %r" % first[:80])
            return
        interpreter = os.path.basename(first[2:].strip().split(" ")[0]) if first[2:].strip() else ""
        if interpreter == "env":
            parts = first[2:].split()
            interpreter = parts[1] if len(parts) > 1 else ""
        if interpreter in ("sh", "bash", "dash"):
            shell = "/bin/bash" if interpreter == "bash" else "/bin/sh"
            proc = subprocess.run(
                [shell, "-n"], input=text.encode("utf-8"), capture_output=True, check=False
            )
            if proc.returncode != 0:
                self.problem(
                    where,
                    "%s -n: %s" % (shell, proc.stderr.decode("utf-8", "replace").strip()),
                )

    # --- output --------------------------------------------------------------------------------

    def extract(self, directory):
        for f in self.files:
            target = os.path.join(directory, f["path"].lstrip("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "ab" if f["append"] else "wb") as out:
                out.write(f["content"])


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("user_data", help="user-data file: plain, gzip or MIME multipart")
    parser.add_argument("--extract", metavar="DIR", help="write decoded write_files to DIR/<path>")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        with open(args.user_data, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        sys.stderr.write("cannot read %s: %s\n" % (args.user_data, exc))
        return 2
    checker = Checker()
    checker.check_user_data(data)
    if args.extract:
        checker.extract(args.extract)
    if args.json:
        files = []
        for f in checker.files:
            item = dict(f)
            item["content"] = base64.b64encode(f["content"]).decode("ascii")
            files.append(item)
        json.dump(
            {"ok": not checker.problems, "problems": checker.problems, "files": files},
            sys.stdout,
        )
        sys.stdout.write("\n")
    else:
        for p in checker.problems:
            print(p)
        if not checker.problems:
            print("%s: valid (%d files)" % (args.user_data, len(checker.files)))
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
