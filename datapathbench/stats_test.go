package datapathbench

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // 1..100 ms, reversed
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0.001, time.Millisecond}} {
		if got := Quantile(ds, c.p); got != c.want {
			t.Errorf("Quantile(1..100 ms, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("Quantile sorted its argument")
	}
	if Quantile(nil, 0.5) != 0 || Quantile([]time.Duration{7}, 0.99) != 7 {
		t.Error("empty or single")
	}
	// 1000 samples: p99 is the 990th smallest.
	ds = ds[:0]
	for i := 1; i <= 1000; i++ {
		ds = append(ds, time.Duration(i))
	}
	if got := Quantile(ds, 0.99); got != 990 {
		t.Errorf("p99 of 1..1000 = %v, want 990", got)
	}
}

func TestThroughput(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	pts := []Point{{at(0), 0}, {at(100), 0}, {at(200), 1000}, {at(300), 5000}, {at(1200), 9000}, {at(2200), 10000}, {at(2300), 10000}}
	rate, first, last, err := Throughput(pts, 10000)
	if err != nil {
		t.Fatal(err)
	}
	// (10000 - 1000) rows / (2.2 - 0.2) s
	if math.Abs(rate-4500) > 1e-9 || first.N != 1000 || !last.T.Equal(at(2200)) {
		t.Fatalf("rate %v first %+v last %+v", rate, first, last)
	}
	if _, _, _, err := Throughput(pts[:2], 10000); err == nil {
		t.Error("no rows: no error")
	}
	if _, _, _, err := Throughput(pts[:5], 10000); err == nil {
		t.Error("not all rows: no error")
	}
	if _, _, _, err := Throughput([]Point{{at(0), 0}, {at(100), 10000}}, 10000); err == nil {
		t.Error("first and all in one scrape: no error")
	}
}

const metricsText = `# HELP stocksys_quotes_ingested_total Quotes stored.
# TYPE stocksys_quotes_ingested_total counter
stocksys_quotes_ingested_total{partition="0"} 120
stocksys_quotes_ingested_total{partition="3"} 5.5e3

stocksys_quotes_produced_total{symbol="SPY"} 7000 1700000000000
stocksys_ingest_readable_seconds{quantile="0.5"} 0.0123
stocksys_ingest_readable_seconds{quantile="0.99"} 0.25
stocksys_ingest_readable_seconds{quantile="0.999"} NaN
stocksys_ingest_readable_seconds_sum 99.5
stocksys_ingest_readable_seconds_count 5620
weird{a="x\"y,z}",b="line\nbreak", c = "back\\slash"} +Inf
go_goroutines 42
`

func TestParseMetrics(t *testing.T) {
	ss, err := ParseMetrics(strings.NewReader(metricsText))
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 10 {
		t.Fatalf("%d samples: %+v", len(ss), ss)
	}
	if got := Sum(ss, metricIngested); got != 5620 {
		t.Errorf("ingested %v, want 5620", got)
	}
	if got := Sum(ss, metricProduced); got != 7000 {
		t.Errorf("produced %v (a timestamp must not be the value)", got)
	}
	w := ss[8]
	if w.Name != "weird" || w.Labels["a"] != `x"y,z}` || w.Labels["b"] != "line\nbreak" || w.Labels["c"] != `back\slash` || !math.IsInf(w.Value, 1) {
		t.Errorf("escapes: %+v", w)
	}
	sum := SummaryOf(ss, metricReadable)
	if sum.Count != 5620 || sum.Sum != 99.5 || sum.Quantiles[0.5] != 0.0123 || sum.Quantiles[0.99] != 0.25 || !math.IsNaN(sum.Quantiles[0.999]) {
		t.Errorf("summary %+v", sum)
	}
	if m := sum.Mean(); m != 99.5/5620 {
		t.Errorf("mean %v; want %v", m, 99.5/5620)
	}
	if m := (Summary{}).Mean(); m != 0 {
		t.Errorf("mean of no observations %v; want 0", m)
	}
	for _, bad := range []string{`x{a="b"`, `x{a=b} 1`, `x{a="b} 1`, `x`, `x 1 2 3`, `x{a="b"} one`} {
		if _, err := ParseMetrics(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestPickSummary(t *testing.T) {
	nan := math.NaN()
	idle := Summary{Count: 0, Quantiles: map[float64]float64{0.5: nan, 0.99: nan}}
	busy := Summary{Count: 10, Quantiles: map[float64]float64{0.5: 0.01, 0.99: 0.2}}
	if i := PickSummary([]Summary{idle, busy}); i != 1 {
		t.Errorf("idle, busy: %d", i)
	}
	if i := PickSummary([]Summary{busy, idle}); i != 0 {
		t.Errorf("busy, idle: %d", i)
	}
	if i := PickSummary([]Summary{{Count: 3}, busy}); i != 1 {
		t.Errorf("both: %d, want the one with the most", i)
	}
	if i := PickSummary([]Summary{idle, idle}); i != -1 {
		t.Errorf("none: %d", i)
	}
}

func TestOfferedRateAndRatios(t *testing.T) {
	if OfferedRate(31725.3, 0.1) != 3173 || OfferedRate(31725.3, 0.5) != 15863 || OfferedRate(3, 0.1) != 1 {
		t.Error("OfferedRate")
	}
	r := &Result{RawGocqlRowsPerS: 60000, PipelineRowsPerS: 30000, PipelineP99MsAt50pct: 100, FloorKafkaP99Ms: 6, FloorCassandraP99Ms: 4}
	r.Ratios()
	if r.ThroughputRatio != 0.5 || r.LatencyRatio != 10 {
		t.Errorf("ratios %v %v", r.ThroughputRatio, r.LatencyRatio)
	}
	r = &Result{}
	r.Ratios()
	if r.ThroughputRatio != 0 || r.LatencyRatio != 0 {
		t.Error("ratios of nothing")
	}
}

func TestBatching(t *testing.T) {
	r := Row{Exchange: "P", Condition: "20002000", Source: rowSource}
	// 16 + 8 + 4 + 3*(16+8) + 4*16 + 1 + 8 + 0 + 16 (store/write.go's tickRowBytes)
	if n := TickRowBytes(r); n != 189 {
		t.Fatalf("TickRowBytes %d, want 189", n)
	}
	r.Flag = "suspicious"
	if n := TickRowBytes(r); n != 199 {
		t.Fatalf("TickRowBytes flagged %d, want 199", n)
	}
	sizes := []int{189, 189, 5000, 100, 4000, 96, 1}
	got := SplitBatches(sizes, 4096)
	want := [][2]int{{0, 2}, {2, 3}, {3, 4}, {4, 6}, {6, 7}}
	if len(got) != len(want) {
		t.Fatalf("SplitBatches %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("SplitBatches %v, want %v", got, want)
		}
	}
	// 21 rows of 189 B fit 4 KiB, 22 do not.
	s := make([]int, 1000)
	for i := range s {
		s[i] = 189
	}
	for _, b := range SplitBatches(s, StoreBatchMaxBytes)[:47] {
		if b[1]-b[0] != 21 {
			t.Fatalf("batch %v: want 21 rows", b)
		}
	}
	if SplitBatches(nil, 4096) != nil {
		t.Error("no items")
	}
}

func TestParseProc(t *testing.T) {
	rss, err := parseVmRSS([]byte("Name:\tstocksys\nVmPeak:\t 999 kB\nVmRSS:\t   46080 kB\nThreads: 9\n"))
	if err != nil || rss != 45 {
		t.Errorf("VmRSS %v %v", rss, err)
	}
	if _, err := parseVmRSS([]byte("Name: x\n")); err == nil {
		t.Error("no VmRSS: no error")
	}
	if v, err := RSSMiB(os.Getpid()); err != nil || v <= 0 {
		t.Errorf("own RSS %v %v", v, err)
	}
	// comm with spaces and parentheses; utime 250, stime 50 ticks = 3 s.
	cpu, err := parseProcStat("1234 (my (odd) cmd) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 9 0 100")
	if err != nil || cpu != 3*time.Second {
		t.Errorf("proc stat cpu %v %v", cpu, err)
	}
	m, err := parseMachineStat("cpu  100 10 50 800 40 0 0 0 0 0\ncpu0 1 2 3 4\n")
	if err != nil || m.Total != 10*time.Second || m.Busy != 1600*time.Millisecond {
		t.Errorf("machine %+v %v", m, err)
	}
	if p := BusyPct(MachineCPU{Busy: time.Second, Total: 4 * time.Second}, MachineCPU{Busy: 2 * time.Second, Total: 6 * time.Second}); p != 50 {
		t.Errorf("BusyPct %v", p)
	}
}

func validConfig(t *testing.T) Config {
	t.Helper()
	data := t.TempDir()
	for _, s := range []string{"spy", "bac", "ibm"} {
		p := filepath.Join(data, "lean-ticks", s, TickDay+"_trade.zip")
		if err := WriteTickZip(p, &TickFile{Inner: "x.csv"}); err != nil {
			t.Fatal(err)
		}
	}
	c := DefaultConfig()
	c.ZK, c.Kafka, c.Cassandra = []string{"127.0.0.1:2181"}, []string{"127.0.0.1:9092"}, []string{"127.0.0.1:9042"}
	c.Bin, c.Data = "/bin/true", data
	return c
}

func TestConfigValidate(t *testing.T) {
	c := validConfig(t)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*Config){
		"no zk":             func(c *Config) { c.ZK = nil },
		"bad kafka":         func(c *Config) { c.Kafka = []string{"localhost"} },
		"bad cassandra":     func(c *Config) { c.Cassandra = []string{"h:99999"} },
		"no binary":         func(c *Config) { c.Bin = "" },
		"no data":           func(c *Config) { c.Data = t.TempDir() },
		"ticks < 0":         func(c *Config) { c.Ticks = -1 },
		"ticks tiny":        func(c *Config) { c.Ticks = 10 },
		"timeout":           func(c *Config) { c.Timeout = time.Second },
		"floor rate":        func(c *Config) { c.FloorRate = 0 },
		"floor duration":    func(c *Config) { c.FloorDuration = time.Millisecond },
		"latency duration":  func(c *Config) { c.LatencyDuration = 0 },
		"memory symbols":    func(c *Config) { c.MemorySymbols = MaxMemorySymbols + 1 },
		"memory duration":   func(c *Config) { c.MemoryDuration = 0 },
		"session timeout":   func(c *Config) { c.SessionTimeout = time.Minute },
		"profile":           func(c *Config) { c.Profile = -time.Second },
		"no bac for memory": func(c *Config) { _ = os.RemoveAll(filepath.Join(c.Data, "lean-ticks", "bac")) },
	} {
		c := validConfig(t)
		change(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	c = validConfig(t)
	_ = os.RemoveAll(filepath.Join(c.Data, "lean-ticks", "bac"))
	c.MemorySymbols = 0
	if err := c.Validate(); err != nil {
		t.Errorf("no BAC but no memory phase: %v", err)
	}
	// Run refuses a bad config before touching anything.
	c.FloorRate = -1
	if res, err := Run(context.Background(), c); err == nil || res != nil {
		t.Errorf("Run with a bad config: %v, %v", res, err)
	}
}

func TestMemorySymbols(t *testing.T) {
	got := memorySymbols(4, "/d")
	want := [][2]string{{"BAC", "replay:/d/lean-ticks?speed=max"}, {"IBM", "replay:/d/lean-ticks?speed=max"},
		{"SPY.M1", "replay:/d/lean-ticks/spy/20131007_trade.zip?speed=max"}, {"SPY.M2", "replay:/d/lean-ticks/spy/20131007_trade.zip?speed=max"}}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v", got, want)
		}
	}
	if g := memorySymbols(1, "/d"); len(g) != 1 || g[0][0] != "BAC" {
		t.Errorf("1: %v", g)
	}
}

func TestCleanerOrder(t *testing.T) {
	var order []string
	var logs []string
	c := &cleaner{log: func(s string) { logs = append(logs, s) }}
	a := c.add("a", func(context.Context) error { order = append(order, "a"); return nil })
	c.add("b", func(context.Context) error { order = append(order, "b"); return errors.New("boom") })
	c.add("c", func(context.Context) error { order = append(order, "c"); return nil })
	_ = c.run(a) // run early: not again at the end
	err := c.runAll()
	if strings.Join(order, "") != "acb" {
		t.Errorf("order %v, want a (early), then c, b", order)
	}
	if err == nil || !strings.Contains(err.Error(), "b: boom") {
		t.Errorf("runAll error %v", err)
	}
	if len(logs) != 3 {
		t.Errorf("logs %v", logs)
	}
}

func TestHistogramQuantile(t *testing.T) {
	h := func(le string, v float64) Sample {
		return Sample{Name: "h_bucket", Labels: map[string]string{"le": le}, Value: v}
	}
	a := []Sample{h("0.001", 0), h("0.002", 50), h("0.004", 90), h("+Inf", 100), {Name: "h_count", Value: 100}}
	b := []Sample{h("0.001", 0), h("0.002", 0), h("0.004", 0), h("+Inf", 0)}
	if got := HistogramQuantile(0.5, "h", a, b); math.Abs(got-0.002) > 1e-12 {
		t.Errorf("p50 %v, want 0.002", got)
	}
	if got := HistogramQuantile(0.7, "h", a, b); math.Abs(got-0.003) > 1e-12 {
		t.Errorf("p70 %v, want 0.003 (halfway into (0.002, 0.004])", got)
	}
	if got := HistogramQuantile(0.99, "h", a); got != 0.004 {
		t.Errorf("p99 in +Inf: %v, want the highest finite bound", got)
	}
	if got := HistogramQuantile(0.25, "h", a); math.Abs(got-0.0015) > 1e-12 {
		t.Errorf("p25 %v", got)
	}
	if !math.IsNaN(HistogramQuantile(0.5, "h", b)) || !math.IsNaN(HistogramQuantile(0.5, "none", a)) {
		t.Error("no observations: want NaN")
	}
}
