/**
 * Test helpers for the VM platforms (libvirt, vSphere): read each node's cloud-init inputs back out
 * of a synthesized stack the way the guest receives them, with Terraform's part emulated
 * (`terraform-eval.ts`: interpolations, locals, base64gzip) and stand-in values for references.
 */
import { gunzipSync } from "node:zlib";
import { parse } from "yaml";
import { Resolver, evaluateTemplate, fakeResolver } from "./terraform-eval";

export type Res = Record<string, any>;

/** Resolves `local.<name>` from the stack's locals (evaluated in turn), everything else with `fallback`. */
export function stackResolver(json: any, fallback: Resolver = fakeResolver): Resolver {
  const resolve: Resolver = (ref) => {
    const m = /^local\.(.+)$/.exec(ref);
    if (m) {
      const value = json.locals?.[m[1]!];
      if (typeof value !== "string") throw new Error(`no local ${m[1]}`);
      return evaluateTemplate(value, resolve);
    }
    return fallback(ref);
  };
  return resolve;
}

/** One node's NoCloud seed as the guest reads it. */
export interface LibvirtSeed {
  /** The resource key of the `libvirt_cloudinit_disk`. */
  readonly key: string;
  /** The node name (`local-hostname`). */
  readonly node: string;
  /** The seed's resource as synthesized. */
  readonly resource: Res;
  /** user-data after Terraform: interpolations resolved, escapes undone. */
  readonly userData: string;
  readonly metaData: string;
  readonly networkConfig: string;
}

/** Every `libvirt_cloudinit_disk` of a synthesized stack, keyed by node name. */
export function libvirtSeeds(json: any, resolve: Resolver = stackResolver(json)): Map<string, LibvirtSeed> {
  const out = new Map<string, LibvirtSeed>();
  for (const [key, res] of Object.entries<Res>(json.resource?.libvirt_cloudinit_disk ?? {})) {
    const metaData = evaluateTemplate(res.meta_data, resolve);
    const node = String(parse(metaData)["local-hostname"]);
    out.set(node, {
      key,
      node,
      resource: res,
      userData: evaluateTemplate(res.user_data, resolve),
      metaData,
      networkConfig: evaluateTemplate(res.network_config, resolve),
    });
  }
  return out;
}

/** One vSphere VM's guestinfo as cloud-init's VMware datasource decodes it. */
export interface VsphereGuest {
  readonly key: string;
  readonly node: string;
  readonly resource: Res;
  /** Decoded user-data (gzip+base64 undone). */
  readonly userData: string;
  /** Decoded metadata YAML. */
  readonly metadata: string;
}

function decode(value: string, encoding: string | undefined): string {
  if (encoding === "gzip+base64") return gunzipSync(Buffer.from(value, "base64")).toString("utf8");
  if (encoding === "base64") return Buffer.from(value, "base64").toString("utf8");
  return value;
}

/** Every `vsphere_virtual_machine` of a synthesized stack, keyed by node name. */
export function vsphereGuests(json: any, resolve: Resolver = stackResolver(json)): Map<string, VsphereGuest> {
  const out = new Map<string, VsphereGuest>();
  for (const [key, res] of Object.entries<Res>(json.resource?.vsphere_virtual_machine ?? {})) {
    const ec = res.extra_config as Record<string, string>;
    const metadata = decode(evaluateTemplate(ec["guestinfo.metadata"]!, resolve), ec["guestinfo.metadata.encoding"]);
    const node = String(parse(metadata)["local-hostname"]);
    out.set(node, {
      key,
      node,
      resource: res,
      userData: decode(evaluateTemplate(ec["guestinfo.userdata"]!, resolve), ec["guestinfo.userdata.encoding"]),
      metadata,
    });
  }
  return out;
}

/** A write_files entry's content, decoded. */
export function fileContent(entry: { content: string; encoding?: string }): string {
  const enc = entry.encoding ?? "text/plain";
  if (enc === "text/plain") return entry.content;
  const bytes = Buffer.from(entry.content, "base64");
  return (enc.startsWith("gz") ? gunzipSync(bytes) : bytes).toString("utf8");
}

/** The write_files of a `#cloud-config` document by path, decoded. */
export function writtenFiles(userData: string): Map<string, string> {
  const doc = parse(userData, { version: "1.1" });
  return new Map<string, string>(
    (doc.write_files as Res[]).map((f) => [f.path as string, fileContent(f as { content: string; encoding?: string })]),
  );
}
