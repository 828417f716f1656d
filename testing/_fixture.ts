/**
 * Recorded topic fixtures in JSON Lines: one Kafka record per line, replayed deterministically by the
 * simulator and written by the recorder that reads real topics.
 *
 * This file holds the format reference (below) and gathers the fixture API: the record model and
 * {@link FixtureError} (`_fixture_record.ts`), reading ({@link parseFixture}, `_fixture_parse.ts`), writing
 * and recording ({@link formatFixture}, {@link fixtureRecordFromSource}, `_fixture_format.ts`) and base64
 * (`_base64.ts`).
 *
 * ## Format
 *
 * Blank lines and lines whose first non-blank characters are `//` or `#` are ignored. Every other line is
 * one JSON object with these fields (unknown fields are rejected, so typos fail loudly):
 *
 * | field | required | type | meaning |
 * |---|---|---|---|
 * | `topic` | yes | non-empty string | topic name |
 * | `partition` | no | integer >= 0 | partition; absent/`null` = let the partitioner choose (key hash, or round-robin) |
 * | `offset` | no | integer >= 0 | offset; absent/`null` = next offset of the partition. Gaps are allowed (compacted topics) |
 * | `timestamp` | no | integer >= 0 | record timestamp in ms; absent/`null` = the loader's clock |
 * | `key` | no | bytes or `null` | absent = `null` |
 * | `headers` | no | object of name → bytes | absent = `{}` |
 * | `value` | yes | `{"json": <any JSON>}`, bytes, or `null` | `null` is a tombstone |
 * | `message_type` | no | string | envelope descriptor, only with a `{"json": ...}` value |
 * | `message_version` | no | integer >= 0 | envelope descriptor, only with a `{"json": ...}` value |
 * | `trace_id`, `parent_trace_id`, `correlation_id`, `causation_id` | no | string | envelope metadata, only with a `{"json": ...}` value |
 *
 * "Bytes" is one of:
 * - a JSON string: its UTF-8 encoding (`"k1"`); allowed for `key` and header values;
 * - `{"text": "..."}`: the UTF-8 encoding of the text; allowed everywhere, including `value`;
 * - `{"base64": "..."}`: exact bytes (standard alphabet, padding optional), e.g. garbage for poison tests.
 *
 * A `{"json": ...}` value is a payload the caller encodes with the real wire codec (together with the
 * optional envelope metadata); every other value is replayed byte for byte. Envelope metadata fields set
 * to `null` are treated as absent.
 *
 * ```text
 * # orders.jsonl
 * {"topic": "orders", "partition": 0, "offset": 12, "timestamp": 1700000000000, "key": "k1", "headers": {"x-tenant": "acme"}, "value": {"json": {"order_id": "o-1", "amount": 5}}, "message_type": "order.created", "message_version": 1}
 * {"topic": "orders", "key": {"base64": "AAE="}, "value": {"base64": "3q2+7w=="}}
 * {"topic": "orders", "key": "k1", "value": null}
 * ```
 *
 * {@link formatFixture} writes keys, header values and raw values as plain strings / `{"text"}` when the
 * bytes are valid UTF-8 and as `{"base64"}` otherwise, so `parseFixture(formatFixture(records))` deep-equals
 * `records`.
 *
 * @module
 */

export { base64ToBytes, bytesToBase64 } from "./_base64.ts";
export {
  FixtureError,
  type FixtureMessageMeta,
  type FixtureRecord,
  type FixtureValue,
} from "./_fixture_record.ts";
export { parseFixture } from "./_fixture_parse.ts";
export {
  type FixtureFromSourceOptions,
  type FixtureMessageView,
  fixtureRecordFromSource,
  formatFixture,
} from "./_fixture_format.ts";
