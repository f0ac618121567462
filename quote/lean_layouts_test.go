package quote

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
)

// dailyRow is one row of a Lean daily zip written by the tests: the date,
// the prices x 10000 and the volume, and the hour in UTC of 09:30 US/Eastern
// that day (13 in EDT, 14 in EST), worked out by hand.
type dailyRow struct {
	date           string // yyyymmdd
	o, h, l, c     int64
	volume         int64
	openHourUTC    int
	year, mon, day int
}

func (r dailyRow) line() string {
	return fmt.Sprintf("%s 00:00,%d,%d,%d,%d,%d", r.date, r.o, r.h, r.l, r.c, r.volume)
}

func (r dailyRow) quote(symbol string) Quote {
	return Quote{Symbol: symbol, TS: time.Date(r.year, time.Month(r.mon), r.day, r.openHourUTC, 30, 0, 0, time.UTC),
		Open: float64(r.o) / 10000, High: float64(r.h) / 10000, Low: float64(r.l) / 10000, Close: float64(r.c) / 10000,
		Volume: r.volume, Source: "replay:lean-daily"}
}

// TestReplayLeanDailyZip writes a Lean daily zip, equity/usa/daily/spy.zip
// holding spy.csv, with good rows around a malformed one: every good row is
// one daily bar at 09:30 US/Eastern of its date (EDT in October, EST after
// 2013-11-03) with the row's prices / 10000 and volume, from ReadFileRejects
// and from a replay of the directory; the bad row is one RowReject naming the
// file and its line; Check counts both. The row of 2013-10-10 is 30% above
// its neighbours: a daily bar is never flagged implausible (FlagBars leaves
// daily bars alone), so it comes through unflagged.
func TestReplayLeanDailyZip(t *testing.T) {
	good := []dailyRow{
		{"20131007", 1676800, 1683900, 1670000, 1673900, 93425300, 13, 2013, 10, 7}, // the Lean sample's row
		{"20131008", 1671500, 1673400, 1651300, 1651300, 160851250, 13, 2013, 10, 8},
		{"20131010", 2170000, 2200000, 2160000, 2190000, 100, 13, 2013, 10, 10}, // 30% up: not flagged
		{"20131011", 1690900, 1704600, 1688500, 1703300, 107654200, 13, 2013, 10, 11},
		{"20131104", 1762300, 1765800, 1757200, 1765800, 70451400, 14, 2013, 11, 4}, // EST: 09:30 = 14:30 UTC
	}
	const bad = "20131009 00:00,1652000,abc,1648000,1660000,120000000" // line 3: high not an integer
	lines := []string{good[0].line(), good[1].line(), bad}
	for _, r := range good[2:] {
		lines = append(lines, r.line())
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "equity", "usa", "daily", "spy.zip")
	writeZip(t, path, "spy.csv", strings.Join(lines, "\r\n")+"\r\n")

	var want []Quote
	for _, r := range good {
		want = append(want, r.quote("SPY"))
	}
	qs, rejects, err := ReadFileRejects(path, "SPY")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(qs, want) {
		t.Fatalf("ReadFileRejects:\n%s\nwant\n%s", dumpQuotes(qs), dumpQuotes(want))
	}
	for i, q := range qs {
		if d := q.Day().Format(time.DateOnly); d != good[i].date[:4]+"-"+good[i].date[4:6]+"-"+good[i].date[6:] {
			t.Errorf("bar %d: Day %s; want the row's date %s", i, d, good[i].date)
		}
	}
	if len(rejects) != 1 {
		t.Fatalf("rejects %+v; want one", rejects)
	}
	if r := rejects[0]; r.File != path || r.Line != 3 || r.Reason != ReasonBadPrice || r.Text != bad || !errors.Is(&r, ErrFormat) ||
		!strings.Contains(r.Error(), path+" line 3: bad_price") || !strings.Contains(r.Detail, `high "abc"`) {
		t.Fatalf("reject %+v: %v", r, &r)
	}

	// Replayed from the directory (spy.zip is SPY's: Lean names the daily
	// zip by the ticker) and from the file.
	for _, spec := range []string{dir, path} {
		rec := &rejectRecorder{t: t}
		r, err := New("replay:"+spec+"?speed=max", Options{MaxBatch: 2, Rejected: rec.rejected})
		if err != nil {
			t.Fatal(err)
		}
		if files, err := r.(*Replay).Files("SPY"); err != nil || !reflect.DeepEqual(files, []string{path}) {
			t.Fatalf("replay %s: Files = %v, %v; want [%s]", spec, files, err, path)
		}
		if got := drain(t, r, "SPY", time.Time{}); !reflect.DeepEqual(got, want) {
			t.Fatalf("replay %s:\n%s\nwant\n%s", spec, dumpQuotes(got), dumpQuotes(want))
		}
		if calls, w := rec.all(), []rejectCall{{"SPY", ReasonBadPrice, path, 3}}; !reflect.DeepEqual(calls, w) {
			t.Fatalf("replay %s: Rejected calls %+v; want %+v", spec, calls, w)
		}
		valid, rejected, err := r.(*Replay).Check("SPY")
		if err != nil || valid != len(good) || rejected != 1 {
			t.Fatalf("Check(SPY) of %s = %d valid, %d rejected, %v; want %d, 1", spec, valid, rejected, err, len(good))
		}
	}
}

// TestReadLeanDailyZipRefused: a zip named like a daily zip whose first row
// is at another time than 00:00 (a Lean hour zip) or not a Lean time at all
// is refused as a whole (ErrUnknownFormat naming the file and quoting the
// row), by ReadFile and by Check; a daily row at another time than 00:00
// after a good first row is one bad_time RowReject.
func TestReadLeanDailyZipRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, first, msg string
	}{
		{"hour", "20131007 10:00,1676800,1683900,1670000,1673900,9342530", `a Lean hour zip (its first row "20131007 10:00,`},
		{"not lean", "2013-10-07,167.68,168.39,167,167.39,93425300", `not a Lean daily zip: its first row "2013-10-07,`},
	} {
		path := filepath.Join(dir, tt.name, "spy.zip")
		writeZip(t, path, "spy.csv", tt.first+"\n20131008 00:00,1671500,1673400,1651300,1651300,160851250\n")
		qs, err := ReadFile(path, "SPY")
		if !errors.Is(err, ErrUnknownFormat) || qs != nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: ReadFile = %d bars, %v; want ErrUnknownFormat naming %s and saying %q", tt.name, len(qs), err, path, tt.msg)
		}
		r, err := NewReplay(filepath.Dir(path), 0, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Check("SPY"); !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: Check = %v; want ErrUnreadable saying %q", tt.name, err, tt.msg)
		}
	}
	path := filepath.Join(dir, "late", "spy.zip")
	writeZip(t, path, "spy.csv", "20131007 00:00,1676800,1683900,1670000,1673900,93425300\n20131008 16:00,1671500,1673400,1651300,1651300,160851250\n")
	qs, rejects, err := ReadFileRejects(path, "SPY")
	if err != nil || len(qs) != 1 || qs[0].TS != utc(2013, 10, 7, 13, 30) || len(rejects) != 1 ||
		rejects[0].Line != 2 || rejects[0].Reason != ReasonBadTime || !strings.Contains(rejects[0].Detail, "not 00:00") {
		t.Fatalf("ReadFileRejects = %s rejects %+v, %v", dumpQuotes(qs), rejects, err)
	}
}

// leanQuoteRow is a row of a Lean minute quote CSV as the test decodes it:
// the time and the two sides' prices x 10000 (0 for a side the row leaves
// empty or 0).
type leanQuoteRow struct {
	ms       int64
	bid, ask [4]int64 // open, high, low, close
}

// decodeQuoteCSV decodes the rows of a Lean minute quote CSV (11 integer
// fields, an empty price read as 0), failing the test on another row.
func decodeQuoteCSV(t *testing.T, body string) []leanQuoteRow {
	t.Helper()
	var rows []leanQuoteRow
	for n, line := range strings.Split(strings.TrimSpace(body), "\n") {
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) != 11 {
			t.Fatalf("line %d %q: %d fields", n+1, line, len(f))
		}
		v := make([]int64, 11)
		for i, s := range f {
			if s == "" {
				continue
			}
			x, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("line %d field %d %q: %v", n+1, i, s, err)
			}
			v[i] = x
		}
		rows = append(rows, leanQuoteRow{ms: v[0], bid: [4]int64{v[1], v[2], v[3], v[4]}, ask: [4]int64{v[6], v[7], v[8], v[9]}})
	}
	return rows
}

// want is the quote-derived bar of the row, computed from the integers: the
// midpoint (bid + ask) / 2 of each of open, high, low and close, or the side
// present when the other is 0; Bid and Ask the closes. midnight is midnight
// US/Eastern of the file's date, in UTC.
func (r leanQuoteRow) want(symbol string, midnight time.Time) Quote {
	q := Quote{Symbol: symbol, TS: midnight.Add(time.Duration(r.ms) * time.Millisecond), Source: "replay:lean-quote"}
	px := [4]*float64{&q.Open, &q.High, &q.Low, &q.Close}
	for i := range px {
		switch b, a := r.bid[i], r.ask[i]; {
		case b != 0 && a != 0:
			*px[i] = float64(b+a) / 20000
		case b != 0:
			*px[i] = float64(b) / 10000
		default:
			*px[i] = float64(a) / 10000
		}
	}
	if r.bid[3] != 0 {
		q.Bid = fp(float64(r.bid[3]) / 10000)
	}
	if r.ask[3] != 0 {
		q.Ask = fp(float64(r.ask[3]) / 10000)
	}
	return q
}

// TestReplayLeanQuoteZipAlone copies SPY's real quote zip of 2013-10-04
// without its trade zip into a temp folder: the replay (of the folder and of
// the file) and ReadFile give one quote-derived bar per row of its CSV, 855,
// each equal to the bar this test computes from the row it decoded itself
// (opened with archive/zip: midpoints of the integer prices, volume 0, Bid
// and Ask the closes, at the minute's start: 2013-10-04 is EDT, UTC-4), the
// first and the 09:30 one also checked against values worked out by hand;
// Check accepts the file.
func TestReplayLeanQuoteZipAlone(t *testing.T) {
	src := testenv.SharedData(t, "lean-spy-minute/20131004_quote.zip")
	dir := t.TempDir()
	path := filepath.Join(dir, "spy", "20131004_quote.zip")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 {
		t.Fatalf("%d entries in %s", len(zr.File), path)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	zr.Close()
	if err != nil {
		t.Fatal(err)
	}
	rows := decodeQuoteCSV(t, string(body))
	if len(rows) != 855 {
		t.Fatalf("the test decoded %d rows; the file has 855", len(rows))
	}
	midnight := time.Date(2013, 10, 4, 4, 0, 0, 0, time.UTC) // 00:00 EDT
	var want []Quote
	for _, r := range rows {
		want = append(want, r.want("SPY", midnight))
	}
	// By hand: 14400000,1674200,1675800,1674200,1675600,20000,1678700,1678700,1676000,1676000,20000
	// is 04:00 EDT, mid open (1674200+1678700)/2 = 1676450, high 1677250, low 1675100, close 1675800.
	first := Quote{Symbol: "SPY", TS: utc(2013, 10, 4, 8, 0), Open: 167.645, High: 167.725, Low: 167.51, Close: 167.58,
		Bid: fp(167.56), Ask: fp(167.6), Source: "replay:lean-quote"}
	if !reflect.DeepEqual(want[0], first) {
		t.Fatalf("the test's first bar %s; by hand %s", dumpQuotes(want[:1]), dumpQuotes([]Quote{first}))
	}

	qs, rejects, err := ReadFileRejects(path, "SPY")
	if err != nil || len(rejects) != 0 {
		t.Fatalf("ReadFileRejects: %v, rejects %+v", err, rejects)
	}
	if len(qs) != 855 {
		t.Fatalf("ReadFileRejects: %d bars; want 855", len(qs))
	}
	for _, spec := range []string{dir, path} {
		r, err := New("replay:"+spec+"?speed=max", Options{MaxBatch: 100})
		if err != nil {
			t.Fatal(err)
		}
		got := drain(t, r, "SPY", time.Time{})
		if len(got) != 855 {
			t.Fatalf("replay %s: %d bars; want 855", spec, len(got))
		}
		if !reflect.DeepEqual(got, qs) {
			t.Fatalf("replay %s differs from ReadFile", spec)
		}
		valid, rejected, err := r.(*Replay).Check("SPY")
		if err != nil || valid != 855 || rejected != 0 {
			t.Fatalf("Check(SPY) of %s = %d, %d, %v; want 855 valid", spec, valid, rejected, err)
		}
	}
	// A handful across the day by index (04:00, pre-market, 09:30, midday,
	// the last), then every bar.
	open := -1
	for i, r := range rows {
		if r.ms == 34_200_000 {
			open = i
		}
	}
	if open < 0 || !qs[open].TS.Equal(utc(2013, 10, 4, 13, 30)) {
		t.Fatalf("no 09:30 EDT row (index %d)", open)
	}
	for _, i := range []int{0, 1, 100, open, open + 1, 500, len(rows) - 1} {
		if !reflect.DeepEqual(qs[i], want[i]) {
			t.Errorf("bar %d:\n%s\nwant\n%s", i, dumpQuotes(qs[i:i+1]), dumpQuotes(want[i:i+1]))
		}
	}
	for i := range want {
		if !reflect.DeepEqual(qs[i], want[i]) {
			t.Fatalf("bar %d:\n%s\nwant\n%s", i, dumpQuotes(qs[i:i+1]), dumpQuotes(want[i:i+1]))
		}
	}
}

// TestReplayLeanQuoteZipOneSided: in a folder where 2013-10-07 has a trade
// zip and a quote zip and 2013-10-08 only a quote zip, the replay gives the
// 07th's trade bars (bid and ask merged, the side a quote row has) and the
// 08th's quote-derived bars: a row with both sides gives midpoints, one whose
// bid is empty or whose ask is 0 gives the other side's prices with only
// that side's Bid or Ask; a row with neither side (bad_price) and one with
// 10 fields (bad_fields) are RowRejects naming the quote zip and their lines.
// A lone quote zip of quote ticks is a file that cannot be read.
func TestReplayLeanQuoteZipOneSided(t *testing.T) {
	dir := t.TempDir()
	trade := filepath.Join(dir, "xyz", "20131007_trade.zip")
	writeZip(t, trade, "20131007_xyz_minute_trade.csv", "34200000,1000000,1010000,990000,1005000,500\n34260000,1005000,1006000,1001000,1002000,300\n")
	writeZip(t, filepath.Join(dir, "xyz", "20131007_quote.zip"), "20131007_xyz_minute_quote.csv",
		"34200000,,,,,0,1005000,1012000,1001000,1006000,200\n"+ // 09:30: no bid
			"34260000,1001000,1002000,1000000,1001000,100,1003000,1004000,1002000,1003000,100\n")
	lone := filepath.Join(dir, "xyz", "20131008_quote.zip")
	quoteRows := []string{
		"34200000,1000000,1002000,999000,1001000,100,1000400,1002400,999400,1001400,200",   // 1 both sides
		"34260000,,,,,0,1001400,1003000,1001000,1002000,300",                               // 2 bid empty (Lean's absent side)
		"34320000,1001000,1001500,1000500,1001500,400,0,0,0,0,0",                           // 3 ask 0
		"34380000,0,0,0,0,0,,,,,0",                                                         // 4 neither: bad_price
		"34440000,1001000,1001500,1000500,1001500,400,1001200,1001700,1000700,1001700",     // 5 10 fields: bad_fields
		"34500000,1002000,1002000,1002000,1002000,100,1002200,1002200,1002200,1002200,100", // 6 both sides
	}
	writeZip(t, lone, "20131008_xyz_minute_quote.csv", strings.Join(quoteRows, "\n")+"\n")
	ticks := filepath.Join(dir, "xyz", "20131009_quote.zip")
	writeZip(t, ticks, "20131009_xyz_Quote_Tick.csv", "34200000,1000000,100,1000500,200,P,0,0\n")

	// The 08th's good rows decoded by the test (the two refused ones left
	// out), midnight 2013-10-08 EDT = 04:00 UTC.
	var good []string
	for i, r := range quoteRows {
		if i != 3 && i != 4 {
			good = append(good, r)
		}
	}
	var want []Quote
	want = append(want,
		Quote{Symbol: "XYZ", TS: edt(9, 30, 0, 0), Open: 100, High: 101, Low: 99, Close: 100.5, Volume: 500, Ask: fp(100.6), Source: "replay:lean"},
		Quote{Symbol: "XYZ", TS: edt(9, 31, 0, 0), Open: 100.5, High: 100.6, Low: 100.1, Close: 100.2, Volume: 300, Bid: fp(100.1), Ask: fp(100.3), Source: "replay:lean"})
	for _, r := range decodeQuoteCSV(t, strings.Join(good, "\n")) {
		want = append(want, r.want("XYZ", time.Date(2013, 10, 8, 4, 0, 0, 0, time.UTC)))
	}
	// By hand: row 1's mid open (1000000 + 1000400) / 2 = 1000200; row 2 the ask's.
	if want[2].Open != 100.02 || want[2].Close != 100.12 || want[3].Open != 100.14 || want[3].Bid != nil || *want[3].Ask != 100.2 {
		t.Fatalf("the test's bars:\n%s", dumpQuotes(want))
	}

	rec := &rejectRecorder{t: t}
	r, err := New("replay:"+dir+"?speed=max", Options{Rejected: rec.rejected})
	if err != nil {
		t.Fatal(err)
	}
	if files, err := r.(*Replay).Files("XYZ"); err != nil || !reflect.DeepEqual(files, []string{trade, lone}) {
		t.Fatalf("Files = %v, %v; want [%s %s]", files, err, trade, lone)
	}
	if got := drain(t, r, "XYZ", time.Time{}); !reflect.DeepEqual(got, want) {
		t.Fatalf("replay:\n%s\nwant\n%s", dumpQuotes(got), dumpQuotes(want))
	}
	byFile := map[string][]rejectCall{}
	for _, c := range rec.all() {
		byFile[c.file] = append(byFile[c.file], c)
	}
	wantCalls := map[string][]rejectCall{
		lone:  {{"XYZ", ReasonBadPrice, lone, 4}, {"XYZ", ReasonBadFields, lone, 5}},
		ticks: {{"XYZ", ReasonBadFile, ticks, 0}},
	}
	if !reflect.DeepEqual(byFile, wantCalls) {
		t.Fatalf("Rejected calls %+v; want %+v", byFile, wantCalls)
	}
	_, rejects, err := ReadFileRejects(lone, "XYZ")
	if err != nil || len(rejects) != 2 {
		t.Fatalf("ReadFileRejects(%s): %+v, %v", lone, rejects, err)
	}
	for i, w := range []struct {
		line   int
		reason RejectReason
		detail string
	}{{4, ReasonBadPrice, "neither a bid nor an ask"}, {5, ReasonBadFields, "10 fields, too few; want 11"}} {
		if r := rejects[i]; r.File != lone || r.Line != w.line || r.Reason != w.reason || !strings.Contains(r.Detail, w.detail) ||
			!strings.Contains(r.Error(), fmt.Sprintf("%s line %d: %s", lone, w.line, w.reason)) {
			t.Errorf("reject %d: %v; want line %d %s %q", i, &r, w.line, w.reason, w.detail)
		}
	}
	if _, err := ReadFile(ticks, "XYZ"); !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), "tick quote zip without its trade zip") {
		t.Fatalf("ReadFile(%s): %v", ticks, err)
	}
	rt, err := NewReplay(ticks, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := rt.Check("XYZ"); !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), ticks) {
		t.Fatalf("Check of %s: %v", ticks, err)
	}
}
