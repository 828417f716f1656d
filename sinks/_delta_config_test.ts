// Delta sink settings that fail at startup, before any file is touched: object-store URIs (only local
// folders and file:// URIs are written) give an error naming the sink, the key and the fix.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import * as v from "valibot";
import { IntoTable, messageType } from "../mod.ts";
import { openTableWriter } from "./_writers.ts";

const Ev = messageType("loom.test.DeltaEv", v.object({ id: v.string() }));

describe("Delta sink settings", () => {
  for (
    const uri of [
      "s3://bucket/events",
      "gs://bucket/events",
      "az://container/events",
      "abfss://c@acct.dfs.core.windows.net/events",
    ]
  ) {
    test(`${uri.split("://")[0]}:// is a startup error naming the sink: only local paths are supported`, async () => {
      await assert.rejects(
        openTableWriter(new IntoTable({ name: "events_sink", backend: "delta", payload: Ev }), {
          streaming: { sinks: { events_sink: { uri } } },
        }),
        (e: Error) => {
          assert.match(e.message, /^table sink 'events_sink' \(streaming\.sinks\.events_sink\): /);
          assert.match(e.message, /streaming\.sinks\.events_sink\.uri: only local paths are supported/);
          assert.ok(e.message.includes(`(got ${uri.split("://")[0]}://…)`), e.message);
          assert.match(e.message, /local folder or file:\/\/ URI/);
          assert.ok(
            !e.message.includes("bucket/events") && !e.message.includes("acct"),
            "the rest of the URI is not printed",
          );
          return true;
        },
      );
      assert.equal(existsSync(uri), false);
    });
  }
});
