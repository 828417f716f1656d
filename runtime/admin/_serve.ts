/**
 * Serving the admin app on `Deno.serve` or `Bun.serve` (whichever runtime this is), bound to
 * `127.0.0.1` by default; port 0 picks an ephemeral port.
 *
 * @module
 */
import type { AdminApp } from "./_app.ts";
import type { AdminSettings } from "../../streaming/observe/_config.ts";

/**
 * A running admin server.
 *
 * @example
 * ```ts ignore
 * const server = await serveAdmin(app, { host: "127.0.0.1", port: 0 });
 * console.log(server.url);
 * await server.close();
 * ```
 */
export interface AdminServer {
  /** Bound host. */
  readonly host: string;
  /** Bound port. */
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
  /** Stops accepting connections and closes open ones. */
  close(): Promise<void>;
}

interface DenoLike {
  serve(
    options: { hostname: string; port: number; onListen?: (addr: { port: number }) => void },
    handler: (req: Request) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void>; finished: Promise<void> };
}

interface BunLike {
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout?: number;
    fetch: (req: Request, server: unknown) => Response | Promise<Response>;
  }): { port: number; stop(closeActive?: boolean): Promise<void> | void };
}

/**
 * Serves `app` on this runtime's HTTP server. `abort` (optional) is aborted first on close, so the
 * app can end its event streams.
 *
 * @example
 * ```ts ignore
 * import { createAdminApp, serveAdmin } from "@loom/streaming/runtime";
 * const server = await serveAdmin(createAdminApp(source), { host: "127.0.0.1", port: 9400 });
 * ```
 */
export function serveAdmin(
  app: AdminApp,
  settings: AdminSettings,
  abort?: AbortController,
): Promise<AdminServer> {
  const g = globalThis as { Deno?: DenoLike; Bun?: BunLike };
  const host = settings.host;
  const url = (port: number) => `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (g.Bun) {
    const server = g.Bun.serve({
      hostname: host,
      port: settings.port,
      idleTimeout: 120, // event streams lift it per request; this bounds idle keep-alive connections
      fetch: (req, server) => app.fetch(req, { server }),
    });
    return Promise.resolve({
      host,
      port: server.port,
      url: url(server.port),
      close: async () => {
        abort?.abort();
        await server.stop(true);
      },
    });
  }
  if (g.Deno) {
    return new Promise((resolve) => {
      const server = g.Deno!.serve({
        hostname: host,
        port: settings.port,
        onListen: (addr) => {
          resolve({
            host,
            port: addr.port,
            url: url(addr.port),
            close: async () => {
              abort?.abort();
              await server.shutdown();
            },
          });
        },
      }, (req) => app.fetch(req));
    });
  }
  return Promise.reject(new Error("the admin API needs Deno.serve or Bun.serve"));
}
