/**
 * A strict checker for gromox configuration files. There is no gromox in Debian 12 to run
 * `gromox-* -c` against, so this encodes what gromox's parsers accept and what they silently get
 * wrong (reference/gromox.md §1, §3, §13), stricter than gromox itself:
 *
 * - `*.cfg`: `key=value` lines only; `#` comments only at the start of a line; no whitespace
 *   around `=` or at the end, lower-case keys, no key twice (the last silently wins), and only
 *   keys that the program reading that file knows (`KNOWN_KEYS`). In the values we choose, no
 *   blank before `#` (it would look like a trailing comment, which gromox takes as part of the
 *   value) and no quote at either end (gromox does not strip quotes): there such a value is our
 *   mistake. The values a user supplies (`USER_VALUE_KEYS`: the database password, the X.500
 *   organisation name) may hold both, since gromox reads them literally (`readGromoxCfg`,
 *   docs/config-values.md).
 * - addresses in RFC 4291 text form: IPv4 only as `::ffff:a.b.c.d` (gromox listens on AF_INET6
 *   sockets), never bare IPv4, CIDR or names in `*_hosts_allow`, `*_listen_ip`/`listen_ip`/
 *   `*_listen_addr`, `event_host`, `timer_host` and `gromox.cfg` `*_listen`; allow-list entries
 *   exactly as inet_ntop prints them (gromox compares strings), and no `::` there (matches no peer).
 * - `midb_list.txt` (prefix, address, port) and `exmdb_list.txt` (prefix, private|public, address,
 *   port): prefixes absolute and ending in `/`, addresses ≤ 39 characters, numeric ports, no line
 *   shadowed by an earlier one (first match wins).
 *
 * Importable by every system test that produces gromox files.
 */
import * as path from "node:path";

/*
 * Known directives per file, from the gromox manual pages of grommunio/gromox (doc/gromox.cfg.5,
 * exmdb_provider.4gx, http.8gx, midb.8gx, midb_agent.4gx, event.8gx, timer.8gx, timer_agent.4gx,
 * mysql_adaptor.4gx, imap.8gx, pop3.8gx, delivery-queue.8gx, delivery.8gx, zcore.8gx,
 * exchange_emsmdb.4gx, exchange_nsp.4gx, exmdb_local.4gx, autodiscover.4gx), read through the
 * search tool in their rendering on the gromox manual site, a revision at or after gromox-3.10: it
 * documents the 3.5 `gromox.cfg` `*_listen` keys and lists the older per-file listen keys as
 * "Deprecated in favor of gromox.cfg:…" (so they are still read; below 3.5 they are the only
 * form). The index did not let us pin tag gromox-3.10 (1892eb3) itself. Additions from the
 * sources' cfg_directive tables and getters, marked "(source)": CFG_ALIAS spellings such as
 * `listen_port`, `exmdb_listen` (exch/exmdb/listener.cpp reads it from gromox.cfg), the keys of
 * event_proxy/event_stub (mra/event_proxy.cpp, mra/event_stub.cpp; their man pages list none).
 */
const COMMON_DAEMON = ["config_file_path", "data_file_path", "running_identity", "state_path"];

export const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  // gromox.cfg(5) and the "Configuration directives (gromox.cfg)" sections of each page.
  "gromox.cfg": [
    "autoreply_silence_window",
    "autoreply_subject_prefix", // exmdb_local.4gx: "see gromox.cfg"
    "backfill_transport_headers",
    "bounce_postmaster",
    "daemons_fd_limit",
    "emsmdb_compress_threshold", // exchange_emsmdb.4gx
    "exmdb_client_rpc_timeout",
    "exmdb_deep_backtrace", // exmdb_provider.4gx
    "exmdb_force_write_txn",
    "exmdb_ics_log_file",
    "exmdb_listen", // (source) exch/exmdb/listener.cpp
    "exmdb_optimize_stm",
    "exmdb_parallelize_schemaup",
    "exmdb_parallelize_sqliteshut",
    "http_basic_auth_cred_caching", // http.8gx
    "http_fd_limit",
    "http_listen",
    "http_listen_tls",
    "http_remote_host_hdr",
    "imap_accept_haproxy", // imap.8gx
    "imap_fd_limit",
    "imap_listen",
    "imap_listen_tls",
    "istore_standalone",
    "lda_accept_haproxy", // (source) delivery-queue's gromox_cfg_defaults
    "lda_fd_limit", // delivery-queue.8gx, delivery.8gx
    "lda_listen",
    "lda_listen_tls",
    "lda_recipient_delimiter",
    "lda_relay_unknown_recipients", // exmdb_local.4gx: "see gromox.cfg"
    "lda_support_haproxy",
    "midb_fd_limit", // midb.8gx
    "midb_listen",
    "mysql_object_cache_lifetime", // mysql_adaptor.4gx
    "outgoing_smtp_url",
    "oxdisco_advertise_mh", // autodiscover.4gx
    "oxdisco_advertise_rpch",
    "oxdisco_exonym",
    "oxdisco_pretty_response",
    "oxdisco_request_logging",
    "oxdisco_response_logging",
    "oxdisco_validate_scndrequest",
    "pop3_accept_haproxy", // pop3.8gx
    "pop3_fd_limit",
    "pop3_listen",
    "pop3_listen_tls",
    "reported_server_version",
    "x500_org_name",
    "zcore_fd_limit", // zcore.8gx
  ],
  "exmdb_provider.cfg": [
    "cache_interval",
    "dbg_synthesize_content",
    "enable_dam",
    "exmdb_body_autosynthesis",
    "exmdb_eph_prefix",
    "exmdb_file_compression",
    "exmdb_hosts_allow",
    "exmdb_listen_port",
    "exmdb_max_sqlite_spares", // (source)
    "exmdb_pf_read_per_user",
    "exmdb_pf_read_states",
    "exmdb_private_folder_softdelete",
    "exmdb_schema_upgrades",
    "exmdb_search_nice",
    "exmdb_search_pacing",
    "exmdb_search_pacing_time",
    "exmdb_search_yield",
    "exrpc_debug",
    "listen_ip",
    "listen_port", // (source) CFG_ALIAS of exmdb_listen_port
    "max_ext_rule_number",
    "max_router_connections",
    "max_rpc_stub_threads",
    "max_rule_number",
    "max_store_message_count",
    "notify_stub_threads_num", // (source)
    "populating_threads_num",
    "rpc_proxy_connection_num",
    "sqlite_busy_timeout",
    "sqlite_debug",
    "table_size",
    "x500_org_name",
  ],
  "http.cfg": [
    ...COMMON_DAEMON,
    "block_interval_auths",
    "context_average_mem",
    "context_num",
    "default_domain", // (source) exch/http/main.cpp
    "fastcgi_exec_timeout",
    "gss_program",
    "host_id",
    "http_auth_basic",
    "http_auth_spnego",
    "http_auth_times",
    "http_certificate_passwd",
    "http_certificate_path",
    "http_conn_timeout",
    "http_debug",
    "http_enforce_auth",
    "http_krb_service_principal",
    "http_listen_addr",
    "http_listen_port",
    "http_listen_tls_port",
    "http_log_file",
    "http_log_level",
    "http_private_key_path",
    "http_rqbody_flush_size",
    "http_rqbody_max_size",
    "http_support_ssl", // (source) CFG_ALIAS of http_support_tls
    "http_support_tls",
    "http_thread_charge_num",
    "http_thread_init_num",
    "listen_port", // (source) CFG_ALIAS of http_listen_port
    "listen_ssl_port", // (source) CFG_ALIAS of http_listen_tls_port
    "msrpc_debug",
    "request_max_mem",
    "tcp_max_segment", // (source)
    "tls_min_proto",
    "user_default_lang",
  ],
  "midb.cfg": [
    "config_file_path",
    "data_file_path",
    "midb_cache_interval",
    "midb_cmd_debug",
    "midb_hosts_allow",
    "midb_listen_ip",
    "midb_listen_port",
    "midb_log_file",
    "midb_log_level",
    "midb_reload_interval",
    "midb_schema_upgrades",
    "midb_table_size",
    "midb_threads_num",
    "rpc_proxy_connection_num",
    "sqlite_debug",
    "x500_org_name",
  ],
  "midb_agent.cfg": ["connection_num", "context_average_mem", "midb_agent_command_buffer_size"],
  "event.cfg": [
    "event_hosts_allow",
    "event_listen_ip",
    "event_listen_port",
    "event_log_file",
    "event_log_level",
    "event_threads_num",
    "running_identity",
  ],
  "event_proxy.cfg": ["connection_num", "event_host", "event_port"], // (source) mra/event_proxy.cpp
  "event_stub.cfg": ["connection_num", "event_host", "event_port"], // (source) mra/event_stub.cpp
  "timer.cfg": [
    "running_identity",
    "timer_hosts_allow",
    "timer_listen_ip",
    "timer_listen_port",
    "timer_log_file",
    "timer_log_level",
    "timer_state_path",
    "timer_threads_num",
  ],
  "timer_agent.cfg": ["connection_num", "timer_host", "timer_port"],
  "mysql_adaptor.cfg": [
    "connection_num",
    "enable_firsttime_password", // (source) exch/mysql_adaptor; the man page says enable_firsttimepw
    "enable_firsttimepw",
    "mysql_dbname",
    "mysql_host",
    "mysql_password",
    "mysql_pool_idle_timeout",
    "mysql_port",
    "mysql_rdwr_timeout",
    "mysql_tls_cert",
    "mysql_tls_key",
    "mysql_username",
    "scan_interval",
    "schema_upgrade",
  ],
  "imap.cfg": [
    ...COMMON_DAEMON,
    "block_interval_auths",
    "context_average_mem",
    "context_average_mitem",
    "context_max_mem", // (source)
    "context_num",
    "default_lang",
    "enable_rfc2971_commands",
    "host_id",
    "imap_auth_times",
    "imap_autologout_time",
    "imap_certificate_passwd",
    "imap_certificate_path",
    "imap_cmd_debug",
    "imap_conn_timeout",
    "imap_expunge_on_delete",
    "imap_force_starttls", // (source) CFG_ALIAS of imap_force_tls
    "imap_force_tls",
    "imap_listen_addr",
    "imap_listen_port",
    "imap_listen_tls_port",
    "imap_log_file",
    "imap_log_level",
    "imap_private_key_path",
    "imap_rfc9051",
    "imap_support_starttls", // (source) CFG_ALIAS of imap_support_tls
    "imap_support_tls",
    "imap_thread_charge_num",
    "imap_thread_init_num",
    "listen_port", // (source) CFG_ALIAS of imap_listen_port
    "listen_ssl_port", // (source) CFG_ALIAS of imap_listen_tls_port
    "tls_min_proto",
  ],
  "pop3.cfg": [
    ...COMMON_DAEMON,
    "block_interval_auths",
    "context_average_mem",
    "context_average_units",
    "context_max_mem",
    "context_num",
    "enable_capa_implementation",
    "host_id",
    "listen_port", // legacy alias (reference/gromox.md §3, as in imap)
    "listen_ssl_port",
    "pop3_auth_times",
    "pop3_certificate_passwd",
    "pop3_certificate_path",
    "pop3_cmd_debug",
    "pop3_conn_timeout",
    "pop3_force_tls",
    "pop3_listen_addr",
    "pop3_listen_port",
    "pop3_listen_tls_port",
    "pop3_log_file",
    "pop3_log_level",
    "pop3_private_key_path",
    "pop3_support_tls",
    "pop3_thread_charge_num",
    "pop3_thread_init_num",
    "tls_min_proto",
  ],
  // delivery-queue(8gx) reads smtp.cfg.
  "smtp.cfg": [
    ...COMMON_DAEMON,
    "command_protocol",
    "context_average_mem",
    "context_max_mem",
    "context_num",
    "host_id",
    "lda_listen_addr",
    "lda_listen_port",
    "lda_listen_tls_port",
    "lda_log_file",
    "lda_log_level",
    "lda_thread_charge_num",
    "lda_thread_init_num",
    "listen_port", // (source) CFG_ALIAS of lda_listen_port; the installer writes listen_port=24
    "listen_ssl_port", // (source) CFG_ALIAS of lda_listen_tls_port
    "mail_max_length",
    "smtp_certificate_passwd",
    "smtp_certificate_path",
    "smtp_conn_timeout",
    "smtp_force_starttls",
    "smtp_private_key_path",
    "smtp_support_pipeline",
    "smtp_support_starttls",
    "tls_min_proto",
  ],
  "delivery.cfg": [
    "admin_mailbox",
    "config_file_path",
    "data_file_path",
    "dequeue_max_mem",
    "dequeue_path",
    "free_context_num",
    "host_id",
    "lda_log_file",
    "lda_log_level",
    "running_identity",
    "work_threads_max",
    "work_threads_min",
  ],
  "exmdb_local.cfg": [
    "autoreply_silence_window",
    "autoreply_subject_prefix",
    "cache_scan_interval",
    "exmdb_connection_num",
    "lda_mrautoproc",
    "lda_relay_unknown_recipients",
    "lda_twostep_ruleproc",
    "response_audit_capacity",
    "response_interval",
    "retrying_times",
    "x500_org_name",
  ],
  "zcore.cfg": [
    "address_cache_interval",
    "address_table_size",
    "config_file_path",
    "data_file_path",
    "host_id",
    "mail_max_length",
    "mailbox_ping_interval",
    "max_ext_rule_length",
    "max_rcpt_num",
    "rpc_proxy_connection_num",
    "submit_command",
    "user_cache_interval",
    "user_table_size",
    "x500_org_name",
    "zcore_listen",
    "zcore_log_file",
    "zcore_log_level",
    "zcore_max_obh_per_session",
    "zcore_threads_num",
    "zrpc_debug",
  ],
  "exchange_emsmdb.cfg": [
    "async_threads_num",
    "ems_max_active_notifh",
    "ems_max_active_sessions",
    "ems_max_active_users",
    "ems_max_pending_sesnotif",
    "emsmdb_collapse_notif_storm",
    "emsmdb_max_cxh_per_user",
    "emsmdb_max_obh_per_session",
    "emsmdb_private_folder_softdelete",
    "emsmdb_rop_chaining",
    "mail_max_length",
    "mailbox_ping_interval",
    "max_ext_rule_length",
    "max_rcpt_num",
    "rop_debug",
    "submit_command",
    "x500_org_name",
  ],
  "exchange_nsp.cfg": ["cache_interval", "hash_table_size", "nsp_trace", "x500_org_name"],
  // autodiscover.4gx: "obsolete in favor of gromox.cfg", still read.
  "autodiscover.cfg": ["x500_org_name"],
};

/** List files and their column layout. */
const LIST_FILES = ["midb_list.txt", "exmdb_list.txt"] as const;

// ---------------------------------------------------------------------------------------------
// Addresses (RFC 4291 §2.2 text forms), written independently of lib/topology/net.ts so that the
// checker does not share the renderer's bugs.

const DOTTED = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The 8 groups of an RFC 4291 text address, or undefined. */
export function ipv6Groups(text: string): number[] | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return undefined;
  let body = text;
  const tail: number[] = [];
  if (body.includes(".")) {
    const cut = body.lastIndexOf(":");
    const v4 = body.slice(cut + 1);
    if (cut < 0 || !DOTTED.test(v4)) return undefined;
    const o = v4.split(".").map(Number);
    tail.push(o[0]! * 256 + o[1]!, o[2]! * 256 + o[3]!);
    body = body.slice(0, cut + 1);
    // "::1.2.3.4" leaves "::"; "a:b:c:d:e:f:1.2.3.4" leaves "a:b:c:d:e:f:"
    if (!body.endsWith("::")) body = body.slice(0, -1);
  }
  const parts = body.split("::");
  if (parts.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(parts[0]!);
  const rest = parts.length === 2 ? groups(parts[1]!) : [];
  if (!head || !rest) return undefined;
  const known = head.length + rest.length + tail.length;
  if (parts.length === 2) {
    if (known > 7) return undefined;
    return [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail];
  }
  return known === 8 ? [...head, ...tail] : undefined;
}

/** How inet_ntop prints an address (RFC 5952; IPv4-mapped as `::ffff:a.b.c.d`). */
export function ntopForm(groups: readonly number[]): string {
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const a = groups[6]!;
    const b = groups[7]!;
    return `::ffff:${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/** Why `text` is not a usable gromox address, or undefined when it is one. */
function addressProblem(text: string, opts: { allowUnspecified: boolean; exactNtop: boolean }): string | undefined {
  if (text.includes("/")) {
    return `"${text}" is a network (CIDR); gromox takes individual addresses only ("No networks and no CIDR notations")`;
  }
  if (DOTTED.test(text)) {
    return `"${text}" is a bare IPv4 address; gromox uses AF_INET6 sockets: write ::ffff:${text}`;
  }
  const g = ipv6Groups(text);
  if (!g) return `"${text}" is not an RFC 4291 IPv6 address (no host names here)`;
  if (!opts.allowUnspecified && g.every((x) => x === 0)) {
    return `"${text}" is the unspecified address: it matches no peer and connects nowhere`;
  }
  if (opts.exactNtop && ntopForm(g) !== text) {
    return `"${text}" is not written as inet_ntop prints it ("${ntopForm(g)}"); gromox compares the strings, so it never matches`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------

const PORT = /^([1-9]\d{0,4})$/;
const isPort = (v: string) => PORT.test(v) && Number(v) <= 65535;
const BOOL = /^(true|false|yes|no|on|off|1|0)$/i;

function checkValue(file: string, key: string, value: string): string[] {
  const out: string[] = [];
  if (/_hosts_allow$/.test(key)) {
    if (value === "") return [`${key}: empty (gromox then allows only ::1); list the client addresses`];
    const entries = value.split(" ");
    if (entries.some((e) => e === "")) out.push(`${key}: entries must be separated by single spaces`);
    const seen = new Set<string>();
    for (const e of entries.filter((x) => x !== "")) {
      const p = addressProblem(e, { allowUnspecified: false, exactNtop: true });
      if (p) out.push(`${key}: ${p}`);
      if (seen.has(e)) out.push(`${key}: "${e}" listed twice`);
      seen.add(e);
    }
  } else if (key === "listen_ip" || /_listen_ip$/.test(key) || /_listen_addr$/.test(key)) {
    const p = addressProblem(value, { allowUnspecified: true, exactNtop: false });
    if (p) out.push(`${key}: ${p}`);
  } else if (key === "event_host" || key === "timer_host") {
    const p = addressProblem(value, { allowUnspecified: false, exactNtop: false });
    if (p) out.push(`${key}: ${p}`);
  } else if (file === "gromox.cfg" && /_listen(_tls)?$/.test(key)) {
    if (value === "") out.push(`${key}: empty bind list`);
    for (const spec of value.split(" ")) {
      if (spec.startsWith("unix:/")) continue;
      const m = /^\[([^\]]*)\]:(\d+)$/.exec(spec);
      if (!m) {
        out.push(`${key}: "${spec}" is not [address]:port or unix:/path (both address and port are required)`);
        continue;
      }
      const p = addressProblem(m[1]!, { allowUnspecified: true, exactNtop: false });
      if (p) out.push(`${key}: ${p}`);
      if (!isPort(m[2]!)) out.push(`${key}: "${m[2]}" is not a TCP port`);
    }
  } else if (/(^|_)port$/.test(key)) {
    if (!isPort(value)) out.push(`${key}: "${value}" is not a TCP port (1–65535)`);
  } else if (/_accept_haproxy$/.test(key) || key === "lda_support_haproxy") {
    if (value !== "0" && value !== "2") {
      out.push(`${key}: "${value}" — gromox knows 0 (no PROXY header) and 2 (PROXY v2); v1 is not accepted`);
    }
  } else if (/_support_tls$|_force_tls$|_support_starttls$|_force_starttls$/.test(key)) {
    if (!BOOL.test(value)) out.push(`${key}: "${value}" is not a boolean`);
  } else if (key === "outgoing_smtp_url") {
    const m = /^(smtp|smtps|sendmail):\/\/(\[[^\]]+\]|[^/:[\]]+)(:(\d+))?\/?$/.exec(value);
    if (!m) {
      out.push(`${key}: "${value}" is not smtp://host[:port] or sendmail://localhost`);
    } else {
      const host = m[2]!;
      if (DOTTED.test(host)) out.push(`${key}: bare IPv4 host "${host}"; use a host name or [::ffff:${host}]`);
      if (host.startsWith("[")) {
        const p = addressProblem(host.slice(1, -1), { allowUnspecified: false, exactNtop: false });
        if (p) out.push(`${key}: ${p}`);
      }
      if (m[4] !== undefined && !isPort(m[4])) out.push(`${key}: "${m[4]}" is not a TCP port`);
    }
  } else if (key === "host_id") {
    if (!/^[A-Za-z0-9.-]+$/.test(value)) out.push(`host_id: "${value}" holds characters not allowed in host names`);
  }
  return out;
}

/**
 * Directives whose value the user supplies, not the library: gromox reads it literally, so " #"
 * and quotes in it are the user's text (GRX028, GRX006 accept them), not a mistake of ours.
 */
export const USER_VALUE_KEYS: ReadonlySet<string> = new Set(["mysql_password", "x500_org_name"]);

/** C isspace() in the C/UTF-8 locales, as libHX's HX_isspace and postfix's ISSPACE see bytes. */
const C_SPACE = /[ \t\n\v\f\r]/;

/**
 * The directives gromox 2.30–3.10 reads from a `.cfg` text, modelled on grommunio/gromox
 * lib/rfbl.cpp `config_file_init` (docs/config-values.md): per line (HX_getl), CR/LF at the end
 * stripped (HX_chomp), trailing blanks stripped (HX_strrtrim); skipped when the line's first byte
 * is `#`; leading blanks skipped; the key runs to `=` or a blank; blanks, then `=` (else the line
 * is skipped), then blanks; the rest is the value; keys lower-cased, the last one wins. (The C
 * strings end at a NUL; our files hold none.)
 */
export function readGromoxCfg(content: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of content.split("\n")) {
    let line = raw.replace(/[\r\n]+$/, "");
    while (line.length > 0 && C_SPACE.test(line[line.length - 1]!)) line = line.slice(0, -1);
    if (line.startsWith("#")) continue;
    let p = 0;
    while (p < line.length && C_SPACE.test(line[p]!)) ++p;
    const keyBegin = p;
    while (p < line.length && line[p] !== "=" && !C_SPACE.test(line[p]!)) ++p;
    const key = line.slice(keyBegin, p);
    while (p < line.length && C_SPACE.test(line[p]!)) ++p;
    if (line[p] !== "=") continue;
    ++p;
    while (p < line.length && C_SPACE.test(line[p]!)) ++p;
    out.set(key.toLowerCase(), line.slice(p));
  }
  return out;
}

function checkKeyValueFile(name: string, lines: readonly string[]): string[] {
  const known = KNOWN_KEYS[name];
  const out: string[] = [];
  if (!known) return [`${name}: no table of known directives for this file name`];
  const seen = new Map<string, number>();
  lines.forEach((line, i) => {
    const at = `line ${i + 1}`;
    if (line === "" || line.startsWith("#")) return;
    if (/^\s+#/.test(line)) return void out.push(`${at}: comment not at the start of the line`);
    const eq = line.indexOf("=");
    if (eq < 0) return void out.push(`${at}: not a key=value line: "${line}"`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key !== key.trim() || value !== value.trimStart()) {
      out.push(`${at}: whitespace around "=" in "${line}"`);
    }
    if (value !== value.trimEnd()) out.push(`${at}: trailing whitespace`);
    const k = key.trim();
    if (!/^[a-z][a-z0-9_]*$/.test(k)) out.push(`${at}: key "${k}" is not lower-case letters, digits and _`);
    const v = value.trim();
    const lk = k.toLowerCase();
    if (!USER_VALUE_KEYS.has(lk)) {
      if (/\s#/.test(v)) {
        out.push(`${at}: trailing comment in "${line}" — gromox takes "${v}" as the value of ${k}`);
      }
      if (/^["']|["']$/.test(v)) out.push(`${at}: ${k} is quoted; gromox does not strip quotes`);
    }
    if (seen.has(lk)) out.push(`${at}: duplicate key ${k} (first on line ${seen.get(lk)}); the last one silently wins`);
    else seen.set(lk, i + 1);
    if (!known.includes(lk)) out.push(`${at}: unknown directive ${k} for ${name}`);
    for (const p of checkValue(name, lk, v)) out.push(`${at}: ${p}`);
  });
  return out;
}

function checkListFile(name: (typeof LIST_FILES)[number], lines: readonly string[]): string[] {
  const out: string[] = [];
  const columns = name === "midb_list.txt" ? 3 : 4;
  const prefixes: Array<{ prefix: string; line: number }> = [];
  lines.forEach((line, i) => {
    const at = `line ${i + 1}`;
    if (line === "" || line.startsWith("#")) return;
    const cols = line.trim().split(/[ \t]+/);
    if (cols.length !== columns) {
      return void out.push(
        `${at}: ${cols.length} columns; ${name} lines are ` +
          (columns === 3 ? "<prefix> <midb address> <port>" : "<prefix> private|public <exmdb address> <port>"),
      );
    }
    const [prefix, ...rest] = cols as [string, ...string[]];
    const address = rest[rest.length - 2]!;
    const port = rest[rest.length - 1]!;
    if (!prefix.startsWith("/")) out.push(`${at}: prefix "${prefix}" is not an absolute path`);
    if (!prefix.endsWith("/")) {
      out.push(`${at}: prefix "${prefix}" does not end in "/", so it also matches "${prefix}2/…" of another node`);
    }
    if (columns === 4 && rest[0] !== "private" && rest[0] !== "public") {
      out.push(`${at}: store type "${rest[0]}" is neither private nor public`);
    }
    if (address.length > 39) out.push(`${at}: address "${address}" is longer than 39 characters`);
    const p = addressProblem(address, { allowUnspecified: false, exactNtop: false });
    if (p) out.push(`${at}: ${p}`);
    if (!isPort(port)) out.push(`${at}: "${port}" is not a TCP port`);
    const earlier = prefixes.find((e) => prefix.startsWith(e.prefix));
    if (earlier) {
      out.push(
        earlier.prefix === prefix
          ? `${at}: prefix "${prefix}" repeats line ${earlier.line}`
          : `${at}: never used — line ${earlier.line}'s prefix "${earlier.prefix}" matches first`,
      );
    }
    prefixes.push({ prefix, line: i + 1 });
  });
  return out;
}

/**
 * Checks one gromox file by its path (the file name selects the rules). Returns the problems
 * found, each as a sentence; an empty array means the file passes.
 */
export function checkGromoxConfig(filePath: string, content: string): string[] {
  const name = path.posix.basename(filePath);
  const out: string[] = [];
  if (content.length === 0) return [`${name}: empty file`];
  if (!content.endsWith("\n")) out.push(`${name}: no newline at the end`);
  if (content.includes("\r")) out.push(`${name}: carriage return (CRLF line ends)`);
  if (content.includes("\t")) out.push(`${name}: tab character`);
  const lines = content.replace(/\n$/, "").split("\n");
  const problems = (LIST_FILES as readonly string[]).includes(name)
    ? checkListFile(name as (typeof LIST_FILES)[number], lines)
    : name.endsWith(".cfg")
      ? checkKeyValueFile(name, lines)
      : [`not a gromox configuration file name`];
  return [...out, ...problems.map((p) => `${name}: ${p}`)];
}
