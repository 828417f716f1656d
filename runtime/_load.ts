/**
 * Loading flows and YAML configuration from files (Deno and Bun; uses node:fs and node:process).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { type ConfigContext, ConfigError, parseConfig } from "../streaming/config/mod.ts";
import { StreamFlow } from "../streaming/dsl/mod.ts";

/**
 * Reads and validates a YAML configuration file, with `${VAR}` interpolation from the process
 * environment and local `includes`.
 *
 * @example
 * ```ts
 * import { loadConfigFile } from "@loom/streaming/runtime";
 * const config = loadConfigFile("config.yaml");
 * ```
 */
export function loadConfigFile(
  path: string,
  env: Record<string, string | undefined> = process.env,
): ConfigContext {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`, { file: path });
  }
  // parseConfig resolves an include relative to the file that includes it (a path relative to the working
  // directory when `path` is); it must not be resolved against the first file's folder a second time.
  return parseConfig(text, {
    file: path,
    env,
    readFile: (p) => readFileSync(resolve(p), "utf8"),
  });
}

/**
 * A flow module could not be imported or does not export exactly one flow to run.
 *
 * @example
 * ```ts
 * import { FlowModuleError, loadFlowModule } from "@loom/streaming/runtime";
 * try {
 *   await loadFlowModule("missing.ts");
 * } catch (e) {
 *   if (e instanceof FlowModuleError) console.error(e.message);
 * }
 * ```
 */
export class FlowModuleError extends Error {
  /**
   * Creates the error.
   *
   * @param message what is wrong with the module
   * @param options the underlying import error, if any
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FlowModuleError";
  }
}

/**
 * Imports a flow module: its `default` export, its `flow` export, or the only `StreamFlow` it exports.
 *
 * @example
 * ```ts
 * import { loadFlowModule } from "@loom/streaming/runtime";
 * const flow = await loadFlowModule("examples/orders/flow.ts");
 * ```
 */
// deno-lint-ignore no-explicit-any
export async function loadFlowModule(path: string): Promise<StreamFlow<any>> {
  const url = pathToFileURL(resolve(path)).href;
  let mod: Record<string, unknown>;
  try {
    mod = await import(url);
  } catch (e) {
    throw new FlowModuleError(`cannot import flow module ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (mod.default instanceof StreamFlow) return mod.default;
  if (mod.flow instanceof StreamFlow) return mod.flow;
  const flows = Object.values(mod).filter((v) => v instanceof StreamFlow) as StreamFlow<unknown>[];
  if (flows.length === 1) return flows[0];
  throw new FlowModuleError(
    flows.length === 0
      ? `flow module ${path} exports no StreamFlow; export it as default or as \`flow\``
      : `flow module ${path} exports ${flows.length} StreamFlows; export the one to run as default or as \`flow\``,
  );
}
