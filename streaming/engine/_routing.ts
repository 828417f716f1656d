/**
 * Routing ops: Router (branches merge back in place), Fork (terminal split) and Broadcast (every
 * message to every route); Router and Fork pick branches with one BranchSelector.
 *
 * @module
 */
import { compilePredicate, compileSelector } from "../expr/mod.ts";
import type { Message } from "../_message.ts";
import type { CompiledNode, CompiledProcess, CompiledRouteTable } from "../_plan.ts";
import { isMessageType } from "../_type.ts";
import type { Emission, Item } from "./_emission.ts";
import type { Engine } from "./_engine.ts";
import { all, type Any, type Chunk, type Flow, type Op } from "./_op.ts";
import { DiscardOp } from "./_terminals.ts";

let markSeq = 1;

/**
 * Branch selection over the route table shared by Router and Fork: the selector key, else the first
 * predicate that holds, else the default.
 */
class BranchSelector {
  readonly #select: ((m: Message) => unknown) | null;
  readonly #keys: Map<unknown, number>;
  readonly #keyList: unknown[];
  readonly #preds: ((m: Message) => boolean)[];
  readonly #predBase: number;
  readonly defaultIndex: number;
  /** The branch processes by index: keyed, then predicate, then default. */
  readonly branches: readonly CompiledProcess[];

  constructor(table: CompiledRouteTable) {
    const { selector, keyed, predicates } = table;
    const hasDefault = table.default !== null;
    this.#select = selector ? compileSelector(selector as Any) as (m: Message) => unknown : null;
    this.#keys = new Map();
    this.#keyList = keyed.map(([k]) => k);
    keyed.forEach(([k], i) => {
      if (!this.#keys.has(k)) this.#keys.set(k, i);
    });
    // routes keyed by a MessageType also match its name (e.g. a selector on msg.meta.messageType)
    keyed.forEach(([k], i) => {
      if (isMessageType(k) && !this.#keys.has(k.name)) this.#keys.set(k.name, i);
    });
    this.#preds = predicates.map(([p]) => compilePredicate(p as Any) as (m: Message) => boolean);
    this.#predBase = keyed.length;
    this.defaultIndex = hasDefault ? keyed.length + predicates.length : -1;
    this.branches = [...keyed.map((k) => k[1]), ...predicates.map((p) => p[1])];
    if (table.default) (this.branches as CompiledProcess[]).push(table.default);
  }

  /** Branch index, or -1 for no match. Throws when the selector/predicate throws. */
  pick(m: Message): number {
    if (this.#select) {
      const key = this.#select(m);
      const i = this.#keys.get(key);
      if (i !== undefined) return i;
      if (typeof key === "object" && key !== null) {
        if (isMessageType(key)) {
          const j = this.#keyList.findIndex((k) =>
            k === key.name || (isMessageType(k) && k.name === key.name)
          );
          if (j >= 0) return j;
        }
      } else if (typeof key === "number" || typeof key === "bigint" || typeof key === "boolean") {
        const j = this.#keys.get(String(key));
        if (j !== undefined) return j;
      }
    }
    for (let p = 0; p < this.#preds.length; p++) if (this.#preds[p](m)) return this.#predBase + p;
    return this.defaultIndex;
  }
}

export class RouterOp implements Op {
  readonly #sel: BranchSelector;
  readonly #branches: Op[];
  readonly #collect: MarkOp;
  constructor(
    readonly engine: Engine,
    readonly node: Extract<CompiledNode, { op: "router" }>,
    readonly next: Op,
  ) {
    this.#sel = new BranchSelector(node);
    this.#collect = new MarkOp();
    this.#branches = this.#sel.branches.map((p) => engine.build(p, this.#collect));
  }

  push(chunk: Chunk, em: Emission): Flow {
    const items = chunk as Item[];
    const token = markSeq++;
    const groups: Item[][] = this.#branches.map(() => []);
    for (const it of items) {
      let b: number;
      try {
        b = this.#sel.pick(it.message);
      } catch (err) {
        this.engine.fail(it, err, "routing", this.node.path, em);
        continue;
      }
      it.mark = token;
      if (b < 0) continue; // no branch: passes through unchanged
      groups[b].push(it);
    }
    const flows: Flow[] = [];
    for (let b = 0; b < groups.length; b++) {
      if (groups[b].length === 0) continue;
      for (const it of groups[b]) it.mark = 0;
      flows.push(this.runBranch(b, groups[b], token, em));
    }
    const f = all(flows);
    const forward = (): Flow => {
      const out: Item[] = [];
      for (const it of items) if (it.mark === token) out.push(it);
      if (out.length && this.node.outputShape !== "none") return this.next.push(out, em);
    };
    return f ? f.then(forward) : forward();
  }

  private runBranch(b: number, group: Item[], token: number, em: Emission): Flow {
    // A step failing inside a branch is a task (or business) error like anywhere else; only selector and
    // predicate failures are routing errors. (The original classified everything in a Router as ROUTING.)
    const f = this.#branches[b].push(group, em);
    const merge = () => {
      for (const it of group) if (it.mark === MarkOp.ALIVE) it.mark = token;
    };
    return f ? f.then(merge) : merge();
  }
}

class MarkOp implements Op {
  static readonly ALIVE = -1;
  push(chunk: Chunk): Flow {
    for (const it of chunk as Item[]) it.mark = MarkOp.ALIVE;
  }
}

export class ForkOp implements Op {
  readonly #sel: BranchSelector;
  readonly #branches: Op[];
  constructor(readonly engine: Engine, readonly node: Extract<CompiledNode, { op: "fork" }>) {
    this.#sel = new BranchSelector(node);
    const end = new DiscardOp(engine);
    this.#branches = this.#sel.branches.map((p) => engine.build(p, end));
  }

  push(chunk: Chunk, em: Emission): Flow {
    const batchShaped = chunk.length > 0 && Array.isArray(chunk[0]);
    const groups: Chunk[] = this.#branches.map(() => []);
    const route = (it: Item): number => {
      try {
        return this.#sel.pick(it.message);
      } catch (err) {
        // QUIRK fixed: the original crashed the dataflow on selector/predicate errors.
        this.engine.fail(it, err, "routing", this.node.path, em);
        return -2;
      }
    };
    if (batchShaped) {
      for (const batch of chunk as Item[][]) {
        const parts = new Map<number, Item[]>();
        for (const it of batch) {
          const b = route(it);
          if (b === -2) continue;
          if (b === -1) {
            this.engine.discard(it, em); // unmatched, no default: deliberately discarded
            continue;
          }
          let p = parts.get(b);
          if (!p) parts.set(b, p = []);
          p.push(it);
        }
        for (const [b, p] of parts) (groups[b] as Item[][]).push(p);
      }
    } else {
      for (const it of chunk as Item[]) {
        const b = route(it);
        if (b === -2) continue;
        if (b === -1) {
          this.engine.discard(it, em);
          continue;
        }
        (groups[b] as Item[]).push(it);
      }
    }
    const flows: Flow[] = [];
    for (let b = 0; b < groups.length; b++) {
      if (groups[b].length) flows.push(this.#branches[b].push(groups[b], em));
    }
    return all(flows);
  }
}

export class BroadcastOp implements Op {
  constructor(readonly engine: Engine, readonly routes: Op[]) {}
  push(chunk: Chunk, em: Emission): Flow {
    const n = this.routes.length;
    const tracker = this.engine.options.tracker;
    const batchShaped = chunk.length > 0 && Array.isArray(chunk[0]);
    const each = (it: Item) => tracker.fork(it.origin, n - 1);
    if (batchShaped) { for (const b of chunk as Item[][]) b.forEach(each); }
    else (chunk as Item[]).forEach(each);
    const flows: Flow[] = [];
    for (let r = 0; r < n; r++) {
      const copy = (it: Item): Item => ({ message: it.message, type: it.type, origin: it.origin, mark: 0 });
      const c: Chunk = r === n - 1
        ? chunk
        : batchShaped
        ? (chunk as Item[][]).map((b) => b.map(copy))
        : (chunk as Item[]).map(copy);
      flows.push(this.routes[r].push(c, em));
    }
    return all(flows);
  }
}
