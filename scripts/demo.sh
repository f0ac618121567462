#!/usr/bin/env bash
# scripts/demo.sh: the main job. Brings the real servers up (scripts/infra.sh),
# builds bin/stocksys, starts a 3-node cluster (scripts/cluster.sh), registers
# the symbols of the real data sets in ../shared/data (SPY: Lean minute bars,
# MSFT: Alpha Vantage 1-minute bars) with a replay source, lets the quotes flow
# through Kafka into Cassandra, and prints the cluster status, the latest
# prices and a few bars read back from Cassandra. The nodes keep running
# afterwards, so that you can kill one and watch the failover.
#
# Environment:
#   STOCKSYS_DATA   real data folder (default ../shared/data); when absent the
#                   demo says so and uses the synthetic source
#   DEMO_SPEED      replay speed, market seconds per second (default 300)
#   DEMO_SECONDS    how long to let quotes flow after the first ones are stored (default 15)
#   STOCKSYS_CLUSTER, DEMO_KEYSPACE, DEMO_TOPIC  where the demo lives (demo, demo, demo.quotes);
#                   a second run resumes the replay where the first stopped
#   DEMO_STOP=1     stop the nodes at the end (CI)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
t0=$SECONDS
export STOCKSYS_CLUSTER=${STOCKSYS_CLUSTER:-demo}
KEYSPACE=${DEMO_KEYSPACE:-demo}
TOPIC=${DEMO_TOPIC:-demo.quotes}
SPEED=${DEMO_SPEED:-300}
WAIT=${DEMO_WAIT:-180}
FLOW=${DEMO_SECONDS:-15}

step() { printf '\n== %s (%ds)\n' "$*" "$((SECONDS - t0))"; }

step "servers"
scripts/infra.sh up >/dev/null
eval "$(scripts/infra.sh env)"
export STOCKSYS_ZK STOCKSYS_KAFKA STOCKSYS_CASSANDRA
scripts/infra.sh status

step "build"
mkdir -p bin
go build -o bin/stocksys ./cmd/stocksys
S=bin/stocksys
Q=(--keyspace "$KEYSPACE" --consistency ONE)

DATA=${STOCKSYS_DATA:-$(cd "$ROOT/.." && pwd)/shared/data}
if [[ -d $DATA/lean-spy-minute && -d $DATA/alphavantage-msft-1min ]]; then
  SOURCE="replay:$DATA?speed=$SPEED"
  SYMBOLS=(SPY MSFT)
  echo "real data: $DATA (SPY 2013-10-04.., MSFT 2020-11-23..) replayed at ${SPEED}x"
else
  SOURCE="synthetic?seed=7&rate=2"
  SYMBOLS=(SYNA SYNB)
  cat <<EOF
***********************************************************************
*  NO REAL DATA at $DATA
*  (set STOCKSYS_DATA): this demo uses the SYNTHETIC source instead.
***********************************************************************
EOF
fi

step "cluster of 3 nodes (cluster '$STOCKSYS_CLUSTER')"
scripts/cluster.sh down 2>/dev/null || true
scripts/cluster.sh up 3 -- --session-timeout 6s --source "synthetic" --keyspace "$KEYSPACE" --topic "$TOPIC" \
  --dlq-topic "$TOPIC.dlq" --partitions 3 --consistency ONE --log-format json
"$S" symbols add "${SYMBOLS[@]}" --source "$SOURCE" --replace

step "waiting for the first quotes of ${SYMBOLS[*]} in Cassandra (at most ${WAIT}s)"
deadline=$((SECONDS + WAIT))
until out=$("$S" query latest "${SYMBOLS[@]}" "${Q[@]}" 2>/dev/null) &&
  [[ $(grep -cE "^ *($(IFS='|'; echo "${SYMBOLS[*]}")) " <<<"$out") -eq ${#SYMBOLS[@]} ]]; do
  if ((SECONDS > deadline)); then
    echo "demo: no quotes stored after ${WAIT}s; node logs:" >&2
    tail -n 20 ".run/cluster/$STOCKSYS_CLUSTER"/node-*.log >&2
    exit 1
  fi
  sleep 2
done
echo "first quotes stored after $((SECONDS - t0))s; letting them flow for ${FLOW}s"
sleep "$FLOW"

step "stocksys status"
"$S" status --topic "$TOPIC" --keyspace "$KEYSPACE" # the lag is measured on the demo's topic and keyspace

step "latest prices, read back from Cassandra (stocksys query latest)"
"$S" query latest "${SYMBOLS[@]}" "${Q[@]}"

for sym in "${SYMBOLS[@]}"; do
  step "last 5-minute bars of $sym (stocksys query bars $sym --interval 5m)"
  "$S" query bars "$sym" --interval 5m --limit 0 "${Q[@]}" | { read -r header; echo "$header"; tail -n 4; }
done

if [[ ${DEMO_STOP:-0} == 1 ]]; then
  step "stopping the nodes"
  scripts/cluster.sh down
else
  cat <<EOF

== the web console (any node serves it): http://127.0.0.1:$((${STOCKSYS_HTTP_BASE:-8080} + 1))/ui/
   (actions need a node started with --api-token-file; reads need nothing)

== the cluster is running. Try a failover:
   scripts/cluster.sh ps                      # who is master
   scripts/cluster.sh kill node-1             # kill -9 a node (the master, say)
   bin/stocksys status --cluster $STOCKSYS_CLUSTER --topic $TOPIC --keyspace $KEYSPACE --watch
                                              # a new master with a higher epoch within ~6 s (the session timeout)
   scripts/cluster.sh pause node-2 10         # SIGSTOP past the session timeout: it is fenced, never two masters
   scripts/cluster.sh start node-1            # it rejoins and gets tasks back
   bin/stocksys query latest ${SYMBOLS[*]} --keyspace $KEYSPACE --consistency ONE
   scripts/cluster.sh down; scripts/infra.sh down
EOF
fi
echo "demo: done in $((SECONDS - t0))s"
