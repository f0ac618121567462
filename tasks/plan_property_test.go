package tasks

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// share returns floor and ceil of n·c/C for member id, computed directly from
// the definition (independently of Plan's quota code).
func share(members []Member, id string, n int) (lo, hi int) {
	weight := func(c int) int { return min(max(c, 1), MaxCapacity) }
	w := map[string]int{}
	for _, m := range members {
		if m.ID != "" {
			w[m.ID] = max(w[m.ID], weight(m.Capacity))
		}
	}
	total := 0
	for _, c := range w {
		total += c
	}
	lo = n * w[id] / total
	hi = lo
	if n*w[id]%total != 0 {
		hi++
	}
	return lo, hi
}

// typeCounts counts, per task type and owner, the tasks of want owned in a.
func typeCounts(a Assignment, want map[ID]Task) map[Type]map[string]int {
	c := map[Type]map[string]int{}
	for id, owner := range a {
		task, ok := want[id]
		if !ok || owner == "" {
			continue
		}
		if c[task.Type()] == nil {
			c[task.Type()] = map[string]int{}
		}
		c[task.Type()][owner]++
	}
	return c
}

// checkPlan asserts that next = Plan(members, ts, current) is complete,
// balanced, sticky and minimal.
func checkPlan(t *testing.T, members []Member, ts []Task, current, next Assignment) {
	t.Helper()
	live := map[string]bool{}
	for _, m := range members {
		if m.ID != "" {
			live[m.ID] = true
		}
	}
	want := map[ID]Task{}
	perType := map[Type]int{}
	for _, task := range ts {
		if !task.IsZero() && want[task.ID()] == (Task{}) {
			want[task.ID()] = task
			perType[task.Type()]++
		}
	}

	// Complete: exactly the wanted tasks, each owned by a live member.
	if len(live) == 0 {
		if len(next) != 0 {
			t.Fatalf("no members but %d tasks assigned", len(next))
		}
		return
	}
	if len(next) != len(want) {
		t.Fatalf("assigned %d tasks, want %d", len(next), len(want))
	}
	for id, owner := range next {
		if _, ok := want[id]; !ok {
			t.Fatalf("assigned unknown task %q", id)
		}
		if !live[owner] {
			t.Fatalf("task %q assigned to non-member %q", id, owner)
		}
	}

	// Balanced: every member owns floor or ceil of its exact share, per type.
	nextCounts := typeCounts(next, want)
	curCounts := typeCounts(current, want)
	for typ, n := range perType {
		for id := range live {
			lo, hi := share(members, id, n)
			if got := nextCounts[typ][id]; got < lo || got > hi {
				t.Fatalf("%s owns %d %s tasks, want %d..%d (n=%d)", id, got, typ, lo, hi, n)
			}
		}
	}

	// Sticky: a task leaves a live owner only if that owner ends up with
	// fewer tasks of that type than it had, and such an owner gains nothing.
	moved := 0
	for id, from := range current {
		to, ok := next[id]
		if !ok || !live[from] || to == from {
			continue
		}
		moved++
		typ := want[id].Type()
		if nc, cc := nextCounts[typ][from], curCounts[typ][from]; nc >= cc {
			t.Fatalf("task %q moved %s -> %s although %s went from %d to %d %s tasks", id, from, to, from, cc, nc, typ)
		}
	}
	for id, to := range next {
		if from := current[id]; from != to && live[from] {
			// to gained id; to must not have lost any task of that type.
			typ := want[id].Type()
			if nextCounts[typ][to] < curCounts[typ][to] {
				t.Fatalf("%s both lost and gained %s tasks (gained %q)", to, typ, id)
			}
		}
	}

	// Minimal: moved == the theoretical minimum, however counted.
	if got := CountMoves(members, current, next); got != moved {
		t.Fatalf("CountMoves = %d, independent count = %d", got, moved)
	}
	if minimum := MinimalMoves(members, ts, current); moved != minimum {
		t.Fatalf("moved %d tasks, minimum is %d", moved, minimum)
	}
}

// cluster is a randomly evolving set of members, tasks and a current
// assignment.
type cluster struct {
	equal   bool // all capacities stay at the default
	members []Member
	tasks   []Task
	nextID  int
}

func (c *cluster) join(r *rand.Rand) {
	capacity := 0
	if !c.equal {
		capacity = r.IntN(5) // 0 means 1
	}
	c.members = append(c.members, Member{ID: fmt.Sprintf("w%03d", c.nextID), Capacity: capacity})
	c.nextID++
}

func (c *cluster) randomSymbol(r *rand.Rand) Symbol {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-^="
	b := []byte{byte('A' + r.IntN(26))}
	for range r.IntN(5) {
		b = append(b, alphabet[r.IntN(len(alphabet))])
	}
	return Symbol(b)
}

func (c *cluster) addTasks(r *rand.Rand) {
	for range 1 + r.IntN(20) {
		if r.IntN(4) == 0 {
			c.tasks = append(c.tasks, IngestTask(int32(r.IntN(40))))
		} else {
			c.tasks = append(c.tasks, FetchTask(c.randomSymbol(r)))
		}
	}
}

func newCluster(r *rand.Rand) *cluster {
	c := &cluster{equal: r.IntN(2) == 0}
	for range r.IntN(8) {
		c.join(r)
	}
	c.addTasks(r)
	return c
}

// TestPlanProperties evolves random clusters through random changes and
// checks every plan: completeness, balance, stickiness, moves ==
// MinimalMoves, determinism under input reordering, idempotence, inputs left
// untouched, and (equal capacities) a leave moving only the leaver's tasks.
func TestPlanProperties(t *testing.T) {
	const seeds, steps = 400, 30
	var plans, moved, leavesChecked int
	defer func() {
		t.Logf("%d plans, %d tasks moved from live owners, %d equal-capacity leaves checked", plans, moved, leavesChecked)
		if !t.Failed() && (moved == 0 || leavesChecked == 0) {
			t.Errorf("vacuous run: moved=%d leavesChecked=%d", moved, leavesChecked)
		}
	}()
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		c := newCluster(r)
		var cur Assignment
		for step := range steps {
			event, left := "none", ""
			switch k := r.IntN(10); {
			case k < 2:
				event = "join"
				c.join(r)
			case k < 4 && len(c.members) > 0:
				event = "leave"
				i := r.IntN(len(c.members))
				left = c.members[i].ID
				c.members = slices.Delete(c.members, i, i+1)
			case k == 4 && !c.equal && len(c.members) > 0:
				event = "capacity"
				c.members[r.IntN(len(c.members))].Capacity = r.IntN(5)
			case k == 5:
				event = "add tasks"
				c.addTasks(r)
			case k == 6 && len(c.tasks) > 0:
				event = "remove tasks"
				for range 1 + r.IntN(len(c.tasks)/3+1) {
					i := r.IntN(len(c.tasks))
					c.tasks = slices.Delete(c.tasks, i, i+1)
				}
			case k == 7 && cur != nil:
				event = "scramble"
				// An arbitrary, unbalanced current: hand some tasks to
				// random members, a ghost or nobody; add garbage keys.
				cur = maps.Clone(cur)
				for _, id := range slices.Sorted(maps.Keys(cur)) {
					if r.IntN(3) != 0 {
						continue
					}
					switch n := r.IntN(len(c.members) + 2); {
					case n < len(c.members):
						cur[id] = c.members[n].ID
					case n == len(c.members):
						cur[id] = "ghost"
					default:
						cur[id] = ""
					}
				}
				cur["fetch/GONE"] = "w000"
				cur["bogus"] = "w001"
			}
			name := fmt.Sprintf("seed=%d/step=%d/%s", seed, step, event)
			ok := t.Run(name, func(t *testing.T) {
				before := maps.Clone(cur)
				membersBefore, tasksBefore := slices.Clone(c.members), slices.Clone(c.tasks)
				next := Plan(c.members, c.tasks, cur)
				if !maps.Equal(cur, before) || !slices.Equal(c.members, membersBefore) || !slices.Equal(c.tasks, tasksBefore) {
					t.Fatal("Plan modified its inputs")
				}
				checkPlan(t, c.members, c.tasks, cur, next)
				plans++
				moved += CountMoves(c.members, cur, next)

				// Deterministic: shuffled inputs and a copied map give the same plan.
				ms, ts := slices.Clone(c.members), slices.Clone(c.tasks)
				r.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
				r.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
				if again := Plan(ms, ts, maps.Clone(cur)); !maps.Equal(again, next) {
					t.Fatalf("Plan is not deterministic: %v", Diff(next, again))
				}
				// Idempotent: re-planning a plan changes nothing.
				if again := Plan(c.members, c.tasks, next); !maps.Equal(again, next) {
					t.Fatalf("Plan is not idempotent: %v", Diff(next, again))
				}
				// Equal capacities, settled cluster: a leave moves only the leaver's tasks.
				if event == "leave" && c.equal && cur != nil {
					leavesChecked++
					for _, m := range Diff(cur, next) {
						if m.From != left {
							t.Fatalf("leave of %s moved %v", left, m)
						}
					}
				}
				cur = next
			})
			if !ok {
				return
			}
		}
	}
}

// TestMinimalMovesBruteForce checks, on tiny random instances, that
// MinimalMoves is the true minimum over every balanced assignment (found by
// enumerating all of them) and that Plan reaches it.
func TestMinimalMovesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for iter := range 500 {
		var members []Member
		for i := range 1 + r.IntN(3) {
			members = append(members, Member{ID: fmt.Sprintf("m%d", i), Capacity: r.IntN(4)})
		}
		var ts []Task
		for i := range r.IntN(5) {
			ts = append(ts, FetchTask(Symbol(fmt.Sprintf("S%d", i))))
		}
		for p := range int32(r.IntN(4)) {
			ts = append(ts, IngestTask(p))
		}
		owners := []string{"", "ghost"}
		for _, m := range members {
			owners = append(owners, m.ID)
		}
		current := Assignment{}
		for _, task := range ts {
			current[task.ID()] = owners[r.IntN(len(owners))]
		}
		perType := map[Type]int{}
		for _, task := range ts {
			perType[task.Type()]++
		}

		// Enumerate all len(members)^len(ts) assignments.
		best := -1
		choice := make([]int, len(ts))
		for {
			a := Assignment{}
			for i, task := range ts {
				a[task.ID()] = members[choice[i]].ID
			}
			balanced := true
			perOwner := map[Type]map[string]int{}
			for i, task := range ts {
				if perOwner[task.Type()] == nil {
					perOwner[task.Type()] = map[string]int{}
				}
				perOwner[task.Type()][members[choice[i]].ID]++
			}
			for typ, n := range perType {
				for _, m := range members {
					lo, hi := share(members, m.ID, n)
					if c := perOwner[typ][m.ID]; c < lo || c > hi {
						balanced = false
					}
				}
			}
			if balanced {
				if mv := CountMoves(members, current, a); best < 0 || mv < best {
					best = mv
				}
			}
			// Next choice vector (odometer).
			i := 0
			for ; i < len(choice); i++ {
				choice[i]++
				if choice[i] < len(members) {
					break
				}
				choice[i] = 0
			}
			if i == len(choice) {
				break
			}
		}
		if best < 0 {
			t.Fatalf("iteration %d: no balanced assignment exists for %v over %v", iter, ts, members)
		}
		if got := MinimalMoves(members, ts, current); got != best {
			t.Fatalf("iteration %d: MinimalMoves = %d, brute force = %d (members %v, current %v)", iter, got, best, members, current)
		}
		next := Plan(members, ts, current)
		checkPlan(t, members, ts, current, next)
		if got := CountMoves(members, current, next); got != best {
			t.Fatalf("iteration %d: Plan moved %d, brute force minimum %d", iter, got, best)
		}
	}
}
