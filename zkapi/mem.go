package zkapi

import (
	"fmt"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Mem is an in-memory ZooKeeper ensemble (one tree, starting with the root
// znode "/" alone) for the calls in Conn; see the package documentation for
// what it honours and what it does not model. Safe for concurrent use.
type Mem struct {
	mu       sync.Mutex
	zxid     int64
	lastID   int64
	nodes    map[string]*memNode
	watches  map[watchKey][]*watchReg
	sessions map[int64]*MemConn
}

type memNode struct {
	data     []byte
	stat     zk.Stat
	children map[string]bool
	// created counts the children ever created: the next sequential
	// child's number. The server takes it from the parent's cversion as
	// its request processor prepared it, which child deletes do not
	// advance (they do advance Stat.Cversion): measured on scripts/infra.sh's ZooKeeper,
	// create, create, delete, delete, create gives 0, 1, 2 and cversion 5.
	created int32
}

func (n *memNode) clone() *memNode {
	c := &memNode{data: slices.Clone(n.data), stat: n.stat, created: n.created, children: make(map[string]bool, len(n.children))}
	for k := range n.children {
		c.children[k] = true
	}
	return c
}

// watchKind mirrors go-zookeeper's watcher types: which events reach a watch.
type watchKind int

const (
	watchExist watchKind = iota // ExistsW
	watchData                   // GetW
	watchChild                  // ChildrenW
)

type watchKey struct {
	path string
	kind watchKind
}

type watchReg struct {
	ch chan zk.Event
	s  *MemConn
}

// kindsOf is go-zookeeper's mapping from a server event to the watches it
// reaches (conn.go, recvLoop).
func kindsOf(t zk.EventType) []watchKind {
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

// NewMem returns an empty ensemble: the root znode only.
func NewMem() *Mem {
	return &Mem{
		nodes:    map[string]*memNode{"/": {children: map[string]bool{}}},
		watches:  map[watchKey][]*watchReg{},
		sessions: map[int64]*MemConn{},
	}
}

// Session opens a new session (ids 1, 2, ...), connected until Close or
// Expire.
func (m *Mem) Session() *MemConn {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastID++
	c := &MemConn{m: m, id: m.lastID}
	m.sessions[c.id] = c
	return c
}

// MemConn is one session of a Mem; it implements Conn. Safe for concurrent
// use.
type MemConn struct {
	m   *Mem
	id  int64
	err error // set when the session ended: zk.ErrClosing or zk.ErrSessionExpired (under m.mu)
}

var _ Conn = (*MemConn)(nil)

// SessionID returns the session's id.
func (c *MemConn) SessionID() int64 { return c.id }

// Close ends the session as zk.Conn.Close does: its ephemeral znodes are
// deleted in one transaction (firing the other sessions' watches), its own
// watches get an EventNotWatching with Err zk.ErrClosing and are closed,
// and every later call returns zk.ErrClosing. Idempotent.
func (c *MemConn) Close() { c.end(zk.ErrClosing, zk.StateDisconnected) }

// Expire ends the session as a server-side expiry does: as Close, but the
// watches' last event and every later call carry zk.ErrSessionExpired.
func (c *MemConn) Expire() { c.end(zk.ErrSessionExpired, zk.StateExpired) }

func (c *MemConn) end(err error, st zk.State) {
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.err != nil {
		return
	}
	var owned []string
	for p, n := range m.nodes {
		if n.stat.EphemeralOwner == c.id {
			owned = append(owned, p)
		}
	}
	if len(owned) > 0 {
		// Ephemerals have no children: any order deletes them all.
		slices.Sort(owned)
		t := m.begin()
		for _, p := range owned {
			if err := t.delete(p, -1); err != nil {
				panic(fmt.Sprintf("zkapi: deleting ephemeral %s: %v", p, err))
			}
		}
		m.commit(t)
	}
	c.err = err
	for k, regs := range m.watches {
		kept := regs[:0]
		for _, r := range regs {
			if r.s != c {
				kept = append(kept, r)
				continue
			}
			r.ch <- zk.Event{Type: zk.EventNotWatching, State: st, Path: k.path, Err: err}
			close(r.ch)
		}
		if len(kept) == 0 {
			delete(m.watches, k)
		} else {
			m.watches[k] = kept
		}
	}
	delete(m.sessions, c.id)
}

// watch registers a one-shot watch of kind on p for c (under m.mu).
func (c *MemConn) watch(p string, kind watchKind) <-chan zk.Event {
	ch := make(chan zk.Event, 1)
	k := watchKey{p, kind}
	c.m.watches[k] = append(c.m.watches[k], &watchReg{ch: ch, s: c})
	return ch
}

// Get returns p's data and stat; zk.ErrNoNode (with a zero stat) if p does
// not exist.
func (c *MemConn) Get(p string) ([]byte, *zk.Stat, error) {
	data, st, _, err := c.get(p, false)
	return data, st, err
}

// GetW is Get with a data watch, set only if p exists.
func (c *MemConn) GetW(p string) ([]byte, *zk.Stat, <-chan zk.Event, error) {
	return c.get(p, true)
}

func (c *MemConn) get(p string, w bool) ([]byte, *zk.Stat, <-chan zk.Event, error) {
	var data []byte
	st, ch, err := c.read(p, watchData, w, func(n *memNode) { data = slices.Clone(n.data) })
	return data, st, ch, err
}

// read is the part every read shares: the client's path check, the
// session's end, the lookup of p (fn gets its znode when it exists) and a
// watch of kind when w (an exist watch also on a missing p, the others only
// on an existing one, as the server sets them).
func (c *MemConn) read(p string, kind watchKind, w bool, fn func(n *memNode)) (*zk.Stat, <-chan zk.Event, error) {
	if err := validatePath(p, false); err != nil {
		return nil, nil, err
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.err != nil {
		return nil, nil, c.err
	}
	n, ok := c.m.nodes[p]
	var ch <-chan zk.Event
	if w && (ok || kind == watchExist) {
		ch = c.watch(p, kind)
	}
	if !ok {
		if kind == watchExist {
			return &zk.Stat{}, ch, nil
		}
		return &zk.Stat{}, nil, zk.ErrNoNode
	}
	fn(n)
	st := n.stat
	return &st, ch, nil
}

// Children returns the names of p's children (sorted; the server's order is
// unspecified) and p's stat; zk.ErrNoNode if p does not exist.
func (c *MemConn) Children(p string) ([]string, *zk.Stat, error) {
	names, st, _, err := c.children(p, false)
	return names, st, err
}

// ChildrenW is Children with a child watch, set only if p exists.
func (c *MemConn) ChildrenW(p string) ([]string, *zk.Stat, <-chan zk.Event, error) {
	return c.children(p, true)
}

func (c *MemConn) children(p string, w bool) ([]string, *zk.Stat, <-chan zk.Event, error) {
	var names []string
	st, ch, err := c.read(p, watchChild, w, func(n *memNode) {
		names = make([]string, 0, len(n.children))
		for k := range n.children {
			names = append(names, k)
		}
		slices.Sort(names)
	})
	return names, st, ch, err
}

// Exists reports whether p exists, with its stat (zero if not).
func (c *MemConn) Exists(p string) (bool, *zk.Stat, error) {
	ok, st, _, err := c.exists(p, false)
	return ok, st, err
}

// ExistsW is Exists with a watch, set whether or not p exists (its
// creation fires it).
func (c *MemConn) ExistsW(p string) (bool, *zk.Stat, <-chan zk.Event, error) {
	return c.exists(p, true)
}

func (c *MemConn) exists(p string, w bool) (bool, *zk.Stat, <-chan zk.Event, error) {
	found := false
	st, ch, err := c.read(p, watchExist, w, func(*memNode) { found = true })
	return found, st, ch, err
}

// Create creates p with data (flags: 0, zk.FlagEphemeral, zk.FlagSequence
// or both; acl is ignored) and returns the created path (with the sequence
// suffix when sequential).
func (c *MemConn) Create(p string, data []byte, flags int32, acl []zk.ACL) (string, error) {
	if flags < 0 || flags > zk.FlagEphemeral|zk.FlagSequence {
		return "", fmt.Errorf("invalid flag value: [%v]", flags)
	}
	if err := validatePath(p, flags&zk.FlagSequence != 0); err != nil {
		return "", err
	}
	resp, err := c.Multi(&zk.CreateRequest{Path: p, Data: data, Acl: acl, Flags: flags})
	if err != nil {
		return "", err
	}
	return resp[0].String, nil
}

// Set writes p's data if version is -1 or p's current version, and returns
// the new stat.
func (c *MemConn) Set(p string, data []byte, version int32) (*zk.Stat, error) {
	if err := validatePath(p, false); err != nil {
		return nil, err
	}
	resp, err := c.Multi(&zk.SetDataRequest{Path: p, Data: data, Version: version})
	if err != nil {
		return &zk.Stat{}, err
	}
	return resp[0].Stat, nil
}

// Delete deletes p if version is -1 or p's current version and p has no
// children.
func (c *MemConn) Delete(p string, version int32) error {
	if err := validatePath(p, false); err != nil {
		return err
	}
	_, err := c.Multi(&zk.DeleteRequest{Path: p, Version: version})
	return err
}

// Multi applies ops (*zk.CreateRequest, *zk.SetDataRequest,
// *zk.DeleteRequest, *zk.CheckVersionRequest) atomically, in one zxid,
// and fires the watches they trigger once all are applied. If one fails,
// none is applied and no watch fires; as the server answers, the ops
// before it report no error, it reports its own (also returned), and the
// ops after it report ZooKeeper's runtime inconsistency (-2), which
// go-zookeeper gives as an "unknown error: -2".
func (c *MemConn) Multi(ops ...interface{}) ([]zk.MultiResponse, error) {
	for _, op := range ops {
		switch op.(type) {
		case *zk.CreateRequest, *zk.SetDataRequest, *zk.DeleteRequest, *zk.CheckVersionRequest:
		default:
			return nil, fmt.Errorf("unknown operation type %T", op)
		}
	}
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	t := m.begin()
	resp := make([]zk.MultiResponse, len(ops))
	for i, op := range ops {
		var err error
		switch o := op.(type) {
		case *zk.CreateRequest:
			resp[i].String, err = t.create(o.Path, o.Data, o.Flags, c.id)
		case *zk.SetDataRequest:
			resp[i].Stat, err = t.set(o.Path, o.Data, o.Version)
		case *zk.DeleteRequest:
			err = t.delete(o.Path, o.Version)
		case *zk.CheckVersionRequest:
			err = t.check(o.Path, o.Version)
		}
		if err != nil {
			failed := make([]zk.MultiResponse, len(ops))
			failed[i].Error = err
			for j := i + 1; j < len(ops); j++ {
				failed[j].Error = fmt.Errorf("unknown error: %v", zk.ErrCode(-2))
			}
			return failed, err
		}
	}
	m.commit(t)
	return resp, nil
}

// txn is a write transaction: ops apply to copies of the znodes they touch
// (nodes); commit installs them and fires the triggered watches.
type txn struct {
	m        *Mem
	zxid     int64
	now      int64
	nodes    map[string]*memNode // touched: copies; nil value: deleted
	triggers []trigger
}

type trigger struct {
	path string
	typ  zk.EventType
}

func (m *Mem) begin() *txn {
	return &txn{m: m, zxid: m.zxid + 1, now: time.Now().UnixMilli(), nodes: map[string]*memNode{}}
}

// node returns the txn's view of p (a copy it may change), or nil.
func (t *txn) node(p string) *memNode {
	if n, ok := t.nodes[p]; ok {
		return n
	}
	n, ok := t.m.nodes[p]
	if !ok {
		return nil
	}
	n = n.clone()
	t.nodes[p] = n
	return n
}

func (t *txn) create(p string, data []byte, flags int32, owner int64) (string, error) {
	if err := validatePath(p, flags&zk.FlagSequence != 0); err != nil {
		return "", err
	}
	if p == "/" {
		return "", zk.ErrNodeExists
	}
	parentPath := path.Dir(p)
	if p[len(p)-1] == '/' { // sequential "dir/": the name is the number alone
		parentPath = p[:len(p)-1]
		if parentPath == "" {
			parentPath = "/"
		}
	}
	parent := t.node(parentPath)
	if parent == nil {
		return "", zk.ErrNoNode
	}
	if parent.stat.EphemeralOwner != 0 {
		return "", zk.ErrNoChildrenForEphemerals
	}
	if flags&zk.FlagSequence != 0 {
		p += fmt.Sprintf("%010d", parent.created)
	}
	if n := t.node(p); n != nil {
		return "", zk.ErrNodeExists
	}
	n := &memNode{data: slices.Clone(data), children: map[string]bool{}}
	n.stat = zk.Stat{Czxid: t.zxid, Mzxid: t.zxid, Pzxid: t.zxid, Ctime: t.now, Mtime: t.now, DataLength: int32(len(data))}
	if flags&zk.FlagEphemeral != 0 {
		n.stat.EphemeralOwner = owner
	}
	t.nodes[p] = n
	name := path.Base(p)
	parent.children[name] = true
	parent.created++
	parent.stat.Cversion++
	parent.stat.NumChildren = int32(len(parent.children))
	parent.stat.Pzxid = t.zxid
	t.triggers = append(t.triggers, trigger{p, zk.EventNodeCreated}, trigger{parentPath, zk.EventNodeChildrenChanged})
	return p, nil
}

func (t *txn) set(p string, data []byte, version int32) (*zk.Stat, error) {
	n := t.node(p)
	if n == nil {
		return nil, zk.ErrNoNode
	}
	if version != -1 && version != n.stat.Version {
		return nil, zk.ErrBadVersion
	}
	n.data = slices.Clone(data)
	n.stat.Version++
	n.stat.Mzxid, n.stat.Mtime, n.stat.DataLength = t.zxid, t.now, int32(len(data))
	t.triggers = append(t.triggers, trigger{p, zk.EventNodeDataChanged})
	st := n.stat
	return &st, nil
}

func (t *txn) delete(p string, version int32) error {
	if p == "/" {
		return zk.ErrBadArguments
	}
	n := t.node(p)
	if n == nil {
		return zk.ErrNoNode
	}
	if version != -1 && version != n.stat.Version {
		return zk.ErrBadVersion
	}
	if len(n.children) > 0 {
		return zk.ErrNotEmpty
	}
	parentPath := path.Dir(p)
	parent := t.node(parentPath)
	delete(parent.children, path.Base(p))
	parent.stat.Cversion++
	parent.stat.NumChildren = int32(len(parent.children))
	parent.stat.Pzxid = t.zxid
	t.nodes[p] = nil
	t.triggers = append(t.triggers, trigger{p, zk.EventNodeDeleted}, trigger{parentPath, zk.EventNodeChildrenChanged})
	return nil
}

func (t *txn) check(p string, version int32) error {
	n := t.node(p)
	if n == nil {
		return zk.ErrNoNode
	}
	if version != -1 && version != n.stat.Version {
		return zk.ErrBadVersion
	}
	return nil
}

// commit installs t's znodes, takes its zxid and fires its watches, each
// registration at most once (watches are one-shot), in the order of the
// ops (under m.mu).
func (m *Mem) commit(t *txn) {
	if len(t.nodes) == 0 {
		return
	}
	m.zxid = t.zxid
	for p, n := range t.nodes {
		if n == nil {
			delete(m.nodes, p)
		} else {
			m.nodes[p] = n
		}
	}
	for _, tr := range t.triggers {
		for _, k := range kindsOf(tr.typ) {
			key := watchKey{tr.path, k}
			for _, r := range m.watches[key] {
				r.ch <- zk.Event{Type: tr.typ, State: zk.StateSyncConnected, Path: tr.path}
				close(r.ch)
			}
			delete(m.watches, key)
		}
	}
}
