/**
 * A typed model of the haproxy.cfg subset this library writes, and the ONE serializer that turns
 * it into text. Sections keep their directives in typed, ordered lists; the serializer emits them
 * in HAProxy's evaluation order (ACLs before every rule that uses them, `http-request` rules
 * before `redirect`, `use_backend` after both), so the ordering defects of the upstream
 * documentation (an ACL used before its declaration, a `redirect` before `http-request` rules)
 * cannot be expressed. It also refuses references to undeclared ACLs, backends and servers.
 */

/** `if <expr>` / `unless <expr>`; `expr` uses named ACLs, `!`, `or`, and anonymous `{ … }` ACLs. */
export interface Condition {
  readonly kind: "if" | "unless";
  readonly expr: string;
}

/** `if <expr>`. */
export function when(expr: string): Condition {
  return { kind: "if", expr };
}

/** `unless <expr>`. */
export function unless(expr: string): Condition {
  return { kind: "unless", expr };
}

/** A plain directive: `keyword arg…`; args with blanks or `#` are quoted by the serializer. */
export interface Directive {
  readonly keyword: string;
  readonly args?: readonly string[];
  readonly cond?: Condition;
  /** Comment lines written above the directive. */
  readonly comment?: readonly string[];
}

/** `acl <name> <criterion…>`. */
export interface Acl {
  readonly name: string;
  /** Fetch (with converters) followed by flags and patterns, e.g. `["path_beg", "-i", "/mapi"]`. */
  readonly criterion: readonly string[];
  readonly comment?: readonly string[];
}

/** A rule of a rule list (`tcp-request`, `http-request`, `redirect`, `http-response`): the words after the keyword. */
export interface Rule {
  readonly action: readonly string[];
  readonly cond?: Condition;
  readonly comment?: readonly string[];
}

export interface Bind {
  /** `:443`, `127.0.0.10:443`, `:::443`: the port follows the last colon. */
  readonly address: string;
  readonly params?: readonly string[];
}

export interface Server {
  readonly name: string;
  /** IPv4 literal or host name (resolved by HAProxy at start). */
  readonly address: string;
  /**
   * Undefined: `server <name> <address>`, which connects to the port the client connected to
   * (the destination of the client connection; with `accept-proxy`, the PROXY header's). Only
   * `omitImpliedServerPorts` leaves it out, where that port is the server's.
   */
  readonly port?: number;
  /** What differs per server; what all servers of the backend share is in `defaultServer`. */
  readonly params?: readonly string[];
}

export interface GlobalSection {
  readonly kind: "global";
  readonly directives: readonly Directive[];
}

export interface DefaultsSection {
  readonly kind: "defaults";
  readonly directives: readonly Directive[];
}

export interface FrontendSection {
  readonly kind: "frontend";
  readonly name: string;
  readonly mode: "http" | "tcp";
  readonly comment?: readonly string[];
  /** `option …`, `timeout …`, `maxconn …`. */
  readonly settings?: readonly Directive[];
  readonly binds: readonly Bind[];
  readonly acls?: readonly Acl[];
  /** `tcp-request …` rules (evaluated first). */
  readonly tcpRequest?: readonly Rule[];
  /** `http-request …` rules, in order. */
  readonly httpRequest?: readonly Rule[];
  /** `redirect …` rules (HAProxy evaluates them after all `http-request` rules). */
  readonly redirects?: readonly Rule[];
  readonly httpResponse?: readonly Rule[];
  readonly useBackends?: ReadonlyArray<{ readonly backend: string; readonly cond: Condition }>;
  readonly defaultBackend: string;
}

export interface BackendSection {
  readonly kind: "backend";
  readonly name: string;
  readonly mode: "http" | "tcp";
  readonly comment?: readonly string[];
  /** `balance`, `hash-type`, `option …`, `timeout …`, `cookie …`, `stick-table …`. */
  readonly settings?: readonly Directive[];
  /**
   * `default-server …`, written after the settings: every server option the backend's servers
   * share, so that a `server` line holds only its name, address, port and what differs per
   * server (the same lines in several backends then cost gzip almost nothing).
   */
  readonly defaultServer?: readonly string[];
  readonly acls?: readonly Acl[];
  /** `http-request …` rules of the backend, run after the frontend's, before `use-server`. */
  readonly httpRequest?: readonly Rule[];
  /**
   * `http-after-response …` rules: run after HAProxy's own response processing (cookie
   * insertion included), so a `Set-Cookie` added here is not taken for the server's and removed.
   */
  readonly httpAfterResponse?: readonly Rule[];
  /** `use-server <name-or-log-format> <cond>` rules, in order. */
  readonly useServers?: ReadonlyArray<{
    readonly server: string;
    readonly cond: Condition;
    readonly comment?: readonly string[];
  }>;
  /** `stick …` rules (`stick on`, `stick match`, `stick store-request`). */
  readonly stickRules?: readonly Directive[];
  readonly servers: readonly Server[];
}

export type Section = GlobalSection | DefaultsSection | FrontendSection | BackendSection;

export interface HaproxyConfig {
  /** Comment lines at the top of the file. */
  readonly header?: readonly string[];
  readonly sections: readonly Section[];
}

/** ACLs HAProxy predefines (configuration manual §7.4); usable without declaration. */
export const PREDEFINED_ACLS: ReadonlySet<string> = new Set([
  "FALSE",
  "HTTP",
  "HTTP_1.0",
  "HTTP_1.1",
  "HTTP_2.0",
  "HTTP_CONTENT",
  "HTTP_URL_ABS",
  "HTTP_URL_SLASH",
  "HTTP_URL_STAR",
  "LOCALHOST",
  "METH_CONNECT",
  "METH_DELETE",
  "METH_GET",
  "METH_HEAD",
  "METH_OPTIONS",
  "METH_POST",
  "METH_PUT",
  "METH_TRACE",
  "RDP_COOKIE",
  "REQ_CONTENT",
  "TRUE",
  "WAIT_END",
]);

/**
 * The named ACLs a condition refers to (anonymous `{ … }` ACLs and operators removed), in order
 * of appearance.
 */
export function aclNamesIn(expr: string): string[] {
  const names: string[] = [];
  let depth = 0;
  for (const raw of expr.trim().split(/\s+/)) {
    if (raw === "{") {
      depth++;
      continue;
    }
    if (raw === "}") {
      depth--;
      continue;
    }
    if (depth > 0 || raw === "" || raw === "or" || raw === "||" || raw === "!") continue;
    const name = raw.replace(/^!+/, "");
    if (name === "{") {
      depth++;
      continue;
    }
    if (name !== "") names.push(name);
  }
  if (depth !== 0) throw new Error(`unbalanced braces in condition "${expr}"`);
  return names;
}

const INDENT = "    ";

/** Characters that make an argument quoted. */
const NEEDS_QUOTES = /[\s#"'\\]/;
/** Characters no line may hold. */
const LINE_BREAK = /[\r\n\0]/;

/**
 * `arg` as one HAProxy word: bare when it holds nothing special, else in double quotes with `\`,
 * `"` and `$` escaped. HAProxy expands `$NAME`/`${NAME}` from the environment inside double
 * quotes (not in bare words) and refuses `$` before anything else ("forbidden first char in
 * environment variable name").
 */
function quote(arg: string): string {
  if (arg === "") return '""';
  if (!NEEDS_QUOTES.test(arg)) return arg;
  return `"${arg.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/** ` arg…` (each quoted as needed, a blank before each), or "" without arguments. */
function quotedArgs(args: readonly string[] | undefined): string {
  let out = "";
  if (args) for (const a of args) out += " " + quote(a);
  return out;
}

function condText(cond: Condition | undefined): string {
  return cond ? ` ${cond.kind} ${cond.expr.trim().split(/\s+/).join(" ")}` : "";
}

function checkLine(text: string): string {
  if (LINE_BREAK.test(text)) throw new Error(`haproxy.cfg line would contain a line break: ${JSON.stringify(text)}`);
  return text;
}

/**
 * The lines of one section, built by appending (the serializer writes a few hundred lines per
 * config: appending to one list instead of concatenating a list per directive).
 */
class Lines {
  public readonly lines: string[] = [];

  public add(line: string): void {
    this.lines.push(checkLine(line));
  }

  public comments(lines: readonly string[] | undefined, indent: string): void {
    if (lines) for (const c of lines) this.add(`${indent}# ${c}`.trimEnd());
  }

  public directive(d: Directive): void {
    this.comments(d.comment, INDENT);
    this.add(`${INDENT}${d.keyword}${quotedArgs(d.args)}${condText(d.cond)}`);
  }

  public directives(ds: readonly Directive[] | undefined): void {
    if (ds) for (const d of ds) this.directive(d);
  }

  public rules(keyword: string, rs: readonly Rule[] | undefined): void {
    if (!rs) return;
    for (const r of rs) {
      this.comments(r.comment, INDENT);
      this.add(`${INDENT}${keyword}${quotedArgs(r.action)}${condText(r.cond)}`);
    }
  }

  public acls(acls: readonly Acl[]): void {
    for (const a of acls) {
      this.comments(a.comment, INDENT);
      this.add(`${INDENT}acl ${a.name} ${a.criterion.map(quote).join(" ")}`);
    }
  }
}

/** Conditions of a section must only name ACLs declared in that section (or predefined ones). */
function checkConditions(section: string, declared: ReadonlySet<string>, conds: ReadonlyArray<Condition | undefined>) {
  for (const c of conds) {
    if (!c) continue;
    for (const name of aclNamesIn(c.expr)) {
      if (!declared.has(name) && !PREDEFINED_ACLS.has(name)) {
        throw new Error(`${section}: condition "${c.expr}" uses ACL "${name}", which is not declared in the section`);
      }
    }
  }
}

function declaredAcls(section: string, acls: readonly Acl[]): Set<string> {
  const set = new Set<string>();
  for (const a of acls) {
    if (!/^[A-Za-z0-9_.:-]+$/.test(a.name)) throw new Error(`${section}: invalid ACL name "${a.name}"`);
    set.add(a.name);
  }
  return set;
}

/** The conditions of some rules (or `use_backend`/`use-server` targets), appended to `out`. */
function condsOf(
  out: (Condition | undefined)[],
  rules: ReadonlyArray<{ readonly cond?: Condition }> | undefined,
): void {
  if (rules) for (const r of rules) out.push(r.cond);
}

function frontendLines(f: FrontendSection): string[] {
  const acls = f.acls ?? [];
  const declared = declaredAcls(`frontend ${f.name}`, acls);
  const conds: (Condition | undefined)[] = [];
  condsOf(conds, f.tcpRequest);
  condsOf(conds, f.httpRequest);
  condsOf(conds, f.redirects);
  condsOf(conds, f.httpResponse);
  condsOf(conds, f.useBackends);
  checkConditions(`frontend ${f.name}`, declared, conds);
  if (f.mode === "tcp" && ((f.httpRequest?.length ?? 0) > 0 || (f.redirects?.length ?? 0) > 0)) {
    throw new Error(`frontend ${f.name}: HTTP rules in a TCP frontend`);
  }
  if (f.binds.length === 0) throw new Error(`frontend ${f.name}: no bind line`);
  const out = new Lines();
  out.comments(f.comment, "");
  out.lines.push(`frontend ${f.name}`, `${INDENT}mode ${f.mode}`);
  out.directives(f.settings);
  for (const b of f.binds) out.add(`${INDENT}bind ${b.address}${quotedArgs(b.params)}`);
  out.acls(acls);
  out.rules("tcp-request", f.tcpRequest);
  out.rules("http-request", f.httpRequest);
  out.rules("redirect", f.redirects);
  out.rules("http-response", f.httpResponse);
  for (const u of f.useBackends ?? []) out.add(`${INDENT}use_backend ${u.backend}${condText(u.cond)}`);
  out.lines.push(`${INDENT}default_backend ${f.defaultBackend}`);
  return out.lines;
}

function backendLines(b: BackendSection): string[] {
  const acls = b.acls ?? [];
  const declared = declaredAcls(`backend ${b.name}`, acls);
  const conds: (Condition | undefined)[] = [];
  condsOf(conds, b.httpRequest);
  condsOf(conds, b.httpAfterResponse);
  condsOf(conds, b.useServers);
  condsOf(conds, b.stickRules);
  checkConditions(`backend ${b.name}`, declared, conds);
  const names = new Set<string>();
  for (const s of b.servers) {
    if (names.has(s.name)) throw new Error(`backend ${b.name}: server "${s.name}" is declared twice`);
    if (!/^[^\s#]+$/.test(s.name)) throw new Error(`backend ${b.name}: invalid server name "${s.name}"`);
    names.add(s.name);
  }
  for (const u of b.useServers ?? []) {
    // A log-format target (`%[…]`) is resolved at run time; a plain name must exist now.
    if (!u.server.includes("%[") && !names.has(u.server)) {
      throw new Error(`backend ${b.name}: use-server names unknown server "${u.server}"`);
    }
  }
  if (b.servers.length === 0) throw new Error(`backend ${b.name}: no server`);
  const defaults = b.defaultServer ?? [];
  for (const s of b.servers) {
    // HAProxy would start with the health checks of such a server disabled (a warning only).
    if (s.port !== undefined) continue;
    const has = (w: string): boolean => defaults.includes(w) || (s.params?.includes(w) ?? false);
    if (has("check") && !has("port")) {
      throw new Error(`backend ${b.name}: server "${s.name}" has neither a port nor a check port`);
    }
  }
  if (b.mode === "tcp" && ((b.httpAfterResponse?.length ?? 0) > 0 || (b.httpRequest?.length ?? 0) > 0))
    throw new Error(`backend ${b.name}: HTTP rules in TCP mode`);
  const out = new Lines();
  out.comments(b.comment, "");
  out.lines.push(`backend ${b.name}`, `${INDENT}mode ${b.mode}`);
  out.directives(b.settings);
  if (b.defaultServer) out.directive({ keyword: "default-server", args: b.defaultServer });
  out.acls(acls);
  out.rules("http-request", b.httpRequest);
  out.rules("http-after-response", b.httpAfterResponse);
  for (const u of b.useServers ?? []) {
    out.comments(u.comment, INDENT);
    out.add(`${INDENT}use-server ${u.server}${condText(u.cond)}`);
  }
  out.directives(b.stickRules);
  for (const s of b.servers) {
    out.add(`${INDENT}server ${s.name} ${s.address}${s.port === undefined ? "" : `:${s.port}`}${quotedArgs(s.params)}`);
  }
  return out.lines;
}

/**
 * Serializes a config. Throws (a programming error, not user input) when a condition names an
 * undeclared ACL, a `use_backend`/`default_backend` names a missing backend, a plain `use-server`
 * names a missing server, or a name is declared twice.
 */
export function serializeHaproxyConfig(config: HaproxyConfig): string {
  const proxies = new Set<string>();
  const backends = new Set<string>();
  for (const s of config.sections) {
    if (s.kind === "frontend" || s.kind === "backend") {
      if (proxies.has(s.name)) throw new Error(`section name "${s.name}" is used twice`);
      proxies.add(s.name);
      if (s.kind === "backend") backends.add(s.name);
    }
  }
  for (const s of config.sections) {
    if (s.kind !== "frontend") continue;
    if (!backends.has(s.defaultBackend))
      throw new Error(`frontend ${s.name} routes to missing backend "${s.defaultBackend}"`);
    for (const u of s.useBackends ?? []) {
      if (!backends.has(u.backend)) throw new Error(`frontend ${s.name} routes to missing backend "${u.backend}"`);
    }
  }
  const blocks: string[] = [];
  const header = new Lines();
  header.comments(config.header, "");
  if (header.lines.length > 0) blocks.push(header.lines.join("\n"));
  for (const s of config.sections) {
    switch (s.kind) {
      case "global":
      case "defaults": {
        const out = new Lines();
        out.lines.push(s.kind);
        out.directives(s.directives);
        blocks.push(out.lines.join("\n"));
        break;
      }
      case "frontend":
        blocks.push(frontendLines(s).join("\n"));
        break;
      case "backend":
        blocks.push(backendLines(s).join("\n"));
        break;
    }
  }
  return blocks.join("\n\n") + "\n";
}

/** The port of a bind address (`:993`, `127.0.0.10:993`, `:::993`: the digits after the last colon). */
export function bindPort(b: Bind): number {
  const m = /:(\d+)$/.exec(b.address);
  if (!m) throw new Error(`bind address "${b.address}" has no port`);
  return Number(m[1]);
}

/**
 * The sections with the port left out of the `server` lines of every backend where HAProxy
 * connects to that port anyway: a server without a port connects to the port the client
 * connected to (configuration manual, `server` address). That is the case when every `bind` of
 * every frontend routing to the backend (`default_backend`, `use_backend`) has exactly the
 * servers' port, and none has `accept-proxy` (the destination is then the PROXY header's, which
 * the sender chooses). The health checks then need a check `port`: it is added to
 * `default-server` unless there already. A backend whose checks an explicit check port would
 * change keeps its ports: HAProxy does not inherit TLS (`ssl`) or the PROXY header
 * (`send-proxy…`) for checks on an explicit port, so a backend with TLS or PROXY servers
 * qualifies only when its `default-server` already names a check port. Server lines of backends
 * that differed only by port become identical, which is what gzip rewards in user-data.
 */
export function omitImpliedServerPorts(sections: readonly Section[]): Section[] {
  const routing = new Map<string, FrontendSection[]>();
  for (const s of sections) {
    if (s.kind !== "frontend") continue;
    for (const b of new Set([s.defaultBackend, ...(s.useBackends ?? []).map((u) => u.backend)])) {
      routing.set(b, [...(routing.get(b) ?? []), s]);
    }
  }
  return sections.map((s) => {
    if (s.kind !== "backend") return s;
    const binds = (routing.get(s.name) ?? []).flatMap((f) => f.binds);
    if (binds.length === 0 || binds.some((b) => (b.params ?? []).includes("accept-proxy"))) return s;
    const ports = new Set([...binds.map(bindPort), ...s.servers.map((v) => v.port)]);
    if (ports.size !== 1) return s;
    const port = [...ports][0];
    if (port === undefined) return s;
    const defaults = s.defaultServer ?? [];
    const words = [...defaults, ...s.servers.flatMap((v) => v.params ?? [])];
    const checkPort = defaults.includes("port");
    if (!checkPort && words.some((w) => w === "port" || w === "ssl" || w.startsWith("send-proxy"))) return s;
    return {
      ...s,
      defaultServer: checkPort ? defaults : [...defaults, "port", String(port)],
      servers: s.servers.map((v) => ({ name: v.name, address: v.address, ...(v.params ? { params: v.params } : {}) })),
    };
  });
}
