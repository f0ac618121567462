#!/usr/bin/env bash
# scripts/demo.sh: the main job. Brings the real servers up (scripts/infra.sh),
# builds bin/stocksys, and pushes real SPY quotes from ../shared/data through
# Kafka into Cassandra, reading them back at each step (`stocksys smoke`).
# The servers are left running; `scripts/infra.sh down` stops them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
t0=$SECONDS

scripts/infra.sh up >/dev/null
eval "$(scripts/infra.sh env)"
export STOCKSYS_ZK STOCKSYS_KAFKA STOCKSYS_CASSANDRA
export STOCKSYS_DATA=${STOCKSYS_DATA:-$(cd "$ROOT/.." && pwd)/shared/data}
scripts/infra.sh status
echo
mkdir -p bin
go build -o bin/stocksys ./cmd/stocksys
bin/stocksys smoke --count "${DEMO_COUNT:-10}"
echo
echo "demo: done in $((SECONDS - t0))s. The servers are still running: scripts/infra.sh status | down"
