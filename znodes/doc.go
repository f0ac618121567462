// Package znodes is the seam through which the cluster's packages read and
// write their znodes: Conn, the ZooKeeper calls they use (satisfied by
// go-zookeeper's *zk.Conn as it is), and Mem, an in-memory twin of a
// ZooKeeper ensemble behind the same calls, so that the master's and the
// worker's decisions can be unit-tested in milliseconds without a server.
//
// This package owns no znodes: it defines no paths and writes nothing of its
// own. Code that owns znodes takes a Conn and a root path.
//
// # Recipe
//
// Production code takes a Conn and is handed the session's *zk.Conn. A unit
// test builds one ensemble with NewMem and opens as many sessions on it as
// it needs with Mem.Session (one per simulated process); MemConn.Close and
// MemConn.Expire end a session the way a process exit or a session expiry
// does, deleting its ephemeral znodes and firing the watches that deletion
// triggers.
//
// # Guarantees
//
// For the calls in Conn, Mem answers as ZooKeeper 3.9 answers through
// go-zookeeper v1.0.4: the same results, the same error values (by
// identity, or by text where go-zookeeper builds the error with fmt), the
// same Stat fields (apart from absolute zxids and times) and the same watch
// events on channels of the same kind. Mem's documentation lists each
// semantic, where it comes from, and what is not modelled.
//
// That claim is tested, not assumed: twin_integration_test.go runs one
// table of cases against a real ZooKeeper (two real sessions) and against
// Mem (two MemConn sessions) and requires the transcripts of everything
// observable (paths, data, errors, relative Stat facts, children, watch
// events) to be equal.
package znodes
