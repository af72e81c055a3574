/**
 * The stacks the VM tests boot: the KVM example (examples/kvm) with its package sources pointed at
 * the test's local repository and the readiness report on ttyS0, both through the library's own
 * props, synthesized to `cdk.tf.json` like `cdktf synth` does: as it is (ShareNothing), and for the
 * `shared-storage` scenario a second stack of the same example with `SharedStorage` and an NFS
 * node `nfs1` (grommunio's "Shared storage" layout). Each node's seed (user-data,
 * meta-data, network-config of its `libvirt_cloudinit_disk`) is read back with Terraform's part
 * evaluated (test/platforms/terraform-eval.ts) and used unchanged.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { App } from "cdktf";
import { kvmExample } from "../../examples/kvm/main";
import { type GrommunioCluster, SharedStorage } from "../../lib/cluster";
import type { NodeProvisioning } from "../../lib/provision";
import type { Topology } from "../../lib/topology";
import { LibvirtSeed, libvirtSeeds, stackResolver, writtenFiles } from "../platforms/vm-support";
import { REPO_GUEST_ADDRESS } from "./qemu";

export const STACK_NAME = "grommunio-kvm";

/** Which layout of the KVM example a scenario boots. */
export type StackVariant = "share-nothing" | "shared-storage";
export const STACK_VARIANTS: readonly StackVariant[] = ["share-nothing", "shared-storage"];
export const STACK_NAMES: Readonly<Record<StackVariant, string>> = {
  "share-nothing": STACK_NAME,
  "shared-storage": "grommunio-kvm-shared",
};
/** The shared-storage stack's NFS node (SharedStorage's `nfsNode`). */
export const NFS_NODE = "nfs1";

/**
 * Test values of the Terraform references in user-data, as the providers would produce them: a
 * fixed 32-character password per `random_password`; per `tls_private_key` a fresh key of its
 * algorithm, and per `tls_self_signed_cert` a certificate for its subject and DNS names signed by
 * the key it names (openssl).
 */
export function testValues(json: any, dir: string): (ref: string) => string {
  fs.mkdirSync(dir, { recursive: true });
  const cache = new Map<string, string>();
  const keyFile = (key: string): string => {
    const file = path.join(dir, `${key}.key.pem`);
    if (!fs.existsSync(file)) {
      const res = json.resource?.tls_private_key?.[key];
      if (!res) throw new Error(`no tls_private_key ${key}`);
      if (res.algorithm === "ECDSA") {
        const curve = { P224: "secp224r1", P256: "prime256v1", P384: "secp384r1", P521: "secp521r1" }[
          res.ecdsa_curve as string
        ];
        execFileSync("openssl", ["ecparam", "-name", curve ?? "prime256v1", "-genkey", "-noout", "-out", file]);
      } else {
        execFileSync("openssl", ["genrsa", "-traditional", "-out", file, String(res.rsa_bits ?? 2048)], {
          stdio: "ignore",
        });
      }
    }
    return file;
  };
  const value = (ref: string): string => {
    if (/^random_password\.[^.]+\.result$/.test(ref)) {
      return "T" + createHash("sha256").update(ref).digest("hex").slice(0, 31);
    }
    let m = /^tls_private_key\.([^.]+)\.(private_key_pem|private_key_pem_pkcs8|public_key_pem)$/.exec(ref);
    if (m) {
      const file = keyFile(m[1]!);
      if (m[2] === "private_key_pem") return fs.readFileSync(file, "utf8");
      const args =
        m[2] === "public_key_pem" ? ["pkey", "-in", file, "-pubout"] : ["pkcs8", "-topk8", "-nocrypt", "-in", file];
      return execFileSync("openssl", args, { encoding: "utf8" });
    }
    m = /^tls_self_signed_cert\.([^.]+)\.cert_pem$/.exec(ref);
    if (m) {
      const res = json.resource?.tls_self_signed_cert?.[m[1]!];
      const key = /^\$\{tls_private_key\.([^.]+)\.private_key_pem\}$/.exec(res?.private_key_pem ?? "")?.[1];
      if (!key) throw new Error(`tls_self_signed_cert ${m[1]} names no tls_private_key`);
      const cn = res.subject?.[0]?.common_name ?? "test";
      const san = (res.dns_names ?? []).map((d: string) => `DNS:${d}`).join(",");
      return execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-new",
          "-key",
          keyFile(key),
          "-subj",
          `/CN=${cn}`,
          "-days",
          "30",
          ...(san ? ["-addext", `subjectAltName=${san}`] : []),
        ],
        { encoding: "utf8" },
      );
    }
    throw new Error(`no test value for ${ref}`);
  };
  return (ref) => {
    let v = cache.get(ref);
    if (v === undefined) {
      v = value(ref);
      cache.set(ref, v);
    }
    return v;
  };
}

export interface SynthesizedStack {
  readonly json: any;
  readonly jsonPath: string;
  readonly topology: Topology;
  readonly provisioning: ReadonlyMap<string, NodeProvisioning>;
  readonly seeds: ReadonlyMap<string, LibvirtSeed>;
  /** The decoded write_files of a node's user-data, by path. */
  files(node: string): Map<string, string>;
}

/**
 * Synthesizes the KVM example with the test's repositories and readiness report into `outdir`: as
 * the example is (`share-nothing`), or with `SharedStorage` and the NFS node nfs1 (`shared-storage`,
 * stack grommunio-kvm-shared; the same node names and addresses otherwise).
 */
export function synthesizeKvmExample(outdir: string, variant: StackVariant = "share-nothing"): SynthesizedStack {
  fs.rmSync(outdir, { recursive: true, force: true });
  fs.mkdirSync(outdir, { recursive: true });
  const app = new App({ outdir });
  const stackName = STACK_NAMES[variant];
  const stack = kvmExample(app, {
    stackName,
    ...(variant === "shared-storage"
      ? { storage: new SharedStorage({ nfsNode: { name: NFS_NODE, volumeSizeGb: 200 } }) }
      : {}),
    cluster: {
      osRepository: { uris: `http://${REPO_GUEST_ADDRESS}/debian`, suites: ["bookworm"], trusted: true },
      repository: { uris: `http://${REPO_GUEST_ADDRESS}/grommunio`, trusted: true },
      readinessReport: { device: "/dev/ttyS0" },
    },
  });
  app.synth();
  const jsonPath = path.join(outdir, "stacks", stackName, "cdk.tf.json");
  const json = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
  const cluster = stack.node.findChild("mail") as GrommunioCluster;
  const seeds = libvirtSeeds(json, stackResolver(json, testValues(json, path.join(outdir, "tls"))));
  const cache = new Map<string, Map<string, string>>();
  return {
    json,
    jsonPath,
    topology: cluster.topology,
    provisioning: cluster.provisioning,
    seeds,
    files(node: string) {
      let f = cache.get(node);
      if (!f) {
        const seed = seeds.get(node);
        if (!seed) throw new Error(`no seed for ${node}`);
        f = writtenFiles(seed.userData);
        cache.set(node, f);
      }
      return f;
    },
  };
}
