package master

import (
	"context"
	"errors"
	"path"
	"testing"

	"github.com/go-zookeeper/zk"
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
	if len(m.armed) != 0 {
		t.Fatalf("the master armed watches before its first round: %v", m.armed)
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
	if !m.armed["c:"+c.p.Members] {
		t.Errorf("the round after the prefetch set no watch on members/: %v", m.armed)
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
	if _, err := old.Create(path.Join(c.root, "master"), []byte(`{"id":"old"}`), zk.FlagEphemeral, nil); err != nil {
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
	if _, err := m.conn.Create(path.Join(c.root, "master"), []byte(`{"id":"m"}`), zk.FlagEphemeral, nil); err != nil {
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
