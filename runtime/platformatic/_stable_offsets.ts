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
import { type Consumer, offsetFetchV8 } from "./_kafka.ts";
import { COORDINATOR_MOVED, errorIds } from "./_errors.ts";
import { coordinatorConnection } from "./_group_requests.ts";

type AnyConsumer = Consumer<Buffer, Buffer, Buffer, Buffer>;
type ListOptions = { topics: { topic: string; partitions: number[] }[] };

/** OffsetFetch answers that asking again (after a coordinator lookup) can change. */
const TRANSIENT: ReadonlySet<string> = new Set([
  "UNSTABLE_OFFSET_COMMIT",
  "REQUEST_TIMED_OUT",
  "NETWORK_EXCEPTION",
  ...COORDINATOR_MOVED,
]);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * True when the stable-offset wait must ask again: the offsets are still unstable, or the answer was a
 * transient failure (the coordinator moved or is loading, a timeout, a connection error without a Kafka
 * error code). Giving up on a transient failure would let platformatic read the offsets without
 * `require_stable`, which returns the offsets of BEFORE a transaction whose markers are still being
 * written: its records would be processed a second time.
 *
 * @param e the OffsetFetch failure
 * @returns whether to wait and ask again (until the deadline)
 * @example
 * ```ts ignore
 * keepWaitingForStable(error); // true for UNSTABLE_OFFSET_COMMIT, NOT_COORDINATOR, a socket error
 * ```
 */
export function keepWaitingForStable(e: unknown): boolean {
  // no Kafka error id: a connection or timeout error, not a refusal by Kafka (every() of none is true)
  return errorIds(e).every((id) => TRANSIENT.has(id));
}

/**
 * Resolves once the group has no pending transactional offset commit on these partitions (OffsetFetch
 * v8 with `require_stable`), or after `timeoutMs` (an open transaction of a killed instance stays
 * unstable until this worker's producer fences it; its offsets are then the right ones to read), or at
 * the first refusal that is not transient (platformatic's own read then reports it).
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
  const topics = options.topics.map((t) => ({ name: t.topic, partitionIndexes: t.partitions }));
  await askUntilStable(async () => {
    const connection = await coordinatorConnection(c);
    // memberId / memberEpoch are not sent in v8
    await offsetFetchV8.api.async(connection, [{
      groupId: c.groupId,
      memberId: null,
      memberEpoch: -1,
      topics,
    }], true);
  }, timeoutMs);
}

/**
 * Calls `ask` until it resolves, it fails with a refusal that is not transient
 * ({@link keepWaitingForStable}), or `timeoutMs` passed; never rejects.
 *
 * @param ask one stable-offset request (rejects while the offsets are unstable)
 * @param timeoutMs upper bound of the wait
 * @param pauseMs pause between two requests
 * @returns how many requests were made
 * @example
 * ```ts ignore
 * await askUntilStable(() => fetchStable(), 15_000);
 * ```
 */
export async function askUntilStable(
  ask: () => Promise<unknown>,
  timeoutMs: number,
  pauseMs = 50,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (let tries = 1;; tries++) {
    try {
      await ask();
      return tries;
    } catch (e) {
      if (!keepWaitingForStable(e) || Date.now() > deadline) return tries;
      await sleep(pauseMs);
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
