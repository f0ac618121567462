package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
)

// withAdmin runs fn with a cluster admin client, closing the client when fn
// returns or, to interrupt fn, when ctx is done. It waits for fn either way.
func withAdmin(ctx context.Context, cfg Config, fn func(sarama.ClusterAdmin) error) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sc := cfg.saramaConfig()
	sc.Admin.Timeout = cfg.SendTimeout
	sc.Metadata.Full = true // the admin client needs the cluster's metadata (controller)
	admin, err := sarama.NewClusterAdmin(cfg.Brokers, sc)
	if err != nil {
		return fmt.Errorf("stream: connect to %v: %w", cfg.Brokers, err)
	}
	done := make(chan error, 1)
	go func() { done <- fn(admin) }()
	select {
	case err = <-done:
		_ = admin.Close()
	case <-ctx.Done():
		_ = admin.Close() // fails the requests in flight
		<-done
		err = ctx.Err()
	}
	return err
}

// EnsureTopics creates cfg.Topic and cfg.DLQTopic with cfg.Partitions
// partitions and cfg.ReplicationFactor replicas if they do not exist, and
// waits (polling every 100ms) until the brokers' metadata shows every
// partition of both with a leader, so that producers can start at once. An
// existing quotes topic with another partition count is reported with
// ErrPartitionCount and left unchanged (repartitioning moves symbols between
// partitions, which is an operator's decision); the DLQ topic's count is not
// checked. Concurrent calls from several nodes are safe (one creates, the
// others find the topic). It blocks until done or ctx is done (ctx.Err()).
func EnsureTopics(ctx context.Context, cfg Config) error {
	return withAdmin(ctx, cfg, func(admin sarama.ClusterAdmin) error {
		for _, topic := range []string{cfg.Topic, cfg.DLQTopic} {
			n, err := partitionCount(admin, topic)
			if errors.Is(err, ErrNoTopic) {
				err = admin.CreateTopic(topic, &sarama.TopicDetail{
					NumPartitions:     cfg.Partitions,
					ReplicationFactor: cfg.ReplicationFactor,
					ConfigEntries:     topicConfig(cfg),
				}, false)
				if errors.Is(err, sarama.ErrTopicAlreadyExists) {
					err = nil // created by someone else meanwhile
				}
				if err != nil {
					return fmt.Errorf("stream: create topic %s: %w", topic, err)
				}
				cfg.logger().Info("stream: created topic", zap.String("topic", topic),
					zap.Int32("partitions", cfg.Partitions), zap.Int16("replication", cfg.ReplicationFactor))
				n, err = waitForLeaders(ctx, admin, topic)
			}
			if err != nil {
				return err
			}
			if topic == cfg.Topic && n != cfg.Partitions {
				return fmt.Errorf("%w: %s has %d partitions, config says %d", ErrPartitionCount, topic, n, cfg.Partitions)
			}
		}
		return nil
	})
}

// topicConfig is the topic-level configuration EnsureTopics and
// EnsureCheckpointTopic create topics with: with 3 or more replicas,
// min.insync.replicas=2, so that an acks=all write survives the loss of one
// broker and is refused, not acknowledged by one replica alone, after the
// loss of two (the usual production setting); with fewer, the brokers'
// default (1 unless configured).
func topicConfig(cfg Config) map[string]*string {
	if cfg.ReplicationFactor < 3 {
		return nil
	}
	two := "2"
	return map[string]*string{"min.insync.replicas": &two}
}

// describeTopic returns topic's metadata, or ErrNoTopic.
func describeTopic(admin sarama.ClusterAdmin, topic string) (*sarama.TopicMetadata, error) {
	md, err := admin.DescribeTopics([]string{topic})
	if err != nil {
		return nil, fmt.Errorf("stream: describe topic %s: %w", topic, err)
	}
	if len(md) != 1 {
		return nil, fmt.Errorf("stream: describe topic %s: %d results", topic, len(md))
	}
	switch {
	case errors.Is(md[0].Err, sarama.ErrUnknownTopicOrPartition):
		return nil, fmt.Errorf("%w: %s", ErrNoTopic, topic)
	case md[0].Err != sarama.ErrNoError:
		return nil, fmt.Errorf("stream: describe topic %s: %w", topic, md[0].Err)
	}
	return md[0], nil
}

// partitionCount returns the number of partitions of topic, or ErrNoTopic.
func partitionCount(admin sarama.ClusterAdmin, topic string) (int32, error) {
	md, err := describeTopic(admin, topic)
	if err != nil {
		return 0, err
	}
	return int32(len(md.Partitions)), nil
}

// waitForLeaders polls topic's metadata until it exists and every partition
// has a leader.
func waitForLeaders(ctx context.Context, admin sarama.ClusterAdmin, topic string) (int32, error) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		md, err := admin.DescribeTopics([]string{topic})
		if err == nil && len(md) == 1 && md[0].Err == sarama.ErrNoError && len(md[0].Partitions) > 0 &&
			!slices.ContainsFunc(md[0].Partitions, func(p *sarama.PartitionMetadata) bool { return p.Leader < 0 }) {
			return int32(len(md[0].Partitions)), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}

// Partitions returns the partition ids of cfg.Topic in ascending order (the
// master plans one ingest task per partition). It returns ErrNoTopic when
// the topic does not exist. It blocks until the brokers answer (bounded by
// cfg.SendTimeout per request) or ctx is done.
func Partitions(ctx context.Context, cfg Config) ([]int32, error) {
	var ids []int32
	err := withAdmin(ctx, cfg, func(admin sarama.ClusterAdmin) error {
		md, err := describeTopic(admin, cfg.Topic)
		if err != nil {
			return err
		}
		for _, p := range md.Partitions {
			ids = append(ids, p.ID)
		}
		slices.Sort(ids)
		return nil
	})
	return ids, err
}
