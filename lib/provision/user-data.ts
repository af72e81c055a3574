/**
 * From a rendered `#cloud-config` to what a platform receives, with the size check against the
 * platform's limit. Sizes are upper bounds: every Terraform token counts at its declared maximum
 * length (a password at its full length, a volume id at its longest form), and a gzip computed by
 * Terraform counts with slack for Go's compressor.
 *
 * A document gzipped whole (platforms that take binary gzip) is rendered with everything that
 * holds a Terraform token at its end and sent as two gzip members: the token-free start gzipped
 * here (exact size), the rest by Terraform (bounded) — `base64GzipTokensLast`.
 */
import type { UserData, UserDataFacts } from "../platforms/platform";
import { IssueCollector, ValidationIssue } from "../topology";
import { FileCompression, RenderedCloudConfig } from "./cloud-init";
import { TokenRegistry, base64GzipTokensLast, base64Length, toTerraformString } from "./tokens";

/**
 * On platforms that accept binary gzip user-data, the document is compressed once its plain size
 * passes this fraction of the limit (keeps room to grow; below it the readable text is shipped).
 */
export const GZIP_ABOVE_FRACTION = 0.5;

export interface UserDataReport {
  readonly node: string;
  readonly encoding: UserData["encoding"];
  /** Upper bound in the platform's unit (`countedAs`). */
  readonly maxBytes: number;
  readonly limitBytes: number;
  /** maxBytes / limitBytes. */
  readonly fraction: number;
  /** Upper bound of the plain text in bytes (whatever the encoding). */
  readonly textBytes: number;
}

/** A render without `stopWhen` always returns a document. */
function must(rendered: RenderedCloudConfig | undefined): RenderedCloudConfig {
  if (rendered === undefined) throw new Error("a cloud-config render without stopWhen returned no document");
  return rendered;
}

function measure(facts: UserDataFacts, rawBytes: number): number {
  return facts.countedAs === "raw-bytes" ? rawBytes : base64Length(rawBytes);
}

/**
 * Chooses the encoding and reports GRX301 when even the chosen form may exceed the platform's
 * limit. `render` renders the document with a file compression: `per-file` first; when that text
 * passes `GZIP_ABOVE_FRACTION` of the limit, the document is rendered again with plain files and
 * tokens last and gzipped whole, as two gzip members (platforms that take binary gzip:
 * `base64GzipTokensLast`), or with every file gzipped that shrinks at all
 * (`per-file-max`, the others). `render` gets a `stopWhen` for the first form: it may give up
 * (return undefined) once the form's bound passes that fraction, i.e. once the form is decided
 * against; renderCloudConfig does.
 */
export function buildUserData(
  node: string,
  path: string,
  render: (compression: FileCompression, stopWhen?: (maxBytes: number) => boolean) => RenderedCloudConfig | undefined,
  facts: UserDataFacts,
  tokens: TokenRegistry,
): { userData: UserData; report: UserDataReport; rendered: RenderedCloudConfig; issues: ValidationIssue[] } {
  const c = new IssueCollector();
  const tooLarge = (maxBytes: number): boolean => measure(facts, maxBytes) > facts.limitBytes * GZIP_ABOVE_FRACTION;
  const first = render("per-file", tooLarge);
  let rendered: RenderedCloudConfig;
  // The text form's value is made once the form is chosen (a large first form is thrown away).
  let userData: UserData | undefined;
  if (first !== undefined && !tooLarge(first.maxBytes)) {
    rendered = first;
  } else if (!facts.binaryGzip) {
    // Text only: gzip every file that shrinks at all.
    rendered = must(render("per-file-max"));
  } else {
    rendered = must(render("none"));
    // Tokens last (renderCloudConfig's `none` form): the token-free start is gzipped here, the rest
    // by Terraform, as two gzip members.
    const gz = base64GzipTokensLast(tokens, rendered.text, `user-data of ${node}`);
    userData = { encoding: "gzip-base64", value: gz.value, maxBytes: measure(facts, gz.maxGzipBytes) };
  }
  const textBytes = rendered.maxBytes;
  userData ??= { encoding: "text", value: toTerraformString(rendered.text), maxBytes: measure(facts, textBytes) };
  if (userData.maxBytes > facts.limitBytes) {
    c.add(
      "GRX301",
      path,
      "user-data",
      `the user-data of ${node} may reach ${userData.maxBytes} bytes (${userData.encoding}, tokens counted at their maximum length), over the platform's limit of ${facts.limitBytes} bytes.`,
      "Ship less in user-data: fetch large files at boot (the mailbox map is built from the database on the node), " +
        "split roles over more nodes, or use a platform with a larger limit.",
    );
  }
  const report: UserDataReport = {
    node,
    encoding: userData.encoding,
    maxBytes: userData.maxBytes,
    limitBytes: facts.limitBytes,
    fraction: userData.maxBytes / facts.limitBytes,
    textBytes,
  };
  return { userData, report, rendered, issues: [...c.issues] };
}
