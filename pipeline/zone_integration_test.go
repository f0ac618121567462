package pipeline_test

import (
	"context"
	"encoding/json"
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

// TestIntegration_IngestExchangeZones: on the real servers, the zone of a
// quote reaches the store through Kafka. A partition holds Jakarta bars
// (tz Asia/Jakarta), BTC-USD bars (tz UTC), a message of the old form (no tz
// field) and one naming an unknown zone; the real ingest runner stores the
// first on their Jakarta and UTC days (the test's own dates, from
// time.LoadLocation), the old message on its US/Eastern day, and, with
// quote.Validate as its CheckQuote, dead-letters the unknown zone.
func TestIntegration_IngestExchangeZones(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	scfg := stream.DefaultConfig()
	scfg.Brokers = testenv.KafkaBrokers(t)
	prefix := testenv.KafkaTopicPrefix(t)
	scfg.Topic, scfg.DLQTopic, scfg.Partitions = prefix+"quotes", prefix+"quotes.dlq", 1
	scfg.RetryInitialInterval, scfg.RetryMaxInterval = 20*time.Millisecond, 200*time.Millisecond
	// The ingest-side check stream.Config.CheckQuote documents: quote.Validate.
	scfg.CheckQuote = func(q quote.Quote) error { return quote.Validate(q, time.Now()) }
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

	wib, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		t.Fatal(err)
	}
	bar := func(sym string, ts time.Time, tz string) quote.Quote {
		return quote.Quote{Symbol: sym, TS: ts.UTC(), Open: 10, High: 11, Low: 9, Close: 10.5, Volume: 100, Source: "yahoo", TZ: tz}
	}
	jk := []quote.Quote{
		bar("BBCA.JK", time.Date(2024, 3, 4, 9, 0, 0, 0, wib), "Asia/Jakarta"), // 21:00 EST of 03-03
		bar("BBCA.JK", time.Date(2024, 3, 4, 15, 49, 0, 0, wib), "Asia/Jakarta"),
	}
	btc := []quote.Quote{
		bar("BTC-USD", time.Date(2024, 3, 3, 23, 59, 0, 0, time.UTC), "UTC"), // Sunday
		bar("BTC-USD", time.Date(2024, 3, 4, 0, 30, 0, 0, time.UTC), "UTC"),  // 19:30 EST of 03-03
	}
	prod, err := stream.NewProducer(scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.Send(ctx, 1, "node-0", "fetch/BBCA.JK", jk); err != nil {
		t.Fatal(err)
	}
	if err := prod.Send(ctx, 1, "node-0", "fetch/BTC-USD", btc); err != nil {
		t.Fatal(err)
	}
	// A message as written before the tz field, and one with an unknown zone.
	kc := testenv.KafkaConfig(t)
	kc.Producer.Return.Successes = true
	raw, err := sarama.NewSyncProducer(scfg.Brokers, kc)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	old := time.Date(2024, 3, 5, 1, 30, 0, 0, time.UTC) // 20:30 EST of 03-04
	headers := []sarama.RecordHeader{{Key: []byte(stream.HeaderEpoch), Value: []byte("1")}, {Key: []byte(stream.HeaderNode), Value: []byte("node-0")}}
	for _, v := range []string{
		`{"v":1,"symbol":"SPY","ts":"` + old.Format(time.RFC3339Nano) + `","open":10,"high":11,"low":9,"close":10.5,"volume":100,"source":"yahoo"}`,
		`{"v":1,"symbol":"MARS","ts":"` + old.Format(time.RFC3339Nano) + `","open":10,"high":11,"low":9,"close":10.5,"volume":100,"source":"yahoo","tz":"Mars/Olympus"}`,
	} {
		var key struct {
			Symbol string `json:"symbol"`
		}
		_ = json.Unmarshal([]byte(v), &key)
		if _, _, err := raw.SendMessage(&sarama.ProducerMessage{Topic: scfg.Topic, Key: sarama.StringEncoder(key.Symbol),
			Value: sarama.StringEncoder(v), Headers: headers}); err != nil {
			t.Fatal(err)
		}
	}
	const total = 6

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
	next := int64(-1)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && next != total; time.Sleep(50 * time.Millisecond) {
		if n, _, found, err := st.LoadOffset(ctx, scfg.Topic, 0); err == nil && found {
			next = n
		}
	}
	if next != total {
		t.Fatalf("committed offset %d; want %d (every message handled)", next, total)
	}

	// The test's own trading days: each bar's date in its zone.
	ownDay := func(ts time.Time, loc *time.Location) time.Time {
		y, m, d := ts.In(loc).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	for _, c := range []struct {
		sym string
		qs  []quote.Quote
		loc *time.Location
	}{
		{"BBCA.JK", jk, wib},
		{"BTC-USD", btc, time.UTC},
		{"SPY", []quote.Quote{bar("SPY", old, "")}, quote.Eastern},
	} {
		var want []time.Time
		for _, q := range c.qs {
			if d := ownDay(q.TS, c.loc); len(want) == 0 || !want[len(want)-1].Equal(d) {
				want = append(want, d)
			}
		}
		from, to := c.qs[0].TS.Add(-48*time.Hour), c.qs[len(c.qs)-1].TS.Add(48*time.Hour)
		days, err := st.Days(ctx, c.sym, from, to)
		if err != nil || len(days) != len(want) {
			t.Fatalf("%s days %v, %v; want %v", c.sym, days, err, want)
		}
		for i := range want {
			if !days[i].Equal(want[i]) {
				t.Errorf("%s day %d = %v; want %v", c.sym, i, days[i], want[i])
			}
		}
		rows, err := st.Rows(ctx, c.sym, from, to, 0)
		if err != nil || len(rows) != len(c.qs) {
			t.Fatalf("%s rows %+v, %v; want %d", c.sym, rows, err, len(c.qs))
		}
		for i, r := range rows {
			if !r.TS.Equal(c.qs[i].TS) || r.TZ != c.qs[i].TZ || !r.Day().Equal(ownDay(r.TS, c.loc)) {
				t.Errorf("%s row %d: ts %v tz %q day %v; want %v, %q, %v", c.sym, i, r.TS, r.TZ, r.Day(), c.qs[i].TS, c.qs[i].TZ, ownDay(c.qs[i].TS, c.loc))
			}
		}
		bars, err := st.Bars(ctx, c.sym, store.Interval1d, from, to, 0)
		if err != nil || len(bars) != len(want) {
			t.Fatalf("%s 1d bars %+v, %v; want %d", c.sym, bars, err, len(want))
		}
		for i, b := range bars {
			mid := time.Date(want[i].Year(), want[i].Month(), want[i].Day(), 0, 0, 0, 0, c.loc)
			if !b.Day.Equal(want[i]) || !b.TS.Equal(mid) {
				t.Errorf("%s 1d bar %d: day %v ts %v; want %v, local midnight %v", c.sym, i, b.Day, b.TS, want[i], mid.UTC())
			}
		}
	}
	if rows, err := st.Rows(ctx, "MARS", old.Add(-48*time.Hour), old.Add(48*time.Hour), 0); err != nil || len(rows) != 0 {
		t.Errorf("MARS (tz Mars/Olympus): %d rows stored, %v; want it dead-lettered", len(rows), err)
	}
	if got := counterValue(t, m, "stocksys_messages_dead_lettered_total", "partition", "0"); got != 1 {
		t.Errorf("dead letters %v; want 1 (the unknown zone)", got)
	}
}
