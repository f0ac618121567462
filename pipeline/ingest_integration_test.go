package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/metrics"
	"github.com/stock-system/stocksys/pipeline"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
	"github.com/stock-system/stocksys/zkapi"
)

func TestDeadLetterError(t *testing.T) {
	for _, tt := range []struct {
		n      int
		offset int64
		reason string
		want   string
	}{
		{1, 0, "bad json", "dead-lettered 1 message (last: offset 0: bad json)"},
		{3, 1234, "stream: decode: unexpected end", "dead-lettered 3 messages (last: offset 1234: stream: decode: unexpected end)"},
	} {
		if got := pipeline.DeadLetterError(tt.n, tt.offset, tt.reason); got != tt.want {
			t.Errorf("DeadLetterError(%d, %d, %q) = %q; want %q", tt.n, tt.offset, tt.reason, got, tt.want)
		}
	}
}

// TestIntegration_IngestDeadLetterIsLastError: on the real servers, a worker
// runs ingest/0 with the real runner over a partition holding valid quotes
// and two malformed messages (raw bytes, no headers). Once the partition is
// ingested (committed offset at the high-water mark), the task is still
// running, its last error, in the worker's snapshot and in the status/<node>
// it published, names 2 dead letters and the second one's offset and reason
// (read back from the dead-letter topic's headers), and the dead-letter
// metric counts 2 for partition 0.
func TestIntegration_IngestDeadLetterIsLastError(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	scfg := stream.DefaultConfig()
	scfg.Brokers = testenv.KafkaBrokers(t)
	prefix := testenv.KafkaTopicPrefix(t)
	scfg.Topic, scfg.DLQTopic, scfg.Partitions = prefix+"quotes", prefix+"quotes.dlq", 1
	scfg.RetryInitialInterval, scfg.RetryMaxInterval = 20*time.Millisecond, 200*time.Millisecond
	if err := stream.EnsureTopics(ctx, scfg); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	ks, _ := testenv.CassandraKeyspace(t)
	ccfg := store.DefaultConfig()
	ccfg.Hosts, ccfg.Keyspace, ccfg.Consistency = testenv.CassandraHosts(t), ks, "ONE"
	st, err := store.Open(ctx, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// The partition: quote, junk, quote, junk, quote (offsets 0..4).
	prod, err := stream.NewProducer(scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	kc := testenv.KafkaConfig(t)
	kc.Producer.Return.Successes = true
	raw, err := sarama.NewSyncProducer(scfg.Brokers, kc)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	base := time.Date(2013, 10, 7, 13, 30, 0, 0, time.UTC)
	var junk []int64 // offsets of the malformed messages
	for i := range 5 {
		if i%2 == 1 {
			_, off, err := raw.SendMessage(&sarama.ProducerMessage{Topic: scfg.Topic, Key: sarama.StringEncoder("SPY"),
				Value: sarama.ByteEncoder([]byte("\x00\xffnot a quote " + strconv.Itoa(i)))})
			if err != nil {
				t.Fatal(err)
			}
			junk = append(junk, off)
			continue
		}
		p := 100 + float64(i)
		q := quote.Quote{Symbol: "SPY", TS: base.Add(time.Duration(i) * time.Minute), Open: p, High: p, Low: p, Close: p, Volume: 100, Source: "test"}
		if err := prod.Send(ctx, 1, "node-0", "fetch/SPY", []quote.Quote{q}); err != nil {
			t.Fatal(err)
		}
	}
	if len(junk) != 2 || junk[0] != 1 || junk[1] != 3 {
		t.Fatalf("malformed messages at offsets %v; want [1 3] (one producer after the other on one partition)", junk)
	}

	// The worker, running the real ingest runner.
	m := metrics.New()
	root := testenv.ZKRoot(t)
	p := tasks.NewPaths(root)
	admin := testenv.ZKConn(t, 10*time.Second)
	if err := p.EnsureLayout(admin); err != nil {
		t.Fatal(err)
	}
	sc := session.DefaultConfig(testenv.ZKServers(t)...)
	sc.Timeout = 6 * time.Second
	s, err := session.New(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	w, err := worker.New(s, worker.Config{NodeID: "node-1", Root: root, StatusInterval: 50 * time.Millisecond, Logger: log,
		Runners: map[tasks.Type]worker.Runner{tasks.TypeIngest: &pipeline.Ingest{Stream: scfg, Sink: pipeline.StoreSink{Store: st},
			Counters: m.Ingester(), Logger: log}}})
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() {
		wcancel()
		if err := <-done; err != nil {
			t.Errorf("worker.Run = %v; want nil after cancel", err)
		}
		s.Close()
	}()
	data, _ := json.Marshal(tasks.AssignmentDoc{Node: "node-1", Session: tasks.SessionID(s.ID()), Epoch: 1,
		Tasks: []tasks.ID{"ingest/0"}, Written: time.Now()})
	if _, err := admin.Create(p.Assignment("node-1"), data, 0, zkapi.OpenACL()); err != nil {
		t.Fatalf("assign ingest/0: %v", err)
	}

	// The reason of the second dead letter, as the DLQ topic's headers give it.
	reason := dlqReason(ctx, t, scfg, junk[1])
	want := fmt.Sprintf("dead-lettered 2 messages (last: offset %d: %s)", junk[1], reason)

	var snap, pub tasks.TaskStatus
	next := int64(-1)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		snap = w.Snapshot().Tasks["ingest/0"]
		var doc tasks.StatusDoc
		if _, err := tasks.ReadJSON(admin, p.StatusOf("node-1"), &doc); err == nil {
			pub = doc.Tasks["ingest/0"]
		}
		if n, _, found, err := st.LoadOffset(ctx, scfg.Topic, 0); err == nil && found {
			next = n
		}
		if next == 5 && snap.LastError == want && pub.LastError == want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("ingest/0: state %s, last error %q, committed offset %d", snap.State, snap.LastError, next)
	if next != 5 {
		t.Errorf("committed offset %d; want 5 (every message handled)", next)
	}
	if snap.LastError != want || pub.LastError != want {
		t.Errorf("last error: snapshot %q, published %q; want %q", snap.LastError, pub.LastError, want)
	}
	if snap.State != tasks.StateRunning {
		t.Errorf("state %q; want running (a dead letter is not fatal)", snap.State)
	}
	if got := counterValue(t, m, "stocksys_messages_dead_lettered_total", "partition", "0"); got != 2 {
		t.Errorf("stocksys_messages_dead_lettered_total{partition=\"0\"} = %v; want 2", got)
	}
	// The split of the readable latency: one observation per stored quote
	// in each part, and the parts add up to the readable latency.
	var split float64
	for _, name := range []string{"stocksys_ingest_delivery_seconds", "stocksys_ingest_wait_seconds", "stocksys_ingest_write_seconds"} {
		n, sum := summaryValue(t, m, name)
		if n != 3 || sum < 0 {
			t.Errorf("%s: %d observations, sum %v s; want 3 (the valid quotes), >= 0", name, n, sum)
		}
		split += sum
	}
	if n, sum := summaryValue(t, m, "stocksys_ingest_readable_seconds"); n != 3 || math.Abs(sum-split) > 1e-6 {
		t.Errorf("readable: %d observations, sum %v s; want 3, the split's sum %v s", n, sum, split)
	}
	rows, err := st.Rows(ctx, "SPY", base, base.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Errorf("%d SPY rows stored; want the 3 valid quotes", len(rows))
	}
}

// dlqReason returns the reason header of the dead letter of the message at
// offset of partition 0 of the quotes topic, waiting for it.
func dlqReason(ctx context.Context, t *testing.T, cfg stream.Config, offset int64) string {
	t.Helper()
	cons, err := sarama.NewConsumer(cfg.Brokers, testenv.KafkaConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	parts, err := cons.Partitions(cfg.DLQTopic)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 {
		t.Fatalf("%s has partitions %v; want one", cfg.DLQTopic, parts)
	}
	pc, err := cons.ConsumePartition(cfg.DLQTopic, parts[0], sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for {
		select {
		case m := <-pc.Messages():
			h := map[string]string{}
			for _, x := range m.Headers {
				h[string(x.Key)] = string(x.Value)
			}
			if h[stream.HeaderOriginalOffset] == strconv.FormatInt(offset, 10) && h[stream.HeaderOriginalPartition] == "0" {
				if h[stream.HeaderReason] == "" {
					t.Fatalf("dead letter of offset %d has no reason", offset)
				}
				return h[stream.HeaderReason]
			}
		case <-ctx.Done():
			t.Fatalf("no dead letter of offset %d in %s: %v", offset, cfg.DLQTopic, ctx.Err())
		}
	}
}

// counterValue returns the value of counter name with label = value in m's
// registry (0 if absent).
// summaryValue returns the observation count and sum of the summary name.
func summaryValue(t *testing.T, m *metrics.Metrics, name string) (uint64, float64) {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			s := f.GetMetric()[0].GetSummary()
			return s.GetSampleCount(), s.GetSampleSum()
		}
	}
	return 0, 0
}

func counterValue(t *testing.T, m *metrics.Metrics, name, label, value string) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, c := range f.GetMetric() {
			for _, l := range c.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return c.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
