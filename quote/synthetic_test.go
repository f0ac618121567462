package quote

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestSyntheticDeterministic(t *testing.T) {
	a, _ := NewSynthetic(42, 1, Options{})
	b, _ := NewSynthetic(42, 1, Options{})
	c, _ := NewSynthetic(43, 1, Options{})
	now := SyntheticOrigin.Add(10 * 365 * 24 * time.Hour)
	for _, k := range []int64{0, 1, 2, 1000, 1 << 20, 5e8} {
		if a.Bar("SPY", k) != b.Bar("SPY", k) {
			t.Fatalf("bar %d differs between equal seeds: %+v %+v", k, a.Bar("SPY", k), b.Bar("SPY", k))
		}
		if a.Bar("SPY", k).Close == a.Bar("MSFT", k).Close && a.Bar("SPY", k).Open == a.Bar("MSFT", k).Open {
			t.Errorf("bar %d equal for SPY and MSFT", k)
		}
		if a.Bar("SPY", k).Close == c.Bar("SPY", k).Close && a.Bar("SPY", k).Open == c.Bar("SPY", k).Open {
			t.Errorf("bar %d equal for seeds 42 and 43", k)
		}
		if want := SyntheticOrigin.Add(time.Duration(k) * time.Second); !a.Bar("SPY", k).TS.Equal(want) {
			t.Errorf("bar %d at %v; want %v", k, a.Bar("SPY", k).TS, want)
		}
	}
	// A walk: each bar opens at the previous close; all valid; moves small.
	for _, sym := range []string{"SPY", "MSFT", "BRK-B", "^GSPC"} {
		prev := a.Bar(sym, 0)
		for k := int64(1); k < 5000; k++ {
			q := a.Bar(sym, k)
			if err := Validate(q, now); err != nil {
				t.Fatalf("%s bar %d: %v", sym, k, err)
			}
			if q.Open != prev.Close {
				t.Fatalf("%s bar %d opens %v, previous closed %v", sym, k, q.Open, prev.Close)
			}
			// The largest relative change of open, high, low or close from
			// the previous close stays within 1%.
			move := 0.0
			for _, p := range []float64{q.Open, q.High, q.Low, q.Close} {
				if m := p/prev.Close - 1; math.Abs(m) > math.Abs(move) {
					move = m
				}
			}
			if math.Abs(move) > 0.01 {
				t.Fatalf("%s bar %d moves %v from the previous close %v", sym, k, move, prev.Close)
			}
			prev = q
		}
	}
}

func TestSyntheticFetch(t *testing.T) {
	clock := newFakeClock(SyntheticOrigin.Add(100*time.Second + 200*time.Millisecond))
	src, err := New("synthetic?seed=7&rate=2", Options{Clock: clock, MaxBatch: 50})
	if err != nil {
		t.Fatal(err)
	}
	s := src.(*Synthetic)
	ctx := context.Background()
	// No checkpoint: the latest complete bar, 199 (99.5 s), at once.
	qs, err := s.Fetch(ctx, "SPY", time.Time{})
	if err != nil || len(qs) != 1 || qs[0] != s.Bar("SPY", 199) || len(clock.Slept()) != 0 {
		t.Fatalf("first fetch %+v, %v, slept %v", qs, err, clock.Slept())
	}
	// Caught up: bar 200 completes at 100.5 s, 300 ms later.
	qs, err = s.Fetch(ctx, "SPY", qs[0].TS)
	if err != nil || len(qs) != 1 || qs[0] != s.Bar("SPY", 200) {
		t.Fatalf("next %+v, %v", qs, err)
	}
	if sl := clock.Slept(); len(sl) != 1 || sl[0] != 300*time.Millisecond {
		t.Fatalf("slept %v; want [300ms]", sl)
	}
	// Resume from an old checkpoint (bar 10's TS): bars 11.. in batches of
	// 50, none skipped, up to bar 200.
	after, next := s.Bar("SPY", 10).TS, int64(11)
	for next <= 200 {
		qs, err := s.Fetch(ctx, "SPY", after)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(50, 200-next+1); int64(len(qs)) != want {
			t.Fatalf("batch from %d: %d bars; want %d", next, len(qs), want)
		}
		for _, q := range qs {
			if q != s.Bar("SPY", next) {
				t.Fatalf("got %+v; want bar %d", q, next)
			}
			next++
		}
		after = qs[len(qs)-1].TS
	}
	// A checkpoint inside bar 150's span resumes at bar 151.
	qs, err = s.Fetch(ctx, "SPY", s.Bar("SPY", 150).TS.Add(100*time.Millisecond))
	if err != nil || qs[0] != s.Bar("SPY", 151) {
		t.Fatalf("mid-bar checkpoint: %+v, %v", qs[0], err)
	}
}
