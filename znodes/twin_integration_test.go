package znodes_test

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/goleak"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/znodes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var acl = zk.WorldACL(zk.PermAll)

// A twinCase performs a sequence of operations through one or two sessions
// (conn(1), conn(2): distinct sessions, opened on first use) under root,
// which exists and is empty, and returns the transcript of everything it
// observed. The same case runs against the real ZooKeeper and against Mem;
// the transcripts must be equal.
type twinCase struct {
	name string
	run  func(conn func(session int) znodes.Conn, root string) []string
}

// TestIntegration_Twin runs every case against the real server and against
// Mem and requires equal transcripts.
func TestIntegration_Twin(t *testing.T) {
	t.Cleanup(func() { zkQuiesce(t) }) // registered first: runs after every session's Close
	admin := testenv.ZKConn(t, 10*time.Second)
	if _, err := admin.Create(testenv.ZKTestRoot, nil, 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("create %s: %v", testenv.ZKTestRoot, err)
	}
	var lines atomic.Int64
	t.Cleanup(func() {
		t.Logf("%d cases, %d transcript lines, equal on ZooKeeper and Mem", len(twinCases), lines.Load())
	})
	for _, tc := range twinCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := testenv.ZKRoot(t)
			if _, err := admin.Create(root, nil, 0, acl); err != nil {
				t.Fatalf("create %s: %v", root, err)
			}
			real := runReal(t, tc, root)
			mem := runMem(t, tc, root)
			if !slices.Equal(real, mem) {
				t.Fatalf("transcripts differ (real ZooKeeper | Mem):\n%s", diff(real, mem))
			}
			lines.Add(int64(len(real)))
			t.Logf("%d lines equal", len(real))
		})
	}
}

// zkQuiesce waits (up to 10 s) until no go-zookeeper goroutine is left. A
// closed *zk.Conn winds down asynchronously (its Close waits at most 1 s for
// the server's reply, and its loop ends after that), and TestMain's goleak
// check runs right after the last test: on a loaded machine it could catch
// a connection still shutting down, which is no leak.
func zkQuiesce(t *testing.T) {
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n == len(buf) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		busy := false
		// The first goroutine listed is this one (whose stack may hold
		// testenv.ZKConn, when the test is skipped from inside it).
		for _, g := range bytes.Split(buf[:n], []byte("\n\n"))[1:] {
			if bytes.Contains(g, []byte("github.com/go-zookeeper/zk.")) || bytes.Contains(g, []byte("testenv.ZKConn")) {
				busy = true
			}
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Log("go-zookeeper goroutines still running 10 s after the last Close")
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runReal(t *testing.T, tc twinCase, root string) []string {
	sessions := map[int]*zk.Conn{}
	return tc.run(func(i int) znodes.Conn {
		if c, ok := sessions[i]; ok {
			return c
		}
		c := testenv.ZKConn(t, 10*time.Second)
		sessions[i] = c
		return c
	}, root)
}

func runMem(t *testing.T, tc twinCase, root string) []string {
	m := znodes.NewMem()
	admin := m.Session()
	for _, p := range []string{testenv.ZKTestRoot, root} {
		if _, err := admin.Create(p, nil, 0, acl); err != nil {
			t.Fatalf("mem: create %s: %v", p, err)
		}
	}
	sessions := map[int]*znodes.MemConn{}
	return tc.run(func(i int) znodes.Conn {
		if c, ok := sessions[i]; ok {
			return c
		}
		c := m.Session()
		sessions[i] = c
		return c
	}, root)
}

// diff prints both transcripts side by side, marking the lines that differ.
func diff(a, b []string) string {
	var sb strings.Builder
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		mark := "  "
		if i >= len(a) || i >= len(b) || x != y {
			mark = "≠ "
		}
		fmt.Fprintf(&sb, "%s%-70s | %s\n", mark, x, y)
	}
	return sb.String()
}

// rec records a case's transcript. Paths are written relative to the
// case's root ("~"), errors by name, session ids and zxids by label: s1 and
// s2 for the sessions, z1, z2, ... for zxids in order of first sighting
// (with "<" when a newly seen zxid is older than one seen before).
type rec struct {
	conn     func(int) znodes.Conn
	root     string
	lines    []string
	sids     map[int64]string
	zxids    map[int64]string
	maxZ     int64
	quietFor time.Duration // how long a real client waits before concluding no event is coming
}

func newRec(conn func(int) znodes.Conn, root string) *rec {
	r := &rec{conn: conn, root: root, sids: map[int64]string{}, zxids: map[int64]string{}}
	if _, mem := r.c(1).(*znodes.MemConn); !mem {
		r.quietFor = 200 * time.Millisecond
	}
	return r
}

// c returns session i, labelling its id.
func (r *rec) c(i int) znodes.Conn {
	c := r.conn(i)
	if id := c.SessionID(); id != 0 {
		if _, ok := r.sids[id]; !ok {
			r.sids[id] = fmt.Sprintf("s%d", i)
		}
	}
	return c
}

func (r *rec) logf(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

// abs turns "~/x" into root+"/x"; other paths are used as they are.
func (r *rec) abs(p string) string {
	if p == "~" {
		return r.root
	}
	if strings.HasPrefix(p, "~/") {
		return r.root + p[1:]
	}
	return p
}

func (r *rec) rel(p string) string {
	if p == r.root {
		return "~"
	}
	if strings.HasPrefix(p, r.root+"/") {
		return "~" + p[len(r.root):]
	}
	return p
}

// shown is a path as the transcript writes it: quoted when it holds
// anything but printable ASCII.
func shown(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] > 0x7e {
			return strconv.QuoteToASCII(p)
		}
	}
	return p
}

func (r *rec) z(v int64) string {
	if v == 0 {
		return "0"
	}
	if l, ok := r.zxids[v]; ok {
		return l
	}
	l := fmt.Sprintf("z%d", len(r.zxids)+1)
	if v < r.maxZ {
		l += "<"
	}
	r.maxZ = max(r.maxZ, v)
	r.zxids[v] = l
	return l
}

func (r *rec) owner(id int64) string {
	if id == 0 {
		return "0"
	}
	if l, ok := r.sids[id]; ok {
		return l
	}
	return "?"
}

func (r *rec) stat(s *zk.Stat) string {
	switch {
	case s == nil:
		return "stat=nil"
	case *s == zk.Stat{}:
		return "stat=zero"
	}
	times := "times=ok"
	if s.Ctime <= 0 || s.Mtime < s.Ctime {
		times = fmt.Sprintf("times=bad(%d,%d)", s.Ctime, s.Mtime)
	}
	return fmt.Sprintf("v=%d cv=%d av=%d nc=%d dl=%d eph=%s cz=%s mz=%s pz=%s %s",
		s.Version, s.Cversion, s.Aversion, s.NumChildren, s.DataLength, r.owner(s.EphemeralOwner),
		r.z(s.Czxid), r.z(s.Mzxid), r.z(s.Pzxid), times)
}

var namedErrors = []struct {
	err  error
	name string
}{
	{zk.ErrNoNode, "ErrNoNode"},
	{zk.ErrNodeExists, "ErrNodeExists"},
	{zk.ErrBadVersion, "ErrBadVersion"},
	{zk.ErrNotEmpty, "ErrNotEmpty"},
	{zk.ErrNoChildrenForEphemerals, "ErrNoChildrenForEphemerals"},
	{zk.ErrInvalidPath, "ErrInvalidPath"},
	{zk.ErrBadArguments, "ErrBadArguments"},
	{zk.ErrInvalidACL, "ErrInvalidACL"},
	{zk.ErrInvalidFlags, "ErrInvalidFlags"},
	{zk.ErrConnectionClosed, "ErrConnectionClosed"},
	{zk.ErrClosing, "ErrClosing"},
	{zk.ErrSessionExpired, "ErrSessionExpired"},
}

func errName(err error) string {
	if err == nil {
		return "ok"
	}
	for _, e := range namedErrors {
		if errors.Is(err, e.err) {
			if err == e.err {
				return e.name
			}
			return fmt.Sprintf("%s(%q)", e.name, err.Error())
		}
	}
	return fmt.Sprintf("err(%q)", err.Error())
}

func data(b []byte) string {
	if b == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", b)
}

func (r *rec) children(names []string) string {
	if names == nil {
		return "nil"
	}
	s := slices.Clone(names)
	slices.Sort(s)
	return fmt.Sprintf("%q", s)
}

func chanState(ch <-chan zk.Event) string {
	if ch == nil {
		return "ch=nil"
	}
	return "ch=set"
}

func (r *rec) create(s int, p string, d []byte, flags int32) string {
	return r.createACL(s, p, d, flags, acl)
}

func (r *rec) createACL(s int, p string, d []byte, flags int32, a []zk.ACL) string {
	got, err := r.c(s).Create(r.abs(p), d, flags, a)
	r.logf("s%d create %s %s flags=%d -> %q %s", s, shown(p), data(d), flags, r.rel(got), errName(err))
	return r.rel(got)
}

func (r *rec) get(s int, p string) {
	d, st, err := r.c(s).Get(r.abs(p))
	r.logf("s%d get %s -> %s %s %s", s, shown(p), data(d), r.stat(st), errName(err))
}

func (r *rec) getW(s int, p string) <-chan zk.Event {
	d, st, ch, err := r.c(s).GetW(r.abs(p))
	r.logf("s%d getW %s -> %s %s %s %s", s, shown(p), data(d), r.stat(st), chanState(ch), errName(err))
	return ch
}

func (r *rec) set(s int, p string, d []byte, version int32) {
	st, err := r.c(s).Set(r.abs(p), d, version)
	r.logf("s%d set %s %s v=%d -> %s %s", s, shown(p), data(d), version, r.stat(st), errName(err))
}

func (r *rec) del(s int, p string, version int32) {
	err := r.c(s).Delete(r.abs(p), version)
	r.logf("s%d delete %s v=%d -> %s", s, shown(p), version, errName(err))
}

func (r *rec) exists(s int, p string) {
	ok, st, err := r.c(s).Exists(r.abs(p))
	r.logf("s%d exists %s -> %v %s %s", s, shown(p), ok, r.stat(st), errName(err))
}

func (r *rec) existsW(s int, p string) <-chan zk.Event {
	ok, st, ch, err := r.c(s).ExistsW(r.abs(p))
	r.logf("s%d existsW %s -> %v %s %s %s", s, shown(p), ok, r.stat(st), chanState(ch), errName(err))
	return ch
}

func (r *rec) ls(s int, p string) {
	names, st, err := r.c(s).Children(r.abs(p))
	r.logf("s%d children %s -> %s %s %s", s, shown(p), r.children(names), r.stat(st), errName(err))
}

func (r *rec) lsW(s int, p string) <-chan zk.Event {
	names, st, ch, err := r.c(s).ChildrenW(r.abs(p))
	r.logf("s%d childrenW %s -> %s %s %s %s", s, shown(p), r.children(names), r.stat(st), chanState(ch), errName(err))
	return ch
}

func (r *rec) multi(s int, ops ...any) {
	res, err := r.c(s).Multi(ops...)
	n := "nil"
	if res != nil {
		n = fmt.Sprint(len(res))
	}
	r.logf("s%d multi of %d -> %s responses, %s", s, len(ops), n, errName(err))
	for i, m := range res {
		r.logf("  [%d] string=%q %s %s", i, r.rel(m.String), r.stat(m.Stat), errName(m.Error))
	}
}

func (r *rec) mCreate(p string, d []byte, flags int32) *zk.CreateRequest {
	return &zk.CreateRequest{Path: r.abs(p), Data: d, Acl: acl, Flags: flags}
}

func (r *rec) mSet(p string, d []byte, version int32) *zk.SetDataRequest {
	return &zk.SetDataRequest{Path: r.abs(p), Data: d, Version: version}
}

func (r *rec) mDel(p string, version int32) *zk.DeleteRequest {
	return &zk.DeleteRequest{Path: r.abs(p), Version: version}
}

func (r *rec) mCheck(p string, version int32) *zk.CheckVersionRequest {
	return &zk.CheckVersionRequest{Path: r.abs(p), Version: version}
}

func (r *rec) close(s int) {
	r.c(s).(interface{ Close() }).Close()
	r.logf("s%d closed", s)
}

func (r *rec) event(ev zk.Event) string {
	return fmt.Sprintf("%v %s state=%v err=%s server=%q", ev.Type, shown(r.rel(ev.Path)), ev.State, errName(ev.Err), ev.Server)
}

// wait expects one event on ch (waiting up to 10 s), then the channel's
// close.
func (r *rec) wait(label string, ch <-chan zk.Event) {
	if ch == nil {
		r.logf("%s: no channel", label)
		return
	}
	select {
	case ev, ok := <-ch:
		if !ok {
			r.logf("%s: closed without an event", label)
			return
		}
		r.logf("%s: %s", label, r.event(ev))
	case <-time.After(10 * time.Second):
		r.logf("%s: no event within 10s", label)
		return
	}
	select {
	case ev, ok := <-ch:
		if ok {
			r.logf("%s: second event %s", label, r.event(ev))
		} else {
			r.logf("%s: then closed", label)
		}
	case <-time.After(time.Second):
		r.logf("%s: not closed", label)
	}
}

// spent checks that a channel which already delivered its event has
// nothing more: a watch is one-shot.
func (r *rec) spent(label string, ch <-chan zk.Event) {
	select {
	case ev, ok := <-ch:
		if ok {
			r.logf("%s: another event %s", label, r.event(ev))
		} else {
			r.logf("%s: spent", label)
		}
	default:
		r.logf("%s: open and empty", label)
	}
}

// quiet checks that none of the channels has an event. On the real server
// session s first makes a round trip (the server sends a session's watch
// events before its later replies), then waits r.quietFor; Mem delivers events
// before the triggering write returns, so it needs neither.
func (r *rec) quiet(s int, labelled ...any) {
	if r.quietFor > 0 {
		if _, _, err := r.c(s).Exists(r.root); err != nil {
			r.logf("quiet barrier: %s", errName(err))
		}
		time.Sleep(r.quietFor)
	}
	for i := 0; i+1 < len(labelled); i += 2 {
		label, ch := labelled[i].(string), labelled[i+1].(<-chan zk.Event)
		if ch == nil {
			r.logf("%s: no channel", label)
			continue
		}
		select {
		case ev, ok := <-ch:
			if ok {
				r.logf("%s: UNEXPECTED %s", label, r.event(ev))
			} else {
				r.logf("%s: UNEXPECTED close", label)
			}
		default:
			r.logf("%s: quiet", label)
		}
	}
}

func b(s string) []byte { return []byte(s) }

var twinCases = []twinCase{
	{"crud_versions", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/a", b("v0"), 0)
		r.get(1, "~/a")
		r.set(1, "~/a", b("v1"), 0)
		r.set(1, "~/a", b("x"), 0)
		r.set(1, "~/a", b("v2"), -1)
		r.get(1, "~/a")
		r.exists(1, "~/a")
		r.del(1, "~/a", 1)
		r.del(1, "~/a", 2)
		r.exists(1, "~/a")
		r.get(1, "~/a")
		r.set(1, "~/a", b("y"), -1)
		r.del(1, "~/a", -1)
		r.create(1, "~/b", nil, 0)
		r.set(1, "~/b", b("x"), -2)
		r.del(1, "~/b", -2)
		r.del(1, "~/b", 0)
		r.ls(1, "~")
		return r.lines
	}},
	{"create_errors", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/x/y", nil, 0)
		r.create(1, "~/x/y", nil, zk.FlagSequence)
		r.create(1, "~/x/y", nil, zk.FlagEphemeral)
		r.create(1, "~/a", b("1"), 0)
		r.create(1, "~/a", b("2"), 0)
		r.create(2, "~/a", b("3"), zk.FlagEphemeral)
		r.get(1, "~/a")
		r.create(1, "~/a/b/c", nil, 0)
		r.createACL(1, "~/n", nil, 0, nil)
		r.createACL(1, "~/x/y", nil, 0, []zk.ACL{})
		r.create(1, "~/f", nil, 9)
		r.create(1, "~/f", nil, -1)
		r.create(1, "~/f", nil, zk.FlagTTL)
		r.create(1, "~/f", nil, zk.FlagPersistentSequentialWithTTL)
		r.ls(1, "~")
		return r.lines
	}},
	{"delete_rules", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/p", nil, 0)
		r.create(1, "~/p/c", nil, 0)
		r.del(1, "~/p", -1)
		r.del(1, "~/p", 5)
		r.del(1, "~/p/c", 0)
		r.del(1, "~/p/c", 0)
		r.del(1, "~/p", 0)
		r.del(1, "~/q/r", -1)
		r.del(1, "/", -1)
		r.create(1, "~/p", b("again"), 0)
		r.get(1, "~/p")
		r.get(1, "~")
		return r.lines
	}},
	{"invalid_paths_client", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		c := r.c(1)
		for _, p := range []string{"", "a", "a/b", "~/", "~//x", "~/x/", "~/.", "~/..", "~/a/./b", "~/a/../b",
			"~/x\x00y", "~/\x01", "~/\x1f", "~/\x7f", "~/\u0080", "~/\u009f", "~/\uf000", "~/\uf8ff", "~/\ufff0",
			"~/\ufffe", "~/x\x80y", "//", "/.", "/.."} {
			ap := r.abs(p)
			d, st, err := c.Get(ap)
			line := fmt.Sprintf("path %q: get=%s %s %s", p, data(d), r.stat(st), errName(err))
			d, st, ch, err := c.GetW(ap)
			line += fmt.Sprintf(" getW=%s %s %s %s", data(d), r.stat(st), chanState(ch), errName(err))
			names, st, err := c.Children(ap)
			line += fmt.Sprintf(" children=%s %s %s", r.children(names), r.stat(st), errName(err))
			names, st, ch, err = c.ChildrenW(ap)
			line += fmt.Sprintf(" childrenW=%s %s %s %s", r.children(names), r.stat(st), chanState(ch), errName(err))
			ok, st, err := c.Exists(ap)
			line += fmt.Sprintf(" exists=%v %s %s", ok, r.stat(st), errName(err))
			ok, st, ch, err = c.ExistsW(ap)
			line += fmt.Sprintf(" existsW=%v %s %s %s", ok, r.stat(st), chanState(ch), errName(err))
			got, err := c.Create(ap, nil, 0, acl)
			line += fmt.Sprintf(" create=%q %s", r.rel(got), errName(err))
			got, err = c.Create(ap, nil, zk.FlagSequence, acl)
			line += fmt.Sprintf(" createSeq=%q %s", r.rel(got), errName(err))
			st, err = c.Set(ap, nil, -1)
			line += fmt.Sprintf(" set=%s %s", r.stat(st), errName(err))
			line += fmt.Sprintf(" delete=%s", errName(c.Delete(ap, -1)))
			r.logf("%s", line)
		}
		r.ls(1, "~")
		return r.lines
	}},
	{"paths_server_side", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		// Names go-zookeeper lets through and the server refuses.
		for _, name := range []string{"\ue000", "\U0001F600", "\uffff"} {
			p := "~/" + name
			r.create(1, p, nil, 0)
			r.create(1, p, nil, zk.FlagSequence)
			r.get(1, p)
			r.exists(1, p)
			r.set(1, p, nil, -1)
			r.del(1, p, -1)
		}
		// "/./x" passes go-zookeeper's check (a quirk); the server finds
		// no parent "/." or refuses the path.
		for _, p := range []string{"/./x", "/./zookeeper"} {
			r.create(1, p, nil, 0)
			r.get(1, p)
			r.set(1, p, nil, -1)
			r.del(1, p, -1)
		}
		// Odd names both accept.
		for _, name := range []string{".x", "..x", "x.", "x..y", "...", "a b", "é", "\ud7ff", "\u00a0", "-", "0000000000"} {
			r.create(1, "~/"+name, b(name), 0)
			r.get(1, "~/"+name)
		}
		r.ls(1, "~")
		// The root.
		_, err := r.c(1).Create("/", nil, 0, acl)
		r.logf("create / -> %s", errName(err))
		r.logf("delete / -> %s", errName(r.c(1).Delete("/", -1)))
		ok, _, err := r.c(1).Exists("/")
		r.logf("exists / -> %v %s", ok, errName(err))
		return r.lines
	}},
	{"sequence_numbering", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		a := r.create(1, "~/s-", nil, zk.FlagSequence)
		b1 := r.create(1, "~/s-", nil, zk.FlagSequence)
		r.del(1, a, -1)
		c := r.create(1, "~/s-", nil, zk.FlagSequence)
		r.get(1, "~")
		r.del(1, b1, -1)
		r.del(1, c, -1)
		r.get(1, "~")
		r.create(1, "~/s-", nil, zk.FlagSequence)
		r.create(1, "~/plain", nil, 0)
		r.create(1, "~/t-", nil, zk.FlagSequence)
		r.create(1, "~/plain", nil, 0)
		r.create(1, "~/s-", nil, zk.FlagSequence)
		r.create(2, "~/e-", nil, zk.FlagEphemeralSequential)
		r.create(1, "~/", nil, zk.FlagSequence)
		r.create(1, "~/plain/", nil, zk.FlagSequence)
		r.create(1, "~/plain/s-", nil, zk.FlagSequence)
		r.multi(1, r.mCreate("~/m-", nil, zk.FlagSequence), r.mCreate("~/m-", nil, zk.FlagSequence))
		r.multi(1, r.mCreate("~/m-", nil, zk.FlagSequence), r.mCheck("~/plain", 99))
		r.create(1, "~/m-", nil, zk.FlagSequence)
		r.ls(1, "~")
		r.ls(1, "~/plain")
		return r.lines
	}},
	{"sequence_collision", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/s-0000000001", nil, 0)
		r.create(1, "~/s-", nil, zk.FlagSequence)
		r.create(1, "~/s-", nil, zk.FlagSequence)
		r.get(1, "~")
		r.create(1, "~/x", nil, 0)
		r.create(1, "~/s-", nil, zk.FlagSequence)
		r.ls(1, "~")
		return r.lines
	}},
	{"ephemeral_close", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(2, "~/e", b("x"), zk.FlagEphemeral)
		q := r.create(2, "~/q-", nil, zk.FlagEphemeralSequential)
		r.create(2, "~/p", nil, 0)
		r.get(1, "~/e")
		r.get(2, "~/e")
		r.exists(1, q)
		w1 := r.getW(1, "~/e")
		w2 := r.existsW(1, q)
		w3 := r.lsW(1, "~")
		w4 := r.getW(1, "~/p")
		w5 := r.getW(2, "~/e")
		w6 := r.lsW(2, "~")
		w7 := r.existsW(2, "~/missing")
		w8 := r.getW(2, "~/p")
		r.get(1, "~")
		r.close(2)
		r.wait("s1 data watch on ~/e", w1)
		r.wait("s1 exists watch on "+q, w2)
		r.wait("s1 child watch on ~", w3)
		r.wait("s2 own data watch on ~/e", w5)
		r.wait("s2 own child watch on ~", w6)
		r.wait("s2 exists watch on ~/missing", w7)
		r.wait("s2 data watch on ~/p", w8)
		r.quiet(1, "s1 data watch on ~/p", w4)
		r.exists(1, "~/e")
		r.exists(1, q)
		r.ls(1, "~")
		r.get(1, "~/p")
		return r.lines
	}},
	{"ephemeral_no_children", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(2, "~/e", nil, zk.FlagEphemeral)
		r.create(2, "~/e/k", nil, 0)
		r.create(1, "~/e/k", nil, 0)
		r.create(1, "~/e/s-", nil, zk.FlagSequence)
		r.create(2, "~/e/k", nil, zk.FlagEphemeralSequential)
		r.create(1, "~/e", nil, 0)
		r.create(1, "~/e/k/x", nil, 0)
		r.multi(2, r.mCreate("~/f", nil, 0), r.mCreate("~/e/k", nil, 0))
		r.get(1, "~/e")
		r.exists(1, "~/f")
		return r.lines
	}},
	{"closed_session_calls", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(2, "~/k", b("v"), 0)
		id := r.c(2).SessionID()
		r.close(2)
		r.logf("session id unchanged after close: %v", r.c(2).SessionID() == id)
		r.get(2, "~/k")
		r.getW(2, "~/k")
		r.ls(2, "~")
		r.lsW(2, "~")
		r.exists(2, "~/k")
		r.existsW(2, "~/k")
		r.create(2, "~/n", nil, 0)
		r.set(2, "~/k", nil, -1)
		r.del(2, "~/k", -1)
		r.multi(2, r.mCheck("~/k", -1))
		r.multi(2)
		// The client-side checks come first.
		r.get(2, "bad")
		r.create(2, "~/n", nil, 9)
		r.create(2, "~/n", nil, zk.FlagTTL)
		r.multi(2, zk.CheckVersionRequest{Path: r.abs("~/k"), Version: -1})
		r.close(2)
		r.get(1, "~/k")
		return r.lines
	}},
	{"existsw_created", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		w1 := r.existsW(1, "~/a")
		r.create(2, "~/a", b("x"), 0)
		r.wait("w1", w1)
		w2 := r.existsW(1, "~/a")
		r.set(2, "~/a", b("y"), -1)
		r.wait("w2", w2)
		w3 := r.existsW(1, "~/a")
		r.del(2, "~/a", -1)
		r.wait("w3", w3)
		w4 := r.existsW(1, "~/a")
		r.create(1, "~/a", nil, 0)
		r.wait("w4 (own write)", w4)
		w5 := r.existsW(1, "~/x/y")
		r.create(2, "~/x", nil, 0)
		r.create(2, "~/x/y", nil, 0)
		r.wait("w5", w5)
		return r.lines
	}},
	{"getw_changed_deleted", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/g", b("1"), 0)
		w1 := r.getW(2, "~/g")
		r.set(1, "~/g", b("2"), -1)
		r.wait("w1", w1)
		w2 := r.getW(2, "~/g")
		r.del(1, "~/g", -1)
		r.wait("w2", w2)
		r.getW(2, "~/g")
		r.create(1, "~/h", nil, 0)
		w3 := r.getW(1, "~/h")
		r.set(1, "~/h", b("own"), 0)
		r.wait("w3 (own write)", w3)
		r.create(1, "~/k", b("same"), 0)
		w4 := r.getW(2, "~/k")
		r.set(1, "~/k", b("same"), 0)
		r.wait("w4 (same data)", w4)
		w5 := r.getW(2, "~/k")
		r.set(1, "~/k", b("z"), 0)
		r.del(1, "~/k", 0)
		r.quiet(2, "w5 (failed writes)", w5)
		return r.lines
	}},
	{"childrenw", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/p", nil, 0)
		w1 := r.lsW(2, "~/p")
		r.create(1, "~/p/a", nil, 0)
		r.wait("w1", w1)
		w2 := r.lsW(2, "~/p")
		r.del(1, "~/p/a", -1)
		r.wait("w2", w2)
		w3 := r.lsW(2, "~/p")
		r.set(1, "~/p", b("d"), -1)
		r.create(1, "~/p/b", nil, 0)
		r.set(1, "~/p/b", b("x"), -1)
		r.wait("w3", w3)
		w4 := r.lsW(2, "~/p")
		r.create(1, "~/p/b/c", nil, 0)
		r.quiet(2, "w4 (grandchild)", w4)
		w5 := r.lsW(2, "~/p/b")
		r.del(1, "~/p/b/c", -1)
		r.wait("w5", w5)
		w6 := r.lsW(2, "~/p/b")
		r.del(1, "~/p/b", -1)
		r.wait("w6 (watched znode deleted)", w6)
		r.wait("w4", w4)
		r.lsW(2, "~/p/b")
		return r.lines
	}},
	{"watch_one_shot_and_fanout", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/o", nil, 0)
		a1 := r.getW(2, "~/o")
		a2 := r.getW(2, "~/o")
		a3 := r.existsW(2, "~/o")
		a4 := r.lsW(2, "~/o")
		b1 := r.getW(1, "~/o")
		r.set(1, "~/o", b("1"), -1)
		r.wait("a1", a1)
		r.wait("a2", a2)
		r.wait("a3", a3)
		r.wait("b1", b1)
		r.set(1, "~/o", b("2"), -1)
		r.quiet(2, "a4", a4)
		r.spent("a1 after a second set", a1)
		r.spent("a3 after a second set", a3)
		a5 := r.getW(2, "~/o")
		r.set(1, "~/o", b("3"), -1)
		r.wait("a5", a5)
		r.del(1, "~/o", -1)
		r.wait("a4", a4)
		return r.lines
	}},
	{"watch_kinds_isolation", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/w", nil, 0)
		r.create(1, "~/w/c", nil, 0)
		e1 := r.existsW(2, "~/w")
		g1 := r.getW(2, "~/w")
		c1 := r.lsW(2, "~/w/c")
		r.create(1, "~/w/d", nil, 0)
		r.set(1, "~/w/c", b("x"), -1)
		r.quiet(2, "e1", e1, "g1", g1, "c1", c1)
		r.del(1, "~/w/c", -1)
		r.wait("c1", c1)
		r.set(1, "~/w", b("y"), -1)
		r.wait("e1", e1)
		r.wait("g1", g1)
		return r.lines
	}},
	{"multi_success", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/m", b("x"), 0)
		r.create(1, "~/m/old", nil, 0)
		wa := r.getW(2, "~/m")
		wb := r.lsW(2, "~/m")
		wc := r.existsW(2, "~/m/a")
		wd := r.getW(2, "~/m/old")
		r.multi(1,
			r.mCreate("~/m/a", b("1"), 0),
			r.mCreate("~/m/q-", nil, zk.FlagSequence),
			r.mSet("~/m", b("y"), -1),
			r.mCheck("~/m", 1),
			r.mDel("~/m/old", -1),
			r.mSet("~/m/a", b("2"), 0),
			r.mCreate("~/m/e", nil, zk.FlagEphemeral),
		)
		r.get(1, "~/m")
		r.get(1, "~/m/a")
		r.get(1, "~/m/q-0000000002")
		r.get(1, "~/m/e")
		r.ls(1, "~/m")
		r.wait("wa", wa)
		r.wait("wb", wb)
		r.wait("wc", wc)
		r.wait("wd", wd)
		r.multi(1)
		return r.lines
	}},
	{"multi_failure_middle", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/m", b("x"), 0)
		r.get(1, "~/m")
		wa := r.getW(2, "~/m")
		wb := r.lsW(2, "~/m")
		wc := r.existsW(2, "~/m/x")
		r.multi(1,
			r.mCreate("~/m/x", nil, 0),
			r.mSet("~/m", b("z"), 7),
			r.mCreate("~/m/y", nil, 0),
			r.mDel("~/m", -1),
		)
		r.exists(1, "~/m/x")
		r.exists(1, "~/m/y")
		r.get(1, "~/m")
		r.quiet(2, "wa", wa, "wb", wb, "wc", wc)
		r.create(1, "~/m/s-", nil, zk.FlagSequence)
		r.wait("wb", wb)
		return r.lines
	}},
	{"multi_failure_first_last", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.multi(1, r.mCheck("~/missing", -1), r.mCreate("~/a", nil, 0))
		r.multi(1, r.mCreate("~/a", nil, 0), r.mSet("~/a", b("v"), 0), r.mDel("~/nope", -1))
		r.multi(1, r.mCreate("~/b", nil, 0), r.mCreate("~/b", nil, 0))
		r.multi(1, r.mCreate("~/c", nil, 0), r.mCreate("~/c/d", nil, 0), r.mDel("~/c", -1))
		r.multi(2, r.mCreate("~/e", nil, zk.FlagEphemeral), r.mCreate("~/e/f", nil, 0))
		r.ls(1, "~")
		r.get(1, "~")
		return r.lines
	}},
	{"multi_check_version", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/c", nil, 0)
		r.set(1, "~/c", b("1"), -1)
		r.set(1, "~/c", b("2"), -1)
		r.multi(1, r.mCheck("~/c", 2))
		r.multi(1, r.mCheck("~/c", -1))
		r.multi(1, r.mCheck("~/c", 1))
		r.multi(1, r.mCheck("~/nope", -1))
		r.multi(1, r.mCheck("~/c", 2), r.mSet("~/c", b("n"), 2))
		r.multi(1, r.mCheck("~/c", 2), r.mSet("~/c", b("m"), 3))
		r.multi(1, r.mCheck("~/c", 3), r.mCreate("~/c/k", nil, 0))
		r.get(1, "~/c")
		r.ls(1, "~/c")
		return r.lines
	}},
	{"multi_dependent_ops", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.multi(1, r.mCreate("~/d", nil, 0), r.mCreate("~/d/k", nil, 0), r.mSet("~/d/k", b("1"), 0), r.mSet("~/d/k", b("2"), 1))
		r.get(1, "~/d")
		r.get(1, "~/d/k")
		r.multi(1, r.mDel("~/d/k", 2), r.mDel("~/d", 0))
		r.exists(1, "~/d")
		r.get(1, "~")
		r.multi(1, r.mCreate("~/e", nil, 0), r.mDel("~/e", -1))
		r.exists(1, "~/e")
		r.get(1, "~")
		r.multi(1, r.mCreate("~/f", nil, 0), r.mCreate("~/f/s-", nil, zk.FlagSequence), r.mCreate("~/f/s-", nil, zk.FlagSequence))
		r.multi(1, r.mDel("~/f/s-0000000000", -1), r.mCreate("~/f/s-", nil, zk.FlagSequence))
		r.ls(1, "~/f")
		r.get(1, "~/f")
		return r.lines
	}},
	{"multi_server_validation", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/m", nil, 0)
		// Multi ops skip go-zookeeper's path check: the server's checks
		// alone apply.
		for _, op := range []any{
			r.mCreate("~/m/", nil, 0),
			r.mCreate("m", nil, 0),
			r.mCreate("", nil, 0),
			r.mCreate("~/m/.", nil, 0),
			r.mCreate("~/m/./x", nil, 0),
			r.mCreate("~/m//x", nil, 0),
			r.mCreate("~/m/\U0001F600", nil, 0),
			r.mCreate("~/m/x\x00", nil, 0),
			&zk.CreateRequest{Path: r.abs("~/m/noacl"), Acl: nil},
			r.mSet("~/m/", nil, -1),
			r.mSet("m", nil, -1),
			r.mSet("~/m/../m", nil, -1),
			r.mCheck("~/m/", -1),
			r.mCheck("", -1),
			r.mDel("~/m/", -1),
			r.mDel("m", -1),
			r.mDel("/", -1),
			r.mDel("~/m/./x", -1),
			r.mCreate("~/m/k", nil, 7),
			r.mCreate("~/m/", nil, zk.FlagSequence),
		} {
			r.multi(1, op)
		}
		r.multi(1, zk.CheckVersionRequest{Path: r.abs("~/m"), Version: -1})
		r.multi(1, r.mCreate("~/m/k", nil, 0), "not an op")
		r.ls(1, "~/m")
		return r.lines
	}},
	{"stat_fields", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/n", b("abc"), 0)
		r.get(1, "~/n")
		r.set(1, "~/n", b("hello"), -1)
		r.get(1, "~/n")
		r.create(1, "~/n/a", nil, 0)
		r.create(1, "~/n/b", nil, 0)
		r.get(1, "~/n")
		r.set(1, "~/n/a", b("x"), -1)
		r.get(1, "~/n")
		r.del(1, "~/n/a", -1)
		r.get(1, "~/n")
		r.create(1, "~/n/e1", nil, zk.FlagEphemeral)
		r.create(2, "~/n/e2", b("12345678"), zk.FlagEphemeral)
		r.exists(1, "~/n/e1")
		r.exists(1, "~/n/e2")
		r.get(2, "~/n/e1")
		r.get(2, "~/n/e2")
		r.ls(2, "~/n")
		r.exists(2, "~/n")
		r.get(1, "~")
		return r.lines
	}},
	{"data_nil_empty", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/a", nil, 0)
		r.get(1, "~/a")
		r.create(1, "~/b", []byte{}, 0)
		r.get(1, "~/b")
		r.set(1, "~/a", b("x"), -1)
		r.set(1, "~/a", nil, -1)
		r.get(1, "~/a")
		r.set(1, "~/b", []byte{}, -1)
		r.get(1, "~/b")
		r.create(1, "~/c", []byte{0, 1, 0xff, '\n'}, 0)
		r.get(1, "~/c")
		r.multi(1, r.mCreate("~/d", nil, 0), r.mCreate("~/e", []byte{}, 0), r.mSet("~/c", nil, -1))
		r.get(1, "~/c")
		r.get(1, "~/d")
		r.get(1, "~/e")
		r.ls(1, "~/a")
		return r.lines
	}},
	{"sessions_distinct", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		id1, id2 := r.c(1).SessionID(), r.c(2).SessionID()
		r.logf("s1 id non-zero %v, s2 id non-zero %v, distinct %v", id1 != 0, id2 != 0, id1 != id2)
		r.create(1, "~/e1", nil, zk.FlagEphemeral)
		r.create(2, "~/e2", nil, zk.FlagEphemeral)
		_, st1, _ := r.c(2).Get(r.abs("~/e1"))
		_, st2, _ := r.c(1).Get(r.abs("~/e2"))
		r.logf("owners are the ids: %v %v", st1.EphemeralOwner == id1, st2.EphemeralOwner == id2)
		return r.lines
	}},
	{"delete_recreate", func(conn func(int) znodes.Conn, root string) []string {
		r := newRec(conn, root)
		r.create(1, "~/r", b("1"), 0)
		r.set(1, "~/r", b("2"), -1)
		r.create(1, "~/r/s-", nil, zk.FlagSequence)
		r.create(1, "~/r/s-", nil, zk.FlagSequence)
		r.del(1, "~/r/s-0000000000", -1)
		r.del(1, "~/r/s-0000000001", -1)
		r.get(1, "~/r")
		g := r.getW(2, "~/r")
		r.del(1, "~/r", -1)
		r.wait("g", g)
		w := r.existsW(2, "~/r")
		c := r.lsW(2, "~")
		r.create(1, "~/r", b("new"), 0)
		r.wait("w", w)
		r.wait("c", c)
		r.get(1, "~/r")
		r.create(1, "~/r/s-", nil, zk.FlagSequence)
		return r.lines
	}},
}
