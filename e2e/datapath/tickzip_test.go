package datapath

import (
	"archive/zip"
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/store"
)

// The test's own reading of Lean tick zips and its own aggregation: nothing
// of the quote package's reader or the store's compute functions, so the
// product is compared with an independent reading of the file.

// zipTick is one trade line of a Lean tick zip.
type zipTick struct {
	line       int       // 1-based line in the CSV
	ts         time.Time // UTC, millisecond
	seq        int32     // index among the good trades of its millisecond, in file order
	priceX     int64     // price x 10000, as in the file
	size       int64
	exchange   string
	condition  string
	suspicious bool // last column 1
}

func (z zipTick) price() float64 { return float64(z.priceX) / 10000 }

// key identifies a tick: (ms, seq).
type tickKey struct {
	ms  int64
	seq int32
}

func (z zipTick) key() tickKey { return tickKey{z.ts.UnixMilli(), z.seq} }

// readZipLines returns the lines of the one CSV inside the zip at path.
func readZipLines(t *testing.T, path string) []string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer zr.Close()
	if len(zr.File) != 1 {
		t.Fatalf("%s: %d entries; want 1", path, len(zr.File))
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n"), "\n")
}

// parseTickLine reads `ms,price,quantity,exchange,sale_condition,suspicious`
// of day (midnight US/Eastern): ok false for a line the documented rules
// refuse (other than 6 fields, a time outside the day, a price or size that
// is not a positive integer, suspicious other than 0/1).
func parseTickLine(day time.Time, line string) (z zipTick, ok bool) {
	f := strings.Split(line, ",")
	if len(f) != 6 {
		return z, false
	}
	ms, err1 := strconv.ParseInt(f[0], 10, 64)
	px, err2 := strconv.ParseInt(f[1], 10, 64)
	size, err3 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || ms < 0 || ms >= 24*3_600_000 || px <= 0 || size <= 0 || size > math.MaxInt32 {
		return z, false
	}
	if f[5] != "0" && f[5] != "1" {
		return z, false
	}
	// No change of daylight saving time on the test days: wall-clock ms
	// since midnight is ms since the instant of midnight.
	return zipTick{ts: day.Add(time.Duration(ms) * time.Millisecond).UTC(), priceX: px, size: size,
		exchange: f[3], condition: f[4], suspicious: f[5] == "1"}, true
}

// readZipTicks reads the good trade lines of the tick zip at path (the
// date in its name) with their seq, in file order, and the numbers of the
// lines refused.
func readZipTicks(t *testing.T, path string) (ticks []zipTick, bad []int) {
	t.Helper()
	d, err := time.ParseInLocation("20060102", strings.SplitN(filepath.Base(path), "_", 2)[0], quote.Eastern)
	if err != nil {
		t.Fatalf("date of %s: %v", path, err)
	}
	seqs := map[int64]int32{}
	for i, line := range readZipLines(t, path) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		z, ok := parseTickLine(d, line)
		if !ok {
			bad = append(bad, i+1)
			continue
		}
		z.line = i + 1
		ms := z.ts.UnixMilli()
		z.seq = seqs[ms]
		seqs[ms]++
		ticks = append(ticks, z)
	}
	return ticks, bad
}

// offMedianRule is the documented implausible-print rule (quote.FlagTicks,
// TickMedianWindow 50, TickMedianPct 0.5) computed here: over the trades in
// time order, a trade is off the median when at least 25 trades precede it
// in the window and its price lies more than 0.5% of the median away from
// the median of the previous 50 trades, those marked suspicious left out;
// trades it flags still enter the window; the median of an even count is
// the mean of the middle two. It returns the keys it flags.
func offMedianRule(ticks []zipTick) map[tickKey]bool {
	const window, pct = 50, 0.5
	sorted := slices.Clone(ticks)
	slices.SortStableFunc(sorted, func(a, b zipTick) int {
		return cmp.Or(a.ts.Compare(b.ts), cmp.Compare(a.seq, b.seq))
	})
	out := map[tickKey]bool{}
	var win []float64 // the last `window` non-suspicious prices, oldest first
	buf := make([]float64, 0, window)
	for _, z := range sorted {
		if z.suspicious {
			continue
		}
		p := z.price()
		if len(win) >= window/2 {
			buf = append(buf[:0], win...)
			slices.Sort(buf)
			n := len(buf)
			m := buf[n/2]
			if n%2 == 0 {
				m = (buf[n/2-1] + buf[n/2]) / 2
			}
			if math.Abs(p-m) > pct/100*m {
				out[z.key()] = true
			}
		}
		win = append(win, p)
		if len(win) > window {
			win = win[1:]
		}
	}
	return out
}

// ownBar is the test's aggregate of one window.
type ownBar struct {
	start                  time.Time
	open, high, low, close float64
	volume                 int64
	pv                     float64
	count                  int
}

func (b ownBar) vwap() float64 { return b.pv / float64(b.volume) }

// windowStart aligns ts to its Eastern window (1m, 5m at :00/:05..., 1h at
// whole hours, 1d at Eastern midnight); no DST change on the test days.
func windowStart(ts time.Time, iv string) time.Time {
	l := ts.In(quote.Eastern)
	y, mo, d := l.Date()
	h, mi := l.Hour(), l.Minute()
	switch iv {
	case "1m":
	case "5m":
		mi -= mi % 5
	case "1h":
		mi = 0
	case "1d":
		h, mi = 0, 0
	default:
		panic(iv)
	}
	return time.Date(y, mo, d, h, mi, 0, 0, quote.Eastern).UTC()
}

// ownBars aggregates the ticks not in excluded into bars of iv, in time
// order: open/close the first/last trade in (ts, seq) order, VWAP =
// sum(price*size)/sum(size).
func ownBars(ticks []zipTick, excluded map[tickKey]bool, iv string) []ownBar {
	sorted := slices.Clone(ticks)
	slices.SortStableFunc(sorted, func(a, b zipTick) int {
		return cmp.Or(a.ts.Compare(b.ts), cmp.Compare(a.seq, b.seq))
	})
	var out []ownBar
	for _, z := range sorted {
		if excluded[z.key()] {
			continue
		}
		p, start := z.price(), windowStart(z.ts, iv)
		if n := len(out); n == 0 || !out[n-1].start.Equal(start) {
			out = append(out, ownBar{start: start, open: p, high: p, low: p})
		}
		b := &out[len(out)-1]
		b.high, b.low, b.close = max(b.high, p), min(b.low, p), p
		b.volume += z.size
		b.pv += p * float64(z.size)
		b.count++
	}
	return out
}

func relEq(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

// checkTicksAgainstZip asserts that the stored ticks of symbol on the day
// are exactly the zip's good trades: the same number, each (ts, seq) once,
// with the line's price and size. It returns the stored flags by key.
func checkTicksAgainstZip(t *testing.T, st *store.Store, symbol string, want []zipTick) (map[tickKey]string, []store.Row) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	day := windowStart(want[0].ts, "1d")
	start := time.Now()
	got, err := st.Ticks(ctx, symbol, day, day.Add(24*time.Hour), 0)
	if err != nil {
		t.Fatalf("read %s ticks: %v", symbol, err)
	}
	t.Logf("read %d stored %s ticks in %v", len(got), symbol, time.Since(start).Round(time.Millisecond))
	if len(got) != len(want) {
		t.Errorf("%s: %d ticks stored on %s; want exactly %d (the zip's good trades)", symbol, len(got), day.Format(time.DateOnly), len(want))
	}
	byKey := map[tickKey]zipTick{}
	for _, z := range want {
		byKey[z.key()] = z
	}
	flags := map[tickKey]string{}
	seen := map[tickKey]bool{}
	bad := 0
	report := func(format string, args ...any) {
		bad++
		if bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	for _, r := range got {
		k := tickKey{r.TS.UnixMilli(), r.Seq}
		if seen[k] {
			report("%s tick %s seq %d stored twice", symbol, r.TS.Format(time.RFC3339Nano), r.Seq)
		}
		seen[k] = true
		z, ok := byKey[k]
		switch {
		case !ok:
			report("%s tick %s seq %d (price %v size %d) stored but not in the zip", symbol, r.TS.Format(time.RFC3339Nano), r.Seq, r.Close, r.Volume)
		case r.TS.Nanosecond()%1_000_000 != 0 || math.Round(r.Close*10000) != float64(z.priceX) || r.Open != r.Close ||
			r.High != r.Close || r.Low != r.Close || r.Volume != z.size || r.Kind != quote.KindTrade:
			report("%s tick %s seq %d: stored price %v size %d (kind %q); zip line %d has price %d/10000 size %d",
				symbol, r.TS.Format(time.RFC3339Nano), r.Seq, r.Close, r.Volume, r.Kind, z.line, z.priceX, z.size)
		}
		if r.Flag != "" {
			flags[k] = r.Flag
		}
	}
	missing := 0
	for k, z := range byKey {
		if !seen[k] {
			missing++
			if missing <= 5 {
				t.Errorf("%s: zip line %d (%s seq %d) not stored", symbol, z.line, z.ts.Format(time.RFC3339Nano), z.seq)
			}
		}
	}
	if bad > 0 || missing > 0 {
		t.Errorf("%s: %d stored ticks wrong or extra, %d of the zip's %d missing", symbol, bad, missing, len(want))
	}
	return flags, got
}

// checkFlags asserts that every stored flag is a suspicious line of the zip
// (flag suspicious) or a trade the documented median rule flags (flag
// off_median), and that every such tick is stored flagged.
func checkFlags(t *testing.T, symbol string, want []zipTick, flags map[tickKey]string) {
	t.Helper()
	median := offMedianRule(want)
	susp := map[tickKey]bool{}
	for _, z := range want {
		if z.suspicious {
			susp[z.key()] = true
		}
	}
	for k, f := range flags {
		ok := f == quote.FlagSuspicious && susp[k] || f == quote.FlagOffMedian && median[k]
		if !ok {
			t.Errorf("%s tick %s seq %d stored with flag %q; suspicious in the zip %v, off the median by the rule %v",
				symbol, time.UnixMilli(k.ms).UTC().Format(time.RFC3339Nano), k.seq, f, susp[k], median[k])
		}
	}
	for k := range susp {
		if flags[k] != quote.FlagSuspicious {
			t.Errorf("%s tick %s seq %d suspicious in the zip, stored with flag %q", symbol, time.UnixMilli(k.ms).UTC().Format(time.RFC3339Nano), k.seq, flags[k])
		}
	}
	for k := range median {
		if flags[k] != quote.FlagOffMedian {
			t.Errorf("%s tick %s seq %d off the median by the documented rule, stored with flag %q", symbol, time.UnixMilli(k.ms).UTC().Format(time.RFC3339Nano), k.seq, flags[k])
		}
	}
	t.Logf("%s: %d stored flags (%d suspicious in the zip, %d off the median by the rule computed here)", symbol, len(flags), len(susp), len(median))
}

// checkOwnBars asserts that the stored bars of every interval equal the
// test's own aggregation of the zip's trades, the stored flagged ones
// excluded (relative tolerance 1e-9 for prices and VWAP). It returns the
// bar count per interval.
func checkOwnBars(t *testing.T, st *store.Store, symbol string, want []zipTick, flags map[tickKey]string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	excluded := map[tickKey]bool{}
	for k := range flags {
		excluded[k] = true
	}
	counts := map[string]int{}
	for _, iv := range []string{"1m", "5m", "1h", "1d"} {
		own := ownBars(want, excluded, iv)
		got, err := st.Bars(ctx, symbol, iv, epoch0, farEnd, 0)
		if err != nil {
			t.Fatalf("read %s %s bars: %v", symbol, iv, err)
		}
		counts[iv] = len(got)
		gotBy := map[int64]store.Bar{}
		for _, b := range got {
			gotBy[b.TS.UnixMilli()] = b
		}
		bad := 0
		for _, w := range own {
			g, ok := gotBy[w.start.UnixMilli()]
			delete(gotBy, w.start.UnixMilli())
			if !ok || !relEq(g.Open, w.open) || !relEq(g.High, w.high) || !relEq(g.Low, w.low) || !relEq(g.Close, w.close) ||
				g.Volume != w.volume || g.Count != w.count || !relEq(g.VWAP, w.vwap()) {
				bad++
				if bad <= 3 {
					t.Errorf("%s %s bar %s: stored %+v (found %v); own aggregation open %v high %v low %v close %v volume %d count %d vwap %v",
						symbol, iv, w.start.In(quote.Eastern).Format("15:04"), g, ok, w.open, w.high, w.low, w.close, w.volume, w.count, w.vwap())
				}
			}
		}
		for ts, g := range gotBy {
			bad++
			t.Errorf("%s %s bar %s stored (%+v) but no unflagged trade falls in it", symbol, iv, time.UnixMilli(ts).UTC().Format(time.RFC3339), g)
		}
		if bad > 0 || len(got) != len(own) {
			t.Errorf("%s %s: %d bars stored, %d aggregated here, %d wrong", symbol, iv, len(got), len(own), bad)
		}
	}
	return counts
}

// metricSamples returns the samples of metric name at a node's /metrics,
// by their label text (`{reason="bad_size",symbol="TST"}`).
func metricSamples(base, node int, name string) (map[string]float64, error) {
	cl := http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", base+node))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		v, err := strconv.ParseFloat(rest[i+1:], 64)
		if err != nil {
			continue
		}
		out[strings.TrimSpace(rest[:i])] += v
	}
	return out, sc.Err()
}

// writeTickZip writes lines as the one CSV (inner name) of a zip at path.
func writeTickZip(t *testing.T, path, inner string, lines []string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, err := zw.Create(inner)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, strings.Join(lines, "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
