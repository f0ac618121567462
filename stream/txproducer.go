package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"

	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
)

// TransactionalID returns the Kafka transactional.id of task in cluster:
//
//	stocksys.<cluster>.<type>.<key>     e.g. stocksys.default.fetch.BRK-B
//
// that is "stocksys." + cluster + "." + the task's znode name (tasks.Task
// ZNodeName: the task id with '/' replaced by '.'). cluster must be a valid
// cluster name (session.ValidateNodeID: 1-64 of [A-Za-z0-9._-]) and task a
// canonical task id (tasks.ParseID: "fetch/<SYMBOL>" or "ingest/<n>"), so the
// id is 16-100 printable ASCII characters, valid for Kafka (which only
// refuses an empty one) and for ACLs by prefix ("stocksys.<cluster>."). It is
// unambiguous: a task type is lower case and never contains '.', a symbol
// is upper case, so the last ".fetch." or ".ingest." splits it. Anything
// else is refused with ErrInvalidTransactionalID, naming the input.
func TransactionalID(cluster, task string) (string, error) {
	if err := session.ValidateNodeID(cluster); err != nil {
		return "", fmt.Errorf("%w: cluster %q: %w", ErrInvalidTransactionalID, cluster, err)
	}
	t, err := tasks.ParseID(task)
	if err != nil {
		return "", fmt.Errorf("%w: task id %q: %w", ErrInvalidTransactionalID, task, err)
	}
	return "stocksys." + cluster + "." + t.ZNodeName(), nil
}

// TxProducer produces one fetch task's quotes and checkpoints with a Kafka
// transactional producer (sarama, transactional.id = TransactionalID(cluster,
// task)): each Send writes its quotes to Config.Topic and the task's
// checkpoint to Config.CheckpointTopicName() in one transaction, so that a
// read_committed consumer sees both or neither, and a restarted task resumes
// exactly after what was committed (ReadCheckpoint).
//
// NewTxProducer initialises the transactional id (Kafka InitProducerId),
// which bumps its producer epoch on the coordinator and aborts any
// transaction an earlier producer with the same id left open: that earlier
// producer (a zombie owner of the task) is fenced, and its next Send fails
// with ErrProducerFenced. Only one TxProducer per task may be live, the
// newest; create one only when the task is assigned to this node.
//
// Transactions are sequential: Send holds the producer for the whole
// transaction, and concurrent Sends wait for one another. Safe for
// concurrent use. The zero TxProducer is not usable.
type TxProducer struct {
	cfg     Config
	id      string // transactional.id
	task    string
	cpTopic string
	log     *zap.Logger

	client sarama.Client
	ap     sarama.AsyncProducer

	// beforeCommit, if set (tests), runs after the transaction's records are
	// acknowledged and before it is committed; an error aborts it.
	beforeCommit func() error

	sem     chan struct{}  // one Send (and the transaction it runs) at a time; Close takes it last
	closing chan struct{}  // closed by Close
	wg      sync.WaitGroup // the transaction goroutine of a Send that gave up waiting

	mu        sync.Mutex // guards the fields below
	closed    bool
	unusable  error // sticky: ErrProducerFenced or ErrProducerUnusable wrapped
	closeOnce sync.Once
}

// txConfig is producerConfig plus the transactional settings.
func (c Config) txConfig(id string) *sarama.Config {
	sc := c.producerConfig()
	sc.Producer.Transaction.ID = id
	sc.Producer.Transaction.Timeout = c.TxTimeout
	if sc.Producer.Transaction.Timeout == 0 {
		sc.Producer.Transaction.Timeout = defaultTxTimeout
	}
	// Transaction requests (FindCoordinator, AddPartitionsToTxn, EndTxn)
	// are retried by sarama on retriable errors: 10 retries, waits doubling
	// from 2ms to 500ms, about 1.5s in all. The first AddPartitionsToTxn
	// after a commit routinely meets CONCURRENT_TRANSACTIONS for a ms or two
	// while the coordinator writes the previous transaction's markers
	// (KAFKA-5482; the brokers' transaction.version 2, KIP-890, avoids it,
	// but sarama speaks only the older protocol): a first wait of 20ms
	// (sarama's own for that case, which a BackoffFunc overrides) measured
	// 16-22ms per transaction on one broker, whatever its size.
	sc.Producer.Transaction.Retry.Max = 10
	sc.Producer.Transaction.Retry.BackoffFunc = func(retries, _ int) time.Duration {
		return min(2*time.Millisecond<<min(retries, 8), 500*time.Millisecond)
	}
	return sc
}

// NewTxProducer returns the TxProducer of task (a canonical task id,
// "fetch/<SYMBOL>") in cluster, with transactional.id TransactionalID(cluster,
// task). It creates the checkpoint topic if missing (EnsureCheckpointTopic),
// connects, and initialises the transactional id, fencing any earlier
// producer of the same id (see TxProducer). It blocks until that is done or
// ctx is done; InitProducerId is retried while the coordinator is not ready
// (being elected, loading, or still aborting the fenced producer's
// transaction: CONCURRENT_TRANSACTIONS), with backoff up to 1s, until ctx is
// done.
//
// It returns ErrInvalidConfig (cfg, or TxTimeout not more than SendTimeout),
// ErrInvalidTransactionalID (cluster or task), ErrProducerFenced if a newer
// producer fenced this one during its initialisation, ctx.Err(), or the
// error of the topic or connection. The caller must Close it.
func NewTxProducer(ctx context.Context, cfg Config, cluster, task string) (*TxProducer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TxTimeout == 0 {
		cfg.TxTimeout = defaultTxTimeout
	}
	if cfg.TxTimeout <= cfg.SendTimeout {
		return nil, fmt.Errorf("%w: transaction timeout %v <= send timeout %v", ErrInvalidConfig, cfg.TxTimeout, cfg.SendTimeout)
	}
	id, err := TransactionalID(cluster, task)
	if err != nil {
		return nil, err
	}
	if err := EnsureCheckpointTopic(ctx, cfg); err != nil {
		return nil, err
	}
	p := &TxProducer{
		cfg:     cfg,
		id:      id,
		task:    task,
		cpTopic: cfg.CheckpointTopicName(),
		log:     cfg.logger().With(zap.String("task", task), zap.String("transactional_id", id)),
		sem:     make(chan struct{}, 1),
		closing: make(chan struct{}),
	}
	wait := cfg.RetryInitialInterval
	for attempt := 1; ; attempt++ {
		err := p.dial(ctx)
		if err == nil {
			return p, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if fenced(err) {
			return nil, fmt.Errorf("%w: init %s: %w", ErrProducerFenced, id, err)
		}
		if !retriableInit(err) {
			return nil, fmt.Errorf("stream: init transactional producer %s: %w", id, err)
		}
		p.log.Info("stream: transactional producer init retried", zap.Int("attempt", attempt),
			zap.Duration("backoff", wait), zap.Error(err))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Second)
	}
}

// dial makes the client and the sarama producer (which sends InitProducerId).
// Closing the client when ctx is done makes sarama's retries fail at once.
func (p *TxProducer) dial(ctx context.Context) error {
	client, err := sarama.NewClient(p.cfg.Brokers, p.cfg.txConfig(p.id))
	if err != nil {
		return err
	}
	closeClient := sync.OnceFunc(func() { _ = client.Close() }) // sarama's Close panics when called twice
	stop := context.AfterFunc(ctx, closeClient)
	ap, err := sarama.NewAsyncProducerFromClient(client)
	if !stop() || err != nil {
		if ap != nil {
			_ = ap.Close()
		}
		closeClient()
		if err == nil {
			err = ctx.Err()
		}
		return err
	}
	p.client, p.ap = client, ap
	return nil
}

// retriableInit reports whether a failed initialisation may succeed later.
func retriableInit(err error) bool {
	var ke sarama.KError
	if errors.As(err, &ke) {
		switch ke {
		case sarama.ErrConcurrentTransactions, sarama.ErrConsumerCoordinatorNotAvailable,
			sarama.ErrNotCoordinatorForConsumer, sarama.ErrOffsetsLoadInProgress,
			sarama.ErrRequestTimedOut, sarama.ErrNotEnoughReplicas, sarama.ErrLeaderNotAvailable:
			return true
		}
		return false
	}
	// Network errors, ErrOutOfBrokers, ErrClosedClient and the like.
	return true
}

// fenced reports whether err says that a newer producer of the same
// transactional id exists: PRODUCER_FENCED from the coordinator, or
// INVALID_PRODUCER_EPOCH, which a partition leader answers to a produce
// request of an older epoch (and older coordinators instead of
// PRODUCER_FENCED, KAFKA-9911). INVALID_PRODUCER_EPOCH also follows a
// transaction the coordinator timed out (KIP-588); treating it as fenced is
// the safe choice: the caller recreates the producer if it still owns the
// task.
func fenced(err error) bool {
	return errors.Is(err, sarama.ErrProducerFenced) || errors.Is(err, sarama.ErrInvalidProducerEpoch)
}

// TransactionalID returns the producer's transactional.id.
func (p *TxProducer) TransactionalID() string { return p.id }

// Send writes qs to Config.Topic (keyed by symbol, the same value and
// headers epoch, node and task as Producer.Send) and, unless position is
// zero, the task's Checkpoint{Task, Position: position, Epoch: epoch, Node:
// node} to the checkpoint topic (keyed by task id), in one transaction, and
// commits it. It returns when the commit is acknowledged, or within
// Config.SendTimeout, or when ctx is done, whichever comes first:
//   - nil: the quotes and the checkpoint are committed, visible to
//     read_committed consumers;
//   - ErrTxAborted: the transaction was aborted (nothing of it visible);
//     the producer can be used again;
//   - ErrProducerFenced: a newer producer of the transactional id exists;
//     nothing of this transaction is visible; the producer is unusable;
//   - ErrSendTimeout, or an error wrapping ctx.Err(): the outcome is unknown
//     (the commit may still complete); the producer is unusable, later Sends
//     return ErrProducerUnusable;
//   - ErrProducerUnusable (after one of the above, or a fatal sarama
//     state), ErrClosed after Close, or an encoding error (nothing sent,
//     the producer stays usable).
//
// Nothing is sent when qs is empty and position is zero. A goroutine that
// runs the transaction outlives a Send that gave up waiting; Close waits for
// it (bounded by the client's timeouts and retries).
func (p *TxProducer) Send(ctx context.Context, epoch int64, node string, qs []quote.Quote, position time.Time) error {
	return p.SendFrom(ctx, Origin{Epoch: epoch, Node: node}, qs, position)
}

// SendFrom is Send with every header of o (o.Task is ignored: the
// producer's task is used): also the task's fencing token, in the records'
// HeaderToken and the checkpoint's Token, when o.Token > 0.
func (p *TxProducer) SendFrom(ctx context.Context, o Origin, qs []quote.Quote, position time.Time) error {
	o.Task = p.task
	epoch, node := o.Epoch, o.Node
	headers := o.headers()
	msgs := make([]*sarama.ProducerMessage, 0, len(qs)+1)
	for i, q := range qs {
		v, err := Encode(q)
		if err != nil {
			return fmt.Errorf("stream: send quote %d: %w", i, err)
		}
		msgs = append(msgs, &sarama.ProducerMessage{Topic: p.cfg.Topic, Key: sarama.StringEncoder(q.Symbol),
			Value: sarama.ByteEncoder(v), Headers: headers})
	}
	if !position.IsZero() {
		v, err := encodeCheckpoint(Checkpoint{Task: p.task, Position: position, Epoch: epoch, Node: node, Token: o.Token, Written: time.Now()})
		if err != nil {
			return fmt.Errorf("stream: send checkpoint: %w", err)
		}
		msgs = append(msgs, &sarama.ProducerMessage{Topic: p.cpTopic, Key: sarama.StringEncoder(p.task),
			Value: sarama.ByteEncoder(v), Headers: headers})
	}
	if len(msgs) == 0 {
		return nil
	}
	return p.send(ctx, msgs, len(qs))
}

// send runs one transaction of msgs in a goroutine and waits for it.
func (p *TxProducer) send(ctx context.Context, msgs []*sarama.ProducerMessage, quotes int) error {
	ctx, cancel := context.WithTimeoutCause(ctx, p.cfg.SendTimeout, ErrSendTimeout)
	defer cancel()
	select {
	case p.sem <- struct{}{}:
	case <-p.closing:
		return ErrClosed
	case <-ctx.Done():
		return p.stopped(ctx, quotes, false)
	}
	if err := p.usable(); err != nil {
		<-p.sem
		return err
	}
	done := make(chan error, 1)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() { <-p.sem }()
		done <- p.transaction(msgs)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return p.stopped(ctx, quotes, true)
	}
}

// stopped is Send's error when ctx ended first; begun says whether the
// transaction had started, which leaves the producer unusable.
func (p *TxProducer) stopped(ctx context.Context, quotes int, begun bool) error {
	var err error
	if errors.Is(context.Cause(ctx), ErrSendTimeout) {
		err = fmt.Errorf("%w after %v: transaction of %d quotes to %s", ErrSendTimeout, p.cfg.SendTimeout, quotes, p.cfg.Topic)
	} else {
		err = fmt.Errorf("stream: transaction of %d quotes to %s, outcome unknown: %w", quotes, p.cfg.Topic, ctx.Err())
	}
	if begun {
		p.setUnusable(fmt.Errorf("%w: an earlier transaction's outcome is unknown: %w", ErrProducerUnusable, err))
	}
	return err
}

func (p *TxProducer) usable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	return p.unusable
}

// setUnusable records err as the producer's sticky error, unless one is
// already there.
func (p *TxProducer) setUnusable(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unusable == nil {
		p.unusable = err
		p.log.Warn("stream: transactional producer unusable", zap.Error(err))
	}
}

// transaction begins a transaction, produces msgs, waits for every
// acknowledgement, and commits, or aborts on a failure. It returns Send's
// error and sets the sticky one.
func (p *TxProducer) transaction(msgs []*sarama.ProducerMessage) error {
	if err := p.ap.BeginTxn(); err != nil {
		return p.failed("begin", err, false)
	}
	// The first record goes alone, and the rest once it is acknowledged: its
	// produce set is the one that adds the quotes partition to the
	// transaction (AddPartitionsToTxn), where a fenced producer learns it
	// is fenced. With several produce sets in flight at that moment,
	// sarama 1.61.1 races on its transaction manager's lastError:
	// publishTxnPartitions reads it without statusLock
	// (transaction_manager.go:884) while retryBatch's goroutine writes it
	// through transitionTo (:249), which `go test -race` reports. Costs one
	// round trip per transaction. The checkpoint record goes on its own too,
	// after the quotes: a producer fenced after its first record learns it
	// from the next produce request, and with two partitions in that request
	// (the quotes' and the checkpoint's) sarama starts one retryBatch
	// goroutine per partition, which race the same way (seen in
	// worker.TestIntegration_ZombieFencedWithinTerm). One more round trip
	// per transaction that carries quotes and a checkpoint.
	var firstErr error
	for i, j := 0, 1; i < len(msgs) && firstErr == nil; i, j = j, j+1 {
		for i > 0 && j < len(msgs) && msgs[j].Topic == msgs[i].Topic {
			j++ // a task's quotes share one key, so one partition
		}
		_, firstErr = p.produce(msgs[i:j])
	}
	if firstErr == nil && p.beforeCommit != nil {
		firstErr = p.beforeCommit()
	}
	if firstErr != nil {
		return p.abort(firstErr)
	}
	if err := p.ap.CommitTxn(); err != nil {
		if p.ap.TxnStatus()&sarama.ProducerTxnFlagAbortableError != 0 {
			return p.abort(fmt.Errorf("commit: %w", err))
		}
		return p.failed("commit", err, false)
	}
	return nil
}

// produce hands msgs to the sarama producer and waits for every result.
func (p *TxProducer) produce(msgs []*sarama.ProducerMessage) (failed int, firstErr error) {
	succ, errs := p.ap.Successes(), p.ap.Errors()
	for sent, got := 0, 0; got < len(msgs); {
		var in chan<- *sarama.ProducerMessage
		var next *sarama.ProducerMessage
		if sent < len(msgs) {
			in, next = p.ap.Input(), msgs[sent]
		}
		select {
		case in <- next:
			sent++
		case <-succ:
			got++
		case e := <-errs:
			got++
			failed++
			if firstErr == nil {
				firstErr = e.Err
			}
		}
	}
	if firstErr != nil {
		firstErr = fmt.Errorf("%d of %d records refused: %w", failed, len(msgs), firstErr)
	}
	return failed, firstErr
}

// abort aborts the current transaction after cause.
func (p *TxProducer) abort(cause error) error {
	if fenced(cause) || p.ap.TxnStatus()&sarama.ProducerTxnFlagFatalError != 0 {
		_ = p.ap.AbortTxn() // fails with the fatal error; nothing to wait for
		return p.failed("produce", cause, false)
	}
	if err := p.ap.AbortTxn(); err != nil {
		return p.failed("abort", fmt.Errorf("%w (after: %w)", err, cause), false)
	}
	return p.failed("produce", cause, true)
}

// failed classifies a transaction's error: fenced, aborted (abortedOK: the
// abort succeeded and the producer can go on), or unusable.
func (p *TxProducer) failed(step string, err error, abortedOK bool) error {
	switch {
	case fenced(err):
		err = fmt.Errorf("%w: %s %s: %w", ErrProducerFenced, p.id, step, err)
		p.setUnusable(err)
		return err
	case abortedOK:
		return fmt.Errorf("%w: %s %s: %w", ErrTxAborted, p.id, step, err)
	}
	err = fmt.Errorf("%w: %s %s (state %s): %w", ErrProducerUnusable, p.id, step, p.ap.TxnStatus(), err)
	p.setUnusable(err)
	return err
}

// Close waits for a transaction still running (bounded by the client's
// timeouts and retries) and closes the producer and its client; a
// transaction left open on the brokers is aborted by the coordinator after
// Config.TxTimeout, or at once by the next producer of the same
// transactional id. Later Sends return ErrClosed. Idempotent, safe for
// concurrent use; it returns nil.
func (p *TxProducer) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.closing)
		p.sem <- struct{}{} // no transaction runs, none will start
		p.wg.Wait()
		_ = p.ap.Close()
		_ = p.client.Close()
	})
	return nil
}
