package quote

import (
	"time"
)

// TradingNow reports whether quotes of a symbol fed by the source spec
// (as for New: "replay:...", "synthetic...", "yahoo", "alphavantage",
// "yahoo?tz=UTC&hours=24x7") are expected at now; see Spec.TradingAt. An
// unparsable spec counts as always trading. The monitoring pack's
// stale-quote alert uses it (stocksys_symbol_trading).
func TradingNow(spec string, now time.Time) bool {
	return TradingNowOptions(spec, nil, now)
}

// TradingNowOptions is TradingNow with the options of the symbol's
// document (`stocksys symbols add --option tz=... --option hours=...`), as
// ParseSpecOptions applies them; spec and options that do not parse count
// as always trading.
func TradingNowOptions(spec string, opts map[string]string, now time.Time) bool {
	s, err := ParseSpecOptions(spec, opts)
	if err != nil {
		return true
	}
	return s.TradingAt(now)
}

// US regular session, local time of day in minutes (09:30 to 16:00).
const (
	usOpenMin  = marketOpenHour*60 + marketOpenMin
	usCloseMin = 16 * 60
)

// TradingAt reports whether quotes of a symbol fed by s are expected at
// now, by its trading hours (s.Hours) in its exchange zone (s.TZ,
// DefaultZone without it):
//
//   - hours=24x7 (a 24/7 instrument such as a crypto currency): always, at
//     night and at weekends too.
//   - hours=HH:MM-HH:MM: Monday to Friday from the open (included) to the
//     close (excluded), local time in the zone.
//   - no hours: for the live HTTP sources (yahoo, alphavantage) the US
//     regular session, 09:30 to 16:00 Monday to Friday, local time in the
//     zone (America/New_York by default); for the sources without trading
//     hours (replay, synthetic) always.
//
// Exchange holidays and lunch breaks are not modelled. Pure; safe for
// concurrent use.
func (s Spec) TradingAt(now time.Time) bool {
	h := s.Hours
	switch {
	case h.AllDay:
		return true
	case h == Hours{}:
		if s.Kind != KindYahoo && s.Kind != KindAlphaVantage {
			return true
		}
		h = Hours{Open: usOpenMin, Close: usCloseMin}
	}
	loc, err := LoadZone(s.TZ)
	if err != nil {
		loc = Eastern
	}
	t := now.In(loc)
	if t.Weekday() == time.Saturday || t.Weekday() == time.Sunday {
		return false
	}
	mins := t.Hour()*60 + t.Minute()
	return mins >= h.Open && mins < h.Close
}
