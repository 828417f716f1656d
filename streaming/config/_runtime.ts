/**
 * The `streaming.runtime` section.
 *
 * @module
 */
import * as v from "valibot";
import type { RuntimeSettings } from "../_settings.ts";
import { type ConfigContext, errorAt, resolvePath, validateAt } from "./_context.ts";
import { intAtLeast, nonEmptyString } from "./_schemas.ts";

/**
 * `streaming.runtime` defaults (used when the section is absent).
 *
 * @example
 * ```ts
 * import { DEFAULT_RUNTIME_SETTINGS } from "@loom/streaming";
 * DEFAULT_RUNTIME_SETTINGS.maxInFlight; // 10000
 * ```
 */
export const DEFAULT_RUNTIME_SETTINGS: RuntimeSettings = Object.freeze({
  workersPerProcess: 1,
  partitionConcurrency: 1,
  processId: null,
  addresses: null,
  epochIntervalMs: null,
  forceShutdownTimeoutMs: null,
  unroutedErrors: "fail",
  maxInFlight: 10000,
  transport: "memory",
  deliveryRetries: 3,
  retryBackoffMs: 100,
  // @platformatic/kafka: maintained, 1.5–4.5× kafkajs's raw pipe here, KIP-447 transactions; kafkajs stays
  // selectable for users who pin it.
  kafkaClient: "platformatic",
  heapLimitMb: 0,
});

const runtimeSchema = v.strictObject({
  workers_per_process: v.optional(intAtLeast(1), 1),
  partition_concurrency: v.optional(intAtLeast(1), 1),
  process_id: v.nullish(intAtLeast(0)),
  addresses: v.nullish(v.array(nonEmptyString("an address"))),
  epoch_interval_ms: v.nullish(intAtLeast(1)),
  force_shutdown_timeout_ms: v.nullish(intAtLeast(0)),
  unrouted_errors: v.optional(v.picklist(["fail", "log"]), "fail"),
  max_in_flight: v.optional(intAtLeast(1), 10000),
  transport: v.optional(v.picklist(["memory", "kafka"]), "memory"),
  delivery_retries: v.optional(intAtLeast(0), 3),
  retry_backoff_ms: v.optional(intAtLeast(0), 100),
  on_unwritable: v.optional(v.picklist(["fail", "dead_letter", "log_and_skip"])),
  dead_letter_topic: v.optional(nonEmptyString("a topic name")),
  kafka_client: v.optional(v.picklist(["platformatic", "kafkajs"]), "platformatic"),
  heap_limit_mb: v.optional(intAtLeast(0), 0),
  processing_guarantee: v.optional(v.picklist(["at_least_once", "exactly_once"])),
  transaction_batches: v.optional(intAtLeast(1)),
  transactional_id_prefix: v.optional(nonEmptyString("a transactional id prefix")),
  // read by the runtime (streaming/observe/_config.ts readAdminSettings)
  admin: v.optional(v.unknown()),
  recovery: v.optional(v.unknown()),
  async_backend: v.optional(v.unknown()),
  use_uvloop: v.optional(v.unknown()),
});

/**
 * Reads `streaming.runtime` (§3.3) with its defaults; absent → {@link DEFAULT_RUNTIME_SETTINGS}.
 * Unknown keys are errors; the Python-only `recovery`, `async_backend` and `use_uvloop` are ignored.
 *
 * @example
 * ```ts
 * import { ConfigContext, readRuntimeSettings } from "@loom/streaming";
 * readRuntimeSettings(ConfigContext.fromObject({})).unroutedErrors; // "fail"
 * ```
 */
export function readRuntimeSettings(ctx: ConfigContext): RuntimeSettings {
  const path = ["streaming", "runtime"];
  const r = resolvePath(ctx.raw, path);
  if (!r.found || r.value === null || r.value === undefined) return DEFAULT_RUNTIME_SETTINGS;
  const raw = validateAt(ctx, path, r.value, runtimeSchema);
  return {
    workersPerProcess: raw.workers_per_process,
    partitionConcurrency: raw.partition_concurrency,
    processId: raw.process_id ?? null,
    addresses: raw.addresses ?? null,
    epochIntervalMs: raw.epoch_interval_ms ?? null,
    forceShutdownTimeoutMs: raw.force_shutdown_timeout_ms ?? null,
    unroutedErrors: raw.unrouted_errors,
    maxInFlight: raw.max_in_flight,
    transport: raw.transport,
    deliveryRetries: raw.delivery_retries,
    retryBackoffMs: raw.retry_backoff_ms,
    // exactly_once runs on platformatic (the only client with KIP-447 transactions) unless kafka_client
    // names kafkajs explicitly, which guaranteeSettings rejects
    kafkaClient: raw.processing_guarantee === "exactly_once" ? "platformatic" : raw.kafka_client,
    heapLimitMb: raw.heap_limit_mb,
    ...unwritableSettings(ctx, path, raw.on_unwritable, raw.dead_letter_topic),
    ...guaranteeSettings(ctx, path, raw),
  };
}

/**
 * `processing_guarantee`, `transaction_batches` and `transactional_id_prefix` (set only when configured).
 * The transaction keys need `exactly_once`, and `exactly_once` needs the @platformatic/kafka client (kafkajs
 * implements only the pre-KIP-447 transaction protocol, which fences by partition, not by group generation).
 */
function guaranteeSettings(
  ctx: ConfigContext,
  path: readonly string[],
  raw: {
    processing_guarantee?: "at_least_once" | "exactly_once";
    transaction_batches?: number;
    transactional_id_prefix?: string;
    kafka_client: "platformatic" | "kafkajs";
  },
): Pick<RuntimeSettings, "processingGuarantee" | "transactionBatches" | "transactionalIdPrefix"> {
  const eos = raw.processing_guarantee === "exactly_once";
  for (const key of ["transaction_batches", "transactional_id_prefix"] as const) {
    if (raw[key] !== undefined && !eos) {
      throw errorAt(
        ctx,
        [...path, key],
        `${key} applies to exactly-once processing only`,
        "set streaming.runtime.processing_guarantee: exactly_once, or remove the key",
      );
    }
  }
  if (eos && raw.kafka_client === "kafkajs" && resolvePath(ctx.raw, [...path, "kafka_client"]).found) {
    throw errorAt(
      ctx,
      [...path, "kafka_client"],
      "processing_guarantee: exactly_once needs the platformatic client (kafkajs has no KIP-447 transactions)",
      "set streaming.runtime.kafka_client: platformatic, or processing_guarantee: at_least_once",
    );
  }
  return {
    ...(raw.processing_guarantee !== undefined && { processingGuarantee: raw.processing_guarantee }),
    ...(raw.transaction_batches !== undefined && { transactionBatches: raw.transaction_batches }),
    ...(raw.transactional_id_prefix !== undefined && { transactionalIdPrefix: raw.transactional_id_prefix }),
  };
}

/** `on_unwritable` and `dead_letter_topic` (set only when configured; `dead_letter` needs the topic). */
function unwritableSettings(
  ctx: ConfigContext,
  path: readonly string[],
  policy: "fail" | "dead_letter" | "log_and_skip" | undefined,
  topic: string | undefined,
): Pick<RuntimeSettings, "onUnwritable" | "deadLetterTopic"> {
  if (policy === "dead_letter" && topic === undefined) {
    throw errorAt(
      ctx,
      [...path, "on_unwritable"],
      "dead_letter needs streaming.runtime.dead_letter_topic",
      "set it to the topic that receives the raw input records whose outputs cannot be written",
    );
  }
  return {
    ...(policy !== undefined && { onUnwritable: policy }),
    ...(topic !== undefined && { deadLetterTopic: topic }),
  };
}
