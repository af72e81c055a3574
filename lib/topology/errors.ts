/**
 * Validation errors: every problem is collected (never only the first), each with a stable
 * code, the path of the thing at fault, the offending field and a fix a person can act on.
 *
 * Code ranges (so that layers never collide):
 * - GRX001–GRX099 topology (this folder)
 * - GRX100–GRX199 load-balancer tier (haproxy, nginx, PROXY protocol)
 * - GRX200–GRX299 constructs and platforms
 * - GRX300–GRX399 provisioning (cloud-init, sizes)
 * - GRX400–GRX499 operations, DNS and security checks
 * - GRX500–GRX599 continuations of full blocks, 20 codes each: GRX500–GRX519 constructs,
 *   GRX520–GRX539 libvirt, GRX540–GRX559 vSphere, GRX560–GRX579 DNS; GRX580–GRX599 the next
 *   block to fill up (docs/errors.md, "Code ranges")
 */

export interface ValidationIssue {
  /** Stable code, e.g. `GRX010`. Documented in docs/errors.md. */
  readonly code: string;
  /** Construct path or model path of the thing at fault, e.g. `cluster/nodes/mail2`. */
  readonly path: string;
  /** The offending field, e.g. `ipv4`. */
  readonly field: string;
  /** What is wrong, with the offending value. */
  readonly message: string;
  /** What to do about it. */
  readonly fix: string;
}

export function formatIssue(issue: ValidationIssue): string {
  return `[${issue.code}] ${issue.path} ${issue.field}: ${issue.message} Fix: ${issue.fix}`;
}

/** Thrown when validation found one or more issues; `issues` holds all of them. */
export class GrommunioValidationError extends Error {
  public readonly issues: readonly ValidationIssue[];

  constructor(issues: readonly ValidationIssue[]) {
    super(
      `${issues.length} validation error${issues.length === 1 ? "" : "s"}:\n` +
        issues.map((i) => `  ${formatIssue(i)}`).join("\n"),
    );
    this.name = "GrommunioValidationError";
    this.issues = issues;
  }

  /** The distinct codes, sorted. */
  public get codes(): string[] {
    return [...new Set(this.issues.map((i) => i.code))].sort();
  }
}

/**
 * Collects issues; `throwIfAny()` raises one error holding them all. An issue equal in every field
 * to one already collected is kept once: a cluster-wide problem that each node's renderer reports
 * (GRX400 on every load balancer) is one problem.
 */
export class IssueCollector {
  private readonly list: ValidationIssue[] = [];
  private readonly seen = new Set<string>();

  public add(code: string, path: string, field: string, message: string, fix: string): void {
    this.addAll([{ code, path, field, message, fix }]);
  }

  public addAll(issues: readonly ValidationIssue[]): void {
    for (const i of issues) {
      const key = JSON.stringify([i.code, i.path, i.field, i.message, i.fix]);
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.list.push(i);
    }
  }

  public get issues(): readonly ValidationIssue[] {
    return this.list;
  }

  public throwIfAny(): void {
    if (this.list.length > 0) throw new GrommunioValidationError(this.list);
  }
}
