package zkapi

import (
	"sync"

	"github.com/go-zookeeper/zk"
)

// Watched is a Conn whose reads each leave a watch on what they read (Get
// and Exists a data watch, Children a child watch; one per znode and kind
// at a time), so that a view built from its reads can tell when it went
// stale: Changed is signalled when any watch fires, and Current reports
// whether none has since the last Reset. Writes and the W calls go to the
// connection itself (they set no watch of Watched's).
//
// Why Current is exact at a point in a session's event stream: ZooKeeper
// delivers a session's watch events in the order of the changes, and
// go-zookeeper (and Mem) hand each event to its channel and close it
// before they deliver the next. So once an event E has been received,
// every watch that fired before E has a readable channel (or was seen by
// the forwarder, which marks the view stale under the same lock): Current,
// called after E, sees every change made before E. master.Standby relies
// on it.
//
// Safe for concurrent use. Close ends its goroutines (one per armed
// watch) and waits for them; a Watched is not used after Close.
type Watched struct {
	Conn

	mu      sync.Mutex
	armed   map[watchedKey]<-chan zk.Event
	fired   bool
	closed  bool
	changed chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
}

type watchedKey struct {
	path string
	kind byte // 'd' data (Get, Exists), 'c' children
}

// NewWatched returns a Watched over c.
func NewWatched(c Conn) *Watched {
	return &Watched{Conn: c, armed: map[watchedKey]<-chan zk.Event{}, changed: make(chan struct{}, 1), stop: make(chan struct{})}
}

// Changed is signalled (buffered, coalesced) when a watch fires.
func (w *Watched) Changed() <-chan struct{} { return w.changed }

// Reset starts a new view: Current reports false only for watches that
// fire from now on. Call it before the view's reads.
func (w *Watched) Reset() {
	w.mu.Lock()
	w.fired = false
	w.mu.Unlock()
}

// Current reports whether no watch fired since Reset: none seen by its
// forwarder, none waiting in its channel.
func (w *Watched) Current() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired {
		return false
	}
	for _, ch := range w.armed {
		select {
		case <-ch:
			return false // its forwarder sees the closed channel too
		default:
		}
	}
	return true
}

// Get reads p and leaves a data watch on it (ErrNoNode: none is left; the
// view then holds its absence, and a child watch of its parent, if read,
// tells its creation).
func (w *Watched) Get(p string) ([]byte, *zk.Stat, error) {
	k := watchedKey{p, 'd'}
	if w.isArmed(k) {
		return w.Conn.Get(p)
	}
	data, st, ev, err := w.Conn.GetW(p)
	if err == nil {
		w.arm(k, ev)
	}
	return data, st, err
}

// Children lists p and leaves a child watch on it.
func (w *Watched) Children(p string) ([]string, *zk.Stat, error) {
	k := watchedKey{p, 'c'}
	if w.isArmed(k) {
		return w.Conn.Children(p)
	}
	names, st, ev, err := w.Conn.ChildrenW(p)
	if err == nil {
		w.arm(k, ev)
	}
	return names, st, err
}

// Exists reads whether p exists and leaves a data watch on it (fired by
// its creation, change or deletion).
func (w *Watched) Exists(p string) (bool, *zk.Stat, error) {
	k := watchedKey{p, 'd'}
	if w.isArmed(k) {
		return w.Conn.Exists(p)
	}
	ok, st, ev, err := w.Conn.ExistsW(p)
	if err == nil {
		w.arm(k, ev)
	}
	return ok, st, err
}

// Watching reports whether a watch on p is armed (children: a child
// watch, else a data watch) and has not fired.
func (w *Watched) Watching(p string, children bool) bool {
	kind := byte('d')
	if children {
		kind = 'c'
	}
	return w.isArmed(watchedKey{p, kind})
}

// Armed returns how many watches are armed and not fired.
func (w *Watched) Armed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.armed)
}

func (w *Watched) isArmed(k watchedKey) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.armed[k]
	return ok
}

// arm records k's watch and forwards its firing. A second watch for an
// armed key (two reads racing) is forwarded too, not recorded.
func (w *Watched) arm(k watchedKey, ev <-chan zk.Event) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	if _, dup := w.armed[k]; !dup {
		w.armed[k] = ev
	}
	w.wg.Add(1)
	w.mu.Unlock()
	go func() {
		defer w.wg.Done()
		select {
		case <-ev:
			w.mu.Lock()
			if w.armed[k] == ev {
				delete(w.armed, k)
			}
			w.fired = true
			w.mu.Unlock()
			select {
			case w.changed <- struct{}{}:
			default:
			}
		case <-w.stop:
		}
	}()
}

// Close ends the forwarders and waits for them. Idempotent.
func (w *Watched) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	close(w.stop)
	w.mu.Unlock()
	w.wg.Wait()
}
