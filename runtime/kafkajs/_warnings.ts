/**
 * kafkajs 2.2.4's request queue schedules `setTimeout(check, throttledUntil - Date.now())` with
 * throttledUntil = 0 when it is not throttled; the runtime clamps the delay to 1 ms (which is what kafkajs
 * means) but prints a TimeoutNegativeWarning on every client. {@link installWarningFilter} drops only that
 * warning; the clients install it when the first one is built (importing the adapter patches nothing).
 *
 * @module
 */
import process from "node:process";

type Filtered = { loomFiltered?: boolean };

/** Wraps `process.emitWarning` once so that it drops kafkajs's TimeoutNegativeWarning (idempotent). */
export function installWarningFilter(): void {
  const emit = process.emitWarning;
  if ((emit as Filtered).loomFiltered) return;
  const filtered = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    const name = typeof warning === "string" ? rest[0] : warning?.name;
    if (
      name === "TimeoutNegativeWarning" ||
      (typeof rest[0] === "object" && (rest[0] as { type?: string })?.type === "TimeoutNegativeWarning")
    ) return;
    (emit as (...a: unknown[]) => void).call(process, warning, ...rest);
  };
  (filtered as Filtered).loomFiltered = true;
  process.emitWarning = filtered as typeof process.emitWarning;
}
