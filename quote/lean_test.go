package quote

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
)

func TestReadLeanTradeZip(t *testing.T) {
	qs, err := ReadLeanTradeZip(testenv.SharedData(t, "lean-spy-minute/20131007_trade.zip"), "SPY")
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 828 {
		t.Fatalf("got %d bars; want 828", len(qs))
	}
	// First row: 14400000,1674100,1674100,1672500,1672700,3197 = 04:00 EDT = 08:00 UTC.
	want := Quote{Symbol: "SPY", TS: time.Date(2013, 10, 7, 8, 0, 0, 0, time.UTC),
		Open: 167.41, High: 167.41, Low: 167.25, Close: 167.27, Volume: 3197, Source: "replay:lean"}
	if qs[0] != want {
		t.Fatalf("first bar = %+v\nwant %+v", qs[0], want)
	}
	if got := qs[0].Day(); !got.Equal(time.Date(2013, 10, 7, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("day = %v", got)
	}
	for i := 1; i < len(qs); i++ {
		if !qs[i].TS.After(qs[i-1].TS) {
			t.Fatalf("bar %d at %v not after bar %d at %v", i, qs[i].TS, i-1, qs[i-1].TS)
		}
	}
}

func TestReadLeanTradeZipErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "notadate_trade.zip")
	if err := os.WriteFile(bad, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLeanTradeZip(bad, "SPY"); err == nil {
		t.Fatal("want an error for a file name without a date")
	}
	notzip := filepath.Join(dir, "20131007_trade.zip")
	if err := os.WriteFile(notzip, []byte("not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLeanTradeZip(notzip, "SPY"); err == nil {
		t.Fatal("want an error for a file that is not a zip")
	}
}

func TestReadLeanQuoteZip(t *testing.T) {
	bars, err := ReadLeanQuoteZip(testenv.SharedData(t, "lean-spy-minute/20131007_quote.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if len(bars) != 908 {
		t.Fatalf("got %d quote bars; want 908", len(bars))
	}
	tests := []struct {
		i    int
		want BidAsk
	}{
		// 14400000,1672700,1672700,1671500,1672500,300,1680000,1680000,1672600,1672700,20000
		{0, BidAsk{TS: utc(2013, 10, 7, 8, 0), BidOpen: 167.27, BidHigh: 167.27, BidLow: 167.15, BidClose: 167.25, BidSize: 300,
			AskOpen: 168, AskHigh: 168, AskLow: 167.26, AskClose: 167.27, AskSize: 20000}},
		// 34200000,1674100,1675200,1674100,1674400,4400,1674100,1675300,1674100,1674500,1400 (09:30 EDT)
		{299, BidAsk{TS: utc(2013, 10, 7, 13, 30), BidOpen: 167.41, BidHigh: 167.52, BidLow: 167.41, BidClose: 167.44, BidSize: 4400,
			AskOpen: 167.41, AskHigh: 167.53, AskLow: 167.41, AskClose: 167.45, AskSize: 1400}},
		// 72000000,1672700,1672700,1672700,1672700,100,1673200,1673300,1673200,1673300,800 (20:00 EDT)
		{907, BidAsk{TS: time.Date(2013, 10, 8, 0, 0, 0, 0, time.UTC), BidOpen: 167.27, BidHigh: 167.27, BidLow: 167.27, BidClose: 167.27, BidSize: 100,
			AskOpen: 167.32, AskHigh: 167.33, AskLow: 167.32, AskClose: 167.33, AskSize: 800}},
	}
	for _, tt := range tests {
		if bars[tt.i] != tt.want {
			t.Errorf("bar %d = %+v\nwant %+v", tt.i, bars[tt.i], tt.want)
		}
	}
}

func TestMergeBidAskViaReadFile(t *testing.T) {
	tests := []struct {
		file            string
		bars, withQuote int
	}{
		{"lean-spy-minute/20131004_trade.zip", 711, 707},
		{"lean-spy-minute/20131007_trade.zip", 828, 816},
		{"lean-spy-minute/20131008_trade.zip", 828, 0}, // no quote zip that day
	}
	for _, tt := range tests {
		qs, err := ReadFile(testenv.SharedData(t, tt.file), "SPY")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, q := range qs {
			if (q.Bid == nil) != (q.Ask == nil) {
				t.Fatalf("%s %v: bid %v ask %v: want both or neither", tt.file, q.TS, q.Bid, q.Ask)
			}
			if q.Bid != nil {
				n++
			}
		}
		if len(qs) != tt.bars || n != tt.withQuote {
			t.Errorf("%s: %d bars, %d with bid/ask; want %d, %d", tt.file, len(qs), n, tt.bars, tt.withQuote)
		}
	}
	qs, err := ReadFile(testenv.SharedData(t, "lean-spy-minute/20131007_trade.zip"), "SPY")
	if err != nil {
		t.Fatal(err)
	}
	// 09:30 EDT: trade 34200000,1674300,1675200,1674100,1674400,816453; quote closes 167.44 / 167.45.
	q := qs[0]
	for _, x := range qs {
		if x.TS.Equal(utc(2013, 10, 7, 13, 30)) {
			q = x
		}
	}
	if q.TS != utc(2013, 10, 7, 13, 30) || q.Open != 167.43 || q.Close != 167.44 || q.Volume != 816453 ||
		q.Bid == nil || *q.Bid != 167.44 || *q.Ask != 167.45 {
		t.Fatalf("09:30 bar = %+v bid %v ask %v", q, q.Bid, q.Ask)
	}
}

func TestMergeBidAsk(t *testing.T) {
	qs := []Quote{{TS: utc(2020, 1, 2, 15, 0)}, {TS: utc(2020, 1, 2, 15, 1)}}
	n := MergeBidAsk(qs, []BidAsk{{TS: utc(2020, 1, 2, 15, 1), BidClose: 9.5, AskClose: 9.7}, {TS: utc(2020, 1, 2, 16, 0)}})
	if n != 1 || qs[0].Bid != nil || qs[0].Ask != nil || *qs[1].Bid != 9.5 || *qs[1].Ask != 9.7 {
		t.Fatalf("merged %d: %+v", n, qs)
	}
}
