#!/usr/bin/env bash
# The whole test suite: unit + integration tests (real Kafka broker on 127.0.0.1), on Deno and on Bun.
# Prints a closing line "N passed, N failed". Usage: scripts/test.sh [--deno-only|--bun-only] [files...]
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export PATH="$PWD/node_modules/.bin:$PATH"
mkdir -p .cache
runtimes="deno bun"
case "${1:-}" in
  --deno-only) runtimes="deno"; shift ;;
  --bun-only) runtimes="bun"; shift ;;
esac
files=("$@")

cleanup=true
if [ -f scripts/kafka.sh ]; then
  # Start the broker when needed; stop it at exit only if this run started it (a running one is left alone).
  # tests/kafka_outage_test.ts runs a private broker on a port of this run's own (LOOM_OUTAGE_PORT, so
  # concurrent runs never stop each other's) and stops it itself; if that test dies early, it is stopped here.
  export LOOM_OUTAGE_PORT="${LOOM_OUTAGE_PORT:-$((19200 + 2 * (RANDOM % 300)))}"
  cleanup="LOOM_KAFKA_PORT=$LOOM_OUTAGE_PORT bash scripts/kafka.sh stop >/dev/null 2>&1 || true"
  if ! bash scripts/kafka.sh status >/dev/null 2>&1 && [ "${LOOM_KEEP_KAFKA:-0}" != 1 ]; then
    cleanup="$cleanup; bash scripts/kafka.sh stop >&2 || true"
  fi
  trap "$cleanup" EXIT
  bash scripts/kafka.sh ensure >&2 || { echo "test: could not start the Kafka broker (see above)" >&2; echo "0 passed, 1 failed"; exit 1; }
  export LOOM_KAFKA_BROKERS="${LOOM_KAFKA_BROKERS:-127.0.0.1:${LOOM_KAFKA_PORT:-19092}}"
fi

# PostgreSQL and ClickHouse for the table-sink tests (tests/sinks_*_test.ts): started when needed, stopped at
# exit only when this run started them. LOOM_KEEP_DBS=1 leaves them running.
# tests/sinks_outage_test.ts runs a private PostgreSQL on port 15433 and stops it itself; if that test dies
# early, it is stopped here.
[ -f scripts/postgres.sh ] && cleanup="$cleanup; LOOM_PG_PORT=15433 bash scripts/postgres.sh stop >/dev/null 2>&1 || true"
trap "$cleanup" EXIT
for svc in postgres clickhouse; do
  [ -f "scripts/$svc.sh" ] || continue
  if ! bash "scripts/$svc.sh" status >/dev/null 2>&1 && [ "${LOOM_KEEP_DBS:-0}" != 1 ]; then
    cleanup="$cleanup; bash scripts/$svc.sh stop >&2 || true"
    trap "$cleanup" EXIT
  fi
  url=$(bash "scripts/$svc.sh" ensure) || { echo "test: could not start $svc (see above)" >&2; echo "0 passed, 1 failed"; exit 1; }
  case "$svc" in
    postgres) export LOOM_PG_URL="${LOOM_PG_URL:-$url}" ;;
    clickhouse) export LOOM_CLICKHOUSE_URL="${LOOM_CLICKHOUSE_URL:-$url}" ;;
  esac
done

# Debian's chromium for the status-page test (installed with apt-get when missing).
if [ -f scripts/chromium.sh ]; then
  chrome=$(bash scripts/chromium.sh ensure) || { echo "test: could not install chromium (see above)" >&2; echo "0 passed, 1 failed"; exit 1; }
  export LOOM_CHROMIUM="${LOOM_CHROMIUM:-$chrome}"
fi

reports=()
status=0
for rt in $runtimes; do
  report=".cache/junit-$rt.xml"
  rm -f "$report"
  echo "=== $rt test ===" >&2
  if [ "$rt" = deno ]; then
    deno test -A --no-check=remote --junit-path="$report" "${files[@]}" || status=1
    reports+=("$rt=$report")
  else
    if [ ${#files[@]} -eq 0 ]; then
      mapfile -t found < <(find . -name '*_test.ts' -not -path './node_modules/*' -not -path './.cache/*' | sort)
    else
      found=("${files[@]}")
    fi
    # bun test runs every file in one process, so a client library's stray asynchronous error after one
    # real-server test (a late socket write, a background metadata refresh) is charged to whatever test
    # runs next. Unit tests share one process; each file that talks to a server (tests/) gets its own,
    # as each file does under deno test.
    unit=() servers=()
    for f in "${found[@]}"; do
      case "$f" in ./tests/* | tests/*) servers+=("$f") ;; *) unit+=("$f") ;; esac
    done
    if [ ${#unit[@]} -gt 0 ]; then
      bun test --timeout 60000 --reporter=junit --reporter-outfile="$report" "${unit[@]}" || status=1
      reports+=("$rt=$report")
    fi
    for f in "${servers[@]}"; do
      r=".cache/junit-$rt-$(basename "$f" .ts).xml"
      rm -f "$r"
      bun test --timeout 60000 --reporter=junit --reporter-outfile="$r" "$f" || status=1
      reports+=("$rt $(basename "$f")=$r")
    done
  fi
done
node scripts/junit-count.mjs "${reports[@]}" || status=1
exit $status
