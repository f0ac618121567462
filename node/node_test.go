package node_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stock-system/stocksys/tasks"
)

// A node's Run owns every goroutine it starts (member, session, candidate,
// master, worker, runners, prefetch), and a Process every one of its own
// (HTTP, store, topics, partitions, metrics): none is left once Run has
// returned. The one exception is sarama's process-wide meter ticker
// (go-metrics' meterArbiter, started with the first Kafka client and never
// stopped by design).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"))
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
	root, admin := seed(t, "SPY")
	p := tasks.NewPaths(root)
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
