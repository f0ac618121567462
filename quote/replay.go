package quote

import (
	"context"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Replay is the replay source: bars read from files, handed out paced.
//
// Pacing: at speed N, market time advances N seconds per wall second (on the
// Clock) from the moment the replay of a symbol starts or resumes: the first
// bar after the checkpoint is due at once, a bar M market-seconds later M/N
// wall seconds later. Market gaps (nights, weekends) are paced like the rest:
// at the default 60, a night of 17.5 hours takes 17.5 minutes. Speed 0 is
// unpaced: every bar is due at once.
//
// It is safe for concurrent use.
type Replay struct {
	path  string
	dir   bool
	speed float64
	clock Clock
	max   int

	mu   sync.Mutex
	syms map[string]*replaySym
}

type replaySym struct {
	qs []Quote // ascending, unique TS
	// The pace anchor: market time anchorMarket at wall time anchorWall.
	anchored                 bool
	anchorWall, anchorMarket time.Time
}

// NewReplay returns a replay of path (a file or a directory) at speed (market
// seconds per wall second; 0 for unpaced). Files are read on a symbol's first
// Fetch.
//
// A file path is read for any symbol (ReadFile). For a directory, a symbol's
// files are those below it (recursively) whose path relative to it contains
// the symbol, case-insensitively, as a whole token (delimited by the ends or
// by characters other than letters and digits), and that are Lean trade zips
// (*_trade.zip, with the quote zip of the same day merged in) or CSV files
// (*.csv). With the shared data folder as the directory, SPY reads
// lean-spy-minute/*_trade.zip and MSFT reads
// alphavantage-msft-1min/msft_1min_*.csv. Bars of several files are merged in
// TS order; of bars with equal TS, the first file's (in path order) is kept.
//
// Errors: the path's stat error (wrapped with ErrBadSpec).
func NewReplay(path string, speed float64, opts Options) (*Replay, error) {
	opts = opts.withDefaults()
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: replay path: %v", ErrBadSpec, err)
	}
	if speed < 0 || math.IsNaN(speed) || math.IsInf(speed, 0) {
		return nil, fmt.Errorf("%w: replay speed %v", ErrBadSpec, speed)
	}
	return &Replay{path: path, dir: st.IsDir(), speed: speed, clock: opts.Clock, max: opts.MaxBatch,
		syms: map[string]*replaySym{}}, nil
}

// Files returns the files the replay reads for symbol, in path order.
func (r *Replay) Files(symbol string) ([]string, error) {
	if !r.dir {
		return []string{r.path}, nil
	}
	var out []string
	sym := strings.ToLower(symbol)
	err := filepath.WalkDir(r.path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := strings.ToLower(d.Name())
		if !strings.HasSuffix(base, "_trade.zip") && !strings.HasSuffix(base, ".csv") {
			return nil
		}
		rel, err := filepath.Rel(r.path, p)
		if err != nil {
			return err
		}
		if hasToken(strings.ToLower(filepath.ToSlash(rel)), sym) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("quote: replay %s: %w", r.path, err)
	}
	sort.Strings(out)
	return out, nil
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
	files, err := r.Files(symbol)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: replay %s: no file for symbol %s (want *_trade.zip or *.csv with %q in its path)",
			ErrNoData, r.path, symbol, strings.ToLower(symbol))
	}
	var all []Quote
	for _, f := range files {
		qs, err := ReadFile(f, symbol)
		if err != nil {
			return nil, err
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
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.syms[symbol]; ok { // loaded meanwhile by another call
		return s, nil
	}
	s = &replaySym{qs: uniq}
	r.syms[symbol] = s
	return s, nil
}

// frontier returns the market time reached at wall time now.
func (r *Replay) frontier(s *replaySym, now time.Time) time.Time {
	elapsed := now.Sub(s.anchorWall)
	if elapsed < 0 {
		elapsed = 0
	}
	return s.anchorMarket.Add(time.Duration(float64(elapsed) * r.speed))
}

// Fetch implements Source. It returns ErrExhausted when no bar is left after
// `after`. When after lies beyond the market time the pace has reached (a
// resume from a checkpoint another worker wrote, or the first call), the
// pace is anchored anew at the first bar after `after`; otherwise it goes
// on, so a retried checkpoint gets its bars at once.
func (r *Replay) Fetch(ctx context.Context, symbol string, after time.Time) ([]Quote, error) {
	s, err := r.load(symbol)
	if err != nil {
		return nil, err
	}
	qs := s.qs
	i := sort.Search(len(qs), func(i int) bool { return qs[i].TS.After(after) })
	if i == len(qs) {
		return nil, fmt.Errorf("%w: %s after %s", ErrExhausted, symbol, after.UTC().Format(time.RFC3339))
	}
	end := min(i+r.max, len(qs))
	if r.speed == 0 {
		return append([]Quote(nil), qs[i:end]...), nil
	}
	for {
		now := r.clock.Now()
		r.mu.Lock()
		if !s.anchored || after.After(r.frontier(s, now)) {
			s.anchored, s.anchorWall, s.anchorMarket = true, now, qs[i].TS
		}
		f := r.frontier(s, now)
		r.mu.Unlock()
		if !qs[i].TS.After(f) {
			j := i + sort.Search(end-i, func(k int) bool { return qs[i+k].TS.After(f) })
			return append([]Quote(nil), qs[i:j]...), nil
		}
		wait := time.Duration(math.Ceil(float64(qs[i].TS.Sub(f)) / r.speed))
		if err := r.clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}
