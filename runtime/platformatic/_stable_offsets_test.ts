// The stable-offset wait of the @platformatic/kafka adapter (exactly-once): which OffsetFetch failures it
// waits through and which it gives up on, built from platformatic's own error classes. Its effect on the
// real broker is tested by tests/kafka_exactly_once_test.ts (kills and rebalances, 0 duplicates).
// Run: deno test -A runtime/platformatic/_stable_offsets_test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { NetworkError, ProtocolError, ResponseError, TimeoutError } from "./_kafka.ts";
import { askUntilStable, keepWaitingForStable } from "./_stable_offsets.ts";

// Kafka error codes: UNSTABLE_OFFSET_COMMIT 88, NOT_COORDINATOR 16, COORDINATOR_LOAD_IN_PROGRESS 14,
// REQUEST_TIMED_OUT 7, GROUP_AUTHORIZATION_FAILED 30, GROUP_ID_NOT_FOUND 69.
const OFFSET_FETCH = 9;
const response = (...codes: number[]): ResponseError =>
  new ResponseError(
    OFFSET_FETCH,
    8,
    Object.fromEntries(codes.map((c, i) => [`/groups/0/topics/0/partitions/${i}`, [c, null]])),
    undefined,
  );

describe("keepWaitingForStable", () => {
  test("waits while the offsets are unstable, on every partition", () => {
    assert.equal(keepWaitingForStable(response(88)), true);
    assert.equal(keepWaitingForStable(response(88, 88, 88)), true);
  });

  test("waits through a coordinator that moved or is loading, and through timeouts", () => {
    assert.equal(keepWaitingForStable(response(16)), true);
    assert.equal(keepWaitingForStable(response(14)), true);
    assert.equal(keepWaitingForStable(response(7)), true);
    assert.equal(keepWaitingForStable(response(88, 16)), true);
    assert.equal(keepWaitingForStable(new ProtocolError("NOT_COORDINATOR")), true);
  });

  test("waits through connection failures (no Kafka error code), also when nested as a cause", () => {
    assert.equal(keepWaitingForStable(new NetworkError("Connection closed")), true);
    assert.equal(keepWaitingForStable(new TimeoutError("Request timed out")), true);
    assert.equal(
      keepWaitingForStable(new Error("wrapped", { cause: new NetworkError("ECONNRESET") })),
      true,
    );
  });

  test("gives up on a refusal that asking again will not change", () => {
    assert.equal(keepWaitingForStable(response(30)), false);
    assert.equal(keepWaitingForStable(response(69)), false);
    // one partition unstable, another refused: the refusal wins (platformatic's own read reports it)
    assert.equal(keepWaitingForStable(response(88, 30)), false);
    assert.equal(keepWaitingForStable(response(16, 30)), false); // a moved coordinator does not hide it
    assert.equal(keepWaitingForStable(new Error("x", { cause: new ProtocolError(30) })), false);
  });
});

describe("askUntilStable", () => {
  const failingWith = (errors: unknown[]) => {
    let calls = 0;
    const ask = (): Promise<void> => {
      const e = errors[calls++];
      return e === undefined ? Promise.resolve() : Promise.reject(e);
    };
    return { ask, calls: () => calls };
  };

  test("asks again after unstable offsets, a moved coordinator and a lost connection", async () => {
    const f = failingWith([response(88), response(16), new NetworkError("closed"), response(88)]);
    const tries = await askUntilStable(f.ask, 10_000, 1);
    assert.equal(tries, 5);
    assert.equal(f.calls(), 5);
  });

  test("stops at the first refusal that is not transient, without rejecting", async () => {
    const f = failingWith([response(88), response(30), response(88)]);
    assert.equal(await askUntilStable(f.ask, 10_000, 1), 2);
    assert.equal(f.calls(), 2);
  });

  test("stops at the deadline while the offsets stay unstable", async () => {
    let calls = 0;
    const started = Date.now();
    const tries = await askUntilStable(
      () => {
        calls++;
        return Promise.reject(response(88));
      },
      60,
      5,
    );
    assert.equal(tries, calls);
    assert.ok(tries >= 2, `asked ${tries} times`);
    assert.ok(Date.now() - started >= 60, "returned before the deadline");
  });
});
