package status

import (
	"github.com/stock-system/stocksys/zkapi"

	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stock-system/stocksys/control"
)

// Control is the operator control plane's state as status shows it: the
// control znode (written by the master), the intents not yet applied, and
// the audit list of applied (or rejected) actions.
type Control struct {
	// Maintenance is set while the cluster is in maintenance mode: who
	// entered it, when (the request's time) and why.
	Maintenance *control.Mark `json:"maintenance"`
	// Cordoned lists the cordoned and drained nodes by id, members or not.
	Cordoned []Cordoned `json:"cordoned"`
	// Paused lists the paused tasks (assigned to no one until resumed),
	// Restarting the tasks whose restart is pending (revoked from Owner,
	// given back once released), both by task id.
	Paused     []PausedTask     `json:"paused"`
	Restarting []RestartingTask `json:"restarting"`
	// Pending lists the intents written and not yet applied by a master,
	// oldest first.
	Pending []PendingIntent `json:"pending"`
	// History is the audit list, oldest first: the last control.MaxHistory
	// actions the masters applied or rejected.
	History []control.Record `json:"history"`
	// Epoch and Written are those of the master's last write of the state
	// (0 and null before any).
	Epoch   int64      `json:"epoch"`
	Written *time.Time `json:"written"`
}

// Cordoned is one cordoned (or drained) node.
type Cordoned struct {
	Node string `json:"node"`
	control.Cordon
	// Member is true if the node is a live member now.
	Member bool `json:"member"`
}

// PausedTask is one paused task: who paused it, when and why.
type PausedTask struct {
	Task string `json:"task"`
	control.Mark
}

// RestartingTask is one pending restart.
type RestartingTask struct {
	Task string `json:"task"`
	control.Restart
}

// PendingIntent is an intent not yet applied. Error is set when its content
// cannot be read (the master will reject it).
type PendingIntent struct {
	ID string `json:"id"`
	control.Intent
	Error string `json:"error,omitempty"`
}

// Reasons a task is unassigned (Task.UnassignedReason).
const (
	UnassignedMaintenance = "maintenance mode"
	UnassignedNoMaster    = "no master"
	UnassignedNoMember    = "no live member"
	UnassignedAllCordoned = "every live member is cordoned"
	UnassignedPaused      = "paused"
	UnassignedRestarting  = "restarting: waiting for its owner to release it"
)

// readControl reads the control state, pending intents and audit list
// under root into r.Control and marks r's members cordoned or drained and
// its unassigned tasks with a reason. A missing znode reads as empty; an
// unparsable state or history is an error.
func readControl(c zkapi.Conn, root string, r *Report) error {
	p := control.NewPaths(root)
	s, _, err := p.ReadState(c)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	h, err := p.ReadHistory(c)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	pending, err := p.ReadPending(c)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	ctl := &Control{Maintenance: s.Maintenance, Cordoned: []Cordoned{}, Pending: []PendingIntent{},
		Paused: []PausedTask{}, Restarting: []RestartingTask{},
		History: append([]control.Record{}, h.Actions...), Epoch: s.Epoch}
	if !s.Written.IsZero() {
		w := s.Written
		ctl.Written = &w
	}
	members := map[string]int{}
	for i, m := range r.Members {
		members[m.ID] = i
	}
	for node, cd := range s.Cordoned {
		i, live := members[node]
		ctl.Cordoned = append(ctl.Cordoned, Cordoned{Node: node, Cordon: cd, Member: live})
		if live {
			r.Members[i].Cordoned, r.Members[i].Drained = true, cd.Drain
		}
	}
	sort.Slice(ctl.Cordoned, func(i, j int) bool { return ctl.Cordoned[i].Node < ctl.Cordoned[j].Node })
	for id, m := range s.Paused {
		ctl.Paused = append(ctl.Paused, PausedTask{Task: id, Mark: m})
	}
	sort.Slice(ctl.Paused, func(i, j int) bool { return ctl.Paused[i].Task < ctl.Paused[j].Task })
	for id, rs := range s.Restarting {
		ctl.Restarting = append(ctl.Restarting, RestartingTask{Task: id, Restart: rs})
	}
	sort.Slice(ctl.Restarting, func(i, j int) bool { return ctl.Restarting[i].Task < ctl.Restarting[j].Task })
	for _, pd := range pending {
		pi := PendingIntent{ID: pd.ID, Intent: pd.Intent}
		if pd.Err != nil {
			pi.Error = pd.Err.Error()
		}
		ctl.Pending = append(ctl.Pending, pi)
	}
	r.Control = ctl

	reason := ""
	schedulable := 0
	for _, m := range r.Members {
		if !m.Cordoned {
			schedulable++
		}
	}
	switch {
	case s.Maintenance != nil:
		reason = UnassignedMaintenance
	case r.Master == nil:
		reason = UnassignedNoMaster
	case len(r.Members) == 0:
		reason = UnassignedNoMember
	case schedulable == 0:
		reason = UnassignedAllCordoned
	}
	for i := range r.Tasks {
		t := &r.Tasks[i]
		_, t.Paused = s.Paused[t.ID]
		_, t.Restarting = s.Restarting[t.ID]
		if t.Owner == nil {
			switch {
			case t.Paused && reason == "":
				m := s.Paused[t.ID]
				t.UnassignedReason = fmt.Sprintf("%s by %s at %s", UnassignedPaused, m.By, m.At.Format(time.RFC3339))
				if m.Reason != "" {
					t.UnassignedReason += ": " + m.Reason
				}
			case t.Restarting && reason == "":
				t.UnassignedReason = UnassignedRestarting
			default:
				t.UnassignedReason = reason
			}
		}
	}
	return nil
}

// Stoppability is the answer of `stocksys node stoppable`: whether stopping
// a node now would leave a task without an owner for longer than a
// handover, and why.
type Stoppability struct {
	Node      string `json:"node"`
	Stoppable bool   `json:"stoppable"`
	// Reasons says why not (empty when Stoppable).
	Reasons []string `json:"reasons"`
	// Notes says what makes it safe, or what else is worth knowing.
	Notes []string `json:"notes"`
	// Tasks lists what the node holds: tasks its assignment gives it or
	// lists as revoked and not yet released, sorted.
	Tasks []string `json:"tasks"`
	// StatusTasks is how many tasks its status lists (runners not yet
	// returned).
	StatusTasks int `json:"status_tasks"`
}

// Stoppable tells, from a report (Read), whether node can be stopped now
// without leaving a task ownerless for longer than a handover. It cannot if
// the node holds a task (its assignment gives it one or lists one as
// revoked, or its status lists one: they would wait for its session to
// expire, or for the end of maintenance), if it is the only member, or if
// it is the master and no other node campaigns. It returns an error
// wrapping control.ErrUnknownNode if node is not a member.
func Stoppable(r *Report, node string) (Stoppability, error) {
	out := Stoppability{Node: node, Reasons: []string{}, Notes: []string{}, Tasks: []string{}}
	var mem *Member
	for i := range r.Members {
		if r.Members[i].ID == node {
			mem = &r.Members[i]
		}
	}
	if mem == nil {
		return out, fmt.Errorf("%w %q: not a member of cluster %s (see stocksys status)", control.ErrUnknownNode, node, r.Cluster)
	}
	held := map[string]bool{}
	for _, t := range r.Tasks {
		if t.Owner != nil && *t.Owner == node {
			held[t.ID] = true
		}
	}
	for _, id := range mem.Revoked {
		held[id] = true
	}
	for id := range held {
		out.Tasks = append(out.Tasks, id)
	}
	sort.Strings(out.Tasks)
	out.StatusTasks = mem.Tasks
	maint := r.Control != nil && r.Control.Maintenance != nil
	switch {
	case len(out.Tasks) > 0:
		why := fmt.Sprintf("it holds %d task(s) (%s): they would have no owner until its session expires and the master moves them; drain it first (stocksys node drain %s)",
			len(out.Tasks), list(out.Tasks, 5), node)
		switch {
		case maint:
			why = fmt.Sprintf("it holds %d task(s) (%s) and the cluster is in maintenance mode: they would stay unassigned until maintenance exit",
				len(out.Tasks), list(out.Tasks, 5))
		case mem.Drained:
			why = fmt.Sprintf("it is drained, and its %d task(s) (%s) are still being released and moved: ask again in a moment",
				len(out.Tasks), list(out.Tasks, 5))
		}
		out.Reasons = append(out.Reasons, why)
	case mem.Tasks > 0:
		out.Reasons = append(out.Reasons, fmt.Sprintf("its status still lists %d task(s): their runners have not returned yet", mem.Tasks))
	default:
		out.Notes = append(out.Notes, "it holds no task")
	}
	if len(r.Members) == 1 {
		out.Reasons = append(out.Reasons, "it is the only member: no other node would run the cluster's tasks")
	} else {
		out.Notes = append(out.Notes, fmt.Sprintf("%d other member(s)", len(r.Members)-1))
	}
	if r.Master != nil && r.Master.ID == node {
		next := ""
		for _, c := range r.ElectionQueue {
			if c.Node != node {
				next = c.Node
				break
			}
		}
		if next == "" {
			out.Reasons = append(out.Reasons, "it is the master and no other node campaigns: no master would follow it")
		} else {
			out.Notes = append(out.Notes, fmt.Sprintf("it is the master: %s is next in the election queue (a SIGTERM resigns and hands over at once)", next))
		}
	}
	if mem.Cordoned && !mem.Drained {
		out.Notes = append(out.Notes, "it is cordoned, not drained: it keeps its tasks")
	}
	out.Stoppable = len(out.Reasons) == 0
	return out, nil
}

// WriteStoppable writes s as text: "yes: ..." or "no: ..." and the reasons.
func WriteStoppable(b *strings.Builder, s Stoppability) {
	if s.Stoppable {
		fmt.Fprintf(b, "yes: %s can be stopped: %s\n", s.Node, strings.Join(s.Notes, "; "))
		return
	}
	fmt.Fprintf(b, "no: stopping %s now would leave tasks without an owner for longer than a handover:\n", s.Node)
	for _, r := range s.Reasons {
		fmt.Fprintf(b, "  - %s\n", r)
	}
}

func list(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, " ")
	}
	return strings.Join(ids[:n], " ") + fmt.Sprintf(" and %d more", len(ids)-n)
}

// writeControl writes the control lines of the text report: maintenance
// mode, cordoned nodes, pending intents and the last actions.
func writeControl(b *strings.Builder, r *Report, now time.Time) {
	ctl := r.Control
	if ctl == nil {
		return
	}
	if m := ctl.Maintenance; m != nil {
		fmt.Fprintf(b, "\n!! MAINTENANCE MODE since %s (%s ago) by %s: %s; the master makes no moves until `stocksys maintenance exit`\n",
			m.At.Format(time.RFC3339), age(now, m.At), m.By, m.Reason)
	}
	if len(ctl.Cordoned) > 0 {
		fmt.Fprintf(b, "\ncordoned (%d)\n", len(ctl.Cordoned))
		for _, c := range ctl.Cordoned {
			kind := "cordoned (keeps its tasks, gets no new one)"
			if c.Drain {
				kind = "drained (gets no task)"
			}
			gone := ""
			if !c.Member {
				gone = " [not a member now]"
			}
			why := c.Reason
			if why == "" {
				why = "no reason given"
			}
			until := ""
			if !c.Until.IsZero() {
				until = fmt.Sprintf(" (lifted by the master at %s, in %s)", c.Until.Format(time.RFC3339), max(c.Until.Sub(now), 0).Round(time.Second))
			}
			fmt.Fprintf(b, "  %s  %s by %s at %s: %s%s%s\n", c.Node, kind, c.By, c.At.Format(time.RFC3339), why, until, gone)
		}
	}
	if len(ctl.Paused) > 0 {
		fmt.Fprintf(b, "\npaused tasks (%d): assigned to no one until `stocksys task resume`\n", len(ctl.Paused))
		for _, p := range ctl.Paused {
			why := p.Reason
			if why == "" {
				why = "no reason given"
			}
			fmt.Fprintf(b, "  %s  by %s at %s: %s\n", p.Task, p.By, p.At.Format(time.RFC3339), why)
		}
	}
	for _, rs := range ctl.Restarting {
		fmt.Fprintf(b, "restarting %s (asked by %s at %s): revoked from %s, given back once released\n", rs.Task, rs.By, rs.At.Format(time.RFC3339), orNone(rs.Owner))
	}
	for _, p := range ctl.Pending {
		what := string(p.Action)
		if p.Node != "" {
			what += " " + p.Node
		}
		if p.Task != "" {
			what += " " + p.Task
		}
		fmt.Fprintf(b, "!! intent %s pending (%s by %s, %s ago): not yet applied by a master\n", p.ID, what, p.By, age(now, p.At))
	}
	if n := len(ctl.History); n > 0 {
		k := min(n, 5)
		fmt.Fprintf(b, "\nlast operator actions (%d of %d kept)\n", k, n)
		for _, h := range ctl.History[n-k:] {
			what := string(h.Action)
			if h.Node != "" {
				what += " " + h.Node
			}
			if h.Task != "" {
				what += " " + h.Task
			}
			res := h.Result
			if h.Error != "" {
				res += ": " + h.Error
			}
			reason := ""
			if h.Reason != "" {
				reason = " (" + h.Reason + ")"
			}
			fmt.Fprintf(b, "  %s  %s by %s%s: %s (epoch %d)\n", h.Applied.Format(time.RFC3339), what, h.By, reason, res, h.Epoch)
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "no owner"
	}
	return s
}
