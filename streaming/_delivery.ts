/**
 * Delivery of an emission: one produce per topic and one write per table, in parallel, with the
 * configured retries and backoff; and the acknowledgement that follows — written records release their
 * origins. When the broker refuses records for their content, a topic batch is bisected down to them; a
 * refused error record is written again as a reduced envelope; what has a DLQ is dead-lettered; what is
 * still refused goes to `streaming.runtime.on_unwritable` (helpers in `_unwritable.ts`). Buffered table
 * writers are handed to `_table_delivery.ts`. Delivery that fails for good throws {@link DeliveryFailure}.
 *
 * @module
 */
import { type Emission, reasonOf, type TableBatch, type TopicBatch } from "./engine/mod.ts";
import type { CompiledPlan, CompiledTopicSink } from "./_plan.ts";
import type { OffsetTracker, Origin } from "./_tracker.ts";
import type { OutgoingRecord, TopicPartitionOffset } from "./_transport.ts";
import { isRecordSpecificFailure } from "./_transport.ts";
import type { Wire } from "./_wire.ts";
import { HEADERS } from "./_wire_headers.ts";
import { isBufferedSinkWriter, type TableDelivery } from "./_table_delivery.ts";
import { coordinates, cutReason, deadLetterRecord, type Unwritable, UNWRITABLE_HINT } from "./_unwritable.ts";
import type { ErrorKind } from "./_message.ts";
import type { Logger } from "./_logger.ts";
import type { DriverStats } from "./_stats.ts";
import type { DriverOptions } from "./_driver_options.ts";

/**
 * Delivery failed for good (after retries, with no dead-letter topic to fall back to).
 *
 * @example
 * ```ts
 * import { DeliveryFailure } from "@loom/streaming/engine";
 * const e = new DeliveryFailure("orders.out", new Error("broker unavailable"));
 * e.message; // "delivery to orders.out failed: broker unavailable"
 * ```
 */
export class DeliveryFailure extends Error {
  /**
   * Creates a {@link DeliveryFailure}.
   *
   * @param target topic or table
   * @param cause underlying error
   */
  constructor(
    readonly target: string,
    override readonly cause: unknown,
    /** The source record whose output could not be written, when known. */
    readonly record: TopicPartitionOffset | null = null,
    hint?: string,
  ) {
    super(
      `delivery to ${target} failed: ${reasonOf(cause)}` +
        (record === null
          ? ""
          : ` (the output of the record ${record.topic}[${record.partition}]@${record.offset}`) +
        (record === null ? "" : hint === undefined ? ")" : `; ${hint})`),
    );
    this.name = "DeliveryFailure";
  }
}

const utf8 = new TextEncoder();

/**
 * Delivers the emissions of one `FlowDriver`: it shares the driver's plan, options, counters,
 * tracker, logger, wire and buffered-table bookkeeping (internal; the driver's `deliver` calls it).
 */
export class EmissionDelivery {
  /** The compiled plan. */
  readonly plan: CompiledPlan;
  /** Completion tracker the delivered outputs release their origins to. */
  readonly tracker: OffsetTracker;
  /** Counters of the driver (the same object). */
  readonly stats: DriverStats;
  readonly #o: DriverOptions;
  readonly #log: Logger;
  readonly #buffered: TableDelivery;
  readonly #wire: Wire;

  /**
   * Creates an {@link EmissionDelivery}.
   *
   * @param plan compiled plan
   * @param options the driver's options (producer, table writers, clock, retries, observer)
   * @param parts the driver's tracker, counters, logger, wire and buffered-table bookkeeping
   */
  constructor(
    plan: CompiledPlan,
    options: DriverOptions,
    parts: {
      readonly tracker: OffsetTracker;
      readonly stats: DriverStats;
      readonly log: Logger;
      readonly wire: Wire;
      readonly buffered: TableDelivery;
    },
  ) {
    this.plan = plan;
    this.#o = options;
    this.tracker = parts.tracker;
    this.stats = parts.stats;
    this.#log = parts.log;
    this.#wire = parts.wire;
    this.#buffered = parts.buffered;
  }

  /** Delivers an emission: one send per topic and one write per table, in parallel; then settles fates. */
  async deliver(em: Emission): Promise<void> {
    const s = this.stats;
    for (const k of Object.keys(em.errorCounts) as ErrorKind[]) s.errors[k] += em.errorCounts[k];
    s.discarded += em.discarded;
    s.unrouted += em.unrouted.length;
    for (const u of em.unrouted) {
      this.#log.error("unrouted_error", {
        kind: u.kind,
        reason: u.reason,
        message_id: u.messageId,
        path: u.path,
      });
      this.#o.onUnrouted?.(u);
    }
    if (em.empty) return;
    em.orderByInput();
    const work: Promise<void>[] = [];
    const unwritable: Unwritable[] = [];
    for (const tb of em.topics.values()) work.push(this.sendTopic(tb, unwritable));
    for (const t of em.tables.values()) work.push(this.writeTable(t));
    if (work.length) await Promise.all(work);
    if (unwritable.length) await this.#lastResort(unwritable);
    for (const o of em.releases) this.tracker.release(o);
  }

  /**
   * `streaming.runtime.on_unwritable`: the fate of source records one of whose outputs the broker refused
   * for its content on every path. `fail` stops the flow naming the record; `dead_letter` writes each
   * record as it was fetched (key, value, headers) to `dead_letter_topic` with the reason in `x-dlq-error`
   * and its coordinates in `x-dlq-source-*`, and settles it once that write is acknowledged;
   * `log_and_skip` logs, counts and settles it. A record is dead-lettered or skipped once, however many
   * of its outputs failed.
   */
  async #lastResort(list: readonly Unwritable[]): Promise<void> {
    const rt = this.plan.runtime;
    const policy = rt.onUnwritable ?? "fail";
    // in input order (the error topics and outputs were sent concurrently)
    const sorted = list.length > 1 ? [...list].sort((a, b) => a.origin.offset - b.origin.offset) : list;
    if (policy === "fail") {
      const u = sorted[0];
      throw new DeliveryFailure(u.target, u.error, coordinates(u.origin), UNWRITABLE_HINT);
    }
    const fresh: Unwritable[] = [];
    const seen = new Set<Origin>();
    for (const u of sorted) {
      if (u.origin.lastResort === null && !seen.has(u.origin)) fresh.push(u);
      seen.add(u.origin);
    }
    if (policy === "dead_letter") {
      const dlt = rt.deadLetterTopic!;
      const recs: OutgoingRecord[] = fresh.map((u) => {
        const r = u.origin.record;
        if (r === null) {
          throw new DeliveryFailure(u.target, u.error, coordinates(u.origin), "its source record is unknown");
        }
        return deadLetterRecord(r, `delivery to ${u.target} failed: ${reasonOf(u.error)}`);
      });
      if (recs.length) {
        const err = await this.attempt(dlt, () => this.#o.producer.send(dlt, recs), recs, fresh[0].origin);
        if (err !== null) {
          const u = fresh[0];
          throw new DeliveryFailure(
            `${u.target} (and the dead-letter topic ${dlt} of on_unwritable)`,
            err,
            coordinates(u.origin),
          );
        }
      }
      this.stats.deadLettered += recs.length;
      this.stats.produced[dlt] = (this.stats.produced[dlt] ?? 0) + recs.length;
      for (const u of fresh) {
        u.origin.lastResort = "dead_letter";
        this.#log.warn("unwritable_dead_lettered", {
          ...coordinates(u.origin),
          target: u.target,
          dead_letter_topic: dlt,
          reason: cutReason(reasonOf(u.error)),
        });
      }
    } else {
      this.stats.skipped += fresh.length;
      for (const u of fresh) {
        u.origin.lastResort = "log_and_skip";
        this.#log.error("unwritable_skipped", {
          ...coordinates(u.origin),
          target: u.target,
          reason: cutReason(reasonOf(u.error)),
        });
      }
    }
    for (const u of list) this.tracker.release(u.origin);
  }

  /** Runs `fn` with the configured retries and backoff; resolves to the last error, or null on success. */
  private async attempt(
    target: string,
    fn: () => Promise<void>,
    records: readonly { readonly headers?: Readonly<Record<string, Uint8Array>> }[] = [],
    origin: Origin | undefined = undefined,
  ): Promise<unknown | null> {
    const obs = this.#o.observer?.delivered;
    if (obs === undefined) return this.#attempt(target, fn);
    const t0 = performance.now();
    const err = await this.#attempt(target, fn);
    obs(
      target,
      records.length,
      performance.now() - t0,
      err,
      records[0]?.headers ?? null,
      origin?.partition ?? null,
    );
    return err;
  }

  async #attempt(target: string, fn: () => Promise<void>): Promise<unknown | null> {
    const retries = this.#o.deliveryRetries ?? this.plan.runtime.deliveryRetries;
    const backoff = this.#o.retryBackoffMs ?? this.plan.runtime.retryBackoffMs;
    let last: unknown = null;
    for (let k = 0; k <= retries; k++) {
      try {
        await fn();
        return null;
      } catch (e) {
        last = e;
        // The broker refused the records themselves: sending them again cannot succeed.
        if (isRecordSpecificFailure(e)) break;
        if (k < retries) {
          this.stats.retries++;
          this.#log.warn("delivery_retry", { target, attempt: k + 1, reason: reasonOf(e) });
          if (backoff > 0) await this.#o.clock.sleep(backoff * 2 ** k);
        }
      }
    }
    return last ?? new Error("delivery failed");
  }

  /**
   * Produces one topic batch. When the broker refuses records for their content, the batch is bisected
   * down to them; a refused error record is written again as a reduced envelope; what has a DLQ is
   * dead-lettered; a record still refused for its content is added to `unwritable` (its source record
   * goes to `on_unwritable`); any other failure throws {@link DeliveryFailure}.
   */
  private async sendTopic(tb: TopicBatch, unwritable: Unwritable[]): Promise<void> {
    const producer = this.#o.producer;
    const err = await this.attempt(
      tb.topic,
      () => producer.send(tb.topic, tb.records),
      tb.records,
      tb.origins[0],
    );
    if (err === null) {
      this.stats.produced[tb.topic] = (this.stats.produced[tb.topic] ?? 0) + tb.records.length;
      for (const o of tb.origins) this.tracker.release(o);
      return;
    }
    // Which records failed, and why. When the broker refused the records' content (e.g. one record over
    // the topic's max.message.bytes), the batch is split in halves until the refused records are isolated,
    // so only they are dead-lettered (the original dead-lettered the whole batch).
    const failed = new Map<number, unknown>();
    const all = tb.records.map((_, i) => i);
    if (isRecordSpecificFailure(err) && all.length > 1) await this.#isolate(tb, all, failed);
    else for (const i of all) failed.set(i, err);
    const written = tb.records.length - failed.size;
    if (written > 0) {
      this.stats.produced[tb.topic] = (this.stats.produced[tb.topic] ?? 0) + written;
      for (let i = 0; i < tb.origins.length; i++) if (!failed.has(i)) this.tracker.release(tb.origins[i]);
    }
    // An error record refused for its content gets a second chance as a reduced envelope.
    for (const [i, e] of failed) {
      const src = tb.errors[i];
      if (src === null || !isRecordSpecificFailure(e)) continue;
      let reduced: OutgoingRecord;
      try {
        reduced = this.#wire.encodeReducedError(src, reasonOf(e), this.#sinkOf(tb.topic));
      } catch (encodeError) {
        failed.set(i, encodeError);
        continue;
      }
      const again = await this.attempt(
        tb.topic,
        () => producer.send(tb.topic, [reduced]),
        [reduced],
        tb.origins[i],
      );
      if (again !== null) {
        failed.set(i, again);
        continue;
      }
      failed.delete(i);
      this.#log.warn("error_record_reduced", { topic: tb.topic, reason: cutReason(reasonOf(e)) });
      this.stats.reducedErrors++;
      this.stats.produced[tb.topic] = (this.stats.produced[tb.topic] ?? 0) + 1;
      this.tracker.release(tb.origins[i]);
    }
    // Dead-letter what has a DLQ; what the broker refused for its content goes to on_unwritable; anything
    // else fails the delivery (nothing of it is committed).
    const byDlq = new Map<string, number[]>();
    for (const [i, e] of failed) {
      const d = tb.dlqs[i];
      if (d !== null) {
        let l = byDlq.get(d);
        if (!l) byDlq.set(d, l = []);
        l.push(i);
      } else if (isRecordSpecificFailure(e)) {
        unwritable.push({ origin: tb.origins[i], target: tb.topic, error: e });
      } else throw new DeliveryFailure(tb.topic, e, coordinates(tb.origins[i]));
    }
    for (const [dlq, idx] of byDlq) {
      const recs: OutgoingRecord[] = idx.map((i) => {
        const r = tb.records[i];
        // The key is kept (the original dropped it for plain messages).
        const reason = utf8.encode(reasonOf(failed.get(i)));
        return { ...r, partition: undefined, headers: { ...r.headers, [HEADERS.dlqError]: reason } };
      });
      let dlqErr = await this.attempt(dlq, () => producer.send(dlq, recs), recs, tb.origins[idx[0]]);
      let done = idx;
      if (dlqErr !== null && isRecordSpecificFailure(dlqErr)) {
        // The DLQ refused a record too: write them one by one, the refused ones go to on_unwritable.
        done = [];
        dlqErr = null;
        for (let k = 0; k < idx.length && dlqErr === null; k++) {
          const e = await this.attempt(
            dlq,
            () => producer.send(dlq, [recs[k]]),
            [recs[k]],
            tb.origins[idx[k]],
          );
          if (e === null) done.push(idx[k]);
          else if (isRecordSpecificFailure(e)) {
            const target = `${tb.topic} (and its dead-letter topic ${dlq})`;
            unwritable.push({ origin: tb.origins[idx[k]], target, error: e });
          } else dlqErr = e;
        }
      }
      if (dlqErr !== null) {
        throw new DeliveryFailure(
          `${tb.topic} (and its dead-letter topic ${dlq})`,
          dlqErr,
          coordinates(tb.origins[idx[0]]),
        );
      }
      if (done.length === 0) continue;
      this.#log.warn("dead_lettered", {
        topic: tb.topic,
        dlq,
        records: done.length,
        reason: reasonOf(failed.get(done[0])),
      });
      this.stats.deadLettered += done.length;
      this.stats.produced[dlq] = (this.stats.produced[dlq] ?? 0) + done.length;
      for (const i of done) this.tracker.release(tb.origins[i]);
    }
  }

  /** The error-route sink writing to `topic` (for re-encoding a refused error record). */
  #sinkOf(topic: string): CompiledTopicSink {
    for (const sink of this.plan.errorRoutes.values()) if (sink.topic === topic) return sink;
    throw new Error(`no error route writes to ${topic}`);
  }

  /** Bisects `idx` (records the broker refused as a group) until each refused record is alone. */
  async #isolate(tb: TopicBatch, idx: readonly number[], failed: Map<number, unknown>): Promise<void> {
    const mid = idx.length >> 1;
    for (const part of [idx.slice(0, mid), idx.slice(mid)]) {
      try {
        await this.#o.producer.send(tb.topic, part.map((i) => tb.records[i]));
      } catch (e) {
        if (part.length > 1 && isRecordSpecificFailure(e)) await this.#isolate(tb, part, failed);
        else for (const i of part) failed.set(i, e);
      }
    }
  }

  /**
   * Writes one table batch through its sink writer (with retries), else throws. A buffered writer
   * (`BufferedSinkWriter`) is not waited for: its rows settle when the flush holding them resolves.
   */
  private async writeTable(t: TableBatch): Promise<void> {
    const w = this.#o.tables?.get(t.path);
    if (!w) {
      throw new DeliveryFailure(`table sink '${t.name}'`, new Error("no writer configured for this sink"));
    }
    if (isBufferedSinkWriter(w)) return this.#buffered.enqueue(t, w);
    const err = await this.attempt(
      `table:${t.name}`,
      async () => {
        await w.write(t.rows);
      },
      t.rows as readonly object[],
      t.origins[0],
    );
    if (err !== null) throw new DeliveryFailure(`table sink '${t.name}'`, err);
    this.stats.tableRows[t.name] = (this.stats.tableRows[t.name] ?? 0) + t.rows.length;
    for (const o of t.origins) this.tracker.release(o);
  }
}
