package chaos_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/chaos"
	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/verify"
)

// TestIntegration_ChaosShort runs a fixed-seed chaos schedule of 60 s (seed 3: every fault kind once) on a
// private 3-node cluster (own 3-server ZooKeeper ensemble, Kafka and
// Cassandra on ports shifted by 20000), then verify, and asserts that every
// invariant held and that every fault kind was injected. About 3 minutes.
func TestIntegration_ChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	spy := testenv.SharedData(t, "lean-spy-minute") // skips (fails under CI) without the data
	bin := proctest.Binary(t)
	dir := filepath.Join(t.TempDir(), "chaos")
	var out bytes.Buffer
	cfg := chaos.Config{RunAll: true, Repo: testenv.RepoRoot(t), Dir: dir, Bin: bin, SharedData: filepath.Dir(spy),
		MSFTDays: 1, PortOffset: 20000, HTTPBase: 28080, SettleTimeout: 90 * time.Second, Out: &out,
		Plan: chaos.Plan{Seed: 3, Duration: 60 * time.Second, Nodes: 3, SessionTimeout: 3 * time.Second, MaxFaults: 8}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	r, err := chaos.Setup(ctx, cfg)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, out.String())
	}
	t.Cleanup(func() {
		r.Close()
		dctx, c := context.WithTimeout(context.Background(), 2*time.Minute)
		defer c()
		if err := r.Env.Down(dctx); err != nil {
			t.Logf("down: %v", err)
		}
		if t.Failed() {
			for _, n := range []string{"node-1", "node-2", "node-3"} {
				b, _ := os.ReadFile(filepath.Join(dir, chaos.ClusterSub, n+".log"))
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				t.Logf("--- last lines of %s:\n%s", n, strings.Join(lines[max(0, len(lines)-25):], "\n"))
			}
		}
	})
	runErr := r.Run(ctx)
	t.Logf("chaos output:\n%s", out.String())
	if runErr != nil {
		t.Fatalf("chaos run: %v", runErr)
	}
	rep, err := verify.Run(ctx, verify.Config{Dir: dir})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Logf("verify report (after %v):\n%s", time.Since(start).Round(time.Second), text.String())
	if !rep.OK() {
		t.Errorf("verify: %d violations", len(rep.Violations))
	}
	for _, k := range chaos.AllKinds {
		if rep.FaultKinds[string(k)] == 0 {
			t.Errorf("fault kind %s was never injected", k)
		}
	}
	if rep.Terms.Terms < 2 || len(rep.Failovers) < 1 {
		t.Errorf("%d terms, %d failovers; want a master failover at least", rep.Terms.Terms, len(rep.Failovers))
	}
	for _, d := range rep.Data {
		if d.Source == 0 || d.Stored != d.Source || d.Bars == 0 {
			t.Errorf("%s: source %d, stored %d, bars %d", d.Symbol, d.Source, d.Stored, d.Bars)
		}
	}
	// The fencing checks (issue 16, item 5) saw the run: commits of every
	// fetch task and of an ingest task at least (a partition no symbol
	// hashes to commits nothing), each task's row compared; records with
	// tokens.
	if c := rep.Commits; c.Accepted == 0 || c.Tasks < len(rep.Data)+1 || c.Stored != c.Tasks {
		t.Errorf("commits check: %+v; want accepted commits of %d tasks at least, each row compared", c, len(rep.Data)+1)
	}
	if rs := rep.Records; rs.WithToken == 0 || rs.Tasks == 0 || rs.Owners < rs.Tasks {
		t.Errorf("records check: %+v; want records with tokens", rs)
	}
}
