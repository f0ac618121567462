package quote

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// DefaultZone is the exchange time zone of a quote that names none
// (Quote.TZ empty) and of a symbol whose source spec sets no tz= option:
// America/New_York, the zone of US equities and of every file layout read
// here (Lean, Alpha Vantage and Yahoo CSVs give US/Eastern wall times).
const DefaultZone = "America/New_York"

// zones caches LoadZone's locations by name: time.LoadLocation parses the
// embedded database on every call.
var zones sync.Map // string -> *time.Location

// LoadZone returns the location of an exchange time zone: Eastern for ""
// and DefaultZone, else the IANA zone of that name ("Asia/Jakarta", "UTC",
// "Europe/London"), from the embedded database (time/tzdata), cached.
// "Local" is refused (it would depend on the host). Errors wrap ErrBadZone
// and quote the name. Safe for concurrent use.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == DefaultZone {
		return Eastern, nil
	}
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "Local" || strings.TrimSpace(name) != name {
		return nil, fmt.Errorf("%w %q: want an IANA zone name such as Asia/Jakarta or UTC", ErrBadZone, name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%w %q: want an IANA zone name such as Asia/Jakarta or UTC (%v)", ErrBadZone, name, err)
	}
	zones.Store(name, loc)
	return loc, nil
}

// Location returns the exchange time zone of q: LoadZone(q.TZ), Eastern when
// TZ is empty. A TZ that LoadZone refuses also gives Eastern; Validate
// refuses such a quote (ReasonBadZone) before it is produced or ingested.
func (q Quote) Location() *time.Location {
	if q.TZ == "" {
		return Eastern
	}
	loc, err := LoadZone(q.TZ)
	if err != nil {
		return Eastern
	}
	return loc
}

// DayIn returns the trading date of the instant ts in the exchange zone
// loc, as midnight UTC of that date (the form Cassandra's date type takes):
// the calendar date of ts in loc. Quote.Day is DayIn(q.TS, q.Location()).
func DayIn(ts time.Time, loc *time.Location) time.Time {
	y, m, d := ts.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Hours are a symbol's trading hours in its exchange zone (the spec's tz=,
// DefaultZone without it), as the hours= option of a source spec gives them
// (see ParseHours). The zero value is the default: the US regular session
// for the live HTTP sources, always for the others (see Spec.TradingAt).
type Hours struct {
	// AllDay: the instrument trades around the clock, every day (hours=24x7:
	// crypto currencies). Its trading day is still the calendar day in its
	// zone.
	AllDay bool
	// Open and Close are the session's local times of day, minutes after
	// midnight (Open < Close), Monday to Friday; both 0 when not set.
	Open, Close int
}

// String returns h in the form ParseHours reads ("" for the zero Hours).
func (h Hours) String() string {
	switch {
	case h.AllDay:
		return HoursAllDay
	case h.Open == 0 && h.Close == 0:
		return ""
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", h.Open/60, h.Open%60, h.Close/60, h.Close%60)
}

// HoursAllDay is the hours= value of a 24/7 instrument.
const HoursAllDay = "24x7"

// ParseHours parses an hours= option: "24x7" (around the clock, every day)
// or "HH:MM-HH:MM" (a session Monday to Friday in the symbol's zone, open
// before close, e.g. 09:00-16:00); "" is the zero Hours. Errors wrap
// ErrBadSpec and quote the input.
func ParseHours(s string) (Hours, error) {
	if s == "" {
		return Hours{}, nil
	}
	if s == HoursAllDay {
		return Hours{AllDay: true}, nil
	}
	bad := fmt.Errorf("%w: hours %q: want %s or HH:MM-HH:MM (Monday to Friday in the symbol's tz), e.g. 09:00-16:00", ErrBadSpec, s, HoursAllDay)
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return Hours{}, bad
	}
	open, err1 := time.Parse("15:04", a)
	closing, err2 := time.Parse("15:04", b)
	if err1 != nil || err2 != nil || len(a) != 5 || len(b) != 5 {
		return Hours{}, bad
	}
	h := Hours{Open: open.Hour()*60 + open.Minute(), Close: closing.Hour()*60 + closing.Minute()}
	if h.Open >= h.Close {
		return Hours{}, bad
	}
	return h, nil
}

// zoned is a Source whose quotes without a zone of their own (Quote.TZ
// empty: the source does not say) get the spec's tz (see NewFromSpec).
type zoned struct {
	Source
	tz string
}

// Fetch implements Source: the wrapped Fetch, every quote without a TZ given
// tz. The slice returned by the wrapped source is its own (no source shares
// it), so it is changed in place.
func (z zoned) Fetch(ctx context.Context, symbol string, after time.Time) ([]Quote, error) {
	qs, err := z.Source.Fetch(ctx, symbol, after)
	for i := range qs {
		if qs[i].TZ == "" {
			qs[i].TZ = z.tz
		}
	}
	return qs, err
}

// Unwrap returns the source the spec's tz= option wraps (NewFromSpec wraps a
// source only when the spec names a zone), or src itself.
func Unwrap(src Source) Source {
	if z, ok := src.(zoned); ok {
		return z.Source
	}
	return src
}
