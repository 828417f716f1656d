/**
 * The platformatic consumer's delivery, from fetch responses to `onBatch`: the fetch tap
 * (`_fetch_tap.ts`) takes each response's record batches, the partition queues (`_partition_queues.ts`)
 * hold them and hand them out as {@link RecordBatch}es (with the partition's high watermark when a fetch
 * reported one), and the stream's fetch loop is paused and resumed around them: while a revocation or a
 * stop runs, until the start offsets of a new assignment are loaded, and while the queues hold more than
 * `fetch.max.bytes` (resumed below half of it). Paused partitions are hidden from the fetch loop
 * (`_paused_assignments.ts`).
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import type { Consumer, MessagesStream } from "@platformatic/kafka";
import type { RecordBatch, SourceRecord, TopicPartition } from "../../streaming/_transport.ts";
import { type FetchedBatch, FetchTap } from "./_fetch_tap.ts";
import { FetchParseTap } from "./_fetch_records.ts";
import { PartitionQueues } from "./_partition_queues.ts";
import { PausedAssignments } from "./_paused_assignments.ts";
import type { PlatformaticConsumerOptions } from "./_settings.ts";

/** The platformatic consumer's message stream (its fetch loop). */
export type ConsumerStream = MessagesStream<Buffer, Buffer, Buffer, Buffer>;

/** What the delivery needs of its consumer. */
export interface DeliveryHooks {
  /** Hands one batch to the handler; must not reject. */
  readonly deliver: (batch: RecordBatch) => Promise<void>;
  /** Whether the consumer is running (not stopping, stopped or failed). */
  readonly isRunning: () => boolean;
  /** Whether a revocation is under way. */
  readonly isRevoking: () => boolean;
}

/** Fetched records to batches, and the fetch loop's flow, for one platformatic consumer. */
export class FetchDelivery {
  readonly #consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  readonly #cfg: PlatformaticConsumerOptions;
  readonly #hooks: DeliveryHooks;
  readonly #queues: PartitionQueues;
  readonly #fetches: FetchTap;
  readonly #paused: PausedAssignments;
  /** Topic name → topic id (fetch responses name topics by id), from the metadata loaded by `subscribe`. */
  readonly #topicIds = new Map<string, string>();
  /** Topic id → name. */
  readonly #topicNames = new Map<string, string>();
  #stream: ConsumerStream | null = null;
  #streamPaused = false;
  /** Records are taken only between the offset refresh that follows a join and the next revocation. */
  #accepting = false;
  /** platformatic's generation when records started to flow: fetches sent under another are dropped. */
  #acceptGeneration = -1;

  /**
   * Taps `consumer`'s fetches and filters its `assignments` (this instance only).
   *
   * @param consumer The platformatic consumer.
   * @param cfg Its options (byte bounds, fetch wait, request timeout).
   * @param hooks The consumer's handler call and state.
   */
  constructor(
    consumer: Consumer<Buffer, Buffer, Buffer, Buffer>,
    cfg: PlatformaticConsumerOptions,
    hooks: DeliveryHooks,
  ) {
    this.#consumer = consumer;
    this.#cfg = cfg;
    this.#hooks = hooks;
    this.#queues = new PartitionQueues(
      cfg.maxBytes,
      cfg.maxBytesPerPartition,
      () => this.updateFlow(),
      (tp, records) => this.#deliver(tp, records),
      () => hooks.isRunning() && this.#accepting,
    );
    this.#paused = new PausedAssignments(consumer, this.#queues, () => this.#accepting);
    new FetchParseTap(consumer); // its fetch responses are read by the adapter's record reader
    this.#fetches = new FetchTap(
      consumer as unknown as ConstructorParameters<typeof FetchTap>[0],
      (topicId, partition, batch, generation, from) =>
        this.#onFetched(topicId, partition, batch, generation, from),
    );
  }

  /** The stream once attached (null before). */
  get stream(): ConsumerStream | null {
    return this.#stream;
  }

  /**
   * Sets how many partitions' batches may be out at once.
   *
   * @param n `partitionsConsumedConcurrently` (at least 1).
   */
  setConcurrency(n: number): void {
    this.#queues.concurrency = n;
  }

  /**
   * Records a subscribed topic's id.
   *
   * @param name The topic.
   * @param id Its topic id (from the cluster metadata).
   */
  addTopic(name: string, id: string): void {
    this.#topicIds.set(name, id);
    this.#topicNames.set(id, name);
  }

  /**
   * Takes over the started stream: records arrive through the fetch tap, so the stream pushes no message;
   * a `data` listener keeps it in flowing mode, which its fetch loop requires. Records flow once it loaded
   * the start offsets (`offsets`).
   *
   * @param stream The stream `consume()` returned.
   */
  attach(stream: ConsumerStream): void {
    this.#stream = stream;
    stream.on("data", () => {});
    stream.on("offsets", () => this.#onOffsets());
  }

  /**
   * A join assigned `tps`: the queues start empty, nothing paused, and records wait for the start offsets.
   *
   * @param tps The new assignment.
   */
  assign(tps: readonly TopicPartition[]): void {
    this.#queues.assign(tps);
    this.#paused.invalidate();
    this.#accepting = false; // until platformatic has loaded the committed offsets ('offsets')
  }

  /** Stops taking records (a revocation starts, or the consumer failed): queued records are dropped. */
  stopTaking(): void {
    this.#accepting = false;
    this.#queues.clear();
    this.#paused.invalidate();
  }

  /**
   * Resolves once no batch is out and no fetch is in flight; then the stream forgets its fetch positions.
   *
   * @returns Resolves when drained.
   */
  async drain(): Promise<void> {
    await Promise.all([this.#queues.waitIdle(), this.#waitFetches()]);
    // Queued and buffered records were dropped: after the join every partition must start again from
    // its committed offset, or `auto_offset_reset` without one. platformatic keeps its own fetch position
    // for a partition without commit (it only fills missing positions from the fallback), which would
    // skip the dropped records.
    this.#stream?.offsetsToFetch.clear();
  }

  /**
   * Resolves once no batch is out.
   *
   * @returns Resolves when idle.
   */
  idle(): Promise<void> {
    return this.#queues.waitIdle();
  }

  /**
   * Stops fetching the given partitions; what is queued for them waits until `resume`.
   *
   * @param tps Partitions to pause (unassigned ones are ignored).
   */
  pause(tps: readonly TopicPartition[]): void {
    this.#queues.pause(tps);
    this.#paused.invalidate();
  }

  /**
   * Resumes fetching the given partitions.
   *
   * @param tps Partitions to resume (unassigned or unpaused ones are ignored).
   */
  resume(tps: readonly TopicPartition[]): void {
    if (!this.#queues.resume(tps)) return;
    this.#paused.invalidate();
    // The fetch loop ends when every partition it sees is paused: restart it.
    if (!this.#streamPaused && this.#stream !== null) {
      this.#stream.pause();
      this.#stream.resume();
    }
  }

  /** Pauses the whole stream while revoking, stopping, before the offsets are loaded, or over the byte bound. */
  updateFlow(): void {
    const stream = this.#stream;
    if (stream === null) return;
    const flow = this.#hooks.isRunning() && this.#accepting && !this.#hooks.isRevoking() &&
      !this.#queues.overLimit;
    if (!flow && !this.#streamPaused) {
      this.#streamPaused = true;
      stream.pause();
    } else if (flow && this.#streamPaused) {
      this.#streamPaused = false;
      stream.resume();
    }
  }

  /** Resolves when no fetch of this consumer is in flight (bounded by the fetch wait plus the request timeout). */
  #waitFetches(): Promise<void> {
    return this.#fetches.idle(this.#cfg.maxWaitTime + (this.#cfg.base.timeout ?? 5000) + 100);
  }

  /** The stream loaded the start offsets of the assignment: records may flow. */
  #onOffsets(): void {
    if (!this.#hooks.isRunning() || this.#hooks.isRevoking() || this.#accepting) return;
    const positions = this.#stream?.offsetsToFetch;
    this.#queues.setPositions((tp) => positions?.get(`${tp.topic}:${tp.partition}`));
    this.#accepting = true;
    this.#acceptGeneration = this.#consumer.generationId;
    this.#paused.invalidate();
    this.updateFlow();
  }

  #onFetched(
    topicId: string,
    partition: number,
    batch: FetchedBatch,
    generation: number,
    from: number,
  ): void {
    // A fetch sent before the last join belongs to the old assignment.
    if (!this.#accepting || generation !== this.#acceptGeneration) return;
    const topic = this.#topicNames.get(topicId);
    if (topic !== undefined) this.#queues.pushBatch(topic, partition, batch, from);
  }

  /** One batch of the queues to the handler, with the partition's high watermark when a fetch reported one. */
  #deliver(tp: TopicPartition, records: SourceRecord[]): Promise<void> {
    const topicId = this.#topicIds.get(tp.topic);
    const reported = topicId === undefined ? undefined : this.#fetches.highWatermark(topicId, tp.partition);
    // a fetch reports the end offset when it was served; records appended since can only raise it
    const highWatermark = reported === undefined
      ? undefined
      : Math.max(reported, records.length > 0 ? records[records.length - 1].offset + 1 : 0);
    return this.#hooks.deliver(
      highWatermark === undefined
        ? { topic: tp.topic, partition: tp.partition, records }
        : { topic: tp.topic, partition: tp.partition, records, highWatermark },
    );
  }
}
