package status

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWriteText(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	ended := now.Add(-65 * time.Second)
	n1, n2 := "node-1", "node-2"
	lag0, lag1 := int64(12), int64(0)
	r := &Report{
		Cluster: "demo", Root: "/stocksys/demo", Read: now, Epoch: 3,
		Master:       &Master{ID: "node-2", Epoch: 3, Since: now.Add(-62 * time.Second), Session: "0x1f"},
		LastFailover: &Failover{Epoch: 3, PrevEpoch: 2, PrevNode: "node-1", PrevEnded: &ended, Elected: now.Add(-62 * time.Second), FirstAssignment: now.Add(-62*time.Second + 40*time.Millisecond)},
		Members: []Member{
			{ID: "node-1", Session: "0x1e", Started: now.Add(-3 * time.Hour), Tasks: 2, QuotesPerSec: 10.5, Updated: now.Add(-400 * time.Millisecond), LastError: "fetch SPY: boom"},
			{ID: "node-2", Session: "0x1f", Tasks: 1, QuotesPerSec: 0},
		},
		Tasks: []Task{
			{ID: "fetch/SPY", Type: "fetch", Owner: &n1, State: "running", Epoch: 3, Progress: 100, Rate: 10.5, LastProgress: now.Add(-2 * time.Second)},
			{ID: "ingest/0", Type: "ingest", Owner: &n1, State: "running", Epoch: 3, Lag: &lag0},
			{ID: "ingest/1", Type: "ingest", Owner: &n2, State: "failed", Epoch: 2, Lag: &lag1, LastError: "cassandra down"},
			{ID: "fetch/MSFT", Type: "fetch", State: "unassigned"},
		},
		Unassigned: []string{"fetch/MSFT"},
		Refused:    []Refusal{{Node: "node-2", Task: "compact/X", Reason: "unknown task type"}},
	}
	var b strings.Builder
	if err := WriteText(&b, r, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"cluster demo (/stocksys/demo)  epoch 3",
		"master  node-2  epoch 3  since 2026-11-30T11:58:58Z (1m02s)  session 0x1f",
		"last failover  epoch 2 (node-1) -> 3 at 11:58:58.000: old term ended 11:58:55.000, new master elected 3s later (node-1 resigned); first assignment 40ms after election",
		"members (2)",
		"10.5", "updated 400ms ago", "fetch SPY: boom", "3h00m",
		"tasks (4, 1 unassigned)",
		"UNASSIGNED",
		"ingest lag (messages) per partition: 0:12 1:0",
		"!! unassigned: fetch/MSFT",
		"!! refused by node-2: compact/X: unknown task type",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Tasks are grouped by owner: node-1's before node-2's, unassigned first ("-").
	if i, j, k := strings.Index(out, "fetch/MSFT  UNASSIGNED"), strings.Index(out, "fetch/SPY"), strings.Index(out, "ingest/1"); !(i >= 0 && i < j && j < k) {
		t.Errorf("tasks not grouped by owner:\n%s", out)
	}
}

func TestWriteTextNoMaster(t *testing.T) {
	var b strings.Builder
	r := &Report{Cluster: "x", Root: "/stocksys/x", Members: []Member{}, Tasks: []Task{}, Unassigned: []string{}}
	if err := WriteText(&b, r, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "master  NONE") || strings.Contains(b.String(), "last failover") {
		t.Fatalf("output:\n%s", b.String())
	}
}

func TestWriteTextLagAndStalls(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	n1 := "node-1"
	measured := &Report{Cluster: "x", Root: "/stocksys/x", Read: now, Unassigned: []string{}, Tasks: []Task{
		{ID: "ingest/0", Type: "ingest", Owner: &n1, State: "running", Lag: ptr(120), ReportedLag: ptr(0), LagSource: LagMeasured,
			LastProgress: now.Add(-45 * time.Second)},
		{ID: "ingest/1", Type: "ingest", Owner: &n1, State: "running", Lag: ptr(0), LagSource: LagMeasured, LastProgress: now},
	}}
	MarkStalled(measured, nil, now, DefaultStallAfter)
	var b strings.Builder
	if err := WriteText(&b, measured, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"tasks (2, 0 unassigned, 1 stalled)",
		"running STALLED",
		"ingest lag (messages) per partition: 0:120 1:0 (measured: Kafka high-water mark - committed offset)",
		"!! stalled (1): ingest/0: lag 120, no progress for 45s (stall after 30s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "not measured") || strings.Contains(out, "*") {
		t.Errorf("measured lags shown as reported:\n%s", out)
	}

	reported := &Report{Cluster: "x", Root: "/stocksys/x", Read: now, Unassigned: []string{}, Tasks: []Task{
		{ID: "ingest/0", Type: "ingest", Owner: &n1, State: "running", Lag: ptr(7), ReportedLag: ptr(7), LagSource: LagReported, LastProgress: now},
		{ID: "ingest/1", Type: "ingest", Owner: &n1, State: "assigned", LagSource: LagReported},
	}}
	_ = reported.NotMeasured(errors.New("kafka: connection refused"))
	MarkStalled(reported, nil, now, DefaultStallAfter)
	b.Reset()
	if err := WriteText(&b, reported, now); err != nil {
		t.Fatal(err)
	}
	out = b.String()
	for _, want := range []string{
		"tasks (2, 0 unassigned, 0 stalled)",
		"ingest lag (messages) per partition: 0:7* 1:? (* as reported by the owner: not measured)",
		"!! lag not measured: kafka: connection refused; LAG shows what the owners reported (marked *)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "!! stalled") {
		t.Errorf("stall alert with no stalled task:\n%s", out)
	}
}

func TestWriteTextQueue(t *testing.T) {
	q := []Candidate{
		{Node: "node-1", Session: "0x1a", Znode: "_c_aa-n_0000000004", Seq: 4},
		{Node: "node-2", Session: "0x1b", Znode: "_c_bb-n_0000000007", Seq: 7},
		{Node: "node-3", Session: "0x1c", Znode: "_c_cc-n_0000000009", Seq: 9},
	}
	for _, tt := range []struct {
		name   string
		master *Master
		queue  []Candidate
		want   []string // lines, runs of spaces collapsed
	}{
		{"master first", &Master{ID: "node-1", Session: "0x1a"}, q, []string{
			"election queue (3, in order of succession)", "# NODE SESSION SEQ ROLE",
			"1 node-1 0x1a 4 master", "2 node-2 0x1b 7 next", "3 node-3 0x1c 9"}},
		{"no master yet", nil, q, []string{"1 node-1 0x1a 4 next (no master yet)", "2 node-2 0x1b 7", "3 node-3 0x1c 9"}},
		// The master's node on another session (its old znode) is not the master.
		{"master on another session", &Master{ID: "node-1", Session: "0x99"}, q, []string{"1 node-1 0x1a 4 next", "2 node-2 0x1b 7"}},
		{"empty", nil, []Candidate{}, []string{"election queue: empty (no node campaigns)"}},
	} {
		r := &Report{Cluster: "x", Root: "/stocksys/x", Master: tt.master, ElectionQueue: tt.queue, Members: []Member{}, Tasks: []Task{}}
		if tt.master != nil {
			r.Master.Since = time.Now()
		}
		var b strings.Builder
		if err := WriteText(&b, r, time.Now()); err != nil {
			t.Fatal(err)
		}
		lines := map[string]bool{}
		for _, l := range strings.Split(b.String(), "\n") {
			lines[strings.Join(strings.Fields(l), " ")] = true
		}
		for _, w := range tt.want {
			if !lines[w] {
				t.Errorf("%s: no line %q in\n%s", tt.name, w, b.String())
			}
		}
	}
}
