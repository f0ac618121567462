package znodes

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-zookeeper/zk"
)

// Mem is one in-memory ZooKeeper ensemble: a tree of znodes rooted at "/"
// (which starts alone: the server's /zookeeper subtree is not modelled) and
// the sessions open on it. Open sessions with Session. Mem is safe for
// concurrent use: one mutex serialises every call on every session, so each
// call is atomic and all sessions see one order of writes.
//
// # What is modelled
//
// Each point below names its source: the ZooKeeper Programmer's Guide
// (PG), ZooKeeper 3.9's server (PrepRequestProcessor, DataTree), or
// go-zookeeper v1.0.4's client (conn.go, structs.go, util.go in
// third_party/go-zookeeper/zk). Where the PG is silent, the behaviour was
// measured on the real server by the differential test.
//
//   - Stat (PG, "ZooKeeper Stat Structure"): Czxid, Mzxid, Pzxid, Ctime,
//     Mtime (Mem's wall clock, in ms; one time per transaction), Version
//     (data), Cversion (children), EphemeralOwner (the owning session's id, 0
//     if persistent), DataLength, NumChildren; Aversion stays 0. One zxid counter is advanced once per write transaction: a Multi is
//     one transaction (all its ops share its zxid), closing or expiring a
//     session is one (all its ephemerals are deleted under its zxid), and a
//     write the server rejects still consumes one, as the server logs it as
//     an error transaction. Pzxid moves on every child create and delete;
//     Cversion is, as the server reports it, the number of child creates plus
//     child deletes.
//   - Sequential znodes (PG, "Sequence Nodes"; PrepRequestProcessor): the
//     suffix is the parent's stored cversion formatted %010d, which counts
//     the children ever created under that parent and is not advanced by
//     deletes, failed creates or a failed Multi (measured: create, create,
//     delete, delete, create numbers 0, 1, 2). A sequential name that is
//     taken fails with zk.ErrNodeExists and does not advance the counter.
//     A sequential path may end in "/" (the name is then the number alone),
//     as go-zookeeper's client allows.
//   - Create errors in the server's order: zk.ErrInvalidACL for an empty
//     ACL list, zk.ErrNoNode for a missing parent, zk.ErrBadArguments for a
//     final path the server refuses, zk.ErrNodeExists, then
//     zk.ErrNoChildrenForEphemerals. Delete: zk.ErrBadArguments for "/"
//     (and the server's other special paths), zk.ErrNoNode, zk.ErrBadVersion,
//     then zk.ErrNotEmpty. Set and CheckVersionRequest: zk.ErrNoNode, then
//     zk.ErrBadVersion. Version -1 matches any version.
//   - Paths: first go-zookeeper's client-side check (validatePath in
//     util.go, ported here rule for rule, quirks included: "/./x" passes it),
//     which returns zk.ErrInvalidPath before anything is sent; then the
//     server's own check (PathUtils.validatePath, on UTF-16 code units:
//     surrogates, hence any character beyond U+FFFF, private-use characters
//     and U+FFFF are refused) on the paths it validates, which returns
//     zk.ErrBadArguments. Multi ops skip the client-side check, as in
//     go-zookeeper, so they meet the server's checks alone.
//   - Ephemeral znodes (PG, "Ephemeral Nodes"): owned by the creating
//     session, deleted when it is closed or expires, never given children.
//   - Watches (PG, "ZooKeeper Watches"; conn.go): GetW and ExistsW set a
//     data watch (ExistsW also on a missing znode, fired by its creation),
//     ChildrenW a child watch. Each call registers its own channel,
//     buffered (size 1), which receives exactly one event and is then
//     closed, so firing never blocks. Which events reach which calls'
//     channels is go-zookeeper's mapping (notifyWatches): NodeCreated
//     reaches ExistsW on a missing znode; NodeDataChanged reaches GetW and
//     ExistsW; NodeDeleted reaches GetW, ExistsW and ChildrenW on the
//     deleted path; NodeChildrenChanged reaches ChildrenW on the parent.
//     Event.Path is the watched path, Event.State zk.StateSyncConnected
//     (what the server sends), Event.Err nil. Events are delivered before
//     the write that triggers them returns, after the whole write (a whole
//     Multi) is applied.
//   - Session end (conn.go: Connect's goroutine and loop, invalidateWatches):
//     after Close, the session's own watches fired by the deletion of its
//     own ephemerals receive their events (the server sends them before the
//     reply to the close request), and every other watch of the session
//     receives zk.Event{Type: zk.EventNotWatching, State:
//     zk.StateDisconnected, Path, Err: zk.ErrClosing} and is closed. After
//     Expire, every watch of the session receives that event with Err
//     zk.ErrSessionExpired (an expired client hears nothing from the server).
//   - Multi (PG, "Multi"; DataTree.processTxn; structs.go): all or nothing.
//     On success each response carries the created path (String) or the
//     new Stat (Set). On failure nothing is applied, no watch fires, the
//     error returned is the failing op's, and every response carries only an
//     Error: nil for the ops before the failing one, the failing op's error,
//     and for the ops after it the error go-zookeeper makes of the server's
//     ZRUNTIMEINCONSISTENCY, fmt.Errorf("unknown error: -2") (compare it by
//     text). go-zookeeper's own checks are kept: an op of another type fails
//     the call before anything is sent, and a create flag outside 0..6
//     fails the whole request the way the server's marshalling error does
//     (no responses, "unknown error: -5").
//   - Reads return copies, and the returned Stat is fresh; data keeps the
//     nil/empty distinction the server keeps (nil in, nil out). Children are
//     returned in no particular order (deliberately varied, as Go's map
//     order is), like the server's.
//
// # What is not modelled
//
// ACLs (accepted and ignored, except that an empty list is refused with
// zk.ErrInvalidACL as the server does), authentication, quotas, the
// /zookeeper subtree, container and TTL znodes (their flags fail with an
// error wrapping zk.ErrInvalidFlags, where a server would create them), data
// size limits, connection loss and reconnects (a MemConn is connected from
// Session to Close or Expire), watches re-set after a reconnect, the
// session's global event channel, Sync, and any ordering between sessions
// beyond "each call is atomic and events are delivered before the
// triggering write returns" (a real client sees other sessions' writes and
// its watch events later, though in the same order).
//
// After Close every call returns zk.ErrConnectionClosed, as go-zookeeper's
// does once its Close has returned (zk.ErrClosing is what go-zookeeper gives
// requests still in flight at that moment, which a Mem call never is); the
// client-side checks (flags, path, op types) still come first, as there.
// After Expire every call returns zk.ErrSessionExpired: go-zookeeper would
// instead open a new session silently on its next connect, which the
// cluster's session package forbids, so a Mem session, like a
// session.Session, ends at expiry. SessionID keeps returning the session's
// id after either.
type Mem struct {
	mu       sync.Mutex
	zxid     int64
	lastSID  int64
	nodes    map[string]*memNode
	sessions map[int64]*MemConn // open sessions: those that hear watch events
}

type memNode struct {
	data []byte
	// stat holds the stored fields; Cversion, NumChildren and DataLength
	// are derived when a Stat is handed out (see statCopy).
	stat zk.Stat
	// creates is the server's stored cversion: the number of children ever
	// created here. It is the next sequential suffix, and the reported
	// Cversion is creates + deletes = 2*creates - len(children).
	creates  int32
	children map[string]struct{}
}

func (n *memNode) statCopy() *zk.Stat {
	s := n.stat
	s.NumChildren = int32(len(n.children))
	s.Cversion = 2*n.creates - s.NumChildren
	s.DataLength = int32(len(n.data))
	return &s
}

// NewMem returns an empty ensemble: the root znode alone, with zxid 0.
func NewMem() *Mem {
	return &Mem{
		nodes:    map[string]*memNode{"/": {children: map[string]struct{}{}}},
		sessions: map[int64]*MemConn{},
	}
}

// Session opens a new session on the ensemble, with a unique non-zero id.
func (m *Mem) Session() *MemConn {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastSID++
	c := &MemConn{m: m, id: m.lastSID, watches: map[watchKey][]chan zk.Event{}}
	m.sessions[c.id] = c
	return c
}

// sessionState is a MemConn's life: open, then closed or expired for good.
type sessionState int

const (
	sessionOpen sessionState = iota
	sessionClosed
	sessionExpired
)

// watchKind mirrors go-zookeeper's watcher types (watchTypeExist, Data,
// Child): which call registered a channel, hence which events reach it.
type watchKind int

const (
	watchExist watchKind = iota // ExistsW on a missing znode
	watchData                   // GetW, or ExistsW on an existing znode
	watchChild                  // ChildrenW
)

type watchKey struct {
	path string
	kind watchKind
}

// kindsFor is go-zookeeper's notifyWatches: the kinds an event reaches.
func kindsFor(t zk.EventType) []watchKind {
	switch t {
	case zk.EventNodeCreated:
		return []watchKind{watchExist}
	case zk.EventNodeDataChanged:
		return []watchKind{watchExist, watchData}
	case zk.EventNodeChildrenChanged:
		return []watchKind{watchChild}
	case zk.EventNodeDeleted:
		return []watchKind{watchExist, watchData, watchChild}
	}
	return nil
}

// MemConn is one session on a Mem; it implements Conn. Its methods are safe
// for concurrent use.
type MemConn struct {
	m  *Mem
	id int64

	// Guarded by m.mu.
	state   sessionState
	watches map[watchKey][]chan zk.Event
}

// SessionID returns the session's id, also after Close or Expire.
func (c *MemConn) SessionID() int64 { return c.id }

// Close closes the session as a client's Close does: its ephemeral znodes
// are deleted in one transaction, firing the watches that deletion
// triggers (the session's own included), then the session's remaining
// watches receive an EventNotWatching with Err zk.ErrClosing. Afterwards
// every call returns zk.ErrConnectionClosed. Close is idempotent and does
// nothing after Expire.
func (c *MemConn) Close() { c.end(sessionClosed) }

// Expire ends the session as the server's expiry of it does: its ephemeral
// znodes are deleted in one transaction, firing other sessions' watches;
// every watch of the session receives an EventNotWatching with Err
// zk.ErrSessionExpired. Afterwards every call returns zk.ErrSessionExpired.
// Expire does nothing after Close or a previous Expire.
func (c *MemConn) Expire() { c.end(sessionExpired) }

func (c *MemConn) end(st sessionState) {
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.state != sessionOpen {
		return
	}
	c.state = st
	reason := zk.ErrClosing
	if st == sessionExpired {
		reason = zk.ErrSessionExpired
		delete(m.sessions, c.id) // disconnected: it hears none of the deletions
	}
	t := m.begin(c.id)
	var mine []string
	for p, n := range m.nodes {
		if n.stat.EphemeralOwner == c.id {
			mine = append(mine, p)
		}
	}
	for _, p := range mine {
		t.remove(p)
	}
	t.commit()
	delete(m.sessions, c.id)
	for k, chans := range c.watches {
		ev := zk.Event{Type: zk.EventNotWatching, State: zk.StateDisconnected, Path: k.path, Err: reason}
		for _, ch := range chans {
			ch <- ev
			close(ch)
		}
	}
	c.watches = nil
}

// liveErr is the error every call returns once the session has ended.
// Callers hold m.mu.
func (c *MemConn) liveErr() error {
	switch c.state {
	case sessionClosed:
		return zk.ErrConnectionClosed
	case sessionExpired:
		return zk.ErrSessionExpired
	}
	return nil
}

// watch registers a channel for one event. Callers hold m.mu.
func (c *MemConn) watch(path string, kind watchKind) <-chan zk.Event {
	ch := make(chan zk.Event, 1)
	k := watchKey{path, kind}
	c.watches[k] = append(c.watches[k], ch)
	return ch
}

// fire delivers ev to the session's channels it reaches (each once, then
// closed) and forgets them. Callers hold m.mu.
func (c *MemConn) fire(ev zk.Event) {
	for _, kind := range kindsFor(ev.Type) {
		k := watchKey{ev.Path, kind}
		for _, ch := range c.watches[k] {
			ch <- ev
			close(ch)
		}
		delete(c.watches, k)
	}
}

// Get returns the znode's data and Stat.
func (c *MemConn) Get(path string) ([]byte, *zk.Stat, error) {
	if err := validatePath(path, false); err != nil {
		return nil, nil, err
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if err := c.liveErr(); err != nil {
		return nil, nil, err
	}
	n := c.m.nodes[path]
	if n == nil {
		return nil, &zk.Stat{}, zk.ErrNoNode
	}
	return bytes.Clone(n.data), n.statCopy(), nil
}

// GetW is Get, and sets a data watch if the znode exists.
func (c *MemConn) GetW(path string) ([]byte, *zk.Stat, <-chan zk.Event, error) {
	if err := validatePath(path, false); err != nil {
		return nil, nil, nil, err
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if err := c.liveErr(); err != nil {
		return nil, nil, nil, err
	}
	n := c.m.nodes[path]
	if n == nil {
		return nil, nil, nil, zk.ErrNoNode
	}
	return bytes.Clone(n.data), n.statCopy(), c.watch(path, watchData), nil
}

// Children returns the names (not paths) of the znode's children, in no
// particular order, and its Stat.
func (c *MemConn) Children(path string) ([]string, *zk.Stat, error) {
	if err := validatePath(path, false); err != nil {
		return nil, nil, err
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if err := c.liveErr(); err != nil {
		return nil, nil, err
	}
	n := c.m.nodes[path]
	if n == nil {
		return nil, &zk.Stat{}, zk.ErrNoNode
	}
	return n.names(), n.statCopy(), nil
}

// ChildrenW is Children, and sets a child watch if the znode exists.
func (c *MemConn) ChildrenW(path string) ([]string, *zk.Stat, <-chan zk.Event, error) {
	if err := validatePath(path, false); err != nil {
		return nil, nil, nil, err
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if err := c.liveErr(); err != nil {
		return nil, nil, nil, err
	}
	n := c.m.nodes[path]
	if n == nil {
		return nil, nil, nil, zk.ErrNoNode
	}
	return n.names(), n.statCopy(), c.watch(path, watchChild), nil
}

func (n *memNode) names() []string {
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	return names
}

// Exists reports whether the znode exists, with its Stat (zero if not).
func (c *MemConn) Exists(path string) (bool, *zk.Stat, error) {
	if err := validatePath(path, false); err != nil {
		return false, nil, err
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if err := c.liveErr(); err != nil {
		return false, nil, err
	}
	n := c.m.nodes[path]
	if n == nil {
		return false, &zk.Stat{}, nil
	}
	return true, n.statCopy(), nil
}

// ExistsW is Exists, and sets a data watch whether or not the znode exists
// (on a missing znode it fires when the znode is created).
func (c *MemConn) ExistsW(path string) (bool, *zk.Stat, <-chan zk.Event, error) {
	if err := validatePath(path, false); err != nil {
		return false, nil, nil, err
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if err := c.liveErr(); err != nil {
		return false, nil, nil, err
	}
	n := c.m.nodes[path]
	if n == nil {
		return false, &zk.Stat{}, c.watch(path, watchExist), nil
	}
	return true, n.statCopy(), c.watch(path, watchData), nil
}

// Create creates a znode and returns its path (with the sequence number
// appended when flags has zk.FlagSequence). flags is 0 or a combination of
// zk.FlagEphemeral and zk.FlagSequence; the ACL is ignored, but must not be
// empty.
func (c *MemConn) Create(path string, data []byte, flags int32, acl []zk.ACL) (string, error) {
	// go-zookeeper's Create: flags, path, then the TTL refusal.
	if flags < zk.FlagPersistent || flags > zk.FlagPersistentSequentialWithTTL {
		return "", fmt.Errorf("invalid flag value: [%v]", flags)
	}
	sequential := flags == zk.FlagSequence || flags == zk.FlagEphemeralSequential || flags == zk.FlagPersistentSequentialWithTTL
	if err := validatePath(path, sequential); err != nil {
		return "", err
	}
	if flags == zk.FlagTTL || flags == zk.FlagPersistentSequentialWithTTL {
		return "", fmt.Errorf("%s: %w", "Create with TTL flag disallowed", zk.ErrInvalidFlags)
	}
	if flags == zk.FlagContainer {
		return "", errNotModelled(flags)
	}
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := c.liveErr(); err != nil {
		return "", err
	}
	t := m.begin(c.id)
	p, err := t.create(path, data, flags, acl)
	if err != nil {
		t.rollback()
		return "", err
	}
	t.commit()
	return p, nil
}

func errNotModelled(flags int32) error {
	return fmt.Errorf("znodes: Mem does not model container or TTL znodes (flags %d): %w", flags, zk.ErrInvalidFlags)
}

// Set replaces the znode's data if version is -1 or its current data
// version, and returns its new Stat.
func (c *MemConn) Set(path string, data []byte, version int32) (*zk.Stat, error) {
	if err := validatePath(path, false); err != nil {
		return nil, err
	}
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := c.liveErr(); err != nil {
		return nil, err
	}
	t := m.begin(c.id)
	st, err := t.set(path, data, version)
	if err != nil {
		t.rollback()
		return &zk.Stat{}, err
	}
	t.commit()
	return st, nil
}

// Delete deletes the znode if version is -1 or its current data version
// and it has no children.
func (c *MemConn) Delete(path string, version int32) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := c.liveErr(); err != nil {
		return err
	}
	t := m.begin(c.id)
	if err := t.delete(path, version); err != nil {
		t.rollback()
		return err
	}
	t.commit()
	return nil
}

// Multi applies the ops (*zk.CreateRequest, *zk.DeleteRequest,
// *zk.SetDataRequest, *zk.CheckVersionRequest) in order as one
// transaction, all or none; see Mem for the responses on failure.
func (c *MemConn) Multi(ops ...interface{}) ([]zk.MultiResponse, error) {
	badFlags := false
	for _, op := range ops {
		switch op := op.(type) {
		case *zk.CreateRequest:
			if op.Flags < zk.FlagPersistent || op.Flags > zk.FlagPersistentSequentialWithTTL {
				badFlags = true
			} else if op.Flags > zk.FlagEphemeralSequential {
				return nil, errNotModelled(op.Flags)
			}
		case *zk.SetDataRequest, *zk.DeleteRequest, *zk.CheckVersionRequest:
		default:
			return nil, fmt.Errorf("unknown operation type %T", op)
		}
	}
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := c.liveErr(); err != nil {
		return nil, err
	}
	t := m.begin(c.id)
	if badFlags {
		// The server cannot read the request (CreateMode.fromFlag):
		// ZMARSHALLINGERROR in the reply header, so go-zookeeper decodes
		// no per-op results.
		return []zk.MultiResponse{}, fmt.Errorf("unknown error: %d", -5)
	}
	res := make([]zk.MultiResponse, len(ops))
	failed := -1
	var failure error
	for i, op := range ops {
		var err error
		switch op := op.(type) {
		case *zk.CreateRequest:
			res[i].String, err = t.create(op.Path, op.Data, op.Flags, op.Acl)
		case *zk.SetDataRequest:
			res[i].Stat, err = t.set(op.Path, op.Data, op.Version)
		case *zk.DeleteRequest:
			err = t.delete(op.Path, op.Version)
		case *zk.CheckVersionRequest:
			err = t.check(op.Path, op.Version)
		}
		if err != nil {
			failed, failure = i, err
			break
		}
	}
	if failed < 0 {
		t.commit()
		return res, nil
	}
	t.rollback()
	for i := range res {
		switch {
		case i < failed:
			res[i] = zk.MultiResponse{}
		case i == failed:
			res[i] = zk.MultiResponse{Error: failure}
		default:
			res[i] = zk.MultiResponse{Error: fmt.Errorf("unknown error: %d", -2)}
		}
	}
	return res, failure
}

// memTxn is one write transaction: one zxid, an undo log for all-or-nothing,
// and the watch events it triggers, fired on commit. Its methods are the
// server's checks (PrepRequestProcessor) followed by the change
// (DataTree); callers hold m.mu.
type memTxn struct {
	m     *Mem
	zxid  int64
	now   int64
	owner int64 // the session writing: the owner of the ephemerals it creates
	undo  []func()
	fired []zk.Event
}

func (m *Mem) begin(owner int64) *memTxn {
	m.zxid++
	return &memTxn{m: m, zxid: m.zxid, now: time.Now().UnixMilli(), owner: owner}
}

func (t *memTxn) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.undo, t.fired = nil, nil
}

func (t *memTxn) commit() {
	for _, ev := range t.fired {
		for _, s := range t.m.sessions {
			s.fire(ev)
		}
	}
	t.undo, t.fired = nil, nil
}

func (t *memTxn) trigger(path string, typ zk.EventType) {
	t.fired = append(t.fired, zk.Event{Type: typ, State: zk.StateSyncConnected, Path: path})
}

// parentOf is the server's parent path: everything before the last "/",
// the root for a top-level path. ok is false without a "/" or with a NUL
// (the server's zk.ErrBadArguments).
func parentOf(path string) (parent string, last int, ok bool) {
	last = strings.LastIndexByte(path, '/')
	if last < 0 || strings.IndexByte(path, 0) >= 0 {
		return "", last, false
	}
	if last == 0 {
		return "/", 0, true
	}
	return path[:last], last, true
}

func (t *memTxn) create(path string, data []byte, flags int32, acl []zk.ACL) (string, error) {
	parentPath, last, ok := parentOf(path)
	if !ok {
		return "", zk.ErrBadArguments
	}
	if len(acl) == 0 {
		return "", zk.ErrInvalidACL
	}
	parent := t.m.nodes[parentPath]
	if parent == nil {
		return "", zk.ErrNoNode
	}
	if flags&zk.FlagSequence != 0 {
		path += fmt.Sprintf("%010d", parent.creates)
	}
	if !serverValidPath(path) {
		return "", zk.ErrBadArguments
	}
	if t.m.nodes[path] != nil {
		return "", zk.ErrNodeExists
	}
	if parent.stat.EphemeralOwner != 0 {
		return "", zk.ErrNoChildrenForEphemerals
	}
	var owner int64
	if flags&zk.FlagEphemeral != 0 {
		owner = t.owner
	}
	name := path[last+1:]
	oldPzxid := parent.stat.Pzxid
	t.m.nodes[path] = &memNode{
		data: bytes.Clone(data),
		stat: zk.Stat{
			Czxid: t.zxid, Mzxid: t.zxid, Pzxid: t.zxid,
			Ctime: t.now, Mtime: t.now,
			EphemeralOwner: owner,
		},
		children: map[string]struct{}{},
	}
	parent.children[name] = struct{}{}
	parent.creates++
	parent.stat.Pzxid = t.zxid
	t.undo = append(t.undo, func() {
		delete(t.m.nodes, path)
		delete(parent.children, name)
		parent.creates--
		parent.stat.Pzxid = oldPzxid
	})
	t.trigger(path, zk.EventNodeCreated)
	t.trigger(parentPath, zk.EventNodeChildrenChanged)
	return path, nil
}

// nextVersion is the server's checkAndIncVersion: -1 matches any version,
// and a version that would wrap to -1 becomes 0 (ZOOKEEPER-4743).
func nextVersion(current, expected int32) (int32, error) {
	if expected != -1 && expected != current {
		return 0, zk.ErrBadVersion
	}
	if next := current + 1; next != -1 {
		return next, nil
	}
	return 0, nil
}

func (t *memTxn) set(path string, data []byte, version int32) (*zk.Stat, error) {
	if !serverValidPath(path) {
		return nil, zk.ErrBadArguments
	}
	n := t.m.nodes[path]
	if n == nil {
		return nil, zk.ErrNoNode
	}
	v, err := nextVersion(n.stat.Version, version)
	if err != nil {
		return nil, err
	}
	oldData, oldStat := n.data, n.stat
	n.data = bytes.Clone(data)
	n.stat.Version, n.stat.Mzxid, n.stat.Mtime = v, t.zxid, t.now
	t.undo = append(t.undo, func() { n.data, n.stat = oldData, oldStat })
	t.trigger(path, zk.EventNodeDataChanged)
	return n.statCopy(), nil
}

// isSpecialPath is the server's list of znodes that may not be deleted.
func isSpecialPath(path string) bool {
	switch path {
	case "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config":
		return true
	}
	return false
}

func (t *memTxn) delete(path string, version int32) error {
	parentPath, _, ok := parentOf(path)
	if !ok || isSpecialPath(path) {
		return zk.ErrBadArguments
	}
	if t.m.nodes[parentPath] == nil {
		return zk.ErrNoNode
	}
	n := t.m.nodes[path]
	if n == nil {
		return zk.ErrNoNode
	}
	if _, err := nextVersion(n.stat.Version, version); err != nil {
		return err
	}
	if len(n.children) > 0 {
		return zk.ErrNotEmpty
	}
	t.remove(path)
	return nil
}

// remove deletes a znode known to exist and to have no children.
func (t *memTxn) remove(path string) {
	parentPath, last, _ := parentOf(path)
	parent, n, name := t.m.nodes[parentPath], t.m.nodes[path], path[last+1:]
	oldPzxid := parent.stat.Pzxid
	delete(t.m.nodes, path)
	delete(parent.children, name)
	parent.stat.Pzxid = t.zxid
	t.undo = append(t.undo, func() {
		t.m.nodes[path] = n
		parent.children[name] = struct{}{}
		parent.stat.Pzxid = oldPzxid
	})
	t.trigger(path, zk.EventNodeDeleted)
	t.trigger(parentPath, zk.EventNodeChildrenChanged)
}

func (t *memTxn) check(path string, version int32) error {
	if !serverValidPath(path) {
		return zk.ErrBadArguments
	}
	n := t.m.nodes[path]
	if n == nil {
		return zk.ErrNoNode
	}
	_, err := nextVersion(n.stat.Version, version)
	return err
}

// validatePath is go-zookeeper v1.0.4's client-side check (util.go,
// validatePath; BSD-3-Clause, see third_party/go-zookeeper/zk/LICENSE),
// ported rule for rule so that Mem refuses exactly the paths *zk.Conn
// refuses, with the same error. Note that w is the width of the previous
// rune when the '.' rule reads it, so "/./x" passes (the server then finds
// no parent "/.").
func validatePath(path string, isSequential bool) error {
	if path == "" {
		return zk.ErrInvalidPath
	}
	if path[0] != '/' {
		return zk.ErrInvalidPath
	}
	n := len(path)
	if n == 1 {
		return nil
	}
	if !isSequential && path[n-1] == '/' {
		return zk.ErrInvalidPath
	}
	for i, w := 1, 0; i < n; i += w {
		r, width := utf8.DecodeRuneInString(path[i:])
		switch {
		case r == '\u0000':
			return zk.ErrInvalidPath
		case r == '/':
			last, _ := utf8.DecodeLastRuneInString(path[:i])
			if last == '/' {
				return zk.ErrInvalidPath
			}
		case r == '.':
			last, lastWidth := utf8.DecodeLastRuneInString(path[:i])
			if last == '.' {
				last, _ = utf8.DecodeLastRuneInString(path[:i-lastWidth])
			}
			if last == '/' {
				if i+1 == n {
					return zk.ErrInvalidPath
				}
				next, _ := utf8.DecodeRuneInString(path[i+w:])
				if next == '/' {
					return zk.ErrInvalidPath
				}
			}
		case r >= '\u0000' && r <= '\u001f',
			r >= '\u007f' && r <= '\u009f',
			r >= '\uf000' && r <= '\uf8ff',
			r >= '\ufff0' && r < '\uffff':
			return zk.ErrInvalidPath
		}
		w = width
	}
	return nil
}

// serverValidPath is the server's PathUtils.validatePath (ZooKeeper 3.9),
// which works on Java's UTF-16 code units: the server answers
// zk.ErrBadArguments where it is false.
func serverValidPath(path string) bool {
	if path == "" || path[0] != '/' {
		return false
	}
	if len(path) == 1 {
		return true
	}
	if path[len(path)-1] == '/' {
		return false
	}
	chars := utf16.Encode([]rune(path))
	lastc := uint16('/')
	for i := 1; i < len(chars); i++ {
		c := chars[i]
		switch {
		case c == 0:
			return false
		case c == '/' && lastc == '/':
			return false
		case c == '.' && lastc == '.':
			if chars[i-2] == '/' && (i+1 == len(chars) || chars[i+1] == '/') {
				return false
			}
		case c == '.':
			if chars[i-1] == '/' && (i+1 == len(chars) || chars[i+1] == '/') {
				return false
			}
		case c > 0 && c <= 0x1f, c >= 0x7f && c <= 0x9f, c >= 0xd800 && c <= 0xf8ff, c >= 0xfff0:
			return false
		}
		lastc = c
	}
	return true
}
