package stream

import (
	"context"
	"fmt"
	"slices"

	"github.com/IBM/sarama"
)

// PartitionOffsets are the ends of one partition of the quotes topic, as the
// partition's leader reports them (Kafka ListOffsets).
type PartitionOffsets struct {
	// Oldest is the offset of the oldest message still held (earliest; the
	// log start offset, which retention moves forward).
	Oldest int64
	// HighWater is the offset the next produced message gets (latest; the
	// high-water mark). HighWater - Oldest messages are held.
	HighWater int64
}

// OffsetReader reads the partitions and their offsets of Config.Topic with
// one long-lived client, for callers that read them repeatedly (stocksys
// status --watch). It joins no consumer group and commits nothing. Safe for
// concurrent use.
type OffsetReader struct {
	cfg    Config
	client sarama.Client
}

// NewOffsetReader returns an OffsetReader for cfg. It does not contact the
// brokers (a down cluster fails each later call, not this one). It fails with
// ErrInvalidConfig, or the sarama error if the client cannot be made. The
// caller must Close it.
func NewOffsetReader(cfg Config) (*OffsetReader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := sarama.NewClient(cfg.Brokers, cfg.saramaConfig())
	if err != nil {
		return nil, fmt.Errorf("stream: connect to %v: %w", cfg.Brokers, err)
	}
	return &OffsetReader{cfg: cfg, client: c}, nil
}

// Partitions returns the partition ids of the topic, sorted, fetching fresh
// metadata. Each request is bounded by the client's network timeouts
// (Config.SendTimeout), not by ctx, which is checked before it.
func (o *OffsetReader) Partitions(ctx context.Context) ([]int32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := o.client.RefreshMetadata(o.cfg.Topic); err != nil {
		return nil, fmt.Errorf("stream: metadata of %s: %w", o.cfg.Topic, err)
	}
	ps, err := o.client.Partitions(o.cfg.Topic)
	if err != nil {
		return nil, fmt.Errorf("stream: partitions of %s: %w", o.cfg.Topic, err)
	}
	ps = slices.Clone(ps)
	slices.Sort(ps)
	return ps, nil
}

// Offsets returns the oldest offset and high-water mark of each of the
// given partitions of the topic, two ListOffsets requests per partition.
// It stops at the first error (an unknown partition, a broker that does not
// answer). Each request is bounded by the client's network timeouts
// (Config.SendTimeout); ctx is checked between requests.
func (o *OffsetReader) Offsets(ctx context.Context, partitions []int32) (map[int32]PartitionOffsets, error) {
	out := make(map[int32]PartitionOffsets, len(partitions))
	for _, p := range partitions {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		oldest, err := o.client.GetOffset(o.cfg.Topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, fmt.Errorf("stream: oldest offset of %s/%d: %w", o.cfg.Topic, p, err)
		}
		hw, err := o.client.GetOffset(o.cfg.Topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("stream: high-water mark of %s/%d: %w", o.cfg.Topic, p, err)
		}
		out[p] = PartitionOffsets{Oldest: oldest, HighWater: hw}
	}
	return out, nil
}

// Pending returns how many records a read_committed consumer at offset from
// of partition still has to read up to the high-water mark (ReadCommitted):
// the exact lag of an ingest task that committed from, which the
// high-water mark alone overstates by one commit marker per Kafka
// transaction (and by aborted records). It reads those records, so it is
// meant for small gaps (status checks a gap of at most a few thousand
// offsets). Bounded by ctx; each request by Config.SendTimeout.
func (o *OffsetReader) Pending(ctx context.Context, partition int32, from int64) (int64, error) {
	n := int64(0)
	_, err := readCommitted(ctx, o.client, o.cfg.Topic, partition, from, func(int64, *sarama.Record) { n++ })
	if err != nil {
		return 0, ctxOr(ctx, err)
	}
	return n, nil
}

// Close closes the client. Later calls fail.
func (o *OffsetReader) Close() error { return o.client.Close() }
