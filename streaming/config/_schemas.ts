/**
 * Valibot schema helpers shared by the section readers, and the Python-only `streaming.runtime` keys
 * that are accepted silently (the validator leaves them out of its hints).
 *
 * @module
 */
import * as v from "valibot";

export function intAtLeast(min: number) {
  return v.pipe(
    v.number(),
    v.integer(),
    v.minValue(min, (issue) => `expected an integer >= ${min}, got ${String(issue.input)}`),
  );
}

export const positiveNumber = v.pipe(
  v.number(),
  v.gtValue(0, (issue) => `expected a number > 0, got ${String(issue.input)}`),
);

export const nonEmptyString = (what: string) => v.pipe(v.string(), v.nonEmpty(`${what} cannot be empty`));

export const optionalString = v.nullish(v.string());

/** Keys of the Python runtime section that are accepted and ignored. */
export const IGNORED_RUNTIME_KEYS: ReadonlySet<string> = new Set(["recovery", "async_backend", "use_uvloop"]);
