package verify

import (
	"sort"
	"time"

	"github.com/stock-system/stocksys/chaos"
)

// Failover is the timeline of one change of master.
type Failover struct {
	PrevEpoch int64  `json:"prev_epoch"`
	PrevNode  string `json:"prev_node"`
	Epoch     int64  `json:"epoch"`
	Node      string `json:"node"`
	// Cause is the fault that deposed the previous master (kill, pause,
	// zk-partition, term ...) or the previous term's end cause.
	Cause string `json:"cause"`
	// Detect is when the failover began: the fault's time if a fault hit
	// the previous master's node, else the previous term's end.
	Detect time.Time `json:"detect"`
	// Elected is the new term's start; FirstWrite the completion of its
	// first accepted fenced write (the first assignment); AllRunning the
	// first instant from Elected on, and after the faulted process's last
	// task stopped (for a fault on a process: a SIGTERMed master stops its
	// runners after it resigned), at which every task had a running owner
	// (a crashed or paused master's tasks stop before the new master is
	// elected: at the kill, the SIGSTOP, or its session's safe deadline).
	Elected, FirstWrite, AllRunning time.Time
}

// Durations from Detect (zero when the end point is unknown).
func (f Failover) ToElected() time.Duration    { return since(f.Detect, f.Elected) }
func (f Failover) ToFirstWrite() time.Duration { return since(f.Detect, f.FirstWrite) }
func (f Failover) ToAllRunning() time.Duration { return since(f.Detect, f.AllRunning) }

func since(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() {
		return 0
	}
	return b.Sub(a)
}

// Failovers returns one Failover per term after the first, in epoch order.
// tasks are the task ids that must all run again (nil: every task seen in
// the trail). grace is as for Trail.Segments.
func Failovers(tr *Trail, tasks []string, grace time.Duration) []Failover {
	var terms []*Term
	for _, t := range tr.Terms {
		if !t.Start.IsZero() {
			terms = append(terms, t)
		}
	}
	if tasks == nil {
		seen := map[string]bool{}
		for _, r := range tr.Runs {
			if !seen[r.Task] {
				seen[r.Task] = true
				tasks = append(tasks, r.Task)
			}
		}
		sort.Strings(tasks)
	}
	var out []Failover
	for i := 1; i < len(terms); i++ {
		prev, cur := terms[i-1], terms[i]
		f := Failover{PrevEpoch: prev.Epoch, PrevNode: prev.Node, Epoch: cur.Epoch, Node: cur.Node,
			Elected: cur.Start, Cause: prev.Cause}
		f.Detect = prev.End
		if prev.End.After(cur.Start) || prev.End.Equal(forever) {
			f.Detect = cur.Start
		}
		// A fault on the previous master's process while its term lasted.
		faultPID := 0
		for _, e := range tr.Events {
			if e.Phase != chaos.PhaseInject && !(e.Phase == chaos.PhaseNote && e.Signal != "") {
				continue
			}
			if e.Node != prev.Node || e.T.Before(prev.Start) || e.T.After(cur.Start) {
				continue
			}
			if e.PID != 0 && e.PID != prev.PID {
				continue
			}
			f.Detect, f.Cause, faultPID = e.T, string(e.Kind), e.PID
			if e.Signal != "" {
				f.Cause += " (SIG" + e.Signal + ")"
			}
		}
		if cur.Accepted > 0 {
			f.FirstWrite = cur.FirstOK.TDone
		}
		// Every task running again, counted from when the faulted process
		// let go of its last task (a SIGTERMed master stops its runners
		// after it resigns, so they may still run when the successor wins:
		// "all running" at that instant would count the old owner).
		from := maxT(f.Detect, f.Elected)
		if faultPID != 0 {
			for _, r := range tr.Runs {
				if r.PID != faultPID || !r.Start.Before(f.Detect) {
					continue // only the runs it held at the fault
				}
				ss, _ := tr.Segments(r, grace)
				for _, sg := range ss {
					if sg[1].After(f.Detect) {
						from = maxT(from, sg[1])
					}
				}
			}
		}
		f.AllRunning = tr.allRunningAfter(from, tasks, grace)
		out = append(out, f)
	}
	return out
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// allRunningAfter returns the first instant after t at which every task has
// a run segment covering it, or zero if never.
func (tr *Trail) allRunningAfter(t time.Time, tasks []string, grace time.Duration) time.Time {
	segs := map[string][][2]time.Time{}
	var cands []time.Time
	for _, r := range tr.Runs {
		ss, _ := tr.Segments(r, grace)
		segs[r.Task] = append(segs[r.Task], ss...)
		for _, s := range ss {
			if s[0].After(t) {
				cands = append(cands, s[0])
			}
		}
	}
	cands = append(cands, t.Add(time.Nanosecond))
	sort.Slice(cands, func(i, j int) bool { return cands[i].Before(cands[j]) })
	for _, c := range cands {
		ok := true
		for _, task := range tasks {
			covered := false
			for _, s := range segs[task] {
				if !s[0].After(c) && s[1].After(c) {
					covered = true
					break
				}
			}
			if !covered {
				ok = false
				break
			}
		}
		if ok {
			return c
		}
	}
	return time.Time{}
}
