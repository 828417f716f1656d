/**
 * The group membership both consumer adapters (kafkajs, @platformatic/kafka) keep under the classic
 * EAGER protocol: the handler given to `run()`, the partitions owned since the last join, a generation
 * that is bumped whenever they are given up (a batch delivered under an older one is stale), and at most
 * one revocation at a time. It calls the handler's group callbacks alike for both: `onAssigned` after a
 * join, `onRevoked` once no batch of the old assignment is out (a heartbeat ticks meanwhile, so that the
 * member stays in its group), `onError` for a failure after `run()`; a throwing callback is logged.
 *
 * @module
 */

import type { ConsumerHandler, TopicPartition } from "../streaming/_transport.ts";
import type { KafkaConsumerError } from "./kafkajs/_errors.ts";
import type { KafkaLogger } from "./kafkajs/_logger.ts";

/** No partitions (the assignment before the first join, and once given up). */
export const EMPTY_TPS: readonly TopicPartition[] = Object.freeze([]);

/**
 * A member's assignment as a list of partitions, sorted by topic, then by partition.
 *
 * @param byTopic `[topic, partitions]` pairs, as a join assigned them.
 * @returns A new array (the caller may freeze it).
 */
export const sortedAssignment = (
  byTopic: readonly (readonly [string, readonly number[]])[],
): TopicPartition[] => {
  const tps: TopicPartition[] = [];
  for (const [topic, partitions] of [...byTopic].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    for (const partition of [...partitions].sort((a, b) => a - b)) tps.push({ topic, partition });
  }
  return tps;
};

/** What {@link GroupMembership} needs of its adapter. */
export interface GroupMembershipOptions {
  /** The consumer group id (named in the log records). */
  readonly groupId: string;
  /** Where failed callbacks and unhandled errors are logged. */
  readonly log: KafkaLogger;
  /** The log records' namespace (`loom.<adapter class>`). */
  readonly namespace: string;
  /** How often the heartbeat ticks while `onRevoked` runs. */
  readonly heartbeatIntervalMs: number;
  /** Runs as a revocation starts, right after the assignment was given up (e.g. stop taking records). */
  readonly onRevokeStart?: () => void;
  /** Resolves once no batch of the old assignment is out (and the adapter forgot what it had fetched). */
  readonly drain: () => Promise<void>;
  /** Read once drained, before `onRevoked`: the heartbeat to tick while it runs, or null for none. */
  readonly heartbeat: () => (() => void) | null;
}

/** The assignment, its generation and the revocation of one consumer (see the module doc). */
export class GroupMembership {
  /** The callbacks given to `run()` (null before). */
  handler: ConsumerHandler | null = null;
  readonly #options: GroupMembershipOptions;
  #assigned: readonly TopicPartition[] = EMPTY_TPS;
  #generation = 0;
  #revoking: Promise<void> | null = null;

  /**
   * Starts with no assignment.
   *
   * @param options The adapter's logger and revocation steps.
   */
  constructor(options: GroupMembershipOptions) {
    this.#options = options;
  }

  /** The partitions assigned by the last join (empty before it, while a revocation runs and once lost). */
  get assigned(): readonly TopicPartition[] {
    return this.#assigned;
  }

  /** Bumped whenever the assignment is given up: a batch delivered under an older generation is stale. */
  get generation(): number {
    return this.#generation;
  }

  /** The revocation under way, or null. */
  get revoking(): Promise<void> | null {
    return this.#revoking;
  }

  /**
   * Takes the assignment of a join and calls `onAssigned` (a throw is logged).
   *
   * @param tps The new assignment (frozen here).
   */
  assign(tps: TopicPartition[]): void {
    this.#assigned = Object.freeze(tps);
    try {
      this.handler?.onAssigned?.(this.#assigned);
    } catch (e) {
      this.#options.log({
        level: "error",
        namespace: this.#options.namespace,
        message: `onAssigned failed for group "${this.#options.groupId}"`,
        fields: { error: e },
      });
    }
  }

  /** Gives the partitions up without revoking (a crash or a broken handler): batches out turn stale. */
  drop(): void {
    this.#assigned = EMPTY_TPS;
    this.#generation++;
  }

  /**
   * Revokes every owned partition: gives them up at once (`onRevokeStart` runs), then, once drained, runs
   * `onRevoked` with the heartbeat ticking (a throw is logged: the rebalance goes on).
   *
   * @returns The revocation (the one under way, if any); it never rejects.
   */
  revoke(): Promise<void> {
    if (this.#revoking !== null) return this.#revoking;
    const tps = this.#assigned;
    this.drop();
    this.#options.onRevokeStart?.();
    const p = this.#revoke(tps).finally(() => {
      this.#revoking = null;
    });
    this.#revoking = p;
    return p;
  }

  /**
   * Hands a failure after `run()` to `onError`, or logs it when there is none (or it throws).
   *
   * @param err The consumer's failure.
   */
  report(err: KafkaConsumerError): void {
    const onError = this.handler?.onError;
    if (onError !== undefined) {
      try {
        onError.call(this.handler, err);
        return;
      } catch { /* fall through to the log */ }
    }
    this.#options.log({
      level: "error",
      namespace: this.#options.namespace,
      message: err.message,
      fields: {},
    });
  }

  async #revoke(tps: readonly TopicPartition[]): Promise<void> {
    const options = this.#options;
    await options.drain();
    const onRevoked = this.handler?.onRevoked;
    if (onRevoked === undefined || tps.length === 0) return;
    const heartbeat = options.heartbeat();
    const keepalive = heartbeat === null ? undefined : setInterval(heartbeat, options.heartbeatIntervalMs);
    try {
      await onRevoked.call(this.handler, tps);
    } catch (e) {
      options.log({
        level: "error",
        namespace: options.namespace,
        message: `onRevoked failed for group "${options.groupId}"; the rebalance goes on`,
        fields: { error: e, partitions: tps.map((t) => `${t.topic}[${t.partition}]`).join(",") },
      });
    } finally {
      if (keepalive !== undefined) clearInterval(keepalive);
    }
  }
}
