package node

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
)

// TestLazyStoreCloseStopsOpen: close stops an open still retrying (a
// Cassandra that refuses connections), waits for it, and leaves no store;
// a start after close does nothing; close twice is fine.
func TestLazyStoreCloseStopsOpen(t *testing.T) {
	cfg := store.DefaultConfig()
	cfg.Hosts, cfg.Keyspace = []string{"127.0.0.1:1"}, "nowhere"
	cfg.ConnectTimeout, cfg.Timeout = 200*time.Millisecond, 200*time.Millisecond
	l := &lazyStore{}
	l.start(context.Background(), cfg, zap.NewNop())
	time.Sleep(300 * time.Millisecond) // at least one failed attempt
	done := make(chan struct{})
	go func() { l.close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("close did not return within 10 s of a retrying open")
	}
	if l.s.Load() != nil {
		t.Fatal("a store is open after close")
	}
	l.start(context.Background(), cfg, zap.NewNop())
	l.mu.Lock()
	started := l.cancel != nil
	l.mu.Unlock()
	if started {
		t.Fatal("start after close started an open")
	}
	l.close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, _, _, err := l.LoadOffset(ctx, "t", 0); !errors.Is(err, errStoreNotReady) {
		t.Fatalf("LoadOffset after close: %v, want errStoreNotReady at once (not the caller's deadline)", err)
	}
}

// TestPartitionCacheKeepsLastList: before any listing, get lists at once
// (and fails when Kafka does not answer); once a list is known, get returns
// it without asking Kafka, also while listings fail.
func TestPartitionCacheKeepsLastList(t *testing.T) {
	cfg := stream.DefaultConfig()
	cfg.Brokers, cfg.Topic, cfg.DLQTopic = []string{"127.0.0.1:1"}, "q", "q.dlq"
	cfg.SendTimeout = 500 * time.Millisecond
	c := &partitionCache{cfg: cfg, ttl: time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ps, err := c.get(ctx); err == nil {
		t.Fatalf("get with no broker = %v; want an error", ps)
	}
	c.last = []int32{0, 1, 2}
	// Kafka does not answer: a list without error cannot come from it.
	ps, err := c.get(ctx)
	if err != nil || len(ps) != 3 {
		t.Fatalf("get with a known list = %v, %v; want [0 1 2]", ps, err)
	}
	done := make(chan struct{})
	rctx, stop := context.WithCancel(ctx)
	go func() { c.refresh(rctx); close(done) }()
	time.Sleep(700 * time.Millisecond) // a failed listing
	if ps, _ := c.get(ctx); len(ps) != 3 {
		t.Fatalf("after a failed refresh get = %v; want the last list", ps)
	}
	stop()
	<-done
}
