package zkapi_test

import (
	"errors"
	"path"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/stock-system/stocksys/zkapi"
)

// runCache checks a Cache shared by three handles on session 0 while
// session 1 changes what they read: hits and misses counted, every
// change seen by the next read after a later event of session 0 (here its
// own write's reply), the session's own writes read at once, only the
// handles that read a changed znode told, results that are the caller's own
// copies. The same cases run on Mem and on the real ZooKeeper.
func runCache(t *testing.T, conns [2]zkapi.Conn, root string) {
	acl := zk.WorldACL(zk.PermAll)
	base := path.Join(root, "c"+time.Now().Format("150405.000000000"))
	a, x, b := path.Join(base, "a"), path.Join(base, "x"), path.Join(base, "b")
	for _, p := range []string{base, a, x} {
		if _, err := conns[1].Create(p, []byte("1"), 0, acl); err != nil {
			t.Fatal(err)
		}
	}
	mark := func() { // an event of session 0 after session 1's change
		t.Helper()
		if _, err := conns[0].Create(path.Join(x, "m"), nil, zk.FlagSequence, acl); err != nil {
			t.Fatal(err)
		}
	}
	get := func(w *zkapi.Watched, p string) string {
		t.Helper()
		data, _, err := w.Get(p)
		if err != nil {
			t.Fatalf("Get %s: %v", p, err)
		}
		return string(data)
	}
	children := func(w *zkapi.Watched, p string) []string {
		t.Helper()
		names, _, err := w.Children(p)
		if err != nil {
			t.Fatalf("Children %s: %v", p, err)
		}
		slices.Sort(names)
		return names
	}
	wantStats := func(what string, hits, misses int64, c *zkapi.Cache) {
		t.Helper()
		if got := c.Stats(); got.Hits != hits || got.Misses != misses {
			t.Fatalf("%s: stats %+v; want %d hits, %d misses", what, got, hits, misses)
		}
	}
	changed := func(w *zkapi.Watched, who string) {
		t.Helper()
		select {
		case <-w.Changed():
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Changed not signalled within 5 s", who)
		}
	}

	c := zkapi.NewCache(conns[0])
	defer c.Close()
	w1, w2, w3 := c.Watched(), c.Watched(), c.Watched()
	defer w1.Close()
	defer w2.Close()
	defer w3.Close()

	if got := get(w1, a); got != "1" {
		t.Fatalf("first Get = %q; want 1", got)
	}
	wantStats("first Get", 0, 1, c)
	if got := get(w1, a); got != "1" {
		t.Fatalf("second Get = %q; want 1", got)
	}
	if got := get(w2, a); got != "1" {
		t.Fatalf("another handle's Get = %q; want 1", got)
	}
	wantStats("two more Gets", 2, 1, c)
	if got := children(w2, base); !slices.Equal(got, []string{"a", "x"}) {
		t.Fatalf("Children = %v; want [a x]", got)
	}
	if got := children(w1, base); !slices.Equal(got, []string{"a", "x"}) {
		t.Fatalf("Children again = %v; want [a x]", got)
	}
	if got := get(w3, x); got != "1" {
		t.Fatalf("Get x = %q", got)
	}
	wantStats("children and x", 3, 3, c)
	if !w1.Watching(a, false) || !w1.Watching(base, true) || w3.Watching(a, false) {
		t.Fatal("Watching does not follow what each handle read")
	}

	// A copy each: changing a result does not change the next one.
	names, _, _ := w1.Children(base)
	names[0] = "zzz"
	data, _, _ := w1.Get(a)
	data[0] = 'z'
	if got := children(w2, base); !slices.Equal(got, []string{"a", "x"}) {
		t.Fatalf("Children after the caller changed its result = %v", got)
	}
	if got := get(w2, a); got != "1" {
		t.Fatalf("Get after the caller changed its result = %q", got)
	}
	hits := int64(7)
	wantStats("copies", hits, 3, c)

	// Another session changes a: both handles that read it are told; the
	// one that did not stays current; the next read is a miss with the new
	// data.
	w1.Reset()
	w2.Reset()
	w3.Reset()
	if _, err := conns[1].Set(a, []byte("2"), -1); err != nil {
		t.Fatal(err)
	}
	mark()
	if w1.Current() || w2.Current() {
		t.Fatal("a handle that read a is current after a's change")
	}
	if !w3.Current() {
		t.Fatal("the handle that read only x is not current after a's change")
	}
	if got := get(w1, a); got != "2" {
		t.Fatalf("Get after the change = %q; want 2", got)
	}
	changed(w1, "w1")
	changed(w2, "w2")
	if got := get(w2, a); got != "2" {
		t.Fatalf("the other handle's Get after the change = %q; want 2", got)
	}
	wantStats("after a's change", hits+1, 4, c)

	// The session's own write is read at once, whether or not the watch's
	// goroutine has run.
	for i := range 20 {
		v := string(rune('A' + i))
		if _, err := conns[0].Set(a, []byte(v), -1); err != nil {
			t.Fatal(err)
		}
		if got := get(w1, a); got != v {
			t.Fatalf("Get right after the session's own Set(%q) = %q", v, got)
		}
	}

	// A child created by another session: the listing's next read has it
	// (the mark's own child m... appears under x, not base).
	if _, err := conns[1].Create(path.Join(base, "c"), nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	mark()
	if got := children(w2, base); !slices.Equal(got, []string{"a", "c", "x"}) {
		t.Fatalf("Children after a child's creation = %v; want [a c x]", got)
	}

	// A missing znode read with Exists is cached as missing until created.
	before := c.Stats()
	for range 2 {
		if ok, _, err := w3.Exists(b); err != nil || ok {
			t.Fatalf("Exists of a missing znode = %v, %v", ok, err)
		}
	}
	if got := c.Stats(); got.Misses != before.Misses+1 || got.Hits != before.Hits+1 {
		t.Fatalf("two Exists of a missing znode: stats %+v after %+v; want one miss and one hit", got, before)
	}
	if _, err := conns[1].Create(b, []byte("b"), 0, acl); err != nil {
		t.Fatal(err)
	}
	mark()
	if ok, st, err := w3.Exists(b); err != nil || !ok || st.DataLength != 1 {
		t.Fatalf("Exists after the creation = %v, %+v, %v; want true, 1 byte", ok, st, err)
	}
	// An Exists entry holds no data: Get reads it from the server.
	if got := get(w3, b); got != "b" {
		t.Fatalf("Get after Exists = %q; want b", got)
	}
	// Get of a missing znode: ErrNoNode, its absence cached (one miss,
	// then a hit) until it is created.
	none := path.Join(base, "none")
	before = c.Stats()
	for range 2 {
		if _, _, err := w1.Get(none); !errors.Is(err, zk.ErrNoNode) {
			t.Fatalf("Get of a missing znode: %v; want ErrNoNode", err)
		}
	}
	if got := c.Stats(); got.Misses != before.Misses+1 || got.Hits != before.Hits+1 {
		t.Fatalf("two Gets of a missing znode: stats %+v after %+v; want one miss and one hit", got, before)
	}
	if _, err := conns[1].Create(none, []byte("n"), 0, acl); err != nil {
		t.Fatal(err)
	}
	mark()
	if got := get(w1, none); got != "n" {
		t.Fatalf("Get after the missing znode was created = %q; want n", got)
	}

	// Closing a handle unsubscribes it: the cache's entries stay for the
	// others; closing the cache ends its goroutines (TestMain's goleak).
	w1.Close()
	w1.Close()
	if got := get(w2, a); got != "T" {
		t.Fatalf("Get after another handle closed = %q; want T (the last own Set)", got)
	}
	if c.Len() == 0 {
		t.Fatal("the cache lost its entries when one handle closed")
	}
	c.Close()
	if got := get(w2, a); got != "T" || c.Len() != 0 {
		t.Fatalf("Get after the cache closed = %q with %d entries; want T from the server, none cached", got, c.Len())
	}
}

func TestCacheMem(t *testing.T) {
	conns, root := memPair(t)
	runCache(t, conns, root)
}

// The same cases on the real ZooKeeper.
func TestIntegration_Cache(t *testing.T) {
	conns, root := realPair(t)
	runCache(t, conns, root)
}
