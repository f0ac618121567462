// Package zkapi is the seam between the cluster's packages and ZooKeeper:
// Conn, the ZooKeeper calls they use (satisfied by go-zookeeper's *zk.Conn),
// and Mem, an in-memory twin of a ZooKeeper ensemble behind the same calls,
// so that decisions built on znodes (the master's plan, the worker's accept
// or reject of a document) can be tested in milliseconds without a server.
// session.Session.Conn hands out a Conn, not the *zk.Conn behind it, and
// Dial opens a Client (a Conn with Close) for the commands and tools, so
// the master, the worker, membership, control, status, verify, chaos and
// the CLI read and write znodes only through these calls. The go-zookeeper
// values they name (Stat, Event, the Multi requests, the create flags, the
// errors) are re-exported here as aliases (types.go): zkapi is the one
// package that imports go-zookeeper for the cluster's znodes. The session
// and election recipes keep their own import (they own the connection and
// its events), and chaos's bench and testenv keep theirs for the raw
// baselines they measure and the tests' admin connections.
//
// # One watched cache per session
//
// watched.go: Cache, a read-through cache of the znodes read through its
// Watched handles, each entry kept under the watch its read left and
// dropped when that watch fires (Apache Curator's CuratorCache recipe,
// read-through). A node makes one per session (node.runSession) and its
// master, standby view, worker and console feed each read through a handle
// of it: a znode unchanged since the last read is read from memory, so a
// steady master round sends no read to ZooKeeper
// (master.BenchmarkIntegration_RoundRead). A cached read is never staler
// than a server read at the same point of the session's event stream (see
// Cache), and each handle tells its own reader when what it read changed
// (Changed, Reset, Current). The cache and its handles are tested on Mem
// and on the real server with one table (cache_test.go).
//
// # A secured cluster's ACLs
//
// acl.go: Credentials (a digest identity read from a user:password file,
// never printed), ClusterACL (the cluster's identity cdrwa; a read
// identity r, or world r without one), WithACL (a Conn that creates every
// znode at or under the cluster root with that ACL whatever its caller
// passed, so the packages above keep passing OpenACL), and Dial's
// DialAuth / DialACL / DialACLFromRoot for the commands. session.Config's
// Auth and ACL put them on a node's sessions.
//
// # What the twin honours
//
// For the calls in Conn, as the ZooKeeper Programmer's Guide describes them
// and as go-zookeeper v1.0.4 (conn.go) returns them:
//   - data versions (Set, Delete, CheckVersionRequest with -1 or an exact
//     version; zk.ErrBadVersion otherwise), child versions (Cversion, counted
//     on every child create and delete), NumChildren, DataLength, and one
//     zxid per write transaction (a Multi's ops share one): Czxid, Mzxid,
//     Pzxid move as on the server;
//   - sequential znodes, numbered (ten digits) by the count of children
//     ever created under the parent, as the server numbers them (its
//     prepared parent cversion, which deletes do not advance);
//   - ephemeral znodes owned by their session, deleted when it is closed or
//     expires (firing watches), and refusing children
//     (zk.ErrNoChildrenForEphemerals);
//   - one-shot watches: data watches (GetW, ExistsW; ExistsW also on a
//     missing znode, fired by its creation) and child watches (ChildrenW),
//     fired with go-zookeeper's event types (EventNodeCreated,
//     EventNodeDataChanged, EventNodeDeleted, EventNodeChildrenChanged) on
//     buffered channels; a session's watches end with an EventNotWatching
//     (Err zk.ErrClosing or zk.ErrSessionExpired) when the session does;
//   - Multi: all or nothing, watches fired only after it applied; on
//     failure the per-op results the server gives (see Mem.Multi);
//   - go-zookeeper's client-side path check (zk.ErrInvalidPath).
//
// Not modelled: ACLs (accepted and ignored), quotas, container and TTL
// znodes, connection loss and reconnects (a MemConn is always connected
// until Close or Expire), watches re-set after a reconnect, and the order
// in which several sessions see notifications relative to their own reads
// beyond "a watch fires after the write that triggered it is applied".
//
// The twin is tested against a real ZooKeeper with one table of cases
// (twin_integration_test.go): every case's transcript (results, errors,
// relative stat facts, watch events) must be equal on both.
//
// This package owns no znodes.
package zkapi
