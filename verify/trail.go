package verify

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stock-system/stocksys/audit"
	"github.com/stock-system/stocksys/chaos"
)

// forever stands for "still running" as an interval end.
var forever = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Proc is one node process, from its proc_start to its end.
type Proc struct {
	Node  string
	PID   int
	Start time.Time
	// End is when the process died or exited: the SIGKILL's time for a
	// killed process (from the chaos events), its last record for one that
	// exited, forever for one still alive.
	End    time.Time
	Killed bool
	Alive  bool
	// Pauses are the SIGSTOP..SIGCONT windows of the process.
	Pauses [][2]time.Time
	recs   []audit.Record
}

// TaskRun is one task runner's life on one process.
type TaskRun struct {
	Task    string
	Node    string
	PID     int
	Epoch   int64
	Start   time.Time
	Stop    time.Time // task_stop, else the process's End
	Stopped bool      // a task_stop record ends it
}

// Term is one master term as the audit trail shows it.
type Term struct {
	Epoch    int64
	Node     string
	PID      int
	Session  string
	Start    time.Time // term_start (the win, on the winner's clock)
	End      time.Time // term_end, else the process's End
	Cause    string
	Writes   []audit.Record // fenced writes, in order
	Accepted int            // writes with result ok
	// First and Last accepted write: [TSent of the first, TDone of the
	// last]; zero if none.
	FirstOK, LastOK audit.Record
}

// Trail is every node's audit trail of one run, joined with the chaos
// events.
type Trail struct {
	Procs  []*Proc
	Runs   []TaskRun
	Terms  []*Term // by epoch
	Events []chaos.Event
	// Commits are the commit records of every process (Cassandra commits
	// fenced by a task token), in file order.
	Commits []audit.Record
}

// LoadTrail reads every *.audit.jsonl in clusterDir and the chaos events.
func LoadTrail(clusterDir string, events []chaos.Event) (*Trail, error) {
	files, err := filepath.Glob(filepath.Join(clusterDir, "*.audit.jsonl"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("verify: no audit trail (*.audit.jsonl) in %s: were the nodes started with --audit?", clusterDir)
	}
	tr := &Trail{Events: events}
	for _, f := range files {
		recs, err := audit.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var cur *Proc
		for _, r := range recs {
			if r.Kind == audit.KindProcStart || cur == nil || cur.PID != r.PID {
				cur = &Proc{Node: r.Node, PID: r.PID, Start: r.T}
				tr.Procs = append(tr.Procs, cur)
			}
			cur.recs = append(cur.recs, r)
		}
	}
	kills := map[int]time.Time{}
	stops := map[int][]time.Time{}
	conts := map[int][]time.Time{}
	for _, e := range events {
		if e.PID == 0 || e.Err != "" {
			continue
		}
		switch {
		case e.Signal == "KILL" && e.Phase == chaos.PhaseInject:
			kills[e.PID] = e.T
		case e.Signal == "STOP":
			stops[e.PID] = append(stops[e.PID], e.T)
		case e.Signal == "CONT":
			conts[e.PID] = append(conts[e.PID], e.T)
		}
	}
	for _, p := range tr.Procs {
		last := p.recs[len(p.recs)-1].T
		switch {
		case !kills[p.PID].IsZero() && !kills[p.PID].Before(p.Start):
			p.End, p.Killed = kills[p.PID], true
		case alive(p.PID, p.Node):
			p.End, p.Alive = forever, true
		default:
			p.End = last
		}
		for i, s := range stops[p.PID] {
			c := p.End
			if i < len(conts[p.PID]) {
				c = conts[p.PID][i]
			}
			p.Pauses = append(p.Pauses, [2]time.Time{s, c})
		}
		tr.addProc(p)
	}
	sort.Slice(tr.Terms, func(i, j int) bool { return tr.Terms[i].Epoch < tr.Terms[j].Epoch })
	sort.Slice(tr.Runs, func(i, j int) bool { return tr.Runs[i].Start.Before(tr.Runs[j].Start) })
	return tr, nil
}

// alive reports whether pid is a live `stocksys node --id node` process.
func alive(pid int, node string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), "node --id "+node+" ")
}

func (tr *Trail) addProc(p *Proc) {
	open := map[string][]int{} // task -> indexes into tr.Runs of open runs
	terms := map[int64]*Term{}
	for _, r := range p.recs {
		switch r.Kind {
		case audit.KindTaskStart:
			tr.Runs = append(tr.Runs, TaskRun{Task: r.Task, Node: p.Node, PID: p.PID, Epoch: r.Epoch, Start: r.T, Stop: p.End})
			open[r.Task] = append(open[r.Task], len(tr.Runs)-1)
		case audit.KindCommit:
			tr.Commits = append(tr.Commits, r)
		case audit.KindTaskStop:
			if idx := open[r.Task]; len(idx) > 0 {
				tr.Runs[idx[0]].Stop, tr.Runs[idx[0]].Stopped = r.T, true
				open[r.Task] = idx[1:]
			}
		case audit.KindTermStart:
			t := &Term{Epoch: r.Epoch, Node: p.Node, PID: p.PID, Session: r.Session, Start: r.T, End: p.End}
			terms[r.Epoch] = t
			tr.Terms = append(tr.Terms, t)
		case audit.KindTermEnd:
			if t := terms[r.Epoch]; t != nil {
				t.End, t.Cause = r.T, r.Cause
			}
		case audit.KindFencedWrite:
			t := terms[r.Epoch]
			if t == nil {
				t = &Term{Epoch: r.Epoch, Node: p.Node, PID: p.PID, End: p.End} // write without a term_start: flagged by checkTerms
				terms[r.Epoch] = t
				tr.Terms = append(tr.Terms, t)
			}
			t.Writes = append(t.Writes, r)
			if r.Result == audit.ResultOK {
				if t.Accepted == 0 {
					t.FirstOK = r
				}
				t.LastOK = r
				t.Accepted++
			}
		}
	}
}

// ProcOf returns the process with pid.
func (tr *Trail) ProcOf(pid int) *Proc {
	for _, p := range tr.Procs {
		if p.PID == pid {
			return p
		}
	}
	return nil
}

// Segments returns the parts of run during which its process could run: the
// run minus the process's pauses. After a pause, the worker stops its tasks
// as soon as the process runs again (its session's safe deadline has
// passed); a tail after a SIGCONT no longer than grace is left out too and
// returned as tail (the longest such), so that it is reported rather than
// counted as a second owner.
func (tr *Trail) Segments(run TaskRun, grace time.Duration) (segs [][2]time.Time, tail time.Duration) {
	p := tr.ProcOf(run.PID)
	cur := [2]time.Time{run.Start, run.Stop}
	if p == nil {
		return [][2]time.Time{cur}, 0
	}
	for _, pw := range p.Pauses {
		if !pw[0].Before(cur[1]) || !pw[1].After(cur[0]) {
			continue // no overlap
		}
		if pw[0].After(cur[0]) {
			segs = append(segs, [2]time.Time{cur[0], pw[0]})
		}
		cur[0] = pw[1]
		if t := cur[1].Sub(pw[1]); run.Stopped && t >= 0 && t <= grace {
			tail = max(tail, t)
			cur[0] = cur[1]
		}
	}
	if cur[1].After(cur[0]) {
		segs = append(segs, cur)
	}
	return segs, tail
}
