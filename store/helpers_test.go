package store

import (
	"context"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
)

// openTest opens a Store on a fresh keyspace (consistency ONE: one node).
func openTest(t *testing.T) *Store {
	t.Helper()
	ks, _ := testenv.CassandraKeyspace(t)
	cfg := DefaultConfig()
	cfg.Hosts = testenv.CassandraHosts(t)
	cfg.Keyspace = ks
	cfg.Consistency = "ONE"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// et returns the instant of an Eastern wall-clock time.
func et(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, quote.Eastern).UTC()
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func fp(f float64) *float64 { return &f }

// q builds a quote with the given close; open/high/low derive from it.
func q(sym string, ts time.Time, o, h, l, c float64, v int64) quote.Quote {
	return quote.Quote{Symbol: sym, TS: ts, Open: o, High: h, Low: l, Close: c, Volume: v, Source: "test"}
}
