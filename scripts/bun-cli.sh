#!/usr/bin/env bash
# Starts cli.ts on Bun with JSC's heap sized for at most 4 GiB of RAM, unless BUN_JSC_forceRAMSize is set.
#
# JSC sizes its heap from the machine's RAM (the host's, inside a container): on this project's 24 GB VM it
# let a 1M-record backlog drain peak at 313-322 MB RSS; sized for 4 GiB it peaked at 215-236 MB, at the same
# drain rate and the same rate on a CPU-bound Kafka flow (README, Deployment and Benchmarks). It is a hint,
# not a limit: a flow that needs more memory still gets it. The size is the smallest of 4 GiB, the
# physical RAM and the cgroup's memory limit.
#
# Usage: scripts/bun-cli.sh <cli arguments>   (LOOM_PRINT_BUN_ENV=1: print the variable and exit)
set -euo pipefail
if [ -z "${BUN_JSC_forceRAMSize:-}" ]; then
  size=4294967296
  ram=$(awk '/^MemTotal:/ { printf "%.0f", $2 * 1024 }' /proc/meminfo 2>/dev/null || true)
  limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || true)
  for v in $ram $limit; do
    case "$v" in '' | *[!0-9]*) ;; *) if [ "$v" -lt "$size" ]; then size=$v; fi ;; esac
  done
  export BUN_JSC_forceRAMSize=$size
fi
if [ "${LOOM_PRINT_BUN_ENV:-}" = 1 ]; then
  echo "BUN_JSC_forceRAMSize=$BUN_JSC_forceRAMSize"
  exit 0
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
exec bun "$root/cli.ts" "$@"
