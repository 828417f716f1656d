// The fetch tap takes records out of platformatic's fetch responses before its stream sees them.
// Run: deno test -A runtime/platformatic/_fetch_tap_test.ts
import { test } from "node:test";
import assert from "node:assert/strict";
import { type FetchedBatch, FetchTap } from "./_fetch_tap.ts";

const record = (offset: number) => ({
  topic: "",
  partition: 0,
  offset,
  key: null,
  value: new Uint8Array([offset]),
  headers: {},
  timestampMs: 1,
});

test("FetchTap: the batches go to the sink, then the response the stream keeps holds no record", () => {
  const batch: FetchedBatch = {
    firstOffset: 5n,
    firstTimestamp: 1n,
    maxTimestamp: 1n,
    attributes: 0,
    records: [],
    ready: [record(5), record(6)],
  };
  const response = {
    responses: [{ topicId: "id-1", partitions: [{ partitionIndex: 0, records: [batch] }] }],
  };
  const consumer = {
    generationId: 3,
    fetch(_options: unknown, callback?: (e: Error | null, r?: unknown) => void): void {
      callback?.(null, response);
    },
  };
  const sunk: [string, number, number[], number, number][] = [];
  new FetchTap(consumer as never, (topicId, partition, b, generation, from) => {
    sunk.push([topicId, partition, (b.ready ?? []).map((r) => r.offset), generation, from]);
  });
  let streamed: unknown;
  const options = { topics: [{ topicId: "id-1", partitions: [{ partition: 0, fetchOffset: 6n }] }] };
  consumer.fetch(options, (_e, r) => (streamed = r));
  assert.deepEqual(sunk, [["id-1", 0, [5, 6], 3, 6]]);
  assert.equal(streamed, response, "the stream gets the response");
  // the stream may hold the response after the records were queued (and settled): it must not keep them
  assert.equal(batch.ready, undefined);
  assert.equal(batch.records.length, 0);
});
