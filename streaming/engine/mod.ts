/**
 * The engine: interprets a compiled plan over batches of source records and produces an emission per
 * call (records per output topic, rows per table, error envelopes, discards).
 *
 * @module
 */
export { Engine, type EngineOptions } from "./_engine.ts";
export {
  Emission,
  type ErrorSource,
  type Item,
  type TableBatch,
  type TopicBatch,
  type UnroutedError,
} from "./_emission.ts";
export { reasonOf, TaskTimeoutError, UnroutedErrorFailure } from "./_errors.ts";
