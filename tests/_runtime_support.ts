// Helpers of the runtime integration tests (worker pool, CLI): producing relay rows to the REAL broker
// and running the CLI as a child process.
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { decodeOutputRecord, encodeSourceValue } from "../streaming/engine.ts";
import { KafkaProducerClient } from "../runtime/mod.ts";
import { type Relay, RelayRow } from "./flows/relay.ts";
import { bootstrap, quiet, readTopics, sleep } from "./_support.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const enc = new TextEncoder();

/** Produces relay rows `from` … `from + n - 1` (keyed, spread over the partitions, or all to `partition`). */
export const produce = async (topic: string, from: number, n: number, partition?: number): Promise<void> => {
  const producer = new KafkaProducerClient(
    { brokers: [bootstrap()], clientId: "loom-workers-it", topic: null, security: null, extra: {} },
    quiet,
  );
  await producer.connect();
  try {
    await producer.send(
      topic,
      Array.from({ length: n }, (_, k) => ({
        key: enc.encode(`k${from + k}`),
        value: encodeSourceValue({ id: from + k }, RelayRow, { producedAtMs: 1_700_000_000_000 }),
        headers: {},
        timestampMs: null,
        partition,
      })),
    );
  } finally {
    await producer.disconnect();
  }
};

/** Produces `total` records in chunks, `pauseMs` apart (input keeps arriving while the test acts). */
export const produceStream = async (
  topic: string,
  total: number,
  chunk: number,
  pauseMs: number,
): Promise<void> => {
  for (let i = 0; i < total; i += chunk) {
    await produce(topic, i, Math.min(chunk, total - i));
    await sleep(pauseMs);
  }
};

/** The ids of the relay rows in `topic`. */
export const outputIds = async (topic: string): Promise<number[]> =>
  (await readTopics([topic])).map((r) => (decodeOutputRecord(r).payload as Relay).id);

/**
 * Starts the CLI as a child process. On Deno it uses Deno.Command: its node:child_process reports a
 * child that handled SIGTERM and exited 0 as killed by the signal (code null).
 */
export const spawnCli = (args: string[], env: Record<string, string>) => {
  const logs: string[] = [];
  const dec = new TextDecoder();
  const g = globalThis as {
    Deno?: {
      Command: new (cmd: string, o: Record<string, unknown>) => {
        spawn(): {
          kill(sig: string): void;
          status: Promise<{ code: number }>;
          stdout: ReadableStream<Uint8Array>;
          stderr: ReadableStream<Uint8Array>;
        };
      };
      execPath(): string;
    };
  };
  if (g.Deno) {
    const child = new g.Deno.Command(g.Deno.execPath(), {
      args: ["run", "-A", ...args],
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (s: ReadableStream<Uint8Array>) => {
      for await (const chunk of s) logs.push(dec.decode(chunk));
    };
    const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
    let done = false;
    const exited = child.status.then(async (st) => {
      done = true;
      await pumped;
      return st.code;
    });
    return { logs, exited, running: () => !done, kill: (sig: "SIGTERM" | "SIGINT") => child.kill(sig) };
  }
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d) => logs.push(String(d)));
  child.stderr!.on("data", (d) => logs.push(String(d)));
  const exited = new Promise<number>((r) => child.once("exit", (code, sig) => r(code ?? (sig ? 128 : -1))));
  return {
    logs,
    exited,
    running: () => child.exitCode === null,
    kill: (sig: "SIGTERM" | "SIGINT") => child.kill(sig),
  };
};
