package verify

import (
	"fmt"
	"github.com/stock-system/stocksys/tasks"
	"sort"
	"strings"
	"time"

	"github.com/stock-system/stocksys/audit"
)

// Violation is one broken invariant.
type Violation struct {
	Check  string `json:"check"` // terms, ownership, data, timings
	Detail string `json:"detail"`
}

// TermSummary describes the terms check's findings.
type TermSummary struct {
	Terms          int           `json:"terms"`
	AcceptedWrites int           `json:"accepted_writes"`
	RejectedWrites int           `json:"rejected_writes"` // fenced: a deposed master's writes refused by ZooKeeper
	UnknownWrites  int           `json:"unknown_writes"`
	MinHandover    time.Duration `json:"min_handover"` // least (next term's start - previous term's last accepted write's sent time)
	ZKTerms        int           `json:"zk_terms"`     // terms/ records compared
}

// CheckTerms checks, from the audit trail and ZooKeeper's terms/ records
// (zkTerms) and epoch znode (zkEpoch):
//
//  1. every epoch was won once (one term_start per epoch), and each terms/
//     record names the node whose trail holds that epoch's term_start;
//  2. epochs grow with time: a higher epoch's term started later;
//  3. every accepted fenced write (result ok) carries the epoch of a term
//     its own process started;
//  4. acting intervals do not overlap: a term's acting interval runs from
//     its first accepted write to its last. Each write took effect at some
//     instant in [t_sent, t_done]; a write of epoch e is certainly accepted
//     after a newer master took over if it was sent after a term e' > e had
//     started (term_start is written after the winning Multi completed) or
//     after an accepted write of e' had completed. Either is a violation:
//     a write accepted from a deposed master;
//  5. the epoch znode holds the highest epoch won.
func CheckTerms(tr *Trail, zkTerms []tasks.TermDoc, zkEpoch int64) (TermSummary, []Violation) {
	var sum TermSummary
	var vs []Violation
	bad := func(format string, args ...any) { vs = append(vs, Violation{"terms", fmt.Sprintf(format, args...)}) }
	byEpoch := map[int64][]*Term{}
	var maxEpoch int64
	for _, t := range tr.Terms {
		byEpoch[t.Epoch] = append(byEpoch[t.Epoch], t)
		maxEpoch = max(maxEpoch, t.Epoch)
		for _, w := range t.Writes {
			switch w.Result {
			case audit.ResultOK:
				sum.AcceptedWrites++
			case audit.ResultFenced:
				sum.RejectedWrites++
			case audit.ResultUnknown:
				sum.UnknownWrites++
			}
		}
		if t.Start.IsZero() && t.Accepted > 0 {
			bad("epoch %d: %d accepted fenced writes by %s (pid %d) without a term_start of that epoch", t.Epoch, t.Accepted, t.Node, t.PID)
		}
	}
	var started []*Term
	for e, ts := range byEpoch {
		var st []*Term
		for _, t := range ts {
			if !t.Start.IsZero() {
				st = append(st, t)
			}
		}
		if len(st) > 1 {
			var who []string
			for _, t := range st {
				who = append(who, fmt.Sprintf("%s/pid %d at %s", t.Node, t.PID, ts3(t.Start)))
			}
			bad("epoch %d won %d times: %s", e, len(st), strings.Join(who, ", "))
		}
		started = append(started, st...)
	}
	sum.Terms = len(started)
	sort.Slice(started, func(i, j int) bool { return started[i].Epoch < started[j].Epoch })
	for i := 1; i < len(started); i++ {
		if a, b := started[i-1], started[i]; a.Epoch < b.Epoch && !a.Start.Before(b.Start) {
			bad("epoch %d (%s) started at %s, not before epoch %d (%s) at %s", a.Epoch, a.Node, ts3(a.Start), b.Epoch, b.Node, ts3(b.Start))
		}
	}
	// Acting-interval overlap: every accepted write of epoch e against every
	// newer term's start and earliest completed accepted write.
	sum.MinHandover = time.Duration(1<<63 - 1)
	for i, a := range started {
		if a.Accepted == 0 {
			continue
		}
		for _, b := range started[i+1:] {
			if b.Epoch <= a.Epoch {
				continue
			}
			newer := b.Start
			if b.Accepted > 0 && b.FirstOK.TDone.Before(newer) {
				newer = b.FirstOK.TDone
			}
			if h := b.Start.Sub(a.LastOK.TSent); h < sum.MinHandover {
				sum.MinHandover = h
			}
			for _, w := range a.Writes {
				if w.Result == audit.ResultOK && w.TSent.After(newer) {
					bad("write accepted from a deposed master: epoch %d (%s) wrote %d ops sent at %s, after epoch %d (%s) took over at %s (acting intervals overlap by %v)",
						a.Epoch, a.Node, w.NOps, ts3(w.TSent), b.Epoch, b.Node, ts3(newer), w.TSent.Sub(newer))
				}
			}
		}
	}
	if sum.MinHandover == time.Duration(1<<63-1) {
		sum.MinHandover = 0
	}
	// ZooKeeper's own record.
	seen := map[int64]string{}
	for _, r := range zkTerms {
		if other, dup := seen[r.Epoch]; dup {
			bad("terms/ holds two records of epoch %d (%s and %s)", r.Epoch, other, r.Node)
		}
		seen[r.Epoch] = r.Node
		sum.ZKTerms++
		ts := byEpoch[r.Epoch]
		if len(ts) == 0 || ts[0].Start.IsZero() {
			continue // a term of a process without a trail (before the run)
		}
		if ts[0].Node != r.Node {
			bad("terms/ says epoch %d was won by %s; the audit trail says %s", r.Epoch, r.Node, ts[0].Node)
		}
	}
	if zkEpoch < maxEpoch {
		bad("epoch znode holds %d, lower than epoch %d won", zkEpoch, maxEpoch)
	}
	return sum, vs
}

// OwnerSummary describes the ownership check's findings.
type OwnerSummary struct {
	Runs        int           `json:"runs"`
	Tasks       int           `json:"tasks"`
	ResumeTails int           `json:"resume_tails"`      // runs stopped within the grace after a SIGCONT
	MaxTail     time.Duration `json:"max_resume_tail"`   // longest such tail
	MinHandover time.Duration `json:"min_task_handover"` // least gap between one owner's stop and the next owner's start
}

// CheckOwners checks that no task had two running owners at once: the
// effective intervals (Trail.Segments) of the runs of one task on different
// processes must not overlap. A run ends at its task_stop, or when its
// process was killed (the SIGKILL's time) or exited; a paused process's
// runs do not run while it is stopped.
func CheckOwners(tr *Trail, grace time.Duration) (OwnerSummary, []Violation) {
	var sum OwnerSummary
	var vs []Violation
	type seg struct {
		run  TaskRun
		a, b time.Time
	}
	byTask := map[string][]seg{}
	for _, r := range tr.Runs {
		segs, tail := tr.Segments(r, grace)
		if tail > 0 {
			sum.ResumeTails++
			sum.MaxTail = max(sum.MaxTail, tail)
		}
		for _, s := range segs {
			byTask[r.Task] = append(byTask[r.Task], seg{r, s[0], s[1]})
		}
	}
	sum.Runs, sum.Tasks = len(tr.Runs), len(byTask)
	sum.MinHandover = time.Duration(1<<63 - 1)
	for task, ss := range byTask {
		sort.Slice(ss, func(i, j int) bool { return ss[i].a.Before(ss[j].a) })
		for i := range ss {
			for j := i + 1; j < len(ss) && ss[j].a.Before(ss[i].b); j++ {
				x, y := ss[i], ss[j]
				vs = append(vs, Violation{"ownership", fmt.Sprintf(
					"%s had two running owners for %v: %s (pid %d, epoch %d) %s..%s and %s (pid %d, epoch %d) %s..%s",
					task, minT(x.b, y.b).Sub(y.a), x.run.Node, x.run.PID, x.run.Epoch, ts3(x.a), tsEnd(x.b),
					y.run.Node, y.run.PID, y.run.Epoch, ts3(y.a), tsEnd(y.b))})
			}
			if i > 0 && ss[i].run.PID != ss[i-1].run.PID && !ss[i-1].b.Equal(forever) {
				if h := ss[i].a.Sub(ss[i-1].b); h >= 0 && h < sum.MinHandover {
					sum.MinHandover = h
				}
			}
		}
	}
	if sum.MinHandover == time.Duration(1<<63-1) {
		sum.MinHandover = 0
	}
	return sum, vs
}

func minT(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func ts3(t time.Time) string { return t.Local().Format("15:04:05.000") }

func tsEnd(t time.Time) string {
	if t.Equal(forever) {
		return "now"
	}
	return ts3(t)
}
