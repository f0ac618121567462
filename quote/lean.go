package quote

import (
	"archive/zip"
	"encoding/csv"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// leanPriceScale is Lean's integer price scale for equities: 1686200 = $168.62.
const leanPriceScale = 10000

// ReadLeanTradeZip reads a Lean minute trade-bar zip, <yyyymmdd>_trade.zip,
// and returns its bars in file order (ascending time) for symbol, with Source
// "replay:lean". The trading date comes from the file name; each row's time is
// milliseconds since midnight US/Eastern of that date.
//
// Errors name the file and the line (1-based) of a malformed row; no partial
// result is returned with an error.
func ReadLeanTradeZip(path, symbol string) ([]Quote, error) {
	base := filepath.Base(path)
	day, err := time.ParseInLocation("20060102", strings.SplitN(base, "_", 2)[0], Eastern)
	if err != nil {
		return nil, fmt.Errorf("quote: lean file %s: name does not start with yyyymmdd: %w", path, err)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("quote: lean file %s: %w", path, err)
	}
	defer zr.Close()
	if len(zr.File) != 1 {
		return nil, fmt.Errorf("quote: lean file %s: want one CSV inside, found %d entries", path, len(zr.File))
	}
	f, err := zr.File[0].Open()
	if err != nil {
		return nil, fmt.Errorf("quote: lean file %s: %w", path, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 6
	var out []Quote
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("quote: lean file %s: %w", path, err)
		}
		var v [6]int64
		for i, s := range rec {
			if v[i], err = strconv.ParseInt(s, 10, 64); err != nil {
				return nil, fmt.Errorf("quote: lean file %s line %d field %d %q: not an integer", path, line, i+1, s)
			}
		}
		// Wall-clock arithmetic in Eastern: a day is 24h of wall time even on
		// DST change days (markets are closed then, so no bar is ambiguous).
		h, rem := v[0]/3_600_000, v[0]%3_600_000
		ts := time.Date(day.Year(), day.Month(), day.Day(), int(h), 0, 0, 0, Eastern).
			Add(time.Duration(rem) * time.Millisecond)
		out = append(out, Quote{
			Symbol: symbol,
			TS:     ts.UTC(),
			Open:   float64(v[1]) / leanPriceScale,
			High:   float64(v[2]) / leanPriceScale,
			Low:    float64(v[3]) / leanPriceScale,
			Close:  float64(v[4]) / leanPriceScale,
			Volume: v[5],
			Source: "replay:lean",
		})
	}
}
