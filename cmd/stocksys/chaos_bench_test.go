package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestBenchOutputs: the tables and the JSON of stocksys chaos bench show
// the percentiles of the measures and phases given (nearest rank), in ms
// and in multiples of the session timeout.
func TestBenchOutputs(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		var out []time.Duration
		for _, v := range vs {
			out = append(out, time.Duration(v)*time.Millisecond)
		}
		return out
	}
	series := map[string]map[string][]time.Duration{
		"KILL": {"acting": ms(3100, 3000, 3300, 3200), "running": ms(3150, 3050, 3350, 3250), "gap": ms(3200),
			"phase_won": ms(3000, 2950, 3250, 3150), "phase_write": ms(100, 50, 50, 50), "phase_running": ms(50, 50, 50, 50)},
		"TERM": {"acting": ms(30), "running": ms(120), "gap": ms(300), "phase_won": ms(20), "phase_write": ms(10), "phase_running": ms(90)},
	}
	raw := ms(1, 2, 3)
	var b bytes.Buffer
	writeBenchTable(&b, 3*time.Second, 4, series, raw, ms(4, 5))
	text := b.String()
	for _, want := range []string{
		"| SIGKILL master | (a) new master acting (first fenced write) | 4 | 3100 ms (1.03×) | 3300 ms (1.10×) | 3300 ms (1.10×) | 3300 ms (1.10×) |",
		"| SIGTERM master | (b) all tasks running again | 1 | 120 ms (0.04×) |",
		"| — | ZooKeeper close-session -> watch (raw), after the trials | 3 | 2 ms (0.00×) |",
		"| — | the same, a second before each signal (the trials' load) | 2 | 4 ms (0.00×) |",
		"| SIGKILL master | 1. signal -> new term won (session closed or expired, watch, election) | 4 | 3000 ms (1.00×) |",
		"| SIGTERM master | 3. first write -> every task running | 1 | 90 ms (0.03×) |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	b.Reset()
	inv := benchInvariants{Runs: 12, Tasks: 6, MinHandoverMS: 1.5, Commits: 40, Refused: 1}
	if err := writeBenchJSON(&b, 3*time.Second, 4, series, raw, ms(4, 5), inv); err != nil {
		t.Fatal(err)
	}
	var got struct {
		SessionTimeoutMs int64                `json:"session_timeout_ms"`
		Kill             map[string]benchStat `json:"kill"`
		Term             map[string]benchStat `json:"term"`
		ZK               benchStat            `json:"zk_close_to_watch"`
		Inv              map[string]any       `json:"invariants"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if a := got.Kill["acting"]; got.SessionTimeoutMs != 3000 || a.N != 4 || a.P50 != 3100 || a.P99 != 3300 || a.Max != 3300 || a.P99xT != 1.1 {
		t.Errorf("kill acting %+v (timeout %d)", a, got.SessionTimeoutMs)
	}
	if p := got.Term["phase_running"]; p.N != 1 || p.P50 != 90 || got.ZK.N != 3 || got.ZK.P50 != 2 {
		t.Errorf("term phase_running %+v, zk %+v", p, got.ZK)
	}
	// The invariants, with an empty list (not null) of violations.
	if i := got.Inv; i["task_runs"] != 12.0 || i["commits_refused"] != 1.0 || i["min_task_handover_ms"] != 1.5 ||
		i["violations"] == nil || len(i["violations"].([]any)) != 0 {
		t.Errorf("invariants %v", i)
	}
}
