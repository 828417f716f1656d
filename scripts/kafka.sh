#!/usr/bin/env bash
# Local Apache Kafka broker for tests and development: one KRaft node (broker + controller), bound to
# 127.0.0.1 only, built from the Maven Central jars (no Docker, no tarball download).
#
# Needs: Java 17+, Maven (first run only, to fetch the jars), and one of node / bun / deno (readiness probe).
#
# Broker versions tested with kafkajs 2.2.4 (all of tests/kafka_client_test.ts on Deno 2.9 and Bun 1.4,
# plus bench/kafka_raw_bench.ts):
#   - 3.9.1  default (last 3.x line).
#   - 4.0.0, 4.1.0 (LOOM_KAFKA_VERSION=4.1.0): everything above passes too. Kafka 4 dropped the old
#            protocol versions (KIP-896), but kafkajs negotiates versions above that floor for every API
#            it used here (produce, fetch, groups, commits, admin topics/offsets). Not exercised on 4.x:
#            SASL/SSL, transactions, the idempotent producer.
#
# Usage: scripts/kafka.sh <command>
#   ensure   install if missing, start if not running, wait until a metadata request succeeds, then print
#            the bootstrap address (the only line written to stdout). Fast (< 1 s) when already up.
#   install  fetch the jars into the cache (nothing else)
#   start    start the broker (formats the storage on first start) and wait until it is ready
#   stop     graceful stop (SIGTERM), SIGKILL after $LOOM_KAFKA_STOP_TIMEOUT seconds
#   status   print "running ..." (exit 0) or "stopped" (exit 3)
#   reset    stop, then wipe the broker's data and logs (the jars stay cached)
#   logs     print the end of the broker log (`logs -f` follows it)
#
# Environment:
#   LOOM_CACHE                  cache root (default ~/.cache/loom-streaming); jars, data and logs live under
#                               $LOOM_CACHE/kafka
#   LOOM_KAFKA_PORT             client port (default 19092)
#   LOOM_KAFKA_CONTROLLER_PORT  KRaft controller port (default LOOM_KAFKA_PORT + 1)
#   LOOM_KAFKA_VERSION          Apache Kafka version from Maven Central (default 3.9.1)
#   LOOM_KAFKA_HEAP             JVM heap (default 512m)
#   LOOM_KAFKA_START_TIMEOUT    seconds to wait for readiness (default 90)
#   LOOM_KAFKA_STOP_TIMEOUT     seconds to wait for a graceful stop before SIGKILL (default 30)
set -euo pipefail

CACHE="${LOOM_CACHE:-$HOME/.cache/loom-streaming}"
VERSION="${LOOM_KAFKA_VERSION:-3.9.1}"
PORT="${LOOM_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${LOOM_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
HEAP="${LOOM_KAFKA_HEAP:-512m}"
START_TIMEOUT="${LOOM_KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${LOOM_KAFKA_STOP_TIMEOUT:-30}"
HOST=127.0.0.1

ROOT="$CACHE/kafka"
LIBS="$ROOT/dist/$VERSION/libs"
INSTANCE="$ROOT/broker-$PORT"
DATA="$INSTANCE/data"
LOGS="$INSTANCE/logs"
PIDFILE="$INSTANCE/broker.pid"
PROPS="$INSTANCE/server.properties"

say() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

case "$PORT$CONTROLLER_PORT" in *[!0-9]*) die "LOOM_KAFKA_PORT / LOOM_KAFKA_CONTROLLER_PORT must be numbers" ;; esac
[ "$PORT" != "$CONTROLLER_PORT" ] || die "LOOM_KAFKA_CONTROLLER_PORT must differ from LOOM_KAFKA_PORT ($PORT)"

# Serialise every command on one lock per instance: concurrent `ensure` calls (parallel test runners)
# must not start two brokers or format twice.
lock() {
  mkdir -p "$INSTANCE"
  exec 9>"$INSTANCE/.lock"
  flock -w $((START_TIMEOUT + STOP_TIMEOUT + 600)) 9 || die "timed out waiting for the lock $INSTANCE/.lock"
}

# --- readiness probe -------------------------------------------------------------------------------------
# A Metadata v4 request (supported by Kafka 1.0 .. 4.x) over a raw socket; exit 0 when the broker answers
# with at least one live broker (KRaft lists a broker only once it is unfenced).
PROBE_JS='
const net = require("node:net");
const [host, port, ms] = process.argv.slice(-3);
const cid = Buffer.from("loom-kafka-sh");
const body = Buffer.alloc(4 + 2 + 2 + 4 + 2 + cid.length + 4 + 1);
let o = 4;
o = body.writeInt16BE(3, o); o = body.writeInt16BE(4, o); o = body.writeInt32BE(7, o);
o = body.writeInt16BE(cid.length, o); o += cid.copy(body, o);
o = body.writeInt32BE(0, o); o = body.writeInt8(0, o);
body.writeInt32BE(body.length - 4, 0);
let buf = Buffer.alloc(0);
const done = (code) => { try { sock.destroy(); } catch {} process.exit(code); };
const sock = net.connect({ host, port: Number(port) }, () => sock.write(body));
sock.setTimeout(Number(ms), () => done(2));
sock.on("error", () => done(1));
sock.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return;
  const ok = buf.readInt32BE(4) === 7 && buf.readInt32BE(12) >= 1;
  done(ok ? 0 : 3);
});
'
PROBE_RUNNER=""
find_probe_runner() {
  [ -z "$PROBE_RUNNER" ] || return 0
  if command -v node >/dev/null 2>&1; then
    PROBE_RUNNER=node
  elif command -v bun >/dev/null 2>&1; then
    PROBE_RUNNER=bun
  elif command -v deno >/dev/null 2>&1; then
    PROBE_RUNNER=deno
  else
    die "the readiness probe needs node, bun or deno on PATH"
  fi
}
probe() {
  find_probe_runner
  case "$PROBE_RUNNER" in
    node) node -e "$PROBE_JS" "$HOST" "$PORT" "${1:-2000}" ;;
    bun) bun -e "$PROBE_JS" "$HOST" "$PORT" "${1:-2000}" ;;
    deno) deno eval --ext=cjs "$PROBE_JS" "$HOST" "$PORT" "${1:-2000}" ;;
  esac >/dev/null 2>&1
}

# Is anything accepting connections on the client port? (bash /dev/tcp, no extra tools.)
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# --- process tracking ------------------------------------------------------------------------------------
# Prints the pid of this instance's broker when it is alive (the pid file is checked against the command
# line, so a recycled pid is not mistaken for the broker).
broker_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$PROPS" || return 1
  printf '%s\n' "$pid"
}

# --- install ---------------------------------------------------------------------------------------------
check_java() {
  command -v java >/dev/null 2>&1 || die "java not found on PATH (Java 17+ is required)"
  local v
  v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
  [ -n "$v" ] && [ "$v" -ge 17 ] || die "Java 17+ is required (found: $(java -version 2>&1 | head -n 1))"
}

install() {
  [ -f "$LIBS/.complete" ] && return 0
  command -v mvn >/dev/null 2>&1 || die "mvn not found on PATH: Maven is needed once to fetch the Kafka jars"
  local work="$ROOT/dist/$VERSION/work.$$"
  rm -rf "$work" "$LIBS.tmp"
  mkdir -p "$work"
  # The broker logs through SLF4J: 3.x ships reload4j as its backend, 4.x log4j2.
  local logging
  case "$VERSION" in
    3.*) logging='<dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>' ;;
    *) logging='<dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>' ;;
  esac
  cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>loom.local</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    $logging
  </dependencies>
</project>
EOF
  say "fetching Apache Kafka $VERSION jars from Maven Central (once) ..."
  if ! mvn -B -q -f "$work/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" >"$work/mvn.log" 2>&1; then
    tail -n 30 "$work/mvn.log" >&2
    die "Maven could not fetch org.apache.kafka:kafka_2.13:$VERSION (log above)"
  fi
  touch "$LIBS.tmp/.complete"
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
  rm -rf "$work"
}

# --- configuration ---------------------------------------------------------------------------------------
write_config() {
  mkdir -p "$DATA" "$LOGS"
  cat >"$PROPS" <<EOF
# Generated by scripts/kafka.sh (rewritten on every start).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$DATA
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
auto.create.topics.enable=true
delete.topic.enable=true
log.retention.hours=24
log.segment.bytes=67108864
num.network.threads=2
num.io.threads=4
EOF
  cat >"$INSTANCE/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$LOGS/server.log
log4j.appender.file.MaxFileSize=10MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
EOF
  cat >"$INSTANCE/log4j2.properties" <<EOF
status=warn
appender.file.type=RollingFile
appender.file.name=file
appender.file.fileName=$LOGS/server.log
appender.file.filePattern=$LOGS/server.log.%i
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
appender.file.policies.type=Policies
appender.file.policies.size.type=SizeBasedTriggeringPolicy
appender.file.policies.size.size=10MB
appender.file.strategy.type=DefaultRolloverStrategy
appender.file.strategy.max=2
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
logger.state.name=state.change.logger
logger.state.level=WARN
logger.clients.name=org.apache.kafka.clients
logger.clients.level=WARN
EOF
}

java_opts() {
  printf '%s\n' "-Xms$HEAP" "-Xmx$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    "-Dkafka.logs.dir=$LOGS" "-Dlog4j.configuration=file:$INSTANCE/log4j.properties" \
    "-Dlog4j2.configurationFile=$INSTANCE/log4j2.properties"
}

format_storage() {
  [ -f "$DATA/meta.properties" ] && return 0
  local id
  # a leading "-" would be read as an option by the storage tool ("--cluster-id: expected one argument"):
  # 1 id in 64, which once failed a test run
  id=-
  while [ "${id#-}" != "$id" ]; do id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'); done
  say "formatting KRaft storage in $DATA (cluster id $id)"
  local -a opts
  mapfile -t opts < <(java_opts)
  if ! java "${opts[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format -t "$id" -c "$PROPS" \
    >"$LOGS/format.log" 2>&1 9>&-; then
    cat "$LOGS/format.log" >&2
    die "formatting the storage failed (see above)"
  fi
}

# --- commands --------------------------------------------------------------------------------------------
wait_ready() {
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT))
  while ! probe 1000; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$LOGS/server.log" "$LOGS/console.out" 2>/dev/null >&2 || true
      die "the broker exited during startup (log above; full log: $LOGS/server.log)"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "the broker (pid $pid) is not ready after ${START_TIMEOUT}s; see $LOGS/server.log"
    sleep 0.2
  done
}

do_start() {
  local pid
  if pid=$(broker_pid); then
    wait_ready "$pid"
    return 0
  fi
  check_java
  if port_open "$PORT" || port_open "$CONTROLLER_PORT"; then
    die "port $PORT or $CONTROLLER_PORT on $HOST is already in use by a process this script did not start; stop it or set LOOM_KAFKA_PORT"
  fi
  install
  if [ -f "$INSTANCE/version" ] && [ "$(cat "$INSTANCE/version")" != "$VERSION" ]; then
    die "the data in $INSTANCE was written by Kafka $(cat "$INSTANCE/version"), not $VERSION: run '$0 reset' first"
  fi
  write_config
  format_storage
  printf '%s\n' "$VERSION" >"$INSTANCE/version"
  local -a opts
  mapfile -t opts < <(java_opts)
  say "starting Apache Kafka $VERSION on $HOST:$PORT (controller $HOST:$CONTROLLER_PORT, data $INSTANCE)"
  # setsid: the broker must outlive the shell (and the test process) that started it.
  setsid java "${opts[@]}" -cp "$LIBS/*" kafka.Kafka "$PROPS" </dev/null >>"$LOGS/console.out" 2>&1 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$PIDFILE"
  wait_ready "$pid"
  say "ready in ${SECONDS}s"
}

do_stop() {
  local pid
  if ! pid=$(broker_pid); then
    rm -f "$PIDFILE"
    say "not running"
    return 0
  fi
  say "stopping the broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "still running after ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$PIDFILE"
}

cmd="${1:-}"
case "$cmd" in
  ensure)
    lock
    do_start
    printf '%s:%s\n' "$HOST" "$PORT"
    ;;
  start)
    lock
    do_start
    ;;
  install)
    lock
    check_java
    install
    say "jars in $LIBS"
    ;;
  stop)
    lock
    do_stop
    ;;
  status)
    if pid=$(broker_pid); then
      if probe 2000; then state=ready; else state="not ready"; fi
      echo "running pid=$pid version=$(cat "$INSTANCE/version" 2>/dev/null) bootstrap=$HOST:$PORT ($state) data=$INSTANCE"
    else
      echo "stopped"
      exit 3
    fi
    ;;
  reset)
    lock
    do_stop
    rm -rf "$DATA" "$LOGS" "$INSTANCE/version" "$PROPS" "$INSTANCE/log4j.properties" "$INSTANCE/log4j2.properties"
    say "wiped $INSTANCE"
    ;;
  logs)
    if [ "${2:-}" = "-f" ]; then
      exec tail -n 100 -F "$LOGS/server.log"
    fi
    tail -n "${2:-200}" "$LOGS/server.log"
    ;;
  help | -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    [ -z "$cmd" ] || say "error: unknown command '$cmd'"
    exit 2
    ;;
esac
