/**
 * Compilation errors: every problem found in a flow, each with its node path.
 *
 * @module
 */

/**
 * One compilation problem: where (node path) and what (with how to fix it).
 *
 * @example
 * ```ts
 * import type { CompilationIssue } from "@loom/streaming";
 * const issue: CompilationIssue = { path: "process[0]", message: "a Process must not be empty" };
 * ```
 */
export interface CompilationIssue {
  /** Node path of the problem, e.g. `process[2].routes[0]` (empty for the whole flow). */
  readonly path: string;
  /** What is wrong and how to fix it. */
  readonly message: string;
}

/**
 * All problems found while compiling a flow.
 *
 * @example
 * ```ts
 * import { CompilationError } from "@loom/streaming";
 * const e = new CompilationError([{ path: "process[0]", message: "boom" }]);
 * e.errors; // ["process[0]: boom"]
 * ```
 */
export class CompilationError extends Error {
  /** Issues with their paths. */
  readonly issues: readonly CompilationIssue[];
  /** Issues rendered as `"<path>: <message>"`. */
  readonly errors: readonly string[];
  /**
   * Creates a {@link CompilationError}.
   *
   * @param issues the problems found
   */
  constructor(issues: readonly CompilationIssue[]) {
    const errors = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
    super(
      `Compilation failed with ${errors.length} error(s):\n${errors.map((e) => `  - ${e}`).join("\n")}`,
    );
    this.name = "CompilationError";
    this.issues = issues;
    this.errors = errors;
  }
}
