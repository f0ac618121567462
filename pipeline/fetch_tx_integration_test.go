package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/pipeline"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
)

// gatedSource serves bars in batches of 50; after the first batch it waits
// for release (when gated), so a test can hold a zombie between two sends.
type gatedSource struct {
	bars    []quote.Quote
	gated   bool
	release chan struct{}
	served  chan struct{} // closed after the first batch
	once    sync.Once
	calls   int
	mu      sync.Mutex
}

func (s *gatedSource) Fetch(ctx context.Context, _ string, after time.Time) ([]quote.Quote, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	if s.gated && n > 1 {
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var out []quote.Quote
	for _, q := range s.bars {
		if q.Position().After(after) && len(out) < 50 {
			out = append(out, q)
		}
	}
	if len(out) == 0 {
		return nil, quote.ErrExhausted
	}
	if n == 1 && s.served != nil {
		s.once.Do(func() { close(s.served) })
	}
	return out, nil
}

// TestIntegration_FetchTxZombieFenced (issue 16, item 3): fetch tasks with
// Kafka transactions (pipeline.Fetch.Tx). The first owner A migrates the
// checkpoint Cassandra holds, commits one batch with its checkpoint, then
// stalls. B starts the same task (as after a move): its producer's
// initialisation fences A's, it resumes from A's checkpoint read from Kafka
// (not Cassandra), and produces the rest. A's next batch fails with
// stream.ErrProducerFenced. A read_committed consumer sees every bar after
// the migrated checkpoint exactly once, none of A's fenced batch, and the
// last checkpoint is B's.
func TestIntegration_FetchTxZombieFenced(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	scfg := stream.DefaultConfig()
	scfg.Brokers = testenv.KafkaBrokers(t)
	prefix := testenv.KafkaTopicPrefix(t)
	scfg.Topic, scfg.DLQTopic, scfg.Partitions = prefix+"quotes", prefix+"quotes.dlq", 2
	if err := stream.EnsureTopics(ctx, scfg); err != nil {
		t.Fatal(err)
	}
	ks, _ := testenv.CassandraKeyspace(t)
	ccfg := store.DefaultConfig()
	ccfg.Hosts, ccfg.Keyspace, ccfg.Consistency = testenv.CassandraHosts(t), ks, "ONE"
	st, err := store.Open(ctx, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	day := time.Date(2013, 10, 7, 13, 30, 0, 0, time.UTC)
	var bars []quote.Quote
	for i := range 200 {
		p := 100 + float64(i)/100
		bars = append(bars, quote.Quote{Symbol: "SPY", TS: day.Add(time.Duration(i) * time.Minute), Open: p, High: p + 0.05,
			Low: p - 0.05, Close: p + 0.01, Volume: int64(1000 + i), Source: "test"})
	}
	// A checkpoint in Cassandra from before transactions: bars 0..9 done.
	if err := st.CommitCheckpoint(ctx, "SPY", bars[9].TS, 1, "old-node"); err != nil {
		t.Fatal(err)
	}
	tx := pipeline.StreamTransactions{Config: scfg, Cluster: "txtest-" + strings.Trim(prefix[len(prefix)-9:], ".")}
	task := tasks.FetchTask("SPY")
	srcA := &gatedSource{bars: bars, gated: true, release: make(chan struct{}), served: make(chan struct{})}
	fa := &pipeline.Fetch{Tx: tx, Checkpoints: st, Source: func(context.Context, string) (quote.Source, error) { return srcA, nil }}
	aDone := make(chan error, 1)
	go func() { aDone <- fa.Run(ctx, worker.NewRun(task, "node-a", 1, 100)) }()
	select {
	case <-srcA.served:
	case err := <-aDone:
		t.Fatalf("A ended early: %v", err)
	case <-ctx.Done():
		t.Fatal("A never fetched")
	}
	// Wait for A's first batch to commit (its checkpoint visible, after the
	// migrated one, which A writes alone first).
	var cp stream.Checkpoint
	for {
		c, found, err := stream.ReadCheckpoint(ctx, scfg, string(task.ID()))
		if err != nil {
			t.Fatal(err)
		}
		if found && !c.Position.Equal(bars[9].TS) {
			cp = c
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !cp.Position.Equal(bars[59].TS) || cp.Node != "node-a" {
		t.Fatalf("A's checkpoint %v by %s; want bar 59 (%v) by node-a: 50 bars after the migrated checkpoint", cp.Position, cp.Node, bars[59].TS)
	}

	bctx, bcancel := context.WithCancel(ctx)
	defer bcancel()
	srcB := &gatedSource{bars: bars}
	fb := &pipeline.Fetch{Tx: tx, Checkpoints: st, Source: func(context.Context, string) (quote.Source, error) { return srcB, nil }}
	bDone := make(chan error, 1)
	go func() { bDone <- fb.Run(bctx, worker.NewRun(task, "node-b", 1, 200)) }()
	// B is done when its checkpoint is the last bar.
	for {
		c, found, err := stream.ReadCheckpoint(ctx, scfg, string(task.ID()))
		if err != nil {
			t.Fatal(err)
		}
		if found && c.Position.Equal(bars[199].TS) {
			if c.Node != "node-b" {
				t.Fatalf("final checkpoint by %s; want node-b", c.Node)
			}
			break
		}
		select {
		case err := <-bDone:
			t.Fatalf("B ended: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	close(srcA.release) // the zombie sends its next batch
	select {
	case err := <-aDone:
		if !errors.Is(err, stream.ErrProducerFenced) {
			t.Fatalf("A's next send: %v; want ErrProducerFenced", err)
		}
		t.Logf("A: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("A did not end after its fenced send")
	}

	// read_committed: bars 10..199 exactly once.
	seen := map[time.Time]int{}
	var mu sync.Mutex
	dead := 0
	cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
	defer ccancel()
	var wg sync.WaitGroup
	for p := range int32(2) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = stream.ConsumePartition(cctx, scfg, p, 0, func(_ context.Context, b stream.Batch) error {
				mu.Lock()
				defer mu.Unlock()
				for _, m := range b.Quotes {
					seen[m.Quote.TS]++
				}
				dead += len(b.DeadLetters)
				if len(seen) >= 190 {
					ccancel()
				}
				return nil
			})
		}()
	}
	wg.Wait()
	var dups, missing []string
	for i, q := range bars {
		n := seen[q.TS]
		switch {
		case i < 10 && n != 0:
			dups = append(dups, fmt.Sprintf("bar %d before the migrated checkpoint seen %d times", i, n))
		case i >= 10 && n == 0:
			missing = append(missing, fmt.Sprint(i))
		case i >= 10 && n > 1:
			dups = append(dups, fmt.Sprintf("bar %d seen %d times", i, n))
		}
	}
	sort.Strings(dups)
	if len(dups) > 0 || len(missing) > 0 || len(seen) != 190 || dead != 0 {
		t.Fatalf("read_committed saw %d distinct bars (%d dead letters); missing %v; duplicated/extra %v", len(seen), dead, missing, dups)
	}
	bcancel()
	if err := <-bDone; err != nil {
		t.Fatalf("B: %v", err)
	}
}
