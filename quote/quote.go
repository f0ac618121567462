package quote

import (
	"time"
	_ "time/tzdata" // America/New_York without host zoneinfo (static binaries, containers)
)

// Eastern is the exchange time zone of US equities (America/New_York), in
// which the source files give their times.
var Eastern = mustLoad("America/New_York")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic("quote: load time zone " + name + ": " + err.Error())
	}
	return loc
}

// Kind tells a bar from a tick (Quote.Kind).
type Kind string

const (
	// KindBar is an OHLCV bar (the zero Kind): a 1-minute bar of a minute
	// file or provider, or a daily bar.
	KindBar Kind = ""
	// KindTrade is one trade tick: Open = High = Low = Close = the trade
	// price, Volume = the trade size. Quote ticks (bid/ask) are folded into
	// the trades: Bid and Ask of a trade tick are the prevailing best bid and
	// ask at that trade (see ReadLeanTickZip).
	KindTrade Kind = "trade"
)

// Tick flags: why a tick is excluded from bars (Quote.Flag). A flagged tick
// is still produced and stored; only the bars, latest row and alerts leave
// it out.
const (
	// FlagSuspicious: the data vendor marked the tick bad (Lean's
	// `suspicious` column is 1).
	FlagSuspicious = "suspicious"
	// FlagOffMedian: the price lies more than TickMedianPct percent from the
	// median of the previous TickMedianWindow trades, vendor-suspicious ones
	// left out (see FlagTicks).
	FlagOffMedian = "off_median"
)

// MaxSeq bounds Quote.Seq: a tick's sequence within its millisecond is
// below one million, so Position orders ticks without colliding with the
// next millisecond.
const MaxSeq = 999_999

// Quote is one OHLCV bar, or one trade tick (Kind KindTrade), of one symbol.
//
// Prices are in the instrument's currency units (US dollars for US equities),
// Volume in shares. TS is the start of the bar, or the tick's time, in UTC
// (ticks have millisecond precision). Bid and Ask are nil when the source has
// no quote data. Source names the source that produced it, for example
// "replay:lean".
//
// A tick is identified by (Symbol, TS, Seq): Seq numbers the ticks of one
// symbol that share TS's millisecond, 0, 1, 2 ... in source order, assigned
// by the source, so a replay or a failover produces the same keys again and
// no two trades of one millisecond overwrite each other. Bars have Seq 0.
type Quote struct {
	Symbol string    `json:"symbol"`
	TS     time.Time `json:"ts"`
	Open   float64   `json:"open"`
	High   float64   `json:"high"`
	Low    float64   `json:"low"`
	Close  float64   `json:"close"`
	Volume int64     `json:"volume"`
	Bid    *float64  `json:"bid,omitempty"`
	Ask    *float64  `json:"ask,omitempty"`
	Source string    `json:"source"`

	// Kind is KindBar (empty) or KindTrade.
	Kind Kind `json:"kind,omitempty"`
	// Seq is the tick's sequence within its millisecond (0..MaxSeq); 0 for
	// bars.
	Seq int32 `json:"seq,omitempty"`
	// Exchange and Condition are a trade tick's exchange code and sale
	// condition as the source gives them (Lean: "P", "20002000").
	Exchange  string `json:"exchange,omitempty"`
	Condition string `json:"condition,omitempty"`
	// Flag is empty for a good tick or bar, else why it is excluded from
	// bars: a tick's FlagSuspicious or FlagOffMedian (FlagTicks), an
	// intraday bar's FlagImplausible (FlagBars). The store keeps flagged
	// rows and alerts on a minute whose only bar is flagged.
	Flag string `json:"flag,omitempty"`
	// TZ is the IANA name of the instrument's exchange time zone
	// ("Asia/Jakarta", "UTC"), in which its trading day (Day) and its bars'
	// windows are reckoned; empty means DefaultZone (America/New_York). The
	// source sets it when it knows the zone (Yahoo's
	// meta.exchangeTimezoneName), else the spec's tz= option does (see
	// NewFromSpec); Validate refuses a name LoadZone does not know.
	TZ string `json:"tz,omitempty"`
}

// IsTick reports whether q is a tick rather than a bar.
func (q Quote) IsTick() bool { return q.Kind == KindTrade }

// Position is q's place in its symbol's stream: TS plus Seq nanoseconds.
// Positions are unique per (symbol, tick) and ordered as the source ordered
// the ticks; for a bar Position is TS. Fetch checkpoints and Source.Fetch's
// `after` are positions.
func (q Quote) Position() time.Time { return q.TS.Add(time.Duration(q.Seq)) }

// Day returns the exchange's trading date of the bar or tick: the calendar
// date of TS in the exchange's zone (Location: TZ, US/Eastern when empty), as
// midnight UTC of that date (the form Cassandra's date type takes). A 24/7
// instrument's trading day is its calendar day in its zone too (UTC for
// Yahoo's crypto currencies).
func (q Quote) Day() time.Time { return DayIn(q.TS, q.Location()) }
