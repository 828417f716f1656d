// deno-lint-ignore-file no-explicit-any -- type-erased positions (node lists, policies, selectors) accept any payload type
/**
 * DSL terminals: IntoTopic (with its partitioning policy), storage sinks (IntoSink, IntoTable) and Drain.
 *
 * @module
 */
import type { Message } from "../_message.ts";
import type { MessageType } from "../_type.ts";
import type { StreamShape } from "./_shape.ts";
import type { ErrorEnvelopeOf } from "./_source.ts";
import type { MaybePromise } from "./_steps.ts";

const isErrorEnvelopeOf = (p: MessageType | ErrorEnvelopeOf): p is ErrorEnvelopeOf =>
  (p as Partial<ErrorEnvelopeOf>).kind === "error_envelope_of";

/**
 * Declarative partitioning guarantee (documentation only, as in the original).
 *
 * @example
 * ```ts
 * import { PartitionGuarantee, PartitionPolicy } from "@loom/streaming";
 * new PartitionPolicy((m) => m.meta.key, PartitionGuarantee.ENTITY_STABLE);
 * ```
 */
export const PartitionGuarantee = {
  NONE: "none",
  BEST_EFFORT: "best_effort",
  ENTITY_STABLE: "entity_stable",
} as const;
/**
 * One of `"none" | "best_effort" | "entity_stable"`.
 *
 * @example
 * ```ts
 * import type { PartitionGuarantee } from "@loom/streaming";
 * const guarantee: PartitionGuarantee = "best_effort";
 * ```
 */
export type PartitionGuarantee = typeof PartitionGuarantee[keyof typeof PartitionGuarantee];

/**
 * A user strategy for the outgoing Kafka key.
 *
 * @example
 * ```ts
 * import { PartitionPolicy, type PartitionStrategy } from "@loom/streaming";
 * const byCustomer: PartitionStrategy<{ customer: string }> = (m) => m.payload.customer;
 * new PartitionPolicy(byCustomer);
 * ```
 */
export type PartitionStrategy<P = unknown> =
  | { partitionKey(message: Message<P>): Uint8Array | string | null }
  | ((message: Message<P>) => Uint8Array | string | null);

/**
 * Key rules for an {@link IntoTopic}: the strategy supplies the key when the message has none, or
 * replaces it when `allowRepartition` is true.
 *
 * @example
 * ```ts
 * import { PartitionPolicy } from "@loom/streaming";
 * const byCustomer = new PartitionPolicy((m) => (m.payload as { customer: string }).customer);
 * ```
 */
export class PartitionPolicy<P = unknown> {
  /** Marker. */
  readonly kind = "partition_policy" as const;
  /**
   * Creates a {@link PartitionPolicy}.
   *
   * @param strategy key strategy
   * @param guarantee documentation only
   * @param allowRepartition replace existing keys
   */
  constructor(
    readonly strategy: PartitionStrategy<P>,
    readonly guarantee: PartitionGuarantee = "best_effort",
    readonly allowRepartition: boolean = false,
  ) {}
}

/**
 * Options of {@link IntoTopic}.
 *
 * @example
 * ```ts
 * import { IntoTopic, type IntoTopicOptions, PartitionPolicy } from "@loom/streaming";
 * const options: IntoTopicOptions = { dlq: "orders.dlq", partitioning: new PartitionPolicy((m) => m.meta.key) };
 * new IntoTopic("orders.out", options);
 * ```
 */
export interface IntoTopicOptions {
  /**
   * Payload type: gives the schema-exact encoding. By default it also names the outgoing messages
   * (`message_type`/`message_version` = the type's; see `messageType`). `errorEnvelopeOf(T)` declares an
   * output of error envelopes of T (the original's `IntoTopic[ErrorEnvelope[T]]`): they are encoded in their
   * wire form, named `loom.streaming.error.<kind>`.
   */
  readonly payload?: MessageType | ErrorEnvelopeOf;
  /**
   * Where the outgoing `message_type` comes from when `payload` is a MessageType: `"payload"` (default) —
   * the declared type's name and version; `"inherit"` — the input message's type travels on (the original's
   * rule) while the payload is still encoded schema-exactly with the declared type.
   */
  readonly messageType?: "payload" | "inherit";
  /** Declared shape (record by default). */
  readonly shape?: StreamShape;
  /** Key rules of the outgoing records. */
  readonly partitioning?: PartitionPolicy<any>;
  /** Dead-letter topic used when delivery to this topic fails. */
  readonly dlq?: string;
}

/**
 * Kafka output. `name` selects `kafka.producers.<name>` (else `kafka.producer`); the physical topic is
 * the producer's `topic`, else `name`.
 *
 * @example
 * ```ts
 * import { IntoTopic } from "@loom/streaming";
 * const out = new IntoTopic("orders.validated", { dlq: "orders.dlq" });
 * ```
 */
export class IntoTopic {
  /** Marker. */
  readonly kind = "into_topic" as const;
  /**
   * Creates a {@link IntoTopic}.
   *
   * @param name logical ref
   * @param options payload, shape, partitioning, dlq
   */
  constructor(readonly name: string, readonly options: IntoTopicOptions = {}) {}
  /** Declared payload type (undefined for none, or for an `errorEnvelopeOf` output). */
  get payload(): MessageType | undefined {
    const p = this.options.payload;
    return p === undefined || isErrorEnvelopeOf(p) ? undefined : p;
  }
  /** Original payload type of an `errorEnvelopeOf(T)` output, else undefined. */
  get errorEnvelopeOf(): MessageType | undefined {
    const p = this.options.payload;
    return p !== undefined && isErrorEnvelopeOf(p) ? p.original : undefined;
  }
  /** True when the input's `message_type` travels on (option `messageType: "inherit"`). */
  get inheritsMessageType(): boolean {
    return this.options.messageType === "inherit";
  }
  /** Declared shape. */
  get shape(): StreamShape {
    return this.options.shape ?? "record";
  }
  /** Partition policy. */
  get partitioning(): PartitionPolicy<any> | undefined {
    return this.options.partitioning;
  }
  /** Dead-letter topic. */
  get dlq(): string | undefined {
    return this.options.dlq;
  }
}

/**
 * A writer built by a storage sink for one worker.
 *
 * @example
 * ```ts
 * import type { SinkWriter } from "@loom/streaming";
 * const rows: unknown[] = [];
 * const writer: SinkWriter = { write: (items) => void rows.push(...items), close: () => {} };
 * ```
 */
export interface SinkWriter<E = unknown> {
  /** Writes a batch of payloads; resolves once they are durable (offsets are committed after). */
  write(items: readonly E[]): MaybePromise<void>;
  /** Flushes and releases resources; must be idempotent. */
  close?(): MaybePromise<void>;
}

/**
 * Context given to {@link IntoSink.createWriter}.
 *
 * @example
 * ```ts
 * import type { IntoSink, SinkContext } from "@loom/streaming";
 * const sink: IntoSink = {
 *   kind: "sink",
 *   name: "audit",
 *   createWriter: (ctx: SinkContext) => ({ write: (rows) => console.log(ctx.workerIndex, rows.length) }),
 * };
 * ```
 */
export interface SinkContext {
  /** The raw `streaming.sinks.<name>` section, when present. */
  readonly section: Readonly<Record<string, unknown>> | null;
  /** Whole configuration object. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Index of the worker the writer is for (0-based). */
  readonly workerIndex: number;
  /** Number of workers. */
  readonly workerCount: number;
}

/**
 * Structural protocol of a terminal storage sink: any object with `kind: "sink"`, a `name` and a
 * `createWriter` is accepted by the compiler.
 *
 * @example
 * ```ts
 * import { type IntoSink, Process } from "@loom/streaming";
 * const audit: IntoSink = { kind: "sink", name: "audit", createWriter: () => ({ write: () => {} }) };
 * const process = new Process(audit);
 * ```
 */
export interface IntoSink<E = unknown> {
  /** Discriminant. */
  readonly kind: "sink";
  /** Sink name (selects `streaming.sinks.<name>`). */
  readonly name: string;
  /** Payload (row) type. */
  readonly payload?: MessageType;
  /** Creates the writer; when absent the runtime looks the sink up by name in its sink registry. */
  createWriter?(context: SinkContext): MaybePromise<SinkWriter<E>>;
}

/**
 * Table backends of {@link IntoTable}.
 *
 * @example
 * ```ts
 * import { Backend, IntoTable } from "@loom/streaming";
 * new IntoTable({ name: "orders_sink", backend: Backend.CLICKHOUSE });
 * ```
 */
export const Backend = {
  SQLALCHEMY: "sqlalchemy",
  POSTGRES: "postgres",
  DELTA: "delta",
  CLICKHOUSE: "clickhouse",
} as const;
/**
 * A table backend name.
 *
 * @example
 * ```ts
 * import type { Backend } from "@loom/streaming";
 * const backend: Backend = "postgres";
 * ```
 */
export type Backend = typeof Backend[keyof typeof Backend];

/**
 * Terminal storage sink writing payloads as rows of a table configured at `streaming.sinks.<name>`.
 * (Backends are provided by `@loom/streaming/sinks`; the simulator has in-memory twins.)
 *
 * @example
 * ```ts
 * import { IntoTable } from "@loom/streaming";
 * const sink = new IntoTable({ name: "orders_sink", table: "orders", backend: "postgres" });
 * ```
 */
export class IntoTable<E = unknown> implements IntoSink<E> {
  /** Marker. */
  readonly kind = "sink" as const;
  /** Sink name (config key). */
  readonly name: string;
  /** Table override (wins over the section's `table`). */
  readonly table: string;
  /** Backend. */
  readonly backend: Backend;
  /** Payload (row) type. */
  readonly payload?: MessageType;
  /**
   * Creates a {@link IntoTable}.
   *
   * @param options name (required for compiling), table, backend, payload
   */
  constructor(options: { name: string; table?: string; backend?: Backend; payload?: MessageType }) {
    this.name = options.name ?? "";
    this.table = options.table ?? "";
    this.backend = options.backend ?? "sqlalchemy";
    this.payload = options.payload;
  }
}

/**
 * True when `value` satisfies the {@link IntoSink} protocol.
 *
 * @example
 * ```ts
 * import { IntoTable, isIntoSink } from "@loom/streaming";
 * isIntoSink(new IntoTable({ name: "orders_sink" })); // true
 * ```
 */
export function isIntoSink(value: unknown): value is IntoSink {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "sink" &&
    typeof (value as { name?: unknown }).name === "string";
}

/**
 * Terminal: deliberately discards every message (their offsets complete).
 *
 * @example
 * ```ts
 * import { Drain } from "@loom/streaming";
 * const drop = new Drain();
 * ```
 */
export class Drain {
  /** Marker. */
  readonly kind = "drain" as const;
}
