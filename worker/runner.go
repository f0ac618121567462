package worker

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/stock-system/stocksys/tasks"
)

// Runner runs one kind of task.
type Runner interface {
	// Run runs the task until ctx is cancelled (return nil or ctx's error
	// then) or it fails (return the error; the worker reports it and starts
	// the task again with backoff while it stays assigned: see
	// Config.RetryDelay). Run
	// must return promptly once ctx is cancelled.
	Run(ctx context.Context, t *Run) error
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, t *Run) error

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, t *Run) error { return f(ctx, t) }

// Run is what a Runner gets to know about the task it runs. Safe for
// concurrent use.
type Run struct {
	Task tasks.Task
	// Node is this worker's node id; Session its ZooKeeper session id.
	Node    string
	Session int64

	epoch    atomic.Int64
	token    int64 // set before the runner starts
	progress atomic.Int64
	lag      atomic.Int64 // -1: not reported
	returned atomic.Bool  // the runner's Run has returned
	lastProg atomic.Int64 // unix nanoseconds
	onChange func()
	setErr   func(msg string) // set by the worker; nil in a Run made by hand
	ctx      context.Context
	safe     func() bool
}

// Active reports whether the runner may still act: its task has not been
// revoked (its context is live) and the worker's session is before its safe
// deadline. Runners check it right before each side effect (a produce, a
// commit), so that a node resumed from a pause past its safe deadline does not
// act in the moment before the worker cancels its runners.
func (r *Run) Active() bool {
	if r.ctx != nil && r.ctx.Err() != nil {
		return false
	}
	return r.safe == nil || r.safe()
}

// Safe reports whether the worker's session is before its safe deadline,
// whether or not the task was revoked or the worker is stopping. A runner
// whose context was cancelled may still finish what it owes before it
// returns (a last commit, fenced by its Token) while Safe holds: the
// master gives the task to another node only after this runner returned
// (its release) or the session ended, and Safe is false well before the
// server can expire the session (package session).
func (r *Run) Safe() bool { return r.safe == nil || r.safe() }

// Epoch returns the epoch of the latest assignment that gave this node the
// task (it travels in Kafka headers).
func (r *Run) Epoch() int64 { return r.epoch.Load() }

// Token returns the run's fencing token: the zxid of the ZooKeeper write of
// the assignment version from which this runner was started (Stat.Mzxid of
// assignments/<node-id>). Downstream commits carry it (offsets and
// checkpoints in Cassandra: IF token <= ?). It only grows for a task,
// across owners and across terms: the master grants a task to a node only
// after every other node that may run it has released it, which it can do
// only after reading the document that revoked it, and that document's
// write, and so the grant's write after it, has a higher zxid than every
// version the old owner started from (zxids order all ZooKeeper writes).
// So an old owner still running after its task moved (a pause, a cut link,
// a bug in its deadline guard) carries a lower token and its commits are
// refused once the new owner has committed. Constant for the run.
func (r *Run) Token() int64 { return r.token }

// Progress records n more units of work done (quotes, for fetch and ingest)
// and the time; it shows in status as progress and last_progress.
func (r *Run) Progress(n int64) {
	r.progress.Add(n)
	r.lastProg.Store(time.Now().UnixNano())
	if r.onChange != nil {
		r.onChange()
	}
}

// SetLag records how far behind its input the task is, in messages (an
// ingest task: the partition's high-water mark minus its next offset). It
// shows in status as lag.
func (r *Run) SetLag(n int64) { r.lag.Store(max(n, 0)) }

// SetError records msg as the task's last error while the task goes on
// running: a non-fatal problem the runner wants seen (an ingest task's
// dead-lettered messages). It replaces the previous last error, fatal or
// not, and shows in status as last_error from the next publication (which
// it hastens); the task's state is unchanged. An error the runner returns
// later replaces it in turn. It does nothing once the worker has recorded
// this run's return or dropped the task from its status, or on a Run not
// started by a Worker. Safe for concurrent use; it takes the worker's
// lock briefly and never blocks on ZooKeeper.
func (r *Run) SetError(msg string) {
	if r.setErr != nil {
		r.setErr(msg)
	}
}

// Placeholder returns a Runner that does no work and reports one unit of
// progress every interval. It stands in for task types whose real runner is
// not configured.
func Placeholder(interval time.Duration) Runner {
	return RunnerFunc(func(ctx context.Context, t *Run) error {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
				t.Progress(1)
			}
		}
	})
}

// NewRun returns a Run of task t on node with the given epoch and fencing
// token, for running a Runner outside a Worker (tests, tools): it is
// always Active, and its progress, lag and errors go nowhere.
func NewRun(t tasks.Task, node string, epoch, token int64) *Run {
	r := &Run{Task: t, Node: node, token: token}
	r.epoch.Store(epoch)
	r.lag.Store(-1)
	return r
}

// NewRunContext is NewRun whose Active turns false when ctx is done, as a
// worker's Run does on revocation (Safe stays true: there is no session).
func NewRunContext(ctx context.Context, t tasks.Task, node string, epoch, token int64) *Run {
	r := NewRun(t, node, epoch, token)
	r.ctx = ctx
	return r
}
