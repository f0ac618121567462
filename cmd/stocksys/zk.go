package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/zkapi"
)

// root returns the cluster's root znode, /stocksys/<cluster>, after checking
// the name (same rules as node ids).
func (g *globals) root() (string, error) {
	if err := session.ValidateNodeID(g.cluster); err != nil {
		return "", fmt.Errorf("--cluster %q: %w", g.cluster, err)
	}
	return "/stocksys/" + g.cluster, nil
}

// openCluster checks the cluster name and opens a command's ZooKeeper
// connection (connectZK, 5 s): the cluster's root znode and the connection,
// which the caller closes.
func (g *globals) openCluster() (zkapi.Client, string, error) {
	root, err := g.root()
	if err != nil {
		return nil, "", err
	}
	c, err := g.connectZK(5 * time.Second)
	if err != nil {
		return nil, "", err
	}
	return c, root, nil
}

// connectZK opens a plain ZooKeeper connection for a command (no node
// identity) and waits up to timeout for its session.
func (g *globals) connectZK(timeout time.Duration) (zkapi.Client, error) {
	return zkapi.Dial(strings.Split(g.zk, ","), 10*time.Second, timeout)
}
