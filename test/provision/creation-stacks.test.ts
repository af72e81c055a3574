import { App, Lazy, TerraformStack, Testing, Tokenization } from "cdktf";
import * as stackTrace from "cdktf/lib/tokens/private/stack-trace";
import * as root from "../../lib";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { IConstruct } from "constructs";
import { DOCUMENTED_ENTRY, documentedDnsOptions, documentedTopology } from "../dns/fixtures";
import { CREATION_STACKS_CONTEXT, withoutCreationStacks } from "../../lib/provision/cdktf";
import { awsExample } from "../../examples/aws/main";
import { hcloudExample } from "../../examples/hcloud/main";

/** The creation stack cdktf recorded for a new token (a Lazy: an Intrinsic-like resolvable). */
function creationStackOfNew(): string[] {
  const token = Lazy.stringValue({ produce: () => "x" });
  return Tokenization.reverseString(token).firstToken?.creationStack ?? ["(no token)"];
}

describe("withoutCreationStacks: cdktf's creation stacks off while the library makes resources", () => {
  test("off inside, on again after, also when the body throws; nested calls restore the outer state", () => {
    const app = Testing.app();
    const original = stackTrace.captureStackTrace;
    expect(creationStackOfNew().length).toBeGreaterThan(0);
    expect(withoutCreationStacks(app, creationStackOfNew)).toEqual([]);
    expect(
      withoutCreationStacks(app, () => {
        withoutCreationStacks(app, () => undefined);
        return creationStackOfNew();
      }),
    ).toEqual([]);
    expect(() =>
      withoutCreationStacks(app, () => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(stackTrace.captureStackTrace).toBe(original);
    expect(creationStackOfNew().length).toBeGreaterThan(0);
  });

  test("an Error made inside keeps its stack", () => {
    const error = withoutCreationStacks(Testing.app(), () => new Error("inside"));
    expect(error.stack).toMatch(/^Error: inside\n\s+at /);
  });

  test("the context key is exported from the package root", () => {
    expect(CREATION_STACKS_CONTEXT).toBe("cdktf-grommunio:creationStacks");
    expect(root.CREATION_STACKS_CONTEXT).toBe(CREATION_STACKS_CONTEXT);
  });

  test.each([true, "true"])("the context key (%p) keeps them", (value) => {
    const app = Testing.app({ context: { [CREATION_STACKS_CONTEXT]: value } });
    expect(withoutCreationStacks(app, creationStackOfNew).length).toBeGreaterThan(0);
  });
});

/**
 * Every token object held by the provider resources under `root` (the nested-block output lists and
 * objects each provider class makes in its constructor) with the creation stack it recorded.
 */
function tokenStacks(root: IConstruct): string[][] {
  const stacks: string[][] = [];
  for (const c of root.node.findAll()) {
    if (!("terraformResourceType" in c)) continue;
    for (const value of Object.values(c)) {
      const held = (value as { creationStack?: unknown } | null)?.creationStack;
      if (Array.isArray(held)) stacks.push(held as string[]);
    }
  }
  return stacks;
}

describe("the cluster makes its resources without creation stacks", () => {
  /** The AWS example with the cluster's DNS in Route53 (MailDns: records and the DKIM key). */
  const awsWithDns = (app: App): TerraformStack => {
    const stack = awsExample(app);
    (stack.node.findChild("mail") as root.GrommunioCluster).addDns({ route53: { zoneId: "Z123" } });
    return stack;
  };
  const examples = [
    ["aws", awsExample],
    ["hcloud", hcloudExample],
    ["aws with Route53 DNS", awsWithDns],
  ] as const;

  test.each(examples)(
    "%s example: every token of the cluster's resources has none; with the context key every one has one",
    (_, example) => {
      const quiet = example(Testing.app());
      Testing.synth(quiet); // the resources made at synth (firewall, user-data, secrets) too
      const without = tokenStacks(quiet.node.findChild("mail"));
      expect(without.length).toBeGreaterThan(20);
      expect(without.filter((s) => s.length > 0)).toEqual([]);

      const kept = example(Testing.app({ context: { [CREATION_STACKS_CONTEXT]: true } }));
      Testing.synth(kept);
      const withStacks = tokenStacks(kept.node.findChild("mail"));
      expect(withStacks.length).toBe(without.length);
      expect(withStacks.filter((s) => s.length === 0)).toEqual([]);
    },
  );

  test.each(examples)("%s example: the same cdk.tf.json either way", (_, example) => {
    const synth = (app: App): string => Testing.synth(example(app));
    expect(synth(Testing.app())).toBe(synth(Testing.app({ context: { [CREATION_STACKS_CONTEXT]: true } })));
  });
});

test("MailDns on its own makes its Route53 records and DKIM key without creation stacks", () => {
  const build = (app: App): root.MailDns => {
    const stack = new TerraformStack(app, "dns");
    new AwsProvider(stack, "aws", { region: "eu-central-1" });
    return new root.MailDns(stack, "dns", {
      topology: documentedTopology(),
      entry: DOCUMENTED_ENTRY,
      options: documentedDnsOptions({ dkim: undefined }),
      route53: { zoneId: "Z0GROAT" },
    });
  };
  const quiet = build(Testing.app());
  expect(quiet.dkimKey).toBeDefined();
  const without = tokenStacks(quiet);
  expect(without.length).toBeGreaterThan(5);
  expect(without.filter((s) => s.length > 0)).toEqual([]);
  const kept = tokenStacks(build(Testing.app({ context: { [CREATION_STACKS_CONTEXT]: true } })));
  expect(kept.length).toBe(without.length);
  expect(kept.filter((s) => s.length === 0)).toEqual([]);
});
