package store

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stock-system/stocksys/quote"
)

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

func TestWindowStart(t *testing.T) {
	tests := []struct {
		name     string
		ts       time.Time
		interval string
		want     time.Time
	}{
		{"5m winter", et(2020, 1, 6, 9, 34), Interval5m, utc(2020, 1, 6, 14, 30)},
		{"5m boundary", et(2020, 1, 6, 9, 35), Interval5m, utc(2020, 1, 6, 14, 35)},
		{"1h winter", et(2020, 1, 6, 9, 34), Interval1h, utc(2020, 1, 6, 14, 0)},
		{"1h summer", et(2020, 3, 9, 9, 34), Interval1h, utc(2020, 3, 9, 13, 0)},
		{"1d winter", et(2020, 1, 6, 15, 59), Interval1d, utc(2020, 1, 6, 5, 0)},
		{"1d summer", et(2020, 3, 9, 15, 59), Interval1d, utc(2020, 3, 9, 4, 0)},
		{"1d late evening ET is still that day", utc(2020, 3, 10, 3, 59), Interval1d, utc(2020, 3, 9, 4, 0)},
		// 2020-11-01: 01:00-02:00 happens twice (EDT, then EST).
		{"fall back 1h first", utc(2020, 11, 1, 5, 30), Interval1h, utc(2020, 11, 1, 5, 0)},
		{"fall back 1h second", utc(2020, 11, 1, 6, 30), Interval1h, utc(2020, 11, 1, 6, 0)},
		{"fall back 5m second", utc(2020, 11, 1, 6, 33), Interval5m, utc(2020, 11, 1, 6, 30)},
		{"fall back 1d", utc(2020, 11, 1, 6, 30), Interval1d, utc(2020, 11, 1, 4, 0)},
		// 2020-03-08: 02:00 EST jumps to 03:00 EDT.
		{"spring forward 1h before", utc(2020, 3, 8, 6, 59), Interval1h, utc(2020, 3, 8, 6, 0)},
		{"spring forward 1h after", utc(2020, 3, 8, 7, 0), Interval1h, utc(2020, 3, 8, 7, 0)},
		{"spring forward 1d", utc(2020, 3, 8, 7, 0), Interval1d, utc(2020, 3, 8, 5, 0)},
	}
	for _, tt := range tests {
		if got := WindowStart(tt.ts, tt.interval); !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("%s: WindowStart(%v, %s) = %v; want %v", tt.name, tt.ts, tt.interval, got, tt.want)
		}
	}
}

// halfDay is hand-made data for 2020-11-27, the half day after Thanksgiving
// (close 13:00 ET, EST = UTC-5).
func halfDay() []quote.Quote {
	return []quote.Quote{
		q("SPY", et(2020, 11, 27, 9, 30), 100, 101, 99.5, 100.5, 1000),
		q("SPY", et(2020, 11, 27, 9, 31), 100.5, 102, 100, 101.5, 3000),
		q("SPY", et(2020, 11, 27, 9, 34), 101.5, 101.75, 98, 99, 0),
		q("SPY", et(2020, 11, 27, 9, 35), 99, 99.5, 98.5, 99.25, 2000),
		q("SPY", et(2020, 11, 27, 12, 59), 105, 105.5, 104.5, 105.25, 500),
	}
}

func TestComputeBars(t *testing.T) {
	d := day(2020, 11, 27)
	bar := func(iv string, ts time.Time, o, h, l, c float64, v int64, vwap float64, n int) Bar {
		return Bar{Symbol: "SPY", Interval: iv, Day: d, TS: ts, Open: o, High: h, Low: l, Close: c, Volume: v, VWAP: vwap, Count: n}
	}
	tests := []struct {
		name     string
		qs       []quote.Quote
		interval string
		want     []Bar
	}{
		{"5m half day", halfDay(), Interval5m, []Bar{
			bar("5m", utc(2020, 11, 27, 14, 30), 100, 102, 98, 99, 4000, 405000.0/4000, 3),
			bar("5m", utc(2020, 11, 27, 14, 35), 99, 99.5, 98.5, 99.25, 2000, 99.25, 1),
			bar("5m", utc(2020, 11, 27, 17, 55), 105, 105.5, 104.5, 105.25, 500, 105.25, 1),
		}},
		{"1h half day", halfDay(), Interval1h, []Bar{
			bar("1h", utc(2020, 11, 27, 14, 0), 100, 102, 98, 99.25, 6000, 603500.0/6000, 4),
			bar("1h", utc(2020, 11, 27, 17, 0), 105, 105.5, 104.5, 105.25, 500, 105.25, 1),
		}},
		{"1d half day", halfDay(), Interval1d, []Bar{
			bar("1d", utc(2020, 11, 27, 5, 0), 100, 105.5, 98, 105.25, 6500, 656125.0/6500, 5),
		}},
		{"shuffled with duplicates", shuffledDup(halfDay()), Interval1d, []Bar{
			bar("1d", utc(2020, 11, 27, 5, 0), 100, 105.5, 98, 105.25, 6500, 656125.0/6500, 5),
		}},
		{"zero volume: vwap is the mean close", []quote.Quote{
			q("SPY", et(2020, 11, 27, 9, 40), 10, 11, 9, 10.5, 0),
			q("SPY", et(2020, 11, 27, 9, 41), 10.5, 12, 10, 11.5, 0),
		}, Interval5m, []Bar{bar("5m", utc(2020, 11, 27, 14, 40), 10, 12, 9, 11.5, 0, 11, 2)}},
		{"unknown interval", halfDay(), "15m", nil},
		{"no quotes", nil, Interval1h, nil},
	}
	for _, tt := range tests {
		got := ComputeBars(tt.qs, tt.interval)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

// shuffledDup returns qs twice over, shuffled with a fixed seed.
func shuffledDup(qs []quote.Quote) []quote.Quote {
	out := append(append([]quote.Quote{}, qs...), qs...)
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// On the day daylight saving time ends, the two 01:xx hours are separate 1h
// bars, both on the same trading day, whose 1d bar starts at midnight EDT.
func TestComputeBarsFallBack(t *testing.T) {
	qs := []quote.Quote{
		q("SPY", utc(2020, 11, 1, 5, 30), 1, 1, 1, 1, 10), // 01:30 EDT
		q("SPY", utc(2020, 11, 1, 6, 30), 2, 2, 2, 2, 10), // 01:30 EST
	}
	h := ComputeBars(qs, Interval1h)
	if len(h) != 2 || !h[0].TS.Equal(utc(2020, 11, 1, 5, 0)) || !h[1].TS.Equal(utc(2020, 11, 1, 6, 0)) ||
		h[0].Count != 1 || h[1].Count != 1 || !h[1].Day.Equal(day(2020, 11, 1)) {
		t.Fatalf("1h bars = %+v", h)
	}
	d := ComputeBars(qs, Interval1d)
	if len(d) != 1 || !d[0].TS.Equal(utc(2020, 11, 1, 4, 0)) || d[0].Count != 2 || d[0].VWAP != 1.5 {
		t.Fatalf("1d bars = %+v", d)
	}
}

func TestComputeLatest(t *testing.T) {
	base := et(2020, 3, 9, 9, 30) // EDT
	closes := func(cs ...float64) []quote.Quote {
		var qs []quote.Quote
		for i, c := range cs {
			qs = append(qs, q("SPY", base.Add(time.Duration(i)*time.Minute), c, c, c, c, 100))
		}
		return qs
	}
	tests := []struct {
		name     string
		qs       []quote.Quote
		prev     *float64
		sma, ema []int
		want     Latest
	}{
		{"no previous day", closes(10, 11, 12, 13, 14), nil, []int{2, 3, 10}, []int{3, 10}, Latest{
			Symbol: "SPY", TS: base.Add(4 * time.Minute), Price: 14,
			// SMA2 = (13+14)/2; SMA3 = (12+13+14)/3. EMA3: alpha 0.5, seed
			// (10+11+12)/3 = 11, then 0.5*13+0.5*11 = 12, 0.5*14+0.5*12 = 13.
			SMA: map[int]float64{2: 13.5, 3: 13}, EMA: map[int]float64{3: 13}}},
		{"previous close 12", shuffledDup(closes(10, 11, 12, 13, 14)), fp(12), []int{5}, []int{1, 4}, Latest{
			Symbol: "SPY", TS: base.Add(4 * time.Minute), Price: 14,
			PrevClose: fp(12), DayChange: fp(2), DayChangePct: fp(100.0 * 2 / 12),
			// EMA4: alpha 0.4, seed (10+11+12+13)/4 = 11.5, then 0.4*14+0.6*11.5.
			SMA: map[int]float64{5: 12}, EMA: map[int]float64{1: 14, 4: 0.4*14 + (1-0.4)*11.5}}},
		{"previous close 0: no percentage", closes(5), fp(0), nil, nil, Latest{
			Symbol: "SPY", TS: base, Price: 5, PrevClose: fp(0), DayChange: fp(5),
			SMA: map[int]float64{}, EMA: map[int]float64{}}},
		{"no quotes", nil, fp(1), []int{5}, []int{12}, Latest{}},
	}
	for _, tt := range tests {
		got := ComputeLatest(tt.qs, tt.prev, tt.sma, tt.ema)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, fmtLatest(got), fmtLatest(tt.want))
		}
	}
}

func fmtLatest(l Latest) string {
	p := func(f *float64) any {
		if f == nil {
			return "nil"
		}
		return *f
	}
	return fmt.Sprint(l.Symbol, " ", l.TS, " price ", l.Price, " prev ", p(l.PrevClose), " change ", p(l.DayChange),
		" pct ", p(l.DayChangePct), " sma ", l.SMA, " ema ", l.EMA)
}

func TestDetectMoves(t *testing.T) {
	base := et(2020, 11, 27, 9, 30)
	mk := func(cs ...float64) []quote.Quote {
		var qs []quote.Quote
		for i, c := range cs {
			qs = append(qs, q("SPY", base.Add(time.Duration(i)*time.Minute), c, c, c, c, 1))
		}
		return qs
	}
	alert := func(i int, prev, c float64, reason string) Alert {
		return Alert{Day: day(2020, 11, 27), TS: base.Add(time.Duration(i) * time.Minute), Symbol: "SPY",
			PrevClose: prev, Close: c, MovePct: 100 * (c - prev) / prev, Reason: reason}
	}
	tests := []struct {
		name string
		qs   []quote.Quote
		prev *float64
		want []Alert
	}{
		{"spike and reversal", mk(100, 101, 130, 100), nil, []Alert{
			alert(2, 101, 130, "close moved +28.71% from 101 to 130 (threshold 20%)"),
			alert(3, 130, 100, "close moved -23.08% from 130 to 100 (threshold 20%)"),
		}},
		{"exactly 20% is not flagged", mk(100, 120, 96), nil, nil},
		{"first quote against previous day", mk(50), fp(100), []Alert{
			alert(0, 100, 50, "close moved -50.00% from 100 to 50 (threshold 20%)"),
		}},
		{"previous close 0", mk(50), fp(0), nil},
		{"order does not matter", shuffledDup(mk(100, 101, 130)), nil, []Alert{
			alert(2, 101, 130, "close moved +28.71% from 101 to 130 (threshold 20%)"),
		}},
		// A bad print its source flagged: one alert, at the print, against the
		// last counted close; the return from it is no move (101 -> 100).
		{"implausible bar", flag(mk(100, 101, 130, 100), 2, quote.FlagImplausible), nil, []Alert{
			alert(2, 101, 130, "implausible bar (open 130 high 130 low 130 close 130) left out of the bars: "+
				"a price more than 20% from the median close of the 5 bars before it and of the 5 after it"),
		}},
		{"implausible first bar", flag(mk(130, 100), 0, quote.FlagImplausible), nil, []Alert{
			{Day: day(2020, 11, 27), TS: base, Symbol: "SPY", Close: 130,
				Reason: "implausible bar (open 130 high 130 low 130 close 130) left out of the bars: " +
					"a price more than 20% from the median close of the 5 bars before it and of the 5 after it"},
		}},
		{"a flagged tick makes no alert", flag(ticks(mk(100, 101, 130, 100)), 2, quote.FlagOffMedian), nil, nil},
	}
	for _, tt := range tests {
		got := DetectMoves(tt.qs, tt.prev, 20)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

// Issue 15, defect 5: three minutes of volume 4e18 summed to a negative 5m
// volume. The sum saturates instead.
func TestComputeBarsVolumeSaturates(t *testing.T) {
	base := et(2020, 1, 6, 9, 30)
	var qs []quote.Quote
	for i := range 3 {
		qs = append(qs, q("SPY", base.Add(time.Duration(i)*time.Minute), 10, 10, 10, 10, 4_000_000_000_000_000_000))
	}
	bars := ComputeBars(qs, Interval5m)
	if len(bars) != 1 || bars[0].Volume != math.MaxInt64 {
		t.Fatalf("5m bars %+v; want one with volume %d", bars, int64(math.MaxInt64))
	}
	if math.IsInf(bars[0].VWAP, 0) || math.IsNaN(bars[0].VWAP) || bars[0].VWAP <= 0 {
		t.Errorf("VWAP %v; want a finite positive value", bars[0].VWAP)
	}
}

// flag returns qs with qs[i].Flag = f.
func flag(qs []quote.Quote, i int, f string) []quote.Quote {
	qs = slices.Clone(qs)
	qs[i].Flag = f
	return qs
}

// ticks returns qs as trade ticks.
func ticks(qs []quote.Quote) []quote.Quote {
	qs = slices.Clone(qs)
	for i := range qs {
		qs[i].Kind = quote.KindTrade
	}
	return qs
}

// A daily bar is told by its source: quote.Quote carries no interval.
func TestIsDailyBar(t *testing.T) {
	bar := func(src string) quote.Quote {
		return quote.Quote{Symbol: "SPY", TS: et(2024, 1, 2, 9, 30), Close: 1, Source: src}
	}
	tick := bar("replay:daily-csv")
	tick.Kind = quote.KindTrade
	tests := []struct {
		q    quote.Quote
		want bool
	}{
		{bar("replay:daily-csv"), true},
		{bar("replay:lean-daily"), true},
		{bar("alphavantage:global"), true},
		{bar("replay:intraday-csv"), false},
		{bar("replay:lean"), false},
		{bar("yahoo"), false},
		{bar("alphavantage"), false},
		{bar("synthetic"), false},
		{bar(""), false},
		{tick, false},
	}
	for _, tt := range tests {
		if got := IsDailyBar(tt.q); got != tt.want {
			t.Errorf("IsDailyBar(source %q, kind %q) = %v; want %v", tt.q.Source, tt.q.Kind, got, tt.want)
		}
	}
}

// The contract with package quote: the bars a daily CSV (Yahoo's download)
// is read into are daily bars, an intraday CSV's are not.
func TestIsDailyBarOfCSVFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	daily := write("spy-daily.csv", "Date,Open,High,Low,Close,Adj Close,Volume\n"+
		"2024-01-02,472.16,473.67,470.49,472.65,466.7,123623700\n"+
		"2024-01-03,470.43,471.19,468.17,468.79,462.9,103585900\n")
	intraday := write("spy-minute.csv", "time,open,high,low,close,volume\n"+
		"2024-01-02 09:30:00,472.16,472.5,472.0,472.3,100\n"+
		"2024-01-02 09:31:00,472.3,472.6,472.1,472.4,200\n")
	qs, err := quote.ReadFile(daily, "SPY")
	if err != nil || len(qs) != 2 {
		t.Fatalf("daily CSV: %d bars, %v", len(qs), err)
	}
	for i, x := range qs {
		if want := et(2024, 1, 2+i, 9, 30); !IsDailyBar(x) || !x.TS.Equal(want) {
			t.Errorf("daily CSV bar %v (source %q): IsDailyBar %v; want true, at %v", x.TS, x.Source, IsDailyBar(x), want)
		}
	}
	if l := ComputeSeriesLatest(qs[1:], fp(qs[0].Close), []float64{qs[0].Close}, []int{2}, nil); l.SMA[2] != (472.65+468.79)/2 {
		t.Errorf("SMA2 of the two daily closes = %v; want %v", l.SMA[2], (472.65+468.79)/2)
	}
	qs, err = quote.ReadFile(intraday, "SPY")
	if err != nil || len(qs) != 2 {
		t.Fatalf("intraday CSV: %d bars, %v", len(qs), err)
	}
	for _, x := range qs {
		if IsDailyBar(x) {
			t.Errorf("intraday CSV bar %v (source %q) is a daily bar", x.TS, x.Source)
		}
	}
}

// dailyBars returns daily bars (Source "replay:daily-csv", 09:30 Eastern) of
// SPY with the given closes on consecutive days from 2024-01-02.
func dailyBars(cs ...float64) []quote.Quote {
	var qs []quote.Quote
	for i, c := range cs {
		x := q("SPY", et(2024, 1, 2+i, 9, 30), c, c, c, c, 1000)
		x.Source = "replay:daily-csv"
		qs = append(qs, x)
	}
	return qs
}

func TestComputeSeriesLatest(t *testing.T) {
	minutes := func(cs ...float64) []quote.Quote {
		var qs []quote.Quote
		for i, c := range cs {
			qs = append(qs, q("SPY", et(2024, 1, 2, 9, 30).Add(time.Duration(i)*time.Minute), c, c, c, c, 100))
		}
		return qs
	}
	today := func(c float64) []quote.Quote { return dailyBars(c) }
	ramp := []float64{50, 50, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10} // 13 earlier closes
	tests := []struct {
		name     string
		qs       []quote.Quote
		prev     *float64
		earlier  []float64
		sma, ema []int
		want     Latest
	}{
		// Closes 10..15: SMA3 = (13+14+15)/3, SMA6 = 12.5; SMA7 absent.
		// EMA1 is the last close. EMA3 (alpha 0.5, lookback 12 >= 6: all
		// closes): seed (10+11+12)/3 = 11, then 12, 13, 14.
		{"daily: over the days' closes", today(15), fp(14), []float64{10, 11, 12, 13, 14}, []int{3, 6, 7}, []int{1, 3, 7}, Latest{
			Symbol: "SPY", TS: et(2024, 1, 2, 9, 30), Price: 15, PrevClose: fp(14), DayChange: fp(1), DayChangePct: fp(100.0 / 14),
			SMA: map[int]float64{3: 14, 6: 12.5}, EMA: map[int]float64{1: 15, 3: 14}}},
		// 14 closes (50, 50, then twelve 10s): EMA3 runs over the last 12
		// only (all 10), so it is exactly 10; over all 14 it would still
		// carry the 50s (10.01...).
		{"daily: the EMA's lookback", today(10), fp(10), ramp, []int{3, 14}, []int{3}, Latest{
			Symbol: "SPY", TS: et(2024, 1, 2, 9, 30), Price: 10, PrevClose: fp(10), DayChange: fp(0), DayChangePct: fp(0),
			SMA: map[int]float64{3: 10, 14: 220.0 / 14}, EMA: map[int]float64{3: 10}}},
		{"daily: the first day", today(7), nil, nil, []int{1, 2}, []int{1, 2}, Latest{
			Symbol: "SPY", TS: et(2024, 1, 2, 9, 30), Price: 7, SMA: map[int]float64{1: 7}, EMA: map[int]float64{1: 7}}},
		// An intraday day ignores the daily closes: as ComputeLatest.
		{"intraday: the day's minutes", minutes(10, 11, 12, 13, 14), fp(12), []float64{1, 2, 3, 4, 5, 6}, []int{2, 3, 6}, []int{3}, Latest{
			Symbol: "SPY", TS: et(2024, 1, 2, 9, 34), Price: 14, PrevClose: fp(12), DayChange: fp(2), DayChangePct: fp(100.0 * 2 / 12),
			SMA: map[int]float64{2: 13.5, 3: 13}, EMA: map[int]float64{3: 13}}},
		// A daily bar and a minute bar on one day: not a day of daily bars.
		{"mixed day is intraday", append(today(20), minutes(0, 22)[1]), nil, []float64{1, 2, 3}, []int{2}, nil, Latest{
			Symbol: "SPY", TS: et(2024, 1, 2, 9, 31), Price: 22, SMA: map[int]float64{2: 21}, EMA: map[int]float64{}}},
		{"no quotes", nil, fp(1), []float64{1, 2}, []int{1}, []int{1}, Latest{}},
	}
	for _, tt := range tests {
		got := ComputeSeriesLatest(tt.qs, tt.prev, tt.earlier, tt.sma, tt.ema)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, fmtLatest(got), fmtLatest(tt.want))
		}
	}
	// ComputeLatest keeps the intraday rule for a daily bar: one close.
	if l := ComputeLatest(today(15), nil, []int{1, 3}, []int{3}); !reflect.DeepEqual(l.SMA, map[int]float64{1: 15}) || len(l.EMA) != 0 {
		t.Errorf("ComputeLatest of a daily bar: SMA %v EMA %v; want SMA {1: 15} only", l.SMA, l.EMA)
	}
}

// The daily closes a Writer keeps: every stored close on or after from,
// trimmed from the oldest, with the held days laid over them.
func TestDailyCloses(t *testing.T) {
	d := func(i int) time.Time { return day(2024, 1, 1).AddDate(0, 0, i) }
	h := &dailyCloses{closes: map[int64]float64{}}
	for i := range 6 {
		if !h.set(d(i), fp(float64(10+i)), 3) {
			t.Fatalf("set day %d refused", i)
		}
	}
	if got := lastBefore(h.closes, d(5), 3); !reflect.DeepEqual(got, []float64{12, 13, 14}) {
		t.Errorf("lastBefore(day 5, 3) = %v; want [12 13 14]", got)
	}
	if got := lastBefore(h.closes, d(9), 10); !reflect.DeepEqual(got, []float64{10, 11, 12, 13, 14, 15}) {
		t.Errorf("lastBefore(day 9, 10) = %v; want all six", got)
	}
	h.trim(4)
	if !h.from.Equal(d(2)) || len(h.closes) != 4 || h.covers(d(1)) || !h.covers(d(2)) {
		t.Fatalf("after trim(4): from %v, %d closes; want from day 2, 4 closes", h.from, len(h.closes))
	}
	if !h.set(d(0), fp(99), 3) || !reflect.DeepEqual(lastBefore(h.closes, d(9), 9), []float64{12, 13, 14, 15}) {
		t.Errorf("a day before from changed the closes: %v", lastBefore(h.closes, d(9), 9))
	}
	if !h.set(d(3), fp(30), 3) || !reflect.DeepEqual(lastBefore(h.closes, d(5), 2), []float64{30, 14}) {
		t.Errorf("a corrected close: lastBefore(day 5, 2) = %v; want [30 14]", lastBefore(h.closes, d(5), 2))
	}
	// Held days are laid over the stored closes, without changing them: a
	// new day, a changed close, a day that lost its close, one before from.
	st := &symState{days: map[int64]*dayState{}}
	hold := func(i int, c float64) {
		ds := &dayState{day: d(i), minutes: map[int64]*minute{}}
		if c > 0 {
			ds.minutes[0] = &minute{agg: agg{start: d(i), close: c, count: 1}}
		}
		st.days[d(i).Unix()] = ds
	}
	hold(6, 16)
	hold(5, 25)
	hold(4, 0)
	hold(1, 11)
	m, ok := h.merged(st, 3)
	if got := lastBefore(m, d(9), 9); !ok || !reflect.DeepEqual(got, []float64{12, 30, 25, 16}) {
		t.Errorf("merged = %v (whole %v); want [12 30 25 16], whole", got, ok)
	}
	if len(h.closes) != 4 || h.closes[d(4).Unix()] != 14 {
		t.Errorf("merged changed the stored closes: %v", h.closes)
	}
	if _, ok := h.merged(st, 5); ok {
		t.Errorf("merged with 4 closes reported 5 whole")
	}
	if !h.set(d(3), nil, 3) || len(h.closes) != 3 {
		t.Errorf("a day that lost its close: %d closes; want 3", len(h.closes))
	}
	if h.set(d(4), nil, 3) {
		t.Errorf("fewer than keep closes on or after from: set reported the closes still whole")
	}
}
