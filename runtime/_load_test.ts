// loadConfigFile: relative `includes` resolve against the including file, whatever the working directory.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { loadConfigFile } from "./_load.ts";

describe("loadConfigFile includes", () => {
  test("a config in a subdirectory includes its neighbours, from another working directory", () => {
    const root = mkdtempSync(join(tmpdir(), "loom-includes-"));
    const cwd = process.cwd();
    try {
      mkdirSync(join(root, "conf", "shared"), { recursive: true });
      writeFileSync(
        join(root, "conf", "main.yaml"),
        "includes: [base.yaml]\nstreaming:\n  runtime:\n    max_in_flight: 7\n",
      );
      writeFileSync(join(root, "conf", "base.yaml"), "includes: [shared/kafka.yaml]\napp:\n  name: base\n");
      writeFileSync(
        join(root, "conf", "shared", "kafka.yaml"),
        "kafka:\n  consumer:\n    brokers: [b:9092]\n    group_id: g\n    topics: [t]\n",
      );
      process.chdir(root); // the config path is relative to this working directory, not to the repo
      const config = loadConfigFile("conf/main.yaml", {});
      assert.deepEqual(config.raw, {
        streaming: { runtime: { max_in_flight: 7 } },
        app: { name: "base" },
        kafka: { consumer: { brokers: ["b:9092"], group_id: "g", topics: ["t"] } },
      });
      process.chdir(join(root, "conf", "shared"));
      const again = loadConfigFile("../main.yaml", {});
      assert.equal((again.raw as { app: { name: string } }).app.name, "base");
    } finally {
      process.chdir(cwd);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
