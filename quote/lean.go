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

// BidAsk is one Lean minute quote bar: the best bid and ask over the minute
// starting at TS (UTC). Prices in dollars, sizes in shares.
type BidAsk struct {
	TS                                 time.Time
	BidOpen, BidHigh, BidLow, BidClose float64
	BidSize                            int64
	AskOpen, AskHigh, AskLow, AskClose float64
	AskSize                            int64
}

// ReadLeanTradeZip reads a Lean minute trade-bar zip, <yyyymmdd>_trade.zip,
// and returns its bars in file order (ascending time) for symbol, with Source
// "replay:lean". The trading date comes from the file name; each row's time is
// milliseconds since midnight US/Eastern of that date.
//
// Errors wrap ErrFormat (or the I/O error) and name the file and the line
// (1-based) of a malformed row; no partial result is returned with an error.
func ReadLeanTradeZip(path, symbol string) ([]Quote, error) {
	var out []Quote
	err := readLeanZip(path, 6, func(ts time.Time, v []int64) {
		out = append(out, Quote{
			Symbol: symbol,
			TS:     ts,
			Open:   float64(v[1]) / leanPriceScale,
			High:   float64(v[2]) / leanPriceScale,
			Low:    float64(v[3]) / leanPriceScale,
			Close:  float64(v[4]) / leanPriceScale,
			Volume: v[5],
			Source: "replay:lean",
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadLeanQuoteZip reads a Lean minute quote-bar zip, <yyyymmdd>_quote.zip,
// whose rows are `ms,bid_open,bid_high,bid_low,bid_close,bid_size,ask_open,
// ask_high,ask_low,ask_close,ask_size` (prices x 10000, times as in
// ReadLeanTradeZip), and returns its bars in file order.
//
// Errors are as for ReadLeanTradeZip.
func ReadLeanQuoteZip(path string) ([]BidAsk, error) {
	var out []BidAsk
	err := readLeanZip(path, 11, func(ts time.Time, v []int64) {
		p := func(i int) float64 { return float64(v[i]) / leanPriceScale }
		out = append(out, BidAsk{TS: ts,
			BidOpen: p(1), BidHigh: p(2), BidLow: p(3), BidClose: p(4), BidSize: v[5],
			AskOpen: p(6), AskHigh: p(7), AskLow: p(8), AskClose: p(9), AskSize: v[10]})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MergeBidAsk sets Bid and Ask of each quote in qs to the bid and ask close
// of the quote bar with the same TS, and returns how many quotes got them.
// Quotes without a quote bar keep Bid and Ask as they were (nil from the Lean
// trade reader). Neither slice needs to be sorted.
func MergeBidAsk(qs []Quote, bars []BidAsk) int {
	byTS := make(map[int64]BidAsk, len(bars))
	for _, b := range bars {
		byTS[b.TS.UnixNano()] = b
	}
	n := 0
	for i := range qs {
		if b, ok := byTS[qs[i].TS.UnixNano()]; ok {
			bid, ask := b.BidClose, b.AskClose
			qs[i].Bid, qs[i].Ask = &bid, &ask
			n++
		}
	}
	return n
}

// readLeanZip opens a Lean daily zip holding one headerless CSV of integer
// fields, fields per row, and calls row with each row's UTC time and values.
func readLeanZip(path string, fields int, row func(ts time.Time, v []int64)) error {
	day, err := leanDate(path)
	if err != nil {
		return err
	}
	zr, zf, err := openLeanZip(path)
	if err != nil {
		return err
	}
	defer zr.Close()
	f, err := zf.Open()
	if err != nil {
		return fmt.Errorf("quote: lean file %s: %w", path, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = fields
	r.ReuseRecord = true
	v := make([]int64, fields)
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: lean file %s line %d: %v", ErrFormat, path, line, err)
		}
		for i, s := range rec {
			if v[i], err = strconv.ParseInt(s, 10, 64); err != nil {
				return fmt.Errorf("%w: lean file %s line %d field %d %q: not an integer", ErrFormat, path, line, i+1, s)
			}
		}
		if v[0] < 0 || v[0] >= msPerDay {
			return fmt.Errorf("%w: lean file %s line %d: time %d ms is not within a day", ErrFormat, path, line, v[0])
		}
		row(leanWallTime(day, v[0]).UTC(), v)
	}
}

// msPerDay is the length of a Lean file's day in milliseconds of wall time.
const msPerDay = 24 * 3_600_000

// leanDate returns midnight US/Eastern of the date a Lean file's name starts
// with (<yyyymmdd>_...). Errors wrap ErrFormat.
func leanDate(path string) (time.Time, error) {
	day, err := time.ParseInLocation("20060102", strings.SplitN(filepath.Base(path), "_", 2)[0], Eastern)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: lean file %s: name does not start with yyyymmdd: %v", ErrFormat, path, err)
	}
	return day, nil
}

// leanWallTime returns the time ms milliseconds of wall-clock time after
// midnight US/Eastern of day. Wall-clock arithmetic: a day is 24h of wall
// time even on DST change days (markets are closed then, so no bar is
// ambiguous).
func leanWallTime(day time.Time, ms int64) time.Time {
	h, rem := ms/3_600_000, ms%3_600_000
	return time.Date(day.Year(), day.Month(), day.Day(), int(h), 0, 0, 0, Eastern).
		Add(time.Duration(rem) * time.Millisecond)
}

// openLeanZip opens a Lean daily zip and returns it with its one entry (the
// CSV). The caller closes the reader.
func openLeanZip(path string) (*zip.ReadCloser, *zip.File, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, nil, fmt.Errorf("quote: lean file %s: %w", path, err)
	}
	if len(zr.File) != 1 {
		zr.Close()
		return nil, nil, fmt.Errorf("%w: lean file %s: want one CSV inside, found %d entries", ErrFormat, path, len(zr.File))
	}
	return zr, zr.File[0], nil
}
