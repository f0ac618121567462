package session

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/stock-system/stocksys/zkapi"
)

// Config configures a Session.
type Config struct {
	// Servers are the ZooKeeper servers, host:port. Required.
	Servers []string
	// Timeout is the session timeout to request. The server must grant exactly
	// this (see ErrTimeoutOutOfRange). A shorter timeout detects crashes sooner
	// but expires sessions on shorter pauses or partitions. Default 10 s.
	Timeout time.Duration
	// ConnectTimeout bounds how long New waits for the first session.
	// Default 15 s.
	ConnectTimeout time.Duration
	// Auth, when set, is the identity the session authenticates as
	// (zkapi.Authenticate, before New returns; re-sent on reconnects). Nil:
	// anonymous.
	Auth *zkapi.Credentials
	// ACL, when set, is the ACL of every znode created through Conn at or
	// under ACLRoot (zkapi.WithACL; zkapi.ClusterACL for a secured cluster,
	// whose root is ACLRoot). Nil: the callers' own (zkapi.OpenACL).
	ACL     []zkapi.ACL
	ACLRoot string
	// Logger receives structured logs; nil means zap.NewNop().
	Logger *zap.Logger
}

// DefaultConfig returns a Config with every default filled in and the
// servers given.
func DefaultConfig(servers ...string) Config {
	return Config{Servers: servers, Timeout: 10 * time.Second, ConnectTimeout: 15 * time.Second}
}

// withDefaults fills in zero fields.
func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 15 * time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig. Zero
// durations are valid (they take their defaults).
func (c Config) Validate() error {
	if len(c.Servers) == 0 {
		return fmt.Errorf("%w: no servers", ErrInvalidConfig)
	}
	if c.Timeout < 0 || c.Timeout%time.Millisecond != 0 {
		return fmt.Errorf("%w: timeout %v must be a positive whole number of milliseconds", ErrInvalidConfig, c.Timeout)
	}
	if c.ConnectTimeout < 0 {
		return fmt.Errorf("%w: connect timeout %v is negative", ErrInvalidConfig, c.ConnectTimeout)
	}
	return nil
}
