/**
 * Terminal ops: Drain (discard), IntoTopic (encode and emit) and storage sinks (rows per table).
 *
 * @module
 */
import type { CompiledTopicSink } from "../_plan.ts";
import type { Emission } from "./_emission.ts";
import type { Engine } from "./_engine.ts";
import type { Chunk, Flow, Op } from "./_op.ts";

export class DiscardOp implements Op {
  constructor(readonly engine: Engine) {}
  push(chunk: Chunk, em: Emission): Flow {
    for (const x of chunk) {
      if (Array.isArray(x)) { for (const it of x) this.engine.discard(it, em); }
      else this.engine.discard(x, em);
    }
  }
}

export class TopicOp implements Op {
  constructor(
    readonly engine: Engine,
    readonly sink: CompiledTopicSink,
    readonly shape: "record" | "batch",
  ) {}
  push(chunk: Chunk, em: Emission): Flow {
    const e = this.engine, s = this.sink;
    for (const x of chunk) {
      if (Array.isArray(x)) { for (const it of x) e.write(it, s, em); }
      else e.write(x, s, em);
    }
  }
}

export class TableOp implements Op {
  constructor(readonly path: string, readonly name: string, readonly shape: "record" | "batch") {}
  push(chunk: Chunk, em: Emission): Flow {
    let t = em.tables.get(this.path);
    if (!t) {
      t = { path: this.path, name: this.name, rows: [], origins: [], items: [] };
      em.tables.set(this.path, t);
    }
    for (const x of chunk) {
      if (Array.isArray(x)) {
        for (const it of x) {
          t.rows.push(it.message.payload);
          t.origins.push(it.origin);
          t.items.push(it);
        }
      } else {
        t.rows.push(x.message.payload);
        t.origins.push(x.origin);
        t.items.push(x);
      }
    }
  }
}
