package stream

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
)

// Checkpoint is a fetch task's position in its source, as a TxProducer
// writes it to Config.CheckpointTopicName() in the same transaction as the
// quotes up to it (Kafka Connect's exactly-once source offsets, KIP-618).
type Checkpoint struct {
	// Task is the task id, also the record's key ("fetch/SPY").
	Task string `json:"task"`
	// Position is the source position of the last quote the task has
	// produced or skipped (quote.Quote.Position: TS plus Seq nanoseconds),
	// UTC, with nanosecond precision (Cassandra's checkpoints keep
	// milliseconds).
	Position time.Time `json:"position"`
	// Epoch and Node are the Send's epoch and node, as in the quotes'
	// headers.
	Epoch int64  `json:"epoch"`
	Node  string `json:"node"`
	// Token is the Send's fencing token (Origin.Token); omitted when 0.
	Token int64 `json:"token,omitempty"`
	// Written is the producer's clock when the transaction was sent.
	Written time.Time `json:"written"`
	// Offset is the record's offset in its partition of the checkpoint
	// topic; set by ReadCheckpoint, not encoded.
	Offset int64 `json:"-"`
}

// checkpointVersion is the "v" field of a checkpoint record's value.
const checkpointVersion = 1

// checkpointRecord is the JSON value of a checkpoint record.
type checkpointRecord struct {
	V int `json:"v"`
	Checkpoint
}

func encodeCheckpoint(cp Checkpoint) ([]byte, error) {
	cp.Position, cp.Written = cp.Position.UTC(), cp.Written.UTC()
	return json.Marshal(checkpointRecord{V: checkpointVersion, Checkpoint: cp})
}

func decodeCheckpoint(key, value []byte) (Checkpoint, error) {
	var r checkpointRecord
	d := json.NewDecoder(bytes.NewReader(value))
	if err := d.Decode(&r); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint: %w", ErrMalformed, err)
	}
	switch {
	case r.V != checkpointVersion:
		return Checkpoint{}, fmt.Errorf("%w: checkpoint v=%d", ErrSchemaVersion, r.V)
	case r.Task != string(key):
		return Checkpoint{}, fmt.Errorf("%w: checkpoint of %q under key %q", ErrKeyMismatch, r.Task, key)
	}
	r.Position, r.Written = r.Position.UTC(), r.Written.UTC()
	return r.Checkpoint, nil
}

// EnsureCheckpointTopic creates cfg.CheckpointTopicName() if it does not
// exist, with cleanup.policy=compact (only the newest checkpoint of each
// task is kept), cfg.Partitions partitions and cfg.ReplicationFactor
// replicas, and waits until every partition has a leader. An existing topic
// is left as it is (its partition count is not checked: ReadCheckpoint and
// the producer read it from the brokers). Concurrent calls are safe.
// NewTxProducer calls it. It blocks until done or ctx is done.
func EnsureCheckpointTopic(ctx context.Context, cfg Config) error {
	topic := cfg.CheckpointTopicName()
	return withAdmin(ctx, cfg, func(admin sarama.ClusterAdmin) error {
		_, err := partitionCount(admin, topic)
		if !errors.Is(err, ErrNoTopic) {
			return err
		}
		compact := "compact"
		entries := topicConfig(cfg)
		if entries == nil {
			entries = map[string]*string{}
		}
		entries["cleanup.policy"] = &compact
		err = admin.CreateTopic(topic, &sarama.TopicDetail{
			NumPartitions:     cfg.Partitions,
			ReplicationFactor: cfg.ReplicationFactor,
			ConfigEntries:     entries,
		}, false)
		if errors.Is(err, sarama.ErrTopicAlreadyExists) {
			err = nil
		}
		if err != nil {
			return fmt.Errorf("stream: create topic %s: %w", topic, err)
		}
		cfg.logger().Info("stream: created checkpoint topic", zap.String("topic", topic),
			zap.Int32("partitions", cfg.Partitions), zap.Int16("replication", cfg.ReplicationFactor))
		_, err = waitForLeaders(ctx, admin, topic)
		return err
	})
}

// checkpointFetchBytes is the first partition fetch size of ReadCheckpoint;
// it doubles while a record batch does not fit (brokers answering fetch v3+
// return an oversized first batch whole anyway).
const checkpointFetchBytes = 1 << 20

// ReadCheckpoint returns the newest committed checkpoint of task in
// cfg.CheckpointTopicName(), and whether there is one. It reads the
// partition that holds the task's key (sarama's hash partitioner, as the
// producer's) from its oldest offset up to its high-water mark at the call,
// as a read_committed consumer does: records of aborted transactions are
// skipped, and a transaction still open below that mark (of any task whose
// key shares the partition) is waited for until it is decided, so the result
// is exact as of the call, never an older checkpoint. The wait is normally
// milliseconds (a Send's commit markers being written); a producer hung
// mid-transaction holds it until its new owner's NewTxProducer aborts it or
// the coordinator does, after Config.TxTimeout. A task should therefore call
// it after its own NewTxProducer, whose initialisation also completes the
// transactions of every earlier producer of the task.
//
// A missing topic is no checkpoint (false, nil); a record that does not
// decode is logged and skipped; a tombstone (nil value) deletes the task's
// checkpoint. It joins no consumer group and commits nothing. Each request
// is bounded by cfg.SendTimeout; ctx bounds the whole (ctx.Err(); the client
// is closed when ctx is done). Safe for concurrent use.
func ReadCheckpoint(ctx context.Context, cfg Config, task string) (Checkpoint, bool, error) {
	if err := cfg.Validate(); err != nil {
		return Checkpoint{}, false, err
	}
	topic := cfg.CheckpointTopicName()
	client, err := sarama.NewClient(cfg.Brokers, cfg.saramaConfig())
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("stream: connect to %v: %w", cfg.Brokers, err)
	}
	closeClient := sync.OnceFunc(func() { _ = client.Close() }) // sarama's Close panics when called twice
	defer closeClient()
	stop := context.AfterFunc(ctx, closeClient)
	defer stop()

	parts, err := client.Partitions(topic)
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, ctxOr(ctx, fmt.Errorf("stream: partitions of %s: %w", topic, err))
	}
	partition, err := sarama.NewHashPartitioner(topic).Partition(
		&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(task)}, int32(len(parts)))
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("stream: partition of %q in %s: %w", task, topic, err)
	}
	var (
		last  Checkpoint
		found bool
	)
	_, err = readCommitted(ctx, client, topic, partition, -1, func(offset int64, r *sarama.Record) {
		if string(r.Key) != task {
			return
		}
		if r.Value == nil { // a tombstone: the task's checkpoint was deleted
			last, found = Checkpoint{}, false
			return
		}
		cp, err := decodeCheckpoint(r.Key, r.Value)
		if err != nil {
			cfg.logger().Warn("stream: bad checkpoint record skipped", zap.String("topic", topic),
				zap.Int32("partition", partition), zap.Int64("offset", offset), zap.Error(err))
			return
		}
		cp.Offset = offset
		last, found = cp, true
	})
	if err != nil {
		return Checkpoint{}, false, ctxOr(ctx, err)
	}
	return last, found, nil
}

// ctxOr returns ctx's error if it is done (the client was closed under the
// request), else err.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// readCommitted calls each with every committed data record of
// topic/partition below its high-water mark as read at the start (target),
// in offset order, from offset from (the oldest offset if from is below it
// or negative), and returns target. A read_committed fetch returns
// records below the partition's last stable offset (LSO) only, the first
// offset of the oldest transaction still open on the partition (any task's):
// while the LSO is below target, readCommitted polls (every 10ms to 100ms)
// until the open transactions below target are decided (committed, aborted,
// or aborted by the coordinator after their timeout) or ctx is done. Reading
// only up to the LSO of the start could miss the newest committed record of
// one task behind another task's open transaction, and return an older
// checkpoint.
//
// It uses plain Fetch requests, not sarama's PartitionConsumer, which does
// not tell where a read_committed fetch ended when the last records were
// control or aborted ones. Aborted transactions are filtered as sarama's
// consumer and the Java client do: a transactional batch of a producer with
// an aborted transaction open at that offset (AbortedTransactions, from its
// first offset to its abort marker) is skipped; control batches (commit and
// abort markers) are never data.
func readCommitted(ctx context.Context, client sarama.Client, topic string, partition int32, from int64,
	each func(offset int64, r *sarama.Record)) (int64, error) {
	pos, err := client.GetOffset(topic, partition, sarama.OffsetOldest)
	if err != nil {
		return 0, fmt.Errorf("stream: oldest offset of %s/%d: %w", topic, partition, err)
	}
	pos = max(pos, from)
	target, err := client.GetOffset(topic, partition, sarama.OffsetNewest) // read_uncommitted: the high-water mark
	if err != nil {
		return 0, fmt.Errorf("stream: high-water mark of %s/%d: %w", topic, partition, err)
	}
	size := int32(checkpointFetchBytes)
	wait := 10 * time.Millisecond
	for pos < target {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		block, err := fetchCommitted(client, topic, partition, pos, size)
		if err != nil {
			return 0, err
		}
		next, complete := pos, 0
		aborted := slices.SortedFunc(slices.Values(block.AbortedTransactions), func(a, b *sarama.AbortedTransaction) int {
			return cmp.Compare(a.FirstOffset, b.FirstOffset) // no order is promised (as sarama's getAbortedTransactions)
		})
		open := map[int64]bool{} // producers with an aborted transaction open at this offset
		for _, rs := range block.RecordsSet {
			b := rs.RecordBatch
			if b == nil || b.PartialTrailingRecord {
				continue // legacy message sets never hold transactions; a partial batch comes again
			}
			last := b.FirstOffset + int64(b.LastOffsetDelta)
			if last < pos {
				continue // the start of a batch read before
			}
			for len(aborted) > 0 && aborted[0].FirstOffset <= last {
				open[aborted[0].ProducerID] = true
				aborted = aborted[1:]
			}
			complete++
			next = last + 1
			switch {
			case b.Control:
				if len(b.Records) > 0 && controlType(b.Records[0].Key) == sarama.ControlRecordAbort {
					delete(open, b.ProducerID)
				}
				continue
			case b.IsTransactional && open[b.ProducerID]:
				continue
			}
			for _, r := range b.Records {
				if o := b.FirstOffset + r.OffsetDelta; o >= pos && o < target {
					each(o, r)
				}
			}
		}
		switch {
		case complete > 0:
			pos, size, wait = next, checkpointFetchBytes, 10*time.Millisecond
		case block.Partial || len(block.RecordsSet) > 0:
			if size >= 1<<30 {
				return 0, fmt.Errorf("stream: fetch %s/%d at %d: a record batch over 1 GiB", topic, partition, pos)
			}
			size *= 2 // a batch larger than size: ask for more
		case block.LastStableOffset > pos:
			// Nothing in [pos, LSO): removed meanwhile (compaction, retention).
			pos = block.LastStableOffset
		default:
			// A transaction open at pos: wait for it to be decided.
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(wait):
			}
			wait = min(2*wait, 100*time.Millisecond)
		}
	}
	return target, nil
}

// fetchCommitted sends one read_committed Fetch of topic/partition at pos to
// its leader, answered at once, and returns the partition's block.
func fetchCommitted(client sarama.Client, topic string, partition int32, pos int64, size int32) (*sarama.FetchResponseBlock, error) {
	broker, err := client.Leader(topic, partition)
	if err != nil {
		return nil, fmt.Errorf("stream: leader of %s/%d: %w", topic, partition, err)
	}
	req := &sarama.FetchRequest{
		Version:      11,
		MaxWaitTime:  0, // answer at once, whatever is there
		MinBytes:     0,
		MaxBytes:     64 << 20,
		Isolation:    sarama.ReadCommitted,
		SessionID:    0,
		SessionEpoch: -1, // no fetch session (KIP-227)
	}
	req.AddBlock(topic, partition, pos, size, -1)
	resp, err := broker.Fetch(req)
	if err != nil {
		_ = broker.Close()
		return nil, fmt.Errorf("stream: fetch %s/%d at %d: %w", topic, partition, pos, err)
	}
	block := resp.GetBlock(topic, partition)
	switch {
	case block == nil:
		return nil, fmt.Errorf("stream: fetch %s/%d at %d: %w", topic, partition, pos, sarama.ErrIncompleteResponse)
	case block.Err != sarama.ErrNoError:
		return nil, fmt.Errorf("stream: fetch %s/%d at %d: %w", topic, partition, pos, block.Err)
	}
	return block, nil
}

// controlType returns the type of a control record from its key (version
// int16, type int16, big-endian; 0 abort, 1 commit), or -1 for a malformed key.
func controlType(key []byte) sarama.ControlRecordType {
	if len(key) < 4 {
		return -1
	}
	return sarama.ControlRecordType(binary.BigEndian.Uint16(key[2:4]))
}

// Record is one committed data record of a partition (ReadCommitted).
type Record struct {
	Offset     int64
	Key, Value []byte
	Headers    []*sarama.RecordHeader
}

// ReadCommitted calls each, in offset order, with every record of
// topic/partition a read_committed consumer sees from offset from (the
// oldest offset if from is below it or negative) up to the partition's
// high-water mark at the call, and returns that mark. Records of aborted
// transactions and commit markers are skipped; a transaction still open
// below the mark is waited for until it is decided (see ReadCheckpoint), so
// the records are exact as of the call. The count of records it calls each
// with is what a read_committed consumer at from still has to read: its
// lag, which the high-water mark alone overstates by the commit markers
// (one per transaction). A missing topic returns ErrNoTopic. Bounded by ctx
// (ctx.Err()); each request by cfg.SendTimeout. Safe for concurrent use.
func ReadCommitted(ctx context.Context, cfg Config, topic string, partition int32, from int64, each func(Record)) (int64, error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	client, err := sarama.NewClient(cfg.Brokers, cfg.saramaConfig())
	if err != nil {
		return 0, fmt.Errorf("stream: connect to %v: %w", cfg.Brokers, err)
	}
	closeClient := sync.OnceFunc(func() { _ = client.Close() }) // sarama's Close panics when called twice
	defer closeClient()
	stop := context.AfterFunc(ctx, closeClient)
	defer stop()
	parts, err := client.Partitions(topic)
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return 0, fmt.Errorf("%w: %s", ErrNoTopic, topic)
	}
	if err != nil {
		return 0, ctxOr(ctx, fmt.Errorf("stream: partitions of %s: %w", topic, err))
	}
	if !slices.Contains(parts, partition) {
		return 0, fmt.Errorf("stream: %s has no partition %d (partitions %v)", topic, partition, parts)
	}
	end, err := readCommitted(ctx, client, topic, partition, from, func(offset int64, r *sarama.Record) {
		each(Record{Offset: offset, Key: r.Key, Value: r.Value, Headers: r.Headers})
	})
	return end, ctxOr(ctx, err)
}
