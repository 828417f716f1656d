/**
 * The engine: executes a {@link CompiledPlan} over batches of source records. It is transport-free:
 * it turns a batch into an {@link Emission} (records per output topic, rows per table, error
 * envelopes, discards) and the driver delivers that emission through a transport.
 *
 * Batches flow end to end: every node receives the whole chunk of messages; synchronous steps run in
 * a plain loop and only asynchronous steps create promises. The ops of each node family live in the
 * file of the same name as the DSL and the compiler (`_steps.ts`, `_routing.ts`, ...).
 *
 * @module
 */
import type { Clock, IdSource } from "../_clock.ts";
import {
  DomainError,
  type ErrorEnvelope,
  type ErrorKind,
  type ErrorMessageMeta,
  type Message,
  type MessageMeta,
} from "../_message.ts";
import type { CompiledNode, CompiledPlan, CompiledProcess, CompiledTopicSink } from "../_plan.ts";
import { type OffsetTracker, Origin } from "../_tracker.ts";
import type { OutgoingRecord, RecordBatch, SourceRecord } from "../_transport.ts";
import type { MessageType } from "../_type.ts";
import type { Wire } from "../_wire.ts";
import { CollectOp, ForEachOp } from "./_batching.ts";
import { Emission, type Item, type UnroutedError } from "./_emission.ts";
import { reasonOf, UnroutedErrorFailure } from "./_errors.ts";
import { ExpandRoutesOp, ExplodeOp } from "./_expansion.ts";
import { all, type Chunk, type Op } from "./_op.ts";
import { BroadcastOp, ForkOp, RouterOp } from "./_routing.ts";
import { WithOp } from "./_scoped.ts";
import { BatchExpandStepOp, BatchStepOp, ExpandStepOp, RecordStepOp } from "./_steps.ts";
import { DiscardOp, TableOp, TopicOp } from "./_terminals.ts";

/**
 * Engine options.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import {
 *   compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, seededIds, StreamFlow, VirtualClock,
 * } from "@loom/streaming";
 * import { type EngineOptions, OffsetTracker, Wire } from "@loom/streaming/engine";
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", messageType("order.created", v.object({ order_id: v.string() }))),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * const config = {
 *   kafka: {
 *     consumer: { brokers: ["127.0.0.1:9092"], group_id: "g" },
 *     producer: { brokers: ["127.0.0.1:9092"] },
 *   },
 * };
 * const plan = compileFlow(flow, config);
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

const utf8 = new TextEncoder();

function keyBytes(key: Uint8Array | string | null): Uint8Array | null {
  if (key === null || key === undefined) return null;
  return typeof key === "string" ? utf8.encode(key) : key;
}

/** Snapshot of a message for an error envelope (key as bytes). */
function snapshotMeta(meta: MessageMeta): ErrorMessageMeta {
  return { ...meta, key: keyBytes(meta.key) };
}

/**
 * The plan interpreter. One instance per worker; safe to call concurrently for different partitions.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import {
 *   compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, seededIds, StreamFlow, VirtualClock,
 * } from "@loom/streaming";
 * import { Engine, OffsetTracker, type RecordBatch, Wire } from "@loom/streaming/engine";
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", messageType("order.created", v.object({ order_id: v.string() }))),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * const config = {
 *   kafka: {
 *     consumer: { brokers: ["127.0.0.1:9092"], group_id: "g" },
 *     producer: { brokers: ["127.0.0.1:9092"] },
 *   },
 * };
 * const plan = compileFlow(flow, config);
 * const batch: RecordBatch = { topic: "orders.raw", partition: 0, records: [] };
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
      const origin = tracker.registerIn(part, r.offset, r);
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
    em.addRecord(sink.topic, rec, item.origin, sink.dlq, {
      kind: "envelope",
      envelope,
      meta: item.message.meta,
    });
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
    em.addRecord(sink.topic, this.#o.wire.encodeDecodeError(record, reason, sink), origin, sink.dlq, {
      kind: "decode",
      record,
      reason,
    });
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

function isMessageLike(v: unknown): v is Message {
  return typeof v === "object" && v !== null && "payload" in v && "meta" in v &&
    typeof (v as Message).meta === "object" && (v as Message).meta !== null &&
    typeof (v as Message).meta.messageId === "string";
}

function shapeOf(s: string): "record" | "batch" {
  return s === "batch" ? "batch" : "record";
}
