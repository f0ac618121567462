package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gocql/gocql"
	"github.com/stock-system/stocksys/quote"
)

const insertQuote = `INSERT INTO @quotes (symbol, day, ts, open, high, low, close, volume, bid, ask, source, epoch, flag)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const insertTick = `INSERT INTO @ticks (symbol, day, ts, seq, price, size, exchange, condition, bid, ask, flag, source, epoch)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const insertBar = `INSERT INTO @bars (symbol, interval, day, ts, open, high, low, close, volume, vwap, count)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertMinute writes a 1m bar with the running sums a Writer rebuilds its
// state from (see Writer).
const insertMinute = `INSERT INTO @bars (symbol, interval, day, ts, open, high, low, close, volume, vwap, count,
	pv, sum_close, last_ts, hwm, flagged, has_bar, daily) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// Estimated data sizes, as Cassandra counts them for the batch thresholds
// (PartitionUpdate.dataSize: per row the clustering values and an 8-byte
// liveness timestamp, per cell an 8-byte timestamp plus the value). cellBytes
// rounds the per-cell overhead up to 16 so the estimate errs high.
const (
	rowBytes  = 16
	cellBytes = 16
)

// quoteRowBytes estimates the batch size contribution of one quote row.
func quoteRowBytes(q quote.Quote) int {
	n := rowBytes + 8 /* ts */ + 6*(cellBytes+8) /* o h l c volume epoch */ + 2*cellBytes + len(q.Source) + len(q.Flag)
	if q.Bid != nil {
		n += cellBytes + 8
	}
	if q.Ask != nil {
		n += cellBytes + 8
	}
	return n
}

// tickRowBytes estimates the batch size contribution of one tick row.
func tickRowBytes(q quote.Quote) int {
	n := rowBytes + 8 + 4 /* ts seq */ + 3*(cellBytes+8) /* price size epoch */ +
		4*cellBytes + len(q.Exchange) + len(q.Condition) + len(q.Flag) + len(q.Source)
	if q.Bid != nil {
		n += cellBytes + 8
	}
	if q.Ask != nil {
		n += cellBytes + 8
	}
	return n
}

// barRowBytes estimates the batch size contribution of one bar row.
func barRowBytes() int { return rowBytes + 8 + 7*(cellBytes+8) }

// splitBatches splits items with the given sizes into consecutive runs whose
// sizes sum to at most limit; an item larger than limit forms a run of its
// own. It returns the runs as [start, end) index pairs, in order.
func splitBatches(sizes []int, limit int) [][2]int {
	var out [][2]int
	start, sum := 0, 0
	for i, n := range sizes {
		if i > start && sum+n > limit {
			out = append(out, [2]int{start, i})
			start, sum = i, 0
		}
		sum += n
	}
	if start < len(sizes) {
		out = append(out, [2]int{start, len(sizes)})
	}
	return out
}

// quoteBatches groups qs (already normalized) by partition and returns the
// unlogged, idempotent batches that write them, each under BatchMaxBytes.
func (s *Store) quoteBatches(ctx context.Context, epoch int64, qs []quote.Quote) []*gocql.Batch {
	var out []*gocql.Batch
	for _, part := range partitions(qs) {
		// Ticks and bars of one (symbol, day) go to two tables, so to two
		// Cassandra partitions: batch them apart.
		for _, ticks := range []bool{false, true} {
			var rows []quote.Quote
			var sizes []int
			for _, q := range part {
				if q.IsTick() != ticks {
					continue
				}
				rows = append(rows, q)
				if ticks {
					sizes = append(sizes, tickRowBytes(q))
				} else {
					sizes = append(sizes, quoteRowBytes(q))
				}
			}
			for _, r := range splitBatches(sizes, s.cfg.BatchMaxBytes) {
				b := s.session.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
				for _, q := range rows[r[0]:r[1]] {
					if ticks {
						b.Entries = append(b.Entries, gocql.BatchEntry{Stmt: s.cql(insertTick), Idempotent: true, Args: []any{
							q.Symbol, q.Day(), q.TS, q.Seq, q.Close, q.Volume, q.Exchange, q.Condition,
							optional(q.Bid), optional(q.Ask), q.Flag, q.Source, epoch}})
						continue
					}
					b.Entries = append(b.Entries, gocql.BatchEntry{Stmt: s.cql(insertQuote), Idempotent: true, Args: []any{
						q.Symbol, q.Day(), q.TS, q.Open, q.High, q.Low, q.Close, q.Volume,
						optional(q.Bid), optional(q.Ask), q.Source, epoch, q.Flag}})
				}
				out = append(out, b)
			}
		}
	}
	return out
}

// optional binds nil as "unset" rather than null, so an absent bid or ask
// writes no tombstone (the column still reads as null on a new row).
func optional(p *float64) any {
	if p == nil {
		return gocql.UnsetValue
	}
	return *p
}

// partitions splits normalized quotes into runs of one (symbol, day).
func partitions(qs []quote.Quote) [][]quote.Quote {
	var out [][]quote.Quote
	for i := 0; i < len(qs); {
		j := i + 1
		for j < len(qs) && qs[j].Symbol == qs[i].Symbol && qs[j].Day().Equal(qs[i].Day()) {
			j++
		}
		out = append(out, qs[i:j])
		i = j
	}
	return out
}

// WriteQuotes stores qs (quotes and ticks), written by the owner of the
// given epoch, and then brings the derived tables up to date for every
// (symbol, trading day) it touched: bars of the touched windows, alerts and
// flags, and latest. It is Writer.Write on a fresh Writer, so it reads the
// stored 1m bars of each touched day first; an ingest task keeps one Writer
// instead (NewWriter) and reads nothing back. qs may be in any order and
// contain duplicates; writing the same quotes again (a replay) leaves the
// same rows.
//
// Rows of one Cassandra partition go in UNLOGGED batches of that partition
// only, each estimated under Config.BatchMaxBytes (default 4 KiB, below the
// server's 5 KiB batch_size_warn_threshold), split otherwise. Every statement
// is idempotent and retried per Config.Retries.
//
// It returns nil only when everything is written; on error (ErrInvalidQuote
// before anything is written, else a wrapped gocql error or ctx's error)
// some rows may be written and the caller should retry the whole call, which
// is safe. Safe for concurrent use for different symbols; see Writer for two
// writers of one symbol.
func (s *Store) WriteQuotes(ctx context.Context, epoch int64, qs []quote.Quote) error {
	return s.NewWriter().Write(ctx, epoch, qs)
}

// rowOps returns the writes of normalized qs to the quotes and ticks
// tables, one unlogged batch each.
func (s *Store) rowOps(epoch int64, qs []quote.Quote) []op {
	var ops []op
	for _, b := range s.quoteBatches(context.Background(), epoch, qs) {
		ops = append(ops, func(ctx context.Context) error {
			if err := s.session.ExecuteBatch(b.WithContext(ctx)); err != nil {
				return fmt.Errorf("store: write %d rows of %s: %w", len(b.Entries), b.Entries[0].Args[0], err)
			}
			return nil
		})
	}
	return ops
}

// writeMinutes writes the 1m bars of sym's day ms, with their state columns.
func (s *Store) writeMinutes(ctx context.Context, sym string, day time.Time, ms []minute) error {
	sizes := make([]int, len(ms))
	for i := range sizes {
		sizes[i] = barRowBytes() + 7*(cellBytes+8)
	}
	for _, r := range splitBatches(sizes, s.cfg.BatchMaxBytes) {
		b := s.session.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
		for _, m := range ms[r[0]:r[1]] {
			bar := m.agg.bar(sym, Interval1m)
			b.Entries = append(b.Entries, gocql.BatchEntry{Stmt: s.cql(insertMinute), Idempotent: true, Args: []any{
				sym, Interval1m, day, bar.TS, bar.Open, bar.High, bar.Low, bar.Close, bar.Volume, bar.VWAP, bar.Count,
				m.pv, m.sumClose, m.lastTS, m.hwm.UnixNano(), m.flagged, m.hasBar, m.daily}})
		}
		if err := s.session.ExecuteBatch(b); err != nil {
			return fmt.Errorf("store: write %d 1m bars of %s: %w", len(b.Entries), sym, err)
		}
	}
	return nil
}

// writeBars writes bars (5m, 1h, 1d), one batch per (interval, day)
// partition run.
func (s *Store) writeBars(ctx context.Context, bars []Bar) error {
	for i := 0; i < len(bars); {
		j := i + 1
		for j < len(bars) && bars[j].Interval == bars[i].Interval && bars[j].Day.Equal(bars[i].Day) {
			j++
		}
		run := bars[i:j]
		i = j
		sizes := make([]int, len(run))
		for k := range sizes {
			sizes[k] = barRowBytes()
		}
		for _, r := range splitBatches(sizes, s.cfg.BatchMaxBytes) {
			b := s.session.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
			for _, bar := range run[r[0]:r[1]] {
				b.Entries = append(b.Entries, gocql.BatchEntry{Stmt: s.cql(insertBar), Idempotent: true, Args: []any{
					bar.Symbol, bar.Interval, bar.Day, bar.TS, bar.Open, bar.High, bar.Low, bar.Close,
					bar.Volume, bar.VWAP, bar.Count}})
			}
			if err := s.session.ExecuteBatch(b); err != nil {
				return fmt.Errorf("store: write %d %s bars of %s: %w", len(b.Entries), run[r[0]].Interval, run[r[0]].Symbol, err)
			}
		}
	}
	return nil
}

// writeParallelism bounds the concurrent batches and per-symbol analytics of
// one WriteQuotes call.
const writeParallelism = 16

func sortedDays[V any](m map[time.Time]V) []time.Time {
	ds := make([]time.Time, 0, len(m))
	for d := range m {
		ds = append(ds, d)
	}
	slices.SortFunc(ds, time.Time.Compare)
	return ds
}
