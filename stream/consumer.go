package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/stock-system/stocksys/quote"
)

// Message is one decoded quote with its position and producer headers.
type Message struct {
	// Offset is the message's offset in its partition.
	Offset int64
	// Quote is the decoded value; TS is in UTC.
	Quote quote.Quote
	// Epoch, Node and Task are the producer's headers: the fetch task's
	// assignment epoch, the node it ran on, and its task id.
	Epoch      int64
	Node, Task string
	// Token is the fetch task's fencing token (HeaderToken); 0 when the
	// record has none (written before tokens, or by Producer.Send).
	Token int64
	// Timestamp is the Kafka record timestamp (producer create time, unless
	// the topic uses log-append time).
	Timestamp time.Time
}

// DeadLetter names a message that was written to the DLQ topic instead of
// being handed on.
type DeadLetter struct {
	Offset int64
	Reason string // the decode error's text, also in the "reason" header
}

// OffsetReset reports that the requested start offset was out of the
// partition's range (typically deleted by retention) and consumption started
// at the partition's oldest offset instead.
type OffsetReset struct {
	Requested, Start int64
}

// Batch is what ConsumePartition hands to the handler: the messages of the
// offsets [From, Next), decoded, in offset order.
type Batch struct {
	Topic     string
	Partition int32
	// From is the offset of the first message in the batch (Next for an
	// empty batch).
	From int64
	// Next is the offset after the batch's last message: the offset to
	// commit once the batch is stored, and to start from after a restart.
	Next int64
	// Quotes are the valid messages, in offset order.
	Quotes []Message
	// DeadLetters are the invalid messages, already written to the DLQ
	// topic when the handler sees the batch. A batch may hold only dead
	// letters (len(Quotes) == 0); its Next must still be committed.
	DeadLetters []DeadLetter
	// Reset is non-nil on the empty batch (From == Next == Reset.Start) that
	// reports an out-of-range start offset.
	Reset *OffsetReset
	// HighWater is the partition's high-water mark (the offset the next
	// produced message gets) as last reported by the broker; HighWater - Next
	// is the consumer's lag in messages. 0 if unknown.
	HighWater int64
}

// Handler stores a batch. It returns nil once the batch is durably stored,
// an error to have the same batch retried (with backoff), or Permanent(err)
// to stop ConsumePartition. It is called from ConsumePartition's goroutine,
// one batch at a time, and should return promptly when ctx is done.
type Handler func(ctx context.Context, b Batch) error

// ConsumePartition reads partition of cfg.Topic from offset from and hands
// the messages to handle in batches of at most cfg.BatchMax messages. A
// batch is what the client has fetched when the handler is free (group
// commit): a lone message is handed on as soon as it is fetched, and the
// messages that arrive while handle runs (the client keeps fetching) make
// up the next batch. With cfg.BatchWait > 0, a batch also waits up to
// BatchWait after its first message for more. It does not use Kafka
// consumer groups or committed offsets: the caller assigns partitions and
// stores Batch.Next itself, after handle succeeded.
//
// A message that does not decode (see Decode) or lacks a decimal epoch
// header is written to cfg.DLQTopic (same key and value, the original
// headers, plus "reason", "original.topic", "original.partition" and
// "original.offset") before its batch is handed on, and listed in
// Batch.DeadLetters. A crash between the DLQ write and the commit of Next
// may write a dead letter twice (at-least-once).
//
// When handle or the DLQ write fails, the same batch is retried with
// exponential backoff (cfg.RetryInitialInterval up to cfg.RetryMaxInterval)
// until it succeeds or ctx is done: nothing is skipped. Broker outages are
// likewise retried (by sarama, and by reopening the partition).
//
// If from is out of range (retention deleted it, or it is past the end),
// consumption starts at the partition's oldest offset, and handle first gets
// an empty batch with Reset set. The same happens if retention overtakes the
// consumer later.
//
// It returns nil when ctx is done, or an error: ErrInvalidConfig (also for
// a nil handle), ErrInvalidOffset (from < 0), ErrNoPartition, or a Permanent handler error
// (wrapped). After ctx is done it returns as soon as the handler call in
// flight (if any) returns, without waiting for sarama's partition consumer
// to wind down: that one's goroutines end on their own within about 100 ms
// (see abandon); no handler call follows the return, and no other goroutine
// outlives it. It returns promptly, except while sarama waits on brokers that accept
// connections but do not answer: sarama's metadata requests take no context
// and cannot be interrupted, so the return can then take up to about
// 3 x cfg.SendTimeout (read timeout x metadata attempts).
func ConsumePartition(ctx context.Context, cfg Config, partition int32, from int64, handle Handler) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if from < 0 {
		return fmt.Errorf("%w: %d", ErrInvalidOffset, from)
	}
	if handle == nil {
		return fmt.Errorf("%w: nil handler", ErrInvalidConfig)
	}
	client, err := sarama.NewClient(cfg.Brokers, cfg.consumerConfig())
	if err != nil {
		return fmt.Errorf("stream: consumer client: %w", err)
	}
	var closeOnce sync.Once
	closeClient := func() { closeOnce.Do(func() { _ = client.Close() }) }
	defer closeClient()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return fmt.Errorf("stream: consumer: %w", err)
	}
	defer func() { _ = consumer.Close() }()
	dlq := newProducer(cfg, cfg.DLQTopic)
	defer func() { _ = dlq.Close() }()

	r := &partitionReader{
		cfg:         cfg,
		partition:   partition,
		client:      client,
		closeClient: closeClient,
		consumer:    consumer,
		dlq:         dlq,
		handle:      handle,
		log:         cfg.logger().With(zap.String("topic", cfg.Topic), zap.Int32("partition", partition)),
	}
	err = r.run(ctx, from)
	if ctx.Err() != nil && !errors.As(err, new(*permanentError)) {
		return nil
	}
	return err
}

// partitionReader is the state of one ConsumePartition call.
type partitionReader struct {
	cfg       Config
	partition int32
	client    sarama.Client
	// closeClient closes client (once); open uses it to interrupt sarama
	// calls, which take no ctx, when ctx is done.
	closeClient func()
	consumer    sarama.Consumer
	dlq         *Producer
	handle      Handler
	log         *zap.Logger
}

func (r *partitionReader) run(ctx context.Context, pos int64) error {
	for {
		pc, start, err := r.open(ctx, pos)
		if err != nil {
			return err
		}
		if start != pos {
			r.log.Warn("stream: start offset out of range; starting at the oldest",
				zap.Int64("requested", pos), zap.Int64("start", start))
			b := Batch{Topic: r.cfg.Topic, Partition: r.partition, From: start, Next: start,
				Reset: &OffsetReset{Requested: pos, Start: start}}
			if err := r.deliver(ctx, b); err != nil {
				_ = pc.Close()
				return err
			}
			pos = start
		}
		// Once ctx is done, close the client first: its broker connection
		// drops the fetch in flight (a long poll of up to
		// Consumer.MaxWaitTime, 500 ms), so pc.Close returns at once
		// instead of waiting for it, and a revoked or stopping task is
		// released sooner.
		stop := context.AfterFunc(ctx, r.closeClient)
		err = r.consume(ctx, pc, &pos)
		stop()
		if ctx.Err() != nil {
			abandon(pc)
			r.closeClient()
			return err
		}
		_ = pc.Close()
		if err != nil {
			return err
		}
		// The partition consumer stopped by itself (offset out of range
		// after retention): reopen at pos.
	}
}

// abandon stops pc without waiting for it: once ctx is done no handler call
// follows, and pc.Close would wait for sarama's broker consumer to notice,
// which it does at its next subscription round (up to 100 ms, sarama's
// partitionConsumersBatchTimeout; measured 120 ms a stop on the local
// broker). That wait delayed every revoked or stopping ingest task's release
// and so its handover. pc's errors are drained until sarama closes the
// channel (it blocks on a full one), so sarama's goroutines and this drain
// end on their own shortly after ConsumePartition returns.
func abandon(pc sarama.PartitionConsumer) {
	pc.AsyncClose()
	go func() {
		for range pc.Errors() {
		}
	}()
}

// open starts a partition consumer at pos, or at the oldest offset if pos is
// out of range, retrying with backoff until it succeeds or ctx is done.
func (r *partitionReader) open(ctx context.Context, pos int64) (sarama.PartitionConsumer, int64, error) {
	var (
		pc    sarama.PartitionConsumer
		start int64
	)
	// The sarama calls below block for up to a few SendTimeouts when the
	// brokers do not answer; closing the client makes them fail at once.
	stop := context.AfterFunc(ctx, r.closeClient)
	defer stop()
	err := r.retry(ctx, "open partition", func() error {
		var err error
		start = pos
		pc, err = r.consumer.ConsumePartition(r.cfg.Topic, r.partition, pos)
		if errors.Is(err, sarama.ErrOffsetOutOfRange) {
			if start, err = r.client.GetOffset(r.cfg.Topic, r.partition, sarama.OffsetOldest); err != nil {
				return err
			}
			pc, err = r.consumer.ConsumePartition(r.cfg.Topic, r.partition, start)
		}
		if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			if ids, perr := r.client.Partitions(r.cfg.Topic); perr == nil && len(ids) > 0 && !slices.Contains(ids, r.partition) {
				return Permanent(fmt.Errorf("%w: %s/%d (topic has %d)", ErrNoPartition, r.cfg.Topic, r.partition, len(ids)))
			}
		}
		return err
	})
	return pc, start, err
}

// consume reads batches from pc and processes them until ctx is done (nil),
// a fatal error, or pc closes by itself (nil).
func (r *partitionReader) consume(ctx context.Context, pc sarama.PartitionConsumer, pos *int64) error {
	for {
		msgs, open := r.collect(ctx, pc)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if len(msgs) > 0 {
			b, err := r.process(ctx, msgs, pc.HighWaterMarkOffset())
			if err != nil {
				return err
			}
			*pos = b.Next
		}
		if !open {
			return nil
		}
	}
}

// collect gathers the next batch by group commit: it blocks until a first
// message (or ctx done, or pc closed), then takes the messages the client
// has already fetched, without waiting, until BatchMax. While the previous
// batch was handled, sarama kept fetching into pc's buffer, so under load a
// batch holds what arrived meanwhile, and at low load a lone message is
// handed on at once: no timer is involved unless BatchWait > 0, which then
// lingers up to BatchWait after the first message for more. open is false
// when pc closed.
func (r *partitionReader) collect(ctx context.Context, pc sarama.PartitionConsumer) (msgs []*sarama.ConsumerMessage, open bool) {
	msgCh, errCh := pc.Messages(), pc.Errors()
	logErr := func(e *sarama.ConsumerError, ok bool) {
		if !ok {
			errCh = nil // closed (after msgCh): stop selecting it
			return
		}
		r.log.Warn("stream: consumer error", zap.Error(e.Err))
	}
	for len(msgs) == 0 {
		select {
		case <-ctx.Done():
			return nil, true
		case m, ok := <-msgCh:
			if !ok {
				return nil, false
			}
			msgs = append(msgs, m)
		case e, ok := <-errCh:
			logErr(e, ok)
		}
	}
	var linger <-chan time.Time // nil: none
	if r.cfg.BatchWait > 0 {
		t := time.NewTimer(r.cfg.BatchWait)
		defer t.Stop()
		linger = t.C
	}
	for len(msgs) < r.cfg.BatchMax {
		// What is already there.
		select {
		case m, ok := <-msgCh:
			if !ok {
				return msgs, false
			}
			msgs = append(msgs, m)
			continue
		case e, ok := <-errCh:
			logErr(e, ok)
			continue
		default:
		}
		if linger == nil {
			return msgs, true
		}
		// Nothing more yet: linger.
		select {
		case <-ctx.Done():
			return msgs, true
		case <-linger:
			return msgs, true
		case m, ok := <-msgCh:
			if !ok {
				return msgs, false
			}
			msgs = append(msgs, m)
		case e, ok := <-errCh:
			logErr(e, ok)
		}
	}
	return msgs, true
}

// process decodes msgs, writes the invalid ones to the DLQ, and hands the
// batch on; both steps are retried until they succeed.
func (r *partitionReader) process(ctx context.Context, msgs []*sarama.ConsumerMessage, highWater int64) (Batch, error) {
	b := Batch{
		Topic:     r.cfg.Topic,
		Partition: r.partition,
		From:      msgs[0].Offset,
		Next:      msgs[len(msgs)-1].Offset + 1,
		HighWater: highWater,
	}
	var dead []*sarama.ConsumerMessage
	for _, m := range msgs {
		msg, err := decodeMessage(m)
		if err == nil && r.cfg.CheckQuote != nil {
			if verr := r.cfg.CheckQuote(msg.Quote); verr != nil {
				err = fmt.Errorf("%w: %w", ErrInvalidQuote, verr)
			}
		}
		if err != nil {
			dead = append(dead, m)
			b.DeadLetters = append(b.DeadLetters, DeadLetter{Offset: m.Offset, Reason: err.Error()})
			continue
		}
		b.Quotes = append(b.Quotes, msg)
	}
	if len(dead) > 0 {
		err := r.retry(ctx, "write dead letters", func() error {
			return r.dlq.send(ctx, deadLetters(r.cfg.DLQTopic, dead, b.DeadLetters))
		})
		if err != nil {
			return b, err
		}
		for _, d := range b.DeadLetters {
			r.log.Warn("stream: dead letter", zap.Int64("offset", d.Offset), zap.String("reason", d.Reason))
		}
	}
	return b, r.deliver(ctx, b)
}

// deliver calls the handler until it succeeds.
func (r *partitionReader) deliver(ctx context.Context, b Batch) error {
	err := r.retry(ctx, "handle batch", func() error { return r.handle(ctx, b) })
	if err != nil {
		return fmt.Errorf("stream: %s/%d: handle batch [%d, %d): %w", b.Topic, b.Partition, b.From, b.Next, err)
	}
	return nil
}

// retry runs op until it returns nil, a Permanent error, or ctx is done
// (ctx.Err()), waiting with exponential backoff between attempts.
func (r *partitionReader) retry(ctx context.Context, what string, op func() error) error {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(r.cfg.RetryInitialInterval),
		backoff.WithMaxInterval(r.cfg.RetryMaxInterval),
		backoff.WithMaxElapsedTime(0),
	)
	attempt := 0
	return backoff.RetryNotify(func() error {
		err := op()
		if pe := new(*permanentError); errors.As(err, pe) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(b, ctx), func(err error, next time.Duration) {
		attempt++
		r.log.Warn("stream: retrying", zap.String("op", what), zap.Int("attempt", attempt),
			zap.Duration("backoff", next), zap.Error(err))
	})
}

// decodeMessage decodes m's value and headers.
func decodeMessage(m *sarama.ConsumerMessage) (Message, error) {
	q, err := Decode(m.Key, m.Value)
	if err != nil {
		return Message{}, err
	}
	out := Message{Offset: m.Offset, Quote: q, Timestamp: m.Timestamp}
	haveEpoch := false
	for _, h := range m.Headers {
		if h == nil {
			continue
		}
		switch string(h.Key) {
		case HeaderEpoch:
			if haveEpoch {
				return Message{}, fmt.Errorf("%w: epoch header given twice", ErrBadHeader)
			}
			if out.Epoch, err = strconv.ParseInt(string(h.Value), 10, 64); err != nil {
				return Message{}, fmt.Errorf("%w: epoch %q is not a decimal integer", ErrBadHeader, h.Value)
			}
			if out.Epoch < 1 {
				return Message{}, fmt.Errorf("%w: epoch %d (epochs start at 1)", ErrBadHeader, out.Epoch)
			}
			haveEpoch = true
		case HeaderNode:
			out.Node = string(h.Value)
		case HeaderTask:
			out.Task = string(h.Value)
		case HeaderToken:
			if out.Token, err = strconv.ParseInt(string(h.Value), 10, 64); err != nil || out.Token < 1 {
				return Message{}, fmt.Errorf("%w: token %q is not a positive decimal integer", ErrBadHeader, h.Value)
			}
		}
	}
	if !haveEpoch {
		return Message{}, fmt.Errorf("%w: no epoch", ErrBadHeader)
	}
	return out, nil
}

// maxDeadLetterBytes bounds the key, value and headers a dead letter keeps:
// the DLQ producer's MaxMessageBytes (1 MiB) less room for our own headers
// and the record overhead.
const maxDeadLetterBytes = 1<<20 - 16<<10

// deadLetters builds the DLQ messages for dead, whose reasons are in dl.
func deadLetters(topic string, dead []*sarama.ConsumerMessage, dl []DeadLetter) []*sarama.ProducerMessage {
	out := make([]*sarama.ProducerMessage, len(dead))
	for i, m := range dead {
		pm := &sarama.ProducerMessage{Topic: topic}
		key, value, headers := m.Key, m.Value, m.Headers
		size := len(key) + len(value)
		for _, h := range headers {
			if h != nil {
				size += len(h.Key) + len(h.Value)
			}
		}
		truncated := size > maxDeadLetterBytes
		if truncated {
			// Too large to dead-letter whole (it would fail the DLQ
			// producer's MaxMessageBytes for ever and stall the partition):
			// keep the start of the key and value, drop the original
			// headers, and say so.
			key = key[:min(len(key), 1024)]
			value = value[:min(len(value), maxDeadLetterBytes-len(key))]
			headers = nil
		}
		if key != nil {
			pm.Key = sarama.ByteEncoder(key)
		}
		if value != nil {
			pm.Value = sarama.ByteEncoder(value)
		}
		for _, h := range headers {
			if h == nil {
				continue
			}
			switch string(h.Key) {
			case HeaderReason, HeaderOriginalTopic, HeaderOriginalPartition, HeaderOriginalOffset, HeaderOriginalSize:
				continue // ours win
			}
			pm.Headers = append(pm.Headers, *h)
		}
		if truncated {
			pm.Headers = append(pm.Headers, sarama.RecordHeader{Key: []byte(HeaderOriginalSize), Value: []byte(strconv.Itoa(size))})
		}
		pm.Headers = append(pm.Headers,
			sarama.RecordHeader{Key: []byte(HeaderReason), Value: []byte(dl[i].Reason)},
			sarama.RecordHeader{Key: []byte(HeaderOriginalTopic), Value: []byte(m.Topic)},
			sarama.RecordHeader{Key: []byte(HeaderOriginalPartition), Value: []byte(strconv.FormatInt(int64(m.Partition), 10))},
			sarama.RecordHeader{Key: []byte(HeaderOriginalOffset), Value: []byte(strconv.FormatInt(m.Offset, 10))},
		)
		out[i] = pm
	}
	return out
}
