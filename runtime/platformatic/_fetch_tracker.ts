/**
 * Fetches in flight per platformatic consumer, from its diagnostics channel (start → asyncEnd, which is
 * published after the response's records were pushed into the stream). A revocation waits for them: a
 * fetch sent under the old assignment must not deliver records once the new one is in place.
 *
 * @module
 */

import { consumerFetchesChannel } from "@platformatic/kafka";

interface Counter {
  n: number;
  waiters: (() => void)[];
}

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

/** Counts the fetches of one platformatic consumer. */
export class FetchTracker {
  readonly #counter: Counter = { n: 0, waiters: [] };

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
}
