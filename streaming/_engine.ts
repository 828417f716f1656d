/**
 * The engine: executes a {@link CompiledPlan} over batches of source records. It is transport-free:
 * it turns a batch into an {@link Emission} (records per output topic, rows per table, error
 * envelopes, discards) and the driver delivers that emission through a transport.
 *
 * Batches flow end to end: every node receives the whole chunk of messages; synchronous steps run in
 * a plain loop and only asynchronous steps create promises.
 *
 * @module
 */
import type { Clock, IdSource } from "./_clock.ts";
import { compilePredicate, compileSelector } from "./_expr.ts";
import {
  DomainError,
  type ErrorEnvelope,
  type ErrorKind,
  type ErrorMessageMeta,
  type Message,
  type MessageMeta,
} from "./_message.ts";
import type { MessageType } from "./_type.ts";
import { isMessageType } from "./_type.ts";
import type { CompiledNode, CompiledPlan, CompiledProcess, CompiledTopicSink } from "./_plan.ts";
import { type OffsetTracker, Origin } from "./_tracker.ts";
import type { OutgoingRecord, RecordBatch, SourceRecord } from "./_transport.ts";
import type { Wire } from "./_wire.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/**
 * A message travelling through the engine, with its payload type and the record it came from.
 *
 * @example
 * ```ts
 * import { type Item, message, OffsetTracker } from "@loom/streaming";
 * const item: Item = {
 *   message: message({ order_id: "o-1" }, { messageId: "orders:0:0" }),
 *   type: null,
 *   origin: new OffsetTracker().register("orders", 0, 0),
 *   mark: 0,
 * };
 * ```
 */
export interface Item {
  /** The message. */
  message: Message;
  /** Its payload type, or null when unknown. */
  type: MessageType | null;
  /** Completion state of the source record it came from. */
  readonly origin: Origin;
  /** Router merge token. */
  mark: number;
}

/**
 * Records for one output topic, with the origin each record settles once acknowledged.
 *
 * @example
 * ```ts
 * import { Emission } from "@loom/streaming";
 * for (const batch of new Emission().topics.values()) console.log(batch.topic, batch.records.length);
 * ```
 */
export interface TopicBatch {
  /** Physical topic. */
  readonly topic: string;
  /** Encoded records. */
  readonly records: OutgoingRecord[];
  /** Origin settled by each record once acknowledged (same index). */
  readonly origins: Origin[];
  /** Dead-letter topic per record (null: none). */
  readonly dlqs: (string | null)[];
}

/**
 * Rows for one storage sink.
 *
 * @example
 * ```ts
 * import { Emission } from "@loom/streaming";
 * for (const batch of new Emission().tables.values()) console.log(batch.name, batch.rows.length);
 * ```
 */
export interface TableBatch {
  /** Node path of the sink. */
  readonly path: string;
  /** Sink name. */
  readonly name: string;
  /** Rows (payloads) to write. */
  readonly rows: unknown[];
  /** Origin settled by each row once written (same index). */
  readonly origins: Origin[];
  /** The message of each row (same index): a row the sink refuses is error-routed with it. */
  readonly items: Item[];
}

/**
 * An error that had no error route (surfaced, never silently dropped).
 *
 * @example
 * ```ts
 * import type { UnroutedError } from "@loom/streaming";
 * const u: UnroutedError = { kind: "task", reason: "boom", messageId: "orders:0:7", path: "process[1]" };
 * ```
 */
export interface UnroutedError {
  /** Error kind. */
  readonly kind: ErrorKind;
  /** Why the message failed. */
  readonly reason: string;
  /** Id of the failed message, when known. */
  readonly messageId: string | null;
  /** Node path where the error happened. */
  readonly path: string;
}

/**
 * Everything one engine call produced, to be delivered by the driver.
 *
 * @example
 * ```ts
 * import { Emission, OffsetTracker } from "@loom/streaming";
 * const em = new Emission();
 * const origin = new OffsetTracker().register("orders", 0, 0);
 * em.addRecord("orders.out", { key: null, value: new Uint8Array([0x80]), headers: {}, timestampMs: null }, origin, null);
 * em.empty; // false
 * ```
 */
export class Emission {
  /** Records per output topic. */
  readonly topics: Map<string, TopicBatch> = new Map();
  /** Rows per storage sink path. */
  readonly tables: Map<string, TableBatch> = new Map();
  /** Errors without an error route (policy `log`). */
  readonly unrouted: UnroutedError[] = [];
  /** Error envelopes by kind (counts). */
  readonly errorCounts: Record<ErrorKind, number> = { wire: 0, routing: 0, task: 0, business: 0 };
  /** Messages deliberately discarded. */
  discarded = 0;
  /** Origins settled without delivery (discards); the driver releases them after a successful delivery. */
  readonly releases: Origin[] = [];

  /** Adds an outgoing record. */
  addRecord(topic: string, record: OutgoingRecord, origin: Origin, dlq: string | null): void {
    let b = this.topics.get(topic);
    if (!b) {
      b = { topic, records: [], origins: [], dlqs: [] };
      this.topics.set(topic, b);
    }
    b.records.push(record);
    b.origins.push(origin);
    b.dlqs.push(dlq);
  }

  /** True when nothing needs delivering. */
  get empty(): boolean {
    return this.topics.size === 0 && this.tables.size === 0 && this.releases.length === 0;
  }

  /**
   * Puts the records of every topic (and the rows of every table) in input order per source partition.
   * Branches that end in the same topic (Router/Fork terminals, Broadcast routes, error routes) append
   * their records branch by branch; without this, two messages of one key taking different branches
   * would reach the topic swapped. Records of one input keep their relative order (stable). Costs one
   * scan when the order is already right (the common case). (Rows of two `IntoTable` nodes are two
   * writes, made concurrently, even when both name the same table.)
   */
  orderByInput(): void {
    for (const b of this.topics.values()) {
      const perm = inputPermutation(b.origins);
      if (perm !== null) {
        permute(b.records, perm);
        permute(b.origins, perm);
        permute(b.dlqs, perm);
      }
    }
    for (const t of this.tables.values()) {
      const perm = inputPermutation(t.origins);
      if (perm !== null) {
        permute(t.rows, perm);
        permute(t.origins, perm);
        permute(t.items, perm);
      }
    }
  }
}

/** The stable permutation that sorts `origins` by (partition, offset), or null when they already are. */
function inputPermutation(origins: readonly Origin[]): number[] | null {
  const n = origins.length;
  if (n < 2) return null;
  let state = origins[0].partition;
  let last = origins[0].offset;
  let seen: Map<unknown, number> | null = null; // last offset per partition, once several are interleaved
  let ordered = true;
  for (let i = 1; i < n && ordered; i++) {
    const o = origins[i];
    if (o.partition === state) {
      if (o.offset < last) ordered = false;
      last = o.offset;
      continue;
    }
    seen ??= new Map();
    seen.set(state, last);
    const prev = seen.get(o.partition);
    if (prev !== undefined && o.offset < prev) ordered = false;
    state = o.partition;
    last = o.offset;
  }
  if (ordered) return null;
  const rank = new Map<unknown, number>();
  for (const o of origins) if (!rank.has(o.partition)) rank.set(o.partition, rank.size);
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => {
    const oa = origins[a], ob = origins[b];
    return (rank.get(oa.partition)! - rank.get(ob.partition)!) || (oa.offset - ob.offset) || (a - b);
  });
  return idx;
}

function permute<T>(xs: T[], perm: readonly number[]): void {
  const copy = xs.slice();
  for (let i = 0; i < perm.length; i++) xs[i] = copy[perm[i]];
}

/**
 * Raised (under the `fail` policy) when an error has no error route.
 *
 * @example
 * ```ts
 * import { UnroutedErrorFailure } from "@loom/streaming";
 * const e = new UnroutedErrorFailure({ kind: "task", reason: "boom", messageId: "orders:0:7", path: "process[1]" });
 * e.error.kind; // "task"
 * ```
 */
export class UnroutedErrorFailure extends Error {
  /**
   * Creates a {@link UnroutedErrorFailure}.
   *
   * @param error the unrouted error
   */
  constructor(readonly error: UnroutedError) {
    super(
      `unrouted ${error.kind} error at ${error.path} for message ${
        error.messageId ?? "?"
      }: ${error.reason}. ` +
        `Declare an error route (StreamFlow errors) or set streaming.runtime.unrouted_errors: log`,
    );
    this.name = "UnroutedErrorFailure";
  }
}

/**
 * A step's per-message time limit was exceeded.
 *
 * @example
 * ```ts
 * import { TaskTimeoutError } from "@loom/streaming";
 * new TaskTimeoutError(1_000).message; // "task timed out after 1000 ms"
 * ```
 */
export class TaskTimeoutError extends Error {
  /**
   * Creates a {@link TaskTimeoutError}.
   *
   * @param ms the limit
   */
  constructor(ms: number) {
    super(`task timed out after ${ms} ms`);
    this.name = "TaskTimeoutError";
  }
}

/**
 * Engine options.
 *
 * @example
 * ```ts ignore
 * import { type EngineOptions, OffsetTracker, seededIds, VirtualClock, Wire } from "@loom/streaming";
 * const clock = new VirtualClock(), ids = seededIds(1);
 * const options: EngineOptions = { clock, ids, wire: new Wire(plan, clock, ids), tracker: new OffsetTracker() };
 * ```
 */
export interface EngineOptions {
  /** Time source. */
  readonly clock: Clock;
  /** Trace-id source. */
  readonly ids: IdSource;
  /** Decoder and encoder of records. */
  readonly wire: Wire;
  /** Completion tracker. */
  readonly tracker: OffsetTracker;
  /** `fail` (default): an unrouted error aborts the call; `log`: it is reported and the message completes. */
  readonly unroutedErrors?: "fail" | "log";
  /** Called for each step invocation (fault injection hooks in the simulator). */
  readonly beforeStep?: (name: string, path: string) => void;
}

type Chunk = Item[] | Item[][];
type Flow = void | Promise<void>;

interface Op {
  push(chunk: Chunk, em: Emission): Flow;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") &&
    typeof (v as PromiseLike<unknown>).then === "function";
}

function isMessageLike(v: unknown): v is Message {
  return typeof v === "object" && v !== null && "payload" in v && "meta" in v &&
    typeof (v as Message).meta === "object" && (v as Message).meta !== null &&
    typeof (v as Message).meta.messageId === "string";
}

function all(flows: Flow[]): Flow {
  let ps: Promise<void>[] | null = null;
  for (const f of flows) if (f) (ps ??= []).push(f);
  if (!ps) return;
  return Promise.all(ps).then(() => {});
}

const utf8 = new TextEncoder();

function keyBytes(key: Uint8Array | string | null): Uint8Array | null {
  if (key === null || key === undefined) return null;
  return typeof key === "string" ? utf8.encode(key) : key;
}

/** Snapshot of a message for an error envelope (key as bytes). */
export function snapshotMeta(meta: MessageMeta): ErrorMessageMeta {
  return { ...meta, key: keyBytes(meta.key) };
}

let markSeq = 1;

/**
 * The plan interpreter. One instance per worker; safe to call concurrently for different partitions.
 *
 * @example
 * ```ts ignore
 * import { Engine, OffsetTracker, seededIds, VirtualClock, Wire } from "@loom/streaming";
 * const clock = new VirtualClock(), ids = seededIds(1);
 * const engine = new Engine(plan, { clock, ids, wire: new Wire(plan, clock, ids), tracker: new OffsetTracker() });
 * await engine.open();
 * const emission = await engine.process(batch);
 * ```
 */
export class Engine {
  /** The compiled plan. */
  readonly plan: CompiledPlan;
  readonly #o: EngineOptions;
  readonly #root: Op;
  readonly #collectors: CollectOp[] = [];
  readonly #scoped: WithOp[] = [];
  #opened = false;

  /**
   * Creates a {@link Engine}.
   *
   * @param plan compiled plan
   * @param options clock, ids, wire codec, tracker
   */
  constructor(plan: CompiledPlan, options: EngineOptions) {
    this.plan = plan;
    this.#o = options;
    const end: Op = plan.output ? new TopicOp(this, plan.output, "record") : new DiscardOp(this);
    this.#root = this.build(plan.process, end);
  }

  /** Options. */
  get options(): EngineOptions {
    return this.#o;
  }

  // -------------------------------------------------------------------------------------------------------------
  // building

  /**
   * Builds the op chain of a process, ending in `end` (internal: used by the routing ops).
   *
   * @ignore
   */
  build(proc: CompiledProcess, end: Op): Op {
    let next = end;
    for (let i = proc.nodes.length - 1; i >= 0; i--) next = this.buildNode(proc.nodes[i], next);
    return next;
  }

  /** Builds the op of one compiled node, followed by `next`. */
  private buildNode(n: CompiledNode, next: Op): Op {
    switch (n.op) {
      case "step":
        switch (n.stepKind) {
          case "record":
            return new RecordStepOp(this, n.step, n.name, n.path, next);
          case "batch":
            return n.batchOverRecords
              ? new BatchStepOp(this, n.step, n.name, n.path, next, true)
              : new BatchStepOp(this, n.step, n.name, n.path, next, false);
          case "expand":
            return new ExpandStepOp(this, n.step, n.name, n.path, next);
          case "batch_expand":
            return new BatchExpandStepOp(this, n.step, n.name, n.path, next);
        }
        break;
      case "collect": {
        const op = new CollectOp(this, n.node.maxRecords, n.node.timeoutMs, next);
        this.#collectors.push(op);
        return op;
      }
      case "for_each":
        return new ForEachOp(next);
      case "drain":
        return new DiscardOp(this);
      case "topic":
        return new TopicOp(this, n.sink, n.inputShape === "batch" ? "batch" : "record");
      case "table":
        return new TableOp(n.sink.path, n.sink.name, n.inputShape === "batch" ? "batch" : "record");
      case "with": {
        const op = new WithOp(this, n);
        this.#scoped.push(op);
        return op;
      }
      case "router":
        return new RouterOp(this, n, next);
      case "fork":
        return new ForkOp(this, n);
      case "broadcast":
        return new BroadcastOp(
          this,
          n.routes.map((r) =>
            this.build(
              r.process,
              r.output ? new TopicOp(this, r.output, shapeOf(r.process.outputShape)) : new DiscardOp(this),
            )
          ),
        );
      case "explode":
        return new ExplodeOp(this, n.path, n.expander, next);
      case "expand_routes":
        return new ExpandRoutesOp(this, n);
    }
    throw new Error(`unsupported compiled node ${(n as { op: string }).op}`);
  }

  // -------------------------------------------------------------------------------------------------------------
  // lifecycle

  /** Opens worker-scoped resources (in declaration order). */
  async open(): Promise<void> {
    if (this.#opened) return;
    const opened: WithOp[] = [];
    try {
      for (const w of this.#scoped) {
        await w.openWorker();
        opened.push(w);
      }
    } catch (e) {
      for (const w of opened.reverse()) await w.closeWorker().catch(() => {});
      throw e;
    }
    this.#opened = true;
  }

  /** Disposes worker-scoped resources in reverse order; errors are aggregated. */
  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const w of [...this.#scoped].reverse()) {
      try {
        await w.closeWorker();
      } catch (e) {
        errors.push(e);
      }
    }
    this.#opened = false;
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, "errors while disposing worker resources");
  }

  // -------------------------------------------------------------------------------------------------------------
  // processing

  /**
   * Decodes and processes one fetched batch (one partition). Registers every record with the tracker.
   */
  process(batch: RecordBatch, em: Emission = new Emission()): Emission | Promise<Emission> {
    const recs = batch.records;
    const items: Item[] = [];
    const { tracker, wire } = this.#o;
    const part = tracker.partition(batch.topic, batch.partition); // a batch is one partition
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      const origin = tracker.registerIn(part, r.offset);
      const decoded = wire.decode(r);
      if (decoded.ok) items.push({ message: decoded.message, type: decoded.type, origin, mark: 0 });
      else this.decodeFailed(r, decoded.error, origin, em);
    }
    return this.pushRoot(items, em);
  }

  /** Processes already-built messages (tests: untracked unless an origin is given). */
  processMessages(
    messages: readonly { message: Message; type: MessageType | null; origin?: Origin }[],
    em: Emission = new Emission(),
  ): Emission | Promise<Emission> {
    const items: Item[] = messages.map((m) => ({
      message: m.message,
      type: m.type,
      origin: m.origin ?? new Origin(null, -1),
      mark: 0,
    }));
    return this.pushRoot(items, em);
  }

  /** Pushes decoded items through the root op chain and resolves to the emission. */
  private pushRoot(items: Item[], em: Emission): Emission | Promise<Emission> {
    if (items.length === 0) return em;
    const chunk: Chunk = this.plan.source.shape === "batch" ? [items] : items;
    const f = this.#root.push(chunk, em);
    return f ? f.then(() => em) : em;
  }

  /** Earliest CollectBatch deadline, or null when nothing is buffered. */
  nextDeadline(): number | null {
    let min: number | null = null;
    for (const c of this.#collectors) {
      const d = c.nextDeadline();
      if (d !== null && (min === null || d < min)) min = d;
    }
    return min;
  }

  /** Emits batches whose inactivity timeout has expired at the clock's current time. */
  tick(em: Emission = new Emission()): Emission | Promise<Emission> {
    const now = this.#o.clock.now();
    const flows = this.#collectors.map((c) => c.expire(now, em));
    const f = all(flows);
    return f ? f.then(() => em) : em;
  }

  /** Emits every buffered batch (end of input, shutdown). */
  async flush(em: Emission = new Emission()): Promise<Emission> {
    // flushing one collector may feed another one downstream: repeat until all are empty
    for (let round = 0; round < 64; round++) {
      let any = false;
      for (const c of this.#collectors) {
        if (c.size > 0) {
          any = true;
          await c.expire(Infinity, em);
        }
      }
      if (!any) break;
    }
    return em;
  }

  /** Drops buffered items of revoked partitions (they will be redelivered to the new owner). */
  revoke(topic: string, partition: number): void {
    for (const c of this.#collectors) c.drop(topic, partition);
  }

  /** Number of messages held in CollectBatch buffers. */
  get buffered(): number {
    let n = 0;
    for (const c of this.#collectors) n += c.size;
    return n;
  }

  // -------------------------------------------------------------------------------------------------------------
  // fates

  /** Deliberate discard. */
  discard(item: Item, em: Emission): void {
    em.discarded++;
    em.releases.push(item.origin);
  }

  /** Writes an item to a Kafka sink (encoding failure → task error). */
  write(item: Item, sink: CompiledTopicSink, em: Emission): void {
    let rec: OutgoingRecord;
    try {
      rec = this.#o.wire.encodeMessage(item.message, item.type, sink);
    } catch (e) {
      this.fail(item, e, "task", sink.path, em);
      return;
    }
    em.addRecord(sink.topic, rec, item.origin, sink.dlq);
  }

  /** Routes a failure as an error envelope. `family` is `task` (steps) or `routing` (routers). */
  fail(item: Item, error: unknown, family: "task" | "routing", path: string, em: Emission): void {
    const kind: ErrorKind = family === "routing"
      ? "routing"
      : error instanceof DomainError
      ? "business"
      : "task";
    const reason = reasonOf(error);
    const envelope: ErrorEnvelope = {
      kind,
      reason,
      payloadType: item.type?.name ?? item.message.meta.messageType ?? null,
      originalMessage: { payload: item.message.payload, meta: snapshotMeta(item.message.meta) },
    };
    em.errorCounts[kind]++;
    // QUIRK fixed: the original sent BUSINESS envelopes to the TASK route always; we use the BUSINESS
    // route when one is declared and fall back to the TASK route (the original's destination) otherwise.
    const routes = this.plan.errorRoutes;
    const sink = routes.get(kind) ?? (kind === "business" ? routes.get("task") : undefined);
    if (!sink) {
      this.unrouted({ kind, reason, messageId: item.message.meta.messageId, path }, item.origin, em);
      return;
    }
    let rec: OutgoingRecord;
    try {
      try {
        rec = this.#o.wire.encodeError(envelope, item.type, item.message.meta, sink);
      } catch {
        // the payload may not match its declared type (that can be the very failure): encode it dynamically
        rec = this.#o.wire.encodeError(envelope, null, item.message.meta, sink);
      }
    } catch (e) {
      this.unrouted(
        {
          kind,
          reason: `${reason} (and the error envelope could not be encoded: ${reasonOf(e)})`,
          messageId: item.message.meta.messageId,
          path,
        },
        item.origin,
        em,
      );
      return;
    }
    em.addRecord(sink.topic, rec, item.origin, sink.dlq);
  }

  /** Counts a record that could not be decoded and routes it to the `wire` error route. */
  private decodeFailed(record: SourceRecord, reason: string, origin: Origin, em: Emission): void {
    em.errorCounts.wire++;
    const sink = this.plan.errorRoutes.get("wire");
    if (!sink) {
      this.unrouted(
        {
          kind: "wire",
          reason,
          messageId: `${record.topic}:${record.partition}:${record.offset}`,
          path: "source",
        },
        origin,
        em,
      );
      return;
    }
    em.addRecord(sink.topic, this.#o.wire.encodeDecodeError(record, reason, sink), origin, sink.dlq);
  }

  /** Fails the call (policy `fail`) or records the unrouted error and settles its origin (policy `log`). */
  private unrouted(u: UnroutedError, origin: Origin, em: Emission): void {
    if ((this.#o.unroutedErrors ?? "fail") === "fail") throw new UnroutedErrorFailure(u);
    em.unrouted.push(u);
    em.releases.push(origin);
  }

  /** Applies a step result to an item (payload → same meta; message → replacement). */
  apply(item: Item, result: unknown, output: MessageType | undefined): void {
    if (isMessageLike(result)) {
      if (output) item.type = output;
      else if (
        result.payload !== item.message.payload || result.meta.messageType !== item.message.meta.messageType
      ) {
        item.type = null; // another payload or type: its schema is unknown, it is encoded dynamically
      }
      item.message = result;
      return;
    }
    if (result === undefined) {
      throw new TypeError("step returned undefined; return a payload or a Message");
    }
    const meta = item.message.meta;
    if (output) {
      item.type = output;
      // A declared output type names the outgoing message (the original kept the input's type: QUIRK 3).
      item.message = {
        payload: result,
        meta: meta.messageType === output.name && meta.messageVersion === output.version
          ? meta
          : { ...meta, messageType: output.name, messageVersion: output.version },
      };
    } else {
      // Without a declared output type the payload's schema is unknown (unless the step returned the
      // payload it received): it is encoded dynamically, and the wire type name is inherited as in the original.
      if (result !== item.message.payload) item.type = null;
      item.message = { payload: result, meta };
    }
  }

  /** Fault-injection hook. */
  before(name: string, path: string): void {
    this.#o.beforeStep?.(name, path);
  }
}

function shapeOf(s: string): "record" | "batch" {
  return s === "batch" ? "batch" : "record";
}

/** Error text of a thrown value (`String(error)` semantics for non-errors). */
export function reasonOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

// ---------------------------------------------------------------------------------------------------------------
// ops

class DiscardOp implements Op {
  constructor(readonly engine: Engine) {}
  push(chunk: Chunk, em: Emission): Flow {
    for (const x of chunk) {
      if (Array.isArray(x)) { for (const it of x) this.engine.discard(it, em); }
      else this.engine.discard(x, em);
    }
  }
}

class TopicOp implements Op {
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

class TableOp implements Op {
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

class ForEachOp implements Op {
  constructor(readonly next: Op) {}
  push(chunk: Chunk, em: Emission): Flow {
    const out: Item[] = [];
    for (const b of chunk as Item[][]) for (const it of b) out.push(it);
    if (out.length) return this.next.push(out, em);
  }
}

class RecordStepOp implements Op {
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

const EMPTY: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

class BatchStepOp implements Op {
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

class ExpandStepOp implements Op {
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

class Failed {
  constructor(readonly error: unknown) {}
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

class BatchExpandStepOp implements Op {
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

function batchKey(m: MessageMeta): string {
  if (m.partition !== null) return `${m.topic ?? "default"}:${m.partition}`;
  if (m.key !== null) return typeof m.key === "string" ? m.key : new TextDecoder().decode(m.key);
  return "loom";
}

export { batchKey };

class CollectOp implements Op {
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

/** Keyed/predicate branch selection shared by Router and Fork. */
class BranchSelector {
  readonly #select: ((m: Message) => unknown) | null;
  readonly #keys: Map<unknown, number>;
  readonly #keyList: unknown[];
  readonly #preds: ((m: Message) => boolean)[];
  readonly #predBase: number;
  readonly defaultIndex: number;
  readonly count: number;

  constructor(
    selector: unknown,
    keyed: readonly (readonly [unknown, unknown])[],
    predicates: readonly (readonly [unknown, unknown])[],
    hasDefault: boolean,
  ) {
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
    this.count = keyed.length + predicates.length + (hasDefault ? 1 : 0);
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

class RouterOp implements Op {
  readonly #sel: BranchSelector;
  readonly #branches: Op[];
  readonly #collect: MarkOp;
  constructor(
    readonly engine: Engine,
    readonly node: Extract<CompiledNode, { op: "router" }>,
    readonly next: Op,
  ) {
    this.#sel = new BranchSelector(node.selector, node.keyed, node.predicates, node.default !== null);
    this.#collect = new MarkOp();
    const procs = [...node.keyed.map((k) => k[1]), ...node.predicates.map((p) => p[1])];
    if (node.default) procs.push(node.default);
    this.#branches = procs.map((p) => engine.build(p, this.#collect));
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

class ForkOp implements Op {
  readonly #sel: BranchSelector;
  readonly #branches: Op[];
  constructor(readonly engine: Engine, readonly node: Extract<CompiledNode, { op: "fork" }>) {
    this.#sel = new BranchSelector(node.selector, node.keyed, node.predicates, node.default !== null);
    const procs = [...node.keyed.map((k) => k[1]), ...node.predicates.map((p) => p[1])];
    if (node.default) procs.push(node.default);
    const end = new DiscardOp(engine);
    this.#branches = procs.map((p) => engine.build(p, end));
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

class BroadcastOp implements Op {
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

class ExplodeOp implements Op {
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

class ExpandRoutesOp implements Op {
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

// ---------------------------------------------------------------------------------------------------------------
// With / WithAsync

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

class WithOp implements Op {
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
    const runOne = async (it: Item): Promise<void> => {
      for (const s of this.n.steps) {
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
          if (timeout === null) await runOne(it);
          else {
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
