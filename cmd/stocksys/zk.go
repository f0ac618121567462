package main

import (
	"errors"
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

// connectZK opens a ZooKeeper connection for a command (no node identity)
// and waits up to timeout for its session. With --zk-auth-file it
// authenticates, and creates znodes with the ACL of the cluster's root
// (or, before the root exists, the one zkIdentity gives).
func (g *globals) connectZK(timeout time.Duration) (zkapi.Client, error) {
	auth, acl, err := g.zkIdentity()
	if err != nil {
		return nil, err
	}
	opts := []zkapi.DialOption{zkapi.DialAuth(auth)}
	if root, err := g.root(); err == nil && auth != nil {
		opts = append(opts, zkapi.DialACL(root, acl), zkapi.DialACLFromRoot())
	}
	c, err := zkapi.Dial(g.zkServers(), 10*time.Second, timeout, opts...)
	if err != nil {
		return nil, g.noAuthHint(err)
	}
	return c, nil
}

func (g *globals) zkServers() []string { return strings.Split(g.zk, ",") }

// zkIdentity reads --zk-auth-file and --zk-read-auth-file: the identity to
// authenticate as (nil: anonymous) and the ACL of the znodes this process
// creates (zkapi.ClusterACL; nil: open). Errors name the flag and the file,
// never the content.
func (g *globals) zkIdentity() (*zkapi.Credentials, []zkapi.ACL, error) {
	if g.zkAuthFile == "" {
		if g.zkReadAuthFile != "" {
			return nil, nil, fmt.Errorf("--zk-read-auth-file %s needs --zk-auth-file (the cluster's identity)", g.zkReadAuthFile)
		}
		return nil, nil, nil
	}
	auth, err := zkapi.ReadCredentials(g.zkAuthFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--zk-auth-file: %w", err)
	}
	var reader *zkapi.Credentials
	if g.zkReadAuthFile != "" {
		r, err := zkapi.ReadCredentials(g.zkReadAuthFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--zk-read-auth-file: %w", err)
		}
		if r.User == auth.User {
			return nil, nil, fmt.Errorf("--zk-read-auth-file %s: the read-only identity is the cluster's own (%s)", g.zkReadAuthFile, r)
		}
		reader = &r
	}
	return &auth, zkapi.ClusterACL(auth, reader), nil
}

// noAuthHint explains a ZooKeeper ErrNoAuth (zkapi.NoAuthHint) by the
// --zk-auth-file setting; other errors pass as they are.
func (g *globals) noAuthHint(err error) error {
	if !errors.Is(err, zkapi.ErrNoAuth) {
		return err // nil included: no file is read on the way out
	}
	auth, _, _ := g.zkIdentity()
	return zkapi.NoAuthHint(err, g.zkServers(), "--zk-auth-file", auth)
}
