#!/usr/bin/env bash
# Local throwaway PostgreSQL 15 cluster for tests and development, bound to 127.0.0.1 only, trust auth,
# fsync off. Never touches the system service: the cluster lives under $LOOM_CACHE/postgres.
#
# Needs: the Debian package postgresql-15 (installed with apt-get when missing and run as root, unless
# LOOM_AUTO_INSTALL=0; apt does not start anything).
# When run as root, the server runs as the `postgres` system user (PostgreSQL refuses to run as root); that
# user is given search (x) permission on the parent folders of the data directory when it lacks it.
#
# Usage: scripts/postgres.sh <command>
#   ensure   init the cluster if missing, start it if not running, wait until it accepts connections, then
#            print the connection URL (the only line written to stdout). Fast when already up.
#   start    same, without printing the URL
#   stop     fast shutdown (pg_ctl -m fast)
#   status   print "running ..." (exit 0) or "stopped" (exit 3)
#   reset    stop, then wipe the cluster
#
# Environment:
#   LOOM_CACHE        cache root (default ~/.cache/loom-streaming)
#   LOOM_PG_PORT      port (default 15432)
#   LOOM_PG_BIN       folder of initdb/pg_ctl (default /usr/lib/postgresql/15/bin)
#   LOOM_PG_DATABASE  database created for the tests (default loom)
set -euo pipefail

CACHE="${LOOM_CACHE:-$HOME/.cache/loom-streaming}"
PORT="${LOOM_PG_PORT:-15432}"
BIN="${LOOM_PG_BIN:-/usr/lib/postgresql/15/bin}"
DB="${LOOM_PG_DATABASE:-loom}"
HOST=127.0.0.1
INSTANCE="$CACHE/postgres/pg-$PORT"
DATA="$INSTANCE/data"
LOG="$INSTANCE/server.log"

say() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}
case "$PORT" in *[!0-9]*) die "LOOM_PG_PORT must be a number" ;; esac

RUNAS=()
set_runas() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' system user (installed by postgresql-15)"
    RUNAS=(runuser -u postgres --)
  fi
}
as_pg() { "${RUNAS[@]}" "$@"; }

# Installs the Debian package when the binaries are missing and we may (root with apt-get, LOOM_AUTO_INSTALL
# not 0): a fresh CI machine gets what the tests need. apt does not start the system service here.
check_bin() {
  if { [ ! -x "$BIN/pg_ctl" ] || [ ! -x "$BIN/initdb" ]; } && [ "$(id -u)" = 0 ] &&
    [ "${LOOM_AUTO_INSTALL:-1}" != 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing postgresql-15 (apt-get)"
    apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >&2 ||
      die "apt-get could not install postgresql-15"
  fi
  [ -x "$BIN/pg_ctl" ] && [ -x "$BIN/initdb" ] ||
    die "PostgreSQL 15 binaries not found in $BIN: apt-get install -y postgresql-15 (or set LOOM_PG_BIN)"
}

lock() {
  mkdir -p "$INSTANCE"
  exec 9>"$INSTANCE/.lock"
  flock -w 120 9 || die "timed out waiting for the lock $INSTANCE/.lock"
}

# The server user must be able to reach $INSTANCE (e.g. when the cache is under /root).
grant_path() {
  [ ${#RUNAS[@]} -gt 0 ] || return 0
  chown postgres "$INSTANCE"
  local d="$INSTANCE"
  while [ "$d" != / ]; do
    d=$(dirname "$d")
    if ! as_pg test -x "$d"; then
      say "granting the postgres user search permission on $d"
      chmod o+x "$d"
    fi
  done
}

running() { [ -f "$DATA/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }
ready() { "$BIN/pg_isready" -q -h "$HOST" -p "$PORT" -t 2 >/dev/null 2>&1; }

do_start() {
  check_bin
  set_runas
  grant_path
  if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    as_pg mkdir -p "$DATA"
    say "initdb $DATA"
    as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >"$INSTANCE/initdb.log" 2>&1 ||
      { cat "$INSTANCE/initdb.log" >&2; die "initdb failed (see above)"; }
  fi
  if ! running; then
    if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
      die "port $PORT on $HOST is in use by a server this script did not start; stop it or set LOOM_PG_PORT"
    fi
    say "starting PostgreSQL on $HOST:$PORT (data $DATA)"
    as_pg touch "$LOG" 2>/dev/null || true
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
      -o "-c listen_addresses=$HOST -p $PORT -k $DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null 9>&- || { tail -n 30 "$LOG" >&2; die "the server did not start (log above)"; }
  fi
  local deadline=$((SECONDS + 30))
  until ready; do
    [ "$SECONDS" -lt "$deadline" ] || die "the server is not accepting connections after 30s; see $LOG"
    sleep 0.1
  done
  if ! "$BIN/psql" -h "$HOST" -p "$PORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" |
    grep -q 1; then
    "$BIN/psql" -h "$HOST" -p "$PORT" -U postgres -d postgres -qc "CREATE DATABASE \"$DB\"" >/dev/null
  fi
}

do_stop() {
  [ -x "$BIN/pg_ctl" ] || { say "not installed"; return 0; }
  set_runas
  if running; then
    say "stopping PostgreSQL on $HOST:$PORT"
    as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
  else
    say "not running"
  fi
}

cmd="${1:-}"
case "$cmd" in
  ensure)
    lock
    do_start
    echo "postgres://postgres@$HOST:$PORT/$DB"
    ;;
  start)
    lock
    do_start
    ;;
  stop)
    lock
    do_stop
    ;;
  status)
    [ -x "$BIN/pg_ctl" ] && set_runas
    if [ -x "$BIN/pg_ctl" ] && running; then
      if ready; then state=ready; else state="not ready"; fi
      echo "running url=postgres://postgres@$HOST:$PORT/$DB ($state) data=$DATA"
    else
      echo "stopped"
      exit 3
    fi
    ;;
  reset)
    lock
    do_stop
    rm -rf "$DATA" "$LOG"
    say "wiped $INSTANCE"
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    [ -z "$cmd" ] || say "error: unknown command '$cmd'"
    exit 2
    ;;
esac
