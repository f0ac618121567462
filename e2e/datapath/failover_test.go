package datapath

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/status"
)

// TestIntegration_ReplayFailover replays two real days of SPY (Lean, with
// the quote zip's bid/ask on the first) and two of MSFT (Alpha Vantage, with
// extended hours) through 3 node processes (session timeout 3 s, 3
// partitions: SPY on 1, MSFT on 0). Mid-replay it kills -9 a worker that owns a fetch task
// (restarting it once its tasks moved), later the master; then lets the
// replay finish (checkpoints at the last source row, every committed offset
// at its partition's high-water mark). The quotes stored per symbol and day
// must be exactly the source's (same TS set and values: no loss, no
// duplicate), and the 5m, 1h and 1d bars exactly store.ComputeBars of the
// source.
func TestIntegration_ReplayFailover(t *testing.T) {
	t.Parallel()
	srv := sharedServers(t)
	dir := t.TempDir()
	spyFiles := leanDays(t, dir, "20131007", "20131008")
	msftFile := msftSubset(t, dir, "2020-11-24", "2020-11-25")
	want := map[string][]quote.Quote{
		"SPY":  sourceQuotes(t, "SPY", spyFiles...),
		"MSFT": sourceQuotes(t, "MSFT", msftFile),
	}
	last := map[string]time.Time{"SPY": lastTS(want["SPY"]), "MSFT": lastTS(want["MSFT"])}

	c := newCluster(t, srv)
	// Paced so each replay takes about 35-40 s of wall time: SPY spans 30.5 h
	// of market time (a night included), MSFT 40 h.
	addSymbol(t, c, "SPY", "replay:"+dir+"?speed=3000")
	addSymbol(t, c, "MSFT", "replay:"+msftFile+"?speed=4000")
	start := time.Now()
	c.Up(3, "--session-timeout", sessionTimeout.String(), "--partitions", "3")
	all := []string{"node-1", "node-2", "node-3"}
	r, took := c.WaitStatus(60*time.Second, "3 nodes running 2 fetch and 3 ingest tasks", func(r *status.Report) bool {
		return proctest.Master(r) != "" && len(r.Tasks) == 5 && proctest.AllRunning(r, all...)
	})
	t.Logf("cluster up, every task running after %v (master %s, epoch %d)", took.Round(time.Millisecond), r.Master.ID, r.Master.Epoch)
	st := openStore(t, srv, c.Keyspace)

	// Mid-replay: some quotes stored (ingest progress), far from all.
	total := len(want["SPY"]) + len(want["MSFT"])
	r, _ = c.WaitStatus(60*time.Second, "150 quotes ingested", func(r *status.Report) bool {
		return progress(r, "ingest") >= 150
	})
	master := r.Master.ID
	// The victim: the worker (not the master) owning most of the tasks that
	// carry data: the fetch tasks and the ingest tasks of SPY's and MSFT's
	// partitions.
	busy := map[string]int{}
	for _, id := range []string{"fetch/SPY", "fetch/MSFT", "ingest/0", "ingest/1"} {
		if o := owner(r, id); o != "" && o != master {
			busy[o]++
		}
	}
	victim := ""
	for _, n := range all {
		if busy[n] > busy[victim] {
			victim = n
		}
	}
	if victim == "" {
		t.Fatalf("every data-carrying task is on the master %s; status %+v", master, r.Tasks)
	}
	var victimTasks []string
	for _, tk := range r.Tasks {
		if tk.Owner != nil && *tk.Owner == victim {
			victimTasks = append(victimTasks, tk.ID)
		}
	}
	t.Logf("at %v: %d of %d quotes ingested; kill -9 worker %s (tasks %s), master is %s",
		time.Since(start).Round(time.Millisecond), progress(r, "ingest"), total, victim, strings.Join(victimTasks, " "), master)
	c.MustScript("kill", victim)
	var rest []string
	for _, n := range all {
		if n != victim {
			rest = append(rest, n)
		}
	}
	r, took = c.WaitStatus(sessionTimeout+10*time.Second, "the killed worker's tasks running elsewhere", func(r *status.Report) bool {
		return len(r.Tasks) == 5 && proctest.AllRunning(r, rest...)
	})
	t.Logf("worker failover: every task running on %v %v after the kill (session timeout %v)",
		rest, took.Round(time.Millisecond), sessionTimeout)
	if took > sessionTimeout+5*time.Second {
		t.Errorf("worker failover took %v; want at most session timeout + 5 s", took)
	}
	if proctest.Master(r) != master {
		t.Errorf("master changed from %s to %s on a worker's crash", master, proctest.Master(r))
	}
	c.MustScript("start", victim)

	// Later, separately: the master, once more quotes are in.
	before := progressSum(t, c)
	r, _ = c.WaitStatus(60*time.Second, "the restarted worker back and more quotes ingested", func(r *status.Report) bool {
		return len(r.Members) == 3 && proctest.AllRunning(r, all...) && progress(r, "ingest") >= 100
	})
	if done := doneYet(t.Context(), srv, st, c.Topic, last); done == "" {
		t.Fatalf("replay already finished before the master kill (%d quotes ingested before): make it slower", before)
	}
	oldEpoch := r.Master.Epoch
	var masterTasks []string
	for _, tk := range r.Tasks {
		if tk.Owner != nil && *tk.Owner == master {
			masterTasks = append(masterTasks, tk.ID)
		}
	}
	t.Logf("at %v: %d quotes ingested; kill -9 master %s (epoch %d, tasks %s)", time.Since(start).Round(time.Millisecond),
		progress(r, "ingest"), master, oldEpoch, strings.Join(masterTasks, " "))
	c.MustScript("kill", master)
	rest = slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == master })
	r, took = c.WaitStatus(sessionTimeout+10*time.Second, "a new master and every task running", func(r *status.Report) bool {
		m := proctest.Master(r)
		return m != "" && m != master && r.Master.Epoch > oldEpoch && len(r.Tasks) == 5 && proctest.AllRunning(r, rest...)
	})
	t.Logf("master failover: %s master (epoch %d), every task running on %v, %v after the kill",
		r.Master.ID, r.Master.Epoch, rest, took.Round(time.Millisecond))
	if took > sessionTimeout+5*time.Second {
		t.Errorf("master failover took %v; want at most session timeout + 5 s", took)
	}

	hw, took := waitDone(t, srv, st, c.Topic, last, 120*time.Second)
	var msgs int64
	for _, h := range hw {
		msgs += h
	}
	t.Logf("replay done %v after the master failover (%v after start): %d Kafka messages for %d source quotes (%d re-produced), offsets %v",
		took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), msgs, total, msgs-int64(total), hw)
	if msgs < int64(total) {
		t.Errorf("%d messages in Kafka; want at least the %d source quotes", msgs, total)
	}

	for _, sym := range []string{"SPY", "MSFT"} {
		days := checkQuotes(t, st, sym, want[sym])
		bars := checkBars(t, st, sym, want[sym])
		t.Logf("%s: stored rows per day %v (source %d rows); bars 5m=%d 1h=%d 1d=%d, equal to ComputeBars",
			sym, days, len(want[sym]), bars["5m"], bars["1h"], bars["1d"])
	}
}

// progressSum is the ingest progress in the current status, for logs.
func progressSum(t *testing.T, c *proctest.Cluster) int64 {
	r, err := c.Status()
	if err != nil {
		t.Logf("status: %v", err)
		return 0
	}
	return progress(r, "ingest")
}
