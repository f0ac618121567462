package main

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/store"
)

// runQuery runs `stocksys query ARGS...` in process and returns its output
// and error.
func runQuery(ctx context.Context, args ...string) (string, error) {
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(append([]string{"query"}, args...))
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

// Bad flags fail before any connection, with an error naming the flag. The
// Cassandra address is a closed port, so an error that got as far as
// connecting would name Cassandra instead.
func TestQueryTicksBadFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ticks", "SPY"}, "--day is required"},
		{[]string{"ticks", "SPY", "--day", "2013-13-01"}, `--day "2013-13-01": want a trading day YYYY-MM-DD`},
		{[]string{"ticks", "SPY", "--day", "20131007"}, `--day "20131007"`},
		{[]string{"ticks", "SPY", "--day", "2013-10-07T09:30"}, `--day "2013-10-07T09:30"`},
		{[]string{"ticks", "SPY", "--day", "2013-10-07", "--limit", "-1"}, "--limit -1: must not be negative"},
		{[]string{"ticks", "SPY", "--day", "2013-10-07", "--limit", "x"}, `invalid argument "x" for "--limit"`},
		{[]string{"ticks", "SPY", "--day", "2013-10-07", "--from", "2013-10-07"}, "unknown flag: --from"},
		{[]string{"ticks", "kc/1", "--day", "2013-10-07"}, "kc/1"},
		{[]string{"ticks", "--day", "2013-10-07"}, "accepts 1 arg(s), received 0"},
		{[]string{"bars", "SPY", "--interval", "2m"}, `--interval "2m": want 1m, 5m, 1h or 1d`},
	} {
		_, err := runQuery(t.Context(), append(tt.args, "--cassandra", "127.0.0.1:1")...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("query %v: %v; want an error containing %q", tt.args, err, tt.want)
		}
	}
}

func TestEasternDay(t *testing.T) {
	for _, tt := range []struct {
		day      string
		from, to string // UTC
	}{
		{"2013-10-07", "2013-10-07T04:00:00Z", "2013-10-08T04:00:00Z"}, // EDT
		{"2020-12-01", "2020-12-01T05:00:00Z", "2020-12-02T05:00:00Z"}, // EST
		{"2020-11-01", "2020-11-01T04:00:00Z", "2020-11-02T05:00:00Z"}, // DST ends: 25 hours
		{"2021-03-14", "2021-03-14T05:00:00Z", "2021-03-15T04:00:00Z"}, // DST starts: 23 hours
	} {
		from, to, err := tradingDay("day", tt.day, quote.Eastern)
		if err != nil || from.Format(time.RFC3339) != tt.from || to.Format(time.RFC3339) != tt.to {
			t.Errorf("tradingDay(%s) = %v, %v, %v; want %s, %s", tt.day, from, to, err, tt.from, tt.to)
		}
	}
}

func testTicks() []store.Row {
	bid, ask := 167.95, 168.01
	ts := time.Date(2013, 10, 7, 9, 30, 0, 123_000_000, quote.Eastern).UTC()
	tick := func(seq int32, p float64, size int64, flag string) store.Row {
		r := store.Row{Quote: quote.Quote{Symbol: "SPY", TS: ts, Open: p, High: p, Low: p, Close: p, Volume: size,
			Source: "replay:lean-tick", Kind: quote.KindTrade, Seq: seq, Exchange: "P", Condition: "20002000", Flag: flag}, Epoch: 7}
		return r
	}
	a, b, c := tick(0, 167.99, 100, ""), tick(1, 168.9, 500000, quote.FlagOffMedian), tick(2, 168, 1, "")
	a.Bid, a.Ask = &bid, &ask
	c.TS = c.TS.Add(time.Second)
	return []store.Row{a, b, c}
}

// The JSON form: one object per line with exactly the documented fields,
// times in RFC 3339 UTC with milliseconds, bid/ask null when absent.
func TestWriteTicksJSON(t *testing.T) {
	var out bytes.Buffer
	if err := writeTicks(&out, testTicks(), true, quote.Eastern); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines; want 3:\n%s", len(lines), out.String())
	}
	want := `{"symbol":"SPY","ts":"2013-10-07T13:30:00.123Z","seq":0,"price":167.99,"size":100,"exchange":"P","condition":"20002000","bid":167.95,"ask":168.01,"flag":"","source":"replay:lean-tick","epoch":7}`
	if lines[0] != want {
		t.Errorf("line 1:\n%s\nwant\n%s", lines[0], want)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &m); err != nil {
		t.Fatal(err)
	}
	if m["bid"] != nil || m["ask"] != nil || m["flag"] != "off_median" || m["seq"] != 1.0 || m["size"] != 500000.0 {
		t.Errorf("line 2: %v", m)
	}
	if !strings.Contains(lines[2], `"ts":"2013-10-07T13:30:01.123Z","seq":2`) {
		t.Errorf("line 3: %s", lines[2])
	}
	// An empty result prints nothing (no "null", no "[]").
	out.Reset()
	if err := writeTicks(&out, nil, true, quote.Eastern); err != nil || out.Len() != 0 {
		t.Errorf("no ticks: %q, %v; want no output", out.String(), err)
	}
}

func TestWriteTicksTable(t *testing.T) {
	var out bytes.Buffer
	if err := writeTicks(&out, testTicks(), false, quote.Eastern); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines; want a header and 3:\n%s", len(lines), out.String())
	}
	if f := strings.Fields(lines[0]); !slices.Equal(f, []string{"symbol", "time", "(US/Eastern)", "seq", "price", "size", "exchange", "condition", "bid", "ask", "flag"}) {
		t.Errorf("header %q", lines[0])
	}
	if f := strings.Fields(lines[1]); !slices.Equal(f, []string{"SPY", "2013-10-07", "09:30:00.123", "0", "167.9900", "100", "P", "20002000", "167.9500", "168.0100"}) {
		t.Errorf("row 1 %q", f)
	}
	if f := strings.Fields(lines[2]); !slices.Equal(f, []string{"SPY", "2013-10-07", "09:30:00.123", "1", "168.9000", "500000", "P", "20002000", "-", "-", "off_median"}) {
		t.Errorf("row 2 %q", f)
	}
}

// On the real Cassandra: ticks written through the store come back from
// `stocksys query ticks` (JSON lines and table, the Eastern day only, in
// (ts, seq) order, --limit), and `query bars --interval 1m` gives the 1m
// bars store.ComputeBars makes of them.
func TestIntegration_QueryTicks(t *testing.T) {
	ks, _ := testenv.CassandraKeyspace(t)
	hosts := strings.Join(testenv.CassandraHosts(t), ",")
	cfg := store.DefaultConfig()
	cfg.Hosts, cfg.Keyspace, cfg.Consistency = testenv.CassandraHosts(t), ks, "ONE"
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// 10 ticks of 2013-10-07 from 19:58 to 20:00 Eastern, 3 per millisecond
	// (one flagged suspicious), and a tick at 2013-10-08 00:00 Eastern, which
	// is on the next day.
	base := time.Date(2013, 10, 7, 19, 58, 0, 0, quote.Eastern).UTC()
	var ticks []quote.Quote
	bid := 168.1
	for i := range 10 {
		p := 168 + float64(i)/100
		q := quote.Quote{Symbol: "SPY", TS: base.Add(time.Duration(i/3) * 40 * time.Second).Add(7 * time.Millisecond),
			Seq: int32(i % 3), Kind: quote.KindTrade, Open: p, High: p, Low: p, Close: p, Volume: int64(100 * (i + 1)),
			Source: "replay:lean-tick", Exchange: "P", Condition: "20002000"}
		if i%2 == 0 {
			q.Bid = &bid
		}
		if i == 5 {
			q.Flag = quote.FlagSuspicious
		}
		ticks = append(ticks, q)
	}
	next := quote.Quote{Symbol: "SPY", TS: time.Date(2013, 10, 8, 0, 0, 0, 0, quote.Eastern).UTC(), Kind: quote.KindTrade,
		Open: 170, High: 170, Low: 170, Close: 170, Volume: 5, Source: "replay:lean-tick", Exchange: "Q", Condition: "0"}
	if err := s.WriteQuotes(ctx, 3, append(slices.Clone(ticks), next)); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--cassandra", hosts, "--keyspace", ks, "--consistency", "ONE"}

	out, err := runQuery(ctx, append([]string{"ticks", "spy", "--day", "2013-10-07", "--json", "--limit", "0"}, conn...)...)
	if err != nil {
		t.Fatalf("query ticks --json: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(ticks) {
		t.Fatalf("%d lines; want %d (the day's ticks only):\n%s", len(lines), len(ticks), out)
	}
	keys := []string{"ask", "bid", "condition", "epoch", "exchange", "flag", "price", "seq", "size", "source", "symbol", "ts"}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d %q: %v", i+1, line, err)
		}
		var got []string
		for k := range m {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, keys) {
			t.Errorf("line %d keys %v; want %v", i+1, got, keys)
		}
		w := ticks[i]
		var wantBid any
		if w.Bid != nil {
			wantBid = *w.Bid
		}
		ts, _ := m["ts"].(string)
		if ts != w.TS.Format("2006-01-02T15:04:05.000Z") || m["seq"] != float64(w.Seq) || m["price"] != w.Close ||
			m["size"] != float64(w.Volume) || m["symbol"] != "SPY" || m["exchange"] != "P" || m["condition"] != "20002000" ||
			m["bid"] != wantBid || m["ask"] != nil || m["flag"] != w.Flag || m["source"] != "replay:lean-tick" || m["epoch"] != 3.0 {
			t.Errorf("line %d: %s; want tick %+v", i+1, line, w)
		}
	}

	out, err = runQuery(ctx, append([]string{"ticks", "SPY", "--day", "2013-10-07", "--limit", "4"}, conn...)...)
	if err != nil {
		t.Fatalf("query ticks: %v", err)
	}
	rows := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(rows) != 5 || !strings.Contains(rows[0], "time (US/Eastern)") ||
		!slices.Equal(strings.Fields(rows[1]), []string{"SPY", "2013-10-07", "19:58:00.007", "0", "168.0000", "100", "P", "20002000", "168.1000", "-"}) ||
		!strings.HasPrefix(strings.Fields(rows[4])[2], "19:58:40.007") {
		t.Errorf("table (--limit 4):\n%s", out)
	}
	out, err = runQuery(ctx, append([]string{"ticks", "SPY", "--day", "2013-10-08", "--json"}, conn...)...)
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"ts":"2013-10-08T04:00:00.000Z","seq":0,"price":170`) {
		t.Errorf("2013-10-08: %q, %v; want the one tick at Eastern midnight", out, err)
	}
	out, err = runQuery(ctx, append([]string{"ticks", "SPY", "--day", "2013-10-06", "--json"}, conn...)...)
	if err != nil || out != "" {
		t.Errorf("a day without ticks: %q, %v; want no output", out, err)
	}

	out, err = runQuery(ctx, append([]string{"bars", "SPY", "--interval", "1m", "--from", "2013-10-07", "--to", "2013-10-08", "--json", "--limit", "0"}, conn...)...)
	if err != nil {
		t.Fatalf("query bars --interval 1m: %v", err)
	}
	var bars []store.Bar
	if err := json.Unmarshal([]byte(out), &bars); err != nil {
		t.Fatalf("bars JSON: %v\n%s", err, out)
	}
	want := store.ComputeBars(ticks, store.Interval1m)
	for i := range bars {
		bars[i].Day, bars[i].TS = bars[i].Day.UTC(), bars[i].TS.UTC()
	}
	if len(want) != 3 || !reflect.DeepEqual(bars, want) {
		t.Errorf("1m bars:\n%+v\nwant\n%+v", bars, want)
	}
	out, err = runQuery(ctx, append([]string{"bars", "SPY", "--interval", "1m", "--from", "2013-10-07", "--to", "2013-10-08"}, conn...)...)
	if err != nil || strings.Count(out, "\n") != 4 || !strings.Contains(out, "2013-10-07 19:59") {
		t.Errorf("1m bars table: %v\n%s", err, out)
	}
}
