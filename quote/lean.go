package quote

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"math"
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

// sourceLean is the Source of a Lean minute trade bar.
const sourceLean = "replay:lean"

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
// (ReasonBadTime), and the bar checks of leanBar.
func readLeanTrade(path, symbol string) ([]Quote, []RowReject, error) {
	var out []Quote
	rejects, err := readLeanZip(path, 6, leanTradeColumns, appendLeanBar(&out, symbol, sourceLean, leanTradeNames))
	if err != nil {
		return nil, nil, err
	}
	return out, rejects, nil
}

// appendLeanBar is the row function of a bar layout (readLeanRows): each
// row leanBar accepts is appended to *out, a refused one is the reject.
func appendLeanBar(out *[]Quote, symbol, source string, names []string) func(time.Time, [][]byte) (RejectReason, string) {
	return func(ts time.Time, fs [][]byte) (RejectReason, string) {
		q, reason, detail := leanBar(symbol, source, ts, fs, names)
		if reason != "" {
			return reason, detail
		}
		*out = append(*out, q)
		return "", ""
	}
}

// leanBar parses the price and volume fields of a Lean trade-bar row (fs[1:6]:
// open, high, low, close x 10000, volume in shares; fs[0], the time, is the
// caller's, given as ts) into a bar of symbol with Source source. It refuses a
// price that is not an integer (ReasonBadPrice; NaN or Inf ReasonNaNPrice,
// beyond int64 ReasonPriceRange), a volume that is not a whole number
// (ReasonBadVolume) or beyond int64 (ReasonVolumeRange), and a bar Validate
// refuses (checkRow: a price <= 0, high < low, a volume above MaxVolume ...).
// names are the row's field names, for the details.
func leanBar(symbol, source string, ts time.Time, fs [][]byte, names []string) (Quote, RejectReason, string) {
	q := Quote{Symbol: symbol, TS: ts, Source: source}
	for i, p := range []*float64{&q.Open, &q.High, &q.Low, &q.Close} {
		var reason RejectReason
		var detail string
		if *p, reason, detail = parseScaledPrice(names[i+1], fs[i+1]); reason != "" {
			return q, reason, detail
		}
	}
	var reason RejectReason
	var detail string
	if q.Volume, reason, detail = parseVolumeField(names[5], fs[5]); reason != "" {
		return q, reason, detail
	}
	reason, detail = checkRow(q)
	return q, reason, detail
}

// ReadLeanQuoteZip reads a Lean minute quote-bar zip, <yyyymmdd>_quote.zip,
// whose rows are `ms,bid_open,bid_high,bid_low,bid_close,bid_size,ask_open,
// ask_high,ask_low,ask_close,ask_size` (prices x 10000, times as in
// ReadLeanTradeZip), and returns its bars in file order.
//
// Rows are checked as for ReadLeanTradeZip, each side as a bar (positive
// prices, open and close within [low, high], size >= 0); a bad row is left
// out. A side whose four prices are all empty or 0 is absent from its minute
// (Lean writes an absent side as empty fields): its prices and size are 0 in
// the BidAsk and its size field is not read; a row with neither side is
// refused (ReasonBadPrice). Errors are as for ReadLeanTradeZip.
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
		present := 0
		for k := range side {
			q := &side[k]
			first := 1 + 5*k // the side's open
			if leanSideAbsent(fs[first : first+4]) {
				continue
			}
			present++
			q.TS = ts
			for i, p := range []*float64{&q.Open, &q.High, &q.Low, &q.Close} {
				var reason RejectReason
				var detail string
				if *p, reason, detail = parseScaledPrice(leanQuoteNames[first+i], fs[first+i]); reason != "" {
					return reason, detail
				}
			}
			var reason RejectReason
			var detail string
			if q.Volume, reason, detail = parseVolumeField(leanQuoteNames[first+4], fs[first+4]); reason != "" {
				return reason, detail
			}
			if reason, detail := checkRow(*q); reason != "" {
				return reason, [2]string{"bid", "ask"}[k] + ": " + detail
			}
		}
		if present == 0 {
			return ReasonBadPrice, "neither a bid nor an ask: the prices of both sides are empty or 0"
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

// leanSideAbsent reports whether the four prices of one side of a Lean quote
// row are all empty or 0: the side is absent from that minute.
func leanSideAbsent(prices [][]byte) bool {
	for _, p := range prices {
		if p = bytes.TrimSpace(p); len(p) == 0 {
			continue
		}
		if v, ok := atoi(p); !ok || v != 0 {
			return false
		}
	}
	return true
}

// Field names of the Lean rows, for reject details.
var (
	leanTradeNames = strings.Split(leanTradeColumns, ",")
	leanQuoteNames = strings.Split(leanQuoteColumns, ",")
	leanDailyNames = strings.Split(leanDailyColumns, ",")
)

// MergeBidAsk sets Bid and Ask of each quote in qs to the bid and ask close
// of the quote bar with the same TS, and returns how many quotes got either.
// A side absent from the quote bar (close 0, see ReadLeanQuoteZip) is not
// set. Quotes without a quote bar keep Bid and Ask as they were (nil from the
// Lean trade reader). Neither slice needs to be sorted.
func MergeBidAsk(qs []Quote, bars []BidAsk) int {
	byTS := make(map[int64]BidAsk, len(bars))
	for _, b := range bars {
		byTS[b.TS.UnixNano()] = b
	}
	n := 0
	for i := range qs {
		b, ok := byTS[qs[i].TS.UnixNano()]
		if !ok || b.BidClose <= 0 && b.AskClose <= 0 {
			continue
		}
		if b.BidClose > 0 {
			bid := b.BidClose
			qs[i].Bid = &bid
		}
		if b.AskClose > 0 {
			ask := b.AskClose
			qs[i].Ask = &ask
		}
		n++
	}
	return n
}

// ReadLeanQuoteBars reads a Lean minute quote-bar zip, <yyyymmdd>_quote.zip
// (rows as for ReadLeanQuoteZip), on its own: for a day whose trade zip is
// missing, the replay's bars. It returns one quote-derived bar of symbol per
// accepted row, in file order, Source "replay:lean-quote", labelled by the
// minute's start as the trade bars are:
//
//   - Open, High, Low, Close: the midpoint (bid + ask) / 2 of the bid's and
//     the ask's open, high, low and close, in dollars, computed in Lean's
//     integer units (1674200 and 1678700 give 167.645). The midpoint is the
//     usual fair price between the two sides; it is not a traded price, and
//     a bid-only or ask-only bar (more likely in a thin minute) would jump by
//     half the spread against its neighbours. When one side is absent from
//     the minute (its prices empty or 0), the bar is the other side's.
//   - Volume 0: a quote bar carries no trades.
//   - Bid and Ask: the bid's and the ask's close (nil for an absent side).
//
// Such bars are quote-derived, not trades: their volume and VWAP say nothing,
// and their prices are a side's or the midpoint, never a print. Bad rows are
// left out as for ReadLeanQuoteZip (ReadFileRejects returns them); errors are
// as for ReadLeanTradeZip.
func ReadLeanQuoteBars(path, symbol string) ([]Quote, error) {
	qs, _, err := readLeanQuoteBars(path, symbol)
	return qs, err
}

// sourceLeanQuote is the Source of a bar derived from a Lean quote zip read
// without its trade zip (ReadLeanQuoteBars).
const sourceLeanQuote = "replay:lean-quote"

// readLeanQuoteBars is ReadLeanQuoteBars with the rows it refused.
func readLeanQuoteBars(path, symbol string) ([]Quote, []RowReject, error) {
	bars, rejects, err := readLeanQuote(path)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Quote, 0, len(bars))
	for _, b := range bars {
		out = append(out, quoteBar(symbol, b))
	}
	return out, rejects, nil
}

// quoteBar is the quote-derived bar of one quote bar (see ReadLeanQuoteBars).
// The sides were checked as bars, so the midpoints are one too: each is
// monotonic in both sides' prices.
func quoteBar(symbol string, b BidAsk) Quote {
	q := Quote{Symbol: symbol, TS: b.TS, Source: sourceLeanQuote}
	hasBid, hasAsk := b.BidClose > 0, b.AskClose > 0
	switch {
	case hasBid && hasAsk:
		q.Open, q.High = leanMid(b.BidOpen, b.AskOpen), leanMid(b.BidHigh, b.AskHigh)
		q.Low, q.Close = leanMid(b.BidLow, b.AskLow), leanMid(b.BidClose, b.AskClose)
	case hasBid:
		q.Open, q.High, q.Low, q.Close = b.BidOpen, b.BidHigh, b.BidLow, b.BidClose
	default:
		q.Open, q.High, q.Low, q.Close = b.AskOpen, b.AskHigh, b.AskLow, b.AskClose
	}
	if hasBid {
		bid := b.BidClose
		q.Bid = &bid
	}
	if hasAsk {
		ask := b.AskClose
		q.Ask = &ask
	}
	return q
}

// leanMid returns the midpoint of two Lean prices given in dollars, computed
// on their integer units (x leanPriceScale, recovered exactly) so that it is
// rounded once: (1674200 + 1678700) / 20000 = 167.645.
func leanMid(bid, ask float64) float64 {
	return (math.Round(bid*leanPriceScale) + math.Round(ask*leanPriceScale)) / (2 * leanPriceScale)
}

// ReadLeanDailyZip reads a Lean equity daily zip, <ticker>.zip (Lean's
// Data/equity/usa/daily/spy.zip, holding spy.csv), whose headerless rows are
// `yyyymmdd 00:00,open,high,low,close,volume` (the date in US/Eastern, prices
// x 10000, volume in shares; 20131007 00:00,1676800,1683900,1670000,
// 1673900,93425300 is 2013-10-07, open $167.68), and returns one daily bar of
// symbol per accepted row in ascending time, Source "replay:lean-daily". Each
// bar is stamped 09:30 US/Eastern of its date, as a daily CSV's is (see the
// CSV layouts), so that Quote.Day() is that date.
//
// The zip is told by its first non-blank row: a first field that is not
// `yyyymmdd hh:mm` is not a Lean daily zip, and one at another time than
// 00:00 is a Lean hour zip (`<ticker>.zip` under hour/), which is not read
// (ErrUnknownFormat, naming the file and quoting the row). The rows are then
// read as for ReadLeanTradeZip: a bad row is left out (ReadFileRejects
// returns it as a RowReject naming the file and line): other than 6 fields
// (ReasonBadFields), a time that is not a date at 00:00 (ReasonBadTime), and
// the price, volume and bar checks of a trade row (ReasonBadPrice,
// ReasonBadVolume, whatever Validate refuses ...). Errors, for a file that
// cannot be read at all, wrap ErrUnknownFormat or ErrFormat (a zip without
// exactly one entry) or are the I/O or zip error, naming the file.
func ReadLeanDailyZip(path, symbol string) ([]Quote, error) {
	qs, _, err := readLeanDaily(path, symbol)
	return qs, err
}

// Lean daily rows: the names of their fields, the form of their time, and the
// Source of their bars.
const (
	leanDailyColumns = "date,open,high,low,close,volume"
	leanDailyTime    = "20060102 15:04"
	sourceLeanDaily  = "replay:lean-daily"
)

// readLeanDaily is ReadLeanDailyZip with the rows it refused.
func readLeanDaily(path, symbol string) ([]Quote, []RowReject, error) {
	zr, zf, err := openLeanZip(path)
	if err != nil {
		return nil, nil, err
	}
	first, err := leanFirstLine(path, zf)
	zr.Close()
	if err != nil {
		return nil, nil, err
	}
	if first != nil {
		f0, _, _ := bytes.Cut(first, []byte{','})
		t, err := time.Parse(leanDailyTime, string(bytes.TrimSpace(f0)))
		text := first[:min(len(first), maxRejectText)]
		switch {
		case err != nil:
			return nil, nil, fmt.Errorf("%w: %s: not a Lean daily zip: its first row %q does not start with a time yyyymmdd 00:00 (want %s)",
				ErrUnknownFormat, path, text, leanDailyColumns)
		case t.Hour() != 0 || t.Minute() != 0:
			return nil, nil, fmt.Errorf("%w: %s: a Lean hour zip (its first row %q is at %s, a daily row at 00:00); hour zips are not read",
				ErrUnknownFormat, path, text, t.Format("15:04"))
		}
	}
	var out []Quote
	rejects, err := readLeanRows(path, 6, leanDailyColumns, parseLeanDailyTime, appendLeanBar(&out, symbol, sourceLeanDaily, leanDailyNames))
	if err != nil {
		return nil, nil, err
	}
	sortAscending(out)
	return out, rejects, nil
}

// parseLeanDailyTime parses a Lean daily row's time, `yyyymmdd 00:00` in
// US/Eastern, and returns its daily bar's time (dailyBarTime, UTC).
func parseLeanDailyTime(b []byte) (time.Time, RejectReason, string) {
	s := string(bytes.TrimSpace(b))
	t, err := time.ParseInLocation(leanDailyTime, s, Eastern)
	switch {
	case err != nil:
		return time.Time{}, ReasonBadTime, fmt.Sprintf("time %q: want yyyymmdd 00:00", s)
	case t.Hour() != 0 || t.Minute() != 0:
		return time.Time{}, ReasonBadTime, fmt.Sprintf("time %q: not 00:00 (a daily row is dated at midnight)", s)
	}
	return dailyBarTime(t), "", ""
}

// isLeanDailyName reports whether a zip's base name may be a Lean daily zip,
// <ticker>.zip: a .zip whose name does not start with a date and '_' (the
// <yyyymmdd>_trade.zip and _quote.zip of the minute and tick folders).
func isLeanDailyName(base string) bool {
	base = strings.ToLower(base)
	if !strings.HasSuffix(base, ".zip") || len(base) == len(".zip") {
		return false
	}
	if len(base) > 9 && base[8] == '_' {
		if _, ok := atoi([]byte(base[:8])); ok {
			return false
		}
	}
	return true
}

// readLeanZip opens a Lean minute or tick zip, <yyyymmdd>_....zip, holding
// one headerless CSV of fields fields per row (named by columns), and calls
// row with each non-blank line's UTC time and fields, once its field count
// and time (ms within the day of the file's name) are checked. It returns
// the lines refused (by the checks or by row); the error is for a file that
// cannot be read at all.
func readLeanZip(path string, fields int, columns string, row func(ts time.Time, fs [][]byte) (RejectReason, string)) ([]RowReject, error) {
	day, err := leanDate(path)
	if err != nil {
		return nil, err
	}
	return readLeanRows(path, fields, columns, func(b []byte) (time.Time, RejectReason, string) {
		ms, reason, detail := parseTickTime(b)
		if reason != "" {
			return time.Time{}, reason, detail
		}
		return leanWallTime(day, ms).UTC(), "", ""
	}, row)
}

// readLeanRows opens a Lean zip holding one headerless CSV of fields fields
// per row (named by columns), and calls row with each non-blank line's time
// (its first field, parsed by parseTime) and fields, once its field count
// and time are checked. It returns the lines refused (by the checks or by
// row); the error is for a file that cannot be read at all.
func readLeanRows(path string, fields int, columns string, parseTime func([]byte) (time.Time, RejectReason, string),
	row func(ts time.Time, fs [][]byte) (RejectReason, string)) ([]RowReject, error) {
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
		ts, reason, detail := parseTime(fs[0])
		if reason != "" {
			return reason, detail
		}
		return row(ts, fs)
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

// openLeanZip opens a Lean zip and returns it with its one entry (the CSV).
// The caller closes the reader.
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

// leanFirstLine returns the first non-blank line of zf, the CSV of the Lean
// zip at path (nil for a CSV without one), for telling layouts apart. Errors
// are the read error, naming the file.
func leanFirstLine(path string, zf *zip.File) ([]byte, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("quote: lean file %s: %w", path, err)
	}
	defer rc.Close()
	lr := newLineReader(rc)
	for {
		b, _, err := lr.next()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("quote: lean file %s: %w", path, err)
		}
		if len(bytes.TrimSpace(b)) != 0 {
			return bytes.Clone(b), nil
		}
	}
}
