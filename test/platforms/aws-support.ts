/**
 * Test helpers for AWS clusters: build a cluster in a fresh stack, synthesize it, and read the
 * resources back by type and by construct path.
 */
import { gunzipSync } from "node:zlib";
import { App, TerraformStack, Testing } from "cdktf";
import { parse } from "yaml";
import {
  AwsDeployment,
  AwsPlatformProps,
  ClassicNode,
  Database,
  GromoxNode,
  GrommunioCluster,
  GrommunioClusterProps,
  LoadBalancerTier,
  Platform,
  ShareNothing,
} from "../../lib";
import { instanceUserData } from "./terraform-eval";

export type Json = Record<string, any>;

export interface Synthesized {
  readonly stack: TerraformStack;
  readonly cluster: GrommunioCluster<AwsDeployment>;
  readonly json: Json;
}

export type ClusterOverrides = Partial<GrommunioClusterProps<AwsDeployment>>;

/** A cluster on AWS in a new stack; `build` adds nodes. Synthesizes (runs the finalizer). */
export function synthAws(
  build: (cluster: GrommunioCluster<AwsDeployment>) => void,
  overrides: ClusterOverrides = {},
  aws: AwsPlatformProps = {},
): Synthesized {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  const cluster = new GrommunioCluster(stack, "mail", {
    platform: Platform.aws(aws),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    storage: new ShareNothing({ volumeSizeGb: 200 }),
    database: Database.onNode(),
    ...overrides,
  });
  build(cluster);
  const json = JSON.parse(Testing.synth(stack)) as Json;
  return { stack, cluster, json };
}

/** Only builds (no synth): for tests that expect synth to throw. */
export function buildAws(
  build: (cluster: GrommunioCluster<AwsDeployment>) => void,
  overrides: ClusterOverrides = {},
  aws: AwsPlatformProps = {},
): { app: App; stack: TerraformStack; cluster: GrommunioCluster<AwsDeployment> } {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  const cluster = new GrommunioCluster(stack, "mail", {
    platform: Platform.aws(aws),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    storage: new ShareNothing({ volumeSizeGb: 200 }),
    database: Database.onNode(),
    ...overrides,
  });
  build(cluster);
  return { app, stack, cluster };
}

/** The example's layout: mail1 (with admin), mail2, mail3, classic1, classic2, 2 HAProxy, db1. */
export function exampleLayout(cluster: GrommunioCluster<AwsDeployment>, mailboxes = ["mail1", "mail2", "mail3"]): void {
  for (const n of mailboxes) new GromoxNode(cluster, n, { admin: n === "mail1" });
  new ClassicNode(cluster, "classic1");
  new ClassicNode(cluster, "classic2");
  new LoadBalancerTier(cluster, "lb", {
    flavor: "haproxy",
    nodes: 2,
    nodeAwareRouting: true,
    adminAllowFrom: ["203.0.113.0/24"],
  });
}

/** Resources of one type, as [logical id, block] pairs. */
export function resources(json: Json, type: string): [string, Json][] {
  return Object.entries((json.resource?.[type] ?? {}) as Record<string, Json>);
}

/** The one resource of `type` whose logical id starts with the construct path (slashes → `_`). */
export function resourceAt(json: Json, type: string, path: string): Json {
  const prefix = path.replace(/\//g, "_") + "_";
  const found = resources(json, type).filter(([id]) => id.startsWith(prefix));
  if (found.length !== 1)
    throw new Error(
      `${found.length} ${type} at ${path}: ${resources(json, type)
        .map(([i]) => i)
        .join(", ")}`,
    );
  return found[0]![1];
}

/** Logical id of the resource at `path`. */
export function logicalIdAt(json: Json, type: string, path: string): string {
  const prefix = path.replace(/\//g, "_") + "_";
  const found = resources(json, type).filter(([id]) => id.startsWith(prefix));
  if (found.length !== 1) throw new Error(`${found.length} ${type} at ${path}`);
  return found[0]![0];
}

/** The node's instance. */
export function instanceOf(json: Json, nodePath: string): Json {
  return resourceAt(json, "aws_instance", `mail/${nodePath}/instance`);
}

/** The decoded, parsed cloud-config a node receives. */
export function cloudConfigOf(json: Json, nodePath: string): { text: string; config: Json } {
  const text = instanceUserData(instanceOf(json, nodePath));
  return { text, config: parse(text) as Json };
}

/** A bundle entry (`lib/provision/bundle.ts`). */
export interface BundleFile {
  readonly path: string;
  readonly owner: string;
  readonly mode: string;
  readonly content: string;
}

/** The node's bundle in the file bucket (`aws_s3_object` keyed `nodes/<node>/…`), or undefined. */
export function bundleOf(json: Json, node: string): { key: string; document: string; files: BundleFile[] } | undefined {
  const found = resources(json, "aws_s3_object").filter(([, o]) => String(o.key).startsWith(`nodes/${node}/`));
  if (found.length > 1) throw new Error(`${found.length} bundles of ${node}`);
  const object = found[0]?.[1];
  if (!object) return undefined;
  // Terraform's template escapes undone (a bundle holds no reference).
  const document = String(object.content)
    .replace(/\$\$\{/g, "${")
    .replace(/%%\{/g, "%{");
  return { key: String(object.key), document, files: (JSON.parse(document) as { files: BundleFile[] }).files };
}

/**
 * What the node ends up with: its cloud-config with the files of its bundle (fetched at first
 * boot) added to `write_files` as late text entries, so `decodedFile` finds them too.
 */
export function receivedConfigOf(json: Json, nodePath: string): { text: string; config: Json } {
  const { text, config } = cloudConfigOf(json, nodePath);
  const bundle = bundleOf(json, nodePath.split("/").pop()!);
  const extra = (bundle?.files ?? []).map((f) => ({
    path: f.path,
    owner: f.owner,
    permissions: f.mode,
    content: f.content,
    defer: true,
  }));
  return { text, config: { ...config, write_files: [...((config.write_files as Json[]) ?? []), ...extra] } };
}

/** A write_files entry, decoded. */
export function decodedFile(config: Json, path: string): { entry: Json; content: string } {
  const entry = (config.write_files as Json[]).find((f) => f.path === path);
  if (!entry) throw new Error(`no write_files entry ${path}`);
  const raw = String(entry.content);
  const content =
    entry.encoding === "gz+b64"
      ? gunzipSync(Buffer.from(raw, "base64")).toString("utf8")
      : entry.encoding === "b64"
        ? Buffer.from(raw, "base64").toString("utf8")
        : raw;
  return { entry, content };
}
