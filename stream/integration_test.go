package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap/zaptest"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
)

// testConfig returns a Config for the test broker with topics unique to the
// test (deleted on cleanup), created with EnsureTopics, and short retry
// waits. BatchWait is the default, 0 (no linger), so batch boundaries depend
// on what the client has fetched: tests check offsets, not how they are cut.
func testConfig(t *testing.T, partitions int32) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Brokers = testenv.KafkaBrokers(t)
	prefix := testenv.KafkaTopicPrefix(t)
	cfg.Topic = prefix + "quotes"
	cfg.DLQTopic = prefix + "quotes.dlq"
	cfg.Partitions = partitions
	cfg.ClientID = "stocksys-test"
	cfg.RetryInitialInterval = 20 * time.Millisecond
	cfg.RetryMaxInterval = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := EnsureTopics(ctx, cfg); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	return cfg
}

// startConsumer runs ConsumePartition in a goroutine; stop cancels it and
// returns its result. Cleanup stops it too.
func startConsumer(t *testing.T, cfg Config, partition int32, from int64, h Handler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ConsumePartition(ctx, cfg, partition, from, h) }()
	var (
		once sync.Once
		err  error
	)
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// collector is a Handler that records batches and signals when Next
// reaches a target.
type collector struct {
	mu      sync.Mutex
	batches []Batch
	next    int64
	reached chan struct{}
	target  int64
}

func newCollector(target int64) *collector {
	return &collector{target: target, reached: make(chan struct{})}
}

func (c *collector) handle(_ context.Context, b Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, b)
	if c.next < c.target && b.Next >= c.target {
		close(c.reached)
	}
	c.next = b.Next
	return nil
}

func (c *collector) wait(t *testing.T, timeout time.Duration) []Batch {
	t.Helper()
	select {
	case <-c.reached:
	case <-time.After(timeout):
		c.mu.Lock()
		defer c.mu.Unlock()
		t.Fatalf("Next did not reach %d within %v (at %d after %d batches)", c.target, timeout, c.next, len(c.batches))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.batches)
}

func newTestProducer(t *testing.T, cfg Config) *Producer {
	t.Helper()
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// TestIntegration_Topics: EnsureTopics creates both topics, is idempotent,
// and reports (without changing) a partition count that differs.
func TestIntegration_Topics(t *testing.T) {
	cfg := testConfig(t, 3)
	ctx := context.Background()
	got, err := Partitions(ctx, cfg)
	if err != nil || !slices.Equal(got, []int32{0, 1, 2}) {
		t.Fatalf("Partitions = %v, %v; want [0 1 2]", got, err)
	}
	dlq := cfg
	dlq.Topic, dlq.DLQTopic = cfg.DLQTopic, cfg.Topic
	if got, err := Partitions(ctx, dlq); err != nil || len(got) != 3 {
		t.Fatalf("DLQ partitions = %v, %v; want 3", got, err)
	}
	if err := EnsureTopics(ctx, cfg); err != nil {
		t.Fatalf("second EnsureTopics: %v", err)
	}
	other := cfg
	other.Partitions = 4
	err = EnsureTopics(ctx, other)
	if want := fmt.Sprintf("stream: topic exists with a different partition count: %s has 3 partitions, config says 4", cfg.Topic); !errors.Is(err, ErrPartitionCount) || err.Error() != want {
		t.Fatalf("EnsureTopics with 4 partitions = %v; want %q", err, want)
	}
	if got, err := Partitions(ctx, cfg); err != nil || len(got) != 3 {
		t.Fatalf("Partitions after mismatch = %v, %v; want 3 (unchanged)", got, err)
	}
	missing := cfg
	missing.Topic = cfg.Topic + ".missing"
	if got, err := Partitions(ctx, missing); !errors.Is(err, ErrNoTopic) || got != nil {
		t.Fatalf("Partitions of a missing topic = %v, %v; want ErrNoTopic", got, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := EnsureTopics(cctx, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("EnsureTopics with a cancelled ctx = %v", err)
	}
}

// TestIntegration_SendAndConsume sends 1,000 quotes of 7 symbols in 10
// Sends and reads every partition back: each symbol in one partition, in
// send order, with its headers; offsets contiguous from 0; batches at most
// BatchMax.
func TestIntegration_SendAndConsume(t *testing.T) {
	cfg := testConfig(t, 3)
	cfg.BatchMax = 64
	p := newTestProducer(t, cfg)
	symbols := []string{"AAPL", "MSFT", "SPY", "QQQ", "IBM", "GE", "F"}
	qs := testQuotes(1000, symbols...)
	ctx := context.Background()
	// Odd batches name a fencing token (SendFrom); even ones none (Send).
	token := func(b int) int64 { return int64(b%2) * int64(9000000000+b) }
	for i := 0; i < 10; i++ {
		o := Origin{Epoch: int64(40 + i), Token: token(i), Node: "node-" + strconv.Itoa(i%2), Task: "fetch/batch" + strconv.Itoa(i)}
		var err error
		if o.Token == 0 {
			err = p.Send(ctx, o.Epoch, o.Node, o.Task, qs[i*100:(i+1)*100])
		} else {
			err = p.SendFrom(ctx, o, qs[i*100:(i+1)*100])
		}
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	// Offsets per partition, to know where each consumer is done.
	client, err := sarama.NewClient(cfg.Brokers, testenv.KafkaConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var (
		total int64
		cols  []*collector
	)
	for part := int32(0); part < 3; part++ {
		hwm, err := client.GetOffset(cfg.Topic, part, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		total += hwm
		c := newCollector(hwm)
		cols = append(cols, c)
		if hwm == 0 {
			close(c.reached)
			continue
		}
		startConsumer(t, cfg, part, 0, c.handle)
	}
	if total != 1000 {
		t.Fatalf("partitions hold %d messages; want 1000", total)
	}

	type sent struct {
		q            quote.Quote
		epoch, token int64
		node, task   string
	}
	want := map[string][]sent{}
	for i, q := range qs {
		b := i / 100
		want[q.Symbol] = append(want[q.Symbol], sent{q, int64(40 + b), token(b), "node-" + strconv.Itoa(b%2), "fetch/batch" + strconv.Itoa(b)})
	}
	got := map[string][]sent{}
	symPart := map[string]int32{}
	for part, c := range cols {
		offset := int64(0)
		for _, b := range c.wait(t, 30*time.Second) {
			if b.Topic != cfg.Topic || b.Partition != int32(part) || b.From != offset || len(b.DeadLetters) != 0 ||
				b.Reset != nil || len(b.Quotes) == 0 || len(b.Quotes) > 64 || b.Next != b.From+int64(len(b.Quotes)) {
				t.Fatalf("partition %d: batch [%d, %d) with %d quotes, %d dead letters, reset %v; want from %d, 1..64 quotes",
					part, b.From, b.Next, len(b.Quotes), len(b.DeadLetters), b.Reset, offset)
			}
			for _, m := range b.Quotes {
				if m.Offset != offset {
					t.Fatalf("partition %d: offset %d; want %d", part, m.Offset, offset)
				}
				offset++
				if sp, ok := symPart[m.Quote.Symbol]; ok && sp != int32(part) {
					t.Fatalf("symbol %s in partitions %d and %d", m.Quote.Symbol, sp, part)
				}
				symPart[m.Quote.Symbol] = int32(part)
				if m.Timestamp.IsZero() {
					t.Fatalf("message %d/%d: no timestamp", part, m.Offset)
				}
				got[m.Quote.Symbol] = append(got[m.Quote.Symbol], sent{m.Quote, m.Epoch, m.Token, m.Node, m.Task})
			}
		}
	}
	if len(got) != len(symbols) {
		t.Fatalf("read %d symbols; want %d", len(got), len(symbols))
	}
	for sym, w := range want {
		g := got[sym]
		if len(g) != len(w) {
			t.Fatalf("%s: read %d quotes; want %d", sym, len(g), len(w))
		}
		for i := range w {
			if !equalQuotes(g[i].q, w[i].q) || g[i].epoch != w[i].epoch || g[i].token != w[i].token || g[i].node != w[i].node || g[i].task != w[i].task {
				t.Fatalf("%s #%d = %+v; want %+v", sym, i, g[i], w[i])
			}
		}
	}
}

// writeRaw writes messages with a plain sarama producer, bypassing Encode.
func writeRaw(t *testing.T, cfg Config, msgs ...*sarama.ProducerMessage) {
	t.Helper()
	sc := testenv.KafkaConfig(t)
	sc.Producer.Return.Successes = true
	sp, err := sarama.NewSyncProducer(cfg.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if err := sp.SendMessages(msgs); err != nil {
		t.Fatalf("raw send: %v", err)
	}
}

// TestIntegration_DeadLetters: malformed messages written raw between valid
// ones land in the DLQ topic with their reason and origin, before the batch
// is handed on; the partition keeps flowing and Next moves past them.
func TestIntegration_DeadLetters(t *testing.T) {
	cfg := testConfig(t, 1)
	p := newTestProducer(t, cfg)
	ctx := context.Background()
	qs := testQuotes(5, "SPY")
	if err := p.Send(ctx, 3, "n1", "fetch/SPY", qs[:2]); err != nil { // offsets 0, 1
		t.Fatal(err)
	}
	good, _ := Encode(qs[2])
	writeRaw(t, cfg,
		&sarama.ProducerMessage{Topic: cfg.Topic, Key: sarama.StringEncoder("SPY"), Value: sarama.StringEncoder("not json"),
			Headers: []sarama.RecordHeader{{Key: []byte("epoch"), Value: []byte("3")}, {Key: []byte("node"), Value: []byte("rogue")}}}, // 2
		&sarama.ProducerMessage{Topic: cfg.Topic, Key: sarama.StringEncoder("SPY"), Value: sarama.ByteEncoder(good)}, // 3: no epoch header
	)
	if err := p.Send(ctx, 4, "n2", "fetch/SPY", qs[2:]); err != nil { // offsets 4, 5, 6
		t.Fatal(err)
	}

	// The handler checks that the dead letters are in the DLQ when it runs.
	dlqClient, err := sarama.NewClient(cfg.Brokers, testenv.KafkaConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer dlqClient.Close()
	c := newCollector(7)
	var dlqAtHandle []int64
	stop := startConsumer(t, cfg, 0, 0, func(ctx context.Context, b Batch) error {
		var n int64
		for part := int32(0); part < cfg.Partitions; part++ {
			hwm, err := dlqClient.GetOffset(cfg.DLQTopic, part, sarama.OffsetNewest)
			if err != nil {
				return err
			}
			n += hwm
		}
		dlqAtHandle = append(dlqAtHandle, n)
		return c.handle(ctx, b)
	})
	batches := c.wait(t, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("ConsumePartition = %v", err)
	}
	var (
		offsets []int64
		dead    []DeadLetter
	)
	for i, b := range batches {
		if len(b.DeadLetters) > 0 && dlqAtHandle[i] < int64(len(dead)+len(b.DeadLetters)) {
			t.Fatalf("batch %d handed on with %d messages in the DLQ; want %d", i, dlqAtHandle[i], len(dead)+len(b.DeadLetters))
		}
		for _, m := range b.Quotes {
			offsets = append(offsets, m.Offset)
		}
		dead = append(dead, b.DeadLetters...)
	}
	if last := batches[len(batches)-1]; last.Next != 7 {
		t.Fatalf("last Next = %d; want 7", last.Next)
	}
	if !slices.Equal(offsets, []int64{0, 1, 4, 5, 6}) {
		t.Fatalf("quote offsets = %v; want [0 1 4 5 6]", offsets)
	}
	wantDead := []DeadLetter{
		{2, "stream: malformed message: invalid character 'o' in literal null (expecting 'u')"},
		{3, "stream: bad header: no epoch"},
	}
	if !slices.Equal(dead, wantDead) {
		t.Fatalf("dead letters = %+v; want %+v", dead, wantDead)
	}

	// Read the DLQ topic back.
	cons, err := sarama.NewConsumerFromClient(dlqClient)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	type dl struct {
		key, value string
		headers    map[string]string
	}
	var gotDLQ []dl
	for part := int32(0); part < cfg.Partitions; part++ {
		hwm, _ := dlqClient.GetOffset(cfg.DLQTopic, part, sarama.OffsetNewest)
		if hwm == 0 {
			continue
		}
		pc, err := cons.ConsumePartition(cfg.DLQTopic, part, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		for i := int64(0); i < hwm; i++ {
			select {
			case m := <-pc.Messages():
				h := map[string]string{}
				for _, x := range m.Headers {
					h[string(x.Key)] = string(x.Value)
				}
				gotDLQ = append(gotDLQ, dl{string(m.Key), string(m.Value), h})
			case <-time.After(10 * time.Second):
				t.Fatalf("DLQ partition %d: timeout", part)
			}
		}
		pc.Close()
	}
	slices.SortFunc(gotDLQ, func(a, b dl) int { return len(a.value) - len(b.value) }) // "not json" first
	wantDLQ := []dl{
		{"SPY", "not json", map[string]string{"epoch": "3", "node": "rogue", "reason": wantDead[0].Reason,
			"original.topic": cfg.Topic, "original.partition": "0", "original.offset": "2"}},
		{"SPY", string(good), map[string]string{"reason": wantDead[1].Reason,
			"original.topic": cfg.Topic, "original.partition": "0", "original.offset": "3"}},
	}
	if fmt.Sprint(gotDLQ) != fmt.Sprint(wantDLQ) {
		t.Fatalf("DLQ =\n%v\nwant\n%v", gotDLQ, wantDLQ)
	}
}

// TestIntegration_RetrySameBatch: a handler that fails 3 times gets the same
// batch (same offsets, starting at 0) 4 times, and nothing after it until it
// succeeds; then the rest of the 20 quotes, contiguous. (The batch is what
// the client had fetched at the first call: usually all 20 quotes, or the
// first ones if the fetch was still being handed over.)
func TestIntegration_RetrySameBatch(t *testing.T) {
	cfg := testConfig(t, 1)
	p := newTestProducer(t, cfg)
	if err := p.Send(context.Background(), 1, "n", "t", testQuotes(20, "SPY", "QQQ")); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		calls []Batch
		at    []time.Time
	)
	done := make(chan struct{})
	stop := startConsumer(t, cfg, 0, 0, func(_ context.Context, b Batch) error {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, b)
		at = append(at, time.Now())
		if len(calls) <= 3 {
			return fmt.Errorf("cassandra down (call %d)", len(calls))
		}
		if b.Next == 20 {
			close(done)
		}
		return nil
	})
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("not every quote handled within 30s")
	}
	time.Sleep(300 * time.Millisecond) // would show a wrong extra call
	if err := stop(); err != nil {
		t.Fatalf("ConsumePartition = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) < 4 {
		t.Fatalf("%d handler calls; want at least 4", len(calls))
	}
	first := calls[0].Next
	for i, b := range calls {
		var offs []int64
		for _, m := range b.Quotes {
			offs = append(offs, m.Offset)
		}
		if i < 4 {
			if b.From != 0 || first < 1 || b.Next != first || !slices.Equal(offs, span(0, first)) {
				t.Fatalf("call %d: batch [%d, %d) offsets %v; want [0, %d), as the first call", i, b.From, b.Next, offs, first)
			}
			if i > 0 && at[i].Sub(at[i-1]) < cfg.RetryInitialInterval/2 {
				t.Fatalf("call %d came %v after the previous; want a backoff of at least %v", i, at[i].Sub(at[i-1]), cfg.RetryInitialInterval/2)
			}
			continue
		}
		if prev := calls[i-1].Next; b.From != prev || !slices.Equal(offs, span(prev, b.Next)) || len(offs) == 0 {
			t.Fatalf("call %d (after the successful retry): batch [%d, %d) offsets %v; want from %d", i, b.From, b.Next, offs, prev)
		}
	}
	if last := calls[len(calls)-1].Next; last != 20 {
		t.Fatalf("last Next %d; want 20", last)
	}
	t.Logf("%d calls: the retried batch [0, %d), then %d more", len(calls), first, len(calls)-4)
}

// TestIntegration_StartOffset: consumption starts exactly at the given
// offset; an offset below the log start (deleted records) starts at the
// oldest and is reported with an empty Reset batch; so is one past the end.
func TestIntegration_StartOffset(t *testing.T) {
	cfg := testConfig(t, 1)
	p := newTestProducer(t, cfg)
	if err := p.Send(context.Background(), 1, "n", "t", testQuotes(10, "SPY")); err != nil {
		t.Fatal(err)
	}
	firstBatch := func(from int64) Batch {
		t.Helper()
		c := newCollector(10)
		stop := startConsumer(t, cfg, 0, from, c.handle)
		bs := c.wait(t, 30*time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		return bs[0]
	}
	b := firstBatch(4)
	if b.From != 4 || b.Next < 5 || b.Next > 10 || len(b.Quotes) != int(b.Next-4) || b.Quotes[0].Offset != 4 || b.Reset != nil {
		t.Fatalf("from 4: first batch [%d, %d) with %d quotes, reset %v; want [4, n) n <= 10", b.From, b.Next, len(b.Quotes), b.Reset)
	}

	sc := testenv.KafkaConfig(t)
	admin, err := sarama.NewClusterAdmin(cfg.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.DeleteRecords(cfg.Topic, map[int32]int64{0: 3}); err != nil {
		t.Fatalf("delete records: %v", err)
	}
	for _, from := range []int64{1, 25} {
		b = firstBatch(from)
		if b.Reset == nil || *b.Reset != (OffsetReset{Requested: from, Start: 3}) || b.From != 3 || b.Next != 3 || len(b.Quotes) != 0 {
			t.Fatalf("from %d: first batch [%d, %d) with %d quotes, reset %+v; want the empty reset batch at 3", from, b.From, b.Next, len(b.Quotes), b.Reset)
		}
	}
	if err := ConsumePartition(context.Background(), cfg, 0, -1, nil); !errors.Is(err, ErrInvalidOffset) {
		t.Fatalf("from -1 = %v; want ErrInvalidOffset", err)
	}
}

// TestIntegration_FatalErrors: a Permanent handler error and a partition
// that does not exist end ConsumePartition with an error.
func TestIntegration_FatalErrors(t *testing.T) {
	cfg := testConfig(t, 1)
	p := newTestProducer(t, cfg)
	if err := p.Send(context.Background(), 1, "n", "t", testQuotes(1, "SPY")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fenced := errors.New("epoch fenced")
	err := ConsumePartition(ctx, cfg, 0, 0, func(context.Context, Batch) error { return Permanent(fenced) })
	if want := fmt.Sprintf("stream: %s/0: handle batch [0, 1): epoch fenced", cfg.Topic); !errors.Is(err, fenced) || err.Error() != want {
		t.Fatalf("ConsumePartition with a permanent error = %v; want %q", err, want)
	}
	err = ConsumePartition(ctx, cfg, 5, 0, func(context.Context, Batch) error { return nil })
	if want := fmt.Sprintf("stream: no such partition: %s/5 (topic has 1)", cfg.Topic); !errors.Is(err, ErrNoPartition) || err.Error() != want {
		t.Fatalf("ConsumePartition of partition 5 = %v; want %q", err, want)
	}
	if ctx.Err() != nil {
		t.Fatal("fatal errors took the whole 30s")
	}
}

// TestIntegration_SendUnknownTopic: Send to a topic that does not exist
// (auto-creation is off) fails within SendTimeout, with ErrSendFailed
// wrapping Kafka's UNKNOWN_TOPIC_OR_PARTITION.
func TestIntegration_SendUnknownTopic(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Brokers = testenv.KafkaBrokers(t)
	cfg.Topic = testenv.KafkaTopicPrefix(t) + "nope"
	cfg.SendTimeout = 3 * time.Second
	p := newTestProducer(t, cfg)
	start := time.Now()
	err := p.Send(context.Background(), 1, "n", "t", testQuotes(2, "SPY"))
	elapsed := time.Since(start)
	t.Logf("send to a missing topic: %v after %v", err, elapsed)
	if !errors.Is(err, ErrSendFailed) || !errors.Is(err, sarama.ErrUnknownTopicOrPartition) || elapsed > cfg.SendTimeout+time.Second {
		t.Fatalf("send to a missing topic = %v after %v; want an error within %v", err, elapsed, cfg.SendTimeout)
	}
}

// TestIntegration_DLQUnavailable: while the DLQ topic cannot be written
// (here: it does not exist yet), the batch holding a bad message is not
// handed on; once the topic exists, it is, with nothing skipped. (Takes
// ~10s: after 3 failures sarama's per-topic circuit breaker stays open 10s.)
func TestIntegration_DLQUnavailable(t *testing.T) {
	cfg := testConfig(t, 1)
	cfg.DLQTopic += ".late" // not created by testConfig's EnsureTopics
	cfg.Logger = zaptest.NewLogger(t)
	cfg.SendTimeout = 2 * time.Second
	writeRaw(t, cfg, &sarama.ProducerMessage{Topic: cfg.Topic, Key: sarama.StringEncoder("SPY"), Value: sarama.StringEncoder("{")})
	p := newTestProducer(t, cfg)
	if err := p.Send(context.Background(), 1, "n", "t", testQuotes(2, "SPY")); err != nil {
		t.Fatal(err)
	}
	c := newCollector(3)
	startConsumer(t, cfg, 0, 0, c.handle)
	time.Sleep(time.Second) // failed DLQ writes
	c.mu.Lock()
	n := len(c.batches)
	c.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d batches handed on while the DLQ was missing; want 0", n)
	}
	admin, err := sarama.NewClusterAdmin(cfg.Brokers, testenv.KafkaConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.CreateTopic(cfg.DLQTopic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatal(err)
	}
	bs := c.wait(t, 30*time.Second)
	var offs []int64
	for _, b := range bs {
		for _, m := range b.Quotes {
			offs = append(offs, m.Offset)
		}
	}
	if bs[0].From != 0 || len(bs[0].DeadLetters) != 1 || bs[0].DeadLetters[0].Offset != 0 || !slices.Equal(offs, []int64{1, 2}) {
		t.Fatalf("batches after the DLQ appeared: first [%d, %d) dead %+v, quote offsets %v; want dead letter 0, quotes [1 2]",
			bs[0].From, bs[0].Next, bs[0].DeadLetters, offs)
	}
}

// TestIntegration_GroupCommit on the real broker, BatchWait 0: lone quotes
// reach the handler alone and soon (median of 5 well under the old 200ms
// linger); a burst sent while the handler is busy arrives in batches of
// more than one quote, none over BatchMax, contiguous; with BatchWait > 0 a
// lone quote is handed on no sooner than BatchWait after it was sent.
func TestIntegration_GroupCommit(t *testing.T) {
	cfg := testConfig(t, 1)
	cfg.BatchMax = 50
	p := newTestProducer(t, cfg)
	ctx := context.Background()
	type call struct {
		b  Batch
		at time.Time
	}
	calls := make(chan call, 1000)
	hold := make(chan chan struct{}, 1) // a channel here: the next call waits for it to close
	startConsumer(t, cfg, 0, 0, func(ctx context.Context, b Batch) error {
		calls <- call{b, time.Now()}
		select {
		case release := <-hold:
			select {
			case <-release:
			case <-ctx.Done():
			}
		default:
		}
		return nil
	})
	next := func(what string) call {
		t.Helper()
		select {
		case c := <-calls:
			return c
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no batch within 30s", what)
		}
		panic("unreachable")
	}

	var lat []time.Duration
	for i := range 6 {
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		if err := p.Send(ctx, 1, "n", "t", testQuotes(1, "SPY")); err != nil {
			t.Fatal(err)
		}
		c := next("lone quote")
		if c.b.From != int64(i) || c.b.Next != int64(i+1) || len(c.b.Quotes) != 1 {
			t.Fatalf("lone quote %d: batch [%d, %d) with %d quotes; want [%d, %d), 1", i, c.b.From, c.b.Next, len(c.b.Quotes), i, i+1)
		}
		if i > 0 { // the first includes the producer's connection
			lat = append(lat, c.at.Sub(start))
		}
	}
	t.Logf("lone quote send->handler: %v", lat)
	slices.Sort(lat)
	if lat[2] > 100*time.Millisecond {
		t.Fatalf("median lone-quote latency %v; want well under 100ms (no linger)", lat[2])
	}

	// A burst while the handler is busy with quote 6.
	release := make(chan struct{})
	hold <- release
	if err := p.Send(ctx, 1, "n", "t", testQuotes(1, "SPY")); err != nil {
		t.Fatal(err)
	}
	if c := next("quote before the burst"); c.b.From != 6 || c.b.Next != 7 {
		t.Fatalf("batch [%d, %d); want [6, 7)", c.b.From, c.b.Next)
	}
	const burst = 120
	if err := p.Send(ctx, 1, "n", "t", testQuotes(burst, "SPY", "QQQ")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the client fetches the burst meanwhile
	close(release)
	var sizes []int
	pos := int64(7)
	for pos < 7+burst {
		c := next("burst")
		n := len(c.b.Quotes)
		if c.b.From != pos || c.b.Next != pos+int64(n) || n < 1 || n > cfg.BatchMax {
			t.Fatalf("burst batch [%d, %d) with %d quotes; want from %d, 1..%d quotes", c.b.From, c.b.Next, n, pos, cfg.BatchMax)
		}
		sizes = append(sizes, n)
		pos = c.b.Next
	}
	t.Logf("burst of %d sent while the handler was busy: batches of %v", burst, sizes)
	if sizes[0] <= 1 {
		t.Fatalf("burst batches %v; want the first with more than one quote", sizes)
	}

	// BatchWait > 0 still lingers.
	lcfg := cfg
	lcfg.BatchWait = 300 * time.Millisecond
	lingered := make(chan time.Time, 10)
	startConsumer(t, lcfg, 0, pos, func(_ context.Context, b Batch) error { lingered <- time.Now(); return nil })
	time.Sleep(500 * time.Millisecond) // the consumer is up and waits
	start := time.Now()
	if err := p.Send(ctx, 1, "n", "t", testQuotes(1, "SPY")); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-lingered:
		if d := at.Sub(start); d < lcfg.BatchWait {
			t.Fatalf("BatchWait %v: lone quote handed on %v after the send started; want at least %v", lcfg.BatchWait, d, lcfg.BatchWait)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("lingering consumer: no batch within 30s")
	}
}

// Issue 15, defect 7: ingest trusted the topic. Well-formed messages with an
// impossible quote (close -3, high < low, a ts in 2999, a bad symbol) or a
// bad epoch header (0, -7, given twice) are dead-lettered with the reason;
// the valid ones around them are handed on.
func TestIntegration_CheckQuoteAtIngest(t *testing.T) {
	cfg := testConfig(t, 1)
	cfg.CheckQuote = func(q quote.Quote) error { return quote.Validate(q, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }
	good := testQuotes(2, "SPY")
	raw := func(q quote.Quote, headers ...string) *sarama.ProducerMessage {
		v, err := json.Marshal(map[string]any{"v": 1, "symbol": q.Symbol, "ts": q.TS.Format(time.RFC3339Nano),
			"open": q.Open, "high": q.High, "low": q.Low, "close": q.Close, "volume": q.Volume, "source": "rogue"})
		if err != nil {
			t.Fatal(err)
		}
		m := &sarama.ProducerMessage{Topic: cfg.Topic, Key: sarama.StringEncoder(q.Symbol), Value: sarama.ByteEncoder(v)}
		for i := 0; i+1 < len(headers); i += 2 {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(headers[i]), Value: []byte(headers[i+1])})
		}
		return m
	}
	mod := func(f func(*quote.Quote)) quote.Quote { q := good[0]; f(&q); return q }
	writeRaw(t, cfg,
		raw(good[0], "epoch", "1"), // 0: valid
		raw(mod(func(q *quote.Quote) { q.Open, q.High, q.Low, q.Close = -3, -3, -3, -3 }), "epoch", "1"),    // 1
		raw(mod(func(q *quote.Quote) { q.High, q.Low = 90, 110 }), "epoch", "1"),                            // 2
		raw(mod(func(q *quote.Quote) { q.TS = time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC) }), "epoch", "1"), // 3
		raw(mod(func(q *quote.Quote) { q.Symbol = "kc/1" }), "epoch", "1"),                                  // 4
		raw(good[1], "epoch", "0"),               // 5
		raw(good[1], "epoch", "-7"),              // 6
		raw(good[1], "epoch", "1", "epoch", "2"), // 7
		raw(good[1], "epoch", "2"),               // 8: valid
	)
	c := newCollector(9)
	stop := startConsumer(t, cfg, 0, 0, c.handle)
	batches := c.wait(t, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("ConsumePartition = %v", err)
	}
	var (
		offsets []int64
		dead    = map[int64]string{}
	)
	for _, b := range batches {
		for _, m := range b.Quotes {
			offsets = append(offsets, m.Offset)
		}
		for _, d := range b.DeadLetters {
			dead[d.Offset] = d.Reason
		}
	}
	if !slices.Equal(offsets, []int64{0, 8}) {
		t.Errorf("handed-on offsets %v; want [0 8]", offsets)
	}
	for off, want := range map[int64]string{1: "non_positive_price", 2: "high_low_inverted", 3: "future_ts", 4: "bad_symbol",
		5: "epoch 0", 6: "epoch -7", 7: "epoch header given twice"} {
		if !strings.Contains(dead[off], want) {
			t.Errorf("offset %d: dead-letter reason %q; want it to contain %q", off, dead[off], want)
		}
	}
}

// Issue 15, defect 2: a value too large to dead-letter (with our headers it
// exceeds the DLQ producer's 1 MiB) stalled its partition for ever. It goes to
// the DLQ truncated, with its original size, and the partition moves on.
func TestIntegration_OversizedDeadLetter(t *testing.T) {
	cfg := testConfig(t, 1)
	// As in the report: the quotes topic takes larger records than the DLQ.
	admin, err := sarama.NewClusterAdmin(cfg.Brokers, testenv.KafkaConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	big2 := "2000000"
	if err := admin.AlterConfig(sarama.TopicResource, cfg.Topic, map[string]*string{"max.message.bytes": &big2}, false); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	big := bytes.Repeat([]byte("x"), 1_048_480)
	sc := testenv.KafkaConfig(t)
	sc.Producer.Return.Successes = true
	sc.Producer.MaxMessageBytes = 2 << 20
	sp, err := sarama.NewSyncProducer(cfg.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	_, _, err = sp.SendMessage(&sarama.ProducerMessage{Topic: cfg.Topic, Key: sarama.StringEncoder("SPY"), Value: sarama.ByteEncoder(big),
		Headers: []sarama.RecordHeader{{Key: []byte("epoch"), Value: []byte("1")}, {Key: []byte("pad"), Value: bytes.Repeat([]byte("h"), 4000)}}})
	if err != nil {
		t.Fatalf("raw send: %v", err)
	}
	p := newTestProducer(t, cfg)
	if err := p.Send(context.Background(), 1, "n", "t", testQuotes(2, "SPY")); err != nil {
		t.Fatal(err)
	}
	c := newCollector(3)
	stop := startConsumer(t, cfg, 0, 0, c.handle)
	batches := c.wait(t, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("ConsumePartition = %v", err)
	}
	var quotes, dead int
	for _, b := range batches {
		quotes += len(b.Quotes)
		dead += len(b.DeadLetters)
	}
	if quotes != 2 || dead != 1 {
		t.Fatalf("%d quotes and %d dead letters handed on; want 2 and 1", quotes, dead)
	}
	client, err := sarama.NewClient(cfg.Brokers, testenv.KafkaConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(cfg.DLQTopic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	select {
	case m := <-pc.Messages():
		hdr := map[string]string{}
		for _, h := range m.Headers {
			hdr[string(h.Key)] = string(h.Value)
		}
		if hdr[HeaderOriginalSize] != "1052492" || hdr[HeaderOriginalOffset] != "0" || hdr["pad"] != "" || len(m.Value) >= len(big) || len(m.Value) < 1_000_000 {
			t.Errorf("dead letter: value %d bytes, headers %v; want a truncated value, original.size 1052492, offset 0, no original headers",
				len(m.Value), hdr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no dead letter in the DLQ topic")
	}
}

// TestIntegration_StopWhileConsuming: ConsumePartition stopped while
// messages keep arriving returns nil, calls the handler no more after it
// returned, and a second consumer from the last batch's Next continues with
// no offset skipped or repeated (what a revoked ingest task hands on).
func TestIntegration_StopWhileConsuming(t *testing.T) {
	cfg := testConfig(t, 1)
	cfg.BatchMax = 8
	p := newTestProducer(t, cfg)
	ctx := context.Background()
	qs := testQuotes(400, "AAPL")
	sendDone := make(chan error, 1)
	go func() {
		for i := 0; i < 40; i++ {
			if err := p.Send(ctx, 1, "node-1", "fetch/AAPL", qs[i*10:(i+1)*10]); err != nil {
				sendDone <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		sendDone <- nil
	}()

	var (
		mu       sync.Mutex
		returned bool
		late     int
		seen     []int64
		next     int64
	)
	record := func(b Batch) {
		for _, m := range b.Quotes {
			seen = append(seen, m.Offset)
		}
		next = b.Next
	}
	first := make(chan struct{})
	var firstOnce sync.Once
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- ConsumePartition(cctx, cfg, 0, 0, func(_ context.Context, b Batch) error {
			mu.Lock()
			defer mu.Unlock()
			if returned {
				late++
			}
			record(b)
			if next >= 100 {
				firstOnce.Do(func() { close(first) })
			}
			return nil
		})
	}()
	select {
	case <-first:
	case <-time.After(30 * time.Second):
		t.Fatal("no 100 messages consumed within 30s")
	}
	cancel()
	err := <-done
	mu.Lock()
	returned = true
	stoppedAt := next
	mu.Unlock()
	if err != nil {
		t.Fatalf("ConsumePartition after cancel: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // sarama's partition consumer winds down meanwhile
	mu.Lock()
	if late != 0 {
		t.Errorf("%d handler calls after ConsumePartition returned", late)
	}
	mu.Unlock()
	if err := <-sendDone; err != nil {
		t.Fatal(err)
	}

	c := newCollector(400)
	stop := startConsumer(t, cfg, 0, stoppedAt, c.handle)
	batches := c.wait(t, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		record(b)
	}
	if len(seen) != 400 {
		t.Fatalf("consumed %d messages across the stop, want 400 (stopped at %d)", len(seen), stoppedAt)
	}
	for i, off := range seen {
		if off != int64(i) {
			t.Fatalf("message %d has offset %d, want %d (stopped at %d)", i, off, i, stoppedAt)
		}
	}
}
