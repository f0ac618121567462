package datapathbench

import (
	"archive/zip"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
)

// spyZip is the real SPY trade zip (skipped without the data, failed under
// CI=true).
func spyZip(t *testing.T) string {
	t.Helper()
	return testenv.SharedData(t, filepath.Join("lean-ticks", "spy", TickDay+"_trade.zip"))
}

// csvSizes sums the quantity column of a trade zip with encoding/csv: a
// second reading, independent of ReadTickZip's own byte splitting.
func csvSizes(t *testing.T, path string) (lines int, sum int64) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r := csv.NewReader(rc)
	r.FieldsPerRecord = 6
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return lines, sum
		}
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.ParseInt(rec[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		lines++
		sum += n
	}
}

func TestReadTickZipSPY(t *testing.T) {
	path := spyZip(t)
	tf, err := ReadTickZip(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(tf.Ticks) != SPYTicks {
		t.Fatalf("%d ticks, want %d", len(tf.Ticks), SPYTicks)
	}
	var sum int64
	suspicious := 0
	for _, k := range tf.Ticks {
		sum += k.Size
		if k.Suspicious {
			suspicious++
		}
	}
	lines, csvSum := csvSizes(t, path)
	if lines != SPYTicks || csvSum != sum {
		t.Fatalf("encoding/csv: %d lines, sizes sum %d; ReadTickZip: %d ticks, sum %d", lines, csvSum, len(tf.Ticks), sum)
	}
	// And the production reader (package quote) agrees on every row's
	// key, price and size.
	qs, rejects, err := quote.ReadLeanTickZip(path, Symbol)
	if err != nil || len(rejects) != 0 {
		t.Fatalf("quote.ReadLeanTickZip: %v, %d rejects", err, len(rejects))
	}
	rows := tf.Rows(Symbol)
	if len(qs) != len(rows) {
		t.Fatalf("quote reads %d ticks, we %d", len(qs), len(rows))
	}
	shared := 0
	for i, r := range rows {
		q := qs[i]
		if !q.TS.Equal(r.TS) || q.Seq != r.Seq || q.Close != r.Price || q.Volume != r.Size || q.Exchange != r.Exchange ||
			q.Condition != r.Condition || q.Source != r.Source || !q.Day().Equal(r.Day) {
			t.Fatalf("row %d: ours %+v, quote's %+v", i, r, q)
		}
		if r.Seq > 0 || i+1 < len(rows) && rows[i+1].Seq > 0 {
			shared++
		}
	}
	if shared != 170_996 {
		t.Errorf("%d ticks share a millisecond, want 170,996 (the data README)", shared)
	}
	if first := rows[0].TS.In(eastern).Format("2006-01-02 15:04:05.000"); first != "2013-10-07 04:00:00.464" {
		t.Errorf("first tick at %s Eastern", first)
	}
	t.Logf("%d ticks, %d shares, %d suspicious, %d sharing a millisecond", len(rows), sum, suspicious, shared)
}

func TestReadTickZipLimitAndWrite(t *testing.T) {
	tf, err := ReadTickZip(spyZip(t), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(tf.Ticks) != 1000 {
		t.Fatalf("limit 1000: %d ticks", len(tf.Ticks))
	}
	out := filepath.Join(t.TempDir(), "lean-ticks", "spy", TickDay+"_trade.zip")
	if err := WriteTickZip(out, tf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadTickZip(out, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Ticks) != 1000 || back.Inner != tf.Inner || !back.Day.Equal(tf.Day) {
		t.Fatalf("read back %d ticks, inner %q, day %v", len(back.Ticks), back.Inner, back.Day)
	}
	for i := range back.Ticks {
		if back.Ticks[i] != tf.Ticks[i] {
			t.Fatalf("tick %d: %+v, wrote %+v", i, back.Ticks[i], tf.Ticks[i])
		}
	}
	// The replay reads the copy as ticks too.
	qs, rejects, err := quote.ReadLeanTickZip(out, Symbol)
	if err != nil || len(rejects) != 0 || len(qs) != 1000 {
		t.Fatalf("quote.ReadLeanTickZip of the copy: %d ticks, %d rejects, %v", len(qs), len(rejects), err)
	}
}

func writeZip(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, _ := zw.Create("x.csv")
	_, _ = io.WriteString(w, body)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

func TestReadTickZipRows(t *testing.T) {
	// 09:30:00.000 Eastern twice, then .001; a suspicious one; CRLF ends.
	p := writeZip(t, "20131007_trade.zip", "34200000,1674100,100,P,20002000,0\r\n34200000,1674200,200,Q,20002000,1\r\n\n34200001,1674300,300,P,0,0")
	tf, err := ReadTickZip(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	rows := tf.Rows("SPY")
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	want0 := time.Date(2013, 10, 7, 13, 30, 0, 0, time.UTC) // EDT = UTC-4
	if !rows[0].TS.Equal(want0) || rows[0].Seq != 0 || rows[1].Seq != 1 || rows[2].Seq != 0 ||
		!rows[2].TS.Equal(want0.Add(time.Millisecond)) {
		t.Fatalf("times/seqs: %v/%d %v/%d %v/%d", rows[0].TS, rows[0].Seq, rows[1].TS, rows[1].Seq, rows[2].TS, rows[2].Seq)
	}
	if rows[1].Flag != "suspicious" || rows[0].Flag != "" || rows[1].Price != 167.42 || rows[2].Size != 300 || rows[1].Exchange != "Q" {
		t.Fatalf("values: %+v", rows)
	}
	if !rows[0].Day.Equal(time.Date(2013, 10, 7, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("day %v", rows[0].Day)
	}
	for _, bad := range []string{"1,2,3,P,0", "1,2,3,P,0,0,7", "x,2,3,P,0,0", "1,0,3,P,0,0", "1,2,-3,P,0,0", "1,2,3,P,0,2", "86400000,2,3,P,0,0"} {
		if _, err := ReadTickZip(writeZip(t, "20131007_trade.zip", bad+"\n"), 0); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := ReadTickZip(writeZip(t, "spy_trade.zip", "1,2,3,P,0,0\n"), 0); err == nil {
		t.Error("a name without a date: no error")
	}
}
