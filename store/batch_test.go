package store

import (
	"testing"
	"time"

	"github.com/stock-system/stocksys/quote"
)

func TestSplitBatches(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
		limit int
		want  [][2]int
	}{
		{"empty", nil, 100, nil},
		{"one", []int{10}, 100, [][2]int{{0, 1}}},
		{"exact fit", []int{50, 50}, 100, [][2]int{{0, 2}}},
		{"split", []int{100, 100, 100}, 250, [][2]int{{0, 2}, {2, 3}}},
		{"oversize alone", []int{10, 300, 10}, 250, [][2]int{{0, 1}, {1, 2}, {2, 3}}},
		{"oversize first", []int{300, 10, 10}, 250, [][2]int{{0, 1}, {1, 3}}},
	}
	for _, tt := range tests {
		got := splitBatches(tt.sizes, tt.limit)
		if len(got) != len(tt.want) {
			t.Errorf("%s: splitBatches = %v; want %v", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: splitBatches = %v; want %v", tt.name, got, tt.want)
				break
			}
		}
	}
}

// A trading day of 390 quotes splits into batches each under the 4 KiB
// default (itself under the server's 5 KiB warn threshold).
func TestQuoteBatchSizes(t *testing.T) {
	bid, ask := 1.0, 2.0
	plain := q("SPY", et(2020, 11, 27, 9, 30), 1, 1, 1, 1, 1)
	withBA := plain
	withBA.Bid, withBA.Ask = &bid, &ask
	if got := quoteRowBytes(plain); got != 204 { // 16 row + 8 ts + 6*24 + 2*16 (source, flag) + len("test")
		t.Fatalf("quoteRowBytes(no bid/ask) = %d; want 204", got)
	}
	if got := quoteRowBytes(withBA); got != 252 {
		t.Fatalf("quoteRowBytes(bid/ask) = %d; want 252", got)
	}
	sizes := make([]int, 390)
	for i := range sizes {
		sizes[i] = quoteRowBytes(plain)
	}
	runs := splitBatches(sizes, DefaultConfig().BatchMaxBytes)
	if len(runs) != 20 { // 20 rows of 204 bytes = 4080 <= 4096; 390 = 19*20 + 10
		t.Fatalf("%d batches; want 20", len(runs))
	}
	for i, r := range runs {
		n := r[1] - r[0]
		if want := 20; i == len(runs)-1 {
			if n != 10 {
				t.Errorf("last batch has %d rows; want 10", n)
			}
		} else if n != want {
			t.Errorf("batch %d has %d rows; want %d", i, n, want)
		}
		if n*204 > ServerBatchWarnBytes {
			t.Errorf("batch %d: %d bytes over the warn threshold", i, n*204)
		}
	}
}

func TestPartitions(t *testing.T) {
	// 23:59 ET and 00:00 ET are different trading days, though the same UTC date.
	qs := normalize([]quote.Quote{
		q("SPY", et(2020, 11, 27, 0, 0), 1, 1, 1, 1, 1),
		q("AAPL", et(2020, 11, 27, 9, 30), 1, 1, 1, 1, 1),
		q("SPY", et(2020, 11, 26, 23, 59), 1, 1, 1, 1, 1),
		q("SPY", et(2020, 11, 27, 9, 30), 1, 1, 1, 1, 1),
	})
	parts := partitions(qs)
	want := []struct {
		sym string
		day time.Time
		n   int
	}{{"AAPL", day(2020, 11, 27), 1}, {"SPY", day(2020, 11, 26), 1}, {"SPY", day(2020, 11, 27), 2}}
	if len(parts) != len(want) {
		t.Fatalf("%d partitions; want %d", len(parts), len(want))
	}
	for i, w := range want {
		if p := parts[i]; p[0].Symbol != w.sym || !p[0].Day().Equal(w.day) || len(p) != w.n {
			t.Errorf("partition %d = %s %v (%d); want %s %v (%d)", i, p[0].Symbol, p[0].Day(), len(p), w.sym, w.day, w.n)
		}
	}
}
