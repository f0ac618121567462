package verify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/stream"
)

// On the real Kafka: owner A (token 100) commits a transaction of fetch/SPY,
// B (token 200) opens the same transactional id (fencing A) and commits;
// A's next transaction fails with ErrProducerFenced. CheckRecords reads
// both topics read_committed: A's and B's committed records in order, the
// checkpoints, no violation. A record with A's token written afterwards by
// a plain producer (what a zombie without transactions would do) is found.
func TestIntegration_CheckRecordsFencedProducer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cfg := stream.DefaultConfig()
	cfg.Brokers = testenv.KafkaBrokers(t)
	prefix := testenv.KafkaTopicPrefix(t)
	cfg.Topic, cfg.DLQTopic, cfg.Partitions = prefix+"quotes", prefix+"quotes.dlq", 2
	if err := stream.EnsureTopics(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	cluster := "verify-" + strings.Trim(prefix[len(prefix)-9:], ".")
	day := time.Date(2013, 10, 7, 13, 30, 0, 0, time.UTC)
	bars := func(from, n int) []quote.Quote {
		var qs []quote.Quote
		for i := from; i < from+n; i++ {
			p := 100 + float64(i)/100
			qs = append(qs, quote.Quote{Symbol: "SPY", TS: day.Add(time.Duration(i) * time.Minute), Open: p, High: p, Low: p, Close: p, Volume: 1, Source: "test"})
		}
		return qs
	}
	a, err := stream.NewTxProducer(ctx, cfg, cluster, "fetch/SPY")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	qa := bars(0, 10)
	if err := a.SendFrom(ctx, stream.Origin{Epoch: 1, Token: 100, Node: "a"}, qa, qa[9].Position()); err != nil {
		t.Fatal(err)
	}
	b, err := stream.NewTxProducer(ctx, cfg, cluster, "fetch/SPY")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	qb := bars(10, 10)
	if err := b.SendFrom(ctx, stream.Origin{Epoch: 1, Token: 200, Node: "b"}, qb, qb[9].Position()); err != nil {
		t.Fatal(err)
	}
	if err := a.SendFrom(ctx, stream.Origin{Epoch: 1, Token: 100, Node: "a"}, bars(20, 5), time.Time{}); !errors.Is(err, stream.ErrProducerFenced) {
		t.Fatalf("A after B's initialisation: %v; want ErrProducerFenced", err)
	}
	sum, vs, err := CheckRecords(ctx, cfg.Brokers, cfg.Topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 0 {
		t.Fatalf("violations: %+v", vs)
	}
	// 20 quotes + 2 checkpoints, tokens 100 and 200 of one task in each topic.
	if sum.Records != 22 || sum.WithToken != 22 || sum.Owners != 4 || sum.Tasks != 2 || len(sum.Topics) != 2 ||
		sum.Topics[1] != cfg.CheckpointTopicName() {
		t.Fatalf("summary %+v; want 22 records with tokens, 2 owners in each of 2 topics", sum)
	}

	// A zombie without transactions: a plain producer's record with A's token.
	p, err := stream.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SendFrom(ctx, stream.Origin{Epoch: 1, Token: 100, Node: "a", Task: "fetch/SPY"}, bars(30, 1)); err != nil {
		t.Fatal(err)
	}
	_, vs, err = CheckRecords(ctx, cfg.Brokers, cfg.Topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertViolation(t, vs, "a record of fetch/SPY with token 100 (a) is visible after offset")
	if len(vs) != 1 {
		t.Fatalf("%d violations; want 1: %+v", len(vs), vs)
	}
}
