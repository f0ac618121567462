package main

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/stock-system/stocksys/store"
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
	if _, _, _, err := l.LoadOffset(ctx, "t", 0); err == nil {
		t.Fatal("LoadOffset after close succeeded")
	}
}
