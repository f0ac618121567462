package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path"
	"time"

	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
)

// Paths are the control plane's znodes under a cluster root:
//
//	intents/i-<seq>   persistent sequential; Intent JSON. Written by any process, deleted by the master (fenced) when applied.
//	control           persistent; State JSON. Written only by the master, fenced.
//	control-history   persistent; History JSON (the last MaxHistory actions). Written only by the master, fenced.
type Paths struct {
	Intents, State, History string
}

// NewPaths returns the control paths under root.
func NewPaths(root string) Paths {
	return Paths{Intents: path.Join(root, "intents"), State: path.Join(root, "control"), History: path.Join(root, "control-history")}
}

// Intent returns the znode of the intent named name (i-<seq>).
func (p Paths) Intent(name string) string { return path.Join(p.Intents, name) }

// ReadState reads the control state; a missing znode reads as the zero
// State (nothing set). Other errors are returned, naming the znode.
func (p Paths) ReadState(c zkapi.Conn) (State, *zkapi.Stat, error) {
	var s State
	data, st, err := c.Get(p.State)
	if errors.Is(err, zkapi.ErrNoNode) {
		return State{Cordoned: map[string]Cordon{}}, nil, nil
	}
	if err != nil {
		return s, nil, fmt.Errorf("control: get %s: %w", p.State, err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return State{Cordoned: map[string]Cordon{}}, st, fmt.Errorf("control: %s: bad JSON: %w", p.State, err)
	}
	if s.Cordoned == nil {
		s.Cordoned = map[string]Cordon{}
	}
	return s, st, nil
}

// ReadHistory reads the audit list, oldest first; a missing znode reads as
// empty.
func (p Paths) ReadHistory(c zkapi.Conn) (History, error) {
	var h History
	data, _, err := c.Get(p.History)
	if errors.Is(err, zkapi.ErrNoNode) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("control: get %s: %w", p.History, err)
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return History{}, fmt.Errorf("control: %s: bad JSON: %w", p.History, err)
	}
	return h, nil
}

// ReadPending reads the intents not yet applied, in sequence order. An
// intent whose content is not valid JSON is returned with Err set; one
// deleted while reading is skipped. A missing intents/ reads as none.
func (p Paths) ReadPending(c zkapi.Conn) ([]Pending, error) {
	names, _, err := c.Children(p.Intents)
	if errors.Is(err, zkapi.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("control: children %s: %w", p.Intents, err)
	}
	return p.ReadIntents(c, names)
}

// ReadIntents reads the intents named (children of intents/), in sequence
// order, as ReadPending does.
func (p Paths) ReadIntents(c zkapi.Conn, names []string) ([]Pending, error) {
	out := make([]Pending, 0, len(names))
	for _, n := range names {
		data, _, err := c.Get(p.Intent(n))
		if errors.Is(err, zkapi.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("control: get %s: %w", p.Intent(n), err)
		}
		pd := Pending{ID: n}
		if err := json.Unmarshal(data, &pd.Intent); err != nil {
			pd.Err = fmt.Errorf("%w: intent %s: bad JSON: %v", ErrBadIntent, n, err)
		}
		out = append(out, pd)
	}
	SortPending(out)
	return out, nil
}

// Write creates the intent in as intents/i-<seq> (creating intents/ if
// missing) and returns its znode name. It checks only in.Validate; use
// Submit to check against the cluster first.
func (p Paths) Write(c zkapi.Conn, in Intent) (string, error) {
	if err := in.Validate(); err != nil {
		return "", err
	}
	data, err := json.Marshal(in)
	if err != nil {
		return "", err
	}
	if err := session.EnsurePath(c, p.Intents, nil); err != nil {
		return "", fmt.Errorf("control: %w", err)
	}
	created, err := c.Create(p.Intents+"/i-", data, zkapi.FlagSequence, zkapi.OpenACL())
	if err != nil {
		return "", fmt.Errorf("control: create intent under %s: %w", p.Intents, err)
	}
	return path.Base(created), nil
}

// Submit checks in against the cluster under root as the master will see
// it (the control state with every pending intent applied, the live
// members under members/) and, if Check allows it, writes it (Write). On
// an error nothing is written. A race with another operator's intent is
// settled by the master, which rejects whichever comes second (see the
// audit list).
func Submit(c zkapi.Conn, root string, in Intent) (string, error) {
	ids, err := SubmitAll(c, root, []Intent{in})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// SubmitAll is Submit for several intents at once: each is checked against
// the state with the pending intents and the ones before it applied (so
// the same pause twice is refused as already paused), and only if all pass
// are they written, in order; otherwise nothing is written and the error
// names the first that failed. It returns the intents' znode names.
func SubmitAll(c zkapi.Conn, root string, ins []Intent) ([]string, error) {
	p := NewPaths(root)
	needTasks := false
	for _, in := range ins {
		if err := in.Validate(); err != nil {
			return nil, err
		}
		needTasks = needTasks || in.Action.TaskAction()
	}
	members, err := Members(c, root)
	if err != nil {
		return nil, err
	}
	s, _, err := p.ReadState(c)
	if err != nil {
		return nil, err
	}
	pending, err := p.ReadPending(c)
	if err != nil {
		return nil, err
	}
	k := Known{Members: members}
	if needTasks {
		if k.Tasks, err = KnownTasks(c, root); err != nil {
			return nil, err
		}
	}
	s, _ = Apply(s, pending, k, nil, s.Epoch, time.Now().UTC())
	for i, in := range ins {
		if err := Check(s, k, in); err != nil {
			return nil, err
		}
		s, _ = Apply(s, []Pending{{ID: fmt.Sprintf("new-%d", i), Intent: in}}, k, nil, s.Epoch, time.Now().UTC())
	}
	ids := make([]string, 0, len(ins))
	for _, in := range ins {
		id, err := p.Write(c, in)
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// KnownTasks returns the cluster's task ids as its master plans them: one
// fetch task per registered symbol (symbols/), one ingest task per
// partition of the partitions document (written by the master; none before
// a master wrote it).
func KnownTasks(c zkapi.Conn, root string) (map[string]bool, error) {
	tp := tasks.NewPaths(root)
	syms, _, err := tp.ListSymbols(c)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	out := map[string]bool{}
	for _, s := range syms {
		out[string(tasks.FetchTask(s).ID())] = true
	}
	var pd tasks.PartitionsDoc
	if _, err := tasks.ReadJSON(c, tp.Partitions, &pd); err != nil && !errors.Is(err, zkapi.ErrNoNode) {
		return nil, fmt.Errorf("control: %w", err)
	}
	for _, p := range pd.Partitions {
		out[string(tasks.IngestTask(p).ID())] = true
	}
	return out, nil
}

// Members returns the ids of the live members (children of members/).
func Members(c zkapi.Conn, root string) (map[string]bool, error) {
	dir := path.Join(root, "members")
	names, _, err := c.Children(dir)
	if err != nil && !errors.Is(err, zkapi.ErrNoNode) {
		return nil, fmt.Errorf("control: children %s: %w", dir, err)
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

// Await waits up to timeout for the intent named id to be applied or
// rejected by the master and returns its record. It returns an error
// wrapping ErrNotApplied on timeout (the intent stays pending: no master, or
// a master too busy).
func (p Paths) Await(c zkapi.Conn, id string, timeout time.Duration) (Record, error) {
	deadline := time.Now().Add(timeout)
	for {
		h, err := p.ReadHistory(c)
		if err != nil {
			return Record{}, err
		}
		for i := len(h.Actions) - 1; i >= 0; i-- {
			if h.Actions[i].ID == id {
				return h.Actions[i], nil
			}
		}
		if time.Now().After(deadline) {
			return Record{}, fmt.Errorf("%w: intent %s still pending after %v (is a master running? see stocksys status)", ErrNotApplied, id, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ErrNotApplied: the master did not apply an intent within the time waited.
var ErrNotApplied = errors.New("not applied yet")

// Who returns the operator's identity, user@host ($USER or the OS user,
// and the host name; "unknown" for either that cannot be told).
func Who() string {
	name := os.Getenv("USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if name == "" {
		name = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return name + "@" + host
}
