/**
 * Example flow with a table sink: each order becomes a row of the PostgreSQL table `orders` (upserted
 * on `order_id`, so a replay after a crash leaves each order once); the table is created when missing.
 *
 * On the embedded in-memory broker (rows still go to the real PostgreSQL of `database.warehouse`):
 *   deno task run examples/orders_table/flow.ts --config examples/orders_table/orders_table.yaml \
 *     --fixture examples/orders/orders.jsonl
 * On Kafka: `LOOM_TRANSPORT=kafka deno task run examples/orders_table/flow.ts --config …` (or `bun cli.ts run …`).
 *
 * @module
 */
import * as v from "valibot";
import {
  FromTopic,
  IntoTable,
  type Message,
  messageType,
  Process,
  RecordStep,
  StreamFlow,
} from "../../mod.ts";
import { type Order, OrderPlaced } from "../orders/flow.ts";

/** A row of the `orders` table. */
export const OrderRow = messageType(
  "shop.models.OrderRow",
  v.object({
    order_id: v.string(),
    customer: v.string(),
    amount: v.number(),
    vip: v.boolean(),
    placed_at: v.date(),
  }),
);
/** Payload of {@link OrderRow}. */
export type Row = v.InferOutput<typeof OrderRow.schema>;

/** The order as a row (placed when its producer stamped it: `produced_at_ms`). */
export const toRow: RecordStep<Order, Row> = RecordStep.of((m: Message<Order>): Row => ({
  order_id: m.payload.order_id,
  customer: m.payload.customer,
  amount: m.payload.amount,
  vip: m.payload.segment === "vip",
  placed_at: new Date(m.meta.producedAtMs ?? 0),
}), { name: "to_row", output: OrderRow });

/** The flow: `orders.raw` → `orders` table. */
export const flow: StreamFlow<Order> = new StreamFlow<Order>({
  name: "orders_table",
  source: new FromTopic<Order>("orders.raw", OrderPlaced),
  process: new Process<Order>(
    toRow,
    new IntoTable({ name: "orders_table", backend: "postgres", payload: OrderRow }),
  ),
});

export default flow;
