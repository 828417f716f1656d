/**
 * The @platformatic/kafka group consumer behind the core's {@link ConsumerPort}.
 *
 * Over ~600 lines for now: one class whose revocation protocol (holding the join, resetting fetch
 * positions) is documented in place; sharing its grouping and revoke logic with the kafkajs adapter's
 * consumer is the next split.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Consumer, type GroupAssignment, type MessagesStream } from "@platformatic/kafka";
import type { ConsumerSettings } from "../../streaming/_settings.ts";
import type {
  BatchControl,
  ConsumerGroupMetadata,
  ConsumerHandler,
  ConsumerPort,
  ConsumerRunOptions,
  SourceRecord,
  TopicPartition,
  TopicPartitionOffset,
} from "../../streaming/_transport.ts";
import {
  consoleKafkaLogger,
  type KafkaClientOptions,
  KafkaCommitError,
  KafkaConsumerError,
  type KafkaLogger,
} from "../kafkajs/mod.ts";
import { describeError } from "./_errors.ts";
import { type FetchedBatch, FetchTap } from "./_fetch_tap.ts";
import { commitOffsets, heartbeatOnce } from "./_group_requests.ts";
import { PartitionQueues } from "./_partition_queues.ts";
import { requireStableOffsets } from "./_stable_offsets.ts";
import { type PlatformaticConsumerOptions, settingsToPlatformatic } from "./_settings.ts";

type State = "new" | "connected" | "running" | "stopping" | "stopped" | "failed";
type Stream = MessagesStream<Buffer, Buffer, Buffer, Buffer>;

const EMPTY_TPS: readonly TopicPartition[] = Object.freeze([]);
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
  #state: State = "new";
  #handler: ConsumerHandler | null = null;
  #topics: string[] = [];
  /** Topic name → topic id (fetch responses name topics by id), from the metadata loaded by `subscribe`. */
  readonly #topicIds = new Map<string, string>();
  /** Topic id → name. */
  readonly #topicNames = new Map<string, string>();
  #fromBeginning = true;
  #stream: Stream | null = null;
  #starting: Promise<unknown> | null = null;
  #stopPromise: Promise<void> | null = null;
  #startupError: KafkaConsumerError | null = null;

  #assigned: readonly TopicPartition[] = EMPTY_TPS;
  readonly #queues: PartitionQueues;
  /** Bumped whenever a revocation starts: batches delivered before are stale. */
  #generation = 0;
  /** Records are taken only between the offset refresh that follows a join and the next revocation. */
  #accepting = false;
  /** platformatic's generation when records started to flow: fetches sent under another are dropped. */
  #acceptGeneration = -1;
  readonly #fetches: FetchTap;
  #revoking: Promise<void> | null = null;
  #streamPaused = false;
  /** platformatic's assignment as written by its group code; the fetch loop reads a filtered view. */
  #realAssignments: GroupAssignment[] | null = null;
  #assignmentView: GroupAssignment[] | null = null;

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
    this.#queues = new PartitionQueues(
      cfg.maxBytes,
      cfg.maxBytesPerPartition,
      () => this.#updateFlow(),
      (tp, records) => this.#runBatch(tp, records),
      () => this.#state === "running" && this.#accepting,
    );
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
    this.#installAssignmentView();
    // KIP-447: a just-committed transaction's offsets are read once stable (see _stable_offsets.ts)
    if (cfg.isolationLevel === 1) requireStableOffsets(this.#consumer);
    this.#fetches = new FetchTap(
      this.#consumer as unknown as ConstructorParameters<typeof FetchTap>[0],
      (topicId, partition, batch, generation, from) =>
        this.#onFetched(topicId, partition, batch, generation, from),
    );
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
      throw new KafkaConsumerError(
        `Kafka consumer (group "${this.#groupId}") could not connect to ${this.#brokers}: ${
          describeError(e)
        }. ` +
          `Check that the brokers are reachable (scripts/kafka.sh ensure starts a local one).`,
        this.#groupId,
        e,
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
    if (this.#state !== "connected") {
      throw new KafkaConsumerError(
        `subscribe() needs a connected consumer that is not running yet (state: ${this.#state})`,
        this.#groupId,
      );
    }
    if (topics.length === 0) return;
    try {
      const metadata = await this.#consumer.metadata({ topics: [...topics] });
      for (const [name, t] of metadata.topics) {
        this.#topicIds.set(name, t.id);
        this.#topicNames.set(t.id, name);
      }
    } catch (e) {
      const missing = /unknown topic|UNKNOWN_TOPIC/i.test(describeError(e));
      throw new KafkaConsumerError(
        `Kafka consumer (group "${this.#groupId}") could not subscribe to ${topics.join(", ")}: ${
          describeError(e)
        }${missing ? " (the topic does not exist: create it, or enable allow.auto.create.topics)" : ""}`,
        this.#groupId,
        e,
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
    if (this.#state !== "connected") {
      throw new KafkaConsumerError(
        `run() needs a connected consumer that is not running yet (state: ${this.#state})`,
        this.#groupId,
      );
    }
    if (this.#topics.length === 0) {
      throw new KafkaConsumerError(`run() needs subscribed topics (group "${this.#groupId}")`, this.#groupId);
    }
    this.#handler = handler;
    this.#queues.concurrency = Math.max(1, options.partitionsConsumedConcurrently ?? 1);
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
    let stream: Stream;
    try {
      stream = await starting;
    } catch (e) {
      if (this.#stopPromise !== null) return;
      this.#state = "failed";
      throw new KafkaConsumerError(
        `Kafka consumer (group "${this.#groupId}") could not start: ${describeError(e)}`,
        this.#groupId,
        e,
      );
    }
    this.#stream = stream;
    // Records arrive through the fetch tap, so the stream pushes no message; a `data` listener keeps it
    // in flowing mode, which its fetch loop requires.
    stream.on("data", () => {});
    stream.on("offsets", () => this.#onOffsets());
    stream.on("error", (e: Error) => this.#onCrash(e, "fetching failed"));
    if (this.#startupError !== null) throw this.#startupError;
    this.#updateFlow();
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
    return this.#assigned;
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
    const what = () => offsets.map((o) => `${o.topic}[${o.partition}]@${o.offset}`).join(", ");
    if (this.#state !== "running" && this.#state !== "stopping") {
      throw new KafkaCommitError(
        `cannot commit ${what()} for group "${this.#groupId}": the consumer is ${this.#state}`,
        this.#groupId,
        offsets,
      );
    }
    for (const o of offsets) {
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
        throw new KafkaCommitError(
          `cannot commit ${o.topic}[${o.partition}]: offset ${o.offset} is not a non-negative integer`,
          this.#groupId,
          offsets,
        );
      }
    }
    try {
      await commitOffsets(this.#consumer, offsets, this.#cfg.base.retries, this.#cfg.base.retryDelay);
    } catch (e) {
      throw new KafkaCommitError(
        `Kafka rejected the offset commit ${what()} for group "${this.#groupId}" on ${this.#brokers}: ${
          describeError(e)
        }`,
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
    this.#requireRunning("pause");
    this.#queues.pause(tps);
    this.#assignmentView = null;
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
    this.#requireRunning("resume");
    if (!this.#queues.resume(tps)) return;
    this.#assignmentView = null;
    // The fetch loop ends when every partition it sees is paused: restart it.
    if (!this.#streamPaused && this.#stream !== null) {
      this.#stream.pause();
      this.#stream.resume();
    }
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

  #requireRunning(what: string): void {
    if (this.#state !== "running" && this.#state !== "stopping") {
      throw new KafkaConsumerError(
        `${what}() needs a running consumer (state: ${this.#state})`,
        this.#groupId,
      );
    }
  }

  /**
   * The fetch loop reads `consumer.assignments` for every fetch: paused partitions are left out of what it
   * sees (platformatic has no per-partition pause). Its group code writes the property as before.
   */
  #installAssignmentView(): void {
    this.#realAssignments = this.#consumer.assignments;
    Object.defineProperty(this.#consumer, "assignments", {
      configurable: true,
      enumerable: true,
      get: (): GroupAssignment[] | null => {
        const real = this.#realAssignments;
        if (real === null || this.#queues.pausedCount === 0 || !this.#accepting) return real;
        if (this.#assignmentView === null) {
          this.#assignmentView = real.map((a) => ({
            topic: a.topic,
            partitions: a.partitions.filter((p) => !this.#queues.isPaused(a.topic, p)),
          }));
        }
        return this.#assignmentView;
      },
      set: (v: GroupAssignment[] | null) => {
        this.#realAssignments = v;
        this.#assignmentView = null;
      },
    });
  }

  /** LeaveGroup (closing the stream first if platformatic still sees one). */
  #leave(): Promise<void> {
    return this.#consumer.leaveGroup(true) as unknown as Promise<void>;
  }

  /** platformatic's `protocolsMetadata` hook: revoke (if anything is owned) before every JoinGroup. */
  async #beforeJoin(): Promise<Buffer> {
    if (this.#assigned.length > 0 || this.#revoking !== null) await this.#revoke();
    if (this.#state !== "running") {
      // A JoinGroup now would create a member nobody leaves: fail the join instead (ignored while stopping).
      throw new Error(`the consumer is ${this.#state}; not rejoining group "${this.#groupId}"`);
    }
    return NO_USER_DATA;
  }

  /** Revokes every owned partition: drops queued records, waits for in-flight batches, runs `onRevoked`. */
  #revoke(): Promise<void> {
    if (this.#revoking !== null) return this.#revoking;
    const tps = this.#assigned;
    this.#assigned = EMPTY_TPS;
    this.#generation++;
    this.#accepting = false;
    this.#queues.clear();
    this.#assignmentView = null;
    const run = async () => {
      await Promise.all([this.#queues.waitIdle(), this.#waitFetches()]);
      // Queued and buffered records were dropped: after the join every partition must start again from
      // its committed offset, or `auto_offset_reset` without one. platformatic keeps its own fetch position
      // for a partition without commit (it only fills missing positions from the fallback), which would
      // skip the dropped records.
      this.#stream?.offsetsToFetch.clear();
      const onRevoked = this.#handler?.onRevoked;
      if (onRevoked === undefined || tps.length === 0) return;
      const keepalive = setInterval(() => void heartbeatOnce(this.#consumer), this.#cfg.heartbeatInterval);
      try {
        await onRevoked.call(this.#handler, tps);
      } catch (e) {
        this.#log({
          level: "error",
          namespace: "loom.PlatformaticConsumerClient",
          message: `onRevoked failed for group "${this.#groupId}"; the rebalance goes on`,
          fields: { error: e, partitions: tps.map((t) => `${t.topic}[${t.partition}]`).join(",") },
        });
      } finally {
        clearInterval(keepalive);
      }
    };
    const p = run().finally(() => {
      this.#revoking = null;
    });
    this.#revoking = p;
    this.#updateFlow();
    return p;
  }

  /** Resolves when no fetch of this consumer is in flight (bounded by the fetch wait plus the request timeout). */
  #waitFetches(): Promise<void> {
    return this.#fetches.idle(this.#cfg.maxWaitTime + (this.#cfg.base.timeout ?? 5000) + 100);
  }

  #onGroupJoin(assignments: readonly GroupAssignment[]): void {
    if (this.#state !== "running") return;
    const tps: TopicPartition[] = [];
    for (const a of [...assignments].sort((x, y) => (x.topic < y.topic ? -1 : x.topic > y.topic ? 1 : 0))) {
      for (const partition of [...a.partitions].sort((x, y) => x - y)) {
        tps.push({ topic: a.topic, partition });
      }
    }
    this.#queues.assign(tps);
    this.#assignmentView = null;
    this.#accepting = false; // until platformatic has loaded the committed offsets ('offsets')
    this.#assigned = Object.freeze(tps);
    try {
      this.#handler?.onAssigned?.(this.#assigned);
    } catch (e) {
      this.#log({
        level: "error",
        namespace: "loom.PlatformaticConsumerClient",
        message: `onAssigned failed for group "${this.#groupId}"`,
        fields: { error: e },
      });
    }
  }

  /** The stream loaded the start offsets of the assignment: records may flow. */
  #onOffsets(): void {
    if (this.#state !== "running" || this.#revoking !== null || this.#accepting) return;
    const positions = this.#stream?.offsetsToFetch;
    this.#queues.setPositions((tp) => positions?.get(`${tp.topic}:${tp.partition}`));
    this.#accepting = true;
    this.#acceptGeneration = this.#consumer.generationId;
    this.#assignmentView = null;
    this.#updateFlow();
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

  /** Hands one batch to `onBatch`; a rejection stops the consumer (never rejects itself). */
  async #runBatch(tp: TopicPartition, records: SourceRecord[]): Promise<void> {
    const generation = this.#generation;
    const ctl: BatchControl = {
      // platformatic heartbeats on its own timer, whatever the handler does.
      heartbeat: () => Promise.resolve(),
      isRunning: () => this.#state === "running",
      isStale: () => generation !== this.#generation,
    };
    const topicId = this.#topicIds.get(tp.topic);
    const reported = topicId === undefined ? undefined : this.#fetches.highWatermark(topicId, tp.partition);
    // a fetch reports the end offset when it was served; records appended since can only raise it
    const highWatermark = reported === undefined
      ? undefined
      : Math.max(reported, records.length > 0 ? records[records.length - 1].offset + 1 : 0);
    try {
      await this.#handler!.onBatch(
        highWatermark === undefined
          ? { topic: tp.topic, partition: tp.partition, records }
          : { topic: tp.topic, partition: tp.partition, records, highWatermark },
        ctl,
      );
    } catch (e) {
      this.#fail(e, tp.topic, tp.partition);
    }
  }

  /** Pauses the whole stream while revoking, stopping, before the offsets are loaded, or over the byte bound. */
  #updateFlow(): void {
    const stream = this.#stream;
    if (stream === null) return;
    const flow = this.#state === "running" && this.#accepting && this.#revoking === null &&
      !this.#queues.overLimit;
    if (!flow && !this.#streamPaused) {
      this.#streamPaused = true;
      stream.pause();
    } else if (flow && this.#streamPaused) {
      this.#streamPaused = false;
      stream.resume();
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
    const started = this.#stream !== null;
    this.#halt();
    if (!started) {
      this.#startupError = err;
      return;
    }
    this.#report(err);
  }

  /** Gives the partitions up without revoking and stops fetching (crash or handler failure). */
  #halt(): void {
    this.#assigned = EMPTY_TPS;
    this.#generation++;
    this.#accepting = false;
    this.#queues.clear();
    this.#state = "failed";
    this.#updateFlow();
    this.#stopPromise ??= (async () => {
      await this.#stream?.close().catch(() => {});
      await this.#leave().catch(() => {});
    })();
  }

  #report(err: KafkaConsumerError): void {
    const onError = this.#handler?.onError;
    if (onError !== undefined) {
      try {
        onError.call(this.#handler, err);
        return;
      } catch { /* fall through to the log */ }
    }
    this.#log({
      level: "error",
      namespace: "loom.PlatformaticConsumerClient",
      message: err.message,
      fields: {},
    });
  }

  /** A rejected onBatch: stop without revoking (the handler is broken), then report. */
  #fail(cause: unknown, topic: string, partition: number): void {
    if (this.#state !== "running") return;
    const err = new KafkaConsumerError(
      `onBatch failed for ${topic}[${partition}] (group "${this.#groupId}"); the consumer stops: ${
        describeError(cause)
      }`,
      this.#groupId,
      cause,
    );
    this.#halt();
    this.#report(err);
  }

  async #stop(revoke: boolean): Promise<void> {
    if (this.#state === "new" || this.#state === "connected" || this.#state === "stopped") {
      this.#state = "stopped";
      return;
    }
    if (this.#state === "failed") return;
    this.#state = "stopping";
    this.#updateFlow();
    if (this.#starting !== null) await this.#starting.catch(() => {});
    this.#updateFlow();
    if (revoke) {
      await this.#queues.waitIdle();
      if (this.#revoking !== null) await this.#revoking;
      if (this.#assigned.length > 0) await this.#revoke();
    }
    try {
      await this.#stream?.close();
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
