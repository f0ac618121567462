package membership

import (
	"encoding/json"
	"fmt"
	"github.com/stock-system/stocksys/tasks"
	"path"

	"github.com/stock-system/stocksys/zkapi"
)

// Live is a registered member as read from its members/<id> znode: the
// document the member wrote and the session that owns the ephemeral znode
// (Owner, from the znode's stat: the truth when the document disagrees).
type Live struct {
	tasks.MemberDoc
	Owner int64
}

// ReadMember reads the member id under members (the members/ znode's
// path) through c (a session's Conn, or a zkapi.Watched to leave a watch).
// A document that does not parse (another version's, or hand-written)
// still reads, as far as it parses: the fields that did not are zero (a
// zero Capacity counts as 1 for the planner) and ID is set from the znode's
// name. Errors: zkapi.ErrNoNode (wrapped) when the member is gone; other
// ZooKeeper errors, wrapped with the member's id. Safe for concurrent use
// if c is. The master's rounds and `stocksys status` read members with it.
func ReadMember(c zkapi.Conn, members, id string) (Live, error) {
	data, st, err := c.Get(path.Join(members, id))
	if err != nil {
		return Live{}, fmt.Errorf("member %s: %w", id, err)
	}
	var l Live
	_ = json.Unmarshal(data, &l.MemberDoc) // best effort, as documented
	l.ID, l.Owner = id, st.EphemeralOwner
	return l, nil
}
