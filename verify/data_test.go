package verify

import (
	"archive/zip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/store"
)

// writeZip writes lines as the one CSV named inner of a zip at path.
func writeZip(t *testing.T, path, inner string, lines []string) {
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
	if _, err := w.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// tickLines returns n trade lines from 09:30 Eastern, two per millisecond
// every 700 ms, around $168, with the line at suspicious marked 1 and the
// one at spike priced 1% off (flagged off the median).
func tickLines(n, suspicious, spike int) []string {
	var out []string
	for i := range n {
		px, s := 1680000+int64(i%5)*100, 0
		if i == spike {
			px = 1697000
		}
		if i == suspicious {
			s = 1
		}
		out = append(out, fmt.Sprintf("%d,%d,%d,P,20002000,%d", 34_200_000+(i/2)*700, px, 100+i, s))
	}
	return out
}

// tickDir writes a tick replay folder with a 120-trade SPY zip and returns it.
func tickDir(t *testing.T) string {
	dir := t.TempDir()
	writeZip(t, filepath.Join(dir, "spy", "20131007_trade.zip"), "20131007_spy_Trade_Tick.csv", tickLines(120, 7, 80))
	return dir
}

func TestSourceQuotesTicks(t *testing.T) {
	dir := tickDir(t)
	// A second day, and a file overlapping the first (left out, as the
	// replay leaves it out).
	writeZip(t, filepath.Join(dir, "spy", "20131008_trade.zip"), "20131008_spy_Trade_Tick.csv", tickLines(30, -1, -1))
	writeZip(t, filepath.Join(dir, "spy", "b", "20131007_trade.zip"), "20131007_spy_Trade_Tick.csv", tickLines(10, -1, -1))
	qs, kind, err := SourceQuotes("replay:"+dir+"?rate=100", "/nonexistent", "SPY", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if kind != KindTicks || len(qs) != 150 {
		t.Fatalf("kind %s, %d ticks; want ticks, 150 (the overlapping file left out)", kind, len(qs))
	}
	flags := map[string]int{}
	for i, q := range qs {
		if !q.IsTick() || q.Seq != int32(i%2) && i < 120 {
			t.Fatalf("tick %d: %+v", i, q)
		}
		if i > 0 && !qs[i-1].Position().Before(q.Position()) {
			t.Fatalf("ticks %d, %d not in Position order", i-1, i)
		}
		flags[q.Flag]++
	}
	if flags[quote.FlagSuspicious] != 1 || flags[quote.FlagOffMedian] != 1 {
		t.Errorf("flags %v; want one suspicious and one off the median", flags)
	}
	// Without a spec: the data folder.
	if qs2, kind, err := SourceQuotes("", dir, "SPY", time.Now()); err != nil || kind != KindTicks || len(qs2) != len(qs) {
		t.Errorf("no spec: %d, %s, %v", len(qs2), kind, err)
	}
	if _, _, err := SourceQuotes("synthetic", dir, "SPY", time.Now()); err == nil || !strings.Contains(err.Error(), "not a replay") {
		t.Errorf("synthetic source: %v; want not a replay", err)
	}
	if _, _, err := SourceQuotes("replay:"+dir, "", "MSFT", time.Now()); err == nil || !strings.Contains(err.Error(), "no replay file for MSFT") {
		t.Errorf("no file: %v", err)
	}
}

func TestSourceQuotesBars(t *testing.T) {
	zp := testenv.SharedData(t, "lean-spy-minute/20131007_trade.zip")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "spy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(zp, filepath.Join(dir, "spy", "20131007_trade.zip")); err != nil {
		t.Fatal(err)
	}
	qs, kind, err := SourceQuotes("replay:"+dir+"?speed=300", "", "SPY", time.Now())
	if err != nil || kind != KindBars || len(qs) == 0 || qs[0].IsTick() {
		t.Fatalf("minute zip: %d quotes, kind %s, %v", len(qs), kind, err)
	}
}

// stored returns src as the store holds it: rows with the epoch set, and
// the bars store.ComputeBars makes.
func stored(src []quote.Quote) ([]store.Row, map[string][]store.Bar) {
	rows := make([]store.Row, len(src))
	for i, q := range src {
		rows[i] = store.Row{Quote: q, Epoch: 3}
	}
	bars := map[string][]store.Bar{}
	for _, iv := range store.Intervals {
		bars[iv] = store.ComputeBars(src, iv)
	}
	return rows, bars
}

func violations(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString("\n  " + v.Detail)
	}
	return b.String()
}

func TestCompareTicks(t *testing.T) {
	src, kind, err := SourceQuotes("", tickDir(t), "SPY", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ticks, bars := stored(src)
	s, vs := CompareData("SPY", kind, src, nil, ticks, bars, true)
	if len(vs) != 0 || s.Source != 120 || s.Stored != 120 || s.Flagged != 2 || s.Days != 1 || s.Bars == 0 || s.BadBars != 0 || s.Kind != KindTicks {
		t.Fatalf("identical: %+v%s", s, violations(vs))
	}

	// One tick missing, one extra (a seq the source lacks), one with
	// another size, one without its flag, and a quotes row.
	bad := append([]store.Row(nil), ticks...)
	bad = append(bad[:10], bad[11:]...) // missing: source tick 10
	extra := ticks[20]
	extra.Seq = 5
	bad = append(bad, extra)
	bad[30].Volume++
	for i := range bad {
		if bad[i].Flag == quote.FlagSuspicious {
			bad[i].Flag = ""
		}
	}
	quoteRow := store.Row{Quote: quote.Quote{Symbol: "SPY", TS: src[0].TS.Truncate(time.Minute), Open: 1, High: 1, Low: 1, Close: 1, Volume: 1}}
	s, vs = CompareData("SPY", kind, src, []store.Row{quoteRow}, bad, bars, true)
	text := violations(vs)
	if s.Missing != 1 || s.Extra != 2 || s.Mismatched != 2 {
		t.Errorf("summary %+v; want 1 missing, 2 extra, 2 different%s", s, text)
	}
	for _, want := range []string{
		"SPY 2013-10-07: 1 ticks missing, 2 extra, 2 different from the source",
		"2 rows stored that the source lacks; first: " + extra.TS.Format("2006-01-02T15:04:05.000Z") + " seq 5 price",
		"quotes row 2013-10-07T13:30:00.000Z o 1 h 1 l 1 c 1 v 1",
		"size 132, source 131",
		`flag "", source "suspicious"`,
		"1 ticks of the source not stored; first: " + src[10].TS.Format("2006-01-02T15:04:05.000Z") + " seq 0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("violations lack %q:%s", want, text)
		}
	}

	// Before the run settled: the missing tick and a missing bar are not
	// violations; the extra and the different ticks are.
	short := bars["1m"][:len(bars["1m"])-1]
	s, vs = CompareData("SPY", kind, src, nil, bad, map[string][]store.Bar{"1m": short, "5m": bars["5m"], "1h": bars["1h"], "1d": bars["1d"]}, false)
	text = violations(vs)
	if s.Missing != 1 || s.BadBars != 1 || strings.Contains(text, "not stored") || !strings.Contains(text, "1 rows stored that the source lacks") ||
		!strings.Contains(text, "stored with other values") {
		t.Errorf("not settled: %+v%s", s, text)
	}

	// A wrong bar and a bar the source has no ticks for.
	wrong := map[string][]store.Bar{}
	for iv, bs := range bars {
		wrong[iv] = append([]store.Bar(nil), bs...)
	}
	wrong["5m"][0].VWAP += 0.01
	stray := wrong["1m"][0]
	stray.TS = stray.TS.Add(-time.Hour)
	wrong["1m"] = append(wrong["1m"], stray)
	_, vs = CompareData("SPY", kind, src, nil, ticks, wrong, false)
	text = violations(vs)
	if len(vs) != 1 || !strings.Contains(text, "SPY 1m bar 2013-10-07T12:30:00Z stored") {
		t.Errorf("not settled, a stray bar: %s", text)
	}
	_, vs = CompareData("SPY", kind, src, nil, ticks, wrong, true)
	text = violations(vs)
	if len(vs) != 2 || !strings.Contains(text, "SPY 5m bar 2013-10-07T13:30:00Z: stored o ") {
		t.Errorf("settled, a wrong and a stray bar: %s", text)
	}
	// Summation order: a VWAP off by a relative 1e-12 is equal.
	wrong["5m"][0].VWAP = bars["5m"][0].VWAP * (1 + 1e-12)
	wrong["1m"] = bars["1m"]
	if _, vs = CompareData("SPY", kind, src, nil, ticks, wrong, true); len(vs) != 0 {
		t.Errorf("VWAP within 1e-9: %s", violations(vs))
	}
}

func TestCompareBarsTicksTableExtra(t *testing.T) {
	ts := time.Date(2013, 10, 7, 9, 30, 0, 0, quote.Eastern).UTC()
	var src []quote.Quote
	for i := range 10 {
		p := 168 + float64(i)/10
		src = append(src, quote.Quote{Symbol: "SPY", TS: ts.Add(time.Duration(i) * time.Minute), Open: p, High: p + 1, Low: p - 1, Close: p, Volume: 1000})
	}
	rows, bars := stored(src)
	if s, vs := CompareData("SPY", KindBars, src, rows, nil, bars, true); len(vs) != 0 || s.Stored != 10 || s.Kind != KindBars {
		t.Fatalf("identical bars: %+v%s", s, violations(vs))
	}
	tick := store.Row{Quote: quote.Quote{Symbol: "SPY", TS: ts, Kind: quote.KindTrade, Seq: 1, Open: 168, High: 168, Low: 168, Close: 168, Volume: 5}}
	rows[3].Close += 0.5
	s, vs := CompareData("SPY", KindBars, src, rows, []store.Row{tick}, bars, true)
	text := violations(vs)
	if s.Extra != 1 || s.Mismatched != 1 || !strings.Contains(text, "ticks row 2013-10-07T13:30:00.000Z seq 1 price 168 size 5") ||
		!strings.Contains(text, "close 168.8, source 168.3") {
		t.Errorf("%+v%s", s, text)
	}
}
