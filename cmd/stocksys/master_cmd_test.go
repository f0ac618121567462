package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/election"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
)

// TestIntegration_MasterHistory (issue 11): three real terms on the real
// ZooKeeper: node-1 wins and resigns, node-2 takes over and its session is
// closed without a resignation, node-3 takes over. stocksys master history
// reports each term's node and session, how it began (first term,
// resigned, session expiry), the handover after the resignation, the
// current term, and a bad flag is refused.
func TestIntegration_MasterHistory(t *testing.T) {
	cluster := testenv.Name(t, "-")
	root := "/stocksys/" + cluster
	zc := testenv.ZKConn(t, 10*time.Second)
	t.Cleanup(func() { _ = testenv.DeleteRecursive(zc, root) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type cand struct {
		s *session.Session
		c *election.Candidate
	}
	start := func(id string) cand {
		cfg := session.DefaultConfig(testenv.ZKServers(t)...)
		cfg.Timeout = 3 * time.Second
		s, err := session.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ec := election.DefaultConfig(id)
		ec.Root = root
		c, err := election.NewCandidate(s, ec)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); s.Close() })
		return cand{s, c}
	}
	campaign := func(c cand) <-chan *election.Term {
		ch := make(chan *election.Term, 1)
		go func() {
			tm, err := c.c.Campaign(ctx)
			if err != nil {
				t.Error(err)
			}
			ch <- tm
		}()
		return ch
	}
	n1, n2, n3 := start("node-1"), start("node-2"), start("node-3")
	t1 := <-campaign(n1)
	w2 := campaign(n2)
	time.Sleep(100 * time.Millisecond) // node-2 queued behind node-1
	w3 := campaign(n3)
	time.Sleep(100 * time.Millisecond)
	if err := n1.c.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	t2 := <-w2
	n2.s.Close() // the session ends, no resignation recorded: as a crash, at once
	t3 := <-w3
	if t1 == nil || t2 == nil || t3 == nil {
		t.Fatal("a campaign failed")
	}
	g := []string{"--zk", strings.Join(testenv.ZKServers(t), ","), "--cluster", cluster}
	out, err := runCLI(t, append([]string{"master", "history", "--json"}, g...)...)
	if err != nil {
		t.Fatal(err)
	}
	var terms []struct {
		Epoch      int64
		Node       string
		Session    string
		Ended      *time.Time
		Current    bool
		Began      string
		HandoverMS *float64 `json:"handover_ms"`
	}
	if err := json.Unmarshal([]byte(out), &terms); err != nil || len(terms) != 3 {
		t.Fatalf("master history --json: %s (%v); want 3 terms", out, err)
	}
	want := []struct {
		epoch   int64
		node    string
		s       *session.Session
		began   string
		ended   bool
		current bool
	}{{t1.Epoch, "node-1", n1.s, "first_term", true, false}, {t2.Epoch, "node-2", n2.s, "resigned", false, false},
		{t3.Epoch, "node-3", n3.s, "session_expiry", false, true}}
	for i, w := range want {
		got := terms[i]
		if got.Epoch != w.epoch || got.Node != w.node || got.Session != tasks.SessionString(w.s.ID()) || got.Began != w.began ||
			(got.Ended != nil) != w.ended || got.Current != w.current {
			t.Errorf("term %d: %+v; want epoch %d node %s session %#x began %s ended %v current %v", i, got, w.epoch, w.node, w.s.ID(), w.began, w.ended, w.current)
		}
	}
	if h := terms[1].HandoverMS; h == nil || *h < 0 || *h > 5000 {
		t.Errorf("handover after node-1's resignation: %v ms; want a recorded, non-negative duration", h)
	}
	if terms[0].HandoverMS != nil || terms[2].HandoverMS != nil {
		t.Errorf("handover recorded without a resignation: %v %v", terms[0].HandoverMS, terms[2].HandoverMS)
	}
	text, err := runCLI(t, append([]string{"master", "history", "--last", "1"}, g...)...)
	if err != nil || !strings.Contains(text, "node-3") || strings.Contains(text, "node-1") || !strings.Contains(text, "current") {
		t.Fatalf("master history --last 1: %q, %v; want node-3's term alone, current", text, err)
	}
	if _, err := runCLI(t, append([]string{"master", "history", "--last", "-2"}, g...)...); err == nil || !strings.Contains(err.Error(), "--last -2") {
		t.Fatalf("--last -2: %v; want an error naming it", err)
	}
}
