package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/tasks"
)

// OpenStore opens the run's Cassandra keyspace (consistency ONE: one node).
func OpenStore(ctx context.Context, m *Manifest) (*store.Store, error) {
	cc := store.DefaultConfig()
	cc.Hosts = strings.Split(m.Cassandra, ",")
	cc.Keyspace, cc.Consistency = m.Keyspace, "ONE"
	return store.Open(ctx, cc)
}

// EndOffsets returns the next offset to be written of each partition of
// topic (the high-water mark).
func EndOffsets(brokers []string, topic string) (map[int32]int64, error) {
	cfg := sarama.NewConfig()
	cfg.Net.DialTimeout = 5 * time.Second
	cfg.Metadata.Retry.Max = 1
	c, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ps, err := c.Partitions(topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for _, p := range ps {
		off, err := c.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, err
		}
		out[p] = off
	}
	return out, nil
}

// Progress is how far the data path has got.
type Progress struct {
	Checkpoints map[string]time.Time // symbol -> fetch checkpoint
	LastSource  map[string]time.Time // symbol -> last source quote
	Committed   map[int32]int64      // partition -> committed next offset
	End         map[int32]int64      // partition -> high-water mark
	// Pending is, per partition, how many records a read_committed
	// consumer sees at or after the committed offset: not yet ingested.
	// With transactions the high-water mark also counts commit markers,
	// so a partition ingested to its end can have Committed < End.
	Pending map[int32]int64
}

// Done reports whether every symbol's checkpoint reached its last source
// quote and every partition's records are ingested (none pending).
func (p Progress) Done() bool {
	for s, last := range p.LastSource {
		if cp, ok := p.Checkpoints[s]; !ok || cp.Before(last) {
			return false
		}
	}
	if len(p.End) == 0 {
		return false
	}
	for part := range p.End {
		if p.Pending[part] > 0 {
			return false
		}
	}
	return true
}

func (p Progress) String() string {
	var b strings.Builder
	for s, last := range p.LastSource {
		fmt.Fprintf(&b, "%s checkpoint %s of %s; ", s, p.Checkpoints[s].UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339))
	}
	for part, end := range p.End {
		fmt.Fprintf(&b, "partition %d at %d of %d (%d pending); ", part, p.Committed[part], end, p.Pending[part])
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// ReadProgress reads checkpoints (from Cassandra, or with
// FetchTransactions from the checkpoint topic), offsets and the records
// pending after them (stream.ReadCommitted).
func ReadProgress(ctx context.Context, m *Manifest, st *store.Store) (Progress, error) {
	p := Progress{Checkpoints: map[string]time.Time{}, LastSource: map[string]time.Time{},
		Committed: map[int32]int64{}, Pending: map[int32]int64{}}
	scfg := stream.DefaultConfig()
	scfg.Brokers, scfg.Topic, scfg.DLQTopic = strings.Split(m.Kafka, ","), m.Topic, m.Topic+".dlq"
	for s := range m.Symbols {
		qs, err := SourceQuotes(m.DataDir, s, time.Now())
		if err != nil {
			return p, err
		}
		p.LastSource[s] = qs[len(qs)-1].TS
		var ts time.Time
		var found bool
		if m.FetchTransactions {
			var cp stream.Checkpoint
			cp, found, err = stream.ReadCheckpoint(ctx, scfg, string(tasks.FetchTask(tasks.Symbol(s)).ID()))
			ts = cp.Position
		} else {
			ts, _, found, err = st.LoadCheckpoint(ctx, s)
		}
		if err != nil {
			return p, err
		}
		if found {
			p.Checkpoints[s] = ts
		}
	}
	end, err := EndOffsets(strings.Split(m.Kafka, ","), m.Topic)
	if err != nil {
		return p, err
	}
	p.End = end
	for part := range end {
		next, _, _, err := st.LoadOffset(ctx, m.Topic, part)
		if err != nil {
			return p, err
		}
		p.Committed[part] = next
		n := int64(0)
		if _, err := stream.ReadCommitted(ctx, scfg, m.Topic, part, next, func(stream.Record) { n++ }); err != nil {
			return p, err
		}
		p.Pending[part] = n
	}
	return p, nil
}

// Settle waits until every task runs, every quote of the source was fetched
// and every partition's offsets are committed to its end, twice in a row
// one second apart (so a produce in flight is seen), or limit passes.
func (r *Runner) Settle(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	st, err := OpenStore(ctx, r.M)
	if err != nil {
		return err
	}
	defer st.Close()
	ok := 0
	var last Progress
	var lastErr error
	for {
		rep, serr := r.Status()
		if serr == nil && AllRunning(rep, r.M.Nodes) {
			p, err := ReadProgress(ctx, r.M, st)
			last, lastErr = p, err
			if err == nil && p.Done() {
				ok++
				if ok == 2 {
					return nil
				}
			} else {
				ok = 0
			}
		} else {
			ok, lastErr = 0, fmt.Errorf("cluster not all running (%v)", serr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chaos: not settled within %v: %s (last error %v)", limit, last, lastErr)
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return err
		}
	}
}
