/**
 * AwsPlatformProps that AWS would refuse only at apply (after the VPC and more were created), or
 * that would take no effect: refused with a code, defaulted so they work, or warned about.
 */
import { TerraformStack, Testing } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Construct } from "constructs";
import { AwsPlatformProps, Database, GromoxNode, GrommunioValidationError } from "../../lib";
import { Json, buildAws, exampleLayout, resourceAt, synthAws } from "./aws-support";

/** The issues (code, field) synth throws, or [] when it does not throw. */
function issuesOf(aws: AwsPlatformProps, before?: (stack: TerraformStack) => void): [string, string][] {
  const { stack } = buildAws((c) => new GromoxNode(c, "mail1"), {}, aws);
  before?.(stack);
  try {
    Testing.synth(stack);
    return [];
  } catch (e) {
    if (!(e instanceof GrommunioValidationError)) throw e;
    return e.issues.map((i) => [i.code, i.field]);
  }
}

function warningsOf(scope: Construct): string[] {
  return scope.node
    .findAll()
    .flatMap((c) => c.node.metadata)
    .filter((m) => m.type === "@cdktf/warn")
    .map((m) => String(m.data));
}

const subnetZone = (json: Json, id: string): string =>
  resourceAt(json, "aws_subnet", `mail/network/${id}`).availability_zone as string;

describe("AWS availability zones", () => {
  test("GRX226: a zone of another region, or not a zone name, is refused", () => {
    expect(issuesOf({ region: "eu-central-1", availabilityZone: "eu-west-1a" })).toContainEqual([
      "GRX226",
      "availabilityZone",
    ]);
    expect(issuesOf({ region: "eu-central-1", secondAvailabilityZone: "euc1-az2" })).toContainEqual([
      "GRX226",
      "secondAvailabilityZone",
    ]);
    // eu-central-10 is another region than eu-central-1.
    expect(issuesOf({ region: "eu-central-1", availabilityZone: "eu-central-10a" })).toContainEqual([
      "GRX226",
      "availabilityZone",
    ]);
  });

  test("zone names of the region, Local Zones included, pass; without a region nothing is checked", () => {
    expect(
      issuesOf({ region: "eu-central-1", availabilityZone: "eu-central-1b", secondAvailabilityZone: "eu-central-1c" }),
    ).toEqual([]);
    expect(issuesOf({ region: "us-west-2", availabilityZone: "us-west-2-lax-1a" })).toEqual([]);
    expect(issuesOf({ availabilityZone: "eu-west-1a" })).toEqual([]);
  });

  test("GRX226: both zones the same (the RDS subnet group needs two)", () => {
    expect(issuesOf({ availabilityZone: "eu-central-1a", secondAvailabilityZone: "eu-central-1a" })).toEqual([
      ["GRX226", "secondAvailabilityZone"],
    ]);
  });

  test("defaults: the region's first two zones; a given zone is never repeated by the other default", () => {
    const rds = { database: Database.rds() };
    const plain = synthAws(exampleLayout, rds).json;
    expect(subnetZone(plain, "subnet")).toMatch(/^\$\{element\(data\.aws_availability_zones\.\S+\.names, 0\)\}$/);
    expect(subnetZone(plain, "services-b")).toMatch(/^\$\{element\(data\.aws_availability_zones\.\S+\.names, 1\)\}$/);

    // availabilityZone eu-central-1b is the second available zone: the second subnet takes the first.
    const first = synthAws(exampleLayout, rds, { availabilityZone: "eu-central-1b" }).json;
    expect(subnetZone(first, "subnet")).toBe("eu-central-1b");
    expect(subnetZone(first, "services-b")).toMatch(
      /^\$\{\(element\((\S+), 1\) == "eu-central-1b"\) \? element\(\1, 0\) : element\(\1, 1\)\}$/,
    );
    const second = synthAws(exampleLayout, rds, { secondAvailabilityZone: "eu-central-1a" }).json;
    expect(subnetZone(second, "services-b")).toBe("eu-central-1a");
    expect(subnetZone(second, "subnet")).toMatch(
      /^\$\{\(element\((\S+), 0\) == "eu-central-1a"\) \? element\(\1, 1\) : element\(\1, 0\)\}$/,
    );
  });
});

describe("AWS root volume, region, warnings", () => {
  test("GRX227: a root volume size that is not a whole number of GiB from 1 to 16384", () => {
    for (const bad of [0, -20, 20.5, 16_385, Number.NaN]) {
      expect(issuesOf({ rootVolumeSizeGb: bad })).toContainEqual(["GRX227", "rootVolumeSizeGb"]);
    }
    const { json } = synthAws((c) => new GromoxNode(c, "mail1"), {}, { rootVolumeSizeGb: 16_384 });
    expect(resourceAt(json, "aws_instance", "mail/mail1/instance").root_block_device.volume_size).toBe(16_384);
  });

  test("GRX228: region beside a stack provider of another region (the resources would go there)", () => {
    const provider = (region: string) => (stack: TerraformStack) => new AwsProvider(stack, "aws", { region });
    expect(issuesOf({ region: "eu-central-1" }, provider("us-east-1"))).toEqual([["GRX228", "region"]]);
    expect(issuesOf({ region: "eu-central-1" }, provider("eu-central-1"))).toEqual([]);
    // An aliased provider is not the one the cluster's resources use: the platform adds its own.
    const aliased = (stack: TerraformStack) => new AwsProvider(stack, "other", { region: "us-east-1", alias: "use1" });
    expect(issuesOf({ region: "eu-central-1" }, aliased)).toEqual([]);
  });

  test("associatePublicIpAddress false: a warning that the nodes have no way out", () => {
    const on = synthAws((c) => new GromoxNode(c, "mail1"));
    expect(warningsOf(on.stack).filter((w) => /associatePublicIpAddress/.test(w))).toEqual([]);
    const off = synthAws((c) => new GromoxNode(c, "mail1"), {}, { associatePublicIpAddress: false });
    expect(resourceAt(off.json, "aws_instance", "mail/mail1/instance").associate_public_ip_address).toBe(false);
    expect(warningsOf(off.stack)).toContainEqual(
      expect.stringMatching(/associatePublicIpAddress: false leaves the nodes without a way out/),
    );
  });

  test("tags the platform sets itself (Name, grommunio:*): a warning names them", () => {
    const own = synthAws((c) => new GromoxNode(c, "mail1"), {}, { tags: { Name: "mail", team: "ops" } });
    expect(resourceAt(own.json, "aws_instance", "mail/mail1/instance").tags).toMatchObject({
      Name: "mail1.example.com",
      team: "ops",
    });
    expect(warningsOf(own.stack)).toContainEqual(expect.stringMatching(/^tags Name: the platform sets these itself/));
    const plain = synthAws((c) => new GromoxNode(c, "mail1"), {}, { tags: { team: "ops" } });
    expect(warningsOf(plain.stack).filter((w) => /^tags /.test(w))).toEqual([]);
  });

  test("fileVersionsKept with fileDelivery user-data: a warning that it has no effect", () => {
    const s3 = synthAws((c) => new GromoxNode(c, "mail1"), {}, { fileVersionsKept: 3 });
    expect(warningsOf(s3.stack).filter((w) => /fileVersionsKept/.test(w))).toEqual([]);
    const inline = synthAws((c) => new GromoxNode(c, "mail1"), {}, { fileVersionsKept: 3, fileDelivery: "user-data" });
    expect(warningsOf(inline.stack)).toContainEqual(
      expect.stringMatching(/fileVersionsKept \(3\) has no effect with fileDelivery "user-data"/),
    );
  });
});

describe("AWS names that must exist are looked up at plan", () => {
  const data = (json: Json, type: string): Json[] => Object.values<Json>(json.data?.[type] ?? {});

  test("a literal keyName is read through data aws_key_pair, and the instances use what it read", () => {
    const { json } = synthAws((c) => new GromoxNode(c, "mail1"), {}, { keyName: "operator" });
    expect(data(json, "aws_key_pair")).toEqual([expect.objectContaining({ key_name: "operator" })]);
    expect(resourceAt(json, "aws_instance", "mail/mail1/instance").key_name).toMatch(
      /^\$\{data\.aws_key_pair\.\S+\.key_name\}$/,
    );
    // Without keyName: no lookup, no key.
    const none = synthAws((c) => new GromoxNode(c, "mail1")).json;
    expect(data(none, "aws_key_pair")).toEqual([]);
    expect(resourceAt(none, "aws_instance", "mail/mail1/instance").key_name).toBeUndefined();
  });

  test("instance types of the user's are looked up once each (data aws_ec2_instance_type); the defaults are not", () => {
    const { json } = synthAws(
      (c) => {
        new GromoxNode(c, "mail1");
        new GromoxNode(c, "mail2", { size: "m6i.xlarge" });
        new GromoxNode(c, "mail3");
      },
      {},
      { instanceTypes: { mailbox: "m7i.large" } },
    );
    expect(
      data(json, "aws_ec2_instance_type")
        .map((d) => d.instance_type)
        .sort(),
    ).toEqual(["m6i.xlarge", "m7i.large"]);
    expect(resourceAt(json, "aws_instance", "mail/mail1/instance").instance_type).toBe("m7i.large");
    expect(resourceAt(json, "aws_instance", "mail/mail2/instance").instance_type).toBe("m6i.xlarge");
    expect(data(synthAws(exampleLayout).json, "aws_ec2_instance_type")).toEqual([]);
  });
});
