package quote

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
)

// dataDir returns the shared data folder (skipping without it).
func dataDir(t *testing.T) string {
	t.Helper()
	return filepath.Dir(testenv.SharedData(t, "README.md"))
}

// drain fetches symbol from src until ErrExhausted, starting after `after`
// (checkpointing the last quote's Position).
func drain(t *testing.T, src Source, symbol string, after time.Time) []Quote {
	t.Helper()
	var all []Quote
	for range 100000 {
		qs, err := src.Fetch(context.Background(), symbol, after)
		if errors.Is(err, ErrExhausted) {
			return all
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) == 0 {
			t.Fatal("empty batch before exhaustion")
		}
		all = append(all, qs...)
		after = qs[len(qs)-1].Position()
	}
	t.Fatal("no exhaustion")
	return nil
}

func TestReplayFiles(t *testing.T) {
	dir := dataDir(t)
	r, err := NewReplay(dir, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		symbol string
		want   []string
	}{
		{"SPY", []string{"lean-spy-minute/20131004_trade.zip", "lean-spy-minute/20131007_trade.zip",
			"lean-spy-minute/20131008_trade.zip", "lean-spy-minute/20131009_trade.zip"}},
		{"MSFT", []string{"alphavantage-msft-1min/msft_1min_2020-11-23_2020-12-18.csv"}},
		{"SP", nil}, // not a whole token of lean-spy-minute
	}
	for _, tt := range tests {
		files, err := r.Files(tt.symbol)
		if err != nil {
			t.Fatal(err)
		}
		var rel []string
		for _, f := range files {
			p, _ := filepath.Rel(dir, f)
			rel = append(rel, filepath.ToSlash(p))
		}
		if strings.Join(rel, ",") != strings.Join(tt.want, ",") {
			t.Errorf("Files(%s) = %v; want %v", tt.symbol, rel, tt.want)
		}
	}
	_, err = r.Fetch(context.Background(), "AAPL", time.Time{})
	if !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "AAPL") {
		t.Fatalf("AAPL: %v", err)
	}
}

func TestHasToken(t *testing.T) {
	tests := []struct {
		s, tok string
		want   bool
	}{
		{"lean-spy-minute/20131004_trade.zip", "spy", true},
		{"lean-spy-minute/20131004_trade.zip", "sp", false},
		{"spy.csv", "spy", true},
		{"xspy.csv", "spy", false},
		{"spy", "spy", true},
		{"brk-b_1min.csv", "brk-b", true},
		{"a/spyspy/spy_1.csv", "spy", true},
		{"", "spy", false},
	}
	for _, tt := range tests {
		if got := hasToken(tt.s, tt.tok); got != tt.want {
			t.Errorf("hasToken(%q, %q) = %v", tt.s, tt.tok, got)
		}
	}
}

func TestReplayResume(t *testing.T) {
	dir := dataDir(t)
	r, err := New("replay:"+dir+"?speed=max", Options{MaxBatch: 500})
	if err != nil {
		t.Fatal(err)
	}
	all := drain(t, r, "SPY", time.Time{})
	if len(all) != 711+828+828+813 {
		t.Fatalf("replayed %d SPY bars; want 3180", len(all))
	}
	// The same bars as the files, in order: none skipped across batches.
	var want []Quote
	for _, f := range []string{"20131004", "20131007", "20131008", "20131009"} {
		qs, err := ReadFile(filepath.Join(dir, "lean-spy-minute", f+"_trade.zip"), "SPY")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, qs...)
	}
	for i := range want {
		if !all[i].TS.Equal(want[i].TS) || all[i].Close != want[i].Close {
			t.Fatalf("bar %d = %+v; want %+v", i, all[i], want[i])
		}
	}
	// Resume after the checkpoint T = bar 1000's TS, as a new owner would
	// (a fresh source): exactly the bars after T.
	for _, k := range []int{0, 710, 711, 1000, 3178} {
		r2, _ := New("replay:"+dir+"?speed=max", Options{MaxBatch: 333})
		rest := drain(t, r2, "SPY", all[k].TS)
		if len(rest) != len(all)-k-1 || !rest[0].TS.Equal(all[k+1].TS) || !rest[len(rest)-1].TS.Equal(all[len(all)-1].TS) {
			t.Fatalf("after bar %d (%v): %d bars from %v; want %d from %v", k, all[k].TS, len(rest), rest[0].TS, len(all)-k-1, all[k+1].TS)
		}
	}
	// A checkpoint between bars (not a bar's TS) resumes at the next bar.
	rest := drain(t, r, "SPY", all[5].TS.Add(30*time.Second))
	if !rest[0].TS.Equal(all[6].TS) || len(rest) != len(all)-6 {
		t.Fatalf("after %v: first %v, %d bars", all[5].TS.Add(30*time.Second), rest[0].TS, len(rest))
	}
	_, err = r.Fetch(context.Background(), "SPY", all[len(all)-1].TS)
	if !errors.Is(err, ErrExhausted) {
		t.Fatalf("after the last bar: %v", err)
	}
}

func TestReplayMSFT(t *testing.T) {
	r, err := New("replay:"+dataDir(t)+"?speed=max", Options{})
	if err != nil {
		t.Fatal(err)
	}
	all := drain(t, r, "MSFT", time.Time{})
	if len(all) != 11190 || !all[0].TS.Equal(utc(2020, 11, 23, 9, 0)) || !all[len(all)-1].TS.Equal(utc(2020, 12, 19, 0, 59)) {
		t.Fatalf("%d bars from %v to %v", len(all), all[0].TS, all[len(all)-1].TS)
	}
}

func TestReplayPacing(t *testing.T) {
	file := testenv.SharedData(t, "lean-spy-minute/20131007_trade.zip")
	wall := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := newFakeClock(wall)
	r, err := New("replay:"+file, Options{Clock: clock}) // default speed 60
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fetch := func(after time.Time) []Quote {
		t.Helper()
		qs, err := r.Fetch(ctx, "SPY", after)
		if err != nil {
			t.Fatal(err)
		}
		return qs
	}
	tsList := func(qs []Quote) string {
		var s []string
		for _, q := range qs {
			s = append(s, q.TS.In(Eastern).Format("15:04"))
		}
		return strings.Join(s, ",")
	}
	// Start from the checkpoint 09:29 EDT: the 09:30 bar is due at once.
	qs := fetch(utc(2013, 10, 7, 13, 29))
	if got := tsList(qs); got != "09:30" || len(clock.Slept()) != 0 {
		t.Fatalf("first fetch %s, slept %v; want 09:30 at once", got, clock.Slept())
	}
	// 5 wall seconds are 5 market minutes.
	clock.Advance(5 * time.Second)
	if got := tsList(fetch(qs[0].TS)); got != "09:31,09:32,09:33,09:34,09:35" {
		t.Fatalf("after 5s: %s", got)
	}
	// Caught up: the 09:36 bar is due in 1 wall second.
	if got := tsList(fetch(utc(2013, 10, 7, 13, 35))); got != "09:36" {
		t.Fatalf("next: %s", got)
	}
	if s := clock.Slept(); len(s) != 1 || s[0] != time.Second {
		t.Fatalf("slept %v; want [1s]", s)
	}
	// A retried older checkpoint gets its bars at once, the pace goes on.
	if got := tsList(fetch(utc(2013, 10, 7, 13, 33))); got != "09:34,09:35,09:36" || len(clock.Slept()) != 1 {
		t.Fatalf("retry from 09:33: %s, slept %v", got, clock.Slept())
	}
	// Resume far ahead (another owner's checkpoint 11:00): re-anchored there.
	if got := tsList(fetch(utc(2013, 10, 7, 15, 0))); got != "11:01" || len(clock.Slept()) != 1 {
		t.Fatalf("resume at 11:00: %s, slept %v", got, clock.Slept())
	}
	// 2.5 wall seconds later: 150 market seconds, two more bars (11:02, 11:03).
	clock.Advance(2500 * time.Millisecond)
	if got := tsList(fetch(utc(2013, 10, 7, 15, 1))); got != "11:02,11:03" {
		t.Fatalf("2.5s after resume: %s", got)
	}
	// Cancelled while waiting.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Fetch(cctx, "SPY", utc(2013, 10, 7, 15, 3)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}
