/**
 * Per-partition pause for the platformatic consumer, which has none: its fetch loop reads
 * `consumer.assignments` for every fetch, so the adapter replaces that property with one that leaves the
 * paused partitions out of what the loop sees. platformatic's group code writes the property as before.
 *
 * @module
 */

import type { GroupAssignment } from "@platformatic/kafka";
import type { PartitionQueues } from "./_partition_queues.ts";

/** The filtered `assignments` property of one platformatic consumer. */
export class PausedAssignments {
  /** platformatic's assignment as written by its group code; the fetch loop reads a filtered view. */
  #real: GroupAssignment[] | null;
  #view: GroupAssignment[] | null = null;

  /**
   * Replaces `consumer.assignments` (this instance only).
   *
   * @param consumer The platformatic consumer.
   * @param queues Which partitions are paused.
   * @param filtering Whether paused partitions are left out now (records flow); otherwise the loop sees
   *   the real assignment.
   */
  constructor(
    consumer: { assignments: GroupAssignment[] | null },
    queues: PartitionQueues,
    filtering: () => boolean,
  ) {
    this.#real = consumer.assignments;
    Object.defineProperty(consumer, "assignments", {
      configurable: true,
      enumerable: true,
      get: (): GroupAssignment[] | null => {
        const real = this.#real;
        if (real === null || queues.pausedCount === 0 || !filtering()) return real;
        if (this.#view === null) {
          this.#view = real.map((a) => ({
            topic: a.topic,
            partitions: a.partitions.filter((p) => !queues.isPaused(a.topic, p)),
          }));
        }
        return this.#view;
      },
      set: (v: GroupAssignment[] | null) => {
        this.#real = v;
        this.#view = null;
      },
    });
  }

  /** Forgets the filtered view (the assignment, the paused partitions or whether records flow changed). */
  invalidate(): void {
    this.#view = null;
  }
}
