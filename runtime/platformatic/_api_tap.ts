/**
 * One platformatic client's protocol API, with the adapter's request encoder or response parser swapped in
 * (the produce tap, `_produce_request.ts`; the fetch parse tap, `_fetch_records.ts`).
 *
 * platformatic looks every API up through its client's `kGetApi` and calls it as
 * `api(connection, ...args, callback)`; the API only calls `connection.send(apiKey, apiVersion,
 * createPayload, parseResponse, …)`. {@link tapApi} replaces the lookup on one client instance (its
 * prototype is untouched) so that the named API gets a connection whose `send` passes on the hooks' payload
 * creator and parser instead of platformatic's (and, when a hook says so, other arguments). Metadata,
 * routing, retries and callbacks stay platformatic's.
 *
 * @module
 */

import { promisify } from "node:util";
import { kGetApi, type Reader } from "./_kafka.ts";

/** platformatic's response parser: `(correlationId, apiKey, apiVersion, reader)`. */
export type ResponseParser = (
  correlationId: number,
  apiKey: number,
  apiVersion: number,
  reader: InstanceType<typeof Reader>,
) => unknown;

type Callback = (error: unknown, response?: unknown) => void;

/** The part of platformatic's Connection its APIs use. */
export interface ConnectionLike {
  /** Queues a request: its payload is created when it is its turn, its response parsed when it arrives. */
  send(
    apiKey: number,
    apiVersion: number,
    createPayload: () => unknown,
    parser: ResponseParser,
    requestTags: boolean,
    responseTags: boolean,
    callback: Callback,
  ): void;
}

/** A platformatic API as `kGetApi` hands it out. */
export type Api = ((connection: ConnectionLike, ...args: unknown[]) => void) & {
  key?: number;
  version?: number;
  async?: unknown;
};

/**
 * What a tap changes in one call: its arguments, the payload creator and/or the response parser (given
 * platformatic's).
 */
export interface CallHooks {
  /** The arguments the API is called with instead of the call's own (callback excluded). */
  readonly args?: readonly unknown[];
  /** Creates the request payload; `theirs` is platformatic's creator. */
  readonly create?: (theirs: () => unknown) => unknown;
  /** The response parser to use; `theirs` is platformatic's. */
  readonly parse?: (theirs: ResponseParser) => ResponseParser;
}

type GetApi = (name: string, callback: (error: unknown, api?: Api) => void) => void;

/**
 * Makes `client`'s API `name` call `hooks(version, args)` for every call: its hooks apply to that call,
 * null leaves the call to platformatic as it is.
 *
 * @param client A platformatic client instance (Producer, Consumer).
 * @param name The API's name ("Produce", "Fetch").
 * @param hooks The hooks of one call, from the API version and the call's arguments (callback excluded).
 * @example
 * ```ts ignore
 * tapApi(producer, "Produce", (version, [acks]) => ({ create: (theirs) => theirs() }));
 * ```
 */
export function tapApi(
  client: object,
  name: string,
  hooks: (version: number, args: readonly unknown[]) => CallHooks | null,
): void {
  const wrapped = new WeakMap<Api, Api>();
  const wrap = (api: Api): Api => {
    let w = wrapped.get(api);
    if (w !== undefined) return w;
    const version = api.version ?? -1;
    w = (connection, ...args) => {
      const callback = typeof args[args.length - 1] === "function" ? args[args.length - 1] : undefined;
      const h = hooks(version, callback === undefined ? args : args.slice(0, -1));
      if (h === null) return api(connection, ...args);
      if (h.args !== undefined) args = callback === undefined ? [...h.args] : [...h.args, callback];
      const shim: ConnectionLike = {
        send: (key, apiVersion, create, parser, requestTags, responseTags, cb) =>
          connection.send(
            key,
            apiVersion,
            h.create === undefined ? create : () => h.create!(create),
            h.parse === undefined ? parser : h.parse(parser),
            requestTags,
            responseTags,
            cb,
          ),
      };
      api(shim, ...args);
    };
    w.key = api.key;
    w.version = api.version;
    w.async = promisify(w);
    wrapped.set(api, w);
    return w;
  };
  const original = (client as Record<symbol, GetApi>)[kGetApi];
  const getApi: GetApi = (n, callback) =>
    original.call(client, n, (error, api) => {
      callback(error, error || api === undefined || n !== name ? api : wrap(api));
    });
  Object.defineProperty(client, kGetApi, { configurable: true, writable: true, value: getApi });
}
