package datapathbench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/stream"
)

// kafkaConfig is sarama's config for the benchmark's own clients: Kafka 4's
// protocol (stream.DefaultConfig's), a client id of its own.
func kafkaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = stream.DefaultConfig().Version
	c.ClientID = "stocksys-bench"
	return c
}

// createTopic creates a topic of partitions partitions (replication 1) and
// waits until each has a leader.
func createTopic(ctx context.Context, brokers []string, topic string, partitions int32) error {
	admin, err := sarama.NewClusterAdmin(brokers, kafkaConfig())
	if err != nil {
		return fmt.Errorf("kafka %v: %w", brokers, err)
	}
	defer admin.Close()
	err = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	for {
		md, err := admin.DescribeTopics([]string{topic})
		if err == nil && len(md) == 1 && md[0].Err == sarama.ErrNoError && len(md[0].Partitions) == int(partitions) {
			ok := true
			for _, p := range md[0].Partitions {
				ok = ok && p.Err == sarama.ErrNoError && p.Leader >= 0
			}
			if ok {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s: no leaders: %w", topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// deleteTopics deletes the topics that exist among names.
func deleteTopics(brokers []string, names ...string) error {
	admin, err := sarama.NewClusterAdmin(brokers, kafkaConfig())
	if err != nil {
		return fmt.Errorf("kafka %v: %w", brokers, err)
	}
	defer admin.Close()
	var errs []error
	for _, n := range names {
		if err := admin.DeleteTopic(n); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("delete topic %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// KafkaFloor measures raw sarama produce->consume latency on topic (one
// partition, made by the caller): a SyncProducer configured as
// stream.Producer (idempotent, acks=all, one request in flight, no linger)
// sends one message (the canonical encoding of q, key = its symbol, an
// epoch header) at rate per second for d, and a raw sarama partition
// consumer reads them; each latency is from just before the send to the
// consumer's receipt (one clock). A first message, unmeasured, warms up.
func KafkaFloor(ctx context.Context, brokers []string, topic string, q quote.Quote, rate int, d time.Duration) (LatencyResult, error) {
	return kafkaFloor(ctx, brokers, topic, q, rate, d, nil, nil)
}

// kafkaFloor is KafkaFloor, for a probe beside a load too: once its clients
// are up and the warm-up message is back it calls ready (if not nil), then
// waits until begin is closed (nil: at once) to start the paced sends.
func kafkaFloor(ctx context.Context, brokers []string, topic string, q quote.Quote, rate int, d time.Duration,
	ready func(), begin <-chan struct{}) (LatencyResult, error) {
	pc := kafkaConfig()
	pc.Producer.Idempotent = true
	pc.Producer.RequiredAcks = sarama.WaitForAll
	pc.Net.MaxOpenRequests = 1
	pc.Producer.Return.Successes = true
	pc.Producer.Flush.Frequency, pc.Producer.Flush.Bytes, pc.Producer.Flush.Messages = 0, 0, 0
	prod, err := sarama.NewSyncProducer(brokers, pc)
	if err != nil {
		return LatencyResult{}, fmt.Errorf("kafka floor: producer: %w", err)
	}
	defer prod.Close()
	cons, err := sarama.NewConsumer(brokers, kafkaConfig())
	if err != nil {
		return LatencyResult{}, fmt.Errorf("kafka floor: consumer: %w", err)
	}
	defer cons.Close()
	part, err := cons.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		return LatencyResult{}, fmt.Errorf("kafka floor: consume %s: %w", topic, err)
	}
	defer part.Close()
	val, err := stream.Encode(q)
	if err != nil {
		return LatencyResult{}, err
	}
	n := int(d.Seconds() * float64(rate))
	var (
		mu     sync.Mutex
		sentAt = make([]time.Time, n+1)
		lat    = make([]time.Duration, 0, n)
		got    = make(chan int, n+1)
	)
	go func() {
		for m := range part.Messages() {
			now := time.Now()
			i := -1
			for _, h := range m.Headers {
				if string(h.Key) == "bench-seq" {
					i, _ = strconv.Atoi(string(h.Value))
				}
			}
			if i < 0 || i > n {
				continue
			}
			mu.Lock()
			if i > 0 {
				lat = append(lat, now.Sub(sentAt[i]))
			}
			mu.Unlock()
			got <- i
		}
	}()
	send := func(i int) error {
		mu.Lock()
		sentAt[i] = time.Now()
		mu.Unlock()
		_, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(q.Symbol), Value: sarama.ByteEncoder(val),
			Headers: []sarama.RecordHeader{{Key: []byte(stream.HeaderEpoch), Value: []byte("1")}, {Key: []byte("bench-seq"), Value: []byte(strconv.Itoa(i))}}})
		return err
	}
	if err := send(0); err != nil {
		return LatencyResult{}, fmt.Errorf("kafka floor: warm-up send: %w", err)
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		return LatencyResult{}, errors.New("kafka floor: warm-up message not consumed within 30 s")
	case <-ctx.Done():
		return LatencyResult{}, ctx.Err()
	}
	if err := await(ctx, ready, begin); err != nil {
		return LatencyResult{}, err
	}
	if _, err := paced(ctx, rate, d, func(i int) (time.Duration, error) { return 0, send(i + 1) }); err != nil {
		return LatencyResult{}, fmt.Errorf("kafka floor: %w", err)
	}
	deadline := time.After(10 * time.Second)
	for seen := 0; seen < n; {
		select {
		case <-got:
			seen++
		case <-deadline:
			mu.Lock()
			defer mu.Unlock()
			return latencyResult(rate, lat), fmt.Errorf("kafka floor: %d of %d messages consumed within 10 s of the last send", seen, n)
		case <-ctx.Done():
			return LatencyResult{}, ctx.Err()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return latencyResult(rate, slices.Clone(lat)), nil
}
