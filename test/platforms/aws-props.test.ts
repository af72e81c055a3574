/**
 * AwsPlatformProps that AWS would refuse only at apply (after the VPC and more were created), or
 * that would take no effect: refused with a code, defaulted so they work, or warned about.
 */
import { TerraformStack, Testing } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Construct } from "constructs";
import {
  AwsPlatformProps,
  Database,
  GromoxNode,
  GromoxNodeProps,
  GrommunioValidationError,
  ShareNothing,
  ShareNothingProps,
} from "../../lib";
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
  test("GRX227: a root volume size that is not a whole number of GiB from 1 to 65536 (gp3 since 2025-09)", () => {
    for (const bad of [0, -20, 20.5, 65_537, Number.NaN]) {
      expect(issuesOf({ rootVolumeSizeGb: bad })).toContainEqual(["GRX227", "rootVolumeSizeGb"]);
    }
    const { json } = synthAws((c) => new GromoxNode(c, "mail1"), {}, { rootVolumeSizeGb: 65_536 });
    expect(resourceAt(json, "aws_instance", "mail/mail1/instance").root_block_device.volume_size).toBe(65_536);
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

describe("EBS data volumes EC2 refuses only at apply (GRX229, GRX230)", () => {
  /** Issues (code, path, field) of one mailbox node on a ShareNothing volume with `volume` props. */
  function volumeIssues(volume: ShareNothingProps, node: GromoxNodeProps = {}): [string, string, string][] {
    const { stack } = buildAws((c) => new GromoxNode(c, "mail1", node), { storage: new ShareNothing(volume) });
    try {
      Testing.synth(stack);
      return [];
    } catch (e) {
      if (!(e instanceof GrommunioValidationError)) throw e;
      return e.issues.map((i) => [i.code, i.path, i.field]);
    }
  }
  const at = "test/mail/mail1/data";

  test.each<[string, ShareNothingProps, string]>([
    ["an unknown type", { volumeType: "gp4" }, "type"],
    ["st1 below 125 GiB", { volumeType: "st1", volumeSizeGb: 124 }, "sizeGb"],
    ["sc1 below 125 GiB", { volumeType: "sc1", volumeSizeGb: 100 }, "sizeGb"],
    ["io1 below 4 GiB", { volumeType: "io1", volumeSizeGb: 3, iops: 100 }, "sizeGb"],
    ["io2 below 4 GiB", { volumeType: "io2", volumeSizeGb: 3, iops: 100 }, "sizeGb"],
    ["gp2 above 16384 GiB", { volumeType: "gp2", volumeSizeGb: 16_385 }, "sizeGb"],
    ["io1 above 16384 GiB", { volumeType: "io1", volumeSizeGb: 16_385, iops: 1000 }, "sizeGb"],
    ["gp3 above 65536 GiB", { volumeSizeGb: 65_537 }, "sizeGb"],
    ["standard above 1024 GiB", { volumeType: "standard", volumeSizeGb: 1025 }, "sizeGb"],
  ])("GRX229: %s", (_what, volume, field) => {
    expect(volumeIssues(volume)).toEqual([["GRX229", at, field]]);
  });

  test.each<[string, ShareNothingProps, string]>([
    ["gp3 iops below 3000", { iops: 2999 }, "iops"],
    ["gp3 iops above 80000", { iops: 80_001, volumeSizeGb: 200 }, "iops"],
    ["gp3 iops above 500 per GiB", { iops: 10_001, volumeSizeGb: 20 }, "iops"],
    ["gp3 iops not whole", { iops: 3000.5 }, "iops"],
    ["gp3 throughput below 125", { throughputMiBps: 124 }, "throughputMiBps"],
    ["gp3 throughput above 2000", { throughputMiBps: 2001, iops: 16_000 }, "throughputMiBps"],
    ["gp3 throughput above 0.25 MiB/s per IOPS (default 3000 IOPS)", { throughputMiBps: 751 }, "throughputMiBps"],
    ["gp3 throughput above 0.25 MiB/s per given IOPS", { throughputMiBps: 1001, iops: 4000 }, "throughputMiBps"],
    ["io1 without iops", { volumeType: "io1" }, "iops"],
    ["io2 without iops", { volumeType: "io2" }, "iops"],
    ["io1 iops below 100", { volumeType: "io1", iops: 99 }, "iops"],
    ["io1 iops above 64000", { volumeType: "io1", iops: 64_001, volumeSizeGb: 2000 }, "iops"],
    ["io1 iops above 50 per GiB", { volumeType: "io1", iops: 10_001, volumeSizeGb: 200 }, "iops"],
    ["io2 iops above 256000", { volumeType: "io2", iops: 256_001, volumeSizeGb: 1000 }, "iops"],
    ["io2 iops above 1000 per GiB", { volumeType: "io2", iops: 200_001, volumeSizeGb: 200 }, "iops"],
    ["io2 throughput", { volumeType: "io2", iops: 1000, throughputMiBps: 500 }, "throughputMiBps"],
    ["gp2 iops", { volumeType: "gp2", iops: 3000 }, "iops"],
    ["st1 throughput", { volumeType: "st1", volumeSizeGb: 500, throughputMiBps: 250 }, "throughputMiBps"],
    ["sc1 iops", { volumeType: "sc1", volumeSizeGb: 500, iops: 250 }, "iops"],
    ["standard iops", { volumeType: "standard", iops: 100 }, "iops"],
  ])("GRX230: %s", (_what, volume, field) => {
    expect(volumeIssues(volume)).toEqual([["GRX230", at, field]]);
  });

  test("every problem of a volume is collected: type size and iops and throughput at once", () => {
    expect(volumeIssues({ volumeType: "st1", volumeSizeGb: 100, iops: 500, throughputMiBps: 200 })).toEqual([
      ["GRX229", at, "sizeGb"],
      ["GRX230", at, "iops"],
      ["GRX230", at, "throughputMiBps"],
    ]);
  });

  test("a node's own dataVolumeSizeGb is checked against the type", () => {
    expect(volumeIssues({ volumeType: "st1", volumeSizeGb: 500 }, { dataVolumeSizeGb: 100 })).toEqual([
      ["GRX229", at, "sizeGb"],
    ]);
  });

  test.each<[string, ShareNothingProps]>([
    ["the default (gp3, 3000 IOPS, 125 MiB/s)", {}],
    ["gp3 at its edges", { volumeSizeGb: 160, iops: 80_000, throughputMiBps: 2000 }],
    ["gp3 3000 IOPS on 1 GiB (the baseline at any size)", { volumeSizeGb: 1, iops: 3000, throughputMiBps: 750 }],
    ["gp3 500 IOPS per GiB", { volumeSizeGb: 20, iops: 10_000 }],
    ["gp3 at 64 TiB", { volumeSizeGb: 65_536 }],
    ["io1 50 IOPS per GiB", { volumeType: "io1", volumeSizeGb: 200, iops: 10_000 }],
    ["io1 at 64000", { volumeType: "io1", volumeSizeGb: 1280, iops: 64_000 }],
    ["io2 1000 IOPS per GiB", { volumeType: "io2", volumeSizeGb: 200, iops: 200_000 }],
    ["io2 at 256000 and 64 TiB", { volumeType: "io2", volumeSizeGb: 65_536, iops: 256_000 }],
    ["io2 at 4 GiB", { volumeType: "io2", volumeSizeGb: 4, iops: 100 }],
    ["gp2", { volumeType: "gp2", volumeSizeGb: 1 }],
    ["st1 at 125 GiB", { volumeType: "st1", volumeSizeGb: 125 }],
    ["sc1 at 16384 GiB", { volumeType: "sc1", volumeSizeGb: 16_384 }],
    ["standard at 1024 GiB", { volumeType: "standard", volumeSizeGb: 1024 }],
  ])("taken: %s", (_what, volume) => {
    expect(volumeIssues(volume)).toEqual([]);
  });

  test("the other nodes' volumes (database, gp3 by default) are checked too", () => {
    const { stack } = buildAws((c) => new GromoxNode(c, "mail1"), {
      database: Database.onNode({ volumeSizeGb: 70_000 }),
    });
    let issues: [string, string, string][] = [];
    try {
      Testing.synth(stack);
    } catch (e) {
      if (!(e instanceof GrommunioValidationError)) throw e;
      issues = e.issues.map((i) => [i.code, i.path, i.field]);
    }
    expect(issues).toEqual([["GRX229", "test/mail/db1/data", "sizeGb"]]);
  });
});
