package quote

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
)

const avCSV = "alphavantage-msft-1min/msft_1min_2020-11-23_2020-12-18.csv"

func readAV(t *testing.T) []Quote {
	t.Helper()
	qs, err := ReadFile(testenv.SharedData(t, avCSV), "MSFT")
	if err != nil {
		t.Fatal(err)
	}
	return qs
}

// find returns the quote starting at ts, or false.
func find(qs []Quote, ts time.Time) (Quote, bool) {
	for _, q := range qs {
		if q.TS.Equal(ts) {
			return q, true
		}
	}
	return Quote{}, false
}

// regular returns the bars of qs starting on day (Eastern) within
// [09:30, close) Eastern.
func regular(qs []Quote, day string, closeHour int) []Quote {
	var out []Quote
	for _, q := range qs {
		e := q.TS.In(Eastern)
		hm := e.Hour()*60 + e.Minute()
		if e.Format(time.DateOnly) == day && hm >= 9*60+30 && hm < closeHour*60 {
			out = append(out, q)
		}
	}
	return out
}

func TestAlphaVantageCSV(t *testing.T) {
	qs := readAV(t)
	if len(qs) != 11190 {
		t.Fatalf("got %d rows; want 11190", len(qs))
	}
	for i := 1; i < len(qs); i++ {
		if !qs[i].TS.After(qs[i-1].TS) {
			t.Fatalf("row %d at %v not after row %d at %v", i, qs[i].TS, i-1, qs[i-1].TS)
		}
	}
	// The file's last line "2020-11-23 04:01:00,211.5,211.5,211.5,211.5,162" is
	// the bar 04:00-04:01 EST (labels are bar ends): 09:00 UTC.
	first := Quote{Symbol: "MSFT", TS: utc(2020, 11, 23, 9, 0), Open: 211.5, High: 211.5, Low: 211.5, Close: 211.5,
		Volume: 162, Source: "replay:intraday-csv"}
	// Its first data line "2020-12-18 20:00:00,218.79,218.79,218.75,218.75,1102":
	// the bar 19:59-20:00 EST, 00:59 UTC the next day.
	last := Quote{Symbol: "MSFT", TS: utc(2020, 12, 19, 0, 59), Open: 218.79, High: 218.79, Low: 218.75, Close: 218.75,
		Volume: 1102, Source: "replay:intraday-csv"}
	if qs[0] != first || qs[len(qs)-1] != last {
		t.Fatalf("first %+v\nlast %+v\nwant %+v\nand %+v", qs[0], qs[len(qs)-1], first, last)
	}
}

func TestAlphaVantageCSVSessions(t *testing.T) {
	qs := readAV(t)
	days := []struct {
		day       string
		closeHour int
		want      int
	}{
		{"2020-11-23", 16, 390}, {"2020-11-24", 16, 390}, {"2020-11-25", 16, 390},
		{"2020-11-27", 13, 210}, // half day after Thanksgiving: 09:30-13:00
		{"2020-11-30", 16, 390}, {"2020-12-14", 16, 390}, {"2020-12-15", 16, 390}, {"2020-12-18", 16, 390},
	}
	for _, d := range days {
		if got := len(regular(qs, d.day, d.closeHour)); got != d.want {
			t.Errorf("%s: %d regular-session bars; want %d", d.day, got, d.want)
		}
	}
	// Half day: the last regular bar is 12:59-13:00 EST (17:59 UTC), from the
	// line "2020-11-27 13:00:00,215.01,215.31,214.95,215.29,181027"; the
	// closing auction's 1,480,168 shares are in the 13:00 bar (line 13:01).
	half := regular(qs, "2020-11-27", 13)
	wantLast := Quote{Symbol: "MSFT", TS: utc(2020, 11, 27, 17, 59), Open: 215.01, High: 215.31, Low: 214.95, Close: 215.29,
		Volume: 181027, Source: "replay:intraday-csv"}
	if half[len(half)-1] != wantLast {
		t.Errorf("last half-day bar %+v\nwant %+v", half[len(half)-1], wantLast)
	}
	if q, ok := find(qs, utc(2020, 11, 27, 18, 0)); !ok || q.Volume != 1480168 {
		t.Errorf("13:00 EST bar = %+v, %v; want volume 1480168", q, ok)
	}
	// 2020-12-15: the file has no line "09:30:00", the bar 09:29-09:30 EST
	// (14:29 UTC); its neighbours are there.
	if q, ok := find(qs, utc(2020, 12, 15, 14, 29)); ok {
		t.Errorf("2020-12-15 14:29 UTC present: %+v", q)
	}
	for _, tt := range []struct {
		ts     time.Time
		close  float64
		volume int64
	}{{utc(2020, 12, 15, 14, 28), 215.36, 851}, {utc(2020, 12, 15, 14, 30), 214.77, 431931}} {
		if q, ok := find(qs, tt.ts); !ok || q.Close != tt.close || q.Volume != tt.volume {
			t.Errorf("%v: %+v, %v; want close %v volume %d", tt.ts, q, ok, tt.close, tt.volume)
		}
	}
}

func TestReadCSVLayouts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Quote
	}{
		{"daily yahoo", "Date,Open,High,Low,Close,Adj Close,Volume\n" +
			"2020-11-24,10,12,9,11,10.9,1000\n2020-11-23,9,10,8,9.5,9.4,2000\n2020-11-25,null,null,null,null,null,null\n",
			[]Quote{
				// 09:30 EST = 14:30 UTC
				{Symbol: "X", TS: utc(2020, 11, 23, 14, 30), Open: 9, High: 10, Low: 8, Close: 9.5, Volume: 2000, Source: "replay:daily-csv"},
				{Symbol: "X", TS: utc(2020, 11, 24, 14, 30), Open: 10, High: 12, Low: 9, Close: 11, Volume: 1000, Source: "replay:daily-csv"},
			}},
		{"daily summer, no adj close, BOM", "\ufeffdate,open,high,low,close,volume\n2020-07-01,1,2,0.5,1.5,3.0\n",
			[]Quote{{Symbol: "X", TS: utc(2020, 7, 1, 13, 30), Open: 1, High: 2, Low: 0.5, Close: 1.5, Volume: 3, Source: "replay:daily-csv"}}},
		{"intraday 5min ascending, end-labelled (a bar at 16:00, none at 09:30)", "time,open,high,low,close,volume\n2020-12-01 15:55:00,1,1,1,1,1\n2020-12-01 16:00:00,2,2,2,2,2\n",
			[]Quote{
				{Symbol: "X", TS: utc(2020, 12, 1, 20, 50), Open: 1, High: 1, Low: 1, Close: 1, Volume: 1, Source: "replay:intraday-csv"},
				{Symbol: "X", TS: utc(2020, 12, 1, 20, 55), Open: 2, High: 2, Low: 2, Close: 2, Volume: 2, Source: "replay:intraday-csv"},
			}},
		{"header only", "time,open,high,low,close,volume\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadCSV(strings.NewReader(tt.in), "f.csv", "X")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d rows %+v; want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("row %d = %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestReadCSVCommonLayouts: the layouts real exports use, each a small file
// written here with the bars it must give computed by hand from its rows
// (times US/Eastern; December is UTC-5, July UTC-4), the label each file's
// evidence (or the spec) gives, and the columns left out.
func TestReadCSVCommonLayouts(t *testing.T) {
	bar := func(ts time.Time, o, h, l, c float64, v int64, src string) Quote {
		return Quote{Symbol: "X", TS: ts, Open: o, High: h, Low: l, Close: c, Volume: v, Source: src}
	}
	const intra, daily = "replay:intraday-csv", "replay:daily-csv"
	tests := []struct {
		name  string
		in    string
		label Label
		want  []Quote
		info  FileInfo
	}{
		{"start-labelled minute file (09:30 present, no 16:00): kept at its own labels",
			"time,open,high,low,close,volume\n2020-12-01 09:30:00,10,11,9,10.5,100\n2020-12-01 09:31:00,10.5,12,10,11,200\n",
			LabelDetect,
			[]Quote{bar(utc(2020, 12, 1, 14, 30), 10, 11, 9, 10.5, 100, intra), bar(utc(2020, 12, 1, 14, 31), 10.5, 12, 10, 11, 200, intra)},
			FileInfo{Label: LabelStart, Detected: true}},
		{"start-labelled extended session (a bar at 04:00)",
			"time,open,high,low,close,volume\n2020-12-01 04:00:00,10,11,9,10.5,100\n2020-12-01 16:00:00,10.5,12,10,11,200\n2020-12-01 16:01:00,11,11,11,11,1\n",
			LabelDetect,
			[]Quote{bar(utc(2020, 12, 1, 9, 0), 10, 11, 9, 10.5, 100, intra), bar(utc(2020, 12, 1, 21, 0), 10.5, 12, 10, 11, 200, intra), bar(utc(2020, 12, 1, 21, 1), 11, 11, 11, 11, 1, intra)},
			FileInfo{Label: LabelStart, Detected: true}},
		{"end-labelled extended session (a bar at 20:00), as Alpha Vantage",
			"time,open,high,low,close,volume\n2020-12-01 20:00:00,10,11,9,10.5,100\n2020-12-01 19:59:00,10.5,12,10,11,200\n",
			LabelDetect,
			[]Quote{bar(utc(2020, 12, 2, 0, 58), 10.5, 12, 10, 11, 200, intra), bar(utc(2020, 12, 2, 0, 59), 10, 11, 9, 10.5, 100, intra)},
			FileInfo{Label: LabelEnd, Detected: true}},
		{"no evidence, label from the spec",
			"time,open,high,low,close,volume\n2020-12-01 10:00:00,10,11,9,10.5,100\n2020-12-01 10:01:00,10.5,12,10,11,200\n",
			LabelStart,
			[]Quote{bar(utc(2020, 12, 1, 15, 0), 10, 11, 9, 10.5, 100, intra), bar(utc(2020, 12, 1, 15, 1), 10.5, 12, 10, 11, 200, intra)},
			FileInfo{Label: LabelStart}},
		{"the spec's label wins over the evidence",
			"time,open,high,low,close,volume\n2020-12-01 09:30:00,10,11,9,10.5,100\n2020-12-01 09:31:00,10.5,12,10,11,200\n",
			LabelEnd,
			[]Quote{bar(utc(2020, 12, 1, 14, 29), 10, 11, 9, 10.5, 100, intra), bar(utc(2020, 12, 1, 14, 30), 10.5, 12, 10, 11, 200, intra)},
			FileInfo{Label: LabelEnd}},
		{"US dates m/d/yyyy, daily",
			"Date,Open,High,Low,Close,Volume\n11/24/2020,10,12,9,11,1000\n11/23/2020,9,10,8,9.5,2000\n",
			LabelDetect,
			[]Quote{bar(utc(2020, 11, 23, 14, 30), 9, 10, 8, 9.5, 2000, daily), bar(utc(2020, 11, 24, 14, 30), 10, 12, 9, 11, 1000, daily)},
			FileInfo{}},
		{"US date and time m/d/yyyy hh:mm, start-labelled",
			"time,open,high,low,close,volume\n7/1/2020 9:30,10,11,9,10.5,100\n7/1/2020 9:31,10.5,12,10,11,200\n",
			LabelDetect,
			[]Quote{bar(utc(2020, 7, 1, 13, 30), 10, 11, 9, 10.5, 100, intra), bar(utc(2020, 7, 1, 13, 31), 10.5, 12, 10, 11, 200, intra)},
			FileInfo{Label: LabelStart, Detected: true}},
		{"a datetime in a column named Date, ISO T and no seconds",
			"Date,Open,High,Low,Close,Volume\n2020-12-01T09:30,10,11,9,10.5,100\n2020-12-01T09:31,10.5,12,10,11,200\n",
			LabelDetect,
			[]Quote{bar(utc(2020, 12, 1, 14, 30), 10, 11, 9, 10.5, 100, intra), bar(utc(2020, 12, 1, 14, 31), 10.5, 12, 10, 11, 200, intra)},
			FileInfo{Label: LabelStart, Detected: true}},
		{"extra columns (indicators) ignored and named",
			"timestamp,open,high,low,close,volume,rsi_14,sma_20\n2020-12-01 09:30:00,10,11,9,10.5,100,55.1,10.2\n",
			LabelDetect,
			[]Quote{bar(utc(2020, 12, 1, 14, 30), 10, 11, 9, 10.5, 100, intra)},
			FileInfo{Label: LabelStart, Detected: true, Ignored: []string{"rsi_14", "sma_20"}}},
		{"Last instead of Close",
			"Date,Open,High,Low,Last,Volume\n2020-11-24,10,12,9,11,1000\n",
			LabelDetect,
			[]Quote{bar(utc(2020, 11, 24, 14, 30), 10, 12, 9, 11, 1000, daily)},
			FileInfo{}},
		{"Close and Last: Close read, Last ignored",
			"Date,Open,High,Low,Close,Last,Volume\n2020-11-24,10,12,9,11,11.5,1000\n",
			LabelDetect,
			[]Quote{bar(utc(2020, 11, 24, 14, 30), 10, 12, 9, 11, 1000, daily)},
			FileInfo{Ignored: []string{"Last"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rejects, info, err := readCSV(strings.NewReader(tt.in), "f.csv", "X", tt.label)
			if err != nil {
				t.Fatal(err)
			}
			if len(rejects) > 0 {
				t.Errorf("rejects %v; want none", rejects)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("bars\n got %+v\nwant %+v", got, tt.want)
			}
			if !reflect.DeepEqual(info, tt.info) {
				t.Errorf("info %+v; want %+v", info, tt.info)
			}
		})
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name, in string
		is       error
		msg      string
	}{
		{"empty", "", ErrUnknownFormat, "data.csv: empty file"},
		{"unknown header", "a,b,c\n", ErrUnknownFormat, "data.csv line 1: header \"a,b,c\" lacks a column"},
		{"two time columns", "time,date,open,high,low,close,volume\n", ErrUnknownFormat, "data.csv line 1: columns \"time\" and \"date\" name the same field"},
		{"ambiguous labels", "time,open,high,low,close,volume\n2020-12-01 10:35:00,1,1,1,1,1\n2020-12-01 10:40:00,2,2,2,2,2\n", ErrAmbiguousLabels, "say which end the file's times name with label=start or label=end"},
		{"missing column", "time,open,high,low,close\n", ErrUnknownFormat, "data.csv line 1: header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tt.in), "data.csv", "X")
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v; want %v containing %q", err, tt.is, tt.msg)
			}
		})
	}
}

// TestReadCSVRowRejects: a malformed row is left out and returned as a
// RowReject naming the file and line; the other rows are read.
func TestReadCSVRowRejects(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
		reason   RejectReason
		detail   string
	}{
		{"bad price", "time,open,high,low,close,volume\n2020-12-01 09:35:00,1,1,1,1,1\n2020-12-01 09:36:00,x,1,1,1,1\n",
			3, ReasonBadPrice, `open "x": not a number`},
		{"bad time", "time,open,high,low,close,volume\n2020-12-01 09:35:00,1,1,1,1,1\n2020-12-01 9h35,1,1,1,1,1\n", 3, ReasonBadTime, `time "2020-12-01 9h35"`},
		{"bad volume", "Date,Open,High,Low,Close,Volume\n2020-11-30,1,1,1,1,1\n2020-12-01,1,1,1,1,1.5\n", 3, ReasonBadVolume, `volume "1.5": fractional`},
		{"field count", "time,open,high,low,close,volume\n2020-12-01 09:35:00,1,1,1,1,1\n2020-12-01 09:36:00,1,1\n", 3, ReasonBadFields, "3 fields, too few; want 6"},
		{"bare quote", "time,open,high,low,close,volume\n2020-12-01 09:35:00,1,1,1,1,1\n2020-12-01 09:36:00,1\"x,1,1,1,1\n",
			3, ReasonBadPrice, `open "1\"x": not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qs, rejects, _, err := readCSV(strings.NewReader(tt.in), "data.csv", "X", LabelEnd)
			if err != nil {
				t.Fatal(err)
			}
			if len(qs) != 1 || qs[0].Open != 1 || qs[0].Volume != 1 {
				t.Fatalf("rows %+v; want the one good row", qs)
			}
			if len(rejects) != 1 {
				t.Fatalf("rejects %+v; want 1", rejects)
			}
			r := rejects[0]
			if r.File != "data.csv" || r.Line != tt.line || r.Reason != tt.reason || !strings.Contains(r.Detail, tt.detail) ||
				!errors.Is(&r, ErrFormat) || !strings.Contains(r.Error(), fmt.Sprintf("data.csv line %d", tt.line)) {
				t.Fatalf("reject %+v (%v); want line %d %s %q", r, &r, tt.line, tt.reason, tt.detail)
			}
		})
	}
}

func TestReadFileUnknownZip(t *testing.T) {
	_, err := ReadFile(testenv.SharedData(t, "lean-spy-minute/20131007_quote.zip"), "SPY")
	if !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), "20131007_quote.zip") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add("time,open,high,low,close,volume\n2020-12-18 20:00:00,218.79,218.79,218.75,218.75,1102\n2020-12-18 19:58:00,218.63,218.75,218.63,218.75,1491\n")
	f.Add("Date,Open,High,Low,Close,Adj Close,Volume\n2020-11-24,10,12,9,11,10.9,1000\n2020-11-25,null,null,null,null,null,null\n")
	f.Add("time,open,high,low,close,volume\n\"2020-12-18 20:00:00\",1e400,NaN,-1,0,99999999999999999999\n")
	f.Add("date\n\"")
	f.Fuzz(func(t *testing.T, in string) {
		qs, err := ReadCSV(strings.NewReader(in), "fuzz.csv", "F")
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnknownFormat) {
				t.Fatalf("error %v wraps neither ErrFormat nor ErrUnknownFormat", err)
			}
			if !strings.Contains(err.Error(), "fuzz.csv") {
				t.Fatalf("error %q does not name the file", err)
			}
			if errors.Is(err, ErrFormat) && !strings.Contains(err.Error(), " line ") {
				t.Fatalf("error %q does not name the line", err)
			}
			if qs != nil {
				t.Fatalf("partial result %d rows with error", len(qs))
			}
			return
		}
		for i := 1; i < len(qs); i++ {
			if qs[i].TS.Before(qs[i-1].TS) {
				t.Fatalf("row %d at %v before row %d at %v", i, qs[i].TS, i-1, qs[i-1].TS)
			}
		}
	})
}
