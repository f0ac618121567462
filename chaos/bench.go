package chaos

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gocql/gocql"

	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/status"
)

// Trial is one benchmark failover: the master signalled at Signalled.
type Trial struct {
	Signal    string // KILL or TERM
	Node      string
	PID       int
	Epoch     int64 // the deposed master's epoch
	Signalled time.Time
	Recovered time.Time // new master and every task running, as polled
	// Raw is ZooKeeper's own close-session -> watch latency (CloseToWatch,
	// one sample) taken in the steady stream a second before the signal:
	// the floor under the same load as the trial; 0 if the probe failed.
	Raw time.Duration
}

// rejoinAfter is how long after a trial's recovery BenchTrials restarts the
// signalled node: past the window in which the failover's stored-quote gap
// is measured (until 1 s after every task runs again).
const rejoinAfter = 1200 * time.Millisecond

// BenchTrials signals the master trials times with each of sig (alternating),
// waiting each time for a new master with every task running on the others,
// then (rejoinAfter later) restarting the node and waiting for all nodes to
// run every task again. Each fault is recorded in events.jsonl (so verify.Failovers sees
// it). progress receives one line per trial.
func (r *Runner) BenchTrials(ctx context.Context, trials int, sigs []syscall.Signal, progress func(string)) ([]Trial, error) {
	var out []Trial
	for i := 0; i < trials; i++ {
		for _, sig := range sigs {
			if err := r.waitAllRunning(ctx, 60*time.Second); err != nil {
				return out, err
			}
			if err := sleepCtx(ctx, time.Second); err != nil { // a steady stream before the fault
				return out, err
			}
			var raw time.Duration
			if ds, err := CloseToWatch(r.Env.Ports.ZKServers(), "/stocksys/chaos-bench-probe", 1); err == nil && len(ds) == 1 {
				raw = ds[0]
			}
			if err := sleepCtx(ctx, time.Second); err != nil {
				return out, err
			}
			st, err := r.Status()
			if err != nil || st.Master == nil {
				return out, fmt.Errorf("chaos: bench: no master: %v", err)
			}
			id, epoch := st.Master.ID, st.Master.Epoch
			name := map[syscall.Signal]string{syscall.SIGKILL: "KILL", syscall.SIGTERM: "TERM"}[sig]
			t := Trial{Signal: name, Node: id, Epoch: epoch, Signalled: time.Now(), Raw: raw}
			if t.PID, err = r.Env.Signal(id, sig); err != nil {
				return out, err
			}
			r.record(Event{T: t.Signalled, Kind: KindKill, Phase: PhaseInject, Target: TargetMaster, Node: id, PID: t.PID, Signal: name, Detail: "bench"})
			for {
				st, err := r.Status()
				if err == nil && st.Master != nil && st.Master.Epoch > epoch && allRunningWithout(st, id, r.M.Nodes-1) {
					t.Recovered = time.Now()
					break
				}
				if time.Since(t.Signalled) > 60*time.Second {
					return out, fmt.Errorf("chaos: bench: no recovery within 60s after SIG%s of %s", name, id)
				}
				if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
					return out, err
				}
			}
			out = append(out, t)
			progress(fmt.Sprintf("trial %d SIG%s %s (epoch %d): recovered after %v", len(out), name, id, epoch, t.Recovered.Sub(t.Signalled).Round(time.Millisecond)))
			// The node is gone (kill) or leaving (term): wait for its exit,
			// and restart it once the failover's measures are taken (the
			// stored-quote gap is looked for until 1 s after every task
			// runs again): its rejoin moves tasks back to it, a handover of
			// its own that must not count as this failover's.
			if err := sleepCtx(ctx, time.Until(t.Recovered.Add(rejoinAfter))); err != nil {
				return out, err
			}
			for j := 0; j < 300 && r.Env.NodePID(id) != 0; j++ {
				_ = sleepCtx(ctx, 100*time.Millisecond)
			}
			if err := r.Env.ClusterSh(ctx, "start", id); err != nil {
				return out, err
			}
		}
	}
	return out, r.waitAllRunning(ctx, 60*time.Second)
}

// allRunningWithout reports whether n members other than gone run every
// task, with a master and no task unassigned.
func allRunningWithout(st *status.Report, gone string, n int) bool {
	if !AllRunning(st, n) {
		return false
	}
	for _, m := range st.Members {
		if m.ID == gone {
			return false
		}
	}
	return true
}

// CloseToWatch measures ZooKeeper's raw close-session -> watch latency n
// times: session A creates an ephemeral znode, session B sets an exists
// watch on it, A closes its session; the time from A's Close until B's
// watch event.
func CloseToWatch(servers []string, root string, n int) ([]time.Duration, error) {
	b, evB, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return nil, err
	}
	defer b.Close()
	go func() {
		for range evB {
		}
	}()
	for _, p := range []string{root, path.Join(root, "bench")} {
		if _, err := b.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			return nil, err
		}
	}
	var out []time.Duration
	for i := 0; i < n; i++ {
		a, evA, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			return out, err
		}
		go func() {
			for range evA {
			}
		}()
		p := path.Join(root, "bench", fmt.Sprintf("probe-%d", i))
		if _, err := a.Create(p, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			a.Close()
			return out, err
		}
		// B may be connected to a follower that has not applied A's create
		// yet: sync it first (ZooKeeper orders reads per client only).
		if _, err := b.Sync(p); err != nil {
			a.Close()
			return out, err
		}
		ok, _, w, err := b.ExistsW(p)
		if err != nil || !ok {
			a.Close()
			return out, fmt.Errorf("chaos: exists %s: %v %v", p, ok, err)
		}
		t0 := time.Now()
		a.Close()
		select {
		case <-w:
			out = append(out, time.Since(t0))
		case <-time.After(10 * time.Second):
			return out, fmt.Errorf("chaos: no watch event within 10s of closing the session")
		}
	}
	return out, nil
}

// Stored is one stored quote's bar time and when Cassandra last wrote it.
type Stored struct{ TS, Written time.Time }

// WriteTimes returns, per symbol, every stored quote's TS and write time
// (WRITETIME of close: the last write of the row), in write order.
func WriteTimes(m *Manifest) (map[string][]Stored, error) {
	cl := gocql.NewCluster(strings.Split(m.Cassandra, ",")...)
	cl.Keyspace, cl.Consistency, cl.Timeout = m.Keyspace, gocql.One, 10*time.Second
	s, err := cl.CreateSession()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	out := map[string][]Stored{}
	for sym := range m.Symbols {
		it := s.Query(`SELECT day FROM quote_days WHERE symbol = ?`, sym).Iter()
		var days []time.Time
		var d time.Time
		for it.Scan(&d) {
			days = append(days, d)
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
		for _, day := range days {
			it := s.Query(`SELECT ts, WRITETIME(close) FROM quotes WHERE symbol = ? AND day = ?`, sym, day).Iter()
			var ts time.Time
			var us int64
			for it.Scan(&ts, &us) {
				out[sym] = append(out[sym], Stored{TS: ts, Written: time.UnixMicro(us)})
			}
			if err := it.Close(); err != nil {
				return nil, err
			}
		}
		sort.Slice(out[sym], func(i, j int) bool { return out[sym][i].Written.Before(out[sym][j].Written) })
	}
	return out, nil
}

// LargestGap returns the largest wait for a stored quote that overlaps
// [from, to], over all symbols: the time between consecutive write times
// minus the replay's own pacing between them (their bar-time distance
// divided by the symbol's replay speed, from speeds), so market gaps
// (nights, sparse pre-market minutes) do not count.
func LargestGap(wt map[string][]Stored, speeds map[string]float64, from, to time.Time) (time.Duration, string) {
	return largestGap(wt, speeds, func(prev, next time.Time) bool { return !next.Before(from) && !prev.After(to) })
}

// LargestGapWithin is LargestGap counting only the waits that start and end
// in [from, to] (a steady window before a fault, whose first gap after the
// window belongs to the fault).
func LargestGapWithin(wt map[string][]Stored, speeds map[string]float64, from, to time.Time) (time.Duration, string) {
	return largestGap(wt, speeds, func(prev, next time.Time) bool { return !prev.Before(from) && !next.After(to) })
}

// largestGap returns the largest paced wait between consecutive writes for
// which in(prev, next) holds, and its symbol.
func largestGap(wt map[string][]Stored, speeds map[string]float64, in func(prev, next time.Time) bool) (time.Duration, string) {
	var best time.Duration
	var sym string
	for s, ws := range wt {
		sp := speeds[s]
		for i := 1; i < len(ws); i++ {
			if !in(ws[i-1].Written, ws[i].Written) {
				continue
			}
			g := ws[i].Written.Sub(ws[i-1].Written)
			if sp > 0 {
				if pace := time.Duration(float64(ws[i].TS.Sub(ws[i-1].TS)) / sp); pace > 0 {
					g -= pace
				}
			}
			if g > best {
				best, sym = g, s
			}
		}
	}
	return best, sym
}

// Speeds returns each symbol's replay speed from the manifest's specs.
func (m *Manifest) Speeds() map[string]float64 {
	out := map[string]float64{}
	for s, spec := range m.Symbols {
		if sp, err := quote.ParseSpec(spec); err == nil {
			out[s] = sp.Speed
		}
	}
	return out
}
