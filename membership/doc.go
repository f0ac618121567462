// Package membership keeps the set of live nodes of a cluster in ZooKeeper.
//
// # Recipe
//
// A node runs a Member: Run opens a session.Session and creates the
// ephemeral znode members/<node-id> holding its document (tasks.MemberDoc) as JSON. Crash
// detection is session expiry: when a node dies or is cut off for longer
// than its session timeout, ZooKeeper deletes its znode.
//
//   - If members/<id> exists and belongs to this session (the reply to the
//     create was lost), the node is registered.
//   - If it belongs to one of this Member's earlier, expired sessions, or to
//     another session whose document has this node's own (non-empty) Addr (the
//     previous incarnation of a restarted node), the node watches the znode
//     and registers once that session has expired and the znode is gone.
//   - Otherwise another live node has the id: Run fails with ErrDuplicateID
//     naming the session that holds it.
//   - When its own session expires, Run opens a new one and registers again.
//
// Readers of the set (the master's rounds, stocksys status) list members/
// and read each document themselves (package master watches it); this package
// has no watcher of its own.
//
// # Guarantees
//
//   - Node ids are validated (session.ValidateNodeID) before any znode path
//     is built; an invalid id never reaches ZooKeeper.
//   - At most one live session holds members/<id>.
//
// # Znodes owned (under Config.Root, default /stocksys/<cluster>)
//
//	members/              persistent, created if missing
//	members/<node-id>     ephemeral; JSON tasks.MemberDoc {id, addr, session, started,
//	                      version, capacity}
package membership
