#!/usr/bin/env bash
# scripts/cluster.sh: a local Stock-System cluster of `stocksys node` processes,
# on the servers of scripts/infra.sh.
#
#   scripts/cluster.sh up N [-- NODE-FLAGS...]   start node-1..node-N (background; pid files and logs in .run/cluster/<cluster>)
#   scripts/cluster.sh down                       SIGTERM every node, SIGKILL after 30 s
#   scripts/cluster.sh ps                         id, pid, alive, role, HTTP address
#   scripts/cluster.sh start ID [-- NODE-FLAGS...] start one node (node-4 joins, say)
#   scripts/cluster.sh kill ID                    SIGKILL (a crash)
#   scripts/cluster.sh stop ID                    SIGTERM (graceful handover); waits and prints the exit code
#   scripts/cluster.sh pause ID SECONDS [--wait]  SIGSTOP, then SIGCONT after SECONDS (in the background unless --wait)
#   scripts/cluster.sh restart ID                 stop, then start with the same flags
#   scripts/cluster.sh logs ID [-f]
#
# Nodes get the environment of this script (STOCKSYS_ZK, STOCKSYS_CLUSTER, ...:
# see `bin/stocksys node --help`) plus the NODE-FLAGS given. Node N serves HTTP on
# 127.0.0.1:<STOCKSYS_HTTP_BASE + N> (base 8080: node-1 on 8081; an id without a number
# takes any free port; a port in the kernel's ephemeral range gets a warning). STOCKSYS_CLUSTER_DIR moves .run/cluster/<cluster> elsewhere; STOCKSYS_CLUSTER_BIN runs another binary (no build).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${STOCKSYS_CLUSTER_DIR:-$ROOT/.run/cluster/${STOCKSYS_CLUSTER:-default}} # one folder per cluster name
BIN=${STOCKSYS_CLUSTER_BIN:-$ROOT/bin/stocksys} # tests run their own build
HTTP_BASE=${STOCKSYS_HTTP_BASE:-8080}
[[ $HTTP_BASE =~ ^[0-9]+$ && $HTTP_BASE -ge 1 && $HTTP_BASE -le 65000 ]] ||
  { printf 'cluster: error: STOCKSYS_HTTP_BASE=%q: want a port number 1..65000\n' "$HTTP_BASE" >&2; exit 1; }

say() { printf 'cluster: %s\n' "$*" >&2; }
die() { printf 'cluster: error: %s\n' "$*" >&2; exit 1; }

build() {
  mkdir -p "$ROOT/bin"
  (cd "$ROOT" && go build -o "$BIN" ./cmd/stocksys) || die "go build ./cmd/stocksys failed"
}

# warn_ephemeral ID PORT: warn if PORT is in the kernel's ephemeral port range,
# where an outgoing connection can hold it when the node binds it.
warn_ephemeral() {
  local lo=32768 hi=60999
  [[ -r /proc/sys/net/ipv4/ip_local_port_range ]] && read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
  if (($2 >= lo && $2 <= hi)); then
    say "warning: $1's HTTP port $2 (STOCKSYS_HTTP_BASE=$HTTP_BASE) is in the kernel's ephemeral port range $lo-$hi (/proc/sys/net/ipv4/ip_local_port_range): an outgoing connection can take it; choose a base below $((lo - 100)) or pass --http"
  fi
  return 0
}

valid_id() { [[ $1 =~ ^[A-Za-z0-9._-]{1,64}$ && $1 != . && $1 != .. ]] || die "bad node id '$1' (1-64 characters of [A-Za-z0-9._-])"; }

pid_of() { # prints the pid if ID is alive (and is a stocksys node)
  local f=$DIR/$1.pid pid
  [[ -f $f ]] || return 1
  pid=$(cat "$f")
  [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "node --id $1 " || return 1
  echo "$pid"
}

start_one() { # start_one ID [FLAGS...]
  local id=$1
  shift
  valid_id "$id"
  if pid_of "$id" >/dev/null; then
    say "$id already running (pid $(pid_of "$id"))"
    return 0
  fi
  mkdir -p "$DIR"
  [[ -x $BIN ]] || build
  if (($#)); then printf '%s\n' "$@" >"$DIR/$id.args"; elif [[ ! -f $DIR/$id.args ]]; then : >"$DIR/$id.args"; fi
  local args=()
  mapfile -t args <"$DIR/$id.args"
  rm -f "$DIR/$id.exit" "$DIR/$id.pid"
  local http=()
  if ! printf '%s\n' "${args[@]}" | grep -q -- '^--http'; then
    if [[ $id =~ ([0-9]+)$ ]] && ((HTTP_BASE + 10#${BASH_REMATCH[1]} <= 65535)); then
      http=(--http "127.0.0.1:$((HTTP_BASE + 10#${BASH_REMATCH[1]}))")
      warn_ephemeral "$id" "$((HTTP_BASE + 10#${BASH_REMATCH[1]}))"
    else
      http=(--http "127.0.0.1:0") # no number in the id: any free port (see ps)
    fi
  fi
  # The wrapper records the node's pid and, when it ends, its exit code.
  LOG="$DIR/$id.log" PIDF="$DIR/$id.pid" EXITF="$DIR/$id.exit" \
    setsid bash -c '"$@" </dev/null >>"$LOG" 2>&1 & echo $! >"$PIDF"; wait $!; echo $? >"$EXITF"' _ \
    "$BIN" node --id "$id" --audit "$DIR/$id.audit.jsonl" "${http[@]}" "${args[@]}" >/dev/null 2>&1 &
  local i pid=""
  for ((i = 0; i < 100; i++)); do [[ -s $DIR/$id.pid ]] && break; sleep 0.05; done
  pid=$(cat "$DIR/$id.pid" 2>/dev/null || true)
  # Started means: alive and serving HTTP (it validated its configuration and
  # bound its port); a node that exits at once is reported with its log.
  for ((i = 0; i < 200; i++)); do
    if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
      say "$id exited at once (exit code $(cat "$DIR/$id.exit" 2>/dev/null || echo ?)); last lines of $DIR/$id.log:"
      tail -n 5 "$DIR/$id.log" >&2 2>/dev/null || true
      return 1
    fi
    grep -q '"msg":"node: starting"\|node: starting' "$DIR/$id.log" 2>/dev/null && break
    sleep 0.05
  done
  say "$id started (pid $pid, log $DIR/$id.log)"
}

wait_exit() { # wait_exit ID SECONDS: 0 if the node exited in time
  local id=$1 limit=$2 pid i
  pid=$(cat "$DIR/$id.pid" 2>/dev/null) || return 0
  for ((i = 0; i < limit * 20; i++)); do
    kill -0 "$pid" 2>/dev/null || {
      for ((i = 0; i < 20; i++)); do [[ -s $DIR/$id.exit ]] && break; sleep 0.05; done
      return 0
    }
    sleep 0.05
  done
  return 1
}

stop_one() { # stop_one ID: SIGTERM, wait up to 30 s, then SIGKILL; prints the exit code
  local id=$1 pid
  pid=$(pid_of "$id") || { say "$id is not running"; return 1; }
  kill -CONT "$pid" 2>/dev/null || true # a paused node cannot handle SIGTERM
  kill -TERM "$pid"
  if ! wait_exit "$id" 30; then
    say "$id ignored SIGTERM for 30s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_exit "$id" 5 || true
  fi
  say "$id stopped (exit code $(cat "$DIR/$id.exit" 2>/dev/null || echo unknown))"
}

ids() { # every node id with a pid file, sorted by number
  local f
  for f in "$DIR"/*.pid; do [[ -e $f ]] && basename "$f" .pid; done | sort -V
}

master_id() {
  "$BIN" status --json 2>/dev/null | awk '/"master": \{/ {m=1} m && /"id":/ {gsub(/[",]/, "", $2); print $2; exit}'
}

cmd_up() {
  local n=${1:-}
  [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 100 ]] || die "usage: up N [-- NODE-FLAGS...] (N from 1 to 100, not '${n}')"
  shift
  [[ ${1:-} == -- ]] && shift
  [[ -n ${STOCKSYS_CLUSTER_BIN:-} ]] || build
  mkdir -p "$DIR"
  rm -f "$DIR"/*.args # up gives every node exactly the flags given now
  local i
  for ((i = 1; i <= n; i++)); do start_one "node-$i" "$@"; done
}

cmd_ps() {
  [[ -x $BIN ]] || build
  local master id pid alive role
  master=$(master_id || true)
  printf '%-10s %-8s %-6s %-8s %s\n' ID PID ALIVE ROLE HTTP
  for id in $(ids); do
    pid=$(cat "$DIR/$id.pid" 2>/dev/null || echo -)
    if pid_of "$id" >/dev/null; then
      alive=yes
      [[ $(ps -o stat= -p "$pid" 2>/dev/null) == T* ]] && alive=paused
      role=worker
      [[ $id == "$master" ]] && role=master
    else
      alive="no($(cat "$DIR/$id.exit" 2>/dev/null || echo ?))"
      role=-
    fi
    printf '%-10s %-8s %-6s %-8s %s\n' "$id" "$pid" "$alive" "$role" "$(grep -o '"http":"[^"]*"' "$DIR/$id.log" 2>/dev/null | tail -n 1 | cut -d'"' -f4)"
  done
}

main() {
  local cmd=${1:-}
  shift || true
  case $cmd in
    up) cmd_up "$@" ;;
    down)
      local id
      for id in $(ids); do pid_of "$id" >/dev/null && stop_one "$id"; done
      return 0
      ;;
    ps) cmd_ps ;;
    start)
      [[ -n ${1:-} ]] || die "usage: start ID [-- NODE-FLAGS...]"
      local id=$1
      shift
      [[ ${1:-} == -- ]] && shift
      start_one "$id" "$@"
      ;;
    kill)
      [[ -n ${1:-} ]] || die "usage: kill ID"
      local pid
      pid=$(pid_of "$1") || die "$1 is not running"
      kill -KILL "$pid"
      say "$1 killed (SIGKILL, pid $pid)"
      ;;
    stop)
      [[ -n ${1:-} ]] || die "usage: stop ID"
      stop_one "$1"
      ;;
    pause)
      [[ -n ${1:-} && ${2:-} =~ ^[0-9]+([.][0-9]+)?$ ]] || die "usage: pause ID SECONDS [--wait] (SECONDS a number, not '${2:-}')"
      local pid
      pid=$(pid_of "$1") || die "$1 is not running"
      kill -STOP "$pid"
      if [[ ${3:-} == --wait ]]; then
        sleep "$2"
        kill -CONT "$pid"
        say "$1 paused for $2 s and resumed"
      else
        setsid bash -c "sleep $2; kill -CONT $pid" >/dev/null 2>&1 </dev/null &
        say "$1 paused (SIGSTOP); SIGCONT in $2 s"
      fi
      ;;
    restart)
      [[ -n ${1:-} ]] || die "usage: restart ID"
      [[ -f $DIR/$1.args ]] || die "$1 was never started in $DIR (use start)"
      stop_one "$1" || true
      start_one "$1"
      ;;
    logs)
      [[ -n ${1:-} ]] || die "usage: logs ID [-f]"
      [[ -f $DIR/$1.log ]] || die "no log for $1 in $DIR"
      if [[ ${2:-} == -f ]]; then tail -n 50 -F "$DIR/$1.log"; else tail -n "${LINES_SHOWN:-100}" "$DIR/$1.log"; fi
      ;;
    -h | --help | help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
    *)
      sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
      exit 2
      ;;
  esac
}

main "$@"
