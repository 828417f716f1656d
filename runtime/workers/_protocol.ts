/**
 * Messages between the supervisor (main thread) and its flow workers (module Web Workers).
 *
 * @module
 */
import type { WorkerSnapshot } from "./_instance.ts";

/** Supervisor → worker: load the flow module, compile it and run it. */
export interface StartMessage {
  readonly type: "start";
  /** Worker index. */
  readonly index: number;
  /** File URL of the flow module. */
  readonly flowModule: string;
  /** The configuration object (already interpolated). */
  readonly config: Record<string, unknown>;
  /** Config file name (error messages). */
  readonly configFile: string | null;
  /** Minimum level of the JSON logger. */
  readonly logLevel: "info" | "warn" | "error";
  /** How often the worker posts a snapshot (ms). */
  readonly snapshotMs: number;
  /** Extra kafkajs consumer/producer logging off (tests). */
  readonly quietClient: boolean;
  /** URL of the module whose `openTableWriters` opens the table sinks (null: none). */
  readonly tableWriters: string | null;
}

/** Supervisor → worker: stop gracefully. */
export interface StopMessage {
  readonly type: "stop";
}

/** Supervisor → worker messages. */
export type ToWorker = StartMessage | StopMessage;

/** Worker → supervisor messages. */
export type FromWorker =
  | { readonly type: "snapshot"; readonly snapshot: WorkerSnapshot }
  | { readonly type: "started"; readonly snapshot: WorkerSnapshot }
  | { readonly type: "stopped"; readonly snapshot: WorkerSnapshot; readonly graceful: boolean }
  | { readonly type: "failed"; readonly error: string; readonly snapshot: WorkerSnapshot | null };
