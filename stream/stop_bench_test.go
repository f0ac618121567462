package stream

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/stock-system/stocksys/internal/testenv"
)

// BenchmarkIntegration_ConsumerStop measures how long a partition consumer
// takes to stop once told to, on the real broker, idle (the consumer is in a
// long poll, as an ingest task is between batches when it is revoked):
//
//   - raw_sarama: PartitionConsumer.Close on a consumer from
//     sarama.NewConsumer, with this package's consumer settings;
//   - stream: cancelling ConsumePartition's context, until it returns.
//
// Each trial starts the consumer, lets it settle 300 ms into its long poll,
// and times the stop. Reported: p50_ms and max_ms over 10 trials per
// iteration; run both side by side:
//
//	go test -run '^$' -bench ConsumerStop -benchtime 1x ./stream
func BenchmarkIntegration_ConsumerStop(b *testing.B) {
	const trials = 10
	cfg := DefaultConfig()
	cfg.Brokers = testenv.KafkaBrokers(b)
	prefix := testenv.KafkaTopicPrefix(b) // deletes the topics on cleanup
	cfg.Topic, cfg.DLQTopic = prefix+"quotes", prefix+"quotes.dlq"
	cfg.Partitions = 1
	cfg.ClientID = "stocksys-bench"
	if err := EnsureTopics(context.Background(), cfg); err != nil {
		b.Fatal(err)
	}
	report := func(b *testing.B, d []time.Duration) {
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2])/1e6, "p50_ms")
		b.ReportMetric(float64(d[len(d)-1])/1e6, "max_ms")
	}
	b.Run("raw_sarama", func(b *testing.B) {
		var d []time.Duration
		for range b.N {
			for range trials {
				c, err := sarama.NewConsumer(cfg.Brokers, cfg.consumerConfig())
				if err != nil {
					b.Fatal(err)
				}
				pc, err := c.ConsumePartition(cfg.Topic, 0, sarama.OffsetOldest)
				if err != nil {
					b.Fatal(err)
				}
				time.Sleep(300 * time.Millisecond)
				t0 := time.Now()
				_ = pc.Close()
				d = append(d, time.Since(t0))
				_ = c.Close()
			}
		}
		report(b, d)
	})
	b.Run("stream", func(b *testing.B) {
		var d []time.Duration
		for range b.N {
			for range trials {
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() {
					done <- ConsumePartition(ctx, cfg, 0, 0, func(context.Context, Batch) error { return nil })
				}()
				time.Sleep(300 * time.Millisecond)
				t0 := time.Now()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(t0))
			}
		}
		report(b, d)
	})
}
