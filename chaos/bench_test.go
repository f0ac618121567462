package chaos

import (
	"testing"
	"time"
)

// TestLargestGap: the paced wait (write-time distance less the bar-time
// distance divided by the replay speed) of pairs overlapping the window for
// LargestGap, of pairs inside it for LargestGapWithin.
func TestLargestGap(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	bar := time.Date(2020, 11, 23, 10, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	// Speed 2400: one bar minute is 25 ms of replay.
	wt := map[string][]Stored{
		"MSFT": {
			{TS: bar, Written: ms(0)},
			{TS: bar.Add(time.Minute), Written: ms(100)},     // wait 100-25 = 75
			{TS: bar.Add(2 * time.Minute), Written: ms(600)}, // wait 500-25 = 475 (the fault)
			{TS: bar.Add(3 * time.Minute), Written: ms(630)}, // 5
		},
		"SPY": {
			{TS: bar, Written: ms(0)},
			{TS: bar.Add(4 * time.Minute), Written: ms(300)}, // 300-100 = 200
		},
	}
	speeds := map[string]float64{"MSFT": 2400, "SPY": 2400}
	cases := []struct {
		name     string
		within   bool
		from, to int
		want     time.Duration
		sym      string
	}{
		{"overlap: the fault's wait", false, 150, 700, 475 * time.Millisecond, "MSFT"},
		{"overlap ending before the fault", false, 0, 90, 200 * time.Millisecond, "SPY"},
		{"within: the fault's wait starts inside but ends after", true, 0, 590, 200 * time.Millisecond, "SPY"},
		{"within: only the first pair", true, 0, 120, 75 * time.Millisecond, "MSFT"},
		{"within: nothing", true, 10, 90, 0, ""},
	}
	for _, c := range cases {
		f := LargestGap
		if c.within {
			f = LargestGapWithin
		}
		got, sym := f(wt, speeds, ms(c.from), ms(c.to))
		if got != c.want || sym != c.sym {
			t.Errorf("%s: got %v %q, want %v %q", c.name, got, sym, c.want, c.sym)
		}
	}
}
