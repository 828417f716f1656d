/**
 * Holding kafkajs's group joins until a revocation settled. kafkajs 2.2.4 hands its consumer's cluster
 * object to the partition assigners and calls that cluster's `findGroupCoordinator` at the start of
 * every join: the round-robin assigner built here wraps that method, so that every join first waits for
 * the revocation the consumer adapter names.
 *
 * @module
 */
import { type PartitionAssigner, PartitionAssigners } from "kafkajs";
import { KafkaConfigError } from "./_errors.ts";

/**
 * kafkajs's round-robin assigner, whose consumer's joins wait for `pending()` first.
 *
 * @param pending Called at the start of every join: the revocation to wait for, or null to join at once.
 * @returns The assigner factory (for `partitionAssigners`).
 * @throws {KafkaConfigError} When kafkajs's cluster has no `findGroupCoordinator` (internals changed).
 */
export const roundRobinAfterRevoke = (pending: () => Promise<void> | null): PartitionAssigner => (config) => {
  holdJoins(config.cluster as unknown as { findGroupCoordinator: unknown }, pending);
  return PartitionAssigners.roundRobin(config);
};

const holdJoins = (cluster: { findGroupCoordinator: unknown }, pending: () => Promise<void> | null): void => {
  const original = cluster.findGroupCoordinator;
  if (typeof original !== "function") {
    throw new KafkaConfigError(
      "kafkajs internals changed: cluster.findGroupCoordinator is missing; the revocation hook needs kafkajs 2.2.4",
    );
  }
  cluster.findGroupCoordinator = (...args: unknown[]): Promise<unknown> => {
    const revocation = pending();
    if (revocation === null) return original.apply(cluster, args);
    return revocation.then(() => original.apply(cluster, args));
  };
};
