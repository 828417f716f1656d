/**
 * {@link RecordRun}: engine outputs of one partition that the adapter's producer hands to platformatic as
 * one message, for the produce encoder (`_produce_request.ts`) to write record by record.
 *
 * @module
 */
import type { EncodedRecord } from "../../streaming/_encoded_record.ts";

/**
 * Engine outputs of one topic partition, in order, that the adapter's producer hands to platformatic as ONE
 * message (its value): platformatic's `send` builds two Maps, a message object and a `topic:partition`
 * string for every message it is given, about 550 of the 3,600 bytes allocated per record of a Kafka flow
 * on Deno. {@link encodeProduceRequest} writes every record of a run into the partition's batch; a request
 * that goes to platformatic's encoder has its runs expanded into one message per record first.
 *
 * Only for producers without idempotence: platformatic counts an idempotent producer's sequence numbers per
 * message, so a run would advance them by one instead of by its records.
 *
 * @example
 * ```ts ignore
 * const message = { topic: "out", partition: 2, value: new RecordRun([encodedA, encodedB]) };
 * ```
 */
export class RecordRun {
  /** The records, in the order they are written. */
  readonly records: readonly EncodedRecord[];
  /**
   * Creates a {@link RecordRun}.
   *
   * @param records The records (engine outputs of one partition, in order).
   */
  constructor(records: readonly EncodedRecord[]) {
    this.records = records;
  }
}
