package quote

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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

// ReadFile reads the bars (or ticks) of symbol from the file at path; it is
// ReadFileRejects without the rejected lines, which it leaves out silently.
func ReadFile(path, symbol string) ([]Quote, error) {
	qs, _, err := ReadFileRejects(path, symbol)
	return qs, err
}

// ReadFileRejects reads the bars of symbol from the file at path, telling
// its format by name and header:
//
//   - <yyyymmdd>_trade.zip: a Lean minute trade zip (ReadLeanTradeZip). When a
//     <yyyymmdd>_quote.zip lies beside it, each bar's Bid and Ask are set to
//     the bid and ask close of that minute (MergeBidAsk); a quote zip that
//     cannot be read is a RowReject of ReasonBadFile and the bars go on
//     without bid and ask.
//   - <yyyymmdd>_trade.zip holding ticks (its CSV named *_Tick.csv, or the
//     4th field of its first row not an integer): the trade ticks of
//     ReadLeanTickZip (the day's quote zip folded in), flagged by FlagTicks
//     with TickMedianWindow and TickMedianPct: the ticks a replay yields.
//   - anything else: a CSV of one of the layouts of ReadCSV.
//
// The file is read row by row: a bad row is left out and returned as a
// RowReject (file, 1-based line, reason, text), the valid rows are
// returned. A minute row is refused for too few or too many fields
// (ReasonBadFields), a time that does not parse (ReasonBadTime) or has a
// zone where the layout has none (ReasonTimeZone), a price that is not a
// number (ReasonBadPrice) or not finite (ReasonNaNPrice), a volume that is
// not a whole number (ReasonBadVolume) or beyond int64 (ReasonVolumeRange),
// and whatever Validate refuses of the bar (before 1970 or year 0000:
// ReasonAncientTS; a price <= 0, high < low, volume above MaxVolume ...).
//
// It returns the bars (or ticks) in ascending time (Position), with Source
// "replay:lean", "replay:lean-tick", "replay:intraday-csv" or
// "replay:daily-csv". Errors are for a file that cannot be read at all
// (nothing is returned with them); they wrap ErrFormat or ErrUnknownFormat
// (or are the I/O or zip error) and name the file.
func ReadFileRejects(path, symbol string) ([]Quote, []RowReject, error) {
	base := strings.ToLower(filepath.Base(path))
	switch {
	case strings.HasSuffix(base, "_trade.zip"):
		tick, err := isTickZip(path, 3)
		if err != nil {
			return nil, nil, err
		}
		if tick {
			qs, rejects, err := ReadLeanTickZip(path, symbol)
			if err != nil {
				return nil, nil, err
			}
			FlagTicks(qs, TickMedianWindow, TickMedianPct)
			return qs, rejects, nil
		}
		qs, rejects, err := readLeanTrade(path, symbol)
		if err != nil {
			return nil, nil, err
		}
		qpath := path[:len(path)-len("_trade.zip")] + "_quote.zip"
		if _, err := os.Stat(qpath); err == nil {
			bars, qrejects, err := readLeanQuote(qpath)
			if err != nil {
				rejects = append(rejects, *fileReject(qpath, err))
			} else {
				rejects = append(rejects, qrejects...)
				MergeBidAsk(qs, bars)
			}
		}
		return qs, rejects, nil
	case strings.HasSuffix(base, ".zip"):
		return nil, nil, fmt.Errorf("%w: %s: a zip other than a Lean <yyyymmdd>_trade.zip", ErrUnknownFormat, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("quote: %w", err)
	}
	defer f.Close()
	return readCSV(f, path, symbol)
}

// ReadCSV reads the bars of symbol from a CSV with a header naming one of the
// layouts described above (see layoutIntraday and layoutDaily), and returns
// them in ascending time. name is used in errors only (the file name).
//
// It reads row by row and leaves out the rows ReadFileRejects refuses
// (silently: ReadFileRejects returns them). Fields may be quoted ("...")
// but hold no comma. Errors wrap ErrUnknownFormat for an empty file or an
// unrecognised header (naming name and line 1); otherwise they are read
// errors. No partial result is returned with an error.
func ReadCSV(r io.Reader, name, symbol string) ([]Quote, error) {
	qs, _, err := readCSV(r, name, symbol)
	return qs, err
}

// readCSV is ReadCSV with the rows it refused.
func readCSV(r io.Reader, name, symbol string) ([]Quote, []RowReject, error) {
	lr := newLineReader(r)
	var header []string
	read := 0
	for header == nil {
		b, tooLong, err := lr.next()
		if err == io.EOF {
			return nil, nil, fmt.Errorf("%w: %s: empty file", ErrUnknownFormat, name)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("quote: %s line %d: %w", name, read+1, err)
		}
		read++
		if tooLong {
			return nil, nil, fmt.Errorf("%w: %s line %d: header longer than the read buffer", ErrUnknownFormat, name, read)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		for _, h := range bytes.Split(b, []byte{','}) {
			header = append(header, string(unquote(h)))
		}
	}
	layout, cols, err := detectLayout(header)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s line %d: %v", ErrUnknownFormat, name, read, err)
	}
	source := "replay:" + layout + "-csv"
	want := len(header)
	columns := strings.Join(header, ",")
	var out []Quote
	rejects, err := readLinesFrom(lr, read, name, make([][]byte, want), func(_ int, fs [][]byte, n int) (RejectReason, string) {
		if reason, detail := fieldCount(n, want, columns); reason != "" {
			return reason, detail
		}
		for i := range fs {
			fs[i] = unquote(fs[i])
		}
		q, skip, reason, detail := parseRow(fs, cols, layout)
		if reason != "" || skip {
			return reason, detail
		}
		q.Symbol, q.Source = symbol, source
		out = append(out, q)
		return "", ""
	})
	if err != nil {
		return nil, nil, err
	}
	sortAscending(out)
	if layout == layoutIntraday {
		step := minGap(out)
		for i := range out {
			out[i].TS = out[i].TS.Add(-step)
		}
	}
	return out, rejects, nil
}

// unquote trims spaces, a UTF-8 byte order mark and one pair of surrounding
// double quotes from a CSV field.
func unquote(b []byte) []byte {
	b = bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\ufeff")))
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = bytes.TrimSpace(b[1 : len(b)-1])
	}
	return b
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

// parseRow parses one data row (fields unquoted). skip is true for a Yahoo
// "null" row; otherwise a reason is given for a row refused (see
// ReadFileRejects).
func parseRow(rec [][]byte, c colIndex, layout string) (q Quote, skip bool, reason RejectReason, detail string) {
	for _, i := range []int{c.open, c.high, c.low, c.close, c.volume} {
		if string(rec[i]) == "null" {
			return q, true, "", ""
		}
	}
	if q.TS, reason, detail = parseCSVTime(string(rec[c.ts]), layout); reason != "" {
		return q, false, reason, detail
	}
	fields := []struct {
		col  int
		name string
		dst  *float64
	}{{c.open, "open", &q.Open}, {c.high, "high", &q.High}, {c.low, "low", &q.Low}, {c.close, "close", &q.Close}}
	for _, f := range fields {
		if *f.dst, reason, detail = parseDecimalPrice(f.name, rec[f.col]); reason != "" {
			return q, false, reason, detail
		}
	}
	if q.Volume, reason, detail = parseVolumeField("volume", rec[c.volume]); reason != "" {
		return q, false, reason, detail
	}
	reason, detail = checkRow(q)
	return q, false, reason, detail
}

// parseVolume is parseVolumeField for the HTTP sources: a volume that is
// not a whole number within int64 is an error quoting it.
func parseVolume(s string) (int64, error) {
	v, reason, detail := parseVolumeField("volume", []byte(s))
	if reason != "" {
		return 0, fmt.Errorf("%s", detail)
	}
	return v, nil
}

// Layouts of a CSV time, and layouts of the same with a zone or offset
// (refused: the files' times are US/Eastern without one, and a zone would
// mean the file is not what its layout says).
var (
	csvTimeLayouts = map[string]string{layoutIntraday: time.DateTime, layoutDaily: time.DateOnly}
	csvTimeWant    = map[string]string{layoutIntraday: "yyyy-mm-dd hh:mm:ss", layoutDaily: "yyyy-mm-dd"}
	csvZoneLayouts = []string{
		time.RFC3339, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05 Z07:00", "2006-01-02T15:04:05Z0700",
		"2006-01-02 15:04:05Z0700", "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 MST", "2006-01-02T15:04:05 MST",
		"2006-01-02Z07:00", "2006-01-02 Z07:00", "2006-01-02 -0700", "2006-01-02 MST",
	}
)

// parseCSVTime parses a row's time (intraday) or date (daily, stamped at the
// 09:30 US/Eastern open) and returns it in UTC.
func parseCSVTime(s, layout string) (time.Time, RejectReason, string) {
	t, err := time.ParseInLocation(csvTimeLayouts[layout], s, Eastern)
	if err != nil {
		for _, l := range csvZoneLayouts {
			if _, err := time.Parse(l, s); err == nil {
				return t, ReasonTimeZone, fmt.Sprintf("time %q has a zone or offset; the file's times are US/Eastern without one (want %s)", s, csvTimeWant[layout])
			}
		}
		return t, ReasonBadTime, fmt.Sprintf("time %q: want %s", s, csvTimeWant[layout])
	}
	if layout == layoutDaily {
		t = time.Date(t.Year(), t.Month(), t.Day(), marketOpenHour, marketOpenMin, 0, 0, Eastern)
	}
	return t.UTC(), "", ""
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
