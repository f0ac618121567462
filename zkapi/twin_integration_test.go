package zkapi_test

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/goleak"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/zkapi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is what a case gets: sessions 0 and 1, a way to close one, and its
// root (existing, empty).
type env struct {
	conn  func(i int) zkapi.Conn
	close func(i int)
	root  string
	rec   *recorder
	real  bool
}

// recorder builds a case's transcript: every observable outcome, with paths
// relative to the root and stats reduced to facts that do not depend on
// absolute zxids or session ids.
type recorder struct {
	root  string
	owner func(int64) string
	lines []string
}

func (r *recorder) add(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func (r *recorder) rel(p string) string { return strings.TrimPrefix(p, r.root) }

func errName(err error) string {
	for _, e := range []error{zk.ErrNoNode, zk.ErrNodeExists, zk.ErrBadVersion, zk.ErrNotEmpty,
		zk.ErrNoChildrenForEphemerals, zk.ErrInvalidPath, zk.ErrBadArguments, zk.ErrClosing, zk.ErrSessionExpired} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func (r *recorder) stat(st *zk.Stat) string {
	if st == nil {
		return "nil"
	}
	return fmt.Sprintf("v=%d cv=%d nc=%d len=%d eph=%s c==m:%v p==c:%v", st.Version, st.Cversion, st.NumChildren,
		st.DataLength, r.owner(st.EphemeralOwner), st.Czxid == st.Mzxid, st.Pzxid == st.Czxid)
}

func (e *env) create(i int, p string, data string, flags int32) string {
	got, err := e.conn(i).Create(p, []byte(data), flags, zk.WorldACL(zk.PermAll))
	e.rec.add("s%d create %s flags=%d -> %q %s", i, e.rec.rel(p), flags, e.rec.rel(got), errName(err))
	return got
}

func (e *env) get(i int, p string) {
	data, st, err := e.conn(i).Get(p)
	if err != nil {
		e.rec.add("s%d get %s -> %s", i, e.rec.rel(p), errName(err))
		return
	}
	e.rec.add("s%d get %s -> %q %s", i, e.rec.rel(p), data, e.rec.stat(st))
}

func (e *env) set(i int, p, data string, version int32) {
	st, err := e.conn(i).Set(p, []byte(data), version)
	if err != nil {
		e.rec.add("s%d set %s v%d -> %s", i, e.rec.rel(p), version, errName(err))
		return
	}
	e.rec.add("s%d set %s v%d -> %s", i, e.rec.rel(p), version, e.rec.stat(st))
}

func (e *env) del(i int, p string, version int32) {
	err := e.conn(i).Delete(p, version)
	e.rec.add("s%d delete %s v%d -> %s", i, e.rec.rel(p), version, errName(err))
}

func (e *env) children(i int, p string) {
	names, st, err := e.conn(i).Children(p)
	if err != nil {
		e.rec.add("s%d children %s -> %s", i, e.rec.rel(p), errName(err))
		return
	}
	slices.Sort(names)
	e.rec.add("s%d children %s -> %v %s", i, e.rec.rel(p), names, e.rec.stat(st))
}

func (e *env) exists(i int, p string) {
	ok, st, err := e.conn(i).Exists(p)
	e.rec.add("s%d exists %s -> %v %s %s", i, e.rec.rel(p), ok, e.rec.stat(st), errName(err))
}

// event records the next event on ch (waiting up to 5 s), or "none" after
// a short wait when none is expected.
func (e *env) event(what string, ch <-chan zk.Event, expect bool) {
	wait := 5 * time.Second
	if !expect {
		wait = 300 * time.Millisecond
		if !e.real {
			wait = time.Millisecond
		}
	}
	select {
	case ev, ok := <-ch:
		if !ok {
			e.rec.add("%s: channel closed", what)
			return
		}
		e.rec.add("%s: %v %s err=%s", what, ev.Type, e.rec.rel(ev.Path), errName(ev.Err))
	case <-time.After(wait):
		e.rec.add("%s: none", what)
	}
}

type twinCase struct {
	name string
	run  func(e *env)
}

var twinCases = []twinCase{
	{"versions", func(e *env) {
		a := path.Join(e.root, "a")
		e.create(0, a, "one", 0)
		e.get(0, a)
		e.set(0, a, "two", 0)
		e.set(0, a, "three", 0) // stale version
		e.set(0, a, "three", -1)
		e.get(1, a)
		e.del(0, a, 0) // stale
		e.del(0, a, 2)
		e.get(0, a)
		e.del(0, a, -1)
		e.set(0, a, "x", -1)
	}},
	{"create errors", func(e *env) {
		e.create(0, path.Join(e.root, "missing", "child"), "", 0)
		b := path.Join(e.root, "b")
		e.create(0, b, "", 0)
		e.create(1, b, "again", 0)
		e.create(0, path.Join(b, "c"), "", 0)
		e.del(0, b, -1) // not empty
		e.children(0, b)
		e.exists(1, path.Join(b, "c"))
		e.exists(1, path.Join(b, "nope"))
		e.children(0, path.Join(b, "nope"))
	}},
	{"invalid paths", func(e *env) {
		for _, p := range []string{"", "relative", e.root + "/", e.root + "//x", e.root + "/./x", e.root + "/../x", e.root + "/x\u0001"} {
			e.create(0, p, "", 0)
			e.get(0, p)
		}
	}},
	{"sequential", func(e *env) {
		q := path.Join(e.root, "q")
		e.create(0, q, "", 0)
		first := e.create(0, path.Join(q, "n-"), "", zk.FlagSequence)
		e.create(0, path.Join(q, "plain"), "", 0)
		e.create(1, path.Join(q, "n-"), "", zk.FlagSequence)
		e.del(0, first, -1)
		e.create(0, path.Join(q, "n-"), "", zk.FlagSequence)
		e.create(0, q+"/", "", zk.FlagSequence) // the name is the number alone
		e.children(1, q)
	}},
	{"ephemerals", func(e *env) {
		g := path.Join(e.root, "g")
		e.create(0, g, "", 0)
		eph := e.create(0, path.Join(g, "m"), "member", zk.FlagEphemeral)
		e.create(0, path.Join(eph, "child"), "", 0) // no children for ephemerals
		seq := e.create(0, path.Join(g, "s-"), "", zk.FlagEphemeral|zk.FlagSequence)
		e.get(0, eph)
		e.get(1, eph)
		_, _, dw, err := e.conn(1).GetW(eph)
		e.rec.add("s1 getw -> %s", errName(err))
		_, _, cw, err := e.conn(1).ChildrenW(g)
		e.rec.add("s1 childrenw -> %s", errName(err))
		_, _, xw, err := e.conn(1).ExistsW(seq)
		e.rec.add("s1 existsw -> %s", errName(err))
		e.close(0)
		e.event("data watch on the ephemeral", dw, true)
		e.event("child watch on the parent", cw, true)
		e.event("exists watch on the sequential ephemeral", xw, true)
		e.children(1, g)
	}},
	{"watches", func(e *env) {
		w := path.Join(e.root, "w")
		_, _, ew, err := e.conn(1).ExistsW(w)
		e.rec.add("s1 existsw missing -> %s", errName(err))
		_, _, _, err = e.conn(1).GetW(w)
		e.rec.add("s1 getw missing -> %s", errName(err))
		e.create(0, w, "", 0)
		e.event("exists watch", ew, true)
		_, _, dw, _ := e.conn(1).GetW(w)
		_, _, cw, _ := e.conn(1).ChildrenW(w)
		e.set(0, w, "1", -1)
		e.event("data watch after set", dw, true)
		e.event("child watch after set", cw, false)
		e.set(0, w, "2", -1) // the data watch was one-shot
		e.event("data watch after a second set", dw, true)
		e.create(0, path.Join(w, "k"), "", 0)
		e.event("child watch after create", cw, true)
		_, _, cw2, _ := e.conn(1).ChildrenW(w)
		_, _, dw2, _ := e.conn(1).GetW(w)
		_, _, own, _ := e.conn(0).GetW(w) // the writer's own watch fires too
		e.del(0, path.Join(w, "k"), -1)
		e.event("child watch after child delete", cw2, true)
		e.event("data watch after child delete", dw2, false)
		_, _, cw3, _ := e.conn(1).ChildrenW(w)
		e.del(0, w, -1)
		e.event("data watch after delete", dw2, true)
		e.event("child watch after delete of the node", cw3, true)
		e.event("writer's own data watch", own, true)
	}},
	{"multi", func(e *env) {
		m := path.Join(e.root, "m")
		e.create(0, m, "", 0)
		_, _, cw, _ := e.conn(1).ChildrenW(m)
		resp, err := e.conn(0).Multi(
			&zk.CreateRequest{Path: path.Join(m, "x"), Data: []byte("x"), Acl: zk.WorldACL(zk.PermAll)},
			&zk.CreateRequest{Path: path.Join(m, "s-"), Data: nil, Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagSequence},
			&zk.SetDataRequest{Path: m, Data: []byte("top"), Version: 0},
			&zk.CheckVersionRequest{Path: path.Join(m, "x"), Version: 0},
		)
		e.rec.add("multi ok -> %s", errName(err))
		for i, r := range resp {
			var v any = "-"
			if r.Stat != nil {
				v = r.Stat.Version
			}
			e.rec.add("  op %d: %q version %v %s", i, e.rec.rel(r.String), v, errName(r.Error))
		}
		_, xs, _ := e.conn(0).Get(path.Join(m, "x"))
		_, ms, _ := e.conn(0).Get(m)
		e.rec.add("one zxid: %v", xs.Czxid == ms.Mzxid && ms.Pzxid == xs.Czxid)
		e.event("child watch after multi", cw, true)
		_, _, cw2, _ := e.conn(1).ChildrenW(m)
		_, _, dw, _ := e.conn(1).GetW(m)
		resp, err = e.conn(0).Multi(
			&zk.CreateRequest{Path: path.Join(m, "y"), Acl: zk.WorldACL(zk.PermAll)},
			&zk.SetDataRequest{Path: m, Data: []byte("stale"), Version: 0}, // the version is 1
			&zk.DeleteRequest{Path: path.Join(m, "x"), Version: -1},
		)
		e.rec.add("multi failing -> %s", errName(err))
		for i, r := range resp {
			e.rec.add("  op %d: %q %s", i, e.rec.rel(r.String), errName(r.Error))
		}
		e.exists(0, path.Join(m, "y"))
		e.get(0, m)
		e.event("child watch after the failed multi", cw2, false)
		e.event("data watch after the failed multi", dw, false)
		_, err = e.conn(0).Multi(&zk.CheckVersionRequest{Path: path.Join(m, "nope"), Version: -1})
		e.rec.add("check missing -> %s", errName(err))
		e.children(0, m)
	}},
}

// TestIntegration_Twin runs every case against the real ZooKeeper and
// against Mem and requires equal transcripts.
func TestIntegration_Twin(t *testing.T) {
	for _, c := range twinCases {
		t.Run(c.name, func(t *testing.T) {
			root := testenv.ZKRoot(t)
			realT := runReal(t, root, c)
			memT := runMem(root, c)
			if !slices.Equal(realT, memT) {
				t.Errorf("transcripts differ (real | mem):\n%s", diff(realT, memT))
			} else {
				t.Logf("%d lines equal", len(realT))
			}
		})
	}
}

func runReal(t *testing.T, root string, c twinCase) []string {
	conns := []*zk.Conn{testenv.ZKConn(t, 10*time.Second), testenv.ZKConn(t, 10*time.Second)}
	for _, p := range []string{testenv.ZKTestRoot, root} {
		if _, err := conns[0].Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatal(err)
		}
	}
	r := &recorder{root: root, owner: ownerOf(conns[0].SessionID(), conns[1].SessionID())}
	e := &env{conn: func(i int) zkapi.Conn { return conns[i] }, close: func(i int) { conns[i].Close() }, root: root, rec: r, real: true}
	c.run(e)
	return r.lines
}

func runMem(root string, c twinCase) []string {
	m := zkapi.NewMem()
	conns := []*zkapi.MemConn{m.Session(), m.Session()}
	for _, p := range []string{testenv.ZKTestRoot, root} {
		if _, err := conns[0].Create(p, nil, 0, nil); err != nil {
			panic(err)
		}
	}
	r := &recorder{root: root, owner: ownerOf(conns[0].SessionID(), conns[1].SessionID())}
	e := &env{conn: func(i int) zkapi.Conn { return conns[i] }, close: func(i int) { conns[i].Close() }, root: root, rec: r}
	c.run(e)
	for _, c := range conns {
		c.Close()
	}
	return r.lines
}

// ownerOf names an EphemeralOwner: none, s0, s1 or other.
func ownerOf(s0, s1 int64) func(int64) string {
	return func(id int64) string {
		switch id {
		case 0:
			return "none"
		case s0:
			return "s0"
		case s1:
			return "s1"
		}
		return "other"
	}
}

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
		if x != y {
			mark = "!!"
		}
		fmt.Fprintf(&sb, "%s %-70s | %s\n", mark, x, y)
	}
	return sb.String()
}
