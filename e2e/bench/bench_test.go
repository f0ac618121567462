// Package bench_test measures the data path end to end on the real servers,
// beside two baselines measured in the same run on the same servers: a raw
// sarama produce->consume loop and a raw gocql writer with the same schema and
// batching. Run:
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 30m ./e2e/bench/
package bench_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/gocql/gocql"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/pipeline"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
)

const partitions = 6

// latencies collects the ingest runner's produced->committed latencies
// and, of the records produced from `from` on, the produced->readable ones
// (record time to the Cassandra write's acknowledgement).
type latencies struct {
	mu       sync.Mutex
	d        []time.Duration
	readable []time.Duration
	from     time.Time
	n        atomic.Int64
	dlq      atomic.Int64
}

func (l *latencies) Ingested(_ int32, n int, lat time.Duration) {
	l.n.Add(int64(n))
	l.mu.Lock()
	for range n {
		l.d = append(l.d, lat)
	}
	l.mu.Unlock()
}
func (l *latencies) DeadLettered(_ int32, n int) { l.dlq.Add(int64(n)) }
func (l *latencies) Readable(_ int32, lat time.Duration) {
	l.mu.Lock()
	if time.Now().Add(-lat).After(l.from) {
		l.readable = append(l.readable, lat)
	}
	l.mu.Unlock()
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)]
}

type memCheckpoints struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (c *memCheckpoints) LoadCheckpoint(_ context.Context, s string) (time.Time, int64, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[s]
	return t, 0, ok, nil
}

func (c *memCheckpoints) CommitCheckpoint(_ context.Context, s string, ts time.Time, _ int64, _ string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[s] = ts
	return nil
}

func setup(b *testing.B) (stream.Config, *store.Store, string) {
	b.Helper()
	scfg := stream.DefaultConfig()
	scfg.Brokers = testenv.KafkaBrokers(b)
	scfg.Topic = testenv.KafkaTopicPrefix(b) + "quotes"
	scfg.DLQTopic = scfg.Topic + ".dlq"
	scfg.Partitions = partitions
	if err := stream.EnsureTopics(context.Background(), scfg); err != nil {
		b.Fatal(err)
	}
	ks := "b_" + testenv.Name(b, "_")
	cc := store.DefaultConfig()
	cc.Hosts = testenv.CassandraHosts(b)
	cc.Keyspace, cc.Consistency = ks, "ONE"
	st, err := store.Open(context.Background(), cc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cl := testenv.CassandraCluster(b)
		if s, err := cl.CreateSession(); err == nil {
			_ = s.Query("DROP KEYSPACE IF EXISTS " + ks).Exec()
			s.Close()
		}
		st.Close()
	})
	return scfg, st, ks
}

// BenchmarkIntegration_Pipeline runs fetch runners (synthetic source, S
// symbols at 10 quotes/s each) and one ingest runner per partition for 20 s at
// each offered rate, and reports stored quotes/s and the produced->readable
// latency (Kafka record time to the offset commit after the Cassandra write).
func BenchmarkIntegration_Pipeline(b *testing.B) {
	for _, symbols := range []int{10, 50, 200} {
		b.Run(fmt.Sprintf("offered=%d_per_s", symbols*10), func(b *testing.B) {
			for range b.N {
				runPipeline(b, symbols, 10, 20*time.Second)
			}
		})
	}
}

func runPipeline(b *testing.B, symbols int, rate float64, d time.Duration) {
	runPipelineMode(b, false, symbols, rate, d)
}

// runPipelineMode is runPipeline with or without Kafka transactions for the
// fetch tasks (pipeline.Fetch.Tx); it returns the produced->readable
// latency's p50 and p99 in ms, of the records produced after the first 3 s
// (warm-up: topic metadata, consumers starting).
func runPipelineMode(b *testing.B, tx bool, symbols int, rate float64, d time.Duration) [2]float64 {
	scfg, st, ks := setup(b)
	lat := &latencies{from: time.Now().Add(3 * time.Second)}
	fetch := &pipeline.Fetch{Checkpoints: &memCheckpoints{m: map[string]time.Time{}}, Idle: 50 * time.Millisecond,
		Source: func(context.Context, string) (quote.Source, error) {
			return quote.NewSynthetic(1, rate, quote.Options{})
		}}
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
	ingest := &pipeline.Ingest{Stream: scfg, Sink: pipeline.StoreSink{Store: st}, Counters: lat}
	fctx, stopFetch := context.WithCancel(context.Background())
	ictx, stopIngest := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range symbols {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := worker.NewRun(tasks.FetchTask(tasks.Symbol(fmt.Sprintf("S%04d", i))), "bench", 1, 1)
			_ = fetch.Run(fctx, r)
		}()
	}
	var iwg sync.WaitGroup
	for p := range int32(partitions) {
		iwg.Add(1)
		go func() {
			defer iwg.Done()
			_ = ingest.Run(ictx, worker.NewRun(tasks.IngestTask(p), "bench", 1, 1))
		}()
	}
	start := time.Now()
	time.Sleep(d)
	stopFetch()
	wg.Wait()
	// Wait for the ingest to drain what was produced.
	drainStart := time.Now()
	last, lastChange := lat.n.Load(), time.Now()
	for time.Since(lastChange) < 3*time.Second && time.Since(drainStart) < 2*time.Minute {
		time.Sleep(200 * time.Millisecond)
		if n := lat.n.Load(); n != last {
			last, lastChange = n, time.Now()
		}
	}
	elapsed := lastChange.Sub(start)
	stopIngest()
	iwg.Wait()
	n := lat.n.Load()
	if dl := lat.dlq.Load(); dl > 0 {
		b.Fatalf("%d quotes dead-lettered", dl)
	}
	offered := float64(symbols) * rate
	b.ReportMetric(offered, "offered_q/s")
	b.ReportMetric(float64(n)/d.Seconds(), "stored_q/s")
	b.ReportMetric(float64(pct(lat.d, 0.50).Milliseconds()), "p50_ms")
	b.ReportMetric(float64(pct(lat.d, 0.99).Milliseconds()), "p99_ms")
	b.ReportMetric(elapsed.Seconds()-d.Seconds(), "drain_s")
	b.Logf("offered %.0f q/s for %v (transactions %v): stored %d quotes (%.0f q/s), latency p50 %v p99 %v, drain %v",
		offered, d, tx, n, float64(n)/d.Seconds(), pct(lat.d, 0.5), pct(lat.d, 0.99), (elapsed - d).Round(time.Millisecond))
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	lat.mu.Lock()
	defer lat.mu.Unlock()
	b.Logf("readable after the warm-up (n=%d): p50 %v p99 %v", len(lat.readable), pct(lat.readable, 0.5), pct(lat.readable, 0.99))
	return [2]float64{ms(pct(lat.readable, 0.5)), ms(pct(lat.readable, 0.99))}
}

// quotesFor makes n synthetic quotes over the symbols, as the pipeline sends.
func quotesFor(n, symbols int) []quote.Quote {
	src, _ := quote.NewSynthetic(1, 10, quote.Options{})
	out := make([]quote.Quote, 0, n)
	for k := int64(0); len(out) < n; k++ {
		for s := 0; s < symbols && len(out) < n; s++ {
			q := src.Bar(fmt.Sprintf("S%04d", s), k)
			out = append(out, q)
		}
	}
	return out
}

// BenchmarkIntegration_BaselineSarama: raw sarama, idempotent async producer
// (acks=all) and a partition consumer, with the same JSON values; reports
// messages/s and produce->consume latency p50/p99.
func BenchmarkIntegration_BaselineSarama(b *testing.B) {
	const n = 50000
	scfg, _, _ := setupKafkaOnly(b)
	qs := quotesFor(n, 200)
	vals := make([][]byte, n)
	for i, q := range qs {
		vals[i], _ = stream.Encode(q)
	}
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V4_0_0_0
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	for range b.N {
		prod, err := sarama.NewAsyncProducer(scfg.Brokers, cfg)
		if err != nil {
			b.Fatal(err)
		}
		cons, err := sarama.NewConsumer(scfg.Brokers, cfg)
		if err != nil {
			b.Fatal(err)
		}
		var got atomic.Int64
		var mu sync.Mutex
		var lats []time.Duration
		var cwg sync.WaitGroup
		for p := range int32(partitions) {
			pc, err := cons.ConsumePartition(scfg.Topic, p, sarama.OffsetNewest)
			if err != nil {
				b.Fatal(err)
			}
			cwg.Add(1)
			go func() {
				defer cwg.Done()
				for m := range pc.Messages() {
					l := time.Since(m.Timestamp)
					mu.Lock()
					lats = append(lats, l)
					mu.Unlock()
					if got.Add(1) == n {
						return
					}
				}
			}()
			defer pc.Close()
		}
		go func() {
			for range prod.Successes() {
			}
		}()
		go func() {
			for e := range prod.Errors() {
				b.Error(e)
			}
		}()
		start := time.Now()
		for i := range n {
			prod.Input() <- &sarama.ProducerMessage{Topic: scfg.Topic, Key: sarama.StringEncoder(qs[i].Symbol), Value: sarama.ByteEncoder(vals[i])}
		}
		for got.Load() < n && time.Since(start) < 2*time.Minute {
			time.Sleep(5 * time.Millisecond)
		}
		el := time.Since(start)
		prod.Close()
		cons.Close()
		b.ReportMetric(float64(got.Load())/el.Seconds(), "msgs/s")
		b.ReportMetric(float64(pct(lats, 0.5).Milliseconds()), "p50_ms")
		b.ReportMetric(float64(pct(lats, 0.99).Milliseconds()), "p99_ms")
		b.Logf("raw sarama: %d messages in %v = %.0f/s, latency p50 %v p99 %v", got.Load(), el.Round(time.Millisecond),
			float64(got.Load())/el.Seconds(), pct(lats, 0.5), pct(lats, 0.99))
	}
}

func setupKafkaOnly(b *testing.B) (stream.Config, int, int) {
	scfg := stream.DefaultConfig()
	scfg.Brokers = testenv.KafkaBrokers(b)
	scfg.Topic = testenv.KafkaTopicPrefix(b) + "raw"
	scfg.DLQTopic = scfg.Topic + ".dlq"
	scfg.Partitions = partitions
	if err := stream.EnsureTopics(context.Background(), scfg); err != nil {
		b.Fatal(err)
	}
	return scfg, 0, 0
}

// BenchmarkIntegration_BaselineGocql: raw gocql writes of the same quotes into
// the same quotes schema, in UNLOGGED batches of one partition under 4 KiB
// (as package store batches), 16 writers; reports rows/s. Compare with
// store.WriteQuotes on the same quotes, which also maintains bars, latest and
// alerts.
func BenchmarkIntegration_BaselineGocql(b *testing.B) {
	const n = 20000
	_, st, ks := setup(b)
	qs := quotesFor(n, 200)
	cl := testenv.CassandraCluster(b)
	s, err := cl.CreateSession()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for range b.N {
		// group by (symbol, day) like the store
		groups := map[string][]quote.Quote{}
		for _, q := range qs {
			k := q.Symbol + q.Day().Format("2006-01-02")
			groups[k] = append(groups[k], q)
		}
		keys := make([]string, 0, len(groups))
		for k := range groups {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		work := make(chan []quote.Quote)
		var wg sync.WaitGroup
		var errs atomic.Int64
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for g := range work {
					for i := 0; i < len(g); i += 20 { // ~20 rows of ~150 bytes: under 4 KiB
						bt := s.NewBatch(gocql.UnloggedBatch)
						for _, q := range g[i:min(i+20, len(g))] {
							bt.Query(`INSERT INTO `+ks+`.quotes (symbol, day, ts, open, high, low, close, volume, source, epoch) VALUES (?,?,?,?,?,?,?,?,?,?)`,
								q.Symbol, q.Day(), q.TS, q.Open, q.High, q.Low, q.Close, q.Volume, q.Source, int64(1))
						}
						if err := s.ExecuteBatch(bt); err != nil {
							errs.Add(1)
						}
					}
				}
			}()
		}
		start := time.Now()
		for _, k := range keys {
			work <- groups[k]
		}
		close(work)
		wg.Wait()
		raw := time.Since(start)
		if errs.Load() > 0 {
			b.Fatalf("%d batch errors", errs.Load())
		}
		// The store on the same quotes (another symbol prefix so rows are new).
		for i := range qs {
			qs[i].Symbol = "X" + qs[i].Symbol
		}
		start = time.Now()
		var swg sync.WaitGroup
		chunks := make(chan []quote.Quote)
		for range 16 {
			swg.Add(1)
			go func() {
				defer swg.Done()
				for c := range chunks {
					if err := st.WriteQuotes(context.Background(), 1, c); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for i := 0; i < len(qs); i += 200 {
			chunks <- qs[i:min(i+200, len(qs))]
		}
		close(chunks)
		swg.Wait()
		withAnalytics := time.Since(start)
		b.ReportMetric(float64(n)/raw.Seconds(), "raw_rows/s")
		b.ReportMetric(float64(n)/withAnalytics.Seconds(), "store_rows/s")
		b.Logf("raw gocql: %d rows in %v = %.0f rows/s; store.WriteQuotes (with bars, latest, alerts): %v = %.0f rows/s",
			n, raw.Round(time.Millisecond), float64(n)/raw.Seconds(), withAnalytics.Round(time.Millisecond), float64(n)/withAnalytics.Seconds())
	}
}
