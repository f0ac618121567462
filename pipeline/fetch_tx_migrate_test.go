package pipeline_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stock-system/stocksys/pipeline"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
)

// memTx is a pipeline.Transactions in memory: the checkpoint of each task
// is the last non-zero position sent.
type memTx struct {
	mu    sync.Mutex
	cps   map[string]time.Time
	sends []memSend
}

type memSend struct {
	task     string
	quotes   int
	position time.Time
}

func (m *memTx) Open(_ context.Context, task string) (pipeline.TxSender, error) {
	return memTxSender{m: m, task: task}, nil
}

func (m *memTx) ReadCheckpoint(_ context.Context, task string) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp, ok := m.cps[task]
	return cp, ok, nil
}

func (m *memTx) sent() []memSend {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]memSend(nil), m.sends...)
}

type memTxSender struct {
	m    *memTx
	task string
}

func (s memTxSender) SendFrom(_ context.Context, _ stream.Origin, qs []quote.Quote, position time.Time) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.sends = append(s.m.sends, memSend{task: s.task, quotes: len(qs), position: position})
	if !position.IsZero() {
		if s.m.cps == nil {
			s.m.cps = map[string]time.Time{}
		}
		s.m.cps[s.task] = position
	}
	return nil
}

func (memTxSender) Close() error { return nil }

// cassCheckpoints is the Cassandra checkpoint store of one symbol, which can
// be down; it counts the loads.
type cassCheckpoints struct {
	mu    sync.Mutex
	ts    time.Time
	down  bool
	loads int
}

var errCassandraDown = errors.New("gocql: no hosts available in the pool")

func (c *cassCheckpoints) LoadCheckpoint(context.Context, string) (time.Time, int64, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loads++
	if c.down {
		return time.Time{}, 0, false, errCassandraDown
	}
	return c.ts, 1, !c.ts.IsZero(), nil
}

func (c *cassCheckpoints) CommitCheckpoint(context.Context, string, time.Time, int64, string) error {
	return errors.New("CommitCheckpoint called with transactions")
}

// exhaustedSource is a replay whose every quote is at or before the
// checkpoint: each Fetch after it reports ErrExhausted, and signals asked.
type exhaustedSource struct {
	last  time.Time
	asked chan time.Time
}

func (s *exhaustedSource) Fetch(_ context.Context, _ string, after time.Time) ([]quote.Quote, error) {
	s.asked <- after
	if after.Before(s.last) {
		return nil, errors.New("asked for quotes before the checkpoint")
	}
	return nil, quote.ErrExhausted
}

// TestFetchTxMigratedCheckpointOutlivesCassandra: a fetch task with
// transactions whose Cassandra checkpoint is the end of its source (a
// finished replay: no batch, so no batch's transaction, follows) writes the
// migrated checkpoint to Kafka at once. A later run, with Cassandra down,
// resumes from Kafka without asking Cassandra, instead of failing on the
// migration again (it did before: the migrated checkpoint reached Kafka only
// with the next batch's transaction).
func TestFetchTxMigratedCheckpointOutlivesCassandra(t *testing.T) {
	last := time.Date(2013, 10, 8, 23, 59, 0, 0, time.UTC)
	tx := &memTx{}
	cass := &cassCheckpoints{ts: last}
	src := &exhaustedSource{last: last, asked: make(chan time.Time, 10)}
	f := &pipeline.Fetch{Tx: tx, Checkpoints: cass, Sender: nil,
		Source: func(context.Context, string) (quote.Source, error) { return src, nil }}
	task := tasks.FetchTask("SPY")

	run := func(name string, token int64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx, worker.NewRun(task, name, 1, token)) }()
		select {
		case after := <-src.asked:
			if !after.Equal(last) {
				t.Errorf("%s fetched after %v; want after the checkpoint %v", name, after, last)
			}
		case err := <-done:
			t.Fatalf("%s ended before fetching: %v", name, err)
		case <-ctx.Done():
			t.Fatalf("%s never fetched", name)
		}
		cancel() // revoked while idle (source exhausted)
		if err := <-done; err != nil {
			t.Fatalf("%s: Run = %v; want nil after revocation", name, err)
		}
	}

	run("node-a", 100)
	sends := tx.sent()
	if len(sends) != 1 || sends[0].quotes != 0 || !sends[0].position.Equal(last) || sends[0].task != "fetch/SPY" {
		t.Fatalf("first run's transactions %+v; want one of the migrated checkpoint %v alone", sends, last)
	}
	if cass.loads != 1 {
		t.Fatalf("first run loaded the Cassandra checkpoint %d times; want 1", cass.loads)
	}

	cass.mu.Lock()
	cass.down = true
	cass.mu.Unlock()
	run("node-b", 200)
	if cass.loads != 1 {
		t.Errorf("second run asked Cassandra (%d loads in all) although Kafka has the checkpoint", cass.loads)
	}
	if sends := tx.sent(); len(sends) != 1 {
		t.Errorf("second run sent %+v; want nothing (nothing to fetch, checkpoint already in Kafka)", sends[1:])
	}
}
