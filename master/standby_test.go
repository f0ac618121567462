package master

import (
	"path"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// standbyReady waits until sb holds a view with no read under way and no
// watch fired.
func standbyReady(t *testing.T, sb *Standby) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		sb.r.watchMu.Lock()
		ok := sb.r.sb.view != nil && !sb.r.sb.dirty && !sb.r.sb.reading
		sb.r.watchMu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no standby view within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// standbyCase: a cluster with a master znode held by the old master's
// session, a standby on the successor's; change runs after the view is
// read (the old master's last acts), then the master znode goes.
func standbyCase(t *testing.T, change func(c *twinCluster), deleteMaster bool) (*twinCluster, *Master, *Prefetch) {
	t.Helper()
	c := newTwinCluster(t, "AAPL", "MSFT", "SPY")
	c.join("node-1")
	c.join("node-2")
	old := c.mem.Session()
	if _, err := old.Create(path.Join(c.root, "master"), []byte(`{"id":"old"}`), zk.FlagEphemeral, nil); err != nil {
		t.Fatal(err)
	}
	m, _ := c.master()
	if err := m.reconcile(t.Context()); err != nil { // the documents the old term wrote
		t.Fatal(err)
	}
	succ := c.mem.Session()
	sb := startStandby(succ, m.cfg)
	t.Cleanup(sb.Stop)
	standbyReady(t, sb)
	if change != nil {
		change(c)
	}
	if deleteMaster {
		if err := old.Delete(path.Join(c.root, "master"), -1); err != nil {
			t.Fatal(err)
		}
	}
	return c, m, sb.Take()
}

// A view with none of its watches fired and the master znode's deletion
// seen is current: Take gives it, and its first plan covers every task.
func TestStandbyCurrentAfterTheMasterZnodeGoes(t *testing.T) {
	_, _, p := standbyCase(t, nil, true)
	if p == nil {
		t.Fatal("Take after the master znode's deletion, nothing else changed: no view")
	}
	if len(p.view.members) != 2 || len(p.view.docs) != 2 || len(p.view.tasks) != 5 {
		t.Fatalf("standby view: %d members, %d documents, %d tasks; want 2, 2, 5", len(p.view.members), len(p.view.docs), len(p.view.tasks))
	}
	ops := p.Ops(t.Context(), 6)(time.Now())
	if len(ops) == 0 {
		t.Fatal("no first plan from the standby view")
	}
}

// Any change to a znode the view read, after the read, makes it stale:
// here the old master's last assignment write (node-1's document), and,
// separately, node-2's status publication.
func TestStandbyStaleAfterAChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *twinCluster)
	}{
		{"assignment rewritten", func(c *twinCluster) {
			if _, err := c.admin.Set(c.p.Assignment("node-1"), []byte(`{"node":"node-1"}`), -1); err != nil {
				t.Fatal(err)
			}
		}},
		{"status published", func(c *twinCluster) { c.ackAll() }},
		{"member gone", func(c *twinCluster) { c.members["node-2"].Close() }},
		{"symbol added", func(c *twinCluster) {
			if _, err := c.admin.Create(path.Join(c.p.Symbols, "IBM"), []byte(`{"symbol":"IBM"}`), 0, nil); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, p := standbyCase(t, tc.change, true); p != nil {
				t.Fatalf("Take after %s: a view; want none (stale)", tc.name)
			}
		})
	}
}

// While the master znode remains (the old term may still write), there is
// no view to take.
func TestStandbyNoViewWhileTheMasterZnodeRemains(t *testing.T) {
	if _, _, p := standbyCase(t, nil, false); p != nil {
		t.Fatal("Take with the master znode present: a view; want none")
	}
}
