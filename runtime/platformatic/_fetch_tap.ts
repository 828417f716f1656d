/**
 * Takes the records straight out of a platformatic consumer's fetch responses.
 *
 * platformatic's MessagesStream turns every fetched record into a message: it copies the record, builds a
 * header Map and an entries array, a bound `commit` closure, BigInt offsets, a diagnostic context, and
 * pushes it through a Node Readable stream with a `data` event. On a 1M-record backlog that was most of
 * the garbage and half of the client's CPU per record. The adapter keeps the stream for what it does well
 * (fetch scheduling per leader, fetch sessions, start offsets, out-of-range recovery, aborted-transaction
 * filtering, which `Consumer.fetch` applies before its callback) and wraps this consumer instance's
 * `fetch` method: the callback first hands each record batch to the adapter, then passes the response on
 * with the batches' record lists emptied. The stream still advances its fetch position from each batch's
 * header (`firstOffset + lastOffsetDelta`) and still skips control batches, but pushes no message.
 *
 * The tap also counts the fetches in flight (a revocation waits for them) and keeps each partition's end
 * offset (high watermark) from the responses, for lag.
 *
 * @module
 */

import type { SourceRecord } from "../../streaming/_transport.ts";

/**
 * One fetched record, as platformatic's fetch parser returns it (Buffers, a bigint delta) or the
 * adapter's (`_fetch_records.ts`: plain Uint8Array views, a number delta).
 */
export interface FetchedRecord {
  readonly timestampDelta: bigint | number;
  readonly offsetDelta: number;
  readonly key: Uint8Array | null | undefined;
  readonly value: Uint8Array | null | undefined;
  readonly headers: readonly (readonly [Uint8Array | null | undefined, Uint8Array | null | undefined])[];
}

/**
 * A record the adapter's fetch parser made ready for the partition queues: a {@link SourceRecord} but for
 * its topic, which the queues set (a fetch response names topics by id).
 */
export type QueuedRecord = Omit<SourceRecord, "topic"> & { topic: string };

/** One record batch of a fetch response. */
export interface FetchedBatch {
  readonly firstOffset: bigint;
  readonly firstTimestamp: bigint;
  readonly maxTimestamp: bigint;
  readonly attributes: number;
  /** The records as platformatic's parser reads them (empty when {@link FetchedBatch.ready} holds them). */
  records: readonly FetchedRecord[];
  /** The records as the adapter's parser reads them: ready for the queues (`_fetch_records.ts`). */
  ready?: QueuedRecord[];
}

interface FetchedPartition {
  readonly partitionIndex: number;
  readonly errorCode?: number;
  readonly highWatermark?: bigint;
  readonly records?: readonly FetchedBatch[] | null;
}

interface FetchResponse {
  readonly responses?: readonly {
    readonly topicId?: string;
    readonly partitions?: readonly FetchedPartition[];
  }[];
}

interface FetchOptions {
  readonly topics?: readonly {
    readonly topicId: string;
    readonly partitions: readonly { readonly partition: number; readonly fetchOffset?: bigint }[];
  }[];
}

type FetchCallback = (error: Error | null | undefined, response?: FetchResponse) => void;
type FetchFn = (options: FetchOptions, callback?: FetchCallback) => unknown;

/**
 * Receives the data batches (control batches are left out) of one partition of one fetch response.
 * `generation` is the consumer's group generation when the fetch was sent; `fromOffset` is the offset the
 * fetch asked for: the broker returns whole record batches, so the first one may start below it, and those
 * records were delivered before (platformatic's stream drops them the same way).
 */
export type FetchedBatchSink = (
  topicId: string,
  partition: number,
  batch: FetchedBatch,
  generation: number,
  fromOffset: number,
) => void;

const IS_CONTROL = 1 << 5;
/** Record batch attribute: every record's timestamp is the batch's max timestamp (broker LogAppendTime). */
export const LOG_APPEND_TIME = 1 << 3;
const NO_RECORDS: readonly FetchedRecord[] = Object.freeze([]);

/** The fetch wrapper of one platformatic consumer: records out, fetches counted, end offsets kept. */
export class FetchTap {
  #inFlight = 0;
  #waiters: (() => void)[] = [];
  /** End offset per topic id (fetch v13+ responses name topics by id) and partition. */
  readonly #highWatermarks = new Map<string, Map<number, number>>();

  /**
   * Wraps `consumer.fetch` (this instance only; its prototype is untouched).
   *
   * @param consumer The platformatic consumer (its `fetch(options, callback)` and `generationId`).
   * @param sink Receives every data batch of every partition the fetch asked for.
   */
  constructor(consumer: { fetch: FetchFn; readonly generationId: number }, sink: FetchedBatchSink) {
    const original = consumer.fetch;
    const wrapped: FetchFn = (options, callback) => {
      if (callback === undefined) return original.call(consumer, options); // not the stream's call
      const generation = consumer.generationId;
      this.#inFlight++;
      return original.call(consumer, options, (error, response) => {
        try {
          if (!error && response !== undefined) this.#take(options, response, generation, sink);
          callback(error, response);
        } finally {
          this.#done();
        }
      });
    };
    Object.defineProperty(consumer, "fetch", { configurable: true, writable: true, value: wrapped });
  }

  /**
   * Resolves when no fetch is in flight, or after `limitMs` (a lost completion must not hold every later
   * revocation: the count is then reset).
   *
   * @param limitMs Upper bound of the wait.
   * @returns Resolves when idle.
   */
  idle(limitMs: number): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#inFlight = 0;
        this.#wake();
      }, limitMs);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * The end offset of a partition as last reported by a fetch, if any.
   *
   * @param topicId The topic's id (from the cluster metadata).
   * @param partition The partition.
   * @returns The high watermark, or undefined.
   */
  highWatermark(topicId: string, partition: number): number | undefined {
    return this.#highWatermarks.get(topicId)?.get(partition);
  }

  #take(options: FetchOptions, response: FetchResponse, generation: number, sink: FetchedBatchSink): void {
    const responses = response.responses;
    if (responses === undefined) return;
    for (const t of responses) {
      const topicId = t.topicId;
      if (topicId === undefined || t.partitions === undefined) continue;
      let marks = this.#highWatermarks.get(topicId);
      for (const p of t.partitions) {
        if (!p.errorCode && typeof p.highWatermark === "bigint" && p.highWatermark >= 0n) {
          if (marks === undefined) this.#highWatermarks.set(topicId, marks = new Map());
          marks.set(p.partitionIndex, Number(p.highWatermark));
        }
        const batches = p.records;
        if (!batches || batches.length === 0) continue;
        // A partition this fetch did not ask for lingers in an incremental fetch session: stale data.
        const from = requestedOffset(options, topicId, p.partitionIndex);
        for (const batch of batches) {
          const n = batch.ready === undefined ? batch.records.length : batch.ready.length;
          if (from !== undefined && (batch.attributes & IS_CONTROL) === 0 && n > 0) {
            sink(topicId, p.partitionIndex, batch, generation, from);
          }
          // emptied in every batch, stale ones too: the stream would make messages of them, and it cannot
          // read the adapter's records (a number timestamp delta); and the response may outlive the
          // records queued from it (platformatic's stream still holds it), which must not keep them alive
          batch.records = NO_RECORDS;
          batch.ready = undefined;
        }
      }
    }
  }

  #done(): void {
    if (this.#inFlight > 0 && --this.#inFlight === 0) this.#wake();
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/** The offset this fetch asked for on a partition (undefined: not asked for; 0 when the request names none). */
const requestedOffset = (options: FetchOptions, topicId: string, partition: number): number | undefined => {
  const topics = options.topics;
  if (topics === undefined) return undefined;
  for (const t of topics) {
    if (t.topicId !== topicId) continue;
    for (const p of t.partitions) {
      if (p.partition === partition) return typeof p.fetchOffset === "bigint" ? Number(p.fetchOffset) : 0;
    }
  }
  return undefined;
};
