/**
 * Shape-adapter ops: CollectBatch (buffers records per partition into batches, by size or inactivity)
 * and ForEach (flattens batches).
 *
 * @module
 */
import type { MessageMeta } from "../_message.ts";
import type { Emission, Item } from "./_emission.ts";
import type { Engine } from "./_engine.ts";
import type { Chunk, Flow, Op } from "./_op.ts";

export class ForEachOp implements Op {
  constructor(readonly next: Op) {}
  push(chunk: Chunk, em: Emission): Flow {
    const out: Item[] = [];
    for (const b of chunk as Item[][]) for (const it of b) out.push(it);
    if (out.length) return this.next.push(out, em);
  }
}

function batchKey(m: MessageMeta): string {
  if (m.partition !== null) return `${m.topic ?? "default"}:${m.partition}`;
  if (m.key !== null) return typeof m.key === "string" ? m.key : new TextDecoder().decode(m.key);
  return "loom";
}

export class CollectOp implements Op {
  readonly #buffers = new Map<string, { items: Item[]; last: number }>();
  #size = 0;
  constructor(readonly engine: Engine, readonly max: number, readonly timeout: number, readonly next: Op) {}

  get size(): number {
    return this.#size;
  }

  push(chunk: Chunk, em: Emission): Flow {
    const items = chunk as Item[];
    const now = this.engine.options.clock.now();
    let full: Item[][] | null = null;
    // consecutive items nearly always share a partition: the key is built once per run of them
    let meta: MessageMeta | null = null;
    let k = "";
    for (const it of items) {
      const m = it.message.meta;
      if (meta === null || m.partition !== meta.partition || m.topic !== meta.topic || m.partition === null) {
        k = batchKey(m);
        meta = m;
      }
      let b = this.#buffers.get(k);
      if (!b) {
        b = { items: [], last: now };
        this.#buffers.set(k, b);
      }
      b.items.push(it);
      b.last = now;
      this.#size++;
      if (b.items.length >= this.max) {
        (full ??= []).push(b.items);
        this.#size -= b.items.length;
        this.#buffers.delete(k);
      }
    }
    if (full) return this.next.push(full, em);
  }

  nextDeadline(): number | null {
    let min: number | null = null;
    for (const b of this.#buffers.values()) {
      const d = b.last + this.timeout;
      if (min === null || d < min) min = d;
    }
    return min;
  }

  expire(now: number, em: Emission): Flow {
    let out: Item[][] | null = null;
    for (const [k, b] of this.#buffers) {
      if (now === Infinity || now - b.last >= this.timeout) {
        (out ??= []).push(b.items);
        this.#size -= b.items.length;
        this.#buffers.delete(k);
      }
    }
    if (out) return this.next.push(out, em);
  }

  drop(topic: string, partition: number): void {
    const k = `${topic}:${partition}`;
    const b = this.#buffers.get(k);
    if (b) {
      this.#size -= b.items.length;
      this.#buffers.delete(k);
    }
  }
}
