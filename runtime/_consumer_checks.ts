/**
 * The state checks and failure errors both consumer adapters (kafkajs, @platformatic/kafka) share, worded
 * alike: a public method called in the wrong state, an offset that cannot be committed, and the
 * {@link KafkaConsumerError}s of connecting, subscribing, starting and a rejected `onBatch`. Each adapter
 * passes its own description of the cause (`describeError` of its `_errors.ts`).
 *
 * @module
 */

import type { TopicPartitionOffset } from "../streaming/_transport.ts";
import { KafkaCommitError, KafkaConsumerError } from "./kafkajs/_errors.ts";

/** Where a consumer adapter is in its life. */
export type ConsumerState = "new" | "connected" | "running" | "stopping" | "stopped" | "failed";

/** `topic[partition]@offset, …`: the offsets of a commit as its errors name them. */
export const offsetList = (offsets: readonly TopicPartitionOffset[]): string =>
  offsets.map((o) => `${o.topic}[${o.partition}]@${o.offset}`).join(", ");

/**
 * Throws unless the consumer is connected and not running yet (`subscribe()` and `run()`).
 *
 * @throws {KafkaConsumerError} When `state` is not `connected`.
 */
export const requireConnected = (what: string, state: ConsumerState, groupId: string): void => {
  if (state !== "connected") {
    throw new KafkaConsumerError(
      `${what}() needs a connected consumer that is not running yet (state: ${state})`,
      groupId,
    );
  }
};

/**
 * Throws unless the consumer is running or stopping (`pause()` and `resume()`).
 *
 * @throws {KafkaConsumerError} When `state` is neither `running` nor `stopping`.
 */
export const requireRunning = (what: string, state: ConsumerState, groupId: string): void => {
  if (state !== "running" && state !== "stopping") {
    throw new KafkaConsumerError(`${what}() needs a running consumer (state: ${state})`, groupId);
  }
};

/**
 * Throws unless `offsets` can be committed now: the consumer is running or stopping, and every offset is
 * a non-negative safe integer.
 *
 * @throws {KafkaCommitError} Naming the state or the first invalid offset.
 */
export const requireCommittable = (
  offsets: readonly TopicPartitionOffset[],
  state: ConsumerState,
  groupId: string,
): void => {
  if (state !== "running" && state !== "stopping") {
    throw new KafkaCommitError(
      `cannot commit ${offsetList(offsets)} for group "${groupId}": the consumer is ${state}`,
      groupId,
      offsets,
    );
  }
  for (const o of offsets) {
    if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
      throw new KafkaCommitError(
        `cannot commit ${o.topic}[${o.partition}]: offset ${o.offset} is not a non-negative integer`,
        groupId,
        offsets,
      );
    }
  }
};

/** No broker answered `connect()`; `hint` ends the sentence that says to check the brokers. */
export const connectError = (
  groupId: string,
  brokers: string,
  cause: unknown,
  description: string,
  hint: string,
): KafkaConsumerError =>
  new KafkaConsumerError(
    `Kafka consumer (group "${groupId}") could not connect to ${brokers}: ${description}. ` +
      `Check that the brokers are reachable${hint}.`,
    groupId,
    cause,
  );

/** `subscribe()` failed; `hint` follows the description (empty, or why and what to do). */
export const subscribeError = (
  groupId: string,
  topics: readonly string[],
  cause: unknown,
  description: string,
  hint: string,
): KafkaConsumerError =>
  new KafkaConsumerError(
    `Kafka consumer (group "${groupId}") could not subscribe to ${topics.join(", ")}: ${description}${hint}`,
    groupId,
    cause,
  );

/** `run()` could not start consuming (the first group join failed). */
export const startError = (groupId: string, cause: unknown, description: string): KafkaConsumerError =>
  new KafkaConsumerError(
    `Kafka consumer (group "${groupId}") could not start: ${description}`,
    groupId,
    cause,
  );

/** `onBatch` rejected for a batch of `topic[partition]`: the consumer stops. */
export const batchError = (
  groupId: string,
  topic: string,
  partition: number,
  cause: unknown,
  description: string,
): KafkaConsumerError =>
  new KafkaConsumerError(
    `onBatch failed for ${topic}[${partition}] (group "${groupId}"); the consumer stops: ${description}`,
    groupId,
    cause,
  );
