package status

import (
	"github.com/stock-system/stocksys/zkapi"

	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stock-system/stocksys/election"
	"github.com/stock-system/stocksys/tasks"
)

// MaxTermHistory is how many terms MasterHistory reads: the terms/ records
// the candidates keep (the newest 100).
const MaxTermHistory = 100

// Term is one master term as recorded (stocksys master history): its
// terms/ record, how it began (the cause of the previous term's end) and,
// as far as recorded, how long the handover took.
type Term struct {
	Epoch   int64  `json:"epoch"`
	Node    string `json:"node"`
	Addr    string `json:"addr,omitempty"`
	Session string `json:"session"` // 0x-prefixed hex
	// Started is when the term was won; Ended when its master resigned
	// (nil: not recorded: a crash, a lost session, fencing, or the current
	// term).
	Started time.Time  `json:"started"`
	Ended   *time.Time `json:"ended"`
	// Current is set for the term of the master znode now.
	Current bool `json:"current,omitempty"`
	// HeldMS is how long the term lasted, in ms: to its end, else to the
	// next term's start, else (current) to now.
	HeldMS float64 `json:"held_ms"`
	// Began says why the term began: the Failover cause of the previous
	// term's end (CauseFirstTerm for the oldest record with no earlier
	// epoch recorded, CauseUnknown when the previous record is gone).
	Began string `json:"began"`
	// HandoverMS is the previous term's recorded end -> this term's win, in
	// ms (nil unless the previous master resigned). FirstAssignmentMS is
	// this term's win -> its first fenced write (the failover document; nil
	// unless it is the latest change of master).
	HandoverMS        *float64 `json:"handover_ms,omitempty"`
	FirstAssignmentMS *float64 `json:"first_assignment_ms,omitempty"`
	// AllRunningMS is this term's win -> every task running where its plan
	// put them (the failover document's all_running; nil unless it is the
	// latest change of master and the master recorded it). 0 when the
	// first plan moved nothing.
	AllRunningMS *float64 `json:"all_running_ms,omitempty"`
}

// MasterHistory reads the newest terms (at most MaxTermHistory, oldest
// first) under root with what each says of its start and end: the terms/
// records, the master znode (the current term) and the failover document
// (the latest change's first assignment). Missing znodes read as none; a
// read error is returned naming the znode.
func MasterHistory(c zkapi.Conn, root string) ([]Term, error) {
	recs, err := election.NewestTerms(c, root, MaxTermHistory)
	if err != nil {
		return nil, fmt.Errorf("status: terms under %s: %w", root, err)
	}
	var cur tasks.MasterDoc
	hasMaster := false
	if data, _, err := c.Get(path.Join(root, "master")); err == nil {
		hasMaster = json.Unmarshal(data, &cur) == nil
	} else if !errors.Is(err, zkapi.ErrNoNode) {
		return nil, fmt.Errorf("status: get %s/master: %w", root, err)
	}
	var fo tasks.FailoverDoc
	hasFailover := false
	if data, _, err := c.Get(path.Join(root, "failover")); err == nil {
		hasFailover = json.Unmarshal(data, &fo) == nil
	} else if !errors.Is(err, zkapi.ErrNoNode) {
		return nil, fmt.Errorf("status: get %s/failover: %w", root, err)
	}
	now := time.Now()
	out := make([]Term, 0, len(recs))
	for i, r := range recs {
		t := Term{Epoch: r.Epoch, Node: r.Node, Addr: r.Addr, Session: tasks.SessionString(int64(r.Session)), Started: r.Started.UTC(),
			Current: hasMaster && cur.Epoch == r.Epoch && cur.Session == r.Session}
		if !r.Ended.IsZero() {
			e := r.Ended.UTC()
			t.Ended = &e
		}
		switch {
		case t.Ended != nil:
			t.HeldMS = ms(t.Ended.Sub(r.Started))
		case i+1 < len(recs):
			t.HeldMS = ms(recs[i+1].Started.Sub(r.Started))
		default:
			t.HeldMS = ms(now.Sub(r.Started))
		}
		f := &Failover{Epoch: r.Epoch, Node: r.Node, Elected: r.Started}
		var prev *tasks.TermDoc
		if i > 0 {
			prev = &recs[i-1]
		} else if r.Epoch > 1 {
			f.PrevEpoch = r.Epoch - 1 // recorded once, pruned since: unknown
		}
		cr := r
		explainFailover(f, prev, &cr)
		t.Began = f.Cause
		if f.PrevEnded != nil && prev != nil {
			h := ms(r.Started.Sub(*f.PrevEnded))
			t.HandoverMS = &h
		}
		if hasFailover && fo.Epoch == r.Epoch && !fo.FirstAssignment.IsZero() {
			fa := ms(fo.FirstAssignment.Sub(r.Started))
			t.FirstAssignmentMS = &fa
			if !fo.AllRunning.IsZero() {
				ar := ms(fo.AllRunning.Sub(r.Started))
				t.AllRunningMS = &ar
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteMasterHistory writes terms as a table, newest last.
func WriteMasterHistory(b *strings.Builder, terms []Term) {
	if len(terms) == 0 {
		b.WriteString("no term recorded (no master was ever elected in this cluster)\n")
		return
	}
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EPOCH\tNODE\tSESSION\tSTARTED\tHELD\tBEGAN\tHANDOVER\tFIRST WRITE\tALL RUNNING\tEND")
	for _, t := range terms {
		end := "not recorded (crash, lost session or fencing)"
		switch {
		case t.Current:
			end = "current"
		case t.Ended != nil:
			end = "resigned " + t.Ended.Format(time.RFC3339Nano)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Epoch, t.Node, t.Session, t.Started.Format(time.RFC3339Nano),
			time.Duration(t.HeldMS*float64(time.Millisecond)).Round(time.Millisecond), t.Began, optMS(t.HandoverMS), optMS(t.FirstAssignmentMS),
			optMS(t.AllRunningMS), end)
	}
	_ = tw.Flush()
}

func optMS(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", *v)
}
