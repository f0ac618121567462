package quote

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/stock-system/stocksys/tasks"
)

// RejectReason is the machine-readable reason Validate refuses a quote, fit
// for a metric label (reject counts by reason).
type RejectReason string

// Reject reasons, in the order Validate checks them. The last group is only
// given by the file readers (ReadFileRejects, ReadLeanTickZip: a RowReject)
// for a line they cannot read, or a file they cannot read at all; the
// minute readers also give every reason of Validate (they call it on each
// row), the tick reader ReasonNonPositive, ReasonBadSize and ReasonBadSeq.
const (
	ReasonBadSymbol    RejectReason = "bad_symbol"          // tasks.ParseSymbol refuses the symbol, or it is not canonical (upper-case)
	ReasonBadKind      RejectReason = "bad_kind"            // Kind is neither KindBar ("") nor KindTrade
	ReasonBadZone      RejectReason = "bad_zone"            // TZ is not a zone LoadZone knows
	ReasonAncientTS    RejectReason = "ancient_ts"          // TS is before 1970-01-01 UTC (a zero time included)
	ReasonFutureTS     RejectReason = "future_ts"           // TS is after now + the allowed skew
	ReasonNaNPrice     RejectReason = "nan_price"           // a price (open, high, low, close, bid, ask) is NaN or infinite
	ReasonNonPositive  RejectReason = "non_positive_price"  // a price is zero or negative
	ReasonHighLow      RejectReason = "high_low_inverted"   // high < low
	ReasonOpenOutside  RejectReason = "open_out_of_range"   // open outside [low, high]
	ReasonCloseOutside RejectReason = "close_out_of_range"  // close outside [low, high]
	ReasonNegativeVol  RejectReason = "negative_volume"     // volume < 0
	ReasonPriceRange   RejectReason = "price_out_of_range"  // a price above MaxPrice
	ReasonVolumeRange  RejectReason = "volume_out_of_range" // volume above MaxVolume
	ReasonTickPrices   RejectReason = "tick_prices_differ"  // a tick's open, high, low and close are not one price
	ReasonBadSize      RejectReason = "bad_size"            // a tick's volume (trade size) is 0; reader: a size that is 0, negative, not an integer or above 2^31-1
	ReasonBadSeq       RejectReason = "bad_seq"             // a tick's Seq is outside 0..MaxSeq; reader: more than MaxSeq+1 ticks in one millisecond

	ReasonBadFields RejectReason = "bad_fields" // reader: too few or too many fields, an unreadable line, a suspicious flag other than 0 or 1
	ReasonBadTime   RejectReason = "bad_time"   // reader: a Lean time that is not an integer, negative, or not before midnight (>= 24h); a CSV time or date that does not parse
	ReasonBadPrice  RejectReason = "bad_price"  // reader: a price that is not a number (CSV) or not an integer (x 10000, Lean)
	ReasonBadVolume RejectReason = "bad_volume" // reader: a bar's volume that is not a number, not finite, or fractional (volume_out_of_range above int64)
	ReasonTimeZone  RejectReason = "time_zone"  // reader: a time with a zone or offset in a CSV whose times have none (US/Eastern implied)
	ReasonBadFile   RejectReason = "bad_file"   // reader: a whole file that cannot be read (not a zip, bad header, I/O error); the replay leaves it out
)

// Plausibility bounds of Validate. MaxPrice is far above any listed price
// (Berkshire Hathaway class A trades near $7e5; a Bitcoin quote near $1e5) yet
// keeps every sum of prices times volumes finite: 1e9 * MaxVolume * 1e6
// quotes is 1e30, far below float64's 1.8e308. MaxVolume is above any day's
// volume of any instrument (SPY trades ~1e8 shares a day) and keeps a year of
// minute volumes far below int64's 9.2e18.
const (
	MaxPrice  = 1e9  // currency units
	MaxVolume = 1e13 // shares (contracts, units) in one bar or tick
)

// DefaultMaxSkew is how far in the future Validate lets a quote's TS be: two
// minutes, room for clock skew between the provider and this host.
const DefaultMaxSkew = 2 * time.Minute

// RejectError is the error Validate returns: the quote's symbol and time, the
// Reason and a message with the offending values. It matches ErrRejected
// with errors.Is.
type RejectError struct {
	Reason RejectReason
	Symbol string
	TS     time.Time
	Detail string // the offending values, e.g. "high 10 < low 11"
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("quote: rejected %q at %s: %s: %s", e.Symbol, e.TS.UTC().Format(time.RFC3339), e.Reason, e.Detail)
}

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectError) Is(target error) bool { return target == ErrRejected }

// Validate checks q with DefaultMaxSkew; see ValidateSkew.
func Validate(q Quote, now time.Time) error { return ValidateSkew(q, now, DefaultMaxSkew) }

// ValidateSkew checks q before it is produced: a canonical valid symbol
// (tasks.ParseSymbol), a known Kind, a TZ LoadZone knows (or none), 1970 <= TS <= now+maxSkew, finite
// positive prices up to MaxPrice (open, high, low, close, and bid and ask
// when set), low <= open, close <= high, and 0 <= volume <= MaxVolume. It is
// applied at the source (fetch) and again at ingest (stream.Config.Validate),
// where a message failing it is dead-lettered. A tick (IsTick) must also have open
// = high = low = close (ReasonTickPrices), volume > 0 (ReasonBadSize; a
// negative volume is ReasonNegativeVol) and 0 <= Seq <= MaxSeq
// (ReasonBadSeq). It returns nil or a *RejectError for the first failed
// check, in the order of the RejectReason constants. A crossed market (bid >
// ask) is not refused: it happens in real quote data. Bars are checked as
// before ticks existed (Seq, Exchange, Condition and Flag are not looked at).
//
// It is pure and safe for concurrent use.
func ValidateSkew(q Quote, now time.Time, maxSkew time.Duration) error {
	rej := func(r RejectReason, format string, args ...any) error {
		return &RejectError{Reason: r, Symbol: q.Symbol, TS: q.TS, Detail: fmt.Sprintf(format, args...)}
	}
	if s, err := tasks.ParseSymbol(q.Symbol); err != nil {
		return rej(ReasonBadSymbol, "%v", err)
	} else if string(s) != q.Symbol {
		return rej(ReasonBadSymbol, "symbol %q is not canonical (want %q)", q.Symbol, s)
	}
	if q.Kind != KindBar && q.Kind != KindTrade {
		return rej(ReasonBadKind, "kind %q (want %q or %q)", q.Kind, KindBar, KindTrade)
	}
	if _, err := LoadZone(q.TZ); err != nil {
		return rej(ReasonBadZone, "tz %q is not an IANA time zone name", q.TZ)
	}
	if q.TS.Before(time.Unix(0, 0)) {
		return rej(ReasonAncientTS, "ts %s before 1970-01-01", q.TS.UTC().Format(time.RFC3339))
	}
	if limit := now.Add(maxSkew); q.TS.After(limit) {
		return rej(ReasonFutureTS, "ts %s after now %s + skew %s",
			q.TS.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), maxSkew)
	}
	type price struct {
		name string
		v    float64
	}
	prices := []price{{"open", q.Open}, {"high", q.High}, {"low", q.Low}, {"close", q.Close}}
	if q.Bid != nil {
		prices = append(prices, price{"bid", *q.Bid})
	}
	if q.Ask != nil {
		prices = append(prices, price{"ask", *q.Ask})
	}
	for _, p := range prices {
		if math.IsNaN(p.v) || math.IsInf(p.v, 0) {
			return rej(ReasonNaNPrice, "%s %v not finite", p.name, p.v)
		}
	}
	for _, p := range prices {
		if p.v <= 0 {
			return rej(ReasonNonPositive, "%s %v <= 0", p.name, p.v)
		}
	}
	for _, p := range prices {
		if p.v > MaxPrice {
			return rej(ReasonPriceRange, "%s %v above the plausible maximum %g", p.name, p.v, float64(MaxPrice))
		}
	}
	if q.High < q.Low {
		return rej(ReasonHighLow, "high %v < low %v", q.High, q.Low)
	}
	if q.Open < q.Low || q.Open > q.High {
		return rej(ReasonOpenOutside, "open %v outside [low %v, high %v]", q.Open, q.Low, q.High)
	}
	if q.Close < q.Low || q.Close > q.High {
		return rej(ReasonCloseOutside, "close %v outside [low %v, high %v]", q.Close, q.Low, q.High)
	}
	if q.Volume < 0 {
		return rej(ReasonNegativeVol, "volume %d < 0", q.Volume)
	}
	if q.Volume > MaxVolume {
		return rej(ReasonVolumeRange, "volume %d above the plausible maximum %g", q.Volume, float64(MaxVolume))
	}
	if !q.IsTick() {
		return nil
	}
	if q.Open != q.High || q.Open != q.Low || q.Open != q.Close {
		return rej(ReasonTickPrices, "tick open %v high %v low %v close %v not one price", q.Open, q.High, q.Low, q.Close)
	}
	if q.Volume == 0 {
		return rej(ReasonBadSize, "tick volume 0")
	}
	if q.Seq < 0 || q.Seq > MaxSeq {
		return rej(ReasonBadSeq, "tick seq %d outside 0..%d", q.Seq, MaxSeq)
	}
	return nil
}

// ReasonOf returns the RejectReason of a Validate error (also when wrapped),
// or "" when err is not a *RejectError.
func ReasonOf(err error) RejectReason {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}
