/**
 * The admin API of a running flow (Hono): health, readiness, Prometheus metrics, the compiled plan with
 * a Mermaid graph, and a live status page over server-sent events.
 *
 * @example
 * ```ts ignore
 * import { createAdminApp, serveAdmin } from "@loom/streaming/runtime";
 * const server = await serveAdmin(createAdminApp(source), { host: "127.0.0.1", port: 0 });
 * ```
 *
 * @module
 */
export { type AdminApp, type AdminAppOptions, createAdminApp } from "./_app.ts";
export { type AdminServer, serveAdmin } from "./_serve.ts";
export { STATUS_PAGE_HTML } from "./_page.ts";
export { type PlanGraph, type PlanNodeView, type PlanView, planView } from "./_plan_view.ts";
export { isSecretKey, REDACTED, redactSecrets } from "./_redact.ts";
export {
  type AdminSource,
  type FlowStatus,
  type FlowTotals,
  type Readiness,
  readinessOf,
  totalsOf,
  type WorkerStatus,
} from "./_source.ts";
