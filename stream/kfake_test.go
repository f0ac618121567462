package stream

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSendBoundedBrokerStopsAnswering: after a successful Send, the broker
// (kfake, in-process) stops answering produce requests, as a paused
// (SIGSTOP) broker would. Send returns ErrSendTimeout within SendTimeout;
// once the broker answers again, Send succeeds and Close flushes.
func TestSendBoundedBrokerStopsAnswering(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "quotes"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := DefaultConfig()
	cfg.Brokers = c.ListenAddrs()
	cfg.SendTimeout = 1500 * time.Millisecond
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	if err := p.Send(ctx, 1, "n", "t", testQuotes(4, "SPY", "QQQ")); err != nil {
		t.Fatalf("first send: %v", err)
	}

	release := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		select {
		case <-release:
			c.DropControl()
		default:
			c.SleepControl(func() { <-release })
		}
		return nil, nil, false // then handle the request normally
	})
	start := time.Now()
	err = p.Send(ctx, 1, "n", "t", testQuotes(4, "SPY", "QQQ"))
	elapsed := time.Since(start)
	if !errors.Is(err, ErrSendTimeout) || elapsed > cfg.SendTimeout+time.Second {
		t.Fatalf("send to a silent broker = %v after %v; want ErrSendTimeout within %v", err, elapsed, cfg.SendTimeout)
	}
	close(release)
	if err := p.Send(ctx, 1, "n", "t", testQuotes(4, "SPY", "QQQ")); err != nil {
		t.Fatalf("send after the broker recovered: %v", err)
	}
	start = time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("close took %v", time.Since(start))
}

// produced records what a kfake broker received in produce requests to a
// topic: records per request, and each partition's record-batch bytes.
type produced struct {
	mu       sync.Mutex
	requests []int // records per request
	maxBytes int   // largest partition record batch
	total    int   // bytes of every record batch
}

// watchProduce makes c report every produce request to topic in p.
func watchProduce(c *kfake.Cluster, topic string) *produced {
	p := &produced{}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		n := 0
		for _, t := range req.(*kmsg.ProduceRequest).Topics {
			if t.Topic != topic {
				continue
			}
			for _, part := range t.Partitions {
				var rb kmsg.RecordBatch
				if err := rb.ReadFrom(part.Records); err == nil {
					n += int(rb.NumRecords)
				}
				p.mu.Lock()
				p.maxBytes = max(p.maxBytes, len(part.Records))
				p.total += len(part.Records)
				p.mu.Unlock()
			}
		}
		if n > 0 {
			p.mu.Lock()
			p.requests = append(p.requests, n)
			p.mu.Unlock()
		}
		return nil, nil, false // then handle the request normally
	})
	return p
}

// TestSendFewRequests: with no linger, a lone quote is sent alone at once,
// and a Send of 5,000 quotes to one partition is not sent quote by quote:
// each request carries what accumulated while the previous one was in
// flight (self-clocking; 5-35 requests here, depending on how fast sarama's
// goroutines take the quotes in versus the round trip), none over
// producerMaxRequestBytes.
func TestSendFewRequests(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "quotes"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := DefaultConfig()
	cfg.Brokers = c.ListenAddrs()
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	if err := p.Send(ctx, 1, "n", "t", testQuotes(1, "SPY")); err != nil { // connects
		t.Fatal(err)
	}
	seen := watchProduce(c, "quotes")
	start := time.Now()
	if err := p.Send(ctx, 1, "n", "t", testQuotes(1, "SPY")); err != nil {
		t.Fatal(err)
	}
	lone := time.Since(start)
	seen.mu.Lock()
	if !slices.Equal(seen.requests, []int{1}) {
		t.Fatalf("a lone quote went in requests of %v records; want [1]", seen.requests)
	}
	seen.requests, seen.total = nil, 0
	seen.mu.Unlock()

	const n = 5000
	start = time.Now()
	if err := p.Send(ctx, 1, "n", "t", testQuotes(n, "SPY", "QQQ", "MSFT")); err != nil {
		t.Fatal(err)
	}
	big := time.Since(start)
	seen.mu.Lock()
	defer seen.mu.Unlock()
	sum := 0
	for _, r := range seen.requests {
		sum += r
	}
	t.Logf("lone quote: %v; %d quotes (%d bytes): %v in %d requests of %v records, largest batch %d bytes",
		lone, n, seen.total, big, len(seen.requests), seen.requests, seen.maxBytes)
	// At least 10 quotes per request on average: a bound far from the 5-35
	// requests seen, and far from one request per quote.
	if sum != n || len(seen.requests) > n/10 || seen.maxBytes > producerMaxRequestBytes {
		t.Fatalf("%d quotes in %d requests of %v records, largest batch %d bytes; want %d quotes in at most %d requests of at most %d bytes",
			sum, len(seen.requests), seen.requests, seen.maxBytes, n, n/10, producerMaxRequestBytes)
	}
}

// TestConsumeLoneMessageKfake: through ConsumePartition and a broker
// (kfake, in-process), each lone quote reaches the handler alone, soon
// after it is sent: the median of 5 rounds is well under the old 200ms
// linger (a generous bound: the round trip takes about a millisecond).
func TestConsumeLoneMessageKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "quotes", "quotes.dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := DefaultConfig()
	cfg.Brokers = c.ListenAddrs()
	cfg.SendTimeout = 5 * time.Second
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	got := make(chan Batch, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ConsumePartition(ctx, cfg, 0, 0, func(_ context.Context, b Batch) error { got <- b; return nil })
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ConsumePartition = %v", err)
		}
	}()
	if err := p.Send(ctx, 1, "n", "t", testQuotes(1, "SPY")); err != nil { // connects
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("first quote not consumed within 20s")
	}
	var lat []time.Duration
	for i := range 5 {
		time.Sleep(300 * time.Millisecond) // the consumer waits in an idle fetch
		start := time.Now()
		if err := p.Send(ctx, 1, "n", "t", testQuotes(1, "SPY")); err != nil {
			t.Fatal(err)
		}
		select {
		case b := <-got:
			lat = append(lat, time.Since(start))
			if b.From != int64(i+1) || b.Next != int64(i+2) || len(b.Quotes) != 1 {
				t.Fatalf("round %d: batch [%d, %d) with %d quotes; want [%d, %d), 1", i, b.From, b.Next, len(b.Quotes), i+1, i+2)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: quote not consumed within 20s", i)
		}
	}
	t.Logf("send->handler latencies %v", lat)
	slices.Sort(lat)
	if lat[2] > 100*time.Millisecond {
		t.Fatalf("median send->handler latency %v; want well under 100ms (no linger)", lat[2])
	}
}
