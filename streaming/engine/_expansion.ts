/**
 * Expansion ops: Explode and ExpandRoutes run a PayloadExpander and fork the source origin once
 * per produced row.
 *
 * @module
 */
import type { CompiledNode } from "../_plan.ts";
import { isMessageType, type MessageType } from "../_type.ts";
import type { Emission, Item } from "./_emission.ts";
import type { Engine } from "./_engine.ts";
import { all, type Any, type Chunk, type Flow, type Op } from "./_op.ts";
import { DiscardOp } from "./_terminals.ts";

function expandedEntries(rows: unknown, name: string): [string, MessageType | null, unknown[]][] {
  const out: [string, MessageType | null, unknown[]][] = [];
  if (rows instanceof Map) {
    for (const [k, v] of rows) {
      if (v === null || v === undefined || typeof (v as Iterable<unknown>)[Symbol.iterator] !== "function") {
        throw new TypeError(`${name}: rows for '${isMessageType(k) ? k.name : String(k)}' must be iterable.`);
      }
      out.push([isMessageType(k) ? k.name : String(k), isMessageType(k) ? k : null, [
        ...(v as Iterable<unknown>),
      ]]);
    }
    return out;
  }
  if (rows === null || typeof rows !== "object") {
    throw new TypeError(`${name} must return a mapping of output types to payload lists.`);
  }
  for (const [k, v] of Object.entries(rows as Record<string, unknown>)) {
    if (v === null || v === undefined || typeof (v as Iterable<unknown>)[Symbol.iterator] !== "function") {
      throw new TypeError(`${name}: rows for '${k}' must be iterable.`);
    }
    out.push([k, null, [...(v as Iterable<unknown>)]]);
  }
  return out;
}

function expanderName(x: { name?: string; constructor?: { name?: string } }): string {
  return x.name || (x.constructor?.name !== "Object" ? x.constructor?.name : undefined) || "PayloadExpander";
}

function rowItem(it: Item, typeName: string, type: MessageType | null, row: unknown): Item {
  const meta = it.message.meta;
  return {
    message: {
      payload: row,
      meta: { ...meta, messageType: typeName, messageVersion: type?.version ?? meta.messageVersion },
    },
    type,
    origin: it.origin,
    mark: 0,
  };
}

export class ExplodeOp implements Op {
  readonly #types: Map<string, MessageType>;
  constructor(readonly engine: Engine, readonly path: string, readonly expander: Any, readonly next: Op) {
    this.#types = new Map((expander.outputs ?? []).map((t: MessageType) => [t.name, t]));
  }
  push(chunk: Chunk, em: Emission): Flow {
    const out: Item[] = [];
    const name = expanderName(this.expander);
    for (const it of chunk as Item[]) {
      let entries: [string, MessageType | null, unknown[]][];
      try {
        this.engine.before(name, this.path);
        entries = expandedEntries(this.expander.expand(it.message.payload), name);
      } catch (err) {
        this.engine.fail(it, err, "task", this.path, em);
        continue;
      }
      const children: Item[] = [];
      for (const [tn, t, rows] of entries) {
        for (const row of rows) children.push(rowItem(it, tn, t ?? this.#types.get(tn) ?? null, row));
      }
      if (children.length === 0) {
        this.engine.discard(it, em);
        continue;
      }
      this.engine.options.tracker.fork(it.origin, children.length - 1);
      for (const c of children) out.push(c);
    }
    if (out.length) return this.next.push(out, em);
  }
}

export class ExpandRoutesOp implements Op {
  readonly #routes: Map<string, number>;
  readonly #ops: Op[];
  readonly #default: Op | null;
  readonly #types: Map<string, MessageType>;
  constructor(readonly engine: Engine, readonly node: Extract<CompiledNode, { op: "expand_routes" }>) {
    const end = new DiscardOp(engine);
    this.#routes = new Map(node.routes.map(([n], i) => [n, i]));
    this.#ops = node.routes.map(([, , p]) => engine.build(p, end));
    this.#default = node.default ? engine.build(node.default, end) : null;
    this.#types = new Map();
    for (const [n, t] of node.routes) if (t) this.#types.set(n, t);
    for (const t of (node.expander.outputs ?? []) as MessageType[]) this.#types.set(t.name, t);
  }
  push(chunk: Chunk, em: Emission): Flow {
    const groups: Item[][] = this.#ops.map(() => []);
    const def: Item[] = [];
    const name = expanderName(this.node.expander);
    for (const it of chunk as Item[]) {
      let entries: [string, MessageType | null, unknown[]][];
      try {
        this.engine.before(name, this.node.path);
        entries = expandedEntries(this.node.expander.expand(it.message.payload), name);
      } catch (err) {
        // QUIRK fixed: expander errors crashed the original; they are task errors here.
        this.engine.fail(it, err, "task", this.node.path, em);
        continue;
      }
      let n = 0;
      const children: [number, Item][] = [];
      for (const [tn, t, rows] of entries) {
        const r = this.#routes.get(tn);
        if (r === undefined && !this.#default) continue; // undeclared type, no default: not routed
        for (const row of rows) {
          children.push([r ?? -1, rowItem(it, tn, t ?? this.#types.get(tn) ?? null, row)]);
          n++;
        }
      }
      if (n === 0) {
        this.engine.discard(it, em);
        continue;
      }
      this.engine.options.tracker.fork(it.origin, n - 1);
      for (const [r, c] of children) (r >= 0 ? groups[r] : def).push(c);
    }
    const flows: Flow[] = [];
    for (let r = 0; r < groups.length; r++) {
      if (groups[r].length) flows.push(this.#ops[r].push(groups[r], em));
    }
    if (def.length && this.#default) flows.push(this.#default.push(def, em));
    return all(flows);
  }
}
