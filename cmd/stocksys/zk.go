package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/stock-system/stocksys/session"
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
func (g *globals) openCluster() (*zk.Conn, string, error) {
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
func (g *globals) connectZK(timeout time.Duration) (*zk.Conn, error) {
	servers := strings.Split(g.zk, ",")
	// A command reports its own error; go-zookeeper's reconnect chatter would
	// only bury it.
	c, events, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		return nil, fmt.Errorf("zookeeper %s: %w", g.zk, err)
	}
	deadline := time.After(timeout)
	for {
		select {
		case e := <-events:
			if e.State == zk.StateHasSession {
				go func() {
					for range events {
					}
				}()
				return c, nil
			}
		case <-deadline:
			c.Close()
			return nil, fmt.Errorf("zookeeper %s: no session within %v (is it running? try scripts/infra.sh status)", g.zk, timeout)
		}
	}
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}
