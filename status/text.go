package status

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes r as the table `stocksys status` prints: cluster and
// master, the last failover with its phases and cause, the election queue,
// the control plane (maintenance mode, cordoned nodes, pending intents, the
// last 5 operator actions), members (CORDONED, DRAINED), tasks grouped by
// owner (an unassigned one with its reason),
// the ingest lag per partition (a reported lag marked *), then alert lines
// ("!!"): lag not measured, stalled, unassigned and refused tasks. now is the
// time ages are measured from.
func WriteText(w io.Writer, r *Report, now time.Time) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "cluster %s (%s)  epoch %d  read %s\n", r.Cluster, r.Root, r.Epoch, r.Read.Format(time.RFC3339))
	if h := EmptyHint(r); h != "" {
		fmt.Fprintln(b, h)
	}
	if r.Master == nil && r.FencedMaster != nil {
		fmt.Fprintf(b, "master  NONE (%s still holds the master znode with epoch %d, but the epoch znode holds %d: it is fenced)\n",
			r.FencedMaster.ID, r.FencedMaster.Epoch, r.Epoch)
	} else if r.Master == nil {
		fmt.Fprintf(b, "master  NONE (no node holds a term)\n")
	} else {
		fmt.Fprintf(b, "master  %s  epoch %d  since %s (%s)  session %s\n", r.Master.ID, r.Master.Epoch,
			r.Master.Since.Format(time.RFC3339), age(now, r.Master.Since), r.Master.Session)
	}
	if f := r.LastFailover; f != nil {
		ended := failoverText(f)
		prev := ""
		if f.PrevNode != "" {
			prev = " (" + f.PrevNode + ")"
		}
		next := ""
		if f.Node != "" {
			next = " (" + f.Node + ")"
		}
		running := "; not all tasks running yet"
		if f.AllRunning != nil {
			running = fmt.Sprintf("; all tasks running %s after election", f.AllRunning.Sub(f.Elected).Round(time.Millisecond))
		}
		fmt.Fprintf(b, "last failover  epoch %d%s -> %d%s at %s: %s; first assignment %s after election%s\n",
			f.PrevEpoch, prev, f.Epoch, next, f.Elected.Format("15:04:05.000"), ended,
			f.FirstAssignment.Sub(f.Elected).Round(time.Millisecond), running)
	}

	writeQueue(b, r)
	writeControl(b, r, now)

	fmt.Fprintf(b, "\nmembers (%d)\n", len(r.Members))
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tSESSION\tUPTIME\tTASKS\tQUOTES/S\tSTATUS\tLAST ERROR")
	for _, m := range r.Members {
		up := "-"
		if !m.Started.IsZero() {
			up = age(now, m.Started)
		}
		st := "no status yet"
		if !m.Updated.IsZero() {
			st = "updated " + age(now, m.Updated) + " ago"
		}
		if m.Suspended {
			st += " (SUSPENDED: session unsafe)"
		}
		if m.Drained {
			st += " DRAINED"
		} else if m.Cordoned {
			st += " CORDONED"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%.1f\t%s\t%s\n", m.ID, m.Session, up, m.Tasks, m.QuotesPerSec, st, clip(m.LastError, 60))
	}
	tw.Flush()

	stalled := ""
	if r.Stalled != nil {
		stalled = fmt.Sprintf(", %d stalled", len(r.Stalled))
	}
	fmt.Fprintf(b, "\ntasks (%d, %d unassigned%s)\n", len(r.Tasks), len(r.Unassigned), stalled)
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  OWNER\tTASK\tSTATE\tEPOCH\tPROGRESS\tQUOTES/S\tLAG\tLAST PROGRESS\tLAST ERROR")
	byOwner := map[string][]Task{}
	var owners []string
	for _, t := range r.Tasks {
		o := "-"
		if t.Owner != nil {
			o = *t.Owner
		}
		if _, ok := byOwner[o]; !ok {
			owners = append(owners, o)
		}
		byOwner[o] = append(byOwner[o], t)
	}
	sort.Strings(owners)
	for _, o := range owners {
		for _, t := range byOwner[o] {
			last := "-"
			if !t.LastProgress.IsZero() {
				last = age(now, t.LastProgress) + " ago"
			}
			state := t.State
			if t.Owner == nil {
				state = "UNASSIGNED"
				if t.UnassignedReason != "" {
					state += " (" + t.UnassignedReason + ")"
				}
			}
			if t.Stalled {
				state += " STALLED"
			}
			lag := "-"
			if t.Lag != nil {
				lag = fmt.Sprint(*t.Lag) + lagMark(t)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%.1f\t%s\t%s\t%s\n", o, t.ID, state, t.Epoch, t.Progress, t.Rate, lag, last, clip(t.LastError, 60))
		}
	}
	tw.Flush()
	var lags []string
	measured := false
	for _, t := range r.Tasks {
		if t.Type == "ingest" {
			l := "?"
			if t.Lag != nil {
				l = fmt.Sprint(*t.Lag) + lagMark(t)
			}
			lags = append(lags, strings.TrimPrefix(t.ID, "ingest/")+":"+l)
			if t.LagSource == LagMeasured {
				measured = true
			}
		}
	}
	if len(lags) > 0 {
		how := ""
		switch {
		case r.LagError != "":
			how = " (* as reported by the owner: not measured)"
		case measured:
			how = " (measured: Kafka high-water mark - committed offset)"
		default:
			how = " (* as reported by the owner)"
		}
		fmt.Fprintf(b, "\ningest lag (messages) per partition: %s%s\n", strings.Join(lags, " "), how)
	}
	if r.LagError != "" {
		fmt.Fprintf(b, "\n!! lag not measured: %s; LAG shows what the owners reported (marked *)\n", r.LagError)
	}
	if len(r.Stalled) > 0 {
		var why []string
		for _, t := range r.Tasks {
			if t.Stalled {
				why = append(why, t.ID+": "+t.StallReason)
			}
		}
		fmt.Fprintf(b, "\n!! stalled (%d): %s\n", len(r.Stalled), strings.Join(why, "; "))
	}
	if len(r.Unassigned) > 0 {
		why := ""
		for _, t := range r.Tasks {
			if t.Owner == nil && t.UnassignedReason != "" {
				why = " (" + t.UnassignedReason + ")"
				break
			}
		}
		fmt.Fprintf(b, "\n!! unassigned%s: %s\n", why, strings.Join(r.Unassigned, " "))
	}
	for _, x := range r.Refused {
		fmt.Fprintf(b, "!! refused by %s: %s: %s\n", x.Node, x.Task, x.Reason)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeQueue writes the election queue, lowest sequence number first; the
// entry of the master's node and session is marked "master", the one after
// it (or the first, if the master's is not there) "next".
func writeQueue(b *strings.Builder, r *Report) {
	if len(r.ElectionQueue) == 0 {
		fmt.Fprintf(b, "\nelection queue: empty (no node campaigns)\n")
		return
	}
	fmt.Fprintf(b, "\nelection queue (%d, in order of succession)\n", len(r.ElectionQueue))
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tNODE\tSESSION\tSEQ\tROLE")
	master := -1
	for i, c := range r.ElectionQueue {
		if r.Master != nil && c.Node == r.Master.ID && c.Session == r.Master.Session {
			master = i
		}
	}
	for i, c := range r.ElectionQueue {
		role := ""
		switch {
		case i == master:
			role = "master"
		case i == master+1 && r.Master == nil: // master is -1
			role = "next (no master yet)"
		case i == master+1: // after the master, or first if the master's znode is not queued
			role = "next"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%d\t%s\n", i+1, c.Node, c.Session, c.Seq, role)
	}
	tw.Flush()
}

// lagMark is "*" after a lag the owner reported, "" after a measured one.
func lagMark(t Task) string {
	if t.LagSource == LagReported && t.Lag != nil {
		return "*"
	}
	return ""
}

// age formats now-t compactly: 850ms, 12s, 3m05s, 2h10m, 3d04h.
func age(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

// clip shortens s to n runes for a table cell.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// EmptyHint returns, for a report of a cluster where nothing has run (no
// master, epoch, members or tasks: often a mistyped --cluster), a line
// saying so in parentheses; "" otherwise.
func EmptyHint(r *Report) string {
	if r.Master == nil && r.Epoch == 0 && len(r.Members) == 0 && len(r.Tasks) == 0 {
		return fmt.Sprintf("(nothing has run in cluster %q yet: no master, members or symbols under %s; check --cluster)", r.Cluster, r.Root)
	}
	return ""
}
