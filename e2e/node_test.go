package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/node"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/tasks"
)

// nodeView reads a node's own view from its /status endpoint; ok is false if
// it does not answer within 300 ms (a paused or dead process).
func nodeView(c *proctest.Cluster, id string) (node.View, bool) {
	var n int
	fmt.Sscanf(strings.TrimPrefix(id, "node-"), "%d", &n)
	cl := http.Client{Timeout: 300 * time.Millisecond}
	resp, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d/status", c.HTTPBase+n))
	if err != nil {
		return node.View{}, false
	}
	defer resp.Body.Close()
	var v node.View
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return node.View{}, false
	}
	return v, true
}

// runningOn returns, per task, the nodes whose own view shows it running.
func runningOn(c *proctest.Cluster, ids []string) (map[tasks.ID][]string, map[string]string) {
	out := map[tasks.ID][]string{}
	roles := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, ok := nodeView(c, id)
			if !ok {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			roles[id] = v.Role
			if v.Worker == nil {
				return
			}
			for tid, ts := range v.Worker.Tasks {
				if ts.State == tasks.StateRunning || ts.State == tasks.StateStarting {
					out[tid] = append(out[tid], id)
				}
			}
		}()
	}
	wg.Wait()
	return out, roles
}

func addSymbols(t *testing.T, c *proctest.Cluster, syms ...string) {
	t.Helper()
	if out, errOut, code := c.Stocksys(t.Context(), append([]string{"symbols", "add"}, syms...)...); code != 0 {
		t.Fatalf("symbols add: %s %s", out, errOut)
	}
}

// TestIntegration_ProcessWorkerSIGTERM: SIGTERM a worker: it exits 0, and its
// tasks run on the other nodes (as their own /status shows) within 1 s.
func TestIntegration_ProcessWorkerSIGTERM(t *testing.T) {
	c := proctest.New(t)
	c.Up(3, "--session-timeout", sessionTimeout.String(), "--placeholder-tasks")
	addSymbols(t, c, "SPY", "MSFT", "AAPL", "BRK-B", "^GSPC", "EURUSD=X")
	all := []string{"node-1", "node-2", "node-3"}
	r, _ := c.WaitStatus(30*time.Second, "every task running", func(r *status.Report) bool {
		return len(r.Members) == 3 && len(r.Tasks) == 6 && proctest.AllRunning(r, all...)
	})
	victim := ""
	for _, id := range all { // a worker (not the master) with tasks
		if id != r.Master.ID {
			for _, tk := range r.Tasks {
				if tk.Owner != nil && *tk.Owner == id {
					victim = id
				}
			}
		}
	}
	if victim == "" {
		t.Fatal("no worker owns a task")
	}
	var rest []string
	for _, id := range all {
		if id != victim {
			rest = append(rest, id)
		}
	}
	start := time.Now()
	c.MustScript("stop", victim) // SIGTERM; returns when the process exited
	exited := time.Since(start)
	if code := c.ExitCode(victim); code != 0 {
		t.Fatalf("%s exited with %d after SIGTERM; want 0", victim, code)
	}
	var took time.Duration
	for {
		run, _ := runningOn(c, rest)
		ok := len(run) == 6
		for _, ns := range run {
			ok = ok && len(ns) == 1
		}
		if ok {
			took = time.Since(start) - exited
			break
		}
		if time.Since(start) > exited+5*time.Second {
			t.Fatalf("tasks not all running on %v 5 s after %s exited: %v", rest, victim, run)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("SIGTERM %s: exited 0 after %v; its tasks ran elsewhere %v later", victim, exited.Round(time.Millisecond), took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("tasks ran elsewhere %v after the exit; want within 1 s", took)
	}
}

// TestIntegration_ProcessMasterPause: SIGSTOP the master for twice the session
// timeout. Another node becomes master with a higher epoch; after SIGCONT there
// is exactly one master, and at no sampled instant did two nodes run a task
// or claim mastership.
func TestIntegration_ProcessMasterPause(t *testing.T) {
	c := proctest.New(t)
	c.Up(3, "--session-timeout", sessionTimeout.String(), "--placeholder-tasks")
	addSymbols(t, c, "SPY", "MSFT", "AAPL", "BRK-B", "^GSPC", "EURUSD=X")
	all := []string{"node-1", "node-2", "node-3"}
	r, _ := c.WaitStatus(30*time.Second, "every task running", func(r *status.Report) bool {
		return len(r.Members) == 3 && len(r.Tasks) == 6 && proctest.AllRunning(r, all...)
	})
	old, oldEpoch := r.Master.ID, r.Master.Epoch

	// Sample every node's own view while the master is paused and after.
	ctx, cancel := context.WithCancel(context.Background())
	var violations []string
	var samples int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			run, roles := runningOn(c, all)
			samples++
			for tid, ns := range run {
				if len(ns) > 1 {
					violations = append(violations, fmt.Sprintf("%s running on %v", tid, ns))
				}
			}
			masters := 0
			for _, role := range roles {
				if role == "master" {
					masters++
				}
			}
			if masters > 1 {
				violations = append(violations, fmt.Sprintf("%d nodes claim mastership: %v", masters, roles))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	c.MustScript("pause", old, fmt.Sprint((2 * sessionTimeout).Seconds()), "--wait")
	r, _ = c.WaitStatus(10*time.Second, "one new master after the resume, old one a worker again", func(r *status.Report) bool {
		return proctest.Master(r) != "" && proctest.Master(r) != old && r.Master.Epoch > oldEpoch && len(r.Members) == 3 &&
			proctest.AllRunning(r, all...)
	})
	time.Sleep(time.Second)
	cancel()
	<-done
	if len(violations) > 0 {
		t.Fatalf("%d violations in %d samples, e.g. %v", len(violations), samples, violations[:min(5, len(violations))])
	}
	v, ok := nodeView(c, old)
	if !ok || v.Role == "master" {
		t.Fatalf("old master %s after resume: answered %v, role %q; want a worker", old, ok, v.Role)
	}
	t.Logf("paused master %s (epoch %d) for %v: new master %s epoch %d; %d samples, no task on two nodes, never two masters",
		old, oldEpoch, 2*sessionTimeout, r.Master.ID, r.Master.Epoch, samples)
}

// TestIntegration_NodeBadConfig: bad flags, environment values and config
// files exit non-zero with a message naming the problem.
func TestIntegration_NodeBadConfig(t *testing.T) {
	c := proctest.New(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unknown := write("unknown.yaml", "id: node-1\nsesion-timeout: 5s\n")
	badValue := write("bad.yaml", "id: node-1\nsession-timeout: soon\n")
	notYAML := write("broken.yaml", "id: [node-1\n")
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want []string
	}{
		{"missing id", []string{"node"}, nil, []string{"--id is required"}},
		{"bad id", []string{"node", "--id", "node/1"}, nil, []string{"--id", `"node/1"`}},
		{"bad duration", []string{"node", "--id", "n1", "--session-timeout", "soon"}, nil, []string{"--session-timeout", "soon"}},
		{"timeout out of range", []string{"node", "--id", "n1", "--session-timeout", "100ms"}, nil, []string{"--session-timeout", "1s..40s"}},
		{"bad source", []string{"node", "--id", "n1", "--source", "ftp://x"}, nil, []string{"--source", "ftp://x"}},
		{"bad consistency", []string{"node", "--id", "n1", "--consistency", "MOST"}, nil, []string{"--consistency", "MOST"}},
		{"bad log format", []string{"node", "--id", "n1", "--log-format", "xml"}, nil, []string{"--log-format", "xml", "console"}},
		{"bad capacity", []string{"node", "--id", "n1", "--capacity", "0"}, nil, []string{"--capacity", ">= 1"}},
		{"bad max moves", []string{"node", "--id", "n1", "--max-moves-in-flight", "-3"}, nil, []string{"--max-moves-in-flight -3", "-1 for no bound"}},
		{"bad flap losses", []string{"node", "--id", "n1", "--flap-losses", "0"}, nil, []string{"--flap-losses 0", "-1 to disable"}},
		{"missing api token file", []string{"node", "--id", "n1", "--api-token-file", "/nonexistent/token"}, nil, []string{"--api-token-file", "/nonexistent/token"}},
		{"unknown flag", []string{"node", "--id", "n1", "--sesion-timeout", "5s"}, nil, []string{"sesion-timeout"}},
		{"bad env", []string{"node", "--id", "n1"}, []string{"STOCKSYS_SESSION_TIMEOUT=later"}, []string{"STOCKSYS_SESSION_TIMEOUT", "later"}},
		{"config unknown key", []string{"node", "--config", unknown}, nil, []string{unknown, "sesion-timeout", "session-timeout"}},
		{"config bad value", []string{"node", "--config", badValue}, nil, []string{badValue, "session-timeout", "soon"}},
		{"config not YAML", []string{"node", "--config", notYAML}, nil, []string{notYAML, "YAML"}},
		{"config missing", []string{"node", "--config", filepath.Join(dir, "nope.yaml")}, nil, []string{"nope.yaml", "no such file"}},
		{"bad cluster", []string{"status", "--cluster", "a/b"}, nil, []string{"--cluster", `"a/b"`}},
		{"bad symbol", []string{"symbols", "add", "SPY", "BAD/SYM"}, nil, []string{`"BAD/SYM"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			out, errOut, code := c.StocksysEnv(ctx, tc.env, tc.args...)
			if code == 0 {
				t.Fatalf("exit 0; want non-zero (stdout %q)", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not name %q", errOut, w)
				}
			}
		})
	}
}

// TestIntegration_NodeConfigPrecedence: flags > environment > config file >
// defaults, as the effective settings printed by `node --dry-run` show.
func TestIntegration_NodeConfigPrecedence(t *testing.T) {
	c := proctest.New(t)
	cfg := filepath.Join(t.TempDir(), "node.yaml")
	body := "id: from-file\nsession-timeout: 5s\nsource: synthetic?seed=3\ncapacity: 4\nlog-level: warn\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := c.StocksysEnv(t.Context(), []string{"STOCKSYS_CONFIG=" + cfg, "STOCKSYS_SESSION_TIMEOUT=7s", "STOCKSYS_CAPACITY=3"},
		"node", "--dry-run", "--capacity", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := map[string]string{
		"id":              "from-file",        // file only
		"session-timeout": "7s",               // env beats file
		"capacity":        "2",                // flag beats env and file
		"source":          "synthetic?seed=3", // file beats default
		"log-level":       "warn",
		"log-format":      "auto", // default
		"http":            "127.0.0.1:8080",
		"cluster":         c.Name, // env (set by the test cluster)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q; want %q", k, got[k], v)
		}
	}
}

// TestIntegration_NodeNoZooKeeper: a node given an unreachable ZooKeeper
// exits non-zero after --connect-timeout, naming the address, instead of
// retrying for ever with warnings (issue 15).
func TestIntegration_NodeNoZooKeeper(t *testing.T) {
	c := proctest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, errOut, code := c.Stocksys(ctx, "node", "--id", "lonely-1", "--zk", dead, "--connect-timeout", "2s",
		"--placeholder-tasks", "--http", "127.0.0.1:0")
	took := time.Since(start)
	if code == 0 || ctx.Err() != nil {
		t.Fatalf("exit %d after %v (ctx %v); want a non-zero exit after about 2s", code, took, ctx.Err())
	}
	for _, w := range []string{"no ZooKeeper session", "2s", dead} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr does not name %q:\n%s", w, lastLines(errOut, 5))
		}
	}
	t.Logf("exited %d after %v", code, took.Round(10*time.Millisecond))
	// A negative timeout is a bad flag.
	if _, errOut, code := c.Stocksys(ctx, "node", "--id", "n1", "--connect-timeout", "-1s", "--dry-run"); code == 0 ||
		!strings.Contains(errOut, "--connect-timeout") {
		t.Errorf("--connect-timeout -1s: exit %d, stderr %q", code, errOut)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
