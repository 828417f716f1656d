// Header names decoded once per position and reused while the bytes match.
// Run: deno test -A runtime/platformatic/_header_names_test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { HeaderNames } from "./_header_names.ts";

describe("HeaderNames", () => {
  test("decodes each name, the same bytes at the same position give the same name", () => {
    const names = new HeaderNames();
    assert.equal(names.name(Buffer.from("x-trace-id"), 0), "x-trace-id");
    assert.equal(names.name(Buffer.from("x-trace-id"), 0), "x-trace-id");
    assert.equal(names.name(Buffer.from("x-span"), 1), "x-span");
  });

  test("other bytes at a remembered position are decoded, never mistaken for the remembered name", () => {
    const names = new HeaderNames();
    assert.equal(names.name(Buffer.from("x-trace-id"), 0), "x-trace-id");
    assert.equal(names.name(Buffer.from("x-trace-ie"), 0), "x-trace-ie"); // same length, last byte differs
    assert.equal(names.name(Buffer.from("x-trace-i"), 0), "x-trace-i"); // a prefix
    assert.equal(names.name(Buffer.from("é-ünïcode"), 0), "é-ünïcode");
    assert.equal(names.name(Buffer.from("x-trace-id"), 0), "x-trace-id");
  });

  test("the remembered bytes are a copy: the fetched buffer may be reused", () => {
    const names = new HeaderNames();
    const fetched = Buffer.from("abc-header");
    assert.equal(names.name(fetched, 2), "abc-header");
    fetched.write("xyz"); // the fetch buffer now holds other bytes at the same place
    assert.equal(names.name(fetched, 2), "xyz-header");
    assert.equal(names.name(Buffer.from("abc-header"), 2), "abc-header");
  });

  test("positions past the remembered ones and long names are decoded each time", () => {
    const names = new HeaderNames();
    const long = "h".repeat(100);
    assert.equal(names.name(Buffer.from(long), 0), long);
    assert.equal(names.name(Buffer.from(long), 0), long);
    assert.equal(names.name(Buffer.from("late"), 40), "late");
    assert.equal(names.name(Buffer.from("empty?"), 3), "empty?");
    assert.equal(names.name(Buffer.alloc(0), 3), "");
    assert.equal(names.name(Buffer.alloc(0), 3), "");
  });
});
