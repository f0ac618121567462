package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gocql/gocql"
	"golang.org/x/sync/errgroup"

	"github.com/stock-system/stocksys/quote"
)

// Writer writes the quotes and ticks of one ingest task and keeps every
// derived row (1m/5m/1h/1d bars, alerts, latest) up to date incrementally:
// it holds, per symbol and trading day, the day's 1-minute aggregates in
// memory, rebuilt with one read of the day's stored 1m bars when the Writer
// first touches that day, and updated from each batch without reading back
// what it wrote.
//
// Exactness. Every 1m bar row also stores its minute's running sums and hwm,
// the highest quote Position the minute has seen. A quote whose Position is
// above its minute's hwm cannot have been counted yet, so it is added to the
// aggregate in place. A quote at or below the hwm is a duplicate, a replay
// from an older offset, or one that arrives out of order; the Writer cannot
// tell which, so it recomputes that one minute from the stored rows (one read
// of at most a minute of ticks, after the batch's rows are written). A
// minute is formed in Position order either way, so the stored bars, alerts
// and latest equal ComputeBars, DetectMoves and ComputeLatest of the stored
// rows, bit for bit, whatever the arrival order, duplication or replay, and
// after a task moves to another node mid-day (a new Writer rebuilds from the
// stored 1m bars).
//
// A batch whose rows are all above their minutes' hwm (the common case: a
// partition read in order) is planned in memory and written in one wave: its
// rows and its derived rows together, so a batch costs one round of
// requests. A stored 1m bar may then count rows of a Write that failed; the
// offset of that batch is not committed, so its rows come again, each at or
// below its minute's hwm, and that minute is recomputed from the stored rows
// before anything more is derived from it. A day older than the days held (maxDays per symbol) is loaded
// again the same way, so a late day costs one read more, and nothing is lost.
//
// Moving averages of a daily series (its latest day holds daily bars, see
// IsDailyBar) are over daily closes across days (see Latest), so the Writer
// also keeps, per daily symbol, the daily closes of its last stored days (at
// most dailyKeep of them plus maxDays): read once, with the symbol's day
// list and the 1d bars of those days (dailyChunk days a request), when a
// Writer first writes the latest row of a daily series, then updated with
// the closes of the days each Write stores. A day before the latest whose
// close changes (a backfill, a corrected bar) makes the latest row be
// written again when that close is among them. Intraday series read and
// hold none of it.
//
// A Writer is not safe for concurrent use: one ingest task owns it (the task
// owns its partition, hence its symbols). Two Writers on the same symbols
// (a deposed owner still running) converge once either writes the affected
// minutes again. After a failed Write the symbols it touched are dropped from
// memory and reloaded by the next Write, which may retry the same batch.
type Writer struct {
	s    *Store
	syms map[string]*symState
}

// maxDays is how many trading days per symbol a Writer holds in memory.
const maxDays = 4

// NewWriter returns a Writer on s with empty state.
func (s *Store) NewWriter() *Writer { return &Writer{s: s, syms: map[string]*symState{}} }

// minute is one minute of one symbol-day: its aggregate (unflagged quotes)
// and what the Writer needs to keep it exact.
type minute struct {
	agg
	hwm     time.Time // highest Position seen (flagged ticks included); zero if none
	hasBar  bool      // holds a bar (not a tick): its quotes row carries the alert flag
	flagged bool      // an alert row is stored for this minute
	// alert is the stored alert row's content as this Writer wrote it; nil
	// when unknown (loaded), so the next derive writes it again.
	alert *Alert
}

type dayState struct {
	day     time.Time
	loc     *time.Location    // the symbol's exchange zone (its windows' alignment)
	minutes map[int64]*minute // by start, Unix ms
	// prev is the last close of the latest stored day before this one
	// (prevDay); nil and zero if none.
	prev    *float64
	prevDay time.Time
}

type symState struct {
	// latestDay is the newest stored trading day (the day of the latest row);
	// zero if the symbol has nothing stored.
	latestDay time.Time
	// loc is the symbol's exchange zone, in which its days and windows are
	// reckoned: the zone of its latest batch's quotes (quote.Quote.Location),
	// or the stored one (Store.Zone) for UpdateAnalytics; nil until known.
	loc  *time.Location
	days map[int64]*dayState // by day, Unix s
	// daily holds the daily closes of a daily series (see syncDaily); nil
	// until needed, and for an intraday series.
	daily *dailyCloses
}

// dailyCloses is the recent daily closes of one symbol as stored, for the
// moving averages of a daily series: the close (of its 1d bar) of every
// stored day on or after from that has one. It is read from the store, and
// updated from the held days only after a Write stored them (commitDaily),
// so it never holds what a failed Write planned; the held days are laid
// over it where it is used (merged). Unless from is zero (every stored day
// is in), at least keep days on or after from have a close, so the last keep
// closes are always among them.
type dailyCloses struct {
	from   time.Time
	closes map[int64]float64 // by day, Unix s
}

// covers reports whether day's close belongs in h.
func (h *dailyCloses) covers(day time.Time) bool { return h.from.IsZero() || !day.Before(h.from) }

// set records the stored close of day (nil: the day has none). It reports
// false when h lost a close it cannot do without (fewer than keep left on or
// after a non-zero from): h must then be read again.
func (h *dailyCloses) set(day time.Time, c *float64, keep int) bool {
	if !h.covers(day) {
		return true
	}
	if c == nil {
		delete(h.closes, day.Unix())
		return h.from.IsZero() || len(h.closes) >= keep
	}
	h.closes[day.Unix()] = *c
	return true
}

// trim drops the oldest closes beyond n, moving from up.
func (h *dailyCloses) trim(n int) {
	if len(h.closes) <= n {
		return
	}
	days := slices.Sorted(maps.Keys(h.closes))
	for _, k := range days[:len(days)-n] {
		delete(h.closes, k)
	}
	h.from = time.Unix(days[len(days)-n], 0).UTC()
}

// merged returns h's closes with those of the days held in st laid over
// them (as the Writer holds them, written or about to be), and whether they
// still hold keep closes, or every stored day's.
func (h *dailyCloses) merged(st *symState, keep int) (map[int64]float64, bool) {
	m := maps.Clone(h.closes)
	for _, d := range st.days {
		if !h.covers(d.day) {
			continue
		}
		if c := d.lastClose(); c != nil {
			m[d.day.Unix()] = *c
		} else {
			delete(m, d.day.Unix())
		}
	}
	return m, h.from.IsZero() || len(m) >= keep
}

// lastBefore returns the last n closes of closes (by day, Unix s) of the
// days before day, oldest first.
func lastBefore(closes map[int64]float64, day time.Time, n int) []float64 {
	days := slices.Sorted(maps.Keys(closes))
	i, _ := slices.BinarySearch(days, day.Unix())
	days = days[max(0, i-n):i]
	out := make([]float64, len(days))
	for j, k := range days {
		out[j] = closes[k]
	}
	return out
}

// dailyKeep is how many daily closes, the latest day's included, the moving
// averages of a daily series use: the longest SMA window, and
// DailyEMALookback times the longest EMA window.
func (s *Store) dailyKeep() int {
	k := 1
	for _, n := range s.cfg.SMAWindows {
		k = max(k, n)
	}
	for _, n := range s.cfg.EMAWindows {
		k = max(k, DailyEMALookback*n)
	}
	return k
}

// dailyChunk is how many days one read of daily closes asks for.
const dailyChunk = 50

// loadDailyCloses reads the daily closes of sym's newest stored days, newest
// first, dailyChunk days a request (the day list, then their 1d bars in one
// query), until at least want are read or every stored day is.
func (s *Store) loadDailyCloses(ctx context.Context, sym string, want int) (*dailyCloses, error) {
	h := &dailyCloses{closes: map[int64]float64{}}
	read := func(days []time.Time) error {
		it := s.query(ctx, true, `SELECT day, close FROM @bars WHERE symbol = ? AND interval = ? AND day IN ?`,
			sym, Interval1d, days).Iter()
		var (
			d time.Time
			c float64
		)
		for it.Scan(&d, &c) {
			h.closes[d.UTC().Unix()] = c
		}
		if err := it.Close(); err != nil {
			return fmt.Errorf("store: read daily closes of %s: %w", sym, err)
		}
		h.from = days[len(days)-1]
		return nil
	}
	it := s.query(ctx, true, `SELECT day FROM @quote_days WHERE symbol = ? ORDER BY day DESC`, sym).PageSize(dailyChunk).Iter()
	var (
		chunk []time.Time
		d     time.Time
	)
	for it.Scan(&d) {
		if chunk = append(chunk, d.UTC()); len(chunk) < dailyChunk {
			continue
		}
		if err := read(chunk); err != nil {
			it.Close()
			return nil, err
		}
		chunk = nil
		if len(h.closes) >= want {
			if err := it.Close(); err != nil {
				return nil, fmt.Errorf("store: days of %s: %w", sym, err)
			}
			return h, nil
		}
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("store: days of %s: %w", sym, err)
	}
	if len(chunk) > 0 {
		if err := read(chunk); err != nil {
			return nil, err
		}
	}
	h.from = time.Time{} // every stored day was read
	return h, nil
}

// daily reports whether the day holds daily bars only (see dailyDay).
func (d *dayState) daily() bool { return dailyDay(aggsOf(d.sorted())) }

// sorted returns the day's minutes in time order.
func (d *dayState) sorted() []*minute {
	out := make([]*minute, 0, len(d.minutes))
	for _, m := range d.minutes {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *minute) int { return a.start.Compare(b.start) })
	return out
}

func aggsOf(ms []*minute) []agg {
	out := make([]agg, len(ms))
	for i, m := range ms {
		out[i] = m.agg
	}
	return out
}

// lastClose returns the close of the day's last counted minute.
func (d *dayState) lastClose() *float64 {
	var (
		last time.Time
		c    *float64
	)
	for _, m := range d.minutes {
		if m.count > 0 && (c == nil || m.start.After(last)) {
			v := m.close
			last, c = m.start, &v
		}
	}
	return c
}

// Write stores qs (quotes and ticks, any order, duplicates allowed), written
// by the owner of epoch, and then brings the derived rows of every touched
// (symbol, day) up to date, as described on Writer. It returns nil only when
// everything is written; on error (ErrInvalidQuote before anything is
// written, else a wrapped gocql error or ctx's error) retrying the same call
// is safe. Cost per call: the rows, in unlogged single-partition batches; per
// touched symbol-day and window the changed bar rows, the alert changes and
// the latest row; reads only for a day not yet held, for minutes that got a
// quote at or below their hwm, and for a daily series' daily closes when the
// Writer does not hold them yet (see Writer).
func (w *Writer) Write(ctx context.Context, epoch int64, qs []quote.Quote) error {
	for i, q := range qs {
		if q.Symbol == "" || q.TS.IsZero() {
			return fmt.Errorf("%w: #%d (symbol %q, ts %v)", ErrInvalidQuote, i, q.Symbol, q.TS)
		}
	}
	qs = normalize(qs)
	bySym := map[string][][]quote.Quote{} // symbol -> runs of one day
	var syms []string
	for _, part := range partitions(qs) {
		sym := part[0].Symbol
		if _, ok := bySym[sym]; !ok {
			syms = append(syms, sym)
		}
		bySym[sym] = append(bySym[sym], part)
	}
	if err := w.writeBatch(ctx, epoch, qs, syms, bySym, true); !errors.Is(err, errNeedRows) {
		return err
	}
	// A minute needs its stored rows (a duplicate, a replay, a late row):
	// the state was dropped; load it again and write the rows first.
	return w.writeBatch(ctx, epoch, qs, syms, bySym, false)
}

// writeBatch is Write after grouping. With combined, the rows and the
// derived writes planned in memory go out together (one wave of requests),
// unless a minute needs its stored rows (then errNeedRows, the state of syms
// dropped); otherwise the rows are written first, then the state updated
// (reading the minutes that need it) and the derived rows written.
//
// Writing derived rows with their rows is safe: a derived row may then be
// stored, counting rows of a Write that failed and were not stored; the
// batch's offset is not committed, so those rows are delivered again, each at
// or below its minute's hwm, so the minute is recomputed from the stored rows
// (rows first) before anything else is derived from it.
func (w *Writer) writeBatch(ctx context.Context, epoch int64, qs []quote.Quote, syms []string, bySym map[string][][]quote.Quote, combined bool) error {
	// Load the state of every touched day before writing, so a rebuild
	// never counts the rows of the batch in hand.
	newDays := map[string][]time.Time{}
	var mu sync.Mutex
	if err := w.each(ctx, syms, func(ctx context.Context, sym string) error {
		nd, err := w.load(ctx, sym, bySym[sym])
		mu.Lock()
		newDays[sym] = nd
		mu.Unlock()
		return err
	}); err != nil {
		return err
	}
	defer func() {
		for _, sym := range syms {
			if st := w.syms[sym]; st != nil {
				w.commitDaily(st) // dropped unless the Write succeeded, or reset (errNeedRows)
				w.evict(st)
			}
		}
	}()
	// Days are recorded with or after their rows, so a listed day has rows
	// once the Write succeeded; with each the symbol's zone (Store.Zone).
	var dayOps []op
	for sym, days := range newDays {
		tz := w.syms[sym].loc.String()
		for _, day := range days {
			dayOps = append(dayOps, func(ctx context.Context) error {
				if err := w.s.query(ctx, true, `INSERT INTO @quote_days (symbol, day, tz) VALUES (?, ?, ?)`, sym, day, tz).Exec(); err != nil {
					return fmt.Errorf("store: record day %s %s: %w", sym, day.Format(time.DateOnly), err)
				}
				return nil
			})
		}
	}
	var (
		opsMu sync.Mutex
		ops   []op
	)
	plan := func(rowsStored bool) error {
		return w.each(ctx, syms, func(ctx context.Context, sym string) error {
			o, err := w.apply(ctx, sym, bySym[sym], rowsStored)
			opsMu.Lock()
			ops = append(ops, o...)
			opsMu.Unlock()
			return err
		})
	}
	if combined {
		if err := plan(false); err != nil {
			w.drop(syms, errors.Is(err, errNeedRows))
			return err
		}
		all := append(w.s.rowOps(epoch, qs), dayOps...)
		if err := w.s.runOps(ctx, append(all, ops...)); err != nil {
			w.drop(syms, false)
			return err
		}
		return nil
	}
	if err := w.s.runOps(ctx, append(w.s.rowOps(epoch, qs), dayOps...)); err != nil {
		w.drop(syms, false)
		return err
	}
	if err := plan(true); err != nil {
		w.drop(syms, false)
		return err
	}
	if err := w.s.runOps(ctx, ops); err != nil {
		w.drop(syms, false)
		return err
	}
	return nil
}

// each runs fn for every symbol, writeParallelism at a time, and drops the
// state of a symbol whose fn failed.
func (w *Writer) each(ctx context.Context, syms []string, fn func(context.Context, string) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(writeParallelism)
	states := make([]*symState, len(syms))
	for i, sym := range syms {
		st := w.syms[sym]
		if st == nil {
			st = &symState{days: map[int64]*dayState{}}
			w.syms[sym] = st
		}
		states[i] = st
	}
	failed := make([]bool, len(syms))
	for i, sym := range syms {
		g.Go(func() error {
			err := fn(gctx, sym)
			// errNeedRows: the caller resets the state (drop).
			failed[i] = err != nil && !errors.Is(err, errNeedRows)
			return err
		})
	}
	err := g.Wait()
	for i, sym := range syms {
		if failed[i] || (err != nil && ctx.Err() != nil) {
			delete(w.syms, sym)
		}
	}
	return err
}

// drop forgets the state of syms. With keepDaily (a batch that needs its
// rows stored first: nothing was written) their daily closes stay, as they
// hold only what is stored.
func (w *Writer) drop(syms []string, keepDaily bool) {
	for _, s := range syms {
		if st := w.syms[s]; keepDaily && st != nil && st.daily != nil {
			w.syms[s] = &symState{days: map[int64]*dayState{}, daily: st.daily}
			continue
		}
		delete(w.syms, s)
	}
}

// load makes sure the symbol's latest day and the state of each touched day
// are in memory, and returns the touched days that have nothing stored yet.
// It runs in the symbol's own goroutine (see each): it touches only st.
func (w *Writer) load(ctx context.Context, sym string, runs [][]quote.Quote) ([]time.Time, error) {
	st := w.syms[sym]
	if loc := runs[0][0].Location(); st.loc != loc {
		if st.loc != nil { // the symbol's zone changed: its held days are of the other
			st.days, st.latestDay, st.daily = map[int64]*dayState{}, time.Time{}, nil
		}
		st.loc = loc
	}
	if len(st.days) == 0 && st.latestDay.IsZero() {
		var ts time.Time
		err := w.s.query(ctx, true, `SELECT ts FROM @latest WHERE symbol = ?`, sym).Scan(&ts)
		switch {
		case err == nil:
			st.latestDay = quote.DayIn(ts, st.loc)
		case !errors.Is(err, gocql.ErrNotFound):
			return nil, fmt.Errorf("store: read latest %s: %w", sym, err)
		}
	}
	var fresh []time.Time
	for _, run := range runs {
		day := run[0].Day()
		if _, ok := st.days[day.Unix()]; ok {
			continue
		}
		d, stored, err := w.s.loadDay(ctx, sym, day, st.loc, false)
		if err != nil {
			return nil, err
		}
		if !stored {
			fresh = append(fresh, day)
		}
		if d.prev, d.prevDay, err = w.prevClose(ctx, sym, st, day); err != nil {
			return nil, err
		}
		st.days[day.Unix()] = d // evicted after the Write (see writeBatch)
	}
	return fresh, nil
}

// evict keeps at most maxDays days of st, dropping the oldest.
func (w *Writer) evict(st *symState) {
	for len(st.days) > maxDays {
		oldest := int64(0)
		first := true
		for k := range st.days {
			if first || k < oldest {
				oldest, first = k, false
			}
		}
		delete(st.days, oldest)
	}
}

// prevClose returns the last close of the latest stored day of sym before
// day, and that day: from memory when that day is held, else read.
func (w *Writer) prevClose(ctx context.Context, sym string, st *symState, day time.Time) (*float64, time.Time, error) {
	c, from, err := w.s.prevClose(ctx, sym, day)
	if err != nil {
		return nil, time.Time{}, err
	}
	if h := heldBefore(st, day); h != nil && !h.day.Before(from) {
		return h.lastClose(), h.day, nil
	}
	return c, from, nil
}

// heldBefore returns the latest held day of st before day that has a
// counted minute, or nil.
func heldBefore(st *symState, day time.Time) *dayState {
	var best *dayState
	for _, d := range st.days {
		if d.day.Before(day) && d.lastClose() != nil && (best == nil || d.day.After(best.day)) {
			best = d
		}
	}
	return best
}

// loadDay builds the state of sym's day, whose windows are aligned in loc
// (the symbol's zone): from its stored 1m bars, or, when it has none or
// fromRows is set, from its stored rows (ticks and quotes). stored reports
// whether the day has any stored row.
func (s *Store) loadDay(ctx context.Context, sym string, day time.Time, loc *time.Location, fromRows bool) (*dayState, bool, error) {
	d := &dayState{day: day, loc: loc, minutes: map[int64]*minute{}}
	if !fromRows {
		it := s.query(ctx, true, `SELECT ts, open, high, low, close, volume, count, pv, sum_close, last_ts, hwm, flagged, has_bar, daily
			FROM @bars WHERE symbol = ? AND interval = ? AND day = ?`, sym, Interval1m, day).Iter()
		var (
			m                     minute
			pv, sumC              *float64
			hwm                   *int64
			flagged, isBar, daily *bool
			last                  *time.Time
		)
		for it.Scan(&m.start, &m.open, &m.high, &m.low, &m.close, &m.volume, &m.count, &pv, &sumC, &last, &hwm, &flagged, &isBar, &daily) {
			if pv == nil || sumC == nil || hwm == nil || last == nil {
				continue // not written by a Writer; recomputed below
			}
			m.start = m.start.UTC()
			m.pv, m.sumClose, m.lastTS = *pv, *sumC, last.UTC()
			m.hwm = time.Unix(0, *hwm).UTC()
			m.flagged = flagged != nil && *flagged
			m.hasBar = isBar != nil && *isBar
			m.daily = daily != nil && *daily
			m.loc = loc
			mm := m
			d.minutes[m.start.UnixMilli()] = &mm
			m = minute{}
		}
		if err := it.Close(); err != nil {
			return nil, false, fmt.Errorf("store: read 1m bars %s %s: %w", sym, day.Format(time.DateOnly), err)
		}
		if len(d.minutes) > 0 {
			return d, true, nil
		}
	}
	rows, err := s.dayRows(ctx, sym, day, time.Time{}, time.Time{})
	if err != nil {
		return nil, false, err
	}
	for _, m := range minutesOfRows(rows, loc) {
		d.minutes[m.start.UnixMilli()] = m
	}
	return d, len(rows) > 0, nil
}

// dayRows reads sym's stored ticks and quotes of day, with from <= TS < to
// when to is not zero.
func (s *Store) dayRows(ctx context.Context, sym string, day, from, to time.Time) ([]Row, error) {
	qstmt, tstmt := selectQuoteCols+`WHERE symbol = ? AND day = ?`, selectTickCols+`WHERE symbol = ? AND day = ?`
	args := []any{sym, day}
	if !to.IsZero() {
		qstmt += ` AND ts >= ? AND ts < ?`
		tstmt += ` AND ts >= ? AND ts < ?`
		args = append(args, from, to)
	}
	rows, err := scanRows(s.query(ctx, true, qstmt, args...), sym)
	if err != nil {
		return nil, fmt.Errorf("store: read quotes %s %s: %w", sym, day.Format(time.DateOnly), err)
	}
	ticks, err := scanTicks(s.query(ctx, true, tstmt, args...), sym)
	if err != nil {
		return nil, fmt.Errorf("store: read ticks %s %s: %w", sym, day.Format(time.DateOnly), err)
	}
	return append(rows, ticks...), nil
}

// minutesOfRows aggregates one symbol-day's stored rows into minutes, as
// ComputeBars does, with each minute's hwm, kind and stored alert flag; loc
// is the symbol's zone (rows read back carry none).
func minutesOfRows(rows []Row, loc *time.Location) []*minute {
	byStart := map[int64]*minute{}
	get := func(ts time.Time) *minute {
		start := WindowStart(ts, Interval1m)
		m := byStart[start.UnixMilli()]
		if m == nil {
			m = &minute{agg: agg{start: start, loc: loc}}
			byStart[start.UnixMilli()] = m
		}
		return m
	}
	for _, r := range rows {
		m := get(r.TS)
		if p := r.Position(); p.After(m.hwm) {
			m.hwm = p
		}
		if !r.IsTick() {
			m.hasBar = true
			m.flagged = m.flagged || r.Flagged
		}
	}
	for _, sm := range minuteAggs(quotesOf(rows)) {
		for _, a := range sm.minutes {
			a.loc = loc
			get(a.start).agg = a
		}
	}
	out := make([]*minute, 0, len(byStart))
	for _, m := range byStart {
		out = append(out, m)
	}
	return out
}

// errNeedRows: apply met a row at or below its minute's hwm before the
// batch's rows were stored (see Write).
var errNeedRows = errors.New("store: a minute needs its stored rows")

// apply updates sym's held days (all loaded, see load) with its rows and
// returns the derived writes that bring the stored rows up to date. A minute
// that got a row at or below its hwm is recomputed from the stored rows:
// only when rowsStored (the batch's rows are written); otherwise it returns
// errNeedRows.
func (w *Writer) apply(ctx context.Context, sym string, runs [][]quote.Quote, rowsStored bool) ([]op, error) {
	st := w.syms[sym]
	p := newPlan()
	var backfilled []time.Time // days before the latest whose close changed
	for _, run := range runs {
		d := st.days[run[0].Day().Unix()]
		// An earlier day of this batch may be the previous day now.
		if h := heldBefore(st, d.day); h != nil && (d.prevDay.IsZero() || !h.day.Before(d.prevDay)) {
			d.prev, d.prevDay = h.lastClose(), h.day
		}
		oldLast := d.lastClose()
		changed := map[int64]*minute{}
		redo := map[int64]*minute{}
		for _, q := range run {
			start := WindowStart(q.TS, Interval1m)
			k := start.UnixMilli()
			m := d.minutes[k]
			if m == nil {
				m = &minute{agg: agg{start: start, loc: d.loc}}
				d.minutes[k] = m
			}
			changed[k] = m
			p := q.Position()
			if !p.After(m.hwm) {
				redo[k] = m
				continue
			}
			m.hwm = p
			if !q.IsTick() {
				m.hasBar = true
			}
			if q.Flag == "" {
				m.agg.add(q)
			} else if !q.IsTick() {
				b := q
				m.agg.bad = &b
			}
		}
		if len(redo) > 0 && !rowsStored {
			return nil, errNeedRows
		}
		for k, m := range redo {
			rows, err := w.s.dayRows(ctx, sym, d.day, m.start, m.start.Add(time.Minute))
			if err != nil {
				return nil, err
			}
			flagged := m.flagged
			for _, nm := range minutesOfRows(rows, d.loc) {
				if nm.start.Equal(m.start) {
					nm.flagged = flagged
					d.minutes[k], changed[k] = nm, nm
				}
			}
		}
		w.derive(p, st, d, changed)
		if newLast := d.lastClose(); !equalPtr(oldLast, newLast) {
			if d.day.Before(st.latestDay) {
				backfilled = append(backfilled, d.day)
			}
			if err := w.propagate(ctx, p, sym, st, d, newLast); err != nil {
				return nil, err
			}
		}
	}
	if err := w.syncDaily(ctx, sym, st, p, backfilled); err != nil {
		return nil, err
	}
	return w.ops(sym, st, p), nil
}

// syncDaily makes sure the latest row of a daily series is planned with its
// daily closes, st.daily, when it depends on what changed. When the latest
// row is planned and the latest day holds daily bars, the closes are read if
// st.daily is nil (the first time a Writer needs them, or after a close they
// could not do without went). A day in backfilled (before the latest day,
// its close changed) plans the latest row again when the series is daily and
// the day is among st.daily; the latest day is loaded for that if it is not
// held (one read of its 1m bars, and its previous close; for an intraday
// series that is all, its latest row is left alone). It runs in the symbol's
// own goroutine and reads only stored state the batch in hand does not
// change: the batch's days are held, and held days are laid over what is
// read (dailyCloses.merged).
func (w *Writer) syncDaily(ctx context.Context, sym string, st *symState, p *plan, backfilled []time.Time) error {
	latest := st.days[st.latestDay.Unix()]
	if latest == nil && len(backfilled) > 0 && !st.latestDay.IsZero() {
		// Whether the series is daily is a matter of its latest day. Held
		// from now on, as if the batch had touched it (its rows are stored).
		d, _, err := w.s.loadDay(ctx, sym, st.latestDay, st.loc, false)
		if err != nil {
			return err
		}
		if d.prev, d.prevDay, err = w.prevClose(ctx, sym, st, d.day); err != nil {
			return err
		}
		st.days[d.day.Unix()], latest = d, d
	}
	if latest == nil || (!p.latest && len(backfilled) == 0) || !latest.daily() {
		return nil
	}
	keep := w.s.dailyKeep()
	if st.daily != nil {
		if _, ok := st.daily.merged(st, keep); !ok {
			st.daily = nil
		}
	}
	if st.daily == nil {
		h, err := w.s.loadDailyCloses(ctx, sym, keep+len(st.days))
		if err != nil {
			return err
		}
		st.daily = h
	}
	for _, day := range backfilled {
		if st.daily.covers(day) {
			p.latest = true
		}
	}
	return nil
}

// commitDaily records in st.daily, if it is kept, the closes of the held
// days once a Write stored them, and trims it to keep+maxDays closes (or
// drops it, see dailyCloses.set).
func (w *Writer) commitDaily(st *symState) {
	if st.daily == nil {
		return
	}
	keep := w.s.dailyKeep()
	for _, d := range st.days {
		if !st.daily.set(d.day, d.lastClose(), keep) {
			st.daily = nil
			return
		}
	}
	st.daily.trim(keep + maxDays)
}

func equalPtr(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// propagate hands day d's new last close to the next stored day of sym as its
// previous close (a backfilled day, or a late last minute), re-checking that
// day's alerts and, if it is the latest day, the latest row.
func (w *Writer) propagate(ctx context.Context, p *plan, sym string, st *symState, d *dayState, last *float64) error {
	if !d.day.Before(st.latestDay) {
		return nil
	}
	var next time.Time
	err := w.s.query(ctx, true, `SELECT day FROM @quote_days WHERE symbol = ? AND day > ? ORDER BY day ASC LIMIT 1`,
		sym, d.day).Scan(&next)
	if errors.Is(err, gocql.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: day of %s after %s: %w", sym, d.day.Format(time.DateOnly), err)
	}
	nd := st.days[next.UTC().Unix()]
	if nd == nil {
		if nd, _, err = w.s.loadDay(ctx, sym, next.UTC(), st.loc, false); err != nil {
			return err
		}
		st.days[nd.day.Unix()] = nd
	}
	nd.prev, nd.prevDay = last, d.day
	w.derive(p, st, nd, nil)
	return nil
}

// op is one derived write, planned in memory and run later (see Write).
type op func(ctx context.Context) error

// plan collects what one apply changed, per day, so each derived row is
// written once per Write, from the final state (ops).
type plan struct {
	days    map[int64]*dayState         // touched or re-checked days
	changed map[int64]map[int64]*minute // by day: minutes whose rows changed
	latest  bool                        // the latest day was touched
}

func newPlan() *plan {
	return &plan{days: map[int64]*dayState{}, changed: map[int64]map[int64]*minute{}}
}

// derive records that day d changed in the given minutes (nil: none, only
// its previous close may have).
func (w *Writer) derive(p *plan, st *symState, d *dayState, changed map[int64]*minute) {
	k := d.day.Unix()
	p.days[k] = d
	if p.changed[k] == nil {
		p.changed[k] = map[int64]*minute{}
	}
	for mk, m := range changed {
		p.changed[k][mk] = m
	}
	if d.day.After(st.latestDay) && d.lastClose() != nil {
		st.latestDay = d.day
	}
	if d.day.Equal(st.latestDay) {
		p.latest = true
	}
}

// ops updates the alert flags of the planned days in memory and returns the
// writes that bring the stored rows to the state: for each day the alert
// changes, the 1m rows of changed minutes and of flag changes, and the bars
// of every window holding a changed minute; and the latest row if the latest
// day was touched. It reads nothing, and writes each row at most once.
func (w *Writer) ops(sym string, st *symState, p *plan) []op {
	s := w.s
	var ops []op
	for k, d := range p.days {
		changed := p.changed[k]
		ms := d.sorted()
		aggs := aggsOf(ms)
		// Alerts: the day's moves against what is stored.
		want := map[int64]Alert{}
		for _, a := range movesOf(sym, aggs, d.prev, s.cfg.MoveAlertPct) {
			want[a.TS.UnixMilli()] = a
		}
		var rewrite []minute // 1m rows to write, snapshots: the state moves on
		seen := map[int64]bool{}
		for mk, m := range changed {
			if m.count > 0 {
				seen[mk] = true
			}
		}
		for _, m := range ms {
			mk := m.start.UnixMilli()
			a, on := want[mk]
			if on == m.flagged && (!on || (m.alert != nil && *m.alert == a)) {
				continue
			}
			m.flagged = on
			m.alert = nil
			if on {
				m.alert = &a
			}
			if m.count > 0 {
				seen[mk] = true
			}
			oneBar := m.hasBar && m.count == 1 && m.lastTS.Equal(m.start)
			start, day := m.start, d.day
			ops = append(ops, func(gctx context.Context) error {
				if on {
					if err := s.query(gctx, true, `INSERT INTO @alerts (day, ts, symbol, prev_close, close, move_pct, reason)
						VALUES (?, ?, ?, ?, ?, ?, ?)`, a.Day, a.TS, a.Symbol, a.PrevClose, a.Close, a.MovePct, a.Reason).Exec(); err != nil {
						return fmt.Errorf("store: write alert %s %v: %w", sym, a.TS, err)
					}
				}
				// A minute file's bar is its own minute: its row carries the flag.
				if oneBar {
					if err := s.query(gctx, true, `UPDATE @quotes SET flagged = ? WHERE symbol = ? AND day = ? AND ts = ?`,
						on, sym, day, start).Exec(); err != nil {
						return fmt.Errorf("store: flag %s %v: %w", sym, start, err)
					}
				}
				if !on {
					if err := s.query(gctx, true, `DELETE FROM @alerts WHERE day = ? AND ts = ? AND symbol = ?`,
						day, start, sym).Exec(); err != nil {
						return fmt.Errorf("store: delete alert %s %v: %w", sym, start, err)
					}
				}
				return nil
			})
		}
		for _, m := range ms {
			if seen[m.start.UnixMilli()] {
				rewrite = append(rewrite, *m)
			}
		}
		// Bars of the windows that hold a changed minute.
		var bars []Bar
		for _, iv := range Intervals[1:] {
			windows := map[int64]bool{}
			for _, m := range changed {
				windows[WindowStartIn(m.start, iv, d.loc).UnixMilli()] = true
			}
			for _, b := range barsOfMinutes(sym, aggs, iv) {
				if windows[b.TS.UnixMilli()] {
					bars = append(bars, b)
				}
			}
		}
		day := d.day
		if len(rewrite) > 0 {
			ops = append(ops, func(gctx context.Context) error { return s.writeMinutes(gctx, sym, day, rewrite) })
		}
		if len(bars) > 0 {
			ops = append(ops, func(gctx context.Context) error { return s.writeBars(gctx, bars) })
		}
	}
	if d := st.days[st.latestDay.Unix()]; p.latest && d != nil {
		aggs := aggsOf(d.sorted())
		l := latestOf(sym, aggs, d.prev, s.cfg.SMAWindows, s.cfg.EMAWindows)
		if dailyDay(aggs) && st.daily != nil {
			// A daily series: over the daily closes (syncDaily read them).
			closes, _ := st.daily.merged(st, s.dailyKeep())
			l = dailyLatestOf(sym, aggs, d.prev, lastBefore(closes, d.day, s.dailyKeep()-1), s.cfg.SMAWindows, s.cfg.EMAWindows)
		}
		if !l.TS.IsZero() {
			l.Updated = s.now().UTC()
			ops = append(ops, func(gctx context.Context) error {
				if err := s.query(gctx, true, `INSERT INTO @latest (symbol, ts, price, prev_close, day_change, day_change_pct, sma, ema, updated)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, l.Symbol, l.TS, l.Price, l.PrevClose, l.DayChange, l.DayChangePct,
					l.SMA, l.EMA, l.Updated).Exec(); err != nil {
					return fmt.Errorf("store: write latest %s: %w", sym, err)
				}
				return nil
			})
		}
	}
	return ops
}

// runOps runs ops, writeParallelism at a time.
func (s *Store) runOps(ctx context.Context, ops []op) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(writeParallelism)
	for _, o := range ops {
		g.Go(func() error { return o(gctx) })
	}
	return g.Wait()
}
