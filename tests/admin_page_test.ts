// The live status page in headless Chromium (Debian `chromium`, driven by playwright-core) against a
// two-worker flow on the REAL broker: the graph is drawn, the counters move as records arrive, the
// partitions table shows the lag; a screenshot is saved to .cache/admin-page.png.
// Skipped when /usr/bin/chromium is absent (apt-get install -y chromium).
// Run: deno test -A tests/admin_page_test.ts   |   bun test tests/admin_page_test.ts
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { compileFlow, ConfigContext } from "../mod.ts";
import { createAdminApp, FlowSupervisor, serveAdmin } from "../runtime/mod.ts";
import { flow, relayConfig } from "./flows/relay.ts";
import { produce } from "./_runtime_support.ts";
import { bootstrap, createTopics, deleteTopics, unique, waitFor } from "./_support.ts";

// scripts/test.sh installs Debian's chromium when missing and exports its path
const CHROMIUM = process.env.LOOM_CHROMIUM ?? "/usr/bin/chromium";
const FLOW_MODULE = fileURLToPath(new URL("./flows/relay.ts", import.meta.url));
const SHOT = fileURLToPath(new URL("../.cache/admin-page.png", import.meta.url));

describe("status page in headless Chromium", () => {
  const cleanup: string[] = [];
  after(async () => {
    await deleteTopics(cleanup);
  });

  test("draws the graph; counters and lag move over server-sent events", {
    timeout: 120_000,
    // outside scripts/test.sh a machine without chromium skips it; under the test command it must run
    skip: existsSync(CHROMIUM) || process.env.LOOM_CHROMIUM ? false : `${CHROMIUM} is not installed`,
  }, async () => {
    const { chromium } = await import("playwright-core");
    const t = { in: unique("page-in"), out: unique("page-out") };
    cleanup.push(t.in, t.out);
    await createTopics([t.in, t.out], 4);
    const config = ConfigContext.fromObject(relayConfig(t, unique("g"), [bootstrap()]));
    const plan = compileFlow(flow, config);
    const sup = new FlowSupervisor({ flowModule: FLOW_MODULE, config, plan, workers: 2, quietClient: true });
    const abort = new AbortController();
    const server = await serveAdmin(createAdminApp(sup, { signal: abort.signal }), {
      host: "127.0.0.1",
      port: 0,
    }, abort);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu"],
    });
    try {
      await sup.start();
      await waitFor(() => sup.status().ready.ready, 30_000, "workers ready");
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await page.goto(server.url + "/");
      await page.waitForSelector("#graph svg g[data-node]");
      const labels = await page.$$eval(
        "#graph svg g[data-node] text",
        (ts) => ts.map((x) => x.textContent ?? ""),
      );
      assert.ok(labels.some((l) => l.startsWith("tag (record)")), labels.join(" | "));
      assert.ok(labels.some((l) => l.includes(`topic ${t.out}`.slice(0, 20))), labels.join(" | "));
      // page-side expressions are strings (this file is type-checked without the DOM library)
      await page.waitForFunction(`document.getElementById("ready")?.textContent === "ready"`);
      assert.equal(await page.textContent("#consumed"), "0");
      await produce(t.in, 0, 2000);
      await page.waitForFunction(`document.getElementById("produced")?.textContent === "2,000"`, null, {
        timeout: 30_000,
      });
      assert.equal(await page.textContent("#consumed"), "2,000");
      // every partition shows up with its lag once committed (0 when caught up)
      await page.waitForFunction(
        `(() => { const cells = [...document.querySelectorAll("#partitions td[data-lag]")];
          return cells.length === 4 && cells.every((c) => c.textContent === "0"); })()`,
        null,
        { timeout: 30_000 },
      );
      const workers = await page.$$eval("#workers tbody tr", (rows) => rows.length);
      assert.equal(workers, 2);
      mkdirSync(fileURLToPath(new URL("../.cache/", import.meta.url)), { recursive: true });
      await page.screenshot({ path: SHOT, fullPage: true });
      assert.ok(existsSync(SHOT));
    } finally {
      await browser.close();
      await sup.stop();
      await server.close();
    }
  });
});
