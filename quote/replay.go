package quote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"weak"

	"go.uber.org/zap"
)

// Replay is the replay source: bars or trade ticks read from files, handed
// out paced.
//
// Pacing by speed: at speed N, market time advances N seconds per wall
// second (on the Clock) from the moment the replay of a symbol starts or
// resumes: the first row after the checkpoint is due at once, a row M
// market-seconds later M/N wall seconds later (ticks by their TS, so the
// ticks of one millisecond are due together). Market gaps (nights, weekends)
// are paced like the rest: at the default 60, a night of 17.5 hours takes
// 17.5 minutes. Speed 0 is unpaced: every row is due at once.
//
// Pacing by rate (NewReplayRate): N rows per wall second per symbol, evenly,
// whatever their market times: the first row after the checkpoint is due at
// once, the k-th after it k/N seconds later. Benchmarks use it to offer a
// fixed load.
//
// It is safe for concurrent use.
type Replay struct {
	path     string
	dir      bool
	speed    float64
	rate     float64
	clock    Clock
	max      int
	log      *zap.Logger
	rejected func(symbol string, reason RejectReason, err error)
	label    Label // the CSV bars' label (the spec's label=), LabelDetect: from each file
	// zone is the spec's tz= zone, nil without one: a CSV's wall times are
	// then read in it, and every daily bar is stamped 09:30 of its date
	// there (DailyBarTimeIn), not US/Eastern (see ReadFileInZone).
	zone *time.Location

	mu   sync.Mutex
	syms map[string]*replaySym
}

type replaySym struct {
	rows series
	// The pace anchor: market time anchorMarket (speed), row anchorRow
	// (rate), at wall time anchorWall.
	anchored                 bool
	anchorWall, anchorMarket time.Time
	anchorRow                int
}

// series is a symbol's rows in ascending Position, without equal
// positions.
type series interface {
	len() int
	// after returns the index of the first row whose Position is after t.
	after(t time.Time) int
	// ts returns row i's TS (the pacing time).
	ts(i int) time.Time
	// market returns the market time of checkpoint t: t for bars, t less
	// its Seq part (truncated to the millisecond) for ticks.
	market(t time.Time) time.Time
	// appendQuotes appends rows [i, j) to out.
	appendQuotes(out []Quote, i, j int) []Quote
}

// barSeries is bars read for one symbol.
type barSeries []Quote

func (b barSeries) len() int { return len(b) }
func (b barSeries) after(t time.Time) int {
	return sort.Search(len(b), func(i int) bool { return b[i].Position().After(t) })
}
func (b barSeries) ts(i int) time.Time                         { return b[i].TS }
func (b barSeries) market(t time.Time) time.Time               { return t }
func (b barSeries) appendQuotes(out []Quote, i, j int) []Quote { return append(out, b[i:j]...) }

// tickSeries is tick files shared with other symbols (see tickCache), in
// ascending time without overlaps; the symbol is applied when the Quotes are
// built.
type tickSeries struct {
	symbol string
	files  []*tickFile
	start  []int // start[k]: index of files[k]'s first row; start[len(files)] = len()
}

func newTickSeries(symbol string, files []*tickFile) *tickSeries {
	s := &tickSeries{symbol: symbol, files: files, start: make([]int, len(files)+1)}
	for k, f := range files {
		s.start[k+1] = s.start[k] + len(f.rows)
	}
	return s
}

func (s *tickSeries) len() int { return s.start[len(s.files)] }

// locate returns the file and row of index i.
func (s *tickSeries) locate(i int) (*tickFile, int) {
	k := sort.Search(len(s.files), func(k int) bool { return s.start[k+1] > i })
	return s.files[k], i - s.start[k]
}

func (s *tickSeries) after(t time.Time) int {
	// Position = Unix ms + seq ns with seq < 1 ms: compare (ms, ns in ms).
	ms, ns := t.UnixMilli(), int32(t.Nanosecond()%1_000_000)
	for k, f := range s.files {
		if i := f.afterIndex(ms, ns); i < len(f.rows) {
			return s.start[k] + i
		}
	}
	return s.len()
}

func (s *tickSeries) market(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

func (s *tickSeries) ts(i int) time.Time {
	f, r := s.locate(i)
	return f.ts(r)
}

func (s *tickSeries) appendQuotes(out []Quote, i, j int) []Quote {
	for i < j {
		f, r := s.locate(i)
		n := min(j-i, len(f.rows)-r)
		out = f.appendQuotes(out, r, r+n, s.symbol)
		i += n
	}
	return out
}

// NewReplay returns a replay of path (a file or a directory) at speed (market
// seconds per wall second; 0 for unpaced). Files are read on a symbol's first
// Fetch.
//
// A file path is read for any symbol (ReadFile; a Lean tick trade zip as
// ticks). For a directory, a symbol's files are those below it (recursively)
// whose path relative to it contains the symbol, case-insensitively, as a
// whole token (delimited by the ends or by characters other than letters and
// digits), and that are Lean trade zips (*_trade.zip, with the quote zip of
// the same day merged in), Lean quote zips with no trade zip of their day
// beside them (*_quote.zip: quote-derived bars, ReadLeanQuoteBars; one
// holding quote ticks is reported as a file that cannot be read), Lean daily
// zips named <symbol>.zip (Lean's equity/usa/daily/spy.zip:
// ReadLeanDailyZip), CSV files (*.csv) or saved JSON responses (*.json:
// Yahoo v7 quote responses, see ReadFileRejects; a response of several
// symbols, as quote-AAPL-MSFT.json, is read by each). A trade zip holds ticks when its
// inner CSV is *_Tick.csv (case-insensitive) or, failing that, when the 4th
// field of its first row is not an integer; otherwise minute bars. When
// a symbol has both bar files and tick files there, the replay reads the bar
// files only (Files), so the shared data folder replays SPY's minute bars as
// it always did; replay the tick folder itself for ticks. With the shared
// data folder as the directory, SPY reads lean-spy-minute/*_trade.zip and
// MSFT reads alphavantage-msft-1min/msft_1min_*.csv; with its lean-ticks
// folder, SPY reads spy/20131007_trade.zip (250,601 trades). Bars of several
// files are merged in TS order; of bars with equal TS, the first file's (in
// path order) is kept. Tick files are taken in time order (path order for
// equal starts); one starting at or before the end of the file before it is
// left out (logged at Warn).
//
// Tick files are parsed once per process and path (and size and
// modification time, of the trade and the quote zip) and shared by every
// Replay and symbol reading them while any holds them (about 40 bytes per
// trade: SPY's day is about 10 MB); FlagTicks runs on them with
// TickMedianWindow and TickMedianPct. Each rejected line of a bar or tick
// file (RowReject; see ReadFileRejects and ReadLeanTickZip) is logged at
// Warn with Options.Logger and passed to Options.Rejected when a symbol's
// files are loaded, also when a parsed tick file came from the cache; the
// valid rows are replayed. A file that cannot be read at all (a corrupt or
// truncated zip, a CSV with an unknown header, an I/O error) is logged at
// Error, passed to Options.Rejected as ReasonBadFile, and left out: the
// replay goes on with the other files (exhausted at once when none is left),
// rather than failing every Fetch and having the fetch task restart and
// read it again every few seconds.
//
// Errors: the path's stat error (wrapped with ErrBadSpec), or ErrBadSpec for
// a negative or non-finite speed.
func NewReplay(path string, speed float64, opts Options) (*Replay, error) {
	if speed < 0 || math.IsNaN(speed) || math.IsInf(speed, 0) {
		return nil, fmt.Errorf("%w: replay speed %v", ErrBadSpec, speed)
	}
	return newReplay(path, speed, 0, opts)
}

// NewReplayRate is NewReplay paced at rate rows per wall second per symbol
// (see Replay) instead of by market time. Errors are as for NewReplay, and
// ErrBadSpec for a rate that is not a finite number > 0.
func NewReplayRate(path string, rate float64, opts Options) (*Replay, error) {
	if !(rate > 0) || math.IsInf(rate, 0) {
		return nil, fmt.Errorf("%w: replay rate %v", ErrBadSpec, rate)
	}
	return newReplay(path, 0, rate, opts)
}

func newReplay(path string, speed, rate float64, opts Options) (*Replay, error) {
	opts = opts.withDefaults()
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: replay path: %v", ErrBadSpec, err)
	}
	return &Replay{path: path, dir: st.IsDir(), speed: speed, rate: rate, clock: opts.Clock, max: opts.MaxBatch,
		log: opts.Logger, rejected: opts.Rejected, label: opts.label, zone: opts.zone, syms: map[string]*replaySym{}}, nil
}

// replayFile is one file of a symbol's replay.
type replayFile struct {
	path string
	tick bool  // a Lean tick trade zip
	err  error // the trade zip cannot be opened: the file is left out (ReasonBadFile)
}

// Files returns the files the replay reads for symbol, in path order: for a
// directory, its bar files when it has any for symbol, else its tick files
// (see NewReplay). A trade zip that cannot be opened is not among them (the
// replay reports it as a RowReject of ReasonBadFile). Errors: the walk's.
func (r *Replay) Files(symbol string) ([]string, error) {
	fs, _, err := r.files(symbol)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.path
	}
	return out, nil
}

// files returns the files of symbol (see Files), and the trade zips that
// cannot be opened (err set).
func (r *Replay) files(symbol string) (out, bad []replayFile, err error) {
	classify := func(p string) replayFile {
		f := replayFile{path: p}
		switch base := strings.ToLower(filepath.Base(p)); {
		case strings.HasSuffix(base, "_trade.zip"):
			f.tick, f.err = isTickZip(p, 3)
		case strings.HasSuffix(base, "_quote.zip") && siblingTradeZip(p) == "":
			// Alone: quote-derived bars, unless it holds quote ticks, which
			// are only read folded into their trades.
			tick, err := isTickZip(p, 5)
			if f.err = err; tick {
				f.err = fmt.Errorf("%w: %s: a Lean tick quote zip without its trade zip (quote ticks are only read folded into the trades)",
					ErrUnknownFormat, p)
			}
		}
		return f
	}
	if !r.dir {
		f := classify(r.path)
		if f.err != nil {
			return nil, []replayFile{f}, nil
		}
		return []replayFile{f}, nil, nil
	}
	var bars, ticks []replayFile
	sym := strings.ToLower(symbol)
	err = filepath.WalkDir(r.path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch base := strings.ToLower(d.Name()); {
		case strings.HasSuffix(base, "_trade.zip"), strings.HasSuffix(base, ".csv"), strings.HasSuffix(base, ".json"):
		case strings.HasSuffix(base, "_quote.zip"):
			if siblingTradeZip(p) != "" {
				return nil // read with its trade zip
			}
		case base == sym+".zip" && isLeanDailyName(base): // Lean's daily zip, <ticker>.zip
		default:
			return nil
		}
		rel, err := filepath.Rel(r.path, p)
		if err != nil {
			return err
		}
		if !hasToken(strings.ToLower(filepath.ToSlash(rel)), sym) {
			return nil
		}
		switch f := classify(p); {
		case f.err != nil:
			bad = append(bad, f)
		case f.tick:
			ticks = append(ticks, f)
		default:
			bars = append(bars, f)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("quote: replay %s: %w", r.path, err)
	}
	out = bars
	if len(bars) == 0 {
		out = ticks
	} else if len(ticks) > 0 {
		r.log.Info("replay: symbol has bar and tick files; replaying the bar files", zap.String("path", r.path),
			zap.String("symbol", symbol), zap.Int("bar_files", len(bars)), zap.Int("tick_files_left_out", len(ticks)))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, bad, nil
}

// hasToken reports whether tok occurs in s bounded by the ends of s or by
// characters other than ASCII letters and digits.
func hasToken(s, tok string) bool {
	isAlnum := func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
	for i := 0; tok != ""; {
		j := strings.Index(s[i:], tok)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(tok)
		if (start == 0 || !isAlnum(s[start-1])) && (end == len(s) || !isAlnum(s[end])) {
			return true
		}
		i = start + 1
	}
	return false
}

// load reads symbol's files once.
func (r *Replay) load(symbol string) (*replaySym, error) {
	r.mu.Lock()
	s, ok := r.syms[symbol]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	files, bad, err := r.files(symbol)
	if err != nil {
		return nil, err
	}
	for _, f := range bad {
		r.reportFile(symbol, f.path, f.err)
	}
	if len(files) == 0 && len(bad) == 0 {
		return nil, fmt.Errorf("%w: replay %s: no file for symbol %s (want *_trade.zip, a lone *_quote.zip, *.csv or *.json with %q as a word of its path below %s, or %s.zip; a folder named for the symbol is matched only inside the folder given)",
			ErrNoData, r.path, symbol, strings.ToLower(symbol), r.path, strings.ToLower(symbol))
	}
	var rows series = barSeries(nil)
	switch {
	case len(files) == 0: // every file unreadable, reported: nothing to replay
	case files[0].tick:
		rows = r.loadTicks(symbol, files)
	default:
		rows = r.loadBars(symbol, files)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.syms[symbol]; ok { // loaded meanwhile by another call
		return s, nil
	}
	s = &replaySym{rows: rows}
	r.syms[symbol] = s
	return s, nil
}

// loadBars reads bar files, merged in TS order, the first of equal TS kept.
// Their rejected lines are reported; a file that cannot be read is reported
// and left out.
func (r *Replay) loadBars(symbol string, files []replayFile) barSeries {
	var all []Quote
	for _, f := range files {
		qs, rejects, info, err := ReadFileInZone(f.path, symbol, r.label, r.fileZone())
		if err != nil {
			r.reportFile(symbol, f.path, err)
			continue
		}
		r.log.Info("replay: bar file loaded", zap.String("symbol", symbol), zap.String("file", f.path),
			zap.Int("bars", len(qs)), zap.Int("rejected", len(rejects)), zap.String("label", string(info.Label)),
			zap.Bool("label_detected", info.Detected))
		if len(info.Ignored) > 0 {
			r.log.Info("replay: columns ignored", zap.String("symbol", symbol), zap.String("file", f.path),
				zap.Strings("columns", info.Ignored))
		}
		r.reportRejects(symbol, "replay: bar line rejected", rejects)
		if r.zone != nil {
			for i := range qs {
				if qs[i].Source == sourceLeanDaily { // its date in the symbol's zone, whatever the offset
					qs[i].TS = DailyBarTimeIn(qs[i].TS.In(Eastern), r.zone)
				}
			}
		}
		all = append(all, qs...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].TS.Before(all[j].TS) })
	uniq := all[:0]
	for i, q := range all {
		if i == 0 || !q.TS.Equal(uniq[len(uniq)-1].TS) {
			uniq = append(uniq, q)
		}
	}
	// Over the whole series, so a day's first and last bars have the
	// neighbouring days' bars as neighbours.
	if n := FlagBars(uniq, BarNeighbours, BarMedianPct); n > 0 {
		r.log.Info("replay: implausible bars flagged", zap.String("symbol", symbol), zap.Int("bars", n),
			zap.Int("neighbours", BarNeighbours), zap.Float64("pct", BarMedianPct))
	}
	return uniq
}

// reportRejects logs each rejected line at Warn (msg, with symbol, file,
// line, reason, detail and text) and passes it to Options.Rejected. A
// rejected whole file (a quote zip beside a trade zip) is reported as by
// reportFile.
func (r *Replay) reportRejects(symbol, msg string, rejects []RowReject) {
	for i := range rejects {
		rej := &rejects[i]
		if rej.Reason == ReasonBadFile {
			r.reportFileReject(symbol, rej)
			continue
		}
		r.log.Warn(msg, zap.String("symbol", symbol), zap.String("file", rej.File),
			zap.Int("line", rej.Line), zap.String("reason", string(rej.Reason)), zap.String("detail", rej.Detail),
			zap.String("text", rej.Text))
		if r.rejected != nil {
			r.rejected(symbol, rej.Reason, rej)
		}
	}
}

// reportFile logs a file that cannot be read at Error, once per load of the
// symbol, and passes it to Options.Rejected as a RowReject of ReasonBadFile;
// the replay goes on without it (so a fetch task is not failed, restarted
// and made to read it again every few seconds).
func (r *Replay) reportFile(symbol, path string, err error) {
	r.reportFileReject(symbol, fileReject(path, err))
}

func (r *Replay) reportFileReject(symbol string, rej *RowReject) {
	r.log.Error("replay: file cannot be read; left out", zap.String("symbol", symbol), zap.String("file", rej.File),
		zap.String("reason", string(ReasonBadFile)), zap.Error(rej.Err))
	if r.rejected != nil {
		r.rejected(symbol, ReasonBadFile, rej)
	}
}

// loadTicks gets tick files from the cache (parsing them on a miss), reports
// their rejected lines, and leaves out empty files and files overlapping the
// one before them in time.
func (r *Replay) loadTicks(symbol string, files []replayFile) *tickSeries {
	var loaded []*tickFile
	for _, rf := range files {
		start := time.Now()
		f, cached, err := loadTickFile(rf.path)
		if err != nil {
			r.reportFile(symbol, rf.path, err)
			continue
		}
		r.log.Info("replay: tick file loaded", zap.String("symbol", symbol), zap.String("file", f.path),
			zap.String("quote_file", f.quotePath), zap.Int("trades", len(f.rows)), zap.Int("quote_ticks", f.quoteTicks),
			zap.Int("rejected", len(f.rejects)), zap.Int("suspicious", f.suspicious), zap.Int("off_median", f.offMedian),
			zap.Bool("cached", cached), zap.Duration("took", time.Since(start)))
		r.reportRejects(symbol, "replay: tick line rejected", f.rejects)
		if len(f.rows) > 0 {
			loaded = append(loaded, f)
		}
	}
	// In time order (path order for equal starts); a file starting at or
	// before the end of the one kept before it is left out.
	sort.SliceStable(loaded, func(i, j int) bool { return loaded[i].unixMs(0) < loaded[j].unixMs(0) })
	var kept []*tickFile
	for _, f := range loaded {
		if n := len(kept); n > 0 {
			prev := kept[n-1]
			if f.unixMs(0) <= prev.unixMs(len(prev.rows)-1) {
				r.log.Warn("replay: tick file overlaps an earlier one; left out", zap.String("symbol", symbol),
					zap.String("file", f.path), zap.String("earlier", prev.path))
				continue
			}
		}
		kept = append(kept, f)
	}
	return newTickSeries(symbol, kept)
}

// tickCache holds the parsed tick files of the process by path, weakly: a
// file stays while a replay holds it, and is parsed again after the garbage
// collector freed it or when its trade or quote zip changed.
var tickCache = struct {
	mu sync.Mutex
	m  map[string]*tickCacheEntry
}{m: map[string]*tickCacheEntry{}}

type tickCacheEntry struct {
	mu    sync.Mutex // held while parsing, so one parse serves concurrent loads
	stamp string
	file  weak.Pointer[tickFile]
}

// loadTickFile returns the parsed, flagged tick file at path, from the cache
// when it holds the file as it is on disk.
func loadTickFile(path string) (f *tickFile, cached bool, err error) {
	key, err := filepath.Abs(path)
	if err != nil {
		key = path
	}
	stamp, err := tickStamp(path)
	if err != nil {
		return nil, false, fmt.Errorf("quote: lean file %s: %w", path, err)
	}
	tickCache.mu.Lock()
	e, ok := tickCache.m[key]
	if !ok {
		e = &tickCacheEntry{}
		tickCache.m[key] = e
	}
	tickCache.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stamp == stamp {
		if f := e.file.Value(); f != nil {
			return f, true, nil
		}
	}
	if f, err = readTickFile(path); err != nil {
		return nil, false, err
	}
	flagTickFile(f, TickMedianWindow, TickMedianPct)
	e.stamp, e.file = stamp, weak.Make(f)
	return f, false, nil
}

// tickStamp identifies the versions of a trade zip and its quote zip: sizes
// and modification times.
func tickStamp(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	stamp := fmt.Sprintf("%d/%d", st.Size(), st.ModTime().UnixNano())
	if q := siblingQuoteZip(path); q != "" {
		if qs, err := os.Stat(q); err == nil {
			stamp += fmt.Sprintf(" %s %d/%d", q, qs.Size(), qs.ModTime().UnixNano())
		}
	}
	return stamp, nil
}

// frontier returns the market time reached at wall time now (speed).
func (r *Replay) frontier(s *replaySym, now time.Time) time.Time {
	elapsed := now.Sub(s.anchorWall)
	if elapsed < 0 {
		elapsed = 0
	}
	return s.anchorMarket.Add(time.Duration(float64(elapsed) * r.speed))
}

// released returns how many rows are due at wall time now (rate): the rows
// before anchorRow, and one more per 1/rate seconds since anchorWall
// counting the anchor row at once.
func (r *Replay) released(s *replaySym, now time.Time) int {
	elapsed := max(now.Sub(s.anchorWall), 0)
	// The epsilon keeps a row due at exactly its time despite rounding.
	return s.anchorRow + 1 + int(math.Floor(elapsed.Seconds()*r.rate+1e-9))
}

// Fetch implements Source: the rows of symbol with Position after `after`,
// ascending, at most Options.MaxBatch, blocking until one is due. It returns
// ErrExhausted when no row is left after `after`. When after lies beyond
// what the pace has reached (a resume from a checkpoint another worker
// wrote, or the first call), the pace is anchored anew at the first row
// after `after`; otherwise it goes on, so a retried checkpoint gets its rows
// at once.
func (r *Replay) Fetch(ctx context.Context, symbol string, after time.Time) ([]Quote, error) {
	s, err := r.load(symbol)
	if err != nil {
		return nil, err
	}
	rows := s.rows
	n := rows.len()
	i := rows.after(after)
	if i == n {
		return nil, fmt.Errorf("%w: %s after %s", ErrExhausted, symbol, after.UTC().Format(time.RFC3339Nano))
	}
	end := min(i+r.max, n)
	if r.speed == 0 && r.rate == 0 {
		return rows.appendQuotes(make([]Quote, 0, end-i), i, end), nil
	}
	for {
		now := r.clock.Now()
		var wait time.Duration
		if r.rate > 0 {
			r.mu.Lock()
			if !s.anchored || i > r.released(s, now) {
				s.anchored, s.anchorWall, s.anchorRow = true, now, i
			}
			rel, anchorWall, anchorRow := r.released(s, now), s.anchorWall, s.anchorRow
			r.mu.Unlock()
			if i < rel {
				j := min(end, rel)
				return rows.appendQuotes(make([]Quote, 0, j-i), i, j), nil
			}
			due := anchorWall.Add(time.Duration(math.Ceil(float64(i-anchorRow) / r.rate * 1e9)))
			wait = max(due.Sub(now), time.Nanosecond)
		} else {
			r.mu.Lock()
			if !s.anchored || rows.market(after).After(r.frontier(s, now)) {
				s.anchored, s.anchorWall, s.anchorMarket = true, now, rows.ts(i)
			}
			f := r.frontier(s, now)
			r.mu.Unlock()
			if ts := rows.ts(i); ts.After(f) {
				wait = time.Duration(math.Ceil(float64(ts.Sub(f)) / r.speed))
			} else {
				j := i + sort.Search(end-i, func(k int) bool { return rows.ts(i + k).After(f) })
				return rows.appendQuotes(make([]Quote, 0, j-i), i, j), nil
			}
		}
		if err := r.clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// ErrUnreadable is wrapped by Check's errors: the replay cannot feed the
// symbol.
var ErrUnreadable = errors.New("quote: replay cannot feed the symbol")

// Check opens the first file the replay reads for symbol (Files' first) and
// parses it as the replay will, without replaying anything: for
// `stocksys symbols add`, which refuses a source that cannot feed the
// symbol before it registers anything. It returns the valid quotes (bars or
// trade ticks) in that file and the rows rejected, or an error wrapping
// ErrUnreadable that names the path: no file for the symbol, a file that
// cannot be read, or no valid row in it (with the first rejected row).
// Nothing is logged or passed to Options.Rejected.
func (r *Replay) Check(symbol string) (valid, rejected int, err error) {
	files, bad, err := r.files(symbol)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	if len(files) == 0 {
		if len(bad) > 0 {
			return 0, 0, fmt.Errorf("%w: replay %s: %s: %v", ErrUnreadable, r.path, bad[0].path, bad[0].err)
		}
		return 0, 0, fmt.Errorf("%w: replay %s: no file for symbol %s (want *_trade.zip, a lone *_quote.zip, *.csv or *.json with %q as a word of its path below %s, or %s.zip; a folder named for the symbol is matched only inside the folder given)",
			ErrUnreadable, r.path, symbol, strings.ToLower(symbol), r.path, strings.ToLower(symbol))
	}
	f := files[0]
	var first string
	if f.tick {
		tf, _, err := loadTickFile(f.path)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: replay %s: %w", ErrUnreadable, f.path, err)
		}
		valid, rejected = len(tf.rows), len(tf.rejects)
		if rejected > 0 {
			first = fmt.Sprint(tf.rejects[0])
		}
	} else {
		qs, rejects, _, err := ReadFileInZone(f.path, symbol, r.label, r.fileZone())
		if err != nil {
			return 0, 0, fmt.Errorf("%w: replay %s: %w", ErrUnreadable, f.path, err)
		}
		valid, rejected = len(qs), len(rejects)
		if rejected > 0 {
			first = rejects[0].Error()
		}
	}
	if valid == 0 {
		if first == "" {
			first = "the file holds no row"
		}
		return 0, rejected, fmt.Errorf("%w: replay %s: no valid row for %s (%d rejected; first: %s)", ErrUnreadable, f.path, symbol, rejected, first)
	}
	return valid, rejected, nil
}

// fileZone returns the zone of the replayed CSVs' wall times: the spec's
// tz=, US/Eastern without one.
func (r *Replay) fileZone() *time.Location {
	if r.zone == nil {
		return Eastern
	}
	return r.zone
}
