package zkapi

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
)

// The go-zookeeper values the cluster's packages name, re-exported so that
// zkapi is the one package (beside the session and election recipes, and
// the benchmarks' raw baselines) that imports go-zookeeper. They are
// aliases: a zkapi.Stat is a *zk.Stat's target, errors.Is(err,
// zkapi.ErrNoNode) holds for the error a *zk.Conn returns, and the request
// values go to Conn.Multi as they are.
type (
	// Stat is a znode's metadata (versions, zxids, ephemeral owner).
	Stat = zk.Stat
	// Event is a watch event (Type, Path, Err) or a session event (State).
	Event = zk.Event
	// ACL is one access control entry (Perms, Scheme, ID).
	ACL = zk.ACL
	// MultiResponse is one op's result of Conn.Multi (Stat, String, Error).
	MultiResponse = zk.MultiResponse
	// CreateRequest, SetDataRequest, DeleteRequest and CheckVersionRequest
	// are Multi's ops.
	CreateRequest       = zk.CreateRequest
	SetDataRequest      = zk.SetDataRequest
	DeleteRequest       = zk.DeleteRequest
	CheckVersionRequest = zk.CheckVersionRequest
)

// Create flags (Conn.Create, CreateRequest.Flags).
const (
	// FlagEphemeral: the znode is deleted when its session ends.
	FlagEphemeral = zk.FlagEphemeral
	// FlagSequence: the server appends a ten-digit sequence number.
	FlagSequence = zk.FlagSequence
)

// Watch event types (Event.Type).
const (
	EventNodeCreated         = zk.EventNodeCreated
	EventNodeDeleted         = zk.EventNodeDeleted
	EventNodeDataChanged     = zk.EventNodeDataChanged
	EventNodeChildrenChanged = zk.EventNodeChildrenChanged
	// EventNotWatching ends a watch without a change: its session ended
	// (Err is ErrClosing or ErrSessionExpired).
	EventNotWatching = zk.EventNotWatching
)

// The errors a Conn returns (compare with errors.Is).
var (
	ErrNoNode                  = zk.ErrNoNode
	ErrNodeExists              = zk.ErrNodeExists
	ErrBadVersion              = zk.ErrBadVersion
	ErrNotEmpty                = zk.ErrNotEmpty
	ErrNoChildrenForEphemerals = zk.ErrNoChildrenForEphemerals
	ErrInvalidPath             = zk.ErrInvalidPath
	ErrNoAuth                  = zk.ErrNoAuth
	ErrClosing                 = zk.ErrClosing
	ErrSessionExpired          = zk.ErrSessionExpired
	ErrConnectionClosed        = zk.ErrConnectionClosed
)

// OpenACL is the ACL the cluster's znodes are created with today: world,
// all permissions (ZooKeeper's OPEN_ACL_UNSAFE).
func OpenACL() []ACL { return zk.WorldACL(zk.PermAll) }

// Client is a Conn on a connection of its own (Dial), closed by Close.
type Client interface {
	Conn
	Close()
}

var _ Client = (*zk.Conn)(nil)

// DialOption sets up a Dial'ed connection.
type DialOption func(*dialOpts)

type dialOpts struct {
	auth    *Credentials
	aclRoot string
	acl     []ACL
	aclFrom bool
}

// DialAuth makes Dial authenticate as c (Authenticate) once the session is
// established; nil is no identity.
func DialAuth(c *Credentials) DialOption { return func(o *dialOpts) { o.auth = c } }

// DialACL makes the Client create the znodes at or under root with acl
// (WithACL); a nil acl keeps the callers' ACLs.
func DialACL(root string, acl []ACL) DialOption {
	return func(o *dialOpts) { o.aclRoot, o.acl = root, acl }
}

// DialACLFromRoot makes the Client create the znodes at or under DialACL's
// root with the ACL that root has (read once, after authenticating), so
// that a command's znodes get the ACL the cluster was created with; while
// the root does not exist, DialACL's acl. An ACL that cannot be read is an
// error of Dial.
func DialACLFromRoot() DialOption { return func(o *dialOpts) { o.aclFrom = true } }

// Dial connects to servers ("host:port" each) with the given session
// timeout and waits up to wait for the session to be established. The
// connection's reconnects are not logged (a command reports its own
// errors). The caller closes the Client. Errors name the servers; a
// connection without a session after wait is closed and reported as such.
func Dial(servers []string, sessionTimeout, wait time.Duration, opts ...DialOption) (Client, error) {
	var o dialOpts
	for _, f := range opts {
		f(&o)
	}
	c, err := dial(servers, sessionTimeout, wait)
	if err != nil {
		return nil, err
	}
	if o.auth != nil {
		if err := Authenticate(c, *o.auth); err != nil {
			c.Close()
			return nil, fmt.Errorf("zookeeper %v: %w", servers, err)
		}
	}
	if o.aclFrom && o.aclRoot != "" {
		acl, _, err := c.GetACL(o.aclRoot)
		switch {
		case err == nil:
			o.acl = acl
		case !errors.Is(err, zk.ErrNoNode):
			c.Close()
			return nil, fmt.Errorf("zookeeper %v: read the ACL of %s: %w", servers, o.aclRoot, err)
		}
	}
	if len(o.acl) == 0 {
		return c, nil
	}
	ac := WithACL(c, o.aclRoot, o.acl).(aclConn)
	return aclClient{aclConn: ac, close: c.Close}, nil
}

type aclClient struct {
	aclConn
	close func()
}

func (a aclClient) Close() { a.close() }

func dial(servers []string, sessionTimeout, wait time.Duration) (*zk.Conn, error) {
	c, events, err := zk.Connect(servers, sessionTimeout, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		return nil, fmt.Errorf("zookeeper %v: %w", servers, err)
	}
	deadline := time.After(wait)
	for {
		select {
		case e := <-events:
			if e.State == zk.StateHasSession {
				// go-zookeeper blocks on a full event channel only when
				// nobody reads it; a Client's later session events are not
				// used, so they are drained until the connection closes.
				go func() {
					for range events {
					}
				}()
				return c, nil
			}
		case <-deadline:
			c.Close()
			return nil, fmt.Errorf("zookeeper %v: no session within %v (is it running? try scripts/infra.sh status)", servers, wait)
		}
	}
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}
