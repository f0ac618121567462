// Package node runs one Stock-System node: a member of the cluster, an
// election candidate that runs the master loop while it holds a term, and a
// worker that runs the tasks assigned to it.
//
// # Lifecycle
//
// Run keeps the node registered (package membership opens a new ZooKeeper
// session after each expiry). For each session it starts the worker and the
// candidate on that session; when the session ends, both stop (the worker
// stopped its tasks already at the session's safe deadline) and the node
// starts again on the next session, from a fresh assignment.
//
// When Run's context is cancelled (SIGTERM), the node shuts down in the order
// that gives the fastest safe handover: it resigns mastership (the next
// candidate takes over at once), stops its tasks (runners flush: the producer
// has delivered what it sent, offsets of stored batches are committed), and
// only then deletes its member znode and closes its session, which is when the
// master gives its tasks to other nodes.
package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/stock-system/stocksys/audit"
	"github.com/stock-system/stocksys/election"
	"github.com/stock-system/stocksys/master"
	"github.com/stock-system/stocksys/membership"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
	"github.com/stock-system/stocksys/zkapi"
)

// DefaultSessionTimeout is a node's ZooKeeper session timeout unless
// Config.SessionTimeout (stocksys node --session-timeout) says otherwise:
// shorter than the session package's library default (10 s) because a
// node's crash detection is the failover time.
const DefaultSessionTimeout = 6 * time.Second

// Config configures a Node.
type Config struct {
	// ID is the node id (1-64 characters of [A-Za-z0-9._-]). Required.
	ID string
	// Cluster names the cluster; its root znode is /stocksys/<Cluster>, unless
	// Root is set. Default "default".
	Cluster string
	Root    string
	// ZK lists the ZooKeeper servers, host:port. Required.
	ZK []string
	// ZKAuth is the digest identity the node's sessions authenticate as
	// (session.Config.Auth; nil: anonymous), and ZKACL the ACL of every
	// znode they create (session.Config.ACL; zkapi.ClusterACL for a secured
	// cluster; nil: open).
	ZKAuth *zkapi.Credentials
	ZKACL  []zkapi.ACL
	// SessionTimeout is the ZooKeeper session timeout: how long a crashed or
	// partitioned node keeps its tasks and mastership. Default
	// DefaultSessionTimeout (6 s).
	SessionTimeout time.Duration
	// Addr is where this node serves HTTP (published in members/ and master).
	Addr string
	// Version is the software version published in members/.
	Version string
	// Capacity weights this node's share of tasks (0 or 1: an equal share).
	Capacity int
	// MaxMovesInFlight bounds the task moves in flight while this node is
	// master (master.Config.MaxMovesInFlight; 0: its default, negative: no
	// bound).
	MaxMovesInFlight int
	// FlapLosses, FlapWindow and FlapCordon configure the master's flap
	// damping (master.Config; zero values take its defaults, FlapLosses
	// < 0 disables it).
	FlapLosses             int
	FlapWindow, FlapCordon time.Duration
	// Runners gives the runner of each task type (see package pipeline for
	// the data path). A type without a runner is refused by the worker.
	Runners map[tasks.Type]worker.Runner
	// Partitions lists the ingest partitions for the master (see
	// master.Config.Partitions). Nil: no ingest tasks.
	Partitions func(ctx context.Context) ([]int32, error)
	// StatusInterval is the worker's status period; default 1s.
	StatusInterval time.Duration
	// Logger receives structured logs (each line carries the node id); nil
	// means zap.NewNop().
	Logger *zap.Logger
	// Audit, if set, receives the node's audit trail: term start and end,
	// every fenced write, every task runner's start and stop (package audit).
	// The caller opens and closes it. Optional.
	Audit *audit.Writer
	// Bars reads the stored bars of a symbol (store.Store.Bars: interval
	// 1m, 5m, 1h or 1d, start in [from, to), TS order) for the console's
	// charts (/v1/bars, the events' "bars"); nil: no charts (404).
	Bars func(ctx context.Context, symbol, interval string, from, to time.Time) ([]store.Bar, error)
	// Alerts reads the stored alerts (implausible moves, store.Store.Alerts)
	// of a symbol with from <= TS < to, TS order, for the charts' markers
	// (/v1/alerts, the events' "bars"); nil: none shown.
	Alerts func(ctx context.Context, symbol string, from, to time.Time) ([]store.Alert, error)
	// DefaultSource is the quote source of symbols registered without one
	// (stocksys node --source), for the trading-hours metric
	// (metrics.SymbolTrading; "": none, always trading).
	DefaultSource string
	// APIToken is the bearer token the REST API's mutating requests must
	// carry (Handler, /v1/); "" refuses them all (403). Read endpoints need
	// none.
	APIToken string
	// ConnectTimeout bounds the wait for the node's first registration (a
	// ZooKeeper session and its members/<id> znode) when Run starts: past it
	// Run returns ErrNoZooKeeper naming the servers. 0 waits for ever. Later
	// losses of the session are retried without a bound, as before.
	ConnectTimeout time.Duration
}

// DefaultConnectTimeout is Config.ConnectTimeout in DefaultConfig (stocksys
// node --connect-timeout).
const DefaultConnectTimeout = 30 * time.Second

// DefaultConfig returns the Config of node id on the ZooKeeper servers zk in
// the default cluster, with the defaults that `stocksys node` uses: session
// timeout DefaultSessionTimeout, capacity 1, connect timeout
// DefaultConnectTimeout, the worker's status interval and the master's flap
// damping. No runners, partitions, store or token.
func DefaultConfig(id string, zk ...string) Config {
	m, w := master.DefaultConfig(""), worker.DefaultConfig(id, "")
	return Config{ID: id, Cluster: "default", ZK: zk, SessionTimeout: DefaultSessionTimeout, Capacity: 1,
		ConnectTimeout: DefaultConnectTimeout, StatusInterval: w.StatusInterval,
		FlapLosses: m.FlapLosses, FlapWindow: m.FlapWindow, FlapCordon: m.FlapCordon}
}

// ErrNoZooKeeper: the node got no ZooKeeper session (or could not register)
// within Config.ConnectTimeout of starting.
var ErrNoZooKeeper = errors.New("node: no ZooKeeper session")

// Validate checks the config without touching any server.
func (c Config) Validate() error {
	if err := session.ValidateNodeID(c.ID); err != nil {
		return fmt.Errorf("node: --id: %w", err)
	}
	if c.Cluster != "" {
		if err := session.ValidateNodeID(c.Cluster); err != nil {
			return fmt.Errorf("node: --cluster: %w", err)
		}
	}
	if len(c.ZK) == 0 {
		return errors.New("node: --zk: no ZooKeeper server given")
	}
	if c.SessionTimeout < 0 || (c.SessionTimeout != 0 && c.SessionTimeout < time.Second) {
		return fmt.Errorf("node: --session-timeout %v: must be at least 1s", c.SessionTimeout)
	}
	if c.Capacity < 0 {
		return fmt.Errorf("node: --capacity %d: must not be negative", c.Capacity)
	}
	if c.ConnectTimeout < 0 || c.StatusInterval < 0 {
		return fmt.Errorf("node: negative duration (--connect-timeout %v, status interval %v)", c.ConnectTimeout, c.StatusInterval)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Cluster == "" {
		c.Cluster = "default"
	}
	if c.Root == "" {
		c.Root = membership.DefaultRoot(c.Cluster)
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// Node is one running node. Its accessors are safe for concurrent use.
type Node struct {
	cfg    Config
	log    *zap.Logger
	member *membership.Member

	feed      feed // the console streams' one reader of the cluster (feed.go)
	mu        sync.Mutex
	clusterAt time.Time // last cluster metrics read (updateClusterMetrics)
	s         *session.Session
	cache     *zkapi.Cache     // s's watched cache (runSession)
	cacheEnd  zkapi.CacheStats // reads of the caches of ended sessions
	cacheSeen zkapi.CacheStats // reads already counted in the metrics (UpdateMetrics)
	w         *worker.Worker
	term      *election.Term
	masterL   *master.Master
	epochs    atomic.Int64 // latest epoch seen as master
	terms     int

	done     chan struct{} // closed when Run returns (the console's event streams end)
	doneOnce sync.Once
}

// New validates cfg and returns a Node; nothing is contacted yet.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger.With(zap.String("node", cfg.ID))
	mcfg := membership.DefaultConfig(cfg.ID, cfg.ZK...)
	mcfg.Session.Timeout = cfg.SessionTimeout
	mcfg.Session.Logger = log
	mcfg.Session.Auth, mcfg.Session.ACL, mcfg.Session.ACLRoot = cfg.ZKAuth, cfg.ZKACL, cfg.Root
	mcfg.Cluster, mcfg.Root, mcfg.Addr = cfg.Cluster, cfg.Root, cfg.Addr
	mcfg.Version, mcfg.Capacity, mcfg.Logger = cfg.Version, cfg.Capacity, cfg.Logger // it adds the node id
	m, err := membership.New(mcfg)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, member: m, done: make(chan struct{})}
	n.feed.n = n
	return n, nil
}

// Run runs the node until ctx is cancelled (graceful shutdown, returns nil)
// or registration fails for good (membership.ErrDuplicateID,
// session.ErrTimeoutOutOfRange).
func (n *Node) Run(ctx context.Context) error {
	defer n.doneOnce.Do(func() { close(n.done) })
	memberCtx, stopMember := context.WithCancel(context.Background())
	defer stopMember()
	memberDone := make(chan error, 1)
	go func() { memberDone <- n.member.Run(memberCtx) }()

	var firstDeadline <-chan time.Time
	if n.cfg.ConnectTimeout > 0 {
		t := time.NewTimer(n.cfg.ConnectTimeout)
		defer t.Stop()
		firstDeadline = t.C
	}
	for {
		select {
		case <-ctx.Done():
			stopMember()
			return <-memberDone
		case err := <-memberDone:
			return err
		case <-firstDeadline:
			stopMember()
			<-memberDone
			return fmt.Errorf("%w within --connect-timeout %v from %v (unreachable, or the id is held by another session)",
				ErrNoZooKeeper, n.cfg.ConnectTimeout, n.cfg.ZK)
		case <-n.member.Registered():
			firstDeadline = nil
		}
		s := n.member.Session()
		if s == nil {
			continue // lost again meanwhile
		}
		n.runSession(ctx, s)
		if ctx.Err() != nil {
			stopMember() // unregister and close the session last
			return <-memberDone
		}
	}
}

// runSession runs the worker and the candidate on s until s ends or ctx is
// cancelled; on cancel it resigns first, then stops the worker.
func (n *Node) runSession(ctx context.Context, s *session.Session) {
	log := n.log.With(zap.String("session", tasks.SessionString(s.ID())))
	// worker and election add the node id to their lines themselves.
	base := n.cfg.Logger.With(zap.String("session", tasks.SessionString(s.ID())))
	// One watched cache of the session's znodes for every reader on it:
	// worker, standby view, master, console feed. Closed last, once they
	// have all stopped.
	cache := zkapi.NewCache(s.Conn())
	defer cache.Close()
	w, err := worker.New(s, worker.Config{NodeID: n.cfg.ID, Root: n.cfg.Root, Runners: auditRunners(n.cfg.Runners, n.cfg.Audit),
		StatusInterval: n.cfg.StatusInterval, Cache: cache, Logger: base})
	if err != nil {
		log.Error("node: worker", zap.Error(err))
		return
	}
	ecfg := election.DefaultConfig(n.cfg.ID)
	ecfg.Cluster, ecfg.Root, ecfg.Addr, ecfg.Logger = n.cfg.Cluster, n.cfg.Root, n.cfg.Addr, base
	if a := n.cfg.Audit; a != nil {
		ecfg.OnFenced = func(epoch int64, nOps int, sent, done time.Time, err error) {
			a.FencedWrite(epoch, nOps, sent, done, fencedResult(err), err)
		}
		ecfg.OnTermStart = func(epoch int64, started time.Time) { // before the win's own write
			a.TermStart(epoch, tasks.SessionString(s.ID()), started)
		}
	}
	// A would-be master reads and plans before its winning Multi, and its
	// first plan goes into that Multi (master.Prefetch.Ops); the campaign
	// hands the last prefetch to the master.
	mcfg := master.Config{Root: n.cfg.Root, NodeID: n.cfg.ID, Partitions: n.cfg.Partitions, MaxMovesInFlight: n.cfg.MaxMovesInFlight,
		FlapLosses: n.cfg.FlapLosses, FlapWindow: n.cfg.FlapWindow, FlapCordon: n.cfg.FlapCordon, Cache: cache, Logger: log}
	var pre slot[*master.Prefetch]
	defer pre.set(nil)
	// While next in line it keeps a standby view (master.Standby): if that
	// is still current when the predecessor goes, the win needs no read.
	var sb slot[*master.Standby] // kept while next in line (master.Standby)
	defer sb.set(nil)
	ecfg.NextInLine = func(next bool) {
		if !next {
			sb.set(nil)
		} else if !sb.has() {
			sb.set(master.StartStandby(s, mcfg))
		}
	}
	ecfg.WinOps = func(ctx context.Context, epoch int64) func(time.Time) []any {
		var p *master.Prefetch
		if standby := sb.take(); standby != nil {
			p = standby.Take() // nil unless its view is current
		}
		if p == nil {
			p = master.StartPrefetch(s, mcfg)
		}
		pre.set(p)
		return p.Ops(ctx, epoch)
	}
	cand, err := election.NewCandidate(s, ecfg)
	if err != nil {
		log.Error("node: candidate", zap.Error(err))
		return
	}
	n.mu.Lock()
	n.s, n.w, n.cache = s, w, cache
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		st := cache.Stats()
		n.cacheEnd.Hits, n.cacheEnd.Misses = n.cacheEnd.Hits+st.Hits, n.cacheEnd.Misses+st.Misses
		n.s, n.w, n.cache, n.term, n.masterL = nil, nil, nil, nil, nil
		n.mu.Unlock()
	}()

	sessCtx, cancelSess := context.WithCancel(context.Background())
	defer cancelSess()
	go func() {
		select {
		case <-s.Done():
			cancelSess()
		case <-sessCtx.Done():
		}
	}()
	workerCtx, stopWorker := context.WithCancel(sessCtx)
	defer stopWorker()
	electCtx, stopElect := context.WithCancel(sessCtx)
	defer stopElect()

	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(workerCtx) }()
	electDone := make(chan struct{})
	var terms sync.WaitGroup // the campaign's term audits; every term has ended once cand.Close returned
	defer terms.Wait()
	go func() {
		defer close(electDone)
		n.campaign(electCtx, s, cand, mcfg, &pre, &terms, log)
	}()

	select {
	case <-ctx.Done():
		// Graceful: hand mastership over and stop the tasks at once (the
		// runners' last commits need only the session, which stays open
		// until both are done); the session's close then frees the tasks.
		// In a row, the runners waited for the resign's quorum write.
		stopElect()
		stopWorker()
		<-electDone
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := cand.Resign(rctx); err != nil {
			log.Warn("node: resign", zap.Error(err))
		}
		cancel()
		cand.Close()
		<-workerDone
		log.Info("node: stopped gracefully")
	case <-sessCtx.Done():
		stopElect()
		<-electDone
		cand.Close()
		stopWorker()
		err := <-workerDone
		log.Warn("node: session ended; starting over on a new session", zap.Error(err))
	case err := <-workerDone:
		// The worker ends only with its session; wait for the rest.
		stopElect()
		<-electDone
		cand.Close()
		log.Warn("node: worker ended", zap.Error(err))
	}
	// The worker stops waiting for its runners after its StopTimeout; a
	// runner still alive then is accounted for here (its session is closed
	// next, so its fenced commits are refused), waited for one more second.
	wctx, wcancel := context.WithTimeout(context.Background(), time.Second)
	defer wcancel()
	if err := w.Wait(wctx); err != nil {
		log.Error("node: task runners still running after the worker stopped; closing the session under them", zap.Error(err))
	}
}

// campaign runs for master and, while a term is held, the master loop; again
// after each term ends, while the session lives.
//
// Each term's audit goroutine (its end recorded) is counted in terms; the
// caller waits for it once the candidate is closed (which ends every term).
func (n *Node) campaign(ctx context.Context, s *session.Session, cand *election.Candidate, mcfg master.Config, pre *slot[*master.Prefetch], terms *sync.WaitGroup, log *zap.Logger) {
	for ctx.Err() == nil {
		term, err := cand.Campaign(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("node: campaign", zap.Error(err))
			}
			return
		}
		m, err := master.New(s, term, mcfg) // adds epoch
		if err != nil {
			log.Error("node: master", zap.Error(err))
			return
		}
		if p := pre.take(); p != nil {
			m.UsePrefetch(p)
		}
		n.mu.Lock()
		n.term, n.masterL = term, m
		n.terms++
		n.mu.Unlock()
		n.epochs.Store(term.Epoch)
		if a := n.cfg.Audit; a != nil {
			terms.Go(func() { // the term ends at the latest when the candidate closes
				<-term.Done()
				a.TermEnd(term.Epoch, term.Err())
			})
		}
		log.Info("node: master", zap.Int64("epoch", term.Epoch))
		err = m.Run(ctx)
		n.mu.Lock()
		n.term, n.masterL = nil, nil
		n.mu.Unlock()
		log.Info("node: master term over", zap.Int64("epoch", term.Epoch), zap.Error(err))
	}
}

// Role is "master" while this node holds a live term and its session is
// safe, "worker" while it is registered, and "starting" otherwise.
func (n *Node) Role() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.term != nil && n.term.Err() == nil && n.s != nil && n.s.Safe():
		return "master"
	case n.s != nil:
		return "worker"
	}
	return "starting"
}

// Epoch returns the epoch of this node's current term, or 0.
func (n *Node) Epoch() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.term != nil && n.term.Err() == nil && n.s != nil && n.s.Safe() {
		return n.term.Epoch
	}
	return 0
}

// Session returns the current session, or nil.
func (n *Node) Session() *session.Session {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.s
}

// watched returns a handle of s's watched cache (the one the node's worker
// and master read through) while s is the current session, else a Watched
// of s's connection with a cache of its own. The caller closes it.
func (n *Node) watched(s *session.Session) *zkapi.Watched {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.s == s && n.cache != nil {
		return n.cache.Watched()
	}
	return zkapi.NewWatched(s.Conn())
}

// CacheStats returns the reads through the node's watched caches since it
// started (every session's; zkapi.Cache): hits and misses.
func (n *Node) CacheStats() zkapi.CacheStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cacheStatsLocked()
}

func (n *Node) cacheStatsLocked() zkapi.CacheStats {
	st := n.cacheEnd
	if n.cache != nil {
		cur := n.cache.Stats()
		st.Hits, st.Misses = st.Hits+cur.Hits, st.Misses+cur.Misses
	}
	return st
}

// cacheDelta returns the reads through the watched caches since its last
// call.
func (n *Node) cacheDelta() zkapi.CacheStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.cacheStatsLocked()
	d := zkapi.CacheStats{Hits: st.Hits - n.cacheSeen.Hits, Misses: st.Misses - n.cacheSeen.Misses}
	n.cacheSeen = st
	return d
}

// Worker returns the current worker, or nil.
func (n *Node) Worker() *worker.Worker {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.w
}

// MasterStats returns the master loop's counts if this node is master.
func (n *Node) MasterStats() (master.Stats, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.masterL == nil {
		return master.Stats{}, false
	}
	return n.masterL.Stats(), true
}

// Config returns the node's configuration, defaults filled in.
func (n *Node) Config() Config { return n.cfg }

// fencedResult classifies a fenced write's outcome for the audit trail.
func fencedResult(err error) string {
	switch {
	case err == nil:
		return audit.ResultOK
	case errors.Is(err, election.ErrFenced):
		return audit.ResultFenced
	case errors.Is(err, election.ErrUnknownOutcome):
		return audit.ResultUnknown
	}
	return audit.ResultError
}

// auditRunners wraps each runner so that its start and return are recorded
// in a; rs itself if a is nil.
func auditRunners(rs map[tasks.Type]worker.Runner, a *audit.Writer) map[tasks.Type]worker.Runner {
	if a == nil {
		return rs
	}
	out := make(map[tasks.Type]worker.Runner, len(rs))
	for typ, r := range rs {
		out[typ] = worker.RunnerFunc(func(ctx context.Context, run *worker.Run) error {
			id := string(run.Task.ID())
			a.TaskStart(id, run.Epoch(), tasks.SessionString(run.Session))
			err := r.Run(ctx, run)
			a.TaskStop(id, err)
			return err
		})
	}
	return out
}

// slot holds one stoppable value (a master.Prefetch started before a
// winning Multi; the master.Standby kept while next in line): a value set
// over another stops the one it replaces. Safe for concurrent use.
type slot[T interface {
	comparable
	Stop()
}] struct {
	mu sync.Mutex
	v  T
}

// set stores v (the zero value: none) and stops the one it replaces.
func (s *slot[T]) set(v T) {
	s.mu.Lock()
	old := s.v
	s.v = v
	s.mu.Unlock()
	var none T
	if old != none && old != v {
		old.Stop()
	}
}

// has reports whether the slot holds a value.
func (s *slot[T]) has() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	var none T
	return s.v != none
}

// take returns the stored value (or the zero value) and empties the slot.
func (s *slot[T]) take() T {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.v
	var none T
	s.v = none
	return v
}
