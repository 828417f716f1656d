/**
 * The kafkajs consumer's delivery, from kafkajs's `eachBatch` to `onBatch`: each batch is converted to a
 * {@link RecordBatch} (`_records.ts`) and handed to the handler with its {@link BatchControl}, heartbeats
 * go on while the handler works, the batch's last offset is resolved once it returned under the same
 * generation, and the batches out are counted (a revocation waits for them).
 *
 * @module
 */
import type { EachBatchPayload } from "kafkajs";
import type { BatchControl, RecordBatch } from "../../streaming/_transport.ts";
import type { GroupMembership } from "../_group_membership.ts";
import { describeError, isRebalancing, KafkaConsumerError } from "./_errors.ts";
import { toRecordBatch } from "./_records.ts";

/** What the delivery needs of its consumer. */
export interface BatchDeliveryHooks {
  /** The consumer group id (named in heartbeat errors). */
  readonly groupId: string;
  /** How often heartbeats tick while the handler works. */
  readonly heartbeatIntervalMs: number;
  /** The handler and the assignment's generation. */
  readonly membership: GroupMembership;
  /** Whether the consumer is running (not stopping, stopped or failed). */
  readonly isRunning: () => boolean;
  /** `onBatch` rejected: stop the consumer. */
  readonly fail: (cause: unknown, batch: RecordBatch) => void;
}

/** kafkajs batches to the handler, for one kafkajs consumer. */
export class BatchDelivery {
  readonly #hooks: BatchDeliveryHooks;
  #rebalanceAnnounced = false;
  #inflight = 0;
  #idleWaiters: (() => void)[] = [];
  #lastHeartbeat: (() => Promise<void>) | null = null;

  /**
   * Nothing delivered yet.
   *
   * @param hooks The consumer's handler, state and failure path.
   */
  constructor(hooks: BatchDeliveryHooks) {
    this.#hooks = hooks;
  }

  /** The heartbeat of the last batch delivered (kafkajs's, for the member's current generation), or null. */
  get lastHeartbeat(): (() => Promise<void>) | null {
    return this.#lastHeartbeat;
  }

  /** A join completed: the rebalance a heartbeat announced is over. */
  joined(): void {
    this.#rebalanceAnnounced = false;
  }

  /**
   * Resolves once no batch is out.
   *
   * @returns Resolves when idle.
   */
  idle(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * kafkajs's `eachBatch` (with `eachBatchAutoResolve: false`); a rejected `onBatch` goes to `fail`.
   *
   * @param payload kafkajs's batch and its controls.
   * @returns Resolves once the handler returned.
   */
  async eachBatch(payload: EachBatchPayload): Promise<void> {
    const hooks = this.#hooks;
    if (!hooks.isRunning()) return;
    const kb = payload.batch;
    const messages = kb.messages;
    if (messages.length === 0) return;
    const batch = toRecordBatch(kb.topic, kb.partition, messages, Number(kb.highWatermark));
    this.#lastHeartbeat = payload.heartbeat;
    this.#inflight++;
    const membership = hooks.membership;
    const generation = membership.generation;
    const ctl: BatchControl = {
      heartbeat: () => this.#heartbeat(payload),
      isRunning: () => hooks.isRunning() && payload.isRunning(),
      isStale: () => this.#rebalanceAnnounced || generation !== membership.generation || payload.isStale(),
    };
    let failed = false;
    // Heartbeats go on while the handler works (slow steps, slow sinks), so a batch that takes longer
    // than session.timeout.ms does not get the member evicted from its group. kafkajs sends a heartbeat
    // only when one is due, so ticking at the heartbeat interval is cheap.
    const keepalive = setInterval(() => {
      this.#heartbeat(payload).catch(() => {/* reported by the next fetch or commit */});
    }, hooks.heartbeatIntervalMs);
    try {
      await membership.handler!.onBatch(batch, ctl);
    } catch (e) {
      failed = true;
      hooks.fail(e, batch);
    } finally {
      clearInterval(keepalive);
      if (--this.#inflight === 0 && this.#idleWaiters.length > 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const w of waiters) w();
      }
    }
    if (!failed && hooks.isRunning() && generation === membership.generation) {
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
        `heartbeat failed for group "${this.#hooks.groupId}": ${describeError(e)}`,
        this.#hooks.groupId,
        e,
      );
    }
  }
}
