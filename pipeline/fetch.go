package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/worker"
)

// Sender produces quotes to Kafka (stream.Producer). Send returns within its
// configured bound.
type Sender interface {
	Send(ctx context.Context, epoch int64, node, task string, qs []quote.Quote) error
}

// Checkpoints stores each symbol's fetch checkpoint (store.Store).
type Checkpoints interface {
	LoadCheckpoint(ctx context.Context, symbol string) (ts time.Time, token int64, found bool, err error)
	// CommitCheckpoint is fenced by token (worker.Run.Token), as
	// Sink.CommitOffset.
	CommitCheckpoint(ctx context.Context, symbol string, ts time.Time, token int64, node string) error
}

// SourceFunc returns the quote source of a symbol: the spec of its
// symbols/<SYMBOL> znode, else the cluster default.
type SourceFunc func(ctx context.Context, symbol string) (quote.Source, error)

// Counters receives the fetch runner's counts; nil methods are fine through
// NopCounters. Implementations must be safe for concurrent use.
type Counters interface {
	Fetched(symbol string, n int)
	Produced(symbol string, n int, latency time.Duration)
	Rejected(symbol string, reason quote.RejectReason)
}

// NopCounters counts nothing.
type NopCounters struct{}

func (NopCounters) Fetched(string, int)                 {}
func (NopCounters) Produced(string, int, time.Duration) {}
func (NopCounters) Rejected(string, quote.RejectReason) {}

// Fetch is the runner of fetch tasks. Safe for concurrent use by many tasks.
type Fetch struct {
	Source      SourceFunc
	Sender      Sender
	Checkpoints Checkpoints
	Counters    Counters // nil: NopCounters
	// Idle is the wait before asking a source again after it returned no
	// quote (live HTTP sources). Default 5s.
	Idle time.Duration
	// Now gives the time for validation (future timestamps); default time.Now.
	Now    func() time.Time
	Logger *zap.Logger

	once sync.Once
}

func (f *Fetch) init() {
	f.once.Do(func() {
		if f.Counters == nil {
			f.Counters = NopCounters{}
		}
		if f.Idle == 0 {
			f.Idle = 5 * time.Second
		}
		if f.Now == nil {
			f.Now = time.Now
		}
		if f.Logger == nil {
			f.Logger = zap.NewNop()
		}
	})
}

// Run implements worker.Runner for fetch/<SYMBOL>. It returns nil when ctx is
// cancelled (task revoked or worker stopping), and an error the worker
// reports (and retries after its delay) when the source, Kafka or the
// checkpoint store fails; store.ErrFenced when a newer owner has committed.
func (f *Fetch) Run(ctx context.Context, r *worker.Run) error {
	f.init()
	sym := string(r.Task.Symbol())
	task := string(r.Task.ID())
	log := f.Logger.With(zap.String("task", task), zap.Int64("epoch", r.Epoch()), zap.Int64("token", r.Token()))
	src, err := f.Source(ctx, sym)
	if err != nil {
		return fmt.Errorf("fetch %s: source: %w", sym, err)
	}
	after, _, found, err := f.Checkpoints.LoadCheckpoint(ctx, sym)
	if err != nil {
		return fmt.Errorf("fetch %s: load checkpoint: %w", sym, err)
	}
	if found {
		log.Info("fetch: resuming after checkpoint", zap.Time("checkpoint", after))
	}
	cp := startCommitter(ctx, r, log, "checkpoint", func(ctx context.Context, ts time.Time) error {
		return f.Checkpoints.CommitCheckpoint(ctx, sym, ts, r.Token(), r.Node) // fenced by the task's token
	}, nil)
	defer cp.finish(5 * time.Second)
	committed := after
	for {
		if err := cp.failed(); err != nil {
			return fmt.Errorf("fetch %s: commit checkpoint: %w", sym, err)
		}
		qs, err := src.Fetch(ctx, sym, after)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, quote.ErrExhausted) {
			log.Info("fetch: source exhausted; idle until revoked", zap.Time("checkpoint", after))
			<-ctx.Done()
			return nil
		}
		if err != nil {
			return fmt.Errorf("fetch %s: %w", sym, err)
		}
		f.Counters.Fetched(sym, len(qs))
		if len(qs) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(f.Idle):
			}
			continue
		}
		valid := qs[:0:0]
		now := f.Now()
		// The checkpoint moves past rejected quotes too (they will never
		// become valid), except past one rejected for a future timestamp: a
		// provider's bogus future bar must not make a restarted task skip the
		// real bars before it. The in-memory cursor moves past everything.
		var checkpoint time.Time
		for _, q := range qs {
			if err := quote.Validate(q, now); err != nil {
				reason := quote.ReasonOf(err)
				f.Counters.Rejected(sym, reason)
				log.Warn("fetch: quote rejected", zap.String("reason", string(reason)), zap.Error(err))
				if reason == quote.ReasonFutureTS {
					continue
				}
			} else {
				valid = append(valid, q)
			}
			if q.Position().After(checkpoint) {
				checkpoint = q.Position()
			}
		}
		cursor := qs[len(qs)-1].Position()
		if !r.Active() { // revoked, or the session is past its safe deadline
			return nil
		}
		if len(valid) > 0 {
			start := time.Now()
			if err := f.Sender.Send(ctx, r.Epoch(), r.Node, task, valid); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("fetch %s: produce %d quotes: %w", sym, len(valid), err)
			}
			f.Counters.Produced(sym, len(valid), time.Since(start))
		}
		if !r.Active() {
			return nil
		}
		if checkpoint.After(committed) {
			// Committed in the background (one at a time, the newest), while
			// the next batch is fetched and produced.
			cp.offer(checkpoint, 0, time.Time{})
			committed = checkpoint
		}
		after = cursor
		r.Progress(int64(len(valid)))
	}
}
