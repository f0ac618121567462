package chaos

import (
	"slices"
	"strings"
	"testing"
)

// TestEnvironPassesServerSettings: the private servers' tuning variables
// (tick, heaps, Cassandra's memtables) reach scripts/infra.sh; the
// operator's own addresses and cluster do not (the run's replace them).
func TestEnvironPassesServerSettings(t *testing.T) {
	t.Setenv("STOCKSYS_ZK_TICK_MS", "50")
	t.Setenv("STOCKSYS_CASSANDRA_MEMTABLE", "skiplist")
	t.Setenv("STOCKSYS_ZK", "10.0.0.1:2181")
	t.Setenv("STOCKSYS_CLUSTER", "prod")
	t.Setenv("STOCKSYS_SESSION_TIMEOUT", "9s")
	e := &Env{Dir: t.TempDir(), Ports: PortsAt(10000), Cluster: "chaos-x", Bin: "/bin/true", HTTPBase: 21000}
	env := e.environ()
	for _, want := range []string{"STOCKSYS_ZK_TICK_MS=50", "STOCKSYS_CASSANDRA_MEMTABLE=skiplist",
		"STOCKSYS_ZK=127.0.0.1:12181,127.0.0.1:12182,127.0.0.1:12183", "STOCKSYS_CLUSTER=chaos-x"} {
		if !slices.Contains(env, want) {
			t.Errorf("environ lacks %s", want)
		}
	}
	for _, kv := range env {
		if kv == "STOCKSYS_ZK=10.0.0.1:2181" || kv == "STOCKSYS_CLUSTER=prod" || strings.HasPrefix(kv, "STOCKSYS_SESSION_TIMEOUT=") {
			t.Errorf("environ passes the operator's %s", kv)
		}
	}
}
