/**
 * The "bare" side of the overhead benchmark: a plain cdktf stack that creates the same provider
 * resources as a library stack, with the same properties and the same user-data strings, and no
 * library logic.
 *
 * `planFromSynth` reads a synthesized `cdk.tf.json` of the library (captured once, at setup) and
 * turns every provider, resource and data source back into constructor config of its provider
 * class (`@cdktf/provider-aws/lib/<resource>`, the generated hcloud bindings, random): attribute
 * names back to camelCase, nested blocks as structs, maps (tags, labels) as they are. References
 * that are a whole string (`${aws_subnet.x.id}`) become real tokens of the referenced construct
 * (`getStringAttribute`), so cdktf resolves them as it does in the library stack; longer
 * expressions (the Terraform functions around user-data) stay literal strings, which cdktf passes
 * through unchanged. `buildBareStack` (the timed part) only creates the constructs, in dependency
 * order, with the same logical ids (top-level construct ids are used as they are).
 *
 * `comparableJson` strips cdktf's `//` metadata (construct paths) so both outputs can be compared:
 * the benchmark checks that they are identical before timing anything.
 */
import { Construct } from "constructs";
import { App, ITerraformDependable, TerraformStack } from "cdktf";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

/** A reference to patch into a config before construction. */
interface RefPatch {
  /** Property path inside the config object. */
  readonly path: ReadonlyArray<string | number>;
  /** `type.name` or `data.type.name`. */
  readonly target: string;
  readonly attribute: string;
}

interface PlanItem {
  readonly kind: "provider" | "resource" | "data";
  readonly tfType: string;
  /** Construct id (= the logical id for resources and data sources). */
  readonly id: string;
  /** `type.name` / `data.type.name` (what references name). */
  readonly key: string;
  readonly config: JsonObject;
  readonly refs: readonly RefPatch[];
  readonly dependsOn: readonly string[];
  readonly ctor: ConstructorOf;
}

type ConstructorOf = new (
  scope: Construct,
  id: string,
  config: Record<string, unknown>,
) => Construct & {
  getStringAttribute(attribute: string): string;
};

export interface BarePlan {
  readonly stackName: string;
  /** Providers first, then resources and data sources in dependency order. */
  readonly items: readonly PlanItem[];
}

/** Attributes that are maps (keys kept as they are), whatever their keys look like. */
const MAP_ATTRIBUTES = new Set(["tags", "tags_all", "labels", "keepers", "triggers", "default_tags"]);

const SNAKE = /^[a-z][a-z0-9_]*$/;
const WHOLE_REF = /^\$\{((?:data\.)?[A-Za-z0-9_]+\.[A-Za-z0-9_-]+)\.([a-z0-9_]+)\}$/;

function camel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function kebab(s: string): string {
  return s.replace(/_/g, "-");
}

/* eslint-disable @typescript-eslint/no-require-imports */
/** The generated hcloud bindings (TypeScript in lib/gen: bundled, loaded on first use). */
const HCLOUD_MODULES: Readonly<Record<string, () => Record<string, unknown>>> = {
  provider: () => require("../lib/gen/providers/hcloud/provider"),
  firewall: () => require("../lib/gen/providers/hcloud/firewall"),
  "firewall-attachment": () => require("../lib/gen/providers/hcloud/firewall-attachment"),
  "load-balancer": () => require("../lib/gen/providers/hcloud/load-balancer"),
  "load-balancer-network": () => require("../lib/gen/providers/hcloud/load-balancer-network"),
  "load-balancer-service": () => require("../lib/gen/providers/hcloud/load-balancer-service"),
  "load-balancer-target": () => require("../lib/gen/providers/hcloud/load-balancer-target"),
  network: () => require("../lib/gen/providers/hcloud/network"),
  "network-subnet": () => require("../lib/gen/providers/hcloud/network-subnet"),
  "placement-group": () => require("../lib/gen/providers/hcloud/placement-group"),
  "primary-ip": () => require("../lib/gen/providers/hcloud/primary-ip"),
  rdns: () => require("../lib/gen/providers/hcloud/rdns"),
  server: () => require("../lib/gen/providers/hcloud/server"),
  "server-network": () => require("../lib/gen/providers/hcloud/server-network"),
  "ssh-key": () => require("../lib/gen/providers/hcloud/ssh-key"),
  volume: () => require("../lib/gen/providers/hcloud/volume"),
  "volume-attachment": () => require("../lib/gen/providers/hcloud/volume-attachment"),
  "data-hcloud-image": () => require("../lib/gen/providers/hcloud/data-hcloud-image"),
  "data-hcloud-server-type": () => require("../lib/gen/providers/hcloud/data-hcloud-server-type"),
  "data-hcloud-ssh-key": () => require("../lib/gen/providers/hcloud/data-hcloud-ssh-key"),
};

/** Prebuilt provider packages, imported per resource (`<package>/lib/<resource>`). */
const PACKAGES: Readonly<Record<string, string>> = {
  aws: "@cdktf/provider-aws",
  random: "@cdktf/provider-random",
  tls: "@cdktf/provider-tls",
  cloudinit: "@cdktf/provider-cloudinit",
};

function loadModule(provider: string, file: string): Record<string, unknown> {
  if (provider === "hcloud") {
    const load = HCLOUD_MODULES[file];
    if (!load) throw new Error(`bench/bare: no generated hcloud binding ${file}`);
    return load();
  }
  const pkg = PACKAGES[provider];
  if (!pkg) throw new Error(`bench/bare: no provider package for "${provider}"`);
  return require(`${pkg}/lib/${file}`) as Record<string, unknown>;
}
/* eslint-enable @typescript-eslint/no-require-imports */

/** The provider class of a resource type, data source type or provider name. */
function classFor(kind: PlanItem["kind"], tfType: string): ConstructorOf {
  const provider = tfType.split("_")[0]!;
  const file =
    kind === "provider"
      ? "provider"
      : kind === "data"
        ? `data-${kebab(tfType)}`
        : kebab(tfType.slice(provider.length + 1));
  const mod = loadModule(provider, file);
  for (const value of Object.values(mod)) {
    if (typeof value !== "function") continue;
    const t = (value as { tfResourceType?: unknown }).tfResourceType;
    if (t === tfType) return value as unknown as ConstructorOf;
  }
  throw new Error(`bench/bare: no class with tfResourceType "${tfType}" in ${provider}/${file}`);
}

/** JSON value → constructor config value; whole-string references are recorded as patches. */
function toConfig(
  value: Json,
  path: Array<string | number>,
  refs: RefPatch[],
  keys: ReadonlySet<string>,
  keepKeys: boolean,
): Json {
  if (typeof value === "string") {
    const m = WHOLE_REF.exec(value);
    if (m && keys.has(m[1]!)) {
      refs.push({ path: [...path], target: m[1]!, attribute: m[2]! });
      return null;
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => toConfig(v, [...path, i], refs, keys, false));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value).filter(([k]) => k !== "//");
  const asMap = keepKeys || !entries.every(([k]) => SNAKE.test(k));
  const out: JsonObject = {};
  for (const [k, v] of entries) {
    const name = asMap ? k : camel(k);
    out[name] = toConfig(v, [...path, name], refs, keys, !asMap && MAP_ATTRIBUTES.has(k));
  }
  return out;
}

/** Turns a synthesized stack (`cdk.tf.json` of the library) into a bare-stack plan. */
export function planFromSynth(stackName: string, synthesized: JsonObject): BarePlan {
  const resources = (synthesized["resource"] ?? {}) as Record<string, Record<string, JsonObject>>;
  const data = (synthesized["data"] ?? {}) as Record<string, Record<string, JsonObject>>;
  const providers = (synthesized["provider"] ?? {}) as Record<string, JsonObject[]>;
  const keys = new Set<string>();
  for (const [t, byName] of Object.entries(resources)) for (const n of Object.keys(byName)) keys.add(`${t}.${n}`);
  for (const [t, byName] of Object.entries(data)) for (const n of Object.keys(byName)) keys.add(`data.${t}.${n}`);

  const items: PlanItem[] = [];
  for (const [name, blocks] of Object.entries(providers)) {
    blocks.forEach((block, i) => {
      const refs: RefPatch[] = [];
      const config = toConfig(block, [], refs, keys, false) as JsonObject;
      items.push({
        kind: "provider",
        tfType: name,
        id: blocks.length > 1 ? `${name}${i}` : name,
        key: `provider.${name}.${i}`,
        config,
        refs,
        dependsOn: [],
        ctor: classFor("provider", name),
      });
    });
  }
  const pending: PlanItem[] = [];
  const add = (kind: "resource" | "data", tfType: string, name: string, body: JsonObject): void => {
    const refs: RefPatch[] = [];
    const { depends_on: dependsOn, lifecycle, provider, count, for_each: forEach, ...attributes } = body;
    if (provider !== undefined || count !== undefined || forEach !== undefined) {
      throw new Error(
        `bench/bare: ${tfType}.${name} uses provider/count/for_each, which the bare plan does not rebuild`,
      );
    }
    const config = toConfig(attributes, [], refs, keys, false) as JsonObject;
    if (lifecycle !== undefined) config["lifecycle"] = toConfig(lifecycle, ["lifecycle"], refs, keys, false);
    const deps = ((dependsOn ?? []) as string[]).map((d) => {
      if (!keys.has(d)) throw new Error(`bench/bare: ${tfType}.${name} depends on unknown ${d}`);
      return d;
    });
    pending.push({
      kind,
      tfType,
      id: name,
      key: kind === "data" ? `data.${tfType}.${name}` : `${tfType}.${name}`,
      config,
      refs,
      dependsOn: deps,
      ctor: classFor(kind, tfType),
    });
  };
  for (const [t, byName] of Object.entries(data)) for (const [n, b] of Object.entries(byName)) add("data", t, n, b);
  for (const [t, byName] of Object.entries(resources))
    for (const [n, b] of Object.entries(byName)) add("resource", t, n, b);

  // Dependency order (Terraform configurations are acyclic).
  const byKey = new Map(pending.map((p) => [p.key, p]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (p: PlanItem): void => {
    if (done.has(p.key)) return;
    if (visiting.has(p.key)) throw new Error(`bench/bare: reference cycle at ${p.key}`);
    visiting.add(p.key);
    for (const k of [...p.refs.map((r) => r.target), ...p.dependsOn]) visit(byKey.get(k)!);
    visiting.delete(p.key);
    done.add(p.key);
    items.push(p);
  };
  for (const p of pending) visit(p);
  return { stackName, items };
}

function setAt(obj: JsonObject, path: ReadonlyArray<string | number>, value: unknown): void {
  let cur: unknown = obj;
  for (let i = 0; i < path.length - 1; i++) cur = (cur as Record<string | number, unknown>)[path[i]!];
  (cur as Record<string | number, unknown>)[path[path.length - 1]!] = value;
}

/**
 * Creates the bare stack in `app` (the timed part): every construct with its config, references
 * as tokens of the constructs created before it.
 */
export function buildBareStack(app: App, plan: BarePlan): TerraformStack {
  const stack = new TerraformStack(app, plan.stackName);
  const created = new Map<string, Construct & { getStringAttribute(attribute: string): string }>();
  for (const item of plan.items) {
    const config: Record<string, unknown> = item.config;
    for (const r of item.refs) setAt(item.config, r.path, created.get(r.target)!.getStringAttribute(r.attribute));
    if (item.dependsOn.length > 0) {
      config["dependsOn"] = item.dependsOn.map((d) => created.get(d)! as unknown as ITerraformDependable);
    }
    created.set(item.key, new item.ctor(stack, item.id, config));
  }
  return stack;
}

/** The synthesized JSON without cdktf's `//` metadata (construct paths differ between the two stacks). */
export function comparableJson(value: Json): Json {
  if (Array.isArray(value)) return value.map(comparableJson);
  if (value === null || typeof value !== "object") return value;
  const out: JsonObject = {};
  for (const k of Object.keys(value).sort()) if (k !== "//") out[k] = comparableJson(value[k]!);
  return out;
}

/** The first path where two JSON values differ (undefined when equal). */
export function firstDifference(a: Json, b: Json, path = "$"): string | undefined {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || (a === null) !== (b === null)) {
    return `${path}: ${JSON.stringify(a)?.slice(0, 200)} vs ${JSON.stringify(b)?.slice(0, 200)}`;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i]!, b[i]!, `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    if (ka.join("\0") !== kb.join("\0")) return `${path}: keys ${ka.join(",")} vs ${kb.join(",")}`;
    for (const k of ka) {
      const d = firstDifference((a as JsonObject)[k]!, (b as JsonObject)[k]!, `${path}.${k}`);
      if (d) return d;
    }
    return undefined;
  }
  return a === b ? undefined : `${path}: ${JSON.stringify(a)?.slice(0, 200)} vs ${JSON.stringify(b)?.slice(0, 200)}`;
}

export type { Json, JsonObject };
