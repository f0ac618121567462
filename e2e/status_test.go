package e2e

import (
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/tasks"
)

// TestIntegration_StatusMatchesCluster: `stocksys status --json` agrees with
// what each live node says of itself on /status: the master and its epoch,
// every member's session, and every task's owner, state and epoch; and
// the last failover is the current term.
func TestIntegration_StatusMatchesCluster(t *testing.T) {
	c := proctest.New(t)
	c.Up(3, "--session-timeout", sessionTimeout.String(), "--placeholder-tasks")
	addSymbols(t, c, "SPY", "MSFT", "AAPL", "BRK-B", "^GSPC")
	all := []string{"node-1", "node-2", "node-3"}
	c.WaitStatus(30*time.Second, "every task running", func(r *status.Report) bool {
		return len(r.Members) == 3 && len(r.Tasks) == 5 && proctest.AllRunning(r, all...)
	})
	time.Sleep(1500 * time.Millisecond) // let progress settle into published status
	var r *status.Report
	var err error
	for attempt := 0; attempt < 5; attempt++ { // views and the report are read at slightly different times
		if r, err = c.Status(); err != nil {
			t.Fatal(err)
		}
		if msg := compare(c, r, all); msg == "" {
			break
		} else if attempt == 4 {
			t.Fatal(msg)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if r.Cluster != c.Name || r.Root != "/stocksys/"+c.Name {
		t.Errorf("cluster %q root %q; want %q", r.Cluster, r.Root, c.Name)
	}
	if r.LastFailover == nil || r.LastFailover.Epoch != r.Master.Epoch || r.LastFailover.FirstAssignment.Before(r.LastFailover.Elected) {
		t.Errorf("last_failover = %+v; want the current term's, first assignment after election", r.LastFailover)
	}
	if len(r.Unassigned) != 0 {
		t.Errorf("unassigned = %v; want none", r.Unassigned)
	}
}

// compare returns "" if the report matches every node's own view.
func compare(c *proctest.Cluster, r *status.Report, ids []string) string {
	if r.Master == nil {
		return "no master in status"
	}
	members := map[string]string{}
	for _, m := range r.Members {
		members[m.ID] = m.Session
	}
	owner := map[string]status.Task{}
	for _, tk := range r.Tasks {
		owner[tk.ID] = tk
	}
	seen := 0
	for _, id := range ids {
		v, ok := nodeView(c, id)
		if !ok {
			return id + " did not answer /status"
		}
		if members[id] != v.Session {
			return "member " + id + " session " + members[id] + " in status; node says " + v.Session
		}
		if (v.Role == "master") != (r.Master.ID == id) {
			return "node " + id + " role " + v.Role + " but status master is " + r.Master.ID
		}
		if v.Role == "master" && v.Epoch != r.Master.Epoch {
			return "master epoch differs from the node's own"
		}
		for tid, ts := range v.Worker.Tasks {
			tk, ok := owner[string(tid)]
			if !ok || tk.Owner == nil || *tk.Owner != id || tk.State != ts.State || tk.Epoch != ts.Epoch {
				return "task " + string(tid) + " on " + id + " (" + ts.State + ") differs in status"
			}
			if tk.Type != string(tasks.TypeFetch) {
				return "task " + string(tid) + " type " + tk.Type
			}
			seen++
		}
	}
	if seen != len(r.Tasks) {
		return "nodes run a different number of tasks than status lists"
	}
	return ""
}
