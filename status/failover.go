package status

import (
	"github.com/stock-system/stocksys/zkapi"

	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"time"

	"github.com/stock-system/stocksys/tasks"
)

// Failover causes (Failover.Cause): why the old term ended, as far as the
// terms/ records tell. A record holds the master's node id, session and, if
// it resigned, when its term ended; no other cause of an end is recorded, so
// the cause is derived from the old and the new term's records.
const (
	// CauseFirstTerm: no earlier term.
	CauseFirstTerm = "first_term"
	// CauseResigned: another node took over after the old master resigned
	// (PrevEnded set).
	CauseResigned = "resigned"
	// CauseSessionExpiry: another node took over without a resignation: the
	// old master stopped answering (crash, pause or partition) and its
	// candidate znode went with its session's expiry.
	CauseSessionExpiry = "session_expiry"
	// CauseRestart: the same node id won on a new session: the node
	// restarted (or its session expired and it opened a new one). With
	// PrevEnded set it resigned first (a graceful restart).
	CauseRestart = "restart"
	// CauseSameSession: the same node won again on the same session. With
	// PrevEnded set it had resigned and campaigned again; otherwise its term
	// ended without a resignation or an expiry: its safe deadline passed
	// (ZooKeeper unheard for 2/3 of the session timeout) or it was fenced by
	// a change of the epoch znode.
	CauseSameSession = "same_session"
	// CauseFenced: as CauseSameSession without a resignation, and the new
	// epoch skips numbers after the old term's: the epoch znode was moved
	// from outside, which fenced the old term.
	CauseFenced = "fenced"
	// CauseUnknown: the old term's record is gone (pruned or deleted), so the
	// cause cannot be told.
	CauseUnknown = "unknown"
)

// failoverTerms reads the terms/ records of the term of epoch (the newest
// record with that epoch) and of the term before it (the record before it in
// sequence order, which is the order terms were won in); either nil if not
// found. It reads from the newest record back, usually two.
func failoverTerms(c zkapi.Conn, root string, epoch int64) (prev, cur *tasks.TermDoc, err error) {
	dir := path.Join(root, "terms")
	names, err := children(c, dir)
	if err != nil {
		return nil, nil, err
	}
	// Sequence order: the name's last 10 digits (t-<seq>).
	sort.SliceStable(names, func(i, j int) bool { return seqOf(names[i]) < seqOf(names[j]) })
	for i := len(names) - 1; i >= 0; i-- {
		data, _, err := c.Get(path.Join(dir, names[i]))
		if errors.Is(err, zkapi.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("status: term %s: %w", names[i], err)
		}
		var r tasks.TermDoc
		if json.Unmarshal(data, &r) != nil {
			continue
		}
		if cur != nil {
			return &r, cur, nil
		}
		if r.Epoch == epoch {
			cur = &r
		}
	}
	return nil, cur, nil
}

// seqOf is the sequence number at the end of a sequential znode name, -1 if
// none.
func seqOf(name string) int64 {
	if len(name) < 10 {
		return -1
	}
	n, err := strconv.ParseInt(name[len(name)-10:], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// explainFailover sets f's sessions and Cause from the old (prev) and new
// (cur) term records, either nil if not found. The old record's epoch and
// node, when found, replace PrevEpoch and PrevNode (the failover document
// assumes the previous epoch is Epoch-1); its end time fills a missing
// PrevEnded.
func explainFailover(f *Failover, prev, cur *tasks.TermDoc) {
	if cur != nil {
		f.Session = tasks.SessionString(int64(cur.Session))
		if f.Node == "" {
			f.Node = cur.Node
		}
	}
	if prev != nil {
		f.PrevEpoch, f.PrevNode = prev.Epoch, prev.Node
		f.PrevSession = tasks.SessionString(int64(prev.Session))
		if f.PrevEnded == nil && !prev.Ended.IsZero() {
			t := prev.Ended.UTC()
			f.PrevEnded = &t
		}
	}
	f.Cause = failoverCause(f, prev, cur)
}

// failoverCause classifies the change of master f from the old (prev) and
// new (cur) term records, either nil if not found: see the Cause constants.
func failoverCause(f *Failover, prev, cur *tasks.TermDoc) string {
	switch {
	case prev == nil && f.PrevEpoch == 0:
		return CauseFirstTerm
	case prev == nil || cur == nil:
		// Without both records only the failover document speaks: the
		// sessions are unknown, so a node that won again is unexplained.
		switch {
		case f.PrevEnded != nil && f.PrevNode != f.Node:
			return CauseResigned
		case f.PrevEnded != nil || f.PrevNode == "" || f.PrevNode == f.Node:
			return CauseUnknown
		}
		return CauseSessionExpiry
	case prev.Node != cur.Node:
		if f.PrevEnded != nil {
			return CauseResigned
		}
		return CauseSessionExpiry
	case prev.Session != cur.Session:
		return CauseRestart
	case f.PrevEnded == nil && cur.Epoch > prev.Epoch+1:
		return CauseFenced
	default:
		return CauseSameSession
	}
}

// failoverText is the sentence `stocksys status` prints for f's cause. A
// Failover read without terms/ records (Cause "") is classified from its own
// fields.
func failoverText(f *Failover) string {
	cause := f.Cause
	if cause == "" {
		cause = failoverCause(f, nil, nil)
	}
	node, prev := orUnknown(f.Node, "the new master"), orUnknown(f.PrevNode, "the old master")
	elected := ""
	if f.PrevEnded != nil {
		elected = fmt.Sprintf("old term ended %s, new master elected %s later", f.PrevEnded.Format("15:04:05.000"),
			f.Elected.Sub(*f.PrevEnded).Round(time.Millisecond))
	}
	switch cause {
	case CauseFirstTerm:
		return "first term of the cluster"
	case CauseResigned:
		return elected + " (" + prev + " resigned)"
	case CauseSessionExpiry:
		return "old term's end unknown (" + prev + " stopped answering: crash, pause or partition, detected by session expiry" +
			sessionNote(" of ", f.PrevSession) + ")"
	case CauseRestart:
		if f.PrevEnded != nil {
			return fmt.Sprintf("%s (%s resigned, then came back on a new session%s: a restart)", elected, node,
				sessionNote(" ", sessionChange(f)))
		}
		return fmt.Sprintf("%s came back on a new session%s: it restarted, or its session expired and it opened a new one; "+
			"the old term ended without resigning, detected by the old session's expiry", node, sessionNote(" ", sessionChange(f)))
	case CauseSameSession:
		if f.PrevEnded != nil {
			return fmt.Sprintf("%s re-elected on the same session%s after resigning: %s", node, sessionNote(" ", f.Session), elected)
		}
		return fmt.Sprintf("%s re-elected on the same session%s after its term ended without resigning or a session expiry: "+
			"its safe deadline passed (ZooKeeper unheard for 2/3 of the session timeout) or it was fenced by a change of the epoch znode",
			node, sessionNote(" ", f.Session))
	case CauseFenced:
		return fmt.Sprintf("%s re-elected on the same session%s after being fenced: the epoch znode was moved past epoch %d from outside",
			node, sessionNote(" ", f.Session), f.PrevEpoch)
	default: // CauseUnknown, or a cause this version does not know
		if f.PrevEnded != nil {
			return elected
		}
		return "old term's end unknown (its terms/ record is gone)"
	}
}

// sessionChange is "0xA -> 0xB", or "" when either is unknown.
func sessionChange(f *Failover) string {
	if f.PrevSession == "" || f.Session == "" {
		return ""
	}
	return f.PrevSession + " -> " + f.Session
}

// sessionNote is sep+s, or "" if s is "".
func sessionNote(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}

func orUnknown(s, unknown string) string {
	if s == "" {
		return unknown
	}
	return s
}
