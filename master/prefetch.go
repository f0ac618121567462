package master

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/zkapi"
)

// Prefetch is a new term's first read of the cluster (members, tasks,
// assignments, statuses, control), taken beside the winning Multi instead of
// after it: a handover then costs the Multi's quorum write, not the Multi
// and the reads in a row (5-7 round trips, 10-50 ms on a loaded ensemble).
//
// Why a read taken before the win is as good as one taken after it: the
// reads start only once the master znode is seen to be gone (read first, on
// the same session, so every later read sees the state after its deletion;
// a master znode of this very session counts as gone: it is the one this
// win creates, when the read comes after the Multi, or one of an earlier
// term of this session, whose master loop has ended).
// A master's last write comes before its master znode goes (Resign deletes
// it in its last fenced Multi, after the master loop stopped; a session's
// end deletes it and refuses the session's later requests), and no other
// master can be elected while this node's winning Multi is pending (its
// candidate znode is the lowest and the Multi checks the epoch's version).
// If the master znode is still there, or a read fails, the prefetch is
// void and the first round reads as usual.
//
// The overlap is partial: the server answers a session's requests in order,
// so a read sent after the Multi waits for the Multi's commit. What overlaps
// is what goes out before it (the first reads) and the client's own work
// (the campaign's return, the master's start). Measured in `stocksys chaos
// bench` (issue 19, 20 SIGTERM trials): the first round's view is complete
// 12 ms (p50) after the winning Multi returns, its write 8 ms after that. A
// full overlap needs the reads on a second session (after a sync), which
// the watched view of issue 17 may bring.
//
// The reads set no watches: the round after the first one, which follows at
// once, reads again with watches, so that no change is missed.
type Prefetch struct {
	cancel context.CancelFunc
	done   chan struct{}

	view       *view
	partitions []int32
	err        error
}

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
	go func() {
		defer close(p.done)
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
