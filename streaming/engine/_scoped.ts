/**
 * The With / WithAsync op: opens worker- or batch-scoped resources, runs the inner record steps with
 * them (bounded concurrency and time limit for WithAsync) and disposes them in reverse order.
 *
 * @module
 */
import type { CompiledNode } from "../_plan.ts";
import type { Emission, Item } from "./_emission.ts";
import type { Engine } from "./_engine.ts";
import { TaskTimeoutError } from "./_errors.ts";
import { type Any, type Chunk, Failed, type Flow, isThenable, type Op } from "./_op.ts";

async function disposeAll(resources: unknown[]): Promise<void> {
  const errors: unknown[] = [];
  for (let i = resources.length - 1; i >= 0; i--) {
    const r = resources[i] as Partial<AsyncDisposable & Disposable> | null;
    try {
      if (r && typeof r[Symbol.asyncDispose] === "function") await r[Symbol.asyncDispose]!();
      else if (r && typeof r[Symbol.dispose] === "function") r[Symbol.dispose]!();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, "errors while disposing resources");
}

function disposeAllSync(resources: unknown[]): void {
  const errors: unknown[] = [];
  for (let i = resources.length - 1; i >= 0; i--) {
    const r = resources[i] as Partial<Disposable> | null;
    try {
      if (r && typeof r[Symbol.dispose] === "function") r[Symbol.dispose]!();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, "errors while disposing resources");
}

export class WithOp implements Op {
  #worker: Record<string, unknown> | null = null;
  #workerOwned: unknown[] = [];
  constructor(readonly engine: Engine, readonly n: Extract<CompiledNode, { op: "with" }>) {}

  async openWorker(): Promise<void> {
    const d = this.n.deps;
    const deps: Record<string, unknown> = { ...d.plain };
    if (this.n.scope === "worker") {
      const owned: unknown[] = [];
      try {
        for (const [k, v] of Object.entries(d.contexts)) deps[k] = v; // direct instances: injected as they are
        for (const [k, f] of Object.entries(d.factories)) {
          const r = await f.create();
          owned.push(r);
          deps[k] = r;
        }
      } catch (e) {
        await disposeAll(owned).catch(() => {});
        throw e;
      }
      // direct context instances are owned by the worker scope as well (disposed at close)
      this.#workerOwned = [...Object.values(d.contexts), ...owned];
    }
    this.#worker = deps;
  }

  async closeWorker(): Promise<void> {
    const owned = this.#workerOwned;
    this.#workerOwned = [];
    this.#worker = null;
    await disposeAll(owned);
  }

  /** Opens BATCH-scoped resources (fresh from every factory, in order; rolled back on failure). */
  private openBatch():
    | { deps: Record<string, unknown>; owned: unknown[] }
    | Promise<{ deps: Record<string, unknown>; owned: unknown[] }> {
    const base = this.#worker ?? { ...this.n.deps.plain };
    if (this.n.scope !== "batch" || Object.keys(this.n.deps.factories).length === 0) {
      return { deps: base, owned: [] };
    }
    const deps = { ...base };
    const owned: unknown[] = [];
    const entries = Object.entries(this.n.deps.factories);
    const step = (
      i: number,
    ):
      | { deps: Record<string, unknown>; owned: unknown[] }
      | Promise<{ deps: Record<string, unknown>; owned: unknown[] }> => {
      for (; i < entries.length; i++) {
        const [k, f] = entries[i];
        let r: unknown;
        try {
          r = f.create();
        } catch (e) {
          if (this.n.async) return disposeAll(owned).catch(() => {}).then(() => Promise.reject(e));
          try {
            disposeAllSync(owned);
          } catch { /* rollback errors are secondary */ }
          throw e;
        }
        if (isThenable(r)) {
          if (!this.n.async) {
            try {
              disposeAllSync(owned);
            } catch { /* secondary */ }
            throw new TypeError(`With factory '${k}' returned a promise; use WithAsync for async resources`);
          }
          const j = i;
          return Promise.resolve(r).then((v) => {
            owned.push(v);
            deps[k] = v;
            return step(j + 1);
          }, (e) => disposeAll(owned).catch(() => {}).then(() => Promise.reject(e)));
        }
        owned.push(r);
        deps[k] = r;
      }
      return { deps, owned };
    };
    return step(0);
  }

  push(chunk: Chunk, em: Emission): Flow {
    const invocations: Item[][] = this.n.inputShape === "batch" ? chunk as Item[][] : [chunk as Item[]];
    if (!this.n.async) {
      for (const inv of invocations) if (inv.length) this.runSync(inv, em);
      return;
    }
    return (async () => {
      for (const inv of invocations) if (inv.length) await this.runAsync(inv, em);
    })();
  }

  private failAll(items: Item[], err: unknown, em: Emission): void {
    for (const it of items) this.engine.fail(it, err, "task", this.n.path, em);
  }

  private runSync(items: Item[], em: Emission): void {
    let scope: { deps: Record<string, unknown>; owned: unknown[] };
    try {
      scope = this.openBatch() as { deps: Record<string, unknown>; owned: unknown[] };
    } catch (err) {
      this.failAll(items, err, em);
      return;
    }
    const e = this.engine;
    let live = items;
    for (const s of this.n.steps) {
      const next: Item[] = [];
      for (const it of live) {
        try {
          e.before(s.name, s.path);
          const r = (s.step as Any).execute(it.message, scope.deps);
          if (isThenable(r)) throw new TypeError(`${s.name} returned a promise inside With; use WithAsync`);
          e.apply(it, r, s.step.output);
          next.push(it);
        } catch (err) {
          e.fail(it, err, "task", s.path, em);
        }
      }
      live = next;
    }
    this.finish(live, em);
    if (scope.owned.length) disposeAllSync(scope.owned);
  }

  private finish(live: Item[], em: Emission): void {
    const sink = this.n.sink;
    for (const it of live) {
      if (sink) this.engine.write(it, sink, em);
      else this.engine.discard(it, em);
    }
  }

  private async runAsync(items: Item[], em: Emission): Promise<void> {
    let scope: { deps: Record<string, unknown>; owned: unknown[] };
    try {
      scope = await this.openBatch();
    } catch (err) {
      this.failAll(items, err, em);
      return;
    }
    const e = this.engine;
    const results: (Failed | null)[] = new Array(items.length).fill(null);
    const limit = Math.min(this.n.maxConcurrency, items.length);
    let nextIndex = 0;
    const timeout = this.n.taskTimeoutMs;
    const clock = e.options.clock;
    const steps = this.n.steps;
    const runOne = async (it: Item): Promise<void> => {
      for (let k = 0; k < steps.length; k++) {
        const s = steps[k];
        e.before(s.name, s.path);
        const r = await (s.step as Any).execute(it.message, scope.deps);
        e.apply(it, r, s.step.output);
      }
    };
    const worker = async (): Promise<void> => {
      while (nextIndex < items.length) {
        const i = nextIndex++;
        const it = items[i];
        try {
          if (timeout === null) {
            // the steps run here, not in runOne: one async frame and promise fewer per message
            for (let k = 0; k < steps.length; k++) {
              const s = steps[k];
              e.before(s.name, s.path);
              let r = (s.step as Any).execute(it.message, scope.deps);
              if (isThenable(r)) r = await r;
              e.apply(it, r, s.step.output);
            }
          } else {
            let timedOut = false;
            const timer = clock.sleep(timeout).then(() => {
              timedOut = true;
            });
            const task = runOne(it);
            await Promise.race([task, timer]);
            if (timedOut) {
              task.catch(() => {}); // the late result is ignored
              throw new TaskTimeoutError(timeout);
            }
          }
        } catch (err) {
          results[i] = new Failed(err);
        }
      }
    };
    const workers: Promise<void>[] = [];
    for (let w = 0; w < limit; w++) workers.push(worker());
    await Promise.all(workers);
    const live: Item[] = [];
    for (let i = 0; i < items.length; i++) {
      const r = results[i];
      if (r) e.fail(items[i], r.error, "task", this.n.path, em);
      else live.push(items[i]);
    }
    this.finish(live, em);
    if (scope.owned.length) await disposeAll(scope.owned);
  }
}
