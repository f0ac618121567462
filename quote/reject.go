package quote

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// Row-by-row reading of replay files. Every reader (Lean minute and tick
// zips, CSVs) reads a file line by line: a line it refuses is left out and
// reported as a RowReject naming the file, the 1-based line and a
// RejectReason, and the reading goes on, so one bad row never costs the
// file's valid rows. Only a file that cannot be read at all (not a zip, an
// unknown header, an I/O error) fails; the replay then leaves that file out
// and reports it once as a RowReject of ReasonBadFile (Line 0).

// RowReject is one line of a replay file that a reader refused, or (Line 0,
// ReasonBadFile) a whole file the replay could not read and left out. It is
// an error (for Options.Rejected): a refused line matches ErrFormat with
// errors.Is; a refused file unwraps to the error that made it unreadable.
type RowReject struct {
	File   string       // path of the file (a zip, or the quote zip folded into a trade zip, or a CSV)
	Line   int          // 1-based line (of the CSV inside a zip); 0 for a whole file (ReasonBadFile)
	Reason RejectReason // why; see the RejectReason constants
	Text   string       // the line as read, without its end, at most 200 bytes ("" for a whole file)
	Detail string       // what is wrong, e.g. "price -1 <= 0"
	Err    error        // ReasonBadFile: the error reading the file; nil for a line
}

func (r *RowReject) Error() string {
	if r.Line == 0 {
		return fmt.Sprintf("quote: file %s: %s: %s", r.File, r.Reason, r.Detail)
	}
	return fmt.Sprintf("quote: file %s line %d: %s: %s: %q", r.File, r.Line, r.Reason, r.Detail, r.Text)
}

// Is makes errors.Is(r, ErrFormat) true for a refused line.
func (r *RowReject) Is(target error) bool { return target == ErrFormat && r.Err == nil }

// Unwrap returns the error that made a whole file unreadable, or nil.
func (r *RowReject) Unwrap() error { return r.Err }

// fileReject is the RowReject of a file the replay could not read.
func fileReject(path string, err error) *RowReject {
	return &RowReject{File: path, Reason: ReasonBadFile, Detail: err.Error(), Err: err}
}

// lineFunc checks one non-blank line: its 1-based number, its fields (split
// at commas, up to len(fields)) and n, the number of fields found (which may
// exceed len(fields)). It returns a reject reason and detail, or "" to accept
// the line.
type lineFunc func(line int, fields [][]byte, n int) (RejectReason, string)

// readLines calls fn with every non-blank line of r and returns the lines it
// refused (File = name), a line too long for the read buffer included
// (ReasonBadFields). The error is a read error only (naming name and the
// line); the rows before it have been passed to fn.
func readLines(r io.Reader, name string, fields [][]byte, fn lineFunc) ([]RowReject, error) {
	return readLinesFrom(newLineReader(r), 0, name, fields, fn)
}

// readLinesFrom is readLines on the lines of lr after line `read` (the
// number of lines already read from it, e.g. a header).
func readLinesFrom(lr *lineReader, read int, name string, fields [][]byte, fn lineFunc) ([]RowReject, error) {
	var rejects []RowReject
	for line := read + 1; ; line++ {
		b, tooLong, err := lr.next()
		if err == io.EOF {
			return rejects, nil
		}
		if err != nil {
			return rejects, fmt.Errorf("quote: file %s line %d: %w", name, line, err)
		}
		if !tooLong && len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var reason RejectReason
		var detail string
		if tooLong {
			reason, detail = ReasonBadFields, "line longer than the read buffer"
		} else {
			reason, detail = fn(line, fields, splitFields(b, fields))
		}
		if reason != "" {
			text := b[:min(len(b), maxRejectText)]
			rejects = append(rejects, RowReject{File: name, Line: line, Reason: reason, Text: string(text), Detail: detail})
		}
	}
}

// fieldCount checks a line's number of fields against want, naming the
// columns (e.g. "ms,open,high,low,close,volume").
func fieldCount(n, want int, columns string) (RejectReason, string) {
	switch {
	case n < want:
		return ReasonBadFields, fmt.Sprintf("%d fields, too few; want %d (%s)", n, want, columns)
	case n > want:
		return ReasonBadFields, fmt.Sprintf("%d fields, too many; want %d (%s)", n, want, columns)
	}
	return "", ""
}

// maxInt64Float is 2^63, the first float64 above every int64.
const maxInt64Float = float64(1 << 63)

// parseDecimalPrice parses a CSV price: a finite decimal number. Its sign
// and size are left to Validate.
func parseDecimalPrice(name string, b []byte) (float64, RejectReason, string) {
	s := string(bytes.TrimSpace(b))
	v, err := strconv.ParseFloat(s, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) && math.Abs(v) > 1:
		return 0, ReasonPriceRange, fmt.Sprintf("%s %q: beyond the range of a float64", name, s)
	case err != nil:
		return 0, ReasonBadPrice, fmt.Sprintf("%s %q: not a number", name, s)
	case math.IsNaN(v) || math.IsInf(v, 0):
		return 0, ReasonNaNPrice, fmt.Sprintf("%s %q: not finite", name, s)
	}
	return v, "", ""
}

// parseScaledPrice parses a Lean price: an integer, dollars x 10000. NaN or
// Inf written in its place is ReasonNaNPrice, an integer beyond int64
// ReasonPriceRange, anything else not an integer ReasonBadPrice.
func parseScaledPrice(name string, b []byte) (float64, RejectReason, string) {
	if v, ok := atoi(b); ok {
		return float64(v) / leanPriceScale, "", ""
	}
	s := string(bytes.TrimSpace(b))
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err == nil && (math.IsNaN(f) || math.IsInf(f, 0)):
		return 0, ReasonNaNPrice, fmt.Sprintf("%s %q: not finite", name, s)
	case err == nil && f == math.Trunc(f) || errors.Is(err, strconv.ErrRange) && math.Abs(f) > 1:
		return 0, ReasonPriceRange, fmt.Sprintf("%s %q: beyond the range of an int64", name, s)
	}
	return 0, ReasonBadPrice, fmt.Sprintf("%s %q: not an integer (x %d)", name, s, leanPriceScale)
}

// parseVolumeField parses a bar's volume: an integer, or an integral decimal such
// as "1200.0" (some exports write volumes as floats). Not a number, NaN, Inf
// or a fraction is ReasonBadVolume; a value beyond int64 ReasonVolumeRange.
// A negative volume or one above MaxVolume is returned, for Validate.
func parseVolumeField(name string, b []byte) (int64, RejectReason, string) {
	if v, ok := atoi(b); ok {
		return v, "", ""
	}
	s := string(bytes.TrimSpace(b))
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) && math.Abs(f) > 1:
		return 0, ReasonVolumeRange, fmt.Sprintf("%s %q: beyond the range of an int64", name, s)
	case err != nil:
		return 0, ReasonBadVolume, fmt.Sprintf("%s %q: not a number", name, s)
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, ReasonBadVolume, fmt.Sprintf("%s %q: not finite", name, s)
	case f != math.Trunc(f):
		return 0, ReasonBadVolume, fmt.Sprintf("%s %q: fractional (want a whole number)", name, s)
	case math.Abs(f) >= maxInt64Float:
		return 0, ReasonVolumeRange, fmt.Sprintf("%s %q: beyond the range of an int64", name, s)
	}
	return int64(f), "", ""
}

// checkRow applies Validate's rules to a bar read from a file, at the
// current time (a row dated after now + DefaultMaxSkew is ReasonFutureTS,
// before 1970, year 0000 included, ReasonAncientTS). The symbol is the
// caller's, not the row's, so it is not checked here (the fetch task
// validates every quote again, symbol included).
func checkRow(q Quote) (RejectReason, string) {
	q.Symbol = "X"
	var re *RejectError
	if err := Validate(q, time.Now()); errors.As(err, &re) {
		return re.Reason, re.Detail
	}
	return "", ""
}
