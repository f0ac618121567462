package verify

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/store"
)

// DataSummary is the data check's result for one symbol.
type DataSummary struct {
	Symbol     string `json:"symbol"`
	Days       int    `json:"days"`
	Source     int    `json:"source"`     // quotes the replay produces (valid ones)
	Stored     int    `json:"stored"`     // quotes in Cassandra
	Missing    int    `json:"missing"`    // in the source, not stored
	Extra      int    `json:"extra"`      // stored, not in the source (duplicates of a TS cannot exist: (symbol, day, ts) is the key)
	Mismatched int    `json:"mismatched"` // stored with other values
	Bars       int    `json:"bars"`       // bars compared (all intervals)
	BadBars    int    `json:"bad_bars"`   // missing, extra or different from store.ComputeBars of the source
}

// CheckData compares, per symbol and trading day, the quotes in Cassandra
// with the source's, and the stored bars of every interval with
// store.ComputeBars of the source quotes.
func CheckData(ctx context.Context, st *store.Store, dataDir string, symbols []string) ([]DataSummary, []Violation, error) {
	var out []DataSummary
	var vs []Violation
	bad := func(format string, args ...any) { vs = append(vs, Violation{"data", fmt.Sprintf(format, args...)}) }
	from, to := time.Unix(0, 0), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, sym := range symbols {
		src, err := sourceQuotes(dataDir, sym)
		if err != nil {
			return nil, nil, err
		}
		stored, err := st.Quotes(ctx, sym, from, to, 0)
		if err != nil {
			return nil, nil, err
		}
		s := DataSummary{Symbol: sym, Source: len(src), Stored: len(stored)}
		want := map[time.Time]quote.Quote{}
		days := map[time.Time]bool{}
		for _, q := range src {
			want[q.TS.UTC()] = q
			days[q.Day()] = true
		}
		s.Days = len(days)
		got := map[time.Time]bool{}
		perDay := map[time.Time][3]int{} // missing, extra, mismatched
		for _, q := range stored {
			got[q.TS.UTC()] = true
			w, ok := want[q.TS.UTC()]
			d := perDay[q.Day()]
			switch {
			case !ok:
				s.Extra++
				d[1]++
			case !sameQuote(w, q):
				s.Mismatched++
				d[2]++
			}
			perDay[q.Day()] = d
		}
		for ts, q := range want {
			if !got[ts] {
				s.Missing++
				d := perDay[q.Day()]
				d[0]++
				perDay[q.Day()] = d
			}
		}
		for day, d := range perDay {
			if d != [3]int{} {
				bad("%s %s: %d quotes missing, %d extra, %d different from the source", sym, day.Format(time.DateOnly), d[0], d[1], d[2])
			}
		}
		for _, iv := range store.Intervals {
			wantBars := store.ComputeBars(src, iv)
			gotBars, err := st.Bars(ctx, sym, iv, from, to, 0)
			if err != nil {
				return nil, nil, err
			}
			gb := map[time.Time]store.Bar{}
			for _, b := range gotBars {
				gb[b.TS.UTC()] = b
			}
			s.Bars += len(wantBars)
			for _, w := range wantBars {
				g, ok := gb[w.TS.UTC()]
				if !ok || !sameBar(w, g) {
					s.BadBars++
					if s.BadBars <= 5 {
						bad("%s %s bar %s: stored %+v; recomputed %+v", sym, iv, w.TS.UTC().Format(time.RFC3339), g, w)
					}
				}
				delete(gb, w.TS.UTC())
			}
			for ts := range gb {
				s.BadBars++
				bad("%s %s bar %s stored but not in the recomputation", sym, iv, ts.Format(time.RFC3339))
			}
		}
		out = append(out, s)
	}
	return out, vs, nil
}

func feq(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func optEq(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return feq(*a, *b)
}

func sameQuote(a, b quote.Quote) bool {
	return a.Symbol == b.Symbol && a.TS.Equal(b.TS) && feq(a.Open, b.Open) && feq(a.High, b.High) &&
		feq(a.Low, b.Low) && feq(a.Close, b.Close) && a.Volume == b.Volume && optEq(a.Bid, b.Bid) && optEq(a.Ask, b.Ask)
}

func sameBar(a, b store.Bar) bool {
	return a.TS.Equal(b.TS) && feq(a.Open, b.Open) && feq(a.High, b.High) && feq(a.Low, b.Low) &&
		feq(a.Close, b.Close) && a.Volume == b.Volume && a.Count == b.Count && feq(a.VWAP, b.VWAP)
}
