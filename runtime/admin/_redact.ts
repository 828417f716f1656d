/**
 * Secret redaction for everything the admin API shows: values under secret-looking keys (`password`,
 * `sasl.*`, `ssl.key*`, tokens, secrets, API keys, credentials) become `"***"`, and passwords inside
 * URLs (`scheme://user:password@host`) are masked.
 *
 * @module
 */

/**
 * The replacement of a redacted value.
 *
 * @example
 * ```ts
 * import { REDACTED } from "@loom/streaming/runtime";
 * REDACTED; // "***"
 * ```
 */
export const REDACTED = "***";

/**
 * True when a configuration key names a secret.
 *
 * @example
 * ```ts
 * import { isSecretKey } from "@loom/streaming/runtime";
 * isSecretKey("sasl_password"); // true
 * isSecretKey("ssl.key.location"); // true
 * isSecretKey("brokers"); // false
 * ```
 */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[._\-\s]/g, "");
  return k.startsWith("sasl") || k.startsWith("sslkey") ||
    /password|passwd|secret|token|apikey|credential|privatekey|authorization|bearer/.test(k);
}

const URL_USERINFO = /(\/\/[^/\s:@]*):([^@/\s]+)@/g;

/**
 * A deep copy of `value` with secrets redacted (see the module documentation).
 *
 * @example
 * ```ts
 * import { redactSecrets } from "@loom/streaming/runtime";
 * redactSecrets({ security: { sasl_password: "p" }, url: "postgres://u:p@h/db" });
 * // { security: { sasl_password: "***" }, url: "postgres://u:***@h/db" }
 * ```
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 32) return REDACTED;
  if (typeof value === "string") return value.replace(URL_USERINFO, `$1:${REDACTED}@`);
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  if (value instanceof Map) {
    return Object.fromEntries(
      [...value].map((
        [k, v],
      ) => [String(k), isSecretKey(String(k)) ? REDACTED : redactSecrets(v, depth + 1)]),
    );
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretKey(k) && v !== null && v !== undefined ? REDACTED : redactSecrets(v, depth + 1);
    }
    return out;
  }
  if (typeof value === "function") return `[function ${(value as { name?: string }).name || "anonymous"}]`;
  return value;
}
