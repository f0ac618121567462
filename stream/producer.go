package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/IBM/sarama"
	"go.uber.org/zap"

	"github.com/stock-system/stocksys/quote"
)

// Producer writes quotes to Config.Topic with an idempotent Kafka producer
// (enable.idempotence=true, acks=all, max.in.flight.requests.per.connection=1),
// keyed by symbol so that each symbol's quotes stay in order in one
// partition. There is no linger: a quote is sent as soon as its partition
// has no request in flight, and the quotes that arrive meanwhile go together
// in the next request (see Config.producerConfig).
//
// It connects lazily, on the first Send, so that a worker can start while
// Kafka is down; a failed connection is retried by the next Send. Send is
// bounded by Config.SendTimeout whatever the brokers do (down, paused,
// partitioned). Safe for concurrent use.
type Producer struct {
	cfg   Config
	topic string
	log   *zap.Logger

	closing   chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup // connect and dispatch goroutines

	mu      sync.RWMutex // guards the fields below; Send holds R while using ap
	closed  bool
	ap      sarama.AsyncProducer
	connect chan struct{} // non-nil while a connection attempt runs; closed when it ends
	connErr error         // the last attempt's error
}

// call is one Send: its messages carry it as Metadata, and the dispatcher
// counts their results down.
type call struct {
	remaining atomic.Int64
	mu        sync.Mutex
	failed    int
	firstErr  error
	done      chan struct{} // closed when remaining reaches 0
}

func (c *call) result(err error) {
	if err != nil {
		c.mu.Lock()
		c.failed++
		if c.firstErr == nil {
			c.firstErr = err
		}
		c.mu.Unlock()
	}
	if c.remaining.Add(-1) == 0 {
		close(c.done)
	}
}

// NewProducer returns a Producer for cfg.Topic. It does not contact the
// brokers (see Producer). It returns ErrInvalidConfig for an invalid cfg.
func NewProducer(cfg Config) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newProducer(cfg, cfg.Topic), nil
}

func newProducer(cfg Config, topic string) *Producer {
	return &Producer{cfg: cfg, topic: topic, log: cfg.logger(), closing: make(chan struct{})}
}

// Send writes qs, in order, with the headers epoch (decimal), node and task,
// and returns when the brokers have acknowledged all of them (acks=all).
// It returns within Config.SendTimeout, or when ctx is done, whichever comes
// first:
//   - nil: every quote is written;
//   - ErrSendTimeout, or an error wrapping ctx.Err(): the outcome is unknown;
//   - ErrSendFailed: at least one quote was refused (the error counts them and
//     wraps the first cause); the others may be written;
//   - an error from Encode (nothing sent), ErrClosed after Close, or the
//     connection error when the brokers cannot be reached.
//
// Retrying a Send after an unknown outcome may duplicate quotes; downstream
// writes are idempotent by (symbol, ts).
func (p *Producer) Send(ctx context.Context, epoch int64, node, task string, qs []quote.Quote) error {
	return p.SendFrom(ctx, Origin{Epoch: epoch, Node: node, Task: task}, qs)
}

// SendFrom is Send with every header of o: also the task's fencing token
// (HeaderToken) when o.Token > 0, which verify reads to prove that no
// record of a fenced owner follows its successor's.
func (p *Producer) SendFrom(ctx context.Context, o Origin, qs []quote.Quote) error {
	headers := o.headers()
	msgs := make([]*sarama.ProducerMessage, len(qs))
	for i, q := range qs {
		v, err := Encode(q)
		if err != nil {
			return fmt.Errorf("stream: send quote %d: %w", i, err)
		}
		msgs[i] = &sarama.ProducerMessage{
			Topic:   p.topic,
			Key:     sarama.StringEncoder(q.Symbol),
			Value:   sarama.ByteEncoder(v),
			Headers: headers,
		}
	}
	return p.send(ctx, msgs)
}

// send writes msgs and waits for their acknowledgements, up to SendTimeout.
func (p *Producer) send(ctx context.Context, msgs []*sarama.ProducerMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeoutCause(ctx, p.cfg.SendTimeout, ErrSendTimeout)
	defer cancel()
	stop := func() error {
		if errors.Is(context.Cause(ctx), ErrSendTimeout) {
			return fmt.Errorf("%w after %v: %d quotes to %s", ErrSendTimeout, p.cfg.SendTimeout, len(msgs), p.topic)
		}
		return fmt.Errorf("stream: send %d quotes to %s, outcome unknown: %w", len(msgs), p.topic, ctx.Err())
	}

	ap, err := p.producer(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return stop()
		}
		return err
	}
	c := &call{done: make(chan struct{})}
	c.remaining.Store(int64(len(msgs)))
	for _, m := range msgs {
		m.Metadata = c
	}

	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return ErrClosed
	}
	for _, m := range msgs {
		select {
		case ap.Input() <- m:
		case <-ctx.Done():
			p.mu.RUnlock()
			return stop()
		case <-p.closing:
			p.mu.RUnlock()
			return fmt.Errorf("stream: send, outcome unknown: %w", ErrClosed)
		}
	}
	p.mu.RUnlock()

	select {
	case <-c.done:
	case <-ctx.Done():
		return stop()
	}
	if c.failed > 0 {
		return fmt.Errorf("%w: %d of %d quotes to %s: %w", ErrSendFailed, c.failed, len(msgs), p.topic, c.firstErr)
	}
	return nil
}

// producer returns the sarama producer, connecting if need be. Only one
// connection attempt runs at a time; it runs in its own goroutine, so that
// ctx bounds the wait but not the attempt, which Close waits for.
func (p *Producer) producer(ctx context.Context) (sarama.AsyncProducer, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if p.ap != nil {
		ap := p.ap
		p.mu.Unlock()
		return ap, nil
	}
	wait := p.connect
	if wait == nil { // none running: start one (the last one failed, or none yet)
		wait = make(chan struct{})
		p.connect = wait
		p.wg.Add(1)
		go p.dial(wait)
	}
	p.mu.Unlock()

	select {
	case <-wait:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil, ErrClosed
	case p.ap != nil:
		return p.ap, nil
	}
	return nil, p.connErr
}

// dial creates the sarama producer (which asks a broker for a producer id)
// and starts its dispatcher. It owns the client: sarama.NewAsyncProducer
// leaks its client when the producer id request fails.
func (p *Producer) dial(done chan struct{}) {
	defer p.wg.Done()
	var ap sarama.AsyncProducer
	client, err := sarama.NewClient(p.cfg.Brokers, p.cfg.producerConfig())
	if err == nil {
		if ap, err = sarama.NewAsyncProducerFromClient(client); err != nil {
			_ = client.Close()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	defer close(done)
	p.connect = nil
	if err != nil {
		p.connErr = fmt.Errorf("stream: connect producer to %v: %w", p.cfg.Brokers, err)
		p.log.Warn("stream: producer connect failed", zap.Strings("brokers", p.cfg.Brokers), zap.Error(err))
		return
	}
	p.wg.Add(1)
	go p.dispatch(ap, client)
	if p.closed { // Close ran meanwhile
		ap.AsyncClose()
		return
	}
	p.ap, p.connErr = ap, nil
}

// dispatch routes each message's result to its call until the sarama
// producer closes both channels (after AsyncClose, once every message has
// come back), then closes the client.
func (p *Producer) dispatch(ap sarama.AsyncProducer, client sarama.Client) {
	defer p.wg.Done()
	defer func() { _ = client.Close() }()
	succ, errs := ap.Successes(), ap.Errors()
	for succ != nil || errs != nil {
		select {
		case m, ok := <-succ:
			if !ok {
				succ = nil
				continue
			}
			if c, ok := m.Metadata.(*call); ok {
				c.result(nil)
			}
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if c, ok := e.Msg.Metadata.(*call); ok {
				c.result(e.Err)
			}
		}
	}
}

// Close flushes the quotes already handed to the client, waiting until each
// is acknowledged or has failed (bounded by the client's retries and
// timeouts, a few SendTimeouts at most), and releases every goroutine and
// connection. Sends in progress return ErrClosed. Close is idempotent and
// safe for concurrent use; it always returns nil.
func (p *Producer) Close() error {
	p.closeOnce.Do(func() {
		close(p.closing)
		p.mu.Lock() // waits for Sends handing messages to ap
		p.closed = true
		ap := p.ap
		p.mu.Unlock()
		if ap != nil {
			ap.AsyncClose()
		}
		p.wg.Wait()
	})
	return nil
}

// Origin names the sender of a batch, as its records' headers carry it.
type Origin struct {
	// Epoch is the master epoch of the task's assignment (HeaderEpoch;
	// epochs start at 1).
	Epoch int64
	// Token is the task's fencing token (worker.Run.Token: the zxid of the
	// assignment write the run started from), HeaderToken; 0 sends no
	// token header.
	Token int64
	// Node and Task are the sending node's and task's ids (HeaderNode,
	// HeaderTask).
	Node, Task string
}

// headers returns o's record headers, shared by every record of a batch.
func (o Origin) headers() []sarama.RecordHeader {
	h := []sarama.RecordHeader{
		{Key: []byte(HeaderEpoch), Value: []byte(strconv.FormatInt(o.Epoch, 10))},
		{Key: []byte(HeaderNode), Value: []byte(o.Node)},
		{Key: []byte(HeaderTask), Value: []byte(o.Task)},
	}
	if o.Token > 0 {
		h = append(h, sarama.RecordHeader{Key: []byte(HeaderToken), Value: []byte(strconv.FormatInt(o.Token, 10))})
	}
	return h
}
