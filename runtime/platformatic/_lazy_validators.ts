/**
 * @platformatic/kafka compiles 38 ajv option validators when it is imported (`ajv.compile(schema)` at the
 * top of its options modules: admin, consumer, producer, base). A process uses a handful of them, and the
 * compiled code costs memory in every process and worker that loads the client: importing it took Deno's
 * RSS from 42 to 93 MB and Bun's from 24 to 101 MB, and 22 MB (Deno) / 36 MB (Bun) of that went away with
 * the compilation deferred. {@link deferValidatorCompilation} makes ajv's `compile` return a validator that
 * compiles on its first call (same result, same `errors`), and {@link restoreValidatorCompilation} puts
 * ajv's own `compile` back: `_kafka.ts` calls the first before @platformatic/kafka is evaluated and the
 * second right after, so no other ajv user in the process is affected. Schema errors would surface at the
 * first validation instead of at import; platformatic's schemas are fixed and compile (its own import did
 * that before).
 *
 * @module
 */

import * as core from "ajv/dist/core.js";

/** An ajv validate function as platformatic reads it: called with the data, `errors` read afterwards. */
type Validate = ((data: unknown, ...rest: unknown[]) => unknown) & { errors?: unknown };
type Compile = (this: unknown, schema: unknown, meta?: boolean) => Validate;

/** A validator whose compilation has not happened yet (deferred by this module). */
export interface DeferredValidator {
  (data: unknown, ...rest: unknown[]): unknown;
  /** The errors of the last call (ajv's `validate.errors`). */
  errors?: unknown;
  /** Whether the schema was compiled (on the first call). */
  readonly compiled: boolean;
}

// ajv/dist/core.js is CommonJS with `exports.default = Ajv`: Deno's namespace has it as default.default,
// Bun's (which honours `__esModule`) as default
const ns = core as unknown as { default: unknown };
const AjvCore =
  (typeof ns.default === "function" ? ns.default : (ns.default as { default: unknown }).default) as {
    prototype: { compile: Compile };
  };
const original: Compile = AjvCore.prototype.compile;

function deferred(this: unknown, schema: unknown, meta?: boolean): DeferredValidator {
  const compile = original.bind(this, schema, meta);
  let validate: Validate | undefined;
  const run = function (this: unknown, data: unknown, ...rest: unknown[]): unknown {
    validate ??= compile();
    const valid = validate.call(this, data, ...rest);
    run.errors = validate.errors;
    return valid;
  } as DeferredValidator & { errors?: unknown };
  Object.defineProperty(run, "compiled", { get: () => validate !== undefined });
  return run;
}

/** Makes ajv's `compile` (every instance, until {@link restoreValidatorCompilation}) defer the compilation. */
export function deferValidatorCompilation(): void {
  AjvCore.prototype.compile = deferred as unknown as Compile;
}

/** Puts ajv's own `compile` back. */
export function restoreValidatorCompilation(): void {
  AjvCore.prototype.compile = original;
}

/** True while ajv's own `compile` is in place. */
export const compilationRestored = (): boolean => AjvCore.prototype.compile === original;

deferValidatorCompilation();
