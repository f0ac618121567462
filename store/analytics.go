package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gocql/gocql"
	"github.com/stock-system/stocksys/quote"
)

// Row is a stored quote or tick with the columns quote.Quote does not carry.
type Row struct {
	quote.Quote
	// Flagged: a minute bar whose close moved more than Config.MoveAlertPct
	// from the previous close (see DetectMoves); an Alert row exists for it.
	// Always false for ticks (their alerts are per minute, in alerts only).
	// Not to be confused with Quote.Flag, the source's mark of a bad tick or
	// bar (left out of bars).
	Flagged bool `json:"flagged"`
	// Epoch of the last writer of the row (informational; a replay by a
	// newer owner overwrites it).
	Epoch int64 `json:"epoch"`
}

const selectQuoteCols = `SELECT ts, open, high, low, close, volume, bid, ask, source, flagged, epoch, flag FROM @quotes `

const selectTickCols = `SELECT ts, seq, price, size, exchange, condition, bid, ask, flag, source, epoch FROM @ticks `

// scanRows runs a quotes query and returns its rows for symbol.
func scanRows(q *gocql.Query, symbol string) ([]Row, error) {
	it := q.Iter()
	var (
		out     []Row
		r       Row
		flagged *bool
		epoch   *int64
		flag    *string
	)
	for it.Scan(&r.TS, &r.Open, &r.High, &r.Low, &r.Close, &r.Volume, &r.Bid, &r.Ask, &r.Source, &flagged, &epoch, &flag) {
		r.Symbol, r.Flag = symbol, deref(flag)
		r.TS = r.TS.UTC()
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

// scanTicks runs a ticks query and returns its rows for symbol, as trade
// ticks (Open = High = Low = Close = price, Volume = size).
func scanTicks(q *gocql.Query, symbol string) ([]Row, error) {
	it := q.Iter()
	var (
		out                   []Row
		r                     Row
		price                 float64
		exch, cond, flag, src *string
		epoch                 *int64
	)
	for it.Scan(&r.TS, &r.Seq, &price, &r.Volume, &exch, &cond, &r.Bid, &r.Ask, &flag, &src, &epoch) {
		r.Symbol, r.Kind = symbol, quote.KindTrade
		r.TS = r.TS.UTC()
		r.Open, r.High, r.Low, r.Close = price, price, price, price
		r.Exchange, r.Condition, r.Flag, r.Source = deref(exch), deref(cond), deref(flag), deref(src)
		if epoch != nil {
			r.Epoch = *epoch
		}
		out = append(out, r)
		r = Row{}
	}
	return out, it.Close()
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Zone returns the exchange time zone of symbol that its stored days and
// bars are reckoned in: the zone of the quotes that last recorded a new day
// (the static column quote_days.tz, an IANA name), quote.Eastern
// (quote.DefaultZone) when the symbol has no stored day or a keyspace from
// before the column. A stored name LoadZone refuses is an error naming it.
// Safe for concurrent use.
func (s *Store) Zone(ctx context.Context, symbol string) (*time.Location, error) {
	var tz *string
	err := s.query(ctx, true, `SELECT tz FROM @quote_days WHERE symbol = ? LIMIT 1`, symbol).Scan(&tz)
	if errors.Is(err, gocql.ErrNotFound) || (err == nil && (tz == nil || *tz == "")) ||
		(err != nil && strings.Contains(err.Error(), "Undefined column name tz")) { // a read-only Open of an older keyspace
		return quote.Eastern, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: zone of %s: %w", symbol, err)
	}
	loc, err := quote.LoadZone(*tz)
	if err != nil {
		return nil, fmt.Errorf("store: zone of %s: %w", symbol, err)
	}
	return loc, nil
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
		out = append(out, d.UTC())
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("store: days of %s before %s: %w", symbol, day.Format(time.DateOnly), err)
	}
	return out, nil
}

// prevClose returns the last close of the latest stored trading day of
// symbol before day, or nil if there is none: the close of that day's last
// 1m bar (a keyspace written before 1m bars existed: its last quote's close).
func (s *Store) prevClose(ctx context.Context, symbol string, day time.Time) (*float64, time.Time, error) {
	days, err := s.daysBefore(ctx, symbol, day, 3)
	if err != nil {
		return nil, time.Time{}, err
	}
	for _, d := range days { // a listed day always has rows; more are read only to be safe
		var c float64
		err := s.query(ctx, true, `SELECT close FROM @bars WHERE symbol = ? AND interval = ? AND day = ? ORDER BY ts DESC LIMIT 1`,
			symbol, Interval1m, d).Scan(&c)
		if errors.Is(err, gocql.ErrNotFound) {
			err = s.query(ctx, true, `SELECT close FROM @quotes WHERE symbol = ? AND day = ? ORDER BY ts DESC LIMIT 1`,
				symbol, d).Scan(&c)
		}
		if err == nil {
			return &c, d, nil
		}
		if !errors.Is(err, gocql.ErrNotFound) {
			return nil, time.Time{}, fmt.Errorf("store: last close of %s %s: %w", symbol, d.Format(time.DateOnly), err)
		}
	}
	return nil, time.Time{}, nil
}

func quotesOf(rows []Row) []quote.Quote {
	qs := make([]quote.Quote, len(rows))
	for i, r := range rows {
		qs[i] = r.Quote
	}
	return qs
}

// UpdateAnalytics recomputes, from the stored rows (ticks and quotes), every
// bar, flag and alert of symbol on the given trading days (any instant of
// the day; only its date in the symbol's stored zone, Store.Zone, counts),
// the next stored day's first alert, and the symbol's latest row. Writers keep these up to date as they write; call
// this to repair after a failure or to rebuild. It reads each day whole;
// for a daily series also the daily closes its latest row is averaged over
// (see Latest).
// Idempotent; safe for concurrent use.
func (s *Store) UpdateAnalytics(ctx context.Context, symbol string, days []time.Time) error {
	loc, err := s.Zone(ctx, symbol)
	if err != nil {
		return err
	}
	w := s.NewWriter()
	st := &symState{days: map[int64]*dayState{}, loc: loc}
	w.syms[symbol] = st
	var ts time.Time
	switch err := s.query(ctx, true, `SELECT ts FROM @latest WHERE symbol = ?`, symbol).Scan(&ts); {
	case err == nil:
		st.latestDay = quote.DayIn(ts, loc)
	case !errors.Is(err, gocql.ErrNotFound):
		return fmt.Errorf("store: read latest %s: %w", symbol, err)
	}
	seen := map[time.Time]bool{}
	for _, day := range days {
		day = quote.DayIn(day, loc)
		if seen[day] {
			continue
		}
		seen[day] = true
		d, _, err := s.loadDay(ctx, symbol, day, loc, true)
		if err != nil {
			return err
		}
		// The stored alert flags are unknown here: take them from the
		// stored 1m bars, so stale alerts are deleted.
		if old, _, err := s.loadDay(ctx, symbol, day, loc, false); err == nil {
			for k, m := range d.minutes {
				if om, ok := old.minutes[k]; ok {
					m.flagged = om.flagged
				}
			}
		} else {
			return err
		}
		if d.prev, d.prevDay, err = s.prevClose(ctx, symbol, day); err != nil {
			return err
		}
		st.days = map[int64]*dayState{day.Unix(): d}
		p := newPlan()
		w.derive(p, st, d, d.minutes)
		if err := w.propagate(ctx, p, symbol, st, d, d.lastClose()); err != nil {
			return err
		}
		// A repaired day may be among a daily series' closes.
		var backfilled []time.Time
		if d.day.Before(st.latestDay) {
			backfilled = []time.Time{d.day}
		}
		if err := w.syncDaily(ctx, symbol, st, p, backfilled); err != nil {
			return err
		}
		if err := s.runOps(ctx, w.ops(symbol, st, p)); err != nil {
			return err
		}
		w.commitDaily(st)
	}
	return nil
}
