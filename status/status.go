// Package status reads the whole state of a cluster from ZooKeeper, as
// `stocksys status` shows it. It needs no running node: everything comes from
// the znodes under the cluster root (see README, "ZooKeeper layout"), except
// the ingest lag, which MeasureLag reads from Kafka (high-water marks) and
// Cassandra (committed offsets), and the stall check (MarkStalled).
//
// The JSON form of Report is the documented output of `stocksys status --json`;
// its fields are stable (new fields may be added).
package status

import (
	"github.com/stock-system/stocksys/membership"
	"github.com/stock-system/stocksys/zkapi"

	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stock-system/stocksys/tasks"
)

// Report is the state of one cluster at one time.
type Report struct {
	Cluster string    `json:"cluster"`
	Root    string    `json:"root"`
	Read    time.Time `json:"read"` // when this report was read (UTC)
	// Epoch is the content of the epoch znode: the epoch of the latest term.
	Epoch int64 `json:"epoch"`
	// Master is the acting master, or nil when there is none.
	Master *Master `json:"master"`
	// FencedMaster is set, and Master nil, when the master znode names an
	// epoch lower than the epoch znode's (read first): that node's writes are
	// fenced and its term is ending.
	FencedMaster *Master `json:"fenced_master,omitempty"`
	// LastFailover is the latest change of master, or nil before the first.
	LastFailover *Failover `json:"last_failover"`
	// ElectionQueue lists the candidates in election order (lowest sequence
	// number first): the first holds or is about to win the term, the next
	// takes over when it goes. Empty when no node campaigns.
	ElectionQueue []Candidate `json:"election_queue"`
	Members       []Member    `json:"members"`
	Tasks         []Task      `json:"tasks"`
	// Unassigned lists the ids of tasks that no live member's assignment holds.
	Unassigned []string  `json:"unassigned"`
	Refused    []Refusal `json:"refused,omitempty"`
	// LagError says why the ingest lag could not be measured (Kafka or
	// Cassandra unreachable, see MeasureLag); tasks then show their reported
	// lag. "" when measured, or not attempted.
	LagError string `json:"lag_error,omitempty"`
	// Stalled lists the ids of the stalled tasks (Task.Stalled), set by
	// MarkStalled; nil (JSON null) if no stall check was made.
	Stalled []string `json:"stalled"`
	// Control is the operator control plane: maintenance mode, cordoned
	// nodes, pending intents, the audit list. Never nil from Read.
	Control *Control `json:"control"`
}

// Master is the acting master.
type Master struct {
	ID      string    `json:"id"`
	Epoch   int64     `json:"epoch"`
	Since   time.Time `json:"since"` // RFC 3339 in JSON
	Addr    string    `json:"addr,omitempty"`
	Session string    `json:"session"`
}

// Failover gives the phases of the latest change of master. PrevEnded is
// nil when the old term's end is not known (its master crashed, or its term
// ended without a resignation).
type Failover struct {
	Epoch           int64      `json:"epoch"`
	Node            string     `json:"node,omitempty"` // the new master
	PrevEpoch       int64      `json:"prev_epoch"`
	PrevNode        string     `json:"prev_node,omitempty"`
	PrevEnded       *time.Time `json:"prev_ended"`
	Elected         time.Time  `json:"elected"`
	FirstAssignment time.Time  `json:"first_assignment"`
	// AllRunning is when every task came to run where the new master's plan
	// put it (tasks.FailoverDoc.AllRunning); nil until the master saw it.
	AllRunning *time.Time `json:"all_running,omitempty"`
	// Session and PrevSession are the new and the old master's ZooKeeper
	// sessions (0x-prefixed hex) from their terms/ records; "" if unknown.
	Session     string `json:"session,omitempty"`
	PrevSession string `json:"prev_session,omitempty"`
	// Cause says why the old term ended (CauseFirstTerm, CauseResigned,
	// CauseSessionExpiry, CauseRestart, CauseSameSession, CauseFenced or
	// CauseUnknown), derived from the two terms' records.
	Cause string `json:"cause,omitempty"`
}

// Member is one live node.
type Member struct {
	ID       string    `json:"id"`
	Session  string    `json:"session"` // 0x-prefixed hex, as ZooKeeper's tools print it
	Addr     string    `json:"addr,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Version  string    `json:"version,omitempty"`
	Capacity int       `json:"capacity,omitempty"`
	Tasks    int       `json:"tasks"` // tasks its status lists
	// QuotesPerSec is the sum of its fetch tasks' rates: quotes fetched per
	// second since its previous status (ingest rates are per task).
	QuotesPerSec float64 `json:"quotes_per_s"`
	// LastError is the most recent last_error among its tasks ("" if none).
	LastError string    `json:"last_error,omitempty"`
	Updated   time.Time `json:"status_updated,omitzero"` // when its status was last published
	Suspended bool      `json:"suspended,omitempty"`
	// Cordoned is set for a cordoned node (no new tasks), Drained as well
	// for a drained one (no tasks at all); see Report.Control.
	Cordoned bool `json:"cordoned,omitempty"`
	Drained  bool `json:"drained,omitempty"`
	// Revoked lists the tasks its assignment lists as revoked that it may
	// still run: all of them while its status lags the assignment (reflects
	// an earlier version), else those its status still lists; sorted,
	// omitted when none.
	Revoked []string `json:"revoked,omitempty"`
}

// Task is one task and where it runs.
type Task struct {
	ID    string  `json:"id"`
	Type  string  `json:"type"`  // fetch or ingest
	Owner *string `json:"owner"` // node whose assignment holds it; nil if none
	// State is the owner's reported state (starting, running, stopping,
	// failed), "assigned" before the owner reports it, or "unassigned".
	State string `json:"state"`
	// UnassignedReason says why an unassigned task has no owner, when known
	// (UnassignedMaintenance, UnassignedNoMaster, UnassignedNoMember,
	// UnassignedAllCordoned); "" while a handover is in progress.
	UnassignedReason string `json:"unassigned_reason,omitempty"`
	Epoch            int64  `json:"epoch"`
	// Token is the running run's fencing token (worker.Run.Token: the zxid
	// of the assignment write it started from), a decimal string; "" if
	// not reported.
	Token        string    `json:"token,omitempty"`
	Started      time.Time `json:"started,omitzero"`
	LastProgress time.Time `json:"last_progress,omitzero"`
	Progress     int64     `json:"progress"`
	Rate         float64   `json:"rate"` // quotes per second
	LastError    string    `json:"last_error,omitempty"`
	// RetryAt is when a failed task is started again (the worker's
	// backoff); omitted unless State is failed.
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Failures counts the task's consecutive failures on its owner
	// (tasks.TaskStatus.Failures).
	Failures int `json:"failures,omitempty"`
	// Paused is set for a paused task (stocksys task pause; see
	// Report.Control), Restarting for one whose restart is pending.
	Paused     bool `json:"paused,omitempty"`
	Restarting bool `json:"restarting,omitempty"`
	// Lag is an ingest task's lag in messages. Measured by status itself
	// (LagSource "measured", see MeasureLag): the partition's high-water mark
	// in Kafka minus the offset the task committed in Cassandra, or minus the
	// partition's oldest offset if it committed none. When that cannot be
	// read (LagSource "reported", Report.LagError says why): ReportedLag.
	// nil if unknown.
	Lag *int64 `json:"lag,omitempty"`
	// LagSource is "measured" or "reported" (LagMeasured, LagReported) for
	// an ingest task, "" for others.
	LagSource string `json:"lag_source,omitempty"`
	// ReportedLag is the lag the owner last published (the high-water mark
	// of its latest batch minus the batch's next offset); a stuck runner
	// publishes none or a stale one. nil if none.
	ReportedLag *int64 `json:"reported_lag,omitempty"`
	// HighWater and Committed are the offsets a measured Lag came from: the
	// partition's high-water mark, and the next offset the task committed
	// (nil if none). Both nil unless LagSource is "measured".
	HighWater *int64 `json:"high_water,omitempty"`
	Committed *int64 `json:"committed,omitempty"`
	// Stalled is set on an ingest task that has a lag and makes no progress
	// (see Stall for the rule); StallReason says which rule and the numbers.
	Stalled     bool   `json:"stalled,omitempty"`
	StallReason string `json:"stall_reason,omitempty"`
}

// Refusal is an assigned task a worker refused.
type Refusal struct {
	Node   string `json:"node"`
	Task   string `json:"task"`
	Reason string `json:"reason"`
}

// Read reads the cluster under root. cluster is the name shown. Missing
// znodes read as empty (a cluster nobody started yet); other ZooKeeper errors
// are returned.
//
// The steps, in order (each reads what the next needs): the term (epoch,
// master, last failover, election queue), the members and their sessions,
// the live members' status documents, every task (symbols and recorded
// partitions), the owners (live members' assignment documents for their
// current session), then the task rows and the control state.
func Read(c zkapi.Conn, cluster, root string) (*Report, error) {
	rd := &reading{c: c, root: root, p: tasks.NewPaths(root),
		r:        &Report{Cluster: cluster, Root: root, Read: time.Now().UTC(), Members: []Member{}, Tasks: []Task{}, Unassigned: []string{}},
		sessions: map[string]int64{}, statuses: map[string]tasks.StatusDoc{}, all: map[tasks.ID]tasks.Task{},
		owner: map[tasks.ID]string{}, docEpoch: map[string]int64{}}
	for _, step := range []func() error{rd.term, rd.members, rd.statusDocs, rd.taskSet, rd.owners} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	rd.taskRows()
	if err := readControl(c, root, rd.r); err != nil {
		return nil, err
	}
	return rd.r, nil
}

// reading is one Read in progress: what its steps have read so far.
type reading struct {
	c    zkapi.Conn
	root string
	p    tasks.Paths
	r    *Report

	sessions map[string]int64           // member -> the session owning its znode
	statuses map[string]tasks.StatusDoc // live member -> its status (its session's)
	all      map[tasks.ID]tasks.Task    // every task
	owner    map[tasks.ID]string        // task -> the live member whose document assigns it
	docEpoch map[string]int64           // member -> its document's epoch
}

// term reads the epoch, the master znode (fenced if older than the epoch),
// the last failover with its terms, and the election queue.
func (rd *reading) term() error {
	c, p, root, r := rd.c, rd.p, rd.root, rd.r
	if data, _, err := c.Get(path.Join(root, "epoch")); err == nil {
		r.Epoch, _ = strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	} else if !errors.Is(err, zkapi.ErrNoNode) {
		return fmt.Errorf("status: epoch: %w", err)
	}
	var m tasks.MasterDoc
	if _, err := tasks.ReadJSON(c, path.Join(root, "master"), &m); err == nil {
		r.Master = &Master{ID: m.ID, Epoch: m.Epoch, Since: m.Since.UTC(), Addr: m.Addr, Session: tasks.SessionString(int64(m.Session))}
		if m.Epoch < r.Epoch {
			// The epoch znode moved on (a newer winner, or an operator): the
			// node named here is fenced, whatever its znode still says.
			r.FencedMaster, r.Master = r.Master, nil
		}
	} else if !errors.Is(err, zkapi.ErrNoNode) {
		return fmt.Errorf("status: %w", err)
	}
	var f tasks.FailoverDoc
	if _, err := tasks.ReadJSON(c, p.Failover, &f); err == nil {
		r.LastFailover = &Failover{Epoch: f.Epoch, Node: f.Node, PrevEpoch: f.PrevEpoch, PrevNode: f.PrevNode,
			Elected: f.Elected, FirstAssignment: f.FirstAssignment}
		if !f.AllRunning.IsZero() {
			t := f.AllRunning
			r.LastFailover.AllRunning = &t
		}
		if !f.PrevEnded.IsZero() {
			t := f.PrevEnded
			r.LastFailover.PrevEnded = &t
		}
		prev, cur, err := failoverTerms(c, root, f.Epoch)
		if err != nil {
			return err
		}
		explainFailover(r.LastFailover, prev, cur)
	} else if !errors.Is(err, zkapi.ErrNoNode) {
		return fmt.Errorf("status: %w", err)
	}

	q, err := readQueue(c, root)
	if err != nil {
		return err
	}
	r.ElectionQueue = q

	return nil
}

// members reads members/ and each member's document and session.
func (rd *reading) members() error {
	c, p, r := rd.c, rd.p, rd.r
	// Members, with the sessions that own their znodes.
	names, err := children(c, p.Members)
	if err != nil {
		return err
	}
	for _, n := range names {
		d, err := membership.ReadMember(c, p.Members, n)
		if errors.Is(err, zkapi.ErrNoNode) {
			continue
		}
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		rd.sessions[n] = d.Owner
		r.Members = append(r.Members, Member{ID: n, Session: tasks.SessionString(d.Owner), Addr: d.Addr,
			Started: d.Started, Version: d.Version, Capacity: d.Capacity})
	}

	return nil
}

// statusDocs reads the live members' status documents (those of their
// current session) into the members' rows and the refusals.
func (rd *reading) statusDocs() error {
	c, p, r := rd.c, rd.p, rd.r
	// Worker status documents of live members.
	names, err := children(c, p.Status)
	if err != nil {
		return err
	}
	for _, n := range names {
		d, _, err := p.ReadStatus(c, n)
		if err != nil {
			if errors.Is(err, zkapi.ErrNoNode) {
				continue
			}
			return fmt.Errorf("status: %w", err)
		}
		if s, ok := rd.sessions[n]; ok && s == int64(d.Session) {
			rd.statuses[n] = d
		}
	}
	for i := range r.Members {
		if d, ok := rd.statuses[r.Members[i].ID]; ok {
			r.Members[i].Tasks = len(d.Tasks)
			r.Members[i].Updated = d.Updated
			r.Members[i].Suspended = d.Suspended
			var lastErrAt time.Time
			for id, ts := range d.Tasks {
				if strings.HasPrefix(string(id), "fetch/") { // ingest counts the same quotes again
					r.Members[i].QuotesPerSec += ts.Rate
				}
				if ts.LastError != "" && !ts.Started.Before(lastErrAt) {
					r.Members[i].LastError, lastErrAt = ts.LastError, ts.Started
				}
			}
			for id, why := range d.Refused {
				r.Refused = append(r.Refused, Refusal{Node: d.Node, Task: id, Reason: why})
			}
		}
	}

	return nil
}

// taskSet reads every task: the symbols' fetch tasks and the recorded
// partitions' ingest tasks.
func (rd *reading) taskSet() error {
	c, p := rd.c, rd.p
	// Every task: symbols and the partitions the master plans for.
	syms, _, err := p.ListSymbols(c)
	if err != nil {
		return err
	}
	for _, s := range syms {
		t := tasks.FetchTask(s)
		rd.all[t.ID()] = t
	}
	var parts tasks.PartitionsDoc
	if _, err := tasks.ReadJSON(c, p.Partitions, &parts); err != nil && !errors.Is(err, zkapi.ErrNoNode) {
		return fmt.Errorf("status: %w", err)
	}
	for _, part := range parts.Partitions {
		t := tasks.IngestTask(part)
		rd.all[t.ID()] = t
	}

	return nil
}

// owners reads the live members' assignment documents (for their current
// session): each task's owner, and each member's revoked tasks not yet
// released.
func (rd *reading) owners() error {
	c, p, r := rd.c, rd.p, rd.r
	// Owners: live members' assignment documents for their current session.
	names, err := children(c, p.Assignments)
	if err != nil {
		return err
	}
	for _, n := range names {
		d, st, err := p.ReadAssignment(c, n)
		if err != nil {
			if errors.Is(err, zkapi.ErrNoNode) {
				continue
			}
			return fmt.Errorf("status: %w", err)
		}
		if s, ok := rd.sessions[n]; !ok || s != int64(d.Session) {
			continue
		}
		rd.docEpoch[n] = d.Epoch
		// Revoked and not released: all of them while the node's status
		// lags this document, else those its status still lists.
		sd, hasStatus := rd.statuses[n]
		lagging := !hasStatus || st == nil || sd.AppliedVersion < st.Version
		for i := range r.Members {
			if r.Members[i].ID != n {
				continue
			}
			for _, id := range d.Revoked {
				if _, runs := sd.Tasks[id]; lagging || runs {
					r.Members[i].Revoked = append(r.Members[i].Revoked, string(id))
				}
			}
			sort.Strings(r.Members[i].Revoked)
		}
		for _, id := range d.Tasks {
			rd.owner[id] = n
			if _, ok := rd.all[id]; !ok { // assigned but unknown here (e.g. partitions not yet recorded)
				if t, err := tasks.ParseID(string(id)); err == nil {
					rd.all[id] = t
				}
			}
		}
	}
	return nil
}

// taskRows makes the report's task rows, in id order, from the owners and
// statuses read.
func (rd *reading) taskRows() {
	r := rd.r
	ids := make([]tasks.ID, 0, len(rd.all))
	for id := range rd.all {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		t := Task{ID: string(id), Type: string(rd.all[id].Type()), State: "unassigned"}
		if rd.all[id].Type() == tasks.TypeIngest {
			t.LagSource = LagReported // until MeasureLag
		}
		if n, ok := rd.owner[id]; ok {
			t.Owner = &n
			t.State = "assigned"
			t.Epoch = rd.docEpoch[n]
			if ts, ok := rd.statuses[n].Tasks[id]; ok {
				t.State, t.Epoch, t.Started, t.Token = ts.State, ts.Epoch, ts.Started, ts.Token
				t.LastProgress, t.Progress, t.LastError, t.RetryAt, t.Failures = ts.LastProgress, ts.Progress, ts.LastError, ts.RetryAt, ts.Failures
				t.Rate, t.Lag, t.ReportedLag = ts.Rate, ts.Lag, ts.Lag
			}
		} else {
			r.Unassigned = append(r.Unassigned, string(id))
		}
		r.Tasks = append(r.Tasks, t)
	}
	sort.Slice(r.Refused, func(i, j int) bool {
		return r.Refused[i].Node+r.Refused[i].Task < r.Refused[j].Node+r.Refused[j].Task
	})
}

func children(c zkapi.Conn, p string) ([]string, error) {
	names, _, err := c.Children(p)
	if errors.Is(err, zkapi.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("status: children %s: %w", p, err)
	}
	sort.Strings(names)
	return names, nil
}
