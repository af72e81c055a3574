import "cdktf/lib/testing/adapters/jest";
import { Fn, TerraformIterator, TerraformStack, Testing } from "cdktf";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import { attribute, dependency } from "../../lib/provision/cdktf";
import * as stackTrace from "cdktf/lib/tokens/private/stack-trace";

/**
 * A stack whose resources read their references either through the provider getters and cdktf's
 * `dependsOn` (`viaCdktf`) or through the seam's `attribute` and `dependency`: both must
 * synthesize the same JSON.
 */
function synthBoth(build: (viaCdktf: boolean) => TerraformStack): void {
  const a = JSON.parse(Testing.synth(build(true)));
  const b = JSON.parse(Testing.synth(build(false)));
  expect(b).toEqual(a);
}

describe("attribute and dependency resolve like cdktf's references", () => {
  test("resource and data source attributes, inside and outside expressions, and dependsOn", () => {
    synthBoth((viaCdktf) => {
      const stack = new TerraformStack(Testing.app(), "s");
      const bucket = new S3Bucket(stack, "bucket", { bucketPrefix: "p-" });
      const region = new DataAwsRegion(stack, "region");
      const arn = viaCdktf ? bucket.arn : attribute(bucket, "arn");
      const name = viaCdktf ? region.name : attribute(region, "name");
      new IamRolePolicy(stack, "policy", {
        role: viaCdktf ? bucket.id : attribute(bucket, "id"),
        // Inside a function call (no braces), and inside a string template (braces).
        policy: Fn.jsonencode({ Resource: [arn, `${arn}/*`], Region: name }),
        name: `read-${name}`,
      });
      const object = new S3Object(stack, "object", {
        bucket: viaCdktf ? bucket.bucket : attribute(bucket, "bucket"),
        key: "k",
        content: "c",
        ...(viaCdktf ? { dependsOn: [bucket, region] } : {}),
      });
      if (!viaCdktf) object.dependsOn = [dependency(bucket), dependency(region)];
      return stack;
    });
  });

  test("an attribute of a resource with for_each reads every instance (.*), as the getter does", () => {
    synthBoth((viaCdktf) => {
      const stack = new TerraformStack(Testing.app(), "s");
      const buckets = new S3Bucket(stack, "buckets", {
        forEach: TerraformIterator.fromList(["a", "b"]),
        bucketPrefix: "p-",
      });
      new IamRolePolicy(stack, "policy", {
        role: "r",
        policy: Fn.jsonencode({ Resource: viaCdktf ? buckets.arn : attribute(buckets, "arn") }),
        name: "n",
      });
      return stack;
    });
  });

  test("a reference from another stack becomes the same cross-stack output", () => {
    const synth = (viaCdktf: boolean): unknown[] => {
      const app = Testing.app();
      const one = new TerraformStack(app, "one");
      new AwsProvider(one, "aws", { region: "eu-central-1" });
      const bucket = new S3Bucket(one, "bucket", { bucketPrefix: "p-" });
      const two = new TerraformStack(app, "two");
      new AwsProvider(two, "aws", { region: "eu-central-1" });
      new S3Object(two, "object", {
        bucket: viaCdktf ? bucket.bucket : attribute(bucket, "bucket"),
        key: "k",
        content: "c",
      });
      app.synth();
      return [one, two].map((s) => JSON.parse(Testing.synth(s)));
    };
    const [one, two] = synth(false);
    expect(JSON.stringify(two)).toContain("terraform_remote_state");
    expect([one, two]).toEqual(synth(true));
  });

  test("they capture no stack trace (cdktf's getters capture one per read)", () => {
    const stack = new TerraformStack(Testing.app(), "s");
    const bucket = new S3Bucket(stack, "bucket", { bucketPrefix: "p-" });
    const spy = jest.spyOn(stackTrace, "captureStackTrace");
    try {
      attribute(bucket, "arn");
      dependency(bucket);
      expect(spy).not.toHaveBeenCalled();
      void bucket.arn;
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});
