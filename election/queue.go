package election

import (
	"github.com/stock-system/stocksys/zkapi"

	"errors"
	"fmt"
	"path"

	"github.com/go-zookeeper/zk"
)

// QueueEntry is one candidate znode of the election queue.
type QueueEntry struct {
	Znode   string // name under election/: _c_<guid>-n_<seq>
	Seq     int64  // its sequence number (-1 if the name has none)
	NodeID  string // its content: the candidate's node id
	Session int64  // its ephemeralOwner: the candidate's ZooKeeper session
}

// Queue reads the candidate znodes under root in election order, lowest
// sequence number first, as candidates order them: the first is the master
// (or about to become it), the second is next in line. A candidate whose znode
// vanishes while being read is left out; a missing election/ reads as an empty
// queue. Safe for concurrent use; plain reads (they may lag the leader).
func Queue(c zkapi.Conn, root string) ([]QueueEntry, error) {
	dir := newPaths(root).election
	names, _, err := c.Children(dir)
	if errors.Is(err, zk.ErrNoNode) {
		return []QueueEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("election: queue: %w", err)
	}
	sortBySeq(names)
	out := make([]QueueEntry, 0, len(names))
	for _, n := range names {
		data, st, err := c.Get(path.Join(dir, n))
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("election: queue: %s: %w", n, err)
		}
		out = append(out, QueueEntry{Znode: n, Seq: seqOf(n), NodeID: string(data), Session: st.EphemeralOwner})
	}
	return out, nil
}
