/**
 * The one seam between this library's construct/provisioning/platform code and cdktf: every cdktf
 * symbol they use is imported here and nowhere else (toolchain.md §8), so a move to CDK Terrain
 * (`cdktn`) changes this file only. Provider bindings stay in the per-platform modules.
 */
export { Annotations, Aspects, Fn, Token, TerraformOutput, TerraformStack, Tokenization } from "cdktf";
export type { IAspect, IResolvable, IResolveContext, TerraformProvider, TerraformResource } from "cdktf";
