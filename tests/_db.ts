// Shared helpers of the table-sink integration tests: the REAL local PostgreSQL 15 (scripts/postgres.sh)
// and ClickHouse 18.16 (scripts/clickhouse.sh) servers, started on demand like the Kafka broker.
import { execFileSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ensure = (script: string, env: string): string => {
  const fromEnv = process.env[env];
  if (fromEnv) return fromEnv;
  const out = execFileSync("bash", [
    fileURLToPath(new URL(`../scripts/${script}`, import.meta.url)),
    "ensure",
  ], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 120_000,
  });
  const url = out.trim().split("\n").at(-1)!;
  process.env[env] = url;
  return url;
};

/** URL of the local PostgreSQL test database (started when needed). */
export const pgUrl = (): string => ensure("postgres.sh", "LOOM_PG_URL");
/** HTTP URL of the local ClickHouse server (started when needed). */
export const chUrl = (): string => ensure("clickhouse.sh", "LOOM_CLICKHOUSE_URL");

/** Python with deltalake + pyarrow (scripts/python-env.sh). */
export const python = (): string => {
  const out = execFileSync("bash", [fileURLToPath(new URL("../scripts/python-env.sh", import.meta.url))], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 600_000,
  });
  return out.trim().split("\n").at(-1)!;
};

const RUN = `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
let seq = 0;
/** A table name unique to this test run. */
export const uniqueTable = (what: string): string => `loom_${what}_${RUN}_${++seq}`;
