package datapath

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/verify"
)

// spyTicks is the number of trades in the real SPY tick zip of 2013-10-07.
const spyTicks = 250_601

// tickRate paces the SPY tick replay (rows per second): 250,601 trades in
// about 42 s, a load the 3 nodes, Kafka and Cassandra of this 2-core machine
// keep up with while still leaving time to kill nodes mid-replay.
const tickRate = 6000

// fetchedShare returns the share of ticks (sorted by time) at or before the
// symbol's fetch checkpoint: how far the fetch task got.
func fetchedShare(t *testing.T, st *store.Store, symbol string, ticks []zipTick) float64 {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cp, _, found, err := st.LoadCheckpoint(ctx, symbol)
	if err != nil || !found {
		return 0
	}
	n := sort.Search(len(ticks), func(i int) bool { return ticks[i].ts.After(cp) })
	return float64(n) / float64(len(ticks))
}

// waitFetched waits until the fetch checkpoint of symbol passed share of
// the ticks.
func waitFetched(t *testing.T, st *store.Store, symbol string, ticks []zipTick, share float64, limit time.Duration) float64 {
	t.Helper()
	start := time.Now()
	var got float64
	for time.Since(start) < limit {
		if got = fetchedShare(t, st, symbol, ticks); got >= share {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: fetch checkpoint at %.0f%% of the ticks after %v; want %.0f%%", symbol, 100*got, limit, 100*share)
	return 0
}

// TestIntegration_TickReplayFailover replays SPY's 250,601 real trade ticks
// of 2013-10-07 (Lean tick zip, 170,996 of them sharing a millisecond) at
// tickRate rows/s through 3 node processes (session timeout 3 s, 3
// partitions). Mid-replay it kills -9 the node running the ingest task of
// SPY's partition (restarting it once the tasks moved), later the master
// (restarted too); then waits until the replay is done (checkpoint at the
// last tick, every committed offset at its partition's high-water mark).
// It reads the zip itself (archive/zip, strings.Split) and asserts: exactly
// 250,601 ticks stored for the day, each (ts, seq, price, size) the zip's
// line; every stored flag a suspicious line or an off-median print by the
// documented rule computed here (and every such tick flagged); and the
// stored 1m/5m/1h/1d bars equal to the test's own aggregation of the
// unflagged trades (Eastern windows, VWAP = sum(price*size)/sum(size),
// relative tolerance 1e-9).
func TestIntegration_TickReplayFailover(t *testing.T) {
	t.Parallel()
	srv := sharedServers(t)
	tickDir := testenv.SharedData(t, "lean-ticks")
	zipPath := filepath.Join(tickDir, "spy", "20131007_trade.zip")
	want, bad := readZipTicks(t, zipPath)
	if len(want) != spyTicks || len(bad) != 0 {
		t.Fatalf("%s: %d good trade lines, bad lines %v; want %d good, none bad", zipPath, len(want), bad, spyTicks)
	}
	if !slices.IsSortedFunc(want, func(a, b zipTick) int { return a.ts.Compare(b.ts) }) {
		t.Fatalf("%s: lines not in time order", zipPath)
	}
	shared := 0
	for i, z := range want {
		if z.seq > 0 || i+1 < len(want) && want[i+1].seq > 0 {
			shared++
		}
	}
	t.Logf("zip: %d trades, %d sharing a millisecond, %s .. %s Eastern", len(want), shared,
		want[0].ts.In(quote.Eastern).Format("15:04:05.000"), want[len(want)-1].ts.In(quote.Eastern).Format("15:04:05.000"))
	last := map[string]time.Time{"SPY": want[len(want)-1].ts}

	c := newCluster(t, srv)
	spec := "replay:" + tickDir + "?rate=" + strconv.Itoa(tickRate)
	addSymbol(t, c, "SPY", spec)
	start := time.Now()
	c.Up(3, "--session-timeout", sessionTimeout.String(), "--partitions", "3")
	all := []string{"node-1", "node-2", "node-3"}
	r, took := c.WaitStatus(60*time.Second, "3 nodes running 1 fetch and 3 ingest tasks", func(r *status.Report) bool {
		return proctest.Master(r) != "" && len(r.Tasks) == 4 && proctest.AllRunning(r, all...)
	})
	t.Logf("cluster up, every task running after %v (master %s, epoch %d)", took.Round(time.Millisecond), r.Master.ID, r.Master.Epoch)
	st := openStore(t, srv, c.Keyspace)

	// Mid-replay: the node ingesting SPY's partition (the one ingest task
	// with progress).
	share := waitFetched(t, st, "SPY", want, 0.2, 60*time.Second)
	r, _ = c.WaitStatus(30*time.Second, "SPY's partition ingesting", func(r *status.Report) bool {
		return spyIngest(r) != ""
	})
	ingest := spyIngest(r)
	victim, master := owner(r, ingest), r.Master.ID
	t.Logf("at %v: fetch at %.0f%% of the ticks, %d ingested by %s on %s; kill -9 %s (master is %s, fetch/SPY on %s)",
		time.Since(start).Round(time.Millisecond), 100*share, progress(r, "ingest"), ingest, victim, victim, master, owner(r, "fetch/SPY"))
	c.MustScript("kill", victim)
	rest := slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == victim })
	r, took = c.WaitStatus(sessionTimeout+15*time.Second, "every task running on the two others", func(r *status.Report) bool {
		return proctest.Master(r) != "" && len(r.Tasks) == 4 && proctest.AllRunning(r, rest...)
	})
	t.Logf("failover: every task running on %v %v after the kill (%s now on %s, master %s epoch %d)",
		rest, took.Round(time.Millisecond), ingest, owner(r, ingest), r.Master.ID, r.Master.Epoch)
	c.MustScript("start", victim)

	// Later: the master.
	share = waitFetched(t, st, "SPY", want, 0.6, 90*time.Second)
	r, _ = c.WaitStatus(60*time.Second, "the restarted node back, every task running", func(r *status.Report) bool {
		return len(r.Members) == 3 && proctest.Master(r) != "" && proctest.AllRunning(r, all...)
	})
	if done := doneYet(t.Context(), srv, st, c.Topic, last); done == "" {
		t.Fatalf("replay already done before the master kill: make it slower")
	}
	master, oldEpoch := r.Master.ID, r.Master.Epoch
	var masterTasks []string
	for _, tk := range r.Tasks {
		if tk.Owner != nil && *tk.Owner == master {
			masterTasks = append(masterTasks, tk.ID)
		}
	}
	t.Logf("at %v: fetch at %.0f%% of the ticks; kill -9 master %s (epoch %d, tasks %s)",
		time.Since(start).Round(time.Millisecond), 100*share, master, oldEpoch, strings.Join(masterTasks, " "))
	c.MustScript("kill", master)
	rest = slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == master })
	r, took = c.WaitStatus(sessionTimeout+15*time.Second, "a new master and every task running", func(r *status.Report) bool {
		m := proctest.Master(r)
		return m != "" && m != master && r.Master.Epoch > oldEpoch && len(r.Tasks) == 4 && proctest.AllRunning(r, rest...)
	})
	t.Logf("master failover: %s master (epoch %d), every task running on %v, %v after the kill",
		r.Master.ID, r.Master.Epoch, rest, took.Round(time.Millisecond))
	c.MustScript("start", master)

	hw, took := waitDone(t, srv, st, c.Topic, last, 5*time.Minute)
	total := time.Since(start)
	var msgs int64
	for _, h := range hw {
		msgs += h
	}
	t.Logf("replay done %v after the master failover, %v after the nodes started: %.0f ticks/s end to end (paced at %d/s: %.1f s); "+
		"%d Kafka messages for %d ticks (%d re-produced), offsets %v",
		took.Round(time.Millisecond), total.Round(time.Millisecond), float64(len(want))/total.Seconds(), tickRate,
		float64(len(want))/tickRate, msgs, len(want), msgs-int64(len(want)), hw)
	if msgs < int64(len(want)) {
		t.Errorf("%d messages in Kafka; want at least the %d ticks", msgs, len(want))
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	days, err := st.Days(ctx, "SPY", epoch0, farEnd)
	if err != nil || len(days) != 1 || days[0].Format(time.DateOnly) != "2013-10-07" {
		t.Errorf("SPY stored days %v, %v; want [2013-10-07]", days, err)
	}
	flags, _ := checkTicksAgainstZip(t, st, "SPY", want)
	checkFlags(t, "SPY", want, flags)
	bars := checkOwnBars(t, st, "SPY", want, flags)
	t.Logf("SPY: bars 1m=%d 5m=%d 1h=%d 1d=%d equal to the test's aggregation of the zip (%d flagged ticks left out)",
		bars["1m"], bars["5m"], bars["1h"], bars["1d"], len(flags))

	// stocksys verify's data check on the same store (it reads the zip with
	// the quote package's reader) and stocksys query ticks on the real rows.
	vctx, vcancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer vcancel()
	vstart := time.Now()
	ds, vs, err := verify.CheckData(vctx, st, verify.DataConfig{Sources: map[string]string{"SPY": spec}, Settled: true}, []string{"SPY"})
	if err != nil {
		t.Fatalf("verify.CheckData: %v", err)
	}
	for _, v := range vs {
		t.Errorf("verify: %s", v.Detail)
	}
	t.Logf("verify.CheckData in %v: %+v", time.Since(vstart).Round(time.Millisecond), ds)
	out, errOut, code := c.Stocksys(vctx, "query", "ticks", "SPY", "--day", "2013-10-07", "--limit", "3", "--json",
		"--keyspace", c.Keyspace, "--consistency", "ONE")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("stocksys query ticks: exit %d, %d lines\n%s%s", code, len(lines), out, errOut)
	}
	for i, line := range lines {
		var got struct {
			TS    string  `json:"ts"`
			Seq   int32   `json:"seq"`
			Price float64 `json:"price"`
			Size  int64   `json:"size"`
		}
		z := want[i]
		if err := json.Unmarshal([]byte(line), &got); err != nil || got.TS != z.ts.Format("2006-01-02T15:04:05.000Z") ||
			got.Seq != z.seq || got.Price != z.price() || got.Size != z.size {
			t.Errorf("query ticks line %d: %s (%v); want zip line %d: %s seq %d price %v size %d", i+1, line, err, z.line,
				z.ts.Format(time.RFC3339Nano), z.seq, z.price(), z.size)
		}
	}
	t.Logf("TestIntegration_TickReplayFailover: %v in all", time.Since(start).Round(time.Second))
}

// spyIngest returns the ingest task that has ingested quotes (SPY is the
// only symbol, so its partition's), or "".
func spyIngest(r *status.Report) string {
	id := ""
	for _, tk := range r.Tasks {
		if tk.Type == "ingest" && tk.Progress > 0 && tk.Owner != nil && tk.State == "running" {
			if id != "" {
				return "" // two: not SPY's alone
			}
			id = tk.ID
		}
	}
	return id
}

// TestIntegration_TickReplayBadLines replays a small trade tick zip written
// here, its good lines mixed with bad ones (too few fields, a zero and a
// negative price, size 0, a size that is not a number, a time past
// midnight), through 3 node processes. Every good tick (a suspicious one
// included, stored flagged) must be stored with the seq of its place among
// the good ticks of its millisecond, no bad one; the nodes' /metrics count
// the rejects by reason in stocksys_quotes_rejected_total{symbol,reason};
// the fetch node's log names each bad line with its file and line number.
func TestIntegration_TickReplayBadLines(t *testing.T) {
	t.Parallel()
	srv := sharedServers(t)
	dir := t.TempDir()
	const sym = "TST"
	zipPath := filepath.Join(dir, "tst", "20131007_trade.zip")
	base := int64(9*3_600_000 + 30*60_000) // 09:30 Eastern
	var lines []string
	good := func(ms int64, px, size int64, susp int) {
		lines = append(lines, fmt.Sprintf("%d,%d,%d,P,20002000,%d", ms, px, size, susp))
	}
	badLines := map[string]string{} // line text -> reason
	badLine := func(text, reason string) {
		lines = append(lines, text)
		badLines[text] = reason
	}
	for i := range int64(60) {
		ms := base + i*1500
		good(ms, 1680000+(i%7)*100, 100+i, 0)
		switch i {
		case 5:
			badLine(fmt.Sprintf("%d,1680000,100,P,20002000", ms), "bad_fields") // too few fields, in the same ms as good ones
			good(ms, 1680100, 300, 0)                                           // seq 1: the bad line takes no seq
		case 10:
			badLine(fmt.Sprintf("%d,0,100,P,20002000,0", ms), "non_positive_price")
		case 15:
			badLine(fmt.Sprintf("%d,-1680000,100,P,20002000,0", ms), "non_positive_price")
		case 20:
			badLine(fmt.Sprintf("%d,1680000,0,P,20002000,0", ms), "bad_size")
			good(ms, 1680200, 50, 0)
		case 25:
			badLine(fmt.Sprintf("%d,1680000,abc,P,20002000,0", ms), "bad_size")
		case 30:
			badLine("86400000,1680000,100,P,20002000,0", "bad_time") // 24:00:00.000: past midnight
		case 40:
			good(ms+1, 1690000, 10, 1) // suspicious: stored flagged, not in bars
		}
	}
	writeTickZip(t, zipPath, "20131007_tst_Trade_Tick.csv", lines)
	want, badNos := readZipTicks(t, zipPath)
	if len(badNos) != len(badLines) {
		t.Fatalf("the test's own reader refuses lines %v; want the %d bad ones", badNos, len(badLines))
	}
	wantReasons := map[string]float64{}
	for _, reason := range badLines {
		wantReasons[reason]++
	}
	t.Logf("%s: %d lines, %d good (%d with seq > 0), bad lines %v", zipPath, len(lines), len(want), countSeq(want), badNos)

	c := newCluster(t, srv)
	addSymbol(t, c, sym, "replay:"+dir+"?speed=max")
	start := time.Now()
	c.Up(3, "--session-timeout", sessionTimeout.String(), "--partitions", "3")
	all := []string{"node-1", "node-2", "node-3"}
	r, _ := c.WaitStatus(60*time.Second, "3 nodes running every task", func(r *status.Report) bool {
		return proctest.Master(r) != "" && len(r.Tasks) == 4 && proctest.AllRunning(r, all...)
	})
	fetchNode := owner(r, "fetch/"+sym)
	st := openStore(t, srv, c.Keyspace)
	_, took := waitDone(t, srv, st, c.Topic, map[string]time.Time{sym: want[len(want)-1].ts}, 90*time.Second)
	t.Logf("replay done %v after every task ran (%v after start); fetch/%s on %s", took.Round(time.Millisecond),
		time.Since(start).Round(time.Millisecond), sym, fetchNode)

	flags, _ := checkTicksAgainstZip(t, st, sym, want)
	checkFlags(t, sym, want, flags)
	if len(flags) != 1 {
		t.Errorf("%d stored flags %v; want the one suspicious tick", len(flags), flags)
	}
	checkOwnBars(t, st, sym, want, flags)

	// Rejects by reason, summed over the nodes (only the fetch node should
	// have any).
	got := map[string]float64{}
	for i, n := range all {
		samples, err := metricSamples(c.HTTPBase, i+1, "stocksys_quotes_rejected_total")
		if err != nil {
			t.Errorf("%s /metrics: %v", n, err)
			continue
		}
		for labels, v := range samples {
			if !strings.Contains(labels, `symbol="`+sym+`"`) {
				continue
			}
			reason := labels[strings.Index(labels, `reason="`)+len(`reason="`):]
			reason = reason[:strings.IndexByte(reason, '"')]
			got[reason] += v
			if n != fetchNode && v > 0 {
				t.Errorf("%s (not the fetch node %s) counts %v rejects %s", n, fetchNode, v, labels)
			}
		}
	}
	js, _ := json.Marshal(got)
	t.Logf("stocksys_quotes_rejected_total{symbol=%q} by reason: %s", sym, js)
	for reason, n := range wantReasons {
		if got[reason] != n {
			t.Errorf("rejects %s: %v counted; want %v", reason, got[reason], n)
		}
	}
	for reason, n := range got {
		if _, ok := wantReasons[reason]; !ok {
			t.Errorf("rejects %s: %v counted; want none", reason, n)
		}
	}

	// The log names each bad line with the file and line number.
	type rejectLog struct {
		Msg    string `json:"msg"`
		File   string `json:"file"`
		Line   int    `json:"line"`
		Reason string `json:"reason"`
		Symbol string `json:"symbol"`
	}
	logged := map[int]rejectLog{}
	for _, ln := range strings.Split(c.Log(fetchNode), "\n") {
		if !strings.Contains(ln, "rejected") || !strings.Contains(ln, "20131007_trade.zip") {
			continue
		}
		var e rejectLog
		if json.Unmarshal([]byte(ln), &e) == nil && e.Line > 0 {
			logged[e.Line] = e
		}
	}
	for _, no := range badNos {
		e, ok := logged[no]
		text := lines[no-1]
		if !ok {
			t.Errorf("%s's log has no reject of line %d (%q) with file and line", fetchNode, no, text)
			continue
		}
		if e.File != zipPath || e.Reason != badLines[text] || e.Symbol != sym {
			t.Errorf("line %d (%q) logged as %+v; want file %s, reason %s, symbol %s", no, text, e, zipPath, badLines[text], sym)
		}
	}
	if len(logged) != len(badNos) {
		t.Errorf("%d lines logged as rejected (%v); want %v", len(logged), keysOf(logged), badNos)
	}
}

func countSeq(ts []zipTick) int {
	n := 0
	for _, z := range ts {
		if z.seq > 0 {
			n++
		}
	}
	return n
}

func keysOf[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
