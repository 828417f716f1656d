/**
 * Running a flow on the embedded in-memory broker (the default transport of `run`): replays a fixture
 * through the same engine as production and reports outputs, errors and committed offsets.
 *
 * @module
 */
import { compileFlow } from "../streaming/compiler/mod.ts";
import type { ConfigContext } from "../streaming/config/mod.ts";
import type { StreamFlow } from "../streaming/dsl/mod.ts";
import { FlowSimulator } from "../testing/_simulator.ts";
import type { TableWriterFactory } from "./_table_writers.ts";

/**
 * Options of {@link runInMemory}.
 *
 * @example
 * ```ts
 * import type { MemoryRunOptions } from "@loom/streaming/runtime";
 * import { openTableWriters } from "@loom/streaming/sinks";
 * const options: MemoryRunOptions = { openTables: openTableWriters };
 * ```
 */
export interface MemoryRunOptions {
  /**
   * Opens the real table sinks (`openTableWriters` of `@loom/streaming/sinks`; the edge CLI passes it):
   * the replayed rows are written to the configured backends, flushed and closed at the end. Without it
   * table sinks write to in-memory twins (nothing leaves the process).
   */
  readonly openTables?: TableWriterFactory;
}

/**
 * Result of {@link runInMemory}.
 *
 * @example
 * ```ts
 * import { loadConfigFile, loadFlowModule, runInMemory } from "@loom/streaming/runtime";
 * const flow = await loadFlowModule("examples/orders/flow.ts");
 * const config = loadConfigFile("examples/orders/orders.yaml");
 * const report = await runInMemory(flow, config, '{"topic": "orders.raw", "value": {"json": {"order_id": "o-1"}}}');
 * console.log(report.consumed, report.errors, report.committed);
 * ```
 */
export interface MemoryRunReport {
  /** Flow name. */
  readonly flow: string;
  /** Source records consumed. */
  readonly consumed: number;
  /** Messages written to each output topic (source topics excluded), with keys decoded as UTF-8. */
  readonly topics: Readonly<
    Record<
      string,
      readonly { key: string | null; payload: unknown; messageType: string | null; undecodable?: string }[]
    >
  >;
  /** Committed offset per source partition, keyed `"<topic>[<partition>]"` (null: nothing committed). */
  readonly committed: Readonly<Record<string, number | null>>;
  /** Error envelopes produced, by error kind. */
  readonly errors: Readonly<Record<string, number>>;
  /** Messages deliberately discarded. */
  readonly discarded: number;
  /** Records sent to dead-letter topics. */
  readonly deadLettered: number;
  /** Rows written per table sink (to the real backend with `openTables`, else to its in-memory twin). */
  readonly tables: Readonly<Record<string, number>>;
}

const utf8 = new TextDecoder();

function printable(v: unknown): unknown {
  if (v instanceof Uint8Array) return { base64: btoa(String.fromCharCode(...v)) };
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(printable);
  if (v && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = printable(x);
    return o;
  }
  return v;
}

/**
 * Replays fixture records through `flow` on the in-memory broker, ends the input and reports.
 *
 * @example
 * ```ts
 * import { loadConfigFile, loadFlowModule, runInMemory } from "@loom/streaming/runtime";
 * const flow = await loadFlowModule("examples/orders/flow.ts");
 * const report = await runInMemory(flow, loadConfigFile("examples/orders/orders.yaml"), null);
 * report.committed; // committed offsets per source partition
 * ```
 */
export async function runInMemory(
  // deno-lint-ignore no-explicit-any
  flow: StreamFlow<any>,
  config: ConfigContext,
  fixture: string | null,
  source = "<fixture>",
  options: MemoryRunOptions = {},
): Promise<MemoryRunReport> {
  const tables = options.openTables ? await options.openTables(compileFlow(flow, config), {}) : undefined;
  let sim: FlowSimulator;
  try {
    sim = await FlowSimulator.create(flow, { config, startTimeMs: 1_700_000_000_000, tables });
  } catch (e) {
    await Promise.all([...tables?.values() ?? []].map((w) => Promise.resolve(w.close?.()).catch(() => {})));
    throw e;
  }
  if (fixture) sim.loadFixture(fixture, source);
  await sim.end(); // the end of the fixture is the end of the input: every table writer is flushed
  await sim.stop();
  const topics: Record<
    string,
    { key: string | null; payload: unknown; messageType: string | null; undecodable?: string }[]
  > = {};
  for (const t of sim.broker.topics()) {
    if (sim.plan.source.topics.includes(t)) continue;
    topics[t] = sim.output(t).map((m) => ({
      key: m.meta.key === null ? null : typeof m.meta.key === "string" ? m.meta.key : utf8.decode(m.meta.key),
      payload: printable(m.payload),
      messageType: m.meta.messageType,
      ...(m.undecodable === undefined ? {} : { undecodable: m.undecodable }),
    }));
  }
  const committed: Record<string, number | null> = {};
  for (const t of sim.plan.source.topics) {
    for (let p = 0; p < sim.broker.partitions(t); p++) committed[`${t}[${p}]`] = sim.committed(p, t);
  }
  const s = sim.stats;
  return {
    flow: flow.name,
    consumed: s.consumed,
    topics,
    committed,
    errors: { ...s.errors },
    discarded: s.discarded,
    deadLettered: s.deadLettered,
    tables: { ...s.tableRows },
  };
}

/**
 * Renders a {@link MemoryRunReport} for the terminal.
 *
 * @example
 * ```ts
 * import { formatMemoryReport, loadConfigFile, loadFlowModule, runInMemory } from "@loom/streaming/runtime";
 * const flow = await loadFlowModule("examples/orders/flow.ts");
 * console.log(formatMemoryReport(await runInMemory(flow, loadConfigFile("examples/orders/orders.yaml"), null)));
 * ```
 */
export function formatMemoryReport(r: MemoryRunReport): string {
  const lines: string[] = [`flow ${r.flow}: consumed ${r.consumed} record(s) on the in-memory broker`];
  for (const [topic, msgs] of Object.entries(r.topics)) {
    lines.push(`\n${topic} (${msgs.length})`);
    for (const m of msgs) {
      lines.push(
        m.undecodable === undefined
          ? `  key=${m.key ?? "-"} ${m.messageType ?? ""} ${JSON.stringify(m.payload)}`
          : `  key=${m.key ?? "-"} (undecodable: ${m.undecodable})`,
      );
    }
  }
  lines.push(`\nerrors: ${Object.entries(r.errors).map(([k, n]) => `${k}=${n}`).join(" ")}`);
  lines.push(`discarded: ${r.discarded}, dead-lettered: ${r.deadLettered}`);
  const tables = Object.entries(r.tables);
  if (tables.length) lines.push(`table rows: ${tables.map(([t, n]) => `${t}=${n}`).join(" ")}`);
  lines.push(
    `committed offsets: ${Object.entries(r.committed).map(([tp, o]) => `${tp}=${o ?? "-"}`).join(" ")}`,
  );
  return lines.join("\n");
}
