package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/stock-system/stocksys/metrics"
	"github.com/stock-system/stocksys/pipeline"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
)

// ProcessConfig configures a Process: one `stocksys node` process.
type ProcessConfig struct {
	// Node configures the node. With Data set, its Runners, Partitions,
	// Bars and Alerts are the data path's (values given there are
	// replaced); without, its Runners default to placeholders (one step a
	// second) for both task types.
	Node Config
	// Listener is where the HTTP server serves Node.Handler (/metrics,
	// /healthz, /readyz, /status, /ui/, /v1/). Required; Run (or Close)
	// closes it.
	Listener net.Listener
	// Metrics receives the node's and the data path's metrics; nil:
	// metrics.New().
	Metrics *metrics.Metrics
	// Data configures the data path (Kafka and Cassandra); nil runs no data
	// path (placeholder tasks; no Kafka or Cassandra needed).
	Data *DataConfig
	// ShutdownTimeout bounds the HTTP server's graceful shutdown once the
	// node has stopped. Default DefaultShutdownTimeout (2 s).
	ShutdownTimeout time.Duration
	// MetricsInterval is the period of Node.UpdateMetrics. Default 1 s.
	MetricsInterval time.Duration
}

// DataConfig configures a Process's data path: the fetch runners (source ->
// Kafka, package pipeline), the ingest runners (Kafka -> Cassandra), the
// Kafka topics and the Cassandra store.
type DataConfig struct {
	// Stream configures every Kafka client (topic, dead-letter topic,
	// partition count and replication of the topics the node creates,
	// TLS/SASL, CheckQuote). Its Logger defaults to the node's.
	Stream stream.Config
	// Store configures the Cassandra store, opened in the background and
	// retried until it answers (tasks wait up to 30 s for it, then fail
	// and are retried by the worker). Its Logger defaults to the node's.
	Store store.Config
	// Sources are the HTTP sources' settings (base URLs, API key); the
	// process sets its Logger and Rejected (counted in Metrics).
	Sources quote.Options
	// FetchTransactions: fetch tasks produce each batch and its checkpoint
	// in one Kafka transaction (transactional id
	// stocksys.<TransactionCluster>.fetch.<SYMBOL>).
	FetchTransactions  bool
	TransactionCluster string
	// PartitionsTTL is the period at which the quotes topic's partition
	// list is refreshed for the master's plans. Default 10 s.
	PartitionsTTL time.Duration
}

// Defaults of ProcessConfig and DataConfig.
const (
	DefaultShutdownTimeout = 2 * time.Second
	DefaultMetricsInterval = time.Second
	DefaultPartitionsTTL   = 10 * time.Second
)

// DefaultProcessConfig returns the ProcessConfig of node id on the ZooKeeper
// servers zk with `stocksys node`'s defaults (DefaultConfig for the node,
// DefaultShutdownTimeout, DefaultMetricsInterval) and no data path; the
// caller sets Listener and, for the data path, Data (DefaultDataConfig).
func DefaultProcessConfig(id string, zk ...string) ProcessConfig {
	return ProcessConfig{Node: DefaultConfig(id, zk...), ShutdownTimeout: DefaultShutdownTimeout, MetricsInterval: DefaultMetricsInterval}
}

// DefaultDataConfig returns the data path's defaults: stream.DefaultConfig,
// store.DefaultConfig, DefaultPartitionsTTL, no Kafka transactions.
func DefaultDataConfig() DataConfig {
	return DataConfig{Stream: stream.DefaultConfig(), Store: store.DefaultConfig(), PartitionsTTL: DefaultPartitionsTTL}
}

// Validate checks d without touching any server: the stream and store
// configs (stream.Config.Validate, store.Config.Validate) and the TTL.
func (d DataConfig) Validate() error {
	if d.PartitionsTTL < 0 {
		return fmt.Errorf("node: process: partitions TTL %v: must not be negative", d.PartitionsTTL)
	}
	if err := d.Stream.Validate(); err != nil {
		return fmt.Errorf("node: process: %w", err)
	}
	if err := d.Store.Validate(); err != nil {
		return fmt.Errorf("node: process: %w", err)
	}
	return nil
}

// Validate checks c without touching any server: a listener, the
// durations, the data path (DataConfig.Validate) and the node's config
// (Config.Validate).
func (c ProcessConfig) Validate() error {
	if c.Listener == nil {
		return errors.New("node: process: no HTTP listener")
	}
	if c.ShutdownTimeout < 0 || c.MetricsInterval < 0 {
		return fmt.Errorf("node: process: negative duration (shutdown %v, metrics interval %v)", c.ShutdownTimeout, c.MetricsInterval)
	}
	if c.Data != nil {
		if err := c.Data.Validate(); err != nil {
			return err
		}
	}
	return c.Node.Validate()
}

// Process is one node process under one supervisor: the data path's
// services (the Cassandra store's background open, the Kafka topics'
// creation, the partition list's refresh), the HTTP server, the metrics
// updater and the Node itself, each started by Run in one errgroup and each
// waited for before Run returns.
//
// Start order: store open, topics, partition refresh, HTTP, metrics, node.
// Stop order (ctx cancelled, Close, or the HTTP server failing): the node
// first (it resigns, its runners flush through the producer and commit to
// the store, then its session closes), then the Kafka producer and the
// Cassandra store, then the HTTP server (it answers /healthz until the
// node is gone), then the background services. Close is idempotent and safe
// for concurrent use.
type Process struct {
	cfg  ProcessConfig
	node *Node
	m    *metrics.Metrics
	log  *zap.Logger

	producer *stream.Producer // nil without a data path
	ls       *lazyStore       // nil without a data path
	parts    *partitionCache  // nil without a data path
	srv      *http.Server

	mu      sync.Mutex
	cancel  context.CancelFunc // of the running Run; nil before and after
	started bool
	closed  bool
	done    chan struct{} // closed when Run returns (or by Close if Run never ran)
	relOnce sync.Once     // releases the producer, the store and the listener once
}

// NewProcess validates cfg, builds the node and its data path's clients (the
// Kafka producer connects lazily) and returns the Process; no server is
// contacted. Errors: cfg's validation, the producer's config.
func NewProcess(cfg ProcessConfig) (*Process, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.MetricsInterval == 0 {
		cfg.MetricsInterval = DefaultMetricsInterval
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Data != nil { // defaults filled in on a copy, not the caller's
		dc := *cfg.Data
		cfg.Data = &dc
	}
	p := &Process{cfg: cfg, m: cfg.Metrics, done: make(chan struct{})}
	log := cfg.Node.Logger
	if log == nil {
		log = zap.NewNop()
	}
	p.log = log.With(zap.String("node", cfg.Node.ID))
	ncfg := cfg.Node
	if ncfg.Runners == nil {
		ncfg.Runners = map[tasks.Type]worker.Runner{
			tasks.TypeFetch:  worker.Placeholder(time.Second),
			tasks.TypeIngest: worker.Placeholder(time.Second),
		}
	}
	var fetch *pipeline.Fetch
	var srcOpts quote.Options
	if d := cfg.Data; d != nil {
		if d.PartitionsTTL == 0 {
			d.PartitionsTTL = DefaultPartitionsTTL
		}
		if d.Stream.Logger == nil {
			d.Stream.Logger = p.log
		}
		if d.Store.Logger == nil {
			d.Store.Logger = p.log
		}
		producer, err := stream.NewProducer(d.Stream)
		if err != nil {
			return nil, err
		}
		p.producer = producer
		p.ls = &lazyStore{trail: ncfg.Audit}
		p.parts = &partitionCache{cfg: d.Stream, ttl: d.PartitionsTTL}
		fc := p.m.Fetcher()
		// A replay's bad lines are counted by reason (and logged, with file
		// and line, by the source) when the file is read.
		srcOpts = d.Sources
		srcOpts.Logger, srcOpts.Rejected = p.log, func(sym string, reason quote.RejectReason, _ error) { fc.Rejected(sym, reason) }
		fetch = &pipeline.Fetch{Sender: producer, Checkpoints: p.ls, Counters: fc, Logger: p.log}
		if d.FetchTransactions {
			fetch.Tx = pipeline.StreamTransactions{Config: d.Stream, Cluster: d.TransactionCluster}
		}
		ncfg.Runners = map[tasks.Type]worker.Runner{
			tasks.TypeFetch:  fetch,
			tasks.TypeIngest: &pipeline.Ingest{Stream: d.Stream, Sink: p.ls, Counters: p.m.Ingester(), Logger: p.log},
		}
		ncfg.Partitions = p.parts.get
		ncfg.Bars = p.bars
		ncfg.Alerts = p.alerts
	}
	n, err := New(ncfg)
	if err != nil {
		if p.producer != nil {
			_ = p.producer.Close()
		}
		return nil, err
	}
	p.node = n
	if fetch != nil { // the source lookup reads the node's session
		fetch.Source = symbolSource(n, ncfg.DefaultSource, srcOpts)
	}
	p.srv = &http.Server{Handler: n.Handler(p.m), ReadHeaderTimeout: 5 * time.Second}
	return p, nil
}

// Node returns the process's node.
func (p *Process) Node() *Node { return p.node }

// ErrProcessClosed is Run's error once Close was called, or when Run is
// called a second time.
var ErrProcessClosed = errors.New("node: process closed or already run")

// Run starts the process's services and the node, and returns once all of
// them have stopped: after ctx is cancelled or Close is called (nil: a
// graceful stop), when the node's registration fails for good (its error:
// ErrNoZooKeeper, membership.ErrDuplicateID, ...), or when the HTTP server
// fails (its error). Every goroutine it started has returned by then. Run
// runs at most once (ErrProcessClosed).
func (p *Process) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.started || p.closed {
		p.mu.Unlock()
		return ErrProcessClosed
	}
	p.started = true
	ctx, cancel := context.WithCancel(ctx)
	p.cancel = cancel
	p.mu.Unlock()
	defer close(p.done)
	defer cancel()

	g, gctx := errgroup.WithContext(ctx)
	if d := p.cfg.Data; d != nil {
		p.ls.start(gctx, d.Store, p.log) // waited for by ls.close below
		g.Go(func() error { ensureTopics(gctx, d.Stream, p.log); return nil })
		g.Go(func() error { p.parts.refresh(gctx); return nil })
	}
	g.Go(func() error {
		if err := p.srv.Serve(p.cfg.Listener); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("node: HTTP server on %s: %w", p.cfg.Listener.Addr(), err)
		}
		return nil
	})
	g.Go(func() error {
		t := time.NewTicker(p.cfg.MetricsInterval)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
				p.node.UpdateMetrics(p.m)
			}
		}
	})
	g.Go(func() error {
		err := p.node.Run(gctx)
		p.release()
		sctx, scancel := context.WithTimeout(context.Background(), p.cfg.ShutdownTimeout)
		if serr := p.srv.Shutdown(sctx); serr != nil {
			p.log.Warn("node: HTTP server shutdown", zap.Error(serr))
			_ = p.srv.Close()
		}
		scancel()
		cancel() // the background services end with the node
		return err
	})
	return g.Wait()
}

// release closes the producer (after the node's runners have flushed
// through it) and the store (stopping an open still retrying), once.
func (p *Process) release() {
	p.relOnce.Do(func() {
		if p.producer != nil {
			if err := p.producer.Close(); err != nil {
				p.log.Warn("node: closing the producer", zap.Error(err))
			}
		}
		if p.ls != nil {
			p.ls.close()
		}
	})
}

// Close stops the process as a cancelled Run context does and waits for
// Run to return; without a Run it releases the producer and the listener.
// Idempotent; safe for concurrent use and together with Run.
func (p *Process) Close() {
	p.mu.Lock()
	first := !p.closed
	p.closed = true
	started, cancel := p.started, p.cancel
	p.mu.Unlock()
	if started {
		cancel()
		<-p.done
		return
	}
	if first {
		p.release()
		_ = p.cfg.Listener.Close()
		close(p.done)
	}
}

// bars reads the stored bars of a symbol for the console's charts.
func (p *Process) bars(ctx context.Context, symbol, interval string, from, to time.Time) ([]store.Bar, error) {
	st, err := p.ls.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.Bars(ctx, symbol, interval, from, to, 0)
}

// alerts reads the stored alerts of a symbol for the charts' markers.
func (p *Process) alerts(ctx context.Context, symbol string, from, to time.Time) ([]store.Alert, error) {
	st, err := p.ls.get(ctx)
	if err != nil {
		return nil, err
	}
	all, err := st.Alerts(ctx, from, to, 0)
	if err != nil {
		return nil, err
	}
	var out []store.Alert
	for _, a := range all {
		if a.Symbol == symbol {
			out = append(out, a)
		}
	}
	return out, nil
}
