package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
)

// The worker's decisions on the in-memory twin (zkapi.Mem): the whole loop
// (read the document, judge it, start and stop runners, publish status) in
// milliseconds, without a server. The real-server tests (integration_test.go,
// cutoff_integration_test.go, zombie_fenced_integration_test.go) keep what
// only servers show: sessions expiring, the safe deadline on a real clock,
// Kafka and Cassandra fences.

// memLife is a session's life beside a zkapi.MemConn: the test decides when
// it is unsafe (a new safe period starts when it is made safe again) and when
// it ends.
type memLife struct {
	conn *zkapi.MemConn

	mu     sync.Mutex
	safe   bool
	unsafe chan struct{}
	done   chan struct{}
	err    error
}

func newMemLife(c *zkapi.MemConn) *memLife {
	return &memLife{conn: c, safe: true, unsafe: make(chan struct{}), done: make(chan struct{})}
}

func (l *memLife) ID() int64 { return l.conn.SessionID() }
func (l *memLife) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}
func (l *memLife) Done() <-chan struct{} { return l.done }
func (l *memLife) Safe() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.safe
}
func (l *memLife) Unsafe() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unsafe
}
func (l *memLife) SafeDeadline() time.Time { return time.Now() }

// setSafe ends the safe period (false) or starts a new one (true).
func (l *memLife) setSafe(safe bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case !safe && l.safe:
		close(l.unsafe)
	case safe && !l.safe:
		l.unsafe = make(chan struct{})
	}
	l.safe = safe
}

// trackRunner records, per task id, how many of its runs are live; a run
// whose task id is in fail returns that error at once.
type trackRunner struct {
	mu   sync.Mutex
	live map[tasks.ID]int
	fail map[tasks.ID]error
	toks map[tasks.ID]int64
}

func newTrackRunner() *trackRunner {
	return &trackRunner{live: map[tasks.ID]int{}, fail: map[tasks.ID]error{}, toks: map[tasks.ID]int64{}}
}

func (r *trackRunner) Run(ctx context.Context, run *Run) error {
	id := run.Task.ID()
	r.mu.Lock()
	err := r.fail[id]
	if err == nil {
		r.live[id]++
		r.toks[id] = run.Token()
	}
	r.mu.Unlock()
	if err != nil {
		return err
	}
	<-ctx.Done()
	r.mu.Lock()
	r.live[id]--
	r.mu.Unlock()
	return nil
}

// running returns the task ids with a live run, sorted and space-separated.
func (r *trackRunner) running() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for id, n := range r.live {
		if n > 0 {
			ids = append(ids, string(id))
		}
		if n > 1 {
			ids = append(ids, fmt.Sprintf("(%s x%d)", id, n))
		}
	}
	sort.Strings(ids)
	return strings.Join(ids, " ")
}

type twin struct {
	t     *testing.T
	mem   *zkapi.Mem
	admin *zkapi.MemConn // the master's writes
	conn  *zkapi.MemConn // the worker's session
	life  *memLife
	p     tasks.Paths
	r     *trackRunner
	w     *Worker
	done  chan error
}

// newTwin starts a worker for node-1 on a twin session, with fetch and
// ingest runners that record their live runs.
func newTwin(t *testing.T, opts ...func(*Config)) *twin {
	t.Helper()
	tw := &twin{t: t, mem: zkapi.NewMem(), p: tasks.NewPaths("/stocksys/twin"), r: newTrackRunner(), done: make(chan error, 1)}
	tw.admin, tw.conn = tw.mem.Session(), tw.mem.Session()
	tw.life = newMemLife(tw.conn)
	if err := tw.p.EnsureLayout(tw.admin); err != nil {
		t.Fatal(err)
	}
	cfg := Config{NodeID: "node-1", Root: "/stocksys/twin", StatusInterval: 40 * time.Millisecond, AckInterval: time.Millisecond,
		RetryDelay: 30 * time.Millisecond, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Runners: map[tasks.Type]Runner{tasks.TypeFetch: tw.r, tasks.TypeIngest: tw.r}}
	for _, o := range opts {
		o(&cfg)
	}
	var err error
	if tw.w, err = newWorker(tw.life, tw.conn, cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { tw.done <- tw.w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-tw.done; err != nil {
			t.Errorf("worker.Run = %v; want nil after cancel", err)
		}
		if got := tw.r.running(); got != "" {
			t.Errorf("runs still live after Run returned: %s", got)
		}
		wctx, wcancel := context.WithTimeout(context.Background(), time.Second)
		defer wcancel()
		if err := tw.w.Wait(wctx); err != nil {
			t.Errorf("runner goroutines still alive 1 s after Run returned: %v", err)
		}
	})
	return tw
}

// assign writes node-1's assignment document as a master would and returns
// the zxid of the write (the runs' fencing token).
func (tw *twin) assign(epoch, sessionID int64, ids []tasks.ID, revoked ...tasks.ID) int64 {
	tw.t.Helper()
	data, _ := json.Marshal(tasks.AssignmentDoc{Node: "node-1", Session: tasks.SessionID(sessionID), Epoch: epoch,
		Tasks: ids, Revoked: revoked, Written: time.Now()})
	p := tw.p.Assignment("node-1")
	_, err := tw.admin.Set(p, data, -1)
	if errors.Is(err, zkapi.ErrNoNode) {
		_, err = tw.admin.Create(p, data, 0, nil)
	}
	if err != nil {
		tw.t.Fatal(err)
	}
	_, st, err := tw.admin.Get(p)
	if err != nil {
		tw.t.Fatal(err)
	}
	return st.Mzxid
}

// status reads the published status/node-1 (ok false: none).
func (tw *twin) status() (d tasks.StatusDoc, ok bool) {
	tw.t.Helper()
	_, err := tasks.ReadJSON(tw.admin, tw.p.StatusOf("node-1"), &d)
	if errors.Is(err, zkapi.ErrNoNode) {
		return d, false
	}
	if err != nil {
		tw.t.Fatal(err)
	}
	return d, true
}

// waitFor polls cond for up to 5 s; on timeout it fails with what().
func (tw *twin) waitFor(cond func() bool, what func() string) {
	tw.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tw.t.Fatalf("after 5 s: %s", what())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitStatus waits for a published status that satisfies cond.
func (tw *twin) waitStatus(what string, cond func(d tasks.StatusDoc) bool) tasks.StatusDoc {
	tw.t.Helper()
	var d tasks.StatusDoc
	tw.waitFor(func() bool { var ok bool; d, ok = tw.status(); return ok && cond(d) },
		func() string { return fmt.Sprintf("status %+v; want %s", d, what) })
	return d
}

// statesOf lists a status's tasks as "id=state", sorted.
func statesOf(d tasks.StatusDoc) string {
	var out []string
	for id, st := range d.Tasks {
		out = append(out, string(id)+"="+st.State)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

var (
	spy  = tasks.FetchTask("SPY").ID()
	msft = tasks.FetchTask("MSFT").ID()
	ing0 = tasks.IngestTask(0).ID()
)

// Decision: a document of the current epoch for this session is obeyed:
// its tasks run with the write's zxid as their fencing token, and the status
// reflects the document's version.
func TestTwinAcceptsCurrentDocument(t *testing.T) {
	tw := newTwin(t)
	tok := tw.assign(3, tw.conn.SessionID(), []tasks.ID{spy, ing0})
	tw.waitFor(func() bool { return tw.r.running() == "fetch/SPY ingest/0" }, tw.r.running)
	d := tw.waitStatus("both running, version 0", func(d tasks.StatusDoc) bool {
		return statesOf(d) == "fetch/SPY=running ingest/0=running" && d.AppliedVersion == 0
	})
	if d.Epoch != 3 || d.Session != tasks.SessionID(tw.conn.SessionID()) || d.Tasks[spy].Token != fmt.Sprint(tok) {
		t.Fatalf("status epoch %d session %v token %q; want 3, %#x, %d", d.Epoch, d.Session, d.Tasks[spy].Token, tw.conn.SessionID(), tok)
	}
	tw.r.mu.Lock()
	got := tw.r.toks[ing0]
	tw.r.mu.Unlock()
	if got != tok {
		t.Fatalf("ingest/0 ran with token %d; want the assignment write's zxid %d", got, tok)
	}
}

// Decision: a document of an older epoch than one already seen (a deposed
// master's write) changes nothing: the tasks keep running, unrestarted, and
// the status names both epochs.
func TestTwinIgnoresOlderEpoch(t *testing.T) {
	tw := newTwin(t)
	tw.assign(7, tw.conn.SessionID(), []tasks.ID{spy, msft})
	tw.waitFor(func() bool { return tw.r.running() == "fetch/MSFT fetch/SPY" }, tw.r.running)
	tw.assign(6, tw.conn.SessionID(), []tasks.ID{spy})
	tw.waitFor(func() bool { return tw.w.IgnoredOldEpoch() == 1 }, func() string { return fmt.Sprint(tw.w.IgnoredOldEpoch(), " ignored") })
	d := tw.waitStatus("version 1 refused for epoch 6", func(d tasks.StatusDoc) bool { return d.AppliedVersion == 1 })
	if why := d.Refused[string(spy)]; !strings.Contains(why, "epoch 6") || !strings.Contains(why, "epoch 7") {
		t.Fatalf("refused %v; want %s refused naming epochs 6 and 7", d.Refused, spy)
	}
	if got := tw.r.running(); got != "fetch/MSFT fetch/SPY" || tw.w.Starts()[msft] != 1 || d.Epoch != 7 {
		t.Fatalf("after a stale document: running %q, %s started %d times, status epoch %d; want both, once, 7", got, msft, tw.w.Starts()[msft], d.Epoch)
	}
	tw.assign(8, tw.conn.SessionID(), []tasks.ID{spy}) // a newer epoch is obeyed
	tw.waitFor(func() bool { return tw.r.running() == "fetch/SPY" }, tw.r.running)
}

// Decision: a document written for another session of the same node id (the
// node restarted; the master has not seen it yet) runs nothing, and stops
// what this session ran.
func TestTwinIgnoresOtherSession(t *testing.T) {
	tw := newTwin(t)
	tw.assign(2, tw.conn.SessionID(), []tasks.ID{spy})
	tw.waitFor(func() bool { return tw.r.running() == "fetch/SPY" }, tw.r.running)
	tw.assign(3, tw.conn.SessionID()+1, []tasks.ID{spy, msft})
	tw.waitFor(func() bool { return tw.r.running() == "" }, tw.r.running)
	d := tw.waitStatus("no tasks, version 1", func(d tasks.StatusDoc) bool { return len(d.Tasks) == 0 && d.AppliedVersion == 1 })
	if d.Epoch != 3 {
		t.Fatalf("status epoch %d; want 3 (the other session's document still raises the highest epoch seen)", d.Epoch)
	}
	tw.assign(3, tw.conn.SessionID(), []tasks.ID{msft})
	tw.waitFor(func() bool { return tw.r.running() == "fetch/MSFT" }, tw.r.running)
}

// Decision: an unknown task type, an unparsable id and a type without a
// runner are refused with a reason naming the input; the other tasks keep
// running unrestarted.
func TestTwinRefusesUnknownTasks(t *testing.T) {
	tw := newTwin(t, func(c *Config) { delete(c.Runners, tasks.TypeIngest) })
	tw.assign(1, tw.conn.SessionID(), []tasks.ID{spy})
	tw.waitFor(func() bool { return tw.r.running() == "fetch/SPY" }, tw.r.running)
	tw.assign(1, tw.conn.SessionID(), []tasks.ID{spy, "compact/SPY", "fetch/not a symbol", ing0})
	d := tw.waitStatus("3 refused", func(d tasks.StatusDoc) bool { return len(d.Refused) == 3 })
	for id, want := range map[string]string{"compact/SPY": "unknown task type", "fetch/not a symbol": `"not a symbol"`, "ingest/0": `no runner for task type "ingest"`} {
		if !strings.Contains(d.Refused[id], want) {
			t.Errorf("refused[%s] = %q; want it to contain %s", id, d.Refused[id], want)
		}
	}
	if got := tw.r.running(); got != "fetch/SPY" || tw.w.Starts()[spy] != 1 || statesOf(d) != "fetch/SPY=running" {
		t.Fatalf("running %q (%s started %d times), published %s; want fetch/SPY alone, once", got, spy, tw.w.Starts()[spy], statesOf(d))
	}
}

// Decision: a task revoked from the document (or the document deleted)
// stops; the status lists it until its runner has returned, then no more,
// so the master can hand it over.
func TestTwinRevokeAndDelete(t *testing.T) {
	tw := newTwin(t)
	tw.assign(4, tw.conn.SessionID(), []tasks.ID{spy, msft, ing0})
	tw.waitFor(func() bool { return tw.r.running() == "fetch/MSFT fetch/SPY ingest/0" }, tw.r.running)
	tw.assign(4, tw.conn.SessionID(), []tasks.ID{spy, ing0}, msft)
	d := tw.waitStatus("msft released at version 1", func(d tasks.StatusDoc) bool {
		return d.AppliedVersion == 1 && statesOf(d) == "fetch/SPY=running ingest/0=running"
	})
	if got := tw.r.running(); got != "fetch/SPY ingest/0" {
		t.Fatalf("running %q after status %s said MSFT was released", got, statesOf(d))
	}
	if err := tw.admin.Delete(tw.p.Assignment("node-1"), -1); err != nil {
		t.Fatal(err)
	}
	tw.waitStatus("nothing, no document", func(d tasks.StatusDoc) bool { return d.AppliedVersion == -1 && len(d.Tasks) == 0 })
	if got := tw.r.running(); got != "" {
		t.Fatalf("running %q after the document was deleted", got)
	}
}

// Decision: when the session's safe period ends, every runner stops at once
// (before anything else is read); when it is safe again the document is read
// afresh and its tasks run again, each once.
func TestTwinUnsafeStopsEverything(t *testing.T) {
	tw := newTwin(t)
	tw.assign(5, tw.conn.SessionID(), []tasks.ID{spy, ing0})
	tw.waitFor(func() bool { return tw.r.running() == "fetch/SPY ingest/0" }, tw.r.running)
	tw.life.setSafe(false)
	tw.waitFor(func() bool { return tw.r.running() == "" }, func() string { return "still running while unsafe: " + tw.r.running() })
	if snap := tw.w.Snapshot(); !snap.Suspended {
		t.Fatalf("snapshot while unsafe: %+v; want suspended", snap)
	}
	tw.assign(5, tw.conn.SessionID(), []tasks.ID{spy, msft, ing0}) // written while this node cannot act
	time.Sleep(20 * time.Millisecond)
	if got := tw.r.running(); got != "" {
		t.Fatalf("a runner started while unsafe: %s", got)
	}
	tw.life.setSafe(true)
	tw.waitFor(func() bool { return tw.r.running() == "fetch/MSFT fetch/SPY ingest/0" }, tw.r.running)
	tw.waitStatus("3 running at version 1, not suspended", func(d tasks.StatusDoc) bool {
		return !d.Suspended && d.AppliedVersion == 1 && len(d.Tasks) == 3
	})
	if n := tw.w.Starts()[spy]; n != 2 {
		t.Fatalf("%s started %d times; want 2 (before and after the unsafe period)", spy, n)
	}
}

// Decision: a runner that fails is reported failed with its error, and is
// started again after RetryDelay while it stays assigned.
func TestTwinFailedTaskRetried(t *testing.T) {
	tw := newTwin(t)
	tw.r.mu.Lock()
	tw.r.fail[msft] = errors.New("source: no data for MSFT")
	tw.r.mu.Unlock()
	tw.assign(1, tw.conn.SessionID(), []tasks.ID{spy, msft})
	d := tw.waitStatus("MSFT failed", func(d tasks.StatusDoc) bool { return d.Tasks[msft].State == tasks.StateFailed })
	if !strings.Contains(d.Tasks[msft].LastError, "no data for MSFT") || d.Tasks[spy].State != tasks.StateRunning {
		t.Fatalf("published %+v; want MSFT failed with its error, SPY running", d.Tasks)
	}
	tw.waitFor(func() bool { return tw.w.Starts()[msft] >= 2 }, func() string { return fmt.Sprint(tw.w.Starts()) })
	tw.r.mu.Lock()
	delete(tw.r.fail, msft)
	tw.r.mu.Unlock()
	tw.waitFor(func() bool { return tw.r.running() == "fetch/MSFT fetch/SPY" }, tw.r.running)
	if n := tw.w.Starts()[spy]; n != 1 {
		t.Fatalf("%s started %d times; want 1 (the retries are MSFT's alone)", spy, n)
	}
}

// Decision: the worker's session ending (expiry) ends Run with the
// session's error after every runner stopped.
func TestTwinSessionEndStopsRun(t *testing.T) {
	mem := zkapi.NewMem()
	conn := mem.Session()
	life := newMemLife(conn)
	r := newTrackRunner()
	w, err := newWorker(life, conn, Config{NodeID: "node-1", Root: "/stocksys/twin", StatusInterval: 40 * time.Millisecond,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)), Runners: map[tasks.Type]Runner{tasks.TypeFetch: r}})
	if err != nil {
		t.Fatal(err)
	}
	p := tasks.NewPaths("/stocksys/twin")
	if err := p.EnsureLayout(conn); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(tasks.AssignmentDoc{Node: "node-1", Session: tasks.SessionID(conn.SessionID()), Epoch: 1, Tasks: []tasks.ID{spy}})
	if _, err := mem.Session().Create(p.Assignment("node-1"), data, 0, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for r.running() != "fetch/SPY" && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if r.running() != "fetch/SPY" {
		t.Fatal("fetch/SPY never ran")
	}
	life.mu.Lock()
	life.err = session.ErrExpired
	life.mu.Unlock()
	life.setSafe(false)
	close(life.done)
	conn.Expire()
	select {
	case err := <-done:
		if !errors.Is(err, session.ErrExpired) {
			t.Fatalf("Run = %v; want session.ErrExpired", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its session ended")
	}
	if got := r.running(); got != "" {
		t.Fatalf("runs live after Run returned: %s", got)
	}
	if err := w.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// A runner that ignores its cancellation: Run returns after StopTimeout
// (logged), and Wait tells its owner the runner is still alive until it
// returns.
func TestTwinWaitForAStraggler(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(1)
	stuck := runnerFunc(func(ctx context.Context, _ *Run) error { started.Done(); <-release; return nil })
	mem := zkapi.NewMem()
	conn := mem.Session()
	p := tasks.NewPaths("/stocksys/twin")
	if err := p.EnsureLayout(conn); err != nil {
		t.Fatal(err)
	}
	w, err := newWorker(newMemLife(conn), conn, Config{NodeID: "node-1", Root: "/stocksys/twin", StopTimeout: 20 * time.Millisecond,
		Logger: zap.NewNop(), Runners: map[tasks.Type]Runner{tasks.TypeFetch: stuck}})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(tasks.AssignmentDoc{Node: "node-1", Session: tasks.SessionID(conn.SessionID()), Epoch: 1, Tasks: []tasks.ID{spy}})
	if _, err := mem.Session().Create(p.Assignment("node-1"), data, 0, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	started.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v; want nil after cancel", err)
	}
	short, scancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer scancel()
	if err := w.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with a runner still alive = %v; want context.DeadlineExceeded", err)
	}
	close(release)
	if err := w.Wait(t.Context()); err != nil {
		t.Fatalf("Wait after the runner returned = %v", err)
	}
}

type runnerFunc func(ctx context.Context, r *Run) error

func (f runnerFunc) Run(ctx context.Context, r *Run) error { return f(ctx, r) }
