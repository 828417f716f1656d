/**
 * Secrets in configuration: which keys hold one, and {@link redactConfig}, which masks them in a dump.
 * Config errors use the same rule, so a secret value is never echoed in a message.
 *
 * @module
 */

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What a masked secret value prints as. */
export const REDACTED = "***";

const SECRET_WORDS = /password|passwd|secret|token|credential|private[._-]?key|api[._-]?key/i;
const SASL = /^sasl[._]/i;
const SASL_MECHANISM = /^sasl[._]mechanisms?$/i;
const SSL_KEY = /^ssl[._]key/i;
/** `scheme://user:password@host` in a URL-like string. */
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]*@/gi;

/**
 * Whether a config key holds a secret: any key containing `password`, `secret`, `token`, `credential`,
 * `private_key` or `api_key`; `sasl.*` / `sasl_*` keys (except the mechanism name); `ssl.key*` keys.
 *
 * @example
 * ```ts
 * import { isSecretKey } from "@loom/streaming";
 * isSecretKey("sasl_password"); // true
 * isSecretKey("group_id"); // false
 * ```
 */
export function isSecretKey(key: string | number): boolean {
  if (typeof key !== "string") return false;
  if (SECRET_WORDS.test(key)) return true;
  if (SASL.test(key)) return !SASL_MECHANISM.test(key);
  return SSL_KEY.test(key);
}

/** Whether a key path goes through a secret key. */
export function isSecretPath(segs: readonly (string | number)[]): boolean {
  return segs.some(isSecretKey);
}

/** Masks the password of `scheme://user:password@host` URLs in a string. */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, `$1${REDACTED}@`);
}

const SECRET_PAIR =
  /(["']?)([\w.-]*(?:password|passwd|secret|token|credential)[\w.-]*|sasl[._](?!mechanism)[\w.-]+|ssl[._]key[\w.-]*)\1(\s*[:=]\s*)([^,}\]\n#]*)/gi;

/**
 * Masks `key: value` pairs of secret keys in a fragment of YAML text (e.g. the snippet of a syntax error)
 * and the credentials of URLs.
 */
export function redactYamlText(text: string): string {
  const masked = text.replace(
    SECRET_PAIR,
    (_m, q: string, key: string, sep: string, value: string) =>
      `${q}${key}${q}${sep}${value.trim() === "" ? value : REDACTED}`,
  );
  return redactUrlCredentials(masked);
}

/**
 * A deep copy of a configuration value with every secret masked as `***`: the values of secret keys
 * (see {@link isSecretKey}) and the passwords of `scheme://user:password@host` URLs. Use it before
 * logging or serving a configuration (e.g. an admin endpoint that shows a flow's config).
 *
 * @example
 * ```ts
 * import { redactConfig } from "@loom/streaming";
 * const shown = redactConfig({
 *   kafka: { consumer: { security: { protocol: "SASL_SSL", sasl_password: "hunter2" } } },
 *   database: { wh: { url: "postgresql://app:hunter2@db/wh" } },
 * });
 * // shown.kafka.consumer.security.sasl_password === "***"
 * // shown.database.wh.url === "postgresql://app:***@db/wh"
 * ```
 */
export function redactConfig<T>(value: T): T {
  return redact(value, false, 0) as T;
}

function redact(value: unknown, secret: boolean, depth: number): unknown {
  if (depth > 512) return REDACTED;
  if (Array.isArray(value)) return value.map((item) => redact(item, secret, depth + 1));
  if (isMap(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      Object.defineProperty(out, key, {
        value: redact(value[key], secret || isSecretKey(key), depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  if (secret && value !== null && value !== undefined) return REDACTED;
  return typeof value === "string" ? redactUrlCredentials(value) : value;
}
