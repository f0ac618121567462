package verify

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stock-system/stocksys/chaos"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/store"
)

// Source kinds of DataSummary.Kind.
const (
	KindBars  = "bars"  // 1-minute bars (Lean minute zips, CSVs): the quotes table
	KindTicks = "ticks" // trade ticks (Lean tick zips): the ticks table
)

// maxExamples bounds the rows named per kind of difference and symbol.
const maxExamples = 5

// DataSummary is the data check's result for one symbol.
type DataSummary struct {
	Symbol string `json:"symbol"`
	// Kind is KindBars or KindTicks: what the symbol's source replays, and
	// so which table holds its rows.
	Kind   string `json:"kind"`
	Days   int    `json:"days"`
	Source int    `json:"source"` // quotes or ticks the replay produces (valid ones)
	// Flagged counts the source ticks flagged by the reader (the vendor's
	// suspicious mark, or off the median): stored with their flag, left out
	// of bars.
	Flagged int `json:"flagged,omitempty"`
	Stored  int `json:"stored"` // rows in Cassandra (quotes and ticks tables)
	// Missing: in the source, not stored. A duplicate cannot exist: the key
	// is (symbol, day, ts), or (symbol, day, ts, seq) for ticks.
	Missing int `json:"missing"`
	// Extra: stored, not in the source: a row of the other table included
	// (a tick stored for a bar source, or a quote for a tick source).
	Extra      int `json:"extra"`
	Mismatched int `json:"mismatched"` // stored with other values
	Bars       int `json:"bars"`       // bars compared (all intervals)
	BadBars    int `json:"bad_bars"`   // missing, extra or different from store.ComputeBars of the source
}

// DataStore is what CheckData reads (a *store.Store).
type DataStore interface {
	Rows(ctx context.Context, symbol string, from, to time.Time, limit int) ([]store.Row, error)
	Ticks(ctx context.Context, symbol string, from, to time.Time, limit int) ([]store.Row, error)
	Bars(ctx context.Context, symbol, interval string, from, to time.Time, limit int) ([]store.Bar, error)
}

// DataConfig says what CheckData compares.
type DataConfig struct {
	// Sources maps each symbol to its source spec (chaos.Manifest.Symbols):
	// a replay, whose path is read. An empty spec means DataDir.
	Sources map[string]string
	// DataDir is the replay path of a symbol without a spec.
	DataDir string
	// Settled: the replay finished and every partition was ingested to its
	// end (chaos.Manifest.Settled). When false, rows and bars still missing
	// are reported in the summary but are not violations; rows stored that
	// the source lacks and rows stored with other values always are.
	Settled bool
	// Now is the time quotes are validated at (as the fetch task does).
	// Default time.Now().
	Now time.Time
}

// SourceQuotes returns what the replay of spec (replay:<path>[?...]) or,
// for an empty spec, of dataDir produces for symbol and the fetch task
// keeps, read with the quote package's reader (quote.Replay.Files,
// quote.ReadFile):
//
//   - minute bars (chaos.SourceQuotes): the files merged in TS order, the
//     first file's bar kept for an equal TS, those passing quote.Validate;
//   - trade ticks (Lean tick zips; quote.ReadFile flags them with
//     quote.FlagTicks per file, as the replay does): the files in time
//     order, a file starting at or before the end of the one kept before it
//     left out (as the replay does), the ticks passing quote.Validate.
//
// kind is KindBars or KindTicks.
func SourceQuotes(spec, dataDir, symbol string, now time.Time) (qs []quote.Quote, kind string, err error) {
	path := dataDir
	if spec != "" {
		s, err := quote.ParseSpec(spec)
		if err != nil {
			return nil, "", fmt.Errorf("verify: %s: %w", symbol, err)
		}
		if s.Kind != quote.KindReplay {
			return nil, "", fmt.Errorf("verify: %s: source %q is not a replay: nothing to compare the store with", symbol, spec)
		}
		path = s.Path
	}
	r, err := quote.NewReplay(path, 0, quote.Options{})
	if err != nil {
		return nil, "", err
	}
	files, err := r.Files(symbol)
	if err != nil {
		return nil, "", err
	}
	if len(files) == 0 {
		return nil, "", fmt.Errorf("verify: no replay file for %s in %s", symbol, path)
	}
	type file struct {
		path  string
		ticks []quote.Quote
	}
	var tickFiles []file
	for _, f := range files {
		q, err := quote.ReadFile(f, symbol)
		if err != nil {
			return nil, "", err
		}
		if len(q) == 0 || !q[0].IsTick() {
			if len(tickFiles) > 0 {
				return nil, "", fmt.Errorf("verify: %s: %s holds bars, %s ticks (the replay reads one kind)", symbol, f, tickFiles[0].path)
			}
			// Bar files: read as the chaos settle check reads them.
			qs, err := chaos.SourceQuotes(path, symbol, now)
			return qs, KindBars, err
		}
		tickFiles = append(tickFiles, file{f, q})
	}
	sort.SliceStable(tickFiles, func(i, j int) bool { return tickFiles[i].ticks[0].TS.Before(tickFiles[j].ticks[0].TS) })
	var kept []file
	for _, f := range tickFiles {
		if n := len(kept); n > 0 {
			prev := kept[n-1].ticks
			if !f.ticks[0].Position().After(prev[len(prev)-1].Position()) {
				continue
			}
		}
		kept = append(kept, f)
	}
	for _, f := range kept {
		for _, q := range f.ticks {
			if quote.Validate(q, now) == nil {
				qs = append(qs, q)
			}
		}
	}
	return qs, KindTicks, nil
}

// CheckData compares, per symbol and trading day, the rows in Cassandra
// (the quotes and the ticks tables) with the source's (SourceQuotes): for
// a bar source every quote stored once with the same values (TS, OHLCV,
// bid, ask); for a tick source every tick stored once under its (TS, Seq)
// with the same price, size and flag (and exchange, condition, bid, ask);
// nothing stored that the source lacks; and the stored bars of every
// interval (1m, 5m, 1h, 1d) equal to store.ComputeBars of the source (for
// ticks: of the unflagged ticks). Violations name the counts per day and
// the first rows of each kind of difference.
func CheckData(ctx context.Context, st DataStore, cfg DataConfig, symbols []string) ([]DataSummary, []Violation, error) {
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	var out []DataSummary
	var vs []Violation
	from, to := time.Unix(0, 0).UTC(), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, sym := range symbols {
		src, kind, err := SourceQuotes(cfg.Sources[sym], cfg.DataDir, sym, cfg.Now)
		if err != nil {
			return nil, nil, err
		}
		quotes, err := st.Rows(ctx, sym, from, to, 0)
		if err != nil {
			return nil, nil, err
		}
		ticks, err := st.Ticks(ctx, sym, from, to, 0)
		if err != nil {
			return nil, nil, err
		}
		bars := map[string][]store.Bar{}
		for _, iv := range store.Intervals {
			if bars[iv], err = st.Bars(ctx, sym, iv, from, to, 0); err != nil {
				return nil, nil, err
			}
		}
		s, v := CompareData(sym, kind, src, quotes, ticks, bars, cfg.Settled)
		out = append(out, s)
		vs = append(vs, v...)
	}
	return out, vs, nil
}

// CompareData is CheckData's comparison of one symbol: src is the source
// (SourceQuotes, of kind), quotes and ticks the symbol's stored rows of
// either table, bars its stored bars by interval.
func CompareData(sym, kind string, src []quote.Quote, quotes, ticks []store.Row, bars map[string][]store.Bar, settled bool) (DataSummary, []Violation) {
	var vs []Violation
	bad := func(format string, args ...any) { vs = append(vs, Violation{"data", fmt.Sprintf(format, args...)}) }
	s := DataSummary{Symbol: sym, Kind: kind, Source: len(src), Stored: len(quotes) + len(ticks)}

	// The rows of the source's table are compared by key; those of the
	// other table are all extra.
	stored, other, otherName := quotes, ticks, "ticks"
	if kind == KindTicks {
		stored, other, otherName = ticks, quotes, "quotes"
	}
	want := make(map[int64]quote.Quote, len(src))
	days := map[time.Time]bool{}
	for _, q := range src {
		want[q.Position().UnixNano()] = q
		days[q.Day()] = true
		if q.Flag != "" {
			s.Flagged++
		}
	}
	s.Days = len(days)
	type dayCounts struct{ missing, extra, different int }
	perDay := map[time.Time]*dayCounts{}
	day := func(d time.Time) *dayCounts {
		if perDay[d] == nil {
			perDay[d] = &dayCounts{}
		}
		return perDay[d]
	}
	var extras, diffs, missing []string
	got := make(map[int64]bool, len(stored))
	for _, r := range stored {
		k := r.Position().UnixNano()
		got[k] = true
		w, ok := want[k]
		switch {
		case !ok:
			s.Extra++
			day(r.Day()).extra++
			if len(extras) < maxExamples {
				extras = append(extras, describe(kind, r.Quote))
			}
		default:
			if d := differences(kind, w, r.Quote); d != "" {
				s.Mismatched++
				day(r.Day()).different++
				if len(diffs) < maxExamples {
					diffs = append(diffs, describe(kind, r.Quote)+": "+d)
				}
			}
		}
	}
	for _, r := range other {
		s.Extra++
		day(r.Day()).extra++
		if len(extras) < maxExamples {
			extras = append(extras, otherName+" row "+describe(otherName, r.Quote))
		}
	}
	for _, q := range src { // in source order, so the examples are the first ones
		if !got[q.Position().UnixNano()] {
			s.Missing++
			day(q.Day()).missing++
			if len(missing) < maxExamples {
				missing = append(missing, describe(kind, q))
			}
		}
	}
	what := "quotes"
	if kind == KindTicks {
		what = "ticks"
	}
	for _, d := range sortedDays(perDay) {
		c := perDay[d]
		if c.extra > 0 || c.different > 0 || (settled && c.missing > 0) {
			bad("%s %s: %d %s missing, %d extra, %d different from the source", sym, d.Format(time.DateOnly), c.missing, what, c.extra, c.different)
		}
	}
	if s.Extra > 0 {
		bad("%s: %d rows stored that the source lacks; first: %s", sym, s.Extra, strings.Join(extras, "; "))
	}
	if s.Mismatched > 0 {
		bad("%s: %d %s stored with other values than the source's; first: %s", sym, s.Mismatched, what, strings.Join(diffs, "; "))
	}
	if settled && s.Missing > 0 {
		bad("%s: %d %s of the source not stored; first: %s", sym, s.Missing, what, strings.Join(missing, "; "))
	}

	// Bars: stored versus store.ComputeBars of the source (flagged ticks
	// left out). Before the run settled, only a stored bar in a window the
	// source has no bar for is a violation.
	for _, iv := range store.Intervals {
		wantBars := store.ComputeBars(src, iv)
		gb := map[int64]store.Bar{}
		for _, b := range bars[iv] {
			gb[b.TS.UnixNano()] = b
		}
		s.Bars += len(wantBars)
		for _, w := range wantBars {
			g, ok := gb[w.TS.UnixNano()]
			delete(gb, w.TS.UnixNano())
			if !ok || !sameBar(w, g) {
				s.BadBars++
				if settled && s.BadBars <= maxExamples {
					if !ok {
						bad("%s %s bar %s: not stored; recomputed %s", sym, iv, w.TS.UTC().Format(time.RFC3339), barText(w))
					} else {
						bad("%s %s bar %s: stored %s; recomputed %s", sym, iv, w.TS.UTC().Format(time.RFC3339), barText(g), barText(w))
					}
				}
			}
		}
		extraBars := make([]int64, 0, len(gb))
		for ts := range gb {
			extraBars = append(extraBars, ts)
		}
		slices.Sort(extraBars)
		for i, ts := range extraBars {
			s.BadBars++
			if i < maxExamples {
				bad("%s %s bar %s stored (%s) but not in the recomputation", sym, iv, time.Unix(0, ts).UTC().Format(time.RFC3339), barText(gb[ts]))
			}
		}
		if len(extraBars) > maxExamples {
			bad("%s %s: %d bars stored but not in the recomputation in all", sym, iv, len(extraBars))
		}
	}
	return s, vs
}

func sortedDays[V any](m map[time.Time]V) []time.Time {
	out := make([]time.Time, 0, len(m))
	for d := range m {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// describe names a row for a violation: its time (and seq for a tick) and
// values.
func describe(kind string, q quote.Quote) string {
	ts := q.TS.UTC().Format("2006-01-02T15:04:05.000Z")
	if kind == KindTicks || q.IsTick() {
		s := fmt.Sprintf("%s seq %d price %g size %d", ts, q.Seq, q.Close, q.Volume)
		if q.Flag != "" {
			s += " flag " + q.Flag
		}
		return s
	}
	return fmt.Sprintf("%s o %g h %g l %g c %g v %d", ts, q.Open, q.High, q.Low, q.Close, q.Volume)
}

// differences lists the fields in which the stored row got differs from
// the source's w ("" if none).
func differences(kind string, w, got quote.Quote) string {
	var d []string
	diff := func(name string, want, have any) { d = append(d, fmt.Sprintf("%s %v, source %v", name, have, want)) }
	fdiff := func(name string, want, have float64) {
		if !feq(want, have) {
			diff(name, want, have)
		}
	}
	pdiff := func(name string, want, have *float64) {
		if !optEq(want, have) {
			diff(name, optText(want), optText(have))
		}
	}
	if kind == KindTicks {
		fdiff("price", w.Close, got.Close)
		if got.Open != got.High || got.Open != got.Low || got.Open != got.Close {
			d = append(d, fmt.Sprintf("open/high/low/close %g/%g/%g/%g differ", got.Open, got.High, got.Low, got.Close))
		}
		if w.Volume != got.Volume {
			diff("size", w.Volume, got.Volume)
		}
		if w.Flag != got.Flag {
			diff("flag", fmt.Sprintf("%q", w.Flag), fmt.Sprintf("%q", got.Flag))
		}
		if w.Exchange != got.Exchange {
			diff("exchange", w.Exchange, got.Exchange)
		}
		if w.Condition != got.Condition {
			diff("condition", w.Condition, got.Condition)
		}
	} else {
		fdiff("open", w.Open, got.Open)
		fdiff("high", w.High, got.High)
		fdiff("low", w.Low, got.Low)
		fdiff("close", w.Close, got.Close)
		if w.Volume != got.Volume {
			diff("volume", w.Volume, got.Volume)
		}
	}
	pdiff("bid", w.Bid, got.Bid)
	pdiff("ask", w.Ask, got.Ask)
	return strings.Join(d, ", ")
}

func optText(p *float64) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(*p)
}

func barText(b store.Bar) string {
	return fmt.Sprintf("o %g h %g l %g c %g v %d vwap %g n %d", b.Open, b.High, b.Low, b.Close, b.Volume, b.VWAP, b.Count)
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

func sameBar(a, b store.Bar) bool {
	return a.TS.Equal(b.TS) && feq(a.Open, b.Open) && feq(a.High, b.High) && feq(a.Low, b.Low) &&
		feq(a.Close, b.Close) && a.Volume == b.Volume && a.Count == b.Count && feq(a.VWAP, b.VWAP)
}
