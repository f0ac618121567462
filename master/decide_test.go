package master

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/tasks"
)

// The master's decisions on hand-built views (no ZooKeeper): what decide
// writes for the round, from the members, tasks, documents and statuses a
// read returned.

var now0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

// cluster builds a view: members a, b, c (sessions 1, 2, 3, capacity 1)
// unless given, the tasks named, no documents or statuses.
type cluster struct{ v *view }

func newCluster(members string, taskIDs ...string) *cluster {
	v := &view{members: map[string]liveMember{}, docs: map[string]tasks.AssignmentDoc{}, version: map[string]int32{},
		applied: map[string]int32{}, held: map[tasks.ID]map[string]bool{}, docParts: map[string][]tasks.Part{}}
	for i, m := range strings.Fields(members) {
		v.members[m] = liveMember{id: m, session: int64(i + 1), capacity: 1}
	}
	for _, id := range taskIDs {
		t, err := tasks.ParseID(id)
		if err != nil {
			panic(err)
		}
		v.tasks = append(v.tasks, t)
	}
	return &cluster{v}
}

func ids(s string) []tasks.ID {
	out := []tasks.ID{}
	for _, f := range strings.Fields(s) {
		out = append(out, tasks.ID(f))
	}
	return out
}

// doc gives node a document (for its current session) listing ts and
// revoked, at version ver; applied is the version its status reflects
// (-1: no status), listing held.
func (c *cluster) doc(node, ts, revoked string, ver, applied int32, held string) *cluster {
	mem := c.v.members[node]
	c.v.docs[node] = tasks.AssignmentDoc{Node: node, Session: tasks.SessionID(mem.session), Epoch: 1, Tasks: ids(ts), Revoked: ids(revoked)}
	c.v.version[node] = ver
	if applied >= 0 {
		c.v.applied[node] = applied
		for _, id := range ids(held) {
			if c.v.held[id] == nil {
				c.v.held[id] = map[string]bool{}
			}
			c.v.held[id][node] = true
		}
	}
	return c
}

func (c *cluster) decide(t *testing.T) decision {
	t.Helper()
	return decide(c.v, 7, now0)
}

func wantDoc(t *testing.T, d decision, node, ts, revoked string) {
	t.Helper()
	doc, ok := d.docs[node]
	if !ok {
		t.Fatalf("no document written for %s; written: %v", node, d.docs)
	}
	if !slices.Equal(doc.Tasks, ids(ts)) || !slices.Equal(doc.Revoked, ids(revoked)) {
		t.Fatalf("%s: tasks %v revoked %v; want tasks [%s] revoked [%s]", node, doc.Tasks, doc.Revoked, ts, revoked)
	}
	if doc.Epoch != 7 || !doc.Written.Equal(now0) || doc.Node != node || doc.Revoked == nil {
		t.Fatalf("%s: document %+v; want epoch 7, written %v, revoked not nil", node, doc, now0)
	}
}

func TestDecideFirstAssignmentBalanced(t *testing.T) {
	c := newCluster("a b", "fetch/AAA", "fetch/BBB", "ingest/0", "ingest/1")
	d := c.decide(t)
	if len(d.docs) != 2 || d.moves != 0 || len(d.gone) != 0 {
		t.Fatalf("decision %+v; want 2 documents, no moves", d)
	}
	n := len(d.docs["a"].Tasks) + len(d.docs["b"].Tasks)
	if n != 4 || len(d.docs["a"].Tasks) != 2 || len(d.docs["a"].Revoked) != 0 || d.docs["a"].Revoked == nil {
		t.Fatalf("documents %+v; want 2 tasks each, revoked [] (not nil)", d.docs)
	}
}

func TestDecideSteadyStateWritesNothing(t *testing.T) {
	c := newCluster("a b", "fetch/AAA", "fetch/BBB").
		doc("a", "fetch/AAA", "", 3, 3, "fetch/AAA").doc("b", "fetch/BBB", "", 5, 5, "fetch/BBB")
	if d := c.decide(t); len(d.docs) != 0 || d.moves != 0 || len(d.gone) != 0 {
		t.Fatalf("decision %+v; want nothing written (a new term does not rewrite settled documents)", d)
	}
}

// A joining node gets its share in two rounds: first the current owner's
// document drops the task and lists it as revoked (the joiner gets nothing
// of it yet); once the owner's status shows it released, the joiner gets it.
func TestDecideRevocationBeforeGrant(t *testing.T) {
	c := newCluster("a b", "fetch/AAA", "fetch/BBB").
		doc("a", "fetch/AAA fetch/BBB", "", 4, 4, "fetch/AAA fetch/BBB")
	d := c.decide(t)
	if d.moves != 1 {
		t.Fatalf("moves %d; want 1", d.moves)
	}
	moved := "fetch/BBB"
	kept := "fetch/AAA"
	if !slices.Contains(d.docs["a"].Tasks, tasks.ID(kept)) {
		moved, kept = kept, moved
	}
	wantDoc(t, d, "a", kept, moved)
	wantDoc(t, d, "b", "", "")

	// a applied the new document (version 5) but its runner still runs.
	c.doc("a", kept, moved, 5, 5, kept+" "+moved).doc("b", "", "", 1, 1, "")
	d = c.decide(t)
	if _, ok := d.docs["b"]; ok {
		t.Fatalf("b granted %s while a's status still lists it: %+v", moved, d.docs["b"])
	}
	// a's runner returned: its status no longer lists the task.
	c = newCluster("a b", "fetch/AAA", "fetch/BBB").
		doc("a", kept, moved, 5, 5, kept).doc("b", "", "", 1, 1, "")
	d = c.decide(t)
	wantDoc(t, d, "b", moved, "")
	if _, ok := d.docs["a"]; ok {
		t.Fatalf("a's document rewritten although its tasks did not change: %+v", d.docs["a"])
	}
}

// A node whose status lags its document may run what that document assigns
// or lists as revoked, and nothing else: only those tasks wait for it.
func TestDecideLaggingNodeBlocksOnlyItsTasks(t *testing.T) {
	c := newCluster("a b c", "fetch/AAA", "fetch/BBB", "fetch/CCC").
		doc("a", "fetch/AAA", "fetch/CCC", 9, 8, "fetch/AAA"). // lagging: applied 8 < 9
		doc("b", "fetch/BBB", "", 2, 2, "fetch/BBB").
		doc("c", "", "", 1, 1, "")
	d := c.decide(t)
	if doc, ok := d.docs["c"]; ok && slices.Contains(doc.Tasks, "fetch/CCC") {
		t.Fatalf("c granted fetch/CCC while lagging a may still run it: %+v", doc)
	}
	// The same without the revoked entry: nothing blocks c.
	c = newCluster("a b c", "fetch/AAA", "fetch/BBB", "fetch/CCC").
		doc("a", "fetch/AAA", "", 9, 8, "fetch/AAA").
		doc("b", "fetch/BBB", "", 2, 2, "fetch/BBB").
		doc("c", "", "", 1, 1, "")
	wantDoc(t, c.decide(t), "c", "fetch/CCC", "")
}

// A lagging node with an older build's document (no revoked list) may run
// anything: every grant to another node waits for it.
func TestDecideLegacyLaggingNodeBlocksEveryGrant(t *testing.T) {
	c := newCluster("a b", "fetch/AAA", "fetch/BBB").doc("b", "", "", 1, 1, "")
	c.v.docs["a"] = tasks.AssignmentDoc{Node: "a", Session: 1, Epoch: 1, Tasks: ids("fetch/AAA")} // Revoked nil
	c.v.version["a"], c.v.applied["a"] = 3, 2
	d := c.decide(t)
	if doc, ok := d.docs["b"]; ok && len(doc.Tasks) > 0 {
		t.Fatalf("b granted %v while a legacy lagging node may run anything", doc.Tasks)
	}
	if doc, ok := d.docs["a"]; ok && doc.Revoked != nil {
		t.Fatalf("a's revoked list %v; want nil (unknown) while it lags on a legacy document", doc.Revoked)
	}
}

// A task held by a dead node's status or document is free at once: only
// live members count, and the dead node's document is deleted.
func TestDecideDeadNodeReleasesEverything(t *testing.T) {
	c := newCluster("a b", "fetch/AAA", "fetch/BBB").
		doc("a", "fetch/AAA", "", 2, 2, "fetch/AAA").doc("b", "fetch/BBB", "", 2, 2, "fetch/BBB")
	delete(c.v.members, "b") // b's session expired; its document and status remain
	d := c.decide(t)
	wantDoc(t, d, "a", "fetch/AAA fetch/BBB", "")
	if !slices.Equal(d.gone, []string{"b"}) {
		t.Fatalf("gone %v; want [b]", d.gone)
	}
}

// A document of an earlier session of the same node (it restarted) is
// ignored: the node is given tasks under its new session, and what the old
// document listed is not treated as held by the new session.
func TestDecideNewSessionGetsFreshDocument(t *testing.T) {
	c := newCluster("a", "fetch/AAA").doc("a", "fetch/AAA", "", 6, 6, "fetch/AAA")
	c.v.members["a"] = liveMember{id: "a", session: 42, capacity: 1} // restarted
	d := c.decide(t)
	wantDoc(t, d, "a", "fetch/AAA", "")
	if d.docs["a"].Session != 42 {
		t.Fatalf("session %d; want 42", d.docs["a"].Session)
	}
}

// Removing a symbol drops its fetch task from its owner's document (listed
// as revoked until released); nothing is granted elsewhere.
func TestDecideRemovedTaskIsRevoked(t *testing.T) {
	c := newCluster("a", "fetch/AAA").doc("a", "fetch/AAA fetch/BBB", "", 3, 3, "fetch/AAA fetch/BBB")
	d := c.decide(t)
	wantDoc(t, d, "a", "fetch/AAA", "fetch/BBB")
	if d.moves != 0 {
		t.Fatalf("moves %d; want 0 (a removal is not a move)", d.moves)
	}
}

// With no live member, nothing is assigned and every document is deleted.
func TestDecideNoMembers(t *testing.T) {
	c := newCluster("a", "fetch/AAA").doc("a", "fetch/AAA", "", 1, 1, "fetch/AAA")
	delete(c.v.members, "a")
	d := c.decide(t)
	if len(d.docs) != 0 || !slices.Equal(d.gone, []string{"a"}) {
		t.Fatalf("decision %+v; want no documents, a deleted", d)
	}
}

// Move throttling: with at most 2 moves in flight, a join that would move
// 4 tasks revokes 2 (the others stay on their owner, unrevoked); while
// those 2 are not released, no other move starts; once granted, the next 2
// move. Nothing is ever granted while held elsewhere.
func TestDecideMoveThrottling(t *testing.T) {
	all := "fetch/A fetch/B fetch/C fetch/D fetch/E fetch/F fetch/G fetch/H"
	c := newCluster("a b", strings.Fields(all)...).doc("a", all, "", 3, 3, all)
	c.v.maxMoves = 2
	d := c.decide(t)
	if d.moves != 2 || d.throttled != 2 {
		t.Fatalf("moves %d, throttled %d; want 2 and 2 (b's share of 4, 2 at a time)", d.moves, d.throttled)
	}
	doc := d.docs["a"]
	if len(doc.Tasks) != 6 || len(doc.Revoked) != 2 {
		t.Fatalf("a's document: tasks %v revoked %v; want 6 kept, 2 revoked", doc.Tasks, doc.Revoked)
	}
	if _, ok := d.docs["b"]; ok && len(d.docs["b"].Tasks) > 0 {
		t.Fatalf("b granted %v while a may still run them", d.docs["b"].Tasks)
	}
	// a applied its document but its runners still run the revoked two:
	// 2 moves in flight, none more may start.
	c.doc("a", join(doc.Tasks), join(doc.Revoked), 4, 4, all)
	if d = c.decide(t); d.moves != 0 || len(d.docs["b"].Tasks) != 0 {
		t.Fatalf("with 2 moves in flight: moves %d, b given %v; want none", d.moves, d.docs["b"].Tasks)
	}
	// Released: b gets the two; the next two may move.
	c.release("a").doc("a", join(doc.Tasks), join(doc.Revoked), 4, 4, join(doc.Tasks))
	d = c.decide(t)
	if got := len(d.docs["b"].Tasks); got != 2 || d.moves != 2 {
		t.Fatalf("after the release: b given %v, moves %d; want the 2 released and 2 more revoked", d.docs["b"].Tasks, d.moves)
	}
	// The default bound (a quarter of the tasks, at least 32) and no
	// bound: all 4 at once.
	for _, limit := range []int{0, -1} {
		c = newCluster("a b", strings.Fields(all)...).doc("a", all, "", 3, 3, all)
		c.v.maxMoves = limit
		if d = c.decide(t); d.moves != 4 || d.throttled != 0 {
			t.Fatalf("bound %d: moves %d throttled %d; want 4, 0", limit, d.moves, d.throttled)
		}
	}
}
