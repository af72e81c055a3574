/**
 * Every node of every example stack (`examples/main.ts` `buildExamples`), with what its platform
 * hands the machine: user-data exactly as cloud-init receives it (Terraform expressions evaluated
 * with fake secrets, ids and TLS material from `terraform-eval.ts`, transport encodings undone,
 * a gzip body un-gzipped the way cloud-init does it), or, on platforms without cloud-init (Docker),
 * the uploaded files. Stacks and nodes are discovered, never listed: a new example is picked up by
 * `buildExamples` alone.
 *
 * Where each platform puts it is one entry of `EXTRACTORS` (keyed by `Platform.name`). A platform
 * without an entry is reported as an error naming it, never skipped.
 */
import { gunzipSync } from "node:zlib";
import { Testing, TerraformStack } from "cdktf";
import { buildExamples } from "../../examples/main";
import { GrommunioCluster } from "../../lib";
import { evaluateTemplate } from "../platforms/terraform-eval";
import { libvirtSeeds, stackResolver, vsphereGuests } from "../platforms/vm-support";

/** A file a platform places into the machine directly (Docker `upload` blocks). */
export interface UploadedFile {
  readonly path: string;
  readonly content: Buffer;
  /** Octal mode as uploaded, e.g. "0640". */
  readonly permissions: string;
}

/** What one node receives: user-data, or files. */
export type Delivered =
  | {
      readonly kind: "user-data";
      /** The bytes cloud-init reads: transport encodings undone, gzip still applied if used. */
      readonly bytes: Buffer;
      /** Size in the platform's counting unit (`UserDataFacts.countedAs`) of what Terraform sends. */
      readonly deliveredBytes: number;
      /** Where it lives, e.g. `aws_instance.user_data_base64`. */
      readonly field: string;
    }
  | { readonly kind: "files"; readonly files: readonly UploadedFile[]; readonly field: string };

type Extractor = (json: any) => Map<string, Delivered>;

const utf8 = (s: string) => Buffer.from(s, "utf8");

/** How each platform delivers a node's configuration in the synthesized JSON, keyed by `Platform.name`. */
export const EXTRACTORS: Readonly<Record<string, Extractor>> = {
  // user_data (text, counted raw) or user_data_base64 (binary gzip; AWS counts the decoded bytes).
  aws: (json) => {
    const out = new Map<string, Delivered>();
    const resolve = stackResolver(json);
    for (const inst of Object.values<any>(json.resource?.aws_instance ?? {})) {
      const node = String(inst.tags?.["grommunio:node"]);
      const text = typeof inst.user_data === "string";
      const value = evaluateTemplate(text ? inst.user_data : inst.user_data_base64, resolve);
      const bytes = text ? utf8(value) : Buffer.from(value, "base64");
      const field = `aws_instance.${text ? "user_data" : "user_data_base64"}`;
      out.set(node, { kind: "user-data", bytes, deliveredBytes: bytes.length, field });
    }
    return out;
  },
  // user_data is a JSON string: `#cloud-config` text, or base64 of gzip (the datasource decodes it).
  hcloud: (json) => {
    const out = new Map<string, Delivered>();
    for (const server of Object.values<any>(json.resource?.hcloud_server ?? {})) {
      const text = evaluateTemplate(server.user_data, stackResolver(json));
      out.set(String(server.labels?.["grommunio-node"]), {
        kind: "user-data",
        bytes: text.startsWith("#cloud-config") ? utf8(text) : Buffer.from(text, "base64"),
        deliveredBytes: Buffer.byteLength(text),
        field: "hcloud_server.user_data",
      });
    }
    return out;
  },
  // The NoCloud seed ISO's user-data file (text; the node is the seed's local-hostname).
  libvirt: (json) => {
    const out = new Map<string, Delivered>();
    for (const seed of libvirtSeeds(json).values()) {
      const bytes = utf8(seed.userData);
      out.set(seed.node, {
        kind: "user-data",
        bytes,
        deliveredBytes: bytes.length,
        field: "libvirt_cloudinit_disk.user_data",
      });
    }
    return out;
  },
  // extra_config guestinfo.userdata with guestinfo.userdata.encoding (gzip+base64 / base64 / none).
  vsphere: (json) => {
    const out = new Map<string, Delivered>();
    const resolve = stackResolver(json);
    for (const guest of vsphereGuests(json, resolve).values()) {
      const ec = guest.resource.extra_config as Record<string, string>;
      const value = evaluateTemplate(ec["guestinfo.userdata"]!, resolve);
      const encoding = ec["guestinfo.userdata.encoding"];
      out.set(guest.node, {
        kind: "user-data",
        bytes: encoding === "gzip+base64" || encoding === "base64" ? Buffer.from(value, "base64") : utf8(value),
        deliveredBytes: Buffer.byteLength(value),
        field: `vsphere_virtual_machine.extra_config["guestinfo.userdata"] (${encoding ?? "plain"})`,
      });
    }
    return out;
  },
  // No cloud-init: docker_container upload blocks (content or content_base64, permissions); the
  // node is the container's grommunio-node label.
  docker: (json) => {
    const out = new Map<string, Delivered>();
    const resolve = stackResolver(json);
    for (const c of Object.values<any>(json.resource?.docker_container ?? {})) {
      const labels = (c.labels ?? []) as Array<{ label: string; value: string }>;
      const node = labels.find((l) => l.label === "grommunio-node")?.value;
      if (node === undefined) continue;
      const files = ((c.upload ?? []) as any[]).map((u) => ({
        path: String(u.file),
        content:
          u.content !== undefined
            ? utf8(evaluateTemplate(u.content, resolve))
            : Buffer.from(evaluateTemplate(u.content_base64, resolve), "base64"),
        permissions: String(u.permissions ?? (u.executable ? "0755" : "0644")),
      }));
      out.set(node, { kind: "files", files, field: "docker_container.upload" });
    }
    return out;
  },
};

/**
 * Where a platform's secret store keeps a value, for the first-boot fetch step (secrets.ts
 * manifests): location (e.g. an SSM parameter name) → the value Terraform puts there. Keyed by
 * `Platform.name`; needed only by platforms that deliver secrets from a store.
 */
export const SECRET_STORES: Readonly<Record<string, (json: any, location: string) => string>> = {
  aws: (json, location) => {
    const param = Object.values<any>(json.resource?.aws_ssm_parameter ?? {}).find((p) => p.name === location);
    if (!param) throw new Error(`no aws_ssm_parameter named ${location}`);
    return evaluateTemplate(param.value, stackResolver(json));
  },
};

/** One file of a node's bundle (lib/provision/bundle.ts). */
export interface BundledFile {
  readonly path: string;
  readonly owner: string;
  readonly mode: string;
  readonly content: string;
}

/**
 * Where a platform's file store keeps a node's bundle (the files its first-boot fetch writes),
 * keyed by `Platform.name`; undefined for a node without one. Needed only by platforms whose
 * deployment offers a file store.
 */
export const FILE_STORES: Readonly<
  Record<string, (json: any, node: string) => { key: string; document: string; files: BundledFile[] } | undefined>
> = {
  aws: (json, node) => {
    const object = Object.values<any>(json.resource?.aws_s3_object ?? {}).find((o) =>
      String(o.key).startsWith(`nodes/${node}/`),
    );
    if (!object) return undefined;
    // A bundle holds no Terraform reference: only the template escapes are undone.
    const document = String(object.content)
      .replace(/\$\$\{/g, "${")
      .replace(/%%\{/g, "%{");
    return { key: String(object.key), document, files: (JSON.parse(document) as { files: BundledFile[] }).files };
  },
};

export interface ExampleNode {
  readonly stack: string;
  readonly platform: string;
  readonly cluster: GrommunioCluster;
  readonly node: string;
  /** What cloud-init parses (gzip undone: cloud-init un-gzips transparently); undefined for files. */
  readonly userData?: Buffer;
  /** The uploaded files, where the platform has no cloud-init. */
  readonly uploads?: readonly UploadedFile[];
  /** The bundle the node fetches from its platform's file store at first boot (FILE_STORES). */
  readonly bundle?: { readonly key: string; readonly document: string; readonly files: readonly BundledFile[] };
  /** True when the delivered user-data was gzip. */
  readonly gzip: boolean;
  readonly field: string;
  /** User-data only: size as the platform counts it, its limit, and the synth-time upper bound. */
  readonly deliveredBytes?: number;
  readonly limitBytes?: number;
  readonly boundBytes?: number;
  /** The value the platform's secret store holds at `location` (throws where there is no store). */
  secretValue(location: string): string;
}

export interface ExampleStack {
  readonly stack: string;
  readonly platforms: readonly string[];
  readonly nodes: readonly ExampleNode[];
  /** Why the nodes could not be read (unknown platform, missing or extra nodes). */
  readonly errors: readonly string[];
}

/** Builds every example, synthesizes each stack and reads what every node receives. */
export function exampleStacks(): ExampleStack[] {
  const app = Testing.app();
  buildExamples(app);
  const stacks = app.node.children.filter((c): c is TerraformStack => c instanceof TerraformStack);
  return stacks.map((stack) => {
    const json = JSON.parse(Testing.synth(stack));
    const clusters = stack.node.findAll().filter((c): c is GrommunioCluster => c instanceof GrommunioCluster);
    const errors: string[] = [];
    const nodes: ExampleNode[] = [];
    if (clusters.length > 1) {
      errors.push(
        `${stack.node.id}: ${clusters.length} clusters in one stack; node names may clash, extend this helper`,
      );
    }
    for (const cluster of clusters) {
      const platform = cluster.platform.name;
      const extract = EXTRACTORS[platform];
      if (!extract) {
        errors.push(
          `${stack.node.id}: platform "${platform}" is unknown to test/system/example-nodes.ts: ` +
            `add an EXTRACTORS entry saying where its nodes' user-data (or files) live`,
        );
        continue;
      }
      let delivered: Map<string, Delivered>;
      try {
        delivered = extract(json);
      } catch (e) {
        errors.push(`${stack.node.id}: reading what ${platform} delivers failed: ${(e as Error).message}`);
        continue;
      }
      const expected = [...cluster.provisioning.keys()].sort();
      const found = [...delivered.keys()].sort();
      if (JSON.stringify(found) !== JSON.stringify(expected)) {
        errors.push(
          `${stack.node.id}: configuration found for [${found.join(", ")}], nodes are [${expected.join(", ")}]`,
        );
        continue;
      }
      const secretValue = (location: string) => {
        const store = SECRET_STORES[platform];
        if (!store) throw new Error(`platform "${platform}" has no SECRET_STORES entry in example-nodes.ts`);
        return store(json, location);
      };
      for (const node of expected) {
        const d = delivered.get(node)!;
        const common = { stack: stack.node.id, platform, cluster, node, field: d.field, secretValue };
        if (d.kind === "files") {
          nodes.push({ ...common, uploads: d.files, gzip: false });
          continue;
        }
        const gzip = d.bytes[0] === 0x1f && d.bytes[1] === 0x8b;
        const bundle = cluster.fileBundles.has(node) ? FILE_STORES[platform]?.(json, node) : undefined;
        if (cluster.fileBundles.has(node) && !bundle) {
          errors.push(`${stack.node.id}: ${node} has a bundle, but FILE_STORES cannot find it for "${platform}"`);
        }
        nodes.push({
          ...common,
          ...(bundle ? { bundle } : {}),
          userData: gzip ? gunzipSync(d.bytes) : d.bytes,
          gzip,
          deliveredBytes: d.deliveredBytes,
          limitBytes: cluster.capabilities.userData.limitBytes,
          boundBytes: cluster.userDataReports.get(node)?.maxBytes,
        });
      }
    }
    return { stack: stack.node.id, platforms: clusters.map((c) => c.platform.name), nodes, errors };
  });
}
