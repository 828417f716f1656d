/**
 * Definition problems: a node constructor that gets bad options (an empty `Process`, a `Router` without
 * routes, `CollectBatch({ maxRecords: NaN })`, ...) does not throw — at construction the node does not know
 * where it sits in the flow. It records the problem, naming the TypeScript option and the bad value, and
 * `compileFlow` reports it in its `CompilationError` with the node's path (e.g.
 * `process[1].routes.vip[0]: CollectBatch.maxRecords must be an integer greater than zero, got NaN`).
 *
 * @module
 */

const PROBLEMS = new WeakMap<object, string[]>();

/** Records a problem of `node` (called by constructors). */
export function recordProblem(node: object, message: string): void {
  const list = PROBLEMS.get(node);
  if (list === undefined) PROBLEMS.set(node, [message]);
  else list.push(message);
}

/**
 * The problems recorded when `node` was constructed (empty when its options were valid). `compileFlow`
 * reports each with the node's path.
 *
 * @example
 * ```ts
 * import { CollectBatch, definitionProblems } from "@loom/streaming";
 * definitionProblems(new CollectBatch({ maxRecords: 0, timeoutMs: 100 }));
 * // ["CollectBatch.maxRecords must be an integer greater than zero, got 0"]
 * ```
 */
export function definitionProblems(node: unknown): readonly string[] {
  if (typeof node !== "object" || node === null) return [];
  return PROBLEMS.get(node) ?? [];
}

/** Renders a bad option value for a message. */
export function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return String(value);
  return Array.isArray(value) ? "a list" : "an object";
}
