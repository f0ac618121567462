package quote

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/stock-system/stocksys/internal/testenv"
)

// TestReplayTickRejects replays a tick folder with bad lines: the rejects go
// to Options.Rejected and the log, the good ticks are replayed in Position
// order, and resuming mid-millisecond gives exactly the rest.
func TestReplayTickRejects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "xyz", "20131007_trade.zip")
	writeZip(t, path, "20131007_xyz_Trade_Tick.csv", badTrades)
	core, logs := observer.New(zap.InfoLevel)
	type call struct {
		symbol string
		reason RejectReason
		line   int
	}
	var calls []call
	r, err := New("replay:"+dir+"?speed=max", Options{Logger: zap.New(core), MaxBatch: 2,
		Rejected: func(symbol string, reason RejectReason, err error) {
			var tr *TickReject
			if !errors.As(err, &tr) || tr.File != path || tr.Reason != reason {
				t.Errorf("Rejected err %v", err)
				return
			}
			calls = append(calls, call{symbol, reason, tr.Line})
		}})
	if err != nil {
		t.Fatal(err)
	}
	all := drain(t, r, "XYZ", time.Time{})
	if len(all) != 6 || all[3].Seq != 3 || all[4].TS != edt(4, 0, 0, 1) {
		t.Fatalf("replayed:\n%s", dumpQuotes(all))
	}
	want, _, _ := ReadLeanTickZip(path, "XYZ")
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("replay differs from the reader:\n%s\nwant\n%s", dumpQuotes(all), dumpQuotes(want))
	}
	if len(calls) != 12 || calls[0] != (call{"XYZ", ReasonBadFields, 2}) || calls[11] != (call{"XYZ", ReasonBadSize, 18}) {
		t.Fatalf("Rejected calls %+v", calls)
	}
	warns := logs.FilterMessage("replay: tick line rejected").All()
	if len(warns) != 12 || warns[0].Level != zap.WarnLevel {
		t.Fatalf("%d reject warnings", len(warns))
	}
	f := warns[5].ContextMap()
	if f["file"] != path || f["line"] != int64(8) || f["reason"] != "bad_time" || f["symbol"] != "XYZ" {
		t.Fatalf("warning fields %v", f)
	}
	// Resume after the tick of seq 1 (a position inside a millisecond).
	rest := drain(t, r, "XYZ", all[1].Position())
	if len(rest) != 4 || rest[0].Seq != 2 || !reflect.DeepEqual(rest, all[2:]) {
		t.Fatalf("after %v:\n%s", all[1].Position(), dumpQuotes(rest))
	}
	// A checkpoint inside the millisecond after its last tick's position:
	// the next millisecond's first tick.
	if rest := drain(t, r, "XYZ", all[0].TS.Add(500)); !reflect.DeepEqual(rest, all[4:]) {
		t.Fatalf("after %v:\n%s", all[0].TS.Add(500), dumpQuotes(rest))
	}
	// A second symbol reading the same file (file path spec): its own
	// Rejected calls, the same ticks under its own symbol.
	calls = nil
	r2, _ := New("replay:"+path+"?speed=max", Options{Rejected: func(s string, reason RejectReason, _ error) {
		calls = append(calls, call{s, reason, 0})
	}})
	other := drain(t, r2, "ABC", time.Time{})
	if len(other) != 6 || other[0].Symbol != "ABC" || len(calls) != 12 || calls[0].symbol != "ABC" {
		t.Fatalf("second symbol: %d ticks (%s), %d calls", len(other), other[0].Symbol, len(calls))
	}
}

func TestReplayTickFilesOverlap(t *testing.T) {
	dir := t.TempDir()
	writeZip(t, filepath.Join(dir, "a", "xyz", "20131007_trade.zip"), "20131007_xyz_Trade_Tick.csv",
		"14400000,1000000,100,P,0,0\n14400000,1000000,200,P,0,0\n")
	writeZip(t, filepath.Join(dir, "a", "xyz", "20131008_trade.zip"), "20131008_xyz_Trade_Tick.csv",
		"14400000,1000000,300,P,0,0\n")
	// The same day again under another folder: overlaps, left out. An
	// earlier day under it comes first (files go in time order).
	writeZip(t, filepath.Join(dir, "b", "xyz", "20131004_trade.zip"), "20131004_xyz_Trade_Tick.csv",
		"14400000,1000000,50,P,0,0\n")
	writeZip(t, filepath.Join(dir, "b", "xyz", "20131007_trade.zip"), "20131007_xyz_Trade_Tick.csv",
		"14400000,1000000,999,P,0,0\n")
	core, logs := observer.New(zap.InfoLevel)
	r, err := New("replay:"+dir+"?speed=max", Options{Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	all := drain(t, r, "XYZ", time.Time{})
	var vols []int64
	for _, q := range all {
		vols = append(vols, q.Volume)
	}
	if !reflect.DeepEqual(vols, []int64{50, 100, 200, 300}) || !all[3].TS.Equal(time.Date(2013, 10, 8, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("replayed %v:\n%s", vols, dumpQuotes(all))
	}
	if n := logs.FilterMessage("replay: tick file overlaps an earlier one; left out").Len(); n != 1 {
		t.Fatalf("%d overlap warnings", n)
	}
}

// TestReplayTickPacing: ticks are paced by TS (the ticks of a millisecond are
// due together), and rate=N paces rows evenly by wall clock.
func TestReplayTickPacing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "20131007_trade.zip")
	writeZip(t, path, "20131007_xyz_Trade_Tick.csv", ""+
		"34200000,1000000,1,P,0,0\n34200000,1000000,2,P,0,0\n34200000,1000000,3,P,0,0\n"+ // 09:30:00.000 x3
		"34201000,1000000,4,P,0,0\n"+ // 09:30:01
		"34260000,1000000,5,P,0,0\n34260000,1000000,6,P,0,0\n") // 09:31:00 x2
	vols := func(qs []Quote) (s []int64) {
		for _, q := range qs {
			s = append(s, q.Volume)
		}
		return s
	}
	ctx := context.Background()
	clock := newFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	r, err := New("replay:"+path+"?speed=10", Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	qs, err := r.Fetch(ctx, "XYZ", time.Time{})
	if err != nil || !reflect.DeepEqual(vols(qs), []int64{1, 2, 3}) || len(clock.Slept()) != 0 {
		t.Fatalf("first fetch %v, %v, slept %v", vols(qs), err, clock.Slept())
	}
	// Caught up mid-millisecond-group end: the 09:30:01 tick is 1 market
	// second away, 100 ms of wall time at speed 10 (no re-anchor on the
	// Seq part of the checkpoint).
	qs, err = r.Fetch(ctx, "XYZ", qs[2].Position())
	if err != nil || !reflect.DeepEqual(vols(qs), []int64{4}) || !reflect.DeepEqual(clock.Slept(), []time.Duration{100 * time.Millisecond}) {
		t.Fatalf("second fetch %v, %v, slept %v", vols(qs), err, clock.Slept())
	}
	qs, err = r.Fetch(ctx, "XYZ", qs[0].Position())
	if err != nil || !reflect.DeepEqual(vols(qs), []int64{5, 6}) || clock.Slept()[1] != 5900*time.Millisecond {
		t.Fatalf("third fetch %v, %v, slept %v", vols(qs), err, clock.Slept())
	}

	// rate=4: a row every 250 ms whatever the market times.
	clock = newFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	r, err = New("replay:"+path+"?rate=4", Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	var got [][]int64
	after := time.Time{}
	for {
		qs, err := r.Fetch(ctx, "XYZ", after)
		if errors.Is(err, ErrExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, vols(qs))
		after = qs[len(qs)-1].Position()
	}
	want := [][]int64{{1}, {2}, {3}, {4}, {5}, {6}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rate=4 batches %v; want %v", got, want)
	}
	for i, d := range clock.Slept() {
		if d != 250*time.Millisecond {
			t.Fatalf("rate=4 sleep %d = %v; want 250ms (all %v)", i, d, clock.Slept())
		}
	}
	// 1 s of wall time later, 4 rows are due at once; a resume past the
	// pace re-anchors there.
	clock = newFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	r, _ = New("replay:"+path+"?rate=4", Options{Clock: clock})
	first, _ := r.Fetch(ctx, "XYZ", time.Time{})
	clock.Advance(time.Second)
	if qs, _ := r.Fetch(ctx, "XYZ", first[0].Position()); !reflect.DeepEqual(vols(qs), []int64{2, 3, 4, 5}) {
		t.Fatalf("after 1 s at rate 4: %v", vols(qs))
	}
	r, _ = New("replay:"+path+"?rate=4", Options{Clock: clock})
	r.Fetch(ctx, "XYZ", time.Time{})
	if qs, _ := r.Fetch(ctx, "XYZ", edt(9, 30, 1, 0)); !reflect.DeepEqual(vols(qs), []int64{5}) || len(clock.Slept()) != 0 {
		t.Fatalf("resume ahead: %v, slept %v", vols(qs), clock.Slept())
	}
}

// TestReplayLeanTicksSPY replays SPY's real tick day: every trade, in
// Position order, the same quantities as an independent reading of the zip.
// It logs the load time and the resident size of the parsed day.
func TestReplayLeanTicksSPY(t *testing.T) {
	dir := leanTicksDir(t)
	file := filepath.Join(dir, "spy", "20131007_trade.zip")
	wantN, wantQty, wantMaxPerMs := indepTrades(t, file)
	if wantN != 250_601 {
		t.Fatalf("independent read: %d trades; the data README says 250,601", wantN)
	}
	src, err := New("replay:"+dir+"?speed=max", Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := src.(*Replay)
	if files, err := r.Files("SPY"); err != nil || len(files) != 1 || files[0] != file {
		t.Fatalf("Files(SPY) = %v, %v", files, err)
	}

	// Cold load, measured.
	resetTickCache()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	first, err := r.Fetch(context.Background(), "SPY", time.Time{})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	s, _ := r.load("SPY")
	f := s.rows.(*tickSeries).files[0]
	t.Logf("SPY 2013-10-07: %d trades loaded in %v; resident %.1f MB (heap delta, %d bytes/trade; tickRow %d bytes); %d off-median, %d suspicious, %d rejected",
		len(f.rows), took.Round(time.Millisecond), float64(after.HeapAlloc-before.HeapAlloc)/1e6,
		int64(after.HeapAlloc-before.HeapAlloc)/int64(len(f.rows)), reflect.TypeFor[tickRow]().Size(), f.offMedian, f.suspicious, len(f.rejects))
	if sz := reflect.TypeFor[tickRow]().Size(); sz != 40 {
		t.Errorf("tickRow is %d bytes; want 40", sz)
	}
	if len(first) != DefaultMaxBatch {
		t.Fatalf("first batch %d; want MaxBatch %d", len(first), DefaultMaxBatch)
	}

	all := drain(t, r, "SPY", time.Time{})
	var qty int64
	maxSeq := int32(0)
	for i, q := range all {
		qty += q.Volume
		maxSeq = max(maxSeq, q.Seq)
		if i > 0 && !q.Position().After(all[i-1].Position()) {
			t.Fatalf("tick %d at %v not after tick %d at %v", i, q.Position(), i-1, all[i-1].Position())
		}
		if i > 0 && q.Seq != 0 && (!q.TS.Equal(all[i-1].TS) || q.Seq != all[i-1].Seq+1) {
			t.Fatalf("tick %d: seq %d after %+v", i, q.Seq, all[i-1])
		}
		if err := Validate(q, time.Now()); err != nil {
			t.Fatalf("tick %d: %v", i, err)
		}
	}
	if len(all) != wantN || qty != wantQty || int(maxSeq) != wantMaxPerMs-1 {
		t.Fatalf("replayed %d trades, %d shares, max seq %d; independent read %d, %d, max %d per ms",
			len(all), qty, maxSeq, wantN, wantQty, wantMaxPerMs)
	}
	if q := all[0]; q.Symbol != "SPY" || !q.TS.Equal(edt(4, 0, 0, 464)) || q.Close != 167.41 || q.Volume != 100 ||
		q.Exchange != "P" || q.Condition != "20002000" || q.Kind != KindTrade || q.Bid != nil {
		t.Fatalf("first tick %+v", q)
	}
	// Same as ReadFile (which the fetch-side test helpers use).
	rf, err := ReadFile(file, "SPY")
	if err != nil || !reflect.DeepEqual(rf, all) {
		t.Fatalf("ReadFile differs from the replay (%v)", err)
	}
}

// resetTickCache empties the process's tick file cache (for a cold load).
func resetTickCache() {
	tickCache.mu.Lock()
	tickCache.m = map[string]*tickCacheEntry{}
	tickCache.mu.Unlock()
}

// TestReplayTicksShared: ten symbols replaying one file share one parsed
// copy; the symbol is applied at Fetch.
func TestReplayTicksShared(t *testing.T) {
	file := testenv.SharedData(t, "lean-ticks/ibm/20131007_trade.zip")
	var files []*tickFile
	for i := range 10 {
		sym := fmt.Sprintf("S%d", i)
		r, err := NewReplay(file, 0, Options{})
		if err != nil {
			t.Fatal(err)
		}
		qs, err := r.Fetch(context.Background(), sym, time.Time{})
		if err != nil || qs[0].Symbol != sym {
			t.Fatalf("%s: %v, %+v", sym, err, qs[0])
		}
		s, _ := r.load(sym)
		files = append(files, s.rows.(*tickSeries).files[0])
		runtime.KeepAlive(r)
	}
	for i, f := range files {
		if f != files[0] {
			t.Fatalf("symbol %d has its own copy of the file", i)
		}
	}
}

// TestFlagTicksLeanDefaults measures the implausible-print rule on the real
// trades (the table in TickMedianPct's comment) and checks the defaults'
// counts, the replay's flags, and the speed.
func TestFlagTicksLeanDefaults(t *testing.T) {
	dir := leanTicksDir(t)
	want := map[string]int{"spy": 7, "bac": 3, "ibm": 0}
	for _, sym := range []string{"spy", "bac", "ibm"} {
		file := filepath.Join(dir, sym, "20131007_trade.zip")
		qs, _, err := ReadLeanTickZip(file, strings.ToUpper(sym))
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("%s (%d trades), window %d:", sym, len(qs), TickMedianWindow)
		for _, pct := range []float64{0.25, 0.35, 0.5, 1, 2, 5} {
			c := append([]Quote(nil), qs...)
			start := time.Now()
			n := FlagTicks(c, TickMedianWindow, pct)
			line += fmt.Sprintf(" %g%%: %d (%v)", pct, n, time.Since(start).Round(time.Millisecond))
		}
		t.Log(line)
		n := FlagTicks(qs, TickMedianWindow, TickMedianPct)
		if n != want[sym] {
			t.Errorf("%s: defaults flag %d; want %d", sym, n, want[sym])
		}
		// The replay flags the same ticks.
		r, _ := New("replay:"+file+"?speed=max", Options{MaxBatch: 1 << 20})
		got := drain(t, r, strings.ToUpper(sym), time.Time{})
		if !reflect.DeepEqual(got, qs) {
			t.Errorf("%s: the replay's ticks or flags differ from FlagTicks on ReadLeanTickZip", sym)
		}
	}
}

// TestReplayTicksConcurrent: symbols loading one file at the same time share
// one parse and each gets every tick under its own symbol (run with -race).
func TestReplayTicksConcurrent(t *testing.T) {
	file := testenv.SharedData(t, "lean-ticks/ibm/20131007_trade.zip")
	resetTickCache()
	r, err := NewReplay(file, 0, Options{MaxBatch: 5000})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	counts := make([]int, 8)
	for g := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sym := fmt.Sprintf("S%d", g)
			after := time.Time{}
			for {
				qs, err := r.Fetch(context.Background(), sym, after)
				if errors.Is(err, ErrExhausted) {
					return
				}
				if err != nil || qs[0].Symbol != sym {
					t.Errorf("%s: %v", sym, err)
					return
				}
				counts[g] += len(qs)
				after = qs[len(qs)-1].Position()
			}
		}()
	}
	wg.Wait()
	for g, n := range counts {
		if n != 24_293 {
			t.Errorf("symbol %d got %d ticks; want 24,293", g, n)
		}
	}
	first, _ := r.load("S0")
	for g := range counts {
		s, _ := r.load(fmt.Sprintf("S%d", g))
		if s.rows.(*tickSeries).files[0] != first.rows.(*tickSeries).files[0] {
			t.Fatalf("symbol %d parsed its own copy", g)
		}
	}
}
