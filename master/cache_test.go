package master

import (
	"testing"

	"github.com/stock-system/stocksys/zkapi"
)

// A master on a shared watched cache (as a node runs it: one zkapi.Cache per
// session for the master, the worker, the standby view and the console):
// a steady round reads every watched znode (members/, symbols/, status/,
// the members' statuses, intents/) from the cache and sends none of those
// reads to ZooKeeper; after one member's status changes, the next round
// re-reads just that status; another handle of the cache (the console's)
// is served the status/ listing from memory.
func TestTwinSteadyRoundsReadFromTheCache(t *testing.T) {
	c := newTwinCluster(t, "AAPL", "MSFT", "SPY")
	c.join("node-1")
	c.join("node-2")
	m, _ := c.master()
	cache := zkapi.NewCache(m.raw)
	defer cache.Close()
	m.cfg.Cache = cache
	round := func() {
		t.Helper()
		if err := m.reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	round()
	c.ackAll() // both members run their documents
	round()
	owners, _ := c.owners()

	before := cache.Stats()
	round()
	steady := cache.Stats()
	if steady.Misses != before.Misses {
		t.Fatalf("a steady round sent %d watched reads to ZooKeeper; want 0 (stats %+v -> %+v)", steady.Misses-before.Misses, before, steady)
	}
	// members/, symbols/, status/, intents/ listings and the 2 statuses.
	if hits := steady.Hits - before.Hits; hits < 6 {
		t.Fatalf("a steady round read %d znodes from the cache; want at least 6", hits)
	}
	if now, _ := c.owners(); len(now) != len(owners) {
		t.Fatalf("a steady round changed the assignment: %v -> %v", owners, now)
	}

	c.ackAll() // both statuses rewritten (same content, new versions)
	round()
	after := cache.Stats()
	if got := after.Misses - steady.Misses; got != 2 {
		t.Fatalf("after both statuses were rewritten the round sent %d watched reads to ZooKeeper; want 2 (the statuses)", got)
	}

	console := cache.Watched()
	defer console.Close()
	names, _, err := console.Children(c.p.Status)
	if err != nil || len(names) != 2 {
		t.Fatalf("the console's listing of status/ = %v, %v; want 2 names", names, err)
	}
	if got := cache.Stats(); got.Misses != after.Misses || got.Hits != after.Hits+1 {
		t.Fatalf("another handle's listing: stats %+v after %+v; want one more hit, no miss", got, after)
	}
}
