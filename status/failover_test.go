package status

import (
	"github.com/stock-system/stocksys/tasks"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/session"
)

// TestExplainFailover: the cause of a change of master, derived from the old
// and the new term's records, and the sentence `stocksys status` prints.
func TestExplainFailover(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	elected := t0.Add(150 * time.Millisecond)
	const s1, s2 = session.SessionID(0x10000a1b2c30001), session.SessionID(0x10000a1b2c30002)
	rec := func(epoch int64, node string, s session.SessionID, ended time.Time) *tasks.TermDoc {
		return &tasks.TermDoc{Epoch: epoch, Node: node, Session: s, Started: t0.Add(-time.Hour), Ended: ended}
	}
	var none time.Time
	for _, tt := range []struct {
		name      string
		f         Failover // as read from the failover document
		prev, cur *tasks.TermDoc
		cause     string
		text      string
		prevEpoch int64  // after explainFailover
		prevNode  string // after explainFailover
		sessions  string // "prev_session session" after explainFailover
	}{
		{"first term", Failover{Epoch: 1, Node: "node-1"}, nil, rec(1, "node-1", s1, none),
			CauseFirstTerm, "first term of the cluster", 0, "", " 0x10000a1b2c30001"},
		{"other node after a resignation", Failover{Epoch: 5, Node: "node-2", PrevEpoch: 4, PrevNode: "node-1", PrevEnded: &t0},
			rec(4, "node-1", s1, t0), rec(5, "node-2", s2, none),
			CauseResigned, "old term ended 11:00:00.000, new master elected 150ms later (node-1 resigned)",
			4, "node-1", "0x10000a1b2c30001 0x10000a1b2c30002"},
		{"other node after a crash", Failover{Epoch: 5, Node: "node-2", PrevEpoch: 4, PrevNode: "node-1"},
			rec(4, "node-1", s1, none), rec(5, "node-2", s2, none),
			CauseSessionExpiry, "old term's end unknown (node-1 stopped answering: crash, pause or partition, detected by session expiry of 0x10000a1b2c30001)",
			4, "node-1", "0x10000a1b2c30001 0x10000a1b2c30002"},
		{"same node, new session: restart", Failover{Epoch: 5, Node: "node-1", PrevEpoch: 4, PrevNode: "node-1"},
			rec(4, "node-1", s1, none), rec(5, "node-1", s2, none),
			CauseRestart, "node-1 came back on a new session 0x10000a1b2c30001 -> 0x10000a1b2c30002: it restarted, or its session expired " +
				"and it opened a new one; the old term ended without resigning, detected by the old session's expiry",
			4, "node-1", "0x10000a1b2c30001 0x10000a1b2c30002"},
		{"same node, new session after resigning: graceful restart", Failover{Epoch: 5, Node: "node-1", PrevEpoch: 4, PrevNode: "node-1", PrevEnded: &t0},
			rec(4, "node-1", s1, t0), rec(5, "node-1", s2, none),
			CauseRestart, "old term ended 11:00:00.000, new master elected 150ms later (node-1 resigned, then came back on a new session " +
				"0x10000a1b2c30001 -> 0x10000a1b2c30002: a restart)",
			4, "node-1", "0x10000a1b2c30001 0x10000a1b2c30002"},
		{"same session, no resignation: safe deadline or fenced", Failover{Epoch: 5, Node: "node-1", PrevEpoch: 4, PrevNode: "node-1"},
			rec(4, "node-1", s1, none), rec(5, "node-1", s1, none),
			CauseSameSession, "node-1 re-elected on the same session 0x10000a1b2c30001 after its term ended without resigning or a session expiry: " +
				"its safe deadline passed (ZooKeeper unheard for 2/3 of the session timeout) or it was fenced by a change of the epoch znode",
			4, "node-1", "0x10000a1b2c30001 0x10000a1b2c30001"},
		{"same session after resigning", Failover{Epoch: 5, Node: "node-1", PrevEpoch: 4, PrevNode: "node-1"}, // the document missed the end
			rec(4, "node-1", s1, t0), rec(5, "node-1", s1, none),
			CauseSameSession, "node-1 re-elected on the same session 0x10000a1b2c30001 after resigning: old term ended 11:00:00.000, new master elected 150ms later",
			4, "node-1", "0x10000a1b2c30001 0x10000a1b2c30001"},
		{"same session, epoch moved from outside: fenced", Failover{Epoch: 9, Node: "node-1", PrevEpoch: 8},
			rec(4, "node-1", s1, none), rec(9, "node-1", s1, none),
			CauseFenced, "node-1 re-elected on the same session 0x10000a1b2c30001 after being fenced: the epoch znode was moved past epoch 4 from outside",
			4, "node-1", "0x10000a1b2c30001 0x10000a1b2c30001"},
		{"epoch gone backwards, other node", Failover{Epoch: 1, Node: "node-2", PrevEpoch: 0},
			rec(2, "node-1", s1, none), rec(1, "node-2", s2, none),
			CauseSessionExpiry, "old term's end unknown (node-1 stopped answering: crash, pause or partition, detected by session expiry of 0x10000a1b2c30001)",
			2, "node-1", "0x10000a1b2c30001 0x10000a1b2c30002"},
		{"records gone, same node", Failover{Epoch: 5, Node: "node-1", PrevEpoch: 4, PrevNode: "node-1"}, nil, nil,
			CauseUnknown, "old term's end unknown (its terms/ record is gone)", 4, "node-1", " "},
		{"records gone, same node, resigned", Failover{Epoch: 5, Node: "node-1", PrevEpoch: 4, PrevNode: "node-1", PrevEnded: &t0}, nil, nil,
			CauseUnknown, "old term ended 11:00:00.000, new master elected 150ms later", 4, "node-1", " "},
		{"records gone, other node", Failover{Epoch: 5, Node: "node-2", PrevEpoch: 4, PrevNode: "node-1"}, nil, nil,
			CauseSessionExpiry, "old term's end unknown (node-1 stopped answering: crash, pause or partition, detected by session expiry)",
			4, "node-1", " "},
		{"old record pruned", Failover{Epoch: 5, Node: "node-2", PrevEpoch: 4}, nil, rec(5, "node-2", s2, none),
			CauseUnknown, "old term's end unknown (its terms/ record is gone)", 4, "", " 0x10000a1b2c30002"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.Elected = elected
			explainFailover(&f, tt.prev, tt.cur)
			if f.Cause != tt.cause {
				t.Errorf("cause %q; want %q", f.Cause, tt.cause)
			}
			if got := failoverText(&f); got != tt.text {
				t.Errorf("text\n %q; want\n %q", got, tt.text)
			}
			if f.PrevEpoch != tt.prevEpoch || f.PrevNode != tt.prevNode || f.PrevSession+" "+f.Session != tt.sessions {
				t.Errorf("prev_epoch %d prev_node %q sessions %q; want %d %q %q", f.PrevEpoch, f.PrevNode,
					f.PrevSession+" "+f.Session, tt.prevEpoch, tt.prevNode, tt.sessions)
			}
			if tt.prev != nil && tt.cur != nil && tt.prev.Node == tt.cur.Node && strings.Contains(failoverText(&f), "detected by session expiry") {
				t.Errorf("a node that won again is said to be detected by session expiry: %q", failoverText(&f))
			}
		})
	}
}

// TestFailoverTextWithoutCause: a Failover built without records (Cause "")
// is classified from its own fields, as before records were read.
func TestFailoverTextWithoutCause(t *testing.T) {
	ended := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		f    Failover
		want string
	}{
		{Failover{Epoch: 1}, "first term of the cluster"},
		{Failover{Epoch: 3, PrevEpoch: 2, PrevNode: "node-1", Node: "node-2", PrevEnded: &ended, Elected: ended.Add(time.Second)},
			"old term ended 11:00:00.000, new master elected 1s later (node-1 resigned)"},
		{Failover{Epoch: 3, PrevEpoch: 2, PrevNode: "node-1", Node: "node-2"},
			"old term's end unknown (node-1 stopped answering: crash, pause or partition, detected by session expiry)"},
		{Failover{Epoch: 3, PrevEpoch: 2, PrevNode: "node-1", Node: "node-1"}, "old term's end unknown (its terms/ record is gone)"},
	} {
		if got := failoverText(&tt.f); got != tt.want {
			t.Errorf("failoverText(%+v)\n %q; want\n %q", tt.f, got, tt.want)
		}
	}
}
