// Port of the original's `test_routing.py` expression checks (reference §1.8.3, §7.7), plus the
// TypeScript-specific API (method comparisons, `field()`, typed `fieldsOf<T>()`, bigint, quirk 8 fixed).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  and,
  compilePredicate,
  compileSelector,
  describeCondition,
  fieldsOf,
  isExpr,
  isPathRef,
  msg,
  not,
  or,
  PathError,
  payload,
  type Predicate,
  type Selector,
} from "./mod.ts";
import { type Message, message } from "../_message.ts";

type Order = {
  order_id: string;
  country: string;
  amount: number;
  flag?: boolean;
  items: { sku: string; qty: number }[];
  nested: { deep: { value: number | null } };
};

const utf8 = new TextEncoder();

function order(overrides: Partial<Order> = {}, headers: Record<string, Uint8Array> = {}): Message<Order> {
  return message<Order>(
    {
      order_id: "o-1",
      country: "ES",
      amount: 1500,
      items: [{ sku: "a", qty: 1 }, { sku: "b", qty: 2 }],
      nested: { deep: { value: 7 } },
      ...overrides,
    },
    {
      messageId: "orders:0:7",
      messageType: "smoke.models.OrderPlaced",
      messageVersion: 2,
      traceId: "t-1",
      topic: "orders",
      partition: 0,
      offset: 7,
      key: "o-1",
      headers: { risk: utf8.encode("high"), ...headers },
    },
  );
}

const o = fieldsOf<Order>();
const pred = (p: Parameters<typeof compilePredicate>[0], m: Message<unknown> = order()): boolean =>
  compilePredicate(p)(m);
const select = (s: Parameters<typeof compileSelector>[0], m: Message<unknown> = order()): unknown =>
  compileSelector(s)(m);

describe("selectors", () => {
  test("msg.payload.field('country') and the typed fieldsOf<T>() path select the payload value", () => {
    assert.equal(select(msg.payload.field("country")), "ES");
    assert.equal(select(o.payload.country), "ES");
    assert.equal(select(payload.field("country")), "ES");
    assert.equal(select(o.payload.amount), 1500);
  });

  test("msg.meta.messageType and the snake_case msg.meta.field('message_type') select the meta value", () => {
    assert.equal(select(msg.meta.messageType), "smoke.models.OrderPlaced");
    assert.equal(select(msg.meta.field("message_type")), "smoke.models.OrderPlaced");
    assert.equal(select(msg.meta.field("message_version")), 2);
    assert.equal(select(msg.meta.field("trace_id")), "t-1");
    assert.equal(select(msg.meta.field("message_id")), "orders:0:7");
    assert.equal(select(msg.meta.partition), 0);
    assert.equal(select(msg.meta.key), "o-1");
  });

  test("array indexes and nested objects resolve (property access and field(n))", () => {
    assert.equal(select(o.payload.items[1].sku), "b");
    assert.equal(select(msg.payload.field("items").field(0).field("qty")), 1);
    assert.equal(select(o.payload.nested.deep.value), 7);
  });

  test("a child named like a method is reachable through field()", () => {
    const m = message({ eq: "x", in: 3, text: "t" }, { messageId: "m" });
    assert.equal(select(msg.payload.field("eq"), m), "x");
    assert.equal(select(msg.payload.field("in"), m), 3);
    assert.equal(select(msg.payload.field("text"), m), "t");
  });

  test("Map payloads are looked up by key", () => {
    const m = message(new Map<string, unknown>([["country", "FR"]]), { messageId: "m" });
    assert.equal(select(msg.payload.field("country"), m), "FR");
    assert.throws(() => select(msg.payload.field("missing"), m), PathError);
  });

  test("a custom Selector object and a plain function are accepted", () => {
    const bySegment: Selector<Order> = { select: (m) => `${m.payload.country}-${m.payload.amount}` };
    assert.equal(select(bySegment as Selector<unknown>), "ES-1500");
    assert.equal(select((m: Message<unknown>) => (m.payload as Order).order_id), "o-1");
  });

  test("compileSelector rejects anything else with an actionable TypeError", () => {
    assert.throws(
      () => compileSelector(42 as never),
      (e: unknown) => e instanceof TypeError && /select\(message\)/.test(e.message),
    );
    assert.throws(() => compileSelector({} as never), TypeError);
  });
});

describe("predicates", () => {
  test("country == ES and amount >= 1000 and 1000 <= amount <= 2000 and headers.risk == b'high' is true", () => {
    const risk = utf8.encode("high");
    const p = and(
      o.payload.country.eq("ES"),
      o.payload.amount.ge(1000),
      o.payload.amount.between(1000, 2000),
      msg.meta.headers.field("risk").eq(risk),
    );
    assert.equal(pred(p), true);
    assert.equal(pred(p, order({ amount: 2001 })), false);
    assert.equal(pred(p, order({ country: "FR" })), false);
    assert.equal(pred(p, order({}, { risk: utf8.encode("low") })), false);
  });

  test("bytes headers compare by content, and to a string by its UTF-8 text", () => {
    const risk = msg.meta.headers.field("risk");
    assert.equal(pred(risk.eq(new Uint8Array([104, 105, 103, 104]))), true);
    assert.equal(pred(risk.eq(utf8.encode("hig"))), false);
    assert.equal(pred(risk.eq("high")), true);
    assert.equal(pred(risk.eq("HIGH")), false);
    assert.equal(pred(risk.ne("low")), true);
    assert.equal(pred(risk.ne(utf8.encode("high"))), false);
    assert.equal(pred(risk.in(["low", "high"])), true);
    assert.equal(pred(risk.in([utf8.encode("high")])), true);
    assert.equal(pred(risk.in(["low"])), false);
  });

  test("country in {ES, FR} and not(amount > 100)", () => {
    const p = and(o.payload.country.in(new Set(["ES", "FR"])), not(o.payload.amount.gt(100)));
    assert.equal(pred(p, order({ amount: 50 })), true);
    assert.equal(pred(p, order({ country: "FR", amount: 100 })), true);
    assert.equal(pred(p, order({ amount: 101 })), false);
    assert.equal(pred(p, order({ country: "DE", amount: 50 })), false);
  });

  test("custom Predicate objects and functions are honoured (true and false)", () => {
    const yes: Predicate<unknown> = { matches: () => true };
    const no: Predicate<unknown> = { matches: () => false };
    const big: Predicate<Order> = { matches: (m) => m.payload.amount > 1000 };
    assert.equal(pred(yes), true);
    assert.equal(pred(no), false);
    assert.equal(pred(big as Predicate<unknown>), true);
    assert.equal(pred(big as Predicate<unknown>, order({ amount: 3 })), false);
    assert.equal(pred(() => true), true);
    // a truthy non-boolean result is normalised to a boolean
    assert.equal(compilePredicate({ matches: () => 1 as unknown as boolean })(order()), true);
    assert.equal(compilePredicate((() => "") as unknown as () => boolean)(order()), false);
  });

  test("or / not / method chaining", () => {
    const es = o.payload.country.eq("ES"), small = o.payload.amount.lt(10);
    assert.equal(pred(or(small, es)), true);
    assert.equal(pred(or(small, not(es))), false);
    assert.equal(pred(es.and(small)), false);
    assert.equal(pred(es.or(small)), true);
    assert.equal(pred(es.not()), false);
    assert.equal(pred(small.not().and(es)), true);
    assert.equal(pred(and()), true, "an empty AND is true");
    assert.equal(pred(or()), false, "an empty OR is false");
  });

  test("all comparison operators on numbers and strings", () => {
    const a = o.payload.amount;
    assert.deepEqual(
      [a.eq(1500), a.ne(1500), a.gt(1500), a.ge(1500), a.lt(1500), a.le(1500)].map((e) => pred(e)),
      [true, false, false, true, false, true],
    );
    assert.deepEqual(
      [a.gt(1499.5), a.lt(1500.5), a.between(1500, 1500), a.between(1501, 2000)].map((e) => pred(e)),
      [true, true, true, false],
    );
    const c = o.payload.country;
    assert.deepEqual([c.lt("FR"), c.gt("DE"), c.between("A", "Z"), c.ge("ES")].map((e) => pred(e)), [
      true,
      true,
      true,
      true,
    ]);
  });

  test("ordering values of different types is a TypeError naming the path", () => {
    assert.throws(
      () => pred(o.payload.country.gt(3 as never)),
      (e: unknown) => e instanceof TypeError && e.message.includes("msg.payload.country"),
    );
  });

  test("a missing path raises PathError naming the path and the segment", () => {
    const m = order();
    assert.throws(() => pred(msg.payload.field("segment").eq("vip"), m), (e: unknown) => {
      assert.ok(e instanceof PathError);
      assert.equal(e.path, "msg.payload.segment");
      assert.equal(e.segment, "segment");
      assert.match(e.message, /segment/);
      return true;
    });
    assert.throws(() => select(msg.payload.field("nested").field("nope").field("x"), m), (e: unknown) => {
      assert.ok(e instanceof PathError);
      assert.equal(e.segment, "nope");
      return true;
    });
    // through a null value
    assert.throws(
      () => select(o.payload.nested.deep.value.field("x"), order({ nested: { deep: { value: null } } })),
      PathError,
    );
    // an index past the end of an array
    assert.throws(() => select(o.payload.items[5].sku, m), PathError);
    // a header that is not there
    assert.throws(() => pred(msg.meta.headers.field("tenant").eq("acme"), m), PathError);
    // through a primitive
    assert.throws(() => select(o.payload.country.field("length"), m), PathError);
  });

  test("a present key whose value is undefined or null resolves (no PathError)", () => {
    const m = message({ a: null, b: undefined }, { messageId: "m" });
    assert.equal(select(msg.payload.field("a"), m), null);
    assert.equal(select(msg.payload.field("b"), m), undefined);
    assert.equal(pred(msg.payload.field("a").eq(null), m), true);
  });

  test("bigint values compare with bigint and number literals", () => {
    const m = message({ n: 5n, big: 2n ** 62n }, { messageId: "m" });
    const n = msg.payload.field("n"), big = msg.payload.field("big");
    assert.deepEqual([n.eq(5n), n.eq(5), n.ne(6), n.eq(5.5)].map((e) => pred(e, m)), [
      true,
      true,
      true,
      false,
    ]);
    assert.deepEqual([n.gt(4), n.gt(4n), n.ge(5), n.lt(5.5), n.gt(4.5), n.le(4.9)].map((e) => pred(e, m)), [
      true,
      true,
      true,
      true,
      true,
      false,
    ]);
    assert.equal(pred(n.between(1, 10n), m), true);
    assert.equal(pred(big.gt(2n ** 62n - 1n), m), true);
    assert.equal(pred(big.lt(2n ** 62n + 1n), m), true);
    assert.equal(pred(big.eq(2n ** 62n), m), true);
    const num = message({ n: 7 }, { messageId: "m" });
    assert.equal(pred(msg.payload.field("n").lt(8n), num), true);
    assert.equal(pred(msg.payload.field("n").eq(7n), num), true);
  });

  test("bigint vs number ordering is exact above 2^53", () => {
    // Regression test (bug found by it, fixed in d2bf024). Old behaviour:
    // the mixed bigint/number branch of `order()` truncates the bigint through Number(), so
    // 2^53 + 1 (bigint) compared with 2^53 (an exact number) is reported as equal: gt() returns false
    // and le() returns true. JavaScript's own `9007199254740993n > 9007199254740992` is true.
    const m = message({ id: 2n ** 53n + 1n }, { messageId: "m" });
    const id = msg.payload.field("id");
    assert.equal(pred(id.gt(2 ** 53), m), true);
    assert.equal(pred(id.le(2 ** 53), m), false);
  });

  test("bigint membership agrees with eq() (5n in [5])", () => {
    // Regression test (bug found by it, fixed in d2bf024). Old behaviour:
    // eq() treats 5n and 5 as equal but in() only does a Set lookup for primitives, so
    // `payload.n.in([5])` is false for n = 5n (and `payload.n.in([5n])` is false for n = 5).
    const big = message({ n: 5n }, { messageId: "m" });
    const small = message({ n: 5 }, { messageId: "m" });
    const n = msg.payload.field("n");
    assert.equal(pred(n.eq(5), big), true);
    assert.equal(pred(n.in([5, 6]), big), true);
    assert.equal(pred(n.in([5n]), small), true);
  });

  test("a bare path used as a predicate is its truthiness (quirk 8 fixed)", () => {
    const flag = msg.payload.field("flag");
    assert.equal(pred(flag, order({ flag: true })), true);
    assert.equal(pred(flag, order({ flag: false })), false);
    assert.equal(pred(o.payload.amount, order({ amount: 0 })), false);
    assert.equal(pred(o.payload.amount, order({ amount: 3 })), true);
    assert.equal(pred(o.payload.country, order({ country: "" })), false);
    assert.equal(pred(flag.truthy(), order({ flag: true })), true);
    assert.equal(pred(not(flag.truthy()), order({ flag: true })), false);
    // a missing path is still an error, not "falsy"
    assert.throws(() => pred(flag, order()), PathError);
  });

  test("compilePredicate rejects anything else with an actionable TypeError", () => {
    assert.throws(
      () => compilePredicate("amount > 3" as never),
      (e: unknown) => e instanceof TypeError && /matches\(message\)/.test(e.message),
    );
    assert.throws(() => compilePredicate(null as never), TypeError);
  });

  test("expressions are reusable: compile once, evaluate many messages", () => {
    const f = compilePredicate(o.payload.amount.ge(1000));
    const results = [10, 1000, 999, 5000].map((amount) => f(order({ amount })));
    assert.deepEqual(results, [false, true, false, true]);
  });
});

describe(".text rendering", () => {
  test("paths and comparisons render like the original's expressions", () => {
    assert.equal(msg.payload.field("country").text, "msg.payload.country");
    assert.equal(o.payload.items[0].sku.text, "msg.payload.items.0.sku");
    assert.equal(payload.field("amount").text, "payload.amount");
    assert.equal(msg.meta.headers.field("risk").text, "msg.meta.headers.risk");
    assert.equal(o.payload.country.eq("ES").text, 'msg.payload.country == "ES"');
    assert.equal(o.payload.amount.ge(1000).text, "msg.payload.amount >= 1000");
    assert.equal(o.payload.amount.ne(3).text, "msg.payload.amount != 3");
    assert.equal(o.payload.amount.gt(3).text, "msg.payload.amount > 3");
    assert.equal(o.payload.amount.lt(3).text, "msg.payload.amount < 3");
    assert.equal(o.payload.amount.le(3).text, "msg.payload.amount <= 3");
    assert.equal(o.payload.amount.between(1000, 2000).text, "1000 <= msg.payload.amount <= 2000");
    assert.equal(o.payload.country.in(new Set(["ES", "FR"])).text, 'msg.payload.country in ["ES", "FR"]');
    assert.equal(
      msg.meta.headers.field("risk").eq(utf8.encode("high")).text,
      'msg.meta.headers.risk == b"high"',
    );
    assert.equal(msg.payload.field("n").eq(5n).text, "msg.payload.n == 5n");
    assert.equal(msg.payload.field("flag").truthy().text, "msg.payload.flag");
  });

  test("and / or / not render with parentheses and words", () => {
    const a = o.payload.country.eq("ES"), b = o.payload.amount.gt(100);
    assert.equal(and(a, b).text, '(msg.payload.country == "ES" and msg.payload.amount > 100)');
    assert.equal(or(a, b).text, '(msg.payload.country == "ES" or msg.payload.amount > 100)');
    assert.equal(not(b).text, "not msg.payload.amount > 100");
    assert.equal(a.and(b.not()).text, '(msg.payload.country == "ES" and not msg.payload.amount > 100)');
  });

  test("describeCondition names expressions, paths, functions and objects", () => {
    assert.equal(describeCondition(o.payload.amount.gt(1)), "msg.payload.amount > 1");
    assert.equal(describeCondition(o.payload.amount), "msg.payload.amount");
    function isBig(): boolean {
      return true;
    }
    assert.equal(describeCondition(isBig), "isBig()");
    class RiskPredicate {
      matches(): boolean {
        return true;
      }
    }
    assert.equal(describeCondition(new RiskPredicate()), "RiskPredicate");
  });
});

describe("expression guards", () => {
  test("isExpr / isPathRef tell expressions, paths and other values apart", () => {
    assert.equal(isExpr(o.payload.amount.gt(1)), true);
    assert.equal(isExpr(o.payload.amount), false);
    assert.equal(isPathRef(o.payload.amount), true);
    assert.equal(isPathRef(msg), true);
    assert.equal(isPathRef(o.payload.amount.gt(1)), false);
    assert.equal(isExpr({ text: "x", compile: () => () => true }), false);
    assert.equal(isPathRef(null), false);
    assert.equal(isExpr(undefined), false);
  });

  test("a path reference is not a thenable (awaiting it does not hang)", async () => {
    const p = o.payload.amount;
    assert.equal((p as unknown as { then?: unknown }).then, undefined);
    assert.equal(await Promise.resolve(p), p);
  });
});
