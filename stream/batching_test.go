package stream

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap/zaptest"
)

// The tests in this file run ConsumePartition's batching (collect, consume)
// on a fake sarama.PartitionConsumer inside a synctest bubble: time there is
// a fake clock that advances only when every goroutine of the bubble waits,
// so a batch handed on at fake time 0 was handed on without waiting for any
// timer, and a linger shows as exactly BatchWait.

// fakePartition is a sarama.PartitionConsumer whose messages and errors the
// test pushes: what sarama would have fetched into its buffers.
type fakePartition struct {
	msgs      chan *sarama.ConsumerMessage
	errs      chan *sarama.ConsumerError
	closeOnce sync.Once
	next      atomic.Int64 // offset of the next pushed message
}

func newFakePartition() *fakePartition {
	return &fakePartition{msgs: make(chan *sarama.ConsumerMessage, 10000), errs: make(chan *sarama.ConsumerError, 16)}
}

// push appends n valid messages (offsets continue from the last push).
func (f *fakePartition) push(t *testing.T, n int) {
	t.Helper()
	for _, q := range testQuotes(n, "SPY", "QQQ") {
		v, err := Encode(q)
		if err != nil {
			t.Fatal(err)
		}
		f.msgs <- &sarama.ConsumerMessage{
			Topic: "quotes", Partition: 0, Offset: f.next.Add(1) - 1, Key: []byte(q.Symbol), Value: v,
			Timestamp: time.Now(),
			Headers:   []*sarama.RecordHeader{{Key: []byte(HeaderEpoch), Value: []byte("1")}},
		}
	}
}

func (f *fakePartition) AsyncClose() {
	f.closeOnce.Do(func() { close(f.msgs); close(f.errs) })
}
func (f *fakePartition) Close() error                             { f.AsyncClose(); return nil }
func (f *fakePartition) Messages() <-chan *sarama.ConsumerMessage { return f.msgs }
func (f *fakePartition) Errors() <-chan *sarama.ConsumerError     { return f.errs }
func (f *fakePartition) HighWaterMarkOffset() int64               { return f.next.Load() }
func (f *fakePartition) Pause()                                   {}
func (f *fakePartition) Resume()                                  {}
func (f *fakePartition) IsPaused() bool                           { return false }

func fakeReader(t *testing.T, batchMax int, batchWait time.Duration, h Handler) *partitionReader {
	cfg := DefaultConfig()
	cfg.Brokers = []string{"127.0.0.1:1"}
	cfg.BatchMax, cfg.BatchWait = batchMax, batchWait
	cfg.RetryInitialInterval, cfg.RetryMaxInterval = 10*time.Millisecond, 100*time.Millisecond
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &partitionReader{cfg: cfg, handle: h, log: zaptest.NewLogger(t)}
}

func offsets(msgs []*sarama.ConsumerMessage) []int64 {
	var out []int64
	for _, m := range msgs {
		out = append(out, m.Offset)
	}
	return out
}

func span(from, to int64) []int64 {
	var out []int64
	for o := from; o < to; o++ {
		out = append(out, o)
	}
	return out
}

// TestCollectNoLinger: with BatchWait 0 (the default), collect returns the
// lone available message at once (fake time 0: no timer), even though more
// arrives a millisecond later; a full buffer comes back as one batch, cut at
// BatchMax, in offset order.
func TestCollectNoLinger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if DefaultConfig().BatchWait != 0 {
			t.Fatal("default BatchWait is not 0")
		}
		pc := newFakePartition()
		r := fakeReader(t, 4, 0, func(context.Context, Batch) error { return nil })
		pc.push(t, 1)
		go func() { time.Sleep(time.Millisecond); pc.push(t, 1) }()
		start := time.Now()
		msgs, open := r.collect(t.Context(), pc)
		if el := time.Since(start); el != 0 || !open || !slices.Equal(offsets(msgs), []int64{0}) {
			t.Fatalf("lone message: collect = %v, open %v after %v (fake); want [0] at once", offsets(msgs), open, el)
		}
		time.Sleep(2 * time.Millisecond) // the late message is in
		pc.push(t, 8)                    // 2..9
		for _, want := range [][]int64{{1, 2, 3, 4}, {5, 6, 7, 8}, {9}} {
			msgs, open = r.collect(t.Context(), pc)
			if el := time.Since(start); el != 2*time.Millisecond || !open || !slices.Equal(offsets(msgs), want) {
				t.Fatalf("buffered: collect = %v, open %v at %v; want %v at 2ms", offsets(msgs), open, el, want)
			}
		}
	})
}

// TestCollectLinger: with BatchWait > 0, collect waits up to BatchWait after
// the first message for more: a lone message comes back after exactly
// BatchWait, a message arriving within it joins the batch, and a batch that
// reaches BatchMax comes back at once.
func TestCollectLinger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const wait = 200 * time.Millisecond
		pc := newFakePartition()
		r := fakeReader(t, 3, wait, func(context.Context, Batch) error { return nil })

		pc.push(t, 1)
		start := time.Now()
		msgs, _ := r.collect(t.Context(), pc)
		if el := time.Since(start); el != wait || !slices.Equal(offsets(msgs), []int64{0}) {
			t.Fatalf("lone message with linger: %v after %v; want [0] after %v", offsets(msgs), el, wait)
		}

		pc.push(t, 1) // 1
		go func() { time.Sleep(50 * time.Millisecond); pc.push(t, 1) }()
		start = time.Now()
		msgs, _ = r.collect(t.Context(), pc)
		if el := time.Since(start); el != wait || !slices.Equal(offsets(msgs), []int64{1, 2}) {
			t.Fatalf("second message at 50ms: %v after %v; want [1 2] after %v", offsets(msgs), el, wait)
		}

		go func() {
			time.Sleep(10 * time.Millisecond)
			pc.push(t, 1)
			time.Sleep(10 * time.Millisecond)
			pc.push(t, 2)
		}()
		start = time.Now()
		msgs, _ = r.collect(t.Context(), pc)
		if el := time.Since(start); el != 20*time.Millisecond || !slices.Equal(offsets(msgs), []int64{3, 4, 5}) {
			t.Fatalf("full batch: %v after %v; want [3 4 5] after 20ms", offsets(msgs), el)
		}
	})
}

// TestCollectStops: collect returns when ctx is done (waiting for a first
// message, or lingering), and reports a closed partition consumer; consumer
// errors are logged, not handed on.
func TestCollectStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pc := newFakePartition()
		r := fakeReader(t, 10, time.Hour, func(context.Context, Batch) error { return nil })
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		pc.errs <- &sarama.ConsumerError{Topic: "quotes", Err: errors.New("broker hiccup")}
		msgs, open := r.collect(ctx, pc)
		if len(msgs) != 0 || !open || ctx.Err() == nil {
			t.Fatalf("ctx done while waiting: %v, open %v, ctx %v", offsets(msgs), open, ctx.Err())
		}

		ctx, cancel = context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		pc.push(t, 2)
		start := time.Now()
		msgs, open = r.collect(ctx, pc)
		if el := time.Since(start); el != time.Second || !open || !slices.Equal(offsets(msgs), []int64{0, 1}) {
			t.Fatalf("ctx done while lingering: %v, open %v after %v; want [0 1] after 1s", offsets(msgs), open, el)
		}

		pc.push(t, 1)
		pc.AsyncClose()
		msgs, open = r.collect(t.Context(), pc)
		if open || !slices.Equal(offsets(msgs), []int64{2}) {
			t.Fatalf("closed with one left: %v, open %v; want [2], closed", offsets(msgs), open)
		}
		msgs, open = r.collect(t.Context(), pc)
		if open || len(msgs) != 0 {
			t.Fatalf("closed: %v, open %v", offsets(msgs), open)
		}
	})
}

// handled is one handler call seen by the consume tests.
type handled struct {
	from, next int64
	offsets    []int64
	at         time.Duration // fake time since the start
}

// TestConsumeGroupCommit: through consume (decode, handler, positions), a
// lone message reaches the handler at once, alone; messages that arrive
// while the handler is busy come as the next batch, as large as what
// arrived, cut at BatchMax; batches are contiguous and in offset order.
func TestConsumeGroupCommit(t *testing.T) {
	for _, tt := range []struct {
		batchMax int
		want     [][2]int64 // [from, next) of each batch
	}{
		{5000, [][2]int64{{0, 1}, {1, 101}, {101, 102}}},
		{40, [][2]int64{{0, 1}, {1, 41}, {41, 81}, {81, 101}, {101, 102}}},
	} {
		t.Run("batchmax="+strconv.Itoa(tt.batchMax), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				release := make(chan struct{})
				var (
					mu    sync.Mutex
					calls []handled
				)
				r := fakeReader(t, tt.batchMax, 0, func(ctx context.Context, b Batch) error {
					mu.Lock()
					h := handled{from: b.From, next: b.Next, at: time.Since(start)}
					for _, m := range b.Quotes {
						h.offsets = append(h.offsets, m.Offset)
					}
					calls = append(calls, h)
					first := len(calls) == 1
					mu.Unlock()
					if first { // a slow write: the burst arrives meanwhile
						select {
						case <-release:
						case <-ctx.Done():
						}
					}
					return nil
				})
				pc := newFakePartition()
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				pos := int64(0)
				go func() { done <- r.consume(ctx, pc, &pos) }()

				pc.push(t, 1)
				synctest.Wait() // the handler holds [0, 1)
				time.Sleep(30 * time.Millisecond)
				pc.push(t, 100) // the burst, while the handler writes
				time.Sleep(20 * time.Millisecond)
				close(release)
				synctest.Wait()
				time.Sleep(time.Second)
				pc.push(t, 1) // a lone message at low load
				synctest.Wait()
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) || pos != 102 {
					t.Fatalf("consume = %v at %d; want context.Canceled at 102", err, pos)
				}

				mu.Lock()
				defer mu.Unlock()
				var got [][2]int64
				for _, c := range calls {
					got = append(got, [2]int64{c.from, c.next})
					if !slices.Equal(c.offsets, span(c.from, c.next)) {
						t.Fatalf("batch [%d, %d) holds offsets %v", c.from, c.next, c.offsets)
					}
				}
				if !slices.Equal(got, tt.want) {
					t.Fatalf("batches %v; want %v", got, tt.want)
				}
				// Fake times: the first message at once, the burst when the
				// handler returned (50ms), the last lone message at once.
				if calls[0].at != 0 || calls[1].at != 50*time.Millisecond || calls[len(calls)-1].at != 1050*time.Millisecond {
					t.Fatalf("handler calls at %v, %v, last %v; want 0, 50ms, 1.05s", calls[0].at, calls[1].at, calls[len(calls)-1].at)
				}
			})
		})
	}
}

// TestConsumeRetryKeepsBatch: a failing handler gets the same batch again
// (with backoff), even though more messages arrived meanwhile; they come in
// the next batch.
func TestConsumeRetryKeepsBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pc := newFakePartition()
		var got [][2]int64
		r := fakeReader(t, 5000, 0, func(_ context.Context, b Batch) error {
			got = append(got, [2]int64{b.From, b.Next})
			if len(got) <= 2 {
				pc.push(t, 3) // arrives while the batch fails
				return errors.New("cassandra down")
			}
			return nil
		})
		pc.push(t, 2) // before consume starts: both are in the first batch
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		pos := int64(0)
		go func() { done <- r.consume(ctx, pc, &pos) }()
		time.Sleep(10 * time.Second)
		cancel()
		<-done
		if want := [][2]int64{{0, 2}, {0, 2}, {0, 2}, {2, 8}}; !slices.Equal(got, want) || pos != 8 {
			t.Fatalf("batches %v, pos %d; want %v, 8", got, pos, want)
		}
	})
}
