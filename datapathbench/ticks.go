package datapathbench

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// eastern is the exchange time zone of the Lean files' times.
var eastern = mustLoad("America/New_York")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic("datapathbench: time zone " + name + ": " + err.Error())
	}
	return loc
}

// Tick is one line of a Lean trade tick CSV, as the file gives it:
// `ms,price*10000,size,exchange,condition,suspicious`.
type Tick struct {
	MS         int64 // milliseconds since midnight US/Eastern
	Price      int64 // dollars x 10000
	Size       int64 // shares
	Exchange   string
	Condition  string
	Suspicious bool
}

// TickFile is a parsed trade tick zip: its trading day (from the file name)
// and its lines in file order.
type TickFile struct {
	Path  string
	Inner string    // name of the CSV inside the zip
	Day   time.Time // midnight US/Eastern of the file's date
	Ticks []Tick
}

// ReadTickZip reads a Lean trade tick zip (<yyyymmdd>_trade.zip holding one
// CSV) with archive/zip, independently of package quote. limit > 0 keeps the
// first limit lines only. Any malformed line is an error naming the file and
// line: the benchmark only reads the known real files.
func ReadTickZip(path string, limit int) (*TickFile, error) {
	day, err := time.ParseInLocation("20060102", strings.SplitN(filepath.Base(path), "_", 2)[0], eastern)
	if err != nil {
		return nil, fmt.Errorf("tick zip %s: name does not start with yyyymmdd", path)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("tick zip %s: %w", path, err)
	}
	defer zr.Close()
	if len(zr.File) != 1 {
		return nil, fmt.Errorf("tick zip %s: want one CSV inside, found %d entries", path, len(zr.File))
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		return nil, fmt.Errorf("tick zip %s: %w", path, err)
	}
	defer rc.Close()
	tf := &TickFile{Path: path, Inner: zr.File[0].Name, Day: day}
	if n := zr.File[0].UncompressedSize64 / 30; n < 1<<24 { // ~30 bytes a line
		tf.Ticks = make([]Tick, 0, n)
	}
	intern := map[string]string{}
	str := func(b []byte) string {
		if s, ok := intern[string(b)]; ok {
			return s
		}
		s := string(b)
		intern[s] = s
		return s
	}
	br := bufio.NewReaderSize(rc, 1<<16)
	var f [6][]byte
	for line := 1; limit <= 0 || len(tf.Ticks) < limit; line++ {
		b, err := br.ReadSlice('\n')
		if err == io.EOF && len(b) == 0 {
			break
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("tick zip %s line %d: %w", path, line, err)
		}
		b = bytes.TrimRight(b, "\r\n")
		if len(b) == 0 {
			continue
		}
		n := 0
		for n < 5 {
			i := bytes.IndexByte(b, ',')
			if i < 0 {
				break
			}
			f[n], b = b[:i], b[i+1:]
			n++
		}
		f[n] = b
		if n != 5 || bytes.IndexByte(b, ',') >= 0 {
			return nil, fmt.Errorf("tick zip %s line %d: want 6 fields", path, line)
		}
		var t Tick
		var e1, e2, e3 error
		t.MS, e1 = strconv.ParseInt(string(f[0]), 10, 64)
		t.Price, e2 = strconv.ParseInt(string(f[1]), 10, 64)
		t.Size, e3 = strconv.ParseInt(string(f[2]), 10, 64)
		if e1 != nil || e2 != nil || e3 != nil || t.MS < 0 || t.MS >= 24*3_600_000 || t.Price <= 0 || t.Size <= 0 {
			return nil, fmt.Errorf("tick zip %s line %d: bad ms, price or size", path, line)
		}
		switch string(f[5]) {
		case "0":
		case "1":
			t.Suspicious = true
		default:
			return nil, fmt.Errorf("tick zip %s line %d: suspicious %q: want 0 or 1", path, line, f[5])
		}
		t.Exchange, t.Condition = str(f[3]), str(f[4])
		tf.Ticks = append(tf.Ticks, t)
		if err == io.EOF {
			break
		}
	}
	return tf, nil
}

// Row is one row of the ticks table ((symbol, day), ts, seq) as the store
// writes a Lean trade tick without quote data (no bid or ask).
type Row struct {
	Symbol    string
	Day       time.Time // the trading date, midnight UTC (Cassandra date)
	TS        time.Time // UTC, millisecond precision
	Seq       int32     // the tick's place among the ticks of its UTC millisecond, in file order
	Price     float64
	Size      int64
	Exchange  string
	Condition string
	Flag      string // "suspicious" for Lean's suspicious mark, else ""
	Source    string
}

// rowSource is the store's source column of a Lean tick (quote's
// "replay:lean-tick").
const rowSource = "replay:lean-tick"

// Rows converts the file's ticks to the store's rows of symbol: times as
// wall-clock milliseconds after midnight Eastern of the file's day, seq
// counting the ticks of each millisecond in file order. The store's
// off-median flags (quote.FlagTicks: SPY has 7 such prints) are not
// computed; the flag column only carries the file's suspicious mark.
func (tf *TickFile) Rows(symbol string) []Row {
	y, m, d := tf.Day.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	seq := make(map[int64]int32, len(tf.Ticks))
	out := make([]Row, len(tf.Ticks))
	for i, t := range tf.Ticks {
		h, rem := t.MS/3_600_000, t.MS%3_600_000
		ts := time.Date(y, m, d, int(h), 0, 0, 0, eastern).Add(time.Duration(rem) * time.Millisecond).UTC()
		k := ts.UnixMilli()
		r := Row{Symbol: symbol, Day: day, TS: ts, Seq: seq[k], Price: float64(t.Price) / 10000, Size: t.Size,
			Exchange: t.Exchange, Condition: t.Condition, Source: rowSource}
		seq[k]++
		if t.Suspicious {
			r.Flag = "suspicious"
		}
		out[i] = r
	}
	return out
}

// WriteTickZip writes tf's ticks as a Lean trade tick zip at path (the
// inner CSV named as in tf), creating its directory: the truncated copies
// of --ticks.
func WriteTickZip(path string, tf *TickFile) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	name := tf.Inner
	if name == "" {
		name = filepath.Base(path) + ".csv"
	}
	w, err := zw.Create(name)
	if err != nil {
		f.Close()
		return err
	}
	bw := bufio.NewWriter(w)
	for _, t := range tf.Ticks {
		s := 0
		if t.Suspicious {
			s = 1
		}
		fmt.Fprintf(bw, "%d,%d,%d,%s,%s,%d\n", t.MS, t.Price, t.Size, t.Exchange, t.Condition, s)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
