package status

import (
	"github.com/stock-system/stocksys/zkapi"

	"fmt"

	"github.com/stock-system/stocksys/election"
	"github.com/stock-system/stocksys/tasks"
)

// Candidate is one entry of the election queue: a candidate znode
// election/_c_<guid>-n_<seq>, in the order candidates take over.
type Candidate struct {
	Node    string `json:"node"`    // the znode's content: the candidate's node id
	Session string `json:"session"` // its ephemeralOwner, 0x-prefixed hex as in members
	Znode   string `json:"znode"`   // its name under election/
	Seq     int64  `json:"seq"`     // its sequence number
}

// readQueue reads the election queue under root, lowest sequence number
// (the master, or the next to win) first.
func readQueue(c zkapi.Conn, root string) ([]Candidate, error) {
	q, err := election.Queue(c, root)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	out := make([]Candidate, 0, len(q))
	for _, e := range q {
		out = append(out, Candidate{Node: e.NodeID, Session: tasks.SessionString(e.Session), Znode: e.Znode, Seq: e.Seq})
	}
	return out, nil
}
