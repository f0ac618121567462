package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/node"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
)

// A node's Run owns every goroutine it starts (member, session, candidate,
// master, worker, runners, prefetch): none is left once Run has returned.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type running struct {
	n    *node.Node
	stop context.CancelFunc
	done chan error
}

func start(t *testing.T, root, id string) *running {
	t.Helper()
	n, err := node.New(node.Config{ID: id, Root: root, ZK: testenv.ZKServers(t), SessionTimeout: 3 * time.Second,
		StatusInterval: 100 * time.Millisecond, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Partitions: func(context.Context) ([]int32, error) { return []int32{0, 1, 2}, nil },
		Runners: map[tasks.Type]worker.Runner{
			tasks.TypeFetch:  worker.Placeholder(20 * time.Millisecond),
			tasks.TypeIngest: worker.Placeholder(20 * time.Millisecond),
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{n: n, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- n.Run(ctx) }()
	return r
}

// halt cancels the node and checks that Run returns nil within 10 s.
func (r *running) halt(t *testing.T) {
	t.Helper()
	r.stop()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run after cancel = %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of its cancel")
	}
}

// runningOn lists "task@node" for every task running on the given nodes'
// workers, sorted.
func runningOn(nodes ...*running) string {
	var out []string
	for _, r := range nodes {
		w := r.n.Worker()
		if w == nil {
			continue
		}
		for id, st := range w.Snapshot().Tasks {
			if st.State == tasks.StateRunning {
				out = append(out, string(id)+"@"+r.n.Config().ID)
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Two nodes in one process: one becomes master, the four tasks run once
// across both; the master's graceful stop hands everything to the other,
// which then runs all four alone; both Runs return nil and leave no
// goroutine behind (TestMain).
func TestIntegration_NodeLifecycle(t *testing.T) {
	root := testenv.ZKRoot(t)
	admin := testenv.ZKConn(t, 10*time.Second)
	p := tasks.NewPaths(root)
	if err := p.EnsureLayout(admin); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(tasks.SymbolSpec{Symbol: "SPY"})
	if err := session.EnsurePath(admin, p.Symbol("SPY"), js); err != nil {
		t.Fatal(err)
	}
	a, b := start(t, root, "node-a"), start(t, root, "node-b")
	all := func(nodes ...*running) func() bool {
		return func() bool {
			got := runningOn(nodes...)
			seen := map[string]bool{}
			for _, f := range strings.Fields(got) {
				seen[strings.SplitN(f, "@", 2)[0]] = true
			}
			return len(strings.Fields(got)) == 4 && len(seen) == 4
		}
	}
	waitFor(t, "the 4 tasks running once across both nodes: "+runningOn(a, b), 20*time.Second, all(a, b))
	var master, other *running
	switch {
	case a.n.Role() == "master" && b.n.Role() != "master":
		master, other = a, b
	case b.n.Role() == "master" && a.n.Role() != "master":
		master, other = b, a
	default:
		t.Fatalf("roles %s / %s; want exactly one master", a.n.Role(), b.n.Role())
	}
	epoch := master.n.Epoch()
	master.halt(t)
	waitFor(t, fmt.Sprintf("%s master of a newer epoch than %d (it is %s, epoch %d)", other.n.Config().ID, epoch, other.n.Role(), other.n.Epoch()),
		10*time.Second, func() bool { return other.n.Role() == "master" && other.n.Epoch() > epoch })
	waitFor(t, "the 4 tasks running on "+other.n.Config().ID+" alone: "+runningOn(other), 10*time.Second, all(other))
	if ok, _, err := admin.Exists(p.StatusOf(master.n.Config().ID)); err != nil || ok {
		t.Fatalf("status of the stopped node: exists %v, %v; want gone with its session", ok, err)
	}
	t.Logf("after %s's stop: %s master of epoch %d, running %s", master.n.Config().ID, other.n.Config().ID, other.n.Epoch(), runningOn(other))
	other.halt(t)
	if n, _, err := admin.Children(root + "/members"); err != nil || len(n) != 0 {
		t.Fatalf("members after both stopped: %v, %v; want none", n, err)
	}
}
