package datapath

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stock-system/stocksys/internal/browsertest"
	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/status"
)

// TestIntegration_ConsoleReplay (issue 12): the console of a real 3-node
// cluster (node processes) replaying SPY and MSFT, in headless Chromium. It
// shows the master and epoch as `stocksys status --json` reports them;
// after kill -9 of the master (the console is served by another node) it
// shows the new one without a reload within the session timeout + 2 s; the
// SPY chart grows live during the replay, and once the replay is done its
// last 1m candle is the OHLC of `stocksys query bars SPY --interval 1m`'s
// last row (read from the page's data); no JavaScript error.
func TestIntegration_ConsoleReplay(t *testing.T) {
	t.Parallel()
	ctx, jsErrors := browsertest.Start(t)
	srv := sharedServers(t)
	dir := t.TempDir()
	spyFiles := leanDays(t, dir, "20131007", "20131008")
	msftFile := msftSubset(t, dir, "2020-11-24", "2020-11-25")
	// A bad print in the real MSFT minutes (o/h/l/c x1.3 on 11-25 at 15:00,
	// within the chart's last 500 1m bars): the stored alerts, and the
	// chart's markers, must hold the alert it makes: the print is flagged
	// implausible (quote.FlagBars), so one alert, not a move and its return.
	wantAlerts := spike(t, msftFile, "2020-11-25 15:00:00", 1.3)
	last := map[string]time.Time{"SPY": lastTS(sourceQuotes(t, "SPY", spyFiles...)), "MSFT": lastTS(sourceQuotes(t, "MSFT", msftFile))}
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, srv)
	addSymbol(t, c, "SPY", "replay:"+dir+"?speed=3000")
	addSymbol(t, c, "MSFT", "replay:"+msftFile+"?speed=4000")
	c.Up(3, "--session-timeout", sessionTimeout.String(), "--partitions", "3", "--api-token-file", token)
	all := []string{"node-1", "node-2", "node-3"}
	r, _ := c.WaitStatus(60*time.Second, "3 nodes running 2 fetch and 3 ingest tasks", func(r *status.Report) bool {
		return proctest.Master(r) != "" && len(r.Tasks) == 5 && proctest.AllRunning(r, all...)
	})
	master := r.Master.ID
	viewer := "node-1"
	if viewer == master {
		viewer = "node-2"
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(viewer, "node-"))
	url := fmt.Sprintf("http://127.0.0.1:%d/ui/", c.HTTPBase+n)
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	page := func(expr string) string { return browsertest.Text(t, ctx, expr) }
	shows := func(id string, epoch int64) func() bool {
		return func() bool {
			return page(`document.querySelector('#master-id').textContent`) == id && page(`document.querySelector('#master-epoch').textContent`) == fmt.Sprint(epoch)
		}
	}
	waitFor := func(what string, limit time.Duration, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > limit {
				t.Fatalf("not within %v: %s", limit, what)
			}
			time.Sleep(50 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitFor(fmt.Sprintf("the page showing master %s epoch %d", master, r.Master.Epoch), 10*time.Second, shows(master, r.Master.Epoch))

	// The SPY chart, live.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const s = document.querySelector('#symbol'); s.value = 'SPY'; s.dispatchEvent(new Event('change')); return true })()`)); err != nil {
		t.Fatal(err)
	}
	waitFor("SPY 1m bars on the chart", 20*time.Second, func() bool {
		return page(`window.stocksys.chart.symbol`) == "SPY" && page(`window.stocksys.chart.bars.length`) != "0"
	})
	before, _ := strconv.Atoi(page(`window.stocksys.chart.bars.length`))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__noReload = 1`)); err != nil {
		t.Fatal(err)
	}

	// kill -9 of the master: the new one on the page without a reload.
	oldEpoch := r.Master.Epoch
	killed := time.Now()
	c.MustScript("kill", master)
	r, _ = c.WaitStatus(sessionTimeout+10*time.Second, "a new master", func(r *status.Report) bool {
		return r.Master != nil && r.Master.ID != master && r.Master.Epoch > oldEpoch
	})
	waitFor(fmt.Sprintf("the page showing the new master %s epoch %d", r.Master.ID, r.Master.Epoch), time.Until(killed.Add(sessionTimeout+2*time.Second))+time.Millisecond, shows(r.Master.ID, r.Master.Epoch))
	t.Logf("kill -9 of master %s: the page showed %s (epoch %d) %v after the kill (session timeout %v)", master, r.Master.ID, r.Master.Epoch,
		time.Since(killed).Round(time.Millisecond), sessionTimeout)
	if page(`window.__noReload`) != "1" {
		t.Fatal("the page reloaded")
	}

	// The handover in phases: the page draws what master history records,
	// and "all running" is the latest task start in status after the
	// election (the test's own reading of the status report).
	var term status.Term
	waitFor("master history recording every task running in epoch "+fmt.Sprint(r.Master.Epoch), 20*time.Second, func() bool {
		out, _, code := c.Stocksys(t.Context(), "master", "history", "--json")
		var hist []status.Term
		if code != 0 || json.Unmarshal([]byte(out), &hist) != nil {
			return false
		}
		for _, h := range hist {
			if h.Epoch == r.Master.Epoch && h.AllRunningMS != nil && h.FirstAssignmentMS != nil {
				term = h
				return true
			}
		}
		return false
	})
	rep, _ := c.WaitStatus(10*time.Second, "status", func(*status.Report) bool { return true })
	latest := term.Started
	for _, tk := range rep.Tasks {
		if tk.Started.After(latest) {
			latest = tk.Started
		}
	}
	if got := float64(latest.Sub(term.Started).Microseconds()) / 1000; *term.AllRunningMS < *term.FirstAssignmentMS || absf(got-*term.AllRunningMS) > 1 {
		t.Fatalf("epoch %d: all running %.1f ms after the win (first write %.1f ms); the latest task start in status is %.1f ms after it",
			term.Epoch, *term.AllRunningMS, *term.FirstAssignmentMS, got)
	}
	var phases struct {
		Epoch  int64 `json:"epoch"`
		Points []struct {
			Name string  `json:"name"`
			MS   float64 `json:"ms"`
		} `json:"points"`
	}
	waitFor("the page's handover phases of epoch "+fmt.Sprint(term.Epoch), 5*time.Second, func() bool {
		return json.Unmarshal([]byte(page(`JSON.stringify(window.stocksys.phases)`)), &phases) == nil && phases.Epoch == term.Epoch && len(phases.Points) == 3
	})
	at := func(i int) float64 { return phases.Points[i].MS - phases.Points[0].MS }
	if !strings.HasPrefix(phases.Points[0].Name, "elected") || absf(at(1)-*term.FirstAssignmentMS) > 0.05 || absf(at(2)-*term.AllRunningMS) > 0.05 {
		t.Fatalf("the page's phases %+v; want elected, first write +%.1f ms, all running +%.1f ms (master history)", phases.Points, *term.FirstAssignmentMS, *term.AllRunningMS)
	}
	t.Logf("handover of epoch %d (%s): first fenced write +%.1f ms, all tasks running +%.1f ms after the election (page = master history)",
		term.Epoch, term.Began, *term.FirstAssignmentMS, *term.AllRunningMS)

	// The drain button (token typed in) on the other live node: its tasks
	// move to the viewer, and the map shows it drained, holding nothing.
	other := ""
	for _, id := range all {
		if id != master && id != viewer {
			other = id
		}
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#token`), "s3cret"),
		chromedp.SetValue(chromedp.CSS(`#reason`), "console e2e"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-act="drain"][data-node=%q]`, other))),
	); err != nil {
		t.Fatal(err)
	}
	r, _ = c.WaitStatus(20*time.Second, other+" drained, every task running on "+viewer, func(r *status.Report) bool {
		for _, m := range r.Members {
			if m.ID == other && !m.Drained {
				return false
			}
		}
		return len(r.Tasks) == 5 && proctest.AllRunning(r, viewer)
	})
	row := fmt.Sprintf(`document.querySelector('#members tr[data-node=%q]')`, other)
	waitFor("the map showing "+other+" drained, holding nothing", 3*time.Second, func() bool {
		return page(row+`.querySelector('.kind').textContent`) == "drained" && page(row+`.querySelector('.held').textContent`) == ""
	})
	if msg := page(`document.querySelector('#message').textContent`); !strings.Contains(msg, "applied by the master") {
		t.Fatalf("message after the drain: %q", msg)
	}

	// The replay finishes: the chart's last candle is the stored last 1m bar.
	st := openStore(t, srv, c.Keyspace)
	waitDone(t, srv, st, c.Topic, last, 120*time.Second)
	out, errOut, code := c.Stocksys(t.Context(), "query", "bars", "SPY", "--interval", "1m", "--limit", "0", "--json",
		"--keyspace", c.Keyspace, "--consistency", "ONE")
	if code != 0 {
		t.Fatalf("query bars: exit %d: %s", code, errOut)
	}
	var rows []struct {
		TS                     time.Time `json:"ts"`
		Open, High, Low, Close float64
		Volume                 int64
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) == 0 {
		t.Fatalf("query bars --json: %v (%d rows): %.300s", err, len(rows), out)
	}
	want := rows[len(rows)-1]
	var got struct {
		TS                     time.Time `json:"ts"`
		Open, High, Low, Close float64
		Volume                 int64
	}
	waitFor(fmt.Sprintf("the chart's last candle at %s", want.TS), 5*time.Second, func() bool {
		js := page(`JSON.stringify(window.stocksys.chart.bars[window.stocksys.chart.bars.length - 1])`)
		return json.Unmarshal([]byte(js), &got) == nil && got.TS.Equal(want.TS)
	})
	if got.Open != want.Open || got.High != want.High || got.Low != want.Low || got.Close != want.Close || got.Volume != want.Volume {
		t.Fatalf("the chart's last SPY candle %+v; want stocksys query bars' %+v", got, want)
	}
	after, _ := strconv.Atoi(page(`window.stocksys.chart.bars.length`))
	if after <= before {
		t.Fatalf("the chart did not grow live: %d bars before the replay ended, %d after", before, after)
	}
	t.Logf("SPY chart: %d bars when first drawn, %d live at the end; last candle %s O %.2f H %.2f L %.2f C %.2f V %d = query bars",
		before, after, want.TS.Format(time.RFC3339), want.Open, want.High, want.Low, want.Close, want.Volume)

	// MSFT's alerts as markers: the stored alerts (stocksys query alerts)
	// are the moves of the test's own reading of the file, and the chart
	// marks each on its candle.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const s = document.querySelector('#symbol'); s.value = 'MSFT'; s.dispatchEvent(new Event('change')); return true })()`)); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = c.Stocksys(t.Context(), "query", "alerts", "--from", "2020-11-24", "--to", "2020-11-26", "--limit", "0", "--json",
		"--keyspace", c.Keyspace, "--consistency", "ONE")
	if code != 0 {
		t.Fatalf("query alerts: exit %d: %s", code, errOut)
	}
	var stored []struct {
		TS      time.Time `json:"ts"`
		Symbol  string    `json:"symbol"`
		Close   float64   `json:"close"`
		MovePct float64   `json:"move_pct"`
		Reason  string    `json:"reason"`
	}
	if err := json.Unmarshal([]byte(out), &stored); err != nil {
		t.Fatalf("query alerts --json: %v: %.300s", err, out)
	}
	var msft []string
	var msftClose []float64
	for _, a := range stored {
		if a.Symbol != "MSFT" {
			continue
		}
		if _, ok := wantAlerts[a.Close]; !ok {
			t.Errorf("stored alert %+v: no such alert in the file (want closes %v)", a, wantAlerts)
		}
		if implausible := wantAlerts[a.Close]; strings.HasPrefix(a.Reason, "implausible bar") != implausible {
			t.Errorf("stored alert %+v: want a reason naming an implausible bar: %v", a, implausible)
		}
		msft = append(msft, a.TS.UTC().Format(time.RFC3339))
		msftClose = append(msftClose, a.Close)
	}
	if len(msft) != len(wantAlerts) {
		t.Fatalf("stored MSFT alerts %v; the file has %d alerts (closes %v)", msft, len(wantAlerts), wantAlerts)
	}
	var marks []struct {
		TS    string `json:"ts"`
		Alert string `json:"alert"`
	}
	waitFor(fmt.Sprintf("%d alert markers on the MSFT chart", len(msft)), 10*time.Second, func() bool {
		return page(`window.stocksys.chart.symbol`) == "MSFT" && json.Unmarshal([]byte(page(`JSON.stringify(window.stocksys.chart.markers)`)), &marks) == nil && len(marks) == len(msft)
	})
	// Each marker sits on the candle holding its alert's minute: a move's
	// own 1m candle, or for an implausible bar (left out of the bars) the
	// last candle before it.
	var shown []string
	if err := json.Unmarshal([]byte(page(`JSON.stringify(window.stocksys.chart.bars.map((b) => b.ts))`)), &shown); err != nil {
		t.Fatalf("chart bars: %v", err)
	}
	for i, m := range marks {
		at, err := time.Parse(time.RFC3339, m.Alert)
		if err != nil || at.UTC().Format(time.RFC3339) != msft[i] {
			t.Errorf("marker %d: %+v; want the stored alert at %s", i, m, msft[i])
			continue
		}
		want := ""
		for _, ts := range shown {
			if bt, err := time.Parse(time.RFC3339, ts); err == nil && !bt.After(at) {
				want = ts
			}
		}
		if m.TS != want {
			t.Errorf("marker %d: %+v; want it on the candle at %s, the last 1m candle at or before the alert", i, m, want)
		}
		if implausible := wantAlerts[msftClose[i]]; (m.TS == m.Alert) == implausible {
			t.Errorf("marker %d: %+v; an implausible bar has no candle of its own (%v), a move has", i, m, implausible)
		}
	}
	t.Logf("MSFT: %d alerts stored for the bad print (closes %v), %d markers on the chart", len(msft), wantAlerts, len(marks))
	t.Logf("screenshot: %s", browsertest.Screenshot(t, ctx, "console-replay.png"))
	if errs := jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors on the page: %v", errs)
	}
}
