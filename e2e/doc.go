// Package e2e holds process-level tests: real `stocksys node` processes
// started, killed, stopped and paused through scripts/cluster.sh on the real
// servers, observed through `stocksys status --json` and Cassandra.
package e2e
