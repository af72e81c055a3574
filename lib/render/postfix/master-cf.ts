/**
 * postfix master.cf as typed service entries, rendered by one serializer; Debian 12's default
 * services (postfix 3.7.11-0+deb12u1, /usr/share/postfix/master.cf.dist) as data.
 */

export type MasterFlag = "y" | "n" | "-";

/** One master.cf service line with its `-o` overrides. */
export interface MasterService {
  /** Service name: a name (`pickup`) or, for inet, `[host:]port`. */
  readonly service: string;
  readonly type: "inet" | "unix" | "unix-dgram" | "fifo" | "pass";
  readonly private: MasterFlag;
  readonly unpriv: MasterFlag;
  readonly chroot: MasterFlag;
  /** `-`, seconds, or seconds with `?`. */
  readonly wakeup: string;
  /** `-` (default_process_limit) or a number. */
  readonly maxproc: string;
  readonly command: string;
  /** `-o name=value` overrides, in order. */
  readonly overrides?: ReadonlyArray<readonly [string, string]>;
}

/**
 * Debian 12's active default services after its `smtp inet … smtpd` line, in Debian's order.
 * Left out: that smtp line (the renderer replaces it, never adds a second one) and the `pipe`
 * examples (maildrop, uucp, ifmail, bsmtp, scalemail-backend, mailman): nothing routes to them and
 * they name users that do not exist on a grommunio node.
 */
export const DEBIAN_DEFAULT_SERVICES: readonly MasterService[] = [
  svc("pickup", "unix", "n", "-", "y", "60", "1", "pickup"),
  svc("cleanup", "unix", "n", "-", "y", "-", "0", "cleanup"),
  svc("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"),
  svc("tlsmgr", "unix", "-", "-", "y", "1000?", "1", "tlsmgr"),
  svc("rewrite", "unix", "-", "-", "y", "-", "-", "trivial-rewrite"),
  svc("bounce", "unix", "-", "-", "y", "-", "0", "bounce"),
  svc("defer", "unix", "-", "-", "y", "-", "0", "bounce"),
  svc("trace", "unix", "-", "-", "y", "-", "0", "bounce"),
  svc("verify", "unix", "-", "-", "y", "-", "1", "verify"),
  svc("flush", "unix", "n", "-", "y", "1000?", "0", "flush"),
  svc("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"),
  svc("proxywrite", "unix", "-", "-", "n", "-", "1", "proxymap"),
  svc("smtp", "unix", "-", "-", "y", "-", "-", "smtp"),
  svc("relay", "unix", "-", "-", "y", "-", "-", "smtp", [["syslog_name", "postfix/$service_name"]]),
  svc("showq", "unix", "n", "-", "y", "-", "-", "showq"),
  svc("error", "unix", "-", "-", "y", "-", "-", "error"),
  svc("retry", "unix", "-", "-", "y", "-", "-", "error"),
  svc("discard", "unix", "-", "-", "y", "-", "-", "discard"),
  svc("local", "unix", "-", "n", "n", "-", "-", "local"),
  svc("virtual", "unix", "-", "n", "n", "-", "-", "virtual"),
  svc("lmtp", "unix", "-", "-", "y", "-", "-", "lmtp"),
  svc("anvil", "unix", "-", "-", "y", "-", "1", "anvil"),
  svc("scache", "unix", "-", "-", "y", "-", "1", "scache"),
  svc("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
];

/** Shorthand constructor for a service entry. */
export function svc(
  service: string,
  type: MasterService["type"],
  priv: MasterFlag,
  unpriv: MasterFlag,
  chroot: MasterFlag,
  wakeup: string,
  maxproc: string,
  command: string,
  overrides?: ReadonlyArray<readonly [string, string]>,
): MasterService {
  return {
    service,
    type,
    private: priv,
    unpriv,
    chroot,
    wakeup,
    maxproc,
    command,
    ...(overrides ? { overrides } : {}),
  };
}

const HEADER = [
  "#",
  "# Postfix master process configuration file.  For details on the format",
  '# of the file, see the master(5) manual page (command: "man 5 master" or',
  "# on-line: http://www.postfix.org/master.5.html).",
  "#",
];

const COLUMNS = [
  "# ==========================================================================",
  "# service type  private unpriv  chroot  wakeup  maxproc command + args",
  "#               (yes)   (yes)   (no)    (never) (100)",
  "# ==========================================================================",
];

function cell(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text.padEnd(width);
}

function override(name: string, value: string): string {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`master.cf: bad -o name ${JSON.stringify(name)}`);
  if (/[\r\n\0]/.test(value) || /[{}]/.test(value)) throw new Error(`master.cf: bad -o value for ${name}`);
  // A value with whitespace needs postfix 3.0's { name = value } form to stay one argument.
  return /\s/.test(value) ? `  -o { ${name} = ${value} }` : `  -o ${name}=${value}`;
}

/**
 * Serializes master.cf in Debian's column layout: a comment header (`comments`, then Debian's
 * own), the services in the order given, `-o` overrides on indented continuation lines. Throws when
 * a service/type pair occurs twice: postfix would silently use the last one.
 */
export function serializeMasterCf(comments: readonly string[], services: readonly MasterService[]): string {
  const seen = new Set<string>();
  const lines = [...HEADER, ...comments.map((l) => (l === "" ? "#" : `# ${l}`)), ...COLUMNS];
  for (const s of services) {
    const key = `${s.service}/${s.type}`;
    if (seen.has(key)) throw new Error(`master.cf: duplicate service ${key}`);
    seen.add(key);
    if (!/^[A-Za-z0-9_.:[\]-]+$/.test(s.service) || !/^[a-z0-9_./-]+$/.test(s.command)) {
      throw new Error(`master.cf: bad service line for ${key}`);
    }
    lines.push(
      cell(s.service, 10) +
        cell(s.type, 6) +
        [s.private, s.unpriv, s.chroot, s.wakeup, s.maxproc].map((c) => cell(c, 8)).join("") +
        s.command,
    );
    for (const [name, value] of s.overrides ?? []) lines.push(override(name, value));
  }
  return lines.join("\n") + "\n";
}
