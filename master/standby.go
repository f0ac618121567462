package master

import (
	"context"
	"path"
	"sync"
	"time"

	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/zkapi"
)

// Standby is a would-be master's view of the cluster kept current while
// it waits as the next in line: the first round's reads (Prefetch's) with
// a watch on every znode they touch, read again whenever one fires. When
// the predecessor goes, a current view lets the winning Multi carry the
// first plan (Prefetch.Ops) with no read at all between the watch event
// and the win.
//
// Why a current view is as good as a read taken after the win: ZooKeeper
// delivers a session's watch events in the order of the changes, and
// go-zookeeper hands each to its channel (and closes it) before it reads
// the next event. So when the predecessor's candidate znode deletion
// arrives, the watch of every earlier change to a znode of the view has
// fired: if none has (zkapi.Watched.Current, which says why this holds),
// each znode is as the view read it. The master znode is watched too, and its deletion must
// have come first (Resign deletes it before the candidate znode, in its
// last fenced Multi, after the master's last write), as Prefetch's read of
// it ensures. The newest terms/ records are read unwatched (the
// resignation rewrites its own record in that Multi); they only name the
// failover document's previous term.
//
// A view that a change made stale (the old owner's status published before
// the resignation, a member gone first with a crash) is not used: the
// caller then reads (StartPrefetch), as without a standby.
//
// Cost: the standby re-reads the view on every watched change (the
// statuses change about once a second per node), as the master does; only
// the next in line keeps one (election.Config.NextInLine).
type Standby struct {
	r       *Master
	watched *zkapi.Watched // r's reads: every znode of the view watched
	cancel  context.CancelFunc
	done    chan struct{}
	master  string // the master znode's path

	mu         sync.Mutex
	reading    bool // a read is under way
	view       *view
	partitions []int32
	masterCh   <-chan zkapi.Event // the master znode's watch (its firing is the handover, not staleness)
	masterGone bool               // the master znode was absent when masterCh was set
}

// StartStandby starts keeping a standby view on s for the master cfg
// configures (invalid cfg: a Standby with no view). It returns at once;
// Take or Stop end it.
func StartStandby(s *session.Session, cfg Config) *Standby { return startStandby(s.Conn(), cfg) }

func startStandby(conn zkapi.Conn, cfg Config) *Standby {
	ctx, cancel := context.WithCancel(context.Background())
	sb := &Standby{cancel: cancel, done: make(chan struct{})}
	r, err := newMaster(conn, nil, 0, time.Time{}, cfg)
	if err != nil {
		close(sb.done)
		return sb
	}
	sb.watched = zkapi.WatchedOn(cfg.Cache, conn)
	r.conn, r.unwatched, r.standby = sb.watched, true, true // every read through sb.watched
	sb.r, sb.master = r, path.Join(r.cfg.Root, "master")
	go sb.loop(ctx)
	return sb
}

// standbyRetry is the wait before a failed standby read is tried again.
const standbyRetry = 200 * time.Millisecond

func (sb *Standby) loop(ctx context.Context) {
	defer close(sb.done)
	defer sb.watched.Close()
	r := sb.r
	for {
		// Under way before Reset: a Take in between must not see the last
		// view (stale: a watch fired) as current once Reset cleared it.
		sb.mu.Lock()
		sb.reading, sb.view = true, nil
		sb.watched.Reset()
		rearm := sb.masterCh == nil
		if !rearm {
			select {
			case <-sb.masterCh: // fired: a new master, or this one gone
				rearm = true
			default:
			}
		}
		sb.mu.Unlock()
		var err error
		var ch <-chan zkapi.Event
		gone := false
		if rearm { // one watch on the master znode at a time
			var ok bool
			ok, _, ch, err = r.raw.ExistsW(sb.master)
			gone = !ok
		}
		var v *view
		if err == nil {
			v, err = r.read(ctx)
		}
		r.mu.Lock()
		parts := r.partitions
		r.mu.Unlock()
		sb.mu.Lock()
		sb.reading = false
		if rearm && ch != nil {
			sb.masterCh, sb.masterGone = ch, gone
		}
		sb.view, sb.partitions = v, parts
		if err != nil {
			sb.view = nil
		}
		sb.mu.Unlock()
		wait := sb.watched.Changed()
		var retry <-chan time.Time
		if err != nil {
			retry = time.After(standbyRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-wait:
		case <-retry:
		}
	}
}

// Take ends the standby and returns its view as a Prefetch for the winning
// Multi (Ops; the master adopts it as from StartPrefetch) if the view is
// current: read, no read under way, none of its watches fired since
// (zkapi.Watched.Current), and the master znode gone (its deletion seen, or
// absent at the read and not created since). Otherwise nil: the caller
// reads (StartPrefetch). Call it after the predecessor's deletion was
// seen, on the campaign's goroutine.
func (sb *Standby) Take() *Prefetch {
	if sb.r == nil {
		return nil
	}
	sb.mu.Lock()
	ok := sb.view != nil && !sb.reading && sb.watched.Current()
	if ok {
		select {
		case ev, open := <-sb.masterCh:
			ok = open && ev.Type == zkapi.EventNodeDeleted
		default:
			ok = sb.masterGone && sb.masterCh != nil
		}
	}
	v, parts := sb.view, sb.partitions
	sb.mu.Unlock()
	sb.Stop()
	if !ok {
		return nil
	}
	r := sb.r
	r.conn = r.raw // plans with the plain connection from here on
	done := make(chan struct{})
	close(done)
	return &Prefetch{cancel: func() {}, done: done, r: r, view: v, partitions: parts, from: "standby"}
}

// Stop ends the standby and waits for its goroutines. Idempotent; safe for
// concurrent use.
func (sb *Standby) Stop() {
	sb.cancel()
	<-sb.done
}
