package datapathbench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
)

// ticksSchema is the store's ticks table (store/store.go), for a table of
// the benchmark's own: %s is keyspace.table.
const ticksSchema = `CREATE TABLE IF NOT EXISTS %s (
	symbol text, day date, ts timestamp, seq int,
	price double, size bigint, exchange text, condition text,
	bid double, ask double, flag text, source text, epoch bigint,
	PRIMARY KEY ((symbol, day), ts, seq)) WITH CLUSTERING ORDER BY (ts ASC, seq ASC)`

// insertTick is the store's tick insert (store/write.go), without bid and
// ask (the rows have none; the store binds them unset).
const insertTick = `INSERT INTO %s (symbol, day, ts, seq, price, size, exchange, condition, flag, source, epoch)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// Estimated data sizes, reproduced from the store's unexported estimate
// (store/write.go rowBytes, cellBytes, tickRowBytes; no exported helper):
// per row 16 bytes, per cell 16 plus the value.
const (
	rowBytes  = 16
	cellBytes = 16
)

// TickRowBytes is the store's batch-size estimate of one tick row without
// bid and ask (store.tickRowBytes).
func TickRowBytes(r Row) int {
	return rowBytes + 8 + 4 /* ts seq */ + 3*(cellBytes+8) /* price size epoch */ +
		4*cellBytes + len(r.Exchange) + len(r.Condition) + len(r.Flag) + len(r.Source)
}

// SplitBatches is the store's split (store.splitBatches): consecutive runs
// whose sizes sum to at most limit, an item above limit alone; [start, end)
// pairs in order.
func SplitBatches(sizes []int, limit int) [][2]int {
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

// StoreBatchMaxBytes and StoreWriteParallelism are the store's defaults
// (store.Config.BatchMaxBytes, store.writeParallelism).
const (
	StoreBatchMaxBytes    = 4 * 1024
	StoreWriteParallelism = 16
)

// newSession opens a gocql session as the store does (token-aware over
// round-robin, consistency ONE here, 10 s timeouts), bound to no keyspace.
func newSession(hosts []string, timeout time.Duration) (*gocql.Session, error) {
	c := gocql.NewCluster(hosts...)
	c.Consistency = gocql.One
	c.Timeout = timeout
	c.ConnectTimeout = 10 * time.Second
	c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	s, err := c.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("cassandra %v: %w", hosts, err)
	}
	return s, nil
}

// RawResult is the raw gocql write of the rows.
type RawResult struct {
	Rows     int     `json:"rows"`
	Batches  int     `json:"batches"`
	Seconds  float64 `json:"seconds"`
	RowsPerS float64 `json:"rows_per_s"`
	Stored   int64   `json:"stored"` // SELECT COUNT(*) afterwards
	// MachineBusyPct is the machine's busy CPU share during the writes.
	MachineBusyPct float64 `json:"machine_busy_pct"`
}

// RawWrite writes rows into table (keyspace.table, the ticks schema) as the
// store batches them: per partition UNLOGGED batches, each estimated at
// most maxBytes, parallel batches in flight at once, consistency ONE. One
// batch is written first, untimed, to prepare the statement; the timed run
// writes every batch (that one again: an idempotent upsert). Rows must be
// grouped by partition (one file is one partition).
func RawWrite(ctx context.Context, s *gocql.Session, table string, rows []Row, maxBytes, parallel int) (RawResult, error) {
	stmt := fmt.Sprintf(insertTick, table)
	var batches []*gocql.Batch
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j].Symbol == rows[i].Symbol && rows[j].Day.Equal(rows[i].Day) {
			j++
		}
		part := rows[i:j]
		sizes := make([]int, len(part))
		for k, r := range part {
			sizes[k] = TickRowBytes(r)
		}
		for _, rg := range SplitBatches(sizes, maxBytes) {
			b := s.NewBatch(gocql.UnloggedBatch)
			for _, r := range part[rg[0]:rg[1]] {
				b.Entries = append(b.Entries, gocql.BatchEntry{Stmt: stmt, Idempotent: true, Args: []any{
					r.Symbol, r.Day, r.TS, r.Seq, r.Price, r.Size, r.Exchange, r.Condition, r.Flag, r.Source, int64(1)}})
			}
			batches = append(batches, b)
		}
		i = j
	}
	res := RawResult{Rows: len(rows), Batches: len(batches)}
	if len(batches) == 0 {
		return res, errors.New("raw gocql: no rows")
	}
	if err := s.ExecuteBatch(batches[0].WithContext(ctx)); err != nil {
		return res, fmt.Errorf("raw gocql: warm-up batch: %w", err)
	}
	work := make(chan *gocql.Batch)
	var (
		wg       sync.WaitGroup
		failed   atomic.Int64
		firstErr atomic.Pointer[error]
	)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := s.ExecuteBatch(b.WithContext(ctx)); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	start, mach0 := time.Now(), machineCPU()
	for _, b := range batches {
		select {
		case work <- b:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	el := time.Since(start)
	res.MachineBusyPct = BusyPct(mach0, machineCPU())
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if n := failed.Load(); n > 0 {
		return res, fmt.Errorf("raw gocql: %d of %d batches failed, first: %w", n, len(batches), *firstErr.Load())
	}
	res.Seconds, res.RowsPerS = el.Seconds(), float64(len(rows))/el.Seconds()
	return res, nil
}

// countRows counts the rows of one partition.
func countRows(ctx context.Context, s *gocql.Session, table, symbol string, day time.Time) (int64, error) {
	var n int64
	err := s.Query(`SELECT COUNT(*) FROM `+table+` WHERE symbol = ? AND day = ?`, symbol, day).
		WithContext(ctx).Consistency(gocql.One).Scan(&n)
	return n, err
}

// LatencyResult is a paced floor measurement.
type LatencyResult struct {
	N     int     `json:"n"`
	Rate  int     `json:"rate_per_s"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func latencyResult(rate int, lat []time.Duration) LatencyResult {
	return LatencyResult{N: len(lat), Rate: rate, P50Ms: ms(Quantile(lat, 0.5)), P99Ms: ms(Quantile(lat, 0.99)), MaxMs: ms(Quantile(lat, 1))}
}

// await calls ready (if not nil), then waits until begin is closed (nil:
// returns at once) or ctx is done.
func await(ctx context.Context, ready func(), begin <-chan struct{}) error {
	if ready != nil {
		ready()
	}
	if begin == nil {
		return nil
	}
	select {
	case <-begin:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// paced calls f for i = 0, 1, ... at rate per second (f(i) due at
// start + i/rate; a late call goes at once) until d has passed, and
// collects its latencies. One call at a time.
func paced(ctx context.Context, rate int, d time.Duration, f func(i int) (time.Duration, error)) ([]time.Duration, error) {
	n := int(d.Seconds() * float64(rate))
	lat := make([]time.Duration, 0, n)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range n {
		if w := time.Until(start.Add(time.Duration(i) * interval)); w > 0 {
			select {
			case <-ctx.Done():
				return lat, ctx.Err()
			case <-time.After(w):
			}
		}
		l, err := f(i)
		if err != nil {
			return lat, err
		}
		lat = append(lat, l)
	}
	return lat, nil
}

// CassandraFloor inserts one ticks row at a time into table at rate per
// second for d, consistency ONE, and returns the latencies of the
// INSERTs. Each row is new (seq i of a day of its own).
func CassandraFloor(ctx context.Context, s *gocql.Session, table string, proto Row, rate int, d time.Duration) (LatencyResult, error) {
	return cassandraFloor(ctx, s, table, proto, rate, d, nil, nil)
}

// cassandraFloor is CassandraFloor, for a probe beside a load too: once the
// warm-up insert is done it calls ready (if not nil), then waits until
// begin is closed (nil: at once) to start the paced inserts.
func cassandraFloor(ctx context.Context, s *gocql.Session, table string, proto Row, rate int, d time.Duration,
	ready func(), begin <-chan struct{}) (LatencyResult, error) {
	stmt := fmt.Sprintf(insertTick, table)
	exec := func(i int) (time.Duration, error) {
		r := proto
		t0 := time.Now()
		err := s.Query(stmt, r.Symbol, r.Day, r.TS, int32(i), r.Price, r.Size, r.Exchange, r.Condition, r.Flag, r.Source, int64(1)).
			WithContext(ctx).Idempotent(true).Exec()
		return time.Since(t0), err
	}
	if _, err := exec(-1); err != nil { // prepares the statement
		return LatencyResult{}, fmt.Errorf("cassandra floor: warm-up insert: %w", err)
	}
	if err := await(ctx, ready, begin); err != nil {
		return LatencyResult{}, err
	}
	lat, err := paced(ctx, rate, d, exec)
	if err != nil {
		return latencyResult(rate, lat), fmt.Errorf("cassandra floor: %w", err)
	}
	return latencyResult(rate, lat), nil
}
