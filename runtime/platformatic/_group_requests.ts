/**
 * Group-coordinator requests the consumer adapter sends itself (with platformatic's API encoders):
 * OffsetCommit of exactly the given offsets, and Heartbeat during a revocation. platformatic's own
 * `commit()` rejoins the group and retries under the new generation on a rebalance error, which would
 * commit partitions this member may no longer own.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { type Connection, type Consumer, heartbeatV4, offsetCommitV8 } from "./_kafka.ts";
import type { TopicPartitionOffset } from "../../streaming/_transport.ts";
import { isCoordinatorMoved } from "./_errors.ts";

type AnyConsumer = Consumer<Buffer, Buffer, Buffer, Buffer>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A connection to the group coordinator (looked up when unknown). */
export const coordinatorConnection = async (c: AnyConsumer): Promise<Connection> => {
  const id = c.coordinatorId ?? await c.findGroupCoordinator();
  const connections = await c.connectToBrokers([id]);
  const connection = connections.get(id);
  if (connection === undefined) throw new Error(`group coordinator ${id} is not in the cluster metadata`);
  return connection;
};

/**
 * One OffsetCommit (v8) of `offsets` with the member's current generation; retried only when the
 * coordinator moved (`retries` times, `retryDelay` apart). Offsets must be validated by the caller.
 */
export const commitOffsets = async (
  c: AnyConsumer,
  offsets: readonly TopicPartitionOffset[],
  retries: number,
  retryDelay: number,
): Promise<void> => {
  const byTopic = new Map<string, offsetCommitV8.OffsetCommitRequestPartition[]>();
  for (const o of offsets) {
    let list = byTopic.get(o.topic);
    if (list === undefined) byTopic.set(o.topic, list = []);
    list.push({
      partitionIndex: o.partition,
      committedOffset: BigInt(o.offset),
      committedLeaderEpoch: -1,
      committedMetadata: null,
    });
  }
  const topics = [...byTopic].map(([name, partitions]) => ({ name, partitions }));
  for (let attempt = 0;; attempt++) {
    try {
      const connection = await coordinatorConnection(c);
      await offsetCommitV8.api.async(
        connection,
        c.groupId,
        c.generationId,
        c.memberId ?? "",
        c.groupInstanceId,
        topics,
      );
      return;
    } catch (e) {
      if (!isCoordinatorMoved(e) || attempt >= retries) throw e;
      await sleep(retryDelay);
      await c.findGroupCoordinator().catch(() => {});
    }
  }
};

/** One Heartbeat (v4) with the current generation; failures are ignored (REBALANCE_IN_PROGRESS is expected). */
export const heartbeatOnce = async (c: AnyConsumer): Promise<void> => {
  if (c.memberId === null) return;
  try {
    const connection = await coordinatorConnection(c);
    await heartbeatV4.api.async(connection, c.groupId, c.generationId, c.memberId, c.groupInstanceId);
  } catch { /* other failures surface through commits and the join */ }
};
