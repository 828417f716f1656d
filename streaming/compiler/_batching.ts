/**
 * Compiling shape adapters: CollectBatch (records → batches; not in Router branches) and ForEach
 * (batches → records).
 *
 * @module
 */
import type { CollectBatch, ForEach, StreamShape } from "../dsl/mod.ts";
import type { Compiler, Mode, NodeResult } from "./_compiler.ts";

/** Compiles a CollectBatch. */
export function compileCollect(
  c: Compiler,
  node: CollectBatch,
  path: string,
  shape: StreamShape,
  mode: Mode,
): NodeResult {
  if (
    c.notInRouter(
      mode,
      path,
      "CollectBatch is not supported in Router branches (a Router is 1-to-1 in place); use Fork",
    )
  ) return null;
  if (node.window !== "collect") {
    c.error(
      path,
      `CollectBatch.window=${node.window} is not yet supported. Only WindowStrategy.COLLECT is available.`,
    );
  }
  if (!c.expect(path, node, "record", shape)) return null;
  return { node: { op: "collect", path, node }, out: "batch" };
}

/** Compiles a ForEach. */
export function compileForEach(c: Compiler, node: ForEach, path: string, shape: StreamShape): NodeResult {
  if (!c.expect(path, node, "batch", shape)) return null;
  return { node: { op: "for_each", path }, out: "record" };
}
