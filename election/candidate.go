package election

import (
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"

	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stock-system/stocksys/session"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// Candidate takes part in the election on one session. Campaign, Resign and
// Close must not be called concurrently with each other (Resign and Close
// may be called after cancelling a Campaign's ctx); Term methods may be used
// from any goroutine.
type Candidate struct {
	s   *session.Session
	cfg Config
	log *zap.Logger
	p   paths

	mu      sync.Mutex
	guid    string // GUID of the candidate znode being created or held
	znode   string // full path of our candidate znode; "" if none
	term    *Term  // latest term, possibly ended
	pending int64  // epoch of a winning Multi whose outcome is unknown

	wakeups atomic.Int64 // predecessor watch events received (herd-effect test)
	ahead   atomic.Int64 // terms won by winAhead (tests)
	// noDeadline makes terms ignore the session's safe deadline, so tests can
	// show what stops a paused master's writes without it. Tests only.
	noDeadline bool
	// noEpochWatch stops terms from watching the epoch znode, so tests can
	// show that the server's version check alone fences a deposed master.
	noEpochWatch bool
	wg           sync.WaitGroup
	closed       atomic.Bool
}

// NewCandidate validates cfg (without touching ZooKeeper) and returns a
// Candidate using s. It fails with ErrInvalidConfig (wrapping
// session.ErrInvalidNodeID for a bad id). It does not create any znode.
func NewCandidate(s *session.Session, cfg Config) (*Candidate, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("%w: nil session", ErrInvalidConfig)
	}
	cfg = cfg.withDefaults()
	return &Candidate{
		s: s, cfg: cfg, p: newPaths(cfg.Root),
		log: cfg.Logger.With(zap.String("node", cfg.NodeID)),
	}, nil
}

// Znode returns the path of this candidate's znode, or "" if it has none.
func (c *Candidate) Znode() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.znode
}

// Campaign enters the election (creating the candidate znode if this
// Candidate has none) and blocks until this node is master, ctx is done, or
// the session is lost (ErrSessionLost). While waiting it watches only its
// predecessor. It wins only when its znode is the lowest and is owned by its
// own current session, and the session is safe; winning is one Multi that
// raises epoch by one (expected version) and creates master and a terms/
// record. If the current term is still live, Campaign returns it. After a
// term ends (and the session lives), Campaign may be called again: the node
// keeps its place in the queue and, if still first, starts a new term with a
// new epoch.
func (c *Candidate) Campaign(ctx context.Context) (*Term, error) {
	if c.closed.Load() {
		return nil, fmt.Errorf("%w: candidate closed", ErrSessionLost)
	}
	c.mu.Lock()
	t := c.term
	c.mu.Unlock()
	if t != nil && t.ctx.Err() == nil {
		return t, nil
	}
	conn := c.s.Conn()
	for {
		if err := c.check(ctx); err != nil {
			return nil, err
		}
		if err := ensureLayout(conn, c.p); err != nil {
			if err := c.transient(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		break
	}
	for {
		if err := c.check(ctx); err != nil {
			return nil, err
		}
		term, err := c.step(ctx, conn)
		if term != nil {
			return term, nil
		}
		if err != nil {
			if err := c.transient(ctx, err); err != nil {
				return nil, err
			}
		}
	}
}

// check returns why campaigning must stop, or nil.
func (c *Candidate) check(ctx context.Context) error {
	select {
	case <-c.s.Done():
		return fmt.Errorf("%w: %w", ErrSessionLost, c.s.Err())
	default:
	}
	return ctx.Err()
}

// transient decides whether err ends the campaign; for retryable errors it
// waits a little and returns nil.
func (c *Candidate) transient(ctx context.Context, err error) error {
	if isSessionErr(err) {
		return fmt.Errorf("%w: %w", ErrSessionLost, err)
	}
	if !isConnErr(err) && !errors.Is(err, errRetry) {
		return err
	}
	c.log.Debug("election: retrying", zap.Error(err))
	select {
	case <-time.After(100 * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.s.Done():
		return fmt.Errorf("%w: %w", ErrSessionLost, c.s.Err())
	}
}

var errRetry = errors.New("retry")

// step makes one move: create the candidate znode, wait for the
// predecessor, or try to win. It returns a term when won.
func (c *Candidate) step(ctx context.Context, conn zkapi.Conn) (*Term, error) {
	c.mu.Lock()
	own := c.znode
	c.mu.Unlock()
	if own == "" {
		p, err := c.createCandidate(conn)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.znode = p
		c.mu.Unlock()
		c.log.Info("election: candidate created", zap.String("path", p))
		own = p
	}
	// Whether own is still ours is read beside the listing (needed when it
	// is the lowest, the winning case: one round trip, not two).
	var (
		ownOK   bool
		ownSt   *zk.Stat
		ownErr  error
		ownRead = make(chan struct{})
	)
	go func() {
		defer close(ownRead)
		ownOK, ownSt, ownErr = conn.Exists(own)
	}()
	names, _, err := conn.Children(c.p.election)
	<-ownRead
	if err != nil {
		return nil, err
	}
	sortBySeq(names)
	idx := -1
	for i, n := range names {
		if path.Join(c.p.election, n) == own {
			idx = i
		}
	}
	if idx < 0 { // deleted behind our back (an operator, or Resign)
		c.log.Warn("election: candidate znode vanished; re-entering", zap.String("path", own))
		c.mu.Lock()
		c.znode, c.guid = "", ""
		c.mu.Unlock()
		return nil, nil
	}
	if idx > 0 {
		pred := path.Join(c.p.election, names[idx-1])
		// Next in line (the predecessor is the lowest, and own is this
		// session's): read what the winning Multi needs now, so that when
		// the predecessor goes the win is one round trip. Every waiting
		// candidate also watches the epoch and steps again
		// when a term is won: the one that is then next in line learns it
		// (its predecessor is now the lowest) and reads its inputs afresh.
		// The epoch watch is set before the inputs are read, so a term won
		// after the read is not missed.
		if hook := c.cfg.NextInLine; hook != nil {
			hook(idx == 1 && ownErr == nil && ownOK && ownSt.EphemeralOwner == c.s.ID())
		}
		var pre *winInputs
		_, _, epochCh, err := conn.ExistsW(c.p.epoch)
		if err != nil {
			return nil, err
		}
		if idx == 1 && ownErr == nil && ownOK && ownSt.EphemeralOwner == c.s.ID() {
			if in, err := c.readWinInputs(conn); err == nil {
				pre = &in
			}
		}
		ok, _, ch, err := conn.ExistsW(pred)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, nil
		}
		select {
		case ev := <-ch:
			c.wakeups.Add(1)
			if pre != nil && ev.Type == zk.EventNodeDeleted && c.s.Safe() {
				return c.winAhead(ctx, conn, own, *pre)
			}
			return nil, nil
		case <-epochCh:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.s.Done():
			return nil, nil
		}
	}
	// Lowest. It must belong to this session (a znode of an earlier session
	// of ours could linger until that session expires; it cannot be ours).
	ok, st, err := ownOK, ownSt, ownErr
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	if st.EphemeralOwner != c.s.ID() {
		c.log.Warn("election: lowest candidate znode is not owned by this session",
			zap.String("path", own), zap.String("owner", fmt.Sprintf("0x%x", st.EphemeralOwner)))
		c.mu.Lock()
		c.znode, c.guid = "", ""
		c.mu.Unlock()
		return nil, nil
	}
	if !c.s.Safe() { // wait for a heartbeat to be answered
		select {
		case <-time.After(50 * time.Millisecond):
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.win(ctx, conn, own)
}

// createCandidate creates the protected ephemeral-sequential candidate znode.
// Like go-zookeeper's CreateProtectedEphemeralSequential it searches for its
// GUID when the reply to a create is lost; unlike it, it keeps the same GUID
// and keeps searching across reconnects, so a node never ends up with two.
func (c *Candidate) createCandidate(conn zkapi.Conn) (string, error) {
	c.mu.Lock()
	if c.guid == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			c.mu.Unlock()
			return "", err
		}
		c.guid = hex.EncodeToString(b[:])
	}
	guid := c.guid
	c.mu.Unlock()
	prefix := protectedPrefix + guid + "-"
	// Search first: an earlier attempt with this GUID may have succeeded.
	names, _, err := conn.Children(c.p.election)
	if err != nil {
		return "", err
	}
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return path.Join(c.p.election, n), nil
		}
	}
	p, err := conn.Create(path.Join(c.p.election, prefix+"n_"), []byte(c.cfg.NodeID),
		zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		return "", fmt.Errorf("create candidate: %w", err) // connection errors: retried, searching first
	}
	return p, nil
}

// winInputs is what a winning Multi is computed from: the epoch znode's
// value and version (missing: no epoch znode) and the highest epoch
// recorded in terms/ and the failover document (floor).
type winInputs struct {
	epoch, floor int64
	ever         int32
	missing      bool
}

// readWinInputs reads the epoch znode and the recorded floor together (they
// are independent; go-zookeeper pipelines them on the one connection).
func (c *Candidate) readWinInputs(conn zkapi.Conn) (winInputs, error) {
	var (
		g        errgroup.Group
		in       winInputs
		epochErr error
	)
	g.Go(func() error { in.epoch, in.ever, epochErr = Epoch(conn, c.p.root); return nil })
	// The epoch never goes backwards: not below any recorded term, even if
	// the epoch znode was deleted or set lower (an operator's cleanup, a
	// ZooKeeper restored from an older snapshot).
	g.Go(func() error {
		var err error
		in.floor, err = c.highestRecorded(conn)
		return err
	})
	if err := g.Wait(); err != nil {
		return winInputs{}, err
	}
	in.missing = errors.Is(epochErr, zk.ErrNoNode)
	if epochErr != nil && !in.missing {
		return winInputs{}, epochErr
	}
	return in, nil
}

// winOps returns the winning Multi's first ops (own still a candidate, the
// epoch raised by one from in, repaired upwards past the recorded floor),
// the new epoch and the epoch znode's version after the Multi.
func (c *Candidate) winOps(own string, in winInputs) (ops []any, epoch int64, nextVersion int32) {
	epoch = in.epoch
	if in.missing || in.floor > epoch {
		c.log.Error("election: the epoch znode is behind the recorded terms; repairing it upwards",
			zap.Bool("epoch_znode_missing", in.missing), zap.Int64("epoch_znode", epoch), zap.Int64("highest_recorded_epoch", in.floor),
			zap.Int64("new_epoch", max(epoch, in.floor)+1))
		epoch = max(epoch, in.floor)
	}
	bump := any(&zk.SetDataRequest{Path: c.p.epoch, Data: []byte(strconv.FormatInt(epoch+1, 10)), Version: in.ever})
	nextVersion = in.ever + 1
	if in.missing {
		bump = &zk.CreateRequest{Path: c.p.epoch, Data: []byte(strconv.FormatInt(epoch+1, 10)), Acl: zk.WorldACL(zk.PermAll)}
		nextVersion = 0
	}
	return []any{&zk.CheckVersionRequest{Path: own, Version: -1}, bump}, epoch + 1, nextVersion // still a candidate
}

// winAhead tries the winning Multi at once from inputs read while waiting
// as the next in line, when the predecessor (the lowest) was deleted: its
// term is over and its master znode gone with it (Resign deletes both in
// one Multi; a session's end deletes both ephemerals together). The Multi
// itself checks what the reads would have: it fails if the epoch moved
// since in was read (its version), if a master znode remains (the create),
// or if own is gone; then the ordinary step follows at once (nil, nil).
func (c *Candidate) winAhead(ctx context.Context, conn zkapi.Conn, own string, in winInputs) (*Term, error) {
	ops, epoch, nextVersion := c.winOps(own, in)
	t, err := c.winMulti(ctx, conn, ops, epoch, nextVersion, true)
	if errors.Is(err, errRetry) {
		return nil, nil
	}
	return t, err
}

// win reads the election's state and performs the winning Multi.
func (c *Candidate) win(ctx context.Context, conn zkapi.Conn, own string) (*Term, error) {
	// The reads below go out together (they are independent; go-zookeeper
	// pipelines them on the one connection): a handover waits for the
	// slowest, not for their sum.
	var (
		g         errgroup.Group
		in        winInputs
		inErr     error
		mdata     []byte
		mst       *zk.Stat
		masterErr error
	)
	g.Go(func() error { in, inErr = c.readWinInputs(conn); return nil })
	g.Go(func() error { mdata, mst, masterErr = conn.Get(c.p.master); return nil })
	_ = g.Wait()
	if inErr != nil {
		return nil, inErr
	}
	ops, next, nextVersion := c.winOps(own, in)
	switch {
	case errors.Is(masterErr, zk.ErrNoNode):
	case masterErr != nil:
		return nil, masterErr
	case mst.EphemeralOwner != c.s.ID():
		// A master of another session remains (its candidate znode was
		// deleted, not its session): wait for it to go.
		c.log.Info("election: waiting for the previous master znode to go",
			zap.String("owner", fmt.Sprintf("0x%x", mst.EphemeralOwner)))
		ok, _, ch, err := conn.ExistsW(c.p.master)
		if err != nil || !ok {
			return nil, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.s.Done():
		}
		return nil, nil
	default:
		var m tasks.MasterDoc
		_ = json.Unmarshal(mdata, &m)
		c.mu.Lock()
		pending := c.pending
		c.mu.Unlock()
		if epoch := next - 1; pending != 0 && m.Epoch == pending && epoch == pending {
			// Our earlier winning Multi did apply; its reply was lost.
			c.log.Info("election: adopting the term of a win whose reply was lost", zap.Int64("epoch", epoch))
			return c.startTerm(epoch, in.ever, m.Since), nil
		}
		ops = append(ops, &zk.DeleteRequest{Path: c.p.master, Version: mst.Version})
	}
	return c.winMulti(ctx, conn, ops, next, nextVersion, false)
}

// winMulti sends the winning Multi: ops (from winOps, and the deletion of a
// master znode of our own session), then the master znode and a terms/
// record for epoch (ahead: from winAhead), then the ops of Config.WinOps
// (sent once more without them if refused), and starts the pruning of old
// records. It returns the new term; errRetry when the Multi was
// refused (a race lost: the state moved since it was read); a connection or
// session error as is (pending stays set, so the next try adopts the term
// if the Multi did apply).
func (c *Candidate) winMulti(ctx context.Context, conn zkapi.Conn, ops []any, epoch int64, nextVersion int32, ahead bool) (*Term, error) {
	c.mu.Lock()
	c.pending = epoch
	c.mu.Unlock()
	var build func(time.Time) []any
	if c.cfg.WinOps != nil {
		build = c.cfg.WinOps(ctx, epoch)
	}
	now := time.Now() // after WinOps' reads: the term starts with the Multi that wins it
	var extra []any
	if build != nil {
		extra = build(now)
	}
	m := tasks.MasterDoc{ID: c.cfg.NodeID, Epoch: epoch, Addr: c.cfg.Addr, Session: session.SessionID(c.s.ID()), Since: now}
	mjs, _ := json.Marshal(m)
	rec, _ := json.Marshal(tasks.TermDoc{Epoch: epoch, Node: c.cfg.NodeID, Addr: c.cfg.Addr, Session: session.SessionID(c.s.ID()), Started: now})
	ops = append(ops,
		&zk.CreateRequest{Path: c.p.master, Data: mjs, Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagEphemeral},
		&zk.CreateRequest{Path: c.p.terms + "/t-", Data: rec, Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagSequence},
	)
	nOwn := len(ops)
	resp, err := conn.Multi(append(ops[:nOwn:nOwn], extra...)...)
	if err != nil && len(extra) > 0 && !isConnErr(err) && !isSessionErr(err) {
		// Refused: the election's ops (a race lost) or the caller's (read
		// before the win; a view gone stale). Once more without them.
		c.log.Info("election: winning Multi with the first plan refused; sending it without", zap.Error(err))
		extra = nil
		resp, err = conn.Multi(ops...)
	}
	done := time.Now()
	if err != nil {
		if isConnErr(err) || isSessionErr(err) {
			return nil, err // pending stays set: the next try checks for adoption
		}
		c.mu.Lock()
		c.pending = 0
		c.mu.Unlock()
		c.log.Debug("election: win lost a race; retrying", zap.Bool("ahead", ahead), zap.Error(err))
		return nil, errRetry
	}
	t := c.startTerm(epoch, nextVersion, now)
	if hook := c.cfg.OnFenced; hook != nil && len(extra) > 0 {
		hook(epoch, len(extra), now, done, nil)
	}
	t.record = resp[nOwn-1].String
	t.WinOps = len(extra)
	c.log.Info("election: elected master", zap.Int64("epoch", t.Epoch), zap.Bool("ahead", ahead),
		zap.Duration("multi", done.Sub(now)), zap.Int("win_ops", len(extra)))
	if ahead {
		c.ahead.Add(1)
	}
	// Off the failover path: the new master's first plan does not wait for
	// the housekeeping of old records.
	c.wg.Add(1) // owned: Close waits for it
	go func() { defer c.wg.Done(); c.pruneTerms(ctx, t) }()
	return t, nil
}

// highestRecorded returns the highest epoch recorded in the newest term
// records (terms/, newest few by sequence: NewestTerms) and in the failover
// document written by masters; 0 if none. The failover document is read
// beside the records.
func (c *Candidate) highestRecorded(conn zkapi.Conn) (int64, error) {
	var (
		g       errgroup.Group
		fromDoc int64
	)
	g.Go(func() error {
		data, _, err := conn.Get(path.Join(c.p.root, "failover"))
		switch {
		case err == nil:
			var f struct {
				Epoch int64 `json:"epoch"`
			}
			if json.Unmarshal(data, &f) == nil {
				fromDoc = f.Epoch
			}
		case !errors.Is(err, zk.ErrNoNode):
			return err
		}
		return nil
	})
	recs, err := NewestTerms(conn, c.p.root, 3)
	if gerr := g.Wait(); err == nil {
		err = gerr
	}
	if err != nil {
		return 0, err
	}
	hi := fromDoc
	for _, r := range recs {
		hi = max(hi, r.Epoch)
	}
	return hi, nil
}

// startTerm records and returns a new live term.
func (c *Candidate) startTerm(epoch int64, version int32, since time.Time) *Term {
	ctx, cancel := context.WithCancelCause(context.Background())
	t := &Term{Epoch: epoch, Started: since, c: c, epochVersion: version, ctx: ctx, cancel: cancel}
	unsafe := c.s.Unsafe()
	if c.noDeadline {
		unsafe = nil
	}
	c.mu.Lock()
	c.term = t
	c.pending = 0
	c.mu.Unlock()
	if hook := c.cfg.OnTermStart; hook != nil {
		hook(epoch, since)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case <-c.s.Done():
			t.end(fmt.Errorf("%w: %w", ErrSessionLost, c.s.Err()))
		case <-unsafe:
			t.end(session.ErrUnsafe)
		case <-ctx.Done():
		}
	}()
	if !c.noEpochWatch {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.watchEpoch(t)
		}()
	}
	return t
}

// epochPoll is how often a live term reads the epoch znode's version.
const epochPoll = 100 * time.Millisecond

// watchEpoch ends t with ErrFenced as soon as the epoch znode changes or
// vanishes under it (a newer winner, or an operator), not at its next
// fenced write: it reads the znode's version every epochPoll (100 ms).
// Only a win writes the epoch znode, so any change of its version means
// this term is over. It polls rather than sets a watch: go-zookeeper
// v1.0.4 races on its last-zxid field when it re-sends watches after a
// reconnect (go-zookeeper/zk#35, samuel/go-zookeeper#260), which -race
// reports, and a master must not add watches just to learn this. It
// returns when t ends.
func (c *Candidate) watchEpoch(t *Term) {
	tick := time.NewTicker(epochPoll)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
		}
		ok, st, err := c.s.Conn().Exists(c.p.epoch)
		if err != nil {
			continue // disconnected: the session's guards end the term if it lasts
		}
		if !ok || st.Version != t.epochVersion {
			what := "deleted"
			if ok {
				what = fmt.Sprintf("at version %d (this term wrote %d)", st.Version, t.epochVersion)
			}
			t.end(fmt.Errorf("%w: epoch znode %s since epoch %d was won", ErrFenced, what, t.Epoch))
			return
		}
	}
}

// pruneTerms deletes the oldest terms/ records beyond keepTerms, as a fenced
// write (so never after the term ended). Failures are logged only. It runs in
// its own goroutine, beside the term's master.
func (c *Candidate) pruneTerms(ctx context.Context, t *Term) {
	names, _, err := c.s.Conn().Children(c.p.terms)
	if err != nil || len(names) <= keepTerms {
		return
	}
	sortBySeq(names)
	var ops []any
	for _, n := range names[:len(names)-keepTerms] {
		ops = append(ops, &zk.DeleteRequest{Path: path.Join(c.p.terms, n), Version: -1})
	}
	if _, err := t.Fenced(ctx, ops...); err != nil {
		c.log.Warn("election: pruning terms", zap.Int64("epoch", t.Epoch), zap.Error(err))
	}
}

// Resign ends the current term (if any) and deletes the candidate znode, so
// that the next candidate takes over at once. If a term is live, the master
// znode and the candidate znode are deleted and the term record is marked
// ended in one fenced Multi. A later Campaign re-enters at the back of the
// queue. It returns nil if the candidate znode is gone afterwards.
func (c *Candidate) Resign(ctx context.Context) error {
	c.mu.Lock()
	t, own := c.term, c.znode
	c.mu.Unlock()
	conn := c.s.Conn()
	done := false
	if t != nil && t.ctx.Err() == nil && own != "" {
		var ops []any
		if t.record != "" {
			rec, _ := json.Marshal(tasks.TermDoc{Epoch: t.Epoch, Node: c.cfg.NodeID, Addr: c.cfg.Addr,
				Session: session.SessionID(c.s.ID()), Started: t.Started, Ended: time.Now()})
			ops = append(ops, &zk.SetDataRequest{Path: t.record, Data: rec, Version: -1})
		}
		ops = append(ops, &zk.DeleteRequest{Path: c.p.master, Version: -1},
			&zk.DeleteRequest{Path: own, Version: -1})
		_, err := t.Fenced(ctx, ops...)
		done = err == nil
		if err != nil {
			c.log.Info("election: resign write failed; deleting the candidate alone", zap.Error(err))
		}
	}
	if t != nil {
		t.end(ErrResigned)
	}
	if !done && own != "" {
		if err := conn.Delete(own, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("election: resign: delete %s: %w", own, err)
		}
	}
	c.mu.Lock()
	c.znode, c.guid = "", ""
	c.mu.Unlock()
	if t != nil {
		c.log.Info("election: resigned", zap.Int64("epoch", t.Epoch))
	}
	return nil
}

// Close resigns (bounded by 2 s) unless the session is already gone, and
// waits for the Candidate's goroutines. It does not close the session.
// Idempotent.
func (c *Candidate) Close() {
	if c.closed.Swap(true) {
		return
	}
	select {
	case <-c.s.Done():
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = c.Resign(ctx)
		cancel()
	}
	c.mu.Lock()
	t := c.term
	c.mu.Unlock()
	if t != nil {
		t.end(ErrResigned)
	}
	c.wg.Wait()
}
