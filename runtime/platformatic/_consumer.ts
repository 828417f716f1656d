/**
 * The @platformatic/kafka group consumer behind the core's {@link ConsumerPort}: its life cycle (connect,
 * subscribe, run, stop), commits, pause and resume, and the group membership (revoking before every
 * JoinGroup, documented on the class). What it holds elsewhere: the delivery from fetch responses to
 * `onBatch` (`_delivery.ts`), the assignment and revocation bookkeeping it shares with the kafkajs adapter
 * (`../_group_membership.ts`), and the shared state checks and errors (`../_consumer_checks.ts`).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Consumer, type GroupAssignment } from "./_kafka.ts";
import type { ConsumerSettings } from "../../streaming/_settings.ts";
import type {
  BatchControl,
  ConsumerGroupMetadata,
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
import {
  consoleKafkaLogger,
  type KafkaClientOptions,
  KafkaCommitError,
  KafkaConsumerError,
  type KafkaLogger,
} from "../kafkajs/mod.ts";
import { type ConsumerStream, FetchDelivery } from "./_delivery.ts";
import { describeError } from "./_errors.ts";
import { commitOffsets, heartbeatOnce } from "./_group_requests.ts";
import { requireStableOffsets } from "./_stable_offsets.ts";
import { type PlatformaticConsumerOptions, settingsToPlatformatic } from "./_settings.ts";

const NO_USER_DATA = Buffer.alloc(0);

/**
 * The @platformatic/kafka implementation of {@link ConsumerPort}. Its defaults are replaced: autocommit is
 * off (the engine commits through {@link PlatformaticConsumerClient.commit}, which commits exactly the
 * given offsets), a partition starts at the group's committed offset and only without one at
 * `auto_offset_reset` (platformatic starts at the latest offset and ignores commits by default), and a
 * fetch is bounded by `fetch.max.bytes` / `max.partition.fetch.bytes` (10 MiB / 1 MiB by default).
 *
 * platformatic streams single messages and has no batch callback: the adapter takes each fetch response's
 * record batches before its MessagesStream turns them into messages (`_fetch_tap.ts`), appends them to
 * their partition's queue (no promise or object per message beyond the record) and hands the queue to
 * `onBatch` as one {@link RecordBatch} (at most `max.partition.fetch.bytes` of records, so that a queue
 * holding several fetches cannot overshoot `max_in_flight` in one batch) once the whole response is
 * queued, one batch per partition at a time,
 * `partitionsConsumedConcurrently` partitions at once. Fetching pauses while the queued records exceed
 * `fetch.max.bytes` (bounded memory: about three fetches at most) and resumes below half of it.
 * `pause(tps)` stops fetching those partitions only (the adapter hides them from the fetch loop's view of
 * the assignment); records already queued for them wait until `resume`.
 *
 * Assignment and revocation (classic EAGER group protocol, round-robin assigner), the same guarantees
 * as the kafkajs adapter:
 * - `onAssigned(tps)` runs after every join+sync, before any record of the new assignment is delivered;
 *   pause state is cleared by a join.
 * - `onRevoked(tps)` receives all owned partitions, on every rebalance and on `stop()`, after every
 *   in-flight `onBatch` returned and BEFORE this member sends its JoinGroup (or LeaveGroup): the adapter
 *   holds the join in platformatic's `protocolsMetadata` hook, which runs at the start of every join.
 *   The old generation is still valid meanwhile, so `commit()` of the revoked partitions succeeds; the
 *   adapter heartbeats itself during `onRevoked` (platformatic's heartbeat stops when it sees the
 *   rebalance). It must settle within `max.poll.interval.ms` (default 60 s).
 * - Not called when the consumer crashes; `onError` is called instead.
 * Heartbeats run on platformatic's own timer, independent of batch processing, so a long `onBatch` does
 * not get the member evicted; `ctl.isStale()` turns true as soon as a rebalance is announced.
 *
 * @example
 * ```ts ignore
 * const consumer = new PlatformaticConsumerClient({
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
export class PlatformaticConsumerClient implements ConsumerPort {
  readonly #consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  readonly #cfg: PlatformaticConsumerOptions;
  readonly #groupId: string;
  readonly #brokers: string;
  readonly #log: KafkaLogger;
  #state: ConsumerState = "new";
  #topics: string[] = [];
  #fromBeginning = true;
  #starting: Promise<unknown> | null = null;
  #stopPromise: Promise<void> | null = null;
  #startupError: KafkaConsumerError | null = null;
  /** The handler, the assignment and its generation, the revocation under way. */
  readonly #membership: GroupMembership;
  /** Fetch responses to batches, and the stream's flow. */
  readonly #delivery: FetchDelivery;

  /**
   * Builds the consumer (no connection yet: call `connect()`).
   *
   * @param settings Consumer settings (`topics` and `autoOffsetReset` are read by the caller and passed
   *   to {@link PlatformaticConsumerClient.subscribe}).
   * @param options Logger options (revocation failures and ignored errors are logged there).
   * @throws {KafkaConfigError} When the settings cannot be mapped.
   */
  constructor(settings: ConsumerSettings, options: KafkaClientOptions = {}) {
    const cfg = settingsToPlatformatic(settings);
    this.#cfg = cfg;
    this.#groupId = settings.groupId;
    this.#brokers = settings.brokers.join(",");
    this.#log = options.logger ?? consoleKafkaLogger;
    this.#membership = new GroupMembership({
      groupId: this.#groupId,
      log: this.#log,
      namespace: "loom.PlatformaticConsumerClient",
      heartbeatIntervalMs: cfg.heartbeatInterval,
      onRevokeStart: () => this.#delivery.stopTaking(),
      drain: () => this.#delivery.drain(),
      // platformatic's heartbeat stops when it sees the rebalance: the adapter heartbeats itself meanwhile
      heartbeat: () => () => void heartbeatOnce(this.#consumer),
    });
    this.#consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      ...cfg.base,
      groupId: cfg.groupId,
      ...(cfg.groupInstanceId === undefined ? {} : { groupInstanceId: cfg.groupInstanceId }),
      autocommit: false,
      sessionTimeout: cfg.sessionTimeout,
      heartbeatInterval: cfg.heartbeatInterval,
      rebalanceTimeout: cfg.rebalanceTimeout,
      minBytes: cfg.minBytes,
      maxBytes: cfg.maxBytes,
      maxBytesPerPartition: cfg.maxBytesPerPartition,
      maxWaitTime: cfg.maxWaitTime,
      isolationLevel: cfg.isolationLevel,
      protocols: [{ name: "roundrobin", version: 1 }],
      // Runs at the start of every JoinGroup attempt: the revocation happens here, before the join.
      protocolsMetadata: () => this.#beforeJoin(),
    });
    this.#delivery = new FetchDelivery(this.#consumer, cfg, {
      deliver: (batch) => this.#runBatch(batch),
      isRunning: () => this.#state === "running",
      isRevoking: () => this.#membership.revoking !== null,
    });
    // KIP-447: a just-committed transaction's offsets are read once stable (see _stable_offsets.ts)
    if (cfg.isolationLevel === 1) requireStableOffsets(this.#consumer);
    this.#consumer.on("consumer:group:join", (p) => this.#onGroupJoin(p.assignments ?? []));
    this.#consumer.on("error", (e: Error) => this.#onCrash(e, "the group membership failed"));
  }

  /**
   * The consumer group id.
   *
   * @example
   * ```ts ignore
   * console.log(consumer.groupId);
   * ```
   */
  get groupId(): string {
    return this.#groupId;
  }

  /**
   * Connects to the cluster (asks a broker for its API versions: platformatic connects lazily).
   *
   * @returns Resolves once a broker answered.
   * @throws {KafkaConsumerError} When no broker could be reached within the retry budget.
   * @example
   * ```ts ignore
   * await consumer.connect();
   * ```
   */
  async connect(): Promise<void> {
    if (this.#state !== "new") return;
    try {
      await this.#consumer.listApis();
      this.#state = "connected";
    } catch (e) {
      throw connectError(
        this.#groupId,
        this.#brokers,
        e,
        describeError(e),
        " (scripts/kafka.sh ensure starts a local one)",
      );
    }
  }

  /**
   * Subscribes to topics (before `run`); checks that they exist.
   *
   * @param topics Physical topics.
   * @param fromBeginning Where a partition without committed offset starts: earliest (true) or latest.
   * @returns Resolves once the topics' metadata is loaded.
   * @throws {KafkaConsumerError} When not connected, already running, or a topic is missing.
   * @example
   * ```ts ignore
   * await consumer.subscribe(["orders"], true);
   * ```
   */
  async subscribe(topics: readonly string[], fromBeginning: boolean): Promise<void> {
    requireConnected("subscribe", this.#state, this.#groupId);
    if (topics.length === 0) return;
    try {
      const metadata = await this.#consumer.metadata({ topics: [...topics] });
      for (const [name, t] of metadata.topics) this.#delivery.addTopic(name, t.id);
    } catch (e) {
      const missing = /unknown topic|UNKNOWN_TOPIC/i.test(describeError(e));
      throw subscribeError(
        this.#groupId,
        topics,
        e,
        describeError(e),
        missing ? " (the topic does not exist: create it, or enable allow.auto.create.topics)" : "",
      );
    }
    for (const t of topics) if (!this.#topics.includes(t)) this.#topics.push(t);
    this.#fromBeginning = fromBeginning;
  }

  /**
   * Joins the group and starts delivering batches to `handler`.
   *
   * @param handler Batch, assignment, revocation and error callbacks.
   * @param options Concurrency.
   * @returns Resolves after the first successful group join (`onAssigned` has run).
   * @throws {KafkaConsumerError} When the consumer is not connected or cannot join its group.
   * @example
   * ```ts ignore
   * await consumer.run({ onBatch: async (batch, ctl) => {} }, { partitionsConsumedConcurrently: 3 });
   * ```
   */
  async run(handler: ConsumerHandler, options: ConsumerRunOptions = {}): Promise<void> {
    requireConnected("run", this.#state, this.#groupId);
    if (this.#topics.length === 0) {
      throw new KafkaConsumerError(`run() needs subscribed topics (group "${this.#groupId}")`, this.#groupId);
    }
    this.#membership.handler = handler;
    this.#delivery.setConcurrency(Math.max(1, options.partitionsConsumedConcurrently ?? 1));
    this.#state = "running";
    const cfg = this.#cfg;
    const starting = this.#consumer.consume({
      topics: [...this.#topics],
      mode: "committed",
      fallbackMode: this.#fromBeginning ? "earliest" : "latest",
      autocommit: false,
      minBytes: cfg.minBytes,
      maxBytes: cfg.maxBytes,
      maxBytesPerPartition: cfg.maxBytesPerPartition,
      maxWaitTime: cfg.maxWaitTime,
      isolationLevel: cfg.isolationLevel,
    });
    this.#starting = starting;
    let stream: ConsumerStream;
    try {
      stream = await starting;
    } catch (e) {
      if (this.#stopPromise !== null) return;
      this.#state = "failed";
      throw startError(this.#groupId, e, describeError(e));
    }
    this.#delivery.attach(stream);
    stream.on("error", (e: Error) => this.#onCrash(e, "fetching failed"));
    if (this.#startupError !== null) throw this.#startupError;
    this.#delivery.updateFlow();
  }

  /**
   * The partitions assigned by the last group join (empty before it and while a revocation runs).
   *
   * @returns The current assignment.
   * @example
   * ```ts ignore
   * console.log(consumer.assignment());
   * ```
   */
  assignment(): readonly TopicPartition[] {
    return this.#membership.assigned;
  }

  /**
   * The member's group membership for transactional offset commits (exactly-once processing).
   *
   * @returns group id, generation, member id and coordinator as platformatic holds them
   * @example
   * ```ts ignore
   * consumer.groupMetadata(); // { groupId: "g", generationId: 3, memberId: "...", coordinatorId: 1 }
   * ```
   */
  groupMetadata(): ConsumerGroupMetadata {
    const c = this.#consumer;
    return {
      groupId: this.#groupId,
      generationId: c.generationId,
      memberId: c.memberId ?? "",
      coordinatorId: c.coordinatorId,
    };
  }

  /**
   * Commits exactly these offsets (offset = the next offset to read) with the member's current
   * generation, in one OffsetCommit request; retried only when the coordinator moved.
   *
   * @param offsets Offsets per partition.
   * @returns Resolves once the coordinator stored them.
   * @throws {KafkaCommitError} When the consumer is not running or the coordinator rejected the commit
   *   (e.g. the member was expelled: `ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`).
   * @example
   * ```ts ignore
   * await consumer.commit([{ topic: "orders", partition: 0, offset: 101 }]);
   * ```
   */
  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    requireCommittable(offsets, this.#state, this.#groupId);
    try {
      await commitOffsets(this.#consumer, offsets, this.#cfg.base.retries, this.#cfg.base.retryDelay);
    } catch (e) {
      throw new KafkaCommitError(
        `Kafka rejected the offset commit ${
          offsetList(offsets)
        } for group "${this.#groupId}" on ${this.#brokers}: ${describeError(e)}`,
        this.#groupId,
        offsets,
        e,
      );
    }
  }

  /**
   * Stops fetching the given partitions (a batch being processed is still delivered in full; records
   * already fetched for them wait until `resume`). Cleared by the next group join.
   *
   * @param tps Partitions to pause.
   * @throws {KafkaConsumerError} When the consumer is not running.
   * @example
   * ```ts ignore
   * consumer.pause([{ topic: "orders", partition: 0 }]);
   * ```
   */
  pause(tps: readonly TopicPartition[]): void {
    if (tps.length === 0) return;
    requireRunning("pause", this.#state, this.#groupId);
    this.#delivery.pause(tps);
  }

  /**
   * Resumes fetching the given partitions.
   *
   * @param tps Partitions to resume.
   * @throws {KafkaConsumerError} When the consumer is not running.
   * @example
   * ```ts ignore
   * consumer.resume([{ topic: "orders", partition: 0 }]);
   * ```
   */
  resume(tps: readonly TopicPartition[]): void {
    if (tps.length === 0) return;
    requireRunning("resume", this.#state, this.#groupId);
    this.#delivery.resume(tps);
  }

  /**
   * Stops gracefully: no new batch is delivered, in-flight `onBatch` calls finish, `onRevoked` runs for
   * the owned partitions (commits still work), then the member leaves the group. Idempotent.
   *
   * @returns Resolves once the member left the group.
   * @example
   * ```ts ignore
   * await consumer.stop();
   * ```
   */
  stop(): Promise<void> {
    if (this.#stopPromise === null) this.#stopPromise = this.#stop(true);
    return this.#stopPromise;
  }

  /**
   * Stops (see {@link PlatformaticConsumerClient.stop}) and closes the connections. Idempotent.
   *
   * @returns Resolves once disconnected.
   * @example
   * ```ts ignore
   * await consumer.disconnect();
   * ```
   */
  async disconnect(): Promise<void> {
    await this.stop();
    if (!this.#consumer.closed) await this.#consumer.close(true).catch(() => {});
  }

  // --- internals ---------------------------------------------------------------------------------------

  /** LeaveGroup (closing the stream first if platformatic still sees one). */
  #leave(): Promise<void> {
    return this.#consumer.leaveGroup(true) as unknown as Promise<void>;
  }

  /** platformatic's `protocolsMetadata` hook: revoke (if anything is owned) before every JoinGroup. */
  async #beforeJoin(): Promise<Buffer> {
    if (this.#membership.assigned.length > 0 || this.#membership.revoking !== null) await this.#revoke();
    if (this.#state !== "running") {
      // A JoinGroup now would create a member nobody leaves: fail the join instead (ignored while stopping).
      throw new Error(`the consumer is ${this.#state}; not rejoining group "${this.#groupId}"`);
    }
    return NO_USER_DATA;
  }

  /** Revokes every owned partition: drops queued records, waits for in-flight batches, runs `onRevoked`. */
  #revoke(): Promise<void> {
    const membership = this.#membership;
    if (membership.revoking !== null) return membership.revoking;
    const p = membership.revoke();
    this.#delivery.updateFlow();
    return p;
  }

  #onGroupJoin(assignments: readonly GroupAssignment[]): void {
    if (this.#state !== "running") return;
    const tps = sortedAssignment(assignments.map((a) => [a.topic, a.partitions] as const));
    this.#delivery.assign(tps);
    this.#membership.assign(tps);
  }

  /** Hands one batch to `onBatch`; a rejection stops the consumer (never rejects itself). */
  async #runBatch(batch: RecordBatch): Promise<void> {
    const membership = this.#membership;
    const generation = membership.generation;
    const ctl: BatchControl = {
      // platformatic heartbeats on its own timer, whatever the handler does.
      heartbeat: () => Promise.resolve(),
      isRunning: () => this.#state === "running",
      isStale: () => generation !== membership.generation,
    };
    try {
      await membership.handler!.onBatch(batch, ctl);
    } catch (e) {
      this.#fail(e, batch.topic, batch.partition);
    }
  }

  #onCrash(error: Error, what: string): void {
    if (this.#state === "stopping" || this.#state === "stopped" || this.#state === "failed") {
      this.#log({
        level: "debug",
        namespace: "loom.PlatformaticConsumerClient",
        message: `ignored while ${this.#state}: ${describeError(error)}`,
        fields: {},
      });
      return;
    }
    const err = new KafkaConsumerError(
      `Kafka consumer (group "${this.#groupId}") crashed and stopped (${what}) on ${this.#brokers}: ${
        describeError(error)
      }`,
      this.#groupId,
      error,
    );
    const started = this.#delivery.stream !== null;
    this.#halt();
    if (!started) {
      this.#startupError = err;
      return;
    }
    this.#membership.report(err);
  }

  /** Gives the partitions up without revoking and stops fetching (crash or handler failure). */
  #halt(): void {
    this.#membership.drop();
    this.#delivery.stopTaking();
    this.#state = "failed";
    this.#delivery.updateFlow();
    this.#stopPromise ??= (async () => {
      await this.#delivery.stream?.close().catch(() => {});
      await this.#leave().catch(() => {});
    })();
  }

  /** A rejected onBatch: stop without revoking (the handler is broken), then report. */
  #fail(cause: unknown, topic: string, partition: number): void {
    if (this.#state !== "running") return;
    const err = batchError(this.#groupId, topic, partition, cause, describeError(cause));
    this.#halt();
    this.#membership.report(err);
  }

  async #stop(revoke: boolean): Promise<void> {
    if (this.#state === "new" || this.#state === "connected" || this.#state === "stopped") {
      this.#state = "stopped";
      return;
    }
    if (this.#state === "failed") return;
    this.#state = "stopping";
    this.#delivery.updateFlow();
    if (this.#starting !== null) await this.#starting.catch(() => {});
    this.#delivery.updateFlow();
    if (revoke) {
      await this.#delivery.idle();
      if (this.#membership.revoking !== null) await this.#membership.revoking;
      if (this.#membership.assigned.length > 0) await this.#revoke();
    }
    try {
      await this.#delivery.stream?.close();
    } catch { /* closing anyway */ }
    try {
      await this.#leave();
    } catch (e) {
      this.#log({
        level: "warn",
        namespace: "loom.PlatformaticConsumerClient",
        message: `leaving group "${this.#groupId}" failed: ${describeError(e)}`,
        fields: {},
      });
    } finally {
      if (this.#state === "stopping") this.#state = "stopped";
    }
  }
}
