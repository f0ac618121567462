package quote

import (
	"testing"
	"time"
)

func TestTradingNow(t *testing.T) {
	ny := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, Eastern) }
	for _, c := range []struct {
		spec string
		at   time.Time
		want bool
	}{
		{"yahoo", ny(2026, 12, 4, 9, 29), false},        // Friday, before the open
		{"yahoo", ny(2026, 12, 4, 9, 30), true},         // the open
		{"alphavantage", ny(2026, 12, 4, 15, 59), true}, // last minute
		{"yahoo", ny(2026, 12, 4, 16, 0), false},        // the close
		{"yahoo", ny(2026, 12, 5, 12, 0), false},        // Saturday
		{"yahoo", ny(2026, 7, 6, 9, 30).UTC(), true},    // EDT: 13:30 UTC
		{"yahoo", ny(2026, 12, 7, 9, 30).UTC(), true},   // EST: 14:30 UTC
		{"replay:/data/spy?speed=60", ny(2026, 12, 5, 3, 0), true},
		{"synthetic?seed=1", ny(2026, 12, 5, 3, 0), true},
	} {
		if got := TradingNow(c.spec, c.at); got != c.want {
			t.Errorf("TradingNow(%q, %v) = %v, want %v", c.spec, c.at, got, c.want)
		}
	}
}
