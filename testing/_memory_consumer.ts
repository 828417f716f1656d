/**
 * `MemoryConsumer`: the in-memory broker's implementation of the core's consumer port, so the simulator
 * drives the same run loop ({@link FlowLoop}) as the Kafka runner. It is one member of its consumer group
 * and owns every partition of the subscribed topics. Fetching is explicit and deterministic: each
 * {@link MemoryConsumer.poll} visits the unpaused partitions in order (topic, then partition) and hands
 * each one batch of at most `fetchMaxRecords` records, one after the other.
 *
 * @module
 */

import type {
  BatchControl,
  ConsumerGroupMetadata,
  ConsumerHandler,
  ConsumerPort,
  ConsumerRunOptions,
  TopicPartition,
  TopicPartitionOffset,
} from "../streaming/_transport.ts";
import type { InMemoryBroker } from "./_broker.ts";

/**
 * Options of {@link MemoryConsumer}.
 *
 * @example
 * ```ts
 * import type { MemoryConsumerOptions } from "@loom/streaming/testing";
 * const options: MemoryConsumerOptions = { fetchMaxRecords: 100 };
 * ```
 */
export interface MemoryConsumerOptions {
  /** Records per fetched batch (default 500). */
  readonly fetchMaxRecords?: number;
  /**
   * Called after each delivered batch, before the next fetch (the simulator ticks its loop here, as a
   * timer would fire between two fetches).
   */
  readonly afterBatch?: () => Promise<void> | void;
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * A consumer-group member on an {@link InMemoryBroker} (see the module documentation).
 *
 * @example
 * ```ts
 * import { InMemoryBroker, MemoryConsumer } from "@loom/streaming/testing";
 * const broker = new InMemoryBroker();
 * broker.createTopic("orders", { partitions: 2 });
 * const consumer = new MemoryConsumer(broker, "g");
 * await consumer.connect();
 * await consumer.subscribe(["orders"], true);
 * await consumer.run({ onBatch: () => Promise.resolve() });
 * consumer.assignment().length; // 2
 * await consumer.poll(); // 0: nothing to fetch yet
 * ```
 */
export class MemoryConsumer implements ConsumerPort {
  /** The consumer group. */
  readonly group: string;
  readonly #broker: InMemoryBroker;
  readonly #o: MemoryConsumerOptions;
  #topics: readonly string[] = [];
  #fromBeginning = true;
  #handler: ConsumerHandler | null = null;
  #assigned: TopicPartition[] = [];
  readonly #positions = new Map<string, number>();
  readonly #paused = new Set<string>();
  #running = false;
  #polling: Promise<number> | null = null;
  #generation = 0;

  /**
   * Creates a {@link MemoryConsumer}.
   *
   * @param broker the broker holding the topics
   * @param group consumer group id
   * @param options fetch size, per-batch hook
   */
  constructor(broker: InMemoryBroker, group: string, options: MemoryConsumerOptions = {}) {
    this.#broker = broker;
    this.group = group;
    this.#o = options;
  }

  /** Connects (nothing to do in memory). */
  connect(): Promise<void> {
    return Promise.resolve();
  }

  /** Subscribes to topics; `fromBeginning` applies to partitions without a committed offset. */
  subscribe(topics: readonly string[], fromBeginning: boolean): Promise<void> {
    this.#topics = [...topics];
    this.#fromBeginning = fromBeginning;
    return Promise.resolve();
  }

  /** Joins the group: every partition of the subscribed topics is assigned to this member. */
  run(handler: ConsumerHandler, _options?: ConsumerRunOptions): Promise<void> {
    this.#handler = handler;
    this.#running = true;
    this.#assign();
    return Promise.resolve();
  }

  #assign(): void {
    this.#generation++;
    const tps: TopicPartition[] = [];
    this.#positions.clear();
    this.#paused.clear();
    for (const topic of this.#topics) {
      if (!this.#broker.hasTopic(topic)) continue;
      for (let p = 0; p < this.#broker.partitions(topic); p++) {
        tps.push({ topic, partition: p });
        const committed = this.#broker.committed(this.group, topic, p);
        this.#positions.set(
          key(topic, p),
          committed ?? (this.#fromBeginning ? 0 : this.#broker.endOffset(topic, p)),
        );
      }
    }
    this.#assigned = tps;
    this.#handler?.onAssigned?.(tps);
  }

  /** The group membership sent with transactional offset commits (one generation per assignment). */
  groupMetadata(): ConsumerGroupMetadata {
    return { groupId: this.group, generationId: this.#generation, memberId: `${this.group}-member` };
  }

  /** The owned partitions. */
  assignment(): readonly TopicPartition[] {
    return this.#assigned;
  }

  /** Commits offsets to the broker's group state. */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    try {
      this.#broker.commit(this.group, offsets);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Stops fetching these partitions. */
  pause(tps: readonly TopicPartition[]): void {
    for (const tp of tps) this.#paused.add(key(tp.topic, tp.partition));
  }

  /** Resumes fetching these partitions. */
  resume(tps: readonly TopicPartition[]): void {
    for (const tp of tps) this.#paused.delete(key(tp.topic, tp.partition));
  }

  /** True while the partition is paused. */
  isPaused(topic: string, partition: number): boolean {
    return this.#paused.has(key(topic, partition));
  }

  /** The next offset this member fetches from a partition, or null when it does not own it. */
  position(topic: string, partition: number): number | null {
    return this.#positions.get(key(topic, partition)) ?? null;
  }

  /**
   * One fetch round: every unpaused owned partition with records gets one batch (in topic, partition
   * order), each delivered after the previous one settled. Resolves with the number of records delivered.
   * A handler rejection ends the round and rejects.
   */
  poll(): Promise<number> {
    if (this.#polling) return this.#polling;
    const p = this.#poll().finally(() => (this.#polling = null));
    this.#polling = p;
    return p;
  }

  async #poll(): Promise<number> {
    if (!this.#running || !this.#handler) return 0;
    const max = this.#o.fetchMaxRecords ?? 500;
    let delivered = 0;
    for (const tp of [...this.#assigned]) {
      if (!this.#running) break;
      const k = key(tp.topic, tp.partition);
      if (this.#paused.has(k) || !this.#positions.has(k)) continue;
      const from = this.#positions.get(k)!;
      const records = this.#broker.fetch(tp.topic, tp.partition, from, max);
      if (records.length === 0) continue;
      this.#positions.set(k, records[records.length - 1].offset + 1);
      delivered += records.length;
      await this.#handler.onBatch({ topic: tp.topic, partition: tp.partition, records }, this.#control);
      await this.#o.afterBatch?.();
    }
    return delivered;
  }

  readonly #control: BatchControl = {
    heartbeat: () => Promise.resolve(),
    isRunning: () => this.#running,
    isStale: () => false,
  };

  /**
   * A group rebalance as the eager protocol runs it: the owned partitions are revoked (the handler
   * flushes and commits), then assigned again; fetching resumes from the committed offsets.
   */
  async rebalance(): Promise<void> {
    if (this.#polling) await this.#polling.catch(() => {});
    const owned = this.#assigned;
    this.#assigned = [];
    await this.#handler?.onRevoked?.(owned);
    if (this.#running) this.#assign();
  }

  /** Leaves the group: in-flight batches finish, the owned partitions are revoked. Idempotent. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    if (this.#polling) await this.#polling.catch(() => {});
    this.#running = false;
    const owned = this.#assigned;
    this.#assigned = [];
    if (owned.length) await this.#handler?.onRevoked?.(owned);
  }

  /** Stops; nothing to close in memory. */
  async disconnect(): Promise<void> {
    await this.stop();
  }

  /** Stops delivering at once without revoking (a crashed member: its partitions are simply lost). */
  crash(): void {
    this.#running = false;
    this.#assigned = [];
  }
}
