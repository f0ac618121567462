package quote

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
)

// bars makes minute bars of symbol X from 2020-12-01 15:00 UTC, one per
// [open, high, low, close].
func minuteBars(prices ...[4]float64) []Quote {
	t0 := time.Date(2020, 12, 1, 15, 0, 0, 0, time.UTC)
	qs := make([]Quote, len(prices))
	for i, p := range prices {
		qs[i] = Quote{Symbol: "X", TS: t0.Add(time.Duration(i) * time.Minute), Open: p[0], High: p[1], Low: p[2], Close: p[3], Volume: 1, Source: "replay:intraday-csv"}
	}
	return qs
}

func flat(n int, p float64) [][4]float64 {
	out := make([][4]float64, n)
	for i := range out {
		out[i] = [4]float64{p, p * 1.001, p * 0.999, p}
	}
	return out
}

func cat(parts ...[][4]float64) [][4]float64 {
	var out [][4]float64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func flaggedAt(qs []Quote) []int {
	var out []int
	for i, q := range qs {
		if q.Flag != "" {
			out = append(out, i)
		}
	}
	return out
}

// TestFlagBarsRule: the cases the rule is for, each with the bars it must
// flag worked out by hand from the rule's statement.
func TestFlagBarsRule(t *testing.T) {
	for _, c := range []struct {
		name string
		bars [][4]float64
		want []int
	}{
		{"a bad print (x1.3) between steady bars", cat(flat(8, 100), [][4]float64{{130, 130, 130, 130}}, flat(8, 100)), []int{8}},
		{"two bad prints in a row", cat(flat(8, 100), [][4]float64{{70, 70, 70, 70}, {70, 71, 69, 70}}, flat(8, 100)), []int{8, 9}},
		{"only the low is bad (a wick to 50)", cat(flat(8, 100), [][4]float64{{100, 100, 50, 100}}, flat(8, 100)), []int{8}},
		{"the 7:1 split bar: open on the old level, low on the new, between new-level bars",
			cat(flat(8, 92.5), [][4]float64{{645.57, 645.57, 92.23, 92.4}}, flat(8, 92.5)), []int{8}},
		{"a level change the next bars confirm (a gap, an unadjusted split)", cat(flat(8, 645), flat(8, 92)), nil},
		{"a bar across the level change", cat(flat(8, 645), [][4]float64{{645, 645, 92, 92}}, flat(8, 92)), nil},
		{"a 19% bar is within the rule", cat(flat(8, 100), [][4]float64{{119, 119, 119, 119}}, flat(8, 100)), nil},
		{"the first bar, off from the bars after it", cat([][4]float64{{150, 150, 150, 150}}, flat(8, 100)), []int{0}},
		{"the last bar, off from the bars before it", cat(flat(8, 100), [][4]float64{{60, 60, 60, 60}}), []int{8}},
		{"a lone bar", [][4]float64{{1, 1000, 1, 1}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			qs := minuteBars(c.bars...)
			n := FlagBars(qs, BarNeighbours, BarMedianPct)
			got := flaggedAt(qs)
			if n != len(got) || !equalInts(got, c.want) {
				t.Errorf("flagged %v (n %d); want %v", got, n, c.want)
			}
			for _, i := range got {
				if qs[i].Flag != FlagImplausible {
					t.Errorf("bar %d flag %q; want %q", i, qs[i].Flag, FlagImplausible)
				}
			}
		})
	}
}

// TestFlagBarsLeavesOthersAlone: ticks, daily bars and bars already flagged
// are neither flagged nor neighbours; other symbols are their own series;
// the input order does not matter.
func TestFlagBarsLeavesOthersAlone(t *testing.T) {
	qs := minuteBars(cat(flat(6, 100), [][4]float64{{130, 130, 130, 130}}, flat(6, 100))...)
	daily := minuteBars(cat(flat(6, 100), [][4]float64{{130, 130, 130, 130}}, flat(6, 100))...)
	for i := range daily {
		daily[i].Symbol, daily[i].Source = "D", "replay:daily-csv"
	}
	tick := Quote{Symbol: "X", Kind: KindTrade, TS: qs[6].TS, Open: 500, High: 500, Low: 500, Close: 500, Volume: 1}
	pre := Quote{Symbol: "X", TS: qs[3].TS.Add(time.Second), Open: 900, High: 900, Low: 900, Close: 900, Volume: 1, Flag: FlagSuspicious}
	all := append(append(append([]Quote{tick, pre}, daily...), qs[7:]...), qs[:7]...) // shuffled
	if n := FlagBars(all, BarNeighbours, BarMedianPct); n != 1 {
		t.Fatalf("flagged %d; want 1 (X's 130 bar)", n)
	}
	for _, q := range all {
		want := ""
		switch {
		case q.Symbol == "X" && !q.IsTick() && q.Close == 130:
			want = FlagImplausible
		case q.Flag == FlagSuspicious:
			want = FlagSuspicious
		}
		if q.Flag != want {
			t.Errorf("%s %v %v close %v: flag %q; want %q", q.Symbol, q.Kind, q.TS, q.Close, q.Flag, want)
		}
	}
}

// TestFlagBarsRealData: the real SPY and MSFT minutes have no implausible
// bar; with one bar of each made a bad print (prices x1.3), that bar alone
// is flagged.
func TestFlagBarsRealData(t *testing.T) {
	spy, _ := filepath.Glob(filepath.Join(testenv.SharedData(t, "lean-spy-minute"), "*_trade.zip"))
	msft, _ := filepath.Glob(filepath.Join(testenv.SharedData(t, "alphavantage-msft-1min"), "*.csv"))
	for _, c := range []struct {
		sym   string
		files []string
	}{{"SPY", spy}, {"MSFT", msft}} {
		var qs []Quote
		for _, f := range c.files {
			b, err := ReadFile(f, c.sym)
			if err != nil {
				t.Fatal(err)
			}
			qs = append(qs, b...)
		}
		if len(qs) < 1000 {
			t.Fatalf("%s: %d bars from %v", c.sym, len(qs), c.files)
		}
		if n := FlagBars(qs, BarNeighbours, BarMedianPct); n != 0 {
			t.Errorf("%s: %d real bars flagged: %v", c.sym, n, flaggedAt(qs))
		}
		k := len(qs) / 2
		qs[k].Open, qs[k].High, qs[k].Low, qs[k].Close = qs[k].Open*1.3, qs[k].High*1.3, qs[k].Low*1.3, qs[k].Close*1.3
		if n := FlagBars(qs, BarNeighbours, BarMedianPct); n != 1 || qs[k].Flag != FlagImplausible {
			t.Errorf("%s with a bad print at %v: %d flagged %v; want bar %d only", c.sym, qs[k].TS, n, flaggedAt(qs), k)
		}
		t.Logf("%s: %d bars, none flagged; the bad print at %v flagged", c.sym, len(qs), qs[k].TS)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
