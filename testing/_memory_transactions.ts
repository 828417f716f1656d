/**
 * {@link MemoryTransactionalProducer}: producer transactions over the {@link InMemoryBroker}, so that
 * exactly-once flows (`streaming.runtime.processing_guarantee: exactly_once`) can be unit-tested in the
 * simulator. Sends in a transaction are validated at once (injected send failures apply) and held:
 * readers see none of them until the commit writes them together with the group's offsets; an abort, or
 * a crash that never commits, drops them. Outside a transaction the producer writes at once.
 *
 * A model, not Kafka: aborted records take no offsets here (on Kafka they do, and `read_committed`
 * readers skip them), and readers never see an open transaction's records (a Kafka `read_uncommitted`
 * reader would).
 *
 * @module
 */
import type {
  ConsumerGroupMetadata,
  OutgoingRecord,
  ProducerPort,
  TopicPartitionOffset,
  TransactionPort,
} from "../streaming/_transport.ts";
import type { InMemoryBroker, StagedWrite } from "./_broker.ts";

/**
 * A producer port with transactions over the in-memory broker (see the module documentation).
 *
 * @example
 * ```ts
 * import { InMemoryBroker } from "@loom/streaming/testing";
 * const broker = new InMemoryBroker();
 * broker.createTopic("in");
 * const producer = broker.transactionalProducer();
 * const r = { key: null, value: new Uint8Array([1]), headers: {}, timestampMs: null };
 * await producer.transactions.begin();
 * await producer.send("out", [r]);
 * broker.endOffset("out", 0); // 0: invisible until the commit
 * await producer.transactions.commit([{ topic: "in", partition: 0, offset: 1 }], { groupId: "g", generationId: 1, memberId: "m" });
 * broker.endOffset("out", 0); // 1
 * broker.committed("g", "in", 0); // 1
 * ```
 */
export class MemoryTransactionalProducer implements ProducerPort {
  readonly #broker: InMemoryBroker;
  #staged: StagedWrite[] | null = null;
  /** Transactions committed so far. */
  committedTransactions = 0;
  /** Transactions aborted so far. */
  abortedTransactions = 0;

  /**
   * Creates the producer (prefer {@link InMemoryBroker.transactionalProducer}).
   *
   * @param broker the broker written to
   */
  constructor(broker: InMemoryBroker) {
    this.#broker = broker;
  }

  /** Sends records: held by the open transaction, or written at once outside one. */
  send(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    try {
      if (this.#staged === null) this.#broker.produce(topic, records);
      else if (records.length > 0) this.#staged.push(this.#broker.stage(topic, records));
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The producer's transactions. */
  readonly transactions: TransactionPort = {
    begin: (): Promise<void> => {
      if (this.#staged !== null) {
        return Promise.reject(
          new Error("a transaction is already open on this producer: commit or abort it first"),
        );
      }
      this.#staged = [];
      this.#setOpen(true);
      return Promise.resolve();
    },
    commit: (offsets: readonly TopicPartitionOffset[], group: ConsumerGroupMetadata): Promise<void> => {
      const staged = this.#staged;
      if (staged === null) return Promise.reject(new Error("no transaction is open: call begin() first"));
      try {
        this.#broker.commitTransaction(staged, group.groupId, offsets);
      } catch (e) {
        return Promise.reject(e); // still open: the caller aborts it
      }
      this.#staged = null;
      this.#setOpen(false);
      this.committedTransactions++;
      return Promise.resolve();
    },
    abort: (): Promise<void> => {
      if (this.#staged !== null) this.abortedTransactions++;
      this.#staged = null;
      this.#setOpen(false);
      return Promise.resolve();
    },
    active: false,
  };

  #setOpen(open: boolean): void {
    (this.transactions as { active: boolean }).active = open;
  }
}
