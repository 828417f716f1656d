#!/usr/bin/env bash
# Runs a flow. Without arguments: the example orders flow, replaying its fixture on the embedded
# in-memory broker. With LOOM_TRANSPORT=kafka (or `streaming.runtime.transport: kafka` in the config) it
# runs on the Kafka brokers of the config; `scripts/kafka.sh ensure` starts a local broker.
# Usage: scripts/run.sh [<flow.ts> --config <config.yaml> [--fixture <records.jsonl>]] [--runtime bun]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
rt=deno
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runtime) rt="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ ${#args[@]} -eq 0 ]; then
  args=(examples/orders/flow.ts --config examples/orders/orders.yaml --fixture examples/orders/orders.jsonl)
fi
if [ "$rt" = bun ]; then exec bash scripts/bun-cli.sh run "${args[@]}"; fi
exec deno run -A cli.ts run "${args[@]}"
