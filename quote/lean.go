package quote

import (
	"archive/zip"
	"fmt"
	"path/filepath"
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
// The file is read row by row: a bad row is left out (ReadFileRejects returns
// it as a RowReject; see readLeanTrade for the checks) and the others are
// returned. Errors, for a file that cannot be read at all, wrap ErrFormat (a
// name without a yyyymmdd date, a zip without exactly one entry) or are the
// I/O or zip error, naming the file; no bars are returned with an error.
func ReadLeanTradeZip(path, symbol string) ([]Quote, error) {
	qs, _, err := readLeanTrade(path, symbol)
	return qs, err
}

// leanTradeColumns names the fields of a Lean minute trade row.
const leanTradeColumns = "ms,open,high,low,close,volume"

// readLeanTrade is ReadLeanTradeZip with the rows it refused: other than 6
// fields (ReasonBadFields), a time that is not an integer within the day
// (ReasonBadTime), a price that is not an integer (ReasonBadPrice; NaN or
// Inf ReasonNaNPrice, beyond int64 ReasonPriceRange), a volume that is not
// a whole number (ReasonBadVolume) or beyond int64 (ReasonVolumeRange), and
// a bar Validate refuses (checkRow: a price <= 0, high < low, a volume above
// MaxVolume ...).
func readLeanTrade(path, symbol string) ([]Quote, []RowReject, error) {
	var out []Quote
	rejects, err := readLeanZip(path, 6, leanTradeColumns, func(ts time.Time, fs [][]byte) (RejectReason, string) {
		q := Quote{Symbol: symbol, TS: ts, Source: "replay:lean"}
		for i, p := range []*float64{&q.Open, &q.High, &q.Low, &q.Close} {
			var reason RejectReason
			var detail string
			if *p, reason, detail = parseScaledPrice(leanTradeNames[i+1], fs[i+1]); reason != "" {
				return reason, detail
			}
		}
		var reason RejectReason
		var detail string
		if q.Volume, reason, detail = parseVolumeField("volume", fs[5]); reason != "" {
			return reason, detail
		}
		if reason, detail := checkRow(q); reason != "" {
			return reason, detail
		}
		out = append(out, q)
		return "", ""
	})
	if err != nil {
		return nil, nil, err
	}
	return out, rejects, nil
}

// ReadLeanQuoteZip reads a Lean minute quote-bar zip, <yyyymmdd>_quote.zip,
// whose rows are `ms,bid_open,bid_high,bid_low,bid_close,bid_size,ask_open,
// ask_high,ask_low,ask_close,ask_size` (prices x 10000, times as in
// ReadLeanTradeZip), and returns its bars in file order.
//
// Rows are checked as for ReadLeanTradeZip, each side as a bar (positive
// prices, open and close within [low, high], size >= 0); a bad row is left
// out. Errors are as for ReadLeanTradeZip.
func ReadLeanQuoteZip(path string) ([]BidAsk, error) {
	bars, _, err := readLeanQuote(path)
	return bars, err
}

// leanQuoteColumns names the fields of a Lean minute quote row.
const leanQuoteColumns = "ms,bid_open,bid_high,bid_low,bid_close,bid_size,ask_open,ask_high,ask_low,ask_close,ask_size"

// readLeanQuote is ReadLeanQuoteZip with the rows it refused.
func readLeanQuote(path string) ([]BidAsk, []RowReject, error) {
	var out []BidAsk
	rejects, err := readLeanZip(path, 11, leanQuoteColumns, func(ts time.Time, fs [][]byte) (RejectReason, string) {
		var side [2]Quote
		for k := range side {
			q := &side[k]
			q.TS = ts
			for i, p := range []*float64{&q.Open, &q.High, &q.Low, &q.Close} {
				var reason RejectReason
				var detail string
				if *p, reason, detail = parseScaledPrice(leanQuoteNames[1+5*k+i], fs[1+5*k+i]); reason != "" {
					return reason, detail
				}
			}
			var reason RejectReason
			var detail string
			if q.Volume, reason, detail = parseVolumeField(leanQuoteNames[5+5*k], fs[5+5*k]); reason != "" {
				return reason, detail
			}
			if reason, detail := checkRow(*q); reason != "" {
				return reason, [2]string{"bid", "ask"}[k] + ": " + detail
			}
		}
		b, a := side[0], side[1]
		out = append(out, BidAsk{TS: ts,
			BidOpen: b.Open, BidHigh: b.High, BidLow: b.Low, BidClose: b.Close, BidSize: b.Volume,
			AskOpen: a.Open, AskHigh: a.High, AskLow: a.Low, AskClose: a.Close, AskSize: a.Volume})
		return "", ""
	})
	if err != nil {
		return nil, nil, err
	}
	return out, rejects, nil
}

// Field names of the Lean minute rows, for reject details.
var (
	leanTradeNames = strings.Split(leanTradeColumns, ",")
	leanQuoteNames = strings.Split(leanQuoteColumns, ",")
)

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

// readLeanZip opens a Lean daily zip holding one headerless CSV of fields
// fields per row (named by columns), and calls row with each non-blank
// line's UTC time and fields, once its field count and time (ms within the
// day) are checked. It returns the lines refused (by the checks or by row);
// the error is for a file that cannot be read at all.
func readLeanZip(path string, fields int, columns string, row func(ts time.Time, fs [][]byte) (RejectReason, string)) ([]RowReject, error) {
	day, err := leanDate(path)
	if err != nil {
		return nil, err
	}
	zr, zf, err := openLeanZip(path)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	f, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("quote: lean file %s: %w", path, err)
	}
	defer f.Close()
	buf := make([][]byte, fields)
	rejects, err := readLines(f, path, buf, func(_ int, fs [][]byte, n int) (RejectReason, string) {
		if reason, detail := fieldCount(n, fields, columns); reason != "" {
			return reason, detail
		}
		ms, reason, detail := parseTickTime(fs[0])
		if reason != "" {
			return reason, detail
		}
		return row(leanWallTime(day, ms).UTC(), fs)
	})
	if err != nil {
		return nil, err
	}
	return rejects, nil
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
