package quote

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CSV layouts recognised by ReadCSV from the header (names are compared
// case-insensitively, after trimming spaces and a UTF-8 byte order mark):
//
//   - Intraday, "time,open,high,low,close,volume": the layout of Alpha
//     Vantage's intraday CSV (TIME_SERIES_INTRADAY(_EXTENDED), datatype=csv).
//     Times are "2006-01-02 15:04:05" local to US/Eastern with no zone in the
//     file. Alpha Vantage labels each bar by its END: the extended-hours day
//     runs 04:00-20:00 and its files go from 04:01 to 20:00, and the opening
//     and closing auction volume sits in the 09:31 and 16:01 (13:01 on a half
//     day) bars. Quote.TS is the bar's start, so the reader subtracts the bar
//     interval, taken as the smallest gap between two rows (1 minute for a
//     1-minute file, and when the file has fewer than two rows).
//   - Daily, "Date,Open,High,Low,Close[,Adj Close],Volume": Yahoo Finance's
//     download CSV and most daily exports. Date is the trading date
//     ("2006-01-02"); the bar is stamped at the 09:30 US/Eastern market open
//     of that date, as Yahoo's own v8 chart API stamps daily bars, so that
//     Quote.Day() is that date. Close is the raw close; Adj Close is ignored.
//     Rows with "null" fields (Yahoo writes them for days without trading)
//     are skipped.
//
// Rows are returned in ascending time whatever their order in the file (Alpha
// Vantage writes newest first).
const (
	layoutIntraday = "intraday"
	layoutDaily    = "daily"
)

// marketOpen is the regular-session open of US equities, in US/Eastern.
const marketOpenHour, marketOpenMin = 9, 30

// ReadFile reads the bars of symbol from the file at path, telling its format
// by name and header:
//
//   - <yyyymmdd>_trade.zip: a Lean minute trade zip (ReadLeanTradeZip). When a
//     <yyyymmdd>_quote.zip lies beside it, each bar's Bid and Ask are set to
//     the bid and ask close of that minute (MergeBidAsk).
//   - <yyyymmdd>_trade.zip holding ticks (its CSV named *_Tick.csv, or the
//     4th field of its first row not an integer): the trade ticks of
//     ReadLeanTickZip (the day's quote zip folded in), flagged by FlagTicks
//     with TickMedianWindow and TickMedianPct: the ticks a replay yields.
//     Rejected lines are left out silently; ReadLeanTickZip returns them.
//   - anything else: a CSV of one of the layouts of ReadCSV.
//
// It returns the bars (or ticks) in ascending time (Position), with Source
// "replay:lean", "replay:lean-tick", "replay:intraday-csv" or
// "replay:daily-csv". Errors wrap ErrFormat or
// ErrUnknownFormat (or the I/O error) and name the file and, for a malformed
// row, its 1-based line.
func ReadFile(path, symbol string) ([]Quote, error) {
	base := strings.ToLower(filepath.Base(path))
	switch {
	case strings.HasSuffix(base, "_trade.zip"):
		tick, err := isTickZip(path, 3)
		if err != nil {
			return nil, err
		}
		if tick {
			qs, _, err := ReadLeanTickZip(path, symbol)
			if err != nil {
				return nil, err
			}
			FlagTicks(qs, TickMedianWindow, TickMedianPct)
			return qs, nil
		}
		qs, err := ReadLeanTradeZip(path, symbol)
		if err != nil {
			return nil, err
		}
		qpath := path[:len(path)-len("_trade.zip")] + "_quote.zip"
		if _, err := os.Stat(qpath); err == nil {
			bars, err := ReadLeanQuoteZip(qpath)
			if err != nil {
				return nil, err
			}
			MergeBidAsk(qs, bars)
		}
		return qs, nil
	case strings.HasSuffix(base, ".zip"):
		return nil, fmt.Errorf("%w: %s: a zip other than a Lean <yyyymmdd>_trade.zip", ErrUnknownFormat, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("quote: %w", err)
	}
	defer f.Close()
	return ReadCSV(bufio.NewReader(f), path, symbol)
}

// ReadCSV reads the bars of symbol from a CSV with a header naming one of the
// layouts described above (see layoutIntraday and layoutDaily), and returns
// them in ascending time. name is used in errors only (the file name).
//
// Errors wrap ErrUnknownFormat for an unrecognised header and ErrFormat for a
// malformed row, naming name and the 1-based line (the header is line 1). No
// partial result is returned with an error.
func ReadCSV(r io.Reader, name, symbol string) ([]Quote, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: %s: empty file", ErrUnknownFormat, name)
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	layout, cols, err := detectLayout(header)
	if err != nil {
		return nil, fmt.Errorf("%w: %s line 1: %v", ErrUnknownFormat, name, err)
	}
	cr.FieldsPerRecord = len(header)
	source := "replay:" + layout + "-csv"
	var out []Quote
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		q, skip, err := parseRow(rec, cols, layout)
		if err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %v", ErrFormat, name, line, err)
		}
		if skip {
			continue
		}
		q.Symbol, q.Source = symbol, source
		out = append(out, q)
	}
	sortAscending(out)
	if layout == layoutIntraday {
		step := minGap(out)
		for i := range out {
			out[i].TS = out[i].TS.Add(-step)
		}
	}
	return out, nil
}

// colIndex holds the column of each field in a CSV row.
type colIndex struct{ ts, open, high, low, close, volume int }

func detectLayout(header []string) (string, colIndex, error) {
	c := colIndex{-1, -1, -1, -1, -1, -1}
	layout := ""
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		var p *int
		switch h {
		case "time", "timestamp":
			p, layout = &c.ts, layoutIntraday
		case "date":
			p, layout = &c.ts, layoutDaily
		case "open":
			p = &c.open
		case "high":
			p = &c.high
		case "low":
			p = &c.low
		case "close":
			p = &c.close
		case "volume":
			p = &c.volume
		case "adj close", "adj_close", "adjclose":
			continue
		default:
			return "", c, fmt.Errorf("unknown column %q (want time|date,open,high,low,close,volume)", h)
		}
		if *p >= 0 {
			return "", c, fmt.Errorf("column %q twice", h)
		}
		*p = i
	}
	for _, v := range []int{c.ts, c.open, c.high, c.low, c.close, c.volume} {
		if v < 0 {
			return "", c, fmt.Errorf("header %q lacks a column (want time|date,open,high,low,close,volume)", strings.Join(header, ","))
		}
	}
	return layout, c, nil
}

// parseRow parses one data row. skip is true for a Yahoo "null" row.
func parseRow(rec []string, c colIndex, layout string) (q Quote, skip bool, err error) {
	for _, i := range []int{c.open, c.high, c.low, c.close, c.volume} {
		if strings.TrimSpace(rec[i]) == "null" {
			return q, true, nil
		}
	}
	ts := strings.TrimSpace(rec[c.ts])
	if layout == layoutDaily {
		d, err := time.ParseInLocation("2006-01-02", ts, Eastern)
		if err != nil {
			return q, false, fmt.Errorf("date %q: want yyyy-mm-dd", ts)
		}
		q.TS = time.Date(d.Year(), d.Month(), d.Day(), marketOpenHour, marketOpenMin, 0, 0, Eastern).UTC()
	} else {
		t, err := time.ParseInLocation(time.DateTime, ts, Eastern)
		if err != nil {
			return q, false, fmt.Errorf("time %q: want yyyy-mm-dd hh:mm:ss", ts)
		}
		q.TS = t.UTC()
	}
	fields := []struct {
		col  int
		name string
		dst  *float64
	}{{c.open, "open", &q.Open}, {c.high, "high", &q.High}, {c.low, "low", &q.Low}, {c.close, "close", &q.Close}}
	for _, f := range fields {
		if *f.dst, err = strconv.ParseFloat(strings.TrimSpace(rec[f.col]), 64); err != nil {
			return q, false, fmt.Errorf("%s %q: not a number", f.name, rec[f.col])
		}
	}
	if q.Volume, err = parseVolume(rec[c.volume]); err != nil {
		return q, false, err
	}
	return q, false, nil
}

// parseVolume parses an integer volume, accepting an integral decimal such as
// "1200.0" (some exports write volumes as floats).
func parseVolume(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != float64(int64(f)) {
		return 0, fmt.Errorf("volume %q: not an integer", s)
	}
	return int64(f), nil
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%w: %s line %d: %v", ErrFormat, name, pe.Line, pe.Err)
	}
	return fmt.Errorf("quote: %s: %w", name, err)
}

// sortAscending puts qs in ascending TS order: reversed when the input is in
// descending order (the Alpha Vantage case, linear time), sorted otherwise.
func sortAscending(qs []Quote) {
	desc, asc := true, true
	for i := 1; i < len(qs); i++ {
		c := qs[i].TS.Compare(qs[i-1].TS)
		desc = desc && c < 0
		asc = asc && c > 0
	}
	switch {
	case asc:
	case desc:
		slices.Reverse(qs)
	default:
		slices.SortStableFunc(qs, func(a, b Quote) int { return a.TS.Compare(b.TS) })
	}
}

// minGap returns the smallest positive gap between consecutive quotes of an
// ascending slice, or one minute when there is none.
func minGap(qs []Quote) time.Duration {
	var step time.Duration
	for i := 1; i < len(qs); i++ {
		if d := qs[i].TS.Sub(qs[i-1].TS); d > 0 && (step == 0 || d < step) {
			step = d
		}
	}
	if step == 0 {
		step = time.Minute
	}
	return step
}
