package worker

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
)

// Config configures a Worker.
type Config struct {
	// NodeID is this node's id (session.ValidateNodeID rules). Required.
	NodeID string
	// Root is the cluster root znode, e.g. /stocksys/default. Required.
	Root string
	// Runners gives the runner of each task type. A task whose type has no
	// runner is refused.
	Runners map[tasks.Type]Runner
	// StatusInterval is the least time between two status publications.
	// Default 1s.
	StatusInterval time.Duration
	// ProgressInterval is how often a status is published when only the
	// tasks' progress changed (changes of tasks or states are published as
	// soon as StatusInterval allows). Default 5 x StatusInterval.
	ProgressInterval time.Duration
	// AckInterval is the least time between two publications of a change
	// the master waits for before it moves a task: a new assignment
	// version applied, a runner returned. Default 20ms.
	AckInterval time.Duration
	// KeepAliveInterval is the longest time between two publications, so
	// that "updated N s ago" tells an idle node from a hung one. Default 10s.
	KeepAliveInterval time.Duration
	// StopTimeout bounds how long Run waits for runners to return after
	// cancelling them when it ends. Default 10s.
	StopTimeout time.Duration
	// RetryDelay is the wait before a failed task is started again after
	// its first failure; each consecutive failure doubles it, up to
	// RetryMaxDelay, and every wait is randomised by ±RetryJitter (so 2s,
	// 4s, 8s, ..., 60s, 60s, ... by default, each ±20%). A run that lasted
	// RetryMaxDelay or longer before it failed starts the sequence over.
	// Default 2s.
	RetryDelay time.Duration
	// RetryMaxDelay bounds the backoff of a failing task. Default 1m; it is
	// raised to RetryDelay when smaller.
	RetryMaxDelay time.Duration
	// Cache is the watched cache of the worker's session (zkapi.Cache,
	// shared with the node's master, standby view and console feed); the
	// assignment is read through a handle of it. Nil: a cache of the
	// worker's own. It must be over the session the worker is given.
	Cache *zkapi.Cache
	// Logger receives structured logs; nil means zap.NewNop().
	Logger *zap.Logger

	// ignoreSafeDeadline is for tests only: it can be set only through
	// IgnoreSafeDeadlineForTest in export_test.go, so production code
	// always has the guard. When set, the safe-deadline guard is off: the
	// runners of a safe period are not cancelled when the session passes
	// its safe deadline (only when the session is known to have ended), and
	// Run.Active ignores the deadline, so that a test can prove that the
	// downstream fences (store.ErrFenced, stream.ErrProducerFenced) alone
	// stop a zombie whose tasks moved. New runners are still started only
	// while the session is safe.
	ignoreSafeDeadline bool
}

// Defaults of Config (DefaultConfig).
const (
	DefaultStatusInterval    = time.Second
	DefaultAckInterval       = 20 * time.Millisecond
	DefaultKeepAliveInterval = 10 * time.Second
	DefaultStopTimeout       = 10 * time.Second
	DefaultRetryDelay        = 2 * time.Second
	DefaultRetryMaxDelay     = time.Minute
	// RetryJitter is the randomisation factor of each retry wait
	// (cenkalti/backoff's RandomizationFactor): a wait of d is drawn from
	// [d·(1-RetryJitter), d·(1+RetryJitter)].
	RetryJitter = 0.2
)

// DefaultConfig returns the Config of the worker of node nodeID in the
// cluster under root, with every default filled in (ProgressInterval is 5
// x StatusInterval) and no Runners.
func DefaultConfig(nodeID, root string) Config {
	return Config{NodeID: nodeID, Root: root, StatusInterval: DefaultStatusInterval, ProgressInterval: 5 * DefaultStatusInterval,
		AckInterval: DefaultAckInterval, KeepAliveInterval: DefaultKeepAliveInterval, StopTimeout: DefaultStopTimeout, RetryDelay: DefaultRetryDelay,
		RetryMaxDelay: DefaultRetryMaxDelay}
}

// Validate checks the config; zero durations mean their defaults. Errors
// wrap ErrInvalidConfig.
func (c Config) Validate() error {
	if err := session.ValidateNodeID(c.NodeID); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := session.ValidateRoot(c.Root); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"StatusInterval", c.StatusInterval}, {"ProgressInterval", c.ProgressInterval}, {"AckInterval", c.AckInterval},
		{"KeepAliveInterval", c.KeepAliveInterval}, {"StopTimeout", c.StopTimeout}, {"RetryDelay", c.RetryDelay}, {"RetryMaxDelay", c.RetryMaxDelay}} {
		if d.v < 0 {
			return fmt.Errorf("%w: %s %v: negative", ErrInvalidConfig, d.name, d.v)
		}
	}
	return nil
}

// withDefaults fills the zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig(c.NodeID, c.Root)
	if c.StatusInterval == 0 {
		c.StatusInterval = d.StatusInterval
	}
	if c.AckInterval == 0 {
		c.AckInterval = d.AckInterval
	}
	if c.KeepAliveInterval == 0 {
		c.KeepAliveInterval = d.KeepAliveInterval
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = 5 * c.StatusInterval
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = d.StopTimeout
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = d.RetryDelay
	}
	if c.RetryMaxDelay == 0 {
		c.RetryMaxDelay = d.RetryMaxDelay
	}
	c.RetryMaxDelay = max(c.RetryMaxDelay, c.RetryDelay)
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}
