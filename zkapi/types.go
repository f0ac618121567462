package zkapi

import (
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

// Dial connects to servers ("host:port" each) with the given session
// timeout and waits up to wait for the session to be established. The
// connection's reconnects are not logged (a command reports its own
// errors). The caller closes the Client. Errors name the servers; a
// connection without a session after wait is closed and reported as such.
func Dial(servers []string, sessionTimeout, wait time.Duration) (Client, error) {
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
