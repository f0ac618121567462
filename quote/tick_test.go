package quote

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
)

// writeZip writes a zip at path holding one file, inner, with content.
func writeZip(t *testing.T, path, inner, content string) {
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
	if _, err := w.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// edt returns 2013-10-07 h:m:s.ms EDT (UTC-4) in UTC.
func edt(h, m, s, ms int) time.Time {
	return time.Date(2013, 10, 7, h+4, m, s, ms*1_000_000, time.UTC)
}

// A trade file with every kind of bad line between good ones. Times: 14400000
// ms = 04:00:00.000 EDT.
const badTrades = "" +
	"14400000,1000000,100,P,20002000,0\n" + // 1 good: 04:00:00.000 seq 0
	"14400000,1000000,100,P\n" + // 2 too few fields
	"14400000,1000100,200,Q,2000,0\r\n" + // 3 good (CRLF): seq 1
	"14400000,0,100,P,2000,0\n" + // 4 zero price
	"14400000,-5,100,P,2000,0\n" + // 5 negative price
	"14400000,1000000,0,P,2000,0\n" + // 6 size 0
	"14400000,1000000,abc,P,2000,0\n" + // 7 non-numeric size
	"86400000,1000000,100,P,2000,0\n" + // 8 time at midnight (past the day)
	"14400000,1000000,100,P,2000,1\n" + // 9 good, suspicious: seq 2
	"14400001,1000000,100,P,2000,0,7\n" + // 10 too many fields
	"14400001.5,1000000,100,P,2000,0\n" + // 11 non-integer time
	"14400001,10.5,100,P,2000,0\n" + // 12 non-integer price
	"14400001,1000200,300,P,2000,0\n" + // 13 good: 04:00:00.001 seq 0
	"\n" + // 14 blank: skipped
	"14400001,1000200,300,P,2000,2\n" + // 15 suspicious 2
	"14400000,1000300,50,Z,2000,0\n" + // 16 good, out of order: 04:00:00.000 seq 3
	"-1,1000000,100,P,2000,0\n" + // 17 negative time
	"14400001,1000000,-3,P,2000,0\n" + // 18 negative size
	"57600000,1000400,10,P,2000,0" // 19 good, no final newline: 16:00:00.000 seq 0

func TestReadLeanTickZipBadLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "20131007_trade.zip")
	writeZip(t, path, "20131007_xyz_Trade_Tick.csv", badTrades)
	qs, rejects, err := ReadLeanTickZip(path, "XYZ")
	if err != nil {
		t.Fatal(err)
	}
	wantRej := []struct {
		line   int
		reason RejectReason
	}{
		{2, ReasonBadFields}, {4, ReasonNonPositive}, {5, ReasonNonPositive}, {6, ReasonBadSize}, {7, ReasonBadSize},
		{8, ReasonBadTime}, {10, ReasonBadFields}, {11, ReasonBadTime}, {12, ReasonBadPrice}, {15, ReasonBadFields},
		{17, ReasonBadTime}, {18, ReasonBadSize},
	}
	lines := strings.Split(badTrades, "\n")
	if len(rejects) != len(wantRej) {
		t.Fatalf("%d rejects %+v; want %d", len(rejects), rejects, len(wantRej))
	}
	for i, w := range wantRej {
		r := rejects[i]
		if r.File != path || r.Line != w.line || r.Reason != w.reason || r.Text != lines[w.line-1] || r.Detail == "" {
			t.Errorf("reject %d = %+v; want %s line %d %s text %q", i, r, path, w.line, w.reason, lines[w.line-1])
		}
		err := error(&rejects[i])
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), fmt.Sprintf("line %d: %s", w.line, w.reason)) {
			t.Errorf("reject %d error %q", i, err)
		}
	}
	p := func(v float64) Quote {
		return Quote{Symbol: "XYZ", Open: v, High: v, Low: v, Close: v, Source: "replay:lean-tick", Kind: KindTrade, Condition: "2000", Exchange: "P"}
	}
	mk := func(ts time.Time, seq int32, price float64, vol int64, exch, cond, flag string) Quote {
		q := p(price)
		q.TS, q.Seq, q.Volume, q.Exchange, q.Condition, q.Flag = ts, seq, vol, exch, cond, flag
		return q
	}
	want := []Quote{
		mk(edt(4, 0, 0, 0), 0, 100, 100, "P", "20002000", ""),
		mk(edt(4, 0, 0, 0), 1, 100.01, 200, "Q", "2000", ""),
		mk(edt(4, 0, 0, 0), 2, 100, 100, "P", "2000", FlagSuspicious),
		mk(edt(4, 0, 0, 0), 3, 100.03, 50, "Z", "2000", ""),
		mk(edt(4, 0, 0, 1), 0, 100.02, 300, "P", "2000", ""),
		mk(edt(16, 0, 0, 0), 0, 100.04, 10, "P", "2000", ""),
	}
	if !reflect.DeepEqual(qs, want) {
		t.Fatalf("ticks:\n%s\nwant\n%s", dumpQuotes(qs), dumpQuotes(want))
	}
	for _, q := range qs {
		if err := Validate(q, edt(20, 0, 0, 0)); err != nil {
			t.Errorf("Validate(%+v) = %v", q, err)
		}
	}
	// Read again: the same ticks (Seq is deterministic).
	again, _, err := ReadLeanTickZip(path, "XYZ")
	if err != nil || !reflect.DeepEqual(again, qs) {
		t.Fatalf("second read differs: %v", err)
	}
}

func dumpQuotes(qs []Quote) string {
	var b strings.Builder
	for _, q := range qs {
		bid, ask := "nil", "nil"
		if q.Bid != nil {
			bid = strconv.FormatFloat(*q.Bid, 'g', -1, 64)
		}
		if q.Ask != nil {
			ask = strconv.FormatFloat(*q.Ask, 'g', -1, 64)
		}
		fmt.Fprintf(&b, "  %s %s seq %d %v x%d %s/%s flag %q bid %s ask %s src %s kind %q\n", q.Symbol,
			q.TS.Format(time.RFC3339Nano), q.Seq, q.Close, q.Volume, q.Exchange, q.Condition, q.Flag, bid, ask, q.Source, q.Kind)
	}
	return b.String()
}

func TestReadLeanTickZipQuotesFolded(t *testing.T) {
	dir := t.TempDir()
	trade := filepath.Join(dir, "20131007_trade.zip")
	quote := filepath.Join(dir, "20131007_quote.zip")
	writeZip(t, trade, "20131007_xyz_Trade_Tick.csv", ""+
		"14400000,1000000,100,P,0,0\n"+ // before any quote: nil, nil
		"14400005,1000000,100,P,0,0\n"+ // bid 99.90 (ms 5, same ms), no ask yet
		"14400010,1000000,100,P,0,0\n"+ // bid 99.95, ask 100.10 (the suspicious 100.50 ignored)
		"14400020,1000000,100,P,0,0\n") // one-sided update: bid 99.95 kept, ask 100.05
	writeZip(t, quote, "20131007_xyz_Quote_Tick.csv", ""+
		"14400005,999000,100,0,0,P,1,0\n"+ // bid only
		"14400007,999500,200,1001000,300,P,1,0\n"+ // both sides
		"14400008,0,0,1005000,100,P,1,1\n"+ // suspicious: ignored
		"14400009,0,100,1001000,300,P,1,0\n"+ // bad: bid price 0 with a size
		"14400009,999000,0,0,0,P,1,0\n"+ // bad: bid size 0 with a price
		"14400009,999000,100,0,0,P,1\n"+ // bad: 7 fields
		"14400011,0,0,1000500,100,P,1,0\n"+ // after the 3rd trade: ask 100.05
		"14400011,0,0,0,0,P,1,0\n") // both sides absent: no effect
	qs, rejects, err := ReadLeanTickZip(trade, "XYZ")
	if err != nil {
		t.Fatal(err)
	}
	type ba struct{ bid, ask string }
	str := func(p *float64) string {
		if p == nil {
			return "nil"
		}
		return strconv.FormatFloat(*p, 'f', 2, 64)
	}
	var got []ba
	for _, q := range qs {
		got = append(got, ba{str(q.Bid), str(q.Ask)})
	}
	want := []ba{{"nil", "nil"}, {"99.90", "nil"}, {"99.95", "100.10"}, {"99.95", "100.05"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("bid/ask %v; want %v", got, want)
	}
	wantRej := []struct {
		line   int
		reason RejectReason
	}{{4, ReasonNonPositive}, {5, ReasonBadSize}, {6, ReasonBadFields}}
	if len(rejects) != len(wantRej) {
		t.Fatalf("rejects %+v", rejects)
	}
	for i, w := range wantRej {
		if rejects[i].File != quote || rejects[i].Line != w.line || rejects[i].Reason != w.reason {
			t.Errorf("reject %d = %+v; want %s line %d %s", i, rejects[i], quote, w.line, w.reason)
		}
	}
	// A minute quote zip beside tick trades is an error, not 900 rejects.
	writeZip(t, quote, "20131007_quote.csv", "14400000,1,1,1,1,100,1,1,1,1,100\n")
	if _, _, err := ReadLeanTickZip(trade, "XYZ"); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "not a tick quote zip") {
		t.Fatalf("minute quote zip beside ticks: %v", err)
	}
}

func TestTickZipDetection(t *testing.T) {
	dir := t.TempDir()
	// Named like a tick file.
	named := filepath.Join(dir, "a", "20131007_trade.zip")
	writeZip(t, named, "20131007_abc_TRADE_TICK.CSV", "14400000,1000000,100,P,0,0\n")
	// Not named: told by the 4th field ("P", not an integer).
	byField := filepath.Join(dir, "b", "20131007_trade.zip")
	writeZip(t, byField, "data.csv", "\n14400000,1000000,100,P,0,0\n")
	// A minute file (4th field the low price).
	minute := filepath.Join(dir, "c", "20131007_trade.zip")
	writeZip(t, minute, "20131007_abc_minute_trade.csv", "14400000,1000000,1000100,999900,1000000,500\n")
	for _, tt := range []struct {
		path string
		tick bool
	}{{named, true}, {byField, true}, {minute, false}} {
		got, err := isTickZip(tt.path, 3)
		if err != nil || got != tt.tick {
			t.Errorf("isTickZip(%s) = %v, %v; want %v", tt.path, got, err, tt.tick)
		}
		qs, err := ReadFile(tt.path, "ABC")
		if err != nil || len(qs) != 1 || qs[0].IsTick() != tt.tick {
			t.Errorf("ReadFile(%s) = %+v, %v; want one quote, tick %v", tt.path, qs, err, tt.tick)
		}
	}
	if _, _, err := ReadLeanTickZip(minute, "ABC"); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "not a tick trade zip") {
		t.Fatalf("ReadLeanTickZip of a minute zip: %v", err)
	}
	if _, _, err := ReadLeanTickZip(filepath.Join(dir, "nodate_trade.zip"), "ABC"); !errors.Is(err, ErrFormat) {
		t.Fatalf("name without a date: %v", err)
	}
}

func TestFlagTicks(t *testing.T) {
	base := time.Date(2013, 10, 7, 14, 0, 0, 0, time.UTC)
	mk := func(sym string, i int, price float64) Quote {
		return Quote{Symbol: sym, TS: base.Add(time.Duration(i) * time.Millisecond), Open: price, High: price, Low: price,
			Close: price, Volume: 1, Kind: KindTrade}
	}
	var qs []Quote
	prices := []float64{10, 10.01, 9.99, 10, 12, 10.02, 10, 8, 10.01}
	for i, p := range prices {
		qs = append(qs, mk("A", i, p))
	}
	// window 4, 5%: index 4 (12 against the median 10 of 10, 10.01, 9.99,
	// 10) and 7 (8 against 10) are flagged; flagged ones stay out of the
	// window.
	got := append([]Quote(nil), qs...)
	if n := FlagTicks(got, 4, 5); n != 2 || got[4].Flag != FlagOffMedian || got[7].Flag != FlagOffMedian {
		t.Fatalf("flagged %d: %+v", n, got)
	}
	// Too few previous trades: with window 20 (need 10), none is checked.
	got = append([]Quote(nil), qs...)
	if n := FlagTicks(got, 20, 5); n != 0 {
		t.Fatalf("window 20 flagged %d", n)
	}
	// The first trade after window/2 = 2 trades is checked.
	got = []Quote{mk("A", 0, 10), mk("A", 1, 10), mk("A", 2, 11)}
	if n := FlagTicks(got, 4, 5); n != 1 || got[2].Flag != FlagOffMedian {
		t.Fatalf("3rd trade: %d", n)
	}
	got = []Quote{mk("A", 0, 10), mk("A", 1, 11)}
	if n := FlagTicks(got, 4, 5); n != 0 {
		t.Fatalf("2nd trade checked: %d", n)
	}
	// Exactly pct away is not more than pct.
	got = []Quote{mk("A", 0, 10), mk("A", 1, 10), mk("A", 2, 10.5)}
	if n := FlagTicks(got, 2, 5); n != 0 {
		t.Fatalf("5%% away flagged at 5%%")
	}
	// Even count: the median of 10 and 10.4 is their mean 10.2 (not the
	// lower 10 nor the upper 10.4).
	for _, tt := range []struct {
		p    float64
		want int
	}{{10.65, 0}, {9.75, 0}, {10.75, 1}} {
		got = []Quote{mk("A", 0, 10), mk("A", 1, 10.4), mk("A", 2, tt.p)}
		if n := FlagTicks(got, 2, 5); n != tt.want {
			t.Errorf("even median, third %v: flagged %d; want %d", tt.p, n, tt.want)
		}
	}
	// Symbols apart, input unsorted, bars and already flagged ticks left
	// alone (not counted, not in the window).
	mixed := []Quote{mk("B", 3, 50), mk("A", 2, 10), mk("B", 0, 50), mk("A", 0, 10), mk("B", 1, 50), mk("A", 1, 10),
		mk("A", 3, 10), mk("B", 2, 50), mk("A", 4, 50), mk("B", 4, 10)}
	bar := mk("A", 5, 99)
	bar.Kind = KindBar
	susp := mk("A", 6, 99)
	susp.Flag = FlagSuspicious
	mixed = append(mixed, bar, susp, mk("A", 7, 10.1))
	if n := FlagTicks(mixed, 4, 5); n != 2 || mixed[8].Flag != FlagOffMedian || mixed[9].Flag != FlagOffMedian ||
		mixed[10].Flag != "" || mixed[11].Flag != FlagSuspicious || mixed[12].Flag != "" {
		t.Fatalf("mixed: %d\n%s", n, dumpQuotes(mixed))
	}
	// A trade at seq 1 of a millisecond comes after seq 0 (Position order).
	s0, s1, s2, s3 := mk("A", 0, 10), mk("A", 0, 10), mk("A", 0, 10), mk("A", 0, 20)
	s1.Seq, s2.Seq, s3.Seq = 1, 2, 3
	pos := []Quote{s3, s2, s1, s0}
	if n := FlagTicks(pos, 4, 5); n != 1 || pos[0].Flag != FlagOffMedian {
		t.Fatalf("position order: %d %+v", n, pos)
	}
	// No rule without a window or a pct.
	if FlagTicks(append([]Quote(nil), qs...), 0, 5) != 0 || FlagTicks(append([]Quote(nil), qs...), 4, 0) != 0 ||
		FlagTicks(append([]Quote(nil), qs...), 4, math.NaN()) != 0 || FlagTicks(nil, 4, 5) != 0 {
		t.Fatal("flagged without a window or pct")
	}
}

// TestFlagTicksSlidingMedian checks the Fenwick median against a direct
// computation on a random walk with spikes.
func TestFlagTicksSlidingMedian(t *testing.T) {
	base := time.Date(2013, 10, 7, 14, 0, 0, 0, time.UTC)
	var qs []Quote
	p, x := 100.0, uint64(1)
	for i := range 5000 {
		x = x*6364136223846793005 + 1442695040888963407
		p += float64(int(x>>60)-8) * 0.01
		v := p
		if x>>40%97 == 0 {
			v = p * 1.03
		}
		v = math.Round(v*100) / 100
		qs = append(qs, Quote{Symbol: "A", TS: base.Add(time.Duration(i) * time.Millisecond), Open: v, High: v, Low: v, Close: v, Volume: 1, Kind: KindTrade})
	}
	for _, window := range []int{1, 2, 7, 50} {
		got := append([]Quote(nil), qs...)
		n := FlagTicks(got, window, 1)
		// Direct: keep the window's prices, sort a copy for each trade.
		var win []float64
		want := 0
		for i, q := range qs {
			flag := false
			if len(win) >= max(1, window/2) {
				s := append([]float64(nil), win...)
				sortFloats(s)
				m := s[len(s)/2]
				if len(s)%2 == 0 {
					m = (s[len(s)/2-1] + s[len(s)/2]) / 2
				}
				flag = math.Abs(q.Close-m) > m/100
			}
			if flag != (got[i].Flag == FlagOffMedian) {
				t.Fatalf("window %d trade %d: flag %v, direct %v", window, i, got[i].Flag, flag)
			}
			if flag {
				want++ // a flagged trade still enters the window
			}
			win = append(win, q.Close)
			if len(win) > window {
				win = win[1:]
			}
		}
		if n != want || n == 0 {
			t.Fatalf("window %d: flagged %d; direct %d", window, n, want)
		}
	}
}

func sortFloats(s []float64) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// leanTicksDir returns the shared lean-ticks folder (skipping without it).
func leanTicksDir(t *testing.T) string {
	t.Helper()
	return filepath.Dir(filepath.Dir(testenv.SharedData(t, "lean-ticks/spy/20131007_trade.zip")))
}

// indepTrades reads a Lean trade tick zip with archive/zip and strings.Split,
// independently of the product's reader: count, sum of quantities, and the
// most ticks in one millisecond.
func indepTrades(t *testing.T, path string) (n int, qty int64, maxPerMs int) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	prev, run := "", 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(strings.TrimSpace(line), ",")
		q, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || len(f) != 6 {
			t.Fatalf("independent read: line %q", line)
		}
		n++
		qty += q
		if f[0] == prev {
			run++
		} else {
			prev, run = f[0], 1
		}
		maxPerMs = max(maxPerMs, run)
	}
	return n, qty, maxPerMs
}

// TestLeanTicksBAC checks the quote folding on BAC's real day against an
// independent computation, and that Validate accepts every tick.
func TestLeanTicksBAC(t *testing.T) {
	dir := leanTicksDir(t)
	start := time.Now()
	qs, rejects, err := ReadLeanTickZip(filepath.Join(dir, "bac", "20131007_trade.zip"), "BAC")
	took := time.Since(start)
	if err != nil || len(rejects) != 0 || len(qs) != 88_172 {
		t.Fatalf("%d ticks, %d rejects, %v", len(qs), len(rejects), err)
	}
	// Independent: walk the quote lines in order, keeping the last bid and
	// ask, and compare at every trade.
	zr, err := zip.OpenReader(filepath.Join(dir, "bac", "20131007_quote.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 476_855 {
		t.Fatalf("%d quote lines", len(lines))
	}
	midnight := time.Date(2013, 10, 7, 4, 0, 0, 0, time.UTC) // EDT midnight in UTC
	var bid, ask float64
	j, withBoth, crossed, outside := 0, 0, 0, 0
	for i, q := range qs {
		ms := q.TS.Sub(midnight).Milliseconds()
		for ; j < len(lines); j++ {
			f := strings.Split(strings.TrimSpace(lines[j]), ",")
			qms, _ := strconv.ParseInt(f[0], 10, 64)
			if qms > ms {
				break
			}
			if f[7] != "0" {
				continue
			}
			if v, _ := strconv.ParseFloat(f[1], 64); v > 0 {
				bid = v / 10000
			}
			if v, _ := strconv.ParseFloat(f[3], 64); v > 0 {
				ask = v / 10000
			}
		}
		if (bid == 0) != (q.Bid == nil) || (ask == 0) != (q.Ask == nil) ||
			q.Bid != nil && *q.Bid != bid || q.Ask != nil && *q.Ask != ask {
			t.Fatalf("trade %d %s: bid %v ask %v; independent %v %v", i, q.TS, q.Bid, q.Ask, bid, ask)
		}
		if q.Bid != nil && q.Ask != nil {
			withBoth++
			if *q.Bid > *q.Ask {
				crossed++
			}
			if q.Close < *q.Bid || q.Close > *q.Ask {
				outside++
			}
		}
		if err := Validate(q, time.Now()); err != nil {
			t.Fatalf("trade %d: %v", i, err)
		}
	}
	t.Logf("BAC: %d trades and 476,855 quote lines read in %v; %d trades with bid and ask, %d of them crossed (bid > ask), %d priced outside [bid, ask]",
		len(qs), took.Round(time.Millisecond), withBoth, crossed, outside)
}

// TestReadLeanTickZipLongLine: a line longer than the read buffer is one
// reject (its first 200 bytes kept), not a failed file.
func TestReadLeanTickZipLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "20131007_trade.zip")
	long := "14400000,1000000,100,P," + strings.Repeat("9", 200_000) + ",0"
	writeZip(t, path, "20131007_xyz_Trade_Tick.csv", "14400000,1000000,100,P,0,0\n"+long+"\n14400000,1000000,200,P,0,0\n")
	qs, rejects, err := ReadLeanTickZip(path, "XYZ")
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 2 || qs[1].Seq != 1 || qs[1].Volume != 200 {
		t.Fatalf("ticks:\n%s", dumpQuotes(qs))
	}
	if len(rejects) != 1 || rejects[0].Line != 2 || rejects[0].Reason != ReasonBadFields || rejects[0].Text != long[:200] {
		t.Fatalf("rejects %+v", rejects)
	}
}

// A real jump to a new level is accepted after about window/2 trades; an
// isolated bad print is flagged and does not move the median.
func TestFlagTicksJumpDoesNotRunAway(t *testing.T) {
	base := time.Date(2013, 10, 7, 14, 0, 0, 0, time.UTC)
	var ticks []Quote
	add := func(p float64) {
		ticks = append(ticks, Quote{Symbol: "X", TS: base.Add(time.Duration(len(ticks)) * time.Millisecond), Kind: KindTrade,
			Open: p, High: p, Low: p, Close: p, Volume: 100})
	}
	for range 100 {
		add(100)
	}
	add(103) // an isolated bad print
	for range 100 {
		add(100)
	}
	for range 200 { // the level moves 3% and stays
		add(103)
	}
	n := FlagTicks(ticks, 50, 0.5)
	if ticks[100].Flag != FlagOffMedian {
		t.Errorf("the isolated print is not flagged")
	}
	if n > 1+26 {
		t.Errorf("%d ticks flagged; want the bad print and at most 26 after the jump", n)
	}
	for i := 201 + 30; i < len(ticks); i++ {
		if ticks[i].Flag != "" {
			t.Fatalf("tick %d at the new level flagged %q: the rule ran away", i, ticks[i].Flag)
		}
	}
}
