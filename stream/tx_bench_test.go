package stream

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
)

// BenchmarkTxProducer compares, in the same run on the real broker, the
// transactional producer (TxProducer.Send: k quotes and the task's
// checkpoint in one transaction) with the current non-transactional one
// (Producer.Send of the same k quotes; its checkpoint goes to Cassandra,
// not measured here), for k = 1, 10 and 100 quotes per send. Each
// measurement has its own one-partition topic (and checkpoint topic),
// created and deleted by the benchmark.
//
//   - throughput: txBenchSends(k) sends back to back, one at a time as a
//     fetch task does; quotes/s from the first send to the last return.
//   - latency: quotes paced at txBenchRate quotes/s (one send of k quotes
//     every k/txBenchRate s) for txBenchPaced quotes, consumed by
//     ConsumePartition with DefaultConfig (read_committed, no linger);
//     from a send's scheduled time (so that a producer falling behind shows
//     as latency) to the consumer handing its quote on. p50 and p99.
//
// Reported per k: tx_qps, plain_qps, qps_ratio (tx/plain), and tx_p50_ms,
// plain_p50_ms, p50_ratio, tx_p99_ms, plain_p99_ms, p99_ratio. Run:
//
//	go test -run '^$' -bench TxProducer -benchtime 1x ./stream/
func BenchmarkTxProducer(b *testing.B) {
	for _, k := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			for range b.N {
				benchTx(b, k)
			}
		})
	}
}

const (
	txBenchRate  = 100  // quotes/s in the latency phase
	txBenchPaced = 1000 // quotes in the latency phase
)

// txBenchSends is the number of sends of the throughput phase.
func txBenchSends(k int) int {
	return max(200, 10000/k)
}

// benchSender sends qs, the quotes of one fetch step.
type benchSender func(ctx context.Context, qs []quote.Quote) error

func benchTx(b *testing.B, k int) {
	prefix := testenv.KafkaTopicPrefix(b)
	cluster := fmt.Sprintf("bench%d", time.Now().UnixNano())
	ctx := context.Background()
	type result struct {
		qps      float64
		p50, p99 time.Duration
	}
	var res [2]result // plain, tx
	for round, tx := range []bool{false, true} {
		for phase := range 2 {
			cfg := DefaultConfig()
			cfg.Brokers = testenv.KafkaBrokers(b)
			name := fmt.Sprintf("%s%v.%d.", prefix, tx, phase)
			cfg.Topic, cfg.DLQTopic = name+"quotes", name+"quotes.dlq"
			cfg.Partitions = 1
			cfg.ClientID = "stocksys-bench"
			if err := EnsureTopics(ctx, cfg); err != nil {
				b.Fatal(err)
			}
			send, closeSender := benchNewSender(b, cfg, tx, cluster)
			if phase == 0 {
				res[round].qps = benchThroughput(b, send, k)
			} else {
				res[round].p50, res[round].p99 = benchPacedLatency(b, cfg, send, k)
			}
			closeSender()
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	plain, tx := res[0], res[1]
	b.ReportMetric(tx.qps, "tx_qps")
	b.ReportMetric(plain.qps, "plain_qps")
	b.ReportMetric(tx.qps/plain.qps, "qps_ratio")
	b.ReportMetric(ms(tx.p50), "tx_p50_ms")
	b.ReportMetric(ms(plain.p50), "plain_p50_ms")
	b.ReportMetric(ms(tx.p50)/ms(plain.p50), "p50_ratio")
	b.ReportMetric(ms(tx.p99), "tx_p99_ms")
	b.ReportMetric(ms(plain.p99), "plain_p99_ms")
	b.ReportMetric(ms(tx.p99)/ms(plain.p99), "p99_ratio")
	b.ReportMetric(0, "ns/op") // one measured run per op: ns/op means nothing here
	b.Logf("k=%d: throughput tx %.0f quotes/s, plain %.0f (ratio %.2f); latency at %d quotes/s: p50 tx %v plain %v (%.2fx), p99 tx %v plain %v (%.2fx)",
		k, tx.qps, plain.qps, tx.qps/plain.qps, txBenchRate, tx.p50, plain.p50, ms(tx.p50)/ms(plain.p50),
		tx.p99, plain.p99, ms(tx.p99)/ms(plain.p99))
}

// benchNewSender returns the TxProducer (tx) or Producer send of one fetch
// step, and its Close.
func benchNewSender(b *testing.B, cfg Config, tx bool, cluster string) (benchSender, func()) {
	ctx := context.Background()
	if tx {
		p, err := NewTxProducer(ctx, cfg, cluster, "fetch/SPY")
		if err != nil {
			b.Fatal(err)
		}
		return func(ctx context.Context, qs []quote.Quote) error {
			return p.Send(ctx, 1, "bench", qs, qs[len(qs)-1].Position())
		}, func() { _ = p.Close() }
	}
	p, err := NewProducer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return func(ctx context.Context, qs []quote.Quote) error {
		return p.Send(ctx, 1, "bench", "fetch/SPY", qs)
	}, func() { _ = p.Close() }
}

// benchThroughput sends txBenchSends(k) sends of k quotes back to back,
// after one unmeasured warm-up send, and returns quotes/s.
func benchThroughput(b *testing.B, send benchSender, k int) float64 {
	n := txBenchSends(k)
	qs := testQuotes((n+1)*k, "SPY")
	ctx := context.Background()
	if err := send(ctx, qs[:k]); err != nil {
		b.Fatalf("warm-up send: %v", err)
	}
	start := time.Now()
	for i := 1; i <= n; i++ {
		if err := send(ctx, qs[i*k:(i+1)*k]); err != nil {
			b.Fatalf("send %d: %v", i, err)
		}
	}
	return float64(n*k) / time.Since(start).Seconds()
}

// benchPacedLatency sends txBenchPaced quotes in sends of k at txBenchRate
// quotes/s and returns the p50 and p99 of the latency from each send's
// scheduled time to the consumer handing its quotes on.
func benchPacedLatency(b *testing.B, cfg Config, send benchSender, k int) (p50, p99 time.Duration) {
	sends := txBenchPaced / k
	qs := testQuotes((sends+1)*k, "SPY") // quote i has TS base + i minutes
	base := qs[0].TS
	var (
		mu     sync.Mutex
		due    = make([]time.Time, len(qs)) // scheduled send time of quote i
		lat    []time.Duration
		seen   int
		warmed = make(chan struct{})
		all    = make(chan struct{})
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ConsumePartition(ctx, cfg, 0, 0, func(_ context.Context, bt Batch) error {
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			for _, m := range bt.Quotes {
				i := int(m.Quote.TS.Sub(base) / time.Minute)
				switch {
				case i < k:
					if i == k-1 {
						close(warmed)
					}
				default:
					lat = append(lat, now.Sub(due[i]))
				}
				seen++
			}
			if seen == len(qs) {
				close(all)
			}
			return nil
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	if err := send(ctx, qs[:k]); err != nil {
		b.Fatalf("warm-up send: %v", err)
	}
	select {
	case <-warmed:
	case <-time.After(30 * time.Second):
		b.Fatal("warm-up quotes not consumed within 30s")
	}
	interval := time.Duration(k) * time.Second / txBenchRate
	start := time.Now()
	for s := 1; s <= sends; s++ {
		at := start.Add(time.Duration(s-1) * interval)
		mu.Lock()
		for i := s * k; i < (s+1)*k; i++ {
			due[i] = at
		}
		mu.Unlock()
		time.Sleep(time.Until(at))
		if err := send(ctx, qs[s*k:(s+1)*k]); err != nil {
			b.Fatalf("send %d: %v", s, err)
		}
	}
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		b.Fatal("not every quote consumed within 30s")
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	pct := func(q float64) time.Duration { return lat[min(len(lat)-1, int(math.Ceil(q*float64(len(lat))))-1)] }
	return pct(0.50), pct(0.99)
}
