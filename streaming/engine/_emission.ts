/**
 * What one engine call produces: an Emission (records per output topic, rows per table, unrouted
 * errors, discards), put back in input order per source partition before delivery.
 *
 * @module
 */
import type { ErrorEnvelope, ErrorKind, Message, MessageMeta } from "../_message.ts";
import type { Origin } from "../_tracker.ts";
import type { OutgoingRecord, SourceRecord } from "../_transport.ts";
import type { MessageType } from "../_type.ts";

/**
 * A message travelling through the engine, with its payload type and the record it came from.
 *
 * @example
 * ```ts
 * import { message } from "@loom/streaming";
 * import { type Item, OffsetTracker } from "@loom/streaming/engine";
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
 * What an error record was encoded from, kept so that the driver can write it again as a reduced envelope
 * (original payload omitted) when the error topic refuses the record itself (too large, say): an
 * {@link ErrorEnvelope} and the meta of the failed message, or the source record of a decode error.
 *
 * @example
 * ```ts
 * import type { ErrorSource } from "@loom/streaming/engine";
 * const source: ErrorSource = {
 *   kind: "decode",
 *   reason: "Input data was truncated",
 *   record: { topic: "orders", partition: 0, offset: 7, key: null, value: new Uint8Array([0x92]), headers: {}, timestampMs: 0 },
 * };
 * ```
 */
export type ErrorSource =
  | { readonly kind: "envelope"; readonly envelope: ErrorEnvelope; readonly meta: MessageMeta }
  | { readonly kind: "decode"; readonly record: SourceRecord; readonly reason: string };

/**
 * Records for one output topic, with the origin each record settles once acknowledged.
 *
 * @example
 * ```ts
 * import { Emission } from "@loom/streaming/engine";
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
  /** What each error record was encoded from (null for records that are not error records). */
  readonly errors: (ErrorSource | null)[];
}

/**
 * Rows for one storage sink.
 *
 * @example
 * ```ts
 * import { Emission } from "@loom/streaming/engine";
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
 * import { Emission, OffsetTracker } from "@loom/streaming/engine";
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

  /** Adds an outgoing record (`error`: what an error record was encoded from). */
  addRecord(
    topic: string,
    record: OutgoingRecord,
    origin: Origin,
    dlq: string | null,
    error: ErrorSource | null = null,
  ): void {
    let b = this.topics.get(topic);
    if (!b) {
      b = { topic, records: [], origins: [], dlqs: [], errors: [] };
      this.topics.set(topic, b);
    }
    b.records.push(record);
    b.origins.push(origin);
    b.dlqs.push(dlq);
    b.errors.push(error);
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
        permute(b.errors, perm);
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
