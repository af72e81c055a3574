/**
 * `NodeProvisioning` → one `#cloud-config` document (cloud-init 22.4, Debian 12 / Ubuntu 24.04),
 * rendered with the `yaml` package as YAML 1.1 (what cloud-init's PyYAML reads, so `"0640"`,
 * `"yes"`, `"on"` stay strings). Deterministic: same input, same bytes.
 *
 * Module order on the node (cloud.cfg): bootcmd → write_files → … (init stage, network up);
 * `bootcmd` (every boot; stops at the first failure): the readiness report's unit, the pinned
 * accounts, the `boot` files (the OS mirror's sources of a node that installs its NFS client
 * here), NFS client, mounts, keys;
 * package-update-upgrade-install → write_files with `defer: true` → runcmd (written by the config
 * stage, run by scripts-user in the final stage; once; stops at the first failure).
 *
 * Key order: `hostname` … `bootcmd`, `apt`, `write_files`, `package_update`, `packages`, `runcmd`;
 * in the `none` form (gzipped whole) with tokens, the keys and `write_files` items that hold
 * Terraform tokens come last (`tokensLast`).
 *
 * Encoding of `write_files`:
 * - content without tokens: `gz+b64` computed here when that is at least a quarter smaller than
 *   the text, else the text itself (block scalar);
 * - content with Terraform tokens (secrets): base64 computed by Terraform (`b64`, or `gz+b64`
 *   via `base64gzip` when that is smaller), so no secret character can break the YAML and the
 *   rest of the document stays byte-for-byte deterministic;
 * - content with `pem` tokens (the tls provider's keys and certificates) and otherwise only `safe`
 *   ones: a JSON string made by Terraform (`jsonencode`), standing as a YAML double-quoted scalar
 *   (YAML's escapes include JSON's), about 3/4 of base64's length (or Terraform's `gz+b64` when
 *   the file form gzips it and that is smaller).
 */
import { Document, Pair, Scalar, YAMLMap, YAMLSeq, visit } from "yaml";
import { IssueCollector, ValidationIssue } from "../topology";
import { DataMount, NodeProvisioning, ProvisionCommand, ProvisionedFile, bootPackages } from "./model";
import { accountsBootcmd } from "./accounts";
import { readinessBootcmd } from "./readiness";
import { TokenRegistry, gzipDeterministicBase64, hasNonStringTokens, hasTokens, minBase64GzipLength } from "./tokens";

/** gz+b64 is used when its text is at most this fraction of the plain content. */
export const GZIP_WORTHWHILE = 0.75;

/** How long a block device may take to appear (the volume is attached after the machine starts). */
export const DEVICE_WAIT_SECONDS = 600;

/**
 * Mounts a block volume: waits for the device, formats it ONLY when `blkid -p` finds no signature
 * at all (exit 2), so a replaced node keeps its data, adds an fstab line by label, mounts.
 * Arguments: device, label, mount point. Runs on every boot (idempotent).
 */
export const BLOCK_MOUNT_SCRIPT = [
  'dev="$1"; label="$2"; dir="$3"; fresh=0; i=0',
  'while [ ! -b "$dev" ]; do',
  `  i=$((i+1)); if [ "$i" -gt ${DEVICE_WAIT_SECONDS} ]; then echo "grommunio: $dev did not appear" >&2; exit 1; fi`,
  "  sleep 1",
  "done",
  'blkid -p "$dev" >/dev/null 2>&1; rc=$?',
  'if [ "$rc" -eq 2 ]; then mkfs.ext4 -q -L "$label" "$dev"; fresh=1',
  'elif [ "$rc" -ne 0 ]; then echo "grommunio: cannot probe $dev (blkid exit $rc), not formatting" >&2; exit 1; fi',
  'mkdir -p "$dir"',
  'grep -q "^LABEL=$label " /etc/fstab || echo "LABEL=$label $dir ext4 defaults,nofail,x-systemd.device-timeout=600 0 2" >> /etc/fstab',
  'mountpoint -q "$dir" || mount "$dir"',
  'if [ "$fresh" -eq 1 ]; then rmdir "$dir/lost+found" 2>/dev/null || true; fi',
].join("\n");

/**
 * The first `bootcmd` entry: cloud-init writes the entries into one `/bin/sh` script and runs it
 * without `-e` (cc_bootcmd, `util.shellify`), so only the last entry's status counted and a mount
 * that failed before the key fetch left the node booting with its data on the root disk. With it,
 * the first failing entry stops the script and the module fails (cloud-init reports the error; the
 * readiness report shows it).
 */
export const BOOTCMD_STOP_ON_ERROR = "set -e";

/**
 * The first `runcmd` entry. cloud-init writes runcmd into one `/bin/sh` script as well (cc_runcmd,
 * `util.shellify`; scripts-user runs it in the final stage) without `-e`: a schema wait that timed
 * out, a firewall that refused its ruleset (`systemctl restart nftables`) or a store root that
 * could not be made was masked by the entries after it, and the services started anyway (without
 * their firewall, without a database). With it, the first failing step stops the script: nothing
 * after it runs, scripts-user fails, `cloud-init status` says error and the readiness report shows
 * the step's output. Every step is written for it (`ProvisionCommand.shell`: no `a && b` whose
 * `a` may fail unnoticed; a failure that is expected stands left of `||` or in a condition).
 */
export const RUNCMD_STOP_ON_ERROR = "set -e";

/** From this many services on, they are enabled and restarted in one step (`servicesSteps`). */
export const SERVICES_LOOP_FROM = 3;

/**
 * The services' `runcmd` steps: every service enabled, then restarted one at a time, in order
 * (dependency order: the firewall first). From SERVICES_LOOP_FROM services on, one step with the
 * list written once and a `for` loop over it (`servicesCommand`); with fewer, `systemctl enable`
 * and one entry per restart, which is as short in text and shorter once the document is gzipped
 * (the database node's two services). Both stop the same way under RUNCMD_STOP_ON_ERROR.
 */
export function servicesSteps(services: readonly string[]): string[] {
  if (services.length === 0) return [];
  if (services.length >= SERVICES_LOOP_FROM) return [servicesCommand(services)];
  return [`systemctl enable ${services.join(" ")}`, ...services.map((s) => `systemctl restart ${s}`)];
}

/**
 * One step that enables the services and restarts them one at a time, in order. A failing restart
 * stops the loop and the script (`set -e` holds inside a `for` body), so no service after it is
 * started, as with one entry per restart; the list is written once (one entry per restart costs
 * the user-data ~25 B per service more). Unit names hold no space or shell metacharacter
 * (systemd's unit name syntax), so `$s` splits into exactly the units.
 */
export function servicesCommand(services: readonly string[]): string {
  return `s="${services.join(" ")}"; systemctl enable $s; for u in $s; do systemctl restart $u; done`;
}

/**
 * Writes files in `bootcmd` (the `boot` stage: needed before `write_files` runs). Arguments: path,
 * mode, owner, content, for each file. Once per instance, as `write_files`.
 */
export const BOOT_FILES_SCRIPT =
  'set -e; while [ $# -gt 0 ]; do mkdir -p "${1%/*}"; printf %s "$4" >"$1"; chmod "$2" "$1"; chown "$3" "$1"; shift 4; done';

/** The `bootcmd` entry that writes the `boot` files (argv: cloud-init quotes every word). */
export function bootFilesCommand(files: readonly ProvisionedFile[]): string[] {
  return [
    "cloud-init-per",
    "instance",
    "grommunio-boot-files",
    "sh",
    "-c",
    BOOT_FILES_SCRIPT,
    "sh",
    ...files.flatMap((f) => [f.path, f.mode, f.owner, f.content]),
  ];
}

/** Mounts an NFS export (EFS, the NFS node): fstab line, then mount with retries. Args: source, dir, options. */
export const NFS_MOUNT_SCRIPT = [
  'src="$1"; dir="$2"; opts="$3"; i=0',
  'mkdir -p "$dir"',
  'grep -q " $dir nfs4 " /etc/fstab || echo "$src $dir nfs4 $opts 0 0" >> /etc/fstab',
  'until mountpoint -q "$dir" || mount "$dir"; do',
  '  i=$((i+1)); if [ "$i" -gt 120 ]; then echo "grommunio: cannot mount $src" >&2; exit 1; fi',
  "  sleep 5",
  "done",
].join("\n");

export interface RenderedCloudConfig {
  /** `#cloud-config` text; may hold cdktf token markers (literal `${` not yet escaped). */
  readonly text: string;
  /** Upper bound of the text's size in bytes once Terraform has resolved every token. */
  readonly maxBytes: number;
  readonly issues: readonly ValidationIssue[];
}

/** A `write_files` item's YAML and the bound of its size (`TokenRegistry.maxBytes`). */
interface ItemYaml {
  readonly text: string;
  readonly maxBytes: number;
}

interface WriteFile {
  path: string;
  owner: string;
  permissions: string;
  encoding?: "b64" | "gz+b64";
  content: string;
  defer?: boolean;
}

/**
 * How `write_files` contents are encoded: `per-file` gzips each file that shrinks by at least a
 * quarter (for platforms that take the document as text); `per-file-max` gzips every file that
 * shrinks at all (for large documents on such platforms); `none` ships files as text (the whole
 * document is compressed once instead, which also catches what files have in common) and puts
 * everything that holds a Terraform token at the end of the document (`tokensLast`), so that only
 * that end is gzipped by Terraform (user-data.ts).
 */
export type FileCompression = "per-file" | "per-file-max" | "none";

function writeFile(f: ProvisionedFile, tokens: TokenRegistry, compression: FileCompression): WriteFile {
  const base: WriteFile = { path: f.path, owner: f.owner, permissions: f.mode, content: f.content };
  const deferred = f.stage === "late" ? { defer: true } : {};
  const found = tokens.tokensIn(f.content);
  if (found.some((t) => t.facts.charset === "pem")) {
    // PEM texts of the tls provider (and safe tokens, printable literals): a JSON string made by
    // Terraform, standing as a YAML double-quoted scalar, about 3/4 of base64's length.
    const json = tokens.jsonString(f.content, f.path);
    if (json !== undefined) {
      if (compression !== "none") {
        const gz = tokens.base64Gzip(f.content, f.path);
        if (gz.maxLength < json.maxLength) return { ...base, encoding: "gz+b64", content: gz.value, ...deferred };
      }
      return { ...base, content: json.value, ...deferred };
    }
  }
  if (found.some((t) => t.facts.charset !== "safe")) {
    // Arbitrary characters (a password of the user's choosing): only ever inside base64 made by
    // Terraform, so no character can break the YAML.
    const b64 = tokens.base64(f.content, f.path);
    const gz = compression !== "none" ? tokens.base64Gzip(f.content, f.path) : undefined;
    return gz !== undefined && gz.maxLength < b64.maxLength
      ? { ...base, encoding: "gz+b64", content: gz.value, ...deferred }
      : { ...base, encoding: "b64", content: b64.value, ...deferred };
  }
  if (compression !== "none") {
    const raw = tokens.maxBytes(f.content);
    const worthwhile = compression === "per-file" ? GZIP_WORTHWHILE : 1;
    const limit = raw * worthwhile;
    // (no gzip where even the shortest possible one would not be shorter)
    if (limit > minBase64GzipLength(found.length > 0)) {
      if (found.length === 0) {
        const gz = cacheOf(tokens).gzipBase64(f.content);
        if (gz.length < limit) return { ...base, encoding: "gz+b64", content: gz, ...deferred };
      } else {
        const gz = tokens.base64Gzip(f.content, f.path);
        if (gz.maxLength < limit) return { ...base, encoding: "gz+b64", content: gz.value, ...deferred };
      }
    }
  }
  // Text (safe tokens, e.g. generated passwords of letters and digits, may stand in it).
  return { ...base, ...deferred };
}

function mountCommand(m: DataMount): string[] {
  return m.kind === "block"
    ? ["sh", "-c", BLOCK_MOUNT_SCRIPT, "grommunio-mount", m.device, m.label, m.mountPoint]
    : ["sh", "-c", NFS_MOUNT_SCRIPT, "grommunio-mount-nfs", m.source, m.mountPoint, m.options];
}

function commandLine(c: ProvisionCommand): string {
  return c.shell;
}

/** The cloud-config object (before YAML). Exposed for tests and other delivery layers. */
export function cloudConfigObject(
  p: NodeProvisioning,
  tokens: TokenRegistry,
  compression: FileCompression = "per-file",
): Record<string, unknown> {
  const { before, files, after } = cloudConfigParts(p);
  const items = files.map((f) => writeFile(f, tokens, compression));
  if (compression !== "none") return { ...before, write_files: items, ...after };
  const o = tokensLast(before, after, items, (item) => hasTokens(JSON.stringify(item)));
  return o ? { ...o.free, write_files: o.items, ...o.bearing } : { ...before, write_files: items, ...after };
}

/**
 * The order of the `none` form (the document gzipped whole, `buildUserData`) when anything in it
 * holds a Terraform token: the top-level keys without tokens, then `write_files` with its
 * token-free items first, then the keys with tokens. The token-free prefix of the text is then as
 * long as it can be (it is gzipped by the library, the tail by Terraform: `base64GzipTokensLast`).
 * Without any token, the usual order (keys before `write_files`, the items, the keys after). Key
 * order means nothing to cloud-init, and `write_files` items are written in order, each to its
 * own path.
 */
function tokensLast<T>(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  items: readonly T[],
  itemHasTokens: (item: T) => boolean,
): { free: Record<string, unknown>; items: T[]; bearing: Record<string, unknown> } | undefined {
  const bearing: Record<string, unknown> = {};
  const free: Record<string, unknown> = {};
  for (const [k, v] of Object.entries({ ...before, ...after })) {
    // (a token marker has no character JSON escapes: it stands in the JSON as in the value)
    if (hasTokens(k) || hasTokens(JSON.stringify(v))) bearing[k] = v;
    else free[k] = v;
  }
  const flags = items.map(itemHasTokens);
  if (Object.keys(bearing).length === 0 && !flags.includes(true)) return undefined;
  return {
    free,
    items: [...items.filter((_, i) => !flags[i]), ...items.filter((_, i) => flags[i])],
    bearing,
  };
}

/** The keys before `write_files`, the files (in document order, not yet encoded), the keys after. */
function cloudConfigParts(p: NodeProvisioning): {
  before: Record<string, unknown>;
  files: ProvisionedFile[];
  after: Record<string, unknown>;
} {
  const bootcmd: unknown[] = [];
  if (p.readinessReport) bootcmd.push(readinessBootcmd(p.readinessReport.device));
  // Before the NFS client's packages and the mounts: every package's accounts come after these.
  if (p.accounts?.length) bootcmd.push(accountsBootcmd(p.accounts));
  // (on-demand mounts are a first-boot step: `AUTOMOUNTS_PATH`)
  const atBoot = p.mounts.filter((m) => m.kind === "block" || !m.onDemand);
  const nfsPackages = bootPackages(p.mounts);
  // Before anything installs a package: cloud-init writes `write_files` only after bootcmd.
  const bootFiles = p.files.filter((f) => f.stage === "boot");
  if (bootFiles.length) bootcmd.push(bootFilesCommand(bootFiles));
  if (nfsPackages.length) {
    bootcmd.push([
      "cloud-init-per",
      "once",
      "grommunio-nfs-client",
      "sh",
      "-c",
      `apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${nfsPackages.join(" ")}`,
    ]);
  }
  for (const m of atBoot) bootcmd.push(mountCommand(m));
  for (const r of p.repositories) {
    if (r.armoredKey === undefined && r.keyUrl !== undefined && r.keyringPath !== undefined) {
      bootcmd.push([
        "cloud-init-per",
        "once",
        `grommunio-key-${r.name}`,
        "curl",
        "-fsSL",
        "--retry",
        "10",
        "-o",
        r.keyringPath,
        r.keyUrl,
      ]);
    }
  }
  // cloud-init runs the entries as one `/bin/sh` script without `-e`: a failed mount, account
  // check or key fetch would be masked by the entries after it (the status only sees the last).
  if (bootcmd.length) bootcmd.unshift(BOOTCMD_STOP_ON_ERROR);
  const before = p.commands.filter((c) => c.phase === "before-services").map(commandLine);
  const after = p.commands.filter((c) => c.phase === "after-services").map(commandLine);
  const runcmd: string[] = [
    RUNCMD_STOP_ON_ERROR,
    ...before,
    "systemctl daemon-reload",
    ...servicesSteps(p.services),
    ...after,
  ];
  const early = p.files.filter((f) => f.stage === "early");
  const late = p.files.filter((f) => f.stage === "late");
  return {
    before: {
      hostname: p.name,
      fqdn: p.fqdn,
      prefer_fqdn_over_hostname: true,
      // The hosts file is rendered (every node by its private address); cloud-init must not replace it.
      manage_etc_hosts: false,
      ...(bootcmd.length ? { bootcmd } : {}),
      // The OS's sources are the provisioned ones: cloud-init must not regenerate sources.list.
      ...(p.replacesOsSources ? { apt: { preserve_sources_list: true } } : {}),
    },
    files: [...early, ...late],
    after: {
      package_update: true,
      ...(p.packages.length ? { packages: [...p.packages] } : {}),
      runcmd,
    },
  };
}

/**
 * Per-registry memos of the renderer: the same file content is gzipped, and the same
 * `write_files` item serialized, for several nodes and for both compressions of one node's
 * document (buildUserData renders a document twice when its first form is large).
 */
class RenderCache {
  public constructor(private readonly tokens: TokenRegistry) {}

  private readonly gz = new Map<string, string>();
  /**
   * Item YAML by content, then by the item's other fields (`itemKey`): the content strings are the
   * same objects on every call (the files, the memoized gzip), so the lookup reuses their hash
   * instead of hashing a fresh JSON text of the whole item.
   */
  private readonly items = new Map<string, Map<string, ItemYaml>>();
  private readonly maps = new Map<string, string>();

  /** base64 of `gzipDeterministic(content)`. */
  public gzipBase64(content: string): string {
    let v = this.gz.get(content);
    if (v === undefined) {
      v = gzipDeterministicBase64(content);
      this.gz.set(content, v);
    }
    return v;
  }

  /** The YAML of an item already serialized (`itemsYaml`), or undefined. */
  public knownItem(item: WriteFile): ItemYaml | undefined {
    return this.items.get(item.content)?.get(itemKey(item));
  }

  /**
   * The YAML of `write_files` items as they stand in the document, under `write_files:` (every
   * non-empty line indented by the two columns a block sequence takes under a key: yaml's
   * indentSeq), with each one's bound. The items not yet known are serialized together, as one
   * root sequence (built from yaml nodes directly) cut into items by `splitRoot`: the items of a
   * block sequence serialize one by one, each the same wherever it stands (no alignment across
   * items; test/provision/cloud-init.test.ts compares with the whole document).
   */
  public itemsYaml(items: readonly WriteFile[]): ItemYaml[] {
    const out: ItemYaml[] = new Array<ItemYaml>(items.length);
    const missing: {
      at: number;
      byKey: Map<string, ItemYaml>;
      key: string;
      /** The head's pairs (path, owner, permissions), when they are one-line strings. */
      headKey: string | undefined;
      /** The head's YAML, when known: the item is serialized from its content on. */
      knownHead: string | undefined;
      /** How many pairs (lines) stand before the content. */
      lines: number;
    }[] = [];
    const seq = new YAMLSeq(DOCUMENT_OPTIONS.schema);
    items.forEach((item, at) => {
      let byKey = this.items.get(item.content);
      if (byKey === undefined) {
        byKey = new Map<string, ItemYaml>();
        this.items.set(item.content, byKey);
      }
      const key = itemKey(item);
      const known = byKey.get(key);
      if (known !== undefined) {
        out[at] = known;
        return;
      }
      // A block map's pairs serialize one by one, each the same wherever it stands (no alignment
      // across keys), and a one-line value is one line: the pairs before the content (path,
      // owner, permissions: the same for both forms of a document and for a file on every node
      // that has it) are the item's first lines, kept by their values; an item whose head is
      // known is serialized from its content on.
      const entries = Object.entries(item).filter(([, v]) => v !== undefined);
      const lines = entries.findIndex(([k]) => k === "content");
      const head = entries.slice(0, lines);
      const headKey =
        lines > 0 && head.every(([, x]) => typeof x === "string" && !/[\n\r]/.test(x))
          ? head.map(([k, x]) => `${k}\n${String(x)}`).join("\n")
          : undefined;
      const knownHead = headKey !== undefined ? this.heads.get(headKey) : undefined;
      const map = new YAMLMap(DOCUMENT_OPTIONS.schema);
      for (const [k, value] of knownHead !== undefined ? entries.slice(lines) : entries)
        map.items.push(new Pair(new Scalar(k), markedScalar(value as string | boolean, this.tokens)));
      seq.items.push(map);
      missing.push({ at, byKey, key, headKey, knownHead, lines });
    });
    if (missing.length === 0) return out;
    // (one by one should the cut not find them: never seen, but the bytes must not depend on it)
    const pieces =
      splitRoot(serialize(seq), missing.length) ?? seq.items.map((map) => serialize(oneItem(map as YAMLMap)));
    missing.forEach((m, i) => {
      let piece = pieces[i]!;
      // The tail's "- " stands where the head's next pair would: two columns in, under it.
      if (m.knownHead !== undefined) piece = m.knownHead + "  " + piece.slice(2);
      else if (m.headKey !== undefined) this.heads.set(m.headKey, piece.slice(0, lineEnd(piece, m.lines)));
      const text = indentLines(piece);
      const v = { text, maxBytes: this.tokens.maxBytes(text) };
      m.byKey.set(m.key, v);
      out[m.at] = v;
    });
    return out;
  }

  /** The first lines of items (`- path: …` to the last pair before `content`), by their pairs. */
  private readonly heads = new Map<string, string>();

  /**
   * The YAML of a top-level map (the keys before or after `write_files`, or the regrouped keys of
   * the `none` form), entry by entry: a root block map serializes key by key (no alignment across
   * keys), so its YAML is the concatenation of one-entry maps. Entries repeat far more than whole
   * maps do (the same `runcmd` and `packages` on every node of a role, the same keys in both forms
   * of a node's document, flags such as `package_update` everywhere), so each is serialized once.
   * The entries not yet known are serialized together, as one map (`splitRoot` cuts it into
   * entries): one yaml document per call instead of one per entry.
   */
  public mapYaml(obj: Record<string, unknown>): string {
    const texts: string[] = [];
    const missing: { at: number; key: string; k: string; value: unknown }[] = [];
    for (const [k, value] of Object.entries(obj)) {
      // (yaml leaves undefined values out of a map)
      if (value === undefined) continue;
      const key = JSON.stringify([k, value]);
      const v = this.maps.get(key);
      if (v === undefined) missing.push({ at: texts.length, key, k, value });
      texts.push(v ?? "");
    }
    // An empty map is `{}`, not nothing.
    if (texts.length === 0) return new Document(obj, DOCUMENT_OPTIONS).toString(TO_STRING_OPTIONS);
    if (missing.length > 0) {
      const map = new YAMLMap(DOCUMENT_OPTIONS.schema);
      const direct: typeof missing = [];
      for (const m of missing) {
        const node = yamlNode(m.value, this.tokens, new Set());
        if (node === undefined) {
          // (anything but strings, booleans, arrays and plain objects: yaml's own createNode)
          const doc = new Document({ [m.k]: m.value }, DOCUMENT_OPTIONS);
          if (hasTokens(m.key)) markTokenScalars(doc, this.tokens);
          this.maps.set(m.key, (texts[m.at] = doc.toString(TO_STRING_OPTIONS)));
        } else {
          map.items.push(new Pair(markedScalar(m.k, this.tokens), node));
          direct.push(m);
        }
      }
      if (direct.length > 0) {
        // (one by one should the cut not find them: never seen, but the bytes must not depend on it)
        const pieces = splitRoot(serialize(map), direct.length) ?? map.items.map((pair) => serialize(oneEntry(pair)));
        direct.forEach((m, i) => this.maps.set(m.key, (texts[m.at] = pieces[i]!)));
      }
    }
    return texts.join("");
  }
}

/**
 * The yaml node `createNode` makes of a plain value (strings, booleans, arrays, plain objects, as
 * `new Document(value)` would: no tag set, undefined map values left out), without its tag search
 * per value; token scalars marked (`markTokenScalars`). Undefined for anything else, or for an
 * object that stands twice (createNode would make an anchor and an alias).
 */
function yamlNode(value: unknown, tokens: TokenRegistry, seen: Set<object>): Scalar | YAMLSeq | YAMLMap | undefined {
  if (typeof value === "string" || typeof value === "boolean") return markedScalar(value, tokens);
  if (typeof value !== "object" || value === null || seen.has(value)) return undefined;
  seen.add(value);
  if (Array.isArray(value)) {
    const seq = new YAMLSeq(DOCUMENT_OPTIONS.schema);
    for (const v of value) {
      const node = yamlNode(v, tokens, seen);
      if (node === undefined) return undefined;
      seq.items.push(node);
    }
    return seq;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return undefined;
  const map = new YAMLMap(DOCUMENT_OPTIONS.schema);
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const node = yamlNode(v, tokens, seen);
    if (node === undefined) return undefined;
    map.items.push(new Pair(markedScalar(k, tokens), node));
  }
  return map;
}

/** A scalar, styled as `markTokenScalars` styles one that holds a token. */
function markedScalar(value: string | boolean, tokens: TokenRegistry): Scalar {
  const node = new Scalar(value);
  if (typeof value === "string" && hasTokens(value)) node.type = tokenScalarType(value, tokens);
  return node;
}

function oneItem(map: YAMLMap): YAMLSeq {
  const seq = new YAMLSeq(DOCUMENT_OPTIONS.schema);
  seq.items.push(map);
  return seq;
}

function oneEntry(pair: Pair): YAMLMap {
  const map = new YAMLMap(DOCUMENT_OPTIONS.schema);
  map.items.push(pair);
  return map;
}

/** A root collection's YAML (the document's options). */
function serialize(contents: YAMLMap | YAMLSeq): string {
  const doc = new Document(undefined, DOCUMENT_OPTIONS);
  doc.contents = contents;
  return doc.toString(TO_STRING_OPTIONS);
}

/**
 * The YAML of a root block collection cut before every line that starts in column 0: the items
 * of a root sequence (`- `), the entries of a root map (`key:`); everything inside them is
 * indented (empty lines aside). Undefined unless that makes `count` pieces (each item starts
 * such a line, so any other would make more).
 */
function splitRoot(text: string, count: number): string[] | undefined {
  const pieces: string[] = [];
  let from = 0;
  for (let nl = text.indexOf("\n"); nl >= 0 && nl + 1 < text.length; nl = text.indexOf("\n", nl + 1)) {
    const c = text.charCodeAt(nl + 1);
    if (c !== 0x20 && c !== 0x0a) {
      pieces.push(text.slice(from, nl + 1));
      from = nl + 1;
    }
  }
  pieces.push(text.slice(from));
  return pieces.length === count ? pieces : undefined;
}

/**
 * The JSON of an item with its content left out (a placeholder in its place, so the key order
 * counts as before): with the content, it identifies the item as `JSON.stringify(item)` would.
 * A token marker has no character JSON escapes or puts around strings, so `hasTokens` of the
 * item's JSON is `hasTokens` of the content or of this key.
 */
function itemKey(item: WriteFile): string {
  return JSON.stringify({ ...item, content: 0 });
}

/** Where the first `lines` lines of the text end (after their newline). */
function lineEnd(text: string, lines: number): number {
  let at = 0;
  for (let i = 0; i < lines; i++) at = text.indexOf("\n", at) + 1;
  return at;
}

/**
 * A lower bound of an item's YAML (`TokenRegistry.maxBytes`): under `write_files:`, each pair
 * takes a line of its own that starts with four columns (`  - ` or `    `), `key:` and a space,
 * and ends with a newline; each string stands in it whole after that, every character as itself
 * or longer (indentation, quotes, escapes), token markers intact (`valueLowerBound`).
 */
function itemLowerBound(item: WriteFile, tokens: TokenRegistry): number {
  let n = 0;
  for (const [k, v] of Object.entries(item)) {
    if (v === undefined) continue;
    n += pairLowerBound(k);
    if (typeof v === "string") n += valueLowerBound(v, tokens);
  }
  return n;
}

/** A pair's line without its value: four columns, `key: `, the newline. */
function pairLowerBound(key: string): number {
  return 4 + key.length + 2 + 1;
}

/**
 * A lower bound of a string's YAML inside an item: its characters, and one more for every line
 * break that a character other than a line break follows. In a block scalar that line is indented
 * (at least five columns under an item's key); a double-quoted scalar writes the break as `\n`,
 * a single-quoted or plain one as an empty line (two breaks).
 */
function valueLowerBound(value: string, tokens: TokenRegistry): number {
  let breaks = 0;
  for (let nl = value.indexOf("\n"); nl >= 0 && nl + 1 < value.length; nl = value.indexOf("\n", nl + 1)) {
    if (value.charCodeAt(nl + 1) !== 0x0a) breaks++;
  }
  return tokens.maxBytes(value) + breaks;
}

/**
 * A lower bound of a file's item in whichever encoding `writeFile` gives it (no gzip made): the
 * item's pairs with an empty content, plus the least of what the content can be: the text itself,
 * base64 (at least as many characters as the text, on one line) with an `encoding: b64` pair, or
 * the shortest gzip+base64 (`minBase64GzipLength`) with an `encoding: gz+b64` pair. A JSON string
 * made by Terraform is never shorter than the text (a line break is two characters in it, and it
 * has its quotes).
 */
function fileLowerBound(f: ProvisionedFile, tokens: TokenRegistry): number {
  const empty: WriteFile = { path: f.path, owner: f.owner, permissions: f.mode, content: "" };
  const deferred = f.stage === "late" ? pairLowerBound("defer") : 0;
  const text = valueLowerBound(f.content, tokens);
  const b64 = pairLowerBound("encoding") + "b64".length + tokens.maxBytes(f.content);
  const gz = pairLowerBound("encoding") + "gz+b64".length + minBase64GzipLength(false);
  return itemLowerBound(empty, tokens) + deferred + Math.min(text, b64, gz);
}

/** Every non-empty line prefixed with two spaces (lines split at "\n" only). */
function indentLines(text: string): string {
  let out = "";
  let from = 0;
  for (;;) {
    const nl = text.indexOf("\n", from);
    const end = nl < 0 ? text.length : nl;
    if (end > from) out += "  " + text.slice(from, end);
    if (nl < 0) return out;
    out += "\n";
    from = nl + 1;
  }
}

const caches = new WeakMap<TokenRegistry, RenderCache>();

function cacheOf(tokens: TokenRegistry): RenderCache {
  let c = caches.get(tokens);
  if (!c) {
    c = new RenderCache(tokens);
    caches.set(tokens, c);
  }
  return c;
}

// One schema for every document (a Document otherwise builds its own from the same options; the
// schema is only read while nodes are created and stringified).
const DOCUMENT_OPTIONS = { version: "1.1", schema: new Document(null, { version: "1.1" }).schema } as const;
// directives: false skips a walk over the whole document collecting tags for %TAG lines (none are
// written for this document: no custom tags, no explicit %YAML): the same bytes.
const TO_STRING_OPTIONS = { lineWidth: 0, blockQuote: "literal", directives: false } as const;

/**
 * Safe tokens only hold [A-Za-z0-9._:/@+=-]: in a block scalar (file contents) anything goes;
 * on one line, double quotes keep a value such as "1234" a string. A `json` token (a JSON string,
 * quotes included) is the scalar itself: written plain, it stands as a double-quoted scalar.
 *
 * Callers skip the walk when the value's JSON holds no token marker: a marker has no character
 * that JSON escapes or uses around strings, so it stands in the JSON exactly where it stands in a
 * string of the value.
 */
function markTokenScalars(doc: Document, tokens: TokenRegistry): void {
  visit(doc, {
    Scalar(_key, node: Scalar) {
      if (typeof node.value === "string" && hasTokens(node.value)) node.type = tokenScalarType(node.value, tokens);
    },
  });
}

function tokenScalarType(value: string, tokens: TokenRegistry): Scalar.Type {
  return tokens.isJsonToken(value) ? Scalar.PLAIN : value.includes("\n") ? Scalar.BLOCK_LITERAL : Scalar.QUOTE_DOUBLE;
}

/** GRX302 for a string that will stand in the document. */
function checkScalar(value: string, tokens: TokenRegistry, c: IssueCollector, path: string): void {
  if (hasNonStringTokens(value)) {
    c.add(
      "GRX302",
      path,
      "user-data",
      "a list or map Terraform value was rendered into text.",
      "Pass strings (Token.asString / Fn.join) to the renderers.",
    );
  }
  if (!hasTokens(value)) return;
  for (const t of tokens.tokensIn(value)) {
    // A JSON string made by Terraform is a whole scalar (a write_files content), nothing else.
    if (t.facts.charset === "json" && value === t.marker) continue;
    if (t.facts.charset !== "safe") {
      c.add(
        "GRX302",
        path,
        "user-data",
        `${t.facts.description} (arbitrary characters) would appear outside a file's content, where it could break the YAML or a shell command.`,
        'Only put such values (passwords) into file contents, which are base64-encoded by Terraform; declare ids and addresses with charset "safe".',
      );
    }
  }
}

/** Checks every string of a plain value (keys and values, in document order). */
function checkStrings(value: unknown, tokens: TokenRegistry, c: IssueCollector, path: string): void {
  if (typeof value === "string") checkScalar(value, tokens, c, path);
  else if (Array.isArray(value)) for (const v of value) checkStrings(v, tokens, c, path);
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      checkScalar(k, tokens, c, path);
      checkStrings(v, tokens, c, path);
    }
  }
}

/** The YAML of a top-level map (no key of it empty), scalars checked and marked. */
function mapYaml(obj: Record<string, unknown>, tokens: TokenRegistry, c: IssueCollector, path: string): string {
  checkStrings(obj, tokens, c, path);
  return cacheOf(tokens).mapYaml(obj);
}

/**
 * Renders the `#cloud-config` document and checks every token in it: tokens outside file contents
 * must be declared `safe` (GRX302); list/map tokens are never allowed (GRX302).
 *
 * The keys before `write_files`, the `write_files` items (memoized each) and the keys after it are
 * serialized by the `yaml` package separately and joined: the bytes of serializing the whole
 * object at once (block map at the root, no alignment across keys), for a fraction of the work.
 *
 * With `stopWhen`, the size bound is a lower bound of the document's that grows as the render goes
 * (the keys and every file at the least its item can be in any encoding, then item by item the
 * item made, by a lower bound of its YAML, then the items' YAML exactly) and the render stops,
 * returning undefined, as soon as `stopWhen(bound so far)` holds: a form that is already too large
 * for its purpose is not finished (nor its remaining files compressed), and never one that fits.
 * `stopWhen` must be monotonic (once true for a size, true for every larger one).
 */
export function renderCloudConfig(
  p: NodeProvisioning,
  tokens: TokenRegistry,
  path: string,
  compression?: FileCompression,
): RenderedCloudConfig;
export function renderCloudConfig(
  p: NodeProvisioning,
  tokens: TokenRegistry,
  path: string,
  compression: FileCompression,
  stopWhen: ((maxBytes: number) => boolean) | undefined,
): RenderedCloudConfig | undefined;
export function renderCloudConfig(
  p: NodeProvisioning,
  tokens: TokenRegistry,
  path: string,
  compression: FileCompression = "per-file",
  stopWhen?: (maxBytes: number) => boolean,
): RenderedCloudConfig | undefined {
  const c = new IssueCollector();
  const { before, files, after } = cloudConfigParts(p);
  if (files.length === 0) {
    const o = compression === "none" ? tokensLast(before, after, [], () => false) : undefined;
    const obj = o ? { ...o.free, write_files: [], ...o.bearing } : { ...before, write_files: [], ...after };
    const text = "#cloud-config\n" + mapYaml(obj, tokens, c, path);
    const maxBytes = tokens.maxBytes(text);
    return stopWhen?.(maxBytes) ? undefined : { text, maxBytes, issues: [...c.issues] };
  }
  // Token markers never span two parts (each ends with a newline), so the bound of the document
  // is the sum of the parts' bounds.
  const cache = cacheOf(tokens);
  const parts = ["#cloud-config\n", mapYaml(before, tokens, c, path), "write_files:\n"];
  const afterIssues = new IssueCollector();
  const afterYaml = mapYaml(after, tokens, afterIssues, path);
  const partsBytes = parts.reduce((n, part) => n + tokens.maxBytes(part), tokens.maxBytes(afterYaml));
  // With stopWhen, a file not yet made counts with a lower bound of its item in any encoding
  // (`fileLowerBound`, no gzip made), a file made with a lower bound of its item's YAML until the
  // items are serialized (together, below), or the YAML itself when it is known: the running bound
  // is a lower bound of the document's from the start (the stopWhen tests check that it only grows
  // and ends at the document's), so a form that will be thrown away stops after as few files as
  // can tell.
  const unmade = stopWhen ? files.map((f) => fileLowerBound(f, tokens)) : undefined;
  let maxBytes = unmade ? unmade.reduce((n, b) => n + b, partsBytes) : partsBytes;
  if (stopWhen?.(maxBytes)) return undefined;
  // With stopWhen, the items are made largest file first, by the bound of the content (tokens at
  // their maximum length; the sum is the same in any order): the bound passes the threshold after
  // the fewest items, and the small files left unmade are the ones whose cost is all per item
  // (a deflate set up for a few bytes, a YAML item), not per byte. Issues and items are then put
  // in document order.
  const order = files.map((_, i) => i);
  if (stopWhen) {
    const size = files.map((f) => tokens.maxBytes(f.content));
    order.sort((a, b) => size[b]! - size[a]! || a - b);
  }
  const written: WriteFile[] = new Array<WriteFile>(files.length);
  const itemIssues: (readonly ValidationIssue[])[] = new Array<readonly ValidationIssue[]>(files.length);
  for (const i of order) {
    const item = writeFile(files[i]!, tokens, compression);
    const ic = new IssueCollector();
    for (const v of Object.values(item)) if (typeof v === "string") checkScalar(v, tokens, ic, path);
    itemIssues[i] = ic.issues;
    written[i] = item;
    if (unmade) {
      const known = cache.knownItem(item);
      maxBytes += (known !== undefined ? known.maxBytes : itemLowerBound(item, tokens)) - unmade[i]!;
      if (stopWhen!(maxBytes)) return undefined;
    }
  }
  const yamls = cache.itemsYaml(written);
  maxBytes = yamls.reduce((n, y) => n + y.maxBytes, partsBytes);
  if (stopWhen?.(maxBytes)) return undefined;
  const items = yamls.map((y) => y.text);
  for (const issues of itemIssues) c.addAll(issues);
  c.addAll(afterIssues.issues);
  const o = compression === "none" ? tokensLast(before, after, items, hasTokens) : undefined;
  if (o) {
    // The same keys and items, regrouped (tokensLast): a root block map serializes key by key, so
    // the bound (a sum over the parts) is unchanged. The strings were checked above.
    const maps = (obj: Record<string, unknown>): string => (Object.keys(obj).length ? cache.mapYaml(obj) : "");
    const text = ["#cloud-config\n", maps(o.free), "write_files:\n", ...o.items, maps(o.bearing)].join("");
    return { text, maxBytes, issues: [...c.issues] };
  }
  return { text: [...parts, ...items, afterYaml].join(""), maxBytes, issues: [...c.issues] };
}
