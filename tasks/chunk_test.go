package tasks_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
)

// store is a znode map standing in for ZooKeeper in these unit tests of the
// pure encoding (the integration tests in master/ use the real server).
type store map[string][]byte

func (s store) get(p string) ([]byte, error) {
	d, ok := s[p]
	if !ok {
		return nil, zkapi.ErrNoNode
	}
	return d, nil
}

func fetchIDs(n int) []tasks.ID {
	ids := make([]tasks.ID, n)
	for i := range ids {
		ids[i] = tasks.FetchTask(tasks.Symbol(fmt.Sprintf("SYM%06d", i))).ID()
	}
	slices.Sort(ids)
	return ids
}

func TestEncodeAssignmentSmallIsWhole(t *testing.T) {
	p := tasks.NewPaths("/r")
	doc := tasks.AssignmentDoc{Node: "n1", Session: 7, Epoch: 3, Tasks: fetchIDs(10), Written: time.Unix(1, 0).UTC()}
	head, parts, err := tasks.EncodeAssignment(p, doc, nil, 99)
	if err != nil || parts != nil {
		t.Fatalf("EncodeAssignment = %d parts, %v; want whole", len(parts), err)
	}
	want, _ := json.Marshal(doc)
	if string(head) != string(want) {
		t.Fatalf("head = %s; want the plain document %s", head, want)
	}
	if strings.Contains(string(head), "parts") {
		t.Fatalf("a small document names parts: %s", head)
	}
}

func TestEncodeAssignmentLargeRoundTrip(t *testing.T) {
	p := tasks.NewPaths("/r")
	ids := fetchIDs(60000) // "fetch/SYM000000": 15 bytes, 60,000 of them ≈ 1.1 MB whole
	doc := tasks.AssignmentDoc{Node: "node.a-1", Session: 1 << 62, Epoch: 9, Tasks: ids, Written: time.Unix(5, 0).UTC()}
	whole, _ := json.Marshal(doc)
	if len(whole) <= tasks.MaxDocBytes {
		t.Fatalf("test document of %d bytes should exceed the znode limit", len(whole))
	}
	head, parts, err := tasks.EncodeAssignment(p, doc, nil, 42)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(whole) / tasks.PartBytes; len(parts) < want {
		t.Fatalf("%d parts for %d bytes; want at least %d", len(parts), len(whole), want)
	}
	zs := store{p.Assignment(doc.Node): head}
	for i, part := range parts {
		if len(part.Data) > tasks.PartBytes {
			t.Errorf("part %d is %d bytes; limit %d", i, len(part.Data), tasks.PartBytes)
		}
		if want := fmt.Sprintf("/r/assignment-parts/node.a-1.42.%d", i); part.Path != want {
			t.Errorf("part %d at %s; want %s", i, part.Path, want)
		}
		zs[part.Path] = part.Data
	}
	if len(head) > 8192 {
		t.Errorf("head is %d bytes; want it small", len(head))
	}
	got, gotParts, err := tasks.DecodeAssignment(p, head, zs.get)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Tasks, ids) || got.Node != doc.Node || got.Session != doc.Session || got.Epoch != 9 || !got.Written.Equal(doc.Written) || got.Parts != nil {
		t.Fatalf("decoded %d tasks, node %q session %v epoch %d; want %d tasks of the original", len(got.Tasks), got.Node, got.Session, got.Epoch, len(ids))
	}
	if len(gotParts) != len(parts) {
		t.Fatalf("decoded %d parts; want %d", len(gotParts), len(parts))
	}

	// One task less: only its bucket is a new part; the others are reused.
	doc2 := doc
	doc2.Tasks = slices.Delete(slices.Clone(ids), 100, 101)
	head2, parts2, err := tasks.EncodeAssignment(p, doc2, gotParts, 43)
	if err != nil {
		t.Fatal(err)
	}
	fresh := tasks.NewParts(parts2, gotParts)
	stale := tasks.StaleParts(parts2, gotParts)
	if len(parts2) != len(parts) || len(fresh) != 1 || len(stale) != 1 || !strings.Contains(fresh[0].Path, ".43.") {
		t.Fatalf("after removing one task: %d parts, %d new, %d stale; want %d, 1, 1", len(parts2), len(fresh), len(stale), len(parts))
	}
	for _, pt := range fresh {
		zs[pt.Path] = pt.Data
	}
	for _, q := range stale {
		delete(zs, q)
	}
	got2, _, err := tasks.DecodeAssignment(p, head2, zs.get)
	if err != nil || !slices.Equal(got2.Tasks, doc2.Tasks) {
		t.Fatalf("second write decodes to %d tasks, %v; want %d", len(got2.Tasks), err, len(doc2.Tasks))
	}

	// The first head names a part the second write deleted: changed.
	if _, _, err := tasks.DecodeAssignment(p, head, zs.get); !errors.Is(err, tasks.ErrPartsChanged) {
		t.Fatalf("old head after its part was deleted: err = %v; want ErrPartsChanged", err)
	}
}

func TestEncodeStatusLargeRoundTrip(t *testing.T) {
	p := tasks.NewPaths("/r")
	lag := int64(12)
	doc := tasks.StatusDoc{Node: "n2", Session: 5, Epoch: 4, AppliedVersion: 17, Tasks: map[tasks.ID]tasks.TaskStatus{},
		Refused: map[string]string{"bad/1": "unknown type"}, Updated: time.Unix(9, 0).UTC()}
	for i, id := range fetchIDs(10000) {
		doc.Tasks[id] = tasks.TaskStatus{State: tasks.StateRunning, Epoch: 4, Started: time.Unix(int64(i), 5).UTC(),
			LastProgress: time.Unix(int64(i), 7).UTC(), Progress: int64(i), Rate: float64(i) / 3, Lag: &lag, LastError: strings.Repeat("e", i%50)}
	}
	head, parts, err := tasks.EncodeStatus(p, doc, nil, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("%d parts; want the tasks split", len(parts))
	}
	zs := store{}
	for i, part := range parts {
		if len(part.Data) > tasks.PartBytes {
			t.Errorf("part %d is %d bytes; limit %d", i, len(part.Data), tasks.PartBytes)
		}
		zs[part.Path] = part.Data
	}
	got, _, err := tasks.DecodeStatus(p, head, zs.get)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tasks) != len(doc.Tasks) || got.AppliedVersion != 17 || got.Refused["bad/1"] != "unknown type" || got.Parts != nil {
		t.Fatalf("decoded %d tasks, applied %d; want %d, 17", len(got.Tasks), got.AppliedVersion, len(doc.Tasks))
	}
	for id, want := range doc.Tasks {
		g := got.Tasks[id]
		if g.Progress != want.Progress || g.Rate != want.Rate || g.LastError != want.LastError || g.Lag == nil || *g.Lag != 12 ||
			!g.Started.Equal(want.Started) || !g.LastProgress.Equal(want.LastProgress) || g.State != want.State {
			t.Fatalf("task %s = %+v; want %+v", id, g, want)
		}
	}
	if !maps.Equal(map[string]string{"bad/1": "unknown type"}, got.Refused) {
		t.Fatalf("refused = %v", got.Refused)
	}
}

func TestCheckSizeNamesDocument(t *testing.T) {
	err := tasks.CheckSize("/r/assignments/n1", make([]byte, tasks.MaxDocBytes+1))
	var tl *tasks.DocTooLargeError
	if !errors.As(err, &tl) || tl.Size != tasks.MaxDocBytes+1 || !strings.Contains(err.Error(), "/r/assignments/n1") ||
		!strings.Contains(err.Error(), fmt.Sprint(tasks.MaxDocBytes+1)) {
		t.Fatalf("CheckSize = %v; want a DocTooLargeError naming the path and size", err)
	}
	if err := tasks.CheckSize("/x", make([]byte, tasks.MaxDocBytes)); err != nil {
		t.Fatalf("CheckSize at the limit = %v", err)
	}
	// A head that cannot fit: a task entry alone over the limit.
	p := tasks.NewPaths("/r")
	doc := tasks.StatusDoc{Node: "n", Tasks: map[tasks.ID]tasks.TaskStatus{"fetch/A": {LastError: strings.Repeat("x", tasks.MaxDocBytes)}}}
	if _, _, err := tasks.EncodeStatus(p, doc, nil, 1); !errors.As(err, &tl) || !strings.HasPrefix(tl.Path, "/r/status-parts/n.1.") {
		t.Fatalf("EncodeStatus of a huge entry = %v; want DocTooLargeError for its part", err)
	}
}

func TestParsePartName(t *testing.T) {
	for _, c := range []struct {
		name string
		node string
		gen  int64
		i    int
		ok   bool
	}{
		{"n1.17.0", "n1", 17, 0, true},
		{"node.a.b.1733000000000000000.12", "node.a.b", 1733000000000000000, 12, true},
		{"n1.17", "", 0, 0, false},
		{".17.0", "", 0, 0, false},
		{"n1.x.0", "", 0, 0, false},
		{"n1.1.-1", "", 0, 0, false},
	} {
		node, gen, i, ok := tasks.ParsePartName(c.name)
		if node != c.node || gen != c.gen || i != c.i || ok != c.ok {
			t.Errorf("ParsePartName(%q) = %q %d %d %v; want %q %d %d %v", c.name, node, gen, i, ok, c.node, c.gen, c.i, c.ok)
		}
	}
}
