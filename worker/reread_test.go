package worker

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stock-system/stocksys/tasks"
)

// Decision: an assignment head whose parts are not all there when read
// (tasks.ErrPartsChanged) is read again at the next tick, not only when the
// head's watch fires: here the missing part appears with no further change
// of the head, and the worker still runs the document's tasks.
func TestTwinHeadWithMissingPartReadAgain(t *testing.T) {
	tw := newTwin(t)
	ids := make([]tasks.ID, 6000) // about 100 KB of ids: a head and parts
	for i := range ids {
		ids[i] = tasks.FetchTask(tasks.Symbol(fmt.Sprintf("S%06d", i))).ID()
	}
	doc := tasks.AssignmentDoc{Node: "node-1", Session: tasks.SessionID(tw.conn.SessionID()), Epoch: 1, Tasks: ids, Written: time.Now()}
	head, parts, err := tasks.EncodeAssignment(tw.p, doc, nil, 1)
	if err != nil || len(parts) < 2 {
		t.Fatalf("EncodeAssignment: %d parts, %v; want 2 or more", len(parts), err)
	}
	var named tasks.AssignmentDoc
	if err := json.Unmarshal(head, &named); err != nil || len(named.Parts) != len(parts) {
		t.Fatalf("head names %d parts (%v); want %d", len(named.Parts), err, len(parts))
	}
	// All parts but the last, then the head: the worker reads a head whose
	// last part is missing.
	for _, pt := range parts[:len(parts)-1] {
		if _, err := tw.admin.Create(pt.Path, pt.Data, 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tw.admin.Create(tw.p.Assignment("node-1"), head, 0, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // a few ticks: read, parts missing
	if n := tw.r.count(); n != 0 {
		t.Fatalf("%d tasks run from a head whose part is missing; want none", n)
	}
	last := parts[len(parts)-1]
	if _, err := tw.admin.Create(last.Path, last.Data, 0, nil); err != nil {
		t.Fatal(err)
	}
	tw.waitFor(func() bool { return tw.r.count() == len(ids) }, func() string {
		return fmt.Sprintf("%d tasks running; want %d once the last part exists (the head did not change)", tw.r.count(), len(ids))
	})
	var d tasks.StatusDoc
	tw.waitFor(func() bool {
		d, _, err = tw.p.ReadStatus(tw.admin, "node-1")
		return err == nil && d.AppliedVersion == 0 && len(d.Tasks) == len(ids)
	}, func() string {
		return fmt.Sprintf("status applied %d, %d tasks (%v); want version 0 applied, %d tasks", d.AppliedVersion, len(d.Tasks), err, len(ids))
	})
	if d.Epoch != 1 {
		t.Errorf("status epoch %d; want 1", d.Epoch)
	}
}

// count returns how many task ids have a live run.
func (r *trackRunner) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, k := range r.live {
		if k > 0 {
			n++
		}
	}
	return n
}
