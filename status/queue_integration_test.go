package status

import (
	"github.com/stock-system/stocksys/zkapi"

	"context"
	"encoding/json"
	"errors"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/election"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
)

// queueNode is one campaigning node of a test: its session and candidate.
type queueNode struct {
	s    *session.Session
	c    *election.Candidate
	term chan *election.Term // receives the term Campaign returns
}

// startCandidates starts one session and candidate per id under root, each
// campaigning in the background, in order: each waits until the previous one
// has its candidate znode, so the queue order is the order of ids.
func startCandidates(t *testing.T, ctx context.Context, root string, ids ...string) []*queueNode {
	t.Helper()
	var out []*queueNode
	for _, id := range ids {
		cfg := session.DefaultConfig(testenv.ZKServers(t)...)
		cfg.Timeout = 4 * time.Second
		s, err := session.New(ctx, cfg)
		if err != nil {
			t.Fatalf("session.New: %v", err)
		}
		t.Cleanup(s.Close)
		ecfg := election.DefaultConfig(id)
		ecfg.Root = root
		c, err := election.NewCandidate(s, ecfg)
		if err != nil {
			t.Fatalf("NewCandidate(%s): %v", id, err)
		}
		t.Cleanup(c.Close)
		n := &queueNode{s: s, c: c, term: make(chan *election.Term, 1)}
		n.campaign(t, ctx)
		out = append(out, n)
	}
	return out
}

// campaign starts Campaign in the background and waits for the candidate
// znode.
func (n *queueNode) campaign(t *testing.T, ctx context.Context) {
	t.Helper()
	go func() {
		if term, err := n.c.Campaign(ctx); err == nil {
			n.term <- term
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); n.c.Znode() == ""; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no candidate znode within 10s")
		}
	}
}

func (n *queueNode) waitTerm(t *testing.T) *election.Term {
	t.Helper()
	select {
	case term := <-n.term:
		return term
	case <-time.After(15 * time.Second):
		t.Fatal("no term within 15s")
		return nil
	}
}

// electionZnodes reads the candidate znodes under root as ZooKeeper holds
// them, sorted by sequence number: what the queue must equal.
func electionZnodes(t *testing.T, c zkapi.Conn, root string) []Candidate {
	t.Helper()
	names, _, err := c.Children(path.Join(root, "election"))
	if err != nil {
		t.Fatal(err)
	}
	var out []Candidate
	for _, n := range names {
		data, st, err := c.Get(path.Join(root, "election", n))
		if err != nil {
			t.Fatal(err)
		}
		seq, err := strconv.ParseInt(n[strings.LastIndex(n, "-n_")+3:], 10, 64)
		if err != nil {
			t.Fatalf("candidate znode %s: %v", n, err)
		}
		out = append(out, Candidate{Node: string(data), Session: tasks.SessionString(st.EphemeralOwner), Znode: n, Seq: seq})
	}
	for i := range out { // insertion sort by seq: a handful of znodes
		for j := i; j > 0 && out[j].Seq < out[j-1].Seq; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func checkQueue(t *testing.T, r *Report, want []Candidate, nodes []*queueNode, ids ...string) {
	t.Helper()
	got, _ := json.Marshal(r.ElectionQueue)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("election_queue\n %s; want the znodes in sequence order\n %s", got, exp)
	}
	if len(r.ElectionQueue) != len(ids) {
		t.Fatalf("election_queue has %d entries; want %d (%v)", len(r.ElectionQueue), len(ids), ids)
	}
	for i, id := range ids {
		e := r.ElectionQueue[i]
		if e.Node != id || e.Session != tasks.SessionString(nodes[i].s.ID()) || e.Znode != path.Base(nodes[i].c.Znode()) {
			t.Errorf("queue[%d] = %+v; want node %s session %s znode %s", i, e, id, tasks.SessionString(nodes[i].s.ID()), path.Base(nodes[i].c.Znode()))
		}
		if i > 0 && e.Seq <= r.ElectionQueue[i-1].Seq {
			t.Errorf("queue[%d] seq %d after %d: not ascending", i, e.Seq, r.ElectionQueue[i-1].Seq)
		}
	}
}

// writeFailover writes the failover document as a new master does (the
// master package assumes the previous epoch is epoch-1 and names no
// sessions).
func writeFailover(t *testing.T, c zkapi.Conn, root string, epoch int64, node string) {
	t.Helper()
	now := time.Now().UTC()
	data, _ := json.Marshal(tasks.FailoverDoc{Epoch: epoch, Node: node, PrevEpoch: epoch - 1, Elected: now, FirstAssignment: now})
	p := path.Join(root, "failover")
	if _, err := c.Create(p, data, 0, zkapi.OpenACL()); errors.Is(err, zkapi.ErrNodeExists) {
		_, err = c.Set(p, data, -1)
		if err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
}

// TestIntegration_StatusElectionQueue: three candidates on the real
// ZooKeeper; the report's election queue equals the election znodes in
// sequence order with each candidate's node id and session; after the master
// resigns the queue moves up and the failover names the resignation and both
// sessions; after the epoch znode is moved from outside and the same node
// wins again on its session, the failover says it was fenced, not that a
// session expired.
func TestIntegration_StatusElectionQueue(t *testing.T) {
	root := testenv.ZKRoot(t)
	admin := testenv.ZKConn(t, 10*time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	nodes := startCandidates(t, ctx, root, "node-1", "node-2", "node-3")
	first := nodes[0].waitTerm(t)

	r, err := Read(admin, "q", root)
	if err != nil {
		t.Fatal(err)
	}
	checkQueue(t, r, electionZnodes(t, admin, root), nodes, "node-1", "node-2", "node-3")
	if r.Master == nil || r.Master.ID != "node-1" || r.Master.Session != r.ElectionQueue[0].Session {
		t.Errorf("master %+v; want node-1 on the first candidate's session %s", r.Master, r.ElectionQueue[0].Session)
	}
	var b strings.Builder
	if err := WriteText(&b, r, time.Now()); err != nil {
		t.Fatal(err)
	}
	t.Logf("status:\n%s", b.String())
	for i, role := range []string{"master", "next", ""} {
		q := r.ElectionQueue[i]
		line := strings.Join(strings.Fields(strconv.Itoa(i+1)+" "+q.Node+" "+q.Session+" "+strconv.FormatInt(q.Seq, 10)+" "+role), " ")
		if !containsLine(b.String(), line) {
			t.Errorf("status text has no queue line %q", line)
		}
	}

	// node-1 resigns: node-2 wins epoch 2; the queue is node-2, node-3.
	if err := nodes[0].c.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	second := nodes[1].waitTerm(t)
	writeFailover(t, admin, root, second.Epoch, "node-2")
	r, err = Read(admin, "q", root)
	if err != nil {
		t.Fatal(err)
	}
	checkQueue(t, r, electionZnodes(t, admin, root), nodes[1:], "node-2", "node-3")
	f := r.LastFailover
	if f == nil || f.Cause != CauseResigned || f.PrevEpoch != first.Epoch || f.PrevNode != "node-1" || f.PrevEnded == nil ||
		f.PrevSession != tasks.SessionString(nodes[0].s.ID()) || f.Session != tasks.SessionString(nodes[1].s.ID()) {
		t.Fatalf("last_failover %+v; want node-1's resignation (epoch %d, session 0x%x) and node-2's session 0x%x",
			f, first.Epoch, nodes[0].s.ID(), nodes[1].s.ID())
	}

	// The epoch znode is moved from outside: node-2's term ends (fenced);
	// node-2 campaigns again on the same session and wins epoch 11.
	if _, err := admin.Set(path.Join(root, "epoch"), []byte("10"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-second.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("node-2's term still live 5 s after the epoch znode moved")
	}
	nodes[1].campaign(t, ctx)
	third := nodes[1].waitTerm(t)
	if third.Epoch != 11 {
		t.Fatalf("node-2 won epoch %d again; want 11", third.Epoch)
	}
	writeFailover(t, admin, root, third.Epoch, "node-2")
	r, err = Read(admin, "q", root)
	if err != nil {
		t.Fatal(err)
	}
	checkQueue(t, r, electionZnodes(t, admin, root), nodes[1:], "node-2", "node-3")
	f = r.LastFailover
	sess := tasks.SessionString(nodes[1].s.ID())
	if f == nil || f.Cause != CauseFenced || f.PrevEpoch != second.Epoch || f.PrevNode != "node-2" || f.PrevSession != sess || f.Session != sess {
		t.Fatalf("last_failover %+v; want node-2 fenced at epoch %d and re-elected on the same session %s", f, second.Epoch, sess)
	}
	b.Reset()
	if err := WriteText(&b, r, time.Now()); err != nil {
		t.Fatal(err)
	}
	want := "node-2 re-elected on the same session " + sess + " after being fenced: the epoch znode was moved past epoch 2 from outside"
	if !strings.Contains(b.String(), want) || strings.Contains(b.String(), "detected by session expiry") {
		t.Errorf("status text does not say %q (or says session expiry):\n%s", want, b.String())
	}
}

// containsLine reports whether some line of text, with runs of spaces
// collapsed, equals line.
func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.Join(strings.Fields(l), " ") == line {
			return true
		}
	}
	return false
}
