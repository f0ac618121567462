package store

import (
	"context"
	"fmt"
	"time"

	"github.com/gocql/gocql"
	"github.com/stock-system/stocksys/quote"
)

// storedDays returns the stored trading days of symbol that may hold an
// instant of [from, to], ascending: those from the day before from's
// US/Eastern date to the day after to's, as a trading day in any exchange
// zone (UTC-12 to UTC+14) lies within a day of the Eastern date. Callers
// filter the rows of those days by ts, so no zone is needed here.
func (s *Store) storedDays(ctx context.Context, symbol string, from, to time.Time) ([]time.Time, error) {
	return s.daysBetween(ctx, symbol, quote.Quote{TS: from}.Day().AddDate(0, 0, -1), quote.Quote{TS: to}.Day().AddDate(0, 0, 1))
}

// daysBetween returns the stored trading days of symbol from first to last
// (both included, midnight UTC of each date), ascending.
func (s *Store) daysBetween(ctx context.Context, symbol string, first, last time.Time) ([]time.Time, error) {
	it := s.query(ctx, true, `SELECT day FROM @quote_days WHERE symbol = ? AND day >= ? AND day <= ?`,
		symbol, first, last).Iter()
	var (
		out []time.Time
		d   time.Time
	)
	for it.Scan(&d) {
		out = append(out, d)
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("store: days of %s: %w", symbol, err)
	}
	return out, nil
}

// Days returns the stored trading days of symbol (quote_days) that lie
// within the dates of from and to (both included) in the symbol's exchange
// zone (Zone: US/Eastern unless its quotes named another), ascending, as
// midnight UTC of each date. Safe for concurrent use.
func (s *Store) Days(ctx context.Context, symbol string, from, to time.Time) ([]time.Time, error) {
	loc, err := s.Zone(ctx, symbol)
	if err != nil {
		return nil, err
	}
	days, err := s.daysBetween(ctx, symbol, quote.DayIn(from, loc), quote.DayIn(to, loc))
	for i := range days {
		days[i] = days[i].UTC()
	}
	return days, err
}

// rowZone returns the Quote.TZ of symbol's rows read back: its stored zone
// (Zone), "" for US/Eastern (the default, as the rows were written).
func (s *Store) rowZone(ctx context.Context, symbol string) (string, error) {
	loc, err := s.Zone(ctx, symbol)
	if err != nil || loc == quote.Eastern {
		return "", err
	}
	return loc.String(), nil
}

// Rows returns the stored quotes of symbol with from <= TS < to, in TS
// order, with their flag and epoch; at most limit (no limit if limit <= 0).
// Their TZ is the symbol's stored zone (Zone; "" for US/Eastern), so their
// Day is the day they are stored on. It reads the symbol's zone and day
// list, then each stored day in the range (one query per day). Safe for
// concurrent use.
func (s *Store) Rows(ctx context.Context, symbol string, from, to time.Time, limit int) ([]Row, error) {
	tz, err := s.rowZone(ctx, symbol)
	if err != nil {
		return nil, err
	}
	days, err := s.storedDays(ctx, symbol, from, to)
	if err != nil {
		return nil, err
	}
	var out []Row
	for _, d := range days {
		stmt := selectQuoteCols + `WHERE symbol = ? AND day = ? AND ts >= ? AND ts < ?`
		args := []any{symbol, d, from, to}
		if limit > 0 {
			stmt += ` LIMIT ?`
			args = append(args, limit-len(out))
		}
		rows, err := scanRows(s.query(ctx, true, stmt, args...), symbol)
		if err != nil {
			return nil, fmt.Errorf("store: read quotes %s %s: %w", symbol, d.Format(time.DateOnly), err)
		}
		for i := range rows {
			rows[i].TZ = tz
		}
		out = append(out, rows...)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

// Ticks returns the stored ticks of symbol with from <= TS < to, in
// (TS, Seq) order, at most limit (no limit if limit <= 0), with their epoch:
// trade ticks with Open = High = Low = Close = the price and Volume = the
// size, Flag set for a tick excluded from bars, TZ the symbol's stored zone
// as for Rows. One query per stored day in range. Safe for concurrent use.
func (s *Store) Ticks(ctx context.Context, symbol string, from, to time.Time, limit int) ([]Row, error) {
	tz, err := s.rowZone(ctx, symbol)
	if err != nil {
		return nil, err
	}
	days, err := s.storedDays(ctx, symbol, from, to)
	if err != nil {
		return nil, err
	}
	var out []Row
	for _, d := range days {
		stmt := selectTickCols + `WHERE symbol = ? AND day = ? AND ts >= ? AND ts < ?`
		args := []any{symbol, d, from, to}
		if limit > 0 {
			stmt += ` LIMIT ?`
			args = append(args, limit-len(out))
		}
		rows, err := scanTicks(s.query(ctx, true, stmt, args...), symbol)
		if err != nil {
			return nil, fmt.Errorf("store: read ticks %s %s: %w", symbol, d.Format(time.DateOnly), err)
		}
		for i := range rows {
			rows[i].TZ = tz
		}
		out = append(out, rows...)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

// Quotes returns the stored quotes of symbol with from <= TS < to, in TS
// order, at most limit (no limit if limit <= 0), as Rows without the flag.
func (s *Store) Quotes(ctx context.Context, symbol string, from, to time.Time, limit int) ([]quote.Quote, error) {
	rows, err := s.Rows(ctx, symbol, from, to, limit)
	if err != nil {
		return nil, err
	}
	return quotesOf(rows), nil
}

// Bars returns the stored bars of symbol and interval whose start lies in
// [from, to), in TS order, at most limit (no limit if limit <= 0). An unknown
// interval returns ErrInvalidInterval. One query per stored day in range.
func (s *Store) Bars(ctx context.Context, symbol, interval string, from, to time.Time, limit int) ([]Bar, error) {
	if !ValidInterval(interval) {
		return nil, fmt.Errorf("%w: %q (want 1m, 5m, 1h or 1d)", ErrInvalidInterval, interval)
	}
	// A 1d bar starts before its first quote, on the same date in its zone.
	days, err := s.storedDays(ctx, symbol, from, to)
	if err != nil {
		return nil, err
	}
	var out []Bar
	for _, d := range days {
		stmt := `SELECT ts, open, high, low, close, volume, vwap, count FROM @bars
			WHERE symbol = ? AND interval = ? AND day = ? AND ts >= ? AND ts < ?`
		args := []any{symbol, interval, d, from, to}
		if limit > 0 {
			stmt += ` LIMIT ?`
			args = append(args, limit-len(out))
		}
		it := s.query(ctx, true, stmt, args...).Iter()
		b := Bar{Symbol: symbol, Interval: interval, Day: d}
		for it.Scan(&b.TS, &b.Open, &b.High, &b.Low, &b.Close, &b.Volume, &b.VWAP, &b.Count) {
			out = append(out, b)
		}
		if err := it.Close(); err != nil {
			return nil, fmt.Errorf("store: read %s bars %s %s: %w", interval, symbol, d.Format(time.DateOnly), err)
		}
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

const selectLatest = `SELECT symbol, ts, price, prev_close, day_change, day_change_pct, sma, ema, updated FROM @latest`

// Latest returns the latest rows of the given symbols, in the order given
// and skipping symbols without one; with no symbols, every row (in token
// order, a full scan of a table of one row per symbol). Safe for concurrent
// use.
func (s *Store) Latest(ctx context.Context, symbols ...string) ([]Latest, error) {
	var out []Latest
	scan := func(q *gocql.Query) error {
		it := q.Iter()
		var l Latest
		for it.Scan(&l.Symbol, &l.TS, &l.Price, &l.PrevClose, &l.DayChange, &l.DayChangePct, &l.SMA, &l.EMA, &l.Updated) {
			if l.SMA == nil {
				l.SMA = map[int]float64{}
			}
			if l.EMA == nil {
				l.EMA = map[int]float64{}
			}
			out = append(out, l)
			l = Latest{}
		}
		return it.Close()
	}
	if len(symbols) == 0 {
		if err := scan(s.query(ctx, true, selectLatest)); err != nil {
			return nil, fmt.Errorf("store: read latest: %w", err)
		}
		return out, nil
	}
	for _, sym := range symbols {
		if err := scan(s.query(ctx, true, selectLatest+` WHERE symbol = ?`, sym)); err != nil {
			return nil, fmt.Errorf("store: read latest %s: %w", sym, err)
		}
	}
	return out, nil
}

// Alerts returns the alerts with from <= TS < to, ordered by trading day,
// then TS, then symbol; at most limit (no limit if limit <= 0). An alert's
// day is its symbol's trading day in the symbol's zone, so it queries each
// calendar day from the day before from's US/Eastern date to the day after
// to's (one query per day, so keep ranges to what a screen shows).
func (s *Store) Alerts(ctx context.Context, from, to time.Time, limit int) ([]Alert, error) {
	var out []Alert
	last := quote.Quote{TS: to}.Day().AddDate(0, 0, 1)
	for d := (quote.Quote{TS: from}).Day().AddDate(0, 0, -1); !d.After(last); d = d.AddDate(0, 0, 1) {
		stmt := `SELECT ts, symbol, prev_close, close, move_pct, reason FROM @alerts WHERE day = ? AND ts >= ? AND ts < ?`
		args := []any{d, from, to}
		if limit > 0 {
			stmt += ` LIMIT ?`
			args = append(args, limit-len(out))
		}
		it := s.query(ctx, true, stmt, args...).Iter()
		a := Alert{Day: d}
		for it.Scan(&a.TS, &a.Symbol, &a.PrevClose, &a.Close, &a.MovePct, &a.Reason) {
			out = append(out, a)
			a = Alert{Day: d}
		}
		if err := it.Close(); err != nil {
			return nil, fmt.Errorf("store: read alerts %s: %w", d.Format(time.DateOnly), err)
		}
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}
