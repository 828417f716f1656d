/**
 * Example flow: validate orders, route them by segment, price them in batches, score them with an
 * async client, and write them to `orders.scored`; every failure goes to `orders.errors`.
 *
 * Run it on the embedded in-memory broker:
 *   deno task run examples/orders/flow.ts --config examples/orders/orders.yaml --fixture examples/orders/orders.jsonl
 *
 * @module
 */
import * as v from "valibot";
import {
  BatchStep,
  CollectBatch,
  ContextFactory,
  ErrorRoute,
  ForEach,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  msg,
  Process,
  RecordStep,
  Router,
  RuleViolation,
  StreamFlow,
  WithAsync,
} from "../../mod.ts";

/** Incoming order (same wire name as the Python producer's `shop.models.OrderPlaced`). */
export const OrderPlaced = messageType(
  "shop.models.OrderPlaced",
  v.object({
    order_id: v.string(),
    customer: v.string(),
    amount: v.number(), // a float: encoded as float64 like Python's float
    segment: v.picklist(["vip", "standard"]),
  }),
);
/** Payload of {@link OrderPlaced}. */
export type Order = v.InferOutput<typeof OrderPlaced.schema>;

/** Priced order. */
export const PricedOrder = messageType(
  "shop.models.PricedOrder",
  v.object({
    order_id: v.string(),
    customer: v.string(),
    amount: v.number(),
    lane: v.string(),
    total: v.number(),
  }),
);
/** Payload of {@link PricedOrder}. */
export type Priced = v.InferOutput<typeof PricedOrder.schema>;

/** Scored order written to `orders.scored`. */
export const ScoredOrder = messageType(
  "shop.models.ScoredOrder",
  v.object({
    order_id: v.string(),
    customer: v.string(),
    total: v.number(),
    lane: v.string(),
    risk: v.picklist(["low", "high"]),
  }),
);

/** Rejects non-positive amounts as a business error. */
export const validate: RecordStep<Order, Order> = RecordStep.of((m: Message<Order>) => {
  if (!(m.payload.amount > 0)) throw new RuleViolation("amount", "must be positive");
  return m.payload;
}, { name: "validate" });

const lane = (name: string) =>
  RecordStep.of((m: Message<Order>) => ({ ...m.payload, lane: name, total: 0 }), {
    name: `lane_${name}`,
    output: PricedOrder,
  });

/** Prices a whole batch at once (one "tax service" call per batch). */
export const price: BatchStep<Priced, Priced> = BatchStep.of(
  (batch: readonly Message<Priced>[]) =>
    batch.map((m) => ({
      ...m.payload,
      total: Math.round(m.payload.amount * (m.payload.lane === "vip" ? 1.0 : 1.2) * 100) / 100,
    })),
  { name: "price", output: PricedOrder },
);

/** A pretend remote risk service: async, one instance per worker. */
export class RiskClient {
  calls = 0;
  /** Scores one order. */
  async score(total: number): Promise<"low" | "high"> {
    this.calls++;
    await Promise.resolve();
    return total >= 500 ? "high" : "low";
  }
  /** Closes the client. */
  [Symbol.dispose](): void {}
}

/** Scores each order with the injected client. */
export const score: RecordStep<Priced, v.InferOutput<typeof ScoredOrder.schema>, { risk: RiskClient }> =
  RecordStep.of(
    async (m: Message<Priced>, deps: { risk: RiskClient }) => ({
      order_id: m.payload.order_id,
      customer: m.payload.customer,
      total: m.payload.total,
      lane: m.payload.lane,
      risk: await deps.risk.score(m.payload.total),
    }),
    { name: "score", output: ScoredOrder },
  );

/** The flow. */
export const flow: StreamFlow<Order> = new StreamFlow<Order>({
  name: "orders",
  source: new FromTopic("orders.raw", OrderPlaced),
  process: new Process(
    validate,
    Router.by(msg.payload.field("segment"), { vip: new Process(lane("vip")) }, {
      default: new Process(lane("standard")),
    }),
    new CollectBatch({ maxRecords: 50, timeoutMs: 200 }),
    price,
    new ForEach(),
    new WithAsync({
      maxConcurrency: 8,
      taskTimeoutMs: 2_000,
      deps: { risk: new ContextFactory(() => new RiskClient()) },
      process: new Process(
        score,
        new IntoTopic("orders.scored", { payload: ScoredOrder, dlq: "orders.dlq" }),
      ),
    }),
  ),
  errors: new ErrorRoute(["wire", "routing", "task", "business"], new IntoTopic("orders.errors")),
});

export default flow;
