package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
	"github.com/stock-system/stocksys/zkapi"
)

// sarama (the zombie test's Kafka clients) leaves go-metrics' process-wide meter arbiter running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"))
}

type fixture struct {
	t     *testing.T
	root  string
	p     tasks.Paths
	admin zkapi.Client
	s     *session.Session
	w     *worker.Worker
	done  chan error
}

// newFixture starts a worker for node-1 on its own session, with placeholder
// runners for both task types.
func newFixture(t *testing.T, statusInterval time.Duration, progressInterval ...time.Duration) *fixture {
	servers := testenv.ZKServers(t)
	f := &fixture{t: t, root: testenv.ZKRoot(t), done: make(chan error, 1)}
	f.p = tasks.NewPaths(f.root)
	f.admin = testenv.ZKConn(t, 10*time.Second)
	if err := f.p.EnsureLayout(f.admin); err != nil {
		t.Fatal(err)
	}
	cfg := session.DefaultConfig(servers...)
	cfg.Timeout = 4 * time.Second
	s, err := session.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	var pi time.Duration
	if len(progressInterval) > 0 {
		pi = progressInterval[0]
	}
	f.w, err = worker.New(s, worker.Config{NodeID: "node-1", Root: f.root, StatusInterval: statusInterval, ProgressInterval: pi,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Runners: map[tasks.Type]worker.Runner{
			tasks.TypeFetch:  worker.Placeholder(50 * time.Millisecond),
			tasks.TypeIngest: worker.Placeholder(50 * time.Millisecond),
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { f.done <- f.w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-f.done; err != nil {
			t.Errorf("worker.Run = %v; want nil after cancel", err)
		}
		s.Close()
	})
	return f
}

// assign writes node-1's assignment document directly.
func (f *fixture) assign(epoch int64, sessionID int64, ids ...tasks.ID) {
	f.t.Helper()
	data, _ := json.Marshal(tasks.AssignmentDoc{Node: "node-1", Session: tasks.SessionID(sessionID), Epoch: epoch, Tasks: ids, Written: time.Now()})
	_, err := f.admin.Set(f.p.Assignment("node-1"), data, -1)
	if errors.Is(err, zkapi.ErrNoNode) {
		_, err = f.admin.Create(f.p.Assignment("node-1"), data, 0, zkapi.OpenACL())
	}
	if err != nil {
		f.t.Fatal(err)
	}
}

// waitRunning waits until exactly ids run (state running) on the worker.
func (f *fixture) waitRunning(ids ...tasks.ID) tasks.StatusDoc {
	f.t.Helper()
	want := append([]tasks.ID(nil), ids...)
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	var got []tasks.ID
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		snap := f.w.Snapshot()
		got = got[:0]
		for id, st := range snap.Tasks {
			if st.State == tasks.StateRunning {
				got = append(got, id)
			}
		}
		sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
		if len(got) == len(want) && len(snap.Tasks) == len(want) && strings.Join(toStrings(got), ",") == strings.Join(toStrings(want), ",") {
			return snap
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.t.Fatalf("running tasks = %v; want %v", got, want)
	return tasks.StatusDoc{}
}

func toStrings(ids []tasks.ID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}

// readStatus reads the published status/node-1 document.
func (f *fixture) readStatus() tasks.StatusDoc {
	f.t.Helper()
	var d tasks.StatusDoc
	if _, err := tasks.ReadJSON(f.admin, f.p.StatusOf("node-1"), &d); err != nil {
		f.t.Fatal(err)
	}
	return d
}

// TestIntegration_WorkerIgnoresOlderEpoch: an assignment written with an
// older epoch than one already seen changes nothing.
func TestIntegration_WorkerIgnoresOlderEpoch(t *testing.T) {
	f := newFixture(t, 100*time.Millisecond)
	spy, msft := tasks.FetchTask("SPY").ID(), tasks.FetchTask("MSFT").ID()
	f.assign(7, f.s.ID(), spy, msft)
	f.waitRunning(spy, msft)

	f.assign(6, f.s.ID(), spy) // a deposed master's stale document
	deadline := time.Now().Add(5 * time.Second)
	for f.w.IgnoredOldEpoch() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := f.w.IgnoredOldEpoch(); n != 1 {
		t.Fatalf("ignored %d old-epoch documents; want 1", n)
	}
	snap := f.waitRunning(spy, msft)
	if snap.Epoch != 7 || snap.Tasks[msft].Epoch != 7 {
		t.Fatalf("status epoch %d, task epoch %d; want 7 and 7", snap.Epoch, snap.Tasks[msft].Epoch)
	}
	if n := f.w.Starts()[msft]; n != 1 {
		t.Fatalf("%s started %d times; want 1", msft, n)
	}
	// The stale document's tasks show as refused, naming both epochs.
	if why := snap.Refused[string(spy)]; !strings.Contains(why, "epoch 6") || !strings.Contains(why, "epoch 7") {
		t.Fatalf("refused = %v; want %s refused naming epochs 6 and 7", snap.Refused, spy)
	}

	f.assign(8, f.s.ID(), spy) // a newer epoch is obeyed
	if snap := f.waitRunning(spy); len(snap.Refused) != 0 {
		t.Fatalf("refused after a newer document: %v", snap.Refused)
	}
}

// TestIntegration_WorkerRefusesUnknownTaskType: an unknown task type is
// refused and reported in status; the other tasks keep running.
func TestIntegration_WorkerRefusesUnknownTaskType(t *testing.T) {
	f := newFixture(t, 100*time.Millisecond)
	spy, ing := tasks.FetchTask("SPY").ID(), tasks.IngestTask(1).ID()
	f.assign(1, f.s.ID(), spy, ing)
	f.waitRunning(spy, ing)

	f.assign(1, f.s.ID(), spy, "compact/SPY", ing, "fetch/not a symbol")
	f.waitRunning(spy, ing)
	deadline := time.Now().Add(5 * time.Second)
	var st tasks.StatusDoc
	for time.Now().Before(deadline) {
		if st = f.readStatus(); len(st.Refused) == 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(st.Refused["compact/SPY"], "unknown task type") {
		t.Errorf("refused[compact/SPY] = %q; want an unknown task type error", st.Refused["compact/SPY"])
	}
	if !strings.Contains(st.Refused["fetch/not a symbol"], `"not a symbol"`) {
		t.Errorf("refused[fetch/not a symbol] = %q; want an error naming the input", st.Refused["fetch/not a symbol"])
	}
	if st.Tasks[spy].State != tasks.StateRunning || st.Tasks[ing].State != tasks.StateRunning {
		t.Errorf("published tasks = %+v; want %s and %s running", st.Tasks, spy, ing)
	}
	for _, id := range []tasks.ID{spy, ing} {
		if n := f.w.Starts()[id]; n != 1 {
			t.Errorf("%s started %d times; want 1 (not restarted by the refused entries)", id, n)
		}
	}
}

// TestIntegration_WorkerIgnoresOtherSession: a document written for another
// session of the same node id assigns nothing.
func TestIntegration_WorkerIgnoresOtherSession(t *testing.T) {
	f := newFixture(t, 100*time.Millisecond)
	spy := tasks.FetchTask("SPY").ID()
	f.assign(3, f.s.ID()+1, spy)
	time.Sleep(300 * time.Millisecond)
	if snap := f.w.Snapshot(); len(snap.Tasks) != 0 {
		t.Fatalf("worker runs %v for a document of another session; want nothing", snap.Tasks)
	}
	f.assign(3, f.s.ID(), spy)
	f.waitRunning(spy)
}

// TestIntegration_WorkerStatusRateAndProgress: status is published at most
// once per interval and carries progress; progress alone is published only
// every ProgressInterval.
func TestIntegration_WorkerStatusRateAndProgress(t *testing.T) {
	for _, tc := range []struct {
		name             string
		progressInterval time.Duration
		minW, maxW       int32
	}{
		{"progress every second", time.Second, 2, 4},
		{"progress every 5s", 5 * time.Second, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, time.Second, tc.progressInterval)
			spy := tasks.FetchTask("SPY").ID()
			f.assign(1, f.s.ID(), spy)
			f.waitRunning(spy)
			time.Sleep(1100 * time.Millisecond) // the start's own publication is out
			// Placeholder runners progress every 50 ms; count status writes for 3.5 s.
			_, st0, err := f.admin.Get(f.p.StatusOf("node-1"))
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(3500 * time.Millisecond)
			var d tasks.StatusDoc
			st1, err := tasks.ReadJSON(f.admin, f.p.StatusOf("node-1"), &d)
			if err != nil {
				t.Fatal(err)
			}
			if writes := st1.Version - st0.Version; writes < tc.minW || writes > tc.maxW {
				t.Fatalf("%d status writes in 3.5 s; want %d..%d", writes, tc.minW, tc.maxW)
			}
			if st1.EphemeralOwner != f.s.ID() {
				t.Fatalf("status owner %x; want the worker's session %x", st1.EphemeralOwner, f.s.ID())
			}
			if tc.progressInterval == time.Second {
				ts := d.Tasks[spy]
				if ts.Progress < 20 || ts.LastProgress.IsZero() || time.Since(ts.LastProgress) > 2*time.Second {
					t.Fatalf("status of %s = %+v; want progress >= 20 and a recent last_progress", spy, ts)
				}
			}
		})
	}
}
