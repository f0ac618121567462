package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
)

// A Run made by hand (no worker) ignores SetError.
func TestSetErrorWithoutWorker(t *testing.T) {
	r := &worker.Run{Task: tasks.IngestTask(0)}
	r.SetError("ignored") // must not panic
}

// TestIntegration_WorkerSetError: a runner's SetError becomes the task's
// last_error, in the snapshot and in the published status/<node>, while the
// task keeps running; a later SetError replaces it; an error the runner
// returns replaces it in turn, and a SetError on the returned run changes
// nothing.
func TestIntegration_WorkerSetError(t *testing.T) {
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t)
	p := tasks.NewPaths(root)
	admin := testenv.ZKConn(t, 10*time.Second)
	if err := p.EnsureLayout(admin); err != nil {
		t.Fatal(err)
	}
	scfg := session.DefaultConfig(servers...)
	scfg.Timeout = 4 * time.Second
	s, err := session.New(context.Background(), scfg)
	if err != nil {
		t.Fatal(err)
	}
	runs := make(chan *worker.Run, 4)
	fail := make(chan error)
	runner := worker.RunnerFunc(func(ctx context.Context, r *worker.Run) error {
		runs <- r
		select {
		case <-ctx.Done():
			return nil
		case err := <-fail:
			return err
		}
	})
	w, err := worker.New(s, worker.Config{NodeID: "node-1", Root: root, StatusInterval: 50 * time.Millisecond,
		RetryDelay: time.Hour, Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
		Runners: map[tasks.Type]worker.Runner{tasks.TypeIngest: runner}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker.Run = %v; want nil after cancel", err)
		}
		s.Close()
	})
	f := &fixture{t: t, root: root, p: p, admin: admin, s: s, w: w}
	f.assign(1, s.ID(), "ingest/0")
	var r *worker.Run
	select {
	case r = <-runs:
	case <-time.After(10 * time.Second):
		t.Fatal("runner not started")
	}
	id := tasks.ID("ingest/0")

	// wait until both the snapshot and the published document show want
	// (state and last error) for ingest/0.
	wait := func(state, want string) {
		t.Helper()
		var snap, pub tasks.TaskStatus
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			snap = w.Snapshot().Tasks[id]
			var doc tasks.StatusDoc
			if _, err := tasks.ReadJSON(admin, p.StatusOf("node-1"), &doc); err == nil {
				pub = doc.Tasks[id]
			}
			if snap.State == state && snap.LastError == want && pub.State == state && pub.LastError == want {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("ingest/0: snapshot %s %q, published %s %q; want %s %q", snap.State, snap.LastError, pub.State, pub.LastError, state, want)
	}
	wait(tasks.StateRunning, "")
	r.SetError("dead-lettered 1 message (last: offset 3: bad json)")
	wait(tasks.StateRunning, "dead-lettered 1 message (last: offset 3: bad json)")
	r.SetError("dead-lettered 2 messages (last: offset 9: bad json)")
	wait(tasks.StateRunning, "dead-lettered 2 messages (last: offset 9: bad json)")

	fail <- errors.New("cassandra down")
	wait(tasks.StateFailed, "cassandra down")
	r.SetError("dead-lettered 3 messages (late)") // the run has returned: ignored
	time.Sleep(200 * time.Millisecond)            // 4 status intervals
	wait(tasks.StateFailed, "cassandra down")
}
