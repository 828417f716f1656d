/**
 * Injected time and id sources: the core never reads wall-clock time or randomness directly.
 *
 * @module
 */

/**
 * A source of time, in milliseconds since the epoch.
 *
 * @example
 * ```ts
 * import { type Clock, VirtualClock } from "@loom/streaming";
 * const clock: Clock = new VirtualClock(1_000);
 * clock.now(); // 1000
 * ```
 */
export interface Clock {
  /** Current time in ms since the epoch. */
  now(): number;
  /**
   * Resolves after `ms` of this clock's time. When `signal` aborts first, the wait is cancelled and the
   * promise resolves at once (check `signal.aborted`); a clock may ignore `signal` (the wait then ends at its
   * deadline).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * A source of trace ids (32 lowercase hex characters, like Python's `uuid4().hex`).
 *
 * @example
 * ```ts
 * import { type IdSource, seededIds } from "@loom/streaming";
 * const ids: IdSource = seededIds(7);
 * ids.traceId().length; // 32
 * ```
 */
export interface IdSource {
  /** A new trace id. */
  traceId(): string;
}

/**
 * The real clock (`Date.now`, `setTimeout`).
 *
 * @example
 * ```ts
 * import { systemClock } from "@loom/streaming";
 * const t = systemClock.now();
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
    }),
};

/**
 * Random trace ids (128 random bits from `crypto.getRandomValues`, drawn from a pooled buffer, as 32
 * lowercase hex characters like Python's `uuid4().hex`).
 *
 * @example
 * ```ts
 * import { randomIds } from "@loom/streaming";
 * randomIds.traceId().length; // 32
 * ```
 */
export const randomIds: IdSource = (() => {
  // 1024 ids at a time: their random bytes rendered as one hex string by one decode; an id is a 32-char
  // slice of it (cheap on V8 and JSC), not 16 concatenations.
  const IDS = 1024;
  const random = new Uint8Array(16 * IDS);
  const ascii = new Uint8Array(32 * IDS);
  const digits = new TextEncoder().encode("0123456789abcdef");
  const latin1 = new TextDecoder("latin1");
  let hex = "";
  let pos = ascii.length;
  return {
    traceId(): string {
      if (pos + 32 > ascii.length) {
        crypto.getRandomValues(random);
        for (let i = 0, o = 0; i < random.length; i++, o += 2) {
          const b = random[i];
          ascii[o] = digits[b >>> 4];
          ascii[o + 1] = digits[b & 15];
        }
        hex = latin1.decode(ascii);
        pos = 0;
      }
      const i = pos;
      pos += 32;
      return hex.slice(i, i + 32);
    },
  };
})();

/**
 * Deterministic ids: a 128-bit xorshift sequence from a seed, rendered as 32 hex characters.
 *
 * @example
 * ```ts
 * import { seededIds } from "@loom/streaming";
 * const ids = seededIds(42);
 * ids.traceId() === seededIds(42).traceId(); // true
 * ```
 */
export function seededIds(seed = 1): IdSource {
  let a = (seed ^ 0x9e3779b9) >>> 0 || 1, b = 0x243f6a88, c = 0x85a308d3, d = 0x13198a2e;
  const next = (): number => {
    const t = a ^ (a << 11);
    a = b;
    b = c;
    c = d;
    d = (d ^ (d >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return d;
  };
  for (let i = 0; i < 8; i++) next();
  return {
    traceId: () => {
      let out = "";
      for (let i = 0; i < 4; i++) out += next().toString(16).padStart(8, "0");
      return out;
    },
  };
}

/**
 * A virtual clock for tests: time moves only when {@link VirtualClock.advance} is called, and
 * sleepers wake in deadline order.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "@loom/streaming";
 * const clock = new VirtualClock(1_000);
 * const slept = clock.sleep(50);
 * await clock.advance(50); // slept resolves
 * ```
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #sleepers: { at: number; seq: number; wake: () => void }[] = [];

  /**
   * Creates a {@link VirtualClock}.
   *
   * @param startMs the initial time
   */
  constructor(startMs = 0) {
    this.#now = startMs;
  }

  /** Current virtual time. */
  now(): number {
    return this.#now;
  }

  /** Resolves when the virtual time reaches `now() + ms` (or at once when `signal` aborts: the sleeper is dropped). */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const s = { at: this.#now + ms, seq: this.#seq++, wake: resolve };
      this.#sleepers.push(s);
      this.#sleepers.sort((x, y) => x.at - y.at || x.seq - y.seq);
      signal?.addEventListener("abort", () => {
        const i = this.#sleepers.indexOf(s);
        if (i >= 0) this.#sleepers.splice(i, 1);
        resolve();
      }, { once: true });
    });
  }

  /** Number of pending sleepers. */
  get pending(): number {
    return this.#sleepers.length;
  }

  /** Deadline (virtual time) of the earliest pending sleeper, or null when none sleeps. */
  get nextWakeAt(): number | null {
    return this.#sleepers.length ? this.#sleepers[0].at : null;
  }

  /** Moves time forward by `ms`, waking every sleeper whose deadline is reached (in order). */
  async advance(ms: number): Promise<void> {
    if (ms < 0) throw new RangeError("VirtualClock.advance: ms must be >= 0");
    const target = this.#now + ms;
    while (this.#sleepers.length > 0 && this.#sleepers[0].at <= target) {
      const s = this.#sleepers.shift()!;
      this.#now = s.at;
      s.wake();
      // let the woken task run before waking the next one
      await new Promise<void>((r) => queueMicrotask(r));
      await Promise.resolve();
    }
    this.#now = target;
  }
}
