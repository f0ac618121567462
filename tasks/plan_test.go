package tasks

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

// fetch returns fetch tasks for the given (valid, upper-case) symbols.
func fetch(syms ...string) []Task {
	ts := make([]Task, len(syms))
	for i, s := range syms {
		ts[i] = FetchTask(Symbol(s))
	}
	return ts
}

// ingest returns ingest tasks for the given partitions.
func ingest(parts ...int32) []Task {
	ts := make([]Task, len(parts))
	for i, p := range parts {
		ts[i] = IngestTask(p)
	}
	return ts
}

// owners builds an Assignment from "owner: id id ..." style pairs.
func owners(byOwner map[string][]string) Assignment {
	a := Assignment{}
	for owner, ids := range byOwner {
		for _, id := range ids {
			a[ID(id)] = owner
		}
	}
	return a
}

func TestPlanTable(t *testing.T) {
	abc := []Member{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	tests := []struct {
		name    string
		members []Member
		tasks   []Task
		current Assignment
		want    Assignment
		moves   int // tasks taken from live owners, and MinimalMoves
	}{
		{
			name:    "no members: everything unassigned",
			members: nil,
			tasks:   fetch("A", "B"),
			current: owners(map[string][]string{"a": {"fetch/A"}}),
			want:    Assignment{},
		},
		{
			name:    "no tasks",
			members: abc,
			current: owners(map[string][]string{"a": {"fetch/A"}}),
			want:    Assignment{},
		},
		{
			name:    "from scratch: remainders to smallest IDs, lowest task IDs first",
			members: abc,
			tasks:   fetch("E", "D", "C", "B", "A"),
			want: owners(map[string][]string{
				"a": {"fetch/A", "fetch/B"}, "b": {"fetch/C", "fetch/D"}, "c": {"fetch/E"}}),
		},
		{
			name:    "join: each old member gives up exactly its surplus",
			members: abc,
			tasks:   fetch("A", "B", "C", "D", "E", "F"),
			current: owners(map[string][]string{
				"a": {"fetch/A", "fetch/B", "fetch/C"}, "b": {"fetch/D", "fetch/E", "fetch/F"}}),
			want: owners(map[string][]string{
				"a": {"fetch/A", "fetch/B"}, "b": {"fetch/D", "fetch/E"}, "c": {"fetch/C", "fetch/F"}}),
			moves: 2,
		},
		{
			name:    "join: remainder stays with a holder, tie broken by ID",
			members: abc,
			tasks:   fetch("A", "B", "C", "D"),
			current: owners(map[string][]string{"a": {"fetch/A", "fetch/B"}, "b": {"fetch/C", "fetch/D"}}),
			want: owners(map[string][]string{
				"a": {"fetch/A", "fetch/B"}, "b": {"fetch/C"}, "c": {"fetch/D"}}),
			moves: 1,
		},
		{
			name:    "leave: only the dead member's tasks move",
			members: []Member{{ID: "a"}, {ID: "b"}},
			tasks:   fetch("A", "B", "C", "D", "E", "F"),
			current: owners(map[string][]string{
				"a": {"fetch/A", "fetch/B"}, "b": {"fetch/C", "fetch/D"}, "c": {"fetch/E", "fetch/F"}}),
			want: owners(map[string][]string{
				"a": {"fetch/A", "fetch/B", "fetch/E"}, "b": {"fetch/C", "fetch/D", "fetch/F"}}),
		},
		{
			name:    "capacity 1:3",
			members: []Member{{ID: "a"}, {ID: "b", Capacity: 3}},
			tasks:   fetch("A", "B", "C", "D", "E", "F", "G", "H"),
			want: owners(map[string][]string{
				"a": {"fetch/A", "fetch/B"},
				"b": {"fetch/C", "fetch/D", "fetch/E", "fetch/F", "fetch/G", "fetch/H"}}),
		},
		{
			name:    "capacity 1:2, 4 tasks: shares 1.33/2.67, remainder to the larger fraction",
			members: []Member{{ID: "a", Capacity: 0}, {ID: "b", Capacity: 2}},
			tasks:   fetch("A", "B", "C", "D"),
			want:    owners(map[string][]string{"a": {"fetch/A"}, "b": {"fetch/B", "fetch/C", "fetch/D"}}),
		},
		{
			name:    "capacity 1:2, remainder stays with the current holder",
			members: []Member{{ID: "a"}, {ID: "b", Capacity: 2}},
			tasks:   fetch("A", "B", "C", "D"),
			current: owners(map[string][]string{"a": {"fetch/A", "fetch/B"}, "b": {"fetch/C", "fetch/D"}}),
			want:    owners(map[string][]string{"a": {"fetch/A", "fetch/B"}, "b": {"fetch/C", "fetch/D"}}),
		},
		{
			name:    "capacity raised: the grown member takes the surplus",
			members: []Member{{ID: "a"}, {ID: "b", Capacity: 3}},
			tasks:   fetch("A", "B", "C", "D"),
			current: owners(map[string][]string{"a": {"fetch/A", "fetch/B"}, "b": {"fetch/C", "fetch/D"}}),
			want:    owners(map[string][]string{"a": {"fetch/A"}, "b": {"fetch/B", "fetch/C", "fetch/D"}}),
			moves:   1,
		},
		{
			name:    "unknown owners, unassigned tasks and garbage keys in current",
			members: []Member{{ID: "a"}, {ID: "b"}},
			tasks:   fetch("A", "B", "C", "D"),
			current: Assignment{
				"fetch/A": "ghost", "fetch/B": "", "fetch/C": "b", "fetch/D": "b",
				"not-an-id": "a", "fetch/GONE": "a", "compact/X": "a",
			},
			want: owners(map[string][]string{"a": {"fetch/A", "fetch/B"}, "b": {"fetch/C", "fetch/D"}}),
		},
		{
			name:    "tasks removed: dropped, survivor rebalanced with one move",
			members: []Member{{ID: "a"}, {ID: "b"}},
			tasks:   fetch("A", "B", "C"),
			current: owners(map[string][]string{
				"a": {"fetch/A", "fetch/B", "fetch/C"}, "b": {"fetch/D", "fetch/E", "fetch/F"}}),
			want:  owners(map[string][]string{"a": {"fetch/A", "fetch/B"}, "b": {"fetch/C"}}),
			moves: 1,
		},
		{
			name:    "types are balanced independently",
			members: []Member{{ID: "a"}, {ID: "b"}},
			tasks:   append(fetch("A", "B", "C"), ingest(0, 1, 2, 10)...),
			current: owners(map[string][]string{
				"a": {"fetch/A", "fetch/B", "fetch/C"}, "b": {"ingest/0", "ingest/1", "ingest/2", "ingest/10"}}),
			want: owners(map[string][]string{
				"a": {"fetch/A", "fetch/B", "ingest/10", "ingest/2"},
				"b": {"fetch/C", "ingest/0", "ingest/1"}}),
			moves: 3,
		},
		{
			name:    "duplicate members merged (largest capacity), empty ID ignored, duplicate tasks ignored",
			members: []Member{{ID: "b"}, {ID: ""}, {ID: "a"}, {ID: "b", Capacity: 2}},
			tasks:   append(fetch("A", "B", "C"), append(fetch("A", "B"), Task{})...),
			want:    owners(map[string][]string{"a": {"fetch/A"}, "b": {"fetch/B", "fetch/C"}}),
		},
		{
			name:    "capacity clamped to MaxCapacity",
			members: []Member{{ID: "a", Capacity: MaxCapacity}, {ID: "b", Capacity: 1 << 62}},
			tasks:   fetch("A", "B"),
			want:    owners(map[string][]string{"a": {"fetch/A"}, "b": {"fetch/B"}}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := maps.Clone(tt.current)
			got := Plan(tt.members, tt.tasks, tt.current)
			if got == nil {
				t.Fatal("Plan returned a nil Assignment")
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("Plan =\n  %v\nwant\n  %v\ndiff %v", got, tt.want, Diff(tt.want, got))
			}
			if !maps.Equal(tt.current, before) {
				t.Errorf("Plan modified current: %v, was %v", tt.current, before)
			}
			if n := CountMoves(tt.members, tt.current, got); n != tt.moves {
				t.Errorf("CountMoves = %d, want %d", n, tt.moves)
			}
			if n := MinimalMoves(tt.members, tt.tasks, tt.current); n != tt.moves {
				t.Errorf("MinimalMoves = %d, want %d", n, tt.moves)
			}
			if again := Plan(tt.members, tt.tasks, got); !maps.Equal(again, got) {
				t.Errorf("Plan is not idempotent: re-planning moves %v", Diff(got, again))
			}
		})
	}
}

func TestDiff(t *testing.T) {
	cur := Assignment{"fetch/A": "a", "fetch/B": "a", "fetch/C": "b", "fetch/D": "", "fetch/E": "c"}
	next := Assignment{"fetch/A": "a", "fetch/B": "b", "fetch/D": "a", "fetch/F": "c", "fetch/E": "c"}
	want := []Move{
		{Task: "fetch/B", From: "a", To: "b"},
		{Task: "fetch/C", From: "b", To: ""},
		{Task: "fetch/D", From: "", To: "a"},
		{Task: "fetch/F", From: "", To: "c"},
	}
	if got := Diff(cur, next); !slices.Equal(got, want) {
		t.Errorf("Diff = %v, want %v", got, want)
	}
	if got := Diff(next, next); got != nil {
		t.Errorf("Diff(x, x) = %v, want nil", got)
	}
	if got := Diff(nil, Assignment{"fetch/A": ""}); got != nil {
		t.Errorf("Diff(nil, {A:\"\"}) = %v, want nil (absent == \"\")", got)
	}
	members := []Member{{ID: "a"}, {ID: "b"}}
	// Only B (a -> b) counts: C is dropped, D was unassigned, E's owner c is not live.
	if n := CountMoves(members, cur, next); n != 1 {
		t.Errorf("CountMoves = %d, want 1", n)
	}
}

func TestTasksOf(t *testing.T) {
	a := Assignment{"ingest/1": "x", "fetch/B": "x", "fetch/A": "x", "fetch/C": "y"}
	if got, want := a.TasksOf("x"), []ID{"fetch/A", "fetch/B", "ingest/1"}; !slices.Equal(got, want) {
		t.Errorf("TasksOf(x) = %v, want %v", got, want)
	}
	if got := a.TasksOf("z"); got != nil {
		t.Errorf("TasksOf(z) = %v, want nil", got)
	}
}

// largeCluster returns 100 equal members and 10,000 fetch + 12 ingest tasks.
func largeCluster() ([]Member, []Task) {
	members := make([]Member, 100)
	for i := range members {
		members[i] = Member{ID: fmt.Sprintf("worker-%03d", i)}
	}
	var ts []Task
	for i := range 10000 {
		ts = append(ts, FetchTask(Symbol(fmt.Sprintf("S%05d", i))))
	}
	for p := range int32(12) {
		ts = append(ts, IngestTask(p))
	}
	return members, ts
}

func TestPlanLargeLeaveAndRejoin(t *testing.T) {
	members, ts := largeCluster()
	full := Plan(members, ts, nil)
	checkPlan(t, members, ts, nil, full)

	gone := members[37].ID
	lost := full.TasksOf(gone)
	if len(lost) != 100 { // 100 fetch tasks, no ingest task: those went to the 12 smallest IDs
		t.Fatalf("%s owned %d tasks, want 100", gone, len(lost))
	}
	rest := slices.Delete(slices.Clone(members), 37, 38)
	after := Plan(rest, ts, full)
	checkPlan(t, rest, ts, full, after)
	moves := Diff(full, after)
	if len(moves) != len(lost) {
		t.Errorf("leave changed %d owners, want exactly the %d tasks of %s", len(moves), len(lost), gone)
	}
	for _, m := range moves {
		if m.From != gone {
			t.Errorf("leave moved %v, which %s did not own", m, gone)
		}
	}

	back := Plan(members, ts, after)
	checkPlan(t, members, ts, after, back)
	if got := len(back.TasksOf(gone)); got != 100 {
		t.Errorf("rejoined %s got %d tasks, want 100", gone, got)
	}
	if got := CountMoves(members, after, back); got != 100 {
		t.Errorf("rejoin moved %d tasks, want 100", got)
	}
}

func BenchmarkPlan10000x100(b *testing.B) {
	members, ts := largeCluster()
	full := Plan(members, ts, nil)
	b.Run("FromEmpty", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Plan(members, ts, nil)
		}
	})
	b.Run("OneLeaves", func(b *testing.B) {
		rest := members[1:]
		b.ReportAllocs()
		for b.Loop() {
			Plan(rest, ts, full)
		}
	})
	b.Run("Steady", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Plan(members, ts, full)
		}
	})
}
