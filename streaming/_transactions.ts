/**
 * `TransactionCycle`: the exactly-once half of the run loop (`streaming.runtime.processing_guarantee:
 * exactly_once`). Every fetched batch is handled inside a producer transaction; after
 * `transaction_batches` batches (default 1), at the epoch tick, on revoke and on graceful stop the
 * buffered CollectBatch windows are flushed, every output is acknowledged, and the batches' settled
 * offsets are committed IN the transaction with the consumer's group metadata (KIP-447). Batches of all
 * partitions run one at a time, so a commit never races a batch still producing.
 *
 * A transaction that cannot commit is aborted and the failure is fatal for the loop: nothing of it is
 * visible to `read_committed` readers, its offsets are not committed, and the next owner of the
 * partitions (this worker after a restart, or another member) reads them again from the last committed
 * offsets.
 *
 * @module
 */
import type { FlowDriver } from "./_driver.ts";
import type { Logger } from "./_logger.ts";
import type { ConsumerPort, RecordBatch, TopicPartitionOffset, TransactionPort } from "./_transport.ts";

/**
 * Options of {@link TransactionCycle}.
 *
 * @example
 * ```ts
 * import type { TransactionCycleOptions } from "@loom/streaming/engine";
 * const batches: TransactionCycleOptions["batchesPerTransaction"] = 1;
 * ```
 */
export interface TransactionCycleOptions {
  /** The driver running the plan (its producer must send through `transactions`). */
  readonly driver: FlowDriver;
  /** The consumer whose group metadata goes with the offsets. */
  readonly consumer: ConsumerPort;
  /** The producer's transactions. */
  readonly transactions: TransactionPort;
  /** Fetched batches per transaction (`streaming.runtime.transaction_batches`). */
  readonly batchesPerTransaction: number;
  /** Logger. */
  readonly logger: Logger;
  /** Called after each committed transaction with its offsets (possibly empty). */
  readonly onCommitted: (offsets: readonly TopicPartitionOffset[]) => void;
}

/**
 * Runs batches in transactions and commits offsets with them. See the module documentation.
 *
 * @example
 * ```ts ignore
 * const cycle = new TransactionCycle({ driver, consumer, transactions, batchesPerTransaction: 1, logger, onCommitted });
 * await cycle.handle(batch); // begin, process, deliver, commit outputs + offsets
 * ```
 */
export class TransactionCycle {
  readonly #o: TransactionCycleOptions;
  #chain: Promise<unknown> = Promise.resolve();
  #batches = 0;
  #failed = false;

  /**
   * Creates a {@link TransactionCycle}.
   *
   * @param options driver, consumer, transactions
   */
  constructor(options: TransactionCycleOptions) {
    this.#o = options;
  }

  /** Batches handled in the open transaction. */
  get pendingBatches(): number {
    return this.#batches;
  }

  /** Runs `fn` after everything queued before it (batches, ticks and commits never interleave). */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(async () => {
      if (this.#failed) throw new Error("an earlier transaction failed and was aborted: the flow stops");
      try {
        return await fn();
      } catch (e) {
        // whatever the open transaction holds is aborted: a failed batch never commits with others
        this.#failed = true;
        await this.#abort(e instanceof Error ? e.message : String(e));
        throw e;
      }
    });
    this.#chain = p.catch(() => {});
    return p;
  }

  async #begin(): Promise<void> {
    if (!this.#o.transactions.active) await this.#o.transactions.begin();
  }

  /** Handles one fetched batch in the open transaction (begun when none is); commits every N batches. */
  handle(batch: RecordBatch): Promise<void> {
    return this.#exclusive(async () => {
      await this.#begin();
      await this.#o.driver.handle(batch);
      this.#batches++;
      if (this.#batches >= this.#o.batchesPerTransaction) await this.#commitNow();
    });
  }

  /**
   * The loop's tick: fires expired CollectBatch timeouts inside a transaction (`fire`), and commits the
   * open transaction when the epoch is due (`commit`).
   */
  tick(fire: boolean, commit: boolean): Promise<void> {
    return this.#exclusive(async () => {
      if (fire) {
        await this.#begin();
        await this.#o.driver.tick();
      }
      if (commit && this.#o.transactions.active) await this.#commitNow();
    });
  }

  /** Flushes buffered windows and commits the open transaction (revoke, graceful stop, end of input). */
  commit(): Promise<void> {
    return this.#exclusive(() => this.#o.transactions.active ? this.#commitNow() : Promise.resolve());
  }

  /** Aborts the open transaction, if any (failure path; errors are logged, not thrown). */
  abort(): Promise<void> {
    const p = this.#chain.then(() => this.#abort("the flow stopped"));
    this.#chain = p;
    return p;
  }

  async #abort(reason: string): Promise<void> {
    if (!this.#o.transactions.active) return;
    this.#batches = 0;
    try {
      await this.#o.transactions.abort();
      this.#o.logger.warn("transaction_aborted", { reason });
    } catch (e) {
      // the broker aborts it anyway when the transaction times out or the transactional id is fenced
      this.#o.logger.error("transaction_abort_failed", {
        reason: e instanceof Error ? e.message : String(e),
      });
    }
  }

  async #commitNow(): Promise<void> {
    const { driver, consumer, transactions } = this.#o;
    try {
      // A CollectBatch window may not span transactions: flush it so its outputs commit with its offsets.
      await driver.flush();
      if (driver.inFlight > 0) {
        throw new Error(
          `${driver.inFlight} fetched record(s) are not settled at the transaction commit: their outputs ` +
            "would be committed without their offsets (exactly_once supports Kafka outputs only)",
        );
      }
      const offsets = driver.takeCommits();
      const group = consumer.groupMetadata!();
      await transactions.commit(offsets, group);
      this.#batches = 0;
      this.#o.onCommitted(offsets);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      throw new Error(
        `the transaction could not commit and was aborted (nothing of it is visible to read_committed ` +
          `readers; its records are processed again from the last committed offsets): ${reason}`,
        { cause: e },
      );
    }
  }
}
