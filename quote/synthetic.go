package quote

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"time"
)

// SyntheticOrigin is the time of a synthetic source's bar 0. Bar k of a
// source at rate R spans [SyntheticOrigin + k/R s, SyntheticOrigin + (k+1)/R s).
var SyntheticOrigin = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Synthetic is the synthetic source: a seeded random walk of any symbol, one
// bar every 1/rate seconds. Bar k of a symbol is a pure function of (seed,
// symbol, rate, k), so two workers, or a worker after a restart, produce the
// same bars, and a resumed task continues the same path.
//
// The log price is a sum of 20 octaves of smoothed value noise, octave o
// having amplitude 0.0003*sqrt(2^o) (the scaling of a Brownian path), so
// prices move like a random walk over up to 2^20 bars yet stay within about
// 0.5x-2x of the symbol's base price (10 to 500, from the symbol's hash).
// Prices are rounded to cents; volume is 100 to 10,099.
//
// Bars are due once complete: bar k at SyntheticOrigin + (k+1)/rate. It is
// safe for concurrent use.
type Synthetic struct {
	seed   int64
	rate   float64
	period time.Duration
	clock  Clock
	max    int
}

// NewSynthetic returns a synthetic source. Errors wrap ErrBadSpec for a rate
// outside (0, MaxSyntheticRate].
func NewSynthetic(seed int64, rate float64, opts Options) (*Synthetic, error) {
	opts = opts.withDefaults()
	if !(rate > 0) || rate > MaxSyntheticRate {
		return nil, fmt.Errorf("%w: synthetic rate %v: want 0 < rate <= %g", ErrBadSpec, rate, MaxSyntheticRate)
	}
	return &Synthetic{seed: seed, rate: rate, period: time.Duration(float64(time.Second) / rate),
		clock: opts.Clock, max: opts.MaxBatch}, nil
}

// Bar returns bar k of symbol (k >= 0).
func (s *Synthetic) Bar(symbol string, k int64) Quote {
	key := s.key(symbol)
	base := 10 + float64(mix(key)%49001)/100 // 10.00 .. 500.00
	o := round2(base * math.Exp(s.logWalk(key, k)))
	c := round2(base * math.Exp(s.logWalk(key, k+1)))
	h := round2(math.Max(o, c) * (1 + 0.0005*unit(mix(key^uint64(k)*0x9e3779b97f4a7c15^1))))
	l := round2(math.Min(o, c) * (1 - 0.0005*unit(mix(key^uint64(k)*0x9e3779b97f4a7c15^2))))
	return Quote{Symbol: symbol, TS: SyntheticOrigin.Add(time.Duration(k) * s.period),
		Open: o, High: h, Low: l, Close: c,
		Volume: 100 + int64(mix(key^uint64(k)*0x9e3779b97f4a7c15^3)%10000), Source: "synthetic"}
}

func (s *Synthetic) key(symbol string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", s.seed, symbol)
	return h.Sum64()
}

// logWalk is the log-price offset at lattice point k.
func (s *Synthetic) logWalk(key uint64, k int64) float64 {
	var sum float64
	for o := 0; o < 20; o++ {
		cell := k >> o
		frac := float64(k-cell<<o) / float64(int64(1)<<o)
		a := noise(key, o, cell)
		b := noise(key, o, cell+1)
		t := frac * frac * (3 - 2*frac) // smoothstep
		sum += 0.0003 * math.Sqrt(float64(int64(1)<<o)) * (a + (b-a)*t)
	}
	return sum
}

// noise is a value in [-1, 1) for lattice point cell of octave o.
func noise(key uint64, o int, cell int64) float64 {
	return 2*unit(mix(key^uint64(o)<<56^uint64(cell)*0xbf58476d1ce4e5b9)) - 1
}

// mix is the splitmix64 finaliser.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// unit maps x to [0, 1).
func unit(x uint64) float64 { return float64(x>>11) / (1 << 53) }

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// index returns the bar whose span holds t (floor), which may be negative.
func (s *Synthetic) index(t time.Time) int64 {
	d := t.Sub(SyntheticOrigin)
	k := int64(d / s.period)
	if d < 0 && d%s.period != 0 {
		k--
	}
	return k
}

// Fetch implements Source: the complete bars after `after` (from the bar in
// progress's predecessor when after is zero), blocking on the Clock until at
// least one is complete.
func (s *Synthetic) Fetch(ctx context.Context, symbol string, after time.Time) ([]Quote, error) {
	for {
		now := s.clock.Now()
		last := s.index(now) - 1 // the latest complete bar
		first := last
		if !after.IsZero() {
			first = s.index(after) + 1 // the first bar with TS > after
		}
		first = max(first, 0)
		if first <= last {
			n := min(last-first+1, int64(s.max))
			out := make([]Quote, n)
			for i := range out {
				out[i] = s.Bar(symbol, first+int64(i))
			}
			return out, nil
		}
		due := SyntheticOrigin.Add(time.Duration(first+1) * s.period)
		if err := s.clock.Sleep(ctx, due.Sub(now)); err != nil {
			return nil, err
		}
	}
}
