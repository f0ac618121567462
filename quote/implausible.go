package quote

import (
	"math"
	"slices"
	"sort"
)

// FlagImplausible marks an intraday bar whose prices neither the bars before
// it nor the bars after it support (see FlagBars). Like the tick flags, it
// keeps the bar out of the bars, latest row and move alerts; the bar is
// still produced and stored, and the store records an alert for it.
const FlagImplausible = "implausible"

// The implausible-bar rule's parameters (FlagBars).
//
// BarMedianPct is 20%: a move beyond it is above the US market-wide circuit
// breaker (level 3, 20%) that halts trading for the day, and four times the
// 5% single-stock limit-up/limit-down band of the most traded stocks. A bar
// as far from both sides is a print the market around it did not trade.
const (
	BarNeighbours = 5  // bars on each side whose median close is the reference
	BarMedianPct  = 20 // percent of a reference a price may lie from it
)

// FlagBars marks implausible intraday bars (Flag = FlagImplausible) and
// returns how many it marked. The rule, per symbol over its unflagged
// intraday bars in time order (ticks, daily bars of a daily CSV or a Lean
// daily zip, Source "replay:daily-csv" or "replay:lean-daily", where a real
// day's move that reverts is common, and bars flagged already are left alone
// and are not neighbours):
//
//	before, after = median close of up to `neighbours` bars before / after
//	a bar is implausible when one of its open, high, low or close lies more
//	than pct percent from every reference it has (before, after, or both;
//	a lone bar has none and is never flagged)
//
// So a bad print (one bar, or fewer than half of the neighbours in a row)
// is flagged, and a real level change that the following bars confirm
// (a gap at the open, a split the data was not adjusted for, a crash that
// holds) is not: its prices lie near the after side. Its cost: a real move
// that reverts within `neighbours` bars is flagged too. A bar whose open is
// on one level and its low on another (the example: open 645.57, low 92.23
// across a 7:1 split, between bars at 92) is flagged by the price that
// neither side supports.
//
// qs need not be sorted or of one symbol; only Flag fields are written, and
// the result depends only on the input. O(n · neighbours · log neighbours).
func FlagBars(qs []Quote, neighbours int, pct float64) int {
	if neighbours < 1 || !(pct > 0) {
		return 0
	}
	bySym := map[string][]int{}
	var order []string
	for i := range qs {
		q := &qs[i]
		if q.IsTick() || q.Flag != "" || isDailyBar(*q) || !(q.Close > 0) || math.IsInf(q.Close, 0) {
			continue
		}
		if _, ok := bySym[q.Symbol]; !ok {
			order = append(order, q.Symbol)
		}
		bySym[q.Symbol] = append(bySym[q.Symbol], i)
	}
	n := 0
	for _, s := range order {
		idx := bySym[s]
		sort.SliceStable(idx, func(a, b int) bool { return qs[idx[a]].TS.Before(qs[idx[b]].TS) })
		closes := make([]float64, len(idx))
		for k, i := range idx {
			closes[k] = qs[i].Close
		}
		var bad []int
		for k, i := range idx {
			var refs []float64
			if k > 0 {
				refs = append(refs, median(closes[max(0, k-neighbours):k]))
			}
			if k+1 < len(idx) {
				refs = append(refs, median(closes[k+1:min(len(idx), k+1+neighbours)]))
			}
			if len(refs) > 0 && unsupported(qs[i], refs, pct) {
				bad = append(bad, i)
			}
		}
		for _, i := range bad { // flagged after the pass: the rule reads the input only
			qs[i].Flag = FlagImplausible
			n++
		}
	}
	return n
}

// unsupported reports whether one of q's prices lies more than pct percent
// from every reference.
func unsupported(q Quote, refs []float64, pct float64) bool {
	for _, p := range []float64{q.Open, q.High, q.Low, q.Close} {
		far := true
		for _, m := range refs {
			if math.Abs(p-m) <= pct/100*m {
				far = false
				break
			}
		}
		if far {
			return true
		}
	}
	return false
}

// median of xs (not empty); xs is not modified.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}
