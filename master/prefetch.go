package master

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/zkapi"
	"go.uber.org/zap"
)

// Prefetch is a new term's first read of the cluster (members, tasks,
// assignments, statuses, control), taken before the winning Multi, and the
// first plan made from it (Ops), which goes into that Multi: a handover
// then costs the reads and one quorum write instead of the win's write,
// the reads (queued behind it: the server answers a session's requests in
// order) and the first round's write.
//
// Why a read taken before the win is as good as one taken after it: the
// reads start only once the master znode is seen to be gone (read first, on
// the same session, so every later read sees the state after its deletion;
// a master znode of this very session counts as gone: it is one of an
// earlier term of this session, whose master loop has ended).
// A master's last write comes before its master znode goes (Resign deletes
// it in its last fenced Multi, after the master loop stopped; a session's
// end deletes it and refuses the session's later requests), and no other
// master can be elected while this node's winning Multi is pending (its
// candidate znode is the lowest and the Multi checks the epoch's version).
// If the master znode is still there, or a read fails, the prefetch is
// void and the first round reads as usual.
//
// Measured in `stocksys chaos bench` (issue 19, 20 SIGTERM trials): see the
// README's failover section.
//
// The reads set no watches: the term's first round reads again with
// watches, so that no change is missed.
type Prefetch struct {
	cancel context.CancelFunc
	done   chan struct{}

	r          *Master // the reader, and the first plan's planner (Ops)
	view       *view
	partitions []int32
	err        error
	readTook   time.Duration
	from       string // "standby" (Standby.Take), else "" (read after the predecessor went)

	// Set by Ops: the first plan offered to the winning Multi.
	plan     *planned
	offered  int // its ops
	planTook time.Duration
}

// winReserve is the room Ops leaves in a Multi for the election's own ops
// (epoch, master znode, term record: well under 2 KiB).
const winReserve = 8 << 10

// errMasterPresent voids a prefetch: a master znode remained.
var errMasterPresent = errors.New("master: a master znode remains; prefetch void")

// StartPrefetch starts a prefetch on s for the master cfg configures
// (cfg.Root, cfg.Partitions; invalid cfg: a void prefetch). It returns at
// once; the reads run on a goroutine that Stop ends and waits for. Meant for
// election.Config.BeforeWin.
func StartPrefetch(s *session.Session, cfg Config) *Prefetch {
	return startPrefetch(s.Conn(), cfg)
}

func startPrefetch(conn zkapi.Conn, cfg Config) *Prefetch {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Prefetch{cancel: cancel, done: make(chan struct{})}
	r, err := newMaster(conn, nil, 0, time.Time{}, cfg)
	if err != nil {
		p.err = err
		close(p.done)
		return p
	}
	r.unwatched = true
	p.r = r
	go func() {
		defer close(p.done)
		began := time.Now()
		defer func() { p.readTook = time.Since(began) }()
		ok, st, err := conn.Exists(path.Join(r.cfg.Root, "master"))
		switch {
		case err != nil:
			p.err = err
			return
		case ok && st.EphemeralOwner != conn.SessionID():
			p.err = errMasterPresent
			return
		}
		p.view, p.err = r.read(ctx)
		r.mu.Lock()
		p.partitions = r.partitions
		r.mu.Unlock()
	}()
	return p
}

// Stop ends the prefetch's reads and waits for them. Idempotent; safe to
// call concurrently with everything else.
func (p *Prefetch) Stop() {
	p.cancel()
	<-p.done
}

// Ops waits for p's reads and returns the builder of the first plan of the
// term that epoch would be, as ops for the winning Multi
// (election.Config.WinOps): called with the term's start, it plans (the
// round's documents, the failover document, the partitions; the start is
// the plan's time, so the failover document's first assignment is the win)
// and returns the ops. The term's master adopts the plan (UsePrefetch) if
// the win applied exactly these ops; if not, its first round plans again
// from p's view. Ops returns nil (the first round then writes as usual) if
// p is void or ctx ends first; the builder returns nil if planning fails
// or the plan does not fit one Multi (Config.MaxMultiBytes less
// winReserve). Call at most once, on the goroutine that then runs the
// term's master (the campaign's).
//
// Why a plan made before the win is as safe as one made after it: it is
// made from p's view, read after the previous master znode was seen gone
// (see Prefetch), and it is written only if the win is (one Multi), with
// the epoch the win writes; the workers see the documents and the new
// epoch at once.
func (p *Prefetch) Ops(ctx context.Context, epoch int64) func(started time.Time) []any {
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil
	}
	if p.err != nil || p.view == nil {
		return nil
	}
	return func(started time.Time) []any {
		began := time.Now()
		r := p.r
		r.epoch, r.started = epoch, started
		r.log = r.cfg.Logger.With(zap.Int64("epoch", epoch))
		pl, err := r.plan(p.view, started.UTC(), true)
		if err != nil {
			r.log.Info("master: no first plan for the winning Multi; the first round plans", zap.Error(err))
			return nil
		}
		total := 0
		for _, n := range pl.b.sizes {
			total += n
		}
		if len(pl.b.ops) == 0 || total > r.cfg.MaxMultiBytes-winReserve {
			return nil
		}
		p.plan, p.offered, p.planTook = &pl, len(pl.b.ops), time.Since(began)
		return pl.b.ops
	}
}

// UsePrefetch gives the first round p's view (it waits for p's reads); a
// void p is ignored. Call before Run. p must have been started on the
// term's session after its candidate's predecessor went (BeforeWin does).
func (m *Master) UsePrefetch(p *Prefetch) {
	m.mu.Lock()
	m.pre = p
	m.mu.Unlock()
}

// takePrefetch returns the prefetched view once (nil, nil: none, or void),
// and asks for the round after it at once (with watches). how says which:
// "used", "none", or why it was void.
func (m *Master) takePrefetch(ctx context.Context) (v *view, how string, err error) {
	m.mu.Lock()
	p := m.pre
	m.pre = nil
	m.mu.Unlock()
	if p == nil {
		return nil, "none", nil
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.Stop()
		return nil, "", ctx.Err()
	}
	if p.plan != nil && m.wonWith == p.offered && p.r.epoch == m.epoch {
		m.adopt(p)
		return nil, "written with the win", nil // this round reads, with watches
	}
	m.poke() // the next round reads again, setting the watches
	if p.err != nil || p.view == nil {
		return nil, fmt.Sprintf("void: %v", p.err), nil
	}
	if p.partitions != nil {
		m.mu.Lock()
		if m.partitions == nil {
			m.partitions = p.partitions
		}
		m.mu.Unlock()
	}
	return p.view, "used", nil
}

// adopt takes over the state of p's first plan, which the winning Multi
// wrote: the term's first round is done.
func (m *Master) adopt(p *Prefetch) {
	r := p.r
	r.mu.Lock()
	st, sessions, losses, gen := r.stats, r.sessions, r.losses, r.gen
	r.mu.Unlock()
	bytes := 0
	for _, n := range p.plan.b.sizes {
		bytes += n
	}
	m.wrote(*p.plan)
	m.mu.Lock()
	m.gen = max(m.gen, gen)
	m.sessions, m.losses = sessions, losses
	m.stats.Plans += st.Plans
	m.stats.Moves += st.Moves
	m.stats.Multis++
	m.stats.Writes += p.offered
	m.stats.BytesWrote += bytes
	if m.partitions == nil {
		m.partitions = p.partitions
	}
	m.mu.Unlock()
	from := p.from
	if from == "" {
		from = "read"
	}
	m.log.Info("master: first plan written with the win", zap.String("view", from), zap.Duration("read", p.readTook), zap.Duration("plan", p.planTook),
		zap.Int("ops", p.offered), zap.Int("revoked", p.plan.d.moves))
}
