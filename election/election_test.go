package election

import (
	"context"
	"errors"
	"path"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/session/sessiontest"
)

// 1. Five candidates: one master, epochs rise by one per change, only the
// successor of a departed candidate is woken.
func TestIntegration_FiveCandidates(t *testing.T) {
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t)
	admin := testenv.ZKConn(t, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var sess [5]*session.Session
	var cand [5]*Candidate
	var res [5]<-chan campaignResult
	for i := range 5 {
		sess[i] = newSession(t, servers, 4*time.Second)
		cand[i] = newCandidate(t, sess[i], root, "node-"+strconv.Itoa(i))
		res[i] = campaignAsync(t, ctx, cand[i])
	}
	first := waitTerm(t, res[0], 10*time.Second)
	if first.term.Epoch != 1 {
		t.Fatalf("first epoch %d, want 1", first.term.Epoch)
	}
	// Give the others time to settle on their watches, then check that
	// exactly one is master.
	time.Sleep(300 * time.Millisecond)
	for i := 1; i < 5; i++ {
		select {
		case r := <-res[i]:
			t.Fatalf("node-%d also returned from Campaign: %+v", i, r)
		default:
		}
	}
	m := mustMaster(t, admin, root)
	if m.ID != "node-0" || m.Epoch != 1 || int64(m.Session) != sess[0].ID() {
		t.Fatalf("master %+v, want node-0 epoch 1 session 0x%x", m, sess[0].ID())
	}
	wake := func() [5]int64 {
		var w [5]int64
		for i := range 5 {
			w[i] = cand[i].wakeups.Load()
		}
		return w
	}
	if w := wake(); w != [5]int64{} {
		t.Fatalf("wakeups before any departure: %v", w)
	}
	names, _, _ := admin.Children(path.Join(root, "election"))
	if len(names) != 5 {
		t.Fatalf("%d candidate znodes, want 5: %v", len(names), names)
	}

	// Close a middle candidate: no change of master or epoch; only node-3
	// (its successor) wakes.
	sess[2].Close()
	if r := <-res[2]; !errors.Is(r.err, ErrSessionLost) {
		t.Fatalf("node-2 Campaign after its session closed: %v, want ErrSessionLost", r.err)
	}
	time.Sleep(500 * time.Millisecond)
	if w := wake(); w != [5]int64{0, 0, 0, 1, 0} {
		t.Fatalf("wakeups after closing node-2: %v, want [0 0 0 1 0]", w)
	}
	if m := mustMaster(t, admin, root); m.ID != "node-0" || m.Epoch != 1 {
		t.Fatalf("master after closing node-2: %+v", m)
	}
	if e := mustEpoch(t, admin, root); e != 1 {
		t.Fatalf("epoch after closing node-2: %d, want 1", e)
	}
	if first.term.Err() != nil {
		t.Fatalf("node-0's term ended: %v", first.term.Err())
	}

	// Close the master's session: node-1 takes over with epoch 2.
	closed := time.Now()
	sess[0].Close()
	second := waitTerm(t, res[1], 5*time.Second)
	t.Logf("close master session -> node-1 elected: %v", second.at.Sub(closed))
	if second.term.Epoch != 2 {
		t.Fatalf("node-1 epoch %d, want 2", second.term.Epoch)
	}
	if !errors.Is(first.term.Err(), ErrSessionLost) {
		t.Fatalf("node-0 term cause %v, want ErrSessionLost", first.term.Err())
	}
	if m := mustMaster(t, admin, root); m.ID != "node-1" || m.Epoch != 2 || int64(m.Session) != sess[1].ID() {
		t.Fatalf("master %+v, want node-1 epoch 2", m)
	}
	if w := wake(); w != [5]int64{0, 1, 0, 1, 0} {
		t.Fatalf("wakeups after closing node-0: %v, want [0 1 0 1 0]", w)
	}

	// Resign: node-3 takes over at once, with epoch 3. (Waiting candidates
	// step again when a term is won, to read the next in line's winning
	// inputs afresh: let node-3 settle on its predecessor's watch again.)
	time.Sleep(300 * time.Millisecond)
	resigned := time.Now()
	if err := cand[1].Resign(ctx); err != nil {
		t.Fatalf("Resign: %v", err)
	}
	third := waitTerm(t, res[3], 5*time.Second)
	t.Logf("resign -> node-3 elected: %v", third.at.Sub(resigned))
	if third.term.Epoch != 3 || !errors.Is(second.term.Err(), ErrResigned) {
		t.Fatalf("node-3 epoch %d (want 3); node-1 term cause %v (want ErrResigned)", third.term.Epoch, second.term.Err())
	}
	if w := wake(); w != [5]int64{0, 1, 0, 2, 0} {
		t.Fatalf("wakeups after node-1 resigned: %v, want [0 1 0 2 0]", w)
	}
	// node-1 campaigns again: it queues behind node-4.
	res[1] = campaignAsync(t, ctx, cand[1])

	// Close node-3: node-4 is master with epoch 4.
	sess[3].Close()
	fourth := waitTerm(t, res[4], 5*time.Second)
	if fourth.term.Epoch != 4 {
		t.Fatalf("node-4 epoch %d, want 4", fourth.term.Epoch)
	}
	if e := mustEpoch(t, admin, root); e != 4 {
		t.Fatalf("epoch %d, want 4", e)
	}

	// The history: one record per term, epochs 1..4, node-1's marked ended.
	terms, err := Terms(admin, root)
	if err != nil {
		t.Fatal(err)
	}
	wantNodes := []string{"node-0", "node-1", "node-3", "node-4"}
	if len(terms) != 4 {
		t.Fatalf("terms %+v, want 4", terms)
	}
	for i, r := range terms {
		if r.Epoch != int64(i+1) || r.Node != wantNodes[i] {
			t.Fatalf("term %d = %+v, want epoch %d node %s", i, r, i+1, wantNodes[i])
		}
	}
	if terms[1].Ended.IsZero() || !terms[0].Ended.IsZero() {
		t.Fatalf("ended: node-0 %v (want zero: crashed), node-1 %v (want set: resigned)", terms[0].Ended, terms[1].Ended)
	}
	cancel()
	if r := <-res[1]; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("node-1 campaign after cancel: %v", r.err)
	}
}

// A deposed master whose session is alive and safe is fenced by ZooKeeper
// itself: the version check on epoch fails, the write is not applied.
func TestIntegration_FencedWriteRejectedByServer(t *testing.T) {
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t)
	admin := testenv.ZKConn(t, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sa, sb := newSession(t, servers, 4*time.Second), newSession(t, servers, 4*time.Second)
	a, b := newCandidate(t, sa, root, "a"), newCandidate(t, sb, root, "b")
	a.noEpochWatch = true // the server's check alone, not a's watch, must fence it
	ta := waitTerm(t, campaignAsync(t, ctx, a), 5*time.Second).term
	rb := campaignAsync(t, ctx, b)

	work := path.Join(root, "work")
	if _, err := ta.Fenced(ctx, &zk.CreateRequest{Path: work, Data: []byte("a1"), Acl: zk.WorldACL(zk.PermAll)}); err != nil {
		t.Fatalf("master's fenced write: %v", err)
	}
	// An operator removes a's candidate and master znodes; b is elected.
	if err := admin.Delete(a.Znode(), -1); err != nil {
		t.Fatal(err)
	}
	if err := admin.Delete(path.Join(root, "master"), -1); err != nil {
		t.Fatal(err)
	}
	tb := waitTerm(t, rb, 5*time.Second).term
	if tb.Epoch != ta.Epoch+1 {
		t.Fatalf("b epoch %d, want %d", tb.Epoch, ta.Epoch+1)
	}
	if !sa.Safe() || ta.Err() != nil {
		t.Fatalf("a should still believe it is master: safe %v, term err %v", sa.Safe(), ta.Err())
	}
	_, err := ta.Fenced(ctx, &zk.SetDataRequest{Path: work, Data: []byte("a2"), Version: -1})
	if !errors.Is(err, ErrFenced) || !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("deposed master's write: %v, want ErrFenced wrapping zk.ErrBadVersion", err)
	}
	if !errors.Is(ta.Err(), ErrFenced) {
		t.Fatalf("a's term cause %v, want ErrFenced", ta.Err())
	}
	select {
	case <-ta.Context().Done():
	default:
		t.Fatal("a's term context not cancelled")
	}
	if _, err := ta.Fenced(ctx, &zk.SetDataRequest{Path: work, Data: []byte("a3"), Version: -1}); !errors.Is(err, ErrFenced) {
		t.Fatalf("write after fencing: %v, want ErrFenced", err)
	}
	if _, err := tb.Fenced(ctx, &zk.SetDataRequest{Path: work, Data: []byte("b1"), Version: -1}); err != nil {
		t.Fatalf("new master's write: %v", err)
	}
	data, _, _ := admin.Get(work)
	if string(data) != "b1" {
		t.Fatalf("work = %q, want b1", data)
	}
	// A failing op of the caller's own is reported as such and the term goes on.
	_, err = tb.Fenced(ctx, &zk.SetDataRequest{Path: work, Data: []byte("x"), Version: 99})
	if !errors.Is(err, zk.ErrBadVersion) || errors.Is(err, ErrFenced) || tb.Err() != nil {
		t.Fatalf("own op failing: err %v, term %v; want zk.ErrBadVersion, term live", err, tb.Err())
	}
}

// 2. Crash: kill -9 the master process; a new master acts within the session
// timeout (rounded up to the server's tickTime, see below) + 500 ms.
func TestIntegration_CrashHandover(t *testing.T) {
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t)
	admin := testenv.ZKConn(t, 10*time.Second)
	const timeout = 2 * time.Second
	tick := zkTickTime(t, servers[0])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ch := startChild(t, "master", root, "crasher", timeout)
	l := ch.waitLine(t, "MASTER", 15*time.Second)
	old, _ := strconv.ParseInt(strings.Fields(l.text)[1], 10, 64)

	b := newCandidate(t, newSession(t, servers, timeout), root, "survivor")
	rb := campaignAsync(t, ctx, b)
	time.Sleep(200 * time.Millisecond)

	killed := time.Now()
	if err := ch.signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := waitTerm(t, rb, timeout+tick+5*time.Second)
	// Acting: a fenced write as the new master.
	if _, err := r.term.Fenced(ctx, &zk.CreateRequest{Path: path.Join(root, "acted"), Acl: zk.WorldACL(zk.PermAll)}); err != nil {
		t.Fatalf("new master's first write: %v", err)
	}
	took := time.Since(killed)
	// ZooKeeper expires a session at the first tick boundary after its
	// timeout (ExpiryQueue rounds up to tickTime), so the server can take up
	// to timeout + tickTime after the last packet; with the test server's
	// tickTime of 500 ms that is the timeout + 500 ms. 100 ms of slack
	// covers the watch notification and a loaded machine.
	limit := timeout + max(tick, 500*time.Millisecond) + 100*time.Millisecond
	t.Logf("kill -9 -> new master acting: %v (timeout %v, tickTime %v, limit %v)", took, timeout, tick, limit)
	if took > limit {
		t.Fatalf("new master acted %v after kill -9, want <= %v", took, limit)
	}
	if r.term.Epoch != old+1 {
		t.Fatalf("new epoch %d, want %d", r.term.Epoch, old+1)
	}
	if m := mustMaster(t, admin, root); m.ID != "survivor" || m.Epoch != old+1 {
		t.Fatalf("master %+v", m)
	}
}

// 3. The GC-pause split brain: the master process is SIGSTOPped for twice
// the session timeout; another node becomes master with epoch+1; after
// SIGCONT the old master's next write fails with ErrFenced, it steps down and
// never writes again.
func TestIntegration_PausedMasterIsFenced(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"safe-deadline", nil},
		// Without the safe-deadline check the old master does send its
		// write on resuming; it must still not be applied (its session has
		// expired, the epoch has moved on).
		{"no-deadline", []string{"HELPER_NO_DEADLINE=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) { testPausedMaster(t, tc.env) })
	}
}

func testPausedMaster(t *testing.T, env []string) {
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t)
	admin := testenv.ZKConn(t, 10*time.Second)
	const timeout = 2 * time.Second
	tick := zkTickTime(t, servers[0])
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := admin.Create(root, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Create(path.Join(root, "work"), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	old := startChild(t, "writer", root, "old", timeout, env...)
	l := old.waitLine(t, "MASTER", 15*time.Second)
	oldEpoch, _ := strconv.ParseInt(strings.Fields(l.text)[1], 10, 64)
	old.waitLine(t, "WROTE", 5*time.Second)

	sb := newSession(t, servers, timeout)
	b := newCandidate(t, sb, root, "new")
	rb := campaignAsync(t, ctx, b)
	time.Sleep(200 * time.Millisecond)

	stopped := time.Now()
	if err := old.signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	r := waitTerm(t, rb, timeout+tick+5*time.Second)
	t.Logf("SIGSTOP -> new master: %v", r.at.Sub(stopped))
	if r.term.Epoch != oldEpoch+1 {
		t.Fatalf("new master epoch %d, want %d", r.term.Epoch, oldEpoch+1)
	}
	if _, err := r.term.Fenced(ctx, &zk.CreateRequest{Path: path.Join(root, "work", "w-"),
		Data: []byte("new " + strconv.FormatInt(r.term.Epoch, 10)), Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagSequence}); err != nil {
		t.Fatalf("new master's write: %v", err)
	}
	_, est, err := admin.Exists(path.Join(root, "epoch"))
	if err != nil {
		t.Fatal(err)
	}
	newEpochZxid := est.Mzxid
	time.Sleep(time.Until(stopped.Add(2 * timeout)))
	// Drain what the old master printed before the pause.
	lastWrote := -1 // n of the last WROTE line
	wroteN := func(text string) int {
		f := strings.Fields(text)
		n, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			t.Fatalf("old master printed %q", text)
		}
		return n
	}
	for drained := false; !drained; {
		select {
		case l := <-old.lines:
			if !strings.HasPrefix(l.text, "WROTE") {
				t.Fatalf("old master printed %q before SIGCONT", l.text)
			}
			lastWrote = wroteN(l.text)
		default:
			drained = true
		}
	}
	inFlight := false // the one write whose reply the pause held back
	resumed := time.Now()
	if err := old.signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	var fenced line
	for got := false; !got; {
		select {
		case l, ok := <-old.lines:
			if !ok {
				t.Fatal("old master exited")
			}
			switch {
			case strings.HasPrefix(l.text, "WROTE"):
				// The write sent just before SIGSTOP: applied then, its
				// reply read after SIGCONT. Only that one, and the check
				// of ZooKeeper's writes below shows it was applied before
				// the new epoch.
				if inFlight || wroteN(l.text) != lastWrote+1 {
					t.Fatalf("old master wrote after SIGCONT: %q (last write before the pause: %d)", l.text, lastWrote)
				}
				inFlight = true
				t.Logf("old master: the write in flight at SIGSTOP acknowledged after SIGCONT: %s", l.text)
			case strings.HasPrefix(l.text, "FENCED"):
				fenced, got = l, true
			case strings.HasPrefix(l.text, "ERR"):
				// Server-only mode: the connection to the expired session
				// fails with the write in flight (outcome unknown); the
				// next write is then fenced.
				t.Logf("old master: %s", l.text)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("old master printed no FENCED within 10s of SIGCONT")
		}
	}
	t.Logf("SIGCONT -> old master fenced: %v: %s", fenced.at.Sub(resumed), fenced.text)
	old.waitLine(t, "ENDED", 2*time.Second)
	// It never writes again, and ZooKeeper holds no write of the old epoch
	// made after the new epoch.
	time.Sleep(time.Second)
	for drained := false; !drained; {
		select {
		case l := <-old.lines:
			if strings.HasPrefix(l.text, "WROTE") {
				t.Fatalf("old master wrote after being fenced: %q", l.text)
			}
		default:
			drained = true
		}
	}
	names, _, err := admin.Children(path.Join(root, "work"))
	if err != nil {
		t.Fatal(err)
	}
	oldWrites, newWrites := 0, 0
	for _, n := range names {
		data, st, err := admin.Get(path.Join(root, "work", n))
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(data))
		e, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "old":
			oldWrites++
			if e != oldEpoch || st.Czxid > newEpochZxid {
				t.Fatalf("old master's write %s (%q) applied after the new epoch", n, data)
			}
		case "new":
			newWrites++
		}
	}
	if oldWrites == 0 || newWrites != 1 {
		t.Fatalf("writes: old %d (want > 0), new %d (want 1)", oldWrites, newWrites)
	}
	// The two terms have different epochs, and the new master is still master.
	terms, err := Terms(admin, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(terms) != 2 || terms[0].Epoch != oldEpoch || terms[1].Epoch != oldEpoch+1 || terms[1].Node != "new" {
		t.Fatalf("terms %+v", terms)
	}
	if r.term.Err() != nil {
		t.Fatalf("new master's term ended: %v", r.term.Err())
	}
}

// 5. A lost reply to the candidate create, and to the winning Multi: each
// node still owns exactly one candidate znode, and the winner adopts the
// term its lost Multi created instead of raising the epoch twice.
func TestIntegration_LostCreateReply(t *testing.T) {
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t)
	admin := testenv.ZKConn(t, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ensureLayout(admin, newPaths(root)); err != nil {
		t.Fatal(err)
	}
	const n = 3
	var proxies [n]*sessiontest.Proxy
	var sess [n]*session.Session
	var res [n]<-chan campaignResult
	for i := range n {
		proxies[i] = sessiontest.NewProxy(t, servers[0])
		sess[i] = newSession(t, []string{proxies[i].Addr()}, 4*time.Second)
		c := newCandidate(t, sess[i], root, "node-"+strconv.Itoa(i))
		proxies[i].CutAfterNextCreate() // the candidate create
		if i == 0 {
			proxies[i].CutAfterNextCreate() // and the winning Multi
		}
		res[i] = campaignAsync(t, ctx, c)
	}
	r := waitTerm(t, res[0], 20*time.Second)
	for i := range n {
		want := 1
		if i == 0 {
			want = 2
		}
		if got := proxies[i].CutCreates(); got != want {
			t.Fatalf("proxy %d cut %d create replies, want %d", i, got, want)
		}
	}
	if r.term.Epoch != 1 {
		t.Fatalf("winner's epoch %d, want 1 (its lost Multi must be adopted)", r.term.Epoch)
	}
	if e := mustEpoch(t, admin, root); e != 1 {
		t.Fatalf("epoch %d, want 1", e)
	}
	if m := mustMaster(t, admin, root); m.ID != "node-0" || int64(m.Session) != sess[0].ID() {
		t.Fatalf("master %+v", m)
	}
	names, _, err := admin.Children(path.Join(root, "election"))
	if err != nil {
		t.Fatal(err)
	}
	owned := map[int64]int{}
	for _, name := range names {
		_, st, err := admin.Get(path.Join(root, "election", name))
		if err != nil {
			t.Fatal(err)
		}
		owned[st.EphemeralOwner]++
	}
	for i := range n {
		if owned[sess[i].ID()] != 1 {
			t.Fatalf("node-%d (session 0x%x) owns %d candidate znodes, want 1 (all: %v)", i, sess[i].ID(), owned[sess[i].ID()], names)
		}
	}
	if len(names) != n {
		t.Fatalf("%d candidate znodes, want %d: %v", len(names), n, names)
	}
}

// 7. Invalid node ids are rejected before any connection.
func TestIntegration_InvalidNodeID(t *testing.T) {
	for _, id := range []string{"", ".", "..", "a/b", "a b", strings.Repeat("x", 65), "ü"} {
		cfg := DefaultConfig(id)
		if _, err := NewCandidate(nil, cfg); !errors.Is(err, session.ErrInvalidNodeID) || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewCandidate(%q): %v, want ErrInvalidConfig wrapping session.ErrInvalidNodeID", id, err)
		}
		// Run checks before it dials: the "server" here is a listener that
		// counts connections.
		ln := countingListener(t)
		err := Run(context.Background(), session.DefaultConfig(ln.addr()), cfg, func(*Term) {})
		if !errors.Is(err, session.ErrInvalidNodeID) {
			t.Errorf("Run(%q): %v, want ErrInvalidNodeID", id, err)
		}
		if n := ln.count(); n != 0 {
			t.Errorf("Run(%q) made %d connections", id, n)
		}
	}
	if _, err := NewCandidate(nil, Config{NodeID: "ok", Root: "relative"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("relative root: %v", err)
	}
}

// Issue 14: the epoch never goes backwards. With the epoch znode deleted, and
// later set lower, the next winner still takes an epoch above every recorded
// term, and says so loudly.
func TestIntegration_EpochNeverGoesBackwards(t *testing.T) {
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t)
	admin := testenv.ZKConn(t, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	epochPath := root + "/epoch"
	highestTerm := func() int64 {
		terms, err := Terms(admin, root)
		if err != nil {
			t.Fatal(err)
		}
		var hi int64
		for _, r := range terms {
			hi = max(hi, r.Epoch)
		}
		return hi
	}
	elect := func(id string) (*session.Session, campaignResult) {
		s := newSession(t, servers, 4*time.Second)
		c := newCandidate(t, s, root, id)
		return s, waitTerm(t, campaignAsync(t, ctx, c), 10*time.Second)
	}
	s1, r1 := elect("node-1")
	if r1.term.Epoch != 1 {
		t.Fatalf("first epoch %d", r1.term.Epoch)
	}
	// The epoch znode is deleted under a running cluster; the master's
	// term ends at once (its watch), not at its next write.
	deleted := time.Now()
	if err := admin.Delete(epochPath, -1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r1.term.Done():
		if !errors.Is(r1.term.Err(), ErrFenced) {
			t.Fatalf("term ended with %v; want ErrFenced", r1.term.Err())
		}
		t.Logf("term of epoch 1 ended %v after its epoch znode was deleted: %v", time.Since(deleted).Round(time.Millisecond), r1.term.Err())
	case <-time.After(time.Second):
		t.Fatal("term still live 1 s after its epoch znode was deleted")
	}
	s1.Close()
	s3, r3 := elect("node-3")
	if hi := highestTerm(); r3.term.Epoch < hi || r3.term.Epoch <= 1 {
		t.Fatalf("after the epoch znode was deleted: new epoch %d; recorded terms reach %d", r3.term.Epoch, hi)
	}
	got, _, err := Epoch(admin, root)
	if err != nil || got != r3.term.Epoch {
		t.Fatalf("epoch znode %d, %v; want it repaired to %d", got, err, r3.term.Epoch)
	}
	// Set lower.
	if _, err := admin.Set(epochPath, []byte("0"), -1); err != nil {
		t.Fatal(err)
	}
	s3.Close()
	_, r4 := elect("node-4")
	if hi := highestTerm(); r4.term.Epoch != hi || r4.term.Epoch <= r3.term.Epoch {
		t.Fatalf("after the epoch znode was set to 0: new epoch %d; before %d, terms reach %d", r4.term.Epoch, r3.term.Epoch, hi)
	}
	t.Logf("epochs 1 -> %d (znode deleted) -> %d (znode set to 0)", r3.term.Epoch, r4.term.Epoch)
}

// TestIntegration_EpochBumpedEndsTerm (issue 14): an operator (or a restored
// snapshot) sets the epoch znode under a live master: its term ends with
// ErrFenced within 1 s, without any write of its own.
func TestIntegration_EpochBumpedEndsTerm(t *testing.T) {
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t)
	admin := testenv.ZKConn(t, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := newSession(t, servers, 4*time.Second)
	c := newCandidate(t, s, root, "node-1")
	r := waitTerm(t, campaignAsync(t, ctx, c), 10*time.Second)
	bumped := time.Now()
	if _, err := admin.Set(root+"/epoch", []byte(strconv.FormatInt(r.term.Epoch+5, 10)), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.term.Done():
	case <-time.After(time.Second):
		t.Fatal("term still live 1 s after the epoch znode was bumped")
	}
	if err := r.term.Err(); !errors.Is(err, ErrFenced) || !strings.Contains(err.Error(), "version") {
		t.Fatalf("term ended with %v; want ErrFenced naming the epoch znode's version", err)
	}
	t.Logf("term ended %v after the bump", time.Since(bumped).Round(time.Millisecond))
	if _, err := r.term.Fenced(ctx, &zk.CreateRequest{Path: root + "/x", Acl: zk.WorldACL(zk.PermAll)}); !errors.Is(err, ErrFenced) {
		t.Fatalf("a write after the bump: %v; want ErrFenced", err)
	}
}

// Config.WinOps: the ops it gives go into the winning Multi (applied with
// the win, reported to OnFenced as a write of the new epoch, counted in
// Term.WinOps); ops that ZooKeeper refuses do not cost the win: the Multi is
// sent again without them.
func TestIntegration_WinOps(t *testing.T) {
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t)
	admin := testenv.ZKConn(t, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name    string
		path    string // what WinOps creates
		applied bool
	}{
		{"applied", root + "/plan", true},
		{"refused", root + "/no-such-parent/plan", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSession(t, servers, 4*time.Second)
			cfg := DefaultConfig("node-1")
			cfg.Root, cfg.Logger = root, testLogger(t)
			var gotEpoch int64
			var gotStart time.Time
			cfg.WinOps = func(_ context.Context, epoch int64) func(time.Time) []any {
				gotEpoch = epoch
				return func(started time.Time) []any {
					gotStart = started
					return []any{&zk.CreateRequest{Path: tc.path, Data: []byte(strconv.FormatInt(epoch, 10)), Acl: zk.WorldACL(zk.PermAll)}}
				}
			}
			type fenced struct {
				epoch int64
				n     int
				err   error
			}
			var writes []fenced
			cfg.OnFenced = func(epoch int64, n int, _, _ time.Time, err error) { writes = append(writes, fenced{epoch, n, err}) }
			c, err := NewCandidate(s, cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := waitTerm(t, campaignAsync(t, ctx, c), 10*time.Second)
			if gotEpoch != r.term.Epoch || r.term.Epoch != mustEpoch(t, admin, root) {
				t.Fatalf("WinOps saw epoch %d; the term has %d, the epoch znode %d", gotEpoch, r.term.Epoch, mustEpoch(t, admin, root))
			}
			if !gotStart.Equal(r.term.Started) {
				t.Fatalf("WinOps' ops were built for a start at %v; the term started at %v", gotStart, r.term.Started)
			}
			data, _, err := admin.Get(tc.path)
			switch {
			case tc.applied && (err != nil || string(data) != strconv.FormatInt(r.term.Epoch, 10)):
				t.Fatalf("%s after the win: %q, %v; want the epoch %d", tc.path, data, err, r.term.Epoch)
			case !tc.applied && !errors.Is(err, zk.ErrNoNode):
				t.Fatalf("%s after a win whose extra op was refused: %q, %v; want no node", tc.path, data, err)
			}
			want := map[bool]int{true: 1, false: 0}[tc.applied]
			if r.term.WinOps != want {
				t.Errorf("Term.WinOps = %d, want %d", r.term.WinOps, want)
			}
			if tc.applied && (len(writes) != 1 || writes[0] != (fenced{r.term.Epoch, 1, nil})) {
				t.Errorf("OnFenced saw %+v; want one applied write of 1 op at epoch %d", writes, r.term.Epoch)
			}
			if !tc.applied && len(writes) != 0 {
				t.Errorf("OnFenced saw %+v for a win without its extra ops; want none", writes)
			}
			if m := mustMaster(t, admin, root); m.Epoch != r.term.Epoch || m.ID != "node-1" {
				t.Errorf("master znode %+v; want node-1 at epoch %d", m, r.term.Epoch)
			}
			c.Close()
		})
	}
}
