package worker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
)

// Worker runs this node's assigned tasks for one session. Create it with New
// and call Run once.
type Worker struct {
	cfg   Config
	s     lifetime   // the session's life: id, safe deadline, end
	conn  zkapi.Conn // the session's connection (s.Conn() in production)
	p     tasks.Paths
	log   *zap.Logger
	exits chan exit
	wake  chan struct{} // a runner reported progress: status is dirty
	quit  chan struct{} // closed when Run returns: runners still running drop their exit
	// runners counts the runner goroutines started and not yet returned
	// (Wait).
	runners sync.WaitGroup

	mu        sync.Mutex // guards the fields below, read by Snapshot
	runs      map[tasks.ID]*runState
	refused   map[string]string
	highest   int64 // highest epoch seen
	suspended bool
	desired   map[tasks.ID]tasks.Task // from the latest accepted document
	docEpoch  int64
	docZxid   int64 // zxid of the write of the assignment version acted on: new runners' fencing token
	applied   int32 // version of the assignment znode the task set reflects; -1: none
	// readVersion is the version of the assignment head last read (loop
	// only): -1 none, readAgain when its parts changed while read.
	readVersion int32
	period      context.Context // the current safe period; runners' contexts derive from it

	starts  map[tasks.ID]int // how many times each task was started (for tests and metrics)
	ignored int              // documents ignored for an old epoch
	lastPub time.Time
	urgent  bool // dirty with a change the master waits for (AckInterval applies)
	// ackDue is set while a timer will poke the loop when an urgent change
	// held back by AckInterval becomes due (else it waited for the ticker,
	// StatusInterval/4).
	ackDue bool
	// lastProgPub is when progress, rate and lag were last refreshed in
	// the published status.
	lastProgPub time.Time
	dirty       bool
	statusOK    bool         // status znode exists under this session
	gen         int64        // last status part generation (publish only)
	parts       []tasks.Part // the published status parts (publish only)
	pubErr      string       // last status encoding error logged (publish only)
}

type runState struct {
	run     *Run
	cancel  context.CancelFunc
	status  tasks.TaskStatus
	retryAt time.Time // failed: when to start again
	exited  bool
	// failures and backoff carry over from one run of the task to the
	// next (see Config.RetryDelay); backoff is nil until the first failure.
	failures int
	backoff  *backoff.ExponentialBackOff
}

type exit struct {
	id  tasks.ID
	run *Run
	err error
}

// lifetime is what the worker needs of its session besides the connection:
// *session.Session in production; in unit tests, a stand-in beside a
// zkapi.Mem connection (the decisions on documents, runners and statuses
// are then tested without a server).
type lifetime interface {
	ID() int64
	Err() error
	Done() <-chan struct{}
	Safe() bool
	Unsafe() <-chan struct{}
	SafeDeadline() time.Time
}

// New returns a Worker for session s. It fails with ErrInvalidConfig.
func New(s *session.Session, cfg Config) (*Worker, error) {
	return newWorker(s, s.Conn(), cfg)
}

// newWorker is New on any connection and session life (unit tests: an
// in-memory zkapi.Mem session).
func newWorker(s lifetime, conn zkapi.Conn, cfg Config) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Worker{
		cfg:     cfg,
		s:       s,
		conn:    conn,
		p:       tasks.NewPaths(cfg.Root),
		log:     cfg.Logger.With(zap.String("node", cfg.NodeID)),
		exits:   make(chan exit, 4096),
		quit:    make(chan struct{}),
		wake:    make(chan struct{}, 1),
		runs:    map[tasks.ID]*runState{},
		refused: map[string]string{},
		starts:  map[tasks.ID]int{},
		applied: -1, readVersion: -1,
	}, nil
}

// Run watches the assignment and runs its tasks until ctx is done (it returns
// nil) or the session ends (it returns the session's error). Either way it
// stops every task and waits up to Config.StopTimeout for the runners. On
// ctx done it publishes no last status: the caller closes the session
// (node.Node does), which ends status/<node-id>.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.p.EnsureLayout(w.conn); err != nil {
		return err
	}
	defer close(w.quit)
	for {
		err := w.runSafePeriod(ctx)
		w.stopAll("suspended")
		w.waitRunners(w.cfg.StopTimeout)
		if ctx.Err() != nil {
			// No last status: the node closes its session next, which
			// deletes status/<node-id> with members/<node-id> in one
			// transaction, and that is what the master waits for (a status
			// written now was a quorum write on the leave path, superseded
			// a round trip later).
			return nil
		}
		if serr := w.s.Err(); serr != nil {
			return serr
		}
		if err != nil && !errors.Is(err, session.ErrUnsafe) {
			w.log.Warn("worker: assignment watch failed; retrying", zap.Error(err))
		}
		// Wait for the session to be safe again, then read the assignment afresh.
		for !w.s.Safe() {
			select {
			case <-ctx.Done():
				return nil
			case <-w.s.Done():
				return w.s.Err()
			case e := <-w.exits:
				w.handleExit(e)
			case <-time.After(50 * time.Millisecond):
			}
		}
		w.log.Info("worker: session safe again; reading the assignment afresh")
	}
}

// runSafePeriod acts on the assignment while the session stays safe. It
// returns when the safe period ends, ctx is done, or a ZooKeeper read fails.
func (w *Worker) runSafePeriod(ctx context.Context) error {
	unsafe := w.s.Unsafe()
	if w.cfg.ignoreSafeDeadline { // tests only (see Config.ignoreSafeDeadline)
		unsafe = w.s.Done()
	}
	// Runners of this safe period run under pctx, which a guard cancels the
	// moment the safe deadline passes, whatever this loop is doing (it may be
	// blocked in a ZooKeeper call on a dead connection).
	pctx, pcancel := context.WithCancel(context.Background())
	defer pcancel()
	go func() {
		select {
		case <-unsafe:
			// Said here, by the guard that stops the runners, at the safe
			// deadline: the loop below may be blocked until the link heals.
			w.log.Warn("worker: session unsafe; stopping all tasks", zap.Time("safe_deadline", w.s.SafeDeadline()))
			pcancel()
		case <-pctx.Done():
		}
	}()
	w.mu.Lock()
	w.suspended = false
	w.dirty = true
	w.period = pctx
	w.mu.Unlock()
	ticker := time.NewTicker(w.cfg.StatusInterval / 4)
	defer ticker.Stop()
	// The assignment is read through a handle of the session's watched
	// cache (zkapi.Cache, shared with the master, its standby and the
	// console): each read leaves a watch, and Changed says when it fired. A watch ended by the session
	// (EventNotWatching) fires it as well; the read after it then fails
	// with the session's error.
	watched := zkapi.WatchedOn(w.cfg.Cache, w.conn)
	defer watched.Close()
	lastCheck := time.Now()
	for {
		if err := w.readAssignment(watched); err != nil {
			return err
		}
		w.reconcile()
		w.publish(false)
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-unsafe: // the guard has logged it and stopped the runners
				return session.ErrUnsafe
			case <-watched.Changed():
				break wait
			case e := <-w.exits:
				w.handleExit(e)
				// Take every exit already waiting before reconciling once:
				// a revocation of thousands of tasks is not O(n²).
			drain:
				for {
					select {
					case e := <-w.exits:
						w.handleExit(e)
					default:
						break drain
					}
				}
				w.reconcile()
				w.publish(false)
			case <-w.wake:
				w.publish(false)
			case <-ticker.C:
				w.reconcile() // restarts failed tasks whose retry time came
				w.publish(false)
				// The watch is the way a change arrives; this check is the
				// backstop: a head whose parts changed while read is read
				// again at the next tick, and every KeepAliveInterval the
				// head's version is compared with the one read.
				if w.readVersion == readAgain {
					break wait
				}
				if time.Since(lastCheck) >= w.cfg.KeepAliveInterval {
					lastCheck = time.Now()
					moved, err := w.assignmentMoved()
					if err != nil {
						return err
					}
					if moved {
						w.log.Warn("worker: assignment changed without a watch event; reading it again",
							zap.Int32("read_version", w.readVersion))
						break wait
					}
				}
			}
		}
	}
}

// readAgain is Worker.readVersion for a head whose parts changed while read.
const readAgain = -2

// assignmentMoved reports whether the assignment head's version differs
// from the one last read (created, rewritten or deleted since).
func (w *Worker) assignmentMoved() (bool, error) {
	p := w.p.Assignment(w.cfg.NodeID)
	ok, st, err := w.conn.Exists(p)
	if err != nil {
		return false, fmt.Errorf("worker: exists %s: %w", p, err)
	}
	if !ok {
		return w.readVersion != -1, nil
	}
	return st.Version != w.readVersion, nil
}

// readAssignment reads assignments/<node> through watched (leaving a data
// watch on it, present or not) and records the desired task set.
func (w *Worker) readAssignment(watched *zkapi.Watched) error {
	p := w.p.Assignment(w.cfg.NodeID)
	data, st, err := watched.Get(p)
	if errors.Is(err, zkapi.ErrNoNode) {
		ok, _, err := watched.Exists(p)
		if err != nil {
			return fmt.Errorf("worker: exists %s: %w", p, err)
		}
		if ok { // created meanwhile: read it (the exists watch fires on its next change)
			return w.readAssignment(watched)
		}
		w.readVersion = -1
		w.accept(nil, -1, 0)
		return nil
	}
	if err != nil {
		return fmt.Errorf("worker: get %s: %w", p, err)
	}
	w.readVersion = st.Version
	conn := w.conn
	doc, _, err := tasks.DecodeAssignment(w.p, data, tasks.ConnGetter(conn))
	if errors.Is(err, tasks.ErrPartsChanged) {
		// Rewritten while read: read again at the next tick (its watch
		// may also fire).
		w.log.Debug("worker: assignment changed while read; reading again", zap.String("path", p), zap.Error(err))
		w.readVersion = readAgain
		return nil
	}
	if err != nil {
		w.log.Error("worker: assignment unreadable; keeping current tasks", zap.String("path", p), zap.Error(err))
		return nil
	}
	w.accept(&doc, st.Version, st.Mzxid)
	return nil
}

// verdict is what a worker makes of an assignment document (judge).
type verdict struct {
	// desired are the tasks to run; refused the document's tasks not
	// taken up, with why (shown in status).
	desired map[tasks.ID]tasks.Task
	refused map[string]string
	// highest is the highest epoch seen after this document.
	highest int64
	// older: the document is from an epoch older than one already seen
	// (a deposed master's write): ignored, the running tasks go on.
	older bool
	// otherSession: written for another session of this node (before a
	// restart or a session expiry): nothing runs until the master assigns
	// this session.
	otherSession bool
}

// judge applies the epoch and session rules to doc (nil: no document) for
// a worker on session that has seen epochs up to highest and has runners
// for the task types in runners: an older epoch is ignored, another
// session's document runs nothing, and a task whose id does not parse or
// whose type has no runner is refused (ErrNoRunner). Pure.
func judge(doc *tasks.AssignmentDoc, highest, session int64, runners map[tasks.Type]Runner) verdict {
	v := verdict{desired: map[tasks.ID]tasks.Task{}, refused: map[string]string{}, highest: highest}
	switch {
	case doc == nil:
	case doc.Epoch < highest:
		v.older = true
		why := fmt.Sprintf("assignment of epoch %d is older than epoch %d already seen (a deposed master's write?)", doc.Epoch, highest)
		for _, id := range doc.Tasks {
			v.refused[string(id)] = why
		}
	case int64(doc.Session) != session:
		v.highest = max(highest, doc.Epoch)
		v.otherSession = true
	default:
		v.highest = max(highest, doc.Epoch)
		for _, id := range doc.Tasks {
			t, err := tasks.ParseID(string(id))
			if err == nil {
				if _, ok := runners[t.Type()]; !ok {
					err = fmt.Errorf("%w %q", ErrNoRunner, t.Type())
				}
			}
			if err != nil {
				v.refused[string(id)] = err.Error()
				continue
			}
			v.desired[t.ID()] = t
		}
	}
	return v
}

// accept applies judge to doc (nil: no document), read at znode version
// version, written by the transaction zxid.
func (w *Worker) accept(doc *tasks.AssignmentDoc, version int32, zxid int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.applied != version {
		w.applied = version // reconcile acts on it before the next publication
		w.dirty = true
		w.urgent = true // the master waits for this acknowledgement
	}
	v := judge(doc, w.highest, w.s.ID(), w.cfg.Runners)
	w.dirty = true
	w.refused = v.refused
	if v.older {
		w.ignored++
		w.log.Warn("worker: ignoring assignment from an older epoch",
			zap.Int64("doc_epoch", doc.Epoch), zap.Int64("highest_epoch", w.highest))
		// Shown in status as refused, not as assigned: the tasks already
		// running go on; the document's tasks are not taken up.
		return
	}
	if v.otherSession {
		w.log.Info("worker: assignment was written for another session; running nothing until the master assigns this one",
			zap.String("doc_session", tasks.SessionString(int64(doc.Session))))
	}
	for id, why := range v.refused {
		w.log.Error("worker: refusing assigned task", zap.String("task", id), zap.String("reason", why))
	}
	w.highest = v.highest
	w.desired = v.desired
	if doc != nil {
		w.docEpoch = doc.Epoch
		w.docZxid = zxid
	}
}

// reconcile starts and stops runners so that they match the desired set.
func (w *Worker) reconcile() {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for id, rs := range w.runs {
		if _, ok := w.desired[id]; !ok && rs.cancel != nil && rs.status.State != tasks.StateStopping {
			w.log.Info("worker: stopping revoked task", zap.String("task", string(id)))
			rs.cancel()
			rs.status.State = tasks.StateStopping
			w.dirty = true
		}
		if _, ok := w.desired[id]; !ok && rs.exited { // failed and now revoked
			delete(w.runs, id)
			w.dirty = true
		}
	}
	ids := make([]tasks.ID, 0, len(w.desired))
	for id := range w.desired {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		rs, ok := w.runs[id]
		switch {
		case !ok:
			w.start(w.desired[id], now)
		case rs.exited && !now.Before(rs.retryAt):
			w.start(w.desired[id], now)
		case !rs.exited:
			rs.run.epoch.Store(w.docEpoch)
			if rs.status.Epoch != w.docEpoch {
				rs.status.Epoch = w.docEpoch
				w.dirty = true
			}
		}
	}
}

// start launches a runner for t; w.mu is held.
func (w *Worker) start(t tasks.Task, now time.Time) {
	if w.period == nil || w.period.Err() != nil || !w.s.Safe() {
		// Past the safe deadline (a resumed pause, a cut link): never start
		// anything; the next safe period reads the assignment afresh.
		return
	}
	runner := w.cfg.Runners[t.Type()]
	ctx, cancel := context.WithCancel(w.period)
	r := &Run{Task: t, Node: w.cfg.NodeID, Session: w.s.ID(), onChange: w.poke, ctx: ctx, safe: w.s.Safe}
	if w.cfg.ignoreSafeDeadline { // tests only (see Config.ignoreSafeDeadline)
		r.safe = nil
	}
	r.setErr = func(msg string) { w.setError(t.ID(), r, msg) }
	r.lag.Store(-1)
	r.epoch.Store(w.docEpoch)
	r.token = w.docZxid
	rs := &runState{run: r, cancel: cancel, status: tasks.TaskStatus{
		State: tasks.StateStarting, Epoch: w.docEpoch, Token: strconv.FormatInt(w.docZxid, 10), Started: now.UTC()}}
	if old, ok := w.runs[t.ID()]; ok { // restart after a failure: keep the error and the backoff
		rs.status.LastError = old.status.LastError
		rs.failures, rs.backoff = old.failures, old.backoff
		rs.status.Failures = old.failures
	}
	w.runs[t.ID()] = rs
	w.starts[t.ID()]++
	w.dirty = true
	w.log.Info("worker: starting task", zap.String("task", string(t.ID())), zap.Int64("epoch", w.docEpoch))
	w.runners.Add(1)
	go func() {
		defer w.runners.Done()
		err := runner.Run(ctx, r)
		r.returned.Store(true) // shown at once, even while the loop is blocked
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			err = nil
		}
		select {
		case w.exits <- exit{id: t.ID(), run: r, err: err}:
		case <-w.quit:
		}
	}()
	rs.status.State = tasks.StateRunning
}

// setError records msg as the last error of run r of task id, if r is still
// that task's current, running run (see Run.SetError).
func (w *Worker) setError(id tasks.ID, r *Run, msg string) {
	w.mu.Lock()
	rs, ok := w.runs[id]
	if ok && rs.run == r && !rs.exited && rs.status.LastError != msg {
		rs.status.LastError = msg
		w.dirty = true
	}
	w.mu.Unlock()
	w.poke()
}

// handleExit records that a runner returned.
func (w *Worker) handleExit(e exit) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rs, ok := w.runs[e.id]
	if !ok || rs.run != e.run {
		return
	}
	w.dirty = true
	w.urgent = true // a released task: the master may be waiting to move it
	stopped := rs.status.State == tasks.StateStopping
	if stopped || e.err == nil {
		delete(w.runs, e.id)
		w.log.Info("worker: task stopped", zap.String("task", string(e.id)))
		return
	}
	rs.exited = true
	rs.cancel = nil
	rs.status.State = tasks.StateFailed
	rs.status.LastError = clipError(e.err.Error())
	now := time.Now()
	if rs.backoff == nil || now.Sub(rs.status.Started) >= w.cfg.RetryMaxDelay {
		// The first failure, or one after a healthy run: start over.
		rs.failures = 0
		rs.backoff = backoff.NewExponentialBackOff(backoff.WithInitialInterval(w.cfg.RetryDelay),
			backoff.WithMultiplier(2), backoff.WithMaxInterval(w.cfg.RetryMaxDelay),
			backoff.WithRandomizationFactor(RetryJitter), backoff.WithMaxElapsedTime(0))
	}
	rs.failures++
	rs.status.Failures = rs.failures
	wait := rs.backoff.NextBackOff() // never backoff.Stop: no MaxElapsedTime
	rs.retryAt = now.Add(wait)
	w.log.Error("worker: task failed", zap.String("task", string(e.id)), zap.Int("failures", rs.failures),
		zap.Duration("retry_in", wait), zap.Error(e.err))
}

// stopAll cancels every runner (reason: why, for the log).
func (w *Worker) stopAll(why string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.suspended = true
	w.desired = map[tasks.ID]tasks.Task{}
	for id, rs := range w.runs {
		if rs.exited {
			delete(w.runs, id)
			continue
		}
		if rs.status.State != tasks.StateStopping {
			rs.cancel()
			rs.status.State = tasks.StateStopping
		}
	}
	if len(w.runs) > 0 {
		w.log.Info("worker: stopping all tasks", zap.String("reason", why), zap.Int("tasks", len(w.runs)))
	}
	w.dirty = true
}

// waitRunners waits until every runner has returned, or d passes.
func (w *Worker) waitRunners(d time.Duration) {
	deadline := time.After(d)
	for {
		w.mu.Lock()
		n := len(w.runs)
		w.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case e := <-w.exits:
			w.handleExit(e)
		case <-deadline:
			w.log.Error("worker: runners did not return in time", zap.Int("tasks", n), zap.Duration("waited", d))
			return
		}
	}
}

// Wait blocks until every runner the worker started has returned, or ctx
// is done (it returns ctx's error). Run stops waiting for runners after
// Config.StopTimeout (a runner that ignores its cancellation must not hold
// the node's shutdown forever); Wait is how the worker's owner accounts for
// such a straggler. Safe for concurrent use, before or after Run returns.
func (w *Worker) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { w.runners.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// publish writes status/<node> if it changed, at most once per
// StatusInterval unless force.
func (w *Worker) publish(force bool) {
	w.mu.Lock()
	now := time.Now()
	if !force && !w.urgent && now.Sub(w.lastPub) < w.cfg.StatusInterval && w.cfg.KeepAliveInterval >= w.cfg.StatusInterval {
		w.mu.Unlock() // nothing can be due yet: skip the scan of every task
		return
	}
	progressed := false
	for _, rs := range w.runs { // progress is recorded by runners without the lock
		if lp := rs.run.lastProg.Load(); lp != 0 && lp != rs.status.LastProgress.UnixNano() {
			progressed = true
		}
	}
	// A change of tasks or states goes out as soon as the rate allows; mere
	// progress only every ProgressInterval, so that a state change after a
	// quiet second (a failover) is not held back by a progress update.
	since := now.Sub(w.lastPub)
	sinceProg := now.Sub(w.lastProgPub)
	// A status in parts refreshes progress less often (progressEvery), so
	// that a publication for a state change rewrites only the parts whose
	// tasks changed, and the bytes written per second stay bounded.
	progressDue := force || w.lastProgPub.IsZero() || (progressed && sinceProg >= w.progressEvery())
	// What the master waits for (an acknowledged document, a released
	// task) goes out at once, at most once per AckInterval (coalesced
	// under load); other changes at most once per StatusInterval.
	due := force || (w.dirty && since >= w.cfg.StatusInterval) || (w.urgent && since >= w.cfg.AckInterval) || (progressed && progressDue && since >= w.cfg.StatusInterval) ||
		(w.statusOK && since >= w.cfg.KeepAliveInterval) // an idle node still shows it is alive
	if !due {
		if w.urgent && !w.ackDue {
			w.ackDue = true
			time.AfterFunc(w.cfg.AckInterval-since, func() {
				w.mu.Lock()
				w.ackDue = false
				w.mu.Unlock()
				w.poke()
			})
		}
		w.mu.Unlock()
		return
	}
	if progressDue || len(w.parts) == 0 { // a whole document is rewritten anyway
		for _, rs := range w.runs {
			if lp := rs.run.lastProg.Load(); lp != 0 {
				rs.status.LastProgress = time.Unix(0, lp).UTC()
				p := rs.run.progress.Load()
				if !w.lastProgPub.IsZero() && sinceProg > 0 {
					rs.status.Rate = float64(p-rs.status.Progress) / sinceProg.Seconds()
				}
				rs.status.Progress = p
			}
			if l := rs.run.lag.Load(); l >= 0 {
				rs.status.Lag = &l
			}
		}
		w.lastProgPub = now
	}
	doc := w.snapshotLocked(now)
	w.dirty = false
	w.urgent = false
	w.lastPub = now
	w.mu.Unlock()

	w.gen = max(w.gen+1, now.UnixNano())
	if !w.statusOK {
		w.parts = nil // a new session: the old ephemeral parts are gone or going
	}
	data, parts, err := tasks.EncodeStatus(w.p, doc, w.parts, w.gen)
	if err != nil {
		// A document that cannot be encoded or is too large cannot be
		// written by retrying: say it once per distinct error.
		if msg := err.Error(); msg != w.pubErr {
			w.pubErr = msg
			w.log.Error("worker: status cannot be written", zap.Error(err))
		}
		return
	}
	p := w.p.StatusOf(w.cfg.NodeID)
	conn := w.conn
	var written []string
	for _, part := range tasks.NewParts(parts, w.parts) { // before the head that names them
		pp := part.Path
		_, err = conn.Create(pp, part.Data, zkapi.FlagEphemeral, zkapi.OpenACL())
		if errors.Is(err, zkapi.ErrNoNode) { // a cluster laid out by an older build
			if err = session.EnsurePath(conn, w.p.StatusParts, nil); err == nil {
				_, err = conn.Create(pp, part.Data, zkapi.FlagEphemeral, zkapi.OpenACL())
			}
		}
		if err != nil {
			w.log.Warn("worker: publish status part", zap.String("path", pp), zap.Error(err))
			for _, q := range written {
				_ = conn.Delete(q, -1)
			}
			w.mu.Lock()
			w.dirty = true
			w.mu.Unlock()
			return
		}
		written = append(written, pp)
	}
	if !w.statusOK {
		_, err = conn.Create(p, data, zkapi.FlagEphemeral, zkapi.OpenACL())
		if errors.Is(err, zkapi.ErrNodeExists) {
			// Left by an earlier session of this node id (it goes when that
			// session expires), or ours from before a reconnect.
			var st *zkapi.Stat
			if _, st, err = conn.Get(p); err == nil && st.EphemeralOwner == w.s.ID() {
				_, err = conn.Set(p, data, -1)
			} else if err == nil {
				err = fmt.Errorf("status znode held by session %s", tasks.SessionString(st.EphemeralOwner))
			}
		}
		w.statusOK = err == nil
	} else {
		_, err = conn.Set(p, data, -1)
		if errors.Is(err, zkapi.ErrNoNode) {
			w.statusOK = false
		}
	}
	if err != nil {
		w.log.Warn("worker: publish status", zap.String("path", p), zap.Error(err))
		for _, q := range written {
			_ = conn.Delete(q, -1)
		}
		w.mu.Lock()
		w.dirty = true
		w.mu.Unlock()
		return
	}
	w.pubErr = ""
	for _, q := range tasks.StaleParts(parts, w.parts) { // the previous write's parts, no longer named
		if err := conn.Delete(q, -1); err != nil && !errors.Is(err, zkapi.ErrNoNode) {
			w.log.Debug("worker: delete old status part", zap.String("path", q), zap.Error(err))
		}
	}
	w.parts = parts
}

// progressEvery is how often progress alone is published: ProgressInterval,
// times one eighth of the number of status parts when the status is large
// (10,000 tasks: about 50 parts, every 6 × ProgressInterval).
func (w *Worker) progressEvery() time.Duration {
	return w.cfg.ProgressInterval * time.Duration(max(1, len(w.parts)/8))
}

func (w *Worker) snapshotLocked(now time.Time) tasks.StatusDoc {
	doc := tasks.StatusDoc{Node: w.cfg.NodeID, Session: tasks.SessionID(w.s.ID()), Epoch: w.highest, Suspended: w.suspended,
		AppliedVersion: w.applied, Tasks: make(map[tasks.ID]tasks.TaskStatus, len(w.runs)), Updated: now.UTC()}
	unsafe := !w.s.Safe() // past the safe deadline, runners are being stopped: say so at once
	if unsafe {
		doc.Suspended = true
	}
	for id, rs := range w.runs {
		st := rs.status
		if rs.exited && st.State == tasks.StateFailed {
			st.RetryAt = rs.retryAt.UTC()
		}
		if unsafe && (st.State == tasks.StateRunning || st.State == tasks.StateStarting) {
			st.State = tasks.StateStopping
		}
		if rs.run.returned.Load() && !rs.exited && (st.State == tasks.StateStopping || unsafe) {
			// The runner has returned; the loop has not taken its exit yet
			// (it may be blocked in a ZooKeeper call).
			st.State = tasks.StateStopped
		}
		doc.Tasks[id] = st
	}
	if len(w.refused) > 0 {
		doc.Refused = make(map[string]string, len(w.refused))
		for k, v := range w.refused {
			doc.Refused[k] = v
		}
	}
	return doc
}

// Snapshot returns the worker's current status, as it would publish it. Safe
// for concurrent use.
func (w *Worker) Snapshot() tasks.StatusDoc {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.snapshotLocked(time.Now())
}

// Starts returns how many times each task has been started by this worker.
// Safe for concurrent use.
func (w *Worker) Starts() map[tasks.ID]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[tasks.ID]int, len(w.starts))
	for k, v := range w.starts {
		out[k] = v
	}
	return out
}

// IgnoredOldEpoch returns how many assignment documents were ignored because
// their epoch was older than one already seen. Safe for concurrent use.
func (w *Worker) IgnoredOldEpoch() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ignored
}

// maxErrorBytes bounds a task's last error in the status document (a task
// entry must stay far below a status part's size).
const maxErrorBytes = 1024

// clipError returns msg cut to maxErrorBytes (at a rune boundary), with
// "…" when cut.
func clipError(msg string) string {
	if len(msg) <= maxErrorBytes {
		return msg
	}
	cut := maxErrorBytes
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}
