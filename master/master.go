package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/stock-system/stocksys/control"
	"github.com/stock-system/stocksys/election"
	"github.com/stock-system/stocksys/membership"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
)

// Config configures the master loop.
type Config struct {
	// Root is the cluster root znode, e.g. /stocksys/default. Required.
	Root string
	// Partitions returns the partitions of the quotes topic, one ingest task
	// each. Nil means no ingest tasks. Called at every plan; an error keeps
	// the previous list.
	Partitions func(ctx context.Context) ([]int32, error)
	// MinInterval is the least time between the starts of two plans, so
	// that a burst of changes (members joining, symbols added) is planned
	// once. Under load the gap grows to twice the last plan's duration
	// (reading and writing 100,000 tasks takes far longer than a small
	// cluster's plan), so the master never spends more than about half its
	// time planning. Default 20ms.
	MinInterval time.Duration
	// Resync is the period of a full re-read and plan even without a watch
	// event, in case one was missed. Default 10s.
	Resync time.Duration
	// MaxMultiBytes bounds the payload of one fenced Multi; larger plans are
	// written in several, each fenced. Default 512 KiB (ZooKeeper's
	// jute.maxbuffer is 1 MiB by default).
	MaxMultiBytes int
	// MaxMovesInFlight bounds the task moves in flight: tasks revoked from a
	// live owner and not yet granted to their new one. A plan that would
	// move more (a large join, a drain, an uncordon) moves that many, and
	// the rest in later rounds as the earlier moves complete, so that not
	// everything restarts at once. 0 (the default): a quarter of the
	// cluster's tasks, at least DefaultMaxMovesInFlight (32), so that a
	// fourth node joining three moves its share in one wave and a second
	// node joining one in two; a negative value means no bound. A dead
	// node's tasks are not moves (nothing runs them) and are never held
	// back.
	MaxMovesInFlight int
	// Flap damping: a member whose session was lost FlapLosses times
	// within FlapWindow (its members/ znode gone, or back under a new
	// session) is cordoned by the master for FlapCordon, with the reason
	// in the control state; an operator's uncordon lifts it sooner.
	// Defaults 3, 5 min, 10 min; FlapLosses < 0 disables. Losses are
	// counted by the master of the term that sees them (a new master
	// starts counting afresh).
	FlapLosses int
	FlapWindow time.Duration
	FlapCordon time.Duration
	// NodeID is this node's id, recorded as the new master in the failover
	// document. Optional.
	NodeID string
	// Cache is the watched cache of the session the master runs on
	// (zkapi.Cache, shared with the node's worker, standby view and console
	// feed: node makes one per session); the rounds' watched reads go
	// through a handle of it. Nil: a cache of the master's own. It must be
	// over the session the master is given.
	Cache *zkapi.Cache
	// Logger receives structured logs; nil means zap.NewNop().
	Logger *zap.Logger
}

// Defaults of Config.
const (
	DefaultMinInterval   = 20 * time.Millisecond
	DefaultResync        = 10 * time.Second
	DefaultMaxMultiBytes = 512 << 10
	// DefaultMaxMovesInFlight is the least bound on moves in flight when
	// Config.MaxMovesInFlight is 0 (a quarter of the tasks otherwise).
	DefaultMaxMovesInFlight = 32
	DefaultFlapLosses       = 3
	DefaultFlapWindow       = 5 * time.Minute
	DefaultFlapCordon       = 10 * time.Minute
)

// ErrInvalidConfig is wrapped by the errors of Config.Validate.
var ErrInvalidConfig = errors.New("master: invalid config")

// DefaultConfig returns the Config of the master of the cluster under root,
// with every default filled in.
func DefaultConfig(root string) Config {
	return Config{Root: root, MinInterval: DefaultMinInterval, Resync: DefaultResync, MaxMultiBytes: DefaultMaxMultiBytes,
		FlapLosses: DefaultFlapLosses, FlapWindow: DefaultFlapWindow, FlapCordon: DefaultFlapCordon}
}

// Validate checks c without touching ZooKeeper; zero durations and sizes
// mean their defaults. Errors wrap ErrInvalidConfig.
func (c Config) Validate() error {
	if err := session.ValidateRoot(c.Root); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	switch {
	case c.MinInterval < 0:
		return fmt.Errorf("%w: min interval %v < 0", ErrInvalidConfig, c.MinInterval)
	case c.Resync < 0:
		return fmt.Errorf("%w: resync %v < 0", ErrInvalidConfig, c.Resync)
	case c.Resync > 0 && c.Resync < c.MinInterval:
		return fmt.Errorf("%w: resync %v below the min interval %v", ErrInvalidConfig, c.Resync, c.MinInterval)
	case c.FlapWindow < 0 || c.FlapCordon < 0:
		return fmt.Errorf("%w: flap window %v / cordon %v: must not be negative", ErrInvalidConfig, c.FlapWindow, c.FlapCordon)
	case c.MaxMultiBytes < 0 || (c.MaxMultiBytes > 0 && c.MaxMultiBytes < 4<<10):
		return fmt.Errorf("%w: max multi bytes %d: want 0 (default %d) or at least 4096", ErrInvalidConfig, c.MaxMultiBytes, DefaultMaxMultiBytes)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MinInterval == 0 {
		c.MinInterval = DefaultMinInterval
	}
	if c.Resync == 0 {
		c.Resync = DefaultResync
	}
	if c.MaxMultiBytes == 0 {
		c.MaxMultiBytes = DefaultMaxMultiBytes
	}
	if c.FlapLosses == 0 {
		c.FlapLosses = DefaultFlapLosses
	}
	if c.FlapWindow == 0 {
		c.FlapWindow = DefaultFlapWindow
	}
	if c.FlapCordon == 0 {
		c.FlapCordon = DefaultFlapCordon
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// Stats counts the master's work during one term. Safe to read through
// Master.Stats.
type Stats struct {
	Plans      int // plans computed
	Writes     int // znode writes (create, set, delete) sent in fenced Multis
	Multis     int // fenced Multis sent
	BytesWrote int // bytes of znode data written
	Moves      int // tasks revoked from a live owner
}

// Master is the master loop of one term.
type Master struct {
	cfg     Config
	conn    zkapi.Conn // the term's session's connection
	term    term
	epoch   int64     // the term's
	started time.Time // when the term was won
	p       tasks.Paths
	cp      control.Paths
	log     *zap.Logger

	trigger chan struct{}
	// raw is the connection itself; conn is what read uses: raw, or for a
	// Standby a watching view of it (watchedConn).
	raw zkapi.Conn
	// owned counts Run's goroutines (the term watcher, the forwarder of
	// w's changes); Run returns only after they have.
	owned sync.WaitGroup
	// w is the watched view of raw that the rounds read their watched
	// znodes through (members/, symbols/, status/ and each status, intents/;
	// created on first use, closed when Run returns, or by closeWatched);
	// nil while unwatched. Under watchMu.
	watchMu sync.Mutex
	w       *zkapi.Watched
	// standby is set for a Standby's reader (every read goes through its
	// zkapi.Watched; the terms/ records are read unwatched).
	standby bool
	// unwatched: read sets no watches (a Prefetch's reader).
	unwatched bool
	// pre, if set, is the first round's view, read before the winning
	// Multi (UsePrefetch); taken by the first round. wonWith is how many
	// ops of a first plan the winning Multi applied (Prefetch.Ops).
	pre     *Prefetch
	wonWith int

	mu         sync.Mutex
	stats      Stats
	partitions []int32
	firstDone  bool
	// sessions is the members' sessions as the last round read them, losses
	// each member's session losses seen within FlapWindow (flap damping).
	sessions map[string]int64
	losses   map[string][]time.Time
	written  []int32 // partitions as last written to the partitions znode
	// failover is the term's failover document as written by its first
	// round; allRunning is set once it records all_running.
	failover   tasks.FailoverDoc
	allRunning bool
	gen        int64  // last part generation (nextGen)
	lastErr    string // last plan error logged at Error level (not repeated)
}

// New returns the master loop for term, which must have been won on s. It
// returns cfg.Validate's error for an invalid cfg.
func New(s *session.Session, term *election.Term, cfg Config) (*Master, error) {
	m, err := newMaster(s.Conn(), term, term.Epoch, term.Started, cfg)
	if err != nil {
		return nil, err
	}
	m.wonWith = term.WinOps
	return m, nil
}

// term is what the master needs of its election.Term: its end, and fenced
// writes (the epoch check first in each Multi). The unit tests give one on
// zkapi.Mem.
type term interface {
	Done() <-chan struct{}
	Err() error
	Fenced(ctx context.Context, ops ...any) ([]zkapi.MultiResponse, error)
}

func newMaster(conn zkapi.Conn, t term, epoch int64, started time.Time, cfg Config) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Master{cfg: cfg, conn: conn, term: t, epoch: epoch, started: started, p: tasks.NewPaths(cfg.Root), cp: control.NewPaths(cfg.Root),
		log:     cfg.Logger.With(zap.Int64("epoch", epoch)),
		trigger: make(chan struct{}, 1), raw: conn}, nil
}

// Stats returns the counts so far. Safe for concurrent use.
func (m *Master) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Run plans and writes assignments until the term ends (it returns the term's
// cause, e.g. election.ErrFenced or session.ErrUnsafe) or ctx is done (it
// returns nil).
func (m *Master) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer m.closeWatched() // last: the watches' forwarders
	defer m.owned.Wait()   // after cancel: every goroutine of this Run has returned
	defer cancel()
	if w := m.watched(); w != nil {
		m.owned.Add(1)
		go func() { // a fired watch asks for the next round
			defer m.owned.Done()
			for {
				select {
				case <-w.Changed():
					m.poke()
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	m.owned.Add(1)
	go func() { // end our work with the term
		defer m.owned.Done()
		select {
		case <-m.term.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	// The layout (and intents/) exists in every cluster that ran before:
	// the workers create it too. So a new term's first round does not wait
	// for the check: the check runs beside it, and the round is done again
	// after it if it failed (a znode it needed was missing). The handover
	// saves a round trip or two (5-25 ms on a loaded ensemble).
	layout := make(chan error, 1)
	var layoutWG sync.WaitGroup
	layoutWG.Add(1)
	go func() {
		defer layoutWG.Done()
		if err := m.p.EnsureLayout(m.conn); err != nil {
			layout <- err
			return
		}
		if err := session.EnsurePath(m.conn, m.cp.Intents, nil); err != nil {
			layout <- fmt.Errorf("master: %w", err)
			return
		}
		layout <- nil
	}()
	defer layoutWG.Wait()
	first := true
	resync := time.NewTicker(m.cfg.Resync)
	defer resync.Stop()
	var last time.Time
	var took time.Duration // the last plan's duration
	for {
		if wait := max(m.cfg.MinInterval, 2*took) - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return m.result()
			case <-time.After(wait):
			}
		}
		last = time.Now()
		err := m.reconcile(ctx)
		if first {
			first = false
			if lerr := <-layout; lerr != nil {
				return lerr
			}
			if err != nil && !errors.Is(err, election.ErrFenced) && m.term.Err() == nil && ctx.Err() == nil {
				err = m.reconcile(ctx) // with the layout in place
			}
		}
		took = time.Since(last)
		if err != nil {
			if errors.Is(err, election.ErrFenced) || m.term.Err() != nil || ctx.Err() != nil {
				return m.result()
			}
			var tooLarge *tasks.DocTooLargeError
			if errors.As(err, &tooLarge) {
				// Writing it again cannot succeed: wait for a change (or
				// the resync) instead of retrying at once, and say it once.
				if msg := err.Error(); msg != m.lastErr {
					m.lastErr = msg
					m.log.Error("master: assignment cannot be written; waiting for a change", zap.Error(err))
				}
			} else {
				m.log.Warn("master: plan failed; retrying", zap.Error(err))
				m.poke()
			}
		} else {
			m.lastErr = ""
		}
		select {
		case <-ctx.Done():
			return m.result()
		case <-m.trigger:
		case <-resync.C:
			// A full re-read. Watches stay as they are: one armed is live
			// until it fires (go-zookeeper sets it again on a reconnect), and
			// forward disarms it then; re-arming here leaked a goroutine per
			// watch and period.
		}
	}
}

func (m *Master) result() error {
	if err := m.term.Err(); err != nil {
		return err
	}
	return nil
}

func (m *Master) poke() {
	select {
	case m.trigger <- struct{}{}:
	default:
	}
}

// watched returns the view the rounds' watched reads go through (nil:
// unwatched, or closed).
func (m *Master) watched() *zkapi.Watched {
	m.watchMu.Lock()
	defer m.watchMu.Unlock()
	if m.unwatched {
		return nil
	}
	if m.w == nil {
		m.w = zkapi.WatchedOn(m.cfg.Cache, m.raw)
	}
	return m.w
}

// closeWatched closes w (its watches' forwarders); reads after it set no
// watch. Idempotent.
func (m *Master) closeWatched() {
	m.watchMu.Lock()
	w := m.w
	m.w, m.unwatched = nil, true
	m.watchMu.Unlock()
	if w != nil {
		w.Close()
	}
}

// watching reports whether a watch on p (children: a child watch) is armed
// (tests).
func (m *Master) watching(p string, children bool) bool {
	m.watchMu.Lock()
	w := m.w
	m.watchMu.Unlock()
	return w != nil && w.Watching(p, children)
}

// children lists p with a child watch on it (through watched), or plainly
// through m.conn when unwatched (for a Standby, conn is its own Watched).
func (m *Master) children(_ context.Context, p string) ([]string, error) {
	var c zkapi.Conn = m.conn
	if w := m.watched(); w != nil {
		c = w
	}
	names, _, err := c.Children(p)
	return names, err
}

// getWatched reads p with a data watch on it, as children does.
func (m *Master) getWatched(_ context.Context, p string) ([]byte, *zkapi.Stat, error) {
	var c zkapi.Conn = m.conn
	if w := m.watched(); w != nil {
		c = w
	}
	return c.Get(p)
}

// readParallelism bounds the ZooKeeper reads one round has in flight (the
// connection pipelines them: a round costs a few round trips, not one per
// znode).
const readParallelism = 16

// each calls fn(0..n-1), readParallelism at a time, and returns the first
// error (every call has returned by then). fn must only write to its own
// index's results.
func each(n int, fn func(i int) error) error {
	var g errgroup.Group
	g.SetLimit(readParallelism)
	for i := range n {
		g.Go(func() error { return fn(i) })
	}
	return g.Wait()
}

type liveMember struct {
	id       string
	session  int64
	capacity int
}

// view is one consistent-enough read of the cluster state.
type view struct {
	members  map[string]liveMember
	tasks    []tasks.Task
	docs     map[string]tasks.AssignmentDoc // by node
	version  map[string]int32               // assignment znode version by node
	applied  map[string]int32               // by live node: the assignment version its status reflects
	held     map[tasks.ID]map[string]bool   // task -> live nodes whose status lists it
	docParts map[string][]tasks.Part        // by node: the parts its assignment head names
	parts    []string                       // names under assignment-parts/

	// control is the control state as stored (the control znode); intents
	// the intents not yet applied, in sequence order; history the audit
	// list, read only when there are intents to apply.
	control control.State
	intents []control.Pending
	history control.History

	// A term's first round also reads what its one-time writes need
	// (firstReads): the newest term records (for the failover document's
	// previous term) and whether the failover and partitions znodes exist.
	terms    []tasks.TermDoc
	existing map[string]bool

	// maxMoves bounds the moves in flight (Config.MaxMovesInFlight): 0 a
	// quarter of the tasks, at least DefaultMaxMovesInFlight; negative: no
	// bound.
	maxMoves int
	// flapping holds the live members to cordon for flapping (flap
	// damping: lost their session Config.FlapLosses times within
	// FlapWindow), with the reason; flapFor is how long such a cordon
	// lasts.
	flapping map[string]string
	flapFor  time.Duration

	// running holds the tasks a live member runs as its current document
	// assigns them (its status applied that version), with when the run
	// started (the worker's clock).
	running map[tasks.ID]time.Time
}

func (m *Master) read(ctx context.Context) (*view, error) {
	// Every read of the round goes through the watched cache when the
	// master has one (zkapi.Cache: a znode unchanged since the last round
	// is read from memory; the master's own writes are read back at once,
	// see Cache): members' and assignment documents too, not only what a
	// watch asks a round for.
	conn := m.conn
	if w := m.watched(); w != nil {
		conn = w
	}
	v := &view{members: map[string]liveMember{}, docs: map[string]tasks.AssignmentDoc{},
		version: map[string]int32{}, applied: map[string]int32{}, held: map[tasks.ID]map[string]bool{}, docParts: map[string][]tasks.Part{},
		maxMoves: m.cfg.MaxMovesInFlight}

	// Members, tasks, assignments and control are independent reads and go
	// out together; the statuses are read after them (a status counts only
	// for a live member's session, and is never older than the assignment
	// read before it).
	var g errgroup.Group
	g.Go(func() error {
		names, err := m.children(ctx, m.p.Members)
		if err != nil && !errors.Is(err, zkapi.ErrNoNode) {
			return fmt.Errorf("master: members: %w", err)
		}
		found := make([]*liveMember, len(names))
		if err := each(len(names), func(i int) error {
			n := names[i]
			l, err := membership.ReadMember(conn, m.p.Members, n)
			if errors.Is(err, zkapi.ErrNoNode) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("master: %w", err)
			}
			// capacity is optional; a bad document counts as capacity 1
			found[i] = &liveMember{id: n, session: l.Owner, capacity: l.Capacity}
			return nil
		}); err != nil {
			return err
		}
		for _, lm := range found {
			if lm != nil {
				v.members[lm.id] = *lm
			}
		}
		return nil
	})
	g.Go(func() error {
		syms, err := m.children(ctx, m.p.Symbols)
		if err != nil {
			return fmt.Errorf("master: symbols: %w", err)
		}
		sort.Strings(syms)
		for _, n := range syms {
			s, err := tasks.ParseSymbol(n)
			if err != nil || string(s) != n {
				m.log.Warn("master: ignoring invalid symbol znode", zap.String("name", n))
				continue
			}
			v.tasks = append(v.tasks, tasks.FetchTask(s))
		}
		if m.cfg.Partitions != nil {
			ps, err := m.cfg.Partitions(ctx)
			m.mu.Lock()
			if err != nil {
				m.log.Warn("master: partitions unknown; keeping the previous list", zap.Error(err))
			} else {
				m.partitions = ps
			}
			ps = m.partitions
			m.mu.Unlock()
			for _, p := range ps {
				v.tasks = append(v.tasks, tasks.IngestTask(p))
			}
		}
		return nil
	})
	g.Go(func() error {
		docs, _, err := conn.Children(m.p.Assignments)
		if err != nil {
			return fmt.Errorf("master: assignments: %w", err)
		}
		type docRead struct {
			doc   tasks.AssignmentDoc
			parts []tasks.Part
			st    *zkapi.Stat
			err   error
		}
		reads := make([]docRead, len(docs))
		_ = each(len(docs), func(i int) error {
			r := &reads[i]
			r.doc, r.parts, r.st, r.err = m.p.ReadAssignmentParts(conn, docs[i])
			return nil
		})
		for i, n := range docs {
			d, parts, st, err := reads[i].doc, reads[i].parts, reads[i].st, reads[i].err
			v.docParts[n] = parts
			if err != nil {
				if errors.Is(err, zkapi.ErrNoNode) {
					continue
				}
				m.log.Warn("master: unreadable assignment; it will be rewritten", zap.String("node", n), zap.Error(err))
				d = tasks.AssignmentDoc{}
			}
			v.docs[n] = d
			if st != nil {
				v.version[n] = st.Version
			}
		}
		return nil
	})
	// Beside the documents: only a master writes parts, so the listing
	// cannot miss one that the heads read here name.
	g.Go(func() error {
		parts, _, err := conn.Children(m.p.AssignmentParts)
		if err != nil && !errors.Is(err, zkapi.ErrNoNode) {
			return fmt.Errorf("master: assignment parts: %w", err)
		}
		v.parts = parts
		return nil
	})
	// The status/ listing goes out with the rest; the status documents are
	// read after the assignments they acknowledge (below). A status created
	// after the listing is not read: its member counts as lagging (it may
	// run what its document allows) until the listing's watch brings the
	// next round.
	var (
		stats    []string
		statsErr error
	)
	g.Go(func() error {
		stats, statsErr = m.children(ctx, m.p.Status)
		return nil
	})
	g.Go(func() error {
		var err error
		if v.control, _, err = m.cp.ReadState(conn); err != nil {
			// An unreadable state is rewritten from the intents applied to
			// nothing; say so, since cordons and maintenance are lost.
			m.log.Error("master: unreadable control state; it counts as empty", zap.Error(err))
		}
		names, err := m.children(ctx, m.cp.Intents)
		if err != nil && !errors.Is(err, zkapi.ErrNoNode) {
			return fmt.Errorf("master: intents: %w", err)
		}
		if len(names) > 0 {
			if v.intents, err = m.cp.ReadIntents(conn, names); err != nil {
				return fmt.Errorf("master: %w", err)
			}
			if v.history, err = m.cp.ReadHistory(conn); err != nil {
				m.log.Warn("master: unreadable control history; starting a new one", zap.Error(err))
			}
		}
		return nil
	})
	m.mu.Lock()
	first := !m.firstDone
	m.mu.Unlock()
	if first {
		g.Go(func() error { return m.firstReads(v) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	if statsErr != nil {
		return nil, fmt.Errorf("master: status: %w", statsErr)
	}
	statusOf := make([]*tasks.StatusDoc, len(stats))
	if err := each(len(stats), func(i int) error {
		n := stats[i]
		mem, live := v.members[n]
		if !live {
			return nil
		}
		data, _, err := m.getWatched(ctx, m.p.StatusOf(n))
		if errors.Is(err, zkapi.ErrNoNode) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("master: status of %s: %w", n, err)
		}
		// A status rewritten while its parts are read is skipped: with no
		// applied version the node counts as lagging (it may hold anything)
		// until the head's watch brings the next read.
		d, _, err := tasks.DecodeStatus(m.p, data, tasks.ConnGetter(conn))
		if err != nil || int64(d.Session) != mem.session {
			return nil
		}
		statusOf[i] = &d
		return nil
	}); err != nil {
		return nil, err
	}
	for i, n := range stats {
		d := statusOf[i]
		if d == nil {
			continue
		}
		v.applied[n] = d.AppliedVersion
		doc, hasDoc := v.docs[n]
		current := hasDoc && v.version[n] == d.AppliedVersion
		for id, ts := range d.Tasks {
			if v.held[id] == nil {
				v.held[id] = map[string]bool{}
			}
			v.held[id][n] = true
			if current && ts.State == tasks.StateRunning && slices.Contains(doc.Tasks, id) {
				if v.running == nil {
					v.running = map[tasks.ID]time.Time{}
				}
				v.running[id] = ts.Started
			}
		}
	}
	return v, nil
}

// reconcile runs one round, in named steps: read the cluster (read, or the
// term's prefetched first view), decide the next assignment documents
// (decide: plan, gate; pure), diff them against the view into ops
// (controlOps, documentOps, termOps), and write the ops in fenced Multis
// (write).
func (m *Master) reconcile(ctx context.Context) error {
	began := time.Now()
	v, prefetch, err := m.takePrefetch(ctx)
	if v == nil && err == nil {
		v, err = m.read(ctx)
	}
	if err != nil {
		return err
	}
	readDone := time.Now()
	m.mu.Lock()
	first := !m.firstDone
	m.mu.Unlock()
	pl, err := m.plan(v, time.Now().UTC(), first)
	if err != nil {
		return err
	}
	if len(pl.b.ops) == 0 {
		return nil
	}
	sent := time.Now()
	if err := m.write(ctx, pl.b.ops, pl.b.sizes); err != nil {
		return err
	}
	m.wrote(pl)
	if first {
		// Where a new term's first round spent its time (issue 19's phase 2).
		m.log.Info("master: first plan written", zap.Duration("since_won", time.Since(m.started)),
			zap.Duration("to_round", began.Sub(m.started)), zap.String("prefetch", prefetch),
			zap.Duration("read", readDone.Sub(began)), zap.Duration("plan", sent.Sub(readDone)),
			zap.Duration("write", time.Since(sent)), zap.Int("ops", len(pl.b.ops)))
	}
	m.log.Debug("master: assignments written", zap.Int("ops", len(pl.b.ops)), zap.Int("revoked", pl.d.moves))
	return nil
}

// wrote records what pl wrote: the first round is done, the partitions
// and the failover document as written.
func (m *Master) wrote(pl planned) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.firstDone = true
	m.written = pl.parts
	if pl.failover != nil {
		m.failover = *pl.failover
		m.allRunning = !pl.failover.AllRunning.IsZero()
	}
}

// planned is one round's write, decided: the ops, the decision they come
// from, and the partitions the term's ops write (recorded once written).
type planned struct {
	b     batch
	d     decision
	parts []int32
	// failover, if set, is the failover document these ops write
	// (recorded once written).
	failover *tasks.FailoverDoc
}

// plan runs a round's steps between the read and the write on v: the flap
// count, decide, and the diff into ops (controlOps, documentOps, termOps;
// first: the term's first round). It logs the round's notable decisions.
// No ZooKeeper I/O unless v lacks whether a one-time znode exists (upsert).
func (m *Master) plan(v *view, now time.Time, first bool) (planned, error) {
	m.countLosses(v, now)
	d := decide(v, m.epoch, now)
	for _, id := range d.flapped {
		m.log.Warn("master: flap damping: node cordoned", zap.String("member", id), zap.String("reason", v.flapping[id]),
			zap.Duration("for", v.flapFor))
	}
	if d.throttled > 0 {
		m.log.Info("master: moves throttled", zap.Int("revoked", d.moves), zap.Int("held_back", d.throttled),
			zap.Int("max_moves_in_flight", m.cfg.MaxMovesInFlight))
	}
	pl := planned{d: d}
	if err := m.controlOps(&pl.b, d, v); err != nil {
		return planned{}, err
	}
	if err := m.documentOps(&pl.b, d, v); err != nil {
		return planned{}, err
	}
	m.mu.Lock()
	m.stats.Plans++
	m.stats.Moves += d.moves
	m.mu.Unlock()
	var err error
	if pl.parts, pl.failover, err = m.termOps(&pl.b, v, d, now, first); err != nil {
		return planned{}, err
	}
	return pl, nil
}

// allRunningAt returns when every task came to run where the plan wants it
// (nothing left to move: d changes no document; each task but the paused
// runs on its owner per that owner's applied document, v.running): the
// latest run's start, at least the term's win. Zero if not all run (or no
// task).
func (m *Master) allRunningAt(v *view, d decision) time.Time {
	if len(d.docs) > 0 || len(d.gone) > 0 || d.frozen || len(v.tasks) == 0 {
		return time.Time{}
	}
	at := m.started
	for _, t := range v.tasks {
		if _, paused := v.control.Paused[string(t.ID())]; paused {
			continue // the plan runs it nowhere
		}
		st, ok := v.running[t.ID()]
		if !ok {
			return time.Time{}
		}
		if st.After(at) {
			at = st
		}
	}
	return at.UTC()
}

// countLosses records the session losses v shows against the previous
// round (a member gone, or back under another session) and sets
// v.flapping to the live members with Config.FlapLosses losses or more
// within Config.FlapWindow.
func (m *Master) countLosses(v *view, now time.Time) {
	if m.cfg.FlapLosses < 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.losses == nil {
		m.losses = map[string][]time.Time{}
	}
	if m.sessions != nil {
		for id, s := range m.sessions {
			if _, cordoned := v.control.Cordoned[id]; cordoned {
				continue // counted afresh once the cordon is lifted
			}
			if mem, ok := v.members[id]; !ok || mem.session != s {
				m.losses[id] = append(m.losses[id], now)
			}
		}
	}
	m.sessions = make(map[string]int64, len(v.members))
	for id, mem := range v.members {
		m.sessions[id] = mem.session
	}
	v.flapFor = m.cfg.FlapCordon
	for id, ts := range m.losses {
		keep := ts[:0]
		for _, t := range ts {
			if now.Sub(t) <= m.cfg.FlapWindow {
				keep = append(keep, t)
			}
		}
		if len(keep) == 0 {
			delete(m.losses, id)
			continue
		}
		m.losses[id] = keep
		_, cordoned := v.control.Cordoned[id]
		if _, live := v.members[id]; live && !cordoned && len(keep) >= m.cfg.FlapLosses {
			if v.flapping == nil {
				v.flapping = map[string]string{}
			}
			v.flapping[id] = fmt.Sprintf("flap damping: session lost %d times within %v", len(keep), m.cfg.FlapWindow)
			delete(m.losses, id) // counted afresh once the cordon is lifted
		}
	}
}

// batch is one round's write: ops in order, with each op's estimated size
// in bytes (write splits them into Multis under ZooKeeper's jute.maxbuffer).
type batch struct {
	ops   []any
	sizes []int
}

func (b *batch) add(op any, size int) {
	b.ops = append(b.ops, op)
	b.sizes = append(b.sizes, size)
}

// controlOps adds the operator intents applied this round (d.control set):
// the control state, the audit list and the deletions of the intents
// consumed. They come first, so that they go in the first Multi together.
func (m *Master) controlOps(b *batch, d decision, v *view) error {
	if d.control == nil {
		return nil
	}
	op, n, err := m.upsert(m.cp.State, d.control, v)
	if err != nil {
		return err
	}
	b.add(op, n)
	if d.history != nil { // read with the intents it records: never written from an unread (empty) list
		op, n, err := m.upsert(m.cp.History, d.history, v)
		if err != nil {
			return err
		}
		b.add(op, n)
	}
	for _, id := range d.consumed {
		b.add(&zkapi.DeleteRequest{Path: m.cp.Intent(id), Version: -1}, len(id)+64)
	}
	if d.history == nil {
		return nil
	}
	for _, r := range d.history.Actions[len(d.history.Actions)-min(len(d.consumed), len(d.history.Actions)):] {
		m.log.Info("master: operator intent", zap.String("intent", r.ID), zap.String("action", string(r.Action)),
			zap.String("target_node", r.Node), zap.String("task", r.Task), zap.String("by", r.By), zap.String("reason", r.Reason),
			zap.String("result", r.Result), zap.String("error", r.Error))
	}
	return nil
}

// documentOps adds the assignment documents that changed (d.docs, in node
// order; a large one as parts created before the head that names them), the
// deletions of dead members' documents (d.gone), and, after the heads, the
// deletions of parts that no live head names any more (kept in maintenance
// mode: a dead node's document keeps its parts too).
func (m *Master) documentOps(b *batch, d decision, v *view) error {
	named := map[string]bool{} // part paths a live head names after these writes
	for node, parts := range v.docParts {
		if _, live := v.members[node]; live {
			for _, pt := range parts {
				named[pt.Path] = true
			}
		}
	}
	nodes := make([]string, 0, len(d.docs))
	for node := range d.docs {
		nodes = append(nodes, node)
	}
	sort.Strings(nodes)
	for _, node := range nodes {
		doc := d.docs[node]
		_, had := v.docs[node]
		prev := v.docParts[node]
		data, parts, err := tasks.EncodeAssignment(m.p, doc, prev, m.nextGen())
		if err != nil {
			return err
		}
		for _, pt := range prev {
			delete(named, pt.Path)
		}
		for _, pt := range parts {
			named[pt.Path] = true
		}
		for _, pt := range tasks.NewParts(parts, prev) { // before the head that names them
			b.add(&zkapi.CreateRequest{Path: pt.Path, Data: pt.Data, Acl: zkapi.OpenACL()}, len(pt.Data)+len(pt.Path)+64)
		}
		if had {
			b.add(&zkapi.SetDataRequest{Path: m.p.Assignment(node), Data: data, Version: -1}, len(data)+len(node)+64)
		} else {
			b.add(&zkapi.CreateRequest{Path: m.p.Assignment(node), Data: data, Acl: zkapi.OpenACL()}, len(data)+len(node)+64)
		}
	}
	for _, node := range d.gone {
		b.add(&zkapi.DeleteRequest{Path: m.p.Assignment(node), Version: -1}, len(node)+64)
	}
	for _, name := range v.parts { // after the heads: parts no live head names any more
		pp := path.Join(m.p.AssignmentParts, name)
		if named[pp] || d.frozen {
			continue
		}
		b.add(&zkapi.DeleteRequest{Path: pp, Version: -1}, len(pp)+64)
	}
	return nil
}

// termOps adds the term's own documents: the failover document in its
// first round, and the partitions document in its first round and whenever
// the partitions changed since the last write. It returns the partitions
// written (recorded once the write succeeds).
func (m *Master) termOps(b *batch, v *view, d decision, now time.Time, first bool) ([]int32, *tasks.FailoverDoc, error) {
	var fo *tasks.FailoverDoc
	m.mu.Lock()
	recorded := m.allRunning
	m.mu.Unlock()
	switch {
	case first:
		doc := m.failoverDoc(now, v)
		doc.AllRunning = m.allRunningAt(v, d)
		op, n, err := m.upsert(m.p.Failover, doc, v)
		if err != nil {
			return nil, nil, err
		}
		b.add(op, n)
		fo = &doc
	case !recorded:
		if at := m.allRunningAt(v, d); !at.IsZero() {
			m.mu.Lock()
			doc := m.failover
			m.mu.Unlock()
			doc.AllRunning = at
			data, err := json.Marshal(doc)
			if err != nil {
				return nil, nil, err
			}
			b.add(&zkapi.SetDataRequest{Path: m.p.Failover, Data: data, Version: -1}, len(data)+64)
			fo = &doc
		}
	}
	m.mu.Lock()
	parts := m.partitions
	changed := first || !slices.Equal(parts, m.written)
	m.mu.Unlock()
	if changed {
		op, n, err := m.upsert(m.p.Partitions, tasks.PartitionsDoc{Epoch: m.epoch, Partitions: parts, Written: now}, v)
		if err != nil {
			return nil, nil, err
		}
		b.add(op, n)
	}
	return parts, fo, nil
}

// decision is what one round decides from a view.
type decision struct {
	// docs holds the next assignment document of every live member whose
	// tasks or session changed (members whose document stays are absent).
	docs map[string]tasks.AssignmentDoc
	// gone lists the nodes whose documents are deleted: not live members.
	gone []string
	// moves counts the tasks revoked from a live owner this round;
	// throttled the moves the plan wanted and the bound on moves in
	// flight held back (their tasks stay where they are for now).
	moves, throttled int
	// flapped lists the members flap damping cordoned this round.
	flapped []string

	// control is the next control state when intents were applied this
	// round (nil: none pending), history the audit list with their records
	// appended, consumed the names of the intent znodes to delete.
	control  *control.State
	history  *control.History
	consumed []string
	// frozen is set in maintenance mode: no document is written or
	// deleted (docs and gone are empty).
	frozen bool
}

// decide plans the next assignment (tasks.Plan: balanced, sticky, fewest
// moves) from v and gates it: a task leaves its current owner's document
// first (listed there as revoked until released) and goes to its new owner
// only once no other live node may still run it (its document, its status,
// or, for a node whose status lags its document, what that document lets
// it run). The documents it returns carry epoch and now. Pure: no I/O, safe
// to call from tests.
//
// Operator intents (v.intents) are applied first (control.Apply), and the
// plan honours the resulting state: a cordoned member keeps the tasks its
// current document assigns and is given no new one (it takes no part in
// the plan; its tasks are pinned to it); a drained member takes no part and
// keeps nothing, so its tasks are revoked through the same gate; in
// maintenance mode nothing is planned and no document is written or
// deleted (decision.frozen).
func decide(v *view, epoch int64, now time.Time) decision {
	// current: what live members' documents (for their current session) say.
	current := tasks.Assignment{}
	for node, d := range v.docs {
		mem, ok := v.members[node]
		if !ok || int64(d.Session) != mem.session {
			continue
		}
		for _, id := range d.Tasks {
			current[id] = node
		}
	}
	state := v.control
	var ctl decision
	if len(v.intents) > 0 {
		k := control.Known{Members: make(map[string]bool, len(v.members)), Tasks: make(map[string]bool, len(v.tasks))}
		for id := range v.members {
			k.Members[id] = true
		}
		for _, t := range v.tasks {
			k.Tasks[string(t.ID())] = true
		}
		owner := func(task string) string { return current[tasks.ID(task)] }
		next, recs := control.Apply(v.control, v.intents, k, owner, epoch, now)
		h := v.history.Append(recs...)
		ctl.control, ctl.history = &next, &h
		for _, p := range v.intents {
			ctl.consumed = append(ctl.consumed, p.ID)
		}
		state = next
	}
	// Flap damping: cordon the flapping members (not already cordoned) for
	// v.flapFor; lift the master's cordons whose time is up.
	auto := state
	for id, why := range v.flapping {
		if _, cordoned := auto.Cordoned[id]; !cordoned {
			if auto.Equal(state) {
				auto = state.Clone()
			}
			auto.Cordoned[id] = control.Cordon{Mark: control.Mark{By: control.ByFlapDamping, At: now, Reason: why}, Until: now.Add(v.flapFor)}
			ctl.flapped = append(ctl.flapped, id)
		}
	}
	for id, c := range state.Cordoned {
		if !c.Until.IsZero() && !now.Before(c.Until) {
			if auto.Equal(state) {
				auto = state.Clone()
			}
			delete(auto.Cordoned, id)
		}
	}
	if !auto.Equal(state) {
		auto.Epoch, auto.Written = epoch, now
		ctl.control = &auto // the history is written only with applied intents (it was read then)
		state = auto
	}
	if state.Maintenance != nil {
		ctl.frozen = true
		ctl.docs = map[string]tasks.AssignmentDoc{}
		return ctl
	}

	// Holders: a task is held by a live node while its document lists it
	// (until revoked) or its status lists it (until its runner returned).
	// A live node whose status does not yet reflect its latest assignment
	// document (lagging: a revocation just written, or a task it started
	// and has not reported yet) may run what its document assigns or lists
	// as revoked and not yet released, and nothing else: every document
	// since this layout carries Revoked, so that is known from the
	// documents alone, also to a new master. A lagging node whose document
	// has no Revoked list (written by an older build) may run anything: it
	// holds every task until it catches up.
	lagging := map[string]bool{}
	legacy := map[string]bool{}              // lagging, document without Revoked
	mayRun := map[tasks.ID]map[string]bool{} // task -> lagging nodes that may run it
	for node, mem := range v.members {
		d, hasDoc := v.docs[node]
		if !hasDoc || int64(d.Session) != mem.session {
			continue // no document for this session: it was given nothing
		}
		if ap, ok := v.applied[node]; !ok || ap < v.version[node] {
			lagging[node] = true
			if d.Revoked == nil {
				legacy[node] = true
				continue
			}
			for _, id := range append(append([]tasks.ID(nil), d.Tasks...), d.Revoked...) {
				if mayRun[id] == nil {
					mayRun[id] = map[string]bool{}
				}
				mayRun[id][node] = true
			}
		}
	}
	heldElsewhere := func(id tasks.ID, node string) bool {
		if o, ok := current[id]; ok && o != node {
			return true
		}
		for h := range v.held[id] {
			if _, live := v.members[h]; live && h != node { // (read keeps live members' statuses only)
				return true
			}
		}
		for h := range mayRun[id] {
			if h != node {
				return true
			}
		}
		for h := range legacy {
			if h != node {
				return true
			}
		}
		return false
	}
	// Paused tasks take no part in the plan (their owner's document drops
	// them: revoked through the gate). A restarting task takes none until
	// no node holds it; then the restart is done (the state says so) and
	// it is planned again, preferring the owner it had.
	exclude := map[tasks.ID]bool{}
	for id := range state.Paused {
		exclude[tasks.ID(id)] = true
	}
	prefer := map[tasks.ID]string{}
	if len(state.Restarting) > 0 {
		done := state.Clone()
		for id, r := range state.Restarting {
			if _, held := current[tasks.ID(id)]; held || heldElsewhere(tasks.ID(id), "") {
				exclude[tasks.ID(id)] = true
				continue
			}
			delete(done.Restarting, id)
			prefer[tasks.ID(id)] = r.Owner
		}
		if len(prefer) > 0 {
			done.Epoch, done.Written = epoch, now
			ctl.control = &done
			state = done
		}
	}
	target := plan(v, state, current, exclude, prefer)

	// revokedOf returns what node's next document lists as revoked and
	// not yet released, given its next tasks: every task its current
	// document assigns and the next one does not (until it reads the next
	// one, the node may start any of them at any moment, whatever its
	// status says), and every task the current one lists as revoked unless
	// released: the node's status reflects the current document and no
	// longer lists it. nil (unknown) while a node with an older build's
	// document lags.
	revokedOf := func(node string, mem liveMember, next []tasks.ID) []tasks.ID {
		old, had := v.docs[node]
		if !had || int64(old.Session) != mem.session {
			return []tasks.ID{}
		}
		if legacy[node] {
			return nil
		}
		seen := map[tasks.ID]bool{}
		for _, id := range next {
			seen[id] = true
		}
		out := []tasks.ID{}
		for _, id := range old.Tasks {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
		for _, id := range old.Revoked {
			if !seen[id] && (lagging[node] || v.held[id][node]) {
				seen[id] = true
				out = append(out, id)
			}
		}
		slices.Sort(out)
		return out
	}
	// Move throttling: the moves in flight (a task no live document
	// assigns that a live node still holds: revoked, not yet released) and
	// the revocations of this round together stay within v.maxMoves; a
	// move beyond it keeps its task where it is, in task id order, until a
	// later round.
	budget := -1 // no bound
	limit := v.maxMoves
	if limit == 0 {
		limit = max(DefaultMaxMovesInFlight, len(v.tasks)/4)
	}
	if limit > 0 {
		budget = limit
		for _, t := range v.tasks {
			if _, assigned := current[t.ID()]; !assigned && heldElsewhere(t.ID(), "") {
				budget--
			}
		}
	}
	ids := make([]tasks.ID, 0, len(target))
	for id := range target {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	next := map[string][]tasks.ID{}
	moves, held := 0, 0
	for _, id := range ids {
		owner := target[id]
		if cur, ok := current[id]; ok && cur != owner {
			if budget >= 0 && moves >= budget {
				next[cur] = append(next[cur], id) // throttled: stays for now
				held++
				continue
			}
			moves++ // revoke now (cur's document drops it); owner gets it once cur let go
			continue
		}
		if current[id] == owner || !heldElsewhere(id, owner) {
			next[owner] = append(next[owner], id)
		}
	}

	out := decision{docs: map[string]tasks.AssignmentDoc{}, moves: moves, throttled: held, flapped: ctl.flapped,
		control: ctl.control, history: ctl.history, consumed: ctl.consumed}
	for node, mem := range v.members {
		ids := next[node]
		slices.Sort(ids)
		old, had := v.docs[node]
		// A document is rewritten only when its tasks or session change: a new
		// term does not rewrite the others (their owners would have to
		// acknowledge the new version before freed tasks could move).
		if had && int64(old.Session) == mem.session && equalIDs(old.Tasks, ids) {
			continue
		}
		if ids == nil {
			ids = []tasks.ID{}
		}
		out.docs[node] = tasks.AssignmentDoc{Node: node, Session: tasks.SessionID(mem.session), Epoch: epoch, Tasks: ids,
			Revoked: revokedOf(node, mem, ids), Written: now}
	}
	for node := range v.docs {
		if _, live := v.members[node]; !live {
			out.gone = append(out.gone, node)
		}
	}
	sort.Strings(out.gone)
	return out
}

// plan returns tasks.Plan over the members of v that are not cordoned, of
// the tasks not pinned and not excluded (paused, or restarting and still
// held); a task is pinned to a cordoned (not drained) member whose current
// document assigns it, and kept there. prefer gives a task without a
// current owner the owner it should stick to (a restart's), when that node
// is a member and not cordoned.
func plan(v *view, state control.State, current tasks.Assignment, exclude map[tasks.ID]bool, prefer map[tasks.ID]string) tasks.Assignment {
	if len(exclude) > 0 {
		kept := make([]tasks.Task, 0, len(v.tasks))
		for _, t := range v.tasks {
			if !exclude[t.ID()] {
				kept = append(kept, t)
			}
		}
		vv := *v
		vv.tasks = kept
		v = &vv
	}
	if len(prefer) > 0 {
		cur := maps.Clone(current)
		for id, owner := range prefer {
			_, live := v.members[owner]
			_, cordoned := state.Cordoned[owner]
			if _, has := cur[id]; !has && live && !cordoned {
				cur[id] = owner
			}
		}
		current = cur
	}
	members := make([]tasks.Member, 0, len(v.members))
	for _, mem := range v.members {
		if _, cordoned := state.Cordoned[mem.id]; !cordoned {
			members = append(members, tasks.Member{ID: mem.id, Capacity: mem.capacity})
		}
	}
	pinned := map[tasks.ID]string{}
	for id, owner := range current {
		if c, ok := state.Cordoned[owner]; ok && !c.Drain {
			pinned[id] = owner
		}
	}
	if len(pinned) == 0 {
		return tasks.Plan(members, v.tasks, current)
	}
	free := make([]tasks.Task, 0, len(v.tasks))
	var kept []tasks.ID
	for _, t := range v.tasks {
		if _, ok := pinned[t.ID()]; ok {
			kept = append(kept, t.ID())
		} else {
			free = append(free, t)
		}
	}
	target := tasks.Plan(members, free, current)
	for _, id := range kept {
		target[id] = pinned[id]
	}
	return target
}

// nextGen returns a new part generation: the time in ns, above the last.
func (m *Master) nextGen() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen = max(m.gen+1, time.Now().UnixNano())
	return m.gen
}

// write sends ops in fenced Multis of at most MaxMultiBytes each.
func (m *Master) write(ctx context.Context, ops []any, sizes []int) error {
	start, bytes := 0, 0
	flush := func(end int) error {
		if end == start {
			return nil
		}
		if _, err := m.term.Fenced(ctx, ops[start:end]...); err != nil {
			return err
		}
		m.mu.Lock()
		m.stats.Multis++
		m.stats.Writes += end - start
		m.stats.BytesWrote += bytes
		m.mu.Unlock()
		start, bytes = end, 0
		return nil
	}
	for i := range ops {
		if bytes+sizes[i] > m.cfg.MaxMultiBytes {
			if err := flush(i); err != nil {
				return err
			}
		}
		bytes += sizes[i]
	}
	return flush(len(ops))
}

// newestTerms is how many of the newest terms/ records a first round reads:
// the previous term's is among them (the newest is this term's, or the
// previous one's when read beside the winning Multi).
const newestTerms = 3

// firstReads reads, beside the round's other reads, what a term's first
// round writes once: the newest term records and whether the failover and
// partitions znodes exist (so its writes need no read of their own: a
// handover's first write follows its reads at once). An unreadable record
// is skipped (election.NewestTerms; the failover document then names no
// previous node).
func (m *Master) firstReads(v *view) error {
	conn := m.conn
	var g errgroup.Group
	v.existing = map[string]bool{}
	var emu sync.Mutex
	for _, p := range []string{m.p.Failover, m.p.Partitions} {
		g.Go(func() error {
			ok, _, err := conn.Exists(p)
			if err != nil {
				return fmt.Errorf("master: exists %s: %w", p, err)
			}
			emu.Lock()
			v.existing[p] = ok
			emu.Unlock()
			return nil
		})
	}
	termsConn := conn
	if m.standby {
		// A standby reads the terms unwatched: the resignation it takes
		// over from rewrites the newest record (its end) in the Multi that
		// wakes it, which must not make its view stale. Only the
		// failover document's previous term comes from them.
		termsConn = m.raw
	}
	recs, err := election.NewestTerms(termsConn, m.cfg.Root, newestTerms)
	if err != nil {
		_ = g.Wait()
		return fmt.Errorf("master: terms: %w", err)
	}
	v.terms = recs
	return g.Wait()
}

// failoverDoc returns this term's failover document, its previous term
// named from v's newest term records.
func (m *Master) failoverDoc(now time.Time, v *view) tasks.FailoverDoc {
	doc := tasks.FailoverDoc{Epoch: m.epoch, Node: m.cfg.NodeID, PrevEpoch: m.epoch - 1, Elected: m.started.UTC(), FirstAssignment: now}
	for _, r := range v.terms {
		if r.Epoch == doc.PrevEpoch {
			doc.PrevNode, doc.PrevEnded = r.Node, r.Ended.UTC()
		}
	}
	return doc
}

// upsert returns the op that writes x as JSON to p, creating p if missing,
// and the op's size in bytes. Whether p exists is v's (a first round's
// firstReads) if known, else read now.
func (m *Master) upsert(p string, x any, v *view) (any, int, error) {
	data, err := json.Marshal(x)
	if err != nil {
		return nil, 0, err
	}
	ok, known := v.existing[p]
	if !known {
		ok, _, err = m.conn.Exists(p)
		if err != nil {
			return nil, 0, fmt.Errorf("master: exists %s: %w", p, err)
		}
	}
	if ok {
		return &zkapi.SetDataRequest{Path: p, Data: data, Version: -1}, len(data), nil
	}
	return &zkapi.CreateRequest{Path: p, Data: data, Acl: zkapi.OpenACL()}, len(data), nil
}

func equalIDs(a, b []tasks.ID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
