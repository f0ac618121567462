package master

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/control"
	"github.com/stock-system/stocksys/tasks"
)

// The master's decisions under operator intents (package control), on
// hand-built views as in decide_test.go: cordon, drain, maintenance.

// intent queues an operator intent in the view, as read from intents/.
func (c *cluster) intent(id string, a control.Action, node, reason string) *cluster {
	c.v.intents = append(c.v.intents, control.Pending{ID: id,
		Intent: control.Intent{Action: a, Node: node, Reason: reason, By: "ops@host", At: now0.Add(-time.Second)}})
	return c
}

// settle moves what d decided into the view as if written and applied: the
// control state, and every document written (applied, its status listing
// what it runs).
func (c *cluster) settle(d decision) *cluster {
	if d.control != nil {
		c.v.control, c.v.intents = *d.control, nil
		c.v.history = *d.history
	}
	for node, doc := range d.docs {
		c.release(node).doc(node, join(doc.Tasks), "", c.v.version[node]+1, c.v.version[node]+1, join(doc.Tasks))
	}
	for _, node := range d.gone {
		delete(c.v.docs, node)
	}
	return c
}

// release drops node from every task's holders (its status lists nothing).
func (c *cluster) release(node string) *cluster {
	for _, h := range c.v.held {
		delete(h, node)
	}
	return c
}

func join(ids []tasks.ID) string {
	var s []string
	for _, id := range ids {
		s = append(s, string(id))
	}
	return strings.Join(s, " ")
}

func wantRecord(t *testing.T, d decision, i int, id, result, errPart string) {
	t.Helper()
	if d.history == nil || len(d.history.Actions) <= i {
		t.Fatalf("history %+v; want a record #%d for %s", d.history, i, id)
	}
	r := d.history.Actions[i]
	if r.ID != id || r.Result != result || !strings.Contains(r.Error, errPart) || r.Epoch != 7 || !r.Applied.Equal(now0) || r.By != "ops@host" {
		t.Fatalf("record #%d %+v; want %s %s (error containing %q), epoch 7, applied %v, by ops@host", i, r, id, result, errPart, now0)
	}
}

// A cordoned node keeps the tasks it runs and gets no new one: a new
// symbol, and the share a joining node would take from it, go elsewhere.
func TestDecideCordonedKeepsTasksGetsNothingNew(t *testing.T) {
	c := newCluster("a b", "fetch/AAA", "fetch/BBB", "fetch/CCC", "fetch/DDD", "fetch/EEE", "fetch/FFF").
		doc("a", "fetch/AAA fetch/BBB fetch/CCC", "", 3, 3, "fetch/AAA fetch/BBB fetch/CCC").
		doc("b", "fetch/DDD fetch/EEE fetch/FFF", "", 3, 3, "fetch/DDD fetch/EEE fetch/FFF").
		intent("i-0000000001", control.ActionCordon, "a", "disk noise")
	d := c.decide(t)
	if _, ok := d.docs["a"]; ok || len(d.docs) != 0 || d.moves != 0 {
		t.Fatalf("cordon rewrote documents %+v (moves %d); want none: a keeps its tasks", d.docs, d.moves)
	}
	if cd, ok := d.control.Cordoned["a"]; !ok || cd.Drain || cd.Reason != "disk noise" || cd.By != "ops@host" || cd.Intent != "i-0000000001" {
		t.Fatalf("control state %+v; want a cordoned (not drained) by ops@host for disk noise", d.control)
	}
	if d.control.Epoch != 7 || !slices.Equal(d.consumed, []string{"i-0000000001"}) {
		t.Fatalf("state epoch %d, consumed %v; want 7 and the intent", d.control.Epoch, d.consumed)
	}
	wantRecord(t, d, 0, "i-0000000001", control.ResultApplied, "")
	c.settle(d)

	// Two new symbols and a joining node c: b and c share what is not a's.
	c.v.members["c"] = liveMember{id: "c", session: 3, capacity: 1}
	for _, s := range []string{"GGG", "HHH"} {
		c.v.tasks = append(c.v.tasks, tasks.FetchTask(tasks.Symbol(s)))
	}
	d = c.decide(t)
	if doc, ok := d.docs["a"]; ok {
		t.Fatalf("a's document rewritten to %v; a cordoned node keeps exactly its tasks", doc.Tasks)
	}
	// b had 3, the 5 free tasks split 3/2 (or 2/3) over b and c: b may give
	// one to c (revoked first), c takes the new ones at once.
	got := len(d.docs["c"].Tasks)
	for _, id := range d.docs["c"].Tasks {
		if id == "fetch/AAA" || id == "fetch/BBB" || id == "fetch/CCC" {
			t.Fatalf("c given %s, a cordoned node's task", id)
		}
	}
	if got < 2 {
		t.Fatalf("c given %v; want the two new symbols", d.docs["c"].Tasks)
	}
	if d.control != nil {
		t.Fatalf("control state rewritten without an intent: %+v", d.control)
	}
}

// A drained node is emptied through the gate: its tasks are revoked (listed
// as revoked in its document), granted elsewhere only once released; it
// stays a member with an empty document.
func TestDecideDrainedNodeEmptiedViaRevocation(t *testing.T) {
	c := newCluster("a b", "fetch/AAA", "fetch/BBB", "ingest/0", "ingest/1").
		doc("a", "fetch/AAA ingest/0", "", 4, 4, "fetch/AAA ingest/0").
		doc("b", "fetch/BBB ingest/1", "", 4, 4, "fetch/BBB ingest/1").
		intent("i-0000000005", control.ActionDrain, "a", "rolling upgrade")
	d := c.decide(t)
	wantDoc(t, d, "a", "", "fetch/AAA ingest/0")
	if _, ok := d.docs["b"]; ok {
		t.Fatalf("b given %v while a may still run them (revocation before grant)", d.docs["b"].Tasks)
	}
	if d.moves != 2 {
		t.Fatalf("moves %d; want 2", d.moves)
	}
	if cd := d.control.Cordoned["a"]; !cd.Drain || cd.Reason != "rolling upgrade" {
		t.Fatalf("state %+v; want a drained", d.control)
	}
	wantRecord(t, d, 0, "i-0000000005", control.ResultApplied, "")

	// a applied the revocation; its runners still run: nothing granted yet.
	c.v.control, c.v.intents = *d.control, nil
	c.doc("a", "", "fetch/AAA ingest/0", 5, 5, "fetch/AAA ingest/0")
	if d = c.decide(t); len(d.docs["b"].Tasks) != 0 {
		t.Fatalf("b given %v while a's status still lists them", d.docs["b"].Tasks)
	}
	// Released: b gets everything, a keeps an empty document (a member).
	c.release("a").doc("a", "", "fetch/AAA ingest/0", 5, 5, "")
	d = c.decide(t)
	wantDoc(t, d, "b", "fetch/AAA fetch/BBB ingest/0 ingest/1", "")
	if doc, ok := d.docs["a"]; ok && len(doc.Tasks) != 0 {
		t.Fatalf("drained a given %v", doc.Tasks)
	}
	if len(d.gone) != 0 {
		t.Fatalf("gone %v; a drained node stays a member", d.gone)
	}

	// Uncordon: a takes its share back on the next plan (from b, revoked first).
	c.settle(d).intent("i-0000000006", control.ActionUncordon, "a", "")
	d = c.decide(t)
	if _, ok := d.control.Cordoned["a"]; ok || d.moves != 2 || len(d.docs["b"].Revoked) != 2 {
		t.Fatalf("after uncordon: state %+v, moves %d, b's document %+v; want a not cordoned and 2 tasks revoked from b",
			d.control, d.moves, d.docs["b"])
	}
}

// Maintenance freezes every document: a dead node's tasks stay unassigned
// (its document is not deleted), a joining node and a new symbol get
// nothing; intents are still applied, and exit assigns everything at once.
func TestDecideMaintenanceFreezesEveryDocument(t *testing.T) {
	c := newCluster("a b c", "fetch/AAA", "fetch/BBB", "fetch/CCC").
		doc("a", "fetch/AAA", "", 2, 2, "fetch/AAA").
		doc("b", "fetch/BBB", "", 2, 2, "fetch/BBB").
		doc("c", "fetch/CCC", "", 2, 2, "fetch/CCC").
		intent("i-0000000010", control.ActionMaintenanceEnter, "", "broker upgrade")
	delete(c.v.members, "c") // c died as maintenance was entered
	d := c.decide(t)
	if !d.frozen || len(d.docs) != 0 || len(d.gone) != 0 || d.moves != 0 {
		t.Fatalf("decision %+v; want frozen: nothing written or deleted", d)
	}
	if m := d.control.Maintenance; m == nil || m.Reason != "broker upgrade" || m.By != "ops@host" || !m.At.Equal(now0.Add(-time.Second)) {
		t.Fatalf("maintenance %+v; want entered by ops@host for broker upgrade", d.control.Maintenance)
	}
	c.settle(d)
	c.v.members["d"] = liveMember{id: "d", session: 4, capacity: 1}
	c.v.tasks = append(c.v.tasks, tasks.FetchTask("DDD"))
	if d = c.decide(t); !d.frozen || len(d.docs) != 0 || len(d.gone) != 0 {
		t.Fatalf("decision in maintenance %+v; want nothing written", d)
	}
	// Intents still apply in maintenance; a second enter is rejected.
	c.intent("i-0000000011", control.ActionMaintenanceEnter, "", "again").intent("i-0000000012", control.ActionCordon, "b", "")
	d = c.decide(t)
	if !d.frozen || len(d.docs) != 0 {
		t.Fatalf("decision %+v; want frozen", d)
	}
	wantRecord(t, d, 1, "i-0000000011", control.ResultRejected, "already in maintenance mode")
	wantRecord(t, d, 2, "i-0000000012", control.ResultApplied, "")
	c.settle(d).intent("i-0000000013", control.ActionMaintenanceExit, "", "")
	d = c.decide(t)
	if d.frozen || d.control.Maintenance != nil || !slices.Equal(d.gone, []string{"c"}) {
		t.Fatalf("after exit: %+v; want planning again, c's document deleted", d)
	}
	// CCC (the dead c's) and DDD (new) go to a and d at once (b is cordoned).
	owned := map[tasks.ID]string{}
	for node, doc := range d.docs {
		for _, id := range doc.Tasks {
			owned[id] = node
		}
	}
	if owned["fetch/CCC"] == "" || owned["fetch/DDD"] == "" || owned["fetch/CCC"] == "b" || owned["fetch/DDD"] == "b" {
		t.Fatalf("after exit the documents give %v; want CCC and DDD assigned, not to cordoned b", owned)
	}
}

// Intents that cannot apply are rejected with the reason, change nothing,
// and are consumed (deleted) all the same.
func TestDecideRejectedIntents(t *testing.T) {
	c := newCluster("a", "fetch/AAA").doc("a", "fetch/AAA", "", 1, 1, "fetch/AAA").
		intent("i-0000000003", control.ActionUncordon, "a", "").
		intent("i-0000000002", control.ActionCordon, "zz", "").
		intent("i-0000000004", control.ActionMaintenanceExit, "", "")
	c.v.intents = append(c.v.intents, control.Pending{ID: "i-0000000009", Err: control.ErrBadIntent})
	d := c.decide(t)
	if len(d.docs) != 0 || len(d.control.Cordoned) != 0 || d.control.Maintenance != nil || d.control.Epoch != 0 {
		t.Fatalf("decision %+v, state %+v; want nothing changed", d.docs, d.control)
	}
	wantRecord(t, d, 0, "i-0000000002", control.ResultRejected, `unknown node "zz"`)
	wantRecord(t, d, 1, "i-0000000003", control.ResultRejected, `node "a": not cordoned`)
	wantRecord(t, d, 2, "i-0000000004", control.ResultRejected, "not in maintenance mode")
	if r := d.history.Actions[3]; r.ID != "i-0000000009" || r.Result != control.ResultRejected || r.Error != "bad intent" {
		t.Fatalf("record #3 %+v; want the unreadable intent rejected", r)
	}
	if len(d.consumed) != 4 {
		t.Fatalf("consumed %v; want all 4", d.consumed)
	}
}

// taskIntent queues a task action (pause, resume, restart).
func (c *cluster) taskIntent(id string, a control.Action, task string) *cluster {
	c.v.intents = append(c.v.intents, control.Pending{ID: id,
		Intent: control.Intent{Action: a, Task: task, By: "ops@host", At: now0.Add(-time.Second)}})
	return c
}

// A paused task is revoked from its owner and given to no one, whoever
// is free; once resumed it is planned again. An unknown task is rejected
// naming it.
func TestDecidePauseAndResume(t *testing.T) {
	c := newCluster("a b", "fetch/AAA", "fetch/SPY", "ingest/0", "ingest/1").
		doc("a", "fetch/AAA fetch/SPY", "", 4, 4, "fetch/AAA fetch/SPY").
		doc("b", "ingest/0 ingest/1", "", 4, 4, "ingest/0 ingest/1").
		taskIntent("i-0000000001", control.ActionPause, "fetch/SPY").
		taskIntent("i-0000000002", control.ActionPause, "fetch/QQQ")
	d := c.decide(t)
	if doc := d.docs["a"]; !slices.Contains(doc.Revoked, "fetch/SPY") || slices.Contains(doc.Tasks, "fetch/SPY") || !d.control.IsPaused("fetch/SPY") {
		t.Fatalf("pause: documents %v, state %+v; want fetch/SPY revoked from a and paused", d.docs, d.control)
	}
	if doc := d.docs["b"]; slices.Contains(doc.Tasks, "fetch/SPY") {
		t.Fatalf("paused fetch/SPY given to b: %+v", doc)
	}
	wantRecord(t, d, 0, "i-0000000001", control.ResultApplied, "")
	wantRecord(t, d, 1, "i-0000000002", control.ResultRejected, `"fetch/QQQ"`)
	c.settle(d)
	for i := 0; i < 2; i++ { // released, and a round later: SPY stays unassigned
		d = c.decide(t)
		for node, doc := range d.docs {
			if slices.Contains(doc.Tasks, "fetch/SPY") {
				t.Fatalf("round %d: paused fetch/SPY given to %s", i, node)
			}
		}
		c.settle(d)
	}
	if doc := c.v.docs["a"]; slices.Contains(doc.Tasks, "fetch/SPY") || slices.Contains(doc.Revoked, "fetch/SPY") {
		t.Fatalf("a's document after the pause settled: %+v", doc)
	}
	c.taskIntent("i-0000000003", control.ActionResume, "fetch/SPY")
	d = c.decide(t)
	if d.control.IsPaused("fetch/SPY") {
		t.Fatalf("state after resume: %+v", d.control)
	}
	granted := ""
	for node, doc := range d.docs {
		if slices.Contains(doc.Tasks, "fetch/SPY") {
			granted = node
		}
	}
	if granted == "" {
		t.Fatalf("resumed fetch/SPY given to no one: %v", d.docs)
	}
}

// A restart revokes the task from its owner and, once the owner released
// it, gives it back to the same owner (the restart is then done: the state
// no longer lists it); other tasks do not move.
func TestDecideRestartReturnsToItsOwner(t *testing.T) {
	c := newCluster("a b", "fetch/AAA", "fetch/BBB", "ingest/0", "ingest/1").
		doc("a", "fetch/AAA ingest/0", "", 4, 4, "fetch/AAA ingest/0").
		doc("b", "fetch/BBB ingest/1", "", 4, 4, "fetch/BBB ingest/1").
		taskIntent("i-0000000001", control.ActionRestart, "ingest/0")
	d := c.decide(t)
	wantDoc(t, d, "a", "fetch/AAA", "ingest/0")
	if r, ok := d.control.Restarting["ingest/0"]; !ok || r.Owner != "a" || len(d.docs) != 1 {
		t.Fatalf("restart: state %+v, documents %v; want ingest/0 restarting from a, a's document alone", d.control, d.docs)
	}
	// a applied the revocation but its runner has not returned: no grant.
	c.v.control, c.v.intents, c.v.history = *d.control, nil, *d.history
	c.doc("a", "fetch/AAA", "ingest/0", 5, 5, "fetch/AAA ingest/0")
	d = c.decide(t)
	if doc, ok := d.docs["a"]; ok && slices.Contains(doc.Tasks, "ingest/0") {
		t.Fatalf("ingest/0 given back while a's runner still runs: %+v", doc)
	}
	if _, ok := d.docs["b"]; ok {
		t.Fatalf("b's document rewritten during a restart of a's task: %+v", d.docs["b"])
	}
	// Released: back to a, restart done.
	c.release("a").doc("a", "fetch/AAA", "ingest/0", 5, 5, "fetch/AAA")
	d = c.decide(t)
	wantDoc(t, d, "a", "fetch/AAA ingest/0", "")
	if d.control == nil || len(d.control.Restarting) != 0 || d.history != nil {
		t.Fatalf("state after the restart completed: %+v, history %v; want no restart pending, and the history not rewritten (it was not read)", d.control, d.history)
	}
}
