/**
 * A small Kafka admin helper on @platformatic/kafka for tools and tests: create and delete topics, read
 * end offsets, a group's committed offsets and its lag per partition.
 *
 * @module
 */

import { Admin } from "./_kafka.ts";
import type { ProducerSettings } from "../../streaming/_settings.ts";
import { KafkaConfigError } from "../kafkajs/mod.ts";
import { describeError } from "./_errors.ts";
import { settingsToPlatformatic } from "./_settings.ts";

/**
 * A topic to create.
 *
 * @example
 * ```ts
 * import type { TopicSpec } from "@loom/streaming/runtime";
 * const spec: TopicSpec = { topic: "orders", partitions: 3, config: { "retention.ms": "86400000" } };
 * ```
 */
export interface TopicSpec {
  /** Topic name. */
  readonly topic: string;
  /** Partition count (default 3). */
  readonly partitions?: number;
  /** Replication factor (default: the broker's `default.replication.factor`). */
  readonly replicas?: number;
  /** Topic-level configs such as `max.message.bytes`. */
  readonly config?: Readonly<Record<string, string>>;
}

/**
 * Lag of one partition for a consumer group.
 *
 * @example
 * ```ts
 * import type { PartitionLag } from "@loom/streaming/runtime";
 * const lag: PartitionLag = { partition: 0, committed: 90, end: 100, lag: 10 };
 * ```
 */
export interface PartitionLag {
  /** Partition. */
  readonly partition: number;
  /** Committed offset (next to read), or null without a commit. */
  readonly committed: number | null;
  /** End offset (high watermark). */
  readonly end: number;
  /** `end - committed`, or `end` without a commit. */
  readonly lag: number;
}

/** An admin operation failed; the message names the brokers and the cause. */
export class KafkaAdminError extends Error {
  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param cause The platformatic error.
   */
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "KafkaAdminError";
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Admin operations on a cluster (one connection pool; call {@link KafkaAdmin.close} when done).
 *
 * @example
 * ```ts ignore
 * import { KafkaAdmin } from "@loom/streaming/runtime";
 * const admin = new KafkaAdmin({ brokers: ["127.0.0.1:19092"], clientId: null, topic: null, security: null, extra: {} });
 * await admin.createTopics([{ topic: "orders", partitions: 3 }]);
 * console.log(await admin.lag("orders-group", "orders"));
 * await admin.close();
 * ```
 */
export class KafkaAdmin {
  readonly #admin: Admin;
  readonly #brokers: string;

  /**
   * Builds the admin client (connects lazily).
   *
   * @param settings Connection settings (brokers, security, `extra` client keys such as `request.timeout.ms`).
   * @throws {KafkaConfigError} When the settings cannot be mapped.
   */
  constructor(settings: ProducerSettings) {
    const cfg = settingsToPlatformatic(settings);
    this.#brokers = settings.brokers.join(",");
    this.#admin = new Admin({ ...cfg.base, clientId: cfg.base.clientId + "-admin" });
    this.#admin.on("error", () => {});
  }

  /**
   * Creates topics and waits until every partition has a leader that answers for it (ListOffsets).
   *
   * @param topics Topics to create.
   * @param timeoutMs How long to wait for the leaders (default 30 s).
   * @returns Resolves once the topics are usable.
   * @throws {KafkaAdminError} When a topic cannot be created (e.g. it exists) or gets no leader in time.
   * @example
   * ```ts ignore
   * await admin.createTopics([{ topic: "orders", partitions: 3, config: { "max.message.bytes": "2048" } }]);
   * ```
   */
  async createTopics(topics: readonly TopicSpec[], timeoutMs = 30_000): Promise<void> {
    for (const t of topics) {
      if (t.partitions !== undefined && !(Number.isInteger(t.partitions) && t.partitions > 0)) {
        throw new KafkaConfigError(`topic "${t.topic}": partitions must be a positive integer`, "partitions");
      }
      try {
        await this.#admin.createTopics({
          topics: [t.topic],
          partitions: t.partitions ?? 3,
          replicas: t.replicas ?? -1,
          configs: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
        });
      } catch (e) {
        throw new KafkaAdminError(
          `could not create topic "${t.topic}" on ${this.#brokers}: ${describeError(e)}`,
          e,
        );
      }
    }
    const names = topics.map((t) => t.topic);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      try {
        const md = await this.#admin.metadata({ topics: names, forceUpdate: true });
        const ready = names.every((n) => {
          const t = md.topics.get(n);
          return t !== undefined && t.partitions.length > 0 &&
            t.partitions.every((p) => p !== undefined && p.leader >= 0);
        });
        // a leader named in the metadata may not lead yet (a produce would get NOT_LEADER_OR_FOLLOWER):
        // ListOffsets, answered by each partition's leader, fails until it does
        if (ready) {
          for (const n of names) await this.endOffsets(n);
          return;
        }
      } catch (e) {
        if (performance.now() > deadline) {
          throw new KafkaAdminError(`topics ${names.join(", ")} got no leaders: ${describeError(e)}`, e);
        }
      }
      if (performance.now() > deadline) {
        throw new KafkaAdminError(`topics ${names.join(", ")} got no leaders in time`);
      }
      await sleep(50);
    }
  }

  /**
   * Deletes topics.
   *
   * @param topics Topic names.
   * @returns Resolves once the broker accepted the deletion.
   * @throws {KafkaAdminError} When a topic does not exist or the request fails.
   * @example
   * ```ts ignore
   * await admin.deleteTopics(["orders"]);
   * ```
   */
  async deleteTopics(topics: readonly string[]): Promise<void> {
    if (topics.length === 0) return;
    try {
      await this.#admin.deleteTopics({ topics: [...topics] });
    } catch (e) {
      throw new KafkaAdminError(
        `could not delete ${topics.join(", ")} on ${this.#brokers}: ${describeError(e)}`,
        e,
      );
    }
  }

  /**
   * End offsets (high watermarks: the next offset to be written) of every partition of `topic`.
   *
   * @param topic Topic name.
   * @returns Partition → end offset.
   * @throws {KafkaAdminError} When the topic does not exist or the request fails.
   * @example
   * ```ts ignore
   * const ends = await admin.endOffsets("orders"); // Map { 0 => 30, 1 => 30, 2 => 30 }
   * ```
   */
  endOffsets(topic: string): Promise<Map<number, number>> {
    return this.#listOffsets(topic, -1n, "end");
  }

  /** Offsets of every partition of `topic` at `timestamp` (-1: end, -2: start). */
  async #listOffsets(topic: string, timestamp: bigint, what: string): Promise<Map<number, number>> {
    try {
      const md = await this.#admin.metadata({ topics: [topic] });
      const count = md.topics.get(topic)?.partitionsCount ?? 0;
      const partitions = [...Array(count).keys()].map((partitionIndex) => ({ partitionIndex, timestamp }));
      const listed = await this.#admin.listOffsets({ topics: [{ name: topic, partitions }] });
      const out = new Map<number, number>();
      for (const t of listed) for (const p of t.partitions) out.set(p.partitionIndex, Number(p.offset));
      return new Map([...out].sort((a, b) => a[0] - b[0]));
    } catch (e) {
      throw new KafkaAdminError(
        `could not read the ${what} offsets of "${topic}" on ${this.#brokers}: ${describeError(e)}`,
        e,
      );
    }
  }

  /**
   * Start offsets (low watermarks: the first offset still stored) of every partition of `topic`.
   *
   * @param topic Topic name.
   * @returns Partition → start offset.
   * @throws {KafkaAdminError} When the topic does not exist or the request fails.
   * @example
   * ```ts ignore
   * const starts = await admin.startOffsets("orders"); // Map { 0 => 0, 1 => 0, 2 => 0 }
   * ```
   */
  startOffsets(topic: string): Promise<Map<number, number>> {
    return this.#listOffsets(topic, -2n, "start");
  }

  /**
   * Committed offsets of `groupId` on `topic` (partitions without a commit are absent).
   *
   * @param groupId Consumer group.
   * @param topic Topic name.
   * @returns Partition → committed offset (the next offset to read).
   * @throws {KafkaAdminError} When the request fails.
   * @example
   * ```ts ignore
   * const committed = await admin.committedOffsets("orders-group", "orders");
   * ```
   */
  async committedOffsets(groupId: string, topic: string): Promise<Map<number, number>> {
    try {
      const [group] = await this.#admin.listConsumerGroupOffsets({ groups: [groupId] });
      const out = new Map<number, number>();
      for (const t of group?.topics ?? []) {
        if (t.name !== topic) continue;
        for (const p of t.partitions) {
          if (p.committedOffset >= 0n) out.set(p.partitionIndex, Number(p.committedOffset));
        }
      }
      return new Map([...out].sort((a, b) => a[0] - b[0]));
    } catch (e) {
      throw new KafkaAdminError(
        `could not read the offsets of group "${groupId}" on ${this.#brokers}: ${describeError(e)}`,
        e,
      );
    }
  }

  /**
   * Lag of `groupId` on every partition of `topic`.
   *
   * @param groupId Consumer group.
   * @param topic Topic name.
   * @returns One entry per partition, in partition order.
   * @throws {KafkaAdminError} When a request fails.
   * @example
   * ```ts ignore
   * const total = (await admin.lag("orders-group", "orders")).reduce((n, p) => n + p.lag, 0);
   * ```
   */
  async lag(groupId: string, topic: string): Promise<PartitionLag[]> {
    const [ends, committed] = await Promise.all([
      this.endOffsets(topic),
      this.committedOffsets(groupId, topic),
    ]);
    return [...ends].map(([partition, end]) => {
      const c = committed.get(partition) ?? null;
      return { partition, committed: c, end, lag: c === null ? end : Math.max(0, end - c) };
    });
  }

  /**
   * Closes the connections (idempotent).
   *
   * @returns Resolves once closed.
   * @example
   * ```ts ignore
   * await admin.close();
   * ```
   */
  async close(): Promise<void> {
    if (!this.#admin.closed) await this.#admin.close();
  }
}
