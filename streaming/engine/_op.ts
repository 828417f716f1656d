/**
 * The op contract of the engine: an op receives a chunk of items (records, or batches of records) and
 * pushes what survives to the next op; synchronous ops stay synchronous (no promise unless a step is async).
 *
 * @module
 */
import type { Message } from "../_message.ts";
import type { Emission, Item } from "./_emission.ts";

// deno-lint-ignore no-explicit-any
export type Any = any;

export type Chunk = Item[] | Item[][];
export type Flow = void | Promise<void>;

export interface Op {
  push(chunk: Chunk, em: Emission): Flow;
}

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") &&
    typeof (v as PromiseLike<unknown>).then === "function";
}

export function isMessageLike(v: unknown): v is Message {
  return typeof v === "object" && v !== null && "payload" in v && "meta" in v &&
    typeof (v as Message).meta === "object" && (v as Message).meta !== null &&
    typeof (v as Message).meta.messageId === "string";
}

export function all(flows: Flow[]): Flow {
  let ps: Promise<void>[] | null = null;
  for (const f of flows) if (f) (ps ??= []).push(f);
  if (!ps) return;
  return Promise.all(ps).then(() => {});
}

export const EMPTY: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

export class Failed {
  constructor(readonly error: unknown) {}
}
