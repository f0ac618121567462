package quote

import (
	"strings"
	"time"
)

// TradingNow reports whether quotes of a symbol fed by the source spec
// (as for New: "replay:...", "synthetic...", "yahoo", "alphavantage") are
// expected at now: always for a source without trading hours (a replay, the
// synthetic source, or an unknown spec), and during the US regular session
// (09:30 to 16:00 America/New_York, Monday to Friday; exchange holidays
// are not modelled) for the live HTTP sources. The monitoring pack's
// stale-quote alert uses it (stocksys_symbol_trading).
func TradingNow(spec string, now time.Time) bool {
	name := spec
	if i := strings.IndexAny(name, ":?"); i >= 0 {
		name = name[:i]
	}
	switch name {
	case "yahoo", "alphavantage":
	default:
		return true
	}
	t := now.In(Eastern)
	if t.Weekday() == time.Saturday || t.Weekday() == time.Sunday {
		return false
	}
	mins := t.Hour()*60 + t.Minute()
	return mins >= marketOpenHour*60+marketOpenMin && mins < 16*60
}
