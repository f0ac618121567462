package node_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/node"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
)

// listen opens a loopback listener on a free port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// healthz returns the status code of GET /healthz at addr, or the error.
func healthz(addr string) (int, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// metric returns the value of the sample named series (name and labels as
// exposed) at addr's /metrics, 0 if absent.
func metric(t *testing.T, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", series, v, err)
			}
			return f
		}
	}
	return 0
}

// A whole node process with its data path on the real servers: the
// synthetic quotes of its one fetch task reach Cassandra through Kafka (a
// row count read with the test's own CQL), its HTTP server answers while it
// runs, Close from two goroutines at once returns after Run did (nil), the
// listener is closed after it, and no goroutine of the process, its Kafka
// producer, consumers or Cassandra session is left (TestMain's goleak).
func TestIntegration_ProcessLifecycle(t *testing.T) {
	root, _ := seed(t, "SPY")
	prefix := testenv.KafkaTopicPrefix(t)
	ks, cql := testenv.CassandraKeyspace(t)
	sc := stream.DefaultConfig()
	sc.Brokers, sc.Topic, sc.DLQTopic, sc.Partitions = testenv.KafkaBrokers(t), prefix+"quotes", prefix+"dlq", 2
	cc := store.DefaultConfig()
	cc.Hosts, cc.Keyspace = testenv.CassandraHosts(t), ks
	ln := listen(t)
	addr := ln.Addr().String()
	p, err := node.NewProcess(node.ProcessConfig{Listener: ln,
		Data: &node.DataConfig{Stream: sc, Store: cc, PartitionsTTL: time.Second}, MetricsInterval: 100 * time.Millisecond,
		Node: node.Config{ID: "proc-a", Root: root, ZK: testenv.ZKServers(t), SessionTimeout: 3 * time.Second,
			StatusInterval: 100 * time.Millisecond, DefaultSource: "synthetic?seed=7&rate=50", Addr: addr,
			Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))}})
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(context.Background()) }()

	var rows int
	deadline := time.Now().Add(90 * time.Second)
	for rows < 20 {
		if time.Now().After(deadline) {
			p.Close()
			t.Fatalf("%d quote rows in %s.quotes after 90 s; want at least 20", rows, ks)
		}
		time.Sleep(200 * time.Millisecond)
		if err := cql.Query(`SELECT count(*) FROM quotes`).Scan(&rows); err != nil {
			rows = 0 // the node creates the table when its store opens
		}
	}
	if code, err := healthz(addr); err != nil || code != http.StatusOK {
		t.Fatalf("GET /healthz while running = %d, %v; want 200", code, err)
	}
	// The node's readers share its session's watched cache: the master's
	// rounds re-read unchanged znodes from memory, and /metrics counts it.
	var hits, misses float64
	for deadline := time.Now().Add(30 * time.Second); hits == 0 || misses == 0; {
		if time.Now().After(deadline) {
			p.Close()
			t.Fatalf("stocksys_zk_cache_reads_total: hit %v, miss %v after 30 s; want both > 0", hits, misses)
		}
		time.Sleep(200 * time.Millisecond)
		hits, misses = metric(t, addr, `stocksys_zk_cache_reads_total{result="hit"}`), metric(t, addr, `stocksys_zk_cache_reads_total{result="miss"}`)
	}
	if st := p.Node().CacheStats(); float64(st.Hits) < hits || float64(st.Misses) < misses {
		t.Fatalf("the node's cache stats %+v are below what /metrics reported (hit %v, miss %v)", st, hits, misses)
	}
	if err := p.Run(context.Background()); !errors.Is(err, node.ErrProcessClosed) {
		t.Fatalf("a second Run = %v; want ErrProcessClosed", err)
	}

	var wg sync.WaitGroup
	for range 2 {
		wg.Go(p.Close)
	}
	closed := make(chan struct{})
	go func() { wg.Wait(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return within 30 s")
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run after Close = %v; want nil", err)
		}
	default:
		t.Fatal("Close returned before Run did")
	}
	p.Close() // idempotent
	if _, err := healthz(addr); err == nil {
		t.Fatal("GET /healthz answered after Close; want the listener closed")
	}
	var after int
	if err := cql.Query(`SELECT count(*) FROM quotes`).Scan(&after); err != nil || after < rows {
		t.Fatalf("rows after Close = %d, %v; want at least the %d seen running", after, err, rows)
	}
}

// The defaults are a valid config once a listener and (for the data path)
// servers are given.
func TestDefaultProcessConfig(t *testing.T) {
	cfg := node.DefaultProcessConfig("node-1", "127.0.0.1:2181")
	cfg.Listener = listen(t)
	defer cfg.Listener.Close()
	d := node.DefaultDataConfig()
	d.Stream.Brokers, d.Store.Hosts = []string{"127.0.0.1:9092"}, []string{"127.0.0.1:9042"}
	cfg.Data = &d
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults with servers: %v", err)
	}
	if cfg.ShutdownTimeout != node.DefaultShutdownTimeout || cfg.Node.SessionTimeout != node.DefaultSessionTimeout || d.PartitionsTTL != node.DefaultPartitionsTTL {
		t.Fatalf("defaults: shutdown %v, session %v, partitions TTL %v", cfg.ShutdownTimeout, cfg.Node.SessionTimeout, d.PartitionsTTL)
	}
}

// Close before Run: Run refuses to start (ErrProcessClosed), the listener
// is closed, and nothing was contacted or left running.
func TestProcessCloseBeforeRun(t *testing.T) {
	ln := listen(t)
	p, err := node.NewProcess(node.ProcessConfig{Listener: ln,
		Node: node.Config{ID: "proc-b", ZK: []string{"127.0.0.1:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close()
	if err := p.Run(context.Background()); !errors.Is(err, node.ErrProcessClosed) {
		t.Fatalf("Run after Close = %v; want ErrProcessClosed", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Fatal("the listener accepts after Close")
	}
}

// A process config without a listener, or with a bad node config, is
// refused by NewProcess with the reason, before anything starts.
func TestProcessConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  node.ProcessConfig
		want string
	}{
		{"no listener", node.ProcessConfig{Node: node.Config{ID: "a", ZK: []string{"z:1"}}}, "no HTTP listener"},
		{"bad id", node.ProcessConfig{Listener: listen(t), Node: node.Config{ID: "a/b", ZK: []string{"z:1"}}}, "--id"},
		{"negative shutdown", node.ProcessConfig{Listener: listen(t), ShutdownTimeout: -time.Second,
			Node: node.Config{ID: "a", ZK: []string{"z:1"}}}, "negative duration"},
		{"data path without brokers", node.ProcessConfig{Listener: listen(t), Data: &node.DataConfig{Store: store.DefaultConfig()},
			Node: node.Config{ID: "a", ZK: []string{"z:1"}}}, "no brokers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.Listener != nil {
				defer tt.cfg.Listener.Close()
			}
			_, err := node.NewProcess(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewProcess = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}
