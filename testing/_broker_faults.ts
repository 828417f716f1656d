/**
 * The in-memory broker's fault injection: per operation (`send`, `fetch`, `commit`) and target (topic or
 * group), a queue of failures that the next calls throw, used by {@link InMemoryBroker.failSends},
 * {@link InMemoryBroker.failFetches} and {@link InMemoryBroker.failCommits}.
 *
 * @module
 */
import { type BrokerOperation, InMemoryBrokerError, SimulatedBrokerError } from "./_broker_types.ts";
import { isNonNegativeInt } from "./_broker_log.ts";

interface Fault {
  remaining: number;
  readonly error: Error | undefined;
}

const FAULT_METHOD: Readonly<Record<BrokerOperation, string>> = {
  send: "failSends",
  fetch: "failFetches",
  commit: "failCommits",
};

/** Queued failures of an {@link InMemoryBroker}, per operation and target. */
export class BrokerFaults {
  readonly #faults: Record<BrokerOperation, Map<string, Fault[]>> = {
    send: new Map(),
    fetch: new Map(),
    commit: new Map(),
  };

  /**
   * Queues `times` failures of `operation` on `target` (after those already queued).
   *
   * @param operation the operation that fails
   * @param target topic (send, fetch) or group (commit)
   * @param times number of calls to fail (non-negative integer)
   * @param error the error to throw; `undefined` for a {@link SimulatedBrokerError}
   * @throws {InMemoryBrokerError} when `times` is not a non-negative integer
   */
  add(operation: BrokerOperation, target: string, times: number, error: Error | undefined): void {
    if (!isNonNegativeInt(times)) {
      throw new InMemoryBrokerError(
        `${FAULT_METHOD[operation]}(${JSON.stringify(target)}): times must be a non-negative integer, got ${
          String(times)
        }`,
      );
    }
    if (times === 0) return;
    const map = this.#faults[operation];
    let queue = map.get(target);
    if (queue === undefined) map.set(target, queue = []);
    queue.push({ remaining: times, error });
  }

  /**
   * How many injected failures are still queued.
   *
   * @param operation the operation
   * @param target topic (send, fetch) or group (commit)
   * @returns the number of calls that will still fail
   */
  pending(operation: BrokerOperation, target: string): number {
    let n = 0;
    for (const f of this.#faults[operation].get(target) ?? []) n += f.remaining;
    return n;
  }

  /**
   * Throws the next queued failure of `operation` on `target`, if any (and uses it up).
   *
   * @param operation the operation being called
   * @param target topic (send, fetch) or group (commit)
   * @throws the queued error, or a {@link SimulatedBrokerError}
   */
  inject(operation: BrokerOperation, target: string): void {
    const queue = this.#faults[operation].get(target);
    if (queue === undefined || queue.length === 0) return;
    const fault = queue[0];
    fault.remaining--;
    if (fault.remaining === 0) queue.shift();
    if (fault.error !== undefined) throw fault.error;
    const left = this.pending(operation, target);
    const what = operation === "commit"
      ? `group ${JSON.stringify(target)}`
      : `topic ${JSON.stringify(target)}`;
    throw new SimulatedBrokerError(
      operation,
      target,
      `simulated ${operation} failure on ${what} (injected by ${
        FAULT_METHOD[operation]
      }; ${left} more queued)`,
    );
  }
}
