/**
 * Helpers of the security tests: clusters of a given shape on AWS and Hetzner, the world-facing
 * rules of the synthesized JSON, user-data as a node receives it (Terraform expressions evaluated
 * with a resolver), and the port numbers that must never face the internet.
 */
import { gunzipSync } from "node:zlib";
import { TerraformStack, Testing } from "cdktf";
import { parse } from "yaml";
import {
  AdminNode,
  ClassicNode,
  Database,
  GromoxNode,
  GrommunioCluster,
  GrommunioClusterProps,
  GrommunioValidationError,
  LoadBalancerTier,
  LoadBalancerTierProps,
  Platform,
  ShareNothing,
  SharedStorage,
  isWorld,
} from "../../lib";
import "../../lib/platforms/hcloud";
import { INTERNAL_PORT_NUMBERS } from "../../lib/cluster/exposure";
import { Resolver, evaluateTemplate } from "../platforms/terraform-eval";

export type Json = Record<string, any>;

/** Ports that must never be open to 0.0.0.0/0 or ::/0: every internal one, the admin port, SSH. */
export const NEVER_WORLD: ReadonlySet<number> = new Set([...INTERNAL_PORT_NUMBERS, 8443, 22]);

/** A cluster shape the constructs can build on every platform (names give addresses and ids). */
export interface Shape {
  readonly mailbox: number;
  readonly classic: number;
  readonly lbs: number;
  readonly flavor: "haproxy" | "nginx";
  readonly storage: "shared" | "share-nothing";
  /** Where the admin API runs: on mail1, on a separate admin node, or nowhere. */
  readonly admin: "mail1" | "node" | "none";
  readonly nodeAwareRouting: boolean;
  readonly gromoxVersion: string;
}

export const EXAMPLE_SHAPE: Shape = {
  mailbox: 3,
  classic: 2,
  lbs: 2,
  flavor: "haproxy",
  storage: "share-nothing",
  admin: "mail1",
  nodeAwareRouting: true,
  gromoxVersion: "3.10",
};

export type PlatformName = "aws" | "hcloud";
type PlatformOf = GrommunioClusterProps["platform"];

/** Builds a cluster of `shape` on `platform` in a new stack (not yet synthesized). */
export function buildShape(
  platform: PlatformName,
  shape: Shape,
  props: Partial<GrommunioClusterProps> | ((stack: TerraformStack) => Partial<GrommunioClusterProps>) = {},
  tier: Partial<LoadBalancerTierProps> = {},
): { stack: TerraformStack; cluster: GrommunioCluster } {
  const app = Testing.app();
  const stack = new TerraformStack(app, `security-${platform}`);
  const extra = typeof props === "function" ? props(stack) : props;
  const chosen: PlatformOf =
    platform === "aws" ? Platform.aws({ region: "eu-central-1" }) : Platform.hcloud({ location: "fsn1" });
  const cluster = new GrommunioCluster(stack, "mail", {
    platform: chosen,
    domain: "example.com",
    gromoxVersion: shape.gromoxVersion,
    network: { cidr: "10.10.10.0/24" },
    storage: shape.storage === "shared" ? new SharedStorage() : new ShareNothing({ volumeSizeGb: 20 }),
    database: Database.onNode(),
    ...extra,
  });
  for (let i = 1; i <= shape.mailbox; i++)
    new GromoxNode(cluster, `mail${i}`, { admin: shape.admin === "mail1" && i === 1 });
  for (let i = 1; i <= shape.classic; i++) new ClassicNode(cluster, `classic${i}`);
  if (shape.admin === "node") new AdminNode(cluster, "admin1");
  new LoadBalancerTier(cluster, "lb", {
    flavor: shape.flavor,
    nodes: shape.lbs,
    nodeAwareRouting: shape.flavor === "haproxy" && shape.nodeAwareRouting,
    ...(shape.admin !== "none" ? { adminAllowFrom: ["203.0.113.0/24"] } : {}),
    ...tier,
  });
  return { stack, cluster };
}

/** Synthesizes `stack` (runs the cluster's finalizer) and parses the JSON. */
/** The validation error synth throws; fails the test when synth succeeds or throws another error. */
export function synthError(stack: TerraformStack): GrommunioValidationError {
  try {
    Testing.synth(stack);
  } catch (e) {
    if (e instanceof GrommunioValidationError) return e;
    throw e;
  }
  throw new Error("synth succeeded: a validation error was expected");
}

export function synthJson(stack: TerraformStack): Json {
  return JSON.parse(Testing.synth(stack)) as Json;
}

/** Inbound rules of the synthesized JSON that admit a world range: `[resource id, port]`. */
export function worldRules(json: Json): Array<{ id: string; port: number; source: string }> {
  const out: Array<{ id: string; port: number; source: string }> = [];
  for (const [id, r] of Object.entries<Json>(json.resource?.aws_vpc_security_group_ingress_rule ?? {})) {
    const source = r.cidr_ipv4 ?? r.cidr_ipv6;
    if (typeof source === "string" && isWorld(source)) {
      for (let p = r.from_port as number; p <= (r.to_port as number); p++) out.push({ id, port: p, source });
    }
  }
  for (const [id, fw] of Object.entries<Json>(json.resource?.hcloud_firewall ?? {})) {
    for (const rule of (fw.rule ?? []) as Json[]) {
      if (rule.direction !== "in" || rule.protocol !== "tcp") continue;
      const [from, to] = String(rule.port).split("-").map(Number);
      for (const source of (rule.source_ips ?? []) as string[]) {
        if (!isWorld(source)) continue;
        for (let p = from!; p <= (to ?? from!); p++) out.push({ id: `${id}:${fw.name}`, port: p, source });
      }
    }
  }
  return out;
}

/** The user-data text (cloud-config) of every machine of the JSON, by node name. */
export function userDataByNode(json: Json, resolve: Resolver): Map<string, string> {
  const out = new Map<string, string>();
  for (const inst of Object.values<Json>(json.resource?.aws_instance ?? {})) {
    const name = String(inst.tags["grommunio:node"]);
    if (typeof inst.user_data === "string") out.set(name, evaluateTemplate(inst.user_data, resolve));
    else {
      const bytes = Buffer.from(evaluateTemplate(inst.user_data_base64, resolve), "base64");
      out.set(name, (bytes[0] === 0x1f ? gunzipSync(bytes) : bytes).toString("utf8"));
    }
  }
  for (const s of Object.values<Json>(json.resource?.hcloud_server ?? {})) {
    const name = String(s.labels["grommunio-node"]);
    const text = evaluateTemplate(s.user_data, resolve);
    out.set(name, text.startsWith("#cloud-config") ? text : gunzipSync(Buffer.from(text, "base64")).toString("utf8"));
  }
  return out;
}

export interface DeliveredFile {
  readonly path: string;
  readonly owner: string;
  readonly permissions: string;
  readonly content: string;
}

/** The files of a cloud-config document, decoded. */
export function deliveredFiles(cloudConfig: string): { doc: Json; files: DeliveredFile[] } {
  const doc = parse(cloudConfig, { version: "1.1" }) as Json;
  const files = ((doc.write_files ?? []) as Json[]).map((f) => {
    const enc = f.encoding ?? "text/plain";
    const raw = String(f.content);
    const content =
      enc === "text/plain"
        ? raw
        : (enc.startsWith("gz") ? gunzipSync(Buffer.from(raw, "base64")) : Buffer.from(raw, "base64")).toString("utf8");
    return { path: String(f.path), owner: String(f.owner), permissions: String(f.permissions), content };
  });
  return { doc, files };
}
