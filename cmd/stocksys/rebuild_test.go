package main

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/store"
)

// Bars lost with a truncated table come back with `stocksys rebuild bars`,
// equal to the offline aggregation of the stored ticks; `rebuild latest`
// restores the latest row.
func TestIntegration_RebuildBars(t *testing.T) {
	ks, sess := testenv.CassandraKeyspace(t)
	cfg := store.DefaultConfig()
	cfg.Hosts, cfg.Keyspace, cfg.Consistency = testenv.CassandraHosts(t), ks, "ONE"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := time.Date(2013, 10, 7, 9, 30, 0, 0, quote.Eastern).UTC()
	var ticks []quote.Quote
	for i := range 600 {
		p := 160 + float64(i%37)/10
		ticks = append(ticks, quote.Quote{Symbol: "SPY", TS: base.Add(time.Duration(i/2) * 700 * time.Millisecond),
			Seq: int32(i % 2), Kind: quote.KindTrade, Open: p, High: p, Low: p, Close: p, Volume: int64(100 + i), Source: "test"})
	}
	if err := s.WriteQuotes(ctx, 1, ticks); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"bars", "latest"} {
		if err := sess.Query("TRUNCATE " + ks + "." + table).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs(append(args, "--cassandra", strings.Join(cfg.Hosts, ","), "--keyspace", ks, "--consistency", "ONE"))
		if err := cmd.ExecuteContext(ctx); err != nil {
			t.Fatalf("stocksys %v: %v", args, err)
		}
		return out.String()
	}
	if out := run("rebuild", "latest", "SPY"); !strings.Contains(out, "SPY: rebuilt 1 day(s) 2013-10-07..2013-10-07") {
		t.Errorf("rebuild latest printed %q", out)
	}
	l, err := s.Latest(ctx, "SPY")
	if err != nil || len(l) != 1 || l[0].Price != ticks[len(ticks)-1].Close {
		t.Fatalf("latest after rebuild = %+v, %v; want price %v", l, err, ticks[len(ticks)-1].Close)
	}
	if err := sess.Query("TRUNCATE " + ks + ".bars").Exec(); err != nil {
		t.Fatal(err)
	}
	run("rebuild", "bars", "SPY", "--from", "2013-10-07", "--to", "2013-10-07")
	from, to := base.Add(-10*time.Hour), base.Add(10*time.Hour)
	for _, iv := range store.Intervals {
		got, err := s.Bars(ctx, "SPY", iv, from, to, 0)
		if want := store.ComputeBars(ticks, iv); err != nil || len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s bars after rebuild: %d, %v; want %d", iv, len(got), err, len(want))
		}
	}
	// Bad input: an unknown symbol syntax and a day without data.
	cmd := newRootCmd()
	cmd.SetArgs([]string{"rebuild", "bars", "kc/1", "--cassandra", strings.Join(cfg.Hosts, ","), "--keyspace", ks})
	cmd.SetOut(&bytes.Buffer{})
	if err := cmd.ExecuteContext(ctx); err == nil || !strings.Contains(err.Error(), "kc/1") {
		t.Errorf("rebuild bars kc/1: %v; want an error naming the symbol", err)
	}
	cmd = newRootCmd()
	cmd.SetArgs([]string{"rebuild", "bars", "SPY", "--from", "2020-01-01", "--cassandra", strings.Join(cfg.Hosts, ","), "--keyspace", ks})
	cmd.SetOut(&bytes.Buffer{})
	if err := cmd.ExecuteContext(ctx); err == nil || !strings.Contains(err.Error(), "no stored day") {
		t.Errorf("rebuild bars SPY --from 2020-01-01: %v; want no stored day", err)
	}
}
