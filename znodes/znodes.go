package znodes

import "github.com/go-zookeeper/zk"

// Conn is the subset of *zk.Conn's methods that the cluster's code uses.
// *zk.Conn satisfies it, and so does *MemConn, the in-memory twin.
//
// The signatures are go-zookeeper v1.0.4's (third_party/go-zookeeper/zk,
// conn.go), and so are the return shapes that callers may rely on: a read
// of a missing znode returns a non-nil zero *zk.Stat with zk.ErrNoNode, a
// watch-setting read that fails returns a nil channel, Exists and ExistsW
// report a missing znode as (false, zero stat, nil), and a failed Multi
// returns one zk.MultiResponse per op carrying that op's error.
type Conn interface {
	Get(path string) ([]byte, *zk.Stat, error)
	GetW(path string) ([]byte, *zk.Stat, <-chan zk.Event, error)
	Children(path string) ([]string, *zk.Stat, error)
	ChildrenW(path string) ([]string, *zk.Stat, <-chan zk.Event, error)
	Exists(path string) (bool, *zk.Stat, error)
	ExistsW(path string) (bool, *zk.Stat, <-chan zk.Event, error)
	Create(path string, data []byte, flags int32, acl []zk.ACL) (string, error)
	Set(path string, data []byte, version int32) (*zk.Stat, error)
	Delete(path string, version int32) error
	Multi(ops ...interface{}) ([]zk.MultiResponse, error)
	SessionID() int64
}

var (
	_ Conn = (*zk.Conn)(nil)
	_ Conn = (*MemConn)(nil)
)
