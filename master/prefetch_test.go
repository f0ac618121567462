package master

import (
	"context"
	"encoding/json"
	"errors"
	"path"
	"testing"
	"time"

	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
)

// A prefetched view is the first round's: a member that joins after the
// prefetch's reads is not in the first plan (the round did not read again),
// and the round asks for the next one at once, which reads with watches and
// gives the newcomer its share.
func TestPrefetchIsTheFirstRoundsView(t *testing.T) {
	c := newTwinCluster(t, "AAPL", "MSFT", "SPY")
	c.join("node-1")
	m, _ := c.master()
	p := startPrefetch(m.conn, m.cfg)
	<-p.done
	if p.err != nil || p.view == nil {
		t.Fatalf("prefetch: view %v, err %v", p.view, p.err)
	}
	if m.w != nil && m.w.Armed() != 0 {
		t.Fatalf("the master armed %d watches before its first round", m.w.Armed())
	}
	c.join("node-2") // after the prefetch
	m.UsePrefetch(p)
	if err := m.reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	own, docs := c.owners()
	if len(own) != 5 || len(docs["node-1"].Tasks) != 5 {
		t.Fatalf("first round from the prefetch: %v, want all 5 tasks on node-1 (node-2 joined after the reads)", own)
	}
	if _, ok := docs["node-2"]; ok {
		t.Fatalf("node-2 has a document after a round planned from a view without it: %+v", docs["node-2"])
	}
	select {
	case <-m.trigger:
	default:
		t.Fatal("a round from a prefetch did not ask for the next round")
	}
	if err := m.reconcile(t.Context()); err != nil { // reads again, with watches
		t.Fatal(err)
	}
	if !m.watching(c.p.Members, true) {
		t.Error("the round after the prefetch set no watch on members/")
	}
	_, docs = c.owners()
	// node-2's share leaves node-1 first (the handover gate), so it shows
	// as revoked on node-1.
	if r := docs["node-1"].Revoked; len(r) != 2 {
		t.Errorf("the round after the prefetch revoked %v from node-1, want node-2's share of 2", r)
	}
}

// A prefetch that finds a master znode (the previous master's term may not
// be over: its last writes could come after the reads) is void: the first
// round reads for itself, and sees what changed after the prefetch.
func TestPrefetchVoidWhileAMasterZnodeRemains(t *testing.T) {
	c := newTwinCluster(t, "AAPL", "MSFT")
	c.join("node-1")
	old := c.mem.Session()
	if _, err := old.Create(path.Join(c.root, "master"), []byte(`{"id":"old"}`), zkapi.FlagEphemeral, nil); err != nil {
		t.Fatal(err)
	}
	m, _ := c.master()
	p := startPrefetch(m.conn, m.cfg)
	p.Stop()
	if !errors.Is(p.err, errMasterPresent) || p.view != nil {
		t.Fatalf("prefetch with a master znode present: view %v, err %v; want void (errMasterPresent)", p.view, p.err)
	}
	c.join("node-2")
	m.UsePrefetch(p)
	if err := m.reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	own, docs := c.owners()
	if len(docs["node-1"].Tasks)+len(docs["node-2"].Tasks) != 4 || len(docs["node-2"].Tasks) == 0 {
		t.Fatalf("first round after a void prefetch: %v; want the 4 tasks over node-1 and node-2 (read for itself)", own)
	}
}

// Stop ends a prefetch whose reads are blocked (here: its context's end is
// all that stops it) and is idempotent.
func TestPrefetchStopIdempotent(t *testing.T) {
	c := newTwinCluster(t, "AAPL")
	c.join("node-1")
	m, _ := c.master()
	m.cfg.Partitions = func(ctx context.Context) ([]int32, error) { <-ctx.Done(); return nil, ctx.Err() }
	p := startPrefetch(m.conn, m.cfg)
	p.Stop()
	p.Stop()
	select {
	case <-p.done:
	default:
		t.Fatal("Stop returned before the reads ended")
	}
}

// A master znode of the prefetch's own session does not void it: it is the
// one its winning Multi creates (the read can come after the Multi).
func TestPrefetchOwnMasterZnode(t *testing.T) {
	c := newTwinCluster(t, "AAPL")
	c.join("node-1")
	m, _ := c.master()
	if _, err := m.conn.Create(path.Join(c.root, "master"), []byte(`{"id":"m"}`), zkapi.FlagEphemeral, nil); err != nil {
		t.Fatal(err)
	}
	p := startPrefetch(m.conn, m.cfg)
	p.Stop()
	if p.err != nil || p.view == nil {
		t.Fatalf("prefetch beside its own master znode: view %v, err %v; want a view", p.view, p.err)
	}
	if _, ok := p.view.members["node-1"]; !ok {
		t.Errorf("prefetched view lacks node-1: %+v", p.view.members)
	}
}

// Ops: the first plan, made from the prefetched view for the epoch the win
// writes, as ops that the winning Multi carries. Applied with the win (here
// through the term's fenced write, as the Multi would), the master adopts
// it: its first round writes nothing again (the failover document stays at
// its first version), reads with watches, and counts the win's write.
func TestPrefetchOpsWrittenWithTheWin(t *testing.T) {
	c := newTwinCluster(t, "AAPL", "MSFT", "SPY")
	c.join("node-1")
	c.join("node-2")
	m, term := c.master()
	p := startPrefetch(m.conn, m.cfg)
	ops := p.Ops(t.Context(), m.epoch)(m.started)
	if len(ops) == 0 {
		t.Fatalf("no first plan from a prefetched view (err %v)", p.err)
	}
	if _, err := term.Fenced(t.Context(), ops...); err != nil {
		t.Fatal(err)
	}
	if fo := readFailover(t, c); !fo.FirstAssignment.Equal(m.started.UTC()) || !fo.Elected.Equal(m.started.UTC()) {
		t.Errorf("failover document of a plan written with the win: elected %v, first assignment %v; want both the term's start %v",
			fo.Elected, fo.FirstAssignment, m.started.UTC())
	}
	own, docs := c.owners()
	if len(own) != 5 || len(docs["node-1"].Tasks) < 2 || len(docs["node-2"].Tasks) < 2 {
		t.Fatalf("the win's plan: %v; want the 5 tasks over both members", own)
	}
	for node, d := range docs {
		if d.Epoch != m.epoch {
			t.Errorf("%s's document has epoch %d, want the win's %d", node, d.Epoch, m.epoch)
		}
	}
	var fo tasks.FailoverDoc
	data, st, err := c.admin.Get(c.p.Failover)
	if err != nil || json.Unmarshal(data, &fo) != nil || fo.Epoch != m.epoch || fo.Node != "m" {
		t.Fatalf("failover document after the win: %s, %v; want epoch %d by m", data, err, m.epoch)
	}
	m.wonWith = len(ops)
	m.UsePrefetch(p)
	if err := m.reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, st2, _ := c.admin.Get(c.p.Failover); st2.Version != st.Version {
		t.Errorf("the first round rewrote the failover document (version %d -> %d): the plan was not adopted", st.Version, st2.Version)
	}
	if !m.watching(c.p.Members, true) {
		t.Error("the first round after an adopted plan set no watch on members/")
	}
	if s := m.Stats(); s.Multis != 1 || s.Writes != len(ops) {
		t.Errorf("stats %+v; want the win's 1 Multi of %d ops and no other", s, len(ops))
	}
	select {
	case <-m.trigger:
		t.Error("an adopted first plan asked for another round (its round already read with watches)")
	default:
	}
}

// A win sent without the plan (WinOps 0: the Multi carrying it was refused
// and sent again) leaves the first round to plan and write from the view.
func TestPrefetchOpsNotWrittenWithTheWin(t *testing.T) {
	c := newTwinCluster(t, "AAPL", "MSFT")
	c.join("node-1")
	m, _ := c.master()
	p := startPrefetch(m.conn, m.cfg)
	if ops := p.Ops(t.Context(), m.epoch)(m.started); len(ops) == 0 {
		t.Fatal("no first plan")
	}
	m.UsePrefetch(p) // wonWith stays 0
	if err := m.reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if own, _ := c.owners(); len(own) != 4 {
		t.Fatalf("first round after a win without the plan: %v; want the 4 tasks on node-1", own)
	}
	if ok, _, _ := c.admin.Exists(c.p.Failover); !ok {
		t.Error("no failover document after the first round")
	}
}

// A plan too large for one Multi beside the election's ops is not offered:
// the first round writes it in parts, as usual.
func TestPrefetchOpsTooLargeForTheWin(t *testing.T) {
	c := newTwinCluster(t, "AAPL", "MSFT", "SPY")
	c.join("node-1")
	m, _ := c.master()
	m.cfg.MaxMultiBytes = winReserve + 100
	p := startPrefetch(m.conn, m.cfg)
	if ops := p.Ops(t.Context(), m.epoch)(m.started); ops != nil {
		t.Fatalf("a plan over MaxMultiBytes-winReserve offered to the win: %d ops", len(ops))
	}
	// A void prefetch offers nothing either.
	if _, err := m.conn.Create(path.Join(c.root, "master"), nil, zkapi.FlagEphemeral, nil); err != nil {
		t.Fatal(err)
	}
	other := c.mem.Session()
	q := startPrefetch(other, m.cfg)
	if build := q.Ops(t.Context(), m.epoch); build != nil || !errors.Is(q.err, errMasterPresent) {
		t.Fatalf("void prefetch offered a plan (err %v)", q.err)
	}
}

func readFailover(t *testing.T, c *twinCluster) tasks.FailoverDoc {
	t.Helper()
	var fo tasks.FailoverDoc
	data, _, err := c.admin.Get(c.p.Failover)
	if err != nil || json.Unmarshal(data, &fo) != nil {
		t.Fatalf("failover document: %s, %v", data, err)
	}
	return fo
}

// The failover document records when every task came to run where the
// term's plan put it: in the first round that sees it (each owner's status
// applied its document and reports the task running), as the latest run's
// start; once (a later round does not rewrite it), and not while a task
// still waits for its owner.
func TestTwinFailoverRecordsAllRunning(t *testing.T) {
	c := newTwinCluster(t, "AAPL", "MSFT", "SPY")
	c.join("node-1")
	c.join("node-2")
	m, _ := c.master()
	if err := m.reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if fo := readFailover(t, c); !fo.AllRunning.IsZero() {
		t.Fatalf("all_running %v before any status", fo.AllRunning)
	}
	own, _ := c.owners()
	c.runStart = map[tasks.ID]time.Time{}
	i := 0
	for id := range own {
		i++
		c.runStart[id] = m.started.Add(time.Duration(i) * 7 * time.Millisecond)
	}
	// One task not yet running: its owner's status leaves it out.
	c.ackAll()
	var missing tasks.ID
	for id, n := range own {
		missing = id
		sd, _, err := c.p.ReadStatus(c.admin, n)
		if err != nil {
			t.Fatal(err)
		}
		delete(sd.Tasks, id)
		js, _ := json.Marshal(sd)
		if _, err := c.members[n].Set(c.p.StatusOf(n), js, -1); err != nil {
			t.Fatal(err)
		}
		break
	}
	if err := m.reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if fo := readFailover(t, c); !fo.AllRunning.IsZero() {
		t.Fatalf("all_running %v while %s is not running", fo.AllRunning, missing)
	}
	c.ackAll()
	if err := m.reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	fo := readFailover(t, c)
	var want time.Time
	for _, st := range c.runStart {
		if st.After(want) {
			want = st
		}
	}
	if !fo.AllRunning.Equal(want.UTC()) || fo.Epoch != m.epoch {
		t.Fatalf("all_running %v (epoch %d); want the latest run start %v", fo.AllRunning, fo.Epoch, want.UTC())
	}
	_, st, _ := c.admin.Get(c.p.Failover)
	if err := m.reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, st2, _ := c.admin.Get(c.p.Failover); st2.Version != st.Version {
		t.Errorf("a later round rewrote the failover document (version %d -> %d)", st.Version, st2.Version)
	}
}
