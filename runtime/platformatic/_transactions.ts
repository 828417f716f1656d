/**
 * Transactions of the @platformatic/kafka producer behind the core's {@link TransactionPort}
 * (`streaming.runtime.processing_guarantee: exactly_once`), with KIP-447 offset commits: the offsets go
 * into the transaction (AddOffsetsToTxn + TxnOffsetCommit) with the consumer's group id, generation and
 * member id, so the coordinator refuses them from a member whose generation is over (a zombie), and
 * the transactional id (registered by the first `begin`, InitProducerId) fences an older instance of the
 * same worker and aborts its open transaction.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import type { Consumer, Message, MessageToProduce, Producer } from "@platformatic/kafka";
import type {
  ConsumerGroupMetadata,
  TopicPartitionOffset,
  TransactionPort,
} from "../../streaming/_transport.ts";
import { describeError } from "./_errors.ts";

type BufferProducer = Producer<Buffer, Buffer, Buffer, Buffer>;

/** What to check when the coordinator fenced this producer. */
const fencedHint = (e: unknown, id: string): string =>
  /FENCED|INVALID_PRODUCER_EPOCH/.test(describeError(e))
    ? `. Another producer registered the transactional id "${id}" after this one: a restarted instance of ` +
      "this worker (then this one is a zombie and must stop), or another process of the group with the same " +
      "id (give each process its own streaming.runtime.process_id or transactional_id_prefix)"
    : "";
/** platformatic does not export its Transaction class: the type comes from `beginTransaction`. */
type BufferTransaction = Awaited<ReturnType<BufferProducer["beginTransaction"]>>;

/**
 * The transactional id of one worker: `<prefix>-<worker>`, the prefix being
 * `streaming.runtime.transactional_id_prefix` or the consumer group id. Stable across restarts, so a
 * restarted worker fences its previous instance.
 *
 * @param prefix transactional id prefix (or the group id)
 * @param worker worker index (the process's worker slot)
 * @returns the transactional id
 * @example
 * ```ts ignore
 * transactionalIdOf("billing", 0); // "billing-0"
 * ```
 */
export function transactionalIdOf(prefix: string, worker: number): string {
  return `${prefix}-${worker}`;
}

/**
 * The {@link TransactionPort} of one platformatic producer built with `transactionalId` and
 * `idempotent: true`. While a transaction is open, the adapter's sends go through
 * {@link PlatformaticTransactions.send}.
 *
 * @example
 * ```ts ignore
 * const tx = new PlatformaticTransactions(producer, "billing-0");
 * await tx.begin();
 * await tx.send(messages);
 * await tx.commit([{ topic: "orders", partition: 0, offset: 10 }], consumer.groupMetadata());
 * ```
 */
export class PlatformaticTransactions implements TransactionPort {
  readonly #producer: BufferProducer;
  /** The transactional id. */
  readonly transactionalId: string;
  #tx: BufferTransaction | null = null;
  #sends: Promise<void> = Promise.resolve();

  /**
   * Wraps a transactional producer.
   *
   * @param producer the platformatic producer (built with this transactional id)
   * @param transactionalId its transactional id (for error messages)
   */
  constructor(producer: BufferProducer, transactionalId: string) {
    this.#producer = producer;
    this.transactionalId = transactionalId;
  }

  /**
   * Sends `messages` in the open transaction, ONE send at a time: platformatic adds a send's partitions
   * to the transaction (AddPartitionsToTxn) before producing, and concurrent sends race those requests
   * and their idempotent sequence numbers (the broker answers TRANSACTION_ABORTABLE or
   * OUT_OF_ORDER_SEQUENCE_NUMBER).
   *
   * @param messages the records (acks=all)
   * @returns Resolves once the broker acknowledged them.
   * @throws {Error} When no transaction is open, or the send failed (then abort the transaction).
   */
  send(messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[]): Promise<void> {
    const run = async () => {
      const tx = this.#tx;
      if (tx === null) throw new Error(`no transaction is open on ${this.transactionalId}: begin one first`);
      try {
        await tx.send({ messages, acks: -1 });
      } catch (e) {
        const hint = fencedHint(e, this.transactionalId);
        if (hint === "") throw e;
        throw new Error(`${describeError(e)}${hint}`, { cause: e });
      }
    };
    const p = this.#sends.then(run);
    this.#sends = p.catch(() => {});
    return p;
  }

  /** True while a transaction is open. */
  get active(): boolean {
    return this.#tx !== null;
  }

  /**
   * Begins a transaction (the first one registers the transactional id: InitProducerId).
   *
   * @returns Resolves once the coordinator is known and the producer id registered.
   * @throws {Error} When a transaction is open, or the coordinator cannot be reached.
   */
  async begin(): Promise<void> {
    if (this.#tx !== null) throw new Error(`transaction ${this.transactionalId} is already open`);
    try {
      this.#tx = await this.#producer.beginTransaction();
    } catch (e) {
      throw new Error(
        `could not begin a transaction (transactional id "${this.transactionalId}"): ${describeError(e)}` +
          fencedHint(e, this.transactionalId),
        {
          cause: e,
        },
      );
    }
  }

  /**
   * Adds `offsets` for `group` to the open transaction (one TxnOffsetCommit per partition, in order) and
   * commits it (EndTxn).
   *
   * @param offsets next offsets to read, per partition
   * @param group the consumer's group membership
   * @returns Resolves once the transaction committed.
   * @throws {Error} When no transaction is open or the broker refused (then abort it).
   */
  async commit(offsets: readonly TopicPartitionOffset[], group: ConsumerGroupMetadata): Promise<void> {
    const tx = this.#tx;
    if (tx === null) throw new Error(`no transaction is open on ${this.transactionalId}`);
    try {
      if (offsets.length > 0) {
        // addConsumer only reads the group id (AddOffsetsToTxn)
        await tx.addConsumer(
          { groupId: group.groupId } as unknown as Consumer<Buffer, Buffer, Buffer, Buffer>,
        );
        const consumer = {
          groupId: group.groupId,
          generationId: group.generationId,
          memberId: group.memberId,
          coordinatorId: group.coordinatorId ?? null,
        };
        for (const o of offsets) {
          // platformatic commits `offset + 1` of the message it is given: the last processed record
          const message = {
            topic: o.topic,
            partition: o.partition,
            offset: BigInt(o.offset - 1),
            metadata: { consumer },
          } as unknown as Message<Buffer, Buffer, Buffer, Buffer>;
          await tx.addOffset(message);
        }
      }
      await tx.commit();
      this.#tx = null;
    } catch (e) {
      const where = offsets.map((o) => `${o.topic}[${o.partition}]@${o.offset}`).join(", ") || "no offsets";
      throw new Error(
        `Kafka did not commit transaction "${this.transactionalId}" (${where}, group "${group.groupId}" ` +
          `generation ${group.generationId}): ${describeError(e)}${fencedHint(e, this.transactionalId)}`,
        { cause: e },
      );
    }
  }

  /**
   * Aborts the open transaction (no-op when none is open). When the abort itself fails, the producer
   * forgets the transaction; the broker aborts it at the transaction timeout or when the id is fenced.
   *
   * @returns Resolves once aborted.
   * @throws {Error} When the broker could not be told.
   */
  async abort(): Promise<void> {
    const tx = this.#tx;
    this.#tx = null;
    if (tx === null || tx.completed) return;
    try {
      await tx.abort();
    } catch (e) {
      await tx.cancel().catch(() => {});
      throw new Error(`could not abort transaction "${this.transactionalId}": ${describeError(e)}`, {
        cause: e,
      });
    }
  }
}
