package master

import (
	"path"
	"testing"
	"time"

	"github.com/stock-system/stocksys/zkapi"
)

// standbyReady waits until sb holds a view with no read under way and no
// watch fired.
func standbyReady(t *testing.T, sb *Standby) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		sb.mu.Lock()
		ok := sb.view != nil && !sb.reading && sb.watched.Current()
		sb.mu.Unlock()
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
	if _, err := old.Create(path.Join(c.root, "master"), []byte(`{"id":"old"}`), zkapi.FlagEphemeral, nil); err != nil {
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

// A change to a znode the view read, after the read, makes the view stale:
// Take then gives no view, or (if the standby read again after the change
// before Take) a view that holds the change; never one without it. Here the
// old master's last assignment write, node-2's status publication, node-2
// gone, a symbol added; 20 times each, both outcomes allowed.
func TestStandbyNeverGivesAStaleView(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *twinCluster)
		holds  func(v *view) bool
	}{
		{"assignment rewritten", func(c *twinCluster) {
			if _, err := c.admin.Set(c.p.Assignment("node-1"), []byte(`{"node":"node-1"}`), -1); err != nil {
				t.Fatal(err)
			}
		}, func(v *view) bool { return len(v.docs["node-1"].Tasks) == 0 }},
		{"status published", func(c *twinCluster) { c.ackAll() }, func(v *view) bool { return len(v.applied) == 2 }},
		{"member gone", func(c *twinCluster) { c.members["node-2"].Close() }, func(v *view) bool { return len(v.members) == 1 }},
		{"symbol added", func(c *twinCluster) {
			if _, err := c.admin.Create(path.Join(c.p.Symbols, "IBM"), []byte(`{"symbol":"IBM"}`), 0, nil); err != nil {
				t.Fatal(err)
			}
		}, func(v *view) bool { return len(v.tasks) == 6 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			none, fresh := 0, 0
			for range 20 {
				_, _, p := standbyCase(t, tc.change, true)
				switch {
				case p == nil:
					none++
				case tc.holds(p.view):
					fresh++
				default:
					t.Fatalf("Take after %s: a view without the change", tc.name)
				}
			}
			t.Logf("%s: %d times no view, %d times a view read after the change", tc.name, none, fresh)
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
