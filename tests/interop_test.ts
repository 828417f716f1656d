// Interoperability with the Python original's wire rules (reference §4.1, §4.2, §4.7): msgspec is the reference.
// tests/interop/envelope.py defines the original's envelope, error payloads and a few payload types as msgspec
// Structs. For every case:
//   (a) our encoder writes exactly msgspec's bytes, and both still match tests/interop/golden/<case>.hex;
//   (b) msgspec decodes our bytes strictly (typed decode) to the expected values;
//   (c) our decoder reads msgspec's bytes to the expected header and payload.
// Plus: the vectors hard-coded in kafka/_envelope_test.ts are msgspec's. The cases and the Python bridge live in
// tests/_interop_support.ts; malformed and lenient inputs and error payloads in tests/interop_decode_rules_test.ts.
//
// Python comes from scripts/python-env.sh (a venv at .cache/pyenv with a pinned msgspec, created on first use).
// Regenerate the golden files (only after a deliberate change): .cache/pyenv/bin/python tests/interop/envelope.py
// write-golden
// Run: deno test -A tests/interop_test.ts   |   bun test tests/interop_test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { decodeEnvelope } from "../kafka/_envelope.ts";
import {
  canon,
  CASE,
  CASES,
  decodedHeader,
  ENVELOPE_TEST,
  envelopeWire,
  GOLDEN_DIR,
  goldenHex,
  hex,
  pyDecode,
  pyEncode,
  pyOk,
  tsEncode,
  tsWrites,
  unhex,
} from "./_interop_support.ts";

describe("interop: the case lists", () => {
  test("envelope.py, this file and tests/interop/golden/ list the same cases", () => {
    const pyCases = pyOk(["cases"]).trim().split("\n");
    assert.deepEqual(pyCases, CASES.map((c) => c.name));
    const files = readdirSync(GOLDEN_DIR).filter((f) => f.endsWith(".hex")).map((f) => f.slice(0, -4)).sort();
    assert.deepEqual(files, [...pyCases].sort(), "one golden file per case (envelope.py write-golden)");
  });
});

for (const c of CASES) {
  describe(`interop: ${c.name}`, () => {
    test("msgspec still writes the golden vector", () => {
      assert.equal(
        pyEncode(c.name),
        goldenHex(c.name),
        `msgspec drifted from tests/interop/golden/${c.name}.hex`,
      );
    });

    if (tsWrites(c)) {
      test("(a) our encoder writes exactly msgspec's bytes (and the golden vector)", () => {
        const ours = hex(tsEncode(c));
        assert.equal(ours, pyEncode(c.name), "TS bytes vs msgspec bytes");
        assert.equal(ours, goldenHex(c.name), `TS bytes vs tests/interop/golden/${c.name}.hex`);
      });

      test("(b) msgspec decodes our bytes strictly to the expected values", () => {
        const r = pyDecode(c.name, tsEncode(c));
        assert.ok(r.ok, `msgspec rejected our bytes: ${r.ok ? "" : r.error}`);
        assert.deepEqual(r.value, canon(envelopeWire(c)));
      });
    }

    test("(c) our decoder reads msgspec's bytes to the expected header and payload", () => {
      for (const bytes of [unhex(pyEncode(c.name)), unhex(goldenHex(c.name))]) {
        const { header, payload } = decodeEnvelope(bytes, c.codec, -1);
        assert.deepEqual(header, decodedHeader(c));
        assert.deepEqual(payload, c.payload);
      }
    });

    test("msgspec reads its own bytes back to the expected values (fixture sanity)", () => {
      const r = pyDecode(c.name, unhex(goldenHex(c.name)));
      assert.ok(r.ok, r.ok ? "" : r.error);
      assert.deepEqual(r.value, canon(envelopeWire(c)));
    });
  });
}

describe("interop: the vectors hard-coded in kafka/_envelope_test.ts", () => {
  const source = readFileSync(ENVELOPE_TEST, "utf8");
  const vectors = new Map<string, string>();
  for (const m of source.matchAll(/const (\w+) = unhex\(`([0-9a-f\s]+)`\)/g)) {
    vectors.set(m[1], m[2].replace(/\s+/g, ""));
  }
  const MAPPING: [string, string][] = [
    ["GOLDEN", "order"],
    ["MIXED", "mixed"],
    ["ERRENV", "errenv_task"],
    ["DECERR", "decode_error"],
  ];

  test("the four vectors are found", () => {
    assert.deepEqual([...vectors.keys()].sort(), MAPPING.map(([k]) => k).sort());
    assert.equal(vectors.get("GOLDEN")!.length / 2, 255, "the §4.1 golden example is 255 bytes");
  });

  for (const [constant, name] of MAPPING) {
    test(`${constant} is msgspec's encoding of the '${name}' case and msgspec decodes it strictly`, () => {
      const text = vectors.get(constant);
      assert.ok(text, `${constant} not found in kafka/_envelope_test.ts`);
      assert.equal(text, pyEncode(name));
      assert.equal(text, goldenHex(name));
      const r = pyDecode(name, unhex(text));
      assert.ok(r.ok, r.ok ? "" : r.error);
      assert.deepEqual(r.value, canon(envelopeWire(CASE.get(name)!)));
    });
  }
});
