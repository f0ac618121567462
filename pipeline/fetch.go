package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/worker"
)

// Sender produces quotes to Kafka (stream.Producer). SendFrom returns within
// its configured bound; o carries the run's epoch, fencing token, node and
// task into every record's headers.
type Sender interface {
	SendFrom(ctx context.Context, o stream.Origin, qs []quote.Quote) error
}

// Checkpoints stores each symbol's fetch checkpoint (store.Store).
type Checkpoints interface {
	LoadCheckpoint(ctx context.Context, symbol string) (ts time.Time, token int64, found bool, err error)
	// CommitCheckpoint is fenced by token (worker.Run.Token), as
	// Sink.CommitOffset.
	CommitCheckpoint(ctx context.Context, symbol string, ts time.Time, token int64, node string) error
}

// TxSender produces one batch of a fetch task's quotes and its checkpoint
// in one Kafka transaction (stream.TxProducer): both visible to
// read_committed consumers, or neither. A zero position sends no
// checkpoint.
type TxSender interface {
	// SendFrom sends qs and the checkpoint position in one transaction
	// (stream.TxProducer.SendFrom); o's token goes into every record.
	SendFrom(ctx context.Context, o stream.Origin, qs []quote.Quote, position time.Time) error
	Close() error
}

// Transactions gives a fetch run its transactional sender and checkpoint
// (stream.NewTxProducer, stream.ReadCheckpoint).
type Transactions interface {
	// Open returns the sender of task for one run. Its initialisation
	// fences every earlier sender of the task (the transactional id is the
	// cluster's and the task's), and completes or aborts their open
	// transactions, so ReadCheckpoint after Open sees the last committed one.
	Open(ctx context.Context, task string) (TxSender, error)
	// ReadCheckpoint returns task's last committed checkpoint position.
	ReadCheckpoint(ctx context.Context, task string) (pos time.Time, found bool, err error)
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
	// Flagged counts a fetched quote its source flagged (quote.Quote.Flag:
	// quote.FlagImplausible, quote.FlagOffMedian, ...); it is still
	// produced and stored, and left out of the bars by rule.
	Flagged(symbol, flag string)
}

// NopCounters counts nothing.
type NopCounters struct{}

func (NopCounters) Fetched(string, int)                 {}
func (NopCounters) Produced(string, int, time.Duration) {}
func (NopCounters) Rejected(string, quote.RejectReason) {}
func (NopCounters) Flagged(string, string)              {}

// Fetch is the runner of fetch tasks. Safe for concurrent use by many tasks.
//
// Without Tx, quotes go through Sender and the checkpoint is committed to
// Checkpoints (Cassandra, fenced by the run's token) in the background. With
// Tx, each batch and its checkpoint are one Kafka transaction: a new owner's
// Open fences the old one's producer (its next Send fails with
// stream.ErrProducerFenced, and nothing of it is visible to read_committed
// consumers after the new owner's first commit), and fetching does not touch
// Cassandra, except to migrate a checkpoint stored there when Kafka has none
// for the task: a run that finds one in Cassandra writes it to Kafka before
// fetching (a transaction of the checkpoint alone), so later runs read it
// from Kafka and start while Cassandra is down. Until a task has a
// checkpoint in Kafka (neither store had one and no batch was sent yet), a
// run needs Cassandra to answer that it has none.
type Fetch struct {
	Source      SourceFunc
	Sender      Sender
	Checkpoints Checkpoints
	Tx          Transactions // nil: Sender and Checkpoints
	Counters    Counters     // nil: NopCounters
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
	if f.Tx != nil {
		return f.runTx(ctx, r, src, sym, task, log)
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
		qs, stop, err := f.next(ctx, src, sym, after, log)
		if stop || err != nil {
			return err
		}
		if len(qs) == 0 {
			continue
		}
		valid, checkpoint := f.screen(qs, sym, log)
		cursor := qs[len(qs)-1].Position()
		if !r.Active() { // revoked, or the session is past its safe deadline
			return nil
		}
		if len(valid) > 0 {
			start := time.Now()
			if err := f.Sender.SendFrom(ctx, origin(r), valid); err != nil {
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

// next fetches the quotes after `after`. stop is true when the run must
// end with err nil: ctx is done, or the source is exhausted (it then waits
// for ctx, idle until revoked). An empty qs with stop false means nothing
// new yet, after the Idle wait: ask again. Source errors come wrapped with
// the symbol.
func (f *Fetch) next(ctx context.Context, src quote.Source, sym string, after time.Time, log *zap.Logger) (qs []quote.Quote, stop bool, err error) {
	qs, err = src.Fetch(ctx, sym, after)
	if ctx.Err() != nil {
		return nil, true, nil
	}
	if errors.Is(err, quote.ErrExhausted) {
		log.Info("fetch: source exhausted; idle until revoked", zap.Time("checkpoint", after))
		<-ctx.Done()
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("fetch %s: %w", sym, err)
	}
	f.Counters.Fetched(sym, len(qs))
	for i := range qs {
		if qs[i].Flag != "" {
			f.Counters.Flagged(sym, qs[i].Flag)
		}
	}
	if len(qs) == 0 {
		select {
		case <-ctx.Done():
			return nil, true, nil
		case <-time.After(f.Idle):
		}
	}
	return qs, false, nil
}

// screen validates qs: it returns the valid quotes and the checkpoint the
// batch allows. The checkpoint moves past rejected quotes too (they will
// never become valid), except past one rejected for a future timestamp: a
// provider's bogus future bar must not make a restarted task skip the real
// bars before it. Rejections are counted and logged.
func (f *Fetch) screen(qs []quote.Quote, sym string, log *zap.Logger) (valid []quote.Quote, checkpoint time.Time) {
	valid = qs[:0:0]
	now := f.Now()
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
	return valid, checkpoint
}

// runTx is Run with Kafka transactions (f.Tx): each batch and its
// checkpoint in one transaction. It returns an error wrapping
// stream.ErrProducerFenced when a newer owner's producer fenced this one.
func (f *Fetch) runTx(ctx context.Context, r *worker.Run, src quote.Source, sym, task string, log *zap.Logger) error {
	// Opening the producer fences every other producer of the task: a run
	// already revoked (or past its session's safe deadline) must not, or it
	// would fence the task's rightful new owner once.
	if !r.Active() {
		return nil
	}
	tx, err := f.Tx.Open(ctx, task)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("fetch %s: open transactional producer: %w", sym, err)
	}
	defer tx.Close()
	after, found, err := f.Tx.ReadCheckpoint(ctx, task)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("fetch %s: read checkpoint from Kafka: %w", sym, err)
	}
	if found {
		log.Info("fetch: resuming after checkpoint", zap.Time("checkpoint", after), zap.String("from", "kafka"))
	} else if f.Checkpoints != nil {
		// First run with transactions: migrate the checkpoint Cassandra
		// holds. It goes to Kafka at once, in a transaction of its own, so
		// that the migration happens once: a later run finds it in Kafka
		// (and needs no Cassandra) even if no quote came after it, as with a
		// finished replay or a live source out of market hours.
		ts, _, ok, err := f.Checkpoints.LoadCheckpoint(ctx, sym)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetch %s: migrate checkpoint from Cassandra: %w", sym, err)
		}
		if ok {
			after = ts
			log.Info("fetch: resuming after checkpoint", zap.Time("checkpoint", after), zap.String("from", "cassandra (migrated)"))
			if !r.Active() {
				return nil
			}
			if err := tx.SendFrom(ctx, origin(r), nil, ts); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("fetch %s: write the checkpoint migrated from Cassandra to Kafka: %w", sym, err)
			}
		}
	}
	committed := after
	for {
		qs, stop, err := f.next(ctx, src, sym, after, log)
		if stop || err != nil {
			return err
		}
		if len(qs) == 0 {
			continue
		}
		valid, checkpoint := f.screen(qs, sym, log)
		cursor := qs[len(qs)-1].Position()
		if !r.Active() { // revoked, or the session is past its safe deadline
			return nil
		}
		pos := time.Time{}
		if checkpoint.After(committed) {
			pos = checkpoint
		}
		if len(valid) > 0 || !pos.IsZero() {
			start := time.Now()
			if err := tx.SendFrom(ctx, origin(r), valid, pos); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("fetch %s: produce %d quotes in a transaction: %w", sym, len(valid), err)
			}
			f.Counters.Produced(sym, len(valid), time.Since(start))
			if !pos.IsZero() {
				committed = pos
			}
		}
		after = cursor
		r.Progress(int64(len(valid)))
	}
}

// origin is the headers of r's records: its epoch, token, node and task.
func origin(r *worker.Run) stream.Origin {
	return stream.Origin{Epoch: r.Epoch(), Token: r.Token(), Node: r.Node, Task: string(r.Task.ID())}
}

// StreamTransactions is the Transactions of a Kafka cluster (package
// stream): transactional id stream.TransactionalID(Cluster, task),
// checkpoints in Config's checkpoint topic. Safe for concurrent use.
type StreamTransactions struct {
	Config  stream.Config
	Cluster string
}

// Open implements Transactions with stream.NewTxProducer.
func (s StreamTransactions) Open(ctx context.Context, task string) (TxSender, error) {
	return stream.NewTxProducer(ctx, s.Config, s.Cluster, task)
}

// ReadCheckpoint implements Transactions with stream.ReadCheckpoint.
func (s StreamTransactions) ReadCheckpoint(ctx context.Context, task string) (time.Time, bool, error) {
	cp, found, err := stream.ReadCheckpoint(ctx, s.Config, task)
	return cp.Position, found, err
}
