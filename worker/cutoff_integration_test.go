package worker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/session/sessiontest"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
	"github.com/stock-system/stocksys/zkapi"
)

// TestIntegration_CutOffWorkerReportsStoppedOnTime (issue 14, item 3): a
// worker cut off from ZooKeeper (its link frozen, so its loop blocks in a
// ZooKeeper call) shows its tasks stopped in its own status (what /status
// serves) within 2/3 T + 1 s of the cut, and logs "session unsafe" then, not
// after the link heals.
func TestIntegration_CutOffWorkerReportsStoppedOnTime(t *testing.T) {
	const timeout = 3 * time.Second
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t)
	p := tasks.NewPaths(root)
	admin := testenv.ZKConn(t, 10*time.Second)
	if err := p.EnsureLayout(admin); err != nil {
		t.Fatal(err)
	}
	proxy := sessiontest.NewProxy(t, servers[0])
	cfg := session.DefaultConfig(proxy.Addr())
	cfg.Timeout = timeout
	s, err := session.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	core, logs := observer.New(zap.InfoLevel)
	// Publications every 100 ms, so that the loop is in a ZooKeeper call
	// (blocked on the frozen link) when the safe deadline passes.
	w, err := worker.New(s, worker.Config{NodeID: "node-1", Root: root, Logger: zap.New(core), StatusInterval: 100 * time.Millisecond, ProgressInterval: 100 * time.Millisecond,
		Runners: map[tasks.Type]worker.Runner{tasks.TypeFetch: worker.Placeholder(50 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	ids := []tasks.ID{"fetch/AAA", "fetch/BBB", "fetch/CCC"}
	data, _ := json.Marshal(tasks.AssignmentDoc{Node: "node-1", Session: tasks.SessionID(s.ID()), Epoch: 1, Tasks: ids, Written: time.Now()})
	if _, err := admin.Create(p.Assignment("node-1"), data, 0, zkapi.OpenACL()); err != nil {
		t.Fatal(err)
	}
	states := func() map[string]int {
		out := map[string]int{}
		for _, ts := range w.Snapshot().Tasks {
			out[ts.State]++
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for states()[tasks.StateRunning] != len(ids) {
		if time.Now().After(deadline) {
			t.Fatalf("tasks not running: %v", states())
		}
		time.Sleep(10 * time.Millisecond)
	}

	proxy.Freeze()
	cut := time.Now()
	limit := timeout*2/3 + time.Second
	var took time.Duration
	for {
		// Every task stopped: listed as stopped (runner returned, the loop
		// blocked) or no longer listed (the loop took its exit).
		if st := states(); st[tasks.StateStopped] == len(w.Snapshot().Tasks) {
			took = time.Since(cut)
			break
		}
		if time.Since(cut) > limit {
			t.Fatalf("%v after the cut, status shows %v; want every task stopped within %v", time.Since(cut).Round(time.Millisecond), states(), limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	entries := logs.FilterMessage("worker: session unsafe; stopping all tasks").All()
	if len(entries) != 1 || entries[0].Time.Sub(cut) > limit {
		t.Fatalf("'session unsafe' logged %d times (want 1, within %v of the cut, while still cut off)", len(entries), limit)
	}
	t.Logf("cut off: tasks shown stopped after %v, 'session unsafe' logged after %v (limit %v)",
		took.Round(time.Millisecond), entries[0].Time.Sub(cut).Round(time.Millisecond), limit)
	proxy.Thaw()
}
