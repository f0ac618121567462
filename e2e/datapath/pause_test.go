package datapath

import (
	"maps"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/status"
)

// TestIntegration_ControlPauseReplay (issue 11): `stocksys task pause
// fetch/SPY` during a real replay (two Lean days of SPY, 2 node processes):
// no new quote reaches Kafka while it is paused (every partition's
// high-water mark stays put for 2 s); `task resume` continues from the
// checkpoint, and once the replay is done the stored SPY rows are exactly
// the source's (no loss, no duplicate) and the bars exactly ComputeBars of
// the source.
func TestIntegration_ControlPauseReplay(t *testing.T) {
	t.Parallel()
	srv := sharedServers(t)
	dir := t.TempDir()
	files := leanDays(t, dir, "20131007", "20131008")
	want := sourceQuotes(t, "SPY", files...)
	last := map[string]time.Time{"SPY": lastTS(want)}
	c := newCluster(t, srv)
	addSymbol(t, c, "SPY", "replay:"+dir+"?speed=3000") // about 35 s of wall time
	c.Up(2, "--session-timeout", sessionTimeout.String(), "--partitions", "2")
	all := []string{"node-1", "node-2"}
	c.WaitStatus(60*time.Second, "2 nodes running 1 fetch and 2 ingest tasks", func(r *status.Report) bool {
		return proctest.Master(r) != "" && len(r.Tasks) == 3 && proctest.AllRunning(r, all...)
	})
	st := openStore(t, srv, c.Keyspace)
	c.WaitStatus(60*time.Second, "100 quotes ingested", func(r *status.Report) bool { return progress(r, "ingest") >= 100 })

	if out, errOut, code := c.Stocksys(t.Context(), "task", "pause", "fetch/SPY", "--reason", "feed check"); code != 0 {
		t.Fatalf("task pause: exit %d: %s %s", code, out, errOut)
	}
	_, took := c.WaitStatus(5*time.Second, "fetch/SPY paused, unassigned, stopped", func(r *status.Report) bool {
		for _, tk := range r.Tasks {
			if tk.ID == "fetch/SPY" {
				return tk.Paused && tk.Owner == nil && tk.State == "unassigned"
			}
		}
		return false
	})
	t.Logf("pause: fetch/SPY stopped %v after the command returned", took.Round(time.Millisecond))
	if done := doneYet(t.Context(), srv, st, c.Topic, last); done == "" {
		t.Fatal("the replay finished before the pause: make it slower")
	}
	hw1, err := highWater(t.Context(), srv.kafka, c.Topic)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	hw2, err := highWater(t.Context(), srv.kafka, c.Topic)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(hw1, hw2) {
		t.Fatalf("quotes reached Kafka while fetch/SPY was paused: high-water marks %v -> %v", hw1, hw2)
	}
	t.Logf("paused 2 s: high-water marks stayed at %v", hw1)

	if out, errOut, code := c.Stocksys(t.Context(), "task", "resume", "fetch/SPY"); code != 0 {
		t.Fatalf("task resume: exit %d: %s %s", code, out, errOut)
	}
	hw, took := waitDone(t, srv, st, c.Topic, last, 120*time.Second)
	t.Logf("resumed: replay done %v later, offsets %v", took.Round(time.Millisecond), hw)
	days := checkQuotes(t, st, "SPY", want)
	bars := checkBars(t, st, "SPY", want)
	t.Logf("SPY: stored rows per day %v (source %d rows); bars 5m=%d 1h=%d 1d=%d, equal to ComputeBars", days, len(want), bars["5m"], bars["1h"], bars["1d"])
}
