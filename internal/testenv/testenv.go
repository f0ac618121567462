// Package testenv gives integration tests the addresses of the real ZooKeeper,
// Kafka and Cassandra servers started by scripts/infra.sh, and a namespace of
// their own on each server so that tests never see each other's data.
//
// Addresses come from the environment, as comma-separated host:port lists:
//
//	STOCKSYS_ZK         default 127.0.0.1:2181
//	STOCKSYS_KAFKA      default 127.0.0.1:9092
//	STOCKSYS_CASSANDRA  default 127.0.0.1:9042
//
// When a server does not answer, the test is skipped with a message naming
// the variable and `scripts/infra.sh up`, except under CI=true, where it fails:
// CI must never pass by skipping integration tests.
//
// Every namespace helper registers its cleanup with t.Cleanup. The helpers are
// safe to call from parallel tests.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Default addresses, matching scripts/infra.sh.
const (
	DefaultZK        = "127.0.0.1:2181"
	DefaultKafka     = "127.0.0.1:9092"
	DefaultCassandra = "127.0.0.1:9042"
)

// InCI reports whether CI=true, the setting under which a missing server fails a
// test instead of skipping it.
func InCI() bool { return os.Getenv("CI") == "true" }

// ZKServers returns the ZooKeeper servers from STOCKSYS_ZK, after checking
// that at least one accepts a TCP connection (see the package doc for what
// happens when none does).
func ZKServers(t testing.TB) []string { return servers(t, "STOCKSYS_ZK", DefaultZK, "ZooKeeper") }

// KafkaBrokers returns the Kafka bootstrap brokers from STOCKSYS_KAFKA, after
// checking that at least one accepts a TCP connection.
func KafkaBrokers(t testing.TB) []string {
	return servers(t, "STOCKSYS_KAFKA", DefaultKafka, "Kafka")
}

// CassandraHosts returns the Cassandra contact points (host:port) from
// STOCKSYS_CASSANDRA, after checking that at least one accepts a TCP connection.
func CassandraHosts(t testing.TB) []string {
	return servers(t, "STOCKSYS_CASSANDRA", DefaultCassandra, "Cassandra")
}

func servers(t testing.TB, env, def, what string) []string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		v = def
	}
	list := strings.Split(v, ",")
	var lastErr error
	for _, a := range list {
		c, err := net.DialTimeout("tcp", a, 2*time.Second)
		if err == nil {
			c.Close()
			return list
		}
		lastErr = err
	}
	msg := fmt.Sprintf("%s not reachable at %s=%s (%v): start it with scripts/infra.sh up", what, env, v, lastErr)
	if InCI() {
		t.Fatal(msg)
	} else {
		t.Skip(msg)
	}
	return nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9]+`)

// Name returns a name unique to this test run: a lower-case, sanitised form
// of the test's name (at most 24 characters) and 8 random hex digits, joined
// by sep. It uses only [a-z0-9] and sep, so it is a valid znode name, Kafka
// topic name part and (with sep "_") Cassandra keyspace name.
func Name(t testing.TB, sep string) string {
	t.Helper()
	base := strings.TrimPrefix(t.Name(), "Test")
	base = strings.TrimPrefix(base, "Integration_")
	base = strings.ToLower(unsafeChars.ReplaceAllString(base, sep))
	if len(base) > 24 {
		base = base[:24]
	}
	base = strings.Trim(base, sep)
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: random name: %v", err)
	}
	return base + sep + hex.EncodeToString(b[:])
}
