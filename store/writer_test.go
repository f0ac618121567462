package store

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stock-system/stocksys/quote"
)

// genTicks makes a random tick stream of sym over the given days: bursts of
// trades sharing a millisecond (Seq 0, 1, ...), a few flagged ticks, and
// jumps large enough to raise alerts at a 3% threshold.
func genTicks(r *rand.Rand, sym string, days []time.Time) []quote.Quote {
	var out []quote.Quote
	price := 100.0
	for _, d := range days {
		ts := d.Add(9*time.Hour + 30*time.Minute)
		n := 150 + r.IntN(200)
		for range n {
			ts = ts.Add(time.Duration(1+r.IntN(20_000)) * time.Millisecond)
			burst := 1 + r.IntN(3)
			for seq := range burst {
				price *= 1 + (r.Float64()-0.5)*0.004
				if r.IntN(60) == 0 {
					price *= 1.05 // a jump: an alert
				}
				p := float64(int(price*10000)) / 10000
				t := quote.Quote{Symbol: sym, TS: ts, Open: p, High: p, Low: p, Close: p, Volume: int64(1 + r.IntN(500)),
					Source: "test", Kind: quote.KindTrade, Seq: int32(seq), Exchange: "P", Condition: "0"}
				if r.IntN(40) == 0 {
					t.Flag = quote.FlagOffMedian
					t.Open, t.High, t.Low, t.Close = p*2, p*2, p*2, p*2
				}
				out = append(out, t)
			}
		}
	}
	return out
}

// genBars makes random minute bars of sym over the given days.
func genBars(r *rand.Rand, sym string, days []time.Time) []quote.Quote {
	var out []quote.Quote
	c := 50.0
	for _, d := range days {
		ts := d.Add(9*time.Hour + 30*time.Minute)
		for range 40 + r.IntN(40) {
			ts = ts.Add(time.Duration(1+r.IntN(3)) * time.Minute)
			o := c
			c *= 1 + (r.Float64()-0.5)*0.02
			if r.IntN(15) == 0 {
				c *= 0.95
			}
			out = append(out, q(sym, ts, o, max(o, c)+0.1, min(o, c)-0.1, c, int64(r.IntN(1000))))
		}
	}
	return out
}

// deliveries cuts src (in source order) into the batches an ingest task could
// see: in order, with duplicated batches, replays from an older offset,
// batches shuffled inside and out of order, and a late day delivered after a
// newer one. It returns the batches and after which ones the task moves (a
// new Writer).
func deliveries(r *rand.Rand, src []quote.Quote) (batches [][]quote.Quote, moves map[int]bool) {
	moves = map[int]bool{}
	for i := 0; i < len(src); {
		n := 1 + r.IntN(60)
		j := min(i+n, len(src))
		b := slices.Clone(src[i:j])
		switch r.IntN(8) {
		case 0: // shuffled inside
			r.Shuffle(len(b), func(x, y int) { b[x], b[y] = b[y], b[x] })
		case 1: // duplicated
			batches = append(batches, slices.Clone(b))
		case 2: // replay from an older offset
			from := max(0, i-r.IntN(120))
			batches = append(batches, slices.Clone(src[from:i]))
		case 3: // the task moves to another node
			moves[len(batches)] = true
		}
		batches = append(batches, b)
		i = j
	}
	// Out of order: swap a few batches.
	for range len(batches) / 10 {
		x, y := r.IntN(len(batches)), r.IntN(len(batches))
		batches[x], batches[y] = batches[y], batches[x]
	}
	return batches, moves
}

// offline computes what the store must hold from the distinct source rows:
// per day bars of every interval, alerts against the previous day's last
// close, and latest of the last day (over the earlier days' daily closes
// when it is a day of daily bars).
func offline(src []quote.Quote, movePct float64, sma, ema []int) (bars map[string][]Bar, alerts []Alert, latest Latest) {
	byDay := map[time.Time][]quote.Quote{}
	for _, x := range src {
		byDay[x.Day()] = append(byDay[x.Day()], x)
	}
	days := sortedDays(byDay)
	bars = map[string][]Bar{}
	var (
		prev    *float64
		earlier []float64
	)
	for _, d := range days {
		for _, iv := range Intervals {
			bars[iv] = append(bars[iv], ComputeBars(byDay[d], iv)...)
		}
		alerts = append(alerts, DetectMoves(byDay[d], prev, movePct)...)
		latest = ComputeSeriesLatest(byDay[d], prev, earlier, sma, ema)
		if m := ComputeBars(byDay[d], Interval1m); len(m) > 0 {
			c := m[len(m)-1].Close
			prev = &c
			earlier = append(earlier, c)
		}
	}
	return bars, alerts, latest
}

// The incremental Writer, fed random permutations, duplicates, replays from
// older offsets, late days and task moves, leaves exactly what the offline
// functions compute from the distinct source rows: every bar of every
// interval bit for bit, the alerts and the latest row.
func TestIntegration_WriterMatchesOffline(t *testing.T) {
	s, ctx := openTest(t), testCtx(t)
	s.cfg.MoveAlertPct = 3
	s.now = func() time.Time { return time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC) }
	days := []time.Time{et(2013, 10, 7, 0, 0), et(2013, 10, 8, 0, 0), et(2013, 10, 10, 0, 0)}
	for seed := range uint64(10) {
		r := rand.New(rand.NewPCG(seed, 2026))
		sym := fmt.Sprintf("T%d", seed)
		var src []quote.Quote
		if seed%3 == 2 {
			src = genBars(r, sym, days)
		} else {
			src = genTicks(r, sym, days)
		}
		batches, moves := deliveries(r, src)
		// A late day: the first day's batches after everything else.
		if seed%2 == 1 {
			var first, rest [][]quote.Quote
			for _, b := range batches {
				if len(b) > 0 && b[0].Day().Equal(days[0].Truncate(24*time.Hour)) {
					first = append(first, b)
				} else {
					rest = append(rest, b)
				}
			}
			batches = append(rest, first...)
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
		}
		wantBars, wantAlerts, wantLatest := offline(src, s.cfg.MoveAlertPct, s.cfg.SMAWindows, s.cfg.EMAWindows)
		from, to := days[0], days[len(days)-1].Add(24*time.Hour)
		for _, iv := range Intervals {
			got, err := s.Bars(ctx, sym, iv, from, to, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, wantBars[iv]) {
				t.Errorf("seed %d %s: %d bars stored, want %d", seed, iv, len(got), len(wantBars[iv]))
				for k := range min(len(got), len(wantBars[iv])) {
					if got[k] != wantBars[iv][k] {
						t.Errorf("  first difference #%d:\n   got %+v\n  want %+v", k, got[k], wantBars[iv][k])
						break
					}
				}
			}
		}
		all, err := s.Alerts(ctx, from, to, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []Alert
		for _, a := range all {
			if a.Symbol == sym {
				got = append(got, a)
			}
		}
		if len(wantAlerts) == 0 {
			t.Errorf("seed %d: the data raise no alert; the test checks nothing there", seed)
		}
		if !reflect.DeepEqual(got, wantAlerts) {
			t.Errorf("seed %d alerts:\n got %+v\nwant %+v", seed, got, wantAlerts)
		}
		l, err := s.Latest(ctx, sym)
		if err != nil || len(l) != 1 {
			t.Fatalf("seed %d: Latest = %v, %v", seed, l, err)
		}
		l[0].Updated = time.Time{}
		if !reflect.DeepEqual(l[0], wantLatest) {
			t.Errorf("seed %d latest:\n got %s\nwant %s", seed, fmtLatest(l[0]), fmtLatest(wantLatest))
		}
		// Every distinct tick is stored once, flagged ones included.
		if seed%3 != 2 {
			rows, err := s.Ticks(ctx, sym, from, to, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(src) {
				t.Errorf("seed %d: %d ticks stored, source has %d", seed, len(rows), len(src))
			}
			for k := range min(len(rows), len(src)) {
				if !rows[k].Quote.Position().Equal(src[k].Position()) || rows[k].Close != src[k].Close || rows[k].Flag != src[k].Flag {
					t.Errorf("seed %d tick %d: stored %+v, source %+v", seed, k, rows[k].Quote, src[k])
					break
				}
			}
		}
	}
}
