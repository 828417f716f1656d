/**
 * The in-memory broker's public types (options, records, staged writes, snapshots, fault operations) and
 * errors.
 *
 * @module
 */
import type { Clock } from "../streaming/_clock.ts";
import type { TopicPartitionOffset } from "../streaming/_transport.ts";

/**
 * Options of {@link InMemoryBroker}.
 *
 * @example
 * ```ts
 * import { InMemoryBroker, VirtualClock } from "@loom/streaming/testing";
 * const broker = new InMemoryBroker({ clock: new VirtualClock(1_000), defaultPartitions: 3 });
 * ```
 */
export interface InMemoryBrokerOptions {
  /** Source of record timestamps and commit times. Default: a `VirtualClock` at 0. */
  readonly clock?: Clock;
  /** Partition count of topics created implicitly by `produce`/`append`. Default 1. */
  readonly defaultPartitions?: number;
  /** Create unknown topics on `produce`/`append` (Kafka's `auto.create.topics.enable`). Default `true`. */
  readonly autoCreateTopics?: boolean;
}

/**
 * Options of {@link InMemoryBroker.createTopic}.
 *
 * @example
 * ```ts
 * import { InMemoryBroker } from "@loom/streaming/testing";
 * new InMemoryBroker().createTopic("orders", { partitions: 6 });
 * ```
 */
export interface CreateTopicOptions {
  /** Partition count (a positive integer). Default 1. */
  readonly partitions?: number;
  /**
   * Largest record (key + value bytes) the topic accepts, like Kafka's topic-level `max.message.bytes`.
   * A produce call carrying a larger record is refused as a whole with a {@link SimulatedBrokerError}
   * whose `recordSpecific` is true (Kafka's MESSAGE_TOO_LARGE). Default: no limit.
   */
  readonly maxMessageBytes?: number;
}

/**
 * A record to load exactly as given (fixtures, recorded topics); see {@link InMemoryBroker.append}.
 *
 * @example
 * ```ts
 * import { InMemoryBroker } from "@loom/streaming/testing";
 * const broker = new InMemoryBroker();
 * broker.append({ topic: "orders", partition: 0, offset: 10, key: null, value: null, timestampMs: 1 });
 * ```
 */
export interface AppendRecord {
  /** Topic name (auto-created unless `autoCreateTopics` is off). */
  readonly topic: string;
  /** Absent/`null`: chosen like {@link InMemoryBroker.produce} does (key hash, else round-robin). */
  readonly partition?: number | null;
  /** Absent/`null`: the partition's next offset. Otherwise it must be >= that (gaps are allowed). */
  readonly offset?: number | null;
  /** Key bytes, or `null`. */
  readonly key: Uint8Array | null;
  /** `null` is a tombstone. */
  readonly value: Uint8Array | null;
  /** Default `{}`. */
  readonly headers?: Readonly<Record<string, Uint8Array>>;
  /** Absent/`null`: the broker clock's `now()`. */
  readonly timestampMs?: number | null;
}

/**
 * A validated produce request held by an open transaction of {@link InMemoryBroker.transactionalProducer}.
 *
 * @example
 * ```ts
 * import type { StagedWrite } from "@loom/streaming/testing";
 * const pending: StagedWrite[] = [];
 * ```
 */
export interface StagedWrite {
  /** Topic of the request. */
  readonly topic: string;
}

/**
 * One committed offset, as {@link InMemoryBroker.commitLog} reports it.
 *
 * @example
 * ```ts
 * import { InMemoryBroker } from "@loom/streaming/testing";
 * const broker = new InMemoryBroker();
 * broker.createTopic("orders");
 * broker.commit("g", [{ topic: "orders", partition: 0, offset: 0 }]);
 * broker.commitLog("g")[0].offset; // 0
 * ```
 */
export interface CommitLogEntry {
  /** Topic name. */
  readonly topic: string;
  /** Partition. */
  readonly partition: number;
  /** The committed offset: the next offset the group will read. */
  readonly offset: number;
  /** Broker clock time of the commit. */
  readonly atMs: number;
}

/**
 * A record in a {@link BrokerSnapshot}: bytes as standard base64.
 *
 * @example
 * ```ts
 * import { InMemoryBroker } from "@loom/streaming/testing";
 * const broker = new InMemoryBroker();
 * broker.append({ topic: "orders", key: null, value: new Uint8Array([1]), timestampMs: 5 });
 * broker.snapshot().topics.orders[0].records[0].value; // "AQ=="
 * ```
 */
export interface SnapshotRecord {
  /** Record offset. */
  readonly offset: number;
  /** Record timestamp (ms). */
  readonly timestampMs: number | null;
  /** Key as base64, or `null`. */
  readonly key: string | null;
  /** Header name → base64 value, in record order. */
  readonly headers: Readonly<Record<string, string>>;
  /** Value as base64, or `null` for a tombstone. */
  readonly value: string | null;
}

/**
 * One partition in a {@link BrokerSnapshot}.
 *
 * @example
 * ```ts
 * import { InMemoryBroker } from "@loom/streaming/testing";
 * const broker = new InMemoryBroker();
 * broker.createTopic("orders", { partitions: 2 });
 * broker.snapshot().topics.orders.map((p) => p.endOffset); // [0, 0]
 * ```
 */
export interface SnapshotPartition {
  /** Partition number. */
  readonly partition: number;
  /** The partition's end offset (next offset to be written). */
  readonly endOffset: number;
  /** Records in offset order. */
  readonly records: readonly SnapshotRecord[];
}

/**
 * A plain, deterministic, JSON-able view of the broker (topics sorted by name, groups by name).
 *
 * @example
 * ```ts
 * import { InMemoryBroker } from "@loom/streaming/testing";
 * const broker = new InMemoryBroker();
 * broker.createTopic("orders");
 * JSON.stringify(broker.snapshot()); // deterministic: equal brokers give equal text
 * ```
 */
export interface BrokerSnapshot {
  /** Topic name → its partitions, in partition order. */
  readonly topics: Readonly<Record<string, readonly SnapshotPartition[]>>;
  /** Latest committed offset per group, sorted by topic then partition. */
  readonly groups: Readonly<Record<string, readonly TopicPartitionOffset[]>>;
}

/**
 * Which broker operation a fault applies to.
 *
 * @example
 * ```ts
 * import { type BrokerOperation, InMemoryBroker } from "@loom/streaming/testing";
 * const broker = new InMemoryBroker();
 * broker.createTopic("orders");
 * broker.failSends("orders", 2);
 * const op: BrokerOperation = "send";
 * broker.pendingFaults(op, "orders"); // 2
 * ```
 */
export type BrokerOperation = "send" | "fetch" | "commit";

/**
 * Misuse of the in-memory broker (unknown topic, partition out of range, offset going backwards...).
 * These are bugs in the test or the code under test, never injected faults.
 *
 * @example
 * ```ts
 * import { InMemoryBroker, InMemoryBrokerError } from "@loom/streaming/testing";
 * const broker = new InMemoryBroker();
 * try {
 *   broker.fetch("missing", 0, 0, 10);
 * } catch (e) {
 *   e instanceof InMemoryBrokerError; // true
 * }
 * ```
 */
export class InMemoryBrokerError extends Error {
  /**
   * Builds the error.
   *
   * @param message what is wrong and how to fix it
   */
  constructor(message: string) {
    super(message);
    this.name = "InMemoryBrokerError";
  }
}

/**
 * A failure injected with {@link InMemoryBroker.failSends}, {@link InMemoryBroker.failFetches} or
 * {@link InMemoryBroker.failCommits}.
 *
 * @example
 * ```ts
 * import { InMemoryBroker, SimulatedBrokerError } from "@loom/streaming/testing";
 * const broker = new InMemoryBroker();
 * broker.failSends("orders", 1);
 * try {
 *   broker.produce("orders", [{ key: null, value: new Uint8Array(1), headers: {}, timestampMs: null }]);
 * } catch (e) {
 *   (e as SimulatedBrokerError).operation; // "send"
 * }
 * ```
 */
export class SimulatedBrokerError extends Error {
  /** The failed operation. */
  readonly operation: BrokerOperation;
  /** The topic (send, fetch) or group (commit) the fault was injected for. */
  readonly target: string;
  /** The broker refused the records' content (e.g. too large), not the request: see `ProducerPort.send`. */
  readonly recordSpecific: boolean;

  /**
   * Builds the error.
   *
   * @param operation the failed operation
   * @param target topic or group name
   * @param message the error message
   * @param recordSpecific whether the records themselves were refused
   */
  constructor(operation: BrokerOperation, target: string, message: string, recordSpecific = false) {
    super(message);
    this.name = "SimulatedBrokerError";
    this.operation = operation;
    this.target = target;
    this.recordSpecific = recordSpecific;
  }
}
