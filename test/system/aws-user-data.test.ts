/**
 * The AWS example's user-data, exactly as each instance receives it (Terraform expressions
 * evaluated with fake secrets and volume ids, gzip undone by the checker), through cloud-init
 * 22.4's own schema check and the project's strict checker (write_files decoding, permissions,
 * unknown keys). Then every decoded file, together with the files of the node's bundle in S3
 * (`aws_s3_object`, fetched at first boot), equals what the cluster provisioned for the node.
 */
import { Testing } from "cdktf";
import { awsExample } from "../../examples/aws/main";
import { GrommunioCluster } from "../../lib";
import { bundleOf } from "../platforms/aws-support";
import { FAKE_BUCKET, fakeResolver, evaluateTemplate } from "../platforms/terraform-eval";
import { FILES_MANIFEST_PATH } from "../../lib/provision/bundle";
import { checkUserData } from "./cloud-init";

const PW = fakeResolver("random_password.x.result");

describe("AWS example user-data through cloud-init", () => {
  const app = Testing.app();
  const stack = awsExample(app);
  const json = JSON.parse(Testing.synth(stack)) as {
    resource: { aws_instance: Record<string, Record<string, any>> };
  };
  const cluster = stack.node.findChild("mail") as GrommunioCluster;
  const instances = Object.values(json.resource.aws_instance);

  test.each(instances.map((i) => [String(i.tags["grommunio:node"]), i] as const))("%s", (name, inst) => {
    const bytes =
      inst.user_data !== undefined
        ? Buffer.from(evaluateTemplate(inst.user_data), "utf8")
        : Buffer.from(evaluateTemplate(inst.user_data_base64), "base64");
    const result = checkUserData(bytes);
    expect(result.problems).toEqual([]);
    const provisioned = cluster.provisioning.get(name)!;
    const bundle = bundleOf(json, name)!.files.map((f) => ({
      path: f.path,
      content: Buffer.from(f.content, "utf8"),
      owner: f.owner,
      permissions: f.mode,
      defer: true,
    }));
    const received = [...result.files, ...bundle];
    expect(received.map((f) => f.path).sort()).toEqual(provisioned.files.map((f) => f.path).sort());
    for (const f of provisioned.files) {
      const got = received.find((x) => x.path === f.path)!;
      // Secrets (and the manifest's bucket name, its only token) were replaced by the fake
      // resolver; everything else is byte for byte.
      const expected = f.content.replace(/\$\{TfToken\[[^\]]+\]\}/g, f.path === FILES_MANIFEST_PATH ? FAKE_BUCKET : PW);
      expect(got.content.toString("utf8")).toBe(expected);
      expect(got.owner).toBe(f.owner);
      expect(got.permissions).toBe(f.mode);
      expect(got.defer).toBe(f.stage === "late");
    }
  });
});
