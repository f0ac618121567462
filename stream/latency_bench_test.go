package stream

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/stock-system/stocksys/internal/testenv"
)

// BenchmarkIntegration_Latency measures produce->consume latency on the real
// broker at a paced 100 messages/s, one message per send, to show this
// package's overhead over raw sarama at low load (where a linger would show
// in full). Each sub-benchmark uses its own one-partition topic, created and
// deleted by the benchmark:
//
//   - raw_sarama: a sarama SyncProducer (idempotent, acks=all, one request in
//     flight, as Producer) and a sarama PartitionConsumer with sarama's
//     defaults, reading Messages();
//   - stream: Producer.Send of one quote and ConsumePartition with
//     DefaultConfig (BatchWait 0), timed when the handler gets the batch;
//   - stream_batchwait_200ms: the same with the former fixed 200ms linger.
//
// Latency is from just before the send to the consumer handing the message
// on (the same clock: one process). Reported: p50_ms, p99_ms, max_ms, and
// the mean batch size for ConsumePartition. Run:
//
//	go test -run '^$' -bench Latency -benchtime 1x ./stream
func BenchmarkIntegration_Latency(b *testing.B) {
	const (
		rate = 100 // messages/s
		n    = 1000
	)
	b.Run("raw_sarama", func(b *testing.B) {
		for range b.N {
			benchLatency(b, rate, n, rawSaramaPath)
		}
	})
	b.Run("stream", func(b *testing.B) {
		for range b.N {
			benchLatency(b, rate, n, streamPath(0))
		}
	})
	b.Run("stream_batchwait_200ms", func(b *testing.B) {
		for range b.N {
			benchLatency(b, rate, n, streamPath(200*time.Millisecond))
		}
	})
}

// A latencyPath sends message i (offset i) with send, and calls got with the
// offsets it consumed, as it hands them on; stop releases everything.
type latencyPath func(b *testing.B, cfg Config, got func(offsets []int64)) (send func(i int) error, stop func())

func rawSaramaPath(b *testing.B, cfg Config, got func([]int64)) (func(int) error, func()) {
	sc := testenv.KafkaConfig(b)
	sc.Producer.Idempotent = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Net.MaxOpenRequests = 1
	sc.Producer.Return.Successes = true
	sp, err := sarama.NewSyncProducer(cfg.Brokers, sc)
	if err != nil {
		b.Fatal(err)
	}
	cons, err := sarama.NewConsumer(cfg.Brokers, testenv.KafkaConfig(b))
	if err != nil {
		b.Fatal(err)
	}
	pc, err := cons.ConsumePartition(cfg.Topic, 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range pc.Messages() {
			got([]int64{m.Offset})
		}
	}()
	q := testQuotes(1, "SPY")[0]
	send := func(int) error {
		v, err := Encode(q)
		if err != nil {
			return err
		}
		_, _, err = sp.SendMessage(&sarama.ProducerMessage{Topic: cfg.Topic, Key: sarama.StringEncoder(q.Symbol), Value: sarama.ByteEncoder(v),
			Headers: []sarama.RecordHeader{{Key: []byte(HeaderEpoch), Value: []byte("1")}}})
		return err
	}
	return send, func() {
		_ = sp.Close()
		_ = pc.Close()
		<-done
		_ = cons.Close()
	}
}

func streamPath(batchWait time.Duration) latencyPath {
	return func(b *testing.B, cfg Config, got func([]int64)) (func(int) error, func()) {
		cfg.BatchWait = batchWait
		p, err := NewProducer(cfg)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- ConsumePartition(ctx, cfg, 0, 0, func(_ context.Context, bt Batch) error {
				offs := make([]int64, len(bt.Quotes))
				for i, m := range bt.Quotes {
					offs[i] = m.Offset
				}
				got(offs)
				return nil
			})
		}()
		qs := testQuotes(1, "SPY")
		send := func(int) error { return p.Send(ctx, 1, "bench", "fetch/SPY", qs) }
		return send, func() {
			_ = p.Close()
			cancel()
			if err := <-done; err != nil {
				b.Error(err)
			}
		}
	}
}

// benchLatency sends n+1 messages at rate per second on a fresh topic (the
// first, unmeasured, warms up connections) and reports the latencies.
func benchLatency(b *testing.B, rate, n int, path latencyPath) {
	cfg := DefaultConfig()
	cfg.Brokers = testenv.KafkaBrokers(b)
	prefix := testenv.KafkaTopicPrefix(b) // deletes the topics on cleanup
	cfg.Topic, cfg.DLQTopic = prefix+"quotes", prefix+"quotes.dlq"
	cfg.Partitions = 1
	cfg.ClientID = "stocksys-bench"
	if err := EnsureTopics(context.Background(), cfg); err != nil {
		b.Fatal(err)
	}
	var (
		mu      sync.Mutex
		sentAt  = make([]time.Time, n+1)
		lat     = make([]time.Duration, 0, n)
		batches int
		seen    int
		all     = make(chan struct{})
		first   = make(chan struct{})
	)
	got := func(offs []int64) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if len(offs) == 0 {
			return
		}
		batches++
		for _, o := range offs {
			switch {
			case o == 0:
				close(first)
			case o <= int64(n):
				lat = append(lat, now.Sub(sentAt[o]))
			}
			seen++
		}
		if seen == n+1 {
			close(all)
		}
	}
	send, stop := path(b, cfg, got)
	defer stop()
	if err := send(0); err != nil {
		b.Fatal(err)
	}
	select {
	case <-first:
	case <-time.After(30 * time.Second):
		b.Fatal("warm-up message not consumed within 30s")
	}
	mu.Lock()
	batches = 0
	mu.Unlock()

	b.ResetTimer()
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := 1; i <= n; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i-1) * interval)))
		mu.Lock()
		sentAt[i] = time.Now()
		mu.Unlock()
		if err := send(i); err != nil {
			b.Fatalf("send %d: %v", i, err)
		}
	}
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		b.Fatalf("not every message consumed within 30s")
	}
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(math.Ceil(q*float64(len(lat))))-1)] }
	b.ReportMetric(ms(p(0.50)), "p50_ms")
	b.ReportMetric(ms(p(0.99)), "p99_ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max_ms")
	b.ReportMetric(float64(n)/float64(batches), "msgs/batch")
	b.ReportMetric(0, "ns/op") // one paced run per op: ns/op means nothing here
	b.Logf("%d messages at %d/s in %d deliveries: p50 %v, p99 %v, max %v",
		n, rate, batches, p(0.50), p(0.99), lat[len(lat)-1])
}
