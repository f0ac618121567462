package election

import (
	"context"
	"fmt"
	"time"

	"github.com/stock-system/stocksys/session"
	"go.uber.org/zap"
)

// Config configures a Candidate.
type Config struct {
	// Cluster names the cluster; the default root is /stocksys/<Cluster>.
	// Default "default". Same character rules as node ids.
	Cluster string
	// Root is the znode under which election/, epoch, master and terms/ live.
	// Default "/stocksys/" + Cluster. Created (persistent) if missing.
	Root string
	// NodeID identifies this node in candidate znodes, master and terms.
	// Required; see session.ValidateNodeID.
	NodeID string
	// Addr is where this node serves (host:port), published in master.
	// Optional.
	Addr string
	// Logger receives structured logs; nil means zap.NewNop().
	Logger *zap.Logger
	// OnFenced, if set, is called after every fenced Multi sent to ZooKeeper
	// (Term.Fenced, including Resign's and the terms/ pruning), with the
	// term's epoch, the number of ops (without the epoch check), when it was
	// sent and answered, and its outcome: nil (applied), ErrFenced,
	// ErrUnknownOutcome, or another error (not applied). Writes refused
	// before sending are not reported. Called on the writer's goroutine: it
	// must be quick. Optional (for an audit trail).
	OnFenced func(epoch int64, nOps int, sent, done time.Time, err error)
	// OnTermStart, if set, is called once per term won (or adopted after a
	// lost reply), with its epoch and start, before any OnFenced of the
	// term (the winning Multi's own ops included). Called on the
	// campaign's goroutine: it must be quick. Optional (for an audit trail).
	OnTermStart func(epoch int64, started time.Time)
	// WinOps, if set, is called on the campaign's goroutine before each
	// winning Multi, with the epoch that Multi writes; it may block for
	// reads (the win waits for it; ctx is the campaign's). The function it
	// returns (nil: none) is called with the term's start time just before
	// the Multi is sent, and must be quick: the ops it returns
	// (*zk.CreateRequest, *zk.SetDataRequest, *zk.DeleteRequest,
	// *zk.CheckVersionRequest) go into the same Multi after the election's
	// own, so they are applied if and only if the term is won: a new
	// master's first plan in the round trip of its win (master.Prefetch.Ops).
	// If a Multi carrying them is refused, it is sent once more without
	// them (they may be what failed), and the term's WinOps is 0. An applied
	// set is reported to OnFenced as a write of the new epoch. Optional.
	WinOps func(ctx context.Context, epoch int64) func(started time.Time) []any
	// NextInLine, if set, is called on the campaign's goroutine with true
	// whenever the candidate finds itself next in line (its predecessor is
	// the lowest candidate: the master's, or the would-be master's) and
	// with false whenever it finds itself further back: for work worth
	// doing only where a win may come soon (a standby view of the cluster:
	// master.Standby). It must be quick. Optional.
	NextInLine func(next bool)
}

// DefaultConfig returns a Config for nodeID in the default cluster.
func DefaultConfig(nodeID string) Config {
	return Config{Cluster: "default", NodeID: nodeID}
}

// Validate checks the config without touching ZooKeeper. Errors wrap
// ErrInvalidConfig, and session.ErrInvalidNodeID for a bad node id.
func (c Config) Validate() error {
	if err := session.ValidateNodeID(c.NodeID); err != nil {
		return fmt.Errorf("%w: node id: %w", ErrInvalidConfig, err)
	}
	if c.Cluster != "" {
		if err := session.ValidateNodeID(c.Cluster); err != nil {
			return fmt.Errorf("%w: cluster: %w", ErrInvalidConfig, err)
		}
	}
	if c.Root != "" {
		if err := session.ValidateRoot(c.Root); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Cluster == "" {
		c.Cluster = "default"
	}
	if c.Root == "" {
		c.Root = "/stocksys/" + c.Cluster
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}
