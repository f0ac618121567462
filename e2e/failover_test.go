package e2e

import (
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/status"
)

const sessionTimeout = 3 * time.Second

// TestIntegration_ProcessMasterKill: 3 node processes; kill -9 the master;
// `stocksys status --json` shows a new master with a higher epoch, and every
// task running on the two others, within session timeout + 1 s.
func TestIntegration_ProcessMasterKill(t *testing.T) {
	c := proctest.New(t)
	c.Up(3, "--session-timeout", sessionTimeout.String(), "--placeholder-tasks")
	if _, _, code := c.Stocksys(t.Context(), "symbols", "add", "SPY", "MSFT", "AAPL", "BRK-B"); code != 0 {
		t.Fatal("symbols add failed")
	}
	all := []string{"node-1", "node-2", "node-3"}
	r, _ := c.WaitStatus(30*time.Second, "3 nodes running every task", func(r *status.Report) bool {
		return proctest.Master(r) != "" && len(r.Members) == 3 && len(r.Tasks) == 4 && proctest.AllRunning(r, all...)
	})
	old, oldEpoch := r.Master.ID, r.Master.Epoch
	c.MustScript("kill", old)
	var rest []string
	for _, n := range all {
		if n != old {
			rest = append(rest, n)
		}
	}
	r, took := c.WaitStatus(sessionTimeout+5*time.Second, "new master and every task running", func(r *status.Report) bool {
		m := proctest.Master(r)
		return m != "" && m != old && r.Master.Epoch > oldEpoch && proctest.AllRunning(r, rest...)
	})
	t.Logf("kill -9 of master %s (epoch %d) -> %s master (epoch %d), all tasks running: %v (session timeout %v)",
		old, oldEpoch, r.Master.ID, r.Master.Epoch, took.Round(time.Millisecond), sessionTimeout)
	if took > sessionTimeout+time.Second {
		t.Errorf("failover took %v; want at most session timeout + 1 s = %v", took, sessionTimeout+time.Second)
	}
	if r.Master.Epoch != oldEpoch+1 {
		t.Errorf("new epoch %d; want %d", r.Master.Epoch, oldEpoch+1)
	}
	if code := c.ExitCode(old); code != 137 {
		t.Errorf("killed node's exit code %d; want 137 (SIGKILL)", code)
	}
}
