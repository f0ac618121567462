package store

import (
	"cmp"
	"context"
	"fmt"
	"golang.org/x/sync/errgroup"
	"slices"
	"time"

	"github.com/gocql/gocql"
	"github.com/stock-system/stocksys/quote"
)

const insertQuote = `INSERT INTO @quotes (symbol, day, ts, open, high, low, close, volume, bid, ask, source, epoch)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const insertBar = `INSERT INTO @bars (symbol, interval, day, ts, open, high, low, close, volume, vwap, count)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

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
	n := rowBytes + 8 /* ts */ + 6*(cellBytes+8) /* o h l c volume epoch */ + cellBytes + len(q.Source)
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

type partKey struct {
	symbol string
	day    time.Time
}

// quoteBatches groups qs (already normalized) by partition and returns the
// unlogged, idempotent batches that write them, each under BatchMaxBytes.
func (s *Store) quoteBatches(ctx context.Context, epoch int64, qs []quote.Quote) []*gocql.Batch {
	var out []*gocql.Batch
	for _, part := range partitions(qs) {
		sizes := make([]int, len(part))
		for i, q := range part {
			sizes[i] = quoteRowBytes(q)
		}
		for _, r := range splitBatches(sizes, s.cfg.BatchMaxBytes) {
			b := s.session.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
			for _, q := range part[r[0]:r[1]] {
				b.Entries = append(b.Entries, gocql.BatchEntry{Stmt: s.cql(insertQuote), Idempotent: true, Args: []any{
					q.Symbol, q.Day(), q.TS, q.Open, q.High, q.Low, q.Close, q.Volume,
					optional(q.Bid), optional(q.Ask), q.Source, epoch}})
			}
			out = append(out, b)
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

// WriteQuotes stores qs, written by the owner of the given epoch, and then
// brings the derived tables up to date for every (symbol, trading day) it
// touched: bars of the touched windows, flags and alerts, and latest (see
// UpdateAnalytics). qs may be in any order and contain duplicates; writing
// the same quotes again (a replay) leaves the same rows.
//
// Quotes of one Cassandra partition (symbol, day) go in UNLOGGED batches of
// that partition only, each estimated under Config.BatchMaxBytes (default 4
// KiB, below the server's 5 KiB batch_size_warn_threshold), split otherwise.
// Every statement is idempotent and retried per Config.Retries.
//
// It returns nil only when everything is written; on error (ErrInvalidQuote
// before anything is written, else a wrapped gocql error or ctx's error)
// some rows may be written and the caller should retry the whole call, which
// is safe. Safe for concurrent use; it blocks on Cassandra round trips (see
// doc.go for the cost).
func (s *Store) WriteQuotes(ctx context.Context, epoch int64, qs []quote.Quote) error {
	for i, q := range qs {
		if q.Symbol == "" || q.TS.IsZero() {
			return fmt.Errorf("%w: #%d (symbol %q, ts %v)", ErrInvalidQuote, i, q.Symbol, q.TS)
		}
	}
	qs = normalize(qs)
	// Batches (one Cassandra partition each) and then the analytics of each
	// symbol are independent: run them concurrently, at most writeParallelism
	// at a time, since each is bound by round trips, not by the server.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(writeParallelism)
	for _, b := range s.quoteBatches(ctx, epoch, qs) {
		g.Go(func() error {
			if err := s.session.ExecuteBatch(b.WithContext(gctx)); err != nil {
				return fmt.Errorf("store: write %d quotes of %s: %w", len(b.Entries), b.Entries[0].Args[0], err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Days are recorded once their quotes are written, so a listed day
	// always has quotes.
	touched := map[string]map[time.Time][]time.Time{}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(writeParallelism)
	for _, part := range partitions(qs) {
		sym, day := part[0].Symbol, part[0].Day()
		g.Go(func() error {
			if err := s.query(gctx, true, `INSERT INTO @quote_days (symbol, day) VALUES (?, ?)`, sym, day).Exec(); err != nil {
				return fmt.Errorf("store: record day %s %s: %w", sym, day.Format(time.DateOnly), err)
			}
			return nil
		})
		if touched[sym] == nil {
			touched[sym] = map[time.Time][]time.Time{}
		}
		for _, q := range part {
			touched[sym][day] = append(touched[sym][day], q.TS)
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(writeParallelism)
	for _, sym := range sortedKeys(touched) {
		g.Go(func() error { return s.analyze(gctx, sym, touched[sym]) })
	}
	return g.Wait()
}

// writeParallelism bounds the concurrent batches and per-symbol analytics of
// one WriteQuotes call.
const writeParallelism = 16

// UpdateAnalytics recomputes, from the stored quotes, every bar, flag and
// alert of symbol on the given trading days (any time of the day; only the
// Eastern date counts) and the symbol's latest row. WriteQuotes does this
// for the windows it touched; call this to repair after a failure or to
// rebuild. Idempotent; safe for concurrent use.
func (s *Store) UpdateAnalytics(ctx context.Context, symbol string, days []time.Time) error {
	m := map[time.Time][]time.Time{}
	for _, d := range days {
		m[quote.Quote{TS: d}.Day()] = nil // nil: every window of the day
	}
	if len(m) == 0 {
		return nil
	}
	return s.analyze(ctx, symbol, m)
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func sortedDays[V any](m map[time.Time]V) []time.Time {
	ds := make([]time.Time, 0, len(m))
	for d := range m {
		ds = append(ds, d)
	}
	slices.SortFunc(ds, time.Time.Compare)
	return ds
}
