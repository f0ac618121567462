package node

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/stock-system/stocksys/audit"
	"github.com/stock-system/stocksys/pipeline"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/tasks"
)

// symbolSource resolves a symbol's source: the spec in symbols/<SYMBOL>,
// else (no spec in the document) the node's default. A failed read (no
// session, a ZooKeeper fault, a missing or unparsable document) is an error,
// which the worker reports and retries: a task never runs with a source
// other than the one its symbol names.
func symbolSource(n *Node, def string, opts quote.Options) pipeline.SourceFunc {
	return SourceFrom(func(symbol string) (tasks.SymbolSpec, error) {
		var doc tasks.SymbolSpec
		s := n.Session()
		if s == nil {
			return doc, errors.New("no ZooKeeper session")
		}
		p := tasks.NewPaths(n.Config().Root)
		_, err := tasks.ReadJSON(s.Conn(), p.Symbol(tasks.Symbol(symbol)), &doc)
		return doc, err
	}, def, opts)
}

// SourceFrom returns the fetch runners' source lookup over read, a reader of
// symbols/<SYMBOL> documents: the document's spec and options, else (no
// spec) def; opts are the HTTP sources' settings. read's error, or an
// unparsable spec, is the lookup's error (naming the symbol). Safe for
// concurrent use if read is.
func SourceFrom(read func(symbol string) (tasks.SymbolSpec, error), def string, opts quote.Options) pipeline.SourceFunc {
	return func(ctx context.Context, symbol string) (quote.Source, error) {
		doc, err := read(symbol)
		if err != nil {
			return nil, fmt.Errorf("read the source of %s: %w", symbol, err)
		}
		spec := def
		if doc.Source != "" {
			spec = doc.Source
		}
		s, err := quote.ParseSpecOptions(spec, doc.Options) // the document's --option values
		if err != nil {
			return nil, fmt.Errorf("the source of %s: %w", symbol, err)
		}
		return quote.NewFromSpec(s, opts)
	}
}

func ensureTopics(ctx context.Context, cfg stream.Config, log *zap.Logger) {
	op := func() error {
		err := stream.EnsureTopics(ctx, cfg)
		if errors.Is(err, stream.ErrPartitionCount) {
			log.Warn("node: quotes topic exists with another partition count; using it as it is", zap.Error(err))
			return nil
		}
		return err
	}
	b := backoff.WithContext(backoff.NewExponentialBackOff(backoff.WithMaxElapsedTime(0), backoff.WithMaxInterval(10*time.Second)), ctx)
	if err := backoff.RetryNotify(op, b, func(err error, d time.Duration) {
		log.Warn("node: Kafka topics not ready; retrying", zap.Error(err), zap.Duration("in", d))
	}); err != nil && ctx.Err() == nil {
		log.Error("node: Kafka topics", zap.Error(err))
	}
}

// lazyStore is the Cassandra store once it has opened; until then its
// methods fail with errStoreNotReady (the runners retry). With trail set
// (before the runners start), every fenced commit is recorded in the audit
// trail (audit.Writer.Commit), which verify reads.
//
// open runs in its own goroutine; close cancels it, waits for it to return
// and then closes the store, so no Store is opened after close (nor leaked
// by an open that finishes during close).
type lazyStore struct {
	s     atomic.Pointer[store.Store]
	trail *audit.Writer

	mu      sync.Mutex
	cancel  context.CancelFunc // of the running open; nil if none
	opening sync.WaitGroup
	closed  bool

	chansOnce sync.Once
	opened    chan struct{} // closed once s is set (see chans)
	done      chan struct{} // closed by close
}

// chans makes opened and done (the zero lazyStore is ready to use).
func (l *lazyStore) chans() {
	l.chansOnce.Do(func() { l.opened, l.done = make(chan struct{}), make(chan struct{}) })
}

// audit records one commit of task with token in the trail.
func (l *lazyStore) audit(task string, token int64, value string, sent time.Time, err error) {
	if l.trail == nil {
		return
	}
	result := audit.ResultOK
	switch {
	case errors.Is(err, store.ErrFenced):
		result = audit.ResultFenced
	case err != nil:
		result = audit.ResultError
	}
	l.trail.Commit(task, token, value, sent, time.Now(), result, err)
}

var errStoreNotReady = errors.New("cassandra store not open yet")

// start opens the store in the background, retrying with backoff until it
// opens, ctx is done or close is called. It does nothing after close.
func (l *lazyStore) start(ctx context.Context, cfg store.Config, log *zap.Logger) {
	l.chans()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.cancel != nil {
		return
	}
	ctx, l.cancel = context.WithCancel(ctx)
	l.opening.Add(1)
	go func() {
		defer l.opening.Done()
		l.open(ctx, cfg, log)
	}()
}

func (l *lazyStore) open(ctx context.Context, cfg store.Config, log *zap.Logger) {
	b := backoff.WithContext(backoff.NewExponentialBackOff(backoff.WithMaxElapsedTime(0), backoff.WithMaxInterval(10*time.Second)), ctx)
	_ = backoff.RetryNotify(func() error {
		s, err := store.Open(ctx, cfg)
		if err != nil {
			return err
		}
		l.s.Store(s)
		close(l.opened) // the one open: start runs it at most once
		return nil
	}, b, func(err error, d time.Duration) {
		log.Warn("node: Cassandra not ready; retrying", zap.Error(err), zap.Duration("in", d))
	})
}

// close stops a running open, waits for it, and closes the store if it
// opened. Idempotent.
func (l *lazyStore) close() {
	l.chans()
	l.mu.Lock()
	if !l.closed {
		close(l.done)
	}
	l.closed = true
	cancel := l.cancel
	l.cancel = nil
	l.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	l.opening.Wait()
	if s := l.s.Swap(nil); s != nil {
		s.Close()
	}
}

// get returns the store, waiting up to 30 s for it to open (a node starts
// its tasks while Cassandra may still be starting): it returns the moment
// the open succeeds (a task started on a node that just started waited up
// to 100 ms more when this polled). errStoreNotReady after 30 s or once
// closed; ctx's error when ctx is done first.
func (l *lazyStore) get(ctx context.Context) (*store.Store, error) {
	if s := l.s.Load(); s != nil {
		return s, nil
	}
	l.chans()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-l.opened:
		if s := l.s.Load(); s != nil {
			return s, nil
		}
		return nil, errStoreNotReady // opened, then closed
	case <-l.done:
		return nil, errStoreNotReady
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, errStoreNotReady
	}
}

func (l *lazyStore) NewQuoteWriter(ctx context.Context) (pipeline.QuoteWriter, error) {
	s, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return s.NewWriter(), nil
}

func (l *lazyStore) LoadOffset(ctx context.Context, topic string, partition int32) (int64, int64, bool, error) {
	s, err := l.get(ctx)
	if err != nil {
		return 0, 0, false, err
	}
	return s.LoadOffset(ctx, topic, partition)
}

func (l *lazyStore) CommitOffset(ctx context.Context, topic string, partition int32, next, token int64, node string) error {
	s, err := l.get(ctx)
	if err != nil {
		return err
	}
	sent := time.Now()
	err = s.CommitOffset(ctx, topic, partition, next, token, node)
	l.audit(string(tasks.IngestTask(partition).ID()), token, strconv.FormatInt(next, 10), sent, err)
	return err
}

func (l *lazyStore) LoadCheckpoint(ctx context.Context, symbol string) (time.Time, int64, bool, error) {
	s, err := l.get(ctx)
	if err != nil {
		return time.Time{}, 0, false, err
	}
	return s.LoadCheckpoint(ctx, symbol)
}

func (l *lazyStore) CommitCheckpoint(ctx context.Context, symbol string, ts time.Time, token int64, node string) error {
	s, err := l.get(ctx)
	if err != nil {
		return err
	}
	sent := time.Now()
	err = s.CommitCheckpoint(ctx, symbol, ts, token, node)
	l.audit(string(tasks.FetchTask(tasks.Symbol(symbol)).ID()), token, ts.UTC().Format(time.RFC3339Nano), sent, err)
	return err
}

// partitionCache keeps the quotes topic's partition list fresh in the
// background (refresh lists every ttl, each listing opening a Kafka client),
// so that the master, which asks at every plan, never waits for Kafka once a
// list is known: a node that becomes master plans at once, and a Kafka
// outage does not slow its plans. Safe for concurrent use.
type partitionCache struct {
	cfg stream.Config
	ttl time.Duration

	mu   sync.Mutex
	last []int32 // nil until a listing succeeded
}

// refresh lists the partitions every ttl (every second while a listing
// fails) until ctx is done.
func (c *partitionCache) refresh(ctx context.Context) {
	for {
		wait := c.ttl
		if _, err := c.fetch(ctx); err != nil {
			wait = min(time.Second, c.ttl)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (c *partitionCache) fetch(ctx context.Context) ([]int32, error) {
	ps, err := stream.Partitions(ctx, c.cfg)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.last = ps
	c.mu.Unlock()
	return ps, nil
}

// get returns the latest list; before any listing succeeded it lists
// synchronously (the error, if that fails).
func (c *partitionCache) get(ctx context.Context) ([]int32, error) {
	c.mu.Lock()
	last := c.last
	c.mu.Unlock()
	if last != nil {
		return last, nil
	}
	return c.fetch(ctx)
}
