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

// A Jakarta symbol's dates are its own: `rebuild bars --from D --to D` and
// `query bars --from D --to D+1` take D in Asia/Jakarta (the zone its
// quotes named, store.Zone), and the table shows its times there.
func TestIntegration_RebuildAndQueryInTheSymbolsZone(t *testing.T) {
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
	wib, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		t.Fatal(err)
	}
	// 09:00 WIB of 2024-03-04 and 05 (02:00 UTC; 21:00 EST of the day before).
	var qs []quote.Quote
	for i, ts := range []time.Time{time.Date(2024, 3, 4, 9, 0, 0, 0, wib), time.Date(2024, 3, 4, 9, 1, 0, 0, wib), time.Date(2024, 3, 5, 9, 0, 0, 0, wib)} {
		p := 9000 + float64(i)
		qs = append(qs, quote.Quote{Symbol: "BBCA.JK", TS: ts.UTC(), Open: p, High: p + 5, Low: p - 5, Close: p, Volume: 100, Source: "yahoo", TZ: "Asia/Jakarta"})
	}
	if err := s.WriteQuotes(ctx, 1, qs); err != nil {
		t.Fatal(err)
	}
	if err := sess.Query("TRUNCATE " + ks + ".bars").Exec(); err != nil {
		t.Fatal(err)
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
	if out := run("rebuild", "bars", "BBCA.JK", "--from", "2024-03-04", "--to", "2024-03-04"); !strings.Contains(out, "BBCA.JK: rebuilt 1 day(s) 2024-03-04..2024-03-04") {
		t.Errorf("rebuild bars printed %q", out)
	}
	bars, err := s.Bars(ctx, "BBCA.JK", store.Interval1d, qs[0].TS.Add(-48*time.Hour), qs[2].TS.Add(48*time.Hour), 0)
	// The test's own 1d bar: local midnight of 2024-03-04 in Jakarta.
	if err != nil || len(bars) != 1 || !bars[0].TS.Equal(time.Date(2024, 3, 4, 0, 0, 0, 0, wib)) ||
		!bars[0].Day.Equal(time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)) || bars[0].Count != 2 {
		t.Fatalf("1d bars after rebuilding 2024-03-04: %+v, %v; want the one of 2024-03-04 (Jakarta), 2 quotes", bars, err)
	}
	out := run("query", "bars", "BBCA.JK", "--interval", "1d", "--from", "2024-03-04", "--to", "2024-03-05")
	if !strings.Contains(out, "start (Asia/Jakarta)") || !strings.Contains(out, "2024-03-04 00:00") || strings.Contains(out, "2024-03-05") {
		t.Errorf("query bars 1d of 2024-03-04 (Jakarta):\n%s", out)
	}
	out = run("query", "quotes", "BBCA.JK", "--from", "2024-03-04T09:00", "--to", "2024-03-04T09:01")
	if !strings.Contains(out, "time (Asia/Jakarta)") || !strings.Contains(out, "2024-03-04 09:00") || strings.Contains(out, "09:01") {
		t.Errorf("query quotes 09:00-09:01 WIB:\n%s", out)
	}
}
