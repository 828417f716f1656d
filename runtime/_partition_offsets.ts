/**
 * `PartitionOffsetsPoller`: reads the committed and end offsets of a consumer's assigned partitions from the
 * cluster (the admin client of @platformatic/kafka), right after each assignment and then every
 * `intervalMs`, and hands them to {@link FlowMetrics.offsetsRead}. The consumer only learns a partition's
 * end offset from the batches it fetches, so without this an idle partition, or one already caught up at
 * start, would show no offsets and no lag. One poll runs at a time; a failed poll is logged (once until a
 * poll succeeds again) and retried at the next interval.
 *
 * @module
 */
import type { Logger } from "../streaming/_logger.ts";
import type { ConsumerSettings } from "../streaming/_settings.ts";
import type { TopicPartition } from "../streaming/_transport.ts";
import type { FlowMetrics } from "../streaming/observe/_flow_metrics.ts";
import { KafkaAdmin } from "./platformatic/_admin.ts";

/**
 * What the poller asks of an admin client (the @platformatic/kafka `KafkaAdmin`; a stand-in in tests).
 *
 * @example
 * ```ts
 * import { KafkaAdmin, type OffsetsAdmin } from "@loom/streaming/runtime";
 * const admin: OffsetsAdmin = new KafkaAdmin({ brokers: ["127.0.0.1:19092"], clientId: null, topic: null, security: null, extra: {} });
 * ```
 */
export interface OffsetsAdmin {
  /** Partition → end offset. */
  endOffsets(topic: string): Promise<Map<number, number>>;
  /** Partition → start offset (low watermark). */
  startOffsets(topic: string): Promise<Map<number, number>>;
  /** Partition → committed offset of the group (absent: nothing committed). */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, number>>;
  /** Closes the client. */
  close(): Promise<void>;
}

/**
 * One partition's offsets as read.
 *
 * @example
 * ```ts
 * import type { ReadOffsets } from "@loom/streaming/runtime";
 * const o: ReadOffsets = { topic: "orders", partition: 0, committed: 90, end: 100 };
 * ```
 */
export interface ReadOffsets {
  /** Topic. */
  readonly topic: string;
  /** Partition. */
  readonly partition: number;
  /** The group's committed offset, or where it starts reading when nothing is committed. */
  readonly committed: number | null;
  /** End offset (high watermark). */
  readonly end: number | null;
}

/**
 * Reads the offsets of `tps` for `settings.groupId`: committed when the group committed something, else the
 * reset position (`earliest`: the start offset; `latest`: the end offset).
 *
 * @example
 * ```ts
 * import { KafkaAdmin, readPartitionOffsets } from "@loom/streaming/runtime";
 * const admin = new KafkaAdmin({ brokers: ["127.0.0.1:19092"], clientId: null, topic: null, security: null, extra: {} });
 * const settings = {
 *   brokers: ["127.0.0.1:19092"], groupId: "orders-group", topics: ["orders"], autoOffsetReset: "earliest" as const,
 *   pollTimeoutMs: 100, enableAutoCommit: false, security: null, extra: {},
 * };
 * const offsets = await readPartitionOffsets(admin, settings, [{ topic: "orders", partition: 0 }]);
 * await admin.close();
 * ```
 */
export async function readPartitionOffsets(
  admin: OffsetsAdmin,
  settings: ConsumerSettings,
  tps: readonly TopicPartition[],
): Promise<ReadOffsets[]> {
  const byTopic = new Map<string, number[]>();
  for (const tp of tps) {
    let l = byTopic.get(tp.topic);
    if (!l) byTopic.set(tp.topic, l = []);
    l.push(tp.partition);
  }
  const out: ReadOffsets[] = [];
  for (const [topic, partitions] of byTopic) {
    const [ends, committed] = await Promise.all([
      admin.endOffsets(topic),
      admin.committedOffsets(settings.groupId, topic),
    ]);
    const uncommitted = partitions.some((p) => !committed.has(p));
    const starts = uncommitted && settings.autoOffsetReset === "earliest"
      ? await admin.startOffsets(topic)
      : new Map<number, number>();
    for (const partition of partitions) {
      const end = ends.get(partition) ?? null;
      const reset = settings.autoOffsetReset === "earliest" ? starts.get(partition) ?? null : end;
      out.push({ topic, partition, committed: committed.get(partition) ?? reset, end });
    }
  }
  return out;
}

/**
 * Options of {@link PartitionOffsetsPoller}.
 *
 * @example
 * ```ts
 * import { jsonLogger, type PartitionOffsetsPollerOptions } from "@loom/streaming/runtime";
 * const options: PartitionOffsetsPollerOptions = { intervalMs: 5_000, logger: jsonLogger() };
 * ```
 */
export interface PartitionOffsetsPollerOptions {
  /** Interval between polls (default 5 000 ms). */
  readonly intervalMs?: number;
  /** Logger (`partition_offsets_failed`). */
  readonly logger?: Logger;
  /** The admin client (default: a @platformatic/kafka admin on the consumer's brokers and security). */
  readonly admin?: OffsetsAdmin;
}

/**
 * Polls the assigned partitions' offsets into a {@link FlowMetrics} (see the module documentation).
 *
 * @example
 * ```ts
 * import { PartitionOffsetsPoller } from "@loom/streaming/runtime";
 * import { emptyStats, FlowMetrics } from "@loom/streaming/engine";
 * const metrics = new FlowMetrics("orders", { stats: emptyStats(), inFlight: () => 0 });
 * const settings = {
 *   brokers: ["127.0.0.1:19092"], groupId: "orders-group", topics: ["orders"], autoOffsetReset: "earliest" as const,
 *   pollTimeoutMs: 100, enableAutoCommit: false, security: null, extra: {},
 * };
 * const poller = new PartitionOffsetsPoller(settings, metrics, { intervalMs: 5_000 });
 * poller.start();
 * poller.assigned(); // after each assignment: poll now
 * await poller.stop();
 * ```
 */
export class PartitionOffsetsPoller {
  readonly #settings: ConsumerSettings;
  readonly #metrics: FlowMetrics;
  readonly #o: PartitionOffsetsPollerOptions;
  #admin: OffsetsAdmin | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #failing = false;
  #stopped = false;

  /**
   * Creates the poller (nothing is connected until the first poll).
   *
   * @param settings the flow's consumer settings (brokers, security, group, reset policy)
   * @param metrics the metrics to feed
   * @param options interval, logger, admin client
   */
  constructor(settings: ConsumerSettings, metrics: FlowMetrics, options: PartitionOffsetsPollerOptions = {}) {
    this.#settings = settings;
    this.#metrics = metrics;
    this.#o = options;
  }

  /** Starts the periodic polls. */
  start(): void {
    if (this.#timer !== null || this.#stopped) return;
    this.#timer = setInterval(() => void this.poll(), this.#o.intervalMs ?? 5_000);
  }

  /** Partitions were assigned: poll now (or right after the poll under way). */
  assigned(): void {
    void this.poll();
  }

  /** Polls once (a call during a poll schedules one more after it); resolves when done. */
  poll(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#pollOnce();
      } while (this.#again && !this.#stopped);
    })().finally(() => (this.#running = null));
    return this.#running;
  }

  async #pollOnce(): Promise<void> {
    const tps = this.#metrics.assignment;
    if (tps.length === 0) return;
    try {
      const s = this.#settings;
      this.#admin ??= this.#o.admin ??
        new KafkaAdmin({ brokers: s.brokers, clientId: null, topic: null, security: s.security, extra: {} });
      const offsets = await readPartitionOffsets(this.#admin, s, tps);
      if (!this.#stopped) this.#metrics.offsetsRead(offsets);
      this.#failing = false;
    } catch (e) {
      if (!this.#failing) {
        this.#failing = true;
        this.#o.logger?.warn("partition_offsets_failed", {
          reason: e instanceof Error ? e.message : String(e),
          retry_in_ms: this.#o.intervalMs ?? 5_000,
        });
      }
    }
  }

  /** Stops polling and closes the admin client. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => {});
    await this.#admin?.close().catch(() => {});
    this.#admin = null;
  }
}
