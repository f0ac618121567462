package zkapi_test

import (
	"errors"
	"path"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/zkapi"
)

// watchedCases: after a view read through a Watched (Get of a, Children of
// the root, Exists of a missing b), the change leaves it current or not,
// and Current is read after an event the change's session delivered later
// (here: an own write's reply, which the server sends after the earlier
// change's watch event), as master.Standby reads it after the
// predecessor's deletion.
var watchedCases = []struct {
	name    string
	change  func(c zkapi.Conn, root string) error
	current bool
}{
	{"nothing", func(zkapi.Conn, string) error { return nil }, true},
	{"an unread znode's data", func(c zkapi.Conn, root string) error {
		_, err := c.Set(path.Join(root, "a", "x"), []byte("2"), -1)
		return err
	}, true},
	{"a read znode's data", func(c zkapi.Conn, root string) error {
		_, err := c.Set(path.Join(root, "a"), []byte("2"), -1)
		return err
	}, false},
	{"a child of a listed znode", func(c zkapi.Conn, root string) error {
		_, err := c.Create(path.Join(root, "c"), nil, 0, zk.WorldACL(zk.PermAll))
		return err
	}, false},
	{"a missing znode read with Exists, created", func(c zkapi.Conn, root string) error {
		_, err := c.Create(path.Join(root, "a", "b"), nil, 0, zk.WorldACL(zk.PermAll))
		return err
	}, false},
}

func runWatched(t *testing.T, conns [2]zkapi.Conn, root string) {
	for _, tc := range watchedCases {
		t.Run(tc.name, func(t *testing.T) {
			base := path.Join(root, "w"+time.Now().Format("150405.000000000"))
			for _, p := range []string{base, path.Join(base, "a"), path.Join(base, "a", "x")} {
				if _, err := conns[1].Create(p, []byte("1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
					t.Fatal(err)
				}
			}
			w := zkapi.NewWatched(conns[0])
			defer w.Close()
			w.Reset()
			if _, _, err := w.Get(path.Join(base, "a")); err != nil {
				t.Fatal(err)
			}
			if _, _, err := w.Children(base); err != nil {
				t.Fatal(err)
			}
			if ok, _, err := w.Exists(path.Join(base, "a", "b")); err != nil || ok {
				t.Fatalf("Exists of a missing znode: %v, %v", ok, err)
			}
			if !w.Current() {
				t.Fatal("not current right after the reads")
			}
			if err := tc.change(conns[1], base); err != nil {
				t.Fatal(err)
			}
			// An event after the change on the watcher's own session: the
			// reply to its own write.
			if _, err := conns[0].Create(path.Join(base, "a", "x", "mark"), nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				t.Fatal(err)
			}
			if got := w.Current(); got != tc.current {
				t.Fatalf("Current after %s = %v, want %v", tc.name, got, tc.current)
			}
			if !tc.current {
				select {
				case <-w.Changed():
				case <-time.After(5 * time.Second):
					t.Fatal("Changed not signalled within 5 s")
				}
				w.Reset()
				if !w.Current() {
					t.Error("not current after Reset (the fired watch is gone)")
				}
			}
			w.Close()
			w.Close() // idempotent
		})
	}
}

func TestWatchedMem(t *testing.T) {
	conns, root := memPair(t)
	runWatched(t, conns, root)
}

// The same cases on the real ZooKeeper.
func TestIntegration_Watched(t *testing.T) {
	conns, root := realPair(t)
	runWatched(t, conns, root)
}

// memPair returns two sessions of a new Mem and an existing root, /t, for
// a table of cases; they are closed at the end of the test.
func memPair(t *testing.T) ([2]zkapi.Conn, string) {
	t.Helper()
	m := zkapi.NewMem()
	a, b := m.Session(), m.Session()
	t.Cleanup(func() { a.Close(); b.Close() })
	if _, err := a.Create("/t", nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	return [2]zkapi.Conn{a, b}, "/t"
}

// realPair is memPair on the real ZooKeeper: two sessions and a new root
// of the test's own.
func realPair(t *testing.T) ([2]zkapi.Conn, string) {
	t.Helper()
	root := testenv.ZKRoot(t)
	a, b := testenv.ZKConn(t, 10*time.Second), testenv.ZKConn(t, 10*time.Second)
	for _, p := range []string{testenv.ZKTestRoot, root} {
		if _, err := a.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatal(err)
		}
	}
	return [2]zkapi.Conn{a, b}, root
}
