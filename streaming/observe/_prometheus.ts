/**
 * The Prometheus text exposition format (version 0.0.4) of metric snapshots, written without any
 * client library.
 *
 * @module
 */
import type { HistogramSample, MetricFamily, ScalarSample } from "./_metrics.ts";

/**
 * The `Content-Type` of the Prometheus text exposition format.
 *
 * @example
 * ```ts
 * import { PROMETHEUS_CONTENT_TYPE } from "@loom/streaming/engine";
 * PROMETHEUS_CONTENT_TYPE.startsWith("text/plain"); // true
 * ```
 */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const escapeHelp = (s: string): string => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeLabel = (s: string): string =>
  s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

/** A sample value as Prometheus writes it. */
function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts: string[] = [];
  for (let i = 0; i < names.length; i++) parts.push(`${names[i]}="${escapeLabel(values[i] ?? "")}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/**
 * Writes snapshots in the Prometheus text format: `# HELP` and `# TYPE` per family, one line per sample;
 * histograms as cumulative `_bucket{le=…}` lines (ending with `le="+Inf"`), `_sum` and `_count`.
 *
 * @example
 * ```ts
 * import { MetricsRegistry, toPrometheusText } from "@loom/streaming/engine";
 * const r = new MetricsRegistry();
 * r.histogram("batch_size", "Records per batch.", [], [10, 100]).observe(42);
 * toPrometheusText(r.collect()).split("\n").includes('batch_size_bucket{le="100"} 1'); // true
 * ```
 */
export function toPrometheusText(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type !== "histogram") {
      for (const s of f.samples as readonly ScalarSample[]) {
        lines.push(`${f.name}${labelText(f.labelNames, s.labels)} ${num(s.value)}`);
      }
      continue;
    }
    for (const s of f.samples as readonly HistogramSample[]) {
      let cumulative = 0;
      for (let i = 0; i < f.buckets.length; i++) {
        cumulative += s.counts[i] ?? 0;
        lines.push(
          `${f.name}_bucket${labelText(f.labelNames, s.labels, ["le", num(f.buckets[i])])} ${cumulative}`,
        );
      }
      lines.push(`${f.name}_bucket${labelText(f.labelNames, s.labels, ["le", "+Inf"])} ${s.count}`);
      lines.push(`${f.name}_sum${labelText(f.labelNames, s.labels)} ${num(s.sum)}`);
      lines.push(`${f.name}_count${labelText(f.labelNames, s.labels)} ${s.count}`);
    }
  }
  return lines.length ? lines.join("\n") + "\n" : "";
}
