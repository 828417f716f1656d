/**
 * Committed offsets read only once they are stable (KIP-447). A transaction's offsets (exactly-once
 * processing) become the group's committed offsets only once the transaction's markers are written,
 * shortly AFTER its commit returned; meanwhile an OffsetFetch without `require_stable` returns the offsets
 * of before the transaction, and a member that takes the partitions over in a rebalance (or a worker
 * restarted after a kill) would process that transaction's records again. platformatic asks with
 * `require_stable: false`, so before each of its committed-offset reads the adapter asks the coordinator
 * itself with `require_stable: true` and waits while it answers UNSTABLE_OFFSET_COMMIT.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { type Consumer, offsetFetchV8 } from "@platformatic/kafka";
import { errorIds } from "./_errors.ts";
import { coordinatorConnection } from "./_group_requests.ts";

type AnyConsumer = Consumer<Buffer, Buffer, Buffer, Buffer>;
type ListOptions = { topics: { topic: string; partitions: number[] }[] };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves once the group has no pending transactional offset commit on these partitions (OffsetFetch
 * v8 with `require_stable`), or after `timeoutMs`, or at the first other answer (platformatic's own read
 * then reports real failures).
 *
 * @param c the consumer (its group and coordinator)
 * @param options the partitions platformatic is about to read
 * @param timeoutMs upper bound of the wait
 */
export async function waitStableOffsets(
  c: AnyConsumer,
  options: ListOptions,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const topics = options.topics.map((t) => ({ name: t.topic, partitionIndexes: t.partitions }));
  for (;;) {
    try {
      const connection = await coordinatorConnection(c);
      // memberId / memberEpoch are not sent in v8
      await offsetFetchV8.api.async(connection, [{
        groupId: c.groupId,
        memberId: null,
        memberEpoch: -1,
        topics,
      }], true);
      return;
    } catch (e) {
      if (!errorIds(e).includes("UNSTABLE_OFFSET_COMMIT") || Date.now() > deadline) return;
      await sleep(50);
    }
  }
}

/**
 * Makes every committed-offset read of `c` (platformatic's, after each join) wait for stable offsets first.
 *
 * @param c the consumer to patch (its `listCommittedOffsets` instance method is wrapped)
 */
export function requireStableOffsets(c: AnyConsumer): void {
  const original = c.listCommittedOffsets.bind(c) as (o: ListOptions) => Promise<unknown>;
  const wrapped = (options: ListOptions, callback?: (error: Error | null, value?: unknown) => void) => {
    const run = waitStableOffsets(c, options).then(() => original(options));
    if (callback === undefined) return run;
    run.then((value) => callback(null, value), (error) => callback(error));
  };
  (c as unknown as { listCommittedOffsets: typeof wrapped }).listCommittedOffsets = wrapped;
}
