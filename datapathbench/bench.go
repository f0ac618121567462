// Package datapathbench is `stocksys bench datapath`: one run that measures
// the data path beside its floors on the same servers, in the same run.
//
// On the given ZooKeeper, Kafka and Cassandra servers, with names of its
// own (keyspaces bench_<run>_*, topics bench.<run>.*, clusters
// bench-<run>-*, all removed afterwards, also on error or cancellation), it
// measures:
//
//   - raw gocql: SPY's 250,601 trade ticks of 2013-10-07 (parsed here from
//     the Lean zip with archive/zip) written into a table with the store's
//     ticks schema, batched as the store batches (UNLOGGED batches of one
//     partition, each under 4 KiB by the store's estimate, reproduced here
//     as TickRowBytes and SplitBatches because the store's are unexported;
//     16 batches in flight, the store's writeParallelism; consistency ONE);
//   - floors at a paced 100/s for 10 s: raw sarama produce->consume
//     (SyncProducer as stream.Producer: idempotent, acks=all; a raw
//     partition consumer) and a raw single-row Cassandra INSERT of a ticks
//     row;
//   - the pipeline: two child `stocksys node` processes and SPY replayed at
//     speed=max, rows/s from the first ingested row to the last by
//     scraping stocksys_quotes_ingested_total every 100 ms, checked against
//     a COUNT of the stored ticks;
//   - the pipeline's per-message readable latency
//     (stocksys_ingest_readable_seconds p50/p99) at 10% and 50% of that
//     capacity (replay rate=N), on fresh clusters, with its split into
//     Kafka delivery, waiting for earlier batches and the Cassandra write
//     (stocksys_ingest_{delivery,wait,write}_seconds), and the same two
//     floors run again beside that load (their own topic and table, the
//     same code and pacing), so that the machine's contention is measured
//     for a raw client too;
//   - a memory phase: N tick symbols at once on the throughput cluster,
//     each node's peak and final VmRSS.
package datapathbench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/zkapi"
)

// The benchmark's data: SPY's trade ticks of 2013-10-07, and for the
// memory phase BAC's and IBM's.
const (
	Symbol   = "SPY"
	TickDay  = "20131007"
	SPYTicks = 250_601
)

// tickZip returns the trade zip of sym below the data folder.
func tickZip(data, sym string) string {
	return filepath.Join(data, "lean-ticks", strings.ToLower(sym), TickDay+"_trade.zip")
}

// Config is one benchmark run.
type Config struct {
	ZK, Kafka, Cassandra []string // host:port each
	Bin                  string   // the stocksys binary the child nodes run
	Data                 string   // the real data folder (holding lean-ticks/)
	// WorkDir holds the node logs (and the truncated tick files of Ticks);
	// "" makes a temporary folder, which is kept.
	WorkDir string
	// Ticks > 0 uses only the first Ticks trades of each tick file (copies
	// in WorkDir): a short run. 0: every trade (SPY's 250,601).
	Ticks           int
	Timeout         time.Duration // the whole run (default 10m)
	FloorRate       int           // floor messages/inserts per second (default 100)
	FloorDuration   time.Duration // each floor (default 10s)
	LatencyDuration time.Duration // each latency phase's offered load (default 20s)
	MemorySymbols   int           // tick symbols of the memory phase; 0 skips it
	MemoryDuration  time.Duration // the memory phase's limit (default 3m)
	SessionTimeout  time.Duration // of the child nodes (default 3s)
	ScrapeInterval  time.Duration // throughput scrapes (default 100ms)
	// Profile > 0 saves a CPU profile of Profile of each node
	// (/debug/pprof/profile), from the first ingested row of the
	// throughput phase, in WorkDir.
	Profile time.Duration
	// Progress receives progress lines (stderr in the command); nil: none.
	Progress func(string)
}

// Defaults.
const (
	DefaultTimeout         = 10 * time.Minute
	DefaultFloorRate       = 100
	DefaultFloorDuration   = 10 * time.Second
	DefaultLatencyDuration = 20 * time.Second
	DefaultMemorySymbols   = 10
	DefaultMemoryDuration  = 3 * time.Minute
	DefaultSessionTimeout  = 3 * time.Second
	DefaultScrapeInterval  = 100 * time.Millisecond
	// MaxMemorySymbols bounds --memory-symbols.
	MaxMemorySymbols = 100
)

// LatencyShares are the shares of the measured capacity offered in the
// latency phases.
var LatencyShares = []float64{0.10, 0.50}

// DefaultConfig returns the defaults, with no servers, binary or data.
func DefaultConfig() Config {
	return Config{Timeout: DefaultTimeout, FloorRate: DefaultFloorRate, FloorDuration: DefaultFloorDuration,
		LatencyDuration: DefaultLatencyDuration, MemorySymbols: DefaultMemorySymbols, MemoryDuration: DefaultMemoryDuration,
		SessionTimeout: DefaultSessionTimeout, ScrapeInterval: DefaultScrapeInterval}
}

// Validate checks the configuration before anything is touched.
func (c *Config) Validate() error {
	for name, list := range map[string][]string{"zk": c.ZK, "kafka": c.Kafka, "cassandra": c.Cassandra} {
		if len(list) == 0 {
			return fmt.Errorf("--%s: no servers", name)
		}
		for _, a := range list {
			host, port, err := net.SplitHostPort(strings.TrimSpace(a))
			if err != nil || host == "" {
				return fmt.Errorf("--%s %q: want host:port[,host:port...]", name, strings.Join(list, ","))
			}
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("--%s %q: port %q is not 1..65535", name, strings.Join(list, ","), port)
			}
		}
	}
	switch {
	case c.Bin == "":
		return errors.New("no stocksys binary for the child nodes")
	case c.Data == "":
		return errors.New("--data: no data folder")
	case c.Ticks < 0:
		return fmt.Errorf("--ticks %d: want >= 0 (0: all %d)", c.Ticks, SPYTicks)
	case c.Ticks > 0 && c.Ticks < 100:
		return fmt.Errorf("--ticks %d: want 0 (all) or at least 100", c.Ticks)
	case c.Timeout < 30*time.Second || c.Timeout > 24*time.Hour:
		return fmt.Errorf("--timeout %v: want 30s..24h", c.Timeout)
	case c.FloorRate < 1 || c.FloorRate > 10000:
		return fmt.Errorf("--floor-rate %d: want 1..10000 per second", c.FloorRate)
	case c.FloorDuration < 100*time.Millisecond || c.FloorDuration > 10*time.Minute:
		return fmt.Errorf("--floor-duration %v: want 100ms..10m", c.FloorDuration)
	case int(c.FloorDuration.Seconds()*float64(c.FloorRate)) < 1:
		return fmt.Errorf("--floor-duration %v at --floor-rate %d: no sample", c.FloorDuration, c.FloorRate)
	case c.LatencyDuration < time.Second || c.LatencyDuration > 10*time.Minute:
		return fmt.Errorf("--latency-duration %v: want 1s..10m", c.LatencyDuration)
	case c.MemorySymbols < 0 || c.MemorySymbols > MaxMemorySymbols:
		return fmt.Errorf("--memory-symbols %d: want 0..%d", c.MemorySymbols, MaxMemorySymbols)
	case c.MemoryDuration < time.Second || c.MemoryDuration > time.Hour:
		return fmt.Errorf("--memory-duration %v: want 1s..1h", c.MemoryDuration)
	case c.SessionTimeout < time.Second || c.SessionTimeout > 40*time.Second:
		return fmt.Errorf("--session-timeout %v: want 1s..40s", c.SessionTimeout)
	case c.ScrapeInterval < 10*time.Millisecond || c.ScrapeInterval > 5*time.Second:
		return fmt.Errorf("scrape interval %v: want 10ms..5s", c.ScrapeInterval)
	case c.Profile < 0 || c.Profile > time.Minute:
		return fmt.Errorf("--profile %v: want 0 (none) up to 1m", c.Profile)
	}
	if _, err := os.Stat(tickZip(c.Data, Symbol)); err != nil {
		return fmt.Errorf("--data %s: %w (want lean-ticks/spy/%s_trade.zip there; set --data or STOCKSYS_DATA)", c.Data, err, TickDay)
	}
	if c.MemorySymbols > 0 {
		for _, s := range []string{"BAC", "IBM"} {
			if _, err := os.Stat(tickZip(c.Data, s)); err != nil {
				return fmt.Errorf("--data %s: %w (the memory phase replays it; --memory-symbols 0 skips the phase)", c.Data, err)
			}
		}
	}
	return nil
}

// PipelineResult is the throughput phase.
type PipelineResult struct {
	Rows     int     `json:"rows"`
	RowsPerS float64 `json:"rows_per_s"`
	NFirst   float64 `json:"n_first"`        // ingested at the first scrape that saw any
	Seconds  float64 `json:"seconds"`        // t_last - t_first
	Stored   int64   `json:"stored"`         // COUNT of the stored ticks afterwards
	Scrapes  int     `json:"scrapes"`        // every ScrapeInterval
	Produced float64 `json:"produced_per_s"` // the fetch side, first to last produced scrape
	// ReadyS is the time from starting the nodes to every ingest task
	// running; FirstS from registering the symbol to the first ingested row.
	ReadyS float64 `json:"ready_s"`
	FirstS float64 `json:"first_ingested_s"`
	// Latency at full speed (the summary of the node that ingested).
	P50Ms float64 `json:"p50_ms_at_max"`
	P99Ms float64 `json:"p99_ms_at_max"`
	// Ingester is the node that ran SPY's ingest task.
	Ingester string `json:"ingest_node"`
	// CPU from registering the symbol to the last row ingested: each
	// node's CPU seconds and the whole machine's busy share (every CPU;
	// the servers run here too).
	NodeCPUSeconds map[string]float64 `json:"node_cpu_s"`
	MachineBusyPct float64            `json:"machine_busy_pct"`
	Profiles       []string           `json:"cpu_profiles,omitempty"`
}

// LatencyPhase is one offered load.
type LatencyPhase struct {
	Share    float64 `json:"share"`
	Rate     int     `json:"offered_rows_per_s"`
	Seconds  float64 `json:"offered_s"` // from registering the symbol to removing it
	Produced float64 `json:"produced"`
	Ingested float64 `json:"ingested"`
	Count    float64 `json:"observations"`
	Node     string  `json:"node"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	// Per batch, from the nodes' histograms (bucket interpolation): the
	// fetch task's Send of a batch until Kafka acked it, and the oldest
	// message of an ingest batch (Kafka timestamp) to its offset commit.
	ProduceP99Ms     float64 `json:"produce_batch_p99_ms"`
	IngestBatchP99Ms float64 `json:"ingest_batch_p99_ms"`
	// MeanMs is the mean readable latency (the summary's sum / count).
	MeanMs float64 `json:"mean_ms"`
	// The split of each message's readable latency, from the same node's
	// summaries (pipeline.StageSplit): per message, delivery + wait +
	// write = readable, so the means add up to MeanMs; the quantiles of
	// the parts do not add up to the readable quantile.
	Delivery Stage `json:"delivery"` // Kafka timestamp (or the ingest free) to the batch handed to the ingest
	Wait     Stage `json:"wait"`     // Kafka timestamp to the end of the ingest's previous batch
	Write    Stage `json:"write"`    // batch handed to the ingest to its rows written
	// FloorKafka and FloorCassandra are KafkaFloor and CassandraFloor run
	// during the offered load, concurrently with it, at Config.FloorRate
	// for FloorSeconds (the offered load's length), on a topic and a
	// table of their own (not the pipeline's).
	FloorKafka     LatencyResult `json:"floor_kafka"`
	FloorCassandra LatencyResult `json:"floor_cassandra"`
	FloorSeconds   float64       `json:"floor_s"`
}

// Stage is one part of the readable latency's split: p50, p99 and mean
// over the messages of a phase, in milliseconds.
type Stage struct {
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MeanMs float64 `json:"mean_ms"`
}

// stageOf reads a stage summary (in seconds) as milliseconds.
func stageOf(s Summary) Stage {
	return Stage{P50Ms: finite(1000 * s.Quantiles[0.5]), P99Ms: finite(1000 * s.Quantiles[0.99]), MeanMs: 1000 * s.Mean()}
}

// MemoryResult is the memory phase.
type MemoryResult struct {
	Symbols  []string           `json:"symbols"`
	Expected int64              `json:"rows_expected"`
	Ingested int64              `json:"rows_ingested"`
	Complete bool               `json:"complete"`
	Seconds  float64            `json:"seconds"`
	PeakMiB  map[string]float64 `json:"peak_rss_mib"`
	FinalMiB map[string]float64 `json:"final_rss_mib"`
	Samples  int                `json:"samples"`
}

// Result is one run. The flat keys are the headline numbers; the nested
// objects give their details.
type Result struct {
	Run       string    `json:"run"`
	Started   time.Time `json:"started"`
	Ticks     int       `json:"ticks"`
	CPUs      int       `json:"cpus"`
	LogDir    string    `json:"log_dir"`
	TotalSecs float64   `json:"seconds"`

	RawGocqlRowsPerS     float64            `json:"raw_gocql_rows_per_s"`
	FloorKafkaP50Ms      float64            `json:"floor_kafka_p50_ms"`
	FloorKafkaP99Ms      float64            `json:"floor_kafka_p99_ms"`
	FloorCassandraP50Ms  float64            `json:"floor_cassandra_p50_ms"`
	FloorCassandraP99Ms  float64            `json:"floor_cassandra_p99_ms"`
	PipelineRowsPerS     float64            `json:"pipeline_rows_per_s"`
	PipelineP50MsAt10pct float64            `json:"pipeline_p50_ms_at_10pct"`
	PipelineP99MsAt10pct float64            `json:"pipeline_p99_ms_at_10pct"`
	PipelineP50MsAt50pct float64            `json:"pipeline_p50_ms_at_50pct"`
	PipelineP99MsAt50pct float64            `json:"pipeline_p99_ms_at_50pct"`
	ThroughputRatio      float64            `json:"throughput_ratio"`
	LatencyRatio         float64            `json:"latency_ratio"`
	RSSMiB               map[string]float64 `json:"rss_mib"`
	MemoryRSSMiBMax      float64            `json:"memory_rss_mib_max"`

	// The floors again, run during each latency phase beside the pipeline's
	// load (LatencyPhase.FloorKafka, FloorCassandra), in milliseconds.
	FloorKafkaP50MsAt10pct     float64 `json:"floor_kafka_p50_ms_at_10pct"`
	FloorKafkaP99MsAt10pct     float64 `json:"floor_kafka_p99_ms_at_10pct"`
	FloorCassandraP50MsAt10pct float64 `json:"floor_cassandra_p50_ms_at_10pct"`
	FloorCassandraP99MsAt10pct float64 `json:"floor_cassandra_p99_ms_at_10pct"`
	FloorKafkaP50MsAt50pct     float64 `json:"floor_kafka_p50_ms_at_50pct"`
	FloorKafkaP99MsAt50pct     float64 `json:"floor_kafka_p99_ms_at_50pct"`
	FloorCassandraP50MsAt50pct float64 `json:"floor_cassandra_p50_ms_at_50pct"`
	FloorCassandraP99MsAt50pct float64 `json:"floor_cassandra_p99_ms_at_50pct"`
	// LatencyRatioLoaded is the pipeline's p99 at 50% over the sum of the
	// floors' p99s measured beside that load (LatencyRatio uses the idle
	// floors).
	LatencyRatioLoaded float64 `json:"latency_ratio_loaded"`
	// The p99 of each part of the readable latency's split at 50%
	// (LatencyPhase.Delivery, Wait, Write), in milliseconds.
	PipelineDeliveryP99MsAt50pct float64 `json:"pipeline_delivery_p99_ms_at_50pct"`
	PipelineWaitP99MsAt50pct     float64 `json:"pipeline_wait_p99_ms_at_50pct"`
	PipelineWriteP99MsAt50pct    float64 `json:"pipeline_write_p99_ms_at_50pct"`

	RawGocql       RawResult      `json:"raw_gocql"`
	FloorKafka     LatencyResult  `json:"floor_kafka"`
	FloorCassandra LatencyResult  `json:"floor_cassandra"`
	Pipeline       PipelineResult `json:"pipeline"`
	Latency        []LatencyPhase `json:"latency"`
	Memory         *MemoryResult  `json:"memory,omitempty"`
	Notes          []string       `json:"notes,omitempty"`
}

// Ratios computes the ratios from the headline numbers.
func (r *Result) Ratios() {
	r.ThroughputRatio, r.LatencyRatio, r.LatencyRatioLoaded = 0, 0, 0
	if r.RawGocqlRowsPerS > 0 {
		r.ThroughputRatio = r.PipelineRowsPerS / r.RawGocqlRowsPerS
	}
	if f := r.FloorKafkaP99Ms + r.FloorCassandraP99Ms; f > 0 && r.PipelineP99MsAt50pct > 0 {
		r.LatencyRatio = r.PipelineP99MsAt50pct / f
	}
	if f := r.FloorKafkaP99MsAt50pct + r.FloorCassandraP99MsAt50pct; f > 0 && r.PipelineP99MsAt50pct > 0 {
		r.LatencyRatioLoaded = r.PipelineP99MsAt50pct / f
	}
}

// cleaner runs cleanups in reverse order of registration, each once.
type cleaner struct {
	mu    sync.Mutex
	steps []*cleanup
	log   func(string)
}

type cleanup struct {
	name string
	fn   func(context.Context) error
	once sync.Once
	err  error
}

func (c *cleaner) add(name string, fn func(context.Context) error) *cleanup {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &cleanup{name: name, fn: fn}
	c.steps = append(c.steps, s)
	return s
}

// run runs one step now (with its own time limit).
func (c *cleaner) run(s *cleanup) error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s.err = s.fn(ctx)
		if s.err != nil {
			c.log(fmt.Sprintf("cleanup: %s: %v", s.name, s.err))
		} else {
			c.log("cleanup: " + s.name)
		}
	})
	return s.err
}

func (c *cleaner) runAll() error {
	c.mu.Lock()
	steps := slices.Clone(c.steps)
	c.mu.Unlock()
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		if err := c.run(steps[i]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", steps[i].name, err))
		}
	}
	return errors.Join(errs...)
}

// bench is one run in progress.
type bench struct {
	cfg     Config
	run     string
	start   time.Time
	dir     string // WorkDir
	data    string // the data folder the nodes replay (WorkDir/data with Ticks)
	cl      *cleaner
	cass    *gocql.Session
	spy     *TickFile
	res     *Result
	httpCli *http.Client
}

func (b *bench) logf(format string, args ...any) {
	if b.cfg.Progress != nil {
		b.cfg.Progress(fmt.Sprintf("[%5.1fs] ", time.Since(b.start).Seconds()) + fmt.Sprintf(format, args...))
	}
}

// Run runs the benchmark. It returns what it measured so far with any
// error; everything it created is removed before it returns, whatever
// happened (the node logs in WorkDir are kept).
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var idb [4]byte
	_, _ = rand.Read(idb[:])
	b := &bench{cfg: cfg, run: hex.EncodeToString(idb[:]), start: time.Now(), httpCli: &http.Client{Timeout: 2 * time.Second}}
	b.cl = &cleaner{log: func(s string) { b.logf("%s", s) }}
	b.res = &Result{Run: b.run, Started: b.start.UTC(), CPUs: runtime.NumCPU(), RSSMiB: map[string]float64{}}
	res = b.res
	defer func() {
		if cerr := b.cl.runAll(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("cleanup: %w", cerr))
		}
		res.TotalSecs = time.Since(b.start).Seconds()
	}()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := b.prepare(); err != nil {
		return res, err
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"raw gocql", b.rawGocql},
		{"floors", b.floors},
		{"pipeline", b.pipeline},
		{"latency", b.latency},
	}
	for _, s := range steps {
		if err := s.fn(ctx); err != nil {
			if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("%w (--timeout %v)", err, cfg.Timeout)
			}
			return res, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	res.Ratios()
	return res, nil
}

// prepare reads SPY's ticks, makes the work folder and, with Ticks, the
// truncated tick files the nodes replay.
func (b *bench) prepare() error {
	dir := b.cfg.WorkDir
	if dir == "" {
		d, err := os.MkdirTemp("", "stocksys-bench-"+b.run+"-")
		if err != nil {
			return err
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b.dir, b.res.LogDir, b.data = dir, dir, b.cfg.Data
	spy, err := ReadTickZip(tickZip(b.cfg.Data, Symbol), b.cfg.Ticks)
	if err != nil {
		return err
	}
	b.spy, b.res.Ticks = spy, len(spy.Ticks)
	b.logf("run %s: %d %s ticks of %s from %s; logs in %s", b.run, len(spy.Ticks), Symbol, TickDay, spy.Path, dir)
	if b.cfg.Ticks > 0 {
		b.data = filepath.Join(dir, "data")
		syms := []string{Symbol}
		if b.cfg.MemorySymbols > 0 {
			syms = append(syms, "BAC", "IBM")
		}
		for _, s := range syms {
			tf := spy
			if s != Symbol {
				if tf, err = ReadTickZip(tickZip(b.cfg.Data, s), b.cfg.Ticks); err != nil {
					return err
				}
			}
			if err := WriteTickZip(tickZip(b.data, s), tf); err != nil {
				return err
			}
		}
		b.note(fmt.Sprintf("--ticks %d: the first %d trades of each tick file (copies in %s, without BAC's quote zip)", b.cfg.Ticks, b.cfg.Ticks, b.data))
	}
	return nil
}

func (b *bench) note(s string) {
	b.res.Notes = append(b.res.Notes, s)
	b.logf("note: %s", s)
}

// keyspace creates a keyspace and registers its drop.
func (b *bench) keyspace(ctx context.Context, ks string) error {
	b.cl.add("drop keyspace "+ks, func(ctx context.Context) error {
		return b.cass.Query(`DROP KEYSPACE IF EXISTS ` + ks).WithContext(ctx).Exec()
	})
	return b.cass.Query(`CREATE KEYSPACE IF NOT EXISTS ` + ks +
		` WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`).WithContext(ctx).Exec()
}

func (b *bench) rawGocql(ctx context.Context) error {
	s, err := newSession(b.cfg.Cassandra, 60*time.Second)
	if err != nil {
		return err
	}
	b.cass = s
	b.cl.add("close the Cassandra session", func(context.Context) error { s.Close(); return nil })
	ks := "bench_" + b.run
	if err := b.keyspace(ctx, ks); err != nil {
		return err
	}
	for _, t := range []string{"raw_ticks", "floor_ticks"} {
		if err := s.Query(fmt.Sprintf(ticksSchema, ks+"."+t)).WithContext(ctx).Exec(); err != nil {
			return fmt.Errorf("create table %s.%s: %w", ks, t, err)
		}
	}
	rows := b.spy.Rows(Symbol)
	b.logf("raw gocql: writing %d rows into %s.raw_ticks (UNLOGGED batches of one partition, <= %d B estimated, %d in flight, ONE)",
		len(rows), ks, StoreBatchMaxBytes, StoreWriteParallelism)
	r, err := RawWrite(ctx, s, ks+".raw_ticks", rows, StoreBatchMaxBytes, StoreWriteParallelism)
	if err != nil {
		return err
	}
	if r.Stored, err = countRows(ctx, s, ks+".raw_ticks", Symbol, rows[0].Day); err != nil {
		return fmt.Errorf("count raw_ticks: %w", err)
	}
	if r.Stored != int64(len(rows)) {
		return fmt.Errorf("raw gocql: %d rows stored, want %d", r.Stored, len(rows))
	}
	b.res.RawGocql, b.res.RawGocqlRowsPerS = r, r.RowsPerS
	b.logf("raw gocql: %d rows in %d batches in %.2f s = %.0f rows/s (COUNT %d); machine %.0f%% busy", r.Rows, r.Batches, r.Seconds, r.RowsPerS, r.Stored, r.MachineBusyPct)
	return nil
}

func (b *bench) floors(ctx context.Context) error {
	topic := "bench." + b.run + ".floor"
	b.cl.add("delete topic "+topic, func(context.Context) error { return deleteTopics(b.cfg.Kafka, topic) })
	if err := createTopic(ctx, b.cfg.Kafka, topic, 1); err != nil {
		return err
	}
	q, proto := b.floorSubjects(1)
	b.logf("floor: raw sarama produce->consume, %d msgs/s for %v on %s", b.cfg.FloorRate, b.cfg.FloorDuration, topic)
	k, err := KafkaFloor(ctx, b.cfg.Kafka, topic, q, b.cfg.FloorRate, b.cfg.FloorDuration)
	if err != nil {
		return err
	}
	b.res.FloorKafka, b.res.FloorKafkaP50Ms, b.res.FloorKafkaP99Ms = k, k.P50Ms, k.P99Ms
	b.logf("floor: Kafka p50 %.2f ms, p99 %.2f ms, max %.2f ms (n=%d)", k.P50Ms, k.P99Ms, k.MaxMs, k.N)
	table := "bench_" + b.run + ".floor_ticks"
	b.logf("floor: raw single-row INSERT into %s, %d/s for %v", table, b.cfg.FloorRate, b.cfg.FloorDuration)
	c, err := CassandraFloor(ctx, b.cass, table, proto, b.cfg.FloorRate, b.cfg.FloorDuration)
	if err != nil {
		return err
	}
	b.res.FloorCassandra, b.res.FloorCassandraP50Ms, b.res.FloorCassandraP99Ms = c, c.P50Ms, c.P99Ms
	b.logf("floor: Cassandra p50 %.2f ms, p99 %.2f ms, max %.2f ms (n=%d)", c.P50Ms, c.P99Ms, c.MaxMs, c.N)
	return nil
}

// floorSubjects returns what the floors send: SPY's first trade as the
// quote of the Kafka floor, and as the row of the Cassandra floor moved day
// days on (a day of its own, so the floor's rows are not SPY's).
func (b *bench) floorSubjects(day int) (quote.Quote, Row) {
	r := b.spy.Rows(Symbol)[0]
	q := quote.Quote{Symbol: Symbol, TS: r.TS, Open: r.Price, High: r.Price, Low: r.Price, Close: r.Price,
		Volume: r.Size, Source: r.Source, Kind: quote.KindTrade, Exchange: r.Exchange, Condition: r.Condition}
	r.Day, r.TS = r.Day.AddDate(0, 0, day), r.TS.AddDate(0, 0, day)
	return q, r
}

// probes are the two floors run beside a latency phase's load.
type probes struct {
	begin  chan struct{} // closed to start the paced part of both
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	k, c   LatencyResult
	errs   [2]error
}

// startProbes starts KafkaFloor and CassandraFloor for d at the floor rate,
// on a topic of their own (bench.<run>.floor.<phase>, one partition) and
// the idle floor's table with rows on a day of their own, and returns once
// both are warmed up; their paced part starts when p.begin is closed.
func (b *bench) startProbes(ctx context.Context, phase string, day int, d time.Duration) (*probes, error) {
	topic := "bench." + b.run + ".floor." + phase
	b.cl.add("delete topic "+topic, func(context.Context) error { return deleteTopics(b.cfg.Kafka, topic) })
	if err := createTopic(ctx, b.cfg.Kafka, topic, 1); err != nil {
		return nil, err
	}
	q, row := b.floorSubjects(day)
	table := "bench_" + b.run + ".floor_ticks"
	pctx, cancel := context.WithCancel(ctx)
	p := &probes{begin: make(chan struct{}), cancel: cancel}
	var ready sync.WaitGroup
	for i := range 2 {
		ready.Add(1)
		p.wg.Add(1)
		var once sync.Once
		readyFn := func() { once.Do(ready.Done) }
		go func() {
			defer p.wg.Done()
			var r LatencyResult
			var err error
			if i == 0 {
				r, err = kafkaFloor(pctx, b.cfg.Kafka, topic, q, b.cfg.FloorRate, d, readyFn, p.begin)
			} else {
				r, err = cassandraFloor(pctx, b.cass, table, row, b.cfg.FloorRate, d, readyFn, p.begin)
			}
			p.mu.Lock()
			if i == 0 {
				p.k = r
			} else {
				p.c = r
			}
			p.errs[i] = err
			p.mu.Unlock()
			readyFn() // a probe that failed before its warm-up ended
		}()
	}
	ready.Wait()
	p.mu.Lock()
	err := errors.Join(p.errs[:]...)
	p.mu.Unlock()
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("%s: floor beside the load: %w", phase, err)
	}
	b.logf("%s: floors beside the load warmed up: raw sarama produce->consume on %s, raw INSERT into %s, %d/s each for %v once the load starts",
		phase, topic, table, b.cfg.FloorRate, d.Round(time.Millisecond))
	return p, nil
}

// wait waits for both probes to end and returns their results.
func (p *probes) wait() (k, c LatencyResult, err error) {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.k, p.c, errors.Join(p.errs[:]...)
}

// stop cancels the probes and waits for them.
func (p *probes) stop() {
	p.cancel()
	p.wg.Wait()
}

// OfferedDuration is a latency phase's offered load: limit, or less when a
// replay of rows at rate per second runs out before.
func OfferedDuration(limit time.Duration, rows, rate int) time.Duration {
	return min(limit, time.Duration(float64(rows)/float64(rate)*float64(time.Second)))
}

// newCluster makes the names of a phase's cluster, registers their
// removal, and starts two nodes (stopped first at cleanup). The returned
// step stops and removes everything now.
func (b *bench) newCluster(ctx context.Context, phase string) (*cluster, func() error, error) {
	c := &cluster{Name: "bench-" + b.run + "-" + phase, Topic: "bench." + b.run + "." + phase + ".quotes",
		Keyspace: "bench_" + b.run + "_" + phase, http: b.httpCli}
	c.Root, c.DLQ = "/stocksys/"+c.Name, c.Topic+".dlq"
	zc, err := connectZK(ctx, b.cfg.ZK)
	if err != nil {
		return nil, nil, err
	}
	c.zk = zc
	steps := []*cleanup{
		b.cl.add("close the ZooKeeper session of "+c.Name, func(context.Context) error { zc.Close(); return nil }),
		b.cl.add("drop keyspace "+c.Keyspace, func(ctx context.Context) error {
			return b.cass.Query(`DROP KEYSPACE IF EXISTS ` + c.Keyspace).WithContext(ctx).Exec()
		}),
		b.cl.add("delete topics "+c.Topic+" and "+c.DLQ, func(context.Context) error { return deleteTopics(b.cfg.Kafka, c.Topic, c.DLQ) }),
		b.cl.add("delete znodes "+c.Root, func(context.Context) error { return zkapi.DeleteAll(zc, c.Root) }),
		b.cl.add("stop the nodes of "+c.Name, func(context.Context) error { return c.stopNodes() }),
	}
	done := func() error {
		var errs []error
		for i := len(steps) - 1; i >= 0; i-- {
			errs = append(errs, b.cl.run(steps[i]))
		}
		return errors.Join(errs...)
	}
	t0 := time.Now()
	if err := c.startNodes(&b.cfg, b.dir, 2); err != nil {
		return c, done, err
	}
	for _, n := range c.Nodes {
		b.logf("%s: node %s pid %d http %s log %s", phase, n.ID, n.cmd.Process.Pid, n.Addr, n.Log)
	}
	if err := c.waitReady(ctx, 90*time.Second); err != nil {
		return c, done, err
	}
	b.logf("%s: cluster %s ready (master, 2 members, %d ingest tasks running) after %.1f s", phase, c.Name, nodePartitions, time.Since(t0).Seconds())
	return c, done, nil
}

// scraper scrapes c every interval until stopped; fn sees each scrape.
func (b *bench) scraper(ctx context.Context, c *cluster, interval time.Duration, fn func(scrape)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if s, err := c.scrape(ctx); err == nil {
				fn(s)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (b *bench) pipeline(ctx context.Context) error {
	t0 := time.Now()
	c, done, err := b.newCluster(ctx, "tput")
	if err != nil {
		return errors.Join(err, done())
	}
	b.res.Pipeline.ReadyS = time.Since(t0).Seconds()
	total := float64(len(b.spy.Ticks))
	var (
		mu       sync.Mutex
		ingested []Point
		produced []Point
		lastScr  scrape
		allIn    = make(chan struct{})
		once     sync.Once
		profOnce sync.Once
		profWG   sync.WaitGroup
	)
	defer profWG.Wait()
	stopScr := b.scraper(ctx, c, b.cfg.ScrapeInterval, func(s scrape) {
		mu.Lock()
		defer mu.Unlock()
		n := s.sum(metricIngested)
		ingested = append(ingested, Point{s.At, n})
		produced = append(produced, Point{s.At, s.sum(metricProduced)})
		lastScr = s
		if n > 0 && b.cfg.Profile > 0 {
			profOnce.Do(func() { profWG.Add(1); go func() { defer profWG.Done(); b.profiles(ctx, c) }() })
		}
		if n >= total {
			once.Do(func() { close(allIn) })
		}
	})
	spec := "replay:" + filepath.Join(b.data, "lean-ticks") + "?speed=max"
	cpu0, mach0 := c.cpu(), machineCPU()
	added := time.Now()
	if err := c.addSymbols([][2]string{{Symbol, spec}}); err != nil {
		stopScr()
		return errors.Join(err, done())
	}
	b.logf("pipeline: symbols add %s --source %s", Symbol, spec)
	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
	limit := time.After(5 * time.Minute)
wait:
	for {
		select {
		case <-allIn:
			break wait
		case <-progress.C:
			mu.Lock()
			if len(ingested) > 0 {
				b.logf("pipeline: %.0f produced, %.0f of %.0f ingested", produced[len(produced)-1].N, ingested[len(ingested)-1].N, total)
			}
			mu.Unlock()
			if err := c.checkAlive(); err != nil {
				stopScr()
				return errors.Join(err, done())
			}
		case <-limit:
			stopScr()
			return errors.Join(fmt.Errorf("not every tick ingested within 5 min"), done())
		case <-ctx.Done():
			stopScr()
			return errors.Join(ctx.Err(), done())
		}
	}
	cpu1, mach1 := c.cpu(), machineCPU()
	stopScr()
	profWG.Wait()
	mu.Lock()
	rate, first, last, err := Throughput(ingested, total)
	prate, pfirst, plast, perr := Throughput(produced, total)
	ls := lastScr
	nscr := len(ingested)
	mu.Unlock()
	if err != nil {
		return errors.Join(err, done())
	}
	p := &b.res.Pipeline
	p.Rows, p.RowsPerS, p.NFirst, p.Seconds, p.Scrapes = int(total), rate, first.N, last.T.Sub(first.T).Seconds(), nscr
	p.FirstS = first.T.Sub(added).Seconds()
	p.NodeCPUSeconds, p.MachineBusyPct = map[string]float64{}, BusyPct(mach0, mach1)
	for id, t := range cpu1 {
		p.NodeCPUSeconds[id] = (t - cpu0[id]).Seconds()
	}
	b.logf("pipeline: CPU from add to all ingested: %s; machine %.0f%% busy (%d CPUs)", fmtCPU(p.NodeCPUSeconds), p.MachineBusyPct, runtime.NumCPU())
	if perr == nil {
		p.Produced = prate
		b.logf("pipeline: produced %.0f rows/s (first produced scrape %.0f at +%.2f s, all at +%.2f s)", prate, pfirst.N,
			pfirst.T.Sub(added).Seconds(), plast.T.Sub(added).Seconds())
	}
	b.res.PipelineRowsPerS = rate
	sums := make([]Summary, len(ls.Nodes))
	for i, ss := range ls.Nodes {
		sums[i] = SummaryOf(ss, metricReadable)
	}
	if i := PickSummary(sums); i >= 0 {
		p.Ingester, p.P50Ms, p.P99Ms = c.Nodes[i].ID, 1000*sums[i].Quantiles[0.5], 1000*sums[i].Quantiles[0.99]
	}
	b.logf("pipeline: %.0f rows/s: n_first %.0f at +%.2f s, all %.0f at +%.2f s (%d scrapes); ingest on %s, readable p50 %.0f ms p99 %.0f ms at full speed",
		rate, first.N, first.T.Sub(added).Seconds(), last.N, last.T.Sub(added).Seconds(), nscr, p.Ingester, p.P50Ms, p.P99Ms)
	if p.Stored, err = countRows(ctx, b.cass, c.Keyspace+".ticks", Symbol, b.spy.Rows(Symbol)[0].Day); err != nil {
		return errors.Join(fmt.Errorf("count %s.ticks: %w", c.Keyspace, err), done())
	}
	if p.Stored != int64(total) {
		return errors.Join(fmt.Errorf("pipeline: %s.ticks holds %d rows of %s, want %.0f", c.Keyspace, p.Stored, Symbol, total), done())
	}
	b.logf("pipeline: %s.ticks holds %d rows of %s (SELECT COUNT)", c.Keyspace, p.Stored, Symbol)
	b.res.RSSMiB = c.rss()
	b.logf("pipeline: RSS %s", fmtMiB(b.res.RSSMiB))
	if b.cfg.MemorySymbols > 0 {
		if err := b.memory(ctx, c); err != nil {
			return errors.Join(err, done())
		}
	}
	return done()
}

// memorySymbols returns the memory phase's symbols and sources: BAC and IBM
// from the tick folder, then aliases of SPY's zip (SPY itself was just
// ingested by these nodes and is not replayed again).
func memorySymbols(n int, data string) [][2]string {
	dir := "replay:" + filepath.Join(data, "lean-ticks") + "?speed=max"
	out := [][2]string{{"BAC", dir}, {"IBM", dir}}[:min(n, 2)]
	for i := 1; len(out) < n; i++ {
		out = append(out, [2]string{fmt.Sprintf("SPY.M%d", i), "replay:" + tickZip(data, Symbol) + "?speed=max"})
	}
	return out
}

func (b *bench) memory(ctx context.Context, c *cluster) error {
	syms := memorySymbols(b.cfg.MemorySymbols, b.data)
	var expected int64
	m := &MemoryResult{PeakMiB: map[string]float64{}, FinalMiB: map[string]float64{}}
	for _, s := range syms {
		m.Symbols = append(m.Symbols, s[0])
		switch s[0] {
		case "BAC", "IBM":
			tf, err := ReadTickZip(tickZip(b.data, s[0]), 0)
			if err != nil {
				return err
			}
			expected += int64(len(tf.Ticks))
		default:
			expected += int64(len(b.spy.Ticks))
		}
	}
	m.Expected = expected
	b.res.Memory = m
	// Leave time for the latency phases.
	budget := b.cfg.MemoryDuration
	if dl, ok := ctx.Deadline(); ok {
		reserve := time.Duration(len(LatencyShares)) * (b.cfg.LatencyDuration + 75*time.Second)
		budget = min(budget, time.Until(dl)-reserve)
	}
	if budget < 10*time.Second {
		b.note(fmt.Sprintf("memory phase skipped: %v left before --timeout after the latency phases' reserve", budget.Round(time.Second)))
		return nil
	}
	s0, err := c.scrape(ctx)
	if err != nil {
		return err
	}
	base := s0.sum(metricIngested)
	if err := c.addSymbols(syms); err != nil {
		return err
	}
	b.logf("memory: %d symbols at once (%s), %d rows, up to %v", len(syms), strings.Join(m.Symbols, " "), expected, budget.Round(time.Second))
	t0 := time.Now()
	limit := time.After(budget)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	lastLog := time.Now()
	for {
		for id, v := range c.rss() {
			m.PeakMiB[id] = max(m.PeakMiB[id], v)
			m.FinalMiB[id] = v
		}
		m.Samples++
		if s, err := c.scrape(ctx); err == nil {
			m.Ingested = int64(s.sum(metricIngested) - base)
		}
		if m.Ingested >= expected {
			m.Complete = true
			break
		}
		if time.Since(lastLog) >= 5*time.Second {
			b.logf("memory: %d of %d rows ingested, RSS %s", m.Ingested, expected, fmtMiB(m.FinalMiB))
			lastLog = time.Now()
		}
		if err := c.checkAlive(); err != nil {
			return err
		}
		select {
		case <-tick.C:
		case <-limit:
			m.Seconds = time.Since(t0).Seconds()
			b.note(fmt.Sprintf("memory phase stopped at its limit %v: %d of %d rows ingested", budget.Round(time.Second), m.Ingested, expected))
			b.memoryMax()
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.Seconds = time.Since(t0).Seconds()
	b.memoryMax()
	b.logf("memory: %d rows in %.1f s (%.0f rows/s); peak RSS %s, final %s", m.Ingested, m.Seconds, float64(m.Ingested)/m.Seconds,
		fmtMiB(m.PeakMiB), fmtMiB(m.FinalMiB))
	return nil
}

func (b *bench) memoryMax() {
	for _, v := range b.res.Memory.PeakMiB {
		b.res.MemoryRSSMiBMax = max(b.res.MemoryRSSMiBMax, v)
	}
}

func (b *bench) latency(ctx context.Context) error {
	for _, share := range LatencyShares {
		ph, err := b.latencyPhase(ctx, share)
		if ph != nil {
			b.res.Latency = append(b.res.Latency, *ph)
		}
		if err != nil {
			return err
		}
		r, fk, fc := b.res, ph.FloorKafka, ph.FloorCassandra
		switch share {
		case 0.10:
			r.PipelineP50MsAt10pct, r.PipelineP99MsAt10pct = ph.P50Ms, ph.P99Ms
			r.FloorKafkaP50MsAt10pct, r.FloorKafkaP99MsAt10pct = fk.P50Ms, fk.P99Ms
			r.FloorCassandraP50MsAt10pct, r.FloorCassandraP99MsAt10pct = fc.P50Ms, fc.P99Ms
		case 0.50:
			r.PipelineP50MsAt50pct, r.PipelineP99MsAt50pct = ph.P50Ms, ph.P99Ms
			r.FloorKafkaP50MsAt50pct, r.FloorKafkaP99MsAt50pct = fk.P50Ms, fk.P99Ms
			r.FloorCassandraP50MsAt50pct, r.FloorCassandraP99MsAt50pct = fc.P50Ms, fc.P99Ms
			r.PipelineDeliveryP99MsAt50pct, r.PipelineWaitP99MsAt50pct, r.PipelineWriteP99MsAt50pct = ph.Delivery.P99Ms, ph.Wait.P99Ms, ph.Write.P99Ms
		}
	}
	return nil
}

func (b *bench) latencyPhase(ctx context.Context, share float64) (*LatencyPhase, error) {
	phase := fmt.Sprintf("lat%d", int(math.Round(share*100)))
	ph := &LatencyPhase{Share: share, Rate: OfferedRate(b.res.PipelineRowsPerS, share)}
	c, done, err := b.newCluster(ctx, phase)
	if err != nil {
		return nil, errors.Join(err, done())
	}
	spec := "replay:" + filepath.Join(b.data, "lean-ticks") + "?rate=" + strconv.Itoa(ph.Rate)
	// The replay runs out after len/rate seconds.
	d := OfferedDuration(b.cfg.LatencyDuration, len(b.spy.Ticks), ph.Rate)
	// The floors beside the load: days 2, 3, ... of their own (the idle
	// floor has day 1).
	pr, err := b.startProbes(ctx, phase, 2+slices.Index(LatencyShares, share), d)
	if err != nil {
		return nil, errors.Join(err, done())
	}
	defer pr.stop()
	if err := c.addSymbols([][2]string{{Symbol, spec}}); err != nil {
		return nil, errors.Join(err, done())
	}
	b.logf("%s: symbols add %s --source %s (%.0f%% of %.0f rows/s) for %v", phase, Symbol, spec, 100*share, b.res.PipelineRowsPerS, d.Round(time.Millisecond))
	// The offered load starts with the first produced row (the fetch task
	// first has to be assigned and load its file): a short replay must not
	// be removed before it produced anything.
	for startLimit := time.Now().Add(30 * time.Second); ; {
		if s, err := c.scrape(ctx); err == nil && s.sum(metricProduced) > 0 {
			break
		}
		if time.Now().After(startLimit) {
			return nil, errors.Join(fmt.Errorf("%s: nothing produced 30 s after the symbol was added", phase), done())
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return nil, errors.Join(err, done())
		}
	}
	close(pr.begin)
	t0 := time.Now()
	for time.Since(t0) < d {
		if err := sleep(ctx, min(time.Second, d-time.Since(t0))); err != nil {
			return nil, errors.Join(err, done())
		}
		if err := c.checkAlive(); err != nil {
			return nil, errors.Join(err, done())
		}
	}
	// The probes' paced part ends with d too; the load stays on until
	// their last replies are in.
	fk, fc, err := pr.wait()
	ph.FloorKafka, ph.FloorCassandra, ph.FloorSeconds = fk, fc, d.Seconds()
	if err != nil {
		return ph, errors.Join(fmt.Errorf("%s: floor beside the load: %w", phase, err), done())
	}
	b.logf("%s: floors beside the load: Kafka p50 %.2f ms, p99 %.2f ms, max %.2f ms (n=%d); Cassandra p50 %.2f ms, p99 %.2f ms, max %.2f ms (n=%d)",
		phase, fk.P50Ms, fk.P99Ms, fk.MaxMs, fk.N, fc.P50Ms, fc.P99Ms, fc.MaxMs, fc.N)
	if err := c.removeSymbol(Symbol); err != nil {
		return nil, errors.Join(err, done())
	}
	ph.Seconds = time.Since(t0).Seconds()
	// Drain: until every produced row is ingested (and the fetch task has
	// stopped producing).
	var s scrape
	stable, drainLimit := 0, time.Now().Add(60*time.Second)
	// (A send cut short by the task's stop may reach Kafka uncounted as
	// produced: ingested can end above produced.)
	for prevP, prevI := -1.0, -1.0; ; {
		if s, err = c.scrape(ctx); err == nil {
			ph.Produced, ph.Ingested = s.sum(metricProduced), s.sum(metricIngested)
			if ph.Ingested >= ph.Produced && ph.Produced == prevP && ph.Ingested == prevI {
				stable++
			} else {
				stable = 0
			}
			prevP, prevI = ph.Produced, ph.Ingested
			if stable >= 3 {
				break
			}
		}
		if time.Now().After(drainLimit) {
			return ph, errors.Join(fmt.Errorf("%s: %.0f produced, %.0f ingested 60 s after the symbol was removed", phase, ph.Produced, ph.Ingested), done())
		}
		if err := sleep(ctx, 300*time.Millisecond); err != nil {
			return ph, errors.Join(err, done())
		}
	}
	sums := make([]Summary, len(s.Nodes))
	for i, ss := range s.Nodes {
		sums[i] = SummaryOf(ss, metricReadable)
	}
	i := PickSummary(sums)
	if i < 0 {
		return ph, errors.Join(fmt.Errorf("%s: no node observed %s", phase, metricReadable), done())
	}
	if countPositive(sums) > 1 {
		b.note(fmt.Sprintf("%s: %d nodes observed readable latencies (counts %v); taking %s, the one with the most", phase, countPositive(sums), counts(sums), c.Nodes[i].ID))
	}
	ph.Node, ph.Count = c.Nodes[i].ID, sums[i].Count
	ph.P50Ms, ph.P99Ms = 1000*sums[i].Quantiles[0.5], 1000*sums[i].Quantiles[0.99]
	ph.ProduceP99Ms = finite(1000 * HistogramQuantile(0.99, metricProduceLatency, s.Nodes...))
	ph.IngestBatchP99Ms = finite(1000 * HistogramQuantile(0.99, metricIngestLatency, s.Nodes...))
	ph.MeanMs = 1000 * sums[i].Mean()
	ph.Delivery = stageOf(SummaryOf(s.Nodes[i], metricDelivery))
	ph.Wait = stageOf(SummaryOf(s.Nodes[i], metricWait))
	ph.Write = stageOf(SummaryOf(s.Nodes[i], metricWrite))
	b.logf("%s: %.0f rows offered at %d/s in %.1f s, %.0f ingested; readable latency on %s (n=%.0f): p50 %.1f ms, p99 %.1f ms; per batch p99: produce %.0f ms, oldest message to offset commit %.0f ms",
		phase, ph.Produced, ph.Rate, ph.Seconds, ph.Ingested, ph.Node, ph.Count, ph.P50Ms, ph.P99Ms, ph.ProduceP99Ms, ph.IngestBatchP99Ms)
	b.logf("%s: readable split p50 / p99 / mean: delivery %.1f / %.1f / %.1f ms, wait for earlier batches %.1f / %.1f / %.1f ms, write %.1f / %.1f / %.1f ms (readable mean %.1f ms)",
		phase, ph.Delivery.P50Ms, ph.Delivery.P99Ms, ph.Delivery.MeanMs, ph.Wait.P50Ms, ph.Wait.P99Ms, ph.Wait.MeanMs,
		ph.Write.P50Ms, ph.Write.P99Ms, ph.Write.MeanMs, ph.MeanMs)
	return ph, done()
}

func counts(s []Summary) []float64 {
	out := make([]float64, len(s))
	for i, x := range s {
		out[i] = x.Count
	}
	return out
}

func countPositive(s []Summary) int {
	n := 0
	for _, x := range s {
		if x.Count > 0 {
			n++
		}
	}
	return n
}

func fmtMiB(m map[string]float64) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = fmt.Sprintf("%s %.0f MiB", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func machineCPU() MachineCPU {
	m, _ := ReadMachineCPU()
	return m
}

// profiles saves a CPU profile of every node of c.
func (b *bench) profiles(ctx context.Context, c *cluster) {
	cli := &http.Client{Timeout: b.cfg.Profile + 10*time.Second}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", n.Addr, max(1, int(b.cfg.Profile.Seconds())))
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return
			}
			resp, err := cli.Do(req)
			if err != nil {
				b.logf("profile of %s: %v", n.ID, err)
				return
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.logf("profile of %s: %v %s", n.ID, err, resp.Status)
				return
			}
			p := filepath.Join(b.dir, c.Name+"."+n.ID+".cpu.pprof")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				b.logf("profile of %s: %v", n.ID, err)
				return
			}
			mu.Lock()
			b.res.Pipeline.Profiles = append(b.res.Pipeline.Profiles, p)
			mu.Unlock()
			b.logf("profile of %s: %s", n.ID, p)
		}()
	}
	wg.Wait()
}

func fmtCPU(m map[string]float64) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = fmt.Sprintf("%s %.2f s", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// finite maps NaN (no observations) to 0 for JSON.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
