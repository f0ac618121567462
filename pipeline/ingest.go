package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/worker"
)

// errInactive stops a runner whose task was revoked or whose session is unsafe.
var errInactive = errors.New("pipeline: task no longer active on this node")

// QuoteWriter stores batches of quotes and ticks with their derived rows,
// keeping one ingest task's analytics state between calls (store.Writer).
type QuoteWriter interface {
	Write(ctx context.Context, epoch int64, qs []quote.Quote) error
}

// Sink stores quotes and the consumed offsets (StoreSink over a
// store.Store).
type Sink interface {
	// NewQuoteWriter returns the writer of one run of an ingest task; each
	// run starts with a fresh one (its state is rebuilt from the store).
	NewQuoteWriter(ctx context.Context) (QuoteWriter, error)
	LoadOffset(ctx context.Context, topic string, partition int32) (next, token int64, found bool, err error)
	// CommitOffset is fenced by token (worker.Run.Token): refused, with an
	// error wrapping store.ErrFenced, once a higher token has committed.
	CommitOffset(ctx context.Context, topic string, partition int32, next, token int64, node string) error
}

// StoreSink is the Sink of a store.Store.
type StoreSink struct{ *store.Store }

// NewQuoteWriter implements Sink with store.Store.NewWriter.
func (s StoreSink) NewQuoteWriter(context.Context) (QuoteWriter, error) {
	return s.Store.NewWriter(), nil
}

// IngestCounters receives the ingest runner's counts. Implementations must be
// safe for concurrent use.
type IngestCounters interface {
	// Ingested counts quotes stored; latency is from the Kafka record
	// timestamp (when produced) to the commit (readable in Cassandra).
	Ingested(partition int32, n int, latency time.Duration)
	DeadLettered(partition int32, n int)
	// Readable observes, once per stored message, the time from its Kafka
	// record timestamp (when the fetch task produced it) to the moment its
	// row and every derived row (bars, latest, alerts) were written: the
	// source-emit-to-readable latency. Called before the offset commit.
	Readable(partition int32, latency time.Duration)
}

// IngestStageCounters is implemented by IngestCounters that also take the
// split of each stored message's readable latency (metrics.IngestCounters
// does); the runner calls IngestStages once per stored message, beside
// Readable, when its Counters implement it. The three parts add up to the
// message's readable latency (see StageSplit).
type IngestStageCounters interface {
	IngestStages(partition int32, delivery, wait, write time.Duration)
}

// StageSplit splits the readable latency end - ts of one message, whose
// Kafka record timestamp is ts, handed to the ingest in a batch at start
// whose rows (with their derived rows) were written at end, the ingest
// having finished its previous batch at prevEnd (zero: none in this run):
//
//   - wait is ts to prevEnd, within [0, start - ts]: the time the ingest
//     was busy with earlier batches after the message was produced (at
//     most that: the message's own delivery may overlap it);
//   - delivery is the rest of ts to start: Kafka produce and fetch, the
//     consumer's buffering and decoding, once the ingest was free;
//   - write is start to end: the batch's Cassandra writes.
//
// delivery + wait + write = end - ts whenever ts <= start <= end; a
// timestamp after start (another clock) gives delivery and wait 0.
func StageSplit(ts, prevEnd, start, end time.Time) (delivery, wait, write time.Duration) {
	queue := max(start.Sub(ts), 0)
	wait = min(max(prevEnd.Sub(ts), 0), queue)
	return queue - wait, wait, end.Sub(start)
}

// NopIngestCounters counts nothing.
type NopIngestCounters struct{}

func (NopIngestCounters) Ingested(int32, int, time.Duration) {}
func (NopIngestCounters) DeadLettered(int32, int)            {}
func (NopIngestCounters) Readable(int32, time.Duration)      {}

// Ingest is the runner of ingest tasks. Safe for concurrent use by many tasks.
type Ingest struct {
	Stream   stream.Config
	Sink     Sink
	Counters IngestCounters // nil: NopIngestCounters
	Logger   *zap.Logger

	once sync.Once
}

func (in *Ingest) init() {
	in.once.Do(func() {
		if in.Counters == nil {
			in.Counters = NopIngestCounters{}
		}
		if in.Logger == nil {
			in.Logger = zap.NewNop()
		}
	})
}

// DeadLetterError is the last error an ingest task shows (worker.Run.SetError)
// once it has sent n messages of this run to the dead-letter topic, the
// latest at offset with reason: "dead-lettered 3 messages (last: offset
// 1234: <reason>)". The count starts again at each run of the task; the
// stocksys_messages_dead_lettered_total metric counts every run.
func DeadLetterError(n int, offset int64, reason string) string {
	noun := "messages"
	if n == 1 {
		noun = "message"
	}
	return fmt.Sprintf("dead-lettered %d %s (last: offset %d: %s)", n, noun, offset, reason)
}

// Run implements worker.Runner for ingest/<partition>. It consumes from the
// committed offset (the oldest, if none), and for each batch writes the
// quotes and ticks with one QuoteWriter per run (which keeps the partition's
// analytics state in memory, see store.Writer), then hands the offset after
// the batch to a committer that commits offsets in the background, one
// commit at a time and always the newest offset written (group commit), so
// the next batch is written while the last one's offset is committed. An
// offset is handed on only after its batch is stored, so a committed offset
// is never ahead of Cassandra. A run that stops (revoked, failed, its node
// stopping) commits the offset after its last stored batch before it
// returns while its session is safe (committer.finish); one past its safe
// deadline, or a crash, leaves the batches stored since the last commit to
// be replayed by the next owner, which is harmless (every write is
// idempotent). A failed write or commit
// retries the same batch (with backoff) until it succeeds: a Cassandra outage
// pauses ingest without committing anything. A commit refused because a newer
// epoch committed (store.ErrFenced) stops the runner with that error.
// Messages that do not decode go to the dead-letter topic (see
// stream.ConsumePartition) and the run goes on; they are counted
// (IngestCounters.DeadLettered) and become the task's last error
// (DeadLetterError, through worker.Run.SetError). It returns nil when ctx is
// cancelled.
func (in *Ingest) Run(ctx context.Context, r *worker.Run) error {
	in.init()
	part := r.Task.Partition()
	topic := in.Stream.Topic
	log := in.Logger.With(zap.String("task", string(r.Task.ID())), zap.Int64("epoch", r.Epoch()), zap.Int64("token", r.Token()))
	next, _, found, err := in.Sink.LoadOffset(ctx, topic, part)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("ingest %s/%d: load offset: %w", topic, part, err)
	}
	if !found {
		next = 0
	}
	qw, err := in.Sink.NewQuoteWriter(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("ingest %s/%d: open writer: %w", topic, part, err)
	}
	log.Info("ingest: consuming", zap.Int64("from", next), zap.Bool("committed", found))
	oc := startCommitter(ctx, r, log, "offset", func(ctx context.Context, next int64) error {
		return in.Sink.CommitOffset(ctx, topic, part, next, r.Token(), r.Node) // fenced by the task's token
	}, func(n int, oldest time.Time) {
		in.Counters.Ingested(part, n, time.Since(oldest))
		r.Progress(int64(n))
	})
	defer oc.finish(5 * time.Second)
	dead := 0 // messages dead-lettered in this run
	stages, _ := in.Counters.(IngestStageCounters)
	var (
		batchFrom  int64     = -1 // the batch being handled (retried with the same From)
		batchStart time.Time      // when it was first handed to the handler
		prevEnd    time.Time      // when the previous batch was handled
	)
	err = stream.ConsumePartition(ctx, in.Stream, part, next, func(ctx context.Context, b stream.Batch) error {
		if b.From != batchFrom || batchStart.IsZero() {
			batchFrom, batchStart = b.From, time.Now()
		}
		if b.Reset != nil {
			log.Warn("ingest: committed offset out of range; starting at the oldest",
				zap.Int64("requested", b.Reset.Requested), zap.Int64("start", b.Reset.Start))
		}
		if err := oc.failed(); err != nil {
			return stream.Permanent(err)
		}
		qs := make([]quote.Quote, len(b.Quotes))
		oldest := time.Time{}
		for i, m := range b.Quotes {
			qs[i] = m.Quote
			if oldest.IsZero() || m.Timestamp.Before(oldest) {
				oldest = m.Timestamp
			}
		}
		if !r.Active() { // revoked, or past the safe deadline: leave the batch to the next owner
			return stream.Permanent(errInactive)
		}
		if len(qs) > 0 {
			if err := qw.Write(ctx, r.Epoch(), qs); err != nil {
				log.Warn("ingest: write failed; retrying the batch", zap.Int64("from", b.From), zap.Error(err))
				return err
			}
			now := time.Now()
			for _, m := range b.Quotes {
				in.Counters.Readable(part, now.Sub(m.Timestamp))
				if stages != nil {
					delivery, wait, write := StageSplit(m.Timestamp, prevEnd, batchStart, now)
					stages.IngestStages(part, delivery, wait, write)
				}
			}
		}
		if len(b.DeadLetters) > 0 {
			in.Counters.DeadLettered(part, len(b.DeadLetters))
			for _, d := range b.DeadLetters {
				log.Warn("ingest: message sent to the dead-letter topic", zap.Int64("offset", d.Offset), zap.String("reason", d.Reason))
			}
			dead += len(b.DeadLetters)
			last := b.DeadLetters[len(b.DeadLetters)-1]
			r.SetError(DeadLetterError(dead, last.Offset, last.Reason))
		}
		if b.HighWater > 0 {
			r.SetLag(b.HighWater - b.Next)
		}
		oc.offer(b.Next, len(qs), oldest)
		prevEnd, batchStart = time.Now(), time.Time{}
		return nil
	})
	oc.finish(5 * time.Second)
	if ferr := oc.failed(); ferr != nil && ctx.Err() == nil {
		return ferr
	}
	if ctx.Err() != nil || errors.Is(err, errInactive) {
		return nil
	}
	return err
}
