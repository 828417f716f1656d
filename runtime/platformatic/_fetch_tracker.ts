/**
 * Fetches in flight per platformatic consumer, from its diagnostics channel (start → asyncEnd, which is
 * published after the response's records were pushed into the stream). A revocation waits for them: a
 * fetch sent under the old assignment must not deliver records once the new one is in place.
 *
 * The same channel gives each partition's end offset (high watermark): platformatic's messages carry no
 * fetch metadata, so the fetch response (`asyncStart`, before its records are pushed) is read here, and
 * the batches built from those records report it for lag metrics.
 *
 * @module
 */

import { consumerFetchesChannel } from "@platformatic/kafka";

interface Counter {
  n: number;
  waiters: (() => void)[];
  /** End offset per topic id (platformatic's fetch v13+ responses name topics by id) and partition. */
  readonly highWatermarks: Map<string, Map<number, number>>;
}

/** The fields of a fetch response read here (platformatic's `FetchResponse`). */
interface FetchResult {
  readonly responses?: readonly {
    readonly topicId?: string;
    readonly partitions?: readonly {
      readonly partitionIndex: number;
      readonly errorCode?: number;
      readonly highWatermark?: bigint;
    }[];
  }[];
}

const noteHighWatermarks = (c: Counter, result: FetchResult | undefined): void => {
  const responses = result?.responses;
  if (responses === undefined) return;
  for (const t of responses) {
    if (t.topicId === undefined || t.partitions === undefined) continue;
    let byPartition = c.highWatermarks.get(t.topicId);
    for (const p of t.partitions) {
      if (p.errorCode || typeof p.highWatermark !== "bigint" || p.highWatermark < 0n) continue;
      if (byPartition === undefined) c.highWatermarks.set(t.topicId, byPartition = new Map());
      byPartition.set(p.partitionIndex, Number(p.highWatermark));
    }
  }
};

const counters = new WeakMap<object, Counter>();
let hooked = false;

const clientOf = (ctx: unknown): object => (ctx as { client?: object } | null)?.client ?? {};

const hook = (): void => {
  if (hooked) return;
  hooked = true;
  consumerFetchesChannel.start.subscribe((ctx) => {
    const c = counters.get(clientOf(ctx));
    if (c !== undefined) c.n++;
  });
  consumerFetchesChannel.asyncStart.subscribe((ctx) => {
    const c = counters.get(clientOf(ctx));
    if (c !== undefined) noteHighWatermarks(c, (ctx as { result?: FetchResult }).result);
  });
  consumerFetchesChannel.asyncEnd.subscribe((ctx) => {
    const c = counters.get(clientOf(ctx));
    if (c === undefined || c.n === 0) return;
    if (--c.n === 0 && c.waiters.length > 0) {
      const waiters = c.waiters;
      c.waiters = [];
      for (const w of waiters) w();
    }
  });
};

/** Counts the fetches of one platformatic consumer and keeps the end offsets they reported. */
export class FetchTracker {
  readonly #counter: Counter = { n: 0, waiters: [], highWatermarks: new Map() };

  /**
   * Starts counting the fetches of `client`.
   *
   * @param client The platformatic consumer.
   */
  constructor(client: object) {
    hook();
    counters.set(client, this.#counter);
  }

  /**
   * Resolves when no fetch is in flight, or after `limitMs` (a lost completion must not hold every later
   * revocation: the count is then reset).
   *
   * @param limitMs Upper bound of the wait.
   * @returns Resolves when idle.
   */
  idle(limitMs: number): Promise<void> {
    const c = this.#counter;
    if (c.n === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        c.n = 0;
        resolve();
      }, limitMs);
      c.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * The end offset of a partition as last reported by a fetch, if any.
   *
   * @param topicId The topic's id (from the cluster metadata).
   * @param partition The partition.
   * @returns The high watermark, or undefined.
   */
  highWatermark(topicId: string, partition: number): number | undefined {
    return this.#counter.highWatermarks.get(topicId)?.get(partition);
  }
}
