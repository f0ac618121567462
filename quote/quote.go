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

// Quote is one OHLCV bar of one symbol.
//
// Prices are in the instrument's currency units (US dollars for US equities),
// Volume in shares. TS is the start of the bar, in UTC. Bid and Ask are nil when
// the source has no quote data. Source names the source that produced it, for
// example "replay:lean".
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
}

// Day returns the exchange's trading date of the bar: its date in US/Eastern
// time, as midnight UTC of that date (the form Cassandra's date type takes).
func (q Quote) Day() time.Time {
	y, m, d := q.TS.In(Eastern).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
