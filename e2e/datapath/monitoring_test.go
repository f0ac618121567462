package datapath

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/metrics"
	"github.com/stock-system/stocksys/status"
)

// The monitoring pack (deploy/monitoring) against a real Prometheus
// (Debian's prometheus package; scripts/test.sh installs it) scraping a
// local 3-node cluster every second, with the pack's alert rules:
//   - promtool check rules passes;
//   - the dashboard's JSON parses and every metric its queries name is
//     exported by the nodes' /metrics (the master's included);
//   - kill -9 of the master: StocksysTwoMasters is never pending or firing,
//     and StocksysNoMaster is not firing past T + 15 s (it is pending while
//     no node is master);
//   - pausing a fetch task fires StocksysQuoteStale for its symbol (60 s
//     without a quote while the synthetic source is always trading), not
//     for the other symbol.
func TestIntegration_MonitoringAlerts(t *testing.T) {
	t.Parallel()
	prom, promtool := promBinary(t, "prometheus"), promBinary(t, "promtool")
	rules, err := filepath.Abs("../../deploy/monitoring/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", rules).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS: 9 rules found") {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}

	srv := sharedServers(t)
	c := newCluster(t, srv)
	addSymbol(t, c, "SPY", "synthetic?seed=1&rate=20")
	addSymbol(t, c, "MSFT", "synthetic?seed=2&rate=20")
	c.Up(3, "--session-timeout", sessionTimeout.String(), "--partitions", "2")
	all := []string{"node-1", "node-2", "node-3"}
	r, _ := c.WaitStatus(60*time.Second, "3 nodes running 2 fetch and 2 ingest tasks", func(r *status.Report) bool {
		return proctest.Master(r) != "" && len(r.Tasks) == 4 && proctest.AllRunning(r, all...)
	})
	var targets []string
	for i := range all {
		targets = append(targets, fmt.Sprintf("127.0.0.1:%d", c.HTTPBase+i+1))
	}

	// The dashboard names only exported metrics (scraped once every node
	// has produced and, for the master, refreshed its cluster gauges).
	time.Sleep(6 * time.Second)
	exported := map[string]bool{}
	for _, tg := range targets {
		for name := range scrapeNames(t, "http://"+tg+"/metrics") {
			exported[name] = true
		}
	}
	// A labelled family shows on /metrics from its first series on (a
	// rejected quote, say): those count as exported if the node's registry
	// holds them.
	registered := map[string]bool{}
	ch := make(chan *prometheus.Desc, 64)
	go func() { metrics.New().Registry.Describe(ch); close(ch) }()
	for d := range ch {
		if m := regexp.MustCompile(`fqName: "([^"]+)"`).FindStringSubmatch(d.String()); m != nil {
			registered[m[1]] = true
		}
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	data, err := os.ReadFile("../../deploy/monitoring/grafana-dashboard.json")
	if err != nil || json.Unmarshal(data, &dash) != nil || len(dash.Panels) == 0 {
		t.Fatalf("grafana-dashboard.json: %v (%d panels)", err, len(dash.Panels))
	}
	named := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range regexp.MustCompile(`\bstocksys_[a-z_]+`).FindAllString(tg.Expr, -1) {
				named++
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
				switch {
				case exported[m]:
				case registered[base]:
					t.Logf("dashboard panel %q: %s has no series yet (registered)", p.Title, m)
				default:
					t.Errorf("dashboard panel %q names %s, which no node exports", p.Title, m)
				}
			}
		}
	}
	t.Logf("dashboard: %d panels, %d metric names, all exported", len(dash.Panels), named)
	for _, want := range []string{"stocksys_build_info", "stocksys_cluster_tasks", "stocksys_symbol_trading", "stocksys_last_quote_produced_timestamp_seconds", "stocksys_ingest_lag_messages"} {
		if !exported[want] {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Prometheus scraping the three nodes with the pack's rules.
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [%q]\nscrape_configs:\n  - job_name: stocksys\n    static_configs:\n      - targets: [%s]\n",
		rules, `"`+strings.Join(targets, `", "`)+`"`)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	api := "http://" + addr
	waitUntil(t, "Prometheus ready and scraping the 3 nodes", 30*time.Second, func() bool {
		var up struct {
			Data struct {
				Result []any `json:"result"`
			} `json:"data"`
		}
		return promGet(api+`/api/v1/query?query=up{job="stocksys"}==1`, &up) == nil && len(up.Data.Result) == 3
	})
	waitUntil(t, "a settled cluster: no alert pending or firing", 20*time.Second, func() bool { return len(alerts(t, api)) == 0 })

	// kill -9 of the master.
	master, oldEpoch := r.Master.ID, r.Master.Epoch
	killed := time.Now()
	c.MustScript("kill", master)
	var noMasterPending, noMasterFiringLate time.Duration
	for time.Since(killed) < 20*time.Second {
		for _, a := range alerts(t, api) {
			switch a.Labels["alertname"] {
			case "StocksysTwoMasters":
				t.Fatalf("StocksysTwoMasters %s %v after kill -9 of the master", a.State, time.Since(killed).Round(time.Millisecond))
			case "StocksysNoMaster":
				if noMasterPending == 0 {
					noMasterPending = time.Since(killed)
				}
				if a.State == "firing" && time.Since(killed) > 15*time.Second {
					noMasterFiringLate = time.Since(killed)
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if noMasterFiringLate > 0 {
		t.Fatalf("StocksysNoMaster still firing %v after kill -9 of the master", noMasterFiringLate.Round(time.Millisecond))
	}
	if noMasterPending == 0 {
		t.Error("StocksysNoMaster never pending during the failover (no node was master for about the session timeout)")
	}
	r, _ = c.WaitStatus(10*time.Second, "a new master", func(r *status.Report) bool { return r.Master != nil && r.Master.Epoch > oldEpoch })
	t.Logf("kill -9 of master %s: StocksysNoMaster pending from +%v, never firing past T+15 s; StocksysTwoMasters never; new master %s (epoch %d)",
		master, noMasterPending.Round(time.Millisecond), r.Master.ID, r.Master.Epoch)

	// Pausing fetch/SPY: its quotes stop, the stale-quote alert fires.
	if _, errOut, code := c.Stocksys(t.Context(), "task", "pause", "fetch/SPY", "--reason", "monitoring test"); code != 0 {
		t.Fatalf("task pause: exit %d: %s", code, errOut)
	}
	paused := time.Now()
	var firedFor []string
	waitUntil(t, "StocksysQuoteStale firing for SPY", 100*time.Second, func() bool {
		firedFor = nil
		for _, a := range alerts(t, api) {
			if a.Labels["alertname"] == "StocksysQuoteStale" && a.State == "firing" {
				firedFor = append(firedFor, a.Labels["symbol"])
			}
		}
		return len(firedFor) > 0
	})
	sort.Strings(firedFor)
	if strings.Join(firedFor, ",") != "SPY" {
		t.Fatalf("StocksysQuoteStale firing for %v; want SPY only (MSFT still flows)", firedFor)
	}
	t.Logf("fetch/SPY paused: StocksysQuoteStale firing for SPY %v later (threshold 60 s)", time.Since(paused).Round(time.Second))
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// alerts returns Prometheus's pending and firing alerts (/api/v1/alerts).
func alerts(t *testing.T, api string) []promAlert {
	t.Helper()
	var resp struct {
		Data struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := promGet(api+"/api/v1/alerts", &resp); err != nil {
		t.Fatalf("Prometheus alerts: %v", err)
	}
	return resp.Data.Alerts
}

func promGet(url string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, body)
	}
	return json.Unmarshal(body, v)
}

// scrapeNames returns the metric family names a /metrics page exposes
// (histograms and summaries also under their _bucket, _sum and _count).
func scrapeNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	names := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		names[name] = true
	}
	return names
}

// promBinary finds Debian's prometheus or promtool (scripts/test.sh installs
// the package when missing); under CI=true a missing one fails the test.
func promBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if testenv.InCI() {
			t.Fatalf("%s not found (Debian package prometheus; scripts/test.sh installs it): %v", name, err)
		}
		t.Skipf("%s not found: %v", name, err)
	}
	return p
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("not within %v: %s", limit, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
