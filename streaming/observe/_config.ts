/**
 * Reading the `observability` section (§3.6 of the original: `log`, `otel`, `prometheus`) and
 * `streaming.runtime.admin` (`{host, port}` of the admin API) from a {@link ConfigContext}.
 *
 * @module
 */
import * as v from "valibot";
import { type ConfigContext, ConfigError } from "../config/mod.ts";

/**
 * The validated `observability` section, with defaults.
 *
 * @example
 * ```ts
 * import { ConfigContext } from "@loom/streaming";
 * import { readObservabilityConfig } from "@loom/streaming/engine";
 * const obs = readObservabilityConfig(ConfigContext.fromObject({ observability: { prometheus: { enabled: true } } }));
 * obs.prometheus.enabled; // true
 * obs.log.level; // "info"
 * ```
 */
export interface ObservabilityConfig {
  /** `log`: the JSON-lines lifecycle logger. */
  readonly log: {
    /** `log.enabled` (default true). */
    readonly enabled: boolean;
    /** `log.config.level` lower-cased (default `info`; `warning`/`warn` → `warning`). */
    readonly level: "debug" | "info" | "warning" | "error";
    /** `log.config` as written (environment, renderer, handlers…), or null. */
    readonly config: Readonly<Record<string, unknown>> | null;
  };
  /**
   * `otel`: when enabled, lifecycle events become OpenTelemetry spans through `@opentelemetry/api` (the
   * registered tracer provider exports them; `config.tracer_name`, `tracer_version` and `span_attributes`
   * are used, the exporter keys belong to the provider). `export_logs` is accepted and not implemented.
   */
  readonly otel: {
    /** `otel.enabled` (default false). */
    readonly enabled: boolean;
    /** `otel.export_logs` (default false). */
    readonly exportLogs: boolean;
    /** `otel.config` as written, or null. */
    readonly config: Readonly<Record<string, unknown>> | null;
  };
  /** `prometheus`: the lifecycle observer and the standalone scrape server. */
  readonly prometheus: {
    /** `prometheus.enabled` (default false): adds the lifecycle histograms to `/metrics`. */
    readonly enabled: boolean;
    /** `prometheus.pushgateway_url` (no scrape server when set; pushing is not implemented). */
    readonly pushgatewayUrl: string | null;
    /** `prometheus.config.path` (default `/metrics`). */
    readonly path: string;
    /** `prometheus.config.port`: standalone scrape server port, or null. */
    readonly port: number | null;
    /** `prometheus.config.bind_address` (default `127.0.0.1`). */
    readonly bindAddress: string;
  };
}

const freeForm = v.nullish(v.record(v.string(), v.unknown()));
const schema = v.strictObject({
  log: v.nullish(v.strictObject({ enabled: v.optional(v.boolean(), true), config: freeForm })),
  otel: v.nullish(v.strictObject({
    enabled: v.optional(v.boolean(), false),
    export_logs: v.optional(v.boolean(), false),
    // the original's OtelConfig keys; the ones read here are checked, the exporter ones are kept as written
    config: v.nullish(v.looseObject({
      tracer_name: v.nullish(v.string()),
      tracer_version: v.nullish(v.string()),
      span_attributes: v.nullish(v.record(v.string(), v.union([v.string(), v.number(), v.boolean()]))),
    })),
  })),
  prometheus: v.nullish(v.strictObject({
    enabled: v.optional(v.boolean(), false),
    pushgateway_url: v.nullish(v.string()),
    config: v.nullish(v.strictObject({
      path: v.optional(v.string(), "/metrics"),
      port: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535))),
      bind_address: v.optional(v.string(), "127.0.0.1"),
    })),
  })),
});

const LEVELS: Record<string, ObservabilityConfig["log"]["level"]> = {
  debug: "debug",
  info: "info",
  warn: "warning",
  warning: "warning",
  error: "error",
  critical: "error",
};

/**
 * Reads `observability` (absent → defaults). Unknown keys are errors, as in the original.
 *
 * @example
 * ```ts
 * import { ConfigContext } from "@loom/streaming";
 * import { readObservabilityConfig } from "@loom/streaming/engine";
 * readObservabilityConfig(ConfigContext.fromObject({})).log.enabled; // true
 * ```
 */
export function readObservabilityConfig(ctx: ConfigContext): ObservabilityConfig {
  const raw = ctx.has("observability") && ctx.get("observability") != null
    ? ctx.section("observability", schema)
    : {} as v.InferOutput<typeof schema>;
  const levelText = String(raw.log?.config?.level ?? "info").toLowerCase();
  const level = LEVELS[levelText];
  if (!level) {
    throw new ConfigError(
      `observability.log.config.level: unknown level '${levelText}' (debug, info, warning, error)`,
      { file: ctx.file },
    );
  }
  if (raw.otel?.export_logs && !(raw.log?.enabled !== false && raw.log?.config && raw.otel?.config)) {
    throw new ConfigError(
      "observability.otel.export_logs requires log.enabled, log.config and otel.config",
      { file: ctx.file },
    );
  }
  const pc = raw.prometheus?.config;
  return {
    log: { enabled: raw.log?.enabled ?? true, level, config: raw.log?.config ?? null },
    otel: {
      enabled: raw.otel?.enabled ?? false,
      exportLogs: raw.otel?.export_logs ?? false,
      config: raw.otel?.config ?? null,
    },
    prometheus: {
      enabled: raw.prometheus?.enabled ?? false,
      pushgatewayUrl: raw.prometheus?.pushgateway_url ?? null,
      path: pc?.path ?? "/metrics",
      port: pc?.port ?? null,
      bindAddress: pc?.bind_address ?? "127.0.0.1",
    },
  };
}

/**
 * `streaming.runtime.admin`: where the admin API listens.
 *
 * @example
 * ```ts
 * import type { AdminSettings } from "@loom/streaming/engine";
 * const admin: AdminSettings = { host: "127.0.0.1", port: 0 }; // 0: an ephemeral port
 * ```
 */
export interface AdminSettings {
  /** Bind address (default `127.0.0.1`). */
  readonly host: string;
  /** Port (0: ephemeral). */
  readonly port: number;
}

const adminSchema = v.strictObject({
  host: v.optional(v.pipe(v.string(), v.nonEmpty()), "127.0.0.1"),
  port: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535)),
});

/**
 * Reads `streaming.runtime.admin` (`{host, port}`); null when absent (the admin API is off).
 *
 * @example
 * ```ts
 * import { ConfigContext } from "@loom/streaming";
 * import { readAdminSettings } from "@loom/streaming/engine";
 * readAdminSettings(ConfigContext.fromObject({ streaming: { runtime: { admin: { port: 9400 } } } }));
 * // { host: "127.0.0.1", port: 9400 }
 * ```
 */
export function readAdminSettings(ctx: ConfigContext): AdminSettings | null {
  if (!ctx.has("streaming.runtime.admin") || ctx.get("streaming.runtime.admin") == null) return null;
  const a = ctx.section("streaming.runtime.admin", adminSchema);
  return { host: a.host, port: a.port };
}
