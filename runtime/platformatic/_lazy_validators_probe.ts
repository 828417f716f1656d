/**
 * Run by `_lazy_validators_test.ts` in a process of its own (a test runner loads many test files in one
 * process, and one that imports @platformatic/kafka first would load it with ajv's own compile): loads
 * `@loom/streaming/runtime` as an application does, then reads the state of two of the client's
 * validators and prints it as one JSON line.
 *
 * @module
 */
import { KafkaFlowRunner } from "../mod.ts";
import { createTopicsOptionsValidator, producerOptionsValidator } from "@platformatic/kafka";
import { compilationRestored, type DeferredValidator } from "./_lazy_validators.ts";

void KafkaFlowRunner;
const topics = createTopicsOptionsValidator as unknown as DeferredValidator;
const producer = producerOptionsValidator as unknown as DeferredValidator;
const before = { topics: topics.compiled ?? "not deferred", producer: producer.compiled ?? "not deferred" };
const invalid = topics({ topics: "not-an-array" });
const errors = Array.isArray(topics.errors) ? topics.errors.length : -1;
const valid = topics({ topics: ["t"], partitions: 3, replicas: 1 });
console.log(JSON.stringify({
  before,
  invalid,
  errors,
  valid,
  errorsAfterValid: topics.errors ?? null,
  compiledAfter: topics.compiled,
  restored: compilationRestored(),
}));
