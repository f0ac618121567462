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
