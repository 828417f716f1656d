/**
 * The in-memory broker's consumer groups: committed offsets (the latest per partition) and every group's
 * commit log, behind {@link InMemoryBroker.commit} and the transactional offset commits.
 *
 * @module
 */
import type { TopicPartitionOffset } from "../streaming/_transport.ts";
import { type CommitLogEntry, InMemoryBrokerError } from "./_broker_types.ts";
import type { BrokerFaults } from "./_broker_faults.ts";
import { type BrokerLog, isNonNegativeInt } from "./_broker_log.ts";

/** Committed offsets of an {@link InMemoryBroker}; its public methods document the behaviour. */
export class BrokerGroups {
  readonly #log: BrokerLog;
  readonly #faults: BrokerFaults;
  readonly #commitLogs = new Map<string, CommitLogEntry[]>();
  readonly #committed = new Map<string, Map<string, TopicPartitionOffset>>();

  /**
   * Creates groups with no commits.
   *
   * @param log the topics that offsets are checked against (and whose clock times the commits)
   * @param faults injected commit failures
   */
  constructor(log: BrokerLog, faults: BrokerFaults) {
    this.#log = log;
    this.#faults = faults;
  }

  /**
   * See {@link InMemoryBroker.commit}.
   *
   * @param group consumer group id
   * @param offsets offsets to commit
   */
  commit(group: string, offsets: readonly TopicPartitionOffset[]): void {
    if (typeof group !== "string" || group.length === 0) {
      throw new InMemoryBrokerError(`commit: group must be a non-empty string, got ${JSON.stringify(group)}`);
    }
    this.#faults.inject("commit", group);
    for (const o of offsets) {
      const where = `commit(${JSON.stringify(group)})`;
      this.#log.partition(o.topic, o.partition, where);
      if (!isNonNegativeInt(o.offset)) {
        throw new InMemoryBrokerError(
          `${where}: offset for ${o.topic}/${o.partition} must be a non-negative integer, got ${
            String(o.offset)
          }`,
        );
      }
    }
    const atMs = this.#log.clock.now();
    let log = this.#commitLogs.get(group);
    let latest = this.#committed.get(group);
    if (log === undefined || latest === undefined) {
      log = [];
      latest = new Map();
      this.#commitLogs.set(group, log);
      this.#committed.set(group, latest);
    }
    for (const o of offsets) {
      log.push(Object.freeze({ topic: o.topic, partition: o.partition, offset: o.offset, atMs }));
      latest.set(
        `${o.partition}:${o.topic}`,
        Object.freeze({ topic: o.topic, partition: o.partition, offset: o.offset }),
      );
    }
  }

  /**
   * The latest committed offset of a group for a partition.
   *
   * @param group consumer group id
   * @param topic topic name
   * @param partition partition
   * @returns the offset, or `null` if the group never committed this partition
   */
  committed(group: string, topic: string, partition: number): number | null {
    return this.#committed.get(group)?.get(`${partition}:${topic}`)?.offset ?? null;
  }

  /**
   * Every commit of a group, in order.
   *
   * @param group consumer group id
   * @returns the entries (a new array; empty for an unknown group)
   */
  commitLog(group: string): CommitLogEntry[] {
    return [...(this.#commitLogs.get(group) ?? [])];
  }

  /**
   * Groups that committed at least once, sorted.
   *
   * @returns group ids
   */
  groups(): string[] {
    return [...this.#committed.keys()].sort();
  }

  /**
   * The latest committed offsets per group, sorted by topic then partition.
   *
   * @returns the groups part of {@link InMemoryBroker.snapshot}
   */
  snapshot(): Record<string, TopicPartitionOffset[]> {
    const groups: Record<string, TopicPartitionOffset[]> = {};
    for (const group of this.groups()) {
      groups[group] = [...this.#committed.get(group)!.values()]
        .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
        .map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset }));
    }
    return groups;
  }
}
