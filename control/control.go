// Package control is the operator control plane's model: intents (an
// operator's request: cordon, uncordon, drain a node, enter or exit
// maintenance mode, pause, resume or restart a task), the control state the
// master keeps, and the audit list
// of the actions it applied. Every function here is pure except those taking
// a zkapi.Conn (zk.go).
//
// # Recipe
//
// Any process (no need to be the master) writes an intent as a persistent
// sequential znode intents/i-<seq> under the cluster root: Intent JSON
// {action, node?, reason?, by, at}. The master reads intents/ (with a
// watch) at every round, applies the pending intents in sequence order to
// the control state (Apply: each one either applied or rejected with the
// reason, e.g. "node-9 is not a member"), plans with the new state, and
// writes in one fenced Multi the new state (control: State JSON), the audit
// list (control-history: History JSON, the last MaxHistory actions, newest
// last) and the deletions of the intents it consumed. A deposed master's
// write fails, so an intent is applied exactly once, by the master of the
// term that deleted it.
//
// # What the state means to the master
//
//   - A cordoned node (State.Cordoned, Drain false) keeps the tasks its
//     current document assigns and is given no new one; the others are
//     balanced over the members that are not cordoned.
//   - A drained node (Drain true) is given nothing: each of its tasks is
//     revoked and goes to another member once released (the usual handover
//     gate: revocation before grant). It stays a member.
//   - A paused task (State.Paused) takes no part in the plan: it is revoked
//     from its owner and given to no one until resumed.
//   - A restarting task (State.Restarting) takes no part in the plan while
//     any node holds it; then the master removes it from the state and
//     gives it back to the owner it had (Restart.Owner) if that node is a
//     member and not cordoned.
//   - Maintenance (State.Maintenance set): the master makes no moves at all.
//     No assignment document is written or deleted, so a dead node's tasks
//     stay unassigned and nothing is rebalanced, until maintenance is exited;
//     intents are still applied.
//
// A cordon is kept by node id, across the node's restarts and absences,
// until an uncordon.
package control

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stock-system/stocksys/tasks"
)

// Action is what an intent asks for.
type Action string

// The actions.
const (
	ActionCordon           Action = "cordon"            // Node: no new tasks
	ActionUncordon         Action = "uncordon"          // Node: back to normal (also ends a drain)
	ActionDrain            Action = "drain"             // Node: every task moved off; stays a member
	ActionMaintenanceEnter Action = "maintenance_enter" // Reason required: the master makes no moves
	ActionMaintenanceExit  Action = "maintenance_exit"  // the master plans again at once
	ActionPause            Action = "pause"             // Task: revoked and assigned to no one until resumed
	ActionResume           Action = "resume"            // Task: planned again (a fetch continues from its checkpoint)
	ActionRestart          Action = "restart"           // Task: revoked, then given again to its owner once released
)

// Actions returns every Action, in a fixed order.
func Actions() []Action {
	return []Action{ActionCordon, ActionUncordon, ActionDrain, ActionMaintenanceEnter, ActionMaintenanceExit,
		ActionPause, ActionResume, ActionRestart}
}

// NodeAction reports whether a names a node (cordon, uncordon, drain).
func (a Action) NodeAction() bool {
	return a == ActionCordon || a == ActionUncordon || a == ActionDrain
}

// TaskAction reports whether a names a task (pause, resume, restart).
func (a Action) TaskAction() bool {
	return a == ActionPause || a == ActionResume || a == ActionRestart
}

// Errors of Check and Apply, wrapped with the input they concern.
var (
	ErrUnknownAction    = errors.New("unknown action")
	ErrUnknownNode      = errors.New("unknown node")
	ErrAlreadyCordoned  = errors.New("already cordoned")
	ErrAlreadyDrained   = errors.New("already drained")
	ErrNotCordoned      = errors.New("not cordoned")
	ErrInMaintenance    = errors.New("already in maintenance mode")
	ErrNotInMaintenance = errors.New("not in maintenance mode")
	ErrEmptyReason      = errors.New("empty reason")
	ErrBadIntent        = errors.New("bad intent")
	ErrUnknownTask      = errors.New("unknown task")
	ErrAlreadyPaused    = errors.New("already paused")
	ErrNotPaused        = errors.New("not paused")
	ErrTaskPaused       = errors.New("paused")
	ErrRestarting       = errors.New("already restarting")
)

// Intent is the JSON content of intents/i-<seq>: one operator request.
type Intent struct {
	Action Action `json:"action"`
	// Node is the node id of a node action ("" otherwise).
	Node string `json:"node,omitempty"`
	// Task is the task id of a task action, e.g. fetch/SPY ("" otherwise).
	Task string `json:"task,omitempty"`
	// Reason is free text; required (non-blank) for maintenance_enter.
	Reason string `json:"reason,omitempty"`
	// By is who asked: user@host.
	By string `json:"by"`
	// At is when it was requested (UTC).
	At time.Time `json:"at"`
}

// Mark is who set a state, when and why.
type Mark struct {
	By     string    `json:"by"`
	At     time.Time `json:"at"` // when the operator asked (the intent's At)
	Reason string    `json:"reason,omitempty"`
	// Intent is the name of the intent znode that set it (i-<seq>).
	Intent string `json:"intent,omitempty"`
}

// Cordon is one cordoned node: who cordoned it, and whether it is drained.
type Cordon struct {
	Mark
	// Drain is true for a drained node: it is given no task at all.
	Drain bool `json:"drain,omitempty"`
	// Until, when set, is when the master lifts the cordon by itself: a
	// cordon of flap damping (By ByFlapDamping). An operator's cordon has
	// none.
	Until time.Time `json:"until,omitzero"`
}

// ByFlapDamping is the By of a cordon the master set itself because the
// node's session was lost too often (master.Config.FlapLosses).
const ByFlapDamping = "master (flap damping)"

// State is the JSON content of the control znode, written only by the
// master (fenced). The zero State is "nothing set".
type State struct {
	// Epoch is the epoch of the master that wrote it; 0 before any write.
	Epoch   int64     `json:"epoch"`
	Written time.Time `json:"written,omitzero"`
	// Maintenance is set while the cluster is in maintenance mode.
	Maintenance *Mark `json:"maintenance"`
	// Cordoned holds the cordoned and drained nodes by node id.
	Cordoned map[string]Cordon `json:"cordoned"`
	// Paused holds the paused tasks by task id: assigned to no one until
	// resumed.
	Paused map[string]Mark `json:"paused,omitempty"`
	// Restarting holds the tasks asked to restart and not yet given again:
	// revoked from Owner, given back to it once no node holds them.
	Restarting map[string]Restart `json:"restarting,omitempty"`
}

// Restart is one pending restart of a task.
type Restart struct {
	Mark
	// Owner is the node that ran the task when the restart was applied
	// ("" if none did): the task goes back to it if it is still a member
	// and not cordoned.
	Owner string `json:"owner,omitempty"`
}

// Clone returns a deep copy of s.
func (s State) Clone() State {
	out := s
	if s.Maintenance != nil {
		m := *s.Maintenance
		out.Maintenance = &m
	}
	out.Cordoned = maps.Clone(s.Cordoned)
	if out.Cordoned == nil {
		out.Cordoned = map[string]Cordon{}
	}
	out.Paused = maps.Clone(s.Paused)
	out.Restarting = maps.Clone(s.Restarting)
	return out
}

// IsPaused reports whether task is paused in s.
func (s State) IsPaused(task string) bool { _, ok := s.Paused[task]; return ok }

// IsCordoned reports whether node is cordoned (or drained) in s, and whether
// it is drained.
func (s State) IsCordoned(node string) (cordoned, drained bool) {
	c, ok := s.Cordoned[node]
	return ok, ok && c.Drain
}

// Equal reports whether s and o set the same things (Epoch and Written
// aside).
func (s State) Equal(o State) bool {
	if (s.Maintenance == nil) != (o.Maintenance == nil) || (s.Maintenance != nil && *s.Maintenance != *o.Maintenance) {
		return false
	}
	if len(s.Cordoned) != len(o.Cordoned) {
		return false
	}
	for k, v := range s.Cordoned {
		if w, ok := o.Cordoned[k]; !ok || w != v {
			return false
		}
	}
	return maps.Equal(s.Paused, o.Paused) && maps.Equal(s.Restarting, o.Restarting)
}

// Record is one entry of the audit list: an intent and what the master did
// with it.
type Record struct {
	// ID is the intent's znode name (i-<seq>).
	ID string `json:"id"`
	Intent
	// Applied is when the master applied (or rejected) it, UTC.
	Applied time.Time `json:"applied"`
	// Epoch is the epoch of the master that applied it.
	Epoch int64 `json:"epoch"`
	// Result is "applied" or "rejected" (ResultApplied, ResultRejected).
	Result string `json:"result"`
	// Error says why it was rejected ("" when applied).
	Error string `json:"error,omitempty"`
}

// Record results.
const (
	ResultApplied  = "applied"
	ResultRejected = "rejected"
)

// MaxReason bounds an intent's reason and by, in bytes: the audit list
// keeps 100 records in one znode, under ZooKeeper's 1 MiB jute.maxbuffer.
const MaxReason = 1024

// MaxHistory is how many records the audit list keeps (the newest).
const MaxHistory = 100

// History is the JSON content of control-history: the last MaxHistory
// records, oldest first.
type History struct {
	Actions []Record `json:"actions"`
}

// Append returns h with recs added at the end, trimmed to the newest
// MaxHistory.
func (h History) Append(recs ...Record) History {
	all := append(append([]Record(nil), h.Actions...), recs...)
	if len(all) > MaxHistory {
		all = all[len(all)-MaxHistory:]
	}
	return History{Actions: all}
}

// Pending is an intent znode as read: its name and content, or why its
// content could not be read (Err; such an intent is rejected).
type Pending struct {
	ID     string
	Intent Intent
	Err    error
}

// SortPending sorts ps by their sequence number (the order they were
// created in): the name's trailing digits, then the name.
func SortPending(ps []Pending) {
	sort.SliceStable(ps, func(i, j int) bool {
		si, sj := seq(ps[i].ID), seq(ps[j].ID)
		if si != sj {
			return si < sj
		}
		return ps[i].ID < ps[j].ID
	})
}

func seq(name string) string {
	i := strings.LastIndexFunc(name, func(r rune) bool { return r < '0' || r > '9' })
	return fmt.Sprintf("%020s", name[i+1:])
}

// Validate checks an intent's own fields: a known action, a node for a
// node action (none otherwise), a non-blank reason for maintenance_enter.
// Errors wrap ErrUnknownAction, ErrBadIntent or ErrEmptyReason and name
// the input.
func (in Intent) Validate() error {
	if !slices.Contains(Actions(), in.Action) {
		return fmt.Errorf("%w %q (want one of %v)", ErrUnknownAction, in.Action, Actions())
	}
	if in.Action.NodeAction() && in.Node == "" {
		return fmt.Errorf("%w: %s without a node id", ErrBadIntent, in.Action)
	}
	if !in.Action.NodeAction() && in.Node != "" {
		return fmt.Errorf("%w: %s names node %q; it takes none", ErrBadIntent, in.Action, in.Node)
	}
	if in.Action.TaskAction() {
		if in.Task == "" {
			return fmt.Errorf("%w: %s without a task id", ErrBadIntent, in.Action)
		}
		if _, err := tasks.ParseID(in.Task); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrBadIntent, in.Action, err)
		}
	} else if in.Task != "" {
		return fmt.Errorf("%w: %s names task %q; it takes none", ErrBadIntent, in.Action, in.Task)
	}
	if len(in.Reason) > MaxReason {
		return fmt.Errorf("%w: a reason of %d bytes: at most %d", ErrBadIntent, len(in.Reason), MaxReason)
	}
	if len(in.By) > MaxReason {
		return fmt.Errorf("%w: a by of %d bytes: at most %d", ErrBadIntent, len(in.By), MaxReason)
	}
	if in.Action == ActionMaintenanceEnter && strings.TrimSpace(in.Reason) == "" {
		return fmt.Errorf("%w: maintenance enter needs a reason (--reason TEXT)", ErrEmptyReason)
	}
	return nil
}

// Known is what the cluster has, as the checks need it: the live members'
// ids and the task ids (one fetch task per symbol, one ingest task per
// partition).
type Known struct {
	Members map[string]bool
	Tasks   map[string]bool
}

// Check reports whether in can be applied to s, given what is known:
// nil, or an error naming the input that wraps one of ErrUnknownAction,
// ErrBadIntent, ErrEmptyReason, ErrUnknownNode (cordon or drain of a node
// that is not a member; uncordon of a node neither cordoned nor a member),
// ErrAlreadyCordoned (cordon of a cordoned or drained node),
// ErrAlreadyDrained (drain of a drained node; a cordoned one may be
// drained), ErrNotCordoned (uncordon of a member that is not cordoned),
// ErrInMaintenance, ErrNotInMaintenance; for task actions ErrUnknownTask
// (pause or restart of a task the cluster does not have; resume of one
// neither paused nor known), ErrAlreadyPaused, ErrNotPaused, ErrTaskPaused
// (restart of a paused task), ErrRestarting (a restart pending) and
// ErrInMaintenance (any task action in maintenance mode: it makes no moves).
func Check(s State, k Known, in Intent) error {
	if err := in.Validate(); err != nil {
		return err
	}
	members := k.Members
	cordoned, drained := s.IsCordoned(in.Node)
	switch in.Action {
	case ActionCordon, ActionDrain:
		if !members[in.Node] {
			return fmt.Errorf("%w %q: not a member (see stocksys status)", ErrUnknownNode, in.Node)
		}
		if drained {
			return fmt.Errorf("node %q: %w (uncordon it first)", in.Node, ErrAlreadyDrained)
		}
		if cordoned && in.Action == ActionCordon {
			return fmt.Errorf("node %q: %w", in.Node, ErrAlreadyCordoned)
		}
	case ActionUncordon:
		if !cordoned && !members[in.Node] {
			return fmt.Errorf("%w %q: not a member and not cordoned", ErrUnknownNode, in.Node)
		}
		if !cordoned {
			return fmt.Errorf("node %q: %w", in.Node, ErrNotCordoned)
		}
	case ActionMaintenanceEnter:
		if s.Maintenance != nil {
			m := s.Maintenance
			return fmt.Errorf("%w (entered by %s at %s: %s)", ErrInMaintenance, m.By, m.At.Format(time.RFC3339), m.Reason)
		}
	case ActionMaintenanceExit:
		if s.Maintenance == nil {
			return ErrNotInMaintenance
		}
	}
	if in.Action.TaskAction() && s.Maintenance != nil {
		// A task action is a move; maintenance makes none: it would be
		// "applied" and do nothing until the exit.
		return fmt.Errorf("%s %s: %w (entered by %s: %s); the master makes no moves: exit maintenance first",
			in.Action, in.Task, ErrInMaintenance, s.Maintenance.By, s.Maintenance.Reason)
	}
	switch in.Action {
	case ActionPause:
		if m, ok := s.Paused[in.Task]; ok {
			return fmt.Errorf("task %q: %w (by %s at %s)", in.Task, ErrAlreadyPaused, m.By, m.At.Format(time.RFC3339))
		}
		if !k.Tasks[in.Task] {
			return fmt.Errorf("%w %q: the cluster has no such task (see stocksys task ls)", ErrUnknownTask, in.Task)
		}
	case ActionResume:
		if !s.IsPaused(in.Task) {
			if !k.Tasks[in.Task] {
				return fmt.Errorf("%w %q: the cluster has no such task and it is not paused", ErrUnknownTask, in.Task)
			}
			return fmt.Errorf("task %q: %w", in.Task, ErrNotPaused)
		}
	case ActionRestart:
		if !k.Tasks[in.Task] {
			return fmt.Errorf("%w %q: the cluster has no such task (see stocksys task ls)", ErrUnknownTask, in.Task)
		}
		if s.IsPaused(in.Task) {
			return fmt.Errorf("task %q: %w (resume it instead)", in.Task, ErrTaskPaused)
		}
		if _, ok := s.Restarting[in.Task]; ok {
			return fmt.Errorf("task %q: %w", in.Task, ErrRestarting)
		}
	}
	return nil
}

// Apply applies the pending intents, in sequence order, to a copy of s,
// each only if Check allows it against the state so far (a rejected one
// changes nothing), and returns the new state (Epoch and Written set to
// epoch and now when anything changed, else as in s) and one record per
// intent. owner gives the node running a task now ("" if none), recorded in
// a restart. Pure.
func Apply(s State, pending []Pending, k Known, owner func(task string) string, epoch int64, now time.Time) (State, []Record) {
	next := s.Clone()
	ps := append([]Pending(nil), pending...)
	SortPending(ps)
	recs := make([]Record, 0, len(ps))
	for _, p := range ps {
		rec := Record{ID: p.ID, Intent: p.Intent, Applied: now, Epoch: epoch, Result: ResultApplied}
		rec.Reason, rec.By = clip(rec.Reason), clip(rec.By) // a hand-written intent's, refused below, stays small
		err := p.Err
		if err == nil {
			err = Check(next, k, p.Intent)
		}
		if err != nil {
			rec.Result, rec.Error = ResultRejected, err.Error()
			recs = append(recs, rec)
			continue
		}
		in := p.Intent
		mark := Mark{By: in.By, At: in.At, Reason: in.Reason, Intent: p.ID}
		switch in.Action {
		case ActionCordon:
			next.Cordoned[in.Node] = Cordon{Mark: mark}
		case ActionDrain:
			next.Cordoned[in.Node] = Cordon{Mark: mark, Drain: true}
		case ActionUncordon:
			delete(next.Cordoned, in.Node)
		case ActionMaintenanceEnter:
			next.Maintenance = &mark
		case ActionMaintenanceExit:
			next.Maintenance = nil
		case ActionPause:
			if next.Paused == nil {
				next.Paused = map[string]Mark{}
			}
			next.Paused[in.Task] = mark
		case ActionResume:
			delete(next.Paused, in.Task)
		case ActionRestart:
			if next.Restarting == nil {
				next.Restarting = map[string]Restart{}
			}
			r := Restart{Mark: mark}
			if owner != nil {
				r.Owner = owner(in.Task)
			}
			next.Restarting[in.Task] = r
		}
		recs = append(recs, rec)
	}
	if !next.Equal(s) {
		next.Epoch, next.Written = epoch, now
	}
	return next, recs
}

// clip shortens s to MaxReason bytes (on a rune boundary), marking the cut.
func clip(s string) string {
	if len(s) <= MaxReason {
		return s
	}
	cut := MaxReason - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
