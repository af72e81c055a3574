/**
 * The upstream documentation's HAProxy configs, rebuilt from the seed page
 * (test/fixtures/seed/grommunio-architecture.txt, a copy of the page), whose HAProxy blocks lost their line breaks:
 * several directives share one physical line. The rebuild starts a new line before every
 * directive keyword (except where a keyword is an argument: `stats timeout`, `log global`,
 * `timeout server`, `no option`), keeps comments up to the
 * next directive, and treats a physical line that starts with a commented-out directive
 * (`# bind quic4@…`) as one comment. Nothing else is changed.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const SEED_PATH =
  process.env.GRX_SEED_PATH ?? path.join(__dirname, "fixtures", "seed", "grommunio-architecture.txt");

const SECTION = new Set(["global", "defaults", "frontend", "backend"]);
const KEYWORDS = new Set([
  ...SECTION,
  "chroot",
  "daemon",
  "log",
  "group",
  "user",
  "maxconn",
  "stats",
  "ulimit-n",
  "ca-base",
  "crt-base",
  "ssl-default-bind-ciphers",
  "ssl-default-bind-options",
  "tune.ssl.default-dh-param",
  "mode",
  "option",
  "no",
  "retries",
  "timeout",
  "bind",
  "http-response",
  "http-request",
  "acl",
  "redirect",
  "use_backend",
  "default_backend",
  "stick-table",
  "stick",
  "balance",
  "hash-type",
  "server",
  "use-server",
  "tcp-request",
]);

export type DocHaproxyVariant = "main" | "node-aware";

/** The block's physical lines from the seed: from its `global …` line to the last `send-proxy`. */
function blockLines(seed: string, variant: DocHaproxyVariant): string[] {
  const lines = seed.split("\n");
  const globals = lines.map((l, i) => [l, i] as const).filter(([l]) => /(^|”)global chroot /.test(l));
  if (globals.length < 2) throw new Error("seed: expected two HAProxy blocks starting with 'global chroot'");
  const start = globals[variant === "main" ? 0 : 1]![1];
  const out: string[] = [];
  for (let i = start; i < lines.length; i++) {
    let l = lines[i]!;
    if (i === start) l = l.slice(l.indexOf("global chroot"));
    const end = l.indexOf("send-proxyPostfix") >= 0 ? l.indexOf("send-proxyPostfix") : l.indexOf("send-proxyHow");
    if (end >= 0) {
      out.push(l.slice(0, end + "send-proxy".length));
      return out;
    }
    out.push(l);
  }
  throw new Error("seed: end of the HAProxy block not found");
}

/** Splits one physical line into directive lines. */
function splitLine(physical: string): string[] {
  const tokens = physical
    .trim()
    .split(/\s+/)
    .filter((t) => t !== "");
  if (tokens.length === 0) return [];
  if (tokens[0] === "#" && KEYWORDS.has(tokens[1] ?? "")) return [tokens.join(" ")];
  const out: string[][] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const prev = tokens[i - 1];
    // `stats timeout`, `log global`, `timeout server`, `no option`: a keyword as an argument.
    const keyword = KEYWORDS.has(t) && !["stats", "log", "timeout", "no"].includes(prev ?? "");
    // A comment runs until the next directive keyword (the seed lost the line break after it).
    if (t === "#" || keyword || out.length === 0) {
      out.push([t]);
      continue;
    }
    out[out.length - 1]!.push(t);
  }
  return out.map((words) => words.join(" "));
}

/**
 * The documentation's config as HAProxy would read it (one directive per line, section bodies
 * indented). `main`: the "HAPROXY" section; `node-aware`: "Node-aware load balancing".
 */
export function docHaproxyConfig(variant: DocHaproxyVariant, seedPath = SEED_PATH): string {
  const seed = fs.readFileSync(seedPath, "utf8");
  const out: string[] = [];
  for (const physical of blockLines(seed, variant)) {
    for (const line of splitLine(physical)) {
      const first = line.split(" ")[0]!;
      out.push(SECTION.has(first) ? line : `    ${line}`);
    }
  }
  return out.join("\n") + "\n";
}

/** Files and host names the documentation's configs reference (for `haproxy -c` in a sandbox). */
export const DOC_LIST_FILES = [
  "ha_whitelist_main.txt",
  "ha_blacklist_main.txt",
  "ha_blacklist_imap.txt",
  "ha_blacklist_pop3.txt",
  "ha_blacklist_smtp.txt",
  "ha_blacklist_submission.txt",
  "ha_whitelist_admin.txt",
  "mailbox.map",
];

/** Every host name in the documentation's `server` lines. */
export function docServerHosts(cfg: string): string[] {
  const hosts = new Set<string>();
  for (const m of cfg.matchAll(/^\s*server \S+ ([a-z0-9.-]+):\d+/gm)) hosts.add(m[1]!);
  return [...hosts].sort();
}
