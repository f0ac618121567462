package proctest

import "testing"

// NewWithEnv is New with extra environment entries ("KEY=value") for every
// command of the cluster (nodes, cluster.sh, stocksys), applied after the
// defaults so they override them: for example STOCKSYS_KAFKA and
// STOCKSYS_CASSANDRA pointing at private servers for an outage test.
func NewWithEnv(t testing.TB, env ...string) *Cluster {
	t.Helper()
	c := New(t)
	// os/exec keeps the last of duplicate keys.
	c.env = append(c.env, env...)
	return c
}
