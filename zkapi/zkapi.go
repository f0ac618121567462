package zkapi

import (
	"unicode/utf8"

	"github.com/go-zookeeper/zk"
)

// Conn is the subset of *zk.Conn's methods that the cluster's packages use
// to read and write their znodes. *zk.Conn satisfies it; Mem's sessions
// (MemConn) are the in-memory twin. Paths are absolute; errors are
// go-zookeeper's (zk.ErrNoNode, zk.ErrNodeExists, zk.ErrBadVersion,
// zk.ErrNotEmpty, zk.ErrNoChildrenForEphemerals, zk.ErrInvalidPath, ...).
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

var _ Conn = (*zk.Conn)(nil)

// validatePath is go-zookeeper's client-side check (util.go, v1.0.4, BSD
// licence: third_party/go-zookeeper/zk/LICENSE), copied so that the twin
// refuses exactly the paths the client refuses before sending anything.
func validatePath(path string, isSequential bool) error {
	if path == "" {
		return zk.ErrInvalidPath
	}
	if path[0] != '/' {
		return zk.ErrInvalidPath
	}
	n := len(path)
	if n == 1 {
		return nil
	}
	if !isSequential && path[n-1] == '/' {
		return zk.ErrInvalidPath
	}
	for i, w := 1, 0; i < n; i += w {
		r, width := utf8.DecodeRuneInString(path[i:])
		switch {
		case r == '\u0000':
			return zk.ErrInvalidPath
		case r == '/':
			last, _ := utf8.DecodeLastRuneInString(path[:i])
			if last == '/' {
				return zk.ErrInvalidPath
			}
		case r == '.':
			last, lastWidth := utf8.DecodeLastRuneInString(path[:i])
			if last == '.' {
				last, _ = utf8.DecodeLastRuneInString(path[:i-lastWidth])
			}
			if last == '/' {
				if i+1 == n {
					return zk.ErrInvalidPath
				}
				next, _ := utf8.DecodeRuneInString(path[i+w:])
				if next == '/' {
					return zk.ErrInvalidPath
				}
			}
		case r >= '\u0000' && r <= '\u001f',
			r >= '\u007f' && r <= '\u009f',
			r >= '\uf000' && r <= '\uf8ff',
			r >= '\ufff0' && r < '\uffff':
			return zk.ErrInvalidPath
		}
		w = width
	}
	return nil
}
