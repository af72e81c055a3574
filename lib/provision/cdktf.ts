/**
 * The one seam between this library's construct/provisioning/platform code and cdktf: every cdktf
 * symbol they use is imported here and nowhere else (toolchain.md §8), so a move to CDK Terrain
 * (`cdktn`) changes this file only. Provider bindings stay in the per-platform modules.
 */
import { App, TerraformDataSource, TerraformStack, Token } from "cdktf";
import type { IResolvable, IResolveContext, TerraformResource } from "cdktf";

export { Annotations, Aspects, Fn, Token, TerraformOutput, TerraformStack, Tokenization } from "cdktf";
export type { IAspect, IResolvable, IResolveContext, TerraformProvider, TerraformResource } from "cdktf";

/**
 * A reference to a resource's or data source's attribute, resolving exactly like cdktf's
 * `Reference` (what a provider getter such as `bucket.arn` makes): `aws_s3_bucket.<id>.arn` inside
 * an expression, `${…}` outside one, and a cross-stack reference when resolved in another stack.
 * Unlike cdktf's, it captures no stack trace: every cdktf `Intrinsic` records the complete stack
 * (no depth limit, formatted) when it is created, for error messages only, and the library
 * creates its references deep inside synth (docs/benchmarks.md).
 */
class AttributeReference implements IResolvable {
  public readonly creationStack: string[] = [];
  /** The identifier to use in each other stack (set while preparing). */
  private readonly crossStack: Record<string, string> = {};

  public constructor(
    private readonly identifier: string,
    private readonly originStack: TerraformStack,
  ) {}

  public resolve(context: IResolveContext): string {
    const stack = TerraformStack.of(context.scope);
    const stackName = stack.toString();
    const suppressBraces = context.suppressBraces;
    context.suppressBraces = true;
    if (context.preparing && this.originStack !== stack) {
      this.crossStack[stackName] = App.of(this.originStack).crossStackReference(
        this.originStack,
        stack,
        this.identifier,
      );
    }
    const id = this.crossStack[stackName] || this.identifier;
    return suppressBraces ? id : `\${${id}}`;
  }

  public toString(): string {
    return Token.asString(this);
  }
}

/**
 * `element`'s string attribute `name` (the Terraform name: `private_key_pem`, not
 * `privateKeyPem`) as a token: the same text as the provider's getter, e.g.
 * `attribute(bucket, "arn")` for `bucket.arn`, without cdktf's stack trace (`AttributeReference`).
 */
export function attribute(element: TerraformResource | TerraformDataSource, name: string): string {
  const kind = TerraformDataSource.isTerraformDataSource(element) ? "data." : "";
  const each = element.forEach ? ".*" : "";
  return Token.asString(
    new AttributeReference(
      `${kind}${element.terraformResourceType}.${element.friendlyUniqueId}${each}.${name}`,
      element.cdktfStack,
    ),
  );
}
