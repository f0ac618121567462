package session

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/go-zookeeper/zk"
	"github.com/stock-system/stocksys/zkapi"
)

// ValidateRoot checks a cluster root znode path: a clean absolute path other
// than "/" (e.g. /stocksys/default). Callers wrap the error with their own
// config error.
func ValidateRoot(root string) error {
	if !strings.HasPrefix(root, "/") || root == "/" || path.Clean(root) != root {
		return fmt.Errorf("root %q must be a clean absolute path other than /", root)
	}
	return nil
}

// EnsurePath creates the persistent znode p with data, and its missing
// ancestors (empty), all with an open ACL, like `mkdir -p`. A znode that
// already exists is left as it is, so any number of nodes may call it at
// once. It returns the first ZooKeeper error, naming the path.
func EnsurePath(c zkapi.Conn, p string, data []byte) error {
	if p == "/" || p == "" {
		return nil
	}
	ok, _, err := c.Exists(p)
	if err != nil {
		return fmt.Errorf("exists %s: %w", p, err)
	}
	if ok {
		return nil
	}
	if err := EnsurePath(c, path.Dir(p), nil); err != nil {
		return err
	}
	if _, err := c.Create(p, data, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create %s: %w", p, err)
	}
	return nil
}
