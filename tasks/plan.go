package tasks

import (
	"cmp"
	"slices"
)

// MaxCapacity is the largest effective Member.Capacity; larger values are
// clamped to it. The bound keeps the quota arithmetic (tasks × capacity) far
// from int64 overflow.
const MaxCapacity = 1 << 20

// Member is a live worker that can own tasks.
type Member struct {
	// ID is the worker's member ID as registered in membership. It must be
	// non-empty; members with an empty ID are ignored by Plan.
	ID string
	// Capacity is the worker's relative weight (dimensionless): a worker of
	// capacity c gets a share of each task type proportional to c. Values < 1
	// (including the zero value) mean the default, 1; values above
	// MaxCapacity are clamped to MaxCapacity.
	Capacity int
}

// Assignment maps a task ID to the member ID of its owner. A task absent from
// the map, or mapped to "", is unassigned. Plan never produces "" values and
// always returns a non-nil map. Assignments are plain maps: not safe for
// concurrent mutation; Plan and Diff only read their arguments.
type Assignment map[ID]string

// TasksOf returns the IDs of the tasks owned by member, sorted. It returns
// nil if member owns nothing.
func (a Assignment) TasksOf(member string) []ID {
	var ids []ID
	for id, owner := range a {
		if owner == member {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Move is one change between two assignments.
type Move struct {
	Task ID
	From string // owner in the old assignment; "" if it was unassigned
	To   string // owner in the new assignment; "" if it is dropped/unassigned
}

// Diff returns the tasks whose owner differs between current and next,
// sorted by task ID. Absent entries and "" owners are equivalent and both
// reported as "". The result is nil when the assignments agree.
func Diff(current, next Assignment) []Move {
	var moves []Move
	for id, from := range current {
		if to := next[id]; to != from {
			moves = append(moves, Move{Task: id, From: from, To: to})
		}
	}
	for id, to := range next {
		if _, ok := current[id]; !ok && to != "" {
			moves = append(moves, Move{Task: id, From: "", To: to})
		}
	}
	slices.SortFunc(moves, func(a, b Move) int { return cmp.Compare(a.Task, b.Task) })
	return moves
}

// CountMoves returns how many tasks were taken away from a live owner: tasks
// whose owner in current is one of members and whose owner in next is a
// different, non-empty member. Tasks dropped from next, and tasks that were
// unassigned or owned by a dead member in current, do not count. This is the
// quantity Plan minimises; compare it with MinimalMoves.
func CountMoves(members []Member, current, next Assignment) int {
	live := make(map[string]bool, len(members))
	for _, m := range members {
		if m.ID != "" {
			live[m.ID] = true
		}
	}
	n := 0
	for id, from := range current {
		if to := next[id]; live[from] && to != "" && to != from {
			n++
		}
	}
	return n
}

// Plan computes the next assignment of tasks to members, given the current
// one. It is a pure function: it does not modify its arguments, and the same
// inputs (in any order) give the same output. It is safe for concurrent use.
//
// Inputs: members are the live workers (duplicates by ID are merged, keeping
// the largest capacity; empty IDs are ignored). tasks is the full desired
// task set (duplicates and zero Tasks are ignored). current may be nil and
// may mention tasks not in tasks (they are dropped) and owners not in members
// (their tasks are reassigned).
//
// Output: every task in tasks is mapped to a member, per task type
// independently, such that:
//   - balanced: with n tasks of a type and total capacity C, each member of
//     capacity c owns floor(n·c/C) or ceil(n·c/C) of them (so with equal
//     capacities any two counts differ by at most 1);
//   - sticky and minimal: a task keeps its live current owner unless that
//     owner holds more than its quota, and the number of tasks moved away from
//     live owners (CountMoves) equals MinimalMoves, the least possible for
//     any balanced assignment.
//
// With no members, Plan returns an empty (non-nil) Assignment. See the
// package documentation for the algorithm. Cost: O(T log T + M log M) for T
// tasks and M members.
func Plan(members []Member, tasks []Task, current Assignment) Assignment {
	ms := normalizeMembers(members)
	next := make(Assignment, len(tasks))
	if len(ms) == 0 {
		return next
	}
	idx := make(map[string]int, len(ms))
	for i, m := range ms {
		idx[m.id] = i
	}
	for _, ids := range groupTasks(tasks) {
		planGroup(ms, idx, ids, current, next)
	}
	return next
}

// MinimalMoves returns the least number of tasks that any balanced
// assignment (as defined by Plan) must take away from their live owners in
// current, summed over task types. It counts instead of planning: per type,
// with floor quotas f_i and r remainder units,
//
//	Σ_i max(0, cur_i − f_i) − min(r, #{i : n·c_i mod C > 0 and cur_i > f_i})
//
// since each remainder unit given to a member that holds more than its floor
// saves exactly one move. Arguments are read as by Plan. It is safe for
// concurrent use.
func MinimalMoves(members []Member, tasks []Task, current Assignment) int {
	ms := normalizeMembers(members)
	if len(ms) == 0 {
		return 0
	}
	idx := make(map[string]int, len(ms))
	var total int64
	for i, m := range ms {
		idx[m.id] = i
		total += m.w
	}
	moves := 0
	for _, ids := range groupTasks(tasks) {
		cur := make([]int64, len(ms))
		for _, id := range ids {
			if i, ok := idx[current[id]]; ok {
				cur[i]++
			}
		}
		n := int64(len(ids))
		r, excess, holders := n, int64(0), int64(0)
		for i, m := range ms {
			f := n * m.w / total
			r -= f
			excess += max(0, cur[i]-f)
			if n*m.w%total > 0 && cur[i] > f {
				holders++
			}
		}
		moves += int(excess - min(r, holders))
	}
	return moves
}

// member is a normalised Member: non-empty unique ID, weight in [1, MaxCapacity].
type member struct {
	id string
	w  int64
}

// normalizeMembers drops empty IDs, merges duplicates (largest capacity
// wins), clamps capacities and sorts by ID.
func normalizeMembers(members []Member) []member {
	ms := make([]member, 0, len(members))
	for _, m := range members {
		if m.ID == "" {
			continue
		}
		ms = append(ms, member{id: m.ID, w: int64(min(max(m.Capacity, 1), MaxCapacity))})
	}
	slices.SortFunc(ms, func(a, b member) int {
		return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(b.w, a.w))
	})
	return slices.CompactFunc(ms, func(a, b member) bool { return a.id == b.id })
}

// groupTasks returns the IDs of the valid tasks, de-duplicated, grouped by
// type (groups in type-name order) and sorted within each group.
func groupTasks(tasks []Task) [][]ID {
	byType := make(map[Type][]ID, 2)
	for _, t := range tasks {
		if !t.IsZero() {
			byType[t.typ] = append(byType[t.typ], t.ID())
		}
	}
	types := make([]Type, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	slices.Sort(types)
	groups := make([][]ID, 0, len(types))
	for _, t := range types {
		ids := byType[t]
		slices.Sort(ids)
		groups = append(groups, slices.Compact(ids))
	}
	return groups
}

// planGroup assigns the sorted, unique task IDs of one type into next.
func planGroup(ms []member, idx map[string]int, ids []ID, current Assignment, next Assignment) {
	held := make([][]ID, len(ms))
	var pool []ID
	for _, id := range ids {
		if i, ok := idx[current[id]]; ok {
			held[i] = append(held[i], id)
		} else {
			pool = append(pool, id)
		}
	}
	cur := make([]int64, len(ms))
	for i := range held {
		cur[i] = int64(len(held[i]))
	}
	q := quotas(int64(len(ids)), ms, cur)
	// Over-quota owners release their highest IDs (they keep the lowest q).
	for i := range ms {
		if k := int(q[i]); len(held[i]) > k {
			pool = append(pool, held[i][k:]...)
			held[i] = held[i][:k]
		}
	}
	// Under-quota members, in ID order, take the lowest free IDs.
	slices.Sort(pool)
	for i, m := range ms {
		for _, id := range held[i] {
			next[id] = m.id
		}
		need := int(q[i]) - len(held[i])
		for _, id := range pool[:need] {
			next[id] = m.id
		}
		pool = pool[need:]
	}
}

// quotas returns each member's quota of n tasks: floor(n·w/C), plus one for r
// members chosen among those with a non-zero remainder n·w mod C, where r is
// what the floors leave over. Chosen first: members holding the most tasks
// above their floor (max(0, cur − floor), descending; giving a unit to any
// member with cur > floor saves one move, so this minimises moves), then the
// largest remainders, then the smallest member IDs.
func quotas(n int64, ms []member, cur []int64) []int64 {
	var total int64
	for _, m := range ms {
		total += m.w
	}
	q := make([]int64, len(ms))
	rem := make([]int64, len(ms))
	r := n
	var cand []int
	for i, m := range ms {
		q[i], rem[i] = n*m.w/total, n*m.w%total
		r -= q[i]
		if rem[i] > 0 {
			cand = append(cand, i)
		}
	}
	// Σ rem/C = r and each rem/C < 1, so len(cand) >= r.
	slices.SortFunc(cand, func(a, b int) int {
		return cmp.Or(
			cmp.Compare(max(0, cur[b]-q[b]), max(0, cur[a]-q[a])),
			cmp.Compare(rem[b], rem[a]),
			cmp.Compare(a, b),
		)
	})
	for _, i := range cand[:r] {
		q[i]++
	}
	return q
}
