package tasks

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/stock-system/stocksys/session"

	"github.com/stock-system/stocksys/zkapi"
)

// Paths are the znodes of the task layer under a cluster root (default
// /stocksys/<cluster>):
//
//	symbols/<SYMBOL>      persistent; SymbolSpec JSON. Written by operators (stocksys symbols).
//	assignments/<node-id> persistent; AssignmentDoc JSON. Written only by the master, fenced.
//	status/<node-id>      ephemeral (the worker's session); StatusDoc JSON.
//	failover              persistent; FailoverDoc JSON of the latest master change. Written by the master, fenced.
//	partitions            persistent; PartitionsDoc JSON: the ingest partitions the master plans for. Fenced.
//	assignment-parts/<node-id>.<gen>.<i>  persistent; part i of a large assignment (see EncodeAssignment). Master only, fenced.
//	status-parts/<node-id>.<gen>.<i>      ephemeral; part i of a large status document (see EncodeStatus).
type Paths struct {
	Root, Symbols, Assignments, Status, Members, Failover, Partitions string
	AssignmentParts, StatusParts                                      string
}

// NewPaths returns the task-layer paths under root.
func NewPaths(root string) Paths {
	return Paths{
		Root:        root,
		Symbols:     path.Join(root, "symbols"),
		Assignments: path.Join(root, "assignments"),
		Status:      path.Join(root, "status"),
		Members:     path.Join(root, "members"),
		Failover:    path.Join(root, "failover"),
		Partitions:  path.Join(root, "partitions"),

		AssignmentParts: path.Join(root, "assignment-parts"),
		StatusParts:     path.Join(root, "status-parts"),
	}
}

// Symbol returns the znode of a symbol's spec.
func (p Paths) Symbol(s Symbol) string { return path.Join(p.Symbols, string(s)) }

// Assignment returns the znode of a node's assignment.
func (p Paths) Assignment(node string) string { return path.Join(p.Assignments, node) }

// StatusOf returns the znode of a node's status.
func (p Paths) StatusOf(node string) string { return path.Join(p.Status, node) }

// EnsureLayout creates the root, symbols/, assignments/, status/ and the two
// parts folders if missing (persistent, open ACL). Safe to call from any
// number of nodes at once.
func (p Paths) EnsureLayout(c zkapi.Conn) error {
	// The usual case, every znode there, costs one round trip: the
	// existence checks go out together (the connection pipelines them).
	all := []string{p.Root, p.Symbols, p.Assignments, p.Status, p.AssignmentParts, p.StatusParts}
	found := make([]bool, len(all))
	var wg sync.WaitGroup
	for i, n := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found[i], _, _ = c.Exists(n) // an error: EnsurePath below tries again and says so
		}()
	}
	wg.Wait()
	for i, n := range all {
		if found[i] {
			continue
		}
		if err := session.EnsurePath(c, n, nil); err != nil {
			return fmt.Errorf("tasks: %w", err)
		}
	}
	return nil
}

// SymbolSpec is the JSON content of symbols/<SYMBOL>: where its quotes come
// from. An empty Source means the cluster's default source.
type SymbolSpec struct {
	Symbol  Symbol            `json:"symbol"`
	Source  string            `json:"source,omitempty"`
	Options map[string]string `json:"options,omitempty"`
	Added   time.Time         `json:"added"`
}

// AssignmentDoc is the JSON content of assignments/<node-id>: the exact set of
// tasks the node must run. Session is the ZooKeeper session id of the member
// it was written for: a node ignores a document written for another session
// (an earlier incarnation of the same node id). Epoch is the writing master's
// epoch; a worker ignores documents older than the highest epoch it has seen.
type AssignmentDoc struct {
	Node    string    `json:"node"`
	Session SessionID `json:"session"`
	Epoch   int64     `json:"epoch"`
	Tasks   []ID      `json:"tasks"`
	// Revoked lists the tasks taken from this node that it may still run:
	// revoked in this or an earlier version, and not yet released as far as
	// the writing master knew (the node's status reflected an earlier
	// document, or still listed the task). While the node's status lags
	// this document, it may run Tasks and Revoked and nothing else; the
	// master gates only those tasks on it. Always present in documents of
	// this layout ([] when empty); nil in an older build's document, whose
	// lagging node may run anything.
	Revoked []ID      `json:"revoked"`
	Written time.Time `json:"written"`
	// Parts, when set, names the znodes under assignment-parts/ that hold
	// Tasks (a large assignment: EncodeAssignment); Tasks is empty here.
	// Read with Paths.ReadAssignment.
	Parts []string `json:"parts,omitempty"`
}

// Task states reported in StatusDoc.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateStopping = "stopping"
	StateFailed   = "failed"
	// StateStopped: the runner has returned and the worker has not yet
	// dropped the entry (its loop may be blocked, e.g. cut off from
	// ZooKeeper). Listed, so the master still counts it as held.
	StateStopped = "stopped"
)

// TaskStatus is one task's entry in a StatusDoc. Times are UTC; LastProgress
// is zero until the runner first reports progress.
type TaskStatus struct {
	State string `json:"state"`
	Epoch int64  `json:"epoch"`
	// Token is the run's fencing token (worker.Run.Token), a decimal
	// string (a 64-bit zxid); "" from an older build.
	Token        string    `json:"token,omitempty"`
	Started      time.Time `json:"started"`
	LastProgress time.Time `json:"last_progress,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	// RetryAt is when a failed task is started again (its backoff); zero
	// unless State is failed.
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Failures counts the task's consecutive failures on this node (the
	// exponent of its backoff, see worker.Config.RetryDelay); 0 while it
	// has not failed since it last ran for RetryMaxDelay or longer.
	Failures int   `json:"failures,omitempty"`
	Progress int64 `json:"progress"` // units of work done (quotes for fetch and ingest)
	// Rate is units of work per second since the previous publication.
	Rate float64 `json:"rate"`
	// Lag is how far behind its input the task is, in messages (ingest:
	// the partition's high-water mark minus the next offset); nil if not
	// reported.
	Lag *int64 `json:"lag,omitempty"`
}

// StatusDoc is the JSON content of status/<node-id>, published by the worker
// at most once a second. A task appears here from the moment its runner is
// started until the runner has returned, so the master knows when a revoked
// task has really stopped.
type StatusDoc struct {
	Node      string    `json:"node"`
	Session   SessionID `json:"session"`
	Epoch     int64     `json:"epoch"` // highest master epoch the worker has seen
	Suspended bool      `json:"suspended,omitempty"`
	// AppliedVersion is the version of assignments/<node-id> whose task set
	// Tasks reflects (-1: no document). Until it equals the document's
	// current version, the master assumes the node may still run any task.
	AppliedVersion int32             `json:"applied_version"`
	Tasks          map[ID]TaskStatus `json:"tasks"`
	Refused        map[string]string `json:"refused,omitempty"` // assigned task id -> why it was refused
	Updated        time.Time         `json:"updated"`
	// Parts, when set, names the znodes under status-parts/ that hold Tasks
	// (a large status: EncodeStatus); Tasks is empty here. Read with
	// Paths.ReadStatus.
	Parts []string `json:"parts,omitempty"`
}

// FailoverDoc is the JSON content of failover: the phases of the latest change
// of master, written by the new master with its first assignment.
type FailoverDoc struct {
	Epoch           int64     `json:"epoch"`
	Node            string    `json:"node,omitempty"` // the new master
	PrevEpoch       int64     `json:"prev_epoch"`
	PrevNode        string    `json:"prev_node,omitempty"`
	PrevEnded       time.Time `json:"prev_ended,omitzero"` // zero when the old term's end is unknown (crash)
	Elected         time.Time `json:"elected"`
	FirstAssignment time.Time `json:"first_assignment"`
	// AllRunning is when every task came to run where the new master's plan
	// put it (the latest run's start as its worker reported it, at least
	// Elected); written by the master in the first round that sees it
	// (zero until then, or if the term ended first).
	AllRunning time.Time `json:"all_running,omitzero"`
}

// PartitionsDoc is the JSON content of partitions: the partitions of the
// quotes topic that the master plans one ingest task for, so that readers
// (stocksys status) know every task without asking Kafka.
type PartitionsDoc struct {
	Epoch      int64     `json:"epoch"`
	Partitions []int32   `json:"partitions"`
	Written    time.Time `json:"written"`
}

// SessionString formats a ZooKeeper session id as ZooKeeper's tools do (0x...).
// SessionID is a ZooKeeper session id in a JSON document (session.SessionID:
// a decimal string; numbers are still read).
type SessionID = session.SessionID

func SessionString(id int64) string { return "0x" + strconv.FormatUint(uint64(id), 16) }

// ReadJSON reads a znode and decodes its JSON into v. It returns the znode's
// stat; zkapi.ErrNoNode (wrapped) when it is missing.
func ReadJSON(c zkapi.Conn, p string, v any) (*zkapi.Stat, error) {
	data, st, err := c.Get(p)
	if err != nil {
		return nil, fmt.Errorf("tasks: get %s: %w", p, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return st, fmt.Errorf("tasks: %s: bad JSON: %w", p, err)
	}
	return st, nil
}

// ListSymbols returns the registered symbols, sorted. Children whose names are
// not valid symbols are skipped and returned in bad.
func (p Paths) ListSymbols(c zkapi.Conn) (syms []Symbol, bad []string, err error) {
	names, _, err := c.Children(p.Symbols)
	if errors.Is(err, zkapi.ErrNoNode) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("tasks: children %s: %w", p.Symbols, err)
	}
	sort.Strings(names)
	for _, n := range names {
		s, err := ParseSymbol(n)
		if err != nil || string(s) != n {
			bad = append(bad, n)
			continue
		}
		syms = append(syms, s)
	}
	return syms, bad, nil
}
