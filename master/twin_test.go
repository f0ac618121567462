package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/control"
	"github.com/stock-system/stocksys/election"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
)

// memTerm is a term on zkapi.Mem: every fenced write checks the epoch
// znode's version first, as election.Term.Fenced does.
type memTerm struct {
	// failOn, if > 0, makes the failOn-th Fenced call fail without applying
	// (a connection lost before the Multi reached the server).
	failOn  int
	calls   int
	conn    *zkapi.MemConn
	epochP  string
	version int32
	ctx     context.Context
	cancel  context.CancelCauseFunc
}

func (t *memTerm) Done() <-chan struct{} { return t.ctx.Done() }
func (t *memTerm) Err() error            { return context.Cause(t.ctx) }
func (t *memTerm) Fenced(_ context.Context, ops ...any) ([]zkapi.MultiResponse, error) {
	if err := t.Err(); err != nil {
		return nil, err
	}
	if t.calls++; t.calls == t.failOn {
		return nil, fmt.Errorf("%w: %w", election.ErrUnknownOutcome, zkapi.ErrConnectionClosed)
	}
	resp, err := t.conn.Multi(append([]any{&zkapi.CheckVersionRequest{Path: t.epochP, Version: t.version}}, ops...)...)
	if err == nil {
		return resp[1:], nil
	}
	if len(resp) > 0 && errors.Is(resp[0].Error, zkapi.ErrBadVersion) {
		t.cancel(fmt.Errorf("%w: epoch znode changed", election.ErrFenced))
		return nil, t.Err()
	}
	return nil, err
}

// twinCluster is a cluster's znodes on zkapi.Mem: the layout, the epoch
// znode at epoch 5, symbols, and members (each on its own session).
type twinCluster struct {
	t       *testing.T
	mem     *zkapi.Mem
	admin   *zkapi.MemConn
	root    string
	p       tasks.Paths
	members map[string]*zkapi.MemConn
	// runStart is each task's run start as ackAll reports it (zero if
	// unset).
	runStart map[tasks.ID]time.Time
}

func newTwinCluster(t *testing.T, symbols ...string) *twinCluster {
	t.Helper()
	c := &twinCluster{t: t, mem: zkapi.NewMem(), root: "/stocksys/twin", members: map[string]*zkapi.MemConn{}}
	c.admin = c.mem.Session()
	c.p = tasks.NewPaths(c.root)
	if err := c.p.EnsureLayout(c.admin); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{c.p.Members, control.NewPaths(c.root).Intents} { // the members' and the master's own
		if err := session.EnsurePath(c.admin, p, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := session.EnsurePath(c.admin, path.Join(c.root, "epoch"), []byte("5")); err != nil {
		t.Fatal(err)
	}
	for _, s := range symbols {
		js, _ := json.Marshal(tasks.SymbolSpec{Symbol: tasks.Symbol(s)})
		if _, err := c.admin.Create(path.Join(c.p.Symbols, s), js, 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *twinCluster) join(id string) {
	s := c.mem.Session()
	js, _ := json.Marshal(tasks.MemberDoc{ID: id, Capacity: 1})
	if _, err := s.Create(path.Join(c.p.Members, id), js, zkapi.FlagEphemeral, nil); err != nil {
		c.t.Fatal(err)
	}
	c.members[id] = s
}

// master returns the master of the term at epoch 5 (won at the epoch
// znode's current version) on its own session.
func (c *twinCluster) master() (*Master, *memTerm) {
	conn := c.mem.Session()
	_, st, err := conn.Get(path.Join(c.root, "epoch"))
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	c.t.Cleanup(func() { cancel(nil) })
	term := &memTerm{conn: conn, epochP: path.Join(c.root, "epoch"), version: st.Version, ctx: ctx, cancel: cancel}
	m, err := newMaster(conn, term, 5, time.Now(), Config{Root: c.root, NodeID: "m",
		Partitions: func(context.Context) ([]int32, error) { return []int32{0, 1}, nil }})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(m.closeWatched) // the rounds' watches (Run closes them; the tests call reconcile)
	return m, term
}

// owners reads every assignment document: task -> node, and each node's
// document.
func (c *twinCluster) owners() (map[tasks.ID]string, map[string]tasks.AssignmentDoc) {
	names, _, err := c.admin.Children(c.p.Assignments)
	if err != nil {
		c.t.Fatal(err)
	}
	own, docs := map[tasks.ID]string{}, map[string]tasks.AssignmentDoc{}
	for _, n := range names {
		d, _, err := c.p.ReadAssignment(c.admin, n)
		if err != nil {
			c.t.Fatal(err)
		}
		docs[n] = d
		for _, id := range d.Tasks {
			if prev, dup := own[id]; dup {
				c.t.Fatalf("task %s assigned to %s and %s", id, prev, n)
			}
			own[id] = n
		}
	}
	return own, docs
}

// A new term's first round, read from and written to the twin: every task
// (3 fetch, 2 ingest) assigned once, balanced over the 2 members, each
// document carrying the term's epoch and its member's session.
func TestTwinFirstRoundAssignsEveryTask(t *testing.T) {
	c := newTwinCluster(t, "AAPL", "MSFT", "SPY")
	c.join("node-1")
	c.join("node-2")
	m, _ := c.master()
	if err := m.reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	own, docs := c.owners()
	if len(own) != 5 {
		t.Fatalf("%d tasks assigned (%v), want 5", len(own), own)
	}
	for _, id := range []tasks.ID{"fetch/AAPL", "fetch/MSFT", "fetch/SPY", "ingest/0", "ingest/1"} {
		if _, ok := own[id]; !ok {
			t.Errorf("%s not assigned: %v", id, own)
		}
	}
	n1, n2 := len(docs["node-1"].Tasks), len(docs["node-2"].Tasks)
	if n1+n2 != 5 || n1 < 2 || n2 < 2 {
		t.Errorf("unbalanced: node-1 %d, node-2 %d", n1, n2)
	}
	for node, d := range docs {
		if d.Epoch != 5 || int64(d.Session) != c.members[node].SessionID() || d.Node != node {
			t.Errorf("%s's document: epoch %d session %d node %q; want 5, %d, %q", node, d.Epoch, d.Session, d.Node, c.members[node].SessionID(), node)
		}
	}
	// The next round, with nothing changed, writes nothing.
	_, before, _ := c.admin.Get(c.p.Assignment("node-1"))
	if err := m.reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, after, _ := c.admin.Get(c.p.Assignment("node-1")); after.Version != before.Version {
		t.Errorf("steady round rewrote node-1's document: version %d -> %d", before.Version, after.Version)
	}
}

// A deposed master (the epoch znode moved on: a newer term was won) writes
// nothing: its round fails with election.ErrFenced and the documents stay
// as the newer term left them.
func TestTwinDeposedMasterIsFenced(t *testing.T) {
	c := newTwinCluster(t, "AAPL", "MSFT")
	c.join("node-1")
	m, term := c.master()
	if _, err := c.admin.Set(path.Join(c.root, "epoch"), []byte(strconv.Itoa(6)), -1); err != nil {
		t.Fatal(err)
	}
	err := m.reconcile(t.Context())
	if !errors.Is(err, election.ErrFenced) || !errors.Is(term.Err(), election.ErrFenced) {
		t.Fatalf("round after a newer term: %v (term: %v), want ErrFenced", err, term.Err())
	}
	if names, _, _ := c.admin.Children(c.p.Assignments); len(names) != 0 {
		t.Fatalf("a fenced master wrote assignments: %v", names)
	}
}

// A member whose session ends (crash detected): its tasks go to the one
// left. The dead node's document is not needed to know they are free: a
// holder counts only while its session is live.
func TestTwinDeadMemberReleasesItsTasks(t *testing.T) {
	c := newTwinCluster(t, "AAPL", "MSFT", "SPY")
	c.join("node-1")
	c.join("node-2")
	m, _ := c.master()
	if err := m.reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	own, _ := c.owners()
	var lost []tasks.ID
	for id, n := range own {
		if n == "node-2" {
			lost = append(lost, id)
		}
	}
	if len(lost) == 0 {
		t.Fatalf("node-2 got nothing: %v", own)
	}
	c.members["node-2"].Expire()
	if err := m.reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	own, docs := c.owners()
	for _, id := range lost {
		if own[id] != "node-1" {
			t.Errorf("%s (node-2's) is on %q after node-2's session expired, want node-1", id, own[id])
		}
	}
	if len(docs["node-1"].Tasks) != 5 {
		t.Errorf("node-1 runs %d tasks, want all 5: %v", len(docs["node-1"].Tasks), docs["node-1"].Tasks)
	}
}

// A round whose write is split into several Multis and fails part-way (the
// connection lost on the second): what was written stays, nothing is
// assigned twice, the one-time writes (failover document) are not taken as
// done, and the next round completes the plan from what it reads.
func TestTwinPartialMultiFailure(t *testing.T) {
	c := newTwinCluster(t, "AAPL", "MSFT", "SPY", "QQQ")
	c.join("node-1")
	c.join("node-2")
	m, term := c.master()
	m.cfg.MaxMultiBytes = 1 // every op its own Multi
	term.failOn = 2
	if err := m.reconcile(t.Context()); !errors.Is(err, election.ErrUnknownOutcome) {
		t.Fatalf("round with its second Multi lost: %v; want ErrUnknownOutcome", err)
	}
	own, docs := c.owners() // fails on a task in two documents
	if len(docs) != 1 || len(own) == 0 {
		t.Fatalf("after the partial write: documents %v; want exactly the first Multi's (one document)", docs)
	}
	if ok, _, _ := c.admin.Exists(c.p.Failover); ok {
		t.Fatal("the failover document was written although the round failed before it")
	}
	if m.firstDone {
		t.Fatal("the term's first round counts as done after a failed write")
	}
	if err := m.reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	own, docs = c.owners()
	if len(own) != 6 || len(docs) != 2 {
		t.Fatalf("after the retry: %d tasks over %d documents (%v); want all 6 over both members", len(own), len(docs), own)
	}
	if ok, _, _ := c.admin.Exists(c.p.Failover); !ok || !m.firstDone {
		t.Fatal("the retried first round did not write the failover document")
	}
}

// A flapping member (its session lost and a new one registered between
// rounds, again and again): every round's documents name the member's
// current session or none, no task is ever in two documents, a task of the
// flapping node goes to it only in a document for its live session; flap
// damping cordons it (by the master, with the reason, for FlapCordon), and
// once the cordon's time is up and it stays, its share comes back.
func TestTwinFlappingMember(t *testing.T) {
	c := newTwinCluster(t, "AAPL", "MSFT", "SPY", "QQQ")
	c.join("node-1")
	c.join("node-2")
	m, _ := c.master()
	m.cfg.FlapCordon = 30 * time.Millisecond
	for i := 0; i < 6; i++ {
		if err := m.reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, docs := c.owners()
		for node, d := range docs {
			s := c.members[node]
			if int64(d.Session) != s.SessionID() && len(d.Tasks) > 0 {
				t.Fatalf("round %d: %s's document grants %v to session %d; its live session is %d", i, node, d.Tasks, d.Session, s.SessionID())
			}
		}
		c.members["node-2"].Close() // the session goes: a crash, a partition
		if i%2 == 0 {
			if err := m.reconcile(t.Context()); err != nil { // a round sees it gone
				t.Fatal(err)
			}
			if _, docs := c.owners(); len(docs["node-2"].Tasks) != 0 {
				t.Fatalf("round %d: node-2 gone, its document still grants %v", i, docs["node-2"].Tasks)
			}
		}
		c.join("node-2") // back on a new session
	}
	// Flap damping: node-2 lost its session 6 times (3 by default cordon
	// it): the master cordoned it, for FlapCordon, with the reason.
	if err := m.reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	st, _, err := control.NewPaths(c.root).ReadState(c.admin)
	cd, ok := st.Cordoned["node-2"]
	if err != nil || !ok || cd.By != control.ByFlapDamping || !strings.Contains(cd.Reason, "session lost") || !cd.Until.After(time.Now()) {
		t.Fatalf("control state after node-2 flapped: %+v, %v; want node-2 cordoned by flap damping with the reason and an end", st, err)
	}
	if _, docs := c.owners(); len(docs["node-2"].Tasks) != 0 {
		t.Fatalf("flapping node-2 given %v", docs["node-2"].Tasks)
	}
	time.Sleep(time.Until(cd.Until) + time.Millisecond) // the cordon's time is up
	for i := 0; i < 4; i++ {                            // lifted, then revocations on node-1, then grants
		if err := m.reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.ackAll()
	}
	if st, _, _ := control.NewPaths(c.root).ReadState(c.admin); len(st.Cordoned) != 0 {
		t.Fatalf("flap cordon not lifted after its time: %+v", st.Cordoned)
	}
	own, docs := c.owners()
	if len(own) != 6 || len(docs["node-2"].Tasks) < 2 || int64(docs["node-2"].Session) != c.members["node-2"].SessionID() {
		t.Fatalf("after node-2 stayed: owners %v, node-2's document %+v; want all 6 assigned, node-2 its share for session %d", own, docs["node-2"], c.members["node-2"].SessionID())
	}
}

// ackAll publishes, for every member with a document for its session, the
// status its worker would: the document's version applied, its tasks
// running, its revoked tasks released.
func (c *twinCluster) ackAll() {
	c.t.Helper()
	_, docs := c.owners()
	for node, s := range c.members {
		d, ok := docs[node]
		if !ok || int64(d.Session) != s.SessionID() {
			continue
		}
		_, st, err := c.admin.Get(c.p.Assignment(node))
		if err != nil {
			c.t.Fatal(err)
		}
		sd := tasks.StatusDoc{Node: node, Session: d.Session, Epoch: d.Epoch, AppliedVersion: st.Version, Tasks: map[tasks.ID]tasks.TaskStatus{}}
		for _, id := range d.Tasks {
			sd.Tasks[id] = tasks.TaskStatus{State: tasks.StateRunning, Epoch: d.Epoch, Started: c.runStart[id]}
		}
		js, _ := json.Marshal(sd)
		p := c.p.StatusOf(node)
		if _, err := s.Set(p, js, -1); errors.Is(err, zkapi.ErrNoNode) {
			_, err = s.Create(p, js, zkapi.FlagEphemeral, nil)
			if err != nil {
				c.t.Fatal(err)
			}
		} else if err != nil {
			c.t.Fatal(err)
		}
	}
}
