package quote

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/stock-system/stocksys/internal/testenv"
)

// rejectCall is one call of Options.Rejected, with the RowReject's file and
// line.
type rejectCall struct {
	symbol string
	reason RejectReason
	file   string
	line   int
}

// rejectRecorder is an Options.Rejected that records its calls.
type rejectRecorder struct {
	t     *testing.T
	mu    sync.Mutex
	calls []rejectCall
}

func (r *rejectRecorder) rejected(symbol string, reason RejectReason, err error) {
	var rr *RowReject
	if !errors.As(err, &rr) || rr.Reason != reason {
		r.t.Errorf("Rejected(%s, %s, %v): err is not a RowReject of that reason", symbol, reason, err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, rejectCall{symbol, reason, rr.File, rr.Line})
}

func (r *rejectRecorder) all() []rejectCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rejectCall(nil), r.calls...)
}

// replayAll replays path for symbol unpaced, with a logger and a reject
// recorder, and returns the quotes, the Rejected calls and the logs. Any
// error from Fetch other than ErrExhausted fails the test (drain).
func replayAll(t *testing.T, path, symbol string) ([]Quote, []rejectCall, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	rec := &rejectRecorder{t: t}
	r, err := New("replay:"+path+"?speed=max&label=end", Options{Logger: zap.New(core), MaxBatch: 3, Rejected: rec.rejected})
	if err != nil {
		t.Fatal(err)
	}
	return drain(t, r, symbol, time.Time{}), rec.all(), logs
}

// The good rows around each bad one: four minute bars of 2013-10-07 (EDT,
// UTC-4), written as CSV (intraday layout, bars labelled by their end) and
// as Lean rows (ms since midnight, prices x 10000, bars labelled by their
// start). The bad row goes third, the minute 09:33 (CSV end) / 09:32 (Lean
// start).
type goodBar struct {
	start                  time.Time // UTC
	open, high, low, close float64
	volume                 int64
}

var goodBars = []goodBar{
	{edt(9, 30, 0, 0), 168.25, 168.5, 168, 168.41, 120_000},
	{edt(9, 31, 0, 0), 168.41, 168.77, 168.3, 168.7, 95_500},
	{edt(9, 33, 0, 0), 168.7, 168.7, 167.99, 168.01, 1},
	{edt(9, 34, 0, 0), 168.02, 168.1, 167.5, 167.5, 9_999_999_999},
}

func (b goodBar) csvRow() string {
	end := b.start.Add(time.Minute).In(Eastern).Format(time.DateTime)
	return fmt.Sprintf("%s,%v,%v,%v,%v,%d", end, b.open, b.high, b.low, b.close, b.volume)
}

func (b goodBar) leanRow() string {
	ms := b.start.In(Eastern).Sub(time.Date(2013, 10, 7, 0, 0, 0, 0, Eastern)).Milliseconds()
	p := func(v float64) int64 { return int64(v*leanPriceScale + 0.5) }
	return fmt.Sprintf("%d,%d,%d,%d,%d,%d", ms, p(b.open), p(b.high), p(b.low), p(b.close), b.volume)
}

// quote is the Quote the replay must give for the bar.
func (b goodBar) quote(source string) Quote {
	return Quote{Symbol: "XYZ", TS: b.start, Open: b.open, High: b.high, Low: b.low, Close: b.close, Volume: b.volume, Source: source}
}

// writeRows writes the good rows with bad as the third, as a CSV (header
// first) or a Lean minute trade zip, in a fresh directory, and returns the
// directory, the file's path and the bad row's 1-based line.
func writeRows(t *testing.T, lean bool, bad string) (dir, path string, line int) {
	t.Helper()
	var rows []string
	for _, b := range goodBars {
		if lean {
			rows = append(rows, b.leanRow())
		} else {
			rows = append(rows, b.csvRow())
		}
	}
	rows = append(rows[:2], append([]string{bad}, rows[2:]...)...)
	dir = t.TempDir()
	if lean {
		path = filepath.Join(dir, "xyz", "20131007_trade.zip")
		writeZip(t, path, "20131007_xyz_minute_trade.csv", strings.Join(rows, "\r\n")+"\r\n")
		return dir, path, 3
	}
	path = filepath.Join(dir, "xyz_1min.csv")
	body := "time,open,high,low,close,volume\n" + strings.Join(rows, "\n") + "\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path, 4
}

// TestReplayRejectsBadMinuteRows: for each kind of bad row, a CSV and a Lean
// minute zip with good rows around it. The good rows are all replayed with
// the values written; the bad one is counted once under its reason, naming
// the file and line, in Options.Rejected, the log and ReadFileRejects; no
// error stops the replay. A row kind a format cannot express has no row for
// it ("").
func TestReplayRejectsBadMinuteRows(t *testing.T) {
	const t33 = "2013-10-07 09:33:00"
	long := strings.Repeat("9", 70<<10)
	tests := []struct {
		name       string
		csv, lean  string
		reason     RejectReason
		leanReason RejectReason // "" = reason
	}{
		{"too few fields", t33 + ",168.7,168.7", "34320000,1687000,1687000", ReasonBadFields, ""},
		{"too many fields", t33 + ",168.7,168.7,168.7,168.7,100,7", "34320000,1687000,1687000,1687000,1687000,100,7", ReasonBadFields, ""},
		{"empty line of commas", ",,,,,", ",,,,,", ReasonBadTime, ""},
		{"line too long", t33 + "," + long, "34320000," + long, ReasonBadFields, ""},
		{"price not a number", t33 + ",abc,168.7,168.7,168.7,100", "34320000,abc,1687000,1687000,1687000,100", ReasonBadPrice, ""},
		{"price empty", t33 + ",,168.7,168.7,168.7,100", "34320000,,1687000,1687000,1687000,100", ReasonBadPrice, ""},
		{"price fractional in Lean", "", "34320000,1687000.5,1687000,1687000,1687000,100", "", ReasonBadPrice},
		{"price NaN", t33 + ",NaN,168.7,168.7,168.7,100", "34320000,NaN,1687000,1687000,1687000,100", ReasonNaNPrice, ""},
		{"price Inf", t33 + ",168.7,+Inf,168.7,168.7,100", "34320000,1687000,Inf,1687000,1687000,100", ReasonNaNPrice, ""},
		{"price beyond float64 or int64", t33 + ",1e400,168.7,168.7,168.7,100", "34320000,99999999999999999999,1687000,1687000,1687000,100", ReasonPriceRange, ""},
		{"price above MaxPrice", t33 + ",2e9,2e9,2e9,2e9,100", "34320000,20000000000000,20000000000000,20000000000000,20000000000000,100", ReasonPriceRange, ""},
		{"price zero", t33 + ",0,0,0,0,100", "34320000,0,0,0,0,100", ReasonNonPositive, ""},
		{"price negative", t33 + ",-168.7,168.7,168.7,168.7,100", "34320000,-1687000,1687000,1687000,1687000,100", ReasonNonPositive, ""},
		{"high below low", t33 + ",168.7,168.5,168.9,168.7,100", "34320000,1687000,1685000,1689000,1687000,100", ReasonHighLow, ""},
		{"open outside", t33 + ",169,168.9,168.5,168.7,100", "34320000,1690000,1689000,1685000,1687000,100", ReasonOpenOutside, ""},
		{"close outside", t33 + ",168.7,168.9,168.5,168.4,100", "34320000,1687000,1689000,1685000,1684000,100", ReasonCloseOutside, ""},
		{"volume fractional", t33 + ",168.7,168.7,168.7,168.7,10.5", "34320000,1687000,1687000,1687000,1687000,10.5", ReasonBadVolume, ""},
		{"volume NaN", t33 + ",168.7,168.7,168.7,168.7,NaN", "34320000,1687000,1687000,1687000,1687000,NaN", ReasonBadVolume, ""},
		{"volume Inf", t33 + ",168.7,168.7,168.7,168.7,-Inf", "34320000,1687000,1687000,1687000,1687000,Inf", ReasonBadVolume, ""},
		{"volume not a number", t33 + ",168.7,168.7,168.7,168.7,many", "34320000,1687000,1687000,1687000,1687000,many", ReasonBadVolume, ""},
		{"volume negative", t33 + ",168.7,168.7,168.7,168.7,-5", "34320000,1687000,1687000,1687000,1687000,-5", ReasonNegativeVol, ""},
		{"volume above MaxVolume", t33 + ",168.7,168.7,168.7,168.7,20000000000000", "34320000,1687000,1687000,1687000,1687000,20000000000000", ReasonVolumeRange, ""},
		{"volume beyond int64", t33 + ",168.7,168.7,168.7,168.7,99999999999999999999", "34320000,1687000,1687000,1687000,1687000,99999999999999999999", ReasonVolumeRange, ""},
		{"volume 1e30", t33 + ",168.7,168.7,168.7,168.7,1e30", "34320000,1687000,1687000,1687000,1687000,1e30", ReasonVolumeRange, ""},
		{"time unparsable", "2013-10-07 9h33,168.7,168.7,168.7,168.7,100", "9h33,1687000,1687000,1687000,1687000,100", ReasonBadTime, ""},
		{"time out of range", "2013-10-07 25:33:00,168.7,168.7,168.7,168.7,100", "", ReasonBadTime, ""},
		{"date in a datetime file", "2013-10-07,168.7,168.7,168.7,168.7,100", "", ReasonBadTime, ""},
		{"time past midnight (Lean)", "", "86400000,1687000,1687000,1687000,1687000,100", "", ReasonBadTime},
		{"time negative (Lean)", "", "-60000,1687000,1687000,1687000,1687000,100", "", ReasonBadTime},
		{"time with offset", t33 + "-04:00,168.7,168.7,168.7,168.7,100", "", ReasonTimeZone, ""},
		{"time with Z", "2013-10-07T13:33:00Z,168.7,168.7,168.7,168.7,100", "", ReasonTimeZone, ""},
		{"time with zone name", t33 + " EDT,168.7,168.7,168.7,168.7,100", "", ReasonTimeZone, ""},
		{"year 0000", "0000-10-07 09:33:00,168.7,168.7,168.7,168.7,100", "", ReasonAncientTS, ""},
		{"before 1970", "1969-12-31 09:33:00,168.7,168.7,168.7,168.7,100", "", ReasonAncientTS, ""},
		{"far future", "2999-10-07 09:33:00,168.7,168.7,168.7,168.7,100", "", ReasonFutureTS, ""},
	}
	for _, tt := range tests {
		for _, lean := range []bool{false, true} {
			row, reason, source := tt.csv, tt.reason, "replay:intraday-csv"
			if lean {
				row, source = tt.lean, "replay:lean"
				if tt.leanReason != "" {
					reason = tt.leanReason
				}
			}
			if row == "" {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", tt.name, map[bool]string{false: "csv", true: "lean"}[lean]), func(t *testing.T) {
				dir, path, line := writeRows(t, lean, row)
				// Replayed from the directory and from the file itself.
				for _, spec := range []string{dir, path} {
					qs, calls, logs := replayAll(t, spec, "XYZ")
					if len(qs) != len(goodBars) {
						t.Fatalf("replay %s: %d quotes; want the %d good ones:\n%s", spec, len(qs), len(goodBars), dumpQuotes(qs))
					}
					for i, b := range goodBars {
						if want := b.quote(source); qs[i] != want {
							t.Errorf("quote %d = %+v\nwant %+v", i, qs[i], want)
						}
					}
					want := []rejectCall{{"XYZ", reason, path, line}}
					if !reflect.DeepEqual(calls, want) {
						t.Fatalf("Rejected calls %+v; want %+v", calls, want)
					}
					warns := logs.FilterMessage("replay: bar line rejected").All()
					if len(warns) != 1 || warns[0].Level != zap.WarnLevel {
						t.Fatalf("%d reject warnings; want 1", len(warns))
					}
					f := warns[0].ContextMap()
					if f["file"] != path || f["line"] != int64(line) || f["reason"] != string(reason) || f["symbol"] != "XYZ" ||
						f["detail"] == "" || !strings.HasPrefix(row, f["text"].(string)) {
						t.Fatalf("warning fields %v", f)
					}
					if n := logs.FilterLevelExact(zap.ErrorLevel).Len(); n != 0 {
						t.Fatalf("%d errors logged", n)
					}
				}
				qs, rejects, _, err := ReadFileInfo(path, "XYZ", LabelEnd)
				if err != nil || len(qs) != len(goodBars) || len(rejects) != 1 {
					t.Fatalf("ReadFileRejects: %d quotes, rejects %+v, %v", len(qs), rejects, err)
				}
				if r := rejects[0]; r.File != path || r.Line != line || r.Reason != reason || !errors.Is(&r, ErrFormat) ||
					!strings.Contains(r.Error(), fmt.Sprintf("%s line %d: %s", path, line, reason)) {
					t.Fatalf("reject %+v: %v", r, &r)
				}
			})
		}
	}
}

// TestReplayRejectsBadQuoteBarRow: a bad row of the quote zip beside a Lean
// trade zip is counted under the quote zip's name; its minute's bar keeps no
// bid and ask, the others get theirs.
func TestReplayRejectsBadQuoteBarRow(t *testing.T) {
	mid := goodBar{edt(9, 32, 0, 0), 168.7, 168.7, 168.7, 168.7, 100}
	_, path, _ := writeRows(t, true, mid.leanRow()) // five good rows
	goodBars := append(append(goodBars[:2:2], mid), goodBars[2:]...)
	var rows []string
	for i, b := range goodBars {
		ms := b.start.In(Eastern).Sub(time.Date(2013, 10, 7, 0, 0, 0, 0, Eastern)).Milliseconds()
		bid, ask := 1680000+int64(i), 1690000+int64(i)
		if i == 1 {
			bid = -1 // refused: non_positive_price
		}
		rows = append(rows, fmt.Sprintf("%d,%d,%d,%d,%d,10,%d,%d,%d,%d,20", ms, bid, bid, bid, bid, ask, ask, ask, ask))
	}
	qpath := filepath.Join(filepath.Dir(path), "20131007_quote.zip")
	writeZip(t, qpath, "20131007_xyz_minute_quote.csv", strings.Join(rows, "\n"))
	qs, calls, _ := replayAll(t, path, "XYZ")
	if len(qs) != 5 {
		t.Fatalf("%d quotes:\n%s", len(qs), dumpQuotes(qs))
	}
	for i, q := range qs {
		if i == 1 {
			if q.Bid != nil || q.Ask != nil {
				t.Errorf("quote 1 has bid/ask from a refused quote row: %+v", q)
			}
			continue
		}
		if q.Bid == nil || *q.Bid != float64(1680000+i)/leanPriceScale || q.Ask == nil || *q.Ask != float64(1690000+i)/leanPriceScale {
			t.Errorf("quote %d: bid %v ask %v", i, q.Bid, q.Ask)
		}
	}
	if want := []rejectCall{{"XYZ", ReasonNonPositive, qpath, 2}}; !reflect.DeepEqual(calls, want) {
		t.Fatalf("Rejected calls %+v; want %+v", calls, want)
	}
}

// TestReplayUnreadableFile: a file that cannot be read at all (a corrupt
// zip, a truncated zip, a CSV with an unknown header, a corrupt quote zip)
// is reported once, at Error and to Options.Rejected as bad_file naming the
// file, and left out; the other files are replayed, and Fetch returns no
// error (so the fetch task is not restarted to read it again). A symbol
// whose only file is unreadable is exhausted at once.
func TestReplayUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	var rows []string
	for _, b := range goodBars {
		rows = append(rows, b.leanRow())
	}
	goodPath := filepath.Join(dir, "xyz", "20131008_trade.zip")
	writeZip(t, goodPath, "20131008_xyz_minute_trade.csv", strings.Join(rows, "\n"))
	body, err := os.ReadFile(goodPath)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "xyz", "20131007_trade.zip")
	if err := os.WriteFile(corrupt, []byte("PK\x03\x04 this is not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "xyz", "20131009_trade.zip")
	if err := os.WriteFile(truncated, body[:len(body)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	badCSV := filepath.Join(dir, "xyz_daily.csv")
	if err := os.WriteFile(badCSV, []byte("when,what\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badQuote := filepath.Join(dir, "xyz", "20131008_quote.zip")
	if err := os.WriteFile(badQuote, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}

	core, logs := observer.New(zap.InfoLevel)
	rec := &rejectRecorder{t: t}
	r, err := New("replay:"+dir+"?speed=max", Options{Logger: zap.New(core), Rejected: rec.rejected})
	if err != nil {
		t.Fatal(err)
	}
	qs := drain(t, r, "XYZ", time.Time{})
	if len(qs) != len(goodBars) {
		t.Fatalf("%d quotes; want %d:\n%s", len(qs), len(goodBars), dumpQuotes(qs))
	}
	for i, b := range goodBars {
		want := b.quote("replay:lean")
		want.TS = want.TS.AddDate(0, 0, 1) // the good file is 2013-10-08's
		if qs[i] != want {
			t.Errorf("quote %d = %+v\nwant %+v", i, qs[i], want)
		}
	}
	// Fetching again (a resumed or retried task) reports nothing more.
	if _, err := r.Fetch(t.Context(), "XYZ", qs[len(qs)-1].Position()); !errors.Is(err, ErrExhausted) {
		t.Fatalf("Fetch after the end: %v", err)
	}
	byFile := map[string]rejectCall{}
	for _, c := range rec.all() {
		byFile[c.file] = c
	}
	want := map[string]rejectCall{
		corrupt:   {"XYZ", ReasonBadFile, corrupt, 0},
		truncated: {"XYZ", ReasonBadFile, truncated, 0},
		badCSV:    {"XYZ", ReasonBadFile, badCSV, 0},
		badQuote:  {"XYZ", ReasonBadFile, badQuote, 0},
	}
	if calls := rec.all(); len(calls) != len(want) || !reflect.DeepEqual(byFile, want) {
		t.Fatalf("Rejected calls %+v; want %+v", calls, want)
	}
	errs := logs.FilterLevelExact(zap.ErrorLevel).All()
	if len(errs) != len(want) {
		t.Fatalf("%d errors logged; want %d", len(errs), len(want))
	}
	for _, e := range errs {
		f := e.ContextMap()
		if _, ok := want[f["file"].(string)]; !ok || f["reason"] != string(ReasonBadFile) || !strings.Contains(f["error"].(string), f["file"].(string)) {
			t.Errorf("error log %q %v", e.Message, f)
		}
	}
	if files, err := r.(*Replay).Files("XYZ"); err != nil || !reflect.DeepEqual(files, []string{goodPath, badCSV}) {
		t.Fatalf("Files = %v, %v", files, err)
	}

	// The corrupt zip alone: reported once, exhausted, never an error.
	rec2 := &rejectRecorder{t: t}
	r2, err := New("replay:"+corrupt+"?speed=max", Options{Rejected: rec2.rejected})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := r2.Fetch(t.Context(), "XYZ", time.Time{}); !errors.Is(err, ErrExhausted) {
			t.Fatalf("Fetch of a corrupt zip alone: %v", err)
		}
	}
	if calls := rec2.all(); len(calls) != 1 || calls[0] != (rejectCall{"XYZ", ReasonBadFile, corrupt, 0}) {
		t.Fatalf("Rejected calls %+v", calls)
	}
}

// TestReplayRealFileWithBadLine copies real files from ../shared/data (SPY's
// Lean minute zip of 2013-10-07 with its quote zip, MSFT's Alpha Vantage
// CSV) to a temp directory and spoils one row of each in the middle: the
// replay gives every other row of the file, with the values the original
// file's reader gives, and counts the spoilt one.
func TestReplayRealFileWithBadLine(t *testing.T) {
	tests := []struct {
		src, dst string // dst below the temp dir, naming the symbol
		symbol   string
		header   int // header lines
		spoil    func(row string) string
		reason   RejectReason
	}{
		{"lean-spy-minute/20131007_trade.zip", "spy/20131007_trade.zip", "SPY", 0,
			func(row string) string { return row[:strings.LastIndexByte(row, ',')] + ",12.5" }, ReasonBadVolume},
		{"alphavantage-msft-1min/msft_1min_2020-11-23_2020-12-18.csv", "msft/msft_1min.csv", "MSFT", 1,
			func(row string) string { f := strings.Split(row, ","); f[2] = "NaN"; return strings.Join(f, ",") }, ReasonNaNPrice},
	}
	for _, tt := range tests {
		t.Run(tt.symbol, func(t *testing.T) {
			src := testenv.SharedData(t, tt.src)
			dir := t.TempDir()
			dst := filepath.Join(dir, tt.dst)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			inner, body := readMaybeZip(t, src)
			lines := strings.Split(strings.TrimRight(body, "\r\n"), "\n")
			rows := 0
			for _, l := range lines[tt.header:] {
				if strings.TrimSpace(l) != "" {
					rows++
				}
			}
			bad := tt.header + len(lines[tt.header:])/2
			spoilt := strings.TrimRight(lines[bad], "\r")
			lines[bad] = tt.spoil(spoilt)
			out := strings.Join(lines, "\n") + "\n"
			if inner != "" {
				writeZip(t, dst, inner, out)
				if q := strings.TrimSuffix(src, "_trade.zip") + "_quote.zip"; fileExists(q) {
					qb, err := os.ReadFile(q)
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(strings.TrimSuffix(dst, "_trade.zip")+"_quote.zip", qb, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			} else if err := os.WriteFile(dst, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}

			core, logs := observer.New(zap.InfoLevel)
			rec := &rejectRecorder{t: t}
			r, err := New("replay:"+dir+"?speed=max", Options{Logger: zap.New(core), Rejected: rec.rejected})
			if err != nil {
				t.Fatal(err)
			}
			qs := drain(t, r, tt.symbol, time.Time{})
			if len(qs) != rows-1 {
				t.Fatalf("%d quotes replayed; want the file's %d rows - 1", len(qs), rows)
			}
			// The same values as the original file, less the spoilt row.
			orig, err := ReadFile(src, tt.symbol)
			if err != nil {
				t.Fatal(err)
			}
			if len(orig) != rows {
				t.Fatalf("the original file reads as %d rows; the test counted %d", len(orig), rows)
			}
			missing := 0
			for i, j := 0, 0; i < len(orig); i++ {
				if j < len(qs) && reflect.DeepEqual(qs[j], orig[i]) {
					j++
					continue
				}
				missing++
			}
			if missing != 1 {
				t.Fatalf("%d rows of the original differ or are missing; want 1", missing)
			}
			want := []rejectCall{{tt.symbol, tt.reason, dst, bad + 1}}
			if calls := rec.all(); !reflect.DeepEqual(calls, want) {
				t.Fatalf("Rejected calls %+v; want %+v", calls, want)
			}
			if w := logs.FilterMessage("replay: bar line rejected").All(); len(w) != 1 || w[0].ContextMap()["line"] != int64(bad+1) {
				t.Fatalf("reject warnings %v", w)
			}
		})
	}
}

// readMaybeZip returns the name and text of a zip's one entry, or "" and the
// file's text for another file.
func readMaybeZip(t *testing.T, path string) (inner, body string) {
	t.Helper()
	if !strings.HasSuffix(path, ".zip") {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return "", string(b)
	}
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
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, rc); err != nil {
		t.Fatal(err)
	}
	return zr.File[0].Name, buf.String()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
