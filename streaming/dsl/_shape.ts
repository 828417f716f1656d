/**
 * The logical shape of a stream edge, checked by the compiler.
 *
 * @module
 */
/**
 * Logical shape of a stream edge (checked by the compiler).
 *
 * @example
 * ```ts
 * import { StreamShape } from "@loom/streaming";
 * StreamShape.BATCH; // "batch" (what a CollectBatch produces)
 * ```
 */
export const StreamShape = { RECORD: "record", MANY: "many", BATCH: "batch", NONE: "none" } as const;
/**
 * One of `"record" | "many" | "batch" | "none"`.
 *
 * @example
 * ```ts
 * import type { StreamShape } from "@loom/streaming";
 * const shape: StreamShape = "record";
 * ```
 */
export type StreamShape = typeof StreamShape[keyof typeof StreamShape];
