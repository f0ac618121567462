package store

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/stock-system/stocksys/quote"
)

// Bar intervals. Windows are aligned in exchange time (US/Eastern).
const (
	Interval5m = "5m" // starts at :00, :05, ... of each Eastern hour
	Interval1h = "1h" // starts at each whole Eastern hour
	Interval1d = "1d" // starts at midnight Eastern of the trading date
)

// Intervals lists the bar intervals the store maintains, shortest first.
var Intervals = []string{Interval5m, Interval1h, Interval1d}

// ValidInterval reports whether iv is one of Intervals.
func ValidInterval(iv string) bool { return slices.Contains(Intervals, iv) }

// Bar aggregates the 1-minute quotes of one symbol over one window.
type Bar struct {
	Symbol   string    `json:"symbol"`
	Interval string    `json:"interval"` // Interval5m, Interval1h or Interval1d
	Day      time.Time `json:"day"`      // trading date (Eastern) as midnight UTC, as quote.Day
	// TS is the window start, UTC. For 1d bars it is midnight Eastern of the
	// trading date (04:00 or 05:00 UTC), not the first quote's time.
	TS     time.Time `json:"ts"`
	Open   float64   `json:"open"`   // first quote's open (dollars)
	High   float64   `json:"high"`   // highest high
	Low    float64   `json:"low"`    // lowest low
	Close  float64   `json:"close"`  // last quote's close
	Volume int64     `json:"volume"` // sum of volumes (shares)
	// VWAP is sum(close*volume)/sum(volume), the closes standing in for the
	// typical price of each minute. When Volume is 0 it is the plain average
	// of the closes.
	VWAP  float64 `json:"vwap"`
	Count int     `json:"count"` // number of distinct 1-minute quotes in the window
}

// Latest is the newest state of one symbol, computed from the 1-minute
// quotes of its latest trading day in the store.
type Latest struct {
	Symbol string    `json:"symbol"`
	TS     time.Time `json:"ts"`    // the last quote's TS (bar start, UTC)
	Price  float64   `json:"price"` // the last quote's close
	// PrevClose is the last close of the previous trading day present in the
	// store; nil if there is none. DayChange = Price-PrevClose and
	// DayChangePct = 100*DayChange/PrevClose are nil with it (and the
	// percentage also when PrevClose is 0).
	PrevClose    *float64 `json:"prev_close"`
	DayChange    *float64 `json:"day_change"`
	DayChangePct *float64 `json:"day_change_pct"`
	// SMA maps a window N to the mean of the day's last N closes. EMA maps N
	// to the exponential moving average over the day's closes in TS order,
	// alpha = 2/(N+1), seeded with the SMA of the first N closes. A window
	// is absent while the day has fewer than N quotes.
	SMA     map[int]float64 `json:"sma"`
	EMA     map[int]float64 `json:"ema"`
	Updated time.Time       `json:"updated"` // when the row was written (zero from ComputeLatest)
}

// Alert records a quote whose close moved more than the threshold from the
// previous close.
type Alert struct {
	Day       time.Time `json:"day"` // trading date of the quote
	TS        time.Time `json:"ts"`
	Symbol    string    `json:"symbol"`
	PrevClose float64   `json:"prev_close"`
	Close     float64   `json:"close"`
	MovePct   float64   `json:"move_pct"` // 100*(Close-PrevClose)/PrevClose, signed
	Reason    string    `json:"reason"`
}

// normalize returns the quotes sorted by (Symbol, TS) with duplicates of a
// (Symbol, TS) removed: of equal keys the one latest in qs wins, as a later
// write wins in Cassandra. qs is not modified.
func normalize(qs []quote.Quote) []quote.Quote {
	out := slices.Clone(qs)
	slices.SortStableFunc(out, func(a, b quote.Quote) int {
		return cmp.Or(cmp.Compare(a.Symbol, b.Symbol), a.TS.Compare(b.TS))
	})
	n := 0
	for i := range out {
		if i+1 < len(out) && out[i+1].Symbol == out[i].Symbol && out[i+1].TS.Equal(out[i].TS) {
			continue // a later copy follows
		}
		out[n] = out[i]
		n++
	}
	return out[:n]
}

// WindowStart returns the start (UTC) of the interval window holding ts,
// aligned in US/Eastern. 5m and 1h windows are found by subtracting the
// Eastern minute-of-hour (and seconds) from the instant, so they stay right
// in the repeated hour when daylight saving time ends; 1d windows start at
// Eastern midnight of ts's trading date. It panics on an unknown interval.
func WindowStart(ts time.Time, interval string) time.Time {
	local := ts.In(quote.Eastern)
	intoHour := time.Duration(local.Minute())*time.Minute +
		time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
	switch interval {
	case Interval5m:
		return ts.Add(-(intoHour % (5 * time.Minute))).UTC()
	case Interval1h:
		return ts.Add(-intoHour).UTC()
	case Interval1d:
		y, m, d := local.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, quote.Eastern).UTC()
	}
	panic("store: unknown interval " + interval)
}

// ComputeBars aggregates 1-minute quotes into bars of interval (Interval5m,
// Interval1h or Interval1d; nil for any other). qs may be in any order, hold
// several symbols and contain duplicates (the last copy of a (Symbol, TS)
// counts once). Bars come sorted by symbol, then TS. It is the function the
// store applies to the stored quotes, so its result on the source data equals
// the stored bars.
func ComputeBars(qs []quote.Quote, interval string) []Bar {
	if !ValidInterval(interval) {
		return nil
	}
	var (
		bars     []Bar
		cv, sumC float64 // sum(close*volume), sum(close)
	)
	finish := func() {
		b := &bars[len(bars)-1]
		if b.Volume > 0 {
			b.VWAP = cv / float64(b.Volume)
		} else {
			b.VWAP = sumC / float64(b.Count)
		}
	}
	for _, q := range normalize(qs) {
		start := WindowStart(q.TS, interval)
		if n := len(bars); n == 0 || bars[n-1].Symbol != q.Symbol || !bars[n-1].TS.Equal(start) {
			if n > 0 {
				finish()
			}
			bars = append(bars, Bar{Symbol: q.Symbol, Interval: interval, Day: q.Day(), TS: start,
				Open: q.Open, High: q.High, Low: q.Low})
			cv, sumC = 0, 0
		}
		b := &bars[len(bars)-1]
		b.High = max(b.High, q.High)
		b.Low = min(b.Low, q.Low)
		b.Close = q.Close
		b.Volume += q.Volume
		b.Count++
		cv += q.Close * float64(q.Volume)
		sumC += q.Close
	}
	if len(bars) > 0 {
		finish()
	}
	return bars
}

// ComputeLatest computes the latest row of one symbol from the 1-minute
// quotes of one trading day (any order, duplicates allowed as in
// ComputeBars) and the previous trading day's last close (nil if none). sma
// and ema are the window lengths (see Latest for the definitions). With no
// quotes it returns the zero Latest. Updated is left zero.
func ComputeLatest(qs []quote.Quote, prevClose *float64, sma, ema []int) Latest {
	qs = normalize(qs)
	if len(qs) == 0 {
		return Latest{}
	}
	last := qs[len(qs)-1]
	l := Latest{Symbol: last.Symbol, TS: last.TS, Price: last.Close,
		SMA: map[int]float64{}, EMA: map[int]float64{}}
	if prevClose != nil {
		p, ch := *prevClose, last.Close-*prevClose
		l.PrevClose, l.DayChange = &p, &ch
		if p != 0 {
			pct := 100 * ch / p
			l.DayChangePct = &pct
		}
	}
	closes := make([]float64, len(qs))
	for i, q := range qs {
		closes[i] = q.Close
	}
	for _, n := range sma {
		if n >= 1 && n <= len(closes) {
			l.SMA[n] = mean(closes[len(closes)-n:])
		}
	}
	for _, n := range ema {
		if n >= 1 && n <= len(closes) {
			alpha := 2 / float64(n+1)
			e := mean(closes[:n])
			for _, c := range closes[n:] {
				e = alpha*c + (1-alpha)*e
			}
			l.EMA[n] = e
		}
	}
	return l
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// DetectMoves returns an Alert for every quote whose close moved more than
// thresholdPct percent (in absolute value) from the previous close: the close
// of the quote before it in TS order, and for the first quote prevClose (the
// previous trading day's last close; nil means no comparison). qs is one
// symbol's quotes (any order, duplicates allowed as in ComputeBars). A flagged
// quote still serves as the previous close of the next one, so a spike and
// its reversal are both flagged. A previous close of 0 flags nothing.
func DetectMoves(qs []quote.Quote, prevClose *float64, thresholdPct float64) []Alert {
	var out []Alert
	havePrev, prev := prevClose != nil, 0.0
	if havePrev {
		prev = *prevClose
	}
	for _, q := range normalize(qs) {
		if havePrev && prev != 0 {
			if a, ok := move(q, prev, thresholdPct); ok {
				out = append(out, a)
			}
		}
		havePrev, prev = true, q.Close
	}
	return out
}

func move(q quote.Quote, prev, thresholdPct float64) (Alert, bool) {
	pct := 100 * (q.Close - prev) / prev
	if !(math.Abs(pct) > thresholdPct) {
		return Alert{}, false
	}
	return Alert{Day: q.Day(), TS: q.TS, Symbol: q.Symbol, PrevClose: prev, Close: q.Close, MovePct: pct,
		Reason: fmt.Sprintf("close moved %+.2f%% from %g to %g (threshold %g%%)", pct, prev, q.Close, thresholdPct)}, true
}
