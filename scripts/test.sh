#!/usr/bin/env bash
# scripts/test.sh: the whole test suite on the real servers.
#
# Brings ZooKeeper, Kafka and Cassandra up with scripts/infra.sh if they are not
# running, runs `go vet ./...` and `go test -race ./...` (unit and integration
# tests), and stops the servers it started (set STOCKSYS_KEEP_INFRA=1 to keep
# them for the next run). Extra arguments go to `go test`, e.g.
# `scripts/test.sh -run Election`.
#
# CI=true makes every integration test fail, never skip, when a server or the
# real data in ../shared/data is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
t0=$SECONDS

command -v go >/dev/null || { echo "test: go not found: install Go (see go.mod)" >&2; exit 1; }

before=$(scripts/infra.sh running)
cleanup() {
  local rc=$?
  if [[ ${STOCKSYS_KEEP_INFRA:-0} != 1 ]]; then
    local started=() n
    for n in $(scripts/infra.sh running); do
      grep -qx "$n" <<<"$before" || started+=("$n")
    done
    ((${#started[@]} == 0)) || scripts/infra.sh down "${started[@]}"
  fi
  echo "test: finished in $((SECONDS - t0))s (exit $rc)" >&2
  exit $rc
}
trap cleanup EXIT

scripts/infra.sh up >/dev/null
eval "$(scripts/infra.sh env)"
export STOCKSYS_ZK STOCKSYS_KAFKA STOCKSYS_CASSANDRA
export STOCKSYS_DATA=${STOCKSYS_DATA:-$(cd "$ROOT/.." && pwd)/shared/data}
scripts/infra.sh status

# The console tests drive Debian's chromium (node/console_test.go).
if [[ -z ${STOCKSYS_CHROMIUM:-} ]] && ! command -v chromium >/dev/null; then
  echo "test: installing Debian's chromium for the console tests" >&2
  sudo=""
  [[ $(id -u) == 0 ]] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q chromium >/dev/null 2>&1 || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium >/dev/null; } ||
    echo "test: could not install chromium: the console tests will fail under CI=true" >&2
fi

# The monitoring test runs Debian's prometheus (and its promtool) against a
# local cluster (e2e/datapath/monitoring_test.go).
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  echo "test: installing Debian's prometheus for the monitoring test" >&2
  sudo=""
  [[ $(id -u) == 0 ]] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 ||
    { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q --no-install-recommends prometheus >/dev/null; } ||
    echo "test: could not install prometheus: the monitoring test will fail under CI=true" >&2
fi

echo "test: go vet ./..." >&2
go vet ./...
echo "test: staticcheck ./... (go tool, pinned in go.mod)" >&2
go tool staticcheck ./...
echo "test: go test -race ./... (ZK=$STOCKSYS_ZK KAFKA=$STOCKSYS_KAFKA CASSANDRA=$STOCKSYS_CASSANDRA)" >&2
go test -race -count=1 -timeout 45m "$@" ./...
