#!/usr/bin/env bash
# scripts/infra.sh: the real Apache ZooKeeper, Kafka and Cassandra servers that
# Stock-System is developed and tested against, run from Maven Central artifacts
# with the local Java 17 (no Docker).
#
#   scripts/infra.sh up [--zk-ensemble 3] [--kafka-brokers 3] [--cassandra-nodes 3] [--only NAME[,NAME]] [--secure]
#   scripts/infra.sh down [--purge] [NAME...]
#   scripts/infra.sh start NAME | stop NAME     one server (zookeeper, zk1..zk3, kafka, kafka2, kafka3,
#                                               cassandra, cassandra2, cassandra3)
#   scripts/infra.sh status
#   scripts/infra.sh logs NAME [-f]
#   scripts/infra.sh env [--secure]             the STOCKSYS_* addresses (and secure settings), for `eval`
#
# --kafka-brokers 3 / --cassandra-nodes 3 (kept for the data folder until
# `down --purge`): kafka, kafka2, kafka3 on 127.0.0.1, .2, .3 (same ports; each
# a KRaft broker+controller, 3 voters; default replication 3,
# min.insync.replicas 2) and cassandra, cassandra2, cassandra3 likewise (one
# ring, 3 evenly spaced tokens, seed 127.0.0.1). All of 127.0.0.0/8 is
# loopback on Linux.
#
# --secure (kept for the data folder until `down --purge`): Kafka serves
# SASL_SSL only (SCRAM-SHA-512 users made when its storage is formatted),
# Cassandra PasswordAuthenticator + CassandraAuthorizer with client TLS
# required, both with a certificate from a throw-away CA (openssl, 30 days,
# SANs 127.0.0.1-3 and localhost) in $STOCKSYS_INFRA_DIR/secure, which also
# holds the user:password files (mode 600) a node reads: kafka.auth,
# cassandra.auth, zk.auth, zk-read.auth (ZooKeeper digest identities need no
# server setting). The default superuser cassandra/cassandra gets a random
# password (cassandra-admin.auth). `env --secure` prints the node settings.
#
# Environment (defaults in brackets):
#   STOCKSYS_ZK_PORT [2181]      ZooKeeper client port; the ensemble uses PORT..PORT+2
#   STOCKSYS_ZK_PEER_PORT [2888] ensemble quorum ports PORT+1..PORT+3, election ports PORT+1001..PORT+1003
#   STOCKSYS_KAFKA_PORT [9092]   Kafka PLAINTEXT listener
#   STOCKSYS_KAFKA_CONTROLLER_PORT [9093]
#   STOCKSYS_CASSANDRA_PORT [9042]          CQL native transport
#   STOCKSYS_CASSANDRA_STORAGE_PORT [7000]  inter-node storage port
#   STOCKSYS_INFRA_DIR [<repo>/.infra]      data, logs and pid files (git-ignored)
#   STOCKSYS_INFRA_CACHE [<repo>/.cache/infra]  resolved jars (git-ignored)
#   STOCKSYS_ZK_TICK_MS [50]  ZooKeeper tickTime: sessions expire on tick boundaries (README: the cost)
#   STOCKSYS_ZK_HEAP [256m] STOCKSYS_KAFKA_HEAP [512m] STOCKSYS_CASSANDRA_HEAP [1G]
#   STOCKSYS_CASSANDRA_FAST [1]  throwaway-node flags (skip fsync, short ring delay); 0 to turn off
#   STOCKSYS_CASSANDRA_MEMTABLE [trie]  trie (TrieMemtable with offheap_objects, as 5.0's cassandra-latest.yaml)
#                                or skiplist (heap_buffers, 5.0's cassandra.yaml); trie halves the data path's
#                                p99 under load here (README, "Data path benchmark")
#   STOCKSYS_CASSANDRA_GC_PAUSE_MS [50]  G1's -XX:MaxGCPauseMillis (Cassandra's jvm options say 300)
#
# Only processes this script started (pid file + a marker on their command line)
# are ever stopped. A server someone else runs on the same port is used as it is.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=${STOCKSYS_INFRA_DIR:-$ROOT/.infra}
CACHE=${STOCKSYS_INFRA_CACHE:-$ROOT/.cache/infra}
HOST=127.0.0.1
ZK_PORT=${STOCKSYS_ZK_PORT:-2181}
ZK_PEER_PORT=${STOCKSYS_ZK_PEER_PORT:-2888}
KAFKA_PORT=${STOCKSYS_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${STOCKSYS_KAFKA_CONTROLLER_PORT:-9093}
CASSANDRA_PORT=${STOCKSYS_CASSANDRA_PORT:-9042}
CASSANDRA_STORAGE_PORT=${STOCKSYS_CASSANDRA_STORAGE_PORT:-7000}
ZK_HEAP=${STOCKSYS_ZK_HEAP:-256m}
ZK_TICK_MS=${STOCKSYS_ZK_TICK_MS:-50}
[[ $ZK_TICK_MS =~ ^[0-9]+$ && $ZK_TICK_MS -ge 10 && $ZK_TICK_MS -le 500 ]] ||
  { printf 'infra: error: STOCKSYS_ZK_TICK_MS=%q: want milliseconds 10..500 (sessions of 1 s need a tick of at most 500 ms)\n' "$ZK_TICK_MS" >&2; exit 1; }
KAFKA_HEAP=${STOCKSYS_KAFKA_HEAP:-512m}
CASSANDRA_HEAP=${STOCKSYS_CASSANDRA_HEAP:-1G}
CASSANDRA_FAST=${STOCKSYS_CASSANDRA_FAST:-1}
CASSANDRA_MEMTABLE=${STOCKSYS_CASSANDRA_MEMTABLE:-trie}
CASSANDRA_GC_PAUSE_MS=${STOCKSYS_CASSANDRA_GC_PAUSE_MS:-50}
[[ $CASSANDRA_MEMTABLE == skiplist || $CASSANDRA_MEMTABLE == trie ]] ||
  { printf 'infra: error: STOCKSYS_CASSANDRA_MEMTABLE=%q: want skiplist or trie\n' "$CASSANDRA_MEMTABLE" >&2; exit 1; }
[[ $CASSANDRA_GC_PAUSE_MS =~ ^[0-9]+$ && $CASSANDRA_GC_PAUSE_MS -ge 1 ]] ||
  { printf 'infra: error: STOCKSYS_CASSANDRA_GC_PAUSE_MS=%q: want a number of milliseconds >= 1\n' "$CASSANDRA_GC_PAUSE_MS" >&2; exit 1; }
PROBE=$CACHE/bin/infra-probe
for v in ZK_PORT ZK_PEER_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT CASSANDRA_PORT CASSANDRA_STORAGE_PORT; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 1 && ${!v} -le 64000 ]] ||
    { printf 'infra: error: STOCKSYS_%s=%q: want a port number 1..64000\n' "$v" "${!v}" >&2; exit 1; }
done

# Seconds to wait for each server to answer after its start.
ZK_WAIT=60
KAFKA_WAIT=120
CASSANDRA_WAIT=300

say() { printf 'infra: %s\n' "$*" >&2; }
die() { printf 'infra: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- prerequisites

check_prereqs() {
  command -v java >/dev/null || die "java not found: install a Java 17 (or newer) JDK/JRE"
  local jv
  jv=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
  [[ ${jv%%.*} -ge 17 ]] 2>/dev/null || die "java $jv found; Java 17 or newer is required"
  command -v mvn >/dev/null || die "mvn not found: install Apache Maven 3.6+ (it downloads the servers from Maven Central)"
  command -v go >/dev/null || die "go not found: install Go (see go.mod for the version)"
}

# fetch PRODUCT: resolve scripts/infra/PRODUCT/pom.xml into $CACHE/PRODUCT/lib once
# (again only when the pom changes).
fetch() {
  local p=$1 pom=$ROOT/scripts/infra/$1/pom.xml lib=$CACHE/$1/lib
  local stamp
  stamp=$(sha256sum "$pom" | cut -d' ' -f1)
  if [[ -f $lib/.stamp && $(cat "$lib/.stamp") == "$stamp" ]]; then return 0; fi
  say "downloading $p from Maven Central (first run only) ..."
  rm -rf "$lib.tmp"
  if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$lib.tmp" >"$CACHE/$p-mvn.log" 2>&1; then
    tail -n 20 "$CACHE/$p-mvn.log" >&2
    die "$p: maven could not resolve $pom (full log: $CACHE/$p-mvn.log)"
  fi
  echo "$stamp" >"$lib.tmp/.stamp"
  rm -rf "$lib" && mv "$lib.tmp" "$lib"
}

build_probe() {
  mkdir -p "$CACHE/bin"
  (cd "$ROOT" && go build -o "$PROBE" ./cmd/infra-probe) || die "could not build cmd/infra-probe"
}

# ---------------------------------------------------------------- secure mode

SECURE_DIR=$RUN/secure
is_secure() { [[ -f $SECURE_DIR/mode ]]; }

# secret FILE: a random password (hex, no quoting needed anywhere), kept in FILE.
secret() {
  [[ -s $1 ]] || { openssl rand -hex 16 >"$1.tmp" && chmod 600 "$1.tmp" && mv "$1.tmp" "$1"; }
  cat "$1"
}

# make_secure: the CA, the servers' certificate and keystore, and the users'
# passwords, made once per data folder.
make_secure() {
  command -v openssl >/dev/null || die "--secure needs openssl (apt-get install openssl)"
  local d=$SECURE_DIR
  mkdir -p "$d"
  chmod 700 "$d"
  if [[ ! -f $d/server.p12 ]]; then
    say "secure: making a throw-away CA and the servers' certificate in $d"
    (
      cd "$d"
      openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=stocksys infra CA" \
        -keyout ca.key -out ca.pem 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -subj "/CN=$HOST" -keyout server.key -out server.csr 2>/dev/null
      printf 'subjectAltName=IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' >server.ext
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
        -extfile server.ext -out server.pem 2>/dev/null
      openssl pkcs12 -export -in server.pem -inkey server.key -certfile ca.pem -name server \
        -passout "pass:$(secret keystore.password)" -out server.p12
      chmod 600 ca.key server.key server.p12
    ) || die "secure: openssl failed making the certificates in $d"
  fi
  local u
  for u in kafka:stocksys kafka-admin:admin cassandra:stocksys zk:stocksys zk-read:reader; do
    [[ -s $d/${u%%:*}.auth ]] || { printf '%s:%s\n' "${u#*:}" "$(secret "$d/${u%%:*}.password")" >"$d/${u%%:*}.auth" && chmod 600 "$d/${u%%:*}.auth"; }
  done
  [[ -s $d/cassandra-admin.auth ]] || { echo "cassandra:cassandra" >"$d/cassandra-admin.auth" && chmod 600 "$d/cassandra-admin.auth"; }
  touch "$d/mode"
}

# password_of NAME: the password in $SECURE_DIR/NAME.auth (user:password).
password_of() { cut -d: -f2- "$SECURE_DIR/$1.auth"; }

# ---------------------------------------------------------------- process helpers

# Every server we start carries -Dstocksys.infra=<name>=<RUN> so that a stale pid
# file (pid reused by another process) is never mistaken for ours.
marker() { echo "-Dstocksys.infra=$1=$RUN"; }

pid_of() { # prints the pid if NAME was started by us and is alive
  local f=$RUN/$1/pid pid
  [[ -f $f ]] || return 1
  pid=$(cat "$f")
  [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$(marker "$1")" || return 1
  echo "$pid"
}

log_file() {
  case $1 in
    kafka*) echo "$RUN/$1/logs/server.log" ;;
    cassandra*) echo "$RUN/$1/logs/system.log" ;;
    *) echo "$RUN/$1/logs/zookeeper.log" ;;
  esac
}

# idx_of NAME: 1 for kafka and cassandra, N for kafkaN and cassandraN.
idx_of() { local n=${1##*[a-z]}; echo "${n:-1}"; }
# host_of NAME: the loopback address a Kafka broker or Cassandra node listens on.
host_of() { echo "127.0.0.$(idx_of "$1")"; }

# The engines' sizes of this data folder (up --kafka-brokers/--cassandra-nodes).
kafka_count() { if [[ -f $RUN/kafka-brokers ]]; then cat "$RUN/kafka-brokers"; else echo 1; fi; }
cassandra_count() { if [[ -f $RUN/cassandra-nodes ]]; then cat "$RUN/cassandra-nodes"; else echo 1; fi; }
kafka_names() { local i; echo -n kafka; for ((i = 2; i <= $(kafka_count); i++)); do echo -n " kafka$i"; done; echo; }
cassandra_names() { local i; echo -n cassandra; for ((i = 2; i <= $(cassandra_count); i++)); do echo -n " cassandra$i"; done; echo; }

addr_of() {
  case $1 in
    zookeeper | zk1) echo "$HOST:$ZK_PORT" ;;
    zk2) echo "$HOST:$((ZK_PORT + 1))" ;;
    zk3) echo "$HOST:$((ZK_PORT + 2))" ;;
    kafka | kafka2 | kafka3) echo "$(host_of "$1"):$KAFKA_PORT" ;;
    cassandra | cassandra2 | cassandra3) echo "$(host_of "$1"):$CASSANDRA_PORT" ;;
    *) die "unknown server '$1' (known: zookeeper, zk1, zk2, zk3, kafka, kafka2, kafka3, cassandra, cassandra2, cassandra3)" ;;
  esac
}

kind_of() { case $1 in zk*) echo zookeeper ;; kafka*) echo kafka ;; cassandra*) echo cassandra ;; *) echo "$1" ;; esac; }

probe() { # probe NAME -> prints "VERSION DETAIL"
  local name=$1 kind sec=()
  kind=$(kind_of "$name")
  if is_secure; then
    case $kind in
      kafka) sec=(-ca "$SECURE_DIR/ca.pem" -auth "$SECURE_DIR/kafka.auth") ;;
      cassandra) sec=(-ca "$SECURE_DIR/ca.pem" -auth "$SECURE_DIR/cassandra-admin.auth") ;;
    esac
  fi
  if [[ $kind == kafka ]]; then
    "$PROBE" -timeout 3s "${sec[@]}" kafka "$(addr_of "$name")" "$(log_file "$name")" 2>/dev/null
  else
    "$PROBE" -timeout 3s "${sec[@]}" "$kind" "$(addr_of "$name")" 2>/dev/null
  fi
}

port_busy() { (exec 3<>"/dev/tcp/${2:-$HOST}/$1") 2>/dev/null; }

launch() { # launch NAME CLASSPATH_DIR JAVA_ARGS...
  local name=$1 lib=$2
  shift 2
  mkdir -p "$RUN/$name/logs"
  # setsid: the server outlives this shell and its terminal's signals.
  setsid java "$(marker "$name")" -cp "$lib/*" "$@" \
    >"$RUN/$name/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name/pid"
  # Until the forked shell has exec'd java, /proc/PID/cmdline lacks the marker.
  local i
  for ((i = 0; i < 100; i++)); do
    pid_of "$name" >/dev/null && return 0
    kill -0 "$(cat "$RUN/$name/pid")" 2>/dev/null || return 0 # died: wait_ready reports it
    sleep 0.05
  done
}

wait_ready() { # wait_ready NAME SECONDS
  local name=$1 limit=$2 start=$SECONDS pid out
  pid=$(cat "$RUN/$name/pid")
  while true; do
    if out=$(probe "$name"); then
      say "$name $(addr_of "$name") up after $((SECONDS - start))s: $out"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      say "$name (pid $pid) exited during start; last lines of $(log_file "$name") and its stdout:"
      tail -n 25 "$(log_file "$name")" >&2 2>/dev/null || true
      tail -n 15 "$RUN/$name/logs/stdout.log" >&2 2>/dev/null || true
      die "$name failed to start (logs: $(log_file "$name"), $RUN/$name/logs/stdout.log)"
    fi
    if ((SECONDS - start >= limit)); then
      tail -n 25 "$(log_file "$name")" >&2 2>/dev/null || true
      die "$name did not answer on $(addr_of "$name") within ${limit}s (still running as pid $pid; log: $(log_file "$name"))"
    fi
    sleep 1
  done
}

stop_one() { # stop_one NAME: SIGTERM, then SIGKILL after 30 s
  local name=$1 pid i
  if ! pid=$(pid_of "$name"); then
    rm -f "$RUN/$name/pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name (pid $pid) ignored SIGTERM for 30s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$RUN/$name/pid"
  say "$name stopped"
}

# reuse_or_start NAME: shared part of every start.
# Returns 0 when NAME must be launched now, 1 when it is already served.
need_launch() {
  local name=$1 out
  if pid_of "$name" >/dev/null; then
    say "$name already running (pid $(pid_of "$name"))"
    return 1
  fi
  if out=$(probe "$name"); then
    say "$name: $(addr_of "$name") is already served by a process this script did not start ($out); using it"
    return 1
  fi
  local port=${2:-} host=${3:-$HOST}
  if [[ -n $port ]] && port_busy "$port" "$host"; then
    die "$name: port $port is in use by another program that is not a working $(kind_of "$name"); free it or set the port variable (see scripts/infra.sh header)"
  fi
  return 0
}

# ---------------------------------------------------------------- ZooKeeper

zk_common_cfg() {
  cat <<EOF
# A session expires at the first tick boundary after its timeout, so the tick
# bounds how late crash detection can be: ${ZK_TICK_MS} ms (ZooKeeper's default
# 2000 ms would add up to 2 s). initLimit and syncLimit count ticks: 20 s and
# 10 s whatever the tick. Sessions from 1 s to 40 s: tests use short timeouts.
tickTime=$ZK_TICK_MS
initLimit=$((20000 / ZK_TICK_MS))
syncLimit=$((10000 / ZK_TICK_MS))
minSessionTimeout=1000
maxSessionTimeout=40000
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok,mntr,stat,cons,conf
maxClientCnxns=0
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
EOF
}

zk_logback() { # zk_logback LOGFILE
  cat <<EOF
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$1</file>
    <encoder><pattern>%d{ISO8601} [myid:%X{myid}] %-5level [%thread] %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <!-- srvr probes every second during start would flood the log -->
  <logger name="org.apache.zookeeper.server.NIOServerCnxn" level="WARN"/>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
EOF
}

start_zk_server() { # start_zk_server NAME CLIENT_PORT [MYID]
  local name=$1 port=$2 myid=${3:-} dir=$RUN/$1 i
  need_launch "$name" "$port" || return 0
  fetch zookeeper
  mkdir -p "$dir/data" "$dir/logs"
  {
    zk_common_cfg
    echo "dataDir=$dir/data"
    if [[ -n $myid ]]; then
      # Client address in the server lines (ZooKeeper 3.5+ form); a separate
      # clientPortAddress would conflict with the dynamic config it derives.
      echo "standaloneEnabled=false"
      echo "reconfigEnabled=false"
      for i in 1 2 3; do
        echo "server.$i=$HOST:$((ZK_PEER_PORT + i)):$((ZK_PEER_PORT + 1000 + i));$HOST:$((ZK_PORT + i - 1))"
      done
    else
      echo "clientPort=$port"
      echo "clientPortAddress=$HOST"
    fi
  } >"$dir/zoo.cfg"
  rm -f "$dir"/zoo.cfg.dynamic* "$dir"/zoo.cfg.bak
  [[ -n $myid ]] && echo "$myid" >"$dir/data/myid"
  zk_logback "$dir/logs/zookeeper.log" >"$dir/logback.xml"
  say "starting $name on $HOST:$port"
  launch "$name" "$CACHE/zookeeper/lib" -Xms"$ZK_HEAP" -Xmx"$ZK_HEAP" -XX:+UseG1GC \
    -Dlogback.configurationFile="$dir/logback.xml" -Dzookeeper.jmx.log4j.disable=true \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg"
}

zk_names() { # the ZooKeeper servers of the current mode
  if [[ -f $RUN/zk-mode && $(cat "$RUN/zk-mode") == ensemble ]]; then echo "zk1 zk2 zk3"; else echo zookeeper; fi
}

up_zookeeper() {
  local ensemble=$1 n
  mkdir -p "$RUN"
  if [[ $ensemble == 3 ]]; then
    if pid_of zookeeper >/dev/null; then
      say "switching ZooKeeper from standalone to a 3-server ensemble"
      stop_one zookeeper
    fi
    echo ensemble >"$RUN/zk-mode"
    for n in 1 2 3; do start_zk_server "zk$n" $((ZK_PORT + n - 1)) "$n"; done
    for n in 1 2 3; do [[ -f $RUN/zk$n/pid ]] && pid_of "zk$n" >/dev/null && wait_ready "zk$n" "$ZK_WAIT"; done
  else
    if [[ $(zk_names) != zookeeper ]] && { pid_of zk1 >/dev/null || pid_of zk2 >/dev/null || pid_of zk3 >/dev/null; }; then
      say "a 3-server ZooKeeper ensemble is running; keeping it (down first for a standalone server)"
      return 0
    fi
    echo standalone >"$RUN/zk-mode"
    start_zk_server zookeeper "$ZK_PORT"
    if pid_of zookeeper >/dev/null; then wait_ready zookeeper "$ZK_WAIT"; fi
  fi
}

# ---------------------------------------------------------------- Kafka

# up_kafka [COUNT]: the brokers of the data folder (COUNT 1 or 3 sets their
# number, kept in $RUN/kafka-brokers). A quorum of 3 controllers needs 2 to
# elect a leader, so all are launched before any is waited for.
up_kafka() {
  local count=${1:-$(kafka_count)} name launched=()
  if [[ -f $RUN/kafka/data/meta.properties && $count != "$(kafka_count)" ]]; then
    die "kafka: $RUN has $(kafka_count) broker(s); run 'infra.sh down --purge kafka' before changing to $count"
  fi
  echo "$count" >"$RUN/kafka-brokers"
  fetch kafka
  for name in $(kafka_names); do
    if prepare_kafka "$name"; then launched+=("$name"); fi
  done
  for name in "${launched[@]}"; do wait_ready "$name" "$KAFKA_WAIT"; done
}

# prepare_kafka NAME: configures, formats (first time) and launches one
# broker; returns 1 when it already runs.
prepare_kafka() {
  local name=$1 dir=$RUN/$1 h idx count voters i
  h=$(host_of "$name")
  idx=$(idx_of "$name")
  count=$(kafka_count)
  need_launch "$name" "$KAFKA_PORT" "$h" || return 1
  mkdir -p "$dir/data" "$dir/logs"
  voters="1@$HOST:$KAFKA_CONTROLLER_PORT"
  for ((i = 2; i <= count; i++)); do voters+=",$i@127.0.0.$i:$KAFKA_CONTROLLER_PORT"; done
  # Replication 3 and min ISR 2 with 3 brokers (a broker may be lost without
  # refusing acks=all writes); 1 and 1 with one. A broker killed with -9 is
  # fenced after broker.session.timeout.ms (3 s here, Kafka's default 9 s),
  # when its partitions' leadership moves.
  local rf=1 isr=1
  ((count >= 3)) && rf=3 isr=2
  # Transactions on one broker (stream.TxProducer): the transaction state log
  # (__transaction_state, created on the first FindCoordinator for a
  # transactional id) must fit on one broker: replication factor and min ISR 1
  # (the defaults, 3 and 2, would refuse InitProducerId with
  # COORDINATOR_NOT_AVAILABLE for ever), and 3 partitions instead of 50 so
  # that its creation takes a moment, not seconds. A producer's
  # transaction.timeout.ms (sarama default 1m) must stay at most
  # transaction.max.timeout.ms (15m, the default). Changing the partition
  # count later has no effect once the topic exists.
  local listener=PLAINTEXT
  if is_secure; then
    [[ ! -f $dir/data/meta.properties || -f $dir/secure ]] ||
      die "$name: $dir/data was formatted without --secure (no SCRAM users): run 'infra.sh down --purge kafka' first"
    listener=SASL_SSL
  elif [[ -f $dir/secure ]]; then
    die "$name: $dir/data was formatted with --secure: run 'infra.sh down --purge kafka' first"
  fi
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$idx
controller.quorum.voters=$voters
listeners=$listener://$h:$KAFKA_PORT,CONTROLLER://$h:$KAFKA_CONTROLLER_PORT
advertised.listeners=$listener://$h:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=$listener
listener.security.protocol.map=CONTROLLER:PLAINTEXT,$listener:$listener
log.dirs=$dir/data
num.partitions=3
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=3
transaction.max.timeout.ms=900000
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.hours=168
log.segment.bytes=67108864
EOF
  if is_secure; then
    # Clients and the broker itself authenticate with SCRAM-SHA-512 over
    # TLS; the controller listener stays on loopback, plaintext (KRaft's
    # quorum traffic, not a client listener).
    cat >>"$dir/server.properties" <<EOF
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(password_of kafka-admin)";
ssl.keystore.type=PKCS12
ssl.keystore.location=$SECURE_DIR/server.p12
ssl.keystore.password=$(cat "$SECURE_DIR/keystore.password")
ssl.key.password=$(cat "$SECURE_DIR/keystore.password")
ssl.truststore.type=PEM
ssl.truststore.location=$SECURE_DIR/ca.pem
ssl.endpoint.identification.algorithm=https
ssl.client.auth=none
EOF
    chmod 600 "$dir/server.properties"
  fi
  cat >"$dir/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $dir/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.org.name = org.apache.kafka
logger.org.level = INFO
EOF
  local java_opts=(-Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$dir/log4j2.properties")
  if [[ ! -f $dir/data/meta.properties ]]; then
    # One cluster id for every broker of the data folder.
    local id
    if [[ -s $RUN/kafka-cluster-id ]]; then
      id=$(cat "$RUN/kafka-cluster-id")
    else
      id=$(java -cp "$CACHE/kafka/lib/*" "${java_opts[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
      [[ -n $id ]] || die "kafka: StorageTool random-uuid failed"
      echo "$id" >"$RUN/kafka-cluster-id"
    fi
    local scram=()
    if is_secure; then
      scram=(--add-scram "SCRAM-SHA-512=[name=admin,password=$(password_of kafka-admin)]"
        --add-scram "SCRAM-SHA-512=[name=$(cut -d: -f1 "$SECURE_DIR/kafka.auth"),password=$(password_of kafka)]")
    fi
    if ! java -cp "$CACHE/kafka/lib/*" "${java_opts[@]}" kafka.tools.StorageTool format -t "$id" \
        -c "$dir/server.properties" -g "${scram[@]}" >"$dir/logs/format.log" 2>&1; then
      cat "$dir/logs/format.log" >&2
      die "$name: formatting $dir/data failed (log: $dir/logs/format.log)"
    fi
    if is_secure; then touch "$dir/secure"; fi
  fi
  : >"$dir/logs/server.log.start"
  say "starting $name on $h:$KAFKA_PORT (controller $h:$KAFKA_CONTROLLER_PORT)$(is_secure && echo ", SASL_SSL")"
  launch "$name" "$CACHE/kafka/lib" "${java_opts[@]}" kafka.Kafka "$dir/server.properties"
}

# ---------------------------------------------------------------- Cassandra

# up_cassandra [COUNT]: the nodes of the data folder (COUNT 1 or 3, kept in
# $RUN/cassandra-nodes), started one after the other (Cassandra lets one
# node join the ring at a time).
up_cassandra() {
  local count=${1:-$(cassandra_count)} name
  if [[ -f $RUN/cassandra/cassandra.yaml && $count != "$(cassandra_count)" ]]; then
    die "cassandra: $RUN has $(cassandra_count) node(s); run 'infra.sh down --purge cassandra' before changing to $count"
  fi
  echo "$count" >"$RUN/cassandra-nodes"
  fetch cassandra
  for name in $(cassandra_names); do start_cassandra "$name"; done
  if is_secure; then cassandra_roles; fi
}

# token_of IDX COUNT: node IDX's token, COUNT tokens evenly spaced over
# Murmur3's range (-2^63 .. 2^63-1): 0 for one node.
token_of() {
  case $2:$1 in
    1:*) echo 0 ;;
    3:1) echo -9223372036854775808 ;; # -2^63 + k * 2^64/3
    3:2) echo -3074457345618258603 ;;
    3:3) echo 3074457345618258602 ;;
    *) die "no token for node $1 of $2" ;;
  esac
}

start_cassandra() {
  local name=$1 dir=$RUN/$1 h idx
  h=$(host_of "$name")
  idx=$(idx_of "$name")
  need_launch "$name" "$CASSANDRA_PORT" "$h" || return 0
  mkdir -p "$dir"/{data,commitlog,saved_caches,hints,cdc_raw,logs}
  cat >"$dir/cassandra.yaml" <<EOF
cluster_name: stocksys-dev
num_tokens: 1
initial_token: $(token_of "$idx" "$(cassandra_count)")
auto_bootstrap: false
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
data_file_directories: [$dir/data]
commitlog_directory: $dir/commitlog
saved_caches_directory: $dir/saved_caches
hints_directory: $dir/hints
cdc_raw_directory: $dir/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10000ms
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$HOST:$CASSANDRA_STORAGE_PORT"
listen_address: $h
rpc_address: $h
storage_port: $CASSANDRA_STORAGE_PORT
native_transport_port: $CASSANDRA_PORT
start_native_transport: true
auto_snapshot: false
disk_access_mode: standard
EOF
  if is_secure; then
    [[ -z $(ls -A "$dir/data" 2>/dev/null) || -f $dir/secure ]] ||
      die "$name: $dir/data was made without --secure: run 'infra.sh down --purge cassandra' first"
    touch "$dir/secure"
    cat >>"$dir/cassandra.yaml" <<EOF
authenticator: PasswordAuthenticator
authorizer: CassandraAuthorizer
role_manager: CassandraRoleManager
client_encryption_options:
  enabled: true
  optional: false
  keystore: $SECURE_DIR/server.p12
  keystore_password: $(cat "$SECURE_DIR/keystore.password")
  store_type: PKCS12
  require_client_auth: false
EOF
    chmod 600 "$dir/cassandra.yaml"
  else
    [[ ! -f $dir/secure ]] || die "$name: $dir/data was made with --secure: run 'infra.sh down --purge cassandra' first"
    cat >>"$dir/cassandra.yaml" <<EOF
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
EOF
  fi
  if [[ $CASSANDRA_MEMTABLE == trie ]]; then
    cat >>"$dir/cassandra.yaml" <<EOF
memtable_allocation_type: offheap_objects
memtable:
  configurations:
    skiplist:
      class_name: SkipListMemtable
    trie:
      class_name: TrieMemtable
    default:
      inherits: trie
EOF
  fi
  cat >"$dir/logback.xml" <<EOF
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$dir/logs/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
EOF
  local lib=$CACHE/cassandra/lib jamm
  jamm=$(ls "$lib"/jamm-*.jar 2>/dev/null | head -n 1)
  [[ -n $jamm ]] || die "cassandra: jamm jar missing from $lib"
  local opts=(-Xms"$CASSANDRA_HEAP" -Xmx"$CASSANDRA_HEAP" -Xss256k -XX:+UseG1GC -XX:MaxGCPauseMillis="$CASSANDRA_GC_PAUSE_MS" -XX:+ExitOnOutOfMemoryError
    -javaagent:"$jamm" -Djdk.attach.allowAttachSelf=true -Djava.net.preferIPv4Stack=true
    -Dio.netty.tryReflectionSetAccessible=true -Dchronicle.analytics.disable=true
    -Dcassandra-foreground=yes -Dcassandra.config="file://$dir/cassandra.yaml"
    -Dlogback.configurationFile="$dir/logback.xml" -Dcassandra.logdir="$dir/logs"
    -Dcassandra.storagedir="$dir" -Dcassandra.skip_wait_for_gossip_to_settle=0)
  if [[ $CASSANDRA_FAST == 1 ]]; then
    opts+=(-Dcassandra.ring_delay_ms=1000 -Dcassandra.skip_sync=true)
  fi
  # The default superuser at once, not 10 s after start.
  if is_secure; then opts+=(-Dcassandra.superuser_setup_delay_ms=0); fi
  local x
  for x in java.base/jdk.internal.misc java.management.rmi/com.sun.jmx.remote.internal.rmi \
      java.management/com.sun.jmx.remote.security java.rmi/sun.rmi.registry java.rmi/sun.rmi.server \
      java.sql/java.sql java.base/java.lang.ref jdk.unsupported/sun.misc; do
    opts+=(--add-exports "$x=ALL-UNNAMED")
  done
  for x in java.base/java.lang.module java.base/jdk.internal.loader java.base/jdk.internal.ref \
      java.base/jdk.internal.reflect java.base/jdk.internal.math java.base/jdk.internal.module \
      java.base/jdk.internal.util.jar jdk.management/com.sun.management.internal java.base/sun.nio.ch \
      java.base/java.io java.base/java.lang.reflect java.base/java.lang java.base/java.util java.base/java.nio; do
    opts+=(--add-opens "$x=ALL-UNNAMED")
  done
  say "starting $name on $h:$CASSANDRA_PORT (heap $CASSANDRA_HEAP, $CASSANDRA_MEMTABLE memtables, GC pause target ${CASSANDRA_GC_PAUSE_MS} ms)"
  launch "$name" "$lib" "${opts[@]}" org.apache.cassandra.service.CassandraDaemon
  wait_ready "$name" "$CASSANDRA_WAIT"
}

# cassandra_roles: the node's role (login, CREATE on all keyspaces: it
# creates its keyspace and so owns it), then a random password for the
# default superuser cassandra. Once per data folder.
cassandra_roles() {
  [[ -f $RUN/cassandra/roles ]] && return 0
  local user admin
  user=$(cut -d: -f1 "$SECURE_DIR/cassandra.auth")
  admin=$(secret "$SECURE_DIR/cassandra-admin.password")
  "$PROBE" -timeout 60s -ca "$SECURE_DIR/ca.pem" -auth "$SECURE_DIR/cassandra-admin.auth" cql "$HOST:$CASSANDRA_PORT" \
    "CREATE ROLE IF NOT EXISTS $user WITH PASSWORD = '$(password_of cassandra)' AND LOGIN = true" \
    "GRANT CREATE ON ALL KEYSPACES TO $user" \
    "ALTER ROLE cassandra WITH PASSWORD = '$admin'" >/dev/null ||
    die "cassandra: creating the role $user failed (log: $(log_file cassandra))"
  echo "cassandra:$admin" >"$SECURE_DIR/cassandra-admin.auth"
  touch "$RUN/cassandra/roles"
  say "cassandra: role $user can log in and create keyspaces; the superuser cassandra's new password is in $SECURE_DIR/cassandra-admin.auth"
}

# ---------------------------------------------------------------- commands

all_names() { echo "zookeeper zk1 zk2 zk3 kafka kafka2 kafka3 cassandra cassandra2 cassandra3"; }

cmd_up() {
  local ensemble=1 only="zookeeper,kafka,cassandra" secure=0 brokers="" cnodes=""
  while (($#)); do
    case $1 in
      --zk-ensemble)
        [[ ${2:-} == 1 || ${2:-} == 3 ]] || die "--zk-ensemble takes 1 or 3, not '${2:-}'"
        ensemble=$2
        shift 2
        ;;
      --only)
        only=${2:-}
        shift 2
        ;;
      --secure)
        secure=1
        shift
        ;;
      --kafka-brokers)
        [[ ${2:-} == 1 || ${2:-} == 3 ]] || die "--kafka-brokers takes 1 or 3, not '${2:-}'"
        brokers=$2
        shift 2
        ;;
      --cassandra-nodes)
        [[ ${2:-} == 1 || ${2:-} == 3 ]] || die "--cassandra-nodes takes 1 or 3, not '${2:-}'"
        cnodes=$2
        shift 2
        ;;
      *) die "up: unknown argument '$1' (usage: up [--zk-ensemble 3] [--kafka-brokers 3] [--cassandra-nodes 3] [--only zookeeper,kafka,cassandra] [--secure])" ;;
    esac
  done
  check_prereqs
  mkdir -p "$RUN" "$CACHE"
  if ((secure)) && ! is_secure; then
    # A folder whose servers were made plain cannot be secured in place
    # (Kafka's SCRAM users are written when its storage is formatted):
    # refuse before anything is written.
    local n
    for n in kafka kafka2 kafka3 cassandra cassandra2 cassandra3; do
      if pid_of "$n" >/dev/null || [[ -f $RUN/$n/data/meta.properties || -n $(ls -A "$RUN/$n/data" 2>/dev/null) ]]; then
        die "up --secure: $RUN already holds plain servers ($n); run 'infra.sh down --purge' first, or use another STOCKSYS_INFRA_DIR"
      fi
    done
  fi
  if ((secure)); then
    make_secure
  elif is_secure; then
    say "$RUN was set up with --secure: its servers start secured (down --purge drops that)"
  fi
  build_probe
  local t0=$SECONDS item
  IFS=, read -ra items <<<"$only"
  for item in "${items[@]}"; do
    case $item in
      zookeeper) up_zookeeper "$ensemble" ;;
      kafka) up_kafka "$brokers" ;;
      cassandra) up_cassandra "$cnodes" ;;
      *) die "--only: unknown server '$item' (known: zookeeper, kafka, cassandra)" ;;
    esac
  done
  say "ready in $((SECONDS - t0))s"
  if is_secure; then cmd_env --secure; else cmd_env; fi
}

cmd_down() {
  local purge=0 names=()
  while (($#)); do
    case $1 in
      --purge) purge=1 ;;
      -*) die "down: unknown flag '$1' (usage: down [--purge] [NAME...])" ;;
      *) addr_of "$1" >/dev/null && names+=("$1") ;;
    esac
    shift
  done
  ((${#names[@]})) || read -ra names <<<"$(all_names)"
  local n
  # Reverse order: clients of ZooKeeper stop before it.
  # Kafka brokers stop together: a KRaft broker+controller left alone after
  # the others have gone has no controller quorum and cannot finish its
  # shutdown (it would wait for the SIGKILL after 30 s).
  local brokers=() pids=()
  for n in "${names[@]}"; do
    if [[ $n == kafka* ]] && pid_of "$n" >/dev/null; then brokers+=("$n"); fi
  done
  if ((${#brokers[@]} > 1)); then
    for n in "${brokers[@]}"; do stop_one "$n" & pids+=($!); done
    wait "${pids[@]}"
  fi
  for ((i = ${#names[@]} - 1; i >= 0; i--)); do stop_one "${names[i]}"; done
  if ((purge)); then
    for n in "${names[@]}"; do rm -rf "${RUN:?}/$n"; done
    for n in "${names[@]}"; do
      case $n in
        kafka) rm -f "$RUN/kafka-brokers" "$RUN/kafka-cluster-id" ;;
        cassandra) rm -f "$RUN/cassandra-nodes" ;;
      esac
    done
    if [[ -d $RUN ]] && [[ -z $(ls -A "$RUN" | grep -vE '^(zk-mode|secure|kafka-brokers|kafka-cluster-id|cassandra-nodes)$' || true) ]]; then rm -rf "$RUN"; fi
    say "purged data of: ${names[*]}"
  fi
}

cmd_status() {
  [[ -x $PROBE ]] || build_probe
  local rc=0 names name out kind state
  names="$(zk_names) $(kafka_names) $(cassandra_names)"
  for name in $names; do
    kind=$(kind_of "$name")
    state=up
    if out=$(probe "$name"); then
      read -r version detail <<<"$out"
      [[ $name == zk? || $(kafka_count) == 3 && $kind == kafka || $(cassandra_count) == 3 && $kind == cassandra ]] && detail="$name $detail"
      pid_of "$name" >/dev/null || detail="$detail external"
    else
      version=-
      detail=""
      state=down
      rc=1
    fi
    detail=${detail# }
    printf '%s %s %s %s%s\n' "$kind" "$version" "$(addr_of "$name")" "$state" "${detail:+ ($detail)}"
  done
  return $rc
}

cmd_running() { # names of servers this script started that are alive
  local n
  for n in $(all_names); do pid_of "$n" >/dev/null && echo "$n"; done
  return 0
}

cmd_logs() {
  local name=${1:-}
  [[ -n $name ]] || die "usage: logs NAME [-f] (NAME: zookeeper, zk1, zk2, zk3, kafka, cassandra)"
  addr_of "$name" >/dev/null
  local f
  f=$(log_file "$name")
  [[ -f $f ]] || die "$name: no log at $f (never started here?)"
  if [[ ${2:-} == -f ]]; then tail -n 50 -F "$f"; else tail -n "${LINES_SHOWN:-100}" "$f"; fi
}

cmd_env() {
  local zk
  if [[ $(zk_names) == zookeeper ]]; then
    zk="$HOST:$ZK_PORT"
  else
    zk="$HOST:$ZK_PORT,$HOST:$((ZK_PORT + 1)),$HOST:$((ZK_PORT + 2))"
  fi
  local kafka="" cass="" n
  for n in $(kafka_names); do kafka+=${kafka:+,}$(addr_of "$n"); done
  for n in $(cassandra_names); do cass+=${cass:+,}$(addr_of "$n"); done
  echo "export STOCKSYS_ZK=$zk STOCKSYS_KAFKA=$kafka STOCKSYS_CASSANDRA=$cass"
  case ${1:-} in
    --secure)
      is_secure || die "env --secure: $RUN was not set up with 'up --secure'"
      local d=$SECURE_DIR
      echo "export STOCKSYS_KAFKA_CA_FILE=$d/ca.pem STOCKSYS_KAFKA_AUTH_FILE=$d/kafka.auth" \
        "STOCKSYS_CASSANDRA_CA_FILE=$d/ca.pem STOCKSYS_CASSANDRA_AUTH_FILE=$d/cassandra.auth" \
        "STOCKSYS_ZK_AUTH_FILE=$d/zk.auth STOCKSYS_ZK_READ_AUTH_FILE=$d/zk-read.auth"
      ;;
    "") ;;
    *) die "env: unknown argument '$1' (usage: env [--secure])" ;;
  esac
}

cmd_start() {
  local name=${1:-}
  [[ -n $name ]] || die "usage: start NAME"
  check_prereqs
  build_probe
  case $name in
    zookeeper) up_zookeeper 1 ;;
    zk1 | zk2 | zk3)
      [[ $(zk_names) != zookeeper ]] || die "$name is a member of the 3-server ensemble: run 'up --zk-ensemble 3' first"
      local n=${name#zk}
      start_zk_server "$name" $((ZK_PORT + n - 1)) "$n"
      pid_of "$name" >/dev/null && wait_ready "$name" "$ZK_WAIT"
      ;;
    kafka | kafka2 | kafka3)
      (($(idx_of "$name") <= $(kafka_count))) || die "$name: this data folder has $(kafka_count) Kafka broker(s) (up --kafka-brokers 3)"
      fetch kafka
      if prepare_kafka "$name"; then wait_ready "$name" "$KAFKA_WAIT"; fi
      ;;
    cassandra | cassandra2 | cassandra3)
      (($(idx_of "$name") <= $(cassandra_count))) || die "$name: this data folder has $(cassandra_count) Cassandra node(s) (up --cassandra-nodes 3)"
      fetch cassandra
      start_cassandra "$name"
      if is_secure; then cassandra_roles; fi
      ;;
    *) addr_of "$name" >/dev/null ;;
  esac
}

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  shift || true
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    env) cmd_env "$@" ;;
    running) cmd_running ;;
    start) cmd_start "$@" ;;
    stop)
      [[ -n ${1:-} ]] || die "usage: stop NAME"
      addr_of "$1" >/dev/null
      stop_one "$1"
      ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
