package store

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
)

// observed returns a Store on s's keyspace and config whose session counts
// the queries whose statement contains substr.
func observed(t *testing.T, s *Store, substr string) (*Store, *atomic.Int64) {
	t.Helper()
	n := &atomic.Int64{}
	c := testenv.CassandraCluster(t)
	c.QueryObserver = stmtCounter{substr, n}
	sess, err := c.CreateSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Close)
	return &Store{cfg: s.cfg, session: sess, cons: gocql.One, serial: s.serial, log: s.log, now: s.now}, n
}

type stmtCounter struct {
	substr string
	n      *atomic.Int64
}

func (c stmtCounter) ObserveQuery(_ context.Context, q gocql.ObservedQuery) {
	if strings.Contains(q.Statement, c.substr) {
		c.n.Add(1)
	}
}

// readDailyCloses is what the Writer's read of daily closes contains.
const readDailyCloses = "day IN ?"

// wantAverages is the test's own arithmetic of the moving averages over
// closes (oldest first): SMA N the mean of the last N; EMA N, alpha
// 2/(N+1), over the last 4N closes (all when fewer; daily) or all of them
// (lookback4 false; intraday), seeded with the mean of their first N.
func wantAverages(closes []float64, sma, ema []int, lookback4 bool) (map[int]float64, map[int]float64) {
	s, e := map[int]float64{}, map[int]float64{}
	for _, n := range sma {
		if len(closes) >= n {
			sum := 0.0
			for _, c := range closes[len(closes)-n:] {
				sum += c
			}
			s[n] = sum / float64(n)
		}
	}
	for _, n := range ema {
		if len(closes) < n {
			continue
		}
		w := closes
		if lookback4 && len(w) > 4*n {
			w = w[len(w)-4*n:]
		}
		seed := 0.0
		for _, c := range w[:n] {
			seed += c
		}
		v, alpha := seed/float64(n), 2/float64(n+1)
		for _, c := range w[n:] {
			v = alpha*c + (1-alpha)*v
		}
		e[n] = v
	}
	return s, e
}

// checkAverages compares got with want, to 1e-9 relative, with the same
// windows present.
func checkAverages(t *testing.T, when, kind string, got, want map[int]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %s windows %v; want %v", when, kind, got, want)
		return
	}
	for n, w := range want {
		g, ok := got[n]
		if !ok || math.Abs(g-w) > 1e-9*math.Abs(w) {
			t.Errorf("%s: %s%d = %v (present %v); want %v", when, kind, n, g, ok, w)
		}
	}
}

// tradingDays returns n weekdays from 2024-01-02 (Eastern midnight, UTC).
func tradingDays(n int) []time.Time {
	var out []time.Time
	for d := et(2024, 1, 2, 0, 0); len(out) < n; d = d.AddDate(0, 0, 1) {
		if wd := d.In(quote.Eastern).Weekday(); wd != time.Saturday && wd != time.Sunday {
			out = append(out, d)
		}
	}
	return out
}

// A daily series (the bars of a Yahoo-style daily CSV, read as a replay
// reads it) gets its moving averages over its daily closes across stored
// days: after each batch, a task move, corrections of past days, a rebuild
// and a new day, SMA and EMA equal the test's own arithmetic on the closes
// it wrote. A Writer reads the daily closes from Cassandra once, not per
// batch.
func TestIntegration_DailyMovingAverages(t *testing.T) {
	base, ctx := openTest(t), testCtx(t)
	base.cfg.EMAWindows = []int{3, 12, 26} // EMA3's lookback (12 days) is shorter than the series
	s, reads := observed(t, base, readDailyCloses)
	sma, ema := s.cfg.SMAWindows, s.cfg.EMAWindows
	if !reflect.DeepEqual(sma, []int{5, 20}) {
		t.Fatalf("default SMA windows %v; the test expects 5 and 20", sma)
	}
	days := tradingDays(41)
	var csv strings.Builder
	csv.WriteString("Date,Open,High,Low,Close,Adj Close,Volume\n")
	prev := 100.0
	for i, d := range days {
		c := math.Round((100+8*math.Sin(float64(i)/4)+float64(i%5)*0.75)*100) / 100
		fmt.Fprintf(&csv, "%s,%.2f,%.2f,%.2f,%.2f,%.2f,%d\n", d.In(quote.Eastern).Format(time.DateOnly),
			prev, max(prev, c)+0.5, min(prev, c)-0.5, c, c*0.98, 1_000_000+i)
		prev = c
	}
	path := filepath.Join(t.TempDir(), "spy.csv")
	if err := os.WriteFile(path, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	all, err := quote.ReadFile(path, "SPY")
	if err != nil || len(all) != 41 || all[0].Source != "replay:daily-csv" {
		t.Fatalf("ReadFile: %d bars, %v", len(all), err)
	}
	qs, day41 := all[:40], all[40]
	closes := make([]float64, len(qs))
	for i, x := range qs {
		closes[i] = x.Close
	}

	check := func(when string, n int) {
		t.Helper()
		ls, err := s.Latest(ctx, "SPY")
		if err != nil || len(ls) != 1 {
			t.Fatalf("%s: Latest = %v, %v", when, ls, err)
		}
		l := ls[0]
		if !l.TS.Equal(qs[n-1].TS) || l.Price != closes[n-1] {
			t.Errorf("%s: latest at %v price %v; want %v price %v", when, l.TS, l.Price, qs[n-1].TS, closes[n-1])
		}
		if n == 1 && l.PrevClose != nil || n > 1 && (l.PrevClose == nil || *l.PrevClose != closes[n-2]) {
			t.Errorf("%s: prev close %v; want day %d's close", when, fmtLatest(l), n-1)
		}
		wantSMA, wantEMA := wantAverages(closes[:n], sma, ema, true)
		checkAverages(t, when, "SMA", l.SMA, wantSMA)
		checkAverages(t, when, "EMA", l.EMA, wantEMA)
	}

	// Batches of one ingest task; the task moves to another node (a new
	// Writer) after the fourth.
	w := s.NewWriter()
	n := 0
	for i, size := range []int{1, 1, 3, 7, 8, 20} {
		if i == 4 {
			w = s.NewWriter()
		}
		before := reads.Load()
		if err := w.Write(ctx, 1, qs[n:n+size]); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		n += size
		check(fmt.Sprintf("after %d days", n), n)
		// The first Writer read the closes when nothing was stored (no
		// day to read); the second once, on its first batch.
		want := int64(0)
		if i == 4 {
			want = 1
		}
		if got := reads.Load() - before; got != want {
			t.Errorf("batch %d: %d reads of daily closes; want %d", i, got, want)
		}
	}
	if ls, _ := s.Latest(ctx, "SPY"); len(ls) == 1 && (len(ls[0].SMA) != 2 || len(ls[0].EMA) != 3) {
		t.Errorf("after 40 days: SMA %v EMA %v; want every window", ls[0].SMA, ls[0].EMA)
	}
	bars, err := s.Bars(ctx, "SPY", Interval1d, days[0], days[40], 0)
	if err != nil || len(bars) != 40 {
		t.Fatalf("1d bars: %d, %v", len(bars), err)
	}
	for i, b := range bars {
		if b.Close != closes[i] || !b.TS.Equal(days[i]) {
			t.Errorf("1d bar %d: %v close %v; want %v close %v", i, b.TS, b.Close, days[i], closes[i])
		}
	}

	// A corrected bar of day 3, through the task's Writer (it holds the
	// closes: no read). Only EMA12 and EMA26 reach back that far.
	old, _ := s.Latest(ctx, "SPY")
	fix := qs[2]
	fix.Close, fix.High = fix.Close+6, fix.High+6
	closes[2] = fix.Close
	before := reads.Load()
	if err := w.Write(ctx, 1, []quote.Quote{fix}); err != nil {
		t.Fatal(err)
	}
	check("day 3 corrected", 40)
	if got := reads.Load() - before; got != 0 {
		t.Errorf("day 3 corrected: %d reads of daily closes; want 0", got)
	}
	if now, _ := s.Latest(ctx, "SPY"); len(now) == 1 && len(old) == 1 &&
		(now[0].EMA[26] == old[0].EMA[26] || now[0].SMA[20] != old[0].SMA[20] || now[0].EMA[3] != old[0].EMA[3]) {
		t.Errorf("day 3 corrected: EMA26 %v -> %v, SMA20 %v -> %v, EMA3 %v -> %v; want only the EMAs reaching day 3 changed",
			old[0].EMA[26], now[0].EMA[26], old[0].SMA[20], now[0].SMA[20], old[0].EMA[3], now[0].EMA[3])
	}

	// A corrected bar of day 37 from a task that just moved (a fresh
	// Writer: it loads the latest day and reads the closes once).
	fix = qs[36]
	fix.Close, fix.Low = fix.Close-4, fix.Low-4
	closes[36] = fix.Close
	before = reads.Load()
	if err := s.WriteQuotes(ctx, 2, []quote.Quote{fix}); err != nil {
		t.Fatal(err)
	}
	check("day 37 corrected", 40)
	if got := reads.Load() - before; got != 1 {
		t.Errorf("day 37 corrected: %d reads of daily closes; want 1", got)
	}

	// A rebuild of the latest row from the stored rows.
	if err := s.query(ctx, true, `TRUNCATE @latest`).Exec(); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateAnalytics(ctx, "SPY", []time.Time{days[39]}); err != nil {
		t.Fatal(err)
	}
	check("rebuilt", 40)

	// The next day, from a fresh Writer: the window moves on by one day.
	qs = append(qs, day41)
	closes = append(closes, day41.Close)
	if err := s.WriteQuotes(ctx, 2, []quote.Quote{day41}); err != nil {
		t.Fatal(err)
	}
	check("day 41", 41)
	if alerts, err := s.Alerts(ctx, days[0], days[40].AddDate(0, 0, 1), 0); err != nil || len(alerts) != 0 {
		t.Errorf("alerts %v, %v; want none (no move above 20%%)", alerts, err)
	}
}

// An intraday series keeps its moving averages over the latest day's
// 1-minute closes: earlier days do not count, the EMA has no lookback, and
// no daily close is read.
func TestIntegration_IntradayAveragesOverTheDay(t *testing.T) {
	base, ctx := openTest(t), testCtx(t)
	base.cfg.EMAWindows = []int{3, 12, 26}
	s, reads := observed(t, base, readDailyCloses)
	fixed := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return fixed }
	var qs []quote.Quote
	var last []float64 // the latest day's closes
	for di, d := range tradingDays(3) {
		for i := range 30 {
			c := 50 + float64(di*7) + math.Sin(float64(i))*2
			x := q("MSFT", d.Add(9*time.Hour+30*time.Minute+time.Duration(i)*time.Minute), c, c+0.1, c-0.1, c, 100)
			x.Source = "replay:lean"
			qs = append(qs, x)
			if di == 2 {
				last = append(last, c)
			}
		}
	}
	w := s.NewWriter()
	for i := 0; i < len(qs); i += 25 {
		if err := w.Write(ctx, 1, qs[i:min(i+25, len(qs))]); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		ls, err := s.Latest(ctx, "MSFT")
		if err != nil || len(ls) != 1 {
			t.Fatalf("%s: Latest = %v, %v", when, ls, err)
		}
		wantSMA, wantEMA := wantAverages(last, s.cfg.SMAWindows, s.cfg.EMAWindows, false)
		checkAverages(t, when, "SMA", ls[0].SMA, wantSMA)
		checkAverages(t, when, "EMA", ls[0].EMA, wantEMA)
		if len(wantSMA) != 2 || len(wantEMA) != 3 || !ls[0].Updated.Equal(fixed) || ls[0].Price != last[29] {
			t.Errorf("%s: latest %s updated %v; want every window, price %v, updated %v", when, fmtLatest(ls[0]), ls[0].Updated, last[29], fixed)
		}
	}
	check("written")
	// A late minute of the first day (it changes that day's close) leaves
	// the latest row alone, from the task's Writer and from a fresh one.
	s.now = func() time.Time { return fixed.Add(time.Hour) }
	late := q("MSFT", qs[29].TS.Add(time.Minute), 40, 40, 40, 40, 1)
	if err := w.Write(ctx, 1, []quote.Quote{late}); err != nil {
		t.Fatal(err)
	}
	late.TS = late.TS.Add(time.Minute)
	if err := s.WriteQuotes(ctx, 1, []quote.Quote{late}); err != nil {
		t.Fatal(err)
	}
	check("after late minutes of an earlier day")
	if got := reads.Load(); got != 0 {
		t.Errorf("%d reads of daily closes for an intraday series; want 0", got)
	}
}

// genDaily makes n days of random daily bars of sym (Source
// "replay:daily-csv"), with jumps that raise alerts at a 3% threshold.
func genDaily(r *rand.Rand, sym string, n int) []quote.Quote {
	var out []quote.Quote
	c := 80.0
	for _, d := range tradingDays(n) {
		o := c
		c *= 1 + (r.Float64()-0.5)*0.03
		if r.IntN(8) == 0 {
			c *= 0.95
		}
		c = math.Round(c*100) / 100
		x := q(sym, d.Add(9*time.Hour+30*time.Minute), o, max(o, c)+0.2, min(o, c)-0.2, c, int64(1000+r.IntN(1_000_000)))
		x.Source = "replay:daily-csv"
		out = append(out, x)
	}
	return out
}

// The incremental Writer on daily series, fed random permutations,
// duplicates, replays from older offsets, days out of order, late days and
// task moves, leaves what the offline functions compute from the distinct
// source rows (bars, alerts, and the latest row of ComputeSeriesLatest), with
// windows short enough that the Writer trims the closes it keeps.
func TestIntegration_DailyWriterMatchesOffline(t *testing.T) {
	s, ctx := openTest(t), testCtx(t)
	s.cfg.MoveAlertPct = 3
	s.cfg.SMAWindows, s.cfg.EMAWindows = []int{3, 10}, []int{2, 5}
	keep := s.dailyKeep()
	if keep != 20 {
		t.Fatalf("dailyKeep = %d; want 20 (EMA5 over 4*5 days)", keep)
	}
	s.now = func() time.Time { return time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC) }
	for seed := range uint64(3) {
		r := rand.New(rand.NewPCG(seed, 18))
		sym := fmt.Sprintf("D%d", seed)
		src := genDaily(r, sym, 60)
		// Three days come late, after the latest day: two among the
		// closes the latest row is averaged over, one before them.
		late := map[int]bool{10: true, 45 + r.IntN(5): true, 52 + r.IntN(6): true}
		var early []quote.Quote
		for i, x := range src {
			if !late[i] {
				early = append(early, x)
			}
		}
		batches, moves := deliveries(r, early)
		for _, i := range slices.Sorted(maps.Keys(late)) {
			batches = append(batches, []quote.Quote{src[i]})
		}
		w := s.NewWriter()
		for i, b := range batches {
			if moves[i] {
				w = s.NewWriter()
			}
			if len(b) == 0 {
				continue
			}
			if err := w.Write(ctx, 1, b); err != nil {
				t.Fatalf("seed %d batch %d: %v", seed, i, err)
			}
			if h := w.syms[sym].daily; h != nil && len(h.closes) > keep+maxDays {
				t.Fatalf("seed %d batch %d: the Writer keeps %d daily closes; want at most %d", seed, i, len(h.closes), keep+maxDays)
			}
		}
		wantBars, wantAlerts, wantLatest := offline(src, s.cfg.MoveAlertPct, s.cfg.SMAWindows, s.cfg.EMAWindows)
		from, to := src[0].Day(), src[len(src)-1].Day().AddDate(0, 0, 1)
		for _, iv := range Intervals {
			got, err := s.Bars(ctx, sym, iv, from, to, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, wantBars[iv]) {
				t.Errorf("seed %d %s: %d bars stored, want %d", seed, iv, len(got), len(wantBars[iv]))
			}
		}
		stored, err := s.Alerts(ctx, from, to, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []Alert
		for _, a := range stored {
			if a.Symbol == sym {
				got = append(got, a)
			}
		}
		if len(wantAlerts) == 0 || !reflect.DeepEqual(got, wantAlerts) {
			t.Errorf("seed %d alerts: %d stored, want %d (and some)", seed, len(got), len(wantAlerts))
		}
		l, err := s.Latest(ctx, sym)
		if err != nil || len(l) != 1 {
			t.Fatalf("seed %d: Latest = %v, %v", seed, l, err)
		}
		l[0].Updated = time.Time{}
		if len(wantLatest.SMA) != 2 || len(wantLatest.EMA) != 2 || !reflect.DeepEqual(l[0], wantLatest) {
			t.Errorf("seed %d latest:\n got %s\nwant %s", seed, fmtLatest(l[0]), fmtLatest(wantLatest))
		}
	}
}
