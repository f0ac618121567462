package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stock-system/stocksys/chaos"
	"github.com/stock-system/stocksys/verify"
)

func newChaosBenchCmd(o *chaosOpts) *cobra.Command {
	var (
		trials int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Failover benchmark: kill -9 and SIGTERM of the master, N trials each, on a private cluster",
		Long: `bench starts the private servers and cluster as chaos does (no proxy, no random faults),
then, --trials times each, sends SIGKILL and SIGTERM to the master, waits for a new master with
every task running on the other nodes, and restarts the node 1.2 s later (after the window in
which (c) is measured: its rejoin is a handover of its own). From the audit trails it reports
p50/p95/max, in milliseconds and in multiples of the session timeout, of (a) the new master
acting (its first accepted fenced write), (b) every task running again, (c) the largest gap in
stored quotes of a symbol (Cassandra WRITETIME of consecutive quotes, less the replay's pacing)
from the signal until 1 s after (b), and (c') the same over as long a window of the steady stream
just before the signal (at most 1.8 s: the data path's own stalls, without a failover), beside
ZooKeeper's raw close-session -> watch latency measured in the same run (once a second before
each signal, under the trials' load, and 2N times after the trials), and a table of the
phases of each path: signal -> new term won (session closed or expired, watch, election),
won -> first fenced write (the new master's first plan written), first write -> every task
running (documents read by the workers, runners started). Uses the chaos flags (--dir, --nodes,
--session-timeout, --port-offset ...). It also checks, from the audit trails, that no task ran on two
nodes at once and that every commit was accepted or refused by the token fence, and exits non-zero on
a violation. With --json, one JSON object instead of the tables.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, o, trials, asJSON) },
	}
	cmd.Flags().IntVar(&trials, "trials", 20, "trials of each signal")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as one JSON object")
	return cmd
}

func runBench(cmd *cobra.Command, o *chaosOpts, trials int, asJSON bool) error {
	if trials < 1 || trials > 500 {
		return fmt.Errorf("--trials %d: want 1..500", trials)
	}
	o.noProxy = true
	if !cmd.Flags().Changed("dir") {
		o.dir = ".run/chaos-bench"
	}
	cfg, err := o.config(cmd)
	if err != nil {
		return err
	}
	// Keep quotes flowing through every trial: pace the replay over the
	// expected length of the benchmark.
	cfg.Plan.Duration = time.Duration(2*trials) * (2*cfg.Plan.SessionTimeout + 8*time.Second)
	cfg.Plan.MaxFaults, cfg.Plan.Kinds = 1, []chaos.Kind{chaos.KindKill}
	out := cmd.OutOrStdout()
	if asJSON {
		out = cmd.ErrOrStderr() // progress; the JSON alone on stdout
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	r, err := chaos.Setup(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		r.Close()
		if o.down {
			dctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			_ = r.Env.Down(dctx)
		}
	}()
	fmt.Fprintf(out, "bench: %d trials each of SIGKILL and SIGTERM of the master; session timeout %v\n", trials, cfg.Plan.SessionTimeout)
	ts, err := r.BenchTrials(ctx, trials, []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM},
		func(s string) { fmt.Fprintln(out, "  "+s) })
	if err != nil {
		return err
	}
	var during []time.Duration // one probe in the steady second before each signal
	for _, t := range ts {
		if t.Raw > 0 {
			during = append(during, t.Raw)
		}
	}
	raw, err := chaos.CloseToWatch(r.Env.Ports.ZKServers(), "/stocksys/chaos-bench-probe", 2*trials)
	if err != nil {
		fmt.Fprintf(out, "bench: ZooKeeper close-session -> watch probe: %v (%d samples)\n", err, len(raw))
	}
	time.Sleep(2 * time.Second) // the last quotes land
	wt, err := chaos.WriteTimes(r.M)
	if err != nil {
		return err
	}
	events, err := chaos.ReadEvents(cfg.Dir)
	if err != nil {
		return err
	}
	tr, err := verify.LoadTrail(r.M.ClusterDir, events)
	if err != nil {
		return err
	}
	fos := verify.Failovers(tr, nil, 2*time.Second)
	byPrev := map[int64]verify.Failover{}
	for _, f := range fos {
		byPrev[f.PrevEpoch] = f
	}
	series := map[string]map[string][]time.Duration{"KILL": {}, "TERM": {}}
	for _, t := range ts {
		f, ok := byPrev[t.Epoch]
		if !ok || f.FirstWrite.IsZero() || f.AllRunning.IsZero() {
			fmt.Fprintf(out, "  trial SIG%s of %s (epoch %d): no complete failover in the audit trail\n", t.Signal, t.Node, t.Epoch)
			continue
		}
		s := series[t.Signal]
		s["acting"] = append(s["acting"], f.FirstWrite.Sub(t.Signalled))
		s["running"] = append(s["running"], f.AllRunning.Sub(t.Signalled))
		window := f.AllRunning.Add(time.Second).Sub(t.Signalled)
		g, _ := chaos.LargestGap(wt, r.M.Speeds(), t.Signalled, t.Signalled.Add(window))
		s["gap"] = append(s["gap"], g)
		// The same measure over the steady stream before the signal (every
		// task running for 2 s, chaos.BenchTrials): what the data path's own
		// stalls (batch writes to Cassandra) give without a failover.
		steady := t.Signalled.Add(-steadyMargin)
		g, _ = chaos.LargestGapWithin(wt, r.M.Speeds(), steady.Add(-min(window, steadyWindow)), steady)
		s["gap_steady"] = append(s["gap_steady"], g)
		s["phase_won"] = append(s["phase_won"], f.Elected.Sub(t.Signalled))
		s["phase_write"] = append(s["phase_write"], f.FirstWrite.Sub(f.Elected))
		s["phase_running"] = append(s["phase_running"], f.AllRunning.Sub(f.FirstWrite))
	}
	// No weaker invariants for speed: no task ran on two nodes at once, and
	// every commit was accepted or fenced (no SIGSTOP here: no grace).
	osum, vs := verify.CheckOwners(tr, 0)
	csum, cvs := verify.CheckCommits(tr)
	vs = append(vs, cvs...)
	inv := benchInvariants{Runs: osum.Runs, Tasks: osum.Tasks, MinHandoverMS: float64(osum.MinHandover.Microseconds()) / 1000,
		Commits: csum.Commits, Refused: csum.Refused}
	for _, v := range vs {
		inv.Violations = append(inv.Violations, "["+v.Check+"] "+v.Detail)
	}
	if asJSON {
		if err := writeBenchJSON(cmd.OutOrStdout(), cfg.Plan.SessionTimeout, trials, series, raw, during, inv); err != nil {
			return err
		}
	} else {
		writeBenchTable(out, cfg.Plan.SessionTimeout, trials, series, raw, during)
		fmt.Fprintf(out, "\ninvariants (audit trails): %d task runs of %d tasks, least handover %.1f ms, %d commits (%d refused by the token fence), %d violations\n",
			inv.Runs, inv.Tasks, inv.MinHandoverMS, inv.Commits, inv.Refused, len(inv.Violations))
		for _, v := range inv.Violations {
			fmt.Fprintln(out, "  "+v)
		}
	}
	if len(inv.Violations) > 0 {
		return fmt.Errorf("bench: %d invariant violations in the audit trails", len(inv.Violations))
	}
	return nil
}

// benchInvariants is what the audit trails say about the invariants during
// the benchmark (verify.CheckOwners, verify.CheckCommits).
type benchInvariants struct {
	Runs          int      `json:"task_runs"`
	Tasks         int      `json:"tasks"`
	MinHandoverMS float64  `json:"min_task_handover_ms"` // least gap between one owner's stop and the next's start
	Commits       int      `json:"commits"`
	Refused       int      `json:"commits_refused"` // stale tokens stopped by the fence
	Violations    []string `json:"violations"`      // empty when none
}

// A trial's steady-state gap window ends steadyMargin before its signal and
// is as long as its failover window, at most steadyWindow (inside the 2 s of
// steady stream chaos.BenchTrials waits before each signal).
const (
	steadyMargin = 100 * time.Millisecond
	steadyWindow = 1800 * time.Millisecond
)

// zkTick is the private ZooKeeper's tickTime as scripts/infra.sh sets it.
func zkTick() string {
	if v := os.Getenv("STOCKSYS_ZK_TICK_MS"); v != "" {
		return v + " ms"
	}
	return "50 ms"
}

// benchStat is one measure's distribution in the --json output, in ms.
type benchStat struct {
	N     int     `json:"n"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	P99xT float64 `json:"p99_x_session_timeout"`
}

func statOf(ds []time.Duration, st time.Duration) benchStat {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return benchStat{N: len(ds), P50: ms(pct(ds, .5)), P95: ms(pct(ds, .95)), P99: ms(pct(ds, .99)), Max: ms(pct(ds, 1)),
		P99xT: math.Round(1000*pct(ds, .99).Seconds()/st.Seconds()) / 1000}
}

// writeBenchJSON writes {"session_timeout_ms", "trials", "kill": {measure:
// stat}, "term": {...}, "zk_close_to_watch": stat (probed after the
// trials), "zk_close_to_watch_during": stat (one probe before each signal,
// under the trials' load), "invariants": benchInvariants}; the measures are acting,
// running, gap, gap_steady (the largest gap in a window as long before the
// signal) and the phases phase_won, phase_write, phase_running.
func writeBenchJSON(w io.Writer, st time.Duration, trials int, series map[string]map[string][]time.Duration, raw, during []time.Duration, inv benchInvariants) error {
	if inv.Violations == nil {
		inv.Violations = []string{}
	}
	out := map[string]any{"session_timeout_ms": st.Milliseconds(), "trials": trials, "zk_close_to_watch": statOf(raw, st),
		"zk_close_to_watch_during": statOf(during, st), "invariants": inv}
	for sig, ms := range series {
		m := map[string]benchStat{}
		for name, ds := range ms {
			m[name] = statOf(ds, st)
		}
		out[strings.ToLower(sig)] = m
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func writeBenchTable(w io.Writer, st time.Duration, trials int, series map[string]map[string][]time.Duration, raw, during []time.Duration) {
	fmt.Fprintf(w, "\nfailover benchmark: %d trials per signal, 3 nodes, session timeout %v (ZooKeeper tick %s)\n\n", trials, st, zkTick())
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| fault | measure | n | p50 | p95 | p99 | max |")
	fmt.Fprintln(tw, "|---|---|---|---|---|---|---|")
	cell := func(d time.Duration) string {
		return fmt.Sprintf("%d ms (%.2f×)", d.Milliseconds(), d.Seconds()/st.Seconds())
	}
	names := map[string]string{"acting": "(a) new master acting (first fenced write)", "running": "(b) all tasks running again",
		"gap": "(c) largest gap in stored quotes", "gap_steady": "(c') the same, in as long a window before the signal"}
	row := func(fault, name string, ds []time.Duration) {
		fmt.Fprintf(tw, "| %s | %s | %d | %s | %s | %s | %s |\n", fault, name, len(ds), cell(pct(ds, .5)), cell(pct(ds, .95)), cell(pct(ds, .99)), cell(pct(ds, 1)))
	}
	for _, sig := range []string{"KILL", "TERM"} {
		for _, m := range []string{"acting", "running", "gap", "gap_steady"} {
			row("SIG"+sig+" master", names[m], series[sig][m])
		}
	}
	row("—", "ZooKeeper close-session -> watch (raw), after the trials", raw)
	row("—", "the same, a second before each signal (the trials' load)", during)
	tw.Flush()
	fmt.Fprintf(w, "\nphases (each from the end of the one before; from the audit trails):\n\n")
	tw = tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| fault | phase | n | p50 | p95 | p99 | max |")
	fmt.Fprintln(tw, "|---|---|---|---|---|---|---|")
	phases := map[string]string{"phase_won": "1. signal -> new term won (session closed or expired, watch, election)",
		"phase_write": "2. won -> first fenced write (first plan written)", "phase_running": "3. first write -> every task running"}
	for _, sig := range []string{"KILL", "TERM"} {
		for _, m := range []string{"phase_won", "phase_write", "phase_running"} {
			row("SIG"+sig+" master", phases[m], series[sig][m])
		}
	}
	tw.Flush()
}
