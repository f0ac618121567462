package worker

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
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
	// RetryDelay is the wait before a failed task is started again. Default 2s.
	RetryDelay time.Duration
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

// Validate checks the config; errors wrap ErrInvalidConfig.
func (c Config) Validate() error {
	if err := session.ValidateNodeID(c.NodeID); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := session.ValidateRoot(c.Root); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if c.StatusInterval < 0 || c.StopTimeout < 0 || c.RetryDelay < 0 || c.AckInterval < 0 {
		return fmt.Errorf("%w: negative duration", ErrInvalidConfig)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.StatusInterval == 0 {
		c.StatusInterval = time.Second
	}
	if c.AckInterval == 0 {
		c.AckInterval = 20 * time.Millisecond
	}
	if c.KeepAliveInterval == 0 {
		c.KeepAliveInterval = 10 * time.Second
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = 5 * c.StatusInterval
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 10 * time.Second
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}
