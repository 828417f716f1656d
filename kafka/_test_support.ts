// Test-only payload schemas shared by the codec tests and the Python interop test (not published).
import * as v from "valibot";

const int = () => v.pipe(v.number(), v.integer());

/** Mirrors `msgspec.Struct Item` of the msgspec vectors (Python source in kafka/_envelope_test.ts). */
export const ItemSchema = v.object({ sku: v.string(), qty: int(), price: v.number() });

/** Mirrors `msgspec.Struct Mixed`: one field of every kind the codec supports. */
export const MixedSchema = v.object({
  id: v.string(),
  count: int(),
  ratio: v.number(),
  whole: v.number(),
  flag: v.boolean(),
  data: v.instance(Uint8Array),
  note: v.nullable(v.string()),
  tags: v.array(v.string()),
  items: v.array(ItemSchema),
  attrs: v.record(v.string(), int()),
  pair: v.tuple([int(), v.string()]),
  kind: v.picklist(["a", "b"]),
  big: v.bigint(),
  neg: v.bigint(),
  when: v.date(),
  uni: v.string(),
  empty: v.optional(v.nullable(v.string()), null),
});
