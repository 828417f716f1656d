/**
 * The kafkajs group consumer adapter: {@link KafkaConsumerClient}, its life cycle (connect, subscribe,
 * run, stop), commits, pause and resume, and its group membership. What it holds elsewhere: the delivery
 * of kafkajs's `eachBatch` to `onBatch` (`_batch_delivery.ts`), the hook that holds kafkajs's joins until
 * a revocation settled (`_join_hook.ts`), the assignment and revocation bookkeeping it shares with the
 * @platformatic/kafka adapter (`../_group_membership.ts`), and the shared state checks and errors
 * (`../_consumer_checks.ts`).
 *
 * @module
 */
import { type Consumer, Kafka } from "kafkajs";
import type { ConsumerSettings } from "../../streaming/_settings.ts";
import type {
  ConsumerHandler,
  ConsumerPort,
  ConsumerRunOptions,
  RecordBatch,
  TopicPartition,
  TopicPartitionOffset,
} from "../../streaming/_transport.ts";
import {
  batchError,
  connectError,
  type ConsumerState,
  offsetList,
  requireCommittable,
  requireConnected,
  requireRunning,
  startError,
  subscribeError,
} from "../_consumer_checks.ts";
import { GroupMembership, sortedAssignment } from "../_group_membership.ts";
import { BatchDelivery } from "./_batch_delivery.ts";
import { describeError, KafkaCommitError, KafkaConsumerError } from "./_errors.ts";
import { roundRobinAfterRevoke } from "./_join_hook.ts";
import { consoleKafkaLogger, type KafkaClientOptions, type KafkaLogger } from "./_logger.ts";
import { groupByTopic } from "./_records.ts";
import { settingsToKafkaJs } from "./_settings.ts";
import { installWarningFilter } from "./_warnings.ts";

/**
 * A Kafka group consumer as the run loop sees it (the core's {@link ConsumerPort}).
 *
 * @example
 * ```ts
 * import type { ConsumerSettings } from "@loom/streaming";
 * import { KafkaConsumerClient, type KafkaConsumerPort } from "@loom/streaming/runtime";
 * declare const settings: ConsumerSettings;
 * const consumer: KafkaConsumerPort = new KafkaConsumerClient(settings);
 * ```
 */
export type KafkaConsumerPort = ConsumerPort;

/**
 * kafkajs implementation of {@link KafkaConsumerPort}: auto-commit is always OFF (the engine commits
 * through {@link KafkaConsumerClient.commit}), batches are delivered with `eachBatch` and
 * `eachBatchAutoResolve: false`, and converted to {@link RecordBatch} (offsets and timestamps as
 * numbers, key/value/header bytes as Uint8Array views without copying, a string header as UTF-8
 * bytes, the last of duplicate headers wins, null headers dropped).
 *
 * Assignment and revocation (kafkajs speaks the EAGER classic group protocol):
 * - `onAssigned(tps)` runs after every successful join+sync (kafkajs GROUP_JOIN), before the first
 *   batch of the new assignment is fetched. Partition pause state is cleared at that point (like the
 *   Java client, a newly assigned partition starts unpaused).
 * - `onRevoked(tps)` receives ALL partitions owned so far, on every rebalance (the same partitions may
 *   come straight back in the next `onAssigned`), and on `stop()`. It is called after every in-flight
 *   `onBatch` of this consumer has returned and BEFORE this member sends its JoinGroup (or LeaveGroup):
 *   kafkajs only notices a rebalance at a heartbeat between batches, stops its fetchers, and the
 *   adapter holds the join until `onRevoked` settles. Meanwhile the old generation is still valid, so
 *   `commit()` of the revoked partitions succeeds, and the adapter keeps heartbeating. It must settle
 *   within the group's rebalance timeout (`max.poll.interval.ms`, kafkajs default 60 s) or the
 *   coordinator expels the member (then commits fail with {@link KafkaCommitError}).
 * - Not called when the consumer crashes: the partitions are lost (commits are impossible), and
 *   `onError` is called instead (like Java's `onPartitionsLost`).
 * - A long `onBatch` delays the whole group's rebalance: call `ctl.heartbeat()` and give up early when
 *   `ctl.isStale()`.
 * Holding the join relies on kafkajs 2.2.4 internals: the consumer's cluster object (handed to
 * partition assigners) and its `findGroupCoordinator`, which kafkajs calls at the start of every join.
 *
 * Errors: `connect`/`subscribe`/`run` reject with {@link KafkaConsumerError}; later failures (crash
 * after kafkajs's retries, onBatch rejection) go to `onError` and stop the consumer (kafkajs's automatic
 * restart is disabled); commits reject with {@link KafkaCommitError}.
 *
 * @example
 * ```ts
 * import { KafkaConsumerClient } from "@loom/streaming/runtime";
 * const consumer = new KafkaConsumerClient({
 *   brokers: ["127.0.0.1:19092"], groupId: "g", topics: ["orders"], autoOffsetReset: "earliest",
 *   pollTimeoutMs: 100, enableAutoCommit: false, security: null, extra: {},
 * });
 * await consumer.connect();
 * await consumer.subscribe(["orders"], true);
 * await consumer.run({
 *   onBatch: async (batch) => {
 *     const last = batch.records[batch.records.length - 1];
 *     await consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: last.offset + 1 }]);
 *   },
 * });
 * await consumer.disconnect();
 * ```
 */
export class KafkaConsumerClient implements KafkaConsumerPort {
  readonly #consumer: Consumer;
  readonly #groupId: string;
  readonly #brokers: string;
  readonly #log: KafkaLogger;
  #state: ConsumerState = "new";
  /** The handler, the assignment and its generation, the revocation under way. */
  readonly #membership: GroupMembership;
  /** kafkajs's batches to the handler. */
  readonly #batches: BatchDelivery;
  #joined = false;
  #startupError: KafkaConsumerError | null = null;
  #pausedTopics = new Set<string>();
  #commitEvents = 0;
  #stopPromise: Promise<void> | null = null;
  /** kafkajs `run()` until its first join completed (a kafkajs stop during the join is lost). */
  #starting: Promise<void> | null = null;

  /**
   * Builds the kafkajs consumer (no connection yet: call `connect()`).
   *
   * @param settings Consumer settings (`topics` and `autoOffsetReset` are read by the caller and passed
   *   to {@link KafkaConsumerClient.subscribe}).
   * @param options Logger options.
   * @throws {KafkaConfigError} When the settings cannot be mapped onto kafkajs.
   */
  constructor(settings: ConsumerSettings, options: KafkaClientOptions = {}) {
    installWarningFilter();
    const cfg = settingsToKafkaJs(settings, options);
    this.#groupId = settings.groupId;
    this.#brokers = settings.brokers.join(",");
    const heartbeatIntervalMs = cfg.consumer.heartbeatInterval ?? 3000;
    this.#log = options.logger ?? consoleKafkaLogger;
    this.#membership = new GroupMembership({
      groupId: this.#groupId,
      log: this.#log,
      namespace: "loom.KafkaConsumerClient",
      heartbeatIntervalMs,
      drain: () => this.#batches.idle(),
      heartbeat: () => {
        const heartbeat = this.#batches.lastHeartbeat;
        return heartbeat === null ? null : () => {
          heartbeat().catch(() => {/* REBALANCE_IN_PROGRESS is expected: the heartbeat still counts */});
        };
      },
    });
    this.#batches = new BatchDelivery({
      groupId: this.#groupId,
      heartbeatIntervalMs,
      membership: this.#membership,
      isRunning: () => this.#state === "running",
      fail: (cause, batch) => this.#fail(cause, batch),
    });
    // kafkajs calls findGroupCoordinator at the start of every join: the revocation runs before it
    const assigner = roundRobinAfterRevoke(() => {
      const membership = this.#membership;
      return membership.assigned.length > 0 ? membership.revoke() : membership.revoking;
    });
    const consumer = new Kafka(cfg.client).consumer({
      ...cfg.consumer,
      partitionAssigners: [assigner],
      retry: { ...cfg.client.retry, restartOnFailure: () => Promise.resolve(false) },
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.#onGroupJoin(e.payload.memberAssignment));
    consumer.on(consumer.events.CRASH, (e) => this.#onCrash(e.payload.error));
    consumer.on(consumer.events.COMMIT_OFFSETS, () => {
      this.#commitEvents++;
    });
    this.#consumer = consumer;
  }

  /**
   * The consumer group id.
   *
   * @example
   * ```ts
   * import type { KafkaConsumerClient } from "@loom/streaming/runtime";
   * declare const consumer: KafkaConsumerClient;
   * console.log(consumer.groupId);
   * ```
   */
  get groupId(): string {
    return this.#groupId;
  }

  /**
   * Connects to the cluster.
   *
   * @returns Resolves once connected.
   * @throws {KafkaConsumerError} When no broker could be reached within the retry budget.
   * @example
   * ```ts
   * import type { KafkaConsumerClient } from "@loom/streaming/runtime";
   * declare const consumer: KafkaConsumerClient;
   * await consumer.connect();
   * ```
   */
  async connect(): Promise<void> {
    if (this.#state !== "new") return;
    try {
      await this.#consumer.connect();
      this.#state = "connected";
    } catch (e) {
      throw connectError(this.#groupId, this.#brokers, e, describeError(e), "");
    }
  }

  /**
   * Subscribes to topics (before `run`). A missing topic is created when the broker allows it.
   *
   * @param topics Physical topics.
   * @param fromBeginning Where a partition without committed offset starts: earliest (true) or latest.
   * @returns Resolves once the topics' metadata is loaded.
   * @throws {KafkaConsumerError} When not connected, already running, or the metadata request fails.
   * @example
   * ```ts
   * import type { KafkaConsumerClient } from "@loom/streaming/runtime";
   * declare const consumer: KafkaConsumerClient;
   * await consumer.subscribe(["orders"], true);
   * ```
   */
  async subscribe(topics: readonly string[], fromBeginning: boolean): Promise<void> {
    requireConnected("subscribe", this.#state, this.#groupId);
    if (topics.length === 0) return;
    try {
      await this.#consumer.subscribe({ topics: [...topics], fromBeginning });
    } catch (e) {
      throw subscribeError(
        this.#groupId,
        topics,
        e,
        describeError(e),
        (e as { type?: unknown })?.type === "UNKNOWN_TOPIC_OR_PARTITION"
          ? " (the topic does not exist: create it, or enable auto.create.topics.enable on the broker)"
          : "",
      );
    }
  }

  /**
   * Joins the group and starts delivering batches to `handler`.
   *
   * @param handler Batch, assignment, revocation and error callbacks.
   * @param options Concurrency.
   * @returns Resolves after the first successful group join (`onAssigned` has run).
   * @throws {KafkaConsumerError} When the consumer is not connected or cannot join its group.
   * @example
   * ```ts
   * import type { KafkaConsumerClient } from "@loom/streaming/runtime";
   * declare const consumer: KafkaConsumerClient;
   * await consumer.run({
   *   onBatch: async (batch, ctl) => {
   *     if (ctl.isStale()) return;
   *     console.log(batch.topic, batch.partition, batch.records.length);
   *   },
   * }, { partitionsConsumedConcurrently: 3 });
   * ```
   */
  async run(handler: ConsumerHandler, options: ConsumerRunOptions = {}): Promise<void> {
    requireConnected("run", this.#state, this.#groupId);
    this.#membership.handler = handler;
    this.#state = "running";
    this.#starting = this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
      eachBatch: (payload) => this.#batches.eachBatch(payload),
    });
    try {
      await this.#starting;
    } catch (e) {
      this.#state = "failed";
      throw startError(this.#groupId, e, describeError(e));
    }
    if (this.#startupError !== null) throw this.#startupError;
  }

  /**
   * The partitions assigned by the last group join (empty before it and once revoked).
   *
   * @returns The current assignment.
   * @example
   * ```ts
   * import type { KafkaConsumerClient } from "@loom/streaming/runtime";
   * declare const consumer: KafkaConsumerClient;
   * console.log(consumer.assignment());
   * ```
   */
  assignment(): readonly TopicPartition[] {
    return this.#membership.assigned;
  }

  /**
   * Commits offsets synchronously (offset = the next offset to read, as Kafka expects).
   *
   * @param offsets Offsets per partition.
   * @returns Resolves once the coordinator stored them.
   * @throws {KafkaCommitError} When the consumer is not running or the coordinator rejected the commit
   *   (e.g. the member was expelled, or the broker is gone after kafkajs's retries).
   * @example
   * ```ts
   * import type { KafkaConsumerClient } from "@loom/streaming/runtime";
   * declare const consumer: KafkaConsumerClient;
   * await consumer.commit([{ topic: "orders", partition: 0, offset: 101 }]);
   * ```
   */
  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    requireCommittable(offsets, this.#state, this.#groupId);
    const list = new Array<{ topic: string; partition: number; offset: string }>(offsets.length);
    for (let i = 0; i < offsets.length; i++) {
      const o = offsets[i];
      list[i] = { topic: o.topic, partition: o.partition, offset: String(o.offset) };
    }
    const before = this.#commitEvents;
    try {
      await this.#consumer.commitOffsets(list);
    } catch (e) {
      throw new KafkaCommitError(
        `Kafka rejected the offset commit ${offsetList(offsets)} for group "${this.#groupId}": ${
          describeError(e)
        }`,
        this.#groupId,
        offsets,
        e,
      );
    }
    // kafkajs silently skips a commit once its runner stopped; a successful commit always emits the event.
    if (this.#commitEvents === before) {
      throw new KafkaCommitError(
        `offsets ${offsetList(offsets)} for group "${this.#groupId}" were not committed: ` +
          "the kafkajs consumer stopped",
        this.#groupId,
        offsets,
      );
    }
  }

  /**
   * Stops fetching the given partitions (the batch being processed is still delivered in full).
   * Cleared by the next group join.
   *
   * @param tps Partitions to pause.
   * @throws {KafkaConsumerError} When the consumer is not running.
   * @example
   * ```ts
   * import type { KafkaConsumerClient } from "@loom/streaming/runtime";
   * declare const consumer: KafkaConsumerClient;
   * consumer.pause([{ topic: "orders", partition: 0 }]);
   * ```
   */
  pause(tps: readonly TopicPartition[]): void {
    if (tps.length === 0) return;
    requireRunning("pause", this.#state, this.#groupId);
    const grouped = groupByTopic(tps);
    for (const g of grouped) this.#pausedTopics.add(g.topic);
    this.#consumer.pause(grouped);
  }

  /**
   * Resumes fetching the given partitions.
   *
   * @param tps Partitions to resume.
   * @throws {KafkaConsumerError} When the consumer is not running.
   * @example
   * ```ts
   * import type { KafkaConsumerClient } from "@loom/streaming/runtime";
   * declare const consumer: KafkaConsumerClient;
   * consumer.resume([{ topic: "orders", partition: 0 }]);
   * ```
   */
  resume(tps: readonly TopicPartition[]): void {
    if (tps.length === 0) return;
    requireRunning("resume", this.#state, this.#groupId);
    this.#consumer.resume(groupByTopic(tps));
  }

  /**
   * Stops gracefully: no new batch is delivered, in-flight `onBatch` calls finish, `onRevoked` runs for
   * the owned partitions (commits still work), then the member leaves the group. Idempotent.
   *
   * @returns Resolves once the member left the group.
   * @example
   * ```ts
   * import type { KafkaConsumerClient } from "@loom/streaming/runtime";
   * declare const consumer: KafkaConsumerClient;
   * await consumer.stop();
   * ```
   */
  stop(): Promise<void> {
    if (this.#stopPromise === null) this.#stopPromise = this.#stop(true);
    return this.#stopPromise;
  }

  /**
   * Stops (see {@link KafkaConsumerClient.stop}) and closes the connections. Idempotent.
   *
   * @returns Resolves once disconnected.
   * @example
   * ```ts
   * import type { KafkaConsumerClient } from "@loom/streaming/runtime";
   * declare const consumer: KafkaConsumerClient;
   * await consumer.disconnect();
   * ```
   */
  async disconnect(): Promise<void> {
    await this.stop();
    await this.#consumer.disconnect();
  }

  // --- internals ---------------------------------------------------------------------------------------

  async #stop(revoke: boolean): Promise<void> {
    if (this.#state === "new" || this.#state === "connected" || this.#state === "stopped") {
      this.#state = "stopped";
      return;
    }
    if (this.#state === "failed") return;
    this.#state = "stopping";
    // kafkajs ignores a stop that arrives while its first join is under way: let the join finish.
    if (this.#starting !== null) await this.#starting.catch(() => {});
    if (revoke) {
      // Quiet the fetch loop while the handler drains and revokes.
      const membership = this.#membership;
      const owned = membership.assigned;
      if (owned.length > 0) {
        try {
          this.#consumer.pause(groupByTopic(owned));
        } catch { /* not running any more */ }
      }
      await this.#batches.idle();
      if (membership.revoking !== null) await membership.revoking;
      if (membership.assigned.length > 0) await membership.revoke();
    }
    try {
      await this.#consumer.stop();
    } finally {
      if (this.#state === "stopping") this.#state = "stopped";
    }
  }

  #onGroupJoin(memberAssignment: Readonly<Record<string, number[]>>): void {
    this.#joined = true;
    if (this.#state !== "running") return;
    const tps = sortedAssignment(Object.entries(memberAssignment));
    if (this.#pausedTopics.size > 0) {
      try {
        this.#consumer.resume([...this.#pausedTopics].map((topic) => ({ topic })));
      } catch { /* consumer not initialised: nothing paused */ }
      this.#pausedTopics.clear();
    }
    this.#batches.joined();
    this.#membership.assign(tps);
  }

  #onCrash(error: Error): void {
    const err = new KafkaConsumerError(
      `Kafka consumer (group "${this.#groupId}") crashed and stopped: ${describeError(error)}`,
      this.#groupId,
      error,
    );
    this.#membership.drop();
    const wasJoined = this.#joined;
    this.#state = "failed";
    if (!wasJoined) {
      this.#startupError = err;
      return;
    }
    this.#membership.report(err);
  }

  /** A rejected onBatch: stop the consumer without revoking (the handler is broken), then report. */
  #fail(cause: unknown, batch: RecordBatch): void {
    if (this.#state === "failed" || this.#stopPromise !== null) return;
    const err = batchError(this.#groupId, batch.topic, batch.partition, cause, describeError(cause));
    this.#membership.drop();
    this.#stopPromise = this.#stop(false).catch(() => {}).then(() => {
      this.#state = "failed";
      this.#membership.report(err);
    });
  }
}
