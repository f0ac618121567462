package status

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/tasks"
)

// Lag sources, the values of Task.LagSource.
const (
	// LagMeasured: the partition's high-water mark in Kafka minus the offset
	// its ingest task committed in Cassandra (MeasuredLag), read by status
	// itself, whatever the owner reports.
	LagMeasured = "measured"
	// LagReported: the lag the owner last published in status/<node>
	// (Batch.HighWater - Batch.Next of its latest batch); stale or missing if
	// the runner is stuck. Used when the lag could not be measured.
	LagReported = "reported"
)

// DefaultStallAfter is how long an ingest task with a lag may go without
// progress before status calls it stalled (stocksys status --stall-after).
const DefaultStallAfter = 30 * time.Second

// KafkaOffsets reads the ends of partitions of the quotes topic
// (stream.OffsetReader implements it).
type KafkaOffsets interface {
	Offsets(ctx context.Context, partitions []int32) (map[int32]stream.PartitionOffsets, error)
}

// PendingCounter is implemented by KafkaOffsets that count the records a
// read_committed consumer at an offset still has to read
// (stream.OffsetReader.Pending).
type PendingCounter interface {
	Pending(ctx context.Context, partition int32, from int64) (int64, error)
}

// ExactLagMax is the largest offset gap MeasureLag counts record by record
// when its KafkaOffsets is a PendingCounter. Transactional producers
// (stocksys node --fetch-transactions) leave a commit marker after every
// transaction: an ingest task that has read everything is one offset (or
// more) below the high-water mark, which would read as a lag and, with no
// progress, as a stall. Counting small gaps exactly makes an idle partition
// read 0; a larger gap is a real lag, reported as the offset difference
// (an upper bound).
const ExactLagMax = 2000

// CommittedOffsets reads the offsets ingest tasks committed (store.Store
// implements it: table ingest_offsets, written by pipeline.Ingest). next is
// the next offset to consume; found is false if none was committed.
type CommittedOffsets interface {
	LoadOffset(ctx context.Context, topic string, partition int32) (next, epoch int64, found bool, err error)
}

// MeasuredLag returns the lag in messages of a partition whose ends are o
// and whose ingest task committed next (found: whether it committed at all):
// the messages the ingest task has yet to store, o.HighWater minus where it
// (re)starts. It starts at next if next is within [o.Oldest, o.HighWater];
// with no commit, or a commit out of that range (deleted by retention, or
// from before the topic was recreated), it starts at o.Oldest, as
// pipeline.Ingest and stream.ConsumePartition do. Never negative.
//
// The ingest task stages its commits (group commit), so a running task may
// have stored up to a batch more than its committed offset says.
func MeasuredLag(o stream.PartitionOffsets, next int64, found bool) int64 {
	start := next
	if !found || next < o.Oldest || next > o.HighWater {
		start = o.Oldest
	}
	return max(o.HighWater-start, 0)
}

// MeasureLag measures the lag of every ingest task of r (see MeasuredLag),
// reading the partitions' ends of topic from k and the committed offsets from
// c, and sets each task's Lag, HighWater, Committed and LagSource
// (LagMeasured). ReportedLag keeps what the owner reported.
//
// If k or c is nil or fails, it changes no task (their Lag stays the
// reported one, LagSource LagReported), records why in r.LagError and
// returns that error, which names the server ("kafka: ..." or
// "cassandra: ..."). A nil k or c means it could not be reached: give the
// reason with NotMeasured instead. Blocks for one round trip to Kafka per
// partition end and one serial read in Cassandra per partition (see
// store.LoadOffset), and, for a gap of at most ExactLagMax offsets, the
// fetches that count it (PendingCounter); ctx bounds it as far as the
// clients allow.
func MeasureLag(ctx context.Context, r *Report, topic string, k KafkaOffsets, c CommittedOffsets) error {
	if k == nil {
		return r.NotMeasured(errors.New("kafka: not connected"))
	}
	if c == nil {
		return r.NotMeasured(errors.New("cassandra: not connected"))
	}
	idx := map[int32]int{} // partition -> index in r.Tasks
	var parts []int32
	for i, t := range r.Tasks {
		if t.Type != string(tasks.TypeIngest) {
			continue
		}
		task, err := tasks.ParseID(t.ID)
		if err != nil {
			continue
		}
		idx[task.Partition()] = i
		parts = append(parts, task.Partition())
	}
	if len(parts) == 0 {
		return nil
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	ends, err := k.Offsets(ctx, parts)
	if err != nil {
		return r.NotMeasured(fmt.Errorf("kafka: %w", err))
	}
	type commit struct {
		next  int64
		found bool
	}
	commits := make(map[int32]commit, len(parts))
	for _, p := range parts {
		next, _, found, err := c.LoadOffset(ctx, topic, p)
		if err != nil {
			return r.NotMeasured(fmt.Errorf("cassandra: %w", err))
		}
		commits[p] = commit{next, found}
	}
	for _, p := range parts {
		o, ok := ends[p]
		if !ok {
			return r.NotMeasured(fmt.Errorf("kafka: no offsets for %s/%d", topic, p))
		}
		t := &r.Tasks[idx[p]]
		cm := commits[p]
		lag, hw := MeasuredLag(o, cm.next, cm.found), o.HighWater
		if pc, ok := k.(PendingCounter); ok && lag > 0 && lag <= ExactLagMax {
			n, err := pc.Pending(ctx, p, hw-lag)
			if err != nil {
				return r.NotMeasured(fmt.Errorf("kafka: %w", err))
			}
			lag = n
		}
		t.Lag, t.HighWater, t.LagSource = &lag, &hw, LagMeasured
		t.Committed = nil
		if cm.found {
			next := cm.next
			t.Committed = &next
		}
	}
	r.LagError = ""
	return nil
}

// NotMeasured records that the lag could not be measured because of err:
// r.LagError says why, and every ingest task keeps its reported lag
// (LagSource LagReported). It returns err.
func (r *Report) NotMeasured(err error) error {
	r.LagError = err.Error()
	for i := range r.Tasks {
		t := &r.Tasks[i]
		if t.Type == string(tasks.TypeIngest) {
			t.Lag, t.LagSource, t.HighWater, t.Committed = t.ReportedLag, LagReported, nil, nil
		}
	}
	return err
}

// Stall returns why ingest task t, as read at now, is stalled, or "" if it
// is not. prev is the same task in the previous report of a --watch (nil if
// none); after is the stall threshold (DefaultStallAfter unless set).
//
// A task with an owner and a lag above 0 is stalled when:
//   - its last progress (or, before any, its start) is more than after
//     before now: it has work and has done none of it for that long; or
//   - both reports measured its lag (LagSource LagMeasured), prev already had
//     a lag above 0, the lag grew, and neither its progress nor its
//     committed offset changed between the two reports: it had work during
//     the whole refresh interval and did none of it; or
//   - prev was stalled and neither its progress nor its committed offset
//     changed since (a stall flagged on a --watch stays flagged until the
//     task moves).
//
// Unassigned tasks are not judged here (the report lists them as
// unassigned), nor tasks of other types.
func Stall(t, prev *Task, now time.Time, after time.Duration) string {
	if t.Type != string(tasks.TypeIngest) || t.Owner == nil || t.Lag == nil || *t.Lag <= 0 {
		return ""
	}
	if since := t.LastProgress; !since.IsZero() && now.Sub(since) > after {
		return fmt.Sprintf("lag %d, no progress for %s (stall after %s)", *t.Lag, age(now, since), after)
	}
	if t.LastProgress.IsZero() && !t.Started.IsZero() && now.Sub(t.Started) > after {
		return fmt.Sprintf("lag %d, no progress since it started %s ago (stall after %s)", *t.Lag, age(now, t.Started), after)
	}
	if prev == nil || prev.Owner == nil || *prev.Owner != *t.Owner || prev.Lag == nil ||
		t.LagSource != LagMeasured || prev.LagSource != LagMeasured {
		return ""
	}
	if t.Progress != prev.Progress || !sameOffset(t.Committed, prev.Committed) {
		return ""
	}
	switch {
	case *prev.Lag > 0 && *t.Lag > *prev.Lag:
		return fmt.Sprintf("lag grew from %d to %d with no progress since the previous refresh", *prev.Lag, *t.Lag)
	case prev.Stalled:
		return fmt.Sprintf("lag %d, still no progress since the previous refresh", *t.Lag)
	}
	return ""
}

func sameOffset(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// MarkStalled sets Stalled and StallReason of every task of r by Stall,
// against the same task in prev (the previous report of a --watch; nil if
// none), and lists the stalled tasks' ids in r.Stalled. now is the time ages
// are measured from; after the stall threshold.
func MarkStalled(r, prev *Report, now time.Time, after time.Duration) {
	before := map[string]*Task{}
	if prev != nil {
		for i := range prev.Tasks {
			before[prev.Tasks[i].ID] = &prev.Tasks[i]
		}
	}
	r.Stalled = []string{}
	for i := range r.Tasks {
		t := &r.Tasks[i]
		t.StallReason = Stall(t, before[t.ID], now, after)
		t.Stalled = t.StallReason != ""
		if t.Stalled {
			r.Stalled = append(r.Stalled, t.ID)
		}
	}
}
