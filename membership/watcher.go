package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stock-system/stocksys/session"
	"go.uber.org/zap"
)

// EventType says what happened to a member.
type EventType int

// Event types.
const (
	Join   EventType = iota + 1 // a member appeared (or re-registered under a new session)
	Leave                       // a member's znode is gone (graceful leave or session expiry)
	Update                      // a member changed its Info
)

func (t EventType) String() string {
	switch t {
	case Join:
		return "join"
	case Leave:
		return "leave"
	case Update:
		return "update"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one change in membership. Info is the member's new Info (Join,
// Update) or its last known Info (Leave).
type Event struct {
	Type EventType
	ID   string
	Info Info
}

// Watcher streams membership changes seen through one session. Create it
// with NewWatcher, read Events, and call Run.
type Watcher struct {
	s      *session.Session
	dir    string
	log    *zap.Logger
	events chan Event

	mu      sync.Mutex
	members map[string]member
	armed   map[string]bool // a data watch is set on this member
}

type member struct {
	info         Info
	czxid, mzxid int64
}

// NewWatcher returns a Watcher of root/members (root as in Config.Root,
// e.g. DefaultRoot("default")) on session s. logger may be nil.
func NewWatcher(s *session.Session, root string, logger *zap.Logger) (*Watcher, error) {
	if err := validRoot(root); err != nil || root == "" {
		return nil, fmt.Errorf("%w: root %q", ErrInvalidConfig, root)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Watcher{s: s, dir: path.Join(root, "members"), log: logger, events: make(chan Event),
		members: map[string]member{}, armed: map[string]bool{}}, nil
}

// Events returns the event channel. It is unbuffered: Run waits for the
// reader (a slow reader delays events, never loses them; changes meanwhile
// are coalesced as the package doc says). Run closes it when it returns.
func (w *Watcher) Events() <-chan Event { return w.events }

// Members returns a copy of the members as of the latest listing whose
// events have all been delivered.
func (w *Watcher) Members() map[string]Info {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]Info, len(w.members))
	for id, m := range w.members {
		out[id] = m.info
	}
	return out
}

// Run lists and watches until ctx is done (returning nil) or the session is
// lost (ErrSessionLost). The first listing emits a Join for every member
// present. Call it once.
func (w *Watcher) Run(ctx context.Context) error {
	defer close(w.events)
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	notify := make(chan struct{}, 1)
	poke := func() {
		select {
		case notify <- struct{}{}:
		default:
		}
	}
	conn := w.s.Conn()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.s.Done():
			return fmt.Errorf("%w: %w", ErrSessionLost, w.s.Err())
		default:
		}
		reconnected := w.s.Reconnected()
		names, childCh, err := w.list(conn)
		if err != nil {
			if errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrClosing) {
				return fmt.Errorf("%w: %w", ErrSessionLost, err)
			}
			w.log.Debug("membership: listing failed; retrying", zap.Error(err))
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		current := map[string]member{}
		for _, name := range names {
			if session.ValidateNodeID(name) != nil {
				continue
			}
			m, ch, err := w.read(conn, name)
			if errors.Is(err, zk.ErrNoNode) {
				continue
			}
			if err != nil {
				poke() // list again soon
				continue
			}
			current[name] = m
			if ch != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					select {
					case <-ch:
						w.mu.Lock()
						delete(w.armed, name)
						w.mu.Unlock()
						poke()
					case <-wctx.Done():
					}
				}()
			}
		}
		if err := w.emit(ctx, current); err != nil {
			return nil // ctx done
		}
		select {
		case <-childCh:
		case <-notify:
		case <-reconnected:
			w.log.Debug("membership: reconnected; listing again")
		case <-ctx.Done():
			return nil
		case <-w.s.Done():
		}
	}
}

// list reads the children of the members directory with a child watch,
// creating the directory if missing.
func (w *Watcher) list(conn *zk.Conn) ([]string, <-chan zk.Event, error) {
	names, _, ch, err := conn.ChildrenW(w.dir)
	if errors.Is(err, zk.ErrNoNode) {
		if err := session.EnsurePath(conn, w.dir, nil); err != nil {
			return nil, nil, err
		}
		names, _, ch, err = conn.ChildrenW(w.dir)
	}
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(names)
	return names, ch, nil
}

// read gets one member, setting a data watch unless one is already set
// (go-zookeeper keeps watches across reconnects). ch is nil if no new watch.
func (w *Watcher) read(conn *zk.Conn, name string) (member, <-chan zk.Event, error) {
	p := path.Join(w.dir, name)
	w.mu.Lock()
	armed := w.armed[name]
	w.mu.Unlock()
	var (
		data []byte
		st   *zk.Stat
		ch   <-chan zk.Event
		err  error
	)
	if armed {
		data, st, err = conn.Get(p)
	} else {
		data, st, ch, err = conn.GetW(p)
		if err == nil {
			w.mu.Lock()
			w.armed[name] = true
			w.mu.Unlock()
		}
	}
	if err != nil {
		return member{}, nil, err
	}
	var info Info
	if err := json.Unmarshal(data, &info); err != nil {
		w.log.Warn("membership: unreadable member znode", zap.String("path", p), zap.Error(err))
	}
	info.ID = name
	return member{info: info, czxid: st.Czxid, mzxid: st.Mzxid}, ch, nil
}

// emit sends the differences between the known members and current, in
// id order, and records current as known.
func (w *Watcher) emit(ctx context.Context, current map[string]member) error {
	w.mu.Lock()
	known := w.members
	w.mu.Unlock()
	var evs []Event
	for id, old := range known {
		if cur, ok := current[id]; !ok || cur.czxid != old.czxid {
			evs = append(evs, Event{Leave, id, old.info})
		}
	}
	for id, cur := range current {
		old, ok := known[id]
		switch {
		case !ok || old.czxid != cur.czxid:
			evs = append(evs, Event{Join, id, cur.info})
		case old.mzxid != cur.mzxid:
			evs = append(evs, Event{Update, id, cur.info})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if evs[i].ID != evs[j].ID {
			return evs[i].ID < evs[j].ID
		}
		return evs[i].Type == Leave // a Leave before the Join of the same id
	})
	for _, ev := range evs {
		// Members reflects an event before the reader gets it, so a reader
		// that calls Members after an event sees the change.
		w.mu.Lock()
		if ev.Type == Leave {
			delete(w.members, ev.ID)
		} else {
			w.members[ev.ID] = current[ev.ID]
		}
		w.mu.Unlock()
		select {
		case w.events <- ev:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
