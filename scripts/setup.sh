#!/usr/bin/env bash
# Installs the pinned toolchain (Deno and Bun binaries from npm) and npm dependencies when missing or stale.
# Needs only Node.js and npm. Idempotent and fast when already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.loom-installed
if [ ! -x node_modules/.bin/deno ] || [ ! -x node_modules/.bin/bun ] || [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "setup: installing npm dependencies (deno, bun, kafkajs, valibot, yaml, ...)" >&2
  npm install --no-audit --no-fund --loglevel=error >&2
  touch "$stamp"
fi
