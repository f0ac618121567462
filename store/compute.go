package store

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/stock-system/stocksys/quote"
)

// Bar intervals. Windows are aligned in the instrument's exchange time zone
// (quote.Quote.Location: US/Eastern unless the quote names another zone).
const (
	Interval1m = "1m" // each minute; from ticks, or a minute file's bar itself
	Interval5m = "5m" // starts at :00, :05, ... of each exchange-local hour
	Interval1h = "1h" // starts at each whole exchange-local hour
	Interval1d = "1d" // starts at local midnight of the trading date in the exchange's zone
)

// Intervals lists the bar intervals the store maintains, shortest first.
var Intervals = []string{Interval1m, Interval5m, Interval1h, Interval1d}

// ValidInterval reports whether iv is one of Intervals.
func ValidInterval(iv string) bool { return slices.Contains(Intervals, iv) }

// Bar aggregates the 1-minute quotes or the ticks of one symbol over one
// window.
type Bar struct {
	Symbol   string    `json:"symbol"`
	Interval string    `json:"interval"` // Interval1m, Interval5m, Interval1h or Interval1d
	Day      time.Time `json:"day"`      // trading date in the exchange's zone as midnight UTC, as quote.Day
	// TS is the window start, UTC. For 1d bars it is local midnight of the
	// trading date in the exchange's zone (US/Eastern: 04:00 or 05:00 UTC;
	// Asia/Jakarta: 17:00 UTC of the day before; UTC: 00:00), not the first
	// quote's time.
	TS     time.Time `json:"ts"`
	Open   float64   `json:"open"`   // first quote's open, or first tick's price (dollars)
	High   float64   `json:"high"`   // highest high
	Low    float64   `json:"low"`    // lowest low
	Close  float64   `json:"close"`  // last quote's close, or last tick's price
	Volume int64     `json:"volume"` // sum of volumes (shares)
	// VWAP is sum(close*volume)/sum(volume): for ticks the exact
	// volume-weighted average price, for minute bars the closes standing in
	// for the typical price of each minute. When Volume is 0 it is the plain
	// average of the closes.
	VWAP  float64 `json:"vwap"`
	Count int     `json:"count"` // number of distinct quotes or ticks in the window
}

// Latest is the newest state of one symbol, computed from its latest trading
// day in the store.
type Latest struct {
	Symbol string    `json:"symbol"`
	TS     time.Time `json:"ts"`    // the last quote's TS (bar start) or last tick's time, UTC
	Price  float64   `json:"price"` // the last quote's close or last tick's price
	// PrevClose is the last close of the previous trading day present in the
	// store; nil if there is none. DayChange = Price-PrevClose and
	// DayChangePct = 100*DayChange/PrevClose are nil with it (and the
	// percentage also when PrevClose is 0).
	PrevClose    *float64 `json:"prev_close"`
	DayChange    *float64 `json:"day_change"`
	DayChangePct *float64 `json:"day_change_pct"`
	// SMA and EMA follow the series' own interval (see IsDailyBar).
	//
	// Intraday series (the latest day's bars are minute bars or ticks): SMA
	// maps a window N to the mean of the day's last N 1-minute closes (the
	// closes of its 1m bars). EMA maps N to the exponential moving average
	// over the day's closes in time order, alpha = 2/(N+1), seeded with the
	// SMA of the first N. A window is absent while the day has fewer than N
	// minutes.
	//
	// Daily series (the latest day holds daily bars only): the closes are
	// daily closes, the close of each stored trading day's 1d bar, across
	// days and up to the latest day's. SMA N is the mean of the last N daily
	// closes; EMA N runs over the last DailyEMALookback*N daily closes (all
	// of them when fewer are stored), alpha = 2/(N+1), seeded with the SMA of
	// the first N of those. A window is absent while fewer than N days have
	// a close.
	SMA     map[int]float64 `json:"sma"`
	EMA     map[int]float64 `json:"ema"`
	Updated time.Time       `json:"updated"` // when the row was written (zero from ComputeLatest)
}

// Alert records a minute whose close moved more than the threshold from the
// previous minute's close (or, for a day's first minute, from the previous
// trading day's last close).
type Alert struct {
	Day       time.Time `json:"day"` // trading date of the minute
	TS        time.Time `json:"ts"`  // the minute's start (a minute file's bar TS)
	Symbol    string    `json:"symbol"`
	PrevClose float64   `json:"prev_close"`
	Close     float64   `json:"close"`
	MovePct   float64   `json:"move_pct"` // 100*(Close-PrevClose)/PrevClose, signed
	Reason    string    `json:"reason"`
}

// normalize returns the quotes sorted by (Symbol, Position) with duplicates
// of a (Symbol, Position) removed: of equal keys the one latest in qs wins,
// as a later write wins in Cassandra. qs is not modified.
func normalize(qs []quote.Quote) []quote.Quote {
	out := slices.Clone(qs)
	slices.SortStableFunc(out, func(a, b quote.Quote) int {
		return cmp.Or(cmp.Compare(a.Symbol, b.Symbol), a.Position().Compare(b.Position()))
	})
	n := 0
	for i := range out {
		if i+1 < len(out) && out[i+1].Symbol == out[i].Symbol && out[i+1].Position().Equal(out[i].Position()) {
			continue // a later copy follows
		}
		out[n] = out[i]
		n++
	}
	return out[:n]
}

// agg is the running aggregate of one window, what a Bar is made from. Quotes
// are added in Position order and windows merged in time order, so the
// floating-point sums are formed in one fixed order: the incremental path
// (Writer) and the offline functions below produce bit-identical bars.
type agg struct {
	start                  time.Time      // window start
	loc                    *time.Location // exchange zone of the window (nil: quote.Eastern)
	open, high, low, close float64
	volume                 int64
	pv, sumClose           float64   // sum(close*volume), sum(close)
	count                  int       // quotes counted
	lastTS                 time.Time // TS of the last quote counted
	daily                  bool      // every quote counted is a daily bar (IsDailyBar)
	// bad is the window's last bar (not tick) flagged by its source
	// (quote.FlagBars), not counted; nil if none. A minute holding only a
	// bad bar (count 0) gets an implausible-bar alert (see movesOf).
	bad *quote.Quote
}

// add counts q, which comes after every quote counted so far.
func (a *agg) add(q quote.Quote) {
	if a.count == 0 {
		a.open, a.high, a.low = q.Open, q.High, q.Low
	}
	a.high = max(a.high, q.High)
	a.low = min(a.low, q.Low)
	a.close = q.Close
	a.volume = satAdd(a.volume, q.Volume)
	a.pv += q.Close * float64(q.Volume)
	a.sumClose += q.Close
	a.daily = (a.count == 0 || a.daily) && IsDailyBar(q)
	a.count++
	a.lastTS = q.TS
}

// merge adds b, a window after every one merged so far.
func (a *agg) merge(b agg) {
	if b.count == 0 {
		return
	}
	if a.count == 0 {
		a.open, a.high, a.low = b.open, b.high, b.low
	}
	a.high = max(a.high, b.high)
	a.low = min(a.low, b.low)
	a.close = b.close
	a.volume = satAdd(a.volume, b.volume)
	a.pv += b.pv
	a.sumClose += b.sumClose
	a.daily = (a.count == 0 || a.daily) && b.daily
	a.count += b.count
	a.lastTS = b.lastTS
}

// satAdd returns x+y, saturated at the int64 range: a bar's volume never
// wraps around (validation bounds a quote's volume far below this).
func satAdd(x, y int64) int64 {
	s := x + y
	switch {
	case x > 0 && y > 0 && s < 0:
		return math.MaxInt64
	case x < 0 && y < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}

// zone returns a's exchange zone, quote.Eastern when unset.
func (a agg) zone() *time.Location {
	if a.loc == nil {
		return quote.Eastern
	}
	return a.loc
}

// bar returns a's Bar.
func (a agg) bar(symbol, interval string) Bar {
	// Windows never cross local midnight, so the start's date is the day.
	b := Bar{Symbol: symbol, Interval: interval, Day: quote.DayIn(a.start, a.zone()), TS: a.start,
		Open: a.open, High: a.high, Low: a.low, Close: a.close, Volume: a.volume, Count: a.count}
	if a.volume > 0 {
		b.VWAP = a.pv / float64(a.volume)
	} else if a.count > 0 {
		b.VWAP = a.sumClose / float64(a.count)
	}
	return b
}

// symbolMinutes is one symbol's 1-minute aggregates, in time order.
type symbolMinutes struct {
	symbol  string
	minutes []agg
}

// minuteAggs aggregates qs into 1-minute windows per symbol: normalized (see
// normalize), flagged quotes (Quote.Flag set) not counted, in Position order.
// A flagged bar still makes its minute (count 0 if nothing else counts in it)
// and is kept as its bad bar; a flagged tick is left out.
func minuteAggs(qs []quote.Quote) []symbolMinutes {
	var out []symbolMinutes
	for _, q := range normalize(qs) {
		if q.Flag != "" && q.IsTick() {
			continue
		}
		if n := len(out); n == 0 || out[n-1].symbol != q.Symbol {
			out = append(out, symbolMinutes{symbol: q.Symbol})
		}
		sm := &out[len(out)-1]
		start := WindowStart(q.TS, Interval1m)
		if n := len(sm.minutes); n == 0 || !sm.minutes[n-1].start.Equal(start) {
			sm.minutes = append(sm.minutes, agg{start: start, loc: q.Location()})
		}
		if m := &sm.minutes[len(sm.minutes)-1]; q.Flag != "" {
			m.bad = &q
		} else {
			m.add(q)
		}
	}
	return out
}

// barsOfMinutes merges one symbol's 1-minute aggregates (time order) into the
// bars of interval.
func barsOfMinutes(symbol string, minutes []agg, interval string) []Bar {
	var (
		out []Bar
		cur agg
	)
	for _, m := range minutes {
		if m.count == 0 {
			continue
		}
		start := WindowStartIn(m.start, interval, m.zone())
		if cur.count > 0 && !cur.start.Equal(start) {
			out = append(out, cur.bar(symbol, interval))
			cur = agg{}
		}
		if cur.count == 0 {
			cur.start, cur.loc = start, m.loc
		}
		cur.merge(m)
	}
	if cur.count > 0 {
		out = append(out, cur.bar(symbol, interval))
	}
	return out
}

// WindowStart is WindowStartIn in US/Eastern (quote.DefaultZone), the zone
// of a quote that names none.
func WindowStart(ts time.Time, interval string) time.Time {
	return WindowStartIn(ts, interval, quote.Eastern)
}

// WindowStartIn returns the start (UTC) of the interval window holding ts,
// aligned in the exchange zone loc (a quote's Location). 5m and 1h windows
// are found by subtracting the local minute-of-hour (and seconds) from the
// instant, so they stay right in the repeated hour when daylight saving time
// ends and in zones offset by a half hour; 1d windows start at local
// midnight of ts's trading date in loc (quote.DayIn). It panics on an
// unknown interval.
func WindowStartIn(ts time.Time, interval string, loc *time.Location) time.Time {
	local := ts.In(loc)
	intoHour := time.Duration(local.Minute())*time.Minute +
		time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
	switch interval {
	case Interval1m:
		return ts.Add(-(intoHour % time.Minute)).UTC()
	case Interval5m:
		return ts.Add(-(intoHour % (5 * time.Minute))).UTC()
	case Interval1h:
		return ts.Add(-intoHour).UTC()
	case Interval1d:
		y, m, d := local.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, loc).UTC()
	}
	panic("store: unknown interval " + interval)
}

// ComputeBars aggregates 1-minute quotes or ticks into bars of interval
// (one of Intervals; nil for any other). qs may be in any order, hold several
// symbols and contain duplicates (the last copy of a (Symbol, Position)
// counts once). Flagged ticks (Quote.Flag set) are left out. Each bar is
// formed from the 1-minute aggregates of its window, in time order, and each
// minute from its quotes in Position order. Bars come sorted by symbol, then
// TS. It is the specification the store's incremental analytics are tested
// against: their stored bars equal ComputeBars of the stored rows.
func ComputeBars(qs []quote.Quote, interval string) []Bar {
	if !ValidInterval(interval) {
		return nil
	}
	var bars []Bar
	for _, sm := range minuteAggs(qs) {
		bars = append(bars, barsOfMinutes(sm.symbol, sm.minutes, interval)...)
	}
	return bars
}

// dailySources are the quote sources whose bars are daily bars.
var dailySources = []string{"replay:daily-csv", "replay:lean-daily", "alphavantage:global"}

// DailyEMALookback bounds a daily series' EMA: an EMA of window N runs over
// the last DailyEMALookback*N daily closes, seeded with the SMA of the first
// N of them, so a Writer keeps a bounded number of closes and the value is a
// function of the last stored days, not of how far back the history goes.
// Over a full lookback the seed's weight in the result is (1-2/(N+1))^(3N),
// below e^-6 (0.25%) for every N.
const DailyEMALookback = 4

// IsDailyBar reports whether q is a daily bar (one bar per trading day, as
// Yahoo's download CSV gives them) rather than a minute bar or a tick:
// quote.Quote carries no bar interval, so the store tells a daily bar by its
// source. The daily sources are the replay of a daily CSV (quote.ReadCSV's
// date-only layout, Source "replay:daily-csv", each bar stamped 09:30
// US/Eastern of its date) or of a Lean daily zip ("replay:lean-daily",
// stamped the same way), and Alpha Vantage's GLOBAL_QUOTE
// ("alphavantage:global", the day's bar so far). A symbol's series is daily
// while its latest stored day holds daily bars only; its moving averages are
// then over daily closes (see Latest), its bars and alerts are formed as for
// any day (a daily bar is its day's one minute).
func IsDailyBar(q quote.Quote) bool { return !q.IsTick() && slices.Contains(dailySources, q.Source) }

// dailyDay reports whether a symbol-day's 1-minute aggregates (time order)
// hold daily bars only: at least one minute counted, and every counted one
// daily.
func dailyDay(minutes []agg) bool {
	n := 0
	for _, m := range minutes {
		if m.count > 0 {
			if !m.daily {
				return false
			}
			n++
		}
	}
	return n > 0
}

// ComputeLatest computes the latest row of one symbol from its quotes or
// ticks of one trading day (any order, duplicates allowed as in ComputeBars;
// flagged ticks left out) and the previous trading day's last close (nil if
// none). SMA and EMA are over the closes of the day's 1-minute bars (the
// rule of an intraday series; ComputeSeriesLatest applies the rule of the
// series' own interval); sma and ema are the window lengths (see Latest).
// With no (unflagged) quotes it returns the zero Latest. Updated is left
// zero.
func ComputeLatest(qs []quote.Quote, prevClose *float64, sma, ema []int) Latest {
	sms := minuteAggs(qs)
	if len(sms) == 0 {
		return Latest{}
	}
	return latestOf(sms[len(sms)-1].symbol, sms[len(sms)-1].minutes, prevClose, sma, ema)
}

// ComputeSeriesLatest computes the latest row of one symbol as the store
// does, by the rule of the series' interval (see Latest): qs are the quotes
// or ticks of its latest trading day, prevClose as for ComputeLatest, and
// earlier the daily closes of its stored days before that day that have one
// (the close of each day's 1d bar), oldest first; only the last few count,
// see DailyEMALookback. When the day holds daily bars only (IsDailyBar), SMA
// and EMA are over earlier followed by the day's own close; otherwise earlier
// is ignored and the result is ComputeLatest's. It is the specification the
// Writer's latest rows are tested against.
func ComputeSeriesLatest(qs []quote.Quote, prevClose *float64, earlier []float64, sma, ema []int) Latest {
	sms := minuteAggs(qs)
	if len(sms) == 0 {
		return Latest{}
	}
	sm := sms[len(sms)-1]
	if dailyDay(sm.minutes) {
		return dailyLatestOf(sm.symbol, sm.minutes, prevClose, earlier, sma, ema)
	}
	return latestOf(sm.symbol, sm.minutes, prevClose, sma, ema)
}

// dailyLatestOf is ComputeSeriesLatest on the 1-minute aggregates of a day
// of daily bars (time order, at least one counted).
func dailyLatestOf(symbol string, minutes []agg, prevClose *float64, earlier []float64, sma, ema []int) Latest {
	l := latestOf(symbol, minutes, prevClose, nil, nil)
	if l.TS.IsZero() {
		return l
	}
	closes := append(slices.Clone(earlier), l.Price)
	averages(&l, closes, sma, ema, DailyEMALookback)
	return l
}

// latestOf is ComputeLatest on one symbol-day's 1-minute aggregates (time
// order, at least one counted).
func latestOf(symbol string, minutes []agg, prevClose *float64, sma, ema []int) Latest {
	closes := make([]float64, 0, len(minutes))
	var last agg
	for _, m := range minutes {
		if m.count > 0 {
			closes = append(closes, m.close)
			last = m
		}
	}
	if len(closes) == 0 {
		return Latest{}
	}
	l := Latest{Symbol: symbol, TS: last.lastTS, Price: last.close,
		SMA: map[int]float64{}, EMA: map[int]float64{}}
	if prevClose != nil {
		p, ch := *prevClose, last.close-*prevClose
		l.PrevClose, l.DayChange = &p, &ch
		if p != 0 {
			pct := 100 * ch / p
			l.DayChangePct = &pct
		}
	}
	averages(&l, closes, sma, ema, 0)
	return l
}

// averages sets l.SMA and l.EMA over closes (time order): SMA N the mean of
// the last N; EMA N over the last lookback*N closes (all of them when
// lookback is 0 or there are fewer), alpha = 2/(N+1), seeded with the mean of
// the first N of those. A window of more than len(closes) is left out.
func averages(l *Latest, closes []float64, sma, ema []int, lookback int) {
	for _, n := range sma {
		if n >= 1 && n <= len(closes) {
			l.SMA[n] = mean(closes[len(closes)-n:])
		}
	}
	for _, n := range ema {
		if n >= 1 && n <= len(closes) {
			cs := closes
			if lookback > 0 && lookback*n < len(cs) {
				cs = cs[len(cs)-lookback*n:]
			}
			alpha := 2 / float64(n+1)
			e := mean(cs[:n])
			for _, c := range cs[n:] {
				e = alpha*c + (1-alpha)*e
			}
			l.EMA[n] = e
		}
	}
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// DetectMoves returns an Alert for every minute whose close (its 1m bar's
// close) moved more than thresholdPct percent (in absolute value) from the
// previous minute's close, and for the first minute from prevClose (the
// previous trading day's last close; nil means no comparison). qs is one
// symbol's quotes or ticks (any order, duplicates allowed as in ComputeBars;
// flagged ticks left out). A flagged minute still serves as the previous
// close of the next one, so a spike and its reversal are both flagged. A
// previous close of 0 flags nothing. For a minute file every quote is its own
// minute, so this compares each quote with the one before it.
//
// A minute whose only bar its source flagged (quote.FlagBars: an implausible
// print) gets an alert too, with that bar's close, the previous counted close
// (MovePct 0 when there is none or it is 0) and a Reason that says the bar was
// left out of the bars; it is not a previous close for the next minute, so a
// bad print and the return from it make one alert, not two.
func DetectMoves(qs []quote.Quote, prevClose *float64, thresholdPct float64) []Alert {
	var out []Alert
	for _, sm := range minuteAggs(qs) {
		out = append(out, movesOf(sm.symbol, sm.minutes, prevClose, thresholdPct)...)
	}
	return out
}

// movesOf is DetectMoves on one symbol's 1-minute aggregates (time order).
func movesOf(symbol string, minutes []agg, prevClose *float64, thresholdPct float64) []Alert {
	var out []Alert
	havePrev, prev := prevClose != nil, 0.0
	if havePrev {
		prev = *prevClose
	}
	for _, m := range minutes {
		if m.count == 0 {
			if m.bad != nil {
				out = append(out, implausible(symbol, m.start, m.zone(), *m.bad, havePrev, prev))
			}
			continue
		}
		if havePrev && prev != 0 {
			if a, ok := move(symbol, m.start, m.zone(), m.close, prev, thresholdPct); ok {
				out = append(out, a)
			}
		}
		havePrev, prev = true, m.close
	}
	return out
}

func move(symbol string, ts time.Time, loc *time.Location, close, prev, thresholdPct float64) (Alert, bool) {
	pct := 100 * (close - prev) / prev
	if !(math.Abs(pct) > thresholdPct) {
		return Alert{}, false
	}
	return Alert{Day: quote.DayIn(ts, loc), TS: ts, Symbol: symbol, PrevClose: prev, Close: close, MovePct: pct,
		Reason: fmt.Sprintf("close moved %+.2f%% from %g to %g (threshold %g%%)", pct, prev, close, thresholdPct)}, true
}

// implausible is the alert for a minute whose only bar, b, was flagged by its
// source; prev is the previous counted close if havePrev.
func implausible(symbol string, start time.Time, loc *time.Location, b quote.Quote, havePrev bool, prev float64) Alert {
	a := Alert{Day: quote.DayIn(start, loc), TS: start, Symbol: symbol, Close: b.Close}
	if havePrev && prev != 0 {
		a.PrevClose, a.MovePct = prev, 100*(b.Close-prev)/prev
	}
	a.Reason = fmt.Sprintf("%s bar (open %g high %g low %g close %g) left out of the bars: a price more than %d%% from the median close of the %d bars before it and of the %d after it",
		b.Flag, b.Open, b.High, b.Low, b.Close, quote.BarMedianPct, quote.BarNeighbours, quote.BarNeighbours)
	if b.Flag != quote.FlagImplausible {
		a.Reason = fmt.Sprintf("%s bar (open %g high %g low %g close %g) left out of the bars", b.Flag, b.Open, b.High, b.Low, b.Close)
	}
	return a
}
