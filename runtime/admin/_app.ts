/**
 * The admin API as a Hono app (one code path for `Deno.serve` and `Bun.serve`; `app.request()` in tests):
 *
 * - `GET /health`: liveness (503 once the host failed for good);
 * - `GET /ready`: all workers up and assigned (503 with the reasons otherwise);
 * - `GET /metrics`: Prometheus text of the merged metrics;
 * - `GET /flows`, `GET /flows/:name`: the compiled plan as JSON with a Mermaid graph (secrets redacted);
 * - `GET /status`: a status snapshot (workers, partitions, totals, readiness);
 * - `GET /events`: the same snapshot as server-sent events (`event: status`) every `interval_ms`
 *   (query parameter, 100…60000, default 1000) — sent even when nothing changed, so quiet streams are
 *   never idle;
 * - `GET /`: the live status page.
 *
 * Unknown paths answer 404 and bad requests 400, both as JSON `{ "error": … }`.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { PROMETHEUS_CONTENT_TYPE, toPrometheusText } from "../../streaming/observe/_prometheus.ts";
import { STATUS_PAGE_HTML } from "./_page.ts";
import { type PlanView, planView } from "./_plan_view.ts";
import type { AdminSource } from "./_source.ts";

/**
 * Options of {@link createAdminApp}.
 *
 * @example
 * ```ts
 * import type { AdminAppOptions } from "@loom/streaming/runtime";
 * const options: AdminAppOptions = { signal: new AbortController().signal };
 * ```
 */
export interface AdminAppOptions {
  /** Aborting it ends every open event stream (so a server can shut down). */
  readonly signal?: AbortSignal;
  /** Another path serving the metrics too (`observability.prometheus.config.path`; `/metrics` always does). */
  readonly metricsPath?: string;
}

/**
 * The admin app as its servers and tests use it (a Hono app).
 *
 * @example
 * ```ts ignore
 * const app: AdminApp = createAdminApp(source);
 * const res = await app.request("/health");
 * ```
 */
export interface AdminApp {
  /** Handles a request (`env` carries the Bun server, for per-request timeouts). */
  fetch(request: Request, env?: unknown): Response | Promise<Response>;
  /** Handles a request given as a path or URL (tests). */
  request(input: string | URL | Request, init?: RequestInit): Response | Promise<Response>;
}

interface BunServerLike {
  timeout?(request: Request, seconds: number): void;
}

/**
 * Builds the admin app of `source`.
 *
 * @example
 * ```ts ignore
 * import { createAdminApp } from "@loom/streaming/runtime";
 * const app = createAdminApp(source);
 * const res = await app.request("/ready");
 * console.log(res.status, await res.json());
 * ```
 */
export function createAdminApp(source: AdminSource, options: AdminAppOptions = {}): AdminApp {
  const app = new Hono();
  let view: PlanView | null = null;
  const viewOf = () => (view ??= planView(source.plan));

  app.get("/health", (c) => {
    const s = source.status();
    const ok = s.state !== "failed";
    return c.json({ status: ok ? "ok" : "failed", flow: s.flow, state: s.state }, ok ? 200 : 503);
  });
  app.get("/ready", (c) => {
    const { ready } = source.status();
    return c.json(ready, ready.ready ? 200 : 503);
  });
  const metrics = (c: Context) =>
    c.body(toPrometheusText(source.metrics()), 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE });
  app.get("/metrics", metrics);
  const extra = options.metricsPath;
  if (extra && extra !== "/metrics" && extra.startsWith("/")) app.get(extra, metrics);
  app.get("/flows", (c) => c.json({ flows: [viewOf()] }));
  app.get("/flows/:name", (c) => {
    const v = viewOf();
    if (c.req.param("name") !== v.name) {
      return c.json({ error: `no flow named '${c.req.param("name")}'` }, 404);
    }
    return c.json(v);
  });
  app.get("/status", (c) => c.json(source.status()));
  app.get("/events", (c) => {
    const raw = c.req.query("interval_ms");
    const interval = raw === undefined ? 1000 : Number(raw);
    if (!Number.isInteger(interval) || interval < 100 || interval > 60_000) {
      return c.json({ error: "interval_ms must be an integer between 100 and 60000" }, 400);
    }
    // Bun closes connections idle for idleTimeout seconds: lift it for this stream.
    (c.env as { server?: BunServerLike } | undefined)?.server?.timeout?.(c.req.raw, 0);
    return streamSSE(c, async (stream) => {
      let open = true;
      const stop = () => void (open = false);
      stream.onAbort(stop);
      options.signal?.addEventListener("abort", stop, { once: true });
      let id = 0;
      while (open && !stream.aborted && !options.signal?.aborted) {
        await stream.writeSSE({ event: "status", id: String(++id), data: JSON.stringify(source.status()) });
        await new Promise<void>((r) => {
          const t = setTimeout(r, interval);
          options.signal?.addEventListener("abort", () => (clearTimeout(t), r()), { once: true });
        });
      }
      options.signal?.removeEventListener("abort", stop);
    });
  });
  app.get("/", (c) => c.html(STATUS_PAGE_HTML));
  app.notFound((c) => c.json({ error: "not found", path: c.req.path }, 404));
  app.onError((e, c) => c.json({ error: e instanceof Error ? e.message : String(e) }, 500));
  return app;
}
