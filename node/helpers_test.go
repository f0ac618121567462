package node_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/node"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
	"github.com/stock-system/stocksys/zkapi"
)

// seed creates the cluster layout under a new root with the symbols
// registered, and returns the root and an admin connection.
func seed(t *testing.T, symbols ...string) (string, zkapi.Client) {
	t.Helper()
	root := testenv.ZKRoot(t)
	admin := testenv.ZKConn(t, 10*time.Second)
	p := tasks.NewPaths(root)
	if err := p.EnsureLayout(admin); err != nil {
		t.Fatal(err)
	}
	for _, s := range symbols {
		js, _ := json.Marshal(tasks.SymbolSpec{Symbol: tasks.Symbol(s)})
		if err := session.EnsurePath(admin, p.Symbol(tasks.Symbol(s)), js); err != nil {
			t.Fatal(err)
		}
	}
	return root, admin
}

// running is a node run in this process, with its HTTP handler on a test
// server.
type running struct {
	n    *node.Node
	srv  *httptest.Server
	stop context.CancelFunc
	done chan error
	once sync.Once
}

// start runs node id under root: session timeout 3 s, status every 100 ms,
// placeholder runners, partitions 0-2, warnings logged; set changes the
// config first. The node is halted at the end of the test.
func start(t *testing.T, root, id string, set ...func(*node.Config)) *running {
	t.Helper()
	cfg := node.Config{ID: id, Root: root, ZK: testenv.ZKServers(t), SessionTimeout: 3 * time.Second,
		StatusInterval: 100 * time.Millisecond, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Partitions: func(context.Context) ([]int32, error) { return []int32{0, 1, 2}, nil },
		Runners: map[tasks.Type]worker.Runner{
			tasks.TypeFetch:  worker.Placeholder(20 * time.Millisecond),
			tasks.TypeIngest: worker.Placeholder(20 * time.Millisecond),
		}}
	for _, f := range set {
		f(&cfg)
	}
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{n: n, srv: httptest.NewServer(n.Handler(nil)), stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- n.Run(ctx) }()
	t.Cleanup(func() { r.halt(t) })
	return r
}

// partitions sets the ingest partitions of a started node's config.
func partitions(ps ...int32) func(*node.Config) {
	return func(c *node.Config) { c.Partitions = func(context.Context) ([]int32, error) { return ps, nil } }
}

// halt cancels the node, checks that Run returns nil within 10 s, then
// closes its test server (the node's event streams have ended with Run).
// Idempotent.
func (r *running) halt(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.stop()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run after cancel = %v; want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10 s of its cancel")
		}
		r.srv.Close()
	})
}
