/**
 * Engine errors: an error without an error route (policy `fail`), a step's time limit, and the reason
 * text of a thrown value.
 *
 * @module
 */
import type { UnroutedError } from "./_emission.ts";

/**
 * Raised (under the `fail` policy) when an error has no error route.
 *
 * @example
 * ```ts
 * import { UnroutedErrorFailure } from "@loom/streaming";
 * const e = new UnroutedErrorFailure({ kind: "task", reason: "boom", messageId: "orders:0:7", path: "process[1]" });
 * e.error.kind; // "task"
 * ```
 */
export class UnroutedErrorFailure extends Error {
  /**
   * Creates a {@link UnroutedErrorFailure}.
   *
   * @param error the unrouted error
   */
  constructor(readonly error: UnroutedError) {
    super(
      `unrouted ${error.kind} error at ${error.path} for message ${
        error.messageId ?? "?"
      }: ${error.reason}. ` +
        `Declare an error route (StreamFlow errors) or set streaming.runtime.unrouted_errors: log`,
    );
    this.name = "UnroutedErrorFailure";
  }
}

/**
 * A step's per-message time limit was exceeded.
 *
 * @example
 * ```ts
 * import { TaskTimeoutError } from "@loom/streaming";
 * new TaskTimeoutError(1_000).message; // "task timed out after 1000 ms"
 * ```
 */
export class TaskTimeoutError extends Error {
  /**
   * Creates a {@link TaskTimeoutError}.
   *
   * @param ms the limit
   */
  constructor(ms: number) {
    super(`task timed out after ${ms} ms`);
    this.name = "TaskTimeoutError";
  }
}

/** Error text of a thrown value (`String(error)` semantics for non-errors). */
export function reasonOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
