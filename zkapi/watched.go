package zkapi

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/go-zookeeper/zk"
)

// Cache is one session's watched cache of znodes, shared by every reader of
// the cluster's documents on that session (a node's master, standby view,
// worker and console feed). It is read through Watched handles
// (Cache.Watched): a read leaves a watch (Get and Exists a data watch,
// Children a child watch) and keeps what it read; until that watch fires,
// the same read through any handle of the cache is served from memory, and
// after it fires the next read goes to the server and leaves a new watch.
// This is the recipe of Apache Curator's CuratorCache, read-through: only
// what is read is cached.
//
// Why a cached read is never staler than a server read would be: ZooKeeper
// delivers a session's watch events in the order of the changes and before
// the replies that follow them, and go-zookeeper (and Mem) hand each event
// to its channel and close it before they deliver the next reply. A cached
// entry is served only while its watch channel is still open, checked at
// the read, so a read made after any reply of the session (an own write's,
// another read's) sees every change that reply followed. In particular a
// session reads its own writes.
//
// The absence of a znode is cached too, under an existence watch (which
// fires on its creation): Exists leaves one itself, and a Get that finds no
// znode leaves one with a second call (the server sets no watch for a Get of
// a missing znode). A Children of a missing znode, and every other failed
// read, goes to the server each time.
//
// Safe for concurrent use. Close ends its goroutines (one per live entry)
// and waits for them; the connection itself is not closed.
type Cache struct {
	conn Conn

	mu      sync.Mutex
	entries map[watchedKey]*entry
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup

	hits, misses atomic.Int64
}

type watchedKey struct {
	path string
	kind byte // 'd' data (Get, Exists), 'c' children
}

// entry is one cached read and the watch it left. Fields other than subs
// and fired are written once, before the entry is shared.
type entry struct {
	ev      <-chan zk.Event
	data    []byte
	hasData bool // read by Get, or missing (an Exists entry of an existing znode holds no data)
	names   []string
	exists  bool
	stat    zk.Stat
	fired   bool                  // under Cache.mu
	subs    map[*Watched]struct{} // handles that read it; under Cache.mu
}

// NewCache returns an empty Cache over c (a session's connection).
func NewCache(c Conn) *Cache {
	return &Cache{conn: c, entries: map[watchedKey]*entry{}, stop: make(chan struct{})}
}

// CacheStats counts a Cache's reads: Hits served from memory, Misses sent to
// the server.
type CacheStats struct{ Hits, Misses int64 }

// Stats returns the reads counted so far.
func (c *Cache) Stats() CacheStats { return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load()} }

// Len returns the number of live (unfired) entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Watched returns a new handle on the cache, with its own Changed, Reset and
// Current (see Watched). Close the handle when done with it; the cache
// outlives it.
func (c *Cache) Watched() *Watched {
	return &Watched{Conn: c.conn, c: c, read: map[watchedKey]*entry{}, changed: make(chan struct{}, 1)}
}

// Close ends the entries' goroutines and waits for them; reads after it go
// to the server and are not cached. Idempotent.
func (c *Cache) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.stop)
	c.entries = map[watchedKey]*entry{}
	c.mu.Unlock()
	c.wg.Wait()
}

// lookup returns k's live entry, subscribing w to it, or nil (none, or
// data is set and the entry holds no data). An entry whose watch channel is
// already readable counts as fired (its goroutine may not have run yet).
func (c *Cache) lookup(k watchedKey, w *Watched, data bool) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e == nil || e.fired || (data && !e.hasData) {
		return nil
	}
	select {
	case <-e.ev:
		return nil
	default:
	}
	e.subs[w] = struct{}{}
	c.hits.Add(1)
	return e
}

// install makes e (just read from the server, with its watch) k's entry,
// subscribes w and starts the goroutine that waits for its watch. After
// Close, e is returned but not kept.
func (c *Cache) install(k watchedKey, e *entry, w *Watched) {
	e.subs = map[*Watched]struct{}{w: {}}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.entries[k] = e // a racing read's older entry still tells its own subscribers
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		select {
		case <-e.ev:
		case <-c.stop:
			return
		}
		c.mu.Lock()
		e.fired = true
		if c.entries[k] == e {
			delete(c.entries, k)
		}
		subs := make([]*Watched, 0, len(e.subs))
		for s := range e.subs {
			subs = append(subs, s)
		}
		e.subs = nil
		c.mu.Unlock()
		for _, s := range subs {
			s.fire(k, e)
		}
	}()
}

// unsubscribe removes w from e's subscribers.
func (c *Cache) unsubscribe(e *entry, w *Watched) {
	c.mu.Lock()
	delete(e.subs, w)
	c.mu.Unlock()
}

// Watched is a reader of a Cache: a Conn whose reads each leave a watch on
// what they read (one per znode and kind at a time, shared with the cache's
// other handles) and are served from the cache while that watch has not
// fired, so that a view built from its reads can tell when it went stale:
// Changed is signalled when a watch of a znode this handle read fires, and
// Current reports whether none has since the last Reset. Writes and the W
// calls go to the connection itself (they set no watch of the cache's).
//
// Why Current is exact at a point in a session's event stream: as for the
// Cache's reads (see Cache), once an event E has been received, every watch
// that fired before E has a readable channel (or was seen by its goroutine,
// which marks the view stale under the handle's lock): Current, called after
// E, sees every change made before E. master.Standby relies on it.
//
// A Get or Children result is the handle's own copy (its caller may sort or
// change it). Children's Stat is the listed znode's stat as of the listing
// that filled the entry (a child watch does not fire for a change of the
// znode's data).
//
// Safe for concurrent use. Close unsubscribes the handle (and, for a handle
// made by NewWatched, closes its private cache); a Watched is not used after
// Close.
type Watched struct {
	Conn
	c   *Cache
	own bool // NewWatched's: Close closes c

	mu      sync.Mutex
	read    map[watchedKey]*entry // entries this handle read, not fired
	fired   bool
	closed  bool
	changed chan struct{}
}

// NewWatched returns a Watched over c with a cache of its own (closed with
// it); readers on one session share one with Cache.Watched instead.
func NewWatched(c Conn) *Watched {
	w := NewCache(c).Watched()
	w.own = true
	return w
}

// WatchedOn returns a handle of cache, or, when cache is nil, a Watched over
// conn with a cache of its own (NewWatched). cache must be over conn's
// session.
func WatchedOn(cache *Cache, conn Conn) *Watched {
	if cache != nil {
		return cache.Watched()
	}
	return NewWatched(conn)
}

// Changed is signalled (buffered, coalesced) when a watch of a znode this
// handle read fires.
func (w *Watched) Changed() <-chan struct{} { return w.changed }

// Reset starts a new view: Current reports false only for watches that
// fire from now on. Call it before the view's reads.
func (w *Watched) Reset() {
	w.mu.Lock()
	w.fired = false
	w.mu.Unlock()
}

// Current reports whether no watch of a znode this handle read fired since
// Reset: none seen by the cache, none waiting in its channel.
func (w *Watched) Current() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired {
		return false
	}
	for _, e := range w.read {
		select {
		case <-e.ev:
			return false // the entry's goroutine sees the closed channel too
		default:
		}
	}
	return true
}

// fire records that e (read as k) fired: the view is stale.
func (w *Watched) fire(k watchedKey, e *entry) {
	w.mu.Lock()
	if w.read[k] == e {
		delete(w.read, k)
	}
	w.fired = true
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// served records that the handle read e as k. Replacing another entry of
// k (it fired, or a racing read installed a newer one) counts as its watch
// firing for this handle, even if the entry's goroutine has not told it
// yet: what the handle read of k before is stale.
func (w *Watched) served(k watchedKey, e *entry) {
	w.mu.Lock()
	old := w.read[k]
	closed := w.closed
	replaced := !closed && old != nil && old != e
	if !closed {
		w.read[k] = e
	}
	if replaced {
		w.fired = true
	}
	w.mu.Unlock()
	if closed {
		w.c.unsubscribe(e, w)
	} else if replaced {
		w.c.unsubscribe(old, w)
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
}

func statCopy(st zk.Stat) *zk.Stat { return &st }

// Get reads p (from the cache while its data watch has not fired) and
// leaves a data watch on it (ErrNoNode: none is left and nothing is cached;
// the view then holds its absence, and a child watch of its parent, if
// read, tells its creation).
func (w *Watched) Get(p string) ([]byte, *zk.Stat, error) {
	k := watchedKey{p, 'd'}
	if e := w.c.lookup(k, w, true); e != nil {
		w.served(k, e)
		if !e.exists {
			return nil, nil, zk.ErrNoNode
		}
		return bytes.Clone(e.data), statCopy(e.stat), nil
	}
	w.c.misses.Add(1)
	data, st, ev, err := w.Conn.GetW(p)
	if errors.Is(err, zk.ErrNoNode) {
		// The server leaves no watch for a Get of a missing znode: leave
		// an existence watch, so that the absence is cached until the
		// znode is created.
		if ok, est, eev, eerr := w.Conn.ExistsW(p); eerr == nil {
			e := &entry{ev: eev, exists: ok, hasData: !ok}
			if est != nil {
				e.stat = *est
			}
			w.c.install(k, e, w)
			w.served(k, e)
		}
		return data, st, err
	}
	if err != nil {
		return data, st, err
	}
	e := &entry{ev: ev, data: bytes.Clone(data), hasData: true, exists: true, stat: *st}
	w.c.install(k, e, w)
	w.served(k, e)
	return data, st, nil
}

// Children lists p (from the cache while its child watch has not fired)
// and leaves a child watch on it.
func (w *Watched) Children(p string) ([]string, *zk.Stat, error) {
	k := watchedKey{p, 'c'}
	if e := w.c.lookup(k, w, false); e != nil {
		w.served(k, e)
		return slices.Clone(e.names), statCopy(e.stat), nil
	}
	w.c.misses.Add(1)
	names, st, ev, err := w.Conn.ChildrenW(p)
	if err != nil {
		return names, st, err
	}
	e := &entry{ev: ev, names: slices.Clone(names), exists: true, stat: *st}
	w.c.install(k, e, w)
	w.served(k, e)
	return names, st, nil
}

// Exists reads whether p exists (from the cache while its data watch has
// not fired) and leaves a data watch on it (fired by its creation, change
// or deletion).
func (w *Watched) Exists(p string) (bool, *zk.Stat, error) {
	k := watchedKey{p, 'd'}
	if e := w.c.lookup(k, w, false); e != nil {
		w.served(k, e)
		if !e.exists {
			return false, &zk.Stat{}, nil
		}
		return true, statCopy(e.stat), nil
	}
	w.c.misses.Add(1)
	ok, st, ev, err := w.Conn.ExistsW(p)
	if err != nil {
		return ok, st, err
	}
	e := &entry{ev: ev, exists: ok}
	if st != nil {
		e.stat = *st
	}
	w.c.install(k, e, w)
	w.served(k, e)
	return ok, st, nil
}

// Watching reports whether a watch on p left by this handle's reads
// (children: a child watch, else a data watch) has not fired.
func (w *Watched) Watching(p string, children bool) bool {
	kind := byte('d')
	if children {
		kind = 'c'
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.read[watchedKey{p, kind}]
	return ok
}

// Armed returns how many of this handle's watches have not fired.
func (w *Watched) Armed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.read)
}

// Close unsubscribes the handle from the cache's entries (a handle made by
// NewWatched also closes its cache, ending its goroutines and waiting for
// them). Idempotent.
func (w *Watched) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	read := w.read
	w.read = map[watchedKey]*entry{}
	w.mu.Unlock()
	for _, e := range read {
		w.c.unsubscribe(e, w)
	}
	if w.own {
		w.c.Close()
	}
}
