package znodes_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/stock-system/stocksys/znodes"
)

func mustCreate(t *testing.T, c znodes.Conn, p string, flags int32) string {
	t.Helper()
	got, err := c.Create(p, nil, flags, acl)
	if err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
	return got
}

// event returns the one event a watch channel holds, and checks that the
// channel is then closed (Mem delivers before the triggering call returns).
func event(t *testing.T, what string, ch <-chan zk.Event) zk.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed without an event", what)
		}
		if _, ok := <-ch; ok {
			t.Fatalf("%s: a second event", what)
		}
		return ev
	default:
		t.Fatalf("%s: no event", what)
	}
	return zk.Event{}
}

func noEvent(t *testing.T, what string, ch <-chan zk.Event) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		t.Fatalf("%s: unexpected event %+v (open %v)", what, ev, ok)
	default:
	}
}

// checkEnded checks that every call of an ended session fails with want.
func checkEnded(t *testing.T, c znodes.Conn, want error) {
	t.Helper()
	p := "/x"
	errs := map[string]error{}
	_, _, errs["Get"] = c.Get(p)
	_, _, _, errs["GetW"] = c.GetW(p)
	_, _, errs["Children"] = c.Children(p)
	_, _, _, errs["ChildrenW"] = c.ChildrenW(p)
	_, _, errs["Exists"] = c.Exists(p)
	_, _, _, errs["ExistsW"] = c.ExistsW(p)
	_, errs["Create"] = c.Create(p, nil, 0, acl)
	_, errs["Set"] = c.Set(p, nil, -1)
	errs["Delete"] = c.Delete(p, -1)
	_, errs["Multi"] = c.Multi(&zk.CheckVersionRequest{Path: p, Version: -1})
	for call, err := range errs {
		if err != want {
			t.Errorf("%s after the session ended: %v; want %v", call, err, want)
		}
	}
}

// TestExpire: an expired session's ephemerals vanish (other sessions'
// watches fire, in one transaction), every watch of its own ends with
// EventNotWatching and zk.ErrSessionExpired (it hears none of the
// deletions), and every later call fails with zk.ErrSessionExpired.
func TestExpire(t *testing.T) {
	m := znodes.NewMem()
	a, b := m.Session(), m.Session()
	mustCreate(t, a, "/p", 0)
	before := mustCreate(t, a, "/p/before", 0)
	mustCreate(t, b, "/p/e1", zk.FlagEphemeral)
	e2 := mustCreate(t, b, "/p/e-", zk.FlagEphemeralSequential)
	_, _, aData, _ := a.GetW("/p/e1")
	_, _, aExists, _ := a.ExistsW(e2)
	_, _, aChildren, _ := a.ChildrenW("/p")
	_, _, aElsewhere, _ := a.GetW(before)
	_, _, bOwn, _ := b.GetW("/p/e1")
	_, _, bChildren, _ := b.ChildrenW("/p")
	_, _, bMissing, _ := b.ExistsW("/nothing")
	id := b.SessionID()
	_, lastBefore, _ := a.Exists(e2)

	b.Expire()

	for what, ch := range map[string]<-chan zk.Event{"data watch": aData, "exists watch": aExists} {
		if ev := event(t, what, ch); ev.Type != zk.EventNodeDeleted || ev.State != zk.StateSyncConnected || ev.Err != nil {
			t.Errorf("%s: %+v; want NodeDeleted", what, ev)
		}
	}
	if ev := event(t, "child watch", aChildren); ev.Type != zk.EventNodeChildrenChanged || ev.Path != "/p" {
		t.Errorf("child watch: %+v; want NodeChildrenChanged /p", ev)
	}
	for what, ch := range map[string]<-chan zk.Event{"own data": bOwn, "own children": bChildren, "own exists": bMissing} {
		ev := event(t, what, ch)
		if ev.Type != zk.EventNotWatching || ev.State != zk.StateDisconnected || ev.Err != zk.ErrSessionExpired {
			t.Errorf("%s: %+v; want EventNotWatching, StateDisconnected, ErrSessionExpired", what, ev)
		}
	}
	noEvent(t, "watch on a persistent znode", aElsewhere)
	names, st, err := a.Children("/p")
	if err != nil || !slices.Equal(names, []string{"before"}) || st.NumChildren != 1 || st.Cversion != 5 {
		t.Errorf("children of /p after expiry = %q %+v %v; want [before], cversion 5", names, st, err)
	}
	// Both deletions are one transaction: the parent's pzxid is the one
	// zxid between the last create before and the create after.
	after := mustCreate(t, a, "/after", 0)
	_, stAfter, _ := a.Get(after)
	if st.Pzxid != lastBefore.Czxid+1 || stAfter.Czxid != st.Pzxid+1 {
		t.Errorf("zxids: create %d, expiry %d, create %d; want consecutive", lastBefore.Czxid, st.Pzxid, stAfter.Czxid)
	}
	checkEnded(t, b, zk.ErrSessionExpired)
	b.Close()
	b.Expire()
	checkEnded(t, b, zk.ErrSessionExpired)
	if b.SessionID() != id {
		t.Errorf("session id after expiry %d; want %d", b.SessionID(), id)
	}
	if _, _, err := b.Get("bad"); err != zk.ErrInvalidPath {
		t.Errorf("Get(bad) after expiry: %v; want the client-side ErrInvalidPath first", err)
	}
}

// TestCallsAfterClose: Close deletes the session's ephemerals, its own
// watches on them fire, the rest end with EventNotWatching and
// zk.ErrClosing, every later call fails with zk.ErrConnectionClosed, and
// Close is idempotent.
func TestCallsAfterClose(t *testing.T) {
	m := znodes.NewMem()
	a, b := m.Session(), m.Session()
	mustCreate(t, b, "/e", zk.FlagEphemeral)
	mustCreate(t, a, "/p", 0)
	_, _, own, _ := b.GetW("/e")
	_, _, other, _ := b.GetW("/p")
	_, _, theirs, _ := a.ExistsW("/e")
	b.Close()
	if ev := event(t, "own watch on own ephemeral", own); ev.Type != zk.EventNodeDeleted {
		t.Errorf("own watch: %+v; want NodeDeleted", ev)
	}
	if ev := event(t, "own watch elsewhere", other); ev.Type != zk.EventNotWatching || ev.Err != zk.ErrClosing || ev.Path != "/p" {
		t.Errorf("own watch elsewhere: %+v; want NotWatching /p ErrClosing", ev)
	}
	if ev := event(t, "other session's watch", theirs); ev.Type != zk.EventNodeDeleted {
		t.Errorf("other session's watch: %+v; want NodeDeleted", ev)
	}
	checkEnded(t, b, zk.ErrConnectionClosed)
	b.Close()
	b.Expire()
	checkEnded(t, b, zk.ErrConnectionClosed)
	if ok, _, _ := a.Exists("/e"); ok {
		t.Error("ephemeral survived Close")
	}
	// A session with nothing still ends cleanly.
	c := m.Session()
	c.Close()
	checkEnded(t, c, zk.ErrConnectionClosed)
}

// TestConcurrentSequential: many goroutines on many sessions creating
// sequential znodes under one parent get distinct, contiguous numbers,
// while others read, watch, write and close sessions (run with -race).
func TestConcurrentSequential(t *testing.T) {
	const writers, each = 8, 150
	m := znodes.NewMem()
	admin := m.Session()
	mustCreate(t, admin, "/q", 0)
	mustCreate(t, admin, "/busy", 0)
	names := make(chan string, writers*each)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < writers; w++ {
		s := m.Session()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				flags := int32(zk.FlagSequence)
				if i%2 == 0 {
					flags = zk.FlagEphemeralSequential
				}
				p, err := s.Create("/q/n-", nil, flags, acl)
				if err != nil {
					t.Errorf("create: %v", err)
					return
				}
				names <- strings.TrimPrefix(p, "/q/")
			}
		}()
	}
	var bg sync.WaitGroup
	for r := 0; r < 3; r++ {
		s := m.Session()
		bg.Add(1)
		go func() {
			defer bg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, _, err := s.ChildrenW("/q"); err != nil {
					t.Errorf("childrenW: %v", err)
					return
				}
				if _, err := s.Set("/busy", []byte(fmt.Sprint(i)), -1); err != nil {
					t.Errorf("set: %v", err)
					return
				}
				if _, _, _, err := s.GetW("/busy"); err != nil {
					t.Errorf("getW: %v", err)
					return
				}
				// A short-lived session with an ephemeral of its own.
				tmp := m.Session()
				if _, err := tmp.Create(fmt.Sprintf("/busy/t%d-", r), nil, zk.FlagEphemeralSequential, acl); err != nil {
					t.Errorf("create tmp: %v", err)
				}
				tmp.Close()
			}
		}()
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	close(names)
	var got []string
	for n := range names {
		got = append(got, n)
	}
	slices.Sort(got)
	if len(got) != writers*each {
		t.Fatalf("%d names; want %d", len(got), writers*each)
	}
	for i, n := range got {
		if want := fmt.Sprintf("n-%010d", i); n != want {
			t.Fatalf("name %d = %s; want %s (distinct and contiguous)", i, n, want)
		}
	}
	_, st, err := admin.Get("/q")
	if err != nil || st.NumChildren != writers*each || st.Cversion != writers*each {
		t.Fatalf("/q stat %+v, %v; want %d children, cversion %d", st, err, writers*each, writers*each)
	}
}

// TestWatchesNeverBlock: unread watch channels never block writers; each
// holds exactly one event.
func TestWatchesNeverBlock(t *testing.T) {
	m := znodes.NewMem()
	a, b := m.Session(), m.Session()
	mustCreate(t, a, "/w", 0)
	var chans []<-chan zk.Event
	for i := 0; i < 5; i++ {
		_, _, ch, _ := b.GetW("/w")
		chans = append(chans, ch)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			if _, err := a.Set("/w", nil, -1); err != nil {
				t.Errorf("set: %v", err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("writes blocked on unread watch channels")
	}
	for i, ch := range chans {
		if ev := event(t, fmt.Sprint("watch ", i), ch); ev.Type != zk.EventNodeDataChanged {
			t.Errorf("watch %d: %+v", i, ev)
		}
	}
}

// TestCopies: callers' slices are neither kept nor handed out.
func TestCopies(t *testing.T) {
	m := znodes.NewMem()
	c := m.Session()
	in := []byte("abc")
	mustCreate(t, c, "/d", 0)
	if _, err := c.Set("/d", in, -1); err != nil {
		t.Fatal(err)
	}
	in[0] = 'X'
	out, st, _ := c.Get("/d")
	out[1] = 'Y'
	st.Version = 99
	got, st2, _ := c.Get("/d")
	if string(got) != "abc" || st2.Version != 1 {
		t.Fatalf("Get = %q version %d; want abc, 1", got, st2.Version)
	}
	names, _, _ := c.Children("/")
	names[0] = "zzz"
	if names2, _, _ := c.Children("/"); !slices.Equal(names2, []string{"d"}) {
		t.Fatalf("Children = %q", names2)
	}
}

// TestSessionIDs: unique and non-zero.
func TestSessionIDs(t *testing.T) {
	m := znodes.NewMem()
	seen := map[int64]bool{}
	for i := 0; i < 100; i++ {
		id := m.Session().SessionID()
		if id == 0 || seen[id] {
			t.Fatalf("session id %d (seen %v)", id, seen[id])
		}
		seen[id] = true
	}
}

// TestZxidPerTransaction: one zxid per write transaction; a Multi is one,
// and writes the server refuses consume one as the server's error
// transactions do; reads and client-side refusals consume none.
func TestZxidPerTransaction(t *testing.T) {
	m := znodes.NewMem()
	c := m.Session()
	czxid := func(p string) int64 {
		t.Helper()
		_, st, err := c.Get(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Czxid
	}
	mustCreate(t, c, "/a", 0)
	base := czxid("/a")
	if _, err := c.Multi(
		&zk.CreateRequest{Path: "/b", Acl: acl},
		&zk.CreateRequest{Path: "/b/c", Acl: acl},
		&zk.SetDataRequest{Path: "/a", Version: -1},
	); err != nil {
		t.Fatal(err)
	}
	if czxid("/b") != base+1 || czxid("/b/c") != base+1 {
		t.Fatalf("multi zxids %d, %d; want %d for both", czxid("/b"), czxid("/b/c"), base+1)
	}
	if _, err := c.Create("/a", nil, 0, acl); !errors.Is(err, zk.ErrNodeExists) {
		t.Fatal(err)
	}
	if _, err := c.Multi(&zk.CheckVersionRequest{Path: "/a", Version: 5}); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatal(err)
	}
	if _, err := c.Create("bad", nil, 0, acl); !errors.Is(err, zk.ErrInvalidPath) {
		t.Fatal(err)
	}
	c.Exists("/a")
	mustCreate(t, c, "/d", 0)
	if got := czxid("/d"); got != base+4 {
		t.Fatalf("zxid after two refused writes = %d; want %d", got, base+4)
	}
}

// TestUnmodelledFlags: container and TTL znodes are refused with an error
// wrapping zk.ErrInvalidFlags, and a Multi carrying one applies nothing.
func TestUnmodelledFlags(t *testing.T) {
	m := znodes.NewMem()
	c := m.Session()
	if _, err := c.Create("/c", nil, zk.FlagContainer, acl); !errors.Is(err, zk.ErrInvalidFlags) {
		t.Errorf("container create: %v; want ErrInvalidFlags", err)
	}
	for _, f := range []int32{zk.FlagContainer, zk.FlagTTL, zk.FlagPersistentSequentialWithTTL} {
		res, err := c.Multi(&zk.CreateRequest{Path: "/ok", Acl: acl}, &zk.CreateRequest{Path: "/c", Acl: acl, Flags: f})
		if !errors.Is(err, zk.ErrInvalidFlags) || res != nil {
			t.Errorf("multi with flags %d: %v, %v; want ErrInvalidFlags", f, res, err)
		}
	}
	if ok, _, _ := c.Exists("/ok"); ok {
		t.Error("a refused Multi applied an op")
	}
}
