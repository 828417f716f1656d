/**
 * The op contract of the engine: an op receives a chunk of items (records, or batches of records) and
 * pushes what survives to the next op; synchronous ops stay synchronous (no promise unless a step is async).
 *
 * @module
 */
import type { Emission, Item } from "./_emission.ts";

/** Steps and expanders are type-erased inside the engine. */
// deno-lint-ignore no-explicit-any
export type Any = any;

/** What an op receives: records (record-shaped edge) or batches of records (batch-shaped edge). */
export type Chunk = Item[] | Item[][];
/** An op's completion: nothing when it finished synchronously, else a promise. */
export type Flow = void | Promise<void>;

/** One node of the op chain. */
export interface Op {
  push(chunk: Chunk, em: Emission): Flow;
}

/** True for promises and other thenables. */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") &&
    typeof (v as PromiseLike<unknown>).then === "function";
}

/** Joins completions: synchronous when every one was. */
export function all(flows: Flow[]): Flow {
  let ps: Promise<void>[] | null = null;
  for (const f of flows) if (f) (ps ??= []).push(f);
  if (!ps) return;
  return Promise.all(ps).then(() => {});
}

/** The deps passed to steps outside With/WithAsync. */
export const EMPTY: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** A thrown error or rejection captured as a result. */
export class Failed {
  constructor(readonly error: unknown) {}
}
