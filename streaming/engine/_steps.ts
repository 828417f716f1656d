/**
 * Step ops: RecordStep, BatchStep, ExpandStep and BatchExpandStep; failures become task (or business)
 * errors of the message, results are applied in input order.
 *
 * @module
 */
import type { MessageType } from "../_type.ts";
import type { Emission, Item } from "./_emission.ts";
import type { Engine } from "./_engine.ts";
import { type Any, type Chunk, EMPTY, Failed, type Flow, isThenable, type Op } from "./_op.ts";

export class RecordStepOp implements Op {
  constructor(
    readonly engine: Engine,
    readonly step: Any,
    readonly name: string,
    readonly path: string,
    readonly next: Op,
  ) {}

  push(chunk: Chunk, em: Emission): Flow {
    const items = chunk as Item[];
    const e = this.engine, step = this.step, out = step.output as MessageType | undefined;
    const survivors: Item[] = [];
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      let r: unknown;
      try {
        e.before(this.name, this.path);
        r = step.execute(it.message, EMPTY);
      } catch (err) {
        e.fail(it, err, "task", this.path, em);
        continue;
      }
      if (isThenable(r)) return this.finishAsync(items, i, r, survivors, em);
      try {
        e.apply(it, r, out);
        survivors.push(it);
      } catch (err) {
        e.fail(it, err, "task", this.path, em);
      }
    }
    if (survivors.length) return this.next.push(survivors, em);
  }

  /** Some step returned a promise: start the rest, then settle all in input order. */
  private async finishAsync(
    items: Item[],
    first: number,
    firstResult: PromiseLike<unknown>,
    survivors: Item[],
    em: Emission,
  ): Promise<void> {
    const e = this.engine, step = this.step, out = step.output as MessageType | undefined;
    const pending: { it: Item; r: unknown; err?: unknown; threw: boolean }[] = [
      { it: items[first], r: firstResult, threw: false },
    ];
    for (let i = first + 1; i < items.length; i++) {
      const it = items[i];
      try {
        e.before(this.name, this.path);
        pending.push({ it, r: step.execute(it.message, EMPTY), threw: false });
      } catch (err) {
        pending.push({ it, r: undefined, err, threw: true });
      }
    }
    const settled = await Promise.allSettled(pending.map((p) => p.threw ? Promise.reject(p.err) : p.r));
    for (let k = 0; k < pending.length; k++) {
      const s = settled[k], it = pending[k].it;
      if (s.status === "rejected") {
        e.fail(it, s.reason, "task", this.path, em);
        continue;
      }
      try {
        e.apply(it, s.value, out);
        survivors.push(it);
      } catch (err) {
        e.fail(it, err, "task", this.path, em);
      }
    }
    if (survivors.length) await this.next.push(survivors, em);
  }
}

export class BatchStepOp implements Op {
  constructor(
    readonly engine: Engine,
    readonly step: Any,
    readonly name: string,
    readonly path: string,
    readonly next: Op,
    readonly overRecords: boolean,
  ) {}

  push(chunk: Chunk, em: Emission): Flow {
    const batches = this.overRecords ? [chunk as Item[]] : chunk as Item[][];
    const outs: Item[][] = [];
    let promises: Promise<void>[] | null = null;
    for (const b of batches) {
      if (b.length === 0) continue;
      let r: unknown;
      try {
        this.engine.before(this.name, this.path);
        r = this.step.execute(b.map((it) => it.message), EMPTY);
      } catch (err) {
        for (const it of b) this.engine.fail(it, err, "task", this.path, em);
        continue;
      }
      if (isThenable(r)) {
        const slot = outs.length;
        outs.push([]);
        (promises ??= []).push(
          Promise.resolve(r).then(
            (v) => {
              outs[slot] = this.settle(b, v, em);
            },
            (err) => {
              for (const it of b) this.engine.fail(it, err, "task", this.path, em);
            },
          ),
        );
      } else outs.push(this.settle(b, r, em));
    }
    const forward = (): Flow => {
      if (this.overRecords) {
        const flat = outs.flat();
        if (flat.length) return this.next.push(flat, em);
        return;
      }
      const nonEmpty = outs.filter((b) => b.length > 0);
      if (nonEmpty.length) return this.next.push(nonEmpty, em);
    };
    if (promises) return Promise.all(promises).then(forward);
    return forward();
  }

  private settle(batch: Item[], result: unknown, em: Emission): Item[] {
    const e = this.engine;
    if (!Array.isArray(result)) {
      const err = new TypeError(`${this.name} must return an array of payloads.`);
      for (const it of batch) e.fail(it, err, "task", this.path, em);
      return [];
    }
    if (result.length !== batch.length) {
      const err = new RangeError(
        `Batch task output length must match input length (${this.name} returned ${result.length} for ${batch.length}).`,
      );
      for (const it of batch) e.fail(it, err, "task", this.path, em);
      return [];
    }
    const out: Item[] = [];
    const t = this.step.output as MessageType | undefined;
    for (let i = 0; i < batch.length; i++) {
      try {
        e.apply(batch[i], result[i], t);
        out.push(batch[i]);
      } catch (err) {
        e.fail(batch[i], err, "task", this.path, em);
      }
    }
    return out;
  }
}

/**
 * Calls `invoke(i)` for i in [0, n), capturing thrown errors and rejected promises as {@link Failed};
 * when any call returned a promise, waits for all of them before `finish` (otherwise stays synchronous).
 */
function settleAll(n: number, invoke: (i: number) => unknown, finish: (results: unknown[]) => Flow): Flow {
  const results: unknown[] = new Array(n);
  let promises: Promise<void>[] | null = null;
  for (let i = 0; i < n; i++) {
    try {
      const r = invoke(i);
      results[i] = r;
      if (isThenable(r)) {
        (promises ??= []).push(
          Promise.resolve(r).then((v) => {
            results[i] = v;
          }, (err) => {
            results[i] = new Failed(err);
          }),
        );
      }
    } catch (err) {
      results[i] = new Failed(err);
    }
  }
  if (promises) return Promise.all(promises).then(() => finish(results));
  return finish(results);
}

export class ExpandStepOp implements Op {
  constructor(
    readonly engine: Engine,
    readonly step: Any,
    readonly name: string,
    readonly path: string,
    readonly next: Op,
  ) {}

  push(chunk: Chunk, em: Emission): Flow {
    const items = chunk as Item[];
    const out: Item[] = [];
    return settleAll(items.length, (i) => {
      this.engine.before(this.name, this.path);
      return this.step.execute(items[i].message, EMPTY);
    }, (results) => {
      for (let i = 0; i < items.length; i++) this.settle(items[i], results[i], out, em);
      if (out.length) return this.next.push(out, em);
    });
  }

  settle(it: Item, r: unknown, out: Item[], em: Emission): void {
    if (r instanceof Failed) {
      this.engine.fail(it, r.error, "task", this.path, em);
      return;
    }
    try {
      expandChecked(this.engine, it, r, this.step.output, out, this.name, em);
    } catch (err) {
      this.engine.fail(it, err, "task", this.path, em);
    }
  }
}

function expandChecked(
  e: Engine,
  it: Item,
  results: unknown,
  output: MessageType | undefined,
  into: Item[],
  name: string,
  em: Emission,
): void {
  if (
    results === null || results === undefined || typeof results === "string" ||
    typeof (results as Iterable<unknown>)[Symbol.iterator] !== "function"
  ) {
    throw new TypeError(`${name} must return an iterable of payloads.`);
  }
  const arr = Array.isArray(results) ? results : [...(results as Iterable<unknown>)];
  if (arr.length === 0) {
    e.discard(it, em);
    return;
  }
  // validate all results before forking the origin
  const base = it.message, baseType = it.type, origin = it.origin;
  const children: Item[] = [];
  for (let k = 0; k < arr.length; k++) {
    const child: Item = { message: base, type: baseType, origin, mark: 0 };
    e.apply(child, arr[k], output);
    children.push(child);
  }
  if (children.length > 1) e.options.tracker.fork(origin, children.length - 1);
  for (const c of children) into.push(c);
}

export class BatchExpandStepOp implements Op {
  constructor(
    readonly engine: Engine,
    readonly step: Any,
    readonly name: string,
    readonly path: string,
    readonly next: Op,
  ) {}

  push(chunk: Chunk, em: Emission): Flow {
    const batches = chunk as Item[][];
    const out: Item[] = [];
    return settleAll(batches.length, (b) => {
      this.engine.before(this.name, this.path);
      return this.step.execute(batches[b].map((it) => it.message), EMPTY);
    }, (results) => {
      for (let b = 0; b < batches.length; b++) this.settle(batches[b], results[b], out, em);
      if (out.length) return this.next.push(out, em);
    });
  }

  settle(batch: Item[], r: unknown, out: Item[], em: Emission): void {
    const e = this.engine;
    if (r instanceof Failed) {
      for (const it of batch) e.fail(it, r.error, "task", this.path, em);
      return;
    }
    const groups = r !== null && typeof r === "object" && Symbol.iterator in (r as object)
      ? [...(r as Iterable<unknown>)]
      : null;
    if (!groups || groups.length !== batch.length) {
      const err = new TypeError(
        `${this.name} must return one iterable of outputs per input message (got ${
          groups ? groups.length : typeof r
        } for ${batch.length}).`,
      );
      for (const it of batch) e.fail(it, err, "task", this.path, em);
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      try {
        expandChecked(e, batch[i], groups[i], this.step.output, out, this.name, em);
      } catch (err) {
        e.fail(batch[i], err, "task", this.path, em);
      }
    }
  }
}
