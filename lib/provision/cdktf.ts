/**
 * The one seam between this library's construct/provisioning/platform code and cdktf: every cdktf
 * symbol they use is imported here and nowhere else (toolchain.md §8), so a move to CDK Terrain
 * (`cdktn`) changes this file only. Provider bindings stay in the per-platform modules.
 */
import { App, TerraformDataSource, TerraformStack, Token } from "cdktf";
import type { IResolvable, IResolveContext, TerraformResource } from "cdktf";
import type { IConstruct } from "constructs";

export { Annotations, Aspects, Fn, Op, Token, TerraformOutput, TerraformStack, Tokenization } from "cdktf";
export type { IAspect, IResolvable, IResolveContext, TerraformProvider, TerraformResource } from "cdktf";

/**
 * A reference to a resource or data source (`aws_s3_object.<id>`) or to one of its attributes
 * (`aws_s3_bucket.<id>.arn`), resolving exactly like cdktf's `Reference` (what a provider getter
 * such as `bucket.arn` or an element's `fqn` makes): the identifier inside an expression, `${…}`
 * outside one, and a cross-stack reference when resolved in another stack. Unlike cdktf's, it
 * captures no stack trace: every cdktf `Intrinsic` records the complete stack (no depth limit,
 * formatted) when it is created, for error messages only, and the library creates its references
 * deep inside synth (docs/benchmarks.md).
 */
class ElementReference implements IResolvable {
  public readonly creationStack: string[] = [];
  /** The identifier to use in each other stack (set while preparing). */
  private readonly crossStack: Record<string, string> = {};

  public constructor(
    /** The identifier, or how to make it when first resolved. */
    private identifier: string | (() => string),
    private readonly originStack: TerraformStack,
    /** False for a `dependsOn` entry: the bare identifier, even outside an expression. */
    private readonly braces: boolean,
  ) {}

  public resolve(context: IResolveContext): string {
    if (typeof this.identifier !== "string") this.identifier = this.identifier();
    const stack = TerraformStack.of(context.scope);
    const stackName = stack.toString();
    const suppressBraces = context.suppressBraces || !this.braces;
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

/** `aws_x.<id>` or `data.aws_x.<id>`: what an element's `fqn` names. */
function elementName(element: TerraformResource | TerraformDataSource): string {
  const kind = TerraformDataSource.isTerraformDataSource(element) ? "data." : "";
  return `${kind}${element.terraformResourceType}.${element.friendlyUniqueId}`;
}

/**
 * `element`'s string attribute `name` (the Terraform name: `private_key_pem`, not
 * `privateKeyPem`) as a token: the same text as the provider's getter, e.g.
 * `attribute(bucket, "arn")` for `bucket.arn`, without cdktf's stack trace (`ElementReference`).
 */
export function attribute(element: TerraformResource | TerraformDataSource, name: string): string {
  const each = element.forEach ? ".*" : "";
  return Token.asString(new ElementReference(`${elementName(element)}${each}.${name}`, element.cdktfStack, true));
}

/**
 * `element` as an entry of another element's `dependsOn`: the same text as cdktf's
 * `dependable(element)` (which resolves to the element's `fqn`), without cdktf's two stack traces
 * (one for the `Dependable`, one for the `fqn` reference it reads while resolving).
 */
export function dependency(element: TerraformResource | TerraformDataSource): string {
  return Token.asString(new ElementReference(() => elementName(element), element.cdktfStack, false));
}

/**
 * The context key that keeps cdktf's creation stacks for the resources this library makes
 * (`withoutCreationStacks`): `"cdktf-grommunio:creationStacks": true` in cdktf.json's `context`,
 * or `app.node.setContext(…)` before the cluster is built. For debugging a token error inside
 * the library only; it makes `cdktf synth` slower.
 */
export const CREATION_STACKS_CONTEXT = "cdktf-grommunio:creationStacks";

/** cdktf's internal module whose `captureStackTrace` every Intrinsic, Lazy and list token calls. */
interface StackTraceModule {
  captureStackTrace: (below?: unknown) => string[];
}

/**
 * cdktf's stack-trace module, if it is the one this library was built against: a CommonJS module
 * whose `captureStackTrace` cdktf's own modules read at each call (`(0, m.captureStackTrace)()`),
 * and which can be replaced. Undefined otherwise (another cdktf layout, a frozen bundle): then
 * `withoutCreationStacks` changes nothing and synth is only slower.
 */
const cdktfStackTraces: StackTraceModule | undefined = (() => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const m = require("cdktf/lib/tokens/private/stack-trace") as Partial<StackTraceModule>;
    const own = Object.getOwnPropertyDescriptor(m, "captureStackTrace");
    return typeof m.captureStackTrace === "function" && own?.writable === true ? (m as StackTraceModule) : undefined;
  } catch {
    return undefined;
  }
})();

const NO_STACK: StackTraceModule["captureStackTrace"] = () => [];

/**
 * Runs `make` (which creates provider resources for the library) with cdktf's creation stacks
 * off, unless `scope`'s context sets `CREATION_STACKS_CONTEXT`. Every cdktf token records the
 * whole call stack, formatted, when it is made, and every provider resource makes dozens in its
 * constructor (one per nested block's output list); cdktf reads them only for the text of a
 * token's resolution error. The library's stacks end in its own code: most are made at synth,
 * in the cluster's aspect, with no frame of the user's program on the stack; the rest below the
 * library's constructors. Formatting them was the largest single cost of a cold synth, and with
 * source maps on (`tsx`, `ts-node`) each frame is also looked up in its file's map. aws-cdk-lib
 * captures such stacks only in debug mode (`CDK_DEBUG`) for the same reason. Only cdktf's capture
 * is switched, and only during `make`: an `Error`'s stack is untouched.
 */
export function withoutCreationStacks<T>(scope: IConstruct, make: () => T): T {
  const m = cdktfStackTraces;
  const keep = scope.node.tryGetContext(CREATION_STACKS_CONTEXT) as unknown;
  if (m === undefined || keep === true || keep === "true") return make();
  const previous = m.captureStackTrace;
  m.captureStackTrace = NO_STACK;
  try {
    return make();
  } finally {
    m.captureStackTrace = previous;
  }
}
