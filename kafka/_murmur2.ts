/**
 * Kafka's key hash and keyed partition choice, bit-for-bit identical to the Java client
 * (`org.apache.kafka.common.utils.Utils.murmur2` / `toPositive`, used by the default partitioner
 * and by KafkaJS's `Partitioners.DefaultPartitioner`).
 *
 * Web-standard only; no allocation per call.
 *
 * @module
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * The 32-bit MurmurHash2 of `data` with Kafka's seed (`0x9747b28c`), as a signed 32-bit integer
 * (the value Java's `Utils.murmur2` returns).
 *
 * @param data the key bytes
 * @returns the signed 32-bit hash
 *
 * @example
 * ```ts
 * import { murmur2 } from "@loom/streaming/kafka";
 * murmur2(new TextEncoder().encode("21")); // -973932308
 * ```
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const body = length & ~3;
  let i = 0;
  while (i < body) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
    i += 4;
  }
  const tail = length & 3;
  if (tail === 3) h ^= data[i + 2] << 16;
  if (tail >= 2) h ^= data[i + 1] << 8;
  if (tail >= 1) {
    h ^= data[i];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * Java's `Utils.toPositive`: clears the sign bit (`x & 0x7fffffff`). Not `Math.abs`.
 *
 * @param x a signed 32-bit integer
 * @returns a value in `[0, 2^31)`
 *
 * @example
 * ```ts
 * import { toPositive } from "@loom/streaming/kafka";
 * toPositive(-1); // 2147483647
 * ```
 */
export function toPositive(x: number): number {
  return x & 0x7fffffff;
}

/**
 * The partition the Java client (and KafkaJS's default partitioner) picks for a keyed record:
 * `toPositive(murmur2(key)) % numPartitions`.
 *
 * @param key the serialized key bytes
 * @param numPartitions the topic's partition count (a positive integer)
 * @returns a partition in `[0, numPartitions)`
 * @throws {RangeError} when `numPartitions` is not a positive integer
 *
 * @example
 * ```ts
 * import { partitionForKey } from "@loom/streaming/kafka";
 * partitionForKey(new TextEncoder().encode("order-42"), 12); // same partition as the Java producer
 * ```
 */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  if (!(numPartitions >= 1 && numPartitions <= 0x7fffffff && Number.isInteger(numPartitions))) {
    throw new RangeError(
      `partitionForKey: numPartitions must be a positive integer, got ${String(numPartitions)}`,
    );
  }
  return (murmur2(key) & 0x7fffffff) % numPartitions;
}
