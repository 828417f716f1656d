/**
 * The kafkajs group consumer adapter: {@link KafkaConsumerClient}. Slightly over ~600 lines: one class,
 * whose revocation protocol (holding kafkajs's join until the revoke settled) is documented in place.
 *
 * @module
 */
import {
  type Consumer,
  type EachBatchPayload,
  Kafka,
  type PartitionAssigner,
  PartitionAssigners,
} from "kafkajs";
import type { ConsumerSettings } from "../../streaming/_settings.ts";
import type {
  BatchControl,
  ConsumerHandler,
  ConsumerPort,
  ConsumerRunOptions,
  RecordBatch,
  TopicPartition,
  TopicPartitionOffset,
} from "../../streaming/_transport.ts";
import {
  describeError,
  isRebalancing,
  KafkaCommitError,
  KafkaConfigError,
  KafkaConsumerError,
} from "./_errors.ts";
import { consoleKafkaLogger, type KafkaClientOptions, type KafkaLogger } from "./_logger.ts";
import { groupByTopic, toRecordBatch } from "./_records.ts";
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

type ConsumerState = "new" | "connected" | "running" | "stopping" | "stopped" | "failed";

const EMPTY_TPS: readonly TopicPartition[] = Object.freeze([]);

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
  readonly #heartbeatIntervalMs: number;
  readonly #log: KafkaLogger;
  #state: ConsumerState = "new";
  #handler: ConsumerHandler | null = null;
  #assigned: readonly TopicPartition[] = EMPTY_TPS;
  #joined = false;
  #startupError: KafkaConsumerError | null = null;
  /** Bumped whenever a revocation starts: batches delivered before are stale. */
  #generation = 0;
  #rebalanceAnnounced = false;
  #revoking: Promise<void> | null = null;
  #inflight = 0;
  #idleWaiters: (() => void)[] = [];
  #pausedTopics = new Set<string>();
  #commitEvents = 0;
  #lastHeartbeat: (() => Promise<void>) | null = null;
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
    this.#heartbeatIntervalMs = cfg.consumer.heartbeatInterval ?? 3000;
    this.#log = options.logger ?? consoleKafkaLogger;
    const hookedAssigner: PartitionAssigner = (config) => {
      this.#holdJoinsUntilRevoked(config.cluster as unknown as { findGroupCoordinator: unknown });
      return PartitionAssigners.roundRobin(config);
    };
    const consumer = new Kafka(cfg.client).consumer({
      ...cfg.consumer,
      partitionAssigners: [hookedAssigner],
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
      throw new KafkaConsumerError(
        `Kafka consumer (group "${this.#groupId}") could not connect to ${this.#brokers}: ${
          describeError(e)
        }. ` +
          `Check that the brokers are reachable.`,
        this.#groupId,
        e,
      );
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
    if (this.#state !== "connected") {
      throw new KafkaConsumerError(
        `subscribe() needs a connected consumer that is not running yet (state: ${this.#state})`,
        this.#groupId,
      );
    }
    if (topics.length === 0) return;
    try {
      await this.#consumer.subscribe({ topics: [...topics], fromBeginning });
    } catch (e) {
      throw new KafkaConsumerError(
        `Kafka consumer (group "${this.#groupId}") could not subscribe to ${topics.join(", ")}: ${
          describeError(e)
        }${
          (e as { type?: unknown })?.type === "UNKNOWN_TOPIC_OR_PARTITION"
            ? " (the topic does not exist: create it, or enable auto.create.topics.enable on the broker)"
            : ""
        }`,
        this.#groupId,
        e,
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
    if (this.#state !== "connected") {
      throw new KafkaConsumerError(
        `run() needs a connected consumer that is not running yet (state: ${this.#state})`,
        this.#groupId,
      );
    }
    this.#handler = handler;
    this.#state = "running";
    this.#starting = this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
      eachBatch: (payload) => this.#eachBatch(payload),
    });
    try {
      await this.#starting;
    } catch (e) {
      this.#state = "failed";
      throw new KafkaConsumerError(
        `Kafka consumer (group "${this.#groupId}") could not start: ${describeError(e)}`,
        this.#groupId,
        e,
      );
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
    return this.#assigned;
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
    const what = () => offsets.map((o) => `${o.topic}[${o.partition}]@${o.offset}`).join(", ");
    if (this.#state !== "running" && this.#state !== "stopping") {
      throw new KafkaCommitError(
        `cannot commit ${what()} for group "${this.#groupId}": the consumer is ${this.#state}`,
        this.#groupId,
        offsets,
      );
    }
    const list = new Array<{ topic: string; partition: number; offset: string }>(offsets.length);
    for (let i = 0; i < offsets.length; i++) {
      const o = offsets[i];
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
        throw new KafkaCommitError(
          `cannot commit ${o.topic}[${o.partition}]: offset ${o.offset} is not a non-negative integer`,
          this.#groupId,
          offsets,
        );
      }
      list[i] = { topic: o.topic, partition: o.partition, offset: String(o.offset) };
    }
    const before = this.#commitEvents;
    try {
      await this.#consumer.commitOffsets(list);
    } catch (e) {
      throw new KafkaCommitError(
        `Kafka rejected the offset commit ${what()} for group "${this.#groupId}": ${describeError(e)}`,
        this.#groupId,
        offsets,
        e,
      );
    }
    // kafkajs silently skips a commit once its runner stopped; a successful commit always emits the event.
    if (this.#commitEvents === before) {
      throw new KafkaCommitError(
        `offsets ${what()} for group "${this.#groupId}" were not committed: the kafkajs consumer stopped`,
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
    this.#requireRunning("pause");
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
    this.#requireRunning("resume");
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

  #requireRunning(what: string): void {
    if (this.#state !== "running" && this.#state !== "stopping") {
      throw new KafkaConsumerError(
        `${what}() needs a running consumer (state: ${this.#state})`,
        this.#groupId,
      );
    }
  }

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
      const owned = this.#assigned;
      if (owned.length > 0) {
        try {
          this.#consumer.pause(groupByTopic(owned));
        } catch { /* not running any more */ }
      }
      await this.#waitIdle();
      if (this.#revoking !== null) await this.#revoking;
      if (this.#assigned.length > 0) await this.#revoke();
    }
    try {
      await this.#consumer.stop();
    } finally {
      if (this.#state === "stopping") this.#state = "stopped";
    }
  }

  #holdJoinsUntilRevoked(cluster: { findGroupCoordinator: unknown }): void {
    const original = cluster.findGroupCoordinator;
    if (typeof original !== "function") {
      throw new KafkaConfigError(
        "kafkajs internals changed: cluster.findGroupCoordinator is missing; the revocation hook needs kafkajs 2.2.4",
      );
    }
    cluster.findGroupCoordinator = (...args: unknown[]): Promise<unknown> => {
      const pending = this.#assigned.length > 0 ? this.#revoke() : this.#revoking;
      if (pending === null) return original.apply(cluster, args);
      return pending.then(() => original.apply(cluster, args));
    };
  }

  /** Revokes every owned partition: waits for in-flight batches, then runs `onRevoked` (once). */
  #revoke(): Promise<void> {
    if (this.#revoking !== null) return this.#revoking;
    const tps = this.#assigned;
    this.#assigned = EMPTY_TPS;
    this.#generation++;
    const run = async () => {
      await this.#waitIdle();
      const onRevoked = this.#handler?.onRevoked;
      if (onRevoked === undefined || tps.length === 0) return;
      const heartbeat = this.#lastHeartbeat;
      const keepalive = heartbeat === null ? undefined : setInterval(() => {
        heartbeat().catch(() => {/* REBALANCE_IN_PROGRESS is expected: the heartbeat still counts */});
      }, this.#heartbeatIntervalMs);
      try {
        await onRevoked.call(this.#handler, tps);
      } catch (e) {
        this.#log({
          level: "error",
          namespace: "loom.KafkaConsumerClient",
          message: `onRevoked failed for group "${this.#groupId}"; the rebalance goes on`,
          fields: { error: e, partitions: tps.map((t) => `${t.topic}[${t.partition}]`).join(",") },
        });
      } finally {
        if (keepalive !== undefined) clearInterval(keepalive);
      }
    };
    const p = run().finally(() => {
      this.#revoking = null;
    });
    this.#revoking = p;
    return p;
  }

  #waitIdle(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #onGroupJoin(memberAssignment: Readonly<Record<string, number[]>>): void {
    this.#joined = true;
    if (this.#state !== "running") return;
    const tps: TopicPartition[] = [];
    for (const topic of Object.keys(memberAssignment).sort()) {
      for (const partition of [...memberAssignment[topic]].sort((a, b) => a - b)) {
        tps.push({ topic, partition });
      }
    }
    if (this.#pausedTopics.size > 0) {
      try {
        this.#consumer.resume([...this.#pausedTopics].map((topic) => ({ topic })));
      } catch { /* consumer not initialised: nothing paused */ }
      this.#pausedTopics.clear();
    }
    this.#assigned = Object.freeze(tps);
    this.#rebalanceAnnounced = false;
    try {
      this.#handler?.onAssigned?.(this.#assigned);
    } catch (e) {
      this.#log({
        level: "error",
        namespace: "loom.KafkaConsumerClient",
        message: `onAssigned failed for group "${this.#groupId}"`,
        fields: { error: e },
      });
    }
  }

  #onCrash(error: Error): void {
    const err = new KafkaConsumerError(
      `Kafka consumer (group "${this.#groupId}") crashed and stopped: ${describeError(error)}`,
      this.#groupId,
      error,
    );
    this.#assigned = EMPTY_TPS;
    this.#generation++;
    const wasJoined = this.#joined;
    this.#state = "failed";
    if (!wasJoined) {
      this.#startupError = err;
      return;
    }
    this.#report(err);
  }

  #report(err: KafkaConsumerError): void {
    const onError = this.#handler?.onError;
    if (onError !== undefined) {
      try {
        onError.call(this.#handler, err);
        return;
      } catch { /* fall through to the log */ }
    }
    this.#log({ level: "error", namespace: "loom.KafkaConsumerClient", message: err.message, fields: {} });
  }

  /** A rejected onBatch: stop the consumer without revoking (the handler is broken), then report. */
  #fail(cause: unknown, batch: RecordBatch): void {
    if (this.#state === "failed" || this.#stopPromise !== null) return;
    const err = new KafkaConsumerError(
      `onBatch failed for ${batch.topic}[${batch.partition}] (group "${this.#groupId}"); the consumer stops: ` +
        describeError(cause),
      this.#groupId,
      cause,
    );
    this.#assigned = EMPTY_TPS;
    this.#generation++;
    this.#stopPromise = this.#stop(false).catch(() => {}).then(() => {
      this.#state = "failed";
      this.#report(err);
    });
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    if (this.#state !== "running") return;
    const kb = payload.batch;
    const messages = kb.messages;
    if (messages.length === 0) return;
    const batch = toRecordBatch(kb.topic, kb.partition, messages, Number(kb.highWatermark));
    this.#lastHeartbeat = payload.heartbeat;
    this.#inflight++;
    const generation = this.#generation;
    const ctl: BatchControl = {
      heartbeat: () => this.#heartbeat(payload),
      isRunning: () => this.#state === "running" && payload.isRunning(),
      isStale: () => this.#rebalanceAnnounced || generation !== this.#generation || payload.isStale(),
    };
    let failed = false;
    // Heartbeats go on while the handler works (slow steps, slow sinks), so a batch that takes longer
    // than session.timeout.ms does not get the member evicted from its group. kafkajs sends a heartbeat
    // only when one is due, so ticking at the heartbeat interval is cheap.
    const keepalive = setInterval(() => {
      this.#heartbeat(payload).catch(() => {/* reported by the next fetch or commit */});
    }, this.#heartbeatIntervalMs);
    try {
      await this.#handler!.onBatch(batch, ctl);
    } catch (e) {
      failed = true;
      this.#fail(e, batch);
    } finally {
      clearInterval(keepalive);
      if (--this.#inflight === 0 && this.#idleWaiters.length > 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const w of waiters) w();
      }
    }
    if (!failed && this.#state === "running" && generation === this.#generation) {
      payload.resolveOffset(messages[messages.length - 1].offset);
    }
  }

  async #heartbeat(payload: EachBatchPayload): Promise<void> {
    try {
      await payload.heartbeat();
    } catch (e) {
      if (isRebalancing(e)) {
        this.#rebalanceAnnounced = true;
        return;
      }
      throw new KafkaConsumerError(
        `heartbeat failed for group "${this.#groupId}": ${describeError(e)}`,
        this.#groupId,
        e,
      );
    }
  }
}
