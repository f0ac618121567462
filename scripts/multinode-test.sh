#!/usr/bin/env bash
# scripts/multinode-test.sh: the multi-node failure drill (README, "Production:
# multi-node Kafka and Cassandra"): TestIntegration_MultiNodeEngines on private
# servers from `infra.sh up --kafka-brokers 3 --cassandra-nodes 3` (six JVMs,
# about 5.4 GB resident, 4-6 minutes here). Not part of scripts/test.sh: a
# multi-node server set is a full load for a 2-core machine on its own.
# Needs the shared ZooKeeper (scripts/infra.sh up --only zookeeper). Extra
# arguments go to `go test`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
STOCKSYS_MULTINODE=1 exec go test -count=1 -timeout 20m -run 'TestIntegration_MultiNodeEngines$' -v "$@" ./e2e/datapath
