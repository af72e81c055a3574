/**
 * Helpers for the Docker platform tests: synthesize the Docker example (or a variant), find
 * containers by node name, and read uploads back the way the container receives them (Terraform
 * template evaluated, secrets replaced by a visible placeholder of their reference).
 */
import { TerraformStack, Testing } from "cdktf";
import { dockerExample, DockerExampleOptions } from "../../examples/docker/main";
import { GrommunioCluster } from "../../lib";
import { DockerDeployment } from "../../lib/platforms/docker";
import { evaluateTemplate } from "./terraform-eval";

export type Res = Record<string, any>;

export interface DockerRun {
  readonly stack: TerraformStack;
  readonly json: any;
  readonly cluster: GrommunioCluster<DockerDeployment>;
}

export function synthDockerExample(options: DockerExampleOptions = {}): DockerRun {
  const stack = dockerExample(Testing.app(), options);
  const json = JSON.parse(Testing.synth(stack));
  const cluster = stack.node.findChild("mail") as GrommunioCluster<DockerDeployment>;
  return { stack, json, cluster };
}

/** Containers keyed by node name (label `grommunio-node`), with their resource key. */
export function containers(json: any): Map<string, { key: string; res: Res }> {
  const out = new Map<string, { key: string; res: Res }>();
  for (const [key, res] of Object.entries<Res>(json.resource?.docker_container ?? {})) {
    const node = (res.labels as { label: string; value: string }[]).find((l) => l.label === "grommunio-node")!.value;
    out.set(node, { key, res });
  }
  return out;
}

/** Terraform references become `<reference>` (e.g. `<random_password.mail_database-password_X.result>`). */
export const placeholder = (ref: string): string => `<${ref}>`;

/** What a container receives for an upload block: `content` evaluated, or `content_base64` decoded. */
export function uploadedText(u: Res): string {
  if (u.content !== undefined) return evaluateTemplate(u.content, placeholder);
  return Buffer.from(evaluateTemplate(u.content_base64, placeholder), "base64").toString("utf8");
}

/**
 * Whether `received` (an upload as the container gets it) is the provisioned `content` byte for
 * byte, with a Terraform reference (a `<reference>` placeholder) exactly where the content holds a
 * token (a secret), and nothing else.
 */
export function sameContent(received: string, content: string): boolean {
  const parts = content.split(/\$\{TfToken\[[^\]]+\]\}/);
  if (parts.length === 1) return received === content;
  const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${parts.map(escape).join("<[A-Za-z0-9_.-]+>")}$`, "s").test(received);
}

/** The validation error synth throws (fails the test when synth succeeds): one helper for all tests. */
export { synthError } from "../security/support";
