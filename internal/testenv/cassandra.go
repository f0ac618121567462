package testenv

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gocql/gocql"
)

// CassandraCluster returns a gocql cluster config for CassandraHosts, with
// consistency ONE (a single local node) and a 10 s timeout.
func CassandraCluster(t testing.TB) *gocql.ClusterConfig {
	t.Helper()
	hosts := CassandraHosts(t)
	c := gocql.NewCluster()
	for _, h := range hosts {
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			t.Fatalf("testenv: STOCKSYS_CASSANDRA entry %q: %v", h, err)
		}
		c.Hosts = append(c.Hosts, host)
		if p, err := strconv.Atoi(port); err == nil {
			c.Port = p
		}
	}
	c.Consistency = gocql.One
	c.Timeout = 10 * time.Second
	c.ConnectTimeout = 10 * time.Second
	return c
}

// CassandraKeyspace creates a fresh keyspace (SimpleStrategy, replication
// factor 1) named after the test, and drops it on cleanup. It returns the
// keyspace name and a session bound to it, closed on cleanup.
func CassandraKeyspace(t testing.TB) (string, *gocql.Session) {
	t.Helper()
	c := CassandraCluster(t)
	admin, err := c.CreateSession()
	if err != nil {
		t.Fatalf("testenv: cassandra session: %v", err)
	}
	ks := "t_" + Name(t, "_")
	if err := admin.Query(`CREATE KEYSPACE ` + ks +
		` WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`).Exec(); err != nil {
		admin.Close()
		t.Fatalf("testenv: create keyspace %s: %v", ks, err)
	}
	t.Cleanup(func() {
		if err := admin.Query(`DROP KEYSPACE IF EXISTS ` + ks).Exec(); err != nil {
			t.Logf("testenv: drop keyspace %s: %v", ks, err)
		}
		admin.Close()
	})
	c.Keyspace = ks
	s, err := c.CreateSession()
	if err != nil {
		t.Fatalf("testenv: cassandra session for %s: %v", ks, err)
	}
	t.Cleanup(s.Close)
	return ks, s
}
