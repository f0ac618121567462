package bench_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stock-system/stocksys/pipeline"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
)

// sliceSource serves a symbol's bars in batches of at most batch, each
// call the bars after `after`, then quote.ErrExhausted: a source that is
// never the bottleneck.
type sliceSource struct {
	qs    []quote.Quote
	batch int
}

func (s *sliceSource) Fetch(_ context.Context, _ string, after time.Time) ([]quote.Quote, error) {
	i := 0
	for i < len(s.qs) && !s.qs[i].Position().After(after) {
		i++
	}
	if i == len(s.qs) {
		return nil, quote.ErrExhausted
	}
	return s.qs[i:min(i+s.batch, len(s.qs))], nil
}

// produced counts the fetch runners' produced quotes.
type produced struct{ n atomic.Int64 }

func (p *produced) Fetched(string, int)                       {}
func (p *produced) Produced(_ string, n int, _ time.Duration) { p.n.Add(int64(n)) }
func (p *produced) Rejected(string, quote.RejectReason)       {}
func (p *produced) Flagged(string, string)                    {}

// BenchmarkIntegration_FetchTransactions compares, in one run on the same
// servers, fetch tasks without and with Kafka transactions
// (pipeline.Fetch.Tx: each batch and its checkpoint in one transaction):
//
//   - fetch throughput: 10 fetch tasks each producing 5,000 bars as fast as
//     Kafka takes them (a source of 500-bar batches that is never the
//     bottleneck), quotes/s until all are acknowledged; and
//   - the produced->readable latency (Kafka record time to the Cassandra
//     write's acknowledgement, after a 3 s warm-up) at 500 quotes/s
//     offered (50 synthetic symbols at 10/s), p50 and p99, with ingest
//     reading read_committed in both.
//
// It reports both modes and the ratios tx/plain. Run:
//
//	go test -run '^$' -bench FetchTransactions -benchtime 1x -timeout 30m ./e2e/bench/
func BenchmarkIntegration_FetchTransactions(b *testing.B) {
	for range b.N {
		var tput, p50, p99 [2]float64
		for i, tx := range []bool{false, true} {
			tput[i] = fetchThroughput(b, tx, 10, 5000)
			l := runPipelineMode(b, tx, 50, 10, 15*time.Second)
			p50[i], p99[i] = l[0], l[1]
			b.Logf("transactions %v: fetch %.0f quotes/s; latency at 500/s p50 %.1f ms p99 %.1f ms", tx, tput[i], p50[i], p99[i])
		}
		b.ReportMetric(tput[0], "plain_fetch_q/s")
		b.ReportMetric(tput[1], "tx_fetch_q/s")
		b.ReportMetric(tput[1]/tput[0], "tx/plain_throughput")
		b.ReportMetric(p99[0], "plain_p99_ms")
		b.ReportMetric(p99[1], "tx_p99_ms")
		b.ReportMetric(p99[1]/p99[0], "tx/plain_p99")
		b.ReportMetric(p50[1]/p50[0], "tx/plain_p50")
	}
}

// fetchThroughput runs symbols fetch tasks of n bars each and returns the
// quotes produced per second until the last was acknowledged.
func fetchThroughput(b *testing.B, tx bool, symbols, n int) float64 {
	scfg, st, ks := setup(b)
	var cp pipeline.Checkpoints = &memCheckpoints{m: map[string]time.Time{}}
	cnt := &produced{}
	src, _ := quote.NewSynthetic(1, 1000, quote.Options{})
	fetch := &pipeline.Fetch{Checkpoints: cp, Counters: cnt, Idle: 50 * time.Millisecond}
	if tx {
		if err := stream.EnsureCheckpointTopic(context.Background(), scfg); err != nil {
			b.Fatal(err)
		}
		fetch.Tx = pipeline.StreamTransactions{Config: scfg, Cluster: "bench-" + ks}
	} else {
		prod, err := stream.NewProducer(scfg)
		if err != nil {
			b.Fatal(err)
		}
		defer prod.Close()
		fetch.Sender = prod
	}
	_ = st
	srcs := map[string]*sliceSource{}
	for s := range symbols {
		sym := fmt.Sprintf("T%04d", s)
		qs := make([]quote.Quote, n)
		for k := range n {
			qs[k] = src.Bar(sym, int64(k))
		}
		srcs[sym] = &sliceSource{qs: qs, batch: 500}
	}
	fetch.Source = func(_ context.Context, sym string) (quote.Source, error) { return srcs[sym], nil }
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	start := time.Now()
	for sym := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = fetch.Run(ctx, worker.NewRun(tasks.FetchTask(tasks.Symbol(sym)), "bench", 1, 1))
		}()
	}
	want := int64(symbols * n)
	for cnt.n.Load() < want && time.Since(start) < 5*time.Minute {
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(start)
	cancel()
	wg.Wait()
	if got := cnt.n.Load(); got != want {
		b.Fatalf("transactions %v: %d of %d quotes produced in %v", tx, got, want, took)
	}
	return float64(want) / took.Seconds()
}
