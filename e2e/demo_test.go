package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
)

// TestIntegration_Demo runs scripts/demo.sh (bounded: DEMO_SECONDS=5, nodes
// stopped at the end) and checks that the latest SPY and MSFT prices it
// prints, read back from Cassandra, are real closes of the source files at
// the printed minute.
func TestIntegration_Demo(t *testing.T) {
	c := proctest.New(t)
	spyFiles, _ := filepath.Glob(filepath.Join(filepath.Dir(testenv.SharedData(t, "lean-spy-minute/20131004_trade.zip")), "*_trade.zip"))
	msftFile := testenv.SharedData(t, "alphavantage-msft-1min/msft_1min_2020-11-23_2020-12-18.csv")
	closes := map[string]map[string]float64{"SPY": {}, "MSFT": {}} // symbol -> "2006-01-02 15:04" Eastern -> close
	for _, f := range append(spyFiles, msftFile) {
		sym := "SPY"
		if f == msftFile {
			sym = "MSFT"
		}
		qs, err := quote.ReadFile(f, sym)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			closes[sym][q.TS.In(quote.Eastern).Format("2006-01-02 15:04")] = q.Close
		}
	}

	cmd := exec.CommandContext(t.Context(), "bash", filepath.Join(c.Root, "scripts", "demo.sh"))
	cmd.Dir = c.Root
	cmd.Env = append(c.Env(), "DEMO_SECONDS=5", "DEMO_STOP=1", "DEMO_KEYSPACE="+c.Keyspace, "DEMO_TOPIC="+c.Topic,
		"STOCKSYS_DATA="+filepath.Dir(filepath.Dir(msftFile)))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("demo.sh took %v", time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	text := string(out)
	// The status step measures the ingest lag on the demo's topic and keyspace.
	if !strings.Contains(text, "(measured: Kafka high-water mark - committed offset)") || strings.Contains(text, "lag not measured") {
		t.Errorf("demo.sh's stocksys status did not measure the ingest lag:\n%s", text)
	}
	sec := text[strings.Index(text, "latest prices"):]
	row := regexp.MustCompile(`(?m)^\s*(SPY|MSFT)\s+(\d{4}-\d\d-\d\d \d\d:\d\d)\s+([0-9.]+)\s`)
	found := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(sec, -1) {
		if found[m[1]] {
			continue
		}
		price, _ := strconv.ParseFloat(m[3], 64)
		want, ok := closes[m[1]][m[2]]
		if !ok {
			t.Errorf("%s at %s: no such bar in the source files", m[1], m[2])
			continue
		}
		if fmt.Sprintf("%.4f", want) != fmt.Sprintf("%.4f", price) {
			t.Errorf("%s at %s: demo printed %.4f; the source's close is %.4f", m[1], m[2], price, want)
		}
		found[m[1]] = true
		t.Logf("demo: %s %s %.4f (source close %.4f)", m[1], m[2], price, want)
	}
	if !found["SPY"] || !found["MSFT"] {
		t.Fatalf("demo output lacks latest SPY and MSFT prices:\n%s", sec)
	}
	if !strings.Contains(text, "stopped (exit code 0)") {
		t.Errorf("demo did not stop its nodes cleanly:\n%s", text)
	}
}
