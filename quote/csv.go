package quote

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// CSV layouts recognised by ReadCSV, from the header and the first row
// (header names are compared case-insensitively, after trimming spaces,
// quotes and a UTF-8 byte order mark):
//
//   - Columns: a time column named time, timestamp, date or datetime; open,
//     high, low, close (or last) and volume. Other columns (adj close,
//     indicators, counts, ...) are ignored; ReadFileInfo names them and the
//     replay logs them once per file. A header without one of the six is
//     refused (ErrUnknownFormat, naming the header and what it lacks).
//   - Times, in the exchange's time (US/Eastern; no zone or offset in the
//     file: one is refused, ReasonTimeZone): "2006-01-02 15:04:05",
//     "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04", or US
//     dates "1/2/2006 15:04:05", "1/2/2006 15:04" (month first, as US
//     exports write them; day-first dates are not read).
//   - Dates alone, "2006-01-02" or "1/2/2006" (Yahoo Finance's download CSV
//     and most daily exports): a daily file. The bar is stamped at the 09:30
//     US/Eastern market open of that date, as Yahoo's own v8 chart API stamps
//     daily bars, so that Quote.Day() is that date. Rows with "null" fields
//     (Yahoo writes them for days without trading) are skipped.
//
// The first valid row fixes the file's kind (intraday or daily): a row of
// the other kind is refused (ReasonBadTime).
//
// Intraday bars are labelled by one end of their interval, and Quote.TS is
// the bar's start. Which end a file uses is a fact of its source, read from
// the spec (label=start|end, Label) or else from unambiguous evidence in the
// file's own times of day (US/Eastern), never guessed:
//
//   - a file with bars outside 09:30-16:00 (extended hours): end if a bar
//     is labelled 20:00 (the extended session's end), start if one is
//     labelled 04:00 (its start). Alpha Vantage labels its bars by their
//     end: its extended-hours files run 04:01-20:00.
//   - a file of the regular session only: end if a bar is labelled 16:00 and
//     none 09:30 (09:31 to 16:00), start if one is labelled 09:30 and none
//     16:00 (09:30 to 15:59).
//
// With evidence both ways (a 24-hour file) or none (part of a session), the
// file is refused (ErrAmbiguousLabels) unless the spec says which. An
// end-labelled bar's start is its label minus the bar interval, taken as the
// smallest gap between two rows (1 minute for a file of one row).
//
// Rows are returned in ascending time whatever their order in the file (Alpha
// Vantage writes newest first).
const (
	layoutIntraday = "intraday"
	layoutDaily    = "daily"
	// sourceDailyCSV is the Source of a daily CSV's bars.
	sourceDailyCSV = "replay:" + layoutDaily + "-csv"
)

// Label says which end of its interval an intraday bar's time names (see
// the CSV layouts above). The zero value, LabelDetect, reads it from the
// file's evidence.
type Label string

// Bar labels.
const (
	LabelDetect Label = ""
	LabelStart  Label = "start"
	LabelEnd    Label = "end"
)

// ParseLabel parses "start" or "end" (or "" for LabelDetect). Errors quote
// the value and wrap ErrBadSpec.
func ParseLabel(v string) (Label, error) {
	switch l := Label(strings.ToLower(strings.TrimSpace(v))); l {
	case LabelDetect, LabelStart, LabelEnd:
		return l, nil
	}
	return "", fmt.Errorf("%w: label %q: want start or end", ErrBadSpec, v)
}

// FileInfo is what a file reader found out about a file beside its rows.
type FileInfo struct {
	// Ignored are the CSV header's columns that were not read.
	Ignored []string
	// Label is the intraday bars' label (the spec's, or detected); empty
	// for daily and Lean files.
	Label Label
	// Detected is true when Label came from the file's evidence.
	Detected bool
}

// marketOpen is the regular-session open of US equities, in US/Eastern.
const marketOpenHour, marketOpenMin = 9, 30

// dailyBarTime returns the time a daily bar of the date of t (in t's
// location, US/Eastern for every reader) is stamped with, in UTC: the 09:30
// US/Eastern market open of that date, as Yahoo's v8 chart API stamps daily
// bars, so that Quote.Day() is the date. Every daily layout (daily CSVs,
// Lean daily zips, Alpha Vantage's global quote) stamps its bars with it.
func dailyBarTime(t time.Time) time.Time { return DailyBarTimeIn(t, Eastern) }

// DailyBarTimeIn returns the time (UTC) a daily bar of the date of t (in
// t's location) is stamped with in the exchange zone loc: 09:30 local there
// of that date, so that its Day in loc is that date. A replay whose spec sets
// tz= stamps its daily bars so (09:30 US/Eastern could be the next date in a
// zone east of UTC+09:30, as Sydney or Auckland).
func DailyBarTimeIn(t time.Time, loc *time.Location) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), marketOpenHour, marketOpenMin, 0, 0, loc).UTC()
}

// isEastern reports whether loc is US/Eastern under one of its IANA names.
func isEastern(loc *time.Location) bool {
	switch loc.String() {
	case DefaultZone, "US/Eastern", "EST5EDT":
		return true
	}
	return loc == Eastern
}

// isDailyBar reports whether q is a daily bar of a replay file (a daily CSV's
// or a Lean daily zip's), by its Source.
func isDailyBar(q Quote) bool { return q.Source == sourceDailyCSV || q.Source == sourceLeanDaily }

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
//   - <yyyymmdd>_quote.zip without a <yyyymmdd>_trade.zip beside it: the
//     quote-derived bars of ReadLeanQuoteBars (bid/ask midpoints, volume 0).
//     Beside its trade zip, or holding quote ticks (its CSV *_Tick.csv or
//     the 6th field of its first row not an integer), it is refused
//     (ErrUnknownFormat): it is read with the trade zip.
//   - any other zip whose name does not start with <yyyymmdd>_, such as
//     spy.zip: a Lean daily zip (ReadLeanDailyZip; told by its first row
//     `yyyymmdd 00:00,...`, an hour zip refused), each bar at 09:30 US/Eastern
//     of its date as a daily CSV's.
//   - a file whose content starts with '{' (after spaces and a UTF-8 byte
//     order mark), whatever its name: a saved JSON response, told by its
//     top-level key (see readJSON): "quoteResponse", Yahoo's v7 quote
//     endpoint, read as ParseYahooQuote's snapshots of symbol (Source
//     "replay:yahoo-v7", no RowReject: a bad result fails the file); any
//     other (a v8 "chart" included) is refused (ErrUnknownFormat).
//   - anything else: a CSV of one of the layouts of ReadCSV.
//
// The file is read row by row: a bad row is left out and returned as a
// RowReject (file, 1-based line, reason, text), the valid rows are
// returned. A minute or daily row is refused for too few or too many fields
// (ReasonBadFields), a time that does not parse (ReasonBadTime) or has a
// zone where the layout has none (ReasonTimeZone), a price that is not a
// number (ReasonBadPrice) or not finite (ReasonNaNPrice), a volume that is
// not a whole number (ReasonBadVolume) or beyond int64 (ReasonVolumeRange),
// and whatever Validate refuses of the bar (before 1970 or year 0000:
// ReasonAncientTS; a price <= 0, high < low, volume above MaxVolume ...).
//
// It returns the bars (or ticks) in ascending time (Position), with Source
// "replay:lean", "replay:lean-tick", "replay:lean-quote",
// "replay:lean-daily", "replay:intraday-csv", "replay:daily-csv" or
// "replay:yahoo-v7". Errors
// are for a file that cannot be read at all (nothing is returned with them);
// they wrap ErrFormat or ErrUnknownFormat (or are the I/O or zip error) and
// name the file.
func ReadFileRejects(path, symbol string) ([]Quote, []RowReject, error) {
	qs, rejects, _, err := ReadFileInfo(path, symbol, LabelDetect)
	return qs, rejects, err
}

// ReadFileInfo is ReadFileRejects with the intraday bars' label given
// (LabelDetect: read from the file's evidence, see ReadCSV) and what it found
// out about the file. A CSV whose labels are ambiguous, with LabelDetect, is
// an error wrapping ErrAmbiguousLabels (and ErrUnknownFormat).
func ReadFileInfo(path, symbol string, label Label) ([]Quote, []RowReject, FileInfo, error) {
	return ReadFileInZone(path, symbol, label, Eastern)
}

// ReadFileInZone is ReadFileInfo for a CSV whose wall times are in the
// exchange zone loc (a replay spec's tz=): its intraday times are read in
// loc and its daily bars stamped 09:30 of their date in loc
// (DailyBarTimeIn). The label evidence (ReadCSV) is about US sessions, so
// an intraday CSV in another zone than Eastern needs its label given (with
// LabelDetect: ErrAmbiguousLabels). Lean zips are US/Eastern whatever loc.
func ReadFileInZone(path, symbol string, label Label, loc *time.Location) ([]Quote, []RowReject, FileInfo, error) {
	if strings.HasSuffix(strings.ToLower(filepath.Base(path)), ".zip") {
		qs, rejects, err := readZip(path, symbol)
		return qs, rejects, FileInfo{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, FileInfo{}, fmt.Errorf("quote: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if isJSONObject(br) {
		qs, err := readJSON(br, path, symbol)
		return qs, nil, FileInfo{}, err
	}
	return readCSVIn(br, path, symbol, label, loc)
}

// readZip reads a Lean zip (see ReadFileRejects).
func readZip(path, symbol string) ([]Quote, []RowReject, error) {
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
	case strings.HasSuffix(base, "_quote.zip"):
		if t := siblingTradeZip(path); t != "" {
			return nil, nil, fmt.Errorf("%w: %s: a Lean quote zip beside its trade zip %s, which it is read with (as the bars' bid and ask): replay the trade zip",
				ErrUnknownFormat, path, t)
		}
		tick, err := isTickZip(path, 5)
		if err != nil {
			return nil, nil, err
		}
		if tick {
			return nil, nil, fmt.Errorf("%w: %s: a Lean tick quote zip without its trade zip (quote ticks are only read folded into the trades)",
				ErrUnknownFormat, path)
		}
		return readLeanQuoteBars(path, symbol)
	case isLeanDailyName(base):
		return readLeanDaily(path, symbol)
	}
	return nil, nil, fmt.Errorf("%w: %s: a zip other than a Lean <yyyymmdd>_trade.zip, <yyyymmdd>_quote.zip or <ticker>.zip (daily)", ErrUnknownFormat, path)
}

// ReadCSV reads the bars of symbol from a CSV of the layouts described
// above, labels detected, and returns them in ascending time. name is used
// in errors only (the file name).
//
// It reads row by row and leaves out the rows ReadFileRejects refuses
// (silently: ReadFileRejects returns them). Fields may be quoted ("...")
// but hold no comma. Errors wrap ErrUnknownFormat for an empty file, an
// unrecognised header (naming name and line 1) or ambiguous labels
// (ErrAmbiguousLabels too); otherwise they are read errors. No partial
// result is returned with an error.
func ReadCSV(r io.Reader, name, symbol string) ([]Quote, error) {
	qs, _, _, err := readCSV(r, name, symbol, LabelDetect)
	return qs, err
}

// readCSV is ReadCSV with the bars' label given, the rows it refused and
// what it found out.
func readCSV(r io.Reader, name, symbol string, label Label) ([]Quote, []RowReject, FileInfo, error) {
	return readCSVIn(r, name, symbol, label, Eastern)
}

// readCSVIn is readCSV of a file whose wall times are in loc (see
// ReadFileInZone).
func readCSVIn(r io.Reader, name, symbol string, label Label, loc *time.Location) ([]Quote, []RowReject, FileInfo, error) {
	var info FileInfo
	lr := newLineReader(r)
	var header []string
	read := 0
	for header == nil {
		b, tooLong, err := lr.next()
		if err == io.EOF {
			return nil, nil, info, fmt.Errorf("%w: %s: empty file", ErrUnknownFormat, name)
		}
		if err != nil {
			return nil, nil, info, fmt.Errorf("quote: %s line %d: %w", name, read+1, err)
		}
		read++
		if tooLong {
			return nil, nil, info, fmt.Errorf("%w: %s line %d: header longer than the read buffer", ErrUnknownFormat, name, read)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		for _, h := range bytes.Split(b, []byte{','}) {
			header = append(header, string(unquote(h)))
		}
	}
	cols, ignored, err := detectLayout(header)
	if err != nil {
		return nil, nil, info, fmt.Errorf("%w: %s line %d: %v", ErrUnknownFormat, name, read, err)
	}
	info.Ignored = ignored
	want := len(header)
	columns := strings.Join(header, ",")
	var out []Quote
	layout := "" // fixed by the first valid row
	rejects, err := readLinesFrom(lr, read, name, make([][]byte, want), func(_ int, fs [][]byte, n int) (RejectReason, string) {
		if reason, detail := fieldCount(n, want, columns); reason != "" {
			return reason, detail
		}
		for i := range fs {
			fs[i] = unquote(fs[i])
		}
		q, rowLayout, skip, reason, detail := parseRow(fs, cols, layout, loc)
		if reason != "" || skip {
			return reason, detail
		}
		layout = rowLayout
		q.Symbol = symbol
		out = append(out, q)
		return "", ""
	})
	if err != nil {
		return nil, nil, info, err
	}
	sortAscending(out)
	source := "replay:" + layout + "-csv"
	for i := range out {
		out[i].Source = source
	}
	if layout == layoutIntraday {
		info.Label = label
		if label == LabelDetect {
			l, why := detectLabel(out)
			if !isEastern(loc) {
				l, why = LabelDetect, fmt.Sprintf("its times are in %s, and the evidence of labels is US sessions' first and last minutes", loc)
			}
			if l == LabelDetect {
				return nil, nil, info, fmt.Errorf("%w: %s: %w: %s; say which end the file's times name with label=start or label=end on the source (replay:%s?label=start)",
					ErrUnknownFormat, name, ErrAmbiguousLabels, why, name)
			}
			info.Label, info.Detected = l, true
		}
		if info.Label == LabelEnd {
			step := minGap(out)
			for i := range out {
				out[i].TS = out[i].TS.Add(-step)
			}
		}
	}
	return out, rejects, info, nil
}

// detectLabel reads the bars' label from the evidence described above
// (times of day in US/Eastern of bars labelled as in the file), or returns
// LabelDetect and why there is none.
func detectLabel(qs []Quote) (Label, string) {
	const open, close, extOpen, extClose = 9*60 + 30, 16 * 60, 4 * 60, 20 * 60
	seen := map[int]bool{}
	extended := false // a bar outside 09:30-16:00 (both labels' regular session)
	for _, q := range qs {
		t := q.TS.In(Eastern)
		m := t.Hour()*60 + t.Minute()
		seen[m] = true
		extended = extended || m < open || m > close
	}
	end, start := seen[extClose], seen[extOpen]
	if !extended {
		end, start = seen[close] && !seen[open], seen[open] && !seen[close]
	}
	switch {
	case end && !start:
		return LabelEnd, ""
	case start && !end:
		return LabelStart, ""
	case start && end:
		return LabelDetect, "bar times of day speak for both labels (bars at 04:00 or 09:30 and at 16:00 or 20:00 US/Eastern, as in a 24-hour file)"
	}
	return LabelDetect, "no bar at a session's first or last minute (04:00, 09:30, 16:00, 20:00 US/Eastern) tells whether a time names a bar's start or its end"
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

// detectLayout maps the header's columns (see the layouts above) and
// returns the ones it ignores.
func detectLayout(header []string) (colIndex, []string, error) {
	c := colIndex{-1, -1, -1, -1, -1, -1}
	var ignored []string
	lastCol := -1
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		var p *int
		switch h {
		case "time", "timestamp", "date", "datetime":
			p = &c.ts
		case "open":
			p = &c.open
		case "high":
			p = &c.high
		case "low":
			p = &c.low
		case "close":
			p = &c.close
		case "last":
			lastCol = i
			continue
		case "volume":
			p = &c.volume
		default:
			ignored = append(ignored, header[i])
			continue
		}
		if *p >= 0 {
			return c, nil, fmt.Errorf("columns %q and %q name the same field", header[*p], header[i])
		}
		*p = i
	}
	if lastCol >= 0 {
		if c.close < 0 {
			c.close = lastCol
		} else {
			ignored = append(ignored, header[lastCol]) // close is read
		}
	}
	for _, v := range []int{c.ts, c.open, c.high, c.low, c.close, c.volume} {
		if v < 0 {
			return c, nil, fmt.Errorf("header %q lacks a column (want time|timestamp|date|datetime, open, high, low, close|last, volume)", strings.Join(header, ","))
		}
	}
	return c, ignored, nil
}

// parseRow parses one data row (fields unquoted). skip is true for a Yahoo
// "null" row; otherwise a reason is given for a row refused (see
// ReadFileRejects).
// The row's layout (intraday or daily, from its time's form) must be the
// file's (layout; "" before the first valid row).
func parseRow(rec [][]byte, c colIndex, layout string, loc *time.Location) (q Quote, rowLayout string, skip bool, reason RejectReason, detail string) {
	for _, i := range []int{c.open, c.high, c.low, c.close, c.volume} {
		if string(rec[i]) == "null" {
			return q, "", true, "", ""
		}
	}
	if q.TS, rowLayout, reason, detail = parseCSVTime(string(rec[c.ts]), layout, loc); reason != "" {
		return q, "", false, reason, detail
	}
	fields := []struct {
		col  int
		name string
		dst  *float64
	}{{c.open, "open", &q.Open}, {c.high, "high", &q.High}, {c.low, "low", &q.Low}, {c.close, "close", &q.Close}}
	for _, f := range fields {
		if *f.dst, reason, detail = parseDecimalPrice(f.name, rec[f.col]); reason != "" {
			return q, "", false, reason, detail
		}
	}
	if q.Volume, reason, detail = parseVolumeField("volume", rec[c.volume]); reason != "" {
		return q, "", false, reason, detail
	}
	reason, detail = checkRow(q)
	return q, rowLayout, false, reason, detail
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

// The forms of a CSV time (see the layouts above), and forms of the same
// with a zone or offset (refused: the files' times are US/Eastern without
// one, and a zone would mean the file is not what its layout says).
var (
	csvTimeForms = []struct{ layout, kind string }{
		{time.DateTime, layoutIntraday}, {"2006-01-02 15:04", layoutIntraday},
		{"2006-01-02T15:04:05", layoutIntraday}, {"2006-01-02T15:04", layoutIntraday},
		{"1/2/2006 15:04:05", layoutIntraday}, {"1/2/2006 15:04", layoutIntraday},
		{time.DateOnly, layoutDaily}, {"1/2/2006", layoutDaily},
	}
	csvTimeWant = map[string]string{
		"":             "yyyy-mm-dd[ hh:mm[:ss]] or m/d/yyyy[ hh:mm[:ss]]",
		layoutIntraday: "a date and time like the file's first row (yyyy-mm-dd hh:mm[:ss] or m/d/yyyy hh:mm[:ss])",
		layoutDaily:    "a date like the file's first row (yyyy-mm-dd or m/d/yyyy)",
	}
	csvZoneLayouts = []string{
		time.RFC3339, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05 Z07:00", "2006-01-02T15:04:05Z0700",
		"2006-01-02 15:04:05Z0700", "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 MST", "2006-01-02T15:04:05 MST",
		"2006-01-02Z07:00", "2006-01-02 Z07:00", "2006-01-02 -0700", "2006-01-02 MST",
	}
)

// parseCSVTime parses a row's time (intraday) or date (daily, stamped at the
// 09:30 open) in loc (US/Eastern unless the spec says tz=) and returns it in
// UTC with its kind, which must be layout unless that is "" (the first row).
func parseCSVTime(s, layout string, loc *time.Location) (time.Time, string, RejectReason, string) {
	for _, f := range csvTimeForms {
		t, err := time.ParseInLocation(f.layout, s, loc)
		if err != nil {
			continue
		}
		if layout != "" && f.kind != layout {
			return time.Time{}, "", ReasonBadTime, fmt.Sprintf("time %q: want %s", s, csvTimeWant[layout])
		}
		if f.kind == layoutDaily {
			t = DailyBarTimeIn(t, loc)
		}
		return t.UTC(), f.kind, "", ""
	}
	zone := "US/Eastern"
	if !isEastern(loc) {
		zone = loc.String()
	}
	for _, l := range csvZoneLayouts {
		if _, err := time.Parse(l, s); err == nil {
			return time.Time{}, "", ReasonTimeZone, fmt.Sprintf("time %q has a zone or offset; the file's times are %s without one (want %s)", s, zone, csvTimeWant[layout])
		}
	}
	return time.Time{}, "", ReasonBadTime, fmt.Sprintf("time %q: want %s", s, csvTimeWant[layout])
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
