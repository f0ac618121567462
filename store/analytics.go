package store

import (
	"context"
	"fmt"
	"time"

	"github.com/gocql/gocql"
	"github.com/stock-system/stocksys/quote"
)

// Row is a stored quote with the columns quote.Quote does not carry.
type Row struct {
	quote.Quote
	// Flagged: the close moved more than Config.MoveAlertPct from the
	// previous stored close (see DetectMoves); an Alert row exists for it.
	Flagged bool `json:"flagged"`
	// Epoch of the last writer of the row (informational; a replay by a
	// newer owner overwrites it).
	Epoch int64 `json:"epoch"`
}

const selectQuoteCols = `SELECT ts, open, high, low, close, volume, bid, ask, source, flagged, epoch FROM @quotes `

// scanRows runs a quotes query and returns its rows for symbol.
func scanRows(q *gocql.Query, symbol string) ([]Row, error) {
	it := q.Iter()
	var (
		out     []Row
		r       Row
		flagged *bool
		epoch   *int64
	)
	for it.Scan(&r.TS, &r.Open, &r.High, &r.Low, &r.Close, &r.Volume, &r.Bid, &r.Ask, &r.Source, &flagged, &epoch) {
		r.Symbol = symbol
		r.Flagged = flagged != nil && *flagged
		r.Epoch = 0
		if epoch != nil {
			r.Epoch = *epoch
		}
		out = append(out, r)
		r = Row{}
	}
	return out, it.Close()
}

// readDay returns every stored quote of symbol on day, in TS order.
func (s *Store) readDay(ctx context.Context, symbol string, day time.Time) ([]Row, error) {
	rows, err := scanRows(s.query(ctx, true, selectQuoteCols+`WHERE symbol = ? AND day = ?`, symbol, day), symbol)
	if err != nil {
		return nil, fmt.Errorf("store: read quotes %s %s: %w", symbol, day.Format(time.DateOnly), err)
	}
	return rows, nil
}

// daysBefore returns up to n stored trading days of symbol before day,
// newest first.
func (s *Store) daysBefore(ctx context.Context, symbol string, day time.Time, n int) ([]time.Time, error) {
	it := s.query(ctx, true, `SELECT day FROM @quote_days WHERE symbol = ? AND day < ? ORDER BY day DESC LIMIT ?`,
		symbol, day, n).Iter()
	var (
		out []time.Time
		d   time.Time
	)
	for it.Scan(&d) {
		out = append(out, d)
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("store: days of %s before %s: %w", symbol, day.Format(time.DateOnly), err)
	}
	return out, nil
}

// prevClose returns the last close of the latest stored trading day of
// symbol before day, or nil if there is none.
func (s *Store) prevClose(ctx context.Context, symbol string, day time.Time) (*float64, error) {
	days, err := s.daysBefore(ctx, symbol, day, 3)
	if err != nil {
		return nil, err
	}
	for _, d := range days { // a listed day always has quotes; more are read only to be safe
		var c float64
		err := s.query(ctx, true, `SELECT close FROM @quotes WHERE symbol = ? AND day = ? ORDER BY ts DESC LIMIT 1`,
			symbol, d).Scan(&c)
		if err == nil {
			return &c, nil
		}
		if err != gocql.ErrNotFound {
			return nil, fmt.Errorf("store: last close of %s %s: %w", symbol, d.Format(time.DateOnly), err)
		}
	}
	return nil, nil
}

// nextDay returns the first stored trading day of symbol after day.
func (s *Store) nextDay(ctx context.Context, symbol string, day time.Time) (time.Time, bool, error) {
	var d time.Time
	err := s.query(ctx, true, `SELECT day FROM @quote_days WHERE symbol = ? AND day > ? ORDER BY day ASC LIMIT 1`,
		symbol, day).Scan(&d)
	if err == gocql.ErrNotFound {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: day of %s after %s: %w", symbol, day.Format(time.DateOnly), err)
	}
	return d, true, nil
}

func quotesOf(rows []Row) []quote.Quote {
	qs := make([]quote.Quote, len(rows))
	for i, r := range rows {
		qs[i] = r.Quote
	}
	return qs
}

// analyze recomputes the derived rows of symbol for the touched days (day ->
// touched quote times; nil means the whole day) from the stored quotes.
func (s *Store) analyze(ctx context.Context, symbol string, touched map[time.Time][]time.Time) error {
	defer s.lockSymbol(symbol)()
	days := sortedDays(touched)
	rowsOf := map[time.Time][]Row{}
	prevOf := map[time.Time]*float64{}
	for _, day := range days {
		rows, err := s.readDay(ctx, symbol, day)
		if err != nil {
			return err
		}
		prev, err := s.prevClose(ctx, symbol, day)
		if err != nil {
			return err
		}
		rowsOf[day], prevOf[day] = rows, prev
		qs := quotesOf(rows)
		if err := s.writeBars(ctx, qs, touched[day]); err != nil {
			return err
		}
		if err := s.syncFlags(ctx, rows, DetectMoves(qs, prev, s.cfg.MoveAlertPct)); err != nil {
			return err
		}
	}
	// A touched day's last close is the previous close of the first quote
	// of the next stored day (a backfill, or a late last minute).
	for _, day := range days {
		rows := rowsOf[day]
		if len(rows) == 0 {
			continue
		}
		next, ok, err := s.nextDay(ctx, symbol, day)
		if err != nil {
			return err
		}
		if _, isTouched := touched[next]; !ok || isTouched {
			continue
		}
		first, err := scanRows(s.query(ctx, true, selectQuoteCols+`WHERE symbol = ? AND day = ? LIMIT 1`, symbol, next), symbol)
		if err != nil {
			return fmt.Errorf("store: read first quote %s %s: %w", symbol, next.Format(time.DateOnly), err)
		}
		last := rows[len(rows)-1].Close
		if err := s.syncFlags(ctx, first, DetectMoves(quotesOf(first), &last, s.cfg.MoveAlertPct)); err != nil {
			return err
		}
	}
	return s.updateLatest(ctx, symbol, touched, rowsOf, prevOf)
}

// writeBars writes the bars of qs (one symbol-day) whose window holds one
// of the touched times (all bars if touched is nil).
func (s *Store) writeBars(ctx context.Context, qs []quote.Quote, touched []time.Time) error {
	for _, iv := range Intervals {
		bars := ComputeBars(qs, iv)
		if touched != nil {
			want := map[time.Time]bool{}
			for _, ts := range touched {
				want[WindowStart(ts, iv)] = true
			}
			n := 0
			for _, b := range bars {
				if want[b.TS] {
					bars[n] = b
					n++
				}
			}
			bars = bars[:n]
		}
		sizes := make([]int, len(bars))
		for i := range sizes {
			sizes[i] = barRowBytes()
		}
		// All bars of one symbol-day-interval share a partition.
		for _, r := range splitBatches(sizes, s.cfg.BatchMaxBytes) {
			b := s.session.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
			for _, bar := range bars[r[0]:r[1]] {
				b.Entries = append(b.Entries, gocql.BatchEntry{Stmt: s.cql(insertBar), Idempotent: true, Args: []any{
					bar.Symbol, bar.Interval, bar.Day, bar.TS, bar.Open, bar.High, bar.Low, bar.Close,
					bar.Volume, bar.VWAP, bar.Count}})
			}
			if err := s.session.ExecuteBatch(b); err != nil {
				return fmt.Errorf("store: write %d %s bars of %s: %w", len(b.Entries), iv, bars[r[0]].Symbol, err)
			}
		}
	}
	return nil
}

// syncFlags makes the stored flags of rows and their alert rows match
// alerts: alert rows are written before a quote is flagged and deleted after
// it is unflagged, so a flagged quote always has its alert.
func (s *Store) syncFlags(ctx context.Context, rows []Row, alerts []Alert) error {
	want := map[int64]bool{}
	for _, a := range alerts {
		want[a.TS.UnixMilli()] = true
		if err := s.query(ctx, true, `INSERT INTO @alerts (day, ts, symbol, prev_close, close, move_pct, reason)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, a.Day, a.TS, a.Symbol, a.PrevClose, a.Close, a.MovePct, a.Reason).Exec(); err != nil {
			return fmt.Errorf("store: write alert %s %v: %w", a.Symbol, a.TS, err)
		}
	}
	for _, r := range rows {
		w := want[r.TS.UnixMilli()]
		if w == r.Flagged {
			continue
		}
		if err := s.query(ctx, true, `UPDATE @quotes SET flagged = ? WHERE symbol = ? AND day = ? AND ts = ?`,
			w, r.Symbol, r.Day(), r.TS).Exec(); err != nil {
			return fmt.Errorf("store: flag %s %v: %w", r.Symbol, r.TS, err)
		}
		if !w {
			if err := s.query(ctx, true, `DELETE FROM @alerts WHERE day = ? AND ts = ? AND symbol = ?`,
				r.Day(), r.TS, r.Symbol).Exec(); err != nil {
				return fmt.Errorf("store: delete alert %s %v: %w", r.Symbol, r.TS, err)
			}
		}
	}
	return nil
}

// updateLatest rewrites symbol's latest row if its inputs may have changed:
// the latest stored day L (the newest of the stored latest's day and the
// touched days with quotes) was touched, or L's previous trading day was.
func (s *Store) updateLatest(ctx context.Context, symbol string, touched map[time.Time][]time.Time,
	rowsOf map[time.Time][]Row, prevOf map[time.Time]*float64) error {
	var (
		L     time.Time
		found bool
	)
	for d, rows := range rowsOf {
		if len(rows) > 0 && d.After(L) {
			L = d
		}
	}
	var storedTS time.Time
	err := s.query(ctx, true, `SELECT ts FROM @latest WHERE symbol = ?`, symbol).Scan(&storedTS)
	switch {
	case err == nil:
		found = true
		if d := (quote.Quote{TS: storedTS}).Day(); d.After(L) {
			L = d
		}
	case err != gocql.ErrNotFound:
		return fmt.Errorf("store: read latest %s: %w", symbol, err)
	}
	if L.IsZero() {
		return nil // no quotes at all
	}
	if _, ok := touched[L]; !ok && found {
		before, err := s.daysBefore(ctx, symbol, L, 1)
		if err != nil {
			return err
		}
		if len(before) == 0 {
			return nil
		}
		if _, ok := touched[before[0]]; !ok {
			return nil
		}
	}
	rows, ok := rowsOf[L]
	if !ok {
		if rows, err = s.readDay(ctx, symbol, L); err != nil {
			return err
		}
	}
	prev, ok := prevOf[L]
	if !ok {
		if prev, err = s.prevClose(ctx, symbol, L); err != nil {
			return err
		}
	}
	if len(rows) == 0 {
		return nil
	}
	l := ComputeLatest(quotesOf(rows), prev, s.cfg.SMAWindows, s.cfg.EMAWindows)
	l.Updated = s.now().UTC()
	if err := s.query(ctx, true, `INSERT INTO @latest (symbol, ts, price, prev_close, day_change, day_change_pct, sma, ema, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, l.Symbol, l.TS, l.Price, l.PrevClose, l.DayChange, l.DayChangePct,
		l.SMA, l.EMA, l.Updated).Exec(); err != nil {
		return fmt.Errorf("store: write latest %s: %w", symbol, err)
	}
	return nil
}
